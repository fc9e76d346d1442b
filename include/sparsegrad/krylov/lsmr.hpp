// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_KRYLOV_LSMR_HPP
#define SPARSEGRAD_KRYLOV_LSMR_HPP

/// \file krylov/lsmr.hpp
/// LSMR for min ‖AX − B‖² + λ²‖X‖², one or many right-hand sides.
///
/// Reference: D. C.-L. Fong and M. A. Saunders, "LSMR: An iterative algorithm for sparse
/// least-squares problems", SIAM J. Sci. Comput. 33(5):2950–2971, 2011.
/// Options, stopping rules and diagnostics follow scipy.sparse.linalg.lsmr; with
/// LsmrOptions::scipy() both stop at the same iteration with the same istop. The defaults add
/// what makes a normal return trustworthy (docs/accuracy.md): column scaling by powers of two
/// (krylov/scaling.hpp), a trust gate on the estimated error of x from the singular values of
/// the bidiagonal (LsmrScalars::errors, krylov/bidiagonal.hpp), mixed precision for float and a
/// larger iteration limit.
///
/// The algorithm is written once (`detail::lsmr_kernel`) and is generic over the operator
/// (see operator.hpp) and over the vector space (krylov/block.hpp): all k columns are
/// iterated together, each with its own scalars and stopping test, and a column that stops is
/// compacted out, so it costs nothing more and its result is exactly that of a separate run.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/checks.hpp"
#include "../diagnostics.hpp"
#include "../errors.hpp"
#include "../matrix.hpp"
#include "../operator.hpp"
#include "../preconditioner.hpp"
#include "bidiagonal.hpp"
#include "block.hpp"
#include "scaling.hpp"

namespace sparsegrad {

/// What `LsmrOptions::callback` receives after each iteration: the iteration number and, for
/// every right-hand side iterated in it, the current estimates (as in LsmrStats). A column that
/// stopped in this iteration is included with its istop; the others have istop 0.
template <class RealScalar>
struct LsmrProgress {
  int itn = 0;                       ///< iteration just completed (1, 2, ...)
  std::vector<Eigen::Index> column;  ///< column j of B of each entry below
  std::vector<int> istop;            ///< 0 while iterating, else the stop code
  std::vector<RealScalar> normr, normar, norma, conda, normx;
};

/// Options of LSMR, with scipy.sparse.linalg.lsmr's names and meanings. The defaults are
/// sparsegrad's trusted ones (see "What a normal return guarantees" in docs/accuracy.md);
/// `LsmrOptions::scipy()` gives scipy's defaults and its exact finite-precision trajectory.
template <class Scalar>
struct LsmrOptions {
  using RealScalar = typename Eigen::NumTraits<Scalar>::Real;

  /// Relative error in A: stop (istop 1/2) when ‖Aᴴr‖ ≤ atol‖A‖‖r‖ or ‖r‖ ≤ btol‖b‖ + atol‖A‖‖x‖.
  RealScalar atol = RealScalar(1e-6);
  /// Relative error in b (see atol).
  RealScalar btol = RealScalar(1e-6);
  /// Stop with istop 3 when the estimate of cond(A) exceeds conlim; must be ≥ 1 (may be +inf).
  RealScalar conlim = RealScalar(1e8);
  /// Iteration limit per right-hand side. Unset: max(m + n, 20 min(m, n)), enough for real
  /// problems of condition up to ~1e5 (scipy's min(m, n) stops them early); with
  /// scipy_compatible, min(m, n) as in scipy.
  std::optional<Eigen::Index> maxiter;
  /// λ in min ‖Ax − b‖² + λ²‖x‖²; must be ≥ 0.
  RealScalar damp = RealScalar(0);
  /// Initial guess, n x k (k = number of right-hand sides); empty means start from zero.
  /// Ignored by the backward pass.
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> x0;
  /// What the `Lsmr` functor does when a column fails (istop 3, 6, 7, 8, 10): throw
  /// `convergence_error` (true) or return X and leave the diagnostics in `last()` (false).
  /// The free function `lsmr()` never throws for numerical outcomes.
  bool throw_on_failure = true;
  /// Called after every iteration with the progress of each active column (LSMR only: the
  /// backward's CRAIG solve does not call it). Returning false stops every column still
  /// iterating with istop 8, a failure (convergence_error from `Lsmr` when throw_on_failure).
  /// Exceptions it throws propagate unchanged. Empty (the default): not called.
  std::function<bool(const LsmrProgress<RealScalar>&)> callback;
  /// Column scaling: LSMR (and the backward's CRAIG) run on A D, D = diag(2^p_j) with 2^p_j
  /// the power of two nearest 1/‖A e_j‖, and x = D y (krylov/scaling.hpp): the same x for a
  /// tall A of full column rank, and a solve that no longer depends on the units of A's columns.
  /// Unset (the default): on for an undamped A with rows ≥ cols given as a matrix, off otherwise.
  /// true is refused (std::invalid_argument) for a wide A and with damp > 0, where it would
  /// change the solution, and for a matrix-free operator.
  std::optional<bool> column_scaling;
  /// A user right preconditioner M (n x n), with the same rules as column_scaling = true (at most
  /// one of the two). With x0, LSMR solves for the correction: min ‖A M y − (b − A x0)‖, x = x0 +
  /// M y, so btol applies to ‖b − A x0‖. Ignored by solve_adjoint and solve_normal. Default none.
  /// With it, the diagnostics normar, norma and conda (and the callback's values) are those of
  /// the preconditioned problem (A M, y); normr is ‖b − A x‖ and normx is ‖x‖.
  std::shared_ptr<const Preconditioner<Scalar>> preconditioner;
  /// Trust gate of the forward solve: a column that passes scipy's tests stops only when its
  /// estimated relative error ‖x − x*‖/‖x‖ (Diagnostics::error) is at most this; when the
  /// rounding floor of the problem (≈ eps κ² for least squares) is above it, it stops with istop
  /// 10 (inaccurate, a failure). Unset: eps^(1/3) of the working precision (6e-6 in double and
  /// for float with mixed_precision; 5e-3 in float without).
  std::optional<RealScalar> error_tolerance;
  /// The same for the backward: lstsq_backward throws convergence_error (istop 10) when the
  /// estimated relative error of dL/dA or dL/dB exceeds it. Unset: eps^(1/4) of the working
  /// precision (1.2e-4 in double), and at least sqrt(eps) of Scalar (3.5e-4 for float).
  std::optional<RealScalar> gradient_tolerance;
  /// float data: run the Krylov solves in double (A and B converted exactly, X rounded back), so
  /// that float problems of condition up to ~1e4 solve to float accuracy. Needs A as a matrix
  /// and no preconditioner (else the solve runs in float).
  bool mixed_precision = true;
  /// Rank-deficient A, undamped: refuse (std::domain_error, the default) or return the
  /// gradient of the minimum-norm solution X = A⁺B that holds along perturbations that keep
  /// the rank (Golub & Pereyra 1973), computed with two LSMR solves (adjoint.hpp). With
  /// pseudo_inverse the column scaling is off (x = D y would change the minimum-norm solution)
  /// and the backward reports no error estimates.
  RankDeficient rank_deficient = RankDeficient::refuse;
  /// scipy's behaviour exactly: no column scaling by default, maxiter = min(m, n), no trust gate
  /// (stop on scipy's tests alone), no mixed precision, the backward's rank test on LSQR's
  /// estimates. For parity tests with scipy.sparse.linalg.lsmr; not trusted.
  bool scipy_compatible = false;

