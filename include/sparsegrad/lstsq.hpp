// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_LSTSQ_HPP
#define SPARSEGRAD_LSTSQ_HPP

/// \file lstsq.hpp
/// X = argmin ‖AX − B‖ with LSMR or any solver functor (solvers/concept.hpp). Its reverse-mode
/// adjoint, `lstsq_backward`, is in adjoint.hpp, included here so that this header gives both
/// calls.

#include <Eigen/Core>
#include <type_traits>
#include <utility>

#include "adjoint.hpp"
#include "detail/checks.hpp"
#include "errors.hpp"
#include "matrix.hpp"
#include "solvers/concept.hpp"
#include "solvers/lsmr.hpp"

namespace sparsegrad {

/// X = argmin ‖AX − B‖ with `solver` (any callable solver(A, B) -> X; see solvers/concept.hpp).
/// Returns a vector when B is a compile-time vector, else an n x k matrix.
template <class AType, class BDerived, class Solver>
detail::solution_t<BDerived> lstsq(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                                   Solver&& solver) {
  SPARSEGRAD_STATIC_ASSERT_SUPPORTED_MATRIX(AType);
  using Scalar = typename BDerived::Scalar;
  static_assert(std::is_same<typename detail::matrix_traits<AType>::Scalar, Scalar>::value,
                "sparsegrad::lstsq: A and B must have the same Scalar type");
  constexpr const char* where = "lstsq";
  detail::validate_matrix(where, A);
  const Eigen::Index m = detail::rows_of(A), n = detail::cols_of(A);
  if (B.rows() != m)
    detail::throw_invalid(where, "B", detail::concat(m, " rows (the rows of A)"),
                          detail::shape_string(B.rows(), B.cols()));
  detail::require_finite(where, "B", B);
  const detail::DenseMatrix<Scalar> Bd = B;
  if (Bd.cols() == 0)
    return detail::shape_like<detail::solution_t<BDerived>>(detail::DenseMatrix<Scalar>(n, 0));
  auto X = detail::checked_solve<Scalar>(
      where, "solver", [&]() -> decltype(auto) { return solver(A, Bd); }, n, Bd.cols());
  return detail::shape_like<detail::solution_t<BDerived>>(std::move(X));
}

/// X = argmin ‖AX − B‖ by LSMR with default options (throws convergence_error on failure).
template <class AType, class BDerived>
detail::solution_t<BDerived> lstsq(const AType& A, const Eigen::MatrixBase<BDerived>& B) {
  Lsmr<typename BDerived::Scalar> solver;
  return lstsq(A, B, solver);
}

/// X and the diagnostics of the solve that produced it (see lstsq_with_diagnostics).
template <class Solution>
struct LstsqResult {
  Solution X;
  /// The solver's diagnostics (solver.last()); empty for a solver that keeps none.
  Diagnostics diagnostics;
};

/// lstsq with the diagnostics of the solve: per column the stop code, iterations, residual
/// norms, estimated relative error of X and singular-value estimates (see Diagnostics).
template <class AType, class BDerived, class Solver>
LstsqResult<detail::solution_t<BDerived>> lstsq_with_diagnostics(
    const AType& A, const Eigen::MatrixBase<BDerived>& B, Solver&& solver) {
  LstsqResult<detail::solution_t<BDerived>> out{lstsq(A, B, solver), {}};
  if (const Diagnostics* d = detail::traits_of<Solver>::forward_diagnostics(solver))
    out.diagnostics = *d;
  return out;
}

/// lstsq_with_diagnostics with the default LSMR.
template <class AType, class BDerived>
LstsqResult<detail::solution_t<BDerived>> lstsq_with_diagnostics(
    const AType& A, const Eigen::MatrixBase<BDerived>& B) {
  Lsmr<typename BDerived::Scalar> solver;
  return lstsq_with_diagnostics(A, B, solver);
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_LSTSQ_HPP
