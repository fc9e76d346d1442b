#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""scipy.sparse.linalg.lsmr on a benchmark problem: the reference side of benchmarks/report.py.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 benchmarks/scipy_lsmr.py \
        PROBLEM [--ks 1,4,8,32] [--fwd-bwd-ks 8] [--min-time 0.3]

Builds the same A and right-hand sides as the C++ benchmarks (benchmarks/problems.py) and
measures, with atol = btol = 1e-8, maxiter = 20 min(m, n) and scipy's other defaults:
  forward_K      K lsmr calls, one per column of B (the seed's loop; K = 1 is one call)
  fwd_bwd_K      forward and the seed's backward with scipy: per column one lsmr on Aᵀ for dB and
                 one lsmr on A for H, then the gradient on A's pattern; backward_K is that part
  pair           one A·v plus one Aᵀ·u as scipy's LinearOperator does them inside lsmr
Each time is the mean of runs totalling at least --min-time seconds (one run when a single run
takes longer), the rule Google Benchmark applies on the C++ side. Peak memory: the resident
memory above the level before the measurement (Linux: VmHWM, reset through clear_refs).
Prints one JSON object.
"""

import argparse
import json
import time

import numpy as np
import scipy
import scipy.sparse.linalg

import problems

TOL = 1e-8
MAXITER_FACTOR = 20  # maxiter = 20 min(m, n), as lsq_benchmarks.cpp


def status_mb(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return status_mb("VmRSS:")


def measure(f, min_time):
    """(mean seconds, result of the last run, peak memory above the start in MB)."""
    baseline = reset_peak()
    t0 = time.perf_counter()
    out = f()
    first = time.perf_counter() - t0
    times = []
    if first < min_time:
        total = 0.0
        while total < min_time or not times:
            t0 = time.perf_counter()
            out = f()
            times.append(time.perf_counter() - t0)
            total += times[-1]
    seconds = float(np.mean(times)) if times else first
    return seconds, out, status_mb("VmHWM:") - baseline


def lsmr(A, b):
    return scipy.sparse.linalg.lsmr(A, b, atol=TOL, btol=TOL, maxiter=MAXITER_FACTOR * min(A.shape))


def forward(A, B):
    runs = [lsmr(A, B[:, j]) for j in range(B.shape[1])]
    return np.column_stack([r[0] for r in runs]), [int(r[2]) for r in runs], [int(r[1]) for r in runs]


def seed_backward(A, At, rows, cols, B, X, dX):
    """The seed's backward with scipy: dB = (Aᵀ)⁺dX and H = A⁺dB column by column."""
    dB = np.column_stack([lsmr(At, dX[:, j])[0] for j in range(dX.shape[1])])
    H = np.column_stack([lsmr(A, dB[:, j])[0] for j in range(dB.shape[1])])
    r = A @ X - B
    return -(dB[rows] * X[cols]).sum(1) - (r[rows] * H[cols]).sum(1), dB


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("problem")
    ap.add_argument("--ks", default="1,4,8,32")
    ap.add_argument("--fwd-bwd-ks", default="8")
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",") if k]
    fb_ks = [int(k) for k in args.fwd_bwd_ks.split(",") if k]

    A = problems.load(args.problem)
    m, n = A.shape
    kmax = max(ks + fb_ks)
    B = problems.hashed_block(m, kmax, problems.RHS_SALT)
    dX = problems.hashed_block(n, kmax, problems.GRAD_SALT)
    out = {"problem": args.problem, "rows": m, "cols": n, "nnz": int(A.nnz),
           "checksum": problems.checksum(A), "scipy": scipy.__version__,
           "numpy": np.__version__, "tol": TOL}

    op = scipy.sparse.linalg.aslinearoperator(A)
    v, u = np.ones(n), np.ones(m)
    out["pair"], _, _ = measure(lambda: (op.matvec(v), op.rmatvec(u)), args.min_time)

    for k in ks:
        t, (X, itn, istop), mem = measure(lambda: forward(A, B[:, :k]), args.min_time)
        out[f"forward_{k}"] = t
        out[f"itn_{k}"] = max(itn)
        out[f"istop_{k}"] = max(istop)
        out[f"peak_extra_mb_{k}"] = mem

    At = A.T  # a CSC view, as the seed passes torch.adjoint(A)
    coo = A.tocoo()
    for k in fb_ks:
        def fwd_bwd():
            X, _, _ = forward(A, B[:, :k])
            t0 = time.perf_counter()
            seed_backward(A, At, coo.row, coo.col, B[:, :k], X, dX[:, :k])
            return time.perf_counter() - t0
        t, backward_seconds, mem = measure(fwd_bwd, args.min_time)
        out[f"fwd_bwd_{k}"] = t
        out[f"backward_{k}"] = backward_seconds  # of the last run
        out[f"fwd_bwd_peak_extra_mb_{k}"] = mem
    print(json.dumps(out))


if __name__ == "__main__":
    main()
