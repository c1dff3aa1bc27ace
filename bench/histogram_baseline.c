/* pmr-bench-histogram: the yardstick bench/histogram.sh holds pmr-histogram
 * against: the smallest honest program that histograms an HDF5 dataset.
 *
 *   pmr-bench-histogram [-t THREADS] [-b BINS] [-r LO:HI] [-o OUT.txt] [-v]
 *                       FILE.h5 DATASET
 *
 * Plain serial HDF5 (the default file driver, no MPI): the dataset (any
 * numeric type and shape, read as double) is read in slabs of 8 MiB by one
 * thread, and each slab is binned by THREADS OpenMP threads into counts of
 * their own, merged at the end. Without -r a first pass over the file finds
 * the finite minimum and maximum. The bins are numpy.histogram's, as
 * pmr-histogram's are (index from (x - lo) * norm, one correction each way
 * against numpy.linspace's edges; last bin closed), so the counts can be
 * compared: -o writes "bin<TAB>count" lines, then "underflow", "overflow"
 * and "nan" lines. No statistics (mean, std), no MPI, no generality.
 */
#define _POSIX_C_SOURCE 200809L

#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLAB ((hsize_t)1 << 20) /* values per read: 8 MiB of doubles */

static const char *prog = "pmr-bench-histogram";

