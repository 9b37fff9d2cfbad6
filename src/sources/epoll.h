// The interest list of an epoll instance, from /proc/PID/fdinfo/EPFD: one `tfd:`
// line per watched fd with its event mask and the watched file's inode. This is
// how portrel sees which processes wait on a listening socket through epoll, and
// whether with EPOLLEXCLUSIVE (the thundering-herd question).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "portrel/error.h"

namespace portrel {

inline constexpr uint32_t kEpollExclusive = 1u << 28;  ///< EPOLLEXCLUSIVE

/// One `tfd:` line: the watched fd, its event mask, and the inode of its file.
struct EpollTarget {
  int fd = -1;
  uint32_t events = 0;
  uint64_t inode = 0;
  bool operator==(const EpollTarget&) const = default;
};

/// Whether a /proc/PID/fd link names an epoll instance ("anon_inode:[eventpoll]").
bool is_epoll_link(std::string_view link);

/// Parses the fdinfo text of an epoll fd. Lines other than `tfd:` are ignored;
/// an empty interest list gives an empty vector. Errors on a `tfd:` line whose
/// fd, `events:` (hex) or `ino:` (hex) is missing or malformed.
Result<std::vector<EpollTarget>> parse_epoll_fdinfo(std::string_view text);

}  // namespace portrel
