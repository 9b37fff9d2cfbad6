// The JSON writer. Escaping scans a string once and copies runs of plain bytes
// (printable ASCII and valid UTF-8) in one append each, so a typical process
// name or path costs one scan and one copy.
#include "util/json_writer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "util/text.h"

namespace portrel {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

// The escape of an ASCII control character, quote or backslash: the short
// form where JSON has one, else \u00XX.
void append_escape(std::string& out, unsigned char c) {
  static constexpr std::string_view kShort = "\"\\\b\f\n\r\t";
  static constexpr std::string_view kLetter = "\"\\bfnrt";
  static constexpr char kHex[] = "0123456789abcdef";
  out += '\\';
  if (size_t k = kShort.find(static_cast<char>(c)); k != std::string_view::npos) {
    out += kLetter[k];
    return;
  }
  out += "u00";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

// Whether the 8 bytes at P are all printable ASCII other than '"' and '\\', so
// a long path or command line is scanned a word at a time.
bool all_plain(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
  auto has_zero_byte = [&](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  uint64_t special = ((w - kOnes * 0x20) & ~w) | has_zero_byte(w ^ (kOnes * '"')) |
                     has_zero_byte(w ^ (kOnes * '\\')) | w;
  return (special & kHigh) == 0;
}

}  // namespace

JsonKey::JsonKey(std::string_view name) {
  JsonWriter json;
  json.key(name);
  quoted_ = json.take();
}

JsonWriter::JsonWriter(std::FILE* out) : out_(out) { buf_.reserve(kChunk * 2); }

JsonWriter::~JsonWriter() { flush(); }

bool JsonWriter::flush() {
  if (out_ == nullptr) return true;
  if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), out_) != buf_.size()) {
    ok_ = false;
  }
  buf_.clear();
  return ok_;
}

std::string JsonWriter::take() {
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

JsonWriter& JsonWriter::open(char bracket) {
  assert(depth_ < 64);
  separate();
  buf_ += bracket;
  ++depth_;
  has_items_ &= ~(uint64_t{1} << (depth_ - 1));
  return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
  assert(depth_ > 0 && !after_key_);
  --depth_;
  buf_ += bracket;
  if (out_ != nullptr && buf_.size() >= kChunk) flush();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  separate();
  append_escaped(name);
  buf_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::key(const JsonKey& name) {
  separate();
  buf_ += name.quoted_;
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view bytes) {
  separate();
  append_escaped(bytes);
  return *this;
}

JsonWriter& JsonWriter::word(std::string_view ascii) {
  assert(std::ranges::all_of(
      ascii, [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }));
  separate();
  buf_ += '"';
  buf_ += ascii;
  buf_ += '"';
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  separate();
  buf_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  buf_ += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view text) {
  if (out_ != nullptr && text.size() >= kChunk) {  // a large piece goes straight out
    flush();
    if (std::fwrite(text.data(), 1, text.size(), out_) != text.size()) ok_ = false;
    return *this;
  }
  buf_ += text;
  if (out_ != nullptr && buf_.size() >= kChunk) flush();
  return *this;
}

void JsonWriter::append_escaped(std::string_view s) {
  buf_ += '"';
  size_t plain = 0;  // start of the run of bytes that are copied as they are
  for (size_t i = 0; i < s.size();) {
    while (i + 8 <= s.size() && all_plain(s.data() + i)) i += 8;
    if (i == s.size()) break;
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    Utf8Step step;
    if (c >= 0x80 && (step = utf8_step(s, i)).valid) {
      i += step.length;
      continue;
    }
    buf_.append(s, plain, i - plain);
    if (c >= 0x80) {
      buf_ += kReplacement;
      i += step.length;
    } else {
      append_escape(buf_, c);
      ++i;
    }
    plain = i;
  }
  buf_.append(s, plain, s.size() - plain);
  buf_ += '"';
}

}  // namespace portrel
