// Ground-truth comparison shared by the live tests.
#include "truth.h"

#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include <unistd.h>

#include "portrel/capture.h"
#include "sources/bpf/bpf_loader.h"

namespace portrel::testing {

Snapshot capture_from_source(CaptureOptions::Source source, CaptureOptions options,
                             CapturePlan* info) {
  options.source = source;
  CapturePlan scratch;
  CapturePlan& used = info != nullptr ? *info : scratch;
  auto snap = capture(options, &used);
  EXPECT_TRUE(snap) << (snap ? "" : snap.error().message);
  EXPECT_EQ(used.used, source) << used.fallback_reason;
  return snap ? std::move(*snap) : Snapshot();
}

std::string kernel_lacks_for_bpf() {
  std::ifstream file("/sys/kernel/btf/vmlinux", std::ios::binary);
  if (!file) return "BTF (/sys/kernel/btf/vmlinux)";
  const std::string btf((std::istreambuf_iterator<char>(file)), {});
  // BTF's string section holds every type, function and enumerator name,
  // each between NUL bytes.
  std::string missing;
  for (const char* name :
       {"bpf_iter_task", "bpf_iter_task_file", "BPF_FUNC_sock_from_file"}) {
    if (btf.find(std::string(1, '\0') + name + '\0') == std::string::npos) {
      missing += (missing.empty() ? "" : ", ") + std::string(name);
    }
  }
  return missing;
}

namespace {

// On a kernel that cannot run the bpf source: "" when portrel falls back as
// it should (the load fails with a reason, auto reads /proc and says why,
// --source bpf is an error), else what went wrong.
std::string fallback_problem() {
  auto loaded = load_bpf_iterators(BpfFilter{});
  if (loaded) return "the bpf programs loaded on a kernel without what they need";
  if (loaded.error().message.empty()) return "the failed load gave no reason";
  CapturePlan info;
  auto snap = capture(CaptureOptions{}, &info);
  if (!snap) return "auto did not fall back to /proc: " + snap.error().message;
  if (info.used != CaptureOptions::Source::procfs) return "auto did not read /proc";
  if (info.fallback_reason.empty()) return "auto read /proc without saying why";
  CaptureOptions only_bpf;
  only_bpf.source = CaptureOptions::Source::bpf;
  if (capture(only_bpf)) return "--source bpf succeeded without the bpf source";
  return "";
}

}  // namespace

void require_bpf() {
  ASSERT_TRUE(bpf_built_in()) << "this build has no bpf source: install clang, bpftool "
                                 "and libbpf-dev (scripts/deps.sh) and reconfigure";
  ASSERT_EQ(geteuid(), 0u) << "the bpf source needs root";
  static const std::string lacks = kernel_lacks_for_bpf();
  if (lacks.empty()) return;
  static const std::string problem = fallback_problem();
  ASSERT_EQ(problem, "") << "this kernel lacks " << lacks;
  GTEST_SKIP()
      << "this kernel lacks " << lacks
      << ": the bpf source cannot load here; checked that portrel falls back to /proc";
}

void expect_same_processes(const Snapshot& bpf, const Snapshot& procfs,
                           const std::set<pid_t>& pids) {
  for (pid_t pid : pids) {
    const Process* a = bpf.process(pid);
    const Process* b = procfs.process(pid);
    ASSERT_TRUE(a && b) << "pid " << pid;
    EXPECT_EQ(std::tie(a->ppid, a->uid, a->user, a->comm, a->netns, a->pidns, a->start_time),
              std::tie(b->ppid, b->uid, b->user, b->comm, b->netns, b->pidns, b->start_time))
        << "pid " << pid;
    if (bpf.held_by(pid).empty()) continue;
    EXPECT_FALSE(a->exe.empty()) << "pid " << pid;
    EXPECT_EQ(std::tie(a->exe, a->cmdline, a->cgroup), std::tie(b->exe, b->cmdline, b->cgroup))
        << "pid " << pid;
  }
}

std::set<Row> rows_of(const Snapshot& snap, const std::set<pid_t>& pids) {
  std::set<Row> rows;
  for (const Holding& h : snap.holdings()) {
    if (pids.contains(h.pid)) rows.emplace(h.pid, h.fd, h.inode, h.cloexec);
  }
  return rows;
}

Snapshot capture_all() {
  auto snap = capture(CaptureOptions{});
  EXPECT_TRUE(snap) << (snap ? "" : snap.error().message);
  return snap ? std::move(*snap) : Snapshot();
}

lab::Lab start_lab(std::string_view scenario, lab::LabOptions options) {
  auto lab = lab::Lab::start(scenario, options);
  if (!lab) {
    ADD_FAILURE() << scenario << ": " << lab.error().message;
    std::abort();
  }
  return std::move(*lab);
}

void expect_matches_truth(const Snapshot& snap, const lab::GroundTruth& truth) {
  std::map<uint64_t, std::set<std::tuple<pid_t, int, bool>>> want;
  std::map<uint64_t, const lab::LabSocket*> example;
  std::set<pid_t> lab_pids;
  for (const lab::LabProcess& p : truth.processes) lab_pids.insert(p.pid);
  for (const lab::LabSocket& s : truth.sockets) {
    if (s.family == 0) continue;  // unix sockets are not in the inet relation
    want[s.inode].insert({s.pid, s.fd, s.cloexec});
    example[s.inode] = &s;
  }
  ASSERT_FALSE(want.empty()) << truth.scenario << " made no inet socket";
  for (const auto& [inode, holders] : want) {
    const lab::LabSocket& t = *example[inode];
    const Socket* s = snap.socket(inode);
    ASSERT_NE(s, nullptr) << truth.scenario << ": inode " << inode << " (" << t.address
                          << ":" << t.port << ") missing";
    EXPECT_EQ(s->proto, t.proto) << inode;
    EXPECT_EQ(s->family, t.family) << inode;
    EXPECT_EQ(s->local_addr.to_string(), t.address) << inode;
    EXPECT_EQ(s->local_port, t.port) << inode;
    if (truth.netns != 0) {
      EXPECT_EQ(s->netns, truth.netns) << inode;
    }
    if (t.proto == Proto::tcp) {
      EXPECT_EQ(s->is_listening(), t.listening) << inode;
    }
    std::set<std::tuple<pid_t, int, bool>> got;
    for (const Holding& h : snap.holders(inode)) got.insert({h.pid, h.fd, h.cloexec});
    EXPECT_EQ(got, holders) << truth.scenario << ": holders of inode " << inode;
  }
  for (pid_t pid : lab_pids) {
    for (const Holding& h : snap.held_by(pid)) {
      EXPECT_TRUE(want.contains(h.inode))
          << truth.scenario << ": pid " << pid << " fd " << h.fd << " holds inode "
          << h.inode << " that the lab did not make";
    }
  }
}

}  // namespace portrel::testing
