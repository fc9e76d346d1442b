// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SOLVERS_DIRECT_HPP
#define SPARSEGRAD_SOLVERS_DIRECT_HPP

/// \file direct.hpp
/// Direct solver functors on Eigen's sparse factorizations, for `lstsq` and `lstsq_backward`:
///
///   SparseQR<Scalar>        Eigen::SparseQR with COLAMD ordering: AP = QR. X from Q and R;
///                           the backward's H = (AᴴA)⁻¹dX = P R⁻¹ R⁻ᴴ Pᵀ dX from the same R.
///   NormalCholesky<Scalar>  Eigen::SimplicialLDLT of AᴴA plus one step of iterative refinement.
///                           Fast, but its error grows like κ(A)²·u: it estimates that number
///                           and throws std::domain_error instead of returning a poor answer.
///
/// Both keep their factorization and offer `solve_normal(A, G)`, so `lstsq_backward` after
/// `lstsq` with the same solver object and the same A costs two triangular solves per column
/// and no new factorization.
///
/// Cache rule: a factorization is reused only when the A passed now is, entry for entry, the
/// matrix it was computed from — same dimensions, same stored pattern, bitwise-equal values
/// (compared on a compressed-column copy, O(nnz), on every call). Object identity is not used:
/// changing A's values in place, or passing another matrix, always refactorizes; an equal copy
/// reuses. A stale factorization is therefore never used.
///
/// Rank-deficient A throws std::domain_error naming the detected rank ("rank 128 of 176").

#include <Eigen/OrderingMethods>
#include <Eigen/SparseCholesky>
#include <Eigen/SparseQR>
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "../detail/checks.hpp"
#include "../errors.hpp"
#include "../matrix.hpp"
#include "factorization.hpp"

namespace sparsegrad {
namespace detail {

/// What the solves of a QR factorization AP = QR need.
///   Work: the scalar of the factorization; Index: its index type.
template <class Work, class Index>
struct QrFactors {
  Eigen::SparseMatrix<Work, Eigen::RowMajor, Index> R;  ///< n x n upper triangular, sorted
  Eigen::Matrix<Index, Eigen::Dynamic, 1> perm;         ///< x = P y  <=>  x[perm[i]] = y[i]
};

/// Y = P V: row i of V goes to row perm[i].
template <class Work, class Index>
DenseMatrix<Work> apply_permutation(const QrFactors<Work, Index>& f, const DenseMatrix<Work>& V) {
  DenseMatrix<Work> Y(V.rows(), V.cols());
  for (Eigen::Index i = 0; i < V.rows(); ++i) Y.row(f.perm[i]) = V.row(i);
  return Y;
}

/// Y = Pᵀ V.
template <class Work, class Index>
DenseMatrix<Work> apply_permutation_transposed(const QrFactors<Work, Index>& f,
                                               const DenseMatrix<Work>& V) {
  DenseMatrix<Work> Y(V.rows(), V.cols());
  for (Eigen::Index i = 0; i < V.rows(); ++i) Y.row(i) = V.row(f.perm[i]);
  return Y;
}

/// H = (AᴴA)⁻¹G = P R⁻¹ R⁻ᴴ Pᵀ G: two triangular solves with the factor of the forward pass.
template <class Work, class Index>
DenseMatrix<Work> qr_solve_normal(const QrFactors<Work, Index>& f, const DenseMatrix<Work>& G) {
  DenseMatrix<Work> Y = apply_permutation_transposed(f, G);
  f.R.adjoint().template triangularView<Eigen::Lower>().solveInPlace(Y);
  f.R.template triangularView<Eigen::Upper>().solveInPlace(Y);
  return apply_permutation(f, Y);
}

/// X = P R⁻¹ (QᴴB)[0:n], given QᴴB.
template <class Work, class Index>
DenseMatrix<Work> qr_solve(const QrFactors<Work, Index>& f, const DenseMatrix<Work>& QtB) {
  DenseMatrix<Work> Y = QtB.topRows(f.R.rows());
  f.R.template triangularView<Eigen::Upper>().solveInPlace(Y);
  return apply_permutation(f, Y);
}

/// κ₁(R) = ‖R‖₁‖R⁻¹‖₁ estimated with triangular solves; equals κ(A) up to the norms' factors.
template <class Work, class Index>
double qr_condition_estimate(const QrFactors<Work, Index>& f) {
  using Vector = Eigen::Matrix<Work, Eigen::Dynamic, 1>;
  const auto inverse_norm = inverse_one_norm_estimate<Work>(
      f.R.cols(),
      [&](const Vector& v) -> Vector {
        Vector y = v;
        f.R.template triangularView<Eigen::Upper>().solveInPlace(y);
        return y;
      },
      [&](const Vector& v) -> Vector {
        Vector y = v;
        f.R.adjoint().template triangularView<Eigen::Lower>().solveInPlace(y);
        return y;
      });
  return double(sparse_one_norm(f.R)) * double(inverse_norm);
}

/// The message of a rank-deficient A.
inline std::string rank_deficient_message(const char* where, Eigen::Index rank, Eigen::Index n,
                                          const std::string& how) {
  return concat("sparsegrad: ", where, ": argument 'A': expected full column rank, got rank ", rank,
                " of ", n, " (", how,
                "); the least-squares solution and its gradient are not unique. Remove dependent "
                "columns or use a damped (regularized) problem");
}

/// Core of the QR solvers (SparseQR here, SPQR in suitesparse.hpp). The Backend provides:
///   name                      class name for messages
///   Work, Index               scalar and index type of the factorization
///   Options                   its options (pivot_threshold)
///   Factorization             an object holding the factorization, with
///     static std::unique_ptr<Factorization> compute(const CanonicalCsc<Scalar>&, const Options&)
///     Eigen::Index rank() const; bool ok() const;
///     QrFactors<Work, Index> factors() const;  Eigen::Index nonzeros() const
///     DenseMatrix<Work> apply_qt(const DenseMatrix<Work>&) const   (Qᴴ B, m x k)
template <class Scalar, class Backend>
class QrSolver : public FactorizationReport {
 public:
  using Matrix = DenseMatrix<Scalar>;
  using Work = typename Backend::Work;
  using Options = typename Backend::Options;

