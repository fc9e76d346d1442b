#!/usr/bin/python3
"""The trust corpus for scipy's lsmr and the seed's two-solve backward (issue 12).

    /usr/bin/python3 scripts/trust_corpus_scipy.py [--out DIR] [--matrix NAME]... [--cpp-csv FILE]

The same cases as tests/trust_corpus_test.cpp, on the same data bit for bit (keep the two in
step): the matrices of data/lsq, the same column scalings, right-hand sides and dX from the same
splitmix64 stream, summed in the same order. Each case runs what a user of the seed
(torchsparsegradutils' sparse_generic_lstsq with scipy's lsmr) gets:

    x     = lsmr(A, b)                                    the forward
    dB    = lsmr(A^T, dX)                                 the seed's backward: two solves,
    H     = lsmr(A, dB)                                   stopping silently at maxiter,
    dA_ij = -dB_i x_j - r_i H_j,  r = A x - b             no rank check

with scipy's defaults, or with the option set's (a: defaults; b: maxiter = 10 n; c: atol = btol =
1e-14, conlim = 1e16, maxiter = 10 n; d: the data rounded to float32, defaults; scipy's lsmr then
computes in float64, result_type(A, b, float), so (d) measures float32 data, not float32
arithmetic). It never raises for a numerical outcome, so each case is accurate, inaccurate or
silently wrong (a gradient returned for a rank-deficient A is silently wrong: none exists).

References are computed here, independently of the C++ side, with numpy/scipy in double: QR of
the scaled matrix (x = R^-1 Q^T b, dB = Q R^-T dX, H = R^-1 R^-T dX); for rank-deficient A the
SVD's minimum-norm solution and the projector onto range(A^T) (a rank-deficient forward is judged
by its distance to the set of least-squares solutions); the normal equations (Cholesky) for the
10592 x 3016 matrix (kappa 1.03). Their errors are of order u (kappa + kappa^2 theta) for x and
u kappa^2 for the gradients, u = 1.1e-16 and kappa that of the best column scaling (Householder
QR is backward stable column by column), at most the unscaled 1.05e5: u kappa^2 <= 1.2e-6, and
the C++ self-check measures a double QR within 2e-11 of a long double one on that matrix under
every scaling, against the threshold 1e-3.

Writes DIR/trust_corpus_scipy.md and DIR/trust_corpus_scipy.csv (default DIR: build-corpus/tests
if it exists, else the current directory). With the C++ side's CSV (--cpp-csv, default
DIR/trust_corpus.csv when it exists) it checks that every (matrix, scaling) has the same
data_hash, exits 1 if one differs, and writes DIR/trust_corpus_side_by_side.md (the verdict
counts of both; --side-by-side-only makes just that from the two CSV files).
"""

import argparse
import csv
import math
import os
import struct
import sys
import time

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "lsq")

MATRICES = ["lp_afiro_T", "ash219", "abb313", "lp_share1b_T", "lp_e226_T",
            "well1033", "illc1033", "well1850", "illc1850", "Franz6_id1959_aug"]
SCALINGS = ["as is", "col0 x 1e-3", "col0 x 1e-5", "logspace(0,-3)"]
RHS_NAMES = ["consistent+noise", "random"]
DX_SEEDS = 5
SEED_X_TRUE, SEED_NOISE, SEED_RANDOM_RHS, SEED_DX = 1, 2, 3, 100
NOISE_LEVEL = 1e-6
MAXITER_FACTOR = 10
LARGE_DENSE_WORK = 1e10  # m n^2 above which no dense QR or SVD of A is done
OPTION_SETS = ["a_defaults", "b_maxiter_raised", "c_tight", "d_float"]
DESCRIPTIONS = {
    "a_defaults": "(a) defaults: lsmr(A, b), lsmr(A^T, dX), lsmr(A, dB) with scipy's defaults",
    "b_maxiter_raised": "(b) defaults with maxiter = 10 n for every lsmr",
    "c_tight": "(c) tight: atol = btol = 1e-14, conlim = 1e16, maxiter = 10 n",
    "d_float": "(d) float: data rounded to float32, defaults (scipy computes in float64)",
}
SHORT_NAMES = {
    "a_defaults": "(a) defaults",
    "b_maxiter_raised": "(b) defaults with maxiter = 10 n",
    "c_tight": "(c) tight: atol = btol = 1e-14, conlim = 1e16, maxiter = 10 n",
    "d_float": "(d) float data, defaults",
}
VERDICTS = ["accurate", "inaccurate", "refused", "false rank refusal", "silently wrong",
            "excluded"]
