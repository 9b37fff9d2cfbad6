// What the running kernel does where the kernels portrel runs on differ in
// their TCP bind checks and sock_diag dumps, asked of the kernel with a few
// sockets. The bind rules' live test says which behaviour it met (so a
// disagreement can be traced to one) and looks for bound-only TCP sockets in
// sock_diag only where the kernel lists them.
#pragma once

#include <cstdint>
#include <string>

#include "portrel/error.h"

namespace portrel::testing {

struct KernelBindFacts {
  /// sock_diag lists a TCP socket that is bound but not listening
  /// (BOUND_INACTIVE: Linux 6.8 and later).
  bool diag_lists_bound_tcp = true;
  /// A TCP socket bound to ::ffff:0.0.0.0 keeps a v6 socket from binding
  /// ::ffff:127.0.0.1 on its port (not on 6.1: its bhash2 misses it).
  bool mapped_any_blocks_mapped = true;
  /// A connection accepted by root from uid U's SO_REUSEPORT listener on
  /// 127.0.0.1 keeps uid U from binding 0.0.0.0 with SO_REUSEPORT on that port
  /// (not on 5.10 and 6.1: the port's SO_REUSEPORT shortcut still lets it).
  bool accepted_blocks_reuseport_wildcard = true;
};

/// Asks the kernel, in the calling thread's network namespace (a private one
/// with loopback up: the probes bind ports and connect), as root; switches the
/// thread's effective uid to OTHER_UID and back. Every socket is closed before
/// it returns.
Result<KernelBindFacts> probe_kernel_bind_facts(uint64_t netns, unsigned other_uid);

/// "sock_diag lists bound-only TCP sockets: no; ..." for a summary line.
std::string describe(const KernelBindFacts& facts);

}  // namespace portrel::testing
