// `portrel record` and `portrel history` against a timeline the test builds: a
// listener, a child that inherits it, the child killed, the listener closed and
// another process listening on the port. `history PORT --at` at the middle of
// each phase must name exactly that phase's holders. Then the recorder is
// killed with SIGKILL and restarted: what it committed stays, and what it left
// open is closed at its last heartbeat, marked 'crash'.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

// A recorder of PORT only: the host may hold many other sockets.
std::string recorder(const std::string& db, const std::string& err, uint16_t port) {
  return "sh -c 'echo started; exec " + std::string(PORTREL_BINARY) +
         " record -t 127.0.0.1:" + std::to_string(port) + " -v --db " + db +
         " --interval 0.2 --batch 0.3 2>" + err + "'";
}

// The pids `history PORT --at T` names.
std::set<int> held_at(const std::string& db, uint16_t port, double t) {
  CliRun run = run_portrel({"history", "tcp/127.0.0.1:" + std::to_string(port), "--db",
                            db, "--at", fmt::format("@{:.3f}", t), "--format", "json"});
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.err;
  std::set<int> out;
  if (run.exit_code != 0) return out;
  nlohmann::json doc = nlohmann::json::parse(run.out);
  for (const auto& row : doc["rows"]) {
    out.insert(row["pid"].get<int>());
  }
  return out;
}

// Rows of `sql --db DB QUERY` as JSON objects.
nlohmann::json sql(const std::string& db, const std::string& query) {
  CliRun run = run_portrel({"sql", "--db", db, query, "--format", "json"});
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.err;
  return nlohmann::json::parse(run.out.empty() ? "{\"rows\": []}" : run.out)["rows"];
}

