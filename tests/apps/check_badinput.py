#!/usr/bin/env python3
"""Bad-input test for pmr-wordcount.

    check_badinput.py --app PATH --np N [--only REGEX] [--timeout S]

Runs pmr-wordcount on N ranks against one bad input or command line at a
time, each in a fresh directory, and checks the contract for errors:

* the exit status: 2 for a usage error, 1 for any other error;
* stderr holds exactly one non-empty line, "pmr-wordcount: ...", that names
  the offending file or option (one line, so not one per rank);
* every rank exits: a run that outlives --timeout is killed and is a hang;
* nothing is left behind: the directory tree is exactly as before, so no
  file under the final output name and no temporary file next to it.

Open MPI's own "a process exited with non-zero status" banner belongs to
the launcher, not to the app: it is switched off (OMPI_MCA_orte_execute_quiet).

Unreadable inputs and unwritable output directories are made with chmod;
root ignores those bits, so as root these cases run as user nobody
(setpriv --reuid/--regid/--clear-groups) and are skipped, with a note, where
that is impossible.

Exit status 0 when every case behaves, 1 otherwise.
"""
import argparse
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import launcher, run  # noqa: E402

APP_NAME = "pmr-wordcount"


def snapshot(root):
    """Every path under root with its type and mode: what must not change."""
    seen = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            seen[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), st.st_size
                                                 if stat.S_ISREG(st.st_mode) else 0)
    return seen


def words_file(path, nbytes, seed):
    import random
    rng = random.Random(seed)
    vocab = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta"]
    lines, size = [], 0
    while size < nbytes:
        line = b" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 12))) + b"\n"
        lines.append(line)
        size += len(line)
    with open(path, "wb") as f:
        f.write(b"".join(lines))


# Each case: name, argv after the app (paths relative to the case directory),
# wanted exit status, words of which the message must contain one
# (case-insensitive), and what the case needs: "nobody" (run without root's
# powers), "secret" (an unreadable input), "readonly" (an unwritable output
# directory), "isdir" (out/adir.h5 is a directory).
CASES = [
    ("missing-input", ["in/a.txt", "in/nope.txt", "in/b.txt", "-o", "out/result.h5"],
     1, ["nope.txt"], ()),
    ("missing-input-last", ["in/a.txt", "in/b.txt", "in/nope.txt", "-o", "out/result.h5"],
     1, ["nope.txt"], ()),
    ("missing-input-only", ["in/nope.txt", "--text", "out/result.txt"], 1, ["nope.txt"], ()),
    ("missing-input-top", ["in/a.txt", "in/nope.txt", "--top", "5"], 1, ["nope.txt"], ()),
    ("directory-input", ["in/a.txt", "in/adir", "-o", "out/result.h5"], 1, ["adir"], ()),
    ("unreadable-input", ["in/a.txt", "in/secret.txt", "in/b.txt", "-o", "out/result.h5"],
     1, ["secret.txt"], ("nobody", "secret")),
    ("output-missing-dir", ["in/a.txt", "-o", "out/nodir/result.h5"], 1, ["nodir"], ()),
    ("text-missing-dir", ["in/a.txt", "--text", "out/nodir/result.txt"], 1, ["nodir"], ()),
    ("output-unwritable-dir", ["in/a.txt", "in/b.txt", "-o", "readonly/result.h5"], 1,
     ["readonly"], ("nobody", "readonly")),
    ("text-unwritable-dir", ["in/a.txt", "--text", "readonly/result.txt"], 1,
     ["readonly"], ("nobody", "readonly")),
    ("output-is-directory", ["in/a.txt", "-o", "out/adir.h5"], 1, ["adir.h5"], ("isdir",)),
    ("usage-no-input", ["-o", "out/result.h5"], 2, ["input"], ()),
    ("usage-no-output", ["in/a.txt"], 2, ["-o", "--text", "--top", "output"], ()),
    ("usage-unknown-option", ["--bogus", "in/a.txt", "-o", "out/result.h5"], 2,
     ["--bogus", "bogus"], ()),
    ("usage-threads-zero", ["--threads", "0", "in/a.txt", "-o", "out/result.h5"], 2,
     ["thread", "'0'"], ()),
    ("usage-threads-abc", ["--threads", "abc", "in/a.txt", "-o", "out/result.h5"], 2,
     ["abc"], ()),
    ("usage-t-abc", ["-t", "abc", "in/a.txt", "-o", "out/result.h5"], 2, ["abc"], ()),
    ("usage-threads-too-many", ["-t", "10000", "in/a.txt", "-o", "out/result.h5"], 2,
     ["10000", "4096"], ()),
    ("usage-memory-nan", ["-m", "nan", "in/a.txt", "-o", "out/result.h5"], 2,
     ["nan", "memory"], ()),
    ("usage-memory-hex", ["-m", "0x100000", "in/a.txt", "-o", "out/result.h5"], 2,
     ["0x100000", "memory"], ()),
    ("usage-missing-o-value", ["in/a.txt", "-o"], 2, ["-o", "'o'", "output"], ()),
    ("usage-top-abc", ["in/a.txt", "--top", "abc"], 2, ["abc", "top"], ()),
    ("usage-memory-bad", ["-m", "12Q", "in/a.txt", "-o", "out/result.h5"], 2,
     ["12Q", "memory"], ()),
    # Outputs that would replace an input, a special file or each other:
    # refused before anything is written, every input untouched.
    # -o with a .txt name is a usage error (exit 2) before the inode check;
    # the inputs stay untouched either way.
    ("output-is-input", ["in/a.txt", "in/b.txt", "-o", "in/b.txt"], 2, ["b.txt"], ()),
    ("text-is-input", ["in/a.txt", "--text", "in/a.txt"], 1, ["a.txt"], ()),
    ("output-glob-slip", ["-o", "in/a.txt", "in/b.txt"], 2, ["a.txt"], ()),
    ("output-hardlink-to-input", ["in/a.txt", "-o", "in/hard.txt"], 2, ["hard.txt"],
     ("links",)),
    ("output-symlink-to-input", ["in/a.txt", "--text", "in/soft.txt"], 1, ["soft.txt"],
     ("links",)),
    ("output-named-twice", ["in/a.txt", "-o", "out/r", "--text", "out/./r"], 1,
     ["twice"], ()),
    ("output-fifo", ["in/a.txt", "-o", "out/fifo.h5"], 1, ["fifo.h5"], ("special",)),
    ("output-device", ["in/a.txt", "--top", "2", "-o", "out/null"], 1, ["null"],
     ("special",)),
    ("output-proc-fd-link", ["in/a.txt", "--text", "out/stdout"], 1, ["stdout"],
     ("special",)),
    ("output-trailing-slash", ["in/a.txt", "-o", "out/x.h5/"], 1, ["x.h5/"], ()),
    ("usage-group-root", ["in/a.txt", "-o", "out/r.h5", "--group", "/"], 2, ["group"], ()),
    ("usage-group-dot", ["in/a.txt", "-o", "out/r.h5", "--group", "."], 2, ["group"], ()),
    ("usage-group-slash", ["in/a.txt", "-o", "out/r.h5", "--group", "a/"], 2, ["group"], ()),
    ("usage-output-twice", ["in/a.txt", "-o", "out/a.h5", "-o", "out/b.h5"], 2,
     ["twice"], ()),
    ("usage-output-empty", ["in/a.txt", "-o", ""], 2, ["empty"], ()),
    ("usage-files-from-missing", ["--files-from", "in/nolist", "--top", "1"], 2,
     ["nolist"], ()),
    # Inputs checked for their type before they are opened: no blocking open.
    ("fifo-input", ["in/a.txt", "in/fifo", "--top", "3"], 1, ["fifo"], ("special",)),
    ("proc-input", ["/proc/cpuinfo", "--top", "3"], 1, ["cpuinfo"], ()),
]


