// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_KRYLOV_BLOCK_HPP
#define SPARSEGRAD_KRYLOV_BLOCK_HPP

/// \file krylov/block.hpp
/// The block bookkeeping shared by the Krylov kernels (LSMR, CRAIG): k right-hand sides iterate
/// together, each with its own scalars and stopping test, and a column that stops is compacted
/// out, so that it costs nothing more and every running column keeps exactly the arithmetic of
/// a separate run.
///
/// The vector work goes through a vector-space policy ("Space"): a Block holds k vectors of one
/// length, and the kernels touch it only through the static members of EigenBlockSpace below
/// (a distributed backend supplies its own policy with the same members, see
/// backends/petsc.hpp). The fused members (bidiag_step, lsmr_update, craig_update) are the
/// units of work of one iteration, so that a policy can do each in one pass over memory.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "../diagnostics.hpp"
#include "bidiagonal.hpp"

namespace sparsegrad {
namespace detail {

template <class Scalar_>
struct EigenBlockSpace {
  using Scalar = Scalar_;
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  using Block = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Index = Eigen::Index;

  /// A rows x k block of zeros.
  static Block zeros(Index rows, Index k) { return Block::Zero(rows, k); }

  /// The first k vectors of X, as passed to an operator's apply / apply_adjoint.
  static auto active(Block& X, Index k) { return X.leftCols(k); }
  static auto active(const Block& X, Index k) { return X.leftCols(k); }

  /// ‖X_j‖ as sqrt of the sum of squares taken in index order: the rounding of reference
  /// BLAS (numpy's dot), so that LSMR follows scipy's finite-precision trajectory.
  static Real norm(const Block& X, Index j) {
    const Scalar* x = X.col(j).data();
    Real sum = 0;
    for (Index i = 0; i < X.rows(); ++i) sum += Eigen::numext::abs2(x[i]);
    return finish_norm(X, j, sum);
  }

  /// X_j *= s
  static void scale(Block& X, Index j, Real s) { X.col(j) *= s; }

  /// Y_j = X_i + a Y_j  (the update order of the LSMR recurrences)
  static void add_scaled_self(Block& Y, Index j, Real a, const Block& X, Index i) {
    Y.col(j) = X.col(i) + a * Y.col(j);
  }

  /// Y_j += a X_i
  static void axpy(Block& Y, Index j, Real a, const Block& X, Index i) { Y.col(j) += a * X.col(i); }

  /// Y_j = X_i
  static void copy(Block& Y, Index j, const Block& X, Index i) { Y.col(j) = X.col(i); }

  static void set_zero(Block& X, Index j) { X.col(j).setZero(); }

  /// One Golub–Kahan step on vector j: W_j ← P_i − s W_j (P_i when s = 0), ν = ‖W_j‖,
  /// W_j ← W_j / ν when ν > 0. Returns ν.
  static Real bidiag_step(Block& W, Index j, Real s, const Block& P, Index i) {
    Scalar* w = W.col(j).data();
    const Scalar* p = P.col(i).data();
    const Real a = -s;
    Real sum = 0;
    for (Index r = 0; r < W.rows(); ++r) {
      w[r] = s == 0 ? p[r] : p[r] + a * w[r];
      sum += Eigen::numext::abs2(w[r]);
    }
    const Real nu = finish_norm(W, j, sum);
    if (nu > 0) scale(W, j, Real(1) / nu);
    return nu;
  }

  /// LSMR's vector update (Fong & Saunders 2011, Algorithm LSMR, steps 5–6):
  /// H̄_p ← H_p + a_hbar H̄_p, X_x ← X_x + a_x H̄_p, H_p ← V_p + a_h H_p. Returns ‖X_x‖.
  static Real lsmr_update(Block& Hbar, Block& H, Block& X, const Block& V, Index p, Index x,
                          Real a_hbar, Real a_x, Real a_h) {
    Scalar* hbar = Hbar.col(p).data();
    Scalar* h = H.col(p).data();
    Scalar* xs = X.col(x).data();
    const Scalar* v = V.col(p).data();
    Real sum = 0;
    for (Index r = 0; r < X.rows(); ++r) {
      hbar[r] = h[r] + a_hbar * hbar[r];
      xs[r] += a_x * hbar[r];
      h[r] = v[r] + a_h * h[r];
      sum += Eigen::numext::abs2(xs[r]);
    }
    return finish_norm(X, x, sum);
  }

