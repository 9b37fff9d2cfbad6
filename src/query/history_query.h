// Questions to a history file (`portrel history`): which processes held which
// sockets on a port, or which ports a process held, during a span of time.
// Answers are rows of the port_history view, one per (socket, holder, process)
// interval that overlaps the span.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "portrel/error.h"
#include "portrel/model.h"
#include "query/database.h"

namespace portrel {

struct HistoryQuery {
  std::optional<uint32_t> port;  ///< rows on this local port
  std::optional<Proto> proto;
  std::optional<pid_t> pid;  ///< rows held by this pid
  std::string name;          ///< rows held by processes of this comm or executable name
  /// The span, unix seconds, both ends included (--at T: SINCE = UNTIL = T).
  double since = -std::numeric_limits<double>::infinity();
  double until = std::numeric_limits<double>::infinity();
};

/// Column order of the answer: netns_name, proto, local_address, local_port,
/// state, pid, fd, comm, user, first_seen, last_seen, open, closed_by, cmdline,
/// exe, inode, start_time, cloexec, netns, family. Rows by first_seen, pid, fd.
Result<ResultSet> query_history(Database& db, const HistoryQuery& query);

/// Whether a recorder run covers time T (from its start to its stop or last
/// heartbeat): outside every run, history knows nothing.
Result<bool> history_covers(Database& db, double t);

}  // namespace portrel
