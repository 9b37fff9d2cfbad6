// The bind rules on hand-built sockets: one test per rule of the kernel's
// conflict checks, each stating the verdict the kernel gives (the live test in
// tests/live/bind_rules_test.cc checks the same rules against the kernel).
#include "analysis/bind_rules.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace portrel {
namespace {

constexpr Tristate Y = Tristate::yes, N = Tristate::no, U = Tristate::unknown;

Address addr(const char* text) { return *Address::parse(text); }

Socket sock(Proto proto, const char* address, uint16_t port, uint8_t state,
            Tristate reuseaddr = N, Tristate reuseport = N, uid_t uid = 0,
            Tristate v6only = N) {
  static uint64_t next_inode = 1000;
  Socket s;
  s.inode = ++next_inode;
  s.proto = proto;
  s.local_addr = addr(address);
  s.family = s.local_addr.family;
  s.local_port = port;
  s.state = state;
  s.reuseaddr = reuseaddr;
  s.reuseport = reuseport;
  s.uid = uid;
  s.v6only = s.family == 6 ? v6only : N;
  return s;
}

BindRequest req(Proto proto, const char* address, uint16_t port, bool reuseaddr = false,
                bool reuseport = false, uid_t uid = 0, bool v6only = false) {
  BindRequest r;
  r.proto = proto;
  r.address = addr(address);
  r.family = r.address.family;
  r.port = port;
  r.reuseaddr = reuseaddr;
  r.reuseport = reuseport;
  r.uid = uid;
  r.v6only = v6only;
  return r;
}

BindPrediction predict(const BindRequest& r, const std::vector<Socket>& sockets,
                       TableOrder order = TableOrder::bind_order,
                       const BindEnvironment& env = {}) {
  std::vector<const Socket*> table;
  for (const Socket& s : sockets) table.push_back(&s);
  return predict_bind(r, table, env, order);
}

BindEnvironment udp_rule(UdpReuseportRule rule) {
  BindEnvironment env;
  env.kernel.udp_reuseport = rule;
  return env;
}

constexpr auto tcp = Proto::tcp;
constexpr auto udp = Proto::udp;
constexpr auto first_match = UdpReuseportRule::first_match;
constexpr auto every_match = UdpReuseportRule::every_match;

TEST(BindRules, AnEmptyPortIsFree) {
  auto p = predict(req(tcp, "0.0.0.0", 8080), {sock(tcp, "0.0.0.0", 8081, kStateListen)});
  EXPECT_EQ(p.outcome, BindOutcome::succeeds);
  EXPECT_TRUE(p.conflicts.empty());
}

TEST(BindRules, WildcardAndSpecificOverlapBothWays) {
  std::vector<Socket> specific{sock(tcp, "127.0.0.1", 80, kStateListen)};
  auto p = predict(req(tcp, "0.0.0.0", 80), specific);
  EXPECT_EQ(p.outcome, BindOutcome::fails);
  EXPECT_EQ(p.error, EADDRINUSE);
  ASSERT_EQ(p.conflicts.size(), 1u);
  EXPECT_EQ(p.conflicts[0].socket, &specific[0]);
  std::vector<Socket> wildcard{sock(tcp, "0.0.0.0", 80, kStateListen)};
  EXPECT_EQ(predict(req(tcp, "127.0.0.1", 80), wildcard).outcome, BindOutcome::fails);
}

TEST(BindRules, DistinctSpecificAddressesCoexist) {
  auto p = predict(req(tcp, "127.0.0.2", 80), {sock(tcp, "127.0.0.1", 80, kStateListen)});
  EXPECT_EQ(p.outcome, BindOutcome::succeeds);
}

TEST(BindRules, TcpReuseaddrPassesABoundSocketButNeverAListener) {
  std::vector<Socket> bound{sock(tcp, "127.0.0.1", 80, kStateClose, Y)};
  EXPECT_EQ(predict(req(tcp, "127.0.0.1", 80, true), bound).outcome,
            BindOutcome::succeeds);
  EXPECT_EQ(predict(req(tcp, "127.0.0.1", 80, false), bound).outcome,
            BindOutcome::fails);
  std::vector<Socket> listening{sock(tcp, "127.0.0.1", 80, kStateListen, Y)};
  auto p = predict(req(tcp, "127.0.0.1", 80, true), listening);
  EXPECT_EQ(p.outcome, BindOutcome::fails);
  ASSERT_EQ(p.conflicts.size(), 1u);
  EXPECT_NE(p.conflicts[0].rule.find("never passes a LISTEN"), std::string::npos);
}

TEST(BindRules, TimeWaitIsPassedWithReuseaddrOnBoth) {
  std::vector<Socket> tw{sock(tcp, "127.0.0.1", 80, kStateTimeWait, Y)};
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80, true), tw).outcome, BindOutcome::succeeds);
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80, false), tw).outcome, BindOutcome::fails);
  std::vector<Socket> tw_no_reuse{sock(tcp, "127.0.0.1", 80, kStateTimeWait, N)};
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80, true), tw_no_reuse).outcome,
            BindOutcome::fails);
}

