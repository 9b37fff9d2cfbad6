// `portrel free` against real servers: the prefork lab freed by one signal to its
// master, every member of a reuseport group, nginx by its master, a process
// that ignores SIGTERM (only --force frees it), a client of the port left alone,
// TIME_WAIT reported, a reused pid never signalled, --connections closing a
// live connection, and a listener in another network namespace.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "../live/shell.h"
#include "run.h"
#include "sources/port_freeing.h"

namespace portrel::testing {
namespace {

bool alive(pid_t pid) { return kill(pid, 0) == 0; }

// Waits (up to 5 s) for PID to be gone; Background reaps it when it is its child.
bool gone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    if (!stat || line.find(") Z ") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

nlohmann::json plan(uint16_t port) {
  CliRun run = run_portrel({"free", std::to_string(port), "--dry-run", "--format", "json"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return nlohmann::json::parse(run.out);
}

std::string python(const std::string& body) { return "python3 -c '" + body + "'"; }

std::string listener(uint16_t port, const std::string& before = "") {
  return python("import socket,signal,time\n" + before +
                "s = socket.socket(); s.bind((\"127.0.0.1\", " + std::to_string(port) +
                ")); s.listen(); print(1, flush=True); time.sleep(60)");
}

TEST(Free, PreforkIsFreedByOneSignalToItsMaster) {
  ASSERT_EQ(geteuid(), 0u) << "signalling the lab's processes needs root";
  uint16_t port = free_loopback_port();
  Background lab(std::string(PORTREL_BINARY) + " lab prefork --workers 2 --port " +
                 std::to_string(port) + " --for 60");
  ASSERT_FALSE(lab.line().empty());
  auto p = plan(port);
  ASSERT_EQ(p["targets"].size(), 1u) << p.dump(2);
  EXPECT_EQ(p["targets"][0]["children"], 2);
  // The target is the holder the other two holders were forked from.
  pid_t master = p["targets"][0]["pid"];
  auto who = nlohmann::json::parse(
      run_portrel({"who", std::to_string(port), "--format", "json"}).out);
  ASSERT_EQ(who["sockets"].size(), 1u);
  size_t workers = 0;
  for (const auto& h : who["sockets"][0]["holders"]) workers += h["ppid"] == master;
  EXPECT_EQ(workers, 2u) << who.dump(2);
  CliRun run = run_portrel({"free", std::to_string(port), "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("port " + std::to_string(port) + " is free"), std::string::npos) << run.out;
  EXPECT_EQ(run_portrel({"who", std::to_string(port)}).exit_code, 1);
}

TEST(Free, EveryMemberOfAReuseportGroup) {
  ASSERT_EQ(geteuid(), 0u) << "signalling the lab's processes needs root";
  uint16_t port = free_loopback_port();
  Background lab(std::string(PORTREL_BINARY) + " lab reuseport --workers 3 --port " +
                 std::to_string(port) + " --for 60");
  ASSERT_FALSE(lab.line().empty());
  EXPECT_EQ(plan(port)["targets"].size(), 3u);
  CliRun run = run_portrel({"free", "tcp/" + std::to_string(port), "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run_portrel({"who", std::to_string(port)}).exit_code, 1);
}

TEST(Free, NginxByItsMaster) {
  ASSERT_EQ(geteuid(), 0u) << "signalling nginx needs root";
  ASSERT_EQ(access("/usr/sbin/nginx", X_OK), 0) << "nginx-light is needed (scripts/deps.sh)";
  uint16_t port = free_loopback_port();
  std::string dir = "/tmp/portrel-free-nginx-" + std::to_string(getpid());
  ASSERT_EQ(sh("mkdir -p " + dir), 0);
  std::ofstream(dir + "/nginx.conf")
      << "worker_processes 2;\npid " << dir << "/nginx.pid;\nerror_log " << dir
      << "/error.log;\ndaemon off;\nevents { worker_connections 16; }\nhttp { access_log off; "
      << "client_body_temp_path " << dir << "; proxy_temp_path " << dir
      << "; fastcgi_temp_path " << dir << "; uwsgi_temp_path " << dir << "; scgi_temp_path "
      << dir << "; server { listen 127.0.0.1:" << port << "; } }\n";
  Background nginx("/usr/sbin/nginx -c " + dir + "/nginx.conf & sleep 1; echo ready; wait");
  ASSERT_FALSE(nginx.line().empty());
  auto p = plan(port);
  ASSERT_EQ(p["targets"].size(), 1u) << p.dump(2);
  EXPECT_EQ(p["targets"][0]["children"], 2);
  EXPECT_NE(p["targets"][0]["cmdline"].get<std::string>().find("master"), std::string::npos);
  CliRun run = run_portrel({"free", std::to_string(port), "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  sh("rm -rf " + dir);
}

TEST(Free, AProcessThatIgnoresSigtermIsFreedOnlyWithForce) {
  uint16_t port = free_loopback_port();
  Background stubborn(listener(port, "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"));
  ASSERT_FALSE(stubborn.line().empty());
  CliRun soft = run_portrel({"free", std::to_string(port), "--yes", "--timeout", "0.5"});
  EXPECT_EQ(soft.exit_code, 1) << soft.out;
  EXPECT_NE(soft.out.find("still running"), std::string::npos) << soft.out;
  EXPECT_TRUE(alive(stubborn.pid()));
  CliRun hard = run_portrel({"free", std::to_string(port), "--yes", "--timeout", "0.5", "--force"});
  EXPECT_EQ(hard.exit_code, 0) << hard.out << hard.err;
  EXPECT_NE(hard.out.find("SIGKILL"), std::string::npos) << hard.out;
  EXPECT_TRUE(gone(stubborn.pid()));
}

TEST(Free, AClientOfThePortIsLeftAlone) {
  uint16_t port = free_loopback_port();
  Background server(python("import socket,time\ns = socket.socket(); s.bind((\"127.0.0.1\", " +
                           std::to_string(port) + ")); s.listen()\nprint(1, flush=True)\n"
                           "a, _ = s.accept(); time.sleep(60)"));
  ASSERT_FALSE(server.line().empty());
  Background client(python("import socket,time\nc = socket.create_connection((\"127.0.0.1\", " +
                           std::to_string(port) + "))\nprint(1, flush=True); time.sleep(60)"));
  ASSERT_FALSE(client.line().empty());
  auto p = plan(port);
  ASSERT_EQ(p["targets"].size(), 1u) << p.dump(2);
  EXPECT_EQ(p["targets"][0]["pid"], server.pid());
  CliRun run = run_portrel({"free", std::to_string(port), "--yes"});
  EXPECT_TRUE(gone(server.pid()));
  EXPECT_TRUE(alive(client.pid())) << "the client's remote port is the port: never signalled";
  // The server's side of the connection closed first: TIME_WAIT may be left.
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 3) << run.out << run.err;
}

TEST(Free, TimeWaitLeftBehindIsReported) {
  uint16_t port = free_loopback_port();
  // The server closes an accepted connection first: its side goes to TIME_WAIT.
  Background server(python("import socket,time\ns = socket.socket(); s.bind((\"127.0.0.1\", " +
                           std::to_string(port) + ")); s.listen()\n"
                           "c = socket.create_connection((\"127.0.0.1\", " +
                           std::to_string(port) + "))\na, _ = s.accept(); a.close(); "
                           "time.sleep(0.2); c.close()\nprint(1, flush=True); time.sleep(60)"));
  ASSERT_FALSE(server.line().empty());
  CliRun run = run_portrel({"free", std::to_string(port), "--yes"});
  EXPECT_EQ(run.exit_code, 3) << run.out << run.err;
  EXPECT_NE(run.out.find("TIME_WAIT"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("SO_REUSEADDR"), std::string::npos) << run.out;
}

TEST(Free, AReusedPidIsNeverSignalled) {
  Background victim(python("import time\nprint(1, flush=True); time.sleep(60)"));
  ASSERT_FALSE(victim.line().empty());
  // A plan made for another process that had this pid: its start time differs.
  auto out = terminate_processes({{victim.pid(), 1}}, std::chrono::milliseconds(200), true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].state, SignalOutcome::State::reused);
  EXPECT_TRUE(alive(victim.pid()));
}

TEST(Free, ConnectionsClosesTheConnectionsAndLeavesTheListener) {
  ASSERT_EQ(geteuid(), 0u) << "SOCK_DESTROY needs CAP_NET_ADMIN";
  uint16_t port = free_loopback_port();
  Background pair(python("import socket,time\ns = socket.socket(); s.bind((\"127.0.0.1\", " +
                         std::to_string(port) + ")); s.listen()\n"
                         "c = socket.create_connection((\"127.0.0.1\", " + std::to_string(port) +
                         "))\na, _ = s.accept()\nprint(1, flush=True); time.sleep(60)"));
  ASSERT_FALSE(pair.line().empty());
  CliRun run = run_portrel({"free", std::to_string(port), "--connections", "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("closed tcp"), std::string::npos) << run.out;
  EXPECT_TRUE(alive(pair.pid()));
  auto doc = nlohmann::json::parse(
      run_portrel({"who", std::to_string(port), "-a", "--format", "json"}).out);
  size_t listening = 0, established = 0;
  for (const auto& s : doc["sockets"]) {
    listening += s["state"] == "LISTEN";
    established += s["state"] == "ESTABLISHED";
  }
  EXPECT_EQ(listening, 1u);
  EXPECT_EQ(established, 0u) << doc.dump(2);
}

TEST(Free, AListenerInAnotherNamespace) {
  ASSERT_EQ(geteuid(), 0u) << "network namespaces need root";
  NamedNetns ns("portrel-free-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok());
  uint16_t port = free_loopback_port();
  Background server("ip netns exec " + ns.name() + " " + listener(port));
  ASSERT_FALSE(server.line().empty());
  CliRun run = run_portrel({"free", std::to_string(port), "-N", ns.name(), "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(gone(server.pid()));
}

TEST(Free, AsksBeforeActingAndRefusesWithoutPrivilege) {
  ASSERT_EQ(geteuid(), 0u) << "this test drops from root to nobody";
  uint16_t port = free_loopback_port();
  Background server(listener(port));
  ASSERT_FALSE(server.line().empty());
  CliRun unasked = run_portrel({"free", std::to_string(port)});
  EXPECT_EQ(unasked.exit_code, 1);
  EXPECT_NE(unasked.err.find("nothing done"), std::string::npos) << unasked.err;
  EXPECT_TRUE(alive(server.pid()));
  CliRun nobody = run_portrel_as_nobody({"free", std::to_string(port), "--yes"});
  EXPECT_EQ(nobody.exit_code, 1) << nobody.err;
  EXPECT_TRUE(alive(server.pid()));
  CliRun bad = run_portrel({"free", "0"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace portrel::testing
