/* Reading pmr results back (pmr_map_result, pmr_result_describe): results
 * written by pmr_kv_write_h5 at this rank count and by h5py
 * (make_results.py, in the directory given as argv[1]) are read into new
 * sets, reduced and compared pair by pair with closed forms; merges, a small
 * memory budget (many rounds), callbacks, and every bad input with its code
 * and the same message on every rank. */
#define _GNU_SOURCE
#include "check.h"

#include <pmr.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

static int rank, size;
static const char *data; /* make_results.py's directory */
static char tmp[256];    /* this run's own files */

static const char *in(const char *name) {
  static char buf[64][512];
  static int next;
  char *b = buf[next++ % 64];
  snprintf(b, 512, "%s/%s", data, name);
  return b;
}
static const char *out(const char *name) {
  static char buf[8][512];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, 512, "%s/%s", tmp, name);
  return b;
}

/* The same string on every rank? */
static int same_everywhere(const char *s) {
  unsigned long h = 5381;
  for (const char *p = s; *p; p++)
    h = h * 33 + (unsigned char)*p;
  unsigned long lo, hi;
  MPI_Allreduce(&h, &lo, 1, MPI_UNSIGNED_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&h, &hi, 1, MPI_UNSIGNED_LONG, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

static uint64_t global_size(pmr_kv *kv) {
  uint64_t n = pmr_kv_local_size(kv), total = 0;
  MPI_Allreduce(&n, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  return total;
}

/* Parse the number after a key's prefix of `plen` bytes, or -1. */
static long long key_index(const void *key, size_t klen, size_t plen) {
  char b[32];
  if (klen <= plen || klen - plen >= sizeof b)
    return -1;
  memcpy(b, (const char *)key + plen, klen - plen);
  b[klen - plen] = '\0';
  char *end;
  long long v = strtoll(b, &end, 10);
  return *end ? -1 : v;
}

/* ---- round trip at this rank count ---- */

#define N_RT 20000
static int64_t rt_value(long long i) { return i % 7 + 1 + (i << 33); }

static int map_rt(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  int n = snprintf(k, sizeof k, "r%llu", (unsigned long long)i);
  return pmr_emit_i64(em, k, (size_t)n, rt_value((long long)i));
}

typedef struct vis {
  long long bad, seen;
  long long (*expect)(long long i, int64_t *v); /* 0: unknown key */
  size_t plen;
} vis;

static int visit_i64(const void *key, size_t klen, const void *value,
                     void *user) {
  vis *v = user;
  int64_t got, want;
  memcpy(&got, value, 8);
  long long i = key_index(key, klen, v->plen);
  v->seen++;
  if (i < 0 || !v->expect(i, &want) || got != want) {
    if (v->bad++ < 5)
      fprintf(stderr, "[rank %d] pair %.*s = %lld unexpected\n", rank,
              (int)klen, (const char *)key, (long long)got);
  }
  return 0;
}

static long long expect_rt(long long i, int64_t *v) {
  *v = rt_value(i);
  return i < N_RT;
}

static void check_pairs(pmr_kv *kv, long long (*expect)(long long, int64_t *),
                        size_t plen, uint64_t n) {
  vis v = {0, 0, expect, plen};
  CHECK_OK(NULL, pmr_kv_foreach(kv, visit_i64, &v));
  CHECK_EQ_I(v.bad, 0);
  CHECK_EQ_I(global_size(kv), n);
}

static void test_roundtrip(pmr_ctx *ctx) {
  pmr_kv *w, *r;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &w));
  CHECK_OK(ctx, pmr_map_index(ctx, N_RT, map_rt, NULL, w));
  CHECK_OK(ctx, pmr_kv_reduce(w));
  CHECK_OK(ctx, pmr_kv_write_h5(w, out("rt.h5"), "wc", NULL));
  pmr_kv_destroy(&w);

  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &r));
  const char *f[] = {out("rt.h5")};
  CHECK_OK(ctx, pmr_map_result(ctx, f, 1, "wc", NULL, NULL, r));
  CHECK_OK(ctx, pmr_kv_reduce(r));
  check_pairs(r, expect_rt, 1, N_RT);
  pmr_kv_destroy(&r);

  /* What the file says about itself. */
  pmr_result_info info;
  CHECK_OK(ctx, pmr_result_describe(ctx, out("rt.h5"), NULL, &info));
  CHECK_EQ_I(info.pairs, N_RT);
  CHECK_EQ_I(info.dtype, PMR_INT64);
  CHECK_EQ_I(info.value_size, 8);
  CHECK_EQ_I(info.layout_version, PMR_LAYOUT_VERSION);
  CHECK(strcmp(info.group, "wc") == 0);
  CHECK(strcmp(info.combiner, "sum_i64") == 0);
}

