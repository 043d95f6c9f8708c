#!/usr/bin/env bash
# Benchmarks `onitu sync` to and from an S3 store (the s3 driver, on AWSSDK.S3) against rclone's s3 backend, on the
# same data and the same store in the same run, and prints each ratio next to its target. Not a test: nothing fails
# on a miss.
#
# The store is a private Ceph RADOS Gateway on 127.0.0.1 started (and stopped, by PID) by this script, configured as
# the S3 tests' fixture configures it (tests/Shared/RadosGateway.cs): one monitor, one OSD on a
# sparse file, radosgw with tcp_nodelay. Both tools talk plain HTTP to it with the same credentials; over loopback
# the network costs nothing, so what is compared is each tool's request pipelining and CPU, which radosgw and the
# OSD share on the same cores. Every timing is of a whole command, process start included, as a user would run it.
# rclone 1.60 fails with LoadCustomCABundleError when AWS_CA_BUNDLE is set: it runs with `env -u AWS_CA_BUNDLE`.
#
#   bash bench/s3-sync.sh              # full sizes: one 1 GiB file up and down, 10,000 x 4 KiB in 100 directories up
#   SMALL=1 bash bench/s3-sync.sh      # a quick run: 128 MiB, 1,000 files
#   REPS=3 bash bench/s3-sync.sh       # medians of 3 (default 1: Ceph makes a run long enough)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$(mktemp -d /tmp/onitu-bench-s3.XXXXXX)}
files=${FILES:-10000}; big_mib=${BIG_MIB:-1024}; reps=${REPS:-1}
if [ "${SMALL:-0}" = 1 ]; then files=1000; big_mib=128; fi
mkdir -p "$work"
work=$(cd "$work" && pwd)

. "$repo/bench/lib.sh"
install_if_missing rclone python3 bc
for program in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
  command -v "$program" >/dev/null || { echo "error: $program is missing (apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw)" >&2; exit 1; }
done
publish_onitu
onitu_sync=("${onitu[@]}" sync --quiet)

