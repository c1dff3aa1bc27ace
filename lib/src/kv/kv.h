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

/* One iterator over a set's local pairs, whatever its layout (tables now;
 * dense cells; later sorted runs and spill files). Start with {kv}; fills
 * *p and returns true while pairs remain. Pointers are valid until the set
 * changes. For dense sets the key is the cell index (8 bytes, native
 * uint64_t, in the iterator). */
typedef struct pmr__kv_iter {
  const pmr_kv *kv;
  int t;
  size_t pos;
  uint64_t cell; /* dense: the current cell index, the key's storage */
} pmr__kv_iter;
bool pmr__kv_next(pmr__kv_iter *it, pmr__pair *p);

#endif
