// SPDX-License-Identifier: Apache-2.0
// float64 instantiations of sparsegrad._core (a translation unit of its own: builds in parallel).
#include "solver.hpp"

void sparsegrad_python::bind_float64(py::module_& m) {
  bind_solver<double>(m, "SolverFloat64");
}
