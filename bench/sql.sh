#!/usr/bin/env bash
# Benchmarks `portrel sql` against `portrel who` at 1,000 processes × 23 socket
# fds (`portrel lab crowd`), and the alternative of loading every table into
# SQLite first (`portrel snapshot` to tmpfs), then writes bench/RESULTS-sql.md.
# Runs are interleaved (one of each command per round) so that load from other
# work on the machine hits every command alike. Run as root:
#   bench/sql.sh [--runs N] [--portrel PATH] [--procs N] [--per-proc M]
# Without --portrel it builds a Release binary in build-bench-sql/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
runs=9 portrel="" procs=1000 per=23
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --portrel) portrel=$2; shift 2 ;;
    --procs) procs=$2; shift 2 ;;
    --per-proc) per=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--portrel PATH] [--procs N] [--per-proc M]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/sql.sh: run as root" >&2; exit 2; }
[ "$runs" -ge 7 ] || { echo "bench/sql.sh: --runs must be at least 7" >&2; exit 2; }
if [ -z "$portrel" ]; then
  cmake -S "$src" -B "$src/build-bench-sql" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DPORTREL_TESTS=OFF -DPORTREL_WERROR=OFF >/dev/null
  ninja -C "$src/build-bench-sql" portrel_cli >/dev/null
  portrel=$src/build-bench-sql/portrel
fi
tmp=$(mktemp -d /dev/shm/portrel-sql-bench.XXXXXX)
lab=""
cleanup() {
  if [ -n "$lab" ]; then kill -TERM "$lab" 2>/dev/null || true; wait "$lab" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 1048576 2>/dev/null || true

# The crowd picks its members' ports itself; a TIME_WAIT left on one of them by
# an earlier crowd makes it fail, so it gets a few attempts.
for attempt in 1 2 3 4 5 6; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "bench: starting $procs processes x $per sockets (port $port)" >&2
  : >"$tmp/lab.out"
  "$portrel" lab crowd --procs "$procs" --per-proc "$per" --port "$port" --for 3600 \
      >"$tmp/lab.out" 2>"$tmp/lab.err" &
  lab=$!
  until [ -s "$tmp/lab.out" ] || ! kill -0 "$lab" 2>/dev/null; do sleep 0.5; done
  [ -s "$tmp/lab.out" ] && break
  cat "$tmp/lab.err" >&2
  wait "$lab" 2>/dev/null || true
  lab=""
  [ "$attempt" = 6 ] && exit 1
done

query="SELECT pid, comm, fd, cloexec, proto, local_address FROM process JOIN holding USING(pid) JOIN socket USING(inode) WHERE local_port = $port"
# The two answers must be the same rows before their times mean anything.
who_rows=$("$portrel" who "$port" --format json | python3 -c \
  'import json,sys; print(sum(len(s["holders"]) for s in json.load(sys.stdin)["sockets"]))')
sql_rows=$("$portrel" sql "$query" --format csv | tail -n +2 | wc -l)
[ "$who_rows" = "$sql_rows" ] || { echo "bench: who has $who_rows holders, sql $sql_rows rows" >&2; exit 1; }
"$portrel" snapshot "$tmp/saved.db" 2>/dev/null

echo "bench: timing ($runs interleaved runs each)" >&2
python3 - "$runs" "$tmp/results.json" \
  "who P" "$portrel who $port" \
  "sql: process JOIN holding JOIN socket WHERE local_port = P" "$portrel sql '$query'" \
  "sql: SELECT count(*) FROM process (socket dump skipped)" "$portrel sql 'SELECT count(*) FROM process'" \
  "sql: SELECT count(*) FROM port (every socket, every holder)" "$portrel sql 'SELECT count(*) FROM port'" \
  "load everything: portrel snapshot to tmpfs" "$portrel snapshot $tmp/load.db" \
  "sql --db saved snapshot, same join" "$portrel sql --db $tmp/saved.db '$query'" <<'PY'
import json, os, shlex, statistics, subprocess, sys, time
runs, out = int(sys.argv[1]), sys.argv[2]
specs = list(zip(sys.argv[3::2], sys.argv[4::2]))
def once(cmd):
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(shlex.split(cmd), stdout=null, stderr=null)
        _, status, usage = os.wait4(p.pid, 0)
    return (time.perf_counter() - start) * 1000, (usage.ru_utime + usage.ru_stime) * 1000, \
        os.waitstatus_to_exitcode(status)
for _, cmd in specs: once(cmd)  # warm caches
walls = {n: [] for n, _ in specs}; cpus = {n: [] for n, _ in specs}; codes = {n: set() for n, _ in specs}
for _ in range(runs):
    for name, cmd in specs:
        w, c, code = once(cmd)
        walls[name].append(w); cpus[name].append(c); codes[name].add(code)
rows = [{"name": n, "command": c, "wall_ms": statistics.median(walls[n]),
         "cpu_ms": statistics.median(cpus[n]), "exit_codes": sorted(codes[n])} for n, c in specs]
json.dump(rows, open(out, "w"))
for r in rows: print(json.dumps(r), file=sys.stderr)
PY

machine="$(uname -sr), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, $("$portrel" --version)"
python3 - "$tmp/results.json" "$here/RESULTS-sql.md" "$machine" "$procs" "$per" "$runs" "$who_rows" <<'PY'
import json, sys, time
rows = json.load(open(sys.argv[1]))
out, machine, procs, per, runs, holders = sys.argv[2:8]
by = {r["name"]: r for r in rows}
who = by["who P"]["wall_ms"]
lines = [
    "# portrel sql: benchmark",
    "",
    f"Written by `bench/sql.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    f"Machine: {machine}.",
    f"Load: `portrel lab crowd --procs {procs} --per-proc {per}`; P is the crowd's port, "
    f"whose one listener is held by {holders} processes (both commands print all of them).",
    f"Median of {runs} interleaved runs (wall time; CPU is user+system of the child).",
    "",
    "| command | wall ms | CPU ms | × who |",
    "|---|---:|---:|---:|",
]
for r in rows:
    lines.append(f"| {r['name']} | {r['wall_ms']:.1f} | {r['cpu_ms']:.1f} | {r['wall_ms'] / who:.2f} |")
lines += [
    "",
    "`sql` reads the live host through virtual tables: nothing is copied into SQLite,",
    "and `local_port = P`, `inode = …` and `pid = …` are index lookups (xBestIndex), so",
    "the join touches only the rows of P. \"load everything\" is the alternative",
    "design, every table inserted into SQLite before the query (measured as `portrel",
    "snapshot` writing to tmpfs with journaling off, the same inserts an in-memory",
    "load would do); its cost over `who` is what every query would pay.",
    "",
]
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
PY
echo "bench: wrote $here/RESULTS-sql.md" >&2
