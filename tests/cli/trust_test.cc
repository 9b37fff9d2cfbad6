// Answers a user can trust at a glance: the binary run as a user would, against
// real servers (nginx from Debian, python), each check on what the test itself
// made: holders counted as processes, a private namespace always named,
// unknown uids shown as unknown, v4-mapped and /etc/hosts addresses, a port's
// local clients apart from its holders, hostile names escaped, and exit codes
// that tell "nothing there" from "could not look".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

bool listening(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// Debian's nginx with a master and two workers on loopback: PORT plainly on
// 127.0.0.1 and [::1]; PORT + 1 with reuseport (one socket per worker, both
// made by the master and inherited by both workers). Stopped by its pid.
class Nginx {
 public:
  Nginx() : port_(free_loopback_port()) {
    char dir[] = "/tmp/portrel-nginx-XXXXXX";
    if (mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    std::ofstream(dir_ + "/nginx.conf")
        << "worker_processes 2;\npid " << dir_ << "/nginx.pid;\nerror_log " << dir_
        << "/error.log;\ndaemon off;\nevents { worker_connections 64; }\nhttp {\n"
        << "  access_log off;\n  client_body_temp_path " << dir_ << ";\n  proxy_temp_path "
        << dir_ << ";\n  fastcgi_temp_path " << dir_ << ";\n  uwsgi_temp_path " << dir_
        << ";\n  scgi_temp_path " << dir_ << ";\n"
        << "  server { listen 127.0.0.1:" << port_ << "; listen [::1]:" << port_ << "; }\n"
        << "  server { listen 127.0.0.1:" << port_ + 1 << " reuseport; listen [::1]:"
        << port_ + 1 << " reuseport; }\n}\n";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/usr/sbin/nginx", "nginx", "-c", (dir_ + "/nginx.conf").c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 100 && !(listening(port_) && listening(port_ + 1)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The workers are up once the master has forked them.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ~Nginx() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;
  bool ok() const { return pid_ > 0 && listening(port_) && listening(port_ + 1); }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::string dir_;
  pid_t pid_ = -1;
};

// A python3 server on 127.0.0.1:PORT that prints a line once it listens. SETUP
// (python lines) runs first; ARGS follow the script on its command line.
std::string python_listener(uint16_t port, const std::string& setup = "",
                            const std::string& args = "") {
  return "python3 -c 'import socket,time\n" + setup +
         "s = socket.socket(); s.bind((\"127.0.0.1\", " + std::to_string(port) +
         ")); s.listen(); print(1, flush=True); time.sleep(60)' " + args;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}


TEST(Trust, NginxChildrenAreCountedAsProcessesAndItsCloexecFindingIsOne) {
  ASSERT_EQ(geteuid(), 0u) << "reading nginx's fd tables needs root";
  ASSERT_EQ(access("/usr/sbin/nginx", X_OK), 0) << "nginx-light is needed (scripts/deps.sh)";
  Nginx nginx;
  ASSERT_TRUE(nginx.ok()) << "nginx did not start on port " << nginx.port();
  CliRun view = run_portrel({"-t"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  std::string master = "nginx " + std::to_string(nginx.pid());
  // Two reuseport sockets, each held by the master and both workers: 2 children.
  auto rows = lines_with(view.out, ":" + std::to_string(nginx.port() + 1));
  ASSERT_EQ(rows.size(), 2u) << view.out;
  for (const std::string& row : rows) {
    EXPECT_NE(row.find(master + " + 2 children"), std::string::npos) << row;
    EXPECT_NE(row.find("reuseport"), std::string::npos) << row;
  }
  CliRun audit = run_portrel({"audit", "-t", "--format", "json"});
  auto doc = nlohmann::json::parse(audit.out);
  size_t cloexec = 0;
  for (const auto& f : doc["findings"]) {
    bool ours = false;
    for (const auto& p : f["processes"]) ours |= p["pid"] == nginx.pid();
    if (!ours || f["kind"] != "cloexec") continue;
    ++cloexec;
    EXPECT_EQ(f["sockets"].size(), 6u) << f.dump();  // 2 plain, 2 x 2 reuseport
    EXPECT_EQ(f["severity"], "info") << "nginx keeps listeners across exec by design";
    EXPECT_NE(f["explanation"].get<std::string>().find("binary upgrade"), std::string::npos);
  }
  EXPECT_EQ(cloexec, 1u) << audit.out;
  CliRun accepted = run_portrel({"audit", "-t", "--format", "json", "--ignore", "cloexec:nginx"});
  auto after = nlohmann::json::parse(accepted.out);
  for (const auto& f : after["findings"]) EXPECT_NE(f["kind"], "cloexec") << f.dump();
  EXPECT_GE(after["ignored"].get<int>(), 1);
}

TEST(Trust, ARowOfAPrivateNamespaceAlwaysSaysSo) {
  ASSERT_EQ(geteuid(), 0u) << "network namespaces need root";
  NamedNetns ns("portrel-trust-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok());
  uint16_t port = free_loopback_port();
  Background server("ip netns exec " + ns.name() + " python3 -c 'import socket,time\n"
                    "s = socket.socket(); s.bind((\"0.0.0.0\", " + std::to_string(port) +
                    ")); s.listen(); print(1, flush=True); time.sleep(60)'");
  ASSERT_FALSE(server.line().empty());
  CliRun who = run_portrel({"who", std::to_string(port)});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find("NETNS"), std::string::npos) << who.out;
  EXPECT_NE(who.out.find(ns.name()), std::string::npos) << who.out;
  CliRun list = run_portrel({"-t", "-N", ns.name()});
  EXPECT_NE(list.out.find(ns.name()), std::string::npos) << list.out;
}

TEST(Trust, TimeWaitHasNoUidAndNoUser) {
  ASSERT_EQ(geteuid(), 0u) << "the lab runs as root";
  Background lab(std::string(PORTREL_BINARY) + " lab time-wait --workers 2 --for 30");
  ASSERT_FALSE(lab.line().empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CliRun json = run_portrel({"-t", "-a", "--format", "json"});
  auto doc = nlohmann::json::parse(json.out);
  size_t time_wait = 0;
  for (const auto& s : doc["sockets"]) {
    if (s["state"] != "TIME_WAIT") continue;
    ++time_wait;
    EXPECT_TRUE(s["uid"].is_null()) << s.dump();
  }
  ASSERT_GT(time_wait, 0u) << "the lab left no TIME_WAIT socket";
  CliRun table = run_portrel({"-t", "-a"});
  for (const std::string& row : lines_with(table.out, "TIME_WAIT")) {
    EXPECT_EQ(row.find(" root "), std::string::npos) << row;
  }
}

TEST(Trust, MappedAndHostsAddressesFindTheIpv4Listener) {
  uint16_t port = free_loopback_port();
  Background server(python_listener(port));
  ASSERT_FALSE(server.line().empty());
  std::string p = std::to_string(port);
  for (const std::string& spec : {"[::ffff:127.0.0.1]:" + p, "localhost:" + p, "127.0.0.1:" + p}) {
    CliRun who = run_portrel({"who", spec, "--format", "json"});
    ASSERT_EQ(who.exit_code, 0) << spec << ": " << who.err;
    auto doc = nlohmann::json::parse(who.out);
    ASSERT_EQ(doc["sockets"].size(), 1u) << spec;
    EXPECT_EQ(doc["sockets"][0]["holders"][0]["pid"], server.pid()) << spec;
  }
  CliRun other = run_portrel({"who", "[::ffff:127.0.0.2]:" + p});
  EXPECT_EQ(other.exit_code, 1) << other.err;
  CliRun unknown = run_portrel({"who", "no-such-host.invalid:" + p});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("not in /etc/hosts"), std::string::npos) << unknown.err;
}

TEST(Trust, WhoAllShowsLocalClientsApartFromThePortsHolders) {
  uint16_t port = free_loopback_port();
  Background pair("python3 -c 'import socket,time\n"
                  "s = socket.socket(); s.bind((\"127.0.0.1\", " + std::to_string(port) +
                  ")); s.listen()\nc = socket.create_connection((\"127.0.0.1\", " +
                  std::to_string(port) + "))\na, _ = s.accept()\n"
                  "print(c.getsockname()[1], flush=True); time.sleep(60)'");
  ASSERT_FALSE(pair.line().empty());
  std::string client_port = pair.line();
  CliRun json = run_portrel({"who", std::to_string(port), "-a", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out);
  for (const auto& s : doc["sockets"]) EXPECT_EQ(s["local_port"], port) << s.dump();
  ASSERT_EQ(doc["clients"].size(), 1u) << json.out;
  EXPECT_EQ(std::to_string(doc["clients"][0]["local_port"].get<int>()), client_port);
  EXPECT_EQ(doc["clients"][0]["remote_port"], port);
  CliRun table = run_portrel({"who", std::to_string(port), "-a"});
  EXPECT_NE(table.out.find("1 local client of port " + std::to_string(port)), std::string::npos)
      << table.out;
  CliRun csv = run_portrel({"who", std::to_string(port), "-a", "--format", "csv"});
  EXPECT_EQ(lines_with(csv.out, ",client").size(), 1u) << csv.out;
  // Without -a: the listener only, and no clients member.
  CliRun plain = run_portrel({"who", std::to_string(port), "--format", "json"});
  EXPECT_FALSE(nlohmann::json::parse(plain.out).contains("clients"));
}

TEST(Trust, LabCountsSocketsNotHoldings) {
  Background lab(std::string(PORTREL_BINARY) + " lab prefork --workers 2 --for 30");
  ASSERT_FALSE(lab.line().empty());
  EXPECT_NE(lab.line().find("1 socket (3 holdings)"), std::string::npos) << lab.line();
}

// A name that is not UTF-8 at all (comm "\xff\xfebad"): every JSON document
// still comes out, the bytes replaced, and no command dies on it. (watch's
// JSON lines once threw on it and aborted.)
TEST(Trust, NamesThatAreNotUtf8StillMakeJson) {
  uint16_t port = free_loopback_port();
  Background server(python_listener(
      port, "import ctypes\nctypes.CDLL(None).prctl(15, b\"\\xff\\xfebad\", 0, 0, 0)\n"));
  ASSERT_FALSE(server.line().empty());
  std::string p = std::to_string(port);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-t", "--format", "json"},
        {"who", p, "--format", "json"},
        {"of", std::to_string(server.pid()), "--format", "json"},
        {"watch", p, "--count", "1", "--format", "json"},
        {"why-busy", "127.0.0.1:" + p, "--format", "json"},
        {"audit", "--format", "json"},
        {"free", p, "--dry-run", "--format", "json"}}) {
    CliRun run = run_portrel(args);  // fails on a crash signal
    EXPECT_NE(run.exit_code, 2) << args[0] << ": " << run.err;
    EXPECT_EQ(run.err.find("terminate called"), std::string::npos) << args[0] << ": " << run.err;
    std::string out = run.out;
    if (args[0] == "watch") out = out.substr(0, out.find('\n'));
    EXPECT_TRUE(nlohmann::json::accept(out)) << args[0] << ": " << run.out;
    // audit has nothing to say of a loopback listener with FD_CLOEXEC.
    if (args[0] != "audit") {
      EXPECT_NE(run.out.find("bad"), std::string::npos) << args[0] << ": " << run.out;
    }
  }
}

TEST(Trust, HostileNamesCannotReorderOrHideText) {
  uint16_t port = free_loopback_port();
  // comm: "ab", RIGHT-TO-LEFT OVERRIDE, "cd" (15 bytes at most).
  Background server(
      python_listener(port, "import ctypes\nctypes.CDLL(None).prctl(15, b\"ab\\xe2\\x80\\xaecd\", 0, 0, 0)\n"));
  ASSERT_FALSE(server.line().empty());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-t"}, {"who", std::to_string(port)},
        {"of", std::to_string(server.pid())}}) {
    CliRun run = run_portrel(args);
    EXPECT_EQ(run.exit_code, 0) << args[0] << ": " << run.err;
    EXPECT_EQ(run.out.find("\xe2\x80\xae"), std::string::npos) << args[0];
  }
  CliRun list = run_portrel({"-t"});
  EXPECT_NE(list.out.find("ab\\u{202e}cd " + std::to_string(server.pid())), std::string::npos)
      << list.out;
  CliRun echoed = run_portrel({"who", "evil\xe2\x80\xae:80"});
  EXPECT_EQ(echoed.exit_code, 2);
  EXPECT_EQ(echoed.err.find("\xe2\x80\xae"), std::string::npos) << echoed.err;
}

TEST(TrustExit, CouldNotLookIsNotNothingThere) {
  ASSERT_EQ(geteuid(), 0u) << "this test drops from root to nobody";
  ASSERT_EQ(access("/usr/bin/setpriv", X_OK), 0) << "setpriv (util-linux) is needed";
  CliRun dir = run_portrel({"-N", "/tmp"});
  EXPECT_EQ(dir.exit_code, 2) << dir.err;
  EXPECT_NE(dir.err.find("not a network namespace"), std::string::npos) << dir.err;

  // A root process's fd table, seen by nobody.
  Background root_server("python3 -c 'import socket,time\n"
                         "s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen()\n"
                         "print(1, flush=True); time.sleep(60)'");
  ASSERT_FALSE(root_server.line().empty());
  CliRun of = run_portrel_as_nobody({"of", std::to_string(root_server.pid())});
  EXPECT_EQ(of.exit_code, 4) << of.err;
  EXPECT_NE(of.err.find("partial answer"), std::string::npos) << of.err;

  NamedNetns ns("portrel-blind-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok());
  CliRun netns = run_portrel_as_nobody({"-N", ns.name()});
  EXPECT_EQ(netns.exit_code, 4) << netns.err;
  EXPECT_NE(netns.err.find("could not be read"), std::string::npos) << netns.err;

  CliRun audit = run_portrel_as_nobody({"audit"});
  EXPECT_EQ(audit.exit_code, 4) << audit.err;
  EXPECT_NE(audit.err.find("partial answer"), std::string::npos) << audit.err;
  EXPECT_NE(audit.err.find("unreadable: run as root"), std::string::npos) << audit.err;
  EXPECT_EQ(audit.err.find("warning: 1 processes'"), std::string::npos) << audit.err;
  EXPECT_EQ(audit.err.find("some processes'"), std::string::npos) << audit.err;

  // The host could not be read at all: a runtime failure, not a usage error.
  CliRun failed = run_portrel({"--source", "bpf"}, {"PORTREL_BPF_FAIL=1"});
  EXPECT_EQ(failed.exit_code, 5) << failed.err;

  CliRun nothing = run_portrel({"who", std::to_string(free_loopback_port())});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("nothing listens on port"), std::string::npos) << nothing.err;
}

TEST(TrustExit, ParseErrorsAreOneLineInPortrelsWords) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"--format", "jsno"}, "--format"},
           {{"-f", "1"}, "--format"},
           {{"lab", "nosuch"}, "unknown scenario 'nosuch'"},
           {{"lab", "prefork", "--workers", "-3"}, "--workers"},
           {{"-N", ""}, "must not be empty"},
           {{"--user", ""}, "must not be empty"},
           {{"-4", "-6"}, "excludes"},
       }) {
    CliRun run = run_portrel(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.args[0] << ": " << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("->"), std::string::npos) << "CLI11's internals: " << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }
}