/* Two results loaded into one set: the sums. a: m0..m(N-1) = i; b: m(N/2)..
 * m(3N/2 - 1) = 2i. */
#define N_MG 6000
static int map_a(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  int n = snprintf(k, sizeof k, "m%llu", (unsigned long long)i);
  return pmr_emit_i64(em, k, (size_t)n, (int64_t)i);
}
static int map_b(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  uint64_t j = i + N_MG / 2;
  int n = snprintf(k, sizeof k, "m%llu", (unsigned long long)j);
  return pmr_emit_i64(em, k, (size_t)n, 2 * (int64_t)j);
}
static long long expect_mg(long long i, int64_t *v) {
  *v = (i < N_MG ? i : 0) + (i >= N_MG / 2 ? 2 * i : 0);
  return i < N_MG + N_MG / 2;
}

static void test_merge(pmr_ctx *ctx) {
  pmr_kv *a, *b, *m;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &a));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &b));
  CHECK_OK(ctx, pmr_map_index(ctx, N_MG, map_a, NULL, a));
  CHECK_OK(ctx, pmr_map_index(ctx, N_MG, map_b, NULL, b));
  CHECK_OK(ctx, pmr_kv_reduce(a));
  CHECK_OK(ctx, pmr_kv_reduce(b));
  CHECK_OK(ctx, pmr_kv_write_h5(a, out("a.h5"), "wordcount", NULL));
  CHECK_OK(ctx, pmr_kv_write_h5(b, out("b.h5"), "wordcount", NULL));
  pmr_kv_destroy(&a);
  pmr_kv_destroy(&b);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &m));
  const char *f[] = {out("a.h5"), in("empty.h5"), out("b.h5")};
  /* empty.h5's group is /res: read a.h5 and b.h5, then add the empty one. */
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){f[0], f[2]}, 2,
                               "wordcount", NULL, NULL, m));
  CHECK_OK(ctx, pmr_map_result(ctx, &f[1], 1, "res", NULL, NULL, m));
  CHECK_OK(ctx, pmr_kv_reduce(m));
  check_pairs(m, expect_mg, 1, N_MG + N_MG / 2);
  /* The merged set written and read again: the same pairs. */
  CHECK_OK(ctx, pmr_kv_write_h5(m, out("m.h5"), "wordcount", NULL));
  pmr_kv_destroy(&m);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &m));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){out("m.h5")}, 1,
                               "wordcount", NULL, NULL, m));
  CHECK_OK(ctx, pmr_kv_reduce(m));
  check_pairs(m, expect_mg, 1, N_MG + N_MG / 2);
  pmr_kv_destroy(&m);
}

/* ---- files written by h5py ---- */

#define BIG (100 * 1024)
/* Over half of a round's quarter of a 1 MiB budget: a round of its own. */
#define HUGE (300 * 1024)
static void tricky_key(int i, unsigned char *buf, size_t *len, int64_t *value) {
  static const struct {
    const char *k;
    size_t len;
    int64_t v;
  } fixed[4] = {{"", 0, 7}, {"\0", 1, 11}, {"a\0b", 3, 13}, {"\0\0\0", 3, -5}};
  if (i < 4) {
    memcpy(buf, fixed[i].k, fixed[i].len);
    *len = fixed[i].len;
    *value = fixed[i].v;
  } else if (i == 4) {
    for (int j = 0; j < BIG; j++)
      buf[j] = (unsigned char)((j * 7 + 3) % 256);
    *len = BIG;
    *value = (int64_t)1 << 40;
  } else if (i == 5) {
    for (int j = 0; j < HUGE; j++)
      buf[j] = (unsigned char)((j * 13 + 1) % 256);
    *len = HUGE;
    *value = (int64_t)1 << 41;
  } else {
    int k = i - 6;
    *len = (size_t)sprintf((char *)buf, "k%d", k);
    *value = (int64_t)k * k * 1000003;
  }
}
#define N_TRICKY 1006

