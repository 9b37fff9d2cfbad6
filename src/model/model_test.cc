#include "portrel/model.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>

namespace portrel {
namespace {

std::string ntop(int af, const void* bytes) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(af, bytes, buf, sizeof buf);
}

TEST(Address, Ipv4TextIsWhatInetNtopWrites) {
  for (const char* text : {"0.0.0.0", "255.255.255.255", "127.0.0.1", "10.0.0.1",
                           "192.168.100.10", "1.22.0.255"}) {
    EXPECT_EQ(Address::parse(text)->to_string(), text);
  }
  std::mt19937 random(7);
  for (int i = 0; i < 10000; ++i) {
    uint32_t network_order = random();
    Address a = Address::v4(network_order);
    Address::TextBuffer buf;
    ASSERT_EQ(a.format(buf), ntop(AF_INET, &network_order));
  }
}

TEST(Address, Ipv6TextIsRfc5952) {
  for (const char* text :
       {"::", "::1", "fe80::1", "2001:db8::8:800:200c:417a", "::ffff:1.2.3.4",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    Address a = *Address::parse(text);
    Address::TextBuffer buf;
    EXPECT_EQ(a.format(buf), text);
    EXPECT_EQ(a.to_string(), text);
  }
}

TEST(Address, NoneHasNoText) {
  Address::TextBuffer buf;
  EXPECT_EQ(Address{}.format(buf), "");
  EXPECT_EQ(Address{}.to_string(), "");
}

// TCP's state names, UNCONN for a bound datagram socket, and DCCP's own
// states past TCP's last (whose number grew in 6.8).
TEST(StateName, EachProtocolsStates) {
  EXPECT_EQ(state_name(Proto::tcp, kStateListen), "LISTEN");
  EXPECT_EQ(state_name(Proto::udp, kStateClose), "UNCONN");
  EXPECT_EQ(state_name(Proto::tcp, kStateClose), "CLOSE");
  EXPECT_EQ(state_name(Proto::tcp, 13), "BOUND_INACTIVE");
  EXPECT_EQ(state_name(Proto::dccp, kStateEstablished), "ESTABLISHED");
  EXPECT_EQ(state_name(Proto::dccp, 13), "PARTOPEN");
  EXPECT_EQ(state_name(Proto::dccp, 14), "PARTOPEN");
  EXPECT_EQ(state_name(Proto::dccp, 15), "PASSIVE_CLOSEREQ");
  EXPECT_EQ(state_name(Proto::tcp, 200), "UNKNOWN");
}

}  // namespace
}  // namespace portrel
