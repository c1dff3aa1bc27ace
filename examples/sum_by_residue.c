/* sum_by_residue: the smallest complete libpmr program.
 *
 * Maps the index space [0, N) over all ranks and threads, emits the pair
 * (key "r<i % 7>", value i) for each index, reduces by int64 sum and checks
 * each of the 7 sums against the closed form. Prints "ok" on rank 0.
 *
 *   mpirun -np 3 ./sum_by_residue        # any rank count; exit 0 if right
 */
#include <stdio.h>
#include <string.h>

#include <pmr.h>

#define N 1000003ull

static int map(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char key[4] = {'r', (char)('0' + i % 7), 0, 0};
  return pmr_emit_i64(em, key, 2, (int64_t)i);
}

static int check(const void *key, size_t klen, const void *value,
                 void *user) {
  int *bad = user;
  int64_t got, want = 0;
  uint64_t r = (uint64_t)(((const char *)key)[1] - '0');
  memcpy(&got, value, 8);
  /* i = r + 7k for k = 0 .. (N - 1 - r) / 7 */
  uint64_t k = (N - 1 - r) / 7;
  want = (int64_t)((k + 1) * r + 7 * k * (k + 1) / 2);
  if (klen != 2 || got != want) {
    fprintf(stderr, "key r%llu: got %lld, want %lld\n", (unsigned long long)r,
            (long long)got, (long long)want);
    (*bad)++;
  }
  return 0;
}

int main(int argc, char **argv) {
  int provided, bad = 0, total_bad = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_ctx *ctx = NULL;
  pmr_kv *kv = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (!rc)
    rc = pmr_kv_create(ctx, PMR_SUM_I64, &kv);
  if (!rc)
    rc = pmr_map_index(ctx, N, map, NULL, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc) {
    pmr_kv_foreach(kv, check, &bad);
    uint64_t n = pmr_kv_local_size(kv), keys = 0;
    MPI_Allreduce(&n, &keys, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&bad, &total_bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (keys != 7)
      total_bad++;
  }
  if (rc && pmr_ctx_rank(ctx) == 0)
    fprintf(stderr, "sum_by_residue: %s\n", pmr_errmsg(ctx));
  else if (!rc && pmr_ctx_rank(ctx) == 0)
    printf("%s (libpmr %s)\n", total_bad ? "WRONG" : "ok",
           pmr_version_string());
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc || total_bad ? 1 : 0;
}
