// The virtual-table module behind LiveTables: xBestIndex advertises equality
// lookups on the indexed columns, xFilter captures on first use and walks either
// every row or the rows an index returns. Values come from the same column
// getters as JSON and CSV.
#include "query/live_tables.h"

#include <cmath>
#include <string>
#include <vector>

#include "query/schema.h"

namespace portrel {
namespace {

struct Aux {
  LiveTables* tables;
  TableId table;
};

struct Vtab : sqlite3_vtab {
  LiveTables* tables = nullptr;
  TableId table = TableId::process;
};

struct Cursor : sqlite3_vtab_cursor {
  std::vector<uint32_t> rows;  // when an index answered
  bool full = false;
  size_t pos = 0;
  size_t count = 0;
  uint32_t row() const { return full ? static_cast<uint32_t>(pos) : rows[pos]; }
};

// Row-count guesses for the planner before anything is captured; only their
// ratio to an index lookup matters.
double scan_guess(TableId t) {
  switch (t) {
    case TableId::process: return 1000;
    case TableId::socket:
    case TableId::holding: return 10000;
    default: return 100;
  }
}

int connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out,
            char** err) {
  auto* a = static_cast<Aux*>(aux);
  int rc = sqlite3_declare_vtab(db, create_table_sql(a->table).c_str());
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    return rc;
  }
  auto* v = new Vtab();
  v->tables = a->tables;
  v->table = a->table;
  *out = v;
  return SQLITE_OK;
}

// Distinct from connect so the modules are not eponymous: the tables exist only
// as created in the temp schema, which name lookup searches before any attached
// snapshot (an eponymous table is found only when no schema has the name).
int create(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
           char** err) {
  return connect(db, aux, argc, argv, out, err);
}

int disconnect(sqlite3_vtab* v) {
  delete static_cast<Vtab*>(v);
  return SQLITE_OK;
}

int best_index(sqlite3_vtab* base, sqlite3_index_info* info) {
  auto* v = static_cast<Vtab*>(base);
  v->tables->note_use(v->table);
  int chosen = -1;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (!c.usable || c.op != SQLITE_INDEX_CONSTRAINT_EQ || c.iColumn < 0) continue;
    if (!Relations::indexed(v->table, size_t(c.iColumn))) continue;
    // Prefer inode over pid or port: it names one socket.
    if (chosen < 0 ||
        column_name(v->table, size_t(c.iColumn)) == "inode") {
      chosen = i;
    }
  }
  if (chosen < 0) {
    info->idxNum = 0;
    info->estimatedRows = static_cast<sqlite3_int64>(scan_guess(v->table));
    info->estimatedCost = scan_guess(v->table);
    return SQLITE_OK;
  }
  int column = info->aConstraint[chosen].iColumn;
  info->idxNum = column + 1;
  info->aConstraintUsage[chosen].argvIndex = 1;
  info->estimatedRows = v->table == TableId::process ? 1 : 4;
  info->estimatedCost = 5;
  if (v->table == TableId::process) info->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  return SQLITE_OK;
}

int open_cursor(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  *out = new Cursor();
  return SQLITE_OK;
}

int close_cursor(sqlite3_vtab_cursor* c) {
  delete static_cast<Cursor*>(c);
  return SQLITE_OK;
}

