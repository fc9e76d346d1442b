# SPDX-License-Identifier: Apache-2.0
"""The PyTorch device path: LSMR and the CRAIG backward on the tensors' own device, in torch
operations.

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

The backward (``lstsq_backward``) is the C++ adjoint engine (include/sparsegrad/adjoint.hpp,
the one every backend runs) driving ``_Algebra`` below: the engine takes every decision and asks
for block operations, which stay on the device; its solve_normal is CRAIG on the device, its
decisions taken by ``_core.DeviceCraig32/64`` with the C++ kernel's own steps, again with one
device-to-host transfer per iteration (python/src/device_backward.cpp).

Memory on the device: A and A^T as CSR (O(nnz)) and seven n x k or m x k blocks (LSMR); the
backward holds B, X, dL/dX, H, dB, r and CRAIG's five n x k or m x k blocks.
"""

import math

import warnings

import numpy as np
import torch

from . import _core

__all__ = ["lsmr", "lstsq_backward"]


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


def _check_finite(name, values, position, where="Lsmr"):
    """The library's error for a non-finite value; `position(e)` says where entry e is."""
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        e = int(torch.nonzero(bad.reshape(-1))[0])
        _core.refuse_nonfinite(name, float(values.reshape(-1)[e]), position(e), where)


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

    def to(self, dtype):
        """The same operator with values of `dtype` (no new coalescing: same index tensors)."""
        if self.values.dtype == dtype:
            return self
        out = object.__new__(_Operator)
        out.row, out.col, out.shape = self.row, self.col, self.shape
        out.values = self.values.to(dtype)

        def converted(M):
            return torch.sparse_csr_tensor(
                M.crow_indices(), M.col_indices(), M.values().to(dtype), M.shape
            )

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
            out.A, out.At = converted(self.A), converted(self.At)
        return out

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


class Operators:
    """A's operators on the device by dtype, built once for a forward and its backward: the
    first from A itself (its entries in A's order), the others converted from it."""

    def __init__(self, A):
        self.A, self._ops = A, {}

    def __call__(self, dtype):
        if dtype not in self._ops:
            first = next(iter(self._ops.values()), None)
            self._ops[dtype] = _Operator(self.A, dtype) if first is None else first.to(dtype)
        return self._ops[dtype]


def lsmr(A, B, options, x0=None, preconditioner=None, operators=None):
    """X (n x k, A's dtype, on A's device) = argmin ||A X - B|| for a sparse COO/CSR tensor A
    and a dense (m, k) tensor B; returns (X, decisions) with the diagnostics and the failures
    (on_failure="warn") in `decisions`. `options` as sparsegrad's other entry points take them
    (x0 and preconditioner passed apart, as tensors); `operators` (an Operators of A) keeps
    the operators it builds for the backward."""
    m, n = A.shape
    k = B.shape[1]
    float32 = A.dtype == torch.float32
    wide = _core.device_works_in_float64(options, float32, preconditioner is not None)
    cls = _core.DeviceLsmr64 if wide else _core.DeviceLsmr32
    working = torch.float64 if wide else A.dtype
    x0_shape = None if x0 is None else (x0.shape[0], x0.shape[1] if x0.dim() == 2 else 1)
    size = -1 if preconditioner is None else preconditioner.reshape(-1).shape[0]
    core = cls(options, m, n, k, float32, x0_shape, size)

    op = (operators or Operators(A))(working)
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


# --- the backward ------------------------------------------------------------------------------


def _safe(t):
    return torch.where(t > 0, t, torch.ones_like(t))


def _norms64(Y):
    """Overflow-safe column norms of Y in float64, on the device."""
    return _column_norms(Y.to(torch.float64))


