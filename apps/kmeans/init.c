/* Initial centroids: from a dataset, k random points, or k-means++.
 *
 * Random choices come from a counter-based generator: km_random(seed,
 * stream, i) depends on nothing else, so every rank draws the same numbers
 * without talking, whatever the rank count.
 *
 * k-means++ (Arthur and Vassilvitskii, 2007): the first centroid is a
 * uniformly random point; each next one is point i with probability
 * D(i)^2 / sum D^2, D(i) the distance from point i to its nearest centroid
 * so far. To make that choice the same at any rank and thread count, the
 * weights are integers: w(i) = floor(D(i)^2 * 2^(52 - E)) with 2^E above
 * the largest D^2 (so w < 2^53), their sums are 128-bit integers (exact in
 * any order), and the draw picks the first point whose running sum exceeds
 * floor(W * u / 2^64) for the step's 64-bit random u. E is kept from step to
 * step (the largest D^2 only falls) and renewed when the total weight falls
 * below 2^48, so the weights always resolve D^2 to at least 2^-48 of the
 * total. If every D^2 is 0 (fewer distinct points than k) the step takes a
 * uniformly random point instead. */
#include "kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 km_u128;

enum { KM_STREAM_RANDOM = 1, KM_STREAM_PP = 2, KM_STREAM_PP_UNIFORM = 3 };

static inline uint64_t km_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

#define KM_GOLDEN 0x9e3779b97f4a7c15u

uint64_t km_random(uint64_t seed, uint64_t stream, uint64_t i) {
  return km_mix(km_mix(seed + stream * KM_GOLDEN) + (i + 1) * KM_GOLDEN);
}

/* floor(r * m / 2^64): a number in [0, m). */
static inline uint64_t km_below(uint64_t r, uint64_t m) {
  return (uint64_t)(((km_u128)r * m) >> 64);
}

/* ---- fetching rows by global index ---- */

typedef struct km_want {
  uint64_t row, cell;
} km_want;

typedef struct km_fetch_ctx {
  const km_want *want; /* sorted by row */
  size_t n;
} km_fetch_ctx;

static int km_want_cmp(const void *a, const void *b) {
  const km_want *x = a, *y = b;
  return x->row < y->row ? -1 : x->row > y->row;
}

static int km_fetch_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  const km_fetch_ctx *fc = user;
  /* First wanted row at or after r->first. */
  size_t lo = 0, hi = fc->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (fc->want[mid].row < r->first)
      lo = mid + 1;
    else
      hi = mid;
  }
  const double *x = r->data;
  for (size_t i = lo; i < fc->n && fc->want[i].row < r->first + r->nrows; i++) {
    int rc = pmr_emit_cell(em, fc->want[i].cell,
                           x + (fc->want[i].row - r->first) * r->ncols);
    if (rc)
      return rc;
  }
  return 0;
}

/* Copy the rows `want` names (cells 0..ncells-1, on whichever rank holds
 * them; a rank may ask for none) into out[ncells x d] on every rank. The
 * maximum of one value is that value, bit for bit. Collective. */
static int km_fetch(km_data *dt, km_want *want, size_t n, uint64_t ncells,
                    double *out) {
  qsort(want, n, sizeof *want, km_want_cmp);
  km_fetch_ctx fc = {want, n};
  pmr_kv *kv = NULL;
  int rc = pmr_kv_create_dense(dt->ctx, PMR_MAX_F64, ncells, dt->d, &kv);
  if (!rc)
    rc = pmr_map_block(dt->block, km_fetch_rows, &fc, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc)
    memcpy(out, pmr_kv_dense_values(kv), ncells * dt->d * sizeof *out);
  pmr_kv_destroy(&kv);
  return rc;
}

/* ---- random ---- */

int km_init_random(km_data *dt, uint64_t k, uint64_t seed, double *cent) {
  /* Floyd's algorithm: k distinct rows of [0, n) with k draws; centroid i
   * is the i-th row chosen. */
  km_want *want = malloc(k * sizeof *want);
  uint64_t cap = 16;
  while (cap < 2 * k)
    cap *= 2;
  uint64_t *set = malloc(cap * sizeof *set); /* open addressing, +1 */
  int rc = km_agree(dt, want && set ? PMR_OK
                                    : km_fail(PMR_ENOMEM,
                                              "out of memory choosing %llu "
                                              "points",
                                              (unsigned long long)k));
  if (rc) {
    free(want);
    free(set);
    return rc;
  }
  memset(set, 0, cap * sizeof *set);
  for (uint64_t i = 0; i < k; i++) {
    uint64_t j = dt->n - k + i;
    uint64_t t = km_below(km_random(seed, KM_STREAM_RANDOM, i), j + 1);
    for (int pass = 0; pass < 2; pass++) {
      uint64_t h = km_random(0, 0, t) & (cap - 1);
      while (set[h] && set[h] != t + 1)
        h = (h + 1) & (cap - 1);
      if (!set[h]) {
        set[h] = t + 1;
        break;
      }
      t = j; /* taken: j itself cannot have been drawn before */
    }
    want[i] = (km_want){t, i};
  }
  free(set);
  rc = km_fetch(dt, want, k, k, cent);
  free(want);
  return rc;
}

