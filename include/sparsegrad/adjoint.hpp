// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_ADJOINT_HPP
#define SPARSEGRAD_ADJOINT_HPP

/// \file adjoint.hpp
/// The reverse-mode adjoint of X = argmin ‖AX − B‖: `lstsq_backward`, and the one adjoint
/// engine behind it that every backend calls (Eigen here, PETSc in backends/petsc.hpp, the
/// LibTorch and Python front ends through lstsq_backward).
///
/// Math (Golub & Pereyra, SIAM J. Numer. Anal. 10(2), 1973), r = AX − B, upstream gradient dX,
/// everything at A's stored entries only (ᴴ is the conjugate transpose; for real data ᴴ = ᵀ):
///   damped, λ > 0, any shape:  H = (AᴴA + λ²I)⁻¹dX,  dB = A H,  dA = −dB Xᴴ − r Hᴴ,
///                              dλ = −2λ Re Σ conj(H) ∘ X
///   undamped, tall or square A of full column rank: the same with λ = 0 (dλ = 0)
///   wide A (m < n), computed with the m x m system (full row rank when λ = 0):
///     dB = (AAᴴ + λ²I)⁻¹A dX,  W = (AAᴴ + λ²I)⁻¹B,  dA = −dB Xᴴ + W (dX − Aᴴ dB)ᴴ,
///     dλ = −2λ Re Σ conj(dB) ∘ W  (the damped formula rewritten with λ²H = dX − AᴴdB and
///     r = −λ²W; at λ = 0 it is Golub–Pereyra's with W = (A⁺)ᴴX and dX − AᴴdB = N dX)
///   (the general formula dA = −dB Xᴴ − r (A⁺dB)ᴴ + (A⁺)ᴴX (N dX)ᴴ, N = I − A⁺A, covers both
///   undamped cases). Without damping a rank-deficient A has no gradient: std::domain_error.
/// Complex data: the Wirtinger convention of PyTorch. dX = ∂L/∂Re X + i ∂L/∂Im X for a real loss
/// L, and likewise g.A = ∂L/∂Re A + i ∂L/∂Im A, g.B = ∂L/∂Re B + i ∂L/∂Im B (twice the conjugate
/// Wirtinger derivative ∂L/∂conj(z)), so that dL = Re Σ conj(g) ∘ dz and z −= η g descends.
///
/// How H and dB are obtained depends on the solver (solvers/concept.hpp):
///   solve_normal       one solve: H = solve_normal(A, dX), dB = A H (wide: on Aᴴ)
///   solve_adjoint      the seed's two solves, dB = solve_adjoint(A, dX), H = solver(A, dB)
///   a plain callable   the same with the default LSMR's solve_adjoint
///   (solver, transpose_solver)   the seed's form: dB = transpose_solver(A, dX), H = solver(A, dB)
///
/// Error estimates (solvers that report them: Lsmr, petsc::Lsmr): the backward's solve gives
/// per column estimated errors of H (or, wide, of [dB, W]) and of dB (krylov/craig.hpp), and
/// Lsmr bounds the error of the X passed in from Aᴴ(B − AX) (Lsmr::solution_error). The engine
/// propagates them through the outer products on A's pattern (pattern_error_bound) into
/// g.error_A and g.error_B, and throws convergence_error when either exceeds the solver's
/// gradient_tolerance: a normal return means both are below it.
///
/// The engine (detail::AdjointEngine) is written once against a backend that supplies the
/// blocks (n x k and m x k groups of vectors), the products with A and Aᴴ, the checked solver
/// calls and the assembly of dA on A's pattern; it holds the decisions (which path, the rank
/// tests, dλ, overflow), so that a change to them lands in every backend at once.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "coo.hpp"
#include "detail/checks.hpp"
#include "errors.hpp"
#include "matrix.hpp"
#include "operator.hpp"
#include "solvers/concept.hpp"
#include "solvers/lsmr.hpp"

namespace sparsegrad {

/// Gradients returned by `lstsq_backward`.
template <class GradA, class GradB, class RealScalar>
struct LstsqGrads {
  GradA A;              ///< dL/dA: same type, pattern and entry order as A
  GradB B;              ///< dL/dB: same shape as B
  RealScalar damp = 0;  ///< dL/dλ; 0 when undamped
  /// Estimated relative errors ‖ΔdA‖/‖dA‖ and ‖ΔdB‖/‖dB‖ (Frobenius, dA on A's pattern), from the
  /// backward solve's error estimates (see adjoint.hpp, "Error estimates"); NaN when the solver
  /// reports none (user solvers, the two-solve form, scipy_compatible).
  double error_A = std::numeric_limits<double>::quiet_NaN();
  double error_B = std::numeric_limits<double>::quiet_NaN();
  /// Diagnostics of the backward's solve (empty when the solver keeps none).
  Diagnostics diagnostics;
};

namespace detail {

/// The terms of the adjoint (see the file comment): dA = −dB Xᴴ − r Hᴴ + W Vᴴ on A's pattern,
/// g.B = dB and g.damp = ddamp. H empty drops its term (wide A, where −r Hᴴ is W Vᴴ); W, V
/// empty drop the null-space term (tall A).
template <class Block, class Real>
struct AdjointTerms {
  Block dB, H, W, V, R;  // R = AX − B (tall)
  Block S;               // Aᴴ(B − AX) − λ²X (tall, for the refinement of X)
  bool S_valid = false;
  bool with_H = false, with_null_space = false;
  Real ddamp = 0;
  /// Per column j of dX, estimated absolute errors of dB_j, of H_j (tall) or W_j (wide), and of
  /// X_j; empty when unknown.
  std::vector<double> error_dB, error_HW, error_X, error_AX;  // error_AX: of A·X
  std::vector<double> error_V;  // wide: of V = dX − Aᴴ dB (the solve's error of Aᴴ·dB)
  Diagnostics diagnostics;
  double gradient_tolerance = std::numeric_limits<double>::quiet_NaN();
  bool throw_on_failure = true;
};

/// Relative residual a solve to (atol, btol) guarantees for a consistent system, with a safety
/// factor of 10; scale = ‖A‖‖solution‖/‖right-hand side‖. The floor sqrt(eps) is what Krylov
/// solves reach in floating point on ill-conditioned A (measured: 3e-10 by LSMR, 9e-9 by CRAIG
/// on illc1033, κ = 1.9e4, at atol = btol = 1e-14), while an inconsistent system leaves a
/// residual of the order of sqrt(null-space dimension / n) for a random right-hand side.
template <class Real>
Real consistency_tolerance(Real scale, Real atol, Real btol) {
  const Real eps = std::numeric_limits<Real>::epsilon();
  return std::max(Real(10) * (btol + atol * scale), std::sqrt(eps));
}

/// A fixed, deterministic vector of length m with no structure, to probe whether A y = g is
/// consistent: for a wide A that is rank-deficient it lies outside range(A) (except on a set of
/// measure zero), for full row rank A y = g always has a solution.
inline double rank_probe_entry(Eigen::Index i) {
  return std::cos(2.39996322972865332 * double(i) + 0.5);  // golden angle: no period, symmetry
}

/// The flow of the backward pass, written once for every backend. `Backend` supplies:
///   types   AType (what solvers receive), Block (k vectors), Scalar, Real
///   sizes   m(), n(), k()
///   inputs  B(), X(), dX()
///   algebra apply(V) = A V, apply_adjoint(U) = Aᴴ U, minus(a, b) = a − b, join({a, b, ...}),
///           slice(Y, first, count), columns(Y), norm(Y, j), dot_re(a, b) = Re Σ conj(a) ∘ b,
///           zeros_m(k), probe() (the m x 1 rank probe), norm_A() (‖A‖_F)
///   solves  solve(solver, G, what) = solver(A, G), solve_normal(solver, G),
///           solve_adjoint(call, G, what), solve_row_normal(solver, G) = (AAᴴ + λ²I)⁻¹G
///           (all checked: shape, finite values, exceptions translated)
///   default_transpose()  the default transposed solver (LSMR) of the backend
///   assemble(terms)      the gradients (dA on A's pattern, r = AX − B formed there)
template <class Backend>
class AdjointEngine {
 public:
  using Block = typename Backend::Block;
  using Real = typename Backend::Real;
  using AType = typename Backend::AType;
  using Terms = AdjointTerms<Block, Real>;
  static constexpr const char* where = Backend::where;

