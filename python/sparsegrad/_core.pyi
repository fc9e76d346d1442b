# SPDX-License-Identifier: Apache-2.0
"""Type stubs of sparsegrad._core, the C++ extension (python/src/). Internal: the public API is
sparsegrad.lstsq, sparsegrad.lstsq_backward and sparsegrad.torch."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str
solvers: Tuple[str, ...]

class SolverError(RuntimeError): ...

class ConvergenceError(SolverError):
    diagnostics: Dict[str, Any]

class Matrix:
    """A sparse matrix as its format ("csr", "csc", "coo"), shape and arrays (csr/csc: indptr,
    indices, values; coo: row, col, values)."""

    def __init__(
        self,
        format: str,
        rows: int,
        cols: int,
        a0: npt.ArrayLike,
        a1: npt.ArrayLike,
        values: npt.ArrayLike,
    ) -> None: ...

_Callable = Optional[Callable[[np.ndarray], Any]]

class _Solver:
    def __init__(
        self, options: Dict[str, Any], solver: _Callable = None, transpose_solver: _Callable = None
    ) -> None: ...
    def lstsq(self, matrix: Matrix, B: npt.ArrayLike) -> np.ndarray: ...
    def lstsq_backward(
        self, matrix: Matrix, B: npt.ArrayLike, X: npt.ArrayLike, dX: npt.ArrayLike
    ) -> Tuple[np.ndarray, np.ndarray, float]: ...
    @property
    def diagnostics(self) -> List[Dict[str, Any]]: ...
    def take_failures(self) -> List[str]: ...

class SolverFloat32(_Solver): ...
class SolverFloat64(_Solver): ...
