// JSON and CSV renderers. Both walk socket_columns()/holder_columns(), so a new
// column appears in every format at once.
#include "output/render.h"

#include "output/columns.h"
#include "output/sharing_view.h"

namespace portrel {

nlohmann::json value_json(const Value& value) {
  struct Visitor {
    nlohmann::json operator()(std::monostate) const { return nullptr; }
    nlohmann::json operator()(int64_t v) const { return v; }
    nlohmann::json operator()(const std::string& v) const { return v; }
    nlohmann::json operator()(bool v) const { return v; }
  };
  return std::visit(Visitor{}, value);
}

nlohmann::json socket_json(const Snapshot& snapshot, const Socket& socket) {
  nlohmann::json obj = nlohmann::json::object();
  for (const SocketColumn& c : socket_columns()) {
    obj[std::string(c.name)] = value_json(c.get(snapshot, socket));
  }
  nlohmann::json holders = nlohmann::json::array();
  for (const Holding& h : snapshot.holders(socket.inode)) {
    nlohmann::json holder = nlohmann::json::object();
    const Process* p = snapshot.process(h.pid);
    for (const HolderColumn& c : holder_columns()) {
      holder[std::string(c.name)] = value_json(c.get(h, p));
    }
    holders.push_back(std::move(holder));
  }
  obj["holders"] = std::move(holders);
  return obj;
}

std::string sockets_document(const Snapshot& snapshot,
                             std::span<const Socket* const> sockets,
                             std::span<const std::string> warnings) {
  nlohmann::json doc = nlohmann::json::object();
  nlohmann::json rows = nlohmann::json::array();
  for (const Socket* s : sockets) rows.push_back(socket_json(snapshot, *s));
  doc["sockets"] = std::move(rows);
  doc["ports"] = ports_json(snapshot, sockets);
  doc["warnings"] =
      nlohmann::json(std::vector<std::string>(warnings.begin(), warnings.end()));
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
                        std::span<const Socket* const> sockets) {
  std::string out;
  for (const SocketColumn& c : socket_columns()) {
    out += std::string(c.name) + ",";
  }
  out += "holders\r\n";
  for (const Socket* s : sockets) {
    for (const SocketColumn& c : socket_columns()) {
      out += csv_field(value_text(c.get(snapshot, *s))) + ",";
    }
    std::string holders;
    for (const Holding& h : snapshot.holders(s->inode)) {
      if (!holders.empty()) holders += ';';
      holders += std::to_string(h.pid) + "/" + std::to_string(h.fd);
    }
    out += csv_field(holders) + "\r\n";
  }
  return out;
}

}  // namespace portrel
