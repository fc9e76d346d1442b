// lstsq and lstsq_backward against dense QR, the dense adjoint formula and finite differences.
#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <numeric>
#include <sparsegrad/lstsq.hpp>

#include "dense_reference.hpp"
#include "test_support.hpp"

using namespace testing;

namespace {

/// Accuracy expected of a tight solve and its gradient against the dense references.
template <class Scalar>
double expected_accuracy() {
  return std::is_same<Scalar, float>::value ? 1e-3 : 1e-8;
}

}  // namespace

TEMPLATE_TEST_CASE("lstsq matches dense QR on random tall and square problems", "[lstsq]", float,
                   double) {
  using Scalar = TestType;
  for (auto [m, n] : {std::pair<int, int>{30, 10}, {200, 50}, {500, 100}, {80, 80}}) {
    const auto A = random_sparse<Scalar>(m, n, 3, unsigned(7 * m + n));
    const Dense<Scalar> B = random_dense<Scalar>(m, 4, 3);
    const Dense<double> X =
        dense_lstsq(dense(A).template cast<double>(), B.template cast<double>());
    sparsegrad::Lsmr<Scalar> solver(tight<Scalar>());
    INFO(m << "x" << n);
    const Dense<Scalar> Xk = sparsegrad::lstsq(A, B, solver);
    CHECK(relative_error(Xk, X) <= expected_accuracy<Scalar>());
    // a vector B gives a vector X
    const Eigen::Matrix<Scalar, Eigen::Dynamic, 1> b = B.col(0);
    const Eigen::Matrix<Scalar, Eigen::Dynamic, 1> x = sparsegrad::lstsq(A, b, solver);
    CHECK(relative_error(x, X.col(0)) <= expected_accuracy<Scalar>());
  }
}

TEST_CASE("lstsq on the shipped real matrices is as accurate as the conditioning allows",
          "[lstsq][real]") {
  // Forward error bound of least squares (Higham, Accuracy and Stability, eq. 20.1):
  //   ‖Δx‖/‖x‖ ≲ u (κ + κ² ‖r‖ / (‖A‖ ‖x‖)),  with a safety factor of 100.
  for (const char* name :
       {"lp_afiro_T.mtx", "ash219.mtx", "well1033.mtx", "illc1033.mtx", "lp_e226_T.mtx"}) {
    DYNAMIC_SECTION(name) {
      const auto A = load_matrix(name);
      const Dense<double> Ad = dense(A);
      const Dense<double> b = generated_rhs(A.rows());
      const Eigen::VectorXd sigma = Ad.jacobiSvd().singularValues();
      const double kappa = sigma(0) / sigma(sigma.size() - 1);
      const Dense<double> X = dense_lstsq(Ad, b);
      const double r = (Ad * X - b).norm();
      const double bound = 100 * 1.1e-16 * (kappa + kappa * kappa * r / (sigma(0) * X.norm()));
      auto opt = tight_options<sparsegrad::LsmrOptions<double>>(20000);
      opt.atol = opt.btol = 1e-15;
      sparsegrad::Lsmr<double> solver(opt);
      const Eigen::VectorXd x = sparsegrad::lstsq(A, Eigen::VectorXd(b.col(0)), solver);
      INFO("kappa " << kappa << ", itn " << solver.last().itn[0] << ", istop "
                    << solver.last().istop[0]);
      CHECK(relative_error(x, X.col(0)) <= bound);
    }
  }
}