  explicit AdjointEngine(Backend& be) : be_(be) {}

  /// The backward pass with one solver (see the file comment for the paths).
  template <class Solver>
  auto run(Solver& solver) {
    using Traits = traits_of<Solver>;
    if constexpr (Traits::template has_solve_adjoint<AType, Block>) {
      if (Traits::rank_policy(solver) == RankDeficient::pseudo_inverse && Traits::damp(solver) == 0)
        return be_.assemble(pseudo_inverse_terms(solver));
    }
    if constexpr (Traits::template has_solve_normal<AType, Block>) {
      Terms t = one_solve(solver);
      return finish(std::move(t), solver);
    } else if constexpr (Traits::template has_solve_adjoint<AType, Block>) {
      auto transpose = [&solver](const AType& A, const Block& G) {
        return solver.solve_adjoint(A, G);
      };
      return be_.assemble(two_solves(solver, transpose, Traits::tolerances(solver),
                                     Traits::backward_diagnostics(solver)));
    } else {
      auto fallback = be_.default_transpose();
      using Fallback = decltype(fallback);
      auto transpose = [&fallback](const AType& A, const Block& G) {
        return fallback.solve_adjoint(A, G);
      };
      require_undamped(solver, "solver.options.damp");
      auto terms = two_solves(solver, transpose, traits_of<Fallback>::tolerances(fallback),
                              &fallback.last_backward());
      return be_.assemble(std::move(terms));
    }
  }

  /// The seed's two-solve form with an explicit transpose solver (undamped only).
  template <class Solver, class Transpose>
  auto run(Solver& solver, Transpose& transpose_solver) {
    require_undamped(solver, "solver.options.damp");
    require_undamped(transpose_solver, "transpose_solver.options.damp");
    auto transpose = [&transpose_solver](const AType& A, const Block& G) {
      return transpose_solver(A, G);
    };
    return be_.assemble(two_solves(solver, transpose,
                                   traits_of<Transpose>::tolerances(transpose_solver),
                                   traits_of<Transpose>::backward_diagnostics(transpose_solver)));
  }

 private:
  /// One solve with solve_normal: H = (AᴴA + λ²I)⁻¹dX, dB = A H (tall); for a wide A,
  /// [dB, W] = (AAᴴ + λ²I)⁻¹[A dX, B] in one block solve of the smaller system, so that dB = A H,
  /// and with λ²H = dX − Aᴴ dB and r = −λ²W the damped formula becomes dA = −dB Xᴴ + W (dX −
  /// Aᴴ dB)ᴴ, dλ = −2λ Re Σ conj(dB) ∘ W: no division by λ, and the same formula as the
  /// undamped one at λ = 0. Undamped, the rank is checked (tall: AᴴdB = dX consistent; wide: a
  /// probe column g with A(Aᴴy) = g consistent).
  template <class Solver>
  Terms one_solve(Solver& solver) {
    using Traits = traits_of<Solver>;
    const Real damp = Real(Traits::damp(solver));
    const auto tol = Traits::tolerances(solver);
    Terms t;
    if (be_.k() == 0) {
      t.dB = be_.zeros_m(0);
      return t;
    }
    if (be_.m() >= be_.n()) {
      t.H = be_.solve_normal(solver, be_.dX());
      t.with_H = true;
      t.dB = be_.apply(t.H);
      t.R = be_.residual();
      collect_errors(solver, t);
      if (damp == 0 && !Traits::checks_rank(solver))
        after_solve(Traits::backward_diagnostics(solver), [&] {
          require_consistent(be_.apply_adjoint(t.dB), be_.dX(), t.dB, tol,
                             "full column rank (the transposed system A^T dB = dX consistent)",
                             "dX", Real(0));
        });
      else
        t.ddamp = -2 * damp * be_.dot_re(t.H, be_.X());
      return t;
    }
    const Block AdX = be_.apply(be_.dX());
    // Undamped, a probe column: a generic right-hand side, outside range(A) when A has
    // dependent rows (B and A dX may lie in it), so that the solve sees the rank deficiency.
    const bool probe = damp == 0;
    const Block G = probe ? be_.join({&AdX, &be_.B(), &be_.probe()}) : be_.join({&AdX, &be_.B()});
    const Block Y = be_.solve_row_normal(solver, G);
    const Eigen::Index k = be_.k();
    if (probe && !Traits::checks_rank(solver))
      after_solve(Traits::backward_diagnostics(solver), [&] {
        const Block y = be_.slice(Y, 2 * k, 1), g = be_.slice(G, 2 * k, 1);
        const Block Aty = be_.apply_adjoint(y);
        require_consistent(be_.apply(Aty), g, Aty, tol, full_row_rank, "the rank probe",
                           std::cbrt(std::numeric_limits<Real>::epsilon()));
      });
    t.dB = be_.slice(Y, 0, k);
    t.W = be_.slice(Y, k, k);
    t.V = be_.minus(be_.dX(), be_.apply_adjoint(t.dB));  // N dX = dX − Aᴴ dB (λ²H when damped)
    t.with_null_space = true;
    if (damp > 0) t.ddamp = -2 * damp * be_.dot_re(t.dB, t.W);
    collect_errors(solver, t);
    return t;
  }