# --- A private radosgw ---------------------------------------------------------------------------------------------
ceph_dir=$work/ceph
rm -rf "$ceph_dir" "$work/logs"; mkdir -p "$ceph_dir"/{mon,osd,run,log} "$work/logs"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mon_port=$(free_port); rgw_port=$(free_port); fsid=$(cat /proc/sys/kernel/random/uuid)
conf=$ceph_dir/ceph.conf
# The tests' Ceph configuration (tests/Shared/ceph.conf.template), with this run's ports and directory.
sed -e "s|@FSID@|$fsid|g" -e "s|@MON_PORT@|$mon_port|g" -e "s|@RGW_PORT@|$rgw_port|g" -e "s|@DIR@|$ceph_dir|g" \
  -e "s|@OSD_MEMORY@|1073741824|g" "$repo/tests/Shared/ceph.conf.template" > "$conf"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$ceph_dir" "$work/big" "$work/small" "$work/down-"*
}
trap cleanup EXIT
c=(-c "$conf")
echo "starting Ceph (monitor, OSD, radosgw)..." >&2
monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$ceph_dir/monmap" >/dev/null
ceph-mon "${c[@]}" --mkfs -i a --monmap "$ceph_dir/monmap"
ceph-mon "${c[@]}" -i a -f 2>>"$ceph_dir/log/mon.err" & pids+=($!)
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
ceph "${c[@]}" --connect-timeout 30 osd new "$osd_uuid" >/dev/null
ceph-osd "${c[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>>"$ceph_dir/log/osd-mkfs.err"
ceph-osd "${c[@]}" -i 0 -f 2>>"$ceph_dir/log/osd.err" & pids+=($!)
radosgw "${c[@]}" -n client.rgw -f 2>>"$ceph_dir/log/rgw.err" & pids+=($!)
port_accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 900); do port_accepts "$rgw_port" && break; sleep 0.2; done
port_accepts "$rgw_port" || { echo "error: radosgw did not start:" >&2; tail -20 "$ceph_dir"/log/*.log >&2; exit 1; }
access=ONITUBENCH$RANDOM$RANDOM; secret=$(head -c 30 /dev/urandom | base64 | tr -dc A-Za-z0-9)
radosgw-admin "${c[@]}" user create --uid bench --display-name bench --access-key "$access" --secret "$secret" >/dev/null
endpoint=http://127.0.0.1:$rgw_port
echo "radosgw (pids ${pids[*]}) on $endpoint" >&2

rc() { env -u AWS_CA_BUNDLE rclone --config /dev/null --s3-provider Ceph --s3-endpoint "$endpoint" \
  --s3-access-key-id "$access" --s3-secret-access-key "$secret" "$@"; }
bucket=bench
rc mkdir ":s3:$bucket"

# --- Setups --------------------------------------------------------------------------------------------------------
local_service() { # $1 name, $2 root, $3 mode
  printf '  %s:\n    driver: local_storage\n    options: { root: "%s" }\n    folders: { data: { path: ".", mode: %s } }\n' "$1" "$2" "$3"
}
s3_service() { # $1 name, $2 prefix, $3 mode
  cat <<YAML
  $1:
    driver: s3
    options:
      bucket: $bucket
      prefix: "$2"
      endpoint: $endpoint
      access-key: "$access"
      secret-key: "$secret"
    folders: { data: { path: ".", mode: $3 } }
YAML
}
setup_for() { # $1 setup name, $2 reading service (local|s3), $3 its root or prefix, $4 writing service, $5 its root or prefix
  { printf 'name: bench\nfolders:\n  data: {}\nservices:\n'; "$2_service" src "$3" r; "$4_service" dst "$5" w; } > "$work/$1.yml"
  "${onitu[@]}" validate "$work/$1.yml" >/dev/null || { echo "error: onitu rejects $work/$1.yml" >&2; exit 1; }
}
purge() { rc purge ":s3:$bucket/$1" >/dev/null 2>&1 || true; } # $1 prefix
check_object() { # $1 what, $2 local file, $3 key
  rc cat ":s3:$bucket/$3" | cmp -s - "$2" || echo "WARNING: $1: the object $3 differs from $2" >&2
}
check_same() { cmp -s "$2" "$3" || echo "WARNING: $1: the copy $3 differs from $2" >&2; }
count_objects() { rc lsf -R --files-only ":s3:$bucket/$1" | grep -vc '\.onitu-folder$' || true; }
med() { printf '%.2f' "$(echo "$*" | median)"; }
rat() { printf '%.2f' "$(ratio "$1" "$2")"; }
runs() { echo "  runs: $*" >&2; }

header

# 1. One big file uploaded: onitu (multipart, 16 MiB parts, one part in flight while the next chunk is read) against
# rclone copyto (multipart, 5 MiB chunks, 4 in flight).
mkdir -p "$work/big"
head -c "$((big_mib * 1024 * 1024))" /dev/urandom > "$work/big/big.bin"
setup_for big-up local "$work/big" s3 onitu-up/
r_onitu=(); r_rclone=()
for _ in $(seq "$reps"); do
  purge rclone-up
  r_rclone+=("$(timed rclone-up rc copyto "$work/big/big.bin" ":s3:$bucket/rclone-up/big.bin")")
  check_object "rclone upload" "$work/big/big.bin" rclone-up/big.bin

  purge onitu-up; rm -f "$work"/big-up.state.db*
  r_onitu+=("$(timed onitu-big-up "${onitu_sync[@]}" "$work/big-up.yml")")
  check_object "onitu upload" "$work/big/big.bin" onitu-up/big.bin
done
t_onitu=$(med "${r_onitu[*]}"); t_rclone=$(med "${r_rclone[*]}")
runs "onitu ${r_onitu[*]} | rclone ${r_rclone[*]}"
row "upload one $big_mib MiB file (s) vs rclone copyto" "$t_onitu" "$t_rclone" "$(rat "$t_onitu" "$t_rclone")" "<= 1.0"

# 2. The same object downloaded (onitu's copy above is the source of both).
setup_for big-down s3 onitu-up/ local "$work/down-onitu"
r_onitu=(); r_rclone=()
for _ in $(seq "$reps"); do
  rm -rf "$work/down-rclone"; mkdir -p "$work/down-rclone"; sync
  r_rclone+=("$(timed rclone-down rc copyto ":s3:$bucket/onitu-up/big.bin" "$work/down-rclone/big.bin")")
  check_same "rclone download" "$work/big/big.bin" "$work/down-rclone/big.bin"; rm -rf "$work/down-rclone"

  rm -rf "$work/down-onitu"; mkdir -p "$work/down-onitu"; rm -f "$work"/big-down.state.db*; sync
  r_onitu+=("$(timed onitu-big-down "${onitu_sync[@]}" "$work/big-down.yml")")
  check_same "onitu download" "$work/big/big.bin" "$work/down-onitu/big.bin"; rm -rf "$work/down-onitu"
done
t_onitu=$(med "${r_onitu[*]}"); t_rclone=$(med "${r_rclone[*]}")
runs "onitu ${r_onitu[*]} | rclone ${r_rclone[*]}"
row "download one $big_mib MiB file (s) vs rclone copyto" "$t_onitu" "$t_rclone" "$(rat "$t_onitu" "$t_rclone")" "<= 1.0"
purge onitu-up; purge rclone-up; rm -rf "$work/big"

# 3. Many small files uploaded: one PUT each. rclone copy with its defaults (4 transfers, 8 checkers); onitu with
# its default parallelism (4) and with 16, for information.
make_small_files "$work/small" "$files"
setup_for small local "$work/small" s3 onitu-small/
r_onitu=(); r_onitu16=(); r_rclone=()
for _ in $(seq "$reps"); do
  purge rclone-small
  r_rclone+=("$(timed rclone-small rc copy "$work/small" ":s3:$bucket/rclone-small")")
  [ "$(count_objects rclone-small)" = "$files" ] || echo "WARNING: rclone copied $(count_objects rclone-small) of $files files" >&2

  purge onitu-small; rm -f "$work"/small.state.db*
  r_onitu+=("$(timed onitu-small "${onitu_sync[@]}" "$work/small.yml")")
  [ "$(count_objects onitu-small)" = "$files" ] || echo "WARNING: onitu copied $(count_objects onitu-small) of $files files" >&2

  purge onitu-small; rm -f "$work"/small.state.db*
  r_onitu16+=("$(timed onitu-small-p16 "${onitu_sync[@]}" --parallel 16 "$work/small.yml")")
  [ "$(count_objects onitu-small)" = "$files" ] || echo "WARNING: onitu --parallel 16 copied $(count_objects onitu-small) of $files files" >&2
done
t_onitu=$(med "${r_onitu[*]}"); t_onitu16=$(med "${r_onitu16[*]}"); t_rclone=$(med "${r_rclone[*]}")
runs "onitu ${r_onitu[*]} | onitu --parallel 16 ${r_onitu16[*]} | rclone ${r_rclone[*]}"
row "upload $files x 4 KiB (s) vs rclone copy" "$t_onitu" "$t_rclone" "$(rat "$t_onitu" "$t_rclone")" "<= 1.0"
row "  same, onitu --parallel 16" "$t_onitu16" "$t_rclone" "$(rat "$t_onitu16" "$t_rclone")" "(report)"
