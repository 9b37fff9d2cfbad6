// Column declarations of the socket and holder relations. Names and meanings
// here are the documented JSON/CSV contract: change them only by adding.
#include "output/columns.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include <array>
#include <mutex>

#include "sources/workload.h"
#include "util/text.h"

namespace portrel {
namespace {

void tristate(Tristate t, CellSink& out) {
  if (t == Tristate::unknown) return out.null();
  out.boolean(t == Tristate::yes);
}

// Cells are signed 64-bit, as in SQL; a cookie past 2^63 comes out negative.
void integer(uint64_t v, CellSink& out) { out.integer(static_cast<int64_t>(v)); }

// A text cell, or null when the string is empty.
void text_or_null(std::string_view v, CellSink& out) {
  if (v.empty()) return out.null();
  out.text(v);
}

void address(const Address& a, CellSink& out) {
  Address::TextBuffer buf;
  out.word(a.format(buf));
}

// Collects the cell that WRITE hands over.
class ValueSink final : public CellSink {
 public:
  void null() override { value = std::monostate{}; }
  void integer(int64_t v) override { value = v; }
  void text(std::string_view v) override { value = std::string(v); }
  void boolean(bool v) override { value = v; }
  Value value;
};

Value collect(auto&& write) {
  ValueSink sink;
  write(sink);
  return std::move(sink.value);
}

constexpr std::array kSocketColumns = {
    SocketColumn{
        "inode", "integer", "sockfs inode (0 for sockets with no file, e.g. TIME_WAIT)",
        [](const Snapshot&, const Socket& s, CellSink& out) { integer(s.inode, out); }},
    SocketColumn{"cookie", "integer", "kernel socket cookie",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   integer(s.cookie, out);
                 }},
    SocketColumn{
        "netns", "integer", "inode of the network namespace",
        [](const Snapshot&, const Socket& s, CellSink& out) { integer(s.netns, out); }},
    SocketColumn{"netns_name", "text",
                 "\"host\", the container it belongs to, the /run/netns name, or net:[INODE]",
                 [](const Snapshot& snap, const Socket& s, CellSink& out) {
                   NetnsLabelBuffer buf;
                   out.text(netns_label(snap, s.netns, buf));
                 }},
    SocketColumn{"proto", "text", "tcp, udp, udplite or raw",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   out.word(proto_name(s.proto));
                 }},
    SocketColumn{"family", "integer", "4 or 6",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   integer(s.family, out);
                 }},
    SocketColumn{"state", "text",
                 "kernel state: LISTEN, ESTABLISHED, UNCONN, TIME_WAIT, ...",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   out.word(state_name(s.proto, s.state));
                 }},
    SocketColumn{"local_address", "text", "local address (0.0.0.0 or :: for any)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   address(s.local_addr, out);
                 }},
    SocketColumn{"local_port", "integer", "local port",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   integer(s.local_port, out);
                 }},
    SocketColumn{"remote_address", "text", "peer address (0.0.0.0 or :: when none)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   address(s.remote_addr, out);
                 }},
    SocketColumn{"remote_port", "integer", "peer port (0 when none)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   integer(s.remote_port, out);
                 }},
    SocketColumn{
        "uid", "integer",
        "uid that created the socket (null for TIME_WAIT and SYN_RECV: the kernel keeps none)",
        [](const Snapshot&, const Socket& s, CellSink& out) {
          s.uid == kUnknownUid ? out.null() : integer(s.uid, out);
        }},
    SocketColumn{"reuseaddr", "boolean", "SO_REUSEADDR (null when unknown)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   tristate(s.reuseaddr, out);
                 }},
    SocketColumn{"reuseport", "boolean", "SO_REUSEPORT (null when unknown)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   tristate(s.reuseport, out);
                 }},
    SocketColumn{"v6only", "boolean", "IPV6_V6ONLY (null when unknown or IPv4)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   tristate(s.v6only, out);
                 }},
    SocketColumn{
        "reuseaddr_from", "text",
        "where reuseaddr came from: none, inferred, sock_diag, getsockopt, bpf",
        [](const Snapshot&, const Socket& s, CellSink& out) {
          out.word(opt_source_name(s.reuseaddr_from));
        }},
    SocketColumn{
        "reuseport_from", "text",
        "where reuseport came from: none, inferred, sock_diag, getsockopt, bpf",
        [](const Snapshot&, const Socket& s, CellSink& out) {
          out.word(opt_source_name(s.reuseport_from));
        }},
    SocketColumn{"v6only_from", "text",
                 "where v6only came from: none, inferred, sock_diag, getsockopt, bpf",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   out.word(opt_source_name(s.v6only_from));
                 }},
    SocketColumn{"bound_dev", "integer", "ifindex of SO_BINDTODEVICE (0 when unbound)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   integer(s.bound_dev, out);
                 }},
    SocketColumn{"rx_queue", "integer", "receive queue (accept backlog for listeners)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   integer(s.rx_queue, out);
                 }},
    SocketColumn{"tx_queue", "integer", "send queue (backlog limit for listeners)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   integer(s.tx_queue, out);
                 }},
    SocketColumn{"subflows", "integer",
                 "MPTCP: the TCP subflows folded into the socket (null for other protocols)",
                 [](const Snapshot&, const Socket& s, CellSink& out) {
                   if (s.proto == Proto::mptcp) integer(s.subflows, out);
                   else out.null();
                 }},
    SocketColumn{"owner", "text",
                 "why no holder is visible (null when the socket has holders)",
                 [](const Snapshot& snap, const Socket& s, CellSink& out) {
                   Unowned why = snap.why_unowned(s);
                   if (why == Unowned::none) return out.null();
                   out.word(unowned_reason(why));
                 }},
};

