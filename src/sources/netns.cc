// setns() from worker threads. A network namespace is a per-thread attribute, so a
// thread made here can enter one namespace after another; it exits when the work
// is done and never hands its namespace back to the caller.
#include "sources/netns.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace portrel {
namespace {

constexpr long kNsfsMagic = 0x6e736673;  // statfs f_type of a namespace file
constexpr const char* kNamedNetnsDir = "/run/netns";

// A mountinfo field with its octal escapes (\040 for a space) undone.
std::string unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    std::string_view digits = i + 3 < field.size() ? field.substr(i + 1, 3) : "";
    if (field[i] == '\\' && !digits.empty() &&
        digits.find_first_not_of("01234567") == std::string_view::npos) {
      out += static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_getfd(int pidfd, int fd) {
  return static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

}  // namespace

int duplicate_socket(pid_t pid, int fd, uint64_t inode) {
  int pidfd = pidfd_open(pid);
  if (pidfd < 0) return -1;
  int dup = pidfd_getfd(pidfd, fd);
  close(pidfd);
  if (dup < 0) return -1;
  struct stat st {};
  if (fstat(dup, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_ino != inode) {
    close(dup);
    errno = ESTALE;  // the fd now names something else
    return -1;
  }
  return dup;
}

std::vector<std::pair<uint64_t, std::string>> netns_mounts(std::string_view mountinfo) {
  std::vector<std::pair<uint64_t, std::string>> out;
  while (!mountinfo.empty()) {
    size_t nl = mountinfo.find('\n');
    std::string_view line = mountinfo.substr(0, nl);
    mountinfo = nl == std::string_view::npos ? std::string_view() : mountinfo.substr(nl + 1);
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE ...":
    // an nsfs mount of a network namespace has ROOT "net:[INODE]".
    std::vector<std::string_view> fields;
    for (size_t at = 0; at < line.size();) {
      size_t end = line.find(' ', at);
      if (end == std::string_view::npos) end = line.size();
      if (end > at) fields.push_back(line.substr(at, end - at));
      at = end + 1;
    }
    auto dash = std::ranges::find(fields, std::string_view("-"));
    if (fields.size() < 5 || dash == fields.end() || dash + 1 == fields.end() ||
        *(dash + 1) != "nsfs") {
      continue;
    }
    std::string_view root = fields[3];
    if (!root.starts_with("net:[") || !root.ends_with("]")) continue;
    root = root.substr(5, root.size() - 6);
    uint64_t inode = 0;
    auto [end, ec] = std::from_chars(root.data(), root.data() + root.size(), inode);
    if (ec != std::errc() || end != root.data() + root.size() || inode == 0) continue;
    out.emplace_back(inode, unescape(fields[4]));
  }
  return out;
}

Result<uint64_t> current_netns_inode() {
  struct stat st {};
  if (stat("/proc/thread-self/ns/net", &st) != 0) {
    return std::unexpected(system_error("stat /proc/thread-self/ns/net", errno));
  }
  return static_cast<uint64_t>(st.st_ino);
}

Result<uint64_t> enter_netns(const std::string& path, uint64_t expected_inode) {
  // Already in the namespace wanted: nothing to open. An unprivileged user may
  // not open another user's /proc/PID/ns/net even when it is its own netns.
  auto current = current_netns_inode();
  if (expected_inode != 0 && current && *current == expected_inode) return expected_inode;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(system_error("open " + path, errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return std::unexpected(system_error("fstat " + path, err));
  }
  if (expected_inode != 0 && st.st_ino != expected_inode) {
    close(fd);
    return std::unexpected(Error{path + " now leads to namespace " +
                                 std::to_string(st.st_ino) + ", not " +
                                 std::to_string(expected_inode)});
  }
  // Already there (the common case for the host namespace): no setns, which
  // also lets an unprivileged user dump the namespace it lives in.
  if (current && *current == st.st_ino) {
    close(fd);
    return static_cast<uint64_t>(st.st_ino);
  }
  if (setns(fd, CLONE_NEWNET) != 0) {
    int err = errno;
    close(fd);
    return std::unexpected(system_error("setns " + path, err));
  }
  close(fd);
  return static_cast<uint64_t>(st.st_ino);
}

void for_each_netns(std::span<const NetnsHandle> namespaces, unsigned workers,
                    const std::function<void(size_t, Result<uint64_t>)>& work) {
  if (namespaces.empty()) return;
  size_t count = std::clamp<size_t>(workers, 1, namespaces.size());
  std::atomic<size_t> next{0};
  auto loop = [&] {
    for (size_t i = next++; i < namespaces.size(); i = next++) {
      work(i, enter_netns(namespaces[i].path, namespaces[i].inode));
    }
  };
  std::vector<std::jthread> threads;
  threads.reserve(count);
  for (size_t t = 0; t < count; ++t) {
    try {
      threads.emplace_back(loop);
    } catch (const std::system_error& e) {
      break;  // fewer workers; the ones started take the rest
    }
  }
  if (threads.empty()) {
    for (size_t i = 0; i < namespaces.size(); ++i) {
      work(i, std::unexpected(Error{"cannot start a thread to enter " +
                                    namespaces[i].path}));
    }
  }
}

std::vector<NetnsHandle> netns_handles(const std::string& root,
                                       std::span<const Process> processes,
                                       NetnsMounts* mounts) {
  std::vector<NetnsHandle> handles;
  std::unordered_map<uint64_t, size_t> index;
  for (const Process& p : processes) {
    if (p.netns == 0 || index.contains(p.netns)) continue;
    index.emplace(p.netns, handles.size());
    handles.push_back(
        NetnsHandle{p.netns, root + "/" + std::to_string(p.pid) + "/ns/net", ""});
  }
  DIR* dir = opendir(kNamedNetnsDir);
  while (dir != nullptr) {
    dirent* entry = readdir(dir);
    if (entry == nullptr) break;
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string path = std::string(kNamedNetnsDir) + "/" + name;
    struct stat st{};
    struct statfs fs{};
    if (stat(path.c_str(), &st) != 0 || statfs(path.c_str(), &fs) != 0 ||
        fs.f_type != kNsfsMagic) {
      continue;
    }
    if (auto it = index.find(st.st_ino); it != index.end()) {
      handles[it->second].path = std::move(path);
      handles[it->second].name = name;
      continue;
    }
    index.emplace(st.st_ino, handles.size());
    handles.push_back(NetnsHandle{st.st_ino, std::move(path), name});
  }
  if (dir != nullptr) closedir(dir);
  add_netns_mounts(handles, mounts);
  return handles;
}

Result<UniqueFd> netns_of_socket(const Holding& holding) {
  UniqueFd socket(duplicate_socket(holding.pid, holding.fd, holding.inode));
  if (socket.get() < 0) {
    return std::unexpected(system_error(
        "pidfd_getfd of pid " + std::to_string(holding.pid) + "'s fd " +
            std::to_string(holding.fd),
        errno));
  }
  UniqueFd netns(ioctl(socket.get(), SIOCGSKNS));
  if (netns.get() < 0) return std::unexpected(system_error("SIOCGSKNS", errno));
  return netns;
}

std::optional<Proto> ip_socket_proto(pid_t pid, int fd) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  char name[32];
  ssize_t n = getxattr(path.c_str(), "system.sockprotoname", name, sizeof name - 1);
  if (n <= 0) return std::nullopt;
  std::string_view protocol(name, strnlen(name, static_cast<size_t>(n)));
  for (const ProtoInfo& info : protocols()) {
    if (info.kernel_name_v4.empty()) continue;
    if (protocol == info.kernel_name_v4 || protocol == info.kernel_name_v6) return info.proto;
  }
  return std::nullopt;
}

const std::vector<std::pair<uint64_t, std::string>>& NetnsMounts::current() {
  if (reads_ > 0 && file_.get() >= 0) {
    pollfd changed{file_.get(), POLLPRI, 0};
    if (poll(&changed, 1, 0) >= 0 && (changed.revents & (POLLPRI | POLLERR)) == 0) {
      return mounts_;
    }
  }
  if (file_.get() < 0) file_ = UniqueFd(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  std::string text;
  if (file_.get() >= 0 && lseek(file_.get(), 0, SEEK_SET) == 0) {
    char buf[16384];
    for (ssize_t n; (n = read(file_.get(), buf, sizeof buf)) > 0;) {
      text.append(buf, static_cast<size_t>(n));
    }
  }
  mounts_ = netns_mounts(text);
  ++reads_;
  return mounts_;
}

void add_netns_mounts(std::vector<NetnsHandle>& handles, NetnsMounts* mounts) {
  NetnsMounts once;
  for (const auto& [inode, path] : (mounts != nullptr ? *mounts : once).current()) {
    bool known = std::ranges::any_of(handles, [&](const NetnsHandle& h) { return h.inode == inode; });
    if (!known) handles.push_back(NetnsHandle{inode, path, ""});
  }
}

}  // namespace portrel