/* ---- k-means++ ---- */

/* A rank's part of a k-means++ step: its total weight and largest D^2. */
typedef struct km_pp_cell {
  uint64_t lo, hi; /* 128-bit total weight */
  double max;
} km_pp_cell;

static void km_pp_fold(void *acc, const void *in, void *user) {
  (void)user;
  km_pp_cell a, b;
  memcpy(&a, acc, sizeof a);
  memcpy(&b, in, sizeof b);
  km_u128 s = ((km_u128)a.hi << 64 | a.lo) + ((km_u128)b.hi << 64 | b.lo);
  a.lo = (uint64_t)s;
  a.hi = (uint64_t)(s >> 64);
  if (b.max > a.max)
    a.max = b.max;
  memcpy(acc, &a, sizeof a);
}

/* A block of rows a callback mapped, with the sum of its weights: the
 * search for the chosen point then scans one block, not the rank's rows. */
typedef struct km_pp_blk {
  uint64_t first, n;
  km_u128 w;
} km_pp_blk;

typedef struct km_pp_blks {
  km_pp_blk *b;
  size_t n, cap;
  char pad[40]; /* threads' counters on separate cache lines */
} km_pp_blks;

typedef struct km_pp_ctx {
  const km_data *dt;
  double *d2;         /* [nlocal] squared distance to the nearest so far */
  const double *cnew; /* the centroid just added, or NULL: weights only */
  int e;              /* weights: D^2 * 2^(52 - e); INT32_MIN: none yet */
  double scale;       /* 2^(52 - e), or 0 where that is not a double */
  km_pp_blks *blks;   /* [threads]: this pass's blocks */
} km_pp_ctx;

/* floor(D^2 2^(52 - e)) (< 2^52 as D^2 < 2^e). Multiplying by a power of
 * two is exact whenever the product is at least 1, and below 1 the floor
 * is 0 either way: the same as ldexp's, which takes over only where
 * 2^(52 - e) overflows (every D^2 below 2^-971). */
static inline uint64_t km_pp_weight(const km_pp_ctx *pc, double d2) {
  return pc->scale ? (uint64_t)(d2 * pc->scale)
                   : (uint64_t)floor(ldexp(d2, 52 - pc->e));
}

static void km_pp_set_e(km_pp_ctx *pc, int e) {
  pc->e = e;
  pc->scale = 52 - e <= 1000 ? ldexp(1, 52 - e) : 0;
}

static int km_pp_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  const km_pp_ctx *pc = user;
  uint64_t d = r->ncols;
  double *d2 = pc->d2 + (r->first - pc->dt->first);
  const double *x = r->data;
  km_u128 w = 0;
  double mx = 0;
  for (uint64_t i = 0; i < r->nrows; i++) {
    if (pc->cnew) {
      double v = km_dist2(x + i * d, pc->cnew, d);
      if (v < d2[i])
        d2[i] = v;
    }
    if (d2[i] > mx)
      mx = d2[i];
    if (pc->e != INT32_MIN)
      w += km_pp_weight(pc, d2[i]);
  }
  km_pp_blks *bl = &pc->blks[pmr_emitter_thread(em)];
  if (bl->n == bl->cap) {
    size_t cap = bl->cap ? 2 * bl->cap : 64;
    km_pp_blk *b = realloc(bl->b, cap * sizeof *b);
    if (!b)
      return PMR_ENOMEM;
    bl->b = b;
    bl->cap = cap;
  }
  bl->b[bl->n++] = (km_pp_blk){r->first, r->nrows, w};
  km_pp_cell c = {(uint64_t)w, (uint64_t)(w >> 64), mx};
  return pmr_emit_cell(em, (uint64_t)pc->dt->rank, &c);
}

