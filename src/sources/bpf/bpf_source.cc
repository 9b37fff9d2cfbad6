// The bpf ProcessSource. Three iterators give the relation's raw rows; this file
// decodes them. Holders' exe and cmdline come with the fd walk where the kernel
// runs its sleepable program; what it cannot give (cgroup, texts too long, an
// older kernel) is read from /proc for the holders of inet sockets only, and a
// second pass of the task iterator after those reads tells a holder from a new
// process that reused its pid meanwhile.
#include "sources/bpf/bpf_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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
#include "sources/vsock.h"
#include "util/unique_fd.h"
#include "util/user_names.h"

namespace portrel {
namespace {

constexpr int kCloexecFlag = PORTREL_CLOEXEC;

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

// What a holder still needs from /proc.
struct ProcReads {
  bool exe = false;
  bool cmdline = false;
  bool cgroup = false;
  bool any() const { return exe || cmdline || cgroup; }
};

// Adds what WHAT names of a holder's exe, cmdline and cgroup to P, by path under
// ROOT. Whether they are still that process's is settled afterwards (scan()
// reads the tasks again), so a read that fails because the process exited
// only leaves a field empty here.
void read_holder(int root, Process& p, ProcReads what, std::string& buf) {
  if (what.exe) read_exe(root, p);
  std::string path = std::to_string(p.pid) + "/";
  size_t base = path.size();
  if (what.cmdline) {
    path += "cmdline";
    if (read_file(root, path.c_str(), buf) == 0) p.cmdline = procfs::join_cmdline(buf);
  }
  if (what.cgroup) {
    path.replace(base, std::string::npos, "cgroup");
    if (read_file(root, path.c_str(), buf) == 0) {
      p.cgroup = procfs::parse_cgroup(buf).value_or("");
    }
  }
}

// Reads holders' /proc files on a helper thread while the fd iterator still
// runs: a holder is queued as soon as its first record arrives, and the
// calling thread joins in once the iterator is done (finish()).
class HolderReads {
 public:
  HolderReads(int root, std::vector<Process>& processes)
      : root_(root), processes_(processes) {
    try {
      helper_ = std::jthread([this] { work(); });
    } catch (const std::system_error&) {
      // No thread: finish() reads them all.
    }
  }
  HolderReads(const HolderReads&) = delete;
  HolderReads& operator=(const HolderReads&) = delete;
  ~HolderReads() { finish(); }

  void add(size_t index, ProcReads what) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({index, what});
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
    std::vector<std::pair<size_t, ProcReads>> batch;
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
      for (auto [i, what] : batch) read_holder(root_, processes_[i], what, buf);
    }
  }

  int root_;
  std::vector<Process>& processes_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<std::pair<size_t, ProcReads>> queue_;
  size_t next_ = 0;
  bool done_ = false;
  std::jthread helper_;
};

BpfTask task_of(const portrel_task_rec& r) {
  return BpfTask{static_cast<pid_t>(r.tgid), static_cast<pid_t>(r.ppid),
                 static_cast<uid_t>(r.uid), r.start_ns, r.netns, r.pidns,
                 r.exe_id, std::string(r.comm, strnlen(r.comm, sizeof r.comm))};
}

BpfSocket socket_of(const portrel_sock_rec& r) {
  BpfSocket s;
  s.inode = r.inode;
  s.netns = r.netns;
  s.pid = static_cast<pid_t>(r.tgid);
  s.fd = r.fd;
  s.port = r.port;
  s.family = r.family;
  s.cloexec = (r.flags & kCloexecFlag) != 0;
  if ((r.flags & PORTREL_LEAN) == 0) {
    s.options = ExactOptions{r.inode, r.reuse != 0, (r.flags & PORTREL_REUSEPORT) != 0,
                             (r.flags & PORTREL_V6ONLY) != 0};
  }
  return s;
}

