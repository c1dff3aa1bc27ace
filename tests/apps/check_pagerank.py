#!/usr/bin/env python3
"""Golden and bad-input test for pmr-pagerank.

    check_pagerank.py --app PATH --gen PMR-GEN --np N [--threads T] [--cases A,B]
    check_pagerank.py --app PATH --gen PMR-GEN --np N --bad [--only REGEX]

Golden mode runs pmr-pagerank at N ranks x T threads on each case, in a
fresh temporary directory, and checks against pagerank_ref.py (networkx's
PageRank on a DiGraph written out in numpy; it agrees with networkx's own
_pagerank_python to 1e-16 on the tricky graph below):
* the vertices are exactly the ids seen (int64 [n], each once), and each
  vertex's rank is within 1e-8 of the golden; the ranks sum to 1;
* the attributes iterations, converged, dangling, vertices, edges (distinct),
  damping, tol, and the provenance (app, nranks);
* stderr is empty and nothing but the output is left.
Cases: tricky text (duplicate edges, self-loops, dangling vertices, a
vertex with only a self-loop, ids at both ends of int64, comments, blank
lines, tabs, CRLF, no final newline), R-MAT graphs from pmr-gen in HDF5
(FILE.h5:/edges and FILE.h5) and text, --damping/--tol, --iters too few to
converge (converged 0), two input files, a graph of one self-loop (ranks
with nothing), and a graph of comments only (an empty result).

--bad: missing files, bad lines (the message names the file and the line),
ids out of range, HDF5 datasets of the wrong shape, bad options; each
exits 1 (2 for usage) with one line "pmr-pagerank: ..." and leaves nothing.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pagerank_ref as ref  # noqa: E402
from check_badinput import snapshot  # noqa: E402
from launch import launcher, run  # noqa: E402

MAX64 = 2 ** 63 - 1
MIN64 = -2 ** 63

TRICKY = (b"# a tricky graph\r\n"
          b"1 2\n1 2\n2 3\r\n3 3\n3 1\n4 1\n"
          b"\n   \n"
          b"%d %d\n" % (MAX64, MIN64)
          + b"%d 4\n" % (2 ** 62)
          + b"5 4\n\t6   7   # trailing comment\n7\t6\n8 8\n"
          b"-1 1\n"
          b"9 10")  # no final newline; 10 is dangling


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def gen_graph(args, d, name, scale, factor, seed, text):
    cmd = launcher(1) + [args.gen, "graph", "--scale", str(scale), "--edge-factor", str(factor),
                         "--seed", str(seed), "-o", name] + (["--text"] if text else [])
    rc, out, err, hung, _ = run(cmd, d, 60)
    if rc != 0:
        raise RuntimeError("pmr-gen failed: %r" % err)


def h5_edges(path):
    with h5py.File(path, "r") as f:
        return [tuple(r) for r in f["edges"][...].tolist()]


# Each case: prepare(d) -> (inputs, edges for the golden); options; extra files
# the case leaves on purpose.
def case_tricky(args, d):
    write(os.path.join(d, "tricky.txt"), TRICKY)
    return ["tricky.txt"], ref.read_edges(TRICKY), []


def case_rmat_h5(args, d):
    gen_graph(args, d, "g.h5", 9, 8, 3, False)
    return ["g.h5:/edges"], h5_edges(os.path.join(d, "g.h5")), []


def case_rmat_h5_bare(args, d):
    gen_graph(args, d, "g.h5", 7, 4, 8, False)
    return ["g.h5"], h5_edges(os.path.join(d, "g.h5")), []


def case_rmat_text(args, d):
    gen_graph(args, d, "g.txt", 8, 6, 5, True)
    with open(os.path.join(d, "g.txt"), "rb") as f:
        return ["g.txt"], ref.read_edges(f.read()), ["--damping", "0.5", "--tol", "1e-10"]


def case_noconv(args, d):
    gen_graph(args, d, "g.h5", 8, 4, 2, False)
    return ["g.h5:/edges"], h5_edges(os.path.join(d, "g.h5")), ["--iters", "3"]


def case_two_files(args, d):
    a = b"1 2\n2 3\n"
    b = b"3 1\n# x\n1 2\n4 4\n"
    write(os.path.join(d, "a.txt"), a)
    write(os.path.join(d, "b.txt"), b)
    return ["a.txt", "b.txt"], ref.read_edges(a) + ref.read_edges(b), ["--damping", "0.9"]


def case_one_loop(args, d):
    write(os.path.join(d, "one.txt"), b"5 5\n")
    return ["one.txt"], [(5, 5)], []


def case_empty(args, d):
    write(os.path.join(d, "empty.txt"), b"# nothing here\n\n")
    return ["empty.txt"], [], []


CASES = {
    "tricky": case_tricky,
    "rmat-h5": case_rmat_h5,
    "rmat-h5-bare": case_rmat_h5_bare,
    "rmat-text": case_rmat_text,
    "noconv": case_noconv,
    "two-files": case_two_files,
    "one-loop": case_one_loop,
    "empty": case_empty,
}


def opt_value(opts, name, default):
    return float(opts[opts.index(name) + 1]) if name in opts else default


def check_case(args, name):
    d = tempfile.mkdtemp(prefix="pmr-pagerank-")
    p = []
    try:
        inputs, edges, opts = CASES[name](args, d)
        before = set(os.listdir(d))
        cmd = launcher(args.np) + [args.app] + inputs + opts + ["-t", str(args.threads), "-o", "pr.h5"]
        rc, out, err, hung, _ = run(cmd, d, 120)
        if hung or rc != 0 or err.strip():
            return ["%s: exit %s%s, stderr %r" % (name, rc, " (hung)" if hung else "",
                                                 err.decode(errors="replace")[-400:])]
        left = set(os.listdir(d)) - before
        if left != {"pr.h5"}:
            p.append("%s: left %r" % (name, sorted(left)))
        alpha = opt_value(opts, "--damping", 0.85)
        tol = opt_value(opts, "--tol", 1e-6)
        iters = int(opt_value(opts, "--iters", 100))
        v, x, it, conv, ndang, nedges = ref.pagerank(edges, alpha, tol, iters)
        with h5py.File(os.path.join(d, "pr.h5"), "r") as f:
            g = f["pagerank"]
            gv, gr = g["vertices"], g["rank"]
            if gv.dtype != np.int64 or gr.dtype != np.float64 or gv.shape != (len(v),) \
                    or gr.shape != (len(v),):
                return p + ["%s: vertices %s %r, rank %s %r; want int64 and float64 [%d]"
                            % (name, gv.dtype, gv.shape, gr.dtype, gr.shape, len(v))]
            gv, gr = gv[...], gr[...]
            a = dict(g.attrs)
        order = np.argsort(gv, kind="stable")
        gv, gr = gv[order], gr[order]
        if not np.array_equal(gv, v):
            p.append("%s: vertices differ: %d got, %d want; first missing %r, first extra %r"
                     % (name, len(gv), len(v), sorted(set(v.tolist()) - set(gv.tolist()))[:3],
                        sorted(set(gv.tolist()) - set(v.tolist()))[:3]))
        else:
            diff = np.abs(gr - x)
            if len(diff) and diff.max() > 1e-8:
                i = int(np.argmax(diff))
                p.append("%s: rank of %d is %.17g, want %.17g (|diff| %.3g > 1e-8)"
                         % (name, v[i], gr[i], x[i], diff[i]))
        if len(gr) and abs(gr.sum() - 1.0) > 1e-9:
            p.append("%s: ranks sum to %.17g, want 1" % (name, gr.sum()))
        want = {"iterations": it, "converged": int(conv), "dangling": ndang,
                "vertices": len(v), "edges": nedges, "damping": alpha, "tol": tol,
                "app": b"pagerank", "nranks": args.np, "input_edges": len(edges)}
        for k, w in want.items():
            if k not in a or a[k] != w:
                p.append("%s: attribute %s = %r, want %r" % (name, k, a.get(k), w))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return p


def h5_file(path, data):
    with h5py.File(path, "w") as f:
        f["edges"] = data
        f["flat"] = np.arange(6, dtype=np.int64)


BAD = [
    # (name, files {name: bytes | callable(path)}, argv, status, words)
    ("missing-file", {}, ["nope.txt", "-o", "pr.h5"], 1, ["nope.txt"]),
    ("bad-line", {"bad.txt": b"1 2\n# ok\n1 x\n"}, ["bad.txt", "-o", "pr.h5"], 1,
     ["'bad.txt' line 3", "SRC DST"]),
    ("three-fields", {"bad.txt": b"1 2\n2 3 0.5\n"}, ["bad.txt", "-o", "pr.h5"], 1,
     ["'bad.txt' line 2"]),
    ("one-field", {"bad.txt": b"1 2\r\n2\r\n"}, ["bad.txt", "-o", "pr.h5"], 1, ["'bad.txt' line 2"]),
    ("id-too-large", {"bad.txt": b"9223372036854775808 1\n"}, ["bad.txt", "-o", "pr.h5"], 1,
     ["'bad.txt' line 1"]),
    ("second-file", {"a.txt": b"1 2\n", "b.txt": b"3 4\n5 6 7\n"}, ["a.txt", "b.txt", "-o", "pr.h5"], 1,
     ["'b.txt' line 2"]),
    ("h5-1d", {"g.h5": lambda p: h5_file(p, np.zeros((4, 2), np.int64))},
     ["g.h5:/flat", "-o", "pr.h5"], 1, ["g.h5:/flat", "[m, 2]"]),
    ("h5-3-columns", {"g.h5": lambda p: h5_file(p, np.zeros((4, 3), np.int64))},
     ["g.h5:/edges", "-o", "pr.h5"], 1, ["g.h5:/edges", "[m, 2]"]),
    ("h5-no-dataset", {"g.h5": lambda p: h5_file(p, np.zeros((4, 2), np.int64))},
     ["g.h5:/nope", "-o", "pr.h5"], 1, ["g.h5", "nope"]),
    ("h5-not-hdf5", {"g.h5": b"not hdf5\n"}, ["g.h5", "-o", "pr.h5"], 1, ["g.h5"]),
    ("damping-too-large", {"a.txt": b"1 2\n"}, ["a.txt", "--damping", "1.5", "-o", "pr.h5"], 2,
     ["--damping"]),
    ("tol-zero", {"a.txt": b"1 2\n"}, ["a.txt", "--tol", "0", "-o", "pr.h5"], 2, ["--tol"]),
    ("iters-zero", {"a.txt": b"1 2\n"}, ["a.txt", "--iters", "0", "-o", "pr.h5"], 2, ["--iters"]),
    ("no-input", {}, ["-o", "pr.h5"], 2, []),
    ("no-output", {"a.txt": b"1 2\n"}, ["a.txt"], 2, []),
    ("mixed-inputs", {"a.txt": b"1 2\n"}, ["a.txt", "g.h5:/edges", "-o", "pr.h5"], 2, ["HDF5"]),
    ("missing-dir", {"a.txt": b"1 2\n"}, ["a.txt", "-o", "nodir/pr.h5"], 1, ["nodir"]),
]


def bad(args):
    problems = []
    only = re.compile(args.only) if args.only else None
    for name, files, argv, status, words in BAD:
        if only and not only.search(name):
            continue
        d = tempfile.mkdtemp(prefix="pmr-pagerank-bad-")
        try:
            for fn, data in files.items():
                if callable(data):
                    data(os.path.join(d, fn))
                else:
                    write(os.path.join(d, fn), data)
            before = snapshot(d)
            cmd = launcher(args.np) + [args.app] + argv
            rc, out, err, hung, _ = run(cmd, d, 60)
            lines = err.decode(errors="replace").strip().splitlines()
            if hung:
                problems.append("%s: hung" % name)
            elif rc != status:
                problems.append("%s: exit %s, want %d (stderr %r)" % (name, rc, status, lines))
            elif len(lines) != 1 or not lines[0].startswith("pmr-pagerank: ") \
                    or not all(w in lines[0] for w in words):
                problems.append("%s: stderr %r, want one line 'pmr-pagerank: ...' with %r"
                                % (name, lines, words))
            if snapshot(d) != before:
                problems.append("%s: left %r" % (name, sorted(os.listdir(d))))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--app", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--bad", action="store_true")
    ap.add_argument("--only")
    args = ap.parse_args()
    if args.bad:
        problems = bad(args)
    else:
        problems = []
        for c in args.cases.split(","):
            problems += check_case(args, c)
    for p in problems:
        print("FAIL", p)
    print("pmr-pagerank%s: %s" % (" --bad" if args.bad else "",
                                  "%d problems" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
