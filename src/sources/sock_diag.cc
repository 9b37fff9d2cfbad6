// Inet sockets from NETLINK_SOCK_DIAG, read with libmnl: one dump request per
// (protocol, family), but for TCP one per table (listeners, the rest) of both
// families at once; every reply parsed by mnl_cb_run into Socket rows. The
// parsers take bytes so recorded dumps replay in tests; dump_current_netns asks the
// kernel of the calling thread's namespace, and SockDiagSource runs it in each
// namespace from worker threads (netns.h).
#include "sources/sock_diag.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/inet_diag.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/unix_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/vm_sockets_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <unordered_map>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "sources/netns.h"
#include "sources/proc_net.h"

namespace portrel {
namespace {

// One recv of a dump carries at most ~32 KiB (the kernel's dump skb); a large
// buffer never truncates and is reused for the whole namespace.
constexpr size_t kRecvBuffer = 1 << 20;
// A job whose rows come from the TableLister.
constexpr int kListed = -1;

std::string_view family_name(int family) {
  if (family == AF_VSOCK) return "";
  return family == AF_INET ? "v4" : family == AF_INET6 ? "v6" : "v4 and v6";
}

// How sock_diag is asked for a protocol: its number, or (MPTCP's 262, past
// the byte of inet_diag_req_v2) TCP's with INET_DIAG_REQ_PROTOCOL saying which.
uint8_t ip_protocol(Proto proto) {
  int p = proto_info(proto).ip_protocol;
  return p > 255 ? uint8_t{IPPROTO_TCP} : static_cast<uint8_t>(p);
}

// An MPTCP socket and its first TCP subflow share the inode of the file the
// process holds (ss lists both, the subflow as a TCP connection of that
// process): the subflow is folded into its MPTCP socket and counted there.
void fold_mptcp_subflows(std::vector<Socket>& rows) {
  std::unordered_map<uint64_t, size_t> mptcp;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].proto == Proto::mptcp && rows[i].inode != 0) mptcp.emplace(rows[i].inode, i);
  }
  if (mptcp.empty()) return;
  auto subflow = [&](const Socket& s) {
    return s.proto == Proto::tcp && s.inode != 0 && mptcp.contains(s.inode);
  };
  for (const Socket& s : rows) {
    if (!subflow(s)) continue;
    Socket& parent = rows[mptcp[s.inode]];
    if (parent.subflows < UINT8_MAX) ++parent.subflows;
  }
  std::erase_if(rows, subflow);
}

struct AttrState {
  Socket* socket;
  Proto proto;
  const char* parsed_end;  // just past the last attribute seen
  const char* bad = nullptr;
  bool association = false;  // an SCTP association's row (INET_DIAG_PEERS)
};

int on_attr(const nlattr* attr, void* data) {
  auto& st = *static_cast<AttrState*>(data);
  st.parsed_end = reinterpret_cast<const char*>(attr) + MNL_ALIGN(mnl_attr_get_len(attr));
  switch (mnl_attr_get_type(attr)) {
    case INET_DIAG_SKV6ONLY:
      if (mnl_attr_validate(attr, MNL_TYPE_U8) < 0) {
        st.bad = "INET_DIAG_SKV6ONLY";
        return MNL_CB_ERROR;
      }
      if (st.socket->family == 6) {
        st.socket->v6only = mnl_attr_get_u8(attr) ? Tristate::yes : Tristate::no;
        st.socket->v6only_from = OptSource::diag;
      }
      break;
    case INET_DIAG_PEERS:
      // sctp_diag: an association of the socket, after the socket's own row
      // (same inode); portrel lists sockets.
      st.association = true;
      break;
    case INET_DIAG_PROTOCOL:
      if (mnl_attr_validate(attr, MNL_TYPE_U8) < 0) {
        st.bad = "INET_DIAG_PROTOCOL";
        return MNL_CB_ERROR;
      }
      if (st.proto == Proto::raw) st.socket->raw_protocol = mnl_attr_get_u8(attr);
      break;
    default:
      break;
  }
  return MNL_CB_OK;
}

Error malformed(std::string what) { return Error{"malformed sock_diag message: " + what}; }

// Checks what every reply message must be: long enough for PAYLOAD bytes,
// within SIZE, aligned, of a sock_diag type.
std::optional<Error> check_header(const nlmsghdr* nlh, size_t size, size_t payload,
                                  const char* what) {
  if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + payload) {
    return malformed("nlmsg_len " + std::to_string(nlh->nlmsg_len) + " is shorter than " +
                     what);
  }
  if (nlh->nlmsg_len > size) {
    return malformed("nlmsg_len " + std::to_string(nlh->nlmsg_len) + " exceeds the " +
                     std::to_string(size) + " bytes at hand");
  }
  if (nlh->nlmsg_len % MNL_ALIGNTO != 0) {
    return malformed("unaligned nlmsg_len " + std::to_string(nlh->nlmsg_len));
  }
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY && nlh->nlmsg_type != TCPDIAG_GETSOCK) {
    return malformed("type " + std::to_string(nlh->nlmsg_type) +
                     " is neither SOCK_DIAG_BY_FAMILY nor TCPDIAG_GETSOCK");
  }
  return std::nullopt;
}

