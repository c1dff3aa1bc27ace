/* pmr_kv_sort: the global sort of a group set (samplesort.c). The rank's
 * pairs (the map threads' stores as they are, the sorters of an earlier
 * reduce or sort copied out) are indexed and sorted locally, cut at the
 * agreed splitters into runs (rank, thread), the old storage is freed, and
 * the runs are exchanged into one new sorter per thread: thread t's holds
 * the t-th sub-range of the rank's range, so the sorters read one after
 * the other (kv->sorted) give the rank's range in order. */
#include "kv/group.h"
#include "sort/samplesort.h"

#include <omp.h>

static int pmr__ksink(void *user, int t, const pmr__seg *segs, int P) {
  pmr__sorter **s = user;
  for (int r = 0; r < P; r++)
    if (segs[r].n) {
      int rc = pmr__sorter_add_wire(s[t], segs[r].p, segs[r].n);
      if (rc)
        return rc;
    }
  return PMR_OK;
}

/* The order's comparator for pairs and for the sorters. */
static void pmr__korder(pmr_kv *kv, unsigned order, pmr_pair_cmp_fn cmp,
                        void *user, pmr__sord *o) {
  bool desc = order & PMR_SORT_DESC;
  memset(o, 0, sizeof *o);
  if (cmp) {
    kv->sort_user.fn = cmp;
    kv->sort_user.user = user;
    o->cmp = pmr__ord_user;
    o->user = &kv->sort_user;
  } else if ((order & ~(unsigned)PMR_SORT_DESC) == PMR_SORT_VALUE) {
    o->cmp = desc ? pmr__ord_value_desc : pmr__ord_value;
    o->user = &kv->dtype;
  } else if (desc) {
    o->cmp = pmr__ord_key_desc;
  } else {
    /* The sorter's own key order: its key prefixes and radix path. */
    o->cmp = pmr__rec_cmp_key;
    o->key_order = true;
  }
}

/* Index every local pair of the set in recs (pointing into the stores, or
 * into *copy for pairs held by sorters). Local; message set. */
static int pmr__kcollect(pmr_kv *kv, pmr__buf *copy, pmr__rec **recs,
                         uint64_t *n) {
  pmr_ctx *ctx = kv->ctx;
  uint64_t m = 0, bytes = 0;
  *recs = NULL;
  *n = 0;
  for (int i = 0; i < kv->ngstores; i++)
    m += kv->gstores[i].pairs;
  for (int i = 0; i < kv->nsorters; i++) {
    m += pmr__sorter_count(kv->sorters[i]);
    bytes += pmr__sorter_bytes(kv->sorters[i]);
  }
  size_t sz;
  if (m > SIZE_MAX || bytes > SIZE_MAX ||
      pmr__mul_ovf((size_t)m, sizeof **recs, &sz))
    return pmr__seterr(ctx, PMR_EOVERFLOW, "pmr_kv_sort: too many pairs");
  pmr__rec *a = pmr__malloc(sz ? sz : 1);
  if (!a || pmr__buf_reserve(copy, (size_t)bytes + 1)) {
    pmr__free(a);
    return pmr__seterr(ctx, PMR_ENOMEM,
                       "pmr_kv_sort: out of memory indexing %llu pairs",
                       (unsigned long long)m);
  }
  uint64_t k = 0;
  for (int i = 0; i < kv->ngstores; i++) {
    size_t pos = 0;
    pmr__rec r;
    while (k < m && pmr__gstore_next(&kv->gstores[i], kv->vsize, &pos, &r.key,
                                     &r.klen, &r.val, &r.vlen) > 0)
      a[k++] = r;
  }
  int rc = PMR_OK;
  for (int i = 0; !rc && i < kv->nsorters; i++) {
    pmr__reader *rd = NULL;
    pmr__rec r;
    int got;
    rc = pmr__reader_open(kv->sorters[i], &rd);
    while (!rc && (got = pmr__reader_next(rd, &r)) > 0) {
      size_t l = pmr__wire_len_v(r.klen, kv->vsize, r.vlen);
      if (copy->len + l > copy->cap && pmr__buf_reserve(copy, l)) {
        rc = pmr__seterr(ctx, PMR_ENOMEM, "pmr_kv_sort: out of memory");
        break;
      }
      copy->len += pmr__wire_put_v(copy->p + copy->len, r.key, r.klen, r.val,
                                   kv->vsize, r.vlen);
    }
    if (!rc && got < 0)
      rc = -got;
    pmr__reader_close(&rd);
  }
  /* Index the copy only now: it no longer moves. */
  const unsigned char *p = copy->p, *end = copy->p + copy->len;
  size_t used;
  pmr__rec r;
  while (!rc && k < m &&
         (used = pmr__wire_get_v(p, end, kv->vsize, &r.key, &r.klen, &r.val,
                                 &r.vlen))) {
    a[k++] = r;
    p += used;
  }
  if (!rc && k != m)
    rc = pmr__seterr(ctx, PMR_EIO, "pmr_kv_sort: %llu pairs, expected %llu",
                     (unsigned long long)k, (unsigned long long)m);
  if (rc) {
    pmr__free(a);
    return rc;
  }
  *recs = a;
  *n = m;
  return PMR_OK;
}

