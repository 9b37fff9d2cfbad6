// Writing the history: each change of diff_relation() opens or closes
// intervals, whose rows this run keeps by identity (a socket by inode, a
// holding by inode, pid, start time and fd, a process by pid and start time)
// so that closing one is an UPDATE by rowid. A process's interval lasts while
// it holds a recorded socket and runs the same program.
#include "query/history_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "output/columns.h"
#include "query/history_schema.h"

namespace portrel {
namespace {

// A socket's identity, as the diff engine keeps it: its inode, else its cookie.
uint64_t identity(const Socket& s) {
  return s.inode ? s.inode : s.cookie | (1ULL << 63);
}

class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Stmt() { sqlite3_finalize(s_); }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

Result<Stmt> prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
      SQLITE_OK) {
    return std::unexpected(Error{sqlite3_errmsg(db)});
  }
  return Stmt(s);
}

// A cell to bind: a column's Value, a time, or nothing.
using Cell = std::variant<std::monostate, int64_t, std::string, bool, double>;

Cell cell(Value v) {
  return std::visit([](auto&& x) -> Cell { return std::move(x); }, std::move(v));
}

// Binds CELLS to STMT's parameters 1..n and runs it; the inserted rowid.
Result<int64_t> run(sqlite3_stmt* stmt, const std::vector<Cell>& cells) {
  sqlite3_reset(stmt);
  int i = 1;
  for (const Cell& c : cells) {
    int rc = std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            return sqlite3_bind_null(stmt, i);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            return sqlite3_bind_int64(stmt, i, x);
          } else if constexpr (std::is_same_v<T, bool>) {
            return sqlite3_bind_int(stmt, i, x ? 1 : 0);
          } else if constexpr (std::is_same_v<T, double>) {
            return sqlite3_bind_double(stmt, i, x);
          } else {
            return sqlite3_bind_text(stmt, i, x.data(), static_cast<int>(x.size()),
                                     SQLITE_TRANSIENT);
          }
        },
        c);
    if (rc != SQLITE_OK) break;
    ++i;
  }
  sqlite3* db = sqlite3_db_handle(stmt);
  if (sqlite3_step(stmt) != SQLITE_DONE) {
    Error e{sqlite3_errmsg(db)};
    sqlite3_reset(stmt);
    return std::unexpected(e);
  }
  sqlite3_reset(stmt);
  return sqlite3_last_insert_rowid(db);
}

// The interval's cells after the base columns, for a row opened at NOW.
void add_interval(std::vector<Cell>& cells, double now, const char* opened_by,
                  int64_t run) {
  cells.emplace_back(now);
  cells.emplace_back(std::monostate{});
  cells.emplace_back(std::string(opened_by));
  cells.emplace_back(std::monostate{});
  cells.emplace_back(run);
}

std::string insert_sql(HistoryTable t) {
  size_t n = column_count(history_base(t)) + history_extra_columns(t).size();
  std::string marks;
  for (size_t i = 0; i < n; ++i) marks += i ? ",?" : "?";
  return fmt::format("INSERT INTO {} VALUES({})", history_table_name(t), marks);
}

Result<int64_t> scalar(Database& db, const std::string& sql) {
  auto rows = db.query(sql);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty() || rows->front().rows.empty()) return 0;
  const SqlValue& v = rows->front().rows[0][0];
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  return 0;
}

}  // namespace

struct HistoryStore::Statements {
  Stmt insert[3];
  Stmt close[3];
  Stmt insert_finding;
  Stmt close_finding;
  Stmt heartbeat;
};

HistoryStore::HistoryStore(Database db, UniqueFd lock)
    : db_(std::move(db)),
      lock_(std::move(lock)),
      stmts_(std::make_unique<Statements>()) {}
HistoryStore::HistoryStore(HistoryStore&&) noexcept = default;
HistoryStore& HistoryStore::operator=(HistoryStore&&) noexcept = default;
// A batch not committed is rolled back when the connection closes, as it is
// when the process is killed.
HistoryStore::~HistoryStore() = default;

Result<HistoryStore> HistoryStore::open_memory() {
  auto db = Database::open_writable(":memory:");
  if (!db) return std::unexpected(db.error());
  HistoryStore store(std::move(*db), UniqueFd());
  if (auto ok = store.prepare(); !ok) return std::unexpected(ok.error());
  return store;
}

