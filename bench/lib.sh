# Helpers shared by the end-to-end benchmark scripts (bench/*.sh). Sourced, not run: the caller sets `set -euo
# pipefail`, `repo` (the repository root) and `work` (the bench directory) before sourcing it.

# Installs the missing tools with apt-get. An argument is a command, or `command:package` when the package is named
# otherwise (sshd:openssh-server). A tool that cannot be installed only skips its comparisons.
install_if_missing() {
  local missing=()
  for tool in "$@"; do command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}"); done
  if [ ${#missing[@]} -gt 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
      || echo "note: could not install ${missing[*]}; their comparisons are skipped" >&2
  fi
}

# Builds the onitu command once into $work/onitu-bin and sets `onitu` to the command line that runs it; ONITU_BIN=<path>
# uses that already built onitu instead (repeated runs while measuring).
publish_onitu() {
  if [ -n "${ONITU_BIN:-}" ]; then onitu=("$ONITU_BIN"); return 0; fi
  echo "building onitu (Release)..." >&2
  publish_cli "$repo" "$work/onitu-bin" > "$work/publish.log" 2>&1 \
    || { cat "$work/publish.log" >&2; echo "error: building onitu failed" >&2; exit 1; }
  onitu=("$work/onitu-bin/onitu")
}

# As it would ship: a Release build for this runtime, precompiled (ReadyToRun). Self-contained by default, so that the
# framework is precompiled with it as one composite image (start-up); PUBLISH=framework-dependent builds the smaller
# `dotnet onitu.dll` kind instead. $1 the source tree, $2 the output directory.
publish_cli() {
  if [ "${PUBLISH:-self-contained}" = framework-dependent ]; then
    dotnet publish "$1/Onitu.Cli" -c Release -r linux-x64 --self-contained false -o "$2" --nologo -v quiet
  else
    dotnet publish "$1/Onitu.Cli" -c Release -r linux-x64 --self-contained true -p:PublishReadyToRunComposite=true -o "$2" --nologo -v quiet
  fi
}

# With BASELINE_REF set, builds that commit's onitu too (from a temporary worktree) and sets `baseline` to the command
# line that runs it, so that a script can time both on the same data in the same run; else `baseline` is empty.
publish_baseline() {
  baseline=()
  [ -n "${BASELINE_REF:-}" ] || return 0
  rm -rf "$work/baseline-src"
  git -C "$repo" worktree add --detach "$work/baseline-src" "$BASELINE_REF" >/dev/null 2>&1
  echo "building onitu at $BASELINE_REF (Release)..." >&2
  publish_cli "$work/baseline-src" "$work/baseline-bin" > "$work/publish-baseline.log" 2>&1 || { cat "$work/publish-baseline.log" >&2; exit 1; }
  git -C "$repo" worktree remove --force "$work/baseline-src"
  baseline=("$work/baseline-bin/onitu")
}

now() { date +%s.%N; }
elapsed() { local t0; t0=$(now); "$@" >/dev/null 2>&1; printf '%.3f\n' "$(echo "$(now) - $t0" | bc -l)"; }
# Like elapsed, but appends the command's output to $work/logs/$1.log and says on stderr when it failed (the time is
# still printed: a failure shows up in the copy checks and the warning, not as a missing number).
timed() {
  local log="$work/logs/$1.log" t0 t1 rc=0; shift
  mkdir -p "$work/logs"
  t0=$(now); "$@" >>"$log" 2>&1 || rc=$?; t1=$(now)
  [ "$rc" = 0 ] || echo "WARNING: exit code $rc from: $* (output in $log)" >&2
  printf '%.3f\n' "$(echo "$t1 - $t0" | bc -l)"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }

# Shared disks and CPUs are noisy: every timing is repeated and the medians are compared.
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

header() { printf '\n%-52s %10s %10s %8s %s\n' "measure" "onitu" "peer" "ratio" "target"; }
row() { printf '%-52s %10s %10s %8s %s\n' "$@"; }

make_files() { # $1 dir, $2 count, $3 directories, $4 bytes per file (random)
  python3 - "$@" <<'PY'
import os, sys
root, count, dirs, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
width = len(str(dirs - 1))
for i in range(count):
    d = os.path.join(root, f"d{i % dirs:0{width}}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:07}.bin"), "wb") as f:
        f.write(os.urandom(size))
PY
}

make_small_files() { make_files "$1" "$2" 100 4096; } # $1 dir, $2 count: 4 KiB files in 100 directories
