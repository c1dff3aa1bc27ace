"""An independent Python implementation of pmr-gen's generators: the golden.

Written from the definitions in apps/gen/rng.h, text.c and arrays.c (not
from their code paths): Philox4x32-10 (checked here against the Random123
known-answer vectors), the (seed, stream, index) layout of the draws,
Box-Muller, Lemire's bounded integers, the Zipf vocabulary and alias table,
the blocked AR(1). Integer work is vectorised with numpy (exact);
transcendental functions go through Python's math module one value at a
time, which calls the same C library functions as pmr-gen, so every value
is reproduced bit for bit.
"""
import math

import numpy as np

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85

STREAM_NUMBERS, STREAM_CENTRES, STREAM_LABELS, STREAM_POINTS, STREAM_NOISE, STREAM_TEXT = 1, 2, 3, 4, 5, 6
TWO_PI = 2.0 * math.pi
AR1_BLOCK = 65536

# Random123's tests/kat_vectors, the philox4x32 R=10 lines: ctr, key, out.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((MASK32,) * 4, (MASK32, MASK32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def philox(ctr, key):
    """Philox4x32-10 on Python ints: the textbook form (Salmon et al. 2011),
    key bumped between rounds."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0 = (k0 + W0) & MASK32
            k1 = (k1 + W1) & MASK32
        p0 = M0 * c0
        p1 = M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0), p1 & MASK32, ((p0 >> 32) ^ c3 ^ k1), p0 & MASK32
    return c0, c1, c2, c3


def check_kat():
    for ctr, key, want in KAT:
        got = philox(ctr, key)
        assert got == want, f"philox{ctr}{key} = {[hex(x) for x in got]}, want {[hex(x) for x in want]}"
    # The vectorised form agrees with the scalar one.
    p = np.array([0, 1, 2**32 + 5, 2**40 + 3], dtype=np.uint64)
    w0, w1 = pairs(123456789012345, 5, p)
    for i, pi in enumerate(p.tolist()):
        o = philox((pi & MASK32, pi >> 32, 5, 0), (123456789012345 & MASK32, 123456789012345 >> 32))
        assert int(w0[i]) == o[0] | o[1] << 32 and int(w1[i]) == o[2] | o[3] << 32


def pairs(seed, stream, p, attempt=0):
    """Calls p (uint64 array) of a stream: (word 2p, word 2p+1) as uint64 arrays."""
    p = np.asarray(p, dtype=np.uint64)
    m32 = np.uint64(MASK32)
    s32 = np.uint64(32)
    c0 = p & m32
    c1 = p >> s32
    c2 = np.full_like(p, stream)
    c3 = np.full_like(p, attempt)
    k0, k1 = seed & MASK32, seed >> 32
    for r in range(10):
        if r:
            k0 = (k0 + W0) & MASK32
            k1 = (k1 + W1) & MASK32
        p0 = np.uint64(M0) * c0
        p1 = np.uint64(M1) * c2
        c0, c1, c2, c3 = ((p1 >> s32) ^ c1 ^ np.uint64(k0)), p1 & m32, ((p0 >> s32) ^ c3 ^ np.uint64(k1)), p0 & m32
    return c0 | (c1 << s32), c2 | (c3 << s32)


def words(seed, stream, first, n, attempt=0):
    """Words [first, first + n) of a stream, as a list of Python ints."""
    j = np.arange(first, first + n, dtype=np.uint64)
    w0, w1 = pairs(seed, stream, j >> np.uint64(1), attempt)
    return np.where((j & np.uint64(1)) == 0, w0, w1).tolist()


def u01(w):
    return float(w >> 11) * 2.0 ** -53


def u01c(w):
    return float((w >> 11) + 1) * 2.0 ** -53


def normals(seed, stream, first, n):
    """Normals [first, first + n): Box-Muller on the two words of call j // 2."""
    if n == 0:
        return []
    p0, p1 = first // 2, (first + n - 1) // 2
    w0, w1 = pairs(seed, stream, np.arange(p0, p1 + 1, dtype=np.uint64))
    out = []
    for a, b in zip(w0.tolist(), w1.tolist()):
        r = math.sqrt(-2.0 * math.log(u01c(a)))
        t = TWO_PI * u01(b)
        out.append(r * math.cos(t))
        out.append(r * math.sin(t))
    k = first - 2 * p0
    return out[k:k + n]


