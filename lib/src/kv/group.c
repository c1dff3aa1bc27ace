/* Group sets: creation, the map side's per-thread stores, emitting, and
 * the walks over a reduced set's sorters (pair by pair, group by group, or
 * merged in key order over several sorters). */
#include "kv/group.h"
#include "shuffle/wire.h"
#include "sort/sorter.h"

#include <stdio.h>

/* ---- stores ---- */

int pmr__gstore_add(pmr__gstore *g, size_t vsize, const void *key,
                    size_t klen, const void *val, size_t vlen) {
  size_t len = pmr__wire_len_v(klen, vsize, vlen);
  if (pmr__buf_reserve(&g->buf, len))
    return PMR_ENOMEM;
  g->buf.len += pmr__wire_put_v(g->buf.p + g->buf.len, key, klen, val, vsize,
                                vlen);
  g->pairs++;
  return PMR_OK;
}

int pmr__gstore_next(const pmr__gstore *g, size_t vsize, size_t *pos,
                     const unsigned char **key, size_t *klen,
                     const unsigned char **val, size_t *vlen) {
  if (*pos >= g->buf.len)
    return 0;
  size_t m = pmr__wire_get_v(g->buf.p + *pos, g->buf.p + g->buf.len, vsize,
                             key, klen, val, vlen);
  if (!m)
    return 0;
  *pos += m;
  return 1;
}

void pmr__gstore_free(pmr__gstore *g) {
  pmr__buf_free(&g->buf);
  g->pairs = 0;
}

int pmr__group_stores(pmr_kv *kv, int n) {
  if (n <= kv->ngstores)
    return PMR_OK;
  pmr__gstore *g = pmr__realloc(kv->gstores, (size_t)n * sizeof *g);
  if (!g)
    return PMR_ENOMEM;
  memset(g + kv->ngstores, 0, (size_t)(n - kv->ngstores) * sizeof *g);
  kv->gstores = g;
  kv->ngstores = n;
  return PMR_OK;
}

void pmr__group_clear(pmr_kv *kv) {
  for (int i = 0; i < kv->ngstores; i++)
    pmr__gstore_free(&kv->gstores[i]);
  pmr__free(kv->gstores);
  kv->gstores = NULL;
  kv->ngstores = 0;
  for (int i = 0; i < kv->nsorters; i++)
    pmr__sorter_free(&kv->sorters[i]);
  pmr__free(kv->sorters);
  kv->sorters = NULL;
  kv->nsorters = 0;
  kv->groups = 0;
}

/* ---- creation and emits ---- */

int pmr_kv_create_group(pmr_ctx *ctx, size_t value_size, pmr_dtype dtype,
                        pmr_kv **out) {
  if (!ctx || !out)
    return PMR_EINVAL;
  *out = NULL;
  bool num = dtype == PMR_INT64 || dtype == PMR_FLOAT64;
  if (value_size > PMR__GROUP_MAX_VSIZE ||
      (dtype != PMR_BYTES && !num) || (num && (!value_size || value_size % 8)))
    return pmr__seterr(ctx, PMR_EINVAL,
                       "a group set needs values of 1..2^20 bytes (int64 or "
                       "float64: a multiple of 8), or value_size 0 (ragged "
                       "PMR_BYTES values)");
  pmr_kv *kv = pmr__calloc(1, sizeof *kv);
  if (!kv)
    return PMR_ENOMEM; /* as pmr_kv_create: local, no message */
  kv->ctx = ctx;
  kv->kind = PMR__GROUP;
  kv->op = PMR__OP_USER;
  kv->dtype = dtype;
  kv->vsize = value_size;
  kv->state = PMR__EMPTY;
  *out = kv;
  return PMR_OK;
}

/* An emit into a group set (the set's kind checked by the caller). */
int pmr__group_emit(pmr_emitter *em, const void *key, size_t klen,
                    const void *value, size_t vlen) {
  pmr_kv *kv = em->kv;
  if ((kv->vsize != PMR__RAGGED && vlen != kv->vsize) ||
      (kv->vsize == PMR__RAGGED && (uint64_t)vlen > PMR__GROUP_MAX_VLEN) ||
      (!key && klen) || (!value && vlen)) {
    if (em->msg && !em->status)
      snprintf(em->msg, PMR__ERRMSG_MAX,
               kv->vsize == PMR__RAGGED
                   ? "an emit of a %zu-byte value into a ragged group set "
                     "(at most 2^32-1 bytes)"
                   : "an emit of a %zu-byte value into a group set of "
                     "%zu-byte values",
               vlen, kv->vsize);
    if (!em->status)
      em->status = PMR_EINVAL;
    return PMR_EINVAL;
  }
  em->emitted++;
  if (pmr__gstore_add(em->gstore, kv->vsize, key, klen, value, vlen))
    return em->status = PMR_ENOMEM;
  return PMR_OK;
}

