#!/usr/bin/env python3
"""Golden, reproducibility and bad-input tests for pmr-kmeans.

    check_kmeans.py --app PATH --np N --threads T --cases NAME[,NAME...]
    check_kmeans.py --app PATH --bits
    check_kmeans.py --app PATH --np N --bad [--only REGEX]

Inputs are written with h5py into a fresh temporary directory. Goldens come
from kmeans_ref.py (numpy, written from the README's description):

* --cases: runs each case on N ranks x T threads and compares the result
  group with two references: numpy's plain sums to 1e-9 relative (what the
  issue asks), and the exact one (math.fsum, the exact sum rounded once),
  which pmr must equal bit for bit: centroids, counts, inertia per
  iteration, iterations, converged, final_inertia, assignments and the
  initial centroids (which for random and kmeans++ are the reference's
  counter-based draws). Also dtypes, shapes, attributes, empty stderr and
  nothing left but the output. Each comparison is then checked against a
  corrupted reference, so that it is known to fail when it should.
* --bits: the same case at 1x1, 2x2, 3x1 and 4x2 ranks x threads, and with
  the emitted (slow) form of the exact sums forced, must give identical
  bits in every dataset and result attribute.
* --bad: bad inputs and command lines: exit 1 (bad input) or 2 (usage), one
  stderr line "pmr-kmeans: ..." naming the file and dataset or the option,
  nothing left behind, no hang.

Exit status 0 when everything holds, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import os
import re
import shlex
import shutil
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmeans_ref as ref  # noqa: E402
from launch import launcher, run  # noqa: E402

APP = "pmr-kmeans"


# --- inputs ------------------------------------------------------------------------

def blobs(rng, n, d, centres, spread=1.0, scale=6.0):
    c = rng.normal(0, scale, (centres, d))
    X = c[rng.integers(0, centres, n)] + rng.normal(0, spread, (n, d))
    return X


def dataset(name):
    """(array as stored, float64 view the app works on) for each input."""
    rng = np.random.default_rng(sum(map(ord, name)) * 7919)
    if name == "blobs":  # overlapping blobs: several iterations
        X = blobs(rng, 3000, 3, 6, spread=2.0)
    elif name == "f32":
        X = blobs(rng, 1500, 2, 4).astype(np.float32)
    elif name == "wide":
        X = blobs(rng, 800, 7, 5)
    elif name == "span":  # coordinates 2^-178 .. 2^5 apart: the emitted sums
        X = blobs(rng, 1200, 3, 4)
        X[17, 1] = 1e-38
        X[500, 2] = -3e-30
    elif name == "edge":  # bits 2^5 .. 2^-95: the widest fixed-point span
        X = np.clip(blobs(rng, 900, 3, 4), -63.5, 63.5)
        X[0, 0] = 2.0 ** 6 - 2.0 ** -44  # h = 2^50 - 1, the largest
        X[1, 1] = -(2.0 ** 6 - 2.0 ** -44)
        X[2, 2] = 2.0 ** -43 + 2.0 ** -95  # h = 2, l = 1
        X[3, 0] = -3 * 2.0 ** -95
    elif name == "outlier":  # k-means++ renews its weights' scale
        X = rng.normal(0, 1, (400, 2))
        X[123] = [1e6, -1e6]
    elif name == "dups":  # 4 distinct points: k-means++ runs out of D^2
        base = rng.normal(0, 5, (4, 3))
        X = base[rng.integers(0, 4, 60)]
    elif name == "int1d":
        X = rng.integers(-500, 500, 700).astype(np.int32)
    else:
        raise KeyError(name)
    return X


def write_points(path, name):
    X = dataset(name)
    with h5py.File(path, "a") as f:
        f.create_dataset(name, data=X, chunks=True if X.ndim == 2 and len(X) > 100 else None)
    X = np.asarray(X, dtype=np.float64)
    return X if X.ndim == 2 else X[:, None]


# Each case: dataset, argv (after INPUT), how the initial centroids are found
# ("pp", "random" or a dataset written to init.h5 by make_init), k, tol,
# max_iter, extra attributes wanted.
CASES = {
    "pp": ("blobs", ["-k", "6", "--seed", "7", "--assign"], "pp", 6, 1e-4, 300),
    "file": ("blobs", ["--init", "init.h5:/file", "--tol", "0", "--iters", "5"],
             "file", 6, 0.0, 5),
    "random": ("blobs", ["-k", "6", "--init", "random", "--seed", "11", "--iters", "50",
                         "--tol", "1e-3", "--group", "run1/km"], "random", 6, 1e-3, 50),
    "f32": ("f32", ["-k", "4", "--seed", "3", "--assign"], "pp", 4, 1e-4, 300),
    "wide": ("wide", ["-k", "5", "--init", "random", "--seed", "5"], "random", 5, 1e-4, 300),
    "span": ("span", ["-k", "5", "--seed", "2", "--assign"], "pp", 5, 1e-4, 300),
    # Duplicate points give duplicate centroids, whose ties numpy's inexact
    # sums break differently (a centroid one ulp off): exact reference only.
    "dups": ("dups", ["-k", "6", "--seed", "1", "--assign"], "pp", 6, 1e-4, 300),
    "outlier": ("outlier", ["-k", "3", "--seed", "5", "--assign"], "pp", 3, 1e-4, 300),
    "edge": ("edge", ["-k", "4", "--init", "random", "--seed", "4", "--assign"], "random", 4,
             1e-4, 300),
    "empty": ("blobs", ["-k", "6", "--init", "init.h5:/empty", "--iters", "20", "--assign"],
              "empty", 6, 1e-4, 20),
    "int1d": ("int1d", ["-k", "3", "--seed", "9", "--tol", "0"], "pp", 3, 0.0, 300),
}


def make_init(work, kind, X):
    """Initial centroids written to init.h5 for the file-based cases."""
    rng = np.random.default_rng(99)
    if kind == "file":
        C = X[rng.choice(len(X), 6, replace=False)]
    else:  # "empty": a centroid far away and a twin of centroid 0 never win
        C = X[rng.choice(len(X), 6, replace=False)].copy()
        C[2] = [1e6, -1e6, 1e6]
        C[4] = C[0]
    with h5py.File(os.path.join(work, "init.h5"), "a") as f:
        f.create_dataset(kind, data=C)
    return C


# --- checks ------------------------------------------------------------------------

def text(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [text(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_group(path, group):
    with h5py.File(path, "r") as f:
        g = f[group]
        data = {n: (g[n].dtype, g[n].shape, g[n][()]) for n in g}
        attrs = {n: text(g.attrs[n]) for n in g.attrs}
    return data, attrs


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == np.asarray(b, dtype=a.dtype).tobytes()


def compare(data, attrs, init, exact, plain, scale, assign):
    """Problems with a result (data, attrs) against the references."""
    p = []
    k, d = init.shape
    want = {"centroids": (np.float64, (k, d)), "counts": (np.int64, (k,)),
            "inertia": (np.float64, (exact["iterations"],)),
            "initial_centroids": (np.float64, (k, d))}
    if assign:
        want["assignments"] = (np.int32, (len(exact["assignments"]),))
    if set(data) != set(want):
        p.append("datasets %s, want %s" % (sorted(data), sorted(want)))
    for n, (dt, shape) in want.items():
        if n in data and (data[n][0] != dt or data[n][1] != shape):
            p.append("%s is %s %s, want %s %s" % (n, data[n][0], data[n][1], np.dtype(dt), shape))
    if p:
        return p
    got = {n: v[2] for n, v in data.items()}
    if not same_bits(got["initial_centroids"], init):
        p.append("initial_centroids differ from the reference's:\n%s\nwant\n%s"
                 % (got["initial_centroids"], init))
    for n in ("iterations", "converged"):
        if attrs.get(n) != exact[n]:
            p.append("attribute %s = %r, want %r" % (n, attrs.get(n), exact[n]))
    # Bit for bit against the exact sums.
    for n in ["centroids", "counts", "inertia"] + (["assignments"] if assign else []):
        if not same_bits(got[n], exact[n]):
            bad = np.flatnonzero(np.asarray(got[n]).ravel() != np.asarray(exact[n]).ravel()) \
                if np.shape(got[n]) == np.shape(exact[n]) else []
            p.append("%s differs from the exact reference at %d places, e.g. %r"
                     % (n, len(bad), [(int(i), np.asarray(got[n]).ravel()[i].item(),
                                       np.asarray(exact[n]).ravel()[i].item()) for i in bad[:3]]))
    if not same_bits(attrs.get("final_inertia"), exact["final_inertia"]):
        p.append("final_inertia %r, want %r" % (attrs.get("final_inertia"), exact["final_inertia"]))
    # And to 1e-9 relative against numpy's own sums.
    if plain is None:
        pass
    elif plain["iterations"] != exact["iterations"]:
        p.append("the numpy references disagree on iterations (%d vs %d): pick other data"
                 % (plain["iterations"], exact["iterations"]))
    elif not np.allclose(got["centroids"], plain["centroids"], rtol=1e-9, atol=1e-12 * scale):
        p.append("centroids differ from numpy's by up to %g"
                 % np.abs(got["centroids"] - plain["centroids"]).max())
    elif not np.allclose(got["inertia"], plain["inertia"], rtol=1e-9, atol=1e-12 * scale ** 2) \
            or not np.isclose(attrs.get("final_inertia"), plain["final_inertia"], rtol=1e-9,
                              atol=1e-12 * scale ** 2):
        p.append("inertia differs from numpy's: %r vs %r" % (got["inertia"], plain["inertia"]))
    elif not np.array_equal(got["counts"], plain["counts"]):
        p.append("counts %r, numpy's %r" % (got["counts"], plain["counts"]))
    return p


def corrupted(exact):
    """The exact reference, wrong by one ulp / one count / one iteration."""
    out = []
    for n in ("centroids", "inertia"):
        e = dict(exact)
        v = np.array(exact[n], copy=True)
        v.ravel()[len(v.ravel()) // 2] = np.nextafter(v.ravel()[len(v.ravel()) // 2], np.inf)
        e[n] = v
        out.append((n, e))
    e = dict(exact)
    e["counts"] = exact["counts"].copy()
    e["counts"][0] += 1
    out.append(("counts", e))
    e = dict(exact)
    e["iterations"] = exact["iterations"] + 1
    out.append(("iterations", e))
    return out


def snapshot(root):
    return {os.path.relpath(os.path.join(dp, n), root)
            for dp, ds, fs in os.walk(root) for n in ds + fs}


def run_app(args, work, argv, nprocs, threads, env=None, timeout=120):
    cmd = launcher(nprocs) + [args.app, "-t", str(threads)] + argv
    print("run:", shlex.join(cmd))
    rc, out, err, hung, secs = run(cmd, work, timeout, env)
    print("exit %s after %.1f s" % (rc, secs))
    p = []
    if hung:
        p.append("no exit within %d s (hang)" % timeout)
    elif rc != 0:
        p.append("exit status %s; stderr: %s" % (rc, err.decode("utf-8", "replace")[-2000:]))
    elif err.strip():
        p.append("stderr is not empty: %r" % err[-500:])
    return p


def prepare(work, name):
    """Write the case's inputs; return (X, initial centroids, argv, refs)."""
    dsname, argv, init_kind, k, tol, iters = CASES[name]
    X = write_points(os.path.join(work, "pts.h5"), dsname)
    if init_kind == "pp":
        C0 = X[ref.kmeanspp_init(X, k, int(argv[argv.index("--seed") + 1]))]
    elif init_kind == "random":
        C0 = X[ref.random_init(len(X), k, int(argv[argv.index("--seed") + 1]))]
    else:
        C0 = make_init(work, init_kind, X)
    tol_abs = ref.tolerance(X, tol)
    exact = ref.lloyd(X, C0, iters, tol_abs, exact=True)
    plain = ref.lloyd(X, C0, iters, tol_abs, exact=False) if name != "dups" else None
    return X, C0, ["pts.h5:/" + dsname] + argv, exact, plain


