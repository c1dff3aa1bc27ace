/* Dense sets: every built-in op and user folds over an index space, exact
 * float sums against Python's golden (dense_golden.py: exact integer sums
 * and math.fsum), reduce to one root, two maps before a reduce and a map
 * after one, sets never mapped, misuse and budget errors agreed on every
 * rank, HDF5 and text output read back, pmr_map_kv from a dense set, and two
 * halves of the ranks running different jobs at once. Expected values come
 * from closed forms or plain sequential loops in this file.
 * Usage: test_dense GOLDEN.bin */
#include "check.h"
#include "kv/dense.h" /* pmr__dense_norm_period */

#include <hdf5.h>
#include <math.h>
#include <pmr.h>
#include <stdint.h>
#include <unistd.h>

static int wrank, wsize;

/* splitmix64's finaliser (dense_golden.py has the same). */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t bits_of(double x) {
  uint64_t b;
  memcpy(&b, &x, 8);
  return b;
}
static double double_of(uint64_t b) {
  double x;
  memcpy(&x, &b, 8);
  return x;
}

static pmr_ctx *mkctx(MPI_Comm comm) {
  pmr_ctx *ctx = NULL;
  CHECK_OK(NULL, pmr_ctx_create(comm, &ctx));
  return ctx;
}

/* Whether ctx's message is the same on every rank of its communicator. */
static int same_msg(pmr_ctx *ctx) {
  char mine[1024], r0[1024];
  snprintf(mine, sizeof mine, "%s", pmr_errmsg(ctx));
  memcpy(r0, mine, sizeof r0);
  MPI_Bcast(r0, sizeof r0, MPI_CHAR, 0, pmr_ctx_comm(ctx));
  int same = strcmp(mine, r0) == 0, all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, pmr_ctx_comm(ctx));
  return all;
}

/* ---- counting: a histogram of the index space ---- */

#define CN 100003ull
#define CK 37

static int map_count(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  return pmr_emit_cell(em, i % CK, NULL);
}
static int map_count_col(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  return pmr_emit_cell_i64(em, i % CK, i % 3, 12345); /* value ignored */
}
static int64_t count_of(uint64_t c) {
  return (int64_t)((CN - c + CK - 1) / CK);
}

static void check_count(const int64_t *v, uint64_t width, int64_t times) {
  int bad = 0;
  for (uint64_t c = 0; c < CK; c++)
    for (uint64_t k = 0; k < width; k++)
      bad += v[c * width + k] != times * count_of(c);
  CHECK_EQ_I(bad, 0);
}

static void test_count(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_COUNT, CK, 3, &kv));
  CHECK_EQ_I(pmr_kv_cells(kv), CK);
  CHECK_EQ_I(pmr_kv_width(kv), 3);
  CHECK_EQ_I(pmr_kv_value_size(kv), 24);
  CHECK_EQ_I(pmr_kv_dtype(kv), PMR_INT64);
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, kv));
  CHECK(pmr_kv_dense_values(kv) == NULL); /* not reduced yet */
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  const int64_t *v = pmr_kv_dense_values(kv);
  CHECK(v != NULL);
  if (v)
    check_count(v, 3, 1);
  CHECK_EQ_I(pmr_kv_local_size(kv), CK);
  uint64_t cell = 5;
  const void *p = NULL;
  CHECK_OK(ctx, pmr_kv_get(kv, &cell, 8, &p));
  CHECK(p && ((const int64_t *)p)[2] == count_of(5));
  pmr_kv_destroy(&kv);

  /* One column per emit. */
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_COUNT, CK, 3, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count_col, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  v = pmr_kv_dense_values(kv);
  int64_t want[CK][3] = {{0}};
  for (uint64_t i = 0; i < CN; i++)
    want[i % CK][i % 3]++;
  CHECK(v && memcmp(v, want, sizeof want) == 0);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- int64 sums (wrapping), min and max ---- */

static int map_sum_i64(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  int64_t v[2] = {(int64_t)mix(i), ((int64_t)(i % 7) - 3) * (int64_t)i};
  return pmr_emit_cell(em, i % 10, v);
}

