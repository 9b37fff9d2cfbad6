#include "analysis/relation_diff.h"

#include <gtest/gtest.h>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using testing::proc;
using testing::snapshot;
using testing::sock;

constexpr auto tcp = Proto::tcp;
constexpr auto udp = Proto::udp;

std::vector<std::string> kinds(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const Change& c : changes) out.emplace_back(change_kind_name(c.kind));
  return out;
}

using Names = std::vector<std::string>;

DiffOptions with_connections() {
  DiffOptions o;
  o.listening_only = false;
  return o;
}

TEST(RelationDiff, NothingChangedIsNoChange) {
  auto a = snapshot({proc(10, 1, "nginx")}, {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}});
  auto b = snapshot({proc(10, 1, "nginx")}, {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}});
  EXPECT_TRUE(diff_relation(a, b).empty());
}

TEST(RelationDiff, APortOpensWithItsFirstSocketAndClosesWithItsLast) {
  auto empty = snapshot({proc(10, 1, "nginx")}, {}, {});
  auto two = snapshot({proc(10, 1, "nginx")},
                      {sock(100, tcp, "0.0.0.0", 80), sock(101, tcp, "::", 80)},
                      {{10, 6, 100}, {10, 7, 101}});
  auto opened = diff_relation(empty, two);
  EXPECT_EQ(kinds(opened), (Names{"port-opened", "socket-opened"}));
  ASSERT_EQ(opened[0].holders.size(), 1u);
  EXPECT_EQ(opened[0].holders[0].pid, 10);
  EXPECT_EQ(opened[0].holders[0].comm, "nginx");
  auto closed = diff_relation(two, empty);
  EXPECT_EQ(kinds(closed), (Names{"socket-closed", "port-closed"}));
  EXPECT_EQ(closed[1].holders.size(), 1u) << "a closed socket names who held it";
  // One socket of two goes: the port stays open.
  auto one = snapshot({proc(10, 1, "nginx")}, {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}});
  EXPECT_EQ(kinds(diff_relation(two, one)), (Names{"socket-closed", "sharing-changed"}));
  // TCP and UDP on one number are different ports.
  auto both = snapshot({proc(10, 1, "nginx")},
                       {sock(100, tcp, "0.0.0.0", 80), sock(102, udp, "0.0.0.0", 80)},
                       {{10, 6, 100}, {10, 8, 102}});
  auto added = diff_relation(one, both);
  ASSERT_EQ(kinds(added), (Names{"port-opened", "sharing-changed"}));
  EXPECT_EQ(added[0].socket.proto, udp);
}

TEST(RelationDiff, ListeningStartsAreOpeningsAndConnectionsAreLeftOut) {
  auto bound = snapshot({proc(10, 1, "srv")}, {sock(100, tcp, "0.0.0.0", 80, kStateClose)},
                        {{10, 3, 100}});
  auto listening = snapshot({proc(10, 1, "srv")}, {sock(100, tcp, "0.0.0.0", 80)},
                            {{10, 3, 100}});
  EXPECT_EQ(kinds(diff_relation(bound, listening)), (Names{"port-opened"}));
  // With connections kept, the same socket changes state.
  auto all = diff_relation(bound, listening, with_connections());
  ASSERT_EQ(kinds(all), (Names{"socket-state"}));
  EXPECT_EQ(all[0].old_state, kStateClose);
  EXPECT_EQ(all[0].socket.state, kStateListen);
  auto connected = snapshot({proc(10, 1, "srv")},
                            {sock(100, tcp, "0.0.0.0", 80),
                             sock(200, tcp, "127.0.0.1", 80, kStateEstablished)},
                            {{10, 3, 100}, {10, 4, 200}});
  EXPECT_TRUE(diff_relation(listening, connected).empty());
  EXPECT_EQ(kinds(diff_relation(listening, connected, with_connections())),
            (Names{"socket-opened", "sharing-changed"}));
}