TEST(TrustHabits, SsAndLsofHabitsWork) {
  uint16_t port = free_loopback_port();
  Background server(python_listener(port));
  ASSERT_FALSE(server.line().empty());
  std::string row = ":" + std::to_string(port);
  for (const char* habit : {"-tulpn", "-tuln", "-tlnp", "-ltn"}) {
    CliRun run = run_portrel({habit});
    EXPECT_EQ(run.exit_code, 0) << habit << ": " << run.err;
    EXPECT_EQ(lines_with(run.out, row).size(), 1u) << habit << ": " << run.out;
  }
  CliRun lsof = run_portrel({"-p", std::to_string(server.pid())});
  CliRun of = run_portrel({"of", std::to_string(server.pid())});
  EXPECT_EQ(lsof.exit_code, 0) << lsof.err;
  EXPECT_EQ(lsof.out, of.out);
  CliRun exe = run_portrel({"of", std::filesystem::read_symlink(
                                      "/proc/" + std::to_string(server.pid()) + "/exe")
                                      .string()});
  EXPECT_EQ(exe.exit_code, 0) << exe.err;
  EXPECT_NE(exe.out.find(row), std::string::npos) << exe.out;
  CliRun sorted = run_portrel({"-t", "--sort", "pid", "--format", "json"});
  EXPECT_EQ(sorted.exit_code, 0) << sorted.err;
  CliRun bad_sort = run_portrel({"--sort", "size"});
  EXPECT_EQ(bad_sort.exit_code, 2);
}

