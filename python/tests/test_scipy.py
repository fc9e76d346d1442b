# SPDX-License-Identifier: Apache-2.0
"""sparsegrad.lstsq / sparsegrad.lstsq_backward on scipy.sparse matrices, against dense numpy
references (numpy.linalg.lstsq and the dense adjoint formula) and finite differences."""

import numpy as np
import pytest
import scipy.sparse

import sparsegrad

TIGHT = dict(atol=1e-14, btol=1e-14, conlim=1e12, maxiter=1000)


def problem(fmt, dtype=np.float64, m=25, n=9, k=3, seed=0, index_dtype=None):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((m, n)) * (rng.random((m, n)) < 0.25)
    D[np.arange(n) % m, np.arange(n)] += 3.0
    A = scipy.sparse.coo_matrix(D).asformat(fmt).astype(dtype)
    if index_dtype is not None and fmt != "coo":
        A.indices = A.indices.astype(index_dtype)
        A.indptr = A.indptr.astype(index_dtype)
    B = rng.standard_normal((m, k) if k else m).astype(dtype)
    return D, A, B


def dense_adjoint(D, B, dX):
    """dL/dA and dL/dB of L = <dX, X>, X = D^+ B, by the dense formula (D full column rank)."""
    B2, dX2 = B.reshape(len(B), -1), dX.reshape(D.shape[1], -1)
    X = np.linalg.lstsq(D, B2, rcond=None)[0]
    H = np.linalg.solve(D.T @ D, dX2)
    dB = D @ H
    r = D @ X - B2
    return -dB @ X.T - r @ H.T, dB.reshape(B.shape)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("k", [None, 1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstsq_and_backward_match_dense(fmt, k, dtype):
    D, A, B = problem(fmt, dtype, k=k)
    tol = 1e-9 if dtype == np.float64 else 2e-3
    opts = TIGHT if dtype == np.float64 else dict(atol=1e-6, btol=1e-6, maxiter=500)
    X = sparsegrad.lstsq(A, B, **opts)
    assert X.dtype == dtype and X.shape == ((9,) if k is None else (9, k))
    ref = np.linalg.lstsq(D, B.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(X, ref, rtol=tol, atol=tol)
    dX = np.linspace(-1, 1, X.size).reshape(X.shape).astype(dtype)
    dA, dB = sparsegrad.lstsq_backward(A, B, X, dX, **opts)
    ref_A, ref_B = dense_adjoint(D, B.astype(np.float64), dX.astype(np.float64))
    assert type(dA) is type(A) and dA.format == A.format and dB.shape == B.shape
    Ac = A.tocoo()
    got = dA.tocoo()
    np.testing.assert_array_equal(got.row, Ac.row)
    np.testing.assert_array_equal(got.col, Ac.col)
    np.testing.assert_allclose(got.data, ref_A[Ac.row, Ac.col], rtol=10 * tol, atol=10 * tol)
    np.testing.assert_allclose(dB, ref_B, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_index_dtypes(index_dtype):
    D, A, B = problem("csr", index_dtype=index_dtype)
    X = sparsegrad.lstsq(A, B, **TIGHT)
    np.testing.assert_allclose(X, np.linalg.lstsq(D, B, rcond=None)[0], atol=1e-9)


def test_finite_differences_over_values():
    D, A, B = problem("csr", m=10, n=4, k=2, seed=4)
    w = np.linspace(-1, 1, 8).reshape(4, 2)
    X = sparsegrad.lstsq(A, B, **TIGHT)
    dA, _ = sparsegrad.lstsq_backward(A, B, X, w, **TIGHT)
    h = 1e-6
    for e in range(A.nnz):
        up, down = A.copy(), A.copy()
        up.data[e] += h
        down.data[e] -= h
        fd = ((sparsegrad.lstsq(up, B, **TIGHT) - sparsegrad.lstsq(down, B, **TIGHT)) * w).sum() / (2 * h)
        assert abs(dA.data[e] - fd) < 1e-6 * max(1.0, abs(fd))


def test_unsorted_coo_with_duplicates():
    row = np.array([0, 3, 1, 2, 3, 4, 0, 5, 6, 3])
    col = np.array([0, 1, 1, 2, 2, 0, 0, 2, 1, 1])
    val = np.array([1.0, 2.0, 1.5, 3.0, -1.0, 0.7, 0.5, 1.2, -0.4, 0.25])
    A = scipy.sparse.coo_matrix((val, (row, col)), shape=(7, 3))
    D = A.toarray()
    B = np.cos(np.arange(7.0))
    X = sparsegrad.lstsq(A, B, **TIGHT)
    np.testing.assert_allclose(X, np.linalg.lstsq(D, B, rcond=None)[0], atol=1e-10)
    dA, dB = sparsegrad.lstsq_backward(A, B, X, np.ones(3), **TIGHT)
    ref_A, _ = dense_adjoint(D, B, np.ones(3))
    # each stored entry, duplicates included, gets dL/dA_ij (the derivative by its own value)
    np.testing.assert_allclose(dA.data, ref_A[row, col], atol=1e-9)
    np.testing.assert_array_equal(dA.row, row)


def test_python_solvers():
    D, A, B = problem("csc")
    calls = []

    def solver(A_, M):
        calls.append(("solver", M.shape))
        return np.linalg.lstsq(A_.toarray(), M, rcond=None)[0]

    def transpose_solver(A_, G):
        calls.append(("transpose", G.shape))
        return np.linalg.pinv(A_.toarray().T) @ G

    X = sparsegrad.lstsq(A, B, solver=solver)
    dA, dB = sparsegrad.lstsq_backward(A, B, X, np.ones_like(X), solver=solver,
                                       transpose_solver=transpose_solver)
    assert calls == [("solver", (25, 3)), ("transpose", (9, 3)), ("solver", (25, 3))]
    ref_A, ref_B = dense_adjoint(D, B, np.ones_like(X))
    np.testing.assert_allclose(dB, ref_B, atol=1e-9)


def test_errors():
    D, A, B = problem("csr")
    with pytest.raises(TypeError, match="scipy.sparse matrix or array, got ndarray"):
        sparsegrad.lstsq(D, B)
    with pytest.raises(TypeError, match="floating"):
        sparsegrad.lstsq(A.astype(np.complex128), B)
    with pytest.raises(ValueError, match="rows"):
        sparsegrad.lstsq(A, B[:-1])
    with pytest.raises(ValueError, match="finite"):
        sparsegrad.lstsq(A, B * np.nan)
    with pytest.raises(ValueError, match="on_failure"):
        sparsegrad.lstsq(A, B, on_failure="ignore")
    with pytest.raises(TypeError, match="maxiter"):
        sparsegrad.lstsq(A, B, maxiter=2.5)
    broken = A.copy()
    broken.indices = broken.indices.copy()
    broken.indices[0] = 99
    with pytest.raises(ValueError, match="indices in"):
        sparsegrad.lstsq(broken, B)
    with pytest.raises(sparsegrad.ConvergenceError) as info:
        sparsegrad.lstsq(A, B, maxiter=1)
    assert set(info.value.diagnostics) >= {"istop", "itn", "normr", "normar"}
    assert info.value.diagnostics["itn"] == [1, 1, 1]
    with pytest.warns(sparsegrad.ConvergenceWarning):
        sparsegrad.lstsq(A, B, maxiter=1, on_failure="warn")
    with pytest.raises(sparsegrad.SolverError, match="returned a 3x3 matrix"):
        sparsegrad.lstsq(A, B, solver=lambda A_, M: np.zeros((3, 3)))
    X = sparsegrad.lstsq(A, B, **TIGHT)
    with pytest.raises(ValueError, match="dX"):
        sparsegrad.lstsq_backward(A, B, X, np.ones((8, 3)))
