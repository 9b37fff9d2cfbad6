// Capturing a Snapshot of the live host: processes and fd tables from /proc, inet
// sockets from NETLINK_SOCK_DIAG in every network namespace found.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "portrel/error.h"
#include "portrel/snapshot.h"

namespace portrel {

struct CaptureOptions {
  /// Read only these network namespaces (inodes); empty means every one found.
  std::vector<uint64_t> only_netns;
  /// Dump only listening/bound sockets (cheaper); false dumps every state.
  bool listening_only = false;
};

/// Reads the live host. Fails only when nothing at all could be read (no /proc,
/// no netlink); partial reads come back as warnings inside the Snapshot.
Result<Snapshot> capture(const CaptureOptions& options);

}  // namespace portrel
