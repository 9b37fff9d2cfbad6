// Live kernel: the bpf source against the /proc walk. Both must give the same
// relation on every lab scenario and on the whole host (allowing, and reporting,
// sockets that changed between the reads); the options bpf reads from struct sock
// must equal getsockopt() on the same sockets; and auto must fall back to /proc
// when the programs cannot load (forced with PORTREL_BPF_FAIL).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <net/if.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "../cli/run.h"
#include "lab/lab.h"
#include "portrel/capture.h"
#include "sources/bpf/bpf_loader.h"
#include "sources/bpf/bpf_source.h"
#include "sources/bpf/portrel_bpf.h"
#include "sources/netns.h"
#include "sources/sock_diag.h"
#include "shell.h"
#include "truth.h"

namespace portrel::testing {
namespace {

using Source = CaptureOptions::Source;

class BpfEveryScenario : public ::testing::TestWithParam<std::string_view> {};

TEST_P(BpfEveryScenario, SameRelationAsProcfsAndExactOptions) {
  REQUIRE_BPF();
  lab::LabOptions options{.procs = 8, .per_proc = 6};
  auto lab = lab::Lab::start(GetParam(), options);
  ASSERT_TRUE(lab) << lab.error().message;
  const lab::GroundTruth& truth = lab->truth();
  Snapshot bpf = capture_from_source(Source::bpf);
  Snapshot procfs = capture_from_source(Source::procfs);
  expect_matches_truth(bpf, truth);

  std::set<pid_t> pids;
  for (const lab::LabProcess& p : truth.processes) pids.insert(p.pid);
  EXPECT_EQ(rows_of(bpf, pids), rows_of(procfs, pids));
  expect_same_processes(bpf, procfs, pids);
  for (const lab::LabSocket& s : truth.sockets) {
    if (s.family == 0) continue;
    const Socket* row = bpf.socket(s.inode);
    ASSERT_NE(row, nullptr) << "inode " << s.inode;
    EXPECT_EQ(row->reuseaddr_from, OptSource::bpf) << "inode " << s.inode;
    EXPECT_EQ(row->reuseport_from, OptSource::bpf) << "inode " << s.inode;
    EXPECT_EQ(row->reuseaddr == Tristate::yes, s.reuseaddr) << "inode " << s.inode;
    EXPECT_EQ(row->reuseport == Tristate::yes, s.reuseport) << "inode " << s.inode;
  }
}

INSTANTIATE_TEST_SUITE_P(Lab, BpfEveryScenario, ::testing::ValuesIn(lab::scenario_names()),
                         [](const auto& info) {
                           std::string name(info.param);
                           std::erase(name, '-');
                           return name;
                         });

TEST(BpfSource, PrivateNamespaceMatchesProcfs) {
  REQUIRE_BPF();
  auto lab = lab::Lab::start("prefork", {.workers = 3, .private_netns = true});
  ASSERT_TRUE(lab) << lab.error().message;
  Snapshot bpf = capture_from_source(Source::bpf);
  expect_matches_truth(bpf, lab->truth());
  std::set<pid_t> pids;
  for (const lab::LabProcess& p : lab->truth().processes) pids.insert(p.pid);
  EXPECT_EQ(rows_of(bpf, pids), rows_of(capture_from_source(Source::procfs), pids));
}

// bpf, then /proc, then bpf again: a holding both bpf reads saw must be in the
// /proc read, and one the /proc read saw must be in a bpf read, unless its
// process was not readable from /proc or changed between the reads.
TEST(BpfSource, WholeHostSameAsProcfs) {
  REQUIRE_BPF();
  // Whatever else the host runs (a fresh machine may hold no socket at all),
  // these are held across the reads: an inherited listener and several ports.
  lab::Lab prefork = start_lab("prefork", {.workers = 2});
  lab::Lab multi = start_lab("multi-port");
  CaptureOptions all;
  Snapshot first = capture_from_source(Source::bpf, all);
  Snapshot procfs = capture_from_source(Source::procfs, all);
  Snapshot second = capture_from_source(Source::bpf, all);
  auto everything = [](const Snapshot& s) {
    std::set<Row> rows;
    for (const Holding& h : s.holdings()) rows.emplace(h.pid, h.fd, h.inode, h.cloexec);
    return rows;
  };
  std::set<Row> a = everything(first), p = everything(procfs), b = everything(second);
  auto same_process = [&](pid_t pid) {
    const Process* x = first.process(pid);
    const Process* y = procfs.process(pid);
    const Process* z = second.process(pid);
    return x && y && z && x->start_time == y->start_time && y->start_time == z->start_time;
  };
  size_t stable = 0, missing_in_procfs = 0, missing_in_bpf = 0, changed = 0;
  for (const Row& r : a) {
    if (!b.contains(r)) continue;
    ++stable;
    if (p.contains(r)) continue;
    pid_t pid = std::get<0>(r);
    uint64_t inode = std::get<2>(r);
    if (!same_process(pid) || !procfs.socket(inode)) {
      ++changed;
      continue;
    }
    ++missing_in_procfs;
    ADD_FAILURE() << "bpf (twice) but not /proc: pid " << pid << " fd " << std::get<1>(r)
                  << " inode " << inode;
  }
  for (const Row& r : p) {
    if (a.contains(r) || b.contains(r)) continue;
    pid_t pid = std::get<0>(r);
    if (!same_process(pid) || !first.socket(std::get<2>(r)) ||
        !second.socket(std::get<2>(r))) {
      ++changed;
      continue;
    }
    ++missing_in_bpf;
    ADD_FAILURE() << "/proc but no bpf read: pid " << pid << " fd " << std::get<1>(r)
                  << " inode " << std::get<2>(r);
  }
  ASSERT_GT(stable, 0u) << "no socket held across the reads: nothing compared";
  RecordProperty("stable_holdings", static_cast<int>(stable));
  RecordProperty("changed_between_reads", static_cast<int>(changed));
  std::cout << "[ bpf/procfs ] " << stable << " holdings compared, " << changed
            << " changed between reads, " << missing_in_procfs << " + " << missing_in_bpf
            << " unexplained\n";
}

struct OwnSocket {
  int fd = -1;
  int family = AF_INET;
  uint64_t inode = 0;
  uint16_t port = 0;
  ~OwnSocket() {
    if (fd >= 0) close(fd);
  }
};

int getopt_int(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  EXPECT_EQ(getsockopt(fd, level, name, &value, &len), 0);
  return value;
}

// Makes a bound socket on loopback with the given options.
void make_socket(OwnSocket& s, int family, int type, bool reuseaddr, bool reuseport,
                 bool v6only) {
  s.family = family;
  s.fd = socket(family, type | SOCK_CLOEXEC, 0);
  ASSERT_GE(s.fd, 0);
  int one = 1;
  if (reuseaddr) {
    ASSERT_EQ(setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  }
  if (reuseport) {
    ASSERT_EQ(setsockopt(s.fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
  }
  if (family == AF_INET6) {
    int v = v6only ? 1 : 0;
    ASSERT_EQ(setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v), 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ASSERT_EQ(bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &len);
    s.port = ntohs(a.sin6_port);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &len);
    s.port = ntohs(a.sin_port);
  }
  if (type == SOCK_STREAM) {
    ASSERT_EQ(listen(s.fd, 4), 0);
  }
  struct stat st{};
  ASSERT_EQ(fstat(s.fd, &st), 0);
  s.inode = st.st_ino;
}

TEST(BpfSource, OptionsEqualGetsockoptAndProbe) {
  REQUIRE_BPF();
  OwnSocket s[6];
  make_socket(s[0], AF_INET, SOCK_STREAM, true, false, false);
  make_socket(s[1], AF_INET, SOCK_STREAM, false, true, false);
  make_socket(s[2], AF_INET6, SOCK_STREAM, true, true, true);
  make_socket(s[3], AF_INET6, SOCK_STREAM, false, false, false);
  make_socket(s[4], AF_INET, SOCK_DGRAM, true, true, false);
  make_socket(s[5], AF_INET6, SOCK_DGRAM, false, false, true);
  Snapshot bpf = capture_from_source(Source::bpf);
  CaptureOptions probe_options;
  probe_options.probe_sockopts = true;
  Snapshot probed = capture_from_source(Source::procfs, probe_options);
  auto tri = [](int v) { return v ? Tristate::yes : Tristate::no; };
  for (const OwnSocket& o : s) {
    const Socket* row = bpf.socket(o.inode);
    ASSERT_NE(row, nullptr) << "inode " << o.inode;
    EXPECT_EQ(row->reuseaddr, tri(getopt_int(o.fd, SOL_SOCKET, SO_REUSEADDR)));
    EXPECT_EQ(row->reuseport, tri(getopt_int(o.fd, SOL_SOCKET, SO_REUSEPORT)));
    EXPECT_EQ(row->reuseaddr_from, OptSource::bpf);
    EXPECT_EQ(row->reuseport_from, OptSource::bpf);
    const Socket* other = probed.socket(o.inode);
    ASSERT_NE(other, nullptr) << "inode " << o.inode;
    EXPECT_EQ(other->reuseaddr_from, OptSource::probe) << "inode " << o.inode;
    EXPECT_EQ(row->reuseaddr, other->reuseaddr) << "inode " << o.inode;
    EXPECT_EQ(row->reuseport, other->reuseport) << "inode " << o.inode;
    if (o.family == AF_INET6) {
      EXPECT_EQ(row->v6only, tri(getopt_int(o.fd, IPPROTO_IPV6, IPV6_V6ONLY)));
      EXPECT_EQ(row->v6only_from, OptSource::bpf);
      EXPECT_EQ(row->v6only, other->v6only) << "inode " << o.inode;
    }
  }
}

// Connects a TCP client to the loopback listener L; returns the client fd.
int connect_to(const OwnSocket& l) {
  int fd = socket(l.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_storage to{};
  socklen_t len;
  if (l.family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&to);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(l.port);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&to);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons(l.port);
    len = sizeof *a;
  }
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), len), 0);
  return fd;
}

