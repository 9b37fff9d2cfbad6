// Writing a file at a path a user named without harming what is there: the new
// file is made beside it (mode 0600, whatever the umask) and renamed into place,
// and only when the path still holds what the caller looked at and accepted. A
// symbolic link at the path is never followed.
#pragma once

#include <sys/types.h>

#include <string>

#include "portrel/error.h"
#include "util/unique_fd.h"

namespace portrel {

/// What is at a path, seen by lstat (a symbolic link is itself, not its target).
struct PathEntry {
  enum class Kind { absent, regular, other };
  Kind kind = Kind::absent;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string what;  ///< "a regular file", "a symbolic link", "a fifo", ...
};

/// Looks at PATH without following a symbolic link there. An error only when
/// PATH cannot be looked at (a missing or unreadable directory on the way).
Result<PathEntry> look_at(const std::string& path);

/// Opens PATH read-only when it still is the regular file ENTRY saw: O_NOFOLLOW,
/// and O_NONBLOCK so that a fifo put there meanwhile cannot make it wait.
Result<UniqueFd> open_same_file(const std::string& path, const PathEntry& entry);

/// A new file in PATH's directory (so that renaming it onto PATH is atomic),
/// created with O_EXCL and mode 0600. Removed by the destructor unless
/// committed. Others may open it by path() to write it (SQLite does).
class PendingFile {
 public:
  static Result<PendingFile> create_beside(const std::string& path);

  const std::string& path() const { return path_; }

  /// Flushes the file and renames it onto TARGET, provided TARGET still is what
  /// EXPECTED saw: absent (then nothing that appeared since is replaced), or the
  /// same regular file. Fails when path() no longer names the file created.
  Result<void> commit(const std::string& target, const PathEntry& expected);

  PendingFile(PendingFile&& other) noexcept;
  PendingFile& operator=(PendingFile&&) = delete;
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile();

 private:
  PendingFile(std::string path, UniqueFd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;  ///< "" once committed
  UniqueFd fd_;
};

}  // namespace portrel
