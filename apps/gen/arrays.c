/* pmr-gen numbers, points and signal: each element a function of (seed, its
 * index), computed in chunks on OpenMP threads (any split gives the same
 * bits). The AR(1) signal's recurrence is made parallel by fixed blocks;
 * see gen_signal_fill. */
#include "gen.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Elements per unit of work handed to a thread. */
#define CHUNK 16384u

static double numbers_value(const gen_opts *o, double z) {
  switch (o->dist) {
  case GEN_NORMAL:
    return o->mean + o->std * z;
  case GEN_LOGNORMAL:
    return exp(o->mean + o->std * z);
  default:
    return 0;
  }
}

static void store(pmr_dtype t, void *out, uint64_t i, double v) {
  if (t == PMR_FLOAT32)
    ((float *)out)[i] = (float)v;
  else
    ((double *)out)[i] = v;
}

/* Elements [a, b) (global indices) into out + (a - lo), through a small
 * buffer of draws. */
static void numbers_chunk(const gen_opts *o, uint64_t lo, uint64_t a,
                          uint64_t b, void *out) {
  enum { BUF = 256 };
  pmr_dtype t = o->type;
  union {
    uint64_t w[BUF];
    double z[BUF];
  } buf;
  for (uint64_t s = a; s < b; s += BUF) {
    uint64_t n = b - s < BUF ? b - s : BUF;
    if (o->dist == GEN_INTEGERS) {
      uint64_t range = (uint64_t)o->ihigh - (uint64_t)o->ilow + 1;
      gen_words(o->seed, GEN_STREAM_NUMBERS, s, n, buf.w);
      for (uint64_t i = 0; i < n; i++) {
        int64_t v = gen_integer_w(buf.w[i], o->seed, GEN_STREAM_NUMBERS, s + i,
                                  o->ilow, range);
        if (t == PMR_INT32)
          ((int32_t *)out)[s + i - lo] = (int32_t)v;
        else
          ((int64_t *)out)[s + i - lo] = v;
      }
    } else if (o->dist == GEN_UNIFORM) {
      double w = o->high - o->low;
      gen_words(o->seed, GEN_STREAM_NUMBERS, s, n, buf.w);
      for (uint64_t i = 0; i < n; i++)
        store(t, out, s + i - lo, o->low + w * gen_u01(buf.w[i]));
    } else {
      gen_normals(o->seed, GEN_STREAM_NUMBERS, s, n, buf.z);
      for (uint64_t i = 0; i < n; i++)
        store(t, out, s + i - lo, numbers_value(o, buf.z[i]));
    }
  }
}

