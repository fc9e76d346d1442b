// The trust contract (docs/accuracy.md): at the defaults a call returns normally only with an
// estimated relative error below the documented tolerance, and then the actual error is below
// it too; otherwise it throws. One test per defect the contract fixed, each against dense
// references (complete orthogonal decomposition, the dense adjoint formula); each failed before
// the contract was introduced.
//
// Tolerances used below, and where they come from:
//   error_tolerance (x) = eps^(1/3) = 6.1e-6, gradient_tolerance = eps^(1/4) = 1.2e-4 (double);
//   the estimates are not rigorous bounds (σ_min is estimated from above by the bidiagonal, see
//   krylov/bidiagonal.hpp), so an actual error is allowed up to kSlack = 10 times the
//   tolerance; a dense reference on a matrix of condition κ carries its own error of about
//   eps·κ² (least-squares perturbation theory), added to the allowance.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <sparsegrad/sparsegrad.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace testing;

namespace {

constexpr double kSlack = 10;
const double kEps = std::numeric_limits<double>::epsilon();
const double kXTol = std::cbrt(kEps), kGradTol = std::sqrt(std::sqrt(kEps));

/// A shipped right-hand side (m x 1).
Dense<double> rhs(const char* name) {
  return sparsegrad::read_dense_matrix_market_file<double>(data_path(name));
}

/// A with column j multiplied by `factor`.
Csr<double> scale_column(Csr<double> A, Eigen::Index j, double factor) {
  for (Eigen::Index o = 0; o < A.outerSize(); ++o)
    for (Csr<double>::InnerIterator it(A, o); it; ++it)
      if (it.col() == j) it.valueRef() *= factor;
  return A;
}

/// A with column j scaled by 10^(−p j/(n−1)) (columns × logspace(0, −p)).
Csr<double> logspace_columns(Csr<double> A, double p) {
  const double n = double(A.cols());
  for (Eigen::Index o = 0; o < A.outerSize(); ++o)
    for (Csr<double>::InnerIterator it(A, o); it; ++it)
      it.valueRef() *= std::pow(10.0, -p * double(it.col()) / (n - 1));
  return A;
}

double cond2(const Dense<double>& A) {
  Eigen::JacobiSVD<Dense<double>> svd(A);
  const auto& s = svd.singularValues();
  return s[0] / s[s.size() - 1];
}

/// Runs lstsq + lstsq_backward at the defaults and checks the contract against the dense
/// references: a normal return is accurate (x to the error tolerance, dA and dB to the gradient
/// tolerance, with kSlack and the reference's eps·κ²); a refusal is convergence_error.
struct Outcome {
  bool forward_ok = false, backward_ok = false;
  double error_x = 0, error_dA = 0, error_dB = 0;
};
Outcome check_defaults(const Csr<double>& A, const Dense<double>& b, const Dense<double>& dx) {
  const Dense<double> Ad = dense(A);
  const double reference = kEps * std::pow(cond2(Ad), 2);
  const auto ref = dense_adjoint(Ad, b, dx);
  const Dense<double> xref = dense_lstsq(Ad, b);
  Outcome out;
  Dense<double> x;
  try {
    sparsegrad::Lsmr<double> solver;
    x = sparsegrad::lstsq(A, b, solver);
    out.forward_ok = true;
    out.error_x = relative_error(x, xref);
    INFO("x error " << out.error_x << ", estimated " << solver.last().error[0]);
    CHECK(out.error_x <= kSlack * kXTol + reference);
    auto g = sparsegrad::lstsq_backward(A, b, x, dx, solver);
    out.backward_ok = true;
    out.error_dA = relative_error(stored_values(g.A), values_at_pattern(A, ref.dA));
    out.error_dB = relative_error(g.B, ref.dB);
    INFO("dA error " << out.error_dA << " (estimated " << g.error_A << "), dB error "
                     << out.error_dB << " (estimated " << g.error_B << ")");
    CHECK(out.error_dA <= kSlack * kGradTol + reference);
    CHECK(out.error_dB <= kSlack * kGradTol + reference);
    CHECK(g.error_A <= kGradTol);
    CHECK(g.error_B <= kGradTol);
  } catch (const sparsegrad::convergence_error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).size() > 0);
  }
  return out;
}

}  // namespace

