// Small root-only files that keep what was learned about the running kernel.
#include "util/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/unique_fd.h"

namespace portrel {
namespace {

// Root's, and writable by no one else.
bool trusted(const struct stat& st) { return st.st_uid == 0 && (st.st_mode & 022) == 0; }

std::string directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

std::string state_file(std::string_view name) {
  const char* env = std::getenv(kStateEnv);
  std::string dir = env != nullptr && *env != '\0' ? env : "/run/portrel";
  if (dir == "off") return "";
  return dir + "/" + std::string(name);
}

std::optional<std::string> read_trusted_file(const std::string& path) {
  std::string dir = directory_of(path);
  struct stat st;
  if (dir.empty() || stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !trusted(st)) {
    return std::nullopt;
  }
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0 || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !trusted(st) ||
      st.st_size > 64 * 1024) {
    return std::nullopt;
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  if (read(fd.get(), text.data(), text.size()) != st.st_size) return std::nullopt;
  return text;
}

std::string write_private_file(const std::string& path, std::string_view text) {
  std::string dir = directory_of(path);
  if (dir.empty()) return "no directory in " + path;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return "cannot create " + dir + ": " + strerror(errno);
  }
  std::string tmp = path + ".new-" + std::to_string(getpid());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return "cannot write " + tmp + ": " + strerror(errno);
  bool ok = write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fd.reset(-1);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return "cannot write " + path + ": " + strerror(err);
  }
  return "";
}

Result<void> write_file_atomically(const std::string& path, std::string_view text,
                                   mode_t mode) {
  std::string tmp = path + ".new-" + std::to_string(getpid());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return std::unexpected(system_error("create " + tmp, errno));
  bool ok = write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            fchmod(fd.get(), mode) == 0 && fsync(fd.get()) == 0;
  int err = errno;
  fd.reset(-1);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    unlink(tmp.c_str());
    return std::unexpected(system_error("write " + path, err));
  }
  return {};
}

std::string boot_id() {
  UniqueFd fd(open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return "";
  char buf[64];
  ssize_t n = read(fd.get(), buf, sizeof buf);
  std::string id = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

std::string kernel_build() {
  struct utsname u;
  if (uname(&u) != 0) return "";
  return std::string(u.release) + " " + u.version;
}

}  // namespace portrel
