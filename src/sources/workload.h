// Which container, Kubernetes pod, machine or systemd unit a process belongs
// to, from what the kernel and the runtimes leave on disk: the paths in
// /proc/PID/cgroup name the kind of workload and its id, and the runtimes'
// state files name the container and its pod. No daemon is asked (no Docker,
// containerd or CRI socket). The path parsers are pure; name_workload reads
// small files under a root directory the caller picks ("/" in production).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "portrel/model.h"

namespace portrel {

/// What a process runs in, from least to most specific. When the lines of one
/// /proc/PID/cgroup disagree (hybrid hosts), the most specific kind wins.
enum class WorkloadKind {
  none,               ///< the root cgroup, or a path portrel does not know
  unit,               ///< a systemd service, scope or slice (system or user manager)
  session,            ///< a login session: session-N.scope
  container_monitor,  ///< a runtime process beside a container: conmon, LXC monitor
  machine,            ///< a guest registered with systemd-machined: nspawn, libvirt
  container,          ///< docker, podman, containerd, CRI-O, LXC, LXD
};

/// "", "unit", "session", "container-monitor", "machine", "container".
std::string_view workload_kind_name(WorkloadKind kind);

struct Workload {
  WorkloadKind kind = WorkloadKind::none;
  /// docker, podman, containerd, cri-o, lxc, lxd, incus, nspawn, libvirt or
  /// systemd; "" when the path does not say (a bare id under Kubernetes' cgroupfs
  /// driver) and no state file told.
  std::string runtime;
  /// The 64-hex container id; "" for LXC, machines, units and podman's conmon
  /// under the cgroupfs manager (see conmon_args).
  std::string id;
  std::string name;  ///< container or machine name; untrusted bytes, "" when unknown
  std::string pod, pod_namespace, pod_uid;  ///< Kubernetes, when known
  /// The deepest systemd unit on the path ("nginx.service", "session-3.scope",
  /// "docker-ID.scope"); in a guest that runs systemd, the guest's unit.
  std::string unit;
  std::string cgroup;  ///< the path the answer came from
  /// A container monitor that forwards a published port (docker-proxy): the
  /// container's address and port it forwards to ("172.17.0.2:80"); "" else.
  std::string forwards_to;
};

/// The workload one cgroup path names (the part after the second ':' of a
/// /proc/PID/cgroup line). The deepest container, monitor or machine on the path
/// wins, so a container nested in another (a Kubernetes node in Docker) is the
/// inner one. LXC and machine names come from the path; other names stay "".
Workload workload_of_cgroup_path(std::string_view path);

/// The workload of a whole /proc/PID/cgroup text: cgroup v2 ("0::/PATH"), v1
/// ("4:memory:/PATH") or both (hybrid hosts, where the v2 line may be "0::/"
/// while the v1 controllers carry the container's path). Each line's path is
/// parsed; the most specific kind wins, and among equals the v2 line, then
/// name=systemd, then the others in order.
Workload workload_of_cgroup_text(std::string_view proc_pid_cgroup);

/// Fills name, pod, pod_namespace, pod_uid (and runtime when "") of a container
/// or container monitor with an id, from the runtimes' state files under ROOT:
/// Docker's containers/ID/config.v2.json; the OCI config.json annotations of
/// containerd's tasks and of containers/storage (CRI-O); containers/storage's
/// containers.json (Podman keeps the name there and nowhere else readable:
/// not in config.json), rootful and, for user@UID.service paths, rootless under
/// the user's home from ROOT/etc/passwd. An LXC container whose name LXD or
/// Incus knows gets runtime "lxd" or "incus". Reads regular files of at most
/// 4 MiB; never throws; a missing, unreadable or malformed file leaves the
/// fields as they were. The files may change while read: a half-written one is
/// malformed, not an error.
void name_workload(Workload& workload, const std::string& root = "/");

/// The container id (-c, --cid) and name (-n, --name) on conmon's command line,
/// NUL-separated as in /proc/PID/cmdline or joined by spaces as in
/// Process::cmdline. Podman's conmon holds the host side of published ports
/// (podman 4 keeps them open to reserve them), and under the cgroupfs manager
/// it runs in "/libpod_parent/conmon", a path without the id: this is how the
/// port is tied to its container. nullopt when argv[0] is not conmon or there
/// is no id.
struct ConmonArgs {
  std::string id;
  std::string name;
};
std::optional<ConmonArgs> conmon_args(std::string_view cmdline);

/// Where docker-proxy forwards the host port it holds: -container-ip and
/// -container-port of its command line (NUL- or space-separated). nullopt when
/// argv[0] is not docker-proxy or either is missing.
struct DockerProxyArgs {
  std::string container_ip;
  std::string container_port;
};
std::optional<DockerProxyArgs> docker_proxy_args(std::string_view cmdline);

/// Whether a captured process may run in a container, judged from what every
/// capture has (no file read): a pid or network namespace other than
/// portrel's own (HOST_PIDNS, HOST_NETNS), or the name of a runtime's helper
/// that holds published ports on the host (conmon, docker-proxy, rootlessport,
/// slirp4netns, pasta). A view that reads no cgroups asks only these.
bool may_be_in_container(const Process& process, uint64_t host_pidns, uint64_t host_netns);

/// The named workload of each distinct /proc/PID/cgroup text, computed once per
/// run (the processes of one container share one text). Not thread-safe.
class WorkloadCache {
 public:
  explicit WorkloadCache(std::string root = "/") : root_(std::move(root)) {}

  /// workload_of_cgroup_text then name_workload, or the answer already found
  /// for the same text. The reference lives as long as the cache.
  const Workload& of(std::string_view proc_pid_cgroup);

  /// The workload of a captured process: when its command line is conmon's,
  /// the container it watches (kind container_monitor: podman's conmon holds
  /// the host side of published ports, and under the cgroupfs manager its
  /// cgroup has no id); else that of its cgroup path (Process::cgroup). Named
  /// from the state files; cached per path and per conmon id.
  const Workload& of(const Process& process);

  /// The same for a live process whose capture read no cgroup or command line:
  /// both are read from PROC_ROOT/PID. A process that exited names none.
  const Workload& of_pid(pid_t pid, const std::string& proc_root = "/proc");

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text);
    }
  };
  std::string root_;
  std::unordered_map<std::string, Workload, Hash, std::equal_to<>> by_text_;
};

}  // namespace portrel