  /// The error estimates of the solve behind the terms (see "Error estimates" in the file
  /// comment), from a solver that reports them: per column, absolute errors of dB, of H (tall)
  /// or W (wide), and of X when the solver can bound it (Lsmr::solution_error).
  template <class Solver>
  void collect_errors(Solver& solver, Terms& t) const {
    using Traits = traits_of<Solver>;
    t.gradient_tolerance = Traits::gradient_tolerance(solver);
    t.throw_on_failure = Traits::throws_on_failure(solver);
    const Diagnostics* d = Traits::backward_diagnostics(solver);
    if (!d) return;
    t.diagnostics = *d;
    const Eigen::Index k = be_.k();
    const auto size = static_cast<Eigen::Index>(d->size());
    if (std::isnan(t.gradient_tolerance) || size < (t.with_H ? k : 2 * k)) return;
    // A solve that made no estimate for some column (NaN): no estimates, no gate.
    for (Eigen::Index j = 0; j < (t.with_H ? k : 2 * k); ++j)
      if (std::isnan(d->error[std::size_t(j)]) ||
          ((t.with_H || j < k) && std::isnan(d->error_image[std::size_t(j)])))
        return;
    // The rounding of H to the scalar type and of dB = A·H formed in it: eps‖|A||H|‖, which
    // exceeds eps‖dB‖ by up to cond(A) (cancellation in the product).
    const double eps = double(Eigen::NumTraits<Real>::epsilon());
    const std::vector<double> absAH = t.with_H ? be_.abs_product_norms(t.H) : std::vector<double>();
    const Block AtdB = t.with_H ? Block() : be_.minus(be_.dX(), t.V);  // wide: Aᴴ dB = dX − V
    for (Eigen::Index j = 0; j < k; ++j) {
      const auto jj = static_cast<std::size_t>(j);
      if (t.with_H) {
        const double normH = double(be_.norm(t.H, j));
        t.error_dB.push_back(d->error_image[jj] * double(be_.norm(t.dB, j)) + eps * absAH[jj]);
        t.error_HW.push_back((d->error[jj] + eps) * normH);
      } else {
        t.error_dB.push_back(d->error[jj] * double(be_.norm(t.dB, j)));
        t.error_HW.push_back(d->error[jj + std::size_t(k)] * double(be_.norm(t.W, j)));
        // The solve on Aᴴ estimates the error of its image Aᴴ·dB = dX − V too.
        t.error_V.push_back(d->error_image[jj] * double(be_.norm(AtdB, j)));
      }
    }
    if constexpr (Traits::template has_solution_error<Block>) {
      if (t.with_H) {
        // X* − X = (AᴴA + λ²I)⁻¹(Aᴴ(B − AX) − λ²X)
        const double damp = Traits::damp(solver);
        Block S = be_.normal_residual();
        if (damp != 0) S = be_.minus(S, be_.scaled(be_.X(), Real(damp * damp)));
        SolutionError e = solver.solution_error(be_.X(), S);
        if (static_cast<Eigen::Index>(e.X.size()) == k) {
          const double normA = double(be_.norm_A());
          for (std::size_t j = 0; j < e.X.size(); ++j) e.AX[j] = std::min(e.AX[j], normA * e.X[j]);
          t.error_X = std::move(e.X), t.error_AX = std::move(e.AX);
          t.S = std::move(S), t.S_valid = true;
        }
      }
    }
  }

  /// The absolute error bound of dA on A's pattern from the terms' error estimates. For one
  /// outer-product term (u vᴴ) restricted to the pattern P, ‖(Δu vᴴ)|P‖_F ≤ ‖Δu‖ ρ(v) with
  /// ρ(v) = max_i ‖v restricted to row i of P‖, and ‖(u Δvᴴ)|P‖_F ≤ ‖Δv‖ γ(u) with γ(u) =
  /// max_l ‖u restricted to column l of P‖ (backend: pattern_row_max, pattern_col_max).
  /// Tall: dA = −Σ_j dB_j X_jᴴ + r_j H_jᴴ, with Δr = A ΔX (Lsmr::solution_error bounds both); wide:
  /// dA = −Σ_j dB_j X_jᴴ − W_j V_jᴴ, ΔV = Aᴴ ΔdB (the error of X is not included there).
  /// Returns the bound and the part of it that comes from the error of X.
  struct ErrorBound {
    double total = 0, from_X = 0;
  };
  ErrorBound pattern_error_bound(const Terms& t) {
    const Eigen::Index k = be_.k();
    const double eps = double(Eigen::NumTraits<Real>::epsilon());
    const double normA = double(be_.norm_A());
    const auto rhoX = be_.pattern_row_max(be_.X());
    const auto gamma_dB = be_.pattern_col_max(t.dB);
    double bound = 0, from_X = 0;
    for (Eigen::Index j = 0; j < k; ++j) {
      const auto jj = static_cast<std::size_t>(j);
      const double eX = t.error_X.empty() ? 0.0 : t.error_X[jj];
      bound += t.error_dB[jj] * rhoX[jj];
      from_X += eX * gamma_dB[jj];
    }
    if (t.with_H) {
      const auto rhoH = be_.pattern_row_max(t.H);
      const auto gamma_r = be_.pattern_col_max(t.R);
      for (Eigen::Index j = 0; j < k; ++j) {
        const auto jj = static_cast<std::size_t>(j);
        const double eAX = t.error_AX.empty() ? 0.0 : t.error_AX[jj];
        // and the rounding of the assembly, eps (|dB||X|ᴴ + |r||H|ᴴ) on the pattern
        const double rounding =
            eps * (double(be_.norm(t.dB, j)) * rhoX[jj] + double(be_.norm(t.R, j)) * rhoH[jj]);
        bound += t.error_HW[jj] * gamma_r[jj] + rounding;
        from_X += eAX * rhoH[jj];
      }
    } else {
      const auto rhoV = be_.pattern_row_max(t.V);
      const auto gamma_W = be_.pattern_col_max(t.W);
      for (Eigen::Index j = 0; j < k; ++j) {
        const auto jj = static_cast<std::size_t>(j);
        const double eV = t.error_V.empty() ? normA * t.error_dB[jj] : t.error_V[jj];
        bound += t.error_HW[jj] * rhoV[jj] + eV * gamma_W[jj];
      }
    }
    return {bound + from_X, from_X};
  }

