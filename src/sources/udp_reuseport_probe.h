// Which UdpReuseportRule the running kernel follows, found by performing the
// bind on which the two rules disagree. The rule belongs to the kernel build
// (its version string does not tell), so a caller probes once and keeps it.
#pragma once

#include <string>

#include "analysis/bind_rules.h"
#include "portrel/error.h"

namespace portrel {

/// Binds UDP sockets to one ephemeral port on 0.0.0.0 in the calling thread's
/// network namespace: A with SO_REUSEADDR, then B with SO_REUSEADDR and
/// SO_REUSEPORT, then C with SO_REUSEPORT only. C meets B first (the newest) and
/// shares with it, but not with A: first_match lets C bind, every_match refuses
/// it. With A closed, a second C must bind under either rule, or the answer is an
/// Error (something else holds the port). Every socket is closed before it
/// returns. Needs no interface up and no privilege; call it on a thread inside a
/// private network namespace made for it, so that no other socket can take the
/// port meanwhile. Errors carry the errno of the socket call that failed.
Result<UdpReuseportRule> probe_udp_reuseport_rule();

/// The rule of the running kernel: kept for the boot in the state directory
/// (util/state_file.h, "udp-reuseport-rule", keyed by boot id and kernel
/// build), else probed once in a private network namespace made for it (a
/// thread that unshares CLONE_NEWNET: it needs CAP_SYS_ADMIN) and kept when
/// portrel may write there. unknown when it can be neither read nor probed:
/// the rules then answer "uncertain" where the two rules disagree. HOW, when
/// given, says where the answer came from, in a few words.
UdpReuseportRule udp_reuseport_rule_of_this_kernel(std::string* how = nullptr);

}  // namespace portrel
