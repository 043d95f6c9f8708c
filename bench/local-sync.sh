#!/usr/bin/env bash
# Benchmarks `onitu sync` between two local folders against rsync, rclone and cp on the same generated data, in the
# same run, and prints each ratio next to its target (issues "The engine" and 14, speed of many small files).
# Not a test: nothing fails on a miss.
#
#   bash bench/local-sync.sh            # full sizes: 10,000 x 4 KiB, 1 GiB, 100,000 x 1 KiB in 1,000 directories
#   SMALL=1 bash bench/local-sync.sh    # a quick run on smaller data
#   MANY=0 bash bench/local-sync.sh     # without the 100,000-file case (about a minute per repetition)
#   BASELINE_REF=<commit> bash bench/local-sync.sh   # also times that commit's onitu on the same data (regressions)
#   BENCH_DIR=/dev/shm/bench bash bench/local-sync.sh  # on tmpfs: the engine's costs without the disk's
#   ONLY=big bash bench/local-sync.sh   # only the one big file (section 3); ONLY=small, many or latency likewise
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$(mktemp -d /tmp/onitu-bench.XXXXXX)}
mkdir -p "$work"
files=${FILES:-10000}; big_mib=${BIG_MIB:-1024}; many=${MANY:-100000}; latency_runs=${LATENCY_RUNS:-30}; reps=${REPS:-3}
many_reps=${MANY_REPS:-1}; noop_reps=${NOOP_REPS:-7}
if [ "${SMALL:-0}" = 1 ]; then files=1000; big_mib=128; many=${MANY:-10000}; latency_runs=10; reps=1; fi

