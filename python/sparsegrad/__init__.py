# SPDX-License-Identifier: Apache-2.0
"""sparsegrad: differentiable sparse linear least squares.

``X = argmin ||A X - B||`` for a sparse ``A`` by LSMR (or a solver you pass), and its exact
reverse-mode adjoint: ``dL/dB`` (dense) and ``dL/dA`` on ``A``'s nonzero pattern only.

* :func:`lstsq` and :func:`lstsq_backward` take ``scipy.sparse`` csr/csc/coo matrices and
  numpy arrays;
* :mod:`sparsegrad.torch` (imported on first use) has ``sparse_generic_lstsq``, a drop-in
  for torchsparsegradutils' function of the same name.

The numerics are the C++ library's (``include/sparsegrad``), reached through ``sparsegrad._core``.
"""

import warnings

import numpy as np

from . import _core
from ._core import ConvergenceError, SolverError

__all__ = [
    "lstsq",
    "lstsq_backward",
    "SolverError",
    "ConvergenceError",
    "ConvergenceWarning",
]


class ConvergenceWarning(RuntimeWarning):
    """LSMR stopped without converging and ``on_failure="warn"`` was asked for."""


_ON_FAILURE = ("raise", "warn")


def _options(atol=1e-6, btol=1e-6, conlim=1e8, maxiter=None, on_failure="raise"):
    """Checked LSMR options for sparsegrad._core (the C++ side checks the ranges)."""
    if on_failure not in _ON_FAILURE:
        raise ValueError(
            f"sparsegrad: argument 'on_failure': expected 'raise' or 'warn', got {on_failure!r}"
        )
    if maxiter is not None:
        if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)):
            raise TypeError(
                f"sparsegrad: argument 'maxiter': expected an int or None, got {maxiter!r}"
            )
        maxiter = int(maxiter)
    return _core.Options(
        atol=float(atol),
        btol=float(btol),
        conlim=float(conlim),
        maxiter=maxiter,
        raise_on_failure=on_failure == "raise",
    )


def _report(failures, stacklevel=3):
    """Turns the failures the core recorded (only with on_failure="warn") into warnings."""
    for message in failures:
        warnings.warn("sparsegrad: " + message, ConvergenceWarning, stacklevel=stacklevel)


def _indptr_from_sorted_rows(rows, row):
    """CSR index pointer of COO entries sorted by (row, col) without duplicates, so that the
    entries' col and values arrays can be used as CSR indices and data as they are."""
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=rows), out=indptr[1:])
    return indptr


def _core_matrix(fmt, shape, a0, a1, values):
    return _core.Matrix(fmt, int(shape[0]), int(shape[1]), a0, a1, values)


def _function(name, dtype):
    return getattr(_core, f"{name}_{np.dtype(dtype).name}")


# --- scipy.sparse entry points -----------------------------------------------------------------


def _scipy_dtype(A, *arrays):
    dtype = np.result_type(A.dtype, *[np.asarray(a).dtype for a in arrays], np.float32)
    if dtype not in (np.float32, np.float64):
        raise TypeError(
            f"sparsegrad: argument 'A': expected real floating-point data (float32 or float64), "
            f"got {dtype}"
        )
    return dtype


def _scipy_matrix(A, where, dtype):
    import scipy.sparse

    if not scipy.sparse.issparse(A) or A.format not in ("csr", "csc", "coo"):
        got = f"a scipy.sparse {A.format} matrix" if scipy.sparse.issparse(A) else type(A).__name__
        raise TypeError(
            f"sparsegrad: {where}: argument 'A': expected a scipy.sparse csr, csc or coo "
            f"matrix, got {got}"
        )
    if A.ndim != 2:
        raise ValueError(f"sparsegrad: {where}: argument 'A': expected 2-D, got {A.ndim}-D")
    data = A.data.astype(dtype, copy=False)
    if A.format == "coo":
        row, col = A.row.astype(np.int64, copy=False), A.col.astype(np.int64, copy=False)
        n = A.shape[1]
        if row.size and np.all(np.diff(row * n + col) > 0):
            # Sorted and without duplicates: CSR over the same col and data arrays.
            indptr = _indptr_from_sorted_rows(A.shape[0], row)
            return _core_matrix("csr", A.shape, indptr, col, data)
        return _core_matrix("coo", A.shape, row, col, data)
    return _core_matrix(A.format, A.shape, A.indptr, A.indices, data)