  /// scipy.sparse.linalg.lsmr's defaults and semantics (scipy_compatible = true).
  static LsmrOptions scipy() {
    LsmrOptions o;
    o.scipy_compatible = true;
    o.mixed_precision = false;
    return o;
  }

  /// The sparse operators' kernel for the product against A's storage order: with
  /// scipy_compatible scipy's summation order (its iterates bit for bit), else the automatic
  /// choice (operator.hpp; deterministic, independent of the thread count).
  TransposedProduct transposed_product() const {
    return scipy_compatible ? TransposedProduct::scatter : TransposedProduct::automatic;
  }

  /// The iteration limit for an m x n problem (see maxiter).
  Eigen::Index maxiter_for(Eigen::Index m, Eigen::Index n) const {
    if (maxiter) return *maxiter;
    if (scipy_compatible) return std::min(m, n);
    return std::max(m + n, 20 * std::min(m, n));
  }

  /// The forward's error tolerance in an arithmetic of unit roundoff eps.
  double error_tolerance_for(double eps) const {
    return error_tolerance ? double(*error_tolerance) : std::cbrt(eps);
  }
  /// The backward's error tolerance in an arithmetic of unit roundoff eps (for data stored in
  /// Scalar: at least sqrt of its unit roundoff, since the gradients are assembled and rounded
  /// in Scalar: 3.5e-4 for float).
  double gradient_tolerance_for(double eps) const {
    if (gradient_tolerance) return double(*gradient_tolerance);
    return std::max(std::sqrt(std::sqrt(eps)),
                    std::sqrt(double(std::numeric_limits<RealScalar>::epsilon())));
  }

  /// Throws std::invalid_argument naming the option that is out of range.
  void check(const char* where = "LsmrOptions") const {
    using detail::concat;
    auto nonneg = [&](const char* name, RealScalar value) {
      if (!(value >= 0) || !std::isfinite(static_cast<double>(value)))
        detail::throw_invalid(where, name, "a finite value >= 0", concat(value));
    };
    nonneg("options.atol", atol);
    nonneg("options.btol", btol);
    nonneg("options.damp", damp);
    if (!(conlim >= 1))
      detail::throw_invalid(where, "options.conlim", "a value >= 1", concat(conlim));
    if (maxiter && *maxiter < 0)
      detail::throw_invalid(where, "options.maxiter",
                            "a value >= 0 (or unset for the default limit)", concat(*maxiter));
    for (const auto& [name, tol] : {std::pair{"options.error_tolerance", error_tolerance},
                                    std::pair{"options.gradient_tolerance", gradient_tolerance}})
      if (tol && !(*tol > 0 && *tol < 1))
        detail::throw_invalid(where, name, "a value in (0, 1) (or unset for the default)",
                              concat(*tol));
    detail::require_finite(where, "options.x0", x0);
    if (column_scaling.value_or(false) && rank_deficient == RankDeficient::pseudo_inverse)
      detail::throw_invalid(where, "options.column_scaling",
                            "unset or false with options.rank_deficient = pseudo_inverse (x = D y "
                            "would not be the minimum-norm solution)",
                            "true");
    if (column_scaling.value_or(false) && preconditioner)
      detail::throw_invalid(where, "options.preconditioner",
                            "no preconditioner when options.column_scaling is set (one of the two)",
                            "both");
  }
};

/// Result of `lsmr()`: the solution X (always n x k) and the per-column diagnostics.
template <class Scalar>
struct LsmrResult : Diagnostics {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> X;
};

namespace detail {

template <class Options, class = void>
struct has_lsmr_callback : std::false_type {};
template <class Options>
struct has_lsmr_callback<Options, std::void_t<decltype(std::declval<const Options&>().callback)>>
    : std::true_type {};

/// The scalar recurrences of LSMR for one right-hand side, named as in Fong & Saunders (2011),
/// Sections 2–3: the rotations that turn the Golub–Kahan bidiagonal B_k into R_k and R_kᵀ into
/// R̄_k, and the estimates of ‖r‖, ‖A‖ and cond(A). Independent of the vectors: `step` takes
/// the new α, β and returns the coefficients of the vector update.
template <class Real>
struct LsmrScalars : ColumnState<Real> {
  Real normb = 0;
  Real alpha = 0, beta = 0;  // Golub–Kahan bidiagonalization
  // rotations Q̂, Q, Q̄ and the quantities they update
  Real zetabar = 0, alphabar = 0, rho = 1, rhobar = 1, cbar = 1, sbar = 0, zeta = 0;
  // estimate of ‖r‖ (Section 3.1)
  Real betadd = 0, betad = 0, rhodold = 1, tautildeold = 0, thetatilde = 0, d = 0;
  // estimates of ‖A‖ and cond(A) (Section 3.2). scipy starts minrbar at 1e100 and lets the
  // placeholder rhobar = 1 into maxrbar, which makes cond(A) depend on the scale of A (istop 3
  // at iteration 1 for entries ~1e±150); here neither enters, which gives scipy's value whenever
  // some rhobar or rhotemp is >= 1.
  Real normA2 = 0, maxrbar = 0, minrbar = std::numeric_limits<Real>::infinity();
  // R_k, the upper bidiagonal of the first QR (diagonal ρ_i, superdiagonal θ_{i+1}): its
  // singular values are those of [B_k; λI] (krylov/bidiagonal.hpp).
  std::vector<Real> rho_diag, theta_super;