// A vsock_diag_msg: CIDs and 32-bit ports in host order, no attributes, no
// uid (the kernel keeps one, vsock_diag does not say it).
Result<Socket> parse_vsock_aligned(const nlmsghdr* nlh, size_t size, uint64_t netns) {
  if (auto bad = check_header(nlh, size, sizeof(vsock_diag_msg), "a vsock_diag_msg")) {
    return std::unexpected(std::move(*bad));
  }
  vsock_diag_msg msg;
  std::memcpy(&msg, mnl_nlmsg_get_payload(nlh), sizeof msg);
  if (msg.vdiag_family != AF_VSOCK) {
    return std::unexpected(
        malformed("family " + std::to_string(msg.vdiag_family) + " is not AF_VSOCK"));
  }
  return vsock_socket(netns, msg.vdiag_ino,
                      uint64_t{msg.vdiag_cookie[0]} | uint64_t{msg.vdiag_cookie[1]} << 32,
                      msg.vdiag_state, msg.vdiag_src_cid, msg.vdiag_src_port,
                      msg.vdiag_dst_cid, msg.vdiag_dst_port, kUnknownUid);
}

// ASSOCIATION, when given, says whether the row is an SCTP association's.
Result<Socket> parse_aligned(const nlmsghdr* nlh, size_t size, Proto proto,
                             uint64_t netns, bool* association = nullptr) {
  if (proto == Proto::vsock) return parse_vsock_aligned(nlh, size, netns);
  if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(inet_diag_msg)) {
    return std::unexpected(malformed("nlmsg_len " + std::to_string(nlh->nlmsg_len) +
                                     " is shorter than an inet_diag_msg"));
  }
  if (nlh->nlmsg_len > size) {
    return std::unexpected(malformed("nlmsg_len " + std::to_string(nlh->nlmsg_len) +
                                     " exceeds the " + std::to_string(size) +
                                     " bytes at hand"));
  }
  if (nlh->nlmsg_len % MNL_ALIGNTO != 0) {
    return std::unexpected(malformed("unaligned nlmsg_len " +
                                     std::to_string(nlh->nlmsg_len)));
  }
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY && nlh->nlmsg_type != TCPDIAG_GETSOCK) {
    return std::unexpected(malformed("type " + std::to_string(nlh->nlmsg_type) +
                                     " is neither SOCK_DIAG_BY_FAMILY nor TCPDIAG_GETSOCK"));
  }
  inet_diag_msg msg;
  std::memcpy(&msg, mnl_nlmsg_get_payload(nlh), sizeof msg);

  Socket s;
  if (msg.idiag_family == AF_INET) {
    s.family = 4;
    s.local_addr = Address::v4(msg.id.idiag_src[0]);
    s.remote_addr = Address::v4(msg.id.idiag_dst[0]);
  } else if (msg.idiag_family == AF_INET6) {
    s.family = 6;
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), msg.id.idiag_src, bytes.size());
    s.local_addr = Address::v6(bytes);
    std::memcpy(bytes.data(), msg.id.idiag_dst, bytes.size());
    s.remote_addr = Address::v6(bytes);
  } else {
    return std::unexpected(malformed("family " + std::to_string(msg.idiag_family) +
                                     " is neither AF_INET nor AF_INET6"));
  }
  s.inode = msg.idiag_inode;
  s.cookie = uint64_t{msg.id.idiag_cookie[0]} | uint64_t{msg.id.idiag_cookie[1]} << 32;
  s.netns = netns;
  s.proto = proto;
  s.state = msg.idiag_state;
  s.local_port = ntohs(msg.id.idiag_sport);
  s.remote_port = ntohs(msg.id.idiag_dport);
  // TIME_WAIT and request sockets (SYN_RECV without an inode) carry no uid:
  // the kernel reports 0.
  bool no_uid = proto == Proto::tcp && (s.state == kStateTimeWait ||
                                        (s.state == kStateSynRecv && s.inode == 0));
  s.uid = no_uid ? kUnknownUid : msg.idiag_uid;
  s.bound_dev = msg.id.idiag_if;
  s.rx_queue = msg.idiag_rqueue;
  s.tx_queue = msg.idiag_wqueue;

  const char* first_attr =
      static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, sizeof msg));
  AttrState st{&s, proto, first_attr};
  if (mnl_attr_parse(nlh, sizeof msg, on_attr, &st) < 0) {
    return std::unexpected(malformed(std::string("bad ") + st.bad + " attribute"));
  }
  const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  if (st.parsed_end != tail) {
    return std::unexpected(malformed("attribute overruns its message"));
  }
  if (association) *association = st.association;
  return s;
}

