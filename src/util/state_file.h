// What portrel learns about the running kernel once and keeps for the boot (the
// bpf parts it refuses, the bind rule it follows) lives in small files in a
// root-only directory. They are caches: one that is absent, foreign or
// malformed only means finding the answer again.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "portrel/error.h"

namespace portrel {

/// Where the files live: PORTREL_STATE=DIR, or "off" (nothing is read or
/// written); default /run/portrel (a tmpfs: gone at reboot).
inline constexpr const char* kStateEnv = "PORTREL_STATE";
/// STATE_DIR/NAME, or "" when off.
std::string state_file(std::string_view name);

/// The text of PATH when it can be trusted: a regular file of at most 64 KiB
/// owned by root and writable by no one else, in a directory of the same kind.
std::optional<std::string> read_trusted_file(const std::string& path);
/// Writes TEXT to PATH atomically (a private file, mode 0600, renamed into
/// place), making PATH's directory with mode 0700 when missing. Returns "" or
/// why not, in one line.
std::string write_private_file(const std::string& path, std::string_view text);

/// Writes TEXT to PATH atomically: a temporary file beside it, with MODE
/// (whatever the umask), renamed into place; PATH's directory must exist.
Result<void> write_file_atomically(const std::string& path, std::string_view text,
                                   mode_t mode);

/// /proc/sys/kernel/random/boot_id: "" when unreadable.
std::string boot_id();
/// The running kernel's release and version ("6.18.44 #1 SMP PREEMPT_DYNAMIC …"):
/// builds of one release differ in their version string's build stamp.
std::string kernel_build();

}  // namespace portrel