// A held vsock socket: its holding, and the socket as vsock_diag would list it.
std::pair<BpfSocket, Socket> vsock_of(const portrel_vsock_rec& r) {
  BpfSocket held;
  held.inode = r.inode;
  held.netns = r.netns;
  held.pid = static_cast<pid_t>(r.tgid);
  held.fd = r.fd;
  held.family = AF_VSOCK;
  held.cloexec = (r.flags & kCloexecFlag) != 0;
  return {held, vsock_socket(r.netns, r.inode, 0, r.state, r.local_cid, r.local_port,
                             r.remote_cid, r.remote_port, static_cast<uid_t>(r.uid))};
}

// Calls ON_SOCK(const portrel_sock_rec&), ON_VSOCK(const portrel_vsock_rec&)
// and ON_HOLDER(const portrel_holder_rec&, exe bytes, cmdline bytes) for each
// record of BYTES, in order; the first malformed record is an error and ends
// the walk. BYTES begin at byte BASE of the whole stream (for the message).
template <typename OnSock, typename OnVsock, typename OnHolder>
std::optional<Error> walk_records(std::string_view bytes, size_t base, OnSock&& on_sock,
                                  OnVsock&& on_vsock, OnHolder&& on_holder) {
  auto bad = [&](size_t at, const std::string& why) {
    return Error{"bpf socket iterator: record at byte " + std::to_string(base + at) + ": " +
                 why};
  };
  size_t at = 0;
  while (at < bytes.size()) {
    portrel_rec_head head;
    if (bytes.size() - at < sizeof head) return bad(at, "truncated");
    memcpy(&head, bytes.data() + at, sizeof head);
    if (head.size > bytes.size() - at) return bad(at, "truncated");
    if (head.kind == PORTREL_REC_SOCK) {
      if (head.size != sizeof(portrel_sock_rec)) return bad(at, "wrong size for a socket");
      portrel_sock_rec rec;
      memcpy(&rec, bytes.data() + at, sizeof rec);
      on_sock(rec);
    } else if (head.kind == PORTREL_REC_VSOCK) {
      if (head.size != sizeof(portrel_vsock_rec)) return bad(at, "wrong size for a vsock socket");
      portrel_vsock_rec rec;
      memcpy(&rec, bytes.data() + at, sizeof rec);
      on_vsock(rec);
    } else if (head.kind == PORTREL_REC_HOLDER) {
      portrel_holder_rec rec;
      if (head.size < sizeof rec || head.size % 8 != 0) {
        return bad(at, "wrong size for a holder");
      }
      memcpy(&rec, bytes.data() + at, sizeof rec);
      if (uint64_t{rec.exe_len} + rec.cmdline_len > head.size - sizeof rec) {
        return bad(at, "texts longer than the record");
      }
      std::string_view text = bytes.substr(at + sizeof rec);
      on_holder(rec, text.substr(0, rec.exe_len), text.substr(rec.exe_len, rec.cmdline_len));
    } else {
      return bad(at, "unknown kind " + std::to_string(head.kind));
    }
    at += head.size;
  }
  return std::nullopt;
}

// Decodes the fd walk chunk by chunk, as read() gives them (whole records
// each), so that the walk's bytes are never kept whole.
class WalkDecoder {
 public:
  /// Decodes CHUNK; ON_SOCK (with the holder's pid) and ON_HOLDER see each
  /// record as it is added.
  template <typename OnSock, typename OnHolder>
  void add(std::string_view chunk, OnSock&& on_sock, OnHolder&& on_holder) {
    if (error_) return;
    error_ = walk_records(
        chunk, offset_,
        [&](const portrel_sock_rec& r) {
          on_sock(static_cast<pid_t>(r.tgid));
          walk_.sockets.push_back(socket_of(r));
        },
        [&](const portrel_vsock_rec& r) {
          on_sock(static_cast<pid_t>(r.tgid));
          auto [held, socket] = vsock_of(r);
          walk_.sockets.push_back(held);
          walk_.described.push_back(socket);
        },
        [&](const portrel_holder_rec& r, std::string_view exe, std::string_view cmdline) {
          on_holder(r);
          BpfHolder h{task_of(r.task), "", "", (r.flags & PORTREL_EXE_UNREAD) != 0,
                      (r.flags & PORTREL_CMDLINE_UNREAD) != 0};
          if ((r.flags & PORTREL_EXE_AS_BEFORE) != 0) {
            h.exe = last_exe_;
          } else if (!h.exe_unread) {
            h.exe.assign(exe);
            last_exe_ = h.exe;
          }
          if (!h.cmdline_unread) h.cmdline = procfs::join_cmdline(cmdline);
          walk_.holders.push_back(std::move(h));
        });
    offset_ += chunk.size();
  }
  void add(std::string_view chunk) {
    add(chunk, [](pid_t) {}, [](const portrel_holder_rec&) {});
  }
  Result<BpfWalk> finish() {
    if (error_) return std::unexpected(*error_);
    return std::move(walk_);
  }

