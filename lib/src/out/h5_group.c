/* HDF5 output of a reduced group set: the kv layout's keys and key_offsets
 * (one entry per distinct key), the values one row per pair, and
 * group_offsets [n + 1] telling which rows are each key's; ragged values
 * are bytes with value_offsets [m + 1]. Rank by rank, each rank's keys in
 * order, written in collective batches bounded by the memory budget. */
#include "kv/group.h"
#include "out/out.h"

typedef struct pmr__gbatch {
  pmr__buf keys, vals;
  uint64_t *koff, *goff, *voff; /* per key, per key, per value */
  size_t kcap, gcap, vcap;
  size_t nk, nv;
} pmr__gbatch;

static void pmr__gbatch_free(pmr__gbatch *b) {
  pmr__buf_free(&b->keys);
  pmr__buf_free(&b->vals);
  pmr__free(b->koff);
  pmr__free(b->goff);
  pmr__free(b->voff);
}

/* Where this batch starts in the datasets. */
typedef struct pmr__gat {
  uint64_t n, k, m, v; /* keys, key bytes, values, value bytes */
} pmr__gat;

/* The walk's next pair, kept when it did not fit a batch. */
typedef struct pmr__gpend {
  int has; /* 1 a pair, 0 the end, < 0 an error */
  const unsigned char *k, *v;
  size_t kl, vl;
  bool nk;
} pmr__gpend;

static int pmr__gbatch_fill(pmr__gbatch *b, pmr__gwalk *w, pmr__gpend *p,
                            const pmr__gat *at, size_t vsize, size_t limit) {
  b->keys.len = b->vals.len = 0;
  b->nk = b->nv = 0;
  for (;;) {
    if (p->has == 2)
      p->has = pmr__gwalk_pair(w, &p->k, &p->kl, &p->v, &p->vl, &p->nk);
    if (p->has < 0)
      return -p->has;
    if (p->has == 0)
      return PMR_OK;
    size_t cost = p->vl + 16 + (p->nk ? p->kl + 16 : 0);
    if (b->nv && b->keys.len + b->vals.len + 16 * (b->nk + b->nv) + cost >
                     limit)
      return PMR_OK;
    void *a;
    if (p->nk) {
      a = b->koff;
      if (pmr__grow_array(&a, &b->kcap, b->nk + 1, 8, 1024))
        return PMR_ENOMEM;
      b->koff = a;
      a = b->goff;
      if (pmr__grow_array(&a, &b->gcap, b->nk + 1, 8, 1024))
        return PMR_ENOMEM;
      b->goff = a;
      b->koff[b->nk] = at->k + b->keys.len;
      b->goff[b->nk] = at->m + b->nv;
      b->nk++;
      if (pmr__buf_put(&b->keys, p->k, p->kl))
        return PMR_ENOMEM;
    }
    if (vsize == PMR__RAGGED) {
      a = b->voff;
      if (pmr__grow_array(&a, &b->vcap, b->nv + 1, 8, 1024))
        return PMR_ENOMEM;
      b->voff = a;
      b->voff[b->nv] = at->v + b->vals.len;
    }
    if (pmr__buf_put(&b->vals, p->v, p->vl))
      return PMR_ENOMEM;
    b->nv++;
    p->has = 2;
  }
}

