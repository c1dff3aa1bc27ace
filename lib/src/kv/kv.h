/* Key/value sets: the container (hash tables per thread, or dense arrays),
 * its state machine, the emitter and one iterator over a set's local pairs.
 * Depends on base and the table. */
#ifndef PMR_KV_KV_H
#define PMR_KV_KV_H

#include "kv/table.h"

/* The states of a set (see pmr.h). */
typedef enum pmr__state {
  PMR__EMPTY = 1 << 0,
  PMR__MAPPED = 1 << 1,
  PMR__REDUCED = 1 << 2,
  PMR__FAILED = 1 << 3
} pmr__state;
#define PMR__READABLE (PMR__EMPTY | PMR__REDUCED)

typedef enum pmr__kind {
  PMR__HASH = 0,
  PMR__DENSE = 1,
  PMR__GROUP = 2 /* no combiner: every pair kept (kv/group.h) */
} pmr__kind;

/* A combiner: the built-in ops of pmr.h, or a user function. */
#define PMR__OP_USER (-1)
typedef struct pmr__op_desc {
  const char *name; /* written as the `combiner` attribute */
  pmr_dtype dtype;
} pmr__op_desc;
/* The descriptor of a built-in op (NULL for an unknown op). */
const pmr__op_desc *pmr__op(int op);

struct pmr__dense;   /* kv/dense.h */
struct pmr__kvspill; /* kv/spill.c */
struct pmr__gstore;  /* kv/group.h */
struct pmr__sorter;  /* sort/sorter.h */

struct pmr_kv {
  pmr_ctx *ctx;
  pmr__kind kind;
  int op; /* pmr_op, or PMR__OP_USER */
  pmr_dtype dtype;
  size_t vsize;
  pmr_combine_fn combine;
  void *user;
  pmr__state state;
  /* hash sets: one table per thread; keys disjoint after reduce */
  pmr__table *tables;
  int ntables;
  /* dense sets */
  struct pmr__dense *dense;
  /* hash sets past the memory budget (kv/spill.c); NULL until prepared */
  struct pmr__kvspill *spill;
  /* group sets (vsize 0: ragged): pairs mapped since the last reduce, one
   * store per map thread; after a reduce one sorter per thread (disjoint
   * keys), `groups` distinct keys in all */
  struct pmr__gstore *gstores;
  int ngstores;
  struct pmr__sorter **sorters;
  int nsorters;
  uint64_t groups;
};

/* Map callbacks run with an emitter per thread. Besides where emits go, it
 * carries the current record's description (pmr_emitter_source, ...) and the
 * thread's first error. */
struct pmr_emitter {
  pmr_kv *kv;
  pmr__table *table; /* hash sets */
  void *cells;       /* dense sets: this thread's array (dense.c) */
  struct pmr__gstore *gstore; /* group sets */
  int thread;
  int status; /* first error of an emit on this emitter */
  uint64_t emitted;
  /* the record being mapped */
  int source;
  uint64_t line, offset, record;
  /* pmr_emitter_fail's message (PMR__ERRMSG_MAX bytes, owned by the map
   * driver), and whether it was set */
  char *msg;
  bool failed;
  /* hash sets: table bytes past which the table goes to a spill file */
  size_t spill_at;
};

/* Check that a set is in one of `states` (a mask); else set a message on the
 * context naming `what` and return PMR_ESTATE. Local: collective callers
 * agree on the result. */
int pmr__kv_check(const pmr_kv *kv, unsigned states, const char *what);
/* A state's name, for messages. */
const char *pmr__state_name(pmr__state s);

/* Make sure a hash set has at least n tables. */
int pmr__kv_tables(pmr_kv *kv, int n);
/* Ready a set for a map on `nt` threads: tables or thread arrays. Local. */
int pmr__kv_prepare(pmr_kv *kv, int nt);
/* Point emitter `em` of thread `t` at its table or array (after prepare). */
void pmr__kv_emitter(pmr_kv *kv, int t, pmr_emitter *em);
/* After the map: fold dense thread arrays, mark the set MAPPED. */
void pmr__kv_mapped(pmr_kv *kv);

