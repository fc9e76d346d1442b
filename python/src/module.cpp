// SPDX-License-Identifier: Apache-2.0
// sparsegrad._core: the module definition, its argument classes and its exceptions.
#include "bindings.hpp"

namespace py = pybind11;
namespace sp = sparsegrad_python;
using namespace pybind11::literals;

PYBIND11_MODULE(_core, m) {
  m.doc() = "sparsegrad's C++ core on numpy buffers (see sparsegrad.lstsq for the public API)";

  py::class_<sp::MatrixArrays>(m, "Matrix")
      .def(py::init([](std::string format, Eigen::Index rows, Eigen::Index cols, py::array a0,
                       py::array a1, py::array values) {
             return sp::MatrixArrays{std::move(format), rows,          cols,
                                     std::move(a0),     std::move(a1), std::move(values)};
           }),
           "format"_a, "rows"_a, "cols"_a, "a0"_a, "a1"_a, "values"_a);

  py::class_<sp::Options>(m, "Options")
      .def(py::init([](double atol, double btol, double conlim, std::optional<Eigen::Index> maxiter,
                       bool raise_on_failure) {
             return sp::Options{atol, btol, conlim, maxiter, raise_on_failure};
           }),
           py::kw_only(), "atol"_a = 1e-6, "btol"_a = 1e-6, "conlim"_a = 1e8,
           "maxiter"_a = py::none(), "raise_on_failure"_a = true);

  // solver_error -> SolverError(RuntimeError); convergence_error -> ConvergenceError(SolverError)
  // with the per-column diagnostics attached. std::invalid_argument and std::domain_error
  // become ValueError (pybind11's default translation).
  static auto* solver_error =
      new py::exception<sparsegrad::solver_error>(m, "SolverError", PyExc_RuntimeError);
  static auto* convergence_error =
      new py::exception<sparsegrad::convergence_error>(m, "ConvergenceError", solver_error->ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const sparsegrad::convergence_error& e) {
      const auto& d = e.diagnostics();
      py::object instance = py::handle(convergence_error->ptr())(e.what());
      instance.attr("diagnostics") =
          py::dict("istop"_a = d.istop, "itn"_a = d.itn, "normr"_a = d.normr, "normar"_a = d.normar,
                   "norma"_a = d.norma, "conda"_a = d.conda, "normx"_a = d.normx);
      PyErr_SetObject(convergence_error->ptr(), instance.ptr());
    } catch (const sparsegrad::solver_error& e) {
      PyErr_SetString(solver_error->ptr(), e.what());
    }
  });

  sp::bind_float32(m);
  sp::bind_float64(m);
}
