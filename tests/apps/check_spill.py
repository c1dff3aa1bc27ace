#!/usr/bin/env python3
"""Spill errors of pmr-wordcount: a run past its memory budget whose spill
directory cannot take files.

    check_spill.py --app PATH --np N [--threads T]

Makes a corpus of many distinct words (far more than -m 1M holds), then runs

    $PMR_MPIEXEC N $PMR_MPIEXEC_PREFLAGS APP -t T -m 1M INPUT -o out.h5

with PMR_TMPDIR set to: a directory that does not exist, a regular file, and
(when the run can be made without root's powers, or as root: /proc) a
directory that cannot be written. Each must exit 1 with exactly one line on
stderr naming the spill directory, leave no out.h5 (nor any other file) in
the working directory, and leave the spill directory as it was.
Exit status 0 when every case behaves, 1 otherwise.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import launcher, run  # noqa: E402


def corpus(path, n):
    rng = random.Random(7)
    words = [b"w%x" % i for i in range(n)]
    rng.shuffle(words)
    with open(path, "wb") as f:
        f.write(b"".join(b" ".join(words[i:i + 12]) + b"\n"
                         for i in range(0, len(words), 12)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True)
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=100)
    args = ap.parse_args()
    app = os.path.abspath(args.app)
    work = tempfile.mkdtemp(prefix="pmr-spill-err-")
    failed = 0
    try:
        corpus(os.path.join(work, "in.txt"), 300000)
        os.makedirs(os.path.join(work, "ro"))
        os.chmod(os.path.join(work, "ro"), 0o555)
        cases = [("missing", os.path.join(work, "no", "such", "dir")),
                 ("a-file", os.path.join(work, "in.txt")),
                 ("unwritable", "/proc" if os.geteuid() == 0 else os.path.join(work, "ro"))]
        for name, tmp in cases:
            before = sorted(os.listdir(work))
            cmd = launcher(args.np) + [app, "-t", str(args.threads), "-m", "1M", "in.txt",
                                       "-o", "out.h5"]
            env = dict(os.environ, PMR_TMPDIR=tmp)
            rc, out, err, hung, secs = run(cmd, work, args.timeout, env=env)
            lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
            problems = []
            if hung:
                problems.append("no exit within %.0f s (hang)" % args.timeout)
            elif rc != 1:
                problems.append("exit status %s, want 1" % rc)
            if len(lines) != 1:
                problems.append("stderr has %d lines, want 1: %r" % (len(lines), lines[:6]))
            elif not lines[0].startswith("pmr-wordcount: spill file in '%s'" % tmp):
                problems.append("message %r does not name the spill directory" % lines[0])
            after = sorted(os.listdir(work))
            if after != before:
                problems.append("the working directory changed: %s -> %s" % (before, after))
            if name == "unwritable" and tmp != "/proc" and os.listdir(tmp):
                problems.append("files left in %s" % tmp)
            print("%s %-10s np=%d t=%d exit=%s %.1fs %s" % (
                "FAIL" if problems else "ok  ", name, args.np, args.threads, rc, secs,
                lines[0] if len(lines) == 1 else ""))
            for p in problems:
                print("     -", p)
            failed += bool(problems)
    finally:
        os.chmod(os.path.join(work, "ro"), 0o755)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
