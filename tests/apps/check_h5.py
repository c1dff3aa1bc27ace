#!/usr/bin/env python3
"""Golden and bad-input test for pmr-h5 info and dump.

    check_h5.py --app PATH [--wordcount PATH] --np N [--threads T]
                [--bad] [--keep]

Writes HDF5 files with h5py into a fresh temporary directory: key/value
groups with int64, float64 (a NaN among them), uint8 [n, m], int32 [n] and
float32 [n, 2] values and keys of every kind (empty, NUL bytes, tabs,
invalid UTF-8, 5 KiB long); a dense group; plain 1-D and 2-D datasets; a
group whose key_offsets are broken; plus, with --wordcount, a result written
by pmr-wordcount. Then runs, under $PMR_MPIEXEC N,

    pmr-h5 dump FILE:/GROUP [--top K] [--sort key|value]
    pmr-h5 info FILE

and compares stdout byte for byte with goldens formatted here from the
files read with h5py (dump), or parses it and compares the groups,
datasets (type, shape), attributes (values as JSON) and the readable /
not-readable verdicts with h5py's view of the file (info).

--bad runs bad inputs and command lines instead: each must exit with its
status (1 bad input, 2 usage), print one line "pmr-h5 ...: ..." naming the
file or option, and not hang.

Exit status 0 when everything matches, 1 otherwise. Needs numpy and h5py.
"""
import argparse
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import launcher, run  # noqa: E402


def write_kv(f, group, keys, values, attrs=None):
    offs = np.zeros(len(keys) + 1, dtype=np.uint64)
    offs[1:] = np.cumsum([len(k) for k in keys], dtype=np.uint64)
    g = f.create_group(group)
    g.create_dataset("keys", data=np.frombuffer(b"".join(keys), dtype=np.uint8))
    g.create_dataset("key_offsets", data=offs)
    g.create_dataset("values", data=values)
    for k, v in (attrs or {}).items():
        g.attrs[k] = v
    return g


SPECIAL = [b"", b"\x00", b"a\x00b", b"\xff\xfe", b"caf\xc3\xa9", b"x" * 5000, b"\t tab",
           b"new\nline", b"the", b"THE"]


def make_files(work, rng):
    """res.h5 (several groups), data.h5 (plain datasets); returns the kv groups
    as {group: (keys, values ndarray)}."""
    groups = {}
    n = 3000
    keys = SPECIAL + [b"w%d" % i for i in rng.sample(range(10 ** 6), n)]
    rng.shuffle(keys)
    m = len(keys)
    ints = np.array([rng.randrange(-50, 50) * (1 + (i % 7 == 0) * 10 ** 12) for i in range(m)],
                    dtype=np.int64)
    floats = np.array([rng.uniform(-1e3, 1e3) for _ in range(m)], dtype=np.float64)
    floats[5] = np.nan
    floats[6] = -0.0
    raw = np.frombuffer(bytes(rng.randrange(256) for _ in range(m * 3)),
                        dtype=np.uint8).reshape(m, 3)
    i32 = np.array([rng.randrange(-5, 5) for _ in range(m)], dtype=np.int32)
    f32 = np.array([[rng.uniform(-2, 2), rng.randrange(3)] for _ in range(m)], dtype=np.float32)
    with h5py.File(os.path.join(work, "res.h5"), "w") as f:
        write_kv(f, "counts", keys, ints,
                 {"app": np.bytes_("test"), "combiner": np.bytes_("sum_i64"),
                  "layout": np.bytes_("kv"), "layout_version": np.int64(1),
                  "inputs": np.array([b"a.txt", b"b c.txt"]), "ratio": 0.25,
                  "note": "utf-8 \u00e9 \"quoted\""})
        write_kv(f, "sums", keys, floats, {"combiner": np.bytes_("sum_f64")})
        write_kv(f, "run1/bits", keys, raw, {"combiner": np.bytes_("user")})
        write_kv(f, "small", keys, i32)
        write_kv(f, "pairs", keys, f32)
        g = f.create_group("hist")
        g.attrs["layout"] = np.bytes_("dense")
        g.attrs["width"] = np.int64(3)
        g.create_dataset("values", data=np.arange(60, dtype=np.int64).reshape(20, 3) * 7 - 100)
        b = write_kv(f, "broken", [b"a", b"bb"], np.array([1, 2], dtype=np.int64))
        del b["key_offsets"]
        b.create_dataset("key_offsets", data=np.array([0, 1, 7], dtype=np.uint64))
        f.create_group("empty")
    groups = {"counts": (keys, ints), "sums": (keys, floats), "run1/bits": (keys, raw),
              "small": (keys, i32), "pairs": (keys, f32)}
    with h5py.File(os.path.join(work, "data.h5"), "w") as f:
        f.create_dataset("x", data=np.array([rng.uniform(-1, 1) for _ in range(1001)]))
        f.create_dataset("grid", data=np.array([[rng.randrange(-9, 9) for _ in range(4)]
                                                for _ in range(257)], dtype=np.int32))
        f.create_dataset("f32", data=np.array([rng.uniform(-1, 1) for _ in range(33)],
                                              dtype=np.float32))
    with h5py.File(os.path.join(work, "one.h5"), "w") as f:
        write_kv(f, "only", keys[:100], ints[:100])
    return groups


