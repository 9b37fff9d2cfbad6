// The bpf ProcessSource. Three iterators give the relation's raw rows; this file
// decodes them and adds what only /proc has (exe, cmdline, cgroup), for the
// holders of inet sockets only. A second pass of the task iterator after those
// reads tells a holder from a new process that reused its pid meanwhile.
#include "sources/bpf/bpf_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "sources/bpf/portrel_bpf.h"
#include "sources/netns.h"
#include "sources/procfs.h"
#include "util/unique_fd.h"
#include "util/user_names.h"

namespace portrel {
namespace {

constexpr int kCloexecFlag = PORTREL_CLOEXEC;

template <typename Rec>
Result<std::vector<Rec>> records(std::string_view bytes, const char* what) {
  if (bytes.size() % sizeof(Rec) != 0) {
    return std::unexpected(Error{std::string("bpf ") + what + " iterator: " +
                                 std::to_string(bytes.size()) +
                                 " bytes is not a whole number of records"});
  }
  std::vector<Rec> out(bytes.size() / sizeof(Rec));
  if (!out.empty()) memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

// Reads a whole small file under DIR; returns 0 or an errno. A /proc file
// comes whole in one read when it fits (seq_file and cmdline fill the buffer
// up to EOF), so a short read ends it without a second read() to see EOF.
int read_file(int dir, const char* name, std::string& out) {
  out.clear();
  UniqueFd fd(openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return errno;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    out.append(buf, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < sizeof buf) return 0;
  }
}

// The exe link of P, by path under ROOT; left empty when unreadable.
void read_exe(int root, Process& p) {
  std::string path = std::to_string(p.pid) + "/exe";
  char link[4096];
  if (ssize_t n = readlinkat(root, path.c_str(), link, sizeof link); n >= 0) {
    p.exe.assign(link, static_cast<size_t>(n));
  }
}

// Adds exe (WITH_EXE), cmdline and (with Details::all) cgroup of a holder to P,
// by path under ROOT. Whether they are still that process's is settled
// afterwards (scan() reads the tasks again), so a read that fails because the
// process exited only leaves a field empty here.
void read_holder(int root, Process& p, CaptureOptions::Details details, bool with_exe,
                 std::string& buf) {
  if (with_exe) read_exe(root, p);
  std::string path = std::to_string(p.pid) + "/";
  size_t base = path.size();
  path += "cmdline";
  if (read_file(root, path.c_str(), buf) == 0) p.cmdline = procfs::join_cmdline(buf);
  if (details != CaptureOptions::Details::all) return;
  path.replace(base, std::string::npos, "cgroup");
  if (read_file(root, path.c_str(), buf) == 0) {
    p.cgroup = procfs::parse_cgroup(buf).value_or("");
  }
}

// Reads holders' /proc files on a helper thread while the fd iterator still
// runs: a holder is queued as soon as its first socket record arrives, and the
// calling thread joins in once the iterator is done (finish()).
class HolderReads {
 public:
  HolderReads(int root, std::vector<Process>& processes, CaptureOptions::Details details)
      : root_(root), processes_(processes), details_(details) {
    try {
      helper_ = std::jthread([this] { work(); });
    } catch (const std::system_error&) {
      // No thread: finish() reads them all.
    }
  }
  HolderReads(const HolderReads&) = delete;
  HolderReads& operator=(const HolderReads&) = delete;
  ~HolderReads() { finish(); }

  void add(size_t index, bool read_exe) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({index, read_exe});
    }
    ready_.notify_one();
  }
  void finish() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    ready_.notify_all();
    work();
    if (helper_.joinable()) helper_.join();
  }

 private:
  void work() {
    std::string buf;
    std::vector<std::pair<size_t, bool>> batch;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return done_ || next_ < queue_.size(); });
        if (next_ == queue_.size()) return;  // done, and nothing left
        size_t end = std::min(queue_.size(), next_ + 32);
        batch.assign(queue_.begin() + static_cast<ptrdiff_t>(next_),
                     queue_.begin() + static_cast<ptrdiff_t>(end));
        next_ = end;
      }
      for (auto [i, read_exe] : batch) read_holder(root_, processes_[i], details_, read_exe, buf);
    }
  }

  int root_;
  std::vector<Process>& processes_;
  CaptureOptions::Details details_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<std::pair<size_t, bool>> queue_;  ///< (process index, read its exe)
  size_t next_ = 0;
  bool done_ = false;
  std::jthread helper_;
};

}  // namespace

