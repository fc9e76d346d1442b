// Shared helpers of the test suite: problem generators and independent dense references.
// Nothing here calls the code under test except where a test passes it in explicitly.
#ifndef SPARSEGRAD_TEST_SUPPORT_HPP
#define SPARSEGRAD_TEST_SUPPORT_HPP

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <cmath>
#include <complex>
#include <random>
#include <sparsegrad/coo.hpp>
#include <sparsegrad/io.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace testing {

template <class Scalar>
using Dense = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using Csr = Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int>;
template <class Scalar>
using Csc = Eigen::SparseMatrix<Scalar, Eigen::ColMajor, int>;

inline std::string data_path(const std::string& name) {
  return std::string(SPARSEGRAD_DATA_DIR) + "/" + name;
}

/// A shipped real matrix, as CSR (duplicates summed, explicit zeros kept).
template <class Scalar = double>
Csr<Scalar> load_matrix(const std::string& name) {
  return sparsegrad::to_csr(sparsegrad::read_matrix_market_file<Scalar>(data_path(name)));
}

/// The deterministic right-hand side used by tests/reference/make_lsmr_reference.py.
template <class Scalar = double>
Dense<Scalar> generated_rhs(Eigen::Index m) {
  Dense<Scalar> b(m, 1);
  for (Eigen::Index i = 0; i < m; ++i)
    b(i, 0) = Scalar(std::cos(0.37 * double(i)) + 0.001 * double(i));
  return b;
}

/// The 5 x 3 COO matrix of the seed's docstring example.
template <class StorageIndex = int>
sparsegrad::CooMatrix<double, StorageIndex> seed_matrix() {
  sparsegrad::CooMatrix<double, StorageIndex> A;
  A.rows = 5, A.cols = 3;
  A.row.resize(8), A.col.resize(8), A.values.resize(8);
  A.row << 0, 1, 2, 3, 4, 1, 2, 3;
  A.col << 0, 0, 0, 0, 1, 1, 1, 2;
  A.values << 1, 2, 1, 3, 1, 2, 1, 1;
  return A;
}

/// Random m x n sparse matrix with about `per_column` entries per column plus one entry on
/// the "diagonal" (i = j mod m) of weight `diagonal`, which keeps it of full column rank and
/// well conditioned for m >= n.
template <class Scalar>
Csr<Scalar> random_sparse(Eigen::Index m, Eigen::Index n, int per_column, unsigned seed,
                          double diagonal = 3.0) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<Eigen::Index> row(0, m - 1);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  std::vector<Eigen::Triplet<Scalar>> t;
  for (Eigen::Index j = 0; j < n; ++j) {
    if (m > 0) t.emplace_back(int(j % m), int(j), Scalar(diagonal + value(rng)));
    for (int e = 0; e < per_column; ++e) t.emplace_back(int(row(rng)), int(j), Scalar(value(rng)));
  }
  Csr<Scalar> A(m, n);
  A.setFromTriplets(t.begin(), t.end());
  return A;
}

template <class Scalar>
Dense<Scalar> random_dense(Eigen::Index rows, Eigen::Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  Dense<Scalar> M(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) M(i, j) = Scalar(normal(rng));
  return M;
}

/// Dense copy of a sparse matrix (COO entries added up).
template <class Scalar, class StorageIndex>
Dense<Scalar> dense(const sparsegrad::CooMatrix<Scalar, StorageIndex>& A) {
  Dense<Scalar> D = Dense<Scalar>::Zero(A.rows, A.cols);
  for (Eigen::Index e = 0; e < A.values.size(); ++e) D(A.row[e], A.col[e]) += A.values[e];
  return D;
}
template <class Derived>
Dense<typename Derived::Scalar> dense(const Eigen::SparseMatrixBase<Derived>& A) {
  return A.toDense();
}

/// Minimum-norm least-squares solution by a complete orthogonal decomposition (double).
inline Dense<double> dense_lstsq(const Dense<double>& A, const Dense<double>& B) {
  return A.completeOrthogonalDecomposition().solve(B);
}

/// Exact adjoint of X = A⁺B evaluated densely: dB = (Aᵀ)⁺dX, H = A⁺dB, dA = −dB Xᵀ − r Hᵀ.
struct DenseAdjoint {
  Dense<double> dB, dA, H;
};
inline DenseAdjoint dense_adjoint(const Dense<double>& A, const Dense<double>& B,
                                  const Dense<double>& dX) {
  const auto cod = A.completeOrthogonalDecomposition();
  const Dense<double> X = cod.solve(B);
  DenseAdjoint out;
  out.dB = A.transpose().completeOrthogonalDecomposition().solve(dX);
  out.H = cod.solve(out.dB);
  const Dense<double> r = A * X - B;
  out.dA = -out.dB * X.transpose() - r * out.H.transpose();
  return out;
}

/// The type references are compared in: double, or std::complex<double> for complex data.
template <class Scalar>
using Wide = std::conditional_t<Eigen::NumTraits<Scalar>::IsComplex, std::complex<double>, double>;

