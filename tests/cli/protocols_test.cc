// The protocols beyond TCP and UDP, each with real sockets in a namespace the
// test makes: MPTCP where the kernel has it (a listener and a connection: each
// shown once, as MPTCP, its TCP subflow folded in), ICMP ping sockets (no
// sock_diag handler exists: read from /proc/net/icmp) and RAW sockets
// (raw_diag, or /proc/net/raw on a kernel without it, as this machine kind is
// built).
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

CliRun in_netns(const std::string& ns, std::vector<std::string> args) {
  // Its own namespace only (portrel calls it "host"): the rest of the machine
  // may hold sockets of these protocols too.
  args.insert(args.begin(),
              {"/usr/sbin/ip", "netns", "exec", ns, PORTREL_BINARY, "--netns", "host"});
  return run_program(args, {"NO_COLOR=1"});
}

void check_mptcp(const std::string& ns_name, int pid, bool mptcp) {
  if (!mptcp) return;
  // MPTCP: the listener and both ends of the connection, once each; on a
  // kernel without mptcp_diag, a warning says they cannot be listed and the
  // subflows show as the TCP sockets they are.
  CliRun doctor = run_portrel({"doctor", "--format", "json"});
  bool mptcp_diag = false;
  nlohmann::json report = nlohmann::json::parse(doctor.out);
  for (const auto& f : report["sock_diag"]) {
    if (f["family"] == "mptcp") mptcp_diag = f["available"].get<bool>();
  }
  CliRun m = in_netns(ns_name, {"--mptcp", "-a", "--format", "json"});
  if (!mptcp_diag) {
    EXPECT_NE(m.err.find("mptcp sockets not listed"), std::string::npos) << m.err;
    CliRun tcp = in_netns(ns_name, {"-t", "-a", "--format", "json"});
    ASSERT_EQ(tcp.exit_code, 0) << tcp.err;
    EXPECT_EQ(nlohmann::json::parse(tcp.out)["sockets"].size(), 3u) << tcp.out;
    return;
  }
  ASSERT_EQ(m.exit_code, 0) << m.err;
  auto sockets = nlohmann::json::parse(m.out)["sockets"];
  ASSERT_EQ(sockets.size(), 3u) << m.out;
  for (const auto& s : sockets) {
    EXPECT_EQ(s["proto"], "mptcp");
    EXPECT_EQ(s["subflows"], 1) << s;
    ASSERT_EQ(s["holders"].size(), 1u) << s;
    EXPECT_EQ(s["holders"][0]["pid"], pid);
  }
  // No TCP row repeats them: the subflows are folded into their MPTCP socket.
  CliRun all = in_netns(ns_name, {"-a", "--format", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  nlohmann::json every = nlohmann::json::parse(all.out);
  for (const auto& s : every["sockets"]) {
    EXPECT_NE(s["proto"], "tcp") << "a subflow listed apart: " << s;
  }
  CliRun who = in_netns(ns_name, {"who", "mptcp/7301"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find("mptcp  127.0.0.1:7301"), std::string::npos) << who.out;

}

void check_ping_and_raw(const std::string& ns_name, int pid) {
  // Ping: no diag handler exists for it; ss cannot list it.
  CliRun icmp = in_netns(ns_name, {"--icmp", "--format", "json"});
  ASSERT_EQ(icmp.exit_code, 0) << icmp.err;
  auto pings = nlohmann::json::parse(icmp.out)["sockets"];
  ASSERT_EQ(pings.size(), 1u) << icmp.out;
  EXPECT_EQ(pings[0]["proto"], "icmp");
  EXPECT_EQ(pings[0]["local_port"], 4242);
  EXPECT_EQ(pings[0]["holders"][0]["pid"], pid);
  EXPECT_EQ(in_netns(ns_name, {"who", "icmp/4242"}).exit_code, 0);
  // ICMP is not in the default view: ping identifiers are not ports.
  EXPECT_EQ(in_netns(ns_name, {"who", "4242"}).exit_code, 1);

  // RAW: the IP protocol number as its port, with its holder.
  CliRun raw = in_netns(ns_name, {"-w", "--format", "json"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  auto raws = nlohmann::json::parse(raw.out)["sockets"];
  ASSERT_EQ(raws.size(), 1u) << raw.out;
  EXPECT_EQ(raws[0]["local_port"], 1);
  EXPECT_EQ(raws[0]["holders"][0]["pid"], pid);
  // and why-busy refuses what has no port to bind.
  CliRun busy = run_portrel({"why-busy", "icmp", "127.0.0.1:4242"});
  EXPECT_EQ(busy.exit_code, 2) << busy.out << busy.err;
  EXPECT_NE(busy.err.find("expected tcp, udp or udplite"), std::string::npos) << busy.err;
}

TEST(Protocols, MptcpPingAndRawSocketsShowWithTheirHolders) {
  NamedNetns ns("portrel-proto-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  ASSERT_EQ(sh("ip -n " + ns.name() + " link set lo up"), 0);
  bool mptcp = sh("test -d /proc/sys/net/mptcp") == 0;
  bool ping = sh("ip netns exec " + ns.name() +
                 " sysctl -qw net.ipv4.ping_group_range='0 0'") == 0;
  ASSERT_TRUE(ping) << "ping sockets cannot be allowed (net.ipv4.ping_group_range)";
  std::string mptcp_sockets =
      mptcp ? "l=socket.socket(socket.AF_INET,socket.SOCK_STREAM,262); "
              "l.bind((\"127.0.0.1\",7301)); l.listen()\n"
              "c=socket.socket(socket.AF_INET,socket.SOCK_STREAM,262); "
              "c.connect((\"127.0.0.1\",7301)); a,_=l.accept()\n"
            : "";
  Background holder("ip netns exec " + ns.name() +
                    " python3 -c 'import os,socket,time\n" + mptcp_sockets +
                    "p=socket.socket(socket.AF_INET,socket.SOCK_DGRAM,socket.IPPROTO_ICMP); "
                    "p.bind((\"127.0.0.1\",4242))\n"
                    "r=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)\n"
                    "print(os.getpid(), flush=True); time.sleep(120)'");
  ASSERT_FALSE(holder.line().empty()) << "python holder did not start";
  int pid = std::stoi(holder.line());

  if (!mptcp) {
    // A kernel built without MPTCP has none of its sockets: nothing to dump,
    // and nothing to warn about.
    CliRun none = in_netns(ns.name(), {"--mptcp", "-a"});
    EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
    EXPECT_EQ(none.err.find("mptcp sockets not listed"), std::string::npos) << none.err;
  }
  check_mptcp(ns.name(), pid, mptcp);
  check_ping_and_raw(ns.name(), pid);
}

}  // namespace
}  // namespace portrel::testing
