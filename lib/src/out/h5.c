/* HDF5 output: parallel HDF5 in the pmr ragged layout (hash sets) or plain
 * datasets (dense sets). Pairs are walked in batches bounded by the memory
 * budget, each batch one collective write, so no buffer grows with the
 * result. */
#define _GNU_SOURCE
#include "out/out.h"

#include <limits.h>
#include <stdio.h>
#include <time.h>

/* ---- batches of local pairs ---- */

static bool pmr__iter_done(const pmr__kv_iter *it) {
  pmr__kv_iter peek = *it;
  pmr__pair r;
  return !pmr__kv_next(&peek, &r);
}

/* A batch in the HDF5 layout: keys, offsets (relative), values. */
typedef struct pmr__batch {
  unsigned char *keys;
  uint64_t *offs;
  unsigned char *vals;
  size_t nkeys_bytes, n;
  size_t kcap, ncap;
} pmr__batch;

static int pmr__batch_fill(pmr__batch *b, pmr__kv_iter *c, size_t limit) {
  size_t vsize = c->kv->vsize;
  b->n = 0;
  b->nkeys_bytes = 0;
  for (;;) {
    pmr__kv_iter save = *c;
    pmr__pair r;
    if (!pmr__kv_next(c, &r))
      break;
    size_t cost = r.klen + 8 + vsize;
    if (b->n > 0 && b->nkeys_bytes + b->n * (8 + vsize) + cost > limit) {
      *c = save;
      break;
    }
    void *k = b->keys, *o = b->offs, *v = b->vals;
    size_t ncap = b->ncap;
    if (pmr__grow_array(&k, &b->kcap, b->nkeys_bytes + r.klen, 1, 65536))
      return PMR_ENOMEM;
    b->keys = k;
    if (pmr__grow_array(&o, &ncap, b->n + 1, sizeof *b->offs, 4096))
      return PMR_ENOMEM;
    b->offs = o;
    ncap = b->ncap;
    if (pmr__grow_array(&v, &ncap, b->n + 1, vsize, 4096))
      return PMR_ENOMEM;
    b->vals = v;
    b->ncap = ncap;
    b->offs[b->n] = b->nkeys_bytes;
    if (r.klen)
      memcpy(b->keys + b->nkeys_bytes, r.key, r.klen);
    memcpy(b->vals + b->n * vsize, r.value, vsize);
    b->nkeys_bytes += r.klen;
    b->n++;
  }
  return PMR_OK;
}

static void pmr__batch_free(pmr__batch *b) {
  pmr__free(b->keys);
  pmr__free(b->offs);
  pmr__free(b->vals);
}

/* Collective: is any rank's cursor not done? */
static int pmr__any_left(pmr_ctx *ctx, pmr__kv_iter *c, int *more) {
  int mine = !pmr__iter_done(c);
  return pmr__agree_mpi(ctx,
                        MPI_Allreduce(&mine, more, 1, MPI_INT, MPI_LOR,
                                      ctx->comm),
                        "MPI_Allreduce while writing");
}

static size_t pmr__batch_limit(const pmr_ctx *ctx) {
  size_t l = ctx->memory / 4;
  if (l > (size_t)1 << 30)
    l = (size_t)1 << 30; /* well below the 2 GiB limits of MPI-IO counts */
  return l;
}

/* ---- HDF5 ---- */

