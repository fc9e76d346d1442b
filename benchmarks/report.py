#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the benchmarks and their references in one run and reports the speed issue's figures.

    report.py --bench BUILD/benchmarks/lsq_benchmarks [--smoke] [--problems a,b] [--no-seed]
              [--min-time 0.3] [--omp-wait-policy passive] [--from-json results.json]

In one run, in this order: the machine (CPU, cores, load average), the memory bandwidth
(STREAM-like copy and triad), then per problem the C++ benchmarks (lsq_benchmarks), scipy's
lsmr on the same A and B (scipy_lsmr.py; the CSR checksums of both sides must agree), the
seed's scheme in torch on the speed issue's problem (torch_lstsq_bench.py), the bandwidth
again and the load average again. Writes benchmarks/results/{results.md, results.json,
performance.png} and the results section of docs/performance.md. --smoke runs every benchmark
once on a small problem and writes to a temporary directory: its figures measure nothing.

The C++ side runs with OMP_NUM_THREADS and OMP_WAIT_POLICY unset, so that "default threads"
is what a user gets; --omp-wait-policy sets the policy instead (then the report says so).
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
RESULTS = os.path.join(HERE, "results")
DOCS = os.path.join(ROOT, "docs", "performance.md")
MAIN, SMOKE = "sprand_200k", "sprand_smoke"
FULL = "sprand_200k,sprand_1m,well1033,well1850,illc1033,lp_e226_T,Franz6_id1959_aug"
NAN = float("nan")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

# Right-hand-side counts of the scipy reference, per problem kind: (k of the forward calls,
# k of forward + the seed's backward). Mirrors plan_for() in lsq_benchmarks.cpp.
SCIPY_KS = {"main": ("1,4,8,32", "1,8"), "other": ("1,8", "1")}


# --- running ---------------------------------------------------------------------------------


def python_env():
    env = dict(os.environ)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(name, None)
    return env


def cpp_env(wait_policy):
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        env.pop(name, None)
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    return env


def run(cmd, env):
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"report: {' '.join(cmd)} failed with exit code {proc.returncode}")
    return proc.stdout


