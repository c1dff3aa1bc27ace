/* An index space [0, n): contiguous ranges per rank, blocks per thread. */
#include "input/source.h"

#include <stdio.h>

#define PMR__INDEX_BLOCK 1024

typedef struct pmr__index_t {
  uint64_t at, end;
} pmr__index_t;

static int pmr__index_topen(pmr__src *s, void **ts, pmr_emitter *em) {
  (void)s;
  *ts = pmr__calloc(1, sizeof(pmr__index_t));
  if (*ts)
    return PMR_OK;
  snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory");
  return PMR_ENOMEM;
}
static void pmr__index_tclose(pmr__src *s, void *ts) {
  (void)s;
  pmr__free(ts);
}
static int pmr__index_open(pmr__src *s, void *ts, const pmr__part *p,
                           pmr_emitter *em) {
  (void)s, (void)em;
  pmr__index_t *t = ts;
  t->at = p->start;
  t->end = p->end;
  return PMR_OK;
}
static int pmr__index_next(pmr__src *s, void *ts, pmr__rec *r,
                           pmr_emitter *em) {
  (void)s, (void)r;
  pmr__index_t *t = ts;
  if (t->at >= t->end)
    return 0;
  em->record = t->at++;
  return 1;
}
static int pmr__index_call(pmr__src *s, const pmr__rec *r, pmr_emitter *em) {
  (void)r;
  return ((pmr_index_fn)s->fn)(em->record, em, s->user);
}
static void pmr__index_where(const pmr__src *s, const pmr_emitter *em,
                             char *buf, size_t n) {
  (void)s;
  snprintf(buf, n, "record %llu", (unsigned long long)em->record);
}

static const pmr__src_ops pmr__index_ops = {
    "index",         pmr__index_topen, pmr__index_tclose, pmr__index_open,
    pmr__index_next, NULL,             pmr__index_call,   pmr__index_where};

int pmr_map_index(pmr_ctx *ctx, uint64_t n, pmr_index_fn fn, void *user,
                  pmr_kv *kv) {
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree_arg(ctx, !kv || kv->ctx != ctx || !fn,
                          "pmr_map_index: invalid argument");
  if (rc)
    return rc;
  pmr__src src = {&pmr__index_ops, ctx, NULL, 0, 0, "indices", (void *)fn,
                  user, NULL};
  uint64_t lo, hi;
  size_t cap = 0;
  pmr__split_range(n, ctx->size, ctx->rank, &lo, &hi);
  src.units = hi - lo;
  int lrc = PMR_OK;
  for (uint64_t p = lo; p < hi && !lrc; p += PMR__INDEX_BLOCK)
    lrc = pmr__parts_add(&src, &cap, 0, p,
                         p + PMR__INDEX_BLOCK < hi ? p + PMR__INDEX_BLOCK : hi,
                         0);
  if (lrc)
    pmr__seterr(ctx, lrc, "out of memory planning the index space");
  rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__map_run(&src, kv);
  pmr__free(src.parts);
  return rc;
}
