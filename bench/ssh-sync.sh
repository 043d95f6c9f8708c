#!/usr/bin/env bash
# Benchmarks `onitu sync` to and from an SSH server (the ssh driver: SFTP v3 over the system OpenSSH client) against
# OpenSSH's own sftp, rsync over ssh and rclone's sftp backend, on the same data in the same run, and prints each
# ratio next to its target. Not a test: nothing fails on a miss.
#
# The server is a private OpenSSH sshd on 127.0.0.1 started (and stopped) by this script: its own host key, user key,
# known_hosts and sshd_config, nothing of ~/.ssh or /etc/ssh. Every client gets the same key, known_hosts and ssh
# options, so the ciphers and the server are the same for all. Over loopback the network costs nothing: what is
# compared is each tool's pipelining and its CPU, which ssh, sshd and the tool itself share. The "remote"
# directories are on this machine, under the bench directory, so the copies are checked with cmp and diff directly.
# Every timing is of a whole command, process start included (for onitu: the .NET runtime, JIT, plugin loading and
# its state database, about 0.1 s here), as a user would run it.
#
#   bash bench/ssh-sync.sh              # full sizes: one 1 GiB file, 10,000 x 4 KiB in 100 directories
#   SMALL=1 bash bench/ssh-sync.sh      # a quick run: 128 MiB, 1,000 files, one repetition
#   BENCH_DIR=/mnt/ram/bench-ssh REPS=5 bash bench/ssh-sync.sh
#   BASELINE_REF=main bash bench/ssh-sync.sh   # also times that commit's onitu on the small files, in the same run
#   ONLY=big bash bench/ssh-sync.sh     # only the big file (sections 1-2b); ONLY=small only the small files (3-4)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$(mktemp -d /tmp/onitu-bench-ssh.XXXXXX)}
files=${FILES:-10000}; big_mib=${BIG_MIB:-1024}; reps=${REPS:-3}
if [ "${SMALL:-0}" = 1 ]; then files=1000; big_mib=128; reps=${REPS:-1}; fi
mkdir -p "$work"
work=$(cd "$work" && pwd)

. "$repo/bench/lib.sh"
install_if_missing sshd:openssh-server ssh:openssh-client sftp:openssh-client ssh-keygen:openssh-client \
  rsync rclone python3 bc
sshd_bin=/usr/sbin/sshd
[ -x "$sshd_bin" ] || { echo "error: $sshd_bin is missing and could not be installed" >&2; exit 1; }
publish_onitu
onitu_sync=("${onitu[@]}" sync --quiet)
publish_baseline

# The 1 GiB case needs the source and one copy at a time (each copy is checked, then deleted). When the bench
# directory cannot hold that (a small tmpfs), that case moves to a directory on /tmp.
big_dir=$work/big
if [ "$(df --output=avail -BM "$work" | tail -1 | tr -dc 0-9)" -lt $((2 * big_mib + 300)) ]; then
  big_dir=$(mktemp -d /tmp/onitu-bench-ssh-big.XXXXXX)
  echo "note: not enough room in $work for 2 x $big_mib MiB: the big-file case runs in $big_dir" >&2
fi

# --- A private sshd ----------------------------------------------------------------------------------------------
sshd_dir=$work/sshd
rm -rf "$sshd_dir" "$work/logs"; mkdir -p "$sshd_dir" "$work/logs"
ssh-keygen -q -t ed25519 -N '' -C onitu-bench -f "$sshd_dir/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C onitu-bench -f "$sshd_dir/id_ed25519"
cp "$sshd_dir/id_ed25519.pub" "$sshd_dir/authorized_keys"
key=$sshd_dir/id_ed25519; kh=$sshd_dir/known_hosts; user=$(id -un)
mkdir -p /run/sshd 2>/dev/null || true # sshd insists on its privilege separation directory

sshd_pid=
cleanup() {
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; fi
  case "$big_dir" in /tmp/onitu-bench-ssh-big.*) rm -rf "$big_dir" ;; esac
}
trap cleanup EXIT

