// Tests of the /proc parsers on captured and hand-made texts (tests/data/proc_*),
// of the walker on a hand-built tree, and of the live walker against child
// processes whose sockets, names and lifetimes the test controls.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sources/fake_process_source.h"
#include "sources/procfs.h"
#include "sources/procfs_source.h"

namespace portrel {
namespace {

using namespace std::string_view_literals;

std::string data(const std::string& name) {
  std::ifstream in(std::string(PORTREL_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- parse_stat ----

TEST(ParseStat, CapturedProcess) {
  auto stat = procfs::parse_stat(data("proc_stat_self"));
  ASSERT_TRUE(stat.has_value()) << stat.error().message;
  EXPECT_EQ(stat->pid, 3938);
  EXPECT_EQ(stat->comm, "cat");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 3861);
  EXPECT_EQ(stat->start_time, 31362u);
}

TEST(ParseStat, KernelThread) {
  auto stat = procfs::parse_stat(data("proc_stat_kthread"));
  ASSERT_TRUE(stat.has_value()) << stat.error().message;
  EXPECT_EQ(stat->pid, 2);
  EXPECT_EQ(stat->comm, "kthreadd");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 0);
  EXPECT_EQ(stat->start_time, 24u);
}

// Each of these was captured from a process that set its own name with prctl.
TEST(ParseStat, CommChosenToConfuse) {
  struct Case {
    const char* file;
    std::string_view comm;
  } cases[] = {
      {"proc_stat_comm_space", "a b"},
      {"proc_stat_comm_parens", "x) (y"},
      {"proc_stat_comm_close_paren", ")"},
      {"proc_stat_comm_newline", "a\nb) Z 9 9"},
      {"proc_stat_comm_escape", "\x1b[31mred"},
  };
  for (const Case& c : cases) {
    auto stat = procfs::parse_stat(data(c.file));
    ASSERT_TRUE(stat.has_value()) << c.file << ": " << stat.error().message;
    EXPECT_EQ(stat->comm, c.comm) << c.file;
    EXPECT_EQ(stat->state, 'R') << c.file;
    EXPECT_EQ(stat->ppid, 3978) << c.file;
    EXPECT_GT(stat->start_time, 0u) << c.file;
  }
}

TEST(ParseStat, RejectsMalformed) {
  EXPECT_FALSE(procfs::parse_stat(data("proc_stat_empty")).has_value());
  EXPECT_FALSE(procfs::parse_stat(data("proc_stat_truncated")).has_value());
  EXPECT_FALSE(procfs::parse_stat(data("proc_stat_bad_ppid")).has_value());
  const std::string_view tail = " R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0\n";
  EXPECT_TRUE(procfs::parse_stat("12 (x)" + std::string(tail)).has_value());
  EXPECT_FALSE(procfs::parse_stat("1x (x)" + std::string(tail)).has_value());
  EXPECT_FALSE(procfs::parse_stat("-3 (x)" + std::string(tail)).has_value());
  EXPECT_FALSE(procfs::parse_stat("12 x)" + std::string(tail)).has_value());
  EXPECT_FALSE(procfs::parse_stat("12 (x" + std::string(tail)).has_value());
  EXPECT_FALSE(procfs::parse_stat("12 (x)").has_value());
  EXPECT_FALSE(procfs::parse_stat("12 (x) R 1 1 1 0").has_value());
  EXPECT_FALSE(procfs::parse_stat("12 (x) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9x 0").has_value());
  EXPECT_FALSE(procfs::parse_stat("12 (x) RR 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0").has_value());
}

// ---- parse_status ----

TEST(ParseStatus, CapturedAndRealUid) {
  auto status = procfs::parse_status(data("proc_status_self"));
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_EQ(status->uid, 0u);
  EXPECT_EQ(status->tgid, 3939);

  auto setuid = procfs::parse_status(data("proc_status_setuid"));
  ASSERT_TRUE(setuid.has_value());
  EXPECT_EQ(setuid->uid, 1000u) << "the real uid is the first of the four";
}

TEST(ParseStatus, RejectsMissingOrBadUid) {
  EXPECT_FALSE(procfs::parse_status(data("proc_status_no_uid")).has_value());
  EXPECT_FALSE(procfs::parse_status("Name:\tx\nUid:\tabc\t0\t0\t0\n").has_value());
  EXPECT_FALSE(procfs::parse_status("").has_value());
  auto no_tgid = procfs::parse_status("Uid:\t7\t7\t7\t7\n");
  ASSERT_TRUE(no_tgid.has_value());
  EXPECT_EQ(no_tgid->uid, 7u);
  EXPECT_FALSE(no_tgid->tgid.has_value());
}

// ---- parse_fdinfo ----

TEST(ParseFdinfo, CapturedSockets) {
  auto cloexec = procfs::parse_fdinfo(data("proc_fdinfo_socket_cloexec"));
  ASSERT_TRUE(cloexec.has_value()) << cloexec.error().message;
  EXPECT_EQ(cloexec->flags, 02000002u);
  EXPECT_TRUE(cloexec->cloexec);
  EXPECT_EQ(cloexec->ino, 6974u);

  auto inherited = procfs::parse_fdinfo(data("proc_fdinfo_socket_inherit"));
  ASSERT_TRUE(inherited.has_value());
  EXPECT_EQ(inherited->flags, 02u);
  EXPECT_FALSE(inherited->cloexec);
  EXPECT_EQ(inherited->ino, 6975u);

  auto devnull = procfs::parse_fdinfo(data("proc_fdinfo_devnull"));
  ASSERT_TRUE(devnull.has_value());
  EXPECT_EQ(devnull->flags, 0100000u);  // O_LARGEFILE only
  EXPECT_FALSE(devnull->cloexec);
}

TEST(ParseFdinfo, OldKernelAndMalformed) {
  auto old = procfs::parse_fdinfo("pos:\t0\nflags:\t02004002\nmnt_id:\t9\n");
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->cloexec);
  EXPECT_FALSE(old->ino.has_value());
  EXPECT_FALSE(procfs::parse_fdinfo(data("proc_fdinfo_bad_flags")).has_value());
  EXPECT_FALSE(procfs::parse_fdinfo("flags:\t0089\n").has_value());  // not octal
  EXPECT_FALSE(procfs::parse_fdinfo("pos:\t0\n").has_value());
}

// ---- links ----

TEST(ParseLinks, SocketLink) {
  EXPECT_EQ(procfs::parse_socket_link(data("proc_fd_link_socket")), 6974u);
  EXPECT_EQ(procfs::parse_socket_link("socket:[18446744073709551615]"), UINT64_MAX);
  for (std::string_view bad : {"pipe:[7260]"sv, "socket:[]"sv, "socket:[12"sv,
                               "socket:[12]x"sv, "/tmp/socket:[1]"sv, "socket:[-1]"sv,
                               "socket:[1 ]"sv, "anon_inode:[eventfd]"sv, ""sv,
                               "socket:[18446744073709551616]"sv}) {
    EXPECT_FALSE(procfs::parse_socket_link(bad).has_value()) << bad;
  }
}

TEST(ParseLinks, NamespaceLink) {
  EXPECT_EQ(procfs::parse_ns_link(data("proc_ns_net_link"), "net"), 4026531833u);
  EXPECT_EQ(procfs::parse_ns_link("pid:[4026531836]", "pid"), 4026531836u);
  EXPECT_FALSE(procfs::parse_ns_link("pid:[4026531836]", "net").has_value());
  EXPECT_FALSE(procfs::parse_ns_link("netx:[1]", "net").has_value());
  EXPECT_FALSE(procfs::parse_ns_link("net:[x]", "net").has_value());
}

// ---- cmdline, cgroup ----

TEST(JoinCmdline, CapturedAndOdd) {
  EXPECT_EQ(procfs::join_cmdline(data("proc_cmdline_init")),
            "/process_api --firecracker-init --addr 0.0.0.0:2024 --max-ws-buffer-size "
            "32768 --block-local-connections --log-vsock-port 5002 --control-vsock-port "
            "5001 --listen-vsock-port 2024 --tcp-readiness-only --auth-required");
  EXPECT_EQ(procfs::join_cmdline(data("proc_cmdline_empty_arg")), "a b c  d");
  EXPECT_EQ(procfs::join_cmdline(data("proc_cmdline_rewritten")), "nginx: worker process");
  EXPECT_EQ(procfs::join_cmdline(""), "");
  EXPECT_EQ(procfs::join_cmdline(std::string_view("\0", 1)), "");
}

TEST(ParseCgroup, V2LineWherever) {
  EXPECT_EQ(procfs::parse_cgroup(data("proc_cgroup_hybrid")), "/");
  EXPECT_EQ(procfs::parse_cgroup(data("proc_cgroup_v2")), "/system.slice/nginx.service");
  // A unit or container named by a v1 line beats the v2 root of a hybrid host.
  EXPECT_EQ(procfs::parse_cgroup("1:name=systemd:/user.slice\n"), "/user.slice");
  EXPECT_EQ(procfs::parse_cgroup("12:pids:/libpod_parent/libpod-" + std::string(64, 'a') +
                                 "\n0::/\n"),
            "/libpod_parent/libpod-" + std::string(64, 'a'));
  EXPECT_FALSE(procfs::parse_cgroup("1:cpu:/\n").has_value());
  EXPECT_FALSE(procfs::parse_cgroup("").has_value());
}

// ---- the walker on a hand-built tree ----

class TempDir {
 public:
  TempDir() {
    // tmpfs when there is one: creating hundreds of small files on ext4 is slow.
    char shm[] = "/dev/shm/portrel-procfs-XXXXXX";
    char tmp[] = "/tmp/portrel-procfs-XXXXXX";
    const char* made = mkdtemp(shm);
    if (made == nullptr) made = mkdtemp(tmp);
    path_ = made ? made : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }
  void write(const std::string& name, std::string_view text) const {
    make_parents(name);
    std::ofstream(path_ + "/" + name, std::ios::binary) << text;
  }
  void link(const std::string& name, const std::string& target) const {
    make_parents(name);
    EXPECT_EQ(symlink(target.c_str(), (path_ + "/" + name).c_str()), 0) << name;
  }

