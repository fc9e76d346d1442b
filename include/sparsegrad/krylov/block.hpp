// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_KRYLOV_BLOCK_HPP
#define SPARSEGRAD_KRYLOV_BLOCK_HPP

// The vector space the Krylov kernels work in, as a policy: a "block" holds k vectors of one
// length (one per right-hand side) and the kernels only touch it through these functions.
// This one stores a block as a column-major Eigen matrix; a distributed backend supplies its
// own policy with the same members (and an operator that accepts its `active` views).

#include <Eigen/Core>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <vector>

namespace sparsegrad {
namespace detail {

template <class Scalar_>
struct EigenBlockSpace {
  using Scalar = Scalar_;
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  using Block = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  /// A rows x k block of zeros.
  static Block zeros(Eigen::Index rows, Eigen::Index k) { return Block::Zero(rows, k); }

  /// The first k vectors of X, as passed to an operator's apply / apply_adjoint.
  static auto active(Block& X, Eigen::Index k) { return X.leftCols(k); }
  static auto active(const Block& X, Eigen::Index k) { return X.leftCols(k); }

  /// ‖X_j‖ as sqrt of the sum of squares taken in index order: the rounding of reference
  /// BLAS (numpy's dot), so that LSMR follows scipy's finite-precision trajectory.
  static Real norm(const Block& X, Eigen::Index j) {
    const Scalar* x = X.col(j).data();
    Real sum = 0;
    for (Eigen::Index i = 0; i < X.rows(); ++i) sum += Eigen::numext::abs2(x[i]);
    // Only when the squares overflow (|x| > ~1e154 in double) or leave the normal range is the
    // sum useless: then rescale (Eigen's stableNorm), so normal ranges keep the BLAS rounding.
    const Real tiny = std::numeric_limits<Real>::min() / std::numeric_limits<Real>::epsilon();
    if (!(sum >= tiny && sum <= std::numeric_limits<Real>::max())) return X.col(j).stableNorm();
    return std::sqrt(sum);
  }

  /// X_j *= s
  static void scale(Block& X, Eigen::Index j, Real s) { X.col(j) *= s; }

  /// Y_j = X_j + a Y_j  (the update order of the LSMR recurrences)
  static void add_scaled_self(Block& Y, Eigen::Index j, Real a, const Block& X, Eigen::Index i) {
    Y.col(j) = X.col(i) + a * Y.col(j);
  }

  /// Y_j += a X_i
  static void axpy(Block& Y, Eigen::Index j, Real a, const Block& X, Eigen::Index i) {
    Y.col(j) += a * X.col(i);
  }

  /// Y_j = X_i
  static void copy(Block& Y, Eigen::Index j, const Block& X, Eigen::Index i) {
    Y.col(j) = X.col(i);
  }

  static void set_zero(Block& X, Eigen::Index j) { X.col(j).setZero(); }
};

/// Column compaction shared by the block Krylov kernels: hands the state of every finished
/// column to `record`, moves the running ones (their state and their vectors in `blocks`; null
/// entries are skipped) to the front, and returns how many still run. A stopped column thus
/// costs nothing more, and each running column keeps exactly the arithmetic of a separate run.
template <class Space, class State, class Record>
Eigen::Index compact_columns(std::vector<State>& state, Eigen::Index active, Record&& record,
                             std::initializer_list<typename Space::Block*> blocks) {
  Eigen::Index kept = 0;
  for (Eigen::Index p = 0; p < active; ++p) {
    State& c = state[static_cast<std::size_t>(p)];
    if (c.done) {
      record(c);
      continue;
    }
    if (kept != p) {
      state[static_cast<std::size_t>(kept)] = c;
      for (auto* W : blocks)
        if (W) Space::copy(*W, kept, *W, p);
    }
    ++kept;
  }
  return kept;
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_BLOCK_HPP
