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
/// ‖r_k‖ = |β_{k+1}ζ_k| is known at no cost. scipy's test for a compatible system (istop 1:
/// ‖r_k‖ ≤ btol‖g‖ + atol‖M‖‖y_k‖, ‖M‖ estimated by ‖B_k‖_F) is a prefilter; the run stops
/// only when, in addition, the estimated relative errors of H and of dB = A·H are below a tenth
/// of options.gradient_tolerance (CraigScalars::errors: ‖ΔH‖ ≤ ‖r_k‖/σ_min², ‖ΔdB‖ ≤
/// ‖r_k‖/σ_min, σ_min estimated by L_k's, with the floors eps κ² and eps κ). When the floor
/// is above the tolerance it stops with istop 10 (inaccurate).
///
/// Rank deficiency (undamped): Aᴴy = g is consistent for every g exactly when A has full column
/// rank. σ_min(L_k) bounds σ_min(A D) from above, so σ_min(L_k) ≤ sqrt(eps) σ_max(L_k) proves
/// cond(A D) ≥ 1/sqrt(eps) (AᴴA singular in working precision): the run stops with istop 9 and
/// solve_normal throws std::domain_error. No dX can make a better-conditioned A fail this
/// test, and an inconsistent system drives σ_min(L_k) to zero. With scipy_compatible the older
/// test runs instead: LSQR's scalars on the same bidiagonalization (Paige & Saunders, ACM TOMS
/// 8(1), 1982) give ‖Mᴴr‖/(‖M‖‖r‖) for the least-squares residual r, which falls below
/// max(atol, sqrt(eps)) on an inconsistent system. A zero column g gives H = 0 (istop 0).
///
/// Other stops, with LSMR's codes: 4 (‖r_k‖ at machine precision, then gated as 1), 3 / 6 (the
/// estimate ‖B_k‖_F‖P_k‖_F of cond exceeds conlim / 1/eps: scipy_compatible only), 7 (maxiter,
/// LsmrOptions::maxiter_for).
///
/// Column scaling (krylov/scaling.hpp): craig_on_operator runs on A D with D the powers of two
/// nearest 1/‖A e_j‖ (columns without stored entries: 0, which drops them), G rescaled per
/// column; H = D H̃.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../operator.hpp"
#include "bidiagonal.hpp"
#include "block.hpp"
#include "lsmr.hpp"

namespace sparsegrad {
namespace detail {

/// The scalar recurrences of CRAIG for one right-hand side (names as in the file comment), and
/// LSQR's on the same bidiagonal for the rank test. Independent of the vectors.
template <class Real>
struct CraigScalars : ColumnState<Real> {
  Real normg = 0;
  Real alpha = 0, beta = 0, zeta = 0;
  Real normM2 = 0;              // ‖B_k‖_F²
  Real normP2 = 0;              // ‖P_k‖_F² = ‖L_k⁻¹‖_F²
  Real normy2 = 0;              // ‖z_k‖²
  Real rhobar = 0, phibar = 0;  // LSQR's rotation state on the same bidiagonal
  // L_k (diagonal α_i, subdiagonal β_{i+1}): its singular values are those of the explored part
  // of M = [Aᴴ λI] (krylov/bidiagonal.hpp).
  std::vector<Real> alpha_diag, beta_sub;

  /// After β₁u₁ = g and α₁v₁ = Mᴴu₁. False (and done, rank_deficient) when α₁ = 0: then
  /// g ⊥ range(Aᴴ) and Aᴴy = g is inconsistent.
  bool start(Real normg_, Real alpha1, std::size_t capacity) {
    alpha_diag.reserve(capacity);
    beta_sub.reserve(capacity);
    normg = normg_, beta = normg, alpha = alpha1;
    rhobar = alpha, phibar = beta;
    normM2 = alpha * alpha;
    this->norma = alpha;
    this->normr = beta;
    if (alpha == 0) {
      this->istop = int(Stop::rank_deficient), this->done = true;
      return false;
    }
    alpha_diag.push_back(alpha);
    zeta = beta / alpha;
    normy2 = zeta * zeta;
    normP2 = Real(1) / (alpha * alpha);
    this->conda = std::sqrt(normM2 * normP2);
    return true;
  }

