// Port specifications. Service names are looked up in /etc/services with
// getservbyname_r, for the protocol given or for tcp then udp.
#include "cli/port_spec.h"

#include <netdb.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace portrel {
namespace {

// "tcp, udp, ..., or vsock", from the protocol table.
std::string proto_names() {
  std::string out;
  auto all = protocols();
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0) out += i + 1 == all.size() ? " or " : ", ";
    out += all[i].name;
  }
  return out;
}

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

// vsock's ports are 32 bits wide (all ones is VMADDR_PORT_ANY, never bound).
constexpr uint32_t kVsockPortMax = 0xFFFFFFFE;

Result<uint32_t> parse_port(std::string_view text, std::optional<Proto> proto,
                            std::string_view whole) {
  if (text.empty())
    return std::unexpected(Error{"missing port in '" + std::string(whole) + "'"});
  if (text.front() >= '0' && text.front() <= '9') {
    bool vsock = proto == Proto::vsock;
    uint64_t max = vsock ? kVsockPortMax : 65535;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > max) {
      return std::unexpected(Error{"invalid port '" + std::string(text) + "': expected 0-" +
                                   std::to_string(max) +
                                   (vsock ? "" : " or a service name")});
    }
    return static_cast<uint32_t>(value);
  }
  if (proto == Proto::vsock) {
    return std::unexpected(Error{"invalid vsock port '" + std::string(text) +
                                 "': expected a number (vsock has no service names)"});
  }
  if (auto port = lookup_service(text, proto)) return *port;
  return std::unexpected(
      Error{"unknown service '" + std::string(text) + "' (not in /etc/services)"});
}

}  // namespace

std::vector<Address> hosts_addresses(std::string_view hosts, std::string_view name) {
  std::vector<Address> out;
  std::istringstream lines{std::string(hosts)};
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string address, alias;
    if (!(words >> address)) continue;
    auto parsed = Address::parse(address);
    if (!parsed) continue;
    while (words >> alias) {
      if (alias == name && std::ranges::find(out, *parsed) == out.end()) {
        out.push_back(*parsed);
      }
    }
  }
  return out;
}

Result<PortSpec> parse_port_spec(std::string_view text) {
  std::ifstream file("/etc/hosts");
  std::stringstream hosts;
  hosts << file.rdbuf();
  return parse_port_spec(text, hosts.str());
}

Result<PortSpec> parse_port_spec(std::string_view text, std::string_view hosts) {
  PortSpec spec;
  std::string_view rest = text;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    spec.proto = parse_proto(rest.substr(0, slash));
    if (!spec.proto) {
      return std::unexpected(
          Error{"unknown protocol '" + std::string(rest.substr(0, slash)) + "' in '" +
                std::string(text) + "': expected " + proto_names()});
    }
    rest = rest.substr(slash + 1);
  }
  if (spec.proto == Proto::vsock) {
    // [CID:]PORT, the CID in decimal or "*".
    std::string_view port_text = rest;
    if (auto colon = rest.find(':'); colon != std::string_view::npos) {
      std::string_view cid = rest.substr(0, colon);
      uint32_t value = 0;
      auto [end, ec] = std::from_chars(cid.data(), cid.data() + cid.size(), value);
      if (cid == "*") {
        value = kVsockCidAny;
      } else if (cid.empty() || ec != std::errc() || end != cid.data() + cid.size()) {
        return std::unexpected(Error{"invalid vsock CID '" + std::string(cid) + "' in '" +
                                     std::string(text) + "': expected a number or *"});
      }
      if (value != kVsockCidAny) spec.addresses.push_back(Address::vsock(value));
      port_text = rest.substr(colon + 1);
    }
    auto port = parse_port(port_text, spec.proto, text);
    if (!port) return std::unexpected(port.error());
    spec.port = *port;
    return spec;
  }
  std::string_view port_text = rest;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() ||
        rest[close + 1] != ':') {
      return std::unexpected(Error{"invalid address in '" + std::string(text) +
                                   "': expected [V6ADDR]:PORT"});
    }
    auto address = Address::parse(rest.substr(0, close + 1));
    if (!address || address->family != 6) {
      return std::unexpected(Error{"invalid IPv6 address '" +
                                   std::string(rest.substr(1, close - 1)) + "'"});
    }
    spec.addresses.push_back(*address);
    port_text = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    if (rest.find(':') != colon) {
      return std::unexpected(Error{"IPv6 address needs brackets: '[" +
                                   std::string(rest.substr(0, colon)) +
                                   "]:" + std::string(rest.substr(colon + 1)) + "'"});
    }
    std::string_view addr = rest.substr(0, colon);
    if (addr != "*" && !addr.empty()) {
      if (auto address = Address::parse(addr)) {
        spec.addresses.push_back(*address);
      } else if (addr.find_first_not_of("0123456789.") == std::string_view::npos) {
        return std::unexpected(Error{"invalid address '" + std::string(addr) + "'"});
      } else {
        spec.addresses = hosts_addresses(hosts, addr);
        if (spec.addresses.empty()) {
          return std::unexpected(Error{"unknown host '" + std::string(addr) +
                                       "': not in /etc/hosts (portrel does not ask DNS)"});
        }
      }
    }
    port_text = rest.substr(colon + 1);
  }
  auto port = parse_port(port_text, spec.proto, text);
  if (!port) return std::unexpected(port.error());
  spec.port = *port;
  return spec;
}