TEST(BindRules, ReuseportNeedsBothAndTheSameUidExceptOverTimeWait) {
  std::vector<Socket> l{sock(tcp, "0.0.0.0", 80, kStateListen, N, Y, 1000)};
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80, false, true, 1000), l).outcome,
            BindOutcome::succeeds);
  auto other_uid = predict(req(tcp, "0.0.0.0", 80, false, true, 0), l);
  EXPECT_EQ(other_uid.outcome, BindOutcome::fails);
  ASSERT_EQ(other_uid.conflicts.size(), 1u);
  EXPECT_NE(other_uid.conflicts[0].rule.find("uid 0 is not its uid 1000"),
            std::string::npos);
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80, false, false, 1000), l).outcome,
            BindOutcome::fails);
  std::vector<Socket> tw{sock(tcp, "127.0.0.1", 80, kStateTimeWait, N, Y, 1000)};
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80, false, true, 0), tw).outcome,
            BindOutcome::succeeds);
}

TEST(BindRules, ReuseportMustHoldForEverySocketInTheGroup) {
  std::vector<Socket> group{sock(tcp, "0.0.0.0", 80, kStateListen, N, Y, 1000),
                            sock(tcp, "0.0.0.0", 80, kStateListen, N, N, 1000)};
  auto p = predict(req(tcp, "0.0.0.0", 80, false, true, 1000), group);
  EXPECT_EQ(p.outcome, BindOutcome::fails);
  ASSERT_EQ(p.conflicts.size(), 1u);
  EXPECT_EQ(p.conflicts[0].socket, &group[1]);
}

TEST(BindRules, V6WildcardCoversIpv4UnlessV6only) {
  std::vector<Socket> v4{sock(tcp, "127.0.0.1", 80, kStateListen)};
  EXPECT_EQ(predict(req(tcp, "::", 80), v4).outcome, BindOutcome::fails);
  EXPECT_EQ(predict(req(tcp, "::", 80, false, false, 0, true), v4).outcome,
            BindOutcome::succeeds);
  std::vector<Socket> v6only{sock(tcp, "::", 80, kStateListen, N, N, 0, Y)};
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80), v6only).outcome, BindOutcome::succeeds);
  EXPECT_EQ(predict(req(tcp, "::1", 80), v6only).outcome, BindOutcome::fails);
  std::vector<Socket> dual{sock(tcp, "::", 80, kStateListen, N, N, 0, N)};
  EXPECT_EQ(predict(req(tcp, "127.0.0.1", 80), dual).outcome, BindOutcome::fails);
}

TEST(BindRules, V4MappedAddressesAreTheIpv4Address) {
  std::vector<Socket> v4{sock(tcp, "127.0.0.1", 80, kStateListen)};
  EXPECT_EQ(predict(req(tcp, "::ffff:127.0.0.1", 80), v4).outcome, BindOutcome::fails);
  EXPECT_EQ(predict(req(tcp, "::ffff:127.0.0.2", 80), v4).outcome,
            BindOutcome::succeeds);
  std::vector<Socket> mapped{sock(tcp, "::ffff:127.0.0.1", 80, kStateListen)};
  EXPECT_EQ(predict(req(udp, "127.0.0.1", 80), {sock(udp, "::ffff:127.0.0.1", 80,
                                                     kStateClose)}).outcome,
            BindOutcome::fails);
  EXPECT_EQ(predict(req(tcp, "127.0.0.1", 80), mapped).outcome, BindOutcome::fails);
}

