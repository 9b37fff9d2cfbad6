// What the running kernel's bind checks do where kernels differ
// (KernelBindRules), found by performing the binds on which the variants
// disagree. The rules belong to the kernel build (its version string does not
// tell: two 6.18.44 builds differ in the UDP rule), so a caller probes once and
// keeps the answer for the boot.
#pragma once

#include <sys/types.h>

#include <string>

#include "model/bind_request.h"
#include "portrel/error.h"

namespace portrel {

/// Binds UDP sockets to one ephemeral port on 0.0.0.0 in the calling thread's
/// network namespace: A with SO_REUSEADDR, then B with SO_REUSEADDR and
/// SO_REUSEPORT, then C with SO_REUSEPORT only. C meets B first (the newest) and
/// shares with it, but not with A: first_match lets C bind, every_match refuses
/// it. With A closed, a second C must bind under either rule, or the answer is an
/// Error (something else holds the port). Needs no interface up and no
/// privilege.
Result<UdpReuseportRule> probe_udp_reuseport_rule();

/// TCP: binds a v6 socket to ::ffff:0.0.0.0 on an ephemeral port, then another
/// to ::ffff:127.0.0.1 on that port: EADDRINUSE is yes
/// (KernelBindRules::tcp_mapped_any_found), success no. Needs loopback up.
Result<bool> probe_tcp_mapped_any_found();

/// TCP: uid OTHER_UID binds a SO_REUSEPORT listener to 127.0.0.1 on a free
/// port, root accepts a connection from it over loopback (the accepted socket
/// is root's and joins the port without touching its shortcut), then OTHER_UID
/// binds 0.0.0.0 with SO_REUSEPORT on that port. Only a shortcut set by the
/// first bind (FASTREUSEPORT_ANY) lets that through: success is yes
/// (KernelBindRules::tcp_first_bind_sets_shortcut), EADDRINUSE no. Needs root
/// (it switches the calling thread's effective uid and back) and loopback up.
Result<bool> probe_tcp_first_bind_sets_shortcut(uid_t other_uid);

/// All three probes, in the calling thread's network namespace; a probe that
/// cannot run leaves its field unknown and says why in PROBLEMS (one line each).
/// Every socket is closed before it returns. Call it on a thread inside a
/// private network namespace made for it (with loopback up), so that no other
/// socket can take a probed port meanwhile.
KernelBindRules probe_kernel_bind_rules(uid_t other_uid, std::string* problems = nullptr);

/// The rules of the running kernel: kept for the boot in the state directory
/// (util/state_file.h, "kernel-bind-rules", keyed by boot id and kernel
/// build), else probed once in a private network namespace made for it (a
/// thread that unshares CLONE_NEWNET and brings its loopback up: it needs
/// CAP_SYS_ADMIN; the uid switch needs root) and kept when portrel may write
/// there and every probe answered. Fields stay unknown when they can be
/// neither read nor probed: the rules then answer "uncertain" where the
/// variants disagree. HOW, when given, says where the answer came from, in a
/// few words.
KernelBindRules kernel_bind_rules_of_this_kernel(std::string* how = nullptr);

/// "UDP SO_REUSEPORT every_match; TCP ::ffff:0.0.0.0 found: yes; TCP first bind
/// sets the shortcut: no".
std::string describe(const KernelBindRules& rules);

}  // namespace portrel
