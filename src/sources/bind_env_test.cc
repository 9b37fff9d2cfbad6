// The parsers of the sysctls that feed the bind rules, on the kernel's text.
#include "sources/bind_env.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

TEST(BindEnv, PortRange) {
  auto r = parse_port_range("32768\t60999\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 32768);
  EXPECT_EQ(r->second, 60999);
  EXPECT_FALSE(parse_port_range("32768\n").has_value());
  EXPECT_FALSE(parse_port_range("600 500").has_value());
  EXPECT_FALSE(parse_port_range("1 70000").has_value());
}

TEST(BindEnv, ReservedPorts) {
  auto none = parse_reserved_ports("\n");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  auto some = parse_reserved_ports("1000-1005,8080\n");
  ASSERT_TRUE(some.has_value());
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ((*some)[0], (std::pair<uint16_t, uint16_t>{1000, 1005}));
  EXPECT_EQ((*some)[1], (std::pair<uint16_t, uint16_t>{8080, 8080}));
  BindEnvironment env;
  env.reserved = *some;
  EXPECT_TRUE(env.is_reserved(1003));
  EXPECT_FALSE(env.is_reserved(1006));
  EXPECT_FALSE(parse_reserved_ports("5-2").has_value());
  EXPECT_FALSE(parse_reserved_ports("abc").has_value());
}

}  // namespace
}  // namespace portrel
