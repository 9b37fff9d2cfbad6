// Socket options (SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY) as far as they are
// known, each with its source. Sources rank none < inferred < sock_diag <
// getsockopt < bpf; a value is only ever replaced by one from a better source, so
// a source simply offers what it read and inference never overwrites a fact.
#pragma once

#include <span>

#include "portrel/model.h"

namespace portrel {

/// Sets VALUE/FROM to OFFERED/SOURCE when SOURCE ranks above FROM; returns
/// whether it did.
bool offer_option(Tristate& value, OptSource& from, Tristate offered, OptSource source);

/// Fills what the kernel's bind rules imply: two distinct TCP listeners in one
/// namespace on one port whose addresses overlap (equal, or one a wildcard of the
/// same family) and whose bound devices conflict must both have SO_REUSEPORT.
/// Only unknown options are set (source `inferred`). Works on rows, reads nothing.
void infer_socket_options(std::span<Socket> sockets);

}  // namespace portrel
