// The protocols beyond TCP and UDP, each with real sockets in a namespace the
// test makes: MPTCP where the kernel has it (a listener and a connection: each
// shown once, as MPTCP, its TCP subflow folded in), ICMP ping sockets (no
// sock_diag handler exists: read from /proc/net/icmp), RAW sockets
// (raw_diag, or /proc/net/raw on a kernel without it, as this machine kind is
// built) and vsock (vsock_diag, or the bpf fd walk on a kernel without it);
// SCTP and DCCP where the kernel has them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <map>
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

// What `doctor --format json` says of a sock_diag family: whether it dumps.
bool diag_dumps(const std::string& family) {
  CliRun doctor = run_portrel({"doctor", "--format", "json"});
  nlohmann::json report = nlohmann::json::parse(doctor.out);
  for (const auto& f : report["sock_diag"]) {
    if (f["family"] == family) return f["available"].get<bool>();
  }
  return false;
}

// The command of a python holder in namespace NS: FIRST makes the protocol's
// first socket (an OSError there means the kernel has none of them), REST the
// others. Its first line is its pid, or "no NAME: why".
std::string holder_command(const std::string& ns, const std::string& name,
                           const std::string& first, const std::string& rest) {
  return "ip netns exec " + ns + " python3 -c 'import os,socket,time\ntry:\n" + first +
         "except OSError as e:\n  print(\"no " + name +
         ":\", e, flush=True); time.sleep(120)\n" + rest +
         "print(os.getpid(), flush=True); time.sleep(120)'";
}

// Whether HOLDER found no NAME in this kernel; then, that a kernel without it
// has none of its sockets: nothing listed by SELECTOR, nothing warned about.
bool kernel_lacks(const std::string& ns, const Background& holder, const std::string& name,
                  const std::string& selector) {
  if (!holder.line().starts_with("no " + name)) return false;
  std::cout << "[ NOTE     ] " << holder.line() << ": checking that nothing is claimed\n";
  CliRun none = in_netns(ns, {selector, "-a"});
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_EQ(none.err.find("warning"), std::string::npos) << none.err;
  return true;
}

