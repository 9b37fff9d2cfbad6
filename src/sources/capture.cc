// capture(): processes and fd tables first (they also reveal the network
// namespaces), then one sock_diag dump per namespace, then the join. A socket born
// between the two reads has no holder yet; one that closed leaves a holding with
// no socket, which the join drops.
#include "sources/capture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "sources/procfs_source.h"
#include "sources/sock_diag.h"

namespace portrel {
namespace {

uint64_t own_netns() {
  struct stat st;
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

}  // namespace

Result<Snapshot> capture_from(ProcessSource& process_source,
                              SocketSource& socket_source,
                              const CaptureOptions& options) {
  auto procs = process_source.scan();
  if (!procs) return std::unexpected(procs.error());
  ProcessScan& ps = *procs;

  std::vector<NetnsHandle> wanted;
  uint64_t host = own_netns();
  bool host_listed = false;
  for (const NetnsHandle& h : ps.netns) {
    if (h.inode == host) host_listed = true;
    if (options.only_netns.empty() ||
        std::ranges::find(options.only_netns, h.inode) != options.only_netns.end()) {
      wanted.push_back(h);
    }
  }
  if (!host_listed && host != 0 &&
      (options.only_netns.empty() ||
       std::ranges::find(options.only_netns, host) != options.only_netns.end())) {
    wanted.push_back(NetnsHandle{host, "/proc/self/ns/net", ""});
  }

  SocketQuery query{.listening_only = options.listening_only};
  auto socks = socket_source.scan(wanted, query);
  if (!socks) return std::unexpected(socks.error());

  std::vector<Netns> namespaces;
  for (const NetnsHandle& h : wanted) {
    Netns n{h.inode, h.name, h.inode == host, false};
    n.dumped =
        std::ranges::find(socks->dumped_netns, h.inode) != socks->dumped_netns.end();
    namespaces.push_back(std::move(n));
  }

  std::vector<std::string> warnings = std::move(ps.warnings);
  for (std::string& w : socks->warnings) warnings.push_back(std::move(w));
  return Snapshot(std::move(ps.processes), std::move(socks->sockets),
                  std::move(ps.holdings), std::move(namespaces), std::move(warnings),
                  ps.fd_unreadable == 0 ? Unowned::hidden
                  : geteuid() == 0      ? Unowned::unreadable
                                        : Unowned::not_privileged);
}

Result<Snapshot> capture(const CaptureOptions& options) {
  ProcfsSource processes;
  SockDiagSource sockets;
  return capture_from(processes, sockets, options);
}

}  // namespace portrel