  /// Assembles the gradients with their error estimates (g.error_A, g.error_B, g.diagnostics).
  /// Returns also the share of the dA bound that comes from the error of X.
  auto assemble_estimated(Terms&& t) {
    const bool estimated = !t.error_dB.empty();
    double bound_A = 0, x_share = 0;
    long double bound_B = 0, normdB = 0;  // sums of squares beyond double's range at 1e±150
    if (estimated) {
      const ErrorBound bound = pattern_error_bound(t);
      bound_A = bound.total;
      if (bound_A > 0) x_share = bound.from_X / bound_A;
      for (Eigen::Index j = 0; j < be_.k(); ++j) {
        const long double e = t.error_dB[static_cast<std::size_t>(j)];
        const long double v = be_.norm(t.dB, j);
        bound_B += e * e, normdB += v * v;
      }
    }
    Diagnostics diagnostics = std::move(t.diagnostics);
    auto g = be_.assemble(std::move(t));
    g.diagnostics = std::move(diagnostics);
    if (estimated) {
      const double normdA = double(be_.gradient_norm(g));
      auto relative = [](double err, double norm) {
        return err == 0 ? 0.0 : norm > 0 ? err / norm : std::numeric_limits<double>::infinity();
      };
      g.error_A = relative(bound_A, normdA);
      g.error_B = relative(double(std::sqrt(bound_B)), double(std::sqrt(normdB)));
    }
    return std::make_pair(std::move(g), x_share);
  }

  /// Assembles the gradients and applies the solver's gradient gate: convergence_error (with the
  /// diagnostics, istop 10 on every column) when an estimated error exceeds gradient_tolerance
  /// and throw_on_failure. When the error of the X passed in is what keeps the estimate above
  /// the tolerance (the bound from Aᴴ(B − AX) exceeds the true error by up to cond² when that
  /// error is rounding, as for float X), X is refined first: ΔX = X* − X by one more solve,
  /// X + ΔX and its residual formed in the working precision (refine).
  template <class Solver>
  auto finish(Terms&& t, Solver& solver) {
    const double tol = t.gradient_tolerance;
    const bool throws = t.throw_on_failure;
    std::optional<Terms> saved;
    constexpr bool refinable = traits_of<Solver>::template has_solution_error<Block>;
    if constexpr (refinable)
      if (!t.error_X.empty() && t.S_valid) saved = t;
    auto [g, x_share] = assemble_estimated(std::move(t));
    if constexpr (refinable) {
      if (saved && !(std::max(g.error_A, g.error_B) <= tol) && x_share >= 0.5 &&
          refine(solver, *saved))
        std::tie(g, x_share) = assemble_estimated(std::move(*saved));
    }
    if (throws && !std::isnan(g.error_A) && !(std::max(g.error_A, g.error_B) <= tol)) {
      Diagnostics diagnostics = g.diagnostics;
      for (auto& s : diagnostics.istop) s = int(Stop::inaccurate);
      throw convergence_error(
          concat("sparsegrad: ", where, ": the estimated relative error of dL/dA is ", g.error_A,
                 " and of dL/dB ", g.error_B, ", above the gradient tolerance ", tol,
                 " (options.gradient_tolerance). The backward solve ran on a problem with "
                 "singular values estimated in [",
                 min_of(diagnostics.sigma_min), ", ", max_of(diagnostics.sigma_max),
                 "] (columns scaled to unit norm): the gradients "
                 "are accurate to about eps*cond^2. Use a direct solver (sparsegrad::SparseQR, "
                 "or sparsegrad::SPQR with SuiteSparse), damping (options.damp > 0), or a looser "
                 "options.gradient_tolerance. (Or set options.throw_on_failure = false and read "
                 "g.error_A, g.error_B.)"),
          diagnostics);
    }
    return std::move(g);
  }

  /// X* − X = (AᴴA + λ²I)⁻¹S by one more solve_normal; the terms then use X + ΔX (rounded to the
  /// scalar type) and its residual formed in the working precision, and the error of X becomes
  /// that of this solve plus the rounding. False (terms unchanged) when the solve fails.
  template <class Solver>
  bool refine(Solver& solver, Terms& t) {
    Block dXs;
    try {
      dXs = be_.solve_normal(solver, t.S);
    } catch (const convergence_error&) {
      return false;
    }
    const Diagnostics* d = traits_of<Solver>::backward_diagnostics(solver);
    const Eigen::Index k = be_.k();
    if (!d || static_cast<Eigen::Index>(d->size()) < k) return false;
    for (Eigen::Index j = 0; j < k; ++j)
      if (std::isnan(d->error[static_cast<std::size_t>(j)])) return false;
    t.R = be_.refine_solution(dXs);
    const double eps = double(Eigen::NumTraits<Real>::epsilon());
    const double normA = double(be_.norm_A());
    for (Eigen::Index j = 0; j < k; ++j) {
      const auto jj = static_cast<std::size_t>(j);
      const double solve = d->error[jj] * double(be_.norm(dXs, j));
      t.error_X[jj] = solve + eps * double(be_.norm(be_.X(), j));
      t.error_AX[jj] = normA * solve + eps * double(be_.norm(t.R, j));
    }
    return true;
  }

  static double min_of(const std::vector<double>& v) {
    double out = std::numeric_limits<double>::infinity();
    for (double x : v)
      if (!std::isnan(x)) out = std::min(out, x);
    return out;
  }
  static double max_of(const std::vector<double>& v) {
    double out = 0;
    for (double x : v)
      if (!std::isnan(x)) out = std::max(out, x);
    return out;
  }