TEST(RelationDiff, HoldersJoinByForkAndLeaveByExitOrClose) {
  auto master = snapshot({proc(10, 1, "nginx")}, {sock(100, tcp, "0.0.0.0", 80)},
                         {{10, 6, 100}});
  auto forked = snapshot({proc(10, 1, "nginx"), proc(11, 10, "nginx")},
                         {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}, {11, 6, 100}});
  auto joined = diff_relation(master, forked);
  ASSERT_EQ(kinds(joined), (Names{"holder-joined", "sharing-changed"}));
  EXPECT_EQ(joined[0].how, HolderHow::fork);
  EXPECT_EQ(joined[0].holders[0].pid, 11);
  EXPECT_EQ(joined[0].fd, 6);
  EXPECT_TRUE(joined[1].old_kinds.empty());
  EXPECT_EQ(joined[1].new_kinds, (std::vector<SharingKind>{SharingKind::inherited}));

  auto left = diff_relation(forked, master);
  ASSERT_EQ(kinds(left), (Names{"holder-left", "sharing-changed"}));
  EXPECT_EQ(left[0].how, HolderHow::exited);
  // The worker lives on without the socket: it closed it.
  auto closed = snapshot({proc(10, 1, "nginx"), proc(11, 10, "nginx")},
                         {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}});
  EXPECT_EQ(diff_relation(forked, closed)[0].how, HolderHow::closed);
}

TEST(RelationDiff, AZombieHasExitedAndAFreshListenerIsNoExec) {
  auto forked = snapshot({proc(10, 1, "srv"), proc(11, 10, "srv")},
                         {sock(100, tcp, "0.0.0.0", 80)},
                         {{10, 6, 100}, {11, 6, 100, true}});
  // Process 11 exited and waits for its parent: no fds and no executable.
  Process zombie = proc(11, 10, "srv");
  zombie.exe.clear();
  auto waiting = snapshot({proc(10, 1, "srv"), zombie}, {sock(100, tcp, "0.0.0.0", 80)},
                          {{10, 6, 100}});
  auto left = diff_relation(forked, waiting);
  ASSERT_EQ(kinds(left), (Names{"holder-left", "sharing-changed"}));
  EXPECT_EQ(left[0].how, HolderHow::exited);
  // A shell that ran a server which then listened: the port opened, nothing
  // held before ran another program.
  auto shell = snapshot({proc(20, 1, "bash")}, {}, {});
  auto server = snapshot({proc(20, 1, "python3")}, {sock(200, tcp, "127.0.0.1", 8080)},
                         {{20, 3, 200}});
  EXPECT_EQ(kinds(diff_relation(shell, server)), (Names{"port-opened"}));
}

TEST(RelationDiff, TwinsForkedInOneTickAreTwoProcesses) {
  // Two workers forked in the same clock tick share a start time.
  auto both = snapshot({proc(10, 1, "srv"), proc(11, 10, "srv", "", 500),
                        proc(12, 10, "srv", "", 500)},
                       {sock(100, tcp, "0.0.0.0", 80)},
                       {{10, 3, 100}, {11, 3, 100}, {12, 3, 100}});
  auto one_left = snapshot({proc(10, 1, "srv"), proc(12, 10, "srv", "", 500)},
                           {sock(100, tcp, "0.0.0.0", 80)}, {{10, 3, 100}, {12, 3, 100}});
  auto changes = diff_relation(both, one_left);
  ASSERT_EQ(kinds(changes), (Names{"holder-left"}));
  EXPECT_EQ(changes[0].holders[0].pid, 11);
}

