// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_COO_HPP
#define SPARSEGRAD_COO_HPP

/// \file coo.hpp
/// `CooMatrix`, the coordinate format of torch.sparse_coo_tensor, its validation and its
/// conversions to and from Eigen's compressed formats.

#include <Eigen/SparseCore>
#include <limits>
#include <vector>

#include "detail/checks.hpp"

namespace sparsegrad {

/// Sparse matrix in coordinate format, like torch.sparse_coo_tensor: entries may come in any
/// order and an (i, j) may appear more than once, in which case the entries add up.
/// Indices are 0-based. `lstsq_backward` returns one gradient value per stored entry, in the
/// same order, duplicates included.
template <class Scalar_, class StorageIndex_ = int>
struct CooMatrix {
  using Scalar = Scalar_;
  using StorageIndex = StorageIndex_;
  using IndexVector = Eigen::Matrix<StorageIndex, Eigen::Dynamic, 1>;
  using ValueVector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  Eigen::Index rows = 0, cols = 0;
  IndexVector row;     ///< row index of each entry, size nnz
  IndexVector col;     ///< column index of each entry, size nnz
  ValueVector values;  ///< value of each entry, size nnz

  /// Number of stored entries (duplicates counted).
  Eigen::Index nonZeros() const { return values.size(); }
};

/// Checks a COO matrix: non-negative dimensions that fit StorageIndex, equal lengths of
/// row/col/values, indices in range, finite values. Throws std::invalid_argument naming
/// `name` and the first offending entry.
template <class Scalar, class StorageIndex>
void validate(const CooMatrix<Scalar, StorageIndex>& A, const char* where = "validate",
              const char* name = "A") {
  using detail::concat;
  using detail::throw_invalid;
  const auto max_index = static_cast<Eigen::Index>(std::numeric_limits<StorageIndex>::max());
  if (A.rows < 0 || A.cols < 0 || A.rows > max_index || A.cols > max_index)
    throw_invalid(where, name, concat("dimensions in [0, ", max_index, "]"),
                  concat("rows = ", A.rows, ", cols = ", A.cols));
  const Eigen::Index nnz = A.values.size();
  if (A.row.size() != nnz || A.col.size() != nnz)
    throw_invalid(where, name, "row, col and values of equal length",
                  concat("row: ", A.row.size(), ", col: ", A.col.size(), ", values: ", nnz));
  for (Eigen::Index e = 0; e < nnz; ++e) {
    const auto i = static_cast<Eigen::Index>(A.row[e]);
    const auto j = static_cast<Eigen::Index>(A.col[e]);
    if (i < 0 || i >= A.rows)
      throw_invalid(where, name, concat("row indices in [0, ", A.rows, ")"),
                    concat("row[", e, "] = ", i));
    if (j < 0 || j >= A.cols)
      throw_invalid(where, name, concat("column indices in [0, ", A.cols, ")"),
                    concat("col[", e, "] = ", j));
    if (!detail::is_finite(A.values[e]))
      throw_invalid(where, name, "finite values",
                    concat(A.values[e], " at entry ", e, " (", i, ", ", j, ")"));
  }
}

/// Compressed copy of a COO matrix with duplicates summed. Options is Eigen::RowMajor (CSR)
/// or Eigen::ColMajor (CSC). The COO matrix is assumed valid (see `validate`).
template <int Options, class Scalar, class StorageIndex>
Eigen::SparseMatrix<Scalar, Options, StorageIndex> to_compressed(
    const CooMatrix<Scalar, StorageIndex>& A) {
  std::vector<Eigen::Triplet<Scalar, StorageIndex>> entries;
  entries.reserve(static_cast<std::size_t>(A.values.size()));
  for (Eigen::Index e = 0; e < A.values.size(); ++e)
    entries.emplace_back(A.row[e], A.col[e], A.values[e]);
  Eigen::SparseMatrix<Scalar, Options, StorageIndex> out(A.rows, A.cols);
  out.setFromTriplets(entries.begin(), entries.end());
  return out;
}

/// CSR copy of a COO matrix, duplicates summed.
template <class Scalar, class StorageIndex>
Eigen::SparseMatrix<Scalar, Eigen::RowMajor, StorageIndex> to_csr(
    const CooMatrix<Scalar, StorageIndex>& A) {
  return to_compressed<Eigen::RowMajor>(A);
}

/// CSC copy of a COO matrix, duplicates summed.
template <class Scalar, class StorageIndex>
Eigen::SparseMatrix<Scalar, Eigen::ColMajor, StorageIndex> to_csc(
    const CooMatrix<Scalar, StorageIndex>& A) {
  return to_compressed<Eigen::ColMajor>(A);
}

/// COO copy of an Eigen sparse matrix (SparseMatrix or Map), entries in storage order.
template <class SparseDerived>
CooMatrix<typename SparseDerived::Scalar, typename SparseDerived::StorageIndex> to_coo(
    const Eigen::SparseMatrixBase<SparseDerived>& A) {
  const SparseDerived& S = A.derived();
  CooMatrix<typename SparseDerived::Scalar, typename SparseDerived::StorageIndex> out;
  out.rows = S.rows();
  out.cols = S.cols();
  out.row.resize(S.nonZeros());
  out.col.resize(S.nonZeros());
  out.values.resize(S.nonZeros());
  Eigen::Index e = 0;
  for (Eigen::Index outer = 0; outer < S.outerSize(); ++outer)
    for (typename SparseDerived::InnerIterator it(S, outer); it; ++it, ++e) {
      out.row[e] = static_cast<typename SparseDerived::StorageIndex>(it.row());
      out.col[e] = static_cast<typename SparseDerived::StorageIndex>(it.col());
      out.values[e] = it.value();
    }
  return out;
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_COO_HPP