Result<std::vector<BpfTask>> decode_tasks(std::string_view bytes) {
  auto recs = records<portrel_task_rec>(bytes, "task");
  if (!recs) return std::unexpected(recs.error());
  std::vector<BpfTask> out;
  out.reserve(recs->size());
  for (const portrel_task_rec& r : *recs) {
    out.push_back(BpfTask{static_cast<pid_t>(r.tgid), static_cast<pid_t>(r.ppid),
                          static_cast<uid_t>(r.uid), r.start_ns, r.netns, r.pidns,
                          r.exe_id, std::string(r.comm, strnlen(r.comm, sizeof r.comm))});
  }
  return out;
}

Result<std::vector<BpfSocket>> decode_sockets(std::string_view bytes) {
  auto recs = records<portrel_sock_rec>(bytes, "socket");
  if (!recs) return std::unexpected(recs.error());
  std::vector<BpfSocket> out;
  out.reserve(recs->size());
  for (const portrel_sock_rec& r : *recs) {
    BpfSocket s;
    s.inode = r.inode;
    s.netns = r.netns;
    s.pid = static_cast<pid_t>(r.tgid);
    s.fd = r.fd;
    s.port = r.port;
    s.family = r.family;
    s.cloexec = (r.flags & kCloexecFlag) != 0;
    s.options = ExactOptions{r.inode, r.reuse != 0, (r.flags & PORTREL_REUSEPORT) != 0,
                             (r.flags & PORTREL_V6ONLY) != 0};
    out.push_back(s);
  }
  return out;
}

Result<std::unique_ptr<BpfSource>> BpfSource::open(BpfSourceOptions options) {
  auto iterators = load_bpf_iterators(options.filter);
  if (!iterators) return std::unexpected(iterators.error());
  return std::make_unique<BpfSource>(std::move(*iterators), std::move(options));
}

BpfSource::BpfSource(std::unique_ptr<BpfIterators> iterators, BpfSourceOptions options)
    : iterators_(std::move(iterators)), options_(std::move(options)) {}

