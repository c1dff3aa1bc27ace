/* pmr-histogram: histogram of HDF5 datasets over MPI ranks and threads.
 *
 *   mpirun -np 4 pmr-histogram -t 2 run.h5:/particles/energy -o hist.h5 \
 *       --bins 100 --range 0:50
 *
 * The counts are numpy.histogram's, bit for bit: equal-width bins follow
 * numpy's fast path for equal bins (index from (x - lo) * norm, then one
 * correction each way against the edges, which are numpy.linspace's), the
 * last bin closed on the right; --log bins are numpy.geomspace(lo, hi, N+1)
 * searched as numpy.searchsorted does. NaN and +-Inf are counted apart.
 *
 * Passes over the data: without --range, one to find the finite min and max
 * (a PMR_MIN_F64 dense set); then the histogram itself, into a PMR_SUM_I64
 * dense set of the bins, the tallies and the statistics' sums as exact
 * fixed-point digits (see hs_blocks); rarely a third, for the standard
 * deviation alone (see hs_moments). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"

/* Bins at most: far more than any histogram needs, and within int64 cells
 * and memory budgets whatever the thread count. */
#define HS_MAX_BINS ((long long)1 << 30)
/* Local per-thread count arrays are used up to this many bins. */
#define HS_LOCAL_BINS ((uint64_t)1 << 20)

/* ---- exact sums: the app's own superaccumulator ----
 *
 * The mean and variance must not depend on how values fall to ranks and
 * threads. PMR_SUM_F64 dense sets are exact, but a map fills one set, and
 * the histogram's set counts int64 bins. So each map call sums (the block
 * sums of, see hs_blocks) its values exactly here, in the layout of
 * libpmr's exact sums (66 limbs; limb i holds a 32-bit digit
 * of weight 2^(32 i - 1074), so any finite double lands in three limbs),
 * and emits the normalised digits into int64 cells of the histogram's set,
 * where they add up exactly (a cell takes 2^31 calls' digits before it
 * could overflow). After the reduce the digit totals are turned back into
 * doubles that are each exact and fed into a PMR_SUM_F64 dense set, which
 * rounds their sum once (hs_exact_feed). */
#define HS_LIMBS 66
#define HS_TOP (HS_LIMBS - 1)
#define HS_DIGIT ((int64_t)0xffffffff)
/* Adds between normalisations: each adds less than 2^32 to a limb. */
#define HS_NORM_PERIOD ((uint64_t)1 << 28)

static inline void hs_sacc_add(int64_t *l, double x) {
  uint64_t bits;
  memcpy(&bits, &x, 8);
  uint64_t m = bits & (((uint64_t)1 << 52) - 1);
  unsigned e = (unsigned)(bits >> 52) & 0x7ff;
  if (e)
    m |= (uint64_t)1 << 52;
  else if (!m)
    return;
  else
    e = 1; /* subnormal: the smallest normal exponent's unit */
  unsigned p = e - 1, k = p >> 5, s = p & 31;
  uint64_t lo = m << s, hi = s ? m >> (64 - s) : 0;
  int64_t d0 = (int64_t)(lo & 0xffffffff), d1 = (int64_t)(lo >> 32),
          d2 = (int64_t)hi;
  if (bits >> 63) {
    l[k] -= d0;
    l[k + 1] -= d1;
    l[k + 2] -= d2;
  } else {
    l[k] += d0;
    l[k + 1] += d1;
    l[k + 2] += d2;
  }
}

/* Carries propagated: limbs 0..64 in [0, 2^32), the top limb signed. */
static void hs_sacc_norm(int64_t *l) {
  int64_t c = 0;
  for (int i = 0; i < HS_TOP; i++) {
    int64_t v = l[i] + c, lo = v & HS_DIGIT;
    c = (v - lo) / ((int64_t)1 << 32); /* exact, a floor for negatives too */
    l[i] = lo;
  }
  l[HS_TOP] += c;
}

/* The sums: x (for the mean), and x - c and (x - c)^2 (for the variance,
 * where a shift c near the mean avoids cancellation). */
enum { HS_SX, HS_SD, HS_SD2, HS_NSUMS };

/* ---- the set's cells ----
 * Bins first (none in a statistics-only pass), then the statistics block. */
enum {
  HS_UNDER,  /* below the first edge, -Inf included */
  HS_OVER,   /* above the last edge, +Inf included */
  HS_NAN,    /* NaN */
  HS_FINITE, /* finite values: what the statistics are over */
  HS_D_PINF, /* x - c overflowed to +Inf / -Inf; (x - c)^2 to +Inf */
  HS_D_NINF,
  HS_D2_INF,
  HS_DIGITS, /* then HS_LIMBS digits of each of the HS_NSUMS sums */
  HS_NSTAT = HS_DIGITS + HS_NSUMS * HS_LIMBS
};

/* ---- options and the run ---- */

typedef struct hs_thr {
  int64_t *cnt;    /* local bin counts, all zero between calls */
  double min, max; /* of the finite values this thread summed */
  char pad[40];    /* threads' entries on separate cache lines */
} hs_thr;

