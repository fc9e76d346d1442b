// Warm start, column scaling, user right preconditioners and the iteration callback of LSMR:
// same solutions as the dense reference, fewer iterations where they should help, refusals
// where they would change the solution the gradient differentiates, istop 8 on a stop request.
#include <catch2/catch.hpp>
#include <sparsegrad/lstsq.hpp>
#include <sparsegrad/preconditioner.hpp>

#include "dense_reference.hpp"

using namespace testing;

namespace {

/// Column scales 10^(-3 .. 3).
Eigen::VectorXd scales(Eigen::Index n) {
  Eigen::VectorXd s(n);
  for (Eigen::Index j = 0; j < n; ++j) s[j] = std::pow(10.0, -3.0 + 6.0 * double(j) / double(n));
  return s;
}

/// A S: badly scaled columns, same column space; its solution is S⁻¹ x.
Csr<double> badly_scaled(const Csr<double>& A) {
  return A * scales(A.cols()).asDiagonal();
}

}  // namespace

TEST_CASE("column scaling gives the same solution with fewer iterations on badly scaled columns",
          "[preconditioning]") {
  for (const char* name : {"well1033.mtx", "illc1033.mtx", "lp_e226_T.mtx"}) {
    DYNAMIC_SECTION(name) {
      const Csr<double> A0 = load_matrix(name);
      const Csr<double> A = badly_scaled(A0);
      const Dense<double> b = generated_rhs(A.rows());
      const Dense<double> X0 = dense_lstsq(dense(A0), b);  // in the unscaled variables
      auto opt = tight_options<sparsegrad::LsmrOptions<double>>(20000);
      opt.throw_on_failure = false;
      opt.column_scaling = false;  // (on by default for tall undamped A)
      const auto plain = sparsegrad::lsmr(A, b, opt);
      opt.column_scaling = true;
      const auto scaled = sparsegrad::lsmr(A, b, opt);
      INFO("iterations " << plain.itn[0] << " -> " << scaled.itn[0]);
      CHECK(scaled.converged());
      CHECK(scaled.itn[0] < plain.itn[0]);
      CHECK(relative_error(Dense<double>(scales(A.cols()).asDiagonal() * scaled.X), X0) <= 1e-6);
      CHECK(scaled.normx[0] == Approx(scaled.X.norm()).epsilon(1e-12));
    }
  }
}

TEST_CASE("a user preconditioner is applied as x = M y", "[preconditioning]") {
  const Csr<double> A = badly_scaled(random_sparse<double>(200, 60, 3, 5));
  const Dense<double> B = random_dense<double>(200, 3, 6);
  const Dense<double> X = dense_lstsq(dense(A), B);
  // M = diag of 1/‖a_j‖ through two lambdas, counting the products
  Eigen::VectorXd d(A.cols());
  for (Eigen::Index j = 0; j < A.cols(); ++j) d[j] = 1 / A.col(j).norm();
  int applies = 0, adjoints = 0;
  auto opt = tight<double>();
  opt.preconditioner = sparsegrad::make_preconditioner<double>(
      A.cols(),
      [&](const Dense<double>& V, Dense<double>& Y) { Y = d.asDiagonal() * V, ++applies; },
      [&](const Dense<double>& V, Dense<double>& Y) { Y = d.asDiagonal() * V, ++adjoints; });
  sparsegrad::Lsmr<double> solver(opt);
  const Dense<double> Xp = sparsegrad::lstsq(A, B, solver);
  CHECK(relative_error(Xp, X) <= 1e-8);
  CHECK(applies > 0);
  CHECK(adjoints > 0);
  // the backward pass ignores the preconditioner: the gradient of the same solution
  const auto A1 = random_sparse<double>(200, 60, 3, 5);
  const Dense<double> dX = random_dense<double>(60, 3, 7);
  auto opt1 = tight<double>();
  opt1.column_scaling = true;
  sparsegrad::Lsmr<double> scaled(opt1);
  const auto g = sparsegrad::lstsq_backward(A1, B, sparsegrad::lstsq(A1, B, scaled), dX, scaled);
  const auto ref = dense_adjoint(dense(A1), B, dX);
  CHECK(relative_error(g.B, ref.dB) <= 1e-8);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A1, ref.dA)) <= 1e-8);
  // with a warm start: x = x0 + M y
  opt.x0 = X + 1e-3 * random_dense<double>(60, 3, 8);
  const auto warm = sparsegrad::lsmr(A, B, opt);
  CHECK(relative_error(warm.X, X) <= 1e-8);
  // the built-in diagonal one
  opt.preconditioner = std::make_shared<sparsegrad::DiagonalPreconditioner<double>>(d);
  CHECK(relative_error(sparsegrad::lsmr(A, B, opt).X, X) <= 1e-8);
}

TEST_CASE("a warm start near the solution saves iterations on the real matrices",
          "[preconditioning][warm]") {
  for (const char* name : {"well1850.mtx", "illc1033.mtx"}) {
    DYNAMIC_SECTION(name) {
      const auto A = load_matrix(name);
      const Dense<double> b = generated_rhs(A.rows());
      const Dense<double> X = dense_lstsq(dense(A), b);
      auto opt = tight_options<sparsegrad::LsmrOptions<double>>(100000);
      opt.atol = opt.btol = 1e-10;
      const auto cold = sparsegrad::lsmr(A, b, opt);
      opt.x0 =
          X + 1e-6 * X.norm() / std::sqrt(double(X.size())) * random_dense<double>(X.rows(), 1, 3);
      sparsegrad::Lsmr<double> solver(opt);
      const Dense<double> Xw = sparsegrad::lstsq(A, b, solver);
      INFO("iterations " << cold.itn[0] << " -> " << solver.last().itn[0]);
      CHECK(solver.last().itn[0] < cold.itn[0]);
      CHECK(relative_error(Xw, X) <= 1e-6);
    }
  }
}

