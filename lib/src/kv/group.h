/* Group sets: every emitted pair kept. Before the reduce each map thread
 * appends its pairs, in the wire format, to its own store (pmr__gstore);
 * the reduce (shuffle/group.c) moves them to their owners and leaves one
 * local sorter per thread (sort/sorter.h), whose keys are disjoint. Walks
 * read the sorters back in key order, pair by pair or group by group.
 * The sorter's types stay behind this header (the map driver has a
 * pmr__rec of its own). Depends on base, kv, sort. */
#ifndef PMR_KV_GROUP_H
#define PMR_KV_GROUP_H

#include "kv/kv.h"
#include "shuffle/wire.h"

/* The largest fixed value size of a group set, and of a ragged value. */
#define PMR__GROUP_MAX_VSIZE ((size_t)1 << 20)
#define PMR__GROUP_MAX_VLEN ((uint64_t)UINT32_MAX)

/* One map thread's pairs, appended in the wire format. The one place the
 * map side of a group set keeps data: a spilling store replaces these
 * functions. Not thread-safe (one per thread). */
typedef struct pmr__gstore {
  pmr__buf buf;
  uint64_t pairs;
} pmr__gstore;
int pmr__gstore_add(pmr__gstore *g, size_t vsize, const void *key,
                    size_t klen, const void *val, size_t vlen);
/* Iterate: start with *pos = 0; 1 and the next pair, or 0 at the end. */
int pmr__gstore_next(const pmr__gstore *g, size_t vsize, size_t *pos,
                     const unsigned char **key, size_t *klen,
                     const unsigned char **val, size_t *vlen);
void pmr__gstore_free(pmr__gstore *g);

/* An emit into a group set (em->kv is one): vlen checked against the
 * set's value size. */
int pmr__group_emit(pmr_emitter *em, const void *key, size_t klen,
                    const void *value, size_t vlen);

/* kv->groups before it is counted (pmr__group_count). */
#define PMR__GROUPS_UNKNOWN UINT64_MAX
/* The distinct keys of a reduced group set, counted once (a walk). */
uint64_t pmr__group_count(const pmr_kv *kv);

/* Make sure a group set has at least n stores. */
int pmr__group_stores(pmr_kv *kv, int n);
/* Free a group set's stores and sorters. */
void pmr__group_clear(pmr_kv *kv);

/* A walk over sorters [first, first + n) of a reduced group set, in key
 * order (their keys are disjoint; equal keys come together, values in the
 * sorter's order). Several walks may be open at once; one thread each. */
typedef struct pmr__gwalk pmr__gwalk;
int pmr__gwalk_open(const pmr_kv *kv, int first, int n, pmr__gwalk **out);
/* The next pair: 1 (pointers valid until the next call; *newkey when the
 * pair starts a key), 0 at the end, or < 0 (minus a code; message set). */
int pmr__gwalk_pair(pmr__gwalk *w, const unsigned char **key, size_t *klen,
                    const unsigned char **val, size_t *vlen, bool *newkey);
/* The next whole group (copied into the walk's scratch; valid until the
 * next call): 1, 0 at the end, or minus a code. */
int pmr__gwalk_group(pmr__gwalk *w, pmr_group *g);
void pmr__gwalk_close(pmr__gwalk **w);

#endif
