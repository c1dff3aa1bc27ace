/* Beyond 32 bits in a group set: rank 0 emits 2,200 ragged values of 1 MiB
 * (2.15 GiB, more than INT_MAX) under one key that rank 1 owns, so one rank
 * pair's stream, the receiving sorter and the gathered group all pass
 * 2 GiB. Every value comes back once, in byte order (each begins with its
 * index, big-endian), with its contents intact. Run at 2 ranks; about
 * 9 GiB of memory at peak. */
#include "check.h"
#include "kv/hash.h"

#include <pmr.h>
#include <stdint.h>

#define NVAL 2200
#define VLEN ((size_t)1 << 20)

static int rank;
static char key[32];
static size_t klen;

static unsigned char pattern(uint64_t v, size_t i) {
  return (unsigned char)(((v + 1) * 0x9E3779B1u + i * 31u) >> 7);
}

static void fill(unsigned char *b, uint64_t v) {
  for (size_t i = 0; i < VLEN; i++)
    b[i] = pattern(v, i);
  b[0] = (unsigned char)(v >> 24);
  b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8);
  b[3] = (unsigned char)v;
}

static int map(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  if (i >= NVAL)
    return 0;
  /* Values in a scrambled order, so the sort has work to do. */
  uint64_t v = (i * 7919u) % NVAL;
  unsigned char *b = malloc(VLEN);
  if (!b)
    return 1;
  fill(b, v);
  int rc = pmr_emit_var(em, key, klen, b, VLEN);
  free(b);
  return rc;
}

typedef struct seen {
  int groups, bad;
  uint64_t n;
} seen;

static int visit(const pmr_group *g, void *user) {
  seen *s = user;
  s->groups++;
  s->n = g->n;
  if (g->klen != klen || memcmp(g->key, key, klen) || g->offsets[g->n] !=
                                                          (uint64_t)NVAL * VLEN)
    s->bad++;
  for (uint64_t v = 0; v < g->n; v++) {
    const unsigned char *b = g->values + g->offsets[v];
    if (g->offsets[v + 1] - g->offsets[v] != VLEN) {
      s->bad++;
      continue;
    }
    uint64_t idx = ((uint64_t)b[0] << 24) | ((uint64_t)b[1] << 16) |
                   ((uint64_t)b[2] << 8) | b[3];
    if (idx != v)
      s->bad++;
    for (size_t i = 4; i < VLEN; i += 4093)
      if (b[i] != pattern(v, i))
        s->bad++;
  }
  return 0;
}

int main(int argc, char **argv) {
  int provided, size;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  /* A key that the last rank owns (the hash sets' partition). */
  for (int i = 0;; i++) {
    klen = (size_t)snprintf(key, sizeof key, "big%d", i);
    if (pmr__part_rank(pmr__hash(key, klen), size) == size - 1)
      break;
  }
  pmr_ctx *ctx = NULL;
  CHECK_EQ_I(pmr_ctx_create(MPI_COMM_WORLD, &ctx), 0);
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_group(ctx, 0, PMR_BYTES, &kv));
  double t0 = MPI_Wtime();
  /* At 2 ranks rank 0 holds indices [0, NVAL) of the 2 * NVAL. */
  CHECK_OK(ctx, pmr_map_index(ctx, (uint64_t)NVAL * (uint64_t)size, map, NULL,
                              kv));
  uint64_t mine = pmr_kv_local_pairs(kv), all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(all, NVAL);
  double t1 = MPI_Wtime();
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  double t2 = MPI_Wtime();
  seen s = {0};
  CHECK_OK(ctx, pmr_kv_foreach_group(kv, visit, &s));
  double t3 = MPI_Wtime();
  CHECK_EQ_I(s.bad, 0);
  CHECK_EQ_I(s.groups, rank == size - 1 ? 1 : 0);
  CHECK_EQ_I(s.n, rank == size - 1 ? NVAL : 0);
  CHECK_EQ_I(pmr_kv_local_pairs(kv), rank == size - 1 ? NVAL : 0);
  printf("rank %d: map %.1f s, reduce %.1f s, visit %.1f s\n", rank,
         t1 - t0, t2 - t1, t3 - t2);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  int rc = check_finish("test_group_large");
  MPI_Finalize();
  return rc;
}