uint16_t local_port_of(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

// The rows of the kernel's tables are what sock_diag lists, field by field,
// for every kind of socket and state the tables hold: listeners, connections
// with unread bytes, TIME_WAIT (no file, no options), UDP bound, connected and
// bound to a device, and a socket made under another fsuid.
TEST(BpfSource, TableRowsEqualSockDiag) {
  REQUIRE_BPF();
  auto source = BpfSource::open({});
  ASSERT_TRUE(source) << source.error().message;
  ASSERT_TRUE((*source)->has_table_rows()) << "the kernel did not load the table rows";
  OwnSocket l4, l6, u4, u6, dev;
  make_socket(l4, AF_INET, SOCK_STREAM, true, false, false);
  make_socket(l6, AF_INET6, SOCK_STREAM, false, true, true);
  make_socket(u4, AF_INET, SOCK_DGRAM, true, true, false);
  make_socket(u6, AF_INET6, SOCK_DGRAM, false, false, false);
  dev.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(dev.fd, 0);
  ASSERT_EQ(setsockopt(dev.fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3), 0);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  ASSERT_EQ(bind(dev.fd, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  // Connected UDP, made under another fsuid (this thread's only).
  setfsuid(4321);
  OwnSocket other_uid;
  other_uid.fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  setfsuid(0);
  ASSERT_GE(other_uid.fd, 0);
  sockaddr_in6 to6{};
  to6.sin6_family = AF_INET6;
  to6.sin6_addr = in6addr_loopback;
  to6.sin6_port = htons(u6.port);
  ASSERT_EQ(connect(other_uid.fd, reinterpret_cast<sockaddr*>(&to6), sizeof to6), 0);
  // Connections, one with bytes its reader has not read.
  int c4 = connect_to(l4), c6 = connect_to(l6);
  int a4 = accept4(l4.fd, nullptr, nullptr, SOCK_CLOEXEC);
  int a6 = accept4(l6.fd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(a4, 0);
  ASSERT_GE(a6, 0);
  ASSERT_EQ(write(c6, "unread", 6), 6);
  // TIME_WAIT: the side that closes first keeps the pair's ports.
  int tw_client = connect_to(l4);
  int tw_server = accept4(l4.fd, nullptr, nullptr, SOCK_CLOEXEC);
  uint16_t tw_port = local_port_of(tw_client);
  close(tw_client);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  close(tw_server);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  auto ns = current_netns_inode();
  ASSERT_TRUE(ns);
  auto listed = [&](Proto proto) {
    auto rows = (*source)->table_rows(proto, *ns);
    EXPECT_TRUE(rows) << (rows ? "" : rows.error().message);
    return rows ? std::move(*rows) : std::vector<Socket>();
  };
  std::vector<Socket> rows = listed(Proto::tcp), udp = listed(Proto::udp);
  rows.insert(rows.end(), udp.begin(), udp.end());
  auto diag = dump_current_netns(*ns, {});
  ASSERT_TRUE(diag) << diag.error().message;

  std::set<uint64_t> mine;
  for (int fd : {l4.fd, l6.fd, u4.fd, u6.fd, dev.fd, other_uid.fd, c4, c6, a4, a6}) {
    struct stat st{};
    ASSERT_EQ(fstat(fd, &st), 0);
    mine.insert(st.st_ino);
  }
  // A socket is named by its inode, the TIME_WAIT one by its two ports.
  auto ours = [&](const Socket& s) {
    return mine.contains(s.inode) || (s.inode == 0 && s.proto == Proto::tcp &&
                                      s.local_port == tw_port && s.remote_port == l4.port);
  };
  auto key = [](const Socket& s) {
    return std::tuple(s.inode, s.proto, s.local_port, s.remote_port, s.state);
  };
  std::map<decltype(key(Socket())), Socket> from_rows, from_diag;
  for (const Socket& s : rows) {
    if (ours(s)) {
      EXPECT_TRUE(from_rows.emplace(key(s), s).second) << "listed twice: " << s.inode;
    }
  }
  for (const Socket& s : *diag) {
    if (ours(s)) from_diag.emplace(key(s), s);
  }
  EXPECT_EQ(from_rows.size(), mine.size() + 1) << "every socket made here, and the TIME_WAIT one";
  ASSERT_EQ(from_rows.size(), from_diag.size());
  bool saw_unread = false, saw_time_wait = false, saw_uid = false, saw_dev = false;
  for (const auto& [k, r] : from_rows) {
    auto it = from_diag.find(k);
    ASSERT_NE(it, from_diag.end()) << "inode " << r.inode << " port " << r.local_port;
    const Socket& d = it->second;
    SCOPED_TRACE("inode " + std::to_string(r.inode) + " port " + std::to_string(r.local_port));
    EXPECT_EQ(r.cookie, d.cookie);
    EXPECT_EQ(r.netns, d.netns);
    EXPECT_EQ(r.family, d.family);
    EXPECT_EQ(r.state, d.state);
    EXPECT_EQ(r.local_addr, d.local_addr);
    EXPECT_EQ(r.remote_addr, d.remote_addr);
    EXPECT_EQ(r.uid, d.uid);
    EXPECT_EQ(r.bound_dev, d.bound_dev);
    EXPECT_EQ(r.rx_queue, d.rx_queue);
    EXPECT_EQ(r.tx_queue, d.tx_queue);
    if (d.v6only_from == OptSource::diag) {
      EXPECT_EQ(r.v6only, d.v6only);
    }
    if (r.inode == 0) {
      saw_time_wait = saw_time_wait || r.state == kStateTimeWait;
      EXPECT_EQ(r.reuseport_from, OptSource::none) << "a TIME_WAIT socket has no options";
      continue;
    }
    EXPECT_EQ(r.reuseport_from, OptSource::bpf);
    saw_unread = saw_unread || r.rx_queue == 6;
    saw_uid = saw_uid || r.uid == 4321;
    saw_dev = saw_dev || r.bound_dev == if_nametoindex("lo");
  }
  EXPECT_TRUE(saw_unread) << "the 6 unread bytes";
  EXPECT_TRUE(saw_time_wait);
  EXPECT_TRUE(saw_uid) << "the socket made with fsuid 4321";
  EXPECT_TRUE(saw_dev) << "the socket bound to lo";
  for (const OwnSocket* o : {&l4, &l6, &u4, &u6}) {
    const Socket* r = nullptr;
    for (const Socket& s : rows) {
      if (s.inode == o->inode) r = &s;
    }
    ASSERT_NE(r, nullptr);
    auto tri = [](int v) { return v ? Tristate::yes : Tristate::no; };
    EXPECT_EQ(r->reuseaddr, tri(getopt_int(o->fd, SOL_SOCKET, SO_REUSEADDR)));
    EXPECT_EQ(r->reuseport, tri(getopt_int(o->fd, SOL_SOCKET, SO_REUSEPORT)));
    if (o->family == AF_INET6) {
      EXPECT_EQ(r->v6only, tri(getopt_int(o->fd, IPPROTO_IPV6, IPV6_V6ONLY)));
    }
  }
  for (int fd : {c4, c6, a4, a6}) close(fd);
}

// A listeners-only reader gets the TCP listeners and no other TCP socket (the
// walk ends at the first), and every UDP socket (bound ones hold their port).
TEST(BpfSource, TableRowsOfAListenersOnlyReader) {
  REQUIRE_BPF();
  BpfSourceOptions options;
  options.filter.listening_only = true;
  auto source = BpfSource::open(std::move(options));
  ASSERT_TRUE(source) << source.error().message;
  ASSERT_TRUE((*source)->has_table_rows());
  OwnSocket listener, udp;
  make_socket(listener, AF_INET, SOCK_STREAM, false, false, false);
  make_socket(udp, AF_INET, SOCK_DGRAM, false, false, false);
  int client = connect_to(listener);
  int accepted = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  struct stat st{};
  ASSERT_EQ(fstat(client, &st), 0);
  auto ns = current_netns_inode();
  ASSERT_TRUE(ns);
  auto tcp = (*source)->table_rows(Proto::tcp, *ns);
  ASSERT_TRUE(tcp) << tcp.error().message;
  auto udp_rows = (*source)->table_rows(Proto::udp, *ns);
  ASSERT_TRUE(udp_rows) << udp_rows.error().message;
  close(client);
  close(accepted);
  bool saw_listener = false;
  for (const Socket& s : *tcp) {
    EXPECT_EQ(s.state, kStateListen) << "inode " << s.inode;
    EXPECT_NE(s.inode, st.st_ino);
    saw_listener = saw_listener || s.inode == listener.inode;
  }
  EXPECT_TRUE(saw_listener);
  EXPECT_TRUE(
      std::ranges::any_of(*udp_rows, [&](const Socket& s) { return s.inode == udp.inode; }));
}

// A lean walk leaves held TCP sockets' struct sock unread (their options come
// from the table rows), and still reads the others'; a capture that uses it
// has every TCP socket's options exact all the same.
TEST(BpfSource, LeanWalkLeavesTcpSocketsToTheTableRows) {
  REQUIRE_BPF();
  OwnSocket tcp, udp;
  make_socket(tcp, AF_INET6, SOCK_STREAM, true, true, true);
  make_socket(udp, AF_INET, SOCK_DGRAM, true, false, false);
  auto flags_of = [&](bool lean) {
    std::map<uint64_t, BpfSocket> mine;
    auto it = load_bpf_iterators(BpfFilter{.ports = {}, .listening_only = false, .lean_walk = lean});
    EXPECT_TRUE(it) << it.error().message;
    if (!it) return mine;
    EXPECT_TRUE((*it)->has_rows());
    std::string bytes;
    auto size = (*it)->task_files([&](std::string_view chunk) { bytes.append(chunk); }, false);
    EXPECT_TRUE(size) << size.error().message;
    auto walk = decode_walk(bytes);
    EXPECT_TRUE(walk) << (walk ? "" : walk.error().message);
    if (!walk) return mine;
    for (const BpfSocket& s : walk->sockets) {
      if (s.pid == getpid() && (s.inode == tcp.inode || s.inode == udp.inode)) {
        mine[s.inode] = s;
      }
    }
    return mine;
  };
  auto lean = flags_of(true), full = flags_of(false);
  ASSERT_EQ(lean.size(), 2u);
  ASSERT_EQ(full.size(), 2u);
  EXPECT_FALSE(lean[tcp.inode].options) << "a lean TCP record carries no options";
  EXPECT_EQ(lean[tcp.inode].family, AF_INET6) << "the family comes from the socket's ops";
  EXPECT_EQ(lean[tcp.inode].fd, tcp.fd);
  EXPECT_TRUE(lean[tcp.inode].cloexec);
  ASSERT_TRUE(lean[udp.inode].options) << "UDP (and UDP-Lite, RAW) are read whole";
  EXPECT_TRUE(lean[udp.inode].options->reuseaddr);
  ASSERT_TRUE(full[tcp.inode].options);
  EXPECT_TRUE(full[tcp.inode].options->reuseport);
  EXPECT_EQ(full[tcp.inode].port, tcp.port);

  Snapshot snap = capture_from_source(Source::bpf);  // --all: the lean walk
  const Socket* row = snap.socket(tcp.inode);
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->reuseport, Tristate::yes);
  EXPECT_EQ(row->v6only, Tristate::yes);
  EXPECT_EQ(row->reuseport_from, OptSource::bpf);
  auto held = snap.holders(tcp.inode);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].fd, tcp.fd);
}

TEST(BpfSource, PortFilterKeepsOnlyThatPort) {
  REQUIRE_BPF();
  OwnSocket mine, other;
  make_socket(mine, AF_INET, SOCK_STREAM, false, false, false);
  make_socket(other, AF_INET, SOCK_STREAM, false, false, false);
  CaptureOptions options;
  options.port = mine.port;
  Snapshot snap = capture_from_source(Source::bpf, options);
  ASSERT_NE(snap.socket(mine.inode), nullptr);
  EXPECT_EQ(snap.socket(other.inode), nullptr);
  for (const Socket& s : snap.sockets()) EXPECT_EQ(s.local_port, mine.port);
  for (const Holding& h : snap.holdings()) EXPECT_NE(h.inode, other.inode);
  auto held = snap.holders(mine.inode);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].pid, getpid());
  EXPECT_EQ(held[0].fd, mine.fd);
  EXPECT_TRUE(held[0].cloexec);
  const Process* self = snap.process(getpid());
  ASSERT_NE(self, nullptr);
  EXPECT_FALSE(self->exe.empty());
}