  /// Options (see the Options type of each solver).
  Options options;

  QrSolver() = default;
  explicit QrSolver(Options opts) : options(std::move(opts)) {}

  /// X = argmin ‖AX − B‖ (n x k). Throws std::domain_error for wide or rank-deficient A.
  template <class AType>
  Matrix operator()(const AType& A, const Matrix& B) {
    check_factor_inputs(Backend::name, A, "B", B, rows_of(A), "the rows of A");
    if (B.cols() == 0) return Matrix(cols_of(A), 0);
    const State& s = prepare(A);
    const DenseMatrix<Work> X =
        qr_solve(s.factors, s.factorization->apply_qt(B.template cast<Work>()));
    return X.template cast<Scalar>();
  }

  /// H = (AᴴA)⁻¹G (n x k) from the cached R: two triangular solves, no new factorization when
  /// A is unchanged. Used by `lstsq_backward`.
  template <class AType>
  Matrix solve_normal(const AType& A, const Matrix& G) {
    constexpr const char* where = Backend::name;
    check_factor_inputs(where, A, "G", G, cols_of(A), "the columns of A");
    if (G.cols() == 0) return Matrix(cols_of(A), 0);
    const State& s = prepare(A);
    return qr_solve_normal(s.factors, DenseMatrix<Work>(G.template cast<Work>()))
        .template cast<Scalar>();
  }

  /// Drops the cached factorization.
  void clear() { state_.reset(); }

 private:
  struct State {
    CanonicalCsc<Scalar> key;
    std::unique_ptr<typename Backend::Factorization> factorization;
    QrFactors<Work, typename Backend::Index> factors;
    std::string failure;  // set when A was rejected: the same A fails again without refactoring
  };