namespace {

// ::ffff:a.b.c.d as the IPv4 address a.b.c.d, which is what it carries.
Address unmapped(const Address& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family != 6 || !std::equal(kMapped, kMapped + 12, a.bytes.begin())) return a;
  Address v4;
  v4.family = 4;
  std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
  return v4;
}

bool receives_for(const Socket& s, const Address& wanted) {
  Address target = unmapped(wanted);
  Address local = unmapped(s.local_addr);
  if (local.family == target.family && (local == target || local.is_wildcard())) return true;
  // An IPv6 wildcard socket without V6ONLY also receives IPv4 traffic.
  return target.family == 4 && s.family == 6 && s.local_addr.is_wildcard() &&
         s.v6only != Tristate::yes;
}

}  // namespace

Result<PortSpec> parse_proto_and_port(const std::vector<std::string>& words,
                                      std::string_view command) {
  std::vector<std::string> args = words;
  std::optional<Proto> proto;
  std::string name(command);
  if (args.size() == 2) {
    proto = parse_proto(args[0]);
    if (!proto || (*proto != Proto::tcp && *proto != Proto::udp && *proto != Proto::udplite)) {
      return std::unexpected(
          Error{name + ": expected tcp, udp or udplite, not '" + args[0] + "'"});
    }
    args.erase(args.begin());
  }
  if (args.size() != 1) return std::unexpected(Error{name + ": expected [tcp|udp] ADDR:PORT"});
  auto spec = parse_port_spec(args[0]);
  if (!spec) return std::unexpected(spec.error());
  if (spec->proto && proto_info(*spec->proto).port_meaning != "port") {
    return std::unexpected(Error{name + ": " + std::string(proto_name(*spec->proto)) +
                                 " sockets have no ports to bind"});
  }
  if (spec->proto && proto_info(*spec->proto).ip_protocol == 0) {
    return std::unexpected(Error{name + ": knows the bind rules of IP protocols only, not " +
                                 std::string(proto_name(*spec->proto))});
  }
  if (proto) spec->proto = proto;
  return spec;
}

bool PortSpec::matches(const Socket& s) const {
  if (s.local_port != port) return false;
  if (proto && s.proto != *proto) return false;
  if (addresses.empty()) return true;
  return std::ranges::any_of(addresses, [&](const Address& a) { return receives_for(s, a); });
}

}  // namespace portrel
