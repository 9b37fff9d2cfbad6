#include "output/table.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

TEST(Table, AlignsColumnsAndRightAlignsNumbers) {
  Table t({"PROTO", ">PORT", "HOLDERS"});
  t.add({{"tcp"}, {"80"}, {"nginx 1 + 2 children"}});
  t.add({{"udp"}, {"5353"}, {"avahi 9"}});
  EXPECT_EQ(t.render(false),
            "PROTO  PORT  HOLDERS\n"
            "tcp      80  nginx 1 + 2 children\n"
            "udp    5353  avahi 9\n");
}

TEST(Table, ColourOnlyWhenAskedAndNotCountedInWidth) {
  Table t({"A", "B"});
  t.add({{"x", Style::warn}, {"y"}});
  std::string plain = t.render(false);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  std::string coloured = t.render(true);
  EXPECT_NE(coloured.find("\x1b[33mx\x1b[0m  y\n"), std::string::npos);
}

TEST(Table, WidthCountsCodePoints) {
  Table t({"N", "X"});
  t.add({{"\u00d7\u00d7"}, {"1"}});
  EXPECT_EQ(t.render(false), "N   X\n\u00d7\u00d7  1\n");
}

}  // namespace
}  // namespace portrel
