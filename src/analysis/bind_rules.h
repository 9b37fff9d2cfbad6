// Would bind(ADDR:PORT) succeed now? The kernel's bind-conflict rules for TCP
// (inet_csk_get_port, inet_bind_conflict, the bhash2 paths of 6.x) and UDP
// (udp_lib_get_port, udp_lib_lport_inuse), written once, as pure functions over
// Socket rows. An option of an existing socket that is unknown makes the answer
// "uncertain" and names the option, never a guess; so does a rule of the kernel
// that is not known (UdpReuseportRule).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/bind_request.h"
#include "portrel/model.h"

namespace portrel {

/// How `table` is ordered. Under UdpReuseportRule::first_match UDP decides by
/// the first overlapping socket in the port's hash chain, so order matters there
/// (TCP, and UDP under every_match, check every socket).
enum class TableOrder : uint8_t {
  bind_order,        ///< oldest bind first, exactly (the chain is derived from it)
  chain_per_family,  ///< the kernel's chain order within each family, as a
                     ///< sock_diag dump gives it; v4/v6 interleaving unknown
};

enum class BindOutcome : uint8_t { succeeds, fails, uncertain };
std::string_view bind_outcome_name(BindOutcome outcome);  ///< "succeeds", …

/// An existing socket that blocks the bind, or may.
struct BindConflict {
  const Socket* socket = nullptr;
  Tristate blocks = Tristate::yes;  ///< unknown: it depends on `depends_on`
  std::string rule;                 ///< why, in the kernel's terms, one line
  std::vector<std::string> depends_on;  ///< the unknown options that decide
};

struct BindPrediction {
  BindOutcome outcome = BindOutcome::succeeds;
  /// The errno bind() returns when it fails (EADDRINUSE, EACCES, EADDRNOTAVAIL,
  /// EINVAL); for an uncertain verdict, the one it returns if it fails.
  int error = 0;
  std::string reason;  ///< one line
  std::vector<BindConflict> conflicts;
  /// Port 0: how many ports of the ephemeral range are free of any socket.
  size_t free_ephemeral = 0;
  /// What could still change the kernel's answer that the rules cannot see.
  std::vector<std::string> notes;
};

/// What TCP remembers per port (struct inet_bind_bucket: fastreuse,
/// fastreuseport, fastuid, fast_*rcv_saddr) to skip the conflict checks. It is
/// history, not state: a socket that has closed can still let a bind through
/// that the remaining sockets would refuse. Only whoever saw every bind on the
/// port can keep it (update_fastreuse); a snapshot cannot.
struct TcpFastReuse {
  static constexpr int8_t kAny = 1, kStrict = 2;  ///< FASTREUSEPORT_ANY, _STRICT
  int8_t fastreuse = 0;
  int8_t fastreuseport = 0;
  uid_t fastuid = 0;
  uint8_t family = 4;  ///< fast_sk_family
  Address address;     ///< fast_rcv_saddr / fast_v6_rcv_saddr
  bool ipv6only = false;
  bool owned = false;  ///< a socket has joined the port since it was free
};

/// inet_csk_update_fastreuse(): after each successful bind, and each listen()
/// (which takes the port again), of `sk` on the port. A new port starts from a
/// default TcpFastReuse; `first_bind_sets_shortcut` is
/// KernelBindRules::tcp_first_bind_sets_shortcut of the kernel replayed.
void update_fastreuse(TcpFastReuse& bucket, const BindRequest& sk, bool listening,
                      bool first_bind_sets_shortcut);

/// Predicts bind(request). `table` is every socket of the request's protocol in
/// its network namespace (any port, any state; other protocols are ignored) in
/// the order `order` describes; pointers must outlive the result. `fast` is the
/// port's TCP shortcut when known. Pure: reads nothing but its arguments.
BindPrediction predict_bind(const BindRequest& request,
                            std::span<const Socket* const> table,
                            const BindEnvironment& env,
                            TableOrder order = TableOrder::chain_per_family,
                            const TcpFastReuse* fast = nullptr);

/// inet_rcv_saddr_equal(sk, sk2, match_wildcard=true): whether the addresses of
/// a socket bound as `request` and of `existing` overlap. Unknown when it turns
/// on an unknown IPV6_V6ONLY.
Tristate addresses_overlap(const BindRequest& request, const Socket& existing);

}  // namespace portrel