typedef struct hs_opts {
  long long bins;
  int have_range, log;
  double lo, hi; /* --range */
  const char *group;
} hs_opts;

typedef struct hs_run {
  uint64_t nbins; /* 0: statistics only */
  int log;
  const double *edges; /* [nbins + 1] */
  double lo, hi, norm; /* edges[0], edges[nbins], nbins / (hi - lo) */
  double c;            /* the shift of the statistics */
  int minmax;          /* track the finite min and max (--range) */
  hs_thr *thr;
} hs_run;

enum { OPT_BINS = 0x2000, OPT_RANGE, OPT_LOG, OPT_GROUP };

static const struct option hs_longopts[] = {
    {"bins", required_argument, NULL, OPT_BINS},
    {"range", required_argument, NULL, OPT_RANGE},
    {"log", no_argument, NULL, OPT_LOG},
    {"group", required_argument, NULL, OPT_GROUP},
    {0}};

/* A finite double, the whole of s. */
static int hs_parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

static int hs_parse_range(const char *arg, double *lo, double *hi) {
  const char *colon = arg;
  /* The separating ':' is the first one after a non-empty LO. */
  while ((colon = strchr(colon + 1, ':')) != NULL) {
    char buf[128];
    size_t n = (size_t)(colon - arg);
    if (n >= sizeof buf)
      return -1;
    memcpy(buf, arg, n);
    buf[n] = '\0';
    if (hs_parse_double(buf, lo) == 0)
      return hs_parse_double(colon + 1, hi);
  }
  return -1;
}

