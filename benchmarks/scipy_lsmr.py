#!/usr/bin/python3
"""scipy.sparse.linalg.lsmr on the benchmark problems of benchmarks/problems.hpp.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 benchmarks/scipy_lsmr.py PROBLEM

Builds the same A (generated with the same integer hash, or read from data/lsq) and the same
right-hand sides as the C++ benchmarks, runs lsmr with scipy's defaults (atol = btol = 1e-6,
conlim = 1e8, maxiter = min(m, n)) for k = 1 and k = 8 (k = 8 the seed's way: one lsmr per
column), and times one A·v plus one Aᵀ·u as scipy's LinearOperator does them. Prints one JSON
object: seconds (best of a few runs), itn, and the peak resident memory of this process.
"""

import json
import math
import os
import resource
import sys
import time

import numpy as np
import scipy
import scipy.io
import scipy.sparse
import scipy.sparse.linalg

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "lsq")

GENERATED = {
    "gen_smoke": (2000, 200, 5),
    "gen_1e5": (20000, 2000, 5),
    "gen_1e6": (200000, 20000, 5),
    "gen_1e6_dense": (20000, 2000, 50),
    "gen_1e7": (1000000, 100000, 10),
}

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix(x):
    with np.errstate(over="ignore"):
        x = x * np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(31)
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    return x


def generate(m, n, per_row):
    i = np.repeat(np.arange(m, dtype=np.int64), per_row)
    e = np.tile(np.arange(per_row, dtype=np.int64), m)
    h = mix((i * per_row + e + 1).astype(np.uint64))
    cols = (h % np.uint64(n)).astype(np.int64)
    vals = (((h >> np.uint64(11)) % np.uint64(2001)).astype(np.int64) - 1000) / 1000.0
    d = np.arange(min(m, n), dtype=np.int64)
    rows = np.concatenate([d, i])
    cols = np.concatenate([d, cols])
    vals = np.concatenate([np.full(d.size, 4.0), vals])
    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(m, n))


def load(name):
    if name in GENERATED:
        return generate(*GENERATED[name])
    return scipy.sparse.csr_matrix(scipy.io.mmread(os.path.join(DATA, name + ".mtx")), dtype=np.float64)


def rhs(m, k):
    # math.cos is the C library's cos, as std::cos in the C++ benchmarks: numpy's vectorized cos
    # may differ in the last bit, and LSMR's trajectory amplifies such differences.
    i = np.arange(m, dtype=np.float64)
    return np.stack([np.array([math.cos(0.37 * float(x) + c) for x in range(m)]) + 0.001 * i
                     for c in range(k)], axis=1)


def best(f, repeat, budget=20.0):
    times, out = [], None
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget:
            break
    return min(times), out


def main():
    name = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    A = load(name)
    m, n = A.shape
    B = rhs(m, 8)
    op = scipy.sparse.linalg.aslinearoperator(A)
    v, u = np.ones(n), np.ones(m)

    def products():
        for _ in range(10):
            op.matvec(v)
            op.rmatvec(u)

    t_products, _ = best(products, repeat)
    t1, r1 = best(lambda: scipy.sparse.linalg.lsmr(A, B[:, 0]), repeat)
    t8, r8 = best(lambda: [scipy.sparse.linalg.lsmr(A, B[:, c]) for c in range(8)],
                  max(1, repeat // 2))
    print(json.dumps({
        "problem": name, "rows": m, "cols": n, "nnz": int(A.nnz),
        "products": t_products / 10,
        "forward_1": t1, "itn_1": int(r1[2]), "istop_1": int(r1[1]),
        "forward_8": t8, "itn_8": max(int(r[2]) for r in r8),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "scipy": scipy.__version__, "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main()
