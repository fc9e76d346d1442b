// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PYTHON_SOLVER_HPP
#define SPARSEGRAD_PYTHON_SOLVER_HPP

// sparsegrad._core.SolverFloat32 / SolverFloat64: a solver chosen by name (or Python callables)
// with the options of a call, recording what every solve reports. One object serves a forward
// call and its backward call, so that a direct solver's factorization is reused (same A).

#include <cmath>
#include <memory>
#include <optional>
#include <sparsegrad/sparsegrad.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "bindings.hpp"
#include "diagnostics.hpp"
#include "options.hpp"

#ifdef SPARSEGRAD_PYTHON_WITH_SUITESPARSE
#include <sparsegrad/backends/suitesparse.hpp>
#endif

namespace sparsegrad_python {

template <class S, class = void>
struct has_error_estimate : std::false_type {};
template <class S>
struct has_error_estimate<S, std::void_t<decltype(std::declval<const S&>().last_error_estimate())>>
    : std::true_type {};

/// Records an iterative solve under `role`: its diagnostics, and for an unconverged run
/// (possible only with on_failure="warn": otherwise it threw) a failure message.
inline void record_iterative(Report& report, const char* role, const std::string& name,
                             const sparsegrad::Diagnostics& d) {
  report.solves.push_back(SolveRecord{role, name, d, {}, {}, {}, {}});
  if (!d.converged())
    report.failures.push_back(sparsegrad::detail::concat(
        "the ", role, " (", name, ") did not converge: ", d.failure_summary()));
}

/// Records the solve `solver` just did under `role` (record_iterative).
template <class S>
void record_solve(Report& report, const char* role, const std::string& name,
                  const sparsegrad::Lsmr<S>& lsmr) {
  // The forward solve's diagnostics are in last(), the backward's (transposed or normal) in
  // last_backward().
  const bool forward = std::string(role) == "solve";
  record_iterative(report, role, name,
                   (forward ? lsmr.last() : lsmr.last_backward()).diagnostics());
}
template <class S>
auto record_solve(Report& report, const char* role, const std::string& name, const S& solver)
    -> decltype(solver.stats(), void()) {
  SolveRecord r{role, name, {}, solver.stats(), {}, {}, {}};
  if constexpr (has_error_estimate<S>::value) r.error_estimate = solver.last_error_estimate();
  report.solves.push_back(std::move(r));
}

/// The solvers available by name (options.cpp's solver_names lists the same). The library's
/// own types, unwrapped, so that lstsq_backward takes exactly the path it takes in C++.
template <class Scalar>
using NamedSolver = std::variant<sparsegrad::Lsmr<Scalar>, sparsegrad::SparseQR<Scalar>,
                                 sparsegrad::NormalCholesky<Scalar>
#ifdef SPARSEGRAD_PYTHON_WITH_SUITESPARSE
                                 ,
                                 sparsegrad::SPQR<Scalar>, sparsegrad::Cholmod<Scalar>
#endif
                                 >;

template <class Scalar>
NamedSolver<Scalar> make_named_solver(const Options& o) {
  using Variant = NamedSolver<Scalar>;
  if (o.solver == "sparse_qr") return Variant(std::in_place_type<sparsegrad::SparseQR<Scalar>>);
  if (o.solver == "normal_cholesky")
    return Variant(std::in_place_type<sparsegrad::NormalCholesky<Scalar>>);
#ifdef SPARSEGRAD_PYTHON_WITH_SUITESPARSE
  if (o.solver == "spqr") return Variant(std::in_place_type<sparsegrad::SPQR<Scalar>>);
  if (o.solver == "cholmod") return Variant(std::in_place_type<sparsegrad::Cholmod<Scalar>>);
#endif
  return Variant(std::in_place_type<sparsegrad::Lsmr<Scalar>>, lsmr_options<Scalar>(o));
}

/// One LSMR solve of the two-functor backward (next to a Python callable) as a functor of its
/// own, recorded as soon as it is done: the transposed solve (Transposed) or the solve
/// H = A⁺dB. Exposes the options so that the backward uses LSMR's tolerances (and refuses
/// damping).
template <class Scalar, bool Transposed>
struct LsmrSolveOf {
  sparsegrad::Lsmr<Scalar>& lsmr;
  Report& report;
  const std::string& name;
  const sparsegrad::LsmrOptions<Scalar>& options;
  template <class AType>
  Dense<Scalar> operator()(const AType& A, const Dense<Scalar>& G) const {
    Dense<Scalar> Y = Transposed ? lsmr.solve_adjoint(A, G) : lsmr(A, G);
    record_solve(report, Transposed ? "transposed solve" : "solve", name, lsmr);
    return Y;
  }
};

template <class Scalar>
class Solver {
 public:
  /// `options`: the keyword arguments of the call (options_from_python); `solver`,
  /// `transpose_solver`: Python callables f(B) -> X replacing the forward and the transposed
  /// solve (None: the named solver, LSMR for the transposed solve).
  Solver(const py::dict& options, py::object solver, py::object transpose_solver)
      : options_(options_from_python(options)),
        report_(std::make_shared<Report>()),
        named_(make_named_solver<Scalar>(options_)) {
    const bool callables = !solver.is_none() || !transpose_solver.is_none();
    if (callables && options_.solver != "lsmr")
      throw py::value_error(sparsegrad::detail::concat(
          "sparsegrad: argument 'solver': a solver callable replaces the named solver, got "
          "both a callable and solver='",
          options_.solver, "'"));
    if (callables && options_.damp != 0)
      throw py::value_error(
          "sparsegrad: argument 'damp': expected 0 with solver callables (they solve the "
          "undamped problem), got " +
          std::to_string(options_.damp));
    if (!solver.is_none()) py_solver_ = PyCallableSolver<Scalar>{solver, report_, "solve"};
    if (!transpose_solver.is_none())
      py_transpose_ = PyCallableSolver<Scalar>{transpose_solver, report_, "transposed solve"};
  }

