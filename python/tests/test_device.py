# SPDX-License-Identifier: Apache-2.0
"""The torch path of sparsegrad.torch (sparsegrad/_device.py), forced on the CPU: agreement with
the C++ path (same stop codes and iteration counts, X and the gradients to the accuracy both
guarantee), dense references, the failure policy, the error contract and the one
synchronisation per iteration, in the forward LSMR and in the backward's CRAIG.
test_torch.py runs in full on this path too (ctest's python_test_torch_on_torch_path). Tests
that need a GPU are skipped without one."""

import os
import warnings

import numpy as np
import pytest
import torch

import sparsegrad
from sparsegrad import _device
from sparsegrad.torch import sparse_generic_lstsq

from conftest import (
    DATA_DIR,
    TIGHT,
    dense_gradients,
    dense_solution,
    grad_values,
    pattern_values,
    random_dense_matrix,
    sparse,
    tolerance,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def problem(dtype, layout, m=80, n=25, k=3, seed=0, column_scale=None):
    D = random_dense_matrix(m, n, 0.2, seed, torch.float64)
    if column_scale is not None:
        D = D * column_scale
    g = torch.Generator().manual_seed(seed + 1)
    B = torch.randn(m, k, generator=g, dtype=torch.float64)
    return D.to(dtype), sparse(D.to(dtype), layout), B.to(dtype)


def both_paths(A, B, **options):
    """(X, diagnostics) of the C++ core and of the torch path for the same call."""
    out = []
    for path in ("core", "torch"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", sparsegrad.ConvergenceWarning)
            X = sparse_generic_lstsq(A, B, path=path, on_failure="warn", **options)
        out.append((X, [str(w.message) for w in caught]))
    return out


def diagnostics(A, B, path, **options):
    """The LSMR diagnostics of one forward solve on `path` (through the core's own objects)."""
    names = {name: None for name in sparsegrad._OPTION_NAMES}
    names.update(solver="lsmr", on_failure="warn", **options)
    if path == "torch":
        _, decisions = _device.lsmr(A, B, names)
        return decisions.diagnostics[0]
    from sparsegrad.torch import _columns, _matrix

    dtype = np.float32 if A.dtype == torch.float32 else np.float64
    core = sparsegrad._core_solver(dtype, names)
    core.lstsq(_matrix(A), _columns(B))
    return core.diagnostics[0]


def shipped(name):
    scipy_io = pytest.importorskip("scipy.io")
    M = scipy_io.mmread(os.path.join(DATA_DIR, name)).tocoo()
    A = torch.sparse_coo_tensor(np.vstack([M.row, M.col]), M.data, M.shape).coalesce()
    B = torch.cos(0.37 * torch.arange(M.shape[0], dtype=torch.float64)).reshape(-1, 1)
    return torch.tensor(M.toarray()), A, B


# --- agreement with the C++ path ------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("scaled", [False, True], ids=["unit", "badly-scaled-columns"])
def test_same_decisions_as_the_core(dtype, layout, scaled):
    # Badly scaled columns (1e-4 .. 1e4) exercise the column scaling and the trust gate.
    scale = torch.logspace(-4, 4, 25, dtype=torch.float64) if scaled else None
    D, A, B = problem(dtype, layout, column_scale=scale)
    core, dev = diagnostics(A, B, "core"), diagnostics(A, B, "torch")
    # The two paths differ only in the summation order of the products and norms (rounding of
    # order eps); on these well-separated stopping tests that changes no decision.
    assert dev["istop"] == core["istop"]
    assert dev["itn"] == core["itn"]
    ref = dense_solution(D, B)
    X = sparse_generic_lstsq(A, B, path="torch")
    # The default trust gate: estimated relative error below 6e-6 in the working precision
    # (double for float data too), plus float's rounding of x for float data.
    bound = 6.1e-6 + (6e-8 if dtype == torch.float32 else 0)
    error = ((X.double() - ref).norm(dim=0) / ref.norm(dim=0)).max()
    assert error <= 2 * bound  # the estimate bounds the error up to its sigma_min (1e-3)


@pytest.mark.parametrize("name", ["well1033.mtx", "illc1033.mtx"])
def test_shipped_real_matrices_agree_with_the_core_and_the_dense_solution(name):
    D, A, B = shipped(name)
    core, dev = diagnostics(A, B, "core"), diagnostics(A, B, "torch")
    assert dev["istop"] == core["istop"] and dev["istop"][0] in (1, 2)
    # illc1033 (cond 1.9e4) runs hundreds of iterations: rounding differences of order eps
    # change the trajectory, not its length beyond a few percent.
    assert abs(dev["itn"][0] - core["itn"][0]) <= 0.05 * core["itn"][0] + 1
    X = sparse_generic_lstsq(A, B, path="torch")
    ref = dense_solution(D, B)
    assert (X - ref).norm() / ref.norm() <= 2 * max(dev["error"][0], 6.1e-6)


def test_uncoalesced_coo_and_vector_shapes():
    D, A, B = problem(torch.float64, "coo", k=1)
    i, v = A._indices(), A._values()
    # Every entry split in two halves: the same matrix, stored with duplicates.
    Au = torch.sparse_coo_tensor(torch.cat([i, i], 1), torch.cat([v / 2, v / 2]), A.shape)
    assert not Au.is_coalesced()
    ref = dense_solution(D, B)
    for rhs, shape in ((B[:, 0], (25,)), (B, (25, 1))):
        X = sparse_generic_lstsq(Au, rhs, path="torch", **TIGHT)
        assert X.shape == shape
        assert torch.allclose(X.reshape(-1, 1), ref, rtol=tolerance(torch.float64), atol=1e-9)


def test_options_reach_the_device_solve():
    D, A, B = problem(torch.float64, "csr", k=2)
    n = D.shape[1]
    # damp: the normal equations of the damped problem
    damp = 0.7
    X = sparse_generic_lstsq(A, B, path="torch", damp=damp, **TIGHT)
    ref = torch.linalg.solve(D.T @ D + damp**2 * torch.eye(n, dtype=torch.float64), D.T @ B)
    assert torch.allclose(X, ref, atol=1e-10)
    # x0, a preconditioner (a tensor d: M = diag(d)), column scaling off
    ref = dense_solution(D, B)
    x0 = ref + 1e-3
    d = torch.linspace(0.5, 2.0, n, dtype=torch.float64)
    for extra in (dict(x0=x0), dict(preconditioner=d), dict(column_scaling=False)):
        (Xc, _), (Xd, _) = both_paths(A, B, **TIGHT, **extra)
        assert torch.allclose(Xd, ref, atol=1e-9), extra
        assert torch.allclose(Xd, Xc, atol=1e-9), extra


def test_failure_policy_is_the_cores():
    D, A, B = problem(torch.float64, "coo")
    with pytest.raises(sparsegrad.ConvergenceError) as raised:
        sparse_generic_lstsq(A, B, path="torch", maxiter=2)
    assert raised.value.diagnostics["istop"] == [7, 7, 7]
    assert raised.value.diagnostics["itn"] == [2, 2, 2]
    (Xc, wc), (Xd, wd) = both_paths(A, B, maxiter=2)
    assert len(wd) == 1 and "did not converge" in wd[0] and "istop 7" in wd[0]
    assert len(wc) == 1
    assert torch.allclose(Xd, Xc, atol=1e-12)  # two iterations of the same recurrences


def test_errors_name_the_argument():
    D, A, B = problem(torch.float64, "csr")
    bad = A.clone()
    bad.values()[4] = float("nan")
    with pytest.raises(ValueError, match=r"argument 'A'.*finite values.*nan at stored entry 4"):
        sparse_generic_lstsq(bad, B, path="torch")
    B2 = B.clone()
    B2[3, 1] = float("inf")
    with pytest.raises(ValueError, match=r"argument 'B'.*finite values.*inf at \(3, 1\)"):
        sparse_generic_lstsq(A, B2, path="torch")
    with pytest.raises(ValueError, match="argument 'path'.*'gpu'"):
        sparse_generic_lstsq(A, B, path="gpu")
    with pytest.raises(ValueError, match="argument 'path'.*direct solver.*'sparse_qr'"):
        sparse_generic_lstsq(A, B, path="torch", solver="sparse_qr")
    with pytest.raises(ValueError, match="argument 'x0'"):
        sparse_generic_lstsq(A, B, path="torch", x0=torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="argument 'atol'"):
        sparse_generic_lstsq(A, B, path="torch", atol=-1.0)


def on_the_device_of(A, solve, seen):
    """`solve` recording the devices of the tensors it is called with."""

    def recorded(A_, rhs):
        seen.append((A_.device, rhs.device))
        return solve(A_, rhs)

    return recorded


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_callables_run_on_the_device_of_A(layout):
    # The seed's custom solvers on the torch path: called with A and the right-hand side on A's
    # device, the gradient's decisions (the rank check of the two-solve form) the C++ core's.
    D, A, B = problem(torch.float64, layout, m=30, n=8, k=2)
    pinv = torch.linalg.pinv(D)
    seen = []
    lstsq = on_the_device_of(A, lambda A_, R: pinv.to(R.device) @ R, seen)
    transpose = on_the_device_of(A, lambda A_, G: pinv.T.to(G.device) @ G, seen)
    A = A.detach().requires_grad_(True)
    Bg = B.detach().requires_grad_(True)
    X = sparse_generic_lstsq(A, Bg, lstsq, transpose, path="torch")
    assert X.device == A.device
    dX = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    (X * dX).sum().backward()
    assert seen == [(A.device, A.device)] * 3  # forward, (A^T)^+ dX, A^+ dB
    # Against the dense formula dB = (A^T)^+ dX, dA = -dB X^T - r (A^+ dB)^T on the pattern.
    Xr = pinv @ B
    dB = pinv.T @ dX
    dA = -dB @ Xr.T - (D @ Xr - B) @ (pinv @ dB).T
    assert torch.allclose(X.detach(), Xr, atol=1e-12)
    assert torch.allclose(Bg.grad, dB, atol=1e-12)
    assert torch.allclose(A.grad.to_dense(), dA * (D != 0), atol=1e-12)


def test_callables_on_a_rank_deficient_A_are_refused_by_the_core():
    # The two-solve form's rank test (AdjointEngine::two_solves) runs for device callables too.
    D, A, B = problem(torch.float64, "coo", m=30, n=8, k=1)
    D[:, 7] = D[:, 6]
    A = sparse(D, "coo").requires_grad_(True)
    pinv = torch.linalg.pinv(D)
    X = sparse_generic_lstsq(
        A, B, lambda A_, R: pinv @ R, lambda A_, G: pinv.T @ G, path="torch"
    )
    dX = torch.arange(8, dtype=torch.float64)  # outside range(A^T): its entries 6, 7 differ
    with pytest.raises(ValueError, match="argument 'A'.*full column rank"):
        (X[:, 0] * dX).sum().backward()


def test_one_device_to_host_transfer_per_iteration(monkeypatch):
    D, A, B = problem(torch.float64, "csr", k=4)
    itn = max(diagnostics(A, B, "torch")["itn"])
    calls = []
    host = _device._host
    monkeypatch.setattr(_device, "_host", lambda *t: calls.append(len(t)) or host(*t))
    X = sparse_generic_lstsq(A, B, path="torch")
    # Before the loop: ||B_j|| for the rescaling, the start; in it one per iteration; after it
    # the last decision and ||x_j||.
    assert len(calls) <= itn + 4
    assert X.shape == (25, 4)


def test_gradients_through_the_torch_path():
    D, A, B = problem(torch.float64, "coo", m=20, n=6, k=2)
    A = A.detach().requires_grad_(True)
    B = B.detach().requires_grad_(True)
    f = lambda a, b: sparse_generic_lstsq(a, b, path="torch", **TIGHT)
    assert torch.autograd.gradcheck(
        f, (A, B), check_sparse_nnz=True, check_undefined_grad=False, atol=1e-6, rtol=1e-5
    )


# --- the backward on the device -------------------------------------------------------------


def backward(A, B, dX, path, **options):
    """(dL/dA values in A's entry order, dL/dB, the backward solve's diagnostics) of
    L = <dX, X(A, B)> on `path`, through the library's own objects."""
    names = {name: None for name in sparsegrad._OPTION_NAMES}
    names.update(solver="lsmr", on_failure="warn", **options)
    if path == "torch":
        X, decisions = _device.lsmr(A, B, names)
        error = decisions.diagnostics[-1]["error"]
        values, dB, _, done = _device.lstsq_backward(A, B, X, dX, names, error)
        return values, dB, done.diagnostics[-1]
    from sparsegrad.torch import _columns, _matrix

    dtype = np.float32 if A.dtype == torch.float32 else np.float64
    core = sparsegrad._core_solver(dtype, names)
    X = core.lstsq(_matrix(A), _columns(B))
    values, dB, _ = core.lstsq_backward(_matrix(A), _columns(B), X, _columns(dX))
    return torch.from_numpy(values), torch.from_numpy(dB), core.diagnostics[-1]


def gradient_bound(dtype):
    """The default gradient gate (LsmrOptions::gradient_tolerance_for): eps^(1/4) of double, at
    least sqrt(eps) of the data's type (3.5e-4 for float). The estimate bounds the error up to
    its estimate of sigma_min, hence the factor 2 (as for X above)."""
    return 2 * (1.2e-4 if dtype == torch.float64 else 3.5e-4)


def relative(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("case", ["unit", "badly-scaled-columns", "damped"])
def test_backward_same_decisions_as_the_core_and_the_dense_gradients(dtype, layout, case):
    badly_scaled = case == "badly-scaled-columns"
    scale = torch.logspace(-4, 4, 25, dtype=torch.float64) if badly_scaled else None
    D, A, B = problem(dtype, layout, column_scale=scale)
    damp = 0.3 if case == "damped" else None
    dX = torch.randn(25, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    dX = dX.to(dtype)
    dA_c, dB_c, core = backward(A, B, dX, "core", damp=damp)
    dA_d, dB_d, dev = backward(A, B, dX, "torch", damp=damp)
    # CRAIG's decisions are the same (the paths differ in the summation order only).
    assert dev["role"] == core["role"] == "normal-equation solve"
    assert dev["istop"] == core["istop"] and dev["itn"] == core["itn"]
    assert max(dev["error_A"], dev["error_B"]) <= gradient_bound(dtype) / 2
    # The independent reference: the gradients of the dense normal equations.
    Dd = D.double()
    if damp:
        n = Dd.shape[1]
        Ad = Dd.clone().requires_grad_(True)
        Bd = B.double().clone().requires_grad_(True)
        X = torch.linalg.solve(Ad.T @ Ad + damp**2 * torch.eye(n, dtype=torch.float64), Ad.T @ Bd)
        (X * dX.double()).sum().backward()
        ref_A, ref_B = Ad.grad, Bd.grad
    else:
        ref_A, ref_B = dense_gradients(Dd, B, dX)
    ref_values = pattern_values(A, ref_A)
    assert relative(dA_d, ref_values) <= gradient_bound(dtype)
    assert relative(dB_d, ref_B) <= gradient_bound(dtype)
    assert dA_d.dtype == dtype and dB_d.dtype == dtype


@pytest.mark.parametrize("name", ["well1033.mtx", "illc1033.mtx"])
def test_backward_on_shipped_real_matrices(name):
    D, A, B = shipped(name)
    dX = torch.cos(0.11 * torch.arange(D.shape[1], dtype=torch.float64)).reshape(-1, 1)
    dA_c, dB_c, core = backward(A, B, dX, "core")
    dA_d, dB_d, dev = backward(A, B, dX, "torch")
    assert dev["istop"] == core["istop"]
    # illc1033 (cond 1.9e4): rounding of order eps changes CRAIG's trajectory, not its length
    # beyond a few percent (as LSMR's above).
    assert abs(dev["itn"][0] - core["itn"][0]) <= 0.05 * core["itn"][0] + 1
    ref_A, ref_B = dense_gradients(D, B, dX)
    assert relative(dA_d, pattern_values(A, ref_A)) <= gradient_bound(torch.float64)
    assert relative(dB_d, ref_B) <= gradient_bound(torch.float64)


def test_backward_refuses_a_rank_deficient_A_as_the_core_does():
    D, A, B = problem(torch.float64, "coo", m=30, n=8, k=1)
    D[:, 7] = D[:, 6]
    A = sparse(D, "coo").requires_grad_(True)
    dX = torch.arange(8, dtype=torch.float64)  # outside range(A^T): its entries 6, 7 differ
    raised = {}
    for path in ("torch", "core"):
        x = sparse_generic_lstsq(A, B[:, 0], path=path, on_failure="warn")
        with pytest.raises(ValueError, match="argument 'A'.*rank") as error:
            (x * dX).sum().backward()
        raised[path] = error.value
    assert type(raised["torch"]) is type(raised["core"])
    # A column whose stored entries are all zero: the same error naming that column.
    D, _, B = problem(torch.float64, "coo", m=30, n=8, k=1)
    Ac = sparse(D, "coo")
    values = Ac._values().clone()
    values[Ac._indices()[1] == 3] = 0
    Az = torch.sparse_coo_tensor(Ac._indices(), values, Ac.shape).coalesce().requires_grad_(True)
    with pytest.raises(ValueError, match="column 3 with stored entries that are all zero"):
        sparse_generic_lstsq(Az, B, path="torch").sum().backward()


def test_backward_failure_policy_and_errors_are_the_cores():
    D, A, B = problem(torch.float64, "csr")
    dX = torch.ones(25, 3, dtype=torch.float64)
    names = {name: None for name in sparsegrad._OPTION_NAMES}
    names.update(solver="lsmr", maxiter=2, on_failure="raise")
    X = sparse_generic_lstsq(A, B, path="torch")
    with pytest.raises(sparsegrad.ConvergenceError) as raised:
        _device.lstsq_backward(A, B, X, dX, names, [])
    assert raised.value.diagnostics["itn"] == [2, 2, 2]
    # on_failure="warn": a warning through the front end, gradients returned
    Ag = A.detach().requires_grad_(True)
    x = sparse_generic_lstsq(Ag, B, path="torch", on_failure="warn", maxiter=3)
    with pytest.warns(sparsegrad.ConvergenceWarning, match="normal-equation solve"):
        x.sum().backward()
    assert Ag.grad is not None
    bad = dX.clone()
    bad[4, 2] = float("nan")
    with pytest.raises(ValueError, match=r"lstsq_backward: argument 'dX'.*nan at \(4, 2\)"):
        _device.lstsq_backward(A, B, X, bad, names, [])


def test_backward_one_transfer_per_iteration(monkeypatch):
    D, A, B = problem(torch.float64, "csr", k=4)
    dX = torch.randn(25, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    itn = max(backward(A, B, dX, "torch")[2]["itn"])
    names = {name: None for name in sparsegrad._OPTION_NAMES}
    names.update(solver="lsmr", on_failure="raise")
    X, _ = _device.lsmr(A, B, names)
    calls = []
    host = _device._host
    monkeypatch.setattr(_device, "_host", lambda *t: calls.append(len(t)) or host(*t))
    _device.lstsq_backward(A, B, X, dX, names, [])
    # One per CRAIG iteration; before and after it the norms of G and the start, ||H_j||; the
    # engine's norms and sums outside the loop (each one transfer of k or fewer numbers).
    assert len(calls) <= itn + 25


def test_backward_uncoalesced_coo_gets_the_cores_gradient():
    D, A, B = problem(torch.float64, "coo", k=2)
    i, v = A._indices(), A._values()
    Au = torch.sparse_coo_tensor(torch.cat([i, i], 1), torch.cat([v / 2, v / 2]), A.shape)
    grads = {}
    for path in ("core", "torch"):
        a = Au.detach().requires_grad_(True)
        sparse_generic_lstsq(a, B, path=path, **TIGHT).sum().backward()
        grads[path] = a.grad
    assert torch.allclose(grads["torch"]._values(), grads["core"]._values(), atol=1e-10)
    assert torch.equal(grads["torch"]._indices(), Au._indices())


@CUDA
def test_cuda_matches_the_cpu():
    D, A, B = problem(torch.float64, "csr")
    X = sparse_generic_lstsq(A.cuda(), B.cuda(), **TIGHT)
    assert X.device.type == "cuda"
    assert torch.allclose(X.cpu(), sparse_generic_lstsq(A, B, **TIGHT), atol=1e-9)
    Ac = A.detach().cuda().requires_grad_(True)
    sparse_generic_lstsq(Ac, B.cuda(), **TIGHT).sum().backward()
    assert Ac.grad.device.type == "cuda"
    Acpu = A.detach().requires_grad_(True)
    sparse_generic_lstsq(Acpu, B, **TIGHT).sum().backward()
    assert torch.allclose(grad_values(Ac.grad).cpu(), grad_values(Acpu.grad), atol=1e-9)
    # callables see CUDA tensors; a direct solver factors on the host
    seen = []
    pinv = torch.linalg.pinv(D).cuda()
    solve = on_the_device_of(A, lambda A_, R: pinv @ R, seen)
    X = sparse_generic_lstsq(A.cuda(), B.cuda(), solve)
    assert seen[0][0].type == "cuda" and seen[0][1].type == "cuda"
    X = sparse_generic_lstsq(A.cuda(), B.cuda(), solver="sparse_qr")
    assert X.device.type == "cuda"


@pytest.mark.parametrize("path", ["core", "torch"])
def test_double_backward_raises(path):
    D, A, B = problem(torch.float64, "coo", m=20, n=6, k=1)
    A = A.detach().requires_grad_(True)
    x = sparse_generic_lstsq(A, B[:, 0], path=path)
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(x.sum(), A, create_graph=True)
    # create_graph=False is the ordinary first-order gradient
    (g,) = torch.autograd.grad(sparse_generic_lstsq(A, B[:, 0], path=path).sum(), A)
    assert g.layout == torch.sparse_coo