static void die(const char *msg, const char *what) {
  fprintf(stderr, "%s: %s%s%s\n", prog, msg, what ? " " : "", what ? what : "");
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct reader {
  hid_t d, fspace;
  hsize_t n, at;
  double *buf;
} reader;

/* The next slab into r->buf; returns its length (0 at the end). */
static hsize_t next_slab(reader *r) {
  hsize_t len = r->n - r->at < SLAB ? r->n - r->at : SLAB;
  if (!len)
    return 0;
  /* The dataset as a flat array: select whole rows of a 2-D one. */
  int rank = H5Sget_simple_extent_ndims(r->fspace);
  hsize_t dims[2] = {1, 1}, start[2] = {0, 0}, count[2];
  H5Sget_simple_extent_dims(r->fspace, dims, NULL);
  hsize_t cols = rank == 2 ? dims[1] : 1;
  start[0] = r->at / cols;
  count[0] = len / cols;
  count[1] = cols;
  if (count[0] == 0)
    die("rows longer than a slab are not supported", NULL);
  len = count[0] * cols;
  hid_t mspace = H5Screate_simple(1, &len, NULL);
  H5Sselect_hyperslab(r->fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  if (H5Dread(r->d, H5T_NATIVE_DOUBLE, mspace, r->fspace, H5P_DEFAULT, r->buf) <
      0)
    die("H5Dread failed", NULL);
  H5Sclose(mspace);
  r->at += len;
  return len;
}

int main(int argc, char **argv) {
  int threads = 2, verbose = 0, opt, have_range = 0;
  long bins = 10;
  double lo = 0, hi = 0;
  const char *out = NULL;
  while ((opt = getopt(argc, argv, "t:b:r:o:v")) != -1) {
    switch (opt) {
    case 't':
      threads = atoi(optarg);
      break;
    case 'b':
      bins = atol(optarg);
      break;
    case 'r':
      if (sscanf(optarg, "%lf:%lf", &lo, &hi) != 2 || !(lo < hi))
        die("bad -r LO:HI:", optarg);
      have_range = 1;
      break;
    case 'o':
      out = optarg;
      break;
    case 'v':
      verbose = 1;
      break;
    default:
      fprintf(stderr,
              "usage: %s [-t THREADS] [-b BINS] [-r LO:HI] [-o OUT.txt] [-v] "
              "FILE.h5 DATASET\n",
              prog);
      return 2;
    }
  }
  if (argc - optind != 2 || threads < 1 || bins < 1)
    die("need FILE.h5 DATASET, THREADS >= 1, BINS >= 1 (see the source)", NULL);
  double t0 = now();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(argv[optind], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    die("cannot open", argv[optind]);
  reader r = {.d = H5Dopen2(f, argv[optind + 1], H5P_DEFAULT)};
  if (r.d < 0)
    die("no dataset", argv[optind + 1]);
  r.fspace = H5Dget_space(r.d);
  hsize_t dims[2] = {1, 1};
  int rank = H5Sget_simple_extent_ndims(r.fspace);
  if (rank < 1 || rank > 2)
    die("need a 1-D or 2-D dataset", NULL);
  H5Sget_simple_extent_dims(r.fspace, dims, NULL);
  r.n = dims[0] * (rank == 2 ? dims[1] : 1);
  r.buf = malloc(SLAB * sizeof(double));
  int64_t *cnt = calloc((size_t)threads * ((size_t)bins + 3), 8);
  double *edges = malloc(((size_t)bins + 1) * sizeof(double));
  if (!r.buf || !cnt || !edges)
    die("out of memory", NULL);

  if (!have_range) {
    double mn = INFINITY, mx = -INFINITY;
    hsize_t len;
    while ((len = next_slab(&r)) > 0) {
#pragma omp parallel for num_threads(threads) reduction(min                    \
                                                        : mn) reduction(max    \
                                                                        : mx)  \
    schedule(static)
      for (hsize_t i = 0; i < len; i++)
        if (isfinite(r.buf[i])) {
          mn = r.buf[i] < mn ? r.buf[i] : mn;
          mx = r.buf[i] > mx ? r.buf[i] : mx;
        }
    }
    r.at = 0;
    lo = mn == INFINITY ? 0.0 : mn;
    hi = mn == INFINITY ? 1.0 : mx;
    if (lo == hi) {
      lo -= 0.5;
      hi += 0.5;
    }
  }
  /* numpy.linspace(lo, hi, bins + 1) */
  double step = (hi - lo) / (double)bins, norm = (double)bins / (hi - lo);
  for (long i = 0; i <= bins; i++)
    edges[i] = (double)i * step + lo;
  edges[bins] = hi;

  hsize_t len;
  while ((len = next_slab(&r)) > 0) {
#pragma omp parallel num_threads(threads)
    {
      int64_t *c = cnt + (size_t)omp_get_thread_num() * ((size_t)bins + 3);
#pragma omp for schedule(static)
      for (hsize_t k = 0; k < len; k++) {
        double x = r.buf[k];
        if (x >= lo && x <= hi) {
          long i = (long)((x - lo) * norm);
          if (i == bins)
            i--;
          if (x < edges[i])
            i--;
          if (x >= edges[i + 1] && i != bins - 1)
            i++;
          c[i]++;
        } else if (x < lo) {
          c[bins]++;
        } else if (x > hi) {
          c[bins + 1]++;
        } else {
          c[bins + 2]++;
        }
      }
    }
  }
  for (int t = 1; t < threads; t++)
    for (long i = 0; i < bins + 3; i++)
      cnt[i] += cnt[(size_t)t * ((size_t)bins + 3) + (size_t)i];
  H5Sclose(r.fspace);
  H5Dclose(r.d);
  H5Fclose(f);
  double secs = now() - t0;

  if (out) {
    FILE *o = fopen(out, "w");
    if (!o)
      die("cannot write", out);
    for (long i = 0; i < bins; i++)
      fprintf(o, "%ld\t%lld\n", i, (long long)cnt[i]);
    fprintf(o, "underflow\t%lld\noverflow\t%lld\nnan\t%lld\n",
            (long long)cnt[bins], (long long)cnt[bins + 1],
            (long long)cnt[bins + 2]);
    if (fclose(o))
      die("cannot write", out);
  }
  if (verbose)
    fprintf(stderr,
            "%s: %llu values, %ld bins over [%.17g, %.17g], %d threads, "
            "%.3f s, %.2f GiB/s\n",
            prog, (unsigned long long)r.n, bins, lo, hi, threads, secs,
            (double)r.n * 8 / secs / (1 << 30));
  free(r.buf);
  free(cnt);
  free(edges);
  return 0;
}
