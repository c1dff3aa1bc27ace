/*
 * pmr.h -- data-parallel map/reduce over MPI ranks and OpenMP threads.
 *
 * The one public header of libpmr. It reads top to bottom:
 *   1. version and errors
 *   2. the context (pmr_ctx): communicator, threads, memory budget, logging
 *   3. key/value sets (pmr_kv) and their combiners
 *   4. map: text input split over ranks and threads, the emitter
 *   5. reduce: shuffle over MPI and combine
 *   6. results: iterate, top-N, HDF5 and text output
 *
 * Lifecycle:
 *   MPI_Init_thread(.., MPI_THREAD_FUNNELED, ..)
 *   pmr_ctx_create -> pmr_kv_create -> pmr_map_text ... -> pmr_kv_reduce
 *   -> pmr_kv_write_h5 / pmr_kv_top / pmr_kv_foreach
 *   -> pmr_kv_destroy -> pmr_ctx_destroy
 *   MPI_Finalize
 *
 * **Thread safety.** Unless a function says otherwise, pmr objects are not
 * thread-safe: call the functions of one pmr_ctx (and its pmr_kv objects)
 * from one thread, the one that makes MPI calls. Only pmr_emit*() are called
 * from inside the map callbacks, which run on several OpenMP threads at once;
 * each thread has its own emitter.
 *
 * **Errors.** Every function that can fail returns int: PMR_OK (0) or one of
 * the PMR_E* codes. A collective call agrees on its outcome before it
 * returns: every rank returns the same code, and pmr_errmsg() gives every
 * rank the same message (the failing rank's, e.g. "cannot open 'x.txt': No
 * such file or directory"). No rank is ever left waiting in a later
 * collective because another rank failed. The library never prints (unless
 * asked through a log callback or PMR_LOG=debug), never exits, never aborts.
 */
#ifndef PMR_H
#define PMR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PMR_EXTERN
#elif defined(__GNUC__) && __GNUC__ >= 4
#define PMR_EXTERN __attribute__((visibility("default")))
#else
#define PMR_EXTERN
#endif

/* ---------------------------------------------------------------------
 * 1. Version and errors
 * ------------------------------------------------------------------- */

#define PMR_VERSION_MAJOR 0
#define PMR_VERSION_MINOR 1
#define PMR_VERSION_PATCH 0
#define PMR_VERSION_NUMBER \
  (PMR_VERSION_MAJOR * 10000 + PMR_VERSION_MINOR * 100 + PMR_VERSION_PATCH)
#define PMR_VERSION_STRING "0.1.0"

/* Run-time version of the library actually linked (PMR_VERSION_NUMBER form). */
PMR_EXTERN unsigned pmr_version_number(void);
/* Run-time version string, e.g. "0.1.0". Static storage. */
PMR_EXTERN const char *pmr_version_string(void);

/* Error codes: XX(NAME, value, message). Codes are positive, so the largest
 * code over all ranks (an MPI_MAX reduction) is an error whenever any rank
 * failed. */
#define PMR_ERRNO_MAP(XX)                                                  \
  XX(EINVAL, 1, "invalid argument")                                        \
  XX(ENOMEM, 2, "out of memory")                                           \
  XX(ENOENT, 3, "no such file or directory")                               \
  XX(EACCES, 4, "permission denied")                                       \
  XX(EISDIR, 5, "is a directory")                                          \
  XX(EIO, 6, "input/output error")                                         \
  XX(EMPI, 7, "MPI error")                                                 \
  XX(EHDF5, 8, "HDF5 error")                                               \
  XX(ECALLBACK, 9, "a user callback failed")                               \
  XX(EOVERFLOW, 10, "value too large")                                     \
  XX(ETHREAD, 11, "MPI thread support too low (need MPI_THREAD_FUNNELED)") \
  XX(ESTATE, 12, "call not valid in this state")

typedef enum pmr_errno {
  PMR_OK = 0,
#define PMR__ERR_ENUM(name, val, msg) PMR_##name = val,
  PMR_ERRNO_MAP(PMR__ERR_ENUM)
#undef PMR__ERR_ENUM
  PMR__ERR_MAX
} pmr_errno;

/* A static message for a code ("unknown error" for unknown codes). */
PMR_EXTERN const char *pmr_strerror(int code);
/* The code's name ("PMR_ENOENT"). Static storage. */
PMR_EXTERN const char *pmr_err_name(int code);

/* ---------------------------------------------------------------------
 * 2. The context
 * ------------------------------------------------------------------- */

