/* The restructured engine's contracts and the defects it fixes:
 *  - the set's lifecycle (EMPTY -> MAPPED -> REDUCED): results refused with
 *    PMR_ESTATE before reduce, nothing written, reduce of a reduced set a
 *    no-op, a map into a reduced set combined by the next reduce;
 *  - D1 (8-byte emits into a 16-byte set), D2 (pmr_parse_size grammar),
 *    D4 (default top-N order of float64 sets);
 *  - the two mutants the old suite let through (MIN/MAX int64 compared as
 *    unsigned, MIN/MAX float64 swapped);
 *  - options, bounds and the environment; argument checks agreed when one
 *    rank alone is wrong; contexts over split and reordered communicators
 *    running different jobs; roots other than 0; many and uneven threads.
 * Expected values are closed forms or serial loops over the same indices,
 * never the library's output. */
#define _GNU_SOURCE
#include "engine_util.h"

#include <math.h>
#include <stdbool.h>
#include <pmr.h>
#include <stdint.h>

static int rank, size;
static char dir[256];

/* ---- a job with a closed form: key "<p><i % K>" gets i summed ---- */

typedef struct job {
  uint64_t n, k;
  const char *prefix;
} job;

static int map_mod(uint64_t i, pmr_emitter *em, void *user) {
  const job *j = user;
  char key[32];
  int n = snprintf(key, sizeof key, "%s%llu", j->prefix,
                   (unsigned long long)(i % j->k));
  return pmr_emit_i64(em, key, (size_t)n, (int64_t)i);
}

/* Sum of i < n with i % k == r, and how many there are. */
static uint64_t mod_count(const job *j, uint64_t r) {
  return r < j->n ? (j->n - 1 - r) / j->k + 1 : 0;
}
static int64_t mod_sum(const job *j, uint64_t r) {
  uint64_t c = mod_count(j, r);
  return (int64_t)(c * r + j->k * (c * (c - (c > 0))) / 2);
}

typedef struct sum_check {
  const job *j;
  int64_t mult; /* the job was mapped this many times */
  int count;    /* values are counts (PMR_COUNT), not sums */
  int64_t keys;
  int bad;
} sum_check;

static int visit_sum(const void *key, size_t klen, const void *val, void *u) {
  sum_check *c = u;
  size_t pl = strlen(c->j->prefix);
  char s[32];
  int64_t v;
  memcpy(&v, val, 8);
  c->keys++;
  if (klen <= pl || klen >= sizeof s || memcmp(key, c->j->prefix, pl)) {
    c->bad++;
    return 0;
  }
  memcpy(s, (const char *)key + pl, klen - pl);
  s[klen - pl] = 0;
  uint64_t r = strtoull(s, NULL, 10);
  int64_t want = c->count ? (int64_t)mod_count(c->j, r) : mod_sum(c->j, r);
  if (r >= c->j->k || v != c->mult * want) {
    if (c->bad++ < 5)
      fprintf(stderr, "[rank %d] key %s%s: %lld, want %lld\n", rank,
              c->j->prefix, s, (long long)v, (long long)(c->mult * want));
  }
  return 0;
}

/* Check a reduced set against the closed form; collective over comm. */
static void check_job(pmr_ctx *ctx, pmr_kv *kv, const job *j, int64_t mult,
                      int count) {
  sum_check c = {j, mult, count, 0, 0};
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit_sum, &c));
  int64_t total = 0;
  MPI_Allreduce(&c.keys, &total, 1, MPI_INT64_T, MPI_SUM, pmr_ctx_comm(ctx));
  CHECK_EQ_I(c.bad, 0);
  CHECK_EQ_I(total, (int64_t)(j->n < j->k ? j->n : j->k));
  CHECK_EQ_I((int64_t)pmr_kv_local_size(kv), c.keys);
}

static int visit_count(const void *k, size_t kl, const void *v, void *u) {
  (void)k, (void)kl, (void)v;
  (*(int64_t *)u)++;
  return 0;
}

/* A call refused because the set is not reduced: PMR_ESTATE, a message
 * that names the call and says what to do, the same on every rank when the
 * call is collective. */
static void expect_estate(pmr_ctx *ctx, int rc, const char *call,
                          int collective, int line) {
  const char *m = pmr_errmsg(ctx);
  if (rc != PMR_ESTATE || !strstr(m, call) || !strstr(m, "pmr_kv_reduce")) {
    fprintf(stderr, "[rank %d] line %d: %s returned %s: '%s'\n", rank, line,
            call, pmr_err_name(rc), m);
    check__failures++;
  }
  if (collective)
    CHECK(eu_same_str(pmr_ctx_comm(ctx), m));
}
#define EXPECT_ESTATE(ctx, rc, call, coll) \
  expect_estate(ctx, rc, call, coll, __LINE__)

