# SPDX-License-Identifier: Apache-2.0
"""The benchmark problems of benchmarks/problems.hpp, built bit for bit the same in numpy.

A generated problem is m x n with `per_row` hashed entries per row plus the identity block
A[i, i mod n] (n x n identities stacked m / n times, so A has full column rank). The column and
the value of each entry come from an integer hash (`mix`, the same 64-bit arithmetic in both
languages); duplicates are summed as integers before the one division by 1000, so no floating
point rounding can differ between the two sides. Right-hand sides and upstream gradients are
hashed the same way. `checksum` hashes the CSR arrays (row starts, column indices, value bits):
benchmarks/report.py compares it with the C++ program's (`lsq_benchmarks --problem_info=NAME`)
and refuses to compare timings of two different matrices.
"""

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "lsq")

# name: (m, n, hashed entries per row); keep in step with generated_problems() in problems.hpp
GENERATED = {
    "sprand_smoke": (4000, 400, 8),
    "sprand_20k": (20000, 2000, 8),
    "sprand_200k": (200000, 20000, 8),  # the problem of the speed issue: 1.8M nonzeros
    "sprand_1m": (1000000, 100000, 9),  # 1e7 nonzeros
}

IDENTITY_VALUE = 1000  # value 1.0 on the identity block, in thousandths
RHS_SALT, GRAD_SALT = 0xB5, 0xD7

_U64 = np.uint64


def mix(x):
    """64-bit finalizer (splitmix-style) of an array of uint64; wraps modulo 2^64."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x * _U64(0x9E3779B97F4A7C15)
        x ^= x >> _U64(31)
        x = x * _U64(0xBF58476D1CE4E5B9)
        x ^= x >> _U64(29)
    return x


def _thousandths(h):
    """Integer in [-1000, 1000] from a hash: the value of an entry, in thousandths."""
    return ((h >> _U64(11)) % _U64(2001)).astype(np.int64) - 1000


def generate(m, n, per_row):
    """CSR arrays (indptr int64, indices int32, data float64) of a generated problem."""
    i = np.repeat(np.arange(m, dtype=np.uint64), per_row)
    e = np.tile(np.arange(per_row, dtype=np.uint64), m)
    with np.errstate(over="ignore"):
        h = mix(i * _U64(per_row) + e + _U64(1))
    rows = np.concatenate([i.astype(np.int64), np.arange(m, dtype=np.int64)])
    cols = np.concatenate([(h % _U64(n)).astype(np.int64), np.arange(m, dtype=np.int64) % n])
    vals = np.concatenate([_thousandths(h), np.full(m, IDENTITY_VALUE, dtype=np.int64)])
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    starts = np.flatnonzero(first)
    summed = np.add.reduceat(vals, starts)  # integer sums: exact
    rows, cols = rows[starts], cols[starts]
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    return indptr, cols.astype(np.int32), summed.astype(np.float64) / 1000.0


def hashed_block(rows, k, salt):
    """rows x k block with entries in [-1, 1] (thousandths): B, or dX of the backward."""
    i = np.arange(rows, dtype=np.uint64)[:, None]
    c = np.arange(k, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        h = mix((_U64(salt) << _U64(48)) + c * _U64(rows) + i)
    return _thousandths(h).astype(np.float64) / 1000.0


def load(name):
    """scipy CSR matrix of a problem: generated, or data/lsq/NAME.mtx."""
    import scipy.io
    import scipy.sparse

    if name in GENERATED:
        m, n, per_row = GENERATED[name]
        indptr, indices, data = generate(m, n, per_row)
        return scipy.sparse.csr_matrix((data, indices, indptr), shape=(m, n))
    coo = scipy.io.mmread(os.path.join(DATA, name + ".mtx")).tocoo()
    A = scipy.sparse.csr_matrix(coo, dtype=np.float64)
    A.sort_indices()
    return A


def checksum(A):
    """Order-sensitive hash of shape, row starts, column indices and value bits (hex string)."""
    words = [
        np.array([A.shape[0], A.shape[1]], dtype=np.int64).view(np.uint64),
        A.indptr.astype(np.int64).view(np.uint64),
        A.indices.astype(np.int64).view(np.uint64),
        np.ascontiguousarray(A.data, dtype=np.float64).view(np.uint64),
    ]
    total = _U64(0)
    with np.errstate(over="ignore"):
        for a, w in enumerate(words):
            key = mix(np.arange(w.size, dtype=np.uint64) + (_U64(a + 1) << _U64(56)))
            total = total + np.sum(mix(w ^ key), dtype=np.uint64)
    return f"{int(total):016x}"