def case_runs(args, root):
    problems = []
    for name in args.cases.split(","):
        work = os.path.join(root, name)
        os.makedirs(work)
        X, C0, argv, exact, plain = prepare(work, name)
        before = snapshot(work)
        p = run_app(args, work, argv + ["-o", "out.h5"], args.np, args.threads)
        group = argv[argv.index("--group") + 1] if "--group" in argv else "kmeans"
        assign = "--assign" in argv
        if not p:
            data, attrs = read_group(os.path.join(work, "out.h5"), group)
            scale = float(np.abs(X).max())
            p += compare(data, attrs, C0, exact, plain, scale, assign)
            want_attrs = {"app": "kmeans", "nranks": args.np, "nthreads": args.threads,
                          "k": len(C0), "d": X.shape[1], "points": len(X),
                          "inputs": [argv[0]], "pmr_version": attrs.get("pmr_version") or "?"}
            for n, v in want_attrs.items():
                if attrs.get(n) != v:
                    p.append("attribute %s = %r, want %r" % (n, attrs.get(n), v))
            if "pmr-kmeans" not in str(attrs.get("command_line")):
                p.append("attribute command_line = %r" % attrs.get("command_line"))
            want_sums = "exact, emitted" if name == "span" else "exact, fixed point"
            if attrs.get("sums") != want_sums:
                p.append("attribute sums = %r, want %r" % (attrs.get("sums"), want_sums))
            left = snapshot(work) - before - {"out.h5"}
            if left:
                p.append("left behind: %s" % sorted(left))
            # The comparison must catch a result that is off by one ulp.
            for what, bad in corrupted(exact):
                if not compare(data, attrs, C0, bad, plain, scale, assign):
                    p.append("self-check: a reference with wrong %s was not caught" % what)
            # The far centroid never gets a point and stays where it was;
            # its twin loses every tie to centroid 0 in the first step.
            if name == "empty" and not (exact["counts"][2] == 0 and
                                        same_bits(exact["centroids"][2], C0[2])):
                p.append("case 'empty' has no empty cluster: pick other data")
        print("%s case %s (%d points, k=%d, %d iterations)"
              % ("ok  " if not p else "FAIL", name, len(X), len(C0), exact["iterations"]))
        problems += ["%s: %s" % (name, x) for x in p]
    return problems


