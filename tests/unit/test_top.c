/* pmr_kv_top's distributed selection: a set of K keys whose values tie
 * often, top n for n from 0 to past K, in the default order (value
 * descending, then key bytes) against the closed-form set sorted by qsort
 * with this file's own comparator; and a user order with ties (value only),
 * whose result must hold the right values in order. */
#include "check.h"

#include <pmr.h>
#include <stdint.h>
#include <stdlib.h>

#define K 5000

static int64_t val_of(uint64_t i) { return (int64_t)((i * 37) % 11) - 5; }

static int map_keys(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[16];
  int n = snprintf(k, sizeof k, "k%05llu", (unsigned long long)i);
  return pmr_emit_i64(em, k, (size_t)n, val_of(i));
}

typedef struct ref {
  char key[16];
  int64_t v;
} ref;
static int ref_cmp(const void *a, const void *b) {
  const ref *x = a, *y = b;
  if (x->v != y->v)
    return x->v > y->v ? -1 : 1;
  return strcmp(x->key, y->key);
}

static int val_only(const void *ak, size_t al, const void *av, const void *bk,
                    size_t bl, const void *bv, void *user) {
  (void)ak, (void)al, (void)bk, (void)bl, (void)user;
  int64_t a, b;
  memcpy(&a, av, 8);
  memcpy(&b, bv, 8);
  return a < b ? -1 : a > b; /* ascending, ties left as they come */
}

int main(int argc, char **argv) {
  int prov;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
  pmr_ctx *ctx = NULL;
  pmr_kv *kv = NULL;
  if (pmr_ctx_create(MPI_COMM_WORLD, &ctx))
    MPI_Abort(MPI_COMM_WORLD, 1);
  int rank = pmr_ctx_rank(ctx);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, K, map_keys, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  ref *r = malloc(K * sizeof *r);
  for (uint64_t i = 0; i < K; i++) {
    snprintf(r[i].key, sizeof r[i].key, "k%05llu", (unsigned long long)i);
    r[i].v = val_of(i);
  }
  qsort(r, K, sizeof *r, ref_cmp);
  static const uint64_t ns[] = {0, 1, 7, 100, 2500, 4999, 5000, 6000};
  for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
    uint64_t n = ns[t], want = n < K ? n : K;
    pmr_kv_list *top = NULL;
    CHECK_OK(ctx, pmr_kv_top(kv, n, NULL, NULL, 0, &top));
    if (rank == 0 && top) {
      CHECK_EQ_I(top->n, want);
      uint64_t bad = 0;
      for (uint64_t i = 0; i < top->n && i < want; i++) {
        size_t kl = (size_t)(top->key_offsets[i + 1] - top->key_offsets[i]);
        int64_t v;
        memcpy(&v, top->values + 8 * i, 8);
        if (kl != strlen(r[i].key) ||
            memcmp(top->keys + top->key_offsets[i], r[i].key, kl) ||
            v != r[i].v)
          bad++;
      }
      if (bad)
        fprintf(stderr, "top %llu: %llu pairs differ\n",
                (unsigned long long)n, (unsigned long long)bad);
      CHECK(bad == 0);
    } else if (top) {
      CHECK_EQ_I(top->n, 0);
    }
    pmr_kv_list_free(&top);
    /* A user order with ties: the n smallest values, ascending. */
    CHECK_OK(ctx, pmr_kv_top(kv, n, val_only, NULL, 1 % pmr_ctx_size(ctx),
                             &top));
    if (rank == 1 % pmr_ctx_size(ctx) && top) {
      CHECK_EQ_I(top->n, want);
      for (uint64_t i = 0; i < top->n && i < want; i++) {
        int64_t v;
        memcpy(&v, top->values + 8 * i, 8);
        CHECK_EQ_I(v, r[K - 1 - i].v);
      }
    }
    pmr_kv_list_free(&top);
  }
  free(r);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  int rc = check_finish("test_top");
  MPI_Finalize();
  return rc;
}
