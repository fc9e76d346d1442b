// SPDX-License-Identifier: Apache-2.0
// float32 instantiations of sparsegrad._core (a translation unit of its own: builds in parallel).
#include "solver.hpp"

void sparsegrad_python::bind_float32(py::module_& m) {
  bind_solver<float>(m, "SolverFloat32");
}
