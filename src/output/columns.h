// The columns of the socket relation and of its holders, declared once. This
// one table drives JSON, CSV and the help text (`portrel columns`); the human
// table picks from it by name.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "portrel/snapshot.h"

namespace portrel {

/// A cell: null (unknown), integer, text, or boolean.
using Value = std::variant<std::monostate, int64_t, std::string, bool>;

struct SocketColumn {
  std::string_view name;
  std::string_view type;  ///< "integer", "text", "boolean"
  std::string_view description;
  Value (*get)(const Snapshot&, const Socket&);
};

struct HolderColumn {
  std::string_view name;
  std::string_view type;
  std::string_view description;
  Value (*get)(const Holding&, const Process*);
};

std::span<const SocketColumn> socket_columns();
std::span<const HolderColumn> holder_columns();

/// The `process` relation (one row per process) and the `holding` join table
/// (pid, fd, inode, cloexec), declared like the others; the SQL schema is built
/// from these.
struct ProcessColumn {
  std::string_view name;
  std::string_view type;
  std::string_view description;
  Value (*get)(const Process&);
};

struct HoldingColumn {
  std::string_view name;
  std::string_view type;
  std::string_view description;
  Value (*get)(const Holding&);
};

std::span<const ProcessColumn> process_columns();
std::span<const HoldingColumn> holding_columns();

/// Text of a cell as CSV and tables show it: "" for null, "true"/"false".
std::string value_text(const Value& value);

/// The netns as people read it: "host", the /run/netns name, or "net:[INODE]".
std::string netns_label(const Snapshot& snapshot, uint64_t inode);

}  // namespace portrel