/* Opaque. Holds a duplicate of the caller's communicator, the thread
 * count, the memory budget, the temporary directory, the last error message,
 * the log and progress callbacks, and phase timings. */
typedef struct pmr_ctx pmr_ctx;

/* Create a context over `comm` (duplicated; the caller keeps `comm`).
 * MPI must be initialised with at least MPI_THREAD_FUNNELED.
 * Defaults: threads = OMP_NUM_THREADS if set, else the cores this rank may
 * use (divided among the node's ranks when none are bound); memory budget =
 * PMR_MEMORY (e.g. "512M") if set, else 256 MiB; tmpdir = TMPDIR or /tmp.
 *
 * Collective over comm. Thread safety: call from the MPI thread.
 * Ownership: *out is the caller's; release with pmr_ctx_destroy().
 * Returns PMR_OK, PMR_ETHREAD (thread level too low), PMR_EMPI, PMR_ENOMEM;
 * on error *out is NULL. */
PMR_EXTERN int pmr_ctx_create(MPI_Comm comm, pmr_ctx **out);

/* Destroy a context and free its communicator. Accepts NULL and *ctx ==
 * NULL; sets *ctx = NULL. Destroy every pmr_kv of the context first.
 * Collective over the context's communicator. Returns PMR_OK. */
PMR_EXTERN int pmr_ctx_destroy(pmr_ctx **ctx);

/* Threads per rank for map and reduce (n >= 1). Not collective (but give
 * every rank the same value for balanced work). Returns PMR_OK, PMR_EINVAL. */
PMR_EXTERN int pmr_ctx_set_threads(pmr_ctx *ctx, int n);
PMR_EXTERN int pmr_ctx_threads(const pmr_ctx *ctx);

/* Per-rank memory budget in bytes (>= 1 MiB). It bounds the shuffle's
 * buffers per round and the input buffers. Not collective, but must be the
 * same on every rank. Returns PMR_OK, PMR_EINVAL. */
PMR_EXTERN int pmr_ctx_set_memory(pmr_ctx *ctx, size_t bytes);
PMR_EXTERN size_t pmr_ctx_memory(const pmr_ctx *ctx);

/* Directory for temporary files (copied). Not collective.
 * Returns PMR_OK, PMR_EINVAL, PMR_ENOMEM. */
PMR_EXTERN int pmr_ctx_set_tmpdir(pmr_ctx *ctx, const char *dir);
PMR_EXTERN const char *pmr_ctx_tmpdir(const pmr_ctx *ctx);

/* The context's communicator (the duplicate), rank and size. Not collective. */
PMR_EXTERN MPI_Comm pmr_ctx_comm(const pmr_ctx *ctx);
PMR_EXTERN int pmr_ctx_rank(const pmr_ctx *ctx);
PMR_EXTERN int pmr_ctx_size(const pmr_ctx *ctx);

/* The message of the last error of a call on this context (same on every
 * rank after a collective call), or "" when there was none. Valid until the
 * next call on the context. Not collective. */
PMR_EXTERN const char *pmr_errmsg(const pmr_ctx *ctx);

/* Parse a size such as "256M", "2G", "65536", "1.5g" (binary units K, M, G,
 * T; optional trailing 'B' or "iB"). Not collective; thread-safe.
 * Returns PMR_OK or PMR_EINVAL. */
PMR_EXTERN int pmr_parse_size(const char *s, size_t *bytes);

typedef enum pmr_log_level {
  PMR_LOG_ERROR = 0,
  PMR_LOG_WARN = 1,
  PMR_LOG_INFO = 2,
  PMR_LOG_DEBUG = 3
} pmr_log_level;

/* Log callback: called on the MPI thread of the rank that logs. */
typedef void (*pmr_log_fn)(pmr_log_level level, int rank, const char *msg,
                           void *user);

/* Install a log callback for messages up to `max_level` (NULL: silent, the
 * default; PMR_LOG=debug|info|warn in the environment logs to stderr).
 * Not collective. */
PMR_EXTERN void pmr_ctx_set_log(pmr_ctx *ctx, pmr_log_fn fn,
                                pmr_log_level max_level, void *user);

/* Progress callback: `done` of `total` units (bytes for input) of `phase`
 * ("map", "shuffle", ...) on this rank. Called on rank 0 only, at most about
 * twice a second, from the MPI thread (OpenMP thread 0 of rank 0 while
 * mapping). */
typedef void (*pmr_progress_fn)(const char *phase, uint64_t done,
                                uint64_t total, void *user);
