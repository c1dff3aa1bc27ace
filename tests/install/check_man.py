#!/usr/bin/env python3
"""The man pages in docs/man: one per app (pmr-NAME.1) and pmr.3, each
rendered by groff (man(7) macros, -ww: every warning) without a warning or
error, and each app's page naming every option its --help lists and, in
its .TH line, the app's version.

    check_man.py MAN_DIR APP_BINARY...
"""
import os
import re
import shutil
import subprocess
import sys


def main():
    man_dir, apps = sys.argv[1], sys.argv[2:]
    groff = shutil.which("groff")
    if not groff:
        print("groff not found: install groff-base (cluster/install-deps --docs)", file=sys.stderr)
        return 1
    problems = []
    pages = [os.path.join(man_dir, "pmr.3")]
    for exe in apps:
        name = os.path.basename(exe)
        page = os.path.join(man_dir, name + ".1")
        if not os.path.exists(page):
            problems.append(f"{name} has no man page ({page})")
            continue
        pages.append(page)
        helptext = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
        src = open(page, encoding="utf-8").read().replace("\\-", "-")
        version = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.splitlines()[0].split()[-1]
        if f'"pmr {version}"' not in src.split("\n", 1)[0]:
            problems.append(f"{page}: .TH does not name pmr {version} (the app's version)")
        for opt in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", helptext))):
            if not re.search(re.escape(opt) + r"(?![a-z-])", src):
                problems.append(f"{page}: {opt} (in {name} --help) is not documented")
    for page in pages:
        p = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0 or p.stderr.strip():
            problems.append(f"groff on {page} (exit {p.returncode}):\n{p.stderr}")
        else:
            print(f"{page}: renders without warnings")
    for line in problems:
        print("FAIL:", line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