TEST(History, RecordsATimelineAndSurvivesSigkill) {
  ASSERT_EQ(geteuid(), 0u) << "record reads every process's fd table: it needs root";
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string db = dir.path() + "/h.db", err = dir.path() + "/err",
              err2 = dir.path() + "/err2", times = dir.path() + "/times";
  uint16_t port = free_loopback_port();
  std::optional<Background> rec(std::in_place, recorder(db, err, port));
  ASSERT_EQ(rec->line(), "started");
  ASSERT_TRUE(wait_for(err, "recording into", 20)) << read_text(err);

  // Each phase lasts 1.5 s; the script writes when each began.
  Background timeline(
      "python3 -c 'import os, signal, socket, sys, time\n"
      "out = open(\"" +
      times +
      "\", \"w\")\n"
      "def mark(name, *pids):\n"
      "    out.write(\"%s %.3f %s\\n\" % (name, time.time(), \" \".join(map(str, "
      "pids)))); out.flush()\n"
      "s = socket.socket(); s.bind((\"127.0.0.1\", " +
      std::to_string(port) +
      ")); s.listen()\n"
      "mark(\"listen\", os.getpid())\n"
      "time.sleep(1.5)\n"
      "child = os.fork()\n"
      "if child == 0:\n"
      "    time.sleep(60); os._exit(0)\n"
      "mark(\"fork\", os.getpid(), child)\n"
      "time.sleep(1.5)\n"
      "os.kill(child, signal.SIGKILL); os.waitpid(child, 0)\n"
      "mark(\"kill\", os.getpid())\n"
      "time.sleep(1.5)\n"
      "s.close()\n"
      "other = os.fork()\n"
      "if other == 0:\n"
      "    t = socket.socket(); t.bind((\"127.0.0.1\", " +
      std::to_string(port) +
      ")); t.listen()\n"
      "    time.sleep(60); os._exit(0)\n"
      "mark(\"other\", other)\n"
      "time.sleep(1.5)\n"
      "mark(\"end\")\n"
      "print(\"done\", flush=True)\n"
      "time.sleep(60)\n'");
  ASSERT_EQ(timeline.line(), "done") << read_text(times);
  std::map<std::string, std::pair<double, std::set<int>>> phase;
  std::istringstream lines(read_text(times));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::string name;
    double t = 0;
    in >> name >> t;
    std::set<int> pids;
    for (int pid = 0; in >> pid;) pids.insert(pid);
    phase[name] = {t, pids};
  }
  ASSERT_EQ(phase.size(), 5u) << read_text(times);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // a commit after "end"

  auto middle = [&](const char* from, const char* to) {
    return (phase[from].first + phase[to].first) / 2;
  };
  EXPECT_EQ(held_at(db, port, middle("listen", "fork")), phase["listen"].second)
      << read_text(err) << read_text(times);
  EXPECT_EQ(held_at(db, port, middle("fork", "kill")), phase["fork"].second);
  EXPECT_EQ(held_at(db, port, middle("kill", "other")), phase["kill"].second);
  EXPECT_EQ(held_at(db, port, middle("other", "end")), phase["other"].second);
  EXPECT_EQ(held_at(db, port, phase["listen"].first - 5), std::set<int>{});

  // The human table: one row per holder interval, the killed child's ended.
  CliRun table = run_portrel({"history", "tcp/" + std::to_string(port), "--db", db},
                             {"NO_COLOR=1"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("FIRST SEEN"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("exited"), std::string::npos) << table.out;  // the child
  EXPECT_NE(table.out.find("closed"), std::string::npos)
      << table.out;  // the parent's close
  EXPECT_NE(table.out.find("(still held)"), std::string::npos) << table.out;
  int other = *phase["other"].second.begin();
  CliRun of = run_portrel(
      {"history", "of", std::to_string(other), "--db", db, "--format", "json"});
  EXPECT_EQ(of.exit_code, 0) << of.err;

  // What the killed recorder committed, read while it runs.
  std::string rows_sql =
      "SELECT h.inode AS inode, pid, fd, h.first_seen AS first_seen, h.last_seen AS "
      "last_seen, h.closed_by AS closed_by FROM holding_history AS h WHERE h.inode IN "
      "(SELECT inode FROM socket_history WHERE local_port = " +
      std::to_string(port) +
      " AND local_address = '127.0.0.1') ORDER BY h.first_seen, pid";
  nlohmann::json before = sql(db, rows_sql);
  ASSERT_EQ(before.size(), 3u) << before.dump();  // parent, child, other
  kill(rec->pid(), SIGKILL);
  rec.reset();
  nlohmann::json run1 = sql(db, "SELECT heartbeat, stopped, clean FROM recorder_runs");
  ASSERT_EQ(run1.size(), 1u);
  EXPECT_TRUE(run1[0]["stopped"].is_null()) << run1.dump();

  rec.emplace(recorder(db, err2, port));
  ASSERT_EQ(rec->line(), "started");
  ASSERT_TRUE(wait_for(err2, "recording into", 20)) << read_text(err2);
  EXPECT_NE(read_text(err2).find("did not stop cleanly"), std::string::npos)
      << read_text(err2);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(rec->pid(), SIGTERM);
  EXPECT_TRUE(wait_for(err2, "recording stopped", 10)) << read_text(err2);
  rec.reset();

  nlohmann::json runs = sql(db,
                            "SELECT run, heartbeat, stopped, clean FROM recorder_runs "
                            "ORDER BY run");
  ASSERT_EQ(runs.size(), 2u) << runs.dump();
  EXPECT_EQ(runs[0]["clean"], false);
  EXPECT_EQ(runs[0]["stopped"], runs[0]["heartbeat"]);
  EXPECT_EQ(runs[1]["clean"], true);
  double heartbeat = runs[0]["heartbeat"].get<double>();
  nlohmann::json after = sql(db, rows_sql);
  // Every row committed before the kill is there, as it was, or (open then)
  // closed at the killed run's last heartbeat and marked.
  size_t found = 0;
  for (const auto& row : before) {
    for (const auto& now : after) {
      if (now["inode"] != row["inode"] || now["pid"] != row["pid"] ||
          now["first_seen"] != row["first_seen"]) {
        continue;
      }
      ++found;
      if (row["last_seen"].is_null()) {
        EXPECT_EQ(now["closed_by"], "crash") << now.dump();
        EXPECT_EQ(now["last_seen"].get<double>(), heartbeat) << now.dump();
      } else {
        EXPECT_EQ(now, row);
      }
    }
  }
  EXPECT_EQ(found, before.size()) << before.dump() << after.dump();
  // The restarted run saw the other listener again, as present when it began.
  nlohmann::json again =
      sql(db, "SELECT opened_by FROM holding_history WHERE run = 2 AND pid = " +
                  std::to_string(other));
  ASSERT_EQ(again.size(), 1u) << again.dump();
  EXPECT_EQ(again[0]["opened_by"], "present");
  EXPECT_EQ(held_at(db, port, middle("fork", "kill")), phase["fork"].second);
}

TEST(History, BadArgumentsAreUsageErrors) {
  ScratchDir dir;
  std::string db = dir.path() + "/none.db";
  CliRun bad_time = run_portrel({"history", "8080", "--db", db, "--at", "yesterday"});
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_EQ(std::count(bad_time.err.begin(), bad_time.err.end(), '\n'), 1)
      << bad_time.err;
  EXPECT_NE(bad_time.err.find("1h ago"), std::string::npos) << bad_time.err;
  EXPECT_EQ(run_portrel({"history", "8080", "--db", db}).exit_code, 2);  // no such file
  EXPECT_EQ(run_portrel({"history", "--db", db}).exit_code, 2);
  EXPECT_EQ(run_portrel({"history", "8080", "--at", "now", "--since", "-1h"}).exit_code,
            2);
  // A file that is not a history file is refused and left as it was.
  std::string other = dir.path() + "/notes.txt";
  std::ofstream(other) << "some notes\n";
  ASSERT_EQ(chmod(other.c_str(), 0644), 0);
  CliRun refused = run_portrel({"record", "--db", other, "--count", "1"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("not a portrel history file"), std::string::npos)
      << refused.err;
  struct stat st {};
  ASSERT_EQ(stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(read_text(other), "some notes\n");
}

}  // namespace
}  // namespace portrel::testing
