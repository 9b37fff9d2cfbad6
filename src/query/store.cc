// The snapshot writer: prepared INSERTs bound from the same column getters the
// live tables use, inside one transaction, then indexes on the join keys. The
// file is private (0600) and replaces only an earlier snapshot, never what a
// symbolic link points to, a device or a file of someone else's making.
#include "query/store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "query/schema.h"

namespace portrel {
namespace {

Result<void> bind_value(sqlite3_stmt* stmt, int i, const Value& v) {
  struct Visitor {
    sqlite3_stmt* s;
    int i;
    int operator()(std::monostate) const { return sqlite3_bind_null(s, i); }
    int operator()(int64_t x) const { return sqlite3_bind_int64(s, i, x); }
    int operator()(bool x) const { return sqlite3_bind_int(s, i, x ? 1 : 0); }
    int operator()(const std::string& x) const {
      return sqlite3_bind_text(s, i, x.data(), static_cast<int>(x.size()),
                               SQLITE_TRANSIENT);
    }
  };
  if (std::visit(Visitor{stmt, i}, v) != SQLITE_OK) {
    return std::unexpected(Error{sqlite3_errmsg(sqlite3_db_handle(stmt))});
  }
  return {};
}

Result<void> fill(Database& db, const Relations& r, TableId table) {
  size_t n = column_count(table);
  std::string marks;
  for (size_t i = 0; i < n; ++i) marks += i ? ",?" : "?";
  std::string sql = fmt::format("INSERT INTO {} VALUES({})", table_name(table), marks);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return std::unexpected(Error{sqlite3_errmsg(db.handle())});
  }
  struct Finalize {
    sqlite3_stmt* s;
    ~Finalize() { sqlite3_finalize(s); }
  } finalize{stmt};
  for (size_t row = 0; row < r.size(table); ++row) {
    for (size_t col = 0; col < n; ++col) {
      auto ok = bind_value(stmt, static_cast<int>(col + 1), r.value(table, row, col));
      if (!ok) return ok;
    }
    if (sqlite3_step(stmt) != SQLITE_DONE || sqlite3_reset(stmt) != SQLITE_OK) {
      return std::unexpected(Error{sqlite3_errmsg(db.handle())});
    }
  }
  return {};
}

// A file portrel wrote: SQLite's header, and a meta table naming a portrel
// version. The header is read through an fd checked to be the regular file
// ENTRY saw (never blocking on a fifo) before SQLite opens the path.
bool is_snapshot(const std::string& path, const PathEntry& entry) {
  auto fd = open_same_file(path, entry);
  static constexpr char kHeader[16] = "SQLite format 3";
  char header[16] = {};
  if (!fd || read(fd->get(), header, sizeof header) != sizeof header ||
      !std::equal(header, header + sizeof header, kHeader)) {
    return false;
  }
  auto db = Database::open_readonly(path);
  if (!db) return false;
  auto rows = db->query("SELECT count(*) FROM meta WHERE key = 'portrel_version'");
  return rows && rows->size() == 1 && !rows->front().rows.empty() &&
         rows->front().rows[0][0] != SqlValue(int64_t{0});
}

}  // namespace

Result<void> store_relations(Database& db, const Relations& relations,
                             const std::vector<std::pair<std::string, std::string>>& meta) {
  std::string setup = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;";
  for (TableId t : kTables) setup += create_table_sql(t) + ";";
  for (const std::string& v : create_view_sql(false)) setup += v + ";";
  setup += std::string(kCreateMetaSql) + ";";
  if (auto ok = db.exec(setup); !ok) return ok;
  for (TableId t : kTables) {
    if (auto ok = fill(db, relations, t); !ok) return ok;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.handle(), "INSERT INTO meta VALUES(?, ?)", -1, &stmt,
                         nullptr) != SQLITE_OK) {
    return std::unexpected(Error{sqlite3_errmsg(db.handle())});
  }
  bool ok = true;
  for (const auto& [key, value] : meta) {
    sqlite3_bind_text(stmt, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, value.c_str(), -1, SQLITE_TRANSIENT);
    ok = ok && sqlite3_step(stmt) == SQLITE_DONE && sqlite3_reset(stmt) == SQLITE_OK;
  }
  sqlite3_finalize(stmt);
  if (!ok) return std::unexpected(Error{sqlite3_errmsg(db.handle())});
  return db.exec(
      "CREATE UNIQUE INDEX process_pid ON process(pid);"
      "CREATE INDEX socket_inode ON socket(inode);"
      "CREATE INDEX socket_port ON socket(local_port);"
      "CREATE INDEX holding_pid ON holding(pid);"
      "CREATE INDEX holding_inode ON holding(inode);"
      "CREATE INDEX sharing_port ON sharing(port);"
      "COMMIT;");
}

Result<PathEntry> check_snapshot_target(const std::string& path, bool force) {
  auto entry = look_at(path);
  if (!entry) return entry;
  if (entry->kind == PathEntry::Kind::other) {
    return std::unexpected(
        Error{path + " is " + entry->what + ", not a snapshot file; nothing written"});
  }
  if (entry->kind == PathEntry::Kind::regular && !force && !is_snapshot(path, *entry)) {
    return std::unexpected(Error{path + " exists and is not a portrel snapshot; " +
                                 "nothing written (--force replaces it)"});
  }
  return entry;
}

Result<void> write_snapshot_file(
    const std::string& path, const Relations& relations,
    const std::vector<std::pair<std::string, std::string>>& meta, bool force) {
  auto target = check_snapshot_target(path, force);
  if (!target) return std::unexpected(target.error());
  auto file = PendingFile::create_beside(path);
  if (!file) return std::unexpected(file.error());
  {
    auto db = Database::open_writable(file->path());
    if (!db) return std::unexpected(db.error());
    if (auto ok = store_relations(*db, relations, meta); !ok) return ok;
  }
  return file->commit(path, *target);
}

}  // namespace portrel