def gbench(bench, flags, env):
    """{name: record} of a Google Benchmark JSON run; record has seconds and the counters."""
    data = json.loads(run([bench, "--benchmark_format=json"] + flags, env))
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    out = {}
    for b in data["benchmarks"]:
        name = b["name"]
        for suffix in ("/manual_time", "/real_time", "/iterations:1"):
            name = name.replace(suffix, "")
        if b.get("error_occurred"):
            print(f"report: {name}: {b.get('error_message')}", file=sys.stderr)
            out[name] = {"error": b.get("error_message")}
            continue
        rec = {"seconds": b["real_time"] * scale[b["time_unit"]]}
        for key, value in b.items():
            if isinstance(value, (int, float)) and key not in ("real_time", "cpu_time"):
                rec[key] = value
        out[name] = rec
    return out, data["context"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return [NAN, NAN, NAN]


def stream(bench, env, smoke):
    flags = ["--stream"] + (["--plan=smoke"] if smoke else ["--benchmark_min_time=0.2"])
    records, _ = gbench(bench, flags, env)
    return {name: r["bytes"] / r["seconds"] / 1e9 for name, r in records.items() if "bytes" in r}


def measure_all(args):
    started = time.time()
    cenv, penv = cpp_env(args.omp_wait_policy), python_env()
    smoke = args.smoke
    problems = [SMOKE] if smoke else [p for p in args.problems.split(",") if p]
    main_problem = SMOKE if smoke else MAIN
    min_time = "0" if smoke else str(args.min_time)
    out = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                       "load_start": load_average(),
                       "omp_wait_policy": args.omp_wait_policy or "(unset)"},
           "smoke": smoke, "main_problem": main_problem,
           "stamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "problems": {}}
    print("report: memory bandwidth ...", file=sys.stderr, flush=True)
    out["stream_start"] = stream(args.bench, cenv, smoke)
    for p in problems:
        print(f"report: {p} ...", file=sys.stderr, flush=True)
        info = json.loads(run([args.bench, f"--problem_info={p}"], cenv))
        ks, fb = SCIPY_KS["main" if p == main_problem else "other"]
        sp = json.loads(run(["/usr/bin/python3", os.path.join(HERE, "scipy_lsmr.py"), p,
                             "--ks", ks, "--fwd-bwd-ks", fb, "--min-time", min_time], penv))
        if sp["checksum"] != info["checksum"]:
            sys.exit(f"report: {p}: the C++ and the Python problem differ (CSR checksum "
                     f"{info['checksum']} vs {sp['checksum']}); fix problems.hpp/problems.py")
        flags = [f"--problems={p}"] + (["--plan=smoke"] if smoke
                                       else [f"--benchmark_min_time={args.min_time}"])
        cpp, context = gbench(args.bench, flags, cenv)
        out["problems"][p] = {"info": info, "cpp": cpp, "scipy": sp}
        out["context"] = context
    if args.no_seed:
        out["seed"] = None
    else:
        print("report: the seed's scheme in torch ...", file=sys.stderr, flush=True)
        if importlib.util.find_spec("torch") is None:
            print("report: torch not importable, the seed is not measured", file=sys.stderr)
            out["seed"] = None
        else:
            seed = json.loads(run(["/usr/bin/python3", os.path.join(HERE, "torch_lstsq_bench.py"),
                                   main_problem, "--k", "4", "--min-time", min_time], penv))
            if seed["checksum"] != out["problems"][main_problem]["info"]["checksum"]:
                sys.exit("report: the torch side built a different problem")
            out["seed"] = seed
    out["stream_end"] = stream(args.bench, cenv, smoke)
    out["machine"]["load_end"] = load_average()
    out["seconds"] = time.time() - started
    return out


# --- figures from a run ----------------------------------------------------------------------


class Run:
    """Lookups into a run's results; every missing figure is NaN."""

    def __init__(self, data):
        self.data = data
        self.main = data["main_problem"]
        ctx = data.get("context", {})
        self.t_default = int(ctx.get("default_threads", 0) or 0)

    def rec(self, p, name):
        return self.data["problems"].get(p, {}).get("cpp", {}).get(name, {})

    def t(self, family, p, k, threads):
        return self.rec(p, f"{family}/{p}/{k}/{threads}").get("seconds", NAN)

    def counter(self, family, p, k, threads, key):
        return self.rec(p, f"{family}/{p}/{k}/{threads}").get(key, NAN)

    def scipy(self, p, key):
        return self.data["problems"].get(p, {}).get("scipy", {}).get(key, NAN)

    def info(self, p):
        return self.data["problems"][p]["info"]

    def fwd_bwd(self, p, k, threads):
        return self.t("forward", p, k, threads) + self.t("backward", p, k, threads)

    def bandwidth(self, threads, kind="triad", size="dram"):
        """The higher of the two measurements (start and end of the run), in GB/s."""
        key = f"stream_{kind}/{size}/{threads}"
        values = [self.data.get(when, {}).get(key, NAN) for when in ("stream_start", "stream_end")]
        values = [v for v in values if v == v]
        return max(values) if values else NAN


def div(a, b):
    return a / b if b and b == b and a == a else NAN


def bytes_of_matrix(outer, nnz, scalar=8, index=4):
    return nnz * (scalar + index) + (outer + 1) * index


def iteration_bytes_min(m, n, nnz, k, scalar=8):
    """Least traffic of one LSMR iteration: A and its transposed copy read once each, the
    m-vectors passed 3 times (u read and written by u = A v - alpha u, read by A^T u) and the
    n-vectors 10 times (v read by A v, read and written by v = A^T u - beta v; h, hbar, x read
    and written and v read by the fused h, hbar, x update), k columns."""
    return (bytes_of_matrix(m, nnz, scalar) + bytes_of_matrix(n, nnz, scalar)
            + scalar * k * (3 * m + 10 * n))


