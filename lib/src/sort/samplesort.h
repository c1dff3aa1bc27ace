/* The global sort's pieces (samplesort.c, recsort.c, radix.c): local sorts
 * of pair arrays (merge sort for any order, radix for fixed-width keys),
 * and the sample sort that gives rank r the r-th range of an order, with
 * each rank's range further cut into one sub-range per thread. Depends on
 * base, shuffle (the exchange) and sort/sorter.h. */
#ifndef PMR_SORT_SAMPLESORT_H
#define PMR_SORT_SAMPLESORT_H

#include "shuffle/shuffle.h"
#include "sort/sorter.h"

/* ---- local sorts (recsort.c, radix.c) ---- */

/* Sort `a` by (cmp, user), stably, on up to `nt` threads (parts sorted in
 * parallel, then merged). `key_order` says cmp compares key bytes first:
 * then a radix sort is used (of the whole keys when every key has one
 * length <= 16 bytes, else of their 8-byte prefixes, ties by cmp). Local.
 * Returns PMR_OK or PMR_ENOMEM (no message). */
int pmr__recs_sort(pmr__rec *a, size_t n, pmr__rec_cmp cmp, void *user,
                   bool key_order, int nt);

/* Non-zero: never use the radix sort (a benchmark's switch). */
extern int pmr__radix_off;

/* Bytes of the keys when all `n` have the same length <= 16, else 0 (also
 * for n == 0 or keys of length 0). */
size_t pmr__radix_width(const pmr__rec *a, size_t n);
/* Radix sort (MSD over the key bytes) of pairs whose keys all have `w` bytes (1..16), then pairs of equal keys
 * ordered by cmp. Stable. Local. Returns PMR_OK or PMR_ENOMEM. */
int pmr__radix_recs(pmr__rec *a, size_t n, size_t w, pmr__rec_cmp cmp,
                    void *user);
/* The same for any key lengths in an order that compares key bytes first:
 * an MSD radix sort of the keys' 8-byte prefixes, runs of equal prefixes by
 * cmp. */
int pmr__radix_recs_pfx(pmr__rec *a, size_t n, pmr__rec_cmp cmp, void *user);
/* The same for an index of wire-format pairs: off[i] is where pair i
 * starts in `data` (values `vsize` bytes, or ragged); prefix (may be NULL)
 * gets each sorted pair's first 8 key bytes as a big-endian word (zero
 * padded), so a caller that caches them reads no key again. */
int pmr__radix_offsets(const unsigned char *data, size_t len, size_t vsize,
                       uint64_t *off, uint64_t *prefix, size_t n, size_t w,
                       pmr__rec_cmp cmp, void *user);

/* An index entry: a pair's first 8 key bytes as a big-endian word (zero
 * padded) and where the pair starts. */
typedef struct pmr__pfx {
  uint64_t prefix, off;
} pmr__pfx;
/* Sort index entries of wire-format pairs in `data` by an order that
 * compares key bytes first (pmr__rec_cmp_key and the sorter's numeric value
 * orders): an MSD radix sort of the prefixes, then each run of equal
 * prefixes by cmp. Any key lengths; no key is read unless its prefix ties.
 * Local. Returns PMR_OK or PMR_ENOMEM. */
int pmr__radix_pfx(pmr__pfx *e, size_t n, const unsigned char *data,
                   size_t len, size_t vsize, pmr__rec_cmp cmp, void *user);

/* ---- the sample sort (samplesort.c) ---- */

/* The global order: cmp over pairs, ties broken by (rank, position in the
 * rank's locally sorted array), so that the order is total and equal pairs
 * spread over ranks. */
typedef struct pmr__sord {
  pmr__rec_cmp cmp;
  void *user;
  bool key_order; /* cmp is the key order: radix applies */
} pmr__sord;

/* A splitter: a pair with its rank and position, or +infinity. */
typedef struct pmr__splitter {
  pmr__rec r;
  int rank;
  uint64_t pos;
  bool inf;
} pmr__splitter;