TEST(RelationDiff, AReusedPidIsAnotherProcess) {
  auto old = snapshot({proc(10, 1, "nginx"), proc(11, 10, "nginx", "", 500)},
                      {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}, {11, 6, 100}});
  // pid 11 exited and a new process got its number, forked again from 10.
  auto reused = snapshot({proc(10, 1, "nginx"), proc(11, 10, "nginx", "", 900)},
                         {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}, {11, 6, 100}});
  auto changes = diff_relation(old, reused);
  ASSERT_EQ(kinds(changes), (Names{"holder-joined", "holder-left"}));
  EXPECT_EQ(changes[0].how, HolderHow::fork);
  EXPECT_EQ(changes[1].how, HolderHow::exited);
}

TEST(RelationDiff, ReceivedDupAndExecAreToldApart) {
  auto one = snapshot({proc(10, 1, "server"), proc(20, 1, "helper")},
                      {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}});
  auto passed = snapshot({proc(10, 1, "server"), proc(20, 1, "helper")},
                         {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}, {20, 4, 100}});
  EXPECT_EQ(diff_relation(one, passed)[0].how, HolderHow::received);
  auto dup = snapshot({proc(10, 1, "server"), proc(20, 1, "helper")},
                      {sock(100, tcp, "0.0.0.0", 80)}, {{10, 6, 100}, {10, 9, 100}});
  auto dupped = diff_relation(one, dup);
  ASSERT_EQ(kinds(dupped), (Names{"holder-joined"}));
  EXPECT_EQ(dupped[0].how, HolderHow::dup);
  EXPECT_EQ(dupped[0].fd, 9);

  // Process 10 runs another program: fd 6 (close-on-exec) goes, fd 7 stays.
  Holding cloexec{10, 6, 100, true};
  auto before = snapshot({proc(10, 1, "server")},
                         {sock(100, tcp, "0.0.0.0", 80), sock(101, tcp, "0.0.0.0", 81)},
                         {cloexec, {10, 7, 101}});
  auto after = snapshot({proc(10, 1, "reloaded", "/usr/bin/reloaded")},
                        {sock(100, tcp, "0.0.0.0", 80), sock(101, tcp, "0.0.0.0", 81)},
                        {{10, 7, 101}});
  auto execd = diff_relation(before, after);
  ASSERT_EQ(kinds(execd), (Names{"holder-left", "holder-exec"}));
  EXPECT_EQ(execd[0].how, HolderHow::exec);
  EXPECT_EQ(execd[1].old_comm, "server");
  EXPECT_EQ(execd[1].holders[0].comm, "reloaded");
}

TEST(RelationDiff, ASelectionKeepsOnlyItsSockets) {
  auto before = snapshot({proc(10, 1, "a")}, {}, {});
  auto after = snapshot({proc(10, 1, "a"), proc(20, 1, "b")},
                        {sock(100, tcp, "0.0.0.0", 80), sock(101, tcp, "0.0.0.0", 81)},
                        {{10, 3, 100}, {20, 3, 101}});
  DiffOptions o;
  o.select = [](const Snapshot&, const Socket& s) { return s.local_port == 81; };
  auto changes = diff_relation(before, after, o);
  ASSERT_EQ(kinds(changes), (Names{"port-opened"}));
  EXPECT_EQ(changes[0].socket.local_port, 81);
}

TEST(RelationDiff, ReuseportSiblingsChangeTheSharing) {
  auto one = snapshot({proc(10, 1, "w")}, {sock(100, udp, "0.0.0.0", 53)}, {{10, 3, 100}});
  Socket a = sock(100, udp, "0.0.0.0", 53), b = sock(101, udp, "0.0.0.0", 53);
  a.reuseport = b.reuseport = Tristate::yes;
  auto two = snapshot({proc(10, 1, "w"), proc(11, 1, "w")}, {a, b},
                      {{10, 3, 100}, {11, 3, 101}});
  auto changes = diff_relation(one, two);
  ASSERT_EQ(kinds(changes), (Names{"socket-opened", "sharing-changed"}));
  EXPECT_EQ(changes[1].new_kinds, (std::vector<SharingKind>{SharingKind::reuseport}));
}

}  // namespace
}  // namespace portrel
