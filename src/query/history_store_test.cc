// The history store against a timeline built by hand: each state of the
// relation is read twice, the history is asked what held the port at moments
// inside and between them, and a store dropped mid-batch (as a killed recorder)
// loses that batch only.
#include "query/history_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <utility>

#include "analysis/test_snapshot.h"
#include "query/history_query.h"

namespace portrel {
namespace {

using testing::proc;
using testing::sock;

// The states of the timeline.
Snapshot listening() {  // server 100 listens on 8080
  return testing::snapshot({proc(100, 1, "server")},
                           {sock(1, Proto::tcp, "0.0.0.0", 8080)},
                           {{100, 3, 1, false}});
}
Snapshot forked() {  // and its child 101 inherited the socket
  return testing::snapshot({proc(100, 1, "server"), proc(101, 100, "server")},
                           {sock(1, Proto::tcp, "0.0.0.0", 8080)},
                           {{100, 3, 1, false}, {101, 3, 1, false}});
}
Snapshot execd() {  // the child exited; 100 ran another program, keeping its fd
  return testing::snapshot({proc(100, 1, "server2", "/usr/bin/server2", 100)},
                           {sock(1, Proto::tcp, "0.0.0.0", 8080)},
                           {{100, 3, 1, false}});
}
Snapshot replaced() {  // 100 is gone; 200 listens on 8080 with another socket
  return testing::snapshot({proc(200, 1, "other")},
                           {sock(2, Proto::tcp, "127.0.0.1", 8080)},
                           {{200, 5, 2, true}});
}

// Applies each (time, state) as one read and commits.
void record(HistoryStore& store, const std::vector<std::pair<double, Snapshot>>& reads,
            Snapshot& last) {
  for (const auto& [t, snap] : reads) {
    auto ok = store.apply(diff_relation(last, snap), last, snap, t);
    ASSERT_TRUE(ok) << ok.error().message;
    ASSERT_TRUE(store.commit());
    last =
        Snapshot(std::vector<Process>(snap.processes().begin(), snap.processes().end()),
                 std::vector<Socket>(snap.sockets().begin(), snap.sockets().end()),
                 std::vector<Holding>(snap.holdings().begin(), snap.holdings().end()),
                 {Netns{testing::kHostNs, "", true, true, {}}}, {});
  }
}

// (pid, comm) of the rows that held PORT at T.
std::set<std::pair<int64_t, std::string>> held_at(HistoryStore& store, uint16_t port,
                                                  double t) {
  HistoryQuery q;
  q.port = port;
  q.since = q.until = t;
  auto rows = query_history(store.db(), q);
  EXPECT_TRUE(rows) << rows.error().message;
  std::set<std::pair<int64_t, std::string>> out;
  if (!rows) return out;
  for (const auto& row : rows->rows) {
    out.insert({std::get<int64_t>(row[5]), std::get<std::string>(row[7])});
  }
  return out;
}

using Held = std::set<std::pair<int64_t, std::string>>;

TEST(HistoryStore, AnswersWhatHeldThePortAtEachMoment) {
  auto store = HistoryStore::open_memory();
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE(store->begin_run(5, "host", "test", 1));
  Snapshot last;
  record(*store,
         {{10, listening()},
          {15, listening()},
          {20, forked()},
          {25, forked()},
          {30, listening()},
          {35, listening()},
          {40, execd()},
          {45, execd()},
          {50, replaced()},
          {55, replaced()}},
         last);
  EXPECT_EQ(held_at(*store, 8080, 12), (Held{{100, "server"}}));
  EXPECT_EQ(held_at(*store, 8080, 22), (Held{{100, "server"}, {101, "server"}}));
  EXPECT_EQ(held_at(*store, 8080, 28), (Held{{100, "server"}}));  // 101 last seen at 25
  EXPECT_EQ(held_at(*store, 8080, 32), (Held{{100, "server"}}));
  EXPECT_EQ(held_at(*store, 8080, 42), (Held{{100, "server2"}}));
  EXPECT_EQ(held_at(*store, 8080, 47),
            Held{});  // between the last read of one and the next
  EXPECT_EQ(held_at(*store, 8080, 53), (Held{{200, "other"}}));
  EXPECT_EQ(held_at(*store, 8080, 55),
            (Held{{200, "other"}}));  // open: until the heartbeat
  EXPECT_EQ(held_at(*store, 8080, 56), Held{});
  EXPECT_EQ(held_at(*store, 9090, 12), Held{});

  // How each interval began and ended.
  auto rows = store->db().query(
      "SELECT pid, comm, opened_by, closed_by, first_seen, last_seen FROM "
      "process_history "
      "ORDER BY first_seen, pid");
  ASSERT_TRUE(rows);
  const auto& r = rows->front().rows;
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], (std::vector<SqlValue>{int64_t{100}, std::string("server"),
                                         std::string("present"), std::string("exec"),
                                         10.0, 35.0}));
  EXPECT_EQ(r[1], (std::vector<SqlValue>{int64_t{101}, std::string("server"),
                                         std::string("fork"), std::string("exited"),
                                         20.0, 25.0}));
  EXPECT_EQ(r[2], (std::vector<SqlValue>{int64_t{100}, std::string("server2"),
                                         std::string("exec"), std::string("exited"),
                                         40.0, 45.0}));
  EXPECT_EQ(r[3], (std::vector<SqlValue>{int64_t{200}, std::string("other"),
                                         std::string("opened"), std::monostate{}, 50.0,
                                         std::monostate{}}));

