// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SOLVERS_LSMR_HPP
#define SPARSEGRAD_SOLVERS_LSMR_HPP

/// \file solvers/lsmr.hpp
/// `Lsmr<Scalar>`, the default solver functor: LSMR (krylov/lsmr.hpp) for the forward solve and
/// the transposed solve, CRAIG (krylov/craig.hpp) for the one-solve backward.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/checks.hpp"
#include "../errors.hpp"
#include "../krylov/craig.hpp"
#include "../krylov/lsmr.hpp"
#include "../matrix.hpp"
#include "../operator.hpp"
#include "concept.hpp"

namespace sparsegrad {
namespace detail {

/// The Lsmr functor's rule for a warm start x0 (x0_rows x x0_cols) of an m x n problem: a
/// wide A keeps x0's component outside range(Aᴴ), and damping solves a shifted problem, so that X
/// would not be the solution the backward pass differentiates. Throws std::invalid_argument.
template <class Real>
void check_warm_start(const char* where, Eigen::Index x0_rows, Eigen::Index x0_cols, Eigen::Index m,
                      Eigen::Index n, Real damp) {
  if (damp > 0 || m < n)
    throw_invalid(where, "options.x0",
                  "empty for a wide A (rows < cols) or with options.damp > 0 (a warm start would "
                  "leave X off the minimum-norm / damped solution; the free function lsmr() keeps "
                  "scipy's semantics)",
                  concat("a ", shape_string(x0_rows, x0_cols), " x0 with A of ", shape_string(m, n),
                         " and damp ", damp));
}

/// The end of every solve_normal by CRAIG (Lsmr's, the PyTorch device path's): a column whose
/// stored entries are all zero makes A rank-deficient, and the gradient at those entries does
/// not exist (unlike a column with no stored entry, which has no gradient to give), so it is
/// refused as rank deficiency (std::domain_error); then require_solved.
template <class Options, class Real>
void require_normal_solved(const char* where, const Options& options,
                           const ColumnWeights<Real>& weights, const Diagnostics& stats) {
  if (options.damp == 0 && !weights.zero_stored.empty())
    throw_domain(where, "A", "full column rank (no column whose stored entries are all zero)",
                 concat("column ", weights.zero_stored.front(),
                        " with stored entries that are all zero (", weights.zero_stored.size(),
                        " such columns): A is rank-deficient there and the gradient at those "
                        "entries does not exist without damping; drop the entries or set "
                        "options.damp > 0"));
  require_solved(where, "CRAIG", stats, options.throw_on_failure);
}

/// Lsmr::solution_error's bounds (see there) from the norms ‖D S_j‖ and ‖X_j‖, the last
/// solve_normal's diagnostics (σ_min of A D) and max(D), and the forward solve's own error
/// estimates of X (null when X is not its result). Empty when no σ_min was estimated.
template <class Real>
SolutionError solution_error_bounds(const Diagnostics& normal, double dmax,
                                    const std::vector<double>& normDS,
                                    const std::vector<double>& normX,
                                    const std::vector<double>* own_error) {
  SolutionError out;
  double smin = std::numeric_limits<double>::infinity();
  for (double v : normal.sigma_min)
    if (!std::isnan(v)) smin = std::min(smin, v);
  if (!(smin < std::numeric_limits<double>::infinity())) return out;
  for (std::size_t j = 0; j < normDS.size(); ++j) {
    const double ds = normDS[j] / (smin * smin);
    double x = dmax * ds;
    const double e = own_error && own_error->size() == normDS.size()
                         ? (*own_error)[j]
                         : std::numeric_limits<double>::quiet_NaN();
    if (!std::isnan(e)) x = std::min(x, (e + double(Eigen::NumTraits<Real>::epsilon())) * normX[j]);
    out.X.push_back(x);
    out.AX.push_back(smin * ds);
  }
  return out;
}

}  // namespace detail

/// The default solver functor: LSMR with `options`, keeping the diagnostics of its last run.
/// Callable as `solver(A, B)`; on failure (istop 3, 6, 7) it throws `convergence_error` unless
/// `options.throw_on_failure` is false.
template <class Scalar>
class Lsmr {
 public:
  using RealScalar = typename Eigen::NumTraits<Scalar>::Real;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  LsmrOptions<Scalar> options;

  Lsmr() = default;
  explicit Lsmr(LsmrOptions<Scalar> opts) : options(std::move(opts)) {}

  /// X = argmin ‖AX − B‖ (+ λ²‖X‖²), starting from options.x0 if set.
  template <class AType>
  Matrix operator()(const AType& A, const Matrix& B) {
    return run(A, B, false, true);
  }

  /// Y = argmin ‖AᴴY − G‖ (+ λ²‖Y‖²) by LSMR on Aᴴ, i.e. Y = (Aᴴ)⁺G undamped: the transposed
  /// solve of the backward pass. options.x0 is ignored.
  template <class AType>
  Matrix solve_adjoint(const AType& A, const Matrix& G) {
    return run(A, G, true, false);
  }

  /// H = (AᴴA + λ²I)⁻¹G by CRAIG on the same Golub–Kahan process (craig.hpp): the one solve of
  /// the backward pass (dB = A·H). Throws std::domain_error for an inconsistent AᴴY = G
  /// (rank-deficient A). options.x0 is ignored; last_backward() holds H and CRAIG's diagnostics.
  template <class AType>
  Matrix solve_normal(const AType& A, const Matrix& G);

  /// Diagnostics (and X) of the last forward solve (operator()).
  const LsmrResult<Scalar>& last() const { return last_; }

