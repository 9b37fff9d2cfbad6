// An aligned text table for terminals, with optional colour. Cells must already
// be sanitised (see util/text.h); the table only measures and pads them.
#pragma once

#include <string>
#include <vector>

namespace portrel {

enum class Style { plain, bold, dim, warn, accent };

struct Cell {
  std::string text;
  Style style = Style::plain;
};

class Table {
 public:
  /// A header whose name starts with '>' is right-aligned (the '>' is dropped).
  explicit Table(std::vector<std::string> headers);
  void add(std::vector<Cell> row);
  /// The cell of an added row, to fill in after the row was added.
  Cell& cell(size_t row, size_t column) { return rows_[row][column]; }
  bool empty() const { return rows_.empty(); }
  /// The last column is never padded, so long holder lists do not leave trailing
  /// blanks.
  std::string render(bool color) const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<Cell>> rows_;
};

/// Wraps text in the escape sequence for a style (no-op when !color).
std::string styled(const std::string& text, Style style, bool color);

}  // namespace portrel
