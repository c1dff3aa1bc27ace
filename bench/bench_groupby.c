/* pmr-bench-groupby: a group-by without combining against raw
 * MPI_Alltoallv of the same bytes, in the same run.
 *
 *   mpirun -np P pmr-bench-groupby [-b BYTES] [-v VALUE] [-r REPEAT]
 *
 * Each rank emits pairs of an 8-byte random key and a VALUE-byte ragged
 * value (default 100) into a group set until about BYTES (default 64 MiB)
 * of wire-format pairs, then pmr_kv_reduce moves every pair to the rank that
 * owns its key and sorts each rank's pairs into groups. The yardstick sends
 * the same bytes from every rank, an equal share to every rank, with one
 * MPI_Alltoallv of prepared buffers (what the shuffle cannot beat). The
 * configurations are interleaved REPEAT times (default 3); printed are the
 * medians (slowest rank) of the Alltoallv, of the reduce's shuffle (pack and
 * exchange), of the whole reduce (with the local sort), and the ratios
 * alltoallv / pmr: 1.0 is the speed of raw MPI; then the CPU seconds of
 * the Alltoallv and of the reduce, which a busy machine moves less than
 * wall time. A benchmark, not a test: it
 * fails (exit 1) only when pairs are lost.
 */
#define _POSIX_C_SOURCE 200809L
#include <pmr.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct job {
  size_t vsize;
} job;

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static int map_pair(uint64_t i, pmr_emitter *em, void *user) {
  const job *j = user;
  unsigned char v[4096];
  uint64_t k = mix(i);
  memset(v, (int)(k & 0xff), j->vsize);
  return pmr_emit_var(em, &k, 8, v, j->vsize);
}

