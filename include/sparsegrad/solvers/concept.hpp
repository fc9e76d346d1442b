// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SOLVERS_CONCEPT_HPP
#define SPARSEGRAD_SOLVERS_CONCEPT_HPP

/// \file solvers/concept.hpp
/// The solver concept: what `lstsq` and `lstsq_backward` accept as a solver, what they look
/// for in it, and how they call it.
///
/// Required: a callable `solver(A, B) -> X`. It receives A exactly as the user passed it (a
/// CooMatrix, SparseMatrix or Map) and B as a dense m x k `Eigen::Matrix<Scalar, Dynamic,
/// Dynamic>`, and returns a dense n x k matrix X = argmin ‖AX − B‖. Any callable works: a lambda,
/// a function object, a std::function.
///
/// Optional, detected by `solver_traits` (each makes the backward cheaper or more trustworthy):
///   solver.solve_normal(A, G) -> H = (AᴴA + λ²I)⁻¹G (n x k): the backward makes this one solve
///                                (dB = A·H); for a wide A it is called on Aᴴ.
///   solver.solve_adjoint(A, G) -> Y = (Aᴴ)⁺G (m x k): the transposed solve of the seed's
///                                two-solve backward, instead of the default LSMR on Aᴴ.
///   solver.options.damp          λ of a damped problem (0 when absent).
///   solver.options.rank_deficient  RankDeficient::pseudo_inverse: the backward returns the
///                                pseudo-inverse gradient for a rank-deficient A (needs
///                                solve_adjoint) instead of refusing it.
///   solver.options.atol, .btol   the relative accuracy the solver claims; the backward's
///                                consistency (rank) test of a solver without diagnostics uses it
///                                (the seed's LSMR defaults 1e-6 when absent).
///   solver.last()                `const Diagnostics&` of its last forward solve: returned by
///                                lstsq_with_diagnostics.
///   solver.last_backward()       `const Diagnostics&` of its last solve_normal / solve_adjoint:
///                                when present, the backward takes the rank decision and the
///                                error estimates of the gradients from it.
///   solver.solution_error(X, S)  per column, bounds on ‖X − X*‖ and ‖A(X − X*)‖ from
///                                S = Aᴴ(B − AX) (SolutionError), which the backward adds to
///                                its error estimates.
/// Traits with no member to detect (specialise solver_traits to set them): checks_rank (the
/// solver's solve_normal refuses a rank-deficient A itself, so the backward's residual test is
/// skipped) and gradient_tolerance (the backward's error gate; NaN: none).
/// A type whose members are named otherwise specialises `solver_traits` (derive from
/// `default_solver_traits` and override what differs).
///
/// Exceptions: sparsegrad's own and the standard std::invalid_argument / std::domain_error
/// thrown by a solver pass through unchanged; any other exception becomes `solver_error`
/// keeping its message. A result of the wrong shape or with non-finite values is a
/// `solver_error` too.

#include <Eigen/Core>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/checks.hpp"
#include "../diagnostics.hpp"
#include "../errors.hpp"