Result<HistoryStore> HistoryStore::open(const std::string& path) {
  // A new file is private from its first byte; an existing one is opened
  // without following a symbolic link, and nothing is changed in it (not even
  // its mode) before it is known to be a history file.
  int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  bool created = fd >= 0;
  if (!created && errno == EEXIST) {
    fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  }
  if (fd < 0) {
    std::string why = errno == ELOOP ? "is a symbolic link" : std::strerror(errno);
    return std::unexpected(Error{path + ": " + why + "; not opened"});
  }
  UniqueFd lock(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::unexpected(Error{path + " is not a regular file; not opened"});
  }
  const Error not_history{path +
                          " exists and is not a portrel history file; left as it was"};
  bool empty = st.st_size == 0;
  if (!empty) {  // only a SQLite file is handed to SQLite
    static constexpr char kHeader[16] = "SQLite format 3";
    char header[16] = {};
    if (pread(fd, header, sizeof header, 0) != sizeof header ||
        !std::equal(header, header + sizeof header, kHeader)) {
      return std::unexpected(not_history);
    }
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return std::unexpected(Error{path + ": another portrel record writes it"});
  }
  auto db = Database::open_writable(path);
  if (!db) return std::unexpected(db.error());
  if (!empty) {
    auto found = scalar(*db,
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                        "name = 'recorder_runs'");
    if (!found || *found == 0) return std::unexpected(not_history);
  }
  // It holds command lines: private, whatever made it otherwise.
  if ((st.st_mode & 07777) != 0600) fchmod(fd, 0600);
  HistoryStore store(std::move(*db), std::move(lock));
  if (auto ok = store.prepare(); !ok) return std::unexpected(ok.error());
  return store;
}

