// Who waits on which socket beyond what a Snapshot holds: threads blocked in
// accept() and epoll interest lists, read by sources/waits.h for the holders of
// listeners and weighed by the audit (analysis/audit.h). Plain data.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "portrel/snapshot.h"

namespace portrel {

/// A thread blocked in accept()/accept4() on fd FD of process PID (socket INODE):
/// evidence that someone serves that listener.
struct AcceptWait {
  pid_t pid = 0;
  pid_t tid = 0;
  int fd = -1;
  uint64_t inode = 0;
  auto operator<=>(const AcceptWait&) const = default;
};

/// Who waits on which socket, beyond what the snapshot holds.
struct AuditEvidence {
  std::vector<EpollWatch> epoll;  ///< merged with the snapshot's watches
  std::vector<AcceptWait> accept_waits;
  /// Whether accept waits and epoll lists were read for the listeners' holders;
  /// without them a listener nobody serves cannot be told from a served one, so
  /// the "creator gone" case of `leaked` is not judged.
  bool waits_read = false;
};

}  // namespace portrel