  /// CRAIG's vector update: P_p ← (U_p − β P_p)/α, H_h ← H_h + ζ P_p. Returns ‖P_p‖.
  static Real craig_update(Block& P, const Block& U, Block& H, Index p, Index h, Real beta,
                           Real alpha, Real zeta) {
    Scalar* ps = P.col(p).data();
    const Scalar* u = U.col(p).data();
    Scalar* hs = H.col(h).data();
    const Real a = -beta, inv = Real(1) / alpha;
    Real sum = 0;
    for (Index r = 0; r < P.rows(); ++r) {
      ps[r] = (u[r] + a * ps[r]) * inv;
      hs[r] += zeta * ps[r];
      sum += Eigen::numext::abs2(ps[r]);
    }
    return finish_norm(P, p, sum);
  }

 private:
  /// sqrt(sum), or Eigen's stableNorm of X_j when the squares overflowed or left the normal
  /// range (|x| beyond ~1e±154 in double): normal ranges keep the BLAS rounding.
  static Real finish_norm(const Block& X, Index j, Real sum) {
    const Real tiny = std::numeric_limits<Real>::min() / std::numeric_limits<Real>::epsilon();
    if (!(sum >= tiny && sum <= std::numeric_limits<Real>::max())) return X.col(j).stableNorm();
    return std::sqrt(sum);
  }
};

/// The fused members of a vector-space policy from its basic ones (scale, norm, copy,
/// add_scaled_self, axpy), for a policy without fused kernels: derive from UnfusedSteps<Space>.
template <class Space>
struct UnfusedSteps {
  template <class Block, class Real>
  static Real bidiag_step(Block& W, Eigen::Index j, Real s, const Block& P, Eigen::Index i) {
    if (s == 0) {
      Space::copy(W, j, P, i);
    } else {
      Space::add_scaled_self(W, j, -s, P, i);
    }
    const Real nu = Space::norm(W, j);
    if (nu > 0) Space::scale(W, j, Real(1) / nu);
    return nu;
  }
  template <class Block, class Real>
  static Real lsmr_update(Block& Hbar, Block& H, Block& X, const Block& V, Eigen::Index p,
                          Eigen::Index x, Real a_hbar, Real a_x, Real a_h) {
    Space::add_scaled_self(Hbar, p, a_hbar, H, p);
    Space::axpy(X, x, a_x, Hbar, p);
    Space::add_scaled_self(H, p, a_h, V, p);
    return Space::norm(X, x);
  }
  template <class Block, class Real>
  static Real craig_update(Block& P, const Block& U, Block& H, Eigen::Index p, Eigen::Index h,
                           Real beta, Real alpha, Real zeta) {
    Space::add_scaled_self(P, p, -beta, U, p);
    Space::scale(P, p, Real(1) / alpha);
    Space::axpy(H, h, zeta, P, p);
    return Space::norm(P, p);
  }
};

/// What every Krylov column state records (its estimates, in the units of Diagnostics).
template <class Real>
struct ColumnState {
  Eigen::Index id = 0;  ///< column of B this state belongs to
  bool done = false;
  int istop = 0;
  Real normr = 0, normar = 0, norma = 0, conda = 1, normx = 0;
  double error = std::numeric_limits<double>::quiet_NaN();
  double error_image = std::numeric_limits<double>::quiet_NaN();
  /// Extreme singular values of the kernel's bidiagonal at iteration sigma_itn (-1: none yet).
  double sigma_min = std::numeric_limits<double>::quiet_NaN();
  double sigma_max = std::numeric_limits<double>::quiet_NaN();
  int sigma_itn = -1;

