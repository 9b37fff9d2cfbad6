// The /proc walk behind ProcfsSource. Nearly all its time is spent in the kernel,
// so speed comes from making few system calls (raw getdents64, openat and
// readlinkat on dirfds, fdinfo read only for socket fds) and from walking
// processes on several threads. Correctness under churn comes from reading each
// process through one pinned /proc/PID fd: ESRCH there means it is gone.
#include "sources/procfs_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sources/epoll.h"
#include "sources/netns.h"
#include "sources/procfs.h"
#include "util/text.h"
#include "util/unique_fd.h"
#include "util/user_names.h"

namespace portrel {
namespace {

constexpr size_t kDentsSize = 32 * 1024;
constexpr size_t kFirstBufSize = 4096;

bool gone(int err) { return err == ESRCH || err == ENOENT; }

// Calls FN(name) for each entry of the open directory DIR but "." and "..".
// Returns 0 or the errno of getdents64.
template <typename Fn>
int for_each_entry(int dir, char* dents, Fn&& fn) {
  for (;;) {
    long n = syscall(SYS_getdents64, dir, dents, kDentsSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return 0;
    for (long at = 0; at < n;) {
      auto* entry = reinterpret_cast<struct dirent64*>(dents + at);
      at += entry->d_reclen;
      const char* name = entry->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      fn(name);
    }
  }
}

std::optional<int> parse_fd_name(const char* name) {
  int value = 0;
  const char* end = name + strlen(name);
  auto [ptr, ec] = std::from_chars(name, end, value);
  if (ec != std::errc() || ptr != end || value < 0) return std::nullopt;
  return value;
}

}  // namespace

class ProcfsSource::Reader {
 public:
  Reader()
      : buf_(new char[kFirstBufSize]),
        buf_capacity_(kFirstBufSize),
        dents_(new char[kDentsSize]) {}

  Outcome read_process(int pid_dir, pid_t pid, ProcessScan& into);
  char* dents() { return dents_.get(); }

 private:
  // Reads NAME under DIR into buf_; returns 0 or an errno.
  int read_file(int dir, const char* name);
  std::string_view text() const { return {buf_.get(), buf_size_}; }
  // readlinkat into link_; returns 0 or an errno.
  int read_link(int dir, const char* name);
  std::string_view link() const { return {link_.data(), link_size_}; }
  // Fills holdings_ with the socket fds of the process; returns 0, or the errno
  // that stopped the walk (EACCES: unreadable; ESRCH/ENOENT: gone).
  int read_fds(int pid_dir, pid_t pid);
  // Adds the socket fds of the threads of PID that have an fd table of their
  // own (unshare(CLONE_FILES), clone without CLONE_FILES): /proc/PID/fd shows
  // only the leader's. Their holdings are the process's (pid PID).
  void read_thread_fds(int pid_dir, pid_t pid);