TEMPLATE_TEST_CASE("lstsq_backward matches the dense adjoint", "[backward]", float, double) {
  using Scalar = TestType;
  for (auto [m, n, k] : {std::tuple<int, int, int>{30, 10, 1}, {120, 40, 4}, {60, 60, 2}}) {
    const auto A = random_sparse<Scalar>(m, n, 3, unsigned(m * n + k));
    const Dense<Scalar> B = random_dense<Scalar>(m, k, 5);
    const Dense<Scalar> dX = random_dense<Scalar>(n, k, 6);
    sparsegrad::Lsmr<Scalar> solver(tight<Scalar>());
    const Dense<Scalar> X = sparsegrad::lstsq(A, B, solver);
    const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
    const auto ref = dense_adjoint(dense(A).template cast<double>(), B.template cast<double>(),
                                   dX.template cast<double>());
    INFO(m << "x" << n << ", k = " << k);
    CHECK(relative_error(g.B, ref.dB) <= expected_accuracy<Scalar>());
    CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <=
          expected_accuracy<Scalar>());
    CHECK(g.damp == 0);
    // the pattern is A's
    CHECK(g.A.nonZeros() == A.nonZeros());
    CHECK(std::equal(A.innerIndexPtr(), A.innerIndexPtr() + A.nonZeros(), g.A.innerIndexPtr()));
  }
}

TEST_CASE("lstsq_backward matches central finite differences in every entry", "[backward][fd]") {
  for (auto [m, n, k] : {std::tuple<int, int, int>{12, 5, 1}, {20, 8, 3}}) {
    const auto A = random_sparse<double>(m, n, 2, unsigned(m + 100 * k));
    const Dense<double> B = random_dense<double>(m, k, 8);
    const Dense<double> dX = random_dense<double>(n, k, 9);
    sparsegrad::Lsmr<double> solver(tight<double>());
    INFO(m << "x" << n << ", k = " << k);
    check_by_finite_differences(A, B, dX, solver);
  }
}

TEST_CASE("the seed's docstring example", "[backward][seed]") {
  const auto A = seed_matrix();
  const Dense<double> Ad = dense(A);
  // vector B and a 5 x 4 matrix B; loss = sum(X), so dX is all ones
  const Eigen::VectorXd b = random_dense<double>(5, 1, 1).col(0);
  const Eigen::VectorXd x = sparsegrad::lstsq(A, b);
  CHECK(x.size() == 3);
  const Dense<double> Bm = random_dense<double>(5, 4, 2);
  const Dense<double> Xm = sparsegrad::lstsq(A, Bm);
  CHECK(Xm.rows() == 3);
  CHECK(Xm.cols() == 4);
  CHECK(relative_error(Xm, dense_lstsq(Ad, Bm)) <= 1e-5);  // default tolerances (1e-6)

  sparsegrad::Lsmr<double> solver(tight<double>());
  const Eigen::VectorXd xt = sparsegrad::lstsq(A, b, solver);
  const auto g = sparsegrad::lstsq_backward(A, b, xt, Eigen::VectorXd::Ones(3), solver);
  // g.A is sparse with exactly A's pattern; g.B has B's shape
  CHECK(g.A.rows == 5);
  CHECK(g.A.cols == 3);
  CHECK(g.A.row == A.row);
  CHECK(g.A.col == A.col);
  CHECK(g.B.size() == 5);
  const auto ref = dense_adjoint(Ad, b, Dense<double>::Ones(3, 1));
  for (Eigen::Index e = 0; e < 8; ++e)
    CHECK(g.A.values[e] == Approx(ref.dA(A.row[e], A.col[e])).margin(1e-10));
  CHECK(relative_error(g.B, ref.dB.col(0)) <= 1e-10);
}

