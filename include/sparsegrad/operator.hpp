// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_OPERATOR_HPP
#define SPARSEGRAD_OPERATOR_HPP

/// \file operator.hpp
/// Matrix-free views of A. The algorithms (LSMR and the adjoint) only see this concept:
///
///   op.rows(), op.cols()             dimensions of A
///   op.apply(V, Y)                   Y = A V        (V: cols() x k, Y: rows() x k)
///   op.apply_adjoint(U, Y)           Y = Aᴴ U       (U: rows() x k, Y: cols() x k)
///
/// V, U are Eigen dense expressions and Y a writable dense expression (for example a
/// `leftCols(k)` block of a workspace matrix), so the same operator serves one right-hand side
/// and a block of them. Any user type with these members works (a PETSc matrix, a GPU
/// operator, a composition such as a preconditioned A).

#include <Eigen/SparseCore>
#include <utility>

#include "coo.hpp"
#include "detail/matrix_traits.hpp"

namespace sparsegrad {

/// Operator over an Eigen sparse matrix (SparseMatrix in either storage order, or a Map of
/// one). Holds a reference: the matrix must outlive the operator.
template <class SparseType>
class SparseOperator {
 public:
  using Scalar = typename SparseType::Scalar;

  explicit SparseOperator(const SparseType& A) : A_(A) {}

  Eigen::Index rows() const { return A_.rows(); }
  Eigen::Index cols() const { return A_.cols(); }
  const SparseType& matrix() const { return A_; }

  template <class In, class Out>
  void apply(const In& V, Out&& Y) const {
    Y.noalias() = A_ * V;
  }

  template <class In, class Out>
  void apply_adjoint(const In& U, Out&& Y) const {
    Y.noalias() = A_.adjoint() * U;
  }

 private:
  const SparseType& A_;
};

/// Operator over a CooMatrix: holds a CSR copy with duplicates summed (O(nnz) memory), made
/// once so that every product afterwards runs at CSR speed.
template <class Scalar_, class StorageIndex>
class CooOperator {
 public:
  using Scalar = Scalar_;
  using Csr = Eigen::SparseMatrix<Scalar, Eigen::RowMajor, StorageIndex>;

  explicit CooOperator(const CooMatrix<Scalar, StorageIndex>& A) : csr_(to_csr(A)) {}

  Eigen::Index rows() const { return csr_.rows(); }
  Eigen::Index cols() const { return csr_.cols(); }
  const Csr& matrix() const { return csr_; }

  template <class In, class Out>
  void apply(const In& V, Out&& Y) const {
    Y.noalias() = csr_ * V;
  }

  template <class In, class Out>
  void apply_adjoint(const In& U, Out&& Y) const {
    Y.noalias() = csr_.adjoint() * U;
  }

 private:
  Csr csr_;
};

/// Aᴴ as an operator over A (no copy): used to solve the transposed system of the backward pass.
template <class Operator>
class AdjointOperator {
 public:
  using Scalar = typename Operator::Scalar;

  explicit AdjointOperator(const Operator& op) : op_(op) {}

  Eigen::Index rows() const { return op_.cols(); }
  Eigen::Index cols() const { return op_.rows(); }

  template <class In, class Out>
  void apply(const In& V, Out&& Y) const {
    op_.apply_adjoint(V, std::forward<Out>(Y));
  }

  template <class In, class Out>
  void apply_adjoint(const In& U, Out&& Y) const {
    op_.apply(U, std::forward<Out>(Y));
  }

 private:
  const Operator& op_;
};

/// The operator for any A that sparsegrad accepts.
template <class Scalar, class StorageIndex>
CooOperator<Scalar, StorageIndex> make_operator(const CooMatrix<Scalar, StorageIndex>& A) {
  return CooOperator<Scalar, StorageIndex>(A);
}

template <class Scalar, int Options, class StorageIndex>
SparseOperator<Eigen::SparseMatrix<Scalar, Options, StorageIndex>> make_operator(
    const Eigen::SparseMatrix<Scalar, Options, StorageIndex>& A) {
  return SparseOperator<Eigen::SparseMatrix<Scalar, Options, StorageIndex>>(A);
}

template <class MatrixType>
SparseOperator<Eigen::Map<MatrixType>> make_operator(const Eigen::Map<MatrixType>& A) {
  return SparseOperator<Eigen::Map<MatrixType>>(A);
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_OPERATOR_HPP
