// Capturing a Snapshot of the live host: processes and fd tables from /proc, inet
// sockets from NETLINK_SOCK_DIAG in every network namespace found.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portrel/error.h"
#include "portrel/model.h"
#include "portrel/snapshot.h"

namespace portrel {

struct CaptureOptions {
  /// Read only these network namespaces (inodes); empty means every one found.
  std::vector<uint64_t> only_netns;
  /// Dump only listening/bound sockets (cheaper); false dumps every state.
  bool listening_only = false;
  /// Which details of the processes holding sockets to read beyond what the
  /// kernel gives at once (pid, ppid, uid, comm, start time, namespaces): none,
  /// exe and cmdline, or those and the cgroup. With bpf each is read from /proc
  /// per holder, so a view that shows less asks for less (none: /proc is not
  /// read at all).
  enum class Details : uint8_t { none, command, all };
  Details process_details = Details::all;
  /// Dump only these protocols; empty means all (TCP, UDP, UDPLite, RAW).
  std::vector<Proto> protocols;
  /// Where the fd → socket map comes from: bpf iterators when they load (auto),
  /// only bpf (an error when it cannot load), or only the /proc walk.
  enum class Source : uint8_t { automatic, bpf, procfs };
  Source source = Source::automatic;
  /// Only sockets on this local port (filtered in the kernel with bpf); a
  /// port past 65535 can only be vsock's.
  std::optional<uint32_t> port;
  /// Read exact socket options with pidfd_getfd + getsockopt on a duplicate of a
  /// holder's fd (closed at once). Intrusive, hence off by default.
  bool probe_sockopts = false;
};

/// Where one protocol's sockets come from, in every namespace a capture reads.
enum class SocketReader : uint8_t {
  tables,     ///< bpf iterators over the kernel's TCP and UDP tables, with options
  sock_diag,  ///< NETLINK_SOCK_DIAG
  proc_net,   ///< /proc/net/PROTO{,6}: no socket options
  fd_walk,    ///< the sockets the bpf fd walk finds held: only a visible process's
  none,       ///< cannot be listed here: a view that asks for it is partial
  absent,     ///< the kernel has none of these sockets: nothing to list
};
std::string_view socket_reader_name(SocketReader reader);

/// The reader of one protocol, and why that one.
struct SocketPart {
  Proto proto = Proto::tcp;
  SocketReader reader = SocketReader::sock_diag;
  std::string reason;  ///< "no raw_diag in this kernel", "" when it is the usual one
};
/// "the bpf fd walk (no vsock_diag in this kernel: …)", for --verbose and doctor.
std::string describe(const SocketPart& part);

/// How a Capturer reads, decided once when it opens (and again only when bpf
/// fails mid-read and auto falls back to /proc): which source gives the
/// processes and fd tables, which reader each protocol's sockets, and which
/// parts run beside which. The caller's thread walks the processes; one
/// thread beside it dumps portrel's own namespace, then the others follow.
struct CapturePlan {
  /// bpf iterators or the /proc walk; with automatic, why bpf could not be used.
  CaptureOptions::Source used = CaptureOptions::Source::procfs;
  std::string fallback_reason;  ///< "" unless auto fell back
  /// With bpf: whether the programs were loaded by this capture or opened from
  /// the pins of an earlier one ("pinned in /sys/fs/bpf/portrel/ID").
  std::string bpf_programs;
  /// With bpf: each part of the programs the kernel refused (or that was
  /// turned off), why, and where what it gives came from instead; one line
  /// each, for --verbose.
  std::vector<std::string> bpf_parts_missing;
  /// One per protocol read, in Proto's order.
  std::vector<SocketPart> sockets;
  /// TCP and UDP come from the kernel's tables (SocketReader::tables).
  bool table_rows = false;
  /// bpf's task pass runs on the thread beside the fd walk, before portrel's
  /// own namespace is dumped there: the walk gives every holder's own fields
  /// and nothing else reads /proc meanwhile.
  bool tasks_beside = false;
  /// After that dump, on the same thread, the options of its TCP listeners
  /// from the kernel's tables (a hidden daemon's listeners need them).
  bool own_listener_options = false;
  /// After the join, the options of sockets no visible process holds, from
  /// the kernel's tables of their namespaces.
  bool unheld_options = false;
  /// Where the namespaces are found that only a held socket leads to (no
  /// process lives there, no path binds them).
  enum class SocketNetns : uint8_t {
    from_walk,     ///< the fd walk says each held socket's namespace (bpf)
    ask_unlisted,  ///< held IP sockets no dump listed are asked (SIOCGSKNS)
    not_sought,    ///< no sockets are read
  };
  SocketNetns socket_netns = SocketNetns::ask_unlisted;

  const SocketPart* part(Proto proto) const;
};

/// A capture that stays open between reads: the bpf programs loaded once,
/// the plan decided once, each capture() a fresh read of the host.
class Capturer {
 public:
  /// Loads what OPTIONS need. Fails only when bpf alone was asked for and
  /// cannot load; automatic falls back to /proc and says why in the plan.
  static Result<Capturer> open(const CaptureOptions& options);
  Capturer(Capturer&&) noexcept;
  Capturer& operator=(Capturer&&) noexcept;
  ~Capturer();

  /// Reads the live host. Fails only when nothing at all could be read (no
  /// /proc, no netlink); partial reads come back as warnings inside the Snapshot.
  Result<Snapshot> capture();
  const CapturePlan& plan() const;

 private:
  struct Impl;
  explicit Capturer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// One capture: Capturer::open(OPTIONS) and one capture(). PLAN, when given,
/// says how it was read.
Result<Snapshot> capture(const CaptureOptions& options, CapturePlan* plan = nullptr);

}  // namespace portrel