  /// Coefficients of the vector update of one iteration (see EigenBlockSpace::lsmr_update).
  struct Update {
    Real hbar, x, h;
  };

  /// After β₁u₁ = b − Ax₀ and α₁v₁ = Aᴴu₁. Marks the column done when x₀ (or 0) solves it.
  void start(Real normb_, Real beta1, Real alpha1, std::size_t capacity) {
    rho_diag.reserve(capacity);
    theta_super.reserve(capacity);
    normb = normb_, beta = beta1, alpha = alpha1;
    zetabar = alpha * beta;
    alphabar = alpha;
    betadd = beta;
    normA2 = alpha * alpha;
    this->norma = std::sqrt(normA2);
    this->normr = beta;
    this->normar = alpha * beta;
  }

  /// One iteration's rotations and estimates, given the new β (of u) and α (of v).
  Update step(Real alpha_, Real beta_, Real damp, int itn) {
    alpha = alpha_, beta = beta_;
    // Rotation Q̂_{k,2k+1} eliminates the damping term.
    Real chat, shat, alphahat;
    sym_ortho(alphabar, damp, chat, shat, alphahat);
    // Rotation Q_k turns B_k into R_k.
    const Real rhoold = rho;
    Real cq, sq;
    sym_ortho(alphahat, beta, cq, sq, rho);
    const Real thetanew = sq * alpha;
    alphabar = cq * alpha;
    rho_diag.push_back(rho);
    theta_super.push_back(thetanew);
    // Rotation Q̄_k turns R_kᵀ into R̄_k.
    const Real rhobarold = rhobar, zetaold = zeta;
    const Real thetabar = sbar * rho;
    const Real rhotemp = cbar * rho;
    sym_ortho(cbar * rho, thetanew, cbar, sbar, rhobar);
    zeta = cbar * zetabar;
    zetabar = -sbar * zetabar;
    // h̄ = h − (θ̄ρ/(ρ_old ρ̄_old)) h̄,  x += ζ/(ρρ̄) h̄,  h = v − (θ/ρ) h.
    const Update update{-(thetabar * rho / (rhoold * rhobarold)), zeta / (rho * rhobar),
                        -(thetanew / rho)};

    // Estimate ‖r‖ (Section 3.1): apply Q̂, Q, then Q̃_{k−1}.
    const Real betaacute = chat * betadd;
    const Real betacheck = -shat * betadd;
    const Real betahat = cq * betaacute;
    betadd = -sq * betaacute;
    const Real thetatildeold = thetatilde;
    Real ctildeold, stildeold, rhotildeold;
    sym_ortho(rhodold, thetabar, ctildeold, stildeold, rhotildeold);
    thetatilde = stildeold * rhobar;
    rhodold = ctildeold * rhobar;
    betad = -stildeold * betad + ctildeold * betahat;
    tautildeold = (zetaold - thetatildeold * tautildeold) / rhotildeold;
    const Real taud = (zeta - thetatilde * tautildeold) / rhodold;
    d += betacheck * betacheck;
    this->normr = std::sqrt(d + (betad - taud) * (betad - taud) + betadd * betadd);

    // Estimate ‖A‖ and cond(A) (Section 3.2).
    normA2 += beta * beta;
    this->norma = std::sqrt(normA2);
    normA2 += alpha * alpha;
    if (itn > 1) {
      maxrbar = std::max(maxrbar, rhobarold);
      minrbar = std::min(minrbar, rhobarold);
    }
    this->conda = std::max(maxrbar, rhotemp) / std::min(minrbar, rhotemp);
    this->normar = std::abs(zetabar);
    return update;
  }

  /// scipy's stopping rules after the vector update (normx = ‖x‖), in scipy's order so that the
  /// same istop wins. Returns the stop code (0: go on).
  int test(int itn, const StoppingRule<Real>& rule) const {
    const Real normx = this->normx, normr = this->normr, norma = this->norma;
    const Real test1 = normr / normb;
    const Real test2 = (norma * normr) != 0 ? this->normar / (norma * normr)
                                            : std::numeric_limits<Real>::infinity();
    const Real test3 = Real(1) / this->conda;
    const Real t1 = test1 / (1 + norma * normx / normb);
    const Real rtol = rule.btol + rule.atol * norma * normx / normb;
    Stop stop = Stop::zero_solution;
    if (itn >= rule.maxiter) stop = Stop::iteration_limit;
    if (1 + test3 <= 1) stop = Stop::condition_eps;
    if (1 + test2 <= 1) stop = Stop::least_squares_eps;
    if (1 + t1 <= 1) stop = Stop::compatible_eps;
    if (test3 <= rule.ctol) stop = Stop::condition_limit;
    if (test2 <= rule.atol) stop = Stop::least_squares;
    if (test1 <= rtol) stop = Stop::compatible;
    return int(stop);
  }

