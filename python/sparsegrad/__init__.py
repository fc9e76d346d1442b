# SPDX-License-Identifier: Apache-2.0
"""sparsegrad: differentiable sparse linear least squares.

``X = argmin ||A X - B||`` for a sparse ``A`` by LSMR, a direct solver or a solver you pass,
and its exact reverse-mode adjoint: ``dL/dB`` (dense) and ``dL/dA`` on ``A``'s nonzero pattern.

* :func:`lstsq` and :func:`lstsq_backward` take ``scipy.sparse`` matrices and arrays (every
  format) and numpy arrays;
* :mod:`sparsegrad.torch` (imported on first use) has ``sparse_generic_lstsq``, a drop-in
  for torchsparsegradutils' function of the same name.

Failure policy, the same for both APIs: an iterative solve that stops without converging
raises :class:`ConvergenceError` (``on_failure="raise"``, the default) or returns its result
with a :class:`ConvergenceWarning` (``on_failure="warn"``); it never passes silently. Every
other failure raises: ``TypeError`` (unsupported type or dtype), ``ValueError`` (shapes,
non-finite values, an option out of range or not applicable, a rank-deficient ``A`` where the
gradient needs full rank, a matrix too ill-conditioned for the normal equations),
:class:`SolverError` (a solver failed or returned a wrong result).

The numerics are the C++ library's (``include/sparsegrad``), reached through
``sparsegrad._core``; ``__version__`` is the C++ library's version.
"""

import warnings
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

from . import _core
from ._core import ConvergenceError, SolverError

__version__: str = _core.__version__  # include/sparsegrad/version.hpp

#: The names accepted as ``solver=`` in this build ("spqr" and "cholmod" need SuiteSparse).
solvers: Tuple[str, ...] = tuple(_core.solvers)

__all__ = [
    "__version__",
    "lstsq",
    "lstsq_backward",
    "solvers",
    "SolverError",
    "ConvergenceError",
    "ConvergenceWarning",
]


class ConvergenceWarning(RuntimeWarning):
    """An iterative solve stopped without converging and ``on_failure="warn"`` was asked for."""


_SOLVERS_DOC = """\
        ``"lsmr"`` (iterative, any shape, with the options below), ``"sparse_qr"`` (Eigen's
        sparse QR), ``"normal_cholesky"`` (Cholesky of A^T A with refinement; refuses a matrix
        too ill-conditioned for it), and with SuiteSparse ``"spqr"`` and ``"cholmod"``
        (:data:`sparsegrad.solvers` lists this build's). The direct solvers need a tall or
        square A of full column rank and reuse their factorization for the backward solve of
        the same object (the autograd function's forward and backward)."""

_OPTIONS_DOC = """\
    atol, btol : float, default 1e-6
        LSMR's stopping tolerances (scipy.sparse.linalg.lsmr's meaning).
    conlim : float, default 1e8
        LSMR stops (a failure) when its estimate of cond(A) exceeds conlim.
    maxiter : int, optional
        LSMR's iteration limit per right-hand side; default max(m + n, 20 min(m, n)) (enough for
        real problems of condition up to ~1e5; scipy's min(m, n) stops them early).
    damp : float, default 0
        Solve min ||A X - B||^2 + damp^2 ||X||^2 (LSMR only); the gradient is that of the
        damped problem, and exists for any shape and rank when damp > 0.
    x0 : array of shape (n,) or (n, k), optional
        LSMR's initial guess for the forward solve (tall A, undamped; ignored by the backward).
    column_scaling : bool, default False
        Right preconditioning by M = diag(1 / ||A e_j||) (LSMR, tall A, undamped): same
        solution, usually fewer iterations when the columns of A differ in scale.
    preconditioner : array of shape (n,), optional
        A diagonal right preconditioner M = diag(d) (same rules as column_scaling; at most one
        of the two).
    on_failure : {"raise", "warn"}, default "raise"
        When an iterative solve stops without converging: raise ConvergenceError (with a
        ``diagnostics`` dict) or return the result with a ConvergenceWarning."""


def _with_options_doc(function):
    """Fills the shared parts of a docstring: {solvers} and {options}."""
    doc = function.__doc__.replace("        {solvers}", _SOLVERS_DOC)
    function.__doc__ = doc.replace("    {options}", _OPTIONS_DOC)
    return function


# The options every entry point takes, keyword for keyword; options.cpp (options_from_python)
# reads them, None meaning the default.
_OPTION_NAMES = ("atol", "btol", "conlim", "maxiter", "damp", "x0", "column_scaling",
                 "preconditioner", "on_failure")


