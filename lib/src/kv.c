/* Key/value sets: creation, emitting, combining, iteration, top-N. */
#include "table_inline.h"

#include <limits.h>
#include <stdlib.h>

static int pmr__kv_alloc(pmr_ctx *ctx, pmr_op op, size_t vsize,
                         pmr_dtype dtype, pmr_combine_fn fn, void *user,
                         pmr_kv **out) {
  if (!ctx || !out)
    return PMR_EINVAL;
  *out = NULL;
  pmr_kv *kv = calloc(1, sizeof *kv);
  if (!kv)
    return PMR_ENOMEM;
  kv->ctx = ctx;
  kv->op = op;
  kv->vsize = vsize;
  kv->dtype = dtype;
  kv->combine = fn;
  kv->user = user;
  *out = kv;
  return PMR_OK;
}

int pmr_kv_create(pmr_ctx *ctx, pmr_op op, pmr_kv **out) {
  if ((int)op < (int)PMR_SUM_I64 || op > PMR_COUNT)
    return PMR_EINVAL;
  pmr_dtype dt = (op == PMR_SUM_F64 || op == PMR_MIN_F64 || op == PMR_MAX_F64)
                     ? PMR_FLOAT64
                     : PMR_INT64;
  return pmr__kv_alloc(ctx, op, 8, dt, NULL, NULL, out);
}

int pmr_kv_create_user(pmr_ctx *ctx, size_t value_size, pmr_dtype dtype,
                       pmr_combine_fn fn, void *user, pmr_kv **out) {
  if (!fn || value_size < 1 || value_size > 4096 ||
      ((dtype == PMR_INT64 || dtype == PMR_FLOAT64) && value_size != 8) ||
      dtype < PMR_INT64 || dtype > PMR_BYTES)
    return PMR_EINVAL;
  return pmr__kv_alloc(ctx, (pmr_op)-1, value_size, dtype, fn, user, out);
}

void pmr_kv_destroy(pmr_kv **pkv) {
  if (!pkv || !*pkv)
    return;
  pmr_kv *kv = *pkv;
  for (int i = 0; i < kv->ntables; i++)
    pmr__table_free(&kv->tables[i]);
  free(kv->tables);
  free(kv);
  *pkv = NULL;
}

int pmr__kv_tables(pmr_kv *kv, int n) {
  if (n <= kv->ntables)
    return PMR_OK;
  pmr__table *t = realloc(kv->tables, (size_t)n * sizeof *t);
  if (!t)
    return PMR_ENOMEM;
  for (int i = kv->ntables; i < n; i++)
    pmr__table_init(&t[i], kv->vsize);
  kv->tables = t;
  kv->ntables = n;
  return PMR_OK;
}

uint64_t pmr_kv_local_size(const pmr_kv *kv) {
  uint64_t n = 0;
  for (int i = 0; i < kv->ntables; i++)
    n += kv->tables[i].count;
  return n;
}
size_t pmr_kv_value_size(const pmr_kv *kv) { return kv->vsize; }
pmr_dtype pmr_kv_dtype(const pmr_kv *kv) { return kv->dtype; }

void pmr__kv_merge(const pmr_kv *kv, void *acc, const void *in) {
  int64_t a, b;
  double x, y;
  switch ((int)kv->op) {
  case PMR_SUM_I64:
  case PMR_COUNT:
    memcpy(&a, acc, 8);
    memcpy(&b, in, 8);
    a = (int64_t)((uint64_t)a + (uint64_t)b);
    memcpy(acc, &a, 8);
    return;
  case PMR_MIN_I64:
  case PMR_MAX_I64:
    memcpy(&a, acc, 8);
    memcpy(&b, in, 8);
    if (kv->op == PMR_MIN_I64 ? b < a : b > a)
      memcpy(acc, &b, 8);
    return;
  case PMR_SUM_F64:
    memcpy(&x, acc, 8);
    memcpy(&y, in, 8);
    x += y;
    memcpy(acc, &x, 8);
    return;
  case PMR_MIN_F64:
  case PMR_MAX_F64:
    memcpy(&x, acc, 8);
    memcpy(&y, in, 8);
    if (kv->op == PMR_MIN_F64 ? y < x : y > x)
      memcpy(acc, &y, 8);
    return;
  default:
    kv->combine(acc, in, kv->user);
  }
}

