// SPDX-License-Identifier: Apache-2.0
// sparsegrad._core: the module definition, its argument classes and its exceptions.
#include <stdexcept>

#include "diagnostics.hpp"
#include "options.hpp"
#include "solver.hpp"

namespace py = pybind11;
namespace sp = sparsegrad_python;
using namespace pybind11::literals;

PYBIND11_MODULE(_core, m) {
  m.doc() =
      "sparsegrad's C++ core on numpy buffers (internal: the public API is sparsegrad.lstsq, "
      "sparsegrad.lstsq_backward and sparsegrad.torch)";
  m.attr("__version__") = SPARSEGRAD_VERSION_STRING;
  m.attr("solvers") = py::tuple(py::cast(sp::solver_names()));

  py::class_<sp::MatrixArrays>(m, "Matrix", "A sparse matrix as its format, shape and arrays.")
      .def(py::init([](std::string format, Eigen::Index rows, Eigen::Index cols, py::array a0,
                       py::array a1, py::array values) {
             return sp::MatrixArrays{std::move(format), rows,          cols,
                                     std::move(a0),     std::move(a1), std::move(values)};
           }),
           "format"_a, "rows"_a, "cols"_a, "a0"_a, "a1"_a, "values"_a);

  // solver_error -> SolverError(RuntimeError); convergence_error -> ConvergenceError(SolverError)
  // with the per-column diagnostics attached; std::invalid_argument and std::domain_error ->
  // ValueError. Every message in Python terms (python_terms).
  static auto* solver_error =
      new py::exception<sparsegrad::solver_error>(m, "SolverError", PyExc_RuntimeError);
  static auto* convergence_error =
      new py::exception<sparsegrad::convergence_error>(m, "ConvergenceError", solver_error->ptr());
  solver_error->attr("__doc__") =
      "A solver failed, threw, or returned a result of the wrong shape or with non-finite values.";
  convergence_error->attr("__doc__") =
      "An iterative solve stopped without converging (iteration limit, condition limit) with "
      "on_failure='raise'. `diagnostics`: a dict of per-right-hand-side lists (istop, itn, normr, "
      "normar, norma, conda, normx).";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const sparsegrad::convergence_error& e) {
      py::object instance = py::handle(convergence_error->ptr())(sp::python_terms(e.what()));
      instance.attr("diagnostics") =
          sp::to_python(sp::SolveRecord{"", "", e.diagnostics(), {}, {}, {}, {}});
      PyErr_SetObject(convergence_error->ptr(), instance.ptr());
    } catch (const sparsegrad::solver_error& e) {
      PyErr_SetString(solver_error->ptr(), sp::python_terms(e.what()).c_str());
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, sp::python_terms(e.what()).c_str());
    } catch (const std::domain_error& e) {
      PyErr_SetString(PyExc_ValueError, sp::python_terms(e.what()).c_str());
    }
  });

  sp::bind_float32(m);
  sp::bind_float64(m);
  sp::bind_device(m);
}
