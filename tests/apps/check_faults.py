#!/usr/bin/env python3
"""Faults during a run of pmr-wordcount: a full disk, stop signals, leftovers
of killed runs, many inputs.

    check_faults.py --app PATH --np N [--only REGEX] [--timeout S]

Cases (each in a fresh directory):

* enospc-*: a 1 MiB tmpfs (mounted here; needs root and mount, else the
  cases are skipped with a note) that is full before the run, or smaller
  than the result: exit 1, exactly one line on stderr naming the file and
  "No space left on device", nothing left on the tmpfs but the filler, no
  hang. -o and --text, alone and together.
* both-or-none: -o A --text B where B cannot be written (the full tmpfs):
  A is not published either.
* sweep: hidden temporary files named as a killed run of this host leaves
  them (a pid that is not alive) are removed by the next run into that
  directory; one of a live pid, one of another host and a user's file that
  only looks alike are kept.
* sigterm: SIGTERM to every rank while the run works: every rank ends, the
  ranks' status is 143, stderr says "interrupted", no temporary file is
  left and no output appears.
* shrink: an input truncated to 1 MiB while it is read: every line on
  stderr names it ("the file shrank"), at most one a rank, no crash dump,
  no output (skipped when the run ends before the truncation).
* files-from: 300 inputs named in a list (one a line, and NUL-separated
  with -0), counted as Python's bytes.split() counts them; and 2000 inputs
  with 60-byte names (120 KiB of names) written to HDF5 (the names do not
  fit an attribute).

Exit status 0 when every case behaves, 1 otherwise.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import launcher, run  # noqa: E402

APP = "pmr-wordcount"


def words(path, n, seed, distinct=False):
    import random
    rng = random.Random(seed)
    with open(path, "wb") as f:
        if distinct:
            for s in range(0, n, 5000):
                f.write((" ".join(str(i) for i in range(s, min(n, s + 5000))) + "\n").encode())
        else:
            vocab = [b"alpha", b"beta", b"gamma", b"delta", b"eps%d" % seed]
            for _ in range(n):
                f.write(b" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 9))) + b"\n")


def counter(paths):
    c = collections.Counter()
    for p in paths:
        with open(p, "rb") as f:
            c.update(f.read().split())
    return c


def read_text(path):
    c = {}
    with open(path, "rb") as f:
        for line in f.read().splitlines():
            k, v = line.rsplit(b"\t", 1)
            c[k] = int(v)
    return c


def lines_of(err):
    return [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]


def leftovers(d):
    return sorted(n for n in os.listdir(d) if ".pmr-" in n)


class Tmpfs:
    """A 1 MiB tmpfs, or None with the reason it cannot be had."""

    def __init__(self, where):
        self.path = os.path.join(where, "mnt")
        os.makedirs(self.path)
        self.ok = False
        if os.geteuid() != 0:
            self.why = "not root"
            return
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", self.path],
                           capture_output=True)
        self.ok = r.returncode == 0
        self.why = r.stderr.decode(errors="replace").strip()

    def fill(self):
        with open(os.path.join(self.path, "filler"), "wb") as f:
            try:
                f.write(b"\0" * (2 << 20))
            except OSError:
                pass

    def clear(self):
        for n in os.listdir(self.path):
            os.unlink(os.path.join(self.path, n))

    def close(self):
        if self.ok:
            subprocess.run(["umount", self.path])


def case_enospc(app, np_, work, timeout, env):
    problems = []
    fs = Tmpfs(work)
    if not fs.ok:
        print("skip enospc-*               np=%d  (no tmpfs: %s)" % (np_, fs.why))
        return []
    try:
        words(os.path.join(work, "a.txt"), 50, 1)
        words(os.path.join(work, "big.txt"), 250000, 2, distinct=True)  # ~1.6 MB result
        m = "mnt"
        runs = [("full-text", True, ["a.txt", "--text", m + "/r.txt"], "r.txt"),
                ("full-h5", True, ["a.txt", "-o", m + "/r.h5"], "r.h5"),
                ("full-both", True, ["a.txt", "-o", m + "/r.h5", "--text", m + "/r.txt"], "r."),
                ("big-text", False, ["-t", "1", "big.txt", "--text", m + "/r.txt"], "r.txt"),
                ("big-h5", False, ["-t", "1", "big.txt", "-o", m + "/r.h5"], "r.h5"),
                # -o A on a disk with room, --text B on the full one: no A.
                ("both-or-none", True, ["a.txt", "-o", "ok.h5", "--text", m + "/r.txt"], "r.txt")]
        for name, full, argv, named in runs:
            fs.clear()
            if full:
                fs.fill()
            rc, out, err, hung, secs = run(launcher(np_, bind_none=False) + [app] + argv,
                                           work, timeout, env)
            ls = lines_of(err)
            p = []
            if hung:
                p.append("hang (killed after %.0f s)" % timeout)
            elif rc != 1:
                p.append("exit status %s, want 1" % rc)
            if len(ls) != 1 or "No space left on device" not in ls[0] or named not in ls[0] \
                    or not ls[0].startswith(APP + ": "):
                p.append("want one line naming %r and 'No space left on device', got %r"
                         % (named, ls[:8]))
            left = sorted(set(os.listdir(fs.path)) - {"filler"})
            if left:
                p.append("left on the full disk: %s" % left)
            if os.path.exists(os.path.join(work, "ok.h5")) or leftovers(work):
                p.append("published or left beside the inputs: %s" % os.listdir(work))
            print("%s enospc-%-16s np=%d exit=%s %.1fs  %s"
                  % ("ok  " if not p else "FAIL", name, np_, rc, secs, ls[0] if ls else ""))
            for x in p:
                print("     -", x)
            problems += p
    finally:
        fs.close()
    return problems


def case_sweep(app, np_, work, timeout, env):
    words(os.path.join(work, "a.txt"), 50, 1)
    out = os.path.join(work, "out")
    os.makedirs(out)
    host = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname().split(".")[0])[:24]
    # A pid that is not alive: a child that has been reaped.
    child = subprocess.Popen(["true"])
    child.wait()
    dead = child.pid
    stale = [".r.h5.pmr-%s-%d-5fe46ac1.tmp" % (host, dead),
             ".old.txt.pmr-%s-%d-1.tmp" % (host, dead)]
    kept = [".r.h5.pmr-%s-%d-5fe46ac1.tmp" % (host, os.getpid()),  # alive
            ".r.h5.pmr-otherhost-%d-5fe46ac1.tmp" % dead,          # another host
            ".notes.pmr-%s-%d.tmp" % (host, dead),                 # not our pattern
            "r.h5.pmr-%s-%d-5.tmp" % (host, dead)]                 # not hidden
    for n in stale + kept:
        with open(os.path.join(out, n), "wb") as f:
            f.write(b"x" * 1000)
    rc, _, err, hung, secs = run(launcher(np_, bind_none=False) + [app, "a.txt", "-o", "out/r.h5"],
                                 work, timeout, env)
    p = []
    if hung or rc != 0:
        p.append("exit %s (hang %s): %r" % (rc, hung, lines_of(err)[:4]))
    now = set(os.listdir(out))
    if now & set(stale):
        p.append("leftovers of dead runs not removed: %s" % sorted(now & set(stale)))
    if set(kept) - now:
        p.append("removed what is not a leftover: %s" % sorted(set(kept) - now))
    if "r.h5" not in now:
        p.append("no output")
    print("%s sweep                   np=%d exit=%s %.1fs" % ("ok  " if not p else "FAIL", np_, rc, secs))
    for x in p:
        print("     -", x)
    return p


def rank_pids(app):
    r = subprocess.run(["pgrep", "-f", "^" + re.escape(app) + " "], capture_output=True)
    return [int(x) for x in r.stdout.split()]


def case_sigterm(app, np_, work, timeout, env):
    words(os.path.join(work, "big.txt"), 1500000, 3, distinct=True)
    os.makedirs(os.path.join(work, "out"))
    cmd = launcher(np_, bind_none=False) + [app, "-t", "1", "-m", "1M", "big.txt",
                                            "-o", "out/r.h5", "--text", "out/r.txt"]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    mine = []
    # Wait for a temporary output (the write), else signal after 20 s.
    writing = False
    while time.monotonic() - t0 < 20 and p.poll() is None:
        if leftovers(os.path.join(work, "out")):
            writing = True
            break
        time.sleep(0.01)
    sess = os.getsid(p.pid)
    for pid in rank_pids(app):
        try:
            if os.getsid(pid) == sess:
                mine.append(pid)
        except OSError:
            pass
    for pid in mine:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    probs = []
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        probs.append("hang after SIGTERM")
    ls = lines_of(err)
    if not mine:
        print("skip sigterm                 np=%d  (the run ended before the signal)" % np_)
        return []
    if p.returncode == 0:
        probs.append("exit 0 after SIGTERM")
    if not any("interrupted" in l for l in ls):
        probs.append("no 'interrupted' line: %r" % ls[:6])
    left = os.listdir(os.path.join(work, "out"))
    if left:
        probs.append("left behind: %s" % left)
    print("%s sigterm                 np=%d exit=%s %.1fs  %s%s"
          % ("ok  " if not probs else "FAIL", np_, p.returncode, time.monotonic() - t0,
             "(while writing) " if writing else "", ls[0] if ls else ""))
    for x in probs:
        print("     -", x)
    return probs


def case_files_from(app, np_, work, timeout, env):
    probs = []
    d = os.path.join(work, "in dir")
    os.makedirs(d)
    names = []
    for i in range(300):
        n = os.path.join("in dir", "f %03d.txt" % i)
        words(os.path.join(work, n), 3, i)
        names.append(n)
    with open(os.path.join(work, "list"), "w") as f:
        f.write("\n".join(names[1:]) + "\n\n")
    with open(os.path.join(work, "list0"), "wb") as f:
        f.write(b"\0".join(n.encode() for n in names[1:]) + b"\0")
    want = counter([os.path.join(work, n) for n in names])
    for flag in ([], ["-0"]):
        lst = "list0" if flag else "list"
        rc, _, err, hung, _ = run(launcher(np_, bind_none=False) + [app, names[0], "--files-from", lst]
                                  + flag + ["--text", "r.txt"], work, timeout, env)
        if hung or rc != 0:
            probs.append("--files-from %s%s: exit %s: %r" % (lst, " -0" if flag else "", rc,
                                                            lines_of(err)[:3]))
        elif read_text(os.path.join(work, "r.txt")) != dict(want):
            probs.append("--files-from %s: counts differ from bytes.split()" % lst)
    # Names of 120 KiB in all, to HDF5.
    long_names = []
    for i in range(2000):
        n = "n%059d" % i
        with open(os.path.join(work, n), "wb") as f:
            f.write(b"w%d\n" % (i % 7))
        long_names.append(n)
    with open(os.path.join(work, "longlist"), "w") as f:
        f.write("\n".join(long_names) + "\n")
    rc, _, err, hung, _ = run(launcher(np_, bind_none=False) + [app, "--files-from", "longlist",
                                                                "-o", "m.h5"], work, timeout, env)
    if hung or rc != 0:
        probs.append("2000 long names to HDF5: exit %s: %r" % (rc, lines_of(err)[:3]))
    elif shutil.which("h5dump"):
        r = subprocess.run(["h5dump", "-d", "/wordcount/inputs", "-s", "1999", "-c", "1", "m.h5"],
                           cwd=work, capture_output=True)
        if long_names[-1].encode() not in r.stdout:
            probs.append("the input names are not in /wordcount/inputs: %r" % r.stdout[-300:])
    print("%s files-from              np=%d" % ("ok  " if not probs else "FAIL", np_))
    for x in probs:
        print("     -", x)
    return probs


def case_shrink(app, np_, work, timeout, env):
    """An input truncated while the mmap reader works on it: a line naming
    the file from each rank that meets it, no crash dump, no output."""
    big = os.path.join(work, "shrink.txt")
    line = b" ".join(b"w%d" % i for i in range(400)) + b"\n"
    with open(big, "wb") as f:
        f.write(line * ((80 << 20) // len(line)))
    cmd = launcher(np_, bind_none=False) + [app, "-t", "1", "shrink.txt", "-o", "r.h5"]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    sess = os.getsid(p.pid)
    started = None
    while time.monotonic() - t0 < 30 and p.poll() is None:
        ranks = [x for x in rank_pids(app) if os.path.exists("/proc/%d" % x)
                 and os.getsid(x) == sess]
        if ranks and started is None:
            started = time.monotonic()
        if started and time.monotonic() - started > 0.8:
            break
        time.sleep(0.02)
    os.truncate(big, 1 << 20)
    probs = []
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        probs.append("hang")
    ls = lines_of(err)
    if p.returncode == 0:
        print("skip shrink                  np=%d  (the run ended before the truncation)" % np_)
        return []
    bad = [l for l in ls if not (l.startswith(APP + ": ") and "shrink.txt" in l and "shrank" in l)]
    if bad or not ls:
        probs.append("want only lines naming the file that shrank, got %r" % ls[:6])
    if len(ls) > np_:
        probs.append("%d lines from %d ranks" % (len(ls), np_))
    if os.path.exists(os.path.join(work, "r.h5")) or leftovers(work):
        probs.append("left behind: %s" % os.listdir(work))
    print("%s shrink                  np=%d exit=%s  %s"
          % ("ok  " if not probs else "FAIL", np_, p.returncode, ls[0] if ls else ""))
    for x in probs:
        print("     -", x)
    return probs


CASES = [("enospc", case_enospc), ("sweep", case_sweep), ("sigterm", case_sigterm),
         ("files-from", case_files_from), ("shrink", case_shrink)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True)
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--only")
    ap.add_argument("--timeout", type=float, default=90)
    a = ap.parse_args()
    app = os.path.abspath(a.app)
    env = dict(os.environ, OMPI_MCA_orte_execute_quiet="1")
    failures = 0
    for name, fn in CASES:
        if a.only and not re.search(a.only, name):
            continue
        work = tempfile.mkdtemp(prefix="pmr-fault-%s-" % name, dir="/tmp")
        try:
            failures += bool(fn(app, a.np, work, a.timeout, env))
        finally:
            mnt = os.path.join(work, "mnt")
            if os.path.ismount(mnt):
                subprocess.run(["umount", mnt])
            shutil.rmtree(work, ignore_errors=True)
    print("%d case(s) failed" % failures if failures else "all cases behaved")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