/* CPU seconds of this process: on a machine shared with other jobs they
 * move less than wall time (MPI's polling while waiting counts too). */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int dbl_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, dbl_cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  int provided, rank, size;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  uint64_t bytes = (uint64_t)64 << 20;
  size_t vsize = 100;
  int repeat = 3, c;
  while ((c = getopt(argc, argv, "b:v:r:")) != -1) {
    if (c == 'b')
      bytes = strtoull(optarg, NULL, 10);
    else if (c == 'v')
      vsize = (size_t)strtoull(optarg, NULL, 10);
    else if (c == 'r')
      repeat = atoi(optarg);
    else
      repeat = 0;
  }
  if (repeat < 1 || vsize < 1 || vsize > 4096 || bytes < 1024 ||
      bytes / (uint64_t)size > INT_MAX) {
    if (rank == 0)
      fprintf(stderr, "usage: pmr-bench-groupby [-b BYTES] [-v VALUE 1..4096]"
                      " [-r REPEAT]\n");
    MPI_Finalize();
    return 2;
  }
  /* Wire bytes per pair: klen varint, 8-byte key, vlen varint, value. */
  uint64_t per = 1 + 8 + (vsize < 128 ? 1 : 2) + vsize;
  uint64_t pairs = bytes / per, total = pairs * (uint64_t)size;
  uint64_t moved = pairs * per;

  /* The yardstick's buffers: `moved` bytes, an equal share to each rank. */
  int *cnt = calloc((size_t)size, sizeof *cnt);
  int *dsp = calloc((size_t)size, sizeof *dsp);
  for (int d = 0, o = 0; d < size; d++) {
    cnt[d] = (int)(moved / (uint64_t)size + (d < (int)(moved % (uint64_t)size)));
    dsp[d] = o;
    o += cnt[d];
  }
  int *rcnt = calloc((size_t)size, sizeof *rcnt);
  int *rdsp = calloc((size_t)size, sizeof *rdsp);
  MPI_Alltoall(cnt, 1, MPI_INT, rcnt, 1, MPI_INT, MPI_COMM_WORLD);
  size_t rtotal = 0;
  for (int s = 0; s < size; s++) {
    rdsp[s] = (int)rtotal;
    rtotal += (size_t)rcnt[s];
  }
  unsigned char *sbuf = malloc((size_t)moved + 1), *rbuf = malloc(rtotal + 1);
  memset(sbuf, 7, (size_t)moved);

  pmr_ctx *ctx = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx), bad = 0;
  /* One exchange round: a quarter of the budget covers the data. */
  if (!rc)
    rc = pmr_ctx_set_memory(ctx, (size_t)(4 * moved + ((size_t)64 << 20)));
  int nt = ctx ? pmr_ctx_threads(ctx) : 1;
  double *sec = calloc((size_t)repeat * 6, sizeof *sec);
  job j = {vsize};
  for (int r = 0; !rc && r < repeat; r++) {
    double t[6], tmax[6];
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime(), c0 = cpu_now();
    MPI_Alltoallv(sbuf, cnt, dsp, MPI_BYTE, rbuf, rcnt, rdsp, MPI_BYTE,
                  MPI_COMM_WORLD);
    t[0] = MPI_Wtime() - t0;
    t[4] = cpu_now() - c0;

    pmr_kv *kv = NULL;
    rc = pmr_kv_create_group(ctx, 0, PMR_BYTES, &kv);
    double tm = MPI_Wtime();
    if (!rc)
      rc = pmr_map_index(ctx, total, map_pair, &j, kv);
    tm = MPI_Wtime() - tm;
    pmr_stats s0, s1;
    MPI_Barrier(MPI_COMM_WORLD);
    pmr_ctx_stats(ctx, &s0);
    t0 = MPI_Wtime();
    c0 = cpu_now();
    if (!rc)
      rc = pmr_kv_reduce(kv);
    t[2] = MPI_Wtime() - t0;
    t[5] = cpu_now() - c0;
    pmr_ctx_stats(ctx, &s1);
    t[1] = s1.seconds[PMR_PHASE_SHUFFLE] - s0.seconds[PMR_PHASE_SHUFFLE];
    t[3] = tm + t[2];
    MPI_Allreduce(t, tmax, 6, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    for (int k = 0; k < 6; k++)
      sec[(size_t)k * (size_t)repeat + (size_t)r] = tmax[k];
    uint64_t n = rc ? 0 : pmr_kv_local_pairs(kv), all = 0;
    MPI_Allreduce(&n, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    if (!rc && all != total) {
      if (rank == 0)
        fprintf(stderr, "%llu pairs after the reduce, want %llu\n",
                (unsigned long long)all, (unsigned long long)total);
      bad = 1;
    }
    pmr_kv_destroy(&kv);
  }
  if (rc && rank == 0)
    fprintf(stderr, "pmr-bench-groupby: %s: %s\n", pmr_err_name(rc),
            ctx ? pmr_errmsg(ctx) : "");
  if (!rc && rank == 0) {
    double m[6];
    for (int k = 0; k < 6; k++)
      m[k] = median(sec + (size_t)k * (size_t)repeat, repeat);
    printf("group-by of %.1f MiB per rank (%llu pairs of 8 + %zu bytes), "
           "%d rank(s) x %d thread(s), median of %d\n",
           (double)moved / 1048576.0, (unsigned long long)pairs, vsize, size,
           nt, repeat);
    printf("%-34s %10s %12s %10s\n", "", "seconds", "MiB/s/rank",
           "raw/this");
    const char *names[4] = {"MPI_Alltoallv (raw)",
                            "pmr reduce: shuffle (pack+xchg)",
                            "pmr reduce (shuffle + sort)",
                            "pmr map + reduce"};
    for (int k = 0; k < 4; k++)
      printf("%-34s %10.3f %12.1f %10.2f\n", names[k], m[k],
             m[k] > 0 ? (double)moved / 1048576.0 / m[k] : 0.0,
             m[k] > 0 ? m[0] / m[k] : 0.0);
    printf("CPU seconds (slowest rank): MPI_Alltoallv %.3f, pmr reduce %.3f, "
           "raw/this %.2f\n",
           m[4], m[5], m[5] > 0 ? m[4] / m[5] : 0.0);
  }
  free(sec);
  free(sbuf);
  free(rbuf);
  free(cnt);
  free(dsp);
  free(rcnt);
  free(rdsp);
  pmr_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc || bad ? 1 : 0;
}