herr_t pmr__h5_write1(hid_t d, hid_t memtype, uint64_t start,
                             uint64_t count, uint64_t cols, const void *buf,
                             hid_t dxpl) {
  hsize_t one[2] = {1, cols ? cols : 1};
  hsize_t st[2] = {start, 0}, ct[2] = {count, cols};
  int rank = cols ? 2 : 1;
  hid_t fs = H5Dget_space(d);
  hid_t ms;
  static const unsigned char dummy[8];
  if (count == 0) {
    ms = H5Screate_simple(rank, one, NULL);
    H5Sselect_none(ms);
    H5Sselect_none(fs);
    buf = dummy;
  } else {
    ms = H5Screate_simple(rank, ct, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
  }
  herr_t e = H5Dwrite(d, memtype, ms, fs, dxpl, buf);
  H5Sclose(ms);
  H5Sclose(fs);
  return e;
}

hid_t pmr__h5_dataset(hid_t g, const char *name, hid_t type,
                             uint64_t n, uint64_t cols) {
  hsize_t dims[2] = {n, cols};
  hid_t s = H5Screate_simple(cols ? 2 : 1, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  /* Every element is written: filling first would write it all twice. */
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  hid_t d = H5Dcreate2(g, name, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(s);
  return d;
}

static herr_t pmr__h5_attr(hid_t g, const char *name, hid_t ftype,
                           hid_t mtype, const void *buf) {
  hid_t s = H5Screate(H5S_SCALAR);
  if (H5Aexists(g, name) > 0)
    H5Adelete(g, name);
  hid_t a = H5Acreate2(g, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, mtype, buf);
  if (a >= 0)
    H5Aclose(a);
  H5Sclose(s);
  return e;
}

static herr_t pmr__h5_str(hid_t g, const char *name, const char *v) {
  size_t len = strlen(v);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len ? len : 1);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  herr_t e = pmr__h5_attr(g, name, t, t, len ? v : "");
  H5Tclose(t);
  return e;
}

static herr_t pmr__h5_i64(hid_t g, const char *name, int64_t v) {
  return pmr__h5_attr(g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
static herr_t pmr__h5_f64(hid_t g, const char *name, double v) {
  return pmr__h5_attr(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* Attributes are metadata: every rank writes the same values. */
static int pmr__h5_attrs(pmr_kv *kv, hid_t g, const pmr_meta *meta) {
  pmr_ctx *ctx = kv->ctx;
  char created[32] = {0};
  if (ctx->rank == 0) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  /* The root decides the thread count recorded: ranks may differ. */
  int64_t nthreads = ctx->nthreads;
  int rc = pmr__agree_mpi(ctx,
                          MPI_Bcast(created, sizeof created, MPI_CHAR, 0,
                                    ctx->comm),
                          "MPI_Bcast of the creation time");
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Bcast(&nthreads, 1, MPI_INT64_T, 0, ctx->comm),
                        "MPI_Bcast of the thread count");
  pmr_stats g_stats;
  if (!rc)
    rc = pmr_ctx_stats_global(ctx, &g_stats);
  void *scratch = NULL;
  if (!rc) {
    scratch = pmr__malloc(pmr__meta_scratch(meta));
    rc = pmr__agree(ctx, scratch ? PMR_OK
                                 : pmr__seterr(ctx, PMR_ENOMEM,
                                               "out of memory writing "
                                               "attributes"));
  }
  if (rc) {
    pmr__free(scratch);
    return rc;
  }
  const pmr__op_desc *op = pmr__op(kv->op);
  herr_t e = 0;
  e |= pmr__h5_str(g, "pmr_version", PMR_VERSION_STRING);
  e |= pmr__h5_i64(g, "layout_version", PMR_LAYOUT_VERSION);
  e |= pmr__h5_str(g, "layout", kv->kind == PMR__DENSE ? "dense" : "kv");
  e |= pmr__h5_str(g, "combiner", op ? op->name : "user");
  e |= pmr__h5_str(g, "app", "");
  e |= pmr__h5_str(g, "command_line", "");
  e |= pmr__h5_str(g, "created", created);
  e |= pmr__h5_i64(g, "nranks", ctx->size);
  e |= pmr__h5_i64(g, "nthreads", nthreads);
  e |= pmr__h5_i64(g, "records", (int64_t)g_stats.records);
  e |= pmr__h5_i64(g, "input_bytes", (int64_t)g_stats.input_bytes);
  e |= pmr__h5_f64(g, "seconds_map", g_stats.seconds[PMR_PHASE_MAP]);
  e |= pmr__h5_f64(g, "seconds_shuffle", g_stats.seconds[PMR_PHASE_SHUFFLE]);
  e |= pmr__h5_f64(g, "seconds_reduce", g_stats.seconds[PMR_PHASE_REDUCE]);
  rc = e < 0 ? PMR_EHDF5 : pmr__meta_write(meta, g, scratch);
  pmr__free(scratch);
  return rc;
}

/* The ragged key/value layout of a hash set. */
static int pmr__h5_kv_body(pmr_kv *kv, hid_t g, const char *path) {
  pmr_ctx *ctx = kv->ctx;
  /* Where this rank's pairs and key bytes go. */
  uint64_t mine[2] = {pmr_kv_local_size(kv), 0}, before[2] = {0, 0},
           total[2] = {0, 0};
  pmr__kv_iter it = {.kv = kv};
  pmr__pair r;
  while (pmr__kv_next(&it, &r))
    mine[1] += r.klen;
  int mrc = MPI_Exscan(mine, before, 2, MPI_UINT64_T, MPI_SUM, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(mine, total, 2, MPI_UINT64_T, MPI_SUM, ctx->comm);
  int rc = pmr__agree_mpi(ctx, mrc, "MPI_Exscan of the output layout");
  if (rc)
    return rc;
  if (ctx->rank == 0)
    before[0] = before[1] = 0; /* MPI_Exscan leaves rank 0's undefined */
  hid_t vtype_f, vtype_m;
  uint64_t cols = 0;
  switch (kv->dtype) {
  case PMR_INT64:
    vtype_f = H5T_STD_I64LE;
    vtype_m = H5T_NATIVE_INT64;
    break;
  case PMR_FLOAT64:
    vtype_f = H5T_IEEE_F64LE;
    vtype_m = H5T_NATIVE_DOUBLE;
    break;
  default:
    vtype_f = H5T_STD_U8LE;
    vtype_m = H5T_NATIVE_UINT8;
    cols = kv->vsize;
  }
  hid_t dk = pmr__h5_dataset(g, "keys", H5T_STD_U8LE, total[1], 0);
  hid_t doff = pmr__h5_dataset(g, "key_offsets", H5T_STD_U64LE, total[0] + 1,
                               0);
  hid_t dv = pmr__h5_dataset(g, "values", vtype_f, total[0], cols);
  if (dk < 0 || doff < 0 || dv < 0)
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot create the datasets of '%s' "
                                     "(HDF5)", path);
  rc = pmr__agree(ctx, rc);

  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  pmr__kv_iter cur = {.kv = kv};
  pmr__batch b = {0};
  uint64_t n_at = before[0], k_at = before[1];
  size_t limit = pmr__batch_limit(ctx);
  int more = 1;
  while (!rc) {
    rc = pmr__any_left(ctx, &cur, &more);
    if (rc || !more)
      break;
    int lrc = pmr__batch_fill(&b, &cur, limit);
    if (lrc)
      pmr__seterr(ctx, lrc, "out of memory writing '%s'", path);
    for (size_t i = 0; !lrc && i < b.n; i++)
      b.offs[i] += k_at;
    rc = pmr__agree(ctx, lrc);
    if (rc)
      break;
    herr_t e = 0;
    e |= pmr__h5_write1(dk, H5T_NATIVE_UINT8, k_at, b.nkeys_bytes, 0, b.keys,
                        dxpl);
    e |= pmr__h5_write1(doff, H5T_NATIVE_UINT64, n_at, b.n, 0, b.offs, dxpl);
    e |= pmr__h5_write1(dv, vtype_m, n_at, b.n, cols, b.vals, dxpl);
    if (e < 0)
      pmr__seterr(ctx, PMR_EHDF5, "cannot write '%s' (HDF5)", path);
    rc = pmr__agree(ctx, e < 0 ? PMR_EHDF5 : PMR_OK);
    n_at += b.n;
    k_at += b.nkeys_bytes;
  }
  pmr__batch_free(&b);
  if (!rc) {
    /* The closing offset: rank 0 writes key_offsets[n] = total key bytes. */
    uint64_t end = total[1];
    herr_t e = pmr__h5_write1(doff, H5T_NATIVE_UINT64, total[0],
                              ctx->rank == 0 ? 1 : 0, 0, &end, dxpl);
    if (e < 0)
      pmr__seterr(ctx, PMR_EHDF5, "cannot write '%s' (HDF5)", path);
    rc = pmr__agree(ctx, e < 0 ? PMR_EHDF5 : PMR_OK);
  }
  H5Pclose(dxpl);
  if (dk >= 0)
    H5Dclose(dk);
  if (doff >= 0)
    H5Dclose(doff);
  if (dv >= 0)
    H5Dclose(dv);
  return rc;
}

/* Make room for a group in an open file: remove an object of that name
 * (the group being replaced), keeping everything else. Every rank, same
 * calls. `path` is the group's name, walked in place (and restored). */
static int pmr__h5_unlink(hid_t f, char *path) {
  /* H5Lexists needs every component but the last to exist. */
  int rc = PMR_OK;
  for (char *p = path + (*path == '/');; p++) {
    char *slash = strchr(p, '/');
    if (slash)
      *slash = '\0';
    htri_t ex = H5Lexists(f, path, H5P_DEFAULT);
    if (ex < 0)
      rc = PMR_EHDF5;
    if (ex <= 0)
      break;
    if (!slash) {
      if (H5Ldelete(f, path, H5P_DEFAULT) < 0)
        rc = PMR_EHDF5;
      break;
    }
    *slash = '/';
    p = slash;
  }
  return rc;
}

static int pmr__h5_file(pmr_kv *kv, const char *path, const char *tmp,
                        const char *group, const pmr_meta *meta, bool add) {
  pmr_ctx *ctx = kv->ctx;
  /* The name to walk when replacing a group: allocated, and agreed, before
   * the first HDF5 call (a rank that left HDF5's collective calls after a
   * failed allocation would leave the others waiting). */
  char *walk = add ? pmr__strdup(group) : NULL;
  int rc = pmr__agree(ctx, add && !walk ? pmr__seterr(ctx, PMR_ENOMEM,
                                                      "out of memory")
                                        : PMR_OK);
  if (rc) {
    pmr__free(walk);
    return rc;
  }
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  hid_t f = add ? H5Fopen(tmp, H5F_ACC_RDWR, fapl)
                : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0)
    rc = pmr__seterr(ctx, PMR_EHDF5,
                     add ? "cannot open '%s' to add a group (not an HDF5 "
                           "file?)"
                         : "cannot create '%s' (HDF5)",
                     path);
  rc = pmr__agree(ctx, rc);
  if (rc) {
    if (f >= 0)
      H5Fclose(f);
    pmr__free(walk);
    return rc;
  }
  if (add && pmr__h5_unlink(f, walk))
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot replace group '%s' in '%s'",
                     group, path);
  rc = pmr__agree(ctx, rc);
  hid_t g = -1;
  if (!rc) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    g = H5Gcreate2(f, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0)
      rc = pmr__seterr(ctx, PMR_EHDF5,
                       "cannot create group '%s' in '%s' (HDF5)", group,
                       path);
    rc = pmr__agree(ctx, rc);
  }
  if (!rc)
    rc = kv->kind == PMR__DENSE ? pmr__h5_dense_body(kv, g, path)
                                : pmr__h5_kv_body(kv, g, path);
  if (!rc) {
    rc = pmr__h5_attrs(kv, g, meta);
    if (rc == PMR_EHDF5)
      pmr__seterr(ctx, rc, "cannot write attributes to '%s' (HDF5)", path);
    rc = pmr__agree(ctx, rc);
  }
  if (g >= 0)
    H5Gclose(g);
  if (H5Fclose(f) < 0 && !rc)
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot close '%s' (HDF5)", path);
  pmr__free(walk);
  return pmr__agree(ctx, rc);
}

int pmr_kv_write_h5_ex(pmr_kv *kv, const char *path, const char *group,
                       const pmr_meta *meta, unsigned flags) {
  if (!kv)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  int rc = pmr__agree_arg(ctx, !path || !group || !*group ||
                                   (flags & ~(unsigned)PMR_WRITE_ADD),
                          "pmr_kv_write_h5: a path and a non-empty group "
                          "name are needed");
  if (!rc)
    rc = pmr__agree(ctx, pmr__kv_check(kv, PMR__READABLE, "pmr_kv_write_h5"));
  if (rc)
    return rc;
  double t0 = pmr__now();
  char *tmp = NULL;
  rc = pmr__out_begin(ctx, path, &tmp);
  if (rc)
    return rc;
  /* Adding to an existing file: rank 0 copies it to the temporary name,
   * where the group is then replaced. */
  int exists = 0;
  if (flags & PMR_WRITE_ADD) {
    int lrc = PMR_OK;
    if (ctx->rank == 0) {
      FILE *fp = fopen(path, "rb");
      exists = fp != NULL;
      if (fp)
        fclose(fp);
      if (exists)
        lrc = pmr__copy_file(ctx, path, tmp);
    }
    rc = pmr__agree(ctx, lrc);
    if (!rc)
      rc = pmr__agree_mpi(ctx, MPI_Bcast(&exists, 1, MPI_INT, 0, ctx->comm),
                          "MPI_Bcast");
  }
  /* HDF5 prints its error stack by default; the message is ours to give. */
  H5E_auto2_t efn;
  void *edata;
  H5Eget_auto2(H5E_DEFAULT, &efn, &edata);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (!rc)
    rc = pmr__h5_file(kv, path, tmp, group, meta, exists != 0);
  H5Eset_auto2(H5E_DEFAULT, efn, edata);
  rc = pmr__out_finish(ctx, rc, path, &tmp);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return rc;
}

int pmr_kv_write_h5(pmr_kv *kv, const char *path, const char *group,
                    const pmr_meta *meta) {
  return pmr_kv_write_h5_ex(kv, path, group, meta, 0);
}
