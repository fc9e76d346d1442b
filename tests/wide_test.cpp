// Wide and square A (m <= n, full row rank): the minimum-norm forward and the gradient with its
// null-space term, against the dense Golub–Pereyra formula (pseudo-inverse by COD) and central
// finite differences; rank-deficient wide A throws std::domain_error.
#include <catch2/catch.hpp>
#include <sparsegrad/gradcheck.hpp>
#include <sparsegrad/lstsq.hpp>
#include <sparsegrad/solvers/direct.hpp>
#include <tuple>

#include "dense_reference.hpp"

using namespace testing;

namespace {

/// Wide m x n with full row rank: the transpose of a tall random_sparse.
template <class Scalar>
Csr<Scalar> wide(int m, int n, unsigned seed) {
  return random_sparse<Scalar>(n, m, 3, seed).transpose();
}

}  // namespace

TEMPLATE_TEST_CASE(
    "wide lstsq gives the minimum-norm solution and the backward matches the dense "
    "formula",
    "[wide]", float, double) {
  using Scalar = TestType;
  for (auto [m, n, k] :
       {std::tuple<int, int, int>{10, 30, 1}, {40, 100, 3}, {50, 51, 2}, {30, 30, 2}}) {
    const auto A = wide<Scalar>(m, n, unsigned(m + 3 * n));
    const Dense<Scalar> B = random_dense<Scalar>(m, k, 1), dX = random_dense<Scalar>(n, k, 2);
    sparsegrad::Lsmr<Scalar> solver(tight<Scalar>());
    const Dense<Scalar> X = sparsegrad::lstsq(A, B, solver);
    const auto ref = dense_gradient<double>(
        dense(A).template cast<double>(), B.template cast<double>(), dX.template cast<double>(), 0);
    INFO(m << "x" << n << ", k = " << k);
    CHECK(relative_error(X, ref.X) <= precision<Scalar>());
    const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
    CHECK(relative_error(g.B, ref.dB) <= precision<Scalar>());
    CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= precision<Scalar>());
    CHECK(g.damp == 0);
  }
}

TEST_CASE("the null-space term matters: without it dA is wrong", "[wide]") {
  const auto A = wide<double>(15, 40, 5);
  const Dense<double> B = random_dense<double>(15, 1, 1), dX = random_dense<double>(40, 1, 2);
  const auto ref = dense_gradient<double>(dense(A), B, dX, 0);
  // the tall-only formula −dB Xᵀ − r (A⁺dB)ᵀ misses (A⁺)ᵀX (N dX)ᵀ
  const Dense<double> tall_only = -ref.dB * ref.X.transpose();
  CHECK(relative_error(values_at_pattern(A, tall_only), values_at_pattern(A, ref.dA)) > 0.1);
  sparsegrad::Lsmr<double> solver(tight<double>());
  const Dense<double> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-8);
}

TEST_CASE("wide gradients match central finite differences in every entry", "[wide][fd]") {
  for (auto [m, n, k] : {std::tuple<int, int, int>{5, 12, 1}, {8, 20, 3}, {9, 9, 2}}) {
    const auto A = wide<double>(m, n, unsigned(m * n));
    const Dense<double> B = random_dense<double>(m, k, 3), dX = random_dense<double>(n, k, 4);
    sparsegrad::Lsmr<double> solver(tight<double>());
    INFO(m << "x" << n << ", k = " << k);
    check_by_finite_differences(A, B, dX, solver);
  }
}

TEST_CASE("wide gradients pass gradcheck in every format", "[wide][gradcheck]") {
  const auto A = wide<double>(30, 80, 17);
  const Dense<double> B = random_dense<double>(30, 2, 5), dX = random_dense<double>(80, 2, 6);
  sparsegrad::Lsmr<double> solver(tight<double>());
  sparsegrad::GradcheckOptions opt;
  opt.max_entries = 25;
  const Csc<double> csc = A;
  const auto coo = sparsegrad::to_coo(A);
  for (const auto& result : {sparsegrad::gradcheck(A, B, dX, solver, opt),
                             sparsegrad::gradcheck(csc, B, dX, solver, opt),
                             sparsegrad::gradcheck(coo, B, dX, solver, opt)}) {
    INFO("worst " << result.max_abs_where << ": " << result.max_abs_error);
    CHECK(result.entries.size() == 50);
    CHECK(result.scaled_error() <= 1e-6);
    CHECK(result.passed(1e-7, 1e-5));
  }
}

TEST_CASE("the seed's two-functor form handles wide A too", "[wide]") {
  const auto A = wide<double>(12, 30, 8);
  const Dense<double> B = random_dense<double>(12, 2, 1), dX = random_dense<double>(30, 2, 2);
  sparsegrad::Lsmr<double> solver(tight<double>());
  const Dense<double> X = sparsegrad::lstsq(A, B, solver);
  auto forward = [&solver](const Csr<double>& A_, const Dense<double>& G) { return solver(A_, G); };
  auto transpose = [&solver](const Csr<double>& A_, const Dense<double>& G) {
    return solver.solve_adjoint(A_, G);
  };
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, forward, transpose);
  const auto ref = dense_gradient<double>(dense(A), B, dX, 0);
  CHECK(relative_error(g.B, ref.dB) <= 1e-8);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-8);
}

