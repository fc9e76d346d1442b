// SPDX-License-Identifier: Apache-2.0
// The trust corpus (issue 12, "no silently wrong answer"): every case (matrix, column scaling,
// right-hand side, upstream gradient dX, option set) of the public API, classified against
// dense references computed here, independently of the code under test:
//
//   accurate       every result returned, relative errors of x, dB and dA <= 1e-3 (float 1e-2)
//   inaccurate     every result returned, the worst error in (1e-3, 1e-2] (float (1e-2, 1e-1])
//   refused        an exception (kind and message in the CSV); x may have been returned
//   false rank     std::domain_error blaming rank for A of full column rank with
//                  kappa <= 1e6 (float 1e3)
//   silently wrong a call returned normally with an error > 1e-2 (float 1e-1), or a backward
//                  returned a gradient for a rank-deficient A (it has none); a wrong x from lstsq
//                  counts even when the backward refuses afterwards: the caller already has it
//   excluded       the reference is not accurate enough to judge (reason in the CSV)
//
// Usage: trust_corpus_test [--out DIR] [--check] [--matrix NAME]...
//   writes DIR/trust_corpus.md (a table per option set, totals) and DIR/trust_corpus.csv (every
//   case; default DIR: the build's tests directory). Exit status 0, or 1 with --check when the
//   issue's goal fails (0 silently wrong, 0 false rank refusals, every full-rank case with
//   kappa <= 1e4 accurate at the defaults), or 2 when the harness's own self-check fails.
//
// The data are generated bit for bit as in scripts/trust_corpus_scipy.py, which prints the same
// tables for scipy's lsmr and the seed's two-solve backward: splitmix64, values from integer
// arithmetic, matrix-vector products summed row by row in column order, one multiplication per
// scaled entry. The target is compiled with -ffp-contract=off so that no FMA changes a rounding;
// the CSV's data_hash column lets the Python side confirm that it saw the same numbers.
#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <Eigen/QR>
#include <Eigen/SparseCore>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <sparsegrad/sparsegrad.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using Eigen::Index;
using testing::Csr;
using testing::Dense;
using testing::relative_error;  // ‖a − b‖ / ‖b‖
using Vector = Eigen::VectorXd;

// ---------------------------------------------------------------------------------------------
// The corpus, shared with scripts/trust_corpus_scipy.py (keep the two in step).

const std::vector<std::string> kMatrices = {
    "lp_afiro_T", "ash219",   "abb313",   "lp_share1b_T", "lp_e226_T",
    "well1033",   "illc1033", "well1850", "illc1850",     "Franz6_id1959_aug"};

enum class Scaling { as_is, column0_1e3, column0_1e5, logspace };
const std::vector<Scaling> kScalings = {Scaling::as_is, Scaling::column0_1e3, Scaling::column0_1e5,
                                        Scaling::logspace};
const char* name_of(Scaling s) {
  switch (s) {
    case Scaling::as_is:
      return "as is";
    case Scaling::column0_1e3:
      return "col0 x 1e-3";
    case Scaling::column0_1e5:
      return "col0 x 1e-5";
    default:
      return "logspace(0,-3)";
  }
}

const char* const kRhsNames[] = {"consistent+noise", "random"};
constexpr int kRhs = 2;
constexpr int kDxSeeds = 5;  // the false rank refusals depend on dX
constexpr std::uint64_t kSeedXTrue = 1, kSeedNoise = 2, kSeedRandomRhs = 3, kSeedDx = 100;
constexpr double kNoiseLevel = 1e-6;  // rms of the noise relative to the rms of A x_true

/// splitmix64 (Steele, Lea & Flood, OOPSLA 2014; Vigna's public-domain constants).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform on [-1, 1): (k - 2^52) / 2^52 for the top 53 bits k, exact in double.
  double uniform() {
    const auto k = static_cast<std::int64_t>(next() >> 11) - (std::int64_t(1) << 52);
    return static_cast<double>(k) * 0x1p-52;
  }

 private:
  std::uint64_t state_;
};

Vector uniform_vector(Index size, std::uint64_t seed) {
  SplitMix64 rng(seed);
  Vector v(size);
  for (Index i = 0; i < size; ++i) v[i] = rng.uniform();
  return v;
}

/// The factor of each column: a change of units, so that x*_j = x_j / s_j.
Vector column_factors(Scaling s, Index n) {
  Vector f = Vector::Ones(n);
  if (s == Scaling::column0_1e3) f[0] = 1e-3;
  if (s == Scaling::column0_1e5) f[0] = 1e-5;
  if (s == Scaling::logspace)
    for (Index j = 0; j < n; ++j)
      f[j] = n > 1 ? std::pow(10.0, -3.0 * double(j) / double(n - 1)) : 1;
  return f;
}

Csr<double> scale_columns(const Csr<double>& A, const Vector& f) {
  Csr<double> S = A;
  for (Index i = 0; i < S.outerSize(); ++i)
    for (Csr<double>::InnerIterator it(S, i); it; ++it) it.valueRef() = it.value() * f[it.col()];
  return S;
}

/// y = A x summed row by row in column order, as the Python side does.
Vector ordered_product(const Csr<double>& A, const Vector& x) {
  Vector y(A.rows());
  for (Index i = 0; i < A.rows(); ++i) {
    double sum = 0;
    for (Csr<double>::InnerIterator it(A, i); it; ++it) sum += it.value() * x[it.col()];
    y[i] = sum;
  }
  return y;
}

