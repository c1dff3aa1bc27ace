#!/usr/bin/env python3
"""The command line every pmr application shares (apps/common/cli.c).

    check_cli.py --readme README.md --app pmr-wordcount --app pmr-merge ...

For each application:
  - --version prints three lines: "pmr-<app> (pmr) X.Y.Z", "MPI: ..." (the
    library's own first line) and "HDF5: A.B.C";
  - the options --help lists and those its README section names are the
    same, once the common options (the README's "Common options" section,
    which every --help must list) and launcher flags are set aside;
  - where it has --text, "-o x.txt" (and .tsv, .csv) is a usage error (exit
    2) whose one line points to --text, and nothing is written;
  - where it has --group, an empty --group is a usage error with a
    non-empty message.
Then, with pmr-wordcount: a rank with more threads than CPUs in its
affinity mask (Open MPI's --bind-to core, -t 2) gets one warning on stderr
naming --bind-to none and --map-by slot:PE=2, and the run still succeeds;
with --bind-to none there is no warning.

Exit status 0 when everything holds, 1 otherwise.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import launcher, run  # noqa: E402

LAUNCHER_FLAGS = {"--bind-to", "--map-by", "--oversubscribe", "--cpus-per-task", "--export",
                  "--ntasks-per-node", "--allow-run-as-root"}
# Tokens of a README section that are not the program's options.
NOT_OPTIONS = {"farm": {"--a", "--b"}}
OPT = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def section(readme, title):
    m = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % re.escape(title), readme, re.M | re.S)
    return m.group(1) if m else None


def check_app(app, readme, work):
    p = []
    name = os.path.basename(app)
    short = name[len("pmr-"):]
    r = subprocess.run([app, "--version"], capture_output=True, timeout=60)
    lines = r.stdout.decode().splitlines()
    if r.returncode != 0 or len(lines) != 3 or \
            not re.fullmatch(r"%s \(pmr\) \d+\.\d+\.\d+" % re.escape(name), lines[0]) or \
            not re.fullmatch(r"MPI: \S.*", lines[1]) or \
            not re.fullmatch(r"HDF5: \d+\.\d+\.\d+", lines[2]):
        p.append("--version printed %r (exit %d)" % (lines, r.returncode))
    help_ = subprocess.run([app, "--help"], capture_output=True, timeout=60).stdout.decode()
    if short == "h5":  # a program of sub-commands: their options together
        for sub in ("info", "dump", "merge"):
            help_ += subprocess.run([app, sub, "--help"], capture_output=True,
                                    timeout=60).stdout.decode()
    hopts = set(OPT.findall(help_))
    common = set(OPT.findall(section(readme, "Common options") or "")) - LAUNCHER_FLAGS
    if not common:
        p.append("README has no 'Common options' section listing options")
    if common - hopts:
        p.append("--help lacks the common options %s" % sorted(common - hopts))
    sec = section(readme, name)
    if sec is None:
        p.append("README has no section '## %s'" % name)
    else:
        ropts = set(OPT.findall(sec)) - LAUNCHER_FLAGS - NOT_OPTIONS.get(short, set())
        own_help, own_readme = hopts - common, ropts - common
        if own_help - own_readme:
            p.append("--help lists %s, the README does not" % sorted(own_help - own_readme))
        if own_readme - own_help:
            p.append("the README names %s, --help does not" % sorted(own_readme - own_help))
    # pmr-gen's --text is a flag (-o then writes text), not a second output.
    if "--text" in hopts and short not in ("h5", "gen"):
        for ext in ("txt", "tsv", "CSV"):
            out = "result." + ext
            cmd = launcher(1, bind_none=False) + [app, "in.txt", "-o", out]
            rc, _, err, hung, _ = run(cmd, work, 60)
            msg = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
            if hung or rc != 2 or len(msg) != 1 or "--text" not in msg[0] \
                    or out not in msg[0]:
                p.append("-o %s: exit %s, stderr %r (want 2 and one line naming --text)"
                         % (out, rc, msg))
            if os.path.exists(os.path.join(work, out)):
                p.append("-o %s left a file" % out)
    if "--group" in hopts and short != "h5":
        cmd = launcher(1, bind_none=False) + [app, "--group", "", "in.txt", "-o", "x.h5"]
        rc, _, err, hung, _ = run(cmd, work, 60)
        msg = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        if hung or rc != 2 or len(msg) != 1 or not re.match(r"%s: \S" % name, msg[0]):
            p.append("--group '': exit %s, stderr %r (want 2 and one non-empty line)"
                     % (rc, msg))
    print("%s %s" % ("ok  " if not p else "FAIL", name))
    return ["%s: %s" % (name, x) for x in p]


def check_binding(wordcount, work):
    """Needs Open MPI (its --bind-to); skipped under another launcher."""
    p = []
    base = launcher(1, bind_none=False)
    ver = subprocess.run([base[0], "--version"], capture_output=True, timeout=30).stdout
    if b"Open MPI" not in ver and b"OpenRTE" not in ver:
        print("skip binding check: not Open MPI")
        return p
    for bind, want in (("core", True), ("none", False)):
        cmd = base + ["--bind-to", bind, wordcount, "-t", "2", "in.txt", "--top", "1"]
        rc, out, err, hung, _ = run(cmd, work, 120)
        msg = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        warn = [ln for ln in msg if "warning" in ln]
        if hung or rc != 0 or out.strip() != b"the\t3":
            p.append("--bind-to %s -t 2: exit %s, stdout %r" % (bind, rc, out))
        if want and (len(warn) != 1 or "--bind-to none" not in warn[0]
                     or "--map-by slot:PE=2" not in warn[0] or len(msg) != 1):
            p.append("--bind-to core -t 2: stderr %r, want one warning naming "
                     "--bind-to none and --map-by slot:PE=2" % msg)
        if not want and msg:
            p.append("--bind-to none -t 2: stderr %r, want nothing" % msg)
    print("%s binding warning" % ("ok  " if not p else "FAIL"))
    return p


def check_progress(wordcount, work):
    """--progress without a terminal: plain lines (no carriage return), each
    with percentage, amounts, rate and elapsed time, one 100% line at the end
    of the map; a bad --progress-interval is a usage error."""
    p = []
    with open(os.path.join(work, "big.txt"), "w") as f:
        for i in range(200000):
            f.write("w%d x y z w%d\n" % (i % 977, i % 13))
    cmd = launcher(2) + [wordcount, "big.txt", "--top", "1", "--progress",
                         "--progress-interval", "0.01"]
    rc, out, err, hung, _ = run(cmd, work, 120)
    text = err.decode(errors="replace")
    lines = text.splitlines()
    line = re.compile(r"pmr-wordcount: map +\d+\.\d% \(\S+ of \S+\) \S+/s, "
                      r"elapsed [\d.]+ s(, ETA .+)?")
    if hung or rc != 0:
        p.append("--progress: exit %s" % rc)
    if "\r" in text or not lines or any(not line.fullmatch(ln) for ln in lines):
        p.append("--progress lines %r" % lines[:5])
    elif sum("100.0%" in ln for ln in lines) != 1 or "100.0%" not in lines[-1]:
        p.append("--progress: want one 100%% line, the last: %r" % lines[-3:])
    cmd = launcher(1, bind_none=False) + [wordcount, "big.txt", "--top", "1",
                                          "--progress-interval", "0"]
    rc, out, err, hung, _ = run(cmd, work, 60)
    msg = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
    if rc != 2 or len(msg) != 1 or "--progress-interval" not in msg[0]:
        p.append("--progress-interval 0: exit %s, stderr %r" % (rc, msg))
    print("%s progress" % ("ok  " if not p else "FAIL"))
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readme", required=True)
    ap.add_argument("--app", action="append", required=True)
    args = ap.parse_args()
    readme = open(args.readme, encoding="utf-8").read()
    work = tempfile.mkdtemp(prefix="pmr-cli-")
    try:
        with open(os.path.join(work, "in.txt"), "w") as f:
            f.write("the cat the\ndog the\n")
        problems = []
        for app in args.app:
            problems += check_app(os.path.abspath(app), readme, work)
        wc = [a for a in args.app if os.path.basename(a) == "pmr-wordcount"]
        if wc:
            problems += check_binding(os.path.abspath(wc[0]), work)
            problems += check_progress(os.path.abspath(wc[0]), work)
        for x in problems:
            print("FAIL:", x)
        if not problems:
            print("ok: the common command line holds for %d applications" % len(args.app))
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
