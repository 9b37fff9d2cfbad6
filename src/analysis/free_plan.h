// `portrel free PORT`: which processes must exit for a port to be free, from the
// relation and how the port is shared. An inherited socket is freed by the root
// of its holder tree (nginx's master, not a worker the master would respawn);
// every member of a SO_REUSEPORT group holds its own socket; a client whose
// remote port is PORT holds nothing of it. A socket held by PID 1 (socket
// activation) or by a container is not freed with a signal: the plan names the
// command that stops it instead. Pure: reads nothing but the snapshot.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portrel/snapshot.h"

namespace portrel {

/// One process the plan signals.
struct FreeTarget {
  pid_t pid = 0;
  uint64_t start_time = 0;  ///< clock ticks after boot: the pid is this process only if it matches
  std::vector<const Socket*> sockets;  ///< the port's sockets its exit frees
  /// Other ports it holds (listening or bound): freed too when it exits.
  std::vector<const Socket*> also;
  size_t children = 0;  ///< holders of the same sockets that descend from it
};

/// A socket of the port that a signal cannot (or must not) free, and what would.
struct FreeBlocker {
  const Socket* socket = nullptr;
  std::string why;      ///< one line
  std::string command;  ///< what the user can run instead ("" when none)
};

struct FreePlan {
  std::vector<FreeTarget> targets;
  std::vector<FreeBlocker> blockers;
  std::vector<const Socket*> connections;  ///< established sockets on the port (for --connections)
  std::vector<const Socket*> time_wait;    ///< kernel-held, no process to signal
  bool nothing = false;  ///< no socket holds the port at all
};

/// Which sockets are the port's: those whose local side is the port asked for
/// (protocol, address, namespace), as the caller decides.
using OnPort = std::function<bool(const Socket&)>;

/// The plan to free the port ON_PORT selects. SELF is never a target (portrel itself).
FreePlan plan_free(const Snapshot& snapshot, const OnPort& on_port, pid_t self);

/// The container runtime and id in a cgroup path ("podman", "3f2a…"), when the
/// path is a container's (workload_of_cgroup_path: libpod-ID.scope,
/// docker-ID.scope, /docker/ID, cri-containerd-ID.scope, crio-ID.scope, …; the
/// runtime is "" for a bare Kubernetes id); nullopt otherwise.
std::optional<std::pair<std::string, std::string>> container_of_cgroup(std::string_view cgroup);

}  // namespace portrel