/// Columns: b = A x_true + noise (rms kNoiseLevel of the rms of A x_true), and b random. Made
/// from the unscaled A: a scaled problem is the same one in other units.
Dense<double> right_hand_sides(const Csr<double>& A) {
  const Index m = A.rows();
  const Vector y = ordered_product(A, uniform_vector(A.cols(), kSeedXTrue));
  double sum2 = 0;
  for (Index i = 0; i < m; ++i) sum2 += y[i] * y[i];
  const double level = kNoiseLevel * std::sqrt(sum2 / double(m));
  const Vector noise = uniform_vector(m, kSeedNoise);
  Dense<double> B(m, kRhs);
  for (Index i = 0; i < m; ++i) B(i, 0) = y[i] + level * noise[i];
  B.col(1) = uniform_vector(m, kSeedRandomRhs);
  return B;
}

Dense<double> upstream_gradients(Index n) {
  Dense<double> dX(n, kDxSeeds);
  for (int k = 0; k < kDxSeeds; ++k) dX.col(k) = uniform_vector(n, kSeedDx + std::uint64_t(k));
  return dX;
}

/// FNV-1a over the IEEE bits of A's values (storage order), B and dX: the Python side prints
/// the same number when it generated the same data.
std::uint64_t data_hash(const Csr<double>& A, const Dense<double>& B, const Dense<double>& dX) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto add = [&h](const double* p, Index count) {
    for (Index e = 0; e < count; ++e) {
      std::uint64_t bits;
      std::memcpy(&bits, p + e, sizeof bits);
      for (int byte = 0; byte < 8; ++byte)
        h = (h ^ ((bits >> (8 * byte)) & 0xff)) * 0x100000001b3ull;
    }
  };
  add(A.valuePtr(), A.nonZeros());
  add(B.data(), B.size());
  add(dX.data(), dX.size());
  return h;
}

template <class Scalar>
Csr<double> rounded_to(const Csr<double>& A) {
  return A.cast<Scalar>().template cast<double>();
}
template <class Scalar>
Dense<double> rounded_to(const Dense<double>& M) {
  return M.cast<Scalar>().template cast<double>();
}

// ---------------------------------------------------------------------------------------------
// References: x* = A⁺b per right-hand side and, for A of full column rank, the exact adjoint
// H = (AᵀA)⁻¹dX, dB = A H, dA_ij = −dB_i x*_j − r_i H_j (r = A x* − b) at A's stored entries.
// Computed once per (matrix, scaling, precision of the data) from the exact data the code under
// test receives (for the float problems, the float-rounded values), by one of:
//   QR     Householder QR, A = QR: x = R⁻¹Qᵀb, z = R⁻ᵀdX, dB = Q z, H = R⁻¹z. Householder QR is
//          backward stable column by column (Higham, Accuracy and Stability of Numerical
//          Algorithms, 2nd ed., Thm 19.4 and §20.3), so the forward errors are of order
//          u (κ + κ²‖r‖/(‖A‖‖x‖)) for x and u κ² for H and dA, with u the unit roundoff and κ the
//          condition number of A's best column scaling (at most κ₀, that of the unscaled A), in
//          the units of the unscaled problem; the plain relative error of a scaled problem can
//          exceed that by the amplification of the scaled components, at most κ(S) = 1e5 in the
//          worst case. Double (u = 1.1e-16) when u κ₀² <= 1e-9, else long double (u = 5.4e-20):
//          u κ₀² <= 1e-9 for every matrix here (κ₀ <= 1.05e5), so even the worst case stays
//          under 1e-4, against the smallest threshold 1e-3. Measured (self_check): double and
//          long double agree to 2e-11 on lp_share1b_T, κ₀ = 1.05e5, under every scaling.
//   normal Cholesky of the normal matrix AᵀA (dense; for the 10592 x 3016 matrix, where a dense
//          QR would dominate the run): Cholesky's error is invariant under diagonal scaling
//          (van der Sluis; Higham Thm 10.7), so it is of order u κ₀², used only when κ₀ <= 100
//          (Franz6_id1959_aug: κ₀ = 1.03, error ~1e-15); otherwise the cases are excluded.
//   COD    complete orthogonal decomposition, for rank-deficient A: the minimum-norm x* and the
//          projector P = A⁺A onto range(Aᵀ) (no gradient exists); its rank must equal the SVD's,
//          otherwise excluded. lstsq's x is judged by its distance to the set of least-squares
//          solutions x* + null(A), ‖P(x − x*)‖/‖x*‖: any x with the least residual is a correct
//          answer (LSMR from 0 gives the minimum-norm one; a preconditioned solve need not).
// Full column rank is decided by the singular values of the unscaled A (column scaling keeps
// the rank): rank = #{σ_i > max(m, n) ε σ_1}, as in data/lsq/SOURCES.md. κ of each scaled
// matrix: σ_1/σ_n from the singular values of R (QR; the singular values of A), σ_1/σ_r (COD),
// or Lanczos on AᵀA and on its inverse (normal).

struct Reference {
  std::string method, excluded;  // excluded: non-empty when the cases cannot be judged
  bool full_rank = true;
  double kappa = 0;
  Dense<double> X;                // n x kRhs
  std::vector<Vector> dB, dA;     // [rhs * kDxSeeds + seed]: m, and nnz in storage order
  std::vector<double> theta;      // per rhs: ‖r‖ / (‖A‖₂ ‖x‖)
  Dense<double> range_projector;  // rank-deficient A: P = A⁺A, for the error of x

  /// ‖x − x*‖/‖x*‖, or for rank-deficient A the distance to the least-squares solutions.
  double error_of_x(const Vector& x, int rhs) const {
    const Vector want = X.col(rhs);
    if (range_projector.size() == 0) return relative_error(x, want);
    const Vector diff = range_projector * (x - want);
    return want.norm() > 0 ? diff.norm() / want.norm() : diff.norm();
  }
};

/// What is known about a matrix before any scaling.
struct MatrixInfo {
  std::string name;
  Csr<double> A;
  Index rank = 0;
  double kappa = 0;    // σ_1 / σ_rank of the unscaled matrix
  bool large = false;  // normal-equation reference
  bool long_double = false;
};

constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon() / 2;

/// dA_ij = −dB_i x_j − r_i H_j at A's stored entries, in storage order.
template <class V>
Vector adjoint_on_pattern(const Csr<double>& A, const V& dB, const V& x, const V& r, const V& H) {
  Vector out(A.nonZeros());
  Index e = 0;
  for (Index i = 0; i < A.outerSize(); ++i)
    for (Csr<double>::InnerIterator it(A, i); it; ++it)
      out[e++] = double(-dB[it.row()] * x[it.col()] - r[it.row()] * H[it.col()]);
  return out;
}

template <class Real>
Reference qr_reference(const Csr<double>& A, const Dense<double>& B, const Dense<double>& dX,
                       bool with_kappa = true) {
  using M = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic>;
  using V = Eigen::Matrix<Real, Eigen::Dynamic, 1>;
  const Index m = A.rows(), n = A.cols();
  const M Ad = M(A.cast<Real>());
  const Eigen::HouseholderQR<M> qr(Ad);
  const auto R = qr.matrixQR().topLeftCorner(n, n).template triangularView<Eigen::Upper>();
  Reference ref;
  ref.method = std::is_same<Real, double>::value ? "QR (double)" : "QR (long double)";
  // The singular values of R are those of A: κ, and ‖A‖₂ for θ (else ‖R‖_F, an upper bound).
  const Dense<double> Rd = R.toDenseMatrix().template cast<double>();
  double normA = Rd.norm();
  if (with_kappa) {
    const Vector sigma = Rd.bdcSvd().singularValues();
    ref.kappa = sigma[0] / sigma[n - 1];
    normA = sigma[0];
  }
  ref.X.resize(n, kRhs);
  for (int c = 0; c < kRhs; ++c) {
    const V b = B.col(c).cast<Real>();
    const V Qtb = qr.householderQ().transpose() * b;
    const V x = R.solve(Qtb.head(n));
    const V r = Ad * x - b;
    ref.X.col(c) = x.template cast<double>();
    ref.theta.push_back(double(r.norm() / (Real(normA) * x.norm())));
    for (int k = 0; k < kDxSeeds; ++k) {
      const V z = R.transpose().solve(V(dX.col(k).cast<Real>()));
      V w = V::Zero(m);
      w.head(n) = z;
      const V dB = qr.householderQ() * w;
      const V H = R.solve(z);
      ref.dB.push_back(dB.template cast<double>());
      ref.dA.push_back(adjoint_on_pattern(A, dB, x, r, H));
    }
  }
  return ref;
}

/// The largest eigenvalue of a symmetric positive definite operator by Lanczos with full
/// reorthogonalization (Golub & Van Loan, Matrix Computations, 4th ed., §10.1), `steps` steps
/// from a fixed start. The largest Ritz value converges from below, fast when that eigenvalue is
/// separated relative to the spread of the spectrum.
template <class Apply>
double largest_eigenvalue(Index n, Apply&& apply, int steps) {
  steps = int(std::min<Index>(steps, n));
  Dense<double> V(n, steps);
  Vector alpha = Vector::Zero(steps), beta = Vector::Zero(steps);
  V.col(0) = uniform_vector(n, 7).normalized();
  int k = 0;  // the last step done
  for (;; ++k) {
    Vector w = apply(Vector(V.col(k)));
    alpha[k] = V.col(k).dot(w);
    for (int pass = 0; pass < 2; ++pass)
      w -= V.leftCols(k + 1) * (V.leftCols(k + 1).transpose() * w);
    beta[k] = w.norm();
    if (k + 1 == steps || beta[k] <= 1e-12 * std::abs(alpha[k])) break;
    V.col(k + 1) = w / beta[k];
  }
  const Index size = k + 1;
  Dense<double> T = Dense<double>::Zero(size, size);
  for (Index i = 0; i < size; ++i) {
    T(i, i) = alpha[i];
    if (i + 1 < size) T(i, i + 1) = T(i + 1, i) = beta[i];
  }
  return Eigen::SelfAdjointEigenSolver<Dense<double>>(T, Eigen::EigenvaluesOnly)
      .eigenvalues()
      .maxCoeff();
}

/// κ(A) = sqrt(λ_max / λ_min) of M = AᵀA: λ_max by Lanczos on M (products with A and Aᵀ),
/// λ_min as 1 / λ_max of M⁻¹ (solves with M's Cholesky factor), which separates the smallest
/// eigenvalues even when column scaling crowds them (logspace). Used with the normal-equation
/// reference; the self-check compares it with the SVD on a small matrix.
double kappa_by_lanczos(const Csr<double>& A, const Eigen::LLT<Dense<double>>& llt) {
  const double lambda_max = largest_eigenvalue(
      A.cols(), [&](const Vector& v) { return Vector(A.transpose() * (A * v)); }, 80);
  const double inverse_lambda_min = largest_eigenvalue(
      A.cols(), [&](const Vector& v) { return Vector(llt.solve(v)); }, 80);
  return std::sqrt(lambda_max * inverse_lambda_min);
}

Reference normal_reference(const Csr<double>& A, const Dense<double>& B, const Dense<double>& dX,
                           bool with_kappa = true) {
  const Csr<double> At = A.transpose();
  const Dense<double> normal = Dense<double>(At * A);
  const Eigen::LLT<Dense<double>> llt(normal);
  Reference ref;
  ref.method = "normal equations (double)";
  if (llt.info() != Eigen::Success) {
    ref.excluded = "the Cholesky factorization of A^T A failed";
    return ref;
  }
  if (with_kappa) ref.kappa = kappa_by_lanczos(A, llt);
  const double normA = std::sqrt(normal.diagonal().maxCoeff());  // a lower bound, for θ only
  ref.X.resize(A.cols(), kRhs);
  for (int c = 0; c < kRhs; ++c) {
    const Vector x = llt.solve(At * B.col(c));
    const Vector r = A * x - B.col(c);
    ref.X.col(c) = x;
    ref.theta.push_back(r.norm() / (normA * x.norm()));
    for (int k = 0; k < kDxSeeds; ++k) {
      const Vector H = llt.solve(dX.col(k));
      const Vector dB = A * H;
      ref.dB.push_back(dB);
      ref.dA.push_back(adjoint_on_pattern(A, dB, x, r, H));
    }
  }
  return ref;
}

