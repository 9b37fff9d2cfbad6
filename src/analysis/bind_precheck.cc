// The address and privilege checks of __inet_bind (net/ipv4/af_inet.c) and
// __inet6_bind (net/ipv6/af_inet6.c), which come before any socket is looked at.
#include "analysis/bind_precheck.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace portrel {
namespace {

bool is_mapped(const Address& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.family == 6 && std::memcmp(a.bytes.data(), kMapped, 12) == 0;
}

bool in_prefix(const Address& a, const Address& net, uint8_t len) {
  size_t bits = len;
  for (size_t i = 0; bits > 0; ++i, bits = bits > 8 ? bits - 8 : 0) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a.bytes[i] & mask) != (net.bytes[i] & mask)) return false;
  }
  return true;
}

// inet_addr_type_table() is RTN_LOCAL, RTN_MULTICAST or RTN_BROADCAST.
bool ipv4_bindable(const BindEnvironment& env, const Address& a) {
  if (a.is_wildcard() || env.nonlocal_bind4 || !env.addresses_known) return true;
  if (a.bytes[0] >= 224 && a.bytes[0] <= 239) return true;
  if (a.bytes[0] == 255 && a.bytes[1] == 255 && a.bytes[2] == 255 && a.bytes[3] == 255) {
    return true;
  }
  for (const LocalAddress& l : env.addresses) {
    if (l.address.family != 4) continue;
    if (l.address == a) return true;
    if (l.loopback && in_prefix(a, l.address, l.prefix_len)) return true;
    if (l.broadcast && *l.broadcast == a) return true;
  }
  return false;
}

// ipv6_chk_addr(net, addr, dev, 0): on the bound device, or any device unless the
// address has link or host scope.
bool ipv6_bindable(const BindEnvironment& env, const Address& a, uint32_t dev) {
  if (env.nonlocal_bind6 || !env.addresses_known) return true;
  if (a.bytes[0] == 0xff) return true;  // multicast
  for (const LocalAddress& l : env.addresses) {
    if (l.address.family != 6 || l.address != a) continue;
    bool scoped = a.is_loopback() || (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80);
    if (!dev || l.ifindex == dev || !scoped) return true;
  }
  return false;
}

}  // namespace

std::optional<BindPrediction> bind_precheck(const BindRequest& r, const BindEnvironment& env) {
  auto fail = [](int error, std::string reason) {
    BindPrediction p;
    p.outcome = BindOutcome::fails;
    p.error = error;
    p.reason = std::move(reason);
    return p;
  };
  bool needs_service = r.port != 0 && r.port < env.unprivileged_port_start &&
                       !r.can_bind_service;
  std::string eacces = "port " + std::to_string(r.port) +
                       " is below net.ipv4.ip_unprivileged_port_start (" +
                       std::to_string(env.unprivileged_port_start) + ") and uid " +
                       std::to_string(r.uid) + " has no CAP_NET_BIND_SERVICE";
  std::string where = r.address.to_string();
  if (r.family == 4) {
    if (!ipv4_bindable(env, r.address)) {
      return fail(EADDRNOTAVAIL, where + " is not an address of this network namespace");
    }
    if (needs_service) return fail(EACCES, eacces);
    return std::nullopt;
  }
  if (needs_service) return fail(EACCES, eacces);
  if (is_mapped(r.address)) {
    if (r.v6only) return fail(EINVAL, "a v4-mapped address on an IPV6_V6ONLY socket");
    Address v4;
    v4.family = 4;
    std::memcpy(v4.bytes.data(), r.address.bytes.data() + 12, 4);
    if (!ipv4_bindable(env, v4)) {
      return fail(EADDRNOTAVAIL, where + " is not an address of this network namespace");
    }
  } else if (!r.address.is_wildcard()) {
    bool link_local = r.address.bytes[0] == 0xfe && (r.address.bytes[1] & 0xc0) == 0x80;
    if (link_local && !r.bound_dev) {
      return fail(EINVAL, "a link-local address needs an interface (scope id)");
    }
    if (!ipv6_bindable(env, r.address, r.bound_dev)) {
      return fail(EADDRNOTAVAIL, where + " is not an address of " +
                                     (r.bound_dev ? "the bound device" : "this network namespace"));
    }
  }
  return std::nullopt;
}

}  // namespace portrel
