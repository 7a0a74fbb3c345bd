// The one parallel loop of elmq.
//
// Every multi-threaded region of the library goes through `parallel_for`:
// an explicit thread count, a serial path for small inputs, and exceptions
// captured inside the workers and rethrown on the calling thread (an
// exception escaping an OpenMP region would call std::terminate).
//
// Eigen's own threading is disabled for elmq (EIGEN_DONT_PARALLELIZE is a
// public compile definition of elmq::elm): products inside a task are serial,
// and the library decides how work is split. Results never depend on the
// thread count because each task's output is computed by exactly one thread
// in a fixed order.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace elmq {

/// A non-owning reference to a callable (as llvm::function_ref): the loops
/// below take their body this way, so that passing a lambda, whatever it
/// captures, never allocates (a std::function would for captures over 16
/// bytes, on every call of a real-time path). Valid while the callable lives:
/// pass it directly, do not store it.
template <class Sig>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f) noexcept  // NOLINT: implicit, like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, Args... args) -> R {
          return (*static_cast<std::add_pointer_t<std::remove_reference_t<F>>>(obj))(
              std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

/// Number of threads the machine offers (OpenMP's default team size, at least 1).
int max_threads();

/// Maps a user's thread request to a count: 0 means all (`max_threads()`),
/// n > 0 means min(n, 4 * max_threads()).
/// @throws InvalidArgument for a negative request.
int resolve_threads(int requested);

/// Calls `fn(task)` for every task in [0, n_tasks), on up to `threads` threads
/// (dynamic schedule). Runs serially when threads <= 1 or n_tasks <= 1.
/// If any call throws, the first exception is rethrown after the loop (the
/// remaining tasks are skipped). Allocates nothing on the calling thread.
void parallel_for(std::int64_t n_tasks, int threads, FunctionRef<void(std::int64_t)> fn);

/// One-row (real-time) products are split over threads only from this many
/// multiply-adds up (e.g. 2000 neurons x 784 inputs): below it, waking the
/// pool costs more than the split saves (bench/elm BM_PredictRow).
inline constexpr std::int64_t kMinRowSplitWork = std::int64_t{1} << 18;

/// Splits [0, n) into contiguous ranges of about `grain` items and calls
/// `fn(begin, end)` for each, in parallel as `parallel_for`. The split depends
/// only on n and grain, never on the thread count.
void parallel_for_range(std::int64_t n, std::int64_t grain, int threads,
                        FunctionRef<void(std::int64_t, std::int64_t)> fn);

}  // namespace elmq