TEST(BpfSource, TableWalkCanStopAfterTheListeners) {
  REQUIRE_BPF();
  OwnSocket server;
  make_socket(server, AF_INET, SOCK_STREAM, false, false, false);
  ASSERT_EQ(listen(server.fd, 8), 0);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(server.port);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  struct stat st;
  ASSERT_EQ(fstat(client, &st), 0);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ASSERT_EQ(getsockname(client, reinterpret_cast<sockaddr*>(&local), &len), 0);

  auto it = load_bpf_iterators(BpfFilter{});
  ASSERT_TRUE(it) << it.error().message;
  auto inodes = [&](bool listeners_only) {
    TableQuery q;
    q.ports = {server.port, ntohs(local.sin_port)};
    q.udp = false;
    q.tcp_listeners_only = listeners_only;
    auto bytes = (*it)->tables(q);
    EXPECT_TRUE(bytes) << (bytes ? "" : bytes.error().message);
    std::set<uint64_t> out;
    if (!bytes) return out;
    for (const BpfSocket& s : decode_sockets(*bytes).value_or(std::vector<BpfSocket>{})) {
      EXPECT_TRUE(s.port == server.port || s.port == ntohs(local.sin_port)) << s.port;
      out.insert(s.inode);
    }
    return out;
  };
  std::set<uint64_t> all = inodes(false), listeners = inodes(true);
  close(client);
  EXPECT_TRUE(all.contains(server.inode));
  EXPECT_TRUE(all.contains(st.st_ino));
  EXPECT_TRUE(listeners.contains(server.inode));
  EXPECT_FALSE(listeners.contains(st.st_ino)) << "the walk went on past the listeners";
}