/* Every tricky pair is on exactly one rank with its value. */
static void check_tricky(pmr_kv *kv, int64_t times) {
  static unsigned char key[HUGE];
  int found[N_TRICKY], total[N_TRICKY];
  for (int i = 0; i < N_TRICKY; i++) {
    size_t len;
    int64_t want, got;
    tricky_key(i, key, &len, &want);
    const void *v = pmr_kv_find(kv, key, len);
    found[i] = v != NULL;
    if (v) {
      memcpy(&got, v, 8);
      if (got != want * times) {
        fprintf(stderr, "[rank %d] tricky pair %d: %lld, want %lld\n", rank, i,
                (long long)got, (long long)(want * times));
        found[i] = 100;
      }
    }
  }
  MPI_Allreduce(found, total, N_TRICKY, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int bad = 0;
  for (int i = 0; i < N_TRICKY; i++)
    bad += total[i] != 1;
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(global_size(kv), N_TRICKY);
}

static void test_tricky(pmr_ctx *ctx, size_t memory) {
  pmr_kv *kv;
  size_t keep = pmr_ctx_memory(ctx);
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, memory));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  const char *f[] = {in("tricky.h5"), in("empty.h5"), in("tricky.h5")};
  CHECK_OK(ctx, pmr_map_result(ctx, f, 3, "res", NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_tricky(kv, 2);
  /* Written by pmr at this rank count and read again. */
  CHECK_OK(ctx, pmr_kv_write_h5(kv, out("tricky2.h5"), "again", NULL));
  pmr_kv_destroy(&kv);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){out("tricky2.h5")}, 1,
                               "again", NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_tricky(kv, 2);
  pmr_kv_destroy(&kv);
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, keep));
}

/* Zero pairs: nothing, and no hang. */
static void test_empty(pmr_ctx *ctx) {
  pmr_kv *kv;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){in("empty.h5")}, 1, "res",
                               NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_EQ_I(global_size(kv), 0);
  CHECK_OK(ctx, pmr_kv_write_h5(kv, out("empty2.h5"), "res", NULL));
  pmr_kv_destroy(&kv);
  pmr_result_info info;
  CHECK_OK(ctx, pmr_result_describe(ctx, out("empty2.h5"), "res", &info));
  CHECK_EQ_I(info.pairs, 0);
  CHECK_EQ_I(info.key_bytes, 0);
}

static int visit_f64(const void *key, size_t klen, const void *value,
                     void *user) {
  long long *bad = user;
  double got;
  memcpy(&got, value, 8);
  long long i = key_index(key, klen, 1);
  if (i < 0 || i >= 500 || got != 3 * (i / 2.0))
    ++*bad;
  return 0;
}

static int visit_b16(const void *key, size_t klen, const void *value,
                     void *user) {
  long long *bad = user;
  const unsigned char *v = value;
  long long i = key_index(key, klen, 1);
  if (i < 0 || i >= 300)
    ++*bad;
  for (int j = 0; i >= 0 && j < 16; j++)
    if (v[j] != (unsigned char)((i + j) % 256))
      ++*bad;
  return 0;
}
static void keep_first(void *acc, const void *in_, void *user) {
  (void)acc, (void)in_, (void)user;
}

static long long expect_n(long long i, int64_t *v) {
  *v = 10 + i;
  return i < 10;
}