MASK = (1 << 64) - 1


# --- data, bit for bit as in tests/trust_corpus_test.cpp ---------------------------------------

class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        """(k - 2^52) / 2^52 for the top 53 bits k: exact, on [-1, 1)."""
        return float((self.next() >> 11) - (1 << 52)) * 2.0 ** -52


def uniform_vector(size, seed):
    rng = SplitMix64(seed)
    return np.array([rng.uniform() for _ in range(size)], dtype=np.float64)


def read_matrix_market(path):
    """A coordinate .mtx file as CSR with the columns of each row in increasing order (Eigen's
    order), values parsed by float() (correctly rounded, as the C++ reader)."""
    with open(path) as f:
        banner = f.readline().split()
        field = banner[3].lower()
        line = f.readline()
        while line.startswith("%"):
            line = f.readline()
        m, n, count = (int(t) for t in line.split())
        entries = []
        for _ in range(count):
            parts = f.readline().split()
            value = 1.0 if field == "pattern" else float(parts[2])
            entries.append((int(parts[0]) - 1, int(parts[1]) - 1, value))
    entries.sort(key=lambda e: (e[0], e[1]))
    rows = np.array([e[0] for e in entries], dtype=np.int64)
    cols = np.array([e[1] for e in entries], dtype=np.int64)
    vals = np.array([e[2] for e in entries], dtype=np.float64)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    return scipy.sparse.csr_matrix((vals, cols, np.cumsum(indptr)), shape=(m, n))


def column_factors(scaling, n):
    f = [1.0] * n
    if scaling == "col0 x 1e-3":
        f[0] = 1e-3
    elif scaling == "col0 x 1e-5":
        f[0] = 1e-5
    elif scaling == "logspace(0,-3)" and n > 1:
        f = [math.pow(10.0, -3.0 * j / (n - 1)) for j in range(n)]
    return f


def scale_columns(A, f):
    S = A.copy()
    S.data = np.array([v * f[c] for v, c in zip(A.data.tolist(), A.indices.tolist())])
    return S


def ordered_product(A, x):
    """A x summed row by row in column order, one rounding per product and per addition."""
    data, indices, indptr = A.data.tolist(), A.indices.tolist(), A.indptr.tolist()
    xs = x.tolist()
    y = []
    for i in range(A.shape[0]):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * xs[indices[k]]
        y.append(s)
    return y


def right_hand_sides(A):
    m = A.shape[0]
    y = ordered_product(A, uniform_vector(A.shape[1], SEED_X_TRUE))
    sum2 = 0.0
    for v in y:
        sum2 += v * v
    level = NOISE_LEVEL * math.sqrt(sum2 / m)
    noise = uniform_vector(m, SEED_NOISE).tolist()
    B = np.empty((m, 2))
    B[:, 0] = [y[i] + level * noise[i] for i in range(m)]
    B[:, 1] = uniform_vector(m, SEED_RANDOM_RHS)
    return B


def upstream_gradients(n):
    return np.stack([uniform_vector(n, SEED_DX + k) for k in range(DX_SEEDS)], axis=1)


def data_hash(A, B, dX):
    """FNV-1a over the IEEE bits of A's values (CSR order), B and dX (column-major)."""
    h = 0xcbf29ce484222325
    for array in (A.data, B.T.ravel(), dX.T.ravel()):
        for byte in struct.pack("<%dd" % array.size, *array.tolist()):
            h = ((h ^ byte) * 0x100000001b3) & MASK
    return h


# --- references ---------------------------------------------------------------------------------

