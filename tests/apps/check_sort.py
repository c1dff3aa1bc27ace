#!/usr/bin/env python3
"""Golden and bad-input tests for pmr-gen records and pmr-sort.

    check_sort.py --gen GEN --np N [--threads T]
    check_sort.py --app SORT --gen GEN --np N [--threads T] [--memory M]
                  [--cases A,B,...]
    check_sort.py --app SORT --gen GEN --np N --check-only
    check_sort.py --app SORT --gen GEN --np N --bad [--only REGEX]

--gen alone: `pmr-gen records` at N ranks and T threads must write, byte
for byte, the records an independent Python implementation of their
definition makes (apps/gen/records.c's comment; Philox from
gen_reference.py, whose known answers are checked), and every record must
have the gensort layout (checked field by field, not by comparing with the
golden), in a file left alone in its directory.

With --app: each case makes its inputs (pmr-gen records, or records built
here with duplicate keys, identical records, an empty file), runs

    $PMR_MPIEXEC N ... SORT INPUTS... -t T [-m M] -o OUT --check

and compares OUT with Python's sorted() of all input records (equal keys
ordered by the rest of the record: the output is fully determined), and the
lines --check prints (records, unsorted, duplicates, checksum) with values
computed here (zlib.crc32 summed mod 2^64); then `SORT --check` on an input
and on the output must agree on the checksum, and report unsorted > 0
(exit 1, one line naming the first disorder) and 0 (exit 0).

--check-only runs --check on sorted, unsorted, empty and single-record
files against Python's counts.

--bad runs bad inputs and command lines: each must exit with its status
(2 usage, 1 other), print exactly one line "pmr-sort: ..." naming the file
or option, leave the directory as it was (no output, no temporary file),
and not hang.

Exit status 0 when everything matches, 1 otherwise.
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
import zlib

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_reference as ref  # noqa: E402
from check_badinput import snapshot  # noqa: E402
from launch import launcher, run  # noqa: E402

STREAM_RECORDS = 7
REC, KEY = 100, 10
HEX = b"0123456789ABCDEF"


# --- the records' definition -----------------------------------------------------

def golden_records(seed, n):
    """Records 0..n-1 of `seed`, as one bytes object."""
    if n == 0:
        return b""
    w0, w1 = ref.pairs(seed, STREAM_RECORDS, np.arange(n, dtype=np.uint64))
    out = bytearray()
    for i, (a, b) in enumerate(zip(w0.tolist(), w1.tolist())):
        key = a.to_bytes(8, "little") + (b & 0xFFFF).to_bytes(2, "little")
        filler = b"".join(bytes([HEX[(b >> (16 + 4 * g)) & 15]]) * 4 for g in range(12))
        out += key + b"\x00\x11" + ("%032X" % i).encode() + b"\x88\x99\xAA\xBB" + filler + \
            b"\xCC\xDD\xEE\xFF"
    return bytes(out)


def layout_problems(data):
    """The gensort layout, field by field, for every record."""
    p = []
    if len(data) % REC:
        return ["size %d is not a multiple of %d" % (len(data), REC)]
    for i in range(len(data) // REC):
        r = data[i * REC:(i + 1) * REC]
        want_id = ("%032X" % i).encode()
        fill = r[48:96]
        groups_ok = all(fill[4 * g:4 * g + 4] == bytes([fill[4 * g]]) * 4 and fill[4 * g] in HEX
                        for g in range(12))
        if r[10:12] != b"\x00\x11" or r[12:44] != want_id or r[44:48] != b"\x88\x99\xAA\xBB" \
                or not groups_ok or r[96:100] != b"\xCC\xDD\xEE\xFF":
            p.append("record %d does not have the gensort layout: %r" % (i, r))
            break
    keys = {data[i * REC:i * REC + KEY] for i in range(len(data) // REC)}
    if len(data) >= 100 * REC and len(keys) < len(data) // REC:
        p.append("random 80-bit keys repeat: %d distinct of %d" % (len(keys), len(data) // REC))
    return p


def summary(data):
    """What --check must print: records, unsorted, duplicates, checksum."""
    recs = [data[i:i + REC] for i in range(0, len(data), REC)]
    uns = sum(1 for i in range(1, len(recs)) if recs[i][:KEY] < recs[i - 1][:KEY])
    dup = sum(1 for i in range(1, len(recs)) if recs[i][:KEY] == recs[i - 1][:KEY])
    first = next((i for i in range(1, len(recs)) if recs[i][:KEY] < recs[i - 1][:KEY]), None)
    csum = sum(zlib.crc32(r) for r in recs) % 2 ** 64
    return {"records": len(recs), "unsorted": uns, "duplicates": dup,
            "checksum": "%016x" % csum}, first


def parse_summary(out):
    got = {}
    for line in out.decode("utf-8", "replace").splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in ("records", "unsorted", "duplicates", "checksum"):
            got[f[0]] = f[1] if f[0] == "checksum" else int(f[1])
    return got


# --- running ---------------------------------------------------------------------

def mpirun(args, argv, cwd, timeout=150):
    cmd = launcher(args.np) + argv
    env = dict(os.environ, OMPI_MCA_orte_execute_quiet="1")
    rc, out, err, hung, secs = run(cmd, cwd, timeout, env)
    return cmd, rc, out, err, hung, secs


def gen_records(args, work, name, n, seed):
    cmd, rc, out, err, hung, _ = mpirun(args, [args.gen, "records", "-n", str(n), "-S", str(seed),
                                              "-o", name], work)
    if rc != 0 or hung:
        raise RuntimeError("%s failed (exit %s): %s" % (shlex.join(cmd), rc, err.decode()[-500:]))
    with open(os.path.join(work, name), "rb") as f:
        return f.read()


def gen_run(args):
    """pmr-gen records against the golden, at this rank and thread count."""
    problems = []
    work = tempfile.mkdtemp(prefix="pmr-gen-records-")
    try:
        # A 1 MiB budget: 5242 records a round, so several rounds per rank.
        for n, seed, mem in ((12345, 7, "1M"), (1, 3, None), (5, 2 ** 40 + 1, None)):
            argv = [args.gen, "records", "-n", str(n), "-S", str(seed), "-t", str(args.threads),
                    "-o", "r.dat"] + (["-m", mem] if mem else [])
            cmd, rc, out, err, hung, secs = mpirun(args, argv, work)
            p = []
            if rc != 0 or hung or err.strip():
                p.append("exit %s%s, stderr %r" % (rc, " (hang)" if hung else "", err[-500:]))
            else:
                got = open(os.path.join(work, "r.dat"), "rb").read()
                want = golden_records(seed, n)
                if got != want:
                    at = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                              min(len(got), len(want)))
                    p.append("differs from the golden at byte %d (record %d); %d bytes, want %d"
                             % (at, at // REC, len(got), len(want)))
                p += layout_problems(got)
                left = sorted(os.listdir(work))
                if left != ["r.dat"]:
                    p.append("the directory holds %s, want only r.dat" % left)
                os.unlink(os.path.join(work, "r.dat"))
            print("%s records n=%d seed=%d np=%d t=%d %.1fs" % ("ok  " if not p else "FAIL", n, seed,
                                                                args.np, args.threads, secs))
            for x in p:
                print("     - " + x)
            if p:
                print("     command: " + shlex.join(cmd))
            problems += p
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return problems


# --- sort cases ------------------------------------------------------------------
# Each makes its inputs in `work` and returns their names.

def case_random(args, work):
    gen_records(args, work, "a.dat", 3000, 11)
    gen_records(args, work, "b.dat", 1717, 12)
    return ["a.dat", "b.dat"]


def write(work, name, recs):
    with open(os.path.join(work, name), "wb") as f:
        f.write(b"".join(recs))
    return name


def case_dups(args, work):
    """Few distinct keys (ties across every rank boundary), values that
    differ, and records repeated whole."""
    rng = random.Random(5)
    keys = [bytes(rng.randrange(256) for _ in range(KEY)) for _ in range(7)]
    keys += [b"\x00" * KEY, b"\xff" * KEY]
    recs = []
    for i in range(2500):
        k = keys[rng.randrange(len(keys))]
        v = bytes(rng.randrange(256) for _ in range(REC - KEY)) if i % 3 else b"v" * (REC - KEY)
        recs.append(k + v)
    return [write(work, "d1.dat", recs[:1200]), write(work, "d2.dat", recs[1200:])]


def case_same(args, work):
    """One key for every record."""
    rng = random.Random(6)
    recs = [b"K" * KEY + bytes(rng.randrange(256) for _ in range(REC - KEY)) for _ in range(999)]
    return [write(work, "s.dat", recs)]


def case_empty(args, work):
    """No record at all."""
    return [write(work, "e.dat", [])]


def case_tiny(args, work):
    """Fewer records than ranks, an empty file among the inputs, and a
    file already sorted in reverse."""
    rng = random.Random(7)
    recs = sorted((bytes(rng.randrange(256) for _ in range(REC)) for _ in range(40)), reverse=True)
    return [write(work, "t0.dat", []), write(work, "t1.dat", recs[:2]),
            write(work, "t2.dat", []), write(work, "t3.dat", recs[2:])]


def case_big(args, work):
    """6 MB: with -m 1M, many times a rank's memory budget (spill)."""
    gen_records(args, work, "big.dat", 60000, 13)
    return ["big.dat"]


