// Checking a captured Snapshot against the ground truth of a lab scenario: every
// inet socket the lab made is in the relation with exactly the holders it made.
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>

#include "lab/lab.h"
#include "portrel/capture.h"
#include "portrel/snapshot.h"

namespace portrel::testing {

/// Asserts (gtest failures, not exceptions) that for every inet socket of TRUTH
/// the snapshot has one Socket row with the same proto, family, address, port and
/// netns, whose holders are exactly the truth's (pid, fd, cloexec) rows; and that
/// each lab process holds no other inet socket in the snapshot.
void expect_matches_truth(const Snapshot& snap, const lab::GroundTruth& truth);

/// Captures the live host (every namespace, every state).
Snapshot capture_all();

/// Captures with SOURCE only (no fallback), failing the test when it cannot;
/// INFO, when given, says how the capture went.
Snapshot capture_from_source(CaptureOptions::Source source, CaptureOptions options = {},
                             CapturePlan* info = nullptr);

/// What the bpf source's required parts (tasks, task_files) need and the
/// running kernel lacks, asked of its BTF: the task and task_file iterators and
/// bpf_sock_from_file (Linux 5.11). "" when it has all of it.
std::string kernel_lacks_for_bpf();

/// Fails the test unless this build has the bpf source and runs as root. On a
/// kernel that lacks what the bpf source needs (kernel_lacks_for_bpf), checks
/// that portrel falls back to /proc and says why, then skips the test. Use
/// REQUIRE_BPF() in a test body: it returns from the test after either.
void require_bpf();
#define REQUIRE_BPF()                                                               \
  do {                                                                              \
    ::portrel::testing::require_bpf();                                              \
    if (::testing::Test::HasFatalFailure() || ::testing::Test::IsSkipped()) return; \
  } while (0)

/// A holding as (pid, fd, inode, cloexec).
using Row = std::tuple<pid_t, int, uint64_t, bool>;
/// The holdings of PIDS in the snapshot.
std::set<Row> rows_of(const Snapshot& snap, const std::set<pid_t>& pids);

/// Asserts that each of PIDS has the same row in BPF as in PROCFS (ids, names,
/// namespaces, start time) and, when it holds a socket, the same exe (not
/// empty), cmdline and cgroup.
void expect_same_processes(const Snapshot& bpf, const Snapshot& procfs,
                           const std::set<pid_t>& pids);

/// Starts a lab scenario; a scenario that cannot start fails the test and aborts
/// (every later check would be meaningless).
lab::Lab start_lab(std::string_view scenario, lab::LabOptions options = {});

}  // namespace portrel::testing