TEST(BindRules, BindingAPlainIpv6AddressMakesTheSocketV6only) {
  // __inet6_bind sets sk_ipv6only for ::1; sock_diag then reports v6only.
  std::vector<Socket> bound{sock(tcp, "::1", 80, kStateListen, N, N, 0, Y)};
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80), bound).outcome, BindOutcome::succeeds);
  // An accepted connection of a dual-stack :: listener keeps ipv6only 0 on ::1,
  // and 0.0.0.0 overlaps it (its sk_rcv_saddr is LOOPBACK4_IPV6).
  std::vector<Socket> child{sock(tcp, "::1", 80, kStateEstablished, N, N, 0, N)};
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80), child).outcome, BindOutcome::fails);
  EXPECT_EQ(predict(req(tcp, "127.0.0.1", 80), child).outcome, BindOutcome::succeeds);
  // A specific address is checked on its own bhash2 bucket and the wildcard
  // ones only, so LOOPBACK4_IPV6 (127.0.0.6) never meets it either.
  EXPECT_EQ(predict(req(tcp, "127.0.0.6", 80), child).outcome, BindOutcome::succeeds);
}

TEST(BindRules, TheFastreuseportShortcutRemembersClosedSockets) {
  // A (uid 1000, reuseaddr+reuseport) on 127.0.0.2; B (uid 0, reuseaddr+reuseport)
  // joins beside it thanks to SO_REUSEADDR, resets the shortcut to uid 0, closes.
  std::vector<Socket> a{sock(tcp, "127.0.0.2", 80, kStateClose, Y, Y, 1000)};
  BindRequest first = req(tcp, "127.0.0.2", 80, true, true, 1000);
  BindRequest b = req(tcp, "127.0.0.2", 80, true, true, 0);
  TcpFastReuse bucket;
  update_fastreuse(bucket, first, false, false);
  update_fastreuse(bucket, b, false, false);
  EXPECT_EQ(bucket.fastreuseport, TcpFastReuse::kStrict);
  BindRequest c = req(tcp, "127.0.0.2", 80, false, true, 0);
  std::vector<const Socket*> table{&a[0]};
  EXPECT_EQ(predict_bind(c, table, {}, TableOrder::bind_order, nullptr).outcome,
            BindOutcome::fails);
  EXPECT_FALSE(predict_bind(c, table, {}).notes.empty());
  EXPECT_EQ(predict_bind(c, table, {}, TableOrder::bind_order, &bucket).outcome,
            BindOutcome::succeeds);
}

// 5.10 and 6.1: the port's first socket sets the shortcut to
// FASTREUSEPORT_ANY for its uid, and a connection accepted by root joins the
// port without resetting it, so uid 1000 binds 0.0.0.0 over root's connection.
// Later kernels start at 0, and the same bind meets the connection.
TEST(BindRules, TheFirstBindSetsTheShortcutOnOlderKernels) {
  BindRequest listener = req(tcp, "127.0.0.1", 80, false, true, 1000);
  std::vector<Socket> port{sock(tcp, "127.0.0.1", 80, kStateListen, N, Y, 1000),
                           sock(tcp, "127.0.0.1", 80, kStateEstablished, N, Y, 0)};
  std::vector<const Socket*> table{&port[0], &port[1]};
  BindRequest wildcard = req(tcp, "0.0.0.0", 80, false, true, 1000);
  for (bool older : {true, false}) {
    TcpFastReuse bucket;
    update_fastreuse(bucket, listener, false, older);
    update_fastreuse(bucket, listener, true, older);  // listen() takes the port again
    EXPECT_EQ(bucket.fastreuseport, older ? TcpFastReuse::kAny : TcpFastReuse::kStrict);
    auto p = predict_bind(wildcard, table, {}, TableOrder::bind_order, &bucket);
    EXPECT_EQ(p.outcome, older ? BindOutcome::succeeds : BindOutcome::fails)
        << (older ? "first bind sets the shortcut" : "strict shortcut") << ": " << p.reason;
  }
  // Without the port's history, the note says what the shortcut could do.
  BindEnvironment env;
  env.kernel.tcp_first_bind_sets_shortcut = Y;
  auto p = predict_bind(wildcard, table, env);
  EXPECT_EQ(p.outcome, BindOutcome::fails);
  ASSERT_FALSE(p.notes.empty());
  EXPECT_NE(p.notes[0].find("first socket"), std::string::npos) << p.notes[0];
  env.kernel.tcp_first_bind_sets_shortcut = N;
  p = predict_bind(wildcard, table, env);
  ASSERT_FALSE(p.notes.empty());
  EXPECT_EQ(p.notes[0].find("first socket"), std::string::npos) << p.notes[0];
}

