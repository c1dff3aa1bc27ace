/* One pass over the points in memory: the scan that checks them, and the
 * Lloyd step (nearest centroids, then exact sums per cluster).
 *
 * Why the sums are exact, and how they stay fast. A dense PMR_SUM_F64 set
 * keeps every value as a 2,112-bit fixed-point integer, so its result is the
 * exact sum rounded once: the same bits at any rank and thread count, in
 * any order. Emitting every coordinate of every point into it costs about
 * as much as the distance computation itself, so the hot loop sums into
 * cheaper exact forms first and emits those once per block of rows:
 *
 *  - coordinates, fixed point: the scan finds the lowest and highest set
 *    bit of all coordinates (2^lsb, 2^msb). When msb - lsb <= 100, every
 *    coordinate x splits exactly into h 2^g + l 2^lsb with g = msb - 49 and
 *    integers |h|, |l| <= 2^50 (h = x / 2^g rounded, l = the rest / 2^lsb),
 *    found four at a time with a few vector operations (km_split); h and l
 *    are summed per cluster in 128-bit integers (no overflow before 2^77
 *    rows). Otherwise (coordinates spanning more than 100 binary orders of
 *    magnitude) every point is emitted to the set as it is.
 *  - squared distances (inertia) and the scan's sums: one integer per
 *    binary exponent ("bins"): a double is its 53-bit integer mantissa
 *    times 2^(e - 1075), so same-exponent values add exactly as integers
 *    (in 64 bits for a chunk of rows, then in 128).
 *
 * A block's integer sums go to the set as a few doubles (43-bit pieces of
 * each integer, scaled by a power of two: each piece exact), whose exact sum
 * is the block's. Both forms therefore give the set exactly the sum of the
 * values, and the result is the same bits whichever form was used. */
#include "kmeans.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 km_i128;
typedef unsigned __int128 km_u128;

char km_errmsg[512];

int km_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(km_errmsg, sizeof km_errmsg, fmt, ap);
  va_end(ap);
  return code;
}

int km_agree(const km_data *dt, int code) {
  int in[2] = {code, code ? -dt->rank : INT_MIN}, out[2];
  MPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, pmr_ctx_comm(dt->ctx));
  if (out[0] && !code)
    km_fail(out[0], "out of memory on rank %d", -out[1]);
  else if (out[0] && !*km_errmsg)
    km_fail(out[0], "out of memory");
  return out[0];
}

/* Rows handed to the kernel at once: its labels and distances stay in L1. */
#define KM_CHUNK 512

/* ---- emitting 128-bit integers exactly ---- */

/* Emit v * 2^scale into (cell, col) as doubles of at most 43 significant
 * bits each, so each is exact. */
static int km_emit_i128(pmr_emitter *em, uint64_t cell, uint64_t col, km_i128 v,
                        int scale) {
  if (!v)
    return PMR_OK;
  int neg = v < 0;
  km_u128 u = neg ? -(km_u128)v : (km_u128)v;
  for (int i = 0; u; i++, u >>= 43) {
    uint64_t p = (uint64_t)(u & (((km_u128)1 << 43) - 1));
    if (!p)
      continue;
    double x = ldexp((double)p, scale + 43 * i);
    int rc = pmr_emit_cell_f64(em, cell, col, neg ? -x : x);
    if (rc)
      return rc;
  }
  return PMR_OK;
}

/* ---- exponent bins ---- */

#define KM_BINS 2048

typedef struct km_bins {
  km_i128 *b;    /* [KM_BINS] */
  int lo, hi;    /* exponents used since the last flush (lo > hi: none) */
  int nonfinite; /* an Inf was added: passed on as it is */
  double inf;
} km_bins;

static int km_bins_init(km_bins *s) {
  s->b = calloc(KM_BINS, sizeof *s->b);
  s->lo = KM_BINS;
  s->hi = -1;
  s->nonfinite = 0;
  return s->b ? PMR_OK : PMR_ENOMEM;
}

static void km_bins_free(km_bins *s) {
  free(s->b);
  s->b = NULL;
}

