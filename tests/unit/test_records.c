/* pmr_kv_write_records: every pair once as key bytes + value bytes, each
 * rank's part in its visiting order (a group set's: ascending), the parts
 * in rank order and contiguous although written in several rounds (1 MiB
 * budget, 1 MB of records); empty sets; errors leave no file. Run at 1..4
 * ranks. */
#define _GNU_SOURCE
#include <pmr.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define N 50021
#define KL 8
#define VL 12
#define RL (KL + VL)

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static void be64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* Record i: a key of 997 possible values (ties), value = i and filler. */
static void record(uint64_t i, unsigned char *r) {
  be64(r, mix(i) % 997);
  be64(r + KL, i);
  memcpy(r + KL + 8, "abcd", 4);
}

static int emit_group(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  unsigned char r[RL];
  record(i, r);
  return pmr_emit(em, r, KL, r + KL);
}

static int emit_count(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  unsigned char k[KL];
  be64(k, i % 100);
  return pmr_emit_i64(em, k, KL, 1);
}

static int cmp_rec(const void *a, const void *b) { return memcmp(a, b, RL); }

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
  *n = p ? fread(p, 1, (size_t)len, f) : 0;
  fclose(f);
  return p;
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_ctx *ctx = NULL;
  CHECK_OK(ctx, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  int rank = pmr_ctx_rank(ctx), size = pmr_ctx_size(ctx);
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  char dir[256] = "/tmp/pmr-records-XXXXXX";
  if (rank == 0 && !mkdtemp(dir))
    dir[0] = '\0';
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  CHECK(dir[0] != '\0');
  char path[512], bad[512];
  snprintf(path, sizeof path, "%s/out.dat", dir);
  snprintf(bad, sizeof bad, "%s/nodir/out.dat", dir);

  /* A group set: the file is the records, each rank's part ascending. */
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_group(ctx, VL, PMR_BYTES, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, N, emit_group, NULL, kv));
  CHECK_EQ_I(pmr_kv_write_records(kv, path), PMR_ESTATE); /* not reduced */
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  uint64_t mine = pmr_kv_local_pairs(kv);
  uint64_t *counts = malloc(sizeof *counts * (size_t)size);
  MPI_Gather(&mine, 1, MPI_UINT64_T, counts, 1, MPI_UINT64_T, 0,
             MPI_COMM_WORLD);
  CHECK_OK(ctx, pmr_kv_write_records(kv, path));
  CHECK_EQ_I(pmr_kv_write_records(kv, bad), PMR_ENOENT);
  if (rank == 0) {
    size_t n = 0;
    unsigned char *got = slurp(path, &n);
    CHECK(got != NULL);
    CHECK_EQ_I(n, (size_t)N * RL);
    if (got && n == (size_t)N * RL) {
      uint64_t at = 0;
      for (int r = 0; r < size; r++) {
        for (uint64_t j = at + 1; j < at + counts[r]; j++)
          if (memcmp(got + (j - 1) * RL, got + j * RL, RL) > 0) {
            fprintf(stderr, "rank %d's part is not ascending at %llu\n", r,
                    (unsigned long long)j);
            CHECK(0);
            break;
          }
        at += counts[r];
      }
      CHECK_EQ_I(at, N);
      unsigned char *want = malloc((size_t)N * RL);
      for (uint64_t i = 0; i < N; i++)
        record(i, want + i * RL);
      qsort(want, N, RL, cmp_rec);
      qsort(got, N, RL, cmp_rec);
      CHECK(memcmp(got, want, (size_t)N * RL) == 0);
      free(want);
    }
    free(got);
    struct stat st;
    CHECK(stat(bad, &st) != 0);
  }
  pmr_kv_destroy(&kv);

  /* An empty group set writes an empty file (replacing the old one). */
  CHECK_OK(ctx, pmr_kv_create_group(ctx, VL, PMR_BYTES, &kv));
  CHECK_OK(ctx, pmr_kv_write_records(kv, path));
  if (rank == 0) {
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 0);
  }
  pmr_kv_destroy(&kv);

  /* A hash set: each key once, with its count. */
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, N, emit_count, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_write_records(kv, path));
  if (rank == 0) {
    size_t n = 0;
    unsigned char *got = slurp(path, &n);
    CHECK_EQ_I(n, 100 * 16);
    int seen[100] = {0};
    for (size_t j = 0; got && n == 100 * 16 && j < 100; j++) {
      uint64_t k = 0;
      int64_t c;
      for (int b = 0; b < 8; b++)
        k = k << 8 | got[j * 16 + (size_t)b];
      memcpy(&c, got + j * 16 + 8, 8);
      CHECK(k < 100);
      if (k < 100) {
        seen[k]++;
        CHECK_EQ_I(c, N / 100 + (k < N % 100));
      }
    }
    for (int k = 0; k < 100; k++)
      CHECK_EQ_I(seen[k], 1);
    free(got);
  }
  pmr_kv_destroy(&kv);

  /* A dense set has no records: PMR_EINVAL, the old file untouched. */
  CHECK_OK(ctx, pmr_kv_create_dense(ctx, PMR_COUNT, 4, 1, &kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_EQ_I(pmr_kv_write_records(kv, path), PMR_EINVAL);
  pmr_kv_destroy(&kv);
  CHECK_EQ_I(pmr_kv_write_records(NULL, path), PMR_EINVAL);

  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 100 * 16);
    unlink(path);
    CHECK(rmdir(dir) == 0); /* nothing else was left: no temporary file */
  }
  free(counts);
  pmr_ctx_destroy(&ctx);
  int rc = check_finish("test_records");
  MPI_Finalize();
  return rc;
}
