#include "util/time_text.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

namespace portrel {
namespace {

// Local time is UTC for these tests.
class TimeText : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = getenv("TZ");
    saved_ = tz ? tz : "";
    had_ = tz != nullptr;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void TearDown() override {
    if (had_) {
      setenv("TZ", saved_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  std::string saved_;
  bool had_ = false;
};

constexpr double kNow = 1796439600;  // 2026-12-05 03:00:00 UTC

TEST_F(TimeText, ReadsTheDocumentedForms) {
  EXPECT_EQ(*parse_time("2026-12-05 03:00", kNow), kNow);
  EXPECT_EQ(*parse_time("2026-12-05 03:00:30", kNow), kNow + 30);
  EXPECT_EQ(*parse_time("2026-12-05", kNow), kNow - 3 * 3600);
  EXPECT_EQ(*parse_time("2026-12-05T03:00:00Z", kNow), kNow);
  EXPECT_EQ(*parse_time("2026-12-05T04:00:00+01:00", kNow), kNow);
  EXPECT_EQ(*parse_time("2026-12-05T03:00:00.250Z", kNow), kNow + 0.25);
  EXPECT_EQ(*parse_time("2026-12-05T03:00", kNow), kNow);
  EXPECT_EQ(*parse_time("01:30", kNow), kNow - 5400);
  EXPECT_EQ(*parse_time("01:30:15", kNow), kNow - 5400 + 15);
  EXPECT_EQ(*parse_time("1796439600", kNow), kNow);
  EXPECT_EQ(*parse_time("@1796439600.5", kNow), kNow + 0.5);
  EXPECT_EQ(*parse_time("now", kNow), kNow);
  EXPECT_EQ(*parse_time("-10m", kNow), kNow - 600);
  EXPECT_EQ(*parse_time("-2h", kNow), kNow - 7200);
  EXPECT_EQ(*parse_time("-1d", kNow), kNow - 86400);
  EXPECT_EQ(*parse_time("1h ago", kNow), kNow - 3600);
  EXPECT_EQ(*parse_time("30 s ago", kNow), kNow - 30);
}

TEST_F(TimeText, RefusesAnythingElseInOneLine) {
  for (const char* bad :
       {"", "yesterday", "25:00", "2026-13-01", "-10x", "10m", "3:0",
        "2026-12-05 03:00 PM", "2026-12-05T03:00+0100", "1h ago ago"}) {
    auto t = parse_time(bad, kNow);
    ASSERT_FALSE(t.has_value()) << bad;
    EXPECT_EQ(t.error().message.find('\n'), std::string::npos);
    EXPECT_NE(t.error().message.find("1h ago"), std::string::npos);
  }
}

TEST_F(TimeText, FormatsLocalTime) {
  EXPECT_EQ(format_time(kNow + 12.7), "2026-12-05 03:00:12");
}

}  // namespace
}  // namespace portrel