struct DumpState {
  Proto proto;
  uint64_t netns;
  std::vector<Socket>* out;
  std::optional<Error> error;
};

int on_data(const nlmsghdr* nlh, void* data) {
  auto& st = *static_cast<DumpState*>(data);
  bool association = false;
  auto socket = parse_aligned(nlh, nlh->nlmsg_len, st.proto, st.netns, &association);
  if (!socket) {
    st.error = std::move(socket.error());
    return MNL_CB_ERROR;
  }
  if (!association) st.out->push_back(*socket);
  return MNL_CB_OK;
}


// The error of an NLMSG_ERROR or NLMSG_DONE carrying the negative errno VALUE;
// a value no errno has (INT_MIN included: its negation overflows) is a
// malformed reply.
Error errno_error(const DumpState& st, int32_t value) {
  if (value < -4095 || value > 4095) {
    return malformed("an errno of " + std::to_string(value) + " in an error reply");
  }
  return system_error(std::string("sock_diag ") + std::string(proto_name(st.proto)),
                      value < 0 ? -value : value);
}

int on_error(const nlmsghdr* nlh, void* data) {
  auto& st = *static_cast<DumpState*>(data);
  nlmsgerr err;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof err) {
    st.error = malformed("truncated NLMSG_ERROR");
    return MNL_CB_ERROR;
  }
  std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
  if (err.error == 0) return MNL_CB_STOP;  // an acknowledgement
  st.error = errno_error(st, err.error);
  return MNL_CB_ERROR;
}

// A dump that fails after it started reports its errno in NLMSG_DONE's payload.
int on_done(const nlmsghdr* nlh, void* data) {
  auto& st = *static_cast<DumpState*>(data);
  int status = 0;
  if (mnl_nlmsg_get_payload_len(nlh) >= sizeof status) {
    std::memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof status);
  }
  if (status < 0) {
    st.error = errno_error(st, status);
    return MNL_CB_ERROR;
  }
  return MNL_CB_STOP;
}

int on_overrun(const nlmsghdr*, void* data) {
  static_cast<DumpState*>(data)->error = Error{"netlink overrun: messages were lost"};
  return MNL_CB_ERROR;
}

int on_noop(const nlmsghdr*, void*) { return MNL_CB_OK; }

// Walks the message headers once: how many bytes form whole messages (up to and
// including one that ends the dump), whether one ends it, and whether the kernel
// flagged any inconsistent. mnl_nlmsg_ok alone accepts an nlmsg_len above
// INT_MAX (it compares as a negative int), so lengths are bounded here too.
struct Walk {
  int whole = 0;
  bool ends = false;
  bool interrupted = false;
};

Walk walk_headers(const std::byte* data, int size) {
  Walk w;
  int len = size;
  auto* nlh = reinterpret_cast<const nlmsghdr*>(data);
  while (mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= static_cast<uint32_t>(len)) {
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) w.interrupted = true;
    bool ends = nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR;
    nlh = mnl_nlmsg_next(nlh, &len);
    if (ends) {
      w.ends = true;
      break;
    }
  }
  w.whole = size - std::max(len, 0);
  return w;
}

// mnl_cb_run stops at the first NLM_F_DUMP_INTR message; the flag is noted and
// cleared so that the rows of an inconsistent dump are still read. `size` covers
// whole messages only (Walk::whole).
void clear_dump_intr(std::byte* data, int size) {
  int len = size;
  auto* nlh = reinterpret_cast<nlmsghdr*>(data);
  while (mnl_nlmsg_ok(nlh, len)) {
    nlh->nlmsg_flags &= ~NLM_F_DUMP_INTR;
    nlh = mnl_nlmsg_next(nlh, &len);
  }
}

bool is_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(nlmsghdr) == 0;
}

