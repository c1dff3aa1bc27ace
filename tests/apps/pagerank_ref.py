"""PageRank as networkx computes it, in numpy: the golden of pmr-pagerank.

networkx.pagerank(G, alpha, tol=tol, max_iter=...) on a DiGraph G (the
scipy implementation networkx uses since 2.x, followed step by step):
  * G's nodes are every id of an edge; repeated edges count once; self-loops
    stay (they add to the out-degree and send rank to the node itself);
  * A is the adjacency matrix with rows scaled by 1 / out-degree;
  * x = 1/N, p = 1/N (uniform personalization), dangling weights = p;
  * each iteration: x = alpha (x A + sum(x[dangling]) p) + (1 - alpha) p;
    err = sum |x - xlast|; stop when err < N tol.
networkx raises PowerIterationFailedConvergence after max_iter; here the
last x is returned with converged = False (pmr-pagerank writes it with
converged = 0).
"""
import numpy as np


def read_edges(text):
    """The edges of a "SRC DST" text (blank and '#' comment lines skipped,
    '#' after the ids starts a comment), as a list of (int, int)."""
    out = []
    for raw in text.split(b"\n"):
        line = raw.split(b"#", 1)[0]
        f = line.split()
        if not f:
            continue
        assert len(f) == 2, raw
        out.append((int(f[0]), int(f[1])))
    return out


def pagerank(edges, alpha=0.85, tol=1e-6, max_iter=100):
    """edges: iterable of (src, dst) ints. Returns (nodes int64 array sorted,
    x float64 array, iterations, converged, dangling count, distinct edges)."""
    edges = set((int(s), int(d)) for s, d in edges)
    nodes = sorted({v for e in edges for v in e})
    n = len(nodes)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0), 0, True, 0, 0
    index = {v: i for i, v in enumerate(nodes)}
    src = np.array([index[s] for s, _ in edges], dtype=np.int64)
    dst = np.array([index[d] for _, d in edges], dtype=np.int64)
    outdeg = np.bincount(src, minlength=n).astype(float)
    w = 1.0 / outdeg[src]
    dangling = np.where(outdeg == 0)[0]
    x = np.repeat(1.0 / n, n)
    p = np.repeat(1.0 / n, n)
    it, converged = 0, False
    for it in range(1, max_iter + 1):
        xlast = x
        xa = np.bincount(dst, weights=xlast[src] * w, minlength=n)
        x = alpha * (xa + xlast[dangling].sum() * p) + (1 - alpha) * p
        err = np.absolute(x - xlast).sum()
        if err < n * tol:
            converged = True
            break
    return np.array(nodes, dtype=np.int64), x, it, converged, len(dangling), len(edges)
