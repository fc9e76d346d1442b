// A valid least-squares problem in every form the library accepts (COO, CSR, CSC, uncompressed
// CSR; vector and matrix B, X, dX; LSMR options), and bit-for-bit snapshots of all of it, so a
// test can assert that a call left every input unchanged.
#ifndef SPARSEGRAD_INPUT_SNAPSHOT_HPP
#define SPARSEGRAD_INPUT_SNAPSHOT_HPP

#include <cstring>
#include <sparsegrad/coo.hpp>
#include <sparsegrad/solvers/lsmr.hpp>
#include <vector>

#include "test_support.hpp"

namespace testing {

/// Shorthands of these tests: a dense vector and a dense matrix of Scalar.
template <class Scalar>
using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
template <class Scalar>
using M = Dense<Scalar>;

// ---- bit-for-bit snapshots of the inputs -------------------------------------------------------

template <class T>
std::vector<unsigned char> bytes_of(const T* data, Eigen::Index count) {
  std::vector<unsigned char> out(sizeof(T) * static_cast<std::size_t>(count));
  if (count > 0) std::memcpy(out.data(), data, out.size());
  return out;
}

/// The raw storage of a dense matrix or vector, with its shape.
struct DenseBits {
  Eigen::Index rows = 0, cols = 0;
  std::vector<unsigned char> data;
  bool operator==(const DenseBits& o) const {
    return rows == o.rows && cols == o.cols && data == o.data;
  }
};
template <class Derived>
DenseBits bits(const Eigen::PlainObjectBase<Derived>& M) {
  return {M.rows(), M.cols(), bytes_of(M.data(), M.size())};
}

/// The raw storage of an Eigen sparse matrix (compressed or not, free slots included).
struct SparseBits {
  Eigen::Index rows = 0, cols = 0;
  bool compressed = true;
  std::vector<unsigned char> outer, inner_nnz, inner, values;
  bool operator==(const SparseBits& o) const {
    return rows == o.rows && cols == o.cols && compressed == o.compressed && outer == o.outer &&
           inner_nnz == o.inner_nnz && inner == o.inner && values == o.values;
  }
};
template <class Scalar, int Options, class StorageIndex>
SparseBits bits(const Eigen::SparseMatrix<Scalar, Options, StorageIndex>& S) {
  SparseBits b;
  b.rows = S.rows(), b.cols = S.cols(), b.compressed = S.isCompressed();
  b.outer = bytes_of(S.outerIndexPtr(), S.outerSize() + 1);
  if (!S.isCompressed()) b.inner_nnz = bytes_of(S.innerNonZeroPtr(), S.outerSize());
  b.inner = bytes_of(S.innerIndexPtr(), S.data().size());
  b.values = bytes_of(S.valuePtr(), S.data().size());
  return b;
}

/// Everything a case can pass to the library, as bytes.
struct Snapshot {
  Eigen::Index coo_rows = 0, coo_cols = 0;
  DenseBits coo_row, coo_col, coo_values, b, x, dx, B, X, dX, x0;
  SparseBits csr, csc, uncompressed;
  std::vector<unsigned char> options;
  bool operator==(const Snapshot& o) const {
    return coo_rows == o.coo_rows && coo_cols == o.coo_cols && coo_row == o.coo_row &&
           coo_col == o.coo_col && coo_values == o.coo_values && b == o.b && x == o.x &&
           dx == o.dx && B == o.B && X == o.X && dX == o.dX && x0 == o.x0 && csr == o.csr &&
           csc == o.csc && uncompressed == o.uncompressed && options == o.options;
  }
};

// ---- the inputs of a case ----------------------------------------------------------------------

/// A valid problem in every form a case may need; a case spoils one piece of it.
/// A is the seed's 5x3 docstring example; X is its least-squares solution (dense QR).
template <class Scalar>
struct Inputs {
  sparsegrad::CooMatrix<Scalar> coo;
  Csr<Scalar> csr, uncompressed;
  Csc<Scalar> csc;
  Vec<Scalar> b, x, dx;
  Dense<Scalar> B, X, dX;
  sparsegrad::LsmrOptions<Scalar> options;

  Inputs() {
    coo.rows = 5, coo.cols = 3;
    coo.row.resize(8), coo.col.resize(8), coo.values.resize(8);
    coo.row << 0, 1, 2, 3, 4, 1, 2, 3;
    coo.col << 0, 0, 0, 0, 1, 1, 1, 2;
    coo.values << 1, 2, 1, 3, 1, 2, 1, 1;
    refresh_sparse();
    B = testing::random_dense<Scalar>(5, 4, 11);
    b = B.col(0);
    solve_x();
    dX = testing::random_dense<Scalar>(coo.cols, 4, 12);
    dx = dX.col(0);
  }

  /// Recomputes the Eigen forms after a change of `coo`.
  void refresh_sparse() {
    csr = sparsegrad::to_csr(coo);
    csc = sparsegrad::to_csc(coo);
    uncompressed = csr;
    uncompressed.uncompress();
  }

  /// X, x = the minimum-norm least-squares solution of the current coo, b, B (dense reference).
  void solve_x() {
    const Dense<double> A = testing::dense(coo).template cast<double>();
    X = testing::dense_lstsq(A, B.template cast<double>()).template cast<Scalar>();
    x = X.col(0);
  }

  Snapshot snapshot() const {
    Snapshot s;
    s.coo_rows = coo.rows, s.coo_cols = coo.cols;
    s.coo_row = bits(coo.row), s.coo_col = bits(coo.col), s.coo_values = bits(coo.values);
    s.b = bits(b), s.x = bits(x), s.dx = bits(dx), s.B = bits(B), s.X = bits(X), s.dX = bits(dX);
    s.x0 = bits(options.x0);
    s.csr = bits(csr), s.csc = bits(csc), s.uncompressed = bits(uncompressed);
    // The scalar options, field by field (no padding bytes).
    for (const auto* p : {&options.atol, &options.btol, &options.conlim, &options.damp}) {
      const auto raw = bytes_of(p, 1);
      s.options.insert(s.options.end(), raw.begin(), raw.end());
    }
    s.options.push_back(options.maxiter.has_value());
    const Eigen::Index maxiter_value = options.maxiter.value_or(-7);
    const auto maxiter = bytes_of(&maxiter_value, 1);
    s.options.insert(s.options.end(), maxiter.begin(), maxiter.end());
    s.options.push_back(options.throw_on_failure);
    return s;
  }
};

}  // namespace testing

#endif  // SPARSEGRAD_INPUT_SNAPSHOT_HPP