 private:
  BpfWalk walk_;
  std::string last_exe_;  ///< for PORTREL_EXE_AS_BEFORE
  size_t offset_ = 0;
  std::optional<Error> error_;
};

}  // namespace

Result<std::vector<BpfTask>> decode_tasks(std::string_view bytes) {
  if (bytes.size() % sizeof(portrel_task_rec) != 0) {
    return std::unexpected(Error{"bpf task iterator: " + std::to_string(bytes.size()) +
                                 " bytes is not a whole number of records"});
  }
  std::vector<BpfTask> out;
  out.reserve(bytes.size() / sizeof(portrel_task_rec));
  for (size_t at = 0; at < bytes.size(); at += sizeof(portrel_task_rec)) {
    portrel_task_rec r;
    memcpy(&r, bytes.data() + at, sizeof r);
    out.push_back(task_of(r));
  }
  return out;
}

Result<BpfWalk> decode_walk(std::string_view bytes) {
  WalkDecoder decoder;
  decoder.add(bytes);
  return decoder.finish();
}

Result<std::vector<BpfSocket>> decode_sockets(std::string_view bytes) {
  auto walk = decode_walk(bytes);
  if (!walk) return std::unexpected(walk.error());
  return std::move(walk->sockets);
}

Result<std::vector<Socket>> decode_rows(std::string_view bytes, uint64_t netns) {
  std::vector<Socket> out;
  out.reserve(bytes.size() / sizeof(portrel_row_rec));
  for (size_t at = 0; at < bytes.size(); at += sizeof(portrel_row_rec)) {
    portrel_row_rec r;
    portrel_rec_head head{0, 0};
    if (bytes.size() - at >= sizeof head) memcpy(&head, bytes.data() + at, sizeof head);
    if (bytes.size() - at < sizeof r || head.kind != PORTREL_REC_ROW ||
        head.size != sizeof r) {
      return std::unexpected(Error{"bpf table rows: record at byte " + std::to_string(at) +
                                   " is not a whole row"});
    }
    memcpy(&r, bytes.data() + at, sizeof r);
    if ((r.family != AF_INET && r.family != AF_INET6) ||
        (r.protocol != IPPROTO_TCP && r.protocol != IPPROTO_UDP)) {
      return std::unexpected(Error{"bpf table rows: record at byte " + std::to_string(at) +
                                   " has family " + std::to_string(r.family) +
                                   " and protocol " + std::to_string(r.protocol)});
    }
    Socket& s = out.emplace_back();
    s.inode = r.inode;
    s.cookie = r.cookie;
    s.netns = netns;
    s.proto = r.protocol == IPPROTO_TCP ? Proto::tcp : Proto::udp;
    s.family = r.family == AF_INET ? 4 : 6;
    s.state = r.state;
    if (r.family == AF_INET) {
      uint32_t local, remote;
      memcpy(&local, r.local_addr, sizeof local);
      memcpy(&remote, r.remote_addr, sizeof remote);
      s.local_addr = Address::v4(local);
      s.remote_addr = Address::v4(remote);
    } else {
      std::array<uint8_t, 16> local, remote;
      memcpy(local.data(), r.local_addr, local.size());
      memcpy(remote.data(), r.remote_addr, remote.size());
      s.local_addr = Address::v6(local);
      s.remote_addr = Address::v6(remote);
    }
    s.local_port = r.local_port;
    s.remote_port = r.remote_port;
    // Only full sockets have a uid (not TIME_WAIT and request sockets).
    s.uid = (r.flags & PORTREL_ROW_OPTIONS) != 0 ? r.uid : kUnknownUid;
    s.bound_dev = r.bound_dev;
    s.rx_queue = r.rx_queue;
    s.tx_queue = r.tx_queue;
    if ((r.flags & PORTREL_ROW_OPTIONS) != 0) {
      auto tri = [](bool b) { return b ? Tristate::yes : Tristate::no; };
      s.reuseaddr = tri(r.reuse != 0);
      s.reuseport = tri((r.flags & PORTREL_REUSEPORT) != 0);
      s.reuseaddr_from = s.reuseport_from = OptSource::bpf;
      if (s.family == 6) {
        s.v6only = tri((r.flags & PORTREL_V6ONLY) != 0);
        s.v6only_from = OptSource::bpf;
      }
    }
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

namespace {

Process process_of(const BpfTask& t, UserNames& users) {
  static const uint64_t ns_per_tick =
      1'000'000'000 / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  Process p;
  p.pid = t.pid;
  p.ppid = t.ppid;
  p.uid = t.uid;
  p.user = users(t.uid);
  p.comm = t.comm;
  p.netns = t.netns;
  p.pidns = t.pidns;
  p.start_time = t.start_ns / ns_per_tick;
  return p;
}

}  // namespace

Result<BpfSource::TaskTable> BpfSource::read_tasks() {
  auto bytes = iterators_->tasks();
  if (!bytes) return std::unexpected(bytes.error());
  auto tasks = decode_tasks(*bytes);
  if (!tasks) return std::unexpected(tasks.error());
  // The iterator reports pids of the initial pid namespace: they must be ours.
  pid_t self = getpid();
  if (std::ranges::none_of(*tasks, [self](const BpfTask& t) { return t.pid == self; })) {
    return std::unexpected(
        Error{"the bpf iterators' pids are not this /proc's (another pid namespace)"});
  }
  TaskTable table{std::move(*tasks), {}, {}};
  UserNames users;
  table.processes.reserve(table.tasks.size());
  table.index_of.reserve(table.tasks.size());
  for (const BpfTask& t : table.tasks) {
    table.index_of.emplace(t.pid, table.processes.size());
    table.processes.push_back(process_of(t, users));
  }
  return table;
}

bool BpfSource::walk_gives_texts() const {
  return options_.process_details != CaptureOptions::Details::none && options_.walk_texts &&
         iterators_->holder_details();
}

bool BpfSource::walk_needs_no_tasks() const {
  return walk_gives_texts() && options_.process_details != CaptureOptions::Details::all;
}

std::function<void()> BpfSource::task_pass_beside() {
  if (!walk_needs_no_tasks()) return {};
  tasks_beside_ = std::make_shared<TasksBeside>();
  return [this, beside = tasks_beside_] { beside->read(*this); };
}

Result<ProcessScan> BpfSource::scan() {
  UniqueFd root(::open(options_.proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    return std::unexpected(system_error("open " + options_.proc_root, errno));
  }
  UserNames users;

  // Holders' exe and cmdline come with the fd walk when the kernel runs the
  // sleepable program; otherwise (and for cgroup, and texts too long for the
  // walk) from /proc, read while the walk runs (system calls on the other
  // core), each holder once. Without the walk's texts, forked workers share
  // their parent's exe file: its link is read for the first holder of each.
  const auto details = options_.process_details;
  const bool walk_texts = walk_gives_texts();
  const bool cgroup = details == CaptureOptions::Details::all;
  // The task pass comes before the walk, unless it runs on another thread
  // (task_pass_beside()): then the walk needs nothing from it, as each holder's
  // own fields come with its walk record, and it is taken after the walk.
  std::shared_ptr<TasksBeside> beside = std::move(tasks_beside_);
  const bool tasks_after = beside != nullptr;
  std::optional<Result<TaskTable>> table_read;
  if (!tasks_after) {
    table_read = read_tasks();
    if (!*table_read) return std::unexpected(table_read->error());
  }
  TaskTable* table = table_read ? &**table_read : nullptr;  // until the task pass is in

  std::vector<size_t> to_read;
  std::vector<bool> queued;
  std::unordered_map<uint64_t, size_t> exe_reader;  // exe_id -> holder that reads it
  std::vector<std::pair<size_t, size_t>> exe_copies;  // (holder, holder that read it)
  std::optional<HolderReads> reads;
  auto start_reads = [&] {
    queued.assign(table->processes.size(), false);
    if (details != CaptureOptions::Details::none && (!walk_texts || cgroup)) {
      reads.emplace(root.get(), table->processes);
    }
  };
  // The holder of a walk record, if it is the process the task pass saw.
  auto seen = [&](pid_t pid, uint64_t start_ns) -> std::optional<size_t> {
    auto it = table->index_of.find(pid);
    if (it == table->index_of.end() || table->tasks[it->second].start_ns != start_ns) {
      return std::nullopt;
    }
    return it->second;
  };
  auto queue = [&](size_t i, ProcReads what) {
    queued[i] = true;
    if (!what.any()) return;
    to_read.push_back(i);
    if (!reads) reads.emplace(root.get(), table->processes);
    reads->add(i, what);
  };
  // Without the walk's texts: everything of each holder, on its first socket.
  auto queue_holder = [&](pid_t pid) {
    if (details == CaptureOptions::Details::none || walk_texts) return;
    auto it = table->index_of.find(pid);
    if (it == table->index_of.end() || queued[it->second]) return;
    size_t i = it->second;
    ProcReads what{.exe = true, .cmdline = true, .cgroup = cgroup};
    if (uint64_t exe = table->tasks[i].exe_id; exe != 0) {
      auto [reader, first] = exe_reader.emplace(exe, i);
      if (!first) {
        exe_copies.emplace_back(i, reader->second);
        what.exe = false;
      }
    }
    queue(i, what);
  };
  // A holder whose texts the walk could not give, as the task pass saw it. An
  // exe path the walk does not make (a kernel that refuses it) is read once
  // per exe file, as without the walk's texts.
  auto queue_unread = [&](pid_t pid, uint64_t start_ns, bool exe, bool cmdline) {
    auto i = seen(pid, start_ns);
    if (!i || queued[*i]) return;
    if (uint64_t exe_id = table->tasks[*i].exe_id; exe && exe_id != 0) {
      auto [reader, first] = exe_reader.emplace(exe_id, *i);
      if (!first) {
        exe_copies.emplace_back(*i, reader->second);
        exe = false;
      }
    }
    queue(*i, ProcReads{.exe = exe, .cmdline = cmdline, .cgroup = cgroup});
  };
  if (table) start_reads();
  WalkDecoder decoder;
  auto walked = iterators_->task_files(
      [&](std::string_view bytes) {
        if (!table) return decoder.add(bytes);
        decoder.add(
            bytes, [&](pid_t pid) { queue_holder(pid); },
            [&](const portrel_holder_rec& r) {
              queue_unread(static_cast<pid_t>(r.task.tgid), r.task.start_ns,
                           (r.flags & PORTREL_EXE_UNREAD) != 0,
                           (r.flags & PORTREL_CMDLINE_UNREAD) != 0);
            });
      },
      walk_texts);
  if (tasks_after) {
    beside->read(*this);
    table_read = std::move(beside->table);
    if (!*table_read) return std::unexpected(table_read->error());
    table = &**table_read;
  }
  if (!walked) return std::unexpected(walked.error());
  auto walk = decoder.finish();
  if (!walk) return std::unexpected(walk.error());
  if (tasks_after) {
    // The task pass came after the walk: what the walk could not give.
    start_reads();
    for (const BpfHolder& h : walk->holders) {
      if (h.exe_unread || h.cmdline_unread) {
        queue_unread(h.task.pid, h.task.start_ns, h.exe_unread, h.cmdline_unread);
      }
    }
  }
  if (reads) reads->finish();
  std::vector<BpfTask>& tasks = table->tasks;
  std::vector<Process>& processes = table->processes;
  auto& index_of = table->index_of;
  std::vector<BpfSocket>& files = walk->sockets;

  // The walk's texts are those of the process that held the sockets. A holder
  // the task pass did not see (born since, or its pid reused) is added from
  // the walk's record, replacing the process that had the pid.
  std::vector<bool> vanished(processes.size(), false);
  std::string buf;
  for (BpfHolder& h : walk->holders) {
    auto i = seen(h.task.pid, h.task.start_ns);
    if (!i) {
      if (auto it = index_of.find(h.task.pid); it != index_of.end()) vanished[it->second] = true;
      ProcReads what{.exe = h.exe_unread, .cmdline = h.cmdline_unread, .cgroup = cgroup};
      i = processes.size();
      index_of[h.task.pid] = *i;
      tasks.push_back(h.task);
      processes.push_back(process_of(h.task, users));
      vanished.push_back(false);
      if (what.any()) {
        to_read.push_back(*i);
        read_holder(root.get(), processes[*i], what, buf);
      }
    }
    Process& p = processes[*i];
    if (!h.exe_unread) p.exe = std::move(h.exe);
    if (!h.cmdline_unread) p.cmdline = std::move(h.cmdline);
  }

  // A holder whose files were read is the process the iterator saw if the
  // tasks, read again now, still show its pid with the same start time: a pid
  // is not reused while its process lives. One more pass over the tasks costs
  // less than checking each holder's /proc/PID/stat.
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
    for (size_t i : to_read) {
      auto it = now.find(tasks[i].pid);
      vanished[i] = it == now.end() || it->second->start_ns != tasks[i].start_ns;
      if (vanished[i] || it->second->exe_id == tasks[i].exe_id) continue;
      execd[i] = true;
      processes[i].exe.clear();
      processes[i].cmdline.clear();
      read_holder(root.get(), processes[i], ProcReads{true, true, cgroup}, buf);
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
  ProcessScan scan;
  std::unordered_set<pid_t> dropped;
  scan.processes.reserve(processes.size());
  for (size_t i = 0; i < processes.size(); ++i) {
    if (vanished[i]) {
      ++scan.vanished;
      // A pid taken over by a process the walk saw keeps its holdings.
      if (index_of[processes[i].pid] == i) dropped.insert(processes[i].pid);
      continue;
    }
    scan.processes.push_back(std::move(processes[i]));
  }
  std::ranges::sort(scan.processes, {}, &Process::pid);

  scan.holdings.reserve(files.size());
  scan.options.reserve(files.size());
  for (const BpfSocket& s : files) {
    if (s.options) scan.options.push_back(*s.options);
    if (dropped.contains(s.pid)) continue;
    scan.holdings.push_back(Holding{s.pid, s.fd, s.inode, s.cloexec});
  }
  std::ranges::sort(scan.holdings);
  // Threads sharing a table of their own each gave its fds.
  scan.holdings.erase(std::ranges::unique(scan.holdings).begin(), scan.holdings.end());
  scan.netns = netns_handles(options_.proc_root, scan.processes, &mounts_);
  // Namespaces only a held socket leads to. A lean record has no namespace,
  // but only TCP sockets the table rows list are read lean.
  std::unordered_set<uint64_t> reached;
  for (const NetnsHandle& h : scan.netns) reached.insert(h.inode);
  for (const BpfSocket& s : files) {
    if (s.netns == 0 || dropped.contains(s.pid) || !reached.insert(s.netns).second) continue;
    scan.unreached_netns.emplace_back(s.netns, Holding{s.pid, s.fd, s.inode, s.cloexec});
  }
  // Held vsock sockets, of holders still there, once each.
  std::unordered_set<uint64_t> described;
  for (size_t i = 0; i < walk->described.size(); ++i) {
    const Socket& s = walk->described[i];
    if (described.insert(s.inode).second) scan.held_sockets.push_back(s);
  }

  return scan;
}

Result<std::vector<Socket>> BpfSource::table_rows(Proto proto, uint64_t netns) {
  auto bytes = iterators_->rows(proto);
  if (!bytes) return std::unexpected(bytes.error());
  return decode_rows(*bytes, netns);
}

void BpfSource::read(const std::vector<NetnsHandle>& namespaces, const TableQuery& query,
                     std::vector<ExactOptions>& options, std::vector<std::string>& warnings) {
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
      if (s.inode != 0 && s.options) options.push_back(*s.options);
    }
  }
}

}  // namespace portrel
