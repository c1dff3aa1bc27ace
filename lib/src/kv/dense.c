/* Dense sets: cells 0..ncells-1 of `width` values held as plain arrays.
 *
 * Each map thread folds its emits into an array of its own (no locks, no
 * hashing); after each map the threads' arrays are folded, in thread order,
 * into the rank's accumulator and freed; pmr_kv_reduce folds the ranks'
 * accumulators up a fixed binomial tree to rank 0 and hands the result to
 * every rank or to one root. The fold order is therefore a function of the
 * thread and rank counts only, which is what makes user folds repeatable.
 *
 * PMR_SUM_F64 is exact: each value is a fixed-point integer of 66 limbs
 * ("superaccumulator"), limb i holding a 32-bit digit of weight
 * 2^(32 i - 1074), so that every finite double (2^-1074 .. 2^1024) is an
 * integer number of units and lands in at most three limbs. Limbs are int64
 * so that adds need no carry propagation: a limb takes 2^30 adds of a digit
 * before it has to be normalised (carries propagated, digits back in
 * [0, 2^32), the top limb signed). Infinities and NaN switch a value into a
 * non-finite state (limb 0 = INT64_MIN, which no finite state reaches; limb
 * 1 = flags), since its finite part can no longer matter. The exact sum is
 * rounded once, to nearest with ties to even, when the reduce ends. */
#include "kv/dense.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>

/* ---- the superaccumulator ---- */

#define PMR__SACC_LIMBS 66
#define PMR__SACC_BYTES (PMR__SACC_LIMBS * 8)
#define PMR__SACC_TOP (PMR__SACC_LIMBS - 1)
#define PMR__SACC_NF INT64_MIN /* limb 0 of a non-finite value */
#define PMR__DIGIT ((int64_t)0xffffffff)
enum { PMR__SACC_PINF = 1, PMR__SACC_NINF = 2, PMR__SACC_NAN = 4 };

/* Adds a thread array takes between normalisations. Each add puts less than
 * 2^32 into a limb, so after 2^30 of them a limb is below 2^62 + 2^32 and
 * adding a normalised value to it cannot overflow. Tests lower it to run
 * the normalisation often. */
uint64_t pmr__dense_norm_period = (uint64_t)1 << 30;

/* Propagate carries: limbs 0..64 in [0, 2^32), the top limb signed. */
static void pmr__sacc_norm(int64_t *l) {
  if (l[0] == PMR__SACC_NF)
    return;
  int64_t c = 0;
  for (int i = 0; i < PMR__SACC_TOP; i++) {
    int64_t v = l[i] + c;
    int64_t lo = v & PMR__DIGIT;
    c = (v - lo) / ((int64_t)1 << 32); /* exact: a floor for negatives too */
    l[i] = lo;
  }
  l[PMR__SACC_TOP] += c;
}

static void pmr__sacc_add(int64_t *l, double x) {
  uint64_t bits;
  memcpy(&bits, &x, 8);
  uint64_t m = bits & (((uint64_t)1 << 52) - 1);
  unsigned e = (unsigned)(bits >> 52) & 0x7ff;
  bool neg = bits >> 63;
  if (e == 0x7ff) {
    int f = m ? PMR__SACC_NAN : neg ? PMR__SACC_NINF : PMR__SACC_PINF;
    if (l[0] != PMR__SACC_NF) {
      l[0] = PMR__SACC_NF;
      l[1] = 0;
    }
    l[1] |= f;
    return;
  }
  if (l[0] == PMR__SACC_NF || (e == 0 && m == 0))
    return;
  if (e)
    m |= (uint64_t)1 << 52;
  else
    e = 1; /* subnormal: same unit as the smallest normal exponent */
  /* x = m * 2^(e - 1075) = m units shifted left by e - 1 bits. */
  unsigned p = e - 1, k = p >> 5, s = p & 31;
  uint64_t lo = m << s, hi = s ? m >> (64 - s) : 0;
  int64_t d0 = (int64_t)(lo & 0xffffffff), d1 = (int64_t)(lo >> 32),
          d2 = (int64_t)hi;
  if (neg) {
    l[k] -= d0;
    l[k + 1] -= d1;
    l[k + 2] -= d2;
  } else {
    l[k] += d0;
    l[k + 1] += d1;
    l[k + 2] += d2;
  }
}

/* a += b. `a` normalised (or fresh), `b` within the normalisation period. */
static void pmr__sacc_merge(int64_t *a, const int64_t *b) {
  if (a[0] == PMR__SACC_NF || b[0] == PMR__SACC_NF) {
    int64_t f =
        (a[0] == PMR__SACC_NF ? a[1] : 0) | (b[0] == PMR__SACC_NF ? b[1] : 0);
    a[0] = PMR__SACC_NF;
    a[1] = f;
    return;
  }
  for (int i = 0; i < PMR__SACC_LIMBS; i++)
    a[i] += b[i];
  pmr__sacc_norm(a);
}

