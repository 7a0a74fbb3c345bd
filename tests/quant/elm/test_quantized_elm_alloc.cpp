// QuantizedElm::decision_row allocates nothing after warm-up. Every heap
// allocation of this test binary is counted: malloc and friends are replaced
// (forwarding to glibc's own functions), which also catches Eigen's and the
// aligned operator new's allocations, not only the plain operator new.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <new>
#include <vector>

#include "quant/elm/quantize_elm.h"
#include "quant_elm_test_util.h"

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define ELMQ_COUNT_MALLOC 1
namespace {
thread_local bool t_counting = false;
thread_local long t_allocations = 0;
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
  if (t_counting) ++t_allocations;
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t m) {
  if (t_counting) ++t_allocations;
  return __libc_calloc(n, m);
}
void* realloc(void* p, std::size_t n) {
  if (t_counting) ++t_allocations;
  return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
  if (t_counting) ++t_allocations;
  return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  if (t_counting) ++t_allocations;
  return __libc_memalign(a, n);
}
int posix_memalign(void** p, std::size_t a, std::size_t n) {
  if (t_counting) ++t_allocations;
  *p = __libc_memalign(a, n);
  return *p != nullptr || n == 0 ? 0 : ENOMEM;
}
void free(void* p) { __libc_free(p); }
}
#endif

namespace elmq {
namespace {

#ifdef ELMQ_COUNT_MALLOC
// After a warm-up row, `rows` rows of x through predict_row and decision_row
// allocate nothing on this thread.
void expect_rows_allocate_nothing(const QuantizedElm& q, const RowMatrixXf& x, Index rows) {
  PredictWorkspace ws;
  std::vector<float> scores(static_cast<std::size_t>(q.n_outputs()));
  q.predict_row(x.row(0).data(), ws, scores.data());  // warm-up
  long sink = 0;
  t_allocations = 0;
  t_counting = true;
  for (Index i = 0; i < rows; ++i) {
    sink += q.predict_row(x.row(i).data(), ws, scores.data());
    q.decision_row(x.row(i).data(), scores.data(), ws);
  }
  t_counting = false;
  EXPECT_EQ(t_allocations, 0);
  EXPECT_NE(sink, 0);
}

// Rows split over the pool (set_row_threads): nothing is allocated on the
// calling thread either (W of 1024 x 256 = 2^18 weights, the splitting
// threshold). A function of its own: inlined into the test body, GCC 12 warns
// (-Wmaybe-uninitialized) about the config's initializer list.
[[gnu::noinline]] void expect_split_rows_allocate_nothing() {
  const auto wide = qelm_test::make_blobs(300, 256, 5, 12);
  ElmModel big(qelm_test::small_config(1024, false));
  big.fit(wide.x, wide.y);
  for (QuantFormat w : {QuantFormat::kInt8Channel, QuantFormat::kInt4G32Asym, QuantFormat::kF16,
                        QuantFormat::kF32}) {
    SCOPED_TRACE(std::string("row threads 2, ") + format_name(w));
    ElmQuantConfig qc;
    qc.w_format = w;
    qc.resolve_beta_after_w = false;
    QuantizedElm q = quantize_elm(big, qc);
    q.set_row_threads(2);
    expect_rows_allocate_nothing(q, wide.x, 100);
  }
}
#endif

TEST(QuantizedElmRealtime, DecisionRowAllocatesNothingAfterWarmUp) {
#ifndef ELMQ_COUNT_MALLOC
  GTEST_SKIP() << "allocation counting needs glibc";
#else
  const auto train = qelm_test::make_blobs(500, 20, 5, 11);
  ElmModel m(qelm_test::small_config(100));
  m.fit(train.x, train.y);
  struct Case {
    QuantFormat w, beta;
    InputQuant input;
    HiddenQuant hidden;
  };
  for (const Case& c :
       {Case{QuantFormat::kInt8Channel, QuantFormat::kInt4G32Sym, InputQuant::kDynamic,
             HiddenQuant::kDynamic},
        Case{QuantFormat::kTernaryChannel, QuantFormat::kInt2G32Asym, InputQuant::kUint8,
             HiddenQuant::kStatic},
        Case{QuantFormat::kF16, QuantFormat::kInt8Channel, InputQuant::kDynamic,
             HiddenQuant::kStatic},
        Case{QuantFormat::kF32, QuantFormat::kF32, InputQuant::kDynamic, HiddenQuant::kDynamic}}) {
    SCOPED_TRACE(std::string(format_name(c.w)) + " / " + format_name(c.beta));
    ElmQuantConfig qc;
    qc.w_format = c.w;
    qc.beta_format = c.beta;
    qc.beta_method = QuantMethod::kGptq;
    qc.input = c.input;
    qc.hidden = c.hidden;
    expect_rows_allocate_nothing(quantize_elm(m, qc, train.x, train.y), train.x, 200);
  }
  expect_split_rows_allocate_nothing();
  // The counter works: a batch prediction allocates.
  const QuantizedElm q = quantize_elm(m, ElmQuantConfig());
  t_allocations = 0;
  t_counting = true;
  const LabelVector y = q.predict(train.x.topRows(3));
  t_counting = false;
  EXPECT_GT(t_allocations, 0);
  EXPECT_EQ(y.size(), 3);
#endif
}

}  // namespace
}  // namespace elmq
