// The SQL layer against a hand-built Snapshot: schema generated from the column
// declarations, index lookups agreeing with full scans, lazy capture, the
// views, read-only enforcement, SQLite's errors, and the snapshot file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "query/database.h"
#include "query/live_tables.h"
#include "query/result_output.h"
#include "query/schema.h"
#include "query/store.h"

namespace portrel {
namespace {

Socket sock(uint64_t inode, Proto proto, const char* addr, uint16_t port, uint8_t state) {
  Socket s;
  s.inode = inode;
  s.cookie = inode + 7;
  s.netns = 1;
  s.proto = proto;
  s.local_addr = *Address::parse(addr);
  s.family = s.local_addr.family;
  s.local_port = port;
  s.state = state;
  return s;
}

Process proc(pid_t pid, pid_t ppid, const char* comm, const char* cgroup) {
  Process p;
  p.pid = pid;
  p.ppid = ppid;
  p.comm = comm;
  p.user = "root";
  p.cgroup = cgroup;
  p.netns = 1;
  return p;
}

Snapshot fixture() {
  return Snapshot(
      {proc(100, 1, "nginx", "/system.slice/nginx.service"),
       proc(101, 100, "nginx", "/system.slice/nginx.service"),
       proc(102, 100, "nginx", "/system.slice/nginx.service"),
       proc(200, 1, "redis", "/system.slice/redis.service"), proc(300, 1, "sh", "/")},
      {sock(1000, Proto::tcp, "0.0.0.0", 80, kStateListen),
       sock(1001, Proto::tcp, "::", 80, kStateListen),
       sock(2000, Proto::tcp, "127.0.0.1", 6379, kStateListen),
       sock(2001, Proto::udp, "0.0.0.0", 6379, kStateClose),
       sock(3000, Proto::tcp, "0.0.0.0", 22, kStateListen)},
      {{100, 6, 1000, false}, {101, 6, 1000, false}, {102, 6, 1000, false},
       {100, 7, 1001, true}, {200, 5, 2000, true}, {200, 6, 2001, true}},
      {{1, "", true, true, {}}}, {});
}

// A live database over the fixture, counting captures.
struct Live {
  Snapshot snap = fixture();
  std::vector<LiveTables::Scope> scopes;  // of each capture
  // Honours the scope as the live capture does: no sockets, or one port's.
  LiveTables tables{[this](const LiveTables::Scope& scope) -> Result<Snapshot> {
    scopes.push_back(scope);
    std::vector<Socket> sockets;
    for (const Socket& s : snap.sockets()) {
      if (scope.with_sockets && (!scope.port || s.local_port == *scope.port)) {
        sockets.push_back(s);
      }
    }
    return Snapshot({snap.processes().begin(), snap.processes().end()},
                    std::move(sockets), {snap.holdings().begin(), snap.holdings().end()},
                    {snap.namespaces().begin(), snap.namespaces().end()}, {});
  }};
  std::vector<bool> captures() const {
    std::vector<bool> out;
    for (const auto& s : scopes) out.push_back(s.with_sockets);
    return out;
  }
  std::vector<std::vector<SqlValue>> rows(const std::string& sql) {
    auto r = db.query(sql, [this] { return tables.take_restart(); });
    EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().message);
    if (!r || r->empty()) return {};
    return r->front().rows;
  }
  Database db = *Database::open_memory();
  Live() {
    EXPECT_TRUE(tables.install(db.handle()));
    for (const auto& v : create_view_sql(true)) EXPECT_TRUE(db.exec(v)) << v;
  }
  std::string error(const std::string& sql) {
    auto r = db.query(sql);
    return r ? "(no error)" : r.error().message;
  }
};

std::vector<std::vector<SqlValue>> ints(std::vector<std::vector<int64_t>> in) {
  std::vector<std::vector<SqlValue>> out;
  for (auto& row : in) out.emplace_back(row.begin(), row.end());
  return out;
}

TEST(Sql, SchemaHasEveryDeclaredColumnOnceAndTablesMatchIt) {
  Live live;
  auto check = [&](TableId t, std::vector<std::string> declared) {
    auto info = live.rows("SELECT name FROM pragma_table_info('" +
                          std::string(table_name(t)) + "')");
    std::vector<std::string> got;
    for (auto& r : info) got.push_back(std::get<std::string>(r[0]));
    EXPECT_EQ(got, declared) << table_name(t);
    auto s = schema();
    auto rel = std::ranges::find(s, std::string(table_name(t)), &SchemaRelation::name);
    ASSERT_NE(rel, s.end());
    std::vector<std::string> listed;
    for (const auto& c : rel->columns) {
      listed.push_back(c.name);
      EXPECT_FALSE(c.description.empty()) << c.name;
    }
    EXPECT_EQ(listed, declared);
  };
  std::vector<std::string> names;
  for (const auto& c : process_columns()) names.emplace_back(c.name);
  check(TableId::process, names);
  names.clear();
  for (const auto& c : socket_columns()) names.emplace_back(c.name);
  check(TableId::socket, names);
  names.clear();
  for (const auto& c : holding_columns()) names.emplace_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"pid", "fd", "inode", "cloexec"}));
  check(TableId::holding, names);
}