Result<ProcessScan> BpfSource::scan() {
  auto task_bytes = iterators_->tasks();
  if (!task_bytes) return std::unexpected(task_bytes.error());
  auto tasks = decode_tasks(*task_bytes);
  if (!tasks) return std::unexpected(tasks.error());

  // The iterator reports pids of the initial pid namespace: they must be ours.
  pid_t self = getpid();
  if (std::ranges::none_of(*tasks, [self](const BpfTask& t) { return t.pid == self; })) {
    return std::unexpected(
        Error{"the bpf iterators' pids are not this /proc's (another pid namespace)"});
  }

  ProcessScan scan;
  const uint64_t ns_per_tick = 1'000'000'000 / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  UniqueFd root(::open(options_.proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    return std::unexpected(system_error("open " + options_.proc_root, errno));
  }
  UserNames users;
  std::vector<Process> processes;
  processes.reserve(tasks->size());
  std::unordered_map<pid_t, size_t> index_of;
  index_of.reserve(tasks->size());
  for (BpfTask& t : *tasks) {
    Process p;
    p.pid = t.pid;
    p.ppid = t.ppid;
    p.uid = t.uid;
    p.user = users(t.uid);
    p.comm = std::move(t.comm);
    p.netns = t.netns;
    p.pidns = t.pidns;
    p.start_time = t.start_ns / ns_per_tick;
    index_of.emplace(p.pid, processes.size());
    processes.push_back(std::move(p));
  }

  // Holders' /proc files are read while the fd iterator runs (system calls on
  // the other core), each holder once. Forked workers share their parent's exe
  // file: its link is read for the first holder of each, and copied.
  std::vector<size_t> to_read;
  std::vector<bool> queued(processes.size(), false);
  std::unordered_map<uint64_t, size_t> exe_reader;  // exe_id -> holder that reads it
  std::vector<std::pair<size_t, size_t>> exe_copies;  // (holder, holder that read it)
  std::optional<HolderReads> reads;
  if (options_.process_details != CaptureOptions::Details::none) {
    reads.emplace(root.get(), processes, options_.process_details);
  }
  auto queue_holder = [&](pid_t pid) {
    auto it = index_of.find(pid);
    if (!reads || it == index_of.end() || queued[it->second]) return;
    size_t i = it->second;
    queued[i] = true;
    to_read.push_back(i);
    bool read_exe = true;
    if (uint64_t exe = (*tasks)[i].exe_id; exe != 0) {
      auto [reader, first] = exe_reader.emplace(exe, i);
      if (!first) {
        exe_copies.emplace_back(i, reader->second);
        read_exe = false;
      }
    }
    reads->add(i, read_exe);
  };
  size_t records_seen = 0;
  auto file_bytes = iterators_->task_files([&](std::string_view bytes) {
    for (size_t at = 0; at + sizeof(portrel_sock_rec) <= bytes.size();
         at += sizeof(portrel_sock_rec), ++records_seen) {
      uint32_t tgid;
      memcpy(&tgid, bytes.data() + at + offsetof(portrel_sock_rec, tgid), sizeof tgid);
      queue_holder(static_cast<pid_t>(tgid));
    }
  });
  if (!file_bytes) return std::unexpected(file_bytes.error());
  auto files = decode_sockets(*file_bytes);
  if (!files) return std::unexpected(files.error());
  if (records_seen != files->size()) {
    for (const BpfSocket& s : *files) queue_holder(s.pid);  // what the chunks missed
  }
  if (reads) reads->finish();

  // A holder whose files were read is the process the iterator saw if the
  // tasks, read again now, still show its pid with the same start time: a pid
  // is not reused while its process lives. One more pass over the tasks costs
  // less than checking each holder's /proc/PID/stat.
  std::vector<bool> vanished(processes.size(), false);
  if (!to_read.empty()) {
    auto again_bytes = iterators_->tasks();
    if (!again_bytes) return std::unexpected(again_bytes.error());
    auto again = decode_tasks(*again_bytes);
    if (!again) return std::unexpected(again.error());
    std::unordered_map<pid_t, const BpfTask*> now;
    now.reserve(again->size());
    for (const BpfTask& t : *again) now.emplace(t.pid, &t);
    // A holder that exec'd during the reads (same pid and start, another exe
    // file) is read again whole, on its own.
    std::vector<bool> execd(processes.size(), false);
    std::string buf;
    for (size_t i : to_read) {
      auto it = now.find((*tasks)[i].pid);
      vanished[i] = it == now.end() || it->second->start_ns != (*tasks)[i].start_ns;
      if (vanished[i] || it->second->exe_id == (*tasks)[i].exe_id) continue;
      execd[i] = true;
      processes[i].exe.clear();
      processes[i].cmdline.clear();
      read_holder(root.get(), processes[i], options_.process_details, true, buf);
    }
    for (auto [i, reader] : exe_copies) {
      if (vanished[i] || execd[i]) continue;
      if (!vanished[reader] && !execd[reader] && !processes[reader].exe.empty()) {
        processes[i].exe = processes[reader].exe;
        continue;
      }
      read_exe(root.get(), processes[i]);  // the reader is gone or changed
    }
  }
  std::unordered_set<pid_t> dropped;
  scan.processes.reserve(processes.size());
  for (size_t i = 0; i < processes.size(); ++i) {
    if (vanished[i]) {
      ++scan.vanished;
      dropped.insert(processes[i].pid);
      continue;
    }
    scan.processes.push_back(std::move(processes[i]));
  }
  std::ranges::sort(scan.processes, {}, &Process::pid);

  scan.holdings.reserve(files->size());
  scan.options.reserve(files->size());
  for (const BpfSocket& s : *files) {
    scan.options.push_back(s.options);
    if (dropped.contains(s.pid)) continue;
    scan.holdings.push_back(Holding{s.pid, s.fd, s.inode, s.cloexec});
  }
  std::ranges::sort(scan.holdings);
  scan.netns = netns_handles(options_.proc_root, scan.processes);

  return scan;
}

void BpfSource::unheld_options(const std::vector<NetnsHandle>& namespaces,
                               const TableQuery& query, std::vector<ExactOptions>& options,
                               std::vector<std::string>& warnings) {
  auto own = current_netns_inode();
  std::vector<Result<std::string>> tables(namespaces.size(), std::string());
  std::vector<NetnsHandle> others;
  std::vector<size_t> other_index;
  for (size_t i = 0; i < namespaces.size(); ++i) {
    if (own && namespaces[i].inode == *own) {
      tables[i] = iterators_->tables(query);
    } else {
      others.push_back(namespaces[i]);
      other_index.push_back(i);
    }
  }
  for_each_netns(others, 4, [&](size_t i, Result<uint64_t> entered) {
    if (!entered) {
      tables[other_index[i]] = std::unexpected(entered.error());
      return;
    }
    tables[other_index[i]] = iterators_->tables(query);
  });
  for (size_t i = 0; i < namespaces.size(); ++i) {
    auto rows = tables[i] ? decode_sockets(*tables[i])
                          : Result<std::vector<BpfSocket>>(std::unexpected(tables[i].error()));
    if (!rows) {
      warnings.push_back("socket options of namespace " + std::to_string(namespaces[i].inode) +
                         " unknown: " + rows.error().message);
      continue;
    }
    for (const BpfSocket& s : *rows) {
      if (s.inode != 0) options.push_back(s.options);
    }
  }
}

}  // namespace portrel
