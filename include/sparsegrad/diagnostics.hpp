// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_DIAGNOSTICS_HPP
#define SPARSEGRAD_DIAGNOSTICS_HPP

/// \file diagnostics.hpp
/// What a solve reports, per right-hand side: one stop code (`Stop`) and one diagnostics type
/// (`Diagnostics`) filled by every solver of the library (LSMR, CRAIG, the direct solvers,
/// EigenLSCG, PETSc's KSPLSQR) and carried by `convergence_error`.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace sparsegrad {

/// Why a solve of one right-hand side stopped. Codes 0–7 are scipy.sparse.linalg.lsmr's
/// `istop`, with the same meanings; 8–10 are sparsegrad's own.
enum class Stop : int {
  zero_solution = 0,  ///< x = 0 (or x0) is the exact solution: b = 0 or Aᴴb = 0
  compatible = 1,  ///< Ax = b solved to within atol, btol (‖r‖ ≤ btol‖b‖ + atol‖A‖‖x‖)
  least_squares = 2,  ///< least-squares solution to within atol (‖Aᴴr‖ ≤ atol‖A‖‖r‖)
  condition_limit = 3,    ///< cond(A) estimate exceeded conlim: failure
  compatible_eps = 4,     ///< as 1, with atol = btol = machine precision
  least_squares_eps = 5,  ///< as 2, with atol = machine precision
  condition_eps = 6,      ///< cond(A) estimate exceeded 1/eps: failure
  iteration_limit = 7,    ///< maxiter iterations done: failure
  callback_stop = 8,      ///< options.callback returned false: failure
  rank_deficient = 9,     ///< A is (numerically) rank-deficient where full rank is needed: failure
  inaccurate = 10,        ///< the estimated error exceeds the tolerance asked for: failure
  direct = 11             ///< solved by a factorization (no iterations)
};

/// The name used before version 0.2.
using LsmrStop = Stop;

/// What the backward does for an undamped A that is rank-deficient (LsmrOptions::rank_deficient).
enum class RankDeficient {
  refuse,         ///< std::domain_error: the least-squares gradient does not exist (the default)
  pseudo_inverse  ///< the gradient of X = A⁺B along perturbations that keep the rank
};

/// True for the codes that mean failure: 3, 6, 7, 8, 9, 10.
inline bool failed(Stop stop) {
  switch (stop) {
    case Stop::condition_limit:
    case Stop::condition_eps:
    case Stop::iteration_limit:
    case Stop::callback_stop:
    case Stop::rank_deficient:
    case Stop::inaccurate:
      return true;
    default:
      return false;
  }
}

/// What a stop code means, for messages.
inline const char* stop_reason(Stop stop) {
  switch (stop) {
    case Stop::zero_solution:
      return "x = 0 is the exact solution";
    case Stop::compatible:
      return "Ax - b is small enough (compatible system)";
    case Stop::least_squares:
      return "the least-squares problem is solved to within atol";
    case Stop::condition_limit:
      return "the condition estimate exceeded conlim";
    case Stop::compatible_eps:
      return "Ax - b is small to machine precision";
    case Stop::least_squares_eps:
      return "the least-squares problem is solved to machine precision";
    case Stop::condition_eps:
      return "the condition estimate exceeded 1/eps";
    case Stop::iteration_limit:
      return "the iteration limit maxiter was reached";
    case Stop::callback_stop:
      return "options.callback asked to stop";
    case Stop::rank_deficient:
      return "A is rank-deficient (numerically) where full rank is needed";
    case Stop::inaccurate:
      return "the estimated error exceeds the tolerance";
    case Stop::direct:
      return "solved by a factorization";
  }
  return "unknown stop code";
}

/// The names used before version 0.2, on int codes.
inline bool lsmr_failed(int istop) {
  return failed(Stop(istop));
}
inline const char* lsmr_stop_reason(int istop) {
  return istop >= 0 && istop <= 11 ? stop_reason(Stop(istop)) : "unknown stop code";
}

/// Diagnostics of a solve, one entry per right-hand side j (column j of B). Values are doubles
/// whatever the scalar type, so that one type serves every solver and `convergence_error`.
struct Diagnostics {
  std::vector<int> istop;  ///< stop code (see Stop); scipy's istop for LSMR
  std::vector<int> itn;    ///< iterations done (0 for a direct solve)
  std::vector<double> normr;  ///< ‖b − Ax‖ (damped: ‖[b; 0] − [A; λI]x‖), estimated or exact
  std::vector<double> normar;  ///< ‖Aᴴ(b − Ax) − λ²x‖, estimated or exact
  std::vector<double> norma;   ///< estimate of ‖[A; λI]‖ (Frobenius-type, as scipy's)
  std::vector<double> conda;   ///< estimate of cond([A; λI]); NaN where the solver has none
  std::vector<double> normx;   ///< ‖x‖
  /// Estimated relative error ‖x − x*‖/‖x‖ of column j (x*: the exact solution); NaN where
  /// the solver makes none. For the backward's solve_normal, the error of H = (AᴴA + λ²I)⁻¹G.
  std::vector<double> error;
  /// solve_normal only: estimated relative error of A·H (= dB); NaN elsewhere.
  std::vector<double> error_image;
  /// Estimates of the extreme singular values of the (column-scaled, damped) operator the
  /// Krylov solver ran on, from the Golub–Kahan bidiagonal (krylov/bidiagonal.hpp): sigma_min
  /// is an upper bound on the true smallest one that decreases to it as the solver explores;
  /// NaN where the solver has none.
  std::vector<double> sigma_min, sigma_max;

  std::size_t size() const { return istop.size(); }

  /// k entries with stop code 0 and zero norms (error: NaN).
  void resize(std::size_t k) {
    istop.assign(k, 0);
    itn.assign(k, 0);
    for (auto* v : {&normr, &normar, &norma, &conda, &normx}) v->assign(k, 0.0);
    for (auto* v : {&error, &error_image, &sigma_min, &sigma_max})
      v->assign(k, std::numeric_limits<double>::quiet_NaN());
  }

  /// The stop code of column j.
  Stop stop(std::size_t j) const { return Stop(istop.at(j)); }

  /// True when no column failed (see failed()).
  bool converged() const {
    return std::none_of(istop.begin(), istop.end(), [](int s) { return failed(Stop(s)); });
  }

  /// The same object (the accessor of version 0.1's LsmrStats).
  const Diagnostics& diagnostics() const { return *this; }

  /// One line per failed column, for messages.
  std::string failure_summary() const {
    std::ostringstream out;
    out.precision(3);
    std::size_t count = 0;
    for (std::size_t j = 0; j < size(); ++j) {
      if (!failed(stop(j))) continue;
      ++count;
      out << "\n  column " << j << ": istop " << istop[j] << " (" << stop_reason(stop(j))
          << ") after " << itn[j] << " iterations, normr " << normr[j] << ", normar " << normar[j]
          << ", cond estimate " << conda[j];
      if (j < error.size() && !std::isnan(error[j]))
        out << ", estimated relative error " << error[j];
    }
    std::ostringstream head;
    head << count << " of " << size() << " right-hand sides failed:";
    return head.str() + out.str();
  }
};

/// The names used before version 0.2.
template <class RealScalar>
using LsmrStats = Diagnostics;
using ConvergenceDiagnostics = Diagnostics;

}  // namespace sparsegrad

#endif  // SPARSEGRAD_DIAGNOSTICS_HPP