  template <class AType>
  const State& prepare(const AType& A) {
    CanonicalCsc<Scalar> C = canonical_csc<Scalar>(Backend::name, A);
    State* s = state_.get();
    stats_.reused = s != nullptr && same_matrix(s->key, C);
    if (!stats_.reused) {
      auto fresh = std::make_unique<State>();
      fresh->key = std::move(C);
      const Stopwatch clock;
      fresh->factorization = Backend::Factorization::compute(fresh->key, options);
      const auto& F = *fresh->factorization;
      const Eigen::Index n = fresh->key.cols();
      stats_.cols = n;
      stats_.rank = F.ok() ? F.rank() : 0;
      if (!F.ok())
        fresh->failure =
            concat("sparsegrad: ", Backend::name, ": the factorization failed (numerical issue)");
      else if (F.rank() < n)
        fresh->failure = rank_deficient_message(Backend::name, F.rank(), n,
                                                "by the QR factorization's pivot threshold");
      if (fresh->failure.empty()) {
        fresh->factors = F.factors();
        stats_.factor_nonzeros = F.nonzeros();
      }
      stats_.factor_seconds = clock.seconds();
      stats_.condition_estimate = fresh->failure.empty() ? qr_condition_estimate(fresh->factors)
                                                         : std::numeric_limits<double>::infinity();
      ++stats_.factorizations;
      state_.reset(std::move(fresh));
      s = state_.get();
    }
    if (!s->failure.empty()) throw std::domain_error(s->failure);
    return *s;
  }

  CacheSlot<State> state_;
};

/// Core of the normal-equations solvers (NormalCholesky here, Cholmod in suitesparse.hpp):
/// factor AᴴA, solve, refine once with the residual of the original problem. The Backend:
///   name, Work, WorkCsc (the factorization's matrix type)
///   static WorkCsc to_work(const CanonicalCsc<Scalar>&)
///   Factorization with static std::unique_ptr<Factorization> compute(const WorkCsc& AᴴA),
///     bool ok() const, DenseMatrix<Work> solve(const DenseMatrix<Work>&) const,
///     Eigen::Index nonzeros() const
///   static Eigen::Index rank_by_qr(const WorkCsc& A)   (only used to name the rank in errors)
template <class Scalar, class Backend>
class NormalEquationsSolver : public FactorizationReport {
 public:
  using Matrix = DenseMatrix<Scalar>;
  using Work = typename Backend::Work;
  using RealScalar = typename Eigen::NumTraits<Scalar>::Real;

  /// Options of the normal-equations solvers.
  struct Options {
    /// Largest accepted estimate of κ₁(AᴴA)·u, u the unit roundoff of the factorization. It is
    /// the worst-case relative error of an unrefined normal-equations solution and the factor
    /// by which each refinement step must shrink it; at or above about 1 the method cannot be
    /// trusted, so the factorization is rejected with std::domain_error. Default 0.1.
    double max_condition_u = 0.1;
    /// Largest accepted estimate of the relative error of a returned solution,
    /// e = min(1, κ₁(AᴴA)·u)·‖ΔX‖/‖X‖ + √κ₁(AᴴA)·u (ΔX the last refinement correction),
    /// checked after every solve (std::domain_error above it). Negative (default): √u of
    /// Scalar, i.e. 1.5e-8 for double and 3.5e-4 for float.
    double tolerance = -1;
    /// Steps of iterative refinement after the first solve. Default 1.
    int refinement_steps = 1;
  };

  /// Options (see Options).
  Options options;

  NormalEquationsSolver() = default;
  explicit NormalEquationsSolver(Options opts) : options(std::move(opts)) {}

  /// X = argmin ‖AX − B‖ (n x k) from AᴴA X = AᴴB, refined with the residual B − AX.
  template <class AType>
  Matrix operator()(const AType& A, const Matrix& B) {
    check_factor_inputs(Backend::name, A, "B", B, rows_of(A), "the rows of A");
    if (B.cols() == 0) return Matrix(cols_of(A), 0);
    const State& s = prepare(A);
    const DenseMatrix<Work> Bw = B.template cast<Work>();
    DenseMatrix<Work> X = s.factorization->solve(s.A.adjoint() * Bw);
    refine(s, X, [&](const DenseMatrix<Work>& Y) -> DenseMatrix<Work> {
      return s.A.adjoint() * (Bw - s.A * Y);
    });
    return X.template cast<Scalar>();
  }

