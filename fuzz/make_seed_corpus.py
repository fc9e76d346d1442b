#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_lstsq (fuzz/corpus/lstsq/) in the byte format that
fuzz_lstsq.cpp decodes: flags, rows, cols, [k], nnz, entries (row, col, value), shape byte,
[structure byte], B values, dX values, two option bytes. Deterministic; rerun after changing
the decoder."""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "lstsq")

VECTOR, DEFAULT_SOLVER = 8, 16
COO, CSR, CSC, MAP = 0, 2, 4, 6
FLOAT = 1


def small(v):
    """tag < 200: the value int8(v * 8) / 8."""
    return bytes([0, int(round(v * 8)) & 0xFF])


def power_of_two(e, negative=False):
    """200 <= tag < 235: ±2^(e) (float) or ±2^(2e) (double), e in [-128, 127]."""
    return bytes([210, (e + 128) & 0xFF, 1 if negative else 0])


def raw(x):
    """tag >= 235: 8 raw bytes of a double (NaN, Inf, anything)."""
    return bytes([240]) + struct.pack("<d", x)


def problem(flags, m, n, entries, k=1, values=None, shape=0, options=(0, 4 | (15 << 3)),
            rng=None):
    rng = rng or random.Random(0)
    out = bytearray([flags, m, n])
    if not flags & VECTOR:
        out.append(k)
    out.append(len(entries))
    for i, j, v in entries:
        out += bytes([i, j]) + (v if isinstance(v, bytes) else small(v))
    out.append(shape)
    if (flags & 0xE0) == 0xE0:
        out.append(0)
    kk = 1 if flags & VECTOR else k
    for _ in range(m * kk + n * kk):
        out += small(rng.choice([-2, -1, -0.5, 0.25, 0.5, 1, 1.5, 3]))
    out += bytes(options)
    return bytes(out)


def random_entries(m, n, count, seed):
    rng = random.Random(seed)
    entries = [(j % m, j, 2.0) for j in range(n)]  # a "diagonal" keeps full column rank
    entries += [(rng.randrange(m), rng.randrange(n), rng.choice([-1, -0.5, 0.5, 1]))
                for _ in range(count)]
    return entries


SEED = [(0, 0, 1), (1, 0, 2), (2, 0, 1), (3, 0, 3), (4, 1, 1), (1, 1, 2), (2, 1, 1), (3, 2, 1)]

seeds = {
    "seed_example_coo_vector": problem(COO | VECTOR, 5, 3, SEED),
    "seed_example_csr_float_k2": problem(CSR | FLOAT, 5, 3, SEED, k=2),
    "seed_example_csc_default_k3": problem(CSC | DEFAULT_SOLVER, 5, 3, SEED, k=3),
    "seed_example_map_vector": problem(MAP | VECTOR, 5, 3, SEED),
    "tall_12x4": problem(COO, 12, 4, random_entries(12, 4, 20, 1), k=2),
    "square_6x6_float": problem(CSR | FLOAT | VECTOR, 6, 6, random_entries(6, 6, 8, 2)),
    "wide_3x6": problem(COO | VECTOR, 3, 6, random_entries(3, 6, 6, 3)),
    "duplicate_column": problem(COO | VECTOR, 5, 4, SEED + [(0, 3, 1), (1, 3, 2), (2, 3, 1), (3, 3, 3)]),
    "empty_column": problem(CSR | VECTOR, 5, 4, SEED),
    "extreme_scales": problem(COO | VECTOR, 4, 2, [(0, 0, power_of_two(75)), (1, 1, power_of_two(-75)),
                                                  (2, 0, power_of_two(70, True)), (3, 1, 1)]),
    "nan_value": problem(COO | VECTOR, 3, 2, [(0, 0, raw(float("nan"))), (1, 1, 1), (2, 0, 1)]),
    "index_out_of_range": problem(COO, 4, 2, [(0, 0, 1), (255, 1, 1), (2, 1, 1)], k=1),
    "broken_structure": problem(COO | 0xE0, 4, 2, [(0, 0, 1), (1, 1, 1)], k=1),
    "maxiter_1_no_throw": problem(CSR | VECTOR, 8, 5, random_entries(8, 5, 10, 4), options=(64, 1 | (15 << 3))),
    "bad_option": problem(COO | VECTOR, 5, 3, SEED, options=(0, 4)),
    "zero_sizes": problem(COO, 0, 0, [], k=0),
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {OUT}")