/* Bits [pos, pos + 64) of a normalised, non-negative value whose digits are
 * all 32-bit (the top limb included). */
static uint64_t pmr__sacc_bits(const int64_t *l, unsigned pos) {
  unsigned k = pos >> 5, s = pos & 31;
  uint64_t v = (uint64_t)l[k] >> s;
  if (k + 1 < PMR__SACC_LIMBS)
    v |= (uint64_t)l[k + 1] << (32 - s);
  if (s && k + 2 < PMR__SACC_LIMBS)
    v |= (uint64_t)l[k + 2] << (64 - s);
  return v;
}

/* Whether any of bits [0, pos) is set. */
static bool pmr__sacc_any_below(const int64_t *l, unsigned pos) {
  unsigned k = pos >> 5, s = pos & 31;
  for (unsigned i = 0; i < k; i++)
    if (l[i])
      return true;
  return s && ((uint64_t)l[k] & (((uint64_t)1 << s) - 1));
}

/* The exact value rounded to the nearest double, ties to even. Destroys the
 * accumulator. An exact zero is +0.0, as IEEE addition from the initial +0.0
 * gives. */
static double pmr__sacc_value(int64_t *l) {
  uint64_t bits;
  if (l[0] == PMR__SACC_NF) {
    int64_t f = l[1];
    bool nan =
        (f & PMR__SACC_NAN) || ((f & PMR__SACC_PINF) && (f & PMR__SACC_NINF));
    bits = nan                    ? (uint64_t)0x7ff8000000000000
           : (f & PMR__SACC_PINF) ? (uint64_t)0x7ff0000000000000
                                  : (uint64_t)0xfff0000000000000;
    double x;
    memcpy(&x, &bits, 8);
    return x;
  }
  pmr__sacc_norm(l);
  bool neg = l[PMR__SACC_TOP] < 0;
  if (neg) {
    for (int i = 0; i < PMR__SACC_LIMBS; i++)
      l[i] = -l[i];
    pmr__sacc_norm(l);
  }
  const uint64_t inf = (uint64_t)0x7ff0000000000000;
  int i = PMR__SACC_TOP;
  /* The top limb's weight is 2^(2080 - 1074): from 2^18 in it the value is
   * at least 2^1024. Below, every limb is a 32-bit digit. */
  if ((uint64_t)l[PMR__SACC_TOP] >> 18) {
    bits = inf;
  } else {
    while (i >= 0 && l[i] == 0)
      i--;
    if (i < 0) {
      bits = 0;
    } else {
      /* Most significant bit P (in units of 2^-1074); keep 53 bits from
       * there, or all of them for a subnormal. */
      unsigned msb = 32 * (unsigned)i + 63 -
                     (unsigned)__builtin_clzll((unsigned long long)l[i]);
      unsigned shift = msb > 52 ? msb - 52 : 0;
      uint64_t mant = pmr__sacc_bits(l, shift);
      if (shift) {
        mant &= ((uint64_t)1 << 53) - 1;
        bool half = (pmr__sacc_bits(l, shift - 1) & 1) != 0;
        if (half && ((mant & 1) || pmr__sacc_any_below(l, shift - 1)))
          mant++;
        if (mant >> 53) {
          mant >>= 1;
          shift++;
        }
      }
      /* mant * 2^(shift - 1074): biased exponent shift + 1 for a normal
       * mantissa, 0 for a subnormal (only when shift is 0). */
      uint64_t be = mant >> 52 ? shift + 1 : 0;
      bits =
          be >= 0x7ff ? inf : (be << 52) | (mant & (((uint64_t)1 << 52) - 1));
    }
  }
  if (neg)
    bits |= (uint64_t)1 << 63;
  double x;
  memcpy(&x, &bits, 8);
  return x;
}

/* ---- the set ---- */

/* One map thread's array, with the adds it has taken since it was last
 * normalised (PMR_SUM_F64). Padded so that threads' counters do not share a
 * cache line. */
typedef struct pmr__dense_thr {
  unsigned char *a;
  uint64_t adds;
  unsigned char pad[48];
} pmr__dense_thr;

struct pmr__dense {
  uint64_t ncells, width;  /* width 1 for a user fold */
  size_t nelem;            /* elements per array: ncells x width, or ncells */
  size_t esize;            /* bytes per element while folding: 8, 528 (exact
                              sums) or the user value size */
  size_t bytes;            /* one array: nelem x esize */
  size_t fsize;            /* bytes per element of the result: 8 or vsize */
  unsigned char *identity; /* user fold: the initial value */
  pmr__dense_thr *thr;     /* while mapping: one per thread */
  int nt;
  unsigned char *acc;    /* this rank's maps folded so far, NULL before */
  unsigned char *values; /* after reduce, where held */
  int holder;            /* after reduce: -1 = every rank, else the root */
};