  /// The estimated relative error of x and its rounding floor, for x = x0 + D y / c (D the
  /// column weights, max dmax; c the rescaling of b) from the state of y: with Ã = [A D; λI]
  /// and y* − y_k = Ã⁺ r̃_k (full column rank), ‖y* − y_k‖ ≤ min(‖r̃_k‖/σ_min, ‖Ãᴴr̃_k‖/σ_min²),
  /// σ_min estimated by the bidiagonal's (krylov/bidiagonal.hpp). ‖x − x*‖ ≤ dmax‖y − y*‖/c and
  /// ‖x‖ = ‖c x0 + D y‖/c (normx_scaled). The floor is the least-squares perturbation bound for
  /// backward errors of order eps (Wedin; Higham, "Accuracy and Stability of Numerical
  /// Algorithms", §20.1): eps (κ‖y‖ + κ² ‖r‖/σ_max) absolutely, the accuracy no stopping test can
  /// improve on.
  std::pair<double, double> errors(double eps, double dmax, double normx_scaled) const {
    const double inf = std::numeric_limits<double>::infinity();
    const double normy = double(this->normx), smin = this->sigma_min, smax = this->sigma_max;
    if (!(normx_scaled > 0)) return {this->normar == 0 ? 0.0 : inf, 0.0};
    if (!(smin > 0)) return {inf, inf};
    const double kappa = smax / smin;
    const double absolute =
        std::min(double(this->normr) / smin, double(this->normar) / smin / smin);
    const double floor = eps * (kappa * normy + kappa * kappa * double(this->normr) / smax);
    const double factor = dmax / normx_scaled;
    return {std::max(absolute, floor) * factor, floor * factor};
  }

  /// The trust gate after scipy's tests `code` (see StoppingRule): a success (istop 1, 2, 4, 5)
  /// stands only when the error estimate is at most rule.tolerance; when the floor is above it,
  /// the column stops with istop 10 (inaccurate); otherwise it goes on (0), or stops with istop
  /// 7 at maxiter. normDy() gives ‖D y‖ of this column.
  template <class NormDy>
  int gate(int code, int itn, const StoppingRule<Real>& rule, double dmax, NormDy&& normDy) {
    if (!rule.trusted) return code;
    const bool success = code == 1 || code == 2 || code == 4 || code == 5;
    const bool last = itn >= rule.maxiter;
    if (!success && code != int(Stop::iteration_limit)) return code;
    if (!last && !this->estimate_due(itn)) return 0;
    this->estimate_sigma(rho_diag, theta_super, itn);
    const auto [estimate, floor] = errors(rule.eps, dmax, double(normDy()));
    this->error = estimate;
    if (success && estimate <= rule.tolerance) return code;
    if (floor > rule.tolerance) return int(Stop::inaccurate);
    return last ? int(Stop::iteration_limit) : 0;
  }
};

/// How the kernel measures x for its error estimates: x = x0 + D y / c (see
/// LsmrScalars::errors).
template <class Space>
struct ErrorScale {
  double dmax = 1;
  /// ‖c_j x0_j + D y_j‖ for column j of the kernel's X; null: ‖y_j‖ (D = I, no x0).
  std::function<double(const typename Space::Block&, Eigen::Index)> weighted_norm;
};

/// The ErrorScale of a solve on A D with Eigen blocks and no x0: ‖D y_j‖.
template <class Scalar, class Real>
ErrorScale<EigenBlockSpace<Scalar>> weighted_error_scale(const ColumnWeights<Real>& w) {
  ErrorScale<EigenBlockSpace<Scalar>> es;
  es.dmax = double(w.max);
  es.weighted_norm = [&w](const DenseMatrix<Scalar>& Y, Eigen::Index j) {
    return double(w.weighted_norm(Y.col(j)));
  };
  return es;
}

/// The iteration's progress for options.callback; false from the callback stops every column.
template <class Options, class Real>
bool report_progress(const Options& opt, int itn, std::vector<LsmrScalars<Real>>& state,
                     Eigen::Index active) {
  if constexpr (has_lsmr_callback<Options>::value) {
    if (!opt.callback) return true;
    LsmrProgress<Real> progress;
    progress.itn = itn;
    for (Eigen::Index p = 0; p < active; ++p) {
      const auto& c = state[static_cast<std::size_t>(p)];
      progress.column.push_back(c.id);
      progress.istop.push_back(c.istop);
      progress.normr.push_back(c.normr);
      progress.normar.push_back(c.normar);
      progress.norma.push_back(c.norma);
      progress.conda.push_back(c.conda);
      progress.normx.push_back(c.normx);
    }
    return opt.callback(progress);
  } else {
    (void)opt, (void)itn, (void)state, (void)active;
    return true;
  }
}

/// The scalar half of block LSMR on k right-hand sides: one LsmrScalars per column, the
/// stopping rule, the iteration count, and the compaction of finished columns into the
/// diagnostics. lsmr_kernel drives it with its blocks; the PyTorch device path
/// (python/src/device.cpp) drives it with tensors on their own device, so that both take every
/// decision here. Positions p index the running columns, in order; id(p) is the column of B.
template <class Real>
class LsmrColumnSet {
 public:
  using Index = Eigen::Index;
  using Update = typename LsmrScalars<Real>::Update;

