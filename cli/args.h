// A small command-line option parser for the elmq subcommands.
//
//   ArgParser p("elmq train", "elmq train (--dataset NAME | --train-csv FILE) [options]",
//               "Trains an ELM classifier.");
//   p.option("hidden", "SPEC", "hidden neuron groups", "1000:tanh");
//   p.flag("quiet", "no progress output", 'q');
//   ParsedArgs a = p.parse(args);                  // throws UsageError
//   int threads = a.get_int("threads", 0, 0, 1024);
//
// Accepted forms: --key value, --key=value, -k value, flags --flag / -f,
// positionals anywhere, "--" ends the options. A value may begin with '-'
// (--lambda -1 is read as a value). Unknown options, missing values, values
// given to flags and wrong positional counts are UsageErrors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "elm/common/errors.h"

namespace elmq {
namespace cli {

/// A bad command line: the CLI prints "elmq <command>: <message>" and exits with 2.
class UsageError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

class ParsedArgs {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  bool flag(const std::string& name) const { return has(name); }
  /// The value of an option, or `fallback` when absent.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  /// Integer in [lo, hi]; @throws UsageError "--name: 'x' is not an integer" / out of range.
  std::int64_t get_int(const std::string& name, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi) const;
  /// Finite number in [lo, hi]; @throws UsageError.
  double get_double(const std::string& name, double fallback, double lo, double hi) const;
  /// One of `choices`; @throws UsageError listing them.
  std::string get_choice(const std::string& name, const std::string& fallback,
                         const std::vector<std::string>& choices) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  friend class ArgParser;
  std::map<std::string, std::string> values_;  // flags map to ""
  std::vector<std::string> positionals_;
};

class ArgParser {
 public:
  /// `command` e.g. "elmq train"; `usage` the synopsis line; `description` a paragraph.
  ArgParser(std::string command, std::string usage, std::string description);

  /// An option with a value. `default_text` is only shown in the help.
  ArgParser& option(const std::string& name, const std::string& value_name, const std::string& help,
                    const std::string& default_text = "", char short_name = 0);
  /// A flag without value.
  ArgParser& flag(const std::string& name, const std::string& help, char short_name = 0);
  /// A named positional argument (documentation and count check).
  ArgParser& positional(const std::string& name, const std::string& help);
  /// A heading that groups the options added after it in the help text.
  ArgParser& section(const std::string& title);
  /// Free text appended to the help (e.g. examples).
  ArgParser& epilog(const std::string& text);

  /// Parses `args` (without the program and command names). `--help`/`-h` sets
  /// the flag "help" and skips the positional count check.
  /// @throws UsageError on unknown options, missing values, wrong positional count.
  ParsedArgs parse(const std::vector<std::string>& args) const;

  /// The --help text.
  std::string help() const;
  const std::string& command() const { return command_; }

 private:
  struct Spec {
    std::string name, value_name, help, default_text, section;
    char short_name = 0;
    bool takes_value = false;
  };
  const Spec* find_long(const std::string& name) const;
  const Spec* find_short(char c) const;

  std::string command_, usage_, description_, epilog_, current_section_;
  std::vector<Spec> specs_;
  std::vector<std::pair<std::string, std::string>> positionals_;
};

}  // namespace cli
}  // namespace elmq
