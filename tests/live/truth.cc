// Ground-truth comparison shared by the live tests.
#include "truth.h"

#include <map>
#include <set>

#include <unistd.h>

#include "portrel/capture.h"
#include "sources/bpf/bpf_loader.h"

namespace portrel::testing {

Snapshot capture_from_source(CaptureOptions::Source source, CaptureOptions options,
                             CaptureInfo* info) {
  options.source = source;
  CaptureInfo scratch;
  CaptureInfo& used = info != nullptr ? *info : scratch;
  auto snap = capture(options, &used);
  EXPECT_TRUE(snap) << (snap ? "" : snap.error().message);
  EXPECT_EQ(used.used, source) << used.fallback_reason;
  return snap ? std::move(*snap) : Snapshot();
}

void require_bpf() {
  ASSERT_TRUE(bpf_built_in()) << "this build has no bpf source: install clang, bpftool "
                                 "and libbpf-dev (scripts/deps.sh) and reconfigure";
  ASSERT_EQ(geteuid(), 0u) << "the bpf source needs root";
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