class Reference:
    def __init__(self):
        self.method, self.excluded, self.full_rank, self.kappa = "", "", True, 0.0
        self.X, self.dB, self.dA, self.theta = None, [], [], []
        self.range_projector = None  # rank-deficient A: P = V_r V_r^T onto range(A^T)

    def error_of_x(self, x, c):
        """Relative error, or for rank-deficient A the distance to the least-squares solutions
        x* + null(A) (any of them has the least residual), as on the C++ side."""
        diff = np.asarray(x, dtype=np.float64) - self.X[:, c]
        if self.range_projector is not None:
            diff = self.range_projector @ diff
        norm = np.linalg.norm(self.X[:, c])
        return np.linalg.norm(diff) / norm if norm > 0 else np.linalg.norm(diff)


def adjoint_on_pattern(A, dB, x, r, H):
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    return -dB[rows] * x[A.indices] - r[rows] * H[A.indices]


def qr_reference(A, B, dX, with_kappa):
    Ad = A.toarray()
    Q, R = np.linalg.qr(Ad)
    ref = Reference()
    ref.method = "QR (numpy double)"
    sigma = np.linalg.svd(R, compute_uv=False) if with_kappa else None
    if with_kappa:
        ref.kappa = sigma[0] / sigma[-1]
    norm_a = sigma[0] if with_kappa else np.linalg.norm(R)
    ref.X = np.empty((A.shape[1], 2))
    for c in range(2):
        b = B[:, c]
        x = scipy.linalg.solve_triangular(R, Q.T @ b)
        r = Ad @ x - b
        ref.X[:, c] = x
        ref.theta.append(np.linalg.norm(r) / (norm_a * np.linalg.norm(x)))
        for k in range(DX_SEEDS):
            z = scipy.linalg.solve_triangular(R, dX[:, k], trans="T")
            dB = Q @ z
            H = scipy.linalg.solve_triangular(R, z)
            ref.dB.append(dB)
            ref.dA.append(adjoint_on_pattern(A, dB, x, r, H))
    return ref


def svd_reference(A, B, rank):
    Ad = A.toarray()
    U, s, Vt = np.linalg.svd(Ad, full_matrices=False)
    ref = Reference()
    ref.method, ref.full_rank, ref.kappa = "SVD (numpy double)", False, s[0] / s[rank - 1]
    ref.X = Vt[:rank].T @ ((U[:, :rank].T @ B) / s[:rank, None])
    ref.range_projector = Vt[:rank].T @ Vt[:rank]
    ref.theta = [np.linalg.norm(Ad @ ref.X[:, c] - B[:, c]) / (s[0] * np.linalg.norm(ref.X[:, c]))
                 for c in range(2)]
    return ref


def normal_reference(A, B, dX, with_kappa):
    M = (A.T @ A).toarray()
    ref = Reference()
    ref.method = "normal equations (scipy double)"
    try:
        factor = scipy.linalg.cho_factor(M)
    except np.linalg.LinAlgError:
        ref.excluded = "the Cholesky factorization of A^T A failed"
        return ref
    if with_kappa:
        ev = scipy.linalg.eigvalsh(M)
        ref.kappa = math.sqrt(ev[-1] / ev[0])
    norm_a = math.sqrt(M.diagonal().max())
    ref.X = np.empty((A.shape[1], 2))
    for c in range(2):
        x = scipy.linalg.cho_solve(factor, A.T @ B[:, c])
        r = A @ x - B[:, c]
        ref.X[:, c] = x
        ref.theta.append(np.linalg.norm(r) / (norm_a * np.linalg.norm(x)))
        for k in range(DX_SEEDS):
            H = scipy.linalg.cho_solve(factor, dX[:, k])
            dB = A @ H
            ref.dB.append(dB)
            ref.dA.append(adjoint_on_pattern(A, dB, x, r, H))
    return ref


def analyse(A):
    m, n = A.shape
    large = m * n * n > LARGE_DENSE_WORK
    if large:  # kappa from the eigenvalues of A^T A: they resolve sigma_min >~ sqrt(eps)
        # sigma_max only, enough for the one large matrix (kappa 1.03); beyond 100 the
        # normal-equation reference is excluded anyway
        ev = scipy.linalg.eigvalsh((A.T @ A).toarray())
        full = ev[0] > max(m, n) * np.finfo(float).eps * ev[-1]
        return {"large": True, "rank": n if full else 0, "kappa": math.sqrt(ev[-1] / ev[0])}
    s = np.linalg.svd(A.toarray(), compute_uv=False)
    rank = int((s > max(m, n) * np.finfo(float).eps * s[0]).sum())
    return {"large": False, "rank": rank, "kappa": s[0] / s[rank - 1]}


