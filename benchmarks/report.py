#!/usr/bin/python3
"""Runs the C++ benchmarks and the scipy comparison per problem, prints the table, writes
benchmarks/results/{results.json,results.md,time_vs_nnz.png} and (unless --no-readme) puts the
table into README.md between the `<!-- bench:begin -->` and `<!-- bench:end -->` markers.

    report.py --bench BUILD/benchmarks/lsq_benchmarks [--problems a,b] [--smoke] [--no-readme]

Every figure comes from this run. Peak memory is the maximum resident set of the process that
ran the problem (one process per problem and side).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
RESULTS = os.path.join(HERE, "results")
DEFAULT = "well1033,well1850,Franz6_id1959_aug,gen_1e5,gen_1e6,gen_1e6_dense,gen_1e7"


def run_child(cmd, env):
    """Runs cmd, returns (stdout, peak RSS in MB of that process)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"report: {' '.join(cmd)} failed with {proc.returncode}")
        out.seek(0)
        return out.read().decode(), usage.ru_maxrss / 1024.0


def cpp_side(bench, problem, smoke):
    env = dict(os.environ, SPARSEGRAD_BENCH_PROBLEMS=problem)
    # Idle OpenMP threads sleep instead of spinning: on a shared machine spinning threads take
    # the core from the thread doing the work (5x slower products at load 5 on 2 cores).
    env.setdefault("OMP_WAIT_POLICY", "passive")
    cmd = [bench, "--benchmark_format=json"]
    if smoke:
        env["SPARSEGRAD_BENCH_ONCE"] = "1"
    else:
        cmd.append("--benchmark_min_time=0.3")
    text, rss = run_child(cmd, env)
    data = json.loads(text)
    seconds = {}
    counters = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            print(f"report: {b['name']}: {b.get('error_message')}", file=sys.stderr)
            continue
        name = b["name"].split("/iterations")[0].replace("/manual_time", "")
        scale = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b["time_unit"]]
        seconds[name] = b["real_time"] * scale
        counters[name] = b
    return seconds, counters, rss, data["context"]


def scipy_side(problem, smoke):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    cmd = ["/usr/bin/python3", os.path.join(HERE, "scipy_lsmr.py"), problem, "1" if smoke else "5"]
    text, _ = run_child(cmd, env)
    return json.loads(text)


def fmt_t(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--problems", default=DEFAULT)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--from-json", help="rebuild table, plot and README from a results.json")
    args = ap.parse_args()
    problems = ["gen_smoke"] if args.smoke else args.problems.split(",")
    if args.from_json:
        saved = json.load(open(args.from_json))
        publish(saved["rows"], saved["measured"], saved["machine"], args, RESULTS)
        return

    rows, context = [], None
    for p in problems:
        print(f"report: {p} ...", file=sys.stderr, flush=True)
        sec, cnt, rss, context = cpp_side(args.bench, p, args.smoke)
        sp = scipy_side(p, args.smoke)
        g = lambda key: sec.get(key.format(p=p), float("nan"))
        c = cnt[f"forward/{p}/1/1"]
        row = {
            "problem": p, "rows": int(c["rows"]), "cols": int(c["cols"]), "nnz": int(c["nnz"]),
            "itn": int(c["itn"]), "itn_scipy": sp["itn_1"],
            "itn8": int(cnt[f"forward/{p}/8/1"]["itn"]), "itn8_scipy": sp["itn_8"],
            "iter_ratio_1": g("lsmr_marginal/{p}/1") / g("products/{p}/1"),
            "iter_ratio_2": g("lsmr_marginal/{p}/2") / g("products/{p}/2"),
            "fwd_1": g("forward/{p}/1/1"), "fwd_2": g("forward/{p}/1/2"),
            "fwd8_1": g("forward/{p}/8/1"), "fwd8_2": g("forward/{p}/8/2"),
            "fwd_float_1": g("forward_float/{p}/1"),
            "bwd_1": g("backward/{p}/1/1"), "bwd_2": g("backward/{p}/1/2"),
            "bwd8_1": g("backward/{p}/8/1"),
            "bwd_seed_1": g("backward_seed/{p}/1"),
            "scipy_fwd": sp["forward_1"], "scipy_fwd8": sp["forward_8"],
            "scipy_products": sp["products"], "products_1": g("products/{p}/1"),
            "products_2": g("products/{p}/2"),
            "rss_mb": rss, "scipy_rss_mb": sp["peak_rss_mb"],
            "copy_1": g("products_copy/{p}/1"), "scatter_1": g("products_scatter/{p}/1"),
            "copy_2": g("products_copy/{p}/2"), "scatter_2": g("products_scatter/{p}/2"),
            "make_copy": g("transposed_copy/{p}"),
        }
        rows.append(row)

    # A smoke run must not overwrite the measured results of a full run.
    results = os.path.join(tempfile.gettempdir(), "sparsegrad-bench-smoke") if args.smoke else RESULTS
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = (f"{context.get('num_cpus')} cores at {context.get('mhz_per_cpu')} MHz, "
               f"load average {', '.join(f'{x:.1f}' for x in context.get('load_avg', []))}; "
               f"{platform.platform()}; scipy {sp['scipy']}, numpy {sp['numpy']}")
    publish(rows, stamp, machine, args, results)