TEST_CASE("a badly scaled column gives the right x and gradients at the defaults") {
  // ash219 (κ 3.0) with column 0 × 1e-4 (κ ~ 1e4): the scaled problem is the well-conditioned
  // one, so both passes must succeed, not merely refuse.
  const Csr<double> A0 = load_matrix("ash219.mtx");
  for (double factor : {1e-3, 1e-4, 1e-5}) {
    const Csr<double> A = scale_column(A0, 0, factor);
    const Dense<double> b = random_dense<double>(A.rows(), 1, 7);
    const Dense<double> dx = random_dense<double>(A.cols(), 1, 8);
    INFO("column 0 x " << factor);
    const Outcome o = check_defaults(A, b, dx);
    CHECK(o.forward_ok);
    CHECK(o.backward_ok);
  }
}

TEST_CASE("column scaling is on by default and applies to the backward's CRAIG") {
  const Csr<double> A = scale_column(load_matrix("well1033.mtx"), 3, 1e-4);
  const Dense<double> b = rhs("well1033_rhs1.mtx");
  const Dense<double> dx = random_dense<double>(A.cols(), 1, 3);
  const Outcome o = check_defaults(A, b, dx);
  CHECK(o.forward_ok);
  CHECK(o.backward_ok);
}

TEST_CASE("following the advice of a refusal gives an accurate answer") {
  // illc1850 (κ 1.4e3) and lp_share1b_T (κ 1.05e5): each call either returns an accurate
  // result or throws; after a refusal that advises more iterations, ten times maxiter must
  // again either be accurate or throw, never return a wrong answer.
  for (const char* name : {"illc1850.mtx", "lp_share1b_T.mtx", "lp_e226_T.mtx"}) {
    INFO(name);
    const Csr<double> A = load_matrix(name);
    const Dense<double> b = random_dense<double>(A.rows(), 1, 11);
    const Dense<double> dx = random_dense<double>(A.cols(), 1, 12);
    const Dense<double> Ad = dense(A);
    const Dense<double> xref = dense_lstsq(Ad, b);
    const double reference = kEps * std::pow(cond2(Ad), 2);
    for (long limit : {0L, 10L}) {
      sparsegrad::Lsmr<double> solver;
      if (limit) solver.options.maxiter = limit * (A.rows() + A.cols()) * 10;
      try {
        const Dense<double> x = sparsegrad::lstsq(A, b, solver);
        CHECK(relative_error(x, xref) <= kSlack * kXTol + reference);
      } catch (const sparsegrad::convergence_error& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).find("options.") != std::string::npos);
      }
    }
  }
}

TEST_CASE("the rank decision does not depend on dX for full-rank ill-conditioned A") {
  // illc1033 (κ 1.9e4) and columns × logspace(0, −4), logspace(0, −5): full column rank, so
  // no dX may make the backward refuse A as rank-deficient (std::domain_error).
  std::vector<Csr<double>> cases = {load_matrix("illc1033.mtx"),
                                    logspace_columns(load_matrix("well1033.mtx"), 4),
                                    logspace_columns(load_matrix("well1033.mtx"), 5)};
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Csr<double>& A = cases[c];
    const Dense<double> b = random_dense<double>(A.rows(), 1, 21);
    for (unsigned seed = 0; seed < 10; ++seed) {
      INFO("case " << c << ", dX seed " << seed);
      const Dense<double> dx = random_dense<double>(A.cols(), 1, 100 + seed);
      sparsegrad::Lsmr<double> solver;
      solver.options.throw_on_failure = false;
      const Dense<double> x = sparsegrad::lstsq(A, b, solver);
      CHECK_NOTHROW(sparsegrad::lstsq_backward(A, b, x, dx, solver));
    }
  }
}

TEST_CASE("a rank-deficient A is still refused, with the singular values in the message") {
  const Csr<double> A = load_matrix("abb313.mtx");  // rank 128 of 176
  const Dense<double> b = random_dense<double>(A.rows(), 1, 5);
  const Dense<double> dx = random_dense<double>(A.cols(), 1, 6);
  sparsegrad::Lsmr<double> solver;
  solver.options.throw_on_failure = false;
  const Dense<double> x = sparsegrad::lstsq(A, b, solver);
  CHECK_THROWS_WITH(sparsegrad::lstsq_backward(A, b, x, dx, solver),
                    Catch::Contains("rank-deficient") && Catch::Contains("singular values"));
}

