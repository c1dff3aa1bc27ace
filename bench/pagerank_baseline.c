/* pmr-bench-pagerank-baseline: bench/pagerank.sh's yardstick.
 *
 *   pmr-bench-pagerank-baseline [-i ITERS] [-a ALPHA] [-o RANKS.f64] EDGES.i64
 *
 * The plainest fast PageRank one process can do: EDGES.i64 holds int64
 * (src, dst) pairs; the ids are made dense (sorted, unique), the edges
 * sorted and made unique (networkx's DiGraph), and each iteration is a pull
 * over the in-edges in CSR form (no atomics, sequential reads of the edge
 * array):
 *   x'(v) = alpha (sum over in-edges u->v of x(u) / outdeg(u)
 *                  + dangling mass / n) + (1 - alpha) / n
 * exactly ITERS times (no convergence test: the benchmark times a fixed
 * number of iterations). Prints "... ITERS iterations in S s ..." and the
 * edge-iterations per second to stderr; -o writes the ranks in ascending
 * vertex order (float64). Loading and building the CSR are not timed. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* LSD radix sort of n uint64 keys (8 passes of 8 bits; passes where every
 * key has the same byte are skipped). tmp: room for n keys. */
static void radix_sort(uint64_t *a, uint64_t *tmp, uint64_t n) {
  for (int shift = 0; shift < 64; shift += 8) {
    uint64_t cnt[257] = {0};
    for (uint64_t i = 0; i < n; i++)
      cnt[((a[i] >> shift) & 255) + 1]++;
    int same = 0;
    for (int b = 0; b < 256; b++)
      same |= cnt[b + 1] == n;
    if (same)
      continue;
    for (int b = 0; b < 256; b++)
      cnt[b + 1] += cnt[b];
    for (uint64_t i = 0; i < n; i++)
      tmp[cnt[(a[i] >> shift) & 255]++] = a[i];
    memcpy(a, tmp, n * sizeof *a);
  }
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t find(const int64_t *ids, uint64_t n, int64_t v) {
  uint64_t lo = 0, hi = n;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (ids[mid] <= v)
      lo = mid;
    else
      hi = mid;
  }
  return (uint32_t)lo;
}

