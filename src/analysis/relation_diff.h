// What changed in the process ↔ socket relation between two snapshots: the
// engine behind `portrel watch`, whatever triggered the second capture (a
// timer, or a kernel event that hinted at a change). Pure: it reads nothing but
// the two snapshots, so the changes it reports are exactly what two full
// captures differ in.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/sharing.h"
#include "portrel/snapshot.h"

namespace portrel {

enum class ChangeKind : uint8_t {
  port_opened,      ///< a socket appeared on a (netns, proto, port) no socket held
  socket_opened,    ///< a socket appeared beside others on its port
  socket_state,     ///< a socket changed state (bound → LISTEN, …)
  socket_closed,    ///< a socket went, others stay on its port
  port_closed,      ///< the last socket on a (netns, proto, port) went
  holder_joined,    ///< a process began to hold a socket that was there before
  holder_left,      ///< a process stopped holding a socket that stays
  holder_exec,      ///< a process holding sockets ran another program
  sharing_changed,  ///< the sharing kinds of a (netns, port) changed
};
/// "port-opened", "socket-opened", "socket-state", …
std::string_view change_kind_name(ChangeKind kind);

/// How a holder joined or left.
enum class HolderHow : uint8_t {
  none,
  fork,      ///< a new process whose parent held the socket
  received,  ///< a process that did not hold it got it (SCM_RIGHTS, pidfd_getfd, …)
  started,   ///< a new process whose parent did not hold it (a process not seen)
  dup,       ///< one more fd of a process that already held it
  exited,    ///< the process is gone
  closed,    ///< the process lives and no longer holds it
  exec,      ///< closed by exec (close-on-exec) as the process ran another program
};
std::string_view holder_how_name(HolderHow how);  ///< "fork", "received", …

/// One process as a change names it.
struct ChangeHolder {
  pid_t pid = 0;
  std::string comm;
  uid_t uid = 0;
};

struct Change {
  ChangeKind kind = ChangeKind::socket_opened;
  /// The socket (its last state for a closing one); for sharing_changed, the
  /// first socket of the port. A copy: it outlives both snapshots.
  Socket socket;
  uint8_t old_state = 0;  ///< socket_state: the state before
  /// port_opened, socket_opened: the holders; socket_closed, port_closed: the
  /// holders it had; holder_*: the one process.
  std::vector<ChangeHolder> holders;
  HolderHow how = HolderHow::none;
  int fd = -1;                          ///< holder_joined, holder_left: the fd
  std::string old_comm;                 ///< holder_exec: the program before
  std::vector<SharingKind> old_kinds;   ///< sharing_changed
  std::vector<SharingKind> new_kinds;
};

struct DiffOptions {
  /// Only sockets that hold a port for others to see: LISTEN (TCP) and bound
  /// UDP/RAW; connections are left out (their churn would drown the rest).
  bool listening_only = true;
  /// When set, only the sockets it keeps (a port, a filter, some processes).
  std::function<bool(const Snapshot&, const Socket&)> select;
};

/// The changes from BEFORE to AFTER, in a stable order: sockets opened and
/// changed (by netns, proto, port), holders, execs, sockets closed, then sharing.
/// A process is the same when its pid and start time are; a socket when its
/// inode is (or, with no inode, its cookie).
std::vector<Change> diff_relation(const Snapshot& before, const Snapshot& after,
                                  const DiffOptions& options = {});

}  // namespace portrel
