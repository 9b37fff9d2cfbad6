// Sanitising untrusted strings. Process names, command lines and paths are chosen
// by other processes; printing them raw would let any local user move the
// cursor, recolour or retitle the operator's terminal.
#include "util/text.h"

namespace portrel {
namespace {

void hex_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

// C1 controls, e.g. U+009B (CSI), which terminals obey like ESC [.
bool is_c1(char32_t cp) { return cp >= 0x80 && cp <= 0x9f; }

}  // namespace

Utf8Step utf8_step(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {1, true, c};
  // The lead byte fixes the length and the range of the second byte, which
  // rules out overlong forms (E0, F0), surrogates (ED) and code points past
  // U+10FFFF (F4); C0, C1 and F5..FF never start a character.
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return {1, false, 0};
  }
  char32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) return {k, false, 0};
    auto b = static_cast<unsigned char>(s[i + k]);
    if (b < lo || b > hi) return {k, false, 0};
    lo = 0x80;
    hi = 0xbf;
    cp = cp << 6 | (b & 0x3f);
  }
  return {n, true, cp};
}

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      // A run of printable ASCII, copied at once.
      size_t end = i + 1;
      while (end < s.size() && s[end] >= 0x20 && s[end] < 0x7f && s[end] != '\\') ++end;
      out.append(s.substr(i, end - i));
      i = end;
    } else if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c < 0x80) {
      hex_escape(out, c);
      ++i;
    } else if (Utf8Step u = utf8_step(s, i); u.valid && !is_c1(u.codepoint)) {
      out.append(s.substr(i, u.length));
      i += u.length;
    } else {
      hex_escape(out, c);
      ++i;
    }
  }
  return out;
}

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

size_t display_width(std::string_view s) {
  size_t w = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++w;
  }
  return w;
}

}  // namespace portrel