namespace sparsegrad {
/// What `solver.solution_error(X, S)` returns: per column j of X, bounds on ‖X_j − X*_j‖ and
/// on ‖A (X_j − X*_j)‖ (the error of the residual that the gradient uses); the backend may
/// tighten the second with ‖A‖‖X_j − X*_j‖.
struct SolutionError {
  std::vector<double> X, AX;
};

namespace detail {

template <class S, class A, class M, class = void>
struct detect_solve_normal : std::false_type {};
template <class S, class A, class M>
struct detect_solve_normal<S, A, M,
                           std::void_t<decltype(std::declval<S&>().solve_normal(
                               std::declval<const A&>(), std::declval<const M&>()))>>
    : std::true_type {};

template <class S, class A, class M, class = void>
struct detect_solve_adjoint : std::false_type {};
template <class S, class A, class M>
struct detect_solve_adjoint<S, A, M,
                            std::void_t<decltype(std::declval<S&>().solve_adjoint(
                                std::declval<const A&>(), std::declval<const M&>()))>>
    : std::true_type {};

template <class S, class = void>
struct detect_options_damp : std::false_type {};
template <class S>
struct detect_options_damp<S, std::void_t<decltype(std::declval<const S&>().options.damp)>>
    : std::true_type {};

template <class S, class = void>
struct detect_options_tolerances : std::false_type {};
template <class S>
struct detect_options_tolerances<S, std::void_t<decltype(std::declval<const S&>().options.atol),
                                                decltype(std::declval<const S&>().options.btol)>>
    : std::true_type {};

template <class S, class = void>
struct detect_throw_on_failure : std::false_type {};
template <class S>
struct detect_throw_on_failure<
    S, std::void_t<decltype(bool(std::declval<const S&>().options.throw_on_failure))>>
    : std::true_type {};

template <class S, class = void>
struct detect_rank_policy : std::false_type {};
template <class S>
struct detect_rank_policy<
    S, std::enable_if_t<
           std::is_same<std::decay_t<decltype(std::declval<const S&>().options.rank_deficient)>,
                        RankDeficient>::value>> : std::true_type {};

template <class S, class M, class = void>
struct detect_solution_error : std::false_type {};
template <class S, class M>
struct detect_solution_error<S, M,
                             std::void_t<decltype(std::declval<const S&>().solution_error(
                                 std::declval<const M&>(), std::declval<const M&>()))>>
    : std::true_type {};

template <class S, class = void>
struct detect_last : std::false_type {};
template <class S>
struct detect_last<S, std::enable_if_t<std::is_convertible<
                          decltype(std::declval<const S&>().last()), const Diagnostics&>::value>>
    : std::true_type {};

template <class S, class = void>
struct detect_last_backward : std::false_type {};
template <class S>
struct detect_last_backward<
    S, std::enable_if_t<std::is_convertible<decltype(std::declval<const S&>().last_backward()),
                                            const Diagnostics&>::value>> : std::true_type {};

}  // namespace detail

/// What the library detects in a solver type (see the file comment).
template <class Solver>
struct default_solver_traits {
  /// solver.solve_normal(A, G) exists for this A and dense matrix type.
  template <class AType, class Matrix>
  static constexpr bool has_solve_normal =
      detail::detect_solve_normal<Solver, AType, Matrix>::value;

  /// solver.solve_adjoint(A, G) exists for this A and dense matrix type.
  template <class AType, class Matrix>
  static constexpr bool has_solve_adjoint =
      detail::detect_solve_adjoint<Solver, AType, Matrix>::value;

  /// solve_normal also accepts a matrix-free operator (operator.hpp) for A, so the wide
  /// backward can run on Aᴴ without copying it. False unless specialised (Lsmr is).
  static constexpr bool solves_on_operators = false;

  /// λ: options.damp, or 0.
  static double damp(const Solver& solver) {
    if constexpr (detail::detect_options_damp<Solver>::value) {
      return double(solver.options.damp);
    } else {
      (void)solver;
      return 0.0;
    }
  }

  /// (atol, btol): options.atol and options.btol, or the seed's LSMR defaults (1e-6, 1e-6).
  static std::pair<double, double> tolerances(const Solver& solver) {
    if constexpr (detail::detect_options_tolerances<Solver>::value) {
      return {double(solver.options.atol), double(solver.options.btol)};
    } else {
      (void)solver;
      return {1e-6, 1e-6};
    }
  }

  /// True when the solver decides the rank itself (its solve_normal throws std::domain_error
  /// for a rank-deficient A), so that the backward skips its residual-based consistency test.
  static bool checks_rank(const Solver&) { return false; }

  /// The backward's error gate: lstsq_backward throws convergence_error when the estimated
  /// error of a gradient exceeds it. NaN (the default): no gate.
  static double gradient_tolerance(const Solver&) {
    return std::numeric_limits<double>::quiet_NaN();
  }

  /// options.rank_deficient, or RankDeficient::refuse.
  static RankDeficient rank_policy(const Solver& solver) {
    if constexpr (detail::detect_rank_policy<Solver>::value) {
      return solver.options.rank_deficient;
    } else {
      (void)solver;
      return RankDeficient::refuse;
    }
  }

  /// options.throw_on_failure, or true.
  static bool throws_on_failure(const Solver& solver) {
    if constexpr (detail::detect_throw_on_failure<Solver>::value) {
      return bool(solver.options.throw_on_failure);
    } else {
      (void)solver;
      return true;
    }
  }

  /// solver.solution_error(X, S) exists: per column, bounds on ‖X − X*‖ and ‖A(X − X*)‖.
  template <class Matrix>
  static constexpr bool has_solution_error = detail::detect_solution_error<Solver, Matrix>::value;

  /// The diagnostics of the last forward solve (solver.last()), or null.
  static const Diagnostics* forward_diagnostics(const Solver& solver) {
    if constexpr (detail::detect_last<Solver>::value) {
      return &static_cast<const Diagnostics&>(solver.last());
    } else {
      (void)solver;
      return nullptr;
    }
  }