def reference_for(info, A, B, dX, with_kappa):
    if info["rank"] < A.shape[1]:
        if info["large"]:
            ref = Reference()
            ref.full_rank, ref.excluded = False, "rank-deficient and too large for a dense SVD"
            return ref
        return svd_reference(A, B, info["rank"])
    if info["large"]:
        ref = normal_reference(A, B, dX, with_kappa)
        if not ref.excluded and info["kappa"] > 100:
            ref.excluded = "normal-equation reference with kappa > 100 is not accurate enough"
        return ref
    return qr_reference(A, B, dX, with_kappa)


# --- cases --------------------------------------------------------------------------------------

def thresholds(option_set):
    return (1e-2, 1e-1) if option_set == "d_float" else (1e-3, 1e-2)


def relative_error(got, want):
    norm = np.linalg.norm(want)
    diff = np.linalg.norm(np.asarray(got, dtype=np.float64) - want)
    return diff / norm if norm > 0 else diff


def classify(case, full_rank):
    if case["excluded"]:
        return "excluded"
    accurate, wrong = thresholds(case["option_set"])
    errors = [case["err_x"], case["err_dB"], case["err_dA"]]
    if not (case["err_x"] <= wrong) or not full_rank:
        return "silently wrong"
    if any(not (e <= wrong) for e in errors):
        return "silently wrong"
    return "accurate" if max(errors) <= accurate else "inaccurate"


def lsmr_options(option_set, n):
    if option_set in ("b_maxiter_raised", "c_tight"):
        opts = {"maxiter": MAXITER_FACTOR * n}
        if option_set == "c_tight":
            opts.update(atol=1e-14, btol=1e-14, conlim=1e16)
        return opts
    return {}


def run_option_set(option_set, name, scaling, A, B, dX, ref, digest, cases):
    m, n = A.shape
    opts = lsmr_options(option_set, n)
    At = A.T.tocsr()
    for c in range(2):
        b = B[:, c]
        out = scipy.sparse.linalg.lsmr(A, b, **opts)
        x, istop, itn = out[0], out[1], out[2]
        r = A @ x - b
        for k in range(DX_SEEDS):
            case = {"option_set": option_set, "matrix": name, "scaling": scaling,
                    "rhs": RHS_NAMES[c], "dx_seed": k, "m": m, "n": n, "nnz": A.nnz,
                    "full_rank": ref.full_rank, "kappa": ref.kappa,
                    "theta": ref.theta[c] if ref.theta else float("nan"),
                    "reference": ref.method, "istop": istop, "itn": itn,
                    "err_x": float("nan"), "err_dB": float("nan"), "err_dA": float("nan"),
                    "istop_dB": "", "istop_H": "", "excluded": ref.excluded,
                    "data_hash": "%016x" % digest}
            if not ref.excluded:
                case["err_x"] = ref.error_of_x(x, c)
                dB_out = scipy.sparse.linalg.lsmr(At, dX[:, k], **opts)
                H_out = scipy.sparse.linalg.lsmr(A, dB_out[0], **opts)
                dB, H = dB_out[0], H_out[0]
                case["istop_dB"], case["istop_H"] = dB_out[1], H_out[1]
                if ref.full_rank:
                    slot = c * DX_SEEDS + k
                    case["err_dB"] = relative_error(dB, ref.dB[slot])
                    case["err_dA"] = relative_error(adjoint_on_pattern(A, dB, x, r, H),
                                                    ref.dA[slot])
            case["verdict"] = classify(case, ref.full_rank)
            cases.append(case)


# --- output -------------------------------------------------------------------------------------

CSV_FIELDS = ["option_set", "matrix", "scaling", "rhs", "dx_seed", "m", "n", "nnz", "full_rank",
              "kappa", "theta", "reference", "istop", "itn", "err_x", "istop_dB", "istop_H",
              "err_dB", "err_dA", "verdict", "data_hash", "excluded"]


