// JSON and CSV renderers. Both walk socket_columns()/holder_columns(), so a new
// column appears in every format at once.
#include "output/render.h"

#include <cstdlib>

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

void write_sockets_document(std::FILE* out, const Snapshot& snapshot,
                            std::span<const Socket* const> sockets,
                            std::span<const std::string> warnings) {
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  std::fputs("{\"sockets\": [", out);
  std::string line;
  for (size_t i = 0; i < sockets.size(); ++i) {
    line = i == 0 ? "\n" : ",\n";
    line += socket_json(snapshot, *sockets[i]).dump(-1, ' ', false, kReplace);
    std::fwrite(line.data(), 1, line.size(), out);
  }
  std::fputs("\n],\n\"ports\": ", out);
  line = ports_json(snapshot, sockets).dump(-1, ' ', false, kReplace);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fputs(",\n\"warnings\": ", out);
  line = nlohmann::json(std::vector<std::string>(warnings.begin(), warnings.end()))
             .dump(-1, ' ', false, kReplace);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fputs("}\n", out);
}

std::string sockets_document(const Snapshot& snapshot,
                             std::span<const Socket* const> sockets,
                             std::span<const std::string> warnings) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* mem = open_memstream(&data, &size);
  if (mem == nullptr) return "";
  write_sockets_document(mem, snapshot, sockets, warnings);
  std::fclose(mem);
  std::string text(data, size);
  std::free(data);
  return text;
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
