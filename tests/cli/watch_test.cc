// `portrel watch` against real processes: a Python listener that forks a child
// which exits, then exits itself. Every change must be printed, in order, with
// the pids the processes reported, and the holders watch names must be those a
// capture taken at the same time (`who`) shows.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

// `portrel watch --verbose --format json --no-initial ARGS` in the background,
// its output in OUT and its stderr in ERR; returns once it says it is watching.
std::unique_ptr<Background> start_watch(const std::string& args, const std::string& out,
                                        const std::string& err) {
  auto watch = std::make_unique<Background>(
      "sh -c 'echo started; exec " + std::string(PORTREL_BINARY) +
      " watch --verbose --format json --no-initial " + args + " >" + out + " 2>" + err + "'");
  EXPECT_EQ(watch->line(), "started");
  EXPECT_TRUE(wait_for(err, "watching", 20)) << read_text(err);
  return watch;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// The index of the first event of KIND (with HOW, PID when given) from FROM on.
size_t find_event(const std::vector<nlohmann::json>& events, const std::string& kind,
                  size_t from, int pid = 0, const std::string& how = "") {
  for (size_t i = from; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e["event"] != kind) continue;
    if (!how.empty() && e.value("how", "") != how) continue;
    if (pid != 0 && (e["holders"].empty() || e["holders"][0]["pid"] != pid)) continue;
    return i;
  }
  return events.size();
}

