// The history file that `portrel record` keeps: the relation's rows as
// validity intervals (query/history_schema.h), written from the changes the
// diff engine finds between two reads (analysis/relation_diff.h). Writes go
// into one open transaction, committed per batch with the run's heartbeat, so
// a recorder killed mid-batch loses that batch only, and the next run closes
// what the killed one left open at its last heartbeat (closed_by 'crash').
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "analysis/finding_diff.h"
#include "analysis/relation_diff.h"
#include "portrel/error.h"
#include "portrel/snapshot.h"
#include "query/database.h"
#include "util/unique_fd.h"

namespace portrel {

/// Retention: closed intervals older than KEEP_DAYS go, and then the oldest
/// closed ones while the file's data is larger than MAX_BYTES.
struct Retention {
  double keep_days = 30;
  uint64_t max_bytes = uint64_t{1} << 30;
};

class HistoryStore {
 public:
  /// Opens the history file at PATH for writing, creating it (mode 0600: it
  /// holds command lines) with its schema. Refused: a symbolic link, anything
  /// but a regular file, a file that is not empty and not a portrel history
  /// file, and a file another recorder holds (an exclusive lock for the
  /// store's lifetime).
  static Result<HistoryStore> open(const std::string& path);
  /// An in-memory history (tests).
  static Result<HistoryStore> open_memory();

  /// Starts a run at NOW. First closes every interval that runs which did not
  /// stop cleanly left open, at each one's last committed heartbeat, with
  /// closed_by 'crash', and marks those runs stopped. Returns how many
  /// intervals it closed.
  Result<size_t> begin_run(double now, const std::string& host,
                           const std::string& version, pid_t pid);

  /// Records one read taken at NOW: CHANGES are diff_relation(BEFORE, AFTER)
  /// (with an empty BEFORE for the run's first read). Rows go into the open
  /// batch; closed intervals end at the read before (the last that saw them).
  Result<void> apply(const std::vector<Change>& changes, const Snapshot& before,
                     const Snapshot& after, double now);

  /// Records the audit findings that appeared or cleared at the read taken at
  /// NOW (FindingWatch::read); INITIAL: those of the run's first read
  /// (opened_by 'present'). Cleared ones end at the read before.
  Result<void> apply_findings(const std::vector<FindingChange>& changes, double now,
                              bool initial);

  /// Changes applied since the last commit.
  size_t pending() const { return pending_; }

  /// Commits the batch, with the run's heartbeat at the last read applied.
  Result<void> commit();

  /// Ends the run cleanly: closes every open interval at the last read
  /// (closed_by 'stopped'), marks the run clean and commits.
  Result<void> end_run(double now);

  /// Commits, then deletes what RETENTION says goes and gives the space back
  /// (incremental vacuum, WAL truncated). Returns the rows deleted.
  Result<size_t> prune(double now, const Retention& retention);

  /// Bytes of the file's pages in use.
  Result<uint64_t> used_bytes();

  Database& db() { return db_; }
  int64_t run() const { return run_; }

  HistoryStore(HistoryStore&&) noexcept;
  HistoryStore& operator=(HistoryStore&&) noexcept;
  ~HistoryStore();

 private:
  struct Statements;
  HistoryStore(Database db, UniqueFd lock);
  Result<void> prepare();
  Result<void> begin_batch();
  Result<void> open_socket(const Snapshot& snap, const Socket& s, double now,
                           const char* opened_by);
  Result<void> close_socket(uint64_t identity, double last, const char* closed_by);
  Result<void> open_holding(const Snapshot& snap, const Holding& h, double now,
                            const char* opened_by);
  Result<void> close_holding(uint64_t inode, pid_t pid, uint64_t start, int fd,
                             double last, const char* closed_by, const Snapshot& after);
  Result<void> open_process(const Snapshot& snap, pid_t pid, uint64_t start, double now,
                            const char* opened_by, int holdings);
  Result<void> close_row(int table, int64_t rowid, double last, const char* closed_by);

  Database db_;
  UniqueFd lock_;
  std::unique_ptr<Statements> stmts_;
  int64_t run_ = 0;
  bool in_batch_ = false;
  bool first_read_ = true;
  size_t pending_ = 0;
  double last_read_ = 0;
  // The open intervals of this run: their rows, by identity.
  std::unordered_map<uint64_t, int64_t> sockets_;  // socket identity → rowid
  std::map<std::tuple<uint64_t, pid_t, uint64_t, int>, int64_t>
      holdings_;  // (inode, pid, start, fd)
  std::map<std::tuple<FindingKind, std::vector<uint64_t>, std::vector<pid_t>>, int64_t>
      findings_;  // open finding_history rows
  struct OpenProcess {
    int64_t rowid = 0;
    int holdings = 0;  // open holding intervals
  };
  std::map<std::pair<pid_t, uint64_t>, OpenProcess> processes_;  // (pid, start)
};

}  // namespace portrel
