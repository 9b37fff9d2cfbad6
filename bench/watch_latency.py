#!/usr/bin/env python3
"""How long `portrel watch` takes to print a new listener: starts `watch
--format json`, then N short-lived Python servers one after another, each on its
own loopback port; each prints the time right after listen(), and the latency is
the time of watch's port-opened line minus that. With `running`, each server
waits 1 s after its start before it listens: past the reads its exec brought,
so only the kernel's socket events (or the tick) show it. Run as root:

    python3 bench/watch_latency.py PATH/TO/portrel [N] [running]
"""
import datetime
import json
import subprocess
import sys
import time

SERVER = """import socket, sys, time
time.sleep({delay})
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", {port}))
s.listen()
print(time.time(), flush=True)
time.sleep(0.6)
"""


def main():
    portrel = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    delay = 1.0 if len(sys.argv) > 3 and sys.argv[3] == "running" else 0
    # Running servers: a tick far away, so that only the events bring reads.
    interval = ["--interval", "30"] if delay else []
    watch = subprocess.Popen([portrel, "watch", "--format", "json", "--no-initial"] + interval,
                             stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    latencies = []
    try:
        for i in range(runs):
            port = 18600 + i
            server = subprocess.Popen(
                [sys.executable, "-c", SERVER.format(port=port, delay=delay)],
                stdout=subprocess.PIPE, text=True)
            listened = float(server.stdout.readline())
            while True:
                event = json.loads(watch.stdout.readline())
                if event["event"] == "port-opened" and event["port"] == port:
                    seen = datetime.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    seen = seen.replace(tzinfo=datetime.timezone.utc).timestamp()
                    latencies.append(seen - listened)
                    break
            server.wait()
            time.sleep(0.7)
    finally:
        watch.terminate()
        watch.wait()
    latencies.sort()
    ms = [round(x * 1000) for x in latencies]
    print(f"{len(ms)} listeners: median {ms[len(ms) // 2]} ms, "
          f"p90 {ms[int(len(ms) * 0.9)]} ms, max {ms[-1]} ms")


if __name__ == "__main__":
    main()