TEST(Protocols, VsockListenersShowWithTheirHoldersWithOrWithoutVsockDiag) {
  NamedNetns ns("portrel-vsock-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  // vsock's ports are 32 bits and its bind table is the machine's, not the
  // namespace's: a port past 65535, different for each run.
  uint32_t port = 70000 + static_cast<uint32_t>(getpid() % 20000);
  std::string text_port = std::to_string(port);
  Background holder(holder_command(ns.name(), "vsock",
                                   "  l=socket.socket(socket.AF_VSOCK,socket.SOCK_STREAM)\n"
                                   "  l.bind((socket.VMADDR_CID_ANY," + text_port +
                                       ")); l.listen()\n",
                                   ""));
  ASSERT_FALSE(holder.line().empty()) << "python holder did not start";
  if (kernel_lacks(ns.name(), holder, "vsock", "--vsock")) return;
  int pid = std::stoi(holder.line());
  bool vsock_diag = diag_dumps("vsock");
  std::cout << "[ NOTE     ] vsock_diag " << (vsock_diag ? "dumps" : "is missing") << "\n";

  // The default source: vsock_diag, or (without it) the bpf fd walk. Without
  // either (bpf refused), the answer must say it is partial.
  CliRun listed = in_netns(ns.name(), {"--vsock", "--format", "json"});
  if (listed.exit_code == 4) {
    ASSERT_FALSE(vsock_diag) << listed.err;
    EXPECT_NE(listed.err.find("vsock sockets could not be listed"), std::string::npos)
        << listed.err;
    FAIL() << "no vsock_diag and no bpf fd walk: the listener cannot be seen here";
  }
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  nlohmann::json document = nlohmann::json::parse(listed.out);
  auto sockets = document["sockets"];
  ASSERT_EQ(sockets.size(), 1u) << listed.out;
  EXPECT_EQ(sockets[0]["proto"], "vsock");
  EXPECT_EQ(sockets[0]["state"], "LISTEN");
  EXPECT_EQ(sockets[0]["local_address"], "*");
  EXPECT_EQ(sockets[0]["local_port"], port);
  ASSERT_EQ(sockets[0]["holders"].size(), 1u) << listed.out;
  EXPECT_EQ(sockets[0]["holders"][0]["pid"], pid);
  if (!vsock_diag) {
    EXPECT_NE(document["warnings"].dump().find("no vsock_diag"), std::string::npos)
        << listed.out;
  }

  // who, with a 32-bit port; the default view; -4 keeps IP only.
  CliRun who = in_netns(ns.name(), {"who", "vsock/" + text_port});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find("vsock  *:" + text_port), std::string::npos) << who.out;
  EXPECT_EQ(in_netns(ns.name(), {"who", "vsock/2:" + text_port}).exit_code, 0)
      << "a listener on CID any receives for CID 2";
  EXPECT_EQ(in_netns(ns.name(), {"who", "vsock/" + std::to_string(port + 1)}).exit_code, 1);
  CliRun plain = in_netns(ns.name(), {});
  EXPECT_NE(plain.out.find("*:" + text_port), std::string::npos) << plain.out;
  EXPECT_EQ(in_netns(ns.name(), {"-4", "--format", "json"}).out.find(text_port),
            std::string::npos);
  CliRun of = in_netns(ns.name(), {"of", std::to_string(pid)});
  EXPECT_NE(of.out.find("*:" + text_port), std::string::npos) << of.out;

  // /proc alone: listed by vsock_diag, or said to be missing (exit 4), never
  // "nothing there".
  CliRun procfs = in_netns(ns.name(), {"--vsock", "--source", "procfs", "--format", "json"});
  if (vsock_diag) {
    ASSERT_EQ(procfs.exit_code, 0) << procfs.err;
    EXPECT_EQ(nlohmann::json::parse(procfs.out)["sockets"].size(), 1u) << procfs.out;
  } else {
    EXPECT_EQ(procfs.exit_code, 4) << procfs.out << procfs.err;
    EXPECT_NE(procfs.err.find("vsock sockets could not be listed"), std::string::npos)
        << procfs.err;
  }
}

