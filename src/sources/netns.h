// Running work inside other network namespaces without moving the caller: worker
// threads setns(CLONE_NEWNET) into each namespace and stay there until they exit,
// so the calling thread's namespace never changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portrel/error.h"
#include "sources/sources.h"
#include "util/unique_fd.h"

namespace portrel {

/// Inode of the network namespace the calling thread is in.
Result<uint64_t> current_netns_inode();

/// One handle per network namespace of PROCESSES (sorted by pid: each namespace
/// gets its lowest pid's PROC_ROOT/PID/ns/net), then every /run/netns name,
/// which replaces the pid path of the namespace it names (a name outlives any
/// one process), then every other namespace bound to a path (add_netns_mounts).
/// A /run/netns entry that is no longer an nsfs mount is skipped.
/// MOUNTS, when given, keeps the mount table between calls.
class NetnsMounts;
std::vector<NetnsHandle> netns_handles(const std::string& proc_root,
                                       std::span<const Process> processes,
                                       NetnsMounts* mounts = nullptr);

/// The network namespaces bound to a path (nsfs mounts: `ip netns add`'s
/// /run/netns, and any other bind mount, a runtime's own directory included),
/// from the text of a /proc/PID/mountinfo: (inode, mount point).
std::vector<std::pair<uint64_t, std::string>> netns_mounts(std::string_view mountinfo);

/// The network namespaces bound to a path in portrel's mount namespace, kept
/// between captures: /proc/self/mountinfo is read again only when the kernel
/// says the mount table changed (the open file polls POLLPRI after a mount or
/// an unmount).
class NetnsMounts {
 public:
  /// netns_mounts of /proc/self/mountinfo as it is now.
  const std::vector<std::pair<uint64_t, std::string>>& current();
  /// How often the mount table was read.
  size_t reads() const { return reads_; }

 private:
  UniqueFd file_;
  std::vector<std::pair<uint64_t, std::string>> mounts_;
  size_t reads_ = 0;
};

/// Adds to HANDLES each namespace bound to a path of portrel's mount namespace
/// (MOUNTS, or /proc/self/mountinfo read now) that no handle reaches yet: one
/// that no process lives in may still hold sockets.
void add_netns_mounts(std::vector<NetnsHandle>& handles, NetnsMounts* mounts = nullptr);

/// A duplicate of PID's FD (pidfd_open + pidfd_getfd) if it still is socket
/// INODE, else -1 (errno says why). The caller closes it.
int duplicate_socket(pid_t pid, int fd, uint64_t inode);

/// The network namespace of a held socket, as an fd that setns() takes (and
/// that /proc/self/fd/N names): the holder's fd duplicated with pidfd_getfd,
/// asked with SIOCGSKNS, closed. Errors when the holder is gone, its fd names
/// another file now, or either call is refused.
Result<UniqueFd> netns_of_socket(const Holding& holding);

/// The IP protocol of PID's FD, from the name its socket file gives ("TCP",
/// "UDPv6", "PING", ...: the system.sockprotoname xattr), without touching
/// the socket. None when it is no IP socket, or cannot be read.
std::optional<Proto> ip_socket_proto(pid_t pid, int fd);

/// Opens `path` (an nsfs file) and setns()s the calling thread into it; returns
/// the inode of the namespace entered. Errors when the path is gone, is not a
/// network namespace, setns is refused (EPERM), or, when `expected_inode` is not
/// 0, the path now leads to another namespace (the pid was reused). Call it only
/// on a thread made for the purpose: the thread stays in the namespace.
Result<uint64_t> enter_netns(const std::string& path, uint64_t expected_inode = 0);

/// Calls work(i, entered) for every namespaces[i], from up to `workers` threads
/// that each setns() into the namespace before the call; `entered` is the inode
/// entered, or why namespaces[i] could not be entered. Calls run concurrently:
/// `work` must only touch state belonging to index i. Returns when all are done.
void for_each_netns(std::span<const NetnsHandle> namespaces, unsigned workers,
                    const std::function<void(size_t, Result<uint64_t>)>& work);

}  // namespace portrel