def _options(arguments, **extra):
    """The options of a call from its arguments (its locals()), plus `extra`."""
    return {**{name: arguments[name] for name in _OPTION_NAMES}, **extra}


def _core_solver(dtype, options, solver=None, transpose_solver=None):
    """The C++ solver object of one call; options.cpp reads `options` (None means default)."""
    cls = _core.SolverFloat32 if np.dtype(dtype) == np.float32 else _core.SolverFloat64
    return cls(options, solver, transpose_solver)


def _named(solver):
    """(solver name, callable or None) from the `solver` argument."""
    if callable(solver):
        return "lsmr", solver
    if isinstance(solver, str):
        return solver, None
    raise TypeError(
        f"sparsegrad: argument 'solver': expected a solver name or a callable, got "
        f"{type(solver).__name__}"
    )


def _report(core, stacklevel=3):
    """Turns the non-convergence the core recorded (on_failure="warn") into warnings."""
    for message in core.take_failures():
        warnings.warn("sparsegrad: " + message, ConvergenceWarning, stacklevel=stacklevel)


def _indptr_from_sorted_rows(rows, row):
    """CSR index pointer of COO entries sorted by (row, col) without duplicates, so that the
    entries' col and values arrays can be used as CSR indices and data as they are."""
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=rows), out=indptr[1:])
    return indptr


# --- scipy.sparse entry points -----------------------------------------------------------------

_NATIVE_FORMATS = ("csr", "csc", "coo")  # passed to the core as they are; others converted


def _scipy_input(A, where):
    """A itself for csr, csc and coo; A.tocsr() for the other scipy.sparse formats."""
    import scipy.sparse

    if not scipy.sparse.issparse(A):
        raise TypeError(
            f"sparsegrad: {where}: argument 'A': expected a scipy.sparse matrix or array, got "
            f"{type(A).__name__}"
        )
    if A.ndim != 2:
        raise ValueError(f"sparsegrad: {where}: argument 'A': expected 2-D, got {A.ndim}-D")
    return A if A.format in _NATIVE_FORMATS else A.tocsr()


def _scipy_dtype(A, *arrays):
    dtype = np.result_type(A.dtype, *[np.asarray(a).dtype for a in arrays], np.float32)
    if dtype not in (np.float32, np.float64):
        raise TypeError(
            f"sparsegrad: argument 'A': expected real floating-point data (float32 or float64), "
            f"got {dtype}"
        )
    return dtype


def _scipy_matrix(C, dtype):
    """The core's view of a csr, csc or coo matrix."""
    data = C.data.astype(dtype, copy=False)
    m, n = C.shape
    if C.format == "coo":
        row, col = C.row.astype(np.int64, copy=False), C.col.astype(np.int64, copy=False)
        if row.size and np.all(np.diff(row * n + col) > 0):
            # Sorted and without duplicates: CSR over the same col and data arrays.
            return _core.Matrix("csr", m, n, _indptr_from_sorted_rows(m, row), col, data)
        return _core.Matrix("coo", m, n, row, col, data)
    return _core.Matrix(C.format, m, n, C.indptr, C.indices, data)


def _gradient_like(A, C, values):
    """dL/dA with the pattern and entry order of C (A, or A.tocsr() for a converted format),
    in A's format and class (a sparse array for a sparse array)."""
    if C.format == "coo":
        dA = type(C)((values, (C.row, C.col)), shape=C.shape, copy=False)
    else:
        dA = type(C)((values, C.indices, C.indptr), shape=C.shape, copy=False)
    if C is A:
        return dA
    if A.format == "bsr":
        return dA.tobsr(blocksize=A.blocksize)
    return dA.asformat(A.format)


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


_Solver = Union[str, Callable[[Any, np.ndarray], Any]]


