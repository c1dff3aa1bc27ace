/* The reduce of a group set: pack every pair (the map threads' stores, and
 * the sorters of an earlier reduce when more pairs were mapped since) into
 * runs per (destination rank, bucket) with the hash sets' partition, so a
 * group set and a hash set keyed alike are co-partitioned; exchange them in
 * the same rounds (pmr__xchg); thread t adds the pairs of the buckets it
 * owns (b % nt == t) to its own sorter; then the threads sort in parallel.
 * Nothing is combined: every pair arrives. */
#include "kv/group.h"
#include "shuffle/shuffle.h"
#include "shuffle/wire.h"
#include "sort/sorter.h"

#include <omp.h>

/* The sources of pairs to pack: stores [0, G), then sorters [G, G + S). */
typedef struct pmr__gsrc {
  const pmr_kv *kv;
  int t;
  size_t pos;
  pmr__reader *rd;
} pmr__gsrc;

static int pmr__gsrc_next(pmr__gsrc *s, const unsigned char **k, size_t *kl,
                          const unsigned char **v, size_t *vl) {
  const pmr_kv *kv = s->kv;
  if (s->t < kv->ngstores)
    return pmr__gstore_next(&kv->gstores[s->t], kv->vsize, &s->pos, k, kl, v,
                            vl);
  if (!s->rd) {
    int rc = pmr__reader_open(kv->sorters[s->t - kv->ngstores], &s->rd);
    if (rc)
      return -rc;
  }
  pmr__rec r;
  int n = pmr__reader_next(s->rd, &r);
  if (n > 0) {
    *k = r.key, *kl = r.klen, *v = r.val, *vl = r.vlen;
  }
  return n;
}

static void pmr__gsrc_done(pmr__gsrc *s) { pmr__reader_close(&s->rd); }

static inline size_t pmr__grun(uint64_t h, int P, int B) {
  return (size_t)pmr__part_rank(h, P) * (size_t)B +
         (size_t)pmr__part_bucket(h, P, B);
}

/* Pack the set's stores and sorters into runs, freeing each source once
 * packed. Local; message set on failure. */
static int pmr__pack_group(pmr_kv *kv, int B, pmr__runs *out) {
  pmr_ctx *ctx = kv->ctx;
  int P = ctx->size, nt = ctx->nthreads;
  int T = kv->ngstores + kv->nsorters;
  size_t R = (size_t)P * (size_t)B, vsize = kv->vsize;
  memset(out, 0, sizeof *out);
  out->nranks = P;
  out->nbuckets = B;
  out->vsize = vsize;
  size_t cells;
  if (pmr__mul_ovf(R, (size_t)(T ? T : 1), &cells))
    return pmr__seterr(ctx, PMR_ENOMEM, "too many runs to pack");
  uint64_t *sz = pmr__calloc(cells, sizeof *sz);
  uint64_t *np = pmr__calloc(cells, sizeof *np);
  out->off = pmr__calloc(R + 1, sizeof *out->off);
  out->pairs = pmr__calloc(R, sizeof *out->pairs);
  if (!sz || !np || !out->off || !out->pairs) {
    pmr__free(sz);
    pmr__free(np);
    pmr__runs_free(out);
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory preparing the "
                                        "shuffle");
  }
  int status = PMR_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int t = 0; t < T; t++) {
    uint64_t *s = &sz[(size_t)t * R], *n = &np[(size_t)t * R];
    pmr__gsrc src = {kv, t, 0, NULL};
    const unsigned char *k, *v;
    size_t kl, vl;
    int r;
    while ((r = pmr__gsrc_next(&src, &k, &kl, &v, &vl)) > 0) {
      size_t run = pmr__grun(pmr__hash(k, kl), P, B);
      s[run] += pmr__wire_len_v(kl, vsize, vl);
      n[run]++;
    }
    pmr__gsrc_done(&src);
    if (r < 0) {
#pragma omp atomic write
      status = -r;
    }
  }
  uint64_t o = 0;
  for (size_t run = 0; run < R; run++) {
    out->off[run] = o;
    for (int t = 0; t < T; t++) {
      uint64_t b = sz[(size_t)t * R + run];
      sz[(size_t)t * R + run] = o;
      o += b;
      out->pairs[run] += np[(size_t)t * R + run];
    }
  }
  out->off[R] = o;
  pmr__free(np);
  if (status || o > SIZE_MAX || !(out->data = pmr__malloc(o ? (size_t)o : 1))) {
    pmr__free(sz);
    pmr__runs_free(out);
    return status ? status
                  : pmr__seterr(ctx, PMR_ENOMEM,
                                "out of memory packing %llu bytes for the "
                                "shuffle",
                                (unsigned long long)o);
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int t = 0; t < T; t++) {
    uint64_t *w = &sz[(size_t)t * R];
    pmr__gsrc src = {kv, t, 0, NULL};
    const unsigned char *k, *v;
    size_t kl, vl;
    int r;
    while ((r = pmr__gsrc_next(&src, &k, &kl, &v, &vl)) > 0) {
      size_t run = pmr__grun(pmr__hash(k, kl), P, B);
      w[run] += pmr__wire_put_v(out->data + w[run], k, kl, v, vsize, vl);
    }
    pmr__gsrc_done(&src);
    if (r < 0) {
#pragma omp atomic write
      status = -r;
    }
    /* Free as we go: bounds the peak. */
    if (t < kv->ngstores)
      pmr__gstore_free(&kv->gstores[t]);
    else
      pmr__sorter_free(&kv->sorters[t - kv->ngstores]);
  }
  pmr__free(sz);
  if (status) {
    pmr__runs_free(out);
    return status;
  }
  return PMR_OK;
}

