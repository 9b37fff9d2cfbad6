// Who waits on which listening socket, read for a few given processes: threads
// blocked in accept()/accept4() (from /proc/PID/task/TID/syscall) and epoll
// interest lists (from fdinfo). The audit uses them to tell a served listener
// from an abandoned one, and a thundering herd from EPOLLEXCLUSIVE waiters.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "model/audit_evidence.h"

namespace portrel {

/// The syscall number and first argument of a /proc/PID/task/TID/syscall text
/// ("43 0x3 0x0 …"); nullopt for "running", "-1 …" (not in a syscall) or
/// malformed text.
std::optional<std::pair<long, uint64_t>> parse_syscall_text(std::string_view text);

/// Reads, for each pid, the accept waits of its threads and its epoll watches
/// (both with the socket inode resolved through /proc/PID/fd). A process that
/// exits meanwhile contributes nothing. Needs ptrace access (root) for other
/// users' processes; what cannot be read is skipped.
AuditEvidence read_waits(std::span<const pid_t> pids, const std::string& proc_root = "/proc");

}  // namespace portrel
