// Extremes: entries scaled by 1e±150, float with a large condition number, 1x1 and single-entry
// problems, very tall and very wide shapes, and 64-bit StorageIndex. Every result is compared with
// an independent dense reference (or a closed form) scaled analytically.
#include <catch2/catch.hpp>
#include <cstdint>
#include <iostream>
#include <limits>
#include <sparsegrad/sparsegrad.hpp>
#include <sstream>

#include "test_support.hpp"

namespace {

using testing::Csr;
using testing::Dense;
template <class Scalar>
using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// ‖a − b‖ / ‖b‖ over the stored values of a gradient and a dense reference at its pattern.
template <class Sparse>
double pattern_error(const Sparse& g, const Dense<double>& ref, double scale = 1) {
  const Eigen::VectorXd got = testing::stored_values(g) * scale;
  const Eigen::VectorXd want = testing::values_at_pattern(g, ref);
  return (got - want).norm() / want.norm();
}

}  // namespace

TEST_CASE("norms neither overflow nor underflow, and keep the sequential rounding", "[extremes]") {
  using Space = sparsegrad::detail::EigenBlockSpace<double>;
  Dense<double> X(1000, 3);
  for (Eigen::Index i = 0; i < X.rows(); ++i) {
    X(i, 0) = 1e200 * (1 + 1e-3 * double(i));
    X(i, 1) = 1e-200 * (1 + 1e-3 * double(i));
    X(i, 2) = std::cos(double(i));
  }
  // Reference: the same sums of squares on scaled values in long double.
  for (int j = 0; j < 2; ++j) {
    const double s = j == 0 ? 1e200 : 1e-200;
    long double sum = 0;
    for (Eigen::Index i = 0; i < X.rows(); ++i) sum += std::pow((long double)(X(i, j) / s), 2);
    const double want = s * double(std::sqrt(sum));
    INFO("column " << j);
    CHECK(Space::norm(X, j) == Approx(want).epsilon(1e-14));
  }
  // In the normal range the result is exactly sqrt of the left-to-right sum (scipy's rounding).
  double sum = 0;
  for (Eigen::Index i = 0; i < X.rows(); ++i) sum += X(i, 2) * X(i, 2);
  CHECK(Space::norm(X, 2) == std::sqrt(sum));
  CHECK(Space::norm(Dense<double>::Zero(4, 1), 0) == 0);

  // The Frobenius norm that scales the backward tolerances: huge, tiny and empty matrices.
  Csr<double> A = testing::random_sparse<double>(50, 10, 3, 1);
  const double normal = sparsegrad::detail::frobenius_norm(A);
  CHECK(sparsegrad::detail::frobenius_norm(Csr<double>(A * 1e200)) ==
        Approx(normal * 1e200).epsilon(1e-14));
  CHECK(sparsegrad::detail::frobenius_norm(Csr<double>(A * 1e-200)) ==
        Approx(normal * 1e-200).epsilon(1e-14));
  CHECK(sparsegrad::detail::frobenius_norm(Csr<double>(0, 0)) == 0);
  CHECK(sparsegrad::detail::frobenius_norm(Csr<double>(5, 3)) == 0);
}

TEST_CASE("entries scaled by 1e+-150: same iterations, same accuracy, exact scaling of X and grads",
          "[extremes]") {
  // A = sa·A0, B = sb·B0 gives X = (sb/sa)·X0, dB = dB0/sa and dA = (sb/sa²)·dA0 for the same dX.
  const Csr<double> A0 = testing::random_sparse<double>(60, 20, 3, 7);
  const Dense<double> D0 = testing::dense(A0);
  const Dense<double> B0 = testing::random_dense<double>(60, 2, 3);
  const Dense<double> dX = testing::random_dense<double>(20, 2, 4);
  const auto ref = testing::dense_adjoint(D0, B0, dX);
  const Dense<double> X0 = testing::dense_lstsq(D0, B0);

  // scipy's semantics: the kernel itself must be scale-free (the trusted defaults rescale A by
  // powers of two first; trust_test.cpp checks that).
  auto opt = sparsegrad::LsmrOptions<double>::scipy();
  opt.atol = opt.btol = 1e-10;
  const auto base = sparsegrad::lsmr(A0, B0, opt);
  REQUIRE(base.converged());

  const double big = 1e150, small = 1e-150;
  const std::pair<double, double> scales[] = {{big, big}, {small, small}, {big, 1},
                                              {small, 1}, {1, big},       {1, small}};
  for (auto [sa, sb] : scales) {
    INFO("A scaled by " << sa << ", B by " << sb);
    const Csr<double> A = A0 * sa;
    const Dense<double> B = B0 * sb;
    sparsegrad::Lsmr<double> solver(opt);
    const Dense<double> X = sparsegrad::lstsq(A, B, solver);
    const auto& last = solver.last();
    for (std::size_t j = 0; j < 2; ++j) {
      CHECK((last.istop[j] == 1 || last.istop[j] == 2));
      CHECK(std::abs(last.itn[j] - base.itn[j]) <= 1);
      CHECK(last.conda[j] == Approx(base.conda[j]).epsilon(1e-6));  // cond(A) is scale-free
      CHECK(last.norma[j] == Approx(base.norma[j] * sa).epsilon(1e-6));
    }
    CHECK(testing::relative_error(Dense<double>(X * (sa / sb)), X0) < 1e-8);
    const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
    CHECK(testing::relative_error(Dense<double>(g.B * sa), ref.dB) < 1e-8);
    CHECK(pattern_error(g.A, ref.dA, sa * sa / sb) < 1e-8);
  }

  // The same through COO, with both scaled up.
  auto coo = sparsegrad::to_coo(A0);
  coo.values *= big;
  const Dense<double> X = sparsegrad::lstsq(coo, B0 * big);
  CHECK(testing::relative_error(X, X0) < 1e-5);
}