TEST_CASE("COO with shuffled and duplicated entries behaves as its coalesced CSR", "[formats]") {
  const auto csr = random_sparse<double>(40, 12, 3, 77);
  // split every entry into two duplicates (0.25 + 0.75 of its value) and shuffle them
  const auto coalesced = sparsegrad::to_coo(csr);
  const Eigen::Index nnz = coalesced.values.size();
  std::vector<Eigen::Index> order(static_cast<std::size_t>(2 * nnz));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  sparsegrad::CooMatrix<double> coo;
  coo.rows = 40, coo.cols = 12;
  coo.row.resize(2 * nnz), coo.col.resize(2 * nnz), coo.values.resize(2 * nnz);
  for (Eigen::Index p = 0; p < 2 * nnz; ++p) {
    const Eigen::Index src = order[std::size_t(p)] % nnz;
    coo.row[p] = coalesced.row[src], coo.col[p] = coalesced.col[src];
    coo.values[p] = coalesced.values[src] * (order[std::size_t(p)] < nnz ? 0.25 : 0.75);
  }
  const Dense<double> B = random_dense<double>(40, 2, 1), dX = random_dense<double>(12, 2, 2);
  sparsegrad::Lsmr<double> solver(tight<double>());
  const Dense<double> Xc = sparsegrad::lstsq(csr, B, solver);
  const Dense<double> Xo = sparsegrad::lstsq(coo, B, solver);
  CHECK(relative_error(Xo, Xc) <= 1e-12);
  const auto gc = sparsegrad::lstsq_backward(csr, B, Xc, dX, solver);
  const auto go = sparsegrad::lstsq_backward(coo, B, Xo, dX, solver);
  CHECK(relative_error(go.B, gc.B) <= 1e-10);
  // every duplicate gets the full gradient of its (i, j)
  const Dense<double> dA = gc.A.toDense();
  Eigen::VectorXd expected(2 * nnz);
  for (Eigen::Index p = 0; p < 2 * nnz; ++p) expected[p] = dA(coo.row[p], coo.col[p]);
  CHECK(relative_error(go.A.values, expected) <= 1e-10);
  CHECK(go.A.row == coo.row);
  CHECK(go.A.col == coo.col);
}

TEMPLATE_TEST_CASE("CSR, CSC, Map and uncompressed CSR agree", "[formats]", float, double) {
  using Scalar = TestType;
  const auto csr = random_sparse<Scalar>(50, 15, 3, 91);
  const Csc<Scalar> csc = csr;
  Eigen::Map<const Csr<Scalar>> map(csr.rows(), csr.cols(), csr.nonZeros(), csr.outerIndexPtr(),
                                    csr.innerIndexPtr(), csr.valuePtr());
  Csr<Scalar> uncompressed = csr;
  uncompressed.uncompress();
  uncompressed.reserve(Eigen::VectorXi::Constant(50, 2));  // free slots after each row
  REQUIRE_FALSE(uncompressed.isCompressed());
  const Dense<Scalar> B = random_dense<Scalar>(50, 3, 3), dX = random_dense<Scalar>(15, 3, 4);
  sparsegrad::Lsmr<Scalar> solver(tight<Scalar>());
  const Dense<Scalar> X = sparsegrad::lstsq(csr, B, solver);
  const auto g = sparsegrad::lstsq_backward(csr, B, X, dX, solver);
  const double tol = std::is_same<Scalar, float>::value ? 1e-4 : 1e-12;

  const Dense<Scalar> Xc = sparsegrad::lstsq(csc, B, solver);
  const auto gc = sparsegrad::lstsq_backward(csc, B, X, dX, solver);
  CHECK(relative_error(Xc, X) <= tol);
  CHECK(relative_error(Dense<Scalar>(gc.A.toDense()), Dense<Scalar>(g.A.toDense())) <= tol);
  CHECK(relative_error(gc.B, g.B) <= tol);

  const Dense<Scalar> Xm = sparsegrad::lstsq(map, B, solver);
  const auto gm = sparsegrad::lstsq_backward(map, B, X, dX, solver);
  static_assert(std::is_same<decltype(gm.A), Csr<Scalar>>::value, "a Map gives an owning gradient");
  CHECK(relative_error(Xm, X) <= tol);
  CHECK(relative_error(stored_values(gm.A), stored_values(g.A)) <= tol);

  const Dense<Scalar> Xu = sparsegrad::lstsq(uncompressed, B, solver);
  const auto gu = sparsegrad::lstsq_backward(uncompressed, B, X, dX, solver);
  CHECK(relative_error(Xu, X) <= tol);
  CHECK(pattern_of(gu.A) == pattern_of(uncompressed));  // same entries in the same order
  CHECK(relative_error(stored_values(gu.A), stored_values(g.A)) <= tol);
}

