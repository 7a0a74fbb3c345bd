// elmq: command-line front end of the library. Dispatches to the subcommands
// of commands.h and turns every exception into one line on stderr.
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/mlp_commands.h"
#include "elm/common/errors.h"

#ifndef ELMQ_VERSION
#define ELMQ_VERSION "unknown"
#endif

namespace elmq {
namespace cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"train", "train an ELM on a dataset or CSV file, report accuracy, save it", run_train},
      {"eval", "accuracy, throughput and latency of a saved model", run_eval},
      {"predict", "predict the rows of a CSV file with a saved model", run_predict},
      {"train-mlp", "train the MLP baseline (backprop, optional QAT), report accuracy, save it",
       run_train_mlp},
      {"quantize", "quantize a saved ELM or MLP (RTN, GPTQ, AWQ), report accuracy and size",
       run_quantize},
      {"info", "describe a model file", run_info},
  };
  return kCommands;
}

namespace {

std::string top_help() {
  std::string s =
      "usage: elmq COMMAND [options]\n"
      "       elmq COMMAND --help\n\n"
      "Extreme Learning Machines: train, evaluate and inspect models.\n\n"
      "commands:\n";
  for (const auto& c : commands()) {
    std::string name = std::string("  ") + c.name;
    name.resize(12, ' ');
    s += name + c.summary + "\n";
  }
  s += "\noptions:\n"
       "  -h, --help  show this help\n"
       "  --version   show the version\n\n"
       "Exit status: 0 success, 1 failure (unreadable or invalid file or data,\n"
       "numerical failure), 2 bad command line. Errors are one line on stderr.\n";
  return s;
}

// One line, whatever the message holds.
void print_error(const std::string& where, const std::string& what) {
  std::string msg = what;
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "%s: %s\n", where.c_str(), msg.c_str());
}

}  // namespace
}  // namespace cli
}  // namespace elmq

int main(int argc, char** argv) {
  using namespace elmq::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_error("elmq", "no command given (usage: elmq COMMAND [options]; see 'elmq --help')");
    return 2;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h") {
    std::cout << top_help();
    return 0;
  }
  if (first == "--version") {
    std::cout << "elmq " << ELMQ_VERSION << "\n";
    return 0;
  }
  // "elmq help train" == "elmq train --help".
  if (first == "help") {
    if (args.size() == 1) {
      std::cout << top_help();
      return 0;
    }
    args = {args[1], "--help"};
  }
  const Command* cmd = nullptr;
  for (const auto& c : commands()) {
    if (args[0] == c.name) cmd = &c;
  }
  if (cmd == nullptr) {
    std::string names;
    for (const auto& c : commands()) names += (names.empty() ? "" : ", ") + std::string(c.name);
    print_error("elmq", (args[0].rfind('-', 0) == 0 ? "unknown option '" : "unknown command '") +
                            args[0] + "' (commands: " + names + "; see 'elmq --help')");
    return 2;
  }
  const std::string where = std::string("elmq ") + cmd->name;
  try {
    return cmd->run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const UsageError& e) {
    print_error(where, e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    print_error(where, "out of memory");
    return 1;
  } catch (const std::exception& e) {
    print_error(where, e.what());
    return 1;
  } catch (...) {
    print_error(where, "unknown error");
    return 1;
  }
}