static void test_sum_i64(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_SUM_I64, 10, 2, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_sum_i64, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  uint64_t want[10][2] = {{0}};
  for (uint64_t i = 0; i < CN; i++) {
    want[i % 10][0] += mix(i);
    want[i % 10][1] += (uint64_t)(((int64_t)(i % 7) - 3) * (int64_t)i);
  }
  const void *v = pmr_kv_dense_values(kv);
  CHECK(v && memcmp(v, want, sizeof want) == 0);
  int neg = 0;
  for (int c = 0; c < 10; c++)
    neg += (int64_t)want[c][1] < 0;
  CHECK(neg > 0); /* the test has negative sums to get right */
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* Cell 8 is never emitted: it keeps the initial value. */
static int map_i64(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  return pmr_emit_cell_i64(em, i % 8, 0, (int64_t)mix(i));
}

static void test_minmax_i64(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  for (int max = 0; max < 2; max++) {
    pmr_kv *kv = NULL;
    CHECK_OK(ctx, pmr_kv_create_dense(ctx, max ? PMR_MAX_I64 : PMR_MIN_I64, 9,
                                      1, &kv));
    CHECK_OK(ctx, pmr_map_index(ctx, CN, map_i64, NULL, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    int64_t want[9];
    for (int c = 0; c < 9; c++)
      want[c] = max ? INT64_MIN : INT64_MAX;
    for (uint64_t i = 0; i < CN; i++) {
      int64_t x = (int64_t)mix(i);
      int64_t *w = &want[i % 8];
      if (max ? x > *w : x < *w)
        *w = x;
    }
    const int64_t *v = pmr_kv_dense_values(kv);
    CHECK(v && memcmp(v, want, sizeof want) == 0);
    /* Signed extremes: an unsigned comparison or a swap would differ. */
    CHECK(max ? want[0] > 0 : want[0] < 0);
    CHECK(want[0] != want[1]);
    pmr_kv_destroy(&kv);
  }
  pmr_ctx_destroy(&ctx);
}

/* Doubles of both signs over many magnitudes; NaN inputs (ignored), a cell
 * of NaN only (keeps its initial value) and a cell of zeros of both signs
 * (min -0.0, max +0.0 whatever the order). */
static void f64_rec(uint64_t i, uint64_t *cell, double v[2]) {
  uint64_t h = mix(i);
  double x = ldexp((double)(h >> 11), -53 + (int)(i % 40) - 20);
  if ((h >> 3) & 1)
    x = -x;
  v[0] = x;
  v[1] = -3 * x;
  *cell = i % 8;
  if (i % 101 == 3) {
    *cell = 8;
    v[0] = v[1] = NAN;
  } else if (i % 50 == 7) {
    *cell = 9;
    v[0] = (i / 50) % 2 ? -0.0 : 0.0;
    v[1] = -v[0];
  } else if (i % 97 == 5) {
    v[0] = v[1] = NAN;
  }
}
static int map_f64_minmax(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  uint64_t cell;
  double v[2];
  f64_rec(i, &cell, v);
  return pmr_emit_cell(em, cell, v);
}

static void test_minmax_f64(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  for (int max = 0; max < 2; max++) {
    pmr_kv *kv = NULL;
    CHECK_OK(ctx, pmr_kv_create_dense(ctx, max ? PMR_MAX_F64 : PMR_MIN_F64, 10,
                                      2, &kv));
    CHECK_EQ_I(pmr_kv_dtype(kv), PMR_FLOAT64);
    CHECK_OK(ctx, pmr_map_index(ctx, CN, map_f64_minmax, NULL, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    double want[10][2];
    for (int c = 0; c < 10; c++)
      want[c][0] = want[c][1] = max ? -INFINITY : INFINITY;
    for (uint64_t i = 0; i < CN; i++) {
      uint64_t c;
      double v[2];
      f64_rec(i, &c, v);
      for (int k = 0; k < 2 && c < 9; k++)
        if (!isnan(v[k]) && (max ? v[k] > want[c][k] : v[k] < want[c][k]))
          want[c][k] = v[k];
    }
    want[9][0] = want[9][1] = max ? 0.0 : -0.0;
    const double *v = pmr_kv_dense_values(kv);
    CHECK(v != NULL);
    int bad = 0;
    for (int e = 0; v && e < 20; e++)
      bad += bits_of(v[e]) != bits_of(want[e / 2][e % 2]);
    CHECK_EQ_I(bad, 0);
    CHECK(max ? want[0][0] > 0 : want[0][0] < 0);
    CHECK(isinf(want[8][0]));
    pmr_kv_destroy(&kv);
  }
  pmr_ctx_destroy(&ctx);
}

/* ---- exact float sums against the golden ---- */

typedef struct golden {
  uint64_t ncells, width, generic, nrec, nspec;
  uint64_t (*spec)[3];
  uint64_t *expect;
} golden;
static golden G;

static int load_golden(const char *path) {
  FILE *fp = path ? fopen(path, "rb") : NULL;
  uint64_t h[6];
  if (!fp || fread(h, 8, 6, fp) != 6 || h[0] != 0x706D7264656E7365ull) {
    fprintf(stderr, "cannot read the golden file '%s'\n", path ? path : "");
    if (fp)
      fclose(fp);
    return 0;
  }
  G.ncells = h[1], G.width = h[2], G.generic = h[3], G.nrec = h[4];
  G.nspec = h[5];
  G.spec = malloc(G.nspec * sizeof *G.spec);
  G.expect = malloc(G.ncells * G.width * 8);
  int ok = fread(G.spec, 24, G.nspec, fp) == G.nspec &&
           fread(G.expect, 8, G.ncells * G.width, fp) == G.ncells * G.width;
  fclose(fp);
  return ok;
}

/* The generic records' values: value_bits() of dense_golden.py. */
static uint64_t mk(uint64_t s, uint64_t e, uint64_t m) {
  return s << 63 | e << 52 | (m & ((1ull << 52) - 1));
}
static uint64_t big(uint64_t cell, uint64_t q) {
  uint64_t h = mix(cell * 1000003 + q);
  return mk(h >> 63, 1900 + ((h >> 52) & 0x3ff) % 100, h);
}
static uint64_t value_bits(uint64_t j, uint64_t col) {
  uint64_t cell = j % G.generic, q = j / G.generic;
  uint64_t h1 = mix(2 * j + col), h2 = mix(h1), s = h2 >> 63;
  switch (cell % 4) {
  case 0:
    return mk(s, 1 + h2 % 2030, h1);
  case 1:
    if (col == 0)
      return q % 2 == 0 ? big(cell, q) : big(cell, q - 1) ^ (1ull << 63);
    if (q % 3 == 0)
      return big(cell, q);
    if (q % 3 == 1)
      return mk(s, 1 + h2 % 100, h1);
    return big(cell, q - 2) ^ (1ull << 63);
  case 2:
    return col == 0 ? mk(s, 0, h1) : mk(s, 1013 + h2 % 20, h1);
  default:
    return col == 0 ? mk(q & 1, 2046, h1) : mk(0, 2040 + h2 % 7, h1);
  }
}

/* user: the first record index of this map. */
static int map_golden(uint64_t i, pmr_emitter *em, void *user) {
  i += *(const uint64_t *)user;
  if (i < G.nspec)
    return pmr_emit_cell_f64(em, G.spec[i][0], G.spec[i][1],
                             double_of(G.spec[i][2]));
  uint64_t j = i - G.nspec;
  double v[2] = {double_of(value_bits(j, 0)), double_of(value_bits(j, 1))};
  return pmr_emit_cell(em, j % G.generic, v);
}

static int check_golden(const double *v, const char *what) {
  int bad = 0;
  for (uint64_t e = 0; e < G.ncells * G.width; e++) {
    double want = double_of(G.expect[e]);
    int ok = isnan(want) ? isnan(v[e]) : bits_of(v[e]) == G.expect[e];
    if (!ok && bad++ < 5)
      fprintf(stderr, "[rank %d] %s: cell %llu col %llu: %a, want %a\n", wrank,
              what, (unsigned long long)(e / G.width),
              (unsigned long long)(e % G.width), v[e], want);
  }
  return bad;
}

/* how: 0 one map, reduce; 1 two maps (the second on 3 threads),
 * reduce_to(last rank); 2 one map with the adds normalised every 3. */
static void test_sum_f64(MPI_Comm comm, int how) {
  pmr_ctx *ctx = mkctx(comm);
  pmr_kv *kv = NULL;
  int rank = pmr_ctx_rank(ctx), size = pmr_ctx_size(ctx);
  int root = how == 1 ? size - 1 : -1;
  uint64_t period = pmr__dense_norm_period;
  if (how == 2)
    pmr__dense_norm_period = 3;
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_SUM_F64, G.ncells, G.width, &kv));
  uint64_t off0 = 0, off1 = G.nrec / 3;
  if (how == 1) {
    int nt = pmr_ctx_threads(ctx);
    CHECK_OK(ctx, pmr_map_index(ctx, off1, map_golden, &off0, kv));
    pmr_ctx_set_threads(ctx, 3);
    CHECK_OK(ctx, pmr_map_index(ctx, G.nrec - off1, map_golden, &off1, kv));
    pmr_ctx_set_threads(ctx, nt);
    CHECK_OK(ctx, pmr_kv_reduce_to(kv, root));
  } else {
    CHECK_OK(ctx, pmr_map_index(ctx, G.nrec, map_golden, &off0, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
  }
  pmr__dense_norm_period = period;
  const double *v = pmr_kv_dense_values(kv);
  if (root < 0 || rank == root) {
    CHECK(v != NULL);
    char what[32];
    snprintf(what, sizeof what, "exact sum (%d)", how);
    if (v)
      CHECK_EQ_I(check_golden(v, what), 0);
  } else {
    CHECK(v == NULL);
    CHECK_EQ_I(pmr_kv_local_size(kv), 0);
  }
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- user folds ---- */

/* A (min, max) pair of int64. */
static void minmax16(void *acc, const void *in, void *user) {
  (void)user;
  int64_t a[2], b[2];
  memcpy(a, acc, 16);
  memcpy(b, in, 16);
  if (b[0] < a[0])
    a[0] = b[0];
  if (b[1] > a[1])
    a[1] = b[1];
  memcpy(acc, a, 16);
}
static int map_user16(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  int64_t v[2] = {(int64_t)mix(i), (int64_t)mix(i)};
  return pmr_emit_cell(em, i % 13, v);
}
static void user_want(int64_t want[13][2]) {
  for (int c = 0; c < 13; c++)
    want[c][0] = INT64_MAX, want[c][1] = INT64_MIN;
  for (uint64_t i = 0; i < CN; i++) {
    int64_t x = (int64_t)mix(i);
    if (x < want[i % 13][0])
      want[i % 13][0] = x;
    if (x > want[i % 13][1])
      want[i % 13][1] = x;
  }
}
static const int64_t user_identity[2] = {INT64_MAX, INT64_MIN};

static void maxf(void *acc, const void *in, void *user) {
  (void)user;
  double a, b;
  memcpy(&a, acc, 8);
  memcpy(&b, in, 8);
  if (b > a)
    memcpy(acc, &b, 8);
}
static int map_maxf(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  return pmr_emit_cell_f64(em, i % 5, 0, (double)(int64_t)mix(i));
}

static void test_user(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_dense_user(ctx, 13, 16, PMR_BYTES, minmax16,
                                         user_identity, NULL, &kv));
  CHECK_EQ_I(pmr_kv_width(kv), 1);
  CHECK_EQ_I(pmr_kv_value_size(kv), 16);
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_user16, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  int64_t want[13][2];
  user_want(want);
  const void *v = pmr_kv_dense_values(kv);
  CHECK(v && memcmp(v, want, sizeof want) == 0);
  pmr_kv_destroy(&kv);

  /* A float64 user fold, fed one value at a time. */
  double ninf = -INFINITY, wantf[5];
  CHECK_OK(ctx, pmr_kv_create_dense_user(ctx, 5, 8, PMR_FLOAT64, maxf, &ninf,
                                         NULL, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_maxf, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  for (int c = 0; c < 5; c++)
    wantf[c] = -INFINITY;
  for (uint64_t i = 0; i < CN; i++)
    if ((double)(int64_t)mix(i) > wantf[i % 5])
      wantf[i % 5] = (double)(int64_t)mix(i);
  v = pmr_kv_dense_values(kv);
  CHECK(v && memcmp(v, wantf, sizeof wantf) == 0);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- reduce to one root; maps before and after a reduce ---- */

static int map_half(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  return pmr_emit_cell_f64(em, i % CK, 0, 0.5);
}

static void test_roots_and_remaps(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  int rank = pmr_ctx_rank(ctx), size = pmr_ctx_size(ctx), nt;
  nt = pmr_ctx_threads(ctx);
  pmr_kv *kv = NULL;

  /* Only the root holds the values. */
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_COUNT, CK, 1, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce_to(kv, size - 1));
  const int64_t *v = pmr_kv_dense_values(kv);
  uint64_t cell = 3;
  const void *p = NULL;
  if (rank == size - 1) {
    CHECK(v != NULL);
    if (v)
      check_count(v, 1, 1);
    CHECK_EQ_I(pmr_kv_local_size(kv), CK);
    CHECK_OK(ctx, pmr_kv_get(kv, &cell, 8, &p));
  } else {
    CHECK(v == NULL);
    CHECK_EQ_I(pmr_kv_local_size(kv), 0);
    CHECK_EQ_I(pmr_kv_get(kv, &cell, 8, &p), PMR_ENOENT);
  }
  /* Reducing again is a no-op; a map after the reduce adds to the result
   * (counted once, though every rank or one root held it). */
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  v = pmr_kv_dense_values(kv);
  CHECK(v != NULL);
  if (v)
    check_count(v, 1, 2);
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  v = pmr_kv_dense_values(kv);
  if (v)
    check_count(v, 1, 3);
  pmr_kv_destroy(&kv);

  /* Two maps (different thread counts) before one reduce. */
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_COUNT, CK, 2, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, kv));
  pmr_ctx_set_threads(ctx, 3);
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, kv));
  pmr_ctx_set_threads(ctx, nt);
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  v = pmr_kv_dense_values(kv);
  if (v)
    check_count(v, 2, 2);
  pmr_kv_destroy(&kv);

  /* The same for an exact sum, taken back from a root other than 0. */
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_SUM_F64, CK, 1, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_half, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce_to(kv, size - 1));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_half, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  const double *f = pmr_kv_dense_values(kv);
  int bad = 0;
  for (uint64_t c = 0; f && c < CK; c++)
    bad += f[c] != (double)count_of(c);
  CHECK(f != NULL);
  CHECK_EQ_I(bad, 0);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- sets never mapped ---- */

static int count_cells(const void *k, size_t klen, const void *v, void *u) {
  (void)k, (void)v;
  *(int *)u += klen == 8;
  return 0;
}

static void test_empty(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  static const pmr_op ops[] = {PMR_COUNT,   PMR_SUM_I64, PMR_MIN_I64,
                               PMR_MAX_I64, PMR_SUM_F64, PMR_MIN_F64,
                               PMR_MAX_F64};
  const uint64_t want[] = {0,
                           0,
                           (uint64_t)INT64_MAX,
                           (uint64_t)INT64_MIN,
                           bits_of(0.0),
                           bits_of(INFINITY),
                           bits_of(-INFINITY)};
  for (int o = 0; o < 7; o++) {
    pmr_kv *kv = NULL;
    int n = 0;
    CHECK_OK(ctx, pmr_kv_create_dense(ctx, ops[o], 5, 2, &kv));
    CHECK_OK(ctx, pmr_kv_foreach(kv, count_cells, &n)); /* EMPTY: nothing */
    CHECK_EQ_I(n, 0);
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    const uint64_t *v = pmr_kv_dense_values(kv);
    CHECK(v != NULL);
    for (int e = 0; v && e < 10; e++)
      CHECK(v[e] == want[o]);
    CHECK_OK(ctx, pmr_kv_foreach(kv, count_cells, &n));
    CHECK_EQ_I(n, 5);
    pmr_kv_destroy(&kv);
  }
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_dense_user(ctx, 3, 16, PMR_BYTES, minmax16,
                                         user_identity, NULL, &kv));
  CHECK_OK(ctx, pmr_kv_reduce_to(kv, 0));
  const int64_t *v = pmr_kv_dense_values(kv);
  if (pmr_ctx_rank(ctx) == 0) {
    CHECK(v != NULL);
    for (int c = 0; v && c < 3; c++)
      CHECK(v[2 * c] == INT64_MAX && v[2 * c + 1] == INT64_MIN);
  } else {
    CHECK(v == NULL);
  }
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- misuse, agreed on every rank ---- */

typedef struct misuse {
  int what;
  uint64_t n;
} misuse;

static int map_misuse(uint64_t i, pmr_emitter *em, void *u) {
  const misuse *m = u;
  if (i != m->n - 1) /* the last record: on the last rank */
    return 0;
  int64_t one = 1;
  switch (m->what) {
  case 0:
    return pmr_emit_cell(em, 10 + i, NULL);
  case 1:
    return pmr_emit_cell_i64(em, 0, 2, 1);
  case 2:
    return pmr_emit_cell_i64(em, 0, 0, 1);
  case 3:
    return pmr_emit_cell_f64(em, 0, 0, 1.0);
  case 4:
    return pmr_emit(em, "k", 1, &one);
  default:
    return pmr_emit_cell(em, 0, &one);
  }
}

static void test_misuse(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  struct {
    pmr_op op;
    int dense;
    int code;
    const char *msg;
  } cases[] = {
      {PMR_COUNT, 1, PMR_EINVAL,
       "cell 1009 is out of range (the set has 10 "
       "cells)"},
      {PMR_SUM_I64, 1, PMR_EINVAL, "column 2 is out of range"},
      {PMR_SUM_F64, 1, PMR_ESTATE, "use pmr_emit_cell_f64"},
      {PMR_MIN_I64, 1, PMR_ESTATE, "use pmr_emit_cell_i64"},
      {PMR_COUNT, 1, PMR_ESTATE, "pmr_emit_cell"},
      {PMR_SUM_I64, 0, PMR_ESTATE, "hash set"},
  };
  for (int w = 0; w < 6; w++) {
    pmr_kv *kv = NULL;
    misuse m = {w, 1000};
    if (cases[w].dense)
      CHECK_OK(ctx, pmr_kv_create_dense(ctx, cases[w].op, 10, 2, &kv));
    else
      CHECK_OK(ctx, pmr_kv_create(ctx, cases[w].op, &kv));
    int rc = pmr_map_index(ctx, m.n, map_misuse, &m, kv);
    CHECK_EQ_I(rc, cases[w].code);
    if (!strstr(pmr_errmsg(ctx), cases[w].msg)) {
      fprintf(stderr, "[rank %d] case %d: message '%s' lacks '%s'\n", wrank, w,
              pmr_errmsg(ctx), cases[w].msg);
      CHECK(0);
    }
    CHECK(same_msg(ctx));
    pmr_kv_destroy(&kv);
  }
  /* Bad shapes. */
  pmr_kv *kv = NULL;
  CHECK_EQ_I(pmr_kv_create_dense(ctx, PMR_COUNT, 0, 1, &kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_create_dense(ctx, PMR_COUNT, 1, 0, &kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_create_dense(ctx, (pmr_op)99, 1, 1, &kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_create_dense(ctx, PMR_COUNT, UINT64_MAX, 2, &kv),
             PMR_ENOMEM);
  CHECK(kv == NULL);
  CHECK_EQ_I(pmr_kv_create_dense_user(ctx, 4, 16, PMR_BYTES, minmax16, NULL,
                                      NULL, &kv),
             PMR_EINVAL);
  pmr_ctx_destroy(&ctx);
}

/* ---- the memory budget ---- */

static int map_wide(uint64_t i, pmr_emitter *em, void *u) {
  (void)u;
  return pmr_emit_cell_i64(em, i % 100000, 0, (int64_t)i);
}

static void test_budget(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  int nt = pmr_ctx_threads(ctx);
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  pmr_kv *kv = NULL;
  /* One thread's exact sums alone: 4000 x 528 bytes > 1 MiB. */
  CHECK_EQ_I(pmr_kv_create_dense(ctx, PMR_SUM_F64, 4000, 1, &kv), PMR_ENOMEM);
  CHECK(strstr(pmr_errmsg(ctx), "memory budget") != NULL);
  CHECK(kv == NULL);
  /* 800 KB per thread: one fits, two do not. */
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_SUM_I64, 100000, 1, &kv));
  pmr_ctx_set_threads(ctx, 2);
  CHECK_EQ_I(pmr_map_index(ctx, 300000, map_wide, NULL, kv), PMR_ENOMEM);
  CHECK(strstr(pmr_errmsg(ctx), "memory budget") != NULL);
  CHECK(same_msg(ctx));
  pmr_ctx_set_threads(ctx, 1);
  CHECK_OK(ctx, pmr_map_index(ctx, 300000, map_wide, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  const int64_t *v = pmr_kv_dense_values(kv);
  /* cell c: c + (c + 100000) + (c + 200000) */
  CHECK(v && v[0] == 300000 && v[99999] == 3 * 99999 + 300000);
  pmr_ctx_set_threads(ctx, nt);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- output: HDF5 and text, read back; pmr_map_kv ---- */

static int h5_read(hid_t f, const char *name, hid_t mtype, int rank_want,
                   const hsize_t *dims_want, void *buf, const char *combiner) {
  int bad = 0;
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0)
    return 1;
  hid_t s = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  int r = H5Sget_simple_extent_dims(s, dims, NULL);
  bad += r != rank_want || dims[0] != dims_want[0] ||
         (r == 2 && dims[1] != dims_want[1]);
  hid_t t = H5Dget_type(d);
  hid_t nt = H5Tget_native_type(t, H5T_DIR_ASCEND);
  bad += H5Tequal(nt, mtype) <= 0;
  H5Tclose(nt);
  H5Tclose(t);
  if (!bad)
    bad += H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
  H5Sclose(s);
  H5Dclose(d);
  /* The group's attributes: layout "dense", the combiner, width. */
  char gname[64];
  snprintf(gname, sizeof gname, "%s", name);
  *strrchr(gname, '/') = '\0';
  hid_t g = H5Gopen2(f, gname, H5P_DEFAULT);
  char str[32] = {0};
  hid_t a = H5Aopen(g, "layout", H5P_DEFAULT);
  hid_t at = H5Aget_type(a);
  bad += H5Aread(a, at, str) < 0 || strncmp(str, "dense", 5) != 0;
  H5Tclose(at);
  H5Aclose(a);
  memset(str, 0, sizeof str);
  a = H5Aopen(g, "combiner", H5P_DEFAULT);
  at = H5Aget_type(a);
  bad += H5Aread(a, at, str) < 0 || strcmp(str, combiner) != 0;
  H5Tclose(at);
  H5Aclose(a);
  int64_t w = 0;
  a = H5Aopen(g, "width", H5P_DEFAULT);
  bad +=
      H5Aread(a, H5T_NATIVE_INT64, &w) < 0 ||
      w != (int64_t)(rank_want == 2 && mtype != H5T_NATIVE_UINT8 ? dims_want[1]
                                                                 : 1);
  H5Aclose(a);
  H5Gclose(g);
  if (bad)
    fprintf(stderr, "%s: wrong shape, type, values' read or attributes\n",
            name);
  return bad;
}

typedef struct kvcheck {
  int bad, n;
} kvcheck;
static int map_from_dense(const void *key, size_t klen, const void *value,
                          pmr_emitter *em, void *u) {
  (void)u;
  int64_t v;
  memcpy(&v, value, 8);
  return pmr_emit_i64(em, key, klen, v); /* key: the cell as 8 bytes */
}
static int check_from_dense(const void *key, size_t klen, const void *v,
                            void *u) {
  kvcheck *c = u;
  uint64_t cell;
  int64_t x;
  memcpy(&cell, key, 8);
  memcpy(&x, v, 8);
  c->n++;
  c->bad += klen != 8 || cell >= CK || x != count_of(cell);
  return 0;
}

static void test_output(MPI_Comm comm) {
  pmr_ctx *ctx = mkctx(comm);
  int rank = pmr_ctx_rank(ctx), size = pmr_ctx_size(ctx);
  char path[256], tpath[256];
  long tag = (long)getpid();
  MPI_Bcast(&tag, 1, MPI_LONG, 0, comm);
  snprintf(path, sizeof path, "test_dense_%ld.h5", tag);
  snprintf(tpath, sizeof tpath, "test_dense_%ld.txt", tag);

  pmr_kv *cnt = NULL, *sum = NULL, *usr = NULL, *emp = NULL;
  uint64_t off0 = 0;
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_COUNT, CK, 3, &cnt));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, cnt));
  CHECK_OK(ctx, pmr_kv_reduce(cnt));
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_SUM_F64, G.ncells, G.width, &sum));
  CHECK_OK(ctx, pmr_map_index(ctx, G.nrec, map_golden, &off0, sum));
  CHECK_OK(ctx, pmr_kv_reduce_to(sum, size - 1));
  CHECK_OK(ctx, pmr_kv_create_dense_user(ctx, 13, 16, PMR_BYTES, minmax16,
                                         user_identity, NULL, &usr));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_user16, NULL, usr));
  CHECK_OK(ctx, pmr_kv_reduce_to(usr, 0));
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_MIN_I64, 4, 1, &emp));

  CHECK_OK(ctx, pmr_kv_write_h5(cnt, path, "count", NULL));
  CHECK_OK(ctx,
           pmr_kv_write_h5_ex(sum, path, "exact/sum", NULL, PMR_WRITE_ADD));
  CHECK_OK(ctx, pmr_kv_write_h5_ex(usr, path, "user", NULL, PMR_WRITE_ADD));
  CHECK_OK(ctx, pmr_kv_write_h5_ex(emp, path, "empty", NULL, PMR_WRITE_ADD));
  CHECK_OK(ctx, pmr_kv_write_text(cnt, tpath));

  if (rank == 0) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    if (f >= 0) {
      int64_t c[CK][3], u[13][2], want_u[13][2], e[4];
      double *s = malloc(G.ncells * G.width * sizeof *s);
      hsize_t dc[2] = {CK, 3}, ds[2] = {G.ncells, G.width}, du[2] = {13, 16},
              de[1] = {4};
      CHECK_EQ_I(
          h5_read(f, "count/values", H5T_NATIVE_INT64, 2, dc, c, "count"), 0);
      check_count(&c[0][0], 3, 1);
      CHECK_EQ_I(h5_read(f, "exact/sum/values", H5T_NATIVE_DOUBLE, 2, ds, s,
                         "sum_f64"),
                 0);
      CHECK_EQ_I(check_golden(s, "HDF5 exact sum"), 0);
      free(s);
      CHECK_EQ_I(h5_read(f, "user/values", H5T_NATIVE_UINT8, 2, du, u, "user"),
                 0);
      user_want(want_u);
      CHECK(memcmp(u, want_u, sizeof u) == 0);
      CHECK_EQ_I(
          h5_read(f, "empty/values", H5T_NATIVE_INT64, 1, de, e, "min_i64"), 0);
      for (int i = 0; i < 4; i++)
        CHECK(e[i] == INT64_MAX);
      H5Fclose(f);
    }
    /* Text: each cell once, however many ranks held it. */
    FILE *fp = fopen(tpath, "r");
    CHECK(fp != NULL);
    int lines = 0, bad = 0;
    long long cell, a, b, c;
    while (fp &&
           fscanf(fp, "%lld\t%lld\t%lld\t%lld\n", &cell, &a, &b, &c) == 4) {
      lines++;
      bad += cell != lines - 1 || a != count_of((uint64_t)cell) || a != b ||
             b != c;
    }
    if (fp)
      fclose(fp);
    CHECK_EQ_I(lines, CK);
    CHECK_EQ_I(bad, 0);
    remove(path);
    remove(tpath);
  }

  /* pmr_map_kv: every cell once into a hash set, from a set every rank
   * holds and from one held by a single root. */
  pmr_kv *cnt1 = NULL;
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_COUNT, CK, 1, &cnt1));
  CHECK_OK(ctx, pmr_map_index(ctx, CN, map_count, NULL, cnt1));
  CHECK_OK(ctx, pmr_kv_reduce_to(cnt1, size - 1));
  for (int from = 0; from < 2; from++) {
    pmr_kv *h = NULL;
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &h));
    CHECK_OK(ctx, pmr_map_kv(from ? cnt1 : cnt, map_from_dense, NULL, h));
    CHECK_OK(ctx, pmr_kv_reduce(h));
    kvcheck kc = {0, 0};
    CHECK_OK(ctx, pmr_kv_foreach(h, check_from_dense, &kc));
    int n = 0;
    MPI_Allreduce(&kc.n, &n, 1, MPI_INT, MPI_SUM, comm);
    CHECK_EQ_I(n, CK);
    CHECK_EQ_I(kc.bad, 0);
    pmr_kv_destroy(&h);
  }
  pmr_kv_destroy(&cnt1);
  pmr_kv_destroy(&cnt);
  pmr_kv_destroy(&sum);
  pmr_kv_destroy(&usr);
  pmr_kv_destroy(&emp);
  pmr_ctx_destroy(&ctx);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
  MPI_Comm_size(MPI_COMM_WORLD, &wsize);
  int ok = load_golden(argc > 1 ? argv[1] : NULL);
  CHECK(ok);
  if (ok) {
    test_count(MPI_COMM_WORLD);
    test_sum_i64(MPI_COMM_WORLD);
    test_minmax_i64(MPI_COMM_WORLD);
    test_minmax_f64(MPI_COMM_WORLD);
    for (int how = 0; how < 3; how++)
      test_sum_f64(MPI_COMM_WORLD, how);
    test_user(MPI_COMM_WORLD);
    test_roots_and_remaps(MPI_COMM_WORLD);
    test_empty(MPI_COMM_WORLD);
    test_misuse(MPI_COMM_WORLD);
    test_budget(MPI_COMM_WORLD);
    test_output(MPI_COMM_WORLD);
    /* Two halves of the ranks, different dense jobs at the same time. */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, wrank % 2, wrank, &half);
    if (wrank % 2 == 0) {
      test_sum_f64(half, 1);
      test_count(half);
    } else {
      test_user(half);
      test_sum_i64(half);
    }
    MPI_Comm_free(&half);
  }
  free(G.spec);
  free(G.expect);
  int rc = check_finish("test_dense");
  MPI_Finalize();
  return rc;
}
