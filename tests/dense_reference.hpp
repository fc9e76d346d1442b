// Dense references for any Scalar (real or complex), damped or not, tall or wide A: the solution
// and its adjoint evaluated with dense Eigen decompositions, and central finite differences of
// L = Re Σ conj(dX) ∘ X, all written independently of the library's sparse code paths.
#ifndef SPARSEGRAD_DENSE_REFERENCE_HPP
#define SPARSEGRAD_DENSE_REFERENCE_HPP

#include <catch2/catch.hpp>
#include <cmath>
#include <complex>
#include <random>
#include <sparsegrad/lstsq.hpp>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace testing {

template <class Scalar>
using Real = typename Eigen::NumTraits<Scalar>::Real;

/// Random dense matrix; complex entries have independent real and imaginary parts.
template <class Scalar>
Dense<Scalar> random_matrix(Eigen::Index rows, Eigen::Index cols, unsigned seed) {
  if constexpr (Eigen::NumTraits<Scalar>::IsComplex) {
    using R = Real<Scalar>;
    const Dense<R> re = random_dense<R>(rows, cols, seed),
                   im = random_dense<R>(rows, cols, seed + 7);
    Dense<Scalar> M(rows, cols);
    for (Eigen::Index j = 0; j < cols; ++j)
      for (Eigen::Index i = 0; i < rows; ++i) M(i, j) = Scalar(re(i, j), im(i, j));
    return M;
  } else {
    return random_dense<Scalar>(rows, cols, seed);
  }
}

/// Random sparse matrix (random_sparse's pattern) with complex values for a complex Scalar.
template <class Scalar>
Csr<Scalar> random_sparse_any(Eigen::Index m, Eigen::Index n, int per_column, unsigned seed,
                              double diagonal = 3.0) {
  const Csr<Real<Scalar>> R = random_sparse<Real<Scalar>>(m, n, per_column, seed, diagonal);
  Csr<Scalar> A = R.template cast<Scalar>();
  if constexpr (Eigen::NumTraits<Scalar>::IsComplex) {
    std::mt19937 rng(seed + 1);
    std::uniform_real_distribution<double> value(-1.0, 1.0);
    for (Eigen::Index e = 0; e < A.nonZeros(); ++e)
      A.valuePtr()[e] += Scalar(0, Real<Scalar>(value(rng)));
  }
  return A;
}

/// X of min ‖AX − B‖² + λ²‖X‖²: QR of [A; λI] when λ > 0, else the minimum-norm solution (COD).
template <class Scalar>
Dense<Scalar> dense_solution(const Dense<Scalar>& A, const Dense<Scalar>& B, double damp) {
  if (damp == 0) return A.completeOrthogonalDecomposition().solve(B);
  const Eigen::Index m = A.rows(), n = A.cols();
  Dense<Scalar> K(m + n, n), R = Dense<Scalar>::Zero(m + n, B.cols());
  K << A, Scalar(damp) * Dense<Scalar>::Identity(n, n);
  R.topRows(m) = B;
  return K.householderQr().solve(R);
}

/// The adjoint of X(A, B, λ) evaluated densely. λ > 0: H = (AᴴA + λ²I)⁻¹dX, dB = A H,
/// dA = −dB Xᴴ − r Hᴴ, dλ = −2λ Re Σ conj(H)∘X. λ = 0: Golub & Pereyra's formula with A⁺ from a
/// COD: dB = A⁺ᴴdX, dA = −dB Xᴴ − r (A⁺dB)ᴴ + A⁺ᴴX (N dX)ᴴ, N = I − A⁺A.
template <class Scalar>
struct DenseGradient {
  Dense<Scalar> X, dA, dB;
  double damp = 0;
};
template <class Scalar>
DenseGradient<Scalar> dense_gradient(const Dense<Scalar>& A, const Dense<Scalar>& B,
                                     const Dense<Scalar>& dX, double damp) {
  DenseGradient<Scalar> g;
  g.X = dense_solution(A, B, damp);
  const Dense<Scalar> r = A * g.X - B;
  const Eigen::Index n = A.cols();
  if (damp > 0) {
    const Dense<Scalar> K = A.adjoint() * A + Scalar(damp * damp) * Dense<Scalar>::Identity(n, n);
    const Dense<Scalar> H = K.ldlt().solve(dX);
    g.dB = A * H;
    g.dA = -g.dB * g.X.adjoint() - r * H.adjoint();
    g.damp = -2 * damp * double(std::real(H.cwiseProduct(g.X.conjugate()).sum()));
  } else {
    const Dense<Scalar> P = A.completeOrthogonalDecomposition().pseudoInverse();
    g.dB = P.adjoint() * dX;
    const Dense<Scalar> N = Dense<Scalar>::Identity(n, n) - P * A;
    g.dA =
        -g.dB * g.X.adjoint() - r * (P * g.dB).adjoint() + (P.adjoint() * g.X) * (N * dX).adjoint();
  }
  return g;
}

