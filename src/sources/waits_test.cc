// The /proc/PID/task/TID/syscall parser on the texts the kernel prints for a
// thread blocked in a syscall, a running one, and one outside any syscall.
#include "sources/waits.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

TEST(ParseSyscallText, BlockedInAccept4) {
  auto call = parse_syscall_text(
      "288 0x3 0x7fdf7ac82980 0x7fdf7ac82974 0x80000 0x0 0x7fdf7b94e6e8 0x7fdf7ac82920 "
      "0x7fdf7b328fa8\n");
  ASSERT_TRUE(call);
  EXPECT_EQ(call->first, 288);
  EXPECT_EQ(call->second, 3u);
}

TEST(ParseSyscallText, RunningOrOutsideASyscallOrMalformed) {
  EXPECT_FALSE(parse_syscall_text("running\n"));
  EXPECT_FALSE(parse_syscall_text("-1 0x7ffc1b18dbe0 0x7f5d4ebebaec\n"));
  EXPECT_FALSE(parse_syscall_text("43\n"));
  EXPECT_FALSE(parse_syscall_text("43 3 0x0\n"));
  EXPECT_FALSE(parse_syscall_text(""));
}

}  // namespace
}  // namespace portrel
