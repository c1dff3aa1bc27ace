#!/usr/bin/env python3
"""Inputs and goldens of test_kvsort (pmr_kv_sort), computed with Python's
sorted(): `sort_golden.py DIR` writes, per scenario, DIR/<name>.in (the
pairs to map) and DIR/<name>.<order>.gold (every pair in the order), both
as records [u32 klen][key][u32 vlen][value] (little-endian).
`sort_golden.py --check-h5 DIR FILE.h5 GOLD` checks that the group set
written to FILE.h5 (group "sorted") holds exactly GOLD's pairs in order."""
import math
import random
import struct
import sys


def write(path, pairs):
    with open(path, "wb") as f:
        for k, v in pairs:
            f.write(struct.pack("<I", len(k)) + k + struct.pack("<I", len(v)) + v)


def read(path):
    data = open(path, "rb").read()
    out, o = [], 0
    while o < len(data):
        (kl,) = struct.unpack_from("<I", data, o)
        k = data[o + 4:o + 4 + kl]
        o += 4 + kl
        (vl,) = struct.unpack_from("<I", data, o)
        v = data[o + 4:o + 4 + vl]
        o += 4 + vl
        out.append((k, v))
    return out


def i64(v):
    return struct.unpack("<q", v)[0]


def f64key(v):
    x = struct.unpack("<d", v)[0]
    return (math.isnan(x), 0.0 if math.isnan(x) else x)


ORDERS = {
    "key": lambda kv, dt: (kv[0], kv[1]),
    "value": lambda kv, dt: (
        (i64(kv[1]),) if dt == "i64" else f64key(kv[1]) if dt == "f64"
        else (kv[1],)) + (kv[0], kv[1]),
    "user": lambda kv, dt: (len(kv[0]), kv[0][::-1], kv[1]),
}


def rkey(rng, lo, hi, alphabet=b"ab\x00\xffz"):
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def scenarios():
    rng = random.Random(7)
    s = {}
    s["rand"] = ("i64", [(rkey(rng, 0, 6), struct.pack("<q", rng.randint(-50, 50)))
                         for _ in range(6000)])
    s["equal"] = ("i64", [(b"k", struct.pack("<q", rng.randint(-9, 9)))
                          for _ in range(20000)])
    s["skew"] = ("i64", [((b"hot" if rng.random() < 0.5 else rkey(rng, 4, 8)),
                          struct.pack("<q", rng.randint(0, 3)))
                         for _ in range(20000)])
    s["ragged"] = ("bytes", [(rkey(rng, 1, 5), rkey(rng, 0, 20, b"xy\x00"))
                             for _ in range(5000)])
    specials = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.5, -2.25]
    s["f64"] = ("f64", [(rkey(rng, 1, 3), struct.pack("<d", rng.choice(specials)
                                                      if rng.random() < 0.3
                                                      else rng.uniform(-5, 5)))
                        for _ in range(3000)])
    s["fixed10"] = ("bytes", [(bytes(rng.getrandbits(8) for _ in range(10)),
                               bytes(rng.getrandbits(8) for _ in range(90)))
                              for _ in range(20000)])
    s["tiny"] = ("i64", [(b"b", struct.pack("<q", 2)), (b"a", struct.pack("<q", 1)),
                         (b"", struct.pack("<q", 3))])
    return s


def main():
    if sys.argv[1] == "--check-h5":
        import h5py
        import numpy as np
        gold = read(sys.argv[4])
        with h5py.File(sys.argv[3], "r") as f:
            g = f["sorted"]
            keys = g["keys"][...].tobytes()
            ko = g["key_offsets"][...]
            go = g["group_offsets"][...]
            vals = g["values"][...]
            vo = g["value_offsets"][...] if "value_offsets" in g else None
            got = []
            for i in range(len(ko) - 1):
                k = keys[ko[i]:ko[i + 1]]
                for j in range(go[i], go[i + 1]):
                    if vo is not None:
                        v = vals.tobytes()[vo[j]:vo[j + 1]]
                    else:
                        v = np.ascontiguousarray(vals[j]).tobytes()
                    got.append((k, v))
        if got != gold:
            bad = next((i for i, (a, b) in enumerate(zip(got, gold)) if a != b),
                       min(len(got), len(gold)))
            print(f"{sys.argv[3]}: {len(got)} pairs, golden {len(gold)}; "
                  f"first difference at {bad}")
            sys.exit(1)
        print(f"{sys.argv[3]}: {len(got)} pairs, globally sorted as the golden")
        return
    d = sys.argv[1]
    for name, (dt, pairs) in scenarios().items():
        write(f"{d}/{name}.in", pairs)
        for o, fn in ORDERS.items():
            srt = sorted(pairs, key=lambda kv: fn(kv, dt))
            write(f"{d}/{name}.{o}.gold", srt)
            write(f"{d}/{name}.{o}_desc.gold", srt[::-1])


if __name__ == "__main__":
    main()