/// Central finite differences of L = Re Σ conj(dX) ∘ X(A, B, λ) with the dense solution, in
/// PyTorch's convention (∂L/∂Re + i ∂L/∂Im for complex): at the given entries of A, every entry
/// of B, and λ.
template <class Scalar>
DenseGradient<Scalar> dense_finite_differences(const Dense<Scalar>& A, const Dense<Scalar>& B,
                                               const Dense<Scalar>& dX, double damp,
                                               const std::vector<std::pair<int, int>>& entries,
                                               double h = 1e-6) {
  auto loss = [&](const Dense<Scalar>& Ap, const Dense<Scalar>& Bp, double lambda) {
    return double(std::real(dX.cwiseProduct(dense_solution(Ap, Bp, lambda).conjugate()).sum()));
  };
  auto derivative = [&](auto&& f) {  // f(Scalar delta) -> loss
    Scalar d = Scalar((f(Scalar(h)) - f(Scalar(-h))) / (2 * h));
    if constexpr (Eigen::NumTraits<Scalar>::IsComplex)
      d += Scalar(0, 1) * Scalar((f(Scalar(0, h)) - f(Scalar(0, -h))) / (2 * h));
    return d;
  };
  DenseGradient<Scalar> out;
  out.dA = Dense<Scalar>::Zero(A.rows(), A.cols());
  out.dB = Dense<Scalar>::Zero(B.rows(), B.cols());
  for (const auto& entry : entries) {
    const int i = entry.first, j = entry.second;  // not a structured binding: the lambda captures
    out.dA(i, j) = derivative([&](Scalar delta) {
      Dense<Scalar> Ap = A;
      Ap(i, j) += delta;
      return loss(Ap, B, damp);
    });
  }
  for (Eigen::Index j = 0; j < B.cols(); ++j)
    for (Eigen::Index i = 0; i < B.rows(); ++i)
      out.dB(i, j) = derivative([&](Scalar delta) {
        Dense<Scalar> Bp = B;
        Bp(i, j) += delta;
        return loss(A, Bp, damp);
      });
  if (damp > 0) out.damp = (loss(A, B, damp + h) - loss(A, B, damp - h)) / (2 * h);
  return out;
}

/// LSMR options tight enough for reference comparisons in Scalar's precision.
template <class Scalar>
sparsegrad::LsmrOptions<Scalar> tight(double damp = 0) {
  auto opt = tight_options<sparsegrad::LsmrOptions<Scalar>>();
  if (std::is_same<Real<Scalar>, float>::value) opt.atol = opt.btol = Real<Scalar>(1e-7);
  opt.damp = Real<Scalar>(damp);
  return opt;
}

/// Solves min ‖AX − B‖ (+ λ²‖X‖², λ = solver.options.damp) with `solver`, differentiates, and
/// checks dL/dB, dL/dA and, when damped, dL/dλ against central finite differences of the dense
/// solution, to `tol` relative.
template <class AType, class Scalar, class Solver>
void check_by_finite_differences(const AType& A, const Dense<Scalar>& B, const Dense<Scalar>& dX,
                                 Solver& solver, double tol = 1e-6) {
  const double damp = double(solver.options.damp);
  const Dense<Scalar> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  const auto fd = dense_finite_differences<Scalar>(dense(A), B, dX, damp, pattern_of(A));
  CHECK(relative_error(g.B, fd.dB) <= tol);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, fd.dA)) <= tol);
  if (damp > 0) CHECK(std::abs(g.damp - fd.damp) <= tol * std::abs(fd.damp));
}

/// Solves with `solver`, differentiates, and checks X, dL/dB, dL/dA and, when damped, dL/dλ
/// against the dense reference (dense_gradient), to `tol` relative.
template <class AType, class Scalar, class Solver>
void check_by_dense_gradient(const AType& A, const Dense<Scalar>& B, const Dense<Scalar>& dX,
                             Solver& solver, double tol) {
  const double damp = double(solver.options.damp);
  const Dense<Scalar> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  const auto ref = dense_gradient<Scalar>(dense(A), B, dX, damp);
  CHECK(relative_error(X, ref.X) <= tol);
  CHECK(relative_error(g.B, ref.dB) <= tol);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= tol);
  if (damp > 0) CHECK(std::abs(g.damp - ref.damp) <= tol * std::abs(ref.damp));
}

/// Accuracy expected of a tight solve in Scalar's precision.
template <class Scalar>
double precision() {
  return std::is_same<Real<Scalar>, float>::value ? 2e-3 : 1e-8;
}

}  // namespace testing

#endif  // SPARSEGRAD_DENSE_REFERENCE_HPP
