// The SQLite connection. User queries are prepared one statement at a time and
// refused unless sqlite3_stmt_readonly() says they change nothing: together with
// SQLITE_OPEN_READONLY this also stops VACUUM INTO and temp tables, which a
// read-only open alone allows.
#include "query/database.h"

#include <chrono>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace portrel {
namespace {

std::string one_line(std::string text) {
  std::ranges::replace(text, '\n', ' ');
  std::ranges::replace(text, '\r', ' ');
  return text;
}

Result<sqlite3*> open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return std::unexpected(Error{one_line(path + ": " + message)});
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  return db;
}

SqlValue cell(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL: return std::monostate{};
    case SQLITE_INTEGER: {
      int64_t v = sqlite3_column_int64(stmt, i);
      const char* decl = sqlite3_column_decltype(stmt, i);
      if (decl && strcasecmp(decl, "BOOLEAN") == 0 && (v == 0 || v == 1)) return v == 1;
      return v;
    }
    case SQLITE_FLOAT: return sqlite3_column_double(stmt, i);
    case SQLITE_BLOB: {
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, i));
      std::string hex = "x'";
      for (int k = 0, n = sqlite3_column_bytes(stmt, i); k < n; ++k) {
        hex += fmt::format("{:02x}", p[k]);
      }
      return hex + "'";
    }
    default: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(p ? p : "", sqlite3_column_bytes(stmt, i));
    }
  }
}

}  // namespace

Result<Database> Database::open_memory() {
  auto db = open(":memory:", SQLITE_OPEN_READONLY);
  if (!db) return std::unexpected(db.error());
  return Database(*db);
}

Result<Database> Database::open_readonly(const std::string& path) {
  auto db = open(path, SQLITE_OPEN_READONLY);
  if (!db) return std::unexpected(db.error());
  return Database(*db);
}

Result<Database> Database::open_writable(const std::string& path) {
  auto db = open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) return std::unexpected(db.error());
  return Database(*db);
}

Error Database::error(const std::string& context) const {
  return Error{one_line(context + sqlite3_errmsg(db_))};
}

Result<void> Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    Error e{one_line(message ? message : sqlite3_errmsg(db_))};
    sqlite3_free(message);
    return std::unexpected(e);
  }
  return {};
}

Result<std::vector<ResultSet>> Database::query(const std::string& sql,
                                               const std::function<bool()>& retry,
                                               const QueryLimits& limits) {
  // The deadline is checked every few thousand VM steps; SQLite then stops
  // with SQLITE_INTERRUPT. The heap limit is process-wide, as SQLite keeps it.
  struct Deadline {
    std::chrono::steady_clock::time_point at;
    bool passed = false;
  } deadline{std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(limits.seconds)),
             false};
  sqlite3_progress_handler(
      db_, 10000,
      [](void* p) {
        auto* d = static_cast<Deadline*>(p);
        d->passed = std::chrono::steady_clock::now() > d->at;
        return d->passed ? 1 : 0;
      },
      &deadline);
  struct Unset {
    sqlite3* db;
    ~Unset() { sqlite3_progress_handler(db, 0, nullptr, nullptr); }
  } unset{db_};
  sqlite3_hard_heap_limit64(limits.memory_bytes);
  auto bounded = [&](int rc) -> Error {
    if (deadline.passed) {
      return Error{fmt::format("query stopped after {} s (--max-seconds)", limits.seconds)};
    }
    if (rc == SQLITE_NOMEM) {
      return Error{fmt::format("query stopped: it needs more than {} MiB (--max-memory)",
                               limits.memory_bytes >> 20)};
    }
    return error();
  };
  std::vector<ResultSet> out;
  const char* tail = sql.c_str();
  const char* end = tail + sql.size();
  while (tail < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &stmt, &next);
    if (rc != SQLITE_OK) return std::unexpected(error());
    tail = next;
    if (stmt == nullptr) continue;  // whitespace or a comment
    struct Finalize {
      sqlite3_stmt* s;
      ~Finalize() { sqlite3_finalize(s); }
    } finalize{stmt};
    if (!sqlite3_stmt_readonly(stmt)) {
      return std::unexpected(Error{sqlite3_errstr(SQLITE_READONLY)});
    }
    int n = sqlite3_column_count(stmt);
    if (n > 0 && !out.empty()) {
      return std::unexpected(Error{"only one statement may return rows"});
    }
    ResultSet result;
    for (int i = 0; i < n; ++i) result.columns.emplace_back(sqlite3_column_name(stmt, i));
    for (int attempt = 0;; ++attempt) {
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (result.rows.size() == limits.rows) {
          return std::unexpected(Error{fmt::format(
              "query stopped at {} rows (--max-rows); add a LIMIT or a WHERE", limits.rows)});
        }
        std::vector<SqlValue> row;
        row.reserve(n);
        for (int i = 0; i < n; ++i) row.push_back(cell(stmt, i));
        result.rows.push_back(std::move(row));
      }
      if (rc == SQLITE_DONE) break;
      if (deadline.passed || rc == SQLITE_NOMEM) return std::unexpected(bounded(rc));
      if (attempt > 0 || !retry || !retry()) return std::unexpected(error());
      sqlite3_reset(stmt);
      result.rows.clear();
    }
    if (n > 0) out.push_back(std::move(result));
  }
  return out;
}

Database::~Database() { sqlite3_close(db_); }
Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

}  // namespace portrel
