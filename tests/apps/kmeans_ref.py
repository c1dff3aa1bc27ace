"""Reference k-means for the pmr-kmeans tests: plain numpy, written from the
README's description of the algorithm, never from pmr's code or output.

* dist2: squared distances computed ((x0 - c0)^2 + (x1 - c1)^2) + ..., one
  numpy operation at a time (each rounded; numpy never fuses a multiply-add).
* lloyd: the loop of scikit-learn's KMeans(init=C, n_init=1,
  algorithm="lloyd", max_iter, tol): assign (ties to the lowest index, as
  argmin), update (an empty cluster keeps its centroid), stop when the sum
  over centroids of their squared shift is <= tol_abs; then, unless the last
  shift was 0, one more assignment for the counts, labels and final inertia.
  exact=False sums with numpy (bincount, sum); exact=True with math.fsum,
  which is the exact sum rounded once: what pmr promises bit for bit.
* tolerance: scikit-learn's tol x mean of the per-dimension variances,
  with the variances' sums taken with math.fsum.
* random_init and kmeanspp_init: the counter-based draws the README
  specifies, in Python integers.
"""
import bisect
import itertools
import math

import numpy as np

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def draw(seed, stream, i):
    return mix((mix((seed + stream * GOLDEN) & M64) + (i + 1) * GOLDEN) & M64)


def below(r, m):
    return (r * m) >> 64


def dist2(X, C):
    """[n, k] squared distances."""
    D = (X[:, None, 0] - C[None, :, 0]) ** 2
    for j in range(1, X.shape[1]):
        D = D + (X[:, None, j] - C[None, :, j]) ** 2
    return D


def assign(X, C, exact):
    D = dist2(X, C)
    lab = D.argmin(axis=1)
    dmin = D[np.arange(len(X)), lab]
    inertia = math.fsum(dmin.tolist()) if exact else float(dmin.sum())
    return lab, inertia


def cluster_sums(X, lab, k, exact):
    d = X.shape[1]
    if exact:
        S = np.zeros((k, d))
        for c in range(k):
            sel = X[lab == c]
            for j in range(d):
                S[c, j] = math.fsum(sel[:, j].tolist())
        return S
    return np.stack([np.bincount(lab, weights=X[:, j], minlength=k) for j in range(d)], axis=1)


def lloyd(X, C0, max_iter, tol_abs, exact=False):
    C = np.array(C0, dtype=np.float64, copy=True)
    k = len(C)
    inertia, shift, converged, it = [], -1.0, False, 0
    for it in range(1, max_iter + 1):
        lab, ine = assign(X, C, exact)
        inertia.append(ine)
        counts = np.bincount(lab, minlength=k)
        S = cluster_sums(X, lab, k, exact)
        shift = 0.0
        for c in range(k):
            s = 0.0
            for j in range(X.shape[1]):
                v = S[c, j] / counts[c] if counts[c] else C[c, j]
                t = v - C[c, j]
                s = s + t * t
                C[c, j] = v
            shift = shift + s
        if shift <= tol_abs:
            converged = True
            break
    final = ine
    if shift != 0:
        lab, final = assign(X, C, exact)
        counts = np.bincount(lab, minlength=k)
    return {"centroids": C, "counts": counts.astype(np.int64), "inertia": np.array(inertia),
            "iterations": it, "converged": int(converged), "final_inertia": final,
            "assignments": lab.astype(np.int32)}


def tolerance(X, tol):
    if tol == 0:
        return 0.0
    n, d = X.shape
    s = 0.0
    for j in range(d):
        mean = math.fsum(X[:, j].tolist()) / n
        var = math.fsum(((X[:, j] - mean) ** 2).tolist()) / n
        s = s + var
    return s / d * tol


def random_init(n, k, seed):
    """Floyd's algorithm; centroid i is the i-th row chosen."""
    rows, seen = [], set()
    for i in range(k):
        j = n - k + i
        t = below(draw(seed, 1, i), j + 1)
        if t in seen:
            t = j
        rows.append(t)
        seen.add(t)
    return rows


def _weights(D2, e):
    return [int(w) for w in np.floor(np.ldexp(D2, 52 - e))]


def kmeanspp_init(X, k, seed):
    """D^2 sampling with integer weights floor(D^2 2^(52 - e)), e renewed
    when the total falls below 2^48; uniform when every D^2 is 0."""
    n = len(X)
    rows = [below(draw(seed, 2, 0), n)]
    D2 = np.full(n, np.inf)
    e = None
    for t in range(1, k):
        D2 = np.minimum(D2, dist2(X, X[rows[-1]][None, :])[:, 0])
        mx = float(D2.max())
        total = sum(_weights(D2, e)) if e is not None else 0
        if mx > 0 and (e is None or total < (1 << 48)):
            e = math.frexp(mx)[1]
            total = sum(_weights(D2, e))
        if total == 0:
            rows.append(below(draw(seed, 3, t), n))
            continue
        target = (total * draw(seed, 2, t)) >> 64
        cum = list(itertools.accumulate(_weights(D2, e)))
        rows.append(bisect.bisect_right(cum, target))
    return rows