static void test_types(pmr_ctx *ctx) {
  pmr_kv *kv;
  long long bad = 0;
  /* float64, three times over (i / 2 sums exactly). */
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_F64, &kv));
  const char *f[] = {in("f64.h5"), in("f64.h5"), in("f64.h5")};
  CHECK_OK(ctx, pmr_map_result(ctx, f, 3, "res", NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit_f64, &bad));
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(global_size(kv), 500);
  pmr_kv_destroy(&kv);

  /* uint8 [n, 16], compressed and chunked, into a 16-byte set. */
  CHECK_OK(ctx, pmr_kv_create_user(ctx, 16, PMR_BYTES, keep_first, NULL, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){in("bytes16.h5")}, 1,
                               "res", NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit_b16, &bad));
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(global_size(kv), 300);
  /* Written as uint8 [n, 16] by pmr and read back. */
  CHECK_OK(ctx, pmr_kv_write_h5(kv, out("b16.h5"), "b", NULL));
  pmr_kv_destroy(&kv);
  CHECK_OK(ctx, pmr_kv_create_user(ctx, 16, PMR_BYTES, keep_first, NULL, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){out("b16.h5")}, 1, "b",
                               NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit_b16, &bad));
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(global_size(kv), 300);
  pmr_kv_destroy(&kv);

  /* A nested group, a file without attributes, and variable-length string
   * attributes. */
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){in("nested.h5")}, 1,
                               "/run1/counts", NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_pairs(kv, expect_n, 1, 10);
  pmr_kv_destroy(&kv);
  pmr_result_info info;
  CHECK_OK(ctx,
           pmr_result_describe(ctx, in("nested.h5"), "run1/counts", &info));
  CHECK_EQ_I(info.layout_version, 0);
  CHECK(strcmp(info.combiner, "") == 0 && strcmp(info.app, "") == 0);
  CHECK_OK(ctx, pmr_result_describe(ctx, in("vlen.h5"), NULL, &info));
  CHECK(strcmp(info.group, "res") == 0);
  CHECK(strcmp(info.combiner, "max_i64") == 0);
  CHECK(strcmp(info.app, "vlen-app") == 0);
  CHECK_OK(ctx, pmr_result_describe(ctx, in("tricky.h5"), "res", &info));
  CHECK_EQ_I(info.pairs, N_TRICKY);
  CHECK(strcmp(info.app, "test") == 0);
  CHECK_OK(ctx, pmr_result_describe(ctx, in("bytes16.h5"), NULL, &info));
  CHECK_EQ_I(info.dtype, PMR_BYTES);
  CHECK_EQ_I(info.value_size, 16);
  CHECK(strcmp(info.combiner, "user") == 0);
  CHECK_OK(ctx, pmr_result_describe(ctx, in("i32.h5"), NULL, &info));
  CHECK_EQ_I(info.dtype, -1);
  CHECK_EQ_I(info.value_size, 4);
}

/* ---- callbacks ---- */

/* Count of counts: how many k<i> have value % 7 + 1 == c (round-trip file). */
static int count_of_counts(const void *key, size_t klen, const void *value,
                           pmr_emitter *em, void *user) {
  (void)key, (void)klen, (void)user;
  int64_t v;
  memcpy(&v, value, 8);
  int64_t c = v & 0xffffffff;
  return pmr_emit_i64(em, &c, sizeof c, 1);
}

static int visit_cc(const void *key, size_t klen, const void *value,
                    void *user) {
  long long *bad = user;
  int64_t c, n;
  memcpy(&c, key, 8);
  memcpy(&n, value, 8);
  /* i in [0, N_RT) with i % 7 == c - 1 */
  long long want = c >= 1 && c <= 7 ? (N_RT - (c - 1) + 6) / 7 : -1;
  if (klen != 8 || n != want)
    ++*bad;
  return 0;
}

