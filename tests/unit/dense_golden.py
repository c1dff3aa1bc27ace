#!/usr/bin/env python3
"""Golden values for test_dense's exact float sums (PMR_SUM_F64).

Writes OUT (little-endian binary) with the records test_dense maps and the
sums it must get:
  header  uint64 x 6: magic, ncells, width, generic cells, records, specials
  specials  uint64 x 3 each: cell, column, bits of the value (records
            0..specials-1 emit one value each with pmr_emit_cell_f64)
  expected  uint64 bits x (ncells * width), row-major
Records specials..records-1 are generic: record i emits `width` values into
cell (i - specials) % generic with pmr_emit_cell; their values come from an
integer formula that test_dense.c repeats (value_bits below).

Each sum is computed exactly as an integer number of 2^-1074 units, then
rounded once by Python's int true division (correctly rounded, ties to
even, overflow raised), and checked against math.fsum (also correctly
rounded) wherever fsum does not overflow: two independent methods.
"""
import math
import random
import struct
import sys

M64 = (1 << 64) - 1
M52 = (1 << 52) - 1
MAGIC = 0x706D7264656E7365  # "pmrdense"
GENERIC = 12   # cells 0..11: formula values
WIDTH = 2
PER_CELL = 4998  # a multiple of 6: every cancelling pair complete
DMAX = sys.float_info.max
INF = math.inf
NAN = math.nan


def mix(x):
    """splitmix64's finaliser (test_dense.c has the same)."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def mk(sign, exp, mant):
    return (sign << 63) | (exp << 52) | (mant & M52)


def big(cell, q):
    h = mix(cell * 1000003 + q)
    return mk(h >> 63, 1900 + (h >> 52 & 0x3FF) % 100, h)


def value_bits(j, col):
    """Bits of generic record j's value for column col."""
    cell, q = j % GENERIC, j // GENERIC
    h1 = mix(2 * j + col)
    h2 = mix(h1)
    s = h2 >> 63
    kind = cell % 4
    if kind == 0:  # the whole exponent range: huge and tiny together
        return mk(s, 1 + h2 % 2030, h1)
    if kind == 1:  # cancellation
        if col == 0:  # pairs that cancel exactly
            return big(cell, q) if q % 2 == 0 else big(cell, q - 1) ^ (1 << 63)
        r = q % 3  # tiny values under huge ones that cancel
        if r == 0:
            return big(cell, q)
        if r == 1:
            return mk(s, 1 + h2 % 100, h1)
        return big(cell, q - 2) ^ (1 << 63)
    if kind == 2:
        if col == 0:  # subnormals of both signs
            return mk(s, 0, h1)
        return mk(s, 1013 + h2 % 20, h1)  # ordinary values near 1
    # kind 3: the top of the range
    if col == 0:  # alternating signs at the largest exponent
        return mk(q & 1, 2046, h1)
    return mk(0, 2040 + h2 % 7, h1)  # positive: overflows to +Inf


SPECIALS = [
    (12, 0, INF), (12, 0, 1.5), (12, 0, -1e300),      # +Inf
    (12, 1, NAN), (12, 1, 2.0),                         # NaN
    (13, 0, INF), (13, 0, -INF), (13, 0, 1.0),          # Inf - Inf: NaN
    (13, 1, -INF), (13, 1, 1.0),                        # -Inf
    (14, 0, 1.0), (14, 0, 2.0 ** -53),                  # tie, to even: 1
    (14, 1, 1.0), (14, 1, 2.0 ** -52), (14, 1, 2.0 ** -53),  # tie, up
    (15, 0, DMAX), (15, 0, 2.0 ** 970),                 # tie at the top: Inf
    (15, 1, DMAX), (15, 1, 2.0 ** 970), (15, 1, -5e-324),  # just below
    (16, 0, -0.0),                                      # +0.0 (col 1: none)
    (17, 0, 5e-324), (17, 0, 5e-324), (17, 0, 5e-324),  # 3 x the least
    (17, 1, 1e308), (17, 1, 1e308), (17, 1, -1e308),    # passing overflow
    (18, 1, 2.0 ** -1022 - 2.0 ** -1074), (18, 1, 5e-324),  # to normal
    (19, 0, -DMAX), (19, 0, -(2.0 ** 970)),             # -Inf by rounding
    (19, 1, 1.5 * 2.0 ** 1023), (19, 1, 1.5 * 2.0 ** 1023),  # +Inf
] + [(18, 0, 0.1)] * 10                                 # ten 0.1: 1.0
FUZZ = 100  # cells 20..119: rounding cases drawn at random (fixed seed)
NCELLS = 20 + FUZZ