int main(int argc, char **argv) {
  int iters = 10;
  double alpha = 0.85;
  const char *out = NULL, *in = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-i") && i + 1 < argc)
      iters = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-a") && i + 1 < argc)
      alpha = atof(argv[++i]);
    else if (!strcmp(argv[i], "-o") && i + 1 < argc)
      out = argv[++i];
    else
      in = argv[i];
  }
  if (!in || iters < 1) {
    fprintf(stderr, "usage: %s [-i ITERS] [-a ALPHA] [-o RANKS.f64] EDGES.i64\n",
            argv[0]);
    return 2;
  }
  FILE *f = fopen(in, "rb");
  if (!f) {
    perror(in);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  uint64_t m = (uint64_t)ftell(f) / 16;
  fseek(f, 0, SEEK_SET);
  int64_t *e = malloc(16 * (m ? m : 1));
  int64_t *ids = malloc(16 * (m ? m : 1));
  if (!e || !ids || fread(e, 16, m, f) != m) {
    fprintf(stderr, "%s: cannot read %llu edges\n", in, (unsigned long long)m);
    return 1;
  }
  fclose(f);
  double t0 = now();
  /* Ids as unsigned with the sign bit flipped sort like the int64s. */
  uint64_t *u = (uint64_t *)ids, *tmp = malloc(16 * (m ? m : 1));
  if (!tmp) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  for (uint64_t i = 0; i < 2 * m; i++)
    u[i] = (uint64_t)e[i] ^ ((uint64_t)1 << 63);
  radix_sort(u, tmp, 2 * m);
  uint64_t n = 0;
  for (uint64_t i = 0; i < 2 * m; i++)
    if (!n || u[i] != u[n - 1])
      u[n++] = u[i];
  for (uint64_t i = 0; i < n; i++)
    ids[i] = (int64_t)(u[i] ^ ((uint64_t)1 << 63));
  if (n >= UINT32_MAX) {
    fprintf(stderr, "too many vertices\n");
    return 1;
  }
  /* Edges as dst << 32 | src of dense indices, sorted: in-edges grouped,
   * repeated edges adjacent. */
  uint64_t *q = malloc(8 * (m ? m : 1));
  if (!q) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  /* Dense indices: a table over [min, max] where the ids are close (R-MAT's
   * are 0 .. 2^S - 1), else a binary search per id. */
  uint64_t span = n ? (uint64_t)ids[n - 1] - (uint64_t)ids[0] : 0;
  uint32_t *table = span < ((uint64_t)1 << 28) ? malloc(4 * (span + 1)) : NULL;
  if (table)
    for (uint64_t i = 0; i < n; i++)
      table[(uint64_t)ids[i] - (uint64_t)ids[0]] = (uint32_t)i;
#define DENSE(v)                                                               \
  (table ? table[(uint64_t)(v) - (uint64_t)ids[0]] : find(ids, n, (v)))
  for (uint64_t i = 0; i < m; i++)
    q[i] = (uint64_t)DENSE(e[2 * i + 1]) << 32 | DENSE(e[2 * i]);
#undef DENSE
  free(table);
  free(e);
  radix_sort(q, tmp, m);
  free(tmp);
  uint64_t mu = 0;
  for (uint64_t i = 0; i < m; i++)
    if (!mu || q[i] != q[mu - 1])
      q[mu++] = q[i];
  uint64_t *start = calloc(n + 1, sizeof *start);
  uint32_t *src = malloc(4 * (mu ? mu : 1));
  uint32_t *deg = calloc(n, sizeof *deg);
  double *x = malloc(8 * n), *y = malloc(8 * n), *w = malloc(8 * n);
  if (!start || !src || !deg || !x || !y || !w) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  for (uint64_t i = 0; i < mu; i++) {
    uint32_t d = (uint32_t)(q[i] >> 32), sv = (uint32_t)q[i];
    start[d + 1]++;
    src[i] = sv;
    deg[sv]++;
  }
  for (uint64_t v = 0; v < n; v++)
    start[v + 1] += start[v];
  free(q);
  for (uint64_t v = 0; v < n; v++)
    x[v] = 1.0 / (double)n;
  double t1 = now(), c1 = cpu_now();

  for (int it = 0; it < iters; it++) {
    double dangling = 0;
    for (uint64_t v = 0; v < n; v++) {
      w[v] = deg[v] ? x[v] / deg[v] : 0.0;
      if (!deg[v])
        dangling += x[v];
    }
    double base = alpha * dangling / (double)n + (1.0 - alpha) / (double)n;
    for (uint64_t v = 0; v < n; v++) {
      double s = 0;
      for (uint64_t k = start[v]; k < start[v + 1]; k++)
        s += w[src[k]];
      y[v] = alpha * s + base;
    }
    double *t = x;
    x = y;
    y = t;
  }
  double t2 = now(), cpu = cpu_now() - c1;
  double secs = t2 - t1;
  fprintf(stderr,
          "baseline: %llu vertices, %llu edges (%llu distinct); build %.3f s; "
          "%d iterations in %.3f s, cpu %.3f s: %.3g edge-iterations/s\n",
          (unsigned long long)n, (unsigned long long)m, (unsigned long long)mu,
          t1 - t0, iters, secs, cpu,
          secs > 0 ? (double)mu * iters / secs : 0.0);
  if (out) {
    FILE *o = fopen(out, "wb");
    if (!o || fwrite(x, 8, n, o) != n || fclose(o)) {
      perror(out);
      return 1;
    }
  }
  free(start), free(src), free(deg), free(x), free(y), free(w), free(ids);
  return 0;
}
