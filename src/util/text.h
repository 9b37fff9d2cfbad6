// Text helpers with nothing socket-specific: making untrusted bytes safe for a
// terminal, and numbers readable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace portrel {

/// Returns text safe for a terminal: valid UTF-8 is kept; control characters
/// (C0, DEL, C1) become \n, \t, \xNN; bytes that are not UTF-8 become \xNN; a
/// backslash becomes \\. Escape sequences therefore never reach the terminal.
std::string sanitize(std::string_view bytes);

/// 1234567 -> "1,234,567".
std::string with_commas(uint64_t n);

/// Display width of sanitised text (counts UTF-8 code points; good enough for
/// alignment of names and paths).
size_t display_width(std::string_view utf8);

}  // namespace portrel
