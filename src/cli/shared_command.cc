// `portrel shared`: only the ports held by more than one process or socket, each
// with its sharing kinds and a sentence per kind. JSON is the usual document
// restricted to those ports' sockets; CSV has one line per port.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <set>

#include "analysis/sharing.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/report.h"
#include "output/columns.h"
#include "output/render.h"
#include "output/sharing_view.h"

namespace portrel {

void configure_shared(CLI::App&, Options&) {}

int run_shared(const Options& o) {
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  auto snap = capture_for(o, *filter);
  if (!snap) return capture_failed(snap.error());
  std::vector<const Socket*> sockets = select_sockets(*snap, *filter);
  std::vector<PortGroup> groups = port_groups(*snap, sockets);
  std::erase_if(groups, [](const PortGroup& g) { return !g.shared(); });
  std::set<const Socket*> kept;
  for (const PortGroup& g : groups) kept.insert(g.sockets.begin(), g.sockets.end());
  std::erase_if(sockets, [&](const Socket* s) { return !kept.contains(s); });
  std::vector<std::string> warnings = all_warnings(*snap, sockets);

  switch (o.format) {
    case Format::json:
      write_sockets_document(stdout, *snap, sockets, warnings);
      break;
    case Format::csv:
      fmt::print("netns,netns_name,port,protos,sockets,processes,sharing\r\n");
      for (const PortGroup& g : groups) {
        std::string protos;
        for (const Socket* s : g.sockets) {
          std::string p(proto_name(s->proto));
          if (protos.find(p) == std::string::npos) protos += (protos.empty() ? "" : ";") + p;
        }
        std::string kinds = kinds_text(g.kinds());
        std::ranges::replace(kinds, ',', ';');
        fmt::print("{},{},{},{},{},{},{}\r\n", g.netns,
                   csv_field(netns_label(*snap, g.netns)), g.port, protos, g.sockets.size(),
                   g.pids.size(), kinds);
      }
      print_warnings(o, warnings);
      break;
    case Format::table:
      if (!groups.empty()) print_fitted(shared_table(*snap, groups, use_color(o)));
      print_warnings(o, warnings);
      break;
  }
  if (groups.empty()) fmt::print(stderr, "portrel: no port is shared\n");
  return answer_exit(!groups.empty(), partial_reason(*snap));
}

}  // namespace portrel