// A child of this test that holds a listening socket. With PROCTITLE it first
// overwrites the NUL that ends its argument area, as setproctitle(3) does,
// which makes /proc/PID/cmdline read on into the environment.
class Holder {
 public:
  explicit Holder(bool proctitle) {
    int ready[2];
    if (pipe(ready) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      if (proctitle) {
        // Fields 48 and 49 of /proc/self/stat: arg_start and arg_end.
        std::ifstream stat("/proc/self/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::string field;
        unsigned long arg_end = 0;
        for (int i = 3; i <= 49 && fields >> field; ++i) {
          if (i == 49) arg_end = std::stoul(field);
        }
        if (arg_end != 0) *reinterpret_cast<char*>(arg_end - 1) = 'X';
      }
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in any{};
      any.sin_family = AF_INET;
      any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
          listen(fd, 1) != 0 || write(ready[1], "r", 1) != 1) {
        _exit(1);
      }
      pause();
      _exit(0);
    }
    close(ready[1]);
    char c;
    ok_ = pid_ > 0 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
  }
  ~Holder() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  bool ok() const { return ok_; }

 private:
  pid_t pid_ = -1;
  bool ok_ = false;
};

// The sleepable fd walk gives holders' exe and cmdline as /proc shows them, and
// leaves to /proc what it cannot give the same: a cmdline rewritten by
// setproctitle, or one longer than the walk carries, and every exe path where
// the kernel refuses bpf_d_path on the exe file (the exe_path part).
TEST(BpfSource, HolderTextsFromTheWalkEqualProc) {
  REQUIRE_BPF();
  BpfLoadReport report;
  auto it = load_bpf_iterators(BpfFilter{}, &report);
  ASSERT_TRUE(it) << it.error().message;
  ASSERT_TRUE((*it)->holder_details())
      << "the sleepable fd walk did not load: this kernel lacks sleepable bpf iterators or "
         "bpf_copy_from_user_task (Linux 5.18 and later have them)";
  ASSERT_EQ(report.parts.size(), kBpfParts);
  const BpfPartStatus& exe_part = report.parts[static_cast<size_t>(BpfPart::exe_path)];
  const bool exe_in_walk = exe_part.state == BpfPartState::loaded;
  std::cout << "[ exe path ] " << (exe_in_walk ? "from the walk" : "from /proc: ")
            << exe_part.reason << "\n";
  Holder plain(false), retitled(true);
  ASSERT_TRUE(plain.ok() && retitled.ok());
  std::string long_arg(PORTREL_CMDLINE_MAX, 'a');
  Background python("python3 -c 'import socket, time\n"
                    "s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen()\n"
                    "print(s.getsockname()[1], flush=True); time.sleep(60)' " + long_arg);
  ASSERT_FALSE(python.line().empty());

  std::string bytes;
  auto size = (*it)->task_files([&](std::string_view chunk) { bytes.append(chunk); }, true);
  ASSERT_TRUE(size) << size.error().message;
  EXPECT_EQ(*size, bytes.size());
  auto walk = decode_walk(bytes);
  ASSERT_TRUE(walk) << walk.error().message;
  std::map<pid_t, BpfHolder> holders;
  for (BpfHolder& h : walk->holders) holders[h.task.pid] = h;
  ASSERT_TRUE(holders.contains(plain.pid()) && holders.contains(retitled.pid()) &&
              holders.contains(python.pid()));
  const BpfHolder& p = holders[plain.pid()];
  EXPECT_EQ(p.exe_unread, !exe_in_walk);
  EXPECT_FALSE(p.cmdline_unread);
  EXPECT_TRUE(holders[retitled.pid()].cmdline_unread) << "setproctitle: /proc reads on";
  EXPECT_TRUE(holders[python.pid()].cmdline_unread) << "longer than the walk carries";
  EXPECT_EQ(holders[python.pid()].exe_unread, !exe_in_walk);

  CaptureOptions all;
  Snapshot bpf = capture_from_source(Source::bpf, all);
  Snapshot procfs = capture_from_source(Source::procfs, all);
  for (pid_t pid : {plain.pid(), retitled.pid(), python.pid()}) {
    const Process* a = bpf.process(pid);
    const Process* b = procfs.process(pid);
    ASSERT_TRUE(a && b) << "pid " << pid;
    EXPECT_FALSE(a->exe.empty() || a->cmdline.empty()) << "pid " << pid;
    EXPECT_EQ(std::tie(a->exe, a->cmdline, a->cgroup), std::tie(b->exe, b->cmdline, b->cgroup))
        << "pid " << pid;
  }
  if (exe_in_walk) {
    EXPECT_EQ(bpf.process(plain.pid())->exe, p.exe);
  }
  EXPECT_GT(bpf.process(python.pid())->cmdline.size(), long_arg.size());
}

