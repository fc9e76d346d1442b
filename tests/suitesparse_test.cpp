// Tests of suitesparse.hpp: SPQR and Cholmod against dense references and against the Eigen
// solvers, factorization reuse, rank deficiency, float input computed in double.
#include <sparsegrad/backends/suitesparse.hpp>

#include "solver_test_support.hpp"

using namespace testing;
using sparsegrad::Cholmod;
using sparsegrad::SPQR;

TEMPLATE_TEST_CASE("SPQR: X, dB, dA match the dense references in every format", "[suitesparse]",
                   float, double) {
  check_all_formats<SPQR<TestType>>(generated_problem<TestType>(60, 20, 3, 3),
                                    tol<TestType>(1e-12, 1e-5), tol<TestType>(1e-11, 1e-5));
}

TEMPLATE_TEST_CASE("Cholmod: X, dB, dA match the dense references in every format", "[suitesparse]",
                   float, double) {
  check_all_formats<Cholmod<TestType>>(generated_problem<TestType>(60, 20, 3, 4),
                                       tol<TestType>(1e-12, 1e-5), tol<TestType>(1e-11, 1e-5));
}

TEST_CASE("SuiteSparse solvers: gradients match finite differences", "[suitesparse]") {
  check_finite_differences<SPQR<double>>();
  check_finite_differences<Cholmod<double>>();
}

TEMPLATE_TEST_CASE("SuiteSparse solvers: the backward pass reuses the forward factorization",
                   "[suitesparse]", float, double) {
  SECTION("SPQR") {
    check_factorization_reuse<SPQR<TestType>, TestType>();
  }
  SECTION("Cholmod") {
    check_factorization_reuse<Cholmod<TestType>, TestType>();
  }
}

TEMPLATE_TEST_CASE("SuiteSparse solvers: rank-deficient A throws domain_error naming the rank",
                   "[suitesparse]", float, double) {
  const Csr<TestType> abb313 = load_matrix<TestType>("abb313.mtx");
  const Csr<TestType> franz = column_block<TestType>("Franz6.mtx", 700, 300);
  SECTION("SPQR") {
    check_rank_deficient<SPQR<TestType>>(abb313, "rank 128 of 176");
    check_rank_deficient<SPQR<TestType>>(franz, "rank 295 of 300");
  }
  SECTION("Cholmod") {
    check_rank_deficient<Cholmod<TestType>>(abb313, "rank 128 of 176");
    check_rank_deficient<Cholmod<TestType>>(franz, "rank 295 of 300");
  }
}

TEMPLATE_TEST_CASE("SuiteSparse solvers: argument errors", "[suitesparse]", float, double) {
  SECTION("SPQR") {
    check_argument_errors<SPQR<TestType>, TestType>();
  }
  SECTION("Cholmod") {
    check_argument_errors<Cholmod<TestType>, TestType>();
  }
}

TEMPLATE_TEST_CASE("SuiteSparse solvers agree with the dense references on the real matrices",
                   "[suitesparse]", float, double) {
  // Float input is computed in double, so float X is accurate to float rounding even on
  // illc1033 and lp_e226_T, where Eigen's float solvers give up. Their gradients are not
  // checked in float: H = (A^T A)^-1 dX has condition kappa^2 > 1/u_float there, and
  // lstsq_backward's float consistency check rightly rejects it.
  for (const auto& name : full_rank_real_matrices()) {
    INFO(name);
    const auto p = real_problem<TestType>(name);
    SPQR<TestType> spqr;
    Cholmod<TestType> cholmod;
    if (sizeof(TestType) == sizeof(float) && (name == "illc1033.mtx" || name == "lp_e226_T.mtx")) {
      CHECK(relative_error(Dense<TestType>(spqr(p.A, p.B)), p.ref.X) < 1e-6);
      CHECK(relative_error(Dense<TestType>(cholmod(p.A, p.B)), p.ref.X) < 1e-6);
      continue;
    }
    check_against_dense(spqr, p.A, p.B, p.dX, p.ref, tol<TestType>(1e-9, 1e-6),
                        tol<TestType>(1e-6, 1e-5));
    check_against_dense(cholmod, p.A, p.B, p.dX, p.ref, tol<TestType>(1e-9, 1e-6),
                        tol<TestType>(1e-6, 1e-5));
    CHECK(spqr.factorizations() == 1);
    CHECK(cholmod.factorizations() == 1);
    CHECK(spqr.rank() == p.A.cols());
  }
}

TEST_CASE("Cholmod refuses an ill-conditioned problem that SPQR solves", "[suitesparse]") {
  Csc<double> A = load_matrix<double>("illc1033.mtx");
  for (Eigen::Index j = 0; j < A.cols(); ++j)
    A.col(j) *= std::pow(10.0, -4.0 * double(j) / double(A.cols() - 1));
  const Dense<double> B = random_dense<double>(A.rows(), 1, 5);
  Cholmod<double> cholmod;
  CHECK_THROWS_AS(cholmod(A, B), std::domain_error);
  SPQR<double> spqr;
  const Dense<double> X = spqr(A, B);
  const Dense<double> Ad = dense(A);
  CHECK(relative_error(X, Dense<double>(Ad.colPivHouseholderQr().solve(B))) < 1e-6);
}
