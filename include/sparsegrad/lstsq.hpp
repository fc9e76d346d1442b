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
/// Backward (Golub & Pereyra, SIAM J. Numer. Anal. 10(2), 1973), r = AX − B, upstream gradient dX,
/// everything at A's stored entries only (ᴴ is the conjugate transpose; for real data ᴴ = ᵀ):
///   damped, λ > 0, any shape:  H = (AᴴA + λ²I)⁻¹dX,  dB = A H,  dA = −dB Xᴴ − r Hᴴ,
///                              dλ = −2λ Re Σ conj(H) ∘ X
///   undamped, tall or square A of full column rank: the same with λ = 0 (dλ = 0)
///   wide A (m < n), computed with the m x m system (full row rank when λ = 0):
///     dB = (AAᴴ + λ²I)⁻¹A dX,  W = (AAᴴ + λ²I)⁻¹B,  dA = −dB Xᴴ + W (dX − Aᴴ dB)ᴴ,
///     dλ = −2λ Re Σ conj(dB) ∘ W  (the damped formula rewritten with λ²H = dX − AᴴdB and
///     r = −λ²W; at λ = 0 it is Golub–Pereyra's with W = (A⁺)ᴴX and dX − AᴴdB = N dX)
///   (the general formula dA = −dB Xᴴ − r (A⁺dB)ᴴ + (A⁺)ᴴX (N dX)ᴴ, N = I − A⁺A, covers both
///   undamped cases). Without damping a rank-deficient A has no gradient: std::domain_error.
/// Complex data: the Wirtinger convention of PyTorch. dX = ∂L/∂Re X + i ∂L/∂Im X for a real loss
/// L, and likewise g.A = ∂L/∂Re A + i ∂L/∂Im A, g.B = ∂L/∂Re B + i ∂L/∂Im B (twice the conjugate
/// Wirtinger derivative ∂L/∂conj(z)), so that dL = Re Σ conj(g) ∘ dz and z −= η g descends.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "coo.hpp"
#include "detail/checks.hpp"
#include "errors.hpp"
#include "matrix.hpp"
#include "operator.hpp"
#include "solvers/call.hpp"
#include "solvers/lsmr.hpp"

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

/// Calls a solver functor (see call_solver) and checks what it returns: shape and finiteness.
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

/// Relative residual a solve to (atol, btol) guarantees for a consistent system, with a safety
/// factor of 10; scale = ‖A‖‖solution‖/‖right-hand side‖. The floor sqrt(eps) is what Krylov
/// solves reach in floating point on ill-conditioned A (measured: 3e-10 by LSMR, 9e-9 by CRAIG
/// on illc1033, κ = 1.9e4, at atol = btol = 1e-14), while an inconsistent system leaves a
/// residual of the order of sqrt(null-space dimension / n) for a random right-hand side.
template <class Real>
Real consistency_tolerance(Real scale, Real atol, Real btol) {
  const Real eps = std::numeric_limits<Real>::epsilon();
  return std::max(Real(10) * (btol + atol * scale), std::sqrt(eps));
}

/// Throws std::domain_error naming `expected` when a column of `residual` is not small relative
/// to the same column of `rhs` (the system `solution` solves is then inconsistent).
template <class Scalar, class Real>
void require_small_residual(const char* where, const DenseMatrix<Scalar>& residual,
                            const DenseMatrix<Scalar>& rhs, const DenseMatrix<Scalar>& solution,
                            Real normA, Real atol, Real btol, const char* expected,
                            const char* column_name, Real floor = 0) {
  for (Eigen::Index j = 0; j < rhs.cols(); ++j) {
    const Real normrhs = rhs.col(j).norm();
    if (normrhs == 0) continue;
    const Real tol = std::max(
        floor, consistency_tolerance(normA * solution.col(j).norm() / normrhs, atol, btol));
    const Real relative = residual.col(j).norm() / normrhs;
    if (!(relative <= tol))
      throw_domain(
          where, "A", expected,
          concat("relative residual ", relative, " > ", tol, " for column ", j, " of ", column_name,
                 ": A is rank-deficient and the least-squares gradient does not "
                 "exist there without damping"));
  }
}

