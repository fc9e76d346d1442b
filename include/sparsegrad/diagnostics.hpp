// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_DIAGNOSTICS_HPP
#define SPARSEGRAD_DIAGNOSTICS_HPP

/// \file diagnostics.hpp
/// What an iterative solve reports per right-hand side: the stop code and the estimates.

#include <Eigen/Core>
#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "detail/checks.hpp"
#include "errors.hpp"

namespace sparsegrad {

/// Stop codes, equal to scipy's `istop`.
enum class LsmrStop : int {
  zero_solution = 0,  ///< x = 0 (or x0) is the exact solution: b = 0 or Aᴴb = 0
  compatible = 1,  ///< Ax = b solved to within atol, btol (‖r‖ ≤ btol‖b‖ + atol‖A‖‖x‖)
  least_squares = 2,  ///< least-squares solution to within atol (‖Aᴴr‖ ≤ atol‖A‖‖r‖)
  condition_limit = 3,    ///< cond(A) estimate exceeded conlim: failure
  compatible_eps = 4,     ///< as 1, with atol = btol = machine precision
  least_squares_eps = 5,  ///< as 2, with atol = machine precision
  condition_eps = 6,      ///< cond(A) estimate exceeded 1/eps: failure
  iteration_limit = 7,    ///< maxiter iterations done: failure
  callback_stop = 8       ///< options.callback returned false (not a scipy code): failure
};

/// True for the stop codes that mean failure (3, 6, 7, 8).
inline bool lsmr_failed(int istop) {
  return istop == 3 || istop == 6 || istop == 7 || istop == 8;
}

/// What an istop code means, for messages.
inline const char* lsmr_stop_reason(int istop) {
  switch (istop) {
    case 0:
      return "x = 0 is the exact solution";
    case 1:
      return "Ax - b is small enough (compatible system)";
    case 2:
      return "the least-squares problem is solved to within atol";
    case 3:
      return "the condition estimate exceeded conlim";
    case 4:
      return "Ax - b is small to machine precision";
    case 5:
      return "the least-squares problem is solved to machine precision";
    case 6:
      return "the condition estimate exceeded 1/eps";
    case 7:
      return "the iteration limit maxiter was reached";
    case 8:
      return "options.callback asked to stop";
    default:
      return "unknown stop code";
  }
}

/// Diagnostics of an LSMR run, one entry per right-hand side j.
template <class RealScalar>
struct LsmrStats {
  std::vector<int> istop;         ///< stop code, see LsmrStop
  std::vector<int> itn;           ///< iterations done
  std::vector<RealScalar> normr;  ///< estimate of ‖b − Ax‖ (damped: of ‖[b; 0] − [A; λI]x‖)
  std::vector<RealScalar> normar;  ///< estimate of ‖Aᴴ(b − Ax) − λ²x‖
  std::vector<RealScalar> norma;   ///< estimate of ‖[A; λI]‖_F
  std::vector<RealScalar> conda;   ///< estimate of cond([A; λI])
  std::vector<RealScalar> normx;   ///< ‖x‖

  void resize(std::size_t k) {
    istop.assign(k, 0);
    itn.assign(k, 0);
    for (auto* v : {&normr, &normar, &norma, &conda, &normx}) v->assign(k, RealScalar(0));
  }

  /// True when no column failed (no istop 3, 6 or 7).
  bool converged() const {
    return std::none_of(istop.begin(), istop.end(), [](int s) { return lsmr_failed(s); });
  }

  /// The same fields as doubles, as carried by convergence_error.
  ConvergenceDiagnostics diagnostics() const {
    auto to_double = [](const std::vector<RealScalar>& v) {
      return std::vector<double>(v.begin(), v.end());
    };
    return {istop,
            itn,
            to_double(normr),
            to_double(normar),
            to_double(norma),
            to_double(conda),
            to_double(normx)};
  }

  /// One line per failed column, for messages.
  std::string failure_summary() const {
    std::string out;
    std::size_t failed = 0;
    for (std::size_t j = 0; j < istop.size(); ++j) {
      if (!lsmr_failed(istop[j])) continue;
      ++failed;
      out += detail::concat("\n  column ", j, ": istop ", istop[j], " (",
                            lsmr_stop_reason(istop[j]), ") after ", itn[j], " iterations, normr ",
                            normr[j], ", normar ", normar[j], ", conda ", conda[j]);
    }
    return detail::concat(failed, " of ", istop.size(), " right-hand sides failed:", out);
  }
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_DIAGNOSTICS_HPP
