#!/usr/bin/env python3
"""Golden, statistics and bad-input test for pmr-gen.

    check_gen.py --app PATH --np N [--threads T] [--cases A,B,...] [--keep]
    check_gen.py --app PATH --np N --selfcheck
    check_gen.py --app PATH --np N --bad [--only REGEX]
    check_gen.py --app PATH --np N --large

Golden mode runs

    $PMR_MPIEXEC N $PMR_MPIEXEC_PREFLAGS APP KIND ... -t T -o OUT

for each case in a fresh temporary directory and checks that
* the output equals, bit for bit, what gen_reference.py (an independent
  Python implementation of the same generators, whose Philox4x32-10 is
  checked against Random123's known answers) computes: every byte of the
  text, every element of every dataset, with its dtype and shape. The same
  golden at every rank and thread count means the outputs are identical
  across them;
* its statistics agree with the distribution asked for, computed with
  numpy: means, standard deviations and histograms within a few standard
  errors, the Zipf law's slope and top frequencies, words per line, blobs
  around their centres, the AR(1) lag-1 autocorrelation near phi and the
  blocked AR(1) equal to the plain recurrence to 1e-12, the sines' spectral
  peaks;
* the attributes describe the generator (kind, seed, parameters) and the
  run (app, command_line, nranks, nthreads), stderr is empty, and nothing
  but the output is left in the directory.
Without --cases, every rank/thread configuration runs text, points and the
AR(1) signal, plus two of the other cases chosen by the configuration, so
that the 8 configurations cover every case at least twice.

--selfcheck corrupts each golden (one element or byte) and each statistic
(a shifted or scaled copy of the data) and expects every check to fail.

--bad runs bad command lines and unwritable outputs: each must exit with
its status (2 usage, 1 other), print exactly one line "pmr-gen: ..."
naming the option or file, leave nothing behind, and not hang.

--samples DATADIR runs DATADIR/gen-samples.sh and compares what it makes
with the committed DATADIR/sample/gen (the generators' definitions have not
moved).

--large (opt-in, CTest label `large`): 2^31 + 100 int32 elements (8 GiB
file, 8 GiB of memory over the ranks), checked at the indices around 2^31
and on a sample; then 2200 MiB of text, checked for its size and for whole
lines of known words around byte 2^31.

Exit status 0 when everything matches, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import concurrent.futures
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_reference as ref  # noqa: E402
from check_badinput import nobody_prefix, snapshot  # noqa: E402
from launch import launcher, run  # noqa: E402

APP_NAME = "pmr-gen"
BIG = 4611686018427387904  # 2^62: a range of 2^63 + 1 rejects about half the draws


# --- statistics helpers -------------------------------------------------------------

def near(what, got, want, tol):
    return [] if abs(got - want) <= tol else \
        ["%s = %.6g, want %.6g +- %.3g" % (what, got, want, tol)]


def hist_check(what, counts, probs, n, k=5.0):
    """Each bin within k binomial standard deviations of n * p."""
    bad = []
    for i, (c, p) in enumerate(zip(counts, probs)):
        sd = math.sqrt(max(n * p * (1 - p), 1.0))
        if abs(c - n * p) > k * sd:
            bad.append((i, int(c), round(n * p, 1)))
    return ["%s histogram: bins off by more than %g sd (bin, got, want): %r" % (what, k, bad[:5])] \
        if bad else []


def normal_cdf(x):
    return 0.5 * (1 + np.vectorize(math.erf)(np.asarray(x) / math.sqrt(2)))


def normal_stats(what, x, mean, std):
    n = len(x)
    p = []
    p += near(what + " mean", float(np.mean(x)), mean, 5 * std / math.sqrt(n))
    p += near(what + " std", float(np.std(x)), std, 5 * std / math.sqrt(2 * n))
    edges = np.linspace(-3, 3, 13)
    counts, _ = np.histogram((x - mean) / std, bins=edges)
    cdf = normal_cdf(edges)
    p += hist_check(what, counts, np.diff(cdf), n)
    return p


# --- cases --------------------------------------------------------------------------
# Each: argv after the app (without -o and -t), the output's name, a golden
# function, a statistics function on what was read, the attributes wanted.

def golden_text():
    return ref.text(7, 300 * 1024, vocab=5000, exponent=1.1)


def stats_text(data):
    p = []
    size = 300 * 1024
    if len(data) != size or not data.endswith(b"\n"):
        p.append("text is %d bytes ending in %r, want %d ending in newline" % (len(data), data[-1:], size))
    lines = data.split(b"\n")[:-1]
    full = lines[:-1]  # the last line is cut short
    nw = np.array([len(line.split(b" ")) for line in full])
    if nw.min() < 10 or nw.max() > 15 or any(b"  " in line or line.startswith(b" ") for line in full):
        p.append("lines of %d..%d words or double spaces; want 10..15 words, single spaces"
                 % (nw.min(), nw.max()))
    p += hist_check("words per line", np.bincount(nw, minlength=16)[10:16], [1 / 6] * 6, len(nw))
    voc = ref.vocabulary(5000)
    rank = {w: r for r, w in enumerate(voc)}
    words = data.split()
    unknown = [w for w in set(words[:-1]) if w not in rank]
    if unknown:
        p.append("words outside the vocabulary: %r" % unknown[:5])
    ranks = np.array([rank.get(w, 4999) for w in words[:-1]])
    counts = np.bincount(ranks, minlength=5000)
    n = len(ranks)
    probs = ref.zipf_probabilities(5000, 1.1)
    p += hist_check("Zipf top-20 frequency", counts[:20], probs[:20], n)
    # The law's slope: log frequency against log rank over ranks 1..200.
    r = np.arange(1, 201)
    slope = np.polyfit(np.log(r), np.log(np.maximum(counts[:200], 1)), 1)[0]
    p += near("Zipf slope (ranks 1..200)", slope, -1.1, 0.1)
    return p


def golden_points():
    pts, c, lab = ref.points(3, 20000, 3, 4, 0.5, 5.0)
    return {"points": pts, "centres": c, "labels": lab}


def stats_points(d):
    pts, c, lab = d["points"], d["centres"], d["labels"]
    p = []
    if lab.min() < 0 or lab.max() > 3 or np.abs(c).max() > 5.0:
        p.append("labels outside 0..3 or centres outside [-5, 5]")
    p += hist_check("labels", [int((lab == k).sum()) for k in range(4)], [0.25] * 4, len(lab))
    for k in range(4):
        mine = pts[lab == k]
        m = len(mine)
        for j in range(3):
            p += near("blob %d mean[%d]" % (k, j), float(mine[:, j].mean()), float(c[k, j]),
                      5 * 0.5 / math.sqrt(m))
        p += near("blob %d spread" % k, float(mine.std(axis=0).mean()), 0.5, 0.05 * 0.5)
    return p


PHI, SIGMA, AR_N = 0.7, 2.0, 200000


def golden_ar1():
    return {"signal": ref.ar1(5, AR_N, PHI, SIGMA)}


def stats_ar1(d):
    x = d["signal"]
    p = []
    seq = ref.ar1_sequential(5, AR_N, PHI, SIGMA)
    err = float(np.abs(x - seq).max())
    if not err <= 1e-12 * float(np.abs(seq).max()):
        p.append("blocked AR(1) differs from the plain recurrence by %.3g" % err)
    xc = x - x.mean()
    r1 = float(np.dot(xc[:-1], xc[1:]) / np.dot(xc, xc))
    p += near("lag-1 autocorrelation", r1, PHI, 0.01)
    var = SIGMA ** 2 / (1 - PHI ** 2)
    p += near("variance", float(x.var()), var, 0.05 * var)
    return p


SINES = dict(freqs=[0.01, 0.05], amps=[2.0, 0.5], phases=[0.0, 1.0], sigma=0.1)


def golden_sines():
    return {"signal": ref.sines(9, 50000, **SINES)}


def stats_sines(d):
    x = d["signal"]
    spec = np.abs(np.fft.rfft(x))
    top = sorted(np.argsort(spec)[-2:].tolist())
    want = [round(f * len(x)) for f in SINES["freqs"]]
    p = [] if top == want else ["spectral peaks at bins %r, want %r" % (top, want)]
    # The amplitude of each sine from its bin: |X| = a n / 2.
    for b, a in zip(want, SINES["amps"]):
        p += near("amplitude at bin %d" % b, float(2 * spec[b] / len(x)), a, 0.02 * a + 0.01)
    return p


def golden_normal():
    return {"numbers": ref.numbers(11, 60001, "normal", mean=3.0, std=2.0)}


def stats_normal(d):
    return normal_stats("normal", d["numbers"], 3.0, 2.0)


def golden_uniform():
    return {"numbers": ref.numbers(12, 60001, "uniform", low=-2.0, high=6.0)}


def stats_uniform(d):
    x = d["numbers"]
    n = len(x)
    p = []
    if x.min() < -2.0 or x.max() >= 6.0:
        p.append("values outside [-2, 6): %g .. %g" % (x.min(), x.max()))
    sd = 8 / math.sqrt(12)
    p += near("uniform mean", float(x.mean()), 2.0, 5 * sd / math.sqrt(n))
    p += near("uniform std", float(x.std()), sd, 5 * sd / math.sqrt(n))
    counts, _ = np.histogram(x, bins=20, range=(-2.0, 6.0))
    p += hist_check("uniform", counts, [0.05] * 20, n)
    return p


def golden_lognormal():
    return {"numbers": ref.numbers(13, 40000, "lognormal", mean=0.5, std=0.25, dtype=np.float32)}


def stats_lognormal(d):
    x = d["numbers"]
    p = [] if x.dtype == np.float32 and x.min() > 0 else ["lognormal: dtype %s, min %g" % (x.dtype, x.min())]
    return p + normal_stats("log of lognormal", np.log(x.astype(np.float64)), 0.5, 0.25)


def golden_integers():
    return {"numbers": ref.numbers(14, 50001, "integers", ilow=-3, ihigh=7)}


def stats_integers(d):
    x = d["numbers"]
    p = []
    if x.min() < -3 or x.max() > 7:
        p.append("integers outside [-3, 7]: %d .. %d" % (x.min(), x.max()))
    p += hist_check("integers", [int((x == v).sum()) for v in range(-3, 8)], [1 / 11] * 11, len(x))
    return p


def golden_bigint():
    return {"numbers": ref.numbers(15, 5001, "integers", ilow=-BIG, ihigh=BIG)}


def stats_bigint(d):
    x = d["numbers"]
    p = []
    if x.min() < -BIG or x.max() > BIG:
        p.append("integers outside [-2^62, 2^62]")
    f = x.astype(np.float64) / BIG  # uniform on [-1, 1]
    p += near("bigint mean / 2^62", float(f.mean()), 0.0, 5 / math.sqrt(3 * len(f)))
    counts, _ = np.histogram(f, bins=10, range=(-1, 1))
    return p + hist_check("bigint", counts, [0.1] * 10, len(f))


CASES = {
    "text": (["text", "-s", "300K", "-V", "5000", "-e", "1.1", "-S", "7"], "corpus.txt",
             golden_text, stats_text, None),
    "points": (["points", "-n", "20000", "-d", "3", "-k", "4", "--spread", "0.5", "--box", "5",
                "--seed", "3"], "blobs.h5", golden_points, stats_points,
               {"kind": "points", "seed": 3, "count": 20000, "dim": 3, "centres": 4,
                "spread": 0.5, "box": 5.0}),
    "ar1": (["signal", "-n", str(AR_N), "--phi", str(PHI), "--sigma", str(SIGMA), "-S", "5"],
            "ar1.h5", golden_ar1, stats_ar1,
            {"kind": "signal", "model": "ar1", "seed": 5, "count": AR_N, "phi": PHI,
             "sigma": SIGMA, "block": 65536}),
    "sines": (["signal", "-n", "50000", "--model", "sines", "--freqs", "0.01,0.05", "--amps",
               "2,0.5", "--phases", "0,1", "--sigma", "0.1", "-S", "9"], "sines.h5",
              golden_sines, stats_sines,
              {"kind": "signal", "model": "sines", "seed": 9, "freqs": "0.01,0.05",
               "amps": "2,0.5", "phases": "0,1", "sigma": 0.1}),
    "normal": (["numbers", "-n", "60001", "--dist", "normal", "--mean", "3", "--std", "2",
                "-S", "11"], "normal.h5", golden_normal, stats_normal,
               {"kind": "numbers", "dist": "normal", "seed": 11, "count": 60001, "mean": 3.0,
                "std": 2.0}),
    "uniform": (["numbers", "-n", "60001", "--low", "-2", "--high", "6", "-S", "12"],
                "uniform.h5", golden_uniform, stats_uniform,
                {"kind": "numbers", "dist": "uniform", "low": -2.0, "high": 6.0}),
    "lognormal": (["numbers", "-n", "40000", "--dist", "lognormal", "--mean", "0.5", "--std",
                   "0.25", "--type", "float32", "-S", "13"], "lognormal.h5", golden_lognormal,
                  stats_lognormal, {"kind": "numbers", "dist": "lognormal", "mean": 0.5}),
    "integers": (["numbers", "-n", "50001", "--dist", "integers", "--low", "-3", "--high", "7",
                  "-S", "14"], "integers.h5", golden_integers, stats_integers,
                 {"kind": "numbers", "dist": "integers", "low": -3, "high": 7}),
    "bigint": (["numbers", "-n", "5001", "--dist", "integers", "--low", str(-BIG), "--high",
                str(BIG), "-S", "15"], "bigint.h5", golden_bigint, stats_bigint,
               {"dist": "integers", "low": -BIG, "high": BIG}),
}
CORE = ["text", "points", "ar1"]
EXTRA = ["normal", "uniform", "lognormal", "integers", "bigint", "sines"]


def default_cases(np_, threads):
    c = (np_ - 1) * 2 + (threads - 1)
    return CORE + [EXTRA[c % len(EXTRA)], EXTRA[(c + 3) % len(EXTRA)]]


# --- reading and comparing ------------------------------------------------------------

def as_py(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_h5(path):
    data, attrs = {}, {}
    with h5py.File(path, "r") as f:
        for name in f:
            data[name] = f[name][()]
            if f[name].attrs:
                attrs = {k: as_py(v) for k, v in f[name].attrs.items()}
    return data, attrs


def compare(golden, got):
    """Bit-for-bit: same datasets, dtypes, shapes and bytes."""
    if isinstance(golden, bytes):
        if golden == got:
            return []
        i = next((k for k, (a, b) in enumerate(zip(golden, got)) if a != b), min(len(golden), len(got)))
        return ["text differs from the golden at byte %d (of %d, got %d): got %r, want %r"
                % (i, len(golden), len(got), got[i:i + 20], golden[i:i + 20])]
    p = []
    if sorted(golden) != sorted(got):
        return ["datasets %s, want %s" % (sorted(got), sorted(golden))]
    for name, want in golden.items():
        have = got[name]
        if have.dtype != want.dtype or have.shape != want.shape:
            p.append("/%s is %s %s, want %s %s" % (name, have.dtype, have.shape, want.dtype, want.shape))
        elif have.tobytes() != want.tobytes():
            a, b = have.reshape(-1), want.reshape(-1)
            u = np.dtype("u%d" % a.itemsize)
            diff = np.flatnonzero(a.view(u) != b.view(u))
            i = int(diff[0])
            p.append("/%s differs from the golden in %d elements, first at flat index %d: got %r, "
                     "want %r" % (name, len(diff), i, a[i], b[i]))
    return p


def check_attrs(attrs, want, args, case_argv):
    p = []
    base = {"app": "gen", "generator": "philox4x32-10", "nranks": args.np, "nthreads": args.threads}
    for k, v in list(base.items()) + list((want or {}).items()):
        got = attrs.get(k)
        if got != v:
            p.append("attribute %s = %r, want %r" % (k, got, v))
    cl = str(attrs.get("command_line", ""))
    if "pmr-gen" not in cl or case_argv[0] not in cl:
        p.append("attribute command_line = %r" % cl)
    for k in ("pmr_version", "created", "generate_seconds"):
        if k not in attrs:
            p.append("no attribute %s" % k)
    return p


# --- runs ---------------------------------------------------------------------------

def run_gen(args, work, argv, log, timeout=150):
    cmd = launcher(args.np) + [args.app] + argv + ["-t", str(args.threads)]
    log.append("run: " + shlex.join(cmd))
    rc, out, err, hung, secs = run(cmd, work, timeout)
    log.append("exit %s after %.1f s" % (rc, secs))
    if hung:
        return ["no exit within %.0f s (hang)" % timeout]
    if rc != 0:
        return ["exit status %s, want 0; stderr: %s" % (rc, err.decode("utf-8", "replace")[-2000:])]
    if err.strip():
        return ["stderr is not empty: %r" % err[-500:]]
    return []


def corrupt(golden):
    if isinstance(golden, bytes):
        i = len(golden) // 2
        return golden[:i] + bytes([golden[i] ^ 1]) + golden[i + 1:]
    out = {k: v.copy() for k, v in golden.items()}
    name = sorted(out)[-1]
    flat = out[name].reshape(-1)
    i = len(flat) // 2
    if flat.dtype.kind == "f":
        flat[i] = np.nextafter(flat[i], flat.dtype.type(np.inf))  # one unit in the last place
    else:
        flat[i] += 1
    return out


def skew(got):
    """A copy whose statistics are off: shifted and stretched (text: every
    line with one more word, and the rarest words promoted)."""
    if isinstance(got, bytes):
        lines = got.split(b"\n")
        return b"\n".join(line + b" " + line.split(b" ")[0] if line else line for line in lines)
    out = {}
    for k, v in got.items():
        if k == "labels":
            out[k] = (v + 1) % 4 if v.size else v
        elif v.dtype.kind == "f":
            out[k] = (v * 1.3 + 0.5).astype(v.dtype) if k != "centres" else v
        else:
            out[k] = v * 2 + 1
    return out


def golden_case(args, name):
    """Runs one case; returns its log lines and problems."""
    argv, out, gfn, sfn, want_attrs = CASES[name]
    work = tempfile.mkdtemp(prefix="pmr-gen-%s-" % name)
    log, problems = [], []
    try:
        extra = []
        # A 1 MiB budget makes the text go in several rounds of blocks.
        if name == "text" and args.np % 2 == 1:
            extra = ["-m", "1M"]
        problems += run_gen(args, work, argv + extra + ["-o", out], log)
        if not problems:
            left = sorted(set(os.listdir(work)) - {out})
            if left:
                problems.append("left behind: %s" % left)
            golden = gfn()
            if out.endswith(".txt"):
                with open(os.path.join(work, out), "rb") as f:
                    got, attrs = f.read(), None
            else:
                got, attrs = read_h5(os.path.join(work, out))
            if args.selfcheck:
                if not compare(corrupt(golden), got):
                    problems.append("selfcheck: a golden with one element changed compared equal")
                caught = sfn(skew(got))
                if not caught:
                    problems.append("selfcheck: skewed data passed the statistics checks")
                log.append("selfcheck %s: caught %s" % (name, "; ".join(caught)[:300]))
            else:
                problems += compare(golden, got)
                problems += sfn(got)
                if attrs is not None:
                    problems += check_attrs(attrs, want_attrs, args, argv)
    except Exception as e:  # a crash of the checker is a failure, with its reason
        problems.append("checker error: %r" % e)
    finally:
        if args.keep:
            log.append("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return log, problems


def golden_runs(args):
    cases = args.cases.split(",") if args.cases else default_cases(args.np, args.threads)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print("unknown case(s) %s; known: %s" % (unknown, ", ".join(CASES)))
        return 1
    ref.check_kat()
    # Two cases at a time: most of a case's time is the launcher's start.
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda c: golden_case(args, c), cases))
    failures = 0
    for name, (log, problems) in zip(cases, results):
        print("\n".join(log))
        print("%s %s" % ("ok  " if not problems else "FAIL", name))
        for p in problems:
            print("     -", p)
        failures += bool(problems)
    print("%d case(s) failed" % failures if failures else
          "every corruption was caught" if args.selfcheck else "all cases match")
    return 1 if failures else 0


# --- bad input -------------------------------------------------------------------------
# name, argv, exit status, words of which the message must name one, needs.

BAD = [
    ("no-kind", ["-o", "out/x.h5"], 2, ["KIND"], ()),
    ("unknown-kind", ["cubes", "-o", "out/x.h5"], 2, ["cubes"], ()),
    ("two-kinds", ["text", "points", "-o", "out/x.h5"], 2, ["KIND"], ()),
    ("no-output", ["numbers", "-n", "10"], 2, ["-o"], ()),
    ("size-bad", ["text", "-s", "12Q", "-o", "out/x.txt"], 2, ["12Q"], ()),
    ("size-zero", ["text", "-s", "0", "-o", "out/x.txt"], 2, ["--size"], ()),
    ("count-negative", ["numbers", "-n", "-5", "-o", "out/x.h5"], 2, ["-5"], ()),
    ("count-zero", ["numbers", "-n", "0", "-o", "out/x.h5"], 2, ["--count"], ()),
    ("count-abc", ["numbers", "--count", "abc", "-o", "out/x.h5"], 2, ["abc"], ()),
    ("count-missing", ["points", "-o", "out/x.h5"], 2, ["--count"], ()),
    ("count-and-size", ["numbers", "-n", "5", "-s", "1K", "-o", "out/x.h5"], 2, ["--size"], ()),
    ("count-too-large", ["points", "-n", "1T", "-d", "1M", "-o", "out/x.h5"], 2, ["large"], ()),
    ("other-kinds-option", ["text", "--phi", "0.5", "-o", "out/x.txt"], 2, ["--phi"], ()),
    ("phi-one", ["signal", "-n", "100", "--phi", "1", "-o", "out/x.h5"], 2, ["--phi"], ()),
    ("phi-nan", ["signal", "-n", "100", "--phi", "nan", "-o", "out/x.h5"], 2, ["nan"], ()),
    ("sines-no-freqs", ["signal", "-n", "100", "--model", "sines", "-o", "out/x.h5"], 2,
     ["--freqs"], ()),
    ("sines-amps-count", ["signal", "-n", "100", "--model", "sines", "--freqs", "0.1,0.2",
                          "--amps", "1", "-o", "out/x.h5"], 2, ["--amps"], ()),
    ("freqs-bad", ["signal", "-n", "100", "--model", "sines", "--freqs", "0.1,,2",
                   "-o", "out/x.h5"], 2, ["--freqs"], ()),
    ("low-above-high", ["numbers", "-n", "10", "--dist", "integers", "--low", "5", "--high", "4",
                        "-o", "out/x.h5"], 2, ["--low"], ()),
    ("uniform-empty", ["numbers", "-n", "10", "--low", "1", "--high", "1", "-o", "out/x.h5"], 2,
     ["--low"], ()),
    ("type-mismatch", ["numbers", "-n", "10", "--dist", "normal", "--type", "int32",
                       "-o", "out/x.h5"], 2, ["--type"], ()),
    ("int32-range", ["numbers", "-n", "10", "--dist", "integers", "--type", "int32", "--high",
                     "3000000000", "-o", "out/x.h5"], 2, ["int32"], ()),
    ("dist-unknown", ["numbers", "-n", "10", "--dist", "cauchy", "-o", "out/x.h5"], 2,
     ["cauchy"], ()),
    ("std-negative", ["numbers", "-n", "10", "--dist", "normal", "--std", "-1", "-o", "out/x.h5"],
     2, ["--std"], ()),
    ("seed-negative", ["numbers", "-n", "10", "-S", "-1", "-o", "out/x.h5"], 2, ["--seed"], ()),
    ("vocab-zero", ["text", "-V", "0", "-o", "out/x.txt"], 2, ["--vocab"], ()),
    ("exponent-negative", ["text", "-e", "-1", "-o", "out/x.txt"], 2, ["--exponent"], ()),
    ("spread-inf", ["points", "-n", "10", "--spread", "inf", "-o", "out/x.h5"], 2, ["inf"], ()),
    ("unknown-option", ["numbers", "-n", "10", "--bogus", "-o", "out/x.h5"], 2, ["bogus"], ()),
    ("missing-dir", ["numbers", "-n", "10", "-o", "out/nodir/x.h5"], 1, ["nodir"], ()),
    ("text-missing-dir", ["text", "-s", "1K", "-o", "out/nodir/x.txt"], 1, ["nodir"], ()),
    ("output-is-directory", ["points", "-n", "10", "-o", "out/adir"], 1, ["adir"], ("isdir",)),
    ("text-output-is-directory", ["text", "-s", "1K", "-o", "out/adir"], 1, ["adir"], ("isdir",)),
    ("unwritable-dir", ["signal", "-n", "10", "-o", "readonly/x.h5"], 1, ["readonly"],
     ("nobody", "readonly")),
    ("text-unwritable-dir", ["text", "-s", "1K", "-o", "readonly/x.txt"], 1, ["readonly"],
     ("nobody", "readonly")),
    ("out-of-memory", ["numbers", "-n", "1T", "-o", "out/x.h5"], 1, ["memory"], ()),
]


def bad_case(args, case, prefix, env):
    """Runs one bad case; returns its report lines and problems."""
    name, argv, want_rc, mention, needs = case
    problems = []
    d = tempfile.mkdtemp(prefix="pmr-gen-bad-%s-" % name, dir="/tmp")
    try:
        os.chmod(d, 0o755)
        os.makedirs(os.path.join(d, "out"))
        if "isdir" in needs:
            os.makedirs(os.path.join(d, "out", "adir"))
        if "readonly" in needs:
            os.makedirs(os.path.join(d, "readonly"))
            os.chmod(os.path.join(d, "readonly"), 0o555)
        before = snapshot(d)
        cmd = (prefix if "nobody" in needs else []) + launcher(args.np, bind_none=False) + \
            [args.app] + argv
        rc, out, err, hung, secs = run(cmd, d, args.timeout, env)
        after = snapshot(d)
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        if hung:
            problems.append("no exit within %.0f s (hang)" % args.timeout)
        elif rc != want_rc:
            problems.append("exit status %s, want %d" % (rc, want_rc))
        if len(lines) != 1:
            problems.append("stderr has %d lines, want exactly 1: %r" % (len(lines), lines[:6]))
        elif not lines[0].startswith(APP_NAME + ": "):
            problems.append("message %r does not start with '%s: '" % (lines[0], APP_NAME))
        elif not any(m.lower() in lines[0].lower() for m in mention):
            problems.append("message %r names none of %s" % (lines[0], mention))
        if before != after:
            problems.append("the directory changed: %s"
                            % sorted(set(after.items()) ^ set(before.items())))
        report = ["%s %-26s np=%d exit=%s %.1fs  %s" % ("ok  " if not problems else "FAIL", name,
                                                      args.np, rc, secs, lines[0] if lines else "")]
        report += ["     - " + p for p in problems]
        if problems:
            report.append("     command: " + shlex.join(cmd))
        return report, problems
    finally:
        for dirpath, dirs, _ in os.walk(d):
            for x in dirs:
                os.chmod(os.path.join(dirpath, x), 0o755)
        shutil.rmtree(d, ignore_errors=True)


def bad_runs(args):
    env = dict(os.environ, OMPI_MCA_orte_execute_quiet="1")
    prefix, why = nobody_prefix()
    if prefix:
        if subprocess.run(prefix + ["test", "-x", args.app], env=env).returncode != 0:
            prefix, why = None, "%s is not reachable by user nobody" % args.app
    cases = []
    for case in BAD:
        if args.only and not re.search(args.only, case[0]):
            continue
        if "nobody" in case[4] and prefix is None:
            print("skip %-26s (%s)" % (case[0], why))
            continue
        cases.append(case)
    # Several at a time: each is mostly the launcher starting and stopping.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * args.jobs) as pool:
        results = list(pool.map(lambda c: bad_case(args, c, prefix, env), cases))
    failures = 0
    for report, problems in results:
        print("\n".join(report))
        failures += bool(problems)
    print("%d case(s) failed" % failures if failures else "all cases behaved")
    return 1 if failures else 0


# --- samples ------------------------------------------------------------------------------

def samples_run(args):
    """data/gen-samples.sh into a temporary directory at --np ranks: the same
    data as the committed files (datasets bit for bit, text byte for byte;
    attributes such as the creation time may differ)."""
    committed = os.path.join(args.samples, "sample", "gen")
    work = tempfile.mkdtemp(prefix="pmr-gen-samples-")
    problems = []
    try:
        env = dict(os.environ, PMR_GEN=shlex.join(launcher(args.np) + [args.app]))
        rc, out, err, hung, secs = run(["sh", os.path.join(args.samples, "gen-samples.sh"), work],
                                       work, 120, env)
        print("gen-samples.sh: exit %s after %.1f s" % (rc, secs))
        if hung or rc != 0:
            problems.append("gen-samples.sh failed (exit %s): %s" % (rc, err.decode()[-1000:]))
        names = sorted(os.listdir(committed))
        made = sorted(os.listdir(work))
        if not problems and names != made:
            problems.append("the script made %s, data/sample/gen holds %s" % (made, names))
        for name in names if not problems else []:
            a, b = os.path.join(committed, name), os.path.join(work, name)
            if name.endswith(".h5"):
                problems += ["%s: %s" % (name, x) for x in compare(read_h5(a)[0], read_h5(b)[0])]
            else:
                with open(a, "rb") as f, open(b, "rb") as g:
                    problems += ["%s: %s" % (name, x) for x in compare(f.read(), g.read())]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%s samples in %s" % ("ok  " if not problems else "FAIL", committed))
    for p in problems:
        print("     -", p)
    return 1 if problems else 0


# --- large ------------------------------------------------------------------------------

def large_run(args):
    n = 2 ** 31 + 100
    work = tempfile.mkdtemp(prefix="pmr-gen-large-")
    try:
        argv = ["numbers", "-n", str(n), "--dist", "integers", "--low", "0", "--high", "999",
                "--type", "int32", "-S", "21", "-o", "big.h5"]
        log = []
        problems = run_gen(args, work, argv, log, timeout=1500)
        print("\n".join(log))
        if not problems:
            with h5py.File(os.path.join(work, "big.h5"), "r") as f:
                d = f["numbers"]
                if d.shape != (n,) or d.dtype != np.int32:
                    problems.append("/numbers is %s %s, want int32 (%d,)" % (d.dtype, d.shape, n))
                else:
                    idx = sorted({0, 1, 2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, n - 1} |
                                 set(range(2 ** 31 - 50, 2 ** 31 + 50)) |
                                 set(np.random.default_rng(1).integers(0, n, 200).tolist()))
                    got = d[idx]
                    want = [ref.integers(21, ref.STREAM_NUMBERS, i, 1, 0, 999)[0] for i in idx]
                    bad = [(i, int(g), w) for i, g, w in zip(idx, got, want) if g != w]
                    if bad:
                        problems.append("values differ from the golden (index, got, want): %r" % bad[:5])
                    tail = d[n - 1000000:]
                    problems += hist_check("last million", np.bincount(tail // 100, minlength=10),
                                           [0.1] * 10, len(tail))
        # Text past 2^31 bytes: the exact size, and whole lines of known words
        # around byte 2^31.
        size = 2200 * 2 ** 20
        log = []
        if not problems:
            os.unlink(os.path.join(work, "big.h5"))
            problems += run_gen(args, work, ["text", "-s", str(size), "-o", "big.txt"], log, timeout=1500)
            print("\n".join(log))
        if not problems:
            path = os.path.join(work, "big.txt")
            with open(path, "rb") as f:
                f.seek(2 ** 31 - 100000)
                window = f.read(200000)
                f.seek(size - 1)
                last = f.read(1)
            if os.path.getsize(path) != size or last != b"\n":
                problems.append("big.txt is %d bytes ending in %r, want %d ending in a newline"
                                % (os.path.getsize(path), last, size))
            voc = set(ref.vocabulary(200000))
            lines = window.split(b"\n")[1:-1]
            bad = [ln[:60] for ln in lines if not 10 <= len(ln.split(b" ")) <= 15
                   or any(w not in voc for w in ln.split(b" "))]
            if bad or len(lines) < 1000:
                problems.append("around byte 2^31: %d lines, bad ones %r" % (len(lines), bad[:3]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%s large (%d int32 elements; %d bytes of text)" % ("ok  " if not problems else "FAIL", n,
                                                            2200 * 2 ** 20))
    for p in problems:
        print("     -", p)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True)
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", help="comma-separated: " + ",".join(CASES))
    ap.add_argument("--selfcheck", action="store_true")
    ap.add_argument("--bad", action="store_true")
    ap.add_argument("--only", help="--bad: the cases whose name matches this regex")
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--samples", metavar="DATADIR", help="check DATADIR/sample/gen against "
                    "DATADIR/gen-samples.sh")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = ap.parse_args()
    args.app = os.path.abspath(args.app)
    if args.bad:
        return bad_runs(args)
    if args.large:
        return large_run(args)
    if args.samples:
        return samples_run(args)
    return golden_runs(args)


if __name__ == "__main__":
    sys.exit(main())