static int hs_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  hs_opts *o = user;
  switch (opt) {
  case OPT_BINS:
    if (pmr_cli_positive(cli, "--bins", arg, &o->bins))
      return PMR_CLI_USAGE;
    if (o->bins > HS_MAX_BINS) {
      pmr_cli_error(cli, "--bins %lld: at most %lld bins", o->bins,
                    HS_MAX_BINS);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_RANGE:
    if (hs_parse_range(arg, &o->lo, &o->hi)) {
      pmr_cli_error(cli,
                    "invalid value '%s' for --range: need LO:HI, two finite "
                    "numbers (see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    if (o->lo > o->hi) {
      pmr_cli_error(cli, "--range %s: LO must not be above HI", arg);
      return PMR_CLI_USAGE;
    }
    o->have_range = 1;
    return 0;
  case OPT_LOG:
    o->log = 1;
    return 0;
  case OPT_GROUP:
    if (!*arg) {
      pmr_cli_error(cli, "--group needs a non-empty name (see --help)");
      return PMR_CLI_USAGE;
    }
    o->group = arg;
    return 0;
  }
  return PMR_CLI_USAGE;
}

/* ---- edges ---- */

/* numpy.linspace(a, b, n + 1) for n >= 1, operation for operation. */
static void hs_linspace(double a, double b, uint64_t n, double *y) {
  double delta = b - a, div = (double)n, step = delta / div;
  for (uint64_t i = 0; i <= n; i++) {
    /* A step that underflows to 0 takes numpy's other order (gh-5437). */
    double v = step == 0 ? (double)i / div * delta : (double)i * step;
    y[i] = v + a;
  }
  y[n] = b;
}

/* numpy.geomspace(a, b, n + 1) for 0 < a <= b: 10 ** linspace(log10(a),
 * log10(b)), with the ends put back exactly. */
static void hs_geomspace(double a, double b, uint64_t n, double *y) {
  hs_linspace(log10(a), log10(b), n, y);
  for (uint64_t i = 0; i <= n; i++)
    y[i] = pow(10.0, y[i]);
  y[0] = a;
  y[n] = b;
}

/* ---- binning ---- */

/* numpy.histogram's fast path for equal bins, for lo <= x <= hi. */
static inline uint64_t hs_uniform_bin(const hs_run *h, double x) {
  const double *e = h->edges;
  int64_t n = (int64_t)h->nbins;
  int64_t i = (int64_t)((x - h->lo) * h->norm); /* >= 0: truncates */
  if (i >= n) /* x on the last edge; never more than n (rounding) */
    i = n - 1;
  /* "The index computation is not guaranteed to give exactly consistent
   * results within ~1 ULP of the bin edges": numpy corrects once each
   * way, in this order; so do we. */
  if (x < e[i])
    i--;
  if (x >= e[i + 1] && i != n - 1)
    i++;
  return (uint64_t)(i < 0 ? 0 : i); /* x >= e[0] keeps i >= 0 */
}

/* searchsorted: the last j < n with e[j] <= x, for e[0] <= x <= e[n]. */
static inline uint64_t hs_search_bin(const hs_run *h, double x) {
  const double *e = h->edges;
  uint64_t a = 0, b = h->nbins; /* e[a] <= x; answer in [a, b) */
  while (b - a > 1) {
    uint64_t m = a + (b - a) / 2;
    if (e[m] <= x)
      a = m;
    else
      b = m;
  }
  return a;
}

/* The statistics of one map call: tallies, the exact sums, and the finite
 * min and max. */
typedef struct hs_acc {
  int64_t tally[HS_DIGITS];
  int64_t l[HS_NSUMS][HS_LIMBS];
  uint64_t adds;
  double min, max; /* of the finite values, when the run tracks them */
} hs_acc;

/* Add x exactly; an infinity (x - c or its square overflowed) is tallied
 * instead, for the end to turn into the sum IEEE addition would give. */
static inline void hs_exact(hs_acc *a, int sum, int pinf, int ninf, double x) {
  if (isfinite(x))
    hs_sacc_add(a->l[sum], x);
  else
    a->tally[x > 0 ? pinf : ninf]++;
  if (++a->adds == HS_NORM_PERIOD) {
    for (int k = 0; k < HS_NSUMS; k++)
      hs_sacc_norm(a->l[k]);
    a->adds = 0;
  }
}

/* Always inlined, so that each (mode, local) gets a loop of its own. */
#define HS_INLINE static inline __attribute__((always_inline))

/* Bin n values and tally them (mode 1 equal bins, 2 --log bins; local:
 * count in the thread's array). */
HS_INLINE int hs_values(const hs_run *run, hs_thr *t, hs_acc *a,
                        const double *x, uint64_t n, int mode, int local,
                        pmr_emitter *em) {
  /* A copy the count stores cannot alias: the loop keeps it in registers. */
  const hs_run hl = *run, *h = &hl;
  int64_t *cnt = t->cnt;
  int64_t under = 0, over = 0, nan = 0, inf = 0;
  for (uint64_t i = 0; i < n; i++) {
    double v = x[i];
    if (v >= h->lo && v <= h->hi) {
      uint64_t b = mode == 1 ? hs_uniform_bin(h, v) : hs_search_bin(h, v);
      if (local) {
        cnt[b]++;
      } else {
        int rc = pmr_emit_cell_i64(em, b, 0, 1);
        if (rc)
          return rc;
      }
    } else if (v < h->lo) {
      under++;
      inf += v == -INFINITY;
    } else if (v > h->hi) {
      over++;
      inf += v == INFINITY;
    } else {
      nan++;
    }
  }
  a->tally[HS_UNDER] += under;
  a->tally[HS_OVER] += over;
  a->tally[HS_NAN] += nan;
  a->tally[HS_FINITE] += (int64_t)n - nan - inf;
  return 0;
}

/* The statistics: sum(x), sum(x - c) and sum((x - c)^2) over the finite
 * values, and their min and max.
 *
 * They must not depend on how rows fall to ranks, threads and calls, yet an
 * exact add per value would cost several times the binning. So the values
 * of each dataset are cut into fixed blocks of HS_BLOCK values' worth of
 * rows (HS_BLOCK / ncols rows, at least 1), counted from its first row;
 * each block is summed in double, in one fixed order (8 lanes, combined as
 * a tree), by the call whose rows it starts in, reading its end from the
 * halo; and the blocks' sums are added exactly. A block holding a NaN or an
 * infinity, or whose sums overflow, is added value by value, exactly. Any rank
 * and thread count thus sums the same doubles exactly: the result is the same
 * bit for bit, and as accurate as numpy's pairwise sums. */
#define HS_BLOCK 128
#define HS_HALO (HS_BLOCK - 1)

/* Two lanes of doubles (GCC and Clang vector extension: SSE2, NEON, ...);
 * each lane's arithmetic is IEEE's, so the order of operations, not the
 * instructions, fixes the results. */
typedef double hs_v2 __attribute__((vector_size(16)));

static inline hs_v2 hs_load2(const double *p) {
  hs_v2 v;
  memcpy(&v, p, sizeof v);
  return v;
}

typedef int64_t hs_i2 __attribute__((vector_size(16)));

/* Lane by lane: a where a < b, else b (compare and select). */
static inline hs_v2 hs_min2(hs_v2 a, hs_v2 b) {
  hs_i2 m = a < b;
  return (hs_v2)(((hs_i2)a & m) | ((hs_i2)b & ~m));
}

/* Sum a block (and, with `minmax`, take its finite min and max: every value
 * is in exactly one block). */
HS_INLINE void hs_block(hs_acc *a, double c, const double *x, uint64_t n,
                        int minmax) {
  /* Lane k of 8 sums the values k, k + 8, k + 16, ... in that order: four
   * vectors of two lanes per sum, spelt out so that they stay in
   * registers. */
  hs_v2 cv = {c, c}, z = {0, 0}, big = {INFINITY, INFINITY};
  hs_v2 s0 = z, s1 = z, s2 = z, s3 = z, r0 = z, r1 = z, r2 = z, r3 = z;
  hs_v2 q0 = z, q1 = z, q2 = z, q3 = z, lo = big, nhi = big;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    hs_v2 v0 = hs_load2(x + i), v1 = hs_load2(x + i + 2);
    hs_v2 v2 = hs_load2(x + i + 4), v3 = hs_load2(x + i + 6);
    hs_v2 d0 = v0 - cv, d1 = v1 - cv, d2 = v2 - cv, d3 = v3 - cv;
    s0 += v0, s1 += v1, s2 += v2, s3 += v3;
    r0 += d0, r1 += d1, r2 += d2, r3 += d3;
    q0 += d0 * d0, q1 += d1 * d1, q2 += d2 * d2, q3 += d3 * d3;
    if (minmax) {
      lo = hs_min2(hs_min2(v0, v1), hs_min2(hs_min2(v2, v3), lo));
      nhi = hs_min2(hs_min2(-v0, -v1), hs_min2(hs_min2(-v2, -v3), nhi));
    }
  }
  hs_v2 sv[4] = {s0, s1, s2, s3}, rv[4] = {r0, r1, r2, r3};
  hs_v2 qv[4] = {q0, q1, q2, q3};
  double ls[8], lr[8], lq[8], mn = fmin(lo[0], lo[1]),
                              mx = -fmin(nhi[0], nhi[1]);
  memcpy(ls, sv, sizeof ls);
  memcpy(lr, rv, sizeof lr);
  memcpy(lq, qv, sizeof lq);
  for (int k = 0; i < n; i++, k++) {
    double d = x[i] - c;
    ls[k] += x[i];
    lr[k] += d;
    lq[k] += d * d;
    mn = x[i] < mn ? x[i] : mn;
    mx = x[i] > mx ? x[i] : mx;
  }
#define HS_TREE(l)                                                             \
  ((((l)[0] + (l)[1]) + ((l)[2] + (l)[3])) +                                   \
   (((l)[4] + (l)[5]) + ((l)[6] + (l)[7])))
  double sx = HS_TREE(ls), sd = HS_TREE(lr), sd2 = HS_TREE(lq);
#undef HS_TREE
  if (isfinite(sx) && isfinite(sd) && isfinite(sd2)) {
    /* Then every value was finite (a NaN or an infinity would show). */
    hs_exact(a, HS_SX, 0, 0, sx);
    hs_exact(a, HS_SD, 0, 0, sd);
    hs_exact(a, HS_SD2, 0, 0, sd2);
  } else {
    /* A NaN or an infinity in the block, or an overflow: value by value,
     * exactly, the non-finite values left out. */
    mn = INFINITY;
    mx = -INFINITY;
    for (i = 0; i < n; i++)
      if (isfinite(x[i])) {
        double d = x[i] - c;
        hs_exact(a, HS_SX, 0, 0, x[i]);
        hs_exact(a, HS_SD, HS_D_PINF, HS_D_NINF, d);
        hs_exact(a, HS_SD2, HS_D2_INF, HS_D2_INF, d * d);
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
      }
  }
  /* +0.0 for -0.0 (they compare equal): then the extremes do not depend on
   * the order in which values are met. */
  mn += 0.0;
  mx += 0.0;
  a->min = mn < a->min ? mn : a->min;
  a->max = mx > a->max ? mx : a->max;
}

