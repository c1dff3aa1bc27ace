#!/usr/bin/env python3
"""Golden and bad-input test for pmr-invindex.

    check_invindex.py --app PATH --np N [--threads T] [--sample DIR]
    check_invindex.py --app PATH --np N --bad

Golden mode runs pmr-invindex at N ranks x T threads and compares its
/invindex group with an index built in Python: for file index i (0-based
among the inputs) and line number l (1-based, lines split at b"\\n" as grep
-n counts them), every word of line.split() (bytes.split(): the wordcount
tokeniser) adds (i, l); each word's postings sorted. Checks the group
layout (keys uint8, key_offsets uint64 [n+1], values int64 [m, 2],
group_offsets [n+1]), every word once over all ranks, the postings, the
attributes (layout "group", app, nranks, inputs, postings, words), an empty
stderr, nothing left but the output.

Inputs: tricky files (empty lines, a word repeated on a line, CRLF line
ends, no final newline, an empty file, a file of blanks only, tabs and
other ASCII whitespace, UTF-8 and bytes 0x00/0xff inside words, a word
on many lines, a long line, the same file given twice) and, with --sample,
the text files of DIR (data/sample).

--bad: a missing file, a directory, no input, no -o, an unwritable output
directory: exit 1 (2 for usage), one line "pmr-invindex: ...", nothing left.
"""
import argparse
import glob
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_badinput import snapshot  # noqa: E402
from launch import launcher, run  # noqa: E402

TRICKY = {
    "a.txt": b"the cat the cat\n\nthe dog\r\nsat on the\tmat\r\n\r\n  \n end",
    "empty.txt": b"",
    "blank.txt": b" \t\n\n\v\f\r\n",
    "b.txt": b"caf\xc3\xa9 na\x00ive \xff\xfe x\n" + b"x y x\n" * 50 + b"word " * 3000 + b"\n",
    "c.txt": b"".join(b"line%d the\n" % (i % 7) for i in range(400)),
}


def index(paths):
    idx = {}
    for fi, p in enumerate(paths):
        with open(p, "rb") as f:
            data = f.read()
        for ln, line in enumerate(data.split(b"\n"), 1):
            for w in line.split():
                idx.setdefault(w, []).append((fi, ln))
    return {w: sorted(v) for w, v in idx.items()}


def read_result(path, group):
    with h5py.File(path, "r") as f:
        g = f[group]
        keys, ko, vals, go = g["keys"], g["key_offsets"], g["values"], g["group_offsets"]
        shapes = {k: (g[k].dtype, g[k].shape) for k in ("keys", "key_offsets", "values", "group_offsets")}
        keys, ko, vals, go = keys[...], ko[...], vals[...], go[...]
        attrs = dict(g.attrs)
    return keys, ko, vals, go, shapes, attrs