int pmr__h5_group_body(pmr_kv *kv, hid_t g, const char *path) {
  pmr_ctx *ctx = kv->ctx;
  size_t vsize = kv->vsize;
  bool ragged = vsize == PMR__RAGGED;
  /* Sizes: keys, key bytes, values, value bytes; this rank's, the ranks'
   * before it, all. */
  uint64_t mine[4] = {0, 0, pmr_kv_local_pairs(kv), 0};
  uint64_t before[4] = {0}, total[4] = {0};
  pmr__gwalk *w = NULL;
  int lrc = kv->nsorters ? pmr__gwalk_open(kv, 0, kv->nsorters, &w) : PMR_OK;
  pmr__gpend p = {.has = 2};
  while (w && !lrc && (p.has = pmr__gwalk_pair(w, &p.k, &p.kl, &p.v, &p.vl,
                                               &p.nk)) > 0) {
    mine[0] += p.nk;
    mine[1] += p.nk ? p.kl : 0;
    mine[3] += p.vl;
  }
  if (!lrc && p.has < 0)
    lrc = -p.has;
  pmr__gwalk_close(&w);
  if (lrc)
    pmr__seterr(ctx, lrc, "cannot read the set to write '%s': %s", path,
                pmr_strerror(lrc));
  int rc = pmr__agree(ctx, lrc);
  if (rc)
    return rc;
  int mrc = MPI_Exscan(mine, before, 4, MPI_UINT64_T, MPI_SUM, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(mine, total, 4, MPI_UINT64_T, MPI_SUM, ctx->comm);
  rc = pmr__agree_mpi(ctx, mrc, "MPI_Exscan of the output layout");
  if (rc)
    return rc;
  if (ctx->rank == 0)
    memset(before, 0, sizeof before);
  hid_t vf = H5T_STD_U8LE, vm = H5T_NATIVE_UINT8;
  uint64_t cols = ragged ? 0 : vsize, vrows = ragged ? total[3] : total[2];
  if (kv->dtype == PMR_INT64 || kv->dtype == PMR_FLOAT64) {
    vf = kv->dtype == PMR_INT64 ? H5T_STD_I64LE : H5T_IEEE_F64LE;
    vm = kv->dtype == PMR_INT64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    cols = vsize == 8 ? 0 : vsize / 8;
  }
  hid_t dk = pmr__h5_dataset(g, "keys", H5T_STD_U8LE, total[1], 0);
  hid_t dko = pmr__h5_dataset(g, "key_offsets", H5T_STD_U64LE, total[0] + 1,
                              0);
  hid_t dgo = pmr__h5_dataset(g, "group_offsets", H5T_STD_U64LE,
                              total[0] + 1, 0);
  hid_t dv = pmr__h5_dataset(g, "values", vf, vrows, cols);
  hid_t dvo = ragged ? pmr__h5_dataset(g, "value_offsets", H5T_STD_U64LE,
                                       total[2] + 1, 0)
                     : 0;
  if (dk < 0 || dko < 0 || dgo < 0 || dv < 0 || dvo < 0)
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot create the datasets of '%s' "
                                     "(HDF5)", path);
  rc = pmr__agree(ctx, rc);

  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  pmr__gbatch b = {0};
  pmr__gat at = {before[0], before[1], before[2], before[3]};
  size_t limit = pmr__batch_limit(ctx);
  w = NULL;
  if (!rc) {
    lrc = kv->nsorters ? pmr__gwalk_open(kv, 0, kv->nsorters, &w) : PMR_OK;
    if (lrc)
      pmr__seterr(ctx, lrc, "cannot read the set to write '%s'", path);
    rc = pmr__agree(ctx, lrc);
  }
  p.has = w ? 2 : 0;
  while (!rc) {
    lrc = pmr__gbatch_fill(&b, w, &p, &at, vsize, limit);
    if (lrc)
      pmr__seterr(ctx, lrc, "%s writing '%s'",
                  lrc == PMR_ENOMEM ? "out of memory" : "a read failed",
                  path);
    int more = b.nv > 0, any = 0;
    rc = pmr__agree(ctx, lrc);
    if (!rc)
      rc = pmr__agree_mpi(ctx,
                          MPI_Allreduce(&more, &any, 1, MPI_INT, MPI_LOR,
                                        ctx->comm),
                          "MPI_Allreduce while writing");
    if (rc || !any)
      break;
    herr_t e = 0;
    e |= pmr__h5_write1(dk, H5T_NATIVE_UINT8, at.k, b.keys.len, 0, b.keys.p,
                        dxpl);
    e |= pmr__h5_write1(dko, H5T_NATIVE_UINT64, at.n, b.nk, 0, b.koff, dxpl);
    e |= pmr__h5_write1(dgo, H5T_NATIVE_UINT64, at.n, b.nk, 0, b.goff, dxpl);
    if (ragged) {
      e |= pmr__h5_write1(dv, vm, at.v, b.vals.len, 0, b.vals.p, dxpl);
      e |= pmr__h5_write1(dvo, H5T_NATIVE_UINT64, at.m, b.nv, 0, b.voff,
                          dxpl);
    } else {
      e |= pmr__h5_write1(dv, vm, at.m, b.nv, cols, b.vals.p, dxpl);
    }
    if (e < 0)
      pmr__seterr(ctx, PMR_EHDF5, "cannot write '%s' (HDF5)", path);
    rc = pmr__agree(ctx, e < 0 ? PMR_EHDF5 : PMR_OK);
    at.n += b.nk;
    at.k += b.keys.len;
    at.m += b.nv;
    at.v += b.vals.len;
  }
  pmr__gwalk_close(&w);
  pmr__gbatch_free(&b);
  if (!rc) {
    /* The closing offsets, by rank 0. */
    uint64_t kend = total[1], gend = total[2], vend = total[3];
    uint64_t one = ctx->rank == 0 ? 1 : 0;
    herr_t e = 0;
    e |= pmr__h5_write1(dko, H5T_NATIVE_UINT64, total[0], one, 0, &kend,
                        dxpl);
    e |= pmr__h5_write1(dgo, H5T_NATIVE_UINT64, total[0], one, 0, &gend,
                        dxpl);
    if (ragged)
      e |= pmr__h5_write1(dvo, H5T_NATIVE_UINT64, total[2], one, 0, &vend,
                          dxpl);
    if (e < 0)
      pmr__seterr(ctx, PMR_EHDF5, "cannot write '%s' (HDF5)", path);
    rc = pmr__agree(ctx, e < 0 ? PMR_EHDF5 : PMR_OK);
  }
  H5Pclose(dxpl);
  hid_t ds[] = {dk, dko, dgo, dv, dvo};
  for (int i = 0; i < 5; i++)
    if (ds[i] > 0)
      H5Dclose(ds[i]);
  return rc;
}
