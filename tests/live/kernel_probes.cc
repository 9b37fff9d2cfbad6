// The kernel probe of kernel_probes.h: a bound-only TCP socket on a port the
// kernel picks, looked for in one sock_diag dump.
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

template <typename Addr>
int bind_to(int fd, const Addr& a) {
  return bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

Result<bool> diag_lists_bound_tcp(uint64_t netns) {
  Fds f;
  int fd = f.add(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0 || bind_to(fd, v4("0.0.0.0", 0)) != 0)
    return std::unexpected(failed("bind"));
  struct stat st;
  if (fstat(fd, &st) != 0) return std::unexpected(failed("fstat"));
  auto dumped = dump_current_netns(netns, SocketQuery{});
  if (!dumped) return std::unexpected(dumped.error());
  return std::ranges::any_of(*dumped,
                             [&](const Socket& s) { return s.inode == st.st_ino; });
}

}  // namespace

Result<KernelBindFacts> probe_kernel_bind_facts(uint64_t netns) {
  KernelBindFacts facts;
  auto listed = diag_lists_bound_tcp(netns);
  if (!listed) return std::unexpected(listed.error());
  facts.diag_lists_bound_tcp = *listed;
  return facts;
}

std::string describe(const KernelBindFacts& facts) {
  return std::string("sock_diag lists bound-only TCP sockets: ") +
         (facts.diag_lists_bound_tcp ? "yes" : "no");
}

}  // namespace portrel::testing
