// Operators: A·V and Aᴴ·U against dense products, for every accepted format.
#include <catch2/catch.hpp>
#include <sparsegrad/operator.hpp>

#include "test_support.hpp"

using namespace testing;

TEMPLATE_TEST_CASE("apply and apply_adjoint agree with dense products", "[operator]", float,
                   double) {
  using Scalar = TestType;
  const double tol = std::is_same<Scalar, float>::value ? 1e-5 : 1e-13;
  const auto csr = random_sparse<Scalar>(37, 13, 3, 8);
  const Csc<Scalar> csc = csr;
  const auto coo = sparsegrad::to_coo(csr);
  Eigen::Map<const Csr<Scalar>> map(csr.rows(), csr.cols(), csr.nonZeros(), csr.outerIndexPtr(),
                                    csr.innerIndexPtr(), csr.valuePtr());
  const Dense<Scalar> D = csr.toDense();
  const Dense<Scalar> V = random_dense<Scalar>(13, 5, 1), U = random_dense<Scalar>(37, 5, 2);

  auto check = [&](const auto& op) {
    CHECK(op.rows() == 37);
    CHECK(op.cols() == 13);
    Dense<Scalar> Y(37, 5), Z(13, 5);
    op.apply(V, Y);
    op.apply_adjoint(U, Z);
    CHECK(relative_error(Y, Dense<Scalar>(D * V)) <= tol);
    CHECK(relative_error(Z, Dense<Scalar>(D.transpose() * U)) <= tol);
    // a block of a larger workspace works as input and output (how the block LSMR calls it)
    Dense<Scalar> W = Dense<Scalar>::Zero(37, 8);
    op.apply(V.leftCols(3), W.leftCols(3));
    CHECK(relative_error(Dense<Scalar>(W.leftCols(3)), Dense<Scalar>(D * V.leftCols(3))) <= tol);
    CHECK(W.rightCols(5).norm() == 0);
    // the adjoint view swaps the two
    const sparsegrad::AdjointOperator<std::decay_t<decltype(op)>> adjoint(op);
    CHECK(adjoint.rows() == 13);
    adjoint.apply(U, Z);
    CHECK(relative_error(Z, Dense<Scalar>(D.transpose() * U)) <= tol);
  };
  check(sparsegrad::make_operator(csr));
  check(sparsegrad::make_operator(csc));
  check(sparsegrad::make_operator(coo));
  check(sparsegrad::make_operator(map));
}