port_accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A free port can be taken between the probe and sshd's bind: a few attempts.
for attempt in 1 2 3; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$sshd_dir/host_ed25519.pub")" > "$kh"
  # The tests' sshd configuration (tests/Shared/sshd_config.template), with this run's port and directory.
  sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$sshd_dir|g" "$repo/tests/Shared/sshd_config.template" > "$sshd_dir/sshd_config"
  "$sshd_bin" -D -e -f "$sshd_dir/sshd_config" 2>>"$sshd_dir/sshd.log" &
  sshd_pid=$!
  for _ in $(seq 200); do
    port_accepts "$port" && break
    kill -0 "$sshd_pid" 2>/dev/null || break
    sleep 0.05
  done
  port_accepts "$port" && break
  kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; sshd_pid=
  if [ "$attempt" = 3 ]; then echo "error: sshd did not start:" >&2; cat "$sshd_dir/sshd.log" >&2; exit 1; fi
done
echo "sshd (pid $sshd_pid) on 127.0.0.1:$port" >&2

# The options every client gets. Onitu's driver adds -i, BatchMode, StrictHostKeyChecking=yes (its default strict
# policy) and UserKnownHostsFile itself from its options; the peers get them spelled out.
common_ssh_options="-F none -o IdentitiesOnly=yes -o IdentityAgent=none -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR"
ssh_options=($common_ssh_options -i "$key" -o "UserKnownHostsFile=$kh" -o StrictHostKeyChecking=yes -o BatchMode=yes)
sftp_cmd=(sftp -q "${ssh_options[@]}" -P "$port" -b -) # commands on stdin (-b -: a failing command fails sftp)
rsync_ssh="ssh ${ssh_options[*]} -p $port"
rclone_sftp=(--config /dev/null --sftp-host 127.0.0.1 --sftp-port "$port" --sftp-user "$user" --sftp-key-file "$key"
  --sftp-known-hosts-file "$kh")
has_rclone() { command -v rclone >/dev/null; }
sftp_batch() { printf '%s\n' "$1" | "${sftp_cmd[@]}" "$user@127.0.0.1"; } # $1: one batch command
sftp_batch "pwd" >/dev/null || { echo "error: sftp cannot log in; sshd log:" >&2; cat "$sshd_dir/sshd.log" >&2; exit 1; }

# --- Setups ------------------------------------------------------------------------------------------------------
local_service() { # $1 name, $2 root, $3 mode
  printf '  %s:\n    driver: local_storage\n    options: { root: "%s" }\n    folders: { data: { path: ".", mode: %s } }\n' \
    "$1" "$2" "$3"
}
ssh_service() { # $1 name, $2 remote root, $3 mode
  cat <<YAML
  $1:
    driver: ssh
    options:
      host: 127.0.0.1
      port: $port
      user: "$user"
      root: "$2"
      identity-file: "$key"
      known-hosts-file: "$kh"
      ssh-options: "$common_ssh_options"
    folders: { data: { path: ".", mode: $3 } }
YAML
}
setup_for() { # $1 setup name, $2 reading service (local|ssh), $3 its root, $4 writing service, $5 its root
  { printf 'name: bench\nfolders:\n  data: {}\nservices:\n'; "$2_service" src "$3" r; "$4_service" dst "$5" w; } \
    > "$work/$1.yml"
  "${onitu[@]}" validate "$work/$1.yml" >/dev/null \
    || { echo "error: onitu rejects $work/$1.yml" >&2; exit 1; }
}
fresh() { rm -rf "$1"; mkdir -p "$1"; sync; } # an empty destination directory, nothing pending on the disks
check_same() { # $1 what, $2 source, $3 copy: cmp for a file, diff -r for a tree
  if [ -d "$2" ]; then diff -r -x .onitu-folder -x .onitu-staging "$2" "$3" >/dev/null 2>&1 || echo "WARNING: $1: the copy $3 differs from $2" >&2
  else cmp -s "$2" "$3" || echo "WARNING: $1: the copy $3 differs from $2" >&2; fi
}
med() { printf '%.2f' "$(echo "$*" | median)"; } # the median of the timings given, in seconds with 2 decimals
rat() { printf '%.2f' "$(ratio "$1" "$2")"; }
runs() { echo "  runs: $*" >&2; }

header

# Every timing is repeated $reps times, onitu and its peers alternating, and the medians are compared.