Result<bool> run_dump(std::span<const std::byte> buffer, Proto proto, uint64_t netns,
                      uint32_t seq, uint32_t portid, std::vector<Socket>& out,
                      bool* interrupted) {
  if (buffer.size() > INT_MAX) return std::unexpected(malformed("buffer too large"));
  const std::byte* data = buffer.data();
  int size = static_cast<int>(buffer.size());
  std::vector<uint32_t> copy;  // an aligned, writable copy, made only when needed
  auto make_copy = [&] {
    if (!copy.empty()) return;
    copy.resize((buffer.size() + 3) / 4);
    std::memcpy(copy.data(), buffer.data(), buffer.size());
    data = reinterpret_cast<const std::byte*>(copy.data());
  };
  if (!is_aligned(data)) make_copy();
  Walk walk = walk_headers(data, size);
  if (walk.interrupted) {
    make_copy();
    clear_dump_intr(reinterpret_cast<std::byte*>(copy.data()), walk.whole);
  }
  if (interrupted) *interrupted = walk.interrupted;

  mnl_cb_t control[NLMSG_MIN_TYPE] = {
      nullptr, on_noop, on_error, on_done, on_overrun,
  };
  DumpState st{proto, netns, &out, std::nullopt};
  int ret = mnl_cb_run2(data, static_cast<size_t>(walk.whole), seq, portid, on_data,
                        &st, control, NLMSG_MIN_TYPE);
  if (ret == MNL_CB_ERROR) {
    if (st.error) return std::unexpected(std::move(*st.error));
    if (errno == ESRCH) return std::unexpected(Error{"netlink reply from another port", ESRCH});
    if (errno == EPROTO) return std::unexpected(Error{"netlink reply out of sequence", EPROTO});
    return std::unexpected(system_error("sock_diag reply", errno));
  }
  if (ret == MNL_CB_STOP) return true;
  if (walk.whole < size) {
    return std::unexpected(malformed(std::to_string(size - walk.whole) +
                                     " trailing bytes do not form a message"));
  }
  return false;
}

uint32_t requested_states(Proto proto, const SocketQuery& query) {
  if (!query.listening_only) return ~0u;
  if (proto_info(proto).connections) return 1u << kStateListen;
  return 1u << kStateClose | 1u << kStateEstablished;
}

// A protocol whose diag handler the kernel lacks: not an error of the dump.
bool is_missing_protocol(int err) {
  return err == ENOENT || err == EINVAL || err == EOPNOTSUPP || err == EPROTONOSUPPORT;
}

struct MnlSocketCloser {
  void operator()(mnl_socket* nl) const { mnl_socket_close(nl); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketCloser>;

// inet_diag bytecode that keeps sockets whose local port is PORT: "sport >= P"
// then "sport <= P". An op jumps `yes` bytes on a match and `no` bytes on a
// miss; the socket is kept when the jumps land exactly on the end.
std::array<inet_diag_bc_op, 4> port_bytecode(uint16_t port) {
  constexpr uint16_t kOp = 2 * sizeof(inet_diag_bc_op);  // a comparison and its port
  return {inet_diag_bc_op{INET_DIAG_BC_S_GE, kOp, 2 * kOp + 4},
          inet_diag_bc_op{0, 0, port},
          inet_diag_bc_op{INET_DIAG_BC_S_LE, kOp, kOp + 4},
          inet_diag_bc_op{0, 0, port}};
}

// Sends one dump request and reads replies until the dump ends.
Result<void> dump_one(mnl_socket* nl, uint32_t seq, Proto proto, int family,
                      uint32_t states, std::optional<uint32_t> port, uint64_t netns,
                      std::byte* buf, std::vector<Socket>& out, bool& interrupted) {
  constexpr size_t kReq = std::max(sizeof(inet_diag_req_v2), sizeof(inet_diag_req));
  alignas(nlmsghdr) char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(kReq) + MNL_ATTR_HDRLEN +
                             sizeof(std::array<inet_diag_bc_op, 4>) + MNL_ATTR_HDRLEN +
                             sizeof(uint32_t)];
  nlmsghdr* nlh = mnl_nlmsg_put_header(req);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  if (family == AF_VSOCK) {
    // vsock_diag: every vsock socket of the namespace in STATES; no filter
    // by port (the caller drops the others).
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    auto* r = static_cast<vsock_diag_req*>(
        mnl_nlmsg_put_extra_header(nlh, sizeof(vsock_diag_req)));
    r->sdiag_family = AF_VSOCK;
    r->vdiag_states = states;
    port.reset();
  } else if (family == AF_UNSPEC) {
    // TCP of both families in one walk of the kernel's tables: only the
    // older request type asks for that (SOCK_DIAG_BY_FAMILY walks every
    // socket once per family, skipping the other's).
    nlh->nlmsg_type = TCPDIAG_GETSOCK;
    auto* r = static_cast<inet_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req)));
    r->idiag_family = AF_INET;  // not read: the kernel dumps every family
    r->idiag_states = states;
  } else {
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    auto* r = static_cast<inet_diag_req_v2*>(
        mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    r->sdiag_family = static_cast<uint8_t>(family);
    r->sdiag_protocol = ip_protocol(proto);  // IPPROTO_RAW dumps every raw socket
    r->idiag_states = states;
    if (proto_info(proto).ip_protocol > 255) {
      mnl_attr_put_u32(nlh, INET_DIAG_REQ_PROTOCOL,
                       static_cast<uint32_t>(proto_info(proto).ip_protocol));
    }
  }
  if (port && *port <= UINT16_MAX) {
    auto bytecode = port_bytecode(static_cast<uint16_t>(*port));
    mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, sizeof bytecode, bytecode.data());
  }
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    return std::unexpected(system_error("sock_diag request", errno));
  }
  uint32_t portid = mnl_socket_get_portid(nl);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf, kRecvBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(system_error("sock_diag receive", errno));
    }
    if (n == 0) return std::unexpected(Error{"sock_diag: netlink socket closed"});
    bool intr = false;
    auto done = run_dump({buf, static_cast<size_t>(n)}, proto, netns, seq, portid, out,
                         &intr);
    interrupted = interrupted || intr;
    if (!done) return std::unexpected(std::move(done.error()));
    if (*done) return {};
  }
}

}  // namespace


