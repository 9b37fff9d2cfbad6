// The parts of the bpf source. Each program of portrel.bpf.c, and the exe-path
// switch inside the fd walk with holders, is a part the kernel may refuse on
// its own: a refused part is dropped alone and what it would have given comes
// from the next best place (bpf_part_fallback). What loading found is kept
// for the boot in a root-only verdict file, so that a run that cannot use a
// part does not pay to find that out again. Nothing here needs libbpf.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portrel/error.h"

namespace portrel {

/// In the order of the programs in the loader (the exe path last: a switch in
/// task_files_holders, not a program).
enum class BpfPart : uint8_t {
  tasks,               ///< iter/task: every process
  task_files,          ///< iter/task_file: the fd → socket join table
  tcp,                 ///< iter/tcp: options of TCP sockets no process holds
  udp,                 ///< iter/udp: options of UDP sockets no process holds
  task_files_holders,  ///< iter.s/task_file: the fd walk with holders' texts
  tcp_rows,            ///< iter/tcp: TCP rows from the kernel's table
  udp_rows,            ///< iter/udp: UDP rows from the kernel's table
  exe_path,            ///< bpf_d_path of the exe file in task_files_holders
};
inline constexpr size_t kBpfParts = 8;
inline constexpr size_t kBpfPrograms = 7;  ///< the parts that are programs

std::string_view bpf_part_name(BpfPart part);      ///< "tasks", "exe_path", …
std::string_view bpf_part_gives(BpfPart part);     ///< what it gives, a few words
std::string_view bpf_part_fallback(BpfPart part);  ///< where that comes from without it
std::optional<BpfPart> bpf_part_named(std::string_view name);
/// Without it the bpf source cannot work at all (tasks, task_files).
bool bpf_part_required(BpfPart part);

enum class BpfPartState : uint8_t {
  loaded,    ///< loaded (or opened from the pins) and in use
  refused,   ///< the kernel refused it; `reason` has the verifier's last line
  disabled,  ///< turned off by PORTREL_BPF_FAIL
  untried,   ///< not loaded: the load failed as a whole first; `reason` says why
};
std::string_view bpf_part_state_name(BpfPartState state);

struct BpfPartStatus {
  BpfPart part = BpfPart::tasks;
  BpfPartState state = BpfPartState::loaded;
  std::string reason;  ///< one line; "" when loaded
};

/// What loading found, for one boot of one kernel and one build of the
/// programs; a verdict for another key is ignored.
struct BpfVerdict {
  std::string boot_id;  ///< /proc/sys/kernel/random/boot_id
  std::string kernel;   ///< uname release and version
  std::string object;   ///< the build of the programs (a hash of the object)
  std::string failed;   ///< why nothing could be loaded; "" when it loaded
  /// The parts the kernel refused, with the verifier's reason.
  std::vector<std::pair<BpfPart, std::string>> refused;

  bool same_key(const BpfVerdict& other) const {
    return boot_id == other.boot_id && kernel == other.kernel && object == other.object;
  }
  const std::string* refusal(BpfPart part) const;
};

/// The verdict file's text: one "key value" line each, refused parts as
/// "refused PART REASON".
std::string format_verdict(const BpfVerdict& verdict);
/// A malformed line, an unknown part or a missing key is an error.
Result<BpfVerdict> parse_verdict(std::string_view text);

/// The key of this boot, kernel and OBJECT (other fields empty).
BpfVerdict current_verdict_key(std::string object);

/// Where the verdict is kept: bpf-verdict in the state directory
/// (util/state_file.h), or "" when PORTREL_STATE=off.
std::string verdict_path();
/// The verdict at PATH when it is trustworthy (read_trusted_file) and well
/// formed; nullopt otherwise, never an error: it is only a cache.
std::optional<BpfVerdict> read_verdict(const std::string& path);
/// Writes VERDICT to PATH (write_private_file). Returns "" or why not.
std::string write_verdict(const std::string& path, const BpfVerdict& verdict);

/// The line of a verifier log that says why it refused the program: the last
/// one that is not the closing statistics ("processed N insns", "verification
/// time"). "" when the log has none.
std::string verifier_reason(std::string_view log);

/// PORTREL_BPF_FAIL: "1" or "all" fails the whole source; a comma-separated list
/// of part names makes the loader refuse those parts, as the kernel would.
inline constexpr const char* kBpfFailEnv = "PORTREL_BPF_FAIL";
struct BpfFailures {
  bool all = false;
  std::array<bool, kBpfParts> parts{};
  bool any() const;
};
/// Unknown part names are an error naming them.
Result<BpfFailures> parse_bpf_failures(std::string_view value);

/// Whether this process may load and read bpf programs: CAP_SYS_ADMIN, or
/// CAP_BPF and CAP_PERFMON, in its effective set.
bool has_bpf_privilege();

}  // namespace portrel
