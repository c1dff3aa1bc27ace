#!/usr/bin/env python3
"""Inputs and goldens of the group-set tests (test_group.c), computed here
independently of the library.

  group_golden.py make DIR         write DIR/<case>.in and DIR/<case>.gold
  group_golden.py check DIR FILE   compare the groups written to FILE.h5
                                   (one HDF5 group per case) to the goldens

<case>.in:   u64 N, then N pairs: u64 klen, key, u64 vlen, value
<case>.gold: u64 vsize, u64 dtype, u64 K, then K groups in ascending key
             order: u64 klen, key, u64 n, then n values in order (u64 vlen,
             value)
"""
import random
import struct
import sys
import os

INT64, FLOAT64, BYTES = 0, 1, 2

# name: (vsize, dtype, pairs, key alphabet, skewed)
CASES = {
    "ragged": (0, BYTES, 3000, b"ab\0", False),
    "bytes5": (5, BYTES, 2000, b"abc", False),
    "i64x2": (16, INT64, 2500, b"xy", False),
    "f64": (8, FLOAT64, 1500, b"pq", False),
    "skew": (0, BYTES, 4000, b"abcdefgh", True),
    "tiny": (0, BYTES, 3, b"a", False),
    "empty": (0, BYTES, 0, b"a", False),
}


def gen(name):
    vsize, dtype, n, alpha, skew = CASES[name]
    rnd = random.Random(name)
    pairs = []
    for i in range(n):
        if skew and i % 2 == 0:
            key = b"hot"
        else:
            kl = rnd.choice([0, 1, 2, 3, 5, 8, 9, 12])
            key = bytes(rnd.choice(alpha) for _ in range(kl))
        if dtype == INT64:
            cols = vsize // 8
            val = struct.pack("<%dq" % cols,
                              *[rnd.randint(-3, 3) * (1 << rnd.choice([0, 40]))
                                for _ in range(cols)])
        elif dtype == FLOAT64:
            val = struct.pack("<%dd" % (vsize // 8),
                              *[rnd.randint(-20, 20) / 4.0 + 0.125
                                for _ in range(vsize // 8)])
        else:
            vl = vsize if vsize else rnd.choice([0, 0, 1, 3, 7, 20, 64])
            val = bytes(rnd.randrange(256) for _ in range(vl))
        pairs.append((key, val))
    return pairs


def value_key(dtype, vsize):
    if dtype == INT64:
        return lambda v: (struct.unpack("<%dq" % (vsize // 8), v), v)
    if dtype == FLOAT64:
        return lambda v: (struct.unpack("<%dd" % (vsize // 8), v), v)
    return lambda v: v


def groups(name):
    vsize, dtype, _, _, _ = CASES[name]
    g = {}
    for k, v in gen(name):
        g.setdefault(k, []).append(v)
    vk = value_key(dtype, vsize)
    return [(k, sorted(g[k], key=vk)) for k in sorted(g)]


def make(d):
    os.makedirs(d, exist_ok=True)
    for name, (vsize, dtype, _, _, _) in CASES.items():
        pairs = gen(name)
        with open(os.path.join(d, name + ".in"), "wb") as f:
            f.write(struct.pack("<Q", len(pairs)))
            for k, v in pairs:
                f.write(struct.pack("<Q", len(k)) + k)
                f.write(struct.pack("<Q", len(v)) + v)
        gs = groups(name)
        with open(os.path.join(d, name + ".gold"), "wb") as f:
            f.write(struct.pack("<QQQ", vsize, dtype, len(gs)))
            for k, vals in gs:
                f.write(struct.pack("<Q", len(k)) + k)
                f.write(struct.pack("<Q", len(vals)))
                for v in vals:
                    f.write(struct.pack("<Q", len(v)) + v)


def check(path):
    import h5py
    import numpy as np
    bad = 0
    with h5py.File(path, "r") as f:
        for name, (vsize, dtype, _, _, _) in CASES.items():
            g = f[name]
            assert g.attrs["layout"] in (b"group", "group"), name
            keys = g["keys"][:].tobytes()
            ko = g["key_offsets"][:]
            go = g["group_offsets"][:]
            vals = g["values"]
            got = []
            if vsize == 0:
                vb = vals[:].tobytes()
                vo = g["value_offsets"][:]
                allv = [vb[vo[j]:vo[j + 1]] for j in range(len(vo) - 1)]
            else:
                a = vals[:]
                want_dt = {INT64: np.int64, FLOAT64: np.float64,
                           BYTES: np.uint8}[dtype]
                assert a.dtype == want_dt, (name, a.dtype)
                allv = [np.ascontiguousarray(a[j]).astype(a.dtype.newbyteorder("<")).tobytes()
                        for j in range(a.shape[0])]
            for i in range(len(ko) - 1):
                got.append((keys[ko[i]:ko[i + 1]], allv[go[i]:go[i + 1]]))
            # Rank by rank, each rank's keys ascending: the same set of
            # groups as the golden once sorted.
            want = groups(name)
            if sorted(got) != sorted(want):
                print("%s: %s differs from the golden (%d vs %d groups)" %
                      (path, name, len(got), len(want)))
                bad += 1
            if ko[-1] != len(keys) or go[-1] != sum(len(v) for _, v in want):
                print("%s: %s: closing offsets wrong" % (path, name))
                bad += 1
    print("%s: %s" % (path, "FAIL" if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