static int km_pp_blk_cmp(const void *a, const void *b) {
  const km_pp_blk *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* On the rank holding the target: the first local row whose running sum
 * of weights (from `cum`, the ranks' before it) exceeds it. Blocks first,
 * then the rows of one block. Returns 0 and sets *row, or PMR_ENOMEM. */
static int km_pp_find(const km_pp_ctx *pc, km_u128 cum, km_u128 target,
                      uint64_t *row) {
  size_t n = 0;
  for (int t = 0; t < pc->dt->nthreads; t++)
    n += pc->blks[t].n;
  km_pp_blk *all = malloc((n ? n : 1) * sizeof *all);
  if (!all)
    return PMR_ENOMEM;
  n = 0;
  for (int t = 0; t < pc->dt->nthreads; t++) {
    memcpy(all + n, pc->blks[t].b, pc->blks[t].n * sizeof *all);
    n += pc->blks[t].n;
  }
  qsort(all, n, sizeof *all, km_pp_blk_cmp);
  *row = pc->dt->first + pc->dt->nlocal - 1; /* not reached: target < sum */
  for (size_t b = 0; b < n; b++) {
    if (cum + all[b].w <= target) {
      cum += all[b].w;
      continue;
    }
    const double *d2 = pc->d2 + (all[b].first - pc->dt->first);
    for (uint64_t i = 0; i < all[b].n; i++) {
      cum += km_pp_weight(pc, d2[i]);
      if (cum > target) {
        *row = all[b].first + i;
        break;
      }
    }
    break;
  }
  free(all);
  return PMR_OK;
}

/* One pass: update D^2 (when cnew), then every rank's weight and the
 * largest D^2 into part[nranks], *max. */
static int km_pp_pass(km_data *dt, km_pp_ctx *pc, km_u128 *part, double *max) {
  static const km_pp_cell zero = {0, 0, 0};
  for (int t = 0; t < dt->nthreads; t++)
    pc->blks[t].n = 0;
  pmr_kv *kv = NULL;
  int rc = pmr_kv_create_dense_user(dt->ctx, (uint64_t)dt->nranks,
                                    sizeof(km_pp_cell), PMR_BYTES, km_pp_fold,
                                    &zero, NULL, &kv);
  if (!rc)
    rc = pmr_map_block(dt->block, km_pp_rows, pc, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc) {
    const unsigned char *v = pmr_kv_dense_values(kv);
    *max = 0;
    for (int i = 0; i < dt->nranks; i++) {
      km_pp_cell c;
      memcpy(&c, v + (size_t)i * sizeof c, sizeof c);
      part[i] = (km_u128)c.hi << 64 | c.lo;
      if (c.max > *max)
        *max = c.max;
    }
  }
  pmr_kv_destroy(&kv);
  return rc;
}

int km_init_kmeanspp(km_data *dt, uint64_t k, uint64_t seed, double *cent) {
  uint64_t d = dt->d;
  double *d2 = malloc((dt->nlocal ? dt->nlocal : 1) * sizeof *d2);
  km_u128 *part = malloc((size_t)dt->nranks * sizeof *part);
  km_pp_blks *blks = calloc((size_t)dt->nthreads, sizeof *blks);
  int rc =
      d2 && part && blks
          ? PMR_OK
          : km_fail(PMR_ENOMEM, "out of memory for k-means++ (%llu points)",
                    (unsigned long long)dt->nlocal);
  for (uint64_t i = 0; d2 && i < dt->nlocal; i++)
    d2[i] = INFINITY;
  /* Every rank asks for the first centroid: only its holder emits it. */
  km_want want = {km_below(km_random(seed, KM_STREAM_PP, 0), dt->n), 0};
  rc = km_agree(dt, rc);
  if (!rc)
    rc = km_fetch(dt, &want, 1, 1, cent);
  km_pp_ctx pc = {dt, d2, NULL, INT32_MIN, 0, blks};
  for (uint64_t t = 1; !rc && t < k; t++) {
    double max;
    pc.cnew = cent + (t - 1) * d;
    rc = km_pp_pass(dt, &pc, part, &max);
    km_u128 total = 0;
    for (int i = 0; !rc && i < dt->nranks; i++)
      total += part[i];
    if (!rc && max > 0 && (pc.e == INT32_MIN || total < ((km_u128)1 << 48))) {
      int e;
      frexp(max, &e); /* max < 2^e */
      km_pp_set_e(&pc, e);
      pc.cnew = NULL;
      rc = km_pp_pass(dt, &pc, part, &max);
      total = 0;
      for (int i = 0; !rc && i < dt->nranks; i++)
        total += part[i];
    }
    if (rc)
      break;
    size_t nwant = 0;
    want.cell = 0;
    int lrc = PMR_OK;
    if (total == 0) {
      want.row = km_below(km_random(seed, KM_STREAM_PP_UNIFORM, t), dt->n);
      nwant = 1;
    } else {
      /* target = floor(total * u / 2^64), total < 2^128 split in halves */
      uint64_t u = km_random(seed, KM_STREAM_PP, t);
      km_u128 th = (total >> 64) * u, tl = ((km_u128)(uint64_t)total * u);
      km_u128 target = th + (tl >> 64);
      km_u128 before = 0;
      for (int i = 0; i < dt->rank; i++)
        before += part[i];
      if (target >= before && target < before + part[dt->rank]) {
        lrc = km_pp_find(&pc, before, target, &want.row);
        nwant = 1;
      }
    }
    rc = km_agree(dt, lrc ? km_fail(lrc, "out of memory in k-means++") : lrc);
    if (!rc)
      rc = km_fetch(dt, &want, nwant, 1, cent + t * d);
  }
  for (int t = 0; blks && t < dt->nthreads; t++)
    free(blks[t].b);
  free(blks);
  free(d2);
  free(part);
  return rc;
}

/* ---- from a dataset ---- */

/* Column d of the values set: 0, or 1 + 4 col + kind for a row's first bad
 * value (NaN, +Inf, -Inf, too large). */
static int km_file_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  const uint64_t *dk = user; /* d, k */
  uint64_t d = dk[0];
  const double *x = r->data;
  double *row = malloc((d + 1) * sizeof *row);
  if (!row)
    return PMR_ENOMEM;
  int rc = PMR_OK;
  for (uint64_t i = 0; i < r->nrows && !rc; i++) {
    memcpy(row, x + i * d, d * sizeof *row);
    row[d] = 0;
    for (uint64_t j = 0; j < d && !row[d]; j++) {
      double v = row[j];
      if (!(fabs(v) <= KM_MAX_ABS))
        row[d] = 1 + 4.0 * (double)j +
                 (isnan(v)   ? 0
                  : isinf(v) ? (v > 0 ? 1 : 2)
                             : 3);
    }
    rc = pmr_emit_cell(em, r->first + i, row);
  }
  free(row);
  return rc;
}

static int km_shape_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  (void)user;
  int64_t v[2] = {(int64_t)r->total, (int64_t)r->ncols};
  return pmr_emit_cell(em, 0, v);
}