/// Throws std::domain_error when AᴴdB = dX is inconsistent, the sign that A is rank-deficient
/// (for full column rank the transposed system is consistent for every dX).
template <class Operator, class Scalar, class Real>
void require_consistent_adjoint(const char* where, const Operator& op, Real normA,
                                const DenseMatrix<Scalar>& dB, const DenseMatrix<Scalar>& dX,
                                Real atol, Real btol) {
  DenseMatrix<Scalar> residual(dX.rows(), dX.cols());
  op.apply_adjoint(dB, residual);
  residual -= dX;
  require_small_residual(where, residual, dX, dB, normA, atol, btol,
                         "full column rank (the transposed system A^T dB = dX consistent)", "dX");
}

template <class S, class = void>
struct has_last_stats : std::false_type {};
template <class S>
struct has_last_stats<S, std::void_t<decltype(std::declval<const S&>().last().converged())>>
    : std::true_type {};

/// Runs a rank check after a solve. When it fails and the solver reports that it did not
/// converge (possible with throw_on_failure = false), a large residual says nothing about the
/// rank: throw convergence_error with the solve's diagnostics instead of blaming A.
template <class Solver, class Check>
void rank_check_after_solve(const char* where, const Solver& solver, Check&& check) {
  try {
    check();
  } catch (const std::domain_error& e) {
    if constexpr (has_last_stats<Solver>::value) {
      const auto& last = solver.last();
      if (!last.converged())
        throw convergence_error(
            concat("sparsegrad: ", where, ": the backward solve did not converge (",
                   last.failure_summary(),
                   "), so its residual cannot tell a rank-deficient A from an unconverged solve; "
                   "raise options.maxiter. The rank check reported: ",
                   e.what()),
            last.diagnostics());
    }
    throw;
  }
}

/// A fixed, deterministic vector of length m with no structure, to probe whether A y = g is
/// consistent: for a wide A that is rank-deficient it lies outside range(A) (except on a set of
/// measure zero), for full row rank A y = g always has a solution.
template <class Scalar>
DenseMatrix<Scalar> rank_probe(Eigen::Index m) {
  DenseMatrix<Scalar> g(m, 1);
  for (Eigen::Index i = 0; i < m; ++i)  // golden-angle sequence: no period, no symmetry
    g(i, 0) = Scalar(std::cos(2.39996322972865332 * double(i) + 0.5));
  return g;
}

/// Throws std::domain_error unless A(AᴴY) = G, i.e. unless Y = (AAᴴ)⁻¹G solved a consistent
/// system (a wide A of full row rank makes every such system consistent). The residual of a
/// solve with AAᴴ stagnates near ε·κ(A)² in floating point (measured 2.7e-8 on illc1033ᵀ,
/// κ = 1.9e4, at atol = btol = 1e-14), while a rank-deficient A leaves about sqrt(d/m) of the
/// probe (d the dimension of the left null space): the floor is ε^(1/3) (6e-6 in double).
template <class Operator, class Scalar, class Real>
void require_full_row_rank(const char* where, const Operator& op, Real normA,
                           const DenseMatrix<Scalar>& Y, const DenseMatrix<Scalar>& G, Real atol,
                           Real btol) {
  DenseMatrix<Scalar> AtY(op.cols(), Y.cols()), residual(G.rows(), G.cols());
  op.apply_adjoint(Y, AtY);
  op.apply(AtY, residual);
  residual -= G;
  require_small_residual(where, residual, G, AtY, normA, atol, btol,
                         "full row rank for a wide A (rows < cols), i.e. A y = g consistent for "
                         "every g",
                         "the rank probe", std::cbrt(std::numeric_limits<Real>::epsilon()));
}

/// The terms of the adjoint (see the file comment): dA = −dB Xᴴ − r Hᴴ + W Vᴴ on A's pattern,
/// g.B = dB and g.damp = ddamp. H empty drops its term (wide A, where −r Hᴴ is W Vᴴ); W, V
/// empty drop the null-space term (tall A).
template <class Scalar>
struct AdjointTerms {
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  DenseMatrix<Scalar> dB, H, W, V;
  Real ddamp = 0;
};