// 6.1's bhash2 looks for a v6 socket's wildcard only under ::, so a v6 socket
// on ::ffff:0.0.0.0 does not keep another v6 socket off ::ffff:127.0.0.1.
// What the kernel does is asked of it; not known, the verdict is uncertain.
TEST(BindRules, SixOneMissesTheV4MappedWildcard) {
  std::vector<Socket> mapped_any{sock(tcp, "::ffff:0.0.0.0", 80, kStateListen)};
  BindRequest r = req(tcp, "::ffff:127.0.0.1", 80);
  BindEnvironment env;
  env.kernel.tcp_mapped_any_found = Y;
  EXPECT_EQ(predict(r, mapped_any, TableOrder::bind_order, env).outcome, BindOutcome::fails);
  env.kernel.tcp_mapped_any_found = N;
  EXPECT_EQ(predict(r, mapped_any, TableOrder::bind_order, env).outcome,
            BindOutcome::succeeds);
  // An IPv4 socket binding 127.0.0.1 finds it on every kernel, and a v4 socket
  // on 0.0.0.0 is found by the v6 bind.
  EXPECT_EQ(predict(req(tcp, "127.0.0.1", 80), mapped_any, TableOrder::bind_order, env).outcome,
            BindOutcome::fails);
  EXPECT_EQ(predict(r, {sock(tcp, "0.0.0.0", 80, kStateListen)}, TableOrder::bind_order, env)
                .outcome,
            BindOutcome::fails);
  // Beside ::ffff:0.0.0.0 that kernel's search finds 0.0.0.0 or not, by the
  // order of buckets a snapshot does not show.
  std::vector<Socket> both{sock(tcp, "::ffff:0.0.0.0", 80, kStateListen, N, N, 1000),
                           sock(tcp, "0.0.0.0", 80, kStateListen)};
  auto order = predict(r, both, TableOrder::bind_order, env);
  EXPECT_EQ(order.outcome, BindOutcome::uncertain);
  EXPECT_NE(order.reason.find("buckets"), std::string::npos) << order.reason;
  env.kernel.tcp_mapped_any_found = Y;
  EXPECT_EQ(predict(r, both, TableOrder::bind_order, env).outcome, BindOutcome::fails);
  env.kernel.tcp_mapped_any_found = N;
  env.kernel.tcp_mapped_any_found = U;
  auto p = predict(r, mapped_any, TableOrder::bind_order, env);
  EXPECT_EQ(p.outcome, BindOutcome::uncertain);
  ASSERT_EQ(p.conflicts.size(), 1u);
  ASSERT_FALSE(p.conflicts[0].depends_on.empty());
  EXPECT_NE(p.conflicts[0].depends_on[0].find("::ffff:0.0.0.0"), std::string::npos);
  EXPECT_NE(p.reason.find("::ffff:0.0.0.0"), std::string::npos) << p.reason;
}

TEST(BindRules, BoundDevicesSeparateSockets) {
  Socket on_dev = sock(tcp, "0.0.0.0", 80, kStateListen);
  on_dev.bound_dev = 2;
  BindRequest r = req(tcp, "0.0.0.0", 80);
  r.bound_dev = 3;
  EXPECT_EQ(predict(r, {on_dev}).outcome, BindOutcome::succeeds);
  r.bound_dev = 2;
  EXPECT_EQ(predict(r, {on_dev}).outcome, BindOutcome::fails);
  r.bound_dev = 0;
  EXPECT_EQ(predict(r, {on_dev}).outcome, BindOutcome::fails);
}

