#!/usr/bin/env python3
"""What `portrel record` costs: its CPU time over a window on an idle host and
under churn, and how fast its history file grows at that churn, extrapolated
to a day. Churn: one Python process opens RATE listeners a second on 127.88.0.1,
each closed 2 s after it opened (so about 2 × RATE are open at a time and every
listener is seen by at least one 1 s tick); with --forks, each listener is
held by a child forked for it instead (so each also brings a process, and
process events wake the recorder). The recorder's CPU is read from
/proc/PID/stat (utime + stime) at the window's start and end, after a warm-up;
`portrel watch` runs beside it as the control (it reads as often and writes
nothing: the host's own churn wakes both); the growth is the file's pages in use (page_count × page_size, read with
`portrel sql --db`) at the window's end minus at its start. Run as root:

    nice -n 10 python3 bench/record.py PATH/TO/portrel [--seconds 30] [--rate 100] [--forks]
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

CHURN = """import os, socket, sys, time
rate, seconds, forks = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
open_, port, start, n, kids = [], 40000, time.time(), 0, []
while time.time() - start < seconds:
    due = start + n / rate
    now = time.time()
    if due > now:
        time.sleep(due - now)
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.88.0.1", port)); s.listen()
    except OSError:  # taken by someone else: the next port
        s.close(); port = 40000 + (port - 40000 + 1) % 2000; continue
    port = 40000 + (port - 40000 + 1) % 2000
    if forks:
        pid = os.fork()
        if pid == 0:
            time.sleep(2); os._exit(0)
        s.close(); kids.append(pid)
        while kids and os.waitpid(kids[0], os.WNOHANG)[0]:
            kids.pop(0)
    else:
        open_.append((time.time() + 2, s))
        while open_ and open_[0][0] <= time.time():
            open_.pop(0)[1].close()
    n += 1
print(n, flush=True)
for pid in kids:
    os.waitpid(pid, 0)
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def used_bytes(portrel, db):
    out = subprocess.run([portrel, "sql", "--db", db, "--format", "csv",
                          "SELECT page_count * page_size - freelist_count * page_size "
                          "FROM pragma_page_count, pragma_page_size, pragma_freelist_count"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[1])


def rows(portrel, db):
    out = subprocess.run([portrel, "sql", "--db", db, "--format", "csv",
                          "SELECT (SELECT count(*) FROM process_history), "
                          "(SELECT count(*) FROM socket_history), "
                          "(SELECT count(*) FROM holding_history)"],
                         capture_output=True, text=True, check=True).stdout
    return [int(x) for x in out.splitlines()[1].split(",")]


def window(portrel, seconds, rate, forks, warmup=3.0):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "history.db")
        rec = subprocess.Popen([portrel, "record", "--db", db], stderr=subprocess.DEVNULL)
        # The control: watch reads as often, in the same window, and writes nothing.
        watch = subprocess.Popen([portrel, "watch", "--format", "json"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(warmup)
        start_cpu, start_bytes, start_rows = cpu_seconds(rec.pid), used_bytes(portrel, db), \
            rows(portrel, db)
        start_watch = cpu_seconds(watch.pid)
        t0 = time.time()
        opened = 0
        if rate > 0:
            churn = subprocess.run([sys.executable, "-c", CHURN, str(rate), str(seconds),
                                    "1" if forks else "0"], capture_output=True, text=True)
            opened = int(churn.stdout.strip() or 0)
        else:
            time.sleep(seconds)
        time.sleep(max(0.0, seconds - (time.time() - t0)))
        time.sleep(1.5)  # the last batch
        elapsed = time.time() - t0
        end_cpu, end_bytes, end_rows = cpu_seconds(rec.pid), used_bytes(portrel, db), \
            rows(portrel, db)
        watch_cpu = cpu_seconds(watch.pid) - start_watch
        for p in (rec, watch):
            p.send_signal(signal.SIGTERM)
            p.wait()
        file_bytes = os.path.getsize(db)
    growth = end_bytes - start_bytes
    return {
        "cpu": end_cpu - start_cpu,
        "watch_cpu": watch_cpu,
        "elapsed": elapsed,
        "opened": opened,
        "growth": growth,
        "per_day_mb": growth / elapsed * 86400 / 2**20,
        "rows": [e - s for e, s in zip(end_rows, start_rows)],
        "file_bytes": file_bytes,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("portrel")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--forks", action="store_true")
    a = ap.parse_args()
    for name, rate in (("idle", 0), ("churn", a.rate)):
        r = window(a.portrel, a.seconds, rate, a.forks)
        print(f"{name}: {r['elapsed']:.1f} s, recorder CPU {r['cpu']:.2f} s "
              f"({100 * r['cpu'] / r['elapsed']:.1f} %; watch beside it {r['watch_cpu']:.2f} s), "
              f"listeners opened {r['opened']}, "
              f"rows (process, socket, holding) +{r['rows']}, "
              f"pages in use +{r['growth'] / 1024:.0f} KiB = {r['per_day_mb']:.1f} MiB/day, "
              f"file at stop {r['file_bytes'] / 1024:.0f} KiB", flush=True)


if __name__ == "__main__":
    main()