/// dA on A's pattern, r = AX − B, and the assembled gradients.
template <class AType, class Operator, class BDerived, class Scalar>
auto assemble_gradients(const AType& A, const Operator& op, const BackwardInputs<Scalar>& in,
                        AdjointTerms<Scalar>&& t) {
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  const Eigen::Index k = in.X.cols();
  const bool with_r = t.H.size() > 0, with_null = t.W.size() > 0;
  DenseMatrix<Scalar> residual;
  if (with_r) {
    residual.resize(in.B.rows(), k);
    op.apply(in.X, residual);
    residual -= in.B;
  }
  // Rows of dB, r, X, H, W, V as contiguous columns, so each entry costs a few dot products of
  // length k. a.dot(b) = Σ conj(a)∘b, so Xt.col(j).dot(dBt.col(i)) = Σ_c dB_ic conj(X_jc).
  const DenseMatrix<Scalar> dBt = t.dB.transpose(), Xt = in.X.transpose();
  DenseMatrix<Scalar> rt, Ht, Wt, Vt;
  if (with_r) rt = residual.transpose(), Ht = t.H.transpose();
  if (with_null) Wt = t.W.transpose(), Vt = t.V.transpose();
  auto gradA = gradient_on_pattern(A, [&](Eigen::Index i, Eigen::Index j) -> Scalar {
    Scalar value = -Xt.col(j).dot(dBt.col(i));
    if (with_r) value -= Ht.col(j).dot(rt.col(i));
    if (with_null) value += Vt.col(j).dot(Wt.col(i));
    return value;
  });
  // Finite inputs can still give a gradient beyond the range of Scalar (|dB||X| or |r||H|
  // overflowing): refuse it rather than return Inf or NaN.
  auto require_representable = [](const char* what, const Scalar& v, Eigen::Index i,
                                  Eigen::Index j) {
    if (!is_finite(v))
      throw_domain("lstsq_backward", "B, X and dX", "a gradient representable in the scalar type",
                   concat(what, " = ", v, " at (", i, ", ", j,
                          "): products of B, X and dX overflow; rescale the problem"));
  };
  for_each_entry(gradA, [&](Eigen::Index, Eigen::Index i, Eigen::Index j, const Scalar& v) {
    require_representable("dL/dA", v, i, j);
  });
  for (Eigen::Index j = 0; j < t.dB.cols(); ++j)
    for (Eigen::Index i = 0; i < t.dB.rows(); ++i) require_representable("dL/dB", t.dB(i, j), i, j);
  require_representable("dL/ddamp", Scalar(t.ddamp), 0, 0);
  using GradB = solution_t<BDerived>;
  return LstsqGrads<decltype(gradA), GradB, Real>{std::move(gradA),
                                                  shape_like<GradB>(std::move(t.dB)), t.ddamp};
}

template <class Solver>
auto solver_tolerances(const Solver& solver) {
  if constexpr (has_lsmr_options<std::decay_t<Solver>>::value) {
    return std::make_pair(solver.options.atol, solver.options.btol);
  } else {
    return std::make_pair(1e-6, 1e-6);  // the seed's default LSMR tolerances
  }
}

template <class S, class = void>
struct has_options_damp : std::false_type {};
template <class S>
struct has_options_damp<S, std::void_t<decltype(std::declval<const S&>().options.damp)>>
    : std::true_type {};

/// λ of a solver: its options.damp where it has one (Lsmr, a direct solver with a damp option),
/// otherwise 0.
template <class Real, class Solver>
Real solver_damp(const Solver& solver) {
  if constexpr (has_options_damp<std::decay_t<Solver>>::value) {
    return Real(solver.options.damp);
  } else {
    return Real(0);
  }
}

/// The two-functor form has no way to reach (AᴴA + λ²I)⁻¹: it refuses a damped solver.
template <class Solver>
void require_undamped(const char* where, const Solver& solver, const char* name) {
  if constexpr (has_options_damp<std::decay_t<Solver>>::value) {
    if (solver.options.damp != 0)
      throw_invalid(where, name,
                    "0: the two-functor form lstsq_backward(A, B, X, dX, solver, "
                    "transpose_solver) is for undamped problems only; pass one solver that offers "
                    "solve_normal (such as Lsmr) for the damped gradient",
                    concat(solver.options.damp));
  }
}