TEST_CASE("float agrees with double to float precision", "[formats]") {
  const auto A = random_sparse<double>(100, 30, 3, 17);
  const Dense<double> B = random_dense<double>(100, 2, 1), dX = random_dense<double>(30, 2, 2);
  sparsegrad::Lsmr<double> sd(tight<double>());
  sparsegrad::Lsmr<float> sf(tight<float>());
  const Csr<float> Af = A.cast<float>();
  const Dense<double> X = sparsegrad::lstsq(A, B, sd);
  const Dense<float> Xf = sparsegrad::lstsq(Af, Dense<float>(B.cast<float>()), sf);
  CHECK(relative_error(Xf, X) <= 1e-5);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, sd);
  const auto gf = sparsegrad::lstsq_backward(Af, Dense<float>(B.cast<float>()), Xf,
                                             Dense<float>(dX.cast<float>()), sf);
  CHECK(relative_error(stored_values(gf.A), stored_values(g.A)) <= 1e-4);
  CHECK(relative_error(gf.B, g.B) <= 1e-4);
}

TEST_CASE("any callable is a solver; the two-functor form is the seed's", "[solver]") {
  const auto A = random_sparse<double>(40, 10, 3, 5);
  const Dense<double> B = random_dense<double>(40, 2, 6), dX = random_dense<double>(10, 2, 7);
  const auto ref = dense_adjoint(dense(A), B, dX);
  const Dense<double> Xref = dense_lstsq(dense(A), B);

  // a dense QR "solver" and a dense transpose solver, written as the user would
  int calls = 0;
  const void* seen = nullptr;
  auto qr = [&](const Csr<double>& A_, const Dense<double>& B_) -> Dense<double> {
    ++calls;
    seen = &A_;
    return Dense<double>(A_).colPivHouseholderQr().solve(B_);
  };
  std::function<Dense<double>(const Csr<double>&, const Dense<double>&)> transpose_qr =
      [](const Csr<double>& A_, const Dense<double>& G) -> Dense<double> {
    return Dense<double>(Dense<double>(A_).transpose()).completeOrthogonalDecomposition().solve(G);
  };
  const Dense<double> X = sparsegrad::lstsq(A, B, qr);
  CHECK(seen == &A);  // the functor receives A itself
  CHECK(relative_error(X, Xref) <= 1e-12);
  const auto g2 = sparsegrad::lstsq_backward(A, B, X, dX, qr, transpose_qr);
  CHECK(relative_error(g2.B, ref.dB) <= 1e-10);
  CHECK(relative_error(stored_values(g2.A), values_at_pattern(A, ref.dA)) <= 1e-10);

  // one plain functor: H from it, dB from the default LSMR on Aᵀ (default tolerances 1e-6)
  calls = 0;
  const auto g1 = sparsegrad::lstsq_backward(A, B, X, dX, qr);
  CHECK(calls == 1);
  CHECK(relative_error(g1.B, ref.dB) <= 1e-4);
  CHECK(relative_error(stored_values(g1.A), values_at_pattern(A, ref.dA)) <= 1e-4);

  // a vector-returning functor is fine for one right-hand side
  auto vector_solver = [](const Csr<double>& A_, const Dense<double>& B_) -> Eigen::VectorXd {
    return Dense<double>(A_).colPivHouseholderQr().solve(B_).col(0);
  };
  const Eigen::VectorXd b = B.col(0);
  CHECK(relative_error(sparsegrad::lstsq(A, b, vector_solver), Xref.col(0)) <= 1e-12);
}