class _Algebra:
    """The block operations of the adjoint engine's device backend (device_backward.cpp), on
    A's device: blocks are 2-D tensors of A's dtype; norms and sums come back as Python floats
    or lists, in one transfer each. Quantities the C++ backend forms in the working precision
    (the residuals for float data) are formed in float64 here and rounded."""

    def __init__(self, A, B, X, dX, operators=None):
        self.m, self.n = A.shape
        self.dtype = A.dtype
        self._operator = operators or Operators(A)
        self.op = self._operator(A.dtype)
        self.B, self.X, self.dX = B, X, dX
        self._abs = self._R64 = None

    def _working(self):
        return self._operator(torch.float64)

    # algebra
    def apply(self, V):
        return self.op.apply(V)

    def apply_adjoint(self, U):
        return self.op.apply_adjoint(U)

    def join(self, parts):
        return torch.cat(parts, dim=1)

    def slice(self, Y, first, count):
        return Y[:, first : first + count]

    def norms(self, Y):
        return _host(_norms64(Y))[0].tolist()

    def weighted_norms(self, S, d):
        S64 = S.to(torch.float64)
        if d is not None:
            S64 = _device(d, S64)[:, None] * S64
        return _host(_column_norms(S64))[0].tolist()

    def dot(self, a, b):
        return float((a.to(torch.float64) * b.to(torch.float64)).sum())

    def zeros_m(self, k):
        return self.B.new_zeros((self.m, k))

    def probe(self):
        return _device(_core.rank_probe(self.m), self.B)[:, None]

    def norm_A(self):
        return float(_norms64(self.op.A.values()[:, None])[0])

    def vector_norm(self, values):
        return float(_norms64(values[:, None])[0])

    # residuals in the working precision
    def _residual64(self, X64):
        return self._working().apply(X64) - self.B.to(torch.float64)

    def _residual_of_X(self):
        """A X - B in float64, formed once for residual() and normal_residual()."""
        if self._R64 is None:
            self._R64 = self._residual64(self.X.to(torch.float64))
        return self._R64

    def residual(self):
        return self._residual_of_X().to(self.dtype)

    def normal_residual(self):
        return (-self._working().apply_adjoint(self._residual_of_X())).to(self.dtype)

    def refine(self, dXs):
        """(X + dXs rounded, its residual rounded), both formed in the working precision."""
        Xw = self.X.to(torch.float64) + dXs.to(torch.float64)
        return Xw.to(self.dtype), self._residual64(Xw).to(self.dtype)

    # norms on A's pattern
    def pattern_max(self, Y, by_row):
        """Per column j of Y, max over the rows (by_row: Y is n x k) or columns of A's pattern
        of the norm of Y_j restricted to that row or column, summed on Y_j scaled by a power of
        two that brings max |Y_j| to [1, 2) (as the C++ backend)."""
        source, group = (self.op.col, self.op.row) if by_row else (self.op.row, self.op.col)
        groups = self.m if by_row else self.n
        Y64 = Y.to(torch.float64).abs()
        k = Y64.shape[1]
        if k == 0:
            return []
        top = Y64.amax(dim=0) if Y64.shape[0] > 0 else Y64.new_zeros(k)
        _, e = torch.frexp(top)
        scale = torch.ldexp(torch.ones_like(top), -torch.clamp(e - 1, min=-1000))
        out = Y64.new_zeros(k)
        for j in range(k):
            v = Y64[source, j] * scale[j]
            acc = Y64.new_zeros(groups).index_add_(0, group, v * v)
            out[j] = acc.max() if groups > 0 else 0
        out = torch.sqrt(out) / scale
        out = torch.where(torch.isfinite(top), out, torch.full_like(out, math.inf))
        out = torch.where(top > 0, out, torch.zeros_like(out))
        return _host(out)[0].tolist()

    def abs_product_norms(self, H):
        """Per column j, || |A| |H_j| || (the rounding of dB = A H)."""
        if self._abs is None:
            op = self._working()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                if op.values.shape[0] == op.A.values().shape[0]:  # no duplicates: |A| as A
                    self._abs = torch.sparse_csr_tensor(
                        op.A.crow_indices(), op.A.col_indices(), op.A.values().abs(), op.A.shape
                    )
                else:  # sum |a| over the duplicates of an (i, j), as the C++ backend does
                    coo = torch.sparse_coo_tensor(
                        torch.stack([op.row, op.col]), op.values.abs(), (self.m, self.n)
                    )
                    self._abs = coo.coalesce().to_sparse_csr()
        return _host(_column_norms(self._abs @ H.to(torch.float64).abs()))[0].tolist()

    def assemble(self, dB, X, R, H, W, V):
        """dA on A's pattern, in A's entry order: -dB X^T - r H^T + W V^T; (values, dB, the
        first unrepresentable value as (what, value, i, j) or None)."""
        k = X.shape[1]
        if dB is None:
            dB = self.zeros_m(k)
        row, col = self.op.row, self.op.col
        values = self.op.values.new_zeros(row.shape[0])
        for c in range(k):
            values -= dB[row, c] * X[col, c]
            if H is not None:
                values -= R[row, c] * H[col, c]
            if W is not None:
                values += W[row, c] * V[col, c]
        bad = None
        finite_A, finite_B = _host(torch.isfinite(values).all(), torch.isfinite(dB).all())
        if not finite_A[0]:
            e = int(torch.nonzero(~torch.isfinite(values))[0])
            bad = ("dL/dA", float(values[e]), int(row[e]), int(col[e]))
        elif not finite_B[0]:
            e = int(torch.nonzero(~torch.isfinite(dB.t().reshape(-1)))[0])
            i, j = e % self.m, e // self.m
            bad = ("dL/dB", float(dB[i, j]), i, j)
        return values, dB, bad

    # the solve
    def craig(self, core, G, wide):
        """H = (A^T A + damp^2 I)^-1 G by CRAIG on the device, decided by `core` (a
        DeviceCraig); as craig_on_operator: on A D with G rescaled per column, in float64 for
        float data (`wide`). Returns (H in A's dtype, ||H_j|| of the result)."""
        working = torch.float64 if wide else self.dtype
        op = self._operator(working)
        Gw = G.to(working)
        d = None
        if core.weights_plan != "none":
            d = _device(core.set_weights(*[t.cpu().numpy() for t in op.column_norms()]), Gw)
        c = _device(core.set_rescaling(_host(_column_norms(Gw))[0]), Gw)
        rescaled = core.rescaled
        if not rescaled:
            d = None
        R = Gw if not rescaled else (Gw if d is None else d[:, None] * Gw) * c

        def apply(U):
            return op.apply(U if d is None else d[:, None] * U)

        def apply_adjoint(V):
            P = op.apply_adjoint(V)
            return P if d is None else d[:, None] * P

        H = _craig_kernel(core, apply, apply_adjoint, R, d, core.damp)
        if rescaled:
            H = (H if d is None else d[:, None] * H) / c
        return H.to(self.dtype), _host(_column_norms(H))[0].tolist()


