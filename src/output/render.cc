// JSON and CSV renderers. Both walk socket_columns()/holder_columns(), so a new
// column appears in every format at once. JSON is streamed: each cell goes from
// its column getter straight into the writer's buffer, with no tree per socket.
#include "output/render.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "output/columns.h"
#include "output/sharing_view.h"
#include "output/views.h"
#include "util/beside.h"
#include "util/json_writer.h"

namespace portrel {
namespace {

// Hands each cell to the writer as a JSON value.
class JsonCell final : public CellSink {
 public:
  explicit JsonCell(JsonWriter& json) : json_(json) {}
  void null() override { json_.null(); }
  void integer(int64_t value) override { json_.integer(value); }
  void text(std::string_view value) override { json_.string(value); }
  void word(std::string_view value) override { json_.word(value); }
  void boolean(bool value) override { json_.boolean(value); }

 private:
  JsonWriter& json_;
};

// The socket and holder columns with their member names, quoted once per
// document rather than once per row. A process's own holder columns (name,
// exe, command line...) are written once per process and copied into each of
// its holder objects: a forked server's workers hold many sockets each.
struct JsonColumns {
  std::span<const SocketColumn> socket = socket_columns();
  std::span<const HolderColumn> holder = holder_columns();
  std::vector<JsonKey> socket_keys, holder_keys;
  JsonKey holders{"holders"};
  /// holder[process_from, process_to) are of_process: written from the cache.
  size_t process_from = 0, process_to = 0;
  std::unordered_map<const Process*, std::string> process_members;

  JsonColumns() {
    for (const SocketColumn& c : socket) socket_keys.emplace_back(c.name);
    for (const HolderColumn& c : holder) holder_keys.emplace_back(c.name);
    auto of_process = [](const HolderColumn& c) { return c.of_process; };
    auto first = std::find_if(holder.begin(), holder.end(), of_process);
    auto last = std::find_if_not(first, holder.end(), of_process);
    // One run after a column of the holding: its members follow a comma.
    if (first != holder.begin() && std::none_of(last, holder.end(), of_process)) {
      process_from = static_cast<size_t>(first - holder.begin());
      process_to = static_cast<size_t>(last - holder.begin());
    }
  }

