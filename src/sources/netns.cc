// setns() from worker threads. A network namespace is a per-thread attribute, so a
// thread made here can enter one namespace after another; it exits when the work
// is done and never hands its namespace back to the caller.
#include "sources/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace portrel {
namespace {

constexpr long kNsfsMagic = 0x6e736673;  // statfs f_type of a namespace file
constexpr const char* kNamedNetnsDir = "/run/netns";

}  // namespace

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
                                       std::span<const Process> processes) {
  std::vector<NetnsHandle> handles;
  std::unordered_map<uint64_t, size_t> index;
  for (const Process& p : processes) {
    if (p.netns == 0 || index.contains(p.netns)) continue;
    index.emplace(p.netns, handles.size());
    handles.push_back(
        NetnsHandle{p.netns, root + "/" + std::to_string(p.pid) + "/ns/net", ""});
  }
  DIR* dir = opendir(kNamedNetnsDir);
  if (dir == nullptr) return handles;
  while (dirent* entry = readdir(dir)) {
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
  closedir(dir);
  return handles;
}

}  // namespace portrel