static inline bool pmr__dense_exact(const pmr_kv *kv) {
  return kv->op == PMR_SUM_F64;
}

/* Fill n elements (of the folding layout, or of the result layout when
 * `result`) with the initial value. */
static void pmr__dense_fill(const pmr_kv *kv, unsigned char *a, size_t n,
                            bool result) {
  const struct pmr__dense *d = kv->dense;
  size_t es = result ? d->fsize : d->esize;
  unsigned char one[8];
  const unsigned char *init = one;
  int64_t i;
  double x;
  switch (kv->op) {
  case PMR_MIN_I64:
    i = INT64_MAX;
    memcpy(one, &i, 8);
    break;
  case PMR_MAX_I64:
    i = INT64_MIN;
    memcpy(one, &i, 8);
    break;
  case PMR_MIN_F64:
    x = INFINITY;
    memcpy(one, &x, 8);
    break;
  case PMR_MAX_F64:
    x = -INFINITY;
    memcpy(one, &x, 8);
    break;
  case PMR__OP_USER:
    init = d->identity;
    break;
  default: /* sums and counts: zero, which is also an exact sum's zero */
    memset(a, 0, n * es);
    return;
  }
  if (!n)
    return;
  memcpy(a, init, es);
  /* Doubling copies: log(n) memcpy calls. */
  for (size_t have = 1; have < n;) {
    size_t take = have < n - have ? have : n - have;
    memcpy(a + have * es, a, take * es);
    have += take;
  }
}

/* An array of n elements holding the initial value. Zero-initialised ops
 * take calloc's pages as they are. */
static unsigned char *pmr__dense_alloc(const pmr_kv *kv, size_t n,
                                       bool result) {
  size_t es = result ? kv->dense->fsize : kv->dense->esize;
  bool zero =
      kv->op == PMR_COUNT || kv->op == PMR_SUM_I64 || kv->op == PMR_SUM_F64;
  unsigned char *a = zero ? pmr__calloc(n, es) : pmr__malloc(n * es);
  if (a && !zero)
    pmr__dense_fill(kv, a, n, result);
  return a;
}

int pmr__dense_new(pmr_kv *kv, uint64_t ncells, uint64_t width,
                   const void *identity) {
  pmr_ctx *ctx = kv->ctx;
  bool user = kv->op == PMR__OP_USER;
  size_t esize = user ? kv->vsize : pmr__dense_exact(kv) ? PMR__SACC_BYTES : 8;
  size_t nelem = 0, bytes = 0;
  if (ncells > SIZE_MAX || width > SIZE_MAX ||
      pmr__mul_ovf((size_t)ncells, (size_t)width, &nelem) ||
      pmr__mul_ovf(nelem, esize, &bytes))
    return pmr__seterr(ctx, PMR_ENOMEM,
                       "a dense set of %llu cells x %llu values is too large "
                       "to address",
                       (unsigned long long)ncells, (unsigned long long)width);
  /* One thread's array must fit; the map checks its thread count's. */
  if (bytes > ctx->memory)
    return pmr__seterr(ctx, PMR_ENOMEM,
                       "a dense set of %llu cells x %llu values needs %zu "
                       "bytes per thread (%zu per value), more than the "
                       "memory budget of %zu bytes",
                       (unsigned long long)ncells, (unsigned long long)width,
                       bytes, esize, ctx->memory);
  struct pmr__dense *d = pmr__calloc(1, sizeof *d);
  if (!d)
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory creating a set");
  d->ncells = ncells;
  d->width = width;
  d->nelem = nelem;
  d->esize = esize;
  d->bytes = bytes;
  d->fsize = user ? kv->vsize : 8;
  d->holder = -1;
  if (identity) {
    d->identity = pmr__malloc(kv->vsize);
    if (!d->identity) {
      pmr__free(d);
      return pmr__seterr(ctx, PMR_ENOMEM, "out of memory creating a set");
    }
    memcpy(d->identity, identity, kv->vsize);
  }
  kv->dense = d;
  return PMR_OK;
}

static void pmr__dense_drop_threads(struct pmr__dense *d) {
  for (int t = 0; d->thr && t < d->nt; t++)
    pmr__free(d->thr[t].a);
  pmr__free(d->thr);
  d->thr = NULL;
  d->nt = 0;
}