/* A call's rows, bins and blocks interleaved so that each block's values
 * are binned and summed while in the cache: first the rows before the first
 * block that starts here (binned only; their block is summed by the call
 * it starts in), then each block that starts here (its own rows binned, all
 * its rows summed, the last ones from the halo). Inlined with constant
 * `mode` (0 statistics only, 1 equal bins, 2 --log bins) and `local`. */
HS_INLINE int hs_scan(const hs_run *h, hs_thr *t, hs_acc *a,
                      const pmr_rows *rows, int mode, int local,
                      pmr_emitter *em) {
  uint64_t ncols = rows->ncols;
  uint64_t per = ncols >= HS_BLOCK ? 1 : (HS_BLOCK + ncols - 1) / ncols;
  uint64_t first = rows->first, end = first + rows->nrows;
  uint64_t b0 = (first + per - 1) / per * per;
  const double *x = rows->data;
  int rc = 0;
  if (mode)
    rc = hs_values(h, t, a, x, ((b0 < end ? b0 : end) - first) * ncols, mode,
                   local, em);
  for (uint64_t b = b0; b < end && !rc; b += per) {
    uint64_t own = b + per < end ? b + per : end;
    /* The halo holds min(HS_HALO, rows left) rows: the block's end. */
    uint64_t be = b + per < rows->total ? b + per : rows->total;
    const double *xb = x + (b - first) * ncols;
    if (mode)
      rc = hs_values(h, t, a, xb, (own - b) * ncols, mode, local, em);
    if (h->minmax)
      hs_block(a, h->c, xb, (be - b) * ncols, 1);
    else
      hs_block(a, h->c, xb, (be - b) * ncols, 0);
  }
  return rc;
}

static int hs_emit(pmr_emitter *em, uint64_t cell, int64_t v) {
  return v ? pmr_emit_cell_i64(em, cell, 0, v) : PMR_OK;
}

