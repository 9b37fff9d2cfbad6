// Inet sockets from NETLINK_SOCK_DIAG: the parsers of the kernel's replies (bytes
// in, Socket rows out, so they are tested on recorded dumps) and the live source
// that dumps TCP, UDP, UDPLite, RAW and MPTCP, v4 and v6, and vsock, in every
// network namespace.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "portrel/capture.h"
#include "portrel/error.h"
#include "portrel/model.h"
#include "sources/sources.h"
#include "sources/vsock.h"

namespace portrel {

/// Parses one SOCK_DIAG_BY_FAMILY message (a whole nlmsghdr with its
/// inet_diag_msg and attributes) into a Socket. `proto` comes from the request
/// (inet_diag_msg carries none); for RAW, INET_DIAG_PROTOCOL gives raw_protocol.
/// Addresses and ports are converted from network order here. Errors on a short
/// or oversized nlmsg_len, a wrong message type or family, or a malformed
/// attribute; never reads past `nlmsg`.
Result<Socket> parse_diag_msg(std::span<const std::byte> nlmsg, Proto proto,
                              uint64_t netns);

/// Parses a dump reply (several nlmsghdr, possibly ending in NLMSG_DONE or
/// NLMSG_ERROR) with mnl_cb_run and appends its sockets to `out`. Returns true
/// when the dump is complete (DONE seen), false when more is expected. Errors on
/// NLMSG_ERROR, on DONE carrying an error, and on malformed or truncated
/// messages; rows parsed before the error stay in `out`. When `interrupted` is
/// given it is set if the kernel flagged the dump NLM_F_DUMP_INTR (inconsistent:
/// the rows are kept, but some may be missing or repeated).
Result<bool> parse_diag_dump(std::span<const std::byte> buffer, Proto proto,
                             uint64_t netns, std::vector<Socket>& out,
                             bool* interrupted = nullptr);

/// Lists the TCP or UDP sockets of the namespace the calling thread is in,
/// tagged with NETNS, another way than sock_diag (the bpf source's walks of the
/// kernel's tables): the same rows, with exact options. An error sends that
/// protocol to sock_diag instead.
using TableLister =
    std::function<Result<std::vector<Socket>>(Proto proto, uint64_t netns)>;

/// Whether the kernel dumps sockets of FAMILY (and, for AF_INET, of inet
/// PROTOCOL; past 255 it goes in INET_DIAG_REQ_PROTOCOL) through sock_diag,
/// asked with a dump of no states (one round trip, no rows) in the calling
/// thread's namespace: "" when it does, else why not. May make the kernel
/// load the diag module, as ss would.
std::string sock_diag_refusal(int family, int protocol = 0);
/// sock_diag_refusal's answer when the kernel has no diag module for it.
extern const char* const kNoDiagModule;

/// What can list sockets besides sock_diag and /proc/net.
struct ReadersAvailable {
  bool table_rows = false;  ///< bpf iterators over the TCP and UDP tables
  bool fd_walk = false;     ///< the bpf fd walk, which describes held vsock sockets
  /// A port is asked for: sock_diag's port filter skips a socket for less
  /// than the tables' rows cost.
  bool port_asked = false;
};

/// How each of PROTOCOLS (Proto's order) is read here, and why: the
/// kernel's diag modules are probed (sock_diag_refusal) once per process.
std::vector<SocketPart> plan_socket_parts(std::span<const Proto> protocols,
                                          const ReadersAvailable& have);

/// The reader of each protocol that dump_current_netns follows, by Proto
/// (fd_walk, none and absent dump nothing), and what lists the tables.
struct SocketReaders {
  std::array<SocketReader, kProtoCount> of{};
  TableLister tables;  ///< for SocketReader::tables; when it fails, sock_diag
  static SocketReaders from(std::span<const SocketPart> parts, TableLister tables = {});
};
/// Every protocol as plan_socket_parts reads it without bpf.
const SocketReaders& kernel_readers();

/// Dumps every socket of the namespace the calling thread is in, each
/// protocol by its reader, tagged with `netns_inode`. With
/// query.listening_only the kernel is asked for TCP LISTEN and for
/// UDP/UDPLite in CLOSE or ESTABLISHED (a connected UDP socket holds its port
/// too); raw_diag ignores states, so every RAW socket comes. A protocol the
/// kernel cannot dump after all (its diag module is missing: ENOENT, EINVAL,
/// EOPNOTSUPP, EPROTONOSUPPORT) and an inconsistent dump are warnings
/// appended to `warnings`, not errors; RAW then comes from /proc/net/raw.
/// `parallel` dumps run at once on their own netlink sockets (made on the calling
/// thread, so helper threads need not enter the namespace); 0 picks the number
/// of CPUs, at most 4. Rows come in the same order whatever `parallel` is.
/// TCP and UDP come from READERS.tables where it says so, unless the query
/// names a port (the kernel's port filter of sock_diag skips a socket for less).
Result<std::vector<Socket>> dump_current_netns(
    uint64_t netns_inode, const SocketQuery& query,
    std::vector<std::string>* warnings = nullptr, unsigned parallel = 0,
    const SocketReaders& readers = kernel_readers());

/// The live SocketSource. For each namespace a worker thread opens its path and
/// setns()s into it, then dumps; the calling thread never changes namespace.
/// Handles naming the same inode are dumped once (the first path that can be
/// entered wins). A namespace that cannot be entered (vanished, EPERM, the path
/// now leads to another namespace) is a warning; scan() errors only when no
/// namespace at all could be dumped. An empty list dumps the calling thread's
/// own namespace.
class SockDiagSource : public SocketSource {
 public:
  /// `workers`: threads dumping in parallel; 0 picks the number of CPUs (≤ 8).
  /// READERS: how each protocol is read (see dump_current_netns).
  /// `per_netns`: the dumps of one namespace that run at once (its
  /// `parallel`); 1 when another thread keeps the other core busy meanwhile.
  explicit SockDiagSource(unsigned workers = 0, SocketReaders readers = kernel_readers(),
                          unsigned per_netns = 0)
      : workers_(workers), readers_(std::move(readers)), per_netns_(per_netns) {}
  Result<SocketScan> scan(const std::vector<NetnsHandle>& namespaces,
                          const SocketQuery& query) override;

 private:
  unsigned workers_;
  SocketReaders readers_;
  unsigned per_netns_;
};

}  // namespace portrel
