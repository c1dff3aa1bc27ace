#!/usr/bin/env python3
"""Points for the k-means benchmark (bench/kmeans.sh).

    kmeans_gen.py -n N -d D -k K [-s SEED] -o PREFIX

Writes, for N points in D dimensions drawn from K Gaussian blobs (centres
uniform in [-100, 100]^D, unit standard deviation, blob sizes equal on
average):

    PREFIX.h5           /points float64 [N, D], /init float64 [K, D] (K
                        distinct points chosen at random: the initial
                        centroids both programs start from), /centres
    PREFIX.points.f64   the points, raw native float64 (for the C baseline)
    PREFIX.init.f64     the initial centroids, raw

in pieces of a million rows, so memory stays small; the same arguments give
the same bytes (numpy's PCG64). Needs numpy and h5py.
"""
import argparse
import os
import sys

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("-d", type=int, default=3)
    ap.add_argument("-k", type=int, default=100)
    ap.add_argument("-s", "--seed", type=int, default=42)
    ap.add_argument("-o", "--prefix", required=True)
    a = ap.parse_args()
    if a.n < a.k or a.k < 1 or a.d < 1:
        ap.error("need n >= k >= 1 and d >= 1")
    rng = np.random.default_rng(a.seed)
    centres = rng.uniform(-100, 100, (a.k, a.d))
    init_rows = np.sort(rng.choice(a.n, a.k, replace=False))
    init = np.empty((a.k, a.d))
    tmp = a.prefix + ".tmp"
    with h5py.File(tmp + ".h5", "w") as f, open(tmp + ".points.f64", "wb") as raw:
        pts = f.create_dataset("points", (a.n, a.d), dtype="f8", chunks=(min(a.n, 65536), a.d))
        piece = 1 << 20
        for lo in range(0, a.n, piece):
            hi = min(a.n, lo + piece)
            X = centres[rng.integers(0, a.k, hi - lo)] + rng.normal(0, 1, (hi - lo, a.d))
            pts[lo:hi] = X
            X.tofile(raw)
            sel = init_rows[(init_rows >= lo) & (init_rows < hi)]
            init[np.searchsorted(init_rows, sel)] = X[sel - lo]
        f["init"] = init
        f["centres"] = centres
    init.tofile(tmp + ".init.f64")
    for ext in (".h5", ".points.f64", ".init.f64"):
        os.replace(tmp + ext, a.prefix + ext)
    print("wrote %s.{h5,points.f64,init.f64}: %d points x %d dims, %d blobs"
          % (a.prefix, a.n, a.d, a.k), file=sys.stderr)


if __name__ == "__main__":
    main()