TEST(Protocols, SctpSocketsShowOnceEachWhereTheKernelHasSctp) {
  NamedNetns ns("portrel-sctp-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  ASSERT_EQ(sh("ip -n " + ns.name() + " link set lo up"), 0);
  // A one-to-one listener with an accepted connection, and a one-to-many
  // socket listening: four sockets, each one row (not one per association).
  Background holder(holder_command(
      ns.name(), "sctp",
      "  l=socket.socket(socket.AF_INET,socket.SOCK_STREAM,socket.IPPROTO_SCTP)\n",
      "l.bind((\"127.0.0.1\",7401)); l.listen()\n"
      "c=socket.socket(socket.AF_INET,socket.SOCK_STREAM,socket.IPPROTO_SCTP)\n"
      "c.connect((\"127.0.0.1\",7401)); a,_=l.accept()\n"
      "m=socket.socket(socket.AF_INET6,socket.SOCK_SEQPACKET,socket.IPPROTO_SCTP)\n"
      "m.bind((\"::\",7402)); m.listen()\n"));
  ASSERT_FALSE(holder.line().empty()) << "python holder did not start";
  if (kernel_lacks(ns.name(), holder, "sctp", "--sctp")) return;
  int pid = std::stoi(holder.line());
  if (!diag_dumps("sctp")) {
    CliRun m = in_netns(ns.name(), {"--sctp"});
    EXPECT_NE(m.err.find("sctp sockets not listed"), std::string::npos) << m.err;
    FAIL() << "SCTP without sctp_diag: its sockets cannot be listed here";
  }
  CliRun all = in_netns(ns.name(), {"--sctp", "-a", "--format", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto sockets = nlohmann::json::parse(all.out)["sockets"];
  ASSERT_EQ(sockets.size(), 4u) << all.out;
  std::map<std::string, int> states;
  for (const auto& s : sockets) {
    EXPECT_EQ(s["proto"], "sctp");
    ++states[s["state"].get<std::string>()];
    ASSERT_EQ(s["holders"].size(), 1u) << s;
    EXPECT_EQ(s["holders"][0]["pid"], pid);
  }
  EXPECT_EQ(states["LISTEN"], 2) << all.out;
  EXPECT_EQ(states["ESTABLISHED"], 2) << all.out;

  // Listeners only by default; who and the port spec know the protocol.
  CliRun listening = in_netns(ns.name(), {"--sctp", "--format", "json"});
  ASSERT_EQ(listening.exit_code, 0) << listening.err;
  EXPECT_EQ(nlohmann::json::parse(listening.out)["sockets"].size(), 2u) << listening.out;
  CliRun who = in_netns(ns.name(), {"who", "sctp/7401"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find("127.0.0.1:7401"), std::string::npos) << who.out;
  CliRun plain = in_netns(ns.name(), {});
  EXPECT_NE(plain.out.find("sctp   [::]:7402"), std::string::npos) << plain.out;
  EXPECT_EQ(in_netns(ns.name(), {"who", "tcp/7401"}).exit_code, 1);
}

TEST(Protocols, DccpSocketsShowWithTheirHoldersWhereTheKernelHasDccp) {
  NamedNetns ns("portrel-dccp-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  ASSERT_EQ(sh("ip -n " + ns.name() + " link set lo up"), 0);
  // A listener and one connection to it (SOCK_DCCP 6, IPPROTO_DCCP 33):
  // three sockets. Linux 6.16 removed DCCP; Debian's 6.1 and 6.12 have it.
  Background holder(holder_command(ns.name(), "dccp", "  l=socket.socket(socket.AF_INET,6,33)\n",
                                   "l.bind((\"127.0.0.1\",7501)); l.listen()\n"
                                   "c=socket.socket(socket.AF_INET,6,33)\n"
                                   "c.connect((\"127.0.0.1\",7501)); a,_=l.accept()\n"));
  ASSERT_FALSE(holder.line().empty()) << "python holder did not start";
  if (kernel_lacks(ns.name(), holder, "dccp", "--dccp")) return;
  int pid = std::stoi(holder.line());
  if (!diag_dumps("dccp")) {
    // DCCP without dccp_diag: said, and the answer is partial, not "nothing".
    std::cout << "[ NOTE     ] dccp_diag is missing: checking the partial answer\n";
    CliRun m = in_netns(ns.name(), {"--dccp"});
    EXPECT_NE(m.err.find("dccp sockets not listed"), std::string::npos) << m.err;
    EXPECT_EQ(m.exit_code, 4) << m.out << m.err;
    return;
  }
  CliRun all = in_netns(ns.name(), {"--dccp", "-a", "--format", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto sockets = nlohmann::json::parse(all.out)["sockets"];
  ASSERT_EQ(sockets.size(), 3u) << all.out;
  std::map<std::string, int> states;
  for (const auto& s : sockets) {
    EXPECT_EQ(s["proto"], "dccp");
    ++states[s["state"].get<std::string>()];
    ASSERT_EQ(s["holders"].size(), 1u) << s;
    EXPECT_EQ(s["holders"][0]["pid"], pid);
  }
  // The client stays in PARTOPEN until the server sends it something.
  EXPECT_EQ(states["LISTEN"], 1) << all.out;
  EXPECT_EQ(states["ESTABLISHED"] + states["PARTOPEN"], 2) << all.out;
  EXPECT_GE(states["ESTABLISHED"], 1) << all.out;
  CliRun who = in_netns(ns.name(), {"who", "dccp/7501"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find("127.0.0.1:7501"), std::string::npos) << who.out;
  CliRun plain = in_netns(ns.name(), {});
  EXPECT_NE(plain.out.find("dccp   127.0.0.1:7501"), std::string::npos) << plain.out;
  EXPECT_EQ(in_netns(ns.name(), {"who", "tcp/7501"}).exit_code, 1);
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
