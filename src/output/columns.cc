// Column declarations of the socket and holder relations. Names and meanings
// here are the documented JSON/CSV contract: change them only by adding.
#include "output/columns.h"

#include <array>

namespace portrel {
namespace {

Value tristate(Tristate t) {
  if (t == Tristate::unknown) return std::monostate{};
  return t == Tristate::yes;
}

Value integer(uint64_t v) { return static_cast<int64_t>(v); }

constexpr std::array kSocketColumns = {
    SocketColumn{"inode", "integer",
                 "sockfs inode (0 for sockets with no file, e.g. TIME_WAIT)",
                 [](const Snapshot&, const Socket& s) { return integer(s.inode); }},
    SocketColumn{"cookie", "integer", "kernel socket cookie",
                 [](const Snapshot&, const Socket& s) { return integer(s.cookie); }},
    SocketColumn{"netns", "integer", "inode of the network namespace",
                 [](const Snapshot&, const Socket& s) { return integer(s.netns); }},
    SocketColumn{"netns_name", "text", "\"host\", the /run/netns name, or net:[INODE]",
                 [](const Snapshot& snap, const Socket& s) {
                   return Value(netns_label(snap, s.netns));
                 }},
    SocketColumn{"proto", "text", "tcp, udp, udplite or raw",
                 [](const Snapshot&, const Socket& s) {
                   return Value(std::string(proto_name(s.proto)));
                 }},
    SocketColumn{"family", "integer", "4 or 6",
                 [](const Snapshot&, const Socket& s) { return integer(s.family); }},
    SocketColumn{"state", "text",
                 "kernel state: LISTEN, ESTABLISHED, UNCONN, TIME_WAIT, ...",
                 [](const Snapshot&, const Socket& s) {
                   return Value(std::string(state_name(s.proto, s.state)));
                 }},
    SocketColumn{"local_address", "text", "local address (0.0.0.0 or :: for any)",
                 [](const Snapshot&, const Socket& s) {
                   return Value(s.local_addr.to_string());
                 }},
    SocketColumn{
        "local_port", "integer", "local port",
        [](const Snapshot&, const Socket& s) { return integer(s.local_port); }},
    SocketColumn{"remote_address", "text", "peer address (0.0.0.0 or :: when none)",
                 [](const Snapshot&, const Socket& s) {
                   return Value(s.remote_addr.to_string());
                 }},
    SocketColumn{
        "remote_port", "integer", "peer port (0 when none)",
        [](const Snapshot&, const Socket& s) { return integer(s.remote_port); }},
    SocketColumn{"uid", "integer", "uid that created the socket",
                 [](const Snapshot&, const Socket& s) { return integer(s.uid); }},
    SocketColumn{
        "reuseaddr", "boolean", "SO_REUSEADDR (null when unknown)",
        [](const Snapshot&, const Socket& s) { return tristate(s.reuseaddr); }},
    SocketColumn{
        "reuseport", "boolean", "SO_REUSEPORT (null when unknown)",
        [](const Snapshot&, const Socket& s) { return tristate(s.reuseport); }},
    SocketColumn{"v6only", "boolean", "IPV6_V6ONLY (null when unknown or IPv4)",
                 [](const Snapshot&, const Socket& s) { return tristate(s.v6only); }},
    SocketColumn{"reuseaddr_from", "text",
                 "where reuseaddr came from: none, inferred, sock_diag, getsockopt, bpf",
                 [](const Snapshot&, const Socket& s) {
                   return Value(std::string(opt_source_name(s.reuseaddr_from)));
                 }},
    SocketColumn{"reuseport_from", "text",
                 "where reuseport came from: none, inferred, sock_diag, getsockopt, bpf",
                 [](const Snapshot&, const Socket& s) {
                   return Value(std::string(opt_source_name(s.reuseport_from)));
                 }},
    SocketColumn{"v6only_from", "text",
                 "where v6only came from: none, inferred, sock_diag, getsockopt, bpf",
                 [](const Snapshot&, const Socket& s) {
                   return Value(std::string(opt_source_name(s.v6only_from)));
                 }},
    SocketColumn{"bound_dev", "integer", "ifindex of SO_BINDTODEVICE (0 when unbound)",
                 [](const Snapshot&, const Socket& s) { return integer(s.bound_dev); }},
    SocketColumn{"rx_queue", "integer", "receive queue (accept backlog for listeners)",
                 [](const Snapshot&, const Socket& s) { return integer(s.rx_queue); }},
    SocketColumn{"tx_queue", "integer", "send queue (backlog limit for listeners)",
                 [](const Snapshot&, const Socket& s) { return integer(s.tx_queue); }},
    SocketColumn{"owner", "text",
                 "why no holder is visible (null when the socket has holders)",
                 [](const Snapshot& snap, const Socket& s) {
                   Unowned why = snap.why_unowned(s);
                   if (why == Unowned::none) return Value();
                   return Value(std::string(unowned_reason(why)));
                 }},
};

constexpr std::array kHolderColumns = {
    HolderColumn{"pid", "integer", "process id",
                 [](const Holding& h, const Process*) { return integer(h.pid); }},
    HolderColumn{"fd", "integer", "file descriptor number in that process",
                 [](const Holding& h, const Process*) { return integer(h.fd); }},
    HolderColumn{"cloexec", "boolean", "close-on-exec set on the descriptor",
                 [](const Holding& h, const Process*) { return Value(h.cloexec); }},
    HolderColumn{
        "comm", "text", "process name (/proc/PID/comm)",
        [](const Holding&, const Process* p) { return p ? Value(p->comm) : Value(); }},
    HolderColumn{"exe", "text", "executable path (null when unreadable)",
                 [](const Holding&, const Process* p) {
                   return p && !p->exe.empty() ? Value(p->exe) : Value();
                 }},
    HolderColumn{"ppid", "integer", "parent process id",
                 [](const Holding&, const Process* p) {
                   return p ? integer(p->ppid) : Value();
                 }},
    HolderColumn{
        "user", "text", "user name of the process's real uid",
        [](const Holding&, const Process* p) { return p ? Value(p->user) : Value(); }},
    HolderColumn{"cmdline", "text", "command line, arguments joined by spaces",
                 [](const Holding&, const Process* p) {
                   return p ? Value(p->cmdline) : Value();
                 }},
};

constexpr std::array kProcessColumns = {
    ProcessColumn{"pid", "integer", "process id",
                  [](const Process& p) { return integer(p.pid); }},
    ProcessColumn{"ppid", "integer", "parent process id",
                  [](const Process& p) { return integer(p.ppid); }},
    ProcessColumn{"uid", "integer", "real uid of the process",
                  [](const Process& p) { return integer(p.uid); }},
    ProcessColumn{"user", "text", "user name of the real uid",
                  [](const Process& p) { return Value(p.user); }},
    ProcessColumn{"comm", "text", "process name (/proc/PID/comm)",
                  [](const Process& p) { return Value(p.comm); }},
    ProcessColumn{"exe", "text", "executable path (null when unreadable)",
                  [](const Process& p) {
                    return p.exe.empty() ? Value() : Value(p.exe);
                  }},
    ProcessColumn{"cmdline", "text", "command line, arguments joined by spaces",
                  [](const Process& p) { return Value(p.cmdline); }},
    ProcessColumn{"netns", "integer",
                  "inode of its network namespace (null when unreadable)",
                  [](const Process& p) { return p.netns ? integer(p.netns) : Value(); }},
    ProcessColumn{"pidns", "integer",
                  "inode of its pid namespace (null when unreadable)",
                  [](const Process& p) { return p.pidns ? integer(p.pidns) : Value(); }},
    ProcessColumn{"cgroup", "text",
                  "cgroup v2 path: its container or service (null when unreadable)",
                  [](const Process& p) {
                    return p.cgroup.empty() ? Value() : Value(p.cgroup);
                  }},
    ProcessColumn{"start_time", "integer", "start time in clock ticks after boot",
                  [](const Process& p) { return integer(p.start_time); }},
};

constexpr std::array kHoldingColumns = {
    HoldingColumn{"pid", "integer", "process holding the socket",
                  [](const Holding& h) { return integer(h.pid); }},
    HoldingColumn{"fd", "integer", "file descriptor number in that process",
                  [](const Holding& h) { return integer(h.fd); }},
    HoldingColumn{"inode", "integer", "sockfs inode of the socket held",
                  [](const Holding& h) { return integer(h.inode); }},
    HoldingColumn{"cloexec", "boolean", "close-on-exec set on the descriptor",
                  [](const Holding& h) { return Value(h.cloexec); }},
};

}  // namespace

std::span<const SocketColumn> socket_columns() { return kSocketColumns; }
std::span<const HolderColumn> holder_columns() { return kHolderColumns; }
std::span<const ProcessColumn> process_columns() { return kProcessColumns; }
std::span<const HoldingColumn> holding_columns() { return kHoldingColumns; }

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
  if (const Netns* n = snapshot.netns(inode)) {
    if (n->is_host) return "host";
    if (!n->name.empty()) return n->name;
  }
  return "net:[" + std::to_string(inode) + "]";
}

}  // namespace portrel
