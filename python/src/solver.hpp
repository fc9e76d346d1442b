// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PYTHON_SOLVER_HPP
#define SPARSEGRAD_PYTHON_SOLVER_HPP

// sparsegrad._core.SolverFloat32 / SolverFloat64: a solver chosen by name (or Python callables)
// with the options of a call, recording what every solve reports. One object serves a forward
// call and its backward call, so that a direct solver's factorization is reused (same A).

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

/// A library solver functor that records each of its solves in a Report: the same capabilities
/// as Base (solve_normal, solve_adjoint only where Base has them), the same options.
template <class Base>
class Recorded : public Base {
 public:
  using Matrix = typename Base::Matrix;

  template <class... Args>
  Recorded(std::shared_ptr<Report> report, std::string name, Args&&... args)
      : Base(std::forward<Args>(args)...), report_(std::move(report)), name_(std::move(name)) {}

  template <class AType>
  Matrix operator()(const AType& A, const Matrix& B) {
    Matrix X = Base::operator()(A, B);
    record("solve");
    return X;
  }

  template <class AType, class M, class B = Base>
  auto solve_normal(const AType& A, const M& G) -> decltype(std::declval<B&>().solve_normal(A, G)) {
    auto H = Base::solve_normal(A, G);
    record("normal-equation solve");
    return H;
  }

  template <class AType, class M, class B = Base>
  auto solve_adjoint(const AType& A, const M& G)
      -> decltype(std::declval<B&>().solve_adjoint(A, G)) {
    auto Y = Base::solve_adjoint(A, G);
    record("transposed solve");
    return Y;
  }

 private:
  template <class S>
  void describe(const sparsegrad::Lsmr<S>& lsmr, SolveRecord& r) {
    const auto& last = lsmr.last();
    r.iterative = last.diagnostics();
    if (!last.converged())  // only with on_failure="warn": otherwise Lsmr threw
      report_->failures.push_back(sparsegrad::detail::concat(
          "the ", r.role, " (", name_, ") did not converge: ", last.failure_summary()));
  }
  template <class S>
  auto describe(const S& solver, SolveRecord& r) -> decltype(solver.stats(), void()) {
    r.factorization = solver.stats();
    if constexpr (has_error_estimate<S>::value) r.error_estimate = solver.last_error_estimate();
  }

  void record(const char* role) {
    SolveRecord r{role, name_, {}, {}, {}};
    describe(*this, r);
    report_->solves.push_back(std::move(r));
  }

  std::shared_ptr<Report> report_;
  std::string name_;
};

/// The solvers available by name (options.cpp's solver_names lists the same).
template <class Scalar>
using NamedSolver =
    std::variant<Recorded<sparsegrad::Lsmr<Scalar>>, Recorded<sparsegrad::SparseQR<Scalar>>,
                 Recorded<sparsegrad::NormalCholesky<Scalar>>
#ifdef SPARSEGRAD_PYTHON_WITH_SUITESPARSE
                 ,
                 Recorded<sparsegrad::SPQR<Scalar>>, Recorded<sparsegrad::Cholmod<Scalar>>
#endif
                 >;

template <class Scalar>
NamedSolver<Scalar> make_named_solver(const Options& o, const std::shared_ptr<Report>& report) {
  using Variant = NamedSolver<Scalar>;
  if (o.solver == "sparse_qr")
    return Variant(std::in_place_type<Recorded<sparsegrad::SparseQR<Scalar>>>, report, o.solver);
  if (o.solver == "normal_cholesky")
    return Variant(std::in_place_type<Recorded<sparsegrad::NormalCholesky<Scalar>>>, report,
                   o.solver);
#ifdef SPARSEGRAD_PYTHON_WITH_SUITESPARSE
  if (o.solver == "spqr")
    return Variant(std::in_place_type<Recorded<sparsegrad::SPQR<Scalar>>>, report, o.solver);
  if (o.solver == "cholmod")
    return Variant(std::in_place_type<Recorded<sparsegrad::Cholmod<Scalar>>>, report, o.solver);
#endif
  return Variant(std::in_place_type<Recorded<sparsegrad::Lsmr<Scalar>>>, report, o.solver,
                 lsmr_options<Scalar>(o));
}

/// The transposed solve of a recorded Lsmr as a functor of its own, for the two-functor backward
/// when only the forward solver is a Python callable. Exposes the options so that the backward's
/// consistency check uses LSMR's tolerances.
template <class Scalar>
struct TransposedSolveOf {
  Recorded<sparsegrad::Lsmr<Scalar>>& lsmr;
  const sparsegrad::LsmrOptions<Scalar>& options;
  template <class AType>
  Dense<Scalar> operator()(const AType& A, const Dense<Scalar>& G) const {
    return lsmr.solve_adjoint(A, G);
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
        named_(make_named_solver<Scalar>(options_, report_)) {
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
      if (py_solver_)
        X = sparsegrad::lstsq(A, as_map(B), *py_solver_);
      else
        std::visit([&](auto& s) { X = sparsegrad::lstsq(A, as_map(B), s); }, named_);
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
        auto store = [&](auto&& g) {
          dA = gradient_values(g.A);
          dB = std::move(g.B);
          ddamp = double(g.damp);
        };
        const auto Bm = as_map(B), Xm = as_map(X), dXm = as_map(dX);
        if (py_solver_ || py_transpose_) {
          auto& lsmr = std::get<Recorded<sparsegrad::Lsmr<Scalar>>>(named_);
          if (py_solver_ && py_transpose_)
            store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, *py_solver_, *py_transpose_));
          else if (py_solver_)
            store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, *py_solver_,
                                             TransposedSolveOf<Scalar>{lsmr, lsmr.options}));
          else
            store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, lsmr, *py_transpose_));
        } else {
          std::visit([&](auto& s) { store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, s)); },
                     named_);
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
  Options options_;
  std::shared_ptr<Report> report_;
  NamedSolver<Scalar> named_;
  std::optional<PyCallableSolver<Scalar>> py_solver_, py_transpose_;
};

void bind_float32(py::module_& m);
void bind_float64(py::module_& m);

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
