// Ports published by a forwarding rule, as a user meets them: in namespaces the
// test makes, an nftables REDIRECT to a local listener, and a DNAT to another
// namespace (joined by a veth pair) where nothing holds the host port at all.
// `who` follows each rule to what listens at its far end. No packet is sent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

// A listener in namespace NS on ADDRESS:PORT that prints its pid when ready.
std::string listener(const std::string& ns, const std::string& address, int port) {
  return "ip netns exec " + ns +
         " python3 -c 'import os,socket,time\n"
         "s=socket.socket(); s.bind((\"" + address + "\"," + std::to_string(port) +
         ")); s.listen()\n"
         "print(os.getpid(), flush=True); time.sleep(120)'";
}

// A nat table with one chain on HOOK holding RULE, in namespace NS.
bool nft_in(const std::string& ns, const std::string& hook, const std::string& rule) {
  std::string nft = "ip netns exec " + ns + " nft ";
  return sh(nft + "add table ip nat && " + nft + "'add chain ip nat c { type nat hook " + hook +
            " priority -100; }' && " + nft + "add rule ip nat c " + rule) == 0;
}

TEST(Forwards, RedirectedPortIsAnsweredByWhatListensAtItsTarget) {
  NamedNetns ns("portrel-redir-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  ASSERT_EQ(sh("ip -n " + ns.name() + " link set lo up"), 0);
  ASSERT_TRUE(nft_in(ns.name(), "output", "tcp dport 7001 redirect to :7000"))
      << "nft could not load a rule: nftables (nf_tables, nft_redir) missing";
  Background server(listener(ns.name(), "127.0.0.1", 7000));
  ASSERT_FALSE(server.line().empty()) << "python listener did not start";

  CliRun r = run_program({"/usr/sbin/ip", "netns", "exec", ns.name(), PORTREL_BINARY, "who", "7001"},
                  {"NO_COLOR=1"});
  // Nothing holds 7001, yet the port is in use: found, not "nothing there".
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("port 7001: redirected to port 7000 of this host by an nftables rule "
                       "(ip nat c), where python3 " + server.line() + " listens"),
            std::string::npos)
      << r.out << r.err;

  CliRun json = run_program({"/usr/sbin/ip", "netns", "exec", ns.name(), PORTREL_BINARY, "who",
                             "tcp/7001", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out);
  EXPECT_TRUE(doc["sockets"].empty());
  ASSERT_EQ(doc["published"].size(), 1u) << json.out;
  EXPECT_EQ(doc["published"][0]["redirect"], true);
  EXPECT_EQ(doc["published"][0]["to_port"], 7000);
  ASSERT_EQ(doc["published"][0]["listeners"].size(), 1u);
  EXPECT_EQ(doc["published"][0]["listeners"][0]["pids"][0], std::stoi(server.line()));

  // udp/7001 is not redirected: nothing there, said so.
  CliRun udp = run_program({"/usr/sbin/ip", "netns", "exec", ns.name(), PORTREL_BINARY, "who",
                            "udp/7001"});
  EXPECT_EQ(udp.exit_code, 1) << udp.out << udp.err;
}

TEST(Forwards, DnatToAnotherNamespaceIsFollowedThere) {
  std::string tag = std::to_string(getpid());
  NamedNetns front("portrel-front-" + tag), back("portrel-back-" + tag);
  ASSERT_TRUE(front.ok() && back.ok()) << "ip netns add failed: this test needs root";
  std::string veth = "prf" + tag.substr(tag.size() > 8 ? tag.size() - 8 : 0);
  ASSERT_EQ(sh("ip -n " + front.name() + " link add " + veth + "a type veth peer name " + veth +
               "b netns " + back.name() + " && ip -n " + front.name() + " addr add 10.203.0.1/24 dev " +
               veth + "a && ip -n " + back.name() + " addr add 10.203.0.2/24 dev " + veth +
               "b && ip -n " + front.name() + " link set " + veth + "a up && ip -n " +
               back.name() + " link set " + veth + "b up"),
            0)
      << "veth pair between the test's namespaces could not be made";
  ASSERT_TRUE(nft_in(front.name(), "prerouting",
                     "ip daddr 10.203.0.1 tcp dport 7100 dnat to 10.203.0.2:80"));
  Background server(listener(back.name(), "0.0.0.0", 80));
  ASSERT_FALSE(server.line().empty()) << "python listener did not start";

  CliRun r = run_program({"/usr/sbin/ip", "netns", "exec", front.name(), PORTREL_BINARY, "who",
                          "7100"},
                         {"NO_COLOR=1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("port 7100: published to netns " + back.name() +
                       ":80 by an nftables rule (ip nat c), 10.203.0.1:7100 → "
                       "10.203.0.2:80, where python3 " + server.line() + " listens"),
            std::string::npos)
      << r.out << r.err;
  // The rule names its address: another address of the port is not covered.
  CliRun other = run_program({"/usr/sbin/ip", "netns", "exec", front.name(), PORTREL_BINARY,
                              "who", "127.0.0.1:7100"});
  EXPECT_EQ(other.exit_code, 1) << other.out << other.err;
}

}  // namespace
}  // namespace portrel::testing