TEST(TrustHabits, EveryCommandsHelpListsTheGlobalOptions) {
  for (const char* command : {"who", "of", "shared", "audit", "why-busy", "sql", "snapshot",
                              "doctor", "columns"}) {
    CliRun help = run_portrel({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    for (const char* option : {"--format", "--netns", "--source", "--verbose"}) {
      EXPECT_NE(help.out.find(option), std::string::npos) << command << " --help lacks " << option;
    }
  }
}

TEST(TrustHabits, LinesFitTheTerminal) {
  ASSERT_EQ(access("/usr/bin/script", X_OK), 0) << "script (util-linux) is needed";
  uint16_t port = free_loopback_port();
  Background server(python_listener(port, "", std::string(300, 'x')));
  ASSERT_FALSE(server.line().empty());
  CliRun run = run_program({"/usr/bin/script", "-qec",
                            "stty cols 90; " + std::string(PORTREL_BINARY) + " who " +
                                std::to_string(port) + " --color never",
                            "/dev/null"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto rows = lines_with(run.out, std::to_string(server.pid()));
  ASSERT_EQ(rows.size(), 1u) << run.out;
  std::string row = rows[0];
  if (!row.empty() && row.back() == '\r') row.pop_back();
  size_t width = 0;
  for (unsigned char c : row) width += (c & 0xc0) != 0x80;
  EXPECT_LE(width, 90u) << row;
  EXPECT_NE(row.find("\u2026"), std::string::npos) << "the command is cut, with an ellipsis";
  EXPECT_NE(row.find(std::to_string(port)), std::string::npos) << "numbers are never cut";
}

}  // namespace
}  // namespace portrel::testing
