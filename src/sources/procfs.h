// Parsers for the texts under /proc/PID: stat, status, fdinfo, the fd and ns
// symlinks, cmdline and cgroup. They take bytes, never paths, so they are tested
// on captured text; the walker that reads the files is procfs_source.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "portrel/error.h"

namespace portrel::procfs {

/// The fields portrel uses from /proc/PID/stat.
struct Stat {
  pid_t pid = 0;
  std::string comm;  ///< raw bytes between the first '(' and the last ')'
  char state = '?';
  pid_t ppid = 0;
  uint64_t start_time = 0;  ///< field 22, clock ticks after boot
  uint32_t threads = 1;     ///< field 20, num_threads (1 when not a number)
};

/// Parses /proc/PID/stat. comm may hold any byte (spaces, parentheses, newlines,
/// escapes); everything after the last ')' is the numeric tail. Errors on
/// truncated text or a non-numeric pid, ppid or start time.
Result<Stat> parse_stat(std::string_view text);

/// The fields portrel uses from /proc/PID/status.
struct Status {
  uid_t uid = 0;              ///< real uid: the first number of "Uid:"
  std::optional<pid_t> tgid;  ///< "Tgid:", when present
};

/// Parses /proc/PID/status. Errors when there is no well-formed "Uid:" line.
Result<Status> parse_status(std::string_view text);

/// The fields portrel uses from /proc/PID/fdinfo/FD.
struct FdInfo {
  uint32_t flags = 0;          ///< "flags:", octal, as open(2) flags
  bool cloexec = false;        ///< O_CLOEXEC (02000000) is set
  std::optional<uint64_t> ino; ///< "ino:" (kernels since 5.14), when present
};

/// Parses /proc/PID/fdinfo/FD. Errors when there is no octal "flags:" line.
Result<FdInfo> parse_fdinfo(std::string_view text);

/// The inode of a fd link "socket:[12345]"; nullopt for any other target.
std::optional<uint64_t> parse_socket_link(std::string_view link);

/// The inode of a namespace link "TYPE:[4026531840]" (TYPE "net", "pid", …);
/// nullopt when the link is not of that type or malformed.
std::optional<uint64_t> parse_ns_link(std::string_view link, std::string_view type);

/// /proc/PID/cmdline (NUL-separated arguments) joined by single spaces; the
/// trailing NUL is dropped. A process that rewrote its arguments may have no
/// NULs at all: the text comes back as it is.
std::string join_cmdline(std::string_view raw);

/// The cgroup path of /proc/PID/cgroup that says most about the process: the
/// one naming its container, machine or unit (workload_of_cgroup_text: on a
/// hybrid host the v2 line can be "/" while the v1 controllers name the
/// container), else the cgroup v2 path, the "0::PATH" line (first on a pure v2
/// host, last on a hybrid one). nullopt when there is neither.
std::optional<std::string> parse_cgroup(std::string_view text);

/// Parses a whole decimal unsigned number (no sign, no spaces, no overflow).
std::optional<uint64_t> parse_decimal(std::string_view text);

}  // namespace portrel::procfs
