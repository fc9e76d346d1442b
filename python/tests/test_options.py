# SPDX-License-Identifier: Apache-2.0
"""The options and solvers of the scipy-style API (solver names, damp, x0, column_scaling,
preconditioner, maxiter, on_failure, return_info), every scipy.sparse format and class, and the
messages, against dense numpy references: numpy.linalg.lstsq, the damped normal equations, the
dense adjoint formulas and central finite differences. Nothing here compares sparsegrad with
itself except where a property says two runs must agree."""

import numpy as np
import pytest
import scipy.sparse

import sparsegrad

TIGHT = dict(atol=1e-14, btol=1e-14, conlim=1e12, maxiter=1000)
DIRECT = [s for s in sparsegrad.solvers if s != "lsmr"]


def problem(m=25, n=9, k=3, seed=0, dtype=np.float64):
    """A well-conditioned m x n matrix (a strong diagonal), its csr form and k right-hand sides."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((m, n)) * (rng.random((m, n)) < 0.25)
    D[np.arange(n) % m, np.arange(n)] += 3.0
    B = rng.standard_normal((m, k) if k else m)
    return D, scipy.sparse.csr_matrix(D).astype(dtype), B.astype(dtype)


def tolerance(D, dtype):
    """Relative accuracy to expect of a least-squares solution and of its gradient: perturbation
    theory bounds the forward error by c·u·(κ + κ²·‖r‖/(‖A‖‖x‖)) ≤ 2c·u·κ², and the gradients
    (two solves with AᵀA) by the same order; c = 100 covers the dimension-dependent constants and
    LSMR's stopping at atol = btol = 1e-14 (below u·κ² here)."""
    u = np.finfo(dtype).eps
    return 200 * u * np.linalg.cond(D) ** 2


def dense_adjoint(D, B, dX, damp=0.0):
    """dL/dA, dL/dB and dL/ddamp of L = <dX, X>, X = (DᵀD + damp²I)⁻¹DᵀB (D tall full column
    rank, or damp > 0): H = (DᵀD + damp²I)⁻¹dX, dB = D H, dA = -dB Xᵀ - r Hᵀ,
    ddamp = -2 damp <H, X>."""
    B2, dX2 = B.reshape(len(B), -1), dX.reshape(D.shape[1], -1)
    N = D.T @ D + damp**2 * np.eye(D.shape[1])
    X = np.linalg.solve(N, D.T @ B2)
    H = np.linalg.solve(N, dX2)
    dB = D @ H
    r = D @ X - B2
    return -dB @ X.T - r @ H.T, dB.reshape(B.shape), -2 * damp * np.sum(H * X)


def values_at(A, dense):
    """dense[i, j] at the stored entries of A, in A's entry order (csr, csc or coo)."""
    coo = A.tocoo()
    return dense[coo.row, coo.col]


# --- solvers by name ------------------------------------------------------------------------


@pytest.mark.parametrize("solver", sparsegrad.solvers)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_solver_name_solves_and_differentiates(solver, dtype):
    D, A, B = problem(dtype=dtype)
    tol = tolerance(D, dtype)
    options = dict(TIGHT) if solver == "lsmr" else {}
    if solver == "lsmr" and dtype == np.float32:
        options = dict(atol=1e-7, btol=1e-7, maxiter=500)  # LSMR stops at ~u in float32
    X, info = sparsegrad.lstsq(A, B, solver=solver, return_info=True, **options)
    ref = np.linalg.lstsq(D, B.astype(np.float64), rcond=None)[0]
    assert X.dtype == dtype
    np.testing.assert_allclose(X, ref, rtol=0, atol=tol * np.abs(ref).max())
    assert [s["solver"] for s in info["solves"]] == [solver]
    dX = np.linspace(-1, 1, X.size).reshape(X.shape).astype(dtype)
    dA, dB, info = sparsegrad.lstsq_backward(A, B, X, dX, solver=solver, return_info=True,
                                             **options)
    ref_A, ref_B, _ = dense_adjoint(D, B.astype(np.float64), dX.astype(np.float64))
    scale = max(np.abs(ref_A).max(), np.abs(ref_B).max())
    np.testing.assert_allclose(dA.data, values_at(A, ref_A), rtol=0, atol=tol * scale)
    np.testing.assert_allclose(dB, ref_B, rtol=0, atol=tol * scale)
    assert info["grad_damp"] == 0.0
    if solver != "lsmr":
        (solve,) = info["solves"]  # one solve with the normal matrix: H = (AᵀA)⁻¹dX
        assert solve["role"] == "normal-equation solve" and solve["rank"] == D.shape[1]