/// ‖a − b‖ / ‖b‖ in double precision (absolute when b = 0), for real or complex data.
template <class DA, class DB>
double relative_error(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b) {
  using W = std::conditional_t<Eigen::NumTraits<typename DA::Scalar>::IsComplex,
                               Wide<typename DA::Scalar>, Wide<typename DB::Scalar>>;
  const double denominator = b.template cast<W>().norm();
  const double diff = (a.template cast<W>() - b.template cast<W>()).norm();
  return denominator > 0 ? diff / denominator : diff;
}

/// Values of a dense matrix at the stored entries of a sparse one, in storage order.
template <class Derived, class MDerived>
Eigen::Matrix<typename MDerived::Scalar, Eigen::Dynamic, 1> values_at_pattern(
    const Eigen::SparseCompressedBase<Derived>& pattern, const Eigen::MatrixBase<MDerived>& M) {
  Eigen::Matrix<typename MDerived::Scalar, Eigen::Dynamic, 1> out(pattern.nonZeros());
  Eigen::Index e = 0;
  for (Eigen::Index o = 0; o < pattern.outerSize(); ++o)
    for (typename Derived::InnerIterator it(pattern.derived(), o); it; ++it)
      out[e++] = M(it.row(), it.col());
  return out;
}

/// Stored values of a sparse matrix in storage order, in double (complex<double>) precision.
template <class Derived>
Eigen::Matrix<Wide<typename Derived::Scalar>, Eigen::Dynamic, 1> stored_values(
    const Eigen::SparseCompressedBase<Derived>& S) {
  Eigen::Matrix<Wide<typename Derived::Scalar>, Eigen::Dynamic, 1> out(S.nonZeros());
  Eigen::Index e = 0;
  for (Eigen::Index o = 0; o < S.outerSize(); ++o)
    for (typename Derived::InnerIterator it(S.derived(), o); it; ++it)
      out[e++] = Wide<typename Derived::Scalar>(it.value());
  return out;
}

/// The same matrix with every entry stored twice, as first·v and second·v (first + second = 1):
/// duplicates that must add up to the original entry.
template <class Scalar, class StorageIndex>
sparsegrad::CooMatrix<Scalar, StorageIndex> split_entries(
    sparsegrad::CooMatrix<Scalar, StorageIndex> coo, Scalar first, Scalar second) {
  const Eigen::Index nnz = coo.values.size();
  coo.row.conservativeResize(2 * nnz), coo.col.conservativeResize(2 * nnz);
  coo.values.conservativeResize(2 * nnz);
  for (Eigen::Index e = 0; e < nnz; ++e) {
    coo.row[nnz + e] = coo.row[e], coo.col[nnz + e] = coo.col[e];
    coo.values[nnz + e] = second * coo.values[e];
    coo.values[e] *= first;
  }
  return coo;
}

/// Central finite differences of L(A, B) = Σ dX ∘ X(A, B), X the dense least-squares solution:
/// the derivative for every entry of A (perturbing A(i, j) by ±h) and every entry of B.
struct FiniteDifferences {
  Dense<double> dA, dB;  // dense, dA only meaningful where perturbed
};
inline FiniteDifferences finite_differences(const Dense<double>& A, const Dense<double>& B,
                                            const Dense<double>& dX,
                                            const std::vector<std::pair<int, int>>& entries,
                                            double h = 1e-6) {
  auto loss = [&](const Dense<double>& Ap, const Dense<double>& Bp) {
    return (dX.array() * dense_lstsq(Ap, Bp).array()).sum();
  };
  FiniteDifferences out{Dense<double>::Zero(A.rows(), A.cols()),
                        Dense<double>::Zero(B.rows(), B.cols())};
  for (auto [i, j] : entries) {
    Dense<double> Ap = A, Am = A;
    Ap(i, j) += h, Am(i, j) -= h;
    out.dA(i, j) = (loss(Ap, B) - loss(Am, B)) / (2 * h);
  }
  for (Eigen::Index j = 0; j < B.cols(); ++j)
    for (Eigen::Index i = 0; i < B.rows(); ++i) {
      Dense<double> Bp = B, Bm = B;
      Bp(i, j) += h, Bm(i, j) -= h;
      out.dB(i, j) = (loss(A, Bp) - loss(A, Bm)) / (2 * h);
    }
  return out;
}

/// (row, col) of every stored entry.
template <class Derived>
std::vector<std::pair<int, int>> pattern_of(const Eigen::SparseCompressedBase<Derived>& S) {
  std::vector<std::pair<int, int>> out;
  for (Eigen::Index o = 0; o < S.outerSize(); ++o)
    for (typename Derived::InnerIterator it(S.derived(), o); it; ++it)
      out.emplace_back(int(it.row()), int(it.col()));
  return out;
}

/// Tight LSMR options for reference comparisons.
template <class Options>
Options tight_options(long maxiter = 10000) {
  Options opt;
  opt.atol = opt.btol = decltype(opt.atol)(1e-14);
  opt.conlim = decltype(opt.conlim)(1e16);
  opt.maxiter = maxiter;
  return opt;
}

}  // namespace testing

#endif  // SPARSEGRAD_TEST_SUPPORT_HPP
