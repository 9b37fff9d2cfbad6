// Socket options (SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY) as far as they are
// known, each with its source. Sources rank none < inferred < sock_diag <
// getsockopt < bpf; a value is only ever replaced by one from a better source, so
// a source simply offers what it read and inference never overwrites a fact.
#pragma once

#include "portrel/model.h"

namespace portrel {

/// Sets VALUE/FROM to OFFERED/SOURCE when SOURCE ranks above FROM; returns
/// whether it did.
bool offer_option(Tristate& value, OptSource& from, Tristate offered, OptSource source);

}  // namespace portrel
