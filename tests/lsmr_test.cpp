// LSMR: parity with scipy.sparse.linalg.lsmr, agreement with dense QR, properties.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sparsegrad/solvers/lsmr.hpp>
#include <sstream>

#include "test_support.hpp"

using namespace testing;

namespace {

struct ScipyCase {
  std::string name, matrix, rhs;
  double damp = 0, atol = 0, btol = 0, conlim = 0;
  long maxiter = 0;
  int istop = 0, itn = 0;
  double normr = 0, normar = 0, norma = 0, conda = 0, normx = 0;
  Eigen::VectorXd x;
};

// Parses tests/reference/lsmr_scipy_reference.txt (format documented in its generator script).
std::vector<ScipyCase> read_scipy_cases() {
  std::ifstream in(std::string(SPARSEGRAD_REFERENCE_DIR) + "/lsmr_scipy_reference.txt");
  REQUIRE(in.good());
  std::vector<ScipyCase> cases;
  std::string token;
  while (in >> token) {
    if (token[0] == '#') {
      std::getline(in, token);
      continue;
    }
    REQUIRE(token == "case");
    ScipyCase c;
    in >> c.name >> c.matrix >> c.rhs >> c.damp >> c.atol >> c.btol >> c.conlim >> c.maxiter;
    in >> token;
    REQUIRE(token == "stats");
    in >> c.istop >> c.itn >> c.normr >> c.normar >> c.norma >> c.conda >> c.normx;
    Eigen::Index n = 0;
    in >> token >> n;
    REQUIRE(token == "x");
    c.x.resize(n);
    for (Eigen::Index i = 0; i < n; ++i) in >> c.x[i];
    REQUIRE(in.good());
    cases.push_back(std::move(c));
  }
  return cases;
}

Dense<double> rhs_for(const ScipyCase& c, Eigen::Index m) {
  if (c.rhs == "gen") return generated_rhs(m);
  REQUIRE(c.rhs.rfind("file:", 0) == 0);
  return sparsegrad::read_dense_matrix_market_file<double>(data_path(c.rhs.substr(5)));
}

}  // namespace

TEST_CASE("LSMR follows scipy: same istop, same itn, same x", "[lsmr][scipy]") {
  const auto cases = read_scipy_cases();
  REQUIRE(cases.size() >= 10);
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const auto A = load_matrix(c.matrix);
      const auto b = rhs_for(c, A.rows());
      auto opt = sparsegrad::LsmrOptions<double>::scipy();
      opt.damp = c.damp, opt.atol = c.atol, opt.btol = c.btol, opt.conlim = c.conlim;
      opt.maxiter = c.maxiter;
      const auto r = sparsegrad::lsmr(A, b, opt);
      CHECK(r.istop[0] == c.istop);
      CHECK(r.itn[0] == c.itn);
      CHECK(relative_error(r.X.col(0), c.x) <= 1e-10);
      CHECK(r.normr[0] == Approx(c.normr).epsilon(1e-10));
      CHECK(r.normar[0] == Approx(c.normar).epsilon(1e-6));
      CHECK(r.norma[0] == Approx(c.norma).epsilon(1e-10));
      CHECK(r.conda[0] == Approx(c.conda).epsilon(1e-8));
      CHECK(r.normx[0] == Approx(c.normx).epsilon(1e-10));
    }
  }
}

