// The tables as SQLite virtual tables over a live capture. The capture is taken
// on the first row a query reads, and only as far as the query needs: a query
// that reads only `process` skips the socket dumps, and one whose first read is
// `socket WHERE local_port = P` captures port P only (as `who P` does). That
// narrow capture is checked on every later read; a read it cannot answer (another
// port, all holdings of a pid, a full scan) makes the statement run again over a
// full capture. Equality on pid, inode or local_port is answered from an index
// (xBestIndex), so a join from one port to its holders touches only their rows.
#pragma once

#include <sqlite3.h>

#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "portrel/error.h"
#include "portrel/snapshot.h"
#include "query/relations.h"

namespace portrel {

class LiveTables {
 public:
  /// What a capture must include: every process always; sockets and holdings
  /// only when WITH_SOCKETS, and then only those on PORT when it is set.
  struct Scope {
    bool with_sockets = true;
    std::optional<uint32_t> port;
  };
  using Capture = std::function<Result<Snapshot>(const Scope& scope)>;

  /// KEEP (with CONTEXT) selects the sockets the tables show.
  LiveTables(Capture capture, SocketFilter keep = nullptr,
             const void* context = nullptr, WaitReader waits = nullptr);

  /// Creates the tables as virtual tables in DB's temp schema (so they win name
  /// lookup over an ATTACHed snapshot's tables, while that snapshot's own views
  /// still read its own tables). DB must not outlive this object.
  Result<void> install(sqlite3* db);

  /// For a read of TABLE (by INDEX_COLUMN = KEY, or every row): the relations,
  /// captured first if nothing captured so far can answer it. Null after a
  /// failed capture (capture_error()) or when the statement must run again
  /// (take_restart()).
  Relations* relations_for(TableId table, std::optional<size_t> index_column,
                           std::optional<int64_t> key);
  /// The relations last captured (null before the first read).
  Relations* current() const { return relations_.get(); }
  const Error& capture_error() const { return error_; }
  /// Whether the statement that just failed must be run again; clears it.
  bool take_restart() { return std::exchange(restart_, false); }
  /// The snapshot the last query read, if any was taken.
  const Snapshot* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
  /// Whether a query so far has read TABLE.
  bool used(TableId table) const { return used_[size_t(table)]; }
  void note_use(TableId table) { used_[size_t(table)] = true; }

 private:
  Capture capture_;
  SocketFilter keep_;
  const void* context_;
  WaitReader waits_;
  bool used_[std::size(kTables)] = {};
  Scope scope_;
  bool narrow_allowed_ = true;
  bool restart_ = false;
  bool covers(TableId table, std::optional<size_t> index_column,
              std::optional<int64_t> key);
  std::optional<Snapshot> snapshot_;
  std::unique_ptr<Relations> relations_;
  Error error_;
};

}  // namespace portrel
