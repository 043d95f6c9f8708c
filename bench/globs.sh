#!/usr/bin/env bash
# Measures what a large blacklist costs (issue 11, item 7): generates a setup whose folder has $GLOBS blacklist globs
# (10,000 by default, a realistic mix: extensions, names, directories, anchored paths, classes, '**'), then reports
#   1. `onitu validate` (read + validate the setup: every glob parsed and checked) — wall time and peak RSS;
#   2. `onitu sync` of $FILES small files without and under those rules (the globs compiled and matched against every
#      path: the difference is what matching costs).
# Not a test: nothing fails on a miss; the targets are printed beside the figures.
#
#   bash bench/globs.sh                        # 10,000 globs, 1,000 files
#   GLOBS=1000 bash bench/globs.sh             # a smaller setup
#   BASELINE_REF=<commit> bash bench/globs.sh  # also measures that commit's onitu on the same setup
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$(mktemp -d /tmp/onitu-globs.XXXXXX)}
mkdir -p "$work"
globs=${GLOBS:-10000}; files=${FILES:-1000}

. "$repo/bench/lib.sh"
install_if_missing /usr/bin/time:time python3 bc
publish_onitu
publish_baseline

make_small_files "$work/src" "$files"
generate() { # $1 setup file, $2 number of globs
python3 - "$1" "$2" "$work/src" "$work/dst" <<'PY'
import sys
out, count, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
shapes = [
    lambda i: f"*.ext{i}",
    lambda i: f"name{i}.txt",
    lambda i: f"dir{i}/",
    lambda i: f"logs{i}/**/*.log",
    lambda i: f"/top{i}.txt",
    lambda i: f"build{i}/out/*.o",
    lambda i: f"[Tt]emp{i}*",
    lambda i: f"cache{i}?/",
    lambda i: f"**/node_modules{i}",
    lambda i: f"d{i % 97}/f{i:07}-*.bak",
]
with open(out, "w") as f:
    f.write("name: globs\nfolders:\n  data:\n    blacklist:" + ("\n" if count else " []\n"))
    for i in range(count):
        f.write(f"      - '{shapes[i % len(shapes)](i)}'\n")
    f.write(f"services:\n  src:\n    driver: local_storage\n    options: {{ root: \"{src}\" }}\n"
            f"    folders: {{ data: {{ path: \".\", mode: r }} }}\n"
            f"  dst:\n    driver: local_storage\n    options: {{ root: \"{dst}\" }}\n"
            f"    folders: {{ data: {{ path: \".\", mode: w }} }}\n")
PY
}
generate "$work/globs.yml" "$globs"
generate "$work/none.yml" 0
echo "setup: $work/globs.yml ($globs globs, $(du -h "$work/globs.yml" | cut -f1)), $files files" >&2

measure() { # $1 label, then the command: prints "label  seconds  peak-MiB  exit"
  local label=$1 rc=0; shift
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >"$work/out.log" 2>&1 || rc=$?
  read -r seconds kib < <(tail -n 1 "$work/time.txt") # time prints "Command exited with non-zero status" first
  printf '%-44s %8s s %8s MiB   exit %s\n' "$label" "$seconds" "$((kib / 1024))" "$rc"
}

echo
for variant in now baseline; do
  if [ "$variant" = now ]; then cmd=("${onitu[@]}"); tag="onitu"; else
    [ ${#baseline[@]} -gt 0 ] || continue; cmd=("${baseline[@]}"); tag="onitu@$BASELINE_REF"; fi
  measure "$tag validate (no globs: the process alone)" "${cmd[@]}" validate "$work/none.yml"
  measure "$tag validate ($globs globs)" "${cmd[@]}" validate "$work/globs.yml"
  rm -rf "$work/dst" "$work"/none.state.db*
  measure "$tag sync (no globs, $files files)" "${cmd[@]}" sync "$work/none.yml" --quiet
  rm -rf "$work/dst" "$work"/globs.state.db*
  measure "$tag sync ($globs globs, $files files)" "${cmd[@]}" sync "$work/globs.yml" --quiet
done
echo "target (issue 11): validate under 1 s and under 50 MB with 10,000 globs (the difference from the process alone)"
