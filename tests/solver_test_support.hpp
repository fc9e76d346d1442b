// Helpers shared by the tests of the solver functors (direct, suitesparse, eigen_lscg): A in
// every accepted format, and a check of X, dB and dA against the dense references of
// test_support.hpp.
#ifndef SPARSEGRAD_SOLVER_TEST_SUPPORT_HPP
#define SPARSEGRAD_SOLVER_TEST_SUPPORT_HPP

#include <catch2/catch.hpp>
#include <sparsegrad/lstsq.hpp>
#include <string>

#include "test_support.hpp"

namespace testing {

/// One matrix in the four accepted formats (the Map views `csc`).
template <class Scalar>
struct AllFormats {
  sparsegrad::CooMatrix<Scalar, int> coo;
  Csr<Scalar> csr;
  Csc<Scalar> csc;
  Eigen::Map<const Csc<Scalar>> map() const {
    return Eigen::Map<const Csc<Scalar>>(csc.rows(), csc.cols(), csc.nonZeros(),
                                         csc.outerIndexPtr(), csc.innerIndexPtr(), csc.valuePtr());
  }
};

template <class Scalar>
AllFormats<Scalar> all_formats(const Csr<Scalar>& A) {
  AllFormats<Scalar> f;
  f.csr = A;
  f.csc = A;
  f.csc.makeCompressed();
  f.coo = sparsegrad::to_coo(A);
  return f;
}

/// Gradient values in entry order, and the dense reference at the same entries.
template <class Scalar>
Eigen::VectorXd gradient_values(const sparsegrad::CooMatrix<Scalar, int>& G) {
  return G.values.template cast<double>();
}
template <class Derived>
Eigen::VectorXd gradient_values(const Eigen::SparseCompressedBase<Derived>& G) {
  return stored_values(G);
}
template <class Scalar>
Eigen::VectorXd reference_values(const sparsegrad::CooMatrix<Scalar, int>& A,
                                 const Dense<double>& M) {
  Eigen::VectorXd out(A.values.size());
  for (Eigen::Index e = 0; e < A.values.size(); ++e) out[e] = M(A.row[e], A.col[e]);
  return out;
}
template <class Derived>
Eigen::VectorXd reference_values(const Eigen::SparseCompressedBase<Derived>& A,
                                 const Dense<double>& M) {
  return values_at_pattern(A, M);
}

/// The dense reference of one problem (double).
struct DenseReference {
  Dense<double> X;
  DenseAdjoint adjoint;
};
inline DenseReference dense_reference(const Dense<double>& A, const Dense<double>& B,
                                      const Dense<double>& dX) {
  return {dense_lstsq(A, B), dense_adjoint(A, B, dX)};
}

/// lstsq and lstsq_backward with `solver` on A, compared with the dense reference: relative
/// errors of X, dB and dA (at A's entries) below tol_x, tol_grad.
template <class Solver, class AType, class Scalar>
void check_against_dense(Solver& solver, const AType& A, const Dense<Scalar>& B,
                         const Dense<Scalar>& dX, const DenseReference& ref, double tol_x,
                         double tol_grad) {
  const Dense<Scalar> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  CHECK(relative_error(X, ref.X) < tol_x);
  CHECK(relative_error(g.B, ref.adjoint.dB) < tol_grad);
  const Eigen::VectorXd dA = gradient_values(g.A);
  CHECK(relative_error(dA, reference_values(A, ref.adjoint.dA)) < tol_grad);
}

/// Names of the shipped full-rank real matrices small enough for every direct solver in the
/// test time budget (Franz6_id1959_aug, whose R and L are nearly dense with 2.8M entries, is
/// left to the benchmark).
inline std::vector<std::string> full_rank_real_matrices() {
  return {"ash219.mtx",   "lp_afiro_T.mtx", "well1033.mtx",
          "well1850.mtx", "illc1033.mtx",   "lp_e226_T.mtx"};
}

/// Tolerance of a comparison for `Scalar`: `for_double` in double, `for_float` in float.
template <class Scalar>
double tol(double for_double, double for_float) {
  return sizeof(Scalar) == sizeof(double) ? for_double : for_float;
}

/// A generated well-conditioned problem (m x n, k right-hand sides), with its dense reference.
template <class Scalar>
struct Problem {
  Csr<Scalar> A;
  Dense<Scalar> B, dX;
  DenseReference ref;
};
template <class Scalar>
Problem<Scalar> generated_problem(Eigen::Index m, Eigen::Index n, Eigen::Index k, unsigned seed) {
  Problem<Scalar> p;
  p.A = random_sparse<Scalar>(m, n, 3, seed);
  p.B = random_dense<Scalar>(m, k, seed + 1);
  p.dX = random_dense<Scalar>(n, k, seed + 2);
  p.ref = dense_reference(dense(p.A).template cast<double>(), p.B.template cast<double>(),
                          p.dX.template cast<double>());
  return p;
}
template <class Scalar>
Problem<Scalar> real_problem(const std::string& name, Eigen::Index k = 2) {
  Problem<Scalar> p;
  const Csr<double> Ad = load_matrix<double>(name);
  p.A = Ad.cast<Scalar>();
  p.B = random_dense<double>(Ad.rows(), k, 7).cast<Scalar>();
  p.dX = random_dense<double>(Ad.cols(), k, 8).cast<Scalar>();
  p.ref = dense_reference(dense(p.A).template cast<double>(), p.B.template cast<double>(),
                          p.dX.template cast<double>());
  return p;
}

/// X, dB, dA of `Solver` in all four formats on a generated problem against the dense reference.
template <class Solver, class Scalar>
void check_all_formats(const Problem<Scalar>& p, double tol_x, double tol_grad) {
  const auto f = all_formats(p.A);
  Solver solver;
  SECTION("COO") {
    check_against_dense(solver, f.coo, p.B, p.dX, p.ref, tol_x, tol_grad);
  }
  SECTION("CSR") {
    check_against_dense(solver, f.csr, p.B, p.dX, p.ref, tol_x, tol_grad);
  }
  SECTION("CSC") {
    check_against_dense(solver, f.csc, p.B, p.dX, p.ref, tol_x, tol_grad);
  }
  SECTION("Map") {
    check_against_dense(solver, f.map(), p.B, p.dX, p.ref, tol_x, tol_grad);
  }
}

/// dL/dA and dL/dB of `Solver` against central finite differences of the dense solution.
template <class Solver>
void check_finite_differences() {
  const Csr<double> A = random_sparse<double>(12, 5, 2, 11);
  const Dense<double> B = random_dense<double>(12, 2, 12), dX = random_dense<double>(5, 2, 13);
  Solver solver;
  const Dense<double> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  const auto fd = finite_differences(dense(A), B, dX, pattern_of(A));
  CHECK(relative_error(g.B, fd.dB) < 1e-7);
  CHECK(relative_error(stored_values(g.A), values_at_pattern(A, fd.dA)) < 1e-7);
}

/// The cache rule: forward then backward on the same A factorizes once; an equal matrix in
/// another object or format reuses; changed values refactorize; a copied solver starts empty.
template <class Solver, class Scalar>
void check_factorization_reuse() {
  const auto p = generated_problem<Scalar>(50, 20, 2, 21);
  Solver solver;
  const Dense<Scalar> X = sparsegrad::lstsq(p.A, p.B, solver);
  CHECK(solver.factorizations() == 1);
  CHECK_FALSE(solver.reused());
  const auto g = sparsegrad::lstsq_backward(p.A, p.B, X, p.dX, solver);
  CHECK(solver.factorizations() == 1);
  CHECK(solver.reused());
  CHECK(relative_error(g.B, p.ref.adjoint.dB) < tol<Scalar>(1e-9, 1e-3));

  // The same matrix as a COO copy: still no new factorization.
  const auto coo = sparsegrad::to_coo(p.A);
  (void)sparsegrad::lstsq(coo, p.B, solver);
  CHECK(solver.factorizations() == 1);

  // Values changed in place (same object, same address, same pattern): refactorized, and the
  // result is that of the new matrix.
  Csr<Scalar> A2 = p.A;
  (void)sparsegrad::lstsq(A2, p.B, solver);
  CHECK(solver.factorizations() == 1);  // another object with equal content reuses
  CHECK(solver.reused());
  A2.valuePtr()[0] *= Scalar(2);
  const Dense<Scalar> X2 = sparsegrad::lstsq(A2, p.B, solver);
  CHECK(solver.factorizations() == 2);
  CHECK_FALSE(solver.reused());
  const Dense<double> X2ref =
      dense_lstsq(dense(A2).template cast<double>(), p.B.template cast<double>());
  CHECK(relative_error(X2, X2ref) < tol<Scalar>(1e-9, 1e-3));
  const auto g2 = sparsegrad::lstsq_backward(A2, p.B, X2, p.dX, solver);
  CHECK(solver.factorizations() == 2);
  CHECK(solver.reused());
  const auto ref2 = dense_adjoint(dense(A2).template cast<double>(), p.B.template cast<double>(),
                                  p.dX.template cast<double>());
  CHECK(relative_error(g2.B, ref2.dB) < tol<Scalar>(1e-9, 1e-3));

  // A copy of the solver does not share the factorization.
  Solver copy = solver;
  (void)sparsegrad::lstsq(A2, p.B, copy);
  CHECK(copy.factorizations() == 3);  // statistics are copied, the factorization is not
  CHECK(solver.factorizations() == 2);

  // Statistics of the last factorization.
  CHECK(solver.rank() == 20);
  CHECK(solver.factor_nonzeros() > 0);
  CHECK(solver.factor_seconds() >= 0);
  CHECK(solver.condition_estimate() >= 1);
}

/// A rank-deficient matrix: std::domain_error naming the rank, in the forward and in the
/// backward (solve_normal), and again (from the cache) without a new factorization.
template <class Solver, class Scalar>
void check_rank_deficient(const Csr<Scalar>& A, const std::string& expected_rank) {
  Solver solver;
  const Dense<Scalar> B = random_dense<Scalar>(A.rows(), 1, 31);
  try {
    (void)sparsegrad::lstsq(A, B, solver);
    FAIL("no exception for a rank-deficient matrix");
  } catch (const std::domain_error& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains(expected_rank));
  }
  CHECK(solver.factorizations() == 1);
  const Dense<Scalar> G = random_dense<Scalar>(A.cols(), 1, 32);
  CHECK_THROWS_AS(solver.solve_normal(A, G), std::domain_error);
  CHECK(solver.factorizations() == 1);
}