def _craig_kernel(core, apply, apply_adjoint, G, d, damp):
    """CRAIG on k columns at once (include/sparsegrad/krylov/craig.hpp, names as there: U and P
    n x k, V m x k, Vs the damping part of v), driven by `core`; see DeviceCraig for the order
    of an iteration. Returns H (n x k)."""

    def next_v(Au, V, beta, U, Vs):
        """alpha v = M^H u - beta v, M^H u = [A u; damp u], ||v|| over both parts."""
        V = Au if V is None else Au - beta * V
        if Vs is None:
            alpha = torch.linalg.vector_norm(V, dim=0)
        else:
            Vs = damp * U if beta is None else damp * U - beta * Vs
            alpha = torch.hypot(
                torch.linalg.vector_norm(V, dim=0), torch.linalg.vector_norm(Vs, dim=0)
            )
            Vs = Vs / _safe(alpha)
        return V / _safe(alpha), alpha, Vs

    normg = _column_norms(G)
    U = G / _safe(normg)
    V, alpha, Vs = next_v(apply(U), None, None, U, U if damp else None)
    zeta, keep = core.start(*_host(normg, alpha))
    P = U / _safe(alpha)
    H = P * _device(zeta, P)

    def select(keep, *blocks):
        index = torch.from_numpy(keep).to(G.device)
        return tuple(None if W is None else W.index_select(-1, index) for W in blocks)

    U, V, Vs, P, alpha = select(keep, U, V, Vs, P, alpha)
    ids = torch.from_numpy(keep).to(G.device)
    normp = alpha.new_zeros(0)
    while core.active > 0:
        # beta u = M v - alpha u = A^H v + damp vs - alpha u; then alpha v = M^H u - beta v.
        U = apply_adjoint(V) - alpha * U
        if damp:
            U = U + damp * Vs
        beta = torch.linalg.vector_norm(U, dim=0)
        U = U / _safe(beta)
        V, alpha, Vs = next_v(apply(U), V, beta, U, Vs)
        Hs = H.index_select(1, ids)
        normH = torch.linalg.vector_norm(Hs, dim=0)
        normDH = normH if d is None else torch.linalg.vector_norm(d[:, None] * Hs, dim=0)
        keep, coef = core.iterate(*_host(beta, alpha, normH, normDH, normp))
        if keep.shape[0] == 0:
            break
        U, V, Vs, P = select(keep, U, V, Vs, P)
        ids = ids[torch.from_numpy(keep).to(G.device)]
        beta_k, alpha, zeta_k = _device(coef, P)
        P = (U - beta_k * P) / alpha
        H[:, ids] += zeta_k * P
        normp = torch.linalg.vector_norm(P, dim=0)
    return H


def lstsq_backward(A, B, X, dX, options, forward_error, operators=None):
    """(dL/dA values in A's entry order, dL/dB (m x k), dL/ddamp, decisions) on A's device for
    X = argmin ||A X - B|| (2-D B, X, dX) and the upstream gradient dX; `forward_error` the
    forward solve's error estimates of X (its diagnostics' "error"), or an empty list;
    `operators` those of the forward (Operators), else built here."""
    m, n = A.shape
    k = X.shape[1]
    _check_finite("dX", dX.t(), lambda e: f" at ({e % n}, {e // n})", where="lstsq_backward")
    alg = _Algebra(A, B, X, dX, operators)
    float32 = A.dtype == torch.float32
    run = _core.device_lstsq_backward32 if float32 else _core.device_lstsq_backward64
    values, dB, ddamp, records, failures = run(alg, options, m, n, k, list(forward_error))
    return values, dB, ddamp, _Decisions(records, failures)


class _Decisions:
    """What the backward's solve reported, as the core's solver objects report it."""

    def __init__(self, records, failures):
        self.diagnostics, self._failures = records, failures

    def take_failures(self):
        failures, self._failures = self._failures, []
        return failures
