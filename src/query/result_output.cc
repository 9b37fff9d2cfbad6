// Rendering of query results, reusing the table and CSV helpers of output/.
#include "query/result_output.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "output/render.h"
#include "output/table.h"
#include "util/text.h"

namespace portrel {

std::string sql_value_text(const SqlValue& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return fmt::format("{:.15g}", v); }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
  };
  return std::visit(Visitor{}, value);
}

std::string result_table(const ResultSet& result, bool color) {
  std::vector<std::string> headers;
  for (size_t c = 0; c < result.columns.size(); ++c) {
    bool numeric = false;
    for (const auto& row : result.rows) {
      if (std::holds_alternative<std::monostate>(row[c])) continue;
      numeric = std::holds_alternative<int64_t>(row[c]) ||
                std::holds_alternative<double>(row[c]);
      break;
    }
    std::string name = sanitize(result.columns[c]);
    headers.push_back(numeric && !name.starts_with('>') ? ">" + name : name);
  }
  Table table(std::move(headers));
  for (const auto& row : result.rows) {
    std::vector<Cell> cells;
    for (const SqlValue& v : row) cells.push_back({sanitize(sql_value_text(v))});
    table.add(std::move(cells));
  }
  return table.render(color);
}

std::string result_json(const ResultSet& result, std::span<const std::string> warnings) {
  struct Visitor {
    nlohmann::ordered_json operator()(std::monostate) const { return nullptr; }
    nlohmann::ordered_json operator()(int64_t v) const { return v; }
    nlohmann::ordered_json operator()(double v) const { return v; }
    nlohmann::ordered_json operator()(const std::string& v) const { return v; }
    nlohmann::ordered_json operator()(bool v) const { return v; }
  };
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  doc["columns"] = result.columns;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : result.rows) {
    nlohmann::ordered_json obj = nlohmann::ordered_json::object();
    for (size_t c = 0; c < row.size(); ++c) {
      obj[result.columns[c]] = std::visit(Visitor{}, row[c]);
    }
    rows.push_back(std::move(obj));
  }
  doc["rows"] = std::move(rows);
  doc["warnings"] = std::vector<std::string>(warnings.begin(), warnings.end());
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

std::string result_csv(const ResultSet& result) {
  std::string out;
  for (size_t c = 0; c < result.columns.size(); ++c) {
    out += (c ? "," : "") + csv_field(result.columns[c]);
  }
  out += "\r\n";
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += (c ? "," : "") + csv_field(sql_value_text(row[c]));
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace portrel