int pmr_emit(pmr_emitter *em, const void *key, size_t klen,
             const void *value) {
  pmr_kv *kv = em->kv;
  uint64_t h = pmr__hash(key, klen);
  em->emitted++;
  bool isnew;
  void *v = pmr__table_upsert(em->table, h, key, klen, &isnew);
  if (!v)
    return em->status = PMR_ENOMEM;
  if (kv->op == PMR_COUNT) {
    int64_t c = 1;
    if (isnew)
      memcpy(v, &c, 8);
    else
      pmr__kv_merge(kv, v, &c);
  } else if (isnew) {
    memcpy(v, value, kv->vsize);
  } else {
    pmr__kv_merge(kv, v, value);
  }
  return PMR_OK;
}

int pmr_emit_i64(pmr_emitter *em, const void *key, size_t klen,
                 int64_t value) {
  /* The hot path of counting: add in place without the generic dispatch. */
  if (em->kv->op == PMR_SUM_I64) {
    bool isnew;
    em->emitted++;
    void *v = pmr__table_upsert(em->table, pmr__hash(key, klen), key, klen,
                                &isnew);
    if (!v)
      return em->status = PMR_ENOMEM;
    if (isnew) {
      memcpy(v, &value, 8);
    } else {
      int64_t a;
      memcpy(&a, v, 8);
      a = (int64_t)((uint64_t)a + (uint64_t)value);
      memcpy(v, &a, 8);
    }
    return PMR_OK;
  }
  return pmr_emit(em, key, klen, &value);
}

int pmr_emit_f64(pmr_emitter *em, const void *key, size_t klen,
                 double value) {
  return pmr_emit(em, key, klen, &value);
}

int pmr_emitter_thread(const pmr_emitter *em) { return em->thread; }

int pmr_kv_foreach(const pmr_kv *kv, pmr_kv_visit_fn fn, void *user) {
  for (int i = 0; i < kv->ntables; i++) {
    const pmr__table *t = &kv->tables[i];
    pmr__rec r;
    for (size_t pos = 0; pmr__table_next(t, &pos, &r);) {
      int rc = fn(r.key, r.klen, r.value, user);
      if (rc)
        return rc;
    }
  }
  return 0;
}

const void *pmr_kv_find(const pmr_kv *kv, const void *key, size_t klen) {
  uint64_t h = pmr__hash(key, klen);
  for (int i = 0; i < kv->ntables; i++) {
    const void *v = pmr__table_find(&kv->tables[i], h, key, klen);
    if (v)
      return v;
  }
  return NULL;
}

/* ---- top-N ---- */

typedef struct pmr__ent {
  const unsigned char *key;
  size_t klen;
  const unsigned char *val;
} pmr__ent;

typedef struct pmr__order {
  pmr_kv_cmp_fn cmp;
  void *user;
} pmr__order;

static int pmr__default_cmp(const void *ak, size_t al, const void *av,
                            const void *bk, size_t bl, const void *bv,
                            void *user) {
  (void)user;
  int64_t a, b;
  memcpy(&a, av, 8);
  memcpy(&b, bv, 8);
  if (a != b)
    return a > b ? -1 : 1;
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(ak, bk, m) : 0;
  if (c)
    return c;
  return al < bl ? -1 : al > bl;
}

static int pmr__key_cmp(const void *ak, size_t al, const void *av,
                        const void *bk, size_t bl, const void *bv,
                        void *user) {
  (void)av, (void)bv, (void)user;
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(ak, bk, m) : 0;
  if (c)
    return c;
  return al < bl ? -1 : al > bl;
}

static int pmr__ent_cmp(const pmr__order *o, const pmr__ent *a,
                        const pmr__ent *b) {
  return o->cmp(a->key, a->klen, a->val, b->key, b->klen, b->val, o->user);
}

/* A max-heap on the order ("worst" of the kept entries on top), bounded to
 * n entries: O(N log n) selection. */