 private:
  void make_parents(const std::string& name) const {
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      mkdir((path_ + "/" + name.substr(0, slash)).c_str(), 0755);
    }
  }
  std::string path_;
};

TEST(ProcfsSourceTree, ReadsRowsHoldingsAndNamespaces) {
  TempDir root;
  ASSERT_FALSE(root.path().empty());
  root.write("42/stat", "42 (x) (y) S 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0\n");
  root.write("42/status", "Name:\tx\nTgid:\t42\nUid:\t0\t0\t0\t0\n");
  root.write("42/cmdline", std::string_view("srv\0-p\0" "80\0", 10));
  root.write("42/cgroup", data("proc_cgroup_v2"));
  root.link("42/ns/net", "net:[9000000001]");
  root.link("42/ns/pid", "pid:[4026531836]");
  root.link("42/fd/3", "socket:[777]");
  root.link("42/fd/4", "/dev/null");
  root.link("42/fd/5", "socket:[778]");
  root.write("42/fdinfo/3", "pos:\t0\nflags:\t02000002\nino:\t777\n");
  root.write("42/fdinfo/5", "pos:\t0\nflags:\t02\nino:\t778\n");
  root.write("43/stat", "43 (gone) S 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0\n");
  root.write("44/stat", "44 (bad) S x 44 44 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0\n");
  root.write("44/status", "Uid:\t0\t0\t0\t0\n");
  root.write("self/stat", "not a pid directory");

  ProcfsSource source(root.path());
  auto scan = source.scan();
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  ASSERT_EQ(scan->processes.size(), 1u);
  const Process& p = scan->processes[0];
  EXPECT_EQ(p.pid, 42);
  EXPECT_EQ(p.ppid, 7);
  EXPECT_EQ(p.comm, "x) (y");
  EXPECT_EQ(p.uid, 0u);
  EXPECT_EQ(p.user, "root");
  EXPECT_EQ(p.exe, "");
  EXPECT_EQ(p.cmdline, "srv -p 80");
  EXPECT_EQ(p.cgroup, "/system.slice/nginx.service");
  EXPECT_EQ(p.netns, 9000000001u);
  EXPECT_EQ(p.pidns, 4026531836u);
  EXPECT_EQ(p.start_time, 555u);

  std::vector<Holding> holdings = scan->holdings;
  std::sort(holdings.begin(), holdings.end());
  EXPECT_EQ(holdings, (std::vector<Holding>{{42, 3, 777, true}, {42, 5, 778, false}}));

  EXPECT_EQ(scan->vanished, 1u) << "43 has no status: it counts as gone";
  EXPECT_EQ(scan->fd_unreadable, 0u);
  ASSERT_EQ(scan->warnings.size(), 1u);
  EXPECT_NE(scan->warnings[0].find("pid 44"), std::string::npos) << scan->warnings[0];
  bool found = false;
  for (const NetnsHandle& ns : scan->netns) {
    if (ns.inode == 9000000001u) {
      found = true;
      EXPECT_EQ(ns.path, root.path() + "/42/ns/net");
      EXPECT_EQ(ns.name, "");
    }
  }
  EXPECT_TRUE(found);
}

TEST(ProcfsSourceTree, ThreadedWalkMatchesSingleThreaded) {
  TempDir root;
  ASSERT_FALSE(root.path().empty());
  for (int pid = 100; pid < 160; ++pid) {
    std::string dir = std::to_string(pid);
    root.write(dir + "/stat", dir + " (w" + dir + ") S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " +
                                  dir + " 0\n");
    root.write(dir + "/status", "Uid:\t" + std::to_string(50000 + pid) + "\t0\t0\t0\n");
    root.link(dir + "/ns/net", "net:[" + std::to_string(9000000100 + pid % 3) + "]");
    root.write(dir + "/fd/.keep", "");  // an empty fd table, not a missing one
    for (int fd = 3; fd < 3 + pid % 4; ++fd) {
      root.link(dir + "/fd/" + std::to_string(fd), "socket:[" + std::to_string(pid * 10 + fd) + "]");
      root.write(dir + "/fdinfo/" + std::to_string(fd), fd % 2 ? "flags:\t02000002\n" : "flags:\t02\n");
    }
  }
  auto one = ProcfsSource(root.path(), 1).scan();
  auto three = ProcfsSource(root.path(), 3).scan();
  ASSERT_TRUE(one.has_value()) << one.error().message;
  ASSERT_TRUE(three.has_value());
  ASSERT_EQ(one->processes.size(), 60u);
  ASSERT_EQ(three->processes.size(), 60u);
  for (size_t i = 0; i < 60; ++i) {
    EXPECT_EQ(three->processes[i].pid, one->processes[i].pid);
    EXPECT_EQ(three->processes[i].comm, one->processes[i].comm);
    EXPECT_EQ(three->processes[i].uid, one->processes[i].uid);
  }
  EXPECT_EQ(one->processes.front().pid, 100);
  EXPECT_EQ(one->processes.front().user, "50100") << "a uid with no name is its number";
  EXPECT_EQ(one->holdings.size(), 90u);
  EXPECT_EQ(three->holdings, one->holdings);
  EXPECT_TRUE(std::is_sorted(one->holdings.begin(), one->holdings.end()));
  // Inodes no real namespace has, so that a /run/netns entry on the host
  // cannot match them; such entries may follow.
  ASSERT_GE(three->netns.size(), 3u);
  EXPECT_EQ(three->netns[0].inode, 9000000101u);
  EXPECT_EQ(three->netns[0].path, root.path() + "/100/ns/net") << "the lowest pid's path";
  EXPECT_EQ(three->netns[1].inode, 9000000102u);
  EXPECT_EQ(three->netns[2].inode, 9000000100u);
}

TEST(ProcfsSourceTree, MissingRootIsAnError) {
  ProcfsSource source("/nonexistent/proc");
  auto scan = source.scan();
  ASSERT_FALSE(scan.has_value());
  EXPECT_EQ(scan.error().errno_value, ENOENT);
}

// ---- the fake ----

TEST(FakeProcessSource, ReturnsCannedScanOrError) {
  FakeProcessSource fake;
  Process nginx;
  nginx.pid = 10;
  nginx.comm = "nginx";
  fake.add_process(nginx);
  fake.add_holding(10, 6, 1234, true);
  fake.add_netns(NetnsHandle{4026531840u, "/proc/10/ns/net", ""});
  auto scan = fake.scan();
  ASSERT_TRUE(scan.has_value());
  ASSERT_EQ(scan->processes.size(), 1u);
  EXPECT_EQ(scan->processes[0].comm, "nginx");
  EXPECT_EQ(scan->holdings, (std::vector<Holding>{{10, 6, 1234, true}}));
  ASSERT_EQ(scan->netns.size(), 1u);
  fake.set_error(Error{"boom", EIO});
  auto failed = fake.scan();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().errno_value, EIO);
  EXPECT_EQ(fake.scans(), 2);
}

