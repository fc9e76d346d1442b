// Inputs that look odd but are valid: zero sizes, k = 0, square A, uncompressed CSR, empty A and
// empty columns. Each gives a correctly shaped result that matches a dense reference.
#include <catch2/catch.hpp>
#include <sparsegrad/sparsegrad.hpp>
#include <vector>

#include "input_snapshot.hpp"
#include "misbehaving_solvers.hpp"
#include "test_support.hpp"

using namespace testing;
using sparsegrad::CooMatrix;

TEMPLATE_TEST_CASE("accepted: zero dimensions give correctly shaped results", "[errors]", float,
                   double) {
  using Scalar = TestType;
  auto empty = [](Eigen::Index rows, Eigen::Index cols) {
    CooMatrix<Scalar> A;
    A.rows = rows, A.cols = cols;
    return A;
  };
  SECTION("0 x 0") {
    const auto A = empty(0, 0);
    const Vec<Scalar> b(0);
    const Vec<Scalar> x = sparsegrad::lstsq(A, b);
    CHECK(x.size() == 0);
    const auto g = sparsegrad::lstsq_backward(A, b, x, Vec<Scalar>(0));
    CHECK(g.A.rows == 0);
    CHECK(g.A.cols == 0);
    CHECK(g.B.size() == 0);
  }
  SECTION("5 x 0: no unknowns") {
    const auto A = empty(5, 0);
    const Vec<Scalar> b = Vec<Scalar>::Ones(5);
    const Vec<Scalar> x = sparsegrad::lstsq(A, b);
    CHECK(x.size() == 0);
    const auto g = sparsegrad::lstsq_backward(A, b, x, Vec<Scalar>(0));
    CHECK(g.A.values.size() == 0);
    REQUIRE(g.B.size() == 5);
    CHECK(g.B.isZero(0));
  }
  SECTION("0 x 3: no equations, the minimum-norm solution is 0") {
    const auto A = empty(0, 3);
    const Vec<Scalar> x = sparsegrad::lstsq(A, Vec<Scalar>(0));
    REQUIRE(x.size() == 3);
    CHECK(x.isZero(0));
  }
  SECTION("CSR 4 x 0 with a 4 x 2 B") {
    const Csr<Scalar> A(4, 0);
    const M<Scalar> X = sparsegrad::lstsq(A, M<Scalar>::Ones(4, 2));
    CHECK(X.rows() == 0);
    CHECK(X.cols() == 2);
  }
}

TEMPLATE_TEST_CASE("accepted: k = 0 right-hand sides", "[errors]", float, double) {
  using Scalar = TestType;
  Inputs<Scalar> in;
  const M<Scalar> B(5, 0), X(3, 0), dX(3, 0);
  const Snapshot before = in.snapshot();
  const M<Scalar> Xc = sparsegrad::lstsq(in.coo, B);
  CHECK(Xc.rows() == 3);
  CHECK(Xc.cols() == 0);
  const M<Scalar> Xs = sparsegrad::lstsq(in.csr, B, ReturnsShape<Scalar>{5, 5});  // never called
  CHECK(Xs.rows() == 3);
  CHECK(Xs.cols() == 0);
  const auto r = sparsegrad::lsmr(in.csc, B);
  CHECK(r.X.rows() == 3);
  CHECK(r.X.cols() == 0);
  CHECK(r.istop.empty());
  const auto g = sparsegrad::lstsq_backward(in.coo, B, X, dX);
  CHECK(g.A.row == in.coo.row);
  CHECK(g.A.col == in.coo.col);
  REQUIRE(g.A.values.size() == in.coo.values.size());
  CHECK(g.A.values.isZero(0));  // no right-hand side: the loss does not depend on A
  CHECK(g.B.rows() == 5);
  CHECK(g.B.cols() == 0);
  const auto gs = sparsegrad::lstsq_backward(in.csr, B, X, dX);
  CHECK(gs.A.nonZeros() == in.csr.nonZeros());
  CHECK(in.snapshot() == before);
}

TEMPLATE_TEST_CASE("accepted: square nonsingular A (m = n) matches the dense inverse", "[errors]",
                   float, double) {
  using Scalar = TestType;
  const Csr<Scalar> A = testing::random_sparse<Scalar>(8, 8, 2, 31);
  const Dense<double> D = testing::dense(A).template cast<double>();
  const Dense<double> B = testing::random_dense<double>(8, 2, 32);
  const Dense<double> dX = testing::random_dense<double>(8, 2, 33);
  sparsegrad::Lsmr<Scalar> solver;
  solver.options.atol = solver.options.btol = std::is_same<Scalar, float>::value ? 1e-7 : 1e-13;
  solver.options.maxiter = 200;
  const M<Scalar> Bs = B.cast<Scalar>(), dXs = dX.cast<Scalar>();
  const M<Scalar> X = sparsegrad::lstsq(A, Bs, solver);
  const auto lu = D.partialPivLu();
  const Dense<double> Xref = lu.solve(B);
  const double tol = std::is_same<Scalar, float>::value ? 1e-4 : 1e-9;
  CHECK(testing::relative_error(X, Xref) < tol);
  const auto g = sparsegrad::lstsq_backward(A, Bs, X, dXs, solver);
  const Dense<double> dBref = D.transpose().partialPivLu().solve(dX);  // A⁻ᵀ dX
  CHECK(testing::relative_error(g.B, dBref) < tol);
  // r = 0 for a square system, so dA = −dB Xᵀ at A's entries.
  const Dense<double> dAref = -dBref * Xref.transpose();
  CHECK((testing::stored_values(g.A) - testing::values_at_pattern(A, dAref)).norm() <
        tol * testing::values_at_pattern(A, dAref).norm());
}

