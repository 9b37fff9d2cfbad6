// What runs inside the lab's processes: making sockets, describing them to the
// parent over the report pipe, forking more processes that die with their parent.
// Nothing here returns into the code that started the lab: a failing child
// reports and _exits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "portrel/model.h"

namespace portrel::lab::detail {

/// Where a process reports, and who supervises it.
struct Ctx {
  int report_fd = -1;  ///< write end of the pipe the Lab reads
  pid_t leader = 0;    ///< the subreaper every orphan goes to
};

/// Writes one line atomically (lines stay under PIPE_BUF). Protocol, one per line:
///   N netns | T count | P pid ppid role | S pid fd inode proto family addr port
///   listening cloexec reuseport reuseaddr | R pid | X pid | M pid text | F pid text
void send_line(const Ctx& ctx, std::string_view line);
void report_process(const Ctx& ctx, std::string_view role);
/// Describes descriptor fd of this process (fstat, getsockopt, getsockname).
void report_socket(const Ctx& ctx, int fd);
/// Reports every socket descriptor this process holds.
void report_all_sockets(const Ctx& ctx);
void report_ready(const Ctx& ctx);
void report_note(const Ctx& ctx, std::string_view text);
/// Reports a failure and exits the process.
[[noreturn]] void fail(const Ctx& ctx, std::string_view what, int err);
/// Sleeps until killed.
[[noreturn]] void park();

/// Forks a process that dies with this one, reports itself with ROLE, runs BODY
/// and then parks. Returns the child's pid in the parent.
pid_t spawn(const Ctx& ctx, std::string_view role, const std::function<void()>& body);

struct SockSpec {
  Proto proto = Proto::tcp;
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  bool listen = true;  ///< TCP only
  bool reuseport = false;
  bool reuseaddr = false;
  bool cloexec = true;
  bool nonblock = false;
};
/// Makes a bound (and for TCP listening) socket; -errno on failure.
int make_socket(const SockSpec& spec);
/// Makes it or fails the process.
int must_socket(const Ctx& ctx, const SockSpec& spec);
/// Local port of a bound socket.
uint16_t local_port(int fd);
/// A port free for TCP and UDP on every v4 and v6 address; 0 if none found.
uint16_t pick_free_port();
/// Sets lo up in this (new) network namespace.
bool bring_up_loopback();

}  // namespace portrel::lab::detail
