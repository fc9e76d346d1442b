// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_MATRIX_HPP
#define SPARSEGRAD_MATRIX_HPP

// What sparsegrad accepts as A, and uniform access to its stored entries: for a CooMatrix
// the entries in their array order (duplicates included), for Eigen sparse matrices the
// entries in storage order (an uncompressed SparseMatrix is handled through InnerIterator).

#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "coo.hpp"
#include "detail/checks.hpp"

namespace sparsegrad {
namespace detail {

/// Primary template: not a supported A. `supported` drives the static_assert in the API.
template <class T>
struct matrix_traits {
  static constexpr bool supported = false;
};

template <class Scalar_, class StorageIndex_>
struct matrix_traits<CooMatrix<Scalar_, StorageIndex_>> {
  static constexpr bool supported = true;
  using Scalar = Scalar_;
  using StorageIndex = StorageIndex_;
  using Gradient = CooMatrix<Scalar, StorageIndex>;
};

template <class Scalar_, int Options, class StorageIndex_>
struct matrix_traits<Eigen::SparseMatrix<Scalar_, Options, StorageIndex_>> {
  static constexpr bool supported = true;
  using Scalar = Scalar_;
  using StorageIndex = StorageIndex_;
  using Gradient = Eigen::SparseMatrix<Scalar, Options, StorageIndex>;
};

template <class Scalar_, int Options, class StorageIndex_>
struct matrix_traits<Eigen::Map<Eigen::SparseMatrix<Scalar_, Options, StorageIndex_>>>
    : matrix_traits<Eigen::SparseMatrix<Scalar_, Options, StorageIndex_>> {};

template <class Scalar_, int Options, class StorageIndex_>
struct matrix_traits<Eigen::Map<const Eigen::SparseMatrix<Scalar_, Options, StorageIndex_>>>
    : matrix_traits<Eigen::SparseMatrix<Scalar_, Options, StorageIndex_>> {};

template <class T>
constexpr bool is_supported_matrix_v = matrix_traits<std::decay_t<T>>::supported;

#define SPARSEGRAD_STATIC_ASSERT_SUPPORTED_MATRIX(AType)                                         \
  static_assert(::sparsegrad::detail::is_supported_matrix_v<AType>,                              \
                "sparsegrad: A must be a sparsegrad::CooMatrix, an Eigen::SparseMatrix (CSR or " \
                "CSC) or an Eigen::Map of one; dense matrices and expressions such as "          \
                "A.transpose() are not accepted (evaluate them into a SparseMatrix first)")

/// Calls f(entry, i, j, value) for every stored entry of A, entry = 0, 1, ... in the order in
/// which the entries are stored.
template <class Scalar, class StorageIndex, class F>
void for_each_entry(const CooMatrix<Scalar, StorageIndex>& A, F&& f) {
  for (Eigen::Index e = 0; e < A.values.size(); ++e)
    f(e, static_cast<Eigen::Index>(A.row[e]), static_cast<Eigen::Index>(A.col[e]), A.values[e]);
}

template <class SparseDerived, class F>
void for_each_entry(const Eigen::SparseCompressedBase<SparseDerived>& A, F&& f) {
  Eigen::Index e = 0;
  for (Eigen::Index outer = 0; outer < A.outerSize(); ++outer)
    for (typename SparseDerived::InnerIterator it(A.derived(), outer); it; ++it, ++e)
      f(e, it.row(), it.col(), it.value());
}

/// Number of stored entries (COO duplicates counted; for an uncompressed SparseMatrix only
/// the entries in use).
template <class Scalar, class StorageIndex>
Eigen::Index stored_entries(const CooMatrix<Scalar, StorageIndex>& A) {
  return A.values.size();
}
template <class SparseDerived>
Eigen::Index stored_entries(const Eigen::SparseCompressedBase<SparseDerived>& A) {
  return A.nonZeros();
}

template <class Scalar, class StorageIndex>
Eigen::Index rows_of(const CooMatrix<Scalar, StorageIndex>& A) {
  return A.rows;
}
template <class Scalar, class StorageIndex>
Eigen::Index cols_of(const CooMatrix<Scalar, StorageIndex>& A) {
  return A.cols;
}
template <class SparseDerived>
Eigen::Index rows_of(const Eigen::SparseCompressedBase<SparseDerived>& A) {
  return A.rows();
}
template <class SparseDerived>
Eigen::Index cols_of(const Eigen::SparseCompressedBase<SparseDerived>& A) {
  return A.cols();
}

/// Full check of A: for COO the structure and values (see `validate`), for Eigen matrices the
/// values (their structure is Eigen's invariant). Throws std::invalid_argument.
template <class Scalar, class StorageIndex>
void validate_matrix(const char* where, const CooMatrix<Scalar, StorageIndex>& A) {
  validate(A, where, "A");
}
template <class SparseDerived>
void validate_matrix(const char* where, const Eigen::SparseCompressedBase<SparseDerived>& A) {
  for_each_entry(A, [&](Eigen::Index e, Eigen::Index i, Eigen::Index j, const auto& value) {
    if (!is_finite(value))
      throw_invalid(where, "A", "finite values",
                    concat(value, " at stored entry ", e, " (", i, ", ", j, ")"));
  });
}

/// Frobenius norm of A as stored (COO duplicates are coalesced first so that it is the norm of
/// the matrix A represents). An upper bound on the 2-norm, used to scale tolerances.
template <class SparseDerived>
typename Eigen::NumTraits<typename SparseDerived::Scalar>::Real frobenius_norm(
    const Eigen::SparseCompressedBase<SparseDerived>& A) {
  using Real = typename Eigen::NumTraits<typename SparseDerived::Scalar>::Real;
  // Eigen's norm() asserts on an empty matrix, and its sum of squares over- or underflows for
  // entries beyond ~1e±154 (double): only then rescale by the largest entry.
  if (A.nonZeros() == 0) return Real(0);
  const Real plain = A.derived().norm();
  const Real tiny =
      std::sqrt(std::numeric_limits<Real>::min() / std::numeric_limits<Real>::epsilon());
  if (plain >= tiny && plain <= std::numeric_limits<Real>::max()) return plain;
  Real scale = 0, sum = 0;
  for_each_entry(A, [&](Eigen::Index, Eigen::Index, Eigen::Index, const auto& v) {
    scale = std::max(scale, Real(Eigen::numext::abs(v)));
  });
  if (!(scale > 0)) return plain;  // all zero (or NaN, which validation rejects)
  for_each_entry(A, [&](Eigen::Index, Eigen::Index, Eigen::Index, const auto& v) {
    sum += Eigen::numext::abs2(v / scale);
  });
  return scale * std::sqrt(sum);
}
template <class Scalar, class StorageIndex>
typename Eigen::NumTraits<Scalar>::Real frobenius_norm(const CooMatrix<Scalar, StorageIndex>& A) {
  return frobenius_norm(to_csr(A));
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_MATRIX_HPP