/* ---- 1. lifecycle ---- */

static int pair_copy(const void *key, size_t klen, const void *value,
                     pmr_emitter *em, void *user) {
  (void)user;
  int64_t v;
  memcpy(&v, value, 8);
  return pmr_emit_i64(em, key, klen, v);
}

static void lifecycle(void) {
  char out[300], h5[320], txt[320];
  snprintf(out, sizeof out, "%s/lifecycle", dir);
  snprintf(h5, sizeof h5, "%s/r.h5", out);
  snprintf(txt, sizeof txt, "%s/r.txt", out);
  if (rank == 0)
    mkdir(out, 0755);
  MPI_Barrier(MPI_COMM_WORLD);
  job j = {10000, 100, "k"};
  pmr_ctx *ctx;
  pmr_kv *kv, *other;
  pmr_kv_list *l = NULL;
  const void *val = NULL;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &other));

  /* EMPTY is readable: nothing in it. */
  int64_t seen = 0;
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit_count, &seen));
  CHECK_EQ_I(seen, 0);
  CHECK_EQ_I(pmr_kv_get(kv, "k1", 2, &val), PMR_ENOENT);
  CHECK_OK(ctx, pmr_kv_top(kv, 10, NULL, NULL, 0, &l));
  CHECK(l && l->n == 0);
  pmr_kv_list_free(&l);
  CHECK_OK(ctx, pmr_kv_gather(kv, size - 1, &l));
  CHECK(l && l->n == 0);
  pmr_kv_list_free(&l);

  /* MAPPED: every result is refused, and nothing is written. */
  CHECK_OK(ctx, pmr_map_index(ctx, j.n, map_mod, &j, kv));
  EXPECT_ESTATE(ctx, pmr_kv_write_h5(kv, h5, "r", NULL), "pmr_kv_write_h5", 1);
  EXPECT_ESTATE(ctx, pmr_kv_write_text(kv, txt), "pmr_kv_write_text", 1);
  EXPECT_ESTATE(ctx, pmr_kv_get(kv, "k1", 2, &val), "pmr_kv_get", 0);
  CHECK(val == NULL);
  CHECK(pmr_kv_find(kv, "k1", 2) == NULL);
  EXPECT_ESTATE(ctx, pmr_kv_foreach(kv, visit_count, &seen), "pmr_kv_foreach",
                0);
  CHECK_EQ_I(seen, 0);
  EXPECT_ESTATE(ctx, pmr_kv_top(kv, 5, NULL, NULL, 0, &l), "pmr_kv_top", 1);
  CHECK(l == NULL);
  EXPECT_ESTATE(ctx, pmr_kv_gather(kv, 0, &l), "pmr_kv_gather", 1);
  CHECK(l == NULL);
  EXPECT_ESTATE(ctx, pmr_map_kv(kv, pair_copy, NULL, other), "pmr_map_kv", 1);
  CHECK_EQ_I(pmr_map_kv(kv, pair_copy, NULL, kv), PMR_EINVAL);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    CHECK_EQ_I(eu_count_entries(out), 0);

  /* REDUCED: the closed form; a second reduce moves nothing. */
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_job(ctx, kv, &j, 1, 0);
  pmr_stats s1, s2, s3;
  pmr_ctx_stats(ctx, &s1);
  CHECK(s1.shuffle_rounds >= 1);
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  pmr_ctx_stats(ctx, &s2);
  CHECK_EQ_I(s2.shuffle_rounds, s1.shuffle_rounds);
  CHECK_EQ_I(s2.shuffled_bytes, s1.shuffled_bytes);
  check_job(ctx, kv, &j, 1, 0);
  CHECK_OK(ctx, pmr_kv_write_text(kv, txt));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    CHECK_EQ_I(eu_count_entries(out), 1);

  /* The reduced set feeds another set and stays as it was. */
  CHECK_OK(ctx, pmr_map_kv(kv, pair_copy, NULL, other));
  CHECK_OK(ctx, pmr_kv_reduce(other));
  check_job(ctx, other, &j, 1, 0);
  check_job(ctx, kv, &j, 1, 0);

  /* A map into a REDUCED set adds pairs; the next reduce combines them. */
  CHECK_OK(ctx, pmr_map_index(ctx, j.n, map_mod, &j, kv));
  EXPECT_ESTATE(ctx, pmr_kv_get(kv, "k1", 2, &val), "pmr_kv_get", 0);
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  pmr_ctx_stats(ctx, &s3);
  CHECK(s3.shuffle_rounds > s2.shuffle_rounds);
  check_job(ctx, kv, &j, 2, 0);

  /* An EMPTY set reduces to an empty REDUCED set. */
  pmr_kv *empty;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &empty));
  CHECK_OK(ctx, pmr_kv_reduce(empty));
  CHECK_OK(ctx, pmr_kv_foreach(empty, visit_count, &seen));
  CHECK_EQ_I(seen, 0);
  pmr_kv_destroy(&empty);

  pmr_kv_destroy(&kv);
  pmr_kv_destroy(&other);
  pmr_ctx_destroy(&ctx);
}

