// A /run/netns namespace (what `ip netns add` makes) is found, entered and
// labelled by its name; --netns selects it by name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../cli/run.h"
#include "output/columns.h"
#include "shell.h"
#include "truth.h"

namespace portrel::testing {
namespace {

constexpr const char* kPythonListener =
    "python3 -c 'import socket,time\n"
    "s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen()\n"
    "print(s.getsockname()[1], flush=True); time.sleep(120)'";

TEST(NamedNetns, SocketIsFoundAndLabelled) {
  NamedNetns ns("portrel-live-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  Background server("ip netns exec " + ns.name() + " " + kPythonListener);
  ASSERT_FALSE(server.line().empty()) << "python listener did not start";
  int port = std::stoi(server.line());

  Snapshot snap = capture_all();
  const Socket* found = nullptr;
  for (const Socket& s : snap.sockets()) {
    if (s.local_port == static_cast<uint32_t>(port) && s.proto == Proto::tcp &&
        netns_label(snap, s.netns) == ns.name()) {
      found = &s;
    }
  }
  ASSERT_NE(found, nullptr) << "no tcp socket on port " << port << " in netns "
                            << ns.name();
  auto holders = snap.holders(found->inode);
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[0].pid, server.pid());

  CliRun r = run_portrel({"--netns", ns.name(), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["sockets"].size(), 1u) << r.out;
  EXPECT_EQ(doc["sockets"][0]["netns_name"], ns.name());
  EXPECT_EQ(doc["sockets"][0]["local_port"], port);
  EXPECT_EQ(doc["sockets"][0]["holders"][0]["pid"], server.pid());
}

}  // namespace
}  // namespace portrel::testing