def bits_runs(args, root):
    """One case at several layouts and with the emitted sums: identical bits."""
    problems = []
    for name, layouts in (("pp", [(1, 1, None), (2, 2, None), (3, 1, None), (4, 2, None),
                                  (2, 1, "emit")]),
                          ("span", [(1, 2, None), (3, 1, None)]),
                          ("edge", [(1, 1, None), (3, 2, None), (2, 1, "emit")])):
        work = os.path.join(root, name)
        os.makedirs(work)
        X, C0, argv, exact, plain = prepare(work, name)
        results = []
        for np_, t, sums in layouts:
            out = "out-%dx%d%s.h5" % (np_, t, "-" + sums if sums else "")
            env = dict(os.environ, PMR_KMEANS_SUMS=sums) if sums else None
            p = run_app(args, work, argv + ["-o", out], np_, t, env)
            if p:
                problems += ["%s %dx%d: %s" % (name, np_, t, x) for x in p]
                continue
            data, attrs = read_group(os.path.join(work, out), "kmeans")
            results.append(((np_, t, sums), data, attrs))
        for lay, data, attrs in results:
            want = "exact, emitted" if lay[2] or name == "span" else "exact, fixed point"
            if attrs.get("sums") != want:
                problems.append("%s %s: sums = %r, want %r" % (name, lay, attrs.get("sums"), want))
        for (lay, data, attrs) in results[1:]:
            lay0, data0, attrs0 = results[0]
            for n in data0:
                if n not in data or not same_bits(data[n][2], data0[n][2]):
                    problems.append("%s: %s differs between %s and %s" % (name, n, lay, lay0))
            for n in ("iterations", "converged", "final_inertia", "tol_abs"):
                if not same_bits(attrs.get(n), attrs0.get(n)):
                    problems.append("%s: attribute %s %r at %s, %r at %s"
                                    % (name, n, attrs.get(n), lay, attrs0.get(n), lay0))
        if results:
            problems += ["%s: %s" % (name, x) for x in
                         compare(results[0][1], results[0][2], C0, exact, plain,
                                 float(np.abs(X).max()), True)]
        print("%s bits %s over %s" % ("ok  " if not problems else "FAIL", name,
                                       [r[0] for r in results]))
        for p in problems:
            print("  -", p)
    return problems


