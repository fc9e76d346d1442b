// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SOLVERS_EIGEN_LSCG_HPP
#define SPARSEGRAD_SOLVERS_EIGEN_LSCG_HPP

/// \file eigen_lscg.hpp
/// `EigenLSCG`: Eigen::LeastSquaresConjugateGradient (CGLS, conjugate gradients on AᴴAx = Aᴴb
/// without forming AᴴA) as a solver functor, for users who already rely on Eigen's solver and
/// its preconditioners.
///
/// It offers no `solve_normal`, so `lstsq_backward(A, B, X, dX, solver)` takes the
/// two-solve backward: dB = (Aᴴ)⁺dX by the default LSMR, then H = A⁺dB by this solver.
/// Non-convergence within `options.max_iterations` throws `convergence_error` (unless
/// `options.throw_on_failure` is false) with the per-column diagnostics, istop = 7 (iteration
/// limit) for the columns that did not converge.

#include <Eigen/IterativeLinearSolvers>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "../detail/checks.hpp"
#include "../errors.hpp"
#include "../matrix.hpp"
#include "factorization.hpp"

namespace sparsegrad {

/// Options of EigenLSCG.
template <class Scalar>
struct EigenLscgOptions {
  using RealScalar = typename Eigen::NumTraits<Scalar>::Real;
  /// Relative tolerance of Eigen's criterion ‖Aᴴ(b − Ax)‖ <= tolerance·‖Aᴴb‖ for each column.
  /// Default 1e-10 for double, 1e-5 for float.
  RealScalar tolerance = RealScalar(sizeof(RealScalar) >= sizeof(double) ? 1e-10 : 1e-5);
  /// Iteration limit per column; negative (default) is Eigen's default, 2·cols(A).
  Eigen::Index max_iterations = -1;
  /// Throw convergence_error when a column does not converge (default true); otherwise
  /// return the last iterate and report in last().
  bool throw_on_failure = true;
};

/// Per-column record of the last EigenLSCG run.
struct EigenLscgStats {
  std::vector<Eigen::Index> iterations;  ///< iterations used by column j
  std::vector<double> error;             ///< Eigen's achieved ‖Aᴴr‖/‖Aᴴb‖ for column j
  std::vector<bool> converged;           ///< whether column j met the tolerance
  long setups = 0;      ///< preconditioner setups (compute()) performed by this object so far
  bool reused = false;  ///< whether the last call reused the setup of the previous one
};

/// Eigen::LeastSquaresConjugateGradient as a solver functor: `solver(A, B)` for A in any
/// accepted format (kept internally as a compressed-column copy), float or double.
/// `Preconditioner` is any Eigen preconditioner for it (default: the Jacobi preconditioner of
/// AᴴA, Eigen::LeastSquareDiagonalPreconditioner). The preconditioner setup is reused for an
/// entry-for-entry identical A (same rule as the direct solvers).
template <class Scalar, class Preconditioner = Eigen::LeastSquareDiagonalPreconditioner<Scalar>>
class EigenLSCG {
 public:
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using RealScalar = typename Eigen::NumTraits<Scalar>::Real;

  /// Options (see EigenLscgOptions).
  EigenLscgOptions<Scalar> options;

  EigenLSCG() = default;
  explicit EigenLSCG(EigenLscgOptions<Scalar> opts) : options(std::move(opts)) {}

  /// X = argmin ‖AX − B‖ column by column, starting from 0 (so the minimum-norm solution for a
  /// consistent wide problem).
  template <class AType>
  Matrix operator()(const AType& A, const Matrix& B) {
    constexpr const char* where = "EigenLSCG";
    detail::validate_matrix(where, A);
    if (B.rows() != detail::rows_of(A))
      detail::throw_invalid(where, "B", detail::concat(detail::rows_of(A), " rows (the rows of A)"),
                            detail::shape_string(B.rows(), B.cols()));
    detail::require_finite(where, "B", B);
    if (!(options.tolerance > 0))
      detail::throw_invalid(where, "options.tolerance", "a positive number",
                            detail::concat(options.tolerance));
    const Eigen::Index n = detail::cols_of(A), k = B.cols();
    Matrix X = Matrix::Zero(n, k);
    stats_.iterations.assign(std::size_t(k), 0);
    stats_.error.assign(std::size_t(k), 0.0);
    stats_.converged.assign(std::size_t(k), true);
    if (k == 0) return X;
    State& s = prepare(A);
    s.solver.setTolerance(options.tolerance);
    s.solver.setMaxIterations(options.max_iterations >= 0 ? options.max_iterations : 2 * n);
    bool all_converged = true;
    for (Eigen::Index j = 0; j < k; ++j) {
      X.col(j) = s.solver.solve(B.col(j));
      stats_.iterations[std::size_t(j)] = s.solver.iterations();
      stats_.error[std::size_t(j)] = double(s.solver.error());
      stats_.converged[std::size_t(j)] = s.solver.info() == Eigen::Success;
      all_converged = all_converged && stats_.converged[std::size_t(j)];
    }
    if (!all_converged && options.throw_on_failure) throw failure(s.key, B, X);
    return X;
  }

  /// What the last call did.
  const EigenLscgStats& last() const { return stats_; }

 private:
  struct State {
    detail::CanonicalCsc<Scalar> key;  // the solver refers to this copy of A
    Eigen::LeastSquaresConjugateGradient<detail::CanonicalCsc<Scalar>, Preconditioner> solver;
  };

  template <class AType>
  State& prepare(const AType& A) {
    detail::CanonicalCsc<Scalar> C = detail::canonical_csc<Scalar>("EigenLSCG", A);
    State* s = state_.get();
    stats_.reused = s != nullptr && detail::same_matrix(s->key, C);
    if (!stats_.reused) {
      auto fresh = std::make_unique<State>();
      fresh->key = std::move(C);
      fresh->solver.compute(fresh->key);
      ++stats_.setups;
      state_.reset(std::move(fresh));
      s = state_.get();
    }
    return *s;
  }

  /// convergence_error with exact norms for every column.
  convergence_error failure(const detail::CanonicalCsc<Scalar>& A, const Matrix& B,
                            const Matrix& X) const {
    ConvergenceDiagnostics d;
    const Matrix R = B - A * X;
    const Matrix AR = A.adjoint() * R;
    const double norma = double(A.norm());
    std::string columns;
    for (Eigen::Index j = 0; j < B.cols(); ++j) {
      const auto jj = std::size_t(j);
      d.istop.push_back(stats_.converged[jj] ? 2 : 7);
      d.itn.push_back(int(stats_.iterations[jj]));
      d.normr.push_back(double(R.col(j).norm()));
      d.normar.push_back(double(AR.col(j).norm()));
      d.norma.push_back(norma);
      d.conda.push_back(std::numeric_limits<double>::quiet_NaN());
      d.normx.push_back(double(X.col(j).norm()));
      if (!stats_.converged[jj])
        columns +=
            detail::concat(columns.empty() ? "" : ", ", j, " (relative normal residual ",
                           stats_.error[jj], " after ", stats_.iterations[jj], " iterations)");
    }
    return convergence_error(
        detail::concat("sparsegrad: EigenLSCG: Eigen::LeastSquaresConjugateGradient did not reach "
                       "options.tolerance = ",
                       options.tolerance, " for column(s) ", columns,
                       "\n  (raise options.max_iterations or options.tolerance, or set "
                       "options.throw_on_failure = false)"),
        std::move(d));
  }

  EigenLscgStats stats_;
  detail::CacheSlot<State> state_;
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_SOLVERS_EIGEN_LSCG_HPP