// ---- the live walker against children the test controls ----

// Kills and reaps a child at scope exit, whatever the test's outcome.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { reap(); }
  pid_t pid() const { return pid_; }
  // Kills (if asked) and reaps; returns the wait status, or -1 when already reaped.
  int reap(bool kill_first = true) {
    if (pid_ <= 0) return -1;
    if (kill_first) kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
    return status;
  }

 private:
  pid_t pid_;
};

int tcp_listener(int extra_type) {
  int fd = socket(AF_INET, SOCK_STREAM | extra_type, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 4) != 0) {
    return -1;
  }
  return fd;
}

uint64_t inode_of(int fd) {
  struct stat st{};
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

uint64_t own_netns() {
  struct stat st{};
  return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// What the socket-holding child reports back through its pipe.
struct Report {
  int inherit_fd = -1;
  int cloexec_fd = -1;
  uint64_t inherit_inode = 0;
  uint64_t cloexec_inode = 0;
};

TEST(ProcfsSourceLive, FindsExactlyTheChildsSocketsAndFlags) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Keep only the pipe (as fd 3) and /dev/null as stdio: no inherited sockets.
    if (dup2(pipe_fds[1], 3) != 3) _exit(1);
    close_range(4, ~0U, 0);
    int null_fd = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) dup2(null_fd, fd);
    if (null_fd > 3) close(null_fd);
    prctl(PR_SET_NAME, "portrel-kid");
    Report report;
    report.inherit_fd = tcp_listener(0);
    report.cloexec_fd = tcp_listener(SOCK_CLOEXEC);
    report.inherit_inode = inode_of(report.inherit_fd);
    report.cloexec_inode = inode_of(report.cloexec_fd);
    if (write(3, &report, sizeof report) != sizeof report) _exit(1);
    for (;;) pause();
  }
  Child child(pid);
  close(pipe_fds[1]);
  Report report;
  ASSERT_EQ(read(pipe_fds[0], &report, sizeof report), static_cast<ssize_t>(sizeof report));
  close(pipe_fds[0]);
  ASSERT_GE(report.inherit_fd, 0);
  ASSERT_GE(report.cloexec_fd, 0);

  ProcfsSource source;
  auto scan = source.scan();
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  auto row = std::find_if(scan->processes.begin(), scan->processes.end(),
                          [&](const Process& p) { return p.pid == pid; });
  ASSERT_NE(row, scan->processes.end());
  EXPECT_EQ(row->ppid, getpid());
  EXPECT_EQ(row->comm, "portrel-kid");
  EXPECT_EQ(row->uid, getuid());
  EXPECT_EQ(row->netns, own_netns());
  EXPECT_FALSE(row->exe.empty());
  EXPECT_NE(row->pidns, 0u);

  std::vector<Holding> held;
  for (const Holding& h : scan->holdings) {
    if (h.pid == pid) held.push_back(h);
  }
  std::sort(held.begin(), held.end());
  std::vector<Holding> expected = {{pid, report.inherit_fd, report.inherit_inode, false},
                                   {pid, report.cloexec_fd, report.cloexec_inode, true}};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(held, expected);

  bool own_ns_listed = std::any_of(scan->netns.begin(), scan->netns.end(),
                                   [](const NetnsHandle& ns) { return ns.inode == own_netns(); });
  EXPECT_TRUE(own_ns_listed);
}

