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
  EXPECT_EQ(sanitize("\\\\x\\"), "\\\\\\\\x\\\\") << "runs end at every backslash";
}

TEST(Sanitize, EscapesC1ControlsAndInvalidUtf8) {
  EXPECT_EQ(sanitize("\xc2\x9b"
                     "31m"),
            "\\xc2\\x9b31m");  // U+009B is CSI
  EXPECT_EQ(sanitize("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(sanitize("\xe2\x82"), "\\xe2\\x82");           // truncated sequence
  EXPECT_EQ(sanitize("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
}

TEST(Sanitize, EscapesBytesThatNeverStartACharacter) {
  EXPECT_EQ(sanitize("\xf5\x80\x80"), "\\xf5\\x80\\x80");
  EXPECT_EQ(sanitize("\xf8\x88\x80\x80"), "\\xf8\\x88\\x80\\x80");
}

TEST(Utf8Step, DecodesWholeCharacters) {
  struct Case {
    std::string_view bytes;
    size_t length;
    char32_t codepoint;
  };
  for (Case c : {Case{"A", 1, U'A'}, Case{"\xc3\xa9", 2, U'\u00e9'},
                 Case{"\xe2\x82\xac", 3, U'\u20ac'}, Case{"\xf0\x9f\x98\x80", 4, U'\U0001F600'},
                 Case{"\xf4\x8f\xbf\xbf", 4, U'\U0010FFFF'}}) {
    Utf8Step u = utf8_step(c.bytes, 0);
    EXPECT_TRUE(u.valid) << c.bytes;
    EXPECT_EQ(u.length, c.length) << c.bytes;
    EXPECT_EQ(u.codepoint, c.codepoint) << c.bytes;
  }
}

TEST(Utf8Step, InvalidStepIsTheLongestStartThatCannotBeCompleted) {
  struct Case {
    std::string_view bytes;
    size_t length;
  };
  for (Case c : {Case{"\x80", 1}, Case{"\xc0\x80", 1}, Case{"\xc1\xbf", 1},
                 Case{"\xe0\x80\x80", 1}, Case{"\xed\xa0\x80", 1},
                 Case{"\xf0\x8f\xbf\xbf", 1}, Case{"\xf4\x90\x80\x80", 1},
                 Case{"\xf5\x80", 1}, Case{"\xff", 1}, Case{"\xc3", 1},
                 Case{"\xc3(", 1}, Case{"\xe2\x82", 2}, Case{"\xe2\x82(", 2},
                 Case{"\xf0\x9f\x98", 3}, Case{"\xf0\x9f\x98\xc3", 3}}) {
    Utf8Step u = utf8_step(c.bytes, 0);
    EXPECT_FALSE(u.valid) << ::testing::PrintToString(c.bytes);
    EXPECT_EQ(u.length, c.length) << ::testing::PrintToString(c.bytes);
  }
}

TEST(Utf8Step, StartsAtTheGivenByte) {
  Utf8Step u = utf8_step("ab\xc3\xa9", 2);
  EXPECT_TRUE(u.valid);
  EXPECT_EQ(u.length, 2u);
}

TEST(Sanitize, OutputHasNoControlBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (char c : sanitize(all)) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7f) << int(u);
  }
}

TEST(Sanitize, CharactersThatReorderOrHideTextAreEscaped) {
  // "evil" + RIGHT-TO-LEFT OVERRIDE makes "exe.txt" read "txt.exe".
  EXPECT_EQ(sanitize("evil\u202etxt.exe"), "evil\\u{202e}txt.exe");
  EXPECT_EQ(sanitize("a\u200bb"), "a\\u{200b}b");          // zero width space
  EXPECT_EQ(sanitize("a\u2066b\u2069"), "a\\u{2066}b\\u{2069}");  // isolates
  EXPECT_EQ(sanitize("x\u2028y"), "x\\u{2028}y");          // line separator
  EXPECT_EQ(sanitize("\ufeffbom"), "\\u{feff}bom");
  EXPECT_EQ(sanitize("tag\U000E0041"), "tag\\u{e0041}");
  EXPECT_EQ(sanitize("soft\u00adhyphen"), "soft\\u{00ad}hyphen");
  // Ordinary text outside ASCII is kept.
  EXPECT_EQ(sanitize("caf\u00e9 \u4e2d\u6587 \u05e9\u05dc\u05d5\u05dd"),
            "caf\u00e9 \u4e2d\u6587 \u05e9\u05dc\u05d5\u05dd");
}

TEST(FitLines, CutsLongLinesAtTheWidthAndKeepsColour) {
  EXPECT_EQ(fit_lines("short\nline\n", 10), "short\nline\n");
  EXPECT_EQ(fit_lines("0123456789abc\n", 10), "012345678\u2026\n");
  EXPECT_EQ(fit_lines("0123456789\n", 10), "0123456789\n");  // fits exactly
  // Escapes take no width; a cut line ends with a reset.
  EXPECT_EQ(fit_lines("\x1b[1mPORT\x1b[0m 0123456789\n", 8), "\x1b[1mPORT\x1b[0m 01\u2026\x1b[0m\n");
  // Code points, not bytes.
  EXPECT_EQ(fit_lines("\u00e9\u00e9\u00e9\u00e9", 3), "\u00e9\u00e9\u2026");
  EXPECT_EQ(fit_lines("no newline at the end", 0), "no newline at the end");
}

TEST(Plural, OneAndMany) {
  EXPECT_EQ(plural(1, "process's fd table", "processes' fd tables"), "1 process's fd table");
  EXPECT_EQ(plural(1200, "child", "children"), "1,200 children");
  EXPECT_EQ(plural(0, "socket", "sockets"), "0 sockets");
}

TEST(WithCommas, GroupsThousands) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(1000), "1,000");
  EXPECT_EQ(with_commas(1234567), "1,234,567");
}

}  // namespace
}  // namespace portrel