TEST(Sql, IndexedLookupsAgreeWithFullScans) {
  Live live;
  auto want = ints({{100, 6}, {100, 7}, {101, 6}, {102, 6}});
  // `+col` hides the column from xBestIndex, forcing a scan.
  EXPECT_EQ(live.rows("SELECT pid, fd FROM holding JOIN socket USING(inode) "
                      "WHERE local_port = 80 ORDER BY pid, fd"),
            want);
  EXPECT_EQ(live.rows("SELECT pid, fd FROM holding JOIN socket USING(inode) "
                      "WHERE +local_port = 80 ORDER BY pid, fd"),
            want);
  EXPECT_EQ(live.rows("SELECT fd FROM holding WHERE pid = 200 ORDER BY fd"),
            ints({{5}, {6}}));
  EXPECT_EQ(live.rows("SELECT fd FROM holding WHERE +pid = 200 ORDER BY fd"),
            ints({{5}, {6}}));
  EXPECT_EQ(live.rows("SELECT comm FROM process WHERE pid = '200'"),
            (std::vector<std::vector<SqlValue>>{{std::string("redis")}}));
  EXPECT_EQ(live.rows("SELECT count(*) FROM process WHERE pid = 200.5"), ints({{0}}));
  EXPECT_EQ(live.rows("SELECT count(*) FROM socket WHERE local_port IN (80, 6379)"),
            ints({{4}}));
  EXPECT_EQ(live.rows("SELECT count(*) FROM socket WHERE local_port = 70000"),
            ints({{0}}));
}

TEST(Sql, AOnePortCaptureIsWidenedWhenAQueryReadsBeyondIt) {
  Live live;
  auto want = ints({{100, 6}, {100, 7}, {101, 6}, {102, 6}});
  EXPECT_EQ(live.rows("SELECT pid, fd FROM socket JOIN holding USING(inode) "
                      "WHERE local_port = 80 ORDER BY pid, fd"),
            want);
  ASSERT_EQ(live.scopes.size(), 1u);
  EXPECT_EQ(live.scopes[0].port, std::optional<uint16_t>(80)) << "captured port 80 only";
  // The ports of port 80's holders: holdings by pid are beyond that capture.
  EXPECT_EQ(live.rows("SELECT DISTINCT s2.local_port FROM socket AS s "
                      "JOIN holding AS h USING(inode) JOIN holding AS h2 ON h2.pid = h.pid "
                      "JOIN socket AS s2 ON s2.inode = h2.inode "
                      "WHERE s.local_port = 6379 ORDER BY 1"),
            ints({{6379}}));
  EXPECT_EQ(live.rows("SELECT count(*) FROM socket"), ints({{5}}));
  ASSERT_EQ(live.scopes.size(), 2u);
  EXPECT_FALSE(live.scopes[1].port) << "widened to a full capture";
}

TEST(Sql, AOnePortCaptureRestartsAStatementThatScansMore) {
  Live live;
  // socket(local_port = 6379) is read first, then every holding: the statement
  // starts over with everything.
  EXPECT_EQ(live.rows("SELECT (SELECT count(*) FROM socket WHERE local_port = 6379), "
                      "(SELECT count(*) FROM holding)"),
            ints({{2, 6}}));
  ASSERT_EQ(live.scopes.size(), 2u);
  EXPECT_EQ(live.scopes[0].port, std::optional<uint16_t>(6379));
  EXPECT_FALSE(live.scopes[1].port);
}

