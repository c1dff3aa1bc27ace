/* The shuffle and reduce: every key ends on one rank, once, with the
 * combined value of every rank's emits; many rounds (tiny memory budget),
 * a key larger than a round, every built-in combiner, a user combiner, and
 * top-N. Expected values are closed forms, not the library's output. */
#include "check.h"

#include <pmr.h>
#include <stdint.h>

#define K 1000      /* distinct small keys */
#define N 200000ull /* indices mapped */
#define BIG (3u << 20) /* a 3 MiB key: larger than a round (1 MiB budget) */

static unsigned char *big;

static size_t key_of(uint64_t i, char *buf) {
  return (size_t)snprintf(buf, 32, "key-%llu", (unsigned long long)(i % K));
}

static int map_sum(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  size_t n = key_of(i, k);
  if (pmr_emit_i64(em, k, n, (int64_t)i))
    return 1;
  /* The empty key and the big key, a few times each. */
  if (i % 50000 == 7 && pmr_emit_i64(em, "", 0, 1))
    return 1;
  if (i % 40000 == 3 && pmr_emit_i64(em, big, BIG, 2))
    return 1;
  return 0;
}

static int map_f64(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  size_t n = key_of(i, k);
  return pmr_emit_f64(em, k, n, (double)(i % 1000) * 0.5);
}

static int map_i64(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  size_t n = key_of(i, k);
  return pmr_emit_i64(em, k, n, (int64_t)i);
}

/* User combiner: a 16-byte (min, max) pair of uint64. */
static void minmax(void *acc, const void *in, void *user) {
  (void)user;
  uint64_t a[2], b[2];
  memcpy(a, acc, 16);
  memcpy(b, in, 16);
  if (b[0] < a[0])
    a[0] = b[0];
  if (b[1] > a[1])
    a[1] = b[1];
  memcpy(acc, a, 16);
}
static int map_user(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  size_t n = key_of(i, k);
  uint64_t v[2] = {i, i};
  return pmr_emit(em, k, n, v);
}

typedef struct ctx_check {
  pmr_op op;
  int bad;
  int64_t keys;
} ctx_check;

/* Expected for key r = i % K over i in [0, N): i = r + K*j, j < cnt(r). */
static uint64_t cnt(uint64_t r) { return (N - 1 - r) / K + 1; }

static int visit(const void *key, size_t klen, const void *val, void *u) {
  ctx_check *c = u;
  c->keys++;
  if (klen == 0 || klen == BIG) {
    int64_t v;
    memcpy(&v, val, 8);
    int64_t want = klen == 0 ? 4 : 2 * 5; /* i%50000==7: 4 hits; i%40000==3: 5 */
    if (klen == BIG && memcmp(key, big, BIG) != 0)
      c->bad++;
    if (v != want) {
      fprintf(stderr, "special key (%zu bytes): %lld, want %lld\n", klen,
              (long long)v, (long long)want);
      c->bad++;
    }
    return 0;
  }
  char s[32];
  memcpy(s, key, klen < 31 ? klen : 31);
  s[klen < 31 ? klen : 31] = 0;
  uint64_t r = strtoull(s + 4, NULL, 10), m = cnt(r);
  uint64_t first = r, last = r + K * (m - 1);
  int ok = 1;
  if (c->op == PMR_SUM_I64) {
    int64_t v;
    memcpy(&v, val, 8);
    ok = (uint64_t)v == m * r + (uint64_t)K * (m - 1) * m / 2;
  } else if (c->op == PMR_MIN_I64 || c->op == PMR_MAX_I64) {
    int64_t v;
    memcpy(&v, val, 8);
    ok = (uint64_t)v == (c->op == PMR_MIN_I64 ? first : last);
  } else if (c->op == PMR_COUNT) {
    int64_t v;
    memcpy(&v, val, 8);
    ok = (uint64_t)v == m;
  } else if (c->op == PMR_SUM_F64) {
    double v;
    memcpy(&v, val, 8);
    /* i % 1000 == r % 1000 == r since K == 1000: m copies of r * 0.5 */
    ok = v == (double)m * (double)r * 0.5;
  } else if (c->op == PMR_MAX_F64 || c->op == PMR_MIN_F64) {
    double v;
    memcpy(&v, val, 8);
    ok = v == (double)r * 0.5;
  } else { /* user min/max */
    uint64_t v[2];
    memcpy(v, val, 16);
    ok = v[0] == first && v[1] == last;
  }
  if (!ok && c->bad++ < 5)
    fprintf(stderr, "op %d: wrong value for key %s\n", (int)c->op, s);
  return 0;
}

