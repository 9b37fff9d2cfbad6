// The checks bind() makes before it looks at other sockets: the address must be
// local (or non-local binding allowed), a privileged port needs
// CAP_NET_BIND_SERVICE, a v4-mapped address cannot go on a v6-only socket.
#pragma once

#include <optional>

#include "analysis/bind_rules.h"

namespace portrel {

/// The failure __inet_bind / __inet6_bind report before the port lookup, in the
/// kernel's order (IPv4: address, then privilege; IPv6: privilege first), or
/// nullopt when the bind goes on to the port's sockets.
std::optional<BindPrediction> bind_precheck(const BindRequest& request,
                                            const BindEnvironment& env);

}  // namespace portrel