  /// X (n x k) = argmin ‖AX − B‖ for B (m x k).
  py::array_t<Scalar> lstsq(const MatrixArrays& M, const py::object& B_obj) {
    constexpr const char* where = "lstsq";
    const auto B = dense_arg<Scalar>(where, "B", B_obj);
    Dense<Scalar> X;
    with_matrix<Scalar>(where, M, [&](const auto& A) {
      py::gil_scoped_release nogil;
      if (py_solver_) {
        X = sparsegrad::lstsq(A, as_map(B), *py_solver_);
      } else {
        std::visit([&](auto& s) { X = sparsegrad::lstsq(A, as_map(B), s); }, named_);
        record_named("solve");
      }
      return 0;
    });
    return to_numpy(X);
  }

  /// (dA values in A's entry order, dB (m x k), dL/ddamp) for the upstream gradient dX.
  py::tuple lstsq_backward(const MatrixArrays& M, const py::object& B_obj, const py::object& X_obj,
                           const py::object& dX_obj) {
    constexpr const char* where = "lstsq_backward";
    const auto B = dense_arg<Scalar>(where, "B", B_obj);
    const auto X = dense_arg<Scalar>(where, "X", X_obj);
    const auto dX = dense_arg<Scalar>(where, "dX", dX_obj);
    Eigen::Matrix<Scalar, Eigen::Dynamic, 1> dA;
    Dense<Scalar> dB;
    double ddamp = 0;
    const std::size_t failures_before = report_->failures.size();
    try {
      with_matrix<Scalar>(where, M, [&](const auto& A) {
        py::gil_scoped_release nogil;
        std::optional<double> error_A, error_B;
        auto store = [&](auto&& g) {
          dA = gradient_values(g.A);
          dB = std::move(g.B);
          ddamp = double(g.damp);
          if (!std::isnan(g.error_A)) error_A = g.error_A, error_B = g.error_B;
        };
        const auto Bm = as_map(B), Xm = as_map(X), dXm = as_map(dX);
        if (py_solver_ || py_transpose_) {
          auto& lsmr = std::get<sparsegrad::Lsmr<Scalar>>(named_);
          const LsmrSolveOf<Scalar, true> transposed{lsmr, *report_, options_.solver, lsmr.options};
          const LsmrSolveOf<Scalar, false> solve{lsmr, *report_, options_.solver, lsmr.options};
          if (py_solver_ && py_transpose_)
            store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, *py_solver_, *py_transpose_));
          else if (py_solver_)
            store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, *py_solver_, transposed));
          else
            store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, solve, *py_transpose_));
        } else {
          // One solve with the normal matrix (AᴴA + λ²I, or AAᴴ + λ²I for a wide A).
          std::visit([&](auto& s) { store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, s)); },
                     named_);
          record_named("normal-equation solve");
          if (!report_->solves.empty())
            report_->solves.back().error_A = error_A, report_->solves.back().error_B = error_B;
        }
        return 0;
      });
    } catch (const std::domain_error& e) {
      // With on_failure="warn" an unconverged solve of this pass makes the rank check fail: say
      // so, instead of letting the message blame A alone.
      if (report_->failures.size() == failures_before) throw;
      std::string message = e.what();
      for (std::size_t i = failures_before; i < report_->failures.size(); ++i)
        message += "\n  note: " + report_->failures[i];
      message += "\n  (raise maxiter: the rank check needs converged solves)";
      throw std::domain_error(message);
    }
    py::array_t<Scalar> dA_out(dA.size());
    Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(dA_out.mutable_data(), dA.size()) = dA;
    return py::make_tuple(dA_out, to_numpy(dB), ddamp);
  }

  /// One dict per solve so far (diagnostics.hpp).
  py::list diagnostics() const {
    py::list out;
    for (const auto& r : report_->solves) out.append(to_python(r));
    return out;
  }

  /// The non-convergence messages (on_failure="warn") not taken yet.
  std::vector<std::string> take_failures() { return std::exchange(report_->failures, {}); }

 private:
  void record_named(const char* role) {
    std::visit([&](const auto& s) { record_solve(*report_, role, options_.solver, s); }, named_);
  }

  Options options_;
  std::shared_ptr<Report> report_;
  NamedSolver<Scalar> named_;
  std::optional<PyCallableSolver<Scalar>> py_solver_, py_transpose_;
};