  // A span: every interval that overlaps it.
  HistoryQuery span;
  span.pid = 100;
  span.since = 0;
  span.until = 100;
  auto of = query_history(store->db(), span);
  ASSERT_TRUE(of);
  EXPECT_EQ(of->rows.size(), 2u);

  // A clean stop closes what is open at the last read.
  ASSERT_TRUE(store->end_run(60));
  EXPECT_EQ(held_at(*store, 8080, 55), (Held{{200, "other"}}));
  auto open =
      store->db().query("SELECT count(*) FROM holding_history WHERE last_seen IS NULL");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->front().rows[0][0], SqlValue(int64_t{0}));
}

class HistoryFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portrel-history-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/h.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_, path_;
};

TEST_F(HistoryFile, AKilledRecorderLosesOnlyItsLastBatch) {
  {
    auto store = HistoryStore::open(path_);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(store->begin_run(5, "host", "test", 1));
    Snapshot last;
    record(*store, {{10, listening()}, {15, listening()}}, last);
    // Another recorder cannot write the same file meanwhile.
    auto second = HistoryStore::open(path_);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("another portrel record"), std::string::npos);
    // The fork is applied but never committed: the store goes as a killed process
    // would.
    Snapshot f = forked();
    ASSERT_TRUE(store->apply(diff_relation(last, f), last, f, 20));
  }
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto store = HistoryStore::open(path_);
  ASSERT_TRUE(store) << store.error().message;
  auto closed = store->begin_run(30, "host", "test", 2);
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_EQ(*closed, 3u);  // the socket, the holding and the process
  EXPECT_EQ(held_at(*store, 8080, 12), (Held{{100, "server"}}));
  EXPECT_EQ(held_at(*store, 8080, 15), (Held{{100, "server"}}));
  EXPECT_EQ(held_at(*store, 8080, 20), Held{});  // the lost batch
  auto rows = store->db().query(
      "SELECT DISTINCT closed_by, last_seen FROM socket_history UNION ALL "
      "SELECT DISTINCT closed_by, last_seen FROM holding_history UNION ALL "
      "SELECT DISTINCT closed_by, last_seen FROM process_history");
  ASSERT_TRUE(rows);
  for (const auto& row : rows->front().rows) {
    EXPECT_EQ(row, (std::vector<SqlValue>{std::string("crash"), 15.0}));
  }
  auto runs =
      store->db().query("SELECT run, stopped, clean FROM recorder_runs ORDER BY run");
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->front().rows.size(), 2u);
  EXPECT_EQ(runs->front().rows[0], (std::vector<SqlValue>{int64_t{1}, 15.0, false}));
}

