// A real bind, for comparison with the prediction. Nothing here outlives the
// call: the socket is closed before returning, and the thread that entered
// another namespace (or took another uid) exits.
#include "sources/bind_probe.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "sources/netns.h"

namespace portrel {

Result<int> open_bound_socket(const BindRequest& r) {
  int domain = r.family == 4 ? AF_INET : AF_INET6;
  int type = r.proto == Proto::tcp ? SOCK_STREAM : SOCK_DGRAM;
  int protocol = r.proto == Proto::udplite ? IPPROTO_UDPLITE : 0;
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return std::unexpected(system_error("socket", errno));
  auto fail = [fd](const char* what) {
    int e = errno;
    close(fd);
    return std::unexpected(system_error(what, e));
  };
  int one = 1;
  if (r.reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return fail("SO_REUSEADDR");
  }
  if (r.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return fail("SO_REUSEPORT");
  }
  if (r.family == 6) {
    int v6only = r.v6only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
      return fail("IPV6_V6ONLY");
    }
  }
  if (r.bound_dev) {
    int index = static_cast<int>(r.bound_dev);
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &index, sizeof index) != 0) {
      return fail("SO_BINDTOIFINDEX");
    }
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (r.family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(r.port);
    std::memcpy(&sin->sin_addr, r.address.bytes.data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(r.port);
    std::memcpy(&sin6->sin6_addr, r.address.bytes.data(), 16);
    sin6->sin6_scope_id = r.bound_dev;
    len = sizeof *sin6;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("bind");
  return fd;
}

int bind_and_close(const BindRequest& r) {
  auto fd = open_bound_socket(r);
  if (!fd) return fd.error().errno_value;
  close(*fd);
  return 0;
}

Result<void> set_thread_euid(uid_t uid) {
  if (syscall(SYS_setresuid, -1, uid, -1) != 0) {
    return std::unexpected(system_error("setresuid", errno));
  }
  return {};
}

Result<int> try_bind_in(const std::string& netns_path, uint64_t netns_inode,
                        const BindRequest& request, std::optional<uid_t> as_uid) {
  Result<int> result = std::unexpected(Error{"not run"});
  std::thread worker([&] {
    if (!netns_path.empty()) {
      auto entered = enter_netns(netns_path, netns_inode);
      if (!entered) {
        result = std::unexpected(entered.error());
        return;
      }
    }
    if (as_uid) {
      if (auto ok = set_thread_euid(*as_uid); !ok) {
        result = std::unexpected(ok.error());
        return;
      }
    }
    result = bind_and_close(request);
  });
  worker.join();
  return result;
}

}  // namespace portrel
