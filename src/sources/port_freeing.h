// The acts of `portrel free`: signalling processes through pidfds, so that a pid
// reused since the plan is never signalled (the pidfd names one process, and its
// start time is checked against the plan's), and closing connections with
// SOCK_DESTROY, as `ss -K` does.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "portrel/error.h"
#include "portrel/model.h"

namespace portrel {

struct SignalTarget {
  pid_t pid = 0;
  uint64_t start_time = 0;  ///< as the plan saw it (clock ticks after boot)
};

struct SignalOutcome {
  enum class State : uint8_t {
    exited,         ///< it exited after the signal(s)
    still_running,  ///< it outlived SIGTERM and the timeout (no --force)
    gone,           ///< it had already exited before the signal
    reused,         ///< the pid is another process now: not signalled
    not_permitted,  ///< no privilege to signal it
    failed,         ///< pidfd_open or pidfd_send_signal failed otherwise
  };
  pid_t pid = 0;
  State state = State::failed;
  bool killed = false;  ///< SIGKILL was sent
  std::string detail;   ///< for failed: the system error
};
std::string_view signal_state_name(SignalOutcome::State state);

/// Whether this process may signal PID (kill(pid, 0) is not EPERM).
bool may_signal(pid_t pid);

/// Sends SIGTERM to every target through a pidfd, after checking that the pid
/// is still the process of the plan (same start time), then waits up to
/// TIMEOUT for all to exit; with FORCE, sends SIGKILL to those left and waits
/// up to TIMEOUT again. PROC_ROOT is where /proc is (for the start times).
std::vector<SignalOutcome> terminate_processes(const std::vector<SignalTarget>& targets,
                                               std::chrono::milliseconds timeout, bool force,
                                               const std::string& proc_root = "/proc");

/// Closes the TCP socket S (found by its addresses, ports and cookie) with
/// SOCK_DESTROY in the network namespace the calling thread is in. Needs
/// CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY; errors say which was missing.
Result<void> destroy_socket(const Socket& s);

}  // namespace portrel