static pmr__rec_cmp pmr__group_order(const pmr_kv *kv) {
  if (kv->dtype == PMR_INT64)
    return pmr__rec_cmp_key_i64;
  if (kv->dtype == PMR_FLOAT64)
    return pmr__rec_cmp_key_f64;
  return pmr__rec_cmp_key;
}

/* Thread t: the segments of its buckets into its sorter. */
static int pmr__group_absorb(pmr__sorter *s, const pmr__xchg *x, int B,
                             int P, int t, int nt) {
  for (int b = t; b < B; b += nt) {
    const pmr__seg *seg = pmr__xchg_bucket(x, b);
    for (int src = 0; src < P; src++)
      if (seg[src].n) {
        int rc = pmr__sorter_add_wire(s, seg[src].p, seg[src].n);
        if (rc)
          return rc;
      }
  }
  return PMR_OK;
}

int pmr__reduce_group(pmr_kv *kv) {
  pmr_ctx *ctx = kv->ctx;
  int nt = ctx->nthreads, B = 0, P = ctx->size;
  double t0 = pmr__now(), t_local = 0;
  int rc = pmr__shuffle_buckets(ctx, &B);
  if (rc)
    return rc;
  pmr__runs runs;
  memset(&runs, 0, sizeof runs);
  rc = pmr__agree(ctx, pmr__pack_group(kv, B, &runs));
  /* The stores and old sorters are freed (or, on error, are freed now). */
  pmr__group_clear(kv);
  pmr__xchg *x = NULL;
  if (!rc)
    rc = pmr__xchg_plan(ctx, &runs, &x);
  int lrc = PMR_OK;
  if (!rc) {
    kv->sorters = pmr__calloc((size_t)nt, sizeof *kv->sorters);
    if (kv->sorters)
      kv->nsorters = nt;
    else
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sorters");
    size_t share = ctx->memory / (size_t)nt;
    for (int t = 0; !lrc && t < nt; t++)
      lrc = pmr__sorter_create(ctx, kv->vsize, pmr__group_order(kv), NULL,
                               share, &kv->sorters[t]);
    rc = pmr__agree(ctx, lrc);
  }
  uint64_t rounds = x ? pmr__xchg_rounds(x) : 0;
  while (!rc && !pmr__xchg_done(x)) {
    lrc = pmr__xchg_round(x);
    double ta = pmr__now();
    if (!lrc) {
      int status = PMR_OK;
#pragma omp parallel num_threads(nt)
      {
        int t = omp_get_thread_num();
        int st = pmr__group_absorb(kv->sorters[t], x, B, P, t, nt);
        if (st) {
#pragma omp atomic write
          status = st;
        }
      }
      lrc = status;
    }
    t_local += pmr__now() - ta;
    if (!lrc)
      lrc = pmr__xchg_keep(x);
    rc = pmr__agree(ctx, lrc);
  }
  if (!rc)
    rc = pmr__agree(ctx, pmr__xchg_check(x));
  pmr__xchg_free(&x);
  pmr__runs_free(&runs);
  if (!rc) {
    /* The sorts, one per thread, in parallel. */
    double ts = pmr__now();
    int status = PMR_OK;
#pragma omp parallel num_threads(nt)
    {
      int st = pmr__sorter_finish(kv->sorters[omp_get_thread_num()]);
      if (st) {
#pragma omp atomic write
        status = st;
      }
    }
    /* Distinct keys are counted when first asked for: a walk in key
     * order costs about as much as the sort. */
    kv->groups = PMR__GROUPS_UNKNOWN;
    t_local += pmr__now() - ts;
    rc = pmr__agree(ctx, status);
  }
  if (rc)
    pmr__group_clear(kv);
  ctx->stats.seconds[PMR_PHASE_SHUFFLE] += pmr__now() - t0 - t_local;
  ctx->stats.seconds[PMR_PHASE_REDUCE] += t_local;
  pmr__log(ctx, PMR_LOG_DEBUG, "reduce (group): %llu rounds, %d buckets",
           (unsigned long long)rounds, B);
  return rc;
}
