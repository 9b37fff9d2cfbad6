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
#include "sources/socket_events.h"
#include "util/state_file.h"
#include "util/unique_fd.h"

namespace portrel {
namespace {

constexpr unsigned long kBpfFsMagic = 0xcafe4a11;
constexpr uint64_t kInitialPidns = 0xEFFFFFFCu;  // PROC_PID_INIT_INO
constexpr int kIpprotoMptcp = 262;
constexpr int kAfVsock = 40;

// The request of one family: an empty dump (no states), ready to send.
struct Probe {
  const char* name;
  int family;
  int protocol;  // inet only; above 255 goes in INET_DIAG_REQ_PROTOCOL
};

// Sends an empty dump of P and reads the answer: "" when the kernel dumps it,
// else why not.
std::string ask(const Probe& p, uint32_t seq) {
  struct MnlClose {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
  };
  std::unique_ptr<mnl_socket, MnlClose> nl(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
  if (!nl) return std::string("cannot open NETLINK_SOCK_DIAG: ") + strerror(errno);
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::string("cannot bind NETLINK_SOCK_DIAG: ") + strerror(errno);
  }
  alignas(nlmsghdr) char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  if (p.family == AF_INET || p.family == AF_INET6) {
    auto* req = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    req->sdiag_family = static_cast<uint8_t>(p.family);
    req->sdiag_protocol = static_cast<uint8_t>(p.protocol > 255 ? int{IPPROTO_TCP} : p.protocol);
    req->idiag_states = 0;
    if (p.protocol > 255) mnl_attr_put_u32(nlh, INET_DIAG_REQ_PROTOCOL, p.protocol);
  } else if (p.family == AF_UNIX) {
    auto* req = static_cast<unix_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(unix_diag_req)));
    req->sdiag_family = AF_UNIX;
  } else if (p.family == AF_NETLINK) {
    auto* req =
        static_cast<netlink_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(netlink_diag_req)));
    req->sdiag_family = AF_NETLINK;
    req->sdiag_protocol = NDIAG_PROTO_ALL;
  } else if (p.family == AF_PACKET) {
    auto* req =
        static_cast<packet_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(packet_diag_req)));
    req->sdiag_family = AF_PACKET;
  } else {
    auto* req = static_cast<vsock_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(vsock_diag_req)));
    req->sdiag_family = static_cast<uint8_t>(p.family);
  }
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) {
    return std::string("send: ") + strerror(errno);
  }
  // A dump that fails once it started (no handler for the protocol) says so
  // in NLMSG_DONE's payload; one refused at once, in NLMSG_ERROR.
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl.get(), buf, sizeof buf);
    if (n < 0) return std::string("receive: ") + strerror(errno);
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq) continue;
      if (m->nlmsg_type != NLMSG_DONE && m->nlmsg_type != NLMSG_ERROR) continue;
      int err = 0;
      if (mnl_nlmsg_get_payload_len(m) >= sizeof(int)) {
        memcpy(&err, mnl_nlmsg_get_payload(m), sizeof err);
      }
      if (err == 0) return "";
      if (-err == ENOENT) return "no diag module for it in this kernel";
      return strerror(-err);
    }
  }
}

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

std::vector<DiagFamily> probe_diag_families() {
  static constexpr Probe kProbes[] = {
      {"tcp", AF_INET, IPPROTO_TCP},         {"udp", AF_INET, IPPROTO_UDP},
      {"udplite", AF_INET, IPPROTO_UDPLITE}, {"raw", AF_INET, IPPROTO_RAW},
      {"icmp", AF_INET, IPPROTO_ICMP},
      {"mptcp", AF_INET, kIpprotoMptcp},     {"sctp", AF_INET, IPPROTO_SCTP},
      {"unix", AF_UNIX, 0},                  {"netlink", AF_NETLINK, 0},
      {"packet", AF_PACKET, 0},              {"vsock", kAfVsock, 0},
  };
  std::vector<DiagFamily> out;
  auto seq = static_cast<uint32_t>(time(nullptr));
  for (const Probe& p : kProbes) {
    std::string why = ask(p, seq++);
    std::string_view name = p.name;
    std::string reads;
    if (name == "raw" || name == "icmp") {
      reads = why.empty() && name == "raw" ? "sock_diag"
                                           : "/proc/net/" + std::string(name) +
                                                 "{,6} in each namespace (no socket options)";
      if (name == "icmp") why = "no kernel has one (ping sockets)";
    } else if (name == "unix" || name == "netlink" || name == "packet") {
      reads = "not shown: " + std::string(name) + " sockets have no ports";
    } else if (name == "vsock") {
      reads = why.empty() ? "sock_diag (vsock_diag)"
                          : "the bpf fd walk: only sockets a visible process holds "
                            "(without bpf: none)";
    } else if (name == "sctp") {
      reads = why.empty()                            ? "sock_diag (sctp_diag)"
              : access("/proc/net/sctp", F_OK) != 0 ? "none needed: this kernel has no SCTP"
                                                     : "none: its sockets cannot be listed";
    } else {
      reads = why.empty() ? "sock_diag" : "none: its sockets cannot be listed";
    }
    out.push_back({p.name, why.empty(), why, reads});
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

  r.diag = probe_diag_families();
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
