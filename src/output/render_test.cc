// The JSON document on a hand-built snapshot, parsed back with nlohmann and
// checked field by field against the column getters: what it must equal is what
// nlohmann wrote for the same cells before portrel streamed the document.
#include "output/render.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "analysis/sharing.h"
#include "analysis/test_snapshot.h"
#include "output/sharing_view.h"

namespace portrel {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using testing::kHostNs;

constexpr uint64_t kUnnamedNs = 4026532000, kBlueNs = 4026532111;

// A cell as the nlohmann writer gave it: strings with invalid UTF-8 replaced.
json old_json(const Value& value) {
  struct Visitor {
    json operator()(std::monostate) const { return nullptr; }
    json operator()(int64_t v) const { return v; }
    json operator()(const std::string& v) const { return v; }
    json operator()(bool v) const { return v; }
  };
  json j = std::visit(Visitor{}, value);
  return json::parse(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

// An ordered (as written) value as a plain one, to compare with json values.
json plain(const ordered_json& value) { return json::parse(value.dump()); }

json old_json(const std::vector<std::string>& texts) {
  return json::parse(json(texts).dump(-1, ' ', false, json::error_handler_t::replace));
}

Snapshot make_snapshot() {
  Process web = testing::proc(100, 1, "we\"b\x01");
  web.user = "www-data";
  web.cmdline = "web --title \"a\\b\"\n\x80\xff --\xc3(";
  Process worker = testing::proc(101, 100, "web");
  worker.exe = "";  // unreadable: null
  worker.user = "root";

  Socket v4 = testing::sock(10, Proto::tcp, "0.0.0.0", 80);
  v4.cookie = 0xffffffffffffffff;
  v4.reuseaddr = Tristate::yes;
  v4.reuseaddr_from = OptSource::bpf;
  v4.tx_queue = 511;
  Socket v6 = testing::sock(11, Proto::tcp, "::", 80);
  v6.v6only = Tristate::yes;
  v6.v6only_from = OptSource::diag;
  Socket unheld = testing::sock(12, Proto::udp, "10.0.0.1", 53, 0, kUnnamedNs);
  Socket time_wait = testing::sock(0, Proto::tcp, "127.0.0.1", 8080, kStateTimeWait);
  time_wait.remote_addr = *Address::parse("127.0.0.1");
  time_wait.remote_port = 51000;
  Socket blue = testing::sock(14, Proto::udp, "fe80::1", 5353, 0, kBlueNs);
  blue.bound_dev = 2;

  return Snapshot({testing::proc(1, 0, "init"), web, worker},
                  {v4, v6, unheld, time_wait, blue},
                  {{100, 3, 10, false},
                   {101, 3, 10, true},
                   {100, 4, 11, false},
                   {100, 5, 14, true}},
                  {Netns{kHostNs, "", true, true, {}}, Netns{kUnnamedNs, "", false, true, {}},
                   Netns{kBlueNs, "blue", false, true, {}}},
                  {"37 processes unreadable: run as root", "bad \xff bytes"});
}

class Document : public ::testing::Test {
 protected:
  Snapshot snap = make_snapshot();
  std::vector<const Socket*> sockets = testing::all(snap);
  std::vector<std::string> warnings{snap.warnings().begin(), snap.warnings().end()};
  std::string text = sockets_document(snap, sockets, warnings);
  ordered_json doc = ordered_json::parse(text, nullptr, false);
};

TEST_F(Document, IsValidJsonWithSocketsPortsAndWarnings) {
  ASSERT_FALSE(doc.is_discarded()) << text;
  std::vector<std::string> keys;
  for (const auto& [key, value] : doc.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"sockets", "ports", "warnings"}));
  EXPECT_EQ(doc["sockets"].size(), 5u);
  EXPECT_EQ(plain(doc["warnings"]), old_json(warnings));
  EXPECT_EQ(doc["warnings"][1], "bad \xef\xbf\xbd bytes");
}

TEST_F(Document, EverySocketFieldIsItsColumnGetter) {
  ASSERT_EQ(doc["sockets"].size(), sockets.size());
  for (size_t i = 0; i < sockets.size(); ++i) {
    const Socket& s = *sockets[i];
    json got = plain(doc["sockets"][i]);
    for (const SocketColumn& c : socket_columns()) {
      EXPECT_EQ(got.at(c.name), old_json(c.get(snap, s))) << s.inode << " " << c.name;
    }
    std::span<const Holding> holders = snap.holders(s.inode);
    ASSERT_EQ(got.at("holders").size(), holders.size()) << s.inode;
    for (size_t k = 0; k < holders.size(); ++k) {
      const Process* p = snap.process(holders[k].pid);
      for (const HolderColumn& c : holder_columns()) {
        EXPECT_EQ(got["holders"][k].at(c.name), old_json(c.get(holders[k], p)))
            << s.inode << " holder " << k << " " << c.name;
      }
    }
  }
}

TEST_F(Document, CellsHaveTheirJsonTypes) {
  ordered_json& v4 = doc["sockets"][0];  // sorted by (netns, proto, port, inode)
  ASSERT_EQ(v4["inode"], 10);
  EXPECT_EQ(v4["cookie"], -1) << "cookies are signed 64-bit, as before";
  EXPECT_EQ(v4["reuseaddr"], true);
  EXPECT_TRUE(v4["reuseport"].is_null());
  EXPECT_EQ(v4["reuseaddr_from"], "bpf");
  EXPECT_TRUE(v4["owner"].is_null());
  EXPECT_EQ(v4["holders"][0]["comm"], "we\"b\x01");
  EXPECT_EQ(v4["holders"][0]["cmdline"],
            "web --title \"a\\b\"\n\xef\xbf\xbd\xef\xbf\xbd --\xef\xbf\xbd(");
  EXPECT_EQ(v4["holders"][1]["cloexec"], true);
  EXPECT_TRUE(v4["holders"][1]["exe"].is_null());
  bool saw_unheld = false;
  for (const auto& s : doc["sockets"]) {
    if (s["inode"] != 12) continue;
    saw_unheld = true;
    EXPECT_EQ(s["netns_name"], "net:[4026532000]");
    EXPECT_EQ(plain(s["owner"]), json(unowned_reason(Unowned::hidden)));
    EXPECT_TRUE(s["holders"].empty());
  }
  EXPECT_TRUE(saw_unheld);
}

TEST_F(Document, KeysComeInColumnOrder) {
  std::vector<std::string> socket_keys, holder_keys;
  for (const SocketColumn& c : socket_columns()) socket_keys.emplace_back(c.name);
  socket_keys.push_back("holders");
  for (const HolderColumn& c : holder_columns()) holder_keys.emplace_back(c.name);
  for (const auto& s : doc["sockets"]) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : s.items()) keys.push_back(key);
    EXPECT_EQ(keys, socket_keys);
    for (const auto& h : s["holders"]) {
      keys.clear();
      for (const auto& [key, value] : h.items()) keys.push_back(key);
      EXPECT_EQ(keys, holder_keys);
    }
  }
}