  /// `dmax`: the largest weight of D (the error estimates are those of x = D y).
  LsmrColumnSet(const StoppingRule<Real>& rule, Real damp, double dmax, Index k, Diagnostics& stats)
      : rule_(rule),
        damp_(damp),
        dmax_(dmax),
        state_(static_cast<std::size_t>(k)),
        stats_(stats),
        active_(k) {
    stats_.resize(state_.size());
    for (Index j = 0; j < k; ++j) state_[std::size_t(j)].id = j;
  }

  const StoppingRule<Real>& rule() const { return rule_; }
  Index active() const { return active_; }
  int itn() const { return itn_; }
  const LsmrScalars<Real>& operator[](Index p) const { return state_[std::size_t(p)]; }
  Index id(Index p) const { return state_[std::size_t(p)].id; }
  Real alpha(Index p) const { return state_[std::size_t(p)].alpha; }

  /// Column j after β₁u₁ = b − Ax₀ and α₁v₁ = Aᴴu₁, before the first compact(). Returns true
  /// when X_j must be set to zero (b_j = 0); a column that x₀ (or 0) solves is done.
  bool start(Index j, Real normb, Real beta1, Real alpha1) {
    auto& c = state_[std::size_t(j)];
    c.start(normb, beta1, alpha1, rule_.record_capacity());
    if (c.normar != 0 && c.normb != 0) return false;
    c.done = true;
    c.error = 0;
    return c.normar != 0;  // b = 0 with a nonzero x0 residual: X_j = 0 solves it
  }

  /// True while a column runs and the iteration limit is not reached.
  bool running() const { return active_ > 0 && itn_ < rule_.maxiter; }

  /// Starts the next iteration; false when no column runs or the limit is reached.
  bool next() {
    if (!running()) return false;
    ++itn_;
    return true;
  }

  /// Running column p's rotations for the new α, β: the coefficients of its vector update.
  Update step(Index p, Real alpha, Real beta) {
    return state_[std::size_t(p)].step(alpha, beta, damp_, itn_);
  }

  /// Running column p's stop decision after its vector update, with ‖y_p‖ = normx; normDy()
  /// gives ‖D y_p‖ (called only when an error estimate is due).
  template <class NormDy>
  void decide(Index p, Real normx, NormDy&& normDy) {
    auto& c = state_[std::size_t(p)];
    c.normx = normx;
    c.istop = c.gate(c.test(itn_, rule_), itn_, rule_, dmax_, std::forward<NormDy>(normDy));
    c.done = c.istop > 0;
  }

  /// Every running column that has not stopped stops with `stop` (the callback's istop 8).
  void stop_running(Stop stop) {
    for (Index p = 0; p < active_; ++p) {
      auto& c = state_[std::size_t(p)];
      if (!c.done) c.istop = int(stop), c.done = true;
    }
  }

  /// The progress of the running columns for options.callback; false from it stops them all.
  template <class Options>
  bool report(const Options& opt) {
    if (report_progress(opt, itn_, state_, active_)) return true;
    stop_running(Stop::callback_stop);
    return false;
  }

  /// Ends an iteration (every column done at the limit), records the finished columns and
  /// moves the running ones to the front, calling move(to, from) for each column that moves.
  template <class Move>
  void end_iteration(Move&& move) {
    if (itn_ >= rule_.maxiter)
      for (Index p = 0; p < active_; ++p) state_[std::size_t(p)].done = true;
    compact(std::forward<Move>(move));
  }

  /// Records the finished columns (see end_iteration) without the iteration limit's test.
  template <class Move>
  void compact(Move&& move) {
    active_ = compact_states(
        state_, active_, [&](const LsmrScalars<Real>& c) { record(stats_, c, itn_); },
        std::forward<Move>(move));
  }

  /// After the loop: columns still running (maxiter = 0) stop where they started, with istop 7
  /// (x = 0 is not a solution), or istop 0 as scipy reports it with scipy_compatible.
  void finish() {
    for (Index p = 0; p < active_; ++p) {
      auto& c = state_[std::size_t(p)];
      c.done = true;
      if (rule_.trusted) c.istop = int(Stop::iteration_limit);
    }
    compact([](Index, Index) {});
  }

