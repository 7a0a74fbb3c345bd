#include "elm/common/parallel.h"

#include <algorithm>
#include <exception>
#include <mutex>

#include "elm/common/errors.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(ELMQ_USE_BLAS)
extern "C" void openblas_set_num_threads(int);
#endif

namespace elmq {

#if defined(ELMQ_USE_BLAS)
namespace {
// With EIGEN_USE_BLAS, Eigen's products call OpenBLAS. OpenBLAS must run
// serially: elmq splits the work itself (thread count, determinism), and a
// threaded BLAS inside parallel_for tasks would oversubscribe the cores.
const bool kBlasSerial = [] {
  openblas_set_num_threads(1);
  return true;
}();
}  // namespace
#endif

int max_threads() {
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

int resolve_threads(int requested) {
  ELMQ_CHECK_ARG(requested >= 0, "resolve_threads: threads must be >= 0 (0 = all), got ",
                 requested);
  if (requested == 0) return max_threads();
  return std::min(requested, 4 * max_threads());
}

void parallel_for(std::int64_t n_tasks, int threads, FunctionRef<void(std::int64_t)> fn) {
  if (n_tasks <= 0) return;
  if (threads <= 1 || n_tasks == 1) {
    for (std::int64_t t = 0; t < n_tasks; ++t) fn(t);
    return;
  }
#if defined(_OPENMP)
  std::exception_ptr first_error;
  std::mutex error_mutex;
  bool failed = false;
  const int team = static_cast<int>(std::min<std::int64_t>(threads, n_tasks));
#pragma omp parallel for schedule(dynamic, 1) num_threads(team)
  for (std::int64_t t = 0; t < n_tasks; ++t) {
    bool skip;
#pragma omp atomic read
    skip = failed;
    if (skip) continue;
    try {
      fn(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
#pragma omp atomic write
      failed = true;
    }
  }
  if (first_error) std::rethrow_exception(first_error);
#else
  for (std::int64_t t = 0; t < n_tasks; ++t) fn(t);
#endif
}

void parallel_for_range(std::int64_t n, std::int64_t grain, int threads,
                        FunctionRef<void(std::int64_t, std::int64_t)> fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t n_tasks = (n + grain - 1) / grain;
  parallel_for(n_tasks, threads, [&](std::int64_t t) {
    const std::int64_t begin = t * grain;
    fn(begin, std::min(n, begin + grain));
  });
}

}  // namespace elmq
