// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_KRYLOV_CRAIG_HPP
#define SPARSEGRAD_KRYLOV_CRAIG_HPP

/// \file krylov/craig.hpp
/// H = (AᴴA + λ²I)⁻¹G for k right-hand sides with one Golub–Kahan run: the solve behind
/// `Lsmr::solve_normal`, which gives the whole backward pass of lstsq (dB = A·H).
///
/// Method: CRAIG (E. J. Craig 1955; C. C. Paige, "Bidiagonalization of matrices and solution
/// of linear equations", SIAM J. Numer. Anal. 11(1), 1974; M. A. Saunders, "Solution of sparse
/// rectangular systems using LSQR and CRAIG", BIT 35, 1995) on the consistent system
///
///     M y = g,   M = [Aᴴ  λI]  (n x (m + n)),   y = [dB; s],
///
/// whose minimum-norm solution is y = Mᴴ(MMᴴ)⁻¹g = [A H; λ H] with H = (AᴴA + λ²I)⁻¹g.
/// Bidiagonalization 1 of Paige & Saunders on M started from g gives M V_k = U_{k+1} B_k with
/// L_k the upper k x k part of B_k (α on the diagonal, β below it), and Mᴴ U_k = V_k L_kᵀ. CRAIG
/// takes y_k = V_k z_k with L_k z_k = β₁e₁ (ζ₁ = β₁/α₁, ζ_i = −β_i ζ_{i−1}/α_i); then
/// H_k = U_k L_k⁻ᵀ z_k satisfies Mᴴ H_k = y_k, and with P_k = U_k L_k⁻ᵀ (p_i = (u_i − β_i
/// p_{i−1})/α_i) it is the short recurrence H_k = H_{k−1} + ζ_k p_k. Neither y nor V's damping
/// part is ever needed beyond v itself, so the cost per iteration is one A·U, one Aᴴ·V and a
/// few vector updates: the same as one LSMR iteration. (H_k is the conjugate-gradient iterate
/// on the normal equations, computed through the bidiagonalization, which is the stable way.)
///
/// Residual and stopping rule: g − (AᴴA + λ²I)H_k = g − M y_k = −β_{k+1}ζ_k u_{k+1}, so
/// ‖r_k‖ = |β_{k+1}ζ_k| is known at no cost, and the run stops (istop 1) when
///     ‖r_k‖ ≤ btol‖g‖ + atol‖M‖‖y_k‖      (‖y_k‖ = ‖z_k‖, ‖M‖ estimated by ‖B_k‖_F),
/// the usual test for a compatible system (LSQR's and LSMR's istop 1). What this means for
/// the outputs, with κ = cond([A; λI]):
///     ‖dB − dB_k‖/‖dB‖ ≤ κ ‖r_k‖/‖g‖   and   ‖H − H_k‖/‖H‖ ≤ κ² ‖r_k‖/‖g‖,
/// the same orders as the seed's two LSMR solves at the same tolerances (dB to κ·tol, then
/// H = A⁺dB to κ·(error of dB)). The defaults atol = btol = 1e-6 therefore give H to about
/// κ²·1e-6; set them to 1e-10 (double) for gradients accurate to κ²·1e-10.
///
/// Rank deficiency (undamped): Aᴴy = g is consistent for every g exactly when A has full column
/// rank. LSQR's scalars on the same bidiagonalization (Paige & Saunders, ACM TOMS 8(1), 1982)
/// give ‖Mᴴr‖/(‖M‖‖r‖) for the least-squares residual r at no cost; for a consistent system
/// this is ≥ σ_min/‖M‖_F, so when it falls below max(atol, sqrt(eps)) before CRAIG converges,
/// A is rank-deficient (or has σ_min ≤ that times ‖A‖_F): the run stops with istop 2 and
/// solve_normal throws std::domain_error. A zero column g gives H = 0 (istop 0).
///
/// Other stops, with LSMR's codes: 4 (‖r_k‖ at machine precision), 3 / 6 (the estimate
/// ‖B_k‖_F‖P_k‖_F of cond exceeds conlim / 1/eps), 7 (maxiter, default min(m, n)).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "block.hpp"
#include "lsmr.hpp"

