/* The local sorter: a thread's pairs in the wire format (shuffle/wire.h),
 * sorted by a comparator and read back in order, any number of times.
 * Group sets keep their pairs in sorters (one per thread or bucket); the
 * global sort's local step and the spill of hash sets use them too. Past its
 * memory share a sorter sorts what it holds, writes it as a sorted run to a
 * private temporary file (spill/), and merges the runs back when read.
 * Not thread-safe: one thread uses a sorter at a time. Depends on base and
 * shuffle/wire.h. */
#ifndef PMR_SORT_SORTER_H
#define PMR_SORT_SORTER_H

#include "base/base.h"

/* One pair as the sorter hands it out (pointers valid until the next call
 * on the reader that returned it). */
typedef struct pmr__rec {
  const unsigned char *key;
  size_t klen;
  const unsigned char *val;
  size_t vlen;
} pmr__rec;

/* An order: negative, 0 or positive, as memcmp. */
typedef int (*pmr__rec_cmp)(const pmr__rec *a, const pmr__rec *b,
                            void *user);
/* The default order: key bytes (memcmp, a prefix first), then value bytes
 * the same way. */
int pmr__rec_cmp_key(const pmr__rec *a, const pmr__rec *b, void *user);
/* Key bytes, then the values as int64 / double 8-byte columns, numerically
 * column by column (values equal that way, or unordered, by their bytes):
 * the order of a key's values in group sets of those dtypes. These and
 * pmr__rec_cmp_key order by key bytes first, which lets the sorter decide
 * most compares on a cached key prefix. */
int pmr__rec_cmp_key_i64(const pmr__rec *a, const pmr__rec *b, void *user);
int pmr__rec_cmp_key_f64(const pmr__rec *a, const pmr__rec *b, void *user);

typedef struct pmr__sorter pmr__sorter;

/* A sorter of pairs with values of `vsize` bytes (PMR__RAGGED: any length),
 * ordered by `cmp` (NULL: pmr__rec_cmp_key) and allowed about `memory`
 * bytes before it spills. Local. */
int pmr__sorter_create(pmr_ctx *ctx, size_t vsize, pmr__rec_cmp cmp,
                       void *cmp_user, size_t memory, pmr__sorter **out);
void pmr__sorter_free(pmr__sorter **s);
/* Add one pair (copied); or whole wire-format pairs [p, p+n). Only before
 * pmr__sorter_finish. PMR_ENOMEM / PMR_EIO with a message on the context
 * (several threads' sorters share one context: the message is set inside
 * `#pragma omp critical(pmr__err)`). */
int pmr__sorter_add(pmr__sorter *s, const void *key, size_t klen,
                    const void *val, size_t vlen);
int pmr__sorter_add_wire(pmr__sorter *s, const unsigned char *p, size_t n);
/* Sort what was added. Afterwards the sorter is read-only. */
int pmr__sorter_finish(pmr__sorter *s);
/* Pairs added, and bytes they take in the wire format. */
uint64_t pmr__sorter_count(const pmr__sorter *s);
uint64_t pmr__sorter_bytes(const pmr__sorter *s);
/* Bytes written to spill files so far (0: all in memory). */
uint64_t pmr__sorter_spilled(const pmr__sorter *s);

/* A cursor over a finished sorter, in order; several may be open at once
 * (each its own position and buffers). */
typedef struct pmr__reader pmr__reader;
int pmr__reader_open(const pmr__sorter *s, pmr__reader **out);
/* 1: *r holds the next pair; 0: the end; < 0: an error (message set). */
int pmr__reader_next(pmr__reader *rd, pmr__rec *r);
void pmr__reader_close(pmr__reader **rd);

#endif
