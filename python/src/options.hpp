// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PYTHON_OPTIONS_HPP
#define SPARSEGRAD_PYTHON_OPTIONS_HPP

// The options of a Python call, read from its keyword arguments in one place (options.cpp:
// options_from_python), and their C++ form (lsmr_options below). To add an option: a field
// here, one line in options.cpp's table (and in its table of C++ names when a library message
// names it), and its use in lsmr_options (or in the solver it applies to).

#include <pybind11/pybind11.h>

#include <Eigen/Core>
#include <memory>
#include <optional>
#include <sparsegrad/sparsegrad.hpp>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace sparsegrad_python {

namespace py = pybind11;

/// What a solve does when an iterative solver stops without converging.
enum class OnFailure { raise, warn };

/// Everything a Python call can set; the defaults are the documented ones of the Python API.
struct Options {
  std::string solver = "lsmr";  ///< a name of solver_names()
  double atol = 1e-6, btol = 1e-6, conlim = 1e8, damp = 0;
  std::optional<Eigen::Index> maxiter;  ///< unset: the library's default limit
  py::object x0 = py::none();           ///< (n,) or (n, k) initial guess of the forward solve
  std::optional<bool> column_scaling;   ///< unset: automatic (LsmrOptions::column_scaling)
  std::optional<double> error_tolerance, gradient_tolerance;  ///< unset: the library's
  bool scipy_compatible = false;                              ///< LsmrOptions::scipy_compatible
  py::object preconditioner = py::none();                     ///< (n,) array d: M = diag(d)
  OnFailure on_failure = OnFailure::raise;
};

/// Reads the keyword arguments of a Python call (a dict; a value of None means the default).
/// Throws TypeError for an unknown name or a value of the wrong type, ValueError for an option
/// that does not apply to the chosen solver. Ranges are checked by the library at solve time.
Options options_from_python(const py::dict& kwargs);

/// The names accepted as solver= in this build (the SuiteSparse ones when it was built with it).
std::vector<std::string> solver_names();

/// A library message in Python terms: C++ option names (options.maxiter, options.throw_on_failure
/// = false, ...) become the keyword arguments that set them.
std::string python_terms(std::string message);

/// LSMR's options for the call.
template <class Scalar>
sparsegrad::LsmrOptions<Scalar> lsmr_options(const Options& o) {
  using Real = typename sparsegrad::LsmrOptions<Scalar>::RealScalar;
  sparsegrad::LsmrOptions<Scalar> opt;
  if (o.scipy_compatible) opt = sparsegrad::LsmrOptions<Scalar>::scipy();
  if (o.error_tolerance) opt.error_tolerance = Real(*o.error_tolerance);
  if (o.gradient_tolerance) opt.gradient_tolerance = Real(*o.gradient_tolerance);
  opt.atol = Real(o.atol);
  opt.btol = Real(o.btol);
  opt.conlim = Real(o.conlim);
  opt.damp = Real(o.damp);
  opt.maxiter = o.maxiter;
  opt.throw_on_failure = o.on_failure == OnFailure::raise;
  opt.column_scaling = o.column_scaling;
  if (!o.x0.is_none()) opt.x0 = columns_arg<Scalar>("lstsq", "x0", o.x0);
  if (!o.preconditioner.is_none()) {
    const Dense<Scalar> d = columns_arg<Scalar>("lstsq", "preconditioner", o.preconditioner);
    if (d.cols() != 1)
      bad("lstsq", "preconditioner", "a 1-D array d (M = diag(d))",
          sparsegrad::detail::concat("an array of shape (", d.rows(), ", ", d.cols(), ")"));
    opt.preconditioner = std::make_shared<sparsegrad::DiagonalPreconditioner<Scalar>>(d.col(0));
  }
  return opt;
}

}  // namespace sparsegrad_python

#endif  // SPARSEGRAD_PYTHON_OPTIONS_HPP
