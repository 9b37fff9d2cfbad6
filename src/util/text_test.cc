#include "util/text.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

TEST(Sanitize, KeepsPlainTextAndUtf8) {
  EXPECT_EQ(sanitize("nginx: worker process"), "nginx: worker process");
  EXPECT_EQ(sanitize("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(Sanitize, EscapesControlCharacters) {
  EXPECT_EQ(sanitize("a\nb"), "a\\nb");
  EXPECT_EQ(sanitize("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(sanitize(std::string_view("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(sanitize("\x7f"), "\\x7f");
  EXPECT_EQ(sanitize("back\\slash"), "back\\\\slash");
}

TEST(Sanitize, EscapesC1ControlsAndInvalidUtf8) {
  EXPECT_EQ(sanitize("\xc2\x9b"
                     "31m"),
            "\\xc2\\x9b31m");  // U+009B is CSI
  EXPECT_EQ(sanitize("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(sanitize("\xe2\x82"), "\\xe2\\x82");           // truncated sequence
  EXPECT_EQ(sanitize("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
}

TEST(Sanitize, OutputHasNoControlBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (char c : sanitize(all)) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7f) << int(u);
  }
}

TEST(WithCommas, GroupsThousands) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(1000), "1,000");
  EXPECT_EQ(with_commas(1234567), "1,234,567");
}

}  // namespace
}  // namespace portrel