TEST_CASE("k = 0 and square A are ordinary cases", "[lstsq]") {
  const auto A = random_sparse<double>(20, 20, 3, 3);
  const Dense<double> empty(20, 0);
  const Dense<double> X0 = sparsegrad::lstsq(A, empty);
  CHECK(X0.rows() == 20);
  CHECK(X0.cols() == 0);
  const auto g0 = sparsegrad::lstsq_backward(A, empty, X0, X0);
  CHECK(g0.B.rows() == 20);
  CHECK(g0.B.cols() == 0);
  CHECK(g0.A.nonZeros() == A.nonZeros());
  CHECK(stored_values(g0.A).norm() == 0);

  const Dense<double> B = random_dense<double>(20, 2, 1), dX = random_dense<double>(20, 2, 2);
  sparsegrad::Lsmr<double> solver(tight<double>());
  const Dense<double> X = sparsegrad::lstsq(A, B, solver);
  CHECK(relative_error(X, Dense<double>(dense(A).lu().solve(B))) <= 1e-10);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  const auto ref = dense_adjoint(dense(A), B, dX);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, ref.dA)) <= 1e-8);
}

TEST_CASE("backward at default options: rank-deficient real matrices throw, full-rank ones do not",
          "[backward][rank]") {
  for (const char* name : {"abb313.mtx", "Franz6.mtx"}) {
    DYNAMIC_SECTION(name) {
      const auto A = load_matrix(name);
      const Dense<double> b = generated_rhs(A.rows());
      sparsegrad::Lsmr<double> solver;
      const Dense<double> X = sparsegrad::lstsq(A, b, solver);  // converges: istop 2
      CHECK(solver.last().istop[0] == 2);
      const Dense<double> dX = random_dense<double>(A.cols(), 1, 42);
      CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, b, X, dX), std::domain_error);
      CHECK_THROWS_WITH(sparsegrad::lstsq_backward(A, b, X, dX),
                        Catch::Contains("argument 'A'") && Catch::Contains("rank-deficient"));
    }
  }
  for (const char* name :
       {"lp_afiro_T.mtx", "ash219.mtx", "well1033.mtx", "well1850.mtx", "Franz6_id1959_aug.mtx"}) {
    DYNAMIC_SECTION(name) {
      const auto A = load_matrix(name);
      const Dense<double> b = generated_rhs(A.rows());
      const Dense<double> X = sparsegrad::lstsq(A, b);
      const Dense<double> dX = random_dense<double>(A.cols(), 1, 42);
      CHECK_NOTHROW(sparsegrad::lstsq_backward(A, b, X, dX));
    }
  }
}

TEST_CASE("an unconverged backward solve is reported as such, not as rank deficiency",
          "[backward][rank]") {
  // lp_e226_T has full column rank (κ ≈ 9e3); at maxiter = 10 neither LSMR nor CRAIG converge.
  // With throw_on_failure = false both return, and the backward reports its own non-convergence
  // (istop 7, an error estimate above the tolerance) rather than call A rank-deficient; with
  // throw_on_failure = true it throws convergence_error advising more iterations.
  const auto A = load_matrix("lp_e226_T.mtx");
  const Dense<double> b = generated_rhs(A.rows());
  sparsegrad::LsmrOptions<double> opt;
  opt.throw_on_failure = false;
  opt.maxiter = 10;
  sparsegrad::Lsmr<double> solver(opt);
  const Dense<double> X = sparsegrad::lstsq(A, b, solver);
  REQUIRE(solver.last().istop[0] == 7);
  const Dense<double> dX = random_dense<double>(A.cols(), 1, 42);
  const auto g = sparsegrad::lstsq_backward(A, b, X, dX, solver);
  REQUIRE(g.diagnostics.size() == 1);
  CHECK(g.diagnostics.stop(0) == sparsegrad::Stop::iteration_limit);
  CHECK_FALSE(g.error_A <= 1.2e-4);
  solver.options.throw_on_failure = true;
  CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, b, X, dX, solver), sparsegrad::convergence_error);
  CHECK_THROWS_WITH(sparsegrad::lstsq_backward(A, b, X, dX, solver),
                    Catch::Contains("did not converge") && Catch::Contains("maxiter"));
}