/* Distinct runs of equal keys over the new sorters, read one after the
 * other. */
static int pmr__kgroups(pmr_kv *kv, uint64_t *groups) {
  int nt = kv->nsorters, status = PMR_OK;
  pmr__buf *first = pmr__calloc((size_t)nt, sizeof *first);
  pmr__buf *last = pmr__calloc((size_t)nt, sizeof *last);
  uint64_t *cnt = pmr__calloc((size_t)nt, sizeof *cnt);
  if (!first || !last || !cnt)
    status = PMR_ENOMEM;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int t = 0; t < (status ? 0 : nt); t++) {
    pmr__reader *rd = NULL;
    pmr__rec r;
    int got = 0, st = pmr__reader_open(kv->sorters[t], &rd);
    while (!st && (got = pmr__reader_next(rd, &r)) > 0) {
      if (!cnt[t] || r.klen != last[t].len ||
          (r.klen && memcmp(r.key, last[t].p, r.klen))) {
        cnt[t]++;
        last[t].len = 0;
        st = pmr__buf_put(&last[t], r.key, r.klen);
        if (!st && cnt[t] == 1)
          st = pmr__buf_put(&first[t], r.key, r.klen);
      }
    }
    if (!st && got < 0)
      st = -got;
    pmr__reader_close(&rd);
    if (st) {
#pragma omp atomic write
      status = st;
    }
  }
  uint64_t g = 0;
  int prev = -1;
  for (int t = 0; !status && t < nt; t++) {
    if (!cnt[t])
      continue;
    g += cnt[t];
    /* A run of one key that goes on from the previous sorter. */
    if (prev >= 0 && last[prev].len == first[t].len &&
        (!first[t].len || !memcmp(last[prev].p, first[t].p, first[t].len)))
      g--;
    prev = t;
  }
  for (int t = 0; first && last && t < nt; t++) {
    pmr__buf_free(&first[t]);
    pmr__buf_free(&last[t]);
  }
  pmr__free(first);
  pmr__free(last);
  pmr__free(cnt);
  *groups = g;
  return status;
}