# --- goldens ------------------------------------------------------------------------

def fmt_value(v):
    """A value as pmr-h5 dump prints it."""
    if v.dtype == np.uint8 and v.ndim == 1:
        return v.tobytes().hex().encode()
    parts = []
    for x in np.atleast_1d(v):
        if x.dtype.kind == "f":
            parts.append(("%.9g" if x.dtype == np.float32 else "%.17g") % float(x))
        else:
            parts.append("%d" % int(x))
    return "\t".join(parts).encode()


def sort_key_value(pair):
    """Value descending (NaN last), element by element, then key ascending."""
    k, v = pair
    t = []
    for x in np.atleast_1d(v):
        if x.dtype.kind == "f":
            t.append((1, 0.0) if math.isnan(float(x)) else (0, -float(x)))
        else:
            t.append((0, -int(x)))
    return (t, k)


def golden(pairs, top=None, sort=None, rows=False):
    by_value = (sort == "value") if sort else top is not None
    if top is not None:
        pairs = sorted(pairs, key=sort_key_value)[:top]
    pairs = sorted(pairs, key=sort_key_value if by_value else (lambda p: p[0]))
    out = b""
    for k, v in pairs:
        out += (b"%d" % k if rows else k) + b"\t" + fmt_value(v) + b"\n"
    return out


def row_pairs(arr):
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    return [(i, arr[i]) for i in range(arr.shape[0])]


# --- runs ---------------------------------------------------------------------------

def h5(args, work, argv, timeout=120):
    cmd = launcher(args.np) + [args.app] + argv[:1] + ["-t", str(args.threads)] + argv[1:]
    rc, out, err, hung, secs = run(cmd, work, timeout)
    p = []
    if hung:
        p.append("no exit within %d s (hang)" % timeout)
    elif rc != 0:
        p.append("exit status %s: %s" % (rc, err.decode(errors="replace")[-2000:]))
    return p, out


def dump_runs(args, work, groups):
    problems = []
    cases = []
    for g, (keys, vals) in groups.items():
        pairs = list(zip(keys, vals))
        cases.append((["res.h5:/" + g], golden(pairs)))
    keys, vals = groups["counts"]
    pairs = list(zip(keys, vals))
    cases += [(["res.h5:/counts", "--sort", "value"], golden(pairs, sort="value")),
              (["res.h5:/counts", "--top", "7"], golden(pairs, top=7)),
              (["res.h5:/counts", "--top", "7", "--sort", "key"], golden(pairs, top=7, sort="key")),
              (["res.h5:/counts", "--top", "100000"], golden(pairs, top=100000))]
    for g in ("sums", "pairs", "run1/bits"):
        keys, vals = groups[g]
        pairs = list(zip(keys, vals))
        cases.append((["res.h5:/" + g, "--top", "9"], golden(pairs, top=9)))
    onek, onev = groups["counts"][0][:100], groups["counts"][1][:100]
    cases.append((["one.h5"], golden(list(zip(onek, onev)))))
    with h5py.File(os.path.join(work, "res.h5"), "r") as f:
        hist = f["hist/values"][()]
    with h5py.File(os.path.join(work, "data.h5"), "r") as f:
        x, grid, f32 = f["x"][()], f["grid"][()], f["f32"][()]
    cases += [(["res.h5:/hist"], golden(row_pairs(hist), rows=True)),
              (["res.h5:/hist/values", "--top", "3"], golden(row_pairs(hist), top=3, rows=True)),
              (["data.h5:/x"], golden(row_pairs(x), rows=True)),
              (["data.h5:/x", "--sort", "value"], golden(row_pairs(x), sort="value", rows=True)),
              (["data.h5:/grid"], golden(row_pairs(grid), rows=True)),
              (["data.h5:/f32"], golden(row_pairs(f32), rows=True))]
    if args.wordcount:
        cmd = launcher(args.np) + [args.wordcount, "-t", str(args.threads), "words.txt",
                                   "-o", "wc.h5"]
        with open(os.path.join(work, "words.txt"), "wb") as fp:
            fp.write(b"the cat the dog\n a b a the\n\xff odd \x00 nul\n" * 30)
        rc, _, err, _, _ = run(cmd, work, 120)
        if rc != 0:
            problems.append("pmr-wordcount failed: %s" % err.decode(errors="replace"))
        else:
            with h5py.File(os.path.join(work, "wc.h5"), "r") as f:
                g = f["wordcount"]
                kb, off, v = g["keys"][()].tobytes(), g["key_offsets"][()], g["values"][()]
            pairs = [(kb[off[i]:off[i + 1]], v[i]) for i in range(len(v))]
            cases += [(["wc.h5"], golden(pairs)), (["wc.h5", "--top", "3"], golden(pairs, top=3))]
    for argv, want in cases:
        p, out = h5(args, work, ["dump"] + argv)
        if not p and out != want:
            got, exp = out.split(b"\n"), want.split(b"\n")
            first = next((i for i in range(min(len(got), len(exp))) if got[i] != exp[i]),
                         min(len(got), len(exp)))
            p.append("stdout differs from the golden (%d vs %d lines); first at line %d: "
                     "got %r, want %r" % (len(got), len(exp), first,
                                          got[first][:80] if first < len(got) else None,
                                          exp[first][:80] if first < len(exp) else None))
        print("%s dump %s" % ("ok  " if not p else "FAIL", " ".join(argv)))
        problems += ["dump %s: %s" % (" ".join(argv), x) for x in p]
    return problems