TEST(BindRules, AnUnknownOptionMakesTheVerdictUncertainAndSaysWhich) {
  std::vector<Socket> l{sock(tcp, "0.0.0.0", 80, kStateListen, U, U, 0)};
  auto p = predict(req(tcp, "0.0.0.0", 80, false, true, 0), l);
  EXPECT_EQ(p.outcome, BindOutcome::uncertain);
  ASSERT_EQ(p.conflicts.size(), 1u);
  EXPECT_EQ(p.conflicts[0].blocks, U);
  ASSERT_EQ(p.conflicts[0].depends_on.size(), 1u);
  EXPECT_NE(p.conflicts[0].depends_on[0].find("SO_REUSEPORT"), std::string::npos);
  // Without SO_REUSEPORT on the new socket, the unknown option cannot help.
  EXPECT_EQ(predict(req(tcp, "0.0.0.0", 80), l).outcome, BindOutcome::fails);
  std::vector<Socket> v6{sock(tcp, "::", 80, kStateTimeWait, N, N, 0, U)};
  auto p6 = predict(req(tcp, "127.0.0.1", 80), v6);
  EXPECT_EQ(p6.outcome, BindOutcome::uncertain);
  ASSERT_EQ(p6.conflicts.size(), 1u);
  EXPECT_NE(p6.conflicts[0].depends_on.at(0).find("IPV6_V6ONLY"), std::string::npos);
}

TEST(BindRules, UdpReuseaddrOnBothShares) {
  std::vector<Socket> s{sock(udp, "0.0.0.0", 53, kStateClose, Y)};
  EXPECT_EQ(predict(req(udp, "0.0.0.0", 53, true), s).outcome, BindOutcome::succeeds);
  EXPECT_EQ(predict(req(udp, "0.0.0.0", 53, false), s).outcome, BindOutcome::fails);
}

// Bind order, oldest first: an older socket that does not share the port, and
// a newer one (head of the chain) that shares it by SO_REUSEPORT and uid.
std::vector<Socket> newest_shares() {
  return {sock(udp, "127.0.0.2", 53, kStateClose, Y, N),
          sock(udp, "127.0.0.1", 53, kStateClose, N, Y)};
}

TEST(BindRules, UdpFirstMatchTheNewestOverlappingSocketDecides) {
  const BindEnvironment env = udp_rule(first_match);
  BindRequest r = req(udp, "0.0.0.0", 53, false, true);
  std::vector<Socket> shares = newest_shares();
  auto p = predict(r, shares, TableOrder::bind_order, env);
  EXPECT_EQ(p.outcome, BindOutcome::succeeds);
  EXPECT_NE(p.reason.find("first overlapping socket"), std::string::npos) << p.reason;
  std::vector<Socket> newest_blocks{shares[1], shares[0]};
  EXPECT_EQ(predict(r, newest_blocks, TableOrder::bind_order, env).outcome,
            BindOutcome::fails);
  // An IPv6 socket with SO_REUSEPORT goes to the tail of the chain instead.
  std::vector<Socket> v6_tail{sock(udp, "127.0.0.2", 53, kStateClose, Y, N),
                              sock(udp, "::ffff:127.0.0.1", 53, kStateClose, N, Y)};
  EXPECT_EQ(
      predict(req(udp, "::", 53, false, true), v6_tail, TableOrder::bind_order, env)
          .outcome,
      BindOutcome::fails);
}

