// Child-side building blocks of the lab: socket creation, self-description over the
// report pipe, and fork with PR_SET_PDEATHSIG so no process outlives its parent.
// Each report is one write() of less than PIPE_BUF bytes, so concurrent children
// never interleave their lines.
#include "lab/child.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace portrel::lab::detail {

void send_line(const Ctx& ctx, std::string_view line) {
  std::string buf(line.substr(0, 500));
  buf += '\n';
  while (write(ctx.report_fd, buf.data(), buf.size()) < 0 && errno == EINTR) {
  }
}

void report_process(const Ctx& ctx, std::string_view role) {
  send_line(ctx, fmt::format("P {} {} {}", getpid(), getppid(), role));
}

static int sockopt_int(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, name, &value, &len) != 0) return 0;
  return value;
}

void report_socket(const Ctx& ctx, int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  int domain = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
  int type = sockopt_int(fd, SOL_SOCKET, SO_TYPE);
  Proto proto = type == SOCK_DGRAM ? Proto::udp : Proto::tcp;
  int family = 0;
  std::string address = "unix";
  uint16_t port = 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (domain == AF_INET || domain == AF_INET6) {
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    char text[INET6_ADDRSTRLEN] = "?";
    if (domain == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
      port = ntohs(sin->sin_port);
      family = 4;
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
      port = ntohs(sin6->sin6_port);
      family = 6;
    }
    address = text;
  }
  bool listening = sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN) != 0 ||
                   (type == SOCK_DGRAM && family != 0 && port != 0);
  bool cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
  send_line(ctx, fmt::format("S {} {} {} {} {} {} {} {:d} {:d} {:d} {:d}", getpid(), fd,
                             st.st_ino, static_cast<int>(proto), family, address, port,
                             listening, cloexec,
                             sockopt_int(fd, SOL_SOCKET, SO_REUSEPORT) != 0,
                             sockopt_int(fd, SOL_SOCKET, SO_REUSEADDR) != 0));
}

void report_all_sockets(const Ctx& ctx) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  int own = dirfd(dir);
  std::vector<int> fds;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(dir);
  for (int fd : fds) report_socket(ctx, fd);
}

void report_ready(const Ctx& ctx) { send_line(ctx, fmt::format("R {}", getpid())); }

void report_note(const Ctx& ctx, std::string_view text) {
  send_line(ctx, fmt::format("M {} {}", getpid(), text));
}

void fail(const Ctx& ctx, std::string_view what, int err) {
  send_line(ctx, fmt::format("F {} {}: {}", getpid(), what, std::strerror(err)));
  _exit(1);
}

void park() {
  for (;;) pause();
}

pid_t spawn(const Ctx& ctx, std::string_view role, const std::function<void()>& body) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  report_process(ctx, role);
  body();
  report_ready(ctx);
  park();
}

int make_socket(const SockSpec& spec) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (inet_pton(AF_INET, spec.address.c_str(),
                &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(spec.port);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET6, spec.address.c_str(), &sin6->sin6_addr) != 1) return -EINVAL;
    sin6->sin6_family = family = AF_INET6;
    sin6->sin6_port = htons(spec.port);
    len = sizeof *sin6;
  }
  int type = spec.proto == Proto::udp ? SOCK_DGRAM : SOCK_STREAM;
  if (spec.cloexec) type |= SOCK_CLOEXEC;
  if (spec.nonblock) type |= SOCK_NONBLOCK;
  int fd = socket(family, type, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if ((spec.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
      (spec.reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) ||
      (family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
      bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      (spec.proto == Proto::tcp && spec.listen && listen(fd, 4096) != 0)) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int must_socket(const Ctx& ctx, const SockSpec& spec) {
  int fd = make_socket(spec);
  if (fd < 0) {
    fail(ctx, fmt::format("{} {}:{}", spec.proto == Proto::udp ? "udp" : "tcp",
                          spec.address, spec.port),
         -fd);
  }
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

static bool port_free(uint16_t port) {
  for (Proto proto : {Proto::tcp, Proto::udp}) {
    for (const char* address : {"0.0.0.0", "::"}) {
      int fd = make_socket({.proto = proto, .address = address, .port = port,
                            .listen = false});
      if (fd < 0) return false;
      close(fd);
    }
  }
  return true;
}

uint16_t pick_free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = make_socket({.address = "0.0.0.0", .port = 0, .listen = false});
    if (fd < 0) return 0;
    uint16_t port = local_port(fd);
    close(fd);
    if (port != 0 && port_free(port)) return port;
  }
  return 0;
}

bool bring_up_loopback() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  close(fd);
  return ok;
}

}  // namespace portrel::lab::detail
