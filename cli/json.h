// A minimal JSON writer for the CLI's --json output (no dependency).
//
//   JsonWriter j;
//   j.begin_object().key("rows").value(150).key("name").value("iris").end_object();
//   std::cout << j.str() << "\n";     // {"rows":150,"name":"iris"}
//
// Commas and nesting are tracked; misuse (a value without a key inside an
// object, unbalanced ends) is a programming error caught by assert.
// Non-finite doubles are written as null (JSON has no NaN/Infinity).
#pragma once

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace elmq {
namespace cli {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{', true); }
  JsonWriter& end_object() { return close('}', true); }
  JsonWriter& begin_array() { return open('[', false); }
  JsonWriter& end_array() { return close(']', false); }

  JsonWriter& key(std::string_view k) {
    assert(!stack_.empty() && stack_.back().is_object && !expect_value_);
    comma();
    write_string(k);
    out_ += ':';
    expect_value_ = true;
    return *this;
  }

  JsonWriter& value(std::string_view s) {
    before_value();
    write_string(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) {
    before_value();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& value(std::int64_t v) {
    before_value();
    out_ += std::to_string(v);
    return *this;
  }
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(std::uint64_t v) {
    before_value();
    out_ += std::to_string(v);
    return *this;
  }
  JsonWriter& value(double v) {
    before_value();
    if (!std::isfinite(v)) {
      out_ += "null";
    } else {
      char buf[32];
      const auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip
      out_.append(buf, res.ptr);
    }
    return *this;
  }
  JsonWriter& null() {
    before_value();
    out_ += "null";
    return *this;
  }

  /// Shorthand for key(k).value(v).
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  /// The document; complete once every begin_* has been closed.
  const std::string& str() const {
    assert(stack_.empty());
    return out_;
  }

 private:
  struct Level {
    bool is_object;
    bool empty;
  };

  JsonWriter& open(char c, bool is_object) {
    before_value();
    out_ += c;
    stack_.push_back({is_object, true});
    return *this;
  }
  JsonWriter& close(char c, bool is_object) {
    assert(!stack_.empty() && stack_.back().is_object == is_object && !expect_value_);
    (void)is_object;
    stack_.pop_back();
    out_ += c;
    return *this;
  }
  void comma() {
    if (!stack_.back().empty) out_ += ',';
    stack_.back().empty = false;
  }
  void before_value() {
    if (stack_.empty()) {
      assert(out_.empty());
      return;
    }
    if (stack_.back().is_object) {
      assert(expect_value_);
      expect_value_ = false;
    } else {
      comma();
    }
  }
  void write_string(std::string_view s) {
    static const char kHex[] = "0123456789abcdef";
    out_ += '"';
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (c < 0x20) {
            out_ += "\\u00";
            out_ += kHex[c >> 4];
            out_ += kHex[c & 0xF];
          } else {
            out_ += ch;  // UTF-8 passes through unchanged
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<Level> stack_;
  bool expect_value_ = false;
};

}  // namespace cli
}  // namespace elmq
