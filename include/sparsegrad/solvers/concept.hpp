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
///   solver.options.atol, .btol   the relative accuracy the solver claims; the backward's
///                                consistency (rank) test of a solver without diagnostics uses it
///                                (the seed's LSMR defaults 1e-6 when absent).
///   solver.last_backward()       `const Diagnostics&` of its last solve_normal / solve_adjoint:
///                                when present, the backward takes the rank decision and the
///                                error estimates of the gradients from it.
/// A type whose members are named otherwise specialises `solver_traits` (derive from
/// `default_solver_traits` and override what differs).
///
/// Exceptions: sparsegrad's own and the standard std::invalid_argument / std::domain_error
/// thrown by a solver pass through unchanged; any other exception becomes `solver_error`
/// keeping its message. A result of the wrong shape or with non-finite values is a
/// `solver_error` too.

#include <Eigen/Core>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "../detail/checks.hpp"
#include "../diagnostics.hpp"
#include "../errors.hpp"

namespace sparsegrad {
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

/// After an iterative solve: std::domain_error when it found A rank-deficient (the backward's
/// CRAIG), convergence_error when a column failed and `throw_on_failure`.
inline void require_solved(const char* where, const char* method, const Diagnostics& d,
                           bool throw_on_failure) {
  for (std::size_t j = 0; j < d.size(); ++j)
    if (d.stop(j) == Stop::rank_deficient)
      throw_domain(where, "A", "full column rank (the system A^T Y = G consistent)",
                   concat("an inconsistent system for column ", j, " of G (least-squares residual ",
                          d.normr[j], " with normal residual ", d.normar[j], " after ", d.itn[j],
                          " iterations): A is rank-deficient, or its smallest singular value is "
                          "below atol * ||A||_F, and (A^T A)^-1 G does not exist without damping"));
  if (throw_on_failure && !d.converged())
    throw convergence_error(
        concat("sparsegrad: ", where, ": ", method, " did not converge: ", d.failure_summary(),
               "\n  (raise options.maxiter or options.conlim, or set "
               "options.throw_on_failure = false)"),
        d);
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_SOLVERS_CONCEPT_HPP
