// The lab's scenarios, each the body of the scenario's first process (the root of
// the lab's process group). A root first says how many processes will report
// ready ("T n"), then builds its part and forks the rest.
#include "lab/scenarios.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace portrel::lab::detail {
namespace {

[[noreturn]] void serve_forever(const std::vector<int>& fds) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int fd : fds) {
    epoll_event ev{.events = EPOLLIN, .data = {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  for (;;) {
    epoll_event events[16];
    int n = epoll_wait(ep, events, 16, -1);
    for (int i = 0; i < n; ++i) {
      char buf[512];
      int conn = accept4(events[i].data.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (conn >= 0) close(conn);
      else recv(events[i].data.fd, buf, sizeof buf, MSG_DONTWAIT);
    }
  }
}

[[noreturn]] void accept_forever(int listener) {
  for (;;) {
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn >= 0) close(conn);
  }
}

void ready_and_serve(const Ctx& ctx, const std::vector<int>& fds) {
  for (int fd : fds) report_socket(ctx, fd);
  report_ready(ctx);
  serve_forever(fds);
}

uint16_t port_or_pick(const Ctx& ctx, uint16_t port) {
  if (port != 0) return port;
  port = pick_free_port();
  if (port == 0) fail(ctx, "no free port", EADDRINUSE);
  return port;
}

[[noreturn]] void multi_port(const Ctx& ctx, const LabOptions& o) {
  send_line(ctx, "T 1");
  report_process(ctx, "server");
  uint16_t p1 = port_or_pick(ctx, o.port);
  uint16_t p2 = o.port ? o.port + 1 : port_or_pick(ctx, 0);
  uint16_t p3 = o.port ? o.port + 2 : port_or_pick(ctx, 0);
  std::vector<int> fds = {
      must_socket(ctx, {.proto = Proto::tcp, .port = p1, .reuseaddr = true}),
      must_socket(ctx, {.proto = Proto::tcp, .port = p2, .reuseaddr = true}),
      must_socket(ctx, {.proto = Proto::tcp, .address = "::1", .port = p3}),
      must_socket(ctx, {.proto = Proto::udp, .port = p1}),
      must_socket(ctx, {.proto = Proto::udp, .port = p3}),
  };
  ready_and_serve(ctx, fds);
  _exit(0);
}

[[noreturn]] void prefork(const Ctx& ctx, const LabOptions& o) {
  send_line(ctx, fmt::format("T {}", o.workers + 1));
  report_process(ctx, "master");
  uint16_t port = port_or_pick(ctx, o.port);
  int listener = must_socket(
      ctx, {.proto = Proto::tcp, .port = port, .reuseaddr = true, .cloexec = false});
  report_socket(ctx, listener);
  for (int i = 0; i < o.workers; ++i) {
    spawn(ctx, "worker", [&] {
      report_socket(ctx, listener);
      report_ready(ctx);
      accept_forever(listener);
    });
  }
  report_ready(ctx);
  park();
}

[[noreturn]] void reuseport(const Ctx& ctx, const LabOptions& o) {
  send_line(ctx, fmt::format("T {}", o.workers));
  uint16_t port = port_or_pick(ctx, o.port);
  auto body = [&] {
    int fd = must_socket(ctx, {.proto = Proto::tcp, .port = port, .reuseport = true});
    report_socket(ctx, fd);
    report_ready(ctx);
    accept_forever(fd);
  };
  for (int i = 1; i < o.workers; ++i) spawn(ctx, "worker", body);
  report_process(ctx, "worker");
  body();
  _exit(0);
}

// One process per address; the root takes the first one after forking the rest,
// so no socket is inherited.
[[noreturn]] void one_each(const Ctx& ctx, const std::vector<SockSpec>& specs,
                           const std::vector<std::string>& roles) {
  send_line(ctx, fmt::format("T {}", specs.size()));
  for (size_t i = 1; i < specs.size(); ++i) {
    spawn(ctx, roles[i], [&, i] {
      ready_and_serve(ctx, {must_socket(ctx, specs[i])});
    });
  }
  report_process(ctx, roles[0]);
  ready_and_serve(ctx, {must_socket(ctx, specs[0])});
  _exit(0);
}

[[noreturn]] void addresses(const Ctx& ctx, const LabOptions& o) {
  uint16_t port = port_or_pick(ctx, o.port);
  one_each(ctx,
           {{.port = port}, {.address = "127.0.0.2", .port = port},
            {.address = "::1", .port = port}},
           {"server-127.0.0.1", "server-127.0.0.2", "server-::1"});
}

[[noreturn]] void protocols(const Ctx& ctx, const LabOptions& o) {
  uint16_t port = port_or_pick(ctx, o.port);
  one_each(ctx, {{.proto = Proto::tcp, .port = port}, {.proto = Proto::udp, .port = port}},
           {"server-tcp", "server-udp"});
}

// The server forks and execs a helper that inherits the listener unless it is
// close-on-exec, then exits. The helper waits to be adopted by the lab's leader
// (a subreaper) before it reports, so it describes the state after the restart.
[[noreturn]] void cloexec_leak(const Ctx& ctx, const LabOptions& o) {
  send_line(ctx, "T 1");
  report_process(ctx, "server");
  uint16_t port = port_or_pick(ctx, o.port);
  int listener = must_socket(ctx, {.proto = Proto::tcp, .port = port, .cloexec = o.fixed});
  report_socket(ctx, listener);
  std::string fd_arg = std::to_string(ctx.report_fd);
  std::string leader_arg = std::to_string(ctx.leader);
  std::string server_arg = std::to_string(getpid());
  pid_t pid = fork();
  if (pid == 0) {
    const char* argv[] = {"portrel", "lab", kHelperFlag, fd_arg.c_str(),
                          leader_arg.c_str(), server_arg.c_str(), nullptr};
    execv("/proc/self/exe", const_cast<char* const*>(argv));
    fail(ctx, "exec helper", errno);
  }
  if (pid < 0) fail(ctx, "fork helper", errno);
  report_note(ctx, fmt::format("server {} exits; helper {} {} fd {}", getpid(), pid,
                               o.fixed ? "does not inherit" : "inherits", listener));
  send_line(ctx, fmt::format("X {}", getpid()));
  _exit(0);
}

// Connections closed by the server first leave TIME_WAIT sockets on the server's
// port; a restarted listener then needs SO_REUSEADDR to bind it.
[[noreturn]] void time_wait(const Ctx& ctx, const LabOptions& o) {
  send_line(ctx, "T 2");
  report_process(ctx, "server");
  uint16_t port = port_or_pick(ctx, o.port);
  int listener = must_socket(ctx, {.proto = Proto::tcp, .port = port, .reuseaddr = true});
  int count = o.workers > 0 ? o.workers : 1;
  spawn(ctx, "client", [&] {
    close(listener);
    for (int i = 0; i < count; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in sin{.sin_family = AF_INET, .sin_port = htons(port),
                      .sin_addr = {htonl(INADDR_LOOPBACK)}, .sin_zero = {}};
      if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
        fail(ctx, "connect", errno);
      char c;
      while (read(fd, &c, 1) > 0) {
      }
      close(fd);
    }
  });
  for (int i = 0; i < count; ++i) {
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) fail(ctx, "accept", errno);
    close(conn);
  }
  close(listener);
  usleep(100 * 1000);
  int plain = make_socket({.proto = Proto::tcp, .port = port});
  report_note(ctx, fmt::format("{} TIME_WAIT sockets on 127.0.0.1:{}; bind without "
                               "SO_REUSEADDR: {}",
                               count, port, plain < 0 ? std::strerror(-plain) : "ok"));
  if (plain >= 0) close(plain);
  int fd = make_socket({.proto = Proto::tcp, .port = port, .reuseaddr = true});
  report_note(ctx, fmt::format("bind with SO_REUSEADDR: {}",
                               fd < 0 ? std::strerror(-fd) : "ok"));
  std::vector<int> fds;
  if (fd >= 0) fds.push_back(fd);
  ready_and_serve(ctx, fds);
  _exit(0);
}

void raise_fd_limit(int wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < rlim_t(wanted)) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, wanted);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// One crowd member: sockets of every kind until it holds per_proc of them
// (counting the two it inherited). IPv4 sockets of member i sit on 127.1.x.y so
// 10,000 members share a port number without SO_REUSEPORT (whose bind checks grow
// with the group: quadratic overall); IPv6 ones take ephemeral ports on ::1.
void crowd_member(const Ctx& ctx, const LabOptions& o, int index,
                  const std::vector<uint16_t>& ports) {
  raise_fd_limit(o.per_proc + 64);
  std::string own = fmt::format("127.{}.{}.{}", 1 + index / 65536, (index / 256) % 256,
                                index % 256);
  int have = std::min(o.per_proc, 2);
  for (int round = 0; have < o.per_proc; ++round) {
    uint16_t port = ports[round % ports.size()];
    int tcp4 = must_socket(ctx, {.address = own, .port = port});
    report_socket(ctx, tcp4);
    if (++have == o.per_proc) break;
    report_socket(ctx, must_socket(ctx, {.proto = Proto::udp, .address = own, .port = port}));
    if (++have == o.per_proc) break;
    report_socket(ctx, must_socket(ctx, {.address = "::1", .port = 0}));
    if (++have == o.per_proc) break;
    report_socket(ctx, must_socket(ctx, {.proto = Proto::udp, .address = "::1", .port = 0}));
    if (++have == o.per_proc) break;
    if (o.per_proc - have >= 2) {
      // The client's source is 127.0.0.1 with a port chosen at connect time
      // (IP_BIND_ADDRESS_NO_PORT): left to itself the kernel would take an
      // ephemeral port on the member's own address, which a later round's
      // listener may need, and 10,000 members would exhaust the range.
      int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(client, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{.sin_family = AF_INET, .sin_port = 0,
                      .sin_addr = {htonl(INADDR_LOOPBACK)}, .sin_zero = {}};
      if (bind(client, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
        fail(ctx, "bind client", errno);
      sockaddr_in sin{.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {},
                      .sin_zero = {}};
      inet_pton(AF_INET, own.c_str(), &sin.sin_addr);
      if (connect(client, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
        fail(ctx, "connect", errno);
      int server = accept4(tcp4, nullptr, nullptr, SOCK_CLOEXEC);
      if (server < 0) fail(ctx, "accept", errno);
      report_socket(ctx, client);
      report_socket(ctx, server);
      have += 2;
    }
    if (o.per_proc - have >= 2) {
      int pair[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        fail(ctx, "socketpair", errno);
      report_socket(ctx, pair[0]);
      report_socket(ctx, pair[1]);
      have += 2;
    }
  }
}

[[noreturn]] void crowd(const Ctx& ctx, const LabOptions& o) {
  send_line(ctx, fmt::format("T {}", o.procs + 1));
  report_process(ctx, "parent");
  uint16_t port = port_or_pick(ctx, o.port);
  // A round makes 4 to 8 sockets (fewer when the pairs no longer fit), each
  // round on its own port, so that no round reuses an earlier round's port.
  int rounds = (o.per_proc + 3) / 4 + 1;
  std::vector<uint16_t> ports;
  for (int i = 0; i < rounds; ++i) ports.push_back(port_or_pick(ctx, 0));
  std::vector<int> inherited;
  if (o.per_proc >= 1) inherited.push_back(must_socket(ctx, {.port = port, .cloexec = false}));
  if (o.per_proc >= 2)
    inherited.push_back(must_socket(ctx, {.proto = Proto::udp, .port = port, .cloexec = false}));
  for (int fd : inherited) report_socket(ctx, fd);
  for (int i = 0; i < o.procs; ++i) {
    pid_t pid = spawn(ctx, "member", [&, i] {
      for (int fd : inherited) report_socket(ctx, fd);
      crowd_member(ctx, o, i, ports);
    });
    if (pid < 0) fail(ctx, "fork", errno);
  }
  report_ready(ctx);
  park();
}

}  // namespace

std::vector<std::string_view> scenario_list() {
  return {"multi-port", "prefork",      "reuseport", "addresses",
          "protocols",  "cloexec-leak", "time-wait", "crowd"};
}

void run_scenario(const Ctx& ctx, std::string_view name, const LabOptions& o) {
  if (name == "multi-port") multi_port(ctx, o);
  if (name == "prefork") prefork(ctx, o);
  if (name == "reuseport") reuseport(ctx, o);
  if (name == "addresses") addresses(ctx, o);
  if (name == "protocols") protocols(ctx, o);
  if (name == "cloexec-leak") cloexec_leak(ctx, o);
  if (name == "time-wait") time_wait(ctx, o);
  if (name == "crowd") crowd(ctx, o);
  fail(ctx, fmt::format("unknown scenario {}", name), EINVAL);
}

// The exec'd helper of cloexec-leak. Its parent (the server) exits right away;
// once adopted by the leader it takes PR_SET_PDEATHSIG, reports what it holds and
// stays until killed.
[[noreturn]] void helper_main(int report_fd, pid_t leader, pid_t server) {
  Ctx ctx{.report_fd = report_fd, .leader = leader};
  for (int i = 0; i < 5000 && getppid() == server; ++i) usleep(1000);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != leader) _exit(0);
  report_process(ctx, "helper");
  report_all_sockets(ctx);
  report_ready(ctx);
  park();
}

}  // namespace portrel::lab::detail
