#!/usr/bin/env python3
"""Golden and bad-input test for pmr-autocorr.

    check_autocorr.py --app PATH --np N [--threads T] [--cases REGEX]
                      [--bad [--only REGEX]] [--keep]

Writes 1-D series of every integer and float type with h5py into a fresh
temporary directory and runs

    $PMR_MPIEXEC N $PMR_MPIEXEC_PREFLAGS APP -t T FILE.h5:/DSET --max-lag L \\
        [--method M] [--scale S] [--demean] ... -o out.h5

for the cases of this rank and thread count (every case runs at some of
them; the first two at all). Each result is compared with numpy's reference,
np.correlate(y, y, 'full')[n-1 : n+L] with y = x - mean (--demean; the mean
is math.fsum(x) / n) or y = x (for long series the same sums as L + 1 dot
products), scaled as Matlab's xcorr: biased r/n, unbiased r/(n-k), coeff
r/r[0]. The error at lag k is measured relative to r[0] under lag k's
scaling, |got - want| <= 1e-9 * |r0| * scale_k, since r[0] bounds every
|r[k]| and lags where r[k] is near zero have no relative error of their
own. Integer series with the direct method must match exactly (every sum
is an integer below 2^53). Also checked: the lags and dtypes, the
attributes (n, max_lag, scale, demean, mean, method, r0, inputs, nranks,
nthreads, app, command_line), empty stdout and stderr, nothing else left,
and that the comparison catches a result off by 1e-8.

--bad runs bad inputs and command lines instead: each must exit with its
status (1 bad input, 2 usage error), print exactly one line
"pmr-autocorr: ..." naming the file and dataset or the option, leave
nothing behind, and not hang.

Exit status 0 when everything matches, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import concurrent.futures
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

TOL = 1e-9
FFT_FROM = 64  # --method auto: direct below this many lags


# --- inputs -----------------------------------------------------------------------

def make_inputs(path):
    """The series, by dataset name (the file holds them as written)."""
    rng = np.random.default_rng(8)
    t = np.arange(6007)
    ar = np.zeros(40000)
    e = rng.normal(0, 1, ar.size)
    for i in range(1, ar.size):
        ar[i] = 0.95 * ar[i - 1] + e[i]
    data = {
        "f64": rng.normal(3, 2, 6007),
        "f32": rng.normal(-1, 5, 3001).astype(np.float32),
        "i8": rng.integers(-128, 128, 2500).astype(np.int8),
        "u8": rng.integers(0, 256, 2999).astype(np.uint8),
        "i16": rng.integers(-30000, 30000, 3333).astype(np.int16),
        "u16": rng.integers(0, 65536, 2048).astype(np.uint16),
        "i32": rng.integers(-10**6, 10**6, 4001).astype(np.int32),
        "u32": rng.integers(0, 10**6, 1999).astype(np.uint32),
        "i64": rng.integers(-10**6, 10**6, 3003).astype(np.int64),
        "u64": rng.integers(0, 10**6, 2222).astype(np.uint64),
        # Lags where r[k] crosses zero: the error is relative to r[0].
        "sine": np.sin(2 * np.pi * t / 97.0) + 0.3 * np.sin(2 * np.pi * t / 13.0),
        # A large mean over small noise: --demean must not lose the noise.
        "offset": 1e6 + rng.normal(0, 1, 5000),
        "const": np.full(777, 2.5),
        "ar1": ar,
        "one": np.array([-3.5]),
        "three": np.array([2, -7, 5], dtype=np.int16),
        "short": rng.normal(0, 1, 500),
    }
    with h5py.File(path, "w") as f:
        for name, x in data.items():
            f.create_dataset(name, data=x)
        f.create_dataset("chunked/f64", data=data["f64"], chunks=(500,),
                         compression="gzip", shuffle=True)
        # bad inputs
        f.create_group("grp").create_dataset("x", data=np.arange(5.0))
        f.create_dataset("str", data=np.array([b"ab", b"cd"]))
        f.create_dataset("two", data=np.zeros((40, 3)))
        f.create_dataset("d3", data=np.zeros((2, 3, 4)))
        f.create_dataset("empty", shape=(0,), dtype=np.float64)
        f.create_dataset("ten", data=np.arange(10.0))
    data["chunked/f64"] = data["f64"]
    return data


# --- the cases --------------------------------------------------------------------

class Case:
    def __init__(self, name, dset, lag, method="auto", scale="none", demean=False,
                 extra=(), group="autocorr"):
        self.name, self.dset, self.lag, self.method = name, dset, lag, method
        self.scale, self.demean, self.extra, self.group = scale, demean, list(extra), group

    def argv(self, inp):
        a = [f"{inp}:/{self.dset}", "--max-lag", str(self.lag)]
        if self.method != "auto":
            a += ["--method", self.method]
        if self.scale != "none":
            a += ["--scale", self.scale]
        if self.demean:
            a.append("--demean")
        if self.group != "autocorr":
            a += ["--group", self.group]
        return a + self.extra

    def used_method(self):
        if self.method != "auto":
            return self.method
        return "direct" if self.lag < FFT_FROM else "fft"


def cases_for(np_, t, n_f64):
    """Every rank x thread count runs the first case (a lag near the block a
    thread maps there, direct at one thread, by FFT at two); the others are
    spread over the counts so that each runs somewhere, the rank counts
    that find most boundary bugs (3, 4) getting the awkward ones."""
    share = -(-n_f64 // np_)
    part = max(1, -(-share // (4 * t)))  # rows per block a thread maps here
    common = [Case("near-block", "f64", part + 1, "direct" if t == 1 else "fft", "coeff", True)]
    spread = {
        (1, 1): [Case("lag0-u32", "u32", 0, "direct"),
                 Case("memory-rounds", "ar1", 300, "fft", "biased", extra=["-m", "1M"])],
        (1, 2): [Case("max-lag-direct", "short", 499, "direct", "unbiased"),
                 Case("u64-auto", "u64", 63, scale="biased")],
        (2, 1): [Case("offset-demean", "offset", 200, "fft", "coeff", True),
                 Case("i8-exact", "i8", 40, "direct")],
        (2, 2): [Case("max-lag-fft", "short", 499, "fft", "unbiased", True),
                 Case("u8-auto", "u8", 64, scale="unbiased")],
        # Lags larger than a rank's share: halos that span ranks.
        (3, 1): [Case("over-share", "f64", 2500, "fft"),
                 Case("three-rows", "three", 2, "direct", "biased"),
                 Case("gzip-chunked", "chunked/f64", 700, "fft", "biased", True,
                      group="runs/acf")],
        (3, 2): [Case("memory-rounds-direct", "ar1", 300, "direct", "coeff", True,
                      extra=["-m", "1M"]),
                 Case("i32-fft0", "i32", 0, "fft")],
        (4, 1): [Case("one-sample", "one", 0, "fft", "coeff"),
                 Case("const-demean", "const", 30, "direct", "coeff", True),
                 Case("u16-exact", "u16", 63, "direct")],
        (4, 2): [Case("over-share-i64", "i64", 1500, "fft", "none", True),
                 Case("sine", "sine", 300, "fft", "unbiased"),
                 Case("f32-direct", "f32", 1000, "direct", "biased", True)],
    }
    return common + spread.get((np_, t), [])


# --- goldens -------------------------------------------------------------------------

def reference(x, lag, demean):
    """(unscaled lag sums 0..lag as float64, or exact ints; the mean)."""
    x = np.asarray(x)
    n = x.size
    mean = math.fsum(x.astype(np.float64).tolist()) / n if demean else 0.0
    if x.dtype.kind in "iu" and not demean:
        xi = x.astype(object)  # Python ints: exact
        return [int(np.dot(xi[:n - k], xi[k:])) for k in range(lag + 1)], mean
    y = x.astype(np.float64) - mean
    if n <= 20000:
        return np.correlate(y, y, "full")[n - 1:n + lag], mean
    return np.array([np.dot(y[:n - k], y[k:]) for k in range(lag + 1)]), mean


def scales(scale, n, lag, r0):
    k = np.arange(lag + 1, dtype=np.float64)
    if scale == "biased":
        return np.full(lag + 1, 1.0 / n)
    if scale == "unbiased":
        return 1.0 / (n - k)
    if scale == "coeff":
        return np.full(lag + 1, 1.0 / r0 if r0 else math.nan)
    return np.ones(lag + 1)


def compare(got, ref, case, n):
    """Problems with the r dataset `got` against the unscaled reference."""
    exact = not isinstance(ref, np.ndarray)
    refd = np.array([float(v) for v in ref]) if exact else ref
    r0 = refd[0]
    s = scales(case.scale, n, case.lag, r0)
    want = refd * s
    if got.shape != want.shape:
        return ["r has shape %s, want %s" % (got.shape, want.shape)]
    if r0 == 0:  # all-zero series: 0 for the sums, NaN (0/0) under coeff
        bad = ~np.isnan(got) if case.scale == "coeff" else got != 0
        return ["r[%d] = %r, want %r" % (i, got[i], want[i]) for i in np.nonzero(bad)[0][:3]]
    if exact and case.used_method() == "direct" and case.scale == "none":
        bad = [k for k in range(case.lag + 1) if got[k] != ref[k]]
        return ["r[%d] = %r, want exactly %d (integer sums)" % (k, got[k], ref[k])
                for k in bad[:3]]
    err = np.abs(got - want) / (abs(r0) * s)
    worst = int(np.argmax(err))
    if not err[worst] <= TOL:
        return ["r[%d] = %r, want %r: error %.3g relative to r[0], over %g"
                % (worst, got[worst], want[worst], err[worst], TOL)]
    return []


def as_text(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [as_text(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def check_result(path, case, x, spec, args):
    if not os.path.exists(path):
        return ["%s was not written" % path]
    n = np.asarray(x).size
    ref, mean = reference(x, case.lag, case.demean)
    problems = []
    with h5py.File(path, "r") as f:
        if case.group not in f:
            return ["no group /%s (has %s)" % (case.group, list(f))]
        g = f[case.group]
        if set(g) != {"lags", "r"}:
            problems.append("group holds %s, want lags and r" % sorted(g))
            return problems
        lags, r = g["lags"], g["r"]
        if lags.dtype != np.int64 or r.dtype != np.float64:
            problems.append("dtypes lags %s r %s, want int64 float64" % (lags.dtype, r.dtype))
        if not np.array_equal(lags[()], np.arange(case.lag + 1)):
            problems.append("lags are not 0..%d" % case.lag)
        got = r[()]
        attrs = {k: as_text(v) for k, v in g.attrs.items()}
    p = compare(got, ref, case, n)
    problems += p
    if not p:  # the comparison can fail: a result off by 1e-8 is caught
        bent = got.copy()
        k = len(bent) // 2
        r0 = float(ref[0])
        if r0:
            bent[k] += 1e-8 * abs(r0) * scales(case.scale, n, case.lag, r0)[k]
        else:
            bent[k] = 0.5
        if not compare(bent, ref, case, n):
            problems.append("selfcheck: a result off by 1e-8 at lag %d passed" % k)
    r0 = float(ref[0])
    want = {"n": n, "max_lag": case.lag, "scale": case.scale, "demean": int(case.demean),
            "method": case.used_method(), "app": "autocorr", "inputs": [spec],
            "nranks": args.np, "nthreads": args.threads, "layout_version": 1}
    for name, v in want.items():
        if attrs.get(name) != v:
            problems.append("attribute %s = %r, want %r" % (name, attrs.get(name), v))
    if case.demean and attrs.get("mean") != mean:
        problems.append("attribute mean = %r, want %r (fsum / n)" % (attrs.get("mean"), mean))
    if not case.demean and "mean" in attrs:
        problems.append("attribute mean written without --demean")
    a0 = attrs.get("r0")
    if not isinstance(a0, float) or abs(a0 - r0) > TOL * abs(r0):
        problems.append("attribute r0 = %r, want %r" % (a0, r0))
    if "pmr-autocorr" not in str(attrs.get("command_line", "")):
        problems.append("attribute command_line = %r" % attrs.get("command_line"))
    for name in ("pmr_version", "created", "records"):
        if name not in attrs:
            problems.append("no attribute %s" % name)
    return problems


# --- runs ---------------------------------------------------------------------------

def golden_runs(app, args, work):
    data = make_inputs(os.path.join(work, "sig.h5"))
    problems = []
    for case in cases_for(args.np, args.threads, data["f64"].size):
        if args.cases and not re.search(args.cases, case.name):
            continue
        before = set(os.listdir(work))
        argv = case.argv("sig.h5") + ["-o", "out.h5"]
        cmd = launcher(args.np) + [app, "-t", str(args.threads)] + argv
        rc, out, err, hung, secs = run(cmd, work, 120)
        p = []
        if hung:
            p.append("no exit within 120 s (hang)")
        elif rc != 0:
            p.append("exit status %s, want 0; stderr: %s"
                     % (rc, err.decode("utf-8", "replace")[-2000:]))
        else:
            if out or err.strip():
                p.append("stdout %r / stderr %r, want both empty" % (out[:200], err[-300:]))
            p += check_result(os.path.join(work, "out.h5"), case, data[case.dset],
                              "sig.h5:/" + case.dset, args)
            left = set(os.listdir(work)) - before - {"out.h5"}
            if left:
                p.append("left behind: %s" % sorted(left))
        print("%s %-22s np=%d t=%d %.1fs  %s" % ("ok  " if not p else "FAIL", case.name,
                                                 args.np, args.threads, secs,
                                                 shlex.join(argv)))
        problems += ["%s: %s" % (case.name, x) for x in p]
        if os.path.exists(os.path.join(work, "out.h5")):
            os.unlink(os.path.join(work, "out.h5"))
    return problems


BAD = [
    # name, argv, exit status, all of these in the message
    ("missing-file", ["nosuch.h5:/x", "--max-lag", "3", "-o", "out.h5"], 1,
     ["'nosuch.h5'", "No such file"]),
    ("not-hdf5", ["text.h5:/x", "--max-lag", "3", "-o", "out.h5"], 1,
     ["'text.h5'", "not an HDF5 file"]),
    ("no-dataset", ["sig.h5:/nope", "--max-lag", "3", "-o", "out.h5"], 1,
     ["'sig.h5'", "/nope"]),
    ("group", ["sig.h5:/grp", "--max-lag", "3", "-o", "out.h5"], 1, ["'sig.h5:/grp'", "group"]),
    ("string", ["sig.h5:/str", "--max-lag", "1", "-o", "out.h5"], 1, ["'sig.h5:/str'", "string"]),
    ("2-D", ["sig.h5:/two", "--max-lag", "3", "-o", "out.h5"], 1,
     ["'sig.h5:/two'", "2-D", "1-D"]),
    ("3-D", ["sig.h5:/d3", "--max-lag", "1", "-o", "out.h5"], 1, ["'sig.h5:/d3'", "3-D"]),
    ("empty", ["sig.h5:/empty", "--max-lag", "0", "-o", "out.h5"], 1, ["'sig.h5:/empty'", "empty"]),
    ("lag-too-large", ["sig.h5:/ten", "--max-lag", "10", "-o", "out.h5"], 1,
     ["'sig.h5:/ten'", "10 samples", "at most 9"]),
    ("not-a-spec", ["sig.h5", "--max-lag", "3", "-o", "out.h5"], 1, ["'sig.h5'", "spec"]),
    ("memory", ["sig.h5:/ar1", "--max-lag", "5000", "-m", "1M", "-o", "out.h5"], 1,
     ["--max-lag 5000", "memory budget", "-m"]),
    ("out-dir-missing", ["sig.h5:/ten", "--max-lag", "3", "-o", "nodir/out.h5"], 1, ["nodir"]),
    ("existing-kept", ["sig.h5:/ten", "--max-lag", "10", "-o", "old.h5"], 1, ["'sig.h5:/ten'"]),
    ("no-max-lag", ["sig.h5:/ten", "-o", "out.h5"], 2, ["--max-lag"]),
    ("negative-lag", ["sig.h5:/ten", "--max-lag", "-1", "-o", "out.h5"], 2, ["'-1'", "--max-lag"]),
    ("bad-lag", ["sig.h5:/ten", "--max-lag", "3x", "-o", "out.h5"], 2, ["'3x'"]),
    ("bad-scale", ["sig.h5:/ten", "--max-lag", "3", "--scale", "normed", "-o", "out.h5"], 2,
     ["'normed'"]),
    ("bad-method", ["sig.h5:/ten", "--max-lag", "3", "--method", "fftw", "-o", "out.h5"], 2,
     ["'fftw'"]),
    ("two-inputs", ["sig.h5:/ten", "sig.h5:/ar1", "--max-lag", "3", "-o", "out.h5"], 2,
     ["one input"]),
    ("no-output", ["sig.h5:/ten", "--max-lag", "3"], 2, ["-o"]),
    ("no-input", ["--max-lag", "3", "-o", "out.h5"], 2, ["no input"]),
    ("empty-group", ["sig.h5:/ten", "--max-lag", "3", "--group", "", "-o", "out.h5"], 2,
     ["--group"]),
    ("unknown-option", ["sig.h5:/ten", "--max-lags", "3", "-o", "out.h5"], 2, ["--max-lags"]),
]


def snapshot(root):
    seen = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            seen[os.path.relpath(p, root)] = os.path.getsize(p) if os.path.isfile(p) else 0
    return seen


def bad_one(app, args, root, name, argv, want_rc, mention):
    """One case; returns (its report line, its problems)."""
    work = os.path.join(root, name)
    os.makedirs(work)
    make_inputs(os.path.join(work, "sig.h5"))
    with open(os.path.join(work, "text.h5"), "w") as f:
        f.write("not HDF5\n")
    with open(os.path.join(work, "old.h5"), "w") as f:
        f.write("an earlier result\n")
    before = snapshot(work)
    cmd = launcher(args.np, bind_none=False) + [app] + argv
    rc, out, err, hung, secs = run(cmd, work, 60)
    lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    p = []
    if hung:
        p.append("no exit within 60 s (hang)")
    elif rc != want_rc:
        p.append("exit status %s, want %d" % (rc, want_rc))
    if len(lines) != 1:
        p.append("stderr has %d lines, want 1: %r" % (len(lines), lines[:6]))
    elif not lines[0].startswith("pmr-autocorr: "):
        p.append("message %r does not start with 'pmr-autocorr: '" % lines[0])
    else:
        missing = [m for m in mention if m not in lines[0]]
        if missing:
            p.append("message %r does not name %r" % (lines[0], missing))
    if out:
        p.append("stdout %r, want nothing" % out[:200])
    after = snapshot(work)
    if after != before:
        p.append("files changed: %s" % sorted(set(after.items()) ^ set(before.items())))
    line = "%s %-16s np=%d exit=%s %.1fs  %s" % ("ok  " if not p else "FAIL", name, args.np,
                                                rc, secs, lines[0] if len(lines) == 1 else "")
    return line, ["%s: %s" % (name, x) for x in p]


def bad_runs(app, args, root):
    """The cases four at a time: a failed MPI run spends most of its seconds
    waiting for the launcher to tear down, not computing."""
    todo = [c for c in BAD if not args.only or re.search(args.only, c[0])]
    problems = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for line, p in pool.map(lambda c: bad_one(app, args, root, *c), todo):
            print(line)
            problems += p
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True, help="the pmr-autocorr binary")
    ap.add_argument("--np", type=int, default=1, help="MPI ranks")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    ap.add_argument("--cases", help="only the golden cases whose name matches this regex")
    ap.add_argument("--bad", action="store_true", help="run the bad-input cases")
    ap.add_argument("--only", help="with --bad: the cases whose name matches this regex")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    app = os.path.abspath(args.app)
    work = tempfile.mkdtemp(prefix="pmr-autocorr-")
    try:
        problems = bad_runs(app, args, work) if args.bad else golden_runs(app, args, work)
        for p in problems:
            print("FAIL:", p)
        if not problems:
            print("ok: %s" % ("every bad input and command line behaves" if args.bad else
                              "lag sums, scales, lags and attributes match numpy"))
        return 1 if problems else 0
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