Reference cod_reference(const Csr<double>& A, const Dense<double>& B, Index rank) {
  const Dense<double> Ad = A;
  const Vector sigma = Ad.bdcSvd().singularValues();
  Eigen::CompleteOrthogonalDecomposition<Dense<double>> cod;
  // Any threshold inside the singular-value gap gives the same rank; the SVD's rank decides.
  cod.setThreshold(std::sqrt(std::numeric_limits<double>::epsilon()));
  cod.compute(Ad);
  Reference ref;
  ref.method = "COD (double)";
  ref.full_rank = false;
  ref.kappa = sigma[0] / sigma[rank - 1];
  if (cod.rank() != rank) {
    ref.excluded = "the COD's rank differs from the SVD's";
    return ref;
  }
  ref.X = cod.solve(B);
  ref.range_projector = cod.solve(Ad);
  for (int c = 0; c < kRhs; ++c)
    ref.theta.push_back((Ad * ref.X.col(c) - B.col(c)).norm() / (sigma[0] * ref.X.col(c).norm()));
  return ref;
}

constexpr double kLargeDenseWork = 1e10;  // m n²: above it, no dense QR or SVD of A

MatrixInfo analyse(const std::string& name) {
  MatrixInfo info;
  info.name = name;
  info.A = testing::load_matrix(name + ".mtx");
  info.A.makeCompressed();
  const Index m = info.A.rows(), n = info.A.cols();
  info.large = double(m) * double(n) * double(n) > kLargeDenseWork;
  if (info.large) {
    // Full rank when AᵀA has a Cholesky factor; κ₀ from the iterations.
    const Reference probe =
        normal_reference(info.A, Dense<double>::Zero(m, kRhs), Dense<double>::Zero(n, kDxSeeds));
    info.rank = probe.excluded.empty() ? n : 0;
    info.kappa = probe.kappa;
    return info;
  }
  const Vector sigma = Dense<double>(info.A).bdcSvd().singularValues();
  const double cutoff = double(std::max(m, n)) * std::numeric_limits<double>::epsilon() * sigma[0];
  while (info.rank < sigma.size() && sigma[info.rank] > cutoff) ++info.rank;
  info.kappa = sigma[0] / sigma[info.rank - 1];
  info.long_double = kUnitRoundoff * info.kappa * info.kappa > 1e-9;
  return info;
}

Reference reference_for(const MatrixInfo& info, const Csr<double>& A, const Dense<double>& B,
                        const Dense<double>& dX, bool with_kappa) {
  if (info.rank < A.cols()) {
    if (info.large) {
      Reference ref;
      ref.full_rank = false;
      ref.excluded = "rank-deficient and too large for a dense SVD";
      return ref;
    }
    return cod_reference(A, B, info.rank);
  }
  if (info.large) {
    Reference ref = normal_reference(A, B, dX, with_kappa);
    if (ref.excluded.empty() && info.kappa > 100)
      ref.excluded = "normal-equation reference with kappa > 100 is not accurate enough";
    return ref;
  }
  return info.long_double ? qr_reference<long double>(A, B, dX, with_kappa)
                          : qr_reference<double>(A, B, dX, with_kappa);
}

// ---------------------------------------------------------------------------------------------
// The cases.

enum class OptionSet { defaults, maxiter_raised, tight, float_defaults };
const std::vector<OptionSet> kOptionSets = {OptionSet::defaults, OptionSet::maxiter_raised,
                                            OptionSet::tight, OptionSet::float_defaults};
const char* key_of(OptionSet o) {
  switch (o) {
    case OptionSet::defaults:
      return "a_defaults";
    case OptionSet::maxiter_raised:
      return "b_maxiter_raised";
    case OptionSet::tight:
      return "c_tight";
    default:
      return "d_float";
  }
}
const char* description_of(OptionSet o) {
  switch (o) {
    case OptionSet::defaults:
      return "(a) defaults: lstsq(A, b) and lstsq_backward(A, b, x, dx), no solver object";
    case OptionSet::maxiter_raised:
      return "(b) defaults with options.maxiter = 10 n (what convergence_error advises), one "
             "Lsmr<double> for the forward and a fresh one for the backward";
    case OptionSet::tight:
      return "(c) tight: atol = btol = 1e-14, conlim = 1e16, maxiter = 10 n";
    default:
      return "(d) float: the same problem rounded to float, lstsq(A, b) and lstsq_backward(A, b, "
             "x, dx) with defaults";
  }
}
constexpr int kMaxiterFactor = 10;

enum class Verdict { accurate, inaccurate, refused, false_rank, wrong, excluded };
const std::vector<Verdict> kVerdicts = {Verdict::accurate, Verdict::inaccurate,
                                        Verdict::refused,  Verdict::false_rank,
                                        Verdict::wrong,    Verdict::excluded};
const char* name_of(Verdict v) {
  switch (v) {
    case Verdict::accurate:
      return "accurate";
    case Verdict::inaccurate:
      return "inaccurate";
    case Verdict::refused:
      return "refused";
    case Verdict::false_rank:
      return "false rank refusal";
    case Verdict::wrong:
      return "silently wrong";
    default:
      return "excluded";
  }
}

