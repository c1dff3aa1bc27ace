/* pmr-gen records: 100-byte records in the layout of the TeraSort
 * benchmark's generator (gensort), for pmr-sort.
 *
 * Record i (0-based) of seed s is a function of (s, i) alone, from call i of
 * the records stream (rng.h: words w0 = word 2i, w1 = word 2i + 1):
 *   [0, 10)   the key: the 8 bytes of w0, least significant first, then the
 *             two low bytes of w1 (uniform over all 2^80 keys)
 *   [10, 12)  0x00 0x11
 *   [12, 44)  i as 32 upper-case hexadecimal digits (the row id)
 *   [44, 48)  0x88 0x99 0xAA 0xBB
 *   [48, 96)  12 groups of 4 copies of one upper-case hex digit: group g is
 *             digit (w1 >> (16 + 4g)) & 15
 *   [96, 100) 0xCC 0xDD 0xEE 0xFF
 * so the file is the same at any rank and thread count. Rank r writes the
 * records [split(n, r), split(n, r + 1)) at offset 100 x split(n, r), in
 * rounds that every rank takes part in (one collective MPI-IO write each). */
#define _GNU_SOURCE
#include "gen.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char hexdig[] = "0123456789ABCDEF";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Record i from its two words. */
static void fill(uint64_t i, uint64_t w0, uint64_t w1, unsigned char *r) {
  for (int b = 0; b < 8; b++)
    r[b] = (unsigned char)(w0 >> (8 * b));
  r[8] = (unsigned char)w1;
  r[9] = (unsigned char)(w1 >> 8);
  r[10] = 0x00;
  r[11] = 0x11;
  memset(r + 12, '0', 16); /* the high 64 bits of the 128-bit row id */
  for (int d = 0; d < 16; d++)
    r[12 + 16 + d] = (unsigned char)hexdig[(i >> (4 * (15 - d))) & 15];
  r[44] = 0x88;
  r[45] = 0x99;
  r[46] = 0xAA;
  r[47] = 0xBB;
  for (int g = 0; g < 12; g++)
    memset(r + 48 + 4 * g, hexdig[(w1 >> (16 + 4 * g)) & 15], 4);
  r[96] = 0xCC;
  r[97] = 0xDD;
  r[98] = 0xEE;
  r[99] = 0xFF;
}

void gen_record(uint64_t seed, uint64_t i, unsigned char *out) {
  uint64_t w[2];
  gen_pair(seed, GEN_STREAM_RECORDS, i, 0, w);
  fill(i, w[0], w[1], out);
}

/* Records [first, first + n) into out, eight Philox calls at a time. */
static void fill_range(uint64_t seed, uint64_t first, uint64_t n,
                       unsigned char *out) {
  uint64_t i = first, end = first + n;
  for (; i + GEN_LANES <= end; i += GEN_LANES) {
    uint64_t w[2 * GEN_LANES];
    gen_pairs8(seed, GEN_STREAM_RECORDS, i, w);
    for (int l = 0; l < GEN_LANES; l++)
      fill(i + (uint64_t)l,
           w[2 * l], w[2 * l + 1], out + (i + (uint64_t)l - first) * GEN_RECORD_SIZE);
  }
  for (; i < end; i++)
    gen_record(seed, i, out + (i - first) * GEN_RECORD_SIZE);
}

int gen_records_write(const gen_opts *o, MPI_Comm comm, const char *path,
                      size_t memory, int threads, gen_progress_fn progress,
                      void *user, gen_text_stats *st, char *msg,
                      size_t msglen) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(st, 0, sizeof *st);
  double t0 = now();
  uint64_t lo = gen_split(o->n, rank, size), hi = gen_split(o->n, rank + 1, size);
  /* Records per round: half the memory budget, at most 1 GiB (one MPI-IO
   * call of int count), at least one; the same on every rank. */
  uint64_t kmax = memory / 2 / GEN_RECORD_SIZE;
  if (kmax > ((uint64_t)1 << 30) / GEN_RECORD_SIZE)
    kmax = ((uint64_t)1 << 30) / GEN_RECORD_SIZE;
  if (kmax < 1)
    kmax = 1;
  /* Rounds: enough for the largest share, ceil(n / size) records. */
  uint64_t most = o->n / (uint64_t)size + (o->n % (uint64_t)size != 0);
  uint64_t rounds = (most + kmax - 1) / kmax;
  MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_UINT64_T, MPI_MAX, comm);
  uint64_t cap = hi - lo < kmax ? hi - lo : kmax;
  unsigned char *buf = malloc(cap ? cap * GEN_RECORD_SIZE : 1);
  int rc = buf ? 0 : PMR_ENOMEM;
  if (rc)
    snprintf(msg, msglen, "out of memory for a buffer of %llu MiB",
             (unsigned long long)(cap * GEN_RECORD_SIZE >> 20));
  rc = gen_agree(comm, rc, msg, msglen);
  gen_file f = {.fh = MPI_FILE_NULL};
  if (!rc)
    rc = gen_file_open(&f, comm, path, msg, msglen);
  st->gen_seconds = now() - t0;

  for (uint64_t j = 0; !rc && j < rounds; j++) {
    double t1 = now();
    uint64_t a = lo + j * kmax < hi ? lo + j * kmax : hi;
    uint64_t b = a + kmax < hi ? a + kmax : hi;
    /* Pieces of 64 records (a multiple of the 8 lanes) over the threads. */
    uint64_t pieces = (b - a + 63) / 64;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (uint64_t p = 0; p < pieces; p++) {
      uint64_t s = a + p * 64, e = s + 64 < b ? s + 64 : b;
      fill_range(o->seed, s, e - s, buf + (s - a) * GEN_RECORD_SIZE);
    }
    double t2 = now();
    st->gen_seconds += t2 - t1;
    MPI_Status mst;
    rc = gen_mpi_code(
        MPI_File_write_at_all(f.fh, (MPI_Offset)(a * GEN_RECORD_SIZE), buf,
                              (int)((b - a) * GEN_RECORD_SIZE), MPI_BYTE, &mst),
        "write", path, msg, msglen);
    if (!rc) {
      int got = 0;
      MPI_Get_count(&mst, MPI_BYTE, &got);
      if ((uint64_t)got != (b - a) * GEN_RECORD_SIZE) {
        rc = PMR_EIO;
        snprintf(msg, msglen, "cannot write '%s': %d of %llu bytes written",
                 path, got, (unsigned long long)((b - a) * GEN_RECORD_SIZE));
      }
    }
    rc = gen_agree(comm, rc, msg, msglen);
    st->write_seconds += now() - t2;
    st->bytes += (b - a) * GEN_RECORD_SIZE;
    st->lines += b - a;
    if (progress && rank == 0)
      progress("generate", j + 1, rounds, user);
  }
  double t3 = now();
  rc = gen_file_close(&f, comm, rc, path, msg, msglen);
  st->write_seconds += now() - t3;
  free(buf);
  return rc;
}