static inline void km_bins_add(km_bins *s, double x) {
  uint64_t bits;
  memcpy(&bits, &x, 8);
  int e = (int)((bits >> 52) & 0x7ff);
  uint64_t m = bits & (((uint64_t)1 << 52) - 1);
  if (e == 0x7ff) { /* only an overflowed square can be infinite */
    s->nonfinite = 1;
    s->inf = x;
    return;
  }
  if (e)
    m |= (uint64_t)1 << 52;
  else
    e = 1; /* subnormal: the unit of the smallest normal exponent */
  s->b[e] += (bits >> 63) ? -(km_i128)m : (km_i128)m;
  if (e < s->lo)
    s->lo = e;
  if (e > s->hi)
    s->hi = e;
}

/* Emit the bins' exact sum into (cell, col) and empty them. */
static int km_bins_flush(km_bins *s, pmr_emitter *em, uint64_t cell,
                         uint64_t col) {
  int rc = PMR_OK;
  for (int e = s->lo; e <= s->hi; e++) {
    if (!rc)
      rc = km_emit_i128(em, cell, col, s->b[e], e - 1075);
    s->b[e] = 0;
  }
  s->lo = KM_BINS;
  s->hi = -1;
  if (s->nonfinite && !rc)
    rc = pmr_emit_cell_f64(em, cell, col, s->inf);
  s->nonfinite = 0;
  return rc;
}

/* ---- the scan ---- */

/* Column `col` of the scan's MAX_I64 set. */
enum { KM_SCAN_MSB, KM_SCAN_NEG_LSB, KM_SCAN_NEG_BAD, KM_SCAN_COLS };
/* What a bad value is, in the low bits of its key. */
enum { KM_BAD_NAN, KM_BAD_PINF, KM_BAD_NINF, KM_BAD_HUGE, KM_BAD_KINDS };

typedef struct km_scan_ctx {
  uint64_t d;
} km_scan_ctx;

static int km_scan_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  const km_scan_ctx *sc = user;
  const double *x = r->data;
  uint64_t d = sc->d, n = r->nrows * d;
  int msb = INT32_MIN, lsb = INT32_MAX;
  for (uint64_t i = 0; i < n; i++) {
    double v = x[i];
    if (!(fabs(v) <= KM_MAX_ABS)) {
      int kind = isnan(v)   ? KM_BAD_NAN
                 : isinf(v) ? (v > 0 ? KM_BAD_PINF : KM_BAD_NINF)
                            : KM_BAD_HUGE;
      /* The first bad value of the block; the reduce keeps the first of
       * all (the largest negated key), so every rank names the same. */
      int64_t key = (int64_t)((r->first * d + i) * KM_BAD_KINDS + kind);
      return pmr_emit_cell_i64(em, 0, KM_SCAN_NEG_BAD, -key);
    }
    if (v == 0)
      continue;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    int e = (int)((bits >> 52) & 0x7ff);
    uint64_t m = bits & (((uint64_t)1 << 52) - 1);
    if (e)
      m |= (uint64_t)1 << 52;
    else
      e = 1;
    /* v = m 2^(e - 1075): its highest and lowest set bits. */
    int hi = e - 1075 + 63 - __builtin_clzll(m);
    int lo = e - 1075 + __builtin_ctzll(m);
    if (hi > msb)
      msb = hi;
    if (lo < lsb)
      lsb = lo;
  }
  int rc = PMR_OK;
  if (msb != INT32_MIN) {
    rc = pmr_emit_cell_i64(em, 0, KM_SCAN_MSB, msb);
    if (!rc)
      rc = pmr_emit_cell_i64(em, 0, KM_SCAN_NEG_LSB, -(int64_t)lsb);
  }
  return rc;
}

/* Mean (pass 1) or variance (pass 2) of every dimension: exact sums of x,
 * then of (x - mean)^2, each rounded once, then divided by n. */
typedef struct km_moment_ctx {
  uint64_t d;
  const double *mean; /* NULL: pass 1 */
  km_bins *bins;      /* [threads x d] */
} km_moment_ctx;

static int km_moment_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  const km_moment_ctx *mc = user;
  uint64_t d = mc->d;
  km_bins *b = mc->bins + (size_t)pmr_emitter_thread(em) * d;
  const double *x = r->data;
  for (uint64_t i = 0; i < r->nrows; i++)
    for (uint64_t j = 0; j < d; j++) {
      double v = x[i * d + j];
      if (mc->mean) {
        double t = v - mc->mean[j];
        v = t * t;
      }
      km_bins_add(&b[j], v);
    }
  int rc = PMR_OK;
  for (uint64_t j = 0; j < d && !rc; j++)
    rc = km_bins_flush(&b[j], em, 0, j);
  return rc;
}

