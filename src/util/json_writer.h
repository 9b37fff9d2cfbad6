// A streaming JSON writer: values go straight into one buffer as they are
// written, with no tree of objects in between, and the buffer goes to a FILE in
// large chunks. Strings are raw bytes from other processes: invalid UTF-8 never
// makes invalid JSON.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace portrel {

/// A member name escaped and quoted once, for names written many times over
/// (column names, once per row).
class JsonKey {
 public:
  explicit JsonKey(std::string_view name);

 private:
  friend class JsonWriter;
  std::string quoted_;  ///< "name":
};

/// Writes compact JSON (no spaces) and puts the commas between members and
/// elements itself. Values written at the outermost level are not separated:
/// raw() writes whatever goes between them. Strings are escaped as nlohmann's
/// dump() does: \" \\ \b \f \n \r \t, \u00XX for other control characters, other
/// valid UTF-8 as it is, and each invalid sequence (utf8_step()) as one U+FFFD.
/// Objects and arrays nest at most 64 deep.
class JsonWriter {
 public:
  /// Keeps everything in memory: text() or take() returns it.
  JsonWriter() = default;
  /// Writes to OUT whenever about 64 KiB are buffered, and the rest on flush()
  /// or destruction. OUT must outlive the writer.
  explicit JsonWriter(std::FILE* out);
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;
  ~JsonWriter();

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  /// The name of the next member of the current object.
  JsonWriter& key(std::string_view name);
  JsonWriter& key(const JsonKey& name);
  JsonWriter& string(std::string_view bytes);
  /// A string known to need no escaping (printable ASCII, no '"' or '\\'),
  /// copied as it is: names and addresses the program makes itself.
  JsonWriter& word(std::string_view ascii);
  template <std::integral T>
  JsonWriter& integer(T value) {
    separate();
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    buf_.append(digits, end);
    return *this;
  }
  JsonWriter& integer(bool) = delete;  ///< boolean() writes true and false
  JsonWriter& boolean(bool value);
  JsonWriter& null();
  /// Appends TEXT as it is (white space or punctuation between outermost values).
  JsonWriter& raw(std::string_view text);

  /// Writes what is buffered to the FILE; false once any write to it failed.
  /// Without a FILE it does nothing and returns true.
  bool flush();
  /// What is buffered: the whole document when there is no FILE.
  std::string_view text() const { return buf_; }
  /// Moves the buffer out, leaving the writer empty.
  std::string take();

 private:
  // The comma before a value or key, unless it is the first or follows a key.
  void separate() {
    if (after_key_) {
      after_key_ = false;
    } else if (depth_ > 0) {
      uint64_t bit = uint64_t{1} << (depth_ - 1);
      if (has_items_ & bit) buf_ += ',';
      has_items_ |= bit;
    }
  }
  JsonWriter& open(char bracket);
  JsonWriter& close(char bracket);
  void append_escaped(std::string_view bytes);

  std::string buf_;
  std::FILE* out_ = nullptr;
  bool ok_ = true;
  int depth_ = 0;
  uint64_t has_items_ = 0;  ///< bit D - 1: the container at depth D has a member
  bool after_key_ = false;
};

}  // namespace portrel
