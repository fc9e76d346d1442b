# SPDX-License-Identifier: Apache-2.0
"""The PyTorch device path: LSMR on the tensors' own device, in torch operations.

All k right-hand sides iterate together: one sparse x dense block product with A and one with
A^T per iteration, each column with its own scalars and stopping test, a finished column
compacted out (Fong & Saunders 2011, as ``include/sparsegrad/krylov/lsmr.hpp``). The vectors
stay on the device; every decision (the rotations, scipy's stopping tests, the trust gate on
the estimated error, column scaling, mixed precision, the failure policy) is taken by the C++
library through ``_core.DeviceLsmr32/64``, which receives per iteration the norms of that
iteration in one device-to-host transfer (the one synchronisation of an iteration) and returns
the update coefficients. The stop test of iteration i is taken after the products of
iteration i + 1 have been queued, so that a column that stops costs one product pair more and
the iteration needs no second synchronisation; the decisions and the returned X are those of
iteration i.

Memory on the device: A and A^T as CSR (O(nnz)) and seven n x k or m x k blocks.
"""

import warnings

import numpy as np
import torch

from . import _core

__all__ = ["lsmr"]


def _host(*tensors):
    """One device-to-host transfer of several 1-D tensors, as float64 numpy arrays."""
    sizes = [t.numel() for t in tensors]
    flat = torch.cat([t.reshape(-1).to(torch.float64) for t in tensors]).cpu().numpy()
    return np.split(flat, np.cumsum(sizes)[:-1])


def _device(array, like):
    return torch.from_numpy(np.ascontiguousarray(array)).to(device=like.device, dtype=like.dtype)


def _column_norms(M):
    """||M_j|| per column without overflow: max |m_ij| times the norm of the scaled column."""
    amax = M.abs().amax(dim=0) if M.shape[0] > 0 else M.new_zeros(M.shape[1])
    safe = torch.where(amax > 0, amax, torch.ones_like(amax))
    return amax * torch.linalg.vector_norm(M / safe, dim=0)


def _check_finite(name, values, position):
    """The library's error for a non-finite value; `position(e)` says where entry e is."""
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        e = int(torch.nonzero(bad.reshape(-1))[0])
        _core.refuse_nonfinite(name, float(values.reshape(-1)[e]), position(e))


