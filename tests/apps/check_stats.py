#!/usr/bin/env python3
"""--stats and --stats-json of a pmr application (pmr-wordcount).

    check_stats.py --app PATH --np N [--threads T]

Counts the words of a corpus made here with --stats --stats-json, then
checks the JSON against figures computed here in Python: input bytes (the
files' sizes), records (lines), pairs emitted (words), distinct keys
(len(Counter(bytes.split()))), ranks, threads; that min <= median <= max
and that they are the min, median and max of the per-rank arrays (one
entry per rank); throughput = input / wall time. Then the table: every row
of the per-rank block has the header's three columns, right-aligned under
them, with a unit; every row of the whole-run block has a value; the
exact counts in parentheses equal the JSON's. Last, an unwritable
--stats-json path fails with one line naming the file. No timing is
asserted beyond being non-negative.
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
from collections import Counter

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import launcher, run  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    app = os.path.abspath(args.app)
    work = tempfile.mkdtemp(prefix="pmr-stats-")
    problems = []
    try:
        rng = random.Random(7)
        vocab = [b"w%d" % i for i in range(3000)] + [b"caf\xc3\xa9", b"\x00"]
        files, data = [], b""
        for i in range(3):
            lines = [b" ".join(rng.choice(vocab) for _ in range(rng.randrange(0, 12)))
                     for _ in range(4000)]
            body = b"\n".join(lines) + b"\n"
            name = "in%d.txt" % i
            with open(os.path.join(work, name), "wb") as f:
                f.write(body)
            files.append(name)
            data += body
        words = data.split()
        want = {"input_bytes": len(data), "records": data.count(b"\n"),
                "pairs_emitted": len(words), "distinct_keys": len(Counter(words)),
                "ranks": args.np, "threads": args.threads}
        cmd = launcher(args.np) + [app, "-t", str(args.threads)] + files + \
            ["-o", "wc.h5", "--stats", "--stats-json", "stats.json"]
        rc, out, err, hung, _ = run(cmd, work, 120)
        if hung or rc != 0:
            problems.append("run: exit %s, stderr %r" % (rc, err[-2000:]))
            raise SystemExit
        js = json.load(open(os.path.join(work, "stats.json")))
        for k, v in want.items():
            if js.get(k) != v:
                problems.append("json %s = %r, want %r" % (k, js.get(k), v))
        if js.get("schema") != "pmr-stats/1":
            problems.append("json schema %r" % js.get("schema"))
        per = js["per_rank"]
        rows = [(name, js["phases"][name], per["seconds"][name]) for name in
                ("map", "shuffle", "reduce", "write")]
        rows.append(("peak_rss_bytes", js["peak_rss_bytes"], per["peak_rss_bytes"]))
        for name, mmm, arr in rows:
            if len(arr) != args.np:
                problems.append("per_rank %s has %d entries, want %d" % (name, len(arr), args.np))
                continue
            exp = {"min": min(arr), "median": statistics.median(arr), "max": max(arr)}
            for k in exp:
                if abs(mmm[k] - exp[k]) > 1e-6 * max(1.0, abs(exp[k])):
                    problems.append("%s %s = %r, want %r from per_rank" % (name, k, mmm[k], exp[k]))
            if min(arr) < 0:
                problems.append("%s negative: %r" % (name, arr))
        wall = js["wall_seconds"]
        if not (wall > 0 and wall == max(per["wall_seconds"])):
            problems.append("wall_seconds %r, per rank %r" % (wall, per["wall_seconds"]))
        tp = js["throughput"]
        if abs(tp["bytes_per_second"] - len(data) / wall) > 1e-6 * len(data) / wall:
            problems.append("bytes_per_second %r, want %r" % (tp["bytes_per_second"],
                                                              len(data) / wall))
        # the table
        lines = err.decode().splitlines()
        try:
            i = next(n for n, ln in enumerate(lines) if ln.startswith("per rank"))
        except StopIteration:
            problems.append("no 'per rank' header in stderr: %r" % lines)
            raise SystemExit
        head = lines[i]
        ends = [m.end() for m in re.finditer(r"\S+", head)][-3:]
        if head.split()[-3:] != ["min", "median", "max"]:
            problems.append("header %r" % head)
        for ln in lines[i + 1:i + 6]:
            cells = re.findall(r"\d\S* (?:s|ms|min|h|B|KiB|MiB|GiB)\b", ln)
            cend = [m.end() for m in re.finditer(r"\d\S* (?:s|ms|min|h|B|KiB|MiB|GiB)\b", ln)]
            if len(cells) != 3 or cend != ends:
                problems.append("row %r does not fit the header %r" % (ln, head))
        j = i + 6
        if not lines[j].startswith("whole run"):
            problems.append("no 'whole run' block: %r" % lines[j:j + 2])
        block = {ln[:16].strip(): ln[16:].strip() for ln in lines[j + 1:] if ln.strip()}
        for label in ("wall time", "layout", "input", "records", "pairs emitted",
                      "distinct keys", "shuffled", "throughput"):
            if not block.get(label):
                problems.append("whole-run row %r missing or empty: %r" % (label, block))
        for label, key in (("input", "input_bytes"), ("records", "records"),
                           ("pairs emitted", "pairs_emitted"), ("distinct keys", "distinct_keys")):
            m = re.search(r"\((\d+)( B)?\)$", block.get(label, "")) or \
                re.fullmatch(r"(\d+)", block.get(label, ""))
            if not m or int(m.group(1)) != want[key]:
                problems.append("row %s = %r, want %d" % (label, block.get(label), want[key]))
        if block.get("layout") != "%d rank%s x %d thread%s" % (
                args.np, "" if args.np == 1 else "s", args.threads, "" if args.threads == 1 else "s"):
            problems.append("layout row %r" % block.get("layout"))
        # an unwritable JSON path
        cmd = launcher(args.np) + [app, files[0], "--top", "1", "--stats-json", "nodir/s.json"]
        rc, out, err, hung, _ = run(cmd, work, 120)
        msg = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        if hung or rc != 1 or len(msg) != 1 or "nodir/s.json" not in msg[0]:
            problems.append("--stats-json nodir/s.json: exit %s, stderr %r" % (rc, msg))
    except SystemExit:
        pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("ok: --stats and --stats-json at %d x %d match the corpus" % (args.np, args.threads))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
