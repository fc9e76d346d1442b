// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_BACKENDS_SUITESPARSE_HPP
#define SPARSEGRAD_BACKENDS_SUITESPARSE_HPP

/// \file suitesparse.hpp
/// SuiteSparse solver functors through Eigen's SPQRSupport and CholmodSupport modules:
///
///   SPQR<Scalar>    SuiteSparseQR, multifrontal rank-revealing sparse QR: AP = QR.
///   Cholmod<Scalar> CHOLMOD supernodal Cholesky of AᴴA plus one step of iterative refinement.
///
/// Not part of the umbrella header because it needs linking: with CMake, link
/// `sparsegrad::suitesparse` (option SPARSEGRAD_WITH_SUITESPARSE, on by default; Debian package
/// libsuitesparse-dev), or by hand `-lspqr -lcholmod -lsuitesparseconfig`.
///
/// SuiteSparse works in double with `SuiteSparse_long` indices here: float input is converted
/// to double, factorized and solved in double, and the result is cast back to float (so a
/// float problem gets double-precision factorization accuracy, then float rounding).
///
/// Same behaviour as the solvers of direct.hpp: `solve_normal` reuses the cached
/// factorization (same cache rule: reused only for an entry-for-entry identical A),
/// rank-deficient A throws std::domain_error naming the rank, and the accessors `rank()`,
/// `factor_nonzeros()`, `factor_seconds()`, `factorizations()`, `condition_estimate()` report
/// the last factorization.

#include <Eigen/CholmodSupport>
#include <Eigen/SPQRSupport>
#include <memory>

#include "../solvers/direct.hpp"

namespace sparsegrad {
namespace detail {

/// The matrix type SuiteSparse is called with.
using SuiteSparseCsc = Eigen::SparseMatrix<double, Eigen::ColMajor, SuiteSparse_long>;

template <class Scalar>
SuiteSparseCsc to_suitesparse(const CanonicalCsc<Scalar>& A) {
  const Eigen::SparseMatrix<double, Eigen::ColMajor, int> Ad = A.template cast<double>();
  SuiteSparseCsc W(Ad.rows(), Ad.cols());
  W.reserve(Ad.nonZeros());
  std::copy(Ad.outerIndexPtr(), Ad.outerIndexPtr() + Ad.cols() + 1, W.outerIndexPtr());
  std::copy(Ad.innerIndexPtr(), Ad.innerIndexPtr() + Ad.nonZeros(), W.innerIndexPtr());
  std::copy(Ad.valuePtr(), Ad.valuePtr() + Ad.nonZeros(), W.valuePtr());
  W.resizeNonZeros(Ad.nonZeros());
  return W;
}

/// Eigen::SPQR with access to whether compute() succeeded (its info() asserts otherwise).
class SpqrFactor : public Eigen::SPQR<SuiteSparseCsc> {
 public:
  bool initialized() const { return this->m_isInitialized; }
};

/// Options of the SPQR solver.
struct SpqrOptions {
  /// Columns whose remaining norm falls below this count as dependent (they lower the rank).
  /// Negative (default): SuiteSparseQR's default, 20·(m + n)·max_j‖a_j‖·ε.
  double pivot_threshold = -1;
  /// Fill-reducing ordering, one of SuiteSparseQR's SPQR_ORDERING_* constants. Default
  /// SPQR_ORDERING_DEFAULT (COLAMD, or METIS/AMD when SuiteSparse judges them better).
  int ordering = SPQR_ORDERING_DEFAULT;
};

template <class Scalar>
struct SpqrBackend {
  static constexpr const char* name = "SPQR";
  using Work = double;
  using Index = SuiteSparse_long;
  using Options = SpqrOptions;
  class Factorization {
   public:
    static std::unique_ptr<Factorization> compute(const CanonicalCsc<Scalar>& A,
                                                  const Options& options) {
      auto f = std::make_unique<Factorization>();
      f->spqr_.cholmodCommon()->print = 0;
      f->spqr_.setSPQROrdering(options.ordering);
      if (options.pivot_threshold >= 0) f->spqr_.setPivotThreshold(options.pivot_threshold);
      f->spqr_.compute(to_suitesparse(A));
      return f;
    }
    bool ok() const { return spqr_.initialized() && spqr_.info() == Eigen::Success; }
    Eigen::Index rank() const { return spqr_.rank(); }
    Eigen::Index nonzeros() const { return spqr_.matrixR().nonZeros(); }
    QrFactors<double, Index> factors() const {
      QrFactors<double, Index> f;
      const Eigen::Index n = spqr_.cols();
      f.R = spqr_.matrixR().topLeftCorner(n, n);
      f.perm = spqr_.colsPermutation().indices();
      return f;
    }
    DenseMatrix<double> apply_qt(const DenseMatrix<double>& B) const {
      return spqr_.matrixQ().transpose() * B;
    }