/* Map callback of the histogram (and statistics-only) pass. */
static int hs_rows(const pmr_rows *rows, pmr_emitter *em, void *user) {
  const hs_run *h = user;
  hs_thr *t = &h->thr[pmr_emitter_thread(em)];
  uint64_t n = rows->nrows * rows->ncols, nb = h->nbins;
  hs_acc a;
  memset(&a, 0, sizeof a);
  a.min = INFINITY;
  a.max = -INFINITY;
  /* Counting into the thread's array pays when the call has several values
   * per bin; else each value is emitted. */
  int local = t->cnt && nb <= n / 4, rc;
  if (!nb)
    rc = hs_scan(h, t, &a, rows, 0, 0, em);
  else if (!h->log)
    rc = local ? hs_scan(h, t, &a, rows, 1, 1, em)
               : hs_scan(h, t, &a, rows, 1, 0, em);
  else
    rc = local ? hs_scan(h, t, &a, rows, 2, 1, em)
               : hs_scan(h, t, &a, rows, 2, 0, em);
  if (rc)
    return rc;
  t->min = a.min < t->min ? a.min : t->min;
  t->max = a.max > t->max ? a.max : t->max;
  if (local)
    for (uint64_t b = 0; b < nb; b++)
      if (t->cnt[b]) {
        if ((rc = pmr_emit_cell_i64(em, b, 0, t->cnt[b])))
          return rc;
        t->cnt[b] = 0;
      }
  for (int i = 0; i < HS_DIGITS; i++)
    if ((rc = hs_emit(em, nb + (uint64_t)i, a.tally[i])))
      return rc;
  for (int k = 0; k < HS_NSUMS; k++) {
    hs_sacc_norm(a.l[k]);
    for (int i = 0; i < HS_LIMBS; i++)
      if ((rc = hs_emit(em, nb + HS_DIGITS + (uint64_t)(k * HS_LIMBS + i),
                        a.l[k][i])))
        return rc;
  }
  return 0;
}

/* Map callback of the first pass: the finite min and max, and (*user: --log)
 * the positive ones, as (min, -max) pairs in a PMR_MIN_F64 set of 2 cells.
 * Branch-free: signs and NaN are data, not predictable. */
static int hs_extrema(const pmr_rows *rows, pmr_emitter *em, void *user) {
  const double *x = rows->data;
  uint64_t n = rows->nrows * rows->ncols;
  double a0 = INFINITY, a1 = INFINITY, p0 = INFINITY, p1 = INFINITY;
  if (*(const int *)user)
    for (uint64_t i = 0; i < n; i++) {
      double v = fabs(x[i]) <= DBL_MAX ? x[i] : NAN; /* NaN never wins */
      double w = v > 0 ? v : NAN;
      a0 = v < a0 ? v : a0;
      a1 = -v < a1 ? -v : a1;
      p0 = w < p0 ? w : p0;
      p1 = -w < p1 ? -w : p1;
    }
  else
    for (uint64_t i = 0; i < n; i++) {
      double v = fabs(x[i]) <= DBL_MAX ? x[i] : NAN;
      a0 = v < a0 ? v : a0;
      a1 = -v < a1 ? -v : a1;
    }
  double all[2] = {a0, a1}, pos[2] = {p0, p1};
  int rc = pmr_emit_cell(em, 0, all);
  return rc ? rc : pmr_emit_cell(em, 1, pos);
}

/* ---- the statistics from the reduced digits ---- */

/* Exact doubles whose sum is the exact sum held by digit totals `t`
 * (normalised in place), or the infinity the flags call for. */
typedef struct hs_piece {
  uint64_t cell;
  double v;
} hs_piece;

typedef struct hs_feed {
  hs_piece p[HS_NSUMS * (HS_LIMBS + 2)];
  uint64_t n;
} hs_feed;

static void hs_exact_feed(hs_feed *f, uint64_t cell, int64_t *t, int64_t pinf,
                          int64_t ninf) {
  hs_sacc_norm(t);
  for (int i = 0; i < HS_LIMBS; i++)
    if (t[i])
      f->p[f->n++] = (hs_piece){cell, ldexp((double)t[i], 32 * i - 1074)};
  if (pinf)
    f->p[f->n++] = (hs_piece){cell, INFINITY};
  if (ninf)
    f->p[f->n++] = (hs_piece){cell, -INFINITY};
}

/* One index emits every piece: one record, on whichever rank maps it. */
static int hs_feed_all(uint64_t i, pmr_emitter *em, void *user) {
  const hs_feed *f = user;
  (void)i;
  for (uint64_t k = 0; k < f->n; k++) {
    int rc = pmr_emit_cell_f64(em, f->p[k].cell, 0, f->p[k].v);
    if (rc)
      return rc;
  }
  return 0;
}

typedef struct hs_result {
  int64_t under, over, nan, finite;
  double sum[HS_NSUMS]; /* each rounded once */
} hs_result;

/* Reduce the pass's set (every rank gets it) and round its exact sums:
 * every rank holds the same pieces, and one of them feeds them into a
 * PMR_SUM_F64 set. */
static int hs_collect(pmr_ctx *ctx, pmr_kv *kv, uint64_t nbins, hs_result *r) {
  int rc = pmr_kv_reduce(kv);
  if (rc)
    return rc;
  const int64_t *v = pmr_kv_dense_values(kv);
  const int64_t *s = v + nbins;
  r->under = s[HS_UNDER];
  r->over = s[HS_OVER];
  r->nan = s[HS_NAN];
  r->finite = s[HS_FINITE];
  hs_feed f = {.n = 0};
  for (int k = 0; k < HS_NSUMS; k++) {
    int64_t t[HS_LIMBS];
    memcpy(t, s + HS_DIGITS + k * HS_LIMBS, sizeof t);
    hs_exact_feed(&f, (uint64_t)k, t,
                  k == HS_SD    ? s[HS_D_PINF]
                  : k == HS_SD2 ? s[HS_D2_INF]
                                : 0,
                  k == HS_SD ? s[HS_D_NINF] : 0);
  }
  pmr_kv *sums = NULL;
  rc = pmr_kv_create_dense(ctx, PMR_SUM_F64, HS_NSUMS, 1, &sums);
  if (!rc)
    rc = pmr_map_index(ctx, 1, hs_feed_all, &f, sums);
  if (!rc)
    rc = pmr_kv_reduce(sums);
  if (!rc)
    memcpy(r->sum, pmr_kv_dense_values(sums), sizeof r->sum);
  pmr_kv_destroy(&sums);
  return rc;
}

