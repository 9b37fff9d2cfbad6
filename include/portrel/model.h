// The three relations portrel materialises: process, socket and holding (the join
// table process ⋈ socket). Plain value types with real keys (pid_t, inode numbers,
// host-order ports, an address that knows v4 from v6); no strings as keys.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace portrel {

/// Transport protocol of an inet socket. The order is the order of the views.
enum class Proto : uint8_t { tcp, udp, udplite, raw, icmp, mptcp, vsock, sctp, dccp };
inline constexpr size_t kProtoCount = 9;

/// What every layer knows of a protocol, in one row each (protocols()): adding
/// one is a row here, its reader in sources/, and its tests.
struct ProtoInfo {
  Proto proto;
  std::string_view name;      ///< "tcp": in output, port specs ("tcp/80"), SQL
  int ip_protocol;            ///< IPPROTO_*, as sock_diag and socket() take it
  /// Connection-oriented: TCP's states (LISTEN is its bound state); otherwise a
  /// bound socket is UNCONN (TCP_CLOSE) and a connected one ESTABLISHED.
  bool connections;
  /// Its sockets are in the default view (and `who`, `of`) without a selector.
  bool by_default;
  /// The option that selects it, as the command line spells it ("-t,--tcp",
  /// "--mptcp"); protocols with the same one are selected together.
  std::string_view selector;
  std::string_view selector_help;  ///< what --help says of that option
  /// What its "port" is: "port", "IP protocol", "ping identifier".
  std::string_view port_meaning;
  /// The names the kernel gives its IPv4 and IPv6 sockets (struct proto's
  /// name, as the system.sockprotoname xattr of a socket file reads: "TCP",
  /// "TCPv6"); empty for a protocol that is not IP's.
  std::string_view kernel_name_v4;
  std::string_view kernel_name_v6;
  /// A path that exists when the running kernel has the protocol (built in or
  /// its module loaded); empty when every kernel portrel runs on has it.
  std::string_view present_when;
};

/// Every protocol, in the order of Proto.
std::span<const ProtoInfo> protocols();
const ProtoInfo& proto_info(Proto proto);
/// "tcp", "udp", "udplite", "raw", "icmp", "mptcp", "vsock", "sctp", "dccp".
std::string_view proto_name(Proto proto);
std::optional<Proto> parse_proto(std::string_view name);

/// Address::family (and Socket::family) of a vsock address: AF_VSOCK.
inline constexpr uint8_t kFamilyVsock = 40;
/// The vsock CID of "any" (VMADDR_CID_ANY) and of the local host (VMADDR_CID_LOCAL).
inline constexpr uint32_t kVsockCidAny = 0xFFFFFFFF;
inline constexpr uint32_t kVsockCidLocal = 1;

/// An IPv4, IPv6 or vsock address. IPv4 uses the first four bytes, vsock its
/// CID in host order in the first four.
struct Address {
  uint8_t family = 0;  ///< 4, 6 or kFamilyVsock; 0 for "none".
  std::array<uint8_t, 16> bytes{};

  static Address v4(uint32_t network_order);
  static Address v6(const std::array<uint8_t, 16>& bytes);
  static Address vsock(uint32_t cid);
  uint32_t vsock_cid() const;  ///< the CID of a vsock address
  /// Parses "127.0.0.1", "::1", "[::1]"; nullopt for anything else.
  static std::optional<Address> parse(std::string_view text);

  bool is_wildcard() const;  ///< 0.0.0.0, :: or vsock's CID any
  bool is_loopback() const;  ///< 127/8, ::1, ::ffff:127/104, vsock's local CID
  /// Canonical text: dotted quad or RFC 5952 form (no brackets); a vsock
  /// CID in decimal, "*" for any.
  std::string to_string() const;
  /// Room for the longest text with its NUL (INET6_ADDRSTRLEN).
  using TextBuffer = std::array<char, 46>;
  /// The text of to_string() written into BUF, without allocating; the view
  /// points into BUF.
  std::string_view format(TextBuffer& buf) const;
  auto operator<=>(const Address&) const = default;
};

/// A socket option as far as portrel knows it. Unknown stays unknown.
enum class Tristate : uint8_t { unknown, no, yes };
std::string_view tristate_name(Tristate value);  ///< "unknown", "false", "true"