void gen_numbers_fill(const gen_opts *o, uint64_t lo, uint64_t hi, void *out,
                      int threads) {
  uint64_t nchunks = (hi - lo + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (uint64_t c = 0; c < nchunks; c++) {
    uint64_t a = lo + c * CHUNK, b = a + CHUNK < hi ? a + CHUNK : hi;
    numbers_chunk(o, lo, a, b, out);
  }
}

void gen_centres(const gen_opts *o, double *centres) {
  for (uint64_t j = 0; j < o->k * o->dim; j++)
    centres[j] =
        -o->box +
        2.0 * o->box * gen_u01(gen_word(o->seed, GEN_STREAM_CENTRES, j, 0));
}

void gen_points_fill(const gen_opts *o, const double *centres, uint64_t lo,
                     uint64_t hi, double *points, int32_t *labels,
                     int threads) {
  uint64_t d = o->dim, rows = CHUNK / d ? CHUNK / d : 1;
  uint64_t nchunks = (hi - lo + rows - 1) / rows;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (uint64_t c = 0; c < nchunks; c++) {
    uint64_t a = lo + c * rows, b = a + rows < hi ? a + rows : hi;
    double *p = points + (a - lo) * d;
    gen_normals(o->seed, GEN_STREAM_POINTS, a * d, (b - a) * d, p);
    uint64_t w[256];
    for (uint64_t i = a; i < b; i++, p += d) {
      if ((i - a) % 256 == 0)
        gen_words(o->seed, GEN_STREAM_LABELS, i, b - i < 256 ? b - i : 256, w);
      int64_t l = gen_integer_w(w[(i - a) % 256], o->seed, GEN_STREAM_LABELS, i,
                                0, o->k);
      const double *m = centres + (uint64_t)l * d;
      for (uint64_t j = 0; j < d; j++)
        p[j] = m[j] + o->spread * p[j];
      if (labels)
        labels[i - lo] = (int32_t)l;
    }
  }
}

/* Sum of sines plus noise: x[i] = sum_k amp_k sin(2 pi frac(f_k i) +
 * phase_k) + sigma z_i, the fraction taken of the rounded product f_k i
 * (exact for i < 2^53), which keeps the sine's argument small. */
static void sines_fill(const gen_opts *o, uint64_t lo, uint64_t hi, double *out,
                       int threads) {
  uint64_t nchunks = (hi - lo + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (uint64_t c = 0; c < nchunks; c++) {
    uint64_t a = lo + c * CHUNK, b = a + CHUNK < hi ? a + CHUNK : hi;
    double *x = out + (a - lo);
    gen_normals(o->seed, GEN_STREAM_NOISE, a, b - a, x);
    for (uint64_t i = a; i < b; i++) {
      double s = 0;
      for (int k = 0; k < o->nsines; k++) {
        double t = o->freq[k] * (double)i;
        t -= floor(t);
        s += o->amp[k] * sin(GEN_TWO_PI * t + o->phase[k]);
      }
      x[i - a] = s + o->sigma * x[i - a];
    }
  }
}

/* AR(1): x[0] = sigma / sqrt(1 - phi^2) z_0 (the stationary distribution,
 * so no burn-in), x[i] = phi x[i-1] + sigma z_i.
 *
 * The recurrence is sequential; it is made parallel, and identical at any
 * rank and thread count, by fixed blocks of B = GEN_AR1_BLOCK elements.
 * Within block b (first element s = bB, length L), y is the recurrence
 * started from 0: y[0] = sigma z_s (c0 z_0 in block 0), y[t] = phi y[t-1] +
 * sigma z_{s+t}. Unrolling, x[s+t] = y[t] + phi^(t+1) X, where X = x[s-1]
 * is the carry from the blocks before (0 for block 0), and the next carry
 * is y[L-1] + phi^L X. So:
 *   1. every block's y on the threads of its rank (the work);
 *   2. the carries: an all-gather of the blocks' last y, then each rank runs
 *      the chain X_b = y_b[L-1] + phi^L X_{b-1} from block 0 up to its own
 *      blocks, in block order, as one rank would (nblocks multiply-adds);
 *   3. x = y + phi^(t+1) X on the threads.
 * Every operation and its order depend only on the block structure, never
 * on the ranks or threads, hence the same bits everywhere. phi^m is a table
 * built by repeated multiplication (pow is not needed). The result differs
 * from the plain sequential recurrence only by rounding (~1e-16 relative;
 * the tests check 1e-12). */
int gen_signal_fill(const gen_opts *o, MPI_Comm comm, uint64_t lo, uint64_t hi,
                    double *out, int threads, char *msg, size_t msglen) {
  if (o->model == GEN_SINES) {
    sines_fill(o, lo, hi, out, threads);
    return 0;
  }
  const uint64_t B = GEN_AR1_BLOCK;
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  uint64_t nb = (o->n + B - 1) / B, b0 = lo / B, b1 = (hi + B - 1) / B;
  double phi = o->phi, sigma = o->sigma;
  double *pw = malloc(sizeof *pw * (B + 1));
  double *ends = malloc(sizeof *ends * (nb ? nb : 1));
  int *counts = malloc(sizeof *counts * (size_t)size * 2);
  int bad = !pw || !ends || !counts || nb > (uint64_t)INT32_MAX, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
  if (any) {
    free(pw), free(ends), free(counts);
    snprintf(msg, msglen, "out of memory for the carries of %llu AR(1) blocks",
             (unsigned long long)nb);
    return PMR_ENOMEM;
  }
  pw[0] = 1.0;
  for (uint64_t m = 1; m <= B; m++)
    pw[m] = pw[m - 1] * phi;
  double c0 = sigma / sqrt(1.0 - phi * phi);

  /* 1. y of every block of this rank. */
#pragma omp parallel for schedule(static) num_threads(threads)
  for (uint64_t b = b0; b < b1; b++) {
    uint64_t s = b * B, e = s + B < o->n ? s + B : o->n;
    double *y = out + (s - lo);
    gen_normals(o->seed, GEN_STREAM_NOISE, s, e - s, y);
    y[0] *= b == 0 ? c0 : sigma;
    for (uint64_t t = 1; t < e - s; t++)
      y[t] = phi * y[t - 1] + sigma * y[t];
    ends[b] = y[e - s - 1];
  }

  /* 2. The carries, in block order. */
  int *displs = counts + size;
  for (int r = 0; r < size; r++) {
    /* Each rank's blocks, as main() shares them out. */
    uint64_t rb0 = gen_split(nb, r, size), rb1 = gen_split(nb, r + 1, size);
    counts[r] = (int)(rb1 - rb0);
    displs[r] = (int)rb0;
  }
  int mrc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, ends, counts,
                           displs, MPI_DOUBLE, comm);
  if (mrc != MPI_SUCCESS) {
    free(pw), free(ends), free(counts);
    snprintf(msg, msglen, "MPI_Allgatherv of the AR(1) carries failed");
    return PMR_EMPI;
  }
  /* ends[b] becomes X_b, the carry out of block b. */
  double X = 0;
  for (uint64_t b = 0; b < b1; b++) {
    uint64_t L = (b + 1) * B < o->n ? B : o->n - b * B;
    double in = X;
    X = ends[b] + pw[L] * in;
    ends[b] = in; /* now the carry into block b */
  }

  /* 3. x = y + phi^(t+1) X. */
#pragma omp parallel for schedule(static) num_threads(threads)
  for (uint64_t b = b0; b < b1; b++) {
    uint64_t s = b * B, e = s + B < o->n ? s + B : o->n;
    double *y = out + (s - lo), Xin = ends[b];
    for (uint64_t t = 0; t < e - s; t++)
      y[t] += pw[t + 1] * Xin;
  }
  free(pw), free(ends), free(counts);
  return 0;
}
