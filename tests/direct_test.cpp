// Tests of direct.hpp: SparseQR and NormalCholesky against dense references, factorization
// reuse in the backward pass, rank deficiency and conditioning checks.
#include <sparsegrad/solvers/direct.hpp>
#include <sparsegrad/solvers/lsmr.hpp>

#include "solver_test_support.hpp"

using namespace testing;
using sparsegrad::NormalCholesky;
using sparsegrad::SparseQR;

TEMPLATE_TEST_CASE("SparseQR: X, dB, dA match the dense references in every format", "[direct]",
                   float, double) {
  check_all_formats<SparseQR<TestType>>(generated_problem<TestType>(60, 20, 3, 1),
                                        tol<TestType>(1e-12, 1e-4), tol<TestType>(1e-11, 1e-3));
}

TEMPLATE_TEST_CASE("NormalCholesky: X, dB, dA match the dense references in every format",
                   "[direct]", float, double) {
  check_all_formats<NormalCholesky<TestType>>(generated_problem<TestType>(60, 20, 3, 2),
                                              tol<TestType>(1e-12, 1e-4),
                                              tol<TestType>(1e-11, 1e-3));
}

TEST_CASE("Direct solvers: gradients match finite differences", "[direct]") {
  check_finite_differences<SparseQR<double>>();
  check_finite_differences<NormalCholesky<double>>();
}

TEMPLATE_TEST_CASE("Direct solvers: the backward pass reuses the forward factorization", "[direct]",
                   float, double) {
  SECTION("SparseQR") {
    check_factorization_reuse<SparseQR<TestType>, TestType>();
  }
  SECTION("NormalCholesky") {
    check_factorization_reuse<NormalCholesky<TestType>, TestType>();
  }
}

TEMPLATE_TEST_CASE("Direct solvers: rank-deficient A throws domain_error naming the rank",
                   "[direct]", float, double) {
  const Csr<TestType> abb313 = load_matrix<TestType>("abb313.mtx");
  // Columns 700..999 of Franz6: rank 295 of 300 by a dense SVD, with a clear gap.
  const Csr<TestType> franz = column_block<TestType>("Franz6.mtx", 700, 300);
  SECTION("SparseQR") {
    check_rank_deficient<SparseQR<TestType>>(abb313, "rank 128 of 176");
    check_rank_deficient<SparseQR<TestType>>(franz, "rank 295 of 300");
  }
  SECTION("NormalCholesky") {
    check_rank_deficient<NormalCholesky<TestType>>(abb313, "rank 128 of 176");
    check_rank_deficient<NormalCholesky<TestType>>(franz, "rank 295 of 300");
  }
}

TEMPLATE_TEST_CASE("Direct solvers: argument errors", "[direct]", float, double) {
  SECTION("SparseQR") {
    check_argument_errors<SparseQR<TestType>, TestType>();
  }
  SECTION("NormalCholesky") {
    check_argument_errors<NormalCholesky<TestType>, TestType>();
  }
}

TEST_CASE("Direct solvers agree with the dense references on the real matrices", "[direct]") {
  for (const auto& name : full_rank_real_matrices()) {
    INFO(name);
    const auto p = real_problem<double>(name);
    SparseQR<double> qr;
    NormalCholesky<double> cholesky;
    check_against_dense(qr, p.A, p.B, p.dX, p.ref, 1e-9, 1e-6);
    check_against_dense(cholesky, p.A, p.B, p.dX, p.ref, 1e-9, 1e-6);
    CHECK(qr.factorizations() == 1);
    CHECK(cholesky.factorizations() == 1);
    CHECK(qr.rank() == p.A.cols());
    // The same X as tight LSMR.
    sparsegrad::Lsmr<double> lsmr(tight_options<sparsegrad::LsmrOptions<double>>(100000));
    const Dense<double> X = sparsegrad::lstsq(p.A, p.B, lsmr);
    CHECK(relative_error(X, p.ref.X) < 1e-6);
  }
}

TEST_CASE("Direct solvers in float on the well-conditioned real matrices", "[direct]") {
  // well1850 is left to double: its dense reference dominates the sanitizer build's time.
  for (const auto& name : {"ash219.mtx", "lp_afiro_T.mtx", "well1033.mtx"}) {
    INFO(name);
    const auto p = real_problem<float>(name);
    SparseQR<float> qr;
    NormalCholesky<float> cholesky;
    check_against_dense(qr, p.A, p.B, p.dX, p.ref, 1e-3, 1e-2);
    check_against_dense(cholesky, p.A, p.B, p.dX, p.ref, 1e-3, 1e-2);
  }
}

TEST_CASE("NormalCholesky refuses ill-conditioned problems; SparseQR solves them", "[direct]") {
  SECTION("illc1033 (kappa 1.9e4) in float: kappa^2 u > 1") {
    const Csr<float> A = load_matrix<float>("illc1033.mtx");
    NormalCholesky<float> cholesky;
    CHECK_THROWS_AS(cholesky(A, Dense<float>::Ones(A.rows(), 1)), std::domain_error);
  }
  SECTION("lp_e226_T (kappa 9e3) in float") {
    const Csr<float> A = load_matrix<float>("lp_e226_T.mtx");
    NormalCholesky<float> cholesky;
    CHECK_THROWS_AS(cholesky(A, Dense<float>::Ones(A.rows(), 1)), std::domain_error);
  }
  SECTION("illc1033 with columns scaled over 4 decades (kappa ~ 1e8) in double") {
    Csc<double> A = load_matrix<double>("illc1033.mtx");
    for (Eigen::Index j = 0; j < A.cols(); ++j)
      A.col(j) *= std::pow(10.0, -4.0 * double(j) / double(A.cols() - 1));
    const Dense<double> B = random_dense<double>(A.rows(), 1, 5);
    NormalCholesky<double> cholesky;
    try {
      (void)cholesky(A, B);
      FAIL("NormalCholesky returned an answer for kappa(A)^2 u > max_condition_u");
    } catch (const std::domain_error& e) {
      CHECK_THAT(e.what(), Catch::Matchers::Contains("use SparseQR"));
    }
    CHECK(cholesky.condition_estimate() * 1.1e-16 > cholesky.options.max_condition_u);
    SparseQR<double> qr;
    const Dense<double> X = qr(A, B);
    const Dense<double> Ad = dense(A);
    const Dense<double> Xref = Ad.colPivHouseholderQr().solve(B);
    CHECK(relative_error(X, Xref) < 1e-6);
  }
  SECTION("a tolerance below the achievable accuracy is reported, not ignored") {
    const Csr<double> A = load_matrix<double>("illc1033.mtx");
    NormalCholesky<double> cholesky;
    cholesky.options.tolerance = 1e-15;
    CHECK_THROWS_AS(cholesky(A, Dense<double>::Ones(A.rows(), 1)), std::domain_error);
    CHECK(cholesky.last_error_estimate() > 1e-15);
  }
}
