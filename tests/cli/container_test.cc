// Containers as a user meets them: a real Podman container (Debian's podman
// with runc: crun refuses this machine kind's hybrid cgroups) run from a local
// directory holding busybox (no image is pulled), its port published on
// loopback. podman's conmon holds the host port; the container's own socket is
// in the container's network namespace. No traffic is sent: portrel inspects,
// it does not connect.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

// A container started by the test and removed by its name, whatever happens.
class Container {
 public:
  Container(std::string name, const std::string& rootfs, uint16_t host_port)
      : name_(std::move(name)) {
    sh("podman rm -f " + name_ + " >/dev/null 2>&1");
    ok_ = sh("podman --runtime runc run -d --ulimit nofile=1024:1024 --ulimit "
             "nproc=1024:1024 --name " + name_ + " -p 127.0.0.1:" +
             std::to_string(host_port) + ":80 --rootfs " + rootfs +
             " /bin/busybox httpd -f -p 80 >/dev/null") == 0;
  }
  ~Container() { sh("podman rm -f -t 0 " + name_ + " >/dev/null 2>&1"); }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

bool have(const std::string& program) {
  return sh("command -v " + program + " >/dev/null 2>&1") == 0;
}

TEST(Podman, NamesTheContainerBehindAPublishedPortAndItsOwnSockets) {
  ASSERT_EQ(geteuid(), 0u) << "running a rootful Podman container needs root";
  ASSERT_TRUE(have("podman") && have("runc"))
      << "podman and runc are not installed: scripts/deps.sh installs them";
  ScratchDir root;
  ASSERT_FALSE(root.path().empty());
  std::filesystem::create_directories(root.path() + "/bin");
  ASSERT_EQ(sh("cp /bin/busybox " + root.path() + "/bin/busybox"), 0)
      << "busybox-static is not installed: scripts/deps.sh installs it";
  uint16_t port = free_loopback_port();
  Container web("portrel-test-web-" + std::to_string(getpid()), root.path(), port);
  ASSERT_TRUE(web.ok()) << "podman run failed";

  // The host port: held by conmon, the container's monitor, named after it.
  CliRun who = run_portrel({"who", std::to_string(port), "--format", "json"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  auto doc = nlohmann::json::parse(who.out);
  ASSERT_EQ(doc["sockets"].size(), 1u) << who.out;
  ASSERT_EQ(doc["sockets"][0]["holders"].size(), 1u) << who.out;
  const auto& conmon = doc["sockets"][0]["holders"][0];
  EXPECT_EQ(conmon["comm"], "conmon");
  EXPECT_EQ(conmon["workload"], "container-monitor");
  EXPECT_EQ(conmon["runtime"], "podman");
  EXPECT_EQ(conmon["container_name"], web.name());
  ASSERT_TRUE(conmon["container_id"].is_string());
  std::string id = conmon["container_id"];
  EXPECT_EQ(id.size(), 64u);
  CliRun table = run_portrel({"who", std::to_string(port)}, {"NO_COLOR=1"});
  EXPECT_NE(table.out.find("CONTAINER"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("podman " + web.name() + " (monitor)"), std::string::npos)
      << table.out;
  // The rule that publishes it (netavark's iptables-nft DNAT), followed into the
  // container: the busybox listener on its port 80.
  EXPECT_NE(table.out.find("port " + std::to_string(port) + ": published to podman container " +
                           web.name() + ":80 by an nftables rule (ip nat NETAVARK-DN-"),
            std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("where busybox "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("port " + std::to_string(port) + ": held for podman container " +
                           web.name() + " by its monitor conmon"),
            std::string::npos)
      << table.out;
  ASSERT_EQ(doc["published"].size(), 1u) << who.out;
  const auto& published = doc["published"][0];
  EXPECT_EQ(published["to_port"], 80);
  EXPECT_EQ(published["address"], "127.0.0.1");
  EXPECT_EQ(published["rule"]["iptables_nft"], true);
  EXPECT_EQ(published["netns_name"], "podman " + web.name());
  ASSERT_EQ(published["listeners"].size(), 1u) << who.out;
  EXPECT_EQ(published["listeners"][0]["pids"].size(), 1u) << who.out;

  // The default view names the container beside its sockets too.
  CliRun view = run_portrel({}, {"NO_COLOR=1"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  EXPECT_NE(view.out.find("CONTAINER"), std::string::npos) << view.out;
  EXPECT_NE(view.out.find("podman " + web.name() + " (monitor)"), std::string::npos) << view.out;
  // and names the container's network namespace after it, in NETNS and --netns.
  bool named = false;
  for (size_t at = 0, end; at < view.out.size(); at = end + 1) {
    end = view.out.find('\n', at);
    if (end == std::string::npos) end = view.out.size();
    std::string line = view.out.substr(at, end - at);
    if (line.find("[::]:80 ") == std::string::npos || line.find("busybox") == std::string::npos) {
      continue;
    }
    size_t first = line.find("podman " + web.name());
    named = first != std::string::npos &&
            line.find("podman " + web.name(), first + 1) != std::string::npos;
  }
  EXPECT_TRUE(named) << "the container's listener line names it in NETNS and CONTAINER: "
                     << view.out;
  CliRun by_netns = run_portrel({"--netns", "container:" + web.name(), "--format", "json"});
  ASSERT_EQ(by_netns.exit_code, 0) << by_netns.err;
  auto in_netns = nlohmann::json::parse(by_netns.out)["sockets"];
  ASSERT_EQ(in_netns.size(), 1u) << by_netns.out;
  EXPECT_EQ(in_netns[0]["local_port"], 80);
  EXPECT_EQ(in_netns[0]["netns_name"], "podman " + web.name());

  // The container's own listener, in its network namespace, by name and by id.
  for (const std::string& what : {web.name(), id.substr(0, 12)}) {
    CliRun of = run_portrel({"of", "container:" + what, "--format", "json"});
    ASSERT_EQ(of.exit_code, 0) << what << ": " << of.err;
    auto sockets = nlohmann::json::parse(of.out)["sockets"];
    bool inside = false;
    for (const auto& s : sockets) {
      for (const auto& h : s["holders"]) {
        if (s["local_port"] == 80 && s["netns_name"] != "host" && h["comm"] == "busybox") {
          inside = true;
          EXPECT_EQ(h["workload"], "container");
          EXPECT_EQ(h["container_name"], web.name());
          EXPECT_EQ(h["container_id"], id);
        }
      }
    }
    EXPECT_TRUE(inside) << "no busybox listener on port 80 in the container's netns: "
                        << of.out;
  }
  // --container filters every command; a name nobody has finds nothing.
  CliRun listing = run_portrel({"--container", web.name(), "--format", "json"});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  std::set<int> ports;
  nlohmann::json listed = nlohmann::json::parse(listing.out);
  for (const auto& s : listed["sockets"]) {
    ports.insert(s["local_port"].get<int>());
  }
  EXPECT_EQ(ports, (std::set<int>{port, 80})) << listing.out;
  EXPECT_EQ(run_portrel({"--container", "no-such-container-" + web.name()}).exit_code, 1);

  // Stopped while portrel captures: every answer is whole or empty, never a crash.
  std::thread stopper([&] { sh("podman stop -t 0 " + web.name() + " >/dev/null 2>&1"); });
  std::vector<CliRun> runs;
  for (int i = 0; i < 6; ++i) {
    runs.push_back(run_portrel({"--container", web.name(), "--format", "json"}));
  }
  stopper.join();
  for (const CliRun& r : runs) {
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.exit_code << " " << r.err;
    if (r.exit_code == 0) {
      EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;
    }
  }
  CliRun after = run_portrel({"who", std::to_string(port)});
  EXPECT_EQ(after.exit_code, 1) << "the stopped container's port is still held: " << after.out;
}

}  // namespace
}  // namespace portrel::testing
