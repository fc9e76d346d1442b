// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SOLVERS_FACTORIZATION_HPP
#define SPARSEGRAD_SOLVERS_FACTORIZATION_HPP

// Machinery shared by the solvers that keep a factorization (direct.hpp, suitesparse.hpp,
// eigen_lscg.hpp): the canonical copy of A that a cached factorization is tied to, the exact
// test that decides reuse, input checks, a 1-norm condition estimator and a stopwatch.

#include <Eigen/SparseCore>
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "../coo.hpp"
#include "../detail/checks.hpp"
#include "../matrix.hpp"

namespace sparsegrad {
namespace detail {

/// The form in which the factorizing solvers keep A: compressed column storage, int indices,
/// duplicates summed, explicit zeros kept.
template <class Scalar>
using CanonicalCsc = Eigen::SparseMatrix<Scalar, Eigen::ColMajor, int>;

/// CSC copy of any supported A (O(nnz)). Throws std::invalid_argument when the dimensions or
/// the number of entries do not fit an int.
template <class Scalar, class AType>
CanonicalCsc<Scalar> canonical_csc(const char* where, const AType& A) {
  constexpr auto max_int = static_cast<Eigen::Index>(INT_MAX);
  if (rows_of(A) > max_int || cols_of(A) > max_int || stored_entries(A) > max_int)
    throw_invalid(
        where, "A", concat("dimensions and entry count up to ", max_int),
        concat(shape_string(rows_of(A), cols_of(A)), " with ", stored_entries(A), " entries"));
  CanonicalCsc<Scalar> C;
  if constexpr (std::is_same<AType, CooMatrix<Scalar, typename AType::StorageIndex>>::value) {
    std::vector<Eigen::Triplet<Scalar, int>> entries;
    entries.reserve(static_cast<std::size_t>(A.values.size()));
    for (Eigen::Index e = 0; e < A.values.size(); ++e)
      entries.emplace_back(int(A.row[e]), int(A.col[e]), A.values[e]);
    C.resize(A.rows, A.cols);
    C.setFromTriplets(entries.begin(), entries.end());
  } else {
    C = A;
  }
  C.makeCompressed();
  return C;
}

/// True when a and b are the same matrix entry for entry: same dimensions, same stored pattern
/// and bitwise-equal values. This is the test that ties a cached factorization to A.
template <class Scalar>
bool same_matrix(const CanonicalCsc<Scalar>& a, const CanonicalCsc<Scalar>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols() || a.nonZeros() != b.nonZeros()) return false;
  const Eigen::Index nnz = a.nonZeros();
  return std::equal(a.outerIndexPtr(), a.outerIndexPtr() + a.cols() + 1, b.outerIndexPtr()) &&
         std::equal(a.innerIndexPtr(), a.innerIndexPtr() + nnz, b.innerIndexPtr()) &&
         std::equal(a.valuePtr(), a.valuePtr() + nnz, b.valuePtr(),
                    [](const Scalar& x, const Scalar& y) {
                      // Bitwise: +0 and -0 differ, so that a factorization is reused only for
                      // the very same numbers.
                      return x == y && std::signbit(x) == std::signbit(y);
                    });
}

/// Checks A and the right-hand side of a factorizing solver's solve: A valid and tall
/// (rows >= cols), `M` finite with `rows` rows.
template <class AType, class Derived>
void check_factor_inputs(const char* where, const AType& A, const char* name,
                         const Eigen::MatrixBase<Derived>& M, Eigen::Index rows,
                         const char* rows_meaning) {
  validate_matrix(where, A);
  if (rows_of(A) < cols_of(A))
    throw_domain(where, "A", "a tall or square matrix (rows >= cols)",
                 shape_string(rows_of(A), cols_of(A)));
  if (M.rows() != rows)
    throw_invalid(where, name, concat(rows, " rows (", rows_meaning, ")"),
                  shape_string(M.rows(), M.cols()));
  require_finite(where, name, M);
}

/// Owns a cached factorization. Copying a solver copies its options and statistics but not its
/// factorization (the copy factorizes on first use): factorizations hold raw library handles.
template <class T>
class CacheSlot {
 public:
  CacheSlot() = default;
  CacheSlot(const CacheSlot&) {}
  CacheSlot& operator=(const CacheSlot&) {
    ptr_.reset();
    return *this;
  }
  CacheSlot(CacheSlot&&) noexcept = default;
  CacheSlot& operator=(CacheSlot&&) noexcept = default;

  T* get() const { return ptr_.get(); }
  void reset(std::unique_ptr<T> p = nullptr) { ptr_ = std::move(p); }

