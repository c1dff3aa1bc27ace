/* pmr-gen graph: R-MAT edge lists with the Graph500 parameters.
 *
 * A graph of scale S has 2^S vertices 0 .. 2^S - 1 and F x 2^S edges
 * (F the edge factor). Edge e is a function of (seed, e) alone: it takes
 * words e W .. e W + W - 1 of the graph stream (rng.h), W = ceil(S / 2), and
 * at level l = 0 .. S - 1 (the most significant bit first) the 32-bit half
 * u of word e W + l / 2 (the low half for even l, the high half for odd l)
 * picks a quadrant of the adjacency matrix:
 *   u < A          (src bit 0, dst bit 0)   A   = floor(0.57 x 2^32)
 *   u < AB         (0, 1)                   AB  = floor(0.76 x 2^32)
 *   u < ABC        (1, 0)                   ABC = floor(0.95 x 2^32)
 *   else           (1, 1)                   (d = 0.05)
 * so src's bits are 1 with probability c + d = 0.24 each, dst's with
 * b + d = 0.24, independently across levels. Vertex labels are not
 * permuted (vertex 0 is the largest hub) and self-loops and repeated edges
 * are kept, as R-MAT draws them: consumers such as pmr-pagerank take the
 * graph as a set of edges.
 *
 * Text output is "src dst\n" per edge, in edge order, written like the text
 * corpus: ranks take consecutive blocks of edges in rounds, agree on where
 * their bytes go and write them with one collective MPI-IO call per round;
 * so the file is the same at any rank and thread count. */
#include "gen.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RMAT_A 2448131358u   /* floor(0.57 * 2^32) */
#define RMAT_AB 3264175144u  /* floor(0.76 * 2^32) */
#define RMAT_ABC 4080218931u /* floor(0.95 * 2^32) */

/* Edges per unit of work: a block's words fit the stack (S <= 62: 31 words
 * per edge). */
#define EDGE_BLOCK 64u

static inline void rmat_edge(const uint64_t *w, int scale, int64_t *out) {
  uint64_t src = 0, dst = 0;
  for (int l = 0; l < scale; l++) {
    uint32_t u = (uint32_t)(w[l >> 1] >> (32 * (l & 1)));
    uint64_t sb = u >= RMAT_AB, db = u >= RMAT_A && (u < RMAT_AB || u >= RMAT_ABC);
    src = src << 1 | sb;
    dst = dst << 1 | db;
  }
  out[0] = (int64_t)src;
  out[1] = (int64_t)dst;
}

/* Edges [a, b), b - a <= EDGE_BLOCK, into out. */
static void fill_block(const gen_opts *o, uint64_t a, uint64_t b,
                       int64_t *out) {
  uint64_t W = (uint64_t)(o->scale + 1) / 2;
  uint64_t w[EDGE_BLOCK * 31];
  gen_words(o->seed, GEN_STREAM_GRAPH, a * W, (b - a) * W, w);
  for (uint64_t e = a; e < b; e++)
    rmat_edge(w + (e - a) * W, o->scale, out + 2 * (e - a));
}

void gen_graph_fill(const gen_opts *o, uint64_t lo, uint64_t hi, int64_t *out,
                    int threads) {
  uint64_t nblocks = (hi - lo + EDGE_BLOCK - 1) / EDGE_BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (uint64_t c = 0; c < nblocks; c++) {
    uint64_t a = lo + c * EDGE_BLOCK;
    uint64_t b = a + EDGE_BLOCK < hi ? a + EDGE_BLOCK : hi;
    fill_block(o, a, b, out + 2 * (a - lo));
  }
}

/* Decimal digits of v, written backwards from `end`; returns the start. */
static inline char *put_u64(char *end, uint64_t v) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

/* Lines of edges [a, b) into out; returns the bytes written (at most
 * 42 per edge). */
