// `portrel graph`: the relation as a Graphviz DOT picture. Processes are boxes,
// grouped (DOT clusters) by container and process tree; sockets are ellipses,
// grouped by (netns, port) and filled with the colours of their sharing kinds;
// a holding is an edge labelled with its fd, dashed when the fd lacks
// close-on-exec. Identical sibling holders fold into one node ("nginx ×1000").
// Pure: reads nothing but the snapshot.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "portrel/snapshot.h"

namespace portrel {

struct GraphOptions {
  /// Processes drawn even when they hold none of the sockets (`graph --of`'s
  /// targets). Pids the snapshot does not know are left out.
  std::vector<pid_t> processes;
  /// Siblings (same comm, same parent, same container, holding the same of the
  /// drawn sockets, with no drawn child) fold into one node from this many on;
  /// 0 never folds.
  size_t fold_at = 5;
};

/// The DOT text (a `digraph`) of SOCKETS, pointers into SNAPSHOT, with every
/// holder of each and the processes OPTIONS names. Node ids are stable and
/// readable: `p<pid>` for a process, `f<pid>` for a fold (the smallest pid of
/// its members), `s<inode>` for a socket (`s0_<n>` for sockets with no inode).
/// Every string another process chose (comm, command line, user, cgroup) and
/// every namespace name goes through dot_text().
std::string graph_dot(const Snapshot& snapshot, std::span<const Socket* const> sockets,
                      const GraphOptions& options = {});

/// TEXT as the inside of a DOT quoted string that Graphviz shows as sanitize()
/// would print it: sanitised first (control and format characters become
/// \xNN and \u{XXXX}), then backslashes and double quotes escaped and `&`
/// written as `&amp;` (Graphviz turns entities such as `&#x202e;` in a label
/// into the character itself).
std::string dot_text(std::string_view text);

}  // namespace portrel
