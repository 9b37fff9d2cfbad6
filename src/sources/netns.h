// Running work inside other network namespaces without moving the caller: worker
// threads setns(CLONE_NEWNET) into each namespace and stay there until they exit,
// so the calling thread's namespace never changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "portrel/error.h"
#include "sources/sources.h"

namespace portrel {

/// Inode of the network namespace the calling thread is in.
Result<uint64_t> current_netns_inode();

/// One handle per network namespace of PROCESSES (sorted by pid: each namespace
/// gets its lowest pid's PROC_ROOT/PID/ns/net), then every /run/netns name,
/// which replaces the pid path of the namespace it names (a name outlives any
/// one process). A /run/netns entry that is no longer an nsfs mount is skipped.
std::vector<NetnsHandle> netns_handles(const std::string& proc_root,
                                       std::span<const Process> processes);

/// Opens `path` (an nsfs file) and setns()s the calling thread into it; returns
/// the inode of the namespace entered. Errors when the path is gone, is not a
/// network namespace, setns is refused (EPERM), or, when `expected_inode` is not
/// 0, the path now leads to another namespace (the pid was reused). Call it only
/// on a thread made for the purpose: the thread stays in the namespace.
Result<uint64_t> enter_netns(const std::string& path, uint64_t expected_inode = 0);

/// Calls work(i, entered) for every namespaces[i], from up to `workers` threads
/// that each setns() into the namespace before the call; `entered` is the inode
/// entered, or why namespaces[i] could not be entered. Calls run concurrently:
/// `work` must only touch state belonging to index i. Returns when all are done.
void for_each_netns(std::span<const NetnsHandle> namespaces, unsigned workers,
                    const std::function<void(size_t, Result<uint64_t>)>& work);

}  // namespace portrel