TEMPLATE_TEST_CASE("LSMR matches dense QR on random tall problems", "[lsmr]", float, double) {
  using Scalar = TestType;
  const double tol = std::is_same<Scalar, float>::value ? 2e-4 : 1e-10;
  for (auto [m, n] : {std::pair<int, int>{40, 10}, {200, 50}, {300, 300}, {1000, 120}}) {
    const auto A = random_sparse<Scalar>(m, n, 3, unsigned(m + n));
    const Dense<Scalar> B = random_dense<Scalar>(m, 4, 7);
    auto opt = tight_options<sparsegrad::LsmrOptions<Scalar>>();
    if (std::is_same<Scalar, float>::value) opt.atol = opt.btol = Scalar(1e-7);
    const auto r = sparsegrad::lsmr(A, B, opt);
    const Dense<double> X =
        dense_lstsq(dense(A).template cast<double>(), B.template cast<double>());
    INFO(m << "x" << n);
    CHECK(relative_error(r.X, X) <= tol);
    CHECK(r.converged());
    for (std::size_t j = 0; j < 4; ++j) {
      // the reported norms describe the returned X
      const double normr = (dense(A).template cast<double>() * r.X.col(j).template cast<double>() -
                            B.col(j).template cast<double>())
                               .norm();
      const double normb = B.col(j).template cast<double>().norm();
      CHECK(std::abs(double(r.normr[j]) - normr) <=
            (std::is_same<Scalar, float>::value ? 1e-3 : 1e-8) * normb);
      CHECK(double(r.normx[j]) == Approx(r.X.col(j).template cast<double>().norm()).epsilon(1e-6));
    }
  }
}

TEST_CASE("LSMR on a wide problem gives the minimum-norm solution", "[lsmr]") {
  const Csr<double> A = random_sparse<double>(60, 25, 4, 3).transpose();  // 25 x 60
  const Dense<double> b = random_dense<double>(25, 1, 5);
  const auto r = sparsegrad::lsmr(A, b, tight_options<sparsegrad::LsmrOptions<double>>());
  CHECK(relative_error(r.X, dense_lstsq(dense(A), b)) <= 1e-10);
}

TEST_CASE("LSMR with damping solves the ridge problem", "[lsmr]") {
  const auto A = random_sparse<double>(80, 30, 3, 11);
  const Dense<double> b = random_dense<double>(80, 2, 12);
  auto opt = tight_options<sparsegrad::LsmrOptions<double>>();
  opt.damp = 0.7;
  const auto r = sparsegrad::lsmr(A, b, opt);
  const Dense<double> Ad = dense(A);
  const Dense<double> normal = Ad.transpose() * Ad + 0.49 * Dense<double>::Identity(30, 30);
  const Dense<double> X = normal.ldlt().solve(Ad.transpose() * b);
  CHECK(relative_error(r.X, X) <= 1e-10);
}

TEST_CASE("LSMR: b = 0 gives x = 0 with istop 0, and a warm start converges to the same x",
          "[lsmr]") {
  const auto A = random_sparse<double>(50, 20, 3, 21);
  const auto zero = sparsegrad::lsmr(A, Dense<double>::Zero(50, 1));
  CHECK(zero.istop[0] == 0);
  CHECK(zero.itn[0] == 0);
  CHECK(zero.X.norm() == 0);

  // From x0 with ‖x0 − x*‖ ≈ 1e-3‖x*‖, ‖Aᵀr₀‖ starts about 1e3 times below its value at x = 0,
  // so the warm solve meets the same test in fewer steps, provided the cold one stops well
  // before n: with n = 20 both can run to the finite-termination step n (seen under clang -O1),
  // so this part uses a 400 x 200 A.
  const auto A2 = random_sparse<double>(400, 200, 3, 24);
  const Dense<double> b = random_dense<double>(400, 1, 22);
  auto opt = tight_options<sparsegrad::LsmrOptions<double>>();
  const Dense<double> X = dense_lstsq(dense(A2), b);
  opt.x0 = X + 1e-3 * X.norm() / std::sqrt(200.0) * random_dense<double>(200, 1, 23);
  const auto warm = sparsegrad::lsmr(A2, b, opt);
  CHECK(relative_error(warm.X, X) <= 1e-10);
  const auto cold = sparsegrad::lsmr(A2, b, tight_options<sparsegrad::LsmrOptions<double>>());
  INFO("iterations: warm " << warm.itn[0] << ", cold " << cold.itn[0]);
  REQUIRE(cold.itn[0] < 150);
  CHECK(warm.itn[0] < cold.itn[0]);

  // a starting point that already solves the problem: no iteration at all
  opt.x0 = X;
  opt.atol = opt.btol = 1e-8;
  CHECK(sparsegrad::lsmr(A2, b, opt).itn[0] <= 1);
}

