// Aligned tables. Widths are measured in code points of sanitised text; colour
// escapes are added after padding so they never count toward a width.
#include "output/table.h"

#include <algorithm>

#include "util/text.h"

namespace portrel {

std::string styled(const std::string& text, Style style, bool color) {
  if (!color || style == Style::plain || text.empty()) return text;
  const char* code = style == Style::bold   ? "1"
                     : style == Style::dim  ? "2"
                     : style == Style::warn ? "33"
                                            : "36";
  return std::string("\x1b[") + code + "m" + text + "\x1b[0m";
}

Table::Table(std::vector<std::string> headers) {
  for (std::string& h : headers) {
    bool right = !h.empty() && h.front() == '>';
    right_.push_back(right);
    headers_.push_back(right ? h.substr(1) : std::move(h));
  }
}

void Table::add(std::vector<Cell> row) {
  row.resize(headers_.size());
  rows_.push_back(std::move(row));
}

std::string Table::render(bool color) const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = display_width(headers_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], display_width(row[c].text));
    }
  }
  std::string out;
  auto emit = [&](const std::string& text, Style style, size_t c) {
    size_t pad = width[c] - display_width(text);
    bool last = c + 1 == headers_.size();
    if (right_[c]) out.append(pad, ' ');
    out += styled(text, style, color);
    if (!right_[c] && !last) out.append(pad, ' ');
    out += last ? "\n" : "  ";
  };
  for (size_t c = 0; c < headers_.size(); ++c) emit(headers_[c], Style::bold, c);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) emit(row[c].text, row[c].style, c);
  }
  return out;
}

}  // namespace portrel
