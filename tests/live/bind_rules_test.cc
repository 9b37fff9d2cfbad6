// The bind rules against the kernel. In a network namespace made for the test, a
// worker thread builds random sets of sockets on a port (TCP or UDP, v4 and v6,
// wildcard, loopback and v4-mapped addresses, SO_REUSEADDR, SO_REUSEPORT,
// IPV6_V6ONLY, a bound device, two uids, LISTEN, bound-only, ESTABLISHED and
// TIME_WAIT), then predicts random binds with predict_bind() and performs them.
// Every bind is a case, including those that build the sets; every disagreement
// fails with the seed that replays its round (PORTREL_BIND_SEED=N);
// PORTREL_BIND_BASES=N runs N base seeds of kRounds rounds, each in a namespace
// of its own. Where kernels differ in their bind checks (KernelBindRules: the
// UDP SO_REUSEPORT rule, TCP's v4-mapped wildcard, TCP's first-bind shortcut)
// comes from probe_kernel_bind_rules(), run first in each namespace, so the
// cases also check the probes' answers. Whether sock_diag lists bound-only TCP
// sockets is asked of the kernel too (kernel_probes.h): the cross-check looks
// for them only where it does.
#include "analysis/bind_rules.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernel_probes.h"
#include "shell.h"
#include "sources/bind_env.h"
#include "sources/bind_probe.h"
#include "sources/netns.h"
#include "sources/sock_diag.h"
#include "sources/kernel_bind_rules.h"

namespace portrel {
namespace {

constexpr uint64_t kBaseSeed = 20261124;
constexpr int kRounds = 60;
constexpr int kPortsPerRound = 20;
constexpr uid_t kOtherUid = 1000;
constexpr uint32_t kUnprivilegedStart = 28300;  // set in the namespace

struct Live {
  Socket row;
  int fd = -1;  // -1: TIME_WAIT, held by nobody
};

// What the test knows, and what it counted.
struct World {
  std::mt19937_64 rng;
  BindEnvironment env;
  uint32_t lo = 0, dummy = 0;
  uint64_t netns = 0;
  bool diag_lists_bound_tcp = true;  // as probe_kernel_bind_facts() found
  std::vector<Live> live;  // in bind order, oldest first
  std::map<uint16_t, TcpFastReuse> buckets;  // TCP's per-port shortcut, replayed
  std::vector<std::string> failures;
  std::map<std::string, int> covered;
  uint64_t seed = 0;
  int cases = 0;

