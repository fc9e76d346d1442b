// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_KRYLOV_BIDIAGONAL_HPP
#define SPARSEGRAD_KRYLOV_BIDIAGONAL_HPP

/// \file krylov/bidiagonal.hpp
/// Scalar machinery of the Golub–Kahan bidiagonalization shared by LSMR and CRAIG: the stable
/// Givens rotation, and the extreme singular values of the small bidiagonal matrix that the
/// process builds, which estimate those of A.
///
/// Why the bidiagonal's singular values: after k steps, A V_k = U_{k+1} B_k with orthonormal
/// U, V, so B_kᵀB_k = V_kᵀ(AᵀA)V_k is the Rayleigh–Ritz compression of AᵀA onto the Krylov
/// space. Its eigenvalues (the squared singular values of B_k, or of any R_k = Qᵀ B_k) lie in
/// [σ_min(A)², σ_max(A)²] and move outwards as k grows (Cauchy interlacing), so σ_min(B_k) is
/// an upper bound on σ_min(A) that decreases to it, and σ_max(B_k) a lower bound on σ_max(A).
/// In floating point the bounds hold up to O(ε‖A‖²) in the squares (Paige, "Accuracy and
/// effectiveness of the Lanczos algorithm for the symmetric eigenproblem", Linear Algebra
/// Appl. 34, 1980). Unlike LSMR's `conda` (max ρ̄ / min ρ̄, which can stay near 1 on a matrix of
/// condition 1e4), σ_max(B_k)/σ_min(B_k) is the condition number of the explored space itself.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace sparsegrad {
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

/// The smallest and largest singular value of a k x k bidiagonal matrix.
struct ExtremeSingularValues {
  double min = 0, max = 0;
};

/// Singular values of the k x k bidiagonal matrix with diagonal `d` (k entries) and off-diagonal
/// `e` (k − 1 entries; upper or lower gives the same values), to a relative accuracy of about
/// `relative_accuracy`, by bisection with Sturm counts on the 2k x 2k Golub–Kahan matrix
/// [0 Bᵀ; B 0] permuted to tridiagonal form (zero diagonal, off-diagonal d_1, e_1, d_2, …, d_k),
/// whose eigenvalues are ±σ_i. O(k) per bisection step, no workspace. The count of negative
/// pivots of T − xI is the number of eigenvalues below x (Sylvester's law of inertia), i.e.
/// k + #{σ_i < x} for x > 0 (Demmel & Kahan, SIAM J. Sci. Stat. Comput. 11(5), 1990, show that
/// this recurrence on a bidiagonal is accurate in the relative sense). A σ below
/// `max·floor_ratio` is reported as that bound (the caller treats it as zero).
template <class Real>
ExtremeSingularValues bidiagonal_extreme_singular_values(const std::vector<Real>& d,
                                                         const std::vector<Real>& e,
                                                         double relative_accuracy = 1e-3,
                                                         double floor_ratio = 1e-30) {
  ExtremeSingularValues out;
  const std::size_t k = d.size();
  if (k == 0) return out;
  // Scale by an upper bound on σ_max (the largest row sum of |B|) so that the squares neither
  // overflow nor underflow for entries in the normal range.
  double bound = 0;
  for (std::size_t i = 0; i < k; ++i)
    bound = std::max(bound, std::abs(double(d[i])) + (i + 1 < k ? std::abs(double(e[i])) : 0.0));
  if (!(bound > 0)) return out;                // the zero matrix
  auto below = [&](double x) -> std::size_t {  // #{σ_i < x·bound}
    std::size_t negative = 0;
    double q = -x;
    const double tiny = std::numeric_limits<double>::min();
    if (q < 0) ++negative;
    for (std::size_t i = 1; i < 2 * k; ++i) {
      const double t = (i % 2 == 1 ? double(d[i / 2]) : double(e[i / 2 - 1])) / bound;
      if (q == 0) q = -tiny;  // a zero pivot: step past it (standard practice in xSTEBZ)
      q = -x - t * t / q;
      if (q < 0) ++negative;
    }
    return negative >= k ? negative - k : 0;
  };
  // Geometric bisection on [floor_ratio, 1] (relative to the bound): the count is monotone.
  const double step = std::log1p(relative_accuracy);
  auto bisect = [&](std::size_t target) {  // smallest x with below(x) >= target
    double lo = floor_ratio, hi = 1.0 + 1e-12;
    if (below(lo) >= target) return lo;
    while (std::log(hi / lo) > step) {
      const double mid = std::sqrt(lo * hi);
      (below(mid) >= target ? hi : lo) = mid;
    }
    return std::sqrt(lo * hi);
  };
  out.min = bisect(1) * bound;
  out.max = bisect(k) * bound;
  return out;
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_KRYLOV_BIDIAGONAL_HPP
