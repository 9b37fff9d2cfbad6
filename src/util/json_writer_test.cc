#include "util/json_writer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace portrel {
namespace {

std::string written(std::string_view bytes) {
  JsonWriter json;
  json.string(bytes);
  return json.take();
}

// What portrel wrote before it had its own writer: nlohmann's dump with
// invalid UTF-8 replaced.
std::string nlohmann_dump(std::string_view bytes) {
  return nlohmann::json(std::string(bytes))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(written("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(written("C:\\dir\\"), R"("C:\\dir\\")");
  EXPECT_EQ(written("a\nb\tc\rd\be\ff"), R"("a\nb\tc\rd\be\ff")");
  EXPECT_EQ(written(std::string_view("\0\x01\x1b\x1f", 4)),
            R"("\u0000\u0001\u001b\u001f")");
  EXPECT_EQ(written("\x7f/ok"), "\"\x7f/ok\"") << "DEL is not a JSON control character";
  EXPECT_EQ(written("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"")
      << "valid UTF-8 stays as it is";
}

TEST(JsonWriter, LongPlainRunsAroundEscapes) {
  // Runs longer than a word, with the byte to escape at every position.
  std::string base = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xmx2g";
  for (size_t at = 0; at < base.size(); ++at) {
    for (char c : {'"', '\\', '\n', '\x01', '\x80'}) {
      std::string s = base;
      s[at] = c;
      EXPECT_EQ(written(s), nlohmann_dump(s)) << at << " " << int(c);
    }
  }
}

TEST(JsonWriter, EachInvalidUtf8SequenceBecomesOneReplacementCharacter) {
  const std::string r = "\xef\xbf\xbd";  // U+FFFD as UTF-8
  struct Case {
    const char* what;
    std::string in, out;  ///< OUT: the valid text it stands for
  };
  const Case cases[] = {
      {"lone continuation byte", "a\x80z", "a" + r + "z"},
      {"two continuation bytes", "\x80\xbf", r + r},
      {"truncated 2-byte at end", "ab\xc3", "ab" + r},
      {"truncated 3-byte at end", "\xe2\x82", r},
      {"truncated 4-byte at end", "x\xf0\x9f\x98", "x" + r},
      {"truncated 3-byte before ASCII", "\xe2\x82(", r + "("},
      {"truncated 2-byte before a quote", "\xc3\"", r + "\""},
      {"truncated before a valid character", "\xe2\xc3\xa9", r + "\xc3\xa9"},
      {"overlong 2-byte NUL", "\xc0\x80", r + r},
      {"overlong 3-byte slash", "\xe0\x80\xaf", r + r + r},
      {"overlong 4-byte", "\xf0\x80\x80\x80", r + r + r + r},
      {"surrogate half", "\xed\xa0\x80", r + r + r},
      {"past U+10FFFF", "\xf4\x90\x80\x80", r + r + r + r},
      {"bytes that never start a character", "\xf5\xfe\xff", r + r + r},
  };
  for (const Case& c : cases) {
    std::string json = written(c.in);
    EXPECT_EQ(json, written(c.out)) << c.what;
    EXPECT_EQ(json, nlohmann_dump(c.in)) << c.what;
    nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << c.what;
    EXPECT_EQ(parsed.get<std::string>(), c.out) << c.what;
  }
}

TEST(JsonWriter, RandomBytesAreEscapedExactlyAsBefore) {
  // Random strings biased towards the bytes that need care: control
  // characters, quotes, backslashes, lead and continuation bytes.
  std::mt19937 random(20240611);
  const std::string interesting =
      "\"\\\n\x01\x7f\x80\xbf\xc0\xc2\xdf\xe0\xed\xef\xf0\xf4\xf5\xff";
  for (int round = 0; round < 5000; ++round) {
    std::string s(random() % 24, ' ');
    for (char& c : s) {
      c = random() % 2 ? interesting[random() % interesting.size()]
                       : static_cast<char>(random() % 256);
    }
    std::string json = written(s);
    ASSERT_EQ(json, nlohmann_dump(s)) << ::testing::PrintToString(s);
    ASSERT_FALSE(nlohmann::json::parse(json, nullptr, false).is_discarded());
  }
}

TEST(JsonWriter, WordsAreWrittenAsStringsAre) {
  for (std::string_view w : {"tcp", "TIME_WAIT", "::ffff:127.0.0.1", "not visible: (hidden)", ""}) {
    JsonWriter json;
    json.begin_array().word(w).string(w).end_array();
    EXPECT_EQ(json.text(), "[" + written(w) + "," + written(w) + "]");
  }
}

TEST(JsonWriter, PutsCommasBetweenMembersAndElements) {
  JsonWriter json;
  json.begin_object();
  json.key("a").integer(1);
  json.key("b").begin_array().end_array();
  json.key("c").begin_array().integer(1).string("x").null().boolean(true).end_array();
  json.key("d").begin_object().key("e").boolean(false).end_object();
  json.key("f").begin_array().begin_object().end_object().begin_object().end_object();
  json.end_array();
  json.end_object();
  EXPECT_EQ(json.text(),
            R"({"a":1,"b":[],"c":[1,"x",null,true],"d":{"e":false},"f":[{},{}]})");
}

TEST(JsonWriter, OutermostValuesAreSeparatedOnlyByRaw) {
  JsonWriter json;
  json.raw("[").begin_object().end_object().raw(",\n").integer(2).raw("]");
  EXPECT_EQ(json.text(), "[{},\n2]");
}

TEST(JsonWriter, WritesIntegersOfEveryWidth) {
  JsonWriter json;
  json.begin_array();
  json.integer(std::numeric_limits<int64_t>::min());
  json.integer(std::numeric_limits<uint64_t>::max());
  json.integer(uint16_t{65535}).integer(-1).integer(0);
  json.end_array();
  EXPECT_EQ(json.text(), "[-9223372036854775808,18446744073709551615,65535,-1,0]");
  nlohmann::json parsed = nlohmann::json::parse(json.text());
  EXPECT_EQ(parsed[1].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
}

TEST(JsonWriter, QuotedKeyIsTheSameAsAKey) {
  JsonWriter a, b;
  a.begin_object()
      .key(JsonKey("x\"y"))
      .integer(1)
      .key(JsonKey("z"))
      .null()
      .end_object();
  b.begin_object().key("x\"y").integer(1).key("z").null().end_object();
  EXPECT_EQ(a.text(), b.text());
  EXPECT_EQ(a.text(), R"({"x\"y":1,"z":null})");
}

TEST(JsonWriter, LargeRawPieceKeepsItsPlace) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* mem = open_memstream(&data, &size);
  ASSERT_NE(mem, nullptr);
  std::string big(200 * 1024, 'x');
  {
    JsonWriter json(mem);
    json.raw("{\"a\": ").integer(1).raw(", \"b\": ").raw(big).raw(", \"c\": ").integer(2);
    json.raw("}");
    EXPECT_TRUE(json.flush());
  }
  std::fflush(mem);
  EXPECT_EQ(std::string(data, size), "{\"a\": 1, \"b\": " + big + ", \"c\": 2}");
  std::fclose(mem);
  std::free(data);
}

TEST(JsonWriter, WritesToAFileInChunks) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* mem = open_memstream(&data, &size);
  ASSERT_NE(mem, nullptr);
  std::string expected = "[";
  {
    JsonWriter json(mem);
    json.begin_array();
    for (int i = 0; i < 20000; ++i) {
      json.begin_object().key("i").integer(i).end_object();
      expected += (i ? ",{\"i\":" : "{\"i\":") + std::to_string(i) + "}";
    }
    std::fflush(mem);
    EXPECT_GE(size, 64u * 1024) << "large chunks go out before the end";
    EXPECT_LT(size, expected.size()) << "but not byte by byte";
    json.end_array();
  }
  expected += "]";
  std::fflush(mem);
  EXPECT_EQ(std::string(data, size), expected) << "the destructor writes the rest";
  std::fclose(mem);
  std::free(data);
}

}  // namespace
}  // namespace portrel