  /// The seed's two solves: tall, dB = (Aᴴ)⁺dX then H = A⁺dB; wide, a rank probe solver(A, g)
  /// and then [dB, W] = (Aᴴ)⁺[dX, X], V = dX − Aᴴ dB.
  template <class Solver, class Transpose>
  Terms two_solves(Solver& solver, Transpose& transpose, std::pair<double, double> tol,
                   const Diagnostics* transpose_diagnostics) {
    Terms t;
    const Eigen::Index k = be_.k();
    if (k == 0) {
      t.dB = be_.zeros_m(0);
      return t;
    }
    if (be_.m() >= be_.n()) {
      t.dB = be_.solve_adjoint(transpose, be_.dX(), "transpose solver");
      after_solve(transpose_diagnostics, [&] {
        require_consistent(be_.apply_adjoint(t.dB), be_.dX(), t.dB, tol,
                           "full column rank (the transposed system A^T dB = dX consistent)", "dX",
                           Real(0));
      });
      t.H = be_.solve(solver, t.dB, "solver");
      t.with_H = true;
      return t;
    }
    // Wide: full row rank first (A y = g consistent for the probe g), then dB and W together.
    const Block g = be_.probe();
    const Block y = be_.solve(solver, g, "solver (rank probe)");
    require_consistent(be_.apply(y), g, y, traits_of<Solver>::tolerances(solver), full_row_rank,
                       "the rank probe", std::cbrt(std::numeric_limits<Real>::epsilon()));
    const Block Y =
        be_.solve_adjoint(transpose, be_.join({&be_.dX(), &be_.X()}), "transpose solver");
    t.dB = be_.slice(Y, 0, k);
    t.W = be_.slice(Y, k, k);
    t.V = be_.minus(be_.dX(), be_.apply_adjoint(t.dB));
    t.with_null_space = true;
    return t;
  }

  /// RankDeficient::pseudo_inverse, any shape and rank (undamped): Golub & Pereyra's three
  /// terms dA = −dB Xᴴ − r Hᴴ + W (N dX)ᴴ with dB = (Aᴴ)⁺dX, H = A⁺dB, W = (Aᴴ)⁺X and
  /// N dX = dX − A⁺A dX = dX − Aᴴ dB (Aᴴ(Aᴴ)⁺ = A⁺A, the projector on range(Aᴴ)): one block
  /// solve [dB, W] = solve_adjoint([dX, X]) and one solve H = solver(A, dB), both minimum-norm
  /// (LSMR from zero stays in the range of the operator's adjoint).
  template <class Solver>
  Terms pseudo_inverse_terms(Solver& solver) {
    using Traits = traits_of<Solver>;
    Terms t;
    const Eigen::Index k = be_.k();
    if (k == 0) {
      t.dB = be_.zeros_m(0);
      return t;
    }
    auto transpose = [&solver](const AType& A, const Block& G) {
      return solver.solve_adjoint(A, G);
    };
    const Block Y =
        be_.solve_adjoint(transpose, be_.join({&be_.dX(), &be_.X()}), "solver's solve_adjoint");
    t.dB = be_.slice(Y, 0, k);
    t.W = be_.slice(Y, k, k);
    t.H = be_.solve(solver, t.dB, "solver");
    t.V = be_.minus(be_.dX(), be_.apply_adjoint(t.dB));
    t.R = be_.residual();
    t.with_H = t.with_null_space = true;
    t.throw_on_failure = Traits::throws_on_failure(solver);
    return t;
  }

  static constexpr const char* full_row_rank =
      "full row rank for a wide A (rows < cols), i.e. A y = g consistent for every g";

  /// Throws std::domain_error when column j of `product` (the system applied to `solution`)
  /// differs from column j of `rhs` by more than the consistency tolerance: the system that
  /// `solution` solves is then inconsistent, i.e. A is rank-deficient.
  void require_consistent(const Block& product, const Block& rhs, const Block& solution,
                          std::pair<double, double> tol, const char* expected,
                          const char* column_name, Real floor) const {
    const Block residual = be_.minus(product, rhs);
    const Real normA = be_.norm_A();
    for (Eigen::Index j = 0; j < be_.columns(rhs); ++j) {
      const Real normrhs = be_.norm(rhs, j);
      if (normrhs == 0) continue;
      const Real bound =
          std::max(floor, consistency_tolerance(normA * be_.norm(solution, j) / normrhs,
                                                Real(tol.first), Real(tol.second)));
      const Real relative = be_.norm(residual, j) / normrhs;
      if (!(relative <= bound))
        throw_domain(where, "A", expected,
                     concat("relative residual ", relative, " > ", bound, " for column ", j, " of ",
                            column_name,
                            ": A is rank-deficient and the least-squares gradient does not "
                            "exist there without damping"));
    }
  }

  /// Runs a rank check after a solve. When it fails and the solve reports that it did not
  /// converge (possible with throw_on_failure = false), a large residual says nothing about the
  /// rank: throw convergence_error with the solve's diagnostics instead of blaming A.
  template <class Check>
  void after_solve(const Diagnostics* diagnostics, Check&& check) const {
    try {
      check();
    } catch (const std::domain_error& e) {
      if (diagnostics && !diagnostics->converged())
        throw convergence_error(
            concat("sparsegrad: ", where, ": the backward solve did not converge (",
                   diagnostics->failure_summary(),
                   "), so its residual cannot tell a rank-deficient A from an unconverged solve; "
                   "raise options.maxiter. The rank check reported: ",
                   e.what()),
            *diagnostics);
      throw;
    }
  }

  /// The two-functor form has no way to reach (AᴴA + λ²I)⁻¹: it refuses a damped solver.
  template <class Solver>
  static void require_undamped(const Solver& solver, const char* name) {
    const double damp = traits_of<Solver>::damp(solver);
    if (damp != 0)
      throw_invalid(where, name,
                    "0: the two-functor form lstsq_backward(A, B, X, dX, solver, "
                    "transpose_solver) is for undamped problems only; pass one solver that offers "
                    "solve_normal (such as Lsmr) for the damped gradient",
                    concat(damp));
  }

