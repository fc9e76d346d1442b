// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_KRYLOV_LSMR_HPP
#define SPARSEGRAD_KRYLOV_LSMR_HPP

/// \file krylov/lsmr.hpp
/// LSMR for min ‖AX − B‖² + λ²‖X‖², one or many right-hand sides.
///
/// Reference: D. C.-L. Fong and M. A. Saunders, "LSMR: An iterative algorithm for sparse
/// least-squares problems", SIAM J. Sci. Comput. 33(5):2950–2971, 2011.
/// Options, stopping rules and diagnostics follow scipy.sparse.linalg.lsmr, so that on the
/// same problem both stop at the same iteration with the same istop.
///
/// The algorithm is written once (`detail::lsmr_kernel`) and is generic over the operator
/// (see operator.hpp) and over the vector space (detail/eigen_block.hpp): all k columns are
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
#include "block.hpp"

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

/// Options of LSMR, with scipy.sparse.linalg.lsmr's names, defaults and meanings.
template <class Scalar>
struct LsmrOptions {
  using RealScalar = typename Eigen::NumTraits<Scalar>::Real;

  /// Relative error in A: stop (istop 1/2) when ‖Aᴴr‖ ≤ atol‖A‖‖r‖ or ‖r‖ ≤ btol‖b‖ + atol‖A‖‖x‖.
  RealScalar atol = RealScalar(1e-6);
  /// Relative error in b (see atol).
  RealScalar btol = RealScalar(1e-6);
  /// Stop with istop 3 when the estimate of cond(A) exceeds conlim; must be ≥ 1 (may be +inf).
  RealScalar conlim = RealScalar(1e8);
  /// Iteration limit per right-hand side; unset means min(m, n), scipy's default.
  std::optional<Eigen::Index> maxiter;
  /// λ in min ‖Ax − b‖² + λ²‖x‖²; must be ≥ 0.
  RealScalar damp = RealScalar(0);
  /// Initial guess, n x k (k = number of right-hand sides); empty means start from zero.
  /// Ignored by the backward pass.
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> x0;
  /// What the `Lsmr` functor does when a column fails (istop 3, 6, 7): throw
  /// `convergence_error` (true) or return X and leave the diagnostics in `last()` (false).
  /// The free function `lsmr()` never throws for numerical outcomes.
  bool throw_on_failure = true;
  /// Called after every iteration with the progress of each active column (LSMR only: the
  /// backward's CRAIG solve does not call it). Returning false stops every column still
  /// iterating with istop 8, a failure (convergence_error from `Lsmr` when throw_on_failure).
  /// Exceptions it throws propagate unchanged. Empty (the default): not called.
  std::function<bool(const LsmrProgress<RealScalar>&)> callback;
  /// Right preconditioning by column scaling, M = diag(1/‖A e_j‖) (zero columns: 1): LSMR solves
  /// min ‖A M y − b‖, x = M y. Same x for a tall A of full column rank, usually fewer iterations
  /// when the columns of A differ in scale. Refused (std::invalid_argument) for a wide A and with
  /// damp > 0, where it would change the solution (see preconditioner.hpp). Default false.
  bool column_scaling = false;
  /// A user right preconditioner M (n x n), with the same rules as column_scaling (at most one of
  /// the two). With x0, LSMR solves for the correction: min ‖A M y − (b − A x0)‖, x = x0 + M y,
  /// so btol applies to ‖b − A x0‖. Ignored by solve_adjoint and solve_normal. Default none.
  /// With either, the diagnostics normar, norma and conda (and the callback's values) are those
  /// of the preconditioned problem (A M, y); normr is ‖b − A x‖ and LsmrStats::normx is ‖x‖.
  std::shared_ptr<const Preconditioner<Scalar>> preconditioner;

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
      detail::throw_invalid(where, "options.maxiter", "a value >= 0 (or unset for min(m, n))",
                            concat(*maxiter));
    detail::require_finite(where, "options.x0", x0);
    if (column_scaling && preconditioner)
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

/// Stable Givens rotation [c s; -s c]ᵀ[a; b] = [r; 0] (scipy's _sym_ortho; Choi, Paige and
/// Saunders, SIAM J. Sci. Comput. 2011, Table 2.9).
template <class Real>
void sym_ortho(Real a, Real b, Real& c, Real& s, Real& r) {
  using std::abs;
  using std::sqrt;
  auto sign = [](Real x) { return Real((x > 0) - (x < 0)); };
  if (b == 0) {
    c = sign(a), s = 0, r = abs(a);
  } else if (a == 0) {
    c = 0, s = sign(b), r = abs(b);
  } else if (abs(b) > abs(a)) {
    const Real tau = a / b;
    s = sign(b) / sqrt(1 + tau * tau), c = s * tau, r = b / s;
  } else {
    const Real tau = b / a;
    c = sign(a) / sqrt(1 + tau * tau), s = c * tau, r = a / c;
  }
}

/// Scalar state of one right-hand side, named as in Fong & Saunders (2011), Section 2–3.
template <class Real>
struct LsmrColumn {
  Eigen::Index id = 0;  // column of B this state belongs to
  bool done = false;
  int istop = 0;
  Real normb = 0;
  // Golub–Kahan bidiagonalization
  Real alpha = 0, beta = 0;
  // rotations Qhat, Q, Qbar and the quantities they update
  Real zetabar = 0, alphabar = 0, rho = 1, rhobar = 1, cbar = 1, sbar = 0, zeta = 0;
  // estimate of ‖r‖ (Section 3.1)
  Real betadd = 0, betad = 0, rhodold = 1, tautildeold = 0, thetatilde = 0, d = 0;
  // estimates of ‖A‖ and cond(A) (Section 3.2)
  // scipy starts minrbar at 1e100 and lets the placeholder rhobar = 1 into maxrbar, which makes
  // cond(A) depend on the scale of A (istop 3 at iteration 1 for entries ~1e±150); here neither
  // enters, which gives scipy's value whenever some rhobar or rhotemp is >= 1.
  Real normA2 = 0, maxrbar = 0, minrbar = std::numeric_limits<Real>::infinity(), normA = 0,
       condA = 1;
  Real normx = 0, normr = 0, normar = 0;
};

template <class Options, class = void>
struct has_lsmr_callback : std::false_type {};
template <class Options>
struct has_lsmr_callback<Options, std::void_t<decltype(std::declval<const Options&>().callback)>>
    : std::true_type {};

/// LSMR on k right-hand sides at once. `X` receives the n x k solution; `stats` the
/// diagnostics. `X0` may be null (start from zero). Never throws for numerical outcomes.
template <class Space, class Operator, class Options>
void lsmr_kernel(const Operator& op, const typename Space::Block& B,
                 const typename Space::Block* X0, Eigen::Index k, const Options& opt,
                 typename Space::Block& X, Diagnostics& stats) {
  using Real = typename Space::Real;
  using Block = typename Space::Block;
  using Index = Eigen::Index;
  const Index m = op.rows(), n = op.cols();
  const Index maxiter = opt.maxiter ? *opt.maxiter : std::min(m, n);
  const Real damp = opt.damp;
  const Real ctol = opt.conlim > 0 ? Real(1) / opt.conlim : Real(0);
  const Real atol = opt.atol, btol = opt.btol;

  stats.resize(static_cast<std::size_t>(k));
  std::vector<LsmrColumn<Real>> state(static_cast<std::size_t>(k));

  // Workspace, allocated once: u (m), v, h, hbar (n) per column, and the two product targets.
  Block U = B, V = Space::zeros(n, k), H = Space::zeros(n, k), Hbar = Space::zeros(n, k);
  Block Av = Space::zeros(m, k), Atu = Space::zeros(n, k);

  if (X0) {
    X = *X0;
    op.apply(Space::active(X, k), Space::active(Av, k));
  } else {
    X = Space::zeros(n, k);
  }

  // β₁u₁ = b − Ax₀,  α₁v₁ = Aᴴu₁.
  for (Index j = 0; j < k; ++j) {
    auto& c = state[static_cast<std::size_t>(j)];
    c.id = j;
    c.normb = Space::norm(B, j);
    if (X0) Space::axpy(U, j, Real(-1), Av, j);
    c.beta = X0 ? Space::norm(U, j) : c.normb;
    if (c.beta > 0) Space::scale(U, j, Real(1) / c.beta);
  }
  op.apply_adjoint(Space::active(U, k), Space::active(Atu, k));
  for (Index j = 0; j < k; ++j) {
    auto& c = state[static_cast<std::size_t>(j)];
    if (c.beta > 0) {
      Space::copy(V, j, Atu, j);
      c.alpha = Space::norm(V, j);
    }
    if (c.alpha > 0) Space::scale(V, j, Real(1) / c.alpha);
    Space::copy(H, j, V, j);

    c.zetabar = c.alpha * c.beta;
    c.alphabar = c.alpha;
    c.betadd = c.beta;
    c.normA2 = c.alpha * c.alpha;
    c.normA = std::sqrt(c.normA2);
    c.normr = c.beta;
    c.normar = c.alpha * c.beta;
    if (c.normar == 0) {
      c.done = true;  // x0 (or 0) already solves the problem
    } else if (c.normb == 0) {
      Space::set_zero(X, j);
      c.done = true;
    }
  }

  // Record finished columns and move the active ones to the front of the workspace.
  Index active = k;
  int itn = 0;
  auto compact = [&]() {
    active = compact_columns<Space>(state, active,
                                    [&](const LsmrColumn<Real>& c) {
                                      const auto id = static_cast<std::size_t>(c.id);
                                      stats.istop[id] = c.istop;
                                      stats.itn[id] = itn;
                                      stats.normr[id] = c.normr;
                                      stats.normar[id] = c.normar;
                                      stats.norma[id] = c.normA;
                                      stats.conda[id] = c.condA;
                                      stats.normx[id] = c.normx;
                                    },
                                    {&U, &V, &H, &Hbar});
  };
  compact();

  while (active > 0 && itn < maxiter) {
    ++itn;
    // Next step of the bidiagonalization: βu = Av − αu, αv = Aᴴu − βv.
    op.apply(Space::active(V, active), Space::active(Av, active));
    for (Index p = 0; p < active; ++p) {
      auto& c = state[static_cast<std::size_t>(p)];
      Space::add_scaled_self(U, p, -c.alpha, Av, p);
      c.beta = Space::norm(U, p);
      if (c.beta > 0) Space::scale(U, p, Real(1) / c.beta);
    }
    op.apply_adjoint(Space::active(U, active), Space::active(Atu, active));
    for (Index p = 0; p < active; ++p) {
      auto& c = state[static_cast<std::size_t>(p)];
      if (c.beta > 0) {
        Space::add_scaled_self(V, p, -c.beta, Atu, p);
        c.alpha = Space::norm(V, p);
        if (c.alpha > 0) Space::scale(V, p, Real(1) / c.alpha);
      }

      // Rotation Qhat_{k,2k+1} eliminates the damping term.
      Real chat, shat, alphahat;
      sym_ortho(c.alphabar, damp, chat, shat, alphahat);

      // Rotation Q_k turns B_k into R_k.
      const Real rhoold = c.rho;
      Real cq, sq;
      sym_ortho(alphahat, c.beta, cq, sq, c.rho);
      const Real thetanew = sq * c.alpha;
      c.alphabar = cq * c.alpha;

      // Rotation Qbar_k turns R_kᵀ into Rbar_k.
      const Real rhobarold = c.rhobar, zetaold = c.zeta;
      const Real thetabar = c.sbar * c.rho;
      const Real rhotemp = c.cbar * c.rho;
      sym_ortho(c.cbar * c.rho, thetanew, c.cbar, c.sbar, c.rhobar);
      c.zeta = c.cbar * c.zetabar;
      c.zetabar = -c.sbar * c.zetabar;

      // hbar = h − (θbar ρ / (ρold ρbarold)) hbar,  x += ζ/(ρ ρbar) hbar,  h = v − (θ/ρ) h.
      Space::add_scaled_self(Hbar, p, -(thetabar * c.rho / (rhoold * rhobarold)), H, p);
      Space::axpy(X, c.id, c.zeta / (c.rho * c.rhobar), Hbar, p);
      Space::add_scaled_self(H, p, -(thetanew / c.rho), V, p);

      // Estimate ‖r‖ (Section 3.1): apply Qhat, Q, then Qtilde_{k-1}.
      const Real betaacute = chat * c.betadd;
      const Real betacheck = -shat * c.betadd;
      const Real betahat = cq * betaacute;
      c.betadd = -sq * betaacute;
      const Real thetatildeold = c.thetatilde;
      Real ctildeold, stildeold, rhotildeold;
      sym_ortho(c.rhodold, thetabar, ctildeold, stildeold, rhotildeold);
      c.thetatilde = stildeold * c.rhobar;
      c.rhodold = ctildeold * c.rhobar;
      c.betad = -stildeold * c.betad + ctildeold * betahat;
      c.tautildeold = (zetaold - thetatildeold * c.tautildeold) / rhotildeold;
      const Real taud = (c.zeta - c.thetatilde * c.tautildeold) / c.rhodold;
      c.d += betacheck * betacheck;
      c.normr = std::sqrt(c.d + (c.betad - taud) * (c.betad - taud) + c.betadd * c.betadd);

      // Estimate ‖A‖ and cond(A) (Section 3.2).
      c.normA2 += c.beta * c.beta;
      c.normA = std::sqrt(c.normA2);
      c.normA2 += c.alpha * c.alpha;
      if (itn > 1) {
        c.maxrbar = std::max(c.maxrbar, rhobarold);
        c.minrbar = std::min(c.minrbar, rhobarold);
      }
      c.condA = std::max(c.maxrbar, rhotemp) / std::min(c.minrbar, rhotemp);

      // Stopping rules, in scipy's order so that the same istop wins.
      c.normar = std::abs(c.zetabar);
      c.normx = Space::norm(X, c.id);
      const Real test1 = c.normr / c.normb;
      const Real test2 = (c.normA * c.normr) != 0 ? c.normar / (c.normA * c.normr)
                                                  : std::numeric_limits<Real>::infinity();
      const Real test3 = Real(1) / c.condA;
      const Real t1 = test1 / (1 + c.normA * c.normx / c.normb);
      const Real rtol = btol + atol * c.normA * c.normx / c.normb;
      int istop = 0;
      if (itn >= maxiter) istop = 7;
      if (1 + test3 <= 1) istop = 6;
      if (1 + test2 <= 1) istop = 5;
      if (1 + t1 <= 1) istop = 4;
      if (test3 <= ctol) istop = 3;
      if (test2 <= atol) istop = 2;
      if (test1 <= rtol) istop = 1;
      c.istop = istop;
      c.done = istop > 0;
    }
    if constexpr (has_lsmr_callback<Options>::value) {
      if (opt.callback) {
        LsmrProgress<Real> progress;
        progress.itn = itn;
        for (Index p = 0; p < active; ++p) {
          const auto& c = state[static_cast<std::size_t>(p)];
          progress.column.push_back(c.id);
          progress.istop.push_back(c.istop);
          progress.normr.push_back(c.normr);
          progress.normar.push_back(c.normar);
          progress.norma.push_back(c.normA);
          progress.conda.push_back(c.condA);
          progress.normx.push_back(c.normx);
        }
        if (!opt.callback(progress))
          for (Index p = 0; p < active; ++p) {
            auto& c = state[static_cast<std::size_t>(p)];
            if (!c.done) c.istop = 8, c.done = true;
          }
      }
    }
    if (itn >= maxiter)
      for (Index p = 0; p < active; ++p) state[static_cast<std::size_t>(p)].done = true;
    compact();
  }
  // maxiter = 0: the remaining columns stop where they started, with istop 0.
  for (Index p = 0; p < active; ++p) state[static_cast<std::size_t>(p)].done = true;
  compact();
}

template <class Operator, class = void>
struct has_matrix : std::false_type {};
template <class Operator>
struct has_matrix<Operator, std::void_t<decltype(std::declval<const Operator&>().matrix())>>
    : std::true_type {};

/// M = diag(1/‖A e_j‖) (1 for a zero column) of the sparse matrix behind an operator.
template <class Scalar, class Operator>
std::shared_ptr<const Preconditioner<Scalar>> column_scaling_of(const char* where,
                                                                const Operator& op) {
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  if constexpr (has_matrix<Operator>::value) {
    Eigen::Matrix<Real, Eigen::Dynamic, 1> norm2 =
        Eigen::Matrix<Real, Eigen::Dynamic, 1>::Zero(op.cols());
    for_each_entry(op.matrix(), [&](Eigen::Index, Eigen::Index, Eigen::Index j, const Scalar& v) {
      norm2[j] += Eigen::numext::abs2(v);
    });
    Eigen::Matrix<Scalar, Eigen::Dynamic, 1> d(op.cols());
    for (Eigen::Index j = 0; j < d.size(); ++j)
      d[j] = norm2[j] > 0 ? Scalar(Real(1) / std::sqrt(norm2[j])) : Scalar(1);
    return std::make_shared<DiagonalPreconditioner<Scalar>>(std::move(d));
  } else {
    throw_invalid(where, "options.column_scaling",
                  "false for a user operator (pass options.preconditioner instead)", "true");
  }
}

/// Runs LSMR with Eigen blocks on any operator; checks shapes and options. With
/// `use_preconditioner`, options.column_scaling / options.preconditioner M make it run on A M
/// and return x = M y (x = x0 + M y with a warm start; see LsmrOptions).
template <class Operator, class Scalar>
LsmrResult<Scalar> lsmr_on_operator(const Operator& op, const DenseMatrix<Scalar>& B,
                                    const LsmrOptions<Scalar>& opt, bool use_x0, const char* where,
                                    bool use_preconditioner = true) {
  opt.check(where);
  require_finite(where, "B", B);
  if (B.rows() != op.rows())
    throw_invalid(where, "B", concat(op.rows(), " rows (the rows of A)"),
                  concat(B.rows(), " rows"));
  const bool has_x0 = use_x0 && opt.x0.size() > 0;
  if (has_x0) require_shape(where, "options.x0", opt.x0, op.cols(), B.cols());
  if (use_preconditioner && (opt.column_scaling || opt.preconditioner)) {
    const char* name = opt.column_scaling ? "options.column_scaling" : "options.preconditioner";
    if (opt.damp > 0)
      throw_invalid(where, name,
                    "none with options.damp > 0 (the preconditioned problem would penalize "
                    "the norm of y = M^-1 x instead of x)",
                    concat("one with damp ", opt.damp));
    if (op.rows() < op.cols())
      throw_invalid(where, name,
                    concat("none for a wide A (rows < cols): x = M y would not be the "
                           "minimum-norm solution, got A of ",
                           shape_string(op.rows(), op.cols())),
                    "one");
    const auto M = opt.column_scaling ? column_scaling_of<Scalar>(where, op) : opt.preconditioner;
    if (M->size() != op.cols())
      throw_invalid(where, "options.preconditioner",
                    concat("size ", op.cols(), " (the columns of A)"), concat("size ", M->size()));
    DenseMatrix<Scalar> R = B;
    if (has_x0) {
      DenseMatrix<Scalar> AX0(op.rows(), B.cols());
      op.apply(opt.x0, AX0);
      R -= AX0;
    }
    const PreconditionedOperator<Operator, Scalar> preconditioned(op, *M);
    LsmrResult<Scalar> result;
    lsmr_kernel<EigenBlockSpace<Scalar>>(preconditioned, R, nullptr, B.cols(), opt, result.X,
                                         result);
    DenseMatrix<Scalar> X;
    M->apply(result.X, X);
    if (has_x0) X += opt.x0;
    result.X = std::move(X);
    for (Eigen::Index j = 0; j < B.cols(); ++j)
      result.normx[static_cast<std::size_t>(j)] = result.X.col(j).norm();
    return result;
  }
  LsmrResult<Scalar> result;
  lsmr_kernel<EigenBlockSpace<Scalar>>(op, B, has_x0 ? &opt.x0 : nullptr, B.cols(), opt, result.X,
                                       result);
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
    return detail::lsmr_on_operator(make_operator(A), Bd, options, true, "lsmr");
  } else {
    return detail::lsmr_on_operator(A, Bd, options, true, "lsmr");
  }
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_LSMR_HPP
