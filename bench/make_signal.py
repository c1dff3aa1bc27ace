#!/usr/bin/env python3
"""Write a synthetic 1-D series to HDF5, for pmr-autocorr's benchmark and
sample.

    make_signal.py OUT.h5 N [--dataset /signal] [--kind sines|ar1] [--seed S]

kinds (float64, deterministic for a given N and seed):
  sines  10 + sin(2 pi i / 50) + 0.5 sin(2 pi i / 333.3) + 0.25 sin(2 pi i /
         1234.5) + white noise N(0, 1): periodic structure at lags in the
         hundreds, a mean far from zero. Vectorised, written in slices of
         2^22 samples, so N = 10^8 (800 MB) takes seconds and little memory.
  ar1    x[i] = 0.9 x[i-1] + e[i] + sin(2 pi i / 64), e ~ N(0, 1): an
         exponentially decaying autocorrelation with a ripple. A Python loop:
         for small N (the sample in data/).

The file is written under a temporary name and renamed when complete.
Needs numpy and h5py (Debian: python3-numpy python3-h5py).
"""
import argparse
import math
import os
import sys

import h5py
import numpy as np

SLICE = 1 << 22


def sines(i0, i1, rng):
    t = np.arange(i0, i1, dtype=np.float64)
    return (10.0 + np.sin(2 * math.pi * t / 50.0) + 0.5 * np.sin(2 * math.pi * t / 333.3)
            + 0.25 * np.sin(2 * math.pi * t / 1234.5) + rng.standard_normal(i1 - i0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("n", type=float, help="samples (1e8 is fine)")
    ap.add_argument("--dataset", default="/signal")
    ap.add_argument("--kind", choices=("sines", "ar1"), default="sines")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    n = int(args.n)
    if n < 1:
        ap.error("N must be at least 1")
    if args.kind == "ar1" and n > 10**6:
        ap.error("--kind ar1 is a Python loop: at most 10^6 samples")
    rng = np.random.default_rng(args.seed)
    tmp = "%s.tmp-%d" % (args.out, os.getpid())
    try:
        with h5py.File(tmp, "w") as f:
            d = f.create_dataset(args.dataset, shape=(n,), dtype=np.float64)
            if args.kind == "ar1":
                e = rng.standard_normal(n)
                x = np.empty(n)
                prev = 0.0
                for i in range(n):
                    prev = 0.9 * prev + e[i] + math.sin(2 * math.pi * i / 64.0)
                    x[i] = prev
                d[:] = x
            else:
                for i0 in range(0, n, SLICE):
                    i1 = min(n, i0 + SLICE)
                    d[i0:i1] = sines(i0, i1, rng)
            d.attrs["kind"] = args.kind
            d.attrs["seed"] = args.seed
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
