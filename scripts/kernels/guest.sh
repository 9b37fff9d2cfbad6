#!/usr/bin/env bash
# Runs portrel's kernel-dependent tests on the running kernel, as root, and
# prints one result line (summary.py) for scripts/kernels.sh to read from the
# console: bpf parts loaded part by part and refused one at a time, the bpf
# relation against /proc on every lab scenario, options exact, the bind rules
# against this kernel, the sock_diag dumps, doctor. Runs in a matrix guest
# (parameters from the kernel command line: portrel.build=DIR
# portrel.bind_bases=N portrel.limit=SECONDS portrel.live=FILTER) or on the
# host (the same as arguments: guest.sh DIR N SECONDS [FILTER]). FILTER, a
# gtest filter, narrows the live tests (default: all the kernel-dependent ones).
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-} bind_bases=${2:-10} limit=${3:-1800} live_filter=${4:-}
if [ -z "$build" ]; then
  for arg in $(cat /proc/cmdline); do
    case "$arg" in
      portrel.build=*) build=${arg#portrel.build=} ;;
      portrel.bind_bases=*) bind_bases=${arg#portrel.bind_bases=} ;;
      portrel.limit=*) limit=${arg#portrel.limit=} ;;
      portrel.live=*) live_filter=${arg#portrel.live=} ;;
    esac
  done
fi
start=$(date +%s)
echo "portrel-kernels: running on $(uname -r), build $build"
ip link set lo up

out=$(mktemp -d /tmp/portrel-kernels-XXXXXX)
trap 'rm -rf "$out"' EXIT

# The tests that depend on the kernel: every bpf test (each part loaded and
# refused in turn, bpf = /proc on every lab scenario, options exact, pins,
# the verdict), the bind rules and the UDP SO_REUSEPORT probe, the relation
# from /proc and sock_diag, doctor.
# Watch's churn test stays on the host: under TCG with the sanitizer build a
# read takes longer than its listeners live (25 of 300 missed on 6.1).
live=${live_filter:-'Bpf*:*/Bpf*:BindRulesLive.*:KernelBindRules.*:Relation.*:Doctor.*:Threads.*:Protocols.*:Watch.SeesARunning*'}
unit='DumpCurrentNetns.*:SockDiagSource.*'

# NAME BINARY FILTER: runs the tests, keeps gtest's JSON report in $out; a
# binary that dies or overruns its time leaves NAME.missing saying so.
run_tests() {
  local name=$1 binary=$2 filter=$3
  echo "portrel-kernels: $name: $filter"
  timeout --kill-after=10 "$limit" "$binary" --gtest_filter="$filter" --gtest_brief=1 \
    --gtest_output="json:$out/$name.json"
  local code=$?
  if [ ! -s "$out/$name.json" ]; then
    if [ "$code" = 124 ] || [ "$code" = 137 ]; then
      echo "did not finish in ${limit} s" >"$out/$name.missing"
    else
      echo "exited with $code and no report" >"$out/$name.missing"
    fi
  fi
}

PORTREL_BIND_BASES=$bind_bases run_tests live "$build/live_tests" "$live"
run_tests unit "$build/unit_tests" "$unit"
timeout 300 "$build/portrel" doctor >&2
timeout 300 "$build/portrel" doctor --format json >"$out/doctor.json"
python3 "$here/summary.py" "$out" "$(($(date +%s) - start))"
