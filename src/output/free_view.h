// The plan of `portrel free` for programs: who would be signalled, what a
// signal cannot free, and the connections and TIME_WAIT sockets of the port.
#pragma once

#include <string>

#include "analysis/free_plan.h"
#include "portrel/snapshot.h"

namespace portrel {

/// {"targets", "blockers", "connections", "time_wait"}, indented by two, no
/// trailing newline. A target is its pid, comm, cmdline and user (null when
/// the process is not in SNAPSHOT), start time, children, the sockets it frees
/// and those it also holds; a blocker is its socket, why, and the command to
/// run instead (null when none). A socket is its inode, proto, state, local
/// and remote address and port, and netns. Invalid UTF-8 becomes U+FFFD.
std::string free_plan_json(const Snapshot& snapshot, const FreePlan& plan);

}  // namespace portrel
