/* Collective selections over a set: the top N pairs in an order, and every
 * pair gathered to one rank in key order. Each rank selects its best N with
 * a bounded heap, the lists travel in the wire format, the root selects
 * again. Depends on base, kv and the wire format. */
#include "kv/kv.h"
#include "shuffle/wire.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

typedef struct pmr__ent {
  const unsigned char *key;
  size_t klen;
  const unsigned char *val;
} pmr__ent;

typedef struct pmr__order {
  pmr_kv_cmp_fn cmp;
  void *user;
} pmr__order;

static int pmr__bytes_cmp(const void *ak, size_t al, const void *bk,
                          size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(ak, bk, m) : 0;
  if (c)
    return c;
  return al < bl ? -1 : al > bl;
}

/* The default orders: value descending (int64, or double with NaN last),
 * then key bytes ascending. */
static int pmr__default_cmp_i64(const void *ak, size_t al, const void *av,
                                const void *bk, size_t bl, const void *bv,
                                void *user) {
  (void)user;
  int64_t a, b;
  memcpy(&a, av, 8);
  memcpy(&b, bv, 8);
  if (a != b)
    return a > b ? -1 : 1;
  return pmr__bytes_cmp(ak, al, bk, bl);
}

static int pmr__default_cmp_f64(const void *ak, size_t al, const void *av,
                                const void *bk, size_t bl, const void *bv,
                                void *user) {
  (void)user;
  double a, b;
  memcpy(&a, av, 8);
  memcpy(&b, bv, 8);
  bool an = isnan(a), bn = isnan(b);
  if (an != bn)
    return an ? 1 : -1;
  if (!an && a != b)
    return a > b ? -1 : 1;
  return pmr__bytes_cmp(ak, al, bk, bl);
}

static int pmr__key_cmp(const void *ak, size_t al, const void *av,
                        const void *bk, size_t bl, const void *bv,
                        void *user) {
  (void)av, (void)bv, (void)user;
  return pmr__bytes_cmp(ak, al, bk, bl);
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
    if (pmr__add_ovf(b, pmr__wire_len(e[i].klen, vsize), &b))
      return SIZE_MAX;
  return b;
}

