// The tables of the SQL schema as rows over one Snapshot: the base relations
// (process, socket, holding), with the lookups a join needs (by pid, by inode, by
// port), and the derived ones (sharing, finding), computed on first use. Both the
// live virtual tables and the snapshot writer read rows through here, so a query
// and a saved file see exactly the same relation.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "output/columns.h"
#include "portrel/snapshot.h"
#include "query/derived.h"

namespace portrel {

enum class TableId : uint8_t { process, socket, holding, sharing, finding };
inline constexpr TableId kTables[] = {TableId::process, TableId::socket,
                                      TableId::holding, TableId::sharing,
                                      TableId::finding};
/// Whether the table's rows need the socket dump (all but process do).
inline bool needs_sockets(TableId table) { return table != TableId::process; }

/// "process", "socket", "holding", "sharing", "finding".
std::string_view table_name(TableId table);

/// Which sockets the relation keeps; processes are always all of them.
using SocketFilter = bool (*)(const void* context, const Snapshot&, const Socket&);
/// Who waits on the listeners of these holders (read from /proc by the caller);
/// the audit uses it to judge herds and abandoned listeners.
using WaitReader = std::function<AuditEvidence(std::span<const pid_t> holders)>;

class Relations {
 public:
  /// Keeps every socket of SNAPSHOT for which KEEP (with CONTEXT) is true, or all
  /// of them when KEEP is null, and the holdings of kept sockets. SNAPSHOT must
  /// outlive this object.
  Relations(const Snapshot& snapshot, SocketFilter keep = nullptr,
            const void* context = nullptr);
  /// WAITS feeds `finding`; without it the audit sees only the snapshot.
  void set_wait_reader(WaitReader waits) { waits_ = std::move(waits); }

  const Snapshot& snapshot() const { return snap_; }
  size_t size(TableId table) const;
  /// The value of column COLUMN (an index into that table's declarations).
  Value value(TableId table, size_t row, size_t column) const;

  /// Whether COLUMN of TABLE can be looked up by equality (pid, inode, port).
  static bool indexed(TableId table, size_t column);
  /// Rows whose indexed COLUMN equals KEY, in row order.
  std::vector<uint32_t> lookup(TableId table, size_t column, int64_t key);

 private:
  const Snapshot& snap_;
  std::vector<const Socket*> sockets_;
  std::vector<const Holding*> holdings_;  // sorted by (inode, pid, fd)
  WaitReader waits_;
  const Rows& derived(TableId table) const;
  mutable std::optional<Rows> sharing_, finding_;
  // Built on first use.
  std::optional<std::unordered_map<uint64_t, std::vector<uint32_t>>> socket_by_inode_;
  std::optional<std::unordered_map<uint32_t, std::vector<uint32_t>>> socket_by_port_;
  std::optional<std::unordered_map<pid_t, std::vector<uint32_t>>> holding_by_pid_;
};

/// Column count and declarations per table, from output/columns.h.
size_t column_count(TableId table);
std::string_view column_name(TableId table, size_t column);
std::string_view column_type(TableId table, size_t column);
std::string_view column_description(TableId table, size_t column);

}  // namespace portrel