TEST_F(Document, OneSocketPerLine) {
  std::vector<std::string> lines;
  for (size_t at = 0, next; at < text.size(); at = next + 1) {
    next = text.find('\n', at);
    lines.push_back(text.substr(at, next - at));
  }
  ASSERT_EQ(lines.size(), sockets.size() + 4) << text;
  EXPECT_EQ(lines[0], "{\"sockets\": [");
  for (size_t i = 0; i < sockets.size(); ++i) {
    std::string line = lines[i + 1];
    if (i + 1 < sockets.size()) {
      ASSERT_EQ(line.back(), ',');
      line.pop_back();
    }
    json socket = json::parse(line, nullptr, false);
    ASSERT_FALSE(socket.is_discarded()) << line;
    EXPECT_EQ(socket["inode"], sockets[i]->inode);
  }
  EXPECT_EQ(lines[sockets.size() + 1], "],");
  EXPECT_TRUE(lines[sockets.size() + 2].starts_with("\"ports\": ["));
  EXPECT_TRUE(lines[sockets.size() + 3].starts_with("\"warnings\": ["));
}

TEST_F(Document, PortsDescribeEachPortGroup) {
  std::vector<PortGroup> groups = port_groups(snap, sockets);
  ASSERT_EQ(doc["ports"].size(), groups.size());
  ASSERT_GE(groups.size(), 3u);
  for (size_t i = 0; i < groups.size(); ++i) {
    const PortGroup& g = groups[i];
    const ordered_json& p = doc["ports"][i];
    std::vector<std::string> keys;
    for (const auto& [key, value] : p.items()) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"netns", "netns_name", "port", "protos",
                                              "sockets", "pids", "shared", "sharing",
                                              "explanation"}));
    EXPECT_EQ(p["netns"], g.netns);
    EXPECT_EQ(plain(p["netns_name"]), json(netns_label(snap, g.netns)));
    EXPECT_EQ(p["port"], g.port);
    std::vector<uint64_t> inodes;
    for (const Socket* s : g.sockets) inodes.push_back(s->inode);
    EXPECT_EQ(plain(p["sockets"]), json(inodes));
    EXPECT_EQ(plain(p["pids"]), json(g.pids));
    EXPECT_EQ(p["shared"], g.shared());
    std::vector<std::string> kinds;
    for (SharingKind k : g.kinds()) kinds.emplace_back(sharing_kind_name(k));
    EXPECT_EQ(plain(p["sharing"]), json(kinds));
    EXPECT_EQ(plain(p["explanation"]), old_json(sharing_sentences(snap, g)));
  }
  const ordered_json& web = doc["ports"][0];
  ASSERT_EQ(web["port"], 80);
  EXPECT_EQ(plain(web["protos"]), json::parse(R"(["tcp"])"));
  EXPECT_EQ(plain(web["sharing"]), json::parse(R"(["inherited", "dual-stack"])"));
  EXPECT_FALSE(web["explanation"].empty());
}