static int pmr__list_make(const pmr__ent *e, size_t n, size_t vsize,
                          pmr_kv_list **out) {
  size_t kb = 0;
  for (size_t i = 0; i < n; i++)
    kb += e[i].klen;
  pmr_kv_list *l = pmr__calloc(1, sizeof *l);
  uint8_t *keys = pmr__malloc(kb ? kb : 1);
  uint64_t *offs = pmr__malloc((n + 1) * sizeof *offs);
  uint8_t *vals = pmr__malloc(n > 0 ? n * vsize : 1);
  if (!l || !keys || !offs || !vals) {
    pmr__free(l);
    pmr__free(keys);
    pmr__free(offs);
    pmr__free(vals);
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
  pmr__free((void *)(*pl)->keys);
  pmr__free((void *)(*pl)->key_offsets);
  pmr__free((void *)(*pl)->values);
  pmr__free(*pl);
  *pl = NULL;
}

/* Top-N and gather; `what` names the public call in messages. */
static int pmr__select(pmr_kv *kv, uint64_t n, pmr_kv_cmp_fn cmp, void *user,
                       int root, pmr_kv_list **out, const char *what) {
  if (!kv)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  char msg[128];
  if (out)
    *out = NULL;
  snprintf(msg, sizeof msg, "%s: no output pointer, or root out of range",
           what);
  int rc = pmr__agree_arg(ctx, !out || root < 0 || root >= ctx->size, msg);
  snprintf(msg, sizeof msg,
           kv->kind == PMR__GROUP
               ? "%s: a group set: visit its groups with "
                 "pmr_kv_foreach_group"
               : "%s: dense sets are arrays: read them with "
                 "pmr_kv_dense_values",
           what);
  if (!rc)
    rc = pmr__agree_arg(ctx, kv->kind != PMR__HASH, msg);
  if (!rc)
    rc = pmr__agree_arg(ctx, !cmp && (kv->vsize != 8 || kv->dtype == PMR_BYTES),
                        "top-N needs an order for values that are not int64 "
                        "or float64");
  if (!rc)
    rc = pmr__agree(ctx, pmr__kv_check(kv, PMR__READABLE, what));
  if (rc)
    return rc;
  if (!cmp)
    cmp = kv->dtype == PMR_FLOAT64 ? pmr__default_cmp_f64
                                   : pmr__default_cmp_i64;
  pmr__order o = {cmp, user};
  uint64_t local = pmr_kv_local_size(kv);
  size_t cap = (size_t)(n < local ? n : local);
  pmr__ent *h = pmr__malloc((cap ? cap : 1) * sizeof *h);
  size_t hn = 0;
  rc = h ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
  if (!rc) {
    pmr__kv_iter it = {.kv = kv};
    pmr__pair r;
    while (pmr__kv_next(&it, &r)) {
      pmr__ent e = {r.key, r.klen, r.value};
      pmr__heap_push(&o, h, &hn, cap, e);
    }
    pmr__heap_sort(&o, h, hn);
  }
  /* Gather each rank's best n at the root. */
  size_t bytes = rc ? 0 : pmr__ents_bytes(h, hn, kv->vsize);
  unsigned char *sbuf = NULL;
  if (!rc && bytes > (size_t)INT_MAX)
    rc = pmr__seterr(ctx, PMR_EOVERFLOW, "top-N list over 2 GiB on rank %d",
                     ctx->rank);
  if (!rc && !(sbuf = pmr__malloc(bytes ? bytes : 1)))
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
  if (!rc) {
    unsigned char *p = sbuf;
    for (size_t i = 0; i < hn; i++)
      p += pmr__wire_put(p, h[i].key, h[i].klen, h[i].val, kv->vsize);
  }
  /* The root's receive arrays, before the gather writes into them. */
  int mine = (int)bytes, *counts = NULL, *displs = NULL;
  if (!rc && ctx->rank == root) {
    counts = pmr__malloc((size_t)ctx->size * sizeof *counts);
    displs = pmr__malloc((size_t)ctx->size * sizeof *displs);
    if (!counts || !displs)
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
  }
  rc = pmr__agree(ctx, rc);
  unsigned char *rbuf = NULL;
  long long total = 0;
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT,
                                   root, ctx->comm),
                        "MPI_Gather of top-N sizes");
  int lrc = PMR_OK;
  if (!rc && ctx->rank == root) {
    for (int r = 0; r < ctx->size; r++) {
      displs[r] = (int)total;
      total += counts[r];
    }
    if (total > INT_MAX)
      lrc = pmr__seterr(ctx, PMR_EOVERFLOW, "top-N lists over 2 GiB");
    else if (!(rbuf = pmr__malloc(total ? (size_t)total : 1)))
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
  }
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Gatherv(sbuf, mine, MPI_BYTE, rbuf, counts,
                                    displs, MPI_BYTE, root, ctx->comm),
                        "MPI_Gatherv of top-N lists");
  lrc = PMR_OK;
  if (!rc && ctx->rank == root) {
    /* Merge: parse every rank's list, select again. */
    uint64_t all = 0;
    pmr__wire_whole(rbuf, (size_t)total, kv->vsize, &all);
    pmr__ent *m = pmr__malloc((size_t)(all ? all : 1) * sizeof *m);
    size_t mn = 0, mcap = (size_t)(n < all ? n : all);
    if (!m) {
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in top-N");
    } else {
      const unsigned char *p = rbuf, *e = rbuf + total, *k, *v;
      size_t kl, used;
      while ((used = pmr__wire_get(p, e, kv->vsize, &k, &kl, &v))) {
        pmr__ent ent = {k, kl, v};
        pmr__heap_push(&o, m, &mn, mcap, ent);
        p += used;
      }
      pmr__heap_sort(&o, m, mn);
      lrc = pmr__list_make(m, mn, kv->vsize, out);
      if (lrc)
        pmr__seterr(ctx, lrc, "out of memory in top-N");
      pmr__free(m);
    }
  } else if (!rc) {
    lrc = pmr__list_make(NULL, 0, kv->vsize, out);
  }
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  if (rc)
    pmr_kv_list_free(out);
  pmr__free(h);
  pmr__free(sbuf);
  pmr__free(rbuf);
  pmr__free(counts);
  pmr__free(displs);
  return rc;
}

int pmr_kv_top(pmr_kv *kv, uint64_t n, pmr_kv_cmp_fn cmp, void *user,
               int root, pmr_kv_list **out) {
  return pmr__select(kv, n, cmp, user, root, out, "pmr_kv_top");
}

int pmr_kv_gather(pmr_kv *kv, int root, pmr_kv_list **out) {
  return pmr__select(kv, UINT64_MAX, pmr__key_cmp, NULL, root, out,
                     "pmr_kv_gather");
}
