// Turning the filter options (-t -u -w --icmp --mptcp --vsock -4 -6 --all --netns --user) into a
// predicate over the snapshot's sockets.
#pragma once

#include <sys/types.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.h"
#include "portrel/error.h"
#include "portrel/snapshot.h"

namespace portrel {

struct Filter {
  /// The protocols kept, by Proto: those ProtoInfo::by_default when no
  /// selector (-t, -u, --vsock, ...) was given.
  std::array<bool, kProtoCount> protocols = default_protocols();
  bool ipv4 = true, ipv6 = true;
  bool listening_only = true;
  std::vector<uint64_t> netns;  ///< empty: every namespace
  std::optional<uid_t> uid;
  std::string container;  ///< held by a process of this container, pod or unit
  std::string sort;  ///< --sort: "" or "port" keeps the display order

  bool keeps(const Snapshot& snapshot, const Socket& socket) const;
  bool wants(Proto proto) const { return protocols[static_cast<size_t>(proto)]; }
  void want(Proto proto) { protocols[static_cast<size_t>(proto)] = true; }
  static std::array<bool, kProtoCount> default_protocols() {
    std::array<bool, kProtoCount> out{};
    for (const ProtoInfo& p : portrel::protocols()) out[static_cast<size_t>(p.proto)] = p.by_default;
    return out;
  }
};

/// Whether process P runs in the container, pod or unit WHAT names: a
/// container's name or a prefix of its id (at least 4 hex digits), a pod's
/// name or NAMESPACE/NAME, a unit's name.
bool in_workload(const Process& p, std::string_view what);

/// Resolves names (netns names, pids, user names); errors are usage errors.
Result<Filter> make_filter(const Options& options);

/// Resolves a --netns argument to a namespace inode.
Result<uint64_t> resolve_netns(const std::string& spec);

/// The pids WHAT names, as `of` reads it: a number is a pid, a path an
/// executable, "container:NAME" the processes of a container, pod or unit
/// (in_workload), anything else a comm or an executable's base name. With TREE,
/// every descendant too. Sorted.
std::vector<pid_t> named_pids(const Snapshot& snapshot, const std::string& what, bool tree);

/// Orders SOCKETS by KEY (address, proto, state, user, pid, command), stably:
/// within a key the display order stays.
void sort_sockets(const Snapshot& snapshot, std::string_view key,
                  std::vector<const Socket*>& sockets);

/// Sockets of the snapshot that pass the filter, in display order: host netns
/// first, then by protocol, port, family and address; then by filter.sort.
std::vector<const Socket*> select_sockets(const Snapshot& snapshot,
                                          const Filter& filter);

}  // namespace portrel
