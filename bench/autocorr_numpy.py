#!/usr/bin/env python3
"""numpy's autocorrelation of an HDF5 series: the reference pmr-autocorr's
benchmark times and checks against.

    autocorr_numpy.py FILE.h5:/dataset L OUT.npy [--method fft|blocked|correlate]

Reads the dataset with h5py (as float64), then
  fft        r = irfft(|rfft(x, N)|^2, N)[:L+1] with N the first power of
             two >= n + L, so the circular sums do not wrap at lags 0..L:
             what statsmodels' acf(fft=True) and scipy's correlate(method=
             "fft") do, O(N log N): the reference a numpy user would write;
  blocked    pmr-autocorr's algorithm in numpy: pieces of N - L samples (N
             a power of two chosen as pmr does, 16384 at L = 1000), each correlated
             with itself plus its next L samples through rfft of N points,
             1024 pieces per batched rfft, the spectra summed, one irfft:
             numpy at its best on this problem, cache-sized transforms;
  correlate  np.correlate(x, x, "full")[n-1 : n+L]: the textbook form, O(n^2)
             (short series only).
Saves r[0..L] (unscaled lag sums) to OUT.npy and prints one line
"read_s=... compute_s=... n=... nfft=... peak_rss_mib=...".
"""
import argparse
import resource
import sys
import time

import h5py
import numpy as np


def fft_length(L):
    """pmr-autocorr's choice for long blocks: the power of two N > L with
    the fewest operations per sample, N log2(N) / (N - L)."""
    best = None
    for m in range(4, 40):
        N = 1 << m
        if N > L:
            cost = N * (m + 3.0) / (N - L)
            if best is None or cost < best[0]:
                best = (cost, N)
            if N > 64 * (L + 1):
                break
    return best[1]


def blocked(x, L, batch=1024):
    n = x.size
    N = fft_length(L)
    B = N - L
    xp = np.concatenate([x, np.zeros(B + L)])  # the last piece's c runs past n
    S = np.zeros(N // 2 + 1, dtype=np.complex128)
    pieces = -(-n // B)
    for p0 in range(0, pieces, batch):
        k = min(batch, pieces - p0)
        c = np.lib.stride_tricks.as_strided(xp[p0 * B:], shape=(k, B + L),
                                            strides=(B * 8, 8))
        a = c[:, :B].copy()
        if p0 + k == pieces:  # the last piece holds fewer than B samples
            a[-1, n - (pieces - 1) * B:] = 0
        S += (np.conj(np.fft.rfft(a, N)) * np.fft.rfft(c, N)).sum(axis=0)
    return np.fft.irfft(S, N)[:L + 1], N


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec")
    ap.add_argument("lag", type=int)
    ap.add_argument("out")
    ap.add_argument("--method", choices=("fft", "blocked", "correlate"), default="fft")
    args = ap.parse_args()
    path, _, dset = args.spec.rpartition(":")
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        x = f[dset][()].astype(np.float64, copy=False)
    t1 = time.perf_counter()
    n, L = x.size, args.lag
    nfft = 0
    if args.method == "correlate":
        r = np.correlate(x, x, "full")[n - 1:n + L]
    elif args.method == "blocked":
        r, nfft = blocked(x, L)
    else:
        nfft = 1 << (n + L - 1).bit_length()
        X = np.fft.rfft(x, nfft)
        r = np.fft.irfft(X.real ** 2 + X.imag ** 2, nfft)[:L + 1]
    t2 = time.perf_counter()
    np.save(args.out, r)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("read_s=%.4f compute_s=%.4f n=%d nfft=%d peak_rss_mib=%.1f"
          % (t1 - t0, t2 - t1, n, nfft, rss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
