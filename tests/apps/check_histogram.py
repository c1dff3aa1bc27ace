#!/usr/bin/env python3
"""Golden and bad-input test for pmr-histogram.

    check_histogram.py --app PATH --np N [--threads T] [--case NAME]...
    check_histogram.py --app PATH --np N --bad [--only REGEX]

Writes HDF5 inputs with h5py into a fresh temporary directory and runs

    $PMR_MPIEXEC N $PMR_MPIEXEC_PREFLAGS APP -t T INPUT.h5:/dset... -o out.h5 [options]

once per case, then compares everything the app wrote with goldens from
numpy: `edges` (bit for bit) and `counts` (exactly) against
numpy.histogram(x, bins=N, range=(LO, HI)) of all the values taken as
float64, LO and HI being the finite values' min and max when no --range is
given; --log against numpy.histogram(x, bins=E) with E = geomspace(LO, HI,
N+1) computed the way numpy.geomspace does (10.0 ** linspace(log10(LO),
log10(HI)), ends put back), which must also agree with numpy.geomspace
itself to an ulp or two; the attributes count, underflow, overflow, nan,
finite, values, min, max (exactly), mean and std (math.fsum(x) / n and
numpy.std, ddof=0, over the finite values, to 1e-12), bins, scale, range,
app, inputs, command_line, nranks, nthreads; and that nothing else was left
in the directory. The "main" case's data are built to land on the bin edges
and next to them (the test checks that numpy's index corrections really
happen on them), and every comparison is also run against a corrupted golden
to prove that it can fail.

Cases: main (a --range over edge values, an int16 chunked + compressed
2-D dataset and a 2-D one of 70 columns together), auto (float32 with NaN
and +-Inf, range from the data), log, log-auto, special (constant values,
all NaN, fewer values than ranks, --group), shift (a --range far from the
data, which forces the statistics' second pass, with a 1 MiB budget),
deterministic (the same input at several rank and thread counts and budgets
gives bit-identical results).

--bad runs bad inputs and command lines instead: each must exit with its
status (1 bad input, 2 usage), print exactly one line "pmr-histogram: ..."
naming the file and dataset or the option, leave nothing behind, not hang.

Exit status 0 when everything matches, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import math
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
from launch import launcher, run  # noqa: E402

APP = "pmr-histogram"
LO, HI, NBINS = -1.1, 2.3, 37  # numpy corrects bin indices on these edges


# --- inputs -----------------------------------------------------------------------

def ulps(a, k):
    for _ in range(abs(k)):
        a = np.nextafter(a, np.inf if k > 0 else -np.inf)
    return a


def edge_values(e, rng):
    """Every edge, its neighbours up to 2 ulps each way, and noise."""
    v = np.concatenate([e] + [ulps(e, k) for k in (-2, -1, 1, 2)])
    return np.concatenate([v, v[: len(v) // 3]])  # some edges twice


def make_inputs(work, rng):
    e = np.linspace(LO, HI, NBINS + 1)
    x = np.concatenate([
        edge_values(e, rng),
        [LO - 1, HI + 1, np.nextafter(LO, -np.inf), np.nextafter(HI, np.inf), -0.0, 0.0,
         np.nan, np.nan, np.nan, np.inf, np.inf, -np.inf, 1e300, -1e300],
        rng.uniform(LO - 0.5, HI + 0.5, 2000), rng.normal(0.6, 1.0, 1000)])
    rng.shuffle(x)
    with h5py.File(os.path.join(work, "main.h5"), "w") as f:
        f["edgy"] = x
        f.create_dataset("ints", data=rng.integers(-40, 41, (500, 3)).astype(np.int16),
                         chunks=(64, 3), compression="gzip")
        f.create_dataset("grid/wide", data=rng.normal(0.5, 1.0, (40, 70)))
    with h5py.File(os.path.join(work, "auto.h5"), "w") as f:
        y = rng.normal(3.0, 2.0, 3001).astype(np.float32)
        y[::97] = np.nan
        y[5], y[6], y[7] = np.inf, -np.inf, np.inf
        f["samples/f32"] = y
    # Log: lognormal values, zeros, negatives, and hits on the edges the
    # log cases will use.
    with h5py.File(os.path.join(work, "log.h5"), "w") as f:
        z = np.concatenate([rng.lognormal(0.0, 2.0, 3000), np.zeros(7), -rng.uniform(0, 5, 9),
                            [np.nan, np.inf, -np.inf]])
        ge = geom_edges(0.01, 1000.0, 25)
        z = np.concatenate([z, edge_values(ge, rng)])
        fin = z[np.isfinite(z) & (z > 0)]
        hits = edge_values(geom_edges(fin.min(), fin.max(), 16), rng)
        z = np.concatenate([z, hits[(hits >= fin.min()) & (hits <= fin.max())]])
        rng.shuffle(z)
        f["energy"] = z
    with h5py.File(os.path.join(work, "special.h5"), "w") as f:
        f["const"] = np.full(100, 7.25)
        f["allnan"] = np.full(50, np.nan)
        f["tiny"] = np.array([1.0, 2.0, 2.0])
        f["far"] = rng.normal(1e6, 1.0, 5000)
        f["far2d"] = rng.normal(-3e5, 2.0, (800, 5))


def geom_edges(lo, hi, n):
    """numpy.geomspace(lo, hi, n + 1), with the C library's log10 and pow
    (what Python's math and ** use), so that it cannot depend on numpy's
    vectorised transcendental functions."""
    y = np.linspace(math.log10(lo), math.log10(hi), n + 1)
    e = np.array([10.0 ** float(v) for v in y])
    e[0], e[-1] = lo, hi
    return e


# --- goldens ----------------------------------------------------------------------

def read_values(work, specs):
    parts = []
    for s in specs:
        path, _, dset = s.rpartition(":")
        with h5py.File(os.path.join(work, path), "r") as f:
            parts.append(f[dset][()].astype(np.float64).ravel())
    return np.concatenate(parts)


def golden(x, bins, rng_=None, log=False):
    """What pmr-histogram must write: edges, counts and the attributes."""
    fin = x[np.isfinite(x)]
    if log:
        pos = fin[fin > 0]
        lo, hi = rng_ if rng_ else ((pos.min(), pos.max()) if pos.size else (1.0, 10.0))
        lo, hi = float(lo), float(hi)
        if lo == hi:
            lo, hi = 10.0 ** (math.log10(lo) - 0.5), 10.0 ** (math.log10(lo) + 0.5)
        edges = geom_edges(lo, hi, bins)
        ref = np.geomspace(lo, hi, bins + 1)
        off = np.abs(edges.view(np.int64) - ref.view(np.int64)).max()
        assert off <= 4, "numpy.geomspace differs from the golden edges by %d ulps" % off
        counts, e2 = np.histogram(x[~np.isnan(x)], bins=edges)
        assert e2 is edges or np.array_equal(e2, edges)
    else:
        lo, hi = rng_ if rng_ else ((fin.min(), fin.max()) if fin.size else (0.0, 1.0))
        counts, edges = np.histogram(x[~np.isnan(x)], bins=bins, range=(lo, hi))
    under = int(np.sum(x < edges[0]))
    over = int(np.sum(x > edges[-1]))
    nan = int(np.sum(np.isnan(x)))
    attrs = {"count": int(counts.sum()), "underflow": under, "overflow": over, "nan": nan,
             "finite": int(fin.size), "values": int(x.size), "bins": bins,
             "scale": "log" if log else "linear", "range": "given" if rng_ else "data"}
    assert attrs["count"] + under + over + nan == x.size
    # The mean from the exactly rounded sum: numpy's pairwise sum loses the
    # small values next to the +-1e300 of the main case.
    with np.errstate(all="ignore"):
        stats = {"min": fin.min() if fin.size else np.nan,
                 "max": fin.max() if fin.size else np.nan,
                 "mean": math.fsum(fin) / fin.size if fin.size else np.nan,
                 "std": fin.std() if fin.size else np.nan}
    return edges, counts, attrs, stats


def numpy_corrections(x, lo, hi, n):
    """How often numpy's fast path corrects an index down and up on x."""
    e = np.linspace(lo, hi, n + 1)
    v = x[(x >= lo) & (x <= hi)]
    f = ((v - lo) * (n / (hi - lo))).astype(np.intp)
    f[f == n] -= 1
    dec = v < e[f]
    f[dec] -= 1
    inc = (v >= e[f + 1]) & (f != n - 1)
    return int(dec.sum()), int(inc.sum())


# --- checks -----------------------------------------------------------------------

def as_text(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [as_text(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def close(got, want, scale):
    if np.isnan(want):
        return np.isnan(got)
    if np.isinf(want):
        return got == want
    return abs(got - want) <= 1e-12 * (abs(want) + scale) + 1e-300


def compare(res, gold, specs, np_, threads, group):
    """Problems found comparing what was read back (res) with the golden."""
    edges, counts, attrs, stats = gold
    p = []
    e, c, a = res
    if e.dtype != np.float64 or c.dtype != np.int64:
        p.append("dtypes edges %s counts %s, want float64 / int64" % (e.dtype, c.dtype))
    if e.shape != edges.shape or c.shape != counts.shape:
        return p + ["shapes edges %s counts %s, want %s %s" % (e.shape, c.shape, edges.shape,
                                                               counts.shape)]
    if not np.array_equal(e.astype(np.float64).view(np.uint64), edges.view(np.uint64)):
        i = np.flatnonzero(e.astype(np.float64).view(np.uint64) != edges.view(np.uint64))
        p.append("edges differ at %d places, first [%d] %r != %r"
                 % (len(i), i[0], float(e[i[0]]), float(edges[i[0]])))
    if not np.array_equal(c, counts):
        i = np.flatnonzero(c != counts)
        p.append("counts differ in %d bins, first [%d] %d != %d"
                 % (len(i), i[0], c[i[0]], counts[i[0]]))
    for k, v in attrs.items():
        if a.get(k) != v:
            p.append("attribute %s = %r, want %r" % (k, a.get(k), v))
    for k in ("min", "max"):
        got, want = a.get(k), stats[k]
        if got is None or not (got == want or (np.isnan(got) and np.isnan(want))):
            p.append("attribute %s = %r, want %r" % (k, got, want))
    scale = stats["std"] if np.isfinite(stats["std"]) else 0.0
    for k in ("mean", "std"):
        got = a.get(k)
        if got is None or not close(got, stats[k], scale):
            p.append("attribute %s = %r, want %r (numpy, to 1e-12)" % (k, got, stats[k]))
    want = {"app": "histogram", "inputs": specs, "nranks": np_, "nthreads": threads}
    for k, v in want.items():
        if a.get(k) != v:
            p.append("attribute %s = %r, want %r" % (k, a.get(k), v))
    if APP not in str(a.get("command_line", "")):
        p.append("attribute command_line = %r" % a.get("command_line"))
    return p


def read_result(path, group):
    with h5py.File(path, "r") as f:
        g = f[group]
        a = {n: as_text(g.attrs[n]) for n in g.attrs}
        return g["edges"][()], g["counts"][()], a


def selfcheck(res, gold, specs, np_, threads, group):
    """Corrupted goldens must all be caught."""
    edges, counts, attrs, stats = gold
    bad = []
    e2 = edges.copy()
    e2[len(e2) // 2] = np.nextafter(e2[len(e2) // 2], np.inf)
    bad.append((e2, counts, attrs, stats))
    c2 = counts.copy()
    c2[0] += 1
    bad.append((edges, c2, attrs, stats))
    for k in ("underflow", "nan", "count"):
        a2 = dict(attrs)
        a2[k] += 1
        bad.append((edges, counts, a2, stats))
    if np.isfinite(stats["std"]) and stats["std"] > 0:
        s2 = dict(stats)
        s2["std"] = stats["std"] * (1 + 1e-10)
        bad.append((edges, counts, attrs, s2))
    missed = sum(1 for g in bad if not compare(res, g, specs, np_, threads, group))
    return ["self-check: %d of %d corrupted goldens were not caught" % (missed, len(bad))] \
        if missed else []


def snapshot(root):
    seen = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            seen[os.path.relpath(p, root)] = os.path.getsize(p) if os.path.isfile(p) else 0
    return seen


# --- runs ---------------------------------------------------------------------------

def run_app(args, work, argv, np_=None, threads=None, memory=None, timeout=150):
    np_ = np_ or args.np
    threads = threads or args.threads
    cmd = launcher(np_) + [args.app, "-t", str(threads)] + \
        (["-m", memory] if memory else []) + argv
    print("run:", shlex.join(cmd))
    rc, out, err, hung, secs = run(cmd, work, timeout)
    print("exit %s after %.1f s" % (rc, secs))
    if hung:
        return ["no exit within %.0f s (hang)" % timeout]
    if rc != 0:
        return ["exit status %s, want 0; stderr: %s" % (rc, err.decode("utf-8", "replace")[-2000:])]
    if err.strip() or out.strip():
        return ["output on stdout/stderr: %r %r" % (out[-300:], err[-300:])]
    return []


def case_run(args, work, specs, opts, gold, group="histogram", memory=None, np_=None,
             threads=None, check_self=False):
    before = snapshot(work)
    p = run_app(args, work, specs + ["-o", "out.h5"] + opts, np_, threads, memory)
    if p:
        return p
    res = read_result(os.path.join(work, "out.h5"), group)
    p = compare(res, gold, specs, np_ or args.np, threads or args.threads, group)
    if check_self:
        p += selfcheck(res, gold, specs, np_ or args.np, threads or args.threads, group)
    left = set(snapshot(work)) - set(before) - {"out.h5"}
    if left:
        p.append("left behind: %s" % sorted(left))
    os.unlink(os.path.join(work, "out.h5"))
    return p


def case_main(args, work):
    specs = ["main.h5:/edgy", "main.h5:/ints", "main.h5:/grid/wide"]
    x = read_values(work, specs)
    dec, inc = numpy_corrections(x, LO, HI, NBINS)
    if dec == 0 or inc == 0:
        return ["the edge data no longer make numpy correct indices (down %d, up %d)" % (dec, inc)]
    print("numpy corrects %d indices down and %d up on these values" % (dec, inc))
    gold = golden(x, NBINS, (LO, HI))
    return case_run(args, work, specs, ["--bins", str(NBINS), "--range", "%r:%r" % (LO, HI)],
                    gold, check_self=True)


def case_auto(args, work):
    specs = ["auto.h5:/samples/f32"]
    return case_run(args, work, specs, [], golden(read_values(work, specs), 10))


def case_log(args, work):
    specs = ["log.h5:/energy"]
    gold = golden(read_values(work, specs), 25, (0.01, 1000.0), log=True)
    return case_run(args, work, specs, ["--log", "--bins", "25", "--range", "0.01:1000"], gold,
                    check_self=True)


def case_log_auto(args, work):
    specs = ["log.h5:/energy"]
    p = case_run(args, work, specs, ["--log", "--bins", "16"],
                 golden(read_values(work, specs), 16, log=True))
    # Equal ends, widened by half a decade each way.
    specs = ["special.h5:/const"]
    p += case_run(args, work, specs, ["--log", "--bins", "4"],
                  golden(read_values(work, specs), 4, log=True))
    return p


def case_special(args, work):
    p = []
    # No finite value; fewer values than ranks, with another dataset; equal
    # values (the range widened by 0.5 each way), in a nested group; an
    # empty --range, widened the same way.
    for specs, opts, rng_ in ((["special.h5:/allnan"], [], None),
                              (["special.h5:/tiny", "special.h5:/const"], ["--bins", "7"], None),
                              (["special.h5:/const"], ["--bins", "5", "--group", "runs/h1"],
                               None),
                              (["special.h5:/tiny"], ["--range", "2:2", "--bins", "2"],
                               (2.0, 2.0))):
        bins = int(opts[opts.index("--bins") + 1]) if "--bins" in opts else 10
        group = opts[opts.index("--group") + 1] if "--group" in opts else "histogram"
        gold = golden(read_values(work, specs), bins, rng_)
        p += case_run(args, work, specs, opts, gold, group=group)
    return p


def case_shift(args, work):
    # A range far from the data: the statistics' shift (the middle of the
    # range) is far from the mean, so the app sums again around the mean.
    p = []
    for spec, rng_ in (("special.h5:/far", (0.0, 10.0)), ("special.h5:/far2d", (-1.0, 1.0))):
        gold = golden(read_values(work, [spec]), 8, rng_)
        p += case_run(args, work, [spec], ["--bins", "8", "--range", "%r:%r" % rng_], gold,
                      memory="1M")
    return p


def case_deterministic(args, work):
    """The same input at several layouts: bit-identical attributes."""
    specs = ["main.h5:/edgy", "main.h5:/grid/wide", "log.h5:/energy", "special.h5:/far"]
    seen, p = {}, []
    for np_, t, m, opts in ((1, 1, None, []), (3, 2, "1M", []), (4, 1, None, []),
                            (2, 2, "1M", ["--range", "-3:5"])):
        p += run_app(args, work, specs + ["-o", "d.h5", "--bins", "50"] + opts, np_, t, m)
        if p:
            return p
        _, c, a = read_result(os.path.join(work, "d.h5"), "histogram")
        key = tuple(opts)
        got = (c.tobytes(), np.float64(a["mean"]).tobytes(), np.float64(a["std"]).tobytes(),
               a["min"], a["max"])
        if key in seen and seen[key][1] != got:
            p.append("%d x %d (-m %s) differs from %s: mean %r vs %r, std %r vs %r"
                     % (np_, t, m, seen[key][0], a["mean"], np.frombuffer(seen[key][1][1])[0],
                        a["std"], np.frombuffer(seen[key][1][2])[0]))
        seen.setdefault(key, ("%d x %d" % (np_, t), got))
    os.unlink(os.path.join(work, "d.h5"))
    x = read_values(work, specs)
    _, _, _, stats = golden(x, 50)
    for key, (_, got) in seen.items():
        mean, std = np.frombuffer(got[1])[0], np.frombuffer(got[2])[0]
        if not (close(mean, stats["mean"], stats["std"]) and close(std, stats["std"], 0)):
            p.append("mean/std %r %r, want %r %r" % (mean, std, stats["mean"], stats["std"]))
    return p


CASES = {"main": case_main, "auto": case_auto, "log": case_log, "log-auto": case_log_auto,
         "special": case_special, "shift": case_shift, "deterministic": case_deterministic}


# --- bad input ---------------------------------------------------------------------

BAD = [
    # name, argv, exit status, any of these in the message
    ("missing-file", ["main.h5:/edgy", "nope.h5:/x", "-o", "out.h5"], 1, ["'nope.h5'"]),
    ("missing-dataset", ["main.h5:/edgy", "main.h5:/nope", "-o", "out.h5"], 1,
     ["'main.h5': no dataset '/nope'"]),
    ("group", ["main.h5:/grid", "-o", "out.h5"], 1, ["'main.h5:/grid'"]),
    ("string", ["bad.h5:/names", "-o", "out.h5"], 1, ["'bad.h5:/names'"]),
    ("3d", ["bad.h5:/cube", "-o", "out.h5"], 1, ["'bad.h5:/cube'"]),
    ("empty", ["bad.h5:/empty", "-o", "out.h5"], 1, ["'bad.h5:/empty'"]),
    ("not-hdf5", ["text.h5:/x", "-o", "out.h5"], 1, ["'text.h5'"]),
    ("too-wide", ["bad.h5:/huge", "-o", "out.h5"], 1, ["'bad.h5:/huge'"]),
    ("equal-huge", ["bad.h5:/bigconst", "-o", "out.h5"], 1, ["'bad.h5:/bigconst'"]),
    ("out-dir-missing", ["main.h5:/edgy", "-o", "nodir/out.h5"], 1, ["nodir"]),
    ("no-dataset-part", ["main.h5", "-o", "out.h5"], 2, ["'main.h5'"]),
    ("bins-zero", ["main.h5:/edgy", "--bins", "0", "-o", "out.h5"], 2, ["--bins"]),
    ("range-reversed", ["main.h5:/edgy", "--range", "5:1", "-o", "out.h5"], 2, ["--range"]),
    ("range-junk", ["main.h5:/edgy", "--range", "1..2", "-o", "out.h5"], 2, ["'1..2'"]),
    ("range-overflow", ["main.h5:/edgy", "--range", "-1e308:1e308", "-o", "out.h5"], 2,
     ["--range"]),
    ("log-range", ["main.h5:/edgy", "--log", "--range", "0:10", "-o", "out.h5"], 2,
     ["--log", "LO"]),
]


def make_bad_inputs(work, rng):
    make_inputs(work, rng)
    with h5py.File(os.path.join(work, "bad.h5"), "w") as f:
        f["names"] = np.array([b"alpha", b"beta"], dtype="S8")
        f["records"] = np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8")])
        f["cube"] = np.zeros((2, 3, 4))
        f.create_dataset("empty", shape=(0,), dtype="f8")
        f["huge"] = np.array([-1.7e308, 0.0, 1.7e308])
        f["bigconst"] = np.full(10, 1e20)
    with open(os.path.join(work, "text.h5"), "w") as f:
        f.write("not HDF5\n")
    os.makedirs(os.path.join(work, "adir"))


def bad_runs(args, root):
    problems = []
    for name, argv, want_rc, mention in BAD:
        if args.only and not re.search(args.only, name):
            continue
        work = os.path.join(root, name)
        os.makedirs(work)
        make_bad_inputs(work, np.random.default_rng(5))
        before = snapshot(work)
        cmd = launcher(args.np, bind_none=False) + [args.app] + argv
        rc, out, err, hung, secs = run(cmd, work, 60)
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
            p.append("files changed: %s" % sorted(set(snapshot(work).items()) ^ set(before.items())))
        print("%s %-18s np=%d exit=%s %.1fs  %s" % ("ok  " if not p else "FAIL", name, args.np,
                                                   rc, secs, lines[0] if len(lines) == 1 else ""))
        problems += ["%s: %s" % (name, x) for x in p]
        shutil.rmtree(work, ignore_errors=True)
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True, help="the pmr-histogram binary")
    ap.add_argument("--np", type=int, default=1, help="MPI ranks")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    ap.add_argument("--case", action="append", choices=sorted(CASES),
                    help="golden case to run (repeatable; default main and auto)")
    ap.add_argument("--bad", action="store_true", help="run the bad-input cases")
    ap.add_argument("--only", help="with --bad: the cases whose name matches this regex")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    args.app = os.path.abspath(args.app)
    work = tempfile.mkdtemp(prefix="pmr-histogram-")
    try:
        if args.bad:
            problems = bad_runs(args, work)
        else:
            make_inputs(work, np.random.default_rng(1000 * args.np + args.threads))
            problems = []
            for c in args.case or ["main", "auto"]:
                problems += ["%s: %s" % (c, x) for x in CASES[c](args, work)]
        for p in problems:
            print("FAIL:", p)
        if not problems:
            print("ok: %s" % ("every bad input and command line behaves" if args.bad else
                              "histograms and attributes match numpy"))
        return 1 if problems else 0
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
