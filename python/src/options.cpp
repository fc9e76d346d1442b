// SPDX-License-Identifier: Apache-2.0
// The one place where Python keyword arguments become options (see options.hpp).
#include "options.hpp"

#include <algorithm>
#include <utility>

namespace sparsegrad_python {

using sparsegrad::detail::concat;

namespace {

std::string repr_of(py::handle value) {
  return py::repr(value).cast<std::string>();
}

[[noreturn]] void wrong_type(const char* name, const char* expected, py::handle value) {
  throw py::type_error(concat("sparsegrad: argument '", name, "': expected ", expected, ", got ",
                              repr_of(value), " (",
                              py::type::of(value).attr("__name__").cast<std::string>(), ")"));
}

bool is_bool(py::handle value) {
  if (py::isinstance<py::bool_>(value)) return true;
  const py::handle type = py::type::of(value);
  return type.attr("__name__").cast<std::string>() == "bool_" &&
         py::str(type.attr("__module__")).cast<std::string>() == "numpy";
}

double read_float(py::handle value, const char* name) {
  if (is_bool(value) || py::isinstance<py::str>(value)) wrong_type(name, "a float", value);
  try {
    return value.cast<double>();
  } catch (const py::cast_error&) {
    wrong_type(name, "a float", value);
  }
}

Eigen::Index read_int(py::handle value, const char* name) {
  if (is_bool(value)) wrong_type(name, "an int", value);
  try {
    return value.cast<Eigen::Index>();
  } catch (const py::cast_error&) {
    wrong_type(name, "an int", value);
  }
}

bool read_bool(py::handle value, const char* name) {
  if (!is_bool(value)) wrong_type(name, "True or False", value);
  return value.cast<bool>();
}

std::string read_str(py::handle value, const char* name) {
  if (!py::isinstance<py::str>(value)) wrong_type(name, "a str", value);
  return value.cast<std::string>();
}

using Setter = void (*)(Options&, py::handle);

/// Every option a Python call accepts: its keyword and how it is read.
const std::pair<const char*, Setter> fields[] = {
    {"solver", [](Options& o, py::handle v) { o.solver = read_str(v, "solver"); }},
    {"atol", [](Options& o, py::handle v) { o.atol = read_float(v, "atol"); }},
    {"btol", [](Options& o, py::handle v) { o.btol = read_float(v, "btol"); }},
    {"conlim", [](Options& o, py::handle v) { o.conlim = read_float(v, "conlim"); }},
    {"maxiter", [](Options& o, py::handle v) { o.maxiter = read_int(v, "maxiter"); }},
    {"damp", [](Options& o, py::handle v) { o.damp = read_float(v, "damp"); }},
    {"x0", [](Options& o, py::handle v) { o.x0 = py::reinterpret_borrow<py::object>(v); }},
    {"column_scaling",
     [](Options& o, py::handle v) { o.column_scaling = read_bool(v, "column_scaling"); }},
    {"preconditioner",
     [](Options& o, py::handle v) { o.preconditioner = py::reinterpret_borrow<py::object>(v); }},
    {"error_tolerance",
     [](Options& o, py::handle v) { o.error_tolerance = read_float(v, "error_tolerance"); }},
    {"gradient_tolerance",
     [](Options& o, py::handle v) { o.gradient_tolerance = read_float(v, "gradient_tolerance"); }},
    {"scipy_compatible",
     [](Options& o, py::handle v) { o.scipy_compatible = read_bool(v, "scipy_compatible"); }},
    {"on_failure",
     [](Options& o, py::handle v) {
       const std::string policy = read_str(v, "on_failure");
       if (policy != "raise" && policy != "warn")
         throw py::value_error(
             concat("sparsegrad: argument 'on_failure': expected 'raise' or "
                    "'warn', got '",
                    policy, "'"));
       o.on_failure = policy == "raise" ? OnFailure::raise : OnFailure::warn;
     }},
};

/// C++ option names in library messages, and what a Python caller sets instead.
const std::pair<const char*, const char*> cpp_terms[] = {
    {"set options.throw_on_failure = false", "pass on_failure=\"warn\""},
    {"options.throw_on_failure", "on_failure"},
    {"options.maxiter", "maxiter"},
    {"options.conlim", "conlim"},
    {"options.atol", "atol"},
    {"options.btol", "btol"},
    {"options.damp", "damp"},
    {"options.x0", "x0"},
    {"options.column_scaling", "column_scaling"},
    {"options.error_tolerance", "error_tolerance"},
    {"options.gradient_tolerance", "gradient_tolerance"},
    {"sparsegrad::SparseQR, or sparsegrad::SPQR with SuiteSparse",
     "solver=\"sparse_qr\" (or \"spqr\")"},
    {"options.damp", "damp"},
    {"options.preconditioner", "preconditioner"},
    {"use SparseQR (or SPQR)", "use solver=\"sparse_qr\" (or \"spqr\")"},
};

}  // namespace

std::vector<std::string> solver_names() {
  return {"lsmr", "sparse_qr", "normal_cholesky"
#ifdef SPARSEGRAD_PYTHON_WITH_SUITESPARSE
          ,
          "spqr", "cholmod"
#endif
  };
}

Options options_from_python(const py::dict& kwargs) {
  Options o;
  for (const auto& item : kwargs) {
    const std::string key = py::str(item.first);
    if (item.second.is_none()) continue;  // the default
    const auto field = std::find_if(std::begin(fields), std::end(fields),
                                    [&](const auto& f) { return key == f.first; });
    if (field == std::end(fields)) {
      std::string known;
      for (const auto& f : fields) known += concat(known.empty() ? "" : ", ", f.first);
      throw py::type_error(
          concat("sparsegrad: unexpected keyword argument '", key, "' (options: ", known, ")"));
    }
    field->second(o, item.second);
  }
  const auto names = solver_names();
  if (std::find(names.begin(), names.end(), o.solver) == names.end()) {
    std::string known;
    for (const auto& n : names) known += concat(known.empty() ? "'" : ", '", n, "'");
    const bool suitesparse = o.solver == "spqr" || o.solver == "cholmod";
    throw py::value_error(concat(
        "sparsegrad: argument 'solver': expected a callable or one of ", known, ", got '", o.solver,
        "'",
        suitesparse ? " (this build has no SuiteSparse: install libsuitesparse-dev and rebuild)"
                    : ""));
  }
  if (o.solver != "lsmr") {
    // What only LSMR has: refused rather than ignored.
    auto lsmr_only = [&](const char* name, bool set) {
      if (set)
        throw py::value_error(concat("sparsegrad: argument '", name,
                                     "': expected solver='lsmr' (the only solver it applies to), "
                                     "got solver='",
                                     o.solver, "'"));
    };
    lsmr_only("damp", o.damp != 0);
    lsmr_only("x0", !o.x0.is_none());
    lsmr_only("column_scaling", o.column_scaling.value_or(false));
    lsmr_only("error_tolerance", o.error_tolerance.has_value());
    lsmr_only("gradient_tolerance", o.gradient_tolerance.has_value());
    lsmr_only("scipy_compatible", o.scipy_compatible);
    lsmr_only("preconditioner", !o.preconditioner.is_none());
  }
  return o;
}

std::string python_terms(std::string message) {
  for (const auto& [cpp, python] : cpp_terms) {
    const std::string from = cpp, to = python;
    for (auto at = message.find(from); at != std::string::npos; at = message.find(from, at))
      message.replace(at, from.size(), to), at += to.size();
  }
  return message;
}

}  // namespace sparsegrad_python
