// The probes behind KernelBindRules. UDP: three sockets on one port, the third
// bound where udp_lib_lport_inuse() stopping at the newest overlapping socket
// and checking every one give different answers (all on the wildcard address).
// TCP: a v4-mapped bind beside ::ffff:0.0.0.0, and a SO_REUSEPORT bind that
// only a shortcut set by the port's first socket lets through.
#include "sources/kernel_bind_rules.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>
#include <thread>

#include "sources/bind_probe.h"
#include "util/state_file.h"
#include "util/unique_fd.h"

namespace portrel {
namespace {

BindRequest udp_wildcard(uint16_t port, bool reuseaddr, bool reuseport) {
  BindRequest r;
  r.proto = Proto::udp;
  r.family = 4;
  r.address = *Address::parse("0.0.0.0");
  r.port = port;
  r.reuseaddr = reuseaddr;
  r.reuseport = reuseport;
  return r;
}

BindRequest tcp_bind(const char* address, uint16_t port, bool reuseport) {
  BindRequest r;
  r.proto = Proto::tcp;
  r.address = *Address::parse(address);
  r.family = r.address.family;
  r.port = port;
  r.reuseport = reuseport;
  return r;
}

Result<uint16_t> local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return std::unexpected(system_error("getsockname", errno));
  }
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

Error probe_error(const char* probe, const char* step, const Error& e) {
  return Error{std::string(probe) + " probe, " + step + ": " + e.message, e.errno_value};
}

Error udp_error(const char* step, const Error& e) {
  return probe_error("UDP SO_REUSEPORT", step, e);
}

// Brings the namespace's loopback up (a fresh namespace has it down).
Result<void> loopback_up() {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (fd.get() < 0 || ioctl(fd.get(), SIOCGIFFLAGS, &ifr) != 0) {
    return std::unexpected(system_error("reading the loopback's flags", errno));
  }
  if (ifr.ifr_flags & IFF_UP) return {};
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(fd.get(), SIOCSIFFLAGS, &ifr) != 0) {
    return std::unexpected(system_error("bringing the loopback up", errno));
  }
  return {};
}

}  // namespace