TEST_F(Document, FileAndStringAreTheSame) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* mem = open_memstream(&data, &size);
  ASSERT_NE(mem, nullptr);
  write_sockets_document(mem, snap, sockets, warnings);
  std::fclose(mem);
  EXPECT_EQ(std::string(data, size), text);
  std::free(data);
}

// Many sockets (the ports analysis runs beside the lines): every line comes out
// whole, once, in the order given.
TEST(LargeDocument, LinesKeepTheOrderGiven) {
  std::vector<Socket> rows;
  std::vector<Holding> holdings;
  for (uint64_t i = 1; i <= 5000; ++i) {
    rows.push_back(testing::sock(i, Proto::tcp, "127.0.0.1", static_cast<uint16_t>(i)));
    holdings.push_back({100, static_cast<int>(i), i, false});
  }
  Snapshot snap({testing::proc(100, 1, "srv")}, std::move(rows), std::move(holdings),
                {Netns{kHostNs, "", true, true, {}}}, {});
  std::vector<const Socket*> sockets = testing::all(snap);
  std::reverse(sockets.begin(), sockets.end());  // not the snapshot's own order
  std::string text = sockets_document(snap, sockets, {});
  json doc = json::parse(text, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  ASSERT_EQ(doc["sockets"].size(), sockets.size());
  for (size_t i = 0; i < sockets.size(); ++i) {
    ASSERT_EQ(doc["sockets"][i]["inode"], sockets[i]->inode) << "line " << i;
    ASSERT_EQ(doc["sockets"][i]["holders"].size(), 1u);
  }
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<long>(sockets.size()) + 4);
}

TEST(EmptyDocument, HasEmptyArrays) {
  Snapshot snap;
  std::string text = sockets_document(snap, {}, {});
  EXPECT_EQ(text, "{\"sockets\": [\n],\n\"ports\": [],\n\"warnings\": []}\n");
  json doc = json::parse(text);
  EXPECT_TRUE(doc["sockets"].empty());
}

TEST(Csv, CellsAreTheColumnGetters) {
  Snapshot snap = make_snapshot();
  std::vector<const Socket*> sockets = testing::all(snap);
  std::string csv = sockets_csv(snap, sockets);
  std::string header;
  for (const SocketColumn& c : socket_columns()) header += std::string(c.name) + ",";
  EXPECT_TRUE(csv.starts_with(header + "holders\r\n"));
  std::string row;
  for (const SocketColumn& c : socket_columns()) {
    row += csv_field(value_text(c.get(snap, *sockets[0]))) + ",";
  }
  EXPECT_NE(csv.find("\r\n" + row + "100/3;101/3\r\n"), std::string::npos) << csv;
}

}  // namespace
}  // namespace portrel
