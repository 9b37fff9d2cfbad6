// examine_host(): each fact from where the kernel keeps it. A diag family is
// probed with a dump that asks for no states, so it costs one round trip and
// returns no rows; the kernel answers ENOENT when no module handles it.
#include "sources/doctor.h"

#include <dirent.h>
#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/vm_sockets_diag.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "sources/bpf/bpf_loader.h"
#include "sources/procfs_source.h"
#include "sources/kernel_bind_rules.h"
#include "sources/sock_diag.h"
#include "sources/socket_events.h"
#include "util/state_file.h"
#include "util/unique_fd.h"

namespace portrel {
namespace {

constexpr unsigned long kBpfFsMagic = 0xcafe4a11;
constexpr uint64_t kInitialPidns = 0xEFFFFFFCu;  // PROC_PID_INIT_INO
constexpr int kAfVsock = 40;

bool capability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[cap / 32].effective >> (cap % 32)) & 1u;
}

uint64_t inode_of(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

std::vector<DiagFamily> probe_diag_families(const ReadersAvailable& have) {
  struct Probe {
    std::string_view name;
    int family;
    int protocol;
  };
  static constexpr Probe kOthers[] = {
      {"unix", AF_UNIX, 0}, {"netlink", AF_NETLINK, 0}, {"packet", AF_PACKET, 0}};
  std::vector<Proto> every;
  for (const ProtoInfo& info : protocols()) every.push_back(info.proto);
  std::vector<DiagFamily> out;
  // What a capture plans for each protocol, with the kernel's own answer.
  for (const SocketPart& part : plan_socket_parts(every, have)) {
    std::string_view name = proto_name(part.proto);
    std::string why = part.proto == Proto::icmp
                          ? "no kernel has one (ping sockets)"
                          : sock_diag_refusal(part.proto == Proto::vsock ? kAfVsock : AF_INET,
                                              proto_info(part.proto).ip_protocol);
    out.push_back({std::string(name), why.empty(), why, describe(part)});
  }
  for (const Probe& p : kOthers) {
    std::string why = sock_diag_refusal(p.family, p.protocol);
    out.push_back({std::string(p.name), why.empty(), why,
                   "not shown: " + std::string(p.name) + " sockets have no ports"});
  }
  return out;
}

HostReport examine_host() {
  HostReport r;
  r.kernel = kernel_build();
  struct stat st;
  r.btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0 &&
          stat("/sys/kernel/btf/vmlinux", &st) == 0;
  if (r.btf) r.btf_bytes = static_cast<uint64_t>(st.st_size);
  r.euid = geteuid();
  constexpr int kCapPerfmon = 38, kCapBpf = 39;
  r.capabilities = {
      {"CAP_SYS_ADMIN", capability(CAP_SYS_ADMIN), "bpf (or CAP_BPF and CAP_PERFMON), setns"},
      {"CAP_BPF", capability(kCapBpf), "loading the bpf programs"},
      {"CAP_PERFMON", capability(kCapPerfmon), "bpf iterators over tasks"},
      {"CAP_SYS_PTRACE", capability(CAP_SYS_PTRACE),
       "reading other users' fd tables; --probe-sockopts (pidfd_getfd)"},
      {"CAP_DAC_READ_SEARCH", capability(CAP_DAC_READ_SEARCH), "reading /proc/PID/fd"},
      {"CAP_NET_ADMIN", capability(CAP_NET_ADMIN), "SOCK_DESTROY (portrel free)"},
  };

  r.bpf_built_in = bpf_built_in();
  r.bpf_object = bpf_object_id();
  BpfLoadReport load;
  auto it = load_bpf_iterators(BpfFilter{}, &load);
  r.bpf_usable = it.has_value();
  if (it) {
    r.bpf_origin = (*it)->origin();
  } else {
    r.bpf_error = it.error().message;
  }
  r.bpf_parts = std::move(load.parts);
  r.bpf_verdict = std::move(load.verdict);
  struct statfs fs;
  r.bpffs_mounted = statfs("/sys/fs/bpf", &fs) == 0 &&
                    static_cast<unsigned long>(fs.f_type) == kBpfFsMagic;

  r.diag = probe_diag_families(ReadersAvailable{
      .table_rows = it && (*it)->has_rows(), .fd_walk = it.has_value(), .port_asked = false});
  r.bind_rules = kernel_bind_rules_of_this_kernel(&r.bind_rules_how);

  r.pidns = inode_of("/proc/self/ns/pid");
  r.initial_pidns = r.pidns == kInitialPidns;
  if (DIR* proc = opendir("/proc")) {
    while (dirent* e = readdir(proc)) {
      char* end = nullptr;
      long pid = strtol(e->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      if (fd_table_readable(static_cast<pid_t>(pid))) {
        ++r.processes;
        continue;
      }
      if (access(("/proc/" + std::string(e->d_name)).c_str(), F_OK) != 0) continue;  // exited
      ++r.processes;
      ++r.fd_unreadable;
      if (r.fd_unreadable_examples.size() < 5) {
        r.fd_unreadable_examples.push_back(static_cast<pid_t>(pid));
      }
    }
    closedir(proc);
  }
  if (auto events = SocketEvents::open()) {
    r.socket_events = (*events)->hooks();
  } else {
    r.socket_events_error = events.error().message;
  }
  return r;
}

}  // namespace portrel
