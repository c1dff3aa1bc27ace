#!/usr/bin/env python3
"""Writes pmr results with h5py, independently of libpmr, for test_result.

    make_results.py DIR

Good files (group /res unless said otherwise), whose content test_result.c
knows in closed form:
  tricky.h5     int64: the empty key, keys with NUL bytes, keys of 100 KiB
                and 300 KiB, then k0..k999 (sum_i64, app "test",
                layout_version 1)
  empty.h5      zero pairs
  f64.h5        float64: f0..f499 = i / 2 (sum_f64)
  bytes16.h5    uint8 [n, 16]: b0..b299, byte j of b<i> = (i + j) % 256;
                gzip-compressed, chunked (combiner "user")
  nested.h5     group /run1/counts: n0..n9 = 10 + i, no attributes
  i32.h5        int32 values: q0..q99 = -i
  vlen.h5       as nested.h5's pairs in /res, with variable-length string
                attributes (h5py's default for str)
  two.h5        two key/value groups, /a and /b
Bad files (each named for what is wrong):
  text.h5, nogroup.h5, nokeys.h5, keys_i32.h5, offs_i64.h5, offs_short.h5,
  vals_3d.h5, vals_str.h5, newer.h5, offs_order.h5, offs_end.h5, dense.h5
"""
import os
import sys

import h5py
import numpy as np

BIG = 100 * 1024
HUGE = 300 * 1024  # over a round's key half at a 1 MiB budget


def tricky_pairs():
    pairs = [(b"", 7), (b"\x00", 11), (b"a\x00b", 13), (b"\x00\x00\x00", -5),
             (bytes((i * 7 + 3) % 256 for i in range(BIG)), 1 << 40),
             (bytes((i * 13 + 1) % 256 for i in range(HUGE)), 1 << 41)]
    pairs += [(b"k%d" % i, i * i * 1000003) for i in range(1000)]
    return pairs


def write_kv(path, pairs, group="res", vdtype=np.int64, attrs=None, values=None,
             mode="w", **dskw):
    keys = b"".join(k for k, _ in pairs)
    offs = np.zeros(len(pairs) + 1, dtype=np.uint64)
    offs[1:] = np.cumsum([len(k) for k, _ in pairs], dtype=np.uint64)
    if values is None:
        values = np.array([v for _, v in pairs], dtype=vdtype)
    with h5py.File(path, mode) as f:
        g = f.create_group(group)
        g.create_dataset("keys", data=np.frombuffer(keys, dtype=np.uint8), **dskw)
        g.create_dataset("key_offsets", data=offs, **dskw)
        g.create_dataset("values", data=values, **dskw)
        for k, v in (attrs or {}).items():
            g.attrs[k] = v


def fixed(s):
    return np.bytes_(s)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)  # noqa: E731

    write_kv(p("tricky.h5"), tricky_pairs(),
             attrs={"combiner": fixed("sum_i64"), "app": fixed("test"),
                    "layout_version": np.int64(1), "layout": fixed("kv")})
    write_kv(p("empty.h5"), [], attrs={"combiner": fixed("sum_i64")})
    write_kv(p("f64.h5"), [(b"f%d" % i, i / 2) for i in range(500)], vdtype=np.float64,
             attrs={"combiner": fixed("sum_f64")})
    n = 300
    vals = np.array([[(i + j) % 256 for j in range(16)] for i in range(n)], dtype=np.uint8)
    write_kv(p("bytes16.h5"), [(b"b%d" % i, 0) for i in range(n)], values=vals,
             attrs={"combiner": fixed("user")}, chunks=True, compression="gzip")
    write_kv(p("nested.h5"), [(b"n%d" % i, 10 + i) for i in range(10)], group="run1/counts")
    write_kv(p("i32.h5"), [(b"q%d" % i, -i) for i in range(100)], vdtype=np.int32)
    write_kv(p("vlen.h5"), [(b"n%d" % i, 10 + i) for i in range(10)],
             attrs={"combiner": "max_i64", "app": "vlen-app"})
    write_kv(p("two.h5"), [(b"x", 1)], group="a")
    write_kv(p("two.h5"), [(b"y", 2)], group="b", mode="a")
    with h5py.File(p("two.h5"), "a") as f:
        f.create_group("not_kv")  # neither counts nor confuses the search

    good = [(b"g%d" % i, i) for i in range(20)]
    with open(p("text.h5"), "w") as f:
        f.write("this is not an HDF5 file\n")
    write_kv(p("nogroup.h5"), good, group="other")
    write_kv(p("nokeys.h5"), good)
    with h5py.File(p("nokeys.h5"), "a") as f:
        del f["res/keys"]
    write_kv(p("keys_i32.h5"), good)
    with h5py.File(p("keys_i32.h5"), "a") as f:
        k = f["res/keys"][()]
        del f["res/keys"]
        f["res"].create_dataset("keys", data=k.astype(np.int32))
    write_kv(p("offs_i64.h5"), good)
    with h5py.File(p("offs_i64.h5"), "a") as f:
        o = f["res/key_offsets"][()]
        del f["res/key_offsets"]
        f["res"].create_dataset("key_offsets", data=o.astype(np.int64))
    write_kv(p("offs_short.h5"), good)
    with h5py.File(p("offs_short.h5"), "a") as f:
        o = f["res/key_offsets"][()]
        del f["res/key_offsets"]
        f["res"].create_dataset("key_offsets", data=o[:-1])
    write_kv(p("vals_3d.h5"), good, values=np.zeros((20, 2, 2), dtype=np.int64))
    write_kv(p("vals_str.h5"), good, values=np.array([b"v"] * 20, dtype="S4"))
    write_kv(p("newer.h5"), good, attrs={"layout_version": np.int64(2)})
    # key_offsets that go back in the middle (pair 12): found while reading.
    write_kv(p("offs_order.h5"), good)
    with h5py.File(p("offs_order.h5"), "a") as f:
        o = f["res/key_offsets"][()]
        o[12] = o[11] - 1
        f["res/key_offsets"][...] = o
    write_kv(p("offs_end.h5"), good)
    with h5py.File(p("offs_end.h5"), "a") as f:
        o = f["res/key_offsets"][()]
        o[-1] -= 1
        f["res/key_offsets"][...] = o
    with h5py.File(p("dense.h5"), "w") as f:
        g = f.create_group("res")
        g.create_dataset("values", data=np.arange(10, dtype=np.int64))
        g.attrs["layout"] = fixed("dense")
    return 0


if __name__ == "__main__":
    sys.exit(main())
