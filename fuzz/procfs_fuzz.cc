// Every /proc/PID text parser on the same bytes: stat, status, fdinfo (also as
// an epoll fdinfo with its tfd: lines), the fd and ns links, cmdline, cgroup,
// and a mountinfo's network namespace mounts.
// None may crash, hang or read past the input; what they return must hold
// together where the format says so.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sources/epoll.h"
#include "sources/netns.h"
#include "sources/procfs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto stat = procfs::parse_stat(text)) {
    // comm is what stands between the first '(' and the last ')'.
    if (stat->comm.size() > text.size()) std::abort();
  }
  (void)procfs::parse_status(text);
  (void)procfs::parse_fdinfo(text);
  (void)parse_epoll_fdinfo(text);
  (void)is_epoll_link(text);
  (void)procfs::parse_socket_link(text);
  (void)procfs::parse_ns_link(text, "net");
  std::string joined = procfs::join_cmdline(text);
  if (joined.size() > text.size()) std::abort();
  (void)procfs::parse_cgroup(text);
  (void)procfs::parse_decimal(text);
  // A mount table: every path found is a part of one line.
  for (const auto& [inode, path] : netns_mounts(text)) {
    if (inode == 0 || path.size() > text.size()) std::abort();
  }
  return 0;
}