TEST(Watch, PrintsAPortOpenedAForkAnExitAndTheClose) {
  ASSERT_EQ(geteuid(), 0u) << "watch reads every process's fd table: it needs root";
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  uint16_t port = free_loopback_port();
  std::string out = dir.path() + "/out", err = dir.path() + "/err";
  auto watch = start_watch("--interval 0.3 " + std::to_string(port), out, err);

  Background server(
      "python3 -c 'import os, socket, sys, time\n"
      "s = socket.socket(); s.bind((\"127.0.0.1\", " + std::to_string(port) + ")); s.listen()\n"
      "time.sleep(0.6)\n"
      "child = os.fork()\n"
      "if child == 0:\n"
      "    time.sleep(2.0); os._exit(0)\n"
      "print(os.getpid(), child, flush=True)\n"
      "os.waitpid(child, 0)\n"
      "time.sleep(1.0)\n'");
  std::istringstream pids(server.line());
  int parent = 0, child = 0;
  pids >> parent >> child;
  ASSERT_GT(parent, 0) << server.line();
  ASSERT_GT(child, 0) << server.line();

  // A capture while both hold the port.
  CliRun who = run_portrel({"who", std::to_string(port), "--format", "json"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  std::set<int> captured;
  nlohmann::json who_doc = nlohmann::json::parse(who.out);
  for (const auto& s : who_doc["sockets"]) {
    for (const auto& h : s["holders"]) captured.insert(h["pid"].get<int>());
  }
  EXPECT_EQ(captured, (std::set<int>{parent, child})) << who.out;

  ASSERT_TRUE(wait_for(out, "port-closed", 15)) << read_text(out) << read_text(err);
  auto events = json_lines(read_text(out));
  size_t opened = find_event(events, "port-opened", 0, parent);
  size_t joined = find_event(events, "holder-joined", opened, child, "fork");
  size_t left = find_event(events, "holder-left", joined, child, "exited");
  size_t closed = find_event(events, "port-closed", left, parent);
  EXPECT_LT(opened, events.size()) << read_text(out);
  EXPECT_LT(joined, events.size()) << read_text(out);
  EXPECT_LT(left, events.size()) << read_text(out);
  EXPECT_LT(closed, events.size()) << read_text(out);
  // What watch said held the port while both lived is what `who` saw.
  std::set<int> watched;
  if (opened < events.size() && joined < events.size()) {
    for (const auto& h : events[opened]["holders"]) watched.insert(h["pid"].get<int>());
    watched.insert(events[joined]["holders"][0]["pid"].get<int>());
  }
  EXPECT_EQ(watched, captured);
  for (const auto& e : events) {
    EXPECT_EQ(e["port"], port) << e;
    EXPECT_TRUE(e.contains("time")) << e;
  }
  // Exactly one opening and one closing: no change printed twice.
  EXPECT_EQ(find_event(events, "port-opened", opened + 1), events.size()) << read_text(out);
  EXPECT_EQ(find_event(events, "port-closed", closed + 1), events.size()) << read_text(out);
}

// A process that was already running begins to listen, and later stops: no
// process event comes, and the tick is a minute away. The kernel's socket
// events (the listen tracepoint) make watch read at once; where they cannot be
// loaded, watch must say so, and then sees the port only at its tick.
TEST(Watch, SeesARunningProcessListenAndStopBeforeItsTick) {
  ASSERT_EQ(geteuid(), 0u) << "watch reads every process's fd table: it needs root";
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  uint16_t port = free_loopback_port();
  std::string out = dir.path() + "/out", err = dir.path() + "/err";
  auto watch = start_watch("--interval 60 " + std::to_string(port), out, err);
  if (read_text(err).find("no socket events") != std::string::npos) {
    // The fallback: said on stderr, with why.
    EXPECT_NE(read_text(err).find("seen at the next tick"), std::string::npos) << read_text(err);
    GTEST_SKIP() << "socket events could not be loaded here (said so): " << read_text(err);
  }
  EXPECT_NE(read_text(err).find("on socket events (listen"), std::string::npos)
      << read_text(err);
  // Long after its exec's follow-up reads (100 and 300 ms), it listens; then
  // it closes the listener and lives on.
  Background server("python3 -c 'import os, socket, time\n"
                    "print(os.getpid(), flush=True); time.sleep(2.0)\n"
                    "s = socket.socket(); s.bind((\"127.0.0.1\", " + std::to_string(port) +
                    ")); s.listen()\n"
                    "time.sleep(2.0); s.close(); time.sleep(30)\n'");
  int pid = std::stoi(server.line());
  // Well before the tick (60 s): the events brought the reads.
  ASSERT_TRUE(wait_for(out, "port-closed", 20)) << read_text(out) << read_text(err);
  auto events = json_lines(read_text(out));
  size_t opened = find_event(events, "port-opened", 0, pid);
  EXPECT_LT(opened, events.size()) << read_text(out);
  EXPECT_LT(find_event(events, "port-closed", opened), events.size()) << read_text(out);
}

// An audit finding appears with the listener that causes it (a wildcard
// address in the host's namespace: exposed) and clears when it closes.
TEST(Watch, SaysWhenAFindingAppearsAndClears) {
  ASSERT_EQ(geteuid(), 0u) << "watch reads every process's fd table: it needs root";
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  uint16_t port = free_loopback_port();
  std::string out = dir.path() + "/out", err = dir.path() + "/err";
  auto watch = start_watch("--interval 0.3 " + std::to_string(port), out, err);
  Background server("python3 -c 'import os, socket, time\n"
                    "s = socket.socket(); s.bind((\"0.0.0.0\", " + std::to_string(port) +
                    ")); s.listen()\n"
                    "print(os.getpid(), flush=True); time.sleep(1.5); s.close(); "
                    "time.sleep(30)\n'");
  ASSERT_TRUE(wait_for(out, "finding-cleared", 20)) << read_text(out) << read_text(err);
  auto events = json_lines(read_text(out));
  size_t appeared = events.size(), cleared = events.size();
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i]["event"] == "finding-appeared" && events[i]["kind"] == "exposed") appeared = i;
    if (events[i]["event"] == "finding-cleared" && events[i]["kind"] == "exposed") cleared = i;
  }
  ASSERT_LT(appeared, events.size()) << read_text(out);
  ASSERT_LT(cleared, events.size()) << read_text(out);
  EXPECT_LT(appeared, cleared);
  EXPECT_EQ(events[appeared]["port"], port);
  EXPECT_EQ(events[appeared]["pids"], nlohmann::json::array({std::stoi(server.line())}));
  EXPECT_NE(events[appeared]["summary"].get<std::string>().find(std::to_string(port)),
            std::string::npos);
}

