#!/usr/bin/env python3
"""Golden and bad-input test for pmr-merge.

    check_merge.py --app PATH [--wordcount PATH] --np N [--threads T]
                   [--memory SIZE] [--bad [--only REGEX]] [--keep]

Writes pmr results with h5py into a fresh temporary directory (keys of every
kind: empty, with NUL bytes, invalid UTF-8, 20 KiB long; overlapping key
sets; an empty result; one without a combiner attribute; one whose
combiner is "count"), plus one written by pmr-wordcount when --wordcount is
given, and runs

    $PMR_MPIEXEC N $PMR_MPIEXEC_PREFLAGS APP -t T [-m SIZE] INPUT... \\
        -o out.h5 --summary --top 10

and two more merges (float64 sums with --group/--group-out, and --op
max_i64 over int64 sums). Everything the app wrote is compared with goldens
computed here from the inputs read with h5py (sums with a dict, maxima,
sorted for the top): the pairs, dtypes and offsets of the HDF5 group, its
attributes (app, combiner, inputs, command_line, layout_version, nranks),
the summary and the top lines on stdout, and that nothing else is left.

--bad runs bad inputs and command lines instead: every case must exit with
its status (1 for bad input, 2 for a usage error), print exactly one line,
"pmr-merge: ...", naming the file or option, leave nothing behind, and not
hang.

--via-h5 runs the same cases through "pmr-h5 merge" (--app is then pmr-h5):
the messages must start with "pmr-h5 merge: ".

Exit status 0 when everything matches, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import os
import random
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
from launch import launcher, run  # noqa: E402

TOP = 10
SUB = []            # ["merge"] with --via-h5
PROG = "pmr-merge"  # the messages' prefix


# --- inputs -----------------------------------------------------------------------

def write_result(path, pairs, group="wordcount", dtype=np.int64, attrs=None, mode="w"):
    """pairs: list of (bytes, value) in any order, keys distinct."""
    keys = b"".join(k for k, _ in pairs)
    offs = np.zeros(len(pairs) + 1, dtype=np.uint64)
    offs[1:] = np.cumsum([len(k) for k, _ in pairs], dtype=np.uint64)
    with h5py.File(path, mode) as f:
        g = f.create_group(group)
        g.create_dataset("keys", data=np.frombuffer(keys, dtype=np.uint8))
        g.create_dataset("key_offsets", data=offs)
        g.create_dataset("values", data=np.array([v for _, v in pairs], dtype=dtype))
        for k, v in (attrs or {}).items():
            g.attrs[k] = np.bytes_(v) if isinstance(v, str) else v


SPECIAL = [b"", b"\x00", b"a\x00b", b"\xff\xfe", b"caf\xc3\xa9", b"x" * 20000, b"\t tab",
           b"the", b"THE"]


def make_inputs(work, rng, wordcount=None):
    """The int64 inputs (list of paths relative to work) and the float64 ones."""
    ints = []
    for i in range(5):
        n = 0 if i == 2 else 3000 + 500 * i
        keys = set(rng.sample(range(6000), n)) if n else set()
        pairs = [(b"w%d" % k, rng.randrange(-1000, 10 ** 6) * (1 + (k % 3 == 0) * 10 ** 6))
                 for k in sorted(keys)]
        if n:
            pairs += [(k, rng.randrange(1, 100)) for k in SPECIAL]
        rng.shuffle(pairs)
        attrs = {"app": "wordcount", "combiner": "sum_i64", "layout_version": np.int64(1)}
        if i == 3:
            del attrs["combiner"]  # an older file: follows the others
        if i == 4:
            attrs["combiner"] = "count"  # merged by summing, as sum_i64
        name = "in-%d.h5" % i
        write_result(os.path.join(work, name), pairs, attrs=attrs)
        ints.append(name)
    if wordcount:
        text = os.path.join(work, "words.txt")
        with open(text, "wb") as f:
            f.write(b"the THE w1 w2 w2 \x00 caf\xc3\xa9\nend of the text w5999\n")
        subprocess.run([wordcount, "words.txt", "-o", "wc.h5"], cwd=work, check=True,
                       capture_output=True, timeout=60)
        os.unlink(text)
        ints.append("wc.h5")
    floats = []
    for i in range(3):
        pairs = [(b"f%d" % k, rng.randrange(-4000, 4000) / 4) for k in range(i * 100, 1000 + i * 100)]
        pairs.append((b"", 0.25 * i))
        name = "fl-%d.h5" % i
        write_result(os.path.join(work, name), pairs, group="sums", dtype=np.float64,
                     attrs={"app": "fsum-%d" % i, "combiner": "sum_f64"})
        floats.append(name)
    return ints, floats


def read_pairs(path, group):
    with h5py.File(path, "r") as f:
        g = f[group]
        keys = g["keys"][()].tobytes()
        off = g["key_offsets"][()].tolist()
        vals = g["values"][()].tolist()
    return [(keys[off[i]:off[i + 1]], v) for i, v in enumerate(vals)]


def golden(work, inputs, group, fold):
    out = {}
    for p in inputs:
        for k, v in read_pairs(os.path.join(work, p), group):
            out[k] = fold(out[k], v) if k in out else v
    return out


def wrap64(v):
    return (v + 2 ** 63) % 2 ** 64 - 2 ** 63


# --- checks ------------------------------------------------------------------------

def as_text(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [as_text(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def check_h5(path, group, gold, dtype, want_attrs):
    problems = []
    if not os.path.exists(path):
        return ["%s was not written" % path]
    with h5py.File(path, "r") as f:
        if group not in f:
            return ["%s: no group /%s (has %s)" % (path, group, list(f))]
        g = f[group]
        k, o, v = g["keys"], g["key_offsets"], g["values"]
        if (k.dtype, o.dtype, v.dtype) != (np.uint8, np.uint64, dtype):
            problems.append("dtypes %s/%s/%s, want uint8/uint64/%s"
                            % (k.dtype, o.dtype, v.dtype, np.dtype(dtype)))
        keys, off, vals = k[()].tobytes(), o[()].tolist(), v[()].tolist()
        if len(off) != len(vals) + 1 or off[0] != 0 or off[-1] != len(keys) or \
                any(off[i] > off[i + 1] for i in range(len(vals))):
            problems.append("inconsistent key_offsets")
            return problems
        got = {}
        for i, x in enumerate(vals):
            key = keys[off[i]:off[i + 1]]
            if key in got:
                problems.append("key %r twice" % key[:40])
            got[key] = x
        if got != gold:
            missing = [w for w in gold if w not in got]
            extra = [w for w in got if w not in gold]
            wrong = [(w[:30], got[w], gold[w]) for w in gold if w in got and got[w] != gold[w]]
            problems.append("pairs differ from the golden: %d missing %r, %d extra %r, %d wrong "
                            "(key, got, want) %r" % (len(missing), missing[:4], len(extra),
                                                     extra[:4], len(wrong), wrong[:4]))
        attrs = {n: as_text(g.attrs[n]) for n in g.attrs}
    for name, want in want_attrs.items():
        if attrs.get(name) != want:
            problems.append("attribute %s = %r, want %r" % (name, attrs.get(name), want))
    if PROG.split()[0] not in str(attrs.get("command_line", "")) or \
            (SUB and " merge " not in str(attrs.get("command_line", ""))):
        problems.append("attribute command_line = %r" % attrs.get("command_line"))
    return problems


def fmt(v):
    """As pmr-merge prints values: %lld, or C's %.17g."""
    return ("%d" % v if isinstance(v, int) else "%.17g" % v).encode()


