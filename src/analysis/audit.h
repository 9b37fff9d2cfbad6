// `portrel audit`: what is wrong with how ports are held. Each finding names the
// sockets and processes involved, explains itself in one paragraph and says how
// to fix it. Works on a Snapshot plus evidence of who is waiting on which socket
// (epoll interest lists, threads blocked in accept); it reads nothing itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/audit_evidence.h"
#include "portrel/snapshot.h"

namespace portrel {

enum class Severity : uint8_t { info, warning, error };
std::string_view severity_name(Severity severity);  ///< "info", "warning", "error"

enum class FindingKind : uint8_t {
  cloexec,  ///< a listening socket fd without FD_CLOEXEC
  leaked,   ///< a listener held by a process that did not create it
  herd,     ///< several processes wait on one listener through plain epoll
  exposed,  ///< a listener on a wildcard address in the host's namespace
  unowned,  ///< sockets with no visible holder
};
std::string_view finding_kind_name(FindingKind kind);  ///< "cloexec", "leaked", …

struct Finding {
  FindingKind kind = FindingKind::cloexec;
  Severity severity = Severity::info;
  std::vector<const Socket*> sockets;  ///< pointers into the snapshot
  std::vector<pid_t> pids;             ///< the processes concerned, sorted
  std::string summary;                 ///< one line (names sanitised)
  std::string explanation;             ///< one paragraph
  std::string fix;
};

/// Audits SOCKETS (pointers into SNAPSHOT). Findings come sorted by severity
/// (highest first), then kind, then port.
std::vector<Finding> audit(const Snapshot& snapshot, std::span<const Socket* const> sockets,
                           const AuditEvidence& evidence);

/// Whether any finding is of severity warning or above.
bool has_warnings(std::span<const Finding> findings);

}  // namespace portrel
