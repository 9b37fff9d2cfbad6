// The kernel's socket events (a TCP socket began or stopped listening, an inet
// socket was bound, a bound UDP socket closed), from bpf programs on a
// tracepoint and on the bind functions, as hints that the relation may have
// changed: `watch` and `record` read again at once instead of at their next
// tick, also when a process that was already running opens a port (which no
// process event shows). Needs CAP_BPF and CAP_PERFMON, BTF, and a kernel with
// BPF ring buffers (5.8) and trampolines; each hook that does not load is
// left out and named.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "portrel/error.h"

namespace portrel {

class SocketEvents {
 public:
  /// Loads and attaches the programs. An Error says why none could be.
  static Result<std::unique_ptr<SocketEvents>> open();
  virtual ~SocketEvents() = default;

  /// For poll(): readable when records are queued.
  virtual int fd() const = 0;
  struct Drained {
    size_t events = 0;  ///< records of other processes than portrel itself
    bool lost = false;  ///< the ring was full: records were dropped since the last drain
  };
  /// Reads every queued record without blocking.
  virtual Drained drain() = 0;
  /// What is watched: "listen and unlisten, bind (v4, v6), UDP close", and
  /// each hook left out with its reason.
  virtual const std::string& hooks() const = 0;
};

}  // namespace portrel