static void run(pmr_op op, int user, size_t memory) {
  pmr_ctx *ctx;
  pmr_kv *kv;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, memory));
  if (user)
    CHECK_OK(ctx, pmr_kv_create_user(ctx, 16, PMR_BYTES, minmax, NULL, &kv));
  else
    CHECK_OK(ctx, pmr_kv_create(ctx, op, &kv));
  pmr_index_fn fn = user ? map_user
                    : op == PMR_SUM_I64
                        ? map_sum
                        : (op == PMR_SUM_F64 || op == PMR_MIN_F64 ||
                           op == PMR_MAX_F64)
                              ? map_f64
                              : map_i64;
  CHECK_OK(ctx, pmr_map_index(ctx, N, fn, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  ctx_check c = {user ? (pmr_op)-1 : op, 0, 0};
  pmr_kv_foreach(kv, visit, &c);
  int64_t total = 0;
  MPI_Allreduce(&c.keys, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(c.bad, 0);
  CHECK_EQ_I(total, K + (op == PMR_SUM_I64 && !user ? 2 : 0));
  pmr_stats st;
  pmr_ctx_stats(ctx, &st);
  if (memory == ((size_t)1 << 20) && op == PMR_SUM_I64 && !user)
    CHECK(st.shuffle_rounds >= 4); /* the 3 MiB key alone needs 4+ rounds */

  if (op == PMR_SUM_I64 && !user) {
    /* Top 5 by value: the special keys are small; sums grow with r. */
    pmr_kv_list *top = NULL;
    CHECK_OK(ctx, pmr_kv_top(kv, 5, NULL, NULL, 0, &top));
    int rank = pmr_ctx_rank(ctx);
    CHECK(top != NULL);
    if (top && rank == 0) {
      CHECK_EQ_I(top->n, 5);
      for (uint64_t i = 0; i < top->n && i < 5; i++) {
        char want[32];
        size_t n = key_of(K - 1 - i, want);
        CHECK_EQ_I(top->key_offsets[i + 1] - top->key_offsets[i], n);
        CHECK(memcmp(top->keys + top->key_offsets[i], want, n) == 0);
      }
    } else if (top) {
      CHECK_EQ_I(top->n, 0);
    }
    pmr_kv_list_free(&top);
    CHECK(top == NULL);
  }
  pmr_kv_destroy(&kv);
  CHECK(kv == NULL);
  pmr_ctx_destroy(&ctx);
  CHECK(ctx == NULL);
}

/* Ties in top-N are broken by key bytes, and n larger than the set works. */
static int map_ties(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  static const char *keys[] = {"b", "a", "ab", "c", "\xff", "A"};
  const char *k = keys[i % 6];
  return pmr_emit_i64(em, k, strlen(k), i % 6 == 3 ? 2 : 1);
}
static void ties(void) {
  pmr_ctx *ctx;
  pmr_kv *kv;
  pmr_kv_list *top = NULL;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, 6, map_ties, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_top(kv, 100, NULL, NULL, 0, &top));
  if (pmr_ctx_rank(ctx) == 0 && top) {
    static const char *want[] = {"c", "A", "a", "ab", "b", "\xff"};
    CHECK_EQ_I(top->n, 6);
    for (uint64_t i = 0; i < top->n && i < 6; i++) {
      size_t n = (size_t)(top->key_offsets[i + 1] - top->key_offsets[i]);
      CHECK(n == strlen(want[i]) &&
            memcmp(top->keys + top->key_offsets[i], want[i], n) == 0);
    }
  }
  pmr_kv_list_free(&top);
  /* Gather: every pair at the root, in key order. */
  CHECK_OK(ctx, pmr_kv_gather(kv, 0, &top));
  if (pmr_ctx_rank(ctx) == 0 && top) {
    static const char *want[] = {"A", "a", "ab", "b", "c", "\xff"};
    static const int64_t cnt[] = {1, 1, 1, 1, 2, 1};
    CHECK_EQ_I(top->n, 6);
    for (uint64_t i = 0; i < top->n && i < 6; i++) {
      size_t n = (size_t)(top->key_offsets[i + 1] - top->key_offsets[i]);
      int64_t v;
      memcpy(&v, top->values + 8 * i, 8);
      CHECK(n == strlen(want[i]) &&
            memcmp(top->keys + top->key_offsets[i], want[i], n) == 0);
      CHECK_EQ_I(v, cnt[i]);
    }
  } else if (top) {
    CHECK_EQ_I(top->n, 0);
  }
  pmr_kv_list_free(&top);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  big = malloc(BIG);
  for (size_t i = 0; i < BIG; i++)
    big[i] = (unsigned char)(i * 2654435761u >> 13);
  run(PMR_SUM_I64, 0, (size_t)1 << 20);  /* many rounds */
  run(PMR_SUM_I64, 0, (size_t)256 << 20); /* one round */
  run(PMR_MIN_I64, 0, (size_t)1 << 20);
  run(PMR_MAX_I64, 0, (size_t)1 << 20);
  run(PMR_COUNT, 0, (size_t)1 << 20);
  run(PMR_SUM_F64, 0, (size_t)1 << 20);
  run(PMR_MIN_F64, 0, (size_t)1 << 20);
  run(PMR_MAX_F64, 0, (size_t)1 << 20);
  run(PMR_SUM_I64, 1, (size_t)1 << 20); /* user combiner, 16-byte values */
  ties();
  free(big);
  int rc = check_finish("test_shuffle");
  MPI_Finalize();
  return rc;
}
