// `portrel graph` run as a user would, against the lab's real processes: the
// DOT text has the lab's processes and sockets as nodes and one edge per
// holding the lab made (dashed exactly when the fd lacks close-on-exec), twelve
// prefork workers fold into one node, and the SVG and PNG renderings are what
// they claim to be; usage errors and an empty answer have their exit codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "../live/truth.h"
#include "lab/lab.h"
#include "run.h"

namespace portrel::testing {
namespace {

struct Dot {
  std::map<std::string, std::string> nodes;  ///< id -> attributes
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> edges;
  size_t holding_edges = 0;
};

// The node and edge statements of `portrel graph`'s DOT text, one per line.
Dot read_dot(const std::string& text) {
  static const std::regex node(R"re(^\s*(\w+) \[(.*)\];$)re");
  static const std::regex edge(R"re(^\s*(\w+) -> (\w+) \[(.*)\];$)re");
  Dot dot;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, edge)) {
      dot.edges[{m[1], m[2]}].push_back(m[3]);
      dot.holding_edges += std::string(m[2]).starts_with("s");
    } else if (std::regex_match(line, m, node) && m[1] != "graph" && m[1] != "node" &&
               m[1] != "edge") {
      dot.nodes[m[1]] = m[2];
    }
  }
  return dot;
}

std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

std::vector<const lab::LabSocket*> inet_rows(const lab::GroundTruth& t) {
  std::vector<const lab::LabSocket*> rows;
  for (const lab::LabSocket& s : t.sockets) {
    if (s.family != 0) rows.push_back(&s);
  }
  return rows;
}

std::string port_of(const lab::GroundTruth& t) {
  return "tcp/" + std::to_string(inet_rows(t).at(0)->port);
}

// Every inet holding of the lab is one edge, labelled with its fd and dashed
// exactly when the fd lacks close-on-exec; every lab process is a node.
void expect_holdings_are_edges(const Dot& dot, const lab::GroundTruth& t) {
  size_t rows = 0;
  for (const lab::LabSocket* s : inet_rows(t)) {
    ++rows;
    std::string from = "p" + std::to_string(s->pid),
                to = "s" + std::to_string(s->inode);
    EXPECT_TRUE(dot.nodes.contains(to)) << to;
    auto it = dot.edges.find({from, to});
    ASSERT_NE(it, dot.edges.end()) << from << " -> " << to;
    ASSERT_EQ(it->second.size(), 1u) << from << " -> " << to;
    EXPECT_EQ(it->second[0], "label=\"fd " + std::to_string(s->fd) + "\"" +
                                 (s->cloexec ? "" : ", style=dashed"));
  }
  for (const lab::LabProcess& p : t.processes) {
    bool holds =
        std::ranges::any_of(inet_rows(t), [&](auto* s) { return s->pid == p.pid; });
    EXPECT_EQ(dot.nodes.contains("p" + std::to_string(p.pid)), holds)
        << p.role << " " << p.pid;
  }
  EXPECT_EQ(dot.holding_edges, rows);
}

TEST(Graph, PreforkHoldingsAreEdgesAndTheMasterIsTheParent) {
  lab::Lab lab = start_lab("prefork", {.workers = 2});
  const lab::GroundTruth& t = lab.truth();
  CliRun run = run_portrel({"graph", port_of(t)});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_TRUE(run.out.starts_with("digraph portrel {")) << run.out;
  Dot dot = read_dot(run.out);
  expect_holdings_are_edges(dot, t);
  pid_t master = 0;
  for (const lab::LabProcess& p : t.processes)
    master = p.role == "master" ? p.pid : master;
  for (const lab::LabProcess& p : t.processes) {
    if (p.role != "worker") continue;
    EXPECT_TRUE(
        dot.edges.contains({"p" + std::to_string(master), "p" + std::to_string(p.pid)}))
        << "tree edge master -> worker " << p.pid;
  }
  EXPECT_NE(run.out.find("subgraph cluster_tp" + std::to_string(master)),
            std::string::npos)
      << "the master's tree is a cluster";
  EXPECT_NE(run.out.find(">inherited<"), std::string::npos)
      << "the legend names the kind";
}

