// CRAIG (craig.hpp) and Lsmr::solve_normal: H = (AᵀA + λ²I)⁻¹G against dense references, the
// one-solve backward against the dense adjoint and finite differences, rank deficiency, failure.
#include <catch2/catch.hpp>
#include <sparsegrad/lstsq.hpp>
#include <sparsegrad/solvers/lsmr.hpp>

#include "test_support.hpp"

using namespace testing;

namespace {

/// (AᵀA + λ²I)⁻¹G by a dense Cholesky in double: the independent reference.
Dense<double> dense_normal_solve(const Dense<double>& A, const Dense<double>& G, double damp) {
  const Dense<double> N =
      A.transpose() * A + damp * damp * Dense<double>::Identity(A.cols(), A.cols());
  return N.llt().solve(G);
}

template <class Scalar>
double tolerance(double for_double) {
  return std::is_same<Scalar, float>::value ? 1e-3 : for_double;
}

}  // namespace

TEMPLATE_TEST_CASE("solve_normal gives (A^T A + damp^2 I)^-1 G", "[craig]", float, double) {
  using Scalar = TestType;
  const auto A = random_sparse<Scalar>(80, 30, 3, 11);
  const Dense<Scalar> G = random_dense<Scalar>(30, 4, 12);
  const Dense<double> Ad = dense(A).template cast<double>();
  for (double damp : {0.0, 0.5}) {
    CAPTURE(damp);
    auto opt = tight<Scalar>();
    if (std::is_same<Scalar, float>::value) opt.atol = opt.btol = Scalar(1e-6);
    opt.damp = Scalar(damp);
    sparsegrad::Lsmr<Scalar> solver(opt);
    const Dense<Scalar> H = solver.solve_normal(A, G);
    const Dense<double> ref = dense_normal_solve(Ad, G.template cast<double>(), damp);
    CHECK(relative_error(H, ref) <= tolerance<Scalar>(1e-10));
    REQUIRE(solver.last_backward().istop.size() == 4);
    for (int s : solver.last_backward().istop) CHECK(s == 1);
    // The reported residual estimate is the true one to rounding.
    const Dense<double> r = G.template cast<double>() -
                            (Ad.transpose() * Ad + damp * damp * Dense<double>::Identity(30, 30)) *
                                H.template cast<double>();
    for (Eigen::Index j = 0; j < 4; ++j)
      CHECK(r.col(j).norm() <= 1e-4 * G.col(j).template cast<double>().norm() +
                                   10 * double(solver.last_backward().normr[std::size_t(j)]));
  }
}

TEST_CASE("solve_normal on shipped matrices, CSR, CSC, COO and Map", "[craig]") {
  for (const char* name : {"well1033.mtx", "ash219.mtx", "lp_afiro_T.mtx"}) {
    CAPTURE(name);
    const auto coo = sparsegrad::read_matrix_market_file<double>(data_path(name));
    const auto csr = sparsegrad::to_csr(coo);
    const Csc<double> csc = csr;
    const Eigen::Map<const Csr<double>> map(csr.rows(), csr.cols(), csr.nonZeros(),
                                            csr.outerIndexPtr(), csr.innerIndexPtr(),
                                            csr.valuePtr());
    const Dense<double> G = random_dense<double>(csr.cols(), 2, 3);
    const Dense<double> ref = dense_normal_solve(dense(csr), G, 0);
    sparsegrad::Lsmr<double> solver(tight_options<sparsegrad::LsmrOptions<double>>());
    CHECK(relative_error(solver.solve_normal(csr, G), ref) <= 1e-8);
    CHECK(relative_error(solver.solve_normal(csc, G), ref) <= 1e-8);
    CHECK(relative_error(solver.solve_normal(coo, G), ref) <= 1e-8);
    CHECK(relative_error(solver.solve_normal(map, G), ref) <= 1e-8);
  }
}

TEST_CASE("solve_normal: block columns equal separate runs", "[craig][block]") {
  const auto A = random_sparse<double>(120, 40, 4, 21);
  Dense<double> G = random_dense<double>(40, 5, 22);
  G.col(2).setZero();                                             // zero column: H = 0, istop 0
  G.col(3) = dense(A).transpose() * Dense<double>::Ones(120, 1);  // easy column
  sparsegrad::LsmrOptions<double> opt;
  opt.atol = opt.btol = 1e-10;
  sparsegrad::Lsmr<double> block(opt), single(opt);
  const Dense<double> H = block.solve_normal(A, G);
  for (Eigen::Index j = 0; j < G.cols(); ++j) {
    CAPTURE(j);
    const Dense<double> Hj = single.solve_normal(A, G.col(j));
    CHECK(relative_error(H.col(j), Hj) <= 1e-12);
    CHECK(block.last_backward().itn[std::size_t(j)] == single.last_backward().itn[0]);
    CHECK(block.last_backward().istop[std::size_t(j)] == single.last_backward().istop[0]);
  }
  CHECK(block.last_backward().istop[2] == 0);
  CHECK(H.col(2).isZero(0));
}