  Backend& be_;
};

/// Finite inputs can still give a gradient beyond the range of the scalar type (|dB||X| or
/// |r||H| overflowing): every backend refuses it with this error rather than return Inf or NaN.
template <class Value>
[[noreturn]] void throw_unrepresentable(const char* where, const char* what, const Value& v,
                                        Eigen::Index i, Eigen::Index j) {
  throw_domain(where, "B, X and dX", "a gradient representable in the scalar type",
               concat(what, " = ", v, " at (", i, ", ", j,
                      "): products of B, X and dX overflow; rescale the problem"));
}

/// Checked, densified inputs of the serial backward pass.
template <class Scalar>
struct BackwardInputs {
  DenseMatrix<Scalar> B, X, dX;
};

template <class AType, class BDerived, class XDerived, class dXDerived>
BackwardInputs<typename BDerived::Scalar> check_backward_inputs(
    const AType& A, const Eigen::MatrixBase<BDerived>& B, const Eigen::MatrixBase<XDerived>& X,
    const Eigen::MatrixBase<dXDerived>& dX) {
  SPARSEGRAD_STATIC_ASSERT_SUPPORTED_MATRIX(AType);
  using Scalar = typename BDerived::Scalar;
  static_assert(std::is_same<typename matrix_traits<AType>::Scalar, Scalar>::value &&
                    std::is_same<typename XDerived::Scalar, Scalar>::value &&
                    std::is_same<typename dXDerived::Scalar, Scalar>::value,
                "sparsegrad::lstsq_backward: A, B, X and dX must have the same Scalar type");
  constexpr const char* where = "lstsq_backward";
  validate_matrix(where, A);
  const Eigen::Index m = rows_of(A), n = cols_of(A);
  if (B.rows() != m)
    throw_invalid(where, "B", concat(m, " rows (the rows of A)"), shape_string(B.rows(), B.cols()));
  require_shape(where, "X", X, n, B.cols());
  require_shape(where, "dX", dX, X.rows(), X.cols());
  require_finite(where, "B", B);
  require_finite(where, "X", X);
  require_finite(where, "dX", dX);
  return {B, X, dX};
}

/// The gradient container: a copy of A's structure with one value per stored entry.
template <class Scalar, class StorageIndex, class F>
CooMatrix<Scalar, StorageIndex> gradient_on_pattern(const CooMatrix<Scalar, StorageIndex>& A,
                                                    F&& value_at) {
  CooMatrix<Scalar, StorageIndex> G;
  G.rows = A.rows, G.cols = A.cols, G.row = A.row, G.col = A.col;
  G.values.resize(A.values.size());
  for_each_entry(A, [&](Eigen::Index e, Eigen::Index i, Eigen::Index j, const Scalar&) {
    G.values[e] = value_at(i, j);
  });
  return G;
}

template <class SparseDerived, class F>
typename matrix_traits<SparseDerived>::Gradient gradient_on_pattern(
    const Eigen::SparseCompressedBase<SparseDerived>& A, F&& value_at) {
  // Copying keeps the storage order and the order of the entries (an uncompressed matrix comes
  // out compressed, with its entries in the same order), so the values line up with A's.
  typename matrix_traits<SparseDerived>::Gradient G = A.derived();
  for (Eigen::Index outer = 0; outer < G.outerSize(); ++outer)
    for (typename decltype(G)::InnerIterator it(G, outer); it; ++it)
      it.valueRef() = value_at(it.row(), it.col());
  return G;
}

/// The engine's backend for Eigen types: A any accepted matrix, blocks dense matrices. It does
/// not depend on B's type (a vector or a matrix B gives the same backend and engine, compiled
/// once); lstsq_backward gives dL/dB B's shape afterwards (detail::shaped_like_B).
template <class AType_>
class EigenAdjointBackend {
 public:
  using AType = AType_;
  using Scalar = typename matrix_traits<AType>::Scalar;
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  using Block = DenseMatrix<Scalar>;
  static constexpr const char* where = "lstsq_backward";

  EigenAdjointBackend(const AType& A, BackwardInputs<Scalar>&& in)
      : A_(A), op_(make_operator(A)), in_(std::move(in)) {}

  Eigen::Index m() const { return op_.rows(); }
  Eigen::Index n() const { return op_.cols(); }
  Eigen::Index k() const { return in_.X.cols(); }
  const Block& B() const { return in_.B; }
  /// X as passed in, or X + ΔX after refine_solution.
  const Block& X() const { return refined_ ? X_refined_ : in_.X; }
  const Block& dX() const { return in_.dX; }

  /// After the engine's refinement: X + ΔX formed in the working precision (kept rounded to
  /// Scalar for the products), and its residual A(X + ΔX) − B formed there too and rounded.
  Block refine_solution(const Block& dXs) {
    const DenseMatrix<Working> Xw = in_.X.template cast<Working>() + dXs.template cast<Working>();
    X_refined_ = Xw.template cast<Scalar>();
    refined_ = true;
    DenseMatrix<Working> R(m(), k());
    if constexpr (std::is_same<Working, Scalar>::value) {
      op_.apply(Xw, R);
    } else {
      if (!A_working_) A_working_.emplace(widened_matrix(op_));
      make_operator(*A_working_).apply(Xw, R);
    }
    R -= in_.B.template cast<Working>();
    return R.template cast<Scalar>();
  }

  Block apply(const Block& V) const {
    Block Y(m(), V.cols());
    op_.apply(V, Y);
    return Y;
  }
  Block apply_adjoint(const Block& U) const {
    Block Y(n(), U.cols());
    op_.apply_adjoint(U, Y);
    return Y;
  }
  static Block minus(const Block& a, const Block& b) { return a - b; }
  static Block scaled(const Block& a, Real s) { return a * s; }
  static Block join(std::initializer_list<const Block*> parts) {
    Eigen::Index cols = 0;
    for (const Block* p : parts) cols += p->cols();
    Block out((*parts.begin())->rows(), cols);
    Eigen::Index at = 0;
    for (const Block* p : parts) out.middleCols(at, p->cols()) = *p, at += p->cols();
    return out;
  }
  static Block slice(const Block& Y, Eigen::Index first, Eigen::Index count) {
    return Y.middleCols(first, count);
  }
  static Eigen::Index columns(const Block& Y) { return Y.cols(); }
  static Real norm(const Block& Y, Eigen::Index j) { return Y.col(j).stableNorm(); }
  static Real dot_re(const Block& a, const Block& b) {
    return Eigen::numext::real(b.cwiseProduct(a.conjugate()).sum());
  }
  Block zeros_m(Eigen::Index k) const { return Block::Zero(m(), k); }
  const Block& probe() {
    if (probe_.size() == 0) {
      probe_.resize(m(), 1);
      for (Eigen::Index i = 0; i < m(); ++i) probe_(i, 0) = Scalar(rank_probe_entry(i));
    }
    return probe_;
  }
  Real norm_A() {
    if (!norm_A_) norm_A_ = frobenius_norm(op_.matrix());
    return *norm_A_;
  }