TEST_CASE("a structurally empty column decouples: x_j = 0 and the gradient exists") {
  // ash219 with one extra column that has no stored entry. Reference: the problem without that
  // column (x_j = 0 is the minimum-norm choice; dA has no entry in it, dB is that of the rest).
  const Csr<double> A0 = load_matrix("ash219.mtx");
  Csr<double> A(A0.rows(), A0.cols() + 1);
  std::vector<Eigen::Triplet<double>> t;
  for (Eigen::Index o = 0; o < A0.outerSize(); ++o)
    for (Csr<double>::InnerIterator it(A0, o); it; ++it)
      t.emplace_back(int(it.row()), int(it.col() < 10 ? it.col() : it.col() + 1), it.value());
  A.setFromTriplets(t.begin(), t.end());  // column 10 is empty
  const Dense<double> b = random_dense<double>(A.rows(), 1, 31);
  const Dense<double> dx = random_dense<double>(A.cols(), 1, 32);
  Dense<double> dx0(A0.cols(), 1);
  dx0 << dx.topRows(10), dx.bottomRows(A0.cols() - 10);
  const auto ref = dense_adjoint(dense(A0), b, dx0);
  const Dense<double> x = sparsegrad::lstsq(A, b);
  CHECK(x(10, 0) == 0);
  Dense<double> x0(A0.cols(), 1);
  x0 << x.topRows(10), x.bottomRows(A0.cols() - 10);
  CHECK(relative_error(x0, dense_lstsq(dense(A0), b)) <= kSlack * kXTol);
  const auto g = sparsegrad::lstsq_backward(A, b, x, dx);
  CHECK(relative_error(g.B, ref.dB) <= kSlack * kGradTol);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A0, ref.dA)) <= kSlack * kGradTol);
}

TEST_CASE("a column whose stored entries are all zero is refused by the backward") {
  Csr<double> A = load_matrix("ash219.mtx");
  A = scale_column(A, 4, 0.0);
  const Dense<double> b = random_dense<double>(A.rows(), 1, 41);
  const Dense<double> dx = random_dense<double>(A.cols(), 1, 42);
  const Dense<double> x = sparsegrad::lstsq(A, b);
  CHECK(x(4, 0) == 0);
  CHECK_THROWS_WITH(sparsegrad::lstsq_backward(A, b, x, dx),
                    Catch::Contains("column 4") && Catch::Contains("all zero"));
}

TEST_CASE("float data solve in double and are accurate to float precision") {
  // well1033 (κ 166) and illc1850 (κ 1.4e3) in float: x within 1e-5 of the double reference
  // (float rounding 6e-8 plus the double solve's tolerance), gradients within 1e-3.
  for (const char* name : {"well1033.mtx", "illc1850.mtx"}) {
    INFO(name);
    const Csr<double> A = load_matrix(name);
    const Csr<float> Af = A.cast<float>();
    const Dense<double> b = random_dense<double>(A.rows(), 1, 51);
    const Dense<float> bf = b.cast<float>();
    const Dense<double> dx = random_dense<double>(A.cols(), 1, 52);
    const Dense<double> Ad = dense(Af.cast<double>());
    const auto ref = dense_adjoint(Ad, bf.cast<double>(), dx.cast<float>().cast<double>());
    const Dense<float> x = sparsegrad::lstsq(Af, bf);
    CHECK(relative_error(x, dense_lstsq(Ad, bf.cast<double>())) <= 1e-5);
    const auto g = sparsegrad::lstsq_backward(Af, bf, x, Dense<float>(dx.cast<float>()));
    CHECK(relative_error(g.B, ref.dB) <= 1e-3);
    CHECK(relative_error(stored_values(g.A), values_at_pattern(Af, ref.dA)) <= 1e-3);
  }
}

TEST_CASE("float without mixed precision refuses rather than report success") {
  // illc1850 (κ 1.4e3) in float arithmetic: eps_f κ² ≈ 0.2, so no solve can reach the error
  // tolerance; a normal return would be silently wrong.
  const Csr<float> A = load_matrix("illc1850.mtx").cast<float>();
  const Dense<float> b = random_dense<double>(A.rows(), 1, 61).cast<float>();
  sparsegrad::LsmrOptions<float> opt;
  opt.mixed_precision = false;
  opt.atol = opt.btol = 1e-7f;
  sparsegrad::Lsmr<float> solver(opt);
  CHECK_THROWS_AS(sparsegrad::lstsq(A, b, solver), sparsegrad::convergence_error);
}