Result<Socket> parse_diag_msg(std::span<const std::byte> nlmsg, Proto proto,
                              uint64_t netns) {
  if (nlmsg.size() < sizeof(nlmsghdr)) {
    return std::unexpected(malformed(std::to_string(nlmsg.size()) +
                                     " bytes are shorter than a netlink header"));
  }
  if (is_aligned(nlmsg.data())) {
    return parse_aligned(reinterpret_cast<const nlmsghdr*>(nlmsg.data()), nlmsg.size(),
                         proto, netns);
  }
  std::vector<uint32_t> copy((nlmsg.size() + 3) / 4);
  std::memcpy(copy.data(), nlmsg.data(), nlmsg.size());
  return parse_aligned(reinterpret_cast<const nlmsghdr*>(copy.data()), nlmsg.size(),
                       proto, netns);
}

Result<bool> parse_diag_dump(std::span<const std::byte> buffer, Proto proto,
                             uint64_t netns, std::vector<Socket>& out,
                             bool* interrupted) {
  return run_dump(buffer, proto, netns, 0, 0, out, interrupted);
}

const char* const kNoDiagModule = "no diag module for it in this kernel";

std::string sock_diag_refusal(int family, int protocol) {
  MnlSocket nl(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
  if (!nl) return std::string("cannot open NETLINK_SOCK_DIAG: ") + strerror(errno);
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::string("cannot bind NETLINK_SOCK_DIAG: ") + strerror(errno);
  }
  alignas(nlmsghdr) char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  uint32_t seq = static_cast<uint32_t>(time(nullptr));
  nlh->nlmsg_seq = seq;
  if (family == AF_INET || family == AF_INET6) {
    auto* req = static_cast<inet_diag_req_v2*>(
        mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    req->sdiag_family = static_cast<uint8_t>(family);
    req->sdiag_protocol = static_cast<uint8_t>(protocol > 255 ? int{IPPROTO_TCP} : protocol);
    req->idiag_states = 0;
    if (protocol > 255) mnl_attr_put_u32(nlh, INET_DIAG_REQ_PROTOCOL, static_cast<uint32_t>(protocol));
  } else if (family == AF_UNIX) {
    auto* req = static_cast<unix_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(unix_diag_req)));
    req->sdiag_family = AF_UNIX;
  } else if (family == AF_NETLINK) {
    auto* req =
        static_cast<netlink_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(netlink_diag_req)));
    req->sdiag_family = AF_NETLINK;
    req->sdiag_protocol = NDIAG_PROTO_ALL;
  } else if (family == AF_PACKET) {
    auto* req =
        static_cast<packet_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(packet_diag_req)));
    req->sdiag_family = AF_PACKET;
  } else {
    auto* req =
        static_cast<vsock_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(vsock_diag_req)));
    req->sdiag_family = static_cast<uint8_t>(family);
  }
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) {
    return std::string("send: ") + strerror(errno);
  }
  // A dump that fails once it started (no handler for the protocol) says so
  // in NLMSG_DONE's payload; one refused at once, in NLMSG_ERROR.
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl.get(), buf, sizeof buf);
    if (n < 0) return std::string("receive: ") + strerror(errno);
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq) continue;
      if (m->nlmsg_type != NLMSG_DONE && m->nlmsg_type != NLMSG_ERROR) continue;
      int err = 0;
      if (mnl_nlmsg_get_payload_len(m) >= sizeof(int)) {
        memcpy(&err, mnl_nlmsg_get_payload(m), sizeof err);
      }
      if (err == 0) return "";
      if (-err == ENOENT) return kNoDiagModule;
      return strerror(-err);
    }
  }
}

