// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PYTHON_BINDINGS_HPP
#define SPARSEGRAD_PYTHON_BINDINGS_HPP

// sparsegrad._core: lstsq and lstsq_backward on numpy buffers. A sparse matrix arrives as its
// format ("csr", "csc", "coo"), shape and three arrays; compressed formats are mapped without a
// copy (Eigen::Map over the numpy memory), COO is copied once into a CooMatrix (it needs its
// own index arrays). The Python layer (sparsegrad/__init__.py, sparsegrad/torch.py) turns
// scipy.sparse matrices and torch tensors into these arrays.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <sparsegrad/sparsegrad.hpp>
#include <string>
#include <vector>

namespace sparsegrad_python {

namespace py = pybind11;

template <class Scalar>
using Dense = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using RowMajorMap =
    Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

/// LSMR options as Python passes them (scipy's names), plus what to do on failure.
struct Options {
  double atol = 1e-6, btol = 1e-6, conlim = 1e8;
  std::optional<Eigen::Index> maxiter;
  bool raise_on_failure = true;

  template <class Scalar>
  sparsegrad::LsmrOptions<Scalar> lsmr() const {
    sparsegrad::LsmrOptions<Scalar> opt;
    opt.atol = static_cast<Scalar>(atol);
    opt.btol = static_cast<Scalar>(btol);
    opt.conlim = static_cast<Scalar>(conlim);
    opt.maxiter = maxiter;
    opt.throw_on_failure = raise_on_failure;
    return opt;
  }
};

/// sparsegrad::Lsmr that also records every run that did not converge, so that with
/// raise_on_failure = false the forward and both backward solves can still be reported (as a
/// Python warning) instead of passing silently.
template <class Scalar>
class ReportingLsmr : public sparsegrad::Lsmr<Scalar> {
 public:
  using Base = sparsegrad::Lsmr<Scalar>;
  using Matrix = typename Base::Matrix;

  explicit ReportingLsmr(const Options& o) : Base(o.lsmr<Scalar>()) {}

  template <class AType>
  Matrix operator()(const AType& A, const Matrix& B) {
    Matrix X = Base::operator()(A, B);
    note("solve", this->last());
    return X;
  }

  template <class AType>
  Matrix solve_adjoint(const AType& A, const Matrix& G) {
    Matrix Y = Base::solve_adjoint(A, G);
    note("transposed solve", this->last_backward());
    return Y;
  }

  // Offered only when the library's Lsmr offers it (one-solve backward).
  template <class AType, class M, class B = Base>
  auto solve_normal(const AType& A, const M& G) -> decltype(std::declval<B&>().solve_normal(A, G)) {
    auto H = Base::solve_normal(A, G);
    note("normal-equation solve", this->last_backward());
    return H;
  }

  std::vector<std::string> failures;

 private:
  void note(const char* what, const sparsegrad::Diagnostics& d) {
    if (!d.converged())
      failures.push_back(std::string("LSMR ") + what + " did not converge: " + d.failure_summary());
  }
};

/// The transposed solve of a ReportingLsmr as a separate functor (for the two-functor
/// backward when only the forward solver is a Python callable). Exposes the options so that
/// the backward's consistency check uses LSMR's tolerances.
template <class Scalar>
struct AdjointOf {
  ReportingLsmr<Scalar>& lsmr;
  const sparsegrad::LsmrOptions<Scalar>& options;
  template <class AType>
  Dense<Scalar> operator()(const AType& A, const Dense<Scalar>& G) const {
    return lsmr.solve_adjoint(A, G);
  }
};

/// A Python callable f(B) -> X used as a sparsegrad solver functor. It receives the
/// right-hand sides as a C-ordered (rows x k) numpy array; it may return any array-like of
/// shape (n, k), or (n,) when k == 1. Python exceptions become std::runtime_error here, under
/// the GIL, and sparsegrad turns them into solver_error.
template <class Scalar>
struct PyCallableSolver {
  py::object fn;

