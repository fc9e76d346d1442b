// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_KRYLOV_SCALING_HPP
#define SPARSEGRAD_KRYLOV_SCALING_HPP

/// \file krylov/scaling.hpp
/// What makes the Krylov solves scale-invariant: the Krylov kernels run on A·D, with D a
/// diagonal of powers of two, and on B rescaled by a power of two per column.
///
/// Why: LSMR's and CRAIG's convergence and stopping tests depend on the scaling of A's columns.
/// A survey matrix of condition 3.4 with one column in other units (× 1e-4) has condition 2.5e4
/// and LSMR stops on a residual test with x wrong by 100 %; on A·D with ‖(A·D) e_j‖ ≈ 1 the
/// same problem has condition 3.4 again (for a tall A of full column rank, x = D y gives the same
/// solution). Powers of two make the scaling exact (no rounding), so that a problem whose columns
/// are already of unit norm runs bit for bit as without scaling, and entries near the ends of
/// the floating-point range (1e±170 in double) are brought to normal numbers without loss.
///
/// A column with no stored entry gets d_j = 0 when the problem is undamped: x_j = 0, the
/// minimum-norm choice, and the backward's system for that column is dropped instead of being
/// inconsistent (the gradient on A's pattern is well defined; there is no entry there).

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cmath>
#include <complex>
#include <limits>
#include <type_traits>
#include <vector>

#include "../matrix.hpp"

namespace sparsegrad {
namespace detail {

/// The scalar the Krylov solves run in: double for float data (mixed precision, see
/// LsmrOptions::mixed_precision), the scalar itself otherwise.
template <class Scalar>
struct working_scalar {
  using type = Scalar;
};
template <>
struct working_scalar<float> {
  using type = double;
};
template <>
struct working_scalar<std::complex<float>> {
  using type = std::complex<double>;
};
template <class Scalar>
using working_scalar_t = typename working_scalar<Scalar>::type;

/// The nearest power of two to 1/x (x > 0 finite), exactly representable.
template <class Real>
Real inverse_power_of_two(Real x) {
  int e = 0;
  std::frexp(x, &e);  // x = f·2^e, f in [0.5, 1)
  return std::ldexp(Real(1), 1 - e);
}

/// The diagonal D of the column scaling, with what it found about A's columns.
template <class Real>
struct ColumnWeights {
  Eigen::Matrix<Real, Eigen::Dynamic, 1> d;  ///< the weights (n), 1 when unused
  std::vector<Eigen::Index> empty;           ///< columns without a stored entry
  std::vector<Eigen::Index> zero_stored;     ///< columns with stored entries, all exactly zero
  Real max = 1;                              ///< max_j d_j (1 when unused)
  bool scaled = false;                       ///< true when D is not the identity