/* One pass over the datasets into a fresh set of nbins + HS_NSTAT cells. */
static int hs_pass(pmr_ctx *ctx, char **specs, int nspecs, hs_run *h,
                   hs_result *r, pmr_kv **out) {
  pmr_kv *kv = NULL;
  int rc = pmr_kv_create_dense(ctx, PMR_SUM_I64, h->nbins + HS_NSTAT, 1, &kv);
  if (!rc)
    rc = pmr_map_h5(ctx, (const char *const *)specs, nspecs, PMR_FLOAT64,
                    HS_HALO, hs_rows, h, kv);
  if (!rc)
    rc = hs_collect(ctx, kv, h->nbins, r);
  if (rc || !out)
    pmr_kv_destroy(&kv);
  else
    *out = kv;
  return rc;
}

/* Mean, and population variance (numpy's default, ddof = 0) from the sums
 * shifted by c: var = E[(x - c)^2] - (E[x - c])^2. The sums leave mostly
 * the cancellation in that difference, about 2^-53 (E[x - c])^2 / var
 * relative; *redo says it exceeded 2^-33 (the shift was far from the mean:
 * a --range far from the data, a few huge outliers), so that the caller
 * sums again around the mean. */
static void hs_moments(const hs_result *r, double *mean, double *var,
                       int *redo) {
  *redo = 0;
  if (r->finite == 0) {
    *mean = *var = NAN;
    return;
  }
  double n = (double)r->finite, m1 = r->sum[HS_SD] / n, m2 = r->sum[HS_SD2] / n;
  *mean = r->sum[HS_SX] / n;
  *var = m2 - m1 * m1;
  if (*var < 0)
    *var = 0;
  if (isfinite(*mean) && isfinite(*var) && m1 * m1 > 0x1p20 * *var)
    *redo = 1;
}

/* "'a.h5:/x'" or "'a.h5:/x', 'b.h5:/y'", for messages about all inputs. */
static void hs_names(char **specs, int n, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && at < len; i++) {
    int w = snprintf(buf + at, len - at, "%s'%s'", i ? ", " : "", specs[i]);
    if (w < 0)
      break;
    at += (size_t)w;
  }
}

/* What the result group records beside the provenance. */
typedef struct hs_summary {
  int64_t count, values;
  hs_result r;
  double min, max, mean, std;
} hs_summary;

static int hs_meta(pmr_meta *m, const pmr_cli *cli, const hs_opts *o,
                   const hs_summary *s) {
  int rc = pmr_meta_set_str(m, "app", "histogram");
  if (!rc)
    rc = pmr_meta_set_str(m, "command_line", cli->command_line);
  if (!rc)
    rc = pmr_meta_set_strs(m, "inputs", (const char *const *)cli->inputs,
                           cli->ninputs);
  if (!rc)
    rc = pmr_meta_set_i64(m, "bins", o->bins);
  if (!rc)
    rc = pmr_meta_set_str(m, "scale", o->log ? "log" : "linear");
  if (!rc)
    rc = pmr_meta_set_str(m, "range", o->have_range ? "given" : "data");
  if (!rc)
    rc = pmr_meta_set_i64(m, "values", s->values);
  if (!rc)
    rc = pmr_meta_set_i64(m, "count", s->count);
  if (!rc)
    rc = pmr_meta_set_i64(m, "underflow", s->r.under);
  if (!rc)
    rc = pmr_meta_set_i64(m, "overflow", s->r.over);
  if (!rc)
    rc = pmr_meta_set_i64(m, "nan", s->r.nan);
  if (!rc)
    rc = pmr_meta_set_i64(m, "finite", s->r.finite);
  if (!rc)
    rc = pmr_meta_set_f64(m, "min", s->min);
  if (!rc)
    rc = pmr_meta_set_f64(m, "max", s->max);
  if (!rc)
    rc = pmr_meta_set_f64(m, "mean", s->mean);
  if (!rc)
    rc = pmr_meta_set_f64(m, "std", s->std);
  return rc;
}

/* Without --range: the finite min and max (and the positive ones) in one
 * pass. Each is NaN when there is none. */