  /// The diagnostics of the last solve_normal / solve_adjoint, or null.
  static const Diagnostics* backward_diagnostics(const Solver& solver) {
    if constexpr (detail::detect_last_backward<Solver>::value) {
      return &solver.last_backward();
    } else {
      (void)solver;
      return nullptr;
    }
  }
};

/// Specialise for a solver whose members differ from the concept's names.
template <class Solver>
struct solver_traits : default_solver_traits<Solver> {};

namespace detail {

template <class Solver>
using traits_of = solver_traits<std::decay_t<Solver>>;

/// Calls a solver: sparsegrad's own exceptions and the standard ones of the error table
/// (invalid_argument, domain_error) pass through unchanged; any other exception becomes
/// solver_error, keeping its message.
template <class Call>
decltype(auto) call_solver(const char* where, const char* what, Call&& call) {
  try {
    return call();
  } catch (const solver_error&) {
    throw;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::domain_error&) {
    throw;
  } catch (const std::exception& e) {
    throw solver_error(concat("sparsegrad: ", where, ": the ", what, " threw: ", e.what()));
  } catch (...) {
    throw solver_error(concat("sparsegrad: ", where, ": the ", what,
                              " threw an exception not derived from std::exception"));
  }
}

/// Calls a solver (see call_solver) and checks what it returns: shape and finiteness.
template <class Scalar, class Call>
DenseMatrix<Scalar> checked_solve(const char* where, const char* what, Call&& call,
                                  Eigen::Index rows, Eigen::Index cols) {
  const auto result = call_solver(where, what, std::forward<Call>(call));
  if (result.rows() != rows || result.cols() != cols)
    throw solver_error(concat("sparsegrad: ", where, ": the ", what, " returned a ",
                              shape_string(result.rows(), result.cols()), " matrix, expected ",
                              shape_string(rows, cols)));
  DenseMatrix<Scalar> out = result;
  for (Eigen::Index j = 0; j < out.cols(); ++j)
    for (Eigen::Index i = 0; i < out.rows(); ++i)
      if (!is_finite(out(i, j)))
        throw solver_error(concat("sparsegrad: ", where, ": the ", what, " returned ", out(i, j),
                                  " at (", i, ", ", j, "), expected finite values"));
  return out;
}

/// What to change after a failed solve, by the stop codes in it.
inline std::string failure_advice(const Diagnostics& d) {
  bool limit = false, inaccurate = false, condition = false, callback = false;
  for (std::size_t j = 0; j < d.size(); ++j) {
    limit = limit || d.stop(j) == Stop::iteration_limit;
    inaccurate = inaccurate || d.stop(j) == Stop::inaccurate;
    condition = condition || d.stop(j) == Stop::condition_limit || d.stop(j) == Stop::condition_eps;
    callback = callback || d.stop(j) == Stop::callback_stop;
  }
  std::string out;
  if (inaccurate)
    out +=
        "(A is too ill-conditioned for the accuracy asked for: the rounding floor eps*cond^2 "
        "of the estimated condition is above the tolerance; use a direct solver "
        "(sparsegrad::SparseQR, or sparsegrad::SPQR with SuiteSparse), damping (options.damp > 0), "
        "or loosen "
        "options.error_tolerance / options.gradient_tolerance) ";
  if (limit)
    out +=
        "(raise options.maxiter: the estimated error is still above the tolerance; a direct "
        "solver gives the answer when A is ill-conditioned) ";
  if (condition) out += "(raise options.conlim, or use a direct solver) ";
  if (callback) out += "(options.callback asked to stop) ";
  return out + "(or set options.throw_on_failure = false and read the diagnostics)";
}

/// After an iterative solve: std::domain_error when it found A rank-deficient (the backward's
/// CRAIG), convergence_error when a column failed and `throw_on_failure`.
inline void require_solved(const char* where, const char* method, const Diagnostics& d,
                           bool throw_on_failure) {
  for (std::size_t j = 0; j < d.size(); ++j)
    if (d.stop(j) == Stop::rank_deficient)
      throw_domain(where, "A", "full column rank (the system A^T Y = G consistent)",
                   concat("an inconsistent system for column ", j, " of G (least-squares residual ",
                          d.normr[j], " with normal residual ", d.normar[j], " after ", d.itn[j],
                          " iterations, singular values of the explored space ", d.sigma_min[j],
                          " to ", d.sigma_max[j],
                          "): A is rank-deficient, or its condition number (with columns scaled "
                          "to unit norm) is above 1/sqrt(eps), and (A^T A)^-1 G does not exist "
                          "without damping; set options.damp > 0"));
  if (throw_on_failure && !d.converged())
    throw convergence_error(concat("sparsegrad: ", where, ": ", method, " did not converge: ",
                                   d.failure_summary(), "\n  ", failure_advice(d)),
                            d);
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_SOLVERS_CONCEPT_HPP
