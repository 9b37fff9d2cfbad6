// Parsing the /proc/net tables, whose rows the kernel writes with one format
// for every inet protocol (raw_seq_show, ping_v4_format_sock, …):
//   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode …
//    0: 0100007F:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4711 …
// Addresses are the raw bytes of the network-order address printed as native
// 32-bit words (%08X); ports are host order.
#include "sources/proc_net.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace portrel {

namespace {

template <typename T>
bool hex(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

bool decimal(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// "0100007F:0001": address words, then the port.
bool endpoint(std::string_view text, uint8_t family, Address& addr, uint32_t& port) {
  size_t colon = text.find(':');
  size_t words = family == 4 ? 1 : 4;
  if (colon != words * 8) return false;
  std::array<uint8_t, 16> bytes{};
  for (size_t i = 0; i < words; ++i) {
    uint32_t word = 0;
    if (!hex(text.substr(i * 8, 8), word)) return false;
    std::memcpy(bytes.data() + i * 4, &word, 4);  // native order, as printed from
  }
  uint16_t inet_port = 0;
  if (!hex(text.substr(colon + 1), inet_port)) return false;
  port = inet_port;
  if (family == 4) {
    uint32_t v4;
    std::memcpy(&v4, bytes.data(), 4);
    addr = Address::v4(v4);
  } else {
    addr = Address::v6(bytes);
  }
  return true;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

Result<std::vector<Socket>> parse_proc_net(std::string_view text, Proto proto, uint8_t family,
                                           uint64_t netns) {
  std::vector<Socket> out;
  size_t number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (++number == 1 || line.find_first_not_of(' ') == std::string_view::npos) continue;
    auto f = fields(line);
    Socket s;
    s.proto = proto;
    s.family = family;
    s.netns = netns;
    uint64_t uid = 0;
    uint32_t queues[2] = {0, 0};
    size_t qcolon = f.size() > 4 ? f[4].find(':') : std::string_view::npos;
    bool ok = f.size() >= 10 && f[0].ends_with(':') &&
              endpoint(f[1], family, s.local_addr, s.local_port) &&
              endpoint(f[2], family, s.remote_addr, s.remote_port) && hex(f[3], s.state) &&
              qcolon != std::string_view::npos && hex(f[4].substr(0, qcolon), queues[0]) &&
              hex(f[4].substr(qcolon + 1), queues[1]) && decimal(f[7], uid) &&
              decimal(f[9], s.inode) && uid <= UINT32_MAX;
    if (!ok) {
      return std::unexpected(Error{"/proc/net " + std::string(proto_name(proto)) +
                                   (family == 6 ? "6" : "") + " line " +
                                   std::to_string(number) + ": not a socket row"});
    }
    s.tx_queue = queues[0];
    s.rx_queue = queues[1];
    s.uid = static_cast<uid_t>(uid);
    if (proto == Proto::raw) s.raw_protocol = static_cast<uint8_t>(s.local_port);
    out.push_back(s);
  }
  return out;
}

Result<std::vector<Socket>> read_proc_net(Proto proto, uint8_t family, uint64_t netns) {
  std::string path = "/proc/thread-self/net/" + std::string(proto_name(proto)) +
                     (family == 6 ? "6" : "");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::vector<Socket>{};
    return std::unexpected(system_error("read " + path, errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_proc_net(text.str(), proto, family, netns);
}

}  // namespace portrel
