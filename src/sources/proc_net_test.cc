#include "sources/proc_net.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace portrel {
namespace {

std::string recorded(const std::string& name) {
  std::ifstream in(std::string(PORTREL_TEST_DATA) + "/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// tests/data/proc_net_*: recorded in a private namespace holding a ping socket
// bound to 127.0.0.1:4242 and [::1]:4243, and RAW ICMP and ICMPv6 sockets.
TEST(ProcNet, ReadsPingSocketsWithTheirIdentifierAsPort) {
  auto v4 = parse_proc_net(recorded("proc_net_icmp"), Proto::icmp, 4, 99);
  ASSERT_TRUE(v4) << v4.error().message;
  ASSERT_EQ(v4->size(), 1u);
  const Socket& s = (*v4)[0];
  EXPECT_EQ(s.proto, Proto::icmp);
  EXPECT_EQ(s.local_addr.to_string(), "127.0.0.1");
  EXPECT_EQ(s.local_port, 4242);
  EXPECT_EQ(s.inode, 7851689u);
  EXPECT_EQ(s.netns, 99u);
  EXPECT_EQ(s.state, kStateClose);
  EXPECT_TRUE(s.is_listening());
  EXPECT_EQ(state_name(s.proto, s.state), "UNCONN");

  auto v6 = parse_proc_net(recorded("proc_net_icmp6"), Proto::icmp, 6, 99);
  ASSERT_TRUE(v6) << v6.error().message;
  ASSERT_EQ(v6->size(), 1u);
  EXPECT_EQ((*v6)[0].local_addr.to_string(), "::1");
  EXPECT_EQ((*v6)[0].local_port, 4243);
  EXPECT_EQ((*v6)[0].family, 6);
}

TEST(ProcNet, ReadsRawSocketsWithTheirProtocolAsPort) {
  auto v4 = parse_proc_net(recorded("proc_net_raw"), Proto::raw, 4, 1);
  ASSERT_TRUE(v4) << v4.error().message;
  ASSERT_EQ(v4->size(), 1u);
  EXPECT_EQ((*v4)[0].local_port, 1);  // IPPROTO_ICMP
  EXPECT_EQ((*v4)[0].raw_protocol, 1);
  EXPECT_TRUE((*v4)[0].local_addr.is_wildcard());
  auto v6 = parse_proc_net(recorded("proc_net_raw6"), Proto::raw, 6, 1);
  ASSERT_TRUE(v6) << v6.error().message;
  ASSERT_EQ(v6->size(), 1u);
  EXPECT_EQ((*v6)[0].raw_protocol, 58);  // IPPROTO_ICMPV6
  EXPECT_EQ((*v6)[0].inode, 7851691u);
}

TEST(ProcNet, AHeaderAloneIsNoSocketAndABadLineIsAnError) {
  auto empty = parse_proc_net(
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode ref pointer drops\n",
      Proto::icmp, 4, 1);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  std::string text = recorded("proc_net_icmp");
  for (size_t cut = text.find('\n') + 10; cut < text.size() - 1; cut += 9) {
    auto partial = parse_proc_net(text.substr(0, cut), Proto::icmp, 4, 1);
    if (partial) EXPECT_LE(partial->size(), 1u);
    else EXPECT_NE(partial.error().message.find("line 2"), std::string::npos);
  }
  auto bad = parse_proc_net(text + "  49: zzzz\n", Proto::icmp, 4, 1);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("/proc/net icmp line 3"), std::string::npos);
}

}  // namespace
}  // namespace portrel
