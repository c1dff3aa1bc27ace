#!/usr/bin/env python3
"""The benchmark dataset of bench/histogram.sh.

    make_histogram_data.py OUT.h5 SIZE [--seed S] [--dataset /x]

Writes one contiguous float64 dataset of SIZE bytes (K, M, G binary
suffixes; rounded down to whole values): standard normal values from
numpy's PCG64 with seed S, with a NaN every 2^20 values and a +Inf and a
-Inf every 2^24, so that the tallies have something to count. Written in
slabs of 64 MiB (memory stays small) to OUT.h5.tmp, renamed when complete.
The same arguments give the same values on every machine.
"""
import argparse
import os
import re
import sys

import h5py
import numpy as np


def size_arg(s):
    m = re.fullmatch(r"(\d+)([KMGT]?)(i?B)?", s, re.I)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r" % s)
    return int(m.group(1)) << (10 * " KMGT".index(m.group(2).upper() or " "))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("out")
    ap.add_argument("size", type=size_arg)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dataset", default="/x")
    a = ap.parse_args()
    n = a.size // 8
    if n < 1:
        sys.exit("make_histogram_data.py: SIZE must hold at least one float64")
    rng = np.random.Generator(np.random.PCG64(a.seed))
    tmp = a.out + ".tmp"
    slab = 1 << 23
    with h5py.File(tmp, "w") as f:
        d = f.create_dataset(a.dataset, (n,), dtype="f8")
        for at in range(0, n, slab):
            v = rng.standard_normal(min(slab, n - at))
            idx = np.arange(at, at + len(v))
            v[idx % (1 << 20) == 12345] = np.nan
            v[idx % (1 << 24) == 777] = np.inf
            v[idx % (1 << 24) == 778] = -np.inf
            d[at:at + len(v)] = v
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