  // ,"comm":...,"cmdline":... of P (null members when P is unknown).
  const std::string& members_of(const Holding& h, const Process* p) {
    auto [it, added] = process_members.try_emplace(p);
    if (added) {
      JsonWriter json;
      JsonCell cell(json);
      json.begin_object();
      for (size_t i = process_from; i < process_to; ++i) {
        json.key(holder_keys[i]);
        holder[i].write(h, p, cell);
      }
      it->second = json.take();
      it->second.front() = ',';  // they follow the holding's members: not '{' but ','
    }
    return it->second;
  }
};

void write_socket(JsonWriter& json, JsonColumns& columns, const Snapshot& snapshot,
                  const Socket& socket) {
  JsonCell cell(json);
  json.begin_object();
  for (size_t i = 0; i < columns.socket.size(); ++i) {
    json.key(columns.socket_keys[i]);
    columns.socket[i].write(snapshot, socket, cell);
  }
  json.key(columns.holders).begin_array();
  for (const Holding& h : snapshot.holders(socket)) {
    const Process* p = snapshot.process(h.pid);
    json.begin_object();
    for (size_t i = 0; i < columns.holder.size(); ++i) {
      if (i == columns.process_from && columns.process_to > i) {
        json.raw(columns.members_of(h, p));
        i = columns.process_to - 1;
        continue;
      }
      json.key(columns.holder_keys[i]);
      columns.holder[i].write(h, p, cell);
    }
    json.end_object();
  }
  json.end_array().end_object();
}

// "published": the forwarding rules that cover the port asked about, each with
// where it sends the port and the inodes listening there.
void write_published(JsonWriter& json, const Snapshot& snapshot,
                     std::span<const PublishedPort> published) {
  json.raw(",\n\"published\": ").begin_array();
  for (const PublishedPort& p : published) {
    const PortForward& f = p.rule;
    json.begin_object();
    json.key("proto").string(proto_name(f.proto));
    json.key("port").integer(p.port);
    json.key("address");
    if (f.address) json.string(f.address->to_string());
    else json.null();
    json.key("redirect").boolean(f.redirect);
    json.key("to_address");
    if (f.redirect) json.null();
    else json.string(f.to_addr.to_string());
    json.key("to_port").integer(p.to_port);
    json.key("rule").begin_object();
    json.key("family").string(f.family);
    json.key("table").string(f.table);
    json.key("chain").string(f.chain);
    json.key("handle").integer(f.handle);
    json.key("iptables_nft").boolean(f.xtables);
    json.end_object();
    json.key("netns");
    if (p.netns) json.integer(*p.netns);
    else json.null();
    json.key("netns_name");
    if (p.netns) json.string(netns_label(snapshot, *p.netns));
    else json.null();
    json.key("listeners").begin_array();
    for (const Socket* s : p.listeners) {
      json.begin_object().key("inode").integer(s->inode).key("pids").begin_array();
      for (const Holding& h : snapshot.holders(*s)) json.integer(h.pid);
      json.end_array().end_object();
    }
    json.end_array();
    json.key("sentence").string(published_sentence(snapshot, p));
    json.end_object();
  }
  json.end_array();
}

void write_document(JsonWriter& json, const Snapshot& snapshot,
                    std::span<const Socket* const> sockets,
                    std::span<const std::string> warnings,
                    const std::vector<const Socket*>* clients,
                    std::span<const PublishedPort> published = {}) {
  // The sharing analysis behind `ports`, and its sentences, run on another core
  // while the socket lines are written.
  struct Ports {
    std::vector<PortGroup> groups;
    std::vector<std::vector<std::string>> explanations;
  };
  auto pending = run_beside([&] {
    Ports ports{port_groups(snapshot, sockets), {}};
    ports.explanations.reserve(ports.groups.size());
    for (const PortGroup& g : ports.groups) {
      ports.explanations.push_back(sharing_sentences(snapshot, g));
    }
    return ports;
  });
  JsonColumns columns;
  json.raw("{\"sockets\": [");
  for (size_t i = 0; i < sockets.size(); ++i) {
    json.raw(i == 0 ? "\n" : ",\n");
    write_socket(json, columns, snapshot, *sockets[i]);
  }
  if (clients != nullptr) {
    json.raw("\n],\n\"clients\": [");
    for (size_t i = 0; i < clients->size(); ++i) {
      json.raw(i == 0 ? "\n" : ",\n");
      write_socket(json, columns, snapshot, *(*clients)[i]);
    }
  }
  json.raw("\n],\n\"ports\": ");
  Ports ports = pending.get();
  write_ports_json(json, snapshot, ports.groups, ports.explanations);
  if (!published.empty()) write_published(json, snapshot, published);
  json.raw(",\n\"warnings\": ").begin_array();
  for (const std::string& w : warnings) json.string(w);
  json.end_array().raw("}\n");
}

}  // namespace

void write_sockets_document(std::FILE* out, const Snapshot& snapshot,
                            std::span<const Socket* const> sockets,
                            std::span<const std::string> warnings,
                            const std::vector<const Socket*>* clients,
                            std::span<const PublishedPort> published) {
  JsonWriter json(out);
  write_document(json, snapshot, sockets, warnings, clients, published);
}

std::string sockets_document(const Snapshot& snapshot,
                             std::span<const Socket* const> sockets,
                             std::span<const std::string> warnings) {
  JsonWriter json;
  write_document(json, snapshot, sockets, warnings, nullptr);
  return json.take();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string sockets_csv(const Snapshot& snapshot,
                        std::span<const Socket* const> sockets,
                        const std::vector<const Socket*>* clients) {
  std::string out;
  for (const SocketColumn& c : socket_columns()) {
    out += std::string(c.name) + ",";
  }
  out += clients != nullptr ? "holders,role\r\n" : "holders\r\n";
  auto rows = [&](std::span<const Socket* const> some, const char* role) {
    for (const Socket* s : some) {
      for (const SocketColumn& c : socket_columns()) {
        out += csv_field(value_text(c.get(snapshot, *s))) + ",";
      }
      std::string holders;
      for (const Holding& h : snapshot.holders(s->inode)) {
        if (!holders.empty()) holders += ';';
        holders += std::to_string(h.pid) + "/" + std::to_string(h.fd);
      }
      out += csv_field(holders);
      if (role != nullptr) out += std::string(",") + role;
      out += "\r\n";
    }
  };
  rows(sockets, clients != nullptr ? "port" : nullptr);
  if (clients != nullptr) rows(*clients, "client");
  return out;
}

}  // namespace portrel