def publish(rows, stamp, machine, args, results):
    os.makedirs(results, exist_ok=True)

    lines = [
        f"Measured {stamp} by `scripts/run-benchmarks.sh` on {machine}.",
        "sparsegrad times are Google Benchmark means (at least 0.3 s of runs), scipy times the best "
        "of up to 5 runs (which favours scipy); `t1`/`t2` = 1/2 OpenMP threads, scipy's sparse "
        "kernels are serial. Speed-up = scipy time ÷ sparsegrad time. k = 8 in scipy is 8 lsmr calls "
        "(the seed's loop). iter ÷ (Av+Aᵀu) = marginal time of one LSMR iteration ÷ time of one A·v "
        "plus one Aᵀ·u in the same run. backward = `lstsq_backward` with default options "
        "(one CRAIG solve), in brackets the seed's two LSMR solves. OMP_WAIT_POLICY=passive.",
        "",
        "| problem | m × n | nnz | itn (sg / scipy) | iter ÷ (Av+Aᵀu) t1 / t2 | forward k=1 t1 / t2 | scipy k=1 | "
        "speed-up t1 / t2 | forward k=8 t1 / t2 | scipy k=8 | speed-up k=8 t1 / t2 | k=8 ÷ k=1 (t1) | "
        "backward ÷ forward t1 (seed form) | float ÷ double | peak RSS sg / scipy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['problem']} | {r['rows']} × {r['cols']} | {r['nnz']:,} | {r['itn']} / {r['itn_scipy']} | "
            f"{r['iter_ratio_1']:.2f} / {r['iter_ratio_2']:.2f} | {fmt_t(r['fwd_1'])} / {fmt_t(r['fwd_2'])} | "
            f"{fmt_t(r['scipy_fwd'])} | {r['scipy_fwd'] / r['fwd_1']:.1f}× / {r['scipy_fwd'] / r['fwd_2']:.1f}× | "
            f"{fmt_t(r['fwd8_1'])} / {fmt_t(r['fwd8_2'])} | {fmt_t(r['scipy_fwd8'])} | "
            f"{r['scipy_fwd8'] / r['fwd8_1']:.1f}× / {r['scipy_fwd8'] / r['fwd8_2']:.1f}× | "
            f"{r['fwd8_1'] / r['fwd_1']:.2f} | {r['bwd_1'] / r['fwd_1']:.2f} ({r['bwd_seed_1'] / r['fwd_1']:.2f}) | "
            f"{r['fwd_float_1'] / r['fwd_1']:.2f} | {r['rss_mb']:.0f} / {r['scipy_rss_mb']:.0f} MB |")
    if all("copy_1" in r for r in rows):
        lines += [
            "",
            "Aᵀu for a CSR A (one A·v + one Aᵀ·u, k = 1): transposed copy (gather, parallel) versus "
            "scatter over A (serial, no extra memory); both give the same bits.",
            "",
            "| problem | nnz | copy t1 | scatter t1 | copy t2 | scatter t2 | making the copy (once) | "
            "extra memory of the copy |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            extra = (r["nnz"] * 12 + (r["cols"] + 1) * 4) / 2**20
            lines.append(
                f"| {r['problem']} | {r['nnz']:,} | {fmt_t(r['copy_1'])} | {fmt_t(r['scatter_1'])} | "
                f"{fmt_t(r['copy_2'])} | {fmt_t(r['scatter_2'])} | {fmt_t(r['make_copy'])} | "
                f"{extra:.1f} MB |")
    lines += ["", "Targets of the speed issue, checked on this run:", ""] + targets(rows)
    table = "\n".join(lines)
    print(table)

    with open(os.path.join(results, "results.json"), "w") as f:
        json.dump({"measured": stamp, "machine": machine, "rows": rows}, f, indent=1)
    with open(os.path.join(results, "results.md"), "w") as f:
        f.write(table + "\n")
    plot(rows, os.path.join(results, "time_vs_nnz.png"), stamp)

    if not args.no_readme and not args.smoke:
        readme = os.path.join(ROOT, "README.md")
        text = open(readme).read()
        begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = head + begin + "\n" + table + "\n\n![time vs nnz](benchmarks/results/time_vs_nnz.png)\n" + end + tail
            open(readme, "w").write(text)
            print("report: README.md table updated", file=sys.stderr)


def targets(rows):
    def check(label, goal, values, ok):
        shown = ", ".join(f"{name} {v:.2f}" for name, v in values)
        if not values:  # no problem of this size in the run: nothing to judge
            return f"| {label} | {goal} | not measured in this run | — |"
        met = all(ok(v) for _, v in values)
        return f"| {label} | {goal} | {shown} | {'met' if met else '**missed**'} |"
    big = [r for r in rows if r["nnz"] >= 1e5]
    small = [r for r in rows if r["nnz"] <= 1e5]
    out = ["| target | goal | measured | |", "|---|---|---|---|"]
    out.append(check("LSMR iteration ÷ (A·v + Aᵀ·u), nnz ≥ 1e5, 1 thread", "≤ 1.25",
                     [(r["problem"], r["iter_ratio_1"]) for r in big], lambda v: v <= 1.25))
    out.append(check("same, 2 threads", "≤ 1.25",
                     [(r["problem"], r["iter_ratio_2"]) for r in big], lambda v: v <= 1.25))
    out.append(check("speed-up vs scipy, k = 1, nnz ≤ 1e5 (best of 1/2 threads)", "≥ 3",
                     [(r["problem"], r["scipy_fwd"] / min(r["fwd_1"], r["fwd_2"])) for r in small],
                     lambda v: v >= 3))
    out.append(check("speed-up vs scipy, k = 8 (best of 1/2 threads)", "≥ 3",
                     [(r["problem"], r["scipy_fwd8"] / min(r["fwd8_1"], r["fwd8_2"])) for r in rows],
                     lambda v: v >= 3))
    out.append(check("speed-up vs scipy, k = 1, nnz > 1e5, 2 threads", "≥ 1.5",
                     [(r["problem"], r["scipy_fwd"] / r["fwd_2"]) for r in rows if r["nnz"] > 1e5],
                     lambda v: v >= 1.5))
    out.append(check("backward ÷ forward (1 thread)", "≤ 1.0",
                     [(r["problem"], r["bwd_1"] / r["fwd_1"]) for r in rows], lambda v: v <= 1.0))
    out.append(check("block k = 8 ÷ k = 1 (1 thread)", "≤ 3",
                     [(r["problem"], r["fwd8_1"] / r["fwd_1"]) for r in rows], lambda v: v <= 3))
    return out


def plot(rows, path, stamp):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = sorted(rows, key=lambda r: r["nnz"])
    nnz = [r["nnz"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label, style in [("scipy_fwd", "scipy lsmr", "o--"), ("fwd_1", "sparsegrad, 1 thread", "s-"),
                              ("fwd_2", "sparsegrad, 2 threads", "^-")]:
        ax[0].loglog(nnz, [r[key] for r in rows], style, label=label)
    ax[0].set_title("forward LSMR, k = 1")
    for key, label, style in [("scipy_fwd8", "scipy lsmr × 8 columns", "o--"),
                              ("fwd8_1", "sparsegrad block, 1 thread", "s-"),
                              ("fwd8_2", "sparsegrad block, 2 threads", "^-")]:
        ax[1].loglog(nnz, [r[key] for r in rows], style, label=label)
    ax[1].set_title("forward LSMR, k = 8")
    for a in ax:
        a.set_xlabel("nonzeros of A")
        a.set_ylabel("time [s]")
        a.grid(True, which="both", alpha=0.3)
        a.legend()
    fig.suptitle(f"sparsegrad vs scipy.sparse.linalg.lsmr (same A, b, tolerances; {stamp})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
