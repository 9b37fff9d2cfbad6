// The columns of the socket relation and of its holders, declared once. This
// one table drives JSON, CSV, the SQL schema and the help text (`portrel
// columns`); the human table picks from it by name. A column's getter hands its
// cell to a CellSink, so the JSON writer receives text without a copy.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "portrel/snapshot.h"
#include "sources/workload.h"

namespace portrel {

/// A cell: null (unknown), integer, text, or boolean.
using Value = std::variant<std::monostate, int64_t, std::string, bool>;

/// Receives the one cell a column getter produces. Text lives only for the
/// call: a sink that keeps it copies it.
class CellSink {
 public:
  virtual void null() = 0;
  virtual void integer(int64_t value) = 0;
  virtual void text(std::string_view value) = 0;
  /// A text of portrel's own making (a protocol or state name, an address):
  /// printable ASCII without quotes or backslashes, which JSON takes as it is.
  virtual void word(std::string_view value) { text(value); }
  virtual void boolean(bool value) = 0;

 protected:
  ~CellSink() = default;
};

struct SocketColumn {
  std::string_view name;
  std::string_view type;  ///< "integer", "text", "boolean"
  std::string_view description;
  void (*write)(const Snapshot&, const Socket&, CellSink&);
  /// The cell as a Value.
  Value get(const Snapshot& snapshot, const Socket& socket) const;
};

struct HolderColumn {
  std::string_view name;
  std::string_view type;
  std::string_view description;
  void (*write)(const Holding&, const Process*, CellSink&);
  /// The value depends on the process alone (not on which fd it holds), so a
  /// renderer may write it once per process and reuse it.
  bool of_process = false;
  Value get(const Holding& holding, const Process* process) const;
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
  void (*write)(const Process&, CellSink&);
  Value get(const Process& process) const;
};

struct HoldingColumn {
  std::string_view name;
  std::string_view type;
  std::string_view description;
  void (*write)(const Holding&, CellSink&);
  Value get(const Holding& holding) const;
};

std::span<const ProcessColumn> process_columns();
std::span<const HoldingColumn> holding_columns();

/// The workload (container, conmon, machine, unit) of a process, from its
/// cgroup path and command line and the runtimes' state files; found once per
/// path and conmon id for the whole run.
const Workload& workload_of(const Process& process);

/// The workload as a table shows it: "podman web", "docker 3f2a9c1d5e6b",
/// "pod default/web (containerd)", "podman web (conmon)", "nginx.service";
/// "" when it names none. Sanitized.
std::string workload_label(const Workload& workload);

/// workload_of() for a live process whose capture read neither its cgroup nor
/// its command line: both are read from /proc/PID, once, into the same cache.
const Workload& workload_of_pid(pid_t pid);

/// Text of a cell as CSV and tables show it: "" for null, "true"/"false".
std::string value_text(const Value& value);

/// The netns as people read it: "host", the container every containerised
/// process in it belongs to ("podman webx", "pod default/web (containerd)"),
/// the /run/netns name, or "net:[INODE]".
std::string netns_label(const Snapshot& snapshot, uint64_t inode);

/// Room for a netns label that is not a /run/netns name.
using NetnsLabelBuffer = std::array<char, 32>;
/// The same label without allocating: the view points into BUF, SNAPSHOT or a
/// memo kept until another snapshot is labelled (copy it before that).
std::string_view netns_label(const Snapshot& snapshot, uint64_t inode,
                             NetnsLabelBuffer& buf);

}  // namespace portrel