Result<void> HistoryStore::prepare() {
  // WAL: readers (history, sql --db) read while the recorder writes; NORMAL:
  // a commit survives a killed process (only a power loss may lose the last).
  std::string setup =
      "PRAGMA busy_timeout = 5000; PRAGMA auto_vacuum = INCREMENTAL; "
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";
  if (auto ok = db_.exec(setup); !ok) return ok;
  auto exists = scalar(db_,
                       "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                       "name = 'recorder_runs'");
  if (!exists) return std::unexpected(exists.error());
  if (*exists == 0) {
    std::string create = "BEGIN;";
    for (const std::string& s : create_history_sql()) create += s + ";";
    create += fmt::format(
        "INSERT INTO meta VALUES('kind', 'portrel history'), ('portrel_version', "
        "'{}'); "
        "COMMIT;",
        PORTREL_VERSION);
    if (auto ok = db_.exec(create); !ok) return ok;
  }
  // A file an earlier portrel made has no finding_history yet.
  if (auto ok = db_.exec(create_finding_history_sql()); !ok) return ok;
  auto fins = ::portrel::prepare(
      db_.handle(), "INSERT INTO finding_history VALUES(?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, ?)");
  if (!fins) return std::unexpected(fins.error());
  stmts_->insert_finding = std::move(*fins);
  auto fclose = ::portrel::prepare(
      db_.handle(), "UPDATE finding_history SET last_seen = ?, closed_by = ? WHERE rowid = ?");
  if (!fclose) return std::unexpected(fclose.error());
  stmts_->close_finding = std::move(*fclose);
  for (HistoryTable t : kHistoryTables) {
    int i = static_cast<int>(t);
    auto ins = ::portrel::prepare(db_.handle(), insert_sql(t));
    if (!ins) return std::unexpected(ins.error());
    stmts_->insert[i] = std::move(*ins);
    auto upd = ::portrel::prepare(
        db_.handle(),
        fmt::format("UPDATE {} SET last_seen = ?, closed_by = ? WHERE rowid = ?",
                    history_table_name(t)));
    if (!upd) return std::unexpected(upd.error());
    stmts_->close[i] = std::move(*upd);
  }
  auto hb = ::portrel::prepare(db_.handle(),
                               "UPDATE recorder_runs SET heartbeat = ? WHERE run = ?");
  if (!hb) return std::unexpected(hb.error());
  stmts_->heartbeat = std::move(*hb);
  return {};
}

Result<size_t> HistoryStore::begin_run(double now, const std::string& host,
                                       const std::string& version, pid_t pid) {
  if (auto ok = db_.exec("BEGIN IMMEDIATE"); !ok) return std::unexpected(ok.error());
  size_t closed = 0;
  for (std::string_view table : interval_tables()) {
    std::string sql = fmt::format(
        "UPDATE {0} SET last_seen = max(first_seen, coalesce((SELECT heartbeat FROM "
        "recorder_runs AS r WHERE r.run = {0}.run), first_seen)), closed_by = 'crash' "
        "WHERE last_seen IS NULL",
        table);
    if (auto ok = db_.exec(sql); !ok) {
      (void)db_.exec("ROLLBACK");
      return std::unexpected(ok.error());
    }
    closed += static_cast<size_t>(sqlite3_changes(db_.handle()));
  }
  std::string runs =
      "UPDATE recorder_runs SET stopped = coalesce(heartbeat, started), clean = 0 "
      "WHERE stopped IS NULL";
  if (auto ok = db_.exec(runs); !ok) {
    (void)db_.exec("ROLLBACK");
    return std::unexpected(ok.error());
  }
  Stmt ins;
  auto s = ::portrel::prepare(
      db_.handle(),
      "INSERT INTO recorder_runs(started, heartbeat, clean, pid, host, "
      "portrel_version) VALUES(?, ?, 0, ?, ?, ?)");
  if (!s) return std::unexpected(s.error());
  auto id = ::portrel::run(s->get(), {now, now, int64_t{pid}, host, version});
  if (!id) {
    (void)db_.exec("ROLLBACK");
    return std::unexpected(id.error());
  }
  run_ = *id;
  if (auto ok = db_.exec("COMMIT"); !ok) return std::unexpected(ok.error());
  first_read_ = true;
  last_read_ = now;
  sockets_.clear();
  holdings_.clear();
  processes_.clear();
  return closed;
}

Result<void> HistoryStore::begin_batch() {
  if (in_batch_) return {};
  if (auto ok = db_.exec("BEGIN IMMEDIATE"); !ok) return ok;
  in_batch_ = true;
  return {};
}

Result<void> HistoryStore::close_row(int table, int64_t rowid, double last,
                                     const char* closed_by) {
  auto ok =
      ::portrel::run(stmts_->close[table].get(), {last, std::string(closed_by), rowid});
  if (!ok) return std::unexpected(ok.error());
  return {};
}

Result<void> HistoryStore::open_process(const Snapshot& snap, pid_t pid, uint64_t start,
                                        double now, const char* opened_by,
                                        int holdings) {
  std::vector<Cell> cells;
  const Process* p = snap.process(pid);
  for (const ProcessColumn& c : process_columns()) {
    if (p != nullptr) {
      cells.push_back(cell(c.get(*p)));
    } else if (c.name == "pid") {
      cells.emplace_back(int64_t{pid});
    } else if (c.name == "start_time") {
      cells.emplace_back(static_cast<int64_t>(start));
    } else {
      cells.emplace_back(std::monostate{});
    }
  }
  add_interval(cells, now, opened_by, run_);
  auto id = ::portrel::run(stmts_->insert[0].get(), cells);
  if (!id) return std::unexpected(id.error());
  processes_[{pid, start}] = {*id, holdings};
  return {};
}

Result<void> HistoryStore::open_socket(const Snapshot& snap, const Socket& s,
                                       double now, const char* opened_by) {
  std::vector<Cell> cells;
  for (const SocketColumn& c : socket_columns()) cells.push_back(cell(c.get(snap, s)));
  add_interval(cells, now, opened_by, run_);
  auto id = ::portrel::run(stmts_->insert[1].get(), cells);
  if (!id) return std::unexpected(id.error());
  sockets_[identity(s)] = *id;
  return {};
}

Result<void> HistoryStore::close_socket(uint64_t id, double last,
                                        const char* closed_by) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return {};
  auto ok = close_row(1, it->second, last, closed_by);
  sockets_.erase(it);
  return ok;
}

Result<void> HistoryStore::open_holding(const Snapshot& snap, const Holding& h,
                                        double now, const char* opened_by) {
  const Process* p = snap.process(h.pid);
  uint64_t start = p ? p->start_time : 0;
  auto key = std::make_tuple(h.inode, h.pid, start, h.fd);
  if (holdings_.contains(key)) return {};
  std::vector<Cell> cells;
  for (const HoldingColumn& c : holding_columns()) cells.push_back(cell(c.get(h)));
  cells.emplace_back(static_cast<int64_t>(start));
  add_interval(cells, now, opened_by, run_);
  auto id = ::portrel::run(stmts_->insert[2].get(), cells);
  if (!id) return std::unexpected(id.error());
  holdings_[key] = *id;
  auto proc = processes_.find({h.pid, start});
  if (proc != processes_.end()) {
    ++proc->second.holdings;
    return {};
  }
  return open_process(snap, h.pid, start, now, opened_by, 1);
}

