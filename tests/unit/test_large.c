/* Beyond 32 bits: one key of 2 GiB + 12345 bytes (more than INT_MAX) is
 * shuffled in many rounds, reassembled and combined; the partition that
 * holds it is over 2 GiB too. Rank 0 emits it once (combining across ranks
 * is test_shuffle's 3 MiB key). About 8 GiB of memory at peak. */
#include "check.h"

#include <pmr.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIGLEN (((size_t)1 << 31) + 12345)

static unsigned char *big;
static int pending; /* the big key is still to be emitted on this rank */

static unsigned char pattern(size_t i) {
  return (unsigned char)((i * 0x9E3779B1u) >> 11);
}

static int map(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  if (big && __atomic_exchange_n(&pending, 0, __ATOMIC_RELAXED) &&
      pmr_emit_i64(em, big, BIGLEN, 1))
    return 1;
  char k[16];
  int n = snprintf(k, sizeof k, "s%llu", (unsigned long long)(i % 100));
  return pmr_emit_i64(em, k, (size_t)n, 1);
}

typedef struct seen {
  int big_found, bad;
} seen;

/* Bytes of a "key<TAB>value\n" line, counted independently of the writer. */
static int line_bytes(const void *key, size_t klen, const void *val,
                      void *u) {
  (void)key;
  int64_t v;
  char digits[32];
  memcpy(&v, val, 8);
  *(uint64_t *)u += klen + 2 + (uint64_t)snprintf(digits, sizeof digits,
                                                  "%lld", (long long)v);
  return 0;
}

static int visit(const void *key, size_t klen, const void *val, void *u) {
  seen *s = u;
  int64_t v;
  memcpy(&v, val, 8);
  if (klen == BIGLEN) {
    const unsigned char *k = key;
    s->big_found++;
    for (size_t i = 0; i < BIGLEN; i += 4093)
      if (k[i] != pattern(i)) {
        s->bad++;
        break;
      }
    if (k[BIGLEN - 1] != pattern(BIGLEN - 1))
      s->bad++;
    if (v != 1)
      s->bad++;
  }
  return 0;
}

int main(int argc, char **argv) {
  int provided, rank, size;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  pmr_ctx *ctx;
  pmr_kv *kv;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  /* Rank 0 emits the big key once, from whichever thread maps first. */
  int emits = rank == 0;
  pending = emits;
  if (emits) {
    big = malloc(BIGLEN);
    CHECK(big != NULL);
    for (size_t i = 0; big && i < BIGLEN; i++)
      big[i] = pattern(i);
  }
  CHECK_OK(ctx, pmr_map_index(ctx, 1000, map, NULL, kv));
  CHECK_EQ_I(pending, 0);
  free(big);
  big = NULL;
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  seen s = {0, 0};
  pmr_kv_foreach(kv, visit, &s);
  int found = 0;
  MPI_Allreduce(&s.big_found, &found, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(found, 1);
  CHECK_EQ_I(s.bad, 0);
  /* Text output of a record over 2 GiB (MPI counts are int): written in
   * pieces, the file exactly as long as its lines. */
  char path[512] = {0};
  if (rank == 0)
    snprintf(path, sizeof path, "%s/pmr-large-%ld.txt",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
  MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
  uint64_t mine = 0, want = 0;
  pmr_kv_foreach(kv, line_bytes, &mine);
  MPI_Allreduce(&mine, &want, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_OK(ctx, pmr_kv_write_text(kv, path));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ_I(sb.st_size, want);
    CHECK(want > ((uint64_t)2 << 30));
    unlink(path);
  }
  pmr_ctx_print_stats(ctx, stdout);
  pmr_stats st;
  pmr_ctx_stats(ctx, &st);
  CHECK(st.shuffle_rounds > 1);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  int rc = check_finish("test_large");
  MPI_Finalize();
  return rc;
}
