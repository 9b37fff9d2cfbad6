// Race test: processes fork, open sockets, close them and exit while portrel
// captures the relation again and again. Pids are deliberately reused (by
// writing /proc/sys/kernel/ns_last_pid) so that a stale read would attribute
// a dead process's socket to its successor. Every holding portrel reports for a
// churned process must match what that very process (pid + start time) logged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "portrel/capture.h"

namespace portrel::testing {
namespace {

volatile sig_atomic_t g_stop = 0;

uint64_t own_start_time() {
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char* p = strrchr(buf, ')');
  for (int field = 2; p && field < 22; ++field) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, nullptr, 10) : 0;
}

// One churned process: two sockets, a line in the log, a short life.
[[noreturn]] void churn_child(int log_fd, unsigned seed) {
  int tcp = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(tcp, 4);
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a);
  struct stat t {
  }, u{};
  fstat(tcp, &t);
  fstat(udp, &u);
  char line[128];
  int len = snprintf(line, sizeof line, "%d %llu %llu %llu\n", getpid(),
                     static_cast<unsigned long long>(own_start_time()),
                     static_cast<unsigned long long>(t.st_ino),
                     static_cast<unsigned long long>(u.st_ino));
  if (write(log_fd, line, len) != len) _exit(1);
  timespec nap{0, static_cast<long>((seed % 4000) * 1000)};
  nanosleep(&nap, nullptr);
  _exit(0);
}

// Forks churn children until SIGTERM, up to 8 alive at a time; after reaping a
// child, often asks the kernel to hand the next fork that child's pid again.
[[noreturn]] void churn_master(int log_fd) {
  signal(SIGTERM, [](int) { g_stop = 1; });
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int ns_last_pid = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
  unsigned seed = static_cast<unsigned>(getpid());
  int alive = 0;
  while (!g_stop) {
    while (alive < 8 && !g_stop) {
      seed = seed * 1103515245 + 12345;
      pid_t c = fork();
      if (c == 0) churn_child(log_fd, seed >> 8);
      if (c > 0) ++alive;
    }
    pid_t dead = wait(nullptr);
    if (dead <= 0) continue;
    --alive;
    if (ns_last_pid >= 0 && (seed & 1)) {
      char text[32];
      int len = snprintf(text, sizeof text, "%d", dead - 1);
      if (pwrite(ns_last_pid, text, len, 0) != len) {
        // Another process may race for the pid: reuse is best effort.
      }
    }
  }
  while (wait(nullptr) > 0) {
  }
  _exit(0);
}

TEST(Race, ChurningProcessesNeverMisattributed) {
  char path[] = "/tmp/portrel-race-XXXXXX";
  int log_fd = mkstemp(path);
  ASSERT_GE(log_fd, 0);
  ASSERT_EQ(fcntl(log_fd, F_SETFL, O_APPEND), 0);
  pid_t master = fork();
  ASSERT_GE(master, 0);
  if (master == 0) churn_master(log_fd);

  std::set<std::tuple<pid_t, uint64_t, uint64_t>> seen;  // (pid, start, inode)
  size_t captures = 0;
  for (; captures < 60; ++captures) {
    auto snap = capture(CaptureOptions{});
    ASSERT_TRUE(snap) << snap.error().message;
    std::set<uint64_t> inodes;
    for (const Socket& s : snap->sockets()) {
      if (s.inode != 0) {
        EXPECT_TRUE(inodes.insert(s.inode).second) << "duplicate socket";
      }
    }
    std::set<std::pair<pid_t, int>> fds;
    for (const Holding& h : snap->holdings()) {
      EXPECT_TRUE(fds.insert({h.pid, h.fd}).second) << "duplicate holding " << h.pid;
      const Process* p = snap->process(h.pid);
      ASSERT_NE(p, nullptr) << "holding of unknown pid " << h.pid;
      ASSERT_NE(snap->socket(h.inode), nullptr) << "holding of unknown inode";
      if (p->ppid == master) seen.insert({h.pid, p->start_time, h.inode});
    }
  }
  kill(master, SIGTERM);
  int status = 0;
  waitpid(master, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));

  std::ifstream log(path);
  std::set<std::tuple<pid_t, uint64_t, uint64_t>> truth;
  std::map<pid_t, std::set<uint64_t>> starts;
  pid_t pid;
  unsigned long long start, tcp, udp;
  size_t children = 0;
  while (log >> pid >> start >> tcp >> udp) {
    truth.insert({pid, start, tcp});
    truth.insert({pid, start, udp});
    starts[pid].insert(start);
    ++children;
  }
  unlink(path);
  close(log_fd);
  size_t reused = 0;
  for (const auto& [p, s] : starts) reused += s.size() - 1;
  std::printf(
      "race: %zu captures, %zu churned processes, %zu pid reuses, %zu holdings seen\n",
      captures, children, reused, seen.size());
  ASSERT_GT(seen.size(), 0u)
      << "no churned socket was ever observed: the test proves nothing";
  EXPECT_GT(reused, 0u) << "no pid was reused: the test did not exercise pid reuse";
  for (const auto& row : seen) {
    EXPECT_TRUE(truth.contains(row))
        << "pid " << std::get<0>(row) << " (start " << std::get<1>(row)
        << ") reported holding inode " << std::get<2>(row) << " that it never created";
  }
}

}  // namespace
}  // namespace portrel::testing
