/* The one map driver: parts of any source handed to OpenMP threads
 * dynamically, one emitter per thread, errors collected after the region
 * and agreed. */
#include "input/source.h"
#include "kv/dense.h"

#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>

int pmr__parts_add(pmr__src *s, size_t *cap, int source, uint64_t start,
                   uint64_t end, uint64_t aux) {
  void *p = s->parts;
  if (pmr__grow_array(&p, cap, s->nparts + 1, sizeof *s->parts, 64))
    return PMR_ENOMEM;
  s->parts = p;
  s->parts[s->nparts++] = (pmr__part){source, start, end, aux};
  return PMR_OK;
}

/* A handful of chunks per thread in flight, within budget. */
size_t pmr__chunk_size(const pmr_ctx *ctx) {
  if (ctx->opt.chunk_size)
    return ctx->opt.chunk_size;
  size_t c = ctx->memory / (16 * (size_t)ctx->nthreads);
  if (c > ((size_t)1 << 20))
    c = (size_t)1 << 20;
  if (c < ((size_t)64 << 10))
    c = (size_t)64 << 10;
  return c;
}

/* What one thread leaves for the collection after the region. */
typedef struct pmr__tres {
  int status;
  bool failed; /* pmr_emitter_fail was called */
  uint64_t records, emitted;
  char where[256];
  char msg[PMR__ERRMSG_MAX];
} pmr__tres;

static void pmr__run_thread(pmr__src *src, pmr_kv *kv, pmr__tres *res,
                            atomic_int *stop, atomic_uint_fast64_t *done,
                            double *last_progress) {
  pmr_ctx *ctx = src->ctx;
  const pmr__src_ops *ops = src->ops;
  int tid = omp_get_thread_num();
  pmr__tres *r = &res[tid];
  pmr_emitter em;
  pmr__kv_emitter(kv, tid, &em);
  em.msg = r->msg;
  void *ts = NULL;
  int st = ops->thread_open ? ops->thread_open(src, &ts, &em) : PMR_OK;
  if (st)
    atomic_store(stop, 1);
#pragma omp for schedule(dynamic, 1)
  for (size_t i = 0; i < src->nparts; i++) {
    if (st || atomic_load_explicit(stop, memory_order_relaxed))
      continue;
    const pmr__part *p = &src->parts[i];
    st = ops->open(src, ts, p, &em);
    pmr__rec rec;
    int n = 0;
    while (!st && (n = ops->next(src, ts, &rec, &em)) > 0) {
      r->records++;
      int crc = ops->call(src, &rec, &em);
      /* An emit that failed counts even if the callback went on. */
      if (crc || em.status) {
        /* The callback passed on an emit's error, or failed itself. */
        st = em.failed ? PMR_ECALLBACK
             : em.status ? em.status
                         : PMR_ECALLBACK;
        if (ops->where)
          ops->where(src, &em, r->where, sizeof r->where);
      }
    }
    if (n < 0 && !st)
      st = -n;
    if (ops->close)
      ops->close(src, ts);
    if (st) {
      atomic_store(stop, 1);
      continue;
    }
    uint64_t d = atomic_fetch_add(done, p->end - p->start) +
                 (p->end - p->start);
    if (tid == 0 && ctx->progress_fn && ctx->rank == 0) {
      double now = pmr__now();
      if (now - *last_progress >= 0.5) {
        *last_progress = now;
        ctx->progress_fn("map", d, src->units, ctx->progress_user);
      }
    }
  }
  if (ops->thread_close)
    ops->thread_close(src, ts);
  r->status = st;
  r->failed = em.failed;
  r->emitted = em.emitted;
}

/* The message of a failed thread: the callback's own with its place, an
 * emit's misuse, or the source's. */
static int pmr__thread_error(pmr__src *src, const pmr__tres *r) {
  pmr_ctx *ctx = src->ctx;
  if (r->status == PMR_ECALLBACK && r->failed)
    return pmr__seterr(ctx, r->status, "%s: %s", r->where, r->msg);
  if (r->status == PMR_ECALLBACK)
    return pmr__seterr(ctx, r->status, "map callback failed at %s",
                       r->where[0] ? r->where : "a record");
  if (r->msg[0])
    return pmr__seterr(ctx, r->status, "%s", r->msg);
  if (r->status == PMR_ENOMEM)
    return pmr__seterr(ctx, r->status, "out of memory while mapping%s%s",
                       r->where[0] ? " at " : "", r->where);
  return pmr__seterr(ctx, r->status, "map failed: %s",
                     pmr_strerror(r->status));
}

int pmr__map_run(pmr__src *src, pmr_kv *kv) {
  pmr_ctx *ctx = src->ctx;
  double t0 = pmr__now();
  int nt = ctx->nthreads;
  int rc = pmr__kv_check(kv, PMR__EMPTY | PMR__MAPPED | PMR__REDUCED,
                         "map");
  if (!rc)
    rc = pmr__kv_prepare(kv, nt);
  pmr__tres *res = rc ? NULL : pmr__calloc((size_t)nt, sizeof *res);
  if (!rc && !res)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory starting the map");
  rc = pmr__agree(ctx, rc);
  if (rc) {
    pmr__free(res);
    return rc;
  }
  atomic_int stop = 0;
  atomic_uint_fast64_t done = 0;
  double last_progress = pmr__now();
#pragma omp parallel num_threads(nt)
  pmr__run_thread(src, kv, res, &stop, &done, &last_progress);

  int lrc = PMR_OK;
  for (int t = 0; t < nt; t++) {
    ctx->stats.records += res[t].records;
    ctx->stats.emitted += res[t].emitted;
    if (res[t].status && !lrc)
      lrc = pmr__thread_error(src, &res[t]);
  }
  pmr__free(res);
  if (!lrc && kv->kind == PMR__DENSE)
    lrc = pmr__dense_fold_threads(kv);
  pmr__kv_mapped(kv);
  if (ctx->progress_fn && ctx->rank == 0 && !lrc)
    ctx->progress_fn("map", src->units, src->units, ctx->progress_user);
  ctx->stats.seconds[PMR_PHASE_MAP] += pmr__now() - t0;
  return pmr__agree(ctx, lrc);
}
