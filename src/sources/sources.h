// The kernel behind two small interfaces, each with a live implementation and an
// in-memory fake for tests. The join (model/) and the analysis never touch /proc
// or netlink themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "portrel/error.h"
#include "portrel/model.h"
#include "portrel/snapshot.h"

namespace portrel {

/// A network namespace and a path through which it can be entered with setns().
struct NetnsHandle {
  uint64_t inode = 0;
  std::string path;  ///< "/proc/PID/ns/net" or "/run/netns/NAME"
  std::string name;  ///< the /run/netns name, "" when none
};

/// Socket options read exactly from struct sock (by the bpf source).
struct ExactOptions {
  uint64_t inode = 0;
  bool reuseaddr = false;  ///< skc_reuse: SO_REUSEADDR
  bool reuseport = false;  ///< skc_reuseport: SO_REUSEPORT
  bool v6only = false;     ///< skc_ipv6only: IPV6_V6ONLY
};

/// Which sockets of the protocol tables to read options for: those on PORTS,
/// of TCP and/or UDP; with tcp_listeners_only the TCP walk stops at the first
/// socket that is not listening (listeners come first).
struct TableQuery {
  std::vector<uint16_t> ports;  ///< empty: every port
  bool tcp = true;
  bool udp = true;
  bool tcp_listeners_only = false;
};

/// What one walk of /proc yields.
struct ProcessScan {
  std::vector<Process> processes;
  std::vector<Holding> holdings;     ///< every socket fd: "socket:[INODE]" links
  /// Every epoll watch (from fdinfo of "anon_inode:[eventpoll]" fds); empty when
  /// the source does not read interest lists.
  std::vector<EpollWatch> epoll;
  std::vector<NetnsHandle> netns;    ///< one per distinct netns (+ /run/netns)
  size_t vanished = 0;      ///< processes that exited during the walk
  size_t fd_unreadable = 0; ///< processes whose fd table could not be read (EACCES)
  /// Of those, the ones portrel could not open for want of file descriptors of
  /// its own (EMFILE, ENFILE: a low ulimit -n), not for want of privilege.
  size_t fd_exhausted = 0;
  std::vector<std::string> warnings;
  /// Exact options by socket inode; empty when the source cannot read them.
  std::vector<ExactOptions> options;
  /// Sockets the fd walk describes itself, for protocols no table dump may
  /// list (vsock, whose vsock_diag many kernels lack): the capture adds those
  /// its plan reads from the walk (SocketReader::fd_walk).
  std::vector<Socket> held_sockets;
  /// Namespaces of held sockets that no handle in `netns` reaches (no process
  /// lives there, no path binds them: the socket was passed over SCM_RIGHTS,
  /// or its holder moved), each with one holding of a socket in it; the
  /// capture enters them through that socket (SIOCGSKNS). Only a walk that
  /// reads each socket's namespace (bpf) finds them.
  std::vector<std::pair<uint64_t, Holding>> unreached_netns;
};

class ProcessSource {
 public:
  virtual ~ProcessSource() = default;
  /// Walks every process. The pid may exit between readdir and any later read;
  /// that is counted in `vanished`, not an error.
  virtual Result<ProcessScan> scan() = 0;
};

/// Exact options of sockets no process holds (their holder is hidden, or none
/// has a file), read from the kernel's protocol tables.
class OptionSource {
 public:
  virtual ~OptionSource() = default;
  /// The options in NAMESPACES, as QUERY narrows, appended to OPTIONS;
  /// problems to WARNINGS.
  virtual void read(const std::vector<NetnsHandle>& namespaces, const TableQuery& query,
                    std::vector<ExactOptions>& options,
                    std::vector<std::string>& warnings) = 0;
};

struct SocketScan {
  std::vector<Socket> sockets;
  std::vector<uint64_t> dumped_netns;  ///< namespaces whose dump succeeded
  std::vector<std::string> warnings;   ///< e.g. a netns that could not be entered
};

struct SocketQuery {
  /// Only TCP, MPTCP and vsock LISTEN, and UDP/UDPLite CLOSE or ESTABLISHED
  /// (a connected UDP socket holds its port too); RAW is never filtered by state.
  bool listening_only = false;
  std::vector<Proto> protocols;  ///< dump only these; empty: every one
  std::optional<uint32_t> port;  ///< only sockets on this local port
};

class SocketSource {
 public:
  virtual ~SocketSource() = default;
  /// Lists the sockets of each namespace.
  virtual Result<SocketScan> scan(const std::vector<NetnsHandle>& namespaces,
                                  const SocketQuery& query) = 0;
};

}  // namespace portrel