def _dense(name, where, value, dtype, rows=None):
    array = np.asarray(value)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"sparsegrad: {where}: argument '{name}': expected a 1-D or 2-D array, "
            f"got {array.ndim}-D"
        )
    if rows is not None and array.shape[0] != rows:
        raise ValueError(
            f"sparsegrad: {where}: argument '{name}': expected {rows} rows, "
            f"got shape {array.shape}"
        )
    return np.ascontiguousarray(array.reshape(array.shape[0], -1), dtype=dtype), array.ndim == 1


def _numpy_solver(solver, A):
    return None if solver is None else (lambda M: solver(A, M))


def lstsq(A, B, *, atol=1e-6, btol=1e-6, conlim=1e8, maxiter=None, on_failure="raise",
          solver=None):
    """X = argmin ||A X - B||_2 for a scipy.sparse csr/csc/coo matrix A (m x n).

    B has shape (m,) or (m, k); X has shape (n,) or (n, k). The default solver is LSMR with
    scipy's options (atol, btol, conlim, maxiter); ``on_failure`` says what happens when it
    does not converge: "raise" (ConvergenceError, the default) or "warn" (ConvergenceWarning).
    ``solver(A, B2) -> X2`` replaces LSMR (B2 is always m x k).

    Raises TypeError for an unsupported A or dtype, ValueError for shape mismatches and
    non-finite values, SolverError (a RuntimeError) when a solver fails or returns the wrong
    shape, ConvergenceError when LSMR does not converge.
    """
    dtype = _scipy_dtype(A, B)
    matrix = _scipy_matrix(A, "lstsq", dtype)
    B2, vector = _dense("B", "lstsq", B, dtype, A.shape[0])
    X, failures = _function("lstsq", dtype)(
        matrix, B2, _options(atol, btol, conlim, maxiter, on_failure), _numpy_solver(solver, A)
    )
    _report(failures)
    return X[:, 0] if vector else X


def lstsq_backward(A, B, X, dX, *, atol=1e-6, btol=1e-6, conlim=1e8, maxiter=None,
                   on_failure="raise", solver=None, transpose_solver=None):
    """Reverse mode of :func:`lstsq`: returns ``(dA, dB)`` for the upstream gradient dX.

    dA is a scipy.sparse matrix of A's class with A's pattern and entry order (sharing A's
    index arrays), holding dL/dA_ij at A's stored entries (duplicates of a COO entry each get
    the full value); dB has B's shape. A must be tall (m >= n) with full column rank, else
    ValueError. ``transpose_solver(A, G) -> (A^T)^+ G`` and ``solver`` replace the two LSMR
    solves as in torchsparsegradutils' sparse_generic_lstsq.
    """
    dtype = _scipy_dtype(A, B, X, dX)
    matrix = _scipy_matrix(A, "lstsq_backward", dtype)
    B2, vector = _dense("B", "lstsq_backward", B, dtype, A.shape[0])
    X2, _ = _dense("X", "lstsq_backward", X, dtype, A.shape[1])
    dX2, _ = _dense("dX", "lstsq_backward", dX, dtype, A.shape[1])
    dA_values, dB, failures = _function("lstsq_backward", dtype)(
        matrix,
        B2,
        X2,
        dX2,
        _options(atol, btol, conlim, maxiter, on_failure),
        _numpy_solver(solver, A),
        _numpy_solver(transpose_solver, A),
    )
    _report(failures)
    if A.format == "coo":
        dA = type(A)((dA_values, (A.row, A.col)), shape=A.shape, copy=False)
    else:
        dA = type(A)((dA_values, A.indices, A.indptr), shape=A.shape, copy=False)
    return dA, (dB[:, 0] if vector else dB)


def __getattr__(name):
    # sparsegrad.torch is imported on first use: importing torch is slow and optional.
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'sparsegrad' has no attribute {name!r}")
