// Socket options (SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY) deduced from the
// sockets alone. What is deduced is offered with source `inferred`, the lowest
// rank (model/option_rank.h), so inference never overwrites a fact.
#pragma once

#include <span>

#include "model/option_rank.h"
#include "portrel/model.h"

namespace portrel {

/// Fills what the kernel's bind rules imply: two distinct TCP listeners in one
/// namespace on one port whose addresses overlap (equal, or one a wildcard of the
/// same family) and whose bound devices conflict must both have SO_REUSEPORT.
/// Only unknown options are set (source `inferred`). Works on rows, reads nothing.
void infer_socket_options(std::span<Socket> sockets);

}  // namespace portrel