def type_name(dt):
    if dt.kind in "iu":
        return "%sint%d" % ("u" if dt.kind == "u" else "", dt.itemsize * 8)
    if dt.kind == "f":
        return "float%d" % (dt.itemsize * 8)
    return "other"


def attr_json(v):
    """An attribute as pmr-h5 info prints it, parsed: str, int, float, lists."""
    def one(x):
        if isinstance(x, (bytes, np.bytes_)):
            return x.decode("utf-8")
        if isinstance(x, str):
            return x
        if isinstance(x, (np.integer, int)):
            return int(x)
        return float(x)
    if isinstance(v, np.ndarray) and v.ndim > 0:
        return [one(x) for x in v.tolist()]
    return one(v.item() if isinstance(v, np.generic) else v)


def parse_info(text):
    """{group: {"head": str, "datasets": {name: str}, "attrs": {name: value}}}"""
    groups, cur = {}, None
    lines = text.decode("utf-8").splitlines()
    for ln in lines[1:]:
        if ln.startswith("/"):
            name, head = ln.split(": ", 1)
            cur = groups.setdefault(name, {"head": head, "datasets": {}, "attrs": {}})
        elif ln.startswith("  @"):
            m = re.fullmatch(r"  @(\S+)\s+(.*)", ln)
            cur["attrs"][m.group(1)] = json.loads(m.group(2))
        elif ln.startswith("  "):
            m = re.fullmatch(r"  (\S+)\s+(\S+ \[[0-9, ]*\])  \S+ \S+", ln)
            cur["datasets"][m.group(1)] = m.group(2)
    return lines[0], groups


def info_runs(args, work):
    problems = []
    for name in ["res.h5", "data.h5"] + (["wc.h5"] if args.wordcount else []):
        p, out = h5(args, work, ["info", name])
        want = {}
        with h5py.File(os.path.join(work, name), "r") as f:
            def visit(path, obj):
                if isinstance(obj, h5py.Group):
                    want["/" + path] = obj
            want["/"] = f
            f.visititems(visit)
            exp = {}
            for path, g in want.items():
                ds = {n: "%s [%s]" % (type_name(o.dtype), ", ".join(str(d) for d in o.shape))
                      for n, o in g.items() if isinstance(o, h5py.Dataset)}
                exp[path] = {"datasets": ds,
                             "attrs": {n: attr_json(g.attrs[n]) for n in g.attrs}}
            nds = sum(len(e["datasets"]) for e in exp.values())
        if not p:
            try:
                first, got = parse_info(out)
            except Exception as e:  # noqa: BLE001
                p.append("cannot parse the output (%s): %r" % (e, out[:400]))
                got = None
            if got is not None:
                wfirst = "%s: HDF5 file, " % name
                if not first.startswith(wfirst) or not first.endswith(
                        ", %d group%s, %d dataset%s" % (len(exp), "" if len(exp) == 1 else "s",
                                                       nds, "" if nds == 1 else "s")):
                    p.append("first line %r" % first)
                if sorted(got) != sorted(exp):
                    p.append("groups %r, want %r" % (sorted(got), sorted(exp)))
                for path in exp:
                    if path not in got:
                        continue
                    for what in ("datasets", "attrs"):
                        if got[path][what] != exp[path][what]:
                            p.append("%s %s: %r, want %r" % (path, what, got[path][what],
                                                             exp[path][what]))
                    head = got[path]["head"]
                    if "keys" in exp[path]["datasets"]:
                        ok = path != "/broken"
                        if ok and not head.startswith("key/value result, readable: %s pairs"
                                                      % exp[path]["datasets"]["values"]
                                                      .split("[")[1].split(",")[0].rstrip("]")):
                            p.append("%s: %r, want readable with its pair count" % (path, head))
                        if not ok and not re.match(r"key/value result, not readable: .*key_offsets",
                                                   head):
                            p.append("%s: %r, want not readable naming key_offsets" % (path, head))
                    elif exp[path]["attrs"].get("layout") == "dense":
                        if not head.startswith("dense result: 20 cells of 3 values"):
                            p.append("%s: %r" % (path, head))
        print("%s info %s" % ("ok  " if not p else "FAIL", name))
        problems += ["info %s: %s" % (name, x) for x in p]
    return problems