if [ "${ONLY:-big}" = big ]; then
# 1. One big file uploaded: onitu vs sftp put (which onitu's pipelining is designed to match) and rclone. rclone
# by default also checks the copy by running `md5sum` on the server through an ssh exec channel (the whole copy read
# back and hashed: seconds per GiB); its row without that check shows the transfer alone.
mkdir -p "$big_dir/src" "$big_dir/remote"
head -c "$((big_mib * 1024 * 1024))" /dev/urandom > "$big_dir/src/big.bin"
setup_for big-up local "$big_dir/src" ssh "$big_dir/remote/onitu"
r_onitu=(); r_sftp=(); r_rclone=(); r_rclone_nohash=()
for _ in $(seq "$reps"); do
  fresh "$big_dir/remote/sftp"
  r_sftp+=("$(timed sftp sftp_batch "put $big_dir/src/big.bin $big_dir/remote/sftp/big.bin")")
  check_same "sftp put" "$big_dir/src/big.bin" "$big_dir/remote/sftp/big.bin"; rm -rf "$big_dir/remote/sftp"

  fresh "$big_dir/remote/onitu"; rm -f "$work"/big-up.state.db*
  r_onitu+=("$(timed onitu-big-up "${onitu_sync[@]}" "$work/big-up.yml")")
  check_same "onitu upload" "$big_dir/src/big.bin" "$big_dir/remote/onitu/big.bin"; rm -rf "$big_dir/remote/onitu"

  if has_rclone; then
    fresh "$big_dir/remote/rclone"
    r_rclone+=("$(timed rclone rclone copyto "${rclone_sftp[@]}" "$big_dir/src/big.bin" ":sftp:$big_dir/remote/rclone/big.bin")")
    check_same "rclone copyto" "$big_dir/src/big.bin" "$big_dir/remote/rclone/big.bin"; rm -rf "$big_dir/remote/rclone"
    fresh "$big_dir/remote/rclone"
    r_rclone_nohash+=("$(timed rclone rclone copyto --sftp-disable-hashcheck "${rclone_sftp[@]}" "$big_dir/src/big.bin" \
      ":sftp:$big_dir/remote/rclone/big.bin")")
    check_same "rclone copyto --sftp-disable-hashcheck" "$big_dir/src/big.bin" "$big_dir/remote/rclone/big.bin"
    rm -rf "$big_dir/remote/rclone"
  fi