/* The emitter says where each pair comes from: file index and row. */
typedef struct where_ctx {
  int fails_at; /* fail at this row of f64.h5 (-1: never) */
} where_ctx;
static int check_where(const void *key, size_t klen, const void *value,
                       pmr_emitter *em, void *user) {
  const where_ctx *w = user;
  long long i = key_index(key, klen, 1);
  int src = pmr_emitter_source(em);
  if (src == 1 && i == w->fails_at)
    return pmr_emitter_fail(em, "refused %lld", i);
  /* f64.h5 and i32.h5 write f<i> / q<i> at row i. */
  if (i < 0 || pmr_emitter_record(em) != (uint64_t)i)
    return pmr_emitter_fail(em, "row %llu holds key %.*s",
                            (unsigned long long)pmr_emitter_record(em),
                            (int)klen, (const char *)key);
  int64_t v;
  if (src == 1) {
    double d;
    memcpy(&d, value, 8);
    v = (int64_t)(d * 2);
  } else {
    int32_t x;
    memcpy(&x, value, 4);
    v = -x;
  }
  if (v != i)
    return pmr_emitter_fail(em, "value %lld", (long long)v);
  return pmr_emit_i64(em, "rows", 4, 1);
}

/* Dense cells from a callback: f<i> counts in cell i % 10. */
static int to_cells(const void *key, size_t klen, const void *value,
                    pmr_emitter *em, void *user) {
  (void)value, (void)user;
  long long i = key_index(key, klen, 1);
  return pmr_emit_cell_i64(em, (uint64_t)(i % 10), 0, 1);
}

static void test_callbacks(pmr_ctx *ctx) {
  pmr_kv *kv;
  long long bad = 0;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){out("rt.h5")}, 1, "wc",
                               count_of_counts, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit_cc, &bad));
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(global_size(kv), 7);
  pmr_kv_destroy(&kv);

  /* Sources and records; int32 values through a callback. */
  where_ctx w = {-1};
  const char *f[] = {in("i32.h5"), in("f64.h5")};
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, f, 2, "res", check_where, &w, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  const void *v = pmr_kv_find(kv, "rows", 4);
  int64_t rows = 0, all = 0;
  if (v)
    memcpy(&rows, v, 8);
  MPI_Allreduce(&rows, &all, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(all, 600);

  /* A callback that fails at one pair (on one rank): everyone gets the
   * error, with the file and the pair. */
  w.fails_at = 321;
  int rc = pmr_map_result(ctx, f, 2, "res", check_where, &w, kv);
  CHECK_EQ_I(rc, PMR_ECALLBACK);
  CHECK(strstr(pmr_errmsg(ctx), "f64.h5' pair 321: refused 321") != NULL);
  CHECK(same_everywhere(pmr_errmsg(ctx)));
  pmr_kv_destroy(&kv);

  /* A dense set through a callback (where this build has dense sets). */
  if (pmr_kv_create_dense(ctx, PMR_COUNT, 10, 1, &kv) == PMR_OK) {
    CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){in("f64.h5")}, 1, "res",
                                 to_cells, NULL, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    const int64_t *cells = pmr_kv_dense_values(kv);
    CHECK(cells != NULL);
    for (int c = 0; cells && c < 10; c++)
      CHECK_EQ_I(cells[c], 50);
    pmr_kv_destroy(&kv);
  } else if (rank == 0) {
    printf("dense sets not available: their callback case skipped\n");
  }
}

/* ---- a small budget: many rounds ---- */

#define N_SMALL 60000
static int map_small(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  int n = snprintf(k, sizeof k, "s%llu", (unsigned long long)i);
  return pmr_emit_i64(em, k, (size_t)n, (int64_t)i);
}
static long long expect_small(long long i, int64_t *v) {
  *v = i;
  return i < N_SMALL;
}

static void test_small_memory(pmr_ctx *ctx) {
  pmr_kv *kv;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, N_SMALL, map_small, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_write_h5(kv, out("small.h5"), "s", NULL));
  pmr_kv_destroy(&kv);
  size_t keep = pmr_ctx_memory(ctx);
  /* 1 MiB: rounds of 8192 pairs at most (a quarter of the budget, half of
   * it for offsets and values), so several rounds on every rank. */
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  pmr_stats before, after;
  pmr_ctx_stats(ctx, &before);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, (const char *[]){out("small.h5")}, 1, "s",
                               NULL, NULL, kv));
  pmr_ctx_stats(ctx, &after);
  uint64_t mine = after.records - before.records, total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(total, N_SMALL);
  /* Contiguous row ranges: this rank's share, as pmr splits it. */
  uint64_t q = N_SMALL / (uint64_t)size, r = N_SMALL % (uint64_t)size;
  CHECK_EQ_I(mine, q + ((uint64_t)rank < r));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_pairs(kv, expect_small, 1, N_SMALL);
  pmr_kv_destroy(&kv);
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, keep));
}