TEST_F(HistoryFile, RefusesWhatIsNotAHistoryFile) {
  // A link to a file of the test's own (refused before anything reads it).
  ASSERT_EQ(symlink((dir_ + "/target").c_str(), path_.c_str()), 0);
  auto link = HistoryStore::open(path_);
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().message.find("symbolic link"), std::string::npos);
  struct stat st {};
  EXPECT_NE(stat((dir_ + "/target").c_str(), &st), 0);  // nothing made through it
  std::string other = dir_ + "/other";
  int fd = ::open(other.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "not sqlite at all, but some bytes", 33), 33);
  close(fd);
  auto refused = HistoryStore::open(other);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not a portrel history file"),
            std::string::npos);
  EXPECT_FALSE(HistoryStore::open(dir_));
  // A file refused is left exactly as it was: its mode too.
  ASSERT_EQ(stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(st.st_size, 33);
  // A SQLite file of someone else's making too.
  std::string sqlite = dir_ + "/other.db";
  {
    auto db = Database::open_writable(sqlite);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t(x)"));
  }
  ASSERT_EQ(chmod(sqlite.c_str(), 0644), 0);
  EXPECT_FALSE(HistoryStore::open(sqlite));
  ASSERT_EQ(stat(sqlite.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

// Audit findings as intervals: one present at the first read and cleared two
// reads later ends at the read before its clearing; one still open when the
// store is dropped is closed as crash at the heartbeat by the next run.
TEST_F(HistoryFile, FindingsAreIntervalsClosedLikeTheRest) {
  Socket exposed = sock(1, Proto::tcp, "0.0.0.0", 8080);
  Socket other = sock(2, Proto::tcp, "0.0.0.0", 9090);
  auto finding = [](const Socket* s, pid_t pid) {
    Finding f;
    f.kind = FindingKind::exposed;
    f.sockets = {s};
    f.pids = {pid};
    f.summary = "tcp 0.0.0.0:" + std::to_string(s->local_port) + ": listening on every address";
    return f;
  };
  {
    auto store = HistoryStore::open(path_);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(store->begin_run(5, "host", "test", 1));
    FindingWatch watch;
    Snapshot last;
    record(*store, {{10, listening()}}, last);
    ASSERT_TRUE(store->apply_findings(watch.update(std::vector{finding(&exposed, 100)}), 10, true));
    ASSERT_TRUE(store->commit());
    record(*store, {{15, listening()}}, last);
    // At 20 the first clears and another appears (findings before apply, as
    // record does: the cleared one ends at 15).
    ASSERT_TRUE(store->apply_findings(watch.update(std::vector{finding(&other, 200)}), 20, false));
    record(*store, {{20, listening()}}, last);
  }
  auto store = HistoryStore::open(path_);
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE(store->begin_run(30, "host", "test", 2));
  auto rows = store->db().query(
      "SELECT kind, port, pids, opened_by, closed_by, first_seen, last_seen FROM "
      "finding_history ORDER BY first_seen");
  ASSERT_TRUE(rows) << rows.error().message;
  const auto& r = rows->front().rows;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::vector<SqlValue>{std::string("exposed"), int64_t{8080},
                                         std::string("100"), std::string("present"),
                                         std::string("cleared"), 10.0, 15.0}));
  EXPECT_EQ(r[1], (std::vector<SqlValue>{std::string("exposed"), int64_t{9090},
                                         std::string("200"), std::string("appeared"),
                                         std::string("crash"), 20.0, 20.0}));
}

TEST(HistoryStore, RetentionDeletesOnlyEndedIntervals) {
  auto store = HistoryStore::open_memory();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->begin_run(5, "host", "test", 1));
  Snapshot last;
  record(*store, {{10, listening()}, {20, forked()}, {30, listening()}}, last);
  // 101's intervals ended at 20; a day and a bit later, with one day kept:
  auto deleted = store->prune(20 + 86400 + 1, Retention{1, uint64_t{1} << 30});
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, 2u);  // 101's holding and process
  EXPECT_EQ(held_at(*store, 8080, 30), (Held{{100, "server"}}));
  // Over the size limit, the ended rows go first; open ones stay.
  record(*store, {{40, forked()}, {50, listening()}}, last);
  auto shrunk = store->prune(60, Retention{365, 1});
  ASSERT_TRUE(shrunk);
  EXPECT_GE(*shrunk, 2u);
  EXPECT_EQ(held_at(*store, 8080, 50), (Held{{100, "server"}}));
}

}  // namespace
}  // namespace portrel
