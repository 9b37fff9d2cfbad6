// How ports are shared, for people and programs: the SHARING cell of the
// listing and `who`, the sentences under `who`, the `portrel shared` table, and
// the `ports` array of the JSON document.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "analysis/sharing.h"
#include "portrel/snapshot.h"

namespace portrel {

class JsonWriter;

/// "inherited,dual-stack", or "" for none.
std::string kinds_text(std::span<const SharingKind> kinds);

/// One sentence per kind of GROUP, e.g. "one socket (tcp 0.0.0.0:80) inherited
/// by nginx 1201 and its 8 children: one accept queue". Names are sanitised.
std::vector<std::string> sharing_sentences(const Snapshot& snapshot, const PortGroup& group);

/// Writes the `ports` array: one object per port group (port_groups() of the
/// document's sockets) with its protocols, socket inodes, holder pids,
/// `sharing` (kind names) and one `explanation` sentence per kind: those of
/// EXPLANATIONS (sharing_sentences() of each group, in order, made beforehand)
/// when given.
void write_ports_json(JsonWriter& json, const Snapshot& snapshot,
                      std::span<const PortGroup> groups,
                      std::span<const std::vector<std::string>> explanations = {});

/// `portrel shared`: one block per shared port: a line with the port, its kinds
/// and holders, then its sentences.
std::string shared_table(const Snapshot& snapshot, std::span<const PortGroup> groups,
                         bool color);

}  // namespace portrel
