// Ports the host forwards elsewhere: the destination-NAT rules of nftables
// (and of iptables-nft, whose rules are nftables rules with xtables targets)
// that container runtimes install to publish a container's port. Read from
// the kernel's rule dump over NETLINK_NETFILTER, never from `nft` or
// `iptables-save` output, and interpreted expression by expression.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "portrel/error.h"
#include "portrel/model.h"
#include "sources/sources.h"

namespace portrel {

/// One rule that rewrites the destination of packets to a port: DNAT (to an
/// address, and a port when it names one) or REDIRECT (to a port of this host).
struct PortForward {
  Proto proto = Proto::tcp;  ///< tcp or udp (a rule for both gives two)
  uint16_t port_lo = 0;      ///< the destination ports matched, host order
  uint16_t port_hi = 0;
  /// The destination address matched, when the rule names one (Podman's
  /// `-d 127.0.0.1`); none: any local address.
  std::optional<Address> address;
  bool redirect = false;  ///< REDIRECT: to_addr is this host's
  Address to_addr;        ///< DNAT's new destination; family 0 for REDIRECT
  uint16_t to_port_lo = 0;  ///< 0: the port is kept
  uint16_t to_port_hi = 0;
  std::string family;  ///< the rule's table family: "ip", "ip6", "inet"
  std::string table;   ///< "nat"
  std::string chain;   ///< "NETAVARK-DN-1D8721804F16F", "DOCKER"
  uint64_t handle = 0;
  bool xtables = false;  ///< an iptables-nft rule (xtables DNAT/REDIRECT target)

  /// Whether packets to PORT (and ADDRESS, when given) of PROTO match.
  bool matches(Proto proto, uint16_t port, const std::optional<Address>& address) const;
  /// Where PORT goes (a range maps onto a range, offset kept).
  uint16_t to_port(uint16_t port) const;
};

struct ForwardScan {
  std::vector<PortForward> forwards;
  /// Rules with a DNAT or REDIRECT portrel could not read whole (a port set,
  /// an address taken from a map): counted, never guessed.
  size_t unread = 0;
  std::vector<std::string> warnings;
};

/// Interprets a dump of NFT_MSG_NEWRULE messages (what NFT_MSG_GETRULE with
/// NLM_F_DUMP returns, possibly several datagrams' worth back to back). Bytes
/// that are not a well-formed dump end the walk with a warning; never fails.
ForwardScan parse_forward_dump(std::span<const std::byte> bytes);

/// Dumps the rules of every nftables table in the calling thread's network
/// namespace and keeps the forwards. Fails when the dump is refused (EPERM
/// without CAP_NET_ADMIN) or netfilter's netlink is missing. Legacy iptables
/// nat rules (ip_tables, not nftables) are not read: a warning says they exist.
Result<ForwardScan> read_port_forwards();

/// An address configured on an interface of a network namespace.
struct InterfaceAddress {
  uint64_t netns = 0;
  Address address;
};

/// The interface addresses of every namespace in NAMESPACES (RTM_GETADDR in
/// each); a namespace that cannot be entered adds a warning.
std::vector<InterfaceAddress> interface_addresses(std::span<const NetnsHandle> namespaces,
                                                  std::vector<std::string>& warnings);

}  // namespace portrel