TEST(BindRules, UdpEveryMatchNeedsEveryOverlappingSocketToShare) {
  const BindEnvironment env = udp_rule(every_match);
  BindRequest r = req(udp, "0.0.0.0", 53, false, true);
  std::vector<Socket> shares = newest_shares();
  auto p = predict(r, shares, TableOrder::bind_order, env);
  EXPECT_EQ(p.outcome, BindOutcome::fails);
  EXPECT_EQ(p.error, EADDRINUSE);
  ASSERT_EQ(p.conflicts.size(), 1u);
  EXPECT_EQ(p.conflicts[0].socket, &shares[0]);
  EXPECT_EQ(p.conflicts[0].blocks, Y);
  // The order does not matter, so a dump's order is as good as the bind order.
  std::vector<Socket> reversed{shares[1], shares[0]};
  EXPECT_EQ(predict(r, reversed, TableOrder::chain_per_family, env).outcome,
            BindOutcome::fails);
  std::vector<Socket> all_share{sock(udp, "127.0.0.2", 53, kStateClose, Y, Y),
                                sock(udp, "127.0.0.1", 53, kStateClose, N, Y)};
  auto ok = predict(r, all_share, TableOrder::chain_per_family, env);
  EXPECT_EQ(ok.outcome, BindOutcome::succeeds);
  EXPECT_NE(ok.reason.find("every overlapping socket"), std::string::npos) << ok.reason;
  // A socket of another uid blocks even behind one of the same uid.
  std::vector<Socket> other_uid{sock(udp, "0.0.0.0", 53, kStateClose, Y, Y, 1000),
                                sock(udp, "127.0.0.1", 53, kStateClose, Y, Y, 0)};
  EXPECT_EQ(predict(req(udp, "::ffff:0.0.0.0", 53, false, true), other_uid,
                    TableOrder::bind_order, env)
                .outcome,
            BindOutcome::fails);
}

TEST(BindRules, UdpUnknownRuleIsUncertainOnlyWhereTheRulesDisagree) {
  const BindEnvironment env;  // not probed
  ASSERT_EQ(env.kernel.udp_reuseport, UdpReuseportRule::unknown);
  BindRequest r = req(udp, "0.0.0.0", 53, false, true);
  std::vector<Socket> shares = newest_shares();
  auto p = predict(r, shares, TableOrder::bind_order, env);
  EXPECT_EQ(p.outcome, BindOutcome::uncertain);
  EXPECT_EQ(p.error, EADDRINUSE);
  ASSERT_EQ(p.conflicts.size(), 1u);
  EXPECT_EQ(p.conflicts[0].socket, &shares[0]);
  ASSERT_EQ(p.conflicts[0].depends_on.size(), 1u);
  EXPECT_NE(p.conflicts[0].depends_on[0].find("checks every one"), std::string::npos);
  EXPECT_NE(p.reason.find("checks every one"), std::string::npos) << p.reason;
  // Both rules refuse when the newest overlapping socket blocks.
  std::vector<Socket> newest_blocks{shares[1], shares[0]};
  EXPECT_EQ(predict(r, newest_blocks, TableOrder::bind_order, env).outcome,
            BindOutcome::fails);
  // Both rules allow it when every overlapping socket shares.
  std::vector<Socket> all_share{sock(udp, "127.0.0.2", 53, kStateClose, Y, Y),
                                sock(udp, "127.0.0.1", 53, kStateClose, N, Y)};
  EXPECT_EQ(predict(r, all_share, TableOrder::bind_order, env).outcome,
            BindOutcome::succeeds);
  // Without SO_REUSEPORT on the bind the rule never matters.
  EXPECT_EQ(
      predict(req(udp, "0.0.0.0", 53), shares, TableOrder::bind_order, env).outcome,
      BindOutcome::fails);
}

TEST(BindRules, UdpOrderAcrossFamiliesUnknownIsUncertainUnderFirstMatch) {
  std::vector<Socket> s{sock(udp, "127.0.0.1", 53, kStateClose, N, Y),
                        sock(udp, "::", 53, kStateClose, Y, N, 0, N)};
  BindRequest r = req(udp, "0.0.0.0", 53, false, true);
  auto p = predict(r, s, TableOrder::chain_per_family, udp_rule(first_match));
  EXPECT_EQ(p.outcome, BindOutcome::uncertain);
  ASSERT_EQ(p.conflicts.size(), 1u);
  EXPECT_EQ(p.conflicts[0].socket, &s[1]);
  ASSERT_EQ(p.conflicts[0].depends_on.size(), 1u);
  EXPECT_NE(p.conflicts[0].depends_on[0].find("bound last"), std::string::npos);
  // Under every_match the order is irrelevant: the dual-stack :: blocks.
  auto every = predict(r, s, TableOrder::chain_per_family, udp_rule(every_match));
  EXPECT_EQ(every.outcome, BindOutcome::fails);
  ASSERT_EQ(every.conflicts.size(), 1u);
  EXPECT_EQ(every.conflicts[0].socket, &s[1]);
}

