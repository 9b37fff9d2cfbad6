// Performing a bind for real: a socket made as a BindRequest describes, bound,
// and (for a probe) closed at once. Used by `why-busy --try` and by the tests
// that check the bind rules against the kernel.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "model/bind_request.h"
#include "portrel/error.h"

namespace portrel {

/// Makes a socket with the request's family, protocol and options and binds it
/// in the calling thread's network namespace. Returns the fd (the caller closes
/// it), or an Error whose errno_value is what socket(), setsockopt() or bind()
/// returned. `request.uid` and `can_bind_service` are not applied here.
Result<int> open_bound_socket(const BindRequest& request);

/// open_bound_socket() then close(): 0 when the bind succeeded, else its errno.
int bind_and_close(const BindRequest& request);

/// Sets the effective uid of the calling thread only (a raw setresuid system
/// call; glibc's wrapper would change every thread). Needs a saved uid of 0 to
/// come back.
Result<void> set_thread_euid(uid_t uid);

/// Runs bind_and_close() on a new thread that setns()s into `netns_path` (which
/// must lead to `netns_inode` when that is not 0) and, when `as_uid` is given,
/// takes that effective uid first. Returns bind's errno (0: it succeeded), or an
/// Error when the namespace or uid could not be entered.
Result<int> try_bind_in(const std::string& netns_path, uint64_t netns_inode,
                        const BindRequest& request, std::optional<uid_t> as_uid);

}  // namespace portrel