static void pmr__heap_sift_down(const pmr__order *o, pmr__ent *h, size_t n,
                                size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && pmr__ent_cmp(o, &h[l], &h[m]) > 0)
      m = l;
    if (r < n && pmr__ent_cmp(o, &h[r], &h[m]) > 0)
      m = r;
    if (m == i)
      return;
    pmr__ent tmp = h[i];
    h[i] = h[m];
    h[m] = tmp;
    i = m;
  }
}
static void pmr__heap_push(const pmr__order *o, pmr__ent *h, size_t *n,
                           size_t cap, pmr__ent e) {
  if (*n < cap) {
    size_t i = (*n)++;
    h[i] = e;
    while (i > 0) {
      size_t p = (i - 1) / 2;
      if (pmr__ent_cmp(o, &h[i], &h[p]) <= 0)
        break;
      pmr__ent tmp = h[i];
      h[i] = h[p];
      h[p] = tmp;
      i = p;
    }
  } else if (cap > 0 && pmr__ent_cmp(o, &e, &h[0]) < 0) {
    h[0] = e;
    pmr__heap_sift_down(o, h, *n, 0);
  }
}
/* Sort a heap in place into ascending order. */
static void pmr__heap_sort(const pmr__order *o, pmr__ent *h, size_t n) {
  for (size_t end = n; end > 1; end--) {
    pmr__ent tmp = h[0];
    h[0] = h[end - 1];
    h[end - 1] = tmp;
    pmr__heap_sift_down(o, h, end - 1, 0);
  }
}

/* Serialised list: [varint klen][key][value] ... */
static size_t pmr__ents_bytes(const pmr__ent *e, size_t n, size_t vsize) {
  size_t b = 0;
  for (size_t i = 0; i < n; i++)
    b += pmr__varint_len(e[i].klen) + e[i].klen + vsize;
  return b;
}

static int pmr__list_make(const pmr__ent *e, size_t n, size_t vsize,
                          pmr_kv_list **out) {
  size_t kb = 0;
  for (size_t i = 0; i < n; i++)
    kb += e[i].klen;
  pmr_kv_list *l = calloc(1, sizeof *l);
  uint8_t *keys = malloc(kb ? kb : 1);
  uint64_t *offs = malloc((n + 1) * sizeof *offs);
  uint8_t *vals = malloc(n > 0 ? n * vsize : 1);
  if (!l || !keys || !offs || !vals) {
    free(l);
    free(keys);
    free(offs);
    free(vals);
    return PMR_ENOMEM;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    offs[i] = o;
    if (e[i].klen)
      memcpy(keys + o, e[i].key, e[i].klen);
    o += e[i].klen;
    memcpy(vals + i * vsize, e[i].val, vsize);
  }
  offs[n] = o;
  l->n = n;
  l->value_size = vsize;
  l->keys = keys;
  l->key_offsets = offs;
  l->values = vals;
  *out = l;
  return PMR_OK;
}

void pmr_kv_list_free(pmr_kv_list **pl) {
  if (!pl || !*pl)
    return;
  free((void *)(*pl)->keys);
  free((void *)(*pl)->key_offsets);
  free((void *)(*pl)->values);
  free(*pl);
  *pl = NULL;
}