static size_t format_edges(const gen_opts *o, uint64_t a, uint64_t b,
                           char *out) {
  size_t n = 0;
  int64_t e[2 * EDGE_BLOCK];
  for (uint64_t s = a; s < b; s += EDGE_BLOCK) {
    uint64_t t = s + EDGE_BLOCK < b ? s + EDGE_BLOCK : b;
    fill_block(o, s, t, e);
    for (uint64_t i = 0; i < t - s; i++) {
      char tmp[48], *end = tmp + sizeof tmp, *p;
      *--end = '\n';
      p = put_u64(end, (uint64_t)e[2 * i + 1]);
      *--p = ' ';
      p = put_u64(p, (uint64_t)e[2 * i]);
      size_t len = (size_t)(tmp + sizeof tmp - p);
      memcpy(out + n, p, len);
      n += len;
    }
  }
  return n;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define LINE_MAX_BYTES 42u /* two 20-digit numbers, a space, a newline */
#define TEXT_BLOCK 4096u   /* edges per block of a thread's work */

int gen_graph_write_text(const gen_opts *o, MPI_Comm comm, const char *path,
                         size_t memory, int threads, gen_progress_fn progress,
                         void *user, gen_text_stats *st, char *msg,
                         size_t msglen) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(st, 0, sizeof *st);
  double t0 = now();
  const uint64_t m = o->n;
  const uint64_t block_bytes = (uint64_t)TEXT_BLOCK * LINE_MAX_BYTES;
  /* Blocks per rank and round: as many as half the memory budget holds, at
   * most 1 GiB (one MPI-IO call), at least one. */
  uint64_t kmax = memory / 2 / block_bytes;
  if (kmax > ((uint64_t)1 << 30) / block_bytes)
    kmax = ((uint64_t)1 << 30) / block_bytes;
  if (kmax < 1)
    kmax = 1;
  uint64_t *lens = malloc(sizeof *lens * (size_t)size);
  size_t *blen = malloc(sizeof *blen * kmax);
  char *buf = malloc(kmax * block_bytes);
  int rc = 0;
  if (!lens || !blen || !buf) {
    rc = PMR_ENOMEM;
    snprintf(msg, msglen, "out of memory for a buffer of %llu MiB",
             (unsigned long long)(kmax * block_bytes >> 20));
  }
  rc = gen_agree(comm, rc, msg, msglen);
  gen_file f = {.fh = MPI_FILE_NULL};
  if (!rc)
    rc = gen_file_open(&f, comm, path, msg, msglen);
  st->gen_seconds = now() - t0;

  /* Round r: the edges [base, base + size k TEXT_BLOCK), rank r taking its
   * k blocks in order, so the file is the edges in order. */
  uint64_t nblocks = (m + TEXT_BLOCK - 1) / TEXT_BLOCK;
  uint64_t k = (nblocks + (uint64_t)size - 1) / (uint64_t)size;
  if (k > kmax)
    k = kmax;
  if (k < 1)
    k = 1;
  uint64_t pos = 0, base = 0;
  while (!rc && base < nblocks) {
    double t1 = now();
    uint64_t first = base + (uint64_t)rank * k;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (uint64_t b = 0; b < k; b++) {
      uint64_t e0 = (first + b) * TEXT_BLOCK, e1 = e0 + TEXT_BLOCK;
      if (e0 > m)
        e0 = m;
      if (e1 > m)
        e1 = m;
      blen[b] = format_edges(o, e0, e1, buf + b * block_bytes);
    }
    uint64_t mylen = 0;
    for (uint64_t b = 0; b < k; b++) {
      memmove(buf + mylen, buf + b * block_bytes, blen[b]);
      mylen += blen[b];
    }
    MPI_Allgather(&mylen, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, comm);
    uint64_t off = pos, total = 0;
    for (int r = 0; r < size; r++) {
      if (r < rank)
        off += lens[r];
      total += lens[r];
    }
    double t2 = now();
    st->gen_seconds += t2 - t1;
    rc = gen_file_write(comm, path, &f, off, buf, mylen, msg, msglen);
    st->write_seconds += now() - t2;
    st->bytes += mylen;
    uint64_t e0 = first * TEXT_BLOCK, e1 = (first + k) * TEXT_BLOCK;
    st->lines += (e1 < m ? e1 : m) - (e0 < m ? e0 : m);
    pos += total;
    base += (uint64_t)size * k;
    if (progress && rank == 0)
      progress("generate", base < nblocks ? base : nblocks, nblocks, user);
  }
  double t3 = now();
  rc = gen_file_close(&f, comm, rc, path, msg, msglen);
  st->write_seconds += now() - t3;
  free(buf);
  free(blen);
  free(lens);
  return rc;
}