  /// After the new β (βu = Mv − αu): ‖g − (AᴴA + λ²I)H_k‖ = |βζ| and the tests on H_k, in
  /// LSMR's order of precedence.
  void after_beta(Real beta_, int itn, const StoppingRule<Real>& rule) {
    beta = beta_;
    beta_sub.push_back(beta);
    this->normr = std::abs(beta * zeta);
    normM2 += beta * beta;
    this->norma = std::sqrt(normM2);
    const Real normy = std::sqrt(normy2);
    const Real test1 = this->normr / normg;
    const Real t1 = test1 / (1 + this->norma * normy / normg);
    const Real rtol = rule.btol + rule.atol * this->norma * normy / normg;
    const Real test3 = Real(1) / this->conda;
    Stop stop = Stop::zero_solution;
    if (itn >= rule.maxiter) stop = Stop::iteration_limit;
    if (1 + test3 <= 1) stop = Stop::condition_eps;
    if (1 + t1 <= 1) stop = Stop::compatible_eps;
    if (test3 <= rule.ctol) stop = Stop::condition_limit;
    if (test1 <= rtol) stop = Stop::compatible;
    this->istop = int(stop);
    this->done = stop != Stop::zero_solution;
  }

  /// After the new α (αv = Mᴴu − βv): LSQR's step on the same bidiagonal and the rank test;
  /// then ζ for the update H += ζp. False (and done, rank_deficient) when A is rank-deficient.
  bool after_alpha(Real alpha_, Real rank_tol) {
    if (alpha_ == 0) {  // breakdown with β ≠ 0: g has a part outside range(Aᴴ)
      this->istop = int(Stop::rank_deficient), this->done = true;
      return false;
    }
    alpha = alpha_;
    normM2 += alpha * alpha;
    const Real rho = std::hypot(rhobar, beta);
    const Real cs = rhobar / rho, sn = beta / rho;
    rhobar = -cs * alpha;
    phibar = sn * phibar;
    this->normar = phibar * alpha * std::abs(cs);
    // Least-squares residual stationary while CRAIG's is not small: inconsistent. Below
    // sqrt(eps) the normal equations are singular at working precision (cond² > 1/eps), so the
    // threshold is never tighter than that: in float a rank-deficient A otherwise runs to
    // maxiter on rounding noise and reports non-convergence instead of rank deficiency.
    if (rank_tol > 0 && phibar > 0 && alpha * std::abs(cs) <= rank_tol * std::sqrt(normM2)) {
      this->istop = int(Stop::rank_deficient), this->done = true, this->normr = phibar;
      return false;
    }
    alpha_diag.push_back(alpha);
    zeta = -beta * zeta / alpha;
    normy2 += zeta * zeta;
    return true;
  }

  /// After the vector update, with ‖p‖ of the new p.
  void after_update(Real normp) {
    normP2 += normp * normp;
    this->conda = std::sqrt(normM2) * std::sqrt(normP2);
  }

  /// Estimated relative errors of H = D H̃ and of dB = A D H̃ and the floor of the first, from
  /// H̃ − H̃_k = (ÃᴴÃ)⁻¹r_k (Ã = [A D; λI], r_k the residual |βζ| of the normal system):
  /// ‖ΔH̃‖ ≤ ‖r_k‖/σ_min², ‖A D ΔH̃‖ ≤ ‖r_k‖/σ_min, σ_min estimated by L_k's. ‖ΔH‖ ≤ dmax‖ΔH̃‖
  /// relative to ‖H‖ = ‖D H̃‖; ‖dB‖ ≈ ‖y_k‖ = ‖z_k‖. The floors eps κ² (H) and eps κ (dB) are
  /// what the normal system's conditioning allows (the recursive residual keeps decreasing below
  /// them while the true one stagnates, so the estimates never claim better).
  struct Errors {
    double H, dB, floor;
  };
  Errors errors(double eps, double dmax, double normH, double normDH) const {
    const double inf = std::numeric_limits<double>::infinity();
    const double smin = this->sigma_min, smax = this->sigma_max;
    const double normy = std::sqrt(double(normy2));
    if (!(smin > 0) || !(normDH > 0) || !(normy > 0)) return {inf, inf, inf};
    const double kappa = smax / smin, r = double(this->normr);
    const double floor_H = eps * kappa * kappa * dmax * normH / normDH;
    return {std::max(r / (smin * smin) * dmax / normDH, floor_H),
            std::max(r / (smin * normy), eps * kappa), std::max(floor_H, eps * kappa)};
  }