void pmr__dense_free(pmr_kv *kv) {
  struct pmr__dense *d = kv->dense;
  if (!d)
    return;
  pmr__dense_drop_threads(d);
  pmr__free(d->acc);
  pmr__free(d->values);
  pmr__free(d->identity);
  pmr__free(d);
  kv->dense = NULL;
}

int pmr__dense_prepare(pmr_kv *kv, int nt) {
  pmr_ctx *ctx = kv->ctx;
  struct pmr__dense *d = kv->dense;
  /* Arrays left by a map that failed on this rank. */
  pmr__dense_drop_threads(d);
  size_t need;
  if (pmr__mul_ovf((size_t)nt, d->bytes, &need) || need > ctx->memory)
    return pmr__seterr(ctx, PMR_ENOMEM,
                       "a dense set of %llu cells x %llu values needs %zu "
                       "bytes per thread (%zu per value) x %d threads, more "
                       "than the memory budget of %zu bytes (fewer threads, "
                       "fewer cells or a larger budget would do)",
                       (unsigned long long)d->ncells,
                       (unsigned long long)d->width, d->bytes, d->esize, nt,
                       ctx->memory);
  void *thr = NULL;
  int rc = pmr__memalign(&thr, 64, (size_t)nt * sizeof *d->thr);
  if (!rc) {
    d->thr = thr;
    d->nt = nt;
    memset(thr, 0, (size_t)nt * sizeof *d->thr);
    for (int t = 0; t < nt && !rc; t++)
      if (!(d->thr[t].a = pmr__dense_alloc(kv, d->nelem, false)))
        rc = PMR_ENOMEM;
  }
  if (rc) {
    pmr__dense_drop_threads(d);
    return pmr__seterr(ctx, PMR_ENOMEM,
                       "out of memory for a dense set's thread arrays (%d x "
                       "%zu bytes)",
                       nt, d->bytes);
  }
  return PMR_OK;
}

void *pmr__dense_thread(pmr_kv *kv, int t) { return &kv->dense->thr[t]; }

/* ---- folding arrays ---- */

static inline void pmr__min_f64(double *a, double x) {
  /* NaN compares false: ignored. -0.0 ranks below +0.0, so the result does
   * not depend on the order of equal zeros. */
  if (x < *a || (x == *a && signbit(x)))
    *a = x;
}
static inline void pmr__max_f64(double *a, double x) {
  if (x > *a || (x == *a && !signbit(x)))
    *a = x;
}

/* acc[i] (+)= in[i] for elements [lo, hi) of the folding layout. */
static void pmr__dense_merge(const pmr_kv *kv, unsigned char *acc,
                             const unsigned char *in, size_t lo, size_t hi) {
  uint64_t *ua = (uint64_t *)acc;
  const uint64_t *ub = (const uint64_t *)in;
  int64_t *ia = (int64_t *)acc;
  const int64_t *ib = (const int64_t *)in;
  double *fa = (double *)acc;
  const double *fb = (const double *)in;
  switch (kv->op) {
  case PMR_COUNT:
  case PMR_SUM_I64:
    for (size_t i = lo; i < hi; i++)
      ua[i] += ub[i];
    break;
  case PMR_MIN_I64:
    for (size_t i = lo; i < hi; i++)
      if (ib[i] < ia[i])
        ia[i] = ib[i];
    break;
  case PMR_MAX_I64:
    for (size_t i = lo; i < hi; i++)
      if (ib[i] > ia[i])
        ia[i] = ib[i];
    break;
  case PMR_MIN_F64:
    for (size_t i = lo; i < hi; i++)
      pmr__min_f64(&fa[i], fb[i]);
    break;
  case PMR_MAX_F64:
    for (size_t i = lo; i < hi; i++)
      pmr__max_f64(&fa[i], fb[i]);
    break;
  case PMR_SUM_F64:
    for (size_t i = lo; i < hi; i++)
      pmr__sacc_merge(ia + i * PMR__SACC_LIMBS, ib + i * PMR__SACC_LIMBS);
    break;
  default: {
    size_t vs = kv->vsize;
    for (size_t i = lo; i < hi; i++)
      kv->combine(acc + i * vs, in + i * vs, kv->user);
  }
  }
}

/* Fold ins[0], ins[1], ... in that order into acc over n elements, cell
 * blocks spread over `nt` threads (each element still sees the same order).
 * `norm` first normalises acc's exact sums (an adopted thread array). */
