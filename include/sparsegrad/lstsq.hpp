// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_LSTSQ_HPP
#define SPARSEGRAD_LSTSQ_HPP

/// \file lstsq.hpp
/// X = argmin ‖AX − B‖ and its reverse-mode adjoint.
///
/// Solver concept: any callable `solver(A, B) -> X` receiving A exactly as the user passed it
/// and B as a dense m x k matrix, returning a dense n x k matrix. Optional capabilities:
///   solver.solve_normal(A, G) -> H = (AᴴA + λ²I)⁻¹G  (n x k): one solve gives the whole backward
///   solver.solve_adjoint(A, G) -> Y = (Aᴴ)⁺G          (m x k): the transposed solve
/// A transpose solver has the seed's convention: transpose_solver(A, G) -> (Aᴴ)⁺G.
///
/// Backward (Golub & Pereyra, SIAM J. Numer. Anal. 10(2), 1973), for tall A of full column rank,
/// r = AX − B and upstream gradient dX:
///   H = (AᴴA)⁻¹dX,  dB = A H = (Aᴴ)⁺dX,  dA_ij = −dB_i,:·X_j,: − r_i,:·H_j,:  at A's entries only.

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "coo.hpp"
#include "detail/checks.hpp"
#include "detail/matrix_traits.hpp"
#include "errors.hpp"
#include "lsmr.hpp"
#include "operator.hpp"

