#!/usr/bin/env python3
"""Golden, statistics and bad-input test for `pmr-gen graph` (R-MAT).

    check_gen_graph.py --app PATH --np N [--threads T]
    check_gen_graph.py --app PATH --np N --bad

Golden mode runs pmr-gen graph at N ranks x T threads and checks
* every edge, bit for bit, against gen_reference.graph (an independent
  numpy implementation of the definition in apps/gen/graph.c), for the HDF5
  dataset /edges int64 [m, 2] and for the --text lines; the same golden at
  every rank and thread count means the same output everywhere;
* the degree distribution of a larger graph: R-MAT picks each bit of src as
  1 with probability c + d = 0.24 and of dst with b + d = 0.24, so the
  number of 1 bits of src (and of dst) over the edges follows Binomial(S,
  0.24), and at every level the four quadrants come with frequencies a, b,
  c, d; each within 5 standard deviations. Vertex 0 has the largest
  out-degree; the out-degrees are heavy-tailed (the largest far above the
  mean);
* the attributes, an empty stderr, nothing but the output left behind.

--bad: bad command lines (exit 2) and an unwritable output (exit 1), each
with one line "pmr-gen: ..." and nothing left behind.

Exit status 0 when everything matches, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_reference as ref  # noqa: E402
from check_badinput import snapshot  # noqa: E402
from launch import launcher, run  # noqa: E402

RMAT = (0.57, 0.19, 0.19, 0.05)


def binom_pmf(n, p):
    return [math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)]


def within(what, counts, probs, n, k=5.0):
    bad = []
    for i, (c, p) in enumerate(zip(counts, probs)):
        sd = math.sqrt(max(n * p * (1 - p), 1.0))
        if abs(c - n * p) > k * sd:
            bad.append((i, int(c), round(n * p, 1)))
    return ["%s: off by more than %g sd (bin, got, want): %r" % (what, k, bad[:5])] if bad else []


def degree_stats(edges, scale):
    p = []
    m = len(edges)
    src = edges[:, 0].astype(np.uint64)
    dst = edges[:, 1].astype(np.uint64)
    for name, v in (("src", src), ("dst", dst)):
        ones = np.zeros(m, dtype=np.int64)
        for lev in range(scale):
            ones += ((v >> np.uint64(lev)) & np.uint64(1)).astype(np.int64)
        p += within("bits set in " + name, np.bincount(ones, minlength=scale + 1),
                    binom_pmf(scale, 0.24), m)
    for lev in range(scale):
        q = (((src >> np.uint64(lev)) & np.uint64(1)) * np.uint64(2)
             + ((dst >> np.uint64(lev)) & np.uint64(1))).astype(np.int64)
        p += within("quadrants at bit %d" % lev, np.bincount(q, minlength=4), RMAT, m)
    outdeg = np.bincount(edges[:, 0], minlength=1 << scale)
    if int(np.argmax(outdeg)) != 0:
        p.append("vertex %d has the largest out-degree, want vertex 0" % int(np.argmax(outdeg)))
    if outdeg.max() < 20 * outdeg.mean():
        p.append("largest out-degree %d is not far above the mean %.1f: not heavy-tailed"
                 % (outdeg.max(), outdeg.mean()))
    if edges.min() < 0 or edges.max() >= 1 << scale:
        p.append("ids outside [0, 2^%d)" % scale)
    return p


def run_app(args, argv, cwd):
    cmd = launcher(args.np) + [args.app, "graph"] + argv + ["-t", str(args.threads)]
    rc, out, err, hung, _ = run(cmd, cwd, 120)
    return rc, out, err, hung, " ".join(argv)


def golden(args):
    problems = []
    cases = [
        # (argv, scale, factor, seed, text)
        (["--scale", "10", "--edge-factor", "8", "--seed", "5", "-o", "g.h5"], 10, 8, 5, False),
        (["--scale", "9", "--edge-factor", "3", "--text", "-o", "g.txt"], 9, 3, 42, True),
        (["--scale", "1", "--edge-factor", "1", "--seed", "3", "-o", "tiny.txt", "--text"], 1, 1, 3, True),
        (["--scale", "14", "--edge-factor", "16", "--seed", "11", "-o", "deg.h5"], 14, 16, 11, False),
    ]
    for argv, scale, factor, seed, text in cases:
        d = tempfile.mkdtemp(prefix="pmr-gen-graph-")
        try:
            rc, out, err, hung, what = run_app(args, argv, d)
            name = argv[argv.index("-o") + 1]
            if hung or rc != 0 or err.strip():
                problems.append("%s: exit %s%s, stderr %r" % (what, rc, " (hung)" if hung else "",
                                                            err.decode(errors="replace")[-300:]))
                continue
            if sorted(os.listdir(d)) != [name]:
                problems.append("%s: left %r" % (what, sorted(os.listdir(d))))
            want = ref.graph(seed, scale, factor)
            if text:
                with open(os.path.join(d, name), "rb") as f:
                    data = f.read()
                exp = b"".join(b"%d %d\n" % (int(s), int(t)) for s, t in want.tolist())
                if data != exp:
                    problems.append("%s: text differs from the golden (%d bytes, want %d)"
                                    % (what, len(data), len(exp)))
            else:
                with h5py.File(os.path.join(d, name), "r") as f:
                    e = f["edges"]
                    if e.dtype != np.int64 or e.shape != want.shape:
                        problems.append("%s: /edges is %s %r, want int64 %r" % (what, e.dtype, e.shape, want.shape))
                        continue
                    got = e[...]
                    a = dict(e.attrs)
                if not np.array_equal(got, want):
                    bad = np.nonzero((got != want).any(axis=1))[0]
                    problems.append("%s: %d edges differ from the golden, first %d: %r want %r"
                                    % (what, len(bad), bad[0], got[bad[0]].tolist(), want[bad[0]].tolist()))
                wanted = {"kind": b"graph", "model": b"rmat", "scale": scale, "edge_factor": factor,
                          "vertices": 1 << scale, "edges": factor << scale, "seed": seed,
                          "nranks": args.np, "a": 0.57, "b": 0.19, "c": 0.19, "d": 0.05, "app": b"gen"}
                for k, v in wanted.items():
                    if a.get(k) != v:
                        problems.append("%s: attribute %s = %r, want %r" % (what, k, a.get(k), v))
                if scale == 14:
                    problems += ["%s: %s" % (what, x) for x in degree_stats(got, scale)]
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # Scale 20 (ten words per edge), 1 M edges in rounds of a small budget.
    d = tempfile.mkdtemp(prefix="pmr-gen-graph-")
    try:
        argv = ["--scale", "20", "--edge-factor", "1", "--seed", "77", "-o", "s20.h5", "--memory", "4M"]
        rc, out, err, hung, what = run_app(args, argv, d)
        if hung or rc != 0 or err.strip():
            problems.append("%s: exit %s, stderr %r" % (what, rc, err.decode(errors="replace")[-300:]))
        else:
            with h5py.File(os.path.join(d, "s20.h5"), "r") as f:
                got = f["edges"][...]
            if not np.array_equal(got, ref.graph(77, 20, 1)):
                problems.append("%s: edges differ from the golden" % what)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return problems


BAD = [
    # (name, argv, status, words the message must contain)
    ("no-scale", ["graph", "-o", "x.h5"], 2, ["--scale"]),
    ("scale-zero", ["graph", "--scale", "0", "-o", "x.h5"], 2, ["--scale"]),
    ("scale-63", ["graph", "--scale", "63", "-o", "x.h5"], 2, ["--scale"]),
    ("factor-zero", ["graph", "--scale", "4", "--edge-factor", "0", "-o", "x.h5"], 2, ["--edge-factor"]),
    ("too-many-edges", ["graph", "--scale", "40", "--edge-factor", "2", "-o", "x.h5"], 2, ["--edge-factor"]),
    ("size-with-graph", ["graph", "--scale", "4", "--size", "1M", "-o", "x.h5"], 2, ["--size"]),
    ("text-with-numbers", ["numbers", "-n", "10", "--text", "-o", "x.h5"], 2, ["--text"]),
    ("scale-with-text", ["text", "--scale", "4", "-o", "x.txt"], 2, ["--scale"]),
    ("missing-dir", ["graph", "--scale", "4", "-o", "nodir/x.h5"], 1, ["nodir"]),
    ("missing-dir-text", ["graph", "--scale", "4", "--text", "-o", "nodir/x.txt"], 1, ["nodir"]),
]


def bad(args):
    problems = []
    for name, argv, status, words in BAD:
        d = tempfile.mkdtemp(prefix="pmr-gen-graph-bad-")
        try:
            before = snapshot(d)
            cmd = launcher(args.np) + [args.app] + argv
            rc, out, err, hung, _ = run(cmd, d, 60)
            lines = err.decode(errors="replace").strip().splitlines()
            if hung:
                problems.append("%s: hung" % name)
            elif rc != status:
                problems.append("%s: exit %s, want %d (stderr %r)" % (name, rc, status, lines))
            elif len(lines) != 1 or not lines[0].startswith("pmr-gen: ") \
                    or not all(w in lines[0] for w in words):
                problems.append("%s: stderr %r, want one line 'pmr-gen: ...' naming %r" % (name, lines, words))
            if snapshot(d) != before:
                problems.append("%s: left %r" % (name, sorted(os.listdir(d))))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--app", required=True)
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bad", action="store_true")
    args = ap.parse_args()
    ref.check_kat()
    problems = bad(args) if args.bad else golden(args)
    for p in problems:
        print("FAIL", p)
    print("%s: %s" % ("pmr-gen graph" + (" --bad" if args.bad else ""),
                      "%d problems" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