  explicit World(uint64_t s) : rng(s), seed(s) {}
  bool chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; }
  template <typename V>
  const auto& pick(const V& v) {
    return v[std::uniform_int_distribution<size_t>(0, std::size(v) - 1)(rng)];
  }
};

const char* const kLocal4[] = {"0.0.0.0", "127.0.0.1", "127.0.0.2"};
const char* const kLocal6[] = {"::", "::1", "::ffff:127.0.0.1", "::ffff:127.0.0.2",
                               "::ffff:0.0.0.0"};
const char* const kForeign[] = {"10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1"};

std::string errno_name(int e) {
  switch (e) {
    case 0: return "ok";
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    default: return strerror(e);
  }
}

std::string show(const BindRequest& r) {
  return std::string(proto_name(r.proto)) + (r.family == 4 ? "4 " : "6 ") +
         r.address.to_string() + " port " + std::to_string(r.port) +
         (r.reuseaddr ? " reuseaddr" : "") + (r.reuseport ? " reuseport" : "") +
         (r.v6only ? " v6only" : "") + " uid " + std::to_string(r.uid) +
         (r.bound_dev ? " dev " + std::to_string(r.bound_dev) : "");
}

std::string show(const Socket& s) {
  return std::string(state_name(s.proto, s.state)) + " " + s.local_addr.to_string() +
         ":" + std::to_string(s.local_port) + " reuseaddr=" +
         std::string(tristate_name(s.reuseaddr)) + " reuseport=" +
         std::string(tristate_name(s.reuseport)) + " v6only=" +
         std::string(tristate_name(s.v6only)) + " uid " + std::to_string(s.uid) +
         (s.bound_dev ? " dev " + std::to_string(s.bound_dev) : "");
}

BindRequest random_request(World& w, Proto proto, uint16_t port) {
  BindRequest r;
  r.proto = proto;
  const char* text = w.chance(0.04)  ? w.pick(kForeign)
                     : w.chance(0.5) ? w.pick(kLocal4)
                                     : w.pick(kLocal6);
  r.address = *Address::parse(text);
  r.family = r.address.family;
  r.port = port;
  r.reuseaddr = w.chance(0.5);
  r.reuseport = w.chance(0.5);
  r.v6only = r.family == 6 && w.chance(0.4);
  r.uid = w.chance(0.5) ? 0 : kOtherUid;
  r.can_bind_service = r.uid == 0;
  r.bound_dev = w.chance(0.8) ? 0 : (w.chance(0.5) ? w.lo : w.dummy);
  return r;
}

std::vector<const Socket*> bind_order(const World& w) {
  std::vector<const Socket*> table;
  for (const Live& l : w.live) table.push_back(&l.row);
  return table;
}

void count(World& w, const BindRequest& r, const BindPrediction& p, int kernel) {
  w.covered["kernel " + errno_name(kernel)]++;
  if (r.port == 0) w.covered["port 0 (ephemeral)"]++;
  for (const BindConflict& c : p.conflicts) {
    const Socket& s = *c.socket;
    w.covered[std::string("blocked by ") + std::string(proto_name(s.proto)) + " " +
              std::string(state_name(s.proto, s.state))]++;
    if (s.family != r.family) w.covered["blocked across families"]++;
    if (r.reuseaddr && s.reuseaddr == Tristate::yes) w.covered["blocked despite SO_REUSEADDR on both"]++;
    if (r.reuseport && s.reuseport == Tristate::yes) w.covered["blocked despite SO_REUSEPORT on both"]++;
  }
  if (kernel != 0) return;
  if (p.reason.find("fastreuse") != std::string::npos) {
    w.covered["shared: TCP fastreuseport shortcut (history)"]++;
  }
  for (const Live& l : w.live) {
    const Socket& s = l.row;
    if (s.proto != r.proto || s.local_port != r.port) continue;
    bool dev_apart = r.bound_dev && s.bound_dev && r.bound_dev != s.bound_dev;
    bool shares = (r.reuseaddr && s.reuseaddr == Tristate::yes) ||
                  (r.reuseport && s.reuseport == Tristate::yes && r.uid == s.uid);
    if (r.proto == Proto::udp && !dev_apart && !shares &&
        addresses_overlap(r, s) == Tristate::yes) {
      w.covered["shared: UDP, decided by a socket earlier in the chain"]++;
    }
    Tristate overlap = addresses_overlap(r, s);
    if (overlap == Tristate::no) {
      if (s.family != r.family && (s.local_addr.is_wildcard() || r.address.is_wildcard())) {
        w.covered["shared: v6only keeps families apart"]++;
      }
      continue;
    }
    if (dev_apart) {
      w.covered["shared: different bound devices"]++;
    } else if (r.reuseport && s.reuseport == Tristate::yes) {
      w.covered[s.state == kStateTimeWait ? "shared: SO_REUSEPORT over TIME_WAIT"
                                          : "shared: SO_REUSEPORT"]++;

    } else if (r.reuseaddr && s.reuseaddr == Tristate::yes) {
      w.covered[s.state == kStateTimeWait ? "shared: SO_REUSEADDR over TIME_WAIT"
                                          : "shared: SO_REUSEADDR"]++;
    }
  }
}

// Predicts, performs (as r.uid, on this thread), compares. Returns the fd of a
// successful bind when `keep`, else closes it.
int check_bind(World& w, const BindRequest& r, bool keep, const char* what) {
  std::vector<const Socket*> table = bind_order(w);
  bool port_used = std::ranges::any_of(w.live, [&](const Live& l) {
    return l.row.proto == r.proto && l.row.local_port == r.port;
  });
  if (!port_used) w.buckets.erase(r.port);
  const TcpFastReuse* fast =
      r.proto == Proto::tcp && port_used ? &w.buckets[r.port] : nullptr;
  BindPrediction p = predict_bind(r, table, w.env, TableOrder::bind_order, fast);
  bool as_root = set_thread_euid(r.uid).has_value();
  auto fd = open_bound_socket(r);
  as_root = set_thread_euid(0).has_value() && as_root;
  if (!as_root) w.failures.push_back("cannot switch the thread's uid");
  int kernel = fd ? 0 : fd.error().errno_value;
  int predicted = p.outcome == BindOutcome::succeeds ? 0 : p.error;
  ++w.cases;
  count(w, r, p, kernel);
  if (const char* trace = std::getenv("PORTREL_BIND_TRACE");
      trace && std::atoi(trace) == r.port) {
    std::printf("trace: %s bind %s -> kernel %s, predicted %s\n", what, show(r).c_str(),
                errno_name(kernel).c_str(), std::string(bind_outcome_name(p.outcome)).c_str());
  }
  // The one place the rules may not know: on a kernel whose bhash2 misses
  // ::ffff:0.0.0.0 (6.1), a v4-mapped bind beside it and 0.0.0.0 depends on
  // the order of their buckets. Counted, and only there.
  bool known_uncertain =
      p.outcome == BindOutcome::uncertain &&
      w.env.kernel.tcp_mapped_any_found == Tristate::no &&
      p.reason.find("buckets") != std::string::npos;
  if (known_uncertain) {
    w.covered[std::string("uncertain: 6.1's v4-mapped wildcard search, kernel ") +
              errno_name(kernel)]++;
  }
  if ((p.outcome == BindOutcome::uncertain && !known_uncertain) ||
      (p.outcome != BindOutcome::uncertain && predicted != kernel)) {
    std::string text = "seed " + std::to_string(w.seed) + ": " + what + " bind " +
                       show(r) + ": predicted " +
                       std::string(bind_outcome_name(p.outcome)) + " " +
                       errno_name(predicted) + " (" + p.reason + "), kernel " +
                       errno_name(kernel) + "\n  existing, oldest first:";
    for (const Socket* s : table) {
      if (s->proto == r.proto && s->local_port == r.port) text += "\n    " + show(*s);
    }
    w.failures.push_back(text);
  }
  if (!fd) return -1;
  if (r.proto == Proto::tcp && r.port != 0) {
    update_fastreuse(w.buckets[r.port], r, false,
                     w.env.kernel.tcp_first_bind_sets_shortcut == Tristate::yes);
  }
  if (keep) return *fd;
  close(*fd);
  return -1;
}

uint64_t inode_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

Socket row_of(const BindRequest& r, int fd, uint8_t state) {
  Socket s;
  s.inode = fd >= 0 ? inode_of(fd) : 0;
  s.netns = 0;
  s.proto = r.proto;
  s.family = r.family;
  s.state = state;
  s.local_addr = r.address;
  s.local_port = r.port;
  s.uid = r.uid;
  s.reuseaddr = r.reuseaddr ? Tristate::yes : Tristate::no;
  s.reuseport = r.reuseport ? Tristate::yes : Tristate::no;
  bool plain_v6 = r.family == 6 && !r.address.is_wildcard() &&
                  !(r.address.bytes[10] == 0xff && r.address.bytes[11] == 0xff);
  s.v6only = r.family == 6 ? (r.v6only || plain_v6 ? Tristate::yes : Tristate::no)
                           : Tristate::no;  // __inet6_bind sets it for a plain v6 address
  s.reuseaddr_from = s.reuseport_from = s.v6only_from = OptSource::probe;
  s.bound_dev = r.bound_dev;
  return s;
}

// Where a client reaches a listener bound to `a`.
Address connect_target(const Address& a) {
  if (a.family == 4) return a.is_wildcard() ? *Address::parse("127.0.0.1") : a;
  bool mapped = a.bytes[10] == 0xff && a.bytes[11] == 0xff;
  if (mapped) {
    Address v4;
    v4.family = 4;
    std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
    return v4.is_wildcard() ? *Address::parse("127.0.0.1") : v4;
  }
  return a.is_wildcard() ? *Address::parse("::1") : a;
}

int connect_to(const Address& a, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len;
  if (a.family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
    len = sizeof *sin6;
  }
  int fd = socket(a.family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval limit{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The accepted socket's local address: what getsockname says.
Address local_of(int fd, uint16_t* port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    if (port) *port = ntohs(sin->sin_port);
    return Address::v4(sin->sin_addr.s_addr);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (port) *port = ntohs(sin6->sin6_port);
  std::array<uint8_t, 16> b;
  std::memcpy(b.data(), &sin6->sin6_addr, 16);
  return Address::v6(b);
}

std::vector<int> clients;  // closed at the end of each round

// One existing socket on `port`: bound, then (TCP) maybe listening, with an
// accepted connection kept open or closed server-side first into TIME_WAIT.
void add_existing(World& w, Proto proto, uint16_t port) {
  BindRequest r = random_request(w, proto, port);
  if (r.address.family == 4 && !r.address.is_wildcard() && r.address.bytes[0] == 10) {
    r.address = *Address::parse("127.0.0.1");
  }
  int fd = check_bind(w, r, true, "existing");
  if (fd < 0) return;
  w.live.push_back({row_of(r, fd, kStateClose), fd});
  if (proto != Proto::tcp) return;
  int roll = std::uniform_int_distribution<>(0, 3)(w.rng);
  if (roll == 0) return;  // bound only
  if (listen(fd, 16) != 0) {
    w.covered["listen() refused after bind"]++;
    return;
  }
  w.live.back().row.state = kStateListen;
  update_fastreuse(w.buckets[port], r, true,
                   w.env.kernel.tcp_first_bind_sets_shortcut == Tristate::yes);
  if (roll == 1 || r.bound_dev == w.dummy) return;  // LISTEN
  int client = connect_to(connect_target(r.address), port);
  if (client < 0) return;
  // The connection lands on whichever listener the kernel picks (one of a
  // SO_REUSEPORT group, or a more specific address): accept it there.
  std::vector<pollfd> listeners;
  std::vector<size_t> owner;
  for (size_t i = 0; i < w.live.size(); ++i) {
    const Live& l = w.live[i];
    if (l.fd >= 0 && l.row.state == kStateListen && l.row.local_port == port &&
        l.row.proto == Proto::tcp) {
      listeners.push_back({l.fd, POLLIN, 0});
      owner.push_back(i);
    }
  }
  size_t from = w.live.size();
  if (poll(listeners.data(), listeners.size(), 2000) > 0) {
    for (size_t i = 0; i < listeners.size() && from == w.live.size(); ++i) {
      if (listeners[i].revents & POLLIN) from = owner[i];
    }
  }
  int child = from < w.live.size() ? accept4(w.live[from].fd, nullptr, nullptr, SOCK_CLOEXEC)
                                   : -1;
  if (child < 0) {
    w.failures.push_back("seed " + std::to_string(w.seed) + ": a connection to port " +
                         std::to_string(port) + " reached no listener of the test");
    close(client);
    return;
  }
  if (from != w.live.size() - 1) w.covered["connection taken by another listener"]++;
  fd = w.live[from].fd;
  Live accepted{w.live[from].row, child};
  accepted.row.inode = inode_of(child);
  accepted.row.local_addr = local_of(child, nullptr);
  accepted.row.family = accepted.row.local_addr.family;
  uint16_t remote_port = 0;
  local_of(client, &remote_port);
  accepted.row.remote_port = remote_port;
  accepted.row.state = kStateEstablished;
  accepted.row.uid = 0;  // sock_graft() gives it the uid of the accepting file
  if (w.chance(0.5)) {  // the listener goes away, leaving only the connection
    close(fd);
    w.live.erase(w.live.begin() + static_cast<std::ptrdiff_t>(from));
  }
  if (roll == 2) {
    clients.push_back(client);
    w.live.push_back(accepted);
    return;
  }
  close(child);  // active close: this side ends in TIME_WAIT
  close(client);
  accepted.fd = -1;
  accepted.row.inode = 0;
  accepted.row.state = kStateTimeWait;
  w.live.push_back(accepted);
}

// The rows sock_diag dumps must be the rows the test built (addresses, states,
// uids, devices): the rules are then tested on what portrel would see.
void cross_check(World& w, uint16_t low, uint16_t high) {
  auto dumped = dump_current_netns(w.netns, SocketQuery{});
  ASSERT_TRUE(dumped.has_value()) << dumped.error().message;
  for (const Live& l : w.live) {
    const Socket& want = l.row;
    bool bound_only_tcp = want.proto == Proto::tcp && want.state == kStateClose;
    if (bound_only_tcp && !w.diag_lists_bound_tcp) {
      w.covered["bound-only TCP socket not listed by this kernel's sock_diag"]++;
      continue;
    }
    bool found = false;
    for (const Socket& got : *dumped) {
      if (got.proto != want.proto || got.local_port != want.local_port) continue;
      bool same = want.inode ? got.inode == want.inode
                             : got.state == kStateTimeWait &&
                                   got.remote_port == want.remote_port &&
                                   got.local_addr == want.local_addr;
      if (!same) continue;
      found = true;
      bool state_ok = got.state == want.state ||
                      (want.state == kStateClose && got.state == 13);  // BOUND_INACTIVE
      if (!state_ok || got.local_addr != want.local_addr || got.family != want.family ||
          (want.inode && got.uid != want.uid) || got.bound_dev != want.bound_dev ||
          (got.v6only != Tristate::unknown && got.v6only != want.v6only)) {
        w.failures.push_back("seed " + std::to_string(w.seed) + ": sock_diag shows " +
                             show(got) + " for " + show(want));
      }
    }
    if (!found) {
      w.failures.push_back("seed " + std::to_string(w.seed) + ": not in sock_diag: " +
                           show(want));
    }
  }
  (void)low;
  (void)high;
}

void run_round(World& w) {
  uint16_t base = static_cast<uint16_t>(20000 + (w.seed % 400) * 25);
  for (int i = 0; i < kPortsPerRound; ++i) {
    uint16_t port = static_cast<uint16_t>(base + i);
    Proto proto = w.chance(0.5) ? Proto::tcp : Proto::udp;
    int existing = std::uniform_int_distribution<>(1, 4)(w.rng);
    for (int k = 0; k < existing; ++k) add_existing(w, proto, port);
    int probes = std::uniform_int_distribution<>(3, 6)(w.rng);
    for (int k = 0; k < probes; ++k) {
      BindRequest r = random_request(w, proto, w.chance(0.03) ? 0 : port);
      check_bind(w, r, false, "probe");
    }
  }
  cross_check(w, base, static_cast<uint16_t>(base + kPortsPerRound));
  for (Live& l : w.live) {
    if (l.fd >= 0) close(l.fd);
  }
  w.live.clear();
  for (int fd : clients) close(fd);
  clients.clear();
}

// What the rounds of one or more namespaces found.
struct Totals {
  int cases = 0;
  size_t rounds = 0;
  std::vector<std::string> failures;
  std::map<std::string, int> covered;
  KernelBindRules rules;
  bool probed = false;
  testing::KernelBindFacts facts;
};

// Runs the rounds of `seeds`, one after another, in a namespace made for them.
// A round's TIME_WAIT sockets outlive it, and only rounds of consecutive seeds
// are sure to use distinct ports, so each base seed gets a fresh namespace.
void run_in_fresh_netns(const std::string& name, const std::vector<uint64_t>& seeds,
                        Totals& t) {
  testing::NamedNetns ns(name);
  if (!ns.ok()) {
    t.failures.push_back("could not create network namespace " + name);
    return;
  }
  if (testing::sh("ip -n " + name + " link add d0 type bridge && ip -n " + name +
                  " link set d0 up && ip netns exec " + name +
                  " sysctl -qw net.ipv4.ip_unprivileged_port_start=" +
                  std::to_string(kUnprivilegedStart)) != 0) {
    t.failures.push_back("could not set up network namespace " + name);
    return;
  }
  std::thread worker([&] {
    auto entered = enter_netns("/run/netns/" + name);
    if (!entered) {
      t.failures.push_back("cannot enter the namespace: " + entered.error().message);
      return;
    }
    auto env = read_bind_environment();
    if (!env) {
      t.failures.push_back(env.error().message);
      return;
    }
    std::string problems;
    KernelBindRules rules = probe_kernel_bind_rules(kOtherUid, &problems);
    if (!problems.empty()) {
      t.failures.push_back("probing the kernel's bind rules: " + problems);
      return;
    }
    if (t.probed && describe(t.rules) != describe(rules)) {
      t.failures.push_back("the bind rules' probes changed their answer: " +
                           describe(t.rules) + ", then " + describe(rules));
    }
    t.rules = env->kernel = rules;
    t.probed = true;
    auto facts = testing::probe_kernel_bind_facts(*entered);
    if (!facts) {
      t.failures.push_back("probing the kernel: " + facts.error().message);
      return;
    }
    t.facts = *facts;
    for (uint64_t seed : seeds) {
      World w(seed);
      w.env = *env;
      w.netns = *entered;
      w.diag_lists_bound_tcp = facts->diag_lists_bound_tcp;
      w.lo = if_nametoindex("lo");
      w.dummy = if_nametoindex("d0");
      run_round(w);
      t.cases += w.cases;
      ++t.rounds;
      for (auto& [k, v] : w.covered) t.covered[k] += v;
      t.failures.insert(t.failures.end(), w.failures.begin(), w.failures.end());
    }
  });
  worker.join();
}

// PORTREL_BIND_SEED=N replays one round; otherwise PORTREL_BIND_BASES base seeds
// (default 10), from PORTREL_BIND_BASE_SEED on, kRounds apart, kRounds rounds each.
std::vector<std::vector<uint64_t>> seed_groups() {
  if (const char* one = std::getenv("PORTREL_BIND_SEED")) {
    return {{std::strtoull(one, nullptr, 10)}};
  }
  uint64_t base = kBaseSeed;
  if (const char* b = std::getenv("PORTREL_BIND_BASE_SEED")) {
    base = std::strtoull(b, nullptr, 10);
  }
  uint64_t bases = 10;
  if (const char* n = std::getenv("PORTREL_BIND_BASES")) {
    bases = std::max<uint64_t>(1, std::strtoull(n, nullptr, 10));
  }
  std::vector<std::vector<uint64_t>> groups(bases);
  for (uint64_t k = 0; k < bases; ++k) {
    for (int i = 0; i < kRounds; ++i) groups[k].push_back(base + k * kRounds + i);
  }
  return groups;
}

TEST(BindRulesLive, PredictionsMatchTheKernel) {
  ASSERT_EQ(geteuid(), 0u) << "this test needs root (network namespaces, two uids)";
  std::vector<std::vector<uint64_t>> groups = seed_groups();
  Totals t;
  auto start = std::chrono::steady_clock::now();
  for (size_t k = 0; k < groups.size(); ++k) {
    std::string name =
        "portrel-bind-" + std::to_string(getpid()) + "-" + std::to_string(k);
    run_in_fresh_netns(name, groups[k], t);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                       .count();
  std::printf(
      "bind rules: %d cases in %zu rounds from %zu base seeds, %.1f s, "
      "%zu disagreements (%s; %s)\n",
      t.cases, t.rounds, groups.size(), seconds, t.failures.size(),
      describe(t.rules).c_str(), testing::describe(t.facts).c_str());
  for (auto& [k, v] : t.covered) std::printf("  %6d  %s\n", v, k.c_str());
  for (size_t i = 0; i < t.failures.size() && i < 25; ++i) {
    ADD_FAILURE() << t.failures[i];
  }
  EXPECT_TRUE(t.failures.empty())
      << t.failures.size() << " disagreements; replay one with PORTREL_BIND_SEED=N";
  if (t.rounds > 1) {
    EXPECT_GE(t.cases, 2000);
    for (const char* must : {"kernel ok", "kernel EADDRINUSE", "kernel EACCES",
                             "kernel EADDRNOTAVAIL", "kernel EINVAL",
                             "blocked by tcp TIME_WAIT", "blocked by tcp LISTEN",
                             "blocked by tcp ESTABLISHED", "blocked by udp UNCONN",
                             "shared: SO_REUSEADDR over TIME_WAIT", "shared: SO_REUSEPORT",
                             "shared: different bound devices",
                             "shared: v6only keeps families apart"}) {
      EXPECT_GT(t.covered[must], 0) << "no case covered: " << must;
    }
  }
}

// The UDP probe answers in a fresh namespace with its loopback down (it binds
// only the wildcard address); with loopback up every probe answers. Neither
// leaves a socket behind but the TIME_WAIT of the TCP probe's connection.
TEST(KernelBindRules, ProbesAnswerAndLeaveNoSocket) {
  ASSERT_EQ(geteuid(), 0u) << "this test needs root (network namespaces, two uids)";
  std::string name = "portrel-rules-probe-" + std::to_string(getpid());
  ASSERT_EQ(testing::sh("ip netns add " + name), 0);
  Result<UdpReuseportRule> rule = std::unexpected(Error{"not run"});
  KernelBindRules rules;
  std::string problems = "not run", lo_error;
  Result<std::vector<Socket>> left = std::unexpected(Error{"not run"});
  std::thread worker([&] {
    auto entered = enter_netns("/run/netns/" + name);
    if (!entered) {
      rule = std::unexpected(entered.error());
      return;
    }
    rule = probe_udp_reuseport_rule();
    if (testing::sh("ip -n " + name + " link set lo up") != 0) {
      lo_error = "cannot bring the loopback up";
      return;
    }
    problems.clear();
    rules = probe_kernel_bind_rules(kOtherUid, &problems);
    left = dump_current_netns(*entered, SocketQuery{});
  });
  worker.join();
  testing::sh("ip netns del " + name);
  ASSERT_TRUE(rule.has_value()) << rule.error().message;
  EXPECT_NE(*rule, UdpReuseportRule::unknown);
  ASSERT_EQ(lo_error, "");
  EXPECT_EQ(problems, "");
  EXPECT_EQ(rules.udp_reuseport, *rule) << "the UDP probe answered differently with loopback up";
  EXPECT_NE(rules.tcp_mapped_any_found, Tristate::unknown);
  EXPECT_NE(rules.tcp_first_bind_sets_shortcut, Tristate::unknown);
  std::printf("bind rules of this kernel: %s\n", describe(rules).c_str());
  ASSERT_TRUE(left.has_value()) << left.error().message;
  for (const Socket& s : *left) {
    EXPECT_EQ(s.state, kStateTimeWait) << "left in the namespace: " << proto_name(s.proto)
                                       << " " << s.local_addr.to_string() << ":"
                                       << s.local_port;
  }
}

}  // namespace
}  // namespace portrel
