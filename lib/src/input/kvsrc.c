/* An existing set as a source: its local pairs, where they live. Hash sets
 * are split into slot ranges of their tables; dense sets into cell ranges. */
#include "input/source.h"
#include "kv/dense.h"

#include <stdio.h>

#define PMR__KV_SLOTS ((uint64_t)1 << 16) /* slots per part */
#define PMR__KV_CELLS ((uint64_t)1 << 12) /* cells per part */

typedef struct pmr__kvs_t {
  const pmr__part *p;
  size_t pos;
  uint64_t cell;
} pmr__kvs_t;

static int pmr__kvs_topen(pmr__src *s, void **ts, pmr_emitter *em) {
  (void)s;
  *ts = pmr__calloc(1, sizeof(pmr__kvs_t));
  if (*ts)
    return PMR_OK;
  snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory");
  return PMR_ENOMEM;
}
static void pmr__kvs_tclose(pmr__src *s, void *ts) {
  (void)s;
  pmr__free(ts);
}
static int pmr__kvs_open(pmr__src *s, void *ts, const pmr__part *p,
                         pmr_emitter *em) {
  (void)s, (void)em;
  pmr__kvs_t *t = ts;
  t->p = p;
  t->pos = (size_t)p->start;
  return PMR_OK;
}
static int pmr__kvs_next(pmr__src *s, void *ts, pmr__rec *r,
                         pmr_emitter *em) {
  const pmr_kv *in = s->impl;
  pmr__kvs_t *t = ts;
  if (t->pos >= t->p->end)
    return 0;
  if (in->kind == PMR__DENSE) {
    t->cell = t->pos++;
    r->data = &t->cell;
    r->len = sizeof t->cell;
    r->data2 = (const unsigned char *)pmr__dense_values(in) +
               t->cell * in->vsize;
    em->record = t->cell;
    return 1;
  }
  const pmr__table *tab = &in->tables[t->p->source];
  pmr__pair pr;
  size_t pos = t->pos;
  if (!pmr__table_next(tab, &pos, &pr) || pos > t->p->end) {
    t->pos = (size_t)t->p->end;
    return 0;
  }
  t->pos = pos;
  r->data = pr.key;
  r->len = pr.klen;
  r->data2 = pr.value;
  em->record++;
  return 1;
}
static int pmr__kvs_call(pmr__src *s, const pmr__rec *r, pmr_emitter *em) {
  return ((pmr_pair_fn)s->fn)(r->data, r->len, r->data2, em, s->user);
}
static void pmr__kvs_where(const pmr__src *s, const pmr_emitter *em,
                           char *buf, size_t n) {
  const pmr_kv *in = s->impl;
  if (in->kind == PMR__DENSE)
    snprintf(buf, n, "cell %llu", (unsigned long long)em->record);
  else
    snprintf(buf, n, "a pair of the input set");
}

static const pmr__src_ops pmr__kvs_ops = {
    "kv",          pmr__kvs_topen, pmr__kvs_tclose, pmr__kvs_open,
    pmr__kvs_next, NULL,           pmr__kvs_call,   pmr__kvs_where};

int pmr_map_kv(pmr_kv *in, pmr_pair_fn fn, void *user, pmr_kv *out) {
  if (!in)
    return PMR_EINVAL;
  pmr_ctx *ctx = in->ctx;
  int rc = pmr__agree_arg(ctx, !out || out == in || out->ctx != ctx || !fn,
                          "pmr_map_kv: invalid argument (the output must be "
                          "another set of the same context)");
  if (!rc)
    rc = pmr__agree(ctx, pmr__kv_check(in, PMR__READABLE, "pmr_map_kv"));
  if (rc)
    return rc;
  if (in->kind == PMR__GROUP)
    return pmr__map_group_pairs(in, fn, user, out);
  pmr__src src = {&pmr__kvs_ops, ctx, NULL, 0, 0, "pairs", (void *)fn, user,
                  in};
  size_t cap = 0;
  int lrc = PMR_OK;
  if (in->kind == PMR__DENSE) {
    /* Each cell once: where every rank holds the cells, each maps a share. */
    uint64_t lo = 0, n = pmr__dense_values(in) ? pmr__dense_cells(in) : 0;
    if (n && pmr__dense_holder(in) < 0)
      pmr__split_range(n, ctx->size, ctx->rank, &lo, &n);
    for (uint64_t c = lo; c < n && !lrc; c += PMR__KV_CELLS)
      lrc = pmr__parts_add(&src, &cap, 0, c,
                           c + PMR__KV_CELLS < n ? c + PMR__KV_CELLS : n, 0);
    src.units = n - lo;
  } else {
    for (int t = 0; t < in->ntables && !lrc; t++) {
      const pmr__table *tab = &in->tables[t];
      uint64_t slots = tab->count ? tab->mask + 1 : 0;
      for (uint64_t a = 0; a < slots && !lrc; a += PMR__KV_SLOTS)
        lrc = pmr__parts_add(&src, &cap, t, a,
                             a + PMR__KV_SLOTS < slots ? a + PMR__KV_SLOTS
                                                       : slots,
                             0);
      src.units += slots;
    }
  }
  if (lrc)
    pmr__seterr(ctx, lrc, "out of memory planning the map over a set");
  rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__map_run(&src, out);
  pmr__free(src.parts);
  return rc;
}