/* ---- bad input ---- */

typedef struct bad_case {
  const char *file, *group;
  int code;
  const char *msg; /* a part of the message */
} bad_case;

static void test_bad(pmr_ctx *ctx) {
  char missing[600];
  snprintf(missing, sizeof missing, "%s/no-such-result.h5", data);
  const bad_case cases[] = {
      {missing, "res", PMR_ENOENT,
       "no-such-result.h5': No such file or directory"},
      {data, "res", PMR_EISDIR, "Is a directory"},
      {in("text.h5"), "res", PMR_EINVAL, "text.h5' is not an HDF5 file"},
      {in("nogroup.h5"), "res", PMR_ENOENT, "nogroup.h5' has no group '/res'"},
      {in("nested.h5"), "run1/nothing", PMR_ENOENT,
       "has no group '/run1/nothing'"},
      {in("nested.h5"), "run1/counts/keys", PMR_EINVAL,
       "'/run1/counts/keys' is not a group"},
      {in("nokeys.h5"), "res", PMR_EINVAL,
       "nokeys.h5' group '/res' is not a pmr key/value result: no dataset "
       "'keys'"},
      {in("keys_i32.h5"), "res", PMR_EINVAL, "'keys' is int32 ["},
      {in("offs_i64.h5"), "res", PMR_EINVAL, "'key_offsets' is int64 [21]"},
      {in("offs_short.h5"), "res", PMR_EINVAL,
       "'key_offsets' has 20 elements for 20 values"},
      {in("vals_3d.h5"), "res", PMR_EINVAL, "'values' is int64 [20, 2, 2]"},
      {in("vals_str.h5"), "res", PMR_EINVAL, "'values' is string [20]"},
      {in("newer.h5"), "res", PMR_EINVAL, "has layout_version 2"},
      {in("offs_end.h5"), "res", PMR_EINVAL, "but 'keys' holds"},
      {in("dense.h5"), "res", PMR_EINVAL, "is a 'dense' result"},
      {in("f64.h5"), "res", PMR_EINVAL,
       "f64.h5' group '/res': the values are float64 [n], but the set takes "
       "int64 [n]"},
      {in("i32.h5"), "res", PMR_EINVAL, "the values are int32 [n]"},
      {in("bytes16.h5"), "res", PMR_EINVAL, "the values are uint8 [n, 16]"},
  };
  pmr_kv *kv;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const bad_case *c = &cases[i];
    /* After a good file, so the bad one is named even when not first. */
    const char *f[] = {in("tricky.h5"), c->file};
    bool res = strcmp(c->group, "res") == 0;
    int rc = pmr_map_result(ctx, res ? f : f + 1, res ? 2 : 1, c->group, NULL,
                            NULL, kv);
    const char *m = pmr_errmsg(ctx);
    if (rc != c->code || !strstr(m, c->msg)) {
      fprintf(stderr,
              "[rank %d] case %zu (%s): %s \"%s\", expected %s \"%s\"\n", rank,
              i, c->file, pmr_err_name(rc), m, pmr_err_name(c->code), c->msg);
      check__failures++;
    }
    CHECK(same_everywhere(m));
    CHECK(!strchr(m, '\n'));
  }
  /* Nothing was read from the good file before the bad one was found. */
  CHECK_EQ_I(global_size(kv), 0);
  pmr_kv_destroy(&kv);

  /* key_offsets out of order are found while reading, by the rank that
   * reads them. */
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  int rc = pmr_map_result(ctx, (const char *[]){in("offs_order.h5")}, 1, "res",
                          NULL, NULL, kv);
  CHECK_EQ_I(rc, PMR_EINVAL);
  CHECK(strstr(pmr_errmsg(ctx),
               "offs_order.h5' group '/res': "
               "key_offsets[12] = 22 is out of order") != NULL);
  CHECK(same_everywhere(pmr_errmsg(ctx)));
  pmr_kv_destroy(&kv);

  /* The wrong size of bytes. */
  CHECK_OK(ctx, pmr_kv_create_user(ctx, 8, PMR_BYTES, keep_first, NULL, &kv));
  CHECK_EQ_I(pmr_map_result(ctx, (const char *[]){in("bytes16.h5")}, 1, "res",
                            NULL, NULL, kv),
             PMR_EINVAL);
  CHECK(strstr(pmr_errmsg(ctx), "but the set takes uint8 [n, 8]") != NULL);
  pmr_kv_destroy(&kv);

  /* Arguments. */
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  const char *f[] = {in("tricky.h5")};
  CHECK_EQ_I(pmr_map_result(ctx, f, 0, "res", NULL, NULL, kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_map_result(ctx, f, 1, NULL, NULL, NULL, kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_map_result(ctx, f, 1, "", NULL, NULL, kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_map_result(ctx, f, 1, "res", NULL, NULL, NULL), PMR_EINVAL);
  CHECK_EQ_I(pmr_map_result(NULL, f, 1, "res", NULL, NULL, kv), PMR_EINVAL);
  pmr_kv_destroy(&kv);
  if (pmr_kv_create_dense(ctx, PMR_COUNT, 4, 1, &kv) == PMR_OK) {
    CHECK_EQ_I(pmr_map_result(ctx, f, 1, "res", NULL, NULL, kv), PMR_EINVAL);
    CHECK(strstr(pmr_errmsg(ctx), "hash set") != NULL);
    pmr_kv_destroy(&kv);
  }

  /* Finding the group. */
  pmr_result_info info;
  CHECK_EQ_I(pmr_result_describe(ctx, in("two.h5"), NULL, &info), PMR_EINVAL);
  CHECK(strstr(pmr_errmsg(ctx), "two.h5' holds 2 key/value groups (a, b)") !=
        NULL);
  CHECK(same_everywhere(pmr_errmsg(ctx)));
  CHECK_EQ_I(pmr_result_describe(ctx, in("dense.h5"), NULL, &info), PMR_EINVAL);
  CHECK(strstr(pmr_errmsg(ctx), "holds no pmr key/value group") != NULL);
  CHECK_EQ_I(pmr_result_describe(ctx, missing, NULL, &info), PMR_ENOENT);
  CHECK_OK(ctx, pmr_result_describe(ctx, in("two.h5"), "b", &info));
  CHECK_EQ_I(info.pairs, 1);

  /* The context still works after all that. */
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_result(ctx, f, 1, "res", NULL, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_tricky(kv, 1);
  CHECK(strcmp(pmr_errmsg(ctx), "") == 0);
  pmr_kv_destroy(&kv);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc != 2) {
    if (rank == 0)
      fprintf(stderr, "usage: test_result DIR (make_results.py's output)\n");
    MPI_Finalize();
    return 2;
  }
  data = argv[1];
  if (rank == 0) {
    snprintf(tmp, sizeof tmp, "%s/pmr-result-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
      MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, MPI_COMM_WORLD);

  pmr_ctx *ctx;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  test_roundtrip(ctx);
  test_merge(ctx);
  test_tricky(ctx, (size_t)256 << 20);
  test_tricky(ctx, (size_t)1 << 20);
  test_empty(ctx);
  test_types(ctx);
  test_callbacks(ctx);
  test_small_memory(ctx);
  test_bad(ctx);
  pmr_ctx_destroy(&ctx);

  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    static const char *const files[] = {"rt.h5",  "a.h5",       "b.h5",
                                        "m.h5",   "tricky2.h5", "empty2.h5",
                                        "b16.h5", "small.h5"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
      unlink(out(files[i]));
    if (rmdir(tmp) != 0) {
      fprintf(stderr, "stray files left in %s\n", tmp);
      check__failures++;
    }
  }
  int st = check_finish("test_result");
  MPI_Finalize();
  return st;
}