  /// H = (AᴴA)⁻¹G (n x k) from the cached factorization, refined with the residual
  /// G − Aᴴ(A H) (AᴴA is never multiplied). Used by `lstsq_backward`.
  template <class AType>
  Matrix solve_normal(const AType& A, const Matrix& G) {
    check_factor_inputs(Backend::name, A, "G", G, cols_of(A), "the columns of A");
    if (G.cols() == 0) return Matrix(cols_of(A), 0);
    const State& s = prepare(A);
    const DenseMatrix<Work> Gw = G.template cast<Work>();
    DenseMatrix<Work> H = s.factorization->solve(Gw);
    refine(s, H, [&](const DenseMatrix<Work>& Y) -> DenseMatrix<Work> {
      return Gw - s.A.adjoint() * (s.A * Y);
    });
    return H.template cast<Scalar>();
  }

  /// Relative size ‖ΔX‖/‖X‖ of the last refinement correction of the last solve.
  double last_correction() const { return last_correction_; }

  /// Estimated relative error of the last solution (see Options::tolerance).
  double last_error_estimate() const { return last_error_estimate_; }

  /// Drops the cached factorization.
  void clear() { state_.reset(); }

 private:
  struct State {
    CanonicalCsc<Scalar> key;
    typename Backend::WorkCsc A;  // A in the factorization's types (refinement products)
    std::unique_ptr<typename Backend::Factorization> factorization;
    std::string failure;
  };

  double tolerance() const {
    return options.tolerance >= 0 ? options.tolerance
                                  : std::sqrt(double(Eigen::NumTraits<RealScalar>::epsilon()));
  }

  /// Refinement on the normal equations (Björck, Numerical Methods for Least Squares Problems,
  /// SIAM 1996, Sec. 2.9): each step shrinks the error of the factorization by about κ(A)²·u,
  /// while the residual, computed from A and not AᴴA, only contributes κ(A)·u. Then the
  /// a-posteriori check of the result.
  template <class Residual>
  void refine(const State& s, DenseMatrix<Work>& X, Residual&& normal_residual) {
    const double u = double(Eigen::NumTraits<Work>::epsilon()) / 2;
    const double kappa2 = stats_.condition_estimate;
    last_correction_ = 1;
    for (int step = 0; step < options.refinement_steps; ++step) {
      const DenseMatrix<Work> dX = s.factorization->solve(normal_residual(X));
      X += dX;
      const double norm_x = double(X.norm());
      last_correction_ = norm_x > 0 ? double(dX.norm()) / norm_x : double(dX.norm());
    }
    last_error_estimate_ = std::min(1.0, kappa2 * u) * last_correction_ + std::sqrt(kappa2) * u;
    if (!(last_error_estimate_ <= tolerance()))
      throw std::domain_error(concat(
          "sparsegrad: ", Backend::name,
          ": argument 'A': expected a matrix conditioned well enough for the normal equations, "
          "got an estimated relative error of the solution of ",
          last_error_estimate_, " > options.tolerance = ", tolerance(),
          " (last refinement correction ", last_correction_, ", condition estimate of A^T A: ",
          kappa2, "); use SparseQR (or SPQR), or raise options.refinement_steps"));
  }

