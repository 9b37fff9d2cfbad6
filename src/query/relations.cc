// Rows of process, socket and holding over a Snapshot. Lookups by pid use the
// snapshot's own index; the socket and holding lookups are built on first use,
// so a query that never joins on them never pays for them.
#include "query/relations.h"

#include <algorithm>
#include <unordered_set>

namespace portrel {

std::string_view table_name(TableId table) {
  switch (table) {
    case TableId::process: return "process";
    case TableId::socket: return "socket";
    case TableId::holding: return "holding";
    case TableId::sharing: return "sharing";
    case TableId::finding: return "finding";
  }
  return "";
}

size_t column_count(TableId table) {
  switch (table) {
    case TableId::process: return process_columns().size();
    case TableId::socket: return socket_columns().size();
    case TableId::holding: return holding_columns().size();
    case TableId::sharing: return sharing_columns().size();
    case TableId::finding: return finding_columns().size();
  }
  return 0;
}

namespace {

template <typename F>
auto with_column(TableId table, size_t column, F f) {
  switch (table) {
    case TableId::process: return f(process_columns()[column]);
    case TableId::socket: return f(socket_columns()[column]);
    case TableId::holding: return f(holding_columns()[column]);
    case TableId::sharing: return f(sharing_columns()[column]);
    case TableId::finding: break;
  }
  return f(finding_columns()[column]);
}

}  // namespace

std::string_view column_name(TableId table, size_t column) {
  return with_column(table, column, [](const auto& c) { return c.name; });
}
std::string_view column_type(TableId table, size_t column) {
  return with_column(table, column, [](const auto& c) { return c.type; });
}
std::string_view column_description(TableId table, size_t column) {
  return with_column(table, column, [](const auto& c) { return c.description; });
}

Relations::Relations(const Snapshot& snapshot, SocketFilter keep, const void* context)
    : snap_(snapshot) {
  sockets_.reserve(snap_.sockets().size());
  for (const Socket& s : snap_.sockets()) {
    if (!keep || keep(context, snap_, s)) sockets_.push_back(&s);
  }
  holdings_.reserve(snap_.holdings().size());
  if (sockets_.size() == snap_.sockets().size()) {
    for (const Holding& h : snap_.holdings()) holdings_.push_back(&h);
  } else {
    std::unordered_set<uint64_t> kept;
    for (const Socket* s : sockets_) kept.insert(s->inode);
    for (const Holding& h : snap_.holdings()) {
      if (kept.contains(h.inode)) holdings_.push_back(&h);
    }
  }
}

size_t Relations::size(TableId table) const {
  switch (table) {
    case TableId::process: return snap_.processes().size();
    case TableId::socket: return sockets_.size();
    case TableId::holding: return holdings_.size();
    case TableId::sharing:
    case TableId::finding: return derived(table).size();
  }
  return 0;
}

const Rows& Relations::derived(TableId table) const {
  if (table == TableId::sharing) {
    if (!sharing_) sharing_ = sharing_rows(snap_, sockets_);
    return *sharing_;
  }
  if (!finding_) {
    AuditEvidence evidence;
    if (waits_) {
      std::vector<pid_t> pids;
      for (const Socket* s : sockets_) {
        if (!s->is_listening()) continue;
        for (const Holding& h : snap_.holders(s->inode)) pids.push_back(h.pid);
      }
      std::ranges::sort(pids);
      pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
      evidence = waits_(pids);
    }
    finding_ = finding_rows(snap_, sockets_, evidence);
  }
  return *finding_;
}

Value Relations::value(TableId table, size_t row, size_t column) const {
  switch (table) {
    case TableId::process:
      return process_columns()[column].get(snap_.processes()[row]);
    case TableId::socket:
      return socket_columns()[column].get(snap_, *sockets_[row]);
    case TableId::holding:
      return holding_columns()[column].get(*holdings_[row]);
    case TableId::sharing:
    case TableId::finding: return derived(table)[row][column];
  }
  return {};
}

bool Relations::indexed(TableId table, size_t column) {
  std::string_view name = column_name(table, column);
  switch (table) {
    case TableId::process: return name == "pid";
    case TableId::socket: return name == "inode" || name == "local_port";
    case TableId::holding: return name == "pid" || name == "inode";
    case TableId::sharing:
    case TableId::finding: return false;
  }
  return false;
}

std::vector<uint32_t> Relations::lookup(TableId table, size_t column, int64_t key) {
  std::string_view name = column_name(table, column);
  std::vector<uint32_t> rows;
  auto from = [&](const auto& index, auto k) {
    if (auto it = index.find(k); it != index.end()) rows = it->second;
  };
  if (table == TableId::process) {
    if (key < 0 || key > INT32_MAX) return rows;
    if (const Process* p = snap_.process(static_cast<pid_t>(key))) {
      rows.push_back(static_cast<uint32_t>(p - snap_.processes().data()));
    }
  } else if (table == TableId::socket && name == "inode") {
    if (!socket_by_inode_) {
      socket_by_inode_.emplace();
      for (uint32_t i = 0; i < sockets_.size(); ++i) {
        (*socket_by_inode_)[sockets_[i]->inode].push_back(i);
      }
    }
    from(*socket_by_inode_, static_cast<uint64_t>(key));
  } else if (table == TableId::socket) {
    if (key < 0 || key > UINT32_MAX) return rows;
    if (!socket_by_port_) {
      socket_by_port_.emplace();
      for (uint32_t i = 0; i < sockets_.size(); ++i) {
        (*socket_by_port_)[sockets_[i]->local_port].push_back(i);
      }
    }
    from(*socket_by_port_, static_cast<uint32_t>(key));
  } else if (table == TableId::holding && name == "inode") {
    auto [lo, hi] = std::ranges::equal_range(
        holdings_, static_cast<uint64_t>(key), {}, [](const Holding* h) { return h->inode; });
    for (auto it = lo; it != hi; ++it) {
      rows.push_back(static_cast<uint32_t>(it - holdings_.begin()));
    }
  } else if (table == TableId::holding) {
    if (key < 0 || key > INT32_MAX) return rows;
    if (!holding_by_pid_) {
      holding_by_pid_.emplace();
      for (uint32_t i = 0; i < holdings_.size(); ++i) {
        (*holding_by_pid_)[holdings_[i]->pid].push_back(i);
      }
    }
    from(*holding_by_pid_, static_cast<pid_t>(key));
  }
  return rows;
}

}  // namespace portrel
