// graph_dot() on hand-made snapshots: the nodes, holding edges, clusters and
// folds of the DOT text, read back line by line; names other processes chose
// escaped, checked in the text and in what Graphviz renders of it.
#include "output/graph.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "analysis/test_snapshot.h"
#include "output/graph_render.h"

namespace portrel {
namespace {

using testing::all;
using testing::kHostNs;
using testing::proc;
using testing::snapshot;
using testing::sock;

// The DOT text read back: node statements by id, edge statements, cluster labels.
struct Dot {
  std::map<std::string, std::string> nodes;  ///< id -> attributes
  std::vector<std::tuple<std::string, std::string, std::string>>
      edges;                          ///< from, to, attrs
  std::vector<std::string> clusters;  ///< "cluster_x: label"

  std::vector<std::string> holding_edges() const {
    std::vector<std::string> out;
    for (const auto& [from, to, attrs] : edges) {
      if (to.starts_with("s")) out.push_back(from + "->" + to + " " + attrs);
    }
    return out;
  }
  size_t tree_edges() const {
    size_t n = 0;
    for (const auto& [from, to, attrs] : edges)
      n += attrs.find("dotted") != std::string::npos;
    return n;
  }
};

Dot read_dot(const std::string& text) {
  static const std::regex node(R"re(^\s*(\w+) \[(.*)\];$)re");
  static const std::regex edge(R"re(^\s*(\w+) -> (\w+) \[(.*)\];$)re");
  static const std::regex cluster(R"re(^\s*subgraph "?(cluster[^"]*?)"? \{$)re");
  static const std::regex label(R"re(^\s*label="(.*)"; style)re");
  Dot dot;
  std::istringstream in(text);
  std::string line;
  bool want_label = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, edge)) {
      dot.edges.emplace_back(m[1], m[2], m[3]);
    } else if (std::regex_match(line, m, node)) {
      if (m[1] != "graph" && m[1] != "node" && m[1] != "edge") dot.nodes[m[1]] = m[2];
    } else if (std::regex_match(line, m, cluster)) {
      dot.clusters.push_back(std::string(m[1]) + ": ");
      want_label = true;
    } else if (want_label && std::regex_search(line, m, label)) {
      dot.clusters.back() += m[1];
      want_label = false;
    }
  }
  return dot;
}

bool has_cluster(const Dot& dot, const std::string& label) {
  for (const std::string& c : dot.clusters) {
    if (c.ends_with(": " + label)) return true;
  }
  return false;
}

Holding hold(pid_t pid, int fd, uint64_t inode, bool cloexec = true) {
  return Holding{pid, fd, inode, cloexec};
}

// nginx: a master and two workers inherit 0.0.0.0:80 and [::]:80 (fds 6 and 7,
// without close-on-exec, as nginx keeps them).
Snapshot nginx_host() {
  std::vector<Process> procs{proc(1, 0, "systemd"), proc(100, 1, "nginx"),
                             proc(101, 100, "nginx"), proc(102, 100, "nginx")};
  procs[1].cmdline = "nginx: master process /usr/sbin/nginx";
  procs[1].user = "root";
  std::vector<Holding> holds;
  for (pid_t pid : {100, 101, 102}) {
    holds.push_back(hold(pid, 6, 10, false));
    holds.push_back(hold(pid, 7, 11, false));
  }
  return snapshot(procs,
                  {sock(10, Proto::tcp, "0.0.0.0", 80), sock(11, Proto::tcp, "::", 80)},
                  holds);
}

TEST(GraphDot, EveryHoldingIsOneEdgeLabelledWithItsFd) {
  Snapshot snap = nginx_host();
  std::string text = graph_dot(snap, all(snap));
  ASSERT_TRUE(text.starts_with("digraph portrel {")) << text;
  Dot dot = read_dot(text);
  for (const char* id : {"p100", "p101", "p102", "s10", "s11", "legend"}) {
    EXPECT_TRUE(dot.nodes.contains(id)) << id << "\n" << text;
  }
  EXPECT_FALSE(dot.nodes.contains("p1")) << "systemd holds nothing";
  EXPECT_EQ(dot.nodes.size(), 6u) << text;
  EXPECT_NE(dot.nodes["p100"].find("label=\"nginx 100\\nroot\\nnginx: master process "
                                   "/usr/sbin/nginx\""),
            std::string::npos)
      << dot.nodes["p100"];
  EXPECT_NE(dot.nodes["s10"].find("label=\"tcp 0.0.0.0:80\""), std::string::npos);
  EXPECT_NE(dot.nodes["s11"].find("label=\"tcp [::]:80\""), std::string::npos);
  std::vector<std::string> edges = dot.holding_edges();
  ASSERT_EQ(edges.size(), 6u) << text;
  EXPECT_EQ(edges[0], "p100->s10 label=\"fd 6\", style=dashed");
  EXPECT_EQ(edges[1], "p101->s10 label=\"fd 6\", style=dashed");
  EXPECT_EQ(edges[3], "p100->s11 label=\"fd 7\", style=dashed");
  EXPECT_EQ(dot.tree_edges(), 2u) << "master -> each worker";
}

TEST(GraphDot, ProcessTreesAndPortsAreClusters) {
  Snapshot snap = nginx_host();
  Dot dot = read_dot(graph_dot(snap, all(snap)));
  EXPECT_TRUE(has_cluster(dot, "nginx 100 + 2 children"))
      << ::testing::PrintToString(dot.clusters);
  EXPECT_TRUE(has_cluster(dot, "port 80\\ninherited, dual-stack"))
      << ::testing::PrintToString(dot.clusters);
  // Both kinds involve both sockets: each is filled with both colours.
  EXPECT_NE(dot.nodes["s10"].find("style=\"wedged\""), std::string::npos)
      << dot.nodes["s10"];
  std::string legend = dot.nodes["legend"];
  EXPECT_NE(legend.find(">inherited<"), std::string::npos);
  EXPECT_NE(legend.find(">dual-stack<"), std::string::npos);
  EXPECT_EQ(legend.find(">reuseport<"), std::string::npos) << "only the kinds drawn";
  EXPECT_NE(legend.find("without close-on-exec"), std::string::npos);
}

TEST(GraphDot, CloexecHoldingsAreSolid) {
  Snapshot snap =
      snapshot({proc(10, 1, "server")}, {sock(5, Proto::udp, "127.0.0.1", 53)},
               {hold(10, 3, 5, true)});
  std::string text = graph_dot(snap, all(snap));
  Dot dot = read_dot(text);
  ASSERT_EQ(dot.holding_edges(), std::vector<std::string>{"p10->s5 label=\"fd 3\""});
  EXPECT_NE(dot.nodes["s5"].find("fillcolor=\"white\""), std::string::npos)
      << "not shared";
  EXPECT_EQ(dot.nodes["legend"].find("without close-on-exec"), std::string::npos);
  EXPECT_TRUE(dot.clusters.size() == 1 && has_cluster(dot, "port 53")) << text;
}

TEST(GraphDot, AThousandWorkersFoldIntoOneNode) {
  std::vector<Process> procs{proc(100, 1, "nginx")};
  std::vector<Holding> holds{hold(100, 6, 10)};
  for (pid_t w = 1000; w < 2000; ++w) {
    procs.push_back(proc(w, 100, "nginx"));
    holds.push_back(hold(w, w == 1500 ? 9 : 6, 10, w != 1700));
  }
  Snapshot snap = snapshot(procs, {sock(10, Proto::tcp, "0.0.0.0", 80)}, holds);
  std::string text = graph_dot(snap, all(snap));
  Dot dot = read_dot(text);
  EXPECT_EQ(dot.nodes.size(), 4u) << "master, fold, socket, legend";
  ASSERT_TRUE(dot.nodes.contains("f1000")) << text.substr(0, 2000);
  EXPECT_NE(dot.nodes["f1000"].find("label=\"nginx ×1000\\npids 1000…1999\""),
            std::string::npos)
      << dot.nodes["f1000"];
  EXPECT_EQ(dot.holding_edges(),
            (std::vector<std::string>{
                "p100->s10 label=\"fd 6\"",
                "f1000->s10 label=\"fd 6…9\", penwidth=2, style=dashed"}));
  EXPECT_EQ(dot.tree_edges(), 1u);
  EXPECT_TRUE(has_cluster(dot, "nginx 100 + 1,000 children"));
  EXPECT_NE(dot.nodes["legend"].find("name ×N"), std::string::npos);
}

TEST(GraphDot, OnlyAlikeSiblingsFold) {
  std::vector<Process> procs{proc(100, 1, "master")};
  std::vector<Holding> holds{hold(100, 6, 10)};
  std::vector<Socket> socks{sock(10, Proto::tcp, "0.0.0.0", 80)};
  for (pid_t w = 200; w < 206; ++w) {  // same name, each its own reuseport socket
    procs.push_back(proc(w, 100, "server"));
    socks.push_back(sock(w, Proto::tcp, "0.0.0.0", 8080));
    holds.push_back(hold(w, 3, w));
  }
  for (pid_t w = 300; w < 306; ++w) {  // one socket, different names
    procs.push_back(proc(w, 100, "worker" + std::to_string(w)));
    holds.push_back(hold(w, 6, 10));
  }
  Snapshot snap = snapshot(procs, socks, holds);
  Dot dot = read_dot(graph_dot(snap, all(snap)));
  for (const auto& [id, attrs] : dot.nodes) EXPECT_FALSE(id.starts_with("f")) << id;
  EXPECT_EQ(dot.holding_edges().size(), holds.size());
}

TEST(GraphDot, FoldingFollowsTheThreshold) {
  std::vector<Process> procs{proc(100, 1, "app")};
  std::vector<Holding> holds;
  for (pid_t w = 101; w <= 104; ++w) {
    procs.push_back(proc(w, 100, "app"));
    holds.push_back(hold(w, 4, 10));
  }
  Snapshot snap = snapshot(procs, {sock(10, Proto::tcp, "0.0.0.0", 80)}, holds);
  EXPECT_EQ(read_dot(graph_dot(snap, all(snap))).holding_edges().size(), 4u)
      << "four workers stay four boxes by default";
  Dot folded = read_dot(graph_dot(snap, all(snap), {.processes = {}, .fold_at = 4}));
  EXPECT_TRUE(folded.nodes.contains("f101"));
  EXPECT_EQ(folded.holding_edges().size(), 1u);
  Dot never = read_dot(graph_dot(snap, all(snap), {.processes = {}, .fold_at = 0}));
  EXPECT_EQ(never.holding_edges().size(), 4u);
  // Four unrelated roots under a parent that is not drawn share a cluster.
  EXPECT_TRUE(has_cluster(never, "children of app 100"))
      << ::testing::PrintToString(never.clusters);
}

TEST(GraphDot, ContainersAndNamespacesAreNamed) {
  std::vector<Process> procs{proc(10, 1, "conmon"), proc(11, 10, "redis-server")};
  procs[1].cgroup = "/machine.slice/libpod-0123456789abcdef012300000000000000000000000000000000000000000000.scope/container";
  Snapshot snap(
      procs,
      {sock(5, Proto::tcp, "0.0.0.0", 6379, 0, 77), sock(6, Proto::tcp, "::1", 22)},
      {hold(11, 5, 5), hold(10, 3, 6)},
      {Netns{kHostNs, "", true, true, {}}, Netns{77, "ctr\"1", false, true, {}}}, {});
  std::string text = graph_dot(snap, all(snap));
  Dot dot = read_dot(text);
  EXPECT_NE(text.find("label=\"podman 0123456789ab\""), std::string::npos) << text;
  EXPECT_EQ(dot.tree_edges(), 0u) << "conmon is outside the container";
  EXPECT_TRUE(has_cluster(dot, "port 6379 · ctr\\\"1"))
      << ::testing::PrintToString(dot.clusters);
  EXPECT_TRUE(has_cluster(dot, "port 22 · host"));
}

TEST(GraphDot, SocketsWithoutHoldersAndTargetsWithoutSockets) {
  Snapshot snap =
      snapshot({proc(10, 1, "idle")}, {sock(5, Proto::tcp, "0.0.0.0", 9000)}, {});
  Dot dot = read_dot(graph_dot(snap, all(snap), {.processes = {10, 4242}}));
  EXPECT_TRUE(dot.nodes.contains("p10")) << "asked for";
  EXPECT_FALSE(dot.nodes.contains("p4242")) << "not in the snapshot";
  EXPECT_NE(dot.nodes["s5"].find("no visible holder"), std::string::npos)
      << dot.nodes["s5"];
  EXPECT_NE(dot.nodes["s5"].find("dashed"), std::string::npos);
  EXPECT_TRUE(dot.holding_edges().empty());
}

TEST(GraphDot, NamesFromOtherProcessesAreEscaped) {
  EXPECT_EQ(dot_text("a\"b\\c"), "a\\\"b\\\\\\\\c");
  EXPECT_EQ(dot_text("x\x1b[31my"), "x\\\\x1b[31my");
  EXPECT_EQ(dot_text("&#x202e;"), "&amp;#x202e;");
  EXPECT_EQ(dot_text("\xe2\x80\xae"
                     "abc"),
            "\\\\u{202e}abc");
  EXPECT_EQ(dot_text("l1\nl2"), "l1\\\\nl2");
  Process p = proc(10, 1, "ev\"il\\\x1b");
  p.cmdline = "ev\"il --x \"}; a -> b [label=\"pwn";
  p.user = "u\"ser";
  Snapshot snap = snapshot({p}, {sock(5, Proto::tcp, "0.0.0.0", 80)}, {hold(10, 3, 5)});
  std::string text = graph_dot(snap, all(snap));
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  Dot dot = read_dot(text);
  EXPECT_EQ(dot.edges.size(), 1u) << "the command line adds no edge\n" << text;
  EXPECT_NE(
      dot.nodes["p10"].find("label=\"ev\\\"il\\\\\\\\\\\\x1b 10\\nu\\\"ser\\nev\\\"il "
                            "--x \\\"}; a -> b [label=\\\"pwn\""),
      std::string::npos)
      << dot.nodes["p10"];
}

TEST(GraphRender, GraphvizShowsEscapedNamesAsSanitizeWould) {
  Process p = proc(10, 1, "a\"b\\c\x1b");
  p.cmdline =
      "&#x202e;rm \xe2\x80\xae"
      "x\nnext";
  Snapshot snap = snapshot({p}, {sock(5, Proto::tcp, "0.0.0.0", 80)}, {hold(10, 3, 5)});
  auto svg = render_dot(graph_dot(snap, all(snap)), "svg");
  ASSERT_TRUE(svg) << svg.error().message;
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  // sanitize(): a"b\\c\x1b and &#x202e;rm \u{202e}x\nnext, then XML-escaped.
  EXPECT_NE(svg->find("a&quot;b\\\\c\\x1b 10"), std::string::npos) << *svg;
  EXPECT_NE(svg->find("&amp;#x202e;rm \\u{202e}x\\nnext</text>"), std::string::npos)
      << *svg;
  // The tooltip (Graphviz reads its backslashes twice) shows the same text.
  EXPECT_NE(svg->find("&#10;&amp;#x202e;rm \\u{202e}x\\nnext&#10;"
                      "exe /usr/bin/a&quot;b\\\\c\\x1b\""),
            std::string::npos)
      << *svg;
  EXPECT_EQ(svg->find("\xe2\x80\xae"), std::string::npos)
      << "no right-to-left override";
  EXPECT_EQ(svg->find("&#x202e;rm"), std::string::npos)
      << "no character reference left live";
}

TEST(GraphRender, BadInputIsAnErrorNotAPrint) {
  auto bad = render_dot("digraph { a -> }", "svg");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("syntax error"), std::string::npos)
      << bad.error().message;
  auto unknown = render_dot("digraph { a }", "no-such-format");
  EXPECT_FALSE(unknown);
  auto png = render_dot("digraph { a -> b }", "png");
  ASSERT_TRUE(png) << png.error().message;
  EXPECT_TRUE(png->starts_with("\x89PNG"));
}

}  // namespace
}  // namespace portrel
