// The kernel half of the bpf source: loads the iterator programs of
// portrel.bpf.c (a libbpf skeleton built with the project), or opens the ones an
// earlier run pinned in bpffs, and reads each iterator into a byte buffer of
// fixed-size records (portrel_bpf.h). Behind an interface so that the decoding
// in bpf_source.cc is tested without the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "portrel/error.h"
#include "sources/bpf/bpf_parts.h"
#include "sources/sources.h"

namespace portrel {

/// What the programs filter in the kernel for this reader.
struct BpfFilter {
  std::vector<uint16_t> ports;  ///< only sockets on these local ports; empty: all
  bool listening_only = false;  ///< drop TCP sockets that are not listening
  /// The fd walk may leave held TCP sockets' struct sock unread (their records
  /// then say PORTREL_LEAN: no port, state, namespace or options), when the
  /// table rows can be read: for a reader that takes TCP from them.
  bool lean_walk = false;
};

class BpfIterators {
 public:
  virtual ~BpfIterators() = default;
  /// portrel_task_rec for every thread-group leader of the host.
  virtual Result<std::string> tasks() = 0;
  /// Sees records as they arrive: whole records, in order.
  using RecordsSeen = std::function<void(std::string_view bytes)>;
  /// portrel_sock_rec for every inet socket fd of every process, handed to
  /// ON_RECORDS as the kernel produces them and not kept (at 100,000 sockets
  /// they are megabytes); returns how many bytes there were. With
  /// HOLDER_DETAILS, and holder_details() true, a portrel_holder_rec (exe and
  /// cmdline) goes before the first socket record of each process.
  virtual Result<size_t> task_files(const RecordsSeen& on_records, bool holder_details) = 0;
  /// Whether the fd walk can give holders' exe and cmdline (the sleepable
  /// program loaded: kernel 5.18 or later).
  virtual bool holder_details() const { return false; }
  /// portrel_row_rec for every socket of PROTO (TCP or UDP) of the network
  /// namespace the calling thread is in, as sock_diag would list them, filtered
  /// as the reader's filter says (ports, listening only).
  virtual Result<std::string> rows(Proto /*proto*/) {
    return std::unexpected(Error{"no table rows"});
  }
  /// Whether rows() can be read (the programs loaded: kernel 5.18 or later).
  virtual bool has_rows() const { return false; }
  /// portrel_sock_rec for the TCP and UDP sockets QUERY asks for, of the
  /// network namespace the calling thread is in (the kernel binds the iterator
  /// to it).
  virtual Result<std::string> tables(const TableQuery& query) = 0;
  /// How the programs came: "loaded", "loaded and pinned in DIR", "pinned in
  /// DIR" (for --verbose).
  virtual std::string origin() const { return ""; }
  /// Each part: loaded, or why not.
  virtual std::vector<BpfPartStatus> parts() const { return {}; }
};

/// Where loaded programs are pinned so that later runs skip loading them:
/// PORTREL_BPF_PINS=DIR (default /sys/fs/bpf/portrel), or "off". Pins are made
/// only when DIR's parent is a mounted bpffs; they vanish at reboot, and
/// `rm -r DIR` removes them.
inline constexpr const char* kBpfPinsEnv = "PORTREL_BPF_PINS";

/// True when this binary was built with the bpf programs.
bool bpf_built_in();

/// Names this build's programs (a hash of the object); "" without them.
std::string bpf_object_id();

/// What loading found, also when it failed: each part's state, and where the
/// answer came from (the kernel, or the verdict kept for this boot).
struct BpfLoadReport {
  std::vector<BpfPartStatus> parts;  ///< empty when nothing was tried
  std::string verdict;  ///< "remembered in PATH", "written to PATH", "not kept: why"
};

/// Opens this build's pinned programs, or loads, verifies and pins them. A part
/// the kernel refuses is dropped alone (PORTREL_BPF_FAIL=PART,… drops parts as
/// if it had); a failure or a partial load is remembered for the boot
/// (bpf_parts.h). Errors (with the reason in one line) when the binary has no
/// bpf source, PORTREL_BPF_FAIL=1, the kernel lacks BTF, an iterator or a
/// required part (tasks, task_files), or privilege is missing (CAP_BPF and
/// CAP_PERFMON, or CAP_SYS_ADMIN). REPORT, when given, gets each part's state.
Result<std::unique_ptr<BpfIterators>> load_bpf_iterators(const BpfFilter& filter,
                                                        BpfLoadReport* report = nullptr);

}  // namespace portrel