  /// ‖D v‖ for a vector v of length n (overflow-safe: D brings entries of 1e±170 to 1).
  template <class Vec>
  Real weighted_norm(const Vec& v) const {
    return scaled ? Real((d.template cast<typename Vec::Scalar>().cwiseProduct(v)).stableNorm())
                  : Real(v.stableNorm());
  }
};

/// The column norms of a sparse matrix in long double (no overflow for entries near the ends of
/// the range), with the count of stored entries per column.
template <class Matrix>
void column_norms(const Matrix& A, std::vector<long double>& norm2,
                  std::vector<Eigen::Index>& nnz) {
  norm2.assign(std::size_t(cols_of(A)), 0.0L);
  nnz.assign(norm2.size(), 0);
  for_each_entry(A, [&](Eigen::Index, Eigen::Index, Eigen::Index j, const auto& v) {
    const long double a = std::abs(v);
    norm2[std::size_t(j)] += a * a;
    ++nnz[std::size_t(j)];
  });
}

/// The weights from the squared column norms `norm2` and the counts of stored entries `nnz`
/// of a matrix: with `scale_columns`, d_j = 2^p ≈ 1/‖A e_j‖; with `mask_empty`, d_j = 0 for a
/// column without stored entries (and for a column whose stored entries are all zero). Without
/// either, D = I. (The PyTorch device path computes the norms on the device and decides here.)
template <class Real, class Norm2>
ColumnWeights<Real> column_weights_from_norms(const std::vector<Norm2>& norm2,
                                              const std::vector<Eigen::Index>& nnz,
                                              bool scale_columns, bool mask_empty) {
  ColumnWeights<Real> w;
  const auto n = static_cast<Eigen::Index>(norm2.size());
  w.d.setOnes(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const auto jj = std::size_t(j);
    if (nnz[jj] == 0) w.empty.push_back(j);
    if (nnz[jj] > 0 && norm2[jj] == 0) w.zero_stored.push_back(j);
    if (norm2[jj] == 0) {
      if (mask_empty) w.d[j] = 0, w.scaled = true;
    } else if (scale_columns) {
      w.d[j] = Real(inverse_power_of_two(std::sqrt(norm2[jj])));
      w.scaled = w.scaled || w.d[j] != 1;
    }
  }
  w.max = w.d.size() > 0 ? std::max(w.d.maxCoeff(), Real(0)) : Real(1);
  if (!(w.max > 0)) w.max = 1;
  return w;
}

/// The weights for A (see column_weights_from_norms).
template <class Real, class Matrix>
ColumnWeights<Real> column_weights(const Matrix& A, bool scale_columns, bool mask_empty) {
  std::vector<long double> norm2;
  std::vector<Eigen::Index> nnz;
  column_norms(A, norm2, nnz);
  return column_weights_from_norms<Real>(norm2, nnz, scale_columns, mask_empty);
}

/// The power of two s with s·‖A‖_F near 1 from ‖A‖_F² (1 for the zero matrix).
template <class Real, class Norm2>
Real uniform_scale_from_norm2(Norm2 sum) {
  return sum > 0 ? Real(inverse_power_of_two(std::sqrt(sum))) : Real(1);
}

/// A power of two s with s·‖A‖_F near 1, for problems that are not column-scaled (wide or
/// damped A): LSMR's trajectory is unchanged (exact scaling), its intermediate quantities stay
/// normal numbers.
template <class Real, class Matrix>
Real uniform_scale(const Matrix& A) {
  long double sum = 0;
  for_each_entry(A, [&](Eigen::Index, Eigen::Index, Eigen::Index, const auto& v) {
    const long double a = std::abs(v);
    sum += a * a;
  });
  return uniform_scale_from_norm2<Real>(sum);
}

/// The operator A·diag(d) over any operator, for the Krylov kernels (d real: products with D are
/// exact for powers of two).
template <class Operator, class Scalar>
class ScaledOperator {
 public:
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  ScaledOperator(const Operator& op, const Eigen::Matrix<Real, Eigen::Dynamic, 1>& d)
      : op_(op), d_(d) {}

  Eigen::Index rows() const { return op_.rows(); }
  Eigen::Index cols() const { return op_.cols(); }

  /// Y = A (D V)
  template <class In, class Out>
  void apply(const In& V, Out&& Y) const {
    in_ = d_.template cast<Scalar>().asDiagonal() * V;
    op_.apply(in_, std::forward<Out>(Y));
  }

  /// Y = D (Aᴴ U)
  template <class In, class Out>
  void apply_adjoint(const In& U, Out&& Y) const {
    op_.apply_adjoint(U, Y);
    for (Eigen::Index c = 0; c < Y.cols(); ++c)
      Y.col(c).array() *= d_.template cast<Scalar>().array();
  }

 private:
  const Operator& op_;
  const Eigen::Matrix<Real, Eigen::Dynamic, 1>& d_;
  mutable Matrix in_;  // workspace, reused across iterations
};

/// The power of two c with c·norm near 1 (1 for a zero or non-finite norm).
template <class Real>
Real rescaling_for_norm(Real norm) {
  return norm > 0 && std::isfinite(double(norm)) ? inverse_power_of_two(norm) : Real(1);
}

/// Per column j of B, a power of two c_j with c_j‖B_j‖ near 1 (1 for a zero column).
template <class Real, class Block>
Eigen::Matrix<Real, Eigen::Dynamic, 1> column_rescaling(const Block& B) {
  Eigen::Matrix<Real, Eigen::Dynamic, 1> c(B.cols());
  for (Eigen::Index j = 0; j < B.cols(); ++j)
    c[j] = rescaling_for_norm(Real(B.col(j).stableNorm()));
  return c;
}

template <class Operator, class = void>
struct has_matrix : std::false_type {};
template <class Operator>
struct has_matrix<Operator, std::void_t<decltype(std::declval<const Operator&>().matrix())>>
    : std::true_type {};

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_SCALING_HPP