// Where the walk cannot give holders' texts (kernels before 5.18), they come
// from /proc, the same.
TEST(BpfSource, HolderTextsFromProcWithoutTheWalk) {
  REQUIRE_BPF();
  auto lab = lab::Lab::start("prefork", {.workers = 2});
  ASSERT_TRUE(lab) << lab.error().message;
  auto texts = [](bool walk_texts) {
    BpfSourceOptions options;
    options.process_details = CaptureOptions::Details::command;
    options.walk_texts = walk_texts;
    auto source = BpfSource::open(options);
    EXPECT_TRUE(source) << (source ? "" : source.error().message);
    std::map<pid_t, std::pair<std::string, std::string>> out;
    if (!source) return out;
    auto scan = (*source)->scan();
    EXPECT_TRUE(scan) << (scan ? "" : scan.error().message);
    if (!scan) return out;
    for (const Process& p : scan->processes) out[p.pid] = {p.exe, p.cmdline};
    return out;
  };
  auto from_walk = texts(true), from_proc = texts(false);
  std::set<pid_t> holders;
  for (const lab::LabSocket& s : lab->truth().sockets) holders.insert(s.pid);
  ASSERT_FALSE(holders.empty());
  for (pid_t pid : holders) {
    ASSERT_TRUE(from_walk.contains(pid) && from_proc.contains(pid)) << "pid " << pid;
    EXPECT_FALSE(from_walk[pid].first.empty()) << "pid " << pid;
    EXPECT_EQ(from_walk[pid], from_proc[pid]) << "pid " << pid;
  }
}

