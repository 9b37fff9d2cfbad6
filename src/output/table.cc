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
  // Each cell's width is measured once; the columns' widths are their maxima.
  size_t columns = headers_.size();
  std::vector<size_t> width(columns);
  for (size_t c = 0; c < columns; ++c) width[c] = display_width(headers_[c]);
  std::vector<uint32_t> cell_width;
  cell_width.reserve(rows_.size() * columns);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      size_t w = display_width(row[c].text);
      cell_width.push_back(static_cast<uint32_t>(w));
      width[c] = std::max(width[c], w);
    }
  }
  size_t line = columns * 2;
  for (size_t w : width) line += w;
  std::string out;
  out.reserve((rows_.size() + 1) * line);
  auto emit = [&](const std::string& text, size_t text_width, Style style, size_t c) {
    size_t pad = width[c] - text_width;
    bool last = c + 1 == columns;
    if (right_[c]) out.append(pad, ' ');
    if (!color || style == Style::plain) {
      out += text;
    } else {
      out += styled(text, style, color);
    }
    if (!right_[c] && !last) out.append(pad, ' ');
    out += last ? "\n" : "  ";
  };
  for (size_t c = 0; c < columns; ++c) {
    emit(headers_[c], display_width(headers_[c]), Style::bold, c);
  }
  size_t k = 0;
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) emit(row[c].text, cell_width[k++], row[c].style, c);
  }
  return out;
}

}  // namespace portrel