# --- bad input ----------------------------------------------------------------------

# The usage errors that only the shared command-line code handles (a
# missing -o, a bad number for -t) are tested with pmr-wordcount.
BAD = [
    # name, argv, exit status, any of these in the message
    ("missing-file", ["in/nope.h5:/points", "-k", "3", "-o", "out/r.h5"], 1, ["nope.h5"]),
    ("not-hdf5", ["in/text.h5:/points", "-k", "3", "-o", "out/r.h5"], 1, ["text.h5"]),
    ("no-dataset-path", ["in/p.h5", "-k", "3", "-o", "out/r.h5"], 1, ["in/p.h5"]),
    ("missing-dataset", ["in/p.h5:/nope", "-k", "3", "-o", "out/r.h5"], 1, ["/nope"]),
    ("group", ["in/p.h5:/grp", "-k", "3", "-o", "out/r.h5"], 1, ["/grp"]),
    ("string", ["in/p.h5:/str", "-k", "3", "-o", "out/r.h5"], 1, ["/str"]),
    ("3-d", ["in/p.h5:/cube", "-k", "3", "-o", "out/r.h5"], 1, ["/cube"]),
    ("empty", ["in/p.h5:/empty", "-k", "3", "-o", "out/r.h5"], 1, ["/empty"]),
    ("nan", ["in/p.h5:/nan", "-k", "3", "-o", "out/r.h5"], 1, ["p.h5:/nan' row 7, column 1: NaN"]),
    ("inf", ["in/p.h5:/inf", "-k", "3", "-o", "out/r.h5"], 1, ["p.h5:/inf' row 40, column 0: -Inf"]),
    ("huge", ["in/p.h5:/huge", "-k", "3", "-o", "out/r.h5"], 1, ["p.h5:/huge' row 3, column 2"]),
    ("k-above-n", ["in/p.h5:/points", "-k", "1000", "-o", "out/r.h5"], 1,
     ["p.h5:/points' holds 50 points, fewer than the 1000"]),
    ("init-missing", ["in/p.h5:/points", "--init", "in/p.h5:/nope", "-o", "out/r.h5"], 1,
     ["/nope"]),
    ("init-shape", ["in/p.h5:/points", "--init", "in/p.h5:/init4", "-o", "out/r.h5"], 1,
     ["p.h5:/init4' holds 3 centroids of 4 values"]),
    ("init-k", ["in/p.h5:/points", "-k", "5", "--init", "in/p.h5:/init", "-o", "out/r.h5"], 1,
     ["p.h5:/init' holds 3 centroids"]),
    ("init-nan", ["in/p.h5:/points", "--init", "in/p.h5:/initnan", "-o", "out/r.h5"], 1,
     ["p.h5:/initnan' row 2, column 0: NaN"]),
    ("output-missing-dir", ["in/p.h5:/points", "-k", "3", "-o", "out/nodir/r.h5"], 1, ["nodir"]),
    ("output-is-directory", ["in/p.h5:/points", "-k", "3", "-o", "out/adir.h5"], 1, ["adir.h5"]),
    ("usage-no-k", ["in/p.h5:/points", "-o", "out/r.h5"], 2, ["-k"]),
    ("usage-k-zero", ["in/p.h5:/points", "-k", "0", "-o", "out/r.h5"], 2, ["'0'"]),
    ("usage-tol-negative", ["in/p.h5:/points", "-k", "3", "--tol", "-1", "-o", "out/r.h5"], 2,
     ["--tol"]),
    ("usage-tol-nan", ["in/p.h5:/points", "-k", "3", "--tol", "nan", "-o", "out/r.h5"], 2,
     ["--tol"]),
    ("usage-init-bogus", ["in/p.h5:/points", "-k", "3", "--init", "best", "-o", "out/r.h5"], 2,
     ["'best'"]),
    ("usage-seed-negative", ["in/p.h5:/points", "-k", "3", "--seed", "-4", "-o", "out/r.h5"], 2,
     ["--seed"]),
    ("usage-two-inputs", ["in/p.h5:/points", "in/p.h5:/points", "-k", "3", "-o", "out/r.h5"],
     2, ["one input"]),
    ("usage-unknown-option", ["in/p.h5:/points", "-k", "3", "--bogus", "-o", "out/r.h5"], 2,
     ["--bogus"]),
]