/// How one call ended: returned, or the exception's kind and message.
struct CallResult {
  bool returned = false;
  std::string kind, message;  // kind: "ok", "convergence_error", "domain_error", ...
  bool blames_rank() const {
    return kind == "domain_error" && message.find("rank") != std::string::npos;
  }
};

template <class F>
CallResult attempt(F&& call, int* istop = nullptr, int* itn = nullptr) {
  CallResult out;
  try {
    call();
    out.returned = true;
    out.kind = "ok";
  } catch (const sparsegrad::convergence_error& e) {
    out.kind = "convergence_error", out.message = e.what();
    if (istop && !e.diagnostics().istop.empty()) *istop = e.diagnostics().istop[0];
    if (itn && !e.diagnostics().itn.empty()) *itn = e.diagnostics().itn[0];
  } catch (const sparsegrad::solver_error& e) {
    out.kind = "solver_error", out.message = e.what();
  } catch (const std::domain_error& e) {
    out.kind = "domain_error", out.message = e.what();
  } catch (const std::invalid_argument& e) {
    out.kind = "invalid_argument", out.message = e.what();
  } catch (const std::exception& e) {
    out.kind = "exception", out.message = e.what();
  }
  return out;
}

struct Case {
  OptionSet options;
  std::string matrix;
  Scaling scaling;
  int rhs = 0, seed = 0;
  Index m = 0, n = 0, nnz = 0;
  bool full_rank = true;
  double kappa = 0, theta = 0;
  std::string reference;
  CallResult forward, backward;
  std::string backward_x;    // "lstsq": its x; "reference": x* rounded, lstsq having refused
  int istop = -1, itn = -1;  // the forward's, where the API exposes them
  double err_x = NAN, err_dB = NAN, err_dA = NAN;
  Verdict verdict = Verdict::excluded;
  std::string excluded;
  std::uint64_t hash = 0;
};

struct Thresholds {
  double accurate, wrong, false_rank_kappa;
};
Thresholds thresholds_for(OptionSet o) {
  return o == OptionSet::float_defaults ? Thresholds{1e-2, 1e-1, 1e3} : Thresholds{1e-3, 1e-2, 1e6};
}

Verdict classify(const Case& c) {
  if (!c.excluded.empty()) return Verdict::excluded;
  const Thresholds t = thresholds_for(c.options);
  auto wrong = [&](double e) { return !(e <= t.wrong); };  // NaN counts as wrong
  if (c.forward.returned && wrong(c.err_x)) return Verdict::wrong;
  if (c.backward.returned && (!c.full_rank || wrong(c.err_dB) || wrong(c.err_dA)))
    return Verdict::wrong;
  if (c.backward.blames_rank() && c.full_rank && c.kappa <= t.false_rank_kappa)
    return Verdict::false_rank;
  if (!c.forward.returned || !c.backward.returned) return Verdict::refused;
  const double worst = std::max({c.err_x, c.err_dB, c.err_dA});
  return worst <= t.accurate ? Verdict::accurate : Verdict::inaccurate;
}