@pytest.mark.parametrize("solver", DIRECT)
def test_direct_solvers_refuse_rank_deficient_A_naming_the_rank(solver):
    D, _, B = problem()
    D[:, 8] = D[:, 7]  # two equal columns: rank 8 of 9
    with pytest.raises(ValueError, match="rank 8 of 9"):
        sparsegrad.lstsq(scipy.sparse.csc_matrix(D), B, solver=solver)


def test_unknown_solver_and_lsmr_only_options():
    _, A, B = problem()
    with pytest.raises(ValueError, match="argument 'solver'.*'sparse_qr'.*got 'qr'"):
        sparsegrad.lstsq(A, B, solver="qr")
    with pytest.raises(TypeError, match="solver name or a callable"):
        sparsegrad.lstsq(A, B, solver=3)
    for name, value in [("damp", 0.5), ("x0", np.zeros(9)), ("column_scaling", True),
                        ("preconditioner", np.ones(9))]:
        with pytest.raises(ValueError, match=f"argument '{name}'.*solver='lsmr'"):
            sparsegrad.lstsq(A, B, solver="sparse_qr", **{name: value})


# --- LSMR's options -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(25, 9), (6, 10)], ids=["tall", "wide"])
def test_damp_solution_and_gradients_match_the_damped_normal_equations(shape):
    D, A, B = problem(*shape)
    damp = 0.7
    X = sparsegrad.lstsq(A, B, damp=damp, **TIGHT)
    N = D.T @ D + damp**2 * np.eye(D.shape[1])
    np.testing.assert_allclose(X, np.linalg.solve(N, D.T @ B), atol=1e-10)
    dX = np.cos(np.arange(X.size)).reshape(X.shape)
    dA, dB, info = sparsegrad.lstsq_backward(A, B, X, dX, damp=damp, return_info=True, **TIGHT)
    ref_A, ref_B, ref_damp = dense_adjoint(D, B, dX, damp)
    np.testing.assert_allclose(dA.data, values_at(A, ref_A), atol=1e-9)
    np.testing.assert_allclose(dB, ref_B, atol=1e-9)
    # dL/ddamp against central differences of L(damp) = <dX, X(damp)> on the dense solution
    # (truncation error O(h²) with h = 1e-5, rounding ~u/h: both below 1e-8).
    h = 1e-5
    L = lambda d: np.sum(dX * np.linalg.solve(D.T @ D + d**2 * np.eye(D.shape[1]), D.T @ B))
    assert info["grad_damp"] == pytest.approx(ref_damp, abs=1e-9)
    assert info["grad_damp"] == pytest.approx((L(damp + h) - L(damp - h)) / (2 * h), abs=1e-7)


def test_x0_starts_lsmr_there():
    """A consistent system B = D X_true: from x0 = X_true the residual is rounding only, and
    LSMR (scipy's rules: ‖r‖ ≤ btol‖b‖, ‖b‖ of the original B) stops after at most one
    iteration, while from 0 it needs several."""
    D, A, _ = problem(k=2)
    X_true = np.arange(18.0).reshape(9, 2) / 7
    B = D @ X_true
    X, info = sparsegrad.lstsq(A, B, x0=X_true, return_info=True, **TIGHT)
    np.testing.assert_allclose(X, X_true, atol=1e-12)
    cold = sparsegrad.lstsq(A, B, return_info=True, **TIGHT)[1]
    assert max(info["solves"][0]["itn"]) <= 1 < min(cold["solves"][0]["itn"])
    x = sparsegrad.lstsq(A, B[:, 0], x0=X_true[:, 0], **TIGHT)  # a vector x0 for a vector B
    np.testing.assert_allclose(x, X_true[:, 0], atol=1e-12)
    with pytest.raises(ValueError, match="x0"):
        sparsegrad.lstsq(A, B, x0=np.zeros((9, 3)))  # k = 2 right-hand sides, x0 has 3


