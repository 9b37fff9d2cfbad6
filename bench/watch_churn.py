#!/usr/bin/env python3
"""`portrel watch` under churn, against a poll of `ss -tulpn` every second doing
the same job. In a network namespace of its own, one running process opens
RATE TCP listeners a second for SECONDS seconds, each living LIFE ms, on ports
from 20000 on, and logs the time of each listen(). Measured, for watch (socket
events and process events, `--interval 1`) and for the ss loop, each in a run
of its own:

- CPU seconds (user + system of the watcher and everything it ran);
- listeners seen: watch's port-opened lines; for ss, ports in any poll;
- for watch, the latency from listen() to the printed line (median, p99);
- duplicates: a port printed opened more than once.

Run as root:

    python3 bench/watch_churn.py PATH/TO/portrel [RATE] [SECONDS] [LIFE_MS]
"""
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CHURN = """import os, socket, sys, time
rate, seconds, life = {rate}, {seconds}, {life}
out = open(sys.argv[1], "w")
time.sleep(1.0)
live, start, n = [], time.time(), int(rate * seconds)
for i in range(n):
    while time.time() < start + i / rate:
        time.sleep(0.0005)
    s = socket.socket(); s.bind(("127.0.0.1", 20000 + i % 40000)); s.listen()
    out.write("%d %.6f\\n" % (20000 + i % 40000, time.time()))
    live.append((time.time() + life, s))
    while live and live[0][0] <= time.time():
        live.pop(0)[1].close()
while live:
    time.sleep(max(0, live[0][0] - time.time())); live.pop(0)[1].close()
out.close()
"""


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_churn(ns, rate, seconds, life, log):
    code = CHURN.format(rate=rate, seconds=seconds, life=life / 1000)
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code, log])


def listens(log):
    out = {}
    for line in open(log):
        port, t = line.split()
        out.setdefault(int(port), float(t))
    return out


def watch_run(portrel, ns, rate, seconds, life):
    # watch writes into a file: a pipe read only at the end would fill and
    # block it.
    with tempfile.NamedTemporaryFile("r") as log, tempfile.TemporaryFile("w+") as lines:
        before = children_cpu()
        watch = subprocess.Popen([portrel, "watch", "--format", "json", "--no-initial",
                                  "--netns", ns], stdout=lines, text=True)
        time.sleep(1.0)
        churn = run_churn(ns, rate, seconds, life, log.name)
        churn.wait()
        time.sleep(1.5)
        watch.terminate()
        watch.wait()
        lines.seek(0)
        out = lines.read()
        cpu = children_cpu() - before  # includes the churn process: subtracted below
        opened, twice = {}, 0
        for line in out.splitlines():
            e = json.loads(line)
            if e["event"] != "port-opened":
                continue
            t = datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
            twice += e["port"] in opened
            opened.setdefault(e["port"], t)
        made = listens(log.name)
    lat = sorted((opened[p] - made[p]) * 1000 for p in made if p in opened)
    return cpu, len(made), sum(p in opened for p in made), twice, lat


def ss_run(ns, rate, seconds, life):
    with tempfile.NamedTemporaryFile("r") as log:
        churn = run_churn(ns, rate, seconds, life, log.name)
        before = children_cpu()
        seen = set()
        while churn.poll() is None:
            started = time.time()
            out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tulpnH"],
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                port = line.split()[4].rsplit(":", 1)[1]
                seen.add(int(port))
            time.sleep(max(0, 1.0 - (time.time() - started)))
        cpu = children_cpu() - before
        made = listens(log.name)
    return cpu, len(made), sum(p in seen for p in made)


def churn_cpu(ns, rate, seconds, life):
    with tempfile.NamedTemporaryFile("r") as log:
        before = children_cpu()
        run_churn(ns, rate, seconds, life, log.name).wait()
        return children_cpu() - before


def main():
    portrel = sys.argv[1]
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 100
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    life = float(sys.argv[4]) if len(sys.argv) > 4 else 300
    ns = "portrel-bench-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        base = churn_cpu(ns, rate, seconds, life)
        cpu, made, seen, twice, lat = watch_run(portrel, ns, rate, seconds, life)
        ss_cpu, ss_made, ss_seen = ss_run(ns, rate, seconds, life)
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    ms = lambda q: round(lat[min(len(lat) - 1, int(len(lat) * q))]) if lat else None
    print(f"churn: {rate:g} listeners/s for {seconds:g} s, {life:g} ms each "
          f"(the churn alone: {base:.2f} s CPU)")
    print(f"watch: {cpu - base:.2f} s CPU, saw {seen} of {made}, {twice} printed twice, "
          f"latency median {ms(0.5)} ms, p99 {ms(0.99)} ms")
    print(f"ss -tulpn every 1 s: {ss_cpu - base:.2f} s CPU, saw {ss_seen} of {ss_made}")


if __name__ == "__main__":
    main()