/* One moment pass into out[d]: the exact sums divided by n. */
static int km_moment(km_data *dt, const double *mean, double *out) {
  int rc = PMR_OK;
  uint64_t d = dt->d;
  size_t nb = (size_t)dt->nthreads * d;
  km_bins *bins = calloc(nb, sizeof *bins);
  if (!bins)
    rc = PMR_ENOMEM;
  for (size_t i = 0; i < nb && !rc; i++)
    rc = km_bins_init(&bins[i]);
  pmr_kv *kv = NULL;
  rc = km_agree(dt, rc);
  if (!rc)
    rc = pmr_kv_create_dense(dt->ctx, PMR_SUM_F64, 1, d, &kv);
  km_moment_ctx mc = {d, mean, bins};
  if (!rc)
    rc = pmr_map_block(dt->block, km_moment_rows, &mc, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc) {
    const double *s = pmr_kv_dense_values(kv);
    for (uint64_t j = 0; j < d; j++)
      out[j] = s[j] / (double)dt->n;
  }
  pmr_kv_destroy(&kv);
  for (size_t i = 0; bins && i < nb; i++)
    km_bins_free(&bins[i]);
  free(bins);
  return rc;
}

int km_scan(km_data *dt, double *var) {
  pmr_kv *kv = NULL;
  km_scan_ctx sc = {dt->d};
  int rc = pmr_kv_create_dense(dt->ctx, PMR_MAX_I64, 1, KM_SCAN_COLS, &kv);
  if (!rc)
    rc = pmr_map_block(dt->block, km_scan_rows, &sc, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (rc) {
    pmr_kv_destroy(&kv);
    return rc;
  }
  const int64_t *v = pmr_kv_dense_values(kv);
  int64_t msb = v[KM_SCAN_MSB], neg_lsb = v[KM_SCAN_NEG_LSB],
          neg_bad = v[KM_SCAN_NEG_BAD];
  pmr_kv_destroy(&kv);
  if (neg_bad != INT64_MIN) {
    uint64_t key = (uint64_t)-neg_bad, at = key / KM_BAD_KINDS;
    static const char *const what[] = {
        "NaN", "+Inf", "-Inf",
        "a magnitude above 2^500 (3.3e150), too large for squared distances"};
    return km_fail(PMR_EINVAL,
                   "'%s' row %llu, column %llu: %s (the points "
                   "must be finite numbers)",
                   dt->spec, (unsigned long long)(at / dt->d),
                   (unsigned long long)(at % dt->d), what[key % KM_BAD_KINDS]);
  }
  if (msb == INT64_MIN) { /* every coordinate is zero */
    dt->fixed = 1;
    dt->msb = dt->lsb = 0;
  } else {
    dt->msb = (int)msb;
    dt->lsb = (int)-neg_lsb;
    /* See the top of this file; the bounds also keep 2^-g and 2^-lsb
     * finite and normal. */
    dt->fixed = dt->msb - dt->lsb <= 100 && dt->msb >= -960 && dt->lsb >= -1022;
  }
  /* PMR_KMEANS_SUMS=emit: the slow form even where the fast one applies
   * (the tests compare the two; mpirun gives every rank the same
   * environment). */
  const char *env = getenv("PMR_KMEANS_SUMS");
  if (env && !strcmp(env, "emit"))
    dt->fixed = 0;
  if (var) {
    double *mean = malloc(dt->d * sizeof *mean);
    rc = mean ? PMR_OK : PMR_ENOMEM;
    if (!rc)
      rc = km_moment(dt, NULL, mean);
    if (!rc)
      rc = km_moment(dt, mean, var);
    free(mean);
  }
  return rc;
}

/* ---- the Lloyd step ---- */

/* One thread's sums for the block of rows it maps. */
typedef struct km_thr {
  int32_t label[KM_CHUNK];
  double dist[KM_CHUNK];
  int64_t bins[KM_BINS]; /* the chunk's distances by exponent */
  int64_t *ih, *il;      /* [KM_CHUNK x d]: the chunk's coordinates split */
  int64_t *ch, *cl;      /* [k x d]: their sums over the chunk (< 2^59) */
  km_i128 *h, *l;        /* [k x d]: fixed-point coordinate sums */
  int64_t *cnt;          /* [k] */
  double *vals;          /* [d + 1]: a point as emitted when not fixed */
  km_bins inertia;
} km_thr;

typedef struct km_step_ctx {
  const km_data *dt;
  const km_cent *c;
  km_thr **thr; /* [threads] */
  int32_t *labels;
  int g;               /* fixed point: h's unit is 2^g */
  double inv_g, pow_g; /* 2^-g, 2^g */
  double inv_lsb;      /* 2^-lsb */
} km_step_ctx;

static int km_step_flush(const km_step_ctx *sc, km_thr *t, pmr_emitter *em) {
  uint64_t k = sc->c->k, d = sc->dt->d;
  int rc = PMR_OK;
  if (sc->dt->fixed)
    for (uint64_t c = 0; c < k && !rc; c++) {
      if (!t->cnt[c])
        continue;
      rc = pmr_emit_cell_f64(em, c, d, (double)t->cnt[c]);
      for (uint64_t j = 0; j < d && !rc; j++) {
        rc = km_emit_i128(em, c, j, t->h[c * d + j], sc->g);
        if (!rc)
          rc = km_emit_i128(em, c, j, t->l[c * d + j], sc->dt->lsb);
        t->h[c * d + j] = t->l[c * d + j] = 0;
      }
      t->cnt[c] = 0;
    }
  if (!rc)
    rc = km_bins_flush(&t->inertia, em, k, 0);
  return rc;
}

/* Add m non-negative distances to the inertia: by exponent into 64-bit
 * bins (a chunk's mantissas cannot overflow them), then into the 128-bit
 * ones. Exponent 0 (zero, subnormal) has the unit of exponent 1; 2047 is
 * +Inf, an overflowed square. */
static void km_inertia_add(km_thr *t, size_t m) {
  int lo = KM_BINS, hi = -1;
  for (size_t i = 0; i < m; i++) {
    uint64_t bits;
    memcpy(&bits, &t->dist[i], 8);
    int e = (int)(bits >> 52);
    t->bins[e] += (int64_t)((bits & (((uint64_t)1 << 52) - 1)) |
                            ((uint64_t)(e != 0) << 52));
    lo = e < lo ? e : lo;
    hi = e > hi ? e : hi;
  }
  km_bins *s = &t->inertia;
  for (int e = lo; e <= hi; e++) {
    int64_t v = t->bins[e];
    if (!v)
      continue;
    t->bins[e] = 0;
    if (e == 0x7ff) {
      s->nonfinite = 1;
      s->inf = INFINITY;
      continue;
    }
    int be = e ? e : 1;
    s->b[be] += v;
    s->lo = be < s->lo ? be : s->lo;
    s->hi = be > s->hi ? be : s->hi;
  }
}

/* Sum the chunk's split coordinates per cluster; inlined with d constant
 * for the common small dimensions. */
static inline __attribute__((always_inline)) void
km_scatter(km_thr *t, size_t m, uint64_t d) {
  for (size_t i = 0; i < m; i++) {
    uint64_t c = (uint64_t)t->label[i];
    int64_t *ch = t->ch + c * d, *cl = t->cl + c * d;
    const int64_t *ih = t->ih + i * d, *il = t->il + i * d;
    t->cnt[c]++;
    for (uint64_t j = 0; j < d; j++) {
      ch[j] += ih[j];
      cl[j] += il[j];
    }
  }
}

static int km_step_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  const km_step_ctx *sc = user;
  km_thr *t = sc->thr[pmr_emitter_thread(em)];
  const uint64_t d = r->ncols;
  const int fixed = sc->dt->fixed;
  for (uint64_t a = 0; a < r->nrows; a += KM_CHUNK) {
    size_t m = r->nrows - a < KM_CHUNK ? (size_t)(r->nrows - a) : KM_CHUNK;
    const double *x = (const double *)r->data + a * d;
    km_nearest(sc->c, x, m, t->label, t->dist);
    if (sc->labels)
      memcpy(sc->labels + (r->first + a - sc->dt->first), t->label,
             m * sizeof *t->label);
    km_inertia_add(t, m);
    if (fixed) {
      km_split(x, m * d, sc->inv_g, sc->pow_g, sc->inv_lsb, t->ih, t->il);
      /* 64-bit sums over the chunk (at most KM_CHUNK = 2^9 values below
       * 2^50 each), added to the 128-bit ones once per chunk. */
      switch (d) {
      case 2:
        km_scatter(t, m, 2);
        break;
      case 3:
        km_scatter(t, m, 3);
        break;
      default:
        km_scatter(t, m, d);
      }
      for (uint64_t e = 0; e < sc->c->k * d; e++) {
        t->h[e] += t->ch[e];
        t->l[e] += t->cl[e];
        t->ch[e] = t->cl[e] = 0;
      }
    } else {
      for (size_t i = 0; i < m; i++) {
        memcpy(t->vals, x + i * d, d * sizeof *t->vals);
        t->vals[d] = 1;
        int rc = pmr_emit_cell(em, (uint64_t)t->label[i], t->vals);
        if (rc)
          return rc;
      }
    }
  }
  return km_step_flush(sc, t, em);
}

