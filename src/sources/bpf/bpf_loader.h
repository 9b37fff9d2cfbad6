// The kernel half of the bpf source: loads the iterator programs of
// portrel.bpf.c (a libbpf skeleton built with the project) and reads each
// iterator into a byte buffer of fixed-size records (portrel_bpf.h). Behind an
// interface so that the decoding in bpf_source.cc is tested without the kernel.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "portrel/error.h"

namespace portrel {

/// What the programs filter in the kernel, fixed at load time.
struct BpfFilter {
  std::vector<uint16_t> ports;  ///< only sockets on these local ports; empty: all
  bool listening_only = false;  ///< drop TCP sockets that are not listening
};

class BpfIterators {
 public:
  virtual ~BpfIterators() = default;
  /// portrel_task_rec for every thread-group leader of the host.
  virtual Result<std::string> tasks() = 0;
  /// portrel_sock_rec for every inet socket fd of every process.
  virtual Result<std::string> task_files() = 0;
  /// portrel_sock_rec for every TCP and UDP socket of the network namespace the
  /// calling thread is in (the kernel binds the iterator to it).
  virtual Result<std::string> tables() = 0;
};

/// The environment variable that makes load_bpf_iterators() fail, so that the
/// fallback path can be tested: PORTREL_BPF_FAIL=1.
inline constexpr const char* kBpfFailEnv = "PORTREL_BPF_FAIL";

/// True when this binary was built with the bpf programs.
bool bpf_built_in();

/// Loads and verifies the programs. Errors (with the reason in one line) when
/// the binary has no bpf source, PORTREL_BPF_FAIL is set, the kernel lacks BTF
/// or an iterator, or privilege is missing (CAP_BPF and CAP_PERFMON, or root).
Result<std::unique_ptr<BpfIterators>> load_bpf_iterators(const BpfFilter& filter);

}  // namespace portrel