/// Rethrows a std::domain_error of a solve on Aᴴ (wide A) as one about A's row rank.
[[noreturn]] inline void rethrow_row_rank(const char* where, const std::domain_error& e) {
  throw_domain(where, "A", "full row rank for a wide A (rows < cols)",
               concat("a rank-deficient A: the solve with A A^T reported: ", e.what(),
                      "; the least-squares gradient does not exist there without damping"));
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

/// Backward pass in the seed's two-solve form, for undamped problems: transpose_solver(A, G) =
/// (Aᴴ)⁺G and solver(A, G) = A⁺G. Tall or square A: dB = transpose_solver(A, dX), H = solver(A,
/// dB). Wide A: [dB, W] = transpose_solver(A, [dX, X]) and a rank probe solver(A, g). Throws
/// std::invalid_argument for a damped solver (options.damp != 0) and std::domain_error for a
/// rank-deficient A.
template <class AType, class BDerived, class XDerived, class dXDerived, class Solver,
          class TransposeSolver>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX,
                    Solver&& solver, TransposeSolver&& transpose_solver) {
  using Scalar = typename BDerived::Scalar;
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  using Matrix = detail::DenseMatrix<Scalar>;
  constexpr const char* where = "lstsq_backward";
  const auto in = detail::check_backward_inputs(A, B, X, dX);
  detail::require_undamped(where, solver, "solver.options.damp");
  detail::require_undamped(where, transpose_solver, "transpose_solver.options.damp");
  const auto op = make_operator(A);
  const Eigen::Index m = op.rows(), n = op.cols(), k = in.X.cols();
  detail::AdjointTerms<Scalar> t;
  t.dB = Matrix::Zero(m, k);
  if (k == 0)
    return detail::assemble_gradients<AType, decltype(op), BDerived>(A, op, in, std::move(t));
  const Real normA = detail::frobenius_norm(op.matrix());
  if (m >= n) {
    t.dB = detail::checked_solve<Scalar>(
        where, "transpose solver", [&]() -> decltype(auto) { return transpose_solver(A, in.dX); },
        m, k);
    const auto tol = detail::solver_tolerances(transpose_solver);
    detail::require_consistent_adjoint(where, op, normA, t.dB, in.dX, Real(tol.first),
                                       Real(tol.second));
    t.H = detail::checked_solve<Scalar>(
        where, "solver", [&]() -> decltype(auto) { return solver(A, t.dB); }, n, k);
  } else {
    // Wide: full row rank first (A y = g consistent for the probe g), then dB and W together.
    const Matrix g = detail::rank_probe<Scalar>(m);
    const Matrix y = detail::checked_solve<Scalar>(
        where, "solver (rank probe)", [&]() -> decltype(auto) { return solver(A, g); }, n, 1);
    Matrix residual(m, 1);
    op.apply(y, residual);
    residual -= g;
    const auto tol = detail::solver_tolerances(solver);
    detail::require_small_residual(where, residual, g, y, normA, Real(tol.first), Real(tol.second),
                                   "full row rank for a wide A (rows < cols), i.e. A y = g "
                                   "consistent for every g",
                                   "the rank probe",
                                   std::cbrt(std::numeric_limits<Real>::epsilon()));
    Matrix G(n, 2 * k);
    G << in.dX, in.X;
    const Matrix Y = detail::checked_solve<Scalar>(
        where, "transpose solver", [&]() -> decltype(auto) { return transpose_solver(A, G); }, m,
        2 * k);
    t.dB = Y.leftCols(k);
    t.W = Y.rightCols(k);
    t.V.resize(n, k);
    op.apply_adjoint(t.dB, t.V);
    t.V = in.dX - t.V;  // N dX = dX − Aᴴ dB
  }
  return detail::assemble_gradients<AType, decltype(op), BDerived>(A, op, in, std::move(t));
}

namespace detail {

/// (AAᴴ)⁻¹G for a wide A with a solver's solve_normal: on the adjoint operator for Lsmr (no
/// copy), on an explicit sparse Aᴴ for other solvers (a direct solver factorizes it).
template <class Scalar, class AType, class Operator, class Solver>
DenseMatrix<Scalar> solve_row_normal(const char* where, const AType&, const Operator& op,
                                     Solver& solver, const DenseMatrix<Scalar>& G) {
  try {
    if constexpr (std::is_same<std::decay_t<Solver>, Lsmr<Scalar>>::value) {
      const AdjointOperator<Operator> adjoint(op);
      return checked_solve<Scalar>(
          where, "solver's solve_normal",
          [&]() -> decltype(auto) { return solver.solve_normal(adjoint, G); }, op.rows(), G.cols());
    } else {
      using StorageIndex = typename matrix_traits<AType>::StorageIndex;
      const Eigen::SparseMatrix<Scalar, Eigen::ColMajor, StorageIndex> At = op.matrix().adjoint();
      return checked_solve<Scalar>(
          where, "solver's solve_normal",
          [&]() -> decltype(auto) { return solver.solve_normal(At, G); }, op.rows(), G.cols());
    }
  } catch (const std::domain_error& e) {
    rethrow_row_rank(where, e);
  }
}

}  // namespace detail

