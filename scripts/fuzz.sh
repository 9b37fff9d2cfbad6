#!/usr/bin/env bash
# Fuzzes portrel's parsers of untrusted bytes with libFuzzer (clang 16 from
# Debian 12, -fsanitize=fuzzer,address,undefined): the /proc/PID texts (stat,
# status, fdinfo and epoll's tfd: lines, fd and ns links, cmdline, cgroup), the
# cgroup and conmon parsers of the container view, the port/address spec with
# its /etc/hosts, sock_diag dump replies, nftables rule dumps (port forwards),
# /proc/net tables, the bpf iterators' record streams, the bpf verdict state
# file, the container runtimes' state files (JSON), and the sanitiser of names
# portrel prints but does not choose (comm, cmdline, netns and container
# names), and a history file read back. Each harness (fuzz/NAME_fuzz.cc) is
# built from the few sources it needs, seeded from tests/data, and run for
# SECONDS (default 20) with its corpus kept in build-fuzz/corpus/NAME; a
# crash leaves its input in build-fuzz/crashes/NAME/ and fails the run.
#
#   bash scripts/fuzz.sh [SECONDS] [NAME...]
#
# NAME: procfs workload port_spec sock_diag nft proc_net bpf_records state
# runtime_state names history (default: all).
#
# clang 16 implements what libstdc++ 12's <expected> needs (P0848) but does not
# say so in __cpp_concepts: the harnesses are built with it defined to 202002.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build-fuzz"
seconds=${1:-20}
[ $# -gt 0 ] && shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(procfs workload port_spec sock_diag nft proc_net bpf_records state runtime_state names history)

die() {
  echo "portrel-fuzz: $*" >&2
  exit 1
}

sources_of() {
  case "$1" in
    procfs|workload) echo "src/sources/procfs.cc src/sources/workload.cc src/sources/epoll.cc src/sources/netns.cc src/model/model.cc src/util/error.cc" ;;
    port_spec) echo "src/cli/port_spec.cc src/model/model.cc src/util/error.cc src/util/text.cc" ;;
    sock_diag) echo "src/sources/sock_diag.cc src/sources/proc_net.cc src/sources/netns.cc src/model/model.cc src/util/error.cc -lmnl" ;;
    nft) echo "src/sources/port_forwards.cc src/sources/netns.cc src/model/model.cc src/util/error.cc src/util/text.cc -lmnl" ;;
    proc_net) echo "src/sources/proc_net.cc src/model/model.cc src/util/error.cc" ;;
    bpf_records)
      # The decoders sit beside the loader, which includes the generated
      # skeleton: the test build (scripts/test.sh) makes it first.
      [ -f "$root/build-test/bpf/portrel.skel.h" ] ||
        die "bpf_records needs build-test/bpf/portrel.skel.h: build build-test first"
      echo "src/sources/bpf/bpf_source.cc src/sources/bpf/bpf_loader.cc src/sources/bpf/bpf_parts.cc src/sources/netns.cc src/sources/procfs.cc src/sources/workload.cc src/model/model.cc src/util/error.cc src/util/state_file.cc src/util/user_names.cc src/util/text.cc src/util/replace_file.cc -I$root/build-test/bpf -DPORTREL_HAVE_BPF=1 -lbpf -lmnl" ;;
    state) echo "src/sources/bpf/bpf_parts.cc src/util/state_file.cc src/util/replace_file.cc src/util/error.cc" ;;
    runtime_state) echo "src/sources/workload.cc src/sources/procfs.cc src/sources/epoll.cc src/util/error.cc" ;;
    names) echo "src/util/text.cc" ;;
    history) echo "src/query/history_query.cc src/query/database.cc src/model/model.cc src/util/error.cc -lsqlite3 -lfmt" ;;
    *) die "unknown harness $1 (procfs workload port_spec sock_diag nft proc_net bpf_records state runtime_state names history)" ;;
  esac
}

seeds_of() {
  case "$1" in
    procfs) ls "$root"/tests/data/proc_* ;;
    workload) ls "$root"/tests/data/proc_cgroup_* "$root"/tests/data/workloads/*.cgroup \
                 "$root"/tests/data/workloads/*.cmdline ;;
    port_spec) printf '%s\n' 8080 tcp/8080 udp/53 127.0.0.1:8080 '[::1]:8080' \
                 'localhost:8080' 'tcp [::ffff:127.0.0.1]:80' http ;;
    sock_diag) ls "$root"/tests/data/diag_*.bin ;;
    nft) ls "$root"/tests/data/nft_*.bin ;;
    proc_net) ls "$root"/tests/data/proc_net_* ;;
    bpf_records) ;;  # no recorded streams: libFuzzer starts from nothing
    state) ls "$root"/tests/data/state_* ;;
    runtime_state) find "$root"/tests/data/workloads/root -name '*.json' ;;
    names) ls "$root"/tests/data/proc_stat_comm_* "$root"/tests/data/proc_cmdline_* ;;
    history) ls "$root"/tests/data/history_*.db ;;
  esac
}

if ! command -v clang++-16 >/dev/null || [ ! -d /usr/lib/llvm-16/lib/clang/16/lib/linux ]; then
  [ "$(id -u)" = 0 ] || die "clang-16 and libclang-rt-16-dev are missing (as root: apt-get install clang-16 libclang-rt-16-dev)"
  echo "portrel-fuzz: installing clang-16 libclang-rt-16-dev" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    clang-16 libclang-rt-16-dev >/dev/null || die "cannot install clang-16"
fi
flags=(-std=c++2b -D__cpp_concepts=202002L -Wno-macro-redefined -g -O1
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/src" -I"$root/include")
mkdir -p "$out"
status=0
for name in "${names[@]}"; do
  read -r -a sources <<<"$(sources_of "$name")"
  binary="$out/${name}_fuzz"
  (cd "$root" && nice clang++-16 "${flags[@]}" "fuzz/${name}_fuzz.cc" "${sources[@]}" -o "$binary") ||
    die "cannot build $name"
  corpus="$out/corpus/$name" crashes="$out/crashes/$name" seeds="$out/seeds/$name"
  mkdir -p "$corpus" "$crashes" "$seeds"
  if [ "$name" = port_spec ]; then
    i=0
    while read -r line; do printf '%s' "$line" >"$seeds/$i"; i=$((i + 1)); done < <(seeds_of "$name")
  else
    i=0  # numbered: seeds of one name (config.json) from several directories
    for f in $(seeds_of "$name"); do cp "$f" "$seeds/$i-$(basename "$f")"; i=$((i + 1)); done
  fi
  started=$(date +%s)
  if "$binary" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
       -artifact_prefix="$crashes/" "$corpus" "$seeds" >"$out/$name.log" 2>&1; then
    runs=$(grep -a -o 'Done [0-9]* runs' "$out/$name.log" | tail -n1 | awk '{print $2}')
    echo "portrel-fuzz: $name: ${runs:-?} runs in $(($(date +%s) - started)) s, no crash"
  else
    echo "portrel-fuzz: $name: CRASH, input in $crashes/ (log: $out/$name.log)"
    grep -a -m3 -E 'ERROR|runtime error|Abort' "$out/$name.log" | sed 's/^/    /'
    status=1
  fi
done
exit "$status"