TEST(Graph, TwelvePreforkWorkersFoldIntoOneNode) {
  lab::Lab lab = start_lab("prefork", {.workers = 12});
  const lab::GroundTruth& t = lab.truth();
  CliRun run = run_portrel({"graph", port_of(t)});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  Dot dot = read_dot(run.out);
  std::set<pid_t> workers;
  pid_t master = 0;
  for (const lab::LabProcess& p : t.processes) {
    if (p.role == "worker") workers.insert(p.pid);
    if (p.role == "master") master = p.pid;
  }
  ASSERT_EQ(workers.size(), 12u);
  std::string fold = "f" + std::to_string(*workers.begin());
  ASSERT_TRUE(dot.nodes.contains(fold)) << run.out;
  EXPECT_NE(dot.nodes[fold].find("label=\"" + comm_of(master) + " ×12\\npids " +
                                 std::to_string(*workers.begin()) + "…" +
                                 std::to_string(*workers.rbegin())),
            std::string::npos)
      << dot.nodes[fold];
  for (pid_t w : workers)
    EXPECT_FALSE(dot.nodes.contains("p" + std::to_string(w))) << w;
  std::string socket = "s" + std::to_string(inet_rows(t).at(0)->inode);
  EXPECT_EQ(dot.holding_edges, 2u) << "the master's and the fold's";
  ASSERT_TRUE(dot.edges.contains({fold, socket}));
  EXPECT_NE(dot.edges[std::pair(fold, socket)][0].find("penwidth=2"),
            std::string::npos);
  EXPECT_TRUE(dot.edges.contains({"p" + std::to_string(master), socket}));
}

TEST(Graph, ReuseportRendersToWellFormedSvg) {
  lab::Lab lab = start_lab("reuseport", {.workers = 3});
  const lab::GroundTruth& t = lab.truth();
  CliRun dot_run = run_portrel({"graph", port_of(t)});
  ASSERT_EQ(dot_run.exit_code, 0) << dot_run.err;
  Dot dot = read_dot(dot_run.out);
  expect_holdings_are_edges(dot, t);
  EXPECT_EQ(inet_rows(t).size(), 3u) << "one socket per worker";
  EXPECT_NE(dot_run.out.find(">reuseport<"), std::string::npos);

  CliRun svg = run_portrel({"graph", port_of(t), "--format", "svg"});
  ASSERT_EQ(svg.exit_code, 0) << svg.err;
  ASSERT_NE(svg.out.find("<svg"), std::string::npos) << svg.out.substr(0, 300);
  // Each node and holding edge of the DOT text is in the picture (as <title>).
  for (const lab::LabSocket* s : inet_rows(t)) {
    std::string p = "p" + std::to_string(s->pid), so = "s" + std::to_string(s->inode);
    EXPECT_NE(svg.out.find("<title>" + p + "</title>"), std::string::npos) << p;
    EXPECT_NE(svg.out.find("<title>" + so + "</title>"), std::string::npos) << so;
    EXPECT_NE(svg.out.find("<title>" + p + "&#45;&gt;" + so + "</title>"),
              std::string::npos);
  }
  // Well-formed XML whose root is an SVG element, as an XML parser reads it.
  char path[] = "/tmp/portrel-graph-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, svg.out.data(), svg.out.size()), ssize_t(svg.out.size()));
  close(fd);
  CliRun parsed = run_program({"/usr/bin/python3", "-c",
                               "import sys, xml.etree.ElementTree as E; "
                               "print(E.parse(sys.argv[1]).getroot().tag)",
                               path});
  std::filesystem::remove(path);
  EXPECT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(parsed.out, "{http://www.w3.org/2000/svg}svg\n");
}

TEST(Graph, PngAndOfAndEmptyAnswers) {
  lab::Lab lab = start_lab("prefork", {.workers = 2});
  const lab::GroundTruth& t = lab.truth();
  CliRun png = run_portrel({"graph", port_of(t), "-f", "png"});
  ASSERT_EQ(png.exit_code, 0) << png.err;
  EXPECT_TRUE(png.out.starts_with("\x89PNG\r\n")) << png.out.substr(0, 16);

  pid_t master = 0;
  for (const lab::LabProcess& p : t.processes)
    master = p.role == "master" ? p.pid : master;
  CliRun of = run_portrel({"graph", "--of", std::to_string(master)});
  ASSERT_EQ(of.exit_code, 0) << of.err;
  expect_holdings_are_edges(read_dot(of.out), t);  // the workers hold it too

  uint16_t unused = inet_rows(t).at(0)->port;
  lab.stop();
  CliRun empty = run_portrel({"graph", "tcp/" + std::to_string(unused)});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_TRUE(empty.out.starts_with("digraph portrel {")) << "a graph, even empty";
  EXPECT_EQ(read_dot(empty.out).holding_edges, 0u);
  EXPECT_NE(empty.err.find("nothing listens on port"), std::string::npos) << empty.err;
}

TEST(Graph, UsageErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"graph", "--format", "json"},
        {"graph", "--format", "table"},
        {"graph", "--tree"},
        {"graph", "no-such-port-spec"}}) {
    CliRun run = run_portrel(args);
    EXPECT_EQ(run.exit_code, 2) << args.back() << ": " << run.err;
    EXPECT_TRUE(run.out.empty());
  }
  CliRun who = run_portrel({"who", "1", "--format", "svg"});
  EXPECT_EQ(who.exit_code, 2) << "svg is graph's alone";
  CliRun nobody = run_portrel({"graph", "--of", "portrel-no-such-process"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.err.find("no process matches"), std::string::npos) << nobody.err;
}

}  // namespace
}  // namespace portrel::testing