def pair_bytes_min(m, n, nnz, scalar=8):
    """One A v plus one A^T u (k = 1) reading A twice: A, v, u read and A v, A^T u written once."""
    return 2 * bytes_of_matrix(m, nnz, scalar) + scalar * 2 * (m + n)


def goal_rows(r):
    """The speed issue's table: (figure, goal text, comparison, goal, [(what, value)])."""
    p, t1, td = r.main, 1, r.t_default
    sc = lambda key: r.scipy(p, key)
    fw = lambda k, t: r.t("forward", p, k, t)
    seed = r.data.get("seed") or {}
    dflt = f"default = {plural(td, 'thread')}"
    return [
        ("forward vs scipy lsmr, k = 1, default threads", "≥ 2×", "ge", 2.0,
         [(dflt, div(sc("forward_1"), fw(1, td)))]),
        ("forward vs scipy, k = 1, 1 thread", "≥ 1.5×", "ge", 1.5,
         [("1 thread", div(sc("forward_1"), fw(1, t1)))]),
        ("forward vs scipy (k calls), k = 8", "≥ 5×", "ge", 5.0,
         [("1 thread", div(sc("forward_8"), fw(8, t1))), (dflt, div(sc("forward_8"), fw(8, td)))]),
        ("forward + backward vs scipy with the seed's two solves, k = 8", "≥ 6×", "ge", 6.0,
         [("1 thread", div(sc("fwd_bwd_8"), r.fwd_bwd(p, 8, t1))),
          (dflt, div(sc("fwd_bwd_8"), r.fwd_bwd(p, 8, td)))]),
        ("forward + backward vs the seed package, k = 4", "≥ 50×", "ge", 50.0,
         [("1 thread", div(seed.get("seed_fwd_bwd", NAN), r.fwd_bwd(p, 4, t1))),
          (dflt, div(seed.get("seed_fwd_bwd", NAN), r.fwd_bwd(p, 4, td)))]),
        ("LSMR iteration ÷ one A·v + one Aᵀ·u (Eigen's products, same run)", "≤ 1.15", "le",
         1.15, [("1 thread", div(r.t("lsmr_iter", p, 1, t1), r.t("eigen_pair", p, 1, t1))),
          (dflt, div(r.t("lsmr_iter", p, 1, td), r.t("eigen_pair", p, 1, td)))]),
        ("backward ÷ forward, 1 thread", "≤ 1.0", "le", 1.0,
         [("k = 1", div(r.t("backward", p, 1, t1), fw(1, t1))),
          ("k = 8", div(r.t("backward", p, 8, t1), fw(8, t1)))]),
        ("k = 8 ÷ k = 1 forward time", "≤ 3", "le", 3.0,
         [("1 thread", div(fw(8, t1), fw(1, t1))), (dflt, div(fw(8, td), fw(1, td)))]),
        ("default threads ÷ 1 thread, forward", "≤ 0.65", "le", 0.65,
         [("k = 1", div(fw(1, td), fw(1, t1))), ("k = 8", div(fw(8, td), fw(8, t1)))]),
    ]


def status(cmp, goal, values):
    measured = [v for _, v in values if v == v]
    if any((v < goal) if cmp == "ge" else (v > goal) for v in measured):
        return "**missed**"
    if len(measured) < len(values) or not values:
        return "not measured"  # never "met" with a figure missing
    return "met"


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def fmt_t(s):
    if s != s:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_x(v, unit="×", digits=2, missing="—"):
    return missing if v != v else f"{v:.{digits}f}{unit}"


def fmt_mb(v):
    return "—" if v != v else f"{v:.0f} MB"


