/* The base of libpmr: the context, errors and their collective agreement,
 * logging, statistics, allocation (with a fault-injection hook for tests),
 * growable buffers and checked size arithmetic. Every other stage builds on
 * this header; it depends on nothing but pmr.h. Never installed. */
#ifndef PMR_BASE_H
#define PMR_BASE_H

#include "pmr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PMR__ERRMSG_MAX 1024
#define PMR__MIN_MEMORY ((size_t)1 << 20)
#define PMR__DEFAULT_MEMORY ((size_t)256 << 20)

#if defined(__GNUC__)
#define PMR__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PMR__INLINE static inline __attribute__((always_inline))
#else
#define PMR__PRINTF(a, b)
#define PMR__INLINE static inline
#endif

/* The settings of pmr_ctx_set_option, in one place. */
typedef struct pmr__options {
  size_t chunk_size; /* 0: automatic */
  int reader;        /* PMR_READER_* */
  int line_numbers;  /* 0/1 */
} pmr__options;

struct pmr_ctx {
  MPI_Comm comm;
  int rank, size;
  int nthreads;
  size_t memory;
  char *tmpdir;
  pmr__options opt;
  char errmsg[PMR__ERRMSG_MAX];
  pmr_log_fn log_fn;
  pmr_log_level log_level;
  void *log_user;
  pmr_progress_fn progress_fn;
  void *progress_user;
  pmr_stats stats;
  /* Outputs held back by pmr_outputs_hold: complete files under their
   * temporary names (rank 0's list), published by pmr_outputs_publish. */
  int holding;
  int nheld;
  char **held_tmp, **held_path;
  double t_created; /* pmr__now() at pmr_ctx_create: the stats' wall time */
};

/* ---- allocation (alloc.c) ----
 * Every allocation of the library goes through these, so a test build can
 * make the n-th one fail (pmr__alloc_fail_after) and count what is live. */
void *pmr__malloc(size_t n);
void *pmr__calloc(size_t n, size_t size);
void *pmr__realloc(void *p, size_t n);
char *pmr__strdup(const char *s);
void pmr__free(void *p);
/* posix_memalign through the same hook. */
int pmr__memalign(void **p, size_t align, size_t n);
/* Test hooks: fail every allocation from the n-th one on (n >= 1; 0 turns
 * it off); the number of allocations made so far; and the blocks live now.
 * Only a build with PMR_FAULT_INJECTION honours them. */
void pmr__alloc_fail_after(uint64_t n);
uint64_t pmr__alloc_count(void);
int64_t pmr__alloc_live(void);

/* ---- checked size arithmetic ---- */
static inline bool pmr__add_ovf(size_t a, size_t b, size_t *r) {
  return __builtin_add_overflow(a, b, r);
}
static inline bool pmr__mul_ovf(size_t a, size_t b, size_t *r) {
  return __builtin_mul_overflow(a, b, r);
}

/* ---- growable byte buffer (buf.c) ---- */
typedef struct pmr__buf {
  unsigned char *p;
  size_t len, cap;
} pmr__buf;
/* Room for `more` bytes past len (doubling, overflow checked). */
int pmr__buf_reserve(pmr__buf *b, size_t more);
/* Append n bytes. */
int pmr__buf_put(pmr__buf *b, const void *d, size_t n);
void pmr__buf_free(pmr__buf *b);
/* Grow an array of `*cap` elements of `size` to hold at least `need`
 * (doubling from `first`). */
int pmr__grow_array(void **p, size_t *cap, size_t need, size_t size,
                    size_t first);

/* ---- errors (error.c) ---- */

/* Record a local error message (printf-style) and return `code`. Only the
 * calling rank's message changes; use pmr__agree() in collective calls. */
int pmr__seterr(pmr_ctx *ctx, int code, const char *fmt, ...)
    PMR__PRINTF(3, 4);
/* Map an errno value to a pmr code. */
int pmr__errno_code(int err);
/* strerror that is safe on any thread. */
const char *pmr__strerror(int err, char *buf, size_t n);
/* Turn an MPI return code into PMR_EMPI with a message. */
int pmr__mpierr(pmr_ctx *ctx, int mpirc, const char *what);

/* ---- collective agreement (coll.c) ---- */

/* Collective: agree on the outcome of a step. Every rank passes its local
 * code (message already set with pmr__seterr on a failing rank); every rank
 * gets the same code back and the failing rank's message. On success the
 * message is cleared. If the agreement itself cannot be made (the
 * communicator is broken), PMR_EMPI is returned on the ranks that saw it;
 * MPI errors of that kind are not recoverable. */
int pmr__agree(pmr_ctx *ctx, int code);
/* Agree after an MPI call: `mpirc` turned into PMR_EMPI naming `what` on
 * the ranks where it failed, then agreed, so every rank takes the same
 * branch afterwards. */
int pmr__agree_mpi(pmr_ctx *ctx, int mpirc, const char *what);

/* The argument check of a collective call: when `bad`, every rank returns
 * PMR_EINVAL with `msg` (agreed, so a mistake made on one rank only cannot
 * leave the others waiting). */
int pmr__agree_arg(pmr_ctx *ctx, bool bad, const char *msg);

/* Stop on error: PMR__TRY(rc = f(...)); */
#define PMR__TRY(expr)                                                      \
  do {                                                                       \
    int pmr__try_rc = (expr);                                                \
    if (pmr__try_rc)                                                         \
      return pmr__try_rc;                                                    \
  } while (0)

/* ---- logging and time (log.c) ---- */
void pmr__log(pmr_ctx *ctx, pmr_log_level level, const char *fmt, ...)
    PMR__PRINTF(3, 4);
void pmr__stderr_log(pmr_log_level level, int rank, const char *msg,
                     void *user);
double pmr__now(void);

/* ---- statistics (stats.c) ---- */
size_t pmr__peak_rss(void);

/* ---- signals and temporary files (signal.c) ----
 * The temporary files of outputs in progress are recorded here, so that a
 * stop signal removes them (pmr_signals_install). Register returns a slot,
 * or -1 when the table is full (the file is then only unprotected). */
int pmr__tmp_register(const char *name);
void pmr__tmp_unregister(const char *name);
/* The input file the calling thread has mapped, named by the SIGBUS
 * handler when that file shrinks under the mapping. */
extern __thread const char *pmr__reading
    __attribute__((tls_model("initial-exec")));

/* Rank 0's held outputs (pmr_outputs_hold): forget them, removing the
 * files first when `remove` (ctx.c). */
void pmr__held_drop(pmr_ctx *ctx, bool remove);

/* ---- ranges ---- */
/* Part i of `parts` near-equal contiguous parts of [0, total). */
void pmr__split_range(uint64_t total, int parts, int i, uint64_t *lo,
                      uint64_t *hi);

#endif