  template <class Solver>
  Block solve(Solver& solver, const Block& G, const char* what) const {
    return checked_solve<Scalar>(
        where, what, [&]() -> decltype(auto) { return solver(input_for<Solver>(), G); }, n(),
        G.cols());
  }
  template <class Solver>
  Block solve_normal(Solver& solver, const Block& G) const {
    return checked_solve<Scalar>(
        where, "solver's solve_normal",
        [&]() -> decltype(auto) { return solver.solve_normal(input_for<Solver>(), G); }, n(),
        G.cols());
  }
  template <class Call>
  Block solve_adjoint(Call& call, const Block& G, const char* what) const {
    return checked_solve<Scalar>(
        where, what, [&]() -> decltype(auto) { return call(A_, G); }, m(), G.cols());
  }
  /// (AAᴴ + λ²I)⁻¹G with the solver's solve_normal on Aᴴ: on the adjoint operator (no copy) for
  /// a solver that accepts operators, on an explicit sparse Aᴴ otherwise (a direct solver
  /// factorizes it). A rank report of that solve is about A's row rank.
  template <class Solver>
  Block solve_row_normal(Solver& solver, const Block& G) const {
    try {
      if constexpr (traits_of<Solver>::solves_on_operators) {
        const AdjointOperator<decltype(op_)> adjoint(op_);
        return checked_solve<Scalar>(
            where, "solver's solve_normal",
            [&]() -> decltype(auto) { return solver.solve_normal(adjoint, G); }, m(), G.cols());
      } else {
        using StorageIndex = typename matrix_traits<AType>::StorageIndex;
        const Eigen::SparseMatrix<Scalar, Eigen::ColMajor, StorageIndex> At =
            op_.matrix().adjoint();
        return checked_solve<Scalar>(
            where, "solver's solve_normal",
            [&]() -> decltype(auto) { return solver.solve_normal(At, G); }, m(), G.cols());
      }
    } catch (const std::domain_error& e) {
      throw_domain(where, "A", "full row rank for a wide A (rows < cols)",
                   concat("a rank-deficient A: the solve with A A^T reported: ", e.what(),
                          "; the least-squares gradient does not exist there without damping"));
    }
  }

  static Lsmr<Scalar> default_transpose() { return Lsmr<Scalar>(); }

  /// R = AX − B, formed in the working precision (double for float data) and rounded: the
  /// cancellation of a small residual would otherwise leave only rounding noise in float.
  Block residual() {
    if constexpr (std::is_same<Working, Scalar>::value) {
      return minus(apply(in_.X), in_.B);
    } else {
      working_residual();
      return R_working_.template cast<Scalar>();
    }
  }
  /// Aᴴ(B − AX) in the working precision, rounded.
  Block normal_residual() {
    if constexpr (std::is_same<Working, Scalar>::value) {
      return apply_adjoint(minus(in_.B, apply(in_.X)));
    } else {
      working_residual();
      const auto op = make_operator(*A_working_);
      DenseMatrix<Working> S(n(), k());
      op.apply_adjoint(DenseMatrix<Working>(-R_working_), S);
      return S.template cast<Scalar>();
    }
  }

  /// Per column j of Y (n x k): max over the rows i of A of ‖Y_j restricted to row i's pattern‖.
  std::vector<double> pattern_row_max(const Block& Y) const { return pattern_max(Y, true); }
  /// Per column j of U (m x k): max over the columns l of A of ‖U_j restricted to column l's
  /// pattern‖.
  std::vector<double> pattern_col_max(const Block& U) const { return pattern_max(U, false); }

  /// Per column j of H (n x k): ‖ |A| |H_j| ‖.
  std::vector<double> abs_product_norms(const Block& H) const {
    std::vector<double> out;
    DenseMatrix<Real> P = DenseMatrix<Real>::Zero(m(), H.cols());
    for_each_entry(A_, [&](Eigen::Index, Eigen::Index i, Eigen::Index l, const Scalar& a) {
      for (Eigen::Index j = 0; j < H.cols(); ++j) P(i, j) += std::abs(a) * std::abs(H(l, j));
    });
    for (Eigen::Index j = 0; j < H.cols(); ++j) out.push_back(double(P.col(j).stableNorm()));
    return out;
  }

  /// ‖dL/dA‖_F over the stored entries.
  template <class Grads>
  static double gradient_norm(const Grads& g) {
    long double sum = 0;
    for_each_entry(g.A, [&](Eigen::Index, Eigen::Index, Eigen::Index, const Scalar& v) {
      const long double a = std::abs(v);
      sum += a * a;
    });
    return double(std::sqrt(sum));
  }

  /// dA on A's pattern, r = AX − B, and the gradients; refuses a gradient that overflows.
  auto assemble(AdjointTerms<Block, Real>&& t) const {
    // Rows of dB, r, X, H, W, V as contiguous columns, so each entry costs a few dot products
    // of length k. a.dot(b) = Σ conj(a)∘b, so Xt.col(j).dot(dBt.col(i)) = Σ_c dB_ic conj(X_jc).
    const Block dBt = t.dB.transpose(), Xt = X().transpose();
    Block rt, Ht, Wt, Vt;
    if (t.with_H)
      rt = (t.R.cols() == k() ? t.R : minus(apply(in_.X), in_.B)).transpose(), Ht = t.H.transpose();
    if (t.with_null_space) Wt = t.W.transpose(), Vt = t.V.transpose();
    auto gradA = gradient_on_pattern(A_, [&](Eigen::Index i, Eigen::Index j) -> Scalar {
      if (k() == 0) return Scalar(0);
      Scalar value = -Xt.col(j).dot(dBt.col(i));
      if (t.with_H) value -= Ht.col(j).dot(rt.col(i));
      if (t.with_null_space) value += Vt.col(j).dot(Wt.col(i));
      return value;
    });
    auto require_representable = [](const char* what, const Scalar& v, Eigen::Index i,
                                    Eigen::Index j) {
      if (!is_finite(v)) throw_unrepresentable(where, what, v, i, j);
    };
    for_each_entry(gradA, [&](Eigen::Index, Eigen::Index i, Eigen::Index j, const Scalar& v) {
      require_representable("dL/dA", v, i, j);
    });
    Block dB = t.dB.cols() == k() ? std::move(t.dB) : Block::Zero(m(), k());
    for (Eigen::Index j = 0; j < dB.cols(); ++j)
      for (Eigen::Index i = 0; i < dB.rows(); ++i) require_representable("dL/dB", dB(i, j), i, j);
    require_representable("dL/ddamp", Scalar(t.ddamp), 0, 0);
    LstsqGrads<decltype(gradA), Block, Real> g;
    g.A = std::move(gradA), g.B = std::move(dB), g.damp = t.ddamp;
    return g;
  }

