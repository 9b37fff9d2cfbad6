#include "output/holders.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

Process proc(pid_t pid, pid_t ppid, std::string comm) {
  Process p;
  p.pid = pid;
  p.ppid = ppid;
  p.comm = std::move(comm);
  return p;
}

Snapshot make(std::vector<Process> procs) {
  return Snapshot(std::move(procs), {}, {}, {}, {});
}

TEST(SummarizeHolders, MasterAndWorkersFitOnOneLine) {
  std::vector<Process> procs{proc(1, 0, "init"), proc(1201, 1, "nginx")};
  std::vector<pid_t> holders{1201};
  for (pid_t w = 2000; w < 3000; ++w) {
    procs.push_back(proc(w, 1201, "nginx"));
    holders.push_back(w);
  }
  Snapshot s = make(procs);
  EXPECT_EQ(summarize_holders(s, holders), "nginx 1201 + 1,000 children");
}

TEST(SummarizeHolders, GrandchildrenCountUnderTheRoot) {
  Snapshot s = make({proc(10, 1, "a"), proc(11, 10, "b"), proc(12, 11, "c")});
  EXPECT_EQ(summarize_holders(s, {12, 10}), "a 10 + 1 child");
}

TEST(SummarizeHolders, UnrelatedHoldersAreListed) {
  Snapshot s = make({proc(10, 1, "x"), proc(20, 1, "y"), proc(21, 1, "y")});
  EXPECT_EQ(summarize_holders(s, {20, 10, 21, 10}), "x 10, y 20, y 21");
}

TEST(SummarizeHolders, ManySiblingsWithOneNameFold) {
  std::vector<Process> procs{proc(5, 1, "supervisor")};
  std::vector<pid_t> holders;
  for (pid_t w = 100; w < 108; ++w) {
    procs.push_back(proc(w, 5, "worker"));
    holders.push_back(w);
  }
  Snapshot s = make(procs);
  EXPECT_EQ(summarize_holders(s, holders), "worker \u00d78 (pids 100\u2026107)");
}

TEST(SummarizeHolders, NamesAreSanitised) {
  Snapshot s = make({proc(7, 1, "evil\x1b[2J")});
  EXPECT_EQ(summarize_holders(s, {7}), "evil\\x1b[2J 7");
}

TEST(SummarizeHolders, ParentCycleDoesNotHang) {
  Snapshot s = make({proc(7, 8, "a"), proc(8, 7, "b")});
  std::string out = summarize_holders(s, {7, 8});
  EXPECT_FALSE(out.empty());
}

}  // namespace
}  // namespace portrel

namespace portrel {
namespace {

TEST(SummarizeHolders, ReuseportSiblingsAreNotChildren) {
  // Workers forked from worker 11 each hold their own socket.
  Snapshot s = make(
      {proc(10, 1, "lab"), proc(11, 10, "w"), proc(12, 11, "w"), proc(13, 11, "w")});
  EXPECT_EQ(
      summarize_socket_holders(s, std::vector<std::vector<pid_t>>{{11}, {12}, {13}}),
      "w 11, w 12, w 13");
  EXPECT_EQ(summarize_socket_holders(s, std::vector<std::vector<pid_t>>{{11, 12, 13}}),
            "w 11 + 2 children");
}

TEST(SummarizeHolders, ChildrenAreCountedOncePerProcessNotPerSocket) {
  // nginx: the master made two SO_REUSEPORT sockets; both workers inherited both.
  Snapshot s = make({proc(1, 0, "init"), proc(20, 1, "nginx"), proc(21, 20, "nginx"),
                     proc(22, 20, "nginx")});
  EXPECT_EQ(summarize_socket_holders(
                s, std::vector<std::vector<pid_t>>{{20, 21, 22}, {20, 21, 22}}),
            "nginx 20 + 2 children");
}

}  // namespace
}  // namespace portrel
