// The proc connector: a netlink socket bound to the CN_IDX_PROC group, told to
// start with PROC_CN_MCAST_LISTEN; each message is a cn_msg holding one
// proc_event.
#include "sources/proc_events.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portrel {

namespace {

// A new process (not a thread), a process that ran a program, or a process
// whose leader exited; never portrel's own threads, which every
// capture starts and ends.
bool counts(const proc_event& e, pid_t self) {
  switch (e.what) {
    case proc_event::PROC_EVENT_FORK:
      return e.event_data.fork.child_pid == e.event_data.fork.child_tgid &&
             e.event_data.fork.parent_tgid != self;
    case proc_event::PROC_EVENT_EXEC:
      return e.event_data.exec.process_tgid != self;
    case proc_event::PROC_EVENT_EXIT:
      return e.event_data.exit.process_pid == e.event_data.exit.process_tgid &&
             e.event_data.exit.process_tgid != self;
    default:
      return false;
  }
}

}  // namespace

Result<ProcEvents> ProcEvents::open() {
  UniqueFd fd(socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR));
  if (fd.get() < 0) return std::unexpected(system_error("proc connector socket", errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = CN_IDX_PROC;
  sa.nl_pid = 0;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return std::unexpected(system_error("binding the proc connector", errno));
  }
  // nlmsghdr, cn_msg, then the operation (cn_msg ends in a flexible array).
  alignas(nlmsghdr) char request[NLMSG_SPACE(sizeof(cn_msg) + sizeof(uint32_t))] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(request);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(uint32_t));
  header->nlmsg_type = NLMSG_DONE;
  auto* msg = static_cast<cn_msg*>(NLMSG_DATA(header));
  msg->id.idx = CN_IDX_PROC;
  msg->id.val = CN_VAL_PROC;
  msg->len = sizeof(uint32_t);
  uint32_t op = PROC_CN_MCAST_LISTEN;
  std::memcpy(reinterpret_cast<char*>(msg) + sizeof(cn_msg), &op, sizeof op);
  if (send(fd.get(), request, header->nlmsg_len, 0) != static_cast<ssize_t>(header->nlmsg_len)) {
    return std::unexpected(system_error("subscribing to process events", errno));
  }
  return ProcEvents(std::move(fd), getpid());
}

ProcEvents::Drained ProcEvents::drain() {
  Drained out;
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        out.lost = true;
        continue;
      }
      return out;  // EAGAIN: nothing more queued
    }
    size_t left = static_cast<size_t>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_event))) continue;
      const auto* msg = static_cast<const cn_msg*>(NLMSG_DATA(h));
      if (msg->id.idx != CN_IDX_PROC || msg->len < sizeof(proc_event)) continue;
      proc_event event;
      std::memcpy(&event, msg->data, sizeof event);
      if (counts(event, self_)) ++out.events;
    }
  }
}

}  // namespace portrel
