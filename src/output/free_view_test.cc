// The free plan as JSON on a hand-built snapshot and plan: a target with the
// sockets it frees and also holds, a blocker with the command to run instead,
// and the port's TIME_WAIT sockets.
#include "output/free_view.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using nlohmann::json;

TEST(FreeView, JsonNamesTargetsBlockersAndTheirSockets) {
  Process nginx = testing::proc(100, 1, "nginx");
  nginx.cmdline = "nginx -g daemon off;";
  nginx.user = "root";
  Socket tw = testing::sock(0, Proto::tcp, "127.0.0.1", 8080, kStateTimeWait);
  tw.remote_addr = *Address::parse("127.0.0.1");
  tw.remote_port = 40000;
  Snapshot snap =
      testing::snapshot({testing::proc(1, 0, "systemd"), nginx},
                        {tw, testing::sock(10, Proto::tcp, "0.0.0.0", 8080),
                         testing::sock(11, Proto::tcp, "0.0.0.0", 8443),
                         testing::sock(12, Proto::tcp, "::", 8080)},
                        {{100, 6, 10, true}, {100, 7, 11, true}, {1, 30, 12, false}});
  auto by_inode = [&](uint64_t inode) {
    for (const Socket& s : snap.sockets()) {
      if (s.inode == inode) return &s;
    }
    return static_cast<const Socket*>(nullptr);
  };
  FreePlan plan;
  plan.targets.push_back({100, 4242, {by_inode(10)}, {by_inode(11)}, 3});
  plan.targets.push_back({555, 0, {}, {}, 0});  // gone from the snapshot
  plan.blockers.push_back(
      {by_inode(12), "held by PID 1 (socket activation)", "systemctl stop web.socket"});
  plan.blockers.push_back({by_inode(12), "no command", ""});
  plan.time_wait.push_back(by_inode(0));

  json doc = json::parse(free_plan_json(snap, plan));
  ASSERT_EQ(doc["targets"].size(), 2u);
  const json& t = doc["targets"][0];
  EXPECT_EQ(t["pid"], 100);
  EXPECT_EQ(t["comm"], "nginx");
  EXPECT_EQ(t["cmdline"], "nginx -g daemon off;");
  EXPECT_EQ(t["user"], "root");
  EXPECT_EQ(t["start_time"], 4242);
  EXPECT_EQ(t["children"], 3);
  ASSERT_EQ(t["frees"].size(), 1u);
  EXPECT_EQ(t["frees"][0], json({{"inode", 10},
                                 {"proto", "tcp"},
                                 {"state", "LISTEN"},
                                 {"local_address", "0.0.0.0"},
                                 {"local_port", 8080},
                                 {"remote_address", "0.0.0.0"},
                                 {"remote_port", 0},
                                 {"netns", testing::kHostNs}}));
  EXPECT_EQ(t["also_holds"][0]["local_port"], 8443);
  EXPECT_TRUE(doc["targets"][1]["comm"].is_null());
  EXPECT_TRUE(doc["targets"][1]["user"].is_null());
  ASSERT_EQ(doc["blockers"].size(), 2u);
  EXPECT_EQ(doc["blockers"][0]["socket"]["local_address"], "::");
  EXPECT_EQ(doc["blockers"][0]["why"], "held by PID 1 (socket activation)");
  EXPECT_EQ(doc["blockers"][0]["command"], "systemctl stop web.socket");
  EXPECT_TRUE(doc["blockers"][1]["command"].is_null());
  EXPECT_EQ(doc["connections"], json::array());
  ASSERT_EQ(doc["time_wait"].size(), 1u);
  EXPECT_EQ(doc["time_wait"][0]["state"], "TIME_WAIT");
  EXPECT_EQ(doc["time_wait"][0]["remote_port"], 40000);
}

}  // namespace
}  // namespace portrel