TEST_CASE("rank-deficient wide A throws std::domain_error, even when B is in range(A)",
          "[wide][rank]") {
  // two equal rows: rank m - 1
  Csr<double> A = wide<double>(10, 25, 9);
  Dense<double> Ad = dense(A);
  Ad.row(3) = Ad.row(7);
  A = Ad.sparseView();
  const Dense<double> dX = random_dense<double>(25, 1, 2);
  const Dense<double> generic = random_dense<double>(10, 1, 1);
  const Dense<double> in_range = Ad * random_dense<double>(25, 1, 3);
  for (const Dense<double>& B : {generic, in_range, Dense<double>(Dense<double>::Zero(10, 1))}) {
    sparsegrad::Lsmr<double> solver(tight<double>());
    const Dense<double> X = sparsegrad::lstsq(A, B, solver);
    CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, B, X, dX, solver), std::domain_error);
    CHECK_THROWS_WITH(sparsegrad::lstsq_backward(A, B, X, dX, solver),
                      Catch::Contains("lstsq_backward") && Catch::Contains("argument 'A'") &&
                          Catch::Contains("full row rank"));
    CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, B, X, dX), std::domain_error);
    // the two-functor form too
    auto forward = [&solver](const Csr<double>& A_, const Dense<double>& G) {
      return solver(A_, G);
    };
    auto transpose = [&solver](const Csr<double>& A_, const Dense<double>& G) {
      return solver.solve_adjoint(A_, G);
    };
    CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, B, X, dX, forward, transpose), std::domain_error);
  }
}

TEST_CASE("a shipped real matrix, transposed to wide, differentiates at default options",
          "[wide][real]") {
  const Csr<double> A = Csr<double>(load_matrix("well1033.mtx").transpose());  // 320 x 1033
  const Dense<double> b = generated_rhs(A.rows());
  const Dense<double> dX = random_dense<double>(A.cols(), 1, 4);
  sparsegrad::Lsmr<double> solver(tight<double>());
  check_by_dense_gradient(A, b, dX, solver, 1e-8);
  CHECK_NOTHROW(sparsegrad::lstsq_backward(A, b, sparsegrad::lstsq(A, b), dX));
}

TEST_CASE("an ill-conditioned wide matrix is not mistaken for a rank-deficient one",
          "[wide][rank]") {
  // illc1033 transposed: 320 x 1033, κ = 1.9e4; the residual of the probe solve with AAᵀ
  // stagnates near ε·κ² ≈ 1e-8, far above ε but far below a rank-deficient A's O(1/sqrt(m)).
  const Csr<double> A = Csr<double>(load_matrix("illc1033.mtx").transpose());
  const Dense<double> b = generated_rhs(A.rows());
  const Dense<double> dX = random_dense<double>(A.cols(), 1, 5);
  auto opt = tight<double>();
  opt.maxiter = 100000;
  sparsegrad::Lsmr<double> solver(opt);
  const Dense<double> X = sparsegrad::lstsq(A, b, solver);
  const auto g = sparsegrad::lstsq_backward(A, b, X, dX, solver);
  const auto ref = dense_gradient<double>(dense(A), b, dX, 0);
  CHECK(relative_error(g.B, ref.dB) <= 1e-6);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-6);
}

TEST_CASE("a direct solver's solve_normal gives the wide gradient through an explicit A^T",
          "[wide][direct]") {
  const auto A = wide<double>(30, 70, 23);
  const Dense<double> B = random_dense<double>(30, 2, 1), dX = random_dense<double>(70, 2, 2);
  sparsegrad::Lsmr<double> lsmr(tight<double>());
  const Dense<double> X = sparsegrad::lstsq(A, B, lsmr);  // QR refuses a wide forward problem
  sparsegrad::SparseQR<double> qr;
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, qr);
  const auto ref = dense_gradient<double>(dense(A), B, dX, 0);
  CHECK(relative_error(g.B, ref.dB) <= 1e-8);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-8);
  // rank-deficient rows: the factorization's rank report becomes a row-rank domain_error
  Dense<double> Ad = dense(A);
  Ad.row(5) = 2 * Ad.row(9);
  const Csr<double> R = Ad.sparseView();
  const Dense<double> XR = sparsegrad::lstsq(R, B, lsmr);
  CHECK_THROWS_WITH(sparsegrad::lstsq_backward(R, B, XR, dX, qr),
                    Catch::Contains("argument 'A'") && Catch::Contains("full row rank"));
}