/* ---- D1: 8-byte emits into a set of 16-byte values ---- */

typedef struct d1_arg {
  int f64;
  uint64_t n;
} d1_arg;

static void keep_first(void *acc, const void *in, void *user) {
  (void)acc, (void)in, (void)user;
}

static int map_d1(uint64_t i, pmr_emitter *em, void *user) {
  const d1_arg *a = user;
  unsigned char v[16] = {1};
  /* The misuse happens on one index, which only the last rank maps. */
  if (i == a->n - 1)
    return a->f64 ? pmr_emit_f64(em, "x", 1, 1.5) : pmr_emit_i64(em, "x", 1, 7);
  return pmr_emit(em, "y", 1, v);
}

static void d1(void) {
  pmr_ctx *ctx;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  for (int f = 0; f < 2; f++) {
    pmr_kv *kv;
    d1_arg a = {f, 5000};
    CHECK_OK(ctx, pmr_kv_create_user(ctx, 16, PMR_BYTES, keep_first, NULL,
                                     &kv));
    int rc = pmr_map_index(ctx, a.n, map_d1, &a, kv);
    const char *m = pmr_errmsg(ctx);
    CHECK_EQ_I(rc, PMR_ESTATE);
    CHECK(strstr(m, f ? "pmr_emit_f64" : "pmr_emit_i64") != NULL);
    CHECK(strstr(m, "8-byte") != NULL);
    CHECK(strstr(m, "16 bytes") != NULL);
    CHECK(eu_same_str(MPI_COMM_WORLD, m));
    if (rc != PMR_ESTATE && rank == 0)
      fprintf(stderr, "D1: %s: '%s'\n", pmr_err_name(rc), m);
    pmr_kv_destroy(&kv);
  }
  pmr_ctx_destroy(&ctx);
}

/* ---- D2: the size grammar of pmr.h ---- */

static void d2(void) {
  /* digits ['.' digits] [K|M|G|T [i]B? | B], any case; rounded down; a
   * non-zero value that rounds to 0 is refused, and so is one over
   * SIZE_MAX. */
  static const char *bad[] = {
      "nan", "NaN", "inf", "-inf", "0x10", "1e3", "1E3", " 1M", "1M ", "1 M",
      "-1", "+1", "0.4", "0.0001K", "18446744073709551616", "20000000T",
      "16777216T", "", "K", "B", "iB", "1.", ".5K", ".5", "1..5", "1.5.5",
      "1Ki", "1KiBB", "1BB", "1iB", "1KK", "1Q", "1k b", "1,5K", "1_000",
      "0x", "\t1"};
  static const struct {
    const char *s;
    size_t v;
  } good[] = {
      {"0", 0},
      {"00", 0},
      {"0.0", 0},
      {"0K", 0},
      {"1", 1},
      {"12B", 12},
      {"12b", 12},
      {"1.5", 1},
      {"1.5K", 1536},
      {"1.5k", 1536},
      {"1KiB", 1024},
      {"1kib", 1024},
      {"1KB", 1024},
      {"1M", 1048576},
      {"1m", 1048576},
      {"2GiB", (size_t)2 << 30},
      {"3t", (size_t)3 << 40},
      {"0.4K", 409},
      {"16777215T", (size_t)16777215 << 40},
      {"18446744073709551615", SIZE_MAX},
      {"007K", 7168},
      /* exact: 1/1024 of a KiB is one byte, however many digits it takes */
      {"0.0009765625K", 1},
      {"1.999999999999T", 2199023255550},
      {"0.00000000000000000001T", 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t v = 4242;
    int rc = pmr_parse_size(bad[i], &v);
    if (rc != PMR_EINVAL || v != 4242) {
      fprintf(stderr, "[rank %d] pmr_parse_size(\"%s\"): %s, %zu\n", rank,
              bad[i], pmr_err_name(rc), v);
      check__failures++;
    }
  }
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    size_t v = 4242;
    int rc = pmr_parse_size(good[i].s, &v);
    /* The last one is 1e-20 TiB: non-zero, rounds to 0 bytes: refused. */
    bool refuse = i == sizeof good / sizeof good[0] - 1;
    if (refuse ? rc != PMR_EINVAL : rc != PMR_OK || v != good[i].v) {
      fprintf(stderr, "[rank %d] pmr_parse_size(\"%s\"): %s, %zu (want %zu)\n",
              rank, good[i].s, pmr_err_name(rc), v, good[i].v);
      check__failures++;
    }
  }
  size_t v;
  CHECK_EQ_I(pmr_parse_size(NULL, &v), PMR_EINVAL);
  CHECK_EQ_I(pmr_parse_size("1", NULL), PMR_EINVAL);
}

