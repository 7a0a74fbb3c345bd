// libFuzzer's entry point for a fuzz target (the clang build with
// -DELMQ_BUILD_FUZZERS=ON). An exception escaping elmq_fuzz_one reaches
// libFuzzer as an uncaught exception: a reported crash with its input.
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return elmq_fuzz_one(data, size);
}