done
t_onitu=$(med "${r_onitu[*]}"); t_sftp=$(med "${r_sftp[*]}")
runs "onitu ${r_onitu[*]} | sftp ${r_sftp[*]} | rclone ${r_rclone[*]:-} | rclone no hashcheck ${r_rclone_nohash[*]:-}"
row "upload one $big_mib MiB file (s) vs sftp put" "$t_onitu" "$t_sftp" "$(rat "$t_onitu" "$t_sftp")" "<= 1.05"
if [ ${#r_rclone[@]} -gt 0 ]; then
  t_rclone=$(med "${r_rclone[*]}"); t_rclone_nohash=$(med "${r_rclone_nohash[*]}")
  row "upload one $big_mib MiB file (s) vs rclone copyto" "$t_onitu" "$t_rclone" "$(rat "$t_onitu" "$t_rclone")" "(report)"
  row "  same, rclone --sftp-disable-hashcheck" "$t_onitu" "$t_rclone_nohash" "$(rat "$t_onitu" "$t_rclone_nohash")" \
    "(report)"
fi

# 2. The same file downloaded: the server's copy is the source above (sshd runs on this machine).
setup_for big-down ssh "$big_dir/src" local "$big_dir/down-onitu"
r_onitu=(); r_sftp=()
for _ in $(seq "$reps"); do
  fresh "$big_dir/down-sftp"
  r_sftp+=("$(timed sftp sftp_batch "get $big_dir/src/big.bin $big_dir/down-sftp/big.bin")")
  check_same "sftp get" "$big_dir/src/big.bin" "$big_dir/down-sftp/big.bin"; rm -rf "$big_dir/down-sftp"

  fresh "$big_dir/down-onitu"; rm -f "$work"/big-down.state.db*
  r_onitu+=("$(timed onitu-big-down "${onitu_sync[@]}" "$work/big-down.yml")")
  check_same "onitu download" "$big_dir/src/big.bin" "$big_dir/down-onitu/big.bin"; rm -rf "$big_dir/down-onitu"
done
t_onitu=$(med "${r_onitu[*]}"); t_sftp=$(med "${r_sftp[*]}")
runs "onitu ${r_onitu[*]} | sftp ${r_sftp[*]}"
row "download one $big_mib MiB file (s) vs sftp get" "$t_onitu" "$t_sftp" "$(rat "$t_onitu" "$t_sftp")" "<= 1.15"

# 2b. The file renamed on the server after a download: the next sync renames the local copy (same inode: no byte
# copied) instead of downloading it again. Compared with an unchanged sync of the same setup.
fresh "$big_dir/down-onitu"; rm -f "$work"/big-down.state.db*
"${onitu_sync[@]}" "$work/big-down.yml" >/dev/null
inode=$(stat -c %i "$big_dir/down-onitu/big.bin")
r_unchanged=(); r_renamed=()
name=big.bin
for i in $(seq "$reps"); do
  r_unchanged+=("$(timed onitu-big-unchanged "${onitu_sync[@]}" "$work/big-down.yml")")
  mv "$big_dir/src/$name" "$big_dir/src/renamed-$i.bin"; name=renamed-$i.bin
  r_renamed+=("$(timed onitu-big-renamed "${onitu_sync[@]}" "$work/big-down.yml")")
  [ -f "$big_dir/down-onitu/$name" ] && [ "$(stat -c %i "$big_dir/down-onitu/$name")" = "$inode" ] \
    || echo "WARNING: the rename on the server was not a rename of the local copy (downloaded again?)" >&2
done
check_same "onitu rename" "$big_dir/src/$name" "$big_dir/down-onitu/$name"
t_renamed=$(med "${r_renamed[*]}"); t_unchanged=$(med "${r_unchanged[*]}")
runs "renamed ${r_renamed[*]} | unchanged ${r_unchanged[*]}"
row "sync after a server-side rename of it (s) vs unchanged" "$t_renamed" "$t_unchanged" \
  "$(rat "$t_renamed" "$t_unchanged")" "no transfer"
rm -rf "$big_dir/src" "$big_dir/remote" "$big_dir/down-onitu"
fi

if [ "${ONLY:-small}" = small ]; then
# 3. Many small files uploaded: per-file round trips dominate; rsync's single pipelined stream is the reference.
# rclone runs without its hash check here: by default it checks every file with its own `md5sum` exec channel,
# a shell started by sshd per file (about 0.13 s each on this machine, over 20 minutes for 10,000 files).
# Onitu with the ssh option `transfers: 4` (4 files in flight, as before the driver asked the engine for its default
# of 32) is an extra row, for information: what keeping many small files in flight on the session is worth.
rm -rf "$work/small" "$work/remote"; mkdir -p "$work/remote"
make_small_files "$work/small" "$files"
setup_for small local "$work/small" ssh "$work/remote/onitu"
setup_for small-t4 local "$work/small" ssh "$work/remote/onitu-t4"
sed -i 's/^      ssh-options:/      transfers: 4\n      ssh-options:/' "$work/small-t4.yml"
setup_for small-base local "$work/small" ssh "$work/remote/onitu-base"
r_onitu=(); r_onitu4=(); r_rsync=(); r_rclone=(); r_after=(); r_base=(); r_base_after=()
for _ in $(seq "$reps"); do
  fresh "$work/remote/rsync"
  r_rsync+=("$(timed rsync rsync -a -e "$rsync_ssh" "$work/small/" "$user@127.0.0.1:$work/remote/rsync/")")
  fresh "$work/remote/onitu"; rm -f "$work"/small.state.db*
  r_onitu+=("$(timed onitu-small "${onitu_sync[@]}" "$work/small.yml")")
  # The first sync after the upload: files the engine judged racily clean (written within the driver's 2 s
  # window of being recorded) are read back and compared by content here.
  r_after+=("$(timed onitu-small-after "${onitu_sync[@]}" "$work/small.yml")")
  if [ ${#baseline[@]} -gt 0 ]; then
    fresh "$work/remote/onitu-base"; rm -f "$work"/small-base.state.db*
    r_base+=("$(timed onitu-base-small "${baseline[@]}" sync --quiet "$work/small-base.yml")")
    r_base_after+=("$(timed onitu-base-small-after "${baseline[@]}" sync --quiet "$work/small-base.yml")")
    check_same "baseline onitu small files" "$work/small" "$work/remote/onitu-base"
  fi
  if has_rclone; then
    fresh "$work/remote/rclone"
    r_rclone+=("$(timed rclone rclone sync --sftp-disable-hashcheck "${rclone_sftp[@]}" "$work/small" ":sftp:$work/remote/rclone")")
    check_same "rclone sync" "$work/small" "$work/remote/rclone"
  fi
  fresh "$work/remote/onitu-t4"; rm -f "$work"/small-t4.state.db*
  r_onitu4+=("$(timed onitu-small-t4 "${onitu_sync[@]}" "$work/small-t4.yml")")
  check_same "rsync" "$work/small" "$work/remote/rsync"
  check_same "onitu small files" "$work/small" "$work/remote/onitu"
  check_same "onitu transfers: 4 small files" "$work/small" "$work/remote/onitu-t4"
done
t_onitu=$(med "${r_onitu[*]}"); t_onitu4=$(med "${r_onitu4[*]}"); t_rsync=$(med "${r_rsync[*]}")
runs "onitu ${r_onitu[*]} | onitu transfers: 4 ${r_onitu4[*]} | rsync ${r_rsync[*]} | rclone ${r_rclone[*]:-}"
row "upload $files x 4 KiB (s) vs rsync -a over ssh" "$t_onitu" "$t_rsync" "$(rat "$t_onitu" "$t_rsync")" "<= 2.5"
if [ ${#r_rclone[@]} -gt 0 ]; then
  t_rclone=$(med "${r_rclone[*]}")
  row "  same vs rclone sync --sftp-disable-hashcheck" "$t_onitu" "$t_rclone" "$(rat "$t_onitu" "$t_rclone")" "(report)"
fi
row "  (info) onitu with transfers: 4 vs rsync -a over ssh" "$t_onitu4" "$t_rsync" "$(rat "$t_onitu4" "$t_rsync")" "(info)"
t_after=$(med "${r_after[*]}")
runs "first sync after the upload: onitu ${r_after[*]}"
row "first sync after that upload (s) vs rsync -a over ssh" "$t_after" "$t_rsync" "$(rat "$t_after" "$t_rsync")" "(report)"
if [ ${#baseline[@]} -gt 0 ]; then
  t_base=$(med "${r_base[*]}"); t_base_after=$(med "${r_base_after[*]}")
  runs "baseline $BASELINE_REF: upload ${r_base[*]} | first sync after ${r_base_after[*]}"
  row "upload $files x 4 KiB (s) vs onitu at $BASELINE_REF" "$t_onitu" "$t_base" "$(rat "$t_onitu" "$t_base")" "(report)"
  row "first sync after that upload (s) vs $BASELINE_REF" "$t_after" "$t_base_after" "$(rat "$t_after" "$t_base_after")" \
    "(report)"
fi

# 4. Unchanged second pass over the same trees (onitu keeps its state db from the last run above).
r_onitu=(); r_rsync=()
for _ in $(seq "$reps"); do
  r_rsync+=("$(timed rsync rsync -a -e "$rsync_ssh" "$work/small/" "$user@127.0.0.1:$work/remote/rsync/")")
  r_onitu+=("$(timed onitu-small-again "${onitu_sync[@]}" "$work/small.yml")")
done
check_same "onitu second sync" "$work/small" "$work/remote/onitu"
t_onitu=$(med "${r_onitu[*]}"); t_rsync=$(med "${r_rsync[*]}")
runs "onitu ${r_onitu[*]} | rsync ${r_rsync[*]}"
row "unchanged second sync (s) vs rsync -a over ssh" "$t_onitu" "$t_rsync" "$(rat "$t_onitu" "$t_rsync")" "<= 1.5"
fi

echo
echo "data and logs in $work (sshd stopped)"