#define PMR__FOLD_BLOCK 1024
static void pmr__dense_fold(const pmr_kv *kv, unsigned char *acc,
                            unsigned char *const *ins, int nin, size_t n,
                            bool norm, int nt) {
  size_t nb = (n + PMR__FOLD_BLOCK - 1) / PMR__FOLD_BLOCK;
  size_t work = n * kv->dense->esize * (size_t)(nin + norm);
  bool exact = pmr__dense_exact(kv);
#pragma omp parallel for schedule(static)                                      \
    num_threads(nt) if (nt > 1 && work > ((size_t)1 << 20))
  for (size_t b = 0; b < nb; b++) {
    size_t lo = b * PMR__FOLD_BLOCK;
    size_t hi = lo + PMR__FOLD_BLOCK < n ? lo + PMR__FOLD_BLOCK : n;
    if (norm && exact)
      for (size_t i = lo; i < hi; i++)
        pmr__sacc_norm((int64_t *)acc + i * PMR__SACC_LIMBS);
    for (int k = 0; k < nin; k++)
      pmr__dense_merge(kv, acc, ins[k], lo, hi);
  }
}

/* Normalise every exact sum of a thread array. */
static void pmr__dense_norm_all(const pmr_kv *kv, unsigned char *a) {
  int64_t *l = (int64_t *)a;
  for (size_t i = 0; i < kv->dense->nelem; i++)
    pmr__sacc_norm(l + i * PMR__SACC_LIMBS);
}

/* A result from an earlier reduce taken back into the folding layout, when
 * the set is mapped again: it counts once, on the rank that received it
 * (rank 0 when every rank did). In place for 8-byte folding elements. */
static int pmr__dense_take_back(pmr_kv *kv) {
  struct pmr__dense *d = kv->dense;
  pmr_ctx *ctx = kv->ctx;
  int keeper = d->holder < 0 ? 0 : d->holder;
  if (!d->values)
    return PMR_OK;
  if (ctx->rank != keeper || d->acc) {
    pmr__free(d->values);
    d->values = NULL;
    return PMR_OK;
  }
  if (!pmr__dense_exact(kv)) {
    d->acc = d->values;
    d->values = NULL;
    return PMR_OK;
  }
  unsigned char *acc = pmr__calloc(d->nelem, PMR__SACC_BYTES);
  if (!acc)
    return pmr__seterr(ctx, PMR_ENOMEM,
                       "out of memory folding a dense set (%zu bytes)",
                       d->bytes);
  const double *v = (const double *)d->values;
  for (size_t i = 0; i < d->nelem; i++)
    pmr__sacc_add((int64_t *)acc + i * PMR__SACC_LIMBS, v[i]);
  pmr__free(d->values);
  d->values = NULL;
  d->acc = acc;
  return PMR_OK;
}

int pmr__dense_fold_threads(pmr_kv *kv) {
  struct pmr__dense *d = kv->dense;
  if (!d->thr)
    return PMR_OK;
  int rc = pmr__dense_take_back(kv);
  if (rc)
    return rc;
  int nt = d->nt, first = 0;
  bool adopt = d->acc == NULL;
  unsigned char **ins = pmr__malloc((size_t)nt * sizeof *ins);
  if (!ins)
    return pmr__seterr(kv->ctx, PMR_ENOMEM,
                       "out of memory folding a dense "
                       "set");
  /* The first map's thread 0 array becomes the accumulator: no copy. */
  if (adopt) {
    d->acc = d->thr[0].a;
    d->thr[0].a = NULL;
    first = 1;
  }
  for (int t = first; t < nt; t++)
    ins[t - first] = d->thr[t].a;
  pmr__dense_fold(kv, d->acc, ins, nt - first, d->nelem, adopt,
                  kv->ctx->nthreads);
  pmr__free(ins);
  pmr__dense_drop_threads(d);
  return PMR_OK;
}

/* ---- emitting ---- */

static int pmr__cell_misuse(pmr_emitter *em, int code, const char *fmt, ...)
    PMR__PRINTF(3, 4);
static int pmr__cell_misuse(pmr_emitter *em, int code, const char *fmt, ...) {
  if (em->msg && !em->status) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(em->msg, PMR__ERRMSG_MAX, fmt, ap);
    va_end(ap);
  }
  if (!em->status)
    em->status = code;
  return code;
}

static int pmr__cell_range(pmr_emitter *em, const char *fn, uint64_t cell) {
  return pmr__cell_misuse(em, PMR_EINVAL,
                          "%s: cell %llu is out of range (the set has %llu "
                          "cells)",
                          fn, (unsigned long long)cell,
                          (unsigned long long)em->kv->dense->ncells);
}

/* After an add to an exact sum: normalise the thread's array when its limbs
 * could come near overflow. */
static inline void pmr__dense_counted(pmr_kv *kv, pmr__dense_thr *th) {
  if (++th->adds >= pmr__dense_norm_period) {
    pmr__dense_norm_all(kv, th->a);
    th->adds = 0;
  }
}

