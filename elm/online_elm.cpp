#include "elm/online_elm.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <limits>
#include <utility>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/serialize.h"
#include "elm/packed_sym.h"

namespace elmq {

namespace {

// Version 2 added the inverse-Gram update in progress (PackedState); version
// 1 files (none in progress) load unchanged.
constexpr std::uint32_t kOnlineFileVersion = 2;
// P and G are stored as their upper triangle in 8 x 8 tiles (elm/packed_sym.h).
constexpr Index kTile = detail::kSymTile;
// Queued rank-1 corrections are applied to P when this many are waiting: the
// stored triangle is then written once per kQueueFlush samples, while the
// per-sample cost of the queue (2 * count * L multiply-adds) stays well below
// the L^2 / 2 of reading the triangle.
constexpr Index kQueueFlush = 64;
constexpr Index kQueueCapacity = 2 * kQueueFlush;  // the live and the pending half
// A full queue's update of the triangle, and a full buffer's addition to G,
// are each spread over this many samples (a few block rows per sample): as
// G's starts at mid-cycle, the two take alternate halves of the 64-sample
// cycle, and no update pays for a whole pass over P or G.
constexpr Index kFlushSteps = kQueueFlush / 2;
constexpr Index kStatsRows = 64;                   // hidden rows buffered before a rank-64 add to G
constexpr Index kMaxBlockRows = 64;
// A single-sample update splits its hidden-layer product and its share of
// the rank-64 updates between threads (set_row_threads) from this many
// weights up: at 256 x 784 (2^17.6) two threads took 18.4 us where one took
// 21.6 (bench/online BM_LearnRowThreads2, statistics kept); a quarter of the
// threshold of a prediction's split (kMinRowSplitWork), as the share is work
// the prediction does not have. Without a share due, the product alone is
// split as a prediction's.
constexpr Index kMinUpdateSplitWork = Index{1} << 16;
// The product with the stored triangle runs in two segments (on two threads
// when set_row_threads asks) from this padded L up (1 MiB of float32 state).
constexpr Index kMinSymvSplit = 512;
constexpr std::int64_t kDefaultResolvePeriod = 1'000'000;
// A downdate pivot 1 - w h^T P h below this (for float32 state; the square
// for float64) loses too many digits in the recursion: with statistics the
// removal is done as an exact re-solve instead.
constexpr double kMinPivotF32 = 1e-3;
constexpr double kMinPivotF64 = 1e-6;

template <typename T>
using RowMat = detail::SymRowMat<T>;
template <typename T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// P = (G + lambda I)^-1 (whole, exactly symmetric) and beta = P B, from one
// Cholesky factor A = L L^T: P = X^T X with X = L^-1, built from the
// triangles' blocks (X one block column at a time, each a solve on the
// trailing block of L; X^T X as a rank-128 update of a leading block per
// block row of X). That is about L^3 / 2 multiply-adds in all, where solving
// L L^T P = I against the whole identity took 7 L^3 / 6 (the LAPACK potri
// way; bench/online BM_Resolve). False if A is not positive definite.
bool ridge_inverse(const RowMatrixXd& g, double lambda, const RowMatrixXd& b, RowMatrixXd& p,
                   RowMatrixXd& beta) {
  const Index n = g.rows();
  Eigen::MatrixXd a = g;
  a.diagonal().array() += lambda;
  const Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(a);  // L in a's lower triangle
  if (llt.info() != Eigen::Success) return false;
  beta = llt.solve(Eigen::MatrixXd(b));
  constexpr Index kB = 128;
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(n, n);
  for (Index j = 0; j < n; j += kB) {
    const Index w = std::min(kB, n - j), m = n - j;
    auto xj = x.block(j, j, m, w);
    xj.topRows(w).setIdentity();
    a.block(j, j, m, m).triangularView<Eigen::Lower>().solveInPlace(xj);
  }
  Eigen::MatrixXd upper = Eigen::MatrixXd::Zero(n, n);
  for (Index k = 0; k < n; k += kB) {
    const Index w = std::min(kB, n - k), m = k + w;
    upper.topLeftCorner(m, m).selfadjointView<Eigen::Upper>().rankUpdate(
        x.block(k, 0, w, m).transpose());
  }
  p = upper.selfadjointView<Eigen::Upper>();
  return true;
}

// The output-weight update of one sample: e = beta^T h, then (after e is
// scaled) beta += q e^T and its float copy, beta being L x C row-major. With
// C a compile-time constant each row is a fixed-size vector; with C known
// only at run time the per-row loop overhead cost more than the arithmetic
// (L = 1000, C = 10: 6.6 % of an update's profile samples, 1.3 + 1.8 % with
// fixed sizes). Sums run over i in order, as the generic loops do.
template <int C>
void beta_error_fixed(const double* beta, const float* h, Index L, double* e) {
  using V = Eigen::Matrix<double, C, 1>;
  V acc = V::Zero();
  for (Index i = 0; i < L; ++i) {
    acc += Eigen::Map<const V>(beta + i * C) * static_cast<double>(h[i]);
  }
  Eigen::Map<V> out(e);
  out = acc;
}

template <int C>
void beta_update_fixed(const double* q, const double* e, Index L, double* beta, float* beta_f) {
  using V = Eigen::Matrix<double, C, 1>;
  const V ev = Eigen::Map<const V>(e);
  for (Index i = 0; i < L; ++i) {
    Eigen::Map<V> b(beta + i * C);
    b += q[i] * ev;
    Eigen::Map<Eigen::Matrix<float, C, 1>> bf(beta_f + i * C);
    bf = b.template cast<float>();
  }
}

constexpr Index kMaxFixedOutputs = 16;

template <int... Cs>
void beta_dispatch(std::integer_sequence<int, Cs...>, Index C, const double* beta, const float* h,
                   Index L, double* e) {
  ((C == Cs + 1 ? beta_error_fixed<Cs + 1>(beta, h, L, e) : void()), ...);
}

template <int... Cs>
void beta_dispatch(std::integer_sequence<int, Cs...>, Index C, const double* q, const double* e,
                   Index L, double* beta, float* beta_f) {
  ((C == Cs + 1 ? beta_update_fixed<Cs + 1>(q, e, L, beta, beta_f) : void()), ...);
}

void beta_error(const double* beta, const float* h, Index L, Index C, double* e) {
  if (C >= 1 && C <= kMaxFixedOutputs) {
    beta_dispatch(std::make_integer_sequence<int, kMaxFixedOutputs>(), C, beta, h, L, e);
    return;
  }
  std::fill(e, e + C, 0.0);
  for (Index i = 0; i < L; ++i, beta += C) {
    const double hi = static_cast<double>(h[i]);
    for (Index j = 0; j < C; ++j) e[j] += beta[j] * hi;
  }
}

void beta_update(const double* q, const double* e, Index L, Index C, double* beta, float* beta_f) {
  if (C >= 1 && C <= kMaxFixedOutputs) {
    beta_dispatch(std::make_integer_sequence<int, kMaxFixedOutputs>(), C, q, e, L, beta, beta_f);
    return;
  }
  for (Index i = 0; i < L; ++i, beta += C, beta_f += C) {
    for (Index j = 0; j < C; ++j) {
      beta[j] += q[i] * e[j];
      beta_f[j] = static_cast<float>(beta[j]);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- names, config

const char* state_precision_name(StatePrecision p) {
  switch (p) {
    case StatePrecision::kFloat32:
      return "float32";
    case StatePrecision::kFloat64:
      return "float64";
  }
  return "unknown";
}

StatePrecision parse_state_precision(const std::string& name) {
  if (name == "float32") return StatePrecision::kFloat32;
  if (name == "float64") return StatePrecision::kFloat64;
  throw InvalidArgument(str_cat("unknown state precision '", name, "' (known: float32, float64)"));
}

std::int64_t OnlineConfig::effective_resolve_period() const {
  if (resolve_period > 0) return resolve_period;
  if (forgetting >= 1.0) return kDefaultResolvePeriod;
  const double p = std::ceil(3.0 / (1.0 - forgetting));
  return static_cast<std::int64_t>(std::min(p, static_cast<double>(kDefaultResolvePeriod)));
}

void OnlineConfig::validate() const {
  ELMQ_CHECK_ARG(std::isfinite(forgetting) && forgetting > 0.0 && forgetting <= 1.0,
                 "OnlineConfig.forgetting must be in (0, 1], got ", forgetting);
  ELMQ_CHECK_ARG(static_cast<std::uint32_t>(precision) <= 1,
                 "OnlineConfig.precision is not a known precision (", static_cast<int>(precision),
                 ")");
  ELMQ_CHECK_ARG(resolve_period >= 0,
                 "OnlineConfig.resolve_period must be >= 0 (0 = automatic), got ", resolve_period);
  ELMQ_CHECK_ARG(block_rows >= 1 && block_rows <= kMaxBlockRows,
                 "OnlineConfig.block_rows must be in [1, ", kMaxBlockRows, "], got ", block_rows);
}

// ---------------------------------------------------------------- features

namespace detail {

struct OnlineFeatures {
  Scaler scaler;
  HiddenLayer hidden;
  Index L = 0, Lp = 0;
  bool rbf = false;

  OnlineFeatures(Scaler s, HiddenLayer h) : scaler(std::move(s)), hidden(std::move(h)) {
    L = hidden.n_neurons();
    Lp = (L + kTile - 1) / kTile * kTile;
    rbf = hidden.config().has_rbf();
  }

  // ws.hidden (length Lp, zero beyond L) = g(W s(x) + b), the product by
  // HiddenLayer::project_row (for predicting and learning alike).
  // @throws NumericalError (naming `where`) if an activation is not finite:
  // checked here, on L values, instead of on the inputs, so that one check
  // covers non-finite inputs and finite ones that overflow once scaled.
  void hidden_row(const float* x, PredictWorkspace& ws, const char* where, Index row = 0) const {
    scale_row(x, ws);
    hidden.project_row(ws.scaled.data(), ws.hidden.data(), 0, L);
    activate_row(ws, where, row);
  }
  // hidden_row's first and last steps, for a caller that splits the
  // product's rows between threads.
  void scale_row(const float* x, PredictWorkspace& ws) const {
    const Index d = hidden.n_inputs();
    if (ws.scaled.size() != d) ws.scaled.resize(d);
    if (ws.hidden.size() != Lp) ws.hidden.setZero(Lp);
    scaler.transform_row(x, ws.scaled.data());
  }
  void activate_row(PredictWorkspace& ws, const char* where, Index row) const {
    float x_sq = 0.0f;
    if (rbf) x_sq = ws.scaled.squaredNorm();
    Eigen::Map<RowMatrixXf> h_row(ws.hidden.data(), 1, L);
    hidden.activate(h_row, Eigen::Map<const VectorXf>(&x_sq, 1));
    check_finite_result(h_row, row, where, "hidden activations");
  }
};

// ---------------------------------------------------------------- state

// P = c * (P_base + sum_j sign_j v_j v_j^T): the packed triangle P_base, a
// queue of pending rank-1 corrections and a scalar multiplier (forgetting
// divides P by rho each step; the multiplier is folded in at each flush).
class OnlineState {
 public:
  virtual ~OnlineState() = default;
  virtual std::unique_ptr<OnlineState> clone() const = 0;
  virtual StatePrecision precision() const = 0;
  /// P = dense (L x L), queue cleared, c = 1.
  virtual void set_dense(const RowMatrixXd& dense) = 0;
  virtual RowMatrixXd dense() const = 0;
  /// q = Q h for h of length Lp (zero padded); returns h . q (Q: P without c).
  /// On up to `threads` threads (the same bits for any number).
  virtual double apply(const float* h, int threads) = 0;
  /// The last q, as double.
  virtual void q_to(VectorXd& out) const = 0;
  /// Queues sign * (scale q)(scale q)^T.
  virtual void enqueue_q(double scale, double sign) = 0;
  /// Advances the rank-64 update in progress, if any, by one sample's share
  /// (independent of the sample: done at the start of a single-sample update).
  virtual void step_pending() = 0;
  /// Whether such an update is in progress.
  virtual bool pending() const = 0;
  /// ut = H Q (k x Lp), H: k x Lp.
  virtual void apply_block(const RowMatrixXf& h, RowMatrixXd& ut) = 0;
  /// Queues sign * v v^T for each row v of rows (k x Lp); right after
  /// apply_block they are applied at once (and the queue emptied).
  virtual void enqueue_rows(const RowMatrixXd& rows, double sign) = 0;
  virtual void flush() = 0;
  virtual double c() const = 0;
  virtual void scale_c(double f) = 0;
  virtual Index queued() const = 0;
  virtual std::size_t bytes() const = 0;
  virtual const void* data() const = 0;
  virtual void save(RecordWriter& w) const = 0;
  virtual void load(const RecordReader& r) = 0;
};

}  // namespace detail

namespace {

constexpr std::uint32_t kTagPBase = tag("PBAS");
constexpr std::uint32_t kTagPQueue = tag("PQUE");
constexpr std::uint32_t kTagPSign = tag("PSGN");
constexpr std::uint32_t kTagPMul = tag("PMUL");
constexpr std::uint32_t kTagPPrec = tag("PREC");
constexpr std::uint32_t kTagPPend = tag("PPND");
constexpr std::uint32_t kTagPPendSign = tag("PPSG");
constexpr std::uint32_t kTagPPendNext = tag("PPNX");
constexpr std::uint32_t kTagPPendMul = tag("PPMU");

// The queue has two halves of kQueueFlush rows. New corrections go to the
// live half; when it is full its rows become the pending half, whose
// rank-64 update of the stored triangle is spread over the next samples
// (flush_step, a few block rows each), so that no single update pays for a
// whole pass over P (1 ms at L = 1000: every 64th update's latency). The
// pending update works block row by block row, so while it is in progress
// the block rows before a_next_ hold c0 (T + A) (c0 the multiplier when it
// began, A the pending rows) and the trailing principal submatrix from row
// 8 a_next_ still holds T: there A is added as corrections, as queued rows
// are. Q = (1 / c0) T_lead + T_trail + A_trail + B, P = c Q.
template <typename T>
class PackedState final : public detail::OnlineState {
 public:
  PackedState(Index L, Index lp)
      : L_(L),
        lp_(lp),
        p_(Vec<T>::Zero(detail::packed_sym_size(lp))),
        queue_(RowMat<T>::Zero(kQueueCapacity, lp)),
        sign_(VectorXd::Zero(kQueueCapacity)),
        split_(symv_split(lp)),
        q_(Vec<T>::Zero(lp)),
        hx_(Vec<T>::Zero(lp)),
        d_(Vec<T>::Zero(kQueueCapacity)),
        q2_(Vec<T>::Zero(split_ > 0 ? lp : 0)),
        coef_(Vec<T>::Zero(kQueueCapacity)),
        tmp_(detail::packed_sym_rank_update_scratch<T>(lp, kQueueCapacity)) {}

  std::unique_ptr<detail::OnlineState> clone() const override {
    return std::make_unique<PackedState<T>>(*this);
  }
  StatePrecision precision() const override {
    return std::is_same_v<T, float> ? StatePrecision::kFloat32 : StatePrecision::kFloat64;
  }

  void set_dense(const RowMatrixXd& dense) override {
    detail::packed_sym_from_dense<T>(dense, lp_, p_.data());
    a_ = 0;
    m_ = 0;
    c_ = 1.0;
    dense_valid_ = false;
  }

  RowMatrixXd dense() const override {
    if (a_ > 0) {
      PackedState copy(*this);
      copy.finish_pending();
      return copy.dense();
    }
    RowMatrixXd d = detail::packed_sym_to_dense(p_.data(), L_, lp_);
    if (m_ > 0) {
      const RowMatrixXd v = live().leftCols(L_).template cast<double>();
      d.noalias() += v.transpose() * sign_.segment(b_off_, m_).asDiagonal() * v;
    }
    return c_ * d;
  }

  double apply(const float* h, int threads) override {
    hx_ = Eigen::Map<const VectorXf>(h, lp_).template cast<T>();
    q_.setZero();
    const Index nb = lp_ / kTile;
    if (split_ > 0) {
      // Two fixed segments of block rows (split_ depends on lp only), each
      // summed into its own vector and added at the end: one thread or two
      // give the same bits.
      q2_.setZero();
      parallel_for(2, threads, [&](std::int64_t part) {
        if (part == 0) {
          symv_segment(0, split_, q_.data());
        } else {
          symv_segment(split_, nb, q2_.data());
        }
      });
      q_ += q2_;
    } else if (a_ > 0 && a_c0_ != 1.0) {
      symv_segment(0, nb, q_.data());
    } else {
      detail::packed_sym_symv(p_.data(), lp_, hx_.data(), q_.data());
    }
    if (a_ > 0) {
      // The pending rows on the trailing submatrix that does not hold them yet.
      const Index t = kTile * a_next_, w = lp_ - t;
      const auto va = queue_.block(a_off(), t, a_, w);
      d_.head(a_).noalias() = va * hx_.tail(w);
      for (Index j = 0; j < a_; ++j) d_[j] *= static_cast<T>(sign_[a_off() + j]);
      q_.tail(w).noalias() += va.transpose() * d_.head(a_);
    }
    if (m_ > 0) {
      d_.head(m_).noalias() = live() * hx_;
      for (Index j = 0; j < m_; ++j) d_[j] *= static_cast<T>(sign_[b_off_ + j]);
      q_.noalias() += live().transpose() * d_.head(m_);
    }
    double s = 0.0;
    for (Index i = 0; i < lp_; ++i) s += static_cast<double>(hx_[i]) * static_cast<double>(q_[i]);
    return s;
  }

  void q_to(VectorXd& out) const override { out = q_.template cast<double>(); }

  void enqueue_q(double scale, double sign) override {
    dense_valid_ = false;
    queue_.row(b_off_ + m_) = (q_ * static_cast<T>(scale)).transpose();
    sign_[b_off_ + m_] = sign;
    regroup(b_off_ + m_);
    ++m_;
    if (m_ >= kQueueFlush) start_pending();
  }

  void step_pending() override {
    if (a_ > 0) flush_step();
  }
  bool pending() const override { return a_ > 0; }

  void apply_block(const RowMatrixXf& h, RowMatrixXd& ut) override {
    // Materialize Q = P_base + queue as a dense upper triangle (leaving the
    // packed state untouched until enqueue_rows commits), then one symmetric
    // product: large GEMMs instead of rank-8 updates on a packed layout.
    materialize_dense();
    const RowMat<T> hx = h.template cast<T>();
    RowMat<T> u(h.rows(), lp_);
    u.noalias() = hx * dense_.template selfadjointView<Eigen::Upper>();
    ut = u.template cast<double>();
  }

  void enqueue_rows(const RowMatrixXd& rows, double sign) override {
    const Index k = rows.rows();
    if (dense_valid_) {
      // dense already holds Q: Q += sign V^T V, then pack it (queue emptied).
      const RowMat<T> v = rows.template cast<T>();
      dense_.template selfadjointView<Eigen::Upper>().rankUpdate(v.transpose(),
                                                                 static_cast<T>(sign));
      pack_from_dense();
      return;
    }
    assert(k <= kQueueFlush);
    if (m_ + k > kQueueFlush) flush();
    finish_pending();
    queue_.middleRows(b_off_ + m_, k) = rows.template cast<T>();
    sign_.segment(b_off_ + m_, k).setConstant(sign);
    for (Index j = 0; j < k; ++j) regroup(b_off_ + m_ + j);
    m_ += k;
    if (m_ >= kQueueFlush) flush();
  }

  // P_base = c * (P_base + every queued row), queue emptied, c = 1.
  void flush() override {
    dense_valid_ = false;
    finish_pending();
    if (m_ == 0 && c_ == 1.0) return;
    for (Index j = 0; j < m_; ++j) coef_[j] = static_cast<T>(c_ * sign_[b_off_ + j]);
    detail::packed_sym_rank_update_rows(p_.data(), lp_, c_, coef_.data(), m_, tmp_, b_off_, 0,
                                        lp_ / kTile);
    m_ = 0;
    c_ = 1.0;
  }

  double c() const override { return c_; }
  void scale_c(double f) override { c_ *= f; }

  // dense_ (Lp x Lp, upper triangle used) = P_base + sum sign_j v_j v_j^T.
  void materialize_dense() {
    finish_pending();
    detail::packed_sym_to_upper(p_.data(), lp_, dense_);
    if (m_ > 0) {
      RowMat<T> signed_rows = live();
      for (Index j = 0; j < m_; ++j) signed_rows.row(j) *= static_cast<T>(sign_[b_off_ + j]);
      dense_.template triangularView<Eigen::Upper>() += live().transpose() * signed_rows;
    }
    dense_valid_ = true;
  }

  // P_base = c * dense, queue emptied, c = 1.
  void pack_from_dense() {
    detail::packed_sym_from_upper(dense_, static_cast<T>(c_), lp_, p_.data());
    m_ = 0;
    c_ = 1.0;
    dense_valid_ = false;
  }
  Index queued() const override { return m_; }
  std::size_t bytes() const override { return static_cast<std::size_t>(p_.size()) * sizeof(T); }
  const void* data() const override { return p_.data(); }

  void save(RecordWriter& w) const override {
    w.put_u64(kTagPPrec, static_cast<std::uint64_t>(precision()));
    const RowMat<T> q = live();
    // Files keep the row-block layout of file version 1 (elm/packed_sym.h).
    const std::vector<T> base = detail::packed_sym_to_row_blocks(p_.data(), lp_);
    if constexpr (std::is_same_v<T, float>) {
      w.put_f32_array(kTagPBase, base.data(), base.size());
      w.put_f32_array(kTagPQueue, q.data(), static_cast<std::size_t>(q.size()));
    } else {
      w.put_f64_array(kTagPBase, base.data(), base.size());
      w.put_f64_array(kTagPQueue, q.data(), static_cast<std::size_t>(q.size()));
    }
    w.put_f64_array(kTagPSign, sign_.data() + b_off_, static_cast<std::size_t>(m_));
    w.put_f64(kTagPMul, c_);
    // The update in progress (file version 2): its rows, how far it got and
    // its multiplier, so that a resumed model continues bit for bit.
    const RowMat<T> pend = queue_.middleRows(a_off(), a_);
    if constexpr (std::is_same_v<T, float>) {
      w.put_f32_array(kTagPPend, pend.data(), static_cast<std::size_t>(pend.size()));
    } else {
      w.put_f64_array(kTagPPend, pend.data(), static_cast<std::size_t>(pend.size()));
    }
    w.put_f64_array(kTagPPendSign, sign_.data() + a_off(), static_cast<std::size_t>(a_));
    w.put_u64(kTagPPendNext, static_cast<std::uint64_t>(a_ > 0 ? a_next_ : 0));
    w.put_f64(kTagPPendMul, a_c0_);
  }

  void load(const RecordReader& r) override {
    if (r.get_u64(kTagPPrec) != static_cast<std::uint64_t>(precision())) {
      r.fail("state precision record disagrees with the configuration");
    }
    std::vector<T> base, queue;
    if constexpr (std::is_same_v<T, float>) {
      base = r.get_f32_array(kTagPBase);
      queue = r.get_f32_array(kTagPQueue);
    } else {
      base = r.get_f64_array(kTagPBase);
      queue = r.get_f64_array(kTagPQueue);
    }
    const std::vector<double> sign = r.get_f64_array(kTagPSign);
    const double c = r.get_f64(kTagPMul);
    const auto m = static_cast<Index>(sign.size());
    if (static_cast<Index>(base.size()) != p_.size() || m >= kQueueFlush ||
        static_cast<Index>(queue.size()) != m * lp_) {
      r.fail("inverse-Gram state has the wrong size for the hidden layer");
    }
    if (!(std::isfinite(c) && c > 0.0)) r.fail("inverse-Gram multiplier is not a positive number");
    detail::packed_sym_from_row_blocks(base.data(), lp_, p_.data());
    a_ = 0;
    b_off_ = 0;
    for (Index j = 0; j < m; ++j) {
      if (sign[static_cast<std::size_t>(j)] != 1.0 && sign[static_cast<std::size_t>(j)] != -1.0)
        r.fail("queued correction has a sign other than +-1");
      queue_.row(j) = Eigen::Map<const Vec<T>>(queue.data() + j * lp_, lp_).transpose();
      sign_[j] = sign[static_cast<std::size_t>(j)];
      regroup(j);
    }
    if (!p_.allFinite() || !queue_.topRows(m).allFinite())
      r.fail("inverse-Gram state is not finite");
    m_ = m;
    c_ = c;
    if (r.has(kTagPPendSign)) load_pending(r);
  }

 private:
  Index a_off() const { return kQueueFlush - b_off_; }

  // y += the part of Q hx_ from block rows [b0, b1): the block rows before
  // a_next_ hold c0 times their part of Q while an update is pending.
  void symv_segment(Index b0, Index b1, T* y) const {
    if (a_ > 0 && a_c0_ != 1.0 && a_next_ > b0) {
      const Index mid = std::min(a_next_, b1);
      detail::packed_sym_symv_rows(p_.data(), lp_, hx_.data(), y, b0, mid);
      Eigen::Map<Vec<T>>(y, lp_) *= static_cast<T>(1.0 / a_c0_);
      if (mid < b1) detail::packed_sym_symv_rows(p_.data(), lp_, hx_.data(), y, mid, b1);
    } else {
      detail::packed_sym_symv_rows(p_.data(), lp_, hx_.data(), y, b0, b1);
    }
  }

  // The first block row of apply's second segment, or 0 (one segment, one
  // pass) below kMinSymvSplit: the tiles before it are about half of them.
  static Index symv_split(Index lp) {
    if (lp < kMinSymvSplit) return 0;
    const Index nb = lp / kTile, total = nb * (nb + 1) / 2;
    Index b = 0, tiles = 0;
    while (2 * tiles < total) tiles += nb - b++;
    return b;
  }
  // Queue row j, regrouped by columns as term j of tmp_ (what the tile
  // update reads), when it is queued: no update starts with a copy of 64 rows.
  void regroup(Index j) {
    detail::packed_sym_regroup_row<T, T>(lp_, queue_.row(j).data(), j, tmp_);
  }
  auto live() const { return queue_.middleRows(b_off_, m_); }

  // The live half (full) becomes the pending one: its update T <- c0 (T + A)
  // starts (c0 = c now); c is divided by c0 once it is complete
  // (complete_pending).
  void start_pending() {
    finish_pending();
    a_ = m_;
    b_off_ = a_off();  // the other half, free since the last update completed
    m_ = 0;
    a_next_ = 0;
    a_c0_ = c_;
    prepare_pending();
  }

  // (The rows are already regrouped in tmp_: each as it was queued.)
  void prepare_pending() {
    for (Index j = 0; j < a_; ++j) coef_[j] = static_cast<T>(a_c0_ * sign_[a_off() + j]);
    const Index nb = lp_ / kTile;
    // Tiles per step: the update ends within kFlushSteps samples, before the
    // live half fills again.
    a_step_tiles_ = (nb * (nb + 1) / 2 + kFlushSteps - 1) / kFlushSteps;
  }

  void load_pending(const RecordReader& r) {
    std::vector<T> rows;
    if constexpr (std::is_same_v<T, float>) {
      rows = r.get_f32_array(kTagPPend);
    } else {
      rows = r.get_f64_array(kTagPPend);
    }
    const std::vector<double> sign = r.get_f64_array(kTagPPendSign);
    const std::uint64_t next = r.get_u64(kTagPPendNext);
    const double c0 = r.get_f64(kTagPPendMul);
    const auto a = static_cast<Index>(sign.size());
    const auto nb = static_cast<std::uint64_t>(lp_ / kTile);
    if (a > kQueueFlush || static_cast<Index>(rows.size()) != a * lp_ ||
        (a > 0 ? next >= nb : next != 0)) {
      r.fail("the inverse-Gram update in progress has the wrong size");
    }
    if (!(std::isfinite(c0) && c0 > 0.0)) {
      r.fail("inverse-Gram multiplier is not a positive number");
    }
    if (a == 0) return;
    for (Index j = 0; j < a; ++j) {
      const double s = sign[static_cast<std::size_t>(j)];
      if (s != 1.0 && s != -1.0) r.fail("queued correction has a sign other than +-1");
      queue_.row(a_off() + j) =
          Eigen::Map<const Vec<T>>(rows.data() + j * lp_, lp_).transpose();
      sign_[a_off() + j] = s;
      regroup(a_off() + j);
    }
    if (!queue_.middleRows(a_off(), a).allFinite()) r.fail("inverse-Gram state is not finite");
    a_ = a;
    a_next_ = static_cast<Index>(next);
    a_c0_ = c0;
    prepare_pending();
  }

  // Advances the pending update by about a_step_tiles_ tiles (whole block rows).
  void flush_step() {
    const Index nb = lp_ / kTile;
    Index end = a_next_, tiles = 0;
    while (end < nb && tiles < a_step_tiles_) tiles += nb - end++;
    detail::packed_sym_rank_update_rows(p_.data(), lp_, a_c0_, coef_.data(), a_, tmp_, a_off(),
                                        a_next_, end);
    a_next_ = end;
    if (a_next_ == nb) complete_pending();
  }

  void finish_pending() {
    if (a_ == 0) return;
    detail::packed_sym_rank_update_rows(p_.data(), lp_, a_c0_, coef_.data(), a_, tmp_, a_off(),
                                        a_next_, lp_ / kTile);
    complete_pending();
  }

  // Q = (1 / c0) T + B with T updated: P = c Q = (c / c0) (T + c0 B).
  void complete_pending() {
    a_ = 0;
    if (a_c0_ != 1.0) {
      c_ /= a_c0_;
      const T f = static_cast<T>(std::sqrt(a_c0_));
      queue_.middleRows(b_off_, m_) *= f;
      for (Index g = 0; g < lp_ / kTile; ++g) tmp_.row(g).segment(kTile * b_off_, kTile * m_) *= f;
    }
    a_c0_ = 1.0;
  }

  Index L_, lp_;
  Vec<T> p_;
  RowMat<T> queue_;  // two halves of kQueueFlush rows: live and pending
  VectorXd sign_;
  Index b_off_ = 0;  // first row of the live half
  Index m_ = 0;      // rows in the live half
  double c_ = 1.0;
  Index a_ = 0;       // rows of the pending update (0: none), in the other half
  Index a_next_ = 0;  // its next block row
  double a_c0_ = 1.0;
  Index a_step_tiles_ = 0;
  Index split_ = 0;  // symv_split(lp_)
  Vec<T> q_, hx_, d_, q2_;
  Vec<T> coef_;    // c * sign of the rows being added to the triangle
  RowMat<T> tmp_;  // the queue's rows regrouped by columns (term j: row j)
  // Scratch of the block path: Q as a dense upper triangle (not saved).
  RowMat<T> dense_;
  bool dense_valid_ = false;
};

std::unique_ptr<detail::OnlineState> make_state(StatePrecision p, Index L, Index lp) {
  if (p == StatePrecision::kFloat64) return std::make_unique<PackedState<double>>(L, lp);
  return std::make_unique<PackedState<float>>(L, lp);
}

LabelVector sorted_unique(const ConstLabelRef& v) {
  LabelVector u = v;
  std::sort(u.data(), u.data() + u.size());
  const auto* end = std::unique(u.data(), u.data() + u.size());
  return u.head(end - u.data());
}

Index find_class(const LabelVector& classes, std::int64_t label) {
  const auto* begin = classes.data();
  const auto* end = begin + classes.size();
  const auto* it = std::lower_bound(begin, end, label);
  return (it != end && *it == label) ? static_cast<Index>(it - begin) : -1 - (it - begin);
}

}  // namespace

// ---------------------------------------------------------------- snapshot, slot

Index OnlineSnapshot::n_features() const { return features_ ? features_->hidden.n_inputs() : 0; }

void OnlineSnapshot::decision_row(const float* x, float* out, PredictWorkspace& ws) const {
  ELMQ_CHECK_ARG(features_ != nullptr, "OnlineSnapshot::decision_row: empty snapshot");
  features_->hidden_row(x, ws, "OnlineSnapshot::decision_row");
  Eigen::Map<VectorXf>(out, beta_.cols()).noalias() =
      beta_.transpose() * ws.hidden.head(features_->L);
  check_finite_result(out, beta_.cols(), "OnlineSnapshot::decision_row", "decisions");
}

std::int64_t OnlineSnapshot::predict_row(const float* x, PredictWorkspace& ws,
                                         float* scores) const {
  ELMQ_CHECK_ARG(task_ == Task::kClassification,
                 "OnlineSnapshot::predict_row: the model was trained for ", task_name(task_),
                 ", not classification");
  ELMQ_CHECK_ARG(classes_.size() > 0, "OnlineSnapshot::predict_row: no class has been learned yet");
  decision_row(x, scores, ws);
  Index best = 0;
  for (Index c = 1; c < beta_.cols(); ++c)
    if (scores[c] > scores[best]) best = c;
  return classes_[best];
}

ModelSlot::ModelSlot(std::shared_ptr<const OnlineSnapshot> initial)
    : current_(std::move(initial)) {}

std::shared_ptr<const OnlineSnapshot> ModelSlot::load() const {
  return std::atomic_load(&current_);
}

void ModelSlot::store(std::shared_ptr<const OnlineSnapshot> snapshot) {
  std::atomic_store(&current_, std::move(snapshot));
}

// ---------------------------------------------------------------- construction

OnlineElm::OnlineElm() = default;
OnlineElm::~OnlineElm() = default;
OnlineElm::OnlineElm(OnlineElm&&) noexcept = default;
OnlineElm& OnlineElm::operator=(OnlineElm&&) noexcept = default;

OnlineElm::OnlineElm(const OnlineElm& o)
    : elm_(o.elm_),
      online_(o.online_),
      task_(o.task_),
      features_(o.features_),
      L_(o.L_),
      Lp_(o.Lp_),
      classes_(o.classes_),
      lambda_(o.lambda_),
      beta_(o.beta_),
      beta_f_(o.beta_f_),
      state_(o.state_ ? o.state_->clone() : nullptr),
      gram_packed_(o.gram_packed_),
      hty_(o.hty_),
      stats_h_(o.stats_h_),
      stats_t_(o.stats_t_),
      stats_coef_(o.stats_coef_),
      stats_decay_(o.stats_decay_),
      stats_off_(o.stats_off_),
      stats_rows_(o.stats_rows_),
      fold_rows_(o.fold_rows_),
      fold_off_(o.fold_off_),
      fold_next_(o.fold_next_),
      fold_step_tiles_(o.fold_step_tiles_),
      fold_decay_(o.fold_decay_),
      n_learned_(o.n_learned_),
      n_unlearned_(o.n_unlearned_),
      n_resolves_(o.n_resolves_),
      since_resolve_(o.since_resolve_),
      resolve_period_(o.resolve_period_),
      ws_(o.ws_),
      err_(o.err_),
      t_row_(o.t_row_),
      scratch_(o.scratch_),
      row_threads_(o.row_threads_) {}

OnlineElm& OnlineElm::operator=(const OnlineElm& o) {
  if (this != &o) {
    OnlineElm copy(o);
    *this = std::move(copy);
  }
  return *this;
}

void OnlineElm::set_row_threads(int threads) {
  ELMQ_CHECK_ARG(threads >= 0,
                 "OnlineElm::set_row_threads: threads must be >= 0 (0 = all cores), got ", threads);
  row_threads_ = threads;
}

Index OnlineElm::n_features() const { return features_ ? features_->hidden.n_inputs() : 0; }
const Scaler& OnlineElm::scaler() const { return features_->scaler; }
const HiddenLayer& OnlineElm::hidden() const { return features_->hidden; }
std::size_t OnlineElm::state_bytes() const { return state_ ? state_->bytes() : 0; }
const void* OnlineElm::state_data() const { return state_ ? state_->data() : nullptr; }

void OnlineElm::init_common(const OnlineConfig& online, Task task, Index n_outputs) {
  online_ = online;
  task_ = task;
  L_ = features_->L;
  Lp_ = features_->Lp;
  resolve_period_ = online_.effective_resolve_period();
  state_ = make_state(online_.precision, L_, Lp_);
  beta_ = RowMatrixXd::Zero(L_, n_outputs);
  beta_f_ = RowMatrixXf::Zero(L_, n_outputs);
  err_ = VectorXd::Zero(n_outputs);
  t_row_ = VectorXf::Zero(n_outputs);
  scratch_.q = VectorXd::Zero(Lp_);
  if (online_.keep_statistics) {
    gram_packed_.assign(static_cast<std::size_t>(detail::packed_sym_size(Lp_)), 0.0);
    hty_ = RowMatrixXd::Zero(L_, n_outputs);
    stats_h_ = RowMatrixXf::Zero(2 * kStatsRows, Lp_);
    stats_t_ = RowMatrixXf::Zero(2 * kStatsRows, n_outputs);
    stats_coef_ = VectorXd::Zero(2 * kStatsRows);
    stats_decay_ = VectorXd::Zero(2 * kStatsRows);
    scratch_.tmp = detail::packed_sym_rank_update_scratch<double>(Lp_, 2 * kStatsRows);
    scratch_.td = RowMatrixXd::Zero(kStatsRows, n_outputs);
    scratch_.coef = VectorXd::Zero(kStatsRows);
    scratch_.td_col.assign(static_cast<std::size_t>(kStatsRows), -1);
  }
}

void OnlineElm::init_prior(const RowMatrixXd* gram, const RowMatrixXd& hty) {
  if (gram != nullptr) {
    RowMatrixXd p, beta;
    if (!ridge_inverse(*gram, lambda_, hty, p, beta)) {
      throw NumericalError(
          str_cat("OnlineElm: G + lambda*I of the seed model is not positive "
                  "definite (L = ",
                  L_, ", lambda = ", lambda_, ")"));
    }
    if (!p.allFinite() || !beta.allFinite()) {
      throw NumericalError("OnlineElm: the seed solve is not finite; use a larger lambda");
    }
    state_->set_dense(p);
    beta_ = beta;
  } else {
    state_->set_dense(RowMatrixXd::Identity(L_, L_) / lambda_);
    beta_ = hty / lambda_;
  }
  if (online_.keep_statistics) {
    hty_ = hty;
    if (gram != nullptr) detail::packed_sym_from_dense(*gram, Lp_, gram_packed_.data());
  }
  sync_beta_f32();
}

OnlineElm OnlineElm::from_model(const ElmModel& model, const OnlineConfig& online) {
  online.validate();
  ELMQ_CHECK_ARG(model.fitted(), "OnlineElm::from_model: the model is not fitted");
  ELMQ_CHECK_ARG(std::isfinite(model.lambda()) && model.lambda() > 0.0,
                 "OnlineElm::from_model: the model's lambda must be > 0 (the ridge prior of the "
                 "recursion), got ",
                 model.lambda());
  OnlineElm m;
  m.elm_ = model.config();
  m.elm_.ridge.auto_lambda = false;
  m.elm_.ridge.lambda = model.lambda();
  m.lambda_ = model.lambda();
  m.features_ = std::make_shared<const detail::OnlineFeatures>(model.scaler(), model.hidden());
  m.classes_ = model.classes();
  m.init_common(online, model.task(), model.n_outputs());
  if (model.has_training_state()) {
    const GramAccumulator stats = model.training_stats();
    m.init_prior(&stats.gram(), stats.hty());
  } else {
    m.init_prior(nullptr, m.lambda_ * model.beta().cast<double>());
  }
  return m;
}

namespace {
std::pair<Scaler, HiddenLayer> make_features(const ElmConfig& config, const ConstMatrixRef& x_init,
                                             const char* where) {
  config.validate();
  ELMQ_CHECK_ARG(x_init.rows() >= 1 && x_init.cols() >= 1, where, ": x_init is ", x_init.rows(),
                 " x ", x_init.cols(), ", needs at least one row and one column");
  check_finite(x_init, where, "x_init");
  ELMQ_CHECK_ARG(std::isfinite(config.ridge.lambda) && config.ridge.lambda > 0.0, where,
                 ": config.ridge.lambda must be > 0 (the ridge prior P = I / lambda), got ",
                 config.ridge.lambda);
  Scaler scaler(config.scaling);
  scaler.fit(x_init);
  RowMatrixXf centres;
  // As ElmModel draws its layer (centre rows, weight normalisation), so that
  // both give the same layer for the same config and data.
  if (config.hidden.has_rbf()) {
    centres = scaler.transform(x_init.topRows(std::min<Index>(x_init.rows(), 8192)));
  }
  HiddenLayer hidden =
      HiddenLayer::create(config.hidden, x_init.cols(), centres, scaler.scaled_rms());
  return {std::move(scaler), std::move(hidden)};
}
}  // namespace

OnlineElm OnlineElm::create(const ElmConfig& config, const OnlineConfig& online,
                            const ConstMatrixRef& x_init, const ConstLabelRef& classes) {
  online.validate();
  auto [scaler, hidden] = make_features(config, x_init, "OnlineElm::create");
  LabelVector cls = sorted_unique(classes);
  ELMQ_CHECK_ARG(cls.size() == classes.size(), "OnlineElm::create: `classes` holds duplicates");
  ELMQ_CHECK_ARG(cls.size() > 0 || online.grow_classes,
                 "OnlineElm::create: `classes` is empty and online.grow_classes is false");
  ELMQ_CHECK_ARG(cls.size() <= 100000, "OnlineElm::create: ", cls.size(),
                 " classes, the limit is 100000");
  OnlineElm m;
  m.elm_ = config;
  m.elm_.ridge.auto_lambda = false;
  m.elm_.hidden = hidden.config();
  m.lambda_ = config.ridge.lambda;
  m.features_ =
      std::make_shared<const detail::OnlineFeatures>(std::move(scaler), std::move(hidden));
  m.classes_ = std::move(cls);
  m.init_common(online, Task::kClassification, m.classes_.size());
  m.init_prior(nullptr, RowMatrixXd::Zero(m.L_, m.classes_.size()));
  return m;
}

OnlineElm OnlineElm::create_regression(const ElmConfig& config, const OnlineConfig& online,
                                       const ConstMatrixRef& x_init, Index n_outputs) {
  online.validate();
  ELMQ_CHECK_ARG(n_outputs >= 1 && n_outputs <= 100000,
                 "OnlineElm::create_regression: n_outputs must be in [1, 100000], got ", n_outputs);
  auto [scaler, hidden] = make_features(config, x_init, "OnlineElm::create_regression");
  OnlineElm m;
  m.elm_ = config;
  m.elm_.ridge.auto_lambda = false;
  m.elm_.hidden = hidden.config();
  m.lambda_ = config.ridge.lambda;
  m.features_ =
      std::make_shared<const detail::OnlineFeatures>(std::move(scaler), std::move(hidden));
  m.init_common(online, Task::kRegression, n_outputs);
  m.init_prior(nullptr, RowMatrixXd::Zero(m.L_, n_outputs));
  return m;
}

// ---------------------------------------------------------------- classes

void OnlineElm::require_classifier(const char* where) const {
  ELMQ_CHECK_ARG(task_ == Task::kClassification, where, ": the model was trained for ",
                 task_name(task_), ", not classification");
}

void OnlineElm::add_class(std::int64_t label, Index position) {
  // Buffered rows carry targets of the old width: fold them first.
  if (online_.keep_statistics) stats_fold();
  const Index C = n_outputs();
  auto insert_col = [&](auto& mat) {
    using M = std::decay_t<decltype(mat)>;
    M grown = M::Zero(mat.rows(), C + 1);
    grown.leftCols(position) = mat.leftCols(position);
    grown.rightCols(C - position) = mat.rightCols(C - position);
    mat = std::move(grown);
  };
  insert_col(beta_);
  insert_col(beta_f_);
  if (online_.keep_statistics) {
    insert_col(hty_);
    stats_t_ = RowMatrixXf::Zero(2 * kStatsRows, C + 1);
    scratch_.td = RowMatrixXd::Zero(kStatsRows, C + 1);
  }
  LabelVector cls(C + 1);
  cls.head(position) = classes_.head(position);
  cls[position] = label;
  cls.tail(C - position) = classes_.tail(C - position);
  classes_ = std::move(cls);
  err_ = VectorXd::Zero(C + 1);
  t_row_ = VectorXf::Zero(C + 1);
}

void OnlineElm::check_label(std::int64_t label, bool may_grow, const char* where) const {
  if (find_class(classes_, label) >= 0) return;
  ELMQ_CHECK_ARG(may_grow, where, ": label ", label, " is not one of the model's ", classes_.size(),
                 " classes",
                 online_.grow_classes ? " (it was never learned)" : " (grow_classes is false)");
  ELMQ_CHECK_ARG(classes_.size() < 100000, where, ": adding class ", label,
                 " exceeds the limit of 100000 classes");
}

Index OnlineElm::class_column(std::int64_t label, bool may_grow, const char* where) {
  const Index pos = find_class(classes_, label);
  if (pos >= 0) return pos;
  check_label(label, may_grow, where);
  add_class(label, -1 - pos);
  return -1 - pos;
}

// ---------------------------------------------------------------- statistics

void OnlineElm::stats_push(const float* h, const float* t, double coef, double decay) {
  const Index row = stats_off_ + stats_rows_;
  stats_h_.row(row) = Eigen::Map<const Eigen::RowVectorXf>(h, Lp_);
  stats_t_.row(row) = Eigen::Map<const Eigen::RowVectorXf>(t, n_outputs());
  stats_coef_[row] = coef;
  stats_decay_[row] = decay;
  // Regrouped (as double) when it arrives: no fold starts with a copy of 64 rows.
  detail::packed_sym_regroup_row<double, float>(Lp_, stats_h_.row(row).data(), row, scratch_.tmp);
  ++stats_rows_;
  // Start a fold when the live half is full, or early at mid-cycle of the
  // correction queue: the two set-ups (regrouping 64 rows) then fall on
  // different samples.
  if (stats_rows_ == kStatsRows ||
      (stats_rows_ >= kStatsRows / 2 && state_->queued() == kQueueFlush / 2)) {
    stats_fold_start();
  }
}

void OnlineElm::stats_fold_start() {
  stats_fold_finish();
  const Index m = stats_rows_, off = stats_off_;
  if (m == 0) return;
  // Row i is multiplied by the decay of every row after it; G by all of them.
  double decay = 1.0;
  for (Index i = m - 1; i >= 0; --i) {
    scratch_.coef[i] = stats_coef_[off + i] * decay;
    decay *= stats_decay_[off + i];
  }
  const Index C = n_outputs();
  for (Index i = 0; i < m; ++i) {
    scratch_.td.row(i) = stats_t_.row(off + i).cast<double>() * scratch_.coef[i];
    // A classifier's one-hot rows have one nonzero: B gains only that column.
    Index col = -1, nonzero = 0;
    for (Index c = 0; c < C; ++c) {
      if (scratch_.td(i, c) != 0.0) {
        col = c;
        ++nonzero;
      }
    }
    scratch_.td_col[static_cast<std::size_t>(i)] = nonzero == 1 ? col : -1;
  }
  // G = decay * G + sum_i a_i h_i h_i^T and B = decay * B + sum_i a_i h_i t_i^T,
  // from here on a few block rows (of G, and the same rows of B) per sample.
  // Double products: the statistics are the exact anchor of the re-solve, so
  // they must be more accurate than the float32 recursion they correct (float
  // h, exact in double).
  fold_rows_ = m;
  fold_off_ = off;
  fold_next_ = 0;
  fold_decay_ = decay;
  const Index nb = Lp_ / kTile;
  fold_step_tiles_ = (nb * (nb + 1) / 2 + kFlushSteps - 1) / kFlushSteps;
  // The other half (empty since the previous fold started) is live now.
  stats_off_ = kStatsRows - stats_off_;
  stats_rows_ = 0;
}

void OnlineElm::fold_rows(std::vector<double>* g, RowMatrixXd* b, Index b_begin,
                          Index b_end) const {
  if (g != nullptr) {
    detail::packed_sym_rank_update_rows(g->data(), Lp_, fold_decay_, scratch_.coef.data(),
                                        fold_rows_, scratch_.tmp, fold_off_, b_begin, b_end);
  }
  if (b == nullptr || b->cols() == 0) return;
  // Rows 8 j .. 8 j + 7 of B from group j of the regrouped rows (m x 8,
  // term-major), one term after the other (each element sums its terms in
  // order, whatever the split into steps); a one-hot term touches its one
  // column only (a dense product here took 4-5 % of an update at L = 1000).
  using Group = Eigen::Matrix<double, Eigen::Dynamic, kTile, Eigen::RowMajor>;
  const Index m = fold_rows_;
  for (Index j = b_begin; j < b_end && kTile * j < L_; ++j) {
    const Index r0 = kTile * j, n = std::min(kTile, L_ - r0);
    const Eigen::Map<const Group> v(scratch_.tmp.row(j).data() + kTile * fold_off_, m, kTile);
    auto rows = b->middleRows(r0, n);
    if (fold_decay_ != 1.0) rows *= fold_decay_;
    for (Index q = 0; q < m; ++q) {
      const Index col = scratch_.td_col[static_cast<std::size_t>(q)];
      if (col >= 0) {
        const double t = scratch_.td(q, col);
        for (Index r = 0; r < n; ++r) rows(r, col) += v(q, r) * t;
      } else {
        for (Index r = 0; r < n; ++r) rows.row(r) += v(q, r) * scratch_.td.row(q);
      }
    }
  }
}

void OnlineElm::stats_fold_step() {
  const Index nb = Lp_ / kTile;
  Index end = fold_next_, tiles = 0;
  while (end < nb && tiles < fold_step_tiles_) tiles += nb - end++;
  fold_rows(&gram_packed_, &hty_, fold_next_, end);
  fold_next_ = end;
  if (fold_next_ == nb) fold_rows_ = 0;
}

void OnlineElm::stats_fold_finish() {
  if (fold_rows_ == 0) return;
  fold_rows(&gram_packed_, &hty_, fold_next_, Lp_ / kTile);
  fold_rows_ = 0;
}

void OnlineElm::stats_fold() {
  stats_fold_start();
  stats_fold_finish();
}

std::vector<double> OnlineElm::gram_folded() const {
  std::vector<double> g = gram_packed_;
  if (fold_rows_ > 0) fold_rows(&g, nullptr, fold_next_, Lp_ / kTile);
  return g;
}

RowMatrixXd OnlineElm::hty_folded() const {
  RowMatrixXd b = hty_;
  if (fold_rows_ > 0) fold_rows(nullptr, &b, fold_next_, Lp_ / kTile);
  return b;
}

void OnlineElm::stats_dense(RowMatrixXd* g, RowMatrixXd* b) const {
  // The folded statistics plus the buffered rows, weighted as stats_fold does.
  double total_decay = 1.0;
  for (Index i = 0; i < stats_rows_; ++i) total_decay *= stats_decay_[stats_off_ + i];
  if (g != nullptr) {
    const std::vector<double> folded = fold_rows_ > 0 ? gram_folded() : std::vector<double>();
    const double* gp = fold_rows_ > 0 ? folded.data() : gram_packed_.data();
    *g = total_decay * detail::packed_sym_to_dense(gp, L_, Lp_);
  }
  if (b != nullptr) *b = total_decay * (fold_rows_ > 0 ? hty_folded() : hty_);
  double decay = 1.0;
  for (Index i = stats_rows_ - 1; i >= 0; --i) {
    const double a = stats_coef_[stats_off_ + i] * decay;
    decay *= stats_decay_[stats_off_ + i];
    const VectorXd h = stats_h_.row(stats_off_ + i).head(L_).transpose().cast<double>();
    if (g != nullptr) g->noalias() += a * h * h.transpose();
    if (b != nullptr) b->noalias() += a * h * stats_t_.row(stats_off_ + i).cast<double>();
  }
}

RowMatrixXd OnlineElm::gram() const {
  ELMQ_CHECK_ARG(online_.keep_statistics, "OnlineElm::gram: statistics are not kept");
  RowMatrixXd g;
  stats_dense(&g, nullptr);
  return g;
}

RowMatrixXd OnlineElm::gram_targets() const {
  ELMQ_CHECK_ARG(online_.keep_statistics, "OnlineElm::gram_targets: statistics are not kept");
  RowMatrixXd b;
  stats_dense(nullptr, &b);
  return b;
}

RowMatrixXd OnlineElm::inverse_gram() const { return state_->dense(); }

// ---------------------------------------------------------------- exact solve

void OnlineElm::resolve_exact(const RowMatrixXf* rm_h, const RowMatrixXf* rm_t,
                              const VectorXd* rm_w) {
  ELMQ_CHECK_ARG(online_.keep_statistics,
                 "OnlineElm::resolve: needs online.keep_statistics (the double statistics)");
  // Folding the buffered rows keeps the model's value but not its bytes: on
  // failure restore them, so that a failed call leaves the model unchanged.
  // A fold in progress is completed first: that changes no value, nor any
  // later byte (the tiles are updated the same, whenever).
  stats_fold_finish();
  struct Backup {
    std::vector<double> gram;
    RowMatrixXd hty;
    Index off, rows;
  } backup{gram_packed_, hty_, stats_off_, stats_rows_};
  try {
    resolve_folded(rm_h, rm_t, rm_w);
  } catch (...) {
    gram_packed_ = std::move(backup.gram);
    hty_ = std::move(backup.hty);
    stats_off_ = backup.off;
    stats_rows_ = backup.rows;
    throw;
  }
}

void OnlineElm::resolve_folded(const RowMatrixXf* rm_h, const RowMatrixXf* rm_t,
                               const VectorXd* rm_w) {
  stats_fold();
  RowMatrixXd g = detail::packed_sym_to_dense(gram_packed_.data(), L_, Lp_);
  RowMatrixXd b = hty_;
  if (rm_h != nullptr) {
    const RowMatrixXd h = rm_h->leftCols(L_).cast<double>();
    const RowMatrixXd t = rm_t->cast<double>();
    g.noalias() -= h.transpose() * rm_w->asDiagonal() * h;
    b.noalias() -= h.transpose() * rm_w->asDiagonal() * t;
  }
  RowMatrixXd p, beta;
  if (!ridge_inverse(g, lambda_, b, p, beta)) {
    throw NumericalError(str_cat(
        "OnlineElm::resolve: G + lambda*I is not positive definite (L = ", L_, ", lambda = ",
        lambda_, ")", rm_h != nullptr ? "; the rows being unlearned were not learned before" : ""));
  }
  if (!p.allFinite() || !beta.allFinite()) {
    throw NumericalError(str_cat("OnlineElm::resolve: the solution is not finite (L = ", L_,
                                 ", lambda = ", lambda_, ")"));
  }
  // Commit (nothing above changed the model's value).
  if (rm_h != nullptr) {
    detail::packed_sym_from_dense(g, Lp_, gram_packed_.data());
    hty_ = b;
  }
  state_->set_dense(p);
  beta_ = beta;
  sync_beta_f32();
  since_resolve_ = 0;
  ++n_resolves_;
}

OnlineElm& OnlineElm::resolve() {
  resolve_exact(nullptr, nullptr, nullptr);
  return *this;
}

void OnlineElm::after_update(Index rows) {
  since_resolve_ += rows;
  if (online_.keep_statistics && since_resolve_ >= resolve_period_)
    resolve_exact(nullptr, nullptr, nullptr);
}

void OnlineElm::sync_beta_f32() { beta_f_ = beta_.cast<float>(); }

// ---------------------------------------------------------------- the recursion

void OnlineElm::side_steps() {
  state_->step_pending();
  if (fold_rows_ > 0) stats_fold_step();
}

bool OnlineElm::side_steps_due() const {
  return state_->pending() || fold_rows_ > 0;
}

void OnlineElm::hidden_row_and_side_steps(const float* x, const char* where, Index row) {
  // Two independent pieces of work: the hidden layer's product (streams W
  // from memory) and this sample's share of the rank-64 updates (compute on
  // cached data). With row_threads they share the threads: the share is one
  // task and the product's rows, in blocks of 64, are the others, taken as
  // threads come free, so that both finish together. Each neuron's sum and
  // the share are done by one thread in a fixed order, so the bits do not
  // depend on row_threads. They share no written data: the product writes
  // its rows of ws_.hidden; the share the state's tiles, queue scaling and
  // cursors, G, B and the fold's cursors (it reads the buffered rows of the
  // half being folded, which nothing writes now).
  const int threads = resolve_threads(row_threads_);
  const bool due = side_steps_due();
  const Index work = L_ * n_features();
  if (threads <= 1 || work < (due ? kMinUpdateSplitWork : kMinRowSplitWork)) {
    features_->hidden_row(x, ws_, where, row);  // may throw: nothing has changed yet
    side_steps();
    return;
  }
  constexpr Index kBlock = 64;
  const Index blocks = (L_ + kBlock - 1) / kBlock;
  const std::int64_t first = due ? 1 : 0;
  features_->scale_row(x, ws_);
  parallel_for(first + blocks, threads, [&](std::int64_t task) {
    if (task < first) {
      side_steps();
      return;
    }
    const Index r0 = (task - first) * kBlock, r1 = std::min(L_, r0 + kBlock);
    features_->hidden.project_row(ws_.scaled.data(), ws_.hidden.data() + r0, r0, r1);
  });
  features_->activate_row(ws_, where, row);
}

void OnlineElm::update_row(const float* h, const float* t, double weight, bool unlearn,
                           bool stepped) {
  if (!stepped) side_steps();
  const Index C = n_outputs();
  const double rho = unlearn ? 1.0 : online_.forgetting;
  const double hq = state_->apply(h, resolve_threads(row_threads_));
  const double c = state_->c();
  // s = rho / a + h^T P h with a = +w (learn) or -w (unlearn).
  const double s = (unlearn ? -rho / weight : rho / weight) + c * hq;
  if (unlearn) {
    const double pivot = -s * weight;  // 1 - w h^T P h, in (0, 1] if the row was learned
    const double min_pivot =
        online_.precision == StatePrecision::kFloat32 ? kMinPivotF32 : kMinPivotF64;
    if (!(pivot >= min_pivot)) {
      if (!online_.keep_statistics) {
        throw NumericalError(str_cat(
            "OnlineElm::unlearn: downdate pivot 1 - w h^T P h = ", pivot, " (< ", min_pivot,
            "): removing this row would leave the state (nearly) indefinite; it was probably "
            "never learned (enable keep_statistics for an exact fallback)"));
      }
      RowMatrixXf hr = Eigen::Map<const Eigen::RowVectorXf>(h, Lp_);
      RowMatrixXf tr = Eigen::Map<const Eigen::RowVectorXf>(t, C);
      VectorXd wr = VectorXd::Constant(1, weight);
      resolve_exact(&hr, &tr, &wr);
      return;
    }
  } else if (!(s > 0.0) || !std::isfinite(s)) {
    throw NumericalError(
        str_cat("OnlineElm::learn: the inverse-Gram state is no longer positive "
                "definite (1/w + h^T P h = ",
                s, ")"));
  }
  // e = t - beta^T h, then beta += (c / s) q e^T and its float copy in the
  // same pass (C is small: a BLAS call per product cost more).
  double* e = err_.data();
  beta_error(beta_.data(), h, L_, C, e);
  const double scale = c / s;
  for (Index j = 0; j < C; ++j) e[j] = (static_cast<double>(t[j]) - e[j]) * scale;
  state_->q_to(scratch_.q);
  beta_update(scratch_.q.data(), e, L_, C, beta_.data(), beta_f_.data());
  // P <- (P - u u^T / s) / rho with u = c q.
  state_->enqueue_q(std::sqrt(c / std::abs(s)), s > 0.0 ? -1.0 : 1.0);
  state_->scale_c(1.0 / rho);
  if (online_.keep_statistics) stats_push(h, t, unlearn ? -weight : weight, rho);
}

void OnlineElm::update_block(const RowMatrixXf& h, const RowMatrixXf& t, const VectorXd& w,
                             bool unlearn) {
  const Index k = h.rows();
  const double rho = unlearn ? 1.0 : online_.forgetting;
  RowMatrixXd ut;  // k x Lp: (Q H^T)^T
  state_->apply_block(h, ut);
  const double c = state_->c();
  const RowMatrixXd hd = h.cast<double>();
  // S = rho^k D^-1 + c H Q H^T, D = diag(a_i), a_i = +-w_i rho^(k-1-i).
  Eigen::MatrixXd s = c * (hd * ut.transpose());
  s = 0.5 * (s + s.transpose()).eval();
  const double rho_k = std::pow(rho, static_cast<double>(k));
  for (Index i = 0; i < k; ++i) {
    const double a = w[i] * std::pow(rho, static_cast<double>(k - 1 - i));
    s(i, i) += (unlearn ? -rho_k : rho_k) / a;
  }
  if (unlearn) {
    // M = -S must be positive definite; scaled by W^1/2 its eigenvalues lie in (0, 1].
    const Eigen::MatrixXd m = -s;
    const VectorXd sq = w.cwiseSqrt();
    const Eigen::MatrixXd scaled = sq.asDiagonal() * m * sq.asDiagonal();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(scaled, Eigen::EigenvaluesOnly);
    const double min_pivot =
        online_.precision == StatePrecision::kFloat32 ? kMinPivotF32 : kMinPivotF64;
    const double min_eig = eig.info() == Eigen::Success ? eig.eigenvalues().minCoeff() : -1.0;
    if (!(min_eig >= min_pivot)) {
      if (!online_.keep_statistics) {
        throw NumericalError(
            str_cat("OnlineElm::unlearn: the downdate matrix I - W^1/2 H P H^T W^1/2 has smallest "
                    "eigenvalue ",
                    min_eig, " (< ", min_pivot,
                    "): removing these rows would leave the state (nearly) indefinite; they were "
                    "probably never learned (enable keep_statistics for an exact fallback)"));
      }
      resolve_exact(&h, &t, &w);
      return;
    }
  }
  const Eigen::MatrixXd sd = unlearn ? Eigen::MatrixXd(-s) : s;
  Eigen::LLT<Eigen::MatrixXd> llt(sd);
  if (llt.info() != Eigen::Success) {
    throw NumericalError(str_cat("OnlineElm::learn: the Woodbury system of a ", k,
                                 "-row block is not positive definite: the inverse-Gram state "
                                 "is no longer positive definite"));
  }
  // E = T - H beta; beta += c U S^-1 E (U = Q H^T); for unlearning S = -M.
  Eigen::MatrixXd e = t.cast<double>();
  e.noalias() -= hd.leftCols(L_) * beta_;
  Eigen::MatrixXd x = llt.solve(e);
  if (unlearn) x = -x;
  beta_.noalias() += c * (ut.leftCols(L_).transpose() * x);
  // P' = c rho^-k (Q -+ c U R^-T R^-1 U^T): queue the rows of sqrt(c) R^-1 U^T.
  RowMatrixXd v = std::sqrt(c) * ut;
  llt.matrixL().solveInPlace(v);
  state_->enqueue_rows(v, unlearn ? 1.0 : -1.0);
  state_->scale_c(1.0 / rho_k);
  sync_beta_f32();
  if (online_.keep_statistics) {
    for (Index i = 0; i < k; ++i) {
      stats_push(h.row(i).data(), t.row(i).data(), unlearn ? -w[i] : w[i], rho);
    }
  }
}

// ---------------------------------------------------------------- learning API

void OnlineElm::check_row_input(const float* x, float weight, const char* where) const {
  ELMQ_CHECK_ARG(x != nullptr, where, ": x is null");
  ELMQ_CHECK_ARG(std::isfinite(weight) && weight > 0.0f, where,
                 ": weight must be finite and > 0, got ", weight);
  check_finite(Eigen::Map<const RowMatrixXf>(x, 1, n_features()), where, "x");
}

void OnlineElm::learn_row(const float* x, std::int64_t label, float weight) {
  const char* where = "OnlineElm::learn_row";
  require_classifier(where);
  check_row_input(x, weight, where);
  check_label(label, online_.grow_classes, where);
  hidden_row_and_side_steps(x, where);  // before a new class is added
  const Index col = class_column(label, online_.grow_classes, where);
  t_row_.setZero();
  t_row_[col] = 1.0f;
  update_row(ws_.hidden.data(), t_row_.data(), weight, false, true);
  ++n_learned_;
  after_update(1);
}

void OnlineElm::learn_row_regression(const float* x, const float* y, float weight) {
  const char* where = "OnlineElm::learn_row_regression";
  ELMQ_CHECK_ARG(task_ != Task::kClassification, where,
                 ": the model is a classifier; use learn_row");
  check_row_input(x, weight, where);
  ELMQ_CHECK_ARG(y != nullptr, where, ": y is null");
  for (Index j = 0; j < n_outputs(); ++j) {
    ELMQ_CHECK_ARG(std::isfinite(y[j]), where, ": y has a non-finite value at column ", j);
    ELMQ_CHECK_ARG(task_ != Task::kMultilabel || y[j] == 0.0f || y[j] == 1.0f, where,
                   ": a multilabel model's targets must be 0 or 1 (column ", j, ")");
  }
  hidden_row_and_side_steps(x, where);
  update_row(ws_.hidden.data(), y, weight, false, true);
  ++n_learned_;
  after_update(1);
}

std::int64_t OnlineElm::predict_then_learn_row(const float* x, std::int64_t label, float* scores,
                                               float weight) {
  const char* where = "OnlineElm::predict_then_learn_row";
  require_classifier(where);
  check_row_input(x, weight, where);
  // Validate the label before predicting: nothing changes on an error.
  check_label(label, online_.grow_classes, where);
  hidden_row_and_side_steps(x, where);
  std::int64_t guess = label;
  const Index C = n_outputs();
  if (C > 0) {
    Eigen::Map<VectorXf>(scores, C).noalias() = beta_f_.transpose() * ws_.hidden.head(L_);
    check_finite_result(scores, C, where, "decisions");
    Index best = 0;
    for (Index c = 1; c < C; ++c)
      if (scores[c] > scores[best]) best = c;
    guess = classes_[best];
  }
  const Index col = class_column(label, online_.grow_classes, where);
  t_row_.setZero();
  t_row_[col] = 1.0f;
  update_row(ws_.hidden.data(), t_row_.data(), weight, false, true);
  ++n_learned_;
  after_update(1);
  return guess;
}

OnlineElm& OnlineElm::add_classes(const ConstLabelRef& labels) {
  const char* where = "OnlineElm::add_classes";
  require_classifier(where);
  encode_targets(labels, online_.grow_classes, where);
  return *this;
}

RowMatrixXf OnlineElm::encode_targets(const ConstLabelRef& labels, bool may_grow,
                                      const char* where) {
  // Validate every label before growing anything.
  if (!may_grow) {
    for (Index i = 0; i < labels.size(); ++i) {
      if (find_class(classes_, labels[i]) < 0) {
        throw InvalidArgument(str_cat(where, ": label ", labels[i], " at row ", i,
                                      " is not one of the model's ", classes_.size(), " classes"));
      }
    }
  }
  for (Index i = 0; i < labels.size(); ++i) class_column(labels[i], may_grow, where);
  RowMatrixXf t = RowMatrixXf::Zero(labels.size(), n_outputs());
  for (Index i = 0; i < labels.size(); ++i) t(i, find_class(classes_, labels[i])) = 1.0f;
  return t;
}

void OnlineElm::learn_rows(const ConstMatrixRef& x, const RowMatrixXf& t, const ConstVectorRef& w,
                           bool unlearn) {
  const Index n = x.rows(), C = n_outputs();
  const Index block = online_.block_rows;
  RowMatrixXf xs, hb, hp, tb;
  VectorXd wb;
  for (Index begin = 0; begin < n; begin += block) {
    const Index m = std::min(block, n - begin);
    const char* where = unlearn ? "OnlineElm::unlearn" : "OnlineElm::learn";
    // Blocks before this one are learned already: the documented exception
    // to the unchanged-on-error rule (learn, unlearn in online_elm.h).
    hb.resize(m, L_);
    // A single row the way learn_row does it (the same bits, and
    // row_threads' split), unless its weight is 0: then it is skipped below
    // and must not advance the spread updates either.
    const bool single = m == 1 && (w.size() == 0 || w[begin] > 0.0f);
    if (m == 1) {
      if (single) {
        hidden_row_and_side_steps(x.row(begin).data(), where, begin);
      } else {
        features_->hidden_row(x.row(begin).data(), ws_, where, begin);
      }
      hb.row(0) = ws_.hidden.head(L_).transpose();
    } else {
      xs.resize(m, x.cols());
      features_->scaler.transform(x.middleRows(begin, m), xs);
      features_->hidden.transform(xs, hb, 1);
      check_finite_result(hb, begin, where, "hidden activations");
    }
    // Keep rows with weight > 0, padded to Lp.
    Index k = 0;
    hp.setZero(m, Lp_);
    tb.resize(m, C);
    wb.resize(m);
    for (Index i = 0; i < m; ++i) {
      const double wi = w.size() > 0 ? static_cast<double>(w[begin + i]) : 1.0;
      if (!(wi > 0.0)) continue;
      hp.row(k).head(L_) = hb.row(i);
      tb.row(k) = t.row(begin + i);
      wb[k] = wi;
      ++k;
    }
    if (k == 0) continue;
    if (k == 1) {
      update_row(hp.row(0).data(), tb.row(0).data(), wb[0], unlearn, single);
    } else {
      update_block(hp.topRows(k), tb.topRows(k), wb.head(k), unlearn);
    }
    (unlearn ? n_unlearned_ : n_learned_) += k;
    after_update(k);
  }
}

namespace {
void check_batch(const ConstMatrixRef& x, Index target_rows, Index d, const ConstVectorRef& w,
                 const char* where) {
  ELMQ_CHECK_ARG(x.cols() == d, where, ": X has ", x.cols(), " columns, model expects ", d);
  ELMQ_CHECK_ARG(target_rows == x.rows(), where, ": X has ", x.rows(), " rows but y has ",
                 target_rows);
  ELMQ_CHECK_ARG(w.size() == 0 || w.size() == x.rows(), where, ": sample_weight has ", w.size(),
                 " entries, expected ", x.rows());
  ELMQ_CHECK_ARG(w.size() == 0 || (w.allFinite() && (w.array() >= 0.0f).all()), where,
                 ": sample_weight must be finite and >= 0");
  check_finite(x, where, "X");
}
}  // namespace

OnlineElm& OnlineElm::learn(const ConstMatrixRef& x, const ConstLabelRef& labels,
                            const ConstVectorRef& sample_weight) {
  const char* where = "OnlineElm::learn";
  require_classifier(where);
  check_batch(x, labels.size(), n_features(), sample_weight, where);
  if (x.rows() == 0) return *this;
  const RowMatrixXf t = encode_targets(labels, online_.grow_classes, where);
  learn_rows(x, t, sample_weight, false);
  return *this;
}

OnlineElm& OnlineElm::learn_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                                       const ConstVectorRef& sample_weight) {
  const char* where = "OnlineElm::learn_regression";
  ELMQ_CHECK_ARG(task_ != Task::kClassification, where, ": the model is a classifier; use learn");
  check_batch(x, y.rows(), n_features(), sample_weight, where);
  ELMQ_CHECK_ARG(y.cols() == n_outputs(), where, ": y has ", y.cols(), " columns, model expects ",
                 n_outputs());
  check_finite(y, where, "y");
  ELMQ_CHECK_ARG(task_ != Task::kMultilabel || (y.array() == 0.0f || y.array() == 1.0f).all(),
                 where, ": a multilabel model's targets must be 0 or 1");
  if (x.rows() == 0) return *this;
  learn_rows(x, RowMatrixXf(y), sample_weight, false);
  return *this;
}

OnlineElm& OnlineElm::unlearn(const ConstMatrixRef& x, const ConstLabelRef& labels,
                              const ConstVectorRef& sample_weight) {
  const char* where = "OnlineElm::unlearn";
  require_classifier(where);
  check_batch(x, labels.size(), n_features(), sample_weight, where);
  if (x.rows() == 0) return *this;
  const RowMatrixXf t = encode_targets(labels, false, where);
  learn_rows(x, t, sample_weight, true);
  return *this;
}

OnlineElm& OnlineElm::unlearn_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                                         const ConstVectorRef& sample_weight) {
  const char* where = "OnlineElm::unlearn_regression";
  ELMQ_CHECK_ARG(task_ != Task::kClassification, where, ": the model is a classifier; use unlearn");
  check_batch(x, y.rows(), n_features(), sample_weight, where);
  ELMQ_CHECK_ARG(y.cols() == n_outputs(), where, ": y has ", y.cols(), " columns, model expects ",
                 n_outputs());
  check_finite(y, where, "y");
  if (x.rows() == 0) return *this;
  learn_rows(x, RowMatrixXf(y), sample_weight, true);
  return *this;
}

// ---------------------------------------------------------------- prediction

void OnlineElm::decision_row(const float* x, float* out, PredictWorkspace& ws) const {
  features_->hidden_row(x, ws, "OnlineElm::decision_row");
  Eigen::Map<VectorXf>(out, n_outputs()).noalias() = beta_f_.transpose() * ws.hidden.head(L_);
  check_finite_result(out, n_outputs(), "OnlineElm::decision_row", "decisions");
}

std::int64_t OnlineElm::predict_row(const float* x, PredictWorkspace& ws, float* scores) const {
  require_classifier("OnlineElm::predict_row");
  ELMQ_CHECK_ARG(classes_.size() > 0, "OnlineElm::predict_row: no class has been learned yet");
  decision_row(x, scores, ws);
  Index best = 0;
  for (Index c = 1; c < n_outputs(); ++c)
    if (scores[c] > scores[best]) best = c;
  return classes_[best];
}

RowMatrixXf OnlineElm::decision_function(const ConstMatrixRef& x) const {
  const char* where = "OnlineElm::decision_function";
  check_shape(x, n_features(), where, "X", false);
  check_finite(x, where, "X");
  const RowMatrixXf h =
      features_->hidden.transform(features_->scaler.transform(x), resolve_threads(elm_.threads));
  RowMatrixXf d = h * beta_f_;
  check_finite_result(d, 0, where, "decisions");
  return d;
}

LabelVector OnlineElm::predict(const ConstMatrixRef& x) const {
  require_classifier("OnlineElm::predict");
  ELMQ_CHECK_ARG(classes_.size() > 0, "OnlineElm::predict: no class has been learned yet");
  const RowMatrixXf d = decision_function(x);
  LabelVector labels(d.rows());
  for (Index i = 0; i < d.rows(); ++i) {
    Index c;
    d.row(i).maxCoeff(&c);
    labels[i] = classes_[c];
  }
  return labels;
}

double OnlineElm::score(const ConstMatrixRef& x, const ConstLabelRef& labels) const {
  ELMQ_CHECK_ARG(labels.size() == x.rows() && x.rows() > 0, "OnlineElm::score: X has ", x.rows(),
                 " rows and y has ", labels.size(), " (need equal, >= 1)");
  const LabelVector p = predict(x);
  return static_cast<double>((p.array() == labels.array()).count()) / static_cast<double>(x.rows());
}

std::shared_ptr<const OnlineSnapshot> OnlineElm::snapshot() const {
  auto s = std::make_shared<OnlineSnapshot>();
  s->features_ = features_;
  s->task_ = task_;
  s->classes_ = classes_;
  s->beta_ = beta_f_;
  s->samples_learned_ = n_learned_;
  return s;
}

ElmModel OnlineElm::to_elm_model() const {
  return ElmModel::from_parts(elm_, task_, features_->scaler, features_->hidden, beta_f_, classes_,
                              lambda_);
}

// ---------------------------------------------------------------- files

namespace {
constexpr std::uint32_t kTagOnlineCfg = tag("OCFG");
constexpr std::uint32_t kTagElmCfg = tag("ECFG");
constexpr std::uint32_t kTagTask = tag("TASK");
constexpr std::uint32_t kTagLambda = tag("LMBD");
constexpr std::uint32_t kTagScaler = tag("SCLR");
constexpr std::uint32_t kTagHidden = tag("HIDN");
constexpr std::uint32_t kTagClasses = tag("CLSS");
constexpr std::uint32_t kTagBeta = tag("BETA");
constexpr std::uint32_t kTagState = tag("STAT");
constexpr std::uint32_t kTagGram = tag("GRAM");
constexpr std::uint32_t kTagHty = tag("GHTY");
constexpr std::uint32_t kTagBufH = tag("SBFH");
constexpr std::uint32_t kTagBufT = tag("SBFT");
constexpr std::uint32_t kTagBufCoef = tag("SBFC");
constexpr std::uint32_t kTagBufDecay = tag("SBFD");
constexpr std::uint32_t kTagCounters = tag("CNTR");
}  // namespace

std::string OnlineElm::to_bytes() const {
  RecordWriter w;
  const double ocfg[] = {online_.forgetting,
                         static_cast<double>(online_.precision),
                         online_.keep_statistics ? 1.0 : 0.0,
                         static_cast<double>(online_.resolve_period),
                         online_.grow_classes ? 1.0 : 0.0,
                         static_cast<double>(online_.block_rows)};
  w.put_f64_array(kTagOnlineCfg, ocfg, 6);
  const double ecfg[] = {static_cast<double>(elm_.scaling), static_cast<double>(elm_.chunk_rows),
                         static_cast<double>(elm_.threads), elm_.proba_temperature};
  w.put_f64_array(kTagElmCfg, ecfg, 4);
  w.put_u64(kTagTask, static_cast<std::uint64_t>(task_));
  w.put_f64(kTagLambda, lambda_);
  RecordWriter sw;
  features_->scaler.save(sw);
  w.put_nested(kTagScaler, sw);
  RecordWriter hw;
  features_->hidden.save(hw);
  w.put_nested(kTagHidden, hw);
  w.put_i64_array(kTagClasses, classes_.data(), static_cast<std::size_t>(classes_.size()));
  w.put_matrix(kTagBeta, beta_);
  RecordWriter stw;
  state_->save(stw);
  w.put_nested(kTagState, stw);
  if (online_.keep_statistics) {
    // A fold in progress is saved completed (see resolve_exact).
    const std::vector<double> gram = detail::packed_sym_to_row_blocks(
        fold_rows_ > 0 ? gram_folded().data() : gram_packed_.data(), Lp_);  // file layout
    w.put_f64_array(kTagGram, gram.data(), gram.size());
    w.put_matrix(kTagHty, fold_rows_ > 0 ? hty_folded() : hty_);
    w.put_matrix(kTagBufH, RowMatrixXf(stats_h_.middleRows(stats_off_, stats_rows_)));
    w.put_matrix(kTagBufT, RowMatrixXf(stats_t_.middleRows(stats_off_, stats_rows_)));
    w.put_f64_array(kTagBufCoef, stats_coef_.data() + stats_off_,
                    static_cast<std::size_t>(stats_rows_));
    w.put_f64_array(kTagBufDecay, stats_decay_.data() + stats_off_,
                    static_cast<std::size_t>(stats_rows_));
  }
  const std::int64_t counters[] = {n_learned_, n_unlearned_, n_resolves_, since_resolve_};
  w.put_i64_array(kTagCounters, counters, 4);
  return w.finish(FileKind::kOnlineElm, kOnlineFileVersion);
}

OnlineElm OnlineElm::from_bytes(std::string_view bytes) {
  RecordReader r(bytes, FileKind::kOnlineElm, kOnlineFileVersion);
  const auto ocfg = r.get_f64_array(kTagOnlineCfg);
  const auto ecfg = r.get_f64_array(kTagElmCfg);
  if (ocfg.size() != 6 || ecfg.size() != 4) r.fail("config records are malformed");
  OnlineConfig online;
  online.forgetting = ocfg[0];
  if (!(ocfg[1] == 0.0 || ocfg[1] == 1.0)) r.fail("unknown state precision");
  online.precision = static_cast<StatePrecision>(static_cast<std::uint32_t>(ocfg[1]));
  online.keep_statistics = ocfg[2] != 0.0;
  if (!(ocfg[3] >= 0.0 && ocfg[3] <= 9.0e18 && ocfg[5] >= 1.0 && ocfg[5] <= kMaxBlockRows)) {
    r.fail("online config values are out of range");
  }
  online.resolve_period = static_cast<std::int64_t>(ocfg[3]);
  online.grow_classes = ocfg[4] != 0.0;
  online.block_rows = static_cast<std::int64_t>(ocfg[5]);
  try {
    online.validate();
  } catch (const InvalidArgument& e) {
    r.fail(str_cat("stored online config is invalid: ", e.what()));
  }
  if (!(ecfg[0] >= 0 && ecfg[0] <= 2 && ecfg[1] >= 1 && ecfg[1] <= static_cast<double>(1 << 24) &&
        ecfg[2] >= 0 && ecfg[2] <= 1e6)) {
    r.fail("model config values are out of range");
  }
  const std::uint64_t task = r.get_u64(kTagTask);
  if (task > 2) r.fail(str_cat("unknown task ", task));

  OnlineElm m;
  m.elm_.scaling = static_cast<ScalingKind>(static_cast<std::uint32_t>(ecfg[0]));
  m.elm_.chunk_rows = static_cast<Index>(ecfg[1]);
  m.elm_.threads = static_cast<int>(ecfg[2]);
  m.elm_.proba_temperature = static_cast<float>(ecfg[3]);
  m.lambda_ = r.get_f64(kTagLambda);
  if (!(std::isfinite(m.lambda_) && m.lambda_ > 0.0)) r.fail("lambda must be a positive number");
  m.elm_.ridge.auto_lambda = false;
  m.elm_.ridge.lambda = m.lambda_;
  Scaler scaler = Scaler::load(r.nested(kTagScaler));
  HiddenLayer hidden = HiddenLayer::load(r.nested(kTagHidden));
  if (!scaler.fitted() || scaler.n_features() != hidden.n_inputs()) {
    r.fail("scaler and hidden layer disagree on the number of features");
  }
  m.elm_.hidden = hidden.config();
  try {
    m.elm_.validate();
  } catch (const InvalidArgument& e) {
    r.fail(str_cat("stored model config is invalid: ", e.what()));
  }
  m.features_ =
      std::make_shared<const detail::OnlineFeatures>(std::move(scaler), std::move(hidden));
  const auto classes = r.get_i64_array(kTagClasses);
  m.classes_ = Eigen::Map<const LabelVector>(classes.data(), static_cast<Index>(classes.size()));
  RowMatrixXd beta = r.get_matrix_d(kTagBeta);
  const Index C = beta.cols();
  if (beta.rows() != m.features_->L) r.fail("beta does not match the hidden layer");
  if (static_cast<Task>(task) == Task::kClassification) {
    if (m.classes_.size() != C) r.fail("beta columns and classes disagree");
    for (Index i = 1; i < C; ++i)
      if (!(m.classes_[i] > m.classes_[i - 1])) r.fail("classes are not sorted and distinct");
  } else if (m.classes_.size() != 0 || C < 1) {
    r.fail("a regression model must have outputs and no classes");
  }
  if (!beta.allFinite()) r.fail("beta holds non-finite values");
  m.init_common(online, static_cast<Task>(task), C);
  m.beta_ = std::move(beta);
  m.sync_beta_f32();
  m.state_->load(r.nested(kTagState));
  if (online.keep_statistics) {
    const auto gram = r.get_f64_array(kTagGram);
    if (gram.size() != m.gram_packed_.size()) r.fail("statistics G have the wrong size");
    detail::packed_sym_from_row_blocks(gram.data(), m.Lp_, m.gram_packed_.data());
    m.hty_ = r.get_matrix_d(kTagHty);
    const RowMatrixXf bh = r.get_matrix_f(kTagBufH);
    const RowMatrixXf bt = r.get_matrix_f(kTagBufT);
    const auto coef = r.get_f64_array(kTagBufCoef);
    const auto decay = r.get_f64_array(kTagBufDecay);
    const auto rows = static_cast<Index>(coef.size());
    if (m.hty_.rows() != m.L_ || m.hty_.cols() != C || rows >= kStatsRows ||
        static_cast<Index>(decay.size()) != rows || bh.rows() != rows ||
        (rows > 0 && (bh.cols() != m.Lp_ || bt.rows() != rows || bt.cols() != C))) {
      r.fail("statistics have inconsistent shapes");
    }
    m.stats_rows_ = rows;
    if (rows > 0) {
      m.stats_h_.topRows(rows) = bh;
      m.stats_t_.topRows(rows) = bt;
      m.stats_coef_.head(rows) = Eigen::Map<const VectorXd>(coef.data(), rows);
      m.stats_decay_.head(rows) = Eigen::Map<const VectorXd>(decay.data(), rows);
      for (Index i = 0; i < rows; ++i) {
        detail::packed_sym_regroup_row<double, float>(m.Lp_, m.stats_h_.row(i).data(), i,
                                                      m.scratch_.tmp);
      }
    }
    const Eigen::Map<const VectorXd> gp(m.gram_packed_.data(),
                                        static_cast<Index>(m.gram_packed_.size()));
    if (!gp.allFinite() || !m.hty_.allFinite() || !m.stats_h_.allFinite() ||
        !m.stats_t_.allFinite() || !m.stats_coef_.allFinite() || !m.stats_decay_.allFinite()) {
      r.fail("statistics hold non-finite values");
    }
  }
  const auto counters = r.get_i64_array(kTagCounters);
  if (counters.size() != 4 || counters[0] < 0 || counters[1] < 0 || counters[2] < 0 ||
      counters[3] < 0) {
    r.fail("counters are malformed");
  }
  m.n_learned_ = counters[0];
  m.n_unlearned_ = counters[1];
  m.n_resolves_ = counters[2];
  m.since_resolve_ = counters[3];
  return m;
}

void OnlineElm::save(const std::string& path) const { write_file_bytes(path, to_bytes()); }

OnlineElm OnlineElm::load(const std::string& path) { return from_bytes(read_file_bytes(path)); }

}  // namespace elmq
