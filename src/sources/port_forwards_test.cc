#include "sources/port_forwards.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include <linux/netfilter/nf_tables.h>

namespace portrel {
namespace {

std::vector<std::byte> recorded(const std::string& name) {
  std::ifstream in(std::string(PORTREL_TEST_DATA) + "/" + name, std::ios::binary);
  std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  std::vector<std::byte> out(bytes.size());
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

const PortForward* find(const ForwardScan& scan, Proto proto, uint16_t port) {
  for (const PortForward& f : scan.forwards) {
    if (f.proto == proto && f.port_lo <= port && port <= f.port_hi) return &f;
  }
  return nullptr;
}

// tests/data/nft_forwards.bin: the rules of tools/record_nft_rules.py's
// docstring, recorded from a namespace holding native nftables rules (ip, ip6
// and inet tables) and iptables-nft rules (xtables DNAT and REDIRECT targets).
class RecordedForwards : public ::testing::Test {
 protected:
  ForwardScan scan = parse_forward_dump(recorded("nft_forwards.bin"));
};

TEST_F(RecordedForwards, ReadsNativeDnatWithAndWithoutAnAddress) {
  EXPECT_TRUE(scan.warnings.empty());
  const PortForward* docker = find(scan, Proto::tcp, 8080);
  ASSERT_NE(docker, nullptr);
  EXPECT_EQ(docker->to_addr.to_string(), "172.17.0.2");
  EXPECT_EQ(docker->to_port(8080), 80);
  EXPECT_FALSE(docker->address.has_value());  // iifname != docker0 is not an address
  EXPECT_EQ(docker->family, "ip");
  EXPECT_EQ(docker->table, "nat");
  EXPECT_EQ(docker->chain, "PREROUTING");
  EXPECT_FALSE(docker->xtables);
  EXPECT_EQ(find(scan, Proto::udp, 8080), nullptr);

  const PortForward* dns = find(scan, Proto::udp, 5353);
  ASSERT_NE(dns, nullptr);
  ASSERT_TRUE(dns->address.has_value());
  EXPECT_EQ(dns->address->to_string(), "127.0.0.1");
  EXPECT_EQ(dns->to_addr.to_string(), "10.88.0.5");
  EXPECT_EQ(dns->to_port(5353), 53);
  EXPECT_TRUE(dns->matches(Proto::udp, 5353, Address::parse("127.0.0.1")));
  EXPECT_FALSE(dns->matches(Proto::udp, 5353, Address::parse("10.0.0.1")));
  EXPECT_TRUE(dns->matches(Proto::udp, 5353, std::nullopt));
  EXPECT_FALSE(dns->matches(Proto::tcp, 5353, std::nullopt));
}

TEST_F(RecordedForwards, MapsARangeOntoARange) {
  const PortForward* f = find(scan, Proto::tcp, 9003);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->port_lo, 9000);
  EXPECT_EQ(f->port_hi, 9009);
  EXPECT_EQ(f->to_port(9000), 7000);
  EXPECT_EQ(f->to_port(9003), 7003);
  EXPECT_EQ(f->to_port(9009), 7009);
}

TEST_F(RecordedForwards, ReadsRedirectsNativeAndXtables) {
  const PortForward* ssh = find(scan, Proto::tcp, 2222);
  ASSERT_NE(ssh, nullptr);
  EXPECT_TRUE(ssh->redirect);
  EXPECT_EQ(ssh->to_port(2222), 22);
  const PortForward* xt = find(scan, Proto::udp, 6001);
  ASSERT_NE(xt, nullptr);
  EXPECT_TRUE(xt->redirect);
  EXPECT_TRUE(xt->xtables);
  EXPECT_EQ(xt->port_lo, 6000);
  EXPECT_EQ(xt->port_hi, 6002);
  EXPECT_EQ(xt->to_port(6001), 6100);
}

TEST_F(RecordedForwards, ReadsIptablesNftDnatAsPodmanWritesIt) {
  const PortForward* f = find(scan, Proto::tcp, 18555);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->xtables);
  EXPECT_EQ(f->chain, "NETAVARK-DN-TEST");
  ASSERT_TRUE(f->address.has_value());
  EXPECT_EQ(f->address->to_string(), "127.0.0.1");
  EXPECT_EQ(f->to_addr.to_string(), "10.88.0.24");
  EXPECT_EQ(f->to_port(18555), 80);
}

TEST_F(RecordedForwards, ReadsIpv6AndInetTables) {
  const PortForward* v6 = find(scan, Proto::tcp, 8443);
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(v6->to_addr.to_string(), "fd00::2");
  EXPECT_EQ(v6->to_port(8443), 443);
  const PortForward* xt6 = find(scan, Proto::tcp, 8081);
  ASSERT_NE(xt6, nullptr);
  EXPECT_TRUE(xt6->xtables);
  EXPECT_EQ(xt6->to_addr.to_string(), "fd00::3");
  EXPECT_EQ(xt6->to_port(8081), 81);
  const PortForward* inet = find(scan, Proto::udp, 4000);
  ASSERT_NE(inet, nullptr);
  EXPECT_EQ(inet->family, "inet");
  EXPECT_EQ(inet->to_addr.to_string(), "10.88.0.10");
  EXPECT_EQ(inet->to_port(4000), 4001);
}

TEST_F(RecordedForwards, CountsWhatItCannotReadWholeAndSkipsWholeAddressMaps) {
  // dport { 7001, 7002 } (a set) and dport != 443: counted, not guessed.
  EXPECT_EQ(scan.unread, 2u);
  EXPECT_EQ(find(scan, Proto::tcp, 7001), nullptr);
  EXPECT_EQ(find(scan, Proto::tcp, 444), nullptr);
  // `ip daddr 192.0.2.1 dnat to 10.88.0.9` forwards an address, not a port.
  for (const PortForward& f : scan.forwards) EXPECT_NE(f.to_addr.to_string(), "10.88.0.9");
  EXPECT_EQ(scan.forwards.size(), 9u);
}

TEST(PortForwards, SurvivesEveryTruncationOfARecordedDump) {
  auto bytes = recorded("nft_forwards.bin");
  ASSERT_FALSE(bytes.empty());
  size_t whole = parse_forward_dump(bytes).forwards.size();
  for (size_t n = 0; n < bytes.size(); n += 7) {
    ForwardScan scan = parse_forward_dump(std::span(bytes).first(n));
    EXPECT_LE(scan.forwards.size(), whole);
  }
  // A message whose length runs past the end is malformed, said so.
  auto cut = bytes;
  cut.resize(100);
  EXPECT_FALSE(parse_forward_dump(cut).warnings.empty());
}

// Found by fuzz/nft_fuzz.cc: a message whose length was past INT_MAX passed
// mnl_nlmsg_ok (it compares as int) and the walk went backwards for ever.
TEST(PortForwards, AMessageLengthPastIntMaxEndsTheWalk) {
  auto bytes = recorded("nft_length_past_int_max.bin");
  ASSERT_FALSE(bytes.empty());
  ForwardScan scan = parse_forward_dump(bytes);
  EXPECT_FALSE(scan.warnings.empty());
}

// Found by fuzz/nft_fuzz.cc with libnftnl, which crashed on an expression with
// no name and called exit() on values it did not expect: an unnamed expression
// is skipped, the rest of the rule still read.
TEST(PortForwards, AnExpressionWithoutANameIsSkipped) {
  auto bytes = recorded("nft_forwards.bin");
  // The first expression named "meta" loses its name (its attribute type
  // becomes one nftables does not have).
  auto* p = reinterpret_cast<unsigned char*>(bytes.data());
  bool renamed = false;
  for (size_t i = 0; i + 8 < bytes.size() && !renamed; ++i) {
    if (std::memcmp(p + i + 4, "meta", 4) == 0 && p[i + 2] == NFTA_EXPR_NAME) {
      p[i + 2] = 0x7f;
      renamed = true;
    }
  }
  ASSERT_TRUE(renamed) << "no expression named meta in the recorded dump";
  ForwardScan scan = parse_forward_dump(bytes);
  EXPECT_GE(scan.forwards.size(), 8u);  // at most the one rule is lost
}

}  // namespace
}  // namespace portrel