template <std::string Workload::*Field>
void workload_field(const Process* p, CellSink& out) {
  if (p == nullptr) return out.null();
  text_or_null(workload_of(*p).*Field, out);
}

void workload_kind(const Process* p, CellSink& out) {
  WorkloadKind kind = p ? workload_of(*p).kind : WorkloadKind::none;
  kind == WorkloadKind::none ? out.null() : out.text(workload_kind_name(kind));
}

// The columns above as a holder's and as a process's.
template <void (*F)(const Process*, CellSink&)>
void of_holder(const Holding&, const Process* p, CellSink& out) {
  F(p, out);
}
template <void (*F)(const Process*, CellSink&)>
void of_process(const Process& p, CellSink& out) {
  F(&p, out);
}

constexpr std::string_view kWorkloadText =
    "what the process runs in: container, container-monitor (conmon), machine, unit or "
    "session (null when it names none; on the host's namespaces, also when the capture "
    "read no cgroups)";
constexpr std::string_view kRuntimeText = "docker, podman, containerd, cri-o, lxc, nspawn, systemd…";
constexpr std::string_view kIdText = "the container's id (64 hex digits)";
constexpr std::string_view kNameText = "the container's name, from the runtime's state files";
constexpr std::string_view kPodText = "Kubernetes pod name";
constexpr std::string_view kPodNsText = "Kubernetes namespace of the pod";
constexpr std::string_view kUnitText = "the systemd unit or scope it runs in";

constexpr std::array kHolderColumns = {
    HolderColumn{
        "pid", "integer", "process id",
        [](const Holding& h, const Process*, CellSink& out) { integer(h.pid, out); }, false},
    HolderColumn{
        "fd", "integer", "file descriptor number in that process",
        [](const Holding& h, const Process*, CellSink& out) { integer(h.fd, out); }, false},
    HolderColumn{"cloexec", "boolean", "close-on-exec set on the descriptor",
                 [](const Holding& h, const Process*, CellSink& out) {
                   out.boolean(h.cloexec);
                 },
                 false},
    HolderColumn{"comm", "text", "process name (/proc/PID/comm)",
                 [](const Holding&, const Process* p, CellSink& out) {
                   p ? out.text(p->comm) : out.null();
                 },
                 true},
    HolderColumn{"exe", "text", "executable path (null when unreadable)",
                 [](const Holding&, const Process* p, CellSink& out) {
                   text_or_null(p ? std::string_view(p->exe) : "", out);
                 },
                 true},
    HolderColumn{"ppid", "integer", "parent process id",
                 [](const Holding&, const Process* p, CellSink& out) {
                   p ? integer(p->ppid, out) : out.null();
                 },
                 true},
    HolderColumn{"user", "text", "user name of the process's real uid",
                 [](const Holding&, const Process* p, CellSink& out) {
                   p ? out.text(p->user) : out.null();
                 },
                 true},
    HolderColumn{"cmdline", "text", "command line, arguments joined by spaces",
                 [](const Holding&, const Process* p, CellSink& out) {
                   p ? out.text(p->cmdline) : out.null();
                 },
                 true},
    HolderColumn{"workload", "text", kWorkloadText, of_holder<workload_kind>, true},
    HolderColumn{"runtime", "text", kRuntimeText, of_holder<workload_field<&Workload::runtime>>,
                 true},
    HolderColumn{"container_id", "text", kIdText, of_holder<workload_field<&Workload::id>>, true},
    HolderColumn{"container_name", "text", kNameText,
                 of_holder<workload_field<&Workload::name>>, true},
    HolderColumn{"pod", "text", kPodText, of_holder<workload_field<&Workload::pod>>, true},
    HolderColumn{"pod_namespace", "text", kPodNsText,
                 of_holder<workload_field<&Workload::pod_namespace>>, true},
    HolderColumn{"unit", "text", kUnitText, of_holder<workload_field<&Workload::unit>>, true},
};