// An integer key from the right-hand side of `column = value`, if it can equal
// an integer at all.
std::optional<int64_t> key_of(sqlite3_value* value) {
  switch (sqlite3_value_numeric_type(value)) {
    case SQLITE_INTEGER: return sqlite3_value_int64(value);
    case SQLITE_FLOAT: {
      double d = sqlite3_value_double(value);
      if (std::trunc(d) == d && std::fabs(d) < 9e18) return static_cast<int64_t>(d);
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

int filter(sqlite3_vtab_cursor* base, int idx, const char*, int argc,
           sqlite3_value** argv) {
  auto* c = static_cast<Cursor*>(base);
  auto* v = static_cast<Vtab*>(base->pVtab);
  bool indexed = idx > 0 && argc >= 1;
  std::optional<size_t> column;
  std::optional<int64_t> key;
  if (indexed) {
    column = size_t(idx - 1);
    key = key_of(argv[0]);
  }
  Relations* r = v->tables->relations_for(v->table, column, key);
  if (r == nullptr) {
    sqlite3_free(v->zErrMsg);
    v->zErrMsg = sqlite3_mprintf("%s", v->tables->capture_error().message.c_str());
    return SQLITE_ERROR;
  }
  c->pos = 0;
  c->rows.clear();
  if (!indexed) {
    c->full = true;
    c->count = r->size(v->table);
    return SQLITE_OK;
  }
  c->full = false;
  if (key) c->rows = r->lookup(v->table, *column, *key);
  c->count = c->rows.size();
  return SQLITE_OK;
}

int next(sqlite3_vtab_cursor* c) {
  ++static_cast<Cursor*>(c)->pos;
  return SQLITE_OK;
}

int eof(sqlite3_vtab_cursor* base) {
  auto* c = static_cast<Cursor*>(base);
  return c->pos >= c->count;
}

int column(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int i) {
  auto* c = static_cast<Cursor*>(base);
  auto* v = static_cast<Vtab*>(base->pVtab);
  Value value = v->tables->current()->value(v->table, c->row(), size_t(i));
  struct Visitor {
    sqlite3_context* ctx;
    void operator()(std::monostate) const { sqlite3_result_null(ctx); }
    void operator()(int64_t x) const { sqlite3_result_int64(ctx, x); }
    void operator()(bool x) const { sqlite3_result_int(ctx, x ? 1 : 0); }
    void operator()(const std::string& x) const {
      sqlite3_result_text(ctx, x.data(), static_cast<int>(x.size()), SQLITE_TRANSIENT);
    }
  };
  std::visit(Visitor{ctx}, value);
  return SQLITE_OK;
}

int rowid(sqlite3_vtab_cursor* base, sqlite3_int64* out) {
  *out = static_cast<Cursor*>(base)->row();
  return SQLITE_OK;
}

const sqlite3_module& module() {
  static const sqlite3_module m = [] {
    sqlite3_module x{};
    x.iVersion = 1;
    x.xCreate = create;
    x.xConnect = connect;
    x.xBestIndex = best_index;
    x.xDisconnect = disconnect;
    x.xDestroy = disconnect;
    x.xOpen = open_cursor;
    x.xClose = close_cursor;
    x.xFilter = filter;
    x.xNext = next;
    x.xEof = eof;
    x.xColumn = column;
    x.xRowid = rowid;
    return x;
  }();
  return m;
}

}  // namespace

LiveTables::LiveTables(Capture capture, SocketFilter keep, const void* context,
                       WaitReader waits)
    : capture_(std::move(capture)), keep_(keep), context_(context),
      waits_(std::move(waits)) {}

Result<void> LiveTables::install(sqlite3* db) {
  for (TableId t : kTables) {
    auto* aux = new Aux{this, t};
    std::string name(table_name(t));
    std::string module_name = "portrel_" + name;
    int rc = sqlite3_create_module_v2(db, module_name.c_str(), &module(), aux,
                                      [](void* p) { delete static_cast<Aux*>(p); });
    if (rc != SQLITE_OK) return std::unexpected(Error{sqlite3_errmsg(db)});
    std::string sql = "CREATE VIRTUAL TABLE temp." + name + " USING " + module_name;
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      Error e{message ? message : sqlite3_errmsg(db)};
      sqlite3_free(message);
      return std::unexpected(e);
    }
  }
  return {};
}

// Whether what was captured answers this read exactly.
bool LiveTables::covers(TableId table, std::optional<size_t> column,
                        std::optional<int64_t> key) {
  if (!relations_) return false;
  for (TableId t : kTables) {
    if (used(t) && needs_sockets(t) && !scope_.with_sockets) return false;
  }
  if (!scope_.port || table == TableId::process) return true;
  // A capture of one port answers: that port's sockets, and the holders of a
  // socket it has. Anything else may miss rows.
  if (!column || !key) return false;
  std::string_view name = column_name(table, *column);
  if (table == TableId::socket && name == "local_port") return *key == *scope_.port;
  if (name == "inode" && (table == TableId::socket || table == TableId::holding)) {
    size_t inode_column = 0;
    while (column_name(TableId::socket, inode_column) != "inode") ++inode_column;
    return !relations_->lookup(TableId::socket, inode_column, *key).empty();
  }
  return false;
}

Relations* LiveTables::relations_for(TableId table, std::optional<size_t> column,
                                     std::optional<int64_t> key) {
  if (covers(table, column, key)) return relations_.get();
  if (relations_ && scope_.port) {
    // Rows already produced came from the narrow capture: start the statement
    // over, with a full one.
    relations_.reset();
    narrow_allowed_ = false;
    restart_ = true;
    error_ = Error{"restart over a full capture"};
    return nullptr;
  }
  Scope scope;
  scope.with_sockets = false;
  for (TableId t : kTables) scope.with_sockets |= used(t) && needs_sockets(t);
  if (narrow_allowed_ && scope.with_sockets && table == TableId::socket && column &&
      key && column_name(table, *column) == "local_port" && *key >= 0 &&
      *key <= UINT32_MAX) {
    scope.port = static_cast<uint32_t>(*key);
  }
  relations_.reset();
  auto snap = capture_(scope);
  if (!snap) {
    error_ = snap.error();
    return nullptr;
  }
  snapshot_.emplace(std::move(*snap));
  scope_ = scope;
  relations_ = std::make_unique<Relations>(*snapshot_, keep_, context_);
  if (waits_) relations_->set_wait_reader(waits_);
  return relations_.get();
}

}  // namespace portrel