 private:
  std::unique_ptr<T> ptr_;
};

/// Wall-clock seconds since construction.
class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// Estimate of ‖M⁻¹‖₁ from a few solves with M and Mᵀ: Hager's method with Higham's extra test
/// vector (W. W. Hager, SIAM J. Sci. Stat. Comput. 5(2), 1984; N. J. Higham, ACM TOMS 14(4),
/// 1988, Algorithm 4.1 — LAPACK's xLACON). A lower bound, in practice within a factor of a few.
/// Returns +inf when a solve overflows.
template <class Real, class Solve, class SolveTransposed>
Real inverse_one_norm_estimate(Eigen::Index n, Solve&& solve, SolveTransposed&& solve_transposed) {
  using Vector = Eigen::Matrix<Real, Eigen::Dynamic, 1>;
  if (n == 0) return Real(0);
  const Real inf = std::numeric_limits<Real>::infinity();
  Vector x = Vector::Constant(n, Real(1) / Real(n));
  Real estimate = 0;
  for (int iteration = 0; iteration < 5; ++iteration) {
    const Vector y = solve(x);
    if (!y.allFinite()) return inf;
    const Real norm_y = y.template lpNorm<1>();
    if (iteration > 0 && norm_y <= estimate) break;
    estimate = norm_y;
    const Vector sign = y.unaryExpr([](Real v) { return v >= 0 ? Real(1) : Real(-1); });
    const Vector z = solve_transposed(sign);
    if (!z.allFinite()) return inf;
    Eigen::Index j = 0;
    const Real z_max = z.cwiseAbs().maxCoeff(&j);
    if (iteration > 0 && z_max <= z.dot(x)) break;
    x.setZero();
    x[j] = 1;
  }
  Vector alternating(n);
  for (Eigen::Index i = 0; i < n; ++i)
    alternating[i] =
        (i % 2 ? Real(-1) : Real(1)) * (Real(1) + Real(i) / Real(std::max<Eigen::Index>(n - 1, 1)));
  const Vector w = solve(alternating);
  if (!w.allFinite()) return inf;
  return std::max(estimate, Real(2) * w.template lpNorm<1>() / (Real(3) * Real(n)));
}

/// ‖M‖₁, the largest column sum of |m_ij|.
template <class SparseDerived>
typename SparseDerived::RealScalar sparse_one_norm(
    const Eigen::SparseMatrixBase<SparseDerived>& M) {
  using Real = typename SparseDerived::RealScalar;
  Eigen::Matrix<Real, Eigen::Dynamic, 1> sums =
      Eigen::Matrix<Real, Eigen::Dynamic, 1>::Zero(M.cols());
  const SparseDerived& S = M.derived();
  for (Eigen::Index o = 0; o < S.outerSize(); ++o)
    for (typename SparseDerived::InnerIterator it(S, o); it; ++it)
      sums[it.col()] += std::abs(it.value());
  return sums.size() ? sums.maxCoeff() : Real(0);
}

}  // namespace detail

/// What a factorizing solver did on its last factorization; every shipped direct solver
/// exposes it through read-only accessors.
struct FactorizationStats {
  Eigen::Index rank = -1;            ///< detected rank of A (-1 before the first factorization)
  Eigen::Index cols = 0;             ///< columns of A
  Eigen::Index factor_nonzeros = 0;  ///< stored entries of the factor (R, or L with D): the fill-in
  double factor_seconds = 0;         ///< wall time of the last factorization (including ordering)
  long factorizations = 0;           ///< factorizations performed by this object so far
  double condition_estimate = 0;     ///< estimate of κ₁ of R (QR) or of AᴴA (Cholesky)
  bool reused = false;               ///< whether the last call reused a cached factorization
};

namespace detail {

/// Read-only accessors shared by the factorizing solvers.
class FactorizationReport {
 public:
  /// Everything below in one struct.
  const FactorizationStats& stats() const { return stats_; }
  /// Detected rank of A at the last factorization (-1 before the first one).
  Eigen::Index rank() const { return stats_.rank; }
  /// Stored entries of the factor: the fill-in.
  Eigen::Index factor_nonzeros() const { return stats_.factor_nonzeros; }
  /// Wall time of the last factorization in seconds.
  double factor_seconds() const { return stats_.factor_seconds; }
  /// Number of factorizations this object has performed.
  long factorizations() const { return stats_.factorizations; }
  /// Condition estimate of the last factorization (see FactorizationStats).
  double condition_estimate() const { return stats_.condition_estimate; }
  /// Whether the last call reused the cached factorization.
  bool reused() const { return stats_.reused; }

 protected:
  FactorizationStats stats_;
};

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_SOLVERS_FACTORIZATION_HPP