namespace {

// Whether sock_diag dumps PROTO here: asked once per process (a module loaded
// later is seen by the next run), as a missing module makes the kernel try
// to load it on every request.
const std::string& diag_refusal(Proto proto) {
  static std::array<std::once_flag, kProtoCount> once;
  static std::array<std::string, kProtoCount> refusal;
  size_t i = static_cast<size_t>(proto);
  std::call_once(once[i], [&] {
    refusal[i] = proto == Proto::vsock ? sock_diag_refusal(AF_VSOCK)
                                       : sock_diag_refusal(AF_INET, proto_info(proto).ip_protocol);
  });
  return refusal[i];
}

// Why sock_diag cannot list PROTO, in a user's words.
std::string cannot(Proto proto, const std::string& why) {
  if (why == kNoDiagModule) return "no " + std::string(proto_name(proto)) + "_diag in this kernel";
  return "sock_diag refuses it: " + why;
}

SocketPart plan_part(Proto proto, const ReadersAvailable& have) {
  using R = SocketReader;
  const ProtoInfo& info = proto_info(proto);
  if (!info.present_when.empty() && access(std::string(info.present_when).c_str(), F_OK) != 0) {
    return {proto, R::absent,
            "this kernel has no " + std::string(info.name) + " (no " +
                std::string(info.present_when) + ")"};
  }
  if (proto == Proto::tcp || proto == Proto::udp) {
    if (have.table_rows && !have.port_asked) return {proto, R::tables, ""};
    return {proto, R::sock_diag, have.table_rows ? "a port is asked: sock_diag's filter" : ""};
  }
  if (proto == Proto::icmp) {
    return {proto, R::proc_net, "no kernel dumps ping sockets; no socket options"};
  }
  // inet_diag with TCP's and UDP's handlers is in every kernel ss works on: a
  // dump that fails after all is a warning then. The rest are asked.
  if (proto == Proto::udplite) return {proto, R::sock_diag, ""};
  const std::string& why = diag_refusal(proto);
  if (why.empty()) return {proto, R::sock_diag, ""};
  if (proto == Proto::raw) {
    return {proto, R::proc_net, cannot(proto, why) + "; no socket options"};
  }
  if (proto == Proto::vsock && have.fd_walk) {
    return {proto, R::fd_walk, cannot(proto, why) + ": only sockets a visible process holds"};
  }
  if (proto == Proto::vsock) return {proto, R::none, cannot(proto, why) + ", and bpf did not load"};
  return {proto, R::none, cannot(proto, why)};
}

}  // namespace

std::vector<SocketPart> plan_socket_parts(std::span<const Proto> protocols,
                                          const ReadersAvailable& have) {
  std::vector<SocketPart> parts;
  for (const ProtoInfo& info : portrel::protocols()) {
    if (std::ranges::find(protocols, info.proto) == protocols.end()) continue;
    parts.push_back(plan_part(info.proto, have));
  }
  return parts;
}

SocketReaders SocketReaders::from(std::span<const SocketPart> parts, TableLister tables) {
  SocketReaders readers;
  readers.of.fill(SocketReader::absent);
  for (const SocketPart& p : parts) readers.of[static_cast<size_t>(p.proto)] = p.reader;
  readers.tables = std::move(tables);
  return readers;
}

const SocketReaders& kernel_readers() {
  static const SocketReaders readers = [] {
    std::vector<Proto> every;
    for (const ProtoInfo& info : protocols()) every.push_back(info.proto);
    return SocketReaders::from(plan_socket_parts(every, {}));
  }();
  return readers;
}

