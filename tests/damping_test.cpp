// Damped least squares min ‖AX − B‖² + λ²‖X‖²: forward and backward (dB, dA, dλ) against a
// dense QR of [A; λI], the dense adjoint formula and central finite differences, on tall,
// square and wide A; λ → 0 against the undamped gradient.
#include <catch2/catch.hpp>
#include <sparsegrad/gradcheck.hpp>
#include <sparsegrad/lstsq.hpp>
#include <tuple>

#include "dense_reference.hpp"

using namespace testing;

namespace {
const std::vector<std::tuple<int, int, int>> shapes = {
    {40, 15, 1}, {60, 25, 3}, {30, 30, 2}, {15, 40, 1}, {25, 60, 3}};
}

TEMPLATE_TEST_CASE("damped lstsq and lstsq_backward match the dense reference on every shape",
                   "[damping]", float, double) {
  using Scalar = TestType;
  for (double damp : {0.3, 2.0}) {
    for (auto [m, n, k] : shapes) {
      const auto A = random_sparse<Scalar>(m, n, 3, unsigned(m * 7 + n + k));
      const Dense<Scalar> B = random_dense<Scalar>(m, k, 3), dX = random_dense<Scalar>(n, k, 4);
      sparsegrad::Lsmr<Scalar> solver(tight<Scalar>(damp));
      const Dense<Scalar> X = sparsegrad::lstsq(A, B, solver);
      const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
      const auto ref =
          dense_gradient<double>(dense(A).template cast<double>(), B.template cast<double>(),
                                 dX.template cast<double>(), damp);
      INFO(m << "x" << n << ", k = " << k << ", damp = " << damp);
      CHECK(relative_error(X, ref.X) <= precision<Scalar>());
      CHECK(relative_error(g.B, ref.dB) <= precision<Scalar>());
      CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <=
            precision<Scalar>());
      CHECK(std::abs(double(g.damp) - ref.damp) <= precision<Scalar>() * std::abs(ref.damp));
      CHECK(g.damp != 0);
    }
  }
}

TEST_CASE("the damped gradient matches central finite differences, dλ included", "[damping][fd]") {
  for (auto [m, n, k] : {std::tuple<int, int, int>{14, 6, 1}, {8, 8, 2}, {6, 15, 2}}) {
    const double damp = 0.4;
    const auto A = random_sparse<double>(m, n, 2, unsigned(m + 10 * n));
    const Dense<double> B = random_dense<double>(m, k, 5), dX = random_dense<double>(n, k, 6);
    sparsegrad::Lsmr<double> solver(tight<double>(damp));
    INFO(m << "x" << n << ", k = " << k);
    check_by_finite_differences(A, B, dX, solver);
  }
}

TEST_CASE("gradcheck passes for damped problems and checks dλ", "[damping][gradcheck]") {
  for (auto [m, n] : {std::pair<int, int>{50, 20}, {20, 50}}) {
    const auto A = random_sparse<double>(m, n, 3, unsigned(m * n));
    const Dense<double> B = random_dense<double>(m, 2, 7), dX = random_dense<double>(n, 2, 8);
    sparsegrad::Lsmr<double> solver(tight<double>(0.8));
    const auto result = sparsegrad::gradcheck(A, B, dX, solver);
    INFO(m << "x" << n << ": worst " << result.max_abs_where << " " << result.max_abs_error);
    CHECK(result.scaled_error() <= 1e-6);
    CHECK(result.entries.back().where == "damp");
    CHECK(solver.options.damp == 0.8);  // restored
  }
}

TEST_CASE("as λ → 0 the damped gradient tends to the undamped one (tall and wide)",
          "[damping][limit]") {
  for (auto [m, n] : {std::pair<int, int>{50, 20}, {20, 50}}) {
    const auto A = random_sparse<double>(m, n, 3, unsigned(m + n));
    const Dense<double> B = random_dense<double>(m, 2, 9), dX = random_dense<double>(n, 2, 10);
    sparsegrad::Lsmr<double> undamped(tight<double>(0));
    const Dense<double> X0 = sparsegrad::lstsq(A, B, undamped);
    const auto g0 = sparsegrad::lstsq_backward(A, B, X0, dX, undamped);
    double previous = 1;
    for (double damp : {1e-2, 1e-3, 1e-4}) {
      sparsegrad::Lsmr<double> solver(tight<double>(damp));
      const Dense<double> X = sparsegrad::lstsq(A, B, solver);
      const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
      const double dA = relative_error(stored_values(g.A), stored_values(g0.A));
      const double dB = relative_error(g.B, g0.B);
      INFO(m << "x" << n << ", damp " << damp << ": dA " << dA << ", dB " << dB);
      CHECK(std::max(dA, dB) <= 10 * damp * damp);  // the difference is O(λ²)
      CHECK(std::max(dA, dB) < previous);
      previous = std::max(dA, dB);
      CHECK(std::abs(g.damp) <= 10 * damp);  // dλ = O(λ)
    }
    CHECK(previous <= 1e-6);
  }
}

TEST_CASE("damped backward on rank-deficient and wide rank-deficient A is well defined",
          "[damping]") {
  // abb313 has rank 128 of 176: undamped it throws, damped it has a gradient.
  const auto A = load_matrix("abb313.mtx");
  const Dense<double> b = generated_rhs(A.rows());
  const Dense<double> dX = random_dense<double>(A.cols(), 1, 11);
  sparsegrad::Lsmr<double> solver(tight<double>(0.5));
  check_by_dense_gradient(A, b, dX, solver, 1e-8);
  // and its transpose (wide, rank-deficient)
  const Csr<double> W = A.transpose();
  const Dense<double> bw = generated_rhs(W.rows()), dXw = random_dense<double>(W.cols(), 1, 12);
  const Dense<double> Xw = sparsegrad::lstsq(W, bw, solver);
  const auto gw = sparsegrad::lstsq_backward(W, bw, Xw, dXw, solver);
  const auto refw = dense_gradient<double>(dense(W), bw, dXw, 0.5);
  CHECK(relative_error(gw.B, refw.dB) <= 1e-8);
  CHECK(relative_error(stored_values(gw.A), values_at_pattern(W, refw.dA)) <= 1e-8);
}

TEST_CASE("the two-functor form refuses a damped solver", "[damping][errors]") {
  const auto A = random_sparse<double>(20, 8, 2, 3);
  const Dense<double> B = random_dense<double>(20, 1, 1), dX = random_dense<double>(8, 1, 2);
  sparsegrad::Lsmr<double> damped(tight<double>(0.5)), plain(tight<double>(0));
  const Dense<double> X = sparsegrad::lstsq(A, B, damped);
  auto transpose = [&plain](const Csr<double>& A_, const Dense<double>& G) {
    return plain.solve_adjoint(A_, G);
  };
  CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, B, X, dX, damped, transpose),
                  std::invalid_argument);
  CHECK_THROWS_WITH(sparsegrad::lstsq_backward(A, B, X, dX, damped, transpose),
                    Catch::Contains("argument 'solver.options.damp'") &&
                        Catch::Contains("undamped problems only") && Catch::Contains("got 0.5"));
}

TEST_CASE("undamped solvers report g.damp = 0", "[damping]") {
  const auto A = random_sparse<double>(20, 8, 2, 4);
  const Dense<double> B = random_dense<double>(20, 1, 1), dX = random_dense<double>(8, 1, 2);
  const Dense<double> X = sparsegrad::lstsq(A, B);
  CHECK(sparsegrad::lstsq_backward(A, B, X, dX).damp == 0);
}