constexpr std::array kProcessColumns = {
    ProcessColumn{"pid", "integer", "process id",
                  [](const Process& p, CellSink& out) { integer(p.pid, out); }},
    ProcessColumn{"ppid", "integer", "parent process id",
                  [](const Process& p, CellSink& out) { integer(p.ppid, out); }},
    ProcessColumn{"uid", "integer", "real uid of the process",
                  [](const Process& p, CellSink& out) { integer(p.uid, out); }},
    ProcessColumn{"user", "text", "user name of the real uid",
                  [](const Process& p, CellSink& out) { out.text(p.user); }},
    ProcessColumn{"comm", "text", "process name (/proc/PID/comm)",
                  [](const Process& p, CellSink& out) { out.text(p.comm); }},
    ProcessColumn{"exe", "text", "executable path (null when unreadable)",
                  [](const Process& p, CellSink& out) { text_or_null(p.exe, out); }},
    ProcessColumn{"cmdline", "text", "command line, arguments joined by spaces",
                  [](const Process& p, CellSink& out) { out.text(p.cmdline); }},
    ProcessColumn{"netns", "integer",
                  "inode of its network namespace (null when unreadable)",
                  [](const Process& p, CellSink& out) {
                    p.netns ? integer(p.netns, out) : out.null();
                  }},
    ProcessColumn{"pidns", "integer",
                  "inode of its pid namespace (null when unreadable)",
                  [](const Process& p, CellSink& out) {
                    p.pidns ? integer(p.pidns, out) : out.null();
                  }},
    ProcessColumn{"cgroup", "text",
                  "cgroup path that names its container or service: the v2 path, or on a "
                  "hybrid host the v1 path that names more (null when unreadable)",
                  [](const Process& p, CellSink& out) { text_or_null(p.cgroup, out); }},
    ProcessColumn{"start_time", "integer", "start time in clock ticks after boot",
                  [](const Process& p, CellSink& out) { integer(p.start_time, out); }},
    ProcessColumn{"workload", "text", kWorkloadText, of_process<workload_kind>},
    ProcessColumn{"runtime", "text", kRuntimeText,
                  of_process<workload_field<&Workload::runtime>>},
    ProcessColumn{"container_id", "text", kIdText, of_process<workload_field<&Workload::id>>},
    ProcessColumn{"container_name", "text", kNameText,
                  of_process<workload_field<&Workload::name>>},
    ProcessColumn{"pod", "text", kPodText, of_process<workload_field<&Workload::pod>>},
    ProcessColumn{"pod_namespace", "text", kPodNsText,
                  of_process<workload_field<&Workload::pod_namespace>>},
    ProcessColumn{"unit", "text", kUnitText, of_process<workload_field<&Workload::unit>>},
};

constexpr std::array kHoldingColumns = {
    HoldingColumn{"pid", "integer", "process holding the socket",
                  [](const Holding& h, CellSink& out) { integer(h.pid, out); }},
    HoldingColumn{"fd", "integer", "file descriptor number in that process",
                  [](const Holding& h, CellSink& out) { integer(h.fd, out); }},
    HoldingColumn{"inode", "integer", "sockfs inode of the socket held",
                  [](const Holding& h, CellSink& out) { integer(h.inode, out); }},
    HoldingColumn{"cloexec", "boolean", "close-on-exec set on the descriptor",
                  [](const Holding& h, CellSink& out) { out.boolean(h.cloexec); }},
};

}  // namespace

namespace {
// Columns are plain functions: the cache is the run's, under a lock in case
// two threads render.
std::mutex workloads_mutex;
WorkloadCache workloads;
}  // namespace