Result<std::vector<Socket>> dump_current_netns(uint64_t netns_inode,
                                               const SocketQuery& query,
                                               std::vector<std::string>* warnings,
                                               unsigned parallel,
                                               const SocketReaders& readers) {
  struct Job {
    Proto proto;
    int family;
    uint32_t states;
    std::vector<Socket> rows;
    Result<void> status;
    bool interrupted = false;
  };
  std::vector<Job> jobs;
  std::vector<Socket> from_proc;  // read here: this thread is in the namespace
  std::vector<std::string> proc_problems;
  auto read_tables = [&](Proto proto) {
    for (uint8_t family : {uint8_t{4}, uint8_t{6}}) {
      auto rows = read_proc_net(proto, family, netns_inode);
      if (!rows) {
        proc_problems.push_back(rows.error().message);
        continue;
      }
      for (Socket& s : *rows) {
        bool bound = s.state == kStateClose || s.state == kStateEstablished;
        if (query.listening_only && proto != Proto::raw && !bound) continue;
        if (query.port && s.local_port != *query.port) continue;
        from_proc.push_back(s);
      }
    }
  };
  for (const ProtoInfo& info : protocols()) {
    Proto proto = info.proto;
    if (!query.protocols.empty() &&
        std::ranges::find(query.protocols, proto) == query.protocols.end()) {
      continue;
    }
    SocketReader reader = readers.of[static_cast<size_t>(proto)];
    if (reader == SocketReader::proc_net) {
      read_tables(proto);
      continue;
    }
    if (reader != SocketReader::sock_diag && reader != SocketReader::tables) continue;
    uint32_t states = requested_states(proto, query);
    if (proto == Proto::vsock) {
      jobs.push_back({proto, AF_VSOCK, states, {}, {}});
      continue;
    }
    if (reader == SocketReader::tables && readers.tables && !query.port &&
        (proto == Proto::tcp || proto == Proto::udp)) {
      jobs.push_back({proto, kListed, states, {}, {}});
      continue;
    }
    if (proto != Proto::tcp) {
      for (int family : {AF_INET, AF_INET6}) jobs.push_back({proto, family, states, {}, {}});
      continue;
    }
    // TCP's listeners and its other sockets lie in two tables, which the
    // kernel walks apart: as two dumps (each of both families) they go to
    // both workers.
    for (uint32_t part : {~(1u << kStateListen), 1u << kStateListen}) {
      if ((states & part) != 0) jobs.push_back({proto, AF_UNSPEC, states & part, {}, {}});
    }
  }
  if (parallel == 0) parallel = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  size_t workers = std::clamp<size_t>(parallel, 1, jobs.size());

  // A netlink socket answers for the namespace it was made in, so all are made
  // here; the threads that use them need not enter the namespace.
  std::vector<MnlSocket> sockets;
  for (size_t w = 0; w < workers; ++w) {
    MnlSocket nl(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
    if (!nl) return std::unexpected(system_error("open NETLINK_SOCK_DIAG socket", errno));
    if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
      return std::unexpected(system_error("bind NETLINK_SOCK_DIAG socket", errno));
    }
    sockets.push_back(std::move(nl));
  }
  uint32_t seq = static_cast<uint32_t>(time(nullptr));
  std::atomic<size_t> next{0};
  auto work = [&](size_t w) {
    auto buf = std::make_unique_for_overwrite<std::byte[]>(kRecvBuffer);
    for (size_t i = next++; i < jobs.size(); i = next++) {
      Job& job = jobs[i];
      auto dump = [&](int family, uint32_t sequence) {
        return dump_one(sockets[w].get(), sequence, job.proto, family, job.states, query.port,
                        netns_inode, buf.get(), job.rows, job.interrupted);
      };
      auto each_family = [&] {
        job.rows.clear();
        job.status = dump(AF_INET, seq + static_cast<uint32_t>(2 * i));
        if (job.status) job.status = dump(AF_INET6, seq + static_cast<uint32_t>(2 * i + 1));
      };
      if (job.family == kListed) {
        auto rows = readers.tables(job.proto, netns_inode);
        if (rows) {
          job.rows = std::move(*rows);
          continue;
        }
        job.family = AF_UNSPEC;  // sock_diag, then, of both families
        if (job.proto == Proto::udp) {
          each_family();
          continue;
        }
      }
      job.status = dump(job.family, seq + static_cast<uint32_t>(2 * i));
      if (job.family == AF_UNSPEC && !job.status &&
          is_missing_protocol(job.status.error().errno_value)) {
        each_family();  // a kernel without the older request type
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    for (size_t w = 1; w < workers; ++w) {
      try {
        threads.emplace_back(work, w);
      } catch (const std::system_error&) {
        break;  // the threads started, and this one, take the rest
      }
    }
    work(0);
  }

  std::string where = "netns " + std::to_string(netns_inode) + ": ";
  std::vector<Proto> missing;
  size_t total = 0;
  for (Job& job : jobs) {
    std::string what = std::string(proto_name(job.proto)) + " " +
                       std::string(family_name(job.family));
    if (!job.status) {
      Error& e = job.status.error();
      if (!is_missing_protocol(e.errno_value)) {
        e.message = where + what + " dump: " + e.message;
        return std::unexpected(std::move(e));
      }
      job.rows.clear();
      bool first = std::ranges::find(missing, job.proto) == missing.end();
      missing.push_back(job.proto);
      if (first && job.proto == Proto::raw) {
        // No raw_diag: the kernel's /proc/net/raw table lists them still.
        read_tables(Proto::raw);
        continue;
      }
      if (warnings && first) {
        warnings->push_back(where + std::string(proto_name(job.proto)) +
                            " sockets not listed: the kernel cannot dump them (" +
                            e.message + ")");
      }
      continue;
    }
    if (job.proto == Proto::sctp && query.listening_only) {
      // sctp_diag gives every endpoint (socket) when listeners are asked for,
      // whatever its state.
      std::erase_if(job.rows, [](const Socket& s) { return !s.is_listening(); });
    }
    if (job.interrupted && warnings) {
      warnings->push_back(where + what + " dump was inconsistent (NLM_F_DUMP_INTR): "
                          "sockets may be missing or repeated");
    }
    total += job.rows.size();
  }
  if (warnings) {
    for (const std::string& p : proc_problems) warnings->push_back(where + p);
  }
  std::vector<Socket> out;
  out.reserve(total + from_proc.size());
  for (Job& job : jobs) std::ranges::move(job.rows, std::back_inserter(out));
  std::ranges::move(from_proc, std::back_inserter(out));
  fold_mptcp_subflows(out);
  // SO_BINDTODEVICE's interface by its name here, in the socket's namespace.
  std::unordered_map<uint32_t, std::array<char, 16>> names;
  for (Socket& s : out) {
    if (s.bound_dev == 0) continue;
    auto [it, fresh] = names.try_emplace(s.bound_dev);
    static_assert(sizeof it->second >= IF_NAMESIZE);
    if (fresh && if_indextoname(s.bound_dev, it->second.data()) == nullptr) it->second[0] = 0;
    s.bound_dev_name = it->second;
  }
  return out;
}

Result<SocketScan> SockDiagSource::scan(const std::vector<NetnsHandle>& namespaces,
                                        const SocketQuery& query) {
  SocketScan scan;
  if (namespaces.empty()) {
    auto inode = current_netns_inode();
    if (!inode) return std::unexpected(std::move(inode.error()));
    auto rows = dump_current_netns(*inode, query, &scan.warnings, per_netns_, readers_);
    if (!rows) return std::unexpected(std::move(rows.error()));
    scan.sockets = std::move(*rows);
    scan.dumped_netns.push_back(*inode);
    return scan;
  }

  // Handles of one inode form a group: its paths are tried in turn.
  std::vector<std::vector<const NetnsHandle*>> groups;
  std::unordered_map<uint64_t, size_t> group_of;
  for (const NetnsHandle& h : namespaces) {
    if (h.inode != 0) {
      auto [it, fresh] = group_of.try_emplace(h.inode, groups.size());
      if (!fresh) {
        groups[it->second].push_back(&h);
        continue;
      }
    }
    groups.push_back({&h});
  }

  struct Outcome {
    std::optional<uint64_t> entered;
    std::vector<Socket> sockets;
    std::vector<std::string> warnings;
    std::string failure;
  };
  std::vector<Outcome> outcomes(groups.size());
  std::vector<size_t> next_path(groups.size(), 0);
  std::vector<size_t> pending(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) pending[g] = g;

  unsigned workers = workers_ ? workers_
                              : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  while (!pending.empty()) {
    std::vector<NetnsHandle> round;
    for (size_t g : pending) round.push_back(*groups[g][next_path[g]]);
    for_each_netns(round, workers, [&](size_t i, Result<uint64_t> entered) {
      Outcome& o = outcomes[pending[i]];
      if (!entered) {
        o.failure = entered.error().message;
        return;
      }
      o.failure.clear();
      auto rows = dump_current_netns(*entered, query, &o.warnings, per_netns_, readers_);
      if (!rows) {
        o.failure = rows.error().message;
        return;
      }
      o.entered = *entered;
      o.sockets = std::move(*rows);
    });
    std::vector<size_t> retry;
    for (size_t g : pending) {
      if (!outcomes[g].entered && ++next_path[g] < groups[g].size()) retry.push_back(g);
    }
    pending = std::move(retry);
  }

  std::string first_failure;
  for (size_t g = 0; g < groups.size(); ++g) {
    Outcome& o = outcomes[g];
    const NetnsHandle& h = *groups[g].front();
    if (!o.entered) {
      scan.warnings.push_back("netns " + std::to_string(h.inode) +
                              " not dumped, its sockets are not listed: " + o.failure);
      if (first_failure.empty()) first_failure = o.failure;
      continue;
    }
    if (std::ranges::find(scan.dumped_netns, *o.entered) != scan.dumped_netns.end()) {
      continue;  // two paths without a known inode led to one namespace
    }
    scan.dumped_netns.push_back(*o.entered);
    std::ranges::move(o.sockets, std::back_inserter(scan.sockets));
    std::ranges::move(o.warnings, std::back_inserter(scan.warnings));
  }
  if (scan.dumped_netns.empty()) {
    return std::unexpected(Error{"no network namespace could be dumped: " + first_failure});
  }
  return scan;
}

}  // namespace portrel
