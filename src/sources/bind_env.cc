// Reading the per-namespace inputs of the bind rules: sysctls under /proc/sys/net
// (which follow the namespace of the thread that opens them) and getifaddrs (a
// netlink dump in the thread's namespace).
#include "sources/bind_env.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>

namespace portrel {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<uint32_t> number(std::string_view s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::string> slurp(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

uint8_t prefix_of(const sockaddr* mask) {
  if (!mask) return 0;
  const uint8_t* p = nullptr;
  size_t n = 0;
  if (mask->sa_family == AF_INET) {
    p = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    p = reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr.s6_addr;
    n = 16;
  }
  uint8_t bits = 0;
  for (size_t i = 0; i < n; ++i) bits += static_cast<uint8_t>(__builtin_popcount(p[i]));
  return bits;
}

std::optional<Address> address_of(const sockaddr* sa) {
  if (!sa) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    return Address::v4(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
  }
  if (sa->sa_family == AF_INET6) {
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr.s6_addr, 16);
    return Address::v6(b);
  }
  return std::nullopt;
}

}  // namespace

Result<std::pair<uint16_t, uint16_t>> parse_port_range(std::string_view text) {
  text = trim(text);
  size_t gap = text.find_first_of(" \t");
  if (gap == std::string_view::npos) {
    return std::unexpected(Error{"ip_local_port_range: expected two numbers"});
  }
  auto lo = number(text.substr(0, gap));
  auto hi = number(trim(text.substr(gap)));
  if (!lo || !hi || *lo > 65535 || *hi > 65535 || *lo > *hi) {
    return std::unexpected(Error{"ip_local_port_range: not a port range: '" +
                                 std::string(text) + "'"});
  }
  return std::pair{static_cast<uint16_t>(*lo), static_cast<uint16_t>(*hi)};
}

Result<std::vector<std::pair<uint16_t, uint16_t>>> parse_reserved_ports(
    std::string_view text) {
  std::vector<std::pair<uint16_t, uint16_t>> out;
  text = trim(text);
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? "" : text.substr(comma + 1);
    size_t dash = item.find('-');
    auto lo = number(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : number(item.substr(dash + 1));
    if (!lo || !hi || *lo > 65535 || *hi > 65535 || *lo > *hi) {
      return std::unexpected(
          Error{"ip_local_reserved_ports: bad item '" + std::string(item) + "'"});
    }
    out.emplace_back(static_cast<uint16_t>(*lo), static_cast<uint16_t>(*hi));
  }
  return out;
}

Result<BindEnvironment> read_bind_environment() {
  BindEnvironment env;
  if (auto t = slurp("/proc/sys/net/ipv4/ip_local_port_range")) {
    auto range = parse_port_range(*t);
    if (!range) return std::unexpected(range.error());
    std::tie(env.port_low, env.port_high) = *range;
  }
  if (auto t = slurp("/proc/sys/net/ipv4/ip_local_reserved_ports")) {
    auto reserved = parse_reserved_ports(*t);
    if (!reserved) return std::unexpected(reserved.error());
    env.reserved = std::move(*reserved);
  }
  if (auto t = slurp("/proc/sys/net/ipv4/ip_unprivileged_port_start")) {
    if (auto n = number(trim(*t))) env.unprivileged_port_start = *n;
  }
  if (auto t = slurp("/proc/sys/net/ipv4/ip_nonlocal_bind")) {
    env.nonlocal_bind4 = trim(*t) != "0";
  }
  if (auto t = slurp("/proc/sys/net/ipv6/ip_nonlocal_bind")) {
    env.nonlocal_bind6 = trim(*t) != "0";
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    env.addresses_known = true;
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      auto a = address_of(i->ifa_addr);
      // A down interface has no local routes: its addresses cannot be bound.
      if (!a || !(i->ifa_flags & IFF_UP)) continue;
      LocalAddress l;
      l.address = *a;
      l.prefix_len = prefix_of(i->ifa_netmask);
      l.ifindex = if_nametoindex(i->ifa_name);
      l.loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
      if ((i->ifa_flags & IFF_BROADCAST) && a->family == 4) {
        l.broadcast = address_of(i->ifa_broadaddr);
      }
      env.addresses.push_back(l);
    }
    freeifaddrs(list);
  }
  return env;
}

}  // namespace portrel
