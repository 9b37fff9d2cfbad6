// The relations the analysis derives, as SQL tables: `sharing` (how each port is
// shared: one row per port, kind and socket involved) and `finding` (the audit,
// one row per finding). Their columns are declared here once, like the base
// tables' in output/columns.h, and their rows come from analysis/ itself, so SQL
// and the `shared`/`audit` commands cannot disagree.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "analysis/audit.h"
#include "output/columns.h"
#include "portrel/snapshot.h"

namespace portrel {

struct DerivedColumn {
  std::string_view name;
  std::string_view type;
  std::string_view description;
};

std::span<const DerivedColumn> sharing_columns();
std::span<const DerivedColumn> finding_columns();

using Rows = std::vector<std::vector<Value>>;

/// One row per (netns, port, kind, socket) over port_groups(SOCKETS).
Rows sharing_rows(const Snapshot& snapshot, std::span<const Socket* const> sockets);

/// One row per finding of audit(SOCKETS, EVIDENCE), in the audit's order.
Rows finding_rows(const Snapshot& snapshot, std::span<const Socket* const> sockets,
                  const AuditEvidence& evidence);

}  // namespace portrel
