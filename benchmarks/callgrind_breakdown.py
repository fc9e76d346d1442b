#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Per-iteration cost of LSMR by kind of work, from two callgrind runs of benchmarks/lsmr_profile.

    callgrind_breakdown.py FEW MANY N_FEW N_MANY [--json]

FEW and MANY are callgrind outputs (with --separate-threads=yes, the prefix of the per-thread
files FEW-01, FEW-02, ...) of the same solve run for N_FEW and N_MANY iterations. Their
difference divided by N_MANY - N_FEW is the cost of one iteration without the one-off work
(operator and transposed copy, validation, workspace). Self costs, instructions (Ir) and, with
--cache-sim=yes, the lines missing L1 (D1mr + D1mw: traffic to L2 and beyond) and the last
level (DLmr + DLmw: fetched from memory), 64 bytes each (write-backs come on top), are put
in classes by object, function and source line:

  A·v               gather over A (operator.hpp gather_product<false>)
  Aᵀ·u gather       gather over the transposed copy (gather_product<true>)
  Aᵀ·u scatter      scatter over A (scatter_product<true>)
  interleave        the k > 1 copies into and out of the interleaved workspace (operator.hpp)
  norms             the ordered sums of squares (eigen_block.hpp norm and Eigen's abs2)
  vector updates    Eigen's vector expressions (scale, add_scaled_self, axpy, copy)
  scalars           LSMR's scalar recurrences and loop (lsmr.hpp, <cmath>)
  OpenMP runtime    libgomp: fork/join and barriers (spinning there is distorted by valgrind,
                    which runs one thread at a time)
  allocation        malloc/free;  memset/memcpy: libc fills and copies
  Eigen sparse code Eigen's sparse kernels: in a solve the transposed copy (CSR -> CSC), in
                    the eigen_pair measurement Eigen's products
  validation        the checks of A (checks.hpp, matrix_traits.hpp)
The classes follow the code of version 0.1 (file and function names, the text of the
interleaving lines).
"""

import collections
import glob
import json
import os
import re
import sys

NAMED = re.compile(r"^(c?(?:ob|fl|fi|fe|fn))=\((\d+)\)(?: (.*))?$")
TABLE = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfl": "fl", "cfi": "fl",
         "cfe": "fl", "fn": "fn", "cfn": "fn"}
INTERLEAVE = re.compile(r"work\[j \* k \+ c\] = X|xw\[o \* k \+ c\] = X|= yw\[i \* k \+ c\]|"
                        r"std::fill\(yw")
CLASSES = ["A·v", "Aᵀ·u gather", "Aᵀ·u scatter", "interleave", "norms", "vector updates",
           "scalars", "OpenMP runtime", "allocation", "memset/memcpy", "Eigen sparse code",
           "validation", "other"]


def self_costs(path):
    """Yields (object, function, file, line, {event: value}) for every self-cost line."""
    names = collections.defaultdict(dict)
    events = []
    ob = fl = fn = file = ""
    line_no, skip = 0, False
    with open(path, errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if not raw or raw[0] == "#":
                continue
            if raw[0].isdigit() or raw[0] in "+-*":
                parts = raw.split()
                pos = parts[0]
                if pos[0] in "+-":
                    line_no += int(pos)
                elif pos != "*":
                    line_no = int(pos)
                if skip:  # the line after calls= is the inclusive cost of that call
                    skip = False
                    continue
                yield ob, fn, file, line_no, dict(zip(events, (int(v) for v in parts[1:])))
            elif raw.startswith("events:"):
                events = raw.split()[1:]
            elif raw.startswith("calls="):
                skip = True
            else:
                m = NAMED.match(raw)
                if not m:
                    continue
                kind, ident, name = m.groups()
                table = names[TABLE[kind]]
                if name is not None:
                    table[ident] = name
                name = table.get(ident, "?")
                if kind == "ob":
                    ob = name
                elif kind == "fl":
                    fl = file = name
                elif kind in ("fi", "fe"):
                    file = name
                elif kind == "fn":
                    fn, file = name, fl


_sources = {}


def source_line(file, line_no):
    if file not in _sources:
        try:
            with open(file) as f:
                _sources[file] = f.read().split("\n")
        except OSError:
            _sources[file] = []
    text = _sources[file]
    return text[line_no - 1] if 0 < line_no <= len(text) else ""


def classify(ob, fn, file, line_no):
    base = os.path.basename(file)
    if "libgomp" in ob:
        return "OpenMP runtime"
    if re.search(r"(^|[^\w])(_int_)?(malloc|free|realloc|calloc)\b|operator (new|delete)", fn):
        return "allocation"
    if re.search(r"mem(set|cpy|move)", fn):
        return "memset/memcpy"
    if base == "operator.hpp" and INTERLEAVE.search(source_line(file, line_no)):
        return "interleave"
    if "gather_product<false" in fn:
        return "A·v"
    if "gather_product<true" in fn:
        return "Aᵀ·u gather"
    if "scatter_product<true" in fn:
        return "Aᵀ·u scatter"
    if "/SparseCore/" in file:
        return "Eigen sparse code"
    if base in ("checks.hpp", "matrix_traits.hpp"):
        return "validation"
    if base in ("eigen_block.hpp", "MathFunctions.h"):
        return "norms"
    if ("/eigen3/" in file or "/Eigen/" in file or base.endswith("intrin.h")
            or "EigenBlockSpace" in fn):
        return "vector updates"
    if base in ("lsmr.hpp", "cmath"):
        return "scalars"
    return "other"


def load(prefix):
    """({class: Counter(event)}, [Counter(event) per thread]) of a run."""
    paths = sorted(glob.glob(glob.escape(prefix) + "-[0-9]*")) or [prefix]
    classes = collections.defaultdict(collections.Counter)
    threads = []
    for path in paths:
        total = collections.Counter()
        for ob, fn, file, line_no, values in self_costs(path):
            classes[classify(ob, fn, file, line_no)].update(values)
            total.update(values)
        threads.append(total)
    return classes, threads


def memory_lines(counter):
    return counter.get("DLmr", 0) + counter.get("DLmw", 0)


def l1_lines(counter):
    return counter.get("D1mr", 0) + counter.get("D1mw", 0)


def breakdown(few, many, n_few, n_many):
    (c_few, t_few), (c_many, t_many) = load(few), load(many)
    span = n_many - n_few
    per = {}
    for cls in CLASSES:
        a, b = c_few.get(cls, collections.Counter()), c_many.get(cls, collections.Counter())
        ir, mem = (b["Ir"] - a["Ir"]) / span, 64 * (memory_lines(b) - memory_lines(a)) / span
        l1 = 64 * (l1_lines(b) - l1_lines(a)) / span
        # one-off work: what the short run did beyond its iterations
        per[cls] = {"Ir": ir, "l1_bytes": l1, "mem_bytes": mem, "setup_Ir": a["Ir"] - n_few * ir}
    threads = []
    for i in range(max(len(t_few), len(t_many))):
        a = t_few[i] if i < len(t_few) else collections.Counter()
        b = t_many[i] if i < len(t_many) else collections.Counter()
        threads.append((b["Ir"] - a["Ir"]) / span)
    return per, threads


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 4:
        sys.exit(__doc__)
    few, many, n_few, n_many = args[0], args[1], int(args[2]), int(args[3])
    per, threads = breakdown(few, many, n_few, n_many)
    if "--json" in sys.argv:
        print(json.dumps({"classes": per, "threads_Ir": threads}))
        return
    total_ir = sum(v["Ir"] for v in per.values())
    total_mem = sum(v["mem_bytes"] for v in per.values())
    total_l1 = sum(v["l1_bytes"] for v in per.values())
    setup_ir = sum(v["setup_Ir"] for v in per.values())
    print(f"per iteration: {total_ir / 1e6:.2f} M instructions, {total_l1 / 1e6:.2f} MB of lines "
          f"missing L1, {total_mem / 1e6:.2f} MB missing the last level (simulated); per thread: "
          + ", ".join(f"{t / 1e6:.2f} M" for t in threads))
    print(f"one-off work of a solve (setup, outside the iterations): {setup_ir / 1e6:.2f} M "
          f"instructions = {setup_ir / max(total_ir, 1):.2f} iterations")
    print(f"{'class':<16} {'M instr':>9} {'share':>6} {'MB <L1':>8} {'share':>6} {'MB mem':>8} "
          f"{'setup M instr':>14}")
    for cls in CLASSES:
        v = per[cls]
        if (abs(v["Ir"]) < 0.0005 * total_ir and abs(v["mem_bytes"]) < 0.0005 * max(total_mem, 1)
                and abs(v["setup_Ir"]) < 0.0005 * max(setup_ir, 1)):
            continue
        print(f"{cls:<16} {v['Ir'] / 1e6:9.3f} {100 * v['Ir'] / total_ir:5.1f}% "
              f"{v['l1_bytes'] / 1e6:8.2f} {100 * v['l1_bytes'] / max(total_l1, 1):5.1f}% "
              f"{v['mem_bytes'] / 1e6:8.2f} {v['setup_Ir'] / 1e6:14.3f}")


if __name__ == "__main__":
    main()