PMR_EXTERN void pmr_ctx_set_progress(pmr_ctx *ctx, pmr_progress_fn fn,
                                     void *user);

/* Phases timed by the context, in seconds of wall time on each rank. */
typedef enum pmr_phase {
  PMR_PHASE_MAP = 0,     /* read input, map, combine in threads */
  PMR_PHASE_SHUFFLE = 1, /* partition, exchange over MPI */
  PMR_PHASE_REDUCE = 2,  /* combine what was received */
  PMR_PHASE_WRITE = 3,   /* HDF5 / text output */
  PMR_PHASE_COUNT
} pmr_phase;

/* Counters kept by the context (this rank's, accumulated over calls). */
typedef struct pmr_stats {
  double seconds[PMR_PHASE_COUNT];
  uint64_t input_bytes;  /* bytes of input this rank read */
  uint64_t records;      /* records (lines) this rank mapped */
  uint64_t emitted;      /* pairs emitted by the map callbacks */
  uint64_t shuffled_bytes; /* bytes this rank sent in shuffles */
  uint64_t shuffle_rounds;
  size_t peak_rss;       /* peak resident set of this process, bytes */
} pmr_stats;

/* This rank's counters. Not collective. */
PMR_EXTERN void pmr_ctx_stats(const pmr_ctx *ctx, pmr_stats *out);

/* Totals over all ranks: sums of the counters, max of seconds and peak RSS.
 * Collective. Returns PMR_OK or PMR_EMPI. */
PMR_EXTERN int pmr_ctx_stats_global(pmr_ctx *ctx, pmr_stats *out);

/* Print a table of phase timings (min/mean/max over ranks), counters and
 * peak RSS to `fp` on rank 0 (others print nothing). Collective.
 * Returns PMR_OK or PMR_EMPI. */
PMR_EXTERN int pmr_ctx_print_stats(pmr_ctx *ctx, FILE *fp);

/* ---------------------------------------------------------------------
 * 3. Key/value sets
 * ------------------------------------------------------------------- */

/* Opaque distributed set of (key, value) pairs. Keys are byte strings of any
 * length (including 0 and bytes 0x00); values have one fixed size per set.
 * Pairs with equal keys are combined as they are inserted. */
typedef struct pmr_kv pmr_kv;

/* Value types, which also fix the HDF5 type of the written values. */
typedef enum pmr_dtype {
  PMR_INT64 = 0,   /* int64_t */
  PMR_FLOAT64 = 1, /* double */
  PMR_BYTES = 2    /* opaque, value_size bytes (written as uint8 [n, size]) */
} pmr_dtype;

/* Built-in combiners. */
typedef enum pmr_op {
  PMR_SUM_I64 = 0, /* int64 sum (wraps like two's complement) */
  PMR_MIN_I64,
  PMR_MAX_I64,
  PMR_SUM_F64,
  PMR_MIN_F64,
  PMR_MAX_F64,
  PMR_COUNT        /* int64: emit any value, counts the emits */
} pmr_op;

/* User combine: fold `in` into `acc` (both value_size bytes). Must be
 * associative and commutative. Called from several threads at once, each on
 * its own values: it must be thread-safe for distinct arguments. */
typedef void (*pmr_combine_fn)(void *acc, const void *in, void *user);

/* Create an empty set with a built-in combiner. Not collective (but every
 * rank must create its set before a collective call uses it).
 * Ownership: *out is the caller's; release with pmr_kv_destroy().
 * Returns PMR_OK, PMR_EINVAL, PMR_ENOMEM. */
PMR_EXTERN int pmr_kv_create(pmr_ctx *ctx, pmr_op op, pmr_kv **out);

/* Create an empty set with a user combiner for values of `value_size`
 * (1..4096) bytes, written to HDF5 as `dtype` (PMR_INT64/PMR_FLOAT64 need
 * value_size 8). `user` is passed to `fn` and must outlive the set.
 * Returns PMR_OK, PMR_EINVAL, PMR_ENOMEM. */
PMR_EXTERN int pmr_kv_create_user(pmr_ctx *ctx, size_t value_size,
                                  pmr_dtype dtype, pmr_combine_fn fn,
                                  void *user, pmr_kv **out);

/* Destroy a set. Accepts NULL; sets *kv = NULL. Not collective. */
PMR_EXTERN void pmr_kv_destroy(pmr_kv **kv);

