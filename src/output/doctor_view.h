// What `portrel doctor` found on this host (sources/doctor.h), for people and
// programs.
#pragma once

#include <string>

#include "sources/doctor.h"

namespace portrel {

/// {"kernel", "btf", "privilege", "bpf" (with its parts), "sock_diag",
/// "bind_rules", "socket_events", "pid_namespace", "fd_tables", "degraded"},
/// indented by two, no trailing newline; a reason that is empty, and an
/// option not known, is null. DEGRADED: whether some answer is not the best
/// this host could give, as the caller judged it.
std::string doctor_json(const HostReport& report, bool degraded);

/// A page: one labelled line per fact (kernel, BTF, privilege, pid namespace,
/// fd tables, bpffs, bpf source), a table of the bpf parts and one of the
/// sock_diag families, then the bind rules and the socket-event hooks. Texts
/// from the system are sanitised.
std::string doctor_page(const HostReport& report, bool color);

}  // namespace portrel