@_with_options_doc
def lstsq(
    A: Any,
    B: Any,
    *,
    solver: _Solver = "lsmr",
    atol: Optional[float] = None,
    btol: Optional[float] = None,
    conlim: Optional[float] = None,
    maxiter: Optional[int] = None,
    damp: Optional[float] = None,
    x0: Any = None,
    column_scaling: Optional[bool] = None,
    preconditioner: Any = None,
    on_failure: str = "raise",
    return_info: bool = False,
) -> Any:
    """X = argmin ||A X - B||_2 for a scipy.sparse matrix or array A (m x n, any format: csr,
    csc and coo directly, the others converted with A.tocsr()).

    B has shape (m,) or (m, k); X has shape (n,) or (n, k), float32 when A and B are, float64
    otherwise. A wide A (m < n) gives the minimum-norm solution (LSMR).

    Parameters
    ----------
    solver : str or callable, default "lsmr"
        {solvers}
        A callable ``solver(A, M) -> X`` (M is m x k) replaces the solve.
    {options}
    return_info : bool, default False
        Also return a dict ``{"solves": [...]}``: one dict per solve with its role and solver
        and what the solver reports (LSMR: istop, itn, normr, normar, norma, conda, normx per
        right-hand side; a direct solver: rank, factor_nonzeros, condition_estimate, ...).

    Returns
    -------
    X, or (X, info) with return_info.

    Raises
    ------
    See the failure policy in the module docstring (``help(sparsegrad)``).
    """
    arguments = locals()
    C = _scipy_input(A, "lstsq")
    dtype = _scipy_dtype(C, B)
    B2, vector = _dense("B", "lstsq", B, dtype, C.shape[0])
    name, function = _named(solver)
    options = _options(arguments, solver=name)
    core = _core_solver(dtype, options, _numpy_solver(function, A))
    X = core.lstsq(_scipy_matrix(C, dtype), B2)
    _report(core)
    X = X[:, 0] if vector else X
    return (X, {"solves": core.diagnostics}) if return_info else X


@_with_options_doc
def lstsq_backward(
    A: Any,
    B: Any,
    X: Any,
    dX: Any,
    *,
    solver: _Solver = "lsmr",
    transpose_solver: Optional[Callable[[Any, np.ndarray], Any]] = None,
    atol: Optional[float] = None,
    btol: Optional[float] = None,
    conlim: Optional[float] = None,
    maxiter: Optional[int] = None,
    damp: Optional[float] = None,
    x0: Any = None,
    column_scaling: Optional[bool] = None,
    preconditioner: Any = None,
    on_failure: str = "raise",
    return_info: bool = False,
) -> Any:
    """Reverse mode of :func:`lstsq`: ``(dA, dB)`` for the upstream gradient dX = dL/dX.

    dA has A's format and class (a sparse array for a sparse array) with dL/dA_ij at A's stored
    entries, in A's entry order for csr, csc and coo (sharing A's index arrays; duplicates of a
    coo entry each get the full value); for the other formats it is computed on A.tocsr()'s
    pattern and converted back. dB has B's shape.

    Which A have a gradient: a tall or square A of full column rank (the least-squares
    solution), a wide A (m < n) of full row rank (the minimum-norm solution; LSMR), and any A
    with damp > 0. Undamped, a rank-deficient A raises ValueError. Pass the options of the
    forward call (x0 is ignored).

    Parameters
    ----------
    solver : str or callable, default "lsmr"
        {solvers}
        A callable ``solver(A, M) -> A^+ M`` replaces the solve; LSMR with the options below
        then does the transposed solve unless transpose_solver is given.
    {options}
    transpose_solver : callable, optional
        ``transpose_solver(A, G) -> (A^T)^+ G`` (G is n x k) replaces LSMR's transposed solve,
        as in torchsparsegradutils' sparse_generic_lstsq (with solver="lsmr" or a callable).
    return_info : bool, default False
        Also return a dict ``{"solves": [...], "grad_damp": dL/ddamp}`` (solves as in
        :func:`lstsq`).

    Returns
    -------
    (dA, dB), or (dA, dB, info) with return_info.
    """
    arguments = locals()
    C = _scipy_input(A, "lstsq_backward")
    dtype = _scipy_dtype(C, B, X, dX)
    B2, vector = _dense("B", "lstsq_backward", B, dtype, C.shape[0])
    X2, _ = _dense("X", "lstsq_backward", X, dtype, C.shape[1])
    dX2, _ = _dense("dX", "lstsq_backward", dX, dtype, C.shape[1])
    name, function = _named(solver)
    options = _options(arguments, solver=name)
    core = _core_solver(
        dtype, options, _numpy_solver(function, A), _numpy_solver(transpose_solver, A)
    )
    dA_values, dB, grad_damp = core.lstsq_backward(_scipy_matrix(C, dtype), B2, X2, dX2)
    _report(core)
    dA = _gradient_like(A, C, dA_values)
    dB = dB[:, 0] if vector else dB
    if return_info:
        return dA, dB, {"solves": core.diagnostics, "grad_damp": grad_damp}
    return dA, dB


def __getattr__(name):
    # sparsegrad.torch is imported on first use: importing torch is slow and optional.
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'sparsegrad' has no attribute {name!r}")
