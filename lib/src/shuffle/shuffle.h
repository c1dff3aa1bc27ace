/* The shuffle of a hash set, in three steps with one boundary each:
 *   pack    the set's tables -> runs per (destination rank, bucket), freeing
 *           the tables as it goes (pmr__runs);
 *   xchg    the runs exchanged in rounds bounded by the memory budget; each
 *           round yields, per bucket, the segments of whole pairs received
 *           (pmr__xchg: plan / round / bucket segments / free);
 *   absorb  thread t combines the segments of the buckets it owns (b % nt
 *           == t) into its table: each pair is decoded and hashed once.
 * Buckets are agreed (the largest thread count over the ranks), so a sender
 * does not depend on a receiver's thread count. Depends on base, kv. */
#ifndef PMR_SHUFFLE_H
#define PMR_SHUFFLE_H

#include "kv/kv.h"

/* What pack produces: every pair of the rank in the wire format, laid out
 * by destination, then bucket. */
typedef struct pmr__runs {
  unsigned char *data;
  uint64_t *off;   /* [nranks * nbuckets + 1]: run (d, b) is
                      data[off[d*B+b], off[d*B+b+1]) */
  uint64_t *pairs; /* [nranks * nbuckets]: pairs in each run */
  int nranks, nbuckets;
  size_t vsize;
} pmr__runs;

/* Pack the set's tables into runs, freeing each table once packed. Local;
 * on failure the tables not yet packed are kept (message set). */
int pmr__pack(pmr_kv *kv, int nbuckets, pmr__runs *out);
void pmr__runs_free(pmr__runs *r);

/* A segment of whole pairs of one bucket from one source. */
typedef struct pmr__seg {
  const unsigned char *p;
  size_t n;
} pmr__seg;

typedef struct pmr__xchg pmr__xchg;
/* Collective: exchange the run sizes, plan the rounds, allocate buffers.
 * Agreed. */
int pmr__xchg_plan(pmr_ctx *ctx, const pmr__runs *runs, pmr__xchg **out);
/* Pairs (before combining) this rank will receive in bucket b. */
uint64_t pmr__xchg_bucket_pairs(const pmr__xchg *x, int b, uint64_t *max_src);
/* Collective: the next round's exchange. Local outcome (not agreed: the
 * caller agrees once per round, after absorbing). */
int pmr__xchg_round(pmr__xchg *x);
/* After a round: the segments of bucket b, one per source rank. */
const pmr__seg *pmr__xchg_bucket(const pmr__xchg *x, int b);
/* After a round's absorb: keep the pairs split at the round's end. Local. */
int pmr__xchg_keep(pmr__xchg *x);
bool pmr__xchg_done(const pmr__xchg *x);
/* Local: PMR_EIO (message set) if bytes are left over at the end. */
int pmr__xchg_check(pmr__xchg *x);
uint64_t pmr__xchg_rounds(const pmr__xchg *x);
void pmr__xchg_free(pmr__xchg **x);

/* Collective: the agreed bucket count per destination (the largest thread
 * count over the ranks, capped). Agreed. */
int pmr__shuffle_buckets(pmr_ctx *ctx, int *B);

/* Collective: the reduce of a group set (group.c). Agreed; on failure the
 * set's pairs are freed. */
int pmr__reduce_group(pmr_kv *kv);

/* Thread t of nt: absorb the segments of the buckets it owns into tables[t].
 * Called inside a parallel region. */
int pmr__absorb(const pmr_kv *kv, pmr__table *tables, const pmr__xchg *x,
                int nbuckets, int t, int nt);

#endif