   private:
    SpqrFactor spqr_;
  };
};

template <class Scalar>
struct CholmodBackend {
  static constexpr const char* name = "Cholmod";
  using Work = double;
  using WorkCsc = SuiteSparseCsc;
  static WorkCsc to_work(const CanonicalCsc<Scalar>& A) { return to_suitesparse(A); }
  static Eigen::Index rank_by_qr(const WorkCsc& A) {
    SpqrFactor spqr;
    spqr.cholmodCommon()->print = 0;
    spqr.compute(A);
    return spqr.initialized() ? spqr.rank() : 0;
  }
  class Factorization {
   public:
    static std::unique_ptr<Factorization> compute(const WorkCsc& N) {
      auto f = std::make_unique<Factorization>();
      f->llt_.cholmod().print = 0;  // failures are reported by exceptions, not on stderr
      f->llt_.compute(N);
      f->ok_ = f->llt_.info() == Eigen::Success;
      f->nonzeros_ = static_cast<Eigen::Index>(f->llt_.cholmod().lnz);
      return f;
    }
    bool ok() const { return ok_; }
    DenseMatrix<double> solve(const DenseMatrix<double>& B) const { return llt_.solve(B); }
    Eigen::Index nonzeros() const { return nonzeros_; }

   private:
    Eigen::CholmodSupernodalLLT<WorkCsc, Eigen::Lower> llt_;
    bool ok_ = false;
    Eigen::Index nonzeros_ = 0;
  };
};

}  // namespace detail

/// SuiteSparseQR (multifrontal, rank-revealing sparse QR) as a solver functor: AP = QR,
/// X = P R⁻¹(QᴴB); `solve_normal` = P R⁻¹R⁻ᴴPᵀG reuses R. Computes in double (float input
/// converted, result cast back). Rank below n by `options.pivot_threshold` throws
/// std::domain_error naming the rank. `condition_estimate()` is κ₁(R).
template <class Scalar>
class SPQR : public detail::QrSolver<Scalar, detail::SpqrBackend<Scalar>> {
  using Base = detail::QrSolver<Scalar, detail::SpqrBackend<Scalar>>;

 public:
  using Base::Base;
};

/// CHOLMOD supernodal Cholesky of AᴴA, one step of iterative refinement, the same checks and
/// options as NormalCholesky (κ₁(AᴴA)·u at most `options.max_condition_u`, estimated error at
/// most `options.tolerance`, else std::domain_error; rank named by SPQR on that error path).
/// Computes in double (float input converted, result cast back; the default tolerance is √u
/// of Scalar).
template <class Scalar>
class Cholmod : public detail::NormalEquationsSolver<Scalar, detail::CholmodBackend<Scalar>> {
  using Base = detail::NormalEquationsSolver<Scalar, detail::CholmodBackend<Scalar>>;

 public:
  using Base::Base;
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_BACKENDS_SUITESPARSE_HPP
