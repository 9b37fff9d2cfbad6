#!/usr/bin/env python3
"""One kernel's result line for scripts/kernels.sh, from what guest.sh left in
DIR: the gtest JSON reports (NAME.json, or NAME.missing when a test binary
crashed or timed out before writing one) and `portrel doctor --format json`
(doctor.json). Prints the names of failed tests, then the result line:

  portrel-kernels: result kernel=R parts=L/N refused=P,... passed=N failed=N
  skipped=N udp_rule=RULE diag=F,... seconds=S
"""
import json
import pathlib
import sys


def tests(report):
    for suite in report.get("testsuites", []):
        for case in suite.get("testsuite", []):
            name = f"{suite['name']}.{case['name']}"
            if case.get("status") == "NOTRUN":
                continue
            if case.get("failures"):
                yield name, "failed"
            elif case.get("result") == "SKIPPED":
                yield name, "skipped"
            else:
                yield name, "passed"


def main():
    out = pathlib.Path(sys.argv[1])
    seconds = sys.argv[2]
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for missing in sorted(out.glob("*.missing")):
        counts["failed"] += 1
        print(f"portrel-kernels: failed {missing.stem}: {missing.read_text().strip()}")
    for path in sorted(out.glob("*.json")):
        if path.name == "doctor.json":
            continue
        for name, outcome in tests(json.loads(path.read_text())):
            counts[outcome] += 1
            if outcome != "passed":
                print(f"portrel-kernels: {outcome} {name}")

    kernel, parts, refused, rule, diag = "?", "?", "?", "?", "?"
    mapped_any, first_bind = "?", "?"
    try:
        doctor = json.loads((out / "doctor.json").read_text())
        kernel = doctor["kernel"].split()[0]
        all_parts = doctor["bpf"]["parts"]
        loaded = [p["part"] for p in all_parts if p["state"] == "loaded"]
        if not doctor["bpf"]["usable"]:
            loaded = []
        parts = f"{len(loaded)}/{len(all_parts)}"
        refused = ",".join(p["part"] for p in all_parts
                           if p["state"] in ("refused", "disabled")) or "-"
        rule = doctor["bind_rules"]["udp_reuseport"] or "?"
        said = {True: "yes", False: "no", None: "unknown"}
        mapped_any = said[doctor["bind_rules"]["tcp_mapped_any_found"]]
        first_bind = said[doctor["bind_rules"]["tcp_first_bind_sets_shortcut"]]
        diag = ",".join(f["family"] for f in doctor["sock_diag"] if f["available"]) or "-"
    except (OSError, ValueError, KeyError, TypeError) as e:
        counts["failed"] += 1
        print(f"portrel-kernels: failed doctor: {e}")

    print(f"portrel-kernels: result kernel={kernel} parts={parts} refused={refused} "
          f"passed={counts['passed']} failed={counts['failed']} skipped={counts['skipped']} "
          f"udp_rule={rule} tcp_mapped_any={mapped_any} tcp_first_bind={first_bind} "
          f"diag={diag} seconds={seconds}")


if __name__ == "__main__":
    main()
