#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The seed's scheme in pure PyTorch, timed on a benchmark problem: the "seed" side of
benchmarks/report.py.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 benchmarks/torch_lstsq_bench.py \
        PROBLEM [--k 4] [--threads N] [--min-time 0.3]

The seed (torchsparsegradutils' sparse_generic_lstsq, /work/shared/seed) is not installable
here, so this file reproduces its loop: an LSMR written in torch (scipy's algorithm and stopping
rules), run once per column in the forward, and in the backward once per column on Aᵀ for dB
and once per column on A for H, then the gradient at A's nonzeros, all inside a
torch.autograd.Function over a coalesced sparse COO tensor (the seed's input format). Same A,
B, dX and tolerances (atol = btol = 1e-8) as the C++ and scipy sides. With the sparsegrad Python
module on PYTHONPATH it also times sparsegrad.torch.sparse_generic_lstsq on the same input, on
its C++ path and on its torch path (path="torch", the device path run on the CPU).
Prints one JSON object; times are means of runs totalling at least --min-time seconds.
"""

import argparse
import json
import math
import time

import numpy as np
import torch

import problems

TOL = 1e-8


def _sym_ortho(a, b):
    if b == 0:
        return math.copysign(1.0, a) if a != 0 else 0.0, 0.0, abs(a)
    if a == 0:
        return 0.0, math.copysign(1.0, b), abs(b)
    if abs(b) > abs(a):
        tau = a / b
        s = math.copysign(1.0, b) / math.sqrt(1 + tau * tau)
        return s * tau, s, b / s
    tau = b / a
    c = math.copysign(1.0, a) / math.sqrt(1 + tau * tau)
    return c, c * tau, a / c


def torch_lsmr(A, At, b, atol=TOL, btol=TOL, conlim=1e8, maxiter=None):
    """(x, itn) with x = argmin ||A x - b|| for a sparse torch A (At its transpose), 1-D b."""
    m, n = A.shape
    maxiter = 20 * min(m, n) if maxiter is None else maxiter  # as lsq_benchmarks.cpp
    u = b.clone()
    normb = beta = torch.linalg.norm(u).item()
    x = torch.zeros(n, dtype=b.dtype)
    if beta > 0:
        u = u / beta
        v = torch.mv(At, u)
        alpha = torch.linalg.norm(v).item()
    else:
        v, alpha = torch.zeros(n, dtype=b.dtype), 0.0
    if alpha > 0:
        v = v / alpha
    zetabar, alphabar, rho, rhobar, cbar, sbar = alpha * beta, alpha, 1.0, 1.0, 1.0, 0.0
    h, hbar = v.clone(), torch.zeros(n, dtype=b.dtype)
    betadd, betad, rhodold, tautildeold, thetatilde, zeta, d = beta, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0
    normA2, maxrbar, minrbar = alpha * alpha, 0.0, 1e100
    ctol = 1.0 / conlim if conlim > 0 else 0.0
    if alpha * beta == 0:
        return x, 0
    itn = 0
    while itn < maxiter:
        itn += 1
        u = torch.mv(A, v) - alpha * u
        beta = torch.linalg.norm(u).item()
        if beta > 0:
            u = u / beta
            v = torch.mv(At, u) - beta * v
            alpha = torch.linalg.norm(v).item()
            if alpha > 0:
                v = v / alpha
        chat, shat, alphahat = _sym_ortho(alphabar, 0.0)
        rhoold = rho
        c, s, rho = _sym_ortho(alphahat, beta)
        thetanew, alphabar = s * alpha, c * alpha
        rhobarold, zetaold = rhobar, zeta
        thetabar = sbar * rho
        rhotemp = cbar * rho
        cbar, sbar, rhobar = _sym_ortho(cbar * rho, thetanew)
        zeta = cbar * zetabar
        zetabar = -sbar * zetabar
        hbar = h - (thetabar * rho / (rhoold * rhobarold)) * hbar
        x = x + (zeta / (rho * rhobar)) * hbar
        h = v - (thetanew / rho) * h
        betaacute, betacheck = chat * betadd, -shat * betadd
        betahat, betadd = c * betaacute, -s * betaacute
        thetatildeold = thetatilde
        ctildeold, stildeold, rhotildeold = _sym_ortho(rhodold, thetabar)
        thetatilde = stildeold * rhobar
        rhodold = ctildeold * rhobar
        betad = -stildeold * betad + ctildeold * betahat
        tautildeold = (zetaold - thetatildeold * tautildeold) / rhotildeold
        taud = (zeta - thetatilde * tautildeold) / rhodold
        d += betacheck * betacheck
        normr = math.sqrt(d + (betad - taud) ** 2 + betadd * betadd)
        normA2 += beta * beta
        normA = math.sqrt(normA2)
        normA2 += alpha * alpha
        maxrbar = max(maxrbar, rhobarold)
        if itn > 1:
            minrbar = min(minrbar, rhobarold)
        condA = max(maxrbar, rhotemp) / min(minrbar, rhotemp)
        normar = abs(zetabar)
        normx = torch.linalg.norm(x).item()
        test1 = normr / normb
        test2 = normar / (normA * normr) if normA * normr != 0 else math.inf
        test3 = 1.0 / condA
        t1 = test1 / (1 + normA * normx / normb)
        rtol = btol + atol * normA * normx / normb
        if (1 + test3 <= 1 or 1 + test2 <= 1 or 1 + t1 <= 1 or test3 <= ctol or test2 <= atol
                or test1 <= rtol):
            break
    return x, itn


ITERATIONS = []  # iterations of every torch_lsmr call of the last forward + backward


def _solve_columns(M, Mt, R):
    cols = []
    for j in range(R.shape[1]):
        x, itn = torch_lsmr(M, Mt, R[:, j].contiguous())
        cols.append(x)
        ITERATIONS.append(itn)
    return torch.stack(cols, dim=1)


class SeedStyleLstsq(torch.autograd.Function):
    """The seed's autograd scheme with torch_lsmr, one column at a time."""

    @staticmethod
    def forward(ctx, A, B, At):
        X = _solve_columns(A, At, B)
        ctx.save_for_backward(A, B, X, At)
        return X

    @staticmethod
    def backward(ctx, G):
        A, B, X, At = ctx.saved_tensors
        dB = _solve_columns(At, A, G)  # (Aᵀ)⁺ G
        H = _solve_columns(A, At, dB)  # A⁺ dB
        idx = A._indices()
        r = torch.sparse.mm(A, X) - B
        vals = -(dB[idx[0]] * X[idx[1]]).sum(1) - (r[idx[0]] * H[idx[1]]).sum(1)
        return torch.sparse_coo_tensor(idx, vals, A.shape), dB, None


def measure(f, min_time):
    t0 = time.perf_counter()
    out = f()
    first = time.perf_counter() - t0
    if first >= min_time:
        return first, out
    times = []
    while sum(times) < min_time or not times:
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return float(np.mean(times)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("problem")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    import warnings
    warnings.simplefilter("ignore")  # torch's sparse beta notices

    A = problems.load(args.problem)
    m, n = A.shape
    k = args.k
    coo = A.tocoo()
    At_ = torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]), coo.data, A.shape).coalesce()
    AtT = At_.t().coalesce()
    B = torch.from_numpy(problems.hashed_block(m, k, problems.RHS_SALT))
    dX = torch.from_numpy(problems.hashed_block(n, k, problems.GRAD_SALT))

    def seed_fwd():
        ITERATIONS.clear()
        return SeedStyleLstsq.apply(At_, B, AtT)

    def seed_fwd_bwd():
        ITERATIONS.clear()
        Aq = At_.detach().requires_grad_(True)
        Bq = B.clone().requires_grad_(True)
        X = SeedStyleLstsq.apply(Aq, Bq, AtT)
        X.backward(dX)
        return list(ITERATIONS)

    out = {"problem": args.problem, "k": k, "torch": torch.__version__,
           "torch_threads": torch.get_num_threads(), "checksum": problems.checksum(A), "tol": TOL}
    out["seed_forward"], _ = measure(seed_fwd, args.min_time)
    out["itn_forward"] = max(ITERATIONS)
    out["seed_fwd_bwd"], itn = measure(seed_fwd_bwd, args.min_time)
    out["itn_total"] = int(sum(itn))
    try:
        from sparsegrad.torch import sparse_generic_lstsq
    except ImportError:
        sparse_generic_lstsq = None
    if sparse_generic_lstsq is not None:
        # sparsegrad.torch on both of its paths: the C++ core ("core") and the torch path
        # ("torch", sparsegrad/_device.py: block LSMR in torch operations, forced on the CPU),
        # at the seed side's tolerances.
        def forward(path):
            return sparse_generic_lstsq(At_, B, path=path, atol=TOL, btol=TOL)

        def fwd_bwd(path):
            Aq = At_.detach().requires_grad_(True)
            Bq = B.clone().requires_grad_(True)
            X = sparse_generic_lstsq(Aq, Bq, path=path, atol=TOL, btol=TOL)
            X.backward(dX)

        out["sparsegrad_torch_forward"], _ = measure(lambda: forward("core"), args.min_time)
        out["sparsegrad_torch_fwd_bwd"], _ = measure(lambda: fwd_bwd("core"), args.min_time)
        out["torch_path_forward"], _ = measure(lambda: forward("torch"), args.min_time)
        out["torch_path_fwd_bwd"], _ = measure(lambda: fwd_bwd("torch"), args.min_time)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
