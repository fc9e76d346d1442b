// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PYTHON_DIAGNOSTICS_HPP
#define SPARSEGRAD_PYTHON_DIAGNOSTICS_HPP

// What the solves of a Python call report, and its Python form, made in one place
// (diagnostics.cpp: to_python). To add a field: a member here and one line in to_python.

#include <pybind11/pybind11.h>

#include <optional>
#include <sparsegrad/sparsegrad.hpp>
#include <string>
#include <vector>

namespace sparsegrad_python {

namespace py = pybind11;

/// One solve: its role in the call, the solver, and what that solver reports.
struct SolveRecord {
  std::string role;    ///< "solve", "transposed solve" or "normal-equation solve"; "" unknown
  std::string solver;  ///< a solver name, or "callable"; "" unknown
  std::optional<sparsegrad::ConvergenceDiagnostics> iterative;  ///< LSMR, CRAIG
  std::optional<sparsegrad::FactorizationStats> factorization;  ///< the direct solvers
  std::optional<double> error_estimate;  ///< normal-equations solvers: estimated relative error
  /// The backward: estimated relative errors of dL/dA and dL/dB (LstsqGrads::error_A, error_B).
  std::optional<double> error_A, error_B;
};

/// The solves of a solver object so far, and the non-convergence messages not yet reported
/// (with on_failure="warn").
struct Report {
  std::vector<SolveRecord> solves;
  std::vector<std::string> failures;
};

/// A dict with one key per reported field: role, solver; istop, itn, normr, normar, norma,
/// conda, normx (lists, one entry per right-hand side) for an iterative solve; rank,
/// factor_nonzeros, factor_seconds, factorizations, condition_estimate, reused for a
/// factorization; error_estimate.
py::dict to_python(const SolveRecord& record);

}  // namespace sparsegrad_python

#endif  // SPARSEGRAD_PYTHON_DIAGNOSTICS_HPP
