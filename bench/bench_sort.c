/* The global sort against qsort: N records of 100 bytes (a 10-byte key and
 * a 90-byte value, sortbenchmark.org's layout) generated from their index,
 * sorted by key
 *   - as a group set with pmr_kv_sort(PMR_SORT_KEY) over the ranks of the
 *     run (map, then the sort timed alone, between barriers), checked
 *     globally sorted with every record kept;
 *   - by one process's qsort of the same N records in memory (rank 0, in
 *     the same run: the baseline);
 *   - by the local sorter alone on rank 0 (one thread, all N records), its
 *     radix path against its merge sort.
 * Prints seconds, GB/s (N x 100 bytes / seconds) and ratios, and every
 * rank's share of the records. Usage: mpirun -np P pmr-bench-sort [N]. */
#include "sort/samplesort.h"

#include <pmr.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define KL 10
#define VL 90
#define RL (KL + VL)

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
static void record(uint64_t i, unsigned char *r) {
  uint64_t a = mix(i), b = mix(a);
  memcpy(r, &a, 8);
  memcpy(r + 8, &b, 2);
  memcpy(r + KL, &i, 8);
  memset(r + KL + 8, 'x', VL - 8);
}

static int map_rec(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  unsigned char r[RL];
  record(i, r);
  return pmr_emit_var(em, r, KL, r + KL, VL);
}

/* CPU seconds of this process: on a shared machine a fairer yardstick for
 * one-thread work than wall time. */
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int rec_cmp(const void *a, const void *b) { return memcmp(a, b, RL); }

typedef struct chk {
  unsigned char first[RL], last[RL];
  uint64_t n, bad;
} chk;
static int visit(const pmr_group *g, void *user) {
  chk *c = user;
  for (uint64_t i = 0; i < g->n; i++) {
    unsigned char r[RL];
    memcpy(r, g->key, KL);
    memcpy(r + KL, g->values + g->offsets[i], VL);
    if (c->n == 0)
      memcpy(c->first, r, RL);
    else if (memcmp(c->last, r, RL) > 0)
      c->bad++;
    memcpy(c->last, r, RL);
    c->n++;
  }
  return 0;
}

int main(int argc, char **argv) {
  int prov;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
  uint64_t N = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
  pmr_ctx *ctx = NULL;
  if (pmr_ctx_create(MPI_COMM_WORLD, &ctx))
    MPI_Abort(MPI_COMM_WORLD, 1);
  int rank = pmr_ctx_rank(ctx), P = pmr_ctx_size(ctx);
  double gb = (double)N * RL / 1e9, t0;
  int fail = 0;

  /* pmr: map, then sort. */
  pmr_kv *kv = NULL;
  pmr_kv_create_group(ctx, VL, PMR_BYTES, &kv);
  t0 = MPI_Wtime();
  fail |= pmr_map_index(ctx, N, map_rec, NULL, kv);
  double tmap = MPI_Wtime() - t0;
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = MPI_Wtime();
  fail |= pmr_kv_sort(kv, PMR_SORT_KEY, NULL, NULL);
  MPI_Barrier(MPI_COMM_WORLD);
  double tsort = MPI_Wtime() - t0;
  if (fail && rank == 0)
    fprintf(stderr, "pmr-bench-sort: %s\n", pmr_errmsg(ctx));
  chk c = {0};
  pmr_kv_foreach_group(kv, visit, &c);
  /* Globally sorted: each rank's first record after the last non-empty
   * rank's last; every record kept. */
  unsigned char *firsts = malloc((size_t)P * RL), *lasts = malloc((size_t)P * RL);
  uint64_t *ns = malloc((size_t)P * sizeof *ns), total = 0, bad = 0;
  MPI_Gather(c.first, RL, MPI_BYTE, firsts, RL, MPI_BYTE, 0, MPI_COMM_WORLD);
  MPI_Gather(c.last, RL, MPI_BYTE, lasts, RL, MPI_BYTE, 0, MPI_COMM_WORLD);
  MPI_Gather(&c.n, 1, MPI_UINT64_T, ns, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Reduce(&c.bad, &bad, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  pmr_kv_destroy(&kv);

  if (rank == 0) {
    int prev = -1;
    for (int r = 0; r < P; r++) {
      total += ns[r];
      if (!ns[r])
        continue;
      if (prev >= 0 && memcmp(lasts + (size_t)prev * RL,
                              firsts + (size_t)r * RL, RL) > 0)
        bad++;
      prev = r;
    }
    printf("records %llu x %d bytes (%.2f GB), %d ranks x %d threads\n",
           (unsigned long long)N, RL, gb, P, pmr_ctx_threads(ctx));
    printf("share per rank:");
    for (int r = 0; r < P; r++)
      printf(" %llu (%+.2f%%)", (unsigned long long)ns[r],
             100.0 * ((double)ns[r] * P - (double)N) / (double)N);
    printf("\n");
    printf("%-34s %8.3f s\n", "pmr map (generate, emit)", tmap);
    printf("%-34s %8.3f s %7.3f GB/s  %s\n", "pmr_kv_sort", tsort,
           gb / tsort, total == N && !bad && !fail ? "sorted, all kept"
                                                    : "WRONG");
    fail |= total != N || bad;

    /* The baseline: qsort of the same records in one process. */
    unsigned char *a = malloc(N * RL);
    for (uint64_t i = 0; i < N; i++)
      record(i, a + i * RL);
    t0 = MPI_Wtime();
    double c0 = cpu_now();
    qsort(a, N, RL, rec_cmp);
    double tq = MPI_Wtime() - t0, tqc = cpu_now() - c0;
    printf("%-34s %8.3f s %7.3f GB/s  cpu %.3f s  (pmr %.2fx its speed)\n",
           "qsort, 1 process (baseline)", tq, gb / tq, tqc, tq / tsort);

    /* The local sorter: radix against merge sort, one thread. */
    double ts[2], tc[2];
    for (int k = 0; k < 2; k++) {
      pmr__sorter *s = NULL;
      pmr__sorter_create(ctx, VL, NULL, NULL, SIZE_MAX, &s);
      for (uint64_t i = 0; i < N; i++) {
        unsigned char r[RL];
        record(i, r); /* unsorted, as generated */
        pmr__sorter_add(s, r, KL, r + KL, VL);
      }
      pmr__radix_off = k;
      t0 = MPI_Wtime();
      double c0 = cpu_now();
      pmr__sorter_finish(s);
      tc[k] = cpu_now() - c0;
      ts[k] = MPI_Wtime() - t0;
      pmr__radix_off = 0;
      pmr__sorter_free(&s);
    }
    printf("%-34s %8.3f s %7.3f GB/s  cpu %.3f s\n", "local sorter, radix",
           ts[0], gb / ts[0], tc[0]);
    printf("%-34s %8.3f s %7.3f GB/s  cpu %.3f s  (radix %.2fx faster, "
           "%.2fx in cpu time)\n",
           "local sorter, merge sort", ts[1], gb / ts[1], tc[1],
           ts[1] / ts[0], tc[1] / tc[0]);
    free(a);
  }
  free(firsts);
  free(lasts);
  free(ns);
  pmr_ctx_destroy(&ctx);
  MPI_Finalize();
  return fail ? 1 : 0;
}
