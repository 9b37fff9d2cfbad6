// The kernel's process events (fork, exec, exit) from the proc connector
// (NETLINK_CONNECTOR, CN_IDX_PROC), as hints that the relation may have
// changed: `portrel watch` re-reads when one comes instead of waiting for its
// next tick. Listening needs CAP_NET_ADMIN in the initial user namespace; the
// kernel needs CONFIG_PROC_EVENTS.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "portrel/error.h"
#include "util/unique_fd.h"

namespace portrel {

class ProcEvents {
 public:
  /// Subscribes. An Error says why not (no privilege, no connector).
  static Result<ProcEvents> open();

  /// For poll(): readable when events are queued.
  int fd() const { return fd_.get(); }

  struct Drained {
    size_t events = 0;  ///< processes forked, exec'd and exited (not threads, not portrel's)
    bool lost = false;  ///< the socket's buffer overflowed: events were dropped
  };
  /// Reads every queued message without blocking.
  Drained drain();

 private:
  ProcEvents(UniqueFd fd, pid_t self) : fd_(std::move(fd)), self_(self) {}
  UniqueFd fd_;
  pid_t self_ = 0;
};

}  // namespace portrel