/// Argument errors of a solver called directly.
template <class Solver, class Scalar>
void check_argument_errors() {
  const Csr<Scalar> A = random_sparse<Scalar>(10, 4, 2, 41);
  Solver solver;
  CHECK_THROWS_AS(solver(A, Dense<Scalar>::Ones(9, 1)), std::invalid_argument);
  Dense<Scalar> nan = Dense<Scalar>::Ones(10, 1);
  nan(3, 0) = std::numeric_limits<Scalar>::quiet_NaN();
  CHECK_THROWS_AS(solver(A, nan), std::invalid_argument);
  CHECK_THROWS_AS(solver.solve_normal(A, Dense<Scalar>::Ones(10, 1)), std::invalid_argument);
  const Csr<Scalar> wide = random_sparse<Scalar>(4, 10, 2, 42);
  CHECK_THROWS_AS(solver(wide, Dense<Scalar>::Ones(4, 1)), std::domain_error);
  CHECK(solver(A, Dense<Scalar>(10, 0)).cols() == 0);
  CHECK(solver.factorizations() == 0);
}

/// Columns first, ..., first + count - 1 of a shipped matrix.
template <class Scalar>
Csr<Scalar> column_block(const std::string& name, Eigen::Index first, Eigen::Index count) {
  const Csc<Scalar> A = load_matrix<Scalar>(name);
  return Csr<Scalar>(Csc<Scalar>(A.middleCols(first, count)));
}

}  // namespace testing

#endif  // SPARSEGRAD_SOLVER_TEST_SUPPORT_HPP
