// The subcommands of the elmq tool. Each lives in its own cmd_<name>.cpp and
// is listed once in the table of main.cpp; adding one (e.g. `quantize`)
// means a new file, a declaration here and a table row.
//
// A command receives its arguments (after the command name) and returns the
// process exit code. It reports a bad command line by throwing UsageError
// (exit 2) and any other failure by throwing an elmq exception (exit 1);
// main prints either as one line "elmq <command>: <message>" on stderr.
#pragma once

#include <string>
#include <vector>

namespace elmq {
namespace cli {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;  ///< one line for `elmq --help`
  int (*run)(const Args& args);
};

/// Every command, in help order.
const std::vector<Command>& commands();

int run_train(const Args& args);
int run_eval(const Args& args);
int run_predict(const Args& args);
int run_info(const Args& args);
int run_quantize(const Args& args);

}  // namespace cli
}  // namespace elmq