  template <class AType>
  const State& prepare(const AType& A) {
    CanonicalCsc<Scalar> C = canonical_csc<Scalar>(Backend::name, A);
    State* s = state_.get();
    stats_.reused = s != nullptr && same_matrix(s->key, C);
    if (!stats_.reused) {
      auto fresh = std::make_unique<State>();
      fresh->key = std::move(C);
      fresh->A = Backend::to_work(fresh->key);
      const Eigen::Index n = fresh->key.cols();
      const Stopwatch clock;
      const typename Backend::WorkCsc N = fresh->A.adjoint() * fresh->A;
      fresh->factorization = Backend::Factorization::compute(N);
      const auto& F = *fresh->factorization;
      stats_.cols = n;
      stats_.factor_nonzeros = F.ok() ? F.nonzeros() : 0;
      stats_.factor_seconds = clock.seconds();
      ++stats_.factorizations;
      double condition_u = std::numeric_limits<double>::infinity();
      stats_.condition_estimate = std::numeric_limits<double>::infinity();
      if (F.ok()) {
        using Vector = Eigen::Matrix<Work, Eigen::Dynamic, 1>;
        auto solve = [&](const Vector& v) -> Vector {
          return F.solve(DenseMatrix<Work>(v)).col(0);
        };
        stats_.condition_estimate =
            double(sparse_one_norm(N)) * double(inverse_one_norm_estimate<Work>(n, solve, solve));
        condition_u = stats_.condition_estimate * double(Eigen::NumTraits<Work>::epsilon()) / 2;
      }
      stats_.rank = n;
      if (!(condition_u <= options.max_condition_u)) {
        // Name the rank: a rank-revealing QR, only on this error path.
        stats_.rank = Backend::rank_by_qr(fresh->A);
        if (stats_.rank < n)
          fresh->failure = rank_deficient_message(
              Backend::name, stats_.rank, n,
              F.ok() ? "found by sparse QR after the Cholesky factor of A^T A turned out singular"
                     : "found by sparse QR after the Cholesky factorization of A^T A broke down");
        else
          fresh->failure = concat(
              "sparsegrad: ", Backend::name,
              ": argument 'A': expected a matrix conditioned well enough for the normal "
              "equations (estimated kappa(A)^2 * u <= options.max_condition_u = ",
              options.max_condition_u, "), got an estimate of ", condition_u,
              " (condition estimate of A^T A: ", stats_.condition_estimate, "; A has full rank ", n,
              " by sparse QR); use SparseQR (or SPQR), or a wider working precision");
      }
      state_.reset(std::move(fresh));
      s = state_.get();
    }
    if (!s->failure.empty()) throw std::domain_error(s->failure);
    return *s;
  }

  CacheSlot<State> state_;
  double last_correction_ = 0;
  double last_error_estimate_ = 0;
};

/// Backend of SparseQR: Eigen::SparseQR with COLAMD ordering, in Scalar.
template <class Scalar>
struct EigenQrBackend {
  static constexpr const char* name = "SparseQR";
  using Work = Scalar;
  using Index = int;
  struct Options {
    /// Columns whose remaining norm falls below this count as dependent (they lower the rank).
    /// Negative (default): Eigen's default, 20·(m + n)·max_j‖a_j‖·ε.
    double pivot_threshold = -1;
  };
  class Factorization {
   public:
    static std::unique_ptr<Factorization> compute(const CanonicalCsc<Scalar>& A,
                                                  const Options& options) {
      auto f = std::make_unique<Factorization>();
      if (options.pivot_threshold >= 0)
        f->qr_.setPivotThreshold(typename Eigen::NumTraits<Scalar>::Real(options.pivot_threshold));
      f->qr_.compute(A);
      return f;
    }
    bool ok() const { return qr_.info() == Eigen::Success; }
    Eigen::Index rank() const { return qr_.rank(); }
    Eigen::Index nonzeros() const { return qr_.matrixR().nonZeros(); }
    QrFactors<Scalar, int> factors() const {
      QrFactors<Scalar, int> f;
      const Eigen::Index n = qr_.cols();
      // The row-major copy sorts R's columns (Eigen's R is unsorted).
      f.R = qr_.matrixR().topLeftCorner(n, n);
      f.perm = qr_.colsPermutation().indices();
      return f;
    }
    DenseMatrix<Scalar> apply_qt(const DenseMatrix<Scalar>& B) const {
      return qr_.matrixQ().adjoint() * B;
    }

