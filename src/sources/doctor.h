// What portrel can see on this host, and why not: the kernel and its BTF, this
// process's privileges, each bpf part, the sock_diag families the kernel
// answers for, bpffs and the pins, the pid namespace and whether every fd table
// is readable. Gathered for `portrel doctor`; nothing here prints.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/bind_request.h"
#include "sources/bpf/bpf_parts.h"
#include "sources/sock_diag.h"

namespace portrel {

/// A sock_diag family or inet protocol, and whether the kernel dumps it.
struct DiagFamily {
  std::string name;  ///< "tcp", "udp", "udplite", "raw", "mptcp", "sctp", "unix", …
  bool available = false;
  std::string detail;  ///< why not ("no diag module: No such file or directory"), or ""
  /// Where portrel reads these sockets from, given the answer: "sock_diag",
  /// "/proc/net/raw (no socket options)", or why it shows none ("unix: paths,
  /// not ports").
  std::string portrel_reads;
};

/// Asks the kernel for an empty dump of each family (no states: no rows) in
/// the calling thread's network namespace; a family without its diag module
/// answers ENOENT. May make the kernel load a module, as ss would.
/// The inet protocols come in Proto's order, with what a capture plans for
/// each given HAVE (plan_socket_parts), then unix, netlink and packet.
std::vector<DiagFamily> probe_diag_families(const ReadersAvailable& have);

struct Capability {
  std::string name;  ///< "CAP_SYS_ADMIN", …
  bool effective = false;
  std::string needed_for;
};

struct HostReport {
  std::string kernel;  ///< release and version
  bool btf = false;    ///< /sys/kernel/btf/vmlinux readable
  uint64_t btf_bytes = 0;
  uid_t euid = 0;
  std::vector<Capability> capabilities;

  bool bpf_built_in = false;
  std::string bpf_object;   ///< the build of the programs (keys the pins and the verdict)
  bool bpf_usable = false;  ///< the programs loaded (tasks and the fd walk)
  std::string bpf_error;    ///< why not, when not usable
  std::string bpf_origin;   ///< loaded, pinned in …
  std::vector<BpfPartStatus> bpf_parts;
  std::string bpf_verdict;  ///< remembered in / written to / not kept
  bool bpffs_mounted = false;  ///< at /sys/fs/bpf

  std::vector<DiagFamily> diag;

  KernelBindRules bind_rules;  ///< where this kernel's bind checks differ
  std::string bind_rules_how;  ///< probed, remembered, or why unknown
  /// The socket-event hooks of watch and record that load here ("listen
  /// (tracepoint), …; not hooked: …"), or "" and why not in socket_events_error.
  std::string socket_events;
  std::string socket_events_error;

  uint64_t pidns = 0;       ///< this process's pid namespace (inode)
  bool initial_pidns = false;  ///< pids are the host's (the bpf iterators' pids)
  size_t processes = 0;
  size_t fd_unreadable = 0;  ///< processes whose fd table could not be read
  std::vector<pid_t> fd_unreadable_examples;  ///< the first few
};

/// Gathers the report: loads (or opens the pins of) the bpf programs, probes
/// the diag families in our own namespace, reads each /proc/PID/fd once.
HostReport examine_host();

}  // namespace portrel