def test_column_scaling_and_a_diagonal_preconditioner():
    """Columns scaled over four orders of magnitude: the scaled problem (y = x / d with
    d = 1/‖A e_j‖) is well conditioned, so its dense solution is an accurate reference for y,
    and LSMR on it needs far fewer iterations than on A."""
    D, _, B = problem(m=300, n=120, k=1)
    D *= np.logspace(0, 4, 120)
    A = scipy.sparse.csc_matrix(D)
    d = 1 / np.linalg.norm(D, axis=0)
    y_ref = np.linalg.lstsq(D * d, B, rcond=None)[0]
    options = dict(atol=1e-10, btol=1e-10, conlim=1e12, maxiter=20000, return_info=True)
    _, plain = sparsegrad.lstsq(A, B, column_scaling=False, **options)
    X, scaled = sparsegrad.lstsq(A, B, column_scaling=True, **options)
    X_d, by_d = sparsegrad.lstsq(A, B, preconditioner=d, **options)
    # y has condition number κ(D·diag(d)) ≈ 3: LSMR's stop at 1e-10 leaves y within ~1e-9.
    np.testing.assert_allclose(X / d[:, None], y_ref, atol=1e-8)
    np.testing.assert_allclose(X_d / d[:, None], y_ref, atol=1e-8)
    itn = lambda info: info["solves"][0]["itn"][0]
    assert itn(scaled) < itn(plain) / 2
    # column_scaling applies the powers of two nearest 1/‖A e_j‖ (column norms within a factor
    # sqrt(2) of 1): nearly the iterations of diag(1/‖A e_j‖) itself
    assert abs(itn(by_d) - itn(scaled)) <= 0.2 * itn(scaled) + 2
    with pytest.raises(ValueError, match="preconditioner"):
        sparsegrad.lstsq(A, B, column_scaling=True, preconditioner=d)
    with pytest.raises(ValueError, match="preconditioner"):
        sparsegrad.lstsq(A, B, preconditioner=np.ones((120, 2)))


def test_maxiter_and_the_failure_policy():
    _, A, B = problem()
    with pytest.raises(sparsegrad.ConvergenceError) as info:
        sparsegrad.lstsq(A, B, maxiter=2)  # the default policy: raise
    assert info.value.diagnostics["istop"] == [7, 7, 7] and info.value.diagnostics["itn"] == [2] * 3
    message = str(info.value)
    assert "maxiter" in message and 'on_failure="warn"' in message and "options." not in message
    with pytest.warns(sparsegrad.ConvergenceWarning, match="did not converge"):
        X, report = sparsegrad.lstsq(A, B, maxiter=2, on_failure="warn", return_info=True)
    assert X.shape == (9, 3) and report["solves"][0]["istop"] == [7, 7, 7]
    with pytest.raises(ValueError, match="argument 'on_failure'.*'raise' or 'warn'"):
        sparsegrad.lstsq(A, B, on_failure="ignore")


def test_option_types_and_ranges_are_named():
    _, A, B = problem()
    with pytest.raises(TypeError, match="unexpected keyword argument 'atoll'"):
        sparsegrad.lstsq(A, B, atoll=1e-3)
    with pytest.raises(TypeError, match="argument 'maxiter': expected an int, got 2.5"):
        sparsegrad.lstsq(A, B, maxiter=2.5)
    with pytest.raises(TypeError, match="argument 'maxiter'"):
        sparsegrad.lstsq(A, B, maxiter=True)
    with pytest.raises(TypeError, match="argument 'atol': expected a float"):
        sparsegrad.lstsq(A, B, atol="tight")
    with pytest.raises(TypeError, match="argument 'column_scaling': expected True or False"):
        sparsegrad.lstsq(A, B, column_scaling=1)
    sparsegrad.lstsq(A, B, maxiter=np.int64(50), atol=np.float32(1e-6))  # numpy scalars work
    for name, value in [("atol", -1.0), ("btol", np.inf), ("damp", -0.1), ("conlim", 0.5),
                        ("maxiter", -3)]:
        with pytest.raises(ValueError, match=f"argument '{name}'") as info:
            sparsegrad.lstsq(A, B, **{name: value})
        assert "options." not in str(info.value)


# --- formats and classes --------------------------------------------------------------------