TEST_CASE("LSMR on many right-hand sides equals separate runs", "[lsmr]") {
  const auto A = load_matrix("well1033.mtx");
  Dense<double> B(A.rows(), 4);
  B.col(0) = sparsegrad::read_dense_matrix_market_file<double>(data_path("well1033_rhs1.mtx"));
  B.col(1).setZero();                                          // stops at once
  B.col(2) = A * Eigen::VectorXd::LinSpaced(A.cols(), -1, 1);  // compatible system
  B.col(3) = generated_rhs(A.rows());
  const auto block = sparsegrad::lsmr(A, B);
  for (Eigen::Index j = 0; j < 4; ++j) {
    const auto single = sparsegrad::lsmr(A, Dense<double>(B.col(j)));
    INFO("column " << j);
    CHECK(block.istop[j] == single.istop[0]);
    CHECK(block.itn[j] == single.itn[0]);
    CHECK(relative_error(block.X.col(j), single.X.col(0)) <= 1e-12);
  }
  CHECK(block.istop[1] == 0);
  CHECK(block.istop[2] == 1);
}

TEST_CASE("lsmr() reports failure without throwing; the Lsmr functor throws by default", "[lsmr]") {
  const auto A = load_matrix("well1033.mtx");
  const Dense<double> b =
      sparsegrad::read_dense_matrix_market_file<double>(data_path("well1033_rhs1.mtx"));
  sparsegrad::LsmrOptions<double> opt;
  opt.maxiter = 5;
  const auto r = sparsegrad::lsmr(A, b, opt);
  CHECK(r.istop[0] == 7);
  CHECK(r.itn[0] == 5);
  CHECK_FALSE(r.converged());

  sparsegrad::Lsmr<double> solver(opt);
  try {
    solver(A, b);
    FAIL("expected convergence_error");
  } catch (const sparsegrad::convergence_error& e) {
    CHECK(std::string(e.what()).find("istop 7") != std::string::npos);
    REQUIRE(e.diagnostics().istop.size() == 1);
    CHECK(e.diagnostics().istop[0] == 7);
    CHECK(e.diagnostics().itn[0] == 5);
    CHECK(e.diagnostics().normr[0] == Approx(double(r.normr[0])));
  }
  solver.options.throw_on_failure = false;
  const Dense<double> X = solver(A, b);
  CHECK(solver.last().istop[0] == 7);
  CHECK(relative_error(X, r.X) == 0);

  opt.maxiter.reset();
  opt.conlim = 10;
  CHECK(sparsegrad::lsmr(A, b, opt).istop[0] == 3);
}

TEMPLATE_TEST_CASE("LSMR accepts every format and a user operator", "[lsmr]", float, double) {
  using Scalar = TestType;
  const auto A = random_sparse<Scalar>(60, 20, 3, 31);
  const Dense<Scalar> b = random_dense<Scalar>(60, 1, 32);
  const auto reference = sparsegrad::lsmr(A, b);
  const Csc<Scalar> csc = A;
  const auto coo = sparsegrad::to_coo(A);
  Eigen::Map<const Csr<Scalar>> map(A.rows(), A.cols(), A.nonZeros(), A.outerIndexPtr(),
                                    A.innerIndexPtr(), A.valuePtr());
  const double tol = std::is_same<Scalar, float>::value ? 1e-5 : 1e-13;
  CHECK(relative_error(sparsegrad::lsmr(csc, b).X, reference.X) <= tol);
  CHECK(relative_error(sparsegrad::lsmr(coo, b).X, reference.X) <= tol);
  CHECK(relative_error(sparsegrad::lsmr(map, b).X, reference.X) <= tol);
  // any object with rows/cols/apply/apply_adjoint is an operator
  const sparsegrad::SparseOperator<Csr<Scalar>> op(A);
  CHECK(relative_error(sparsegrad::lsmr(op, b).X, reference.X) == 0);
}
