#include "elm/common/parallel.h"

#include <atomic>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "elm/common/errors.h"

namespace elmq {
namespace {

TEST(ParallelFor, VisitsEveryTaskOnce) {
  for (int threads : {1, 2, 4}) {
    std::vector<std::atomic<int>> hits(1000);
    parallel_for(1000, threads, [&](std::int64_t t) { hits[static_cast<std::size_t>(t)]++; });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1) << "threads=" << threads;
  }
}

TEST(ParallelFor, EmptyAndSingle) {
  int calls = 0;
  parallel_for(0, 2, [&](std::int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  parallel_for(1, 2, [&](std::int64_t) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(ParallelFor, RethrowsFirstExceptionWithoutTerminating) {
  for (int threads : {1, 2}) {
    EXPECT_THROW(parallel_for(100, threads,
                              [](std::int64_t t) {
                                if (t == 37) throw InvalidArgument("task 37 failed");
                              }),
                 InvalidArgument);
  }
}

TEST(ParallelForRange, SplitDoesNotDependOnThreads) {
  std::vector<std::pair<std::int64_t, std::int64_t>> r1(4), r2(4);
  parallel_for_range(10, 3, 1, [&](std::int64_t b, std::int64_t e) { r1[b / 3] = {b, e}; });
  parallel_for_range(10, 3, 2, [&](std::int64_t b, std::int64_t e) { r2[b / 3] = {b, e}; });
  EXPECT_EQ(r1, r2);
  EXPECT_EQ(r1[3], std::make_pair(std::int64_t{9}, std::int64_t{10}));
}

TEST(ResolveThreads, ZeroMeansAllNegativeRejected) {
  EXPECT_EQ(resolve_threads(0), max_threads());
  EXPECT_EQ(resolve_threads(1), 1);
  EXPECT_THROW(resolve_threads(-1), InvalidArgument);
}

}  // namespace
}  // namespace elmq