TEST(ProcfsSourceLive, PidGoneAfterOpenReadsAsVanished) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (;;) pause();
  }
  Child child(pid);
  int dir = open(("/proc/" + std::to_string(pid)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  child.reap();

  ProcfsSource source;
  ProcessScan scan;
  EXPECT_EQ(source.read_process(dir, pid, scan), ProcfsSource::Outcome::vanished);
  close(dir);
  EXPECT_EQ(scan.vanished, 1u);
  EXPECT_TRUE(scan.processes.empty());
  EXPECT_TRUE(scan.holdings.empty());
  EXPECT_TRUE(scan.warnings.empty());
}

// In a private pid namespace, pid N exits and a new process is forced onto the
// same number: reads through the old /proc/N fd must not return the new one.
// Exit codes of the namespace's init tell the parent what happened.
enum ReuseResult { kReuseOk = 0, kReuseSetup = 10, kReuseNotReused, kReuseReadNew, kReuseNotSeen };

int pid_reuse_init() {
  char dir[] = "/tmp/portrel-proc-XXXXXX";
  if (!mkdtemp(dir) || mount("proc", dir, "proc", 0, nullptr) != 0) return kReuseSetup;
  int ready[2];
  if (pipe(ready) != 0) return kReuseSetup;
  auto sleeper = [&ready](const char* name) {
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_NAME, name);
      if (write(ready[1], "x", 1) != 1) _exit(1);
      for (;;) pause();
    }
    char byte;
    if (pid < 0 || read(ready[0], &byte, 1) != 1) return -1;
    return static_cast<int>(pid);
  };
  int result = kReuseOk;
  pid_t old_pid = sleeper("portrel-old");
  int old_dir = open((std::string(dir) + "/" + std::to_string(old_pid)).c_str(),
                     O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (old_pid <= 0 || old_dir < 0) return kReuseSetup;
  kill(old_pid, SIGKILL);
  waitpid(old_pid, nullptr, 0);
  FILE* last = fopen("/proc/sys/kernel/ns_last_pid", "w");
  if (!last) return kReuseSetup;
  fprintf(last, "%d", old_pid - 1);
  fclose(last);
  pid_t new_pid = sleeper("portrel-new");
  ProcfsSource source(dir);
  ProcessScan through_old;
  if (new_pid != old_pid) {
    result = kReuseNotReused;
  } else if (source.read_process(old_dir, old_pid, through_old) !=
                 ProcfsSource::Outcome::vanished ||
             !through_old.processes.empty()) {
    result = kReuseReadNew;
  } else {
    auto fresh = source.scan();
    bool seen = fresh && std::any_of(fresh->processes.begin(), fresh->processes.end(),
                                     [&](const Process& p) {
                                       return p.pid == new_pid && p.comm == "portrel-new";
                                     });
    if (!seen) result = kReuseNotSeen;
  }
  if (new_pid > 0) kill(new_pid, SIGKILL);
  while (wait(nullptr) > 0) {
  }
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  return result;
}

