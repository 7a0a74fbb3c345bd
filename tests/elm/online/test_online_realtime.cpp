// The real-time paths: no heap allocation after warm-up (counted by a
// replacement global operator new in this test binary) and a predictor
// thread reading snapshots that a learner thread publishes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "elm/online_elm.h"
#include "elm/packed_sym.h"
#include "online_test_util.h"

namespace {
// Allocations made by the current thread while counting is on.
thread_local bool t_counting = false;
thread_local long t_allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (t_counting) ++t_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace elmq {
namespace {

using online_test::make_blobs;

class AllocationCounter {
 public:
  AllocationCounter() {
    t_allocations = 0;
    t_counting = true;
  }
  ~AllocationCounter() { t_counting = false; }
  long count() const { return t_allocations; }
};

// The batch model's one-row path, on this thread and split over the pool
// (the calling thread's allocations are counted).
TEST(ElmModelRealtime, DecisionRowAllocatesNothingAfterWarmUp) {
  const auto b = make_blobs(300, 300, 4, 102);
  ElmConfig c = online_test::small_config(1000, 1.0);
  ElmModel m(c);
  m.fit(b.x, b.y);
  PredictWorkspace ws;
  std::vector<float> scores(4);
  long sink = 0;
  for (const int threads : {1, 2}) {
    m.set_row_threads(threads);
    m.predict_row(b.x.row(0).data(), ws, scores.data());  // warm-up: ws, the pool
    AllocationCounter counter;
    for (Index i = 0; i < b.x.rows(); ++i) sink += m.predict_row(b.x.row(i).data(), ws, scores.data());
    EXPECT_EQ(counter.count(), 0) << "row threads " << threads;
  }
  EXPECT_NE(sink, 0);
}

TEST(OnlineRealtime, PredictAllocatesNothingAfterWarmUp) {
  const auto b = make_blobs(400, 20, 5, 101);
  OnlineElm m =
      OnlineElm::create(online_test::small_config(96, 1.0), OnlineConfig{}, b.x, LabelVector());
  m.learn(b.x.topRows(200), b.y.head(200));
  const auto snap = m.snapshot();
  ModelSlot slot(snap);
  PredictWorkspace ws;
  std::vector<float> scores(5);
  m.predict_row(b.x.row(0).data(), ws, scores.data());  // warm-up: sizes ws
  long sink = 0;
  {
    AllocationCounter counter;
    for (Index i = 0; i < b.x.rows(); ++i) {
      sink += m.predict_row(b.x.row(i).data(), ws, scores.data());
      m.decision_row(b.x.row(i).data(), scores.data(), ws);
      sink += snap->predict_row(b.x.row(i).data(), ws, scores.data());
      sink += slot.load()->predict_row(b.x.row(i).data(), ws, scores.data());
    }
    EXPECT_EQ(counter.count(), 0);
  }
  EXPECT_NE(sink, 0);
}

// Heap allocations on this thread while `m` learns the rows of `b` from row
// 200 on, alternately by learn_row and predict_then_learn_row, after a
// warm-up on the first 200 (every class seen: growth allocates; one queue
// flush, one fold).
long stream_allocations(OnlineElm& m, const online_test::Blobs& b) {
  for (Index i = 0; i < 200; ++i) m.learn_row(b.x.row(i).data(), b.y[i]);
  std::vector<float> scores(m.n_outputs());
  AllocationCounter counter;
  for (Index i = 200; i < b.x.rows(); ++i) {
    if (i % 2 == 0) {
      m.learn_row(b.x.row(i).data(), b.y[i]);
    } else {
      m.predict_then_learn_row(b.x.row(i).data(), b.y[i], scores.data());
    }
  }
  return counter.count();
}

TEST(OnlineRealtime, LearnRowAllocatesNothingAfterWarmUp) {
  const auto b = make_blobs(1200, 20, 5, 102);  // 1000 streamed rows: 15 flushes and folds
  for (StatePrecision p : {StatePrecision::kFloat32, StatePrecision::kFloat64}) {
    OnlineConfig oc;
    oc.precision = p;
    oc.resolve_period = 1'000'000;
    OnlineElm m = OnlineElm::create(online_test::small_config(96, 1.0), oc, b.x, LabelVector());
    EXPECT_EQ(stream_allocations(m, b), 0) << state_precision_name(p);
  }
}

// The same with set_row_threads(2), where the update is split: 520 x 128
// weights (over 2^16) and a padded L of 520 (over 512, P's product in two
// halves). The calling thread's allocations are counted.
TEST(OnlineRealtime, SplitLearnRowAllocatesNothingAfterWarmUp) {
  const auto b = make_blobs(400, 128, 5, 104);
  OnlineConfig oc;
  oc.resolve_period = 1'000'000;
  OnlineElm m = OnlineElm::create(online_test::small_config(520, 1.0), oc, b.x, LabelVector());
  m.set_row_threads(2);
  EXPECT_EQ(stream_allocations(m, b), 0);
}

// state_data(): the stored triangle stays where it is through updates (a
// real-time program may lock it in RAM once), and it is the triangle: right
// after a re-solve (no queued corrections, multiplier 1) it unpacks to P.
TEST(OnlineRealtime, StateMemoryStaysPutAndHoldsTheTriangle) {
  const auto b = make_blobs(400, 20, 5, 103);
  for (StatePrecision p : {StatePrecision::kFloat32, StatePrecision::kFloat64}) {
    OnlineConfig oc;
    oc.precision = p;
    const Index L = 37;  // padded to 40
    OnlineElm m = OnlineElm::create(online_test::small_config(L, 1.0), oc, b.x, LabelVector());
    const void* data = m.state_data();
    ASSERT_NE(data, nullptr);
    const Index lp = 40;
    const std::size_t element = p == StatePrecision::kFloat32 ? sizeof(float) : sizeof(double);
    EXPECT_EQ(m.state_bytes(), static_cast<std::size_t>(detail::packed_sym_size(lp)) * element);
    for (Index i = 0; i < 300; ++i) m.learn_row(b.x.row(i).data(), b.y[i]);  // 4 flushes
    m.resolve();
    EXPECT_EQ(m.state_data(), data) << state_precision_name(p);
    const RowMatrixXd unpacked =
        p == StatePrecision::kFloat32
            ? detail::packed_sym_to_dense(static_cast<const float*>(data), L, lp)
            : detail::packed_sym_to_dense(static_cast<const double*>(data), L, lp);
    EXPECT_EQ(unpacked, m.inverse_gram()) << state_precision_name(p);
    const OnlineElm copy = m;
    EXPECT_NE(copy.state_data(), data);
  }
}

TEST(OnlineRealtime, PredictorThreadReadsWhileLearnerPublishes) {
  const auto b = make_blobs(3000, 16, 4, 103);
  OnlineElm learner = OnlineElm::create(online_test::small_config(64, 1.0), OnlineConfig{},
                                        b.x.topRows(300), LabelVector());
  learner.learn(b.x.topRows(100), b.y.head(100));
  ModelSlot slot(learner.snapshot());
  std::atomic<bool> done{false};
  std::atomic<long> predictions{0};
  std::atomic<bool> reader_ok{true};

  std::thread reader([&] {
    PredictWorkspace ws;
    std::vector<float> scores(4);
    std::int64_t last_seen = 0;
    Index i = 0;
    while (!done.load(std::memory_order_acquire)) {
      const std::shared_ptr<const OnlineSnapshot> s = slot.load();
      if (s->samples_learned() < last_seen) reader_ok = false;  // snapshots only move forward
      last_seen = s->samples_learned();
      const std::int64_t label = s->predict_row(b.x.row(i).data(), ws, scores.data());
      if (label < 0 || label > 3 || !std::isfinite(scores[0])) reader_ok = false;
      i = (i + 1) % b.x.rows();
      predictions.fetch_add(1, std::memory_order_relaxed);
    }
  });

  // The learner updates its own model and publishes a snapshot every 50 rows.
  for (Index i = 100; i < b.x.rows(); ++i) {
    learner.learn_row(b.x.row(i).data(), b.y[i]);
    if (i % 50 == 0) slot.store(learner.snapshot());
  }
  slot.store(learner.snapshot());
  // Let the reader see the final snapshot before stopping it.
  while (predictions.load() < 100) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_TRUE(reader_ok.load());
  EXPECT_GT(predictions.load(), 0);
  EXPECT_EQ(slot.load()->samples_learned(), learner.samples_learned());
  EXPECT_TRUE(slot.load()->beta() == learner.beta_f32());
}

}  // namespace
}  // namespace elmq