/// Where the value of a socket option came from, from weakest to exact.
enum class OptSource : uint8_t {
  none,      ///< not known
  inferred,  ///< deduced from other sockets (two TCP listeners on one address)
  diag,      ///< sock_diag (INET_DIAG_SKV6ONLY)
  probe,     ///< getsockopt on a pidfd_getfd duplicate (--probe-sockopts)
  bpf,       ///< read from struct sock by a bpf iterator
};
std::string_view opt_source_name(OptSource source);  ///< "none", "inferred", …

/// Kernel TCP state names ("ESTABLISHED", "LISTEN", "TIME_WAIT", …); UDP and RAW in
/// TCP_CLOSE are reported as "UNCONN", as ss does.
std::string_view state_name(Proto proto, uint8_t state);
inline constexpr uint8_t kStateEstablished = 1;
inline constexpr uint8_t kStateSynRecv = 3;
inline constexpr uint8_t kStateTimeWait = 6;
inline constexpr uint8_t kStateClose = 7;
inline constexpr uint8_t kStateListen = 10;

/// One row of `process`. Strings are raw bytes from the kernel: sanitise before
/// printing them.
struct Process {
  pid_t pid = 0;
  pid_t ppid = 0;
  uid_t uid = 0;            ///< real uid
  std::string user;         ///< name of uid, or the number when it has no name
  std::string comm;         ///< /proc/PID/comm (what the process calls itself)
  std::string exe;          ///< readlink of /proc/PID/exe; empty when unreadable
  std::string cmdline;      ///< arguments joined by spaces
  uint64_t netns = 0;       ///< inode of /proc/PID/ns/net; 0 when unreadable
  uint64_t pidns = 0;       ///< inode of /proc/PID/ns/pid; 0 when unreadable
  std::string cgroup;       ///< the cgroup v2 path, "" when unreadable
  uint64_t start_time = 0;  ///< clock ticks after boot (stat field 22)
};

/// One row of `socket`: an inet socket as the protocol's tables hold it.
/// A socket uid the kernel does not keep (its value is never a real uid: the
/// kernel's INVALID_UID).
inline constexpr uid_t kUnknownUid = static_cast<uid_t>(-1);

struct Socket {
  uint64_t inode = 0;   ///< sockfs inode; 0 for sockets with no file (TIME_WAIT)
  uint64_t cookie = 0;  ///< the kernel's socket cookie, unique while it lives
  uint64_t netns = 0;   ///< inode of the network namespace it lives in
  Proto proto = Proto::tcp;
  uint8_t family = 4;  ///< 4, 6 or kFamilyVsock
  uint8_t state = 0;   ///< kernel TCP_* state number
  Address local_addr;
  /// Host order. 16 bits wide for inet; vsock's ports are 32 bits.
  uint32_t local_port = 0;
  Address remote_addr;
  uint32_t remote_port = 0;  ///< host order
  /// The uid that created the socket; kUnknownUid for TIME_WAIT and request
  /// (SYN_RECV) sockets, of which the kernel keeps none.
  uid_t uid = 0;
  Tristate reuseaddr = Tristate::unknown;
  Tristate reuseport = Tristate::unknown;
  Tristate v6only = Tristate::unknown;
  OptSource reuseaddr_from = OptSource::none;
  OptSource reuseport_from = OptSource::none;
  OptSource v6only_from = OptSource::none;
  uint32_t bound_dev = 0;  ///< ifindex of SO_BINDTODEVICE, 0 when unbound
  /// That interface's name in the socket's own namespace (an index means
  /// nothing in another), read where the socket was dumped; "" when unknown.
  std::array<char, 16> bound_dev_name{};
  uint32_t rx_queue = 0;
  uint32_t tx_queue = 0;
  uint8_t raw_protocol = 0;  ///< for RAW sockets: the IP protocol number
  /// For an MPTCP socket: its TCP subflows (folded into it, not listed apart).
  uint8_t subflows = 0;

  /// LISTEN for connection protocols (TCP, MPTCP); UNCONN (bound, not
  /// connected) for the others.
  bool is_listening() const;
};

/// One row of `holding`: process PID has socket INODE open as descriptor FD.
struct Holding {
  pid_t pid = 0;
  int fd = -1;
  uint64_t inode = 0;
  bool cloexec = false;
  auto operator<=>(const Holding&) const = default;
};

}  // namespace portrel