void bind_float32(py::module_& m);
void bind_float64(py::module_& m);
void bind_device(py::module_& m);  // device.cpp

template <class Scalar>
void bind_solver(py::module_& m, const char* name) {
  using namespace pybind11::literals;
  py::class_<Solver<Scalar>>(m, name,
                             "A solver with the options of one call (internal: see "
                             "sparsegrad.lstsq); keeps what each solve reports.")
      .def(py::init<const py::dict&, py::object, py::object>(), "options"_a,
           "solver"_a = py::none(), "transpose_solver"_a = py::none())
      .def("lstsq", &Solver<Scalar>::lstsq, "matrix"_a, "B"_a,
           "X = argmin ||A X - B|| (n x k) for B (m x k).")
      .def("lstsq_backward", &Solver<Scalar>::lstsq_backward, "matrix"_a, "B"_a, "X"_a, "dX"_a,
           "(dA values in A's entry order, dB (m x k), dL/ddamp) for the upstream gradient dX.")
      .def_property_readonly("diagnostics", &Solver<Scalar>::diagnostics,
                             "One dict per solve so far.")
      .def("take_failures", &Solver<Scalar>::take_failures,
           "The non-convergence messages (on_failure='warn') not taken yet.");
}

}  // namespace sparsegrad_python

#endif  // SPARSEGRAD_PYTHON_SOLVER_HPP