int pmr_kv_top(pmr_kv *kv, uint64_t n, pmr_kv_cmp_fn cmp, void *user,
               int root, pmr_kv_list **out) {
  pmr_ctx *ctx = kv->ctx;
  if (!out || root < 0 || root >= ctx->size)
    return PMR_EINVAL;
  *out = NULL;
  if (!cmp && kv->vsize != 8)
    return pmr__seterr(ctx, PMR_EINVAL, "top-N needs an order for values "
                                        "that are not 8 bytes");
  pmr__order o = {cmp ? cmp : pmr__default_cmp, user};
  uint64_t local = pmr_kv_local_size(kv);
  size_t cap = (size_t)(n < local ? n : local);
  pmr__ent *h = malloc((cap ? cap : 1) * sizeof *h);
  size_t hn = 0;
  int rc = h ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
  if (!rc) {
    for (int i = 0; i < kv->ntables; i++) {
      const pmr__table *t = &kv->tables[i];
      pmr__rec r;
      for (size_t pos = 0; pmr__table_next(t, &pos, &r);) {
        pmr__ent e = {r.key, r.klen, r.value};
        pmr__heap_push(&o, h, &hn, cap, e);
      }
    }
    pmr__heap_sort(&o, h, hn);
  }
  /* Gather each rank's best n at the root. */
  size_t bytes = rc ? 0 : pmr__ents_bytes(h, hn, kv->vsize);
  unsigned char *sbuf = NULL;
  if (!rc && bytes > (size_t)INT_MAX)
    rc = pmr__seterr(ctx, PMR_EOVERFLOW, "top-N list over 2 GiB on rank %d",
                     ctx->rank);
  if (!rc && !(sbuf = malloc(bytes ? bytes : 1)))
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
  if (!rc) {
    unsigned char *p = sbuf;
    for (size_t i = 0; i < hn; i++) {
      p += pmr__varint_put(p, h[i].klen);
      memcpy(p, h[i].key, h[i].klen);
      p += h[i].klen;
      memcpy(p, h[i].val, kv->vsize);
      p += kv->vsize;
    }
  }
  rc = pmr__agree(ctx, rc);
  int mine = (int)bytes, *counts = NULL, *displs = NULL;
  unsigned char *rbuf = NULL;
  long long total = 0;
  if (!rc && ctx->rank == root) {
    counts = malloc((size_t)ctx->size * sizeof *counts);
    displs = malloc((size_t)ctx->size * sizeof *displs);
  }
  if (!rc && MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, root,
                        ctx->comm) != MPI_SUCCESS)
    rc = PMR_EMPI;
  int lrc = PMR_OK;
  if (!rc && ctx->rank == root) {
    if (!counts || !displs) {
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
    } else {
      for (int r = 0; r < ctx->size; r++) {
        displs[r] = (int)total;
        total += counts[r];
      }
      if (total > INT_MAX)
        lrc = pmr__seterr(ctx, PMR_EOVERFLOW, "top-N lists over 2 GiB");
      else if (!(rbuf = malloc(total ? (size_t)total : 1)))
        lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
    }
  }
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  if (!rc && MPI_Gatherv(sbuf, mine, MPI_BYTE, rbuf, counts, displs,
                         MPI_BYTE, root, ctx->comm) != MPI_SUCCESS)
    rc = PMR_EMPI;
  lrc = PMR_OK;
  if (!rc && ctx->rank == root) {
    /* Merge: parse every rank's list, select again. */
    size_t all = 0;
    for (const unsigned char *p = rbuf, *e = rbuf + total; p < e;) {
      uint64_t kl = 0;
      p += pmr__varint_get(p, e, &kl);
      p += kl + kv->vsize;
      all++;
    }
    pmr__ent *m = malloc((all ? all : 1) * sizeof *m);
    size_t mn = 0, mcap = (size_t)(n < all ? n : all);
    if (!m) {
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
    } else {
      for (const unsigned char *p = rbuf, *e = rbuf + total; p < e;) {
        uint64_t kl = 0;
        p += pmr__varint_get(p, e, &kl);
        pmr__ent ent = {p, (size_t)kl, p + kl};
        p += kl + kv->vsize;
        pmr__heap_push(&o, m, &mn, mcap, ent);
      }
      pmr__heap_sort(&o, m, mn);
      lrc = pmr__list_make(m, mn, kv->vsize, out);
      if (lrc)
        pmr__seterr(ctx, lrc, "out of memory in top-N");
      free(m);
    }
  } else if (!rc) {
    lrc = pmr__list_make(NULL, 0, kv->vsize, out);
  }
  if (rc == PMR_EMPI)
    pmr__seterr(ctx, rc, "MPI error while gathering top-N");
  else if (!rc)
    rc = pmr__agree(ctx, lrc);
  if (rc)
    pmr_kv_list_free(out);
  free(h);
  free(sbuf);
  free(rbuf);
  free(counts);
  free(displs);
  return rc;
}

int pmr_kv_gather(pmr_kv *kv, int root, pmr_kv_list **out) {
  return pmr_kv_top(kv, UINT64_MAX, pmr__key_cmp, NULL, root, out);
}
