#!/usr/bin/env python3
"""Soak test: portrel against a churn of short-lived processes, for minutes.

A churn master holds four listeners on 127.77.0.1 (three TCP, one UDP) and
keeps spawning processes (posix_spawn: fork, then exec) that inherit one of
them as fd 3: half run /bin/sleep (argv[0] `soak-cN`), half a Python child
that also opens a TCP listener and a UDP socket of its own on 127.77.0.1 and
logs their inodes. After reaping a child the master often asks the kernel for
that pid again (/proc/sys/kernel/ns_last_pid), and pid_max is lowered for the
run (restored after), so pids are reused all the time. Meanwhile captures run
back to back, in turn `portrel --format json`, `portrel who PORT --format
json` and `portrel sql` over holding ⋈ process (with start times), and
`portrel watch --format json` runs throughout. It checks:

- misattributions: every holder portrel names for a socket on 127.77.0.1 must
  be the master, or a churn process that existed during that capture (by pid
  and start time for `sql`, by pid and the `soak-cN` token in its command line
  for the JSON views; an empty command line is a process exiting or inside
  execve) and held that inode: its inherited listener or its own sockets, or,
  until its exec is over, any of the master's (posix_spawn returns before
  execve closes the close-on-exec fds; a Python child's first log line proves
  it is over, sleep gives no sign); every such socket must be one the churn
  made, and no socket or (pid, fd) may be listed twice;
- captures never fail: exit 0, or 1 (nothing matches); no timeout, valid JSON;
- no leak in `watch`: VmRSS every 10 s, and its open fds (the least of five
  counts 50 ms apart: a read opens some for a moment) the same after the
  first minute.

It prints a summary, writes the figures as JSON (--out) and exits 1 when a
check failed. Run as root (pid reuse and the fd tables of every process):

    python3 bench/soak.py PATH/TO/portrel [--seconds 600] [--out FILE]
"""
import argparse
import collections
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ADDR = "127.77.0.1"
TOKEN = re.compile(r"\bsoak-c(\d+)\b")
CHILD = """import os, socket, sys, time
t = socket.socket(); t.bind(("127.77.0.1", 0)); t.listen(4)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.77.0.1", 0))
stat = open("/proc/self/stat").read()
start = stat[stat.rindex(")") + 2:].split()[19]
os.write(4, ("own %s %d %s %d %d %f\\n" % (sys.argv[1], os.getpid(), start,
             os.fstat(t.fileno()).st_ino, os.fstat(u.fileno()).st_ino,
             time.monotonic())).encode())
time.sleep(float(sys.argv[2]))
"""
SQL = ("SELECT s.inode, s.proto, s.local_port, h.pid, p.start_time, p.ppid, p.cmdline "
       "FROM socket s LEFT JOIN holding h ON h.inode = s.inode "
       "LEFT JOIN process p ON p.pid = h.pid WHERE s.local_address = '" + ADDR + "'")