Result<UdpReuseportRule> probe_udp_reuseport_rule() {
  // A takes a port no socket of the namespace overlaps (it has no SO_REUSEADDR
  // yet, so none can share with it), then lets the others share by SO_REUSEADDR.
  auto a = open_bound_socket(udp_wildcard(0, false, false));
  if (!a) return std::unexpected(udp_error("binding A", a.error()));
  UniqueFd a_fd(*a);
  auto port = local_port(a_fd.get());
  if (!port) return std::unexpected(udp_error("reading A's port", port.error()));
  int one = 1;
  if (setsockopt(a_fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return std::unexpected(udp_error("A", system_error("SO_REUSEADDR", errno)));
  }
  auto b = open_bound_socket(udp_wildcard(*port, true, true));
  if (!b) return std::unexpected(udp_error("binding B", b.error()));
  UniqueFd b_fd(*b);

  auto c = open_bound_socket(udp_wildcard(*port, false, true));
  if (c) {
    close(*c);
    return UdpReuseportRule::first_match;
  }
  if (c.error().errno_value != EADDRINUSE) {
    return std::unexpected(udp_error("binding C", c.error()));
  }
  a_fd.reset(-1);
  auto control = open_bound_socket(udp_wildcard(*port, false, true));
  if (!control) {
    return std::unexpected(udp_error("binding C beside B alone", control.error()));
  }
  close(*control);
  return UdpReuseportRule::every_match;
}

Result<bool> probe_tcp_mapped_any_found() {
  const char* what = "TCP ::ffff:0.0.0.0";
  auto any = open_bound_socket(tcp_bind("::ffff:0.0.0.0", 0, false));
  if (!any) return std::unexpected(probe_error(what, "binding ::ffff:0.0.0.0", any.error()));
  UniqueFd any_fd(*any);
  auto port = local_port(any_fd.get());
  if (!port) return std::unexpected(probe_error(what, "reading its port", port.error()));
  auto mapped = open_bound_socket(tcp_bind("::ffff:127.0.0.1", *port, false));
  if (mapped) {
    close(*mapped);
    return false;
  }
  if (mapped.error().errno_value == EADDRINUSE) return true;
  return std::unexpected(probe_error(what, "binding ::ffff:127.0.0.1", mapped.error()));
}

Result<bool> probe_tcp_first_bind_sets_shortcut(uid_t other_uid) {
  const char* what = "TCP first-bind shortcut";
  auto as = [&](uid_t uid, const BindRequest& r) -> Result<int> {
    if (auto switched = set_thread_euid(uid); !switched) {
      return std::unexpected(switched.error());
    }
    auto fd = open_bound_socket(r);
    if (auto back = set_thread_euid(0); !back) {
      if (fd) close(*fd);
      return std::unexpected(back.error());
    }
    return fd;
  };
  auto listener = as(other_uid, tcp_bind("127.0.0.1", 0, true));
  if (!listener) {
    return std::unexpected(probe_error(what, "binding the listener", listener.error()));
  }
  UniqueFd listener_fd(*listener);
  auto port = local_port(listener_fd.get());
  if (!port) return std::unexpected(probe_error(what, "reading its port", port.error()));
  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(*port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listen(listener_fd.get(), 1) != 0 || client.get() < 0 ||
      connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    return std::unexpected(
        probe_error(what, "connecting to the listener", system_error("connect", errno)));
  }
  UniqueFd accepted(accept4(listener_fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (accepted.get() < 0) {
    return std::unexpected(probe_error(what, "accepting", system_error("accept", errno)));
  }
  auto wildcard = as(other_uid, tcp_bind("0.0.0.0", *port, true));
  if (wildcard) {
    close(*wildcard);
    return true;
  }
  if (wildcard.error().errno_value == EADDRINUSE) return false;
  return std::unexpected(probe_error(what, "binding 0.0.0.0", wildcard.error()));
}

KernelBindRules probe_kernel_bind_rules(uid_t other_uid, std::string* problems) {
  KernelBindRules rules;
  auto note = [&](const Error& e) {
    if (problems) *problems += (problems->empty() ? "" : "\n") + e.message;
  };
  if (auto udp = probe_udp_reuseport_rule()) {
    rules.udp_reuseport = *udp;
  } else {
    note(udp.error());
  }
  if (auto found = probe_tcp_mapped_any_found()) {
    rules.tcp_mapped_any_found = *found ? Tristate::yes : Tristate::no;
  } else {
    note(found.error());
  }
  if (auto first = probe_tcp_first_bind_sets_shortcut(other_uid)) {
    rules.tcp_first_bind_sets_shortcut = *first ? Tristate::yes : Tristate::no;
  } else {
    note(first.error());
  }
  return rules;
}

std::string describe(const KernelBindRules& rules) {
  auto said = [](Tristate t) {
    return t == Tristate::yes ? "yes" : t == Tristate::no ? "no" : "unknown";
  };
  return "UDP SO_REUSEPORT " + std::string(udp_reuseport_rule_name(rules.udp_reuseport)) +
         "; TCP ::ffff:0.0.0.0 found: " + said(rules.tcp_mapped_any_found) +
         "; TCP first bind sets the shortcut: " + said(rules.tcp_first_bind_sets_shortcut);
}

namespace {

constexpr std::string_view kRulesHeader = "portrel-kernel-bind-rules 1";
constexpr uid_t kNobody = 65534;

// "HEADER\nboot ID\nkernel BUILD\nrules DESCRIPTION\n"
std::string rules_file_text(const KernelBindRules& rules) {
  return std::string(kRulesHeader) + "\nboot " + boot_id() + "\nkernel " + kernel_build() +
         "\nrules " + describe(rules) + "\n";
}

bool complete(const KernelBindRules& rules) {
  return rules.udp_reuseport != UdpReuseportRule::unknown &&
         rules.tcp_mapped_any_found != Tristate::unknown &&
         rules.tcp_first_bind_sets_shortcut != Tristate::unknown;
}

std::optional<KernelBindRules> rules_from_file(const std::string& text) {
  for (UdpReuseportRule udp : {UdpReuseportRule::first_match, UdpReuseportRule::every_match}) {
    for (Tristate mapped : {Tristate::yes, Tristate::no}) {
      for (Tristate first : {Tristate::yes, Tristate::no}) {
        KernelBindRules rules{udp, mapped, first};
        if (text == rules_file_text(rules)) return rules;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

KernelBindRules kernel_bind_rules_of_this_kernel(std::string* how) {
  std::string scratch;
  std::string& said = how != nullptr ? *how : scratch;
  std::string path = state_file("kernel-bind-rules");
  if (!path.empty()) {
    if (auto text = read_trusted_file(path)) {
      if (auto rules = rules_from_file(*text)) {
        said = "remembered for this boot in " + path;
        return *rules;
      }
    }
  }
  KernelBindRules probed;
  std::string problems = "no thread";
  try {
    std::thread([&] {
      problems.clear();
      if (unshare(CLONE_NEWNET) != 0) {
        problems = system_error("cannot make a private network namespace for the probes",
                                errno).message;
        return;
      }
      if (auto up = loopback_up(); !up) {
        problems = up.error().message;
        probed.udp_reuseport = probe_udp_reuseport_rule().value_or(UdpReuseportRule::unknown);
        return;
      }
      probed = probe_kernel_bind_rules(kNobody, &problems);
    }).join();
  } catch (const std::system_error&) {
  }
  if (!problems.empty()) {
    said = "not all known: " + problems.substr(0, problems.find('\n'));
    return probed;
  }
  said = "probed in a private network namespace";
  if (!path.empty() && geteuid() == 0 && complete(probed)) {
    if (std::string problem = write_private_file(path, rules_file_text(probed));
        problem.empty()) {
      said += ", kept in " + path;
    }
  }
  return probed;
}

}  // namespace portrel