/* ---- D4: the default top-N order ---- */

typedef struct fpair {
  const char *k;
  double v;
} fpair;
static const fpair d4_in[] = {{"a", -1.0},      {"b", -2.0}, {"c", -0.5},
                              {"n", NAN},       {"p", 3.0},  {"y", -0.0},
                              {"z", 0.0},       {"m", -INFINITY},
                              {"i", INFINITY}};
#define D4_N (sizeof d4_in / sizeof d4_in[0])

static int map_d4(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  return pmr_emit_f64(em, d4_in[i].k, strlen(d4_in[i].k), d4_in[i].v);
}

typedef struct ipair {
  const char *k;
  int64_t v;
} ipair;
static const ipair d4_i64[] = {{"a", -5},        {"b", 3},
                               {"c", INT64_MIN}, {"d", INT64_MAX},
                               {"e", 0},         {"f", -1}};
#define D4_I (sizeof d4_i64 / sizeof d4_i64[0])

static int map_d4i(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  return pmr_emit_i64(em, d4_i64[i].k, strlen(d4_i64[i].k), d4_i64[i].v);
}

static int list_key_is(const pmr_kv_list *l, uint64_t i, const char *k) {
  size_t n = (size_t)(l->key_offsets[i + 1] - l->key_offsets[i]);
  return n == strlen(k) && memcmp(l->keys + l->key_offsets[i], k, n) == 0;
}

static void d4(void) {
  pmr_ctx *ctx;
  pmr_kv *kv;
  pmr_kv_list *l = NULL;
  /* -0.0 == 0.0: a tie, broken by key; NaN last whatever its bits. */
  static const char *order[] = {"i", "p", "y", "z", "c", "a", "b", "m", "n"};
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_F64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, D4_N, map_d4, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  for (int pass = 0; pass < 2; pass++) {
    uint64_t n = pass ? 3 : 100, want = pass ? 3 : D4_N;
    int root = pass ? size - 1 : 0;
    CHECK_OK(ctx, pmr_kv_top(kv, n, NULL, NULL, root, &l));
    if (l && rank == root) {
      CHECK_EQ_I(l->n, want);
      for (uint64_t i = 0; i < l->n && i < want; i++) {
        if (!list_key_is(l, i, order[i])) {
          fprintf(stderr, "D4: top[%llu] is not '%s'\n", (unsigned long long)i,
                  order[i]);
          check__failures++;
        }
      }
      if (!pass && l->n == D4_N) {
        double last;
        memcpy(&last, l->values + 8 * (D4_N - 1), 8);
        CHECK(isnan(last));
      }
    } else if (l) {
      CHECK_EQ_I(l->n, 0);
    }
    pmr_kv_list_free(&l);
  }
  pmr_kv_destroy(&kv);

  /* int64 sets: signed order, extremes included. */
  static const char *iorder[] = {"d", "b", "e", "f", "a", "c"};
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, D4_I, map_d4i, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_top(kv, 100, NULL, NULL, 0, &l));
  if (l && rank == 0) {
    CHECK_EQ_I(l->n, D4_I);
    for (uint64_t i = 0; i < l->n && i < D4_I; i++)
      CHECK(list_key_is(l, i, iorder[i]));
  }
  pmr_kv_list_free(&l);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- the mutants: MIN/MAX with negative and distinct values ---- */

#define MN 30000
#define MK 97

/* Values of both signs, the int64 extremes on a few keys. */
static int64_t mut_i64(uint64_t i) {
  if (i == 5 || i == 5 + 3 * MK)
    return INT64_MIN;
  if (i == 6 || i == 5 + 2 * MK)
    return INT64_MAX;
  return (int64_t)((i * 2654435761u) % 20001) - 10000;
}
/* Distinct doubles per key, both signs. */
static double mut_f64(uint64_t i) {
  return (double)((i * 2654435761u) % 20001) * 0.25 - 2500.0;
}

static int map_mut(uint64_t i, pmr_emitter *em, void *user) {
  int f64 = *(const int *)user;
  char key[16];
  int n = snprintf(key, sizeof key, "m%llu", (unsigned long long)(i % MK));
  return f64 ? pmr_emit_f64(em, key, (size_t)n, mut_f64(i))
             : pmr_emit_i64(em, key, (size_t)n, mut_i64(i));
}