static void km_thr_free(km_thr *t) {
  if (!t)
    return;
  free(t->ih);
  free(t->il);
  free(t->ch);
  free(t->cl);
  free(t->h);
  free(t->l);
  free(t->cnt);
  free(t->vals);
  km_bins_free(&t->inertia);
  free(t);
}

static km_thr *km_thr_new(uint64_t k, uint64_t d) {
  km_thr *t = aligned_alloc(64, (sizeof *t + 63) / 64 * 64);
  if (!t)
    return NULL;
  memset(t, 0, sizeof *t);
  t->ih = malloc(KM_CHUNK * d * sizeof *t->ih);
  t->il = malloc(KM_CHUNK * d * sizeof *t->il);
  t->ch = calloc(k * d, sizeof *t->ch);
  t->cl = calloc(k * d, sizeof *t->cl);
  t->h = calloc(k * d, sizeof *t->h);
  t->l = calloc(k * d, sizeof *t->l);
  t->cnt = calloc(k, sizeof *t->cnt);
  t->vals = calloc(d + 1, sizeof *t->vals);
  if (!t->ih || !t->il || !t->ch || !t->cl || !t->h || !t->l || !t->cnt ||
      !t->vals || km_bins_init(&t->inertia)) {
    km_thr_free(t);
    return NULL;
  }
  return t;
}

