/* pmr-kmeans internals: the problem held in memory, the nearest-centroid
 * kernel, the exact sums of one Lloyd step, and the initialisations.
 *
 * Everything that decides a result (the nearest centroid of a point, the
 * sums of a cluster, the random choices) is a function of the global row
 * index and the data only, never of the rank or thread that handles a row:
 * that is what makes a run give the same bits at any rank and thread
 * count. */
#ifndef PMR_KMEANS_H
#define PMR_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include <pmr.h>

/* Coordinates are refused beyond this magnitude (2^500, about 3.3e150), so
 * that no squared distance and no sum of them can overflow. */
#define KM_MAX_ABS 0x1p500

/* The points and what the exact sums need to know about them. */
typedef struct km_data {
  pmr_ctx *ctx;
  pmr_block *block;
  const char *spec; /* the input dataset, FILE:/path */
  uint64_t n, d;    /* points and dimensions (all ranks) */
  uint64_t first;   /* this rank's first row */
  uint64_t nlocal;  /* this rank's rows */
  const double *x;  /* nlocal x d, row-major */
  int rank, nranks, nthreads;
  /* Fixed-point sums (see lloyd.c): usable when every coordinate is an
   * integer multiple of 2^lsb and below 2^(msb + 1) in magnitude, with
   * msb - lsb small enough. */
  int fixed;    /* 1: fixed-point sums, 0: the library's exact emits */
  int lsb, msb; /* lowest and highest set bit over all coordinates */
} km_data;

/* Centroids laid out for the kernel: ct[j * kp + c] is coordinate j of
 * centroid c; kp = k rounded up to the kernel's width, the padding
 * centroids at +Inf (never nearest). 64-byte aligned. */
typedef struct km_cent {
  uint64_t k, kp, d;
  double *ct;
} km_cent;

int km_cent_init(km_cent *c, uint64_t k, uint64_t d);
void km_cent_set(km_cent *c, const double *cent); /* cent: k x d */
void km_cent_free(km_cent *c);

/* For rows x[0..m) (m x d): the index of the nearest centroid (lowest index
 * among equals, as numpy's argmin) and the squared distance to it, computed
 * as ((x0 - c0)^2 + (x1 - c1)^2) + ... in that order, each operation
 * rounded (no fused multiply-add), exactly as the numpy reference does. */
void km_nearest(const km_cent *c, const double *x, size_t m, int32_t *label,
                double *dist);
/* v[i] = h[i] 2^g + l[i] 2^lsb exactly, for n values that are multiples
 * of 2^lsb below 2^(g + 50) in magnitude, with g - lsb <= 51
 * (inv_g = 2^-g, pow_g = 2^g, inv_lsb = 2^-lsb). */
void km_split(const double *v, size_t n, double inv_g, double pow_g,
              double inv_lsb, int64_t *h, int64_t *l);
/* The squared distance of one point to one centroid, the same way. */
double km_dist2(const double *x, const double *c, uint64_t d);
/* Which instruction set km_nearest runs with ("avx2", "default"). */
const char *km_kernel_name(void);

/* One Lloyd step's sums. */
typedef struct km_step {
  double inertia;  /* sum of the points' squared distances */
  int64_t *counts; /* [k] points per cluster */
  double *sums;    /* [k x d] coordinate sums, each the exact sum rounded */
} km_step;

/* Scan the points once: refuse NaN, Inf and |x| > KM_MAX_ABS (a message
 * naming the row), and find the bit range that decides d->fixed. Also the
 * mean and variance of every dimension when `var` is not NULL (d values;
 * exact sums). Collective. */
int km_scan(km_data *d, double *var);

/* Assign every point to its nearest centroid in `c`, and sum: counts,
 * coordinate sums and inertia, all exact and reproducible. When `labels` is
 * not NULL it gets this rank's labels (nlocal). Collective; every rank gets
 * the sums. */
int km_step_run(km_data *d, const km_cent *c, km_step *out, int32_t *labels);

/* Initialisations: k x d centroids into `cent` on every rank. Collective. */
int km_init_random(km_data *d, uint64_t k, uint64_t seed, double *cent);
int km_init_kmeanspp(km_data *d, uint64_t k, uint64_t seed, double *cent);
/* Rows of a [k, d] dataset (k taken from it when *k is 0). Messages name
 * the spec. */
int km_init_file(km_data *d, const char *spec, uint64_t *k, double **cent);

/* The counter-based random numbers of the initialisations: a 64-bit value
 * that depends only on (seed, stream, i), the SplitMix64 finaliser applied
 * twice. */
uint64_t km_random(uint64_t seed, uint64_t stream, uint64_t i);

/* The app's own error messages (pmr's are in pmr_errmsg): km_fail sets
 * km_errmsg and returns `code`. Messages about the data are formed from
 * reduced values, so every rank forms the same one. */
extern char km_errmsg[512];
int km_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Agree on a local outcome (a failed allocation) before the next
 * collective call, so that no rank is left waiting: every rank returns the
 * largest code, with "out of memory on rank R" where it failed elsewhere.
 * Collective. */
int km_agree(const km_data *d, int code);

#endif
