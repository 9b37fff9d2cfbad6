// The lab starts real processes holding sockets in known configurations (prefork,
// SO_REUSEPORT, a leaked fd after exec, …) and records what it built as ground
// truth, so people can watch port sharing happen and tests can check portrel's
// answers against facts the test itself created.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "portrel/error.h"
#include "portrel/model.h"

namespace portrel::lab {

struct LabOptions {
  uint16_t port = 0;  ///< 0 = pick a free one
  int workers = 2;
  bool private_netns = false;  ///< run every process in a new network namespace
  bool fixed = false;          ///< cloexec-leak: set FD_CLOEXEC on the listener
  int procs = 100;             ///< crowd: number of member processes
  int per_proc = 10;           ///< crowd: sockets per member
};

struct LabProcess {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string role;  ///< "lab", "master", "worker", "server", "helper", …
};

/// One descriptor of one process. A socket shared by fork appears once per holder,
/// with the same inode. family is 4 or 6 for inet sockets and 0 for AF_UNIX, whose
/// proto then only tells the type (stream = tcp, datagram = udp).
struct LabSocket {
  pid_t pid = 0;
  int fd = -1;
  uint64_t inode = 0;
  Proto proto = Proto::tcp;
  uint8_t family = 4;
  std::string address;  ///< local address as text ("127.0.0.1", "::1", "unix")
  uint16_t port = 0;    ///< local port, host order
  bool listening = false;
  bool cloexec = false;
  bool reuseport = false;
  bool reuseaddr = false;
};

struct GroundTruth {
  std::string scenario;
  uint64_t netns = 0;  ///< inode of the network namespace the sockets live in
  std::vector<LabProcess> processes;  ///< every live process the lab made
  std::vector<LabSocket> sockets;     ///< one row per (pid, fd)
  /// Things that happened while building, e.g. a bind refused by TIME_WAIT.
  std::vector<std::string> notes;
};

/// A running scenario. Owns its processes: stop() or the destructor kills and
/// reaps them. Processes also die with the thread that called start() (they have
/// PR_SET_PDEATHSIG), so call start() and stop() from one long-lived thread.
class Lab {
 public:
  /// Forks the scenario's processes and waits until each has reported its
  /// sockets. Fails (after cleaning up) on an unknown scenario or when a process
  /// could not build its part.
  static Result<Lab> start(std::string_view scenario, const LabOptions& options);

  const GroundTruth& truth() const { return truth_; }
  /// Pid of the lab's supervisor process (the ancestor of every process it made).
  pid_t leader() const { return leader_; }
  /// Kills and reaps every process, which also frees a private namespace.
  /// Idempotent.
  void stop();

  ~Lab();
  Lab(Lab&& other) noexcept;
  Lab& operator=(Lab&& other) noexcept;
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

 private:
  Lab() = default;
  pid_t leader_ = -1;
  pid_t group_ = -1;  ///< process group of every scenario process
  GroundTruth truth_;
};

/// The scenarios start() knows, in the order `--help` lists them.
std::vector<std::string_view> scenario_names();

/// Entry point of `portrel lab ...`; argv[0] is "lab". Prints ground truth (table,
/// or JSON with --format json), stays up until SIGINT/SIGTERM or --for SECONDS,
/// cleans up and returns the exit code.
int run_lab(int argc, char** argv);

}  // namespace portrel::lab