/* ---- walks ---- */

struct pmr__gwalk {
  int n;
  pmr__reader **rd;
  pmr__rec *pend; /* each reader's next pair */
  bool *has;
  int consumed; /* the reader whose pending pair was handed out, or -1 */
  int sel;      /* the reader picked for the next pair */
  bool selnew;
  bool started;
  pmr__buf last; /* the current key */
  /* pmr__gwalk_group's scratch */
  pmr__buf gkey, gvals;
  uint64_t *offs;
  size_t ocap;
  size_t vsize;
};

static int pmr__keycmp(const unsigned char *a, size_t an,
                       const unsigned char *b, size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? memcmp(a, b, n) : 0;
  return c ? c : (an < bn ? -1 : an > bn);
}

void pmr__gwalk_close(pmr__gwalk **pw) {
  pmr__gwalk *w = *pw;
  if (!w)
    return;
  for (int i = 0; w->rd && i < w->n; i++)
    pmr__reader_close(&w->rd[i]);
  pmr__free(w->rd);
  pmr__free(w->pend);
  pmr__free(w->has);
  pmr__buf_free(&w->last);
  pmr__buf_free(&w->gkey);
  pmr__buf_free(&w->gvals);
  pmr__free(w->offs);
  pmr__free(w);
  *pw = NULL;
}

int pmr__gwalk_open(const pmr_kv *kv, int first, int n, pmr__gwalk **out) {
  *out = NULL;
  pmr__gwalk *w = pmr__calloc(1, sizeof *w);
  int rc = PMR_OK;
  if (w) {
    w->n = n;
    w->consumed = -1;
    w->vsize = kv->vsize;
    w->rd = pmr__calloc((size_t)(n ? n : 1), sizeof *w->rd);
    w->pend = pmr__calloc((size_t)(n ? n : 1), sizeof *w->pend);
    w->has = pmr__calloc((size_t)(n ? n : 1), sizeof *w->has);
  }
  if (!w || !w->rd || !w->pend || !w->has) {
    pmr__gwalk_close(&w);
#pragma omp critical(pmr__err)
    pmr__seterr(kv->ctx, PMR_ENOMEM, "out of memory walking a group set");
    return PMR_ENOMEM;
  }
  for (int i = 0; !rc && i < n; i++) {
    rc = pmr__reader_open(kv->sorters[first + i], &w->rd[i]);
    if (!rc) {
      int r = pmr__reader_next(w->rd[i], &w->pend[i]);
      if (r < 0)
        rc = -r;
      w->has[i] = r > 0;
    }
  }
  if (rc) {
    pmr__gwalk_close(&w);
    return rc;
  }
  *out = w;
  return PMR_OK;
}

/* Pick the reader of the next pair: the current key's, while it goes on;
 * else the least key. 1, 0 at the end, or minus a code. */
static int pmr__gwalk_pick(pmr__gwalk *w) {
  if (w->consumed >= 0) {
    int i = w->consumed, r = pmr__reader_next(w->rd[i], &w->pend[i]);
    w->consumed = -1;
    if (r < 0)
      return r;
    w->has[i] = r > 0;
  }
  int best = -1;
  for (int i = 0; i < w->n; i++) {
    if (!w->has[i])
      continue;
    if (best < 0 || pmr__keycmp(w->pend[i].key, w->pend[i].klen,
                                w->pend[best].key, w->pend[best].klen) < 0)
      best = i;
  }
  if (best < 0)
    return 0;
  w->sel = best;
  w->selnew = !w->started ||
              pmr__keycmp(w->pend[best].key, w->pend[best].klen, w->last.p,
                          w->last.len) != 0;
  return 1;
}

/* Hand out the picked pair. */
static int pmr__gwalk_take(pmr__gwalk *w, pmr__rec *r) {
  *r = w->pend[w->sel];
  w->consumed = w->sel;
  if (w->selnew) {
    w->last.len = 0;
    if (pmr__buf_put(&w->last, r->key, r->klen))
      return PMR_ENOMEM;
    w->started = true;
  }
  return PMR_OK;
}