/// Runs the forward once per right-hand side and the backward once per dX, as a user would:
/// the backward gets the x that lstsq returned, or x* (rounded) when lstsq refused, since a
/// caller may have x from elsewhere and the backward must stand on its own.
template <class Scalar>
void run_option_set(OptionSet set, const MatrixInfo& info, Scaling scaling, const Csr<double>& A,
                    const Dense<double>& B, const Dense<double>& dX, const Reference& ref,
                    std::uint64_t hash, std::vector<Case>& cases) {
  using V = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  const Csr<Scalar> As = A.cast<Scalar>();
  const Index n = A.cols();
  sparsegrad::LsmrOptions<Scalar> options;
  if (set == OptionSet::maxiter_raised || set == OptionSet::tight)
    options.maxiter = kMaxiterFactor * n;
  if (set == OptionSet::tight) options.atol = options.btol = Scalar(1e-14), options.conlim = 1e16;
  const bool with_solver = set == OptionSet::maxiter_raised || set == OptionSet::tight;
  for (int c = 0; c < kRhs; ++c) {
    const V b = B.col(c).cast<Scalar>();
    V x;
    int istop = -1, itn = -1;
    sparsegrad::Lsmr<Scalar> forward_solver(options);
    const CallResult forward = attempt(
        [&] {
          x = with_solver ? sparsegrad::lstsq(As, b, forward_solver) : sparsegrad::lstsq(As, b);
        },
        &istop, &itn);
    if (with_solver && !forward_solver.last().istop.empty())
      istop = forward_solver.last().istop[0], itn = forward_solver.last().itn[0];
    for (int k = 0; k < kDxSeeds; ++k) {
      Case cs;
      cs.options = set, cs.matrix = info.name, cs.scaling = scaling, cs.rhs = c, cs.seed = k;
      cs.m = A.rows(), cs.n = n, cs.nnz = A.nonZeros();
      cs.full_rank = ref.full_rank, cs.kappa = ref.kappa, cs.reference = ref.method;
      cs.excluded = ref.excluded, cs.hash = hash;
      cs.forward = forward, cs.istop = istop, cs.itn = itn;
      if (!ref.excluded.empty()) {
        cases.push_back(cs);
        continue;
      }
      cs.theta = ref.theta[std::size_t(c)];
      if (forward.returned) cs.err_x = ref.error_of_x(x.template cast<double>(), c);
      cs.backward_x = forward.returned ? "lstsq" : "reference";
      const V x_in = forward.returned ? x : V(ref.X.col(c).cast<Scalar>());
      const V dx = dX.col(k).cast<Scalar>();
      sparsegrad::Lsmr<Scalar> backward_solver(options);
      Vector dB, dA;
      cs.backward = attempt([&] {
        const auto g = with_solver ? sparsegrad::lstsq_backward(As, b, x_in, dx, backward_solver)
                                   : sparsegrad::lstsq_backward(As, b, x_in, dx);
        dB = g.B.template cast<double>();
        dA = Eigen::Map<const V>(g.A.valuePtr(), g.A.nonZeros()).template cast<double>();
      });
      if (cs.backward.returned && ref.full_rank) {
        const std::size_t slot = std::size_t(c * kDxSeeds + k);
        cs.err_dB = relative_error(dB, ref.dB[slot]);
        cs.err_dA = relative_error(dA, ref.dA[slot]);
      }
      cs.verdict = classify(cs);
      cases.push_back(cs);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Self-check of the references: a broken reference must stop the run, not grade the library.

/// Central differences of L(A, b) = dXᵀ x*(A, b), x* from a dense QR solve: dL/dA at every
/// stored entry and dL/db. Steps relative to each entry, h = 1e-6 |a| (the errors are of order
/// h² κ² from truncation and u κ / h from rounding, about 1e-10 for κ ~ 10).
void finite_difference_adjoint(const Csr<double>& A, const Vector& b, const Vector& dX, Vector& dA,
                               Vector& dB) {
  const Dense<double> Ad = A;
  auto loss = [&](const Dense<double>& M, const Vector& rhs) {
    return dX.dot(Vector(M.householderQr().solve(rhs)));
  };
  dA.resize(A.nonZeros());
  Index e = 0;
  for (Index i = 0; i < A.outerSize(); ++i)
    for (Csr<double>::InnerIterator it(A, i); it; ++it) {
      const double h = 1e-6 * std::abs(it.value());
      Dense<double> plus = Ad, minus = Ad;
      plus(it.row(), it.col()) += h, minus(it.row(), it.col()) -= h;
      dA[e++] = (loss(plus, b) - loss(minus, b)) / (2 * h);
    }
  dB.resize(b.size());
  const double h = 1e-6 * b.cwiseAbs().maxCoeff();
  for (Index i = 0; i < b.size(); ++i) {
    Vector plus = b, minus = b;
    plus[i] += h, minus[i] -= h;
    dB[i] = (loss(Ad, plus) - loss(Ad, minus)) / (2 * h);
  }
}

bool self_check() {
  bool ok = true;
  auto at_most = [&ok](const std::string& what, double value, double bound) {
    const bool pass = value <= bound;
    std::fprintf(stderr, "self-check: %-68s %.2e <= %.0e %s\n", what.c_str(), value, bound,
                 pass ? "ok" : "FAILED");
    ok = ok && pass;
  };
  // Finite differences on the column-scaled lp_afiro_T (κ 5.7e3 as scaled, 11.2 unscaled), for
  // the double and the long double QR references. The differences' own error is about 1e-10
  // (above); 1e-6 leaves a factor 1e4 for their constants.
  const Csr<double> A0 = testing::load_matrix("lp_afiro_T.mtx");
  const Csr<double> A = scale_columns(A0, column_factors(Scaling::column0_1e3, A0.cols()));
  const Dense<double> B = right_hand_sides(A0), dX = upstream_gradients(A.cols());
  Vector fd_dA, fd_dB;
  finite_difference_adjoint(A, B.col(1), dX.col(0), fd_dA, fd_dB);
  const std::size_t slot = std::size_t(1 * kDxSeeds + 0);  // random rhs, first dX
  const Reference ref_d = qr_reference<double>(A, B, dX);
  const Reference ref_ld = qr_reference<long double>(A, B, dX);
  at_most("lp_afiro_T col0 x 1e-3: dA (QR double) vs finite differences",
          relative_error(ref_d.dA[slot], fd_dA), 1e-6);
  at_most("lp_afiro_T col0 x 1e-3: dB (QR double) vs finite differences",
          relative_error(ref_d.dB[slot], fd_dB), 1e-6);
  at_most("lp_afiro_T col0 x 1e-3: dA (QR long double) vs finite differences",
          relative_error(ref_ld.dA[slot], fd_dA), 1e-6);
  // The normal-equation and COD paths against QR on the unscaled lp_afiro_T: all three are
  // within u κ² = 1.4e-14 of the truth, 1e-10 leaves a factor 1e4 for the constants.
  const Reference ref_n = normal_reference(A0, B, dX), ref_q = qr_reference<double>(A0, B, dX);
  const Reference ref_c = cod_reference(A0, B, A0.cols());
  at_most("lp_afiro_T: x (normal) vs x (QR)", relative_error(ref_n.X.col(1), ref_q.X.col(1)),
          1e-10);
  at_most("lp_afiro_T: dA (normal) vs dA (QR)", relative_error(ref_n.dA[slot], ref_q.dA[slot]),
          1e-10);
  at_most("lp_afiro_T: x (COD) vs x (QR)", relative_error(ref_c.X.col(1), ref_q.X.col(1)), 1e-10);
  // Lanczos against the SVD on a spectrum crowded by column scaling (well1033 x logspace,
  // κ 3.7e4); the classification needs κ to a few digits at most.
  const Csr<double> W0 = testing::load_matrix("well1033.mtx");
  const Csr<double> W = scale_columns(W0, column_factors(Scaling::logspace, W0.cols()));
  const Dense<double> WB = right_hand_sides(W0), WdX = upstream_gradients(W.cols());
  at_most("well1033 logspace: kappa (Lanczos) vs kappa (SVD), relative",
          std::abs(normal_reference(W, WB, WdX).kappa / qr_reference<double>(W, WB, WdX).kappa - 1),
          1e-3);
  // The double QR against the long double one on the worst-conditioned matrix, every scaling:
  // the same algorithm, whose error is linear in u, so err(long double) ~ err(double) * 5e-4;
  // err(double) <= 2e-6 puts the long double references below 1e-9, as claimed above.
  const Csr<double> L0 = testing::load_matrix("lp_share1b_T.mtx");
  const Dense<double> LB = right_hand_sides(L0), LdX = upstream_gradients(L0.cols());
  double spread = 0;
  for (Scaling scaling : kScalings) {
    const Csr<double> L = scale_columns(L0, column_factors(scaling, L0.cols()));
    const Reference d = qr_reference<double>(L, LB, LdX, false);
    const Reference ld = qr_reference<long double>(L, LB, LdX, false);
    for (int c = 0; c < kRhs; ++c) {
      spread = std::max(spread, relative_error(d.X.col(c), ld.X.col(c)));
      for (int k = 0; k < kDxSeeds; ++k) {
        const std::size_t q = std::size_t(c * kDxSeeds + k);
        spread = std::max(
            {spread, relative_error(d.dB[q], ld.dB[q]), relative_error(d.dA[q], ld.dA[q])});
      }
    }
  }
  at_most("lp_share1b_T, all scalings: QR double vs long double (x, dB, dA)", spread, 2e-6);
  // The consistent right-hand side: x* = x_true + O(κ · 1e-6 noise) on the unscaled matrix.
  at_most("lp_afiro_T: consistent rhs recovers x_true",
          relative_error(ref_q.X.col(0), uniform_vector(A0.cols(), kSeedXTrue)), 1e-4);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Output.

std::string csv_field(const std::string& s) {
  std::string out = "\"";
  for (char ch : s.substr(0, 800)) {
    if (ch == '"')
      out += "\"\"";
    else if (ch == '\n')
      out += " | ";
    else
      out += ch;
  }
  return out + "\"";
}

std::string number(double v, const char* format = "%.2e") {
  if (std::isnan(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void write_csv(const std::string& path, const std::vector<Case>& cases) {
  std::ofstream out(path);
  out << "option_set,matrix,scaling,rhs,dx_seed,m,n,nnz,full_rank,kappa,theta,reference,forward,"
         "istop,itn,err_x,backward_x,backward,err_dB,err_dA,verdict,data_hash,message\n";
  for (const Case& c : cases) {
    char hash[20];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(c.hash));
    std::string message = c.excluded;
    if (!c.forward.message.empty()) message += "lstsq: " + c.forward.message;
    if (!c.backward.message.empty())
      message += (message.empty() ? "" : " || ") + ("lstsq_backward: " + c.backward.message);
    out << key_of(c.options) << ',' << c.matrix << ',' << csv_field(name_of(c.scaling)) << ','
        << kRhsNames[c.rhs] << ',' << c.seed << ',' << c.m << ',' << c.n << ',' << c.nnz << ','
        << (c.full_rank ? "yes" : "no") << ',' << number(c.kappa, "%.3e") << ','
        << number(c.theta, "%.2e") << ',' << c.reference << ',' << c.forward.kind << ','
        << (c.istop >= 0 ? std::to_string(c.istop) : "") << ','
        << (c.itn >= 0 ? std::to_string(c.itn) : "") << ',' << number(c.err_x, "%.3e") << ','
        << c.backward_x << ',' << c.backward.kind << ',' << number(c.err_dB, "%.3e") << ','
        << number(c.err_dA, "%.3e") << ',' << name_of(c.verdict) << ',' << hash << ','
        << csv_field(message) << '\n';
  }
}

/// "F:convergence_error x3, B(x*):domain_error(rank) x2": how the calls of a row were refused
/// (F: lstsq, B: lstsq_backward from lstsq's x, B(x*): from the reference x, lstsq refused).
std::string refusal_kinds(const std::vector<const Case*>& row) {
  std::map<std::string, int> count;
  for (const Case* c : row) {
    if (!c->excluded.empty()) continue;
    if (!c->forward.returned) ++count["F:" + c->forward.kind];
    if (!c->backward.returned)
      ++count[(c->forward.returned ? "B:" : "B(x*):") + c->backward.kind +
              (c->backward.blames_rank() ? "(rank)" : "")];
  }
  std::string out;
  for (const auto& [kind, k] : count)
    out += (out.empty() ? "" : ", ") + kind + " x" + std::to_string(k);
  return out;
}

std::string markdown(const std::vector<Case>& cases, double seconds) {
  std::ostringstream md;
  md << "# Trust corpus: sparsegrad (C++ API)\n\n"
     << "Generated by tests/trust_corpus_test.cpp in " << number(seconds, "%.1f")
     << " s. Each case is one (matrix, scaling, right-hand side, dX) under one option set: " << kRhs
     << " right-hand sides (consistent + 1e-6 noise, random) x " << kDxSeeds
     << " random dX per matrix and scaling. Errors are relative 2-norm errors against dense "
        "references (dA over A's stored entries); \"worst\" is over the results that were "
        "returned. kappa is that of the scaled matrix (of its range for rank-deficient ones).\n\n"
     << "Verdicts: accurate (errors <= 1e-3, float 1e-2), inaccurate (returned, worst error up to "
        "1e-2, float 1e-1), refused (an exception), false rank (domain_error blaming rank for a "
        "full-rank A with kappa <= 1e6, float 1e3), silently wrong (returned with an error above "
        "that, or a gradient for a rank-deficient A).\n\n";
  md << "## Totals\n\n| option set | cases | accurate | inaccurate | refused | false rank | "
        "silently "
        "wrong | excluded |\n|---|---|---|---|---|---|---|---|\n";
  for (OptionSet o : kOptionSets) {
    std::map<Verdict, int> count;
    int total = 0;
    for (const Case& c : cases)
      if (c.options == o) ++count[c.verdict], ++total;
    if (total == 0) continue;
    md << "| " << key_of(o) << " | " << total;
    for (Verdict v : kVerdicts) md << " | " << count[v];
    md << " |\n";
  }
  for (OptionSet o : kOptionSets) {
    md << "\n## " << description_of(o) << "\n\n"
       << "| matrix | scaling | kappa | cases | accurate | inaccurate | refused | false rank | "
          "silently wrong | worst x | worst dB | worst dA | refusals "
          "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    std::vector<std::pair<std::string, Scaling>> keys;
    for (const Case& c : cases)
      if (c.options == o && (keys.empty() || keys.back() != std::make_pair(c.matrix, c.scaling)))
        keys.emplace_back(c.matrix, c.scaling);
    for (const auto& [matrix, scaling] : keys) {
      std::vector<const Case*> row;
      for (const Case& c : cases)
        if (c.options == o && c.matrix == matrix && c.scaling == scaling) row.push_back(&c);
      std::map<Verdict, int> count;
      double worst[3] = {NAN, NAN, NAN};
      for (const Case* c : row) {
        ++count[c->verdict];
        const double errs[3] = {c->err_x, c->err_dB, c->err_dA};
        for (int q = 0; q < 3; ++q)
          if (!std::isnan(errs[q]))
            worst[q] = std::isnan(worst[q]) ? errs[q] : std::max(worst[q], errs[q]);
      }
      const Case& first = *row.front();
      md << "| " << matrix << (first.full_rank ? "" : " (rank-deficient)") << " | "
         << name_of(scaling) << " | " << number(first.kappa, "%.4g") << " | " << row.size();
      for (Verdict v : {Verdict::accurate, Verdict::inaccurate, Verdict::refused,
                        Verdict::false_rank, Verdict::wrong})
        md << " | " << count[v];
      md << " | " << number(worst[0]) << " | " << number(worst[1]) << " | " << number(worst[2])
         << " | " << (count[Verdict::excluded] ? "excluded: " + first.excluded : refusal_kinds(row))
         << " |\n";
    }
  }
  return md.str();
}

/// The goal: 0 silently wrong and 0 false rank refusals anywhere, and every full-rank
/// case with kappa <= 1e4 accurate at the defaults.
int goal_failures(const std::vector<Case>& cases) {
  int failures = 0;
  for (const Case& c : cases) {
    const bool must_be_accurate = c.options == OptionSet::defaults && c.full_rank && c.kappa <= 1e4;
    const bool fails = c.verdict == Verdict::wrong || c.verdict == Verdict::false_rank ||
                       (must_be_accurate && c.verdict != Verdict::accurate);
    if (!fails) continue;
    if (++failures <= 20)
      std::fprintf(stderr, "goal: %s %s %s %s dX %d: %s\n", key_of(c.options), c.matrix.c_str(),
                   name_of(c.scaling), kRhsNames[c.rhs], c.seed, name_of(c.verdict));
  }
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir = SPARSEGRAD_OUTPUT_DIR;
  bool check = false;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--check") {
      check = true;
    } else if (arg == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (arg == "--matrix" && i + 1 < argc) {
      only.push_back(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--out DIR] [--check] [--matrix NAME]...\n", argv[0]);
      return 2;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (!self_check()) {
    std::fprintf(stderr, "trust corpus: the references failed their self-check\n");
    return 2;
  }
  std::vector<Case> cases;
  for (const std::string& name : kMatrices) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    const MatrixInfo info = analyse(name);
    std::fprintf(stderr, "%-18s %6ld x %-5ld rank %-5ld kappa %.3g reference %s (%.1f s)\n",
                 name.c_str(), long(info.A.rows()), long(info.A.cols()), long(info.rank),
                 info.kappa,
                 info.large                  ? "normal"
                 : info.rank < info.A.cols() ? "COD"
                 : info.long_double          ? "QR long double"
                                             : "QR double",
                 elapsed());
    const Dense<double> B = right_hand_sides(info.A), dX = upstream_gradients(info.A.cols());
    for (Scaling scaling : kScalings) {
      const Csr<double> A = scale_columns(info.A, column_factors(scaling, info.A.cols()));
      const std::uint64_t hash = data_hash(A, B, dX);
      std::string timing;
      double mark = elapsed();
      auto lap = [&](const char* what) {
        const double now = elapsed();
        timing += std::string(" ") + what + " " + number(now - mark, "%.1f");
        mark = now;
      };
      const Reference ref = reference_for(info, A, B, dX, true);
      const Csr<double> Af = rounded_to<float>(A);
      const Dense<double> Bf = rounded_to<float>(B), dXf = rounded_to<float>(dX);
      Reference ref_f = reference_for(info, Af, Bf, dXf, false);
      // κ and θ of the double data: rounding to float moves κ by about 6e-8 κ.
      ref_f.kappa = ref.kappa, ref_f.theta = ref.theta;
      lap("references");
      for (OptionSet set : {OptionSet::defaults, OptionSet::maxiter_raised, OptionSet::tight}) {
        run_option_set<double>(set, info, scaling, A, B, dX, ref, hash, cases);
        lap(key_of(set));
      }
      run_option_set<float>(OptionSet::float_defaults, info, scaling, Af, Bf, dXf, ref_f, hash,
                            cases);
      lap(key_of(OptionSet::float_defaults));
      std::fprintf(stderr, "  %-15s kappa %-9.3g seconds:%s\n", name_of(scaling), ref.kappa,
                   timing.c_str());
    }
  }
  const double seconds = elapsed();
  std::filesystem::create_directories(out_dir);
  write_csv(out_dir + "/trust_corpus.csv", cases);
  const std::string md = markdown(cases, seconds);
  std::ofstream(out_dir + "/trust_corpus.md") << md;
  std::cout << md;
  std::fprintf(stderr, "trust corpus: %zu cases in %.1f s, written to %s/trust_corpus.{md,csv}\n",
               cases.size(), seconds, out_dir.c_str());
  const int failures = goal_failures(cases);
  std::fprintf(stderr, "trust corpus goal: %d failing cases\n", failures);
  return check && failures > 0 ? 1 : 0;
}
