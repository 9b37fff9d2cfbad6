// Capturing a Snapshot of the live host: processes and fd tables from /proc, inet
// sockets from NETLINK_SOCK_DIAG in every network namespace found.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "portrel/error.h"
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

/// How a capture went: which source it used and, when auto fell back to procfs,
/// why bpf could not be used.
struct CaptureInfo {
  CaptureOptions::Source used = CaptureOptions::Source::procfs;
  std::string fallback_reason;  ///< "" unless auto fell back
  /// With bpf: whether the programs were loaded by this capture or opened from
  /// the pins of an earlier one ("pinned in /sys/fs/bpf/portrel/ID").
  std::string bpf_programs;
  /// With bpf: TCP and UDP sockets came from the kernel's tables (bpf
  /// iterators), not from sock_diag.
  bool table_rows = false;
  /// With bpf: each part of the programs the kernel refused (or that was
  /// turned off), why, and where what it gives came from instead; one line
  /// each, for --verbose.
  std::vector<std::string> bpf_parts_missing;
};

/// Reads the live host. Fails only when nothing at all could be read (no /proc,
/// no netlink); partial reads come back as warnings inside the Snapshot.
/// INFO, when given, says which source was used.
Result<Snapshot> capture(const CaptureOptions& options, CaptureInfo* info = nullptr);

}  // namespace portrel
