/* Spill: private temporary files for data past the memory budget.
 *
 * A spill file is created under the context's tmpdir with exclusive
 * creation (mkstemp, name prefix ".pmr-spill-") and unlinked at once: only
 * its descriptor names it, so it vanishes when it is closed, on an error
 * path, at a normal exit and even when the process is killed. Writes are
 * appends through full-write loops that check every byte count (a full disk
 * is PMR_EIO "spill file in 'DIR': No space left on device"); reads are
 * pread()s at offsets, so several readers share one descriptor.
 *
 * On top of the files: a buffered appender, a buffered sequential reader of
 * wire-format pairs (shuffle/wire.h) over a byte range, and a k-way merge
 * (binary heap) of sorted runs, each read through a bounded buffer.
 *
 * Errors set the context's message inside `#pragma omp critical(pmr__err)`,
 * so threads that spill at the same time may share one context. Each object
 * is used by one thread at a time. Depends on base (and the wire format). */
#ifndef PMR_SPILL_H
#define PMR_SPILL_H

#include "base/base.h"

#define PMR__SPILL_PREFIX ".pmr-spill-"

/* Set the context's message under the shared critical section. */
int pmr__spill_seterr(pmr_ctx *ctx, int code, const char *fmt, ...)
    PMR__PRINTF(3, 4);

/* ---- files ---- */
typedef struct pmr__spill_file {
  pmr_ctx *ctx;
  int fd;        /* -1: closed */
  uint64_t size; /* bytes appended so far */
} pmr__spill_file;

/* Create an unlinked private file under ctx->tmpdir. On failure f->fd is -1
 * and the message names the directory and the reason: PMR_ENOENT (no such
 * directory), PMR_EACCES (not writable), PMR_EIO. Local. */
int pmr__spill_open(pmr_ctx *ctx, pmr__spill_file *f);
/* Close (accepts a closed or zeroed file after pmr__spill_init). */
void pmr__spill_init(pmr__spill_file *f);
void pmr__spill_close(pmr__spill_file *f);
/* Append n bytes (all of them, or an error). */
int pmr__spill_append(pmr__spill_file *f, const void *p, size_t n);
/* Read exactly n bytes at off (a short file is PMR_EIO). */
int pmr__spill_pread(const pmr__spill_file *f, void *p, size_t n,
                     uint64_t off);

/* ---- buffered appender ---- */
typedef struct pmr__spill_writer {
  pmr__spill_file *f;
  unsigned char *buf;
  size_t len, cap;
  int err; /* the code of the failure when _room returned NULL */
} pmr__spill_writer;
int pmr__spill_writer_init(pmr__spill_writer *w, pmr__spill_file *f,
                           size_t cap);
/* Room for n bytes at the end of the buffer (flushing first if needed);
 * returns where to write them, NULL on error. Commit with _wrote. */
unsigned char *pmr__spill_writer_room(pmr__spill_writer *w, size_t n);
static inline void pmr__spill_writer_wrote(pmr__spill_writer *w, size_t n) {
  w->len += n;
}
int pmr__spill_writer_put(pmr__spill_writer *w, const void *p, size_t n);
/* The file offset the next byte will have. */
static inline uint64_t pmr__spill_writer_tell(const pmr__spill_writer *w) {
  return w->f->size + w->len;
}
int pmr__spill_writer_flush(pmr__spill_writer *w);
/* Frees the buffer (does not flush). */
void pmr__spill_writer_free(pmr__spill_writer *w);

/* ---- sorted runs and their reader ---- */

/* A run: wire-format pairs (values of vsize bytes, or PMR__RAGGED) in a file
 * range, in the order of the comparator that wrote them. */
typedef struct pmr__spill_run {
  const pmr__spill_file *f;
  uint64_t off, len;
} pmr__spill_run;

/* One pair as the readers hand it out: pointers valid until the next call
 * on the reader (or merge) that returned it. */
typedef struct pmr__spill_rec {
  const unsigned char *key;
  size_t klen;
  const unsigned char *val;
  size_t vlen;
} pmr__spill_rec;

/* An order of pairs: negative, 0, positive as memcmp. */
typedef int (*pmr__spill_cmp)(const pmr__spill_rec *a,
                              const pmr__spill_rec *b, void *user);
/* Key bytes (memcmp, a prefix first), then value bytes the same way. */
int pmr__spill_cmp_key(const pmr__spill_rec *a, const pmr__spill_rec *b,
                       void *user);
/* Key bytes only. */
int pmr__spill_cmp_key_only(const pmr__spill_rec *a, const pmr__spill_rec *b,
                            void *user);

typedef struct pmr__spill_reader {
  const pmr__spill_file *f;
  uint64_t pos, end; /* file range not yet buffered */
  size_t vsize;
  unsigned char *buf;
  size_t cap, lo, hi; /* buffered bytes are buf[lo, hi) */
} pmr__spill_reader;
/* A reader over the run, with a buffer of `cap` bytes (grown only for a
 * pair larger than it). */
int pmr__spill_reader_init(pmr__spill_reader *rd, const pmr__spill_run *run,
                           size_t vsize, size_t cap);
/* 1: *r holds the next pair; 0: the end; < 0: an error (message set; a
 * truncated pair is PMR_EIO). */
int pmr__spill_reader_next(pmr__spill_reader *rd, pmr__spill_rec *r);
void pmr__spill_reader_free(pmr__spill_reader *rd);

/* ---- k-way merge ---- */
typedef struct pmr__spill_merge pmr__spill_merge;
/* Merge n runs sorted by cmp (NULL: pmr__spill_cmp_key) with a buffer of
 * about `bufsize` bytes per run; equal pairs come out in run order. */
int pmr__spill_merge_open(pmr_ctx *ctx, const pmr__spill_run *runs, int n,
                          size_t vsize, pmr__spill_cmp cmp, void *cmp_user,
                          size_t bufsize, pmr__spill_merge **out);
/* 1: *r holds the next pair; 0: the end; < 0: an error (message set). */
int pmr__spill_merge_next(pmr__spill_merge *m, pmr__spill_rec *r);
void pmr__spill_merge_close(pmr__spill_merge **m);

#endif
