// The fuzz targets of elmq: each tests/fuzz/fuzz_<name>.cpp defines
//
//   int elmq_fuzz_one(const std::uint8_t* data, std::size_t size);
//   std::vector<std::string> elmq_fuzz_seeds();
//
// The first feeds one input to a parser (and, when the parser accepts it, to
// what a user would do next with the result); it must return normally for
// every input: elmq's documented errors (InvalidArgument and its FormatError,
// NumericalError) are caught inside, anything else escapes. An escaping
// exception, a crash, a sanitizer report or a hang is a finding. The second
// returns valid inputs to start from.
//
// Two drivers link each target:
//  - libFuzzer (clang, -DELMQ_BUILD_FUZZERS=ON): elmq_fuzz_<name>, coverage-guided;
//  - fuzz_replay_main.cpp (any compiler, built with the tests): replays files
//    and runs a fixed number of deterministic mutations of the seeds, which
//    CTest runs on every build (tests/fuzz/CMakeLists.txt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

int elmq_fuzz_one(const std::uint8_t* data, std::size_t size);
std::vector<std::string> elmq_fuzz_seeds();

namespace elmq::fuzz {

/// A finding that is not a crash (e.g. a round trip that changed a model):
/// thrown so that both drivers report it with the input.
struct Finding : std::exception {
  explicit Finding(std::string w) : what_(std::move(w)) {}
  const char* what() const noexcept override { return what_.c_str(); }
  std::string what_;
};

}  // namespace elmq::fuzz
