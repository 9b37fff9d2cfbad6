// Port specifications. Service names are looked up in /etc/services with
// getservbyname_r, for the protocol given or for tcp then udp.
#include "cli/port_spec.h"

#include <netdb.h>

#include <charconv>
#include <string>

namespace portrel {
namespace {

std::optional<uint16_t> lookup_service(std::string_view name,
                                       std::optional<Proto> proto) {
  std::string n(name);
  for (const char* p : {"tcp", "udp"}) {
    if (proto && proto_name(*proto) != p) continue;
    struct servent entry;
    struct servent* found = nullptr;
    char buf[1024];
    if (getservbyname_r(n.c_str(), p, &entry, buf, sizeof buf, &found) == 0 && found) {
      return ntohs(static_cast<uint16_t>(found->s_port));
    }
  }
  return std::nullopt;
}

Result<uint16_t> parse_port(std::string_view text, std::optional<Proto> proto,
                            std::string_view whole) {
  if (text.empty())
    return std::unexpected(Error{"missing port in '" + std::string(whole) + "'"});
  if (text.front() >= '0' && text.front() <= '9') {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) {
      return std::unexpected(Error{"invalid port '" + std::string(text) +
                                   "': expected 0-65535 or a service name"});
    }
    return static_cast<uint16_t>(value);
  }
  if (auto port = lookup_service(text, proto)) return *port;
  return std::unexpected(
      Error{"unknown service '" + std::string(text) + "' (not in /etc/services)"});
}

}  // namespace

Result<PortSpec> parse_port_spec(std::string_view text) {
  PortSpec spec;
  std::string_view rest = text;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    spec.proto = parse_proto(rest.substr(0, slash));
    if (!spec.proto) {
      return std::unexpected(
          Error{"unknown protocol '" + std::string(rest.substr(0, slash)) + "' in '" +
                std::string(text) + "': expected tcp, udp, udplite or raw"});
    }
    rest = rest.substr(slash + 1);
  }
  std::string_view port_text = rest;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() ||
        rest[close + 1] != ':') {
      return std::unexpected(Error{"invalid address in '" + std::string(text) +
                                   "': expected [V6ADDR]:PORT"});
    }
    spec.address = Address::parse(rest.substr(0, close + 1));
    if (!spec.address || spec.address->family != 6) {
      return std::unexpected(Error{"invalid IPv6 address '" +
                                   std::string(rest.substr(1, close - 1)) + "'"});
    }
    port_text = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    if (rest.find(':') != colon) {
      return std::unexpected(Error{"IPv6 address needs brackets: '[" +
                                   std::string(rest.substr(0, colon)) +
                                   "]:" + std::string(rest.substr(colon + 1)) + "'"});
    }
    std::string_view addr = rest.substr(0, colon);
    if (addr != "*" && !addr.empty()) {
      spec.address = Address::parse(addr);
      if (!spec.address) {
        return std::unexpected(Error{"invalid address '" + std::string(addr) + "'"});
      }
    }
    port_text = rest.substr(colon + 1);
  }
  auto port = parse_port(port_text, spec.proto, text);
  if (!port) return std::unexpected(port.error());
  spec.port = *port;
  return spec;
}

bool PortSpec::matches(const Socket& s) const {
  if (s.local_port != port) return false;
  if (proto && s.proto != *proto) return false;
  if (!address) return true;
  if (s.local_addr == *address || s.local_addr.is_wildcard()) {
    if (s.local_addr.family == address->family) return true;
  }
  // An IPv6 wildcard socket without V6ONLY also receives IPv4 traffic.
  return address->family == 4 && s.family == 6 && s.local_addr.is_wildcard() &&
         s.v6only != Tristate::yes;
}

}  // namespace portrel
