/* Hash sets past a 1 MiB memory budget: the map, the receiving tables and
 * the reduced set all spill, and everything that reads a set reads the
 * spilled one: foreach, get/find, pmr_map_kv, top, gather. D distinct keys,
 * each emitted twice (from indices j and j + D), so the tables hold well
 * over ten times the budget; expected values are closed forms. Also: no
 * file left in the tmpdir, a spilled reduced set refuses a second map, and
 * a tmpdir that does not exist fails on every rank with the same code. */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <pmr.h>
#include <stdint.h>
#include <unistd.h>

#define D 300000ull /* distinct keys */

static size_t key_of(uint64_t j, char *buf) {
  return (size_t)snprintf(buf, 32, "key-%llu", (unsigned long long)j);
}
static uint64_t parse(const void *key, size_t klen) {
  char b[32];
  memcpy(b, key, klen < 31 ? klen : 31);
  b[klen < 31 ? klen : 31] = 0;
  return strtoull(b + 4, NULL, 10);
}

static int map_sum(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  return pmr_emit_i64(em, k, key_of(i % D, k), (int64_t)i);
}

/* A user combiner with 24-byte values (stored outside the table slots):
 * (min, max, count). */
static void mmc(void *acc, const void *in, void *user) {
  (void)user;
  uint64_t a[3], b[3];
  memcpy(a, acc, 24);
  memcpy(b, in, 24);
  a[0] = b[0] < a[0] ? b[0] : a[0];
  a[1] = b[1] > a[1] ? b[1] : a[1];
  a[2] += b[2];
  memcpy(acc, a, 24);
}
static int map_mmc(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  uint64_t v[3] = {i, i, 1};
  return pmr_emit(em, k, key_of(i % D, k), v);
}

typedef struct {
  uint64_t n, bad;
  int user;
} visit_t;
static int visit(const void *key, size_t klen, const void *value, void *u) {
  visit_t *s = u;
  uint64_t j = parse(key, klen);
  s->n++;
  if (s->user) {
    uint64_t v[3];
    memcpy(v, value, 24);
    s->bad += v[0] != j || v[1] != j + D || v[2] != 2;
  } else {
    int64_t v;
    memcpy(&v, value, 8);
    s->bad += (uint64_t)v != 2 * j + D;
  }
  return 0;
}

static int chain(const void *key, size_t klen, const void *value,
                 pmr_emitter *em, void *user) {
  (void)key, (void)klen, (void)user;
  int64_t v;
  memcpy(&v, value, 8);
  if (pmr_emit_i64(em, "pairs", 5, 1))
    return 1;
  return pmr_emit_i64(em, "sum", 3, v);
}

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  if (!d)
    return -1;
  while ((e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  int provided;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char dir[64] = "/tmp/pmr-test-spillkv-XXXXXX";
  if (rank == 0 && !mkdtemp(dir))
    dir[0] = 0;
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  pmr_ctx *ctx = NULL;
  CHECK_OK(ctx, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  CHECK_OK(ctx, pmr_ctx_set_tmpdir(ctx, dir));

  /* Built-in sum. */
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, 2 * D, map_sum, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  pmr_stats st;
  pmr_ctx_stats(ctx, &st);
  uint64_t spilled = st.spilled_bytes, all_spilled = 0;
  MPI_Allreduce(&spilled, &all_spilled, 1, MPI_UINT64_T, MPI_SUM,
                MPI_COMM_WORLD);
  CHECK(all_spilled > 0);
  visit_t s = {0, 0, 0};
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit, &s));
  CHECK_EQ_I(s.bad, 0);
  CHECK_EQ_I(s.n, pmr_kv_local_size(kv));
  uint64_t total = 0;
  MPI_Allreduce(&s.n, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(total, D);

  /* Lookups: each key found on exactly one rank, with its value; a key
   * that is not there on none. */
  uint64_t found = 0, wrong = 0;
  for (uint64_t j = 0; j < D; j += 997) {
    char k[32];
    const void *v = NULL;
    int rc = pmr_kv_get(kv, k, key_of(j, k), &v);
    if (rc == PMR_OK) {
      int64_t x;
      memcpy(&x, v, 8);
      found++;
      wrong += (uint64_t)x != 2 * j + D;
    } else if (rc != PMR_ENOENT) {
      wrong++;
    }
  }
  CHECK(pmr_kv_find(kv, "key-x", 5) == NULL);
  uint64_t fsum = 0;
  MPI_Allreduce(&found, &fsum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(fsum, (D + 996) / 997);
  CHECK_EQ_I(wrong, 0);

  /* Chained: every pair of the spilled set mapped into another set. */
  pmr_kv *out = NULL;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &out));
  CHECK_OK(ctx, pmr_map_kv(kv, chain, NULL, out));
  CHECK_OK(ctx, pmr_kv_reduce(out));
  pmr_kv_list *g = NULL;
  CHECK_OK(ctx, pmr_kv_gather(out, 0, &g));
  if (rank == 0 && g) {
    CHECK_EQ_I(g->n, 2);
    int64_t v[2];
    memcpy(v, g->values, 16);
    /* "pairs" < "sum" */
    CHECK_EQ_I(v[0], (int64_t)D);
    CHECK_EQ_I(v[1], (int64_t)(D * (D - 1) + D * D));
  }
  pmr_kv_list_free(&g);
  pmr_kv_destroy(&out);

  /* Top 3 by value: the largest keys. */
  pmr_kv_list *top = NULL;
  CHECK_OK(ctx, pmr_kv_top(kv, 3, NULL, NULL, 0, &top));
  if (rank == 0 && top) {
    CHECK_EQ_I(top->n, 3);
    for (uint64_t i = 0; i < top->n && i < 3; i++) {
      uint64_t j = parse(top->keys + top->key_offsets[i],
                         top->key_offsets[i + 1] - top->key_offsets[i]);
      CHECK_EQ_I(j, D - 1 - i);
    }
  }
  pmr_kv_list_free(&top);

  /* A spilled reduced set takes no second map. */
  int rc = pmr_map_index(ctx, 10, map_sum, NULL, kv);
  int all_spill = spilled > 0, any_spill = 0;
  MPI_Allreduce(&all_spill, &any_spill, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECK(rc == PMR_ESTATE || rc == PMR_OK);
  pmr_kv_destroy(&kv);

  /* A user combiner with values larger than a slot. */
  CHECK_OK(ctx, pmr_kv_create_user(ctx, 24, PMR_BYTES, mmc, NULL, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, 2 * D, map_mmc, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  visit_t u = {0, 0, 1};
  CHECK_OK(ctx, pmr_kv_foreach(kv, visit, &u));
  CHECK_EQ_I(u.bad, 0);
  total = 0;
  MPI_Allreduce(&u.n, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(total, D);
  pmr_kv_destroy(&kv);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    CHECK_EQ_I(entries(dir), 0);

  /* A tmpdir that does not exist: the same code on every rank. */
  char missing[96];
  snprintf(missing, sizeof missing, "%s/none", dir);
  CHECK_OK(ctx, pmr_ctx_set_tmpdir(ctx, missing));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  rc = pmr_map_index(ctx, 2 * D, map_sum, NULL, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  int lo = rc, hi = rc;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECK_EQ_I(rc, PMR_ENOENT);
  CHECK_EQ_I(lo, hi);
  CHECK(strstr(pmr_errmsg(ctx), "spill file in") != NULL);
  pmr_kv_destroy(&kv);

  pmr_ctx_destroy(&ctx);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    rmdir(dir);
  int ret = check_finish("test_spill_kv");
  MPI_Finalize();
  return ret;
}