/* The splitters of a sort: `nb` global buckets (bucket g = thread `t` of
 * rank `d`, numbered rank by rank: first[d] + t, first[P] = nb), nb - 1
 * splitters; splitter k - 1 is the least pair of bucket k. */
typedef struct pmr__splitters {
  int P, nb, maxnt;
  int *first;          /* [P + 1] */
  pmr__splitter *s;    /* [nb - 1] */
  unsigned char *data; /* the splitters' bytes */
  uint64_t total;      /* pairs over all ranks */
} pmr__splitters;

/* Collective: choose the splitters for this rank's locally sorted pairs
 * a[0..n) (every rank passes its own, and `nt`, its thread count). Each
 * rank takes regular samples of its sorted array (weights: the pairs each
 * stands for), rank 0 sorts them and picks the sample at each bucket's
 * target (rank d starts at pair floor(N d / P); its threads split its
 * share evenly), and broadcasts them. Agreed; message set. */
int pmr__ssort_splitters(pmr_ctx *ctx, const pmr__rec *a, uint64_t n,
                         size_t vsize, const pmr__sord *o, int nt,
                         pmr__splitters *out);
void pmr__splitters_free(pmr__splitters *sp);

/* Local: where each global bucket starts in this rank's sorted a[0..n):
 * bounds[0] = 0, bounds[nb] = n, bucket g = a[bounds[g], bounds[g+1])
 * (binary search for each splitter). */
void pmr__ssort_partition(const pmr__rec *a, uint64_t n, int rank,
                          const pmr__sord *o, const pmr__splitters *sp,
                          uint64_t *bounds);

/* Local: the runs of the exchange (destination rank d, bucket t = thread t
 * of d; maxnt buckets per rank) from the sorted pairs and their bounds, in
 * the wire format with values of `vsize` bytes (PMR__RAGGED: any).
 * Returns PMR_OK, PMR_ENOMEM, PMR_EOVERFLOW (message set). */
int pmr__ssort_runs(pmr_ctx *ctx, const pmr__rec *a, const uint64_t *bounds,
                    const pmr__splitters *sp, size_t vsize, pmr__runs *out);

/* What a thread does with the segments it receives in a round: the pairs of
 * its bucket, one whole-pair segment per source rank (empty ones have n =
 * 0). Called inside a parallel region, thread t of nt (t < this rank's
 * thread count). Returns PMR_OK or an error (message set in
 * `#pragma omp critical(pmr__err)`). */
typedef int (*pmr__ssort_sink)(void *user, int t, const pmr__seg *segs,
                               int P);

/* Collective: exchange `runs` (pmr__xchg rounds), handing each round's
 * segments of bucket t to thread t's sink. Agreed. */
int pmr__ssort_exchange(pmr_ctx *ctx, const pmr__runs *runs, int nt,
                        pmr__ssort_sink sink, void *user);

/* Collective: the whole sample sort of this rank's pairs a[0..n) (sorted
 * here first, in place, on nt threads): splitters, partition, runs,
 * exchange into the sinks. `counts` (may be NULL) gets [P + 1]... */
int pmr__ssort(pmr_ctx *ctx, pmr__rec *a, uint64_t n, size_t vsize,
               const pmr__sord *o, int nt, pmr__ssort_sink sink, void *user);

/* ---- the orders of pmr_kv_sort (samplesort.c) ---- */
typedef struct pmr__pair_order pmr__order_user; /* kv/kv.h */
int pmr__ord_key(const pmr__rec *a, const pmr__rec *b, void *user);
int pmr__ord_key_desc(const pmr__rec *a, const pmr__rec *b, void *user);
/* value orders: user points to the set's pmr_dtype */
int pmr__ord_value(const pmr__rec *a, const pmr__rec *b, void *user);
int pmr__ord_value_desc(const pmr__rec *a, const pmr__rec *b, void *user);
/* user order: user points to a pmr__order_user */
int pmr__ord_user(const pmr__rec *a, const pmr__rec *b, void *user);

#endif
