// `portrel snapshot FILE` as a user runs it, pointed at what it must not harm:
// /dev/null, a fifo, symbolic links (dangling or not), a directory and a file
// of someone else's making are left exactly as they were, with exit 2 and one
// line on stderr; an earlier snapshot is replaced by a rename; the result is
// always mode 0600, whatever the old file's mode and the umask.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "../live/shell.h"
#include "query/database.h"
#include "run.h"

namespace portrel::testing {
namespace {

namespace fs = std::filesystem;

class SnapshotFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string temp = ::testing::TempDir() + "portrel_snapshot_XXXXXX";
    ASSERT_NE(mkdtemp(temp.data()), nullptr);
    dir_ = temp;
    old_umask_ = umask(022);
  }
  void TearDown() override {
    umask(old_umask_);
    fs::remove_all(dir_);
  }

  std::string at(const std::string& name) const { return (dir_ / name).string(); }

  std::set<std::string> entries() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename());
    return out;
  }

  static CliRun snapshot(const std::string& path, bool force = false) {
    std::vector<std::string> args{"snapshot", path, "-t"};
    if (force) args.push_back("--force");
    return run_portrel(args);
  }

  fs::path dir_;
  mode_t old_umask_ = 0;
};

void write(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

// Exit 2, nothing on stdout, and one line on stderr that says what is there.
void expect_refused(const CliRun& run, const std::string& what) {
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(run.err.starts_with("portrel: snapshot: ")) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_TRUE(run.err.ends_with("\n"));
  EXPECT_NE(run.err.find(what), std::string::npos) << run.err;
}

bool is_portrel_snapshot(const std::string& path) {
  CliRun meta = run_portrel({"sql", "--db", path,
                             "SELECT value FROM meta WHERE key = 'portrel_version'",
                             "-f", "csv"});
  return meta.exit_code == 0 && meta.out.starts_with("value\r\n");
}

TEST_F(SnapshotFile, DevNullStaysACharacterDevice) {
  for (bool force : {false, true}) {
    expect_refused(snapshot("/dev/null", force), "is a character device");
    struct stat st = lstat_of("/dev/null");
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
  }
}

TEST_F(SnapshotFile, AFifoIsLeftAloneAndNeverOpened) {
  ASSERT_EQ(mkfifo(at("pipe").c_str(), 0644), 0);
  for (bool force : {false, true}) {
    expect_refused(snapshot(at("pipe"), force), "is a fifo");
    EXPECT_TRUE(S_ISFIFO(lstat_of(at("pipe")).st_mode));
  }
  EXPECT_EQ(entries(), std::set<std::string>{"pipe"});
}

TEST_F(SnapshotFile, ASymbolicLinkIsNeverFollowedNorReplaced) {
  write(at("victim"), "keep\n", 0644);
  ASSERT_EQ(symlink("victim", at("snap.db").c_str()), 0);
  ASSERT_EQ(symlink("absent.db", at("dangling.db").c_str()), 0);
  ASSERT_EQ(snapshot(at("real.db")).exit_code, 0);
  ASSERT_EQ(symlink("real.db", at("to-snapshot.db").c_str()), 0);
  for (bool force : {false, true}) {
    for (const char* link : {"snap.db", "dangling.db", "to-snapshot.db"}) {
      expect_refused(snapshot(at(link), force), "is a symbolic link");
      EXPECT_TRUE(S_ISLNK(lstat_of(at(link)).st_mode)) << link;
    }
  }
  EXPECT_EQ(fs::read_symlink(at("snap.db")).string(), "victim");
  EXPECT_EQ(read_text(at("victim")), "keep\n");
  EXPECT_EQ(lstat_of(at("victim")).st_mode & 07777, 0644u);
  EXPECT_FALSE(fs::exists(at("absent.db")));
  EXPECT_EQ(entries(), (std::set<std::string>{"victim", "snap.db", "dangling.db",
                                              "real.db", "to-snapshot.db"}));
}

TEST_F(SnapshotFile, ADirectoryIsRefusedEvenWithForce) {
  fs::create_directory(at("dir.db"));
  for (bool force : {false, true}) {
    expect_refused(snapshot(at("dir.db"), force), "is a directory");
    EXPECT_TRUE(fs::is_directory(at("dir.db")));
  }
}

TEST_F(SnapshotFile, AFileThatIsNotASnapshotIsReplacedOnlyWithForce) {
  write(at("notes.db"), "my notes\n", 0644);
  // A SQLite file of another program, even one with a table called meta.
  {
    auto db = Database::open_writable(at("other.db"));
    ASSERT_TRUE(db);
    ASSERT_TRUE(
        db->exec("CREATE TABLE meta(key, value); INSERT INTO meta VALUES ('a', 'b')"));
  }
  std::string other = read_text(at("other.db"));
  expect_refused(snapshot(at("notes.db")), "not a portrel snapshot");
  expect_refused(snapshot(at("other.db")), "--force replaces it");
  EXPECT_EQ(read_text(at("notes.db")), "my notes\n");
  EXPECT_EQ(read_text(at("other.db")), other);

  CliRun forced = snapshot(at("notes.db"), true);
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(is_portrel_snapshot(at("notes.db")));
  EXPECT_EQ(lstat_of(at("notes.db")).st_mode & 07777, 0600u);
  EXPECT_EQ(entries(), (std::set<std::string>{"notes.db", "other.db"}));
}

TEST_F(SnapshotFile, AnEarlierSnapshotIsReplacedByARenameAndEndsPrivate) {
  CliRun first = snapshot(at("snap.db"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(lstat_of(at("snap.db")).st_mode & 07777, 0600u) << "new file, umask 022";
  ASSERT_EQ(chmod(at("snap.db").c_str(), 0644), 0);
  ino_t before = lstat_of(at("snap.db")).st_ino;

  CliRun second = snapshot(at("snap.db"));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  struct stat st = lstat_of(at("snap.db"));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_NE(st.st_ino, before) << "written beside it and renamed into place";
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "the old file was 0644";
  EXPECT_TRUE(is_portrel_snapshot(at("snap.db")));
  EXPECT_EQ(entries(), std::set<std::string>{"snap.db"}) << "no temporary file left";
}

TEST_F(SnapshotFile, ARelativePathIsWrittenInTheWorkingDirectory) {
  std::string cwd = fs::current_path();
  fs::current_path(dir_);
  CliRun run = snapshot("here.db");
  fs::current_path(cwd);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(entries(), std::set<std::string>{"here.db"});
  EXPECT_EQ(lstat_of(at("here.db")).st_mode & 07777, 0600u);
}

}  // namespace
}  // namespace portrel::testing