TEST(BindRules, UdpPortZeroChecksEverySocketUnderEitherRule) {
  BindEnvironment env;
  env.port_low = env.port_high = 40000;
  std::vector<Socket> shares{sock(udp, "127.0.0.2", 40000, kStateClose, Y, N),
                             sock(udp, "127.0.0.1", 40000, kStateClose, N, Y)};
  for (UdpReuseportRule rule : {first_match, every_match, UdpReuseportRule::unknown}) {
    env.kernel.udp_reuseport = rule;
    auto p = predict(req(udp, "0.0.0.0", 0, false, true), shares,
                     TableOrder::bind_order, env);
    EXPECT_EQ(p.outcome, BindOutcome::fails) << udp_reuseport_rule_name(rule);
    EXPECT_EQ(p.free_ephemeral, 0u);
  }
}

TEST(BindRules, PortZeroLooksForAFreePortInTheRange) {
  BindEnvironment env;
  env.port_low = 40000;
  env.port_high = 40002;
  env.reserved = {{40002, 40002}};
  std::vector<Socket> s{sock(tcp, "0.0.0.0", 40000, kStateListen)};
  auto p = predict(req(tcp, "0.0.0.0", 0), s, TableOrder::bind_order, env);
  EXPECT_EQ(p.outcome, BindOutcome::succeeds);
  EXPECT_EQ(p.free_ephemeral, 1u);
  s.push_back(sock(tcp, "0.0.0.0", 40001, kStateClose, Y));
  // While searching, SO_REUSEADDR does not make a port free (relax is false).
  auto full = predict(req(tcp, "0.0.0.0", 0, true), s, TableOrder::bind_order, env);
  EXPECT_EQ(full.outcome, BindOutcome::fails);
  EXPECT_EQ(full.error, EADDRINUSE);
}

TEST(BindRules, AddressAndPrivilegeChecksComeFirst) {
  BindEnvironment env;
  env.addresses_known = true;
  env.addresses.push_back({addr("127.0.0.1"), 8, 1, true, std::nullopt});
  env.addresses.push_back({addr("::1"), 128, 1, true, std::nullopt});
  BindRequest r = req(tcp, "127.0.0.2", 80);
  EXPECT_EQ(predict(r, {}, TableOrder::bind_order, env).outcome, BindOutcome::succeeds);
  r.can_bind_service = false;
  auto eacces = predict(r, {}, TableOrder::bind_order, env);
  EXPECT_EQ(eacces.outcome, BindOutcome::fails);
  EXPECT_EQ(eacces.error, EACCES);
  r.address = addr("10.1.2.3");
  EXPECT_EQ(predict(r, {}, TableOrder::bind_order, env).error, EADDRNOTAVAIL);
  BindRequest v6 = req(tcp, "::ffff:10.1.2.3", 80);
  v6.can_bind_service = false;
  EXPECT_EQ(predict(v6, {}, TableOrder::bind_order, env).error, EACCES);
  v6.can_bind_service = true;
  EXPECT_EQ(predict(v6, {}, TableOrder::bind_order, env).error, EADDRNOTAVAIL);
  BindRequest mapped_v6only = req(tcp, "::ffff:127.0.0.1", 8080, false, false, 0, true);
  EXPECT_EQ(predict(mapped_v6only, {}, TableOrder::bind_order, env).error, EINVAL);
  EXPECT_EQ(predict(req(tcp, "::2", 8080), {}, TableOrder::bind_order, env).error,
            EADDRNOTAVAIL);
}

TEST(BindRules, AddressesOverlapIsInetRcvSaddrEqual) {
  EXPECT_EQ(addresses_overlap(req(tcp, "::", 1), sock(tcp, "127.0.0.1", 1, kStateListen)),
            Y);
  EXPECT_EQ(addresses_overlap(req(tcp, "::", 1, false, false, 0, true),
                              sock(tcp, "127.0.0.1", 1, kStateListen)),
            N);
  EXPECT_EQ(addresses_overlap(req(tcp, "::ffff:127.0.0.1", 1),
                              sock(tcp, "::", 1, kStateListen, N, N, 0, U)),
            U);
}

}  // namespace
}  // namespace portrel