// Churn: one running process opens 300 listeners, 100 a second, each living
// 300 ms, in a namespace of the test's own. Every one is printed opened once
// and closed once: no change missed, none printed twice. The socket events
// bring the reads (the tick is a minute away).
TEST(Watch, ChurnOfShortLivedListenersIsSeenWholeAndOnce) {
  ASSERT_EQ(geteuid(), 0u) << "watch reads every process's fd table: it needs root";
  NamedNetns ns("portrel-churn-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  ASSERT_EQ(sh("ip -n " + ns.name() + " link set lo up"), 0);
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string out = dir.path() + "/out", err = dir.path() + "/err";
  auto watch = start_watch("--interval 60 --netns " + ns.name(), out, err);
  if (read_text(err).find("no socket events") != std::string::npos) {
    EXPECT_NE(read_text(err).find("seen at the next tick"), std::string::npos) << read_text(err);
    GTEST_SKIP() << "socket events could not be loaded here (said so): " << read_text(err);
  }
  Background churn("ip netns exec " + ns.name() +
                   " python3 -c 'import os, socket, time\n"
                   "print(os.getpid(), flush=True); time.sleep(1.0)\n"
                   "live = []\n"
                   "start = time.time()\n"
                   "for i in range(300):\n"
                   "    while time.time() < start + i * 0.01: time.sleep(0.001)\n"
                   "    s = socket.socket(); s.bind((\"127.0.0.1\", 20000 + i)); s.listen()\n"
                   "    live.append((time.time() + 0.3, s))\n"
                   "    while live and live[0][0] <= time.time(): live.pop(0)[1].close()\n"
                   "while live:\n"
                   "    time.sleep(max(0, live[0][0] - time.time())); live.pop(0)[1].close()\n"
                   "time.sleep(30)\n'");
  ASSERT_FALSE(churn.line().empty());
  // The last listener closes about 4.3 s after the start.
  ASSERT_TRUE(wait_for(out, "\"port\":20299", 30)) << read_text(err);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::map<int, int> opened, closed;
  for (const auto& e : json_lines(read_text(out))) {
    if (e["event"] == "port-opened") ++opened[e["port"].get<int>()];
    if (e["event"] == "port-closed") ++closed[e["port"].get<int>()];
  }
  int missed = 0, twice = 0;
  for (int port = 20000; port < 20300; ++port) {
    if (opened[port] == 0 || closed[port] == 0) ++missed;
    if (opened[port] > 1 || closed[port] > 1) ++twice;
  }
  EXPECT_EQ(missed, 0) << "listeners not seen opened and closed, of 300";
  EXPECT_EQ(twice, 0) << "listeners printed twice, of 300";
}

// A holder runs another program and keeps the socket (no FD_CLOEXEC): one
// holder-exec line, naming the program before and the one after.
TEST(Watch, PrintsAnExecThatKeepsTheSocket) {
  ASSERT_EQ(geteuid(), 0u) << "watch reads every process's fd table: it needs root";
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  uint16_t port = free_loopback_port();
  std::string out = dir.path() + "/out", err = dir.path() + "/err";
  auto watch = start_watch("--interval 0.3 " + std::to_string(port), out, err);
  Background server("python3 -c 'import os, socket, time\n"
                    "s = socket.socket(); s.bind((\"127.0.0.1\", " + std::to_string(port) +
                    ")); s.listen(); s.set_inheritable(True)\n"
                    "print(os.getpid(), flush=True); time.sleep(1.0)\n"
                    "os.execv(\"/bin/sleep\", [\"sleep\", \"30\"])\n'");
  int pid = std::stoi(server.line());
  ASSERT_TRUE(wait_for(out, "holder-exec", 15)) << read_text(out) << read_text(err);
  auto events = json_lines(read_text(out));
  size_t opened = find_event(events, "port-opened", 0, pid);
  size_t exec = find_event(events, "holder-exec", opened, pid);
  ASSERT_LT(opened, events.size()) << read_text(out);
  ASSERT_LT(exec, events.size()) << read_text(out);
  EXPECT_EQ(events[exec]["old_comm"], "python3") << events[exec];
  EXPECT_EQ(events[exec]["holders"][0]["comm"], "sleep") << events[exec];
  // The socket stays: no port-closed for it.
  EXPECT_EQ(find_event(events, "port-closed", 0), events.size()) << read_text(out);
}

TEST(Watch, ShowsWhatIsThereAndStopsAfterCount) {
  ASSERT_EQ(geteuid(), 0u) << "watch reads every process's fd table: it needs root";
  uint16_t port = free_loopback_port();
  Background server("python3 -c 'import socket, time\n"
                    "s = socket.socket(); s.bind((\"127.0.0.1\", " +
                    std::to_string(port) + ")); s.listen()\n"
                    "print(\"ready\", flush=True); time.sleep(60)\n'");
  ASSERT_EQ(server.line(), "ready");
  CliRun run = run_portrel({"watch", std::to_string(port), "--count", "2", "--interval",
                            "0.1", "--format", "json"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  auto events = json_lines(run.out);
  ASSERT_EQ(events.size(), 1u) << run.out;
  EXPECT_EQ(events[0]["event"], "present");
  EXPECT_EQ(events[0]["holders"][0]["pid"], server.pid());
  // For people: one line, the verb first.
  CliRun text = run_portrel({"watch", std::to_string(port), "--count", "1"}, {"NO_COLOR=1"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("present"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("127.0.0.1:" + std::to_string(port) + " LISTEN"), std::string::npos)
      << text.out;
}

TEST(Watch, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(run_portrel({"watch", "--format", "csv", "--count", "1"}).exit_code, 2);
  EXPECT_EQ(run_portrel({"watch", "--tree", "--count", "1"}).exit_code, 2);
  CliRun bad = run_portrel({"watch", "tcp:nope", "--count", "1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_EQ(run_portrel({"watch", "--interval", "0", "--count", "1"}).exit_code, 2);
}

}  // namespace
}  // namespace portrel::testing