int km_init_file(km_data *dt, const char *spec, uint64_t *k, double **cent) {
  const char *specs[1] = {spec};
  uint64_t d = dt->d;
  *cent = NULL;
  /* The shape first, so that a wrong one is reported as such. */
  pmr_kv *kv = NULL;
  int rc = pmr_kv_create_dense(dt->ctx, PMR_MAX_I64, 1, 2, &kv);
  if (!rc)
    rc = pmr_map_h5(dt->ctx, specs, 1, PMR_FLOAT64, 0, km_shape_rows, NULL, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  uint64_t rows = 0, cols = 0;
  if (!rc) {
    const int64_t *v = pmr_kv_dense_values(kv);
    rows = (uint64_t)v[0];
    cols = (uint64_t)v[1];
  }
  pmr_kv_destroy(&kv);
  if (rc)
    return rc;
  if (cols != d || (*k && rows != *k))
    return km_fail(PMR_EINVAL,
                   "'%s' holds %llu centroids of %llu values; need %s%llu of "
                   "%llu values (the points' dimension)",
                   spec, (unsigned long long)rows, (unsigned long long)cols,
                   *k ? "-k = " : "", (unsigned long long)(*k ? *k : rows),
                   (unsigned long long)d);
  if (rows > dt->n)
    return km_fail(PMR_EINVAL,
                   "'%s' holds %llu centroids, more than the %llu points of "
                   "'%s'",
                   spec, (unsigned long long)rows, (unsigned long long)dt->n,
                   dt->spec);
  *k = rows;
  uint64_t dk[2] = {d, rows};
  rc = pmr_kv_create_dense(dt->ctx, PMR_MAX_F64, rows, d + 1, &kv);
  if (!rc)
    rc = pmr_map_h5(dt->ctx, specs, 1, PMR_FLOAT64, 0, km_file_rows, dk, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  double *c = NULL;
  if (!rc)
    rc = km_agree(dt,
                  (c = malloc(rows * d * sizeof *c))
                      ? PMR_OK
                      : km_fail(PMR_ENOMEM, "out of memory for %llu centroids",
                                (unsigned long long)rows));
  if (!rc) {
    const double *v = pmr_kv_dense_values(kv);
    for (uint64_t i = 0; i < rows && !rc; i++) {
      double bad = v[i * (d + 1) + d];
      if (bad) {
        static const char *const what[] = {"NaN", "+Inf", "-Inf",
                                           "a magnitude above 2^500 (3.3e150)"};
        uint64_t b = (uint64_t)bad - 1;
        rc = km_fail(PMR_EINVAL,
                     "'%s' row %llu, column %llu: %s (the initial centroids "
                     "must be finite numbers)",
                     spec, (unsigned long long)i, (unsigned long long)(b / 4),
                     what[b % 4]);
      }
      memcpy(c + i * d, v + i * (d + 1), d * sizeof *c);
    }
  }
  pmr_kv_destroy(&kv);
  if (rc)
    free(c);
  else
    *cent = c;
  return rc;
}