   private:
    Eigen::SparseQR<CanonicalCsc<Scalar>, Eigen::COLAMDOrdering<int>> qr_;
  };
};

/// Rank of A by Eigen's SparseQR with its default threshold (error messages only).
template <class Scalar>
Eigen::Index eigen_qr_rank(const CanonicalCsc<Scalar>& A) {
  Eigen::SparseQR<CanonicalCsc<Scalar>, Eigen::COLAMDOrdering<int>> qr(A);
  return qr.info() == Eigen::Success ? qr.rank() : 0;
}

/// Backend of NormalCholesky: Eigen::SimplicialLDLT (AMD ordering) of AᴴA, in Scalar.
template <class Scalar>
struct LdltBackend {
  static constexpr const char* name = "NormalCholesky";
  using Work = Scalar;
  using WorkCsc = CanonicalCsc<Scalar>;
  static WorkCsc to_work(const CanonicalCsc<Scalar>& A) { return A; }
  static Eigen::Index rank_by_qr(const WorkCsc& A) { return eigen_qr_rank<Scalar>(A); }
  class Factorization {
   public:
    static std::unique_ptr<Factorization> compute(const WorkCsc& N) {
      auto f = std::make_unique<Factorization>();
      f->ldlt_.compute(N);
      // AᴴA is positive semidefinite: a pivot <= 0 means it is numerically singular.
      f->ok_ =
          f->ldlt_.info() == Eigen::Success && (N.cols() == 0 || f->ldlt_.vectorD().minCoeff() > 0);
      return f;
    }
    bool ok() const { return ok_; }
    DenseMatrix<Scalar> solve(const DenseMatrix<Scalar>& B) const { return ldlt_.solve(B); }
    Eigen::Index nonzeros() const {
      return ldlt_.matrixL().nestedExpression().nonZeros() + ldlt_.vectorD().size();
    }

   private:
    Eigen::SimplicialLDLT<WorkCsc, Eigen::Lower, Eigen::AMDOrdering<int>> ldlt_;
    bool ok_ = false;
  };
};

}  // namespace detail

/// Sparse QR least-squares solver (Eigen::SparseQR, COLAMD ordering): AP = QR,
/// X = P R⁻¹(QᴴB). Accurate to about κ(A)·u (plus κ(A)²·u·‖r‖/(‖A‖‖X‖) for large residuals).
/// `solve_normal` reuses R, so the backward pass after a forward pass on the same A costs two
/// triangular solves per column. Rank-deficient A (rank below n by the pivot threshold in
/// `options.pivot_threshold`) throws std::domain_error naming the rank. Accessors (`rank()`,
/// `factor_nonzeros()`, `factor_seconds()`, `factorizations()`, `condition_estimate()` = κ₁(R))
/// report the last factorization. Default-constructible; `options` is public.
template <class Scalar>
class SparseQR : public detail::QrSolver<Scalar, detail::EigenQrBackend<Scalar>> {
  using Base = detail::QrSolver<Scalar, detail::EigenQrBackend<Scalar>>;

 public:
  using Base::Base;
};

/// Normal-equations solver: Eigen::SimplicialLDLT (AMD ordering) of AᴴA, then one step of
/// iterative refinement with the residual of the least-squares problem. Usually the fastest
/// direct solver, but the normal equations square the condition number, so it checks twice and
/// throws std::domain_error rather than return an inaccurate answer: after each factorization,
/// κ₁(AᴴA)·u (Hager–Higham estimate on the factor) must not exceed `options.max_condition_u`
/// (default 0.1); after each solve, the estimated relative error (from κ and the size of the
/// refinement correction) must not exceed `options.tolerance` (default √u). A rank-deficient A
/// is named with its rank (found by a sparse QR, on that error path only). `solve_normal`
/// reuses the factor. Accessors as for SparseQR; `condition_estimate()` is κ₁(AᴴA) ≈ κ(A)²,
/// `last_error_estimate()` the estimate of the last solve.
template <class Scalar>
class NormalCholesky : public detail::NormalEquationsSolver<Scalar, detail::LdltBackend<Scalar>> {
  using Base = detail::NormalEquationsSolver<Scalar, detail::LdltBackend<Scalar>>;

 public:
  using Base::Base;
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_SOLVERS_DIRECT_HPP
