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

// Characters that are not shown but change how the text around them is shown:
// Unicode's format characters (general category Cf: bidirectional overrides
// and isolates that reorder a line, zero-width characters that hide text,
// tags) and the line and paragraph separators.
bool is_invisible(char32_t cp) {
  static constexpr std::pair<char32_t, char32_t> kRanges[] = {
      {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
      {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},
      {0x200B, 0x200F},   {0x2028, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
      {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
      {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
      {0xE0020, 0xE007F},
  };
  for (auto [lo, hi] : kRanges) {
    if (cp >= lo && cp <= hi) return true;
  }
  return false;
}

void codepoint_escape(std::string& out, char32_t cp) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  for (; cp != 0 || digits.size() < 4; cp >>= 4) digits.insert(digits.begin(), kHex[cp & 15]);
  out += "\\u{" + digits + "}";
}

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
      if (is_invisible(u.codepoint)) {
        codepoint_escape(out, u.codepoint);
      } else {
        out.append(s.substr(i, u.length));
      }
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

std::string plural(uint64_t n, std::string_view one, std::string_view many) {
  return with_commas(n) + " " + std::string(n == 1 ? one : many);
}

std::string fit_lines(std::string_view text, size_t width) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    size_t shown = 0, i = 0;
    bool escaped = false, cut = false;
    while (i < line.size()) {
      if (line[i] == '\x1b') {  // an SGR sequence: copied whole, no width
        size_t m = line.find('m', i);
        size_t stop = m == std::string_view::npos ? line.size() : m + 1;
        out.append(line.substr(i, stop - i));
        escaped = true;
        i = stop;
        continue;
      }
      size_t step = 1;
      while (i + step < line.size() && (static_cast<unsigned char>(line[i + step]) & 0xc0) == 0x80) {
        ++step;
      }
      if (width > 0 && shown + 1 == width && i + step < line.size()) {
        // Not the last character, and no room for more: the ellipsis instead.
        size_t rest_width = display_width(line.substr(i));
        if (rest_width > 1) {
          out += "\u2026";
          cut = true;
          break;
        }
      }
      out.append(line.substr(i, step));
      ++shown;
      i += step;
    }
    if (cut && escaped) out += "\x1b[0m";
    if (end != std::string_view::npos) out += '\n';
  }
  return out;
}

}  // namespace portrel