def integers(seed, stream, first, n, lo, hi):
    """Integers in [lo, hi], Lemire's multiply-shift, rejected draws redrawn
    from the same word with attempt 1, 2, ..."""
    rng = (hi - lo + 1) & MASK64
    ws = words(seed, stream, first, n)
    if rng == 0:
        return [w - (1 << 64) if w >> 63 else w for w in ws]
    t = ((1 << 64) - rng) % rng
    out = []
    for i, w in enumerate(ws):
        m = w * rng
        a = 1
        while (m & MASK64) < t:
            w = words(seed, stream, first + i, 1, attempt=a)[0]
            m = w * rng
            a += 1
        v = (lo + (m >> 64)) & MASK64
        out.append(v - (1 << 64) if v >> 63 else v)
    return out


# --- numbers ---------------------------------------------------------------------

def numbers(seed, n, dist, low=0.0, high=1.0, mean=0.0, std=1.0, ilow=0, ihigh=1000, dtype=None):
    if dist == "integers":
        return np.array(integers(seed, STREAM_NUMBERS, 0, n, ilow, ihigh), dtype=dtype or np.int64)
    if dist == "uniform":
        w = high - low
        vals = [low + w * u01(x) for x in words(seed, STREAM_NUMBERS, 0, n)]
    elif dist == "normal":
        vals = [mean + std * z for z in normals(seed, STREAM_NUMBERS, 0, n)]
    elif dist == "lognormal":
        vals = [math.exp(mean + std * z) for z in normals(seed, STREAM_NUMBERS, 0, n)]
    else:
        raise ValueError(dist)
    return np.array(vals, dtype=np.float64).astype(dtype or np.float64)


# --- points ----------------------------------------------------------------------

def centres(seed, k, d, box):
    return np.array([-box + 2.0 * box * u01(w) for w in words(seed, STREAM_CENTRES, 0, k * d)]).reshape(k, d)


def points(seed, n, d, k, spread, box):
    c = centres(seed, k, d, box)
    labels = integers(seed, STREAM_LABELS, 0, n, 0, k - 1)
    z = normals(seed, STREAM_POINTS, 0, n * d)
    pts = [c[labels[i]][j] + spread * z[i * d + j] for i in range(n) for j in range(d)]
    return np.array(pts).reshape(n, d), c, np.array(labels, dtype=np.int32)


# --- signal ----------------------------------------------------------------------

def ar1(seed, n, phi, sigma, block=AR1_BLOCK):
    """The blocked form pmr-gen computes: y from 0 in each block, the carries
    chained in block order, x = y + phi^(t+1) X."""
    z = normals(seed, STREAM_NOISE, 0, n)
    pw = [1.0]
    for _ in range(block):
        pw.append(pw[-1] * phi)
    c0 = sigma / math.sqrt(1.0 - phi * phi)
    x = [0.0] * n
    carry = 0.0
    for s in range(0, n, block):
        e = min(s + block, n)
        y = [0.0] * (e - s)
        y[0] = z[s] * (c0 if s == 0 else sigma)
        for t in range(1, e - s):
            y[t] = phi * y[t - 1] + sigma * z[s + t]
        for t in range(e - s):
            x[s + t] = y[t] + pw[t + 1] * carry
        carry = y[-1] + pw[e - s] * carry
    return np.array(x)


def ar1_sequential(seed, n, phi, sigma):
    """The plain recurrence (equal to the blocked form up to rounding)."""
    z = normals(seed, STREAM_NOISE, 0, n)
    x = [0.0] * n
    x[0] = sigma / math.sqrt(1.0 - phi * phi) * z[0]
    for i in range(1, n):
        x[i] = phi * x[i - 1] + sigma * z[i]
    return np.array(x)


def sines(seed, n, freqs, amps, phases, sigma):
    z = normals(seed, STREAM_NOISE, 0, n)
    out = []
    for i in range(n):
        s = 0.0
        for f, a, ph in zip(freqs, amps, phases):
            t = f * float(i)
            t -= math.floor(t)
            s += a * math.sin(TWO_PI * t + ph)
        out.append(s + sigma * z[i])
    return np.array(out)


# --- text ------------------------------------------------------------------------

def _splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return x, z ^ (z >> 31)


