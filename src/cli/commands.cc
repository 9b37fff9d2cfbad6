// The table of subcommands. A new command adds one line here and a file of its
// own with its configure and run functions.
#include "cli/commands.h"

#include <array>

namespace portrel {
namespace {

constexpr std::array kCommands = {
    Command{"", "listening TCP and bound UDP sockets with their holders (default)",
            configure_list, run_list},
    Command{"who",
            "every socket on a port, in every netns, and every process holding it",
            configure_who, run_who},
    Command{"of", "every socket a process (or processes of that name) holds",
            configure_of, run_of},
    Command{"shared", "only the ports held by several processes or sockets, and how",
            configure_shared, run_shared},
    Command{"graph",
            "the relation as a picture: Graphviz DOT, or an image with --format svg or "
            "png (processes grouped by tree and container, sockets by port)",
            configure_graph, run_graph},
    Command{"audit",
            "what is wrong with how ports are held: cloexec, leaked, herd, exposed, "
            "unowned (exit 3 on warnings)",
            configure_audit, run_audit},
    Command{"why-busy",
            "would bind(ADDR:PORT) succeed now? which sockets block it, and what would "
            "change that (exit 0 yes, 1 no, 3 uncertain)",
            configure_why_busy, run_why_busy},
    Command{"columns", "the columns of the JSON and CSV output, with their meaning",
            configure_columns, run_columns},
    Command{"sql", "an SQL query over process, socket and holding (see --schema)",
            configure_sql, run_sql},
    Command{"snapshot", "write the whole relation to a SQLite file (query it with sql --db)",
            configure_snapshot, run_snapshot},
    Command{"free",
            "free a port: signal (through pidfds) the processes whose exit frees it, "
            "after showing the plan and asking; --connections closes its connections "
            "(exit 0 free, 3 only TIME_WAIT left, 1 still held or nothing done)",
            configure_free, run_free},
    Command{"serve",
            "Prometheus metrics on /metrics (--listen ADDR:PORT), or a file for "
            "node_exporter's textfile collector (--textfile DIR)",
            configure_serve, run_serve},
    Command{"watch",
            "print each change of the relation as it happens: ports opened and closed, "
            "holders joined (fork, received) and left (exit, close), sharing changed "
            "(--format json: JSON lines)",
            configure_watch, run_watch},
    Command{"record",
            "keep the relation's history in a SQLite file as validity intervals "
            "(runs as a service: packaging/portrel-record.service)",
            configure_record, run_record},
    Command{"history",
            "which processes held a port at a time or during a span (--at, --since, "
            "--until), or which ports a process held (history of PID|NAME)",
            configure_history, run_history},
    Command{"doctor",
            "what portrel can see on this host and why not: kernel, privileges, bpf parts, "
            "sock_diag families (exit 3 when degraded)",
            configure_doctor, run_doctor},
};

}  // namespace

std::span<const Command> commands() { return kCommands; }

}  // namespace portrel
