// PendingFile and look_at on a scratch directory: the new file is private even
// under umask 0, vanishes unless committed, and a commit leaves alone a path
// that changed after it was looked at (a file appeared, or another replaced it).
#include "util/replace_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace portrel {
namespace {

namespace fs = std::filesystem;

class ReplaceFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string temp = ::testing::TempDir() + "portrel_replace_XXXXXX";
    ASSERT_NE(mkdtemp(temp.data()), nullptr);
    dir_ = temp;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string at(const std::string& name) const { return (dir_ / name).string(); }
  size_t count() const {
    return std::distance(fs::directory_iterator(dir_), fs::directory_iterator());
  }
  fs::path dir_;
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(ReplaceFile, LooksAtALinkNotItsTarget) {
  std::ofstream(at("file")) << "x";
  ASSERT_EQ(symlink("file", at("link").c_str()), 0);
  auto link = look_at(at("link"));
  ASSERT_TRUE(link);
  EXPECT_EQ(link->kind, PathEntry::Kind::other);
  EXPECT_EQ(link->what, "a symbolic link");
  EXPECT_EQ(look_at(at("file"))->kind, PathEntry::Kind::regular);
  EXPECT_EQ(look_at(at("none"))->kind, PathEntry::Kind::absent);
  EXPECT_FALSE(look_at(at("file") + "/below"));  // ENOTDIR
}

TEST_F(ReplaceFile, ThePendingFileIsPrivateAndGoneUnlessCommitted) {
  mode_t old = umask(0);
  {
    auto file = PendingFile::create_beside(at("out"));
    ASSERT_TRUE(file) << file.error().message;
    struct stat st;
    ASSERT_EQ(lstat(file->path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(file->path().find(dir_.string() + "/.out."), 0u) << file->path();
  }
  umask(old);
  EXPECT_EQ(count(), 0u);
}

TEST_F(ReplaceFile, CommitRenamesOverTheFileItSaw) {
  std::ofstream(at("out")) << "old";
  auto seen = look_at(at("out"));
  auto file = PendingFile::create_beside(at("out"));
  ASSERT_TRUE(seen && file);
  std::ofstream(file->path()) << "new";
  ASSERT_TRUE(file->commit(at("out"), *seen));
  EXPECT_EQ(read(at("out")), "new");
  EXPECT_EQ(count(), 1u);
}

TEST_F(ReplaceFile, CommitLeavesAFileThatAppearedMeanwhile) {
  auto seen = look_at(at("out"));
  auto file = PendingFile::create_beside(at("out"));
  ASSERT_TRUE(seen && file);
  std::ofstream(at("out")) << "theirs";
  auto done = file->commit(at("out"), *seen);
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message.find("appeared"), std::string::npos);
  EXPECT_EQ(read(at("out")), "theirs");
}

TEST_F(ReplaceFile, CommitLeavesAFileReplacedMeanwhile) {
  std::ofstream(at("out")) << "old";
  auto seen = look_at(at("out"));
  auto file = PendingFile::create_beside(at("out"));
  ASSERT_TRUE(seen && file);
  std::ofstream(at("other")) << "theirs";
  ASSERT_EQ(rename(at("other").c_str(), at("out").c_str()), 0);
  EXPECT_FALSE(file->commit(at("out"), *seen));
  EXPECT_EQ(read(at("out")), "theirs");
  ASSERT_EQ(unlink(at("out").c_str()), 0);
  ASSERT_EQ(symlink("elsewhere", at("out").c_str()), 0);
  EXPECT_FALSE(file->commit(at("out"), *seen));
  EXPECT_TRUE(fs::is_symlink(at("out")));
}

TEST_F(ReplaceFile, OpenSameFileRefusesAnotherFile) {
  std::ofstream(at("out")) << "old";
  auto seen = look_at(at("out"));
  ASSERT_TRUE(seen);
  EXPECT_TRUE(open_same_file(at("out"), *seen));
  ASSERT_EQ(unlink(at("out").c_str()), 0);
  ASSERT_EQ(mkfifo(at("out").c_str(), 0600), 0);
  EXPECT_FALSE(open_same_file(at("out"), *seen));  // and does not wait for a writer
}

}  // namespace
}  // namespace portrel
