// The loop behind `portrel watch` and `portrel record`: one capture after
// another, each handed to the caller with the one before. Reads come every
// interval, and at once (20 ms after) when the kernel's process events (fork,
// exec, exit: the proc connector) or its socket events (listen, bind, UDP
// close: bpf, sources/socket_events.h) say that something may have changed; a read
// that an event brought is followed by two more, 100 ms and then 300 ms later
// (a new program binds its ports a little after its exec). SIGINT and SIGTERM
// end the loop between reads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "portrel/error.h"
#include "portrel/snapshot.h"
#include "sources/proc_events.h"
#include "sources/socket_events.h"

namespace portrel {

class CaptureLoop {
 public:
  /// Subscribes to the process events (when it can: see events_error()).
  /// INTERVAL_S: seconds between reads when no event comes. MAX_READS: stop
  /// after that many reads in all, counting the first (0: until stopped).
  CaptureLoop(double interval_s, size_t max_reads);

  /// "" when process events drive reads; else why not (no privilege, ...).
  const std::string& events_error() const { return events_error_; }
  /// "" when socket events drive reads; else why not.
  const std::string& socket_events_error() const { return socket_events_error_; }
  /// What drives the reads, for a line on stderr: " and on process events
  /// (fork, exec, exit) and socket events (…)", or what is missing and why.
  std::string describe() const;

  /// Makes SIGINT and SIGTERM end run() between reads (and SIGPIPE ignored:
  /// a closed pipe is seen as a write error by the caller).
  static void catch_stop_signals();
  /// Whether SIGINT or SIGTERM came.
  static bool stop_requested();

  /// Reads with CAPTURE until stopped. FIRST is the read taken before (it
  /// counts towards MAX_READS). Each successful read is handed to ON_READ with
  /// the last one (BEFORE, AFTER); it returns false to stop. A failed read is
  /// said on stderr and the next one follows. Owns the snapshots it keeps.
  void run(Snapshot first, const std::function<Result<Snapshot>()>& capture,
           const std::function<bool(const Snapshot& before, const Snapshot& after)>&
               on_read);

 private:
  double interval_s_;
  size_t max_reads_;
  std::optional<ProcEvents> events_;
  std::string events_error_;
  std::unique_ptr<SocketEvents> socket_events_;
  std::string socket_events_error_;
};

}  // namespace portrel
