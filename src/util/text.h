// Text helpers with nothing socket-specific: making untrusted bytes safe for a
// terminal, and numbers readable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace portrel {

/// Returns text safe for a terminal: valid UTF-8 is kept; control characters
/// (C0, DEL, C1) become \n, \t, \xNN; bytes that are not UTF-8 become \xNN;
/// characters that reorder or hide text (Unicode format characters such as
/// U+202E, zero-width ones, U+2028/U+2029) become \u{XXXX}; a backslash becomes
/// \\. Escape sequences and invisible reordering never reach the terminal.
std::string sanitize(std::string_view bytes);

/// One step of decoding UTF-8 at BYTES[I] (I < size): a whole valid character
/// (VALID, LENGTH 1 to 4, its CODEPOINT), or else the longest start of a
/// character there that cannot be completed (not VALID, LENGTH at least 1: a
/// lone continuation byte, an overlong form, a surrogate, a truncated sequence).
/// Replacing each invalid step by one U+FFFD is Unicode's "maximal subpart"
/// practice, the one JSON writers such as nlohmann's follow.
struct Utf8Step {
  size_t length = 1;
  bool valid = false;
  char32_t codepoint = 0;
};
Utf8Step utf8_step(std::string_view bytes, size_t i);

/// 1234567 -> "1,234,567".
std::string with_commas(uint64_t n);

/// "1 child", "2 children": N with commas and the word for that many.
std::string plural(uint64_t n, std::string_view one, std::string_view many);

/// TEXT with every line longer than WIDTH code points cut to WIDTH, its last
/// one an ellipsis; SGR colour escapes (ESC [ … m) take no width and are kept,
/// and a cut line ends with a reset. For tables whose last column is free text.
std::string fit_lines(std::string_view text, size_t width);

/// Display width of sanitised text (counts UTF-8 code points; good enough for
/// alignment of names and paths).
size_t display_width(std::string_view utf8);

}  // namespace portrel