typedef struct mut_check {
  pmr_op op;
  int64_t imin[MK], imax[MK];
  double fmin[MK], fmax[MK];
  int keys, bad;
} mut_check;

static int visit_mut(const void *key, size_t klen, const void *val, void *u) {
  mut_check *c = u;
  char s[16] = {0};
  memcpy(s, key, klen < 15 ? klen : 15);
  unsigned r = (unsigned)strtoul(s + 1, NULL, 10);
  c->keys++;
  if (r >= MK) {
    c->bad++;
    return 0;
  }
  int64_t iv;
  double fv;
  memcpy(&iv, val, 8);
  memcpy(&fv, val, 8);
  int ok = c->op == PMR_MIN_I64   ? iv == c->imin[r]
           : c->op == PMR_MAX_I64 ? iv == c->imax[r]
           : c->op == PMR_MIN_F64 ? fv == c->fmin[r]
                                  : fv == c->fmax[r];
  if (!ok && c->bad++ < 3)
    fprintf(stderr, "[rank %d] op %d key %s: wrong value\n", rank, (int)c->op,
            s);
  return 0;
}

static void mutants(void) {
  static mut_check c;
  /* The expected extremes, by a serial loop over the same indices. */
  for (int r = 0; r < MK; r++) {
    c.imin[r] = INT64_MAX;
    c.imax[r] = INT64_MIN;
    c.fmin[r] = INFINITY;
    c.fmax[r] = -INFINITY;
  }
  for (uint64_t i = 0; i < MN; i++) {
    int r = (int)(i % MK);
    int64_t a = mut_i64(i);
    double x = mut_f64(i);
    c.imin[r] = a < c.imin[r] ? a : c.imin[r];
    c.imax[r] = a > c.imax[r] ? a : c.imax[r];
    c.fmin[r] = x < c.fmin[r] ? x : c.fmin[r];
    c.fmax[r] = x > c.fmax[r] ? x : c.fmax[r];
  }
  /* The test must discriminate: extremes of both signs, keys whose min and
   * max differ. */
  CHECK(c.imin[5] == INT64_MIN && c.imax[5] == INT64_MAX);
  CHECK(c.imin[1] < 0 && c.imax[1] > 0 && c.fmin[1] < 0 && c.fmax[1] > 0);
  pmr_ctx *ctx;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  /* A small budget: several rounds, so pairs combine on both sides. */
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  static const pmr_op ops[] = {PMR_MIN_I64, PMR_MAX_I64, PMR_MIN_F64,
                               PMR_MAX_F64};
  for (int o = 0; o < 4; o++) {
    pmr_kv *kv;
    int f64 = o >= 2;
    c.op = ops[o];
    c.keys = c.bad = 0;
    CHECK_OK(ctx, pmr_kv_create(ctx, ops[o], &kv));
    CHECK_OK(ctx, pmr_map_index(ctx, MN, map_mut, &f64, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    CHECK_OK(ctx, pmr_kv_foreach(kv, visit_mut, &c));
    int total = 0;
    MPI_Allreduce(&c.keys, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK_EQ_I(c.bad, 0);
    CHECK_EQ_I(total, MK);
    pmr_kv_destroy(&kv);
  }
  pmr_ctx_destroy(&ctx);
}

/* ---- options, bounds, environment ---- */

static void options(void) {
  pmr_ctx *ctx;
  int64_t v = -7;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  int nt = pmr_ctx_threads(ctx);
  CHECK(nt >= 1 && nt <= PMR_MAX_THREADS);
  CHECK_EQ_I(pmr_ctx_set_threads(ctx, PMR_MAX_THREADS + 1), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_set_threads(ctx, 0), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_set_threads(ctx, -1), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_threads(ctx), nt); /* refused, not capped */
  CHECK_OK(ctx, pmr_ctx_set_threads(ctx, PMR_MAX_THREADS));
  CHECK_EQ_I(pmr_ctx_threads(ctx), PMR_MAX_THREADS);
  CHECK_OK(ctx, pmr_ctx_set_threads(ctx, nt));

  static const struct {
    pmr_option opt;
    int64_t lo, hi; /* the valid range's ends */
  } b[] = {{PMR_OPT_THREADS, 1, PMR_MAX_THREADS},
           {PMR_OPT_MEMORY, (int64_t)1 << 20, INT64_MAX},
           {PMR_OPT_CHUNK_SIZE, 0, (int64_t)1 << 40},
           {PMR_OPT_READER, PMR_READER_MMAP, PMR_READER_PREAD},
           {PMR_OPT_LINE_NUMBERS, 0, 1}};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
    int64_t before, after;
    CHECK_OK(ctx, pmr_ctx_get_option(ctx, b[i].opt, &before));
    CHECK_EQ_I(pmr_ctx_set_option(ctx, b[i].opt, b[i].lo - 1), PMR_EINVAL);
    if (b[i].hi < INT64_MAX)
      CHECK_EQ_I(pmr_ctx_set_option(ctx, b[i].opt, b[i].hi + 1), PMR_EINVAL);
    CHECK_OK(ctx, pmr_ctx_get_option(ctx, b[i].opt, &after));
    CHECK_EQ_I(after, before);
    int64_t ends[2] = {b[i].lo, b[i].opt == PMR_OPT_MEMORY ? (int64_t)1 << 30
                                                           : b[i].hi};
    for (int e = 0; e < 2; e++) {
      CHECK_OK(ctx, pmr_ctx_set_option(ctx, b[i].opt, ends[e]));
      CHECK_OK(ctx, pmr_ctx_get_option(ctx, b[i].opt, &v));
      CHECK_EQ_I(v, ends[e]);
    }
    CHECK_OK(ctx, pmr_ctx_set_option(ctx, b[i].opt, before));
  }
  CHECK_EQ_I(pmr_ctx_memory(ctx), (size_t)256 << 20);
  CHECK_EQ_I(pmr_ctx_set_option(ctx, (pmr_option)0, 1), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_set_option(ctx, (pmr_option)99, 1), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_get_option(ctx, (pmr_option)99, &v), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_get_option(ctx, PMR_OPT_THREADS, NULL), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_set_option(NULL, PMR_OPT_THREADS, 1), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_set_memory(ctx, ((size_t)1 << 20) - 1), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_set_memory(ctx, SIZE_MAX), PMR_EINVAL);
  pmr_ctx_destroy(&ctx);

  /* The environment, read once at creation; a bad value is ignored. */
  static const struct {
    const char *chunk, *read, *lines, *mem;
    int64_t want[4]; /* chunk, reader, line numbers, memory */
  } env[] = {
      {"7", "pread", "1", "64M", {7, PMR_READER_PREAD, 1, (int64_t)64 << 20}},
      {"1.5K", "mmap", "0", "1GiB", {1536, 0, 0, (int64_t)1 << 30}},
      {"7x", "PREAD", "yes", "1K", {0, 0, 0, (int64_t)256 << 20}},
      {"2T", "", "2", "nan", {0, 0, 0, (int64_t)256 << 20}},
      {" 7", "mmap ", "01", "-1M", {0, 0, 0, (int64_t)256 << 20}},
  };
  for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
    setenv("PMR_CHUNK_SIZE", env[i].chunk, 1);
    setenv("PMR_READ", env[i].read, 1);
    setenv("PMR_LINE_NUMBERS", env[i].lines, 1);
    setenv("PMR_MEMORY", env[i].mem, 1);
    CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
    static const pmr_option o[4] = {PMR_OPT_CHUNK_SIZE, PMR_OPT_READER,
                                    PMR_OPT_LINE_NUMBERS, PMR_OPT_MEMORY};
    for (int k = 0; k < 4; k++) {
      CHECK_OK(ctx, pmr_ctx_get_option(ctx, o[k], &v));
      if (v != env[i].want[k]) {
        fprintf(stderr, "[rank %d] env set %zu option %d: %lld, want %lld\n",
                rank, i, (int)o[k], (long long)v, (long long)env[i].want[k]);
        check__failures++;
      }
    }
    /* Read at creation only: changing the environment later does nothing. */
    setenv("PMR_CHUNK_SIZE", "99", 1);
    CHECK_OK(ctx, pmr_ctx_get_option(ctx, PMR_OPT_CHUNK_SIZE, &v));
    CHECK_EQ_I(v, env[i].want[0]);
    pmr_ctx_destroy(&ctx);
  }
  unsetenv("PMR_CHUNK_SIZE");
  unsetenv("PMR_READ");
  unsetenv("PMR_LINE_NUMBERS");
  unsetenv("PMR_MEMORY");
}

/* ---- argument checks agreed when one rank alone is wrong ---- */

static int line_count(const char *line, size_t len, int file, pmr_emitter *em,
                      void *user) {
  (void)file, (void)user;
  return pmr_emit(em, line, len, NULL);
}
static int rec_count(const void *rec, size_t n, pmr_emitter *em, void *user) {
  (void)user;
  return pmr_emit(em, rec, n, NULL);
}

/* rc is PMR_EINVAL everywhere, with one message, and the context still
 * works afterwards (nobody was left in a collective). */
static void expect_einval(pmr_ctx *ctx, int rc, const char *what, int line) {
  if (rc != PMR_EINVAL) {
    fprintf(stderr, "[rank %d] line %d: %s returned %s: '%s'\n", rank, line,
            what, pmr_err_name(rc), pmr_errmsg(ctx));
    check__failures++;
  }
  CHECK(pmr_errmsg(ctx)[0] != '\0');
  CHECK(eu_same_str(MPI_COMM_WORLD, pmr_errmsg(ctx)));
}
#define EXPECT_EINVAL(ctx, rc, what) expect_einval(ctx, rc, what, __LINE__)

static void bad_args(void) {
  char good[300];
  snprintf(good, sizeof good, "%s/args.txt", dir);
  if (rank == 0)
    eu_write_file(good, "a\nb\nb\n", 6);
  MPI_Barrier(MPI_COMM_WORLD);
  const char *files[] = {good};
  int last = rank == size - 1;
  pmr_ctx *ctx;
  pmr_kv *kv, *other;
  pmr_kv_list *l = NULL;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &other));

  EXPECT_EINVAL(ctx,
                pmr_map_text(ctx, files, last ? 0 : 1, line_count, NULL, kv),
                "pmr_map_text nfiles 0");
  CHECK(strstr(pmr_errmsg(ctx), "no input files") != NULL);
  EXPECT_EINVAL(ctx,
                pmr_map_text(ctx, files, 1, last ? NULL : line_count, NULL,
                             kv),
                "pmr_map_text NULL callback");
  EXPECT_EINVAL(ctx,
                pmr_map_records(ctx, files, 1, last ? 0 : 2, 0, rec_count,
                                NULL, kv),
                "pmr_map_records record size 0");
  EXPECT_EINVAL(ctx,
                pmr_map_index(ctx, 10, last ? NULL : map_mod, NULL, kv),
                "pmr_map_index NULL callback");
  CHECK_OK(ctx, pmr_map_text(ctx, files, 1, line_count, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  EXPECT_EINVAL(ctx, pmr_map_kv(kv, pair_copy, NULL, last ? kv : other),
                "pmr_map_kv into itself");
  EXPECT_EINVAL(ctx, pmr_kv_top(kv, 3, NULL, NULL, last ? size : 0, &l),
                "pmr_kv_top root out of range");
  CHECK(l == NULL);
  EXPECT_EINVAL(ctx, pmr_kv_top(kv, 3, NULL, NULL, last ? -1 : 0, &l),
                "pmr_kv_top root -1");
  CHECK(l == NULL);
  EXPECT_EINVAL(ctx, pmr_kv_gather(kv, last ? size + 3 : 0, &l),
                "pmr_kv_gather root out of range");
  CHECK(l == NULL);
  char out[300];
  snprintf(out, sizeof out, "%s/args.h5", dir);
  EXPECT_EINVAL(ctx, pmr_kv_write_h5(kv, out, last ? "" : "g", NULL),
                "pmr_kv_write_h5 empty group");
  EXPECT_EINVAL(ctx, pmr_kv_write_text(kv, last ? NULL : out),
                "pmr_kv_write_text NULL path");
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    CHECK(access(out, F_OK) != 0);

  /* Still in step: a collective call works and sees the right data. */
  CHECK_OK(ctx, pmr_kv_gather(kv, 0, &l));
  if (l && rank == 0) {
    CHECK_EQ_I(l->n, 2);
    int64_t b;
    memcpy(&b, l->values + 8, 8);
    CHECK(l->n == 2 && list_key_is(l, 1, "b") && b == 2);
  }
  pmr_kv_list_free(&l);
  pmr_kv_destroy(&kv);
  pmr_kv_destroy(&other);
  pmr_ctx_destroy(&ctx);
}

/* ---- split and reordered communicators; roots other than 0 ---- */

static int list_value_i64(const pmr_kv_list *l, uint64_t i, int64_t *v) {
  memcpy(v, l->values + 8 * i, 8);
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Gather at `root`: every key of the job, in key byte order, with its
 * closed-form value. The order is computed with strcmp over the names. */
static void check_gather(pmr_ctx *ctx, pmr_kv *kv, const job *j, int count,
                         int root) {
  pmr_kv_list *l = NULL;
  CHECK_OK(ctx, pmr_kv_gather(kv, root, &l));
  if (l && pmr_ctx_rank(ctx) == root) {
    char **names = malloc(j->k * sizeof *names);
    for (uint64_t r = 0; r < j->k; r++)
      asprintf(&names[r], "%s%llu", j->prefix, (unsigned long long)r);
    qsort(names, j->k, sizeof *names, name_cmp);
    CHECK_EQ_I(l->n, j->k);
    for (uint64_t i = 0; i < l->n && i < j->k; i++) {
      int64_t v;
      list_value_i64(l, i, &v);
      uint64_t r = strtoull(names[i] + strlen(j->prefix), NULL, 10);
      int64_t want = count ? (int64_t)mod_count(j, r) : mod_sum(j, r);
      if (!list_key_is(l, i, names[i]) || v != want) {
        if (check__failures++ < 5)
          fprintf(stderr, "[rank %d] gather[%llu]: want %s = %lld\n", rank,
                  (unsigned long long)i, names[i], (long long)want);
      }
    }
    for (uint64_t r = 0; r < j->k; r++)
      free(names[r]);
    free(names);
  } else if (l) {
    CHECK_EQ_I(l->n, 0);
  }
  pmr_kv_list_free(&l);
}

static void communicators(void) {
  /* Roots other than 0 over the whole world. */
  job w = {6000, 60, "w"};
  pmr_ctx *ctx;
  pmr_kv *kv;
  pmr_kv_list *l = NULL;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, w.n, map_mod, &w, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  for (int root = 0; root < size; root++)
    check_gather(ctx, kv, &w, 0, root);
  CHECK_OK(ctx, pmr_kv_top(kv, 2, NULL, NULL, size - 1, &l));
  if (l && rank == size - 1)
    CHECK(l->n == 2 && list_key_is(l, 0, "w59") && list_key_is(l, 1, "w58"));
  pmr_kv_list_free(&l);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);

  /* Even and odd ranks, each half in reverse rank order, run different
   * jobs at the same time. */
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, size - rank, &half);
  int hr, hs;
  MPI_Comm_rank(half, &hr);
  MPI_Comm_size(half, &hs);
  int odd = rank % 2;
  job even_job = {5000, 50, "e"}, odd_job = {7000, 70, "o"};
  const job *j = odd ? &odd_job : &even_job;
  CHECK_OK(NULL, pmr_ctx_create(half, &ctx));
  CHECK_EQ_I(pmr_ctx_size(ctx), hs);
  CHECK_EQ_I(pmr_ctx_rank(ctx), hr);
  CHECK_EQ_I(hr, (size - rank - 1) / 2); /* reversed */
  CHECK_OK(ctx, pmr_kv_create(ctx, odd ? PMR_COUNT : PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, j->n, map_mod, (void *)j, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_job(ctx, kv, j, 1, odd);
  check_gather(ctx, kv, j, odd, hs - 1);
  /* Top 3 at the half's last rank: sums grow with the key's residue; the
   * counts all tie (100 each) and are ordered by key bytes. */
  CHECK_OK(ctx, pmr_kv_top(kv, 3, NULL, NULL, hs - 1, &l));
  if (l && hr == hs - 1) {
    static const char *ev[] = {"e49", "e48", "e47"}, *ov[] = {"o0", "o1",
                                                              "o10"};
    CHECK_EQ_I(l->n, 3);
    for (uint64_t i = 0; i < l->n && i < 3; i++)
      CHECK(list_key_is(l, i, odd ? ov[i] : ev[i]));
  } else if (l) {
    CHECK_EQ_I(l->n, 0);
  }
  pmr_kv_list_free(&l);
  /* An error in one half is agreed within it only. */
  int rc = pmr_kv_top(kv, 3, NULL, NULL, hs, &l);
  CHECK_EQ_I(rc, PMR_EINVAL);
  CHECK(eu_same_str(half, pmr_errmsg(ctx)));
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  MPI_Comm_free(&half);
}

/* ---- many threads, and different thread counts per rank ---- */

static void threads(void) {
  job j = {40000, 4000, "t"};
  pmr_ctx *ctx;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  const int nt0 = pmr_ctx_threads(ctx);
  static const struct {
    int map, reduce; /* 0: the context's default; -1: 1 + 7 * rank */
  } runs[] = {{0, 64}, {0, 1}, {64, 64}, {64, 1}, {-1, -1}, {1, 64}};
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    pmr_kv *kv;
    int m = runs[i].map ? runs[i].map : nt0, r = runs[i].reduce;
    if (m < 0)
      m = 1 + 7 * rank;
    if (r < 0)
      r = 1 + 7 * rank;
    CHECK_OK(ctx, pmr_ctx_set_threads(ctx, m));
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
    CHECK_OK(ctx, pmr_map_index(ctx, j.n, map_mod, &j, kv));
    CHECK_OK(ctx, pmr_ctx_set_threads(ctx, r));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    int before = check__failures;
    check_job(ctx, kv, &j, 1, 0);
    if (check__failures != before)
      fprintf(stderr, "[rank %d] map %d threads, reduce %d threads\n", rank,
              m, r);
    pmr_kv_destroy(&kv);
  }
  pmr_ctx_destroy(&ctx);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  eu_tmpdir(dir, sizeof dir, "engine");
  lifecycle();
  d1();
  d2();
  d4();
  mutants();
  options();
  bad_args();
  communicators();
  threads();
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    eu_rmtree(dir);
  int rc = check_finish("test_engine");
  MPI_Finalize();
  return rc;
}