TEST(Sql, AQueryOfProcessesAloneSkipsTheSocketDump) {
  Live live;
  EXPECT_EQ(live.rows("SELECT count(*) FROM process"), ints({{5}}));
  ASSERT_EQ(live.captures(), std::vector<bool>{false});
  EXPECT_EQ(live.rows("SELECT count(*) FROM holding"), ints({{6}}));
  EXPECT_EQ(live.captures(), (std::vector<bool>{false, true}));
  live.rows("SELECT count(*) FROM process JOIN holding USING(pid)");
  EXPECT_EQ(live.captures().size(), 2u);
}

TEST(Sql, PortViewCountsSocketsAndDistinctHolders) {
  Live live;
  auto rows = live.rows(
      "SELECT proto, port, sockets, holders, listening FROM port ORDER BY port, proto");
  std::vector<std::vector<SqlValue>> want = {
      {std::string("tcp"), int64_t(22), int64_t(1), int64_t(0), int64_t(1)},
      {std::string("tcp"), int64_t(80), int64_t(2), int64_t(3), int64_t(1)},
      {std::string("tcp"), int64_t(6379), int64_t(1), int64_t(1), int64_t(1)},
      {std::string("udp"), int64_t(6379), int64_t(1), int64_t(1), int64_t(1)}};
  EXPECT_EQ(rows, want);
}

TEST(Sql, ListeningViewHasOneRowPerHolderAndKeepsUnheldSockets) {
  Live live;
  EXPECT_EQ(live.rows("SELECT count(*) FROM listening"), ints({{7}}));
  auto unheld = live.rows("SELECT local_port, pid FROM listening WHERE pid IS NULL");
  ASSERT_EQ(unheld.size(), 1u);
  EXPECT_EQ(unheld[0][0], SqlValue(int64_t(22)));
  auto leak = live.rows(
      "SELECT DISTINCT local_port, cloexec, cgroup FROM listening WHERE NOT cloexec");
  ASSERT_EQ(leak.size(), 1u);
  EXPECT_EQ(leak[0][1], SqlValue(false)) << "BOOLEAN columns come back as booleans";
  EXPECT_EQ(leak[0][2], SqlValue(std::string("/system.slice/nginx.service")));
}

TEST(Sql, SharingAndFindingComeFromTheAnalysis) {
  Live live;
  auto kinds = live.rows(
      "SELECT port, kind, group_concat(inode) FROM (SELECT * FROM sharing ORDER BY inode) "
      "GROUP BY port, kind ORDER BY port, kind");
  std::vector<std::vector<SqlValue>> want = {
      {int64_t(80), std::string("dual-stack"), std::string("1000,1001")},
      {int64_t(80), std::string("inherited"), std::string("1000")},
      {int64_t(6379), std::string("protocols"), std::string("2000,2001")}};
  EXPECT_EQ(kinds, want);
  std::vector<const Socket*> all;
  for (const Socket& s : live.snap.sockets()) all.push_back(&s);
  auto findings = audit(live.snap, all, {});
  ASSERT_FALSE(findings.empty());
  auto rows = live.rows("SELECT id, kind, summary, pids FROM finding ORDER BY id");
  ASSERT_EQ(rows.size(), findings.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][1], SqlValue(std::string(finding_kind_name(findings[i].kind))));
    EXPECT_EQ(rows[i][2], SqlValue(findings[i].summary));
  }
  // The lists are JSON arrays: json_each() turns a finding into rows of pids.
  auto leak = live.rows(
      "SELECT DISTINCT j.value FROM finding, json_each(finding.pids) AS j "
      "WHERE kind = 'cloexec' ORDER BY 1");
  EXPECT_EQ(leak, ints({{100}, {101}, {102}}));
}

TEST(Sql, WritesAreRefusedWithSqlitesOwnMessage) {
  Live live;
  EXPECT_NE(live.error("INSERT INTO process(pid) VALUES (1)").find("may not be modified"),
            std::string::npos);
  EXPECT_NE(live.error("DELETE FROM holding").find("may not be modified"),
            std::string::npos);
  EXPECT_EQ(live.error("CREATE TEMP TABLE t(x)"), "attempt to write a readonly database");
  EXPECT_EQ(live.error("CREATE TABLE t(x)"), "attempt to write a readonly database");
  std::string out = ::testing::TempDir() + "vacuum_" + std::to_string(getpid()) + ".db";
  EXPECT_EQ(live.error("VACUUM INTO '" + out + "'"), "attempt to write a readonly database");
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(live.error("SELECT * FROM nosuch"), "no such table: nosuch");
  EXPECT_NE(live.error("SELEC 1").find("syntax error"), std::string::npos);
  EXPECT_EQ(live.error("SELECT 1; SELECT 2"), "only one statement may return rows");
  EXPECT_EQ(live.rows("SELECT 1 -- a comment\n;"), ints({{1}}));
}