namespace sparsegrad {

/// Gradients returned by `lstsq_backward`.
template <class GradA, class GradB, class RealScalar>
struct LstsqGrads {
  GradA A;              ///< dL/dA: same type, pattern and entry order as A
  GradB B;              ///< dL/dB: same shape as B
  RealScalar damp = 0;  ///< dL/dλ; 0 when undamped
};

namespace detail {

template <class BDerived>
using solution_t =
    std::conditional_t<BDerived::ColsAtCompileTime == 1,
                       Eigen::Matrix<typename BDerived::Scalar, Eigen::Dynamic, 1>,
                       Eigen::Matrix<typename BDerived::Scalar, Eigen::Dynamic, Eigen::Dynamic>>;

template <class S, class A, class M, class = void>
struct has_solve_normal : std::false_type {};
template <class S, class A, class M>
struct has_solve_normal<S, A, M,
                        std::void_t<decltype(std::declval<S&>().solve_normal(
                            std::declval<const A&>(), std::declval<const M&>()))>>
    : std::true_type {};

template <class S, class A, class M, class = void>
struct has_solve_adjoint : std::false_type {};
template <class S, class A, class M>
struct has_solve_adjoint<S, A, M,
                         std::void_t<decltype(std::declval<S&>().solve_adjoint(
                             std::declval<const A&>(), std::declval<const M&>()))>>
    : std::true_type {};

template <class S, class = void>
struct has_lsmr_options : std::false_type {};
template <class S>
struct has_lsmr_options<S, std::void_t<decltype(std::declval<const S&>().options.atol),
                                       decltype(std::declval<const S&>().options.btol)>>
    : std::true_type {};

/// Calls a solver functor and checks what it returns. sparsegrad's own exceptions (and the
/// standard ones of the error table) pass through; any other exception becomes solver_error.
template <class Scalar, class Call>
DenseMatrix<Scalar> checked_solve(const char* where, const char* what, Call&& call,
                                  Eigen::Index rows, Eigen::Index cols) {
  DenseMatrix<Scalar> out;
  try {
    const auto& result = call();
    if (result.rows() != rows || result.cols() != cols)
      throw solver_error(concat("sparsegrad: ", where, ": the ", what, " returned a ",
                                shape_string(result.rows(), result.cols()), " matrix, expected ",
                                shape_string(rows, cols)));
    out = result;
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
  for (Eigen::Index j = 0; j < out.cols(); ++j)
    for (Eigen::Index i = 0; i < out.rows(); ++i)
      if (!is_finite(out(i, j)))
        throw solver_error(concat("sparsegrad: ", where, ": the ", what, " returned ", out(i, j),
                                  " at (", i, ", ", j, "), expected finite values"));
  return out;
}

template <class Result>
Result shape_like(DenseMatrix<typename Result::Scalar>&& M) {
  if constexpr (Result::ColsAtCompileTime == 1) {
    return M.col(0);
  } else {
    return std::move(M);
  }
}

/// Checked, densified inputs of the backward pass.
template <class Scalar>
struct BackwardInputs {
  DenseMatrix<Scalar> B, X, dX;
};

template <class AType, class BDerived, class XDerived, class dXDerived>
BackwardInputs<typename BDerived::Scalar> check_backward_inputs(
    const AType& A, const Eigen::MatrixBase<BDerived>& B, const Eigen::MatrixBase<XDerived>& X,
    const Eigen::MatrixBase<dXDerived>& dX) {
  SPARSEGRAD_STATIC_ASSERT_SUPPORTED_MATRIX(AType);
  using Scalar = typename BDerived::Scalar;
  static_assert(std::is_same<typename matrix_traits<AType>::Scalar, Scalar>::value &&
                    std::is_same<typename XDerived::Scalar, Scalar>::value &&
                    std::is_same<typename dXDerived::Scalar, Scalar>::value,
                "sparsegrad::lstsq_backward: A, B, X and dX must have the same Scalar type");
  constexpr const char* where = "lstsq_backward";
  validate_matrix(where, A);
  const Eigen::Index m = rows_of(A), n = cols_of(A);
  if (m < n)
    throw_domain(where, "A",
                 "a tall or square matrix (rows >= cols) of full column rank; the gradient of a "
                 "wide least-squares problem is not this formula",
                 shape_string(m, n));
  if (B.rows() != m)
    throw_invalid(where, "B", concat(m, " rows (the rows of A)"), shape_string(B.rows(), B.cols()));
  require_shape(where, "X", X, n, B.cols());
  require_shape(where, "dX", dX, X.rows(), X.cols());
  require_finite(where, "B", B);
  require_finite(where, "X", X);
  require_finite(where, "dX", dX);
  return {B, X, dX};
}

/// The gradient container: a copy of A's structure with one value per stored entry.
template <class Scalar, class StorageIndex, class F>
CooMatrix<Scalar, StorageIndex> gradient_on_pattern(const CooMatrix<Scalar, StorageIndex>& A,
                                                    F&& value_at) {
  CooMatrix<Scalar, StorageIndex> G;
  G.rows = A.rows, G.cols = A.cols, G.row = A.row, G.col = A.col;
  G.values.resize(A.values.size());
  for_each_entry(A, [&](Eigen::Index e, Eigen::Index i, Eigen::Index j, const Scalar&) {
    G.values[e] = value_at(i, j);
  });
  return G;
}

template <class SparseDerived, class F>
typename matrix_traits<SparseDerived>::Gradient gradient_on_pattern(
    const Eigen::SparseCompressedBase<SparseDerived>& A, F&& value_at) {
  // Copying keeps the storage order and the order of the entries (an uncompressed matrix comes
  // out compressed, with its entries in the same order), so the values line up with A's.
  typename matrix_traits<SparseDerived>::Gradient G = A.derived();
  for (Eigen::Index outer = 0; outer < G.outerSize(); ++outer)
    for (typename decltype(G)::InnerIterator it(G, outer); it; ++it)
      it.valueRef() = value_at(it.row(), it.col());
  return G;
}

/// Throws std::domain_error when AᴴdB = dX is inconsistent, the sign that A is rank-deficient
/// (for full column rank the transposed system is consistent for every dX). The tolerance is
/// what a solve to relative accuracy (atol, btol) guarantees for a consistent system, with a
/// safety factor of 10 and a floor of 1000 eps.
template <class Operator, class Scalar, class Real>
void require_consistent_adjoint(const char* where, const Operator& op, Real normA,
                                const DenseMatrix<Scalar>& dB, const DenseMatrix<Scalar>& dX,
                                Real atol, Real btol) {
  DenseMatrix<Scalar> residual(dX.rows(), dX.cols());
  op.apply_adjoint(dB, residual);
  residual -= dX;
  const Real eps = std::numeric_limits<Real>::epsilon();
  for (Eigen::Index j = 0; j < dX.cols(); ++j) {
    const Real normdX = dX.col(j).norm();
    if (normdX == 0) continue;
    const Real scale = normA * dB.col(j).norm() / normdX;
    const Real tol = std::max(Real(10) * (btol + atol * scale), Real(1000) * eps * (1 + scale));
    const Real relative = residual.col(j).norm() / normdX;
    if (!(relative <= tol))
      throw_domain(where, "A", "full column rank (the transposed system A^T dB = dX consistent)",
                   concat("relative residual ", relative, " > ", tol, " for column ", j,
                          " of dX: A is rank-deficient and the least-squares gradient does not "
                          "exist there without damping"));
  }
}

/// dA on A's pattern, r = AX − B, and the assembled gradients.
template <class AType, class Operator, class BDerived, class Scalar>
auto assemble_gradients(const AType& A, const Operator& op, const BackwardInputs<Scalar>& in,
                        DenseMatrix<Scalar>&& dB, const DenseMatrix<Scalar>& H) {
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  DenseMatrix<Scalar> residual(in.B.rows(), in.B.cols());
  op.apply(in.X, residual);
  residual -= in.B;
  // Rows of dB, r, X, H as contiguous columns, so each entry costs two dot products of length k.
  const DenseMatrix<Scalar> dBt = dB.transpose(), rt = residual.transpose(), Xt = in.X.transpose(),
                            Ht = H.transpose();
  auto gradA = gradient_on_pattern(A, [&](Eigen::Index i, Eigen::Index j) -> Scalar {
    return -dBt.col(i).dot(Xt.col(j)) - rt.col(i).dot(Ht.col(j));
  });
  using GradB = solution_t<BDerived>;
  return LstsqGrads<decltype(gradA), GradB, Real>{std::move(gradA),
                                                  shape_like<GradB>(std::move(dB)), Real(0)};
}

template <class Solver>
auto solver_tolerances(const Solver& solver) {
  if constexpr (has_lsmr_options<std::decay_t<Solver>>::value) {
    return std::make_pair(solver.options.atol, solver.options.btol);
  } else {
    return std::make_pair(1e-6, 1e-6);  // the seed's default LSMR tolerances
  }
}

template <class Solver>
void require_undamped(const char* where, const Solver& solver) {
  if constexpr (has_lsmr_options<std::decay_t<Solver>>::value) {
    if (solver.options.damp != 0)
      throw_invalid(where, "solver.options.damp",
                    "0 (the damped backward pass is not available yet)",
                    concat(solver.options.damp));
  }
}

}  // namespace detail

/// X = argmin ‖AX − B‖ with `solver` (any callable solver(A, B) -> X; see the file comment).
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

/// Backward pass in the seed's two-solve form: dB = transpose_solver(A, dX) = (Aᴴ)⁺dX and
/// H = solver(A, dB) = A⁺dB. Throws std::domain_error for wide A and when AᴴdB = dX is
/// inconsistent (rank-deficient A).
template <class AType, class BDerived, class XDerived, class dXDerived, class Solver,
          class TransposeSolver>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX,
                    Solver&& solver, TransposeSolver&& transpose_solver) {
  using Scalar = typename BDerived::Scalar;
  constexpr const char* where = "lstsq_backward";
  const auto in = detail::check_backward_inputs(A, B, X, dX);
  detail::require_undamped(where, solver);
  detail::require_undamped(where, transpose_solver);
  const auto op = make_operator(A);
  const Eigen::Index m = op.rows(), n = op.cols(), k = in.X.cols();
  detail::DenseMatrix<Scalar> dB(m, k), H(n, k);
  if (k > 0) {
    dB = detail::checked_solve<Scalar>(
        where, "transpose solver", [&]() -> decltype(auto) { return transpose_solver(A, in.dX); },
        m, k);
    const auto tol = detail::solver_tolerances(transpose_solver);
    using Real = typename Eigen::NumTraits<Scalar>::Real;
    detail::require_consistent_adjoint(where, op, detail::frobenius_norm(op.matrix()), dB, in.dX,
                                       Real(tol.first), Real(tol.second));
    H = detail::checked_solve<Scalar>(
        where, "solver", [&]() -> decltype(auto) { return solver(A, dB); }, n, k);
  }
  return detail::assemble_gradients<AType, decltype(op), BDerived>(A, op, in, std::move(dB), H);
}

/// Backward pass with `solver`: one normal-equation solve if it offers solve_normal, the
/// transposed solve of the same solver if it offers solve_adjoint (Lsmr), otherwise the seed's
/// form with the default LSMR for the transposed solve.
template <class AType, class BDerived, class XDerived, class dXDerived, class Solver>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX,
                    Solver&& solver) {
  using Scalar = typename BDerived::Scalar;
  using Matrix = detail::DenseMatrix<Scalar>;
  using SolverType = std::decay_t<Solver>;
  if constexpr (detail::has_solve_normal<SolverType, AType, Matrix>::value) {
    // One solve: H = (AᴴA)⁻¹dX, dB = A H; the consistency check still guards rank deficiency.
    constexpr const char* where = "lstsq_backward";
    const auto in = detail::check_backward_inputs(A, B, X, dX);
    detail::require_undamped(where, solver);
    const auto op = make_operator(A);
    const Eigen::Index m = op.rows(), n = op.cols(), k = in.X.cols();
    Matrix dB(m, k), H(n, k);
    if (k > 0) {
      H = detail::checked_solve<Scalar>(
          where, "solver's solve_normal",
          [&]() -> decltype(auto) { return solver.solve_normal(A, in.dX); }, n, k);
      op.apply(H, dB);
      const auto tol = detail::solver_tolerances(solver);
      using Real = typename Eigen::NumTraits<Scalar>::Real;
      detail::require_consistent_adjoint(where, op, detail::frobenius_norm(op.matrix()), dB, in.dX,
                                         Real(tol.first), Real(tol.second));
    }
    return detail::assemble_gradients<AType, decltype(op), BDerived>(A, op, in, std::move(dB), H);
  } else if constexpr (detail::has_solve_adjoint<SolverType, AType, Matrix>::value) {
    auto transpose = [&solver](const AType& A_, const Matrix& G) {
      return solver.solve_adjoint(A_, G);
    };
    auto forward = [&solver](const AType& A_, const Matrix& G) { return solver(A_, G); };
    // Tolerances of the transposed solve are the solver's own.
    struct TransposeWithOptions {
      decltype(transpose)& call;
      const decltype(solver.options)& options;
      Matrix operator()(const AType& A_, const Matrix& G) const { return call(A_, G); }
    } transpose_solver{transpose, solver.options};
    return lstsq_backward(A, B, X, dX, forward, transpose_solver);
  } else {
    Lsmr<Scalar> transpose_lsmr;
    auto transpose = [&transpose_lsmr](const AType& A_, const Matrix& G) {
      return transpose_lsmr.solve_adjoint(A_, G);
    };
    return lstsq_backward(A, B, X, dX, std::forward<Solver>(solver), transpose);
  }
}

/// Backward pass with the default LSMR.
template <class AType, class BDerived, class XDerived, class dXDerived>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX) {
  Lsmr<typename BDerived::Scalar> solver;
  return lstsq_backward(A, B, X, dX, solver);
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_LSTSQ_HPP