TEST_CASE("float with a large condition number: accurate to the perturbation bound, or told why",
          "[extremes]") {
  // Columns graded over `decades`: cond(A) from ~1e2 to ~1e4. In float (eps = 1.2e-7) the
  // normal equations of the gradient, cond(A)² ~ 1e8 at the top, are numerically singular:
  // there the backward pass may refuse (std::domain_error), below it must deliver.
  const double eps = std::numeric_limits<float>::epsilon();
  for (double decades : {2.0, 4.0}) {
    Csr<double> Ad = testing::random_sparse<double>(200, 40, 4, 17);
    Eigen::VectorXd s(40);
    for (Eigen::Index j = 0; j < 40; ++j) s[j] = std::pow(10.0, -decades * double(j) / 39.0);
    const Csr<float> A = Csr<double>(Ad * s.asDiagonal()).cast<float>();
    // References on the float matrix's exact values, in double.
    const Dense<double> D = testing::dense(A).cast<double>();
    const Eigen::JacobiSVD<Dense<double>> svd(D);
    const double cond = svd.singularValues()(0) / svd.singularValues()(39);
    const Vec<float> b = testing::random_dense<float>(200, 1, 18).col(0);
    const Vec<float> dx = testing::random_dense<float>(40, 1, 19).col(0);
    const Dense<double> xref = testing::dense_lstsq(D, b.cast<double>());
    const auto ref = testing::dense_adjoint(D, b.cast<double>(), dx.cast<double>());

    sparsegrad::Lsmr<float> solver;
    solver.options.atol = solver.options.btol = 1e-7f;
    solver.options.maxiter = 2000;
    const Vec<float> x = sparsegrad::lstsq(A, b, solver);  // throws if it does not converge
    const double err = testing::relative_error(x, xref);
    // First-order least-squares perturbation bound (Wedin) for a relative backward error eta:
    // ‖δx‖/‖x‖ ≲ eta (κ + κ² ‖r‖ / (‖A‖₂‖x‖)); istop 2 gives eta ~ atol, float rounding ~ eps.
    const double eta = std::max<double>(solver.options.atol, eps);
    const double normr = (b.cast<double>() - D * xref).norm();
    const double bound =
        eta * (cond + cond * cond * normr / (svd.singularValues()(0) * xref.norm()));
    std::cout << "float, cond " << cond << ": istop " << solver.last().istop[0] << " itn "
              << solver.last().itn[0] << ", forward error " << err << ", perturbation bound "
              << bound;
    INFO("cond " << cond);
    CHECK(err < 10 * bound);
    try {
      const auto g = sparsegrad::lstsq_backward(A, b, x, dx, solver);
      const double gerr = testing::relative_error(g.B, ref.dB);
      std::cout << ", backward: dB error " << gerr << "\n";
      CHECK(gerr < 10 * eta * cond * cond);
    } catch (const std::domain_error& e) {
      std::cout << ", backward refused (cond^2 * eps = " << cond * cond * eps << ")\n";
      INFO(e.what());
      CHECK(cond * cond * eps > 1);  // only where the normal equations are singular in float
    }
  }
}