namespace sparsegrad {
namespace detail {

/// Scalar state of one right-hand side of CRAIG (names as in the file comment).
template <class Real>
struct CraigColumn {
  Eigen::Index id = 0;
  bool done = false;
  int istop = 0;
  Real normg = 0;
  Real alpha = 0, beta = 0, zeta = 0;
  Real normM2 = 0;              // ‖B_k‖_F²
  Real normP2 = 0;              // ‖P_k‖_F² = ‖L_k⁻¹‖_F²
  Real normy2 = 0;              // ‖z_k‖²
  Real rhobar = 0, phibar = 0;  // LSQR's rotation state on the same bidiagonal
  Real normr = 0, normar = 0, normM = 0, cond = 0;
};

/// CRAIG for H = (AᴴA + λ²I)⁻¹G on k columns at once (see the file comment). `H` receives the
/// n x k result and `stats` the diagnostics (normr: ‖G_j − (AᴴA + λ²I)H_j‖ estimate, normar:
/// LSQR's ‖Mᴴr‖ estimate, norma: ‖[A; λI]‖ estimate, conda: cond estimate, normx: ‖H_j‖).
/// Never throws for numerical outcomes.
template <class Space, class Operator, class Options>
void craig_kernel(const Operator& op, const typename Space::Block& G, Eigen::Index k,
                  const Options& opt, typename Space::Block& H, Diagnostics& stats) {
  using Real = typename Space::Real;
  using Block = typename Space::Block;
  using Index = Eigen::Index;
  const Index m = op.rows(), n = op.cols();
  const Index maxiter = opt.maxiter ? *opt.maxiter : std::min(m, n);
  const Real damp = opt.damp;
  const Real ctol = opt.conlim > 0 ? Real(1) / opt.conlim : Real(0);
  const Real atol = opt.atol, btol = opt.btol;
  const Real rank_tol = std::max(atol, std::sqrt(std::numeric_limits<Real>::epsilon()));
  const bool damped = damp != 0;

  stats.resize(static_cast<std::size_t>(k));
  std::vector<CraigColumn<Real>> state(static_cast<std::size_t>(k));

  // Workspace, allocated once: u, p (n), v (m) and its damping part vs (n), product targets.
  Block U = G, P = Space::zeros(n, k), V = Space::zeros(m, k);
  Block Vs = damped ? Space::zeros(n, k) : Space::zeros(0, 0);
  Block Au = Space::zeros(m, k), Atv = Space::zeros(n, k);
  H = Space::zeros(n, k);

  // αv = Mᴴu = [A u; λ u] − βv, with ‖v‖ over both parts.
  auto next_v = [&](Index p, Real beta) {
    if (beta != 0) {
      Space::add_scaled_self(V, p, -beta, Au, p);
    } else {
      Space::copy(V, p, Au, p);
    }
    Real alpha = Space::norm(V, p);
    if (damped) {
      Space::scale(Vs, p, -beta);
      Space::axpy(Vs, p, damp, U, p);
      alpha = std::hypot(alpha, Space::norm(Vs, p));
    }
    if (alpha > 0) {
      Space::scale(V, p, Real(1) / alpha);
      if (damped) Space::scale(Vs, p, Real(1) / alpha);
    }
    return alpha;
  };

  // β₁u₁ = g,  α₁v₁ = Mᴴu₁.
  for (Index j = 0; j < k; ++j) {
    auto& c = state[static_cast<std::size_t>(j)];
    c.id = j;
    c.normg = Space::norm(G, j);
    c.beta = c.normg;
    if (c.beta > 0) Space::scale(U, j, Real(1) / c.beta);
  }
  op.apply(Space::active(U, k), Space::active(Au, k));
  for (Index j = 0; j < k; ++j) {
    auto& c = state[static_cast<std::size_t>(j)];
    if (c.normg == 0) {
      c.done = true;  // H = 0, istop 0
      continue;
    }
    c.alpha = next_v(j, Real(0));
    c.rhobar = c.alpha;
    c.phibar = c.beta;
    c.normM2 = c.alpha * c.alpha;
    c.normM = c.alpha;
    c.normr = c.beta;
    if (c.alpha == 0) {  // Aᴴ y = g with g ⊥ range(Aᴴ): inconsistent
      c.istop = int(Stop::rank_deficient), c.done = true;
      continue;
    }
    c.zeta = c.beta / c.alpha;
    Space::copy(P, j, U, j);
    Space::scale(P, j, Real(1) / c.alpha);
    Space::axpy(H, j, c.zeta, P, j);
    c.normy2 = c.zeta * c.zeta;
    c.normP2 = Real(1) / (c.alpha * c.alpha);
    c.cond = std::sqrt(c.normM2 * c.normP2);
  }

  Index active = k;
  int itn = 0;
  auto compact = [&]() {
    active = compact_columns<Space>(state, active,
                                    [&](const auto& c) {
                                      const auto id = static_cast<std::size_t>(c.id);
                                      stats.istop[id] = c.istop;
                                      stats.itn[id] = itn;
                                      stats.normr[id] = c.normr;
                                      stats.normar[id] = c.normar;
                                      stats.norma[id] = c.normM;
                                      stats.conda[id] = c.cond;
                                      stats.normx[id] = Space::norm(H, c.id);
                                    },
                                    {&U, &P, &V, damped ? &Vs : nullptr});
  };
  compact();

  while (active > 0) {
    ++itn;
    // βu = M v − αu = Aᴴv + λ vs − αu.
    op.apply_adjoint(Space::active(V, active), Space::active(Atv, active));
    for (Index p = 0; p < active; ++p) {
      auto& c = state[static_cast<std::size_t>(p)];
      Space::add_scaled_self(U, p, -c.alpha, Atv, p);
      if (damped) Space::axpy(U, p, damp, Vs, p);
      c.beta = Space::norm(U, p);
      if (c.beta > 0) Space::scale(U, p, Real(1) / c.beta);

      // Tests on H_itn: ‖g − (AᴴA + λ²I)H‖ = |β ζ|, in LSMR's order of precedence.
      c.normr = std::abs(c.beta * c.zeta);
      c.normM2 += c.beta * c.beta;
      c.normM = std::sqrt(c.normM2);
      const Real normy = std::sqrt(c.normy2);
      const Real test1 = c.normr / c.normg;
      const Real t1 = test1 / (1 + c.normM * normy / c.normg);
      const Real rtol = btol + atol * c.normM * normy / c.normg;
      const Real test3 = Real(1) / c.cond;
      int istop = 0;
      if (itn >= maxiter) istop = 7;
      if (1 + test3 <= 1) istop = 6;
      if (1 + t1 <= 1) istop = 4;
      if (test3 <= ctol) istop = 3;
      if (test1 <= rtol) istop = 1;
      c.istop = istop;
      c.done = istop > 0;
    }
    compact();
    if (active == 0) break;

    // αv = Mᴴu − βv; LSQR's step on the same bidiagonal; then H += ζp.
    op.apply(Space::active(U, active), Space::active(Au, active));
    for (Index p = 0; p < active; ++p) {
      auto& c = state[static_cast<std::size_t>(p)];
      c.alpha = next_v(p, c.beta);
      c.normM2 += c.alpha * c.alpha;

      const Real rho = std::hypot(c.rhobar, c.beta);
      const Real cs = c.rhobar / rho, sn = c.beta / rho;
      c.rhobar = -cs * c.alpha;
      c.phibar = sn * c.phibar;
      c.normar = c.phibar * c.alpha * std::abs(cs);
      // Least-squares residual stationary while CRAIG's is not small: inconsistent. Below
      // sqrt(eps) the normal equations are singular at working precision (cond² > 1/eps), so
      // the threshold is never tighter than that: in float a rank-deficient A otherwise runs to
      // maxiter on rounding noise and reports non-convergence instead of rank deficiency.
      if (c.phibar > 0 && c.alpha * std::abs(cs) <= rank_tol * std::sqrt(c.normM2)) {
        c.istop = int(Stop::rank_deficient), c.done = true, c.normr = c.phibar;
        continue;
      }

      c.zeta = -c.beta * c.zeta / c.alpha;
      Space::add_scaled_self(P, p, -c.beta, U, p);
      Space::scale(P, p, Real(1) / c.alpha);
      Space::axpy(H, c.id, c.zeta, P, p);
      c.normy2 += c.zeta * c.zeta;
      const Real normp = Space::norm(P, p);
      c.normP2 += normp * normp;
      c.cond = std::sqrt(c.normM2) * std::sqrt(c.normP2);
    }
    compact();
  }
}

/// Runs CRAIG with Eigen blocks on any operator; checks shapes and options.
template <class Operator, class Scalar>
LsmrResult<Scalar> craig_on_operator(const Operator& op, const DenseMatrix<Scalar>& G,
                                     const LsmrOptions<Scalar>& opt, const char* where) {
  opt.check(where);
  require_finite(where, "G", G);
  if (G.rows() != op.cols())
    throw_invalid(where, "G", concat(op.cols(), " rows (the columns of A)"),
                  concat(G.rows(), " rows"));
  LsmrResult<Scalar> result;
  craig_kernel<EigenBlockSpace<Scalar>>(op, G, G.cols(), opt, result.X, result);
  return result;
}

}  // namespace detail

}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_CRAIG_HPP