/* Fold `in` into `acc` with the set's combiner (COUNT merges by sum). */
static inline void pmr__kv_merge(const pmr_kv *kv, void *acc,
                                 const void *in) {
  int64_t a, b;
  double x, y;
  switch (kv->op) {
  case PMR_SUM_I64:
  case PMR_COUNT:
    memcpy(&a, acc, 8);
    memcpy(&b, in, 8);
    a = (int64_t)((uint64_t)a + (uint64_t)b);
    memcpy(acc, &a, 8);
    return;
  case PMR_MIN_I64:
    memcpy(&a, acc, 8);
    memcpy(&b, in, 8);
    if (b < a)
      memcpy(acc, &b, 8);
    return;
  case PMR_MAX_I64:
    memcpy(&a, acc, 8);
    memcpy(&b, in, 8);
    if (b > a)
      memcpy(acc, &b, 8);
    return;
  case PMR_SUM_F64:
    memcpy(&x, acc, 8);
    memcpy(&y, in, 8);
    x += y;
    memcpy(acc, &x, 8);
    return;
  case PMR_MIN_F64:
    memcpy(&x, acc, 8);
    memcpy(&y, in, 8);
    if (y < x)
      memcpy(acc, &y, 8);
    return;
  case PMR_MAX_F64:
    memcpy(&x, acc, 8);
    memcpy(&y, in, 8);
    if (y > x)
      memcpy(acc, &y, 8);
    return;
  default:
    kv->combine(acc, in, kv->user);
  }
}

/* ---- spill (kv/spill.c) ----
 * Map side: a thread whose table would grow past its share of the budget
 * sorts the table's pairs by the top 32 bits of their hashes (which orders
 * them by destination rank and bucket for any rank and bucket count, see
 * pmr__part_rank), appends them to its spill file as one run, and empties
 * the table. Receive side: a table that passes its share is sorted by key
 * and dumped as a run; at the end the runs of each thread are merged with
 * equal keys combined into one sorted stream, which replaces the thread's
 * table: the reduced set is then read from the streams (mapped read-only,
 * pages dropped behind the readers). */

/* Table bytes a thread of a set may hold before spilling: on the map side
 * and on the receive side of the reduce. */
size_t pmr__kv_map_share(const pmr_kv *kv);
size_t pmr__kv_recv_share(const pmr_kv *kv);
/* Would the next insert grow table t past `share`? */
static inline bool pmr__table_over(const pmr__table *t, size_t share) {
  return pmr__table_full(t, t->count + 1) && t->count >= 4096 &&
         3 * (t->mask + 1) * sizeof(pmr__slot) + t->cap > share;
}
/* Map side, thread t: the table to a run of the thread's spill file. Sets
 * the context's message (critical section). */
int pmr__kv_spill_map(pmr_kv *kv, int t);
/* Did any thread spill on the map side? */
bool pmr__kv_map_spilled(const pmr_kv *kv);
/* The map-side runs: *n of them (valid until the set changes). */
const struct pmr__spill_run *pmr__kv_map_runs(const pmr_kv *kv, int *n);
/* Receive side, thread t of nt: dump `tab` (sorted by key) as a run. */
int pmr__kv_spill_recv(pmr_kv *kv, int t, pmr__table *tab);
/* Did thread t dump on the receive side? */
bool pmr__kv_recv_spilled(const pmr_kv *kv, int t);
/* Thread t: merge its dumped runs and `tab` (which is freed) into its
 * reduced stream. */
int pmr__kv_stream_build(pmr_kv *kv, int t, pmr__table *tab);
/* Drop the map-side runs (after the shuffle sent them). */
void pmr__kv_spill_map_free(pmr_kv *kv);
/* Pairs held in reduced streams; does a set hold any? */
uint64_t pmr__kv_stream_count(const pmr_kv *kv);
bool pmr__kv_streamed(const pmr_kv *kv);
/* Ready the spill state for `nt` threads (before a map or a reduce). */
int pmr__kv_spill_prepare(pmr_kv *kv, int nt);
void pmr__kv_spill_free(pmr_kv *kv);
/* Threads the spill state was prepared for (0: none). */
int pmr__kv_spill_threads(const pmr_kv *kv);
/* The next pair of stream t at *pos (moves *pos); false at its end. */
bool pmr__kv_stream_next(const pmr_kv *kv, int t, size_t *pos,
                         pmr__pair *p);
/* Stream t's index: its blocks of records, and where block i starts
 * (i == the block count: the stream's end). For splitting it into parts. */
size_t pmr__kv_stream_blocks(const pmr_kv *kv, int t);
uint64_t pmr__kv_stream_block(const pmr_kv *kv, int t, size_t i);
/* Look a key up in the streams: its value or NULL. */
const void *pmr__kv_stream_find(const pmr_kv *kv, const void *key,
                                size_t klen);

/* One iterator over a set's local pairs, whatever its layout (tables now;
 * dense cells; the reduced streams of a spilled set). Start with {kv}; fills
 * *p and returns true while pairs remain. Pointers are valid until the set
 * changes. For dense sets the key is the cell index (8 bytes, native
 * uint64_t, in the iterator). */
typedef struct pmr__kv_iter {
  const pmr_kv *kv;
  int t;
  bool stream; /* in thread t's reduced stream (after its table) */
  size_t pos;
  uint64_t cell; /* dense: the current cell index, the key's storage */
} pmr__kv_iter;
bool pmr__kv_next(pmr__kv_iter *it, pmr__pair *p);

#endif