Result<void> HistoryStore::close_holding(uint64_t inode, pid_t pid, uint64_t start,
                                         int fd, double last, const char* closed_by,
                                         const Snapshot& after) {
  auto it = holdings_.find(std::make_tuple(inode, pid, start, fd));
  if (it == holdings_.end()) return {};
  if (auto ok = close_row(2, it->second, last, closed_by); !ok) return ok;
  holdings_.erase(it);
  auto proc = processes_.find({pid, start});
  if (proc == processes_.end() || --proc->second.holdings > 0) return {};
  const Process* now = after.process(pid);
  bool lives = now != nullptr && now->start_time == start;
  auto ok = close_row(0, proc->second.rowid, last, lives ? "released" : "exited");
  processes_.erase(proc);
  return ok;
}

Result<void> HistoryStore::apply(const std::vector<Change>& changes,
                                 const Snapshot& before, const Snapshot& after,
                                 double now) {
  if (auto ok = begin_batch(); !ok) return ok;
  const double last = last_read_;  // the last read that saw what is now gone
  const char* opened = first_read_ ? "present" : "opened";
  auto start_in = [](const Snapshot& snap, pid_t pid) {
    const Process* p = snap.process(pid);
    return p ? p->start_time : 0;
  };
  for (const Change& c : changes) {
    Result<void> ok;
    switch (c.kind) {
      case ChangeKind::port_opened:
      case ChangeKind::socket_opened:
        ok = open_socket(after, c.socket, now, opened);
        for (const Holding& h : after.holders(c.socket.inode)) {
          if (!ok) break;
          ok = open_holding(after, h, now, opened);
        }
        break;
      case ChangeKind::socket_state:
        ok = close_socket(identity(c.socket), last, "state");
        if (ok) ok = open_socket(after, c.socket, now, "state");
        break;
      case ChangeKind::socket_closed:
      case ChangeKind::port_closed: {
        ok = close_socket(identity(c.socket), last, "closed");
        if (c.socket.inode == 0) break;
        auto from = holdings_.lower_bound(std::make_tuple(c.socket.inode, 0, 0, 0));
        std::vector<std::tuple<uint64_t, pid_t, uint64_t, int>> keys;
        for (auto it = from;
             it != holdings_.end() && std::get<0>(it->first) == c.socket.inode; ++it) {
          keys.push_back(it->first);
        }
        for (const auto& [inode, pid, start, fd] : keys) {
          if (!ok) break;
          const Process* p = after.process(pid);
          bool lives = p != nullptr && p->start_time == start;
          ok = close_holding(inode, pid, start, fd, last, lives ? "closed" : "exited",
                             after);
        }
        break;
      }
      case ChangeKind::holder_joined:
        for (const Holding& h : after.holders(c.socket.inode)) {
          if (!ok) break;
          if (h.pid == c.holders.front().pid && h.fd == c.fd) {
            ok = open_holding(after, h, now,
                              std::string(holder_how_name(c.how)).c_str());
          }
        }
        break;
      case ChangeKind::holder_left: {
        pid_t pid = c.holders.front().pid;
        ok = close_holding(c.socket.inode, pid, start_in(before, pid), c.fd, last,
                           std::string(holder_how_name(c.how)).c_str(), after);
        break;
      }
      case ChangeKind::holder_exec: {
        pid_t pid = c.holders.front().pid;
        uint64_t start = start_in(after, pid);
        auto it = processes_.find({pid, start});
        if (it == processes_.end()) break;
        int held = it->second.holdings;
        ok = close_row(0, it->second.rowid, last, "exec");
        if (ok) ok = open_process(after, pid, start, now, "exec", held);
        break;
      }
      case ChangeKind::sharing_changed:
        break;  // derived: `shared` computes it from the rows
    }
    if (!ok) return ok;
    ++pending_;
  }
  first_read_ = false;
  last_read_ = now;
  return {};
}

Result<void> HistoryStore::commit() {
  if (run_ != 0) {
    if (auto ok = begin_batch(); !ok) return ok;
    auto hb = ::portrel::run(stmts_->heartbeat.get(), {last_read_, run_});
    if (!hb) return std::unexpected(hb.error());
  }
  if (!in_batch_) return {};
  if (auto ok = db_.exec("COMMIT"); !ok) return ok;
  in_batch_ = false;
  pending_ = 0;
  return {};
}

