// `portrel doctor`: what portrel can see on this host and why not, as a page
// for people or one JSON document. Exit 0 when every part of the answer can be
// read the best way, 3 when something is degraded (a part refused, a fd table
// unreadable, no privilege), so that scripts can check a host.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/report.h"
#include "output/doctor_view.h"
#include "sources/doctor.h"

namespace portrel {
namespace {

// Whether the answer of every command is as good as it gets here.
bool degraded(const HostReport& r) {
  if (!r.bpf_usable || r.fd_unreadable > 0) return true;
  for (const BpfPartStatus& p : r.bpf_parts) {
    if (p.state != BpfPartState::loaded) return true;
  }
  return false;
}

}  // namespace

void configure_doctor(CLI::App&, Options&) {}

int run_doctor(const Options& o) {
  HostReport r = examine_host();
  if (o.format == Format::json) {
    fmt::print("{}\n", doctor_json(r, degraded(r)));
  } else {
    fmt::print("{}", doctor_page(r, use_color(o)));
  }
  return degraded(r) ? kExitUncertain : kExitFound;
}

}  // namespace portrel
