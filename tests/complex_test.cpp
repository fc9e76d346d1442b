// complex<float> and complex<double> A and B: LSMR (conjugate transposes) against dense complex
// QR/COD, and the adjoint in PyTorch's convention (g = ∂L/∂Re + i ∂L/∂Im) against the dense
// formula and central finite differences, on tall, wide and damped problems.
#include <catch2/catch.hpp>
#include <complex>
#include <sparsegrad/gradcheck.hpp>
#include <sparsegrad/lstsq.hpp>
#include <tuple>

#include "dense_reference.hpp"

using namespace testing;
using cd = std::complex<double>;

TEMPLATE_TEST_CASE("complex LSMR matches dense complex least squares", "[complex]",
                   std::complex<float>, std::complex<double>) {
  using Scalar = TestType;
  for (auto [m, n, damp] : {std::tuple<int, int, double>{50, 20, 0},
                            {20, 50, 0},
                            {30, 30, 0},
                            {50, 20, 0.7},
                            {20, 50, 0.7}}) {
    const auto A = random_sparse_any<Scalar>(m, n, 3, unsigned(m + n));
    const Dense<Scalar> B = random_matrix<Scalar>(m, 2, 1);
    const auto r = sparsegrad::lsmr(A, B, tight<Scalar>(damp));
    const Dense<cd> X =
        dense_solution<cd>(dense(A).template cast<cd>(), B.template cast<cd>(), damp);
    INFO(m << "x" << n << ", damp " << damp);
    CHECK(relative_error(r.X, X) <= precision<Scalar>());
    CHECK(r.converged());
    // the residual is orthogonal to range(A) in the complex inner product (undamped)
    if (damp == 0 && m >= n) {
      const Dense<cd> Ad = dense(A).template cast<cd>();
      const Dense<cd> normal =
          Ad.adjoint() * (Ad * r.X.template cast<cd>() - B.template cast<cd>());
      CHECK(normal.norm() <= precision<Scalar>() * Ad.norm() * B.template cast<cd>().norm());
    }
  }
}

TEMPLATE_TEST_CASE("complex lstsq_backward matches the dense adjoint", "[complex][backward]",
                   std::complex<float>, std::complex<double>) {
  using Scalar = TestType;
  for (auto [m, n, k, damp] : {std::tuple<int, int, int, double>{40, 15, 1, 0},
                               {60, 20, 3, 0},
                               {25, 25, 2, 0},
                               {15, 40, 2, 0},
                               {40, 15, 2, 0.5},
                               {15, 40, 1, 0.5}}) {
    const auto A = random_sparse_any<Scalar>(m, n, 3, unsigned(m * n + k));
    const Dense<Scalar> B = random_matrix<Scalar>(m, k, 2), dX = random_matrix<Scalar>(n, k, 3);
    sparsegrad::Lsmr<Scalar> solver(tight<Scalar>(damp));
    const Dense<Scalar> X = sparsegrad::lstsq(A, B, solver);
    const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
    const auto ref = dense_gradient<cd>(dense(A).template cast<cd>(), B.template cast<cd>(),
                                        dX.template cast<cd>(), damp);
    INFO(m << "x" << n << ", k = " << k << ", damp " << damp);
    CHECK(relative_error(g.B, ref.dB) <= precision<Scalar>());
    CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= precision<Scalar>());
    CHECK(std::abs(double(g.damp) - ref.damp) <= precision<Scalar>() * (1 + std::abs(ref.damp)));
  }
}

TEST_CASE("complex gradients match central finite differences along both axes", "[complex][fd]") {
  for (auto [m, n, k, damp] : {std::tuple<int, int, int, double>{12, 5, 1, 0},
                               {8, 8, 2, 0},
                               {5, 12, 2, 0},
                               {12, 5, 2, 0.6},
                               {5, 12, 1, 0.6}}) {
    const auto A = random_sparse_any<cd>(m, n, 2, unsigned(m + 13 * n));
    const Dense<cd> B = random_matrix<cd>(m, k, 4), dX = random_matrix<cd>(n, k, 5);
    sparsegrad::Lsmr<cd> solver(tight<cd>(damp));
    INFO(m << "x" << n << ", k = " << k << ", damp " << damp);
    check_by_finite_differences(A, B, dX, solver);
  }
}

TEST_CASE("complex gradcheck passes, and real data in complex form gives the real gradient",
          "[complex][gradcheck]") {
  const auto A = random_sparse_any<cd>(40, 15, 3, 21);
  const Dense<cd> B = random_matrix<cd>(40, 2, 6), dX = random_matrix<cd>(15, 2, 7);
  sparsegrad::Lsmr<cd> solver(tight<cd>());
  const auto r = sparsegrad::gradcheck(A, B, dX, solver);
  INFO("worst " << r.max_abs_where << ": " << r.max_abs_error);
  CHECK(r.scaled_error() <= 1e-6);
  // the imaginary direction is checked: a purely real loss weight still moves Im
  CHECK(std::any_of(r.entries.begin(), r.entries.end(),
                    [](const auto& e) { return std::abs(e.numeric.imag()) > 1e-3; }));

  const auto Ar = random_sparse<double>(30, 10, 3, 22);
  const Dense<double> Br = random_dense<double>(30, 1, 8), dXr = random_dense<double>(10, 1, 9);
  sparsegrad::Lsmr<double> real_solver(tight<double>());
  const Dense<double> Xr = sparsegrad::lstsq(Ar, Br, real_solver);
  const auto gr = sparsegrad::lstsq_backward(Ar, Br, Xr, dXr, real_solver);
  const Csr<cd> Ac = Ar.cast<cd>();
  const Dense<cd> Bc = Br.cast<cd>(), dXc = dXr.cast<cd>();
  const Dense<cd> Xc = sparsegrad::lstsq(Ac, Bc, solver);
  const auto gc = sparsegrad::lstsq_backward(Ac, Bc, Xc, dXc, solver);
  CHECK(relative_error(stored_values(gc.A), stored_values(gr.A)) <= 1e-10);
  CHECK(stored_values(gc.A).imag().norm() <= 1e-12 * stored_values(gc.A).norm());
  CHECK(relative_error(gc.B, gr.B) <= 1e-10);
}

TEST_CASE("complex COO with duplicates, and rank-deficient complex A throws", "[complex]") {
  const auto A = random_sparse_any<cd>(30, 10, 3, 31);
  const auto coo = split_entries(sparsegrad::to_coo(A), cd(1, -0.5), cd(0, 0.5));
  const Dense<cd> B = random_matrix<cd>(30, 1, 1), dX = random_matrix<cd>(10, 1, 2);
  sparsegrad::Lsmr<cd> solver(tight<cd>());
  const Dense<cd> X = sparsegrad::lstsq(coo, B, solver);
  const auto g = sparsegrad::lstsq_backward(coo, B, X, dX, solver);
  const auto ref = dense_gradient<cd>(dense(A), B, dX, 0);
  CHECK(relative_error(X, ref.X) <= 1e-8);
  for (Eigen::Index e = 0; e < coo.values.size(); ++e)
    CHECK(std::abs(g.A.values[e] - ref.dA(coo.row[e], coo.col[e])) <= 1e-8 * ref.dA.norm());

  // a repeated column: rank-deficient
  Dense<cd> Ad = dense(A);
  Ad.col(4) = cd(0, 1) * Ad.col(2);
  const Csr<cd> R = Ad.sparseView();
  const Dense<cd> XR = sparsegrad::lstsq(R, B, solver);
  CHECK_THROWS_AS(sparsegrad::lstsq_backward(R, B, XR, dX, solver), std::domain_error);
}
