/* pmr-bench-kmeans-baseline: the yardstick for pmr-kmeans. A minimal C
 * Lloyd loop with OpenMP threads, what a careful programmer writes for this
 * one job (the Phoenix++ k-means pattern): points in memory, each thread
 * finds the nearest centroid of its share of the points and sums them into
 * its own arrays, the arrays are added up, the centroids divided out.
 *
 *   pmr-bench-kmeans-baseline [-t T] [-i ITERS] [-o OUT.f64] POINTS.f64 INIT.f64 D
 *
 * POINTS.f64 holds n x D float64 values (raw, native byte order; n from the
 * file size), INIT.f64 k x D initial centroids. Runs exactly ITERS
 * iterations (default 10; no convergence test, as Phoenix++), prints on
 * stderr the wall and CPU seconds of the iterations (reading excluded) and
 * the point-iterations per second, per thread and per CPU second too (the
 * latter is what to compare on a machine busy with other work), and writes
 * the final centroids to OUT.f64 when asked. Empty clusters keep their
 * centroid; ties go to the lower index (strict <), as pmr-kmeans. Plain
 * double sums, so the centroids agree with pmr-kmeans' to rounding (about
 * 1e-13 relative), not bit for bit.
 *
 * Plain C17 + OpenMP, no libpmr, MPI or HDF5. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "kmeans-baseline: cannot open '%s': %s\n", path,
            strerror(errno));
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  double *v = malloc(size > 0 ? (size_t)size : 1);
  if (!v || fread(v, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "kmeans-baseline: cannot read '%s'\n", path);
    free(v);
    v = NULL;
  }
  fclose(f);
  *n = (size_t)size / sizeof(double);
  return v;
}

static double seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One iteration's assignment and sums over points [lo, hi), for a
 * dimension D known at compile time when given (0: d), as a careful
 * programmer specialises the common small dimensions. */
static inline __attribute__((always_inline)) void
assign(const double *x, const double *c, size_t lo, size_t hi, size_t k,
       size_t d, size_t D, double *s, long *m) {
  if (D)
    d = D;
  for (size_t i = lo; i < hi; i++) {
    const double *p = x + i * d;
    double best = 0;
    size_t bi = 0;
    for (size_t j = 0; j < k; j++) {
      double dist = 0;
      for (size_t l = 0; l < d; l++) {
        double t = p[l] - c[j * d + l];
        dist += t * t;
      }
      if (j == 0 || dist < best) {
        best = dist;
        bi = j;
      }
    }
    m[bi]++;
    for (size_t l = 0; l < d; l++)
      s[bi * d + l] += p[l];
  }
}

int main(int argc, char **argv) {
  int threads = omp_get_max_threads(), iters = 10, opt;
  const char *out = NULL;
  for (opt = 1; opt < argc && argv[opt][0] == '-'; opt += 2) {
    if (opt + 1 >= argc)
      break;
    if (!strcmp(argv[opt], "-t"))
      threads = atoi(argv[opt + 1]);
    else if (!strcmp(argv[opt], "-i"))
      iters = atoi(argv[opt + 1]);
    else if (!strcmp(argv[opt], "-o"))
      out = argv[opt + 1];
    else
      break;
  }
  if (argc - opt != 3 || threads < 1 || iters < 1) {
    fprintf(stderr, "usage: %s [-t T] [-i ITERS] [-o OUT.f64] POINTS.f64 "
                    "INIT.f64 D\n", argv[0]);
    return 2;
  }
  size_t d = (size_t)atol(argv[opt + 2]), nv, kv;
  double *x = read_all(argv[opt], &nv), *c = read_all(argv[opt + 1], &kv);
  if (!x || !c || d < 1 || nv % d || kv % d)
    return 1;
  size_t n = nv / d, k = kv / d;
  double *sum = calloc((size_t)threads * k * d, sizeof *sum);
  long *cnt = calloc((size_t)threads * k, sizeof *cnt);
  if (!sum || !cnt)
    return 1;

  double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
  for (int it = 0; it < iters; it++) {
    memset(sum, 0, (size_t)threads * k * d * sizeof *sum);
    memset(cnt, 0, (size_t)threads * k * sizeof *cnt);
#pragma omp parallel num_threads(threads)
    {
      int t = omp_get_thread_num();
      double *s = sum + (size_t)t * k * d;
      long *m = cnt + (size_t)t * k;
      size_t lo = n * (size_t)t / (size_t)threads,
             hi = n * (size_t)(t + 1) / (size_t)threads;
      switch (d) {
      case 2:
        assign(x, c, lo, hi, k, d, 2, s, m);
        break;
      case 3:
        assign(x, c, lo, hi, k, d, 3, s, m);
        break;
      default:
        assign(x, c, lo, hi, k, d, 0, s, m);
      }
    }
    for (size_t j = 0; j < k; j++) {
      long m = 0;
      for (int t = 0; t < threads; t++)
        m += cnt[(size_t)t * k + j];
      if (!m)
        continue; /* an empty cluster keeps its centroid */
      for (size_t l = 0; l < d; l++) {
        double s = 0;
        for (int t = 0; t < threads; t++)
          s += sum[((size_t)t * k + j) * d + l];
        c[j * d + l] = s / (double)m;
      }
    }
  }
  double secs = seconds(CLOCK_MONOTONIC) - t0;
  double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
  double pi = (double)n * iters, rate = pi / secs;
  fprintf(stderr,
          "kmeans-baseline: %zu points x %zu dims, k = %zu: %d iterations in "
          "%.3f s, cpu %.3f s: %.2f M point-iterations/s, %.2f M/s per "
          "thread, %.2f M per cpu-second (%d threads)\n",
          n, d, k, iters, secs, cpu, rate / 1e6, rate / 1e6 / threads,
          pi / cpu / 1e6, threads);
  if (out) {
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(c, sizeof *c, k * d, f) != k * d || fclose(f)) {
      fprintf(stderr, "kmeans-baseline: cannot write '%s'\n", out);
      return 1;
    }
  }
  free(x);
  free(c);
  free(sum);
  free(cnt);
  return 0;
}
