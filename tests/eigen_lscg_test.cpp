// Tests of eigen_lscg.hpp: EigenLSCG against dense references in every format, agreement with
// the direct solvers on real matrices, honest non-convergence, preconditioner setup reuse.
#include <sparsegrad/solvers/direct.hpp>
#include <sparsegrad/solvers/eigen_lscg.hpp>

#include "solver_test_support.hpp"

using namespace testing;
using sparsegrad::EigenLSCG;

TEMPLATE_TEST_CASE("EigenLSCG: X, dB, dA match the dense references in every format", "[lscg]",
                   float, double) {
  // The backward's transposed solve is the default LSMR (atol = btol = 1e-6).
  check_all_formats<EigenLSCG<TestType>>(generated_problem<TestType>(60, 20, 3, 5),
                                         tol<TestType>(1e-9, 1e-4), tol<TestType>(1e-5, 1e-3));
}

TEMPLATE_TEST_CASE("EigenLSCG agrees with SparseQR on the real matrices", "[lscg]", float, double) {
  const std::vector<std::string> names =
      sizeof(TestType) == sizeof(double)
          ? std::vector<std::string>{"ash219.mtx", "lp_afiro_T.mtx", "well1033.mtx", "well1850.mtx",
                                     "lp_e226_T.mtx"}
          : std::vector<std::string>{"ash219.mtx", "lp_afiro_T.mtx", "well1033.mtx",
                                     "well1850.mtx"};
  for (const auto& name : names) {
    INFO(name);
    const auto p = real_problem<TestType>(name);
    EigenLSCG<TestType> lscg;
    lscg.options.max_iterations = 20 * p.A.cols();
    const Dense<TestType> X = lscg(p.A, p.B);
    CHECK(relative_error(X, p.ref.X) < tol<TestType>(1e-7, 5e-3));
    sparsegrad::SparseQR<TestType> qr;
    CHECK(relative_error(X, Dense<TestType>(qr(p.A, p.B))) < tol<TestType>(1e-7, 5e-3));
    for (std::size_t j = 0; j < lscg.last().converged.size(); ++j) {
      CHECK(lscg.last().converged[j]);
      CHECK(lscg.last().error[j] <= double(lscg.options.tolerance));
      CHECK(lscg.last().iterations[j] > 0);
    }
  }
}

TEMPLATE_TEST_CASE("EigenLSCG reports non-convergence", "[lscg]", float, double) {
  const Csr<TestType> A = load_matrix<TestType>("illc1033.mtx");
  const Dense<TestType> B = random_dense<TestType>(A.rows(), 2, 9);
  EigenLSCG<TestType> lscg;
  lscg.options.max_iterations = 5;
  try {
    (void)sparsegrad::lstsq(A, B, lscg);
    FAIL("no convergence_error after 5 iterations on illc1033");
  } catch (const sparsegrad::convergence_error& e) {
    const auto& d = e.diagnostics();
    REQUIRE(d.istop.size() == 2);
    CHECK(d.istop[0] == 7);
    CHECK(d.itn[0] == 5);
    CHECK(d.normar[0] > 0);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("max_iterations"));
  }
  lscg.options.throw_on_failure = false;
  const Dense<TestType> X = lscg(A, B);
  CHECK(X.allFinite());
  CHECK_FALSE(lscg.last().converged[0]);
  CHECK(lscg.last().iterations[0] == 5);
}

TEST_CASE("EigenLSCG reuses its setup for an unchanged A", "[lscg]") {
  const auto p = generated_problem<double>(50, 20, 2, 6);
  EigenLSCG<double> lscg;
  const Dense<double> X = sparsegrad::lstsq(p.A, p.B, lscg);
  const auto g = sparsegrad::lstsq_backward(p.A, p.B, X, p.dX, lscg);
  CHECK(lscg.last().setups == 1);
  CHECK(lscg.last().reused);
  CHECK(relative_error(g.B, p.ref.adjoint.dB) < 1e-5);
  Csr<double> A2 = p.A;
  A2.valuePtr()[3] += 1.0;
  const Dense<double> X2 = lscg(A2, p.B);
  CHECK(lscg.last().setups == 2);
  CHECK(relative_error(X2, dense_lstsq(dense(A2), p.B)) < 1e-8);
}

TEST_CASE("EigenLSCG: argument errors", "[lscg]") {
  const Csr<double> A = random_sparse<double>(10, 4, 2, 7);
  EigenLSCG<double> lscg;
  CHECK_THROWS_AS(lscg(A, Dense<double>::Ones(9, 1)), std::invalid_argument);
  lscg.options.tolerance = -1;
  CHECK_THROWS_AS(lscg(A, Dense<double>::Ones(10, 1)), std::invalid_argument);
}