def fuzz_specials():
    """Sums that sit on, or a unit in the last place beside, a rounding
    tie: x, half an ulp of x (the tie), maybe a nudge of the least
    subnormal or of a smaller random value either way, maybe a cancelling
    value; at every magnitude, subnormals and the overflow edge included."""
    rng = random.Random(20240601)
    out = []
    for n in range(FUZZ):
        c = 20 + n
        for k in range(WIDTH):
            e = rng.choice([rng.randrange(1, 2047), rng.randrange(1, 60),
                            rng.randrange(2000, 2047)])
            x = double_of(mk(rng.getrandbits(1), e, rng.getrandbits(52)))
            ulp = math.ulp(x)
            xs = [x, math.copysign(ulp / 2, rng.choice([1, -1]))]
            nudge = rng.randrange(4)
            if nudge == 1:
                xs.append(rng.choice([5e-324, -5e-324]))
            elif nudge == 2:
                xs.append(math.copysign(ulp * rng.random() / 4,
                                        rng.choice([1, -1])))
            if rng.randrange(3) == 0:  # cancel most of x: the tie moves down
                xs.append(-math.copysign(math.ulp(x) * 2 ** 40, x)
                          if abs(x) > 2 ** -900 else -x / 2)
            rng.shuffle(xs)
            out += [(c, k, v) for v in xs]
    return out


def bits_of(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def double_of(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def units(b):
    """The value of finite bits b in units of 2^-1074, exactly."""
    e, m = b >> 52 & 0x7FF, b & M52
    v = m if e == 0 else (m | 1 << 52) << (e - 1)
    return -v if b >> 63 else v


def main():
    SPECIALS.extend(fuzz_specials())
    nrec = len(SPECIALS) + GENERIC * PER_CELL
    vals = {(c, k): [] for c in range(NCELLS) for k in range(WIDTH)}
    for c, k, x in SPECIALS:
        vals[(c, k)].append(bits_of(x))
    for j in range(GENERIC * PER_CELL):
        for k in range(WIDTH):
            vals[(j % GENERIC, k)].append(value_bits(j, k))
    expected = []
    for c in range(NCELLS):
        for k in range(WIDTH):
            bs = vals[(c, k)]
            xs = [double_of(b) for b in bs]
            if any(math.isnan(x) for x in xs) or (INF in xs and -INF in xs):
                r = NAN
            elif INF in xs:
                r = INF
            elif -INF in xs:
                r = -INF
            else:
                s = sum(units(b) for b in bs)
                try:
                    r = s / (1 << 1074)
                except OverflowError:
                    r = INF if s > 0 else -INF
                try:
                    f = math.fsum(xs)
                except OverflowError:
                    f = None
                if f is not None and bits_of(f) != bits_of(r) and not (
                        f == 0 and r == 0):
                    sys.exit(f"golden methods disagree on cell {c} col {k}: "
                             f"{r!r} vs fsum {f!r}")
            expected.append(0x7FF8000000000000 if math.isnan(r)
                            else bits_of(r))
    with open(sys.argv[1], "wb") as fp:
        fp.write(struct.pack("<6Q", MAGIC, NCELLS, WIDTH, GENERIC, nrec,
                             len(SPECIALS)))
        for c, k, x in SPECIALS:
            fp.write(struct.pack("<3Q", c, k, bits_of(x)))
        fp.write(struct.pack(f"<{len(expected)}Q", *expected))


if __name__ == "__main__":
    main()