/* Fold value x (8 bytes) into element e of a built-in op's thread array. */
static inline void pmr__dense_put(pmr_kv *kv, unsigned char *a, size_t e,
                                  const void *x) {
  int64_t i;
  double f;
  switch (kv->op) {
  case PMR_COUNT:
    ((uint64_t *)a)[e] += 1;
    break;
  case PMR_SUM_I64:
    memcpy(&i, x, 8);
    ((uint64_t *)a)[e] += (uint64_t)i;
    break;
  case PMR_MIN_I64:
    memcpy(&i, x, 8);
    if (i < ((int64_t *)a)[e])
      ((int64_t *)a)[e] = i;
    break;
  case PMR_MAX_I64:
    memcpy(&i, x, 8);
    if (i > ((int64_t *)a)[e])
      ((int64_t *)a)[e] = i;
    break;
  case PMR_MIN_F64:
    memcpy(&f, x, 8);
    pmr__min_f64((double *)a + e, f);
    break;
  case PMR_MAX_F64:
    memcpy(&f, x, 8);
    pmr__max_f64((double *)a + e, f);
    break;
  case PMR_SUM_F64:
    memcpy(&f, x, 8);
    pmr__sacc_add((int64_t *)a + e * PMR__SACC_LIMBS, f);
    break;
  }
}

int pmr_emit_cell(pmr_emitter *em, uint64_t cell, const void *values) {
  pmr_kv *kv = em->kv;
  if (kv->kind != PMR__DENSE || !em->cells)
    return pmr__cell_misuse(em, PMR_ESTATE,
                            "pmr_emit_cell into a hash set: use pmr_emit");
  struct pmr__dense *d = kv->dense;
  if (cell >= d->ncells)
    return pmr__cell_range(em, "pmr_emit_cell", cell);
  if (!values && kv->op != PMR_COUNT)
    return pmr__cell_misuse(em, PMR_EINVAL, "pmr_emit_cell: no values");
  pmr__dense_thr *th = em->cells;
  em->emitted++;
  if (kv->op == PMR__OP_USER) {
    kv->combine(th->a + (size_t)cell * kv->vsize, values, kv->user);
    return PMR_OK;
  }
  size_t w = (size_t)d->width, e0 = (size_t)cell * w;
  const unsigned char *v = values;
  for (size_t j = 0; j < w; j++)
    pmr__dense_put(kv, th->a, e0 + j, v ? v + 8 * j : NULL);
  if (pmr__dense_exact(kv))
    pmr__dense_counted(kv, th);
  return PMR_OK;
}

/* One value into column `col`: built-in ops of the value's type, or a user
 * fold of 8-byte values of that type (col 0). */
static int pmr__emit_one(pmr_emitter *em, uint64_t cell, uint64_t col,
                         const void *x, pmr_dtype type, const char *fn) {
  pmr_kv *kv = em->kv;
  if (kv->kind != PMR__DENSE || !em->cells)
    return pmr__cell_misuse(em, PMR_ESTATE, "%s into a hash set: use pmr_emit",
                            fn);
  struct pmr__dense *d = kv->dense;
  if (kv->dtype != type)
    return pmr__cell_misuse(em, PMR_ESTATE,
                            "%s: this set's values are %s: use %s", fn,
                            kv->dtype == PMR_INT64     ? "int64"
                            : kv->dtype == PMR_FLOAT64 ? "float64"
                                                       : "bytes",
                            kv->dtype == PMR_INT64     ? "pmr_emit_cell_i64"
                            : kv->dtype == PMR_FLOAT64 ? "pmr_emit_cell_f64"
                                                       : "pmr_emit_cell");
  if (cell >= d->ncells)
    return pmr__cell_range(em, fn, cell);
  if (col >= d->width)
    return pmr__cell_misuse(em, PMR_EINVAL,
                            "%s: column %llu is out of range (cells have "
                            "%llu values)",
                            fn, (unsigned long long)col,
                            (unsigned long long)d->width);
  pmr__dense_thr *th = em->cells;
  em->emitted++;
  if (kv->op == PMR__OP_USER) {
    kv->combine(th->a + (size_t)cell * kv->vsize, x, kv->user);
    return PMR_OK;
  }
  pmr__dense_put(kv, th->a, (size_t)cell * (size_t)d->width + (size_t)col, x);
  if (pmr__dense_exact(kv))
    pmr__dense_counted(kv, th);
  return PMR_OK;
}

int pmr_emit_cell_i64(pmr_emitter *em, uint64_t cell, uint64_t col,
                      int64_t value) {
  return pmr__emit_one(em, cell, col, &value, PMR_INT64, "pmr_emit_cell_i64");
}

int pmr_emit_cell_f64(pmr_emitter *em, uint64_t cell, uint64_t col,
                      double value) {
  return pmr__emit_one(em, cell, col, &value, PMR_FLOAT64, "pmr_emit_cell_f64");
}