def fmt(v, spec="%.2e"):
    return "" if isinstance(v, float) and math.isnan(v) else spec % v


def write_csv(path, cases):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for c in cases:
            row = dict(c)
            row["full_rank"] = "yes" if c["full_rank"] else "no"
            for key in ("kappa", "err_x", "err_dB", "err_dA"):
                row[key] = fmt(c[key], "%.3e")
            row["theta"] = fmt(c["theta"])
            w.writerow([row[k] for k in CSV_FIELDS])


def markdown(cases, seconds):
    out = ["# Trust corpus: scipy lsmr + the seed's two-solve backward", "",
           "Generated by scripts/trust_corpus_scipy.py in %.1f s, on the cases and data of "
           "tests/trust_corpus_test.cpp (same verdicts and thresholds; scipy and the seed never "
           "refuse, so refused and false rank are 0 by construction)." % seconds, "",
           "## Totals", "",
           "| option set | cases | " + " | ".join(VERDICTS) + " |",
           "|---" * (len(VERDICTS) + 2) + "|"]
    for o in OPTION_SETS:
        rows = [c for c in cases if c["option_set"] == o]
        if rows:
            out.append("| %s | %d | " % (o, len(rows)) +
                       " | ".join(str(sum(c["verdict"] == v for c in rows)) for v in VERDICTS) +
                       " |")
    for o in OPTION_SETS:
        out += ["", "## " + DESCRIPTIONS[o], "",
                "| matrix | scaling | kappa | cases | accurate | inaccurate | silently wrong | "
                "worst x | worst dB | worst dA | forward istop |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        keys = []
        for c in cases:
            if c["option_set"] == o and (c["matrix"], c["scaling"]) not in keys:
                keys.append((c["matrix"], c["scaling"]))
        for matrix, scaling in keys:
            rows = [c for c in cases if c["option_set"] == o and c["matrix"] == matrix and
                    c["scaling"] == scaling]
            first = rows[0]

            def worst(key):
                values = [c[key] for c in rows if not math.isnan(c[key])]
                return fmt(max(values)) if values else ""

            istops = sorted({str(c["istop"]) for c in rows})
            label = matrix + ("" if first["full_rank"] else " (rank-deficient)")
            if first["excluded"]:
                label += " (excluded: %s)" % first["excluded"]
            out.append("| %s | %s | %s | %d | %d | %d | %d | %s | %s | %s | %s |" % (
                label, scaling, fmt(first["kappa"], "%.4g"), len(rows),
                sum(c["verdict"] == "accurate" for c in rows),
                sum(c["verdict"] == "inaccurate" for c in rows),
                sum(c["verdict"] == "silently wrong" for c in rows),
                worst("err_x"), worst("err_dB"), worst("err_dA"), ", ".join(istops)))
    return "\n".join(out) + "\n"


def side_by_side(cpp_csv, scipy_csv):
    """One table per option set: the verdict counts of sparsegrad (C++) and of scipy + the seed
    for every (matrix, scaling), from the two CSV files."""
    def counts(path):
        table = {}
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                key = (row["option_set"], row["matrix"], row["scaling"])
                entry = table.setdefault(key, {"kappa": row["kappa"], "full_rank": row["full_rank"],
                                               "verdicts": {v: 0 for v in VERDICTS}})
                entry["verdicts"][row["verdict"]] += 1
        return table

    ours, theirs = counts(cpp_csv), counts(scipy_csv)
    order = ["accurate", "inaccurate", "refused", "false rank refusal", "silently wrong"]
    out = ["# Trust corpus side by side: sparsegrad vs scipy lsmr + the seed", "",
           "Counts per (matrix, scaling) of 10 cases (2 right-hand sides x 5 dX): accurate / "
           "inaccurate / refused / false rank refusal / silently wrong. From %s and %s." % (
               os.path.basename(cpp_csv), os.path.basename(scipy_csv))]
    for o in OPTION_SETS:
        out += ["", "## " + SHORT_NAMES[o], "",
                "| matrix | scaling | kappa | sparsegrad | scipy + seed |", "|---|---|---|---|---|"]
        for key in [k for k in ours if k[0] == o]:
            a, b = ours[key], theirs.get(key)
            cell = lambda e: "/".join(str(e["verdicts"][v]) for v in order) if e else "not run"
            label = key[1] + ("" if a["full_rank"] == "yes" else " (rank-deficient)")
            out.append("| %s | %s | %s | %s | %s |" % (label, key[2], "%.4g" % float(a["kappa"]),
                                                      cell(a), cell(b)))
    return "\n".join(out) + "\n"


def compare_hashes(cases, cpp_csv):
    ours = {(c["matrix"], c["scaling"]): c["data_hash"] for c in cases}
    theirs = {}
    with open(cpp_csv, newline="") as f:
        for row in csv.DictReader(f):
            theirs[(row["matrix"], row["scaling"])] = row["data_hash"]
    mismatches = [k for k in ours if k in theirs and theirs[k] != ours[k]]
    common = [k for k in ours if k in theirs]
    print("data hashes: %d of %d (matrix, scaling) pairs compared with %s, %d differ" % (
        len(common), len(ours), cpp_csv, len(mismatches)), file=sys.stderr)
    for k in mismatches:
        print("  differs: %s %s (C++ %s, Python %s)" % (k[0], k[1], theirs[k], ours[k]),
              file=sys.stderr)
    return not mismatches


def main():
    default_out = os.path.join(HERE, "..", "build-corpus", "tests")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out if os.path.isdir(default_out) else ".")
    parser.add_argument("--matrix", action="append", help="only this matrix (repeatable)")
    parser.add_argument("--cpp-csv", help="the C++ side's trust_corpus.csv to compare hashes with")
    parser.add_argument("--side-by-side-only", action="store_true",
                        help="only write trust_corpus_side_by_side.md from the CSV files in --out")
    args = parser.parse_args()
    cpp_csv = args.cpp_csv or os.path.join(args.out, "trust_corpus.csv")
    scipy_csv = os.path.join(args.out, "trust_corpus_scipy.csv")
    if args.side_by_side_only:
        with open(os.path.join(args.out, "trust_corpus_side_by_side.md"), "w") as f:
            f.write(side_by_side(cpp_csv, scipy_csv))
        return 0
    start = time.perf_counter()
    cases = []
    for name in MATRICES:
        if args.matrix and name not in args.matrix:
            continue
        A0 = read_matrix_market(os.path.join(DATA, name + ".mtx"))
        info = analyse(A0)
        print("%-18s %6d x %-5d rank %-5d kappa %.3g (%.1f s)" % (
            name, A0.shape[0], A0.shape[1], info["rank"], info["kappa"],
            time.perf_counter() - start), file=sys.stderr, flush=True)
        B, dX = right_hand_sides(A0), upstream_gradients(A0.shape[1])
        for scaling in SCALINGS:
            A = scale_columns(A0, column_factors(scaling, A0.shape[1]))
            digest = data_hash(A, B, dX)
            ref = reference_for(info, A, B, dX, True)
            for o in OPTION_SETS[:3]:
                run_option_set(o, name, scaling, A, B, dX, ref, digest, cases)
            Af = A.astype(np.float32)
            Bf, dXf = B.astype(np.float32), dX.astype(np.float32)
            ref_f = reference_for(info, Af.astype(np.float64), Bf.astype(np.float64),
                                  dXf.astype(np.float64), False)
            ref_f.kappa, ref_f.theta = ref.kappa, ref.theta
            run_option_set("d_float", name, scaling, Af, Bf, dXf, ref_f, digest, cases)
            print("  %-15s kappa %.3g (%.1f s)" % (scaling, ref.kappa, time.perf_counter() - start),
                  file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    os.makedirs(args.out, exist_ok=True)
    write_csv(os.path.join(args.out, "trust_corpus_scipy.csv"), cases)
    md = markdown(cases, seconds)
    with open(os.path.join(args.out, "trust_corpus_scipy.md"), "w") as f:
        f.write(md)
    print(md)
    if not os.path.exists(cpp_csv):
        return 0
    if not compare_hashes(cases, cpp_csv):
        return 1
    with open(os.path.join(args.out, "trust_corpus_side_by_side.md"), "w") as f:
        f.write(side_by_side(cpp_csv, scipy_csv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
