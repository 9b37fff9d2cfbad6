// Option inference on hand-built sockets: inference fills only unknowns, never
// overwrites a better source, and only where the kernel's bind rules leave no
// other possibility.
#include "model/sockopts.h"

#include <gtest/gtest.h>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using testing::sock;

TEST(SockOpts, TwoListenersOnOneAddressBothHaveReuseport) {
  std::vector<Socket> s = {sock(1, Proto::tcp, "127.0.0.1", 80),
                           sock(2, Proto::tcp, "127.0.0.1", 80),
                           sock(3, Proto::tcp, "127.0.0.2", 80)};
  infer_socket_options(s);
  EXPECT_EQ(s[0].reuseport, Tristate::yes);
  EXPECT_EQ(s[0].reuseport_from, OptSource::inferred);
  EXPECT_EQ(s[1].reuseport, Tristate::yes);
  EXPECT_EQ(s[2].reuseport, Tristate::unknown) << "different address: no conflict";
  EXPECT_EQ(s[2].reuseport_from, OptSource::none);
  EXPECT_EQ(s[0].reuseaddr, Tristate::unknown) << "nothing is implied about SO_REUSEADDR";
}

TEST(SockOpts, WildcardOverlapsSpecificAddressOfItsFamilyOnly) {
  std::vector<Socket> s = {sock(1, Proto::tcp, "0.0.0.0", 81),
                           sock(2, Proto::tcp, "127.0.0.1", 81),
                           sock(3, Proto::tcp, "::1", 81)};
  infer_socket_options(s);
  EXPECT_EQ(s[0].reuseport, Tristate::yes);
  EXPECT_EQ(s[1].reuseport, Tristate::yes);
  EXPECT_EQ(s[2].reuseport, Tristate::unknown);
}

TEST(SockOpts, NotForUdpOtherStatesDevicesOrNamespaces) {
  std::vector<Socket> s = {sock(1, Proto::udp, "127.0.0.1", 82),
                           sock(2, Proto::udp, "127.0.0.1", 82),
                           sock(3, Proto::tcp, "127.0.0.1", 83),
                           sock(4, Proto::tcp, "127.0.0.1", 83, kStateEstablished),
                           sock(5, Proto::tcp, "127.0.0.1", 84),
                           sock(6, Proto::tcp, "127.0.0.1", 84, 0, 7),
                           sock(7, Proto::tcp, "0.0.0.0", 85),
                           sock(8, Proto::tcp, "0.0.0.0", 85)};
  s[6].bound_dev = 2;
  s[7].bound_dev = 3;
  infer_socket_options(s);
  for (const Socket& x : s) {
    EXPECT_EQ(x.reuseport, Tristate::unknown) << x.inode;
  }
}

TEST(SockOpts, InferenceNeverOverwritesABetterSource) {
  std::vector<Socket> s = {sock(1, Proto::tcp, "127.0.0.1", 80),
                           sock(2, Proto::tcp, "127.0.0.1", 80)};
  s[0].reuseport = Tristate::no;  // a contradiction only a broken source gives
  s[0].reuseport_from = OptSource::bpf;
  infer_socket_options(s);
  EXPECT_EQ(s[0].reuseport, Tristate::no);
  EXPECT_EQ(s[0].reuseport_from, OptSource::bpf);
  EXPECT_EQ(s[1].reuseport_from, OptSource::inferred);
}

}  // namespace
}  // namespace portrel