TEMPLATE_TEST_CASE("accepted: an uncompressed CSR matrix gives the compressed result", "[errors]",
                   float, double) {
  using Scalar = TestType;
  const Csr<Scalar> compressed = testing::random_sparse<Scalar>(30, 12, 3, 41);
  // The same matrix built by insert() with spare room in every row: uncompressed, free slots.
  Csr<Scalar> loose(30, 12);
  loose.reserve(Eigen::VectorXi::Constant(30, 9));
  for (Eigen::Index i = 0; i < compressed.outerSize(); ++i)
    for (typename Csr<Scalar>::InnerIterator it(compressed, i); it; ++it)
      loose.insert(it.row(), it.col()) = it.value();
  REQUIRE_FALSE(loose.isCompressed());
  REQUIRE(loose.data().size() > loose.nonZeros());  // there really are free slots
  const SparseBits before = bits(loose);

  const M<Scalar> B = testing::random_dense<Scalar>(30, 3, 42);
  const M<Scalar> dX = testing::random_dense<Scalar>(12, 3, 43);
  const M<Scalar> Xc = sparsegrad::lstsq(compressed, B);
  const M<Scalar> Xu = sparsegrad::lstsq(loose, B);
  CHECK(bits(Xu) == bits(Xc));  // same entries in the same order: the same arithmetic
  const auto gc = sparsegrad::lstsq_backward(compressed, B, Xc, dX);
  const auto gu = sparsegrad::lstsq_backward(loose, B, Xu, dX);
  CHECK(bits(gu.B) == bits(gc.B));
  REQUIRE(gu.A.nonZeros() == gc.A.nonZeros());
  // g.A has the pattern and entry order of the uncompressed input.
  Eigen::Index e = 0;
  for (Eigen::Index i = 0; i < loose.outerSize(); ++i) {
    typename Csr<Scalar>::InnerIterator a(loose, i), g(gu.A, i);
    for (; a; ++a, ++g, ++e) {
      REQUIRE(g);
      CHECK(g.col() == a.col());
      CHECK(g.value() == gc.A.coeff(a.row(), a.col()));
    }
    CHECK_FALSE(g);
  }
  CHECK(e == compressed.nonZeros());
  CHECK(bits(loose) == before);
}

TEMPLATE_TEST_CASE("accepted: empty A and empty columns in the forward solve", "[errors]", float,
                   double) {
  using Scalar = TestType;
  Inputs<Scalar> in;
  SECTION("nnz = 0: X = 0 (the minimum-norm solution), istop 0") {
    in.coo.row.resize(0), in.coo.col.resize(0), in.coo.values.resize(0);
    sparsegrad::Lsmr<Scalar> solver;
    const Vec<Scalar> x = sparsegrad::lstsq(in.coo, in.b, solver);
    REQUIRE(x.size() == 3);
    CHECK(x.isZero(0));
    CHECK(solver.last().istop == std::vector<int>{0});
  }
  SECTION("an empty column: its unknown is 0, the others are the least-squares solution") {
    in.coo.cols = 4;
    const M<Scalar> X = sparsegrad::lstsq(in.coo, in.B);
    REQUIRE(X.rows() == 4);
    CHECK(X.row(3).isZero(0));
    const Dense<double> ref = testing::dense_lstsq(testing::dense(in.coo).template cast<double>(),
                                                   in.B.template cast<double>());
    CHECK(testing::relative_error(X, ref) < (std::is_same<Scalar, float>::value ? 1e-4 : 1e-5));
  }
}

TEMPLATE_TEST_CASE("accepted: empty A and empty columns in the backward pass", "[errors]", float,
                   double) {
  // A column without stored entries decouples (x_j = 0, no gradient entry in it), so the
  // backward is that of A without the column: dB = (A_rᵀ)⁺dX_r for the remaining columns r,
  // checked against the dense adjoint of the reduced problem.
  using Scalar = TestType;
  Inputs<Scalar> in;
  const double tol = std::is_same<Scalar, float>::value ? 1e-3 : 1e-6;
  SECTION("nnz = 0: dB = 0 and an empty dA") {
    in.coo.row.resize(0), in.coo.col.resize(0), in.coo.values.resize(0);
    const Vec<Scalar> x = sparsegrad::lstsq(in.coo, in.b);
    const auto g = sparsegrad::lstsq_backward(in.coo, in.b, x, in.dx);
    CHECK(g.A.values.size() == 0);
    CHECK(g.B.isZero(0));
  }
  SECTION("an empty column: the gradient of the problem without it") {
    const Dense<double> reduced = testing::dense(in.coo).template cast<double>();
    in.coo.cols = 4;  // column 3 has no entries
    const M<Scalar> X = sparsegrad::lstsq(in.coo, in.B);
    const M<Scalar> dX = testing::random_dense<Scalar>(4, in.B.cols(), 21);
    const auto g = sparsegrad::lstsq_backward(in.coo, in.B, X, dX);
    const auto ref = testing::dense_adjoint(reduced, in.B.template cast<double>(),
                                            dX.topRows(3).template cast<double>());
    CHECK(testing::relative_error(g.B, ref.dB) < tol);
    Eigen::VectorXd expected(in.coo.values.size());
    for (Eigen::Index e = 0; e < expected.size(); ++e)
      expected[e] = ref.dA(in.coo.row[e], in.coo.col[e]);
    CHECK(testing::relative_error(g.A.values, expected) < tol);
  }
}