TEMPLATE_TEST_CASE("1x1 and single-entry problems match their closed forms", "[extremes]", float,
                   double) {
  using Scalar = TestType;
  const double tol = std::is_same<Scalar, float>::value ? 1e-6 : 1e-14;
  SECTION("1x1: 2x = 6") {
    sparsegrad::CooMatrix<Scalar> A;
    A.rows = A.cols = 1;
    A.row = Eigen::VectorXi::Zero(1), A.col = Eigen::VectorXi::Zero(1);
    A.values = Vec<Scalar>::Constant(1, 2);
    const Vec<Scalar> b = Vec<Scalar>::Constant(1, 6);
    const Vec<Scalar> x = sparsegrad::lstsq(A, b);
    REQUIRE(x.size() == 1);
    CHECK(double(x[0]) == Approx(3).epsilon(tol));
    // dL/db = dX / a, dL/da = −x dX / a (r = 0).
    const auto g = sparsegrad::lstsq_backward(A, b, x, Vec<Scalar>::Constant(1, 1));
    CHECK(double(g.B[0]) == Approx(0.5).epsilon(tol));
    CHECK(double(g.A.values[0]) == Approx(-1.5).epsilon(tol));
    // k = 3 right-hand sides on CSR.
    const auto S = sparsegrad::to_csr(A);
    Dense<Scalar> B(1, 3);
    B << 2, -4, 0;
    const Dense<Scalar> X = sparsegrad::lstsq(S, B);
    CHECK(double(X(0, 0)) == Approx(1).epsilon(tol));
    CHECK(double(X(0, 1)) == Approx(-2).epsilon(tol));
    CHECK(X(0, 2) == 0);
  }
  SECTION("4x1 with one entry: a single equation determines x") {
    sparsegrad::CooMatrix<Scalar> A;
    A.rows = 4, A.cols = 1;
    A.row = Eigen::VectorXi::Constant(1, 2), A.col = Eigen::VectorXi::Zero(1);
    A.values = Vec<Scalar>::Constant(1, 4);
    Vec<Scalar> b(4);
    b << 1, 2, 8, 3;
    const Vec<Scalar> x = sparsegrad::lstsq(A, b);
    CHECK(double(x[0]) == Approx(2).epsilon(tol));
    // H = dX/16, dB = A H = e₂/4, dA(2,0) = −dB₂x − r₂H = −1/2 (r₂ = 0).
    const auto g = sparsegrad::lstsq_backward(A, b, x, Vec<Scalar>::Constant(1, 1));
    CHECK(g.B.template cast<double>().isApprox(Eigen::Vector4d(0, 0, 0.25, 0), tol));
    CHECK(double(g.A.values[0]) == Approx(-0.5).epsilon(tol));
  }
  SECTION("3x3 with one entry: the minimum-norm X; the empty columns decouple in the backward") {
    Csr<Scalar> A(3, 3);
    A.insert(1, 2) = Scalar(-5);
    A.makeCompressed();
    Vec<Scalar> b(3);
    b << 1, 10, 2;
    const Vec<Scalar> x = sparsegrad::lstsq(A, b);
    CHECK(x[0] == 0);
    CHECK(x[1] == 0);
    CHECK(double(x[2]) == Approx(-2).epsilon(tol));
    // The one-column problem a = (0, −5, 0)ᵀ: H = dX₂/25, dB = a H = (0, −0.2, 0),
    // dA(1, 2) = −dB₁x₂ − r₁H = −0.4 (r₁ = −5·(−2) − 10 = 0).
    const auto g = sparsegrad::lstsq_backward(A, b, x, Vec<Scalar>::Ones(3));
    CHECK(g.B.template cast<double>().isApprox(Eigen::Vector3d(0, -0.2, 0), tol));
    CHECK(double(g.A.coeff(1, 2)) == Approx(-0.4).epsilon(tol));
  }
}

TEST_CASE("very tall and very wide shapes", "[extremes]") {
  SECTION("20000 x 4, k = 2: forward and backward against dense QR and the dense adjoint") {
    const Csr<double> A = testing::random_sparse<double>(20000, 4, 60, 71, 1.0);
    const Dense<double> D = testing::dense(A);
    const Dense<double> B = testing::random_dense<double>(20000, 2, 72);
    const Dense<double> dX = testing::random_dense<double>(4, 2, 73);
    sparsegrad::Lsmr<double> solver(testing::tight_options<sparsegrad::LsmrOptions<double>>());
    const Dense<double> X = sparsegrad::lstsq(A, B, solver);
    CHECK(testing::relative_error(X, Dense<double>(D.colPivHouseholderQr().solve(B))) < 1e-10);
    const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
    const auto ref = testing::dense_adjoint(D, B, dX);
    CHECK(testing::relative_error(g.B, ref.dB) < 1e-8);
    CHECK(pattern_error(g.A, ref.dA) < 1e-8);
  }
  SECTION("4 x 20000: the forward solve gives the minimum-norm solution") {
    const Csr<double> At = testing::random_sparse<double>(20000, 4, 60, 74, 1.0);
    const Csr<double> A = At.transpose();
    const Dense<double> D = testing::dense(A);
    const Dense<double> B = testing::random_dense<double>(4, 3, 75);
    sparsegrad::Lsmr<double> solver(testing::tight_options<sparsegrad::LsmrOptions<double>>());
    const Dense<double> X = sparsegrad::lstsq(A, B, solver);
    REQUIRE(X.rows() == 20000);
    CHECK(testing::relative_error(X, testing::dense_lstsq(D, B)) < 1e-10);
  }
}

