/* Dense sets: cells 0..ncells-1 of `width` values, thread-local arrays
 * folded across threads and ranks without hashing (Phoenix++'s
 * array_container, Thrill's ReduceToIndex). The entry points kv.c, the map
 * driver and the output call. */
#ifndef PMR_KV_DENSE_H
#define PMR_KV_DENSE_H

#include "kv/kv.h"

/* Attach dense storage to a new set (kv->op, dtype, vsize already set; vsize
 * is the size of one cell's value block: width x 8, or the user value size).
 * `identity` (vsize bytes) is the user fold's initial value, NULL for
 * built-in ops. Local. */
int pmr__dense_new(pmr_kv *kv, uint64_t ncells, uint64_t width,
                   const void *identity);
void pmr__dense_free(pmr_kv *kv);
/* Allocate the arrays of `nt` threads, holding the initial values; fails
 * with a message on the context (PMR_ENOMEM) when nt arrays would not fit
 * the memory budget. Local. */
int pmr__dense_prepare(pmr_kv *kv, int nt);
/* Thread t's array and its state (after prepare), for the emitter's
 * `cells`; only dense.c looks inside. */
void *pmr__dense_thread(pmr_kv *kv, int t);
/* After a map: fold the thread arrays into the rank's accumulator (in
 * thread order) and free them. A result held from an earlier reduce is
 * folded in first, on one rank only, so it counts once. Local. */
int pmr__dense_fold_threads(pmr_kv *kv);
/* Collective: combine the ranks' arrays at every rank (root < 0) or at
 * `root`. Agreed; on failure everything but the set's shape is freed. */
int pmr__dense_reduce(pmr_kv *kv, int root);
/* The reduced values (ncells x width, or ncells x vsize bytes for a user
 * fold), or NULL where this rank does not hold them or the set is not
 * REDUCED. */
const void *pmr__dense_values(const pmr_kv *kv);
uint64_t pmr__dense_cells(const pmr_kv *kv);
uint64_t pmr__dense_width(const pmr_kv *kv);
/* After reduce: the rank that holds the values, or -1 when every rank
 * does. */
int pmr__dense_holder(const pmr_kv *kv);
/* Write `ncells` cells of initial values (the result layout) to out: what
 * a set never mapped holds. */
void pmr__dense_initial(const pmr_kv *kv, void *out, size_t ncells);

/* Test hook: adds an exact-sum thread array takes between normalisations
 * (default 2^30; must stay at most that). */
extern uint64_t pmr__dense_norm_period;

#endif
