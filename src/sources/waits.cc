// Reading wait evidence: /proc/PID/task/TID/syscall shows the syscall a blocked
// thread sleeps in with its arguments, so accept(fd) names the listener; the
// epoll fds' fdinfo lists their watches. Only the pids asked for are read.
#include "sources/waits.h"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "sources/epoll.h"
#include "sources/procfs.h"

namespace portrel {
namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string link_of(const std::string& path) {
  char buf[256];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, size_t(n));
}

}  // namespace

std::optional<std::pair<long, uint64_t>> parse_syscall_text(std::string_view text) {
  long nr = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), nr);
  if (ec != std::errc() || nr < 0 || p == text.data() + text.size() || *p != ' ') {
    return std::nullopt;
  }
  std::string_view rest = text.substr(size_t(p - text.data()) + 1);
  if (!rest.starts_with("0x")) return std::nullopt;
  rest.remove_prefix(2);
  uint64_t arg = 0;
  auto [q, ec2] = std::from_chars(rest.data(), rest.data() + rest.size(), arg, 16);
  if (ec2 != std::errc() || q == rest.data()) return std::nullopt;
  return std::pair{nr, arg};
}

AuditEvidence read_waits(std::span<const pid_t> pids, const std::string& proc_root) {
  AuditEvidence ev;
  ev.waits_read = true;
  for (pid_t pid : pids) {
    std::string base = proc_root + "/" + std::to_string(pid);
    if (DIR* tasks = opendir((base + "/task").c_str())) {
      while (dirent* e = readdir(tasks)) {
        auto tid = procfs::parse_decimal(e->d_name);
        if (!tid) continue;
        auto text = slurp(base + "/task/" + e->d_name + "/syscall");
        auto call = text ? parse_syscall_text(*text) : std::nullopt;
        if (!call) continue;
#ifdef SYS_accept
        bool accepting = call->first == SYS_accept || call->first == SYS_accept4;
#else
        bool accepting = call->first == SYS_accept4;
#endif
        if (!accepting || call->second > INT32_MAX) continue;
        int fd = int(call->second);
        auto inode = procfs::parse_socket_link(link_of(base + "/fd/" + std::to_string(fd)));
        if (inode) ev.accept_waits.push_back(AcceptWait{pid, pid_t(*tid), fd, *inode});
      }
      closedir(tasks);
    }
    DIR* fds = opendir((base + "/fd").c_str());
    if (fds == nullptr) continue;
    while (dirent* e = readdir(fds)) {
      auto epfd = procfs::parse_decimal(e->d_name);
      if (!epfd || !is_epoll_link(link_of(base + "/fd/" + e->d_name))) continue;
      auto text = slurp(base + "/fdinfo/" + e->d_name);
      auto targets = text ? parse_epoll_fdinfo(*text) : Result<std::vector<EpollTarget>>();
      if (!text || !targets) continue;
      for (const EpollTarget& t : *targets) {
        ev.epoll.push_back(EpollWatch{pid, int(*epfd), t.fd, t.inode, t.events});
      }
    }
    closedir(fds);
  }
  return ev;
}

}  // namespace portrel