FORMATS = ["csr", "csc", "coo", "lil", "dok", "dia", "bsr"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_every_format_and_class(fmt, kind):
    D, _, B = problem(m=12, n=6, k=2, seed=3)
    A = getattr(scipy.sparse, f"{fmt}_{kind}")(D)
    if fmt == "bsr":
        A = getattr(scipy.sparse, f"bsr_{kind}")(D, blocksize=(3, 2))
    X = sparsegrad.lstsq(A, B, **TIGHT)
    np.testing.assert_allclose(X, np.linalg.lstsq(D, B, rcond=None)[0], atol=1e-10)
    dX = np.ones_like(X)
    dA, dB = sparsegrad.lstsq_backward(A, B, X, dX, **TIGHT)
    assert type(dA) is type(A) and dA.shape == A.shape
    if fmt == "bsr":
        assert dA.blocksize == A.blocksize
    ref_A, ref_B, _ = dense_adjoint(D, B, dX)
    stored = A.tocsr().tocoo()  # the documented pattern (bsr's blocks keep their zeros)
    pattern = np.zeros(D.shape, dtype=bool)
    pattern[stored.row, stored.col] = True
    np.testing.assert_allclose(dA.toarray()[pattern], ref_A[pattern], atol=1e-9)
    assert not np.any(dA.toarray()[~pattern])  # nothing off A's pattern
    np.testing.assert_allclose(dB, ref_B, atol=1e-9)


def test_wide_A_gets_the_minimum_norm_gradient():
    """The docstring's promise: a wide A of full row rank has a gradient (that of the minimum-
    norm solution X = A⁺B), checked by central differences of L(A) = <dX, pinv(A) B> over each
    stored entry (truncation O(h²) with h = 1e-6, rounding ~u·|L|/h: both ≤ 1e-8; checked to
    1e-6)."""
    D, A, B = problem(m=6, n=10, k=2, seed=5)
    X = sparsegrad.lstsq(A, B, **TIGHT)
    np.testing.assert_allclose(X, np.linalg.pinv(D) @ B, atol=1e-10)
    dX = np.sin(np.arange(X.size)).reshape(X.shape)
    dA, dB = sparsegrad.lstsq_backward(A, B, X, dX, **TIGHT)
    L = lambda M: np.sum(dX * (np.linalg.pinv(M) @ B))
    coo = A.tocoo()
    h = 1e-6
    for e, (i, j) in enumerate(zip(coo.row, coo.col)):
        up, down = D.copy(), D.copy()
        up[i, j] += h
        down[i, j] -= h
        assert dA.data[e] == pytest.approx((L(up) - L(down)) / (2 * h), abs=1e-6)
    np.testing.assert_allclose(dB, np.linalg.pinv(D).T @ dX, atol=1e-9)


def test_solver_callable_with_a_name_or_damp_is_refused():
    D, A, B = problem()
    exact = lambda A_, M: np.linalg.lstsq(A_.toarray(), M, rcond=None)[0]
    with pytest.raises(ValueError, match="argument 'damp'"):
        sparsegrad.lstsq(A, B, solver=exact, damp=0.1)
    X = sparsegrad.lstsq(A, B, solver=exact)
    with pytest.raises(ValueError, match="argument 'solver'"):
        sparsegrad.lstsq_backward(A, B, X, np.ones_like(X), solver="sparse_qr",
                                  transpose_solver=lambda A_, G: G)


def test_one_solver_object_reuses_its_factorization_for_the_backward():
    """What sparsegrad.torch relies on: the forward and the backward of one core solver object
    share a direct solver's factorization (the same A, bit for bit)."""
    D, A, B = problem()
    core = sparsegrad._core.SolverFloat64({"solver": "sparse_qr"})
    matrix = sparsegrad._scipy_matrix(A, np.float64)
    X = core.lstsq(matrix, B)
    dA, dB, _ = core.lstsq_backward(matrix, B, X, np.ones_like(X))
    forward, backward = core.diagnostics
    assert (forward["factorizations"], forward["reused"]) == (1, False)
    assert (backward["factorizations"], backward["reused"]) == (1, True)
    np.testing.assert_allclose(dB, dense_adjoint(D, B, np.ones_like(X))[1], atol=1e-9)


def test_trust_estimates_are_reported_and_hold():
    """The trust contract (docs/accuracy.md): the default call returns only with an estimated
    relative error below the tolerance (6e-6 for X, 1.2e-4 for the gradients), the estimates are
    in the diagnostics, and the actual errors against the dense references are below 10 times
    the tolerance (the estimates are not proofs, see the C++ tests/trust_test.cpp). Column 0 is
    scaled by 1e-4: a case the unscaled solve got wrong by 100 %."""
    D, _, B = problem(m=200, n=40, k=2, seed=3)
    D[:, 0] *= 1e-4
    A = scipy.sparse.csr_matrix(D)
    X, info = sparsegrad.lstsq(A, B, return_info=True)
    solve = info["solves"][0]
    assert all(e <= 6.1e-6 for e in solve["error"])
    assert all(0 < lo <= hi for lo, hi in zip(solve["sigma_min"], solve["sigma_max"]))
    X_ref = np.linalg.lstsq(D, B, rcond=None)[0]
    assert np.linalg.norm(X - X_ref) <= 6.1e-5 * np.linalg.norm(X_ref)
    dX = np.random.default_rng(4).standard_normal(X.shape)
    dA, dB, info = sparsegrad.lstsq_backward(A, B, X, dX, return_info=True)
    backward = info["solves"][-1]
    assert backward["error_A"] <= 1.23e-4 and backward["error_B"] <= 1.23e-4
    ref_A, ref_B, _ = dense_adjoint(D, B, dX)
    assert np.linalg.norm(dB - ref_B) <= 1.2e-3 * np.linalg.norm(ref_B)
    assert np.linalg.norm(dA.data - values_at(A, ref_A)) <= 1.2e-3 * np.linalg.norm(
        values_at(A, ref_A))
