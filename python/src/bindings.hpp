// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PYTHON_BINDINGS_HPP
#define SPARSEGRAD_PYTHON_BINDINGS_HPP

// sparsegrad._core on numpy buffers: the matrix and array arguments. A sparse matrix arrives as
// its format ("csr", "csc", "coo"), shape and three arrays; compressed formats are mapped without
// a copy (Eigen::Map over the numpy memory), COO is copied once into a CooMatrix (it needs its
// own index arrays). The Python layer (sparsegrad/__init__.py, sparsegrad/torch.py) turns
// scipy.sparse matrices and torch tensors into these arrays. The solves are in solver.hpp, the
// options in options.hpp, the diagnostics in diagnostics.hpp.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <sparsegrad/sparsegrad.hpp>
#include <string>

#include "diagnostics.hpp"

namespace sparsegrad_python {

namespace py = pybind11;

template <class Scalar>
using Dense = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using RowMajorMap =
    Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

/// A Python callable f(B) -> X used as a sparsegrad solver functor, recorded in `report` under
/// `role`. It receives the right-hand sides as a C-ordered (rows x k) numpy array; it may return
/// any array-like of shape (n, k), or (n,) when k == 1. Python exceptions become
/// std::runtime_error here, under the GIL, and sparsegrad turns them into solver_error.
template <class Scalar>
struct PyCallableSolver {
  py::object fn;
  std::shared_ptr<Report> report;
  const char* role;

  template <class AType>
  Dense<Scalar> operator()(const AType&, const Dense<Scalar>& B) const {
    py::gil_scoped_acquire gil;
    report->solves.push_back(SolveRecord{role, "callable", {}, {}, {}, {}, {}});
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

/// A 1-D (n,) or 2-D (n, k) array argument as an n x k matrix (a copy).
template <class Scalar>
Dense<Scalar> columns_arg(const char* where, const char* name, const py::object& o) {
  auto a = py::array_t<Scalar, py::array::c_style | py::array::forcecast>::ensure(o);
  if (!a) throw py::error_already_set();
  if (a.ndim() == 1) return Eigen::Map<const Dense<Scalar>>(a.data(), a.shape(0), 1);
  if (a.ndim() != 2)
    bad(where, name, "a 1-D or 2-D array", sparsegrad::detail::concat(a.ndim(), "-D"));
  return RowMajorMap<Scalar>(a.data(), a.shape(0), a.shape(1));
}

template <class Scalar>
RowMajorMap<Scalar> as_map(
    const py::array_t<Scalar, py::array::c_style | py::array::forcecast>& a) {
  return RowMajorMap<Scalar>(a.data(), a.shape(0), a.shape(1));
}

}  // namespace sparsegrad_python

#endif  // SPARSEGRAD_PYTHON_BINDINGS_HPP
