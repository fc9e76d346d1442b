// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_GRADCHECK_HPP
#define SPARSEGRAD_GRADCHECK_HPP

/// \file gradcheck.hpp
/// `sparsegrad::gradcheck`: compares `lstsq_backward` with central finite differences of the
/// loss L(A, B, λ) = Re Σ conj(dX) ∘ X(A, B, λ), X = lstsq(A, B, solver), on a sample of A's
/// stored entries, of B's entries and, for a damped solver, on λ (solver.options.damp).
///
/// A value v is moved by ±h with h = step·max(1, |v|); (L(v + h) − L(v − h)) / (2h) is the
/// derivative along the real axis, and for complex data (L(v + ih) − L(v − ih)) / (2h) the one
/// along the imaginary axis; g.A, g.B are compared with their sum numeric_re + i·numeric_im
/// (PyTorch's convention, see lstsq.hpp). The truncation error is O(h²) and the rounding error
/// O(ε_solve·|L|/h), where ε_solve is the relative accuracy of the forward solves: use a tight
/// solver (atol = btol ≈ 1e-14 in double) for errors near 1e-9, and double precision.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/checks.hpp"
#include "lstsq.hpp"
#include "matrix.hpp"
#include "solvers/lsmr.hpp"

namespace sparsegrad {

/// What `gradcheck` checks and how.
struct GradcheckOptions {
  /// Stored entries of A to check, as indices in A's entry order (the order of g.A's values:
  /// COO array order, or storage order of a SparseMatrix). Empty: a sample of `max_entries`.
  std::vector<Eigen::Index> a_entries;
  /// Entries (i, j) of B to check (j = 0 for a vector B). Empty: a sample of `max_entries`.
  std::vector<std::pair<Eigen::Index, Eigen::Index>> b_entries;
  /// Size of each sample drawn when a list above is empty (all entries when there are fewer).
  Eigen::Index max_entries = 20;
  /// Seed of the sample.
  unsigned seed = 0;
  /// Relative step; 0 means ε^(1/3) of the real type (≈ 6e-6 in double).
  double step = 0;
  /// Also check dL/dλ when the solver has options.damp > 0.
  bool check_damp = true;
};

/// One checked value.
struct GradcheckEntry {
  std::string where;              ///< "A entry e (i, j)", "B(i, j)" or "damp"
  std::complex<double> analytic;  ///< from lstsq_backward
  std::complex<double> numeric;   ///< central finite differences
  double abs_error = 0;           ///< |analytic − numeric|
  double rel_error = 0;           ///< abs_error / max(|analytic|, |numeric|), 0 when both are 0
};

/// Result of `gradcheck`: the worst errors and where they occurred, plus every entry checked.
struct GradcheckResult {
  double max_abs_error = 0;   ///< largest |analytic − numeric|
  std::string max_abs_where;  ///< where it occurred
  double max_rel_error = 0;   ///< largest abs_error / max(|analytic|, |numeric|)
  std::string max_rel_where;  ///< where it occurred
  double max_numeric = 0;     ///< largest |numeric| (the scale of the checked gradient)
  std::vector<GradcheckEntry> entries;

  /// max_abs_error relative to the scale of the gradient: max |analytic − numeric| / max |numeric|.
  double scaled_error() const {
    return max_numeric > 0 ? max_abs_error / max_numeric : max_abs_error;
  }

