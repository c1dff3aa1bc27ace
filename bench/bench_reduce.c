/* pmr-bench-reduce: what a reduce costs as the thread count grows.
 *
 *   mpirun -np P pmr-bench-reduce [-n KEYS] [-t T1,T2,...] [-r REPEAT]
 *                                 [-m MAP_THREADS]
 *
 * Maps KEYS distinct keys (default 1,000,000; "key<i>", int64 sums) into a
 * set with MAP_THREADS threads per rank (default 2), then reduces it with T
 * threads per rank, for each T of the list (default 1,16,256,4096), REPEAT
 * times (default 3), the thread counts interleaved so that drift of the
 * machine hits all alike. Prints, per T, the median seconds of
 * pmr_kv_reduce (wall time, slowest rank), of its shuffle and combine
 * phases, and the ratio to the first T.
 *
 * Before the engine was split into stages every receiving thread decoded
 * and hashed every received pair and kept its own share: T = 4096 took
 * about 110 s for a million keys. Now senders pack runs per (rank, bucket)
 * and each thread absorbs only its buckets, so the reduce should cost about
 * the same at any T; past the bucket count (256) threads have nothing to do
 * but start. A benchmark, not a test: it fails (exit 1) only when a result
 * is wrong.
 */
#define _POSIX_C_SOURCE 200809L
#include <pmr.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_T 32

static int map_key(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  int n = snprintf(k, sizeof k, "key%llu", (unsigned long long)i);
  return pmr_emit_i64(em, k, (size_t)n, 1);
}

static int dbl_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, dbl_cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int usage(int rank) {
  if (rank == 0)
    fprintf(stderr, "usage: pmr-bench-reduce [-n KEYS] [-t T1,T2,...] "
                    "[-r REPEAT] [-m MAP_THREADS]\n");
  return 2;
}

int main(int argc, char **argv) {
  int provided, rank, size;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  uint64_t keys = 1000000;
  int ts[MAX_T] = {1, 16, 256, 4096}, nts = 4, repeat = 3, map_threads = 2;
  int c;
  while ((c = getopt(argc, argv, "n:t:r:m:")) != -1) {
    char *end;
    if (c == 'n') {
      keys = strtoull(optarg, &end, 10);
    } else if (c == 't') {
      nts = 0;
      for (char *p = strtok(optarg, ","); p && nts < MAX_T;
           p = strtok(NULL, ","))
        ts[nts++] = atoi(p);
    } else if (c == 'r') {
      repeat = atoi(optarg);
    } else if (c == 'm') {
      map_threads = atoi(optarg);
    } else {
      MPI_Finalize();
      return usage(rank);
    }
  }
  if (keys < 1 || nts < 1 || repeat < 1 || map_threads < 1) {
    MPI_Finalize();
    return usage(rank);
  }

  pmr_ctx *ctx;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx), bad = 0;
  double *sec = calloc((size_t)nts * (size_t)repeat * 3, sizeof *sec);
  for (int r = 0; !rc && r < repeat; r++) {
    for (int i = 0; !rc && i < nts; i++) {
      pmr_kv *kv = NULL;
      pmr_stats s0, s1;
      rc = pmr_ctx_set_threads(ctx, map_threads);
      if (!rc)
        rc = pmr_kv_create(ctx, PMR_SUM_I64, &kv);
      if (!rc)
        rc = pmr_map_index(ctx, keys, map_key, NULL, kv);
      if (!rc)
        rc = pmr_ctx_set_threads(ctx, ts[i]);
      MPI_Barrier(MPI_COMM_WORLD);
      pmr_ctx_stats(ctx, &s0);
      double t0 = MPI_Wtime();
      if (!rc)
        rc = pmr_kv_reduce(kv);
      double t[3] = {MPI_Wtime() - t0, 0, 0}, tmax[3];
      pmr_ctx_stats(ctx, &s1);
      t[1] = s1.seconds[PMR_PHASE_SHUFFLE] - s0.seconds[PMR_PHASE_SHUFFLE];
      t[2] = s1.seconds[PMR_PHASE_REDUCE] - s0.seconds[PMR_PHASE_REDUCE];
      MPI_Allreduce(t, tmax, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      for (int k = 0; k < 3; k++)
        sec[((size_t)i * (size_t)repeat + (size_t)r) * 3 + (size_t)k] =
            tmax[k];
      /* Every key once, with its one emit. */
      uint64_t n = rc ? 0 : pmr_kv_local_size(kv), total = 0;
      MPI_Allreduce(&n, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
      if (!rc && total != keys) {
        if (rank == 0)
          fprintf(stderr, "%d threads: %llu keys after reduce, want %llu\n",
                  ts[i], (unsigned long long)total,
                  (unsigned long long)keys);
        bad = 1;
      }
      pmr_kv_destroy(&kv);
    }
  }
  if (rc && rank == 0)
    fprintf(stderr, "pmr-bench-reduce: %s: %s\n", pmr_err_name(rc),
            ctx ? pmr_errmsg(ctx) : "");
  if (!rc && rank == 0) {
    printf("reduce of %llu distinct keys, %d rank(s), map with %d thread(s), "
           "median of %d\n",
           (unsigned long long)keys, size, map_threads, repeat);
    printf("%8s %12s %12s %12s %8s\n", "threads", "reduce [s]", "shuffle [s]",
           "combine [s]", "ratio");
    double first = 0;
    double *v = malloc((size_t)repeat * sizeof *v);
    for (int i = 0; i < nts; i++) {
      double m[3];
      for (int k = 0; k < 3; k++) {
        for (int r = 0; r < repeat; r++)
          v[r] = sec[((size_t)i * (size_t)repeat + (size_t)r) * 3 + (size_t)k];
        m[k] = median(v, repeat);
      }
      if (i == 0)
        first = m[0];
      printf("%8d %12.3f %12.3f %12.3f %8.2f\n", ts[i], m[0], m[1], m[2],
             first > 0 ? m[0] / first : 0.0);
    }
    free(v);
  }
  free(sec);
  pmr_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc || bad ? 1 : 0;
}