  template <class AType>
  Dense<Scalar> operator()(const AType&, const Dense<Scalar>& B) const {
    py::gil_scoped_acquire gil;
    try {
      py::array_t<Scalar> in({B.rows(), B.cols()});
      Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          in.mutable_data(), B.rows(), B.cols()) = B;
      py::object result = fn(in);
      auto out = py::array_t<Scalar, py::array::c_style | py::array::forcecast>::ensure(result);
      if (!out) throw py::error_already_set();
      if (out.ndim() == 1 && B.cols() == 1)
        return Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(out.data(), out.shape(0));
      if (out.ndim() != 2)
        throw std::runtime_error(
            sparsegrad::detail::concat("returned an array with ", out.ndim(),
                                       " dimensions, expected 2 (or 1 for one column)"));
      return RowMajorMap<Scalar>(out.data(), out.shape(0), out.shape(1));
    } catch (py::error_already_set& e) {
      throw std::runtime_error(e.what());
    }
  }
};

/// Copies a Python object into a (rows x cols) numpy array.
template <class Scalar>
py::array_t<Scalar> to_numpy(const Dense<Scalar>& M) {
  py::array_t<Scalar> out({M.rows(), M.cols()});
  Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      out.mutable_data(), M.rows(), M.cols()) = M;
  return out;
}

/// The three arrays of a sparse matrix, as received from Python.
struct MatrixArrays {
  std::string format;  // "csr", "csc" or "coo"
  Eigen::Index rows, cols;
  py::array a0;  // csr/csc: indptr; coo: row
  py::array a1;  // csr/csc: indices; coo: col
  py::array values;
};

[[noreturn]] inline void bad(const char* where, const char* name, const std::string& expected,
                             const std::string& got) {
  sparsegrad::detail::throw_invalid(where, name, expected, got);
}

/// Checks a compressed structure, which Eigen takes on trust.
template <class Index>
void check_compressed(const char* where, const Index* outer, Eigen::Index outer_size,
                      Eigen::Index outer_len, const Index* inner, Eigen::Index inner_len,
                      Eigen::Index inner_size, Eigen::Index nvalues) {
  using sparsegrad::detail::concat;
  if (outer_len != outer_size + 1)
    bad(where, "A", concat("an index pointer of length ", outer_size + 1), concat(outer_len));
  if (outer[0] != 0) bad(where, "A", "indptr[0] = 0", concat(outer[0]));
  for (Eigen::Index o = 0; o < outer_size; ++o)
    if (outer[o + 1] < outer[o])
      bad(where, "A", "a non-decreasing index pointer", concat("a decrease at ", o));
  const auto nnz = static_cast<Eigen::Index>(outer[outer_size]);
  if (nnz != inner_len || nnz != nvalues)
    bad(where, "A", concat(nnz, " indices and values (indptr[-1])"),
        concat(inner_len, " indices and ", nvalues, " values"));
  for (Eigen::Index e = 0; e < nnz; ++e)
    if (inner[e] < 0 || inner[e] >= inner_size)
      bad(where, "A", concat("indices in [0, ", inner_size, ")"),
          concat("indices[", e, "] = ", inner[e]));
}

template <class Index>
bool has_dtype(const py::array& a) {
  return a.dtype().is(py::dtype::of<Index>());
}

template <class Scalar, int Order, class Index, class F>
decltype(auto) with_compressed(const char* where, const MatrixArrays& M,
                               const py::array_t<Scalar>& values, F&& f) {
  using Map = Eigen::Map<const Eigen::SparseMatrix<Scalar, Order, Index>>;
  auto outer = py::array_t<Index, py::array::c_style | py::array::forcecast>::ensure(M.a0);
  auto inner = py::array_t<Index, py::array::c_style | py::array::forcecast>::ensure(M.a1);
  if (!outer || !inner) throw py::error_already_set();
  const Eigen::Index outer_size = Order == Eigen::RowMajor ? M.rows : M.cols;
  const Eigen::Index inner_size = Order == Eigen::RowMajor ? M.cols : M.rows;
  if (outer.ndim() != 1 || inner.ndim() != 1 || outer.size() < 1)
    bad(where, "A", "one-dimensional, non-empty indptr and indices", "other shapes");
  check_compressed(where, outer.data(), outer_size, outer.size(), inner.data(), inner.size(),
                   inner_size, values.size());
  const Map A(M.rows, M.cols, inner.size(), outer.data(), inner.data(), values.data());
  return f(A);
}

