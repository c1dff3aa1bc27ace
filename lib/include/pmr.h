/*
 * pmr.h -- data-parallel map/reduce over MPI ranks and OpenMP threads.
 *
 * The one public header of libpmr. It reads top to bottom:
 *   1. version and errors
 *   2. the context (pmr_ctx): communicator, threads, memory budget, logging
 *   3. key/value sets (pmr_kv) and their combiners
 *   4. map: the sources (text, fixed-size records, an index space, HDF5
 *      datasets, blocks in memory, an existing set, pmr results) and the
 *      emitter
 *   5. reduce: shuffle over MPI and combine (hash sets), or combine dense
 *      cells across threads and ranks (dense sets)
 *   6. results: iterate, top-N, gather, HDF5 and text output
 *   7. task farm: an index space handed out dynamically (pmr_farm), and
 *      tables of per-task records written to HDF5 (pmr_write_columns_h5)
 *
 * Lifecycle:
 *   MPI_Init_thread(.., MPI_THREAD_FUNNELED, ..)
 *   pmr_ctx_create -> pmr_kv_create -> pmr_map_* ... -> pmr_kv_reduce
 *   -> pmr_kv_write_h5 / pmr_kv_top / pmr_kv_foreach / pmr_map_kv (next stage)
 *   -> pmr_kv_destroy -> pmr_ctx_destroy
 *   MPI_Finalize
 *
 * A set moves through states: EMPTY (created) -> MAPPED (a map added pairs)
 * -> REDUCED (pmr_kv_reduce). Results (find, foreach, top, gather, write,
 * map_kv) need EMPTY or REDUCED; a call in the wrong state returns
 * PMR_ESTATE with a message. A map into a REDUCED set adds pairs (MAPPED
 * again); reducing a REDUCED set is a no-op. A failed reduce leaves the set
 * FAILED: its pairs are lost and only pmr_kv_destroy() is valid.
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
#define PMR_VERSION_MINOR 2
#define PMR_VERSION_PATCH 0
#define PMR_VERSION_NUMBER \
  (PMR_VERSION_MAJOR * 10000 + PMR_VERSION_MINOR * 100 + PMR_VERSION_PATCH)
#define PMR_VERSION_STRING "0.2.0"

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
 * PMR_MEMORY (e.g. "512M") if set, else 256 MiB; tmpdir = PMR_TMPDIR, else
 * TMPDIR, else /tmp.
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

/* The most threads a rank may use. */
#define PMR_MAX_THREADS 4096

/* Threads per rank for map and reduce (1..PMR_MAX_THREADS; more is refused,
 * not capped). Ranks may use different counts. Not collective.
 * Returns PMR_OK, PMR_EINVAL. */
PMR_EXTERN int pmr_ctx_set_threads(pmr_ctx *ctx, int n);
PMR_EXTERN int pmr_ctx_threads(const pmr_ctx *ctx);

/* Per-rank memory budget in bytes (>= 1 MiB). It bounds the shuffle's
 * buffers per round and the input buffers; hash sets whose tables would
 * pass it spill to private files under the tmpdir (see pmr_kv_reduce).
 * Not collective, but must be the same on every rank.
 * Returns PMR_OK, PMR_EINVAL. */
PMR_EXTERN int pmr_ctx_set_memory(pmr_ctx *ctx, size_t bytes);
PMR_EXTERN size_t pmr_ctx_memory(const pmr_ctx *ctx);

/* Settings that choose how work is done, in the style of
 * ZSTD_CCtx_setParameter: one setter, bounds checked. Each has a default
 * and an environment variable that sets it when the context is created
 * (read there and nowhere else).
 *
 *   PMR_OPT_THREADS       threads per rank (as pmr_ctx_set_threads)
 *   PMR_OPT_MEMORY        memory budget in bytes (as pmr_ctx_set_memory;
 *                         env PMR_MEMORY, e.g. "512M")
 *   PMR_OPT_CHUNK_SIZE    bytes of input per unit of work handed to a thread;
 *                         0 (default) = automatic: memory / (16 x threads)
 *                         within [64 KiB, 1 MiB]. env PMR_CHUNK_SIZE
 *   PMR_OPT_READER        PMR_READER_MMAP (default: read files through mmap
 *                         windows, pread where a file cannot be mapped) or
 *                         PMR_READER_PREAD. env PMR_READ=mmap|pread
 *   PMR_OPT_LINE_NUMBERS  1: text sources number lines, so that
 *                         pmr_emitter_line() is valid (costs a counting pass
 *                         over the input); 0 (default): not counted.
 *                         env PMR_LINE_NUMBERS=0|1
 *
 * An environment value that does not parse is ignored and logged (warn).
 * Not collective; give every rank the same values. Thread safety: MPI
 * thread, not during a map. Returns PMR_OK, PMR_EINVAL (unknown option or
 * value out of bounds). */
typedef enum pmr_option {
  PMR_OPT_THREADS = 1,
  PMR_OPT_MEMORY = 2,
  PMR_OPT_CHUNK_SIZE = 3,
  PMR_OPT_READER = 4,
  PMR_OPT_LINE_NUMBERS = 5
} pmr_option;
enum { PMR_READER_MMAP = 0, PMR_READER_PREAD = 1 };
PMR_EXTERN int pmr_ctx_set_option(pmr_ctx *ctx, pmr_option opt,
                                  int64_t value);
PMR_EXTERN int pmr_ctx_get_option(const pmr_ctx *ctx, pmr_option opt,
                                  int64_t *value);

/* Directory for temporary files (copied): where spill files of sets larger
 * than the memory budget go. Spill files are created with exclusive
 * creation (mkstemp, names starting ".pmr-spill-") and removed from the
 * directory at once, so none is left behind however the process ends; a
 * directory that is missing or not writable, or a full disk, makes the
 * call that spills fail with PMR_ENOENT, PMR_EACCES or PMR_EIO and the
 * message "spill file in 'DIR': reason". Not collective.
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

/* Parse a size: decimal digits with an optional fraction ("65536", "1.5"),
 * then an optional binary unit K, M, G, T (any case, optionally followed by
 * "iB" or "B"), or a plain "B". Nothing else: no sign, no blanks, no hex,
 * no exponent, no "nan"/"inf". The byte count is rounded down; a non-zero
 * value that rounds to 0 bytes ("0.4") is refused, and so is one over
 * SIZE_MAX.
 * Not collective; thread-safe. Returns PMR_OK or PMR_EINVAL (then *bytes is
 * unchanged). */
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
/* Room for phases added later without changing pmr_stats' size. */
#define PMR_PHASE_SLOTS 16

/* Counters kept by the context (this rank's, accumulated over calls).
 * The struct only grows into its reserved fields: its size and the offsets
 * of existing fields never change within a major version. */
typedef struct pmr_stats {
  double seconds[PMR_PHASE_SLOTS]; /* [PMR_PHASE_COUNT] used, rest 0 */
  uint64_t input_bytes;  /* bytes of input this rank read */
  uint64_t records;      /* records (lines, rows, pairs) this rank mapped */
  uint64_t emitted;      /* pairs emitted by the map callbacks */
  uint64_t shuffled_bytes; /* bytes this rank sent in shuffles */
  uint64_t shuffle_rounds;
  size_t peak_rss;       /* peak resident set of this process, bytes */
  uint64_t spilled_bytes; /* bytes written to spill files (tmpdir) */
  uint64_t keys;         /* distinct keys this rank holds in the hash set
                            reduced last (its share of the result) */
  uint64_t reserved[8];  /* zero */
} pmr_stats;

/* This rank's counters. Not collective. */
PMR_EXTERN void pmr_ctx_stats(const pmr_ctx *ctx, pmr_stats *out);

/* Totals over all ranks: sums of the counters (keys: the distinct keys of
 * the set reduced last), max of seconds and peak RSS.
 * Collective. Returns PMR_OK or PMR_EMPI. */
PMR_EXTERN int pmr_ctx_stats_global(pmr_ctx *ctx, pmr_stats *out);

/* Print the run's statistics to `fp` on rank 0 (others print nothing): per
 * phase seconds and peak RSS as min / median / max over the ranks (so
 * imbalance shows), then the totals: wall time since pmr_ctx_create (the
 * slowest rank), ranks x threads, input bytes, records, pairs emitted,
 * distinct keys (of the set reduced last), shuffled bytes and rounds, and
 * throughput (input bytes and records per second of wall time), in human
 * units with the exact figure beside. Collective. Returns PMR_OK or
 * PMR_EMPI. */