CASES = {"random": case_random, "dups": case_dups, "same": case_same, "empty": case_empty,
         "tiny": case_tiny, "big": case_big}
DEFAULT_CASES = "random,dups,same,empty,tiny"


def sort_case(args, name):
    problems = []
    work = tempfile.mkdtemp(prefix="pmr-sort-%s-" % name)
    try:
        inputs = CASES[name](args, work)
        data = b"".join(open(os.path.join(work, f), "rb").read() for f in inputs)
        recs = [data[i:i + REC] for i in range(0, len(data), REC)]
        want = b"".join(sorted(recs))
        want_sum, _ = summary(want)
        argv = [args.app] + inputs + ["-t", str(args.threads), "-o", "out.dat", "--check"] + \
            (["-m", args.memory] if args.memory else [])
        before = set(os.listdir(work))
        cmd, rc, out, err, hung, secs = mpirun(args, argv, work)
        if rc != 0 or hung or err.strip():
            problems.append("exit %s%s, stderr %r" % (rc, " (hang)" if hung else "", err[-800:]))
        else:
            got = open(os.path.join(work, "out.dat"), "rb").read()
            if got != want:
                at = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                          min(len(got), len(want)))
                problems.append("output differs from sorted() at byte %d (record %d); %d bytes, "
                                "want %d" % (at, at // REC, len(got), len(want)))
            g = parse_summary(out)
            if g != want_sum:
                problems.append("--check printed %r, want %r" % (g, want_sum))
            left = set(os.listdir(work)) - before
            if left != {"out.dat"}:
                problems.append("new files %s, want only out.dat" % sorted(left))
            # --check of one input and of the output: the same checksum.
            printed = {}
            for f in inputs[:1] + ["out.dat"]:
                fdata = open(os.path.join(work, f), "rb").read()
                fsum, first = summary(fdata)
                c2, rc2, out2, err2, hung2, _ = mpirun(args, [args.app, "--check", f, "-t",
                                                              str(args.threads)], work)
                lines = [ln for ln in err2.decode("utf-8", "replace").splitlines() if ln.strip()]
                g2 = parse_summary(out2)
                printed[f] = g2.get("checksum")
                if g2 != fsum:
                    problems.append("--check %s printed %r, want %r" % (f, g2, fsum))
                if first is None and (rc2 != 0 or lines):
                    problems.append("--check %s (sorted): exit %s, stderr %r" % (f, rc2, lines))
                if first is not None:
                    if rc2 != 1 or len(lines) != 1 or "record %d " % first not in lines[0]:
                        problems.append("--check %s (unsorted, first at record %d): exit %s, "
                                        "stderr %r" % (f, first, rc2, lines))
            if len(inputs) == 1 and printed[inputs[0]] != printed["out.dat"]:
                problems.append("--check printed checksum %s for the input, %s for the output"
                                % (printed[inputs[0]], printed["out.dat"]))
        print("%s sort %-7s np=%d t=%d%s %d records %.1fs" % (
            "ok  " if not problems else "FAIL", name, args.np, args.threads,
            " -m " + args.memory if args.memory else "", len(recs), secs))
        for x in problems:
            print("     - " + x)
        if problems:
            print("     command: " + shlex.join(cmd))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return problems


def check_only(args):
    """--check against Python's counts on files made here."""
    problems = []
    work = tempfile.mkdtemp(prefix="pmr-sort-check-")
    try:
        rng = random.Random(9)
        recs = [bytes(rng.randrange(256) for _ in range(REC)) for _ in range(777)]
        srt = sorted(recs)
        swapped = list(srt)
        swapped[500], swapped[501] = swapped[501], swapped[500]
        files = {"sorted": srt, "unsorted": recs, "swapped": swapped, "empty": [],
                 "one": recs[:1], "dups": sorted(recs[:50] * 3)}
        for name, rs in files.items():
            write(work, name, rs)
            data = b"".join(rs)
            want, first = summary(data)
            cmd, rc, out, err, hung, secs = mpirun(args, [args.app, "--check", name, "-t",
                                                          str(args.threads)], work)
            lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            p = []
            if hung:
                p.append("hang")
            g = parse_summary(out)
            if g != want:
                p.append("printed %r, want %r" % (g, want))
            if first is None and (rc != 0 or lines):
                p.append("sorted: exit %s, stderr %r" % (rc, lines))
            if first is not None and (rc != 1 or len(lines) != 1 or
                                      not lines[0].startswith("pmr-sort: ") or
                                      "record %d " % first not in lines[0] or name not in lines[0]):
                p.append("unsorted at record %d: exit %s, stderr %r" % (first, rc, lines))
            print("%s check %-8s np=%d t=%d %.1fs" % ("ok  " if not p else "FAIL", name, args.np,
                                                     args.threads, secs))
            for x in p:
                print("     - " + x)
            problems += p
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return problems


# --- bad inputs ------------------------------------------------------------------
# name, argv, exit status, words of which the message must contain one.

BAD = [
    ("missing-input", ["in/nope.dat", "-o", "out/o.dat"], 1, ["nope.dat"]),
    ("missing-second", ["in/a.dat", "in/nope.dat", "-o", "out/o.dat"], 1, ["nope.dat"]),
    ("wrong-size", ["in/a.dat", "in/odd.dat", "-o", "out/o.dat"], 1, ["odd.dat"]),
    ("input-is-dir", ["in", "-o", "out/o.dat"], 1, ["'in'", "directory"]),
    ("output-is-dir", ["in/a.dat", "-o", "out/adir"], 1, ["adir"]),
    ("output-dir-missing", ["in/a.dat", "-o", "nodir/o.dat"], 1, ["nodir"]),
    ("check-missing", ["--check", "in/nope.dat"], 1, ["nope.dat"]),
    ("check-wrong-size", ["--check", "in/odd.dat"], 1, ["odd.dat"]),
    ("check-unsorted", ["--check", "in/a.dat"], 1, ["a.dat"]),
    ("check-two-files", ["--check", "in/a.dat", "in/a.dat"], 2, ["--check"]),
    ("usage-no-output", ["in/a.dat"], 2, ["-o", "output"]),
    ("usage-no-input", ["-o", "out/o.dat"], 2, ["input"]),
    ("usage-unknown", ["--frobnicate", "in/a.dat", "-o", "out/o.dat"], 2, ["frobnicate"]),
    ("usage-memory", ["-m", "12Q", "in/a.dat", "-o", "out/o.dat"], 2, ["12Q"]),
]


def bad_runs(args):
    failures = 0
    for name, argv, want_rc, mention in BAD:
        if args.only and not re.search(args.only, name):
            continue
        d = tempfile.mkdtemp(prefix="pmr-sort-bad-")
        try:
            os.makedirs(os.path.join(d, "in"))
            os.makedirs(os.path.join(d, "out", "adir"))
            rng = random.Random(1)
            write(d, "in/a.dat", [bytes(rng.randrange(256) for _ in range(REC)) for _ in range(50)])
            with open(os.path.join(d, "in", "odd.dat"), "wb") as f:
                f.write(b"x" * (3 * REC + 7))
            before = snapshot(d)
            cmd, rc, out, err, hung, secs = mpirun(args, [args.app] + argv, d)
            after = snapshot(d)
            lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            p = []
            if hung:
                p.append("hang")
            elif rc != want_rc:
                p.append("exit status %s, want %d" % (rc, want_rc))
            if len(lines) != 1:
                p.append("stderr has %d lines, want exactly 1: %r" % (len(lines), lines[:6]))
            elif not lines[0].startswith("pmr-sort: "):
                p.append("message %r does not start with 'pmr-sort: '" % lines[0])
            elif not any(m.lower() in lines[0].lower() for m in mention):
                p.append("message %r names none of %s" % (lines[0], mention))
            if before != after:
                p.append("the directory changed: %s" % sorted(set(after.items()) ^ set(before.items())))
            print("%s %-20s np=%d exit=%s %.1fs  %s" % ("ok  " if not p else "FAIL", name, args.np, rc,
                                                        secs, lines[0] if lines else ""))
            for x in p:
                print("     - " + x)
            if p:
                print("     command: " + shlex.join(cmd))
            failures += bool(p)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print("%d case(s) failed" % failures if failures else "all cases behaved")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", help="pmr-sort")
    ap.add_argument("--gen", required=True, help="pmr-gen")
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory", help="pmr-sort's -m")
    ap.add_argument("--cases", default=DEFAULT_CASES, help="of " + ",".join(CASES))
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--bad", action="store_true")
    ap.add_argument("--only", help="--bad: only the cases whose name matches")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    args = ap.parse_args()
    args.gen = os.path.abspath(args.gen)
    if args.app:
        args.app = os.path.abspath(args.app)
    ref.check_kat()
    if not args.app:
        problems = gen_run(args)
    elif args.bad:
        return 1 if bad_runs(args) else 0
    elif args.check_only:
        problems = check_only(args)
    else:
        problems = []
        for c in args.cases.split(","):
            problems += sort_case(args, c)
    print("%d problem(s)" % len(problems) if problems else "all matched")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