. "$repo/bench/lib.sh"
install_if_missing rsync rclone /usr/bin/time:time python3 bc
publish_onitu
publish_baseline
# With BASELINE_REF: times a fresh sync of setup $2 (destination $3) with this onitu and the baseline's, alternating.
against_baseline() { # $1 label, $2 setup name, $3 destination directory
  [ ${#baseline[@]} -gt 0 ] || return 0
  local r_base=() r_now=()
  for _ in $(seq "$reps"); do
    rm -rf "$3" "$work/$2".state.db*; sync; r_base+=("$(elapsed "${baseline[@]}" sync "$work/$2.yml" --quiet)")
    rm -rf "$3" "$work/$2".state.db*; sync; r_now+=("$(elapsed "${onitu[@]}" sync "$work/$2.yml" --quiet)")
  done
  local t_base t_now
  t_base=$(echo "${r_base[*]}" | median); t_now=$(echo "${r_now[*]}" | median)
  row "$1 (s) vs onitu@$BASELINE_REF" "$t_now" "$t_base" "$(ratio "$t_now" "$t_base")" "<= 1.1"
}

setup_for() { # setup file syncing folder $1 (read) to $2 (write)
  cat > "$work/$3.yml" <<YAML
name: bench
folders:
  data: {}
services:
  src:
    driver: local_storage
    options: { root: "$1" }
    folders: { data: { path: ".", mode: r } }
  dst:
    driver: local_storage
    options: { root: "$2" }
    folders: { data: { path: ".", mode: w } }
YAML
  echo "$work/$3.yml"
}

# One file against cp, alternating, fresh destinations each time: setup $1 syncs $work/$1/$2 into $work/$1-onitu, cp
# copies it to $3. Sets t_onitu and t_cp to the medians.
file_against_cp() {
  local r_cp=() r_onitu=()
  for _ in $(seq "$reps"); do
    rm -f "$3"; sync; r_cp+=("$(elapsed cp "$work/$1/$2" "$3")")
    rm -rf "$work/$1-onitu" "$work/$1".state.db*; sync; r_onitu+=("$(elapsed "${onitu[@]}" sync "$work/$1.yml" --quiet)")
  done
  cmp "$work/$1/$2" "$work/$1-onitu/$2" || echo "WARNING: the $1 file differs" >&2
  t_cp=$(echo "${r_cp[*]}" | median); t_onitu=$(echo "${r_onitu[*]}" | median)
  echo "  runs: onitu ${r_onitu[*]} | cp ${r_cp[*]}" >&2
}

# ONLY=<part> runs one part: small (sections 1-2b), big (3), many (4) or latency (5).
part() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }

header

# Shared disks are noisy: every timing is repeated $reps times, onitu and its peer alternating, and the medians
# are compared.

if part small; then
# 1. Initial sync of N small files (fresh destinations each time).
make_small_files "$work/small" "$files"
setup_for "$work/small" "$work/small-onitu" small >/dev/null
r_rsync=(); r_onitu=(); r_rclone=()
for _ in $(seq "$reps"); do
  rm -rf "$work/small-rsync"; sync; r_rsync+=("$(elapsed rsync -a "$work/small/" "$work/small-rsync/")")
  rm -rf "$work/small-onitu" "$work"/small.state.db*; sync; r_onitu+=("$(elapsed "${onitu[@]}" sync "$work/small.yml" --quiet)")
  if command -v rclone >/dev/null; then
    rm -rf "$work/small-rclone"; sync; r_rclone+=("$(elapsed rclone sync "$work/small" "$work/small-rclone")")
  fi
done
diff -r "$work/small" "$work/small-onitu" >/dev/null || echo "WARNING: onitu's copy differs from the source" >&2
t_rsync=$(echo "${r_rsync[*]}" | median); t_onitu=$(echo "${r_onitu[*]}" | median)
echo "  runs: onitu ${r_onitu[*]} | rsync ${r_rsync[*]}" >&2
row "initial sync, $files x 4 KiB (s) vs rsync -a" "$t_onitu" "$t_rsync" "$(ratio "$t_onitu" "$t_rsync")" "<= 2.0"
if [ ${#r_rclone[@]} -gt 0 ]; then
  t_rclone=$(echo "${r_rclone[*]}" | median)
  row "initial sync, $files x 4 KiB (s) vs rclone sync" "$t_onitu" "$t_rclone" "$(ratio "$t_onitu" "$t_rclone")" "(report)"
fi

against_baseline "initial sync, $files x 4 KiB" small "$work/small-onitu"

# 1b. First pairing: both trees already hold the same files and there is no state (a first run on existing copies, a
# lost state database). Onitu reads both sides to compare contents; the fair peer is rsync comparing checksums.
r_rsync=(); r_onitu=()
for _ in $(seq "$reps"); do
  r_rsync+=("$(elapsed rsync -a --checksum "$work/small/" "$work/small-rsync/")")
  rm -f "$work"/small.state.db*; sync; r_onitu+=("$(timed pairing "${onitu[@]}" sync "$work/small.yml" --quiet)")
done
grep -q "^0 changes propagated" "$work/logs/pairing.log" || echo "WARNING: the pairing copied files (see $work/logs/pairing.log)" >&2
t_rsync=$(echo "${r_rsync[*]}" | median); t_onitu=$(echo "${r_onitu[*]}" | median)
row "first pairing of identical trees (s) vs rsync -ac" "$t_onitu" "$t_rsync" "$(ratio "$t_onitu" "$t_rsync")" "(report)"

# 2. Unchanged second pass over the same trees.
r_rsync=(); r_onitu=()
for _ in $(seq "$reps"); do
  r_rsync+=("$(elapsed rsync -a "$work/small/" "$work/small-rsync/")")
  r_onitu+=("$(elapsed "${onitu[@]}" sync "$work/small.yml" --quiet)")
done
t_rsync2=$(echo "${r_rsync[*]}" | median); t_onitu2=$(echo "${r_onitu[*]}" | median)
row "unchanged second sync (s) vs rsync -a" "$t_onitu2" "$t_rsync2" "$(ratio "$t_onitu2" "$t_rsync2")" "<= 2.0"

# 2b. Start-up: `onitu sync` of the quickstart example when there is nothing to do (the time a user waits for a
# no-op; most of it is starting the process, reading the setup and opening the state database).
rm -rf "$work/quickstart"; cp -r "$repo/examples/quickstart" "$work/quickstart"
rm -rf "$work/quickstart/backup" "$work/quickstart/phone" "$work/quickstart"/*.state.db* "$work/quickstart"/*.lock
"${onitu[@]}" sync "$work/quickstart/setup.yml" --quiet >/dev/null 2>&1 || echo "WARNING: the quickstart's first sync failed" >&2
r_noop=()
for _ in $(seq "$noop_reps"); do r_noop+=("$(elapsed "${onitu[@]}" sync "$work/quickstart/setup.yml" --quiet)"); done
t_noop=$(echo "${r_noop[*]}" | median)
echo "  runs: ${r_noop[*]}" >&2
row "quickstart onitu sync, nothing to do (s)" "$t_noop" "-" "-" "<= 0.15"

fi

if part big; then
# 3. One big file.
mkdir -p "$work/big"
head -c "$((big_mib * 1024 * 1024))" /dev/urandom > "$work/big/big.bin"
setup_for "$work/big" "$work/big-onitu" big >/dev/null
file_against_cp big big.bin "$work/big-cp.bin"
row "one $big_mib MiB file (s) vs cp" "$t_onitu" "$t_cp" "$(ratio "$t_onitu" "$t_cp")" "<= 1.1"
against_baseline "one $big_mib MiB file" big "$work/big-onitu"
# The same file already on both sides, no state: a first pairing hashes both copies.
rm -f "$work"/big.state.db*; sync
t_pair=$(timed big-pairing "${onitu[@]}" sync "$work/big.yml" --quiet)
row "first pairing of one $big_mib MiB file, both sides (s)" "$t_pair" "-" "-" "(report: reads $((2 * big_mib)) MiB)"
rm -rf "$work/big" "$work/big-cp.bin" "$work/big-onitu"

# 3b. One sparse file of the same size with 1/16 of it data (a disk image): cp copies the data and keeps the holes.
mkdir -p "$work/sparse"
python3 - "$work/sparse/vm.img" "$big_mib" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.truncate(mib << 20)
    for i in range(16):  # 16 extents of 1/256 of the file each, evenly spread
        f.seek(i * (mib << 16)); f.write(os.urandom(mib << 12))
PY
setup_for "$work/sparse" "$work/sparse-onitu" sparse >/dev/null
file_against_cp sparse vm.img "$work/sparse-cp.img"
row "one $big_mib MiB sparse file, 1/16 data (s) vs cp" "$t_onitu" "$t_cp" "$(ratio "$t_onitu" "$t_cp")" \
  "(report: on disk onitu $(du -k "$work/sparse-onitu/vm.img" | cut -f1) KiB, cp $(du -k "$work/sparse-cp.img" | cut -f1) KiB)"
rm -rf "$work/sparse" "$work/sparse-cp.img" "$work/sparse-onitu"
fi

# 4. Many files: 100,000 x 1 KiB in 1,000 directories, initial and unchanged, against rsync; the peak memory per
# tracked file, and the memory an unchanged pass needs beyond the small case's (it must not grow with the files).
if [ "$many" -gt 0 ] && part many; then
  mkdir -p "$work/many"
  make_files "$work/many" "$many" 1000 1024
  setup_for "$work/many" "$work/many-onitu" many >/dev/null
  r_rsync=(); r_onitu=(); r_rsync2=(); r_onitu2=()
  for _ in $(seq "$many_reps"); do
    rm -rf "$work/many-rsync"; sync; r_rsync+=("$(elapsed rsync -a "$work/many/" "$work/many-rsync/")")
    rm -rf "$work/many-onitu" "$work"/many.state.db*; sync
    r_onitu+=("$(elapsed /usr/bin/time -o "$work/time-many.txt" -v "${onitu[@]}" sync "$work/many.yml" --quiet)")
    r_rsync2+=("$(elapsed rsync -a "$work/many/" "$work/many-rsync/")")
    r_onitu2+=("$(elapsed /usr/bin/time -o "$work/time-many2.txt" -v "${onitu[@]}" sync "$work/many.yml" --quiet)")
  done
  diff -r "$work/many" "$work/many-onitu" >/dev/null || echo "WARNING: onitu's copy of the many files differs" >&2
  t_rsync=$(echo "${r_rsync[*]}" | median); t_onitu=$(echo "${r_onitu[*]}" | median)
  t_rsync2=$(echo "${r_rsync2[*]}" | median); t_onitu2=$(echo "${r_onitu2[*]}" | median)
  row "initial sync, $many x 1 KiB (s) vs rsync -a" "$t_onitu" "$t_rsync" "$(ratio "$t_onitu" "$t_rsync")" "<= 2.5"
  row "unchanged sync, $many files (s) vs rsync -a" "$t_onitu2" "$t_rsync2" "$(ratio "$t_onitu2" "$t_rsync2")" "<= 2.0"
  rss() { awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$1"; }
  rss_kib=$(rss "$work/time-many.txt"); rss2_kib=$(rss "$work/time-many2.txt")
  row "peak RSS per tracked file, initial (KiB)" "$(echo "scale=3; $rss_kib / $many" | bc -l)" "-" "-" "<= 0.8 (peak ${rss_kib} KiB)"
  row "peak RSS per tracked file, unchanged (KiB)" "$(echo "scale=3; $rss2_kib / $many" | bc -l)" "-" "-" "<= 0.8 (peak ${rss2_kib} KiB)"
  # The same unchanged pass on the small case: what the 10x more files add is what grows with the files.
  /usr/bin/time -o "$work/time-small2.txt" -v "${onitu[@]}" sync "$work/small.yml" --quiet >/dev/null 2>&1 || true
  small_kib=$(rss "$work/time-small2.txt")
  row "RSS growth per file, unchanged $files -> $many (KiB)" "$(echo "scale=3; ($rss2_kib - $small_kib) / ($many - $files)" | bc -l)" "-" "-" "(report: ~0 when streamed)"
  rm -rf "$work/many" "$work/many-onitu" "$work/many-rsync"
fi

# 5. Latency under `onitu run`: a 4 KiB file written in one folder is complete in the other.
if part latency; then
mkdir -p "$work/live-a" "$work/live-b"
setup=$(setup_for "$work/live-a" "$work/live-b" live)
"${onitu[@]}" run "$setup" --quiet > "$work/run.log" 2>&1 &
run_pid=$!
sleep 3
median_ms=$(python3 - "$work/live-a" "$work/live-b" "$latency_runs" <<'PY'
import os, sys, time, statistics
a, b, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
samples = []
for i in range(runs):
    data = os.urandom(4096)
    src = os.path.join(a, f"latency{i}.bin"); dst = os.path.join(b, f"latency{i}.bin")
    start = time.monotonic()
    with open(src, "wb") as f:
        f.write(data)
    while True:
        try:
            with open(dst, "rb") as f:
                if f.read() == data:
                    break
        except FileNotFoundError:
            pass
        if time.monotonic() - start > 10:
            break
        time.sleep(0.001)
    samples.append((time.monotonic() - start) * 1000)
    time.sleep(0.2)
print(f"{statistics.median(samples):.1f}")
PY
)
# SIGTERM: a background job of a script ignores SIGINT. onitu stops gracefully on either.
kill -TERM "$run_pid"; wait "$run_pid" || true
row "onitu run: 4 KiB file complete on the other side (ms)" "$median_ms" "-" "-" "median <= 30"
fi

echo
echo "data and logs in $work"