  std::unique_ptr<char[]> buf_;
  size_t buf_capacity_ = 0;
  size_t buf_size_ = 0;
  std::array<char, 4096> link_{};
  size_t link_size_ = 0;
  std::unique_ptr<char[]> dents_;
  std::vector<Holding> holdings_;
  std::vector<EpollWatch> epoll_;
  UserNames user_name;
};

int ProcfsSource::Reader::read_file(int dir, const char* name) {
  buf_size_ = 0;
  UniqueFd fd(openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return errno;
  // A short read is the end: procfs fills the whole buffer while it has data.
  for (;;) {
    if (buf_size_ == buf_capacity_) {
      auto bigger = std::make_unique<char[]>(buf_capacity_ * 2);
      memcpy(bigger.get(), buf_.get(), buf_size_);
      buf_ = std::move(bigger);
      buf_capacity_ *= 2;
    }
    ssize_t n = read(fd.get(), buf_.get() + buf_size_, buf_capacity_ - buf_size_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    buf_size_ += static_cast<size_t>(n);
    if (n == 0 || buf_size_ < buf_capacity_) return 0;
  }
}

int ProcfsSource::Reader::read_link(int dir, const char* name) {
  link_size_ = 0;
  ssize_t n = readlinkat(dir, name, link_.data(), link_.size());
  if (n < 0) return errno;
  link_size_ = static_cast<size_t>(n);
  return 0;
}

int ProcfsSource::Reader::read_fds(int pid_dir, pid_t pid) {
  holdings_.clear();
  epoll_.clear();
  UniqueFd fd_dir(openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd_dir.get() < 0) return errno;
  UniqueFd info_dir(-1);
  int result = 0;
  bool closed_during_walk = false;
  int walk_err = for_each_entry(fd_dir.get(), dents_.get(), [&](const char* name) {
    if (result != 0) return;
    auto fd = parse_fd_name(name);
    if (!fd) return;
    if (int err = read_link(fd_dir.get(), name); err != 0) {
      if (err == ENOENT) {
        closed_during_walk = true;
      } else {
        result = err;
      }
      return;
    }
    auto inode = procfs::parse_socket_link(link());
    bool epoll = !inode && is_epoll_link(link());
    if (!inode && !epoll) return;
    if (info_dir.get() < 0) {
      info_dir.reset(openat(pid_dir, "fdinfo", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (info_dir.get() < 0) {
        result = errno;
        return;
      }
    }
    if (int err = read_file(info_dir.get(), name); err != 0) {
      if (err == ENOENT) {
        closed_during_walk = true;
      } else {
        result = err;
      }
      return;
    }
    if (epoll) {
      // A malformed list is skipped: it only hides this instance's watches.
      if (auto targets = parse_epoll_fdinfo(text())) {
        for (const EpollTarget& t : *targets) {
          epoll_.push_back(EpollWatch{pid, *fd, t.fd, t.inode, t.events});
        }
      }
      return;
    }
    auto info = procfs::parse_fdinfo(text());
    // A different inode means the fd was closed and reused after the readlink.
    if (!info || (info->ino && *info->ino != *inode)) {
      closed_during_walk = true;
      return;
    }
    holdings_.push_back(Holding{pid, *fd, *inode, info->cloexec});
  });
  if (result == 0) result = walk_err;
  if (result == 0 && closed_during_walk) {
    // Fds closing under the walk is normal, but also how an exiting process
    // looks: tell the two apart by whether it is now dead.
    if (int err = read_file(pid_dir, "stat"); err != 0) return err;
    auto stat = procfs::parse_stat(text());
    if (!stat || stat->state == 'Z' || stat->state == 'X') return ESRCH;
  }
  return result;
}

void ProcfsSource::Reader::read_thread_fds(int pid_dir, pid_t pid) {
  UniqueFd task_dir(openat(pid_dir, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (task_dir.get() < 0) return;
  std::vector<pid_t> tids;
  for_each_entry(task_dir.get(), dents_.get(), [&](const char* name) {
    if (auto tid = procfs::parse_decimal(name); tid && *tid != static_cast<uint64_t>(pid) &&
                                                *tid <= INT32_MAX) {
      tids.push_back(static_cast<pid_t>(*tid));
    }
  });
  std::vector<Holding> found = std::move(holdings_);
  std::vector<EpollWatch> watches = std::move(epoll_);
  for (pid_t tid : tids) {
    // 0: the thread shares the leader's table (the usual case, one syscall).
    if (syscall(SYS_kcmp, pid, tid, KCMP_FILES, 0, 0) == 0) continue;
    UniqueFd thread_dir(openat(task_dir.get(), std::to_string(tid).c_str(),
                               O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (thread_dir.get() < 0 || read_fds(thread_dir.get(), pid) != 0) continue;
    found.insert(found.end(), holdings_.begin(), holdings_.end());
    watches.insert(watches.end(), epoll_.begin(), epoll_.end());
  }
  // Threads sharing one table apart from the leader's give it once each.
  std::ranges::sort(found);
  found.erase(std::ranges::unique(found).begin(), found.end());
  holdings_ = std::move(found);
  epoll_ = std::move(watches);
}

ProcfsSource::Outcome ProcfsSource::Reader::read_process(int pid_dir, pid_t pid,
                                                         ProcessScan& into) {
  auto vanished = [&into] {
    ++into.vanished;
    return Outcome::vanished;
  };
  auto unreadable = [&](const char* what, std::string_view why) {
    into.warnings.push_back("pid " + std::to_string(pid) + ": " + what + ": " +
                            std::string(why));
    return Outcome::unreadable;
  };

  Process process;
  if (int err = read_file(pid_dir, "stat"); err != 0) {
    return gone(err) ? vanished() : unreadable("stat", strerror(err));
  }
  auto stat = procfs::parse_stat(text());
  if (!stat) return unreadable("stat", stat.error().message);
  process.pid = pid;
  process.ppid = stat->ppid;
  process.comm = std::move(stat->comm);
  process.start_time = stat->start_time;

  if (int err = read_file(pid_dir, "status"); err != 0) {
    return gone(err) ? vanished() : unreadable("status", strerror(err));
  }
  auto status = procfs::parse_status(text());
  if (!status) return unreadable("status", status.error().message);
  process.uid = status->uid;
  process.user = user_name(status->uid);

  // Kernel threads and zombies have no exe (ENOENT); pid 1 may refuse (EACCES).
  if (int err = read_link(pid_dir, "exe"); err == 0) {
    process.exe.assign(link());
  } else if (err == ESRCH) {
    return vanished();
  }
  if (int err = read_file(pid_dir, "cmdline"); err == 0) {
    process.cmdline = procfs::join_cmdline(text());
  } else if (err == ESRCH) {
    return vanished();
  }
  if (int err = read_file(pid_dir, "cgroup"); err == 0) {
    process.cgroup = procfs::parse_cgroup(text()).value_or("");
  } else if (err == ESRCH) {
    return vanished();
  }
  // readlinkat measured twice as fast as fstatat's st_ino for these links.
  if (int err = read_link(pid_dir, "ns/net"); err == 0) {
    process.netns = procfs::parse_ns_link(link(), "net").value_or(0);
  } else if (err == ESRCH) {
    return vanished();
  }
  if (int err = read_link(pid_dir, "ns/pid"); err == 0) {
    process.pidns = procfs::parse_ns_link(link(), "pid").value_or(0);
  } else if (err == ESRCH) {
    return vanished();
  }

  int fd_err = read_fds(pid_dir, pid);
  if (gone(fd_err)) return vanished();
  if (fd_err == 0 && stat->threads > 1) read_thread_fds(pid_dir, pid);
  if (fd_err != 0) {
    ++into.fd_unreadable;
    if (fd_err == EMFILE || fd_err == ENFILE) ++into.fd_exhausted;
    holdings_.clear();
    epoll_.clear();
  }
  into.processes.push_back(std::move(process));
  into.holdings.insert(into.holdings.end(), holdings_.begin(), holdings_.end());
  into.epoll.insert(into.epoll.end(), epoll_.begin(), epoll_.end());
  return Outcome::read;
}

ProcfsSource::ProcfsSource(std::string proc_root, unsigned threads)
    : root_(std::move(proc_root)), threads_(threads), reader_(new Reader()) {}

ProcfsSource::~ProcfsSource() = default;

ProcfsSource::Outcome ProcfsSource::read_process(int pid_dir, pid_t pid, ProcessScan& into) {
  return reader_->read_process(pid_dir, pid, into);
}

Result<ProcessScan> ProcfsSource::scan() {
  UniqueFd root(open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return std::unexpected(system_error("open " + root_, errno));

  std::vector<pid_t> pids;
  int err = for_each_entry(root.get(), reader_->dents(), [&](const char* name) {
    if (auto pid = procfs::parse_decimal(name); pid && *pid > 0 && *pid <= INT32_MAX) {
      pids.push_back(static_cast<pid_t>(*pid));
    }
  });
  if (err != 0) return std::unexpected(system_error("read " + root_, err));

  // Below a few hundred processes a thread costs more than it saves.
  constexpr size_t kPidsPerThread = 200, kBatch = 16;
  size_t workers = threads_;
  if (workers == 0) {
    size_t cores = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    workers = std::clamp<size_t>(pids.size() / kPidsPerThread, 1, cores);
  }
  std::vector<ProcessScan> parts(workers);
  std::atomic<size_t> next{0};
  auto walk = [&](Reader& reader, ProcessScan& into) {
    char name[16];
    for (;;) {
      size_t begin = next.fetch_add(kBatch, std::memory_order_relaxed);
      if (begin >= pids.size()) return;
      for (size_t i = begin; i < std::min(begin + kBatch, pids.size()); ++i) {
        *std::to_chars(name, name + sizeof name - 1, pids[i]).ptr = '\0';
        UniqueFd pid_dir(openat(root.get(), name, O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (pid_dir.get() < 0) {
          if (gone(errno)) {
            ++into.vanished;
          } else {
            into.warnings.push_back("pid " + std::string(name) + ": " + strerror(errno));
          }
          continue;
        }
        reader.read_process(pid_dir.get(), pids[i], into);
      }
    }
  };
  {
    std::vector<std::unique_ptr<Reader>> readers;
    std::vector<std::jthread> threads;
    for (size_t t = 1; t < workers; ++t) {
      readers.push_back(std::make_unique<Reader>());
      try {
        threads.emplace_back(walk, std::ref(*readers.back()), std::ref(parts[t]));
      } catch (const std::system_error&) {
        break;  // no more threads: the ones running (and this one) take the rest
      }
    }
    walk(*reader_, parts[0]);
  }

  ProcessScan scan = std::move(parts[0]);
  for (size_t t = 1; t < workers; ++t) {
    ProcessScan& part = parts[t];
    std::move(part.processes.begin(), part.processes.end(), std::back_inserter(scan.processes));
    scan.holdings.insert(scan.holdings.end(), part.holdings.begin(), part.holdings.end());
    scan.epoll.insert(scan.epoll.end(), part.epoll.begin(), part.epoll.end());
    std::move(part.warnings.begin(), part.warnings.end(), std::back_inserter(scan.warnings));
    scan.vanished += part.vanished;
    scan.fd_unreadable += part.fd_unreadable;
    scan.fd_exhausted += part.fd_exhausted;
  }
  std::sort(scan.processes.begin(), scan.processes.end(),
            [](const Process& a, const Process& b) { return a.pid < b.pid; });
  std::sort(scan.holdings.begin(), scan.holdings.end());
  scan.netns = netns_handles(root_, scan.processes, &mounts_);

  if (scan.fd_exhausted > 0) {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    scan.warnings.push_back(
        plural(scan.fd_exhausted, "process's fd table", "processes' fd tables") +
        " not read: portrel ran out of file descriptors (ulimit -n is " +
        std::to_string(limit.rlim_cur) + "; raise it): their sockets show no owner");
  }
  if (size_t denied = scan.fd_unreadable - scan.fd_exhausted; denied > 0) {
    std::string count = plural(denied, "process's fd table", "processes' fd tables");
    scan.warnings.push_back(
        geteuid() == 0
            ? count + " unreadable even as root (protected, or in another user namespace): "
                      "their sockets show no owner"
            : count + " unreadable: run as root");
  }
  return scan;
}

bool fd_table_readable(pid_t pid, const std::string& proc_root) {
  std::string path = proc_root + "/" + std::to_string(pid) + "/fd";
  DIR* fds = opendir(path.c_str());
  if (fds == nullptr) return false;
  bool readable = true;
  while (dirent* fd = readdir(fds)) {
    if (fd->d_name[0] == '.') continue;
    char link[256];
    readable = readlinkat(dirfd(fds), fd->d_name, link, sizeof link) >= 0 || errno == ENOENT;
    break;
  }
  closedir(fds);
  return readable;
}

}  // namespace portrel
