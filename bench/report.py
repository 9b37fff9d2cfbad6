#!/usr/bin/env python3
"""Writes bench/RESULTS.md from the JSON lines measure.py printed for each load:
medians, ratios to `ss -tuan` and the issue's targets, met or not.
Usage: report.py OUT.md MACHINE_DESCRIPTION "LABEL|SOCKET_FDS|FILE.jsonl"..."""
import json
import os
import sys
import time

TARGETS = [
    ("json", "<=", "ss -tuan", 1.5, "`--all --format json` ≤ 1.5 × `ss -tuan`"),
    ("ss -tuanp", ">=", "json", 10.0, "`--all --format json` ≥ 10 × faster than `ss -tuanp`"),
    ("lsof", ">=", "json", 5.0, "`--all --format json` ≥ 5 × faster than `lsof -i -n -P`"),
    ("who", "<=", "ss -tuan", 1.0, "`who PORT` ≤ 1.0 × `ss -tuan`"),
    ("procfs json", "<=", "ss -tuan", 2.0, "`--source procfs` ≤ 2 × `ss -tuan`"),
    ("no-bpf json", "<=", "procfs json", 1.1,
     "where bpf cannot load (remembered): ≤ 1.1 × `--source procfs`"),
]


def shown(command):
    """The command as a reader would type it: the portrel binary by its name."""
    return " ".join(os.path.basename(w) if w.endswith(("/portrel", "/procfs_floor")) else w
                    for w in command.split())


def main():
    out, machine, loads = sys.argv[1], sys.argv[2], sys.argv[3:]
    lines = [f"# portrel benchmark", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine}.",
             "Medians of the runs shown; wall time is what a user waits, CPU is user+system "
             "time of the command (steadier on a shared machine); RSS is the largest peak "
             "of any run. Every command writes to /dev/null. portrel's bpf programs are "
             "pinned in bpffs by its first run (the untimed warm-up) and reused by the "
             "timed ones; the `cold` rows (PORTREL_BPF_PINS=off) load and verify them "
             "in every run.", ""]
    per_fd = {}
    for spec in loads:
        label, fds, path = spec.split("|")
        fds = int(fds)
        rows = [json.loads(l) for l in open(path) if l.strip()]
        by = {r["name"]: r for r in rows}
        lines += [f"## {label}", "",
                  "| command | wall ms | CPU ms | peak RSS MiB | wall / `ss -tuan` | CPU / `ss -tuan` | runs |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        base, base_cpu = by["ss -tuan"]["wall_ms"], by["ss -tuan"]["cpu_ms"]
        for r in rows:
            lines.append(f"| `{shown(r['command'])}` | {r['wall_ms']:.1f} | {r['cpu_ms']:.1f} | "
                         f"{r['rss_kib'] / 1024:.1f} | {r['wall_ms'] / base:.2f} | "
                         f"{r['cpu_ms'] / base_cpu:.2f} | {r['runs']} |")
        lines += ["", "| target | wall ratio | met (wall) | CPU ratio | met (CPU) |",
                  "|---|---:|---|---:|---|"]
        for a, op, b, limit, text in TARGETS:
            cells = []
            for key in ("wall_ms", "cpu_ms"):
                ratio = by[a][key] / by[b][key]
                met = ratio <= limit if op == "<=" else ratio >= limit
                cells += [f"{ratio:.2f} ×", "yes" if met else "**no**"]
            lines.append(f"| {text} | " + " | ".join(cells) + " |")
        rss = by["json"]["rss_kib"] / 1024
        lines.append(f"| peak RSS of `--all --format json` ≤ 64 MiB (at {fds:,} socket fds) | "
                     f"{rss:.1f} MiB | {'yes' if rss <= 64 else '**no**'} | | |")
        lines.append("")
        if fds:
            per_fd[label] = by["json"]["wall_ms"] / fds
    if len(per_fd) == 2:
        (a, x), (b, y) = per_fd.items()
        lines += ["## Scaling", "",
                  f"`--all --format json` per socket fd: {x * 1000:.2f} µs at {a}, "
                  f"{y * 1000:.2f} µs at {b}: × {y / x:.2f} "
                  f"(target < 1.5: {'met' if y / x < 1.5 else '**missed**'}).", ""]
    # Hand-written analysis kept beside the script (bench/NOTES.md) follows the figures.
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
    if os.path.exists(notes):
        lines += [open(notes).read().rstrip(), ""]
    open(out, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