 private:
  StoppingRule<Real> rule_;
  Real damp_;
  double dmax_;
  std::vector<LsmrScalars<Real>> state_;
  Diagnostics& stats_;
  Index active_;
  int itn_ = 0;
};

/// LSMR on k right-hand sides at once. `X` receives the n x k solution; `stats` the
/// diagnostics. `X0` may be null (start from zero). Never throws for numerical outcomes.
template <class Space, class Operator, class Options>
void lsmr_kernel(const Operator& op, const typename Space::Block& B,
                 const typename Space::Block* X0, Eigen::Index k, const Options& opt,
                 typename Space::Block& X, Diagnostics& stats,
                 const ErrorScale<Space>& scale = {}) {
  using Real = typename Space::Real;
  using Block = typename Space::Block;
  using Index = Eigen::Index;
  const Index m = op.rows(), n = op.cols();
  const auto rule = StoppingRule<Real>::from(
      opt, m, n, opt.error_tolerance_for(std::numeric_limits<Real>::epsilon()));
  auto normDy = [&](Index col) {
    return scale.weighted_norm ? scale.weighted_norm(X, col) : double(Space::norm(X, col));
  };
  LsmrColumnSet<Real> columns(rule, Real(opt.damp), scale.dmax, k, stats);

  // Workspace, allocated once: u (m), v, h, hbar (n) per column, and the two product targets.
  Block U = B, V = Space::zeros(n, k), H = Space::zeros(n, k), Hbar = Space::zeros(n, k);
  Block Av = Space::zeros(m, k), Atu = Space::zeros(n, k);
  auto move = [&](Index to, Index from) {
    for (Block* W : {&U, &V, &H, &Hbar}) Space::copy(*W, to, *W, from);
  };

  if (X0) {
    X = *X0;
    op.apply(Space::active(X, k), Space::active(Av, k));
  } else {
    X = Space::zeros(n, k);
  }

  // β₁u₁ = b − Ax₀,  α₁v₁ = Aᴴu₁.
  std::vector<Real> normb(static_cast<std::size_t>(k)), beta1(normb.size());
  for (Index j = 0; j < k; ++j) {
    const auto jj = static_cast<std::size_t>(j);
    normb[jj] = Space::norm(B, j);
    if (X0) Space::axpy(U, j, Real(-1), Av, j);
    beta1[jj] = X0 ? Space::norm(U, j) : normb[jj];
    if (beta1[jj] > 0) Space::scale(U, j, Real(1) / beta1[jj]);
  }
  op.apply_adjoint(Space::active(U, k), Space::active(Atu, k));
  for (Index j = 0; j < k; ++j) {
    const auto jj = static_cast<std::size_t>(j);
    const Real alpha1 = beta1[jj] > 0 ? Space::bidiag_step(V, j, Real(0), Atu, j) : Real(0);
    Space::copy(H, j, V, j);
    if (columns.start(j, normb[jj], beta1[jj], alpha1)) Space::set_zero(X, j);
  }
  columns.compact(move);

  std::vector<Real> beta(static_cast<std::size_t>(k));
  while (columns.next()) {
    const Index active = columns.active();
    // Next step of the bidiagonalization: βu = Av − αu, αv = Aᴴu − βv.
    op.apply(Space::active(V, active), Space::active(Av, active));
    for (Index p = 0; p < active; ++p)
      beta[std::size_t(p)] = Space::bidiag_step(U, p, columns.alpha(p), Av, p);
    op.apply_adjoint(Space::active(U, active), Space::active(Atu, active));
    for (Index p = 0; p < active; ++p) {
      const Real b = beta[std::size_t(p)];
      const Real alpha = b > 0 ? Space::bidiag_step(V, p, b, Atu, p) : columns.alpha(p);
      const auto u = columns.step(p, alpha, b);
      const Index id = columns.id(p);
      const Real normx = Space::lsmr_update(Hbar, H, X, V, p, id, u.hbar, u.x, u.h);
      columns.decide(p, normx, [&] { return normDy(id); });
    }
    columns.report(opt);
    columns.end_iteration(move);
  }
  columns.finish();
}

/// Which weights a Krylov solve runs with (krylov/scaling.hpp): D = diag(d), with d the column
/// scaling and/or the masks of empty columns of a tall undamped A, or D = s I with s a uniform
/// power of two otherwise, or none. `requested` is options.column_scaling; `is_matrix` says that
/// the operator has a stored matrix. Throws std::invalid_argument where a requested column
/// scaling does not apply.
struct WeightsPlan {
  bool columns = false;     ///< d from the column norms
  bool scale = false;       ///< ... scaled to unit norm
  bool mask_empty = false;  ///< ... with d_j = 0 for empty (or all-zero) columns
  bool uniform = false;     ///< D = s I, s·‖A‖_F near 1
};

template <class Options>
WeightsPlan krylov_weights_plan(const char* where, Eigen::Index rows, Eigen::Index cols,
                                const Options& opt, std::optional<bool> requested, bool is_matrix) {
  const bool tall = rows >= cols, undamped = opt.damp == 0;
  if (requested.value_or(false)) {
    if (opt.damp > 0)
      throw_invalid(where, "options.column_scaling",
                    "unset or false with options.damp > 0 (the scaled problem would penalize "
                    "the norm of y = D^-1 x instead of x)",
                    concat("true with damp ", opt.damp));
    if (!tall)
      throw_invalid(where, "options.column_scaling",
                    concat("unset or false for a wide A (rows < cols): x = D y would not be the "
                           "minimum-norm solution, got A of ",
                           shape_string(rows, cols)),
                    "true");
  }
  WeightsPlan plan;
  if (opt.scipy_compatible && !requested.value_or(false)) return plan;
  if (is_matrix) {
    const bool minimum_norm = opt.rank_deficient == RankDeficient::pseudo_inverse;
    plan.scale = requested.value_or(tall && undamped && !minimum_norm);
    plan.mask_empty = tall && undamped;
    plan.columns = plan.scale || plan.mask_empty;
    plan.uniform = !plan.columns && !opt.scipy_compatible;
  } else if (requested.value_or(false)) {
    throw_invalid(where, "options.column_scaling",
                  "unset or false for a user operator (pass options.preconditioner instead)",
                  "true");
  }
  return plan;
}

/// The planned weights from the squared column norms and the counts of stored entries of the
/// matrix (computed wherever the matrix lives: the PyTorch device path computes them on the
/// device).
template <class Real, class Norm2>
ColumnWeights<Real> planned_weights(const WeightsPlan& plan, const std::vector<Norm2>& norm2,
                                    const std::vector<Eigen::Index>& nnz) {
  if (plan.columns) return column_weights_from_norms<Real>(norm2, nnz, plan.scale, plan.mask_empty);
  ColumnWeights<Real> w;
  w.d.setOnes(static_cast<Eigen::Index>(norm2.size()));
  if (plan.uniform) {
    Norm2 sum = 0;
    for (const Norm2 v : norm2) sum += v;
    const Real s = uniform_scale_from_norm2<Real>(sum);
    if (s != 1) w.d.setConstant(s), w.max = s, w.scaled = true;
  }
  return w;
}

/// The weights a Krylov solve runs with on an operator (see krylov_weights_plan).
template <class Real, class Operator, class Options>
ColumnWeights<Real> krylov_weights(const char* where, const Operator& op, const Options& opt,
                                   std::optional<bool> requested) {
  const WeightsPlan plan =
      krylov_weights_plan(where, op.rows(), op.cols(), opt, requested, has_matrix<Operator>::value);
  ColumnWeights<Real> w;
  w.d.setOnes(op.cols());
  if constexpr (has_matrix<Operator>::value) {
    if (plan.columns) {
      w = column_weights<Real>(op.matrix(), plan.scale, plan.mask_empty);
    } else if (plan.uniform) {
      const Real s = uniform_scale<Real>(op.matrix());
      if (s != 1) w.d.setConstant(s), w.max = s, w.scaled = true;
    }
  }
  return w;
}

/// The same options for another scalar type (the callback sees converted progress; a
/// preconditioner cannot be converted and is refused).
template <class To, class From>
LsmrOptions<To> converted_options(const LsmrOptions<From>& o, const char* where) {
  using ToReal = typename LsmrOptions<To>::RealScalar;
  using FromReal = typename LsmrOptions<From>::RealScalar;
  if (o.preconditioner)
    throw_invalid(where, "options.preconditioner",
                  "none when the data's scalar type differs from the options' (a preconditioner "
                  "applies to its own scalar type)",
                  "one");
  LsmrOptions<To> w;
  w.atol = ToReal(o.atol), w.btol = ToReal(o.btol), w.conlim = ToReal(o.conlim);
  w.maxiter = o.maxiter, w.damp = ToReal(o.damp), w.x0 = o.x0.template cast<To>();
  w.throw_on_failure = o.throw_on_failure, w.column_scaling = o.column_scaling;
  if (o.error_tolerance) w.error_tolerance = ToReal(*o.error_tolerance);
  if (o.gradient_tolerance) w.gradient_tolerance = ToReal(*o.gradient_tolerance);
  w.mixed_precision = o.mixed_precision, w.scipy_compatible = o.scipy_compatible;
  w.rank_deficient = o.rank_deficient;
  if (o.callback)
    w.callback = [cb = o.callback](const LsmrProgress<ToReal>& p) {
      LsmrProgress<FromReal> q;
      q.itn = p.itn, q.column = p.column, q.istop = p.istop;
      auto convert = [](const std::vector<ToReal>& v) {
        return std::vector<FromReal>(v.begin(), v.end());
      };
      q.normr = convert(p.normr), q.normar = convert(p.normar), q.norma = convert(p.norma);
      q.conda = convert(p.conda), q.normx = convert(p.normx);
      return cb(q);
    };
  return w;
}

/// The options of a float solve for the double solve that runs it (mixed precision).
template <class Wide, class Scalar>
LsmrOptions<Wide> widened_options(const LsmrOptions<Scalar>& o) {
  LsmrOptions<Wide> w = converted_options<Wide>(o, "lsmr");
  w.mixed_precision = false;
  return w;
}

/// True when Scalar data on this operator can run in double (mixed precision).
template <class Scalar, class Operator>
constexpr bool widenable_v =
    !std::is_same<working_scalar_t<Scalar>, Scalar>::value && has_matrix<Operator>::value;

/// The matrix behind an operator, converted exactly to the working scalar.
template <class Operator>
auto widened_matrix(const Operator& op) {
  using Scalar = typename std::decay_t<decltype(op.matrix())>::Scalar;
  using StorageIndex = typename std::decay_t<decltype(op.matrix())>::StorageIndex;
  return Eigen::SparseMatrix<working_scalar_t<Scalar>, Eigen::RowMajor, StorageIndex>(
      op.matrix().template cast<working_scalar_t<Scalar>>());
}

/// The relative error estimates grown by `rounding` (the unit roundoff of the scalar a result is
/// rounded to).
inline void add_rounding(Diagnostics& d, double rounding) {
  for (auto* v : {&d.error, &d.error_image})
    for (double& e : *v)
      if (!std::isnan(e)) e += rounding;
}

/// A double result back in float: X rounded, diagnostics kept (the error grows by the rounding).
template <class Scalar, class Wide>
LsmrResult<Scalar> narrowed(LsmrResult<Wide>&& wide) {
  LsmrResult<Scalar> out;
  static_cast<Diagnostics&>(out) = std::move(static_cast<Diagnostics&>(wide));
  out.X = wide.X.template cast<Scalar>();
  add_rounding(out, double(Eigen::NumTraits<Scalar>::epsilon()));
  return out;
}

/// Throws std::invalid_argument when a preconditioner of size `size` does not apply to an
/// m x n problem with these options.
template <class Options>
void check_preconditioner(const char* where, const Options& opt, Eigen::Index m, Eigen::Index n,
                          Eigen::Index size) {
  if (opt.damp > 0)
    throw_invalid(where, "options.preconditioner",
                  "none with options.damp > 0 (the preconditioned problem would penalize "
                  "the norm of y = M^-1 x instead of x)",
                  concat("one with damp ", opt.damp));
  if (m < n)
    throw_invalid(where, "options.preconditioner",
                  concat("none for a wide A (rows < cols): x = M y would not be the "
                         "minimum-norm solution, got A of ",
                         shape_string(m, n)),
                  "one");
  if (size != n)
    throw_invalid(where, "options.preconditioner", concat("size ", n, " (the columns of A)"),
                  concat("size ", size));
}

/// Runs LSMR with Eigen blocks on any operator; checks shapes and options. Unless
/// scipy_compatible, the solve runs on A D with B rescaled per column (krylov/scaling.hpp) and,
/// for float data, in double (mixed_precision). With `use_preconditioner`,
/// options.preconditioner M makes it run on A M and return x = M y (x = x0 + M y with a warm
/// start; see LsmrOptions). Column scaling is not used on the transposed solve
/// (use_preconditioner false).
template <class Operator, class Scalar>
LsmrResult<Scalar> lsmr_on_operator(const Operator& op, const DenseMatrix<Scalar>& B,
                                    const LsmrOptions<Scalar>& opt, bool use_x0, const char* where,
                                    bool use_preconditioner = true) {
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  opt.check(where);
  require_finite(where, "B", B);
  if (B.rows() != op.rows())
    throw_invalid(where, "B", concat(op.rows(), " rows (the rows of A)"),
                  concat(B.rows(), " rows"));
  const bool has_x0 = use_x0 && opt.x0.size() > 0;
  if (has_x0) require_shape(where, "options.x0", opt.x0, op.cols(), B.cols());
  if constexpr (widenable_v<Scalar, Operator>) {
    if (opt.mixed_precision && !opt.scipy_compatible && !opt.preconditioner) {
      using Wide = working_scalar_t<Scalar>;
      const auto Aw = widened_matrix(op);
      const auto wide_op = make_operator(Aw);
      return narrowed<Scalar>(lsmr_on_operator(wide_op, DenseMatrix<Wide>(B.template cast<Wide>()),
                                               widened_options<Wide>(opt), use_x0, where,
                                               use_preconditioner));
    }
  }
  // The right-hand sides after the warm start: a warm start with weights or a preconditioner
  // solves for the correction (B − A x0).
  auto correction = [&]() {
    DenseMatrix<Scalar> R = B;
    if (has_x0) {
      DenseMatrix<Scalar> AX0(op.rows(), B.cols());
      op.apply(opt.x0, AX0);
      R -= AX0;
    }
    return R;
  };
  LsmrResult<Scalar> result;
  if (use_preconditioner && opt.preconditioner) {
    const auto& M = *opt.preconditioner;
    check_preconditioner(where, opt, op.rows(), op.cols(), M.size());
    const PreconditionedOperator<Operator, Scalar> preconditioned(op, M);
    lsmr_kernel<EigenBlockSpace<Scalar>>(OperatorRef<Scalar>(preconditioned), correction(), nullptr,
                                         B.cols(), opt, result.X, result);
    DenseMatrix<Scalar> X;
    M.apply(result.X, X);
    if (has_x0) X += opt.x0;
    result.X = std::move(X);
    for (Eigen::Index j = 0; j < B.cols(); ++j)
      result.normx[static_cast<std::size_t>(j)] = result.X.col(j).norm();
    return result;
  }
  const ColumnWeights<Real> w = krylov_weights<Real>(
      where, op, opt, use_preconditioner ? opt.column_scaling : std::optional<bool>(false));
  const auto c = opt.scipy_compatible
                     ? Eigen::Matrix<Real, Eigen::Dynamic, 1>::Ones(B.cols()).eval()
                     : column_rescaling<Real>(B);
  if (!w.scaled && (c.array() == 1).all()) {
    lsmr_kernel<EigenBlockSpace<Scalar>>(OperatorRef<Scalar>(op), B, has_x0 ? &opt.x0 : nullptr,
                                         B.cols(), opt, result.X, result);
    return result;
  }
  // Scaled: A D y = c_j (b_j − A x0_j), x_j = x0_j + D y_j / c_j; λ becomes s λ for D = s I.
  LsmrOptions<Scalar> scaled = opt;
  if (opt.damp > 0) scaled.damp = opt.damp * w.max;  // damped: D = s I (no column scaling)
  const DenseMatrix<Scalar> R = correction() * c.template cast<Scalar>().asDiagonal();
  const ScaledOperator<Operator, Scalar> scaled_op(op, w.d);
  ErrorScale<EigenBlockSpace<Scalar>> es = weighted_error_scale<Scalar>(w);
  if (has_x0)
    es.weighted_norm = [&](const DenseMatrix<Scalar>& Y, Eigen::Index j) {
      const DenseMatrix<Scalar> x =
          w.d.template cast<Scalar>().cwiseProduct(Y.col(j)) + Scalar(c[j]) * opt.x0.col(j);
      return double(x.stableNorm());
    };
  lsmr_kernel<EigenBlockSpace<Scalar>>(OperatorRef<Scalar>(scaled_op), R, nullptr, B.cols(), scaled,
                                       result.X, result, es);
  for (Eigen::Index j = 0; j < B.cols(); ++j) {
    const auto jj = static_cast<std::size_t>(j);
    result.X.col(j) = w.d.template cast<Scalar>().cwiseProduct(result.X.col(j)) / Scalar(c[j]);
    if (has_x0) result.X.col(j) += opt.x0.col(j);
    result.normr[jj] /= double(c[j]);
    result.normar[jj] /= double(c[j]);
    result.normx[jj] = double(result.X.col(j).norm());
  }
  return result;
}

}  // namespace detail

/// LSMR on A (a CooMatrix, an Eigen SparseMatrix or Map, or any operator with rows(), cols(),
/// apply(), apply_adjoint()) for every column of B. Returns X (n x k) and the diagnostics;
/// throws std::invalid_argument for bad arguments and never for numerical outcomes.
template <class AType, class BDerived>
LsmrResult<typename BDerived::Scalar> lsmr(
    const AType& A, const Eigen::MatrixBase<BDerived>& B,
    const LsmrOptions<typename BDerived::Scalar>& options = {}) {
  using Scalar = typename BDerived::Scalar;
  static_assert(std::is_same<typename AType::Scalar, Scalar>::value,
                "sparsegrad::lsmr: A and B must have the same Scalar type");
  const detail::DenseMatrix<Scalar> Bd = B;
  if constexpr (detail::is_supported_matrix_v<AType>) {
    detail::validate_matrix("lsmr", A);
    return detail::lsmr_on_operator(make_operator(A, options.transposed_product()), Bd, options,
                                    true, "lsmr");
  } else {
    return detail::lsmr_on_operator(A, Bd, options, true, "lsmr");
  }
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_LSMR_HPP
