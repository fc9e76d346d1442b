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

#include "diagnostics.hpp"

namespace sparsegrad {

/// A solver functor threw, or returned a result of the wrong shape or with non-finite values.
class solver_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An iterative solver stopped without converging (iteration limit, condition limit, or a
/// stop requested by a callback) while told to throw. Carries the diagnostics of every column.
class convergence_error : public solver_error {
 public:
  convergence_error(const std::string& what, Diagnostics diagnostics)
      : solver_error(what), diagnostics_(std::move(diagnostics)) {}

  /// Diagnostics of the failed solve, one entry per right-hand side.
  const Diagnostics& diagnostics() const noexcept { return diagnostics_; }

 private:
  Diagnostics diagnostics_;
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_ERRORS_HPP
