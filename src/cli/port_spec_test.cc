#include "cli/port_spec.h"

#include <gtest/gtest.h>

#include <fstream>

namespace portrel {
namespace {

TEST(PortSpec, PlainNumber) {
  auto s = parse_port_spec("8080");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->port, 8080);
  EXPECT_FALSE(s->proto);
  EXPECT_TRUE(s->addresses.empty());
}

TEST(PortSpec, ProtocolPrefix) {
  auto s = parse_port_spec("udp/53");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->proto, Proto::udp);
  EXPECT_EQ(s->port, 53);
  // Every protocol of the table by its name.
  for (const ProtoInfo& info : protocols()) {
    auto named = parse_port_spec(std::string(info.name) + "/7501");
    ASSERT_TRUE(named) << info.name << ": " << named.error().message;
    EXPECT_EQ(named->proto, info.proto);
    EXPECT_EQ(named->port, 7501);
  }
}

TEST(PortSpec, Addresses) {
  auto v4 = parse_port_spec("127.0.0.1:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->addresses.at(0).to_string(), "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  auto v6 = parse_port_spec("tcp/[::1]:443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->addresses.at(0).family, 6);
  EXPECT_EQ(v6->addresses.at(0).to_string(), "::1");
  EXPECT_EQ(v6->proto, Proto::tcp);
  auto any = parse_port_spec("*:22");
  ASSERT_TRUE(any);
  EXPECT_TRUE(any->addresses.empty());
}

TEST(PortSpec, ServiceNames) {
  std::ifstream services("/etc/services");
  ASSERT_TRUE(services) << "/etc/services missing: install netbase";
  auto s = parse_port_spec("http");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->port, 80);
  auto d = parse_port_spec("udp/domain");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 53);
}

TEST(PortSpec, ErrorsNameTheProblem) {
  EXPECT_NE(parse_port_spec("70000").error().message.find("invalid port"),
            std::string::npos);
  EXPECT_NE(parse_port_spec("quic/80").error().message.find("unknown protocol"),
            std::string::npos);
  EXPECT_NE(
      parse_port_spec("no-such-service-xyz").error().message.find("unknown service"),
      std::string::npos);
  EXPECT_NE(parse_port_spec("::1:80").error().message.find("brackets"),
            std::string::npos);
  EXPECT_NE(parse_port_spec("[::1]80").error().message.find("invalid address"),
            std::string::npos);
  EXPECT_NE(parse_port_spec("1.2.3:80").error().message.find("invalid address"),
            std::string::npos);
  EXPECT_FALSE(parse_port_spec("tcp/"));
  EXPECT_FALSE(parse_port_spec("80x"));
  EXPECT_FALSE(parse_port_spec(""));
}

TEST(PortSpec, VsockHasCidsAnd32BitPorts) {
  auto plain = parse_port_spec("vsock/2024");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->proto, Proto::vsock);
  EXPECT_EQ(plain->port, 2024u);
  EXPECT_TRUE(plain->addresses.empty());
  auto wide = parse_port_spec("vsock/3:4000000000");
  ASSERT_TRUE(wide) << wide.error().message;
  EXPECT_EQ(wide->port, 4000000000u);
  ASSERT_EQ(wide->addresses.size(), 1u);
  EXPECT_EQ(wide->addresses[0].family, kFamilyVsock);
  EXPECT_EQ(wide->addresses[0].vsock_cid(), 3u);
  EXPECT_EQ(wide->addresses[0].to_string(), "3");
  auto any = parse_port_spec("vsock/*:5");
  ASSERT_TRUE(any);
  EXPECT_TRUE(any->addresses.empty());

  // VMADDR_PORT_ANY is never bound; IP ports stay 16 bits; no service names.
  EXPECT_NE(parse_port_spec("vsock/4294967295").error().message.find("expected 0-4294967294"),
            std::string::npos);
  EXPECT_NE(parse_port_spec("tcp/70000").error().message.find("expected 0-65535"),
            std::string::npos);
  EXPECT_NE(parse_port_spec("vsock/http").error().message.find("no service names"),
            std::string::npos);
  EXPECT_NE(parse_port_spec("vsock/x:80").error().message.find("invalid vsock CID"),
            std::string::npos);
  EXPECT_FALSE(parse_port_spec("vsock/:80"));
  // and why-busy's bind rules are those of IP.
  EXPECT_NE(parse_proto_and_port({"vsock/80"}, "why-busy").error().message.find("IP protocols"),
            std::string::npos);

  // Matching: the port, and a CID the socket is bound to or any.
  Socket s;
  s.proto = Proto::vsock;
  s.family = kFamilyVsock;
  s.local_addr = Address::vsock(kVsockCidAny);
  s.local_port = 4000000000u;
  EXPECT_TRUE(wide->matches(s));
  s.local_addr = Address::vsock(2);
  EXPECT_FALSE(wide->matches(s));
  s.local_addr = Address::vsock(3);
  EXPECT_TRUE(wide->matches(s));
}

