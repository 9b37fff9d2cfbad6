// Tests of the epoll fdinfo parser on text captured from a live epoll instance
// (tests/data/proc_fdinfo_epoll: a TCP listener with EPOLLEXCLUSIVE, a UDP socket
// edge-triggered, a pipe) and on malformed lines.
#include "sources/epoll.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace portrel {
namespace {

std::string data(const std::string& name) {
  std::ifstream in(std::string(PORTREL_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ParseEpollFdinfo, CapturedInterestList) {
  auto targets = parse_epoll_fdinfo(data("proc_fdinfo_epoll"));
  ASSERT_TRUE(targets) << targets.error().message;
  ASSERT_EQ(targets->size(), 3u);
  EXPECT_EQ((*targets)[0], (EpollTarget{4, 0x8000001d, 0xbcf5c}));
  EXPECT_EQ((*targets)[1], (EpollTarget{3, 0x10000019, 0xbcf5b}));
  EXPECT_EQ((*targets)[2], (EpollTarget{6, 0x19, 0xbcf5d}));
  EXPECT_TRUE((*targets)[1].events & kEpollExclusive);
  EXPECT_FALSE((*targets)[0].events & kEpollExclusive);
}

TEST(ParseEpollFdinfo, EmptyInterestList) {
  auto targets = parse_epoll_fdinfo("pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n");
  ASSERT_TRUE(targets);
  EXPECT_TRUE(targets->empty());
}

TEST(ParseEpollFdinfo, LastLineWithoutNewline) {
  auto targets = parse_epoll_fdinfo("tfd:  12 events: 1 data: 0 pos:0 ino:ff sdev:9");
  ASSERT_TRUE(targets);
  ASSERT_EQ(targets->size(), 1u);
  EXPECT_EQ((*targets)[0], (EpollTarget{12, 1, 255}));
}

TEST(ParseEpollFdinfo, MalformedLinesAreErrors) {
  EXPECT_FALSE(parse_epoll_fdinfo("tfd: x events: 1 data: 0 pos:0 ino:ff sdev:9\n"));
  EXPECT_FALSE(parse_epoll_fdinfo("tfd: 3 events: zz data: 0 pos:0 ino:ff sdev:9\n"));
  EXPECT_FALSE(parse_epoll_fdinfo("tfd: 3 events: 1 data: 0 pos:0 sdev:9\n"));
  EXPECT_FALSE(parse_epoll_fdinfo("tfd: 3 events: 1 data: 0 pos:0 ino:fg sdev:9\n"));
}

TEST(IsEpollLink, OnlyEventpoll) {
  EXPECT_TRUE(is_epoll_link("anon_inode:[eventpoll]"));
  EXPECT_FALSE(is_epoll_link("anon_inode:[eventfd]"));
  EXPECT_FALSE(is_epoll_link("socket:[123]"));
}

}  // namespace
}  // namespace portrel
