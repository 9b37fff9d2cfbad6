// The probe behind UdpReuseportRule: three UDP sockets on one port, the third
// bound where udp_lib_lport_inuse() stopping at the newest overlapping socket
// and checking every one give different answers. All binds are on the wildcard
// address, so a fresh namespace with its loopback down is enough.
#include "sources/udp_reuseport_probe.h"

#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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

Result<uint16_t> local_port(int fd) {
  sockaddr_in sin{};
  socklen_t len = sizeof sin;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    return std::unexpected(system_error("getsockname", errno));
  }
  return ntohs(sin.sin_port);
}

Error probe_error(const char* step, const Error& e) {
  return Error{std::string("UDP SO_REUSEPORT probe, ") + step + ": " + e.message,
               e.errno_value};
}

}  // namespace

Result<UdpReuseportRule> probe_udp_reuseport_rule() {
  // A takes a port no socket of the namespace overlaps (it has no SO_REUSEADDR
  // yet, so none can share with it), then lets the others share by SO_REUSEADDR.
  auto a = open_bound_socket(udp_wildcard(0, false, false));
  if (!a) return std::unexpected(probe_error("binding A", a.error()));
  UniqueFd a_fd(*a);
  auto port = local_port(a_fd.get());
  if (!port) return std::unexpected(probe_error("reading A's port", port.error()));
  int one = 1;
  if (setsockopt(a_fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return std::unexpected(probe_error("A", system_error("SO_REUSEADDR", errno)));
  }
  auto b = open_bound_socket(udp_wildcard(*port, true, true));
  if (!b) return std::unexpected(probe_error("binding B", b.error()));
  UniqueFd b_fd(*b);

  auto c = open_bound_socket(udp_wildcard(*port, false, true));
  if (c) {
    close(*c);
    return UdpReuseportRule::first_match;
  }
  if (c.error().errno_value != EADDRINUSE) {
    return std::unexpected(probe_error("binding C", c.error()));
  }
  a_fd.reset(-1);
  auto control = open_bound_socket(udp_wildcard(*port, false, true));
  if (!control) {
    return std::unexpected(probe_error("binding C beside B alone", control.error()));
  }
  close(*control);
  return UdpReuseportRule::every_match;
}

namespace {

constexpr std::string_view kRuleHeader = "portrel-udp-reuseport-rule 1";

// "HEADER\nboot ID\nkernel BUILD\nrule NAME\n"
std::string rule_file_text(UdpReuseportRule rule) {
  return std::string(kRuleHeader) + "\nboot " + boot_id() + "\nkernel " + kernel_build() +
         "\nrule " + std::string(udp_reuseport_rule_name(rule)) + "\n";
}

std::optional<UdpReuseportRule> rule_from_file(const std::string& text) {
  for (UdpReuseportRule rule : {UdpReuseportRule::first_match, UdpReuseportRule::every_match}) {
    if (text == rule_file_text(rule)) return rule;
  }
  return std::nullopt;
}

}  // namespace

UdpReuseportRule udp_reuseport_rule_of_this_kernel(std::string* how) {
  std::string scratch;
  std::string& said = how != nullptr ? *how : scratch;
  std::string path = state_file("udp-reuseport-rule");
  if (!path.empty()) {
    if (auto text = read_trusted_file(path)) {
      if (auto rule = rule_from_file(*text)) {
        said = "remembered for this boot in " + path;
        return *rule;
      }
    }
  }
  Result<UdpReuseportRule> probed = std::unexpected(Error{"no thread"});
  try {
    std::thread([&] {
      if (unshare(CLONE_NEWNET) != 0) {
        probed = std::unexpected(
            system_error("cannot make a private network namespace for the probe", errno));
        return;
      }
      probed = probe_udp_reuseport_rule();
    }).join();
  } catch (const std::system_error&) {
  }
  if (!probed) {
    said = "unknown: " + probed.error().message;
    return UdpReuseportRule::unknown;
  }
  said = "probed in a private network namespace";
  if (!path.empty() && geteuid() == 0) {
    if (std::string problem = write_private_file(path, rule_file_text(*probed)); problem.empty()) {
      said += ", kept in " + path;
    }
  }
  return *probed;
}

}  // namespace portrel