def make_bad_inputs(case_dir):
    os.makedirs(os.path.join(case_dir, "in"))
    os.makedirs(os.path.join(case_dir, "out/adir.h5"))
    rng = np.random.default_rng(5)
    P = rng.normal(0, 1, (50, 3))
    with h5py.File(os.path.join(case_dir, "in/p.h5"), "w") as f:
        f["points"] = P
        f.create_group("grp")
        f["str"] = np.array([b"a", b"b"], dtype="S1")
        f["cube"] = np.zeros((4, 3, 2))
        f.create_dataset("empty", shape=(0, 3), dtype="f8")
        a = P.copy()
        a[7, 1] = np.nan
        a[30, 2] = np.inf  # later than the NaN: the first is named
        f["nan"] = a
        a = P.copy()
        a[40, 0] = -np.inf
        f["inf"] = a
        a = P.copy()
        a[3, 2] = 1e200
        f["huge"] = a
        f["init"] = P[:3]
        f["init4"] = np.zeros((3, 4))
        a = P[:3].copy()
        a[2, 0] = np.nan
        f["initnan"] = a
    with open(os.path.join(case_dir, "in/text.h5"), "w") as f:
        f.write("not HDF5\n")


def bad_runs(args, root):
    problems = []
    env = dict(os.environ, OMPI_MCA_orte_execute_quiet="1")
    for name, argv, want_rc, mention in BAD:
        if args.only and not re.search(args.only, name):
            continue
        work = os.path.join(root, name)
        make_bad_inputs(work)
        before = snapshot(work)
        cmd = launcher(args.np, bind_none=False) + [args.app] + argv
        rc, out, err, hung, secs = run(cmd, work, 60, env)
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        p = []
        if hung:
            p.append("no exit within 60 s (hang)")
        elif rc != want_rc:
            p.append("exit status %s, want %d" % (rc, want_rc))
        if len(lines) != 1:
            p.append("stderr has %d lines, want 1: %r" % (len(lines), lines[:6]))
        elif not lines[0].startswith(APP + ": "):
            p.append("message %r does not start with '%s: '" % (lines[0], APP))
        elif not any(m in lines[0] for m in mention):
            p.append("message %r names none of %r" % (lines[0], mention))
        if snapshot(work) != before:
            p.append("files changed: %s" % sorted(snapshot(work) ^ before))
        print("%s %-22s np=%d exit=%s %.1fs  %s" % ("ok  " if not p else "FAIL", name, args.np,
                                                   rc, secs, lines[0] if len(lines) == 1 else ""))
        problems += ["%s: %s" % (name, x) for x in p]
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True, help="the pmr-kmeans binary")
    ap.add_argument("--np", type=int, default=1, help="MPI ranks")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    ap.add_argument("--cases", help="comma-separated: " + ",".join(CASES))
    ap.add_argument("--bits", action="store_true", help="compare layouts bit for bit")
    ap.add_argument("--bad", action="store_true", help="run the bad-input cases")
    ap.add_argument("--only", help="with --bad: the cases whose name matches this regex")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    args.app = os.path.abspath(args.app)
    if not (args.cases or args.bits or args.bad):
        ap.error("give --cases, --bits or --bad")
    root = tempfile.mkdtemp(prefix="pmr-kmeans-")
    try:
        if args.bad:
            problems = bad_runs(args, root)
        elif args.bits:
            problems = bits_runs(args, root)
        else:
            problems = case_runs(args, root)
        for p in problems:
            print("FAIL:", p)
        if not problems:
            print("ok: everything matches")
        return 1 if problems else 0
    finally:
        if args.keep:
            print("kept", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