PMR_EXTERN int pmr_ctx_print_stats(pmr_ctx *ctx, FILE *fp);

/* Write the same statistics as a JSON object to file `path` (rank 0 writes
 * it under a temporary name and renames it). Schema (README, "Statistics"):
 * {"schema": "pmr-stats/1", "pmr_version", "ranks", "threads",
 * "wall_seconds", "phases": {"map": {"min", "median", "max"}, ...},
 * "peak_rss_bytes": {"min", "median", "max"}, "input_bytes", "records",
 * "pairs_emitted", "distinct_keys", "shuffled_bytes", "shuffle_rounds",
 * "throughput": {"bytes_per_second", "records_per_second"},
 * "per_rank": {"seconds": {"map": [...], ...}, "peak_rss_bytes": [...]}}.
 * Collective. Returns PMR_OK, PMR_EMPI, PMR_EINVAL (NULL or empty path),
 * PMR_EIO (cannot write; the message names the file), agreed. */
PMR_EXTERN int pmr_ctx_write_stats_json(pmr_ctx *ctx, const char *path);

/* ---------------------------------------------------------------------
 * 3. Key/value sets
 * ------------------------------------------------------------------- */

/* Opaque distributed set of (key, value) pairs. Two kinds:
 *  - hash sets (pmr_kv_create, pmr_kv_create_user): keys are byte strings
 *    of any length (including 0 and bytes 0x00); values have one fixed size
 *    per set; pairs with equal keys are combined as they are inserted, and
 *    pmr_kv_reduce moves each key to the one rank that owns it.
 *  - dense sets (pmr_kv_create_dense*): `ncells` cells 0..ncells-1 of
 *    `width` values each, held as plain arrays (no hashing); pmr_kv_reduce
 *    combines the threads' and ranks' arrays on every rank (or on one root
 *    with pmr_kv_reduce_to). */
typedef struct pmr_kv pmr_kv;