def itn_pair(r, p, k, threads):
    sg = r.counter("forward", p, k, threads, "itn")
    sp = r.scipy(p, f"itn_{k}")
    if sg != sg or sp != sp:
        return "—"
    mark = "" if int(sg) == int(sp) else " ≠"
    return f"{int(sg)} / {int(sp)}{mark}"


def report_lines(r):
    d, m = r.data, r.data["machine"]
    ctx = d.get("context", {})
    p = r.main
    td = r.t_default
    threads = sorted({1, 2, td})
    seed = d.get("seed")
    load = lambda xs: ", ".join(f"{x:.2f}" for x in xs)
    lines = []
    if d.get("smoke"):
        lines += ["**Smoke run** (every benchmark once on a small problem): the figures below "
                  "check that the pipeline works and measure nothing.", ""]
    lines += [
        f"Measured {d['stamp']} by `scripts/run-benchmarks.sh` in {d.get('seconds', NAN) / 60:.1f} "
        f"min on {m['cpu']}, {m['cores']} cores, OpenMP default {td} threads, OMP_WAIT_POLICY "
        f"{m['omp_wait_policy']}; {m['platform']}; {ctx.get('compiler', '?')} -O3, Eigen "
        f"{ctx.get('eigen_version', '?')}; scipy {r.scipy(p, 'scipy')}, numpy {r.scipy(p, 'numpy')}"
        + (f", torch {seed['torch']} ({plural(seed['torch_threads'], 'thread')})" if seed else "")
        + ".",
        f"Load average (1, 5, 15 min) at the start {load(m['load_start'])}, at the end "
        f"{load(m.get('load_end', [NAN] * 3))} (on {m['cores']} cores; above ~0.3 other work "
        f"shared the machine and the 2-thread figures suffer first).",
        "",
        "Times are means of runs totalling at least the minimum time (one run when a single run "
        "is longer), on both sides. atol = btol = 1e-8. \"k calls\" = scipy's lsmr once per "
        "column (the seed's loop). Ratios ≥ 1 read \"sparsegrad is faster\" for speed-ups.",
        "",
        "### Memory bandwidth (STREAM-like, same run)",
        "",
        "| threads | copy, 3 × 64 MiB | triad, 3 × 64 MiB | copy, 3 × 4 MiB | triad, 3 × 4 MiB"
        " |",
        "|---|---|---|---|---|",
    ]
    for t in threads:
        cells = [fmt_x(r.bandwidth(t, kind, size), " GB/s", 1)
                 for size in ("dram", "l3") for kind in ("copy", "triad")]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    info = r.info(p)
    lines += [
        "",
        f"### Goals of the speed issue on {p} ({info['rows']} × {info['cols']}, {info['nnz']:,} "
        f"nonzeros, CSR checksum {info['checksum']} on both sides)",
        "",
        "| figure | goal | measured | |",
        "|---|---|---|---|",
    ]
    for label, goal_text, cmp, goal, values in goal_rows(r):
        shown = ", ".join(f"{fmt_x(v, '×' if cmp == 'ge' else '', missing='not measured')} ({what})"
                          for what, v in values)
        lines.append(f"| {label} | {goal_text} | {shown} | {status(cmp, goal, values)} |")

    lines += ["", f"### {p}: forward, backward and memory per k", "",
              "| k | itn sg / scipy | forward " + " / ".join(f"t{t}" for t in threads)
              + " | scipy k calls | speed-up " + " / ".join(f"t{t}" for t in threads)
              + " | backward t1 (seed's two solves) | fwd + bwd vs scipy seed-style t1 / "
              f"t{td} | float ÷ double t1 | peak extra memory sg t1 / scipy |",
              "|---|---|---|---|---|---|---|---|---|"]
    for k in (1, 4, 8, 32):
        fw = [r.t("forward", p, k, t) for t in threads]
        if all(v != v for v in fw):
            continue
        sp = r.scipy(p, f"forward_{k}")
        fb = r.scipy(p, f"fwd_bwd_{k}")
        lines.append(
            f"| {k} | {itn_pair(r, p, k, 1)} | {' / '.join(fmt_t(v) for v in fw)} | {fmt_t(sp)} | "
            + " / ".join(fmt_x(div(sp, v), '×', 1) for v in fw)
            + f" | {fmt_t(r.t('backward', p, k, 1))} ({fmt_t(r.t('backward_seed', p, k, 1))}) | "
            f"{fmt_x(div(fb, r.fwd_bwd(p, k, 1)), '×', 1)} / "
            f"{fmt_x(div(fb, r.fwd_bwd(p, k, td)), '×', 1)} | "
            f"{fmt_x(div(r.t('forward_float', p, k, 1), r.t('forward', p, k, 1)), '', 2)} | "
            f"{fmt_mb(r.counter('forward', p, k, 1, 'peak_extra_mb'))} / "
            f"{fmt_mb(r.scipy(p, f'peak_extra_mb_{k}'))} |")

    lines += ["", f"### {p}: one iteration against the SpMV pair and the bandwidth", "",
              "Least traffic of an iteration: A and its transposed copy read once, 3 passes over "
              "the m-vectors, 10 over the n-vectors (see docs/performance.md); of the pair: A read "
              "twice plus the four vectors once. Fraction = (bytes ÷ time) ÷ triad bandwidth at the "
              "same thread count.", "",
              "| k | threads | LSMR iteration | Eigen A·v + Aᵀ·u | sparsegrad op pair | iteration ÷ "
              "Eigen pair | least bytes / iteration | iteration: fraction of bandwidth | Eigen "
              "pair: fraction of bandwidth |", "|---|---|---|---|---|---|---|---|---|"]
    for k in (1, 4, 8, 32):
        for t in threads:
            it = r.t("lsmr_iter", p, k, t)
            if it != it:
                continue
            ep, op = r.t("eigen_pair", p, k, t), r.t("op_pair", p, k, t)
            bw = r.bandwidth(t) * 1e9
            nbytes = iteration_bytes_min(info["rows"], info["cols"], info["nnz"], k)
            pbytes = pair_bytes_min(info["rows"], info["cols"], info["nnz"]) if k == 1 else NAN
            lines.append(f"| {k} | {t} | {fmt_t(it)} | {fmt_t(ep)} | {fmt_t(op)} | "
                         f"{fmt_x(div(it, ep), '', 2)} | {nbytes / 1e6:.1f} MB | "
                         f"{fmt_x(div(div(nbytes, it), bw) * 100, ' %', 0)} | "
                         f"{fmt_x(div(div(pbytes, ep), bw) * 100, ' %', 0)} |")
    sp_iter = div(r.scipy(p, "forward_1"), r.scipy(p, "itn_1"))
    lines += ["", f"scipy on the same problem: one A·v + one Aᵀ·u {fmt_t(r.scipy(p, 'pair'))}, one "
              f"lsmr iteration (forward k = 1 ÷ itn, setup included) {fmt_t(sp_iter)} = "
              f"{fmt_x(div(sp_iter, r.scipy(p, 'pair')), ' pairs', 2)}."]
    if seed:
        lines += ["", f"The seed's scheme in torch ({plural(seed['torch_threads'], 'thread')}, "
                  "torch's default here), k = 4: forward "
                  f"{fmt_t(seed['seed_forward'])}, forward + backward {fmt_t(seed['seed_fwd_bwd'])} "
                  f"({seed['itn_total']} LSMR iterations in {3 * seed['k']} solves); sparsegrad "
                  f"forward + backward {fmt_t(r.fwd_bwd(p, 4, 1))} (1 thread), "
                  f"{fmt_t(r.fwd_bwd(p, 4, td))} (default)"
                  + (f"; sparsegrad.torch {fmt_t(seed['sparsegrad_torch_fwd_bwd'])}"
                     if "sparsegrad_torch_fwd_bwd" in seed else "") + "."]
        if "torch_path_forward" in seed:
            lines += ["", "sparsegrad.torch's torch path (path=\"torch\", the device path, here on "
                      f"the CPU), k = 4: forward {fmt_t(seed['torch_path_forward'])} against "
                      f"{fmt_t(seed['sparsegrad_torch_forward'])} on the C++ path "
                      f"({fmt_x(div(seed['torch_path_forward'], seed['sparsegrad_torch_forward']))}) "
                      f"and {fmt_t(seed['seed_forward'])} for the seed's scheme; forward + backward "
                      f"{fmt_t(seed['torch_path_fwd_bwd'])} (the backward in the C++ core on host "
                      "copies)."]
    else:
        lines += ["", "The seed's scheme in torch: not measured in this run."]

    lines += ["", "### Every problem, k = 1 and k = 8", "",
              f"| problem | m × n | nnz | itn k=1 sg / scipy | forward k=1 t1 / t{td} | scipy k=1 | "
              f"speed-up t1 / t{td} | forward k=8 t1 / t{td} | scipy 8 calls | speed-up t1 / t{td} | "
              "backward ÷ forward t1 | iteration ÷ Eigen pair t1 | float ÷ double | peak extra "
              "memory k=1 sg / scipy |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for q in d["problems"]:
        i = r.info(q)
        f1 = [r.t("forward", q, 1, t) for t in (1, td)]
        f8 = [r.t("forward", q, 8, t) for t in (1, td)]
        s1, s8 = r.scipy(q, "forward_1"), r.scipy(q, "forward_8")
        lines.append(
            f"| {q} | {i['rows']} × {i['cols']} | {i['nnz']:,} | {itn_pair(r, q, 1, 1)} | "
            f"{' / '.join(fmt_t(v) for v in f1)} | {fmt_t(s1)} | "
            f"{' / '.join(fmt_x(div(s1, v), '×', 1) for v in f1)} | "
            f"{' / '.join(fmt_t(v) for v in f8)} | {fmt_t(s8)} | "
            f"{' / '.join(fmt_x(div(s8, v), '×', 1) for v in f8)} | "
            f"{fmt_x(div(r.t('backward', q, 1, 1), f1[0]), '', 2)} | "
            f"{fmt_x(div(r.t('lsmr_iter', q, 1, 1), r.t('eigen_pair', q, 1, 1)), '', 2)} | "
            f"{fmt_x(div(r.t('forward_float', q, 1, 1), f1[0]), '', 2)} | "
            f"{fmt_mb(r.counter('forward', q, 1, 1, 'peak_extra_mb'))} / "
            f"{fmt_mb(r.scipy(q, 'peak_extra_mb_1'))} |")

    lines += ["", "### Aᵀ·u for a CSR A: transposed copy or scatter (one A·v + one Aᵀ·u, k = 1)", "",
              "| problem | copy " + " / ".join(f"t{t}" for t in threads) + " | scatter "
              + " / ".join(f"t{t}" for t in threads) + " | making the copy (once per solve) | "
              "its memory |", "|---|---|---|---|---|"]
    for q in d["problems"]:
        i = r.info(q)
        copy = " / ".join(fmt_t(r.t("op_pair_copy", q, 1, t)) for t in threads)
        scatter = " / ".join(fmt_t(r.t("op_pair_scatter", q, 1, t)) for t in threads)
        made = r.rec(q, f"transposed_copy/{q}").get("seconds", NAN)
        lines.append(f"| {q} | {copy} | {scatter} | {fmt_t(made)} | "
                     f"{bytes_of_matrix(i['cols'], i['nnz']) / 2**20:.1f} MiB |")
    return lines


def plot(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, td = r.main, r.t_default
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.6))
    ks = [1, 4, 8, 32]
    series = [("scipy lsmr, k calls", [r.scipy(p, f"forward_{k}") for k in ks], "o--"),
              ("sparsegrad, 1 thread", [r.t("forward", p, k, 1) for k in ks], "s-"),
              (f"sparsegrad, default ({td} threads)", [r.t("forward", p, k, td) for k in ks], "^-")]
    for label, ys, style in series:
        pts = [(k, y) for k, y in zip(ks, ys) if y == y]
        if pts:
            ax[0].plot(*zip(*pts), style, label=label)
    ax[0].set_xscale("log", base=2)
    ax[0].set_yscale("log")
    ax[0].set_xticks(ks, [str(k) for k in ks])
    ax[0].set_xlabel("k (right-hand sides)")
    ax[0].set_ylabel("forward time [s]")
    ax[0].set_title(f"forward LSMR on {p}")
    ax[0].grid(True, which="both", alpha=0.3)
    ax[0].legend()

    # Goal attainment: measured ÷ goal for "≥" rows, goal ÷ measured for "≤" rows, so that
    # right of 1 is met; a bar from 1 to the score on a log axis.
    labels, scores = [], []
    for label, goal_text, cmp, goal, values in goal_rows(r):
        for what, v in values:
            short = label if len(label) <= 44 else label[:43] + "…"
            score = NAN if v != v else (v / goal if cmp == "ge" else goal / v)
            labels.append(f"{short} ({what})" + ("  [not measured]" if score != score else ""))
            scores.append(score)
    y = list(range(len(labels)))[::-1]
    for yi, score in zip(y, scores):
        if score == score and score > 0:
            ax[1].barh(yi, score - 1.0, left=1.0, color="tab:green" if score >= 1 else "tab:red")
    ax[1].set_xscale("log")
    ax[1].set_xlim(1e-2, 1e2)
    ax[1].axvline(1.0, color="k", lw=1)
    ax[1].set_yticks(y, labels, fontsize=6.5)
    ax[1].set_xlabel("goal attainment (log scale; ≥ 1: met)")
    ax[1].set_title("goals of the speed issue")
    fig.suptitle(f"sparsegrad vs scipy.sparse.linalg.lsmr, same A and B ({r.data['stamp']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def publish(data, results_dir, update_docs):
    r = Run(data)
    os.makedirs(results_dir, exist_ok=True)
    text = "\n".join(report_lines(r)) + "\n"
    print(text)
    with open(os.path.join(results_dir, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(results_dir, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
    plot(r, os.path.join(results_dir, "performance.png"))
    if update_docs:
        doc = open(DOCS).read()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"report: {DOCS} has no {BEGIN} ... {END} block")
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        body = text + "\n![speed figures](../benchmarks/results/performance.png)\n"
        with open(DOCS, "w") as f:
            f.write(f"{head}{BEGIN}\n{body}{END}{tail}")
        print(f"report: {DOCS} updated", file=sys.stderr)
    print(f"report: wrote {results_dir}/results.md, results.json, performance.png", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", help="path of the lsq_benchmarks program")
    ap.add_argument("--problems", default=FULL)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-seed", action="store_true", help="skip the torch side")
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--omp-wait-policy", default="")
    ap.add_argument("--from-json", help="rebuild the report from a results.json")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            data = json.load(f)
    else:
        if not args.bench:
            ap.error("--bench is required unless --from-json is given")
        if not args.smoke and MAIN not in args.problems.split(","):
            ap.error(f"--problems must include {MAIN}, the problem of the goal table")
        data = measure_all(args)
    smoke = data.get("smoke", False)
    results_dir = os.path.join(tempfile.gettempdir(), "sparsegrad-bench-smoke") if smoke else RESULTS
    publish(data, results_dir, update_docs=not smoke)


if __name__ == "__main__":
    main()
