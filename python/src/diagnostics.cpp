// SPDX-License-Identifier: Apache-2.0
// The one conversion of C++ diagnostics to Python (see diagnostics.hpp).
#include "diagnostics.hpp"

#include <pybind11/stl.h>

namespace sparsegrad_python {

using namespace pybind11::literals;

py::dict to_python(const SolveRecord& r) {
  py::dict d;
  if (!r.role.empty()) d["role"] = r.role;
  if (!r.solver.empty()) d["solver"] = r.solver;
  if (r.iterative) {
    const auto& it = *r.iterative;
    d["istop"] = it.istop, d["itn"] = it.itn, d["normr"] = it.normr, d["normar"] = it.normar;
    d["norma"] = it.norma, d["conda"] = it.conda, d["normx"] = it.normx;
    d["error"] = it.error, d["sigma_min"] = it.sigma_min, d["sigma_max"] = it.sigma_max;
  }
  if (r.factorization) {
    const auto& f = *r.factorization;
    d["rank"] = f.rank, d["factor_nonzeros"] = f.factor_nonzeros;
    d["factor_seconds"] = f.factor_seconds, d["factorizations"] = f.factorizations;
    d["condition_estimate"] = f.condition_estimate, d["reused"] = f.reused;
  }
  if (r.error_estimate) d["error_estimate"] = *r.error_estimate;
  if (r.error_A) d["error_A"] = *r.error_A;
  if (r.error_B) d["error_B"] = *r.error_B;
  return d;
}

}  // namespace sparsegrad_python