  /// True when every entry has |analytic − numeric| <= atol + rtol·|numeric| (torch.autograd's
  /// gradcheck rule).
  bool passed(double atol, double rtol) const {
    return std::all_of(entries.begin(), entries.end(), [&](const GradcheckEntry& e) {
      return e.abs_error <= atol + rtol * std::abs(e.numeric);
    });
  }
};

namespace detail {

template <class Scalar>
std::complex<double> to_complex(const Scalar& v) {
  return {double(Eigen::numext::real(v)), double(Eigen::numext::imag(v))};
}

/// Stored values of an owning copy of A, in the order of g.A's values.
template <class Scalar, class StorageIndex>
Scalar* stored_values(CooMatrix<Scalar, StorageIndex>& A) {
  return A.values.data();
}
template <class Scalar, int Options, class StorageIndex>
Scalar* stored_values(Eigen::SparseMatrix<Scalar, Options, StorageIndex>& A) {
  return A.valuePtr();  // compressed: entry e is value e
}

/// `count` indices out of [0, size), all of them when size <= count, sorted.
inline std::vector<Eigen::Index> sample_indices(Eigen::Index size, Eigen::Index count,
                                                unsigned seed) {
  std::vector<Eigen::Index> all(static_cast<std::size_t>(size));
  std::iota(all.begin(), all.end(), Eigen::Index(0));
  if (size > count) {
    std::mt19937 rng(seed);
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(static_cast<std::size_t>(count));
    std::sort(all.begin(), all.end());
  }
  return all;
}

/// Restores a solver's options.damp when it goes out of scope.
template <class Solver, class Real>
struct DampGuard {
  Solver& solver;
  Real saved;
  ~DampGuard() { solver.options.damp = saved; }
};

}  // namespace detail

/// Checks `lstsq_backward(A, B, X, dX, solver)` against central finite differences of
/// L = Re Σ conj(dX) ∘ X with X = lstsq(A, B, solver) (see the file comment). The solver is used
/// for every forward solve; its options.damp is moved and restored when λ is checked. Inputs are
/// not modified. Throws what lstsq and lstsq_backward throw, and std::invalid_argument for an
/// entry index out of range.
template <class AType, class BDerived, class dXDerived, class Solver,
          class = std::enable_if_t<!std::is_same<std::decay_t<Solver>, GradcheckOptions>::value>>
GradcheckResult gradcheck(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                          const Eigen::MatrixBase<dXDerived>& dX, Solver& solver,
                          const GradcheckOptions& options = {}) {
  SPARSEGRAD_STATIC_ASSERT_SUPPORTED_MATRIX(AType);
  using Scalar = typename BDerived::Scalar;
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  using Matrix = detail::DenseMatrix<Scalar>;
  constexpr const char* where = "gradcheck";
  constexpr bool is_complex = Eigen::NumTraits<Scalar>::IsComplex;

  const Matrix Bd = B, dXd = dX;
  const auto X = lstsq(A, Bd, solver);
  if (X.rows() != dXd.rows() || X.cols() != dXd.cols())
    detail::throw_invalid(where, "dX", detail::shape_string(X.rows(), X.cols()),
                          detail::shape_string(dXd.rows(), dXd.cols()));
  auto g = lstsq_backward(A, Bd, X, dXd, solver);

  auto loss = [&](const auto& Ap, const Matrix& Bp) -> double {
    const Matrix Xp = lstsq(Ap, Bp, solver);
    return double(Eigen::numext::real(dXd.cwiseProduct(Xp.conjugate()).sum()));
  };
  const double step =
      options.step > 0 ? options.step : std::cbrt(double(std::numeric_limits<Real>::epsilon()));
  GradcheckResult result;
  auto record = [&](std::string at, const Scalar& analytic, std::complex<double> numeric) {
    GradcheckEntry e{std::move(at), detail::to_complex(analytic), numeric, 0, 0};
    e.abs_error = std::abs(e.analytic - e.numeric);
    const double scale = std::max(std::abs(e.analytic), std::abs(e.numeric));
    e.rel_error = scale > 0 ? e.abs_error / scale : 0;
    result.max_numeric = std::max(result.max_numeric, std::abs(e.numeric));
    if (e.abs_error > result.max_abs_error || result.entries.empty())
      result.max_abs_error = e.abs_error, result.max_abs_where = e.where;
    if (e.rel_error > result.max_rel_error || result.entries.empty())
      result.max_rel_error = e.rel_error, result.max_rel_where = e.where;
    result.entries.push_back(std::move(e));
  };
  // Central difference of f along direction `unit` (1 or i) at value v, divided by the steps
  // actually taken (v ± h rounds in Scalar's precision).
  auto central = [&](Scalar& v, Scalar unit, auto&& f) {
    const Scalar saved = v;
    const double h = step * std::max(1.0, std::abs(detail::to_complex(saved)));
    auto along = [&](const Scalar& d) {
      const std::complex<double> z = detail::to_complex(d) * std::conj(detail::to_complex(unit));
      return z.real();
    };
    v = saved + Scalar(Real(h)) * unit;
    const double up = along(v - saved), plus = f();
    v = saved - Scalar(Real(h)) * unit;
    const double down = along(saved - v), minus = f();
    v = saved;
    return (plus - minus) / (up + down);
  };
  auto both_axes = [&](Scalar& v, auto&& f) {
    std::complex<double> d(central(v, Scalar(1), f), 0);
    if constexpr (is_complex) d.imag(central(v, Scalar(Real(0), Real(1)), f));
    return d;
  };

  // A: an owning copy (g.A's type and entry order) carrying A's values.
  typename detail::matrix_traits<AType>::Gradient Ap = g.A;
  Scalar* avalues = detail::stored_values(Ap);
  const Scalar* gvalues = detail::stored_values(g.A);
  const Eigen::Index nnz = detail::stored_entries(A);
  std::vector<std::pair<Eigen::Index, Eigen::Index>> where_of(static_cast<std::size_t>(nnz));
  detail::for_each_entry(A, [&](Eigen::Index e, Eigen::Index i, Eigen::Index j, const Scalar& v) {
    where_of[static_cast<std::size_t>(e)] = {i, j};
    avalues[e] = v;
  });
  const auto a_list = options.a_entries.empty()
                          ? detail::sample_indices(nnz, options.max_entries, options.seed)
                          : options.a_entries;
  for (Eigen::Index e : a_list) {
    if (e < 0 || e >= nnz)
      detail::throw_invalid(where, "options.a_entries", detail::concat("indices in [0, ", nnz, ")"),
                            detail::concat(e));
    const auto d = both_axes(avalues[e], [&]() { return loss(Ap, Bd); });
    const auto [i, j] = where_of[static_cast<std::size_t>(e)];
    record(detail::concat("A entry ", e, " (", i, ", ", j, ")"), gvalues[e], d);
  }

  // B.
  std::vector<std::pair<Eigen::Index, Eigen::Index>> b_list = options.b_entries;
  if (b_list.empty())
    for (Eigen::Index flat :
         detail::sample_indices(Bd.size(), options.max_entries, options.seed + 1))
      b_list.emplace_back(flat % Bd.rows(), flat / Bd.rows());
  Matrix Bp = Bd;
  const Matrix gB = g.B;
  for (auto [i, j] : b_list) {
    if (i < 0 || i >= Bd.rows() || j < 0 || j >= Bd.cols())
      detail::throw_invalid(
          where, "options.b_entries",
          detail::concat("entries of a ", detail::shape_string(Bd.rows(), Bd.cols()), " B"),
          detail::concat("(", i, ", ", j, ")"));
    const auto d = both_axes(Bp(i, j), [&]() { return loss(A, Bp); });
    record(detail::concat("B(", i, ", ", j, ")"), gB(i, j), d);
  }

  // λ.
  if constexpr (detail::detect_options_damp<std::decay_t<Solver>>::value) {
    if (options.check_damp && solver.options.damp > 0) {
      detail::DampGuard<Solver, decltype(solver.options.damp)> guard{solver, solver.options.damp};
      const double lambda = double(guard.saved);
      const double h = step * std::max(1.0, lambda);
      solver.options.damp = decltype(guard.saved)(lambda + h);
      const double plus = loss(A, Bd);
      solver.options.damp = decltype(guard.saved)(lambda - h);
      const double minus = loss(A, Bd);
      record("damp", Scalar(g.damp), {(plus - minus) / (2 * h), 0});
    }
  }
  return result;
}

/// gradcheck with LSMR at tight tolerances (atol = btol = 100ε, conlim 1/ε, maxiter 100·n).
template <class AType, class BDerived, class dXDerived>
GradcheckResult gradcheck(const AType& A, const Eigen::MatrixBase<BDerived>& B,
                          const Eigen::MatrixBase<dXDerived>& dX,
                          const GradcheckOptions& options = {}) {
  using Scalar = typename BDerived::Scalar;
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  LsmrOptions<Scalar> opt;
  opt.atol = opt.btol = 100 * std::numeric_limits<Real>::epsilon();
  opt.conlim = 1 / std::numeric_limits<Real>::epsilon();
  opt.maxiter = 100 * std::max<Eigen::Index>(1, detail::cols_of(A));
  Lsmr<Scalar> solver(opt);
  return gradcheck(A, B, dX, solver, options);
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_GRADCHECK_HPP
