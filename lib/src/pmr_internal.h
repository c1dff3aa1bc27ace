/* Internals of libpmr: shared by lib/src, never installed. */
#ifndef PMR_INTERNAL_H
#define PMR_INTERNAL_H

#include "pmr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#define PMR__ERRMSG_MAX 1024
#define PMR__MIN_MEMORY ((size_t)1 << 20)
#define PMR__DEFAULT_MEMORY ((size_t)256 << 20)

struct pmr_ctx {
  MPI_Comm comm;
  int rank, size;
  int nthreads;
  size_t memory;
  char *tmpdir;
  char errmsg[PMR__ERRMSG_MAX];
  pmr_log_fn log_fn;
  pmr_log_level log_level;
  void *log_user;
  pmr_progress_fn progress_fn;
  void *progress_user;
  pmr_stats stats;
  size_t chunk_override; /* PMR_CHUNK_SIZE, for tests of chunk boundaries */
};

/* ---- errors (error.c) ---- */

/* Record a local error message (printf-style) and return `code`. Only the
 * calling rank's message changes; use pmr__agree() in collective calls. */
int pmr__seterr(pmr_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Map an errno value to a pmr code. */
int pmr__errno_code(int err);
/* Collective: agree on the outcome of a step. Every rank passes its local
 * code (message already set with pmr__seterr on a failing rank); every rank
 * gets the same code back and the failing rank's message. On success the
 * message is cleared. */
int pmr__agree(pmr_ctx *ctx, int code);
/* Turn an MPI return code into PMR_EMPI with a message. */
int pmr__mpierr(pmr_ctx *ctx, int mpirc, const char *what);

/* ---- logging and time (ctx.c) ---- */
void pmr__log(pmr_ctx *ctx, pmr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
double pmr__now(void);

/* ---- hashing and the combining table (table.c) ---- */

/* The home slot of a hash in a table of 2^(64 - shift) slots: the top bits
 * of a multiplicative remix, seeded per table. The seed matters: the shuffle
 * fills one table while iterating others, and with one shared mapping the
 * keys would arrive sorted by home slot, so that a smaller table fills up
 * locally into one long cluster (quadratic probing time). The remix also
 * spreads the keys of one rank, whose hashes share their top bits (see
 * pmr__hash_rank), over the whole table. */
static inline uint64_t pmr__home(uint64_t h, uint64_t seed, unsigned shift) {
  return ((h ^ seed) * 0x9e3779b97f4a7c15ull) >> shift;
}

/* Which rank owns a hash, and which of a rank's `nthreads` threads: two
 * independent functions of the high 32 bits (the table uses the low bits). */
static inline int pmr__hash_rank(uint64_t h, int nranks) {
  return (int)(((h >> 32) * (uint64_t)nranks) >> 32);
}
static inline int pmr__hash_thread(uint64_t h, int nranks, int nthreads) {
  uint64_t frac = ((h >> 32) * (uint64_t)nranks) & 0xffffffffu;
  return (int)((frac * (uint64_t)nthreads) >> 32);
}

/* One slot is 32 bytes, two to a cache line, and holds everything a lookup
 * of the common pair needs: a key of up to 12 bytes and a value of up to 8
 * bytes live in the slot itself, so a probe touches one line. Longer keys
 * and values go to an arena; the slot keeps their offsets. */
#define PMR__INLINE_KEY 12
typedef struct pmr__slot {
  uint64_t hash;
  uint64_t val;   /* the value (vsize <= 8), else its arena offset */
  uint32_t klen1; /* 0: empty; else min(klen, 2^32 - 2) + 1 */
  unsigned char key[PMR__INLINE_KEY]; /* the key, zero padded, or (klen >
                                         12) its arena offset: [u64 klen][bytes] */
} pmr__slot;

typedef struct pmr__table {
  pmr__slot *slots;
  uint64_t mask; /* capacity - 1 (power of two) or 0 before first insert */
  unsigned shift; /* 64 - log2(capacity) */
  uint64_t seed;  /* distinct for every table (see pmr__home) */
  uint64_t count;
  unsigned char *arena; /* long keys, large values */
  size_t used, cap;
  size_t vsize;
} pmr__table;

void pmr__table_init(pmr__table *t, size_t vsize);
void pmr__table_free(pmr__table *t);
/* Size the slot array for about `n` keys (no shrinking). */
int pmr__table_reserve(pmr__table *t, uint64_t n);
/* Hashing, find and upsert: table_inline.h. */

/* A pair as iteration sees it (pointers valid until the table changes). */
typedef struct pmr__rec {
  uint64_t hash;
  size_t klen;
  unsigned char *value;
  const unsigned char *key;
} pmr__rec;
/* Iterate: start with *pos = 0; fills *r with the next pair at or after
 * *pos and moves *pos past it; false at the end. Order unspecified. */
bool pmr__table_next(const pmr__table *t, size_t *pos, pmr__rec *r);
size_t pmr__table_bytes(const pmr__table *t);

/* ---- key/value sets (kv.c) ---- */

struct pmr_kv {
  pmr_ctx *ctx;
  pmr_op op;      /* built-in op, or -1 for a user combiner */
  pmr_dtype dtype;
  size_t vsize;
  pmr_combine_fn combine;
  void *user;
  pmr__table *tables; /* one per thread; keys disjoint after reduce */
  int ntables;
  bool reduced;
};

struct pmr_emitter {
  pmr_kv *kv;
  pmr__table *table;
  int thread;
  int status; /* first error of this emitter */
  uint64_t emitted;
};

/* Make sure kv has at least n tables. */
int pmr__kv_tables(pmr_kv *kv, int n);
/* Fold `in` into `acc` with the set's combiner (COUNT merges by sum). */
void pmr__kv_merge(const pmr_kv *kv, void *acc, const void *in);

/* ---- output files (output.c) ---- */

/* Collective: check `path` can be written, and agree on a temporary name in
 * its directory (malloc'ed into *tmp on every rank). */
int pmr__out_begin(pmr_ctx *ctx, const char *path, char **tmp);
/* Collective: agree on `rc`; on success rank 0 renames tmp to path, else
 * removes tmp. Frees *tmp. Returns the agreed code. */
int pmr__out_finish(pmr_ctx *ctx, int rc, const char *path, char **tmp);

/* ---- small helpers ---- */
void pmr__split_range(uint64_t total, int parts, int i, uint64_t *lo,
                      uint64_t *hi);
static inline size_t pmr__varint_put(unsigned char *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (unsigned char)v;
  return n;
}
static inline size_t pmr__varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}
/* Decode a varint from [p, end); returns bytes used, 0 if incomplete. */
static inline size_t pmr__varint_get(const unsigned char *p,
                                     const unsigned char *end, uint64_t *v) {
  uint64_t x = 0;
  unsigned shift = 0;
  size_t n = 0;
  while (p + n < end && shift < 64) {
    unsigned char b = p[n++];
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return n;
    }
    shift += 7;
  }
  return 0;
}

#endif