/// Calls f(A) with A the Eigen view of the arrays: Map of CSR/CSC (int32 or int64 indices,
/// no copy) or a CooMatrix<Scalar, int64_t> (index and value arrays copied once).
template <class Scalar, class F>
decltype(auto) with_matrix(const char* where, const MatrixArrays& M, F&& f) {
  using sparsegrad::detail::concat;
  if (M.rows < 0 || M.cols < 0)
    bad(where, "A", "non-negative dimensions", concat(M.rows, "x", M.cols));
  auto values = py::array_t<Scalar, py::array::c_style | py::array::forcecast>::ensure(M.values);
  if (!values) throw py::error_already_set();
  if (values.ndim() != 1) bad(where, "A", "one-dimensional values", concat(values.ndim(), "-d"));
  if (M.format == "csr" || M.format == "csc") {
    const bool i32 = has_dtype<std::int32_t>(M.a0) && has_dtype<std::int32_t>(M.a1);
    if (M.format == "csr")
      return i32 ? with_compressed<Scalar, Eigen::RowMajor, std::int32_t>(where, M, values, f)
                 : with_compressed<Scalar, Eigen::RowMajor, std::int64_t>(where, M, values, f);
    return i32 ? with_compressed<Scalar, Eigen::ColMajor, std::int32_t>(where, M, values, f)
               : with_compressed<Scalar, Eigen::ColMajor, std::int64_t>(where, M, values, f);
  }
  if (M.format != "coo") bad(where, "format", "'csr', 'csc' or 'coo'", M.format);
  auto row = py::array_t<std::int64_t, py::array::forcecast>::ensure(M.a0);
  auto col = py::array_t<std::int64_t, py::array::forcecast>::ensure(M.a1);
  if (!row || !col) throw py::error_already_set();
  if (row.ndim() != 1 || col.ndim() != 1)
    bad(where, "A", "one-dimensional row and col arrays", "other shapes");
  sparsegrad::CooMatrix<Scalar, std::int64_t> A;
  A.rows = M.rows, A.cols = M.cols;
  auto r = row.unchecked<1>();
  auto c = col.unchecked<1>();
  A.row.resize(row.shape(0));
  A.col.resize(col.shape(0));
  for (py::ssize_t e = 0; e < row.shape(0); ++e) A.row[e] = r(e);
  for (py::ssize_t e = 0; e < col.shape(0); ++e) A.col[e] = c(e);
  A.values =
      Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(values.data(), values.size());
  return f(static_cast<const sparsegrad::CooMatrix<Scalar, std::int64_t>&>(A));
}

/// Gradient values in A's entry order.
template <class Scalar, class Index>
Eigen::Matrix<Scalar, Eigen::Dynamic, 1> gradient_values(
    const sparsegrad::CooMatrix<Scalar, Index>& G) {
  return G.values;
}
template <class Scalar, int Order, class Index>
Eigen::Matrix<Scalar, Eigen::Dynamic, 1> gradient_values(
    const Eigen::SparseMatrix<Scalar, Order, Index>& G) {
  // A copy of a compressed Map: entries in the Map's order.
  return Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(G.valuePtr(), G.nonZeros());
}

template <class Scalar>
py::array_t<Scalar, py::array::c_style | py::array::forcecast> dense_arg(const char* where,
                                                                         const char* name,
                                                                         const py::object& o) {
  auto a = py::array_t<Scalar, py::array::c_style | py::array::forcecast>::ensure(o);
  if (!a) throw py::error_already_set();
  if (a.ndim() != 2) bad(where, name, "a 2-D array", sparsegrad::detail::concat(a.ndim(), "-D"));
  return a;
}

template <class Scalar>
RowMajorMap<Scalar> as_map(
    const py::array_t<Scalar, py::array::c_style | py::array::forcecast>& a) {
  return RowMajorMap<Scalar>(a.data(), a.shape(0), a.shape(1));
}

/// lstsq(matrix, B, options, solver) -> (X (n x k), failures)
template <class Scalar>
py::tuple lstsq(const MatrixArrays& M, const py::object& B_obj, const Options& options,
                const py::object& solver) {
  constexpr const char* where = "lstsq";
  const auto B = dense_arg<Scalar>(where, "B", B_obj);
  ReportingLsmr<Scalar> lsmr(options);
  std::optional<PyCallableSolver<Scalar>> py_solver;
  if (!solver.is_none()) py_solver = PyCallableSolver<Scalar>{solver};
  Dense<Scalar> X;
  with_matrix<Scalar>(where, M, [&](const auto& A) {
    py::gil_scoped_release nogil;
    X = py_solver ? sparsegrad::lstsq(A, as_map(B), *py_solver)
                  : sparsegrad::lstsq(A, as_map(B), lsmr);
    return 0;
  });
  return py::make_tuple(to_numpy(X), lsmr.failures);
}

