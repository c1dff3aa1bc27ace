#!/usr/bin/env python3
"""Golden test for pmr-wordcount.

    check_wordcount.py --app PATH --np N --threads T
                       [--ignore-case] [--letters] [--group NAME]
                       [--corpus full|empty|tiny] [--selfcheck] [--keep]

Writes the corpus of make_corpus.py into a fresh temporary directory, runs

    $PMR_MPIEXEC N $PMR_MPIEXEC_PREFLAGS APP -t T [options] INPUT... \\
        -o out.h5 --text out.txt --top 20

there, and compares everything the app wrote with a golden computed here,
independently, with Python (collections.Counter over bytes.split() per
file, or re.findall(rb"[A-Za-z]+") for --letters, bytes.lower() for
--ignore-case, which folds ASCII only):

* the HDF5 group: keys/key_offsets/values with their dtypes and shapes,
  offsets that start at 0, increase and end at len(keys), no duplicate key,
  every (word, count) pair; the attributes pmr_version, app, command_line,
  nranks, nthreads, created (ISO 8601 UTC, now), inputs, records, input_bytes,
  words, seconds_map/shuffle/reduce;
* the --text file, line by line;
* the --top output on stdout, exactly (count descending, ties by bytes);
* nothing else left in the working directory (no temporary files).

--selfcheck then corrupts the golden in several ways and fails unless every
corruption is caught, which proves the comparisons can fail.

Exit status 0 when everything matches, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import collections
import datetime
import math
import os
import random
import re
import shlex
import shutil
import sys
import tempfile
import time

import h5py
import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_corpus import KINDS, corpus_files  # noqa: E402
from launch import launcher, run  # noqa: E402

TOP = 20
Golden = collections.namedtuple("Golden", "counts records words input_bytes")


# --- launching -------------------------------------------------------------------

# --- the golden ----------------------------------------------------------------

def tokens(data, ignore_case, letters):
    if ignore_case:
        data = data.lower()  # bytes.lower() folds ASCII A-Z only
    if letters:
        return re.findall(rb"[A-Za-z]+", data)
    return data.split()  # ASCII whitespace: space \t \n \v \f \r


def golden(paths, ignore_case=False, letters=False):
    counts = collections.Counter()
    records = words = nbytes = 0
    for path in paths:  # per file: no word spans two files
        with open(path, "rb") as f:
            data = f.read()
        nbytes += len(data)
        # a record is a line: one per '\n', plus a last line without one
        records += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        toks = tokens(data, ignore_case, letters)
        words += len(toks)
        counts.update(toks)
    return Golden(counts, records, words, nbytes)


def expected_top(counts, n=TOP):
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return b"".join(w + b"\t" + str(c).encode() + b"\n" for w, c in best)


# --- comparisons (each returns a list of problems) ------------------------------

def show(word, limit=40):
    r = repr(word)
    return r if len(r) <= limit else r[:limit] + "...(%d bytes)" % len(word)


def diff_counts(got, want, what):
    problems = []
    missing = [w for w in want if w not in got]
    extra = [w for w in got if w not in want]
    wrong = [w for w in want if w in got and got[w] != want[w]]
    if missing:
        problems.append("%s: %d words missing, e.g. %s" % (
            what, len(missing), ", ".join("%s (count %d)" % (show(w), want[w])
                                          for w in sorted(missing)[:5])))
    if extra:
        problems.append("%s: %d words that should not be there, e.g. %s" % (
            what, len(extra), ", ".join("%s (count %d)" % (show(w), got[w])
                                        for w in sorted(extra)[:5])))
    if wrong:
        problems.append("%s: %d words with a wrong count, e.g. %s" % (
            what, len(wrong), ", ".join("%s: got %d, want %d" % (show(w), got[w], want[w])
                                        for w in sorted(wrong)[:5])))
    return problems


def attr_value(g, name, problems):
    if name not in g.attrs:
        problems.append("attribute %r is missing" % name)
        return None
    return g.attrs[name]


def as_text(v):
    if isinstance(v, np.ndarray) and v.shape in ((), (1,)):
        v = v.reshape(-1)[0]
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).rstrip(b"\0").decode("utf-8", "replace")
    if isinstance(v, str):
        return v
    return None


def check_int_attr(g, name, want, problems):
    v = attr_value(g, name, problems)
    if v is None:
        return
    a = np.asarray(v)
    if a.dtype != np.int64 or a.size != 1:
        problems.append("attribute %r: want one int64, got dtype %s shape %s"
                        % (name, a.dtype, a.shape))
        return
    if int(a.reshape(-1)[0]) != want:
        problems.append("attribute %r: got %d, want %d" % (name, int(a.reshape(-1)[0]), want))


def check_h5(path, group, gold, nranks, nthreads, inputs, cwd, t_start, t_end):
    problems = []
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        return ["cannot open %s as HDF5: %s" % (path, e)]
    with f:
        if group not in f or not isinstance(f[group], h5py.Group):
            return ["%s has no group /%s (it has %s)" % (path, group, list(f.keys()))]
        g = f[group]
        spec = {"keys": np.uint8, "key_offsets": np.uint64, "values": np.int64}
        for name, dtype in spec.items():
            if name not in g or not isinstance(g[name], h5py.Dataset):
                problems.append("dataset /%s/%s is missing" % (group, name))
            elif g[name].dtype != dtype or g[name].ndim != 1:
                problems.append("dataset /%s/%s: want 1-D %s, got %s of shape %s" % (
                    group, name, np.dtype(dtype), g[name].dtype, g[name].shape))
        if problems:
            return problems
        keys = g["keys"][()].tobytes()
        offs = [int(x) for x in g["key_offsets"][()]]
        vals = [int(x) for x in g["values"][()]]
        n = len(vals)
        if len(offs) != n + 1:
            problems.append("key_offsets has %d entries, want len(values) + 1 = %d"
                            % (len(offs), n + 1))
        elif offs[0] != 0 or offs[-1] != len(keys):
            problems.append("key_offsets runs from %d to %d, want 0 to len(keys) = %d"
                            % (offs[0], offs[-1], len(keys)))
        elif any(b <= a for a, b in zip(offs, offs[1:])):
            i = next(i for i, (a, b) in enumerate(zip(offs, offs[1:])) if b <= a)
            problems.append("key_offsets not strictly increasing at %d: %d, %d (empty or "
                            "negative-length key)" % (i, offs[i], offs[i + 1]))
        else:
            got, dups = {}, []
            for i in range(n):
                k = keys[offs[i]:offs[i + 1]]
                if k in got:
                    dups.append(k)
                got[k] = got.get(k, 0) + vals[i]
            if dups:
                problems.append("%d duplicate keys (a key must live on one rank), e.g. %s"
                                % (len(dups), ", ".join(show(k) for k in dups[:5])))
            problems += diff_counts(got, gold.counts, "HDF5 /%s" % group)

        for name, want in (("app", "wordcount"),):
            v = as_text(attr_value(g, name, problems))
            if name in g.attrs and v != want:
                problems.append("attribute %r: got %r, want %r" % (name, v, want))
        v = as_text(attr_value(g, "pmr_version", problems))
        if "pmr_version" in g.attrs and not (v and re.fullmatch(r"\d+\.\d+\.\d+\S*", v)):
            problems.append("attribute 'pmr_version': got %r, want a version like 0.1.0" % v)
        v = as_text(attr_value(g, "command_line", problems))
        if "command_line" in g.attrs and not (v and "wordcount" in v):
            problems.append("attribute 'command_line': got %r, want the command line" % v)
        check_int_attr(g, "nranks", nranks, problems)
        check_int_attr(g, "nthreads", nthreads, problems)
        check_int_attr(g, "records", gold.records, problems)
        check_int_attr(g, "words", gold.words, problems)
        check_int_attr(g, "input_bytes", gold.input_bytes, problems)
        v = as_text(attr_value(g, "created", problems))
        if "created" in g.attrs:
            m = v and re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|\+00:00)", v)
            if not m:
                problems.append("attribute 'created': got %r, want ISO 8601 UTC like "
                                "2026-11-27T10:00:00Z" % v)
            else:
                when = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                if not t_start - 120 <= when <= t_end + 120:
                    problems.append("attribute 'created': %s is not the time of the run "
                                    "(UTC %s)" % (v, datetime.datetime.fromtimestamp(
                                        t_end, datetime.timezone.utc).isoformat()))
        v = attr_value(g, "inputs", problems)
        if v is not None:
            names = [as_text(x) for x in np.asarray(v).reshape(-1)]
            ok = len(names) == len(inputs) and all(
                n in (i, os.path.join(cwd, i), os.path.realpath(os.path.join(cwd, i)))
                for n, i in zip(names, inputs))
            if not ok:
                problems.append("attribute 'inputs': got %d names %s..., want the %d inputs "
                                "in order %s..." % (len(names), names[:3], len(inputs),
                                                    inputs[:3]))
        for name in ("seconds_map", "seconds_shuffle", "seconds_reduce"):
            v = attr_value(g, name, problems)
            if v is None:
                continue
            a = np.asarray(v)
            if a.dtype != np.float64 or a.size != 1 or not (
                    math.isfinite(float(a.reshape(-1)[0])) and float(a.reshape(-1)[0]) >= 0):
                problems.append("attribute %r: want one float64 >= 0, got %r (%s)"
                                % (name, v, a.dtype))
    return problems


def check_text(path, gold):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return ["cannot read the --text file: %s" % e]
    problems = []
    if data and not data.endswith(b"\n"):
        problems.append("--text file does not end with a newline")
    got, dups, bad = {}, [], []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # after the final newline, or an empty file
    for line in lines:
        word, tab, count = line.rpartition(b"\t")
        if not tab or not word or not re.fullmatch(rb"[0-9]+", count):
            bad.append(line)
            continue
        if word in got:
            dups.append(word)
        got[word] = got.get(word, 0) + int(count)
    if bad:
        problems.append("--text file: %d lines are not 'word<TAB>count', e.g. %s"
                        % (len(bad), ", ".join(show(b) for b in bad[:3])))
    if dups:
        problems.append("--text file: %d duplicate words, e.g. %s"
                        % (len(dups), ", ".join(show(w) for w in dups[:5])))
    return problems + diff_counts(got, gold.counts, "--text file")


def check_top(stdout, gold, n=TOP):
    want = expected_top(gold.counts, n)
    if stdout == want:
        return []
    g, w = stdout.split(b"\n"), want.split(b"\n")
    i = next((i for i in range(max(len(g), len(w)))
              if i >= len(g) or i >= len(w) or g[i] != w[i]), 0)
    return ["--top %d on stdout differs at line %d: got %s, want %s (%d lines vs %d)"
            % (n, i + 1, show(g[i], 60) if i < len(g) else "end of output",
               show(w[i], 60) if i < len(w) else "end of output",
               stdout.count(b"\n"), want.count(b"\n"))]


def check_leftovers(work, allowed):
    extra = []
    for root, dirs, files in os.walk(work):
        rel = os.path.relpath(root, work)
        if rel == "corpus" or rel.startswith("corpus" + os.sep):
            continue
        extra += [os.path.normpath(os.path.join(rel, f)) for f in files]
    extra = sorted(set(extra) - set(allowed))
    return ["files left in the output directory: %s" % extra] if extra else []


def distinct_file(root, n):
    """A file of n distinct words, word i appearing 1 + i % 3 times, shuffled."""
    rng = random.Random(n)
    words = [b"dw%x%s" % (i, b"abcdefgh"[: i % 9]) for i in range(n)
             for _ in range(1 + i % 3)]
    rng.shuffle(words)
    path = os.path.join(root, "zz_distinct.txt")
    with open(path, "wb") as f:
        f.write(b"".join(b" ".join(words[i:i + 10]) + b"\n"
                         for i in range(0, len(words), 10)))
    return path


# --- main ----------------------------------------------------------------------------

def selfcheck(run_checks, gold, nranks, nthreads, inputs):
    """Each corruption of the expectations must make some check fail."""
    # the last word of the top list: +1 moves it and changes its line
    ranked = sorted(gold.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    word = ranked[-1][0] if ranked else b"x"
    plus = collections.Counter(gold.counts)
    plus[word] += 1
    minus = collections.Counter(gold.counts)
    minus.pop(word, None)
    extra = collections.Counter(gold.counts)
    extra[b"not-in-the-corpus"] = 1
    cases = [
        ("a count off by one", gold._replace(counts=plus), nranks, nthreads, inputs),
        ("a word missing from the golden", gold._replace(counts=minus), nranks, nthreads,
         inputs),
        ("an extra word in the golden", gold._replace(counts=extra), nranks, nthreads,
         inputs),
        ("records + 1", gold._replace(records=gold.records + 1), nranks, nthreads, inputs),
        ("words + 1", gold._replace(words=gold.words + 1), nranks, nthreads, inputs),
        ("input_bytes - 1", gold._replace(input_bytes=gold.input_bytes - 1), nranks,
         nthreads, inputs),
        ("nranks + 1", gold, nranks + 1, nthreads, inputs),
        ("nthreads + 1", gold, nranks, nthreads + 1, inputs),
        ("inputs reversed", gold, nranks, nthreads, inputs[::-1]),
    ]
    failed = 0
    for what, g, nr, nt, ins in cases:
        caught = run_checks(g, nr, nt, ins)
        print("selfcheck: %-32s %s" % (what, "caught: " + caught[0][:100] if caught
                                       else "NOT CAUGHT"))
        failed += not caught
    # each output on its own: the text file and --top must notice too
    for what, g in (("text: a count off by one", gold._replace(counts=plus)),
                    ("text: a word missing", gold._replace(counts=minus))):
        caught = run_checks(g, nranks, nthreads, inputs, only="text")
        print("selfcheck: %-32s %s" % (what, "caught" if caught else "NOT CAUGHT"))
        failed += not caught
    caught = run_checks(gold._replace(counts=plus), nranks, nthreads, inputs, only="top")
    print("selfcheck: %-32s %s" % ("top: a count off by one", "caught" if caught
                                   else "NOT CAUGHT"))
    failed += not caught
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True, help="the pmr-wordcount binary")
    ap.add_argument("--np", type=int, default=1, help="MPI ranks")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    ap.add_argument("--ignore-case", action="store_true")
    ap.add_argument("--letters", action="store_true")
    ap.add_argument("--group", help="pass --group NAME and read that group")
    ap.add_argument("--corpus", choices=KINDS, default="full",
                    help="which inputs (see make_corpus.py)")
    ap.add_argument("--timeout", type=float, default=150, help="seconds before a hang")
    ap.add_argument("--selfcheck", action="store_true",
                    help="also prove that corrupted goldens are caught")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--memory", help="pass -m SIZE and --stats; spill files go to a "
                    "PMR_TMPDIR of the run's own, which must be empty afterwards, and "
                    "some bytes must have been spilled")
    ap.add_argument("--distinct", type=int, default=0,
                    help="add a file of N distinct words (1..3 times each)")
    args = ap.parse_args()

    app = os.path.abspath(args.app)
    work = tempfile.mkdtemp(prefix="pmr-wc-")
    try:
        paths = corpus_files(os.path.join(work, "corpus"), args.corpus)
        if args.distinct:
            paths.append(distinct_file(os.path.join(work, "corpus"), args.distinct))
        inputs = [os.path.relpath(p, work) for p in paths]
        opts = ["-t", str(args.threads)]
        env = None
        if args.memory:
            opts += ["-m", args.memory, "--stats"]
            spilldir = tempfile.mkdtemp(prefix="pmr-wc-tmp-")
            env = dict(os.environ, PMR_TMPDIR=spilldir)
        if args.ignore_case:
            opts.append("--ignore-case")
        if args.letters:
            opts.append("--letters")
        if args.group:
            opts += ["--group", args.group]
        cmd = launcher(args.np) + [app] + opts + inputs + [
            "-o", "out.h5", "--text", "out.txt", "--top", str(TOP)]
        shown = shlex.join(cmd[:cmd.index(app) + 1 + len(opts)] + inputs[:3]) + \
            " ... (%d inputs) -o out.h5 --text out.txt --top %d" % (len(inputs), TOP)
        print("run:", shown)
        print("in: ", work)
        t_start = time.time()
        rc, out, err, hung, secs = run(cmd, work, args.timeout, env=env)
        t_end = time.time()
        spill_problems = []
        if args.memory:
            left = os.listdir(spilldir)
            os.rmdir(spilldir) if not left else shutil.rmtree(spilldir)
            if left:
                spill_problems.append("files left in the spill directory: %s" % left)
            m = re.search(rb"^spilled\s.*\((\d+) B\)", err, re.M)
            if not m or int(m.group(1)) == 0:
                spill_problems.append("nothing was spilled at -m %s" % args.memory)
            else:
                print("spilled %s bytes at -m %s" % (m.group(1).decode(), args.memory))
        print("exit %s after %.1f s" % (rc, secs))
        if err.strip():
            print("stderr:\n" + err.decode("utf-8", "replace")[-3000:])
        if hung:
            print("FAIL: no exit within %.0f s (hang)" % args.timeout)
            return 1
        if rc != 0:
            print("FAIL: exit status %d, want 0" % rc)
            print("stdout tail:", out[-2000:].decode("utf-8", "replace"))
            return 1
        gold = golden(paths, args.ignore_case, args.letters)
        print("golden: %d distinct words, %d words, %d records, %d bytes in %d files"
              % (len(gold.counts), gold.words, gold.records, gold.input_bytes, len(paths)))
        group = args.group or "wordcount"

        def run_checks(g, nranks, nthreads, ins, only=None):
            problems = []
            if only in (None, "h5"):
                problems += check_h5(os.path.join(work, "out.h5"), group, g, nranks,
                                     nthreads, ins, work, t_start, t_end)
            if only in (None, "text"):
                problems += check_text(os.path.join(work, "out.txt"), g)
            if only in (None, "top"):
                problems += check_top(out, g)
            return problems

        problems = run_checks(gold, args.np, args.threads, inputs)
        problems += check_leftovers(work, ["out.h5", "out.txt"])
        problems += spill_problems
        for p in problems:
            print("FAIL:", p)
        if problems:
            return 1
        print("ok: HDF5 group /%s, attributes, --text and --top %d match the golden"
              % (group, TOP))
        if args.selfcheck:
            failed = selfcheck(run_checks, gold, args.np, args.threads, inputs)
            if failed:
                print("FAIL: %d corrupted goldens went unnoticed" % failed)
                return 1
            print("ok: every corrupted golden was caught")
        return 0
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