  /// The trust gate (StoppingRule::trusted) after scipy's test: the rank decision and the error
  /// estimates at the iterations of the estimate schedule (see ColumnState::estimate_due).
  /// Rank (undamped): σ_min(L_k) is an upper bound on σ_min(A D) (Cauchy interlacing), so
  /// σ_min(L_k) ≤ sqrt(eps) σ_max(L_k) proves cond(A D) ≥ 1/sqrt(eps), at which AᴴA is singular
  /// in working precision (cond(AᴴA) ≥ 1/eps): rank_deficient. It never refuses a matrix of
  /// smaller condition, whatever G; an inconsistent system (G outside range(Aᴴ)) drives
  /// σ_min(L_k) to zero as the process explores null(A), so it is caught. norms() gives
  /// {‖H̃‖, ‖D H̃‖} of this column.
  template <class Norms>
  void gate(int itn, const StoppingRule<Real>& rule, bool damped, double dmax, Norms&& norms) {
    if (!rule.trusted) return;
    const bool success =
        this->istop == int(Stop::compatible) || this->istop == int(Stop::compatible_eps);
    const bool last = itn >= rule.maxiter;
    const bool condition =
        this->istop == int(Stop::condition_limit) || this->istop == int(Stop::condition_eps);
    if (condition) {
      // ‖B_k‖_F‖P_k‖_F exceeds the true condition by up to a factor k, so it proves nothing
      // about the rank; the trusted run goes on to the singular-value test and the error
      // estimates below instead (conlim stays a stop of the forward LSMR).
      this->istop = 0, this->done = false;
    }
    if (!last && !this->estimate_due(itn)) {
      if (success) this->istop = 0, this->done = false;
      return;
    }
    this->estimate_sigma(alpha_diag, beta_sub, itn);
    if (!damped && !(this->sigma_min > std::sqrt(rule.eps) * this->sigma_max)) {
      this->istop = int(Stop::rank_deficient), this->done = true;
      return;
    }
    const auto [normH, normDH] = norms();
    const Errors e = errors(rule.eps, dmax, normH, normDH);
    this->error = e.H, this->error_image = e.dB;
    if (success && std::max(e.H, e.dB) <= rule.tolerance) return;
    // Floor above the tolerance: inaccurate once CRAIG has converged (or at maxiter); until
    // then it goes on, because a rank-deficient A shows the same growing condition estimate
    // before its σ_min(L_k) falls below sqrt(eps) σ_max (the test above).
    if (last) {
      this->istop = int(e.floor > rule.tolerance ? Stop::inaccurate : Stop::iteration_limit);
      this->done = true;
    } else if (success && e.floor > rule.tolerance) {
      this->istop = int(Stop::inaccurate), this->done = true;
    } else {
      this->istop = 0, this->done = false;
    }
  }
};

/// CRAIG for H = (AᴴA + λ²I)⁻¹G on k columns at once (see the file comment). `H` receives the
/// n x k result and `stats` the diagnostics (normr: ‖G_j − (AᴴA + λ²I)H_j‖ estimate, normar:
/// LSQR's ‖Mᴴr‖ estimate, norma: ‖[A; λI]‖ estimate, conda: cond estimate, normx: ‖H_j‖).
/// Never throws for numerical outcomes.
template <class Space, class Operator, class Options>
void craig_kernel(const Operator& op, const typename Space::Block& G, Eigen::Index k,
                  const Options& opt, typename Space::Block& H, Diagnostics& stats,
                  const ErrorScale<Space>& scale = {}) {
  using Real = typename Space::Real;
  using Block = typename Space::Block;
  using Index = Eigen::Index;
  const Index m = op.rows(), n = op.cols();
  // The gate's target is a tenth of the gradient tolerance: the gradients combine the errors
  // of H, dB and X (adjoint.hpp), which then stays below the tolerance itself.
  const auto rule = StoppingRule<Real>::from(
      opt, m, n, 0.1 * opt.gradient_tolerance_for(std::numeric_limits<Real>::epsilon()));
  const Real damp = opt.damp;
  // scipy_compatible: LSQR's stationarity test on the same bidiagonal (see after_alpha);
  // trusted: the singular-value test of CraigScalars::gate.
  const Real rank_tol =
      rule.trusted ? Real(0) : std::max(rule.atol, std::sqrt(std::numeric_limits<Real>::epsilon()));
  const bool damped = damp != 0;
  auto norms = [&](Index col) {
    const double normH = double(Space::norm(H, col));
    return std::pair<double, double>(normH,
                                     scale.weighted_norm ? scale.weighted_norm(H, col) : normH);
  };

  stats.resize(static_cast<std::size_t>(k));
  std::vector<CraigScalars<Real>> state(static_cast<std::size_t>(k));

  // Workspace, allocated once: u, p (n), v (m) and its damping part vs (n), product targets.
  Block U = G, P = Space::zeros(n, k), V = Space::zeros(m, k);
  Block Vs = damped ? Space::zeros(n, k) : Space::zeros(0, 0);
  Block Au = Space::zeros(m, k), Atv = Space::zeros(n, k);
  H = Space::zeros(n, k);

  // αv = Mᴴu − βv = [A u; λ u] − βv, with ‖v‖ over both parts.
  auto next_v = [&](Index p, Real beta) {
    if (!damped) return Space::bidiag_step(V, p, beta, Au, p);
    if (beta != 0) {
      Space::add_scaled_self(V, p, -beta, Au, p);
    } else {
      Space::copy(V, p, Au, p);
    }
    Space::scale(Vs, p, -beta);
    Space::axpy(Vs, p, damp, U, p);
    const Real alpha = std::hypot(Space::norm(V, p), Space::norm(Vs, p));
    if (alpha > 0) {
      Space::scale(V, p, Real(1) / alpha);
      Space::scale(Vs, p, Real(1) / alpha);
    }
    return alpha;
  };

  // β₁u₁ = g,  α₁v₁ = Mᴴu₁.
  std::vector<Real> normg(static_cast<std::size_t>(k));
  for (Index j = 0; j < k; ++j) {
    normg[static_cast<std::size_t>(j)] = Space::norm(G, j);
    if (normg[static_cast<std::size_t>(j)] > 0)
      Space::scale(U, j, Real(1) / normg[static_cast<std::size_t>(j)]);
  }
  op.apply(Space::active(U, k), Space::active(Au, k));
  for (Index j = 0; j < k; ++j) {
    auto& c = state[static_cast<std::size_t>(j)];
    c.id = j;
    if (normg[static_cast<std::size_t>(j)] == 0) {
      c.done = true;  // H = 0 exactly, istop 0
      c.error = c.error_image = 0;
      continue;
    }
    // p₁ = u₁/α₁ (‖p₁‖ = 1/α₁ is already in start's ‖P‖_F²), H = ζ₁p₁.
    if (c.start(normg[static_cast<std::size_t>(j)], next_v(j, Real(0)), rule.record_capacity()))
      Space::craig_update(P, U, H, j, j, Real(0), c.alpha, c.zeta);
  }

  Index active = k;
  int itn = 0;
  auto compact = [&]() {
    active = compact_columns<Space>(state, active,
                                    [&](CraigScalars<Real>& c) {
                                      c.normx = Space::norm(H, c.id);
                                      record(stats, c, itn);
                                    },
                                    {&U, &P, &V, damped ? &Vs : nullptr});
  };
  compact();

  while (active > 0) {
    ++itn;
    // βu = M v − αu = Aᴴv + λ vs − αu, then the tests on H_itn.
    op.apply_adjoint(Space::active(V, active), Space::active(Atv, active));
    for (Index p = 0; p < active; ++p) {
      auto& c = state[static_cast<std::size_t>(p)];
      Real beta;
      if (damped) {
        Space::add_scaled_self(U, p, -c.alpha, Atv, p);
        Space::axpy(U, p, damp, Vs, p);
        beta = Space::norm(U, p);
        if (beta > 0) Space::scale(U, p, Real(1) / beta);
      } else {
        beta = Space::bidiag_step(U, p, c.alpha, Atv, p);
      }
      c.after_beta(beta, itn, rule);
      c.gate(itn, rule, damped, scale.dmax, [&] { return norms(c.id); });
    }
    compact();
    if (active == 0) break;

    // αv = Mᴴu − βv; LSQR's step on the same bidiagonal; then p and H += ζp.
    op.apply(Space::active(U, active), Space::active(Au, active));
    for (Index p = 0; p < active; ++p) {
      auto& c = state[static_cast<std::size_t>(p)];
      if (c.after_alpha(next_v(p, c.beta), rank_tol))
        c.after_update(Space::craig_update(P, U, H, p, c.id, c.beta, c.alpha, c.zeta));
    }
    compact();
  }
}

/// Runs CRAIG with Eigen blocks on any operator; checks shapes and options. Unless
/// scipy_compatible, it runs on A D (the column weights of krylov/scaling.hpp, which also drop
/// the columns of A without stored entries: H_j = 0 there) with G rescaled per column, and for
/// float data in double. `weights_out` (if not null) receives D.
template <class Operator, class Scalar>
LsmrResult<Scalar> craig_on_operator(
    const Operator& op, const DenseMatrix<Scalar>& G, const LsmrOptions<Scalar>& opt,
    const char* where,
    ColumnWeights<typename Eigen::NumTraits<Scalar>::Real>* weights_out = nullptr) {
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  opt.check(where);
  require_finite(where, "G", G);
  if (G.rows() != op.cols())
    throw_invalid(where, "G", concat(op.cols(), " rows (the columns of A)"),
                  concat(G.rows(), " rows"));
  if constexpr (widenable_v<Scalar, Operator>) {
    if (opt.mixed_precision && !opt.scipy_compatible) {
      using Wide = working_scalar_t<Scalar>;
      using WideReal = typename Eigen::NumTraits<Wide>::Real;
      const auto Aw = widened_matrix(op);
      const auto wide_op = make_operator(Aw);
      ColumnWeights<WideReal> w;
      auto result =
          narrowed<Scalar>(craig_on_operator(wide_op, DenseMatrix<Wide>(G.template cast<Wide>()),
                                             widened_options<Wide>(opt), where, &w));
      if (weights_out) {
        weights_out->d = w.d.template cast<Real>();
        weights_out->empty = w.empty, weights_out->zero_stored = w.zero_stored;
        weights_out->max = Real(w.max), weights_out->scaled = w.scaled;
      }
      return result;
    }
  }
  const ColumnWeights<Real> w = krylov_weights<Real>(where, op, opt, opt.column_scaling);
  if (weights_out) *weights_out = w;
  const auto c = opt.scipy_compatible
                     ? Eigen::Matrix<Real, Eigen::Dynamic, 1>::Ones(G.cols()).eval()
                     : column_rescaling<Real>(G);
  LsmrResult<Scalar> result;
  if (!w.scaled && (c.array() == 1).all()) {
    craig_kernel<EigenBlockSpace<Scalar>>(OperatorRef<Scalar>(op), G, G.cols(), opt, result.X,
                                          result);
    return result;
  }
  // (D Aᴴ A D + s²λ²I) H̃ = c_j D g_j, H_j = D H̃_j / c_j (λ becomes s λ for D = s I).
  LsmrOptions<Scalar> scaled = opt;
  if (opt.damp > 0) scaled.damp = opt.damp * w.max;
  const DenseMatrix<Scalar> R =
      w.d.template cast<Scalar>().asDiagonal() * G * c.template cast<Scalar>().asDiagonal();
  const ScaledOperator<Operator, Scalar> scaled_op(op, w.d);
  const auto es = weighted_error_scale<Scalar>(w);
  craig_kernel<EigenBlockSpace<Scalar>>(OperatorRef<Scalar>(scaled_op), R, G.cols(), scaled,
                                        result.X, result, es);
  for (Eigen::Index j = 0; j < G.cols(); ++j) {
    result.X.col(j) = w.d.template cast<Scalar>().cwiseProduct(result.X.col(j)) / Scalar(c[j]);
    result.normx[static_cast<std::size_t>(j)] = double(result.X.col(j).norm());
  }
  return result;
}

}  // namespace detail

}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_CRAIG_HPP
