// pidfd signalling and SOCK_DESTROY. A pidfd is taken first, then the start time
// read under /proc/PID: if the pid was reused between the plan and now, the
// start time differs and the process is left alone; once the pidfd is held,
// the pid cannot be reused under it. Exits are awaited with poll() on the pidfds.
#include "sources/port_freeing.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "sources/procfs.h"
#include "util/unique_fd.h"

namespace portrel {
namespace {

using State = SignalOutcome::State;

// glibc 2.36's <sys/pidfd.h> declares these without C linkage: the system calls.
int pidfd_open(pid_t pid, unsigned flags) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, flags));
}
int pidfd_send_signal(int pidfd, int sig, siginfo_t* info, unsigned flags) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

std::optional<uint64_t> start_time_of(const std::string& proc_root, pid_t pid) {
  UniqueFd fd(open((proc_root + "/" + std::to_string(pid) + "/stat").c_str(),
                   O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = read(fd.get(), buf, sizeof buf);
  if (n <= 0) return std::nullopt;
  auto stat = procfs::parse_stat(std::string_view(buf, static_cast<size_t>(n)));
  if (!stat) return std::nullopt;
  return stat->start_time;
}

// Waits until every pidfd in FDS (with its outcome) is readable, i.e. its
// process exited, or TIMEOUT passes; marks the exited ones.
void await_exits(std::vector<std::pair<UniqueFd, SignalOutcome*>>& fds,
                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<pollfd> waiting;
    std::vector<SignalOutcome*> whose;
    for (auto& [fd, out] : fds) {
      if (out->state != State::still_running) continue;
      waiting.push_back({fd.get(), POLLIN, 0});
      whose.push_back(out);
    }
    if (waiting.empty()) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    int n = poll(waiting.data(), waiting.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return;
    for (size_t i = 0; i < waiting.size(); ++i) {
      if (waiting[i].revents != 0) whose[i]->state = State::exited;
    }
  }
}

}  // namespace

std::string_view signal_state_name(State state) {
  switch (state) {
    case State::exited: return "exited";
    case State::still_running: return "still running";
    case State::gone: return "had already exited";
    case State::reused: return "pid reused by another process: not signalled";
    case State::not_permitted: return "not permitted";
    case State::failed: return "failed";
  }
  return "?";
}

bool may_signal(pid_t pid) { return kill(pid, 0) == 0 || errno != EPERM; }

std::vector<SignalOutcome> terminate_processes(const std::vector<SignalTarget>& targets,
                                               std::chrono::milliseconds timeout, bool force,
                                               const std::string& proc_root) {
  std::vector<SignalOutcome> out(targets.size());
  std::vector<std::pair<UniqueFd, SignalOutcome*>> live;
  for (size_t i = 0; i < targets.size(); ++i) {
    const SignalTarget& t = targets[i];
    SignalOutcome& o = out[i];
    o.pid = t.pid;
    UniqueFd pidfd(pidfd_open(t.pid, 0));
    if (pidfd.get() < 0) {
      o.state = errno == ESRCH ? State::gone : State::failed;
      o.detail = strerror(errno);
      continue;
    }
    // The pidfd holds this pid's process now; is it the plan's?
    auto start = start_time_of(proc_root, t.pid);
    if (!start) {
      o.state = State::gone;
      continue;
    }
    if (*start != t.start_time) {
      o.state = State::reused;
      continue;
    }
    if (pidfd_send_signal(pidfd.get(), SIGTERM, nullptr, 0) != 0) {
      o.state = errno == EPERM ? State::not_permitted
                : errno == ESRCH ? State::gone
                                 : State::failed;
      o.detail = strerror(errno);
      continue;
    }
    o.state = State::still_running;
    live.emplace_back(std::move(pidfd), &o);
  }
  await_exits(live, timeout);
  if (!force) return out;
  bool any = false;
  for (auto& [fd, o] : live) {
    if (o->state != State::still_running) continue;
    if (pidfd_send_signal(fd.get(), SIGKILL, nullptr, 0) == 0) {
      o->killed = any = true;
    } else if (errno == ESRCH) {
      o->state = State::exited;
    }
  }
  if (any) await_exits(live, timeout);
  return out;
}

Result<void> destroy_socket(const Socket& s) {
  struct Close {
    void operator()(mnl_socket* nl) const { mnl_socket_close(nl); }
  };
  std::unique_ptr<mnl_socket, Close> nl(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
  if (!nl) return std::unexpected(system_error("open NETLINK_SOCK_DIAG", errno));
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::unexpected(system_error("bind NETLINK_SOCK_DIAG", errno));
  }
  alignas(nlmsghdr) char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = SOCK_DESTROY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
  auto* req = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
  req->sdiag_family = s.family == 6 ? AF_INET6 : AF_INET;
  req->sdiag_protocol = s.proto == Proto::udp ? IPPROTO_UDP : IPPROTO_TCP;
  req->idiag_states = ~0u;
  req->id.idiag_sport = htons(s.local_port);
  req->id.idiag_dport = htons(s.remote_port);
  std::memcpy(req->id.idiag_src, s.local_addr.bytes.data(), s.family == 6 ? 16 : 4);
  std::memcpy(req->id.idiag_dst, s.remote_addr.bytes.data(), s.family == 6 ? 16 : 4);
  req->id.idiag_if = s.bound_dev;
  req->id.idiag_cookie[0] = static_cast<uint32_t>(s.cookie);
  req->id.idiag_cookie[1] = static_cast<uint32_t>(s.cookie >> 32);
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) {
    return std::unexpected(system_error("send SOCK_DESTROY", errno));
  }
  ssize_t n = mnl_socket_recvfrom(nl.get(), buf, sizeof buf);
  if (n < 0) return std::unexpected(system_error("receive SOCK_DESTROY's answer", errno));
  if (mnl_cb_run(buf, static_cast<size_t>(n), nlh->nlmsg_seq, mnl_socket_get_portid(nl.get()),
                 nullptr, nullptr) < 0) {
    int err = errno;
    std::string why = err == EOPNOTSUPP ? " (the kernel has no CONFIG_INET_DIAG_DESTROY)"
                      : err == EPERM    ? " (needs CAP_NET_ADMIN)"
                      : err == ENOENT   ? " (the socket is gone)"
                                        : "";
    return std::unexpected(system_error("SOCK_DESTROY" + why, err));
  }
  return {};
}

}  // namespace portrel