TEST_CASE("one-solve backward matches the dense adjoint", "[craig][backward]") {
  const auto A = random_sparse<double>(50, 20, 3, 31);
  const Dense<double> B = random_dense<double>(50, 3, 32);
  const Dense<double> dX = random_dense<double>(20, 3, 33);
  sparsegrad::Lsmr<double> solver(tight_options<sparsegrad::LsmrOptions<double>>());
  const Dense<double> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  // The backward ran solve_normal (one solve, n x k), not the transposed solve (m x k).
  CHECK(solver.last_backward().X.rows() == 20);
  const auto ref = dense_adjoint(dense(A), B, dX);
  CHECK(relative_error(g.B, ref.dB) <= 1e-8);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-8);

  // The seed's two-solve form gives the same gradients.
  sparsegrad::Lsmr<double> forward(tight_options<sparsegrad::LsmrOptions<double>>());
  sparsegrad::Lsmr<double> transpose(tight_options<sparsegrad::LsmrOptions<double>>());
  const auto g2 = sparsegrad::lstsq_backward(
      A, B, X, dX, [&](const Csr<double>& A_, const Dense<double>& R) { return forward(A_, R); },
      [&](const Csr<double>& A_, const Dense<double>& G) {
        return transpose.solve_adjoint(A_, G);
      });
  CHECK(relative_error(g.B, g2.B) <= 1e-8);
  CHECK(relative_error(stored_values(g.A), stored_values(g2.A)) <= 1e-8);
}

TEST_CASE("one-solve backward on a real matrix (well1033) matches the dense adjoint",
          "[craig][backward]") {
  const auto A = load_matrix<double>("well1033.mtx");
  const Dense<double> B =
      sparsegrad::read_dense_matrix_market_file<double>(data_path("well1033_rhs1.mtx"));
  const Dense<double> dX = random_dense<double>(A.cols(), 1, 41);
  sparsegrad::Lsmr<double> solver(tight_options<sparsegrad::LsmrOptions<double>>());
  const Dense<double> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  const auto ref = dense_adjoint(dense(A), B, dX);
  CHECK(relative_error(g.B, ref.dB) <= 1e-8);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-8);
}

TEST_CASE("default one-solve backward agrees with central finite differences",
          "[craig][backward][fd]") {
  const auto A = random_sparse<double>(12, 5, 2, 51);
  const Dense<double> B = random_dense<double>(12, 2, 52);
  const Dense<double> dX = random_dense<double>(5, 2, 53);
  const Dense<double> X = sparsegrad::lstsq(A, B);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX);  // default options
  const auto fd = finite_differences(dense(A), B, dX, pattern_of(A));
  CHECK(relative_error(g.B, fd.dB) <= 1e-5);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, fd.dA)) <= 1e-5);
}

TEMPLATE_TEST_CASE("solve_normal: rank-deficient A is a domain_error", "[craig][errors]", float,
                   double) {
  using Scalar = TestType;
  // Column 3 repeats column 1: Aᵀy = g is inconsistent for a generic g.
  Dense<Scalar> D = dense(random_sparse<Scalar>(40, 8, 3, 61));
  D.col(3) = D.col(1);
  const Csr<Scalar> A = D.sparseView();
  const Dense<Scalar> G = random_dense<Scalar>(8, 2, 62);
  sparsegrad::Lsmr<Scalar> solver;
  CHECK_THROWS_AS(solver.solve_normal(A, G), std::domain_error);
  const Dense<Scalar> B = random_dense<Scalar>(40, 2, 63);
  const Dense<Scalar> X = Dense<Scalar>::Zero(8, 2);
  CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, B, X, G), std::domain_error);
  // A real rank-deficient matrix (abb313, rank 128 of 176).
  if (std::is_same<Scalar, double>::value) {
    const auto abb = load_matrix<Scalar>("abb313.mtx");
    CHECK_THROWS_AS(solver.solve_normal(abb, random_dense<Scalar>(abb.cols(), 1, 64)),
                    std::domain_error);
  }
  // With damping the system is consistent again (float needs more than min(m, n) iterations).
  solver.options.damp = Scalar(0.1);
  solver.options.maxiter = 200;
  CHECK_NOTHROW(solver.solve_normal(A, G));
}

TEST_CASE("solve_normal: non-convergence throws convergence_error unless told not to",
          "[craig][errors]") {
  const auto A = load_matrix<double>("illc1033.mtx");
  const Dense<double> G = random_dense<double>(A.cols(), 1, 71);
  sparsegrad::LsmrOptions<double> opt;
  opt.maxiter = 3;
  sparsegrad::Lsmr<double> solver(opt);
  CHECK_THROWS_AS(solver.solve_normal(A, G), sparsegrad::convergence_error);
  try {
    solver.solve_normal(A, G);
  } catch (const sparsegrad::convergence_error& e) {
    CHECK(e.diagnostics().istop.at(0) == 7);
    CHECK(e.diagnostics().itn.at(0) == 3);
  }
  solver.options.throw_on_failure = false;
  const Dense<double> H = solver.solve_normal(A, G);
  CHECK(H.rows() == A.cols());
  CHECK(solver.last_backward().istop[0] == 7);
  // Through lstsq_backward as well.
  solver.options.throw_on_failure = true;
  const Dense<double> B = random_dense<double>(A.rows(), 1, 72);
  const Dense<double> X = Dense<double>::Zero(A.cols(), 1);
  CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, B, X, G, solver), sparsegrad::convergence_error);
}

TEST_CASE("solve_normal: argument checks and trivial inputs", "[craig][errors]") {
  const auto A = random_sparse<double>(10, 4, 2, 81);
  sparsegrad::Lsmr<double> solver;
  CHECK_THROWS_AS(solver.solve_normal(A, Dense<double>::Ones(5, 1)), std::invalid_argument);
  Dense<double> bad = Dense<double>::Ones(4, 1);
  bad(1, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(solver.solve_normal(A, bad), std::invalid_argument);
  CHECK(solver.solve_normal(A, Dense<double>(4, 0)).cols() == 0);
  const Dense<double> H = solver.solve_normal(A, Dense<double>::Zero(4, 2));
  CHECK(H.isZero(0));
  CHECK(solver.last_backward().istop[0] == 0);
}