int km_step_run(km_data *dt, const km_cent *c, km_step *out, int32_t *labels) {
  uint64_t k = c->k, d = dt->d;
  int nt = dt->nthreads, lrc = PMR_OK;
  km_step_ctx sc = {.dt = dt, .c = c, .labels = labels};
  sc.g = dt->msb - 49;
  sc.inv_g = ldexp(1, -sc.g);
  sc.pow_g = ldexp(1, sc.g);
  sc.inv_lsb = ldexp(1, -dt->lsb);
  sc.thr = calloc((size_t)nt, sizeof *sc.thr);
  if (!sc.thr)
    lrc = PMR_ENOMEM;
  for (int i = 0; i < nt && !lrc; i++)
    if (!(sc.thr[i] = km_thr_new(k, d)))
      lrc = PMR_ENOMEM;
  pmr_kv *kv = NULL;
  int rc = km_agree(dt, lrc);
  /* Cells 0..k-1: coordinate sums and the count; cell k: the inertia. */
  if (!rc)
    rc = pmr_kv_create_dense(dt->ctx, PMR_SUM_F64, k + 1, d + 1, &kv);
  if (!rc)
    rc = pmr_map_block(dt->block, km_step_rows, &sc, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc) {
    const double *v = pmr_kv_dense_values(kv);
    for (uint64_t i = 0; i < k; i++) {
      out->counts[i] = (int64_t)v[i * (d + 1) + d];
      memcpy(out->sums + i * d, v + i * (d + 1), d * sizeof *v);
    }
    out->inertia = v[k * (d + 1)];
  }
  pmr_kv_destroy(&kv);
  for (int i = 0; sc.thr && i < nt; i++)
    km_thr_free(sc.thr[i]);
  free(sc.thr);
  return rc;
}
