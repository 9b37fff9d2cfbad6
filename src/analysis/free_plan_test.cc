// The free-a-port plan on hand-made relations: an inherited socket's root, every
// reuseport member, clients and TIME_WAIT left out, PID 1, containers and
// portrel itself as blockers.
#include "analysis/free_plan.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

Process proc(pid_t pid, pid_t ppid, std::string cgroup = "") {
  Process p;
  p.pid = pid;
  p.ppid = ppid;
  p.comm = "p" + std::to_string(pid);
  p.start_time = 1000 + static_cast<uint64_t>(pid);
  p.cgroup = std::move(cgroup);
  return p;
}

Socket sock(uint64_t inode, uint16_t port, uint8_t state, uint16_t remote = 0) {
  Socket s;
  s.inode = inode;
  s.local_addr = *Address::parse("127.0.0.1");
  s.local_port = port;
  s.remote_port = remote;
  if (remote != 0) s.remote_addr = *Address::parse("127.0.0.1");
  s.state = state;
  return s;
}

OnPort port_is(uint16_t port) {
  return [port](const Socket& s) { return s.local_port == port; };
}

TEST(FreePlan, TheRootOfAnInheritedSocketAndWhatElseItHolds) {
  // Master 10 with workers 11, 12 holding listener 1 on 8080; the master also
  // listens on 8443 (socket 2).
  Snapshot snap({proc(1, 0), proc(10, 1), proc(11, 10), proc(12, 10)},
                {sock(1, 8080, kStateListen), sock(2, 8443, kStateListen)},
                {{10, 3, 1, false}, {11, 3, 1, false}, {12, 3, 1, false}, {10, 4, 2, false}},
                {}, {});
  FreePlan plan = plan_free(snap, port_is(8080), 99);
  ASSERT_EQ(plan.targets.size(), 1u);
  EXPECT_EQ(plan.targets[0].pid, 10);
  EXPECT_EQ(plan.targets[0].start_time, 1010u);
  EXPECT_EQ(plan.targets[0].children, 2u);
  ASSERT_EQ(plan.targets[0].also.size(), 1u);
  EXPECT_EQ(plan.targets[0].also[0]->local_port, 8443);
  EXPECT_TRUE(plan.blockers.empty());
  EXPECT_FALSE(plan.nothing);
}

TEST(FreePlan, EveryReuseportMemberClientsAndTimeWaitApart) {
  Socket client = sock(5, 40000, kStateEstablished, 8080);  // its remote port is 8080
  Socket tw = sock(0, 8080, kStateTimeWait, 40001);
  Snapshot snap({proc(1, 0), proc(20, 1), proc(21, 1), proc(30, 1)},
                {sock(1, 8080, kStateListen), sock(2, 8080, kStateListen), client, tw},
                {{20, 3, 1, true}, {21, 3, 2, true}, {30, 5, 5, true}}, {}, {});
  FreePlan plan = plan_free(snap, port_is(8080), 99);
  ASSERT_EQ(plan.targets.size(), 2u);
  EXPECT_EQ(plan.targets[0].pid, 20);
  EXPECT_EQ(plan.targets[1].pid, 21);
  EXPECT_EQ(plan.time_wait.size(), 1u);
}

TEST(FreePlan, Pid1ContainersPortrelAndUnownedAreBlockers) {
  Snapshot snap(
      {proc(1, 0), proc(40, 1, "/machine.slice/libpod-3f2a9c1d5e6b7a8c9d0e00000000000000000000000000000000000000000000.scope/container"),
       proc(99, 1)},
      {sock(1, 80, kStateListen), sock(2, 81, kStateListen), sock(3, 82, kStateListen),
       sock(4, 83, kStateListen)},
      {{1, 3, 1, false}, {40, 3, 2, false}, {99, 3, 3, false}}, {}, {});
  FreePlan pid1 = plan_free(snap, port_is(80), 99);
  EXPECT_TRUE(pid1.targets.empty());
  ASSERT_EQ(pid1.blockers.size(), 1u);
  EXPECT_NE(pid1.blockers[0].command.find("systemctl"), std::string::npos);
  FreePlan container = plan_free(snap, port_is(81), 99);
  ASSERT_EQ(container.blockers.size(), 1u);
  EXPECT_EQ(container.blockers[0].command, "podman stop 3f2a9c1d5e6b");
  FreePlan self = plan_free(snap, port_is(82), 99);
  ASSERT_EQ(self.blockers.size(), 1u);
  EXPECT_TRUE(self.targets.empty());
  FreePlan unowned = plan_free(snap, port_is(83), 99);
  ASSERT_EQ(unowned.blockers.size(), 1u);
  EXPECT_EQ(unowned.blockers[0].command, "");
  EXPECT_TRUE(plan_free(snap, port_is(9), 99).nothing);
}

TEST(FreePlan, ContainersByTheirCgroup) {
  const std::string id(64, 'c');
  EXPECT_EQ(container_of_cgroup("/system.slice/docker-" + id + ".scope"),
            (std::pair<std::string, std::string>{"docker", id}));
  EXPECT_EQ(container_of_cgroup("/docker/" + id),
            (std::pair<std::string, std::string>{"docker", id}));
  EXPECT_EQ(container_of_cgroup("/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id +
                                ".scope")
                ->first,
            "containerd");
  EXPECT_EQ(container_of_cgroup("/libpod_parent/libpod-" + id),
            (std::pair<std::string, std::string>{"podman", id}));
  EXPECT_FALSE(container_of_cgroup("/machine.slice/libpod-conmon-" + id + ".scope"));
  EXPECT_FALSE(container_of_cgroup("/user.slice/user-0.slice/session-1.scope"));
  EXPECT_FALSE(container_of_cgroup(""));
}

}  // namespace
}  // namespace portrel
