#!/usr/bin/env python3
"""Inputs and goldens for test_h5src (the HDF5 dataset source).

Writes HDF5 files with h5py into OUTDIR and, next to them, the expected
results computed with numpy alone (never with pmr):

  goldens.txt   one line per dataset and conversion:
                SPEC MODE ROWS COLS COUNT SUM WSUM MIN LAG1 LAG3
                MODE i: values converted to int64 (floats truncated), sums
                in wrapping 64-bit arithmetic, printed as signed int64;
                MODE f: values converted to float64, sums printed with repr.
                With x[i, j] the values (a 1-D dataset has one column):
                  SUM  = sum of x
                  WSUM = sum of ((i % 100) + 1) * (j + 1) * x[i, j]
                  MIN  = min of x
                  LAGk = sum over i of x[i, 0] * x[i + k, 0]
  rowsums.bin   float64 sums of each row of big.h5:/f64, native order

Float data are multiples of 1/4 of moderate size, so float sums are exact
in any order (the lag sums of the int64 data excepted: compare those with a
relative tolerance).

Usage: make_h5_inputs.py OUTDIR
"""
import math
import os
import shutil
import sys

import h5py
import numpy as np

RNG = np.random.default_rng(20240611)


def ints(dtype, n, lo, hi, cols=None):
    shape = (n,) if cols is None else (n, cols)
    return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


def quarters(dtype, n, lo, hi, cols=None):
    """Multiples of 0.25 in [lo, hi]: exact in float32 and float64."""
    shape = (n,) if cols is None else (n, cols)
    return (RNG.integers(lo * 4, hi * 4, size=shape, endpoint=True) / 4.0).astype(dtype)


def golden_lines(spec, data):
    x = data if data.ndim == 2 else data.reshape(-1, 1)
    rows, cols = x.shape
    w = ((np.arange(rows) % 100) + 1)[:, None] * (np.arange(cols) + 1)[None, :]
    out = []
    # int64 mode: HDF5 truncates floats toward zero, as astype does.
    xi = x.astype(np.int64)
    xu = xi.astype(np.uint64)  # two's complement: wrapping arithmetic
    wu = w.astype(np.uint64)

    def signed(v):
        v = int(v) % (1 << 64)
        return v - (1 << 64) if v >= (1 << 63) else v

    def ulag(k):
        c = xu[:, 0]
        return signed((c[:-k] * c[k:]).sum(dtype=np.uint64)) if rows > k else 0

    with np.errstate(over="ignore"):
        isum = signed(xu.sum(dtype=np.uint64))
        iwsum = signed((xu * wu).sum(dtype=np.uint64))
        il1, il3 = ulag(1), ulag(3)
    out.append(f"{spec} i {rows} {cols} {rows} {isum} {iwsum} {int(xi.min())} {il1} {il3}")

    xf = x.astype(np.float64)

    def flag(k):
        c = xf[:, 0]
        return math.fsum(c[:-k] * c[k:]) if rows > k else 0.0

    fsum = math.fsum(xf.ravel())
    fwsum = math.fsum((xf * w).ravel())
    out.append(f"{spec} f {rows} {cols} {rows} {fsum!r} {fwsum!r} "
               f"{float(xf.min())!r} {flag(1)!r} {flag(3)!r}")
    return out


def main():
    out = sys.argv[1]
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    gold = []

    def put(f, fname, name, data, **kw):
        f.create_dataset(name, data=data, **kw)
        gold.extend(golden_lines(f"{fname}:/{name}", data))

    # Every type in every layout.
    types = {
        "i8": ints(np.int8, 1237, -128, 127),
        "u16": ints(np.uint16, 1000, 0, 65535),
        "i32": ints(np.int32, 777, -2**31, 2**31 - 1, cols=3),
        "i64": ints(np.int64, 1237, 3 * 10**9, 3 * 10**9 + 1000),
        "f32": quarters(np.float32, 999, -1000, 1000),
        "f64": quarters(np.float64, 500, -10**6, 10**6, cols=4),
    }
    with h5py.File(os.path.join(out, "types.h5"), "w") as f:
        for layout in ("contig", "chunked", "gzip"):
            for name, data in types.items():
                kw = {}
                if layout != "contig":
                    kw["chunks"] = (64,) + data.shape[1:]
                if layout == "gzip":
                    kw.update(compression="gzip", compression_opts=4,
                              shuffle=name in ("i32", "f64"))
                put(f, "types.h5", f"{layout}/{name}", data, **kw)

    with h5py.File(os.path.join(out, "small.h5"), "w") as f:
        put(f, "small.h5", "one", np.array([42.75]))
        put(f, "small.h5", "one2d", np.array([[1, -2, 3, -4, 5]], dtype=np.int16))
        put(f, "small.h5", "three", np.array([7, -3, 11], dtype=np.int16))
        # Fewer rows than ranks through the chunked, filtered read path.
        put(f, "small.h5", "three_gz", np.array([-5, 9, 2], dtype=np.int64),
            chunks=(2,), compression="gzip")
        # Fractions of either sign: int64 reads truncate toward zero.
        put(f, "small.h5", "conv", quarters(np.float64, 1001, -50, 50))

    big_f64 = quarters(np.float64, 100000, -1000, 1000, cols=5)
    with h5py.File(os.path.join(out, "big.h5"), "w") as f:
        put(f, "big.h5", "i32", ints(np.int32, 600000, -30000, 30000),
            chunks=(10000,), compression="gzip", compression_opts=1)
        put(f, "big.h5", "f64", big_f64)
    big_f64.sum(axis=1).astype("=f8").tofile(os.path.join(out, "rowsums.bin"))

    # Bad inputs.
    with h5py.File(os.path.join(out, "bad.h5"), "w") as f:
        f.create_group("grp").create_dataset("ok", data=np.arange(5))
        f.create_dataset("str", data=np.array([b"ab", b"cd"]))
        f.create_dataset("cmp", data=np.zeros(4, dtype=[("a", "i4"), ("b", "f8")]))
        f.create_dataset("enm", data=np.zeros(4, dtype=np.int8),
                         dtype=h5py.enum_dtype({"RED": 0, "GREEN": 1}, basetype="i1"))
        f.create_dataset("d3", data=np.zeros((2, 3, 4)))
        f.create_dataset("empty", shape=(0,), dtype=np.float64)
        f.create_dataset("empty2", shape=(4, 0), dtype=np.int32)
        f.create_dataset("scalar", data=1.5)
        f["dangling"] = h5py.SoftLink("/nowhere")
    with open(os.path.join(out, "notanh5.h5"), "w") as t:
        t.write("this is not an HDF5 file\n")
    os.mkdir(os.path.join(out, "dir.h5"))

    # Colons in file names: a single candidate split, and "d:/c.h5" where
    # the shorter prefix "d" is an HDF5 file too (the longest must win).
    colon = np.arange(10, dtype=np.int32) * 3
    with h5py.File(os.path.join(out, "a:b.h5"), "w") as f:
        put(f, "a:b.h5", "x", colon)
    os.mkdir(os.path.join(out, "d:"))
    with h5py.File(os.path.join(out, "d:", "c.h5"), "w") as f:
        put(f, "d:/c.h5", "x", colon + 1)
    with h5py.File(os.path.join(out, "d"), "w") as f:
        f.create_dataset("c.h5", data=np.zeros(3))

    with open(os.path.join(out, "goldens.txt"), "w") as g:
        g.write("\n".join(gold) + "\n")


if __name__ == "__main__":
    main()