TEST(ProcfsSourceLive, ReusedPidReadsAsVanishedThroughOldDir) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a pid namespace";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      _exit(kReuseSetup);
    }
    pid_t init = fork();
    if (init == 0) _exit(pid_reuse_init());
    int status = 0;
    if (init < 0 || waitpid(init, &status, 0) != init || !WIFEXITED(status)) _exit(kReuseSetup);
    _exit(WEXITSTATUS(status));
  }
  Child child(pid);
  int status = child.reap(/*kill_first=*/false);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kReuseOk)
      << "10: setup failed, 11: pid not reused, 12: old dir read the new process, "
         "13: new process not seen by a fresh scan";
}

TEST(ProcfsSourceLive, UnprivilegedScanKeepsRowsAndWarnsOnce) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  struct Seen {
    size_t processes = 0, fd_unreadable = 0, warnings = 0;
    bool has_pid1 = false, warning_says_root = false, ok = false;
  };
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Seen seen;
    if (setgid(65534) == 0 && setuid(65534) == 0) {
      ProcfsSource source;
      if (auto scan = source.scan()) {
        seen.ok = true;
        seen.processes = scan->processes.size();
        seen.fd_unreadable = scan->fd_unreadable;
        seen.warnings = scan->warnings.size();
        for (const Process& p : scan->processes) seen.has_pid1 |= p.pid == 1;
        for (const std::string& w : scan->warnings) {
          seen.warning_says_root |= w.find("fd tables unreadable: run as root") != std::string::npos;
        }
      }
    }
    _exit(write(pipe_fds[1], &seen, sizeof seen) == sizeof seen ? 0 : 1);
  }
  Child child(pid);
  close(pipe_fds[1]);
  Seen seen;
  ASSERT_EQ(read(pipe_fds[0], &seen, sizeof seen), static_cast<ssize_t>(sizeof seen));
  close(pipe_fds[0]);
  ASSERT_TRUE(seen.ok);
  EXPECT_TRUE(seen.has_pid1) << "an unreadable fd table keeps its process row";
  EXPECT_GT(seen.fd_unreadable, 0u);
  EXPECT_LT(seen.fd_unreadable, seen.processes) << "its own fd table is readable";
  EXPECT_EQ(seen.warnings, 1u);
  EXPECT_TRUE(seen.warning_says_root);
}

TEST(ProcfsSourceLive, ScanSeesItself) {
  ProcfsSource source;
  auto scan = source.scan();
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  auto self = std::find_if(scan->processes.begin(), scan->processes.end(),
                           [](const Process& p) { return p.pid == getpid(); });
  ASSERT_NE(self, scan->processes.end());
  EXPECT_EQ(self->ppid, getppid());
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe);
  ASSERT_GT(n, 0);
  EXPECT_EQ(self->exe, std::string(exe, n));
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::stringstream raw;
  raw << cmdline.rdbuf();
  EXPECT_EQ(self->cmdline, procfs::join_cmdline(raw.str()));
}

}  // namespace
}  // namespace portrel