Socket sock(std::string addr, uint16_t port, Tristate v6only = Tristate::unknown) {
  Socket s;
  s.local_addr = *Address::parse(addr);
  s.family = s.local_addr.family;
  s.local_port = port;
  s.v6only = v6only;
  return s;
}

TEST(PortSpec, MatchesWildcardsThatCoverTheAddress) {
  auto spec = *parse_port_spec("127.0.0.1:80");
  EXPECT_TRUE(spec.matches(sock("127.0.0.1", 80)));
  EXPECT_TRUE(spec.matches(sock("0.0.0.0", 80)));
  EXPECT_FALSE(spec.matches(sock("127.0.0.2", 80)));
  EXPECT_FALSE(spec.matches(sock("127.0.0.1", 81)));
  EXPECT_TRUE(spec.matches(sock("::", 80, Tristate::no)));
  EXPECT_FALSE(spec.matches(sock("::", 80, Tristate::yes)));
  EXPECT_FALSE(spec.matches(sock("::1", 80)));
}

TEST(PortSpec, HostNamesComeFromTheHostsFileOnly) {
  std::string hosts =
      "127.0.0.1\tlocalhost\n"
      "::1     localhost ip6-localhost  # the IPv6 loopback\n"
      "# 10.0.0.9 commented\n"
      "192.0.2.7 db db.example\n";
  auto spec = parse_port_spec("localhost:80", hosts);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_EQ(spec->addresses.size(), 2u);
  EXPECT_EQ(spec->addresses[0].to_string(), "127.0.0.1");
  EXPECT_EQ(spec->addresses[1].to_string(), "::1");
  EXPECT_EQ(parse_port_spec("db.example:5432", hosts)->addresses.at(0).to_string(), "192.0.2.7");
  auto unknown = parse_port_spec("commented:80", hosts);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("not in /etc/hosts"), std::string::npos);
}

Socket listener(std::string_view addr, uint8_t family, Tristate v6only = Tristate::no) {
  Socket s;
  s.proto = Proto::tcp;
  s.family = family;
  s.local_addr = *Address::parse(addr);
  s.local_port = 8080;
  s.v6only = v6only;
  return s;
}

TEST(PortSpec, AMappedAddressIsTheIpv4AddressItCarries) {
  auto mapped = parse_port_spec("[::ffff:127.0.0.1]:8080", "");
  ASSERT_TRUE(mapped) << mapped.error().message;
  EXPECT_TRUE(mapped->matches(listener("127.0.0.1", 4)));
  EXPECT_TRUE(mapped->matches(listener("0.0.0.0", 4)));
  EXPECT_TRUE(mapped->matches(listener("::", 6)));
  EXPECT_FALSE(mapped->matches(listener("::", 6, Tristate::yes)));
  EXPECT_FALSE(mapped->matches(listener("127.0.0.2", 4)));
  EXPECT_FALSE(mapped->matches(listener("::1", 6)));
  // A v6 socket bound to a mapped address serves the IPv4 address.
  auto v4 = parse_port_spec("127.0.0.1:8080", "");
  EXPECT_TRUE(v4->matches(listener("::ffff:127.0.0.1", 6)));
}

}  // namespace
}  // namespace portrel