TEST_CASE("64-bit StorageIndex: COO, CSR, CSC and Map give the 32-bit results", "[extremes]") {
  using I64 = std::int64_t;
  const auto A32 = testing::seed_matrix<int>();
  const auto A64 = testing::seed_matrix<I64>();
  const auto All = testing::seed_matrix<long long>();
  const Dense<double> B = testing::random_dense<double>(5, 4, 81);
  const Dense<double> dX = testing::random_dense<double>(3, 4, 82);
  const Dense<double> X = sparsegrad::lstsq(A32, B);
  const auto g = sparsegrad::lstsq_backward(A32, B, X, dX);

  // COO with std::int64_t and long long indices: the same arithmetic, the same bits.
  const Dense<double> X64 = sparsegrad::lstsq(A64, B);
  CHECK(X64 == X);
  const auto g64 = sparsegrad::lstsq_backward(A64, B, X64, dX);
  CHECK(g64.A.values == g.A.values);
  CHECK(g64.A.row == A64.row);
  CHECK(g64.B == g.B);
  CHECK(sparsegrad::lstsq(All, B) == X);

  // CSR and CSC with 64-bit indices, and a Map of the CSR.
  const Eigen::SparseMatrix<double, Eigen::RowMajor, I64> csr = sparsegrad::to_csr(A64);
  const Eigen::SparseMatrix<double, Eigen::ColMajor, I64> csc = sparsegrad::to_csc(A64);
  const Eigen::Map<const Eigen::SparseMatrix<double, Eigen::RowMajor, I64>> map(
      csr.rows(), csr.cols(), csr.nonZeros(), csr.outerIndexPtr(), csr.innerIndexPtr(),
      csr.valuePtr());
  const Csr<double> csr32 = sparsegrad::to_csr(A32);
  const Dense<double> Xr = sparsegrad::lstsq(csr32, B);
  CHECK(sparsegrad::lstsq(csr, B) == Xr);
  CHECK(sparsegrad::lstsq(map, B) == Xr);
  CHECK(testing::relative_error(sparsegrad::lstsq(csc, B), Xr) < 1e-12);
  const auto gr = sparsegrad::lstsq_backward(csr32, B, Xr, dX);
  const auto gcsr = sparsegrad::lstsq_backward(csr, B, Xr, dX);
  const auto gmap = sparsegrad::lstsq_backward(map, B, Xr, dX);
  CHECK(testing::stored_values(gcsr.A) == testing::stored_values(gr.A));
  CHECK(testing::stored_values(gmap.A) == testing::stored_values(gr.A));
  const auto gcsc = sparsegrad::lstsq_backward(csc, B, Xr, dX);
  CHECK(gcsc.A.nonZeros() == 8);
  CHECK(testing::relative_error(Dense<double>(gcsc.A.toDense()), Dense<double>(gr.A.toDense())) <
        1e-10);
  // Against the dense adjoint, once.
  const auto ref = testing::dense_adjoint(testing::dense(A32), B, dX);
  CHECK(testing::relative_error(g64.B, ref.dB) < 1e-5);

  // Validation uses the 64-bit range: 3e9 rows are fine, a negative index is not.
  sparsegrad::CooMatrix<double, I64> tall;
  tall.rows = 3000000000LL, tall.cols = 2;
  CHECK_NOTHROW(sparsegrad::validate(tall));
  auto bad = A64;
  bad.row[3] = -4;
  CHECK_THROWS_WITH(sparsegrad::lstsq(bad, B), Catch::Contains("got row[3] = -4"));

  // The Matrix Market reader fills 64-bit indices.
  std::istringstream mm(
      "%%MatrixMarket matrix coordinate real general\n3 2 3\n1 1 1.5\n3 2 -2\n2 1 4\n");
  const auto R = sparsegrad::read_matrix_market<double, I64>(mm);
  CHECK(R.rows == 3);
  CHECK(R.row == (Eigen::Matrix<I64, Eigen::Dynamic, 1>(3) << 0, 2, 1).finished());
  const Eigen::Vector3d b(1, 2, 3);
  CHECK(sparsegrad::lstsq(R, b).size() == 2);
}
