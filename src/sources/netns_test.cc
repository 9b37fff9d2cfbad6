// The namespaces bound to a path, read from a mount table.
#include "sources/netns.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace portrel {
namespace {

TEST(NetnsMounts, OnlyNetworkNamespacesOfNsfsWithTheirPathsUnescaped) {
  std::string_view mountinfo =
      "26 1 0:24 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "48 26 0:4 net:[4026532368] /run/netns/blue rw shared:5 - nsfs nsfs rw\n"
      "49 26 0:4 net:[4026532999] /var/run/my\\040runtime/ns rw - nsfs nsfs rw\n"
      "50 26 0:4 mnt:[4026532400] /run/mnt-ns rw - nsfs nsfs rw\n"
      "51 26 0:4 net:[4026532401] /fake rw - tmpfs tmpfs rw\n"
      "52 26 0:4 net:[x] /bad rw - nsfs nsfs rw\n"
      "truncated line\n"
      "53 26 0:4 net:[4026532402] /last rw - nsfs nsfs rw";
  auto mounts = netns_mounts(mountinfo);
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0], std::make_pair(uint64_t{4026532368}, std::string("/run/netns/blue")));
  EXPECT_EQ(mounts[1],
            std::make_pair(uint64_t{4026532999}, std::string("/var/run/my runtime/ns")));
  EXPECT_EQ(mounts[2], std::make_pair(uint64_t{4026532402}, std::string("/last")));
  EXPECT_TRUE(netns_mounts("").empty());
}

}  // namespace
// A socket file names its protocol as the kernel's struct proto does: each
// IP protocol is known by its table row, a unix socket by none.
TEST(IpSocketProto, EachSocketByItsKernelName) {
  struct Case {
    int family, type, protocol;
    std::optional<Proto> expected;
  };
  const Case cases[] = {
      {AF_INET, SOCK_STREAM, 0, Proto::tcp},
      {AF_INET6, SOCK_STREAM, 0, Proto::tcp},
      {AF_INET, SOCK_DGRAM, 0, Proto::udp},
      {AF_INET6, SOCK_DGRAM, 0, Proto::udp},
      {AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE, Proto::udplite},
      {AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE, Proto::udplite},
      {AF_INET, SOCK_RAW, IPPROTO_ICMP, Proto::raw},
      {AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, Proto::raw},
      {AF_UNIX, SOCK_STREAM, 0, std::nullopt},
  };
  for (const Case& c : cases) {
    int fd = socket(c.family, c.type | SOCK_CLOEXEC, c.protocol);
    ASSERT_GE(fd, 0) << "socket(" << c.family << ", " << c.type << ", " << c.protocol
                     << "): " << strerror(errno);
    EXPECT_EQ(ip_socket_proto(getpid(), fd), c.expected)
        << "socket(" << c.family << ", " << c.type << ", " << c.protocol << ")";
    close(fd);
  }
  EXPECT_EQ(ip_socket_proto(getpid(), 1 << 20), std::nullopt) << "no such fd";
}

// The mount table is read once, and again only after a mount or an unmount.
TEST(NetnsMountsWatch, ReadsTheMountTableAgainOnlyWhenItChanged) {
  NetnsMounts mounts;
  mounts.current();
  mounts.current();
  EXPECT_EQ(mounts.reads(), 1u) << "nothing was mounted in between";
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to mount: the re-read after a change is not checked";
  }
  char dir[] = "/tmp/portrel-mounts-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ASSERT_EQ(mount("portrel", dir, "tmpfs", 0, nullptr), 0) << strerror(errno);
  mounts.current();
  EXPECT_EQ(mounts.reads(), 2u) << "a mount changes the table";
  EXPECT_EQ(umount2(dir, MNT_DETACH), 0) << strerror(errno);
  rmdir(dir);
  mounts.current();
  EXPECT_EQ(mounts.reads(), 3u) << "so does an unmount";
  mounts.current();
  EXPECT_EQ(mounts.reads(), 3u);
}

}  // namespace portrel