TEST(BpfSource, AutoFallsBackToProcfsWhenBpfFailsToLoad) {
  REQUIRE_BPF();
  ASSERT_EQ(setenv(kBpfFailEnv, "1", 1), 0);
  CapturePlan info;
  auto snap = capture(CaptureOptions{}, &info);
  CaptureOptions only_bpf;
  only_bpf.source = Source::bpf;
  auto refused = capture(only_bpf);
  unsetenv(kBpfFailEnv);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(info.used, Source::procfs);
  EXPECT_NE(info.fallback_reason.find(kBpfFailEnv), std::string::npos)
      << info.fallback_reason;
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("bpf"), std::string::npos);

  CapturePlan normal;
  ASSERT_TRUE(capture(CaptureOptions{}, &normal));
  EXPECT_EQ(normal.used, Source::bpf) << normal.fallback_reason;
}

TEST(BpfSourceCli, VerboseSaysWhichSourceAndWhyItFellBack) {
  REQUIRE_BPF();
  CliRun fell = run_portrel({"--verbose"}, {std::string(kBpfFailEnv) + "=1"});
  EXPECT_NE(fell.err.find("reading /proc instead"), std::string::npos) << fell.err;
  EXPECT_NE(fell.err.find("from /proc"), std::string::npos) << fell.err;
  CliRun quiet = run_portrel({}, {std::string(kBpfFailEnv) + "=1"});
  EXPECT_EQ(quiet.err.find("reading /proc instead"), std::string::npos) << quiet.err;
  CliRun refused = run_portrel({"--source", "bpf"}, {std::string(kBpfFailEnv) + "=1"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("bpf source"), std::string::npos) << refused.err;
  CliRun used = run_portrel({"--verbose", "--source", "bpf"});
  EXPECT_NE(used.err.find("with bpf iterators"), std::string::npos) << used.err;
  CliRun bad = run_portrel({"--source", "kernel"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

// A bpffs of the test's own, mounted on a temporary directory, with
// PORTREL_BPF_PINS pointing into it; unmounted and removed at scope exit.
class OwnBpffs {
 public:
  OwnBpffs() {
    char dir[] = "/tmp/portrel-bpffs-XXXXXX";
    if (mkdtemp(dir) == nullptr) return;
    mount_ = dir;
    if (mount("bpf", dir, "bpf", 0, nullptr) != 0) {
      error_ = std::string("mount -t bpf: ") + strerror(errno);
      rmdir(dir);
      mount_.clear();
      return;
    }
    pins_ = mount_ + "/portrel";
    setenv(kBpfPinsEnv, pins_.c_str(), 1);
  }
  ~OwnBpffs() {
    unsetenv(kBpfPinsEnv);
    if (mount_.empty()) return;
    umount2(mount_.c_str(), MNT_DETACH);
    rmdir(mount_.c_str());
  }
  OwnBpffs(const OwnBpffs&) = delete;
  OwnBpffs& operator=(const OwnBpffs&) = delete;
  bool ok() const { return !mount_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& pins() const { return pins_; }

 private:
  std::string mount_, pins_, error_;
};

// The inodes of the sockets one fd walk gives, and (into PORTS) their ports.
std::set<uint64_t> inodes_read(BpfIterators& it, std::set<uint16_t>* ports = nullptr) {
  std::string bytes;
  // With holder records too, where the kernel runs them: records of two sizes.
  auto size = it.task_files(
      [&](std::string_view chunk) {
        auto whole = decode_walk(chunk);
        EXPECT_TRUE(whole) << "a record split across reads: " << whole.error().message;
        bytes.append(chunk);
      },
      true);
  EXPECT_TRUE(size) << (size ? "" : size.error().message);
  if (!size) return {};
  EXPECT_EQ(*size, bytes.size()) << "every record passes the callback";
  auto rows = decode_sockets(bytes);
  EXPECT_TRUE(rows) << (rows ? "" : rows.error().message);
  std::set<uint64_t> inodes;
  if (rows) {
    for (const BpfSocket& s : *rows) {
      inodes.insert(s.inode);
      if (ports != nullptr) ports->insert(s.port);
    }
  }
  return inodes;
}

TEST(BpfPins, SecondLoadOpensThePinsAndEachReaderKeepsItsFilter) {
  REQUIRE_BPF();
  OwnBpffs fs;
  ASSERT_TRUE(fs.ok()) << "cannot mount a bpffs for the test: " << fs.error();
  OwnSocket mine, other;
  make_socket(mine, AF_INET, SOCK_STREAM, false, false, false);
  make_socket(other, AF_INET, SOCK_STREAM, false, false, false);

  auto first = load_bpf_iterators(BpfFilter{});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_NE((*first)->origin().find("loaded and pinned in " + fs.pins()), std::string::npos)
      << (*first)->origin();
  size_t versions = 0;
  for (const auto& e : std::filesystem::directory_iterator(fs.pins())) {
    ++versions;
    EXPECT_TRUE(std::filesystem::exists(e.path() / "task_files")) << e.path();
  }
  EXPECT_EQ(versions, 1u);

  auto second = load_bpf_iterators(BpfFilter{{mine.port}, false});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ((*second)->origin().rfind("pinned in " + fs.pins(), 0), 0u) << (*second)->origin();

  // Both read at once, many times: the pinned programs serve two filters.
  std::set<uint64_t> all, filtered;
  std::set<uint16_t> filtered_ports;
  {
    std::jthread a([&] {
      for (int i = 0; i < 20; ++i) all = inodes_read(**first);
    });
    for (int i = 0; i < 20; ++i) filtered = inodes_read(**second, &filtered_ports);
  }
  EXPECT_TRUE(all.contains(mine.inode));
  EXPECT_TRUE(all.contains(other.inode));
  // Another process's socket may use the same port number on another address.
  EXPECT_TRUE(filtered.contains(mine.inode));
  EXPECT_FALSE(filtered.contains(other.inode));
  EXPECT_EQ(filtered_ports, std::set<uint16_t>{mine.port});

  // A pin that is not what it should be is replaced by a fresh load.
  std::filesystem::path version = std::filesystem::directory_iterator(fs.pins())->path();
  std::filesystem::remove(version / "udp");
  auto third = load_bpf_iterators(BpfFilter{});
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_NE((*third)->origin().find("loaded and pinned"), std::string::npos)
      << (*third)->origin();
  EXPECT_TRUE(std::filesystem::exists(version / "udp"));
  EXPECT_TRUE(inodes_read(**third).contains(other.inode));
}

TEST(BpfPins, OffOrNoBpffsMeansLoadedEachTime) {
  REQUIRE_BPF();
  ASSERT_EQ(setenv(kBpfPinsEnv, "off", 1), 0);
  auto off = load_bpf_iterators(BpfFilter{});
  char dir[] = "/tmp/portrel-nobpffs-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ASSERT_EQ(setenv(kBpfPinsEnv, (std::string(dir) + "/portrel").c_str(), 1), 0);
  auto plain = load_bpf_iterators(BpfFilter{});
  unsetenv(kBpfPinsEnv);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_NE((*off)->origin().find("not pinned"), std::string::npos) << (*off)->origin();
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_NE((*plain)->origin().find("no bpffs mounted at " + std::string(dir)),
            std::string::npos)
      << (*plain)->origin();
  EXPECT_FALSE(std::filesystem::exists(std::string(dir) + "/portrel"));
  rmdir(dir);
}

TEST(BpfPinsCli, VerboseSaysWhetherTheProgramsWereLoadedOrPinned) {
  REQUIRE_BPF();
  OwnBpffs fs;
  ASSERT_TRUE(fs.ok()) << "cannot mount a bpffs for the test: " << fs.error();
  std::vector<std::string> env = {std::string(kBpfPinsEnv) + "=" + fs.pins()};
  CliRun first = run_portrel({"--verbose", "--source", "bpf"}, env);
  EXPECT_NE(first.err.find("bpf programs loaded and pinned in " + fs.pins()), std::string::npos)
      << first.err;
  CliRun second = run_portrel({"--verbose", "--source", "bpf"}, env);
  EXPECT_NE(second.err.find("bpf programs pinned in " + fs.pins()), std::string::npos)
      << second.err;
  EXPECT_NE(first.exit_code, 2) << first.err;
  EXPECT_EQ(second.exit_code, first.exit_code) << second.err;
}

}  // namespace
}  // namespace portrel::testing
