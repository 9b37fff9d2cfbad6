// The live ProcessSource: one walk of /proc yielding processes, the fd → socket
// inode join table and the network namespaces to dump. Each process is read
// through a pinned /proc/PID directory fd, so a pid reused mid-walk reads as
// "vanished" instead of lending its new owner's data to the old row.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "sources/netns.h"
#include "sources/sources.h"

namespace portrel {

/// Whether PID's fd table can be read under PROC_ROOT: /proc/PID/fd lists and
/// its first link reads (a hidden or protected process's table may list but
/// not read). False for a pid that does not exist.
bool fd_table_readable(pid_t pid, const std::string& proc_root = "/proc");

class ProcfsSource : public ProcessSource {
 public:
  /// PROC_ROOT is where procfs is mounted; a test may point it at a procfs
  /// mounted elsewhere (another pid namespace) or at a hand-built tree.
  /// THREADS walks that many processes at once; 0 picks one thread per 200
  /// processes, at most one per core and 4. The walk is nearly all system
  /// calls, so it scales with cores.
  explicit ProcfsSource(std::string proc_root = "/proc", unsigned threads = 0);
  ~ProcfsSource() override;
  ProcfsSource(const ProcfsSource&) = delete;
  ProcfsSource& operator=(const ProcfsSource&) = delete;

  /// Walks every thread-group leader under the root. Fails only when the root
  /// itself cannot be read; a process that exits mid-walk is counted in
  /// `vanished`, an unreadable fd table in `fd_unreadable` (with one warning).
  /// Processes come sorted by pid, holdings by (pid, fd); `netns` holds one
  /// handle per namespace (its lowest pid's, or its /run/netns name).
  Result<ProcessScan> scan() override;

  enum class Outcome : uint8_t { read, vanished, unreadable };
  /// Reads one process through PID_DIR, a directory fd of <root>/PID that the
  /// caller opened (and still owns), and appends its row and holdings to INTO.
  /// Once that process is gone every read through PID_DIR fails with ESRCH,
  /// even if PID is reused: the result is then `vanished` and INTO gets only
  /// the count. `unreadable` (a malformed stat, say) adds a warning instead.
  Outcome read_process(int pid_dir, pid_t pid, ProcessScan& into);

 private:
  class Reader;  // buffers and caches of one walking thread

  std::string root_;
  unsigned threads_;
  std::unique_ptr<Reader> reader_;
  NetnsMounts mounts_;  ///< the mount table, read again only when it changed
};

}  // namespace portrel
