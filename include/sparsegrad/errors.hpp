// sparsegrad — differentiable sparse least squares on Eigen.
// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_ERRORS_HPP
#define SPARSEGRAD_ERRORS_HPP

/// \file errors.hpp
/// Exception classes. Bad arguments throw the standard `std::invalid_argument`, mathematically
/// unsupported inputs (wide or rank-deficient A where a tall full-rank A is needed) throw
/// `std::domain_error`; failures inside a solver throw the two classes below.

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sparsegrad {

/// A solver functor threw, or returned a result of the wrong shape or with non-finite values.
class solver_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Per right-hand-side diagnostics of an iterative solve, indexed by column j of B.
/// Same fields as `LsmrResult`, as plain doubles so that the exception is not a template.
struct ConvergenceDiagnostics {
  std::vector<int> istop;      ///< scipy's stop code 0–7 (see `LsmrStop`)
  std::vector<int> itn;        ///< iterations done
  std::vector<double> normr;   ///< estimate of ‖b − Ax‖ (damped: ‖[b; 0] − [A; λI]x‖)
  std::vector<double> normar;  ///< estimate of ‖Aᵀ(b − Ax) − λ²x‖
  std::vector<double> norma;   ///< estimate of the Frobenius norm of [A; λI]
  std::vector<double> conda;   ///< estimate of cond([A; λI])
  std::vector<double> normx;   ///< ‖x‖
};

/// An iterative solver stopped without converging (iteration limit, condition limit, or a
/// stop requested by a callback) while told to throw. Carries the diagnostics of every column.
class convergence_error : public solver_error {
 public:
  convergence_error(const std::string& what, ConvergenceDiagnostics diagnostics)
      : solver_error(what), diagnostics_(std::move(diagnostics)) {}

  /// Diagnostics of the failed solve, one entry per right-hand side.
  const ConvergenceDiagnostics& diagnostics() const noexcept { return diagnostics_; }

 private:
  ConvergenceDiagnostics diagnostics_;
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_ERRORS_HPP