static int hs_find_extrema(pmr_ctx *ctx, char **specs, int nspecs, int log,
                           double ext[4]) {
  pmr_kv *kv = NULL;
  int rc = pmr_kv_create_dense(ctx, PMR_MIN_F64, 2, 2, &kv);
  if (!rc)
    rc = pmr_map_h5(ctx, (const char *const *)specs, nspecs, PMR_FLOAT64, 0,
                    hs_extrema, &log, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc) {
    const double *v = pmr_kv_dense_values(kv);
    for (int i = 0; i < 4; i += 2) {
      int none = v[i] == INFINITY;
      ext[i] = none ? NAN : v[i];
      ext[i + 1] = none ? NAN : -v[i + 1];
    }
  }
  pmr_kv_destroy(&kv);
  return rc;
}

/* The bins' span: --range or the data's, widened as numpy widens equal
 * ends (by 0.5 each way; --log: by half a decade each way). Returns 0, or
 * 1 with a message in msg when the span cannot be binned. */
static int hs_span(const hs_opts *o, const double ext[4], double *lo,
                   double *hi, char *msg, size_t len) {
  if (o->have_range) {
    *lo = o->lo;
    *hi = o->hi;
  } else if (o->log) {
    /* No positive finite value: 1 to 10, as numpy takes 0 to 1 for none. */
    *lo = isnan(ext[2]) ? 1.0 : ext[2];
    *hi = isnan(ext[3]) ? 10.0 : ext[3];
  } else {
    *lo = isnan(ext[0]) ? 0.0 : ext[0];
    *hi = isnan(ext[1]) ? 1.0 : ext[1];
  }
  if (*lo == *hi) {
    if (o->log) {
      double l = log10(*lo);
      *lo = pow(10.0, l - 0.5);
      *hi = pow(10.0, l + 0.5);
    } else {
      *lo = *lo - 0.5;
      *hi = *hi + 0.5;
    }
  }
  if (o->log)
    return 0;
  double width = *hi - *lo, norm = (double)o->bins / width;
  if (!(*lo < *hi) || !isfinite(width) || !isfinite(norm)) {
    snprintf(msg, len, "cannot cut %s %g to %g into %lld equal bins (%s)",
             o->have_range ? "--range" : "the finite values' span", *lo, *hi,
             o->bins,
             !(*lo < *hi)       ? "all values equal; give --range"
             : !isfinite(width) ? "HI - LO overflows"
                                : "the bins would be narrower than a double "
                                  "can tell apart");
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  hs_opts o = {.bins = 10, .group = "histogram"};
  pmr_cli_app app = {
      .name = "histogram",
      .summary =
          "Histogram of the values of HDF5 datasets (INPUT is FILE.h5:/path/"
          "to/dataset; any\ninteger or float type, 1-D or 2-D; several are "
          "binned together) over MPI ranks\nand OpenMP threads. Counts equal "
          "numpy.histogram(x, bins=N, range=(LO, HI)):\nequal widths, the "
          "last bin closed on the right. NaN and +-Inf are counted, not\n"
          "binned; the statistics (min, max, mean, population std) are over "
          "the finite values.",
      .options_help =
          "      --bins N         number of bins (default 10)\n"
          "      --range LO:HI    the bins span [LO, HI] (default: the "
          "finite data's min and\n"
          "                       max, found in a first pass; equal ends "
          "are widened by 0.5)\n"
          "      --log            logarithmic bins: edges "
          "numpy.geomspace(LO, HI, N+1), LO > 0\n"
          "                       (default range: the positive finite "
          "values'); values <= 0\n"
          "                       count as underflow\n"
          "      --group NAME     HDF5 group of the result (default "
          "histogram)\n",
      .longopts = hs_longopts,
      .on_option = hs_option,
      .user = &o,
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  for (int i = 0; prc == PMR_CLI_RUN && i < cli.ninputs; i++) {
    char *file = NULL, *dset = NULL;
    if (pmr_h5_spec(cli.inputs[i], &file, &dset) == PMR_EINVAL) {
      pmr_cli_error(&cli,
                    "'%s' names no dataset: give FILE.h5:/path/to/dataset "
                    "(see --help)",
                    cli.inputs[i]);
      prc = PMR_CLI_USAGE;
    }
    free(file);
    free(dset);
  }
  if (prc == PMR_CLI_RUN && o.have_range && o.log && o.lo <= 0) {
    pmr_cli_error(&cli, "--range %.17g:%.17g with --log: LO must be positive",
                  o.lo, o.hi);
    prc = PMR_CLI_USAGE;
  }
  char msg[1024] = "";
  double lo = 0, hi = 0, ext[4] = {NAN, NAN, NAN, NAN};
  if (prc == PMR_CLI_RUN && o.have_range &&
      hs_span(&o, ext, &lo, &hi, msg, sizeof msg)) {
    pmr_cli_error(&cli, "%s", msg);
    prc = PMR_CLI_USAGE;
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  pmr_ctx *ctx = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  MPI_Comm comm = pmr_ctx_comm(ctx);
  int nt = pmr_ctx_threads(ctx), rank = pmr_ctx_rank(ctx);
  uint64_t nbins = (uint64_t)o.bins;
  hs_thr *thr = calloc((size_t)nt, sizeof *thr);
  double *edges = malloc((nbins + 1) * sizeof *edges);
  int nomem = !thr || !edges;
  for (int t = 0; !nomem && t < nt; t++) {
    thr[t].min = INFINITY;
    thr[t].max = -INFINITY;
    if (nbins <= HS_LOCAL_BINS && !(thr[t].cnt = calloc(nbins, 8)))
      nomem = 1;
  }
  MPI_Allreduce(MPI_IN_PLACE, &nomem, 1, MPI_INT, MPI_MAX, comm);
  if (nomem)
    rc = PMR_ENOMEM;

  /* Fail on an unwritable output now, not after the work. */
  if (!rc)
    rc = pmr_check_output(ctx, cli.output);
  if (!rc && !o.have_range) {
    rc = hs_find_extrema(ctx, cli.inputs, cli.ninputs, o.log, ext);
    char why[512];
    if (!rc && hs_span(&o, ext, &lo, &hi, why, sizeof why)) {
      /* Decided from reduced values: the same on every rank. */
      char names[400];
      hs_names(cli.inputs, cli.ninputs, names, sizeof names);
      snprintf(msg, sizeof msg, "%s: %s", names, why);
      rc = PMR_EINVAL;
    }
  }

  hs_run h = {.nbins = nbins, .log = o.log, .edges = edges, .thr = thr};
  hs_summary s = {.min = ext[0], .max = ext[1]};
  pmr_kv *kv = NULL;
  if (!rc) {
    if (o.log)
      hs_geomspace(lo, hi, nbins, edges);
    else
      hs_linspace(lo, hi, nbins, edges);
    /* numpy keeps first_edge <= x <= last_edge, the span's own ends. */
    h.lo = lo;
    h.hi = hi;
    h.norm = (double)nbins / (hi - lo);
    /* The statistics' shift: the middle of the finite values, or of the
     * range (the data's extremes are not known before this pass then). */
    h.c = o.have_range    ? 0.5 * o.lo + 0.5 * o.hi
          : isnan(ext[0]) ? 0.0
                          : 0.5 * ext[0] + 0.5 * ext[1];
    h.minmax = o.have_range;
    rc = hs_pass(ctx, cli.inputs, cli.ninputs, &h, &s.r, &kv);
  }
  if (!rc && h.minmax) {
    double mm[2] = {INFINITY, INFINITY};
    for (int t = 0; t < nt; t++) {
      mm[0] = thr[t].min < mm[0] ? thr[t].min : mm[0];
      mm[1] = -thr[t].max < mm[1] ? -thr[t].max : mm[1];
    }
    /* min and max are exact whatever the order: a plain MPI reduction. */
    if (MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_DOUBLE, MPI_MIN, comm))
      rc = PMR_EMPI;
    s.min = mm[0] == INFINITY ? NAN : mm[0];
    s.max = mm[0] == INFINITY ? NAN : -mm[1];
  }
  if (!rc) {
    double var;
    int redo;
    hs_moments(&s.r, &s.mean, &var, &redo);
    if (redo) {
      /* Sum again around the mean; no bins this time. */
      hs_run h2 = {.nbins = 0, .c = s.mean, .thr = thr};
      hs_result r2;
      rc = hs_pass(ctx, cli.inputs, cli.ninputs, &h2, &r2, NULL);
      r2.finite = s.r.finite; /* not counted again */
      double mean2;
      if (!rc)
        hs_moments(&r2, &mean2, &var, &redo);
    }
    s.std = sqrt(var);
  }
  const int64_t *counts = rc ? NULL : pmr_kv_dense_values(kv);
  if (!rc) {
    for (uint64_t b = 0; b < nbins; b++)
      s.count += counts[b];
    s.values = s.count + s.r.under + s.r.over + s.r.nan;
  }

  if (!rc) {
    pmr_meta *meta = NULL;
    pmr_h5out *w = NULL;
    char name[4096];
    int named =
        snprintf(name, sizeof name, "%s/edges", o.group) < (int)sizeof name;
    rc = named ? pmr_meta_create(&meta) : PMR_EINVAL;
    if (!named)
      snprintf(msg, sizeof msg, "--group name too long");
    if (!rc)
      rc = hs_meta(meta, &cli, &o, &s);
    if (!rc)
      rc = pmr_h5out_open(ctx, cli.output, 0, &w);
    /* Small arrays known on every rank: rank 0 writes them. */
    if (!rc)
      rc = pmr_h5out_rows(w, name, PMR_FLOAT64, 0, rank ? 0 : nbins + 1, edges);
    if (!rc) {
      snprintf(name, sizeof name, "%s/counts", o.group);
      rc = pmr_h5out_rows(w, name, PMR_INT64, 0, rank ? 0 : nbins, counts);
    }
    if (!rc)
      rc = pmr_h5out_meta(w, o.group, meta);
    int crc = pmr_h5out_close(&w, rc == PMR_OK);
    if (!rc)
      rc = crc;
    pmr_meta_free(&meta);
  }
  if (rc)
    pmr_cli_error(&cli, "%s",
                  *msg               ? msg
                  : *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                     : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  if (!rc && pmr_cli_stats(&cli, ctx, 1))
    rc = PMR_EIO; /* the message is printed */

  pmr_kv_destroy(&kv);
  free(edges);
  for (int t = 0; thr && t < nt; t++)
    free(thr[t].cnt);
  free(thr);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