def nobody_prefix():
    """The command prefix that drops root to nobody, or (None, why not)."""
    if os.geteuid() != 0:
        return [], None  # chmod bits already bind us
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None, "setpriv is not installed"
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None, "there is no user nobody"
    prefix = [setpriv, "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups"]
    return prefix, None


def prepare(case_dir, needs, uid_gid):
    os.chmod(case_dir, 0o755)
    for d in ("in", "out", "in/adir"):
        os.makedirs(os.path.join(case_dir, d), exist_ok=True)
    words_file(os.path.join(case_dir, "in/a.txt"), 64 * 1024, 1)
    words_file(os.path.join(case_dir, "in/b.txt"), 64 * 1024, 2)
    if "secret" in needs:
        words_file(os.path.join(case_dir, "in/secret.txt"), 64 * 1024, 3)
        os.chmod(os.path.join(case_dir, "in/secret.txt"), 0)
    if "readonly" in needs:
        os.makedirs(os.path.join(case_dir, "readonly"))
        os.chmod(os.path.join(case_dir, "readonly"), 0o555)
    if "links" in needs:
        os.link(os.path.join(case_dir, "in/a.txt"), os.path.join(case_dir, "in/hard.txt"))
        os.symlink("a.txt", os.path.join(case_dir, "in/soft.txt"))
    if "special" in needs:
        os.mkfifo(os.path.join(case_dir, "out/fifo.h5"))
        os.mkfifo(os.path.join(case_dir, "in/fifo"))
        os.symlink("/proc/self/fd/1", os.path.join(case_dir, "out/stdout"))
        try:  # a character device like /dev/null, where root may make one
            os.mknod(os.path.join(case_dir, "out/null"), 0o666 | stat.S_IFCHR,
                     os.makedev(1, 3))
        except OSError:
            os.mkfifo(os.path.join(case_dir, "out/null"))
    if "isdir" in needs:
        os.makedirs(os.path.join(case_dir, "out/adir.h5"))
    if uid_gid:  # the outputs of a nobody run must be writable by nobody
        os.chown(os.path.join(case_dir, "out"), *uid_gid)


