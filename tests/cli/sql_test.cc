// `portrel sql` and `portrel snapshot` run as a user would, against lab
// scenarios: each view agrees row for row with who/of, a snapshot round-trips
// and stays read-only, bad SQL is exit 2 with SQLite's message, and every query
// of the README's SQL section runs and finds what the lab built.
#include <gtest/gtest.h>

#include <chrono>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "lab/lab.h"
#include "../live/truth.h"
#include "run.h"

namespace portrel::testing {
namespace {

nlohmann::json json_of(const CliRun& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::string temp_db(const std::string& name) {
  return ::testing::TempDir() + "portrel_sql_" + name + "_" + std::to_string(getpid()) +
         ".db";
}

using PidFd = std::set<std::pair<int64_t, int64_t>>;

// Holders (pid, fd) of every socket `who` lists.
PidFd who_holders(const std::string& port) {
  PidFd out;
  auto doc = json_of(run_portrel({"who", port, "--format", "json"}));
  for (const auto& s : doc["sockets"]) {
    for (const auto& h : s["holders"]) {
      out.insert({h["pid"].get<int64_t>(), h["fd"].get<int64_t>()});
    }
  }
  return out;
}

PidFd sql_pid_fd(const std::string& query) {
  PidFd out;
  auto doc = json_of(run_portrel({"sql", query, "--format", "json"}));
  for (const auto& row : doc["rows"]) {
    out.insert({row["pid"].get<int64_t>(), row["fd"].get<int64_t>()});
  }
  return out;
}

TEST(Sql, HoldersOfAPortAgreeWithWho) {
  lab::Lab lab = start_lab("prefork", {.workers = 3});
  std::string port = std::to_string(lab.truth().sockets.at(0).port);
  PidFd want;
  for (const auto& s : lab.truth().sockets) want.insert({s.pid, s.fd});
  PidFd who = who_holders("tcp/" + port);
  EXPECT_EQ(who, want);
  EXPECT_EQ(sql_pid_fd("SELECT pid, fd FROM holding JOIN socket USING(inode) "
                       "WHERE local_port = " + port + " AND proto = 'tcp'"),
            who);
  EXPECT_EQ(sql_pid_fd("SELECT pid, fd FROM process JOIN holding USING(pid) "
                       "JOIN socket USING(inode) WHERE local_port = " + port +
                       " AND proto = 'tcp'"),
            who);
  EXPECT_EQ(sql_pid_fd("SELECT pid, fd FROM listening WHERE local_port = " + port +
                       " AND proto = 'tcp'"),
            who);
}

TEST(Sql, SocketsOfAProcessAgreeWithOf) {
  lab::Lab lab = start_lab("multi-port");
  pid_t pid = lab.truth().sockets.at(0).pid;
  auto of = json_of(run_portrel({"of", std::to_string(pid), "--format", "json"}));
  std::set<std::tuple<std::string, std::string, int64_t, int64_t>> want, got;
  for (const auto& s : of["sockets"]) {
    for (const auto& h : s["holders"]) {
      if (h["pid"] == pid) {
        want.insert({s["proto"].get<std::string>(), s["local_address"].get<std::string>(),
                     s["local_port"].get<int64_t>(), h["fd"].get<int64_t>()});
      }
    }
  }
  EXPECT_EQ(want.size(), 5u) << of.dump();
  auto doc = json_of(run_portrel(
      {"sql",
       "SELECT proto, local_address, local_port, fd FROM holding JOIN socket "
       "USING(inode) WHERE pid = " + std::to_string(pid),
       "--format", "json"}));
  for (const auto& r : doc["rows"]) {
    got.insert({r["proto"].get<std::string>(), r["local_address"].get<std::string>(),
                r["local_port"].get<int64_t>(), r["fd"].get<int64_t>()});
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(doc["rows"].size(), want.size());
}

TEST(Sql, PortViewAgreesWithWhoOnEveryScenarioPort) {
  lab::Lab reuse = start_lab("reuseport", {.workers = 3});
  lab::Lab pre = start_lab("prefork", {.workers = 2});
  lab::Lab multi = start_lab("multi-port");
  std::set<uint16_t> ports;
  for (const auto* lab : {&reuse, &pre, &multi}) {
    for (const auto& s : lab->truth().sockets) ports.insert(s.port);
  }
  for (uint16_t p : ports) {
    std::string port = std::to_string(p);
    auto who = json_of(run_portrel({"who", port, "--format", "json"}));
    std::map<std::string, std::pair<std::set<int64_t>, std::set<int64_t>>> by_proto;
    for (const auto& s : who["sockets"]) {
      auto& [inodes, pids] = by_proto[s["proto"]];
      inodes.insert(s["inode"].get<int64_t>());
      for (const auto& h : s["holders"]) pids.insert(h["pid"].get<int64_t>());
    }
    auto doc = json_of(run_portrel(
        {"sql", "SELECT proto, sockets, holders FROM port WHERE port = " + port,
         "--format", "json"}));
    ASSERT_EQ(doc["rows"].size(), by_proto.size()) << port << doc.dump();
    for (const auto& r : doc["rows"]) {
      const auto& [inodes, pids] = by_proto.at(r["proto"]);
      EXPECT_EQ(r["sockets"], inodes.size()) << port;
      EXPECT_EQ(r["holders"], pids.size()) << port;
    }
  }
}

TEST(Sql, SharingAgreesWithShared) {
  lab::Lab pre = start_lab("prefork", {.workers = 2});
  lab::Lab reuse = start_lab("reuseport", {.workers = 2});
  lab::Lab proto = start_lab("protocols");
  lab::Lab addr = start_lab("addresses");
  std::set<std::string> ports;
  for (const auto* lab : {&pre, &reuse, &proto, &addr}) {
    ports.insert(std::to_string(lab->truth().sockets.at(0).port));
  }
  // `shared --format csv`: netns,netns_name,port,protos,sockets,processes,sharing
  CliRun shared = run_portrel({"shared", "--format", "csv"});
  ASSERT_EQ(shared.exit_code, 0) << shared.err;
  std::map<std::string, std::string> want;
  std::istringstream lines(shared.out);
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 7u) << line;
    if (f[1] == "host" && ports.contains(f[2])) want[f[2]] = f[6];
  }
  EXPECT_EQ(want.size(), ports.size()) << shared.out;
  std::string in;
  for (const auto& p : ports) in += (in.empty() ? "" : ",") + p;
  auto doc = json_of(run_portrel(
      {"sql",
       "SELECT port, group_concat(kind, ';') AS kinds FROM (SELECT DISTINCT netns_name, "
       "port, kind FROM sharing WHERE netns_name = 'host' AND port IN (" + in +
           ") ORDER BY port, kind) GROUP BY port",
       "--format", "json"}));
  std::map<std::string, std::string> got;
  for (const auto& r : doc["rows"]) got[std::to_string(r["port"].get<int>())] = r["kinds"];
  // shared lists kinds in kind order; compare as sets.
  auto as_set = [](const std::string& text) {
    std::set<std::string> out;
    std::stringstream ss(text);
    for (std::string k; std::getline(ss, k, ';');) out.insert(k);
    return out;
  };
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [port, kinds] : want) EXPECT_EQ(as_set(got[port]), as_set(kinds)) << port;
}

TEST(Sql, FindingAgreesWithAudit) {
  lab::Lab leak = start_lab("cloexec-leak");
  std::set<int64_t> lab_pids;
  for (const auto& p : leak.truth().processes) lab_pids.insert(p.pid);
  for (const auto& s : leak.truth().sockets) lab_pids.insert(s.pid);
  CliRun audit = run_portrel({"audit", "--format", "json"});
  ASSERT_TRUE(audit.exit_code == 0 || audit.exit_code == 3) << audit.err;
  std::multiset<std::pair<std::string, std::string>> want, got;
  auto audit_doc = nlohmann::json::parse(audit.out);
  for (const auto& f : audit_doc["findings"]) {
    for (const auto& p : f["processes"]) {
      if (lab_pids.contains(p["pid"].get<int64_t>())) {
        want.insert({f["kind"].get<std::string>(), f["summary"].get<std::string>()});
        break;
      }
    }
  }
  EXPECT_FALSE(want.empty()) << audit.out;
  auto doc = json_of(run_portrel({"sql", "SELECT kind, summary, pids FROM finding",
                                  "--format", "json"}));
  for (const auto& r : doc["rows"]) {
    for (const auto& pid : nlohmann::json::parse(r["pids"].get<std::string>())) {
      if (lab_pids.contains(pid.get<int64_t>())) {
        got.insert({r["kind"].get<std::string>(), r["summary"].get<std::string>()});
        break;
      }
    }
  }
  EXPECT_EQ(got, want);
}

TEST(Sql, SnapshotRoundTripsAndIsReadOnly) {
  lab::Lab lab = start_lab("prefork", {.workers = 2});
  std::string port = std::to_string(lab.truth().sockets.at(0).port);
  std::string db = temp_db("roundtrip");
  CliRun w = run_portrel({"snapshot", db});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  std::string q = "SELECT pid, fd FROM holding JOIN socket USING(inode) WHERE local_port = " +
                  port + " AND proto = 'tcp'";
  auto saved = json_of(run_portrel({"sql", "--db", db, q, "--format", "json"}));
  auto live = json_of(run_portrel({"sql", q, "--format", "json"}));
  EXPECT_EQ(saved["rows"].size(), 3u);
  EXPECT_EQ(std::set(saved["rows"].begin(), saved["rows"].end()),
            std::set(live["rows"].begin(), live["rows"].end()));

  auto meta = json_of(run_portrel(
      {"sql", "--db", db, "SELECT key, value FROM meta ORDER BY key", "--format", "json"}));
  std::map<std::string, std::string> kv;
  for (const auto& r : meta["rows"]) kv[r["key"]] = r["value"];
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(kv["host"], host);
  EXPECT_EQ(kv["portrel_version"], "0.1.0");
  EXPECT_EQ(kv["states"], "listening");
  EXPECT_TRUE(std::regex_match(kv["time"], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << kv["time"];

  auto before = std::filesystem::file_size(db);
  CliRun insert = run_portrel({"sql", "--db", db, "INSERT INTO meta VALUES ('a', 'b')"});
  EXPECT_EQ(insert.exit_code, 2);
  EXPECT_EQ(insert.out, "");
  EXPECT_EQ(insert.err, "portrel: sql: attempt to write a readonly database\n");
  CliRun drop = run_portrel({"sql", "--db", db, "DROP TABLE meta"});
  EXPECT_EQ(drop.exit_code, 2) << drop.err;
  EXPECT_EQ(std::filesystem::file_size(db), before);
  CliRun count = run_portrel({"sql", "--db", db, "SELECT count(*) FROM meta", "-f", "csv"});
  EXPECT_EQ(count.out, "count(*)\r\n5\r\n");
  std::filesystem::remove(db);
}

TEST(Sql, AttachFindsListenersThatAppearedSinceASnapshot) {
  lab::Lab old_lab = start_lab("protocols");
  std::string db = temp_db("attach");
  ASSERT_EQ(run_portrel({"snapshot", db}).exit_code, 0);
  lab::Lab new_lab = start_lab("prefork", {.workers = 1});
  auto doc = json_of(run_portrel(
      {"sql",
       "ATTACH '" + db + "' AS old; "
       "SELECT proto, local_port FROM listening EXCEPT "
       "SELECT proto, local_port FROM old.listening",
       "--format", "json"}));
  std::set<std::pair<std::string, int64_t>> appeared;
  for (const auto& r : doc["rows"]) {
    appeared.insert({r["proto"].get<std::string>(), r["local_port"].get<int64_t>()});
  }
  EXPECT_TRUE(appeared.contains({"tcp", new_lab.truth().sockets.at(0).port})) << doc.dump();
  for (const auto& s : old_lab.truth().sockets) {
    EXPECT_FALSE(appeared.contains({s.proto == Proto::tcp ? "tcp" : "udp", s.port}));
  }
  std::filesystem::remove(db);
}

TEST(Sql, BadSqlIsExitTwoWithSqlitesMessageOnOneLine) {
  struct Case {
    std::string query, message;
  } cases[] = {
      {"SELEC 1", "portrel: sql: near \"SELEC\": syntax error\n"},
      {"SELECT nosuch FROM process", "portrel: sql: no such column: nosuch\n"},
      {"SELECT * FROM nosuch", "portrel: sql: no such table: nosuch\n"},
      {"DELETE FROM process", "portrel: sql: table process may not be modified\n"},
      {"CREATE TEMP TABLE t(x)", "portrel: sql: attempt to write a readonly database\n"},
      {"SELECT 1; SELECT 2", "portrel: sql: only one statement may return rows\n"},
      {"SELECT\n1 +", "portrel: sql: incomplete input\n"},
  };
  for (const auto& c : cases) {
    CliRun r = run_portrel({"sql", c.query});
    EXPECT_EQ(r.exit_code, 2) << c.query;
    EXPECT_EQ(r.out, "") << c.query;
    EXPECT_EQ(r.err, c.message) << c.query;
  }
  CliRun missing = run_portrel({"sql", "--db", "/nonexistent/x.db", "SELECT 1"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("unable to open database file"), std::string::npos)
      << missing.err;
  CliRun nothing = run_portrel({"sql", "SELECT * FROM socket WHERE local_port = -1"});
  EXPECT_EQ(nothing.exit_code, 1) << nothing.err;
  EXPECT_EQ(nothing.out, "");
}

TEST(Sql, SchemaListsEveryColumnWithAMeaning) {
  auto doc = json_of(run_portrel({"sql", "--schema", "--format", "json"}));
  std::set<std::string> relations;
  size_t columns = 0;
  for (const auto& r : doc["rows"]) {
    relations.insert(r["relation"].get<std::string>());
    EXPECT_FALSE(r["meaning"].get<std::string>().empty()) << r.dump();
    if (!r["column"].get<std::string>().empty()) ++columns;
  }
  EXPECT_EQ(relations, (std::set<std::string>{"process", "socket", "holding", "sharing",
                                              "finding", "listening", "port", "meta"}));
  EXPECT_GT(columns, 40u);
  // Every column of `portrel columns` (the JSON contract) is in the schema too.
  CliRun cols = run_portrel({"columns", "--color", "never"});
  std::istringstream lines(cols.out);
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string relation, column;
    words >> relation >> column;
    if (relation != "socket") continue;
    bool found = false;
    for (const auto& r : doc["rows"]) {
      found |= r["relation"] == "socket" && r["column"] == column;
    }
    EXPECT_TRUE(found) << column;
  }
}

// The README's "Asking in SQL" section: every `portrel sql` line in it runs
// against a lab, with 8080 and 1201 standing for the lab's port and master pid.
TEST(Sql, EveryReadmeQueryRunsAndFindsTheLab) {
  std::ifstream in(std::string(PORTREL_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  std::string readme = text.str();
  size_t from = readme.find("## Asking in SQL");
  ASSERT_NE(from, std::string::npos);
  size_t to = readme.find("\n## ", from + 1);
  std::string section = readme.substr(from, to - from);

  std::vector<std::string> queries;
  std::regex line(R"re(\$ portrel (sql|snapshot) (.*))re");
  std::istringstream lines(section);
  std::string l, pending;
  while (std::getline(lines, l)) {
    if (!pending.empty()) {
      pending += " " + l.substr(l.find_first_not_of(' '));
    } else if (std::smatch m; std::regex_match(l, m, line)) {
      pending = l.substr(10);
    }
    if (!pending.empty() && !pending.ends_with('\\')) {
      queries.push_back(pending);
      pending.clear();
    } else if (!pending.empty()) {
      pending.pop_back();
    }
  }
  ASSERT_GE(queries.size(), 11u) << "ten queries and the snapshot they compare with";
  // The snapshot is "this morning's": taken before the labs start.
  std::string db = temp_db("readme");
  for (const std::string& q : queries) {
    if (q.starts_with("snapshot morning.db")) {
      CliRun r = run_portrel({"snapshot", db});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  lab::Lab pre = start_lab("prefork", {.workers = 2});
  lab::Lab multi = start_lab("multi-port");
  lab::Lab reuse = start_lab("reuseport", {.workers = 2});
  std::string port = std::to_string(pre.truth().sockets.at(0).port);
  pid_t master = 0;
  for (const auto& p : pre.truth().processes) {
    if (p.role == "master") master = p.pid;
  }
  ASSERT_NE(master, 0);

  size_t run = 0;
  for (std::string q : queries) {
    if (q.starts_with("snapshot ")) continue;
    for (auto [from_s, to_s] : {std::pair{"8080", port}, {"1201", std::to_string(master)},
                                {"morning.db", db}}) {
      for (size_t at = 0; (at = q.find(from_s, at)) != std::string::npos;
           at += to_s.size()) {
        q.replace(at, std::string(from_s).size(), to_s);
      }
    }
    ASSERT_TRUE(q.starts_with("sql \"") && q.ends_with("\"")) << q;
    CliRun r = run_portrel({"sql", q.substr(5, q.size() - 6)});
    EXPECT_EQ(r.exit_code, 0) << q << "\n" << r.err;
    EXPECT_FALSE(r.out.empty()) << q;
    ++run;
  }
  EXPECT_EQ(run, 10u);
  std::filesystem::remove(db);
}

// A runaway query stops at a documented bound with one line naming it.
TEST(SqlLimits, RunawayQueriesStopAtTheirBound) {
  auto start = std::chrono::steady_clock::now();
  CliRun endless = run_portrel(
      {"sql", "--max-seconds", "1",
       "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r"});
  EXPECT_EQ(endless.exit_code, 2);
  EXPECT_NE(endless.err.find("--max-seconds"), std::string::npos) << endless.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  CliRun many = run_portrel(
      {"sql", "--max-rows", "10",
       "with recursive r(n) as (select 1 union all select n + 1 from r limit 100) select n from r"});
  EXPECT_EQ(many.exit_code, 2);
  EXPECT_NE(many.err.find("--max-rows"), std::string::npos) << many.err;
  CliRun big = run_portrel(
      {"sql", "--max-memory", "16",
       "with recursive r(n) as (select 1 union all select n + 1 from r where n < 1000000) "
       "select length(group_concat(printf('%.100c', 'x'))) from r"});
  EXPECT_EQ(big.exit_code, 2);
  EXPECT_NE(big.err.find("--max-memory"), std::string::npos) << big.err;
  CliRun fine = run_portrel({"sql", "--max-rows", "10", "select 1 as one"});
  EXPECT_EQ(fine.exit_code, 0) << fine.err;
}

}  // namespace
}  // namespace portrel::testing
