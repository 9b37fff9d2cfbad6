// `portrel graph [PORT] [--of PID|NAME|PATH [--tree]]`: the relation as a
// picture. The sockets are chosen as `portrel`, `who PORT` and `of` choose
// them; output/graph.h writes the DOT text, which is printed as it is or
// rendered to SVG or PNG through libgvc (output/graph_render.h).
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/graph.h"
#include "output/graph_render.h"
#include "util/text.h"

namespace portrel {

void configure_graph(CLI::App& app, Options& o) {
  app.add_option("PORT", o.target,
                 "only the sockets on this port (as who PORT): 8080, tcp/8080, "
                 "127.0.0.1:8080, a service name");
  app.add_option("--of", o.graph_of,
                 "only the sockets of these processes (as of): a pid, a process name "
                 "or an executable's path");
  app.add_flag("--tree", o.tree, "with --of: the processes' descendants too");
  // Takes the place of the --format every other command has (table, json, csv).
  app.add_option(
         "-f,--format", o.format_name,
         "dot (Graphviz source, the default), svg or png (rendered with libgvc)")
      ->check(CLI::IsMember({"dot", "svg", "png"}));
}

int run_graph(const Options& o) {
  std::string format = o.format_name == "table" ? "dot" : o.format_name;
  if (format != "dot" && format != "svg" && format != "png") {
    return usage_error("graph: --format is dot, svg or png");
  }
  if (format == "png" && isatty(STDOUT_FILENO) == 1) {
    return usage_error(
        "graph: a PNG image is not for a terminal: redirect it to a file");
  }
  if (o.tree && o.graph_of.empty()) return usage_error("graph: --tree goes with --of");
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  std::optional<PortSpec> spec;
  if (!o.target.empty()) {
    auto parsed = parse_port_spec(o.target);
    if (!parsed) return usage_error(parsed.error().message);
    spec = *parsed;
    if (spec->proto) filter->want(*spec->proto);
  }
  auto snap = capture_for(o, *filter, spec ? std::optional(spec->port) : std::nullopt,
                          CaptureOptions::Details::all);
  if (!snap) return capture_failed(snap.error());
  std::vector<const Socket*> sockets = select_sockets(*snap, *filter);
  if (spec) std::erase_if(sockets, [&](const Socket* s) { return !spec->matches(*s); });
  GraphOptions graph;
  if (!o.graph_of.empty()) {
    graph.processes = named_pids(*snap, o.graph_of, o.tree);
    if (graph.processes.empty()) {
      fmt::print(stderr, "portrel: no process matches '{}'\n", sanitize(o.graph_of));
      return kExitNothing;
    }
    std::set<uint64_t> held;
    for (pid_t pid : graph.processes) {
      for (const Holding& h : snap->held_by(pid)) held.insert(h.inode);
    }
    std::erase_if(sockets, [&](const Socket* s) { return !held.contains(s->inode); });
  }

  std::string dot = graph_dot(*snap, sockets, graph);
  if (format == "dot") {
    fmt::print("{}", dot);
  } else {
    Result<std::string> picture = render_dot(dot, format);
    if (!picture) {
      fmt::print(stderr, "portrel: cannot render the graph: {}\n",
                 sanitize(picture.error().message));
      return kExitFailure;
    }
    std::fwrite(picture->data(), 1, picture->size(), stdout);
  }
  std::fflush(stdout);
  print_warnings(o, all_warnings(*snap, sockets));
  if (sockets.empty()) {
    fmt::print(stderr, "portrel: {}\n",
               spec ? "nothing " + std::string(o.all ? "uses" : "listens on") +
                          " port " + std::to_string(spec->port)
                    : std::string(o.all ? "no socket matches"
                                        : "no listening socket matches"));
  }
  return answer_exit(!sockets.empty(), partial_reason(*snap, !o.graph_of.empty()));
}

}  // namespace portrel