BAD = [
    # name, argv, exit status, any of these in the message
    ("missing-file", ["dump", "nope.h5:/counts"], 1, ["'nope.h5'"]),
    ("info-missing", ["info", "nope.h5"], 1, ["'nope.h5'"]),
    ("not-hdf5", ["dump", "text.h5"], 1, ["'text.h5' is not an HDF5 file"]),
    ("info-not-hdf5", ["info", "text.h5"], 1, ["'text.h5' is not an HDF5 file"]),
    ("no-group", ["dump", "res.h5:/nothere"], 1, ["'res.h5' has no group '/nothere'"]),
    ("several-groups", ["dump", "res.h5"], 1, ["'res.h5' holds"]),
    ("group-of-groups", ["dump", "res.h5:/run1"], 1, ["'/run1' is not a pmr result"]),
    ("broken", ["dump", "res.h5:/broken"], 1, ["key_offsets"]),
    ("empty-group", ["dump", "res.h5:/empty"], 1, ["'/empty' is empty"]),
    ("bad-sort", ["dump", "res.h5:/counts", "--sort", "size"], 2, ["--sort 'size'"]),
    ("bad-top", ["dump", "res.h5:/counts", "--top", "0"], 2, ["--top"]),
    ("dump-output", ["dump", "res.h5:/counts", "-o", "x.h5"], 2, ["-o"]),
    ("two-inputs", ["dump", "res.h5:/counts", "res.h5:/sums"], 2, ["one FILE"]),
    ("no-input", ["dump"], 2, ["no input"]),
    ("unknown-option", ["info", "--frobnicate", "res.h5"], 2, ["--frobnicate"]),
    ("no-command", [], 2, ["no command"]),
    ("unknown-command", ["frob", "res.h5"], 2, ["unknown command 'frob'"]),
]


def bad_runs(args, work):
    problems = []
    with open(os.path.join(work, "text.h5"), "w") as f:
        f.write("not HDF5\n")
    for name, argv, want_rc, mention in BAD:
        cmd = launcher(args.np, bind_none=False) + [args.app] + argv
        rc, out, err, hung, secs = run(cmd, work, 60)
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        p = []
        if hung:
            p.append("no exit within 60 s (hang)")
        elif rc != want_rc:
            p.append("exit status %s, want %d" % (rc, want_rc))
        if len(lines) != 1:
            p.append("stderr has %d lines, want 1: %r" % (len(lines), lines[:6]))
        elif not re.match(r"pmr-h5( \w+)?: \S", lines[0]):
            p.append("message %r does not start with 'pmr-h5 ...: '" % lines[0])
        elif not any(m in lines[0] for m in mention):
            p.append("message %r names none of %r" % (lines[0], mention))
        print("%s %-18s np=%d exit=%s %.1fs  %s" % ("ok  " if not p else "FAIL", name, args.np,
                                                   rc, secs, lines[0] if len(lines) == 1 else ""))
        problems += ["%s: %s" % (name, x) for x in p]
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--app", required=True, help="the pmr-h5 binary")
    ap.add_argument("--wordcount", help="pmr-wordcount, to dump a result it wrote")
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bad", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.app = os.path.abspath(args.app)
    if args.wordcount:
        args.wordcount = os.path.abspath(args.wordcount)
    work = tempfile.mkdtemp(prefix="pmr-h5-")
    try:
        groups = make_files(work, random.Random(13))
        if args.bad:
            problems = bad_runs(args, work)
        else:
            problems = dump_runs(args, work, groups) + info_runs(args, work)
        for p in problems:
            print("FAIL:", p)
        if not problems:
            print("ok: pmr-h5 %s" % ("bad inputs and command lines behave" if args.bad
                                     else "dump and info match the goldens"))
        return 1 if problems else 0
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
