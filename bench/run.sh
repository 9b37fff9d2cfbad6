#!/usr/bin/env bash
# Benchmarks portrel against ss, netstat and lsof on loads made by `portrel lab
# crowd` (1,000 × 23 and 10,000 × 10 socket fds by default) and writes
# bench/RESULTS.md. Run as root from anywhere:
#   bench/run.sh [--runs N] [--portrel PATH] [--loads "1000x23 10000x10"]
# Without --portrel it builds a Release binary in build-bench/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
runs=7 portrel="" loads="1000x23 10000x10"
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --portrel) portrel=$2; shift 2 ;;
    --loads) loads=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--portrel PATH] [--loads \"1000x23 ...\"]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (portrel, ss -p and lsof need it)" >&2; exit 2; }
for tool in ss netstat lsof python3; do
  command -v $tool >/dev/null || { echo "bench/run.sh: $tool missing (scripts/deps.sh)" >&2; exit 2; }
done
if [ -z "$portrel" ]; then
  cmake -S "$src" -B "$src/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DPORTREL_TESTS=OFF -DPORTREL_WERROR=OFF >/dev/null
  ninja -C "$src/build-bench" portrel_cli >/dev/null
  portrel=$src/build-bench/portrel
fi
tmp=$(mktemp -d)
lab=""
# The least any /proc reader must do (bench/procfs_floor.c): the floor under
# `--source procfs`.
cc -O2 -o "$tmp/procfs_floor" "$here/procfs_floor.c"
# portrel keeps its verified bpf programs pinned in bpffs (/sys/fs/bpf/portrel),
# which systemd mounts on a normal host. Where it is missing, mount it for the
# run (and unmount it after), so that runs measure what such a host does; the
# "cold" rows load the programs every time (PORTREL_BPF_PINS=off).
mounted_bpffs=""
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != "bpf_fs" ]; then
  mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf && mounted_bpffs=1
fi
cleanup() {
  if [ -n "$lab" ]; then kill -TERM "$lab" 2>/dev/null || true; wait "$lab" 2>/dev/null || true; fi
  if [ -n "$mounted_bpffs" ]; then umount /sys/fs/bpf || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 1048576 2>/dev/null || true

# A host where the bpf programs cannot load: the kernel's refusal is
# remembered for the boot (bpf-verdict in portrel's state directory), so every
# run after the first reads /proc at once. A verdict of this boot, kernel and
# build that says so, in a state directory of the run's own.
mkdir -m 700 "$tmp/nobpf"
# doctor exits 3 when anything is degraded (a part refused): still its JSON.
{ "$portrel" doctor --format json || [ $? = 3 ]; } | python3 -c '
import json, sys, platform
doc = json.load(sys.stdin)
boot = open("/proc/sys/kernel/random/boot_id").read().strip()
print("portrel-bpf-verdict 1")
print("boot " + boot)
print("kernel " + platform.release() + " " + platform.version())
print("object " + doc["bpf"]["object"])
print("failed load bpf programs: Invalid argument (as a kernel older than 5.11 says)")
' >"$tmp/nobpf/bpf-verdict"
chmod 600 "$tmp/nobpf/bpf-verdict"

results=()
for load in $loads; do
  procs=${load%x*} per=${load#*x}
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "bench: starting $procs processes x $per sockets (port $port)" >&2
  "$portrel" lab crowd --procs "$procs" --per-proc "$per" --port "$port" --for 3600 \
      >"$tmp/lab.out" 2>"$tmp/lab.err" &
  lab=$!
  until [ -s "$tmp/lab.out" ]; do
    kill -0 "$lab" 2>/dev/null || { cat "$tmp/lab.err" >&2; exit 1; }
    sleep 0.5
  done
  # The lab reports ready when its processes hold their sockets; connections
  # may still be completing. Time only once the host's socket count holds still.
  last=-1
  while :; do
    now=$(ss -tuan | wc -l)
    [ "$now" = "$last" ] && break
    last=$now
    sleep 3
  done
  echo "bench: $now sockets on the host" >&2
  fds=$(( (procs + 1) * per ))
  echo "bench: timing ($runs runs each)" >&2
  python3 "$here/measure.py" "$runs" \
    "default=$portrel" \
    "json=$portrel --all --format json" \
    "json cold=env PORTREL_BPF_PINS=off $portrel --all --format json" \
    "who=$portrel who $port" \
    "who cold=env PORTREL_BPF_PINS=off $portrel who $port" \
    "procfs json=$portrel --source procfs --all --format json" \
    "no-bpf json=env PORTREL_STATE=$tmp/nobpf $portrel --all --format json" \
    "procfs floor=$tmp/procfs_floor" \
    "procfs floor, links only=$tmp/procfs_floor links" \
    "ss -tuan=ss -tuan" \
    "ss -tuanp=ss -tuanp" \
    "netstat -tuanp=netstat -tuanp" \
    "lsof=lsof -i -n -P" | tee "$tmp/$load.jsonl" >&2
  results+=("$procs processes × $per socket fds|$fds|$tmp/$load.jsonl")
  kill -TERM "$lab"; wait "$lab" 2>/dev/null || true; lab=""
done
bpffs="bpffs at /sys/fs/bpf: $([ -n "$mounted_bpffs" ] && echo "mounted by this run" || echo "already mounted")"
machine="$(uname -sr), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg), $("$portrel" --version), $bpffs"
python3 "$here/report.py" "$here/RESULTS.md" "$machine" "${results[@]}"
echo "bench: wrote $here/RESULTS.md" >&2