def check(args, paths, name, d):
    p = []
    names = [os.path.relpath(x, d) if x.startswith(d) else x for x in paths]
    cmd = launcher(args.np) + [args.app] + names + ["-t", str(args.threads), "-o", "ix.h5"]
    before = set(os.listdir(d))
    rc, out, err, hung, _ = run(cmd, d, 120)
    if hung or rc != 0 or err.strip():
        return ["%s: exit %s%s, stderr %r" % (name, rc, " (hung)" if hung else "",
                                             err.decode(errors="replace")[-400:])]
    if set(os.listdir(d)) - before != {"ix.h5"}:
        p.append("%s: left %r" % (name, sorted(set(os.listdir(d)) - before)))
    want = index(paths)
    keys, ko, vals, go, shapes, a = read_result(os.path.join(d, "ix.h5"), "invindex")
    n = len(ko) - 1
    m = sum(len(v) for v in want.values())
    exp = {"keys": (np.dtype(np.uint8), (int(ko[-1]),)), "key_offsets": (np.dtype(np.uint64), (n + 1,)),
           "values": (np.dtype(np.int64), (m, 2)), "group_offsets": (np.dtype(np.uint64), (n + 1,))}
    for k, (dt, shape) in exp.items():
        if shapes[k] != (dt, shape):
            p.append("%s: %s is %s %r, want %s %r" % (name, k, shapes[k][0], shapes[k][1], dt, shape))
    if p:
        return p
    got = {}
    kb = keys.tobytes()
    for i in range(n):
        w = kb[int(ko[i]):int(ko[i + 1])]
        if w in got:
            p.append("%s: word %r written twice" % (name, w))
        got[w] = [tuple(r) for r in vals[int(go[i]):int(go[i + 1])].tolist()]
    if set(got) != set(want):
        p.append("%s: words differ: missing %r, extra %r" % (name, sorted(set(want) - set(got))[:5],
                                                            sorted(set(got) - set(want))[:5]))
    bad = [w for w in want if w in got and got[w] != want[w]]
    if bad:
        w = bad[0]
        p.append("%s: %d words' postings differ; %r: %r..., want %r..." % (name, len(bad), w, got[w][:6],
                                                                         want[w][:6]))
    wa = {"layout": b"group", "app": b"invindex", "nranks": args.np, "postings": m, "words": len(want)}
    for k, v in wa.items():
        if a.get(k) != v:
            p.append("%s: attribute %s = %r, want %r" % (name, k, a.get(k), v))
    if [x.decode() if isinstance(x, bytes) else x for x in a.get("inputs", [])] != names:
        p.append("%s: attribute inputs = %r, want %r" % (name, a.get("inputs"), names))
    return p


def golden(args):
    problems = []
    d = tempfile.mkdtemp(prefix="pmr-invindex-")
    try:
        order = ["a.txt", "empty.txt", "b.txt", "blank.txt", "c.txt", "a.txt"]
        for fn, data in TRICKY.items():
            with open(os.path.join(d, fn), "wb") as f:
                f.write(data)
        problems += check(args, [os.path.join(d, x) for x in order], "tricky", d)
        os.unlink(os.path.join(d, "ix.h5"))
        problems += check(args, [os.path.join(d, "empty.txt")], "no-words", d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if args.sample:
        d = tempfile.mkdtemp(prefix="pmr-invindex-")
        try:
            problems += check(args, sorted(glob.glob(os.path.join(args.sample, "*.txt"))), "sample", d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return problems


BAD = [
    ("missing-file", ["a.txt", "nope.txt", "-o", "ix.h5"], 1, ["nope.txt"]),
    ("directory", ["a.txt", "sub", "-o", "ix.h5"], 1, ["sub"]),
    ("no-input", ["-o", "ix.h5"], 2, []),
    ("no-output", ["a.txt"], 2, []),
    ("missing-dir", ["a.txt", "-o", "nodir/ix.h5"], 1, ["nodir"]),
]


def bad(args):
    problems = []
    for name, argv, status, words in BAD:
        d = tempfile.mkdtemp(prefix="pmr-invindex-bad-")
        try:
            with open(os.path.join(d, "a.txt"), "wb") as f:
                f.write(b"a b\n")
            os.mkdir(os.path.join(d, "sub"))
            before = snapshot(d)
            rc, out, err, hung, _ = run(launcher(args.np) + [args.app] + argv, d, 60)
            lines = err.decode(errors="replace").strip().splitlines()
            if hung:
                problems.append("%s: hung" % name)
            elif rc != status:
                problems.append("%s: exit %s, want %d (stderr %r)" % (name, rc, status, lines))
            elif len(lines) != 1 or not lines[0].startswith("pmr-invindex: ") \
                    or not all(w in lines[0] for w in words):
                problems.append("%s: stderr %r, want one line 'pmr-invindex: ...' with %r"
                                % (name, lines, words))
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
    ap.add_argument("--sample")
    ap.add_argument("--bad", action="store_true")
    args = ap.parse_args()
    problems = bad(args) if args.bad else golden(args)
    for p in problems:
        print("FAIL", p)
    print("pmr-invindex%s: %s" % (" --bad" if args.bad else "",
                                  "%d problems" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