  /// For the backward's error estimates: per column j of X, bounds on ‖X_j − X*_j‖ and
  /// ‖A(X_j − X*_j)‖ from S = Aᴴ(B − A X) (n x k), with the last solve_normal's column weights D
  /// and singular-value estimates of A D: X* − X = D (D AᴴA D)⁻¹ D S, so ‖X* − X‖ ≤
  /// max(D) ‖D S‖/σ_min² and ‖A(X* − X)‖ ≤ ‖D S‖/σ_min (‖A D (D AᴴA D)⁻¹‖ = 1/σ_min). Empty
  /// before a solve_normal. When X is the result of this solver's last forward solve, its own
  /// estimate bounds ‖X − X*‖ too ((error + eps of Scalar, the rounding to Scalar) ‖X‖): far
  /// tighter when S is dominated by the rounding of X to float, where the bound from S exceeds
  /// it by up to cond(A D)².
  SolutionError solution_error(const Matrix& X, const Matrix& S) const {
    if (S.rows() != backward_weights_.d.size()) return {};
    const bool own = X.rows() == last_.X.rows() && X.cols() == last_.X.cols() &&
                     static_cast<Eigen::Index>(last_.error.size()) == X.cols() && X == last_.X;
    std::vector<double> normDS, normX;
    for (Eigen::Index j = 0; j < S.cols(); ++j) {
      normDS.push_back(double(backward_weights_.weighted_norm(S.col(j))));
      normX.push_back(double(X.col(j).stableNorm()));
    }
    return detail::solution_error_bounds<RealScalar>(last_backward_, double(backward_weights_.max),
                                                     normDS, normX, own ? &last_.error : nullptr);
  }

  /// Diagnostics (and the result) of the last solve_adjoint or solve_normal: the backward's
  /// solves, kept apart from the forward's.
  const LsmrResult<Scalar>& last_backward() const { return last_backward_; }

 private:
  template <class AType>
  Matrix run(const AType& A, const Matrix& B, bool adjoint, bool use_x0) {
    const char* where = adjoint ? "Lsmr::solve_adjoint" : "Lsmr";
    if constexpr (detail::is_supported_matrix_v<AType>) {
      detail::validate_matrix(where, A);
      const auto op = make_operator(A, options.transposed_product());
      solve(op, B, adjoint, use_x0, where);
    } else {
      solve(A, B, adjoint, use_x0, where);
    }
    const LsmrResult<Scalar>& result = adjoint ? last_backward_ : last_;
    detail::require_solved(where, "LSMR", result, options.throw_on_failure);
    return result.X;
  }

  template <class Operator>
  void solve(const Operator& op, const Matrix& B, bool adjoint, bool use_x0, const char* where) {
    // A warm start keeps its component outside range(Aᴴ) (wide A) and solves a shifted problem
    // with damping: X would not be the solution the backward pass differentiates.
    if (use_x0 && options.x0.size() > 0)
      detail::check_warm_start(where, options.x0.rows(), options.x0.cols(), op.rows(), op.cols(),
                               options.damp);
    if (adjoint)
      last_backward_ =
          detail::lsmr_on_operator(AdjointOperator<Operator>(op), B, options, use_x0, where, false);
    else
      last_ = detail::lsmr_on_operator(op, B, options, use_x0, where);
  }

  LsmrResult<Scalar> last_, last_backward_;
  detail::ColumnWeights<RealScalar> backward_weights_;
};

/// Lsmr's solve_normal also runs on a matrix-free operator (the adjoint of A for a wide
/// backward, without a copy of Aᴴ).
template <class Scalar>
struct solver_traits<Lsmr<Scalar>> : default_solver_traits<Lsmr<Scalar>> {
  static constexpr bool solves_on_operators = true;
  /// Trusted mode decides the rank itself (CRAIG's singular-value test, craig.hpp).
  static bool checks_rank(const Lsmr<Scalar>& s) { return !s.options.scipy_compatible; }
  /// The backward's gate (LsmrOptions::gradient_tolerance); NaN (no gate) in scipy mode.
  static double gradient_tolerance(const Lsmr<Scalar>& s) {
    if (s.options.scipy_compatible) return std::numeric_limits<double>::quiet_NaN();
    using Real = typename Eigen::NumTraits<Scalar>::Real;
    using Working = typename Eigen::NumTraits<detail::working_scalar_t<Scalar>>::Real;
    return s.options.gradient_tolerance_for(s.options.mixed_precision
                                                ? double(std::numeric_limits<Working>::epsilon())
                                                : double(std::numeric_limits<Real>::epsilon()));
  }
};

/// H = (AᴴA + λ²I)⁻¹G (λ = options.damp) by CRAIG: see craig.hpp. Throws std::domain_error
/// when AᴴY = G is inconsistent (A rank-deficient, undamped), and convergence_error for istop
/// 3, 6, 7 when options.throw_on_failure. options.x0 is ignored.
template <class Scalar>
template <class AType>
typename Lsmr<Scalar>::Matrix Lsmr<Scalar>::solve_normal(const AType& A, const Matrix& G) {
  const char* where = "Lsmr::solve_normal";
  if constexpr (detail::is_supported_matrix_v<AType>) {
    detail::validate_matrix(where, A);
    const auto op = make_operator(A, options.transposed_product());
    last_backward_ = detail::craig_on_operator(op, G, options, where, &backward_weights_);
  } else {
    last_backward_ = detail::craig_on_operator(A, G, options, where, &backward_weights_);
  }
  detail::require_normal_solved(where, options, backward_weights_, last_backward_);
  return last_backward_.X;
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_SOLVERS_LSMR_HPP