/* Value types, which also fix the HDF5 type of the written values. */
typedef enum pmr_dtype {
  PMR_INT64 = 0,   /* int64_t */
  PMR_FLOAT64 = 1, /* double */
  PMR_BYTES = 2,   /* opaque, value_size bytes (written as uint8 [n, size]) */
  PMR_INT32 = 3,   /* int32_t: arrays written with pmr_h5out_rows only */
  PMR_FLOAT32 = 4  /* float: arrays written with pmr_h5out_rows only */
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

/* A dense set of `ncells` cells (>= 1) of `width` values (>= 1) each,
 * combined with a built-in `op`: PMR_COUNT (each pmr_emit_cell adds 1 to
 * every value of the cell), PMR_SUM_I64, PMR_MIN_I64, PMR_MAX_I64 (int64
 * values), PMR_SUM_F64, PMR_MIN_F64, PMR_MAX_F64 (double values).
 * Initial values: 0 for sums and counts, the type's largest value for MIN
 * (INT64_MAX, +Inf) and its smallest for MAX. PMR_MIN_F64 and PMR_MAX_F64
 * ignore NaN inputs (a cell that saw only NaN keeps its initial value) and
 * rank -0.0 below +0.0, so their results do not depend on the order of the
 * records either.
 *
 * PMR_SUM_F64 is exact and so deterministic: every thread and rank keeps
 * each sum as a fixed-point integer of 2,112 bits (66 32-bit digits held in
 * int64 limbs) that represents any sum of finite doubles exactly, and the
 * result is that exact sum rounded once to the nearest double (ties to
 * even). The result is therefore identical, bit for bit, at any rank and
 * thread count and in any order of the records. An Inf or NaN makes the
 * cell's sum +Inf, -Inf or NaN as IEEE addition would; an exact zero is
 * +0.0. The price is 528 bytes per value per thread while mapping (and in
 * each rank's accumulator until the reduce).
 *
 * The per-thread arrays must fit the memory budget (threads x ncells x width
 * x 8 bytes, or 528 for PMR_SUM_F64): else PMR_ENOMEM with a message.
 * Not collective (create the set on every rank with the same arguments).
 * Returns PMR_OK, PMR_EINVAL, PMR_ENOMEM. */
PMR_EXTERN int pmr_kv_create_dense(pmr_ctx *ctx, pmr_op op, uint64_t ncells,
                                   uint64_t width, pmr_kv **out);

/* A dense set with a user fold over cells of `value_size` bytes (1..4096),
 * each starting as a copy of `identity` (value_size bytes, copied), written
 * to HDF5 as `dtype`. `fn` must be associative and commutative; threads'
 * and ranks' arrays are folded in a fixed order (thread 0, 1, ...; ranks in
 * a fixed binary tree), so a given thread and rank count always gives the
 * same result. Returns PMR_OK, PMR_EINVAL, PMR_ENOMEM. */
PMR_EXTERN int pmr_kv_create_dense_user(pmr_ctx *ctx, uint64_t ncells,
                                        size_t value_size, pmr_dtype dtype,
                                        pmr_combine_fn fn,
                                        const void *identity, void *user,
                                        pmr_kv **out);

/* A group set (group-by without a combiner): every emitted pair is kept,
 * and pmr_kv_reduce moves each key to the one rank that owns it (as for hash
 * sets) and groups its values, so that afterwards each key is visited once
 * with all its values (pmr_kv_map_groups, pmr_kv_foreach_group). Values are
 * `value_size` bytes each (1..2^20, written as `dtype`: PMR_INT64 /
 * PMR_FLOAT64 need a multiple of 8 and are written as [m] or [m, size/8]
 * columns, PMR_BYTES any size), or of any length 0..2^32-1 per pair when
 * value_size is 0 (ragged; dtype PMR_BYTES). Within a rank, groups are
 * visited and written in ascending key byte order (memcmp; a prefix first),
 * and the values of a key in ascending order (PMR_INT64 / PMR_FLOAT64:
 * numerically, column by column; else by bytes), so results do not depend
 * on the rank or thread count. A rank's data may exceed its memory
 * budget: past it, pairs go to private temporary files under the context's
 * tmpdir (see pmr_ctx_set_tmpdir), removed however the run ends, and are
 * merged back at reduce and sort time.
 * Not collective. Returns PMR_OK, PMR_EINVAL, PMR_ENOMEM. */
PMR_EXTERN int pmr_kv_create_group(pmr_ctx *ctx, size_t value_size,
                                   pmr_dtype dtype, pmr_kv **out);

/* Destroy a set. Accepts NULL; sets *kv = NULL. Not collective. */
PMR_EXTERN void pmr_kv_destroy(pmr_kv **kv);

/* Pairs held on this rank (after pmr_kv_reduce: distinct keys). For a
 * dense set: ncells where the reduced cells are held, else 0. For a group
 * set: its distinct keys after pmr_kv_reduce, 0 before (see
 * pmr_kv_local_pairs). */
PMR_EXTERN uint64_t pmr_kv_local_size(const pmr_kv *kv);
/* Dense sets: the cell count and values per cell (0 for hash sets). */
PMR_EXTERN uint64_t pmr_kv_cells(const pmr_kv *kv);
PMR_EXTERN uint64_t pmr_kv_width(const pmr_kv *kv);
/* Dense sets after reduce: the ncells x width values (int64_t or double, or
 * value_size bytes each for a user fold), row-major, on the ranks that hold
 * the result (all after pmr_kv_reduce, the root after pmr_kv_reduce_to);
 * NULL elsewhere, before reduce, and for hash sets. Valid until the set
 * changes. Not collective. */
PMR_EXTERN const void *pmr_kv_dense_values(const pmr_kv *kv);
/* Value size in bytes and type. */
PMR_EXTERN size_t pmr_kv_value_size(const pmr_kv *kv);
PMR_EXTERN pmr_dtype pmr_kv_dtype(const pmr_kv *kv);

/* ---------------------------------------------------------------------
 * 4. Map
 * ------------------------------------------------------------------- */

/* Thread-local handle through which a map callback emits pairs. */
typedef struct pmr_emitter pmr_emitter;

/* Emit one pair into a hash set: `key` of `klen` bytes (copied), `value`
 * of the set's value size (copied; ignored by PMR_COUNT). Combined at once
 * with an equal key emitted earlier by the same thread. Into a group set
 * with fixed-size values the pair is kept as it is. Thread safety: only
 * on the emitter passed to the callback.
 * Returns PMR_OK, PMR_ENOMEM, or PMR_ESTATE (a dense set, or a ragged group
 * set: use pmr_emit_var); return it from the callback, and the map fails
 * with it. */
PMR_EXTERN int pmr_emit(pmr_emitter *em, const void *key, size_t klen,
                        const void *value);
/* Emit an int64 value (hash or group sets with 8-byte values; else
 * PMR_ESTATE). */
PMR_EXTERN int pmr_emit_i64(pmr_emitter *em, const void *key, size_t klen,
                            int64_t value);
/* Emit a double value (hash or group sets with 8-byte values; else
 * PMR_ESTATE). */
PMR_EXTERN int pmr_emit_f64(pmr_emitter *em, const void *key, size_t klen,
                            double value);

/* Emit one pair with a value of `vlen` bytes: into a ragged group set any
 * length (0..2^32-1); into a group or hash set with fixed-size values vlen
 * must equal the value size (else PMR_EINVAL). pmr_emit, pmr_emit_i64 and
 * pmr_emit_f64 also emit into group sets with fixed-size values.
 * Returns PMR_OK, PMR_ENOMEM, PMR_EINVAL, PMR_ESTATE (a dense set), PMR_EIO
 * (a spill file could not be written; message set). */
PMR_EXTERN int pmr_emit_var(pmr_emitter *em, const void *key, size_t klen,
                            const void *value, size_t vlen);

/* Fold `values` (the set's width values, or one value_size value for a user
 * fold; ignored by PMR_COUNT, may be unaligned) into cell `cell` of a dense
 * set. Returns PMR_OK, PMR_EINVAL (cell out of range, values NULL),
 * PMR_ESTATE (a hash set); return it from the callback, and the map fails
 * with it and a message naming the cell. */
PMR_EXTERN int pmr_emit_cell(pmr_emitter *em, uint64_t cell,
                             const void *values);
/* Fold one value into column `col` of a cell: _i64 into int64 sets, _f64
 * into double sets (PMR_COUNT counts 1 in that column; a user fold of an
 * 8-byte PMR_INT64 / PMR_FLOAT64 value takes it whole, col 0). Returns
 * PMR_OK, PMR_EINVAL (cell or col out of range), PMR_ESTATE (a hash set, or
 * a set of the other type). */
PMR_EXTERN int pmr_emit_cell_i64(pmr_emitter *em, uint64_t cell,
                                 uint64_t col, int64_t value);
PMR_EXTERN int pmr_emit_cell_f64(pmr_emitter *em, uint64_t cell,
                                 uint64_t col, double value);

/* The OpenMP thread number (0..threads-1) that owns an emitter; useful for
 * per-thread user state. */
PMR_EXTERN int pmr_emitter_thread(const pmr_emitter *em);

/* What the callback's current record is, from the emitter it was given:
 *  - source: index of its input among those given (file, dataset, result
 *    file); for pmr_map_kv and pmr_map_index 0.
 *  - line: text sources with PMR_OPT_LINE_NUMBERS on: the 1-based line
 *    number within its file, as `grep -n` counts; else 0.
 *  - offset: byte offset of the record within its file (text, records);
 *    else 0.
 *  - record: 0-based index of the record within its input (records: the
 *    record number after the header; HDF5 rows: the first row of the block;
 *    index: i; results: the pair's index in the file); text: 0.
 * Valid during the callback. */
PMR_EXTERN int pmr_emitter_source(const pmr_emitter *em);
PMR_EXTERN uint64_t pmr_emitter_line(const pmr_emitter *em);
PMR_EXTERN uint64_t pmr_emitter_offset(const pmr_emitter *em);
PMR_EXTERN uint64_t pmr_emitter_record(const pmr_emitter *em);

/* Fail the current record with a message of the callback's own (printf
 * style). Returns PMR_ECALLBACK: return it from the callback. The map then
 * fails with PMR_ECALLBACK and pmr_errmsg() reads "'FILE' line N: MESSAGE"
 * (text with line numbers), "'FILE' offset B: ...", "'FILE' record R: ...",
 * "'FILE:/dset' row R: ..." or "record R: ...", as the source allows. */
PMR_EXTERN int pmr_emitter_fail(pmr_emitter *em, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Map callback for text: one record (a line, without its '\n'; a '\r'
 * before it is kept) of `len` bytes; not NUL-terminated, valid only during
 * the call. `file_index` says which input it came from. Return 0 to go on,
 * anything else to stop the map with PMR_ECALLBACK (or with the code an
 * emit returned, when the callback passes it on). Runs on several threads
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

/* Map callback for fixed-size binary records: `rec` holds one record of
 * `size` bytes (valid only during the call, not aligned). */
typedef int (*pmr_record_fn)(const void *rec, size_t size, pmr_emitter *em,
                             void *user);

/* Map every `record_size`-byte record of `files` into `kv`, after skipping
 * `header_bytes` at the start of each file. Records are numbered over all
 * files taken in order, split into contiguous ranges per rank and chunks per
 * thread, so each is mapped exactly once at any rank and thread count. A
 * file whose size past the header is not a whole number of records (or is
 * shorter than the header) is an error naming it.
 * Collective. Returns as pmr_map_text. */
PMR_EXTERN int pmr_map_records(pmr_ctx *ctx, const char *const *files,
                               int nfiles, size_t record_size,
                               size_t header_bytes, pmr_record_fn fn,
                               void *user, pmr_kv *kv);

/* Map callback over an index space: called for each i in [begin, end) of
 * this rank's share. Return 0 to go on. */
typedef int (*pmr_index_fn)(uint64_t i, pmr_emitter *em, void *user);

/* Map every index in [0, n) exactly once over all ranks and threads.
 * Collective. Returns PMR_OK, PMR_ENOMEM, PMR_ECALLBACK, PMR_ESTATE. */
PMR_EXTERN int pmr_map_index(pmr_ctx *ctx, uint64_t n, pmr_index_fn fn,
                             void *user, pmr_kv *kv);

/* Map callback over the pairs of a set (pmr_map_kv, pmr_map_result). */
typedef int (*pmr_pair_fn)(const void *key, size_t klen, const void *value,
                           pmr_emitter *em, void *user);

/* Map the pairs of the reduced (or empty) set `in`, where they live (no data
 * moves), into `out` (another set of the same context): the way to chain
 * stages (count of counts, iterations). `in` is not changed. For a dense
 * `in`, the key is the cell index as a native uint64_t (8 bytes) and the
 * value the cell's values; each cell is mapped once (on the root after
 * pmr_kv_reduce_to, split over the ranks after pmr_kv_reduce). For a group
 * set `in` with fixed-size values, each pair (every value of a key, in
 * order); with ragged values PMR_EINVAL (map its groups with
 * pmr_kv_map_groups).
 * Collective. Returns PMR_OK, PMR_EINVAL (in == out, other context),
 * PMR_ESTATE (in not reduced), PMR_ENOMEM, PMR_ECALLBACK. */
PMR_EXTERN int pmr_map_kv(pmr_kv *in, pmr_pair_fn fn, void *user,
                          pmr_kv *out);

/* Map the pairs of pmr results (key/value groups in the ragged layout
 * written by pmr_kv_write_h5 at any rank count) back into `kv`: `group` of
 * each of `paths`, rows split over ranks and threads. With fn NULL each pair
 * is emitted as it is: its values must have the set's value size and type
 * (else PMR_EINVAL naming the file). Then pmr_kv_reduce combines equal
 * keys, e.g. to merge the results of a job array.
 * Collective. Returns PMR_OK, PMR_ENOENT, PMR_EACCES, PMR_EINVAL (not a pmr
 * key/value group), PMR_EHDF5, PMR_ENOMEM, PMR_ECALLBACK.
 *
 * Details. Every file and group is checked before any pair is read, and the
 * first bad one stops the call with a message naming it (the same on every
 * rank): a missing or unreadable file (PMR_ENOENT, PMR_EACCES), not an HDF5
 * file (PMR_EINVAL), no such group (PMR_ENOENT), a group that is not in the
 * layout (a dataset missing, keys not uint8 [k], key_offsets not uint64
 * [n + 1] running from 0 to k, values not numbers [n] or [n, m]: PMR_EINVAL),
 * a layout_version attribute newer than PMR_LAYOUT_VERSION (PMR_EINVAL; a
 * group without the attribute is read). With fn NULL the set must be a hash
 * set and the values int64 [n] for a PMR_INT64 set, float64 [n] for a
 * PMR_FLOAT64 set, uint8 [n, value_size] for a PMR_BYTES set (note that a
 * PMR_COUNT set counts the pairs: merge counts into a PMR_SUM_I64 set).
 * With fn, `value` points to the pair's values in their native form (an
 * int64_t, a double, m bytes of a uint8 [n, m] dataset; any integer or
 * floating type is handed over as it is stored, converted to this machine's
 * byte order), valid during the call. pmr_emitter_source() is the file's
 * index in `paths`, pmr_emitter_record() the pair's index in its file, and a
 * failing callback's message reads "'FILE' pair R: ...". `group` may be
 * nested ("run1/counts"). Pairs are read in rounds whose buffers stay within
 * a quarter of the memory budget (a key longer than that is read whole).
 * Thread safety: `fn` runs on several threads at once. */
PMR_EXTERN int pmr_map_result(pmr_ctx *ctx, const char *const *paths,
                              int npaths, const char *group, pmr_pair_fn fn,
                              void *user, pmr_kv *kv);

/* What a pmr result holds, as pmr_result_describe() finds it. */
typedef struct pmr_result_info {
  uint64_t pairs;         /* n */
  uint64_t key_bytes;     /* all keys' bytes */
  int dtype;              /* the values: PMR_INT64 (int64 [n]), PMR_FLOAT64
                             (float64 [n]), PMR_BYTES (uint8 [n, m]), or -1
                             (other numbers: readable through a callback) */
  size_t value_size;      /* bytes of one pair's value(s) */
  int64_t layout_version; /* the attribute; 0 when absent */
  char group[256];        /* the group (as given, or the one found) */
  char combiner[32];      /* the `combiner` attribute, "" when absent */
  char app[64];           /* the `app` attribute, "" when absent */
} pmr_result_info;

/* Check `group` of the pmr result `path` as pmr_map_result does, and
 * describe it in *out. `group` NULL: the one key/value group at the root of
 * the file (PMR_EINVAL, naming them, when there are none or several). String
 * attributes longer than their field are cut short.
 * Collective (rank 0 reads the file). Ownership: *out is the caller's.
 * Returns as pmr_map_result's checks: PMR_OK, PMR_ENOENT, PMR_EACCES,
 * PMR_EINVAL, PMR_EHDF5, PMR_ENOMEM; the message names the file. */
PMR_EXTERN int pmr_result_describe(pmr_ctx *ctx, const char *path,
                                   const char *group,
                                   pmr_result_info *out);

/* ---- HDF5 datasets ----
 *
 * A dataset is named by a spec "FILE.h5:/path/to/dataset" (the form h5ls and
 * h5dump print). Numeric datasets of any integer or floating type, 1-D
 * (elements: ncols = 1) or 2-D [n, d] (rows of d values), contiguous,
 * chunked or compressed, are read converted to int64 or double as asked. */

/* Split a spec into its file and dataset path (both malloc'ed; free them).
 * The file part is everything before the last ':' that is followed by '/';
 * when the spec has several such colons, the longest prefix naming an
 * existing file (not a directory) wins, so file names with colons work; when
 * none exists, the longest. Not collective; thread-safe. Returns PMR_OK,
 * PMR_EINVAL (no ":/path" after a non-empty file name; then both are NULL),
 * PMR_ENOMEM. */
PMR_EXTERN int pmr_h5_spec(const char *spec, char **file, char **dataset);

/* The shape of the dataset `spec`, checked as pmr_map_h5 checks it (so a
 * dataset this accepts, a map accepts): *ndims = 1 or 2, dims[0] = rows,
 * dims[1] = values per row for a 2-D dataset, 0 for a 1-D one. Reads no
 * values: lets an application refuse a shape or size its work before it
 * reads anything. Collective (every rank gets the same answer). Returns as
 * pmr_map_h5's checks: PMR_OK, PMR_ENOENT, PMR_EINVAL, PMR_EACCES,
 * PMR_EISDIR, PMR_EHDF5, PMR_ENOMEM; the message names file and dataset. */
PMR_EXTERN int pmr_h5_shape(pmr_ctx *ctx, const char *spec, int *ndims,
                            uint64_t dims[2]);

/* A block of rows as a rows callback sees it. The library owns it; fields
 * may be added at the end. */
typedef struct pmr_rows {
  const void *data; /* (nrows + halo) x ncols values, row-major, int64_t or
                       double as asked */
  uint64_t nrows;   /* rows to map */
  uint64_t halo;    /* rows after them that may be read but are not this
                       call's to map (fewer near the end of the dataset) */
  uint64_t ncols;   /* values per row: 1 for a 1-D dataset */
  uint64_t first;   /* global index, in its dataset, of row 0 */
  uint64_t total;   /* rows in the whole dataset */
  int dataset;      /* which of the given datasets */
  pmr_dtype type;   /* PMR_INT64 or PMR_FLOAT64 */
} pmr_rows;

/* Map callback over a block of rows. Return 0 to go on. */
typedef int (*pmr_rows_fn)(const pmr_rows *rows, pmr_emitter *em,
                           void *user);

/* Map every row of the datasets `specs` (nspecs >= 1, the same list on every
 * rank; each keeps its own shape) into `kv`. Each rank reads a contiguous
 * row range of each dataset with collective hyperslab reads, in blocks whose
 * converted rows and halo take at most a quarter of the memory budget, and
 * hands sub-blocks of each block to its threads; every row is mapped exactly
 * once at any rank and thread count, and ranks with no rows take part.
 * `halo` > 0 also reads up to `halo` rows past each block (for windowed
 * work: a lag, a stencil), which the callback sees in rows->halo: every
 * call gets min(halo, rows left in its dataset) rows after its own (a halo
 * larger than the budget allows makes the blocks larger). `type` is
 * PMR_INT64 or PMR_FLOAT64 (values converted by HDF5; float to int64
 * truncates toward zero, and values out of range saturate). In the callback
 * pmr_emitter_source() is the dataset's index and pmr_emitter_record() the
 * block's first row. Every dataset is checked before any is read.
 * Counters: records += rows mapped; input_bytes += values read (halo rows
 * included) x their size in the file.
 * Collective. Returns PMR_OK, PMR_ENOENT (no such file or dataset),
 * PMR_EINVAL (bad spec, not an HDF5 file, a group, a non-numeric type, not
 * 1-D/2-D, an empty dataset), PMR_EACCES, PMR_EISDIR, PMR_EHDF5, PMR_ENOMEM,
 * PMR_ECALLBACK; the message names the file and dataset, e.g. "'x.h5': no
 * dataset '/a/b'" or "'x.h5:/a/b' is 3-D; need 1-D or 2-D". */
PMR_EXTERN int pmr_map_h5(pmr_ctx *ctx, const char *const *specs,
                          int nspecs, pmr_dtype type, uint64_t halo,
                          pmr_rows_fn fn, void *user, pmr_kv *kv);

/* A rank's block of rows held in memory, to be mapped many times (iterative
 * jobs such as k-means) without reading again. */
typedef struct pmr_block pmr_block;

/* Load this rank's contiguous share of the rows of `spec` (plus up to `halo`
 * rows past it) into memory, read in collective pieces of at most a quarter
 * of the memory budget. A rank may get no rows (fewer rows than ranks).
 * Collective. Ownership: free with pmr_block_free(). Returns as pmr_map_h5;
 * on error *out is NULL. */
PMR_EXTERN int pmr_block_load(pmr_ctx *ctx, const char *spec, pmr_dtype type,
                              uint64_t halo, pmr_block **out);
/* The whole block as rows: first = its global row offset, halo = the rows
 * held past it, dataset = 0. Valid until the block is freed. Not
 * collective. */
PMR_EXTERN void pmr_block_rows(const pmr_block *b, pmr_rows *out);
/* Map the block's rows, split over the context's threads, into `kv`; each
 * call sees min(halo, rows left) halo rows, as in pmr_map_h5. The block is
 * not changed, so it can be mapped again. Collective. Returns PMR_OK,
 * PMR_EINVAL, PMR_ENOMEM, PMR_ECALLBACK, PMR_ESTATE. */
PMR_EXTERN int pmr_map_block(pmr_block *b, pmr_rows_fn fn, void *user,
                             pmr_kv *kv);
/* Free a block. Accepts NULL; sets *b = NULL. Not collective. */
PMR_EXTERN void pmr_block_free(pmr_block **b);

/* ---------------------------------------------------------------------
 * 5. Reduce
 * ------------------------------------------------------------------- */

/* Hash sets: shuffle the pairs by hash(key) over the ranks and combine
 * equal keys, so that afterwards each key lives on exactly one rank, once.
 * Senders pack their pairs into runs per destination rank and bucket; each
 * receiving thread combines only its own buckets, so the cost does not grow
 * with the thread count. Exchanges go in rounds whose buffers stay within
 * the memory budget; counts beyond 2^31 bytes are fine.
 * Past the budget (hash sets): a map thread whose table would grow past its
 * share (half the budget over the threads) writes the table to a spill file
 * sorted by hash and goes on with an empty one; the reduce streams those
 * files to their destinations; a receiving thread whose table passes its
 * share writes it as a run sorted by key, and at the end merges its runs
 * into one sorted file with equal keys combined, from which the set is read
 * (pmr_kv_foreach, pmr_kv_get, pmr_map_kv, the writers, top and gather).
 * Such a set cannot be mapped into again (PMR_ESTATE). pmr_ctx_stats counts
 * the bytes spilled.
 * Dense sets: combine the threads' arrays, then the ranks' up a fixed
 * binary tree (every rank gets the result); a set never mapped gets its
 * initial values. A map into a reduced dense set folds into its result,
 * which counts once however many ranks held it.
 * A REDUCED set is left as it is (PMR_OK). On failure the set is FAILED.
 * Collective. Returns PMR_OK, PMR_ENOMEM, PMR_EMPI, PMR_ESTATE. */
PMR_EXTERN int pmr_kv_reduce(pmr_kv *kv);

/* Dense sets: as pmr_kv_reduce, but only `root` receives the result (less
 * memory and traffic when one rank writes or prints it). Hash sets:
 * PMR_EINVAL. Collective. */
PMR_EXTERN int pmr_kv_reduce_to(pmr_kv *kv, int root);

/* ---------------------------------------------------------------------
 * 6. Results
 * ------------------------------------------------------------------- */

/* Visit every pair on this rank. Return non-zero from `fn` to stop (that
 * value is returned). Not collective. Order unspecified. A set that is not
 * reduced (or empty) is not visited: PMR_ESTATE, with a message. Dense
 * sets: keys are cell indices as native uint64_t. Group sets: PMR_EINVAL
 * (see pmr_kv_foreach_group); the same for pmr_kv_get, pmr_kv_top,
 * pmr_kv_gather and pmr_kv_write_text. */
typedef int (*pmr_kv_visit_fn)(const void *key, size_t klen,
                               const void *value, void *user);
PMR_EXTERN int pmr_kv_foreach(const pmr_kv *kv, pmr_kv_visit_fn fn,
                              void *user);

/* Find a key on this rank: sets *value to its value (valid until the set
 * changes). A set reduced past the memory budget is searched by binary
 * search over its sorted spill file. Not collective. Thread safety: several
 * threads may look up keys of a reduced set at once while nothing changes
 * it, e.g. map callbacks reading the previous iteration's set; a group set
 * keyed by the same bytes puts each key on the same rank, so such lookups
 * from pmr_kv_map_groups find a group's key locally. Returns PMR_OK,
 * PMR_ENOENT (not on this rank), PMR_ESTATE (set not reduced; message set),
 * PMR_EINVAL. */
PMR_EXTERN int pmr_kv_get(const pmr_kv *kv, const void *key, size_t klen,
                          const void **value);
/* The same as a pointer: NULL when the key is not here or pmr_kv_get fails. */
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

/* The first `n` pairs over all ranks in the order of `cmp` (NULL: value
 * descending, compared as int64 for PMR_INT64 sets and as double for
 * PMR_FLOAT64 sets (NaN last), then key bytes ascending), delivered on
 * `root`; other ranks get an empty list. Hash sets only. Collective.
 * Scales with n, not ranks x n: each rank keeps its best n, a distributed
 * selection (O(log(ranks x n)) rounds of small collectives) finds which of
 * them make the global top n, and only those n pairs go to the root. Pairs
 * that `cmp` finds equal are taken in rank order (their order in the list
 * is unspecified).
 * Ownership: free *out with pmr_kv_list_free(). Returns PMR_OK, PMR_EINVAL,
 * PMR_ENOMEM, PMR_EMPI, PMR_ESTATE. */
PMR_EXTERN int pmr_kv_top(pmr_kv *kv, uint64_t n, pmr_kv_cmp_fn cmp,
                          void *user, int root, pmr_kv_list **out);
PMR_EXTERN void pmr_kv_list_free(pmr_kv_list **list);

/* Every pair of every rank, delivered on `root` in ascending key byte order
 * (memcmp; a prefix first); other ranks get an empty list. For small
 * results: the root holds them all. Collective. Free *out with
 * pmr_kv_list_free(). Returns PMR_OK, PMR_ENOMEM, PMR_EOVERFLOW (over 2 GiB
 * in all), PMR_EMPI. */
PMR_EXTERN int pmr_kv_gather(pmr_kv *kv, int root, pmr_kv_list **out);

/* ---- Groups and global sort (group sets) ---- */

/* One key with all its values on this rank (pmr_kv_map_groups,
 * pmr_kv_foreach_group): value i is values[offsets[i], offsets[i+1]), with
 * offsets [n + 1] always given (for fixed-size values offsets[i] is
 * i * value_size). Pointers are valid during the callback only. */
typedef struct pmr_group {
  const void *key;
  size_t klen;
  uint64_t n; /* values */
  size_t value_size; /* 0: ragged */
  const uint8_t *values;    /* the n values, contiguous */
  const uint64_t *offsets;  /* [n + 1] */
} pmr_group;

/* Map callback over groups: emit into the output set through `em`. */
typedef int (*pmr_group_fn)(const pmr_group *g, pmr_emitter *em, void *user);

/* Map every group of the reduced group set `in`, where it lives (no data
 * moves; the rank's threads each take the keys of one reduce thread, a
 * key's values gathered contiguous), into `out` (another set of the same
 * context, or NULL to emit nothing). `in` is not changed, so it can be
 * mapped again: an iterative job keeps its data partitioned in a group set
 * and maps it once per iteration without reading its input again. The
 * reduce step of group-by jobs (posting lists, joins, PageRank sums). A
 * failing callback (pmr_emitter_fail) fails the call on every rank with its
 * message. Thread safety: `fn` runs on several threads at once.
 * Collective. Returns PMR_OK, PMR_EINVAL, PMR_ESTATE (in not a reduced or
 * sorted group set), PMR_ENOMEM, PMR_EIO, PMR_ECALLBACK. */
PMR_EXTERN int pmr_kv_map_groups(pmr_kv *in, pmr_group_fn fn, void *user,
                                 pmr_kv *out);

/* Visit this rank's groups in order, on the calling thread. Return
 * non-zero from `fn` to stop (that value is returned). After pmr_kv_sort
 * the pairs come in the sort's order, and a group is a run of neighbouring
 * pairs with equal keys (a key may then come in several groups, e.g. in
 * value order). Not collective.
 * Returns PMR_OK, fn's value, PMR_EINVAL (not a group set), PMR_ESTATE (not
 * reduced), PMR_ENOMEM. */
typedef int (*pmr_group_visit_fn)(const pmr_group *g, void *user);
PMR_EXTERN int pmr_kv_foreach_group(const pmr_kv *kv, pmr_group_visit_fn fn,
                                    void *user);

/* Orders of pmr_kv_sort. */
typedef enum pmr_sort_order {
  PMR_SORT_KEY = 0,   /* key bytes (memcmp, a prefix first), then value bytes */
  PMR_SORT_VALUE = 1, /* value (as int64 or double for those dtypes, else
                         bytes), then key bytes */
  PMR_SORT_DESC = 1 << 8 /* flag: descending */
} pmr_sort_order;

/* A user order over pairs: negative if (a) goes before (b), 0 if equal. */
typedef int (*pmr_pair_cmp_fn)(const void *akey, size_t alen,
                               const void *aval, size_t avlen,
                               const void *bkey, size_t blen,
                               const void *bval, size_t bvlen, void *user);

/* Sort the pairs of a group set globally: afterwards rank r holds the r-th
 * range of the order, sorted, every pair kept (equal keys are not grouped,
 * and may be split over neighbouring ranks), so pmr_kv_foreach_group and
 * writing visit the whole set in order rank by rank, and one written file
 * is globally sorted. A sample sort: regular samples from every rank, P-1
 * splitters chosen so each rank receives within a few percent of n/P pairs
 * even for skewed keys (ties are split), one exchange, a local sort (radix
 * for fixed-width keys), merged from spill files past the memory budget.
 * `order` is a pmr_sort_order; with `cmp` non-NULL it is ignored and `cmp`
 * orders the pairs (it must be a total order, the same on every rank).
 * Accepts a mapped or reduced group set (a reduced one is resorted); the
 * set is then sorted (state REDUCED: it can be visited, written, mapped
 * from, or sorted again). Collective. Returns PMR_OK, PMR_EINVAL,
 * PMR_ESTATE, PMR_ENOMEM, PMR_EIO, PMR_EMPI. */
PMR_EXTERN int pmr_kv_sort(pmr_kv *kv, unsigned order, pmr_pair_cmp_fn cmp,
                           void *user);

/* Pairs this rank holds in a group set: after a reduce the values of its
 * keys (pmr_kv_local_size() counts the distinct keys, and is 0 before the
 * reduce), with pairs mapped since added. For other sets, as
 * pmr_kv_local_size(). Not collective. */
PMR_EXTERN uint64_t pmr_kv_local_pairs(const pmr_kv *kv);

/* Descriptive attributes for a written result: an opaque list of named
 * values (strings, lists of strings, int64, double), so it can grow.
 * "app", "command_line" and "inputs" are the names DESIGN.md fixes.
 * A string or list of strings of more than 16 KiB (as fixed-length
 * strings: n times the longest) is written as a dataset of that name in
 * the group instead of an attribute, since HDF5 keeps an object's
 * attributes in 64 KiB: many or long input names never fail the write.
 * Setting a name again replaces its value. Not collective; give every rank
 * the same content. Ownership: values are copied; free the list with
 * pmr_meta_free(). The setters return PMR_OK, PMR_EINVAL (NULL or empty
 * name, or a name the library writes itself), PMR_ENOMEM. */
typedef struct pmr_meta pmr_meta;
PMR_EXTERN int pmr_meta_create(pmr_meta **out);
PMR_EXTERN void pmr_meta_free(pmr_meta **meta);
PMR_EXTERN int pmr_meta_set_str(pmr_meta *meta, const char *name,
                                const char *value);
PMR_EXTERN int pmr_meta_set_strs(pmr_meta *meta, const char *name,
                                 const char *const *values, int n);
PMR_EXTERN int pmr_meta_set_i64(pmr_meta *meta, const char *name,
                                int64_t value);
PMR_EXTERN int pmr_meta_set_f64(pmr_meta *meta, const char *name,
                                double value);

/* The layout version written in every result group's `layout_version`
 * attribute; readers refuse a newer major layout. */
#define PMR_LAYOUT_VERSION 1

/* Write the set to HDF5 file `path` as group `group` (e.g. "wordcount";
 * nested names such as "run1/counts" create the groups between). A hash set
 * is written in the ragged layout of the pmr result contract: uint8
 * keys[total bytes], uint64 key_offsets[n + 1], values [n] (int64 / float64)
 * or uint8 [n, size] (PMR_BYTES). A dense set as plain datasets: values
 * [ncells] (width 1) or [ncells, width] (uint8 [ncells, size] for
 * PMR_BYTES), written by the rank that holds them, with an int64 attribute
 * `width`; a set never mapped writes its initial values. Attributes:
 * pmr_version, layout_version, layout ("kv" or "dense"), combiner (e.g.
 * "sum_i64", "user"), app, command_line, nranks, nthreads, created, inputs,
 * records, input_bytes, seconds_<phase>, and the meta's. All ranks write
 * their part of the one file collectively. The file is written under a
 * temporary name in the same directory and renamed to `path` only when
 * complete; on error nothing is left under either name. An existing file
 * at `path` is replaced (see pmr_kv_write_h5_ex to add a group to it).
 * Collective. Returns PMR_OK, PMR_ENOENT, PMR_EACCES, PMR_EISDIR, PMR_EHDF5,
 * PMR_EIO, PMR_ENOMEM, PMR_EMPI, PMR_ESTATE (set not reduced), PMR_EINVAL. */
PMR_EXTERN int pmr_kv_write_h5(pmr_kv *kv, const char *path,
                               const char *group, const pmr_meta *meta);

/* Flags of pmr_kv_write_h5_ex. */
enum {
  /* Keep the other groups of an existing file at `path`: the group is added,
   * or replaces a group or dataset of that name. The whole file is copied to
   * the temporary name first (copy on write), changed there and renamed over
   * `path`, so readers see either the old file or the complete new one. Without
   * an existing file this is pmr_kv_write_h5. */
  PMR_WRITE_ADD = 1u << 0
};
PMR_EXTERN int pmr_kv_write_h5_ex(pmr_kv *kv, const char *path,
                                  const char *group, const pmr_meta *meta,
                                  unsigned flags);

/* ---- An HDF5 output file with several objects ----
 *
 * For results made of several datasets (a histogram's edges and counts,
 * k-means' centroids and per-point assignments, generated data): open the
 * output once, add sets, row-distributed arrays and attributes, then close
 * it, which publishes it under `path` only when every call succeeded (the
 * same temporary-name-then-rename rule as pmr_kv_write_h5, including
 * PMR_WRITE_ADD's copy on write of an existing file). Every call is
 * collective over the context's communicator, agreed (every rank returns
 * the same code and message), and must be made by all ranks in the same
 * order. Thread safety: the MPI thread. After a failed call the file can
 * only be closed (nothing is published). */
typedef struct pmr_h5out pmr_h5out;

/* Open `path` for writing (flags: 0 = a new file replaces any old one at
 * close; PMR_WRITE_ADD = keep the existing file's other objects).
 * Ownership: close with pmr_h5out_close(). Returns as pmr_kv_write_h5. */
PMR_EXTERN int pmr_h5out_open(pmr_ctx *ctx, const char *path, unsigned flags,
                              pmr_h5out **out);

/* Write a row-distributed array as dataset `name` (a path such as
 * "kmeans/assignments"; groups on the way are created; an existing object
 * of that name is replaced). Each rank passes its `nrows` rows of `ncols`
 * values of `type` (PMR_INT64, PMR_FLOAT64, PMR_INT32, PMR_FLOAT32; `rows`
 * holds nrows x ncols values, row-major); the dataset holds rank 0's rows,
 * then rank 1's, and so on: [sum of nrows] when ncols is 0 (1-D), else
 * [sum of nrows, ncols]. A small array known on every rank is written by
 * passing its rows on one rank and 0 rows elsewhere. Counts over 2^31 are
 * fine (written in pieces of at most 1 GiB). Returns PMR_OK, PMR_EINVAL
 * (bad type, or ncols differing between ranks), PMR_EHDF5, PMR_ENOMEM,
 * PMR_EMPI, PMR_ESTATE (the file already failed). */
PMR_EXTERN int pmr_h5out_rows(pmr_h5out *w, const char *name, pmr_dtype type,
                              uint64_t ncols, uint64_t nrows,
                              const void *rows);

/* Write a reduced set as group `group` (as pmr_kv_write_h5 does, with its
 * attributes and `meta`'s). Returns as pmr_kv_write_h5. */
PMR_EXTERN int pmr_h5out_kv(pmr_h5out *w, pmr_kv *kv, const char *group,
                            const pmr_meta *meta);

/* Attributes on object `name` (a group, created if missing, or a dataset
 * written before): the provenance every pmr result group carries
 * (pmr_version, layout_version, nranks, nthreads, created, records,
 * input_bytes, seconds_<phase>, app and command_line ("" unless `meta` sets
 * them)) and then `meta`'s. Returns PMR_OK, PMR_EHDF5, PMR_ENOMEM, PMR_EMPI,
 * PMR_ESTATE. */
PMR_EXTERN int pmr_h5out_meta(pmr_h5out *w, const char *name,
                              const pmr_meta *meta);

/* Close the file: with `commit` (and no failed call before) rename it to
 * its final name, else remove it. Accepts NULL and *w == NULL; sets *w =
 * NULL. Returns the agreed outcome (PMR_OK only if the file was published;
 * an earlier call's error code otherwise). */
PMR_EXTERN int pmr_h5out_close(pmr_h5out **w, int commit);

/* Write the set as text lines "key<TAB>value\n" (values in decimal for
 * PMR_INT64, %.17g for PMR_FLOAT64, hex for PMR_BYTES; a dense set's key is
 * the cell index in decimal and its width values are separated by tabs;
 * each cell once, by the rank that holds it) to one file, each rank its
 * part (POSIX writes at offsets), with the same temporary-name-then-rename
 * rule; every byte count is checked, and a full disk fails with "No space
 * left on device" naming the file. Records
 * of any size (a key over 2 GiB) are written in pieces.
 * Collective. Returns as pmr_kv_write_h5 (PMR_EIO for MPI-IO failures). */
PMR_EXTERN int pmr_kv_write_text(pmr_kv *kv, const char *path);

/* Write the set's pairs as raw records: each pair as its key bytes
 * immediately followed by its value bytes, with no separator or framing,
 * to one file, each rank its part by MPI-IO (rank 0's pairs first, then
 * rank 1's, ...), each rank's pairs in the order it visits them: a group
 * set's in key order, so a globally sorted group set (pmr_kv_sort) gives a
 * globally sorted file, e.g. the output of a TeraSort of 10-byte keys and
 * 90-byte values. A hash set's pairs in no particular order. Dense sets:
 * PMR_EINVAL. Each rank first counts its bytes (one pass over its pairs,
 * reading spilled pairs back) to know where its part starts, then writes
 * in rounds whose buffers take at most a quarter of the memory budget,
 * under a temporary name in the same directory, renamed to
 * `path` only when complete (nothing is left under either name on error);
 * an existing file at `path` is replaced.
 * Collective. Thread safety: the MPI thread. Returns PMR_OK, PMR_EINVAL,
 * PMR_ESTATE (set not reduced or sorted), PMR_ENOENT, PMR_EACCES,
 * PMR_EISDIR, PMR_EIO, PMR_ENOMEM, PMR_EMPI. Agreed. */
PMR_EXTERN int pmr_kv_write_records(pmr_kv *kv, const char *path);

/* Check that `path` can be created as an output (its directory exists and
 * is writable, and it is not a directory) before long work starts. Rank 0
 * checks, by creating and removing a probe file there; the outcome is
 * agreed. Collective. Returns PMR_OK, PMR_ENOENT (no such directory, or
 * not a directory), PMR_EACCES, PMR_EISDIR (path is a directory),
 * PMR_EINVAL (empty name). */
PMR_EXTERN int pmr_check_output(pmr_ctx *ctx, const char *path);

/* Check a run's outputs together before long work starts: each as
 * pmr_check_output, and also refused (PMR_EINVAL) when it is an existing
 * file that is not a regular file (a device node, FIFO, socket, or a link
 * to one such as /proc/self/fd/1: outputs are written as new regular files
 * and renamed into place, which would replace the special file), when it
 * ends with '/', when it is the same file (same device and inode, through
 * any hard or symbolic link) as one of the `nin` `inputs`, or when two
 * outputs are the same file or name (`-o X --text X`), or when output i
 * with bit i of `h5` set exists, is not empty and is not an HDF5 file (so
 * "-o *.txt", expanded to "-o a.txt b.txt", cannot replace a.txt; the HDF5
 * writers apply the same rule); PMR_EACCES when an
 * existing file belongs to another user in a sticky directory (rename
 * could not replace it). Inputs that do not exist are skipped (reading
 * them reports it). `inputs` may be NULL when nin is 0.
 * Collective (rank 0 checks, the outcome is agreed). Returns PMR_OK or the
 * first failure's code, with a message naming the file. */
PMR_EXTERN int pmr_check_outputs(pmr_ctx *ctx, const char *const *outputs,
                                 int nout, unsigned h5,
                                 const char *const *inputs, int nin);

/* Publish several outputs together. After pmr_outputs_hold, files that
 * pmr_kv_write_h5, pmr_kv_write_text and pmr_h5out_close complete stay
 * under their hidden temporary names; pmr_outputs_publish(ctx, status)
 * then renames them all to their final names when `status` is PMR_OK on
 * every rank, and removes them all otherwise (and ends the hold). So a run
 * writing -o A --text B that fails on B leaves no A. A context destroyed
 * while holding removes its held files. The renames follow one another
 * (each is atomic, the set is not): the checks of pmr_check_outputs make
 * a failure between them unlikely; one that still happens is reported.
 * Collective. Returns PMR_OK, the agreed `status`, or the rename's error. */
PMR_EXTERN int pmr_outputs_hold(pmr_ctx *ctx);
PMR_EXTERN int pmr_outputs_publish(pmr_ctx *ctx, int status);

/* Temporary output files are named ".NAME.pmr-HOST-PID-HEX.tmp" in
 * the output's directory (NAME shortened to fit the file name limit;
 * HOST the first label of the host name, PID rank 0's process id). A
 * run that is killed with SIGKILL leaves such a file; the next output
 * written into that directory removes those from this host whose process
 * is no longer alive and that belong to the user.
 *
 * Install handlers for SIGTERM, SIGINT and SIGHUP (a Slurm time limit,
 * scancel, Ctrl-C, a launcher stopping the job) and SIGBUS (an mmapped
 * input truncated while it is read). A stop signal that already has a
 * handler, or is ignored (nohup), is left alone. A stop signal removes the temporary
 * files of outputs in progress, prints "PROG: interrupted (SIGTERM)" on
 * stderr when `rank` is 0 (or negative: print on every rank), and ends the
 * process with status 128 + the signal number (143 for SIGTERM, 130 for
 * SIGINT); the launcher then stops the other ranks, whose handlers do the
 * same silently. SIGBUS removes them too and prints "PROG: cannot read
 * 'FILE': the file shrank while it was read (Bus error)" from the rank it
 * hit, and exits 1. The handlers only unlink, write and _exit. Call it
 * again with `prog` NULL once the run's outcome is printed: a launcher
 * that stops the other ranks after one failed then adds no second line. For
 * applications; a library that embeds pmr keeps its own handlers.
 * Not thread-safe: call once, early, from the main thread. Returns PMR_OK,
 * or PMR_EINVAL when sigaction fails. */
PMR_EXTERN int pmr_signals_install(const char *prog, int rank);

/* ---------------------------------------------------------------------
 * 7. Task farm
 * ------------------------------------------------------------------- */

/* Opaque. Hands out the task indices [0, n) to the ranks of a context
 * dynamically, for work whose items take unequal or unknown times (one
 * simulation per parameter set, one file per task): a rank takes more
 * tasks when it finishes sooner, and no rank is set aside to hand out work.
 *
 * How: one shared counter lives in an MPI window on rank 0 (MPI_Win_allocate,
 * passive target, one MPI_Win_lock_all epoch for the farm's life). A rank
 * whose tasks run out reads the counter and adds a batch to it with
 * MPI_Fetch_and_op; the value it gets back is the start of its batch, so
 * batches never overlap and every index is handed out exactly once. Batch
 * sizes follow guided self-scheduling (factoring): a worker's batch is
 * ceil(R / 2P) of the R indices left for the P workers of all ranks, large
 * at the start (few fetches), one index at the end (good balance).
 *
 * **Threads.** A rank fetches for all its `workers` at once into a small
 * local pool, which its threads share under a lock, each taking one worker's
 * batch at a time. MPI is called only from a thread that may call it: with
 * MPI_THREAD_FUNNELED (what pmr needs) only the main thread fetches, and it
 * fetches ahead while the pool runs low; another thread that finds the pool
 * empty waits until the main thread refills it or the farm ends. So under
 * FUNNELED the main thread must be one of the callers (as thread 0 of an
 * OpenMP parallel region is), and a thread that leaves its loop early must
 * call pmr_farm_stop(). With MPI_THREAD_SERIALIZED or MULTIPLE any thread
 * whose pool is empty fetches, its MPI calls serialised by the farm's lock.
 *
 * **Progress.** Where one-sided operations are done in hardware or shared
 * memory (one node; InfiniBand and other RDMA networks) a fetch never waits
 * for rank 0. Where the MPI library emulates them with messages (Open MPI's
 * osc/pt2pt, e.g. over TCP between nodes), a fetch completes only when rank
 * 0 next enters MPI: there, call pmr_farm_next() or pmr_farm_poll() on rank
 * 0 at least every few milliseconds (pmr-farm's event loop does), and keep
 * its tasks short or its loop polling.
 *
 * Lifecycle: pmr_farm_create (collective) -> pmr_farm_next / pmr_farm_run
 * until nothing is left -> pmr_farm_destroy (collective). */
typedef struct pmr_farm pmr_farm;

/* Create a farm over the tasks [0, n) (the same n on every rank) for
 * `workers` threads or task slots of this rank (1..PMR_MAX_THREADS; 0: the
 * context's thread count); ranks may differ in workers.
 * Collective. Thread safety: the MPI thread. Ownership: *out is the
 * caller's; release with pmr_farm_destroy(), before the context.
 * Returns PMR_OK, PMR_EINVAL (n differs between ranks, bad workers),
 * PMR_EOVERFLOW (n too large for the counter: over UINT64_MAX / (ranks + 2)),
 * PMR_ENOMEM, PMR_EMPI; on error *out is NULL. Agreed. */
PMR_EXTERN int pmr_farm_create(pmr_ctx *ctx, uint64_t n, int workers,
                               pmr_farm **out);

/* Take the next batch of tasks for the calling worker: [*begin, *end),
 * non-empty; *begin == *end when nothing is left for this rank (every task
 * handed out, or the farm stopped). Keep calling until then.
 * Not collective. Thread safety: any thread of the rank, concurrently (see
 * Threads above; under FUNNELED the main thread must keep calling).
 * Returns PMR_OK, or PMR_EMPI (message in pmr_errmsg(); the farm then hands
 * out nothing more on this rank, and every later call returns the error). */
PMR_EXTERN int pmr_farm_next(pmr_farm *farm, uint64_t *begin, uint64_t *end);

/* A task: run task `i` on OpenMP thread `thread`. Return 0 on success. */
typedef int (*pmr_task_fn)(uint64_t i, int thread, void *user);

/* Run every task this rank takes on `workers` OpenMP threads (those given to
 * pmr_farm_create), each looping over pmr_farm_next(), until nothing is
 * left. A task that returns non-zero stops the farm on every rank
 * (pmr_farm_stop with PMR_FARM_STOP_FAILED): tasks already taken finish,
 * no more are handed out anywhere. Not collective (the ranks meet again in
 * pmr_farm_destroy). Thread safety: the MPI thread.
 * Returns PMR_OK, PMR_ECALLBACK ("task I failed", for the first failure on
 * this rank), PMR_EMPI. */
PMR_EXTERN int pmr_farm_run(pmr_farm *farm, pmr_task_fn fn, void *user);

/* The stop reason pmr_farm_run uses for a failed task. Reasons 1u << 0 ..
 * 1u << 30 are the caller's. */
#define PMR_FARM_STOP_FAILED (1u << 31)

/* Stop the farm on every rank: no rank is handed another task (the caller's
 * own pool is dropped at once, other ranks drop theirs when they next see
 * the stop, within about 20 ms of their next call; 20 ms more per 32
 * ranks, so that rank 0 is not flooded). `reasons` (non-zero) is
 * OR-ed into the farm's shared stop word, which every rank reads with
 * pmr_farm_poll(). Not collective. Thread safety: any thread (from a thread
 * that may not call MPI the stop is local at once and reaches the other
 * ranks with the main thread's next call). Returns PMR_OK, PMR_EINVAL
 * (reasons 0), PMR_EMPI. */
PMR_EXTERN int pmr_farm_stop(pmr_farm *farm, unsigned reasons);

/* Make MPI progress (on rank 0 it serves the other ranks' fetches where
 * one-sided operations are emulated, see Progress above), publish the
 * deltas of pmr_farm_add, and read the shared stop word into *reasons (0:
 * not stopped; may be NULL). The stop word is read from rank 0 at most
 * every 20 ms (per 32 ranks); in between the last value read is given. Not collective.
 * Thread safety: the MPI thread. Returns PMR_OK or PMR_EMPI. */
PMR_EXTERN int pmr_farm_poll(pmr_farm *farm, unsigned *reasons);

/* Counters shared by all ranks of a farm, for progress reports (tasks done,
 * failed, running...): PMR_FARM_COUNTERS int64 values, 0 at the start. */
#define PMR_FARM_COUNTERS 4

/* Add `delta` to shared counter `which` (0..PMR_FARM_COUNTERS-1). The
 * addition is atomic; it reaches rank 0 at this rank's next farm call or
 * pmr_farm_poll(). Not collective. Thread safety: the MPI thread.
 * Returns PMR_OK, PMR_EINVAL, PMR_EMPI. */
PMR_EXTERN int pmr_farm_add(pmr_farm *farm, int which, int64_t delta);

/* Read every shared counter as rank 0 holds them now (additions other ranks
 * have not published yet are missing). Not collective. Thread safety: the
 * MPI thread. Returns PMR_OK or PMR_EMPI. */
PMR_EXTERN int pmr_farm_counters(pmr_farm *farm,
                                 int64_t values[PMR_FARM_COUNTERS]);

/* This rank's figures: tasks it was handed, and fetches from the shared
 * counter it made. Not collective. Thread safety: any thread. */
PMR_EXTERN void pmr_farm_stats(const pmr_farm *farm, uint64_t *taken,
                               uint64_t *fetches);

/* Destroy a farm: ends the epoch and frees the window, so every rank must
 * call it (after its last pmr_farm_next). Accepts NULL and *farm == NULL;
 * sets *farm = NULL. Collective. Thread safety: the MPI thread.
 * Returns PMR_OK or PMR_EMPI (agreed). */
PMR_EXTERN int pmr_farm_destroy(pmr_farm **farm);

/* ---- Tables of records ----
 *
 * A result with one row per item (per task of a farm) as a group of
 * column datasets of equal length: fixed-size columns are 1-D datasets
 * [nrows]; a column of byte strings of any length (a command line, a host
 * name) is written in the ragged layout of the pmr result contract: dataset
 * NAME, uint8 [total bytes], all rows' bytes concatenated, and
 * NAME_offsets, uint64 [nrows + 1], row i = NAME[offsets[i] : offsets[i+1]]. */

typedef enum pmr_coltype {
  PMR_COL_INT32 = 0,   /* int32_t  -> int32 */
  PMR_COL_INT64 = 1,   /* int64_t  -> int64 */
  PMR_COL_UINT64 = 2,  /* uint64_t -> uint64 */
  PMR_COL_FLOAT64 = 3, /* double   -> float64 */
  PMR_COL_UINT8 = 4,   /* uint8_t  -> uint8 */
  PMR_COL_BYTES = 5    /* byte strings: values + offsets (ragged) */
} pmr_coltype;

typedef struct pmr_column {
  const char *name;        /* dataset name (no '/'); a PMR_COL_BYTES column
                              also writes NAME_offsets */
  pmr_coltype type;
  const void *values;      /* this rank's nrows values; PMR_COL_BYTES: its
                              rows' bytes, concatenated */
  const uint64_t *offsets; /* PMR_COL_BYTES only: nrows + 1 offsets into
                              values, offsets[0] = 0; else NULL */
} pmr_column;

/* Write a table to HDF5 file `path` as group `group` (nested names create
 * the groups between). Each rank passes its own `nrows` rows (0 is fine);
 * the table holds the ranks' rows in rank order. The columns (names, types,
 * order) must be the same on every rank. Attributes: pmr_version,
 * layout_version, layout ("columns"), app, command_line, nranks, nthreads,
 * created, and the meta's. Written under a temporary name in the same
 * directory and renamed to `path` when complete, like pmr_kv_write_h5;
 * flags 0 replaces an existing file, PMR_WRITE_ADD adds the group to it.
 * Collective. Ownership: nothing is kept. Thread safety: the MPI thread.
 * Returns PMR_OK, PMR_EINVAL (bad or differing columns, offsets that do
 * not rise, a bad name), PMR_ENOENT, PMR_EACCES, PMR_EISDIR, PMR_EHDF5,
 * PMR_EIO, PMR_ENOMEM, PMR_EMPI. Agreed. */
PMR_EXTERN int pmr_write_columns_h5(pmr_ctx *ctx, const char *path,
                                    const char *group, uint64_t nrows,
                                    const pmr_column *cols, int ncols,
                                    const pmr_meta *meta, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* PMR_H */