/* ---- reduce ---- */

/* Messages of the tree carry at most this many bytes (and at most a quarter
 * of the memory budget), so no count nears INT_MAX and the receive buffer
 * stays small. */
#define PMR__DENSE_MSG ((size_t)32 << 20)
/* Broadcast and root transfers go in pieces of at most 1 GiB. */
#define PMR__DENSE_PIECE ((size_t)1 << 30)
#define PMR__DENSE_TAG 7301

/* Result layout in place: exact sums rounded to doubles (element i moves
 * from byte 528 i to byte 8 i, never past what is still to be read). */
static int pmr__dense_finish(pmr_kv *kv) {
  struct pmr__dense *d = kv->dense;
  if (!pmr__dense_exact(kv)) {
    d->values = d->acc;
    d->acc = NULL;
    return PMR_OK;
  }
  unsigned char *a = d->acc;
  for (size_t i = 0; i < d->nelem; i++) {
    double x = pmr__sacc_value((int64_t *)a + i * PMR__SACC_LIMBS);
    memcpy(a + 8 * i, &x, 8);
  }
  /* Shrinking; keep the block if realloc cannot move it. */
  unsigned char *v = pmr__realloc(a, d->nelem * 8);
  d->values = v ? v : a;
  d->acc = NULL;
  return PMR_OK;
}

/* Send or receive `n` bytes in pieces, between `peer` and this rank, or
 * broadcast from `peer` when bcast. Every MPI call is made even after an
 * error (so the partner is not left waiting); the first error is kept. */
static int pmr__dense_move(pmr_ctx *ctx, unsigned char *buf, size_t n, int peer,
                           int how) {
  int mrc = MPI_SUCCESS;
  for (size_t off = 0; off < n; off += PMR__DENSE_PIECE) {
    int len = (int)(n - off < PMR__DENSE_PIECE ? n - off : PMR__DENSE_PIECE);
    int r = how == 0   ? MPI_Bcast(buf + off, len, MPI_BYTE, peer, ctx->comm)
            : how == 1 ? MPI_Send(buf + off, len, MPI_BYTE, peer,
                                  PMR__DENSE_TAG, ctx->comm)
                       : MPI_Recv(buf + off, len, MPI_BYTE, peer,
                                  PMR__DENSE_TAG, ctx->comm, MPI_STATUS_IGNORE);
    if (r != MPI_SUCCESS && mrc == MPI_SUCCESS)
      mrc = r;
  }
  return mrc;
}

/* The ranks' accumulators folded up a binomial tree to rank 0: rank r takes
 * r + 1, r + 2, r + 4, ... (while below its lowest set bit) in that order,
 * then sends to r - lowbit. The same tree every time: ranks in order, a
 * balanced binary bracketing. In messages of `chunk` elements. */
static int pmr__dense_tree(pmr_kv *kv, unsigned char *buf, size_t chunk) {
  pmr_ctx *ctx = kv->ctx;
  struct pmr__dense *d = kv->dense;
  int mrc = MPI_SUCCESS, rank = ctx->rank, size = ctx->size;
  for (size_t off = 0; off < d->nelem; off += chunk) {
    size_t n = d->nelem - off < chunk ? d->nelem - off : chunk;
    unsigned char *mine = d->acc + off * d->esize;
    for (int mask = 1; mask < size; mask <<= 1) {
      int r;
      if (rank & mask) {
        r = MPI_Send(mine, (int)(n * d->esize), MPI_BYTE, rank - mask,
                     PMR__DENSE_TAG, ctx->comm);
        if (r != MPI_SUCCESS && mrc == MPI_SUCCESS)
          mrc = r;
        break;
      }
      if (rank + mask >= size)
        continue;
      r = MPI_Recv(buf, (int)(n * d->esize), MPI_BYTE, rank + mask,
                   PMR__DENSE_TAG, ctx->comm, MPI_STATUS_IGNORE);
      if (r != MPI_SUCCESS && mrc == MPI_SUCCESS)
        mrc = r;
      else if (r == MPI_SUCCESS)
        pmr__dense_fold(kv, mine, &buf, 1, n, false, ctx->nthreads);
    }
  }
  return mrc;
}

static void pmr__dense_clear(struct pmr__dense *d) {
  pmr__dense_drop_threads(d);
  pmr__free(d->acc);
  pmr__free(d->values);
  d->acc = d->values = NULL;
}