uint64_t own_namespace(const char* path) {
  struct stat st {};
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

const Workload& workload_of(const Process& p) {
  // A capture that read no cgroups still names the workloads of the processes
  // that may be in a container (their own namespaces, a runtime's helper).
  static const uint64_t host_pidns = own_namespace("/proc/self/ns/pid");
  static const uint64_t host_netns = own_namespace("/proc/self/ns/net");
  std::lock_guard lock(workloads_mutex);
  if (p.cgroup.empty() && p.pid > 0 && may_be_in_container(p, host_pidns, host_netns)) {
    return workloads.of_pid(p.pid);
  }
  return workloads.of(p);
}

const Workload& workload_of_pid(pid_t pid) {
  std::lock_guard lock(workloads_mutex);
  return workloads.of_pid(pid);
}

std::string workload_label(const Workload& w) {
  std::string who = !w.name.empty() ? w.name : w.id.substr(0, 12);
  switch (w.kind) {
    case WorkloadKind::container:
      if (!w.pod.empty()) {
        return sanitize("pod " + (w.pod_namespace.empty() ? "" : w.pod_namespace + "/") +
                        w.pod + (w.runtime.empty() ? "" : " (" + w.runtime + ")"));
      }
      return sanitize((w.runtime.empty() ? "container" : w.runtime) + " " + who);
    case WorkloadKind::container_monitor: {
      std::string runtime = w.runtime.empty() ? "container" : w.runtime;
      if (who.empty()) who = "?";
      if (!w.forwards_to.empty()) {
        std::string port = w.forwards_to.substr(w.forwards_to.rfind(':') + 1);
        return sanitize(runtime + " " + who + " (proxy to its port " + port + ")");
      }
      return sanitize(runtime + " " + who + " (monitor)");
    }
    case WorkloadKind::machine:
      return sanitize("machine " + w.name);
    case WorkloadKind::unit:
    case WorkloadKind::session:
      return sanitize(w.unit);
    case WorkloadKind::none:
      break;
  }
  return "";
}

std::span<const SocketColumn> socket_columns() { return kSocketColumns; }
std::span<const HolderColumn> holder_columns() { return kHolderColumns; }
std::span<const ProcessColumn> process_columns() { return kProcessColumns; }
std::span<const HoldingColumn> holding_columns() { return kHoldingColumns; }

Value SocketColumn::get(const Snapshot& snapshot, const Socket& socket) const {
  return collect([&](CellSink& out) { write(snapshot, socket, out); });
}

Value HolderColumn::get(const Holding& holding, const Process* process) const {
  return collect([&](CellSink& out) { write(holding, process, out); });
}

Value ProcessColumn::get(const Process& process) const {
  return collect([&](CellSink& out) { write(process, out); });
}

Value HoldingColumn::get(const Holding& holding) const {
  return collect([&](CellSink& out) { write(holding, out); });
}

std::string value_text(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
  };
  return std::visit(Visitor{}, value);
}

std::string netns_label(const Snapshot& snapshot, uint64_t inode) {
  NetnsLabelBuffer buf;
  return std::string(netns_label(snapshot, inode, buf));
}

namespace {

// The container each namespace of a snapshot belongs to: the one every
// container (or machine) process in it belongs to; none when they disagree or
// none is in one. Worked out once per snapshot, in one pass over its processes.
struct NetnsContainers {
  const Snapshot* snapshot = nullptr;
  const Process* processes = nullptr;
  size_t count = 0;
  std::unordered_map<uint64_t, std::string> labels;  // "" where they disagree
};
NetnsContainers netns_containers;

std::string_view container_of_netns(const Snapshot& snap, uint64_t inode) {
  std::lock_guard lock(workloads_mutex);
  NetnsContainers& memo = netns_containers;
  auto procs = snap.processes();
  if (memo.snapshot != &snap || memo.processes != procs.data() || memo.count != procs.size()) {
    memo = {&snap, procs.data(), procs.size(), {}};
    for (const Process& p : procs) {
      const Netns* n = snap.netns(p.netns);
      if (p.netns == 0 || n == nullptr || n->is_host) continue;
      const Workload& w = p.cgroup.empty() ? workloads.of_pid(p.pid) : workloads.of(p);
      if (w.kind != WorkloadKind::container && w.kind != WorkloadKind::machine) continue;
      std::string label = workload_label(w);
      auto [it, fresh] = memo.labels.try_emplace(p.netns, label);
      if (!fresh && it->second != label) it->second.clear();
    }
  }
  auto it = memo.labels.find(inode);
  return it == memo.labels.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace

std::string_view netns_label(const Snapshot& snapshot, uint64_t inode,
                             NetnsLabelBuffer& buf) {
  if (const Netns* n = snapshot.netns(inode)) {
    if (n->is_host) return "host";
    if (std::string_view c = container_of_netns(snapshot, inode); !c.empty()) return c;
    if (!n->name.empty()) return n->name;
  }
  auto end = fmt::format_to_n(buf.data(), buf.size(), "net:[{}]", inode).out;
  return {buf.data(), end};
}

}  // namespace portrel