/* Pairs held on this rank (after pmr_kv_reduce: distinct keys). */
PMR_EXTERN uint64_t pmr_kv_local_size(const pmr_kv *kv);
/* Value size in bytes and type. */
PMR_EXTERN size_t pmr_kv_value_size(const pmr_kv *kv);
PMR_EXTERN pmr_dtype pmr_kv_dtype(const pmr_kv *kv);

/* ---------------------------------------------------------------------
 * 4. Map
 * ------------------------------------------------------------------- */

/* Thread-local handle through which a map callback emits pairs. */
typedef struct pmr_emitter pmr_emitter;

/* Emit one pair: `key` of `klen` bytes (copied), `value` of the set's value
 * size (copied). Combined at once with an equal key emitted earlier by the
 * same thread. Thread safety: only on the emitter passed to the callback.
 * Returns PMR_OK or PMR_ENOMEM (return it from the callback). */
PMR_EXTERN int pmr_emit(pmr_emitter *em, const void *key, size_t klen,
                        const void *value);
/* Emit an int64 value (sets with an 8-byte value). */
PMR_EXTERN int pmr_emit_i64(pmr_emitter *em, const void *key, size_t klen,
                            int64_t value);
/* Emit a double value (sets with an 8-byte value). */
PMR_EXTERN int pmr_emit_f64(pmr_emitter *em, const void *key, size_t klen,
                            double value);

/* The OpenMP thread number (0..threads-1) that owns an emitter; useful for
 * per-thread user state. */
PMR_EXTERN int pmr_emitter_thread(const pmr_emitter *em);

/* Map callback for text: one record (a line, without its '\n'; a '\r'
 * before it is kept) of `len` bytes; not NUL-terminated, valid only during
 * the call. `file_index` says which input it came from. Return 0 to go on,
 * anything else to stop the map with PMR_ECALLBACK. Runs on several threads
 * at once. */
typedef int (*pmr_line_fn)(const char *line, size_t len, int file_index,
                           pmr_emitter *em, void *user);

/* Map every line of `files` (nfiles >= 1, same list on every rank) into `kv`.
 * The files are taken in order as one byte range, split into contiguous
 * parts, one per rank, then into chunks handed to the context's threads
 * dynamically; a line belongs to the chunk where it starts, so every line
 * is mapped exactly once at any rank and thread count, and no line crosses a
 * file. Input is streamed: each chunk is read through an mmap window that is
 * unmapped afterwards (pread into a buffer where mapping fails, or with
 * PMR_READ=pread in the environment); a line longer than a chunk is followed
 * to its end. Files must be regular files (or symlinks to them) and must
 * not shrink while they are read.
 *
 * Collective. Returns PMR_OK, PMR_ENOENT, PMR_EACCES, PMR_EISDIR, PMR_EIO,
 * PMR_EINVAL, PMR_ENOMEM, PMR_ECALLBACK. pmr_errmsg() names the file. */
PMR_EXTERN int pmr_map_text(pmr_ctx *ctx, const char *const *files,
                            int nfiles, pmr_line_fn fn, void *user,
                            pmr_kv *kv);

/* Map callback over an index space: called for each i in [begin, end) of
 * this rank's share. Return 0 to go on. */
typedef int (*pmr_index_fn)(uint64_t i, pmr_emitter *em, void *user);

/* Map every index in [0, n) exactly once over all ranks and threads.
 * Collective. Returns PMR_OK, PMR_ENOMEM, PMR_ECALLBACK. */
PMR_EXTERN int pmr_map_index(pmr_ctx *ctx, uint64_t n, pmr_index_fn fn,
                             void *user, pmr_kv *kv);

/* ---------------------------------------------------------------------
 * 5. Reduce
 * ------------------------------------------------------------------- */

/* Shuffle the pairs by hash(key) over the ranks and combine equal keys, so
 * that afterwards each key lives on exactly one rank, once. Exchanges go in
 * rounds whose buffers stay within the memory budget; counts beyond 2^31
 * bytes are fine. Threads combine disjoint key ranges without locks.
 * Collective. Returns PMR_OK, PMR_ENOMEM, PMR_EMPI. */
PMR_EXTERN int pmr_kv_reduce(pmr_kv *kv);

/* ---------------------------------------------------------------------
 * 6. Results
 * ------------------------------------------------------------------- */

/* Visit every pair on this rank. Return non-zero from `fn` to stop (that
 * value is returned). Not collective. Order unspecified. */
typedef int (*pmr_kv_visit_fn)(const void *key, size_t klen,
                               const void *value, void *user);