Result<void> HistoryStore::apply_findings(const std::vector<FindingChange>& changes,
                                          double now, bool initial) {
  if (changes.empty()) return {};
  if (auto ok = begin_batch(); !ok) return ok;
  auto joined = [](const auto& numbers) {
    std::string out;
    for (auto n : numbers) out += (out.empty() ? "" : ",") + std::to_string(n);
    return out;
  };
  for (const FindingChange& c : changes) {
    const SeenFinding& f = c.finding;
    auto key = std::make_tuple(f.kind, f.inodes, f.pids);
    if (c.appeared) {
      auto row = ::portrel::run(
          stmts_->insert_finding.get(),
          {std::string(finding_kind_name(f.kind)), std::string(severity_name(f.severity)),
           f.port ? Cell(int64_t{f.port}) : Cell(), f.summary, joined(f.pids),
           joined(f.inodes), now, std::string(initial ? "present" : "appeared"), run_});
      if (!row) return std::unexpected(row.error());
      findings_[key] = *row;
    } else if (auto it = findings_.find(key); it != findings_.end()) {
      auto ok = ::portrel::run(stmts_->close_finding.get(),
                               {last_read_ > 0 ? last_read_ : now, std::string("cleared"),
                                it->second});
      if (!ok) return std::unexpected(ok.error());
      findings_.erase(it);
    }
    ++pending_;
  }
  return {};
}

Result<void> HistoryStore::end_run(double now) {
  if (auto ok = begin_batch(); !ok) return ok;
  for (const auto& [key, rowid] : holdings_) {
    if (auto ok = close_row(2, rowid, last_read_, "stopped"); !ok) return ok;
  }
  for (const auto& [key, rowid] : sockets_) {
    if (auto ok = close_row(1, rowid, last_read_, "stopped"); !ok) return ok;
  }
  for (const auto& [key, open] : processes_) {
    if (auto ok = close_row(0, open.rowid, last_read_, "stopped"); !ok) return ok;
  }
  for (const auto& [key, rowid] : findings_) {
    auto ok = ::portrel::run(stmts_->close_finding.get(),
                             {last_read_, std::string("stopped"), rowid});
    if (!ok) return std::unexpected(ok.error());
  }
  holdings_.clear();
  sockets_.clear();
  processes_.clear();
  findings_.clear();
  auto stmt = ::portrel::prepare(
      db_.handle(), "UPDATE recorder_runs SET stopped = ?, clean = 1 WHERE run = ?");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto ok = ::portrel::run(stmt->get(), {now, run_}); !ok) {
    return std::unexpected(ok.error());
  }
  return commit();
}

Result<uint64_t> HistoryStore::used_bytes() {
  auto pages = scalar(db_, "PRAGMA page_count");
  auto free_pages = scalar(db_, "PRAGMA freelist_count");
  auto size = scalar(db_, "PRAGMA page_size");
  if (!pages || !free_pages || !size)
    return std::unexpected(Error{"cannot read the page count"});
  return static_cast<uint64_t>(std::max<int64_t>(0, *pages - *free_pages) * *size);
}

Result<size_t> HistoryStore::prune(double now, const Retention& retention) {
  if (auto ok = commit(); !ok) return std::unexpected(ok.error());
  size_t deleted = 0;
  auto del = [&](const std::string& sql) -> Result<void> {
    if (auto ok = db_.exec(sql); !ok) return ok;
    deleted += static_cast<size_t>(sqlite3_changes(db_.handle()));
    return {};
  };
  double cutoff = now - retention.keep_days * 86400;
  for (std::string_view table : interval_tables()) {
    auto ok = del(
        fmt::format("DELETE FROM {} WHERE last_seen IS NOT NULL AND last_seen < {:.3f}",
                    table, cutoff));
    if (!ok) return std::unexpected(ok.error());
  }
  auto ok = del(fmt::format(
      "DELETE FROM recorder_runs WHERE stopped IS NOT NULL AND stopped < {:.3f}",
      cutoff));
  if (!ok) return std::unexpected(ok.error());
  // Then the oldest tenth of the closed rows at a time, while over the size.
  for (int round = 0; round < 50; ++round) {
    auto used = used_bytes();
    if (!used) return std::unexpected(used.error());
    if (*used <= retention.max_bytes) break;
    size_t before = deleted;
    for (std::string_view name : interval_tables()) {
      auto step = del(
          fmt::format("DELETE FROM {0} WHERE rowid IN (SELECT rowid FROM {0} WHERE "
                      "last_seen IS NOT NULL "
                      "ORDER BY last_seen LIMIT max(1, (SELECT count(*) / 10 FROM {0} "
                      "WHERE last_seen IS NOT NULL)))",
                      name));
      if (!step) return std::unexpected(step.error());
    }
    if (deleted == before) break;  // only open rows are left
    if (auto v = db_.exec("PRAGMA incremental_vacuum"); !v)
      return std::unexpected(v.error());
  }
  if (auto v = db_.exec("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE)");
      !v) {
    return std::unexpected(v.error());
  }
  return deleted;
}

}  // namespace portrel