def check_case(app, nprocs, case, timeout, prefix, env):
    name, argv, want_rc, mention, needs = case
    problems = []
    case_dir = tempfile.mkdtemp(prefix="pmr-bad-%s-" % name, dir="/tmp")
    try:
        uid_gid = None
        if "nobody" in needs and os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            uid_gid = (pw.pw_uid, pw.pw_gid)
        prepare(case_dir, needs, uid_gid)
        before = snapshot(case_dir)
        cmd = (prefix if "nobody" in needs else []) + launcher(nprocs, bind_none=False) + [app] + argv
        rc, out, err, hung, secs = run(cmd, case_dir, timeout, env)
        after = snapshot(case_dir)
        lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
        if hung:
            problems.append("no exit within %.0f s (hang); killed" % timeout)
        elif rc != want_rc:
            problems.append("exit status %s, want %d" % (rc, want_rc))
        if len(lines) != 1:
            problems.append("stderr has %d non-empty lines, want exactly 1: %r"
                            % (len(lines), lines[:6]))
        elif not lines[0].startswith(APP_NAME + ": "):
            problems.append("message %r does not start with '%s: '" % (lines[0], APP_NAME))
        elif not any(m.lower() in lines[0].lower() for m in mention):
            problems.append("message %r names none of %s" % (lines[0], mention))
        created = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
        if created:
            problems.append("left behind: %s" % created)
        if removed or changed:
            problems.append("removed or changed: %s" % (removed + changed))
        shown = " ".join(shlex.quote(a) for a in launcher(nprocs, bind_none=False) + [os.path.basename(app)]
                         + argv)
        status = "ok  " if not problems else "FAIL"
        msg = lines[0] if len(lines) == 1 else "%d lines" % len(lines)
        print("%s %-24s np=%d exit=%s %.1fs  %s" % (status, name, nprocs, rc, secs, msg))
        if problems:
            print("     command: %s%s" % ("(as nobody) " if prefix and "nobody" in needs
                                         else "", shown))
            for p in problems:
                print("     -", p)
        return problems
    finally:
        for dirpath, dirs, files in os.walk(case_dir):
            for d in dirs:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(case_dir, ignore_errors=True)


def check_info(app, nprocs, timeout, env):
    """--version and --help succeed, on stdout, printed once (by rank 0)."""
    problems = []
    work = tempfile.mkdtemp(prefix="pmr-bad-info-")
    try:
        rc, out, err, hung, _ = run(launcher(nprocs, bind_none=False) + [app, "--version"], work, timeout, env)
        text = out.decode("utf-8", "replace")
        if hung or rc != 0 or not re.fullmatch(
                r"pmr-wordcount \(pmr\) \d+\.\d+\.\d+\S*\nMPI: [^\n]+\nHDF5: [\d.]+\n", text):
            problems.append("--version: exit %s, stdout %r; want exit 0 and the lines "
                            "'pmr-wordcount (pmr) X.Y.Z', 'MPI: ...', 'HDF5: A.B.C' once"
                            % (rc, text[:200]))
        rc, out, err, hung, _ = run(launcher(nprocs, bind_none=False) + [app, "--help"], work, timeout, env)
        text = out.decode("utf-8", "replace")
        if hung or rc != 0 or "usage" not in text.lower() or text.lower().count("usage:") != 1:
            problems.append("--help: exit %s, want 0 and the usage once on stdout; got %r..."
                            % (rc, text[:120]))
        if os.listdir(work):
            problems.append("--version/--help left files: %s" % os.listdir(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%s %-24s np=%d" % ("ok  " if not problems else "FAIL", "version-and-help", nprocs))
    for p in problems:
        print("     -", p)
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True)
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--only", help="run the cases whose name matches this regex")
    ap.add_argument("--timeout", type=float, default=60, help="seconds before a hang")
    args = ap.parse_args()
    app = os.path.abspath(args.app)
    env = dict(os.environ, OMPI_MCA_orte_execute_quiet="1")

    prefix, why = nobody_prefix()
    if prefix:  # can nobody reach the binary and start the launcher at all?
        probe = subprocess.run(prefix + ["test", "-x", app], env=env)
        if probe.returncode != 0:
            prefix, why = None, "%s is not reachable by user nobody" % app
    failures = 0
    for case in CASES:
        if args.only and not re.search(args.only, case[0]):
            continue
        if "nobody" in case[4] and prefix is None:
            print("skip %-24s np=%d  (%s; needs a non-root user)" % (case[0], args.np, why))
            continue
        failures += bool(check_case(app, args.np, case, args.timeout, prefix, env))
    if not args.only or re.search(args.only, "version-and-help"):
        failures += bool(check_info(app, args.np, args.timeout, env))
    print("%d case(s) failed" % failures if failures else "all cases behaved")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
