#include "analysis/finding_diff.h"

#include <gtest/gtest.h>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using testing::sock;

Finding finding(FindingKind kind, const Socket* s, std::vector<pid_t> pids) {
  Finding f;
  f.kind = kind;
  f.severity = Severity::warning;
  f.sockets = {s};
  f.pids = std::move(pids);
  f.summary = std::string(finding_kind_name(kind)) + " on " + std::to_string(s->local_port);
  return f;
}

TEST(FindingWatch, SaysWhatAppearedAndWhatClearedOnce) {
  Socket a = sock(10, Proto::tcp, "0.0.0.0", 8080);
  Socket b = sock(11, Proto::tcp, "127.0.0.1", 9090);
  FindingWatch watch;
  auto first = watch.update(std::vector{finding(FindingKind::exposed, &a, {1})});
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].appeared);
  EXPECT_EQ(first[0].finding.port, 8080);
  // The same finding again: nothing; a second one: appeared.
  EXPECT_TRUE(watch.update(std::vector{finding(FindingKind::exposed, &a, {1})}).empty());
  auto second = watch.update(std::vector{finding(FindingKind::exposed, &a, {1}),
                                         finding(FindingKind::cloexec, &b, {2})});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].finding.kind, FindingKind::cloexec);
  // The first cleared, told with its summary; a finding on other pids is new.
  auto third = watch.update(std::vector{finding(FindingKind::cloexec, &b, {2, 3})});
  ASSERT_EQ(third.size(), 3u);
  EXPECT_FALSE(third[0].appeared);
  EXPECT_FALSE(third[1].appeared);
  EXPECT_TRUE(third[2].appeared);
  EXPECT_EQ(third[2].finding.pids, (std::vector<pid_t>{2, 3}));
  bool told = third[0].finding.summary == "exposed on 8080" ||
              third[1].finding.summary == "exposed on 8080";
  EXPECT_TRUE(told);
}

}  // namespace
}  // namespace portrel