def vocabulary(n):
    """Spelling of ranks 0..n-1: letters from splitmix64 of (rank, salt), the
    salt bumped while the word equals an earlier one."""
    seen = set()
    out = []
    for r in range(n):
        lg = 0
        while (2 << lg) <= r + 1:
            lg += 1
        extra = min(1 + lg * 2 // 3, 10)
        salt = 0
        while True:
            st = ((r << 20) ^ (salt * 0x5851F42D4C957F2D)) & MASK64
            st, h = _splitmix(st)
            length = 2 + h % (extra + 1)
            w = bytearray()
            for i in range(length):
                if i % 12 == 0:
                    st, h = _splitmix(st)
                w.append(97 + h % 26)
                h //= 26
            w = bytes(w)
            if w not in seen:
                break
            salt += 1
        seen.add(w)
        out.append(w)
    return out


def alias_table(n, s):
    """Walker's alias table for P(r) ~ (r + 1)^-s: (thresh, alias) lists."""
    p = [math.pow(i + 1.0, -s) for i in range(n)]
    total = 0.0
    for x in p:
        total += x
    p = [x * n / total for x in p]
    small = [i for i in range(n) if p[i] < 1.0]
    large = [i for i in range(n) if p[i] >= 1.0]
    thresh, alias = [0] * n, [0] * n
    while small and large:
        sm, lg = small.pop(), large[-1]
        thresh[sm] = int(min(p[sm] * 4294967296.0, 4294967295.0))
        alias[sm] = lg
        p[lg] -= 1.0 - p[sm]
        if p[lg] < 1.0:
            large.pop()
            small.append(lg)
    for i in large + small:
        thresh[i], alias[i] = MASK32, i
    return thresh, alias


def zipf_probabilities(n, s):
    p = np.array([math.pow(i + 1.0, -s) for i in range(n)])
    return p / p.sum()


def text(seed, size, vocab=200000, exponent=1.0):
    """The corpus: line j from words 16j..16j+15 of the text stream, lines
    concatenated, cut at `size` bytes, the last byte made '\\n'."""
    voc = vocabulary(vocab)
    thresh, alias = alias_table(vocab, exponent)
    parts, total, j = [], 0, 0
    batch = 256
    while total < size:
        p = np.arange(j * 8, (j + batch) * 8, dtype=np.uint64)
        w0, w1 = pairs(seed, STREAM_TEXT, p)
        w = np.stack([w0, w1], axis=1).reshape(batch, 16).tolist()
        for line in w:
            nw = 10 + line[0] % 6
            ws = []
            for m in range(1, nw + 1):
                u = line[m]
                i = ((u >> 32) * vocab) >> 32
                ws.append(voc[i] if (u & MASK32) < thresh[i] else voc[alias[i]])
            b = b" ".join(ws) + b"\n"
            parts.append(b)
            total += len(b)
            if total >= size:
                break
        j += batch
    data = bytearray(b"".join(parts)[:size])
    data[-1] = ord("\n")
    return bytes(data)


if __name__ == "__main__":
    check_kat()
    print("Philox4x32-10 known answers: ok")


STREAM_GRAPH = 8
# floor(p * 2^32) of the cumulative Graph500 R-MAT probabilities a, a+b, a+b+c.
RMAT_A = math.floor(0.57 * 2**32)
RMAT_AB = math.floor(0.76 * 2**32)
RMAT_ABC = math.floor(0.95 * 2**32)


def graph(seed, scale, edge_factor):
    """R-MAT edges int64 [m, 2]: edge e uses words e*W .. e*W+W-1 (W =
    ceil(scale/2)); level l (most significant bit first) uses the 32-bit half
    l % 2 (low, then high) of word e*W + l//2 to choose a quadrant."""
    m = edge_factor << scale
    W = (scale + 1) // 2
    j = np.arange(0, m * W, dtype=np.uint64)
    w0, w1 = pairs(seed, STREAM_GRAPH, j >> np.uint64(1))
    w = np.where((j & np.uint64(1)) == 0, w0, w1).reshape(m, W)
    src = np.zeros(m, dtype=np.uint64)
    dst = np.zeros(m, dtype=np.uint64)
    for lev in range(scale):
        u = (w[:, lev // 2] >> np.uint64(32 * (lev % 2))) & np.uint64(MASK32)
        sb = u >= np.uint64(RMAT_AB)
        db = ((u >= np.uint64(RMAT_A)) & (u < np.uint64(RMAT_AB))) | (u >= np.uint64(RMAT_ABC))
        src = (src << np.uint64(1)) | sb.astype(np.uint64)
        dst = (dst << np.uint64(1)) | db.astype(np.uint64)
    return np.stack([src, dst], axis=1).astype(np.int64)
