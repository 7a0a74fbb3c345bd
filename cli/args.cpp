#include "cli/args.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace elmq {
namespace cli {

std::string ParsedArgs::get(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::int64_t ParsedArgs::get_int(const std::string& name, std::int64_t fallback, std::int64_t lo,
                                 std::int64_t hi) const {
  if (!has(name)) return fallback;
  const std::string s = get(name);
  std::int64_t v = 0;
  const char* begin = s.data();
  if (s.size() > 1 && s[0] == '+') ++begin;
  const auto res = std::from_chars(begin, s.data() + s.size(), v);
  if (res.ec == std::errc::result_out_of_range) {
    throw UsageError(str_cat("--", name, ": '", s, "' is out of range [", lo, ", ", hi, "]"));
  }
  if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size()) {
    throw UsageError(str_cat("--", name, ": '", s, "' is not an integer"));
  }
  if (v < lo || v > hi) {
    throw UsageError(str_cat("--", name, ": ", v, " is out of range [", lo, ", ", hi, "]"));
  }
  return v;
}

double ParsedArgs::get_double(const std::string& name, double fallback, double lo,
                              double hi) const {
  if (!has(name)) return fallback;
  const std::string s = get(name);
  double v = 0.0;
  const char* begin = s.data();
  if (s.size() > 1 && s[0] == '+') ++begin;
  const auto res = std::from_chars(begin, s.data() + s.size(), v);
  if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(v)) {
    throw UsageError(str_cat("--", name, ": '", s, "' is not a finite number"));
  }
  if (v < lo || v > hi) {
    throw UsageError(str_cat("--", name, ": ", v, " is out of range [", lo, ", ", hi, "]"));
  }
  return v;
}

std::string ParsedArgs::get_choice(const std::string& name, const std::string& fallback,
                                   const std::vector<std::string>& choices) const {
  const std::string v = get(name, fallback);
  for (const auto& c : choices) {
    if (c == v) return v;
  }
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  throw UsageError(str_cat("--", name, ": '", v, "' is not one of ", list));
}

ArgParser::ArgParser(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {
  flag("help", "show this help and exit", 'h');
}

ArgParser& ArgParser::option(const std::string& name, const std::string& value_name,
                             const std::string& help, const std::string& default_text,
                             char short_name) {
  specs_.push_back({name, value_name, help, default_text, current_section_, short_name, true});
  return *this;
}

ArgParser& ArgParser::flag(const std::string& name, const std::string& help, char short_name) {
  specs_.push_back({name, "", help, "", current_section_, short_name, false});
  return *this;
}

ArgParser& ArgParser::positional(const std::string& name, const std::string& help) {
  positionals_.emplace_back(name, help);
  return *this;
}

ArgParser& ArgParser::section(const std::string& title) {
  current_section_ = title;
  return *this;
}

ArgParser& ArgParser::epilog(const std::string& text) {
  epilog_ = text;
  return *this;
}

const ArgParser::Spec* ArgParser::find_long(const std::string& name) const {
  for (const auto& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const ArgParser::Spec* ArgParser::find_short(char c) const {
  for (const auto& s : specs_) {
    if (s.short_name == c) return &s;
  }
  return nullptr;
}

ParsedArgs ArgParser::parse(const std::vector<std::string>& args) const {
  ParsedArgs out;
  const std::string hint = " (see '" + command_ + " --help')";
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    const Spec* spec = nullptr;
    std::string shown;
    std::string inline_value;
    bool has_inline = false;
    if (a[1] == '-') {
      const std::size_t eq = a.find('=');
      const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) {
        inline_value = a.substr(eq + 1);
        has_inline = true;
      }
      spec = find_long(name);
      shown = "--" + name;
    } else {
      if (a.size() > 2 && a[2] != '=') {
        throw UsageError(str_cat("unknown option '", a, "'", hint));
      }
      spec = find_short(a[1]);
      shown = a.substr(0, 2);
      if (a.size() > 2) {
        inline_value = a.substr(3);
        has_inline = true;
      }
    }
    if (spec == nullptr) throw UsageError(str_cat("unknown option '", shown, "'", hint));
    if (!spec->takes_value) {
      if (has_inline) throw UsageError(str_cat(shown, " takes no value"));
      out.values_[spec->name] = "";
      continue;
    }
    if (has_inline) {
      out.values_[spec->name] = inline_value;
    } else {
      if (i + 1 >= args.size()) {
        throw UsageError(str_cat(shown, " needs a value (", spec->value_name, ")"));
      }
      out.values_[spec->name] = args[++i];
    }
  }
  if (out.flag("help")) return out;
  if (out.positionals_.size() > positionals_.size()) {
    throw UsageError(
        str_cat("unexpected argument '", out.positionals_[positionals_.size()], "'", hint));
  }
  if (out.positionals_.size() < positionals_.size()) {
    throw UsageError(
        str_cat("missing argument ", positionals_[out.positionals_.size()].first, hint));
  }
  return out;
}

namespace {

constexpr std::size_t kHelpIndent = 28;
constexpr std::size_t kHelpWidth = 100;

// Appends `left` padded to the indent column, then `text` word-wrapped.
void append_entry(std::string& s, std::string left, std::string text) {
  // Line breaks in option texts are re-flowed like spaces.
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (left.size() < kHelpIndent) {
    left.resize(kHelpIndent, ' ');
  } else {
    left += "\n" + std::string(kHelpIndent, ' ');
  }
  s += left;
  std::size_t col = kHelpIndent;
  std::size_t i = 0;
  bool first = true;
  while (i < text.size()) {
    const std::size_t sp = text.find(' ', i);
    const std::string word = text.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
    i = sp == std::string::npos ? text.size() : sp + 1;
    if (word.empty()) continue;
    if (!first && col + 1 + word.size() > kHelpWidth) {
      s += "\n" + std::string(kHelpIndent, ' ');
      col = kHelpIndent;
    } else if (!first) {
      s += ' ';
      ++col;
    }
    s += word;
    col += word.size();
    first = false;
  }
  s += "\n";
}

}  // namespace

std::string ArgParser::help() const {
  std::string s = "usage: " + usage_ + "\n\n" + description_ + "\n";
  if (!positionals_.empty()) {
    s += "\narguments:\n";
    for (const auto& [name, text] : positionals_) append_entry(s, "  " + name, text);
  }
  std::string section = "\x01";  // no section printed yet
  for (const auto& sp : specs_) {
    if (sp.section != section) {
      section = sp.section;
      s += "\n" + (section.empty() ? std::string("options") : section) + ":\n";
    }
    std::string left = "  ";
    if (sp.short_name) left += std::string("-") + sp.short_name + ", ";
    left += "--" + sp.name;
    if (sp.takes_value) left += " " + sp.value_name;
    append_entry(s, left,
                 sp.help + (sp.default_text.empty() ? std::string()
                                                    : " [default: " + sp.default_text + "]"));
  }
  if (!epilog_.empty()) s += "\n" + epilog_ + "\n";
  return s;
}

}  // namespace cli
}  // namespace elmq