PMR_EXTERN int pmr_kv_foreach(const pmr_kv *kv, pmr_kv_visit_fn fn,
                              void *user);

/* Find a key on this rank: returns a pointer to its value (valid until the
 * set changes) or NULL. Not collective. */
PMR_EXTERN const void *pmr_kv_find(const pmr_kv *kv, const void *key,
                                   size_t klen);

/* Order for pmr_kv_top: negative if (a) ranks before (b). */
typedef int (*pmr_kv_cmp_fn)(const void *akey, size_t alen, const void *aval,
                             const void *bkey, size_t blen, const void *bval,
                             void *user);

/* A list of pairs on one rank (result of pmr_kv_top / pmr_kv_gather). */
typedef struct pmr_kv_list {
  uint64_t n;
  size_t value_size;
  const uint8_t *keys;        /* all keys' bytes, concatenated */
  const uint64_t *key_offsets; /* [n + 1] */
  const uint8_t *values;      /* [n * value_size] */
} pmr_kv_list;

/* The first `n` pairs over all ranks in the order of `cmp` (NULL: int64
 * value descending, then key bytes ascending), delivered on `root`; other
 * ranks get an empty list. Collective. Ownership: free *out with
 * pmr_kv_list_free(). Returns PMR_OK, PMR_ENOMEM, PMR_EMPI. */
PMR_EXTERN int pmr_kv_top(pmr_kv *kv, uint64_t n, pmr_kv_cmp_fn cmp,
                          void *user, int root, pmr_kv_list **out);
PMR_EXTERN void pmr_kv_list_free(pmr_kv_list **list);

/* Every pair of every rank, delivered on `root` in ascending key byte order
 * (memcmp; a prefix first); other ranks get an empty list. For small
 * results: the root holds them all. Collective. Free *out with
 * pmr_kv_list_free(). Returns PMR_OK, PMR_ENOMEM, PMR_EOVERFLOW (over 2 GiB
 * in all), PMR_EMPI. */
PMR_EXTERN int pmr_kv_gather(pmr_kv *kv, int root, pmr_kv_list **out);

/* Descriptive attributes for the written result. Every field may be NULL/0.
 * Give every rank the same content. */
typedef struct pmr_meta {
  const char *app;           /* e.g. "wordcount" */
  const char *command_line;  /* the command as typed */
  const char *const *inputs; /* input names */
  int ninputs;
  const char *const *int_names; /* extra int64 attributes: names ... */
  const int64_t *int_values;    /* ... and values */
  int nints;
} pmr_meta;

/* Write the set to HDF5 file `path` as group `group` (e.g. "wordcount"), in
 * the layout of the pmr result contract: uint8 keys[total bytes], uint64
 * key_offsets[n + 1], values [n] (int64 / float64) or uint8 [n, size]
 * (PMR_BYTES), plus attributes pmr_version, app, command_line, nranks,
 * nthreads, created, inputs, records, input_bytes, seconds_<phase> and the
 * meta's ints. All ranks write their part of the one file collectively. The
 * file is written under a temporary name in the same directory and renamed
 * to `path` only when complete; on error nothing is left under either name.
 * An existing file at `path` is replaced.
 * Collective. Returns PMR_OK, PMR_ENOENT, PMR_EACCES, PMR_EISDIR, PMR_EHDF5,
 * PMR_EIO, PMR_ENOMEM, PMR_EMPI. */
PMR_EXTERN int pmr_kv_write_h5(pmr_kv *kv, const char *path,
                               const char *group, const pmr_meta *meta);

/* Write the set as text lines "key<TAB>value\n" (values in decimal for
 * PMR_INT64, %.17g for PMR_FLOAT64, hex for PMR_BYTES) to one file, each rank
 * its part, by MPI-IO, with the same temporary-name-then-rename rule.
 * Collective. Returns as pmr_kv_write_h5 (PMR_EIO for MPI-IO failures). */
PMR_EXTERN int pmr_kv_write_text(pmr_kv *kv, const char *path);

/* Check that `path` can be created as an output (its directory exists and
 * is writable, and it is not a directory) before long work starts. Rank 0
 * checks, by creating and removing a probe file there; the outcome is
 * agreed. Collective. Returns PMR_OK, PMR_ENOENT (no such directory, or
 * not a directory), PMR_EACCES, PMR_EISDIR (path is a directory),
 * PMR_EINVAL (empty name). */
PMR_EXTERN int pmr_check_output(pmr_ctx *ctx, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* PMR_H */