 private:
  /// Per column j of Y, the largest norm of Y_j restricted to one row (by_row: over the entries
  /// (i, l) of row i, |Y(l, j)|) or one column of A's pattern. Summed in double on Y_j scaled by
  /// a power of two (exact) that brings max |Y_j| to [1, 2): no square overflows, and the group
  /// holding the largest entry does not underflow, so the maximum is that of the exact sums to
  /// rounding. Not finite when Y_j is not.
  std::vector<double> pattern_max(const Block& Y, bool by_row) const {
    const Eigen::Index groups = by_row ? m() : n();
    std::vector<double> out(static_cast<std::size_t>(Y.cols()), 0.0);
    std::vector<double> acc(static_cast<std::size_t>(groups));
    for (Eigen::Index j = 0; j < Y.cols(); ++j) {
      if (!Y.col(j).allFinite()) {
        out[static_cast<std::size_t>(j)] = std::numeric_limits<double>::infinity();
        continue;
      }
      const double top = Y.rows() > 0 ? double(Y.col(j).cwiseAbs().maxCoeff()) : 0.0;
      if (top == 0 || acc.empty()) continue;
      const double s = std::ldexp(1.0, -std::max(std::ilogb(top), -1000));
      std::fill(acc.begin(), acc.end(), 0.0);
      for_each_entry(A_, [&](Eigen::Index, Eigen::Index i, Eigen::Index l, const Scalar&) {
        const double v = double(std::abs(Y(by_row ? l : i, j))) * s;
        acc[static_cast<std::size_t>(by_row ? i : l)] += v * v;
      });
      const double largest = *std::max_element(acc.begin(), acc.end());
      out[static_cast<std::size_t>(j)] = std::sqrt(largest) / s;
    }
    return out;
  }

  using Working = working_scalar_t<Scalar>;
  void working_residual() {
    if (R_working_.size() > 0 || k() == 0) return;
    A_working_.emplace(widened_matrix(op_));
    const auto op = make_operator(*A_working_);
    R_working_.resize(m(), k());
    op.apply(DenseMatrix<Working>(in_.X.template cast<Working>()), R_working_);
    R_working_ -= in_.B.template cast<Working>();
  }

  /// What a solver is called on: this backend's operator when the solver takes operators (A was
  /// validated, and a COO A converted, once for the whole backward), else A itself.
  template <class Solver>
  const auto& input_for() const {
    if constexpr (traits_of<Solver>::solves_on_operators) {
      return op_;
    } else {
      return A_;
    }
  }

  const AType& A_;
  decltype(make_operator(std::declval<const AType&>())) op_;
  BackwardInputs<Scalar> in_;
  Block X_refined_;
  bool refined_ = false;
  std::optional<
      Eigen::SparseMatrix<Working, Eigen::RowMajor, typename matrix_traits<AType>::StorageIndex>>
      A_working_;
  DenseMatrix<Working> R_working_;
  Block probe_;
  std::optional<Real> norm_A_;
};

template <class AType, class BDerived, class XDerived, class dXDerived>
auto make_backend(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                  const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX) {
  return EigenAdjointBackend<AType>(A, check_backward_inputs(A, B, X, dX));
}

/// The engine's gradients with dL/dB in B's shape (a vector for a vector B).
template <class BDerived, class GradA, class Real>
auto shaped_like_B(LstsqGrads<GradA, DenseMatrix<typename BDerived::Scalar>, Real>&& g) {
  using GradB = solution_t<BDerived>;
  if constexpr (std::is_same<GradB, DenseMatrix<typename BDerived::Scalar>>::value) {
    return std::move(g);
  } else {
    LstsqGrads<GradA, GradB, Real> out;
    out.A = std::move(g.A), out.B = shape_like<GradB>(std::move(g.B)), out.damp = g.damp;
    out.error_A = g.error_A, out.error_B = g.error_B;
    out.diagnostics = std::move(g.diagnostics);
    return out;
  }
}

}  // namespace detail

/// Backward pass in the seed's two-solve form, for undamped problems: transpose_solver(A, G) =
/// (Aᴴ)⁺G and solver(A, G) = A⁺G. Tall or square A: dB = transpose_solver(A, dX), H = solver(A,
/// dB). Wide A: [dB, W] = transpose_solver(A, [dX, X]) and a rank probe solver(A, g). Throws
/// std::invalid_argument for a damped solver (options.damp != 0) and std::domain_error for a
/// rank-deficient A.
template <class AType, class BDerived, class XDerived, class dXDerived, class Solver,
          class TransposeSolver>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX,
                    Solver&& solver, TransposeSolver&& transpose_solver) {
  auto backend = detail::make_backend(A, B, X, dX);
  return detail::shaped_like_B<BDerived>(
      detail::AdjointEngine<decltype(backend)>(backend).run(solver, transpose_solver));
}

/// Backward pass with `solver`. A solver that offers solve_normal (Lsmr, the direct solvers)
/// gives every case with λ = solver.options.damp (0 when it has none): tall or square A with one
/// solve of (AᴴA + λ²I), wide A with one block solve of (AAᴴ + λ²I) on Aᴴ. Otherwise the
/// transposed solve of the same solver if it offers solve_adjoint, else the seed's two-functor
/// form with the default LSMR for the transposed solve (undamped only).
template <class AType, class BDerived, class XDerived, class dXDerived, class Solver>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX,
                    Solver&& solver) {
  auto backend = detail::make_backend(A, B, X, dX);
  return detail::shaped_like_B<BDerived>(
      detail::AdjointEngine<decltype(backend)>(backend).run(solver));
}

/// Backward pass with the default LSMR.
template <class AType, class BDerived, class XDerived, class dXDerived>
auto lstsq_backward(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                    const Eigen::MatrixBase<XDerived>& X, const Eigen::MatrixBase<dXDerived>& dX) {
  Lsmr<typename BDerived::Scalar> solver;
  return lstsq_backward(A, B, X, dX, solver);
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_ADJOINT_HPP
