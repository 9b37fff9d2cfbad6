// A small RAII wrapper over one SQLite connection: open (read-only, or to write a
// snapshot), run setup statements, and run a user's query text statement by
// statement into a ResultSet. Errors carry SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "portrel/error.h"

namespace portrel {

/// A result cell: null, integer, real, text (or a blob as x'..' text), boolean
/// (a column declared BOOLEAN).
using SqlValue = std::variant<std::monostate, int64_t, double, std::string, bool>;

struct ResultSet {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;
};

/// Bounds on a user's query: a runaway recursive CTE or a cross join of every
/// table stops with a message naming the bound, never a hang or an OOM kill.
struct QueryLimits {
  double seconds = 30;            ///< wall time of the whole query text
  size_t rows = 1'000'000;        ///< rows kept
  int64_t memory_bytes = 1 << 30; ///< SQLite's heap (sqlite3_hard_heap_limit64)
};

class Database {
 public:
  /// An empty in-memory database whose main schema cannot be written (temp
  /// objects still can, for setup).
  static Result<Database> open_memory();
  /// An existing file, read-only (SQLITE_OPEN_READONLY): nothing the connection
  /// runs can change it, and databases it ATTACHes are read-only too.
  static Result<Database> open_readonly(const std::string& path);
  /// A new file to write (created or truncated by the caller beforehand).
  static Result<Database> open_writable(const std::string& path);

  /// Runs trusted SQL (setup, the snapshot writer); any statement may write.
  Result<void> exec(const std::string& sql);

  /// Runs a user's query text: every statement in order, each of which must be
  /// read-only (ATTACH and DETACH are). Keeps the rows of the statements that
  /// return columns; more than one such statement is an error. On error the
  /// message is SQLite's own, on one line. When a statement fails and RETRY
  /// (if given) returns true, the statement is run again from its start.
  Result<std::vector<ResultSet>> query(const std::string& sql,
                                       const std::function<bool()>& retry = {},
                                       const QueryLimits& limits = {});

  sqlite3* handle() const { return db_; }

  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  Error error(const std::string& context = "") const;
  sqlite3* db_ = nullptr;
};

}  // namespace portrel
