/* pmr-gen: the options of every kind and the generators' entry points. */
#ifndef PMR_GEN_H
#define PMR_GEN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <pmr.h>

typedef enum gen_kind {
  GEN_TEXT = 0,
  GEN_POINTS,
  GEN_SIGNAL,
  GEN_NUMBERS,
  GEN_RECORDS,
  GEN_GRAPH
} gen_kind;

typedef enum gen_dist {
  GEN_UNIFORM = 0,
  GEN_NORMAL,
  GEN_LOGNORMAL,
  GEN_INTEGERS
} gen_dist;

typedef enum gen_model { GEN_AR1 = 0, GEN_SINES } gen_model;

#define GEN_MAX_SINES 64

typedef struct gen_opts {
  gen_kind kind;
  uint64_t seed;
  uint64_t n;     /* elements (numbers, signal) or rows (points) */
  uint64_t bytes; /* text: the file's exact size */
  /* text */
  uint64_t vocab;
  double exponent;
  /* points */
  uint64_t dim, k;
  double spread, box;
  int labels;
  /* numbers */
  gen_dist dist;
  double low, high, mean, std;
  int64_t ilow, ihigh;
  pmr_dtype type; /* of the numbers dataset */
  /* signal */
  gen_model model;
  double phi, sigma;
  int nsines;
  double freq[GEN_MAX_SINES], amp[GEN_MAX_SINES], phase[GEN_MAX_SINES];
  /* graph: 2^scale vertices, edge_factor x 2^scale edges (n = edges) */
  int scale;
  uint64_t edge_factor;
  int text; /* graph: "src dst" lines instead of HDF5 */
} gen_opts;

/* Elements per AR(1) block (see gen_signal_fill): part of the definition of
 * the output, since the carries between blocks are rounded at the block
 * boundaries. */
#define GEN_AR1_BLOCK 65536u

/* Part r of `size` equal parts of [0, n): [split(n, r), split(n, r + 1)). */
static inline uint64_t gen_split(uint64_t n, int r, int size) {
  return (uint64_t)((unsigned __int128)n * (unsigned)r / (unsigned)size);
}

/* Fill rows [lo, hi) of the array kinds into `out` with `threads` OpenMP
 * threads (bit-identical whatever the split). Not collective. */
void gen_numbers_fill(const gen_opts *o, uint64_t lo, uint64_t hi, void *out,
                      int threads);
/* centres: k x dim doubles (the same on every rank). */
void gen_centres(const gen_opts *o, double *centres);
void gen_points_fill(const gen_opts *o, const double *centres, uint64_t lo,
                     uint64_t hi, double *points, int32_t *labels, int threads);
/* Signal: collective for AR(1) (the carries between ranks' blocks are
 * gathered); `lo` must be a multiple of GEN_AR1_BLOCK there. Returns 0 or
 * a PMR_E* code (agreed) with a message in msg. */
int gen_signal_fill(const gen_opts *o, MPI_Comm comm, uint64_t lo, uint64_t hi,
                    double *out, int threads, char *msg, size_t msglen);

/* Progress on rank 0: `done` of `total` units of `phase`. */
typedef void (*gen_progress_fn)(const char *phase, uint64_t done,
                                uint64_t total, void *user);

/* What the text generator did (this rank's share, then the totals). */
typedef struct gen_text_stats {
  uint64_t bytes, lines;
  double gen_seconds, write_seconds;
} gen_text_stats;

/* Write the Zipf text corpus to `path` by MPI-IO, each rank its part:
 * exactly o->bytes bytes, published under `path` only when complete.
 * `memory` bounds each rank's buffer. Collective; returns 0 or a PMR_E*
 * code (agreed) with a message in msg. */
int gen_text_write(const gen_opts *o, MPI_Comm comm, const char *path,
                   size_t memory, int threads, gen_progress_fn progress,
                   void *user, gen_text_stats *st, char *msg, size_t msglen);

/* --- files written by MPI-IO (out.c) ------------------------------------ */

/* Agree on the worst code over `comm`; the lowest rank with that code sends
 * its message (in msg) to every rank. Returns the agreed code. */
int gen_agree(MPI_Comm comm, int rc, char *msg, size_t msglen);
/* A PMR_E* code and a message "cannot WHAT 'PATH': ..." for an MPI error;
 * 0 for MPI_SUCCESS. */
int gen_mpi_code(int mrc, const char *what, const char *path, char *msg,
                 size_t msglen);

/* An output file under a temporary name in the directory of its final
 * name. */
typedef struct gen_file {
  MPI_File fh;
  char tmp[PATH_MAX];
  int have_tmp;
} gen_file;
/* Collective: create the temporary file and open it on every rank for
 * MPI-IO (f->fh). Returns 0 or a PMR_E* code (agreed) with a message. */
int gen_file_open(gen_file *f, MPI_Comm comm, const char *path, char *msg,
                  size_t msglen);
/* Collective: close the file; when `rc` is 0 everywhere (and the close
 * worked) rename it to `path`, else remove it. Returns the agreed code. */
int gen_file_close(gen_file *f, MPI_Comm comm, int rc, const char *path,
                   char *msg, size_t msglen);

/* Write `len` (< 2^31) bytes at `off` (collective, agreed). */
int gen_file_write(MPI_Comm comm, const char *path, gen_file *f, uint64_t off,
                   const char *buf, uint64_t len, char *msg, size_t msglen);

/* --- records (records.c) ------------------------------------------------ */

/* Bytes of a record, and of its key at the front. */
#define GEN_RECORD_SIZE 100
#define GEN_RECORD_KEY 10

/* Record `i` of `seed` into out[0 .. GEN_RECORD_SIZE). Thread-safe. */
void gen_record(uint64_t seed, uint64_t i, unsigned char *out);

/* Write o->n records to `path` by MPI-IO, rank r the records
 * [gen_split(n, r, size), gen_split(n, r + 1, size)), in rounds whose
 * buffers take at most half of `memory`; published under `path` only when
 * complete. Collective; returns 0 or a PMR_E* code (agreed) with a message
 * in msg. st->bytes is this rank's, st->lines its records. */
int gen_records_write(const gen_opts *o, MPI_Comm comm, const char *path,
                      size_t memory, int threads, gen_progress_fn progress,
                      void *user, gen_text_stats *st, char *msg,
                      size_t msglen);

/* --- R-MAT graphs (graph.c) ---------------------------------------------- */

/* Edges [lo, hi) as (src, dst) int64 pairs into out[2 * (hi - lo)], with
 * `threads` threads. Not collective. */
void gen_graph_fill(const gen_opts *o, uint64_t lo, uint64_t hi, int64_t *out,
                    int threads);

/* Write the edges as "src dst" lines to `path` by MPI-IO, published when
 * complete. Collective; returns 0 or a PMR_E* code (agreed), message in
 * msg. */
int gen_graph_write_text(const gen_opts *o, MPI_Comm comm, const char *path,
                         size_t memory, int threads, gen_progress_fn progress,
                         void *user, gen_text_stats *st, char *msg,
                         size_t msglen);

#endif
