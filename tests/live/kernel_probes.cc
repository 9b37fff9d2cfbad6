// The kernel probes of kernel_probes.h: each makes the few sockets on which
// kernels differ, on ports the kernel picks, and reads the answer from one
// bind() or one sock_diag dump.
#include "kernel_probes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "sources/bind_probe.h"
#include "sources/sock_diag.h"

namespace portrel::testing {
namespace {

// Closes every fd it was given when it goes.
struct Fds {
  std::vector<int> fds;
  ~Fds() {
    for (int fd : fds) close(fd);
  }
  int add(int fd) {
    if (fd >= 0) fds.push_back(fd);
    return fd;
  }
};

Error failed(const std::string& what) { return Error{what + ": " + strerror(errno)}; }

sockaddr_in v4(const char* address, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address, &a.sin_addr);
  return a;
}

sockaddr_in6 v6(const char* address, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, address, &a.sin6_addr);
  return a;
}

template <typename Addr>
int bind_to(int fd, const Addr& a) {
  return bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

uint16_t port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET
             ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
             : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

int tcp_socket(int family, bool reuseport) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  if (fd >= 0 && reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  return fd;
}

Result<bool> diag_lists_bound_tcp(uint64_t netns) {
  Fds f;
  int fd = f.add(tcp_socket(AF_INET, false));
  if (fd < 0 || bind_to(fd, v4("0.0.0.0", 0)) != 0)
    return std::unexpected(failed("bind"));
  struct stat st;
  if (fstat(fd, &st) != 0) return std::unexpected(failed("fstat"));
  auto dumped = dump_current_netns(netns, SocketQuery{});
  if (!dumped) return std::unexpected(dumped.error());
  return std::ranges::any_of(*dumped,
                             [&](const Socket& s) { return s.inode == st.st_ino; });
}

Result<bool> mapped_any_blocks_mapped() {
  Fds f;
  int any = f.add(tcp_socket(AF_INET6, false));
  if (any < 0 || bind_to(any, v6("::ffff:0.0.0.0", 0)) != 0) {
    return std::unexpected(failed("bind ::ffff:0.0.0.0"));
  }
  int one = f.add(tcp_socket(AF_INET6, false));
  if (one < 0) return std::unexpected(failed("socket"));
  if (bind_to(one, v6("::ffff:127.0.0.1", port_of(any))) == 0) return false;
  if (errno == EADDRINUSE) return true;
  return std::unexpected(failed("bind ::ffff:127.0.0.1"));
}

Result<bool> accepted_blocks_reuseport_wildcard(unsigned other_uid) {
  Fds f;
  if (!set_thread_euid(other_uid)) return std::unexpected(failed("seteuid"));
  int listener = f.add(tcp_socket(AF_INET, true));
  bool bound = listener >= 0 && bind_to(listener, v4("127.0.0.1", 0)) == 0;
  if (!set_thread_euid(0) || !bound) return std::unexpected(failed("bind 127.0.0.1"));
  uint16_t port = port_of(listener);
  int client = f.add(tcp_socket(AF_INET, false));
  sockaddr_in to = v4("127.0.0.1", port);
  if (listen(listener, 1) != 0 || client < 0 ||
      connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
      f.add(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) < 0) {
    return std::unexpected(failed("connect to the listener"));
  }
  if (!set_thread_euid(other_uid)) return std::unexpected(failed("seteuid"));
  int wildcard = f.add(tcp_socket(AF_INET, true));
  int rc = wildcard >= 0 ? bind_to(wildcard, v4("0.0.0.0", port)) : -1;
  int err = errno;
  if (!set_thread_euid(0)) return std::unexpected(failed("seteuid"));
  if (rc == 0) return false;
  if (err == EADDRINUSE) return true;
  errno = err;
  return std::unexpected(failed("bind 0.0.0.0"));
}

}  // namespace

Result<KernelBindFacts> probe_kernel_bind_facts(uint64_t netns, unsigned other_uid) {
  KernelBindFacts facts;
  auto listed = diag_lists_bound_tcp(netns);
  if (!listed) return std::unexpected(listed.error());
  facts.diag_lists_bound_tcp = *listed;
  auto mapped = mapped_any_blocks_mapped();
  if (!mapped) return std::unexpected(mapped.error());
  facts.mapped_any_blocks_mapped = *mapped;
  auto accepted = accepted_blocks_reuseport_wildcard(other_uid);
  if (!accepted) return std::unexpected(accepted.error());
  facts.accepted_blocks_reuseport_wildcard = *accepted;
  return facts;
}

std::string describe(const KernelBindFacts& facts) {
  auto yes_no = [](bool b) { return b ? "yes" : "no"; };
  return std::string("sock_diag lists bound-only TCP sockets: ") +
         yes_no(facts.diag_lists_bound_tcp) +
         "; TCP ::ffff:0.0.0.0 blocks ::ffff:127.0.0.1: " +
         yes_no(facts.mapped_any_blocks_mapped) +
         "; an accepted connection blocks a SO_REUSEPORT wildcard: " +
         yes_no(facts.accepted_blocks_reuseport_wildcard);
}

}  // namespace portrel::testing