int pmr_kv_sort(pmr_kv *kv, unsigned order, pmr_pair_cmp_fn cmp, void *user) {
  if (!kv)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  unsigned base = order & ~(unsigned)PMR_SORT_DESC;
  int rc = pmr__agree_arg(ctx, kv->kind != PMR__GROUP,
                          "pmr_kv_sort: not a group set (create it with "
                          "pmr_kv_create_group)");
  if (!rc)
    rc = pmr__agree_arg(ctx,
                        !cmp && base != PMR_SORT_KEY && base != PMR_SORT_VALUE,
                        "pmr_kv_sort: unknown order (PMR_SORT_KEY or "
                        "PMR_SORT_VALUE, optionally | PMR_SORT_DESC)");
  if (!rc)
    rc = pmr__agree(ctx, pmr__kv_check(kv, PMR__EMPTY | PMR__MAPPED |
                                               PMR__REDUCED,
                                       "pmr_kv_sort"));
  if (rc)
    return rc;
  double t0 = pmr__now();
  int nt = ctx->nthreads;
  pmr__buf copy = {0};
  pmr__rec *a = NULL;
  uint64_t n = 0;
  rc = pmr__agree(ctx, pmr__kcollect(kv, &copy, &a, &n));
  /* The order only now: old sorters may still have compared with the last
   * sort's user order while they were read. */
  pmr__sord o;
  pmr__korder(kv, order, cmp, user, &o);
  int lrc = PMR_OK;
  if (!rc && pmr__recs_sort(a, (size_t)n, o.cmp, o.user, o.key_order, nt))
    lrc = pmr__seterr(ctx, PMR_ENOMEM,
                      "pmr_kv_sort: out of memory sorting %llu pairs",
                      (unsigned long long)n);
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  double t_local = pmr__now() - t0, t_split = pmr__now();
  pmr__splitters sp;
  memset(&sp, 0, sizeof sp);
  if (!rc)
    rc = pmr__ssort_splitters(ctx, a, n, kv->vsize, &o, nt, &sp);
  pmr__runs runs;
  memset(&runs, 0, sizeof runs);
  uint64_t *bounds = NULL;
  if (!rc) {
    lrc = PMR_OK;
    if (!(bounds = pmr__malloc(((size_t)sp.nb + 1) * sizeof *bounds)))
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "pmr_kv_sort: out of memory");
    if (!lrc) {
      pmr__ssort_partition(a, n, ctx->rank, &o, &sp, bounds);
      lrc = pmr__ssort_runs(ctx, a, bounds, &sp, kv->vsize, &runs);
    }
    rc = pmr__agree(ctx, lrc);
  }
  double t_runs = pmr__now();
  /* The runs hold every pair now: the old storage goes. */
  pmr__free(a);
  pmr__free(bounds);
  pmr__buf_free(&copy);
  pmr__splitters_free(&sp);
  pmr__group_clear(kv);
  if (!rc) {
    lrc = PMR_OK;
    kv->sorters = pmr__calloc((size_t)nt, sizeof *kv->sorters);
    if (kv->sorters)
      kv->nsorters = nt;
    else
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sorters");
    size_t share = ctx->memory / (size_t)nt;
    for (int t = 0; !lrc && t < nt; t++)
      lrc = pmr__sorter_create(ctx, kv->vsize, o.cmp, o.user, share,
                               &kv->sorters[t]);
    rc = pmr__agree(ctx, lrc);
  }
  double t_x = pmr__now();
  if (!rc)
    rc = pmr__ssort_exchange(ctx, &runs, nt, pmr__ksink, kv->sorters);
  pmr__runs_free(&runs);
  double ts = pmr__now();
  if (!rc) {
    int status = PMR_OK;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
      int st = pmr__sorter_finish(kv->sorters[t]);
      if (st) {
#pragma omp atomic write
        status = st;
      }
    }
    kv->sorted = true;
    if (!status) {
      status = pmr__kgroups(kv, &kv->groups);
      if (status)
        pmr__seterr(ctx, status, "pmr_kv_sort: out of memory counting keys");
    }
    t_local += pmr__now() - ts;
    rc = pmr__agree(ctx, status);
  }
  if (rc)
    pmr__group_clear(kv);
  kv->state = rc ? PMR__FAILED : PMR__REDUCED;
  pmr__log(ctx, PMR_LOG_DEBUG,
           "sort: %llu pairs; local sort %.3f s, splitters and runs %.3f s, "
           "free %.3f s, exchange %.3f s, sorters %.3f s",
           (unsigned long long)n, t_split - t0, t_runs - t_split,
           t_x - t_runs, ts - t_x, pmr__now() - ts);
  ctx->stats.seconds[PMR_PHASE_SHUFFLE] += pmr__now() - t0 - t_local;
  ctx->stats.seconds[PMR_PHASE_REDUCE] += t_local;
  return rc;
}