int pmr__dense_reduce(pmr_kv *kv, int root) {
  pmr_ctx *ctx = kv->ctx;
  struct pmr__dense *d = kv->dense;
  bool all = root < 0;
  bool hold = all || ctx->rank == root;
  /* A map that failed here may have left its arrays, and an earlier result
   * that it did not take back. */
  pmr__dense_drop_threads(d);
  int rc = pmr__agree(ctx, pmr__dense_take_back(kv));
  if (rc)
    goto fail;
  /* Whether any rank mapped, and the message size every rank can afford. */
  size_t cap =
      ctx->memory / 4 < PMR__DENSE_MSG ? ctx->memory / 4 : PMR__DENSE_MSG;
  int64_t in[2] = {d->acc != NULL,
                   -(int64_t)(cap / d->esize ? cap / d->esize : 1)},
          out[2] = {0, 0};
  rc = pmr__agree_mpi(
      ctx, MPI_Allreduce(in, out, 2, MPI_INT64_T, MPI_MAX, ctx->comm),
      "MPI_Allreduce of a dense set's state");
  if (rc)
    goto fail;
  size_t chunk = (size_t)-out[1];
  int lrc = PMR_OK;
  if (!out[0]) {
    /* Never mapped anywhere: the holders start from the initial values. */
    if (hold && !(d->values = pmr__dense_alloc(kv, d->nelem, true)))
      lrc = pmr__seterr(ctx, PMR_ENOMEM,
                        "out of memory for a dense set's values");
    if ((rc = pmr__agree(ctx, lrc)))
      goto fail;
    d->holder = all ? -1 : root;
    return PMR_OK;
  }
  /* A rank with no accumulator (none here can come only from a failed
   * map) joins with the initial values. */
  if (!d->acc && !(d->acc = pmr__dense_alloc(kv, d->nelem, false)))
    lrc = PMR_ENOMEM;
  bool parent = ctx->rank % 2 == 0 && ctx->rank + 1 < ctx->size;
  size_t nbuf = chunk < d->nelem ? chunk : d->nelem;
  unsigned char *buf = parent && !lrc ? pmr__malloc(nbuf * d->esize) : NULL;
  if (parent && !buf)
    lrc = PMR_ENOMEM;
  if (lrc)
    pmr__seterr(ctx, lrc, "out of memory reducing a dense set (%zu bytes)",
                d->bytes);
  if ((rc = pmr__agree(ctx, lrc))) {
    pmr__free(buf);
    goto fail;
  }
  int mrc = pmr__dense_tree(kv, buf, chunk);
  pmr__free(buf);
  if ((rc = pmr__agree_mpi(ctx, mrc, "the dense reduce's messages")))
    goto fail;

  /* Rank 0 has the result; a holder elsewhere needs room for it. */
  lrc = PMR_OK;
  if (ctx->rank == 0) {
    lrc = pmr__dense_finish(kv);
  } else if (hold) {
    if (pmr__dense_exact(kv)) {
      pmr__free(d->acc);
      d->acc = NULL;
      if (!(d->values = pmr__malloc(d->nelem * d->fsize)))
        lrc = pmr__seterr(ctx, PMR_ENOMEM,
                          "out of memory for a dense set's values");
    } else {
      d->values = d->acc; /* the same layout: reuse the block */
      d->acc = NULL;
    }
  } else {
    pmr__free(d->acc);
    d->acc = NULL;
  }
  if ((rc = pmr__agree(ctx, lrc)))
    goto fail;
  size_t nbytes = d->nelem * d->fsize;
  if (all) {
    mrc = pmr__dense_move(ctx, d->values, nbytes, 0, 0);
  } else if (root != 0) {
    if (ctx->rank == 0)
      mrc = pmr__dense_move(ctx, d->values, nbytes, root, 1);
    else if (ctx->rank == root)
      mrc = pmr__dense_move(ctx, d->values, nbytes, 0, 2);
  }
  if ((rc = pmr__agree_mpi(ctx, mrc, "the dense reduce's result")))
    goto fail;
  if (!hold) {
    pmr__free(d->values);
    d->values = NULL;
  }
  d->holder = all ? -1 : root;
  return PMR_OK;
fail:
  pmr__dense_clear(d);
  return rc;
}

/* ---- results ---- */

const void *pmr__dense_values(const pmr_kv *kv) {
  return kv->state == PMR__REDUCED ? kv->dense->values : NULL;
}
uint64_t pmr__dense_cells(const pmr_kv *kv) { return kv->dense->ncells; }
uint64_t pmr__dense_width(const pmr_kv *kv) { return kv->dense->width; }
int pmr__dense_holder(const pmr_kv *kv) { return kv->dense->holder; }

void pmr__dense_initial(const pmr_kv *kv, void *out, size_t ncells) {
  const struct pmr__dense *d = kv->dense;
  pmr__dense_fill(kv, out, ncells * (d->nelem / d->ncells), true);
}
