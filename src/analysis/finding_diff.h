// Audit findings that appeared or cleared between two reads of `portrel watch`:
// each finding is known by its kind, the sockets (inodes) and the processes it
// names; the summary is kept so that a cleared finding can still be told.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "analysis/audit.h"
#include "analysis/relation_diff.h"

namespace portrel {

/// A finding as a watch remembers it: no pointers into a snapshot.
struct SeenFinding {
  FindingKind kind = FindingKind::cloexec;
  Severity severity = Severity::info;
  std::vector<uint64_t> inodes;  ///< sorted
  std::vector<pid_t> pids;       ///< sorted
  std::string summary;
  uint32_t port = 0;  ///< of its first socket, 0 when it names none
  auto key() const { return std::tie(kind, inodes, pids); }
};

struct FindingChange {
  bool appeared = true;  ///< false: cleared
  SeenFinding finding;
};

/// Remembers the findings of the last read and says what changed.
class FindingWatch {
 public:
  /// The findings of this read against those of the last; the first call
  /// gives every finding as appeared.
  std::vector<FindingChange> update(std::span<const Finding> findings);

  /// Audits the sockets of SNAPSHOT that DIFF keeps (its selection, and only
  /// listeners when it says so; no waits are read, so a listener nobody serves
  /// is not judged) and gives update()'s answer.
  std::vector<FindingChange> read(const Snapshot& snapshot, const DiffOptions& diff);

 private:
  std::map<std::tuple<FindingKind, std::vector<uint64_t>, std::vector<pid_t>>, SeenFinding>
      last_;
};

}  // namespace portrel