template <class Scalar>
void run_backward(const char* where, const MatrixArrays& M,
                  const py::array_t<Scalar, py::array::c_style | py::array::forcecast>& B,
                  const py::array_t<Scalar, py::array::c_style | py::array::forcecast>& X,
                  const py::array_t<Scalar, py::array::c_style | py::array::forcecast>& dX,
                  ReportingLsmr<Scalar>& lsmr,
                  const std::optional<PyCallableSolver<Scalar>>& py_solver,
                  const std::optional<PyCallableSolver<Scalar>>& py_transpose,
                  Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& dA, Dense<Scalar>& dB) {
  with_matrix<Scalar>(where, M, [&](const auto& A) {
    py::gil_scoped_release nogil;
    auto store = [&](auto&& g) {
      dA = gradient_values(g.A);
      dB = std::move(g.B);
    };
    const auto Bm = as_map(B), Xm = as_map(X), dXm = as_map(dX);
    const AdjointOf<Scalar> adjoint{lsmr, lsmr.options};
    if (py_solver && py_transpose)
      store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, *py_solver, *py_transpose));
    else if (py_solver)
      store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, *py_solver, adjoint));
    else if (py_transpose)
      store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, lsmr, *py_transpose));
    else
      store(sparsegrad::lstsq_backward(A, Bm, Xm, dXm, lsmr));
    return 0;
  });
}

/// lstsq_backward(matrix, B, X, dX, options, solver, transpose_solver)
///   -> (dA values in A's entry order, dB (m x k), failures)
template <class Scalar>
py::tuple lstsq_backward(const MatrixArrays& M, const py::object& B_obj, const py::object& X_obj,
                         const py::object& dX_obj, const Options& options, const py::object& solver,
                         const py::object& transpose_solver) {
  constexpr const char* where = "lstsq_backward";
  const auto B = dense_arg<Scalar>(where, "B", B_obj);
  const auto X = dense_arg<Scalar>(where, "X", X_obj);
  const auto dX = dense_arg<Scalar>(where, "dX", dX_obj);
  ReportingLsmr<Scalar> lsmr(options);
  std::optional<PyCallableSolver<Scalar>> py_solver, py_transpose;
  if (!solver.is_none()) py_solver = PyCallableSolver<Scalar>{solver};
  if (!transpose_solver.is_none()) py_transpose = PyCallableSolver<Scalar>{transpose_solver};
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> dA;
  Dense<Scalar> dB;
  // With raise_on_failure = false an unconverged solve of this pass makes the rank check
  // fail; say so, instead of letting the message blame A alone.
  try {
    run_backward<Scalar>(where, M, B, X, dX, lsmr, py_solver, py_transpose, dA, dB);
  } catch (const std::domain_error& e) {
    if (lsmr.failures.empty()) throw;
    std::string message = e.what();
    for (const auto& f : lsmr.failures) message += "\n  note: " + f;
    message += "\n  (raise maxiter: the rank check needs converged solves)";
    throw std::domain_error(message);
  }
  py::array_t<Scalar> dA_out(dA.size());
  Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(dA_out.mutable_data(), dA.size()) = dA;
  return py::make_tuple(dA_out, to_numpy(dB), lsmr.failures);
}

void bind_float32(py::module_& m);
void bind_float64(py::module_& m);

template <class Scalar>
void bind_scalar(py::module_& m, const char* suffix) {
  using namespace pybind11::literals;
  m.def((std::string("lstsq_") + suffix).c_str(), &lstsq<Scalar>, "matrix"_a, "B"_a, "options"_a,
        "solver"_a = py::none());
  m.def((std::string("lstsq_backward_") + suffix).c_str(), &lstsq_backward<Scalar>, "matrix"_a,
        "B"_a, "X"_a, "dX"_a, "options"_a, "solver"_a = py::none(),
        "transpose_solver"_a = py::none());
}

}  // namespace sparsegrad_python

#endif  // SPARSEGRAD_PYTHON_BINDINGS_HPP