TEST_CASE("maxiter = 0 is an iteration-limit failure, not a solution") {
  const Csr<double> A = load_matrix("ash219.mtx");
  const Dense<double> b = random_dense<double>(A.rows(), 1, 71);
  sparsegrad::Lsmr<double> solver;
  solver.options.maxiter = 0;
  solver.options.throw_on_failure = false;
  (void)sparsegrad::lstsq(A, b, solver);
  CHECK(solver.last().stop(0) == sparsegrad::Stop::iteration_limit);
  solver.options.throw_on_failure = true;
  CHECK_THROWS_AS(sparsegrad::lstsq(A, b, solver), sparsegrad::convergence_error);
}

TEST_CASE("A and b scaled by 1e-170 (or 1e+150) solve as the unscaled problem") {
  const Csr<double> A0 = load_matrix("well1033.mtx");
  const Dense<double> b0 = random_dense<double>(A0.rows(), 1, 81);
  const Dense<double> xref = dense_lstsq(dense(A0), b0);
  for (double s : {1e-170, 1e150}) {
    INFO("scale " << s);
    const Csr<double> A = A0 * s;
    const Dense<double> b = b0 * s;
    sparsegrad::Lsmr<double> solver;
    const Dense<double> x = sparsegrad::lstsq(A, b, solver);
    CHECK(solver.last().stop(0) != sparsegrad::Stop::zero_solution);
    CHECK(relative_error(x, xref) <= kSlack * kXTol);
  }
}

TEST_CASE("every default call can report diagnostics, forward and backward apart") {
  const Csr<double> A = load_matrix("well1033.mtx");
  const Dense<double> b = random_dense<double>(A.rows(), 2, 91);
  const auto r = sparsegrad::lstsq_with_diagnostics(A, b);
  REQUIRE(r.diagnostics.size() == 2);
  const Dense<double> xref = dense_lstsq(dense(A), b);
  for (std::size_t j = 0; j < 2; ++j) {
    CHECK(!sparsegrad::failed(r.diagnostics.stop(j)));
    CHECK(r.diagnostics.error[j] <= kXTol);
    CHECK(relative_error(r.X.col(Eigen::Index(j)), xref.col(Eigen::Index(j))) <=
          kSlack * std::max(r.diagnostics.error[j], kEps));
    // σ estimates bracket the true extreme singular values of the column-scaled A from inside.
    CHECK(r.diagnostics.sigma_min[j] > 0);
    CHECK(r.diagnostics.sigma_max[j] >= r.diagnostics.sigma_min[j]);
  }
  sparsegrad::Lsmr<double> solver;
  const Dense<double> x = sparsegrad::lstsq(A, b, solver);
  const int forward_itn = solver.last().itn[0];
  const auto g = sparsegrad::lstsq_backward(A, b, x, random_dense<double>(A.cols(), 2, 92), solver);
  CHECK(solver.last().itn[0] == forward_itn);
  CHECK(g.diagnostics.size() == 2);
  CHECK(g.error_A <= kGradTol);
}

TEST_CASE("default calls from several threads agree with the serial result") {
  // The documented rule: calls are independent unless they share a solver object (one solver
  // object per thread). The ThreadSanitizer build of this file (ctest thread_safety) checks it.
  const Csr<double> A = load_matrix("well1033.mtx");
  const Dense<double> b = random_dense<double>(A.rows(), 1, 95);
  const Dense<double> serial = sparsegrad::lstsq(A, b);
  std::vector<Dense<double>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] { results[t] = sparsegrad::lstsq(A, b); });
  for (auto& th : threads) th.join();
  for (const auto& x : results) CHECK(x == serial);
}

TEST_CASE("the default maxiter lets illc1033 (571 iterations for n = 320) converge") {
  const Csr<double> A = load_matrix("illc1033.mtx");
  const Dense<double> b = rhs("illc1033_rhs1.mtx");
  sparsegrad::Lsmr<double> solver;
  const Dense<double> x = sparsegrad::lstsq(A, b, solver);
  CHECK(solver.last().itn[0] > A.cols());
  CHECK(relative_error(x, dense_lstsq(dense(A), b)) <=
        kSlack * kXTol + kEps * std::pow(cond2(dense(A)), 2));
}

TEST_CASE("scipy_compatible keeps scipy's semantics (maxiter = min(m, n), no trust gate)") {
  const Csr<double> A = load_matrix("illc1033.mtx");
  const Dense<double> b = rhs("illc1033_rhs1.mtx");
  sparsegrad::Lsmr<double> solver(sparsegrad::LsmrOptions<double>::scipy());
  solver.options.throw_on_failure = false;
  (void)sparsegrad::lstsq(A, b, solver);
  CHECK(solver.last().itn[0] <= A.cols());
}

