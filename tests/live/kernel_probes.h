// What the running kernel's sock_diag dumps, where kernels differ, asked of
// the kernel with a socket. (Where their bind checks differ is
// KernelBindRules, probed by portrel itself: sources/kernel_bind_rules.h.) The
// bind rules' live test looks for bound-only TCP sockets in sock_diag only
// where the kernel lists them.
#pragma once

#include <cstdint>
#include <string>

#include "portrel/error.h"

namespace portrel::testing {

struct KernelBindFacts {
  /// sock_diag lists a TCP socket that is bound but not listening
  /// (BOUND_INACTIVE: Linux 6.8 and later).
  bool diag_lists_bound_tcp = true;
};

/// Asks the kernel, in the calling thread's network namespace NETNS. Every
/// socket is closed before it returns.
Result<KernelBindFacts> probe_kernel_bind_facts(uint64_t netns);

/// "sock_diag lists bound-only TCP sockets: no" for a summary line.
std::string describe(const KernelBindFacts& facts);

}  // namespace portrel::testing