def check_stdout(out, gold, ninputs, pairs, top=TOP):
    """The summary, then "top N:" and the N largest values (ties by key bytes)."""
    total = sum(gold.values())
    if all(isinstance(v, int) for v in gold.values()):
        total = wrap64(total)
    best = sorted(gold.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    want = [b"results      %d" % ninputs, b"pairs        %d" % pairs,
            b"distinct     %d" % len(gold), b"total        " + fmt(total),
            b"top %d:" % len(best)]
    want += [k + b"\t" + fmt(v) for k, v in best]
    got = out.split(b"\n")
    if got[-1] == b"":
        got.pop()
    # float totals are summed in an order of pmr's choosing: compare as numbers
    if len(got) == len(want) and got[3] != want[3] and not isinstance(total, int):
        m = re.fullmatch(rb"total +(\S+)", got[3])
        if m and abs(float(m.group(1)) - total) <= 1e-9 * max(1.0, abs(total)):
            got[3] = want[3]
    if got != want:
        diff = [(i, g[:60], w[:60]) for i, (g, w) in enumerate(zip(got, want)) if g != w]
        return ["stdout differs from the golden (%d lines, want %d); first differences "
                "(line, got, want): %r" % (len(got), len(want), diff[:4])]
    return []


def snapshot(root):
    seen = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            seen[os.path.relpath(p, root)] = os.path.getsize(p) if os.path.isfile(p) else 0
    return seen


# --- runs ---------------------------------------------------------------------------

def merge(app, args, work, argv, timeout=150):
    cmd = launcher(args.np) + [app] + SUB + ["-t", str(args.threads)] + \
        (["-m", args.memory] if args.memory else []) + argv
    print("run:", shlex.join(cmd))
    rc, out, err, hung, secs = run(cmd, work, timeout)
    print("exit %s after %.1f s" % (rc, secs))
    problems = []
    if hung:
        problems.append("no exit within %.0f s (hang)" % timeout)
    elif rc != 0:
        problems.append("exit status %s, want 0; stderr: %s"
                        % (rc, err.decode("utf-8", "replace")[-2000:]))
    elif err.strip():
        problems.append("stderr is not empty: %r" % err[-500:])
    return problems, out


def golden_runs(app, args, work):
    rng = random.Random(1000 * args.np + args.threads)
    ints, floats = make_inputs(work, rng, args.wordcount)
    problems = []
    before = set(os.listdir(work))

    # int64 sums; count and the missing combiner merge as sum_i64.
    gold = golden(work, ints, "wordcount", lambda a, b: wrap64(a + b))
    pairs = sum(len(read_pairs(os.path.join(work, p), "wordcount")) for p in ints)
    p, out = merge(app, args, work, ints + ["-o", "sum.h5", "--summary", "--top", str(TOP)])
    problems += p
    if not p:
        problems += check_h5(os.path.join(work, "sum.h5"), "wordcount", gold, np.int64,
                             {"app": "wordcount", "combiner": "sum_i64", "inputs": ints,
                              "layout_version": 1, "nranks": args.np})
        problems += check_stdout(out, gold, len(ints), pairs)

    # float64 sums from another group, written under a new name; apps differ.
    fgold = golden(work, floats, "sums", lambda a, b: a + b)
    p, out = merge(app, args, work, floats + ["--group", "sums", "--group-out", "all/merged",
                                              "-o", "f.h5", "--top", "3"])
    problems += p
    if not p:
        problems += check_h5(os.path.join(work, "f.h5"), "all/merged", fgold, np.float64,
                             {"app": "merge", "combiner": "sum_f64", "inputs": floats})
        best = sorted(fgold.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        want = b"".join(k + b"\t" + fmt(v) + b"\n" for k, v in best)
        if out != want:
            problems.append("--top 3 printed %r, want %r" % (out, want))

    # --op overrides what the inputs say.
    mgold = golden(work, ints, "wordcount", max)
    p, out = merge(app, args, work, ["--op", "max_i64"] + ints + ["-o", "max.h5"])
    problems += p
    if not p:
        problems += check_h5(os.path.join(work, "max.h5"), "wordcount", mgold, np.int64,
                             {"combiner": "max_i64"})
        if out:
            problems.append("stdout without --summary/--top: %r" % out[:200])

    left = set(os.listdir(work)) - before - {"sum.h5", "f.h5", "max.h5"}
    if left:
        problems.append("left behind: %s" % sorted(left))
    return problems


BAD = [
    # name, argv, exit status, any of these in the message
    ("missing-file", ["a.h5", "no-such.h5", "-o", "out.h5"], 1, ["'no-such.h5'"]),
    ("not-hdf5", ["a.h5", "text.h5", "-o", "out.h5"], 1, ["'text.h5' is not an HDF5 file"]),
    ("no-group", ["a.h5", "other.h5", "-o", "out.h5"], 1, ["'other.h5' has no group '/wordcount'"]),
    ("combiners-disagree", ["a.h5", "max.h5", "-o", "out.h5"], 1, ["'a.h5' has 'sum_i64', 'max.h5' has 'max_i64'"]),
    ("user-combiner", ["a.h5", "user.h5", "-o", "out.h5"], 1, ["'user.h5' group '/wordcount' was combined by a user"]),
    ("no-combiner", ["none.h5", "--top", "3"], 1, ["give --op"]),
    ("op-type", ["--op", "sum_f64", "a.h5", "-o", "out.h5"], 1, ["'a.h5' group '/wordcount': the values are int64"]),
    ("two-groups", ["two.h5", "-o", "out.h5"], 1, ["'two.h5' holds 2 key/value groups"]),
    ("out-dir-missing", ["a.h5", "-o", "nodir/out.h5"], 1, ["nodir"]),
    ("no-inputs", ["-o", "out.h5"], 2, ["no input"]),
    ("nothing-to-do", ["a.h5"], 2, ["nothing to do"]),
    ("unknown-op", ["--op", "median", "a.h5", "-o", "out.h5"], 2, ["'median'"]),
    ("bad-top", ["a.h5", "--top", "0"], 2, ["--top"]),
    ("empty-group", ["--group", "", "a.h5", "-o", "out.h5"], 2, ["--group"]),
    ("unknown-option", ["--frobnicate", "a.h5", "-o", "out.h5"], 2, ["--frobnicate"]),
]


def bad_runs(app, args, root):
    problems = []
    for name, argv, want_rc, mention in BAD:
        if args.only and not re.search(args.only, name):
            continue
        work = os.path.join(root, name)
        os.makedirs(work)
        pairs = [(b"k%d" % i, i) for i in range(50)]
        write_result(os.path.join(work, "a.h5"), pairs, attrs={"combiner": "sum_i64"})
        write_result(os.path.join(work, "max.h5"), pairs, attrs={"combiner": "max_i64"})
        write_result(os.path.join(work, "user.h5"), pairs, attrs={"combiner": "user"})
        write_result(os.path.join(work, "none.h5"), pairs)
        write_result(os.path.join(work, "other.h5"), pairs, group="other")
        write_result(os.path.join(work, "two.h5"), pairs, group="one")
        write_result(os.path.join(work, "two.h5"), pairs, group="two", mode="a")
        with open(os.path.join(work, "text.h5"), "w") as f:
            f.write("not HDF5\n")
        before = snapshot(work)
        cmd = launcher(args.np, bind_none=False) + [app] + SUB + argv
        rc, out, err, hung, secs = run(cmd, work, 60)
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        p = []
        if hung:
            p.append("no exit within 60 s (hang)")
        elif rc != want_rc:
            p.append("exit status %s, want %d" % (rc, want_rc))
        if len(lines) != 1:
            p.append("stderr has %d lines, want 1: %r" % (len(lines), lines[:6]))
        elif not lines[0].startswith(PROG + ": "):
            p.append("message %r does not start with '%s: '" % (lines[0], PROG))
        elif not any(m in lines[0] for m in mention):
            p.append("message %r names none of %r" % (lines[0], mention))
        after = snapshot(work)
        if after != before:
            p.append("files changed: %s" % sorted(set(after.items()) ^ set(before.items())))
        print("%s %-20s np=%d exit=%s %.1fs  %s" % ("ok  " if not p else "FAIL", name, args.np,
                                                   rc, secs, lines[0] if len(lines) == 1 else ""))
        problems += ["%s: %s" % (name, x) for x in p]
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True, help="the pmr-merge binary")
    ap.add_argument("--wordcount", help="pmr-wordcount, to make one input with it")
    ap.add_argument("--np", type=int, default=1, help="MPI ranks")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    ap.add_argument("--memory", help="pass -m SIZE (a small one makes many rounds)")
    ap.add_argument("--bad", action="store_true", help="run the bad-input cases")
    ap.add_argument("--only", help="with --bad: the cases whose name matches this regex")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--via-h5", action="store_true", help="--app is pmr-h5: run 'pmr-h5 merge'")
    args = ap.parse_args()
    global SUB, PROG
    if args.via_h5:
        SUB, PROG = ["merge"], "pmr-h5 merge"
    app = os.path.abspath(args.app)
    if args.wordcount:
        args.wordcount = os.path.abspath(args.wordcount)
    work = tempfile.mkdtemp(prefix="pmr-merge-")
    try:
        problems = bad_runs(app, args, work) if args.bad else golden_runs(app, args, work)
        for p in problems:
            print("FAIL:", p)
        if not problems:
            print("ok: %s" % ("every bad input and command line behaves" if args.bad else
                              "merged results, attributes, summary and top match the goldens"))
        return 1 if problems else 0
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
