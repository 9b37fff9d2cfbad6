#!/usr/bin/env python3
"""Times commands as the benchmark needs: each run with stdout and stderr to
/dev/null, wall time and user+system time from wait4(), peak RSS from /usr/bin/time.
Prints one JSON object per command: name, runs, median wall/cpu (ms), max RSS (KiB).
Usage: measure.py RUNS NAME=COMMAND... (COMMAND is split on spaces)."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(argv):
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, stdout=null, stderr=null)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def peak_rss_kib(argv):
    # wait4() of a child forked from python reports python's own pages too;
    # /usr/bin/time (a small C program) reports the command's own peak.
    with tempfile.NamedTemporaryFile("r") as out, open(os.devnull, "wb") as null:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv,
                       stdout=null, stderr=null)
        return int(out.read().strip().splitlines()[-1])


def main():
    runs = int(sys.argv[1])
    for spec in sys.argv[2:]:
        name, command = spec.split("=", 1)
        argv = command.split()
        run_once(argv)  # warm the page cache and the dentry cache
        walls, cpus, codes = [], [], set()
        for _ in range(runs):
            wall, cpu, _, code = run_once(argv)
            walls.append(wall * 1000)
            cpus.append(cpu * 1000)
            codes.add(code)
        rss = [peak_rss_kib(argv)]
        print(json.dumps({"name": name, "command": command, "runs": runs,
                          "wall_ms": statistics.median(walls),
                          "cpu_ms": statistics.median(cpus),
                          "rss_kib": max(rss), "exit_codes": sorted(codes)}), flush=True)


if __name__ == "__main__":
    main()