TEST_CASE("warm start and preconditioning are refused where they would change the solution",
          "[preconditioning][errors]") {
  const Csr<double> wide = random_sparse<double>(40, 15, 3, 9).transpose();  // 15 x 40
  const auto tall = random_sparse<double>(40, 15, 3, 10);
  const Dense<double> bw = random_dense<double>(15, 1, 1), bt = random_dense<double>(40, 1, 2);

  auto opt = tight<double>();
  opt.x0 = Dense<double>::Ones(40, 1);
  sparsegrad::Lsmr<double> warm_wide(opt);
  CHECK_THROWS_WITH(sparsegrad::lstsq(wide, bw, warm_wide),
                    Catch::Contains("argument 'options.x0'") && Catch::Contains("wide"));
  // lsmr() keeps scipy's meaning: x0 plus the minimum-norm correction
  const auto r = sparsegrad::lsmr(wide, bw, opt);
  CHECK(relative_error(dense(wide) * r.X, bw) <= 1e-10);

  opt = tight<double>(0.5);
  opt.x0 = Dense<double>::Ones(15, 1);
  sparsegrad::Lsmr<double> warm_damped(opt);
  CHECK_THROWS_WITH(sparsegrad::lstsq(tall, bt, warm_damped),
                    Catch::Contains("argument 'options.x0'") && Catch::Contains("damp"));

  opt = tight<double>();
  opt.column_scaling = true;
  CHECK_THROWS_WITH(
      sparsegrad::lsmr(wide, bw, opt),
      Catch::Contains("argument 'options.column_scaling'") && Catch::Contains("wide"));
  opt.damp = 0.1;
  CHECK_THROWS_WITH(
      sparsegrad::lsmr(tall, bt, opt),
      Catch::Contains("argument 'options.column_scaling'") && Catch::Contains("damp"));
  opt.damp = 0;
  opt.preconditioner =
      std::make_shared<sparsegrad::DiagonalPreconditioner<double>>(Eigen::VectorXd::Ones(15));
  CHECK_THROWS_WITH(sparsegrad::lsmr(tall, bt, opt),
                    Catch::Contains("argument 'options.preconditioner'"));
  opt.column_scaling = false;
  opt.preconditioner =
      std::make_shared<sparsegrad::DiagonalPreconditioner<double>>(Eigen::VectorXd::Ones(14));
  CHECK_THROWS_WITH(
      sparsegrad::lsmr(tall, bt, opt),
      Catch::Contains("argument 'options.preconditioner'") && Catch::Contains("size 15"));
  // solve_adjoint ignores the preconditioner (it belongs to the forward problem)
  opt.preconditioner.reset();
  opt.column_scaling = true;
  sparsegrad::Lsmr<double> scaled(opt);
  CHECK_NOTHROW(scaled.solve_adjoint(tall, random_dense<double>(15, 1, 3)));
}

TEST_CASE("the callback sees every iteration and can stop the solve with istop 8", "[callback]") {
  const auto A = load_matrix("well1033.mtx");
  const Dense<double> B = random_dense<double>(A.rows(), 3, 4);
  auto opt = tight<double>();
  std::vector<int> seen;
  std::size_t most_columns = 0;
  bool norms_ok = true;
  opt.callback = [&](const sparsegrad::LsmrProgress<double>& p) {
    seen.push_back(p.itn);
    most_columns = std::max(most_columns, p.column.size());
    for (std::size_t c = 0; c < p.column.size(); ++c)
      norms_ok = norms_ok && p.normr[c] >= 0 && p.normar[c] >= 0 && p.normx[c] > 0 &&
                 p.istop[c] >= 0 && p.column[c] < 3;
    return true;
  };
  const auto full = sparsegrad::lsmr(A, B, opt);
  const int itn = *std::max_element(full.itn.begin(), full.itn.end());
  REQUIRE(int(seen.size()) == itn);
  for (int i = 0; i < itn; ++i) CHECK(seen[std::size_t(i)] == i + 1);
  CHECK(most_columns == 3);
  CHECK(norms_ok);
  // the solution does not depend on a callback that returns true
  auto plain = opt;
  plain.callback = nullptr;
  CHECK(sparsegrad::lsmr(A, B, plain).X == full.X);

  // stop after 5 iterations
  opt.callback = [](const sparsegrad::LsmrProgress<double>& p) { return p.itn < 5; };
  const auto stopped = sparsegrad::lsmr(A, B, opt);
  for (int j = 0; j < 3; ++j) {
    CHECK(stopped.istop[std::size_t(j)] == 8);
    CHECK(stopped.itn[std::size_t(j)] == 5);
  }
  CHECK_FALSE(stopped.converged());
  CHECK(sparsegrad::lsmr_failed(8));
  CHECK(std::string(sparsegrad::lsmr_stop_reason(8)).find("callback") != std::string::npos);
  sparsegrad::Lsmr<double> solver(opt);
  CHECK_THROWS_AS(sparsegrad::lstsq(A, B, solver), sparsegrad::convergence_error);
  try {
    sparsegrad::lstsq(A, B, solver);
  } catch (const sparsegrad::convergence_error& e) {
    CHECK(e.diagnostics().istop[0] == 8);
    CHECK(std::string(e.what()).find("callback") != std::string::npos);
  }
  solver.options.throw_on_failure = false;
  CHECK_NOTHROW(sparsegrad::lstsq(A, B, solver));
  CHECK(solver.last().istop[1] == 8);
}