def start_time(pid):
    """Field 22 of /proc/PID/stat: clock ticks after boot."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2:].split()[19])


# --- the churn master (runs as its own process: `soak.py --churn-master LOG`) ---

def churn_master(log_path, seconds, concurrency):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    listeners = [socket.socket() for _ in range(3)]
    listeners.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    for s in listeners:
        s.bind((ADDR, 0))
        if s.type == socket.SOCK_STREAM:
            s.listen(16)
    # High fds, so that dup2 to 3 and 4 in the child never maps an fd to itself
    # (which would keep its close-on-exec flag).
    fds = [os.dup2(s.fileno(), 100 + i, inheritable=False) for i, s in enumerate(listeners)]
    logfd = os.dup2(log, 110, inheritable=False)
    inodes = [os.fstat(fd).st_ino for fd in fds]
    protos = ["tcp" if s.type == socket.SOCK_STREAM else "udp" for s in listeners]
    os.write(log, ("master %d %d %s\n" % (os.getpid(), start_time(os.getpid()), " ".join(
        f"{p}:{s.getsockname()[1]}:{i}" for p, s, i in zip(protos, listeners, inodes)))).encode())
    try:
        ns_last_pid = os.open("/proc/sys/kernel/ns_last_pid", os.O_WRONLY)
    except OSError:
        ns_last_pid = -1
    rng = random.Random(os.getpid())
    alive = {}
    n = 0
    deadline = time.monotonic() + seconds
    while not stop and time.monotonic() < deadline:
        while len(alive) < concurrency and not stop:
            n += 1
            token = f"soak-c{n}"
            j = rng.randrange(len(fds))
            actions = [(os.POSIX_SPAWN_DUP2, fds[j], 3), (os.POSIX_SPAWN_DUP2, logfd, 4)]
            life = "%.3f" % rng.uniform(0.02, 0.4)
            python = rng.random() < 0.5
            if python:
                path, argv = sys.executable, [sys.executable, "-I", "-S", "-c", CHILD, token, life]
            else:
                path, argv = "/bin/sleep", [token, life]
            forked = time.monotonic()
            pid = os.posix_spawn(path, argv, {}, file_actions=actions)
            # posix_spawn returns once the child has left the master's memory,
            # inside execve, a moment before its close-on-exec fds are closed.
            execd = time.monotonic()
            start = start_time(pid)  # not reaped yet: the pid is still this child's
            alive[pid] = token
            os.write(log, ("spawn %s %d %d %s %d %f %f\n" % (
                token, pid, start, "python" if python else "sleep", inodes[j],
                forked, execd)).encode())
        try:
            pid, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        reaped = time.monotonic()
        os.write(log, ("reap %s %d %f %d\n" % (alive.pop(pid), pid, reaped,
                                               os.waitstatus_to_exitcode(status))).encode())
        if ns_last_pid >= 0 and rng.random() < 0.5:
            try:
                os.pwrite(ns_last_pid, str(pid - 1).encode(), 0)
            except OSError:
                pass  # another process may race for the pid: reuse is best effort
    while alive:
        pid, status = os.waitpid(-1, 0)
        os.write(log, ("reap %s %d %f %d\n" % (alive.pop(pid), pid, time.monotonic(),
                                               os.waitstatus_to_exitcode(status))).encode())


# --- what the churn really did ---

class Truth:
    def __init__(self, log_path):
        self.instances = {}  # token -> dict
        self.by_pid = collections.defaultdict(list)
        self.master = None
        owns = []  # a child may log before the master logs its spawn
        with open(log_path) as f:
            for line in f:
                w = line.split()
                if w[0] == "master":
                    ports = [x.split(":") for x in w[3:]]
                    self.master = {"pid": int(w[1]), "start": int(w[2]),
                                   "listeners": {int(i): (p, int(port)) for p, port, i in ports}}
                elif w[0] == "spawn":
                    i = {"token": w[1], "pid": int(w[2]), "start": int(w[3]), "kind": w[4],
                         "inherited": int(w[5]), "forked": float(w[6]), "execd": float(w[7]),
                         "reaped": float("inf"), "own": set(), "running": None}
                    self.instances[w[1]] = i
                    self.by_pid[i["pid"]].append(i)
                elif w[0] == "reap":
                    self.instances[w[1]]["reaped"] = float(w[3])
                    self.instances[w[1]]["status"] = int(w[4])
                elif w[0] == "own":
                    owns.append(w)
        for w in owns:
            i = self.instances[w[1]]
            if (i["pid"], i["start"]) != (int(w[2]), int(w[3])):
                raise SystemExit(f"soak: the log disagrees with itself: {' '.join(w)}")
            i["own"] |= {int(w[4]), int(w[5])}
            i["running"] = float(w[6])
        self.master_inodes = set(self.master["listeners"])
        self.inodes = set(self.master_inodes)
        for i in self.instances.values():
            self.inodes |= i["own"]
            # Until when it may still hold every fd of the master: the Python
            # child's first line proves its exec is over; sleep gives no sign.
            i["exec_over"] = i["running"] if i["running"] is not None else i["reaped"]

    def check(self, cap, pid, start, ppid, cmdline, inode):
        """None when PID could hold INODE during the capture, else why not."""
        if pid == self.master["pid"]:
            if start is not None and start != self.master["start"]:
                return "the master's pid, another process (start time)"
            return None if inode in self.master_inodes else "the master never held it"
        if ppid is not None and ppid != self.master["pid"]:
            return f"not a churn process (ppid {ppid})"
        live = [i for i in self.by_pid.get(pid, ())
                if i["forked"] <= cap["t1"] and i["reaped"] >= cap["t0"]]
        if not live:
            return "no churn process had this pid during the capture"
        token = TOKEN.search(cmdline or "")
        if start is not None:
            live = [i for i in live if i["start"] == start]
        elif token:
            live = [i for i in live if i["token"] == token.group(0)]
        elif cmdline:
            # Forked, not yet exec'd: the command line is still the master's.
            live = [i for i in live if i["exec_over"] >= cap["t0"]]
        # An empty command line is a process exiting (its memory is gone, its
        # fds not yet) or inside execve (its new memory has no arguments yet):
        # any churn process with the pid during the capture.
        if not live:
            return "no churn process with this pid and identity during the capture"
        for i in live:
            held = {i["inherited"]} | i["own"]
            if i["exec_over"] >= cap["t0"]:
                held |= self.master_inodes  # until its exec is over: every fd of the master
            if inode in held:
                return None
        return "held by another process of the churn, never by this one"


# --- captures ---

def capture(portrel, kind, port):
    if kind == "all":
        argv = [portrel, "--format", "json"]
    elif kind == "who":
        argv = [portrel, "who", str(port), "--format", "json"]
    else:
        argv = [portrel, "sql", SQL, "--format", "json"]
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "t0": t0, "t1": time.monotonic(), "rc": "timeout", "rows": [],
                "error": "timed out after 60 s"}
    cap = {"kind": kind, "t0": t0, "t1": time.monotonic(), "rc": p.returncode, "rows": [],
           "error": None, "warnings": [], "duplicates": 0}
    if p.returncode not in (0, 1):
        cap["error"] = p.stderr.strip().splitlines()[-1:] or [f"exit {p.returncode}"]
        return cap
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        cap["error"] = f"invalid JSON: {e}"
        return cap
    cap["warnings"] = doc.get("warnings", [])
    if kind == "sql":
        for r in doc["rows"]:
            cap["rows"].append((r["pid"], r["start_time"], r["ppid"], r["cmdline"], r["inode"]))
        return cap
    inodes, fds = set(), set()
    for s in doc["sockets"]:
        if s["inode"] and s["inode"] in inodes:
            cap["duplicates"] += 1
        inodes.add(s["inode"])
        for h in s["holders"]:
            if (h["pid"], h["fd"]) in fds:
                cap["duplicates"] += 1
            fds.add((h["pid"], h["fd"]))
        if s["local_address"] != ADDR:
            continue
        if not s["holders"]:
            cap["rows"].append((None, None, None, None, s["inode"]))
        for h in s["holders"]:
            cap["rows"].append((h["pid"], None, h["ppid"], h["cmdline"], s["inode"]))
    return cap


class Watch:
    """`portrel watch --format json` in the background: its events and its size."""

    def __init__(self, portrel, tmp, every):
        self.every = every
        self.stderr = open(os.path.join(tmp, "watch.err"), "w+")
        self.proc = subprocess.Popen([portrel, "watch", "--format", "json"],
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.events = collections.Counter()
        self.churn_events = []  # (monotonic time, inode, [pids])
        self.bad_lines = 0
        self.samples = []  # (seconds since start, VmRSS KiB, open fds)
        self.offset = time.time() - time.monotonic()
        self.stop = threading.Event()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.sampler = threading.Thread(target=self.sample, daemon=True)
        self.reader.start()
        self.sampler.start()

    def read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            self.events[e.get("event", "?")] += 1
            if e.get("local_addr") == ADDR:
                wall = datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                self.churn_events.append((wall - self.offset, e.get("inode"),
                                          [h["pid"] for h in e.get("holders", [])]))

    def sample(self):
        # A read opens fds of its own for a moment (netlink, bpf iterators): the
        # fd count is read five times 50 ms apart; the least is the resting count.
        began = time.monotonic()
        while not self.stop.wait(self.every):
            try:
                with open(f"/proc/{self.proc.pid}/status") as f:
                    rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
                fds = []
                for _ in range(5):
                    fds.append(len(os.listdir(f"/proc/{self.proc.pid}/fd")))
                    time.sleep(0.05)
            except (OSError, StopIteration):
                return  # it exited: reported by the caller
            self.samples.append((round(time.monotonic() - began, 1), rss, min(fds), max(fds)))

    def end(self):
        self.stop.set()
        alive = self.proc.poll() is None
        if alive:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.reader.join(timeout=10)
        self.stderr.seek(0)
        return alive, code, self.stderr.read().splitlines()


def set_pid_max(value):
    try:
        with open("/proc/sys/kernel/pid_max", "w") as f:
            f.write(str(value))
        return True
    except OSError:
        return False


def summarize(samples, column):
    values = [s[column] for s in samples]
    return {"first": values[0], "min": min(values), "max": max(values), "last": values[-1],
            "samples": len(values)} if values else {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("portrel")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--out", help="write the figures to this JSON file")
    ap.add_argument("--concurrency", type=int, default=12, help="churn processes alive at once")
    ap.add_argument("--pid-max", type=int, default=8192,
                    help="lower kernel.pid_max to this for the run (0: leave it)")
    ap.add_argument("--pause", type=float, default=0.1, help="seconds between captures")
    ap.add_argument("--log", help="keep the churn's log (what each process held) in this file")
    ap.add_argument("--sample-every", type=float, default=10,
                    help="seconds between samples of watch's RSS and fds")
    ap.add_argument("--churn-master", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.churn_master:
        return churn_master(args.churn_master, args.seconds, args.concurrency)
    if os.geteuid() != 0:
        sys.exit("soak: run as root (pid reuse, every process's fd table)")
    portrel = os.path.abspath(args.portrel)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmp = tempfile.mkdtemp(prefix="portrel-soak.")
    log_path = os.path.join(tmp, "churn.log")
    open(log_path, "w").close()
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    lowered = 0 < args.pid_max < pid_max and set_pid_max(args.pid_max)
    watch = master = None
    captures = []
    try:
        watch = Watch(portrel, tmp, args.sample_every)
        master = subprocess.Popen([sys.executable, os.path.abspath(__file__), portrel,
                                   "--churn-master", log_path, "--seconds", str(args.seconds + 30),
                                   "--concurrency", str(args.concurrency)])
        ports = []
        while not ports:
            time.sleep(0.2)
            with open(log_path) as f:
                first = f.readline().split()
            if first and first[0] == "master":
                ports = [int(x.split(":")[1]) for x in first[3:]]
            if master.poll() is not None:
                sys.exit("soak: the churn master exited at once")
        print(f"soak: churn on {ADDR} ports {ports}, {args.seconds:.0f} s", file=sys.stderr)
        deadline = time.monotonic() + args.seconds
        kinds = ["all", "who", "sql"]
        while time.monotonic() < deadline:
            n = len(captures)
            captures.append(capture(portrel, kinds[n % 3], ports[(n // 3) % len(ports)]))
            time.sleep(args.pause)
    finally:
        if master and master.poll() is None:
            master.terminate()
        if master:
            master.wait()
        watch_result = watch.end() if watch else (False, None, [])
        if lowered:
            set_pid_max(pid_max)

    truth = Truth(log_path)
    report = verify(truth, captures, watch, watch_result, args, pid_max if lowered else None)
    if args.log:
        shutil.copy(log_path, args.log)
    shutil.rmtree(tmp)
    print_summary(report)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0 if report["passed"] else 1


def verify(truth, captures, watch, watch_result, args, lowered_from):
    mis, unknown, examples = 0, 0, []
    checked = 0
    seen = set()  # (pid, start, inode), as the race test counts them
    for cap in captures:
        for pid, start, ppid, cmdline, inode in cap["rows"]:
            if inode not in truth.inodes:
                unknown += 1
                if len(examples) < 20:
                    examples.append({"capture": cap["kind"], "inode": inode, "pid": pid,
                                     "why": "a socket on the churn's address the churn never made"})
            if pid is None:
                continue
            checked += 1
            why = truth.check(cap, pid, start, ppid, cmdline, inode)
            if why:
                mis += 1
                if len(examples) < 20:
                    token = TOKEN.search(cmdline or "")
                    examples.append({
                        "capture": cap["kind"], "t0": cap["t0"], "t1": cap["t1"], "pid": pid,
                        "start_time": start, "ppid": ppid,
                        "token": token.group(0) if token else None,
                        "cmdline": (cmdline or "")[:40], "inode": inode, "why": why,
                        "pid_was": [{k: (None if v == float("inf") else v)
                                     for k, v in i.items() if k != "own"} | {
                            "own": sorted(i["own"])} for i in truth.by_pid.get(pid, ())
                            if i["forked"] - 5 <= cap["t1"] and i["reaped"] + 5 >= cap["t0"]]})
            elif start is not None:
                seen.add((pid, start, inode))
    seen_inodes = {row[4] for cap in captures for row in cap["rows"]}
    own = set().union(*(i["own"] for i in truth.instances.values()))
    # watch: every holder of a churn socket is the master or a churn pid alive then.
    watch_bad = 0
    for t, inode, pids in watch.churn_events:
        for pid in pids:
            if pid == truth.master["pid"]:
                continue
            if not any(i["forked"] - 0.5 <= t <= i["reaped"] + 0.5
                       for i in truth.by_pid.get(pid, ())):
                watch_bad += 1
        if inode and inode not in truth.inodes:
            watch_bad += 1
    failed = [c for c in captures if c["rc"] not in (0, 1) or c["error"]]
    codes = collections.Counter(str(c["rc"]) for c in captures)
    warnings = collections.Counter(re.sub(r"\d+", "N", w) for c in captures
                                   for w in c.get("warnings", []))
    starts = collections.defaultdict(set)
    for i in truth.instances.values():
        starts[i["pid"]].add(i["start"])
    alive, code, watch_err = watch_result
    rss = summarize(watch.samples, 1)
    fds = summarize(watch.samples, 2)
    fds_peak = summarize(watch.samples, 3)
    # Steady: after the first minute, the last RSS sample is within 10 % (at
    # least 2 MiB) of the smallest, and the resting fd count never grew.
    later = [s for s in watch.samples if s[0] >= 60] or watch.samples
    rss_steady = bool(later) and later[-1][1] - min(s[1] for s in later) <= max(
        2048, 0.1 * min(s[1] for s in later))
    fd_steady = bool(later) and fds["max"] == fds["min"]
    durations = sorted(c["t1"] - c["t0"] for c in captures)
    report = {
        "seconds": args.seconds,
        "pid_max": {"lowered_to": args.pid_max, "restored_to": lowered_from}
        if lowered_from else None,
        "churn": {
            "processes": len(truth.instances),
            "python": sum(i["kind"] == "python" for i in truth.instances.values()),
            "sleep": sum(i["kind"] == "sleep" for i in truth.instances.values()),
            "pids": len(starts),
            "pid_reuses": sum(len(s) - 1 for s in starts.values()),
            "sockets": len(truth.inodes),
            "own_sockets": len(own),
            "failed_children": sum(i.get("status", 0) != 0 for i in truth.instances.values()),
        },
        "captures": {
            "total": len(captures),
            "by_kind": dict(collections.Counter(c["kind"] for c in captures)),
            "exit_codes": dict(codes),
            "failed": len(failed),
            "failures": [{"kind": c["kind"], "rc": c["rc"], "error": c["error"]}
                         for c in failed[:10]],
            "duplicate_rows": sum(c.get("duplicates", 0) for c in captures),
            "median_ms": round(1000 * durations[len(durations) // 2]) if durations else None,
            "max_ms": round(1000 * durations[-1]) if durations else None,
            "warnings": dict(warnings.most_common(10)),
        },
        "holdings_checked": checked,
        "distinct_pid_start_inode_seen": len(seen),
        "churn_sockets_seen": len(own & seen_inodes),
        "misattributions": mis,
        "unknown_sockets": unknown,
        "examples": examples,
        "watch": {
            "running_at_end": alive,
            "exit_code": code,
            "events": dict(watch.events),
            "churn_events": len(watch.churn_events),
            "churn_events_wrong_holder": watch_bad,
            "churn_sockets_seen": len(own & {e[1] for e in watch.churn_events}),
            "bad_lines": watch.bad_lines,
            "stderr": watch_err[:10],
            "rss_kib": rss,
            "fds": fds,
            "fds_during_reads": fds_peak,
            "rss_steady": rss_steady,
            "fds_steady": fd_steady,
            "samples": watch.samples,
        },
    }
    report["passed"] = (mis == 0 and unknown == 0 and not failed and alive and rss_steady
                        and fd_steady and watch_bad == 0 and checked > 0
                        and report["captures"]["duplicate_rows"] == 0)
    return report


def print_summary(r):
    c, w = r["churn"], r["watch"]
    print(f"soak: {r['seconds']:.0f} s, {c['processes']} churn processes "
          f"({c['python']} python, {c['sleep']} sleep), {c['pid_reuses']} pid reuses, "
          f"{c['sockets']} sockets")
    cap = r["captures"]
    print(f"captures: {cap['total']} {cap['by_kind']}, exit codes {cap['exit_codes']}, "
          f"{cap['failed']} failed, median {cap['median_ms']} ms, max {cap['max_ms']} ms")
    print(f"holdings checked: {r['holdings_checked']} "
          f"({r['distinct_pid_start_inode_seen']} distinct (pid, start, inode) by sql); "
          f"misattributions {r['misattributions']}, unknown sockets {r['unknown_sockets']}, "
          f"duplicate rows {cap['duplicate_rows']}")
    print(f"captures saw {r['churn_sockets_seen']} of the children's {c['own_sockets']} sockets, "
          f"watch {w['churn_sockets_seen']}")
    print(f"watch: {sum(w['events'].values())} events ({w['churn_events']} on the churn, "
          f"{w['churn_events_wrong_holder']} wrong), running at end: {w['running_at_end']}")
    if w["rss_kib"]:
        print(f"watch VmRSS KiB first {w['rss_kib']['first']} max {w['rss_kib']['max']} "
              f"last {w['rss_kib']['last']}; fds at rest first {w['fds']['first']} "
              f"max {w['fds']['max']} last {w['fds']['last']}, during reads up to "
              f"{w['fds_during_reads']['max']} ({w['rss_kib']['samples']} samples)")
    for e in r["examples"][:5]:
        print(f"  {e}")
    print("soak: " + ("passed" if r["passed"] else "FAILED"))


if __name__ == "__main__":
    sys.exit(main())
