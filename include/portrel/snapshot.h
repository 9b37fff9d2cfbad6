// A Snapshot is the whole process ↔ socket relation at one moment: the three
// relations plus indexes by pid, by inode and by (netns, proto, port). It is
// immutable once built; a socket held by 1,000 forked workers is one Socket row
// and 1,000 Holding rows.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "portrel/model.h"

namespace portrel {

/// A network namespace portrel knows of.
struct Netns {
  uint64_t inode = 0;
  std::string name;      ///< the /run/netns name, "" when it has none
  bool is_host = false;  ///< the namespace portrel itself runs in
  bool dumped = false;   ///< its sockets were read
  /// Protocols asked for by name whose sockets could not be listed here
  /// (vsock, with neither vsock_diag nor the bpf fd walk): a partial answer.
  std::vector<Proto> unlisted;
};

/// Why the owner of a socket is not known.
enum class Unowned : uint8_t {
  none,            ///< it has visible holders
  no_file,         ///< no inode (TIME_WAIT, or a request socket): nobody holds it
  not_privileged,  ///< some processes' fd tables were unreadable: not root
  unreadable,      ///< some fd tables were unreadable even as root (protected)
  hidden,          ///< every fd table was read: held by a process not visible
                   ///< here (another pid namespace, hidden, or exited)
};
std::string_view unowned_reason(Unowned why);

/// One entry of an epoll interest list: process PID's epoll fd EPFD watches its
/// fd TARGET_FD, which is socket INODE, for EVENTS (EPOLLIN, EPOLLEXCLUSIVE, …).
struct EpollWatch {
  pid_t pid = 0;
  int epfd = -1;
  int target_fd = -1;
  uint64_t inode = 0;
  uint32_t events = 0;
  auto operator<=>(const EpollWatch&) const = default;
};

struct PortKey {
  uint64_t netns = 0;
  Proto proto = Proto::tcp;
  uint32_t port = 0;
  bool operator==(const PortKey&) const = default;
};
struct PortKeyHash {
  size_t operator()(const PortKey& k) const {
    return std::hash<uint64_t>()(k.netns * 1000003u ^
                                 (uint64_t(k.proto) << 16 | k.port));
  }
};

/// Puts SOCKETS in the order a Snapshot keeps them, by (netns, proto,
/// local_port, inode, cookie), with only the first of each inode (inode 0, no
/// file, is kept as many times as it comes). A Snapshot made of sockets in that
/// order does not move them again: a capture orders them on a thread that
/// would otherwise wait.
void order_sockets(std::vector<Socket>& sockets);

class Snapshot {
 public:
  Snapshot() = default;
  /// Builds the indexes. UNHELD is why sockets with no visible holder have none.
  /// Holdings whose inode names no socket are dropped (unix sockets, or inet sockets
  /// born after the socket dump); duplicates are removed.
  Snapshot(std::vector<Process> processes, std::vector<Socket> sockets,
           std::vector<Holding> holdings, std::vector<Netns> namespaces,
           std::vector<std::string> warnings, Unowned unheld = Unowned::hidden,
           std::vector<EpollWatch> epoll = {});

  /// By pid.
  std::span<const Process> processes() const { return processes_; }
  /// By (netns, proto, local_port, inode, cookie).
  std::span<const Socket> sockets() const { return sockets_; }
  /// Sorted by (inode, pid, fd).
  std::span<const Holding> holdings() const { return holdings_; }
  std::span<const Netns> namespaces() const { return namespaces_; }
  /// Epoll watches on the snapshot's sockets, sorted by (inode, pid, epfd);
  /// empty when the source did not read epoll interest lists.
  std::span<const EpollWatch> epoll_watches() const { return epoll_; }
  /// The epoll watches on one socket.
  std::span<const EpollWatch> watchers(uint64_t inode) const;
  /// Things the caller should tell the user: partial reads, unresolved owners.
  std::span<const std::string> warnings() const { return warnings_; }

  const Process* process(pid_t pid) const;
  const Netns* netns(uint64_t inode) const;
  /// Every socket with this inode (one, except inode 0).
  const Socket* socket(uint64_t inode) const;
  /// The holders of a socket, sorted by (pid, fd). Empty for inode 0.
  std::span<const Holding> holders(uint64_t inode) const;
  /// The same for a socket of sockets(), found by its place rather than by
  /// inode (a JSON document asks for every socket's).
  std::span<const Holding> holders(const Socket& socket) const;
  /// Every holding of one process, sorted by fd.
  std::vector<Holding> held_by(pid_t pid) const;
  /// Indexes into sockets() of every socket on (netns, proto, port).
  std::span<const uint32_t> on_port(const PortKey& key) const;
  /// Direct children of a process.
  std::span<const pid_t> children(pid_t pid) const;
  /// Why a socket has no holder: no_file for inode 0, else the reason the
  /// capture gave for every socket with a file but no visible holder.
  Unowned why_unowned(const Socket& socket) const;

 private:
  std::vector<Process> processes_;
  std::vector<Socket> sockets_;
  std::vector<Holding> holdings_;
  std::vector<Netns> namespaces_;
  std::vector<std::string> warnings_;
  Unowned unheld_ = Unowned::hidden;
  std::vector<EpollWatch> epoll_;

  std::unordered_map<pid_t, uint32_t> by_pid_;
  std::vector<std::pair<uint64_t, uint32_t>> by_inode_;  ///< (inode, index), by inode
  std::vector<uint32_t> socket_indexes_;  ///< 0, 1, ... for on_port()'s spans
  std::unordered_map<pid_t, std::vector<pid_t>> children_;
  std::vector<uint32_t> holdings_by_pid_;  ///< indexes into holdings_, by (pid, fd)
  /// Per socket (index into sockets_): its holdings, [first, last) in holdings_.
  std::vector<std::pair<uint32_t, uint32_t>> holder_range_;
};

}  // namespace portrel
