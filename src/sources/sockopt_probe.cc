// --probe-sockopts: pidfd_open(pid) then pidfd_getfd(pidfd, fd) gives this process
// its own descriptor for the holder's socket; getsockopt on it reads the socket's
// options, fstat proves it is still the same inode, and both fds close at once.
// Needs PTRACE_MODE_ATTACH over the holder (root, or same user without Yama).
#include "sources/sockopt_probe.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "model/option_rank.h"
#include "sources/netns.h"

namespace portrel {
namespace {


Tristate bool_option(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, name, &value, &len) != 0) return Tristate::unknown;
  return value != 0 ? Tristate::yes : Tristate::no;
}

}  // namespace


void probe_socket_options(std::vector<Socket>& sockets,
                          std::vector<Holding> holdings,
                          std::vector<std::string>& warnings) {
  std::ranges::sort(holdings, {}, &Holding::inode);
  size_t failed = 0;
  for (Socket& s : sockets) {
    if (s.inode == 0) continue;
    bool exact = s.reuseaddr_from >= OptSource::probe &&
                 s.reuseport_from >= OptSource::probe &&
                 (s.family != 6 || s.v6only_from >= OptSource::probe);
    if (exact) continue;
    auto lo = std::ranges::lower_bound(holdings, s.inode, {}, &Holding::inode);
    bool probed = false;
    for (auto it = lo; it != holdings.end() && it->inode == s.inode && !probed; ++it) {
      int fd = duplicate_socket(it->pid, it->fd, s.inode);
      if (fd < 0) continue;
      offer_option(s.reuseaddr, s.reuseaddr_from, bool_option(fd, SOL_SOCKET, SO_REUSEADDR),
                   OptSource::probe);
      offer_option(s.reuseport, s.reuseport_from, bool_option(fd, SOL_SOCKET, SO_REUSEPORT),
                   OptSource::probe);
      if (s.family == 6) {
        offer_option(s.v6only, s.v6only_from, bool_option(fd, IPPROTO_IPV6, IPV6_V6ONLY),
                     OptSource::probe);
      }
      close(fd);
      probed = true;
    }
    if (!probed && lo != holdings.end() && lo->inode == s.inode) ++failed;
  }
  if (failed > 0) {
    warnings.push_back(std::to_string(failed) +
                       " sockets could not be probed with pidfd_getfd (holder exited, or "
                       "no ptrace access): their options stay as far as known");
  }
}

}  // namespace portrel