TEST(Sql, FilteredRelationsDropTheHoldingsOfDroppedSockets) {
  Snapshot snap = fixture();
  Relations r(snap, [](const void*, const Snapshot&, const Socket& s) {
    return s.proto == Proto::tcp;
  });
  EXPECT_EQ(r.size(TableId::socket), 4u);
  EXPECT_EQ(r.size(TableId::holding), 5u);
  EXPECT_EQ(r.size(TableId::process), 5u);
  EXPECT_TRUE(r.lookup(TableId::holding, 2, 2001).empty());
  EXPECT_EQ(r.lookup(TableId::holding, 2, 1000).size(), 3u);
}

TEST(Sql, SnapshotFileRoundTripsAndOpensReadOnly) {
  Live live;
  std::string path = ::testing::TempDir() + "snap_" + std::to_string(getpid()) + ".db";
  Relations relations(live.snap);
  ASSERT_TRUE(write_snapshot_file(path, relations, {{"host", "h1"}, {"time", "t"}}));
  auto file = Database::open_readonly(path);
  ASSERT_TRUE(file) << file.error().message;
  for (const char* q :
       {"SELECT * FROM process ORDER BY pid", "SELECT * FROM socket ORDER BY inode",
        "SELECT * FROM holding ORDER BY inode, pid, fd",
        "SELECT * FROM port ORDER BY netns, proto, port",
        "SELECT * FROM listening ORDER BY inode, pid",
        "SELECT * FROM sharing ORDER BY port, kind, inode",
        "SELECT * FROM finding ORDER BY id"}) {
    auto got = file->query(q);
    ASSERT_TRUE(got) << q << ": " << got.error().message;
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ(got->front().rows, live.rows(q)) << q;
    EXPECT_FALSE(got->front().rows.empty()) << q;
  }
  auto meta = file->query("SELECT value FROM meta WHERE key = 'host'");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->front().rows.at(0).at(0), SqlValue(std::string("h1")));
  auto insert = file->query("INSERT INTO meta VALUES ('x', 'y')");
  ASSERT_FALSE(insert);
  EXPECT_EQ(insert.error().message, "attempt to write a readonly database");
  // Attached, the snapshot's views read its own tables, and unqualified names
  // still mean the live ones.
  Live empty;
  empty.snap = Snapshot(std::vector<Process>(live.snap.processes().begin(),
                                             live.snap.processes().end()),
                        {}, {}, {}, {});
  auto attached = empty.db.query("ATTACH '" + path +
                                "' AS old; SELECT (SELECT count(*) FROM old.listening), "
                                "(SELECT count(*) FROM listening)");
  ASSERT_TRUE(attached) << attached.error().message;
  EXPECT_EQ(attached->front().rows, ints({{7, 0}}));
  std::filesystem::remove(path);
}

TEST(Sql, ResultsRenderInEveryFormat) {
  ResultSet r{{"pid", "comm", "cloexec", "share"},
              {{int64_t(7), std::string("a,b"), true, 0.5},
               {int64_t(12), std::string("\x1b[31m"), std::monostate{}, 2.0}}};
  EXPECT_EQ(result_csv(r), "pid,comm,cloexec,share\r\n7,\"a,b\",true,0.5\r\n12,\x1b[31m,,2\r\n");
  std::string table = result_table(r, false);
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << table;
  EXPECT_NE(table.find("\\x1b[31m"), std::string::npos) << table;
  std::vector<std::string> warnings{"w"};
  EXPECT_EQ(result_json(r, warnings),
            "{\n  \"columns\": [\n    \"pid\",\n    \"comm\",\n    \"cloexec\",\n    "
            "\"share\"\n  ],\n  \"rows\": [\n    {\n      \"pid\": 7,\n      \"comm\": "
            "\"a,b\",\n      \"cloexec\": true,\n      \"share\": 0.5\n    },\n    {\n"
            "      \"pid\": 12,\n      \"comm\": \"\\u001b[31m\",\n      \"cloexec\": "
            "null,\n      \"share\": 2.0\n    }\n  ],\n  \"warnings\": [\n    \"w\"\n  ]\n}\n");
}

}  // namespace
}  // namespace portrel
