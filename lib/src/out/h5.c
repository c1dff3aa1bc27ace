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

int pmr__any_left(pmr_ctx *ctx, pmr__kv_iter *c, int *more) {
  int mine = !pmr__iter_done(c);
  return pmr__agree_mpi(ctx,
                        MPI_Allreduce(&mine, more, 1, MPI_INT, MPI_LOR,
                                      ctx->comm),
                        "MPI_Allreduce while writing");
}

size_t pmr__batch_limit(const pmr_ctx *ctx) {
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

static herr_t pmr__h5_str(hid_t g, const char *name, const char *v,
                          char *scratch) {
  return pmr__h5_strattr(g, name, (char *const *)&v, 1, true, scratch);
}

static herr_t pmr__h5_i64(hid_t g, const char *name, int64_t v) {
  return pmr__h5_numattr(g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
static herr_t pmr__h5_f64(hid_t g, const char *name, double v) {
  return pmr__h5_numattr(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* The provenance every result group carries, then the meta's (and, for a
 * set, its layout and combiner). Attributes are metadata: every rank writes
 * the same values. */
static int pmr__h5_attrs(pmr_ctx *ctx, const pmr_kv *kv, hid_t g,
                         const pmr_meta *meta) {
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
  /* Strings are built in scratch memory allocated (and agreed) first: a
   * rank that left the collective attribute calls after a failed
   * allocation would leave the others waiting. */
  char *sc = NULL;
  if (!rc) {
    sc = pmr__malloc(pmr__meta_scratch(meta));
    rc = pmr__agree(ctx, sc ? PMR_OK
                            : pmr__seterr(ctx, PMR_ENOMEM,
                                          "out of memory writing attributes"));
  }
  if (rc) {
    pmr__free(sc);
    return rc;
  }
  herr_t e = 0;
  e |= pmr__h5_str(g, "pmr_version", PMR_VERSION_STRING, sc);
  e |= pmr__h5_i64(g, "layout_version", PMR_LAYOUT_VERSION);
  if (kv) {
    const pmr__op_desc *op = pmr__op(kv->op);
    e |= pmr__h5_str(g, "layout",
                     kv->kind == PMR__DENSE   ? "dense"
                     : kv->kind == PMR__GROUP ? "group"
                                              : "kv",
                     sc);
    if (kv->kind != PMR__GROUP) /* nothing is combined */
      e |= pmr__h5_str(g, "combiner", op ? op->name : "user", sc);
  }
  e |= pmr__h5_str(g, "app", "", sc);
  e |= pmr__h5_str(g, "command_line", "", sc);
  e |= pmr__h5_str(g, "created", created, sc);
  e |= pmr__h5_i64(g, "nranks", ctx->size);
  e |= pmr__h5_i64(g, "nthreads", nthreads);
  e |= pmr__h5_i64(g, "records", (int64_t)g_stats.records);
  e |= pmr__h5_i64(g, "input_bytes", (int64_t)g_stats.input_bytes);
  e |= pmr__h5_f64(g, "seconds_map", g_stats.seconds[PMR_PHASE_MAP]);
  e |= pmr__h5_f64(g, "seconds_shuffle", g_stats.seconds[PMR_PHASE_SHUFFLE]);
  e |= pmr__h5_f64(g, "seconds_reduce", g_stats.seconds[PMR_PHASE_REDUCE]);
  rc = e < 0 ? PMR_EHDF5 : pmr__meta_write(meta, g, sc);
  pmr__free(sc);
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
 * calls. `path` is the name, walked in place (and restored). */
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
    if (ex <= 0) {
      if (slash)
        *slash = '/';
      break;
    }
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

/* ---- the output file ---- */

struct pmr_h5out {
  pmr_ctx *ctx;
  char *path, *tmp;
  hid_t f;
  int failed; /* the first failed call's code */
};

/* HDF5 prints its error stack by default; the message is ours to give. */
typedef struct pmr__h5quiet {
  H5E_auto2_t fn;
  void *data;
} pmr__h5quiet;
static pmr__h5quiet pmr__h5_quiet(void) {
  pmr__h5quiet q;
  H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  return q;
}
static void pmr__h5_loud(pmr__h5quiet q) {
  H5Eset_auto2(H5E_DEFAULT, q.fn, q.data);
}

/* The common entry of every call on an open file: arguments agreed, and no
 * call on a file that already failed. */
static int pmr__h5out_leave(pmr_h5out *w, int rc) {
  if (rc && !w->failed)
    w->failed = rc;
  return rc;
}
static int pmr__h5out_enter(pmr_h5out *w, bool bad, const char *what) {
  pmr_ctx *ctx = w->ctx;
  int rc = pmr__agree_arg(ctx, bad, what);
  if (!rc && w->failed)
    rc = pmr__agree(ctx, pmr__seterr(ctx, PMR_ESTATE,
                                     "'%s': an earlier write failed; close "
                                     "the file", w->path));
  return pmr__h5out_leave(w, rc);
}

int pmr_h5out_open(pmr_ctx *ctx, const char *path, unsigned flags,
                   pmr_h5out **out) {
  if (!ctx || !out)
    return PMR_EINVAL;
  *out = NULL;
  int rc = pmr__agree_arg(ctx, !path || (flags & ~(unsigned)PMR_WRITE_ADD),
                          "pmr_h5out_open: no path, or unknown flags");
  if (rc)
    return rc;
  pmr_h5out *w = pmr__calloc(1, sizeof *w);
  char *p = pmr__strdup(path);
  rc = pmr__agree(ctx, w && p ? PMR_OK
                              : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  if (rc) {
    pmr__free(w);
    pmr__free(p);
    return rc;
  }
  w->ctx = ctx;
  w->path = p;
  w->f = -1;
  rc = pmr__out_begin(ctx, path, &w->tmp);
  /* Adding to an existing file: rank 0 copies it to the temporary name,
   * where objects are then added or replaced. */
  int exists = 0;
  if (!rc && (flags & PMR_WRITE_ADD)) {
    int lrc = PMR_OK;
    if (ctx->rank == 0) {
      FILE *fp = fopen(path, "rb");
      exists = fp != NULL;
      if (fp)
        fclose(fp);
      if (exists)
        lrc = pmr__copy_file(ctx, path, w->tmp);
    }
    rc = pmr__agree(ctx, lrc);
    if (!rc)
      rc = pmr__agree_mpi(ctx, MPI_Bcast(&exists, 1, MPI_INT, 0, ctx->comm),
                          "MPI_Bcast");
  }
  if (!rc) {
    pmr__h5quiet q = pmr__h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    w->f = exists ? H5Fopen(w->tmp, H5F_ACC_RDWR, fapl)
                  : H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    pmr__h5_loud(q);
    int lrc = PMR_OK;
    if (w->f < 0)
      lrc = pmr__seterr(ctx, PMR_EHDF5,
                        exists ? "cannot open '%s' to add to it (not an "
                                 "HDF5 file?)"
                               : "cannot create '%s' (HDF5)",
                        path);
    rc = pmr__agree(ctx, lrc);
  }
  if (rc) {
    /* Nothing published: remove the temporary file, keep the message. */
    char msg[PMR__ERRMSG_MAX];
    memcpy(msg, ctx->errmsg, sizeof msg);
    w->failed = rc;
    pmr_h5out_close(&w, 0);
    memcpy(ctx->errmsg, msg, sizeof msg);
    return rc;
  }
  *out = w;
  return PMR_OK;
}

/* Make room for object `name`: groups on the way exist or are created, and
 * an object of that name is removed. */
static int pmr__h5out_place(pmr_h5out *w, const char *name) {
  pmr_ctx *ctx = w->ctx;
  /* The copy to walk is made (and agreed) before the HDF5 calls. */
  char *walk = pmr__strdup(name);
  int rc = pmr__agree(ctx, walk ? PMR_OK
                                : pmr__seterr(ctx, PMR_ENOMEM,
                                              "out of memory"));
  if (!rc)
    rc = pmr__agree(ctx, pmr__h5_unlink(w->f, walk)
                             ? pmr__seterr(ctx, PMR_EHDF5,
                                           "cannot replace '%s' in '%s'",
                                           name, w->path)
                             : PMR_OK);
  pmr__free(walk);
  return rc;
}

static hid_t pmr__group_create(hid_t f, const char *name) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = H5Gcreate2(f, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  return g;
}

int pmr_h5out_kv(pmr_h5out *w, pmr_kv *kv, const char *group,
                 const pmr_meta *meta) {
  if (!w)
    return PMR_EINVAL;
  pmr_ctx *ctx = w->ctx;
  int rc = pmr__h5out_enter(w, !kv || kv->ctx != ctx || !group || !*group,
                            "pmr_h5out_kv: a set of this context and a "
                            "non-empty group name are needed");
  if (!rc)
    rc = pmr__agree(ctx, pmr__kv_check(kv, PMR__READABLE, "pmr_kv_write_h5"));
  if (rc)
    return pmr__h5out_leave(w, rc);
  double t0 = pmr__now();
  pmr__h5quiet q = pmr__h5_quiet();
  rc = pmr__h5out_place(w, group);
  hid_t g = -1;
  if (!rc) {
    g = pmr__group_create(w->f, group);
    rc = pmr__agree(ctx, g < 0 ? pmr__seterr(ctx, PMR_EHDF5,
                                             "cannot create group '%s' in "
                                             "'%s' (HDF5)",
                                             group, w->path)
                               : PMR_OK);
  }
  if (!rc)
    rc = kv->kind == PMR__DENSE   ? pmr__h5_dense_body(kv, g, w->path)
         : kv->kind == PMR__GROUP ? pmr__h5_group_body(kv, g, w->path)
                                  : pmr__h5_kv_body(kv, g, w->path);
  if (!rc) {
    rc = pmr__h5_attrs(ctx, kv, g, meta);
    if (rc == PMR_EHDF5)
      pmr__seterr(ctx, rc, "cannot write attributes to '%s' (HDF5)", w->path);
    rc = pmr__agree(ctx, rc);
  }
  if (g >= 0)
    H5Gclose(g);
  pmr__h5_loud(q);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return pmr__h5out_leave(w, rc);
}

static bool pmr__h5_types(pmr_dtype type, hid_t *ft, hid_t *mt,
                          size_t *size) {
  switch ((int)type) {
  case PMR_INT64:
    *ft = H5T_STD_I64LE, *mt = H5T_NATIVE_INT64, *size = 8;
    return true;
  case PMR_FLOAT64:
    *ft = H5T_IEEE_F64LE, *mt = H5T_NATIVE_DOUBLE, *size = 8;
    return true;
  case PMR_INT32:
    *ft = H5T_STD_I32LE, *mt = H5T_NATIVE_INT32, *size = 4;
    return true;
  case PMR_FLOAT32:
    *ft = H5T_IEEE_F32LE, *mt = H5T_NATIVE_FLOAT, *size = 4;
    return true;
  }
  return false;
}

#define PMR__ROWS_PIECE ((uint64_t)1 << 30) /* bytes per collective write */

int pmr_h5out_rows(pmr_h5out *w, const char *name, pmr_dtype type,
                   uint64_t ncols, uint64_t nrows, const void *rows) {
  if (!w)
    return PMR_EINVAL;
  pmr_ctx *ctx = w->ctx;
  hid_t ft = -1, mt = -1;
  size_t esize = 0;
  bool typed = pmr__h5_types(type, &ft, &mt, &esize);
  /* ncols must agree: the min and max over ranks. */
  uint64_t c[2] = {ncols, UINT64_MAX - ncols}, cm[2] = {0, 0};
  int rc = pmr__agree_mpi(ctx,
                          MPI_Allreduce(c, cm, 2, MPI_UINT64_T, MPI_MAX,
                                        ctx->comm),
                          "MPI_Allreduce of the row width");
  if (rc)
    return pmr__h5out_leave(w, rc);
  bool same = cm[0] == ncols && UINT64_MAX - cm[1] == ncols;
  size_t rowbytes = 0;
  bool big = !typed || __builtin_mul_overflow((size_t)(ncols ? ncols : 1),
                                              esize, &rowbytes);
  rc = pmr__h5out_enter(w, !name || !*name || big || !same ||
                               (nrows && !rows),
                        "pmr_h5out_rows: a name, an array type (int64, "
                        "float64, int32, float32), rows, and the same "
                        "ncols on every rank are needed");
  if (rc)
    return rc;
  double t0 = pmr__now();
  uint64_t before = 0, total = 0;
  int mrc = MPI_Exscan(&nrows, &before, 1, MPI_UINT64_T, MPI_SUM, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(&nrows, &total, 1, MPI_UINT64_T, MPI_SUM, ctx->comm);
  rc = pmr__agree_mpi(ctx, mrc, "MPI_Exscan of the rows");
  if (ctx->rank == 0)
    before = 0;
  pmr__h5quiet q = pmr__h5_quiet();
  if (!rc)
    rc = pmr__h5out_place(w, name);
  hid_t d = -1;
  if (!rc) {
    /* The dataset, with any groups on its way. */
    hsize_t dims[2] = {total, ncols};
    hid_t sp = H5Screate_simple(ncols ? 2 : 1, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    d = H5Dcreate2(w->f, name, ft, sp, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(sp);
    rc = pmr__agree(ctx, d < 0 ? pmr__seterr(ctx, PMR_EHDF5,
                                             "cannot create dataset '%s' in "
                                             "'%s' (HDF5)",
                                             name, w->path)
                               : PMR_OK);
  }
  /* Pieces of at most 1 GiB; every rank takes part in every write. */
  uint64_t per = PMR__ROWS_PIECE / rowbytes ? PMR__ROWS_PIECE / rowbytes : 1;
  uint64_t mine = (nrows + per - 1) / per, pieces = 0;
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Allreduce(&mine, &pieces, 1, MPI_UINT64_T,
                                      MPI_MAX, ctx->comm),
                        "MPI_Allreduce of the write pieces");
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  for (uint64_t k = 0; !rc && k < pieces; k++) {
    uint64_t a = k * per, n = a < nrows ? (nrows - a < per ? nrows - a : per)
                                        : 0;
    const unsigned char *p = n ? (const unsigned char *)rows + a * rowbytes
                               : NULL;
    herr_t e = pmr__h5_write1(d, mt, before + a, n, ncols, p, dxpl);
    rc = pmr__agree(ctx, e < 0 ? pmr__seterr(ctx, PMR_EHDF5,
                                             "cannot write '%s' in '%s' "
                                             "(HDF5)",
                                             name, w->path)
                               : PMR_OK);
  }
  H5Pclose(dxpl);
  if (d >= 0)
    H5Dclose(d);
  pmr__h5_loud(q);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return pmr__h5out_leave(w, rc);
}

int pmr_h5out_meta(pmr_h5out *w, const char *name, const pmr_meta *meta) {
  if (!w)
    return PMR_EINVAL;
  pmr_ctx *ctx = w->ctx;
  int rc = pmr__h5out_enter(w, !name || !*name,
                            "pmr_h5out_meta: an object name is needed");
  if (rc)
    return rc;
  pmr__h5quiet q = pmr__h5_quiet();
  /* The object if it exists, else a new group (the path must be valid up
   * to it: H5Oopen fails on a missing component, and then we create). */
  hid_t o = H5Oopen(w->f, name, H5P_DEFAULT);
  if (o < 0)
    o = pmr__group_create(w->f, name);
  rc = pmr__agree(ctx, o < 0 ? pmr__seterr(ctx, PMR_EHDF5,
                                           "cannot open or create '%s' in "
                                           "'%s' (HDF5)",
                                           name, w->path)
                             : PMR_OK);
  if (!rc) {
    rc = pmr__h5_attrs(ctx, NULL, o, meta);
    if (rc == PMR_EHDF5)
      pmr__seterr(ctx, rc, "cannot write attributes to '%s' (HDF5)", w->path);
    rc = pmr__agree(ctx, rc);
  }
  if (o >= 0)
    H5Oclose(o);
  pmr__h5_loud(q);
  return pmr__h5out_leave(w, rc);
}

int pmr_h5out_close(pmr_h5out **pw, int commit) {
  if (!pw || !*pw)
    return PMR_OK;
  pmr_h5out *w = *pw;
  pmr_ctx *ctx = w->ctx;
  int rc = w->failed;
  if (!rc && !commit)
    rc = pmr__seterr(ctx, PMR_ECALLBACK, "'%s' was not published", w->path);
  if (w->f >= 0) {
    pmr__h5quiet q = pmr__h5_quiet();
    herr_t e = H5Fclose(w->f);
    pmr__h5_loud(q);
    if (e < 0 && !rc)
      rc = pmr__seterr(ctx, PMR_EHDF5, "cannot close '%s' (HDF5)", w->path);
  }
  if (w->tmp)
    rc = pmr__out_finish(ctx, rc, w->path, &w->tmp);
  else
    rc = pmr__agree(ctx, rc);
  if (!commit && rc == PMR_ECALLBACK && !w->failed) {
    ctx->errmsg[0] = '\0';
    rc = PMR_OK; /* an abandoned file is not an error of its own */
  }
  pmr__free(w->path);
  pmr__free(w);
  *pw = NULL;
  return rc;
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
  pmr_h5out *w = NULL;
  rc = pmr_h5out_open(ctx, path, flags, &w);
  if (!rc)
    rc = pmr_h5out_kv(w, kv, group, meta);
  if (w) {
    int crc = pmr_h5out_close(&w, 1);
    if (!rc)
      rc = crc;
  }
  return rc;
}

int pmr_kv_write_h5(pmr_kv *kv, const char *path, const char *group,
                    const pmr_meta *meta) {
  return pmr_kv_write_h5_ex(kv, path, group, meta, 0);
}