  /// Refreshes sigma_min, sigma_max from the bidiagonal (diagonal d, off-diagonal e).
  template <class Vec>
  void estimate_sigma(const Vec& d, const Vec& e, int itn) {
    const auto s = bidiagonal_extreme_singular_values(d, e);
    sigma_min = s.min, sigma_max = s.max, sigma_itn = itn;
  }

  /// True when the singular values should be re-estimated at iteration itn: always the first
  /// time, then when the last estimate is older than itn/32 iterations (a geometric schedule:
  /// the O(k) bisection then costs O(1) amortised per iteration).
  bool estimate_due(int itn) const {
    return sigma_itn < 0 || itn - sigma_itn >= std::max(1, itn / 32);
  }
};

/// Copies a finished column's estimates into the diagnostics.
template <class Real>
void record(Diagnostics& stats, const ColumnState<Real>& c, int itn) {
  const auto id = static_cast<std::size_t>(c.id);
  stats.istop[id] = c.istop;
  stats.itn[id] = itn;
  stats.normr[id] = double(c.normr);
  stats.normar[id] = double(c.normar);
  stats.norma[id] = double(c.norma);
  stats.conda[id] = double(c.conda);
  stats.normx[id] = double(c.normx);
  stats.error[id] = c.error;
  stats.error_image[id] = c.error_image;
  stats.sigma_min[id] = c.sigma_min;
  stats.sigma_max[id] = c.sigma_max;
}

/// The tests every kernel shares, from options with scipy's names: iteration limit
/// (options.maxiter_for), atol, btol and ctol = 1/conlim; and, unless options.scipy_compatible,
/// the trust gate: a column that passes scipy's tests stops only when its estimated error is
/// below `tolerance` (see LsmrOptions::error_tolerance).
template <class Real>
struct StoppingRule {
  Eigen::Index maxiter = 0;
  Real atol = 0, btol = 0, ctol = 0;
  bool trusted = false;
  double tolerance = 0;                               ///< the error estimate must be below
  double eps = std::numeric_limits<Real>::epsilon();  ///< unit roundoff of the arithmetic

  template <class Options>
  static StoppingRule from(const Options& opt, Eigen::Index m, Eigen::Index n, double tolerance) {
    StoppingRule rule;
    rule.maxiter = opt.maxiter_for(m, n);
    rule.atol = Real(opt.atol);
    rule.btol = Real(opt.btol);
    rule.ctol = opt.conlim > 0 ? Real(1) / Real(opt.conlim) : Real(0);
    rule.trusted = !opt.scipy_compatible;
    rule.tolerance = tolerance;
    return rule;
  }

  /// Capacity to reserve for per-iteration records: maxiter up to a cap, beyond which they
  /// grow geometrically (a few allocations in a long run, none per iteration).
  std::size_t record_capacity() const {
    return static_cast<std::size_t>(std::min<Eigen::Index>(maxiter, 4096) + 1);
  }
};

/// Hands every finished column to `finish(state)`, moves the running ones to the front (their
/// state here, their vectors by `move(to, from)`, called for each column that moves) and returns
/// how many still run.
template <class State, class Finish, class Move>
Eigen::Index compact_states(std::vector<State>& state, Eigen::Index active, Finish&& finish,
                            Move&& move) {
  Eigen::Index kept = 0;
  for (Eigen::Index p = 0; p < active; ++p) {
    State& c = state[static_cast<std::size_t>(p)];
    if (c.done) {
      finish(c);
      continue;
    }
    if (kept != p) {
      std::swap(state[static_cast<std::size_t>(kept)], c);
      move(kept, p);
    }
    ++kept;
  }
  return kept;
}

/// compact_states with the vectors in `blocks` (null entries are skipped).
template <class Space, class State, class Finish>
Eigen::Index compact_columns(std::vector<State>& state, Eigen::Index active, Finish&& finish,
                             std::initializer_list<typename Space::Block*> blocks) {
  return compact_states(state, active, std::forward<Finish>(finish),
                        [&](Eigen::Index to, Eigen::Index from) {
                          for (auto* W : blocks)
                            if (W) Space::copy(*W, to, *W, from);
                        });
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_BLOCK_HPP
