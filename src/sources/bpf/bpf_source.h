// The bpf ProcessSource (and OptionSource): the fd → socket join table, the socket options, the
// process list and holders' exe and cmdline come from bpf iterators in a few
// milliseconds; /proc is read only for what they cannot give (cgroup, very long
// texts, or exe and cmdline on kernels before 5.18), for holders only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "portrel/capture.h"
#include "sources/bpf/bpf_loader.h"
#include "sources/netns.h"
#include "sources/sources.h"

namespace portrel {

/// The records of one iterator, decoded. A trailing partial record is an error.
struct BpfTask {
  pid_t pid = 0;
  pid_t ppid = 0;
  uid_t uid = 0;
  uint64_t start_ns = 0;
  uint64_t netns = 0;
  uint64_t pidns = 0;
  uint64_t exe_id = 0;  ///< equal for processes running the same exe file; 0: none
  std::string comm;
};
struct BpfSocket {
  uint64_t inode = 0;
  uint64_t netns = 0;
  pid_t pid = 0;  ///< 0 for a row of iter/tcp or iter/udp
  int fd = -1;
  uint16_t port = 0;    ///< an inet socket's; 0 for vsock (its row has the port)
  uint8_t family = 0;  ///< AF_INET, AF_INET6 or AF_VSOCK
  bool cloexec = false;
  /// None for a lean record (PORTREL_LEAN): the table rows have them.
  std::optional<ExactOptions> options;
};
/// A holder's texts from the sleepable fd walk.
struct BpfHolder {
  BpfTask task;
  std::string exe;      ///< as /proc/PID/exe reads
  std::string cmdline;  ///< arguments joined by spaces
  bool exe_unread = false;      ///< the walk could not give it: read /proc
  bool cmdline_unread = false;  ///< the walk could not give it: read /proc
};
/// The fd walk: its sockets and, before the first socket of each process, its
/// holder record when asked for.
struct BpfWalk {
  std::vector<BpfSocket> sockets;  ///< every held socket, vsock ones too
  /// The sockets the walk describes itself (vsock), once per record.
  std::vector<Socket> described;
  std::vector<BpfHolder> holders;
};
Result<std::vector<BpfTask>> decode_tasks(std::string_view bytes);
/// Records of every kind; a malformed one (truncated, wrong size, unknown
/// kind, texts longer than their record) is an error.
Result<BpfWalk> decode_walk(std::string_view bytes);
/// Socket records (of the protocol tables).
Result<std::vector<BpfSocket>> decode_sockets(std::string_view bytes);
/// Row records (BpfIterators::rows) into sockets of namespace NETNS, as
/// sock_diag's would read, with exact options (OptSource::bpf) for full sockets;
/// a malformed record is an error.
Result<std::vector<Socket>> decode_rows(std::string_view bytes, uint64_t netns);

struct BpfSourceOptions {
  BpfFilter filter;
  std::string proc_root = "/proc";   ///< where to read holders' exe, cmdline, cgroup
  /// Which of holders' exe, cmdline and cgroup to read from /proc. With none,
  /// every row comes from the iterators alone (pid, ppid, uid, comm, start
  /// time, namespaces) and /proc is not read at all.
  CaptureOptions::Details process_details = CaptureOptions::Details::all;
  /// Holders' exe and cmdline from the fd walk where the kernel runs its
  /// sleepable program; false reads them from /proc, as on kernels before 5.18.
  bool walk_texts = true;
};

class BpfSource : public ProcessSource, public OptionSource {
 public:
  /// Loads the programs; errors say why bpf cannot be used here (the caller
  /// falls back to procfs).
  static Result<std::unique_ptr<BpfSource>> open(BpfSourceOptions options);
  /// Over given iterators (a test passes canned records).
  BpfSource(std::unique_ptr<BpfIterators> iterators, BpfSourceOptions options);

  /// Every process (from iter/task) and every inet socket fd with its exact
  /// options (iter/task_file), holders with the exe and cmdline the fd walk
  /// gave. A holder the task pass did not see (born since, or its pid reused)
  /// is added from the walk's record. A holder whose /proc files were read but
  /// that is gone, or whose pid belongs to another process (start time
  /// differs), when iter/task runs again after the reads is `vanished`: its
  /// row and holdings are dropped. Processes holding no inet socket have no
  /// exe, cmdline or cgroup. Errors when an iterator cannot be read or gives a
  /// malformed record, or when the iterator's pids are not this /proc's
  /// (portrel in a child pid namespace).
  Result<ProcessScan> scan() override;
  /// Options of sockets no process holds: runs iter/tcp and iter/udp in each
  /// namespace (entering it from a helper thread), filtered in the kernel as
  /// QUERY says.
  void read(const std::vector<NetnsHandle>& namespaces, const TableQuery& query,
            std::vector<ExactOptions>& options, std::vector<std::string>& warnings) override;
  /// Whether the task pass can run on another thread beside the fd walk: the
  /// walk gives every holder's texts and nothing is read from /proc meanwhile.
  bool tasks_can_run_beside() const { return walk_needs_no_tasks(); }
  /// The task pass of the next scan(), to run on another thread while scan()
  /// runs; scan() then takes its result (waiting for it when it is still
  /// running, doing it when it has not begun). Empty when it cannot run
  /// beside (tasks_can_run_beside()).
  std::function<void()> task_pass_beside();
  /// Whether table_rows() can be read here (kernel 5.18 or later).
  bool has_table_rows() const { return iterators_->has_rows(); }
  /// Every socket of PROTO (TCP or UDP) of the calling thread's network
  /// namespace NETNS, from the kernel's tables as sock_diag would list them
  /// and with their options, filtered as the source's filter says.
  Result<std::vector<Socket>> table_rows(Proto proto, uint64_t netns);

  /// How the programs came (BpfIterators::origin).
  std::string origin() const { return iterators_->origin(); }
  /// Each part of the programs: loaded, or why not (BpfIterators::parts).
  std::vector<BpfPartStatus> parts() const { return iterators_->parts(); }

 private:
  // The task pass, decoded: every process, and where each pid is.
  struct TaskTable {
    std::vector<BpfTask> tasks;
    std::vector<Process> processes;
    std::unordered_map<pid_t, size_t> index_of;
  };
  Result<TaskTable> read_tasks();
  /// Whether the fd walk gives holders' exe and cmdline.
  bool walk_gives_texts() const;
  /// Whether it does, and nothing is read from /proc while it runs (cgroup
  /// is): the task pass can run beside it.
  bool walk_needs_no_tasks() const;

  std::unique_ptr<BpfIterators> iterators_;
  BpfSourceOptions options_;
  NetnsMounts mounts_;  ///< the mount table, read again only when it changed
  /// The task pass handed out by task_pass_beside(): whichever of that part and
  /// scan() comes to it first reads it, the other waits for it.
  struct TasksBeside {
    std::once_flag once;
    std::optional<Result<TaskTable>> table;
    void read(BpfSource& source) {
      std::call_once(once, [&] { table = source.read_tasks(); });
    }
  };
  std::shared_ptr<TasksBeside> tasks_beside_;
};

}  // namespace portrel