namespace {

/// The pseudo-inverse adjoint evaluated densely (Golub & Pereyra 1973): X = A⁺B, dB = (Aᵀ)⁺dX,
/// H = A⁺dB, W = (Aᵀ)⁺X, dA = −dB Xᵀ − r Hᵀ + W (dX − A⁺A dX)ᵀ.
DenseAdjoint dense_pinv_adjoint(const Dense<double>& A, const Dense<double>& B,
                                const Dense<double>& dX) {
  const auto cod = A.completeOrthogonalDecomposition();
  const auto codt = Dense<double>(A.transpose()).completeOrthogonalDecomposition();
  const Dense<double> X = cod.solve(B);
  DenseAdjoint out;
  out.dB = codt.solve(dX);
  out.H = cod.solve(out.dB);
  const Dense<double> W = codt.solve(X);
  const Dense<double> NdX = dX - cod.solve(Dense<double>(A * dX));
  out.dA = -out.dB * X.transpose() - (A * X - B) * out.H.transpose() + W * NdX.transpose();
  return out;
}

}  // namespace

TEST_CASE("rank_deficient = pseudo_inverse: the gradient of X = A+ B on a rank-deficient A") {
  // abb313: rank 128 of 176, condition of the range 55.5. Reference: the dense three-term
  // formula; then central differences of L(t) = <dX, A(t)+ B> along A(t) = (I + tP) A (I + tQ),
  // P, Q diagonal, i.e. A(t)_ij = (1 + t p_i)(1 + t q_j) A_ij: the pattern and the rank stay
  // (an additive A + tE would not keep the rank, and A⁺ is not differentiable across a rank
  // change), and dA(t)/dt at 0 is (p_i + q_j) A_ij. Tolerances: both solves converge to the
  // error tolerance 6e-6 on a range
  // of condition 55, so the gradient is good to ~1e-5 relative; central differences with
  // h = 1e-5 have truncation error O(h²) ≈ 1e-10 relative.
  const Csr<double> A = load_matrix("abb313.mtx");
  const Dense<double> Ad = dense(A);
  const Dense<double> b = random_dense<double>(A.rows(), 2, 201);
  const Dense<double> dx = random_dense<double>(A.cols(), 2, 202);
  sparsegrad::Lsmr<double> solver;
  solver.options.rank_deficient = sparsegrad::RankDeficient::pseudo_inverse;
  const Dense<double> x = sparsegrad::lstsq(A, b, solver);
  CHECK(relative_error(x, dense_lstsq(Ad, b)) <= kSlack * kXTol);
  const auto g = sparsegrad::lstsq_backward(A, b, x, dx, solver);
  const auto ref = dense_pinv_adjoint(Ad, b, dx);
  CHECK(relative_error(g.B, ref.dB) <= 1e-4);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-4);

  const Eigen::VectorXd p = random_dense<double>(A.rows(), 1, 203).col(0);
  const Eigen::VectorXd q = random_dense<double>(A.cols(), 1, 204).col(0);
  auto perturbed = [&](double t) {
    Dense<double> At = Ad;
    for (Eigen::Index i = 0; i < At.rows(); ++i)
      for (Eigen::Index j = 0; j < At.cols(); ++j) At(i, j) *= (1 + t * p[i]) * (1 + t * q[j]);
    return At;
  };
  auto loss = [&](double t) { return (dx.array() * dense_lstsq(perturbed(t), b).array()).sum(); };
  const double h = 1e-5;
  const double fd = (loss(h) - loss(-h)) / (2 * h);
  double directional = 0;  // <dA, dA(t)/dt> over the stored entries
  for (Eigen::Index o = 0; o < g.A.outerSize(); ++o)
    for (Csr<double>::InnerIterator it(g.A, o); it; ++it)
      directional += it.value() * Ad(it.row(), it.col()) * (p[it.row()] + q[it.col()]);
  CHECK(directional == Approx(fd).epsilon(1e-4));
}

TEST_CASE("rank_deficient = refuse stays the default for the same matrix") {
  const Csr<double> A = load_matrix("abb313.mtx");
  const Dense<double> b = random_dense<double>(A.rows(), 1, 211);
  sparsegrad::Lsmr<double> solver;
  const Dense<double> x = sparsegrad::lstsq(A, b, solver);
  CHECK_THROWS_AS(
      sparsegrad::lstsq_backward(A, b, x, random_dense<double>(A.cols(), 1, 212), solver),
      std::domain_error);
}