int pmr__gwalk_pair(pmr__gwalk *w, const unsigned char **key, size_t *klen,
                    const unsigned char **val, size_t *vlen, bool *newkey) {
  int r = pmr__gwalk_pick(w);
  if (r <= 0)
    return r;
  pmr__rec rec;
  if (pmr__gwalk_take(w, &rec))
    return -PMR_ENOMEM;
  *key = rec.key;
  *klen = rec.klen;
  *val = rec.val;
  *vlen = rec.vlen;
  *newkey = w->selnew;
  return 1;
}

int pmr__gwalk_group(pmr__gwalk *w, pmr_group *g) {
  int r = pmr__gwalk_pick(w);
  if (r <= 0)
    return r;
  w->gkey.len = 0;
  w->gvals.len = 0;
  uint64_t n = 0;
  do {
    pmr__rec rec;
    if (pmr__gwalk_take(w, &rec))
      return -PMR_ENOMEM;
    if (n == 0 && pmr__buf_put(&w->gkey, rec.key, rec.klen))
      return -PMR_ENOMEM;
    void *o = w->offs;
    if (pmr__grow_array(&o, &w->ocap, (size_t)n + 2, sizeof *w->offs, 256))
      return -PMR_ENOMEM;
    w->offs = o;
    w->offs[n] = w->gvals.len;
    if (pmr__buf_put(&w->gvals, rec.val, rec.vlen))
      return -PMR_ENOMEM;
    n++;
    r = pmr__gwalk_pick(w);
    if (r < 0)
      return r;
  } while (r > 0 && !w->selnew);
  w->offs[n] = w->gvals.len;
  static const unsigned char none[1];
  g->key = w->gkey.len ? w->gkey.p : none;
  g->klen = w->gkey.len;
  g->n = n;
  g->value_size = w->vsize;
  g->values = w->gvals.len ? w->gvals.p : none;
  g->offsets = w->offs;
  return 1;
}

/* ---- visiting and counting ---- */

int pmr_kv_foreach_group(const pmr_kv *kv, pmr_group_visit_fn fn,
                         void *user) {
  if (!kv || !fn)
    return PMR_EINVAL;
  if (kv->kind != PMR__GROUP)
    return pmr__seterr(kv->ctx, PMR_EINVAL,
                       "pmr_kv_foreach_group: not a group set (see "
                       "pmr_kv_create_group)");
  int rc = pmr__kv_check(kv, PMR__READABLE, "pmr_kv_foreach_group");
  if (rc || !kv->nsorters)
    return rc;
  pmr__gwalk *w = NULL;
  if ((rc = pmr__gwalk_open(kv, 0, kv->nsorters, &w)))
    return rc;
  pmr_group g;
  int r;
  while ((r = pmr__gwalk_group(w, &g)) > 0)
    if ((rc = fn(&g, user)))
      break;
  if (r < 0 && !rc) {
    rc = -r;
    if (rc == PMR_ENOMEM)
      pmr__seterr(kv->ctx, rc, "out of memory gathering a group");
  }
  pmr__gwalk_close(&w);
  return rc;
}

uint64_t pmr__group_count(const pmr_kv *kv) {
  if (kv->groups != PMR__GROUPS_UNKNOWN)
    return kv->groups;
  uint64_t n = 0;
  pmr__gwalk *w = NULL;
  if (kv->nsorters && pmr__gwalk_open(kv, 0, kv->nsorters, &w) == PMR_OK) {
    const unsigned char *k, *v;
    size_t kl, vl;
    bool nk;
    while (pmr__gwalk_pair(w, &k, &kl, &v, &vl, &nk) > 0)
      n += nk;
    pmr__gwalk_close(&w);
  }
  /* The set is the caller's to change: the count is a cache of it. */
  ((pmr_kv *)kv)->groups = n;
  return n;
}

uint64_t pmr_kv_local_pairs(const pmr_kv *kv) {
  if (!kv)
    return 0;
  if (kv->kind != PMR__GROUP)
    return pmr_kv_local_size(kv);
  uint64_t n = 0;
  for (int i = 0; i < kv->ngstores; i++)
    n += kv->gstores[i].pairs;
  for (int i = 0; i < kv->nsorters; i++)
    n += pmr__sorter_count(kv->sorters[i]);
  return n;
}
