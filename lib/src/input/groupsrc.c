/* A reduced group set as a source, where it lives: one part per sorter
 * (a thread's disjoint keys), walked group by group (pmr_kv_map_groups) or
 * pair by pair (pmr_map_kv). */
#include "input/source.h"
#include "kv/group.h"

#include <stdio.h>

typedef struct pmr__gs_t {
  pmr__gwalk *w;
  pmr_group g;
} pmr__gs_t;

static int pmr__gs_topen(pmr__src *s, void **ts, pmr_emitter *em) {
  (void)s;
  *ts = pmr__calloc(1, sizeof(pmr__gs_t));
  if (*ts)
    return PMR_OK;
  snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory");
  return PMR_ENOMEM;
}
static void pmr__gs_tclose(pmr__src *s, void *ts) {
  (void)s;
  pmr__free(ts);
}
static int pmr__gs_open(pmr__src *s, void *ts, const pmr__part *p,
                        pmr_emitter *em) {
  pmr__gs_t *t = ts;
  int rc = pmr__gwalk_open(s->impl, p->source, 1, &t->w);
  if (rc)
    snprintf(em->msg, PMR__ERRMSG_MAX, "cannot read the group set: %s",
             pmr_strerror(rc));
  return rc;
}
static void pmr__gs_close(pmr__src *s, void *ts) {
  (void)s;
  pmr__gwalk_close(&((pmr__gs_t *)ts)->w);
}
static int pmr__gs_next_group(pmr__src *s, void *ts, pmr__rec *r,
                              pmr_emitter *em) {
  (void)s;
  pmr__gs_t *t = ts;
  int n = pmr__gwalk_group(t->w, &t->g);
  if (n > 0) {
    r->data = &t->g;
    em->record++;
  } else if (n < 0) {
    snprintf(em->msg, PMR__ERRMSG_MAX, "reading a group: %s",
             pmr_strerror(-n));
  }
  return n;
}
static int pmr__gs_next_pair(pmr__src *s, void *ts, pmr__rec *r,
                             pmr_emitter *em) {
  (void)s;
  pmr__gs_t *t = ts;
  const unsigned char *k, *v;
  size_t kl, vl;
  bool nk;
  int n = pmr__gwalk_pair(t->w, &k, &kl, &v, &vl, &nk);
  if (n > 0) {
    r->data = k;
    r->len = kl;
    r->data2 = v;
    r->n = vl;
    em->record++;
  } else if (n < 0) {
    snprintf(em->msg, PMR__ERRMSG_MAX, "reading a pair: %s",
             pmr_strerror(-n));
  }
  return n;
}
static int pmr__gs_call_group(pmr__src *s, const pmr__rec *r,
                              pmr_emitter *em) {
  return ((pmr_group_fn)s->fn)(r->data, em, s->user);
}
static int pmr__gs_call_pair(pmr__src *s, const pmr__rec *r,
                             pmr_emitter *em) {
  return ((pmr_pair_fn)s->fn)(r->data, r->len, r->data2, em, s->user);
}
static void pmr__gs_where(const pmr__src *s, const pmr_emitter *em,
                          char *buf, size_t n) {
  (void)s, (void)em;
  snprintf(buf, n, "a group of the input set");
}
static void pmr__gs_where_pair(const pmr__src *s, const pmr_emitter *em,
                               char *buf, size_t n) {
  (void)s, (void)em;
  snprintf(buf, n, "a pair of the input set");
}

static const pmr__src_ops pmr__gs_group_ops = {
    "groups",           pmr__gs_topen, pmr__gs_tclose,
    pmr__gs_open,       pmr__gs_next_group, pmr__gs_close,
    pmr__gs_call_group, pmr__gs_where};
static const pmr__src_ops pmr__gs_pair_ops = {
    "group pairs",     pmr__gs_topen, pmr__gs_tclose,
    pmr__gs_open,      pmr__gs_next_pair, pmr__gs_close,
    pmr__gs_call_pair, pmr__gs_where_pair};

/* One part per sorter that holds pairs, then the driver. */
static int pmr__gs_run(pmr_kv *in, const pmr__src_ops *ops, void *fn,
                       void *user, pmr_kv *out) {
  pmr_ctx *ctx = in->ctx;
  pmr__src src = {ops, ctx, NULL, 0, 0, "groups", fn, user, in};
  size_t cap = 0;
  int lrc = PMR_OK;
  for (int t = 0; t < in->nsorters && !lrc; t++)
    lrc = pmr__parts_add(&src, &cap, t, 0, 1, 0);
  src.units = (uint64_t)in->nsorters;
  if (lrc)
    pmr__seterr(ctx, lrc, "out of memory planning the map over a set");
  int rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__map_run(&src, out);
  pmr__free(src.parts);
  return rc;
}

int pmr_kv_map_groups(pmr_kv *in, pmr_group_fn fn, void *user, pmr_kv *out) {
  if (!in)
    return PMR_EINVAL;
  pmr_ctx *ctx = in->ctx;
  int rc = pmr__agree_arg(ctx, !fn || out == in || (out && out->ctx != ctx),
                          "pmr_kv_map_groups: invalid argument (a callback, "
                          "and an output that is another set of the same "
                          "context or NULL)");
  if (!rc)
    rc = pmr__agree_arg(ctx, in->kind != PMR__GROUP,
                        "pmr_kv_map_groups: the input is not a group set (see "
                        "pmr_kv_create_group)");
  if (!rc)
    rc = pmr__agree(ctx,
                    pmr__kv_check(in, PMR__READABLE, "pmr_kv_map_groups"));
  if (rc)
    return rc;
  /* No output: the emits go to a set thrown away afterwards. */
  pmr_kv *sink = NULL;
  if (!out) {
    rc = pmr__agree(ctx, pmr_kv_create_group(ctx, 0, PMR_BYTES, &sink));
    if (rc)
      return rc;
    out = sink;
  }
  rc = pmr__gs_run(in, &pmr__gs_group_ops, (void *)fn, user, out);
  pmr_kv_destroy(&sink);
  return rc;
}

int pmr__map_group_pairs(pmr_kv *in, pmr_pair_fn fn, void *user,
                         pmr_kv *out) {
  pmr_ctx *ctx = in->ctx;
  int rc = pmr__agree_arg(ctx, in->vsize == PMR__RAGGED,
                          "pmr_map_kv: a group set with ragged values has no "
                          "value size to hand over: map its groups with "
                          "pmr_kv_map_groups");
  if (rc)
    return rc;
  return pmr__gs_run(in, &pmr__gs_pair_ops, (void *)fn, user, out);
}