/// Backward pass with `solver`. A solver that offers solve_normal (Lsmr, the direct solvers)
/// gives every case with λ = solver.options.damp (0 when it has none): tall or square A with one
/// solve of (AᴴA + λ²I), wide A with one block solve of (AAᴴ + λ²I) on Aᴴ.
/// Otherwise the transposed solve of the same solver if it offers solve_adjoint, else the seed's
/// two-functor form with the default LSMR for the transposed solve (undamped only).
template <class AType, class BDerived, class XDerived, class dXDerived, class Solver>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX,
                    Solver&& solver) {
  using Scalar = typename BDerived::Scalar;
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  using Matrix = detail::DenseMatrix<Scalar>;
  using SolverType = std::decay_t<Solver>;
  if constexpr (detail::has_solve_normal<SolverType, AType, Matrix>::value) {
    constexpr const char* where = "lstsq_backward";
    const auto in = detail::check_backward_inputs(A, B, X, dX);
    const auto op = make_operator(A);
    const Eigen::Index m = op.rows(), n = op.cols(), k = in.X.cols();
    detail::AdjointTerms<Scalar> t;
    const Real damp = detail::solver_damp<Real>(solver);
    t.dB = Matrix::Zero(m, k);
    if (k == 0)
      return detail::assemble_gradients<AType, decltype(op), BDerived>(A, op, in, std::move(t));
    const auto tol = detail::solver_tolerances(solver);
    const Real normA = detail::frobenius_norm(op.matrix());
    if (m >= n) {
      // H = (AᴴA + λ²I)⁻¹dX, dB = A H. Undamped, the consistency of AᴴdB = dX guards the rank.
      t.H = detail::checked_solve<Scalar>(
          where, "solver's solve_normal",
          [&]() -> decltype(auto) { return solver.solve_normal(A, in.dX); }, n, k);
      op.apply(t.H, t.dB);
      if (damp == 0)
        detail::rank_check_after_solve(where, solver, [&] {
          detail::require_consistent_adjoint(where, op, normA, t.dB, in.dX, Real(tol.first),
                                             Real(tol.second));
        });
      else
        t.ddamp = -2 * damp * Eigen::numext::real(t.H.cwiseProduct(in.X.conjugate()).sum());
    } else {
      // Wide: [dB, W] = (AAᴴ + λ²I)⁻¹[A dX, B] in one block solve of the smaller system, so that
      // dB = A H, and with λ²H = dX − Aᴴ dB and r = −λ²W the damped formula becomes
      // dA = −dB Xᴴ + W (dX − Aᴴ dB)ᴴ, dλ = −2λ Re Σ conj(dB) ∘ W: no division by λ, and the same
      // formula as the undamped one at λ = 0. Undamped, a probe column g checks the row rank.
      Matrix AdX(m, k);
      op.apply(in.dX, AdX);
      Matrix G(m, 2 * k + (damp == 0 ? 1 : 0));
      if (damp == 0)
        G << AdX, in.B, detail::rank_probe<Scalar>(m);
      else
        G << AdX, in.B;
      const Matrix Y = detail::solve_row_normal<Scalar>(where, A, op, solver, G);
      if (damp == 0)
        detail::rank_check_after_solve(where, solver, [&] {
          detail::require_full_row_rank(where, op, normA, Matrix(Y.rightCols(1)),
                                        Matrix(G.rightCols(1)), Real(tol.first), Real(tol.second));
        });
      t.dB = Y.leftCols(k);
      t.W = Y.middleCols(k, k);
      t.V.resize(n, k);
      op.apply_adjoint(t.dB, t.V);
      t.V = in.dX - t.V;  // N dX = dX − Aᴴ dB (λ²H when damped)
      if (damp > 0)
        t.ddamp = -2 * damp * Eigen::numext::real(t.W.cwiseProduct(t.dB.conjugate()).sum());
    }
    return detail::assemble_gradients<AType, decltype(op), BDerived>(A, op, in, std::move(t));
  } else if constexpr (detail::has_solve_adjoint<SolverType, AType, Matrix>::value) {
    auto transpose = [&solver](const AType& A_, const Matrix& G) {
      return solver.solve_adjoint(A_, G);
    };
    auto forward = [&solver](const AType& A_, const Matrix& G) { return solver(A_, G); };
    // Tolerances (and damping) of the transposed solve are the solver's own.
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