class _Operator:
    """Products with A and A^T on the device, A as CSR in the working dtype."""

    def __init__(self, A, dtype):
        m, n = A.shape
        if A.layout == torch.sparse_csr:
            crow = A.crow_indices()
            row = torch.repeat_interleave(
                torch.arange(m, device=A.device), crow[1:] - crow[:-1]
            )
            col, values = A.col_indices(), A.values()
        else:
            row, col = A._indices()
            values = A._values()
        row, col = row.long(), col.long()
        self.row, self.col, self.values = row, col, values.to(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
            coo = torch.sparse_coo_tensor(torch.stack([row, col]), self.values, (m, n))
            self.A = coo.coalesce().to_sparse_csr()
            coo_t = torch.sparse_coo_tensor(torch.stack([col, row]), self.values, (n, m))
            self.At = coo_t.coalesce().to_sparse_csr()
        self.shape = (m, n)

    def apply(self, V):
        return self.A @ V

    def apply_adjoint(self, U):
        return self.At @ U

    def column_norms(self):
        """(amax, sumsq, nnz) per column (see DeviceLsmr.set_weights)."""
        n = self.shape[1]
        a = self.values.abs().to(torch.float64)
        amax = torch.zeros(n, dtype=torch.float64, device=a.device)
        if a.numel() > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "scatter_reduce is in beta"
                amax = amax.scatter_reduce(0, self.col, a, reduce="amax", include_self=True)
        safe = torch.where(amax > 0, amax, torch.ones_like(amax))
        scaled = a / safe[self.col]
        sumsq = torch.zeros(n, dtype=torch.float64, device=a.device).index_add_(
            0, self.col, scaled * scaled
        )
        nnz = torch.bincount(self.col, minlength=n)
        return amax, sumsq, nnz


def lsmr(A, B, options, x0=None, preconditioner=None):
    """X (n x k, A's dtype, on A's device) = argmin ||A X - B|| for a sparse COO/CSR tensor A
    and a dense (m, k) tensor B; returns (X, decisions) with the diagnostics and the failures
    (on_failure="warn") in `decisions`. `options` as sparsegrad's other entry points take them
    (x0 and preconditioner passed apart, as tensors)."""
    m, n = A.shape
    k = B.shape[1]
    float32 = A.dtype == torch.float32
    wide = _core.device_works_in_float64(options, float32, preconditioner is not None)
    cls = _core.DeviceLsmr64 if wide else _core.DeviceLsmr32
    working = torch.float64 if wide else A.dtype
    x0_shape = None if x0 is None else (x0.shape[0], x0.shape[1] if x0.dim() == 2 else 1)
    size = -1 if preconditioner is None else preconditioner.reshape(-1).shape[0]
    core = cls(options, m, n, k, float32, x0_shape, size)

    op = _Operator(A, working)
    _check_finite("A", op.values, lambda e: f" at stored entry {e} ({op.row[e]}, {op.col[e]})")
    _check_finite("B", B, lambda e: f" at ({e // k}, {e % k})")
    R = B.to(working)
    X0 = None
    if x0 is not None:
        X0 = (x0.reshape(n, -1) if x0.dim() == 1 else x0).to(device=A.device, dtype=working)
        _check_finite("x0", X0, lambda e: f" at ({e // k}, {e % k})")

    # The operator the Krylov solve runs on, and x from its solution y.
    d = None
    if preconditioner is not None:
        d = preconditioner.reshape(-1).to(device=A.device, dtype=working)
        _check_finite("preconditioner", d, lambda e: f" at ({e}, 0)")
        if X0 is not None:
            R = R - op.apply(X0)
        Y0 = None
        c = torch.ones(k, dtype=working, device=A.device)
    else:
        if core.weights_plan != "none":
            d = _device(core.set_weights(*[t.cpu().numpy() for t in op.column_norms()]), R)
        c = _device(core.set_rescaling(_host(_column_norms(R))[0]), R)
        if core.rescaled:
            R = (R if X0 is None else R - op.apply(X0)) * c
            Y0 = None
        else:
            d, Y0 = None, X0

    def apply(V):
        return op.apply(V if d is None else d[:, None] * V)

    def apply_adjoint(U):
        P = op.apply_adjoint(U)
        return P if d is None else d[:, None] * P

    rescaled = preconditioner is None and core.rescaled
    Y = _kernel(core, apply, apply_adjoint, R, Y0, d if rescaled else None, c,
                X0 if rescaled else None)

    if preconditioner is not None:
        X = d[:, None] * Y
        if X0 is not None:
            X = X + X0
    elif core.rescaled:
        X = (Y if d is None else d[:, None] * Y) / c
        if X0 is not None:
            X = X + X0
    else:
        X = Y
    core.finalize(_host(torch.linalg.vector_norm(X, dim=0))[0])
    return X.to(A.dtype), core


def _kernel(core, apply, apply_adjoint, B, X0, d, c, x0_of_correction):
    """Block LSMR driven by `core` (see the module docstring). Returns the n x k solution y.
    `d`: the column weights of the error estimates (x = D y / c + x0), None for D = I."""
    U = B.clone()
    if X0 is not None:
        X = X0.clone()
        U = U - apply(X)
    else:
        X = None
    normb = _column_norms(B)
    beta = _column_norms(U)
    U = U / torch.where(beta > 0, beta, torch.ones_like(beta))
    P = apply_adjoint(U)
    if X is None:
        X = P.new_zeros(P.shape)
    alpha = torch.where(beta > 0, _column_norms(P), torch.zeros_like(beta))
    V = P / torch.where(alpha > 0, alpha, torch.ones_like(alpha))
    zero = core.start(*_host(normb, beta, alpha))
    if zero.any():
        X[:, torch.from_numpy(zero).to(X.device)] = 0
    H, Hbar = V.clone(), torch.zeros_like(V)

    weighted = d is not None or x0_of_correction is not None

    def weighted_norm(Y, ids):
        """||D y_j|| (or ||c x0 + D y||) of the running columns Y = X[:, ids], for the error
        estimates."""
        Dy = Y if d is None else d[:, None] * Y
        if x0_of_correction is not None:
            Dy = Dy + c[ids] * x0_of_correction[:, ids]
        return torch.linalg.vector_norm(Dy, dim=0)

    def select(keep, *blocks):
        if keep.shape[0] == blocks[0].shape[1] and bool((keep == np.arange(keep.shape[0])).all()):
            return blocks
        index = torch.from_numpy(keep).to(blocks[0].device)
        return tuple(W.index_select(-1, index) for W in blocks)

    keep = core.compact()
    U, V, H, Hbar, alpha = select(keep, U, V, H, Hbar, alpha)
    ids = torch.from_numpy(core.ids()).to(X.device)
    pending = None  # (normx, normDy) of the last update, not decided yet
    while core.running():
        # The products of the next iteration: beta u = A v - alpha u, alpha v = A^T u - beta v.
        U = apply(V) - alpha * U
        beta = torch.linalg.vector_norm(U, dim=0)
        has_beta = beta > 0
        U = U / torch.where(has_beta, beta, torch.ones_like(beta))
        P = apply_adjoint(U) - beta * V
        nu = torch.linalg.vector_norm(P, dim=0)
        V = torch.where(has_beta, P / torch.where(nu > 0, nu, torch.ones_like(nu)), V)
        alpha = torch.where(has_beta, nu, alpha)
        if pending is None:
            beta_h, alpha_h = _host(beta, alpha)
        else:
            beta_h, alpha_h, normx_h, normDy_h = _host(beta, alpha, *pending)
            core.decide(normx_h, normDy_h)
            keep = core.end_iteration()
            U, V, H, Hbar, alpha, beta = select(keep, U, V, H, Hbar, alpha, beta)
            beta_h, alpha_h = beta_h[keep], alpha_h[keep]
            ids = torch.from_numpy(core.ids()).to(X.device)
            pending = None
            if not core.running():
                break
        core.next()
        a_hbar, a_x, a_h = _device(core.step(alpha_h, beta_h), X)
        Hbar = H + a_hbar * Hbar
        X[:, ids] += a_x * Hbar
        H = V + a_h * H
        Y = X[:, ids]
        normx = torch.linalg.vector_norm(Y, dim=0)
        pending = (normx, weighted_norm(Y, ids) if weighted else normx)
    if pending is not None:
        core.decide(*_host(*pending))
        core.end_iteration()
    core.finish()
    return X
