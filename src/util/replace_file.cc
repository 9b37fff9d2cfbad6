// A file written beside its path and renamed into place only over what the
// caller expected: lstat before, the same device and inode checked again just
// before the rename, and RENAME_NOREPLACE when nothing was there.
#include "util/replace_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace portrel {
namespace {

std::string describe(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a fifo";
  if (S_ISSOCK(mode)) return "a unix socket";
  return "not a regular file";
}

bool same(const struct stat& st, const PathEntry& entry) {
  return st.st_dev == entry.dev && st.st_ino == entry.ino;
}

// Renames FROM onto TO only if TO does not exist. Where the filesystem lacks
// RENAME_NOREPLACE, link() gives the same guarantee (it fails on EEXIST).
int rename_no_replace(const char* from, const char* to) {
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (link(from, to) != 0) return -1;
  unlink(from);
  return 0;
}

}  // namespace

Result<PathEntry> look_at(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return PathEntry{};
    return std::unexpected(system_error(path, errno));
  }
  PathEntry entry{
      S_ISREG(st.st_mode) ? PathEntry::Kind::regular : PathEntry::Kind::other,
      st.st_dev, st.st_ino, describe(st.st_mode)};
  return entry;
}

Result<UniqueFd> open_same_file(const std::string& path, const PathEntry& entry) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return std::unexpected(system_error(path, errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return std::unexpected(system_error(path, errno));
  if (!S_ISREG(st.st_mode) || !same(st, entry)) {
    return std::unexpected(Error{path + " changed while portrel looked at it"});
  }
  return fd;
}

Result<PendingFile> PendingFile::create_beside(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return std::unexpected(Error{"no file name in '" + path + "'"});
  std::string temp = dir + "." + base + ".XXXXXX";
  UniqueFd fd(mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    return std::unexpected(system_error("cannot create a file beside " + path, errno));
  }
  PendingFile file(temp, std::move(fd));
  // mkostemp asks for 0600 but the umask may take more away; the owner must be
  // able to reopen it by name.
  if (fchmod(file.fd_.get(), 0600) != 0)
    return std::unexpected(system_error(temp, errno));
  return file;
}

Result<void> PendingFile::commit(const std::string& target, const PathEntry& expected) {
  struct stat ours, named;
  if (fstat(fd_.get(), &ours) != 0) return std::unexpected(system_error(path_, errno));
  if (lstat(path_.c_str(), &named) != 0 || named.st_dev != ours.st_dev ||
      named.st_ino != ours.st_ino) {
    return std::unexpected(Error{path_ + " was replaced while it was written"});
  }
  if (fsync(fd_.get()) != 0) return std::unexpected(system_error(path_, errno));
  if (expected.kind == PathEntry::Kind::absent) {
    if (rename_no_replace(path_.c_str(), target.c_str()) != 0) {
      if (errno == EEXIST) {
        return std::unexpected(Error{target +
                                     " appeared while the new file was written; "
                                     "left as it is"});
      }
      return std::unexpected(system_error(target, errno));
    }
  } else {
    struct stat now;
    if (expected.kind != PathEntry::Kind::regular || lstat(target.c_str(), &now) != 0 ||
        !S_ISREG(now.st_mode) || !same(now, expected)) {
      return std::unexpected(Error{target + " changed while the new file was written; "
                                            "left as it is"});
    }
    if (std::rename(path_.c_str(), target.c_str()) != 0) {
      return std::unexpected(system_error(target, errno));
    }
  }
  path_.clear();
  return {};
}

PendingFile::PendingFile(PendingFile&& other) noexcept
    : path_(std::exchange(other.path_, {})), fd_(std::move(other.fd_)) {}

PendingFile::~PendingFile() {
  if (!path_.empty()) unlink(path_.c_str());
}

}  // namespace portrel
