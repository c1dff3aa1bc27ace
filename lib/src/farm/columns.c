/* Tables of records as HDF5 column datasets (pmr_write_columns_h5): each
 * rank writes its rows at its offset in collective calls, byte-string
 * columns in the ragged layout (values + offsets). */
#define _GNU_SOURCE
#include "farm/farm.h"

#include <stdio.h>
#include <time.h>

/* Rows per collective write are bounded so that no MPI-IO count nears
 * 2^31 and the offsets buffer stays small. */
#define PMR__COL_PIECE ((uint64_t)1 << 26)

static size_t pmr__col_size(pmr_coltype t) {
  switch (t) {
  case PMR_COL_INT32:
    return 4;
  case PMR_COL_INT64:
  case PMR_COL_UINT64:
  case PMR_COL_FLOAT64:
    return 8;
  case PMR_COL_UINT8:
  case PMR_COL_BYTES:
    return 1;
  }
  return 0;
}

static void pmr__col_types(pmr_coltype t, hid_t *file, hid_t *mem) {
  switch (t) {
  case PMR_COL_INT32:
    *file = H5T_STD_I32LE;
    *mem = H5T_NATIVE_INT32;
    return;
  case PMR_COL_INT64:
    *file = H5T_STD_I64LE;
    *mem = H5T_NATIVE_INT64;
    return;
  case PMR_COL_UINT64:
    *file = H5T_STD_U64LE;
    *mem = H5T_NATIVE_UINT64;
    return;
  case PMR_COL_FLOAT64:
    *file = H5T_IEEE_F64LE;
    *mem = H5T_NATIVE_DOUBLE;
    return;
  default:
    *file = H5T_STD_U8LE;
    *mem = H5T_NATIVE_UINT8;
  }
}

/* This rank's check of the arguments (message set when bad). */
static int pmr__col_check(pmr_ctx *ctx, const char *path, const char *group,
                          uint64_t nrows, const pmr_column *cols, int ncols,
                          unsigned flags) {
  if (!path || !*path || !group || !*group)
    return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: a path and a "
                                        "non-empty group name are needed");
  if (flags & ~(unsigned)PMR_WRITE_ADD)
    return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: unknown "
                                        "flags");
  if (ncols < 1 || !cols)
    return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: no columns");
  for (int i = 0; i < ncols; i++) {
    const pmr_column *c = &cols[i];
    if (!c->name || !*c->name || strchr(c->name, '/') ||
        strlen(c->name) > 200 || pmr__col_size(c->type) == 0)
      return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: column %d "
                                          "has a bad name or type", i);
    for (int j = 0; j < i; j++)
      if (!strcmp(cols[j].name, c->name))
        return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: two "
                                            "columns named '%s'", c->name);
    if (nrows && !c->values && c->type != PMR_COL_BYTES)
      return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: column '%s' "
                                          "has no values", c->name);
    if (c->type == PMR_COL_BYTES) {
      if (!c->offsets || c->offsets[0] != 0)
        return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: column "
                           "'%s' needs offsets starting at 0", c->name);
      for (uint64_t r = 0; r < nrows; r++)
        if (c->offsets[r + 1] < c->offsets[r])
          return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: the "
                             "offsets of column '%s' fall at row %llu",
                             c->name, (unsigned long long)r);
      if (c->offsets[nrows] && !c->values)
        return pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: column "
                           "'%s' has no values", c->name);
    }
  }
  return PMR_OK;
}

/* A hash of the column names and types, the same on every rank when the
 * columns agree. */
static uint64_t pmr__col_hash(const pmr_column *cols, int ncols) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < ncols; i++) {
    for (const char *p = cols[i].name; *p; p++)
      h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ (0x100u + (unsigned)cols[i].type)) * 1099511628211ull;
  }
  return h ^ (uint64_t)ncols;
}

/* Collective: write rows [start, start + count) of dataset d (of `total`
 * rows) from buf in pieces; every rank makes the same number of calls.
 * `add` is added to each value first (the ranks' offsets into the shared
 * byte dataset). */
static herr_t pmr__col_write(pmr_ctx *ctx, hid_t d, hid_t mem, size_t size,
                             uint64_t total, uint64_t start, uint64_t count,
                             const void *buf, uint64_t add, hid_t dxpl) {
  /* An empty dataset has no storage, and HDF5 refuses even an empty
   * collective write to it. */
  if (total == 0)
    return 0;
  uint64_t pieces = (count + PMR__COL_PIECE - 1) / PMR__COL_PIECE, most = 0;
  if (MPI_Allreduce(&pieces, &most, 1, MPI_UINT64_T, MPI_MAX, ctx->comm) !=
      MPI_SUCCESS)
    return -1;
  if (most == 0)
    most = 1; /* every rank takes part in at least one write */
  uint64_t *shifted = NULL;
  herr_t e = 0;
  for (uint64_t p = 0; p < most; p++) {
    uint64_t at = p * PMR__COL_PIECE;
    uint64_t k = at < count ? count - at : 0;
    if (k > PMR__COL_PIECE)
      k = PMR__COL_PIECE;
    const void *src = k ? (const unsigned char *)buf + at * size : NULL;
    if (k && add) {
      if (!shifted && !(shifted = pmr__malloc(PMR__COL_PIECE * 8)))
        e = -1;
      for (uint64_t i = 0; e >= 0 && i < k; i++)
        shifted[i] = ((const uint64_t *)buf)[at + i] + add;
      src = shifted;
    }
    /* A failed rank still joins the collective writes, with nothing. */
    e |= pmr__h5_write1(d, mem, start + at, e < 0 ? 0 : k, 0, src, dxpl);
  }
  pmr__free(shifted);
  return e;
}

static herr_t pmr__col_attr(hid_t g, const char *name, hid_t ft, hid_t mt,
                            const void *v) {
  hid_t s = H5Screate(H5S_SCALAR);
  if (H5Aexists(g, name) > 0)
    H5Adelete(g, name);
  hid_t a = H5Acreate2(g, name, ft, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, mt, v);
  if (a >= 0)
    H5Aclose(a);
  H5Sclose(s);
  return e;
}

static herr_t pmr__col_str(hid_t g, const char *name, const char *v) {
  size_t len = strlen(v);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len ? len : 1);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  herr_t e = pmr__col_attr(g, name, t, t, len ? v : "");
  H5Tclose(t);
  return e;
}

/* The attributes every pmr result carries; the same values on every rank. */
static int pmr__col_attrs(pmr_ctx *ctx, hid_t g, const pmr_meta *meta) {
  char created[32] = {0};
  if (ctx->rank == 0) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  int64_t nthreads = ctx->nthreads, nranks = ctx->size,
          layout_version = PMR_LAYOUT_VERSION;
  int rc = pmr__agree_mpi(ctx,
                          MPI_Bcast(created, sizeof created, MPI_CHAR, 0,
                                    ctx->comm),
                          "MPI_Bcast of the creation time");
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Bcast(&nthreads, 1, MPI_INT64_T, 0, ctx->comm),
                        "MPI_Bcast of the thread count");
  if (rc)
    return rc;
  herr_t e = 0;
  e |= pmr__col_str(g, "pmr_version", PMR_VERSION_STRING);
  e |= pmr__col_attr(g, "layout_version", H5T_STD_I64LE, H5T_NATIVE_INT64,
                     &layout_version);
  e |= pmr__col_str(g, "layout", "columns");
  e |= pmr__col_str(g, "app", "");
  e |= pmr__col_str(g, "command_line", "");
  e |= pmr__col_str(g, "created", created);
  e |= pmr__col_attr(g, "nranks", H5T_STD_I64LE, H5T_NATIVE_INT64, &nranks);
  e |= pmr__col_attr(g, "nthreads", H5T_STD_I64LE, H5T_NATIVE_INT64,
                     &nthreads);
  if (e < 0)
    return PMR_EHDF5;
  /* Scratch for the meta's strings, agreed before the collective calls. */
  void *sc = pmr__malloc(pmr__meta_scratch(meta));
  rc = pmr__agree(ctx, sc ? PMR_OK
                          : pmr__seterr(ctx, PMR_ENOMEM,
                                        "out of memory writing attributes"));
  if (!rc)
    rc = pmr__meta_write(meta, g, sc);
  pmr__free(sc);
  return rc;
}

/* Collective: the datasets of every column in group g. */
static int pmr__col_body(pmr_ctx *ctx, hid_t g, const char *path,
                         uint64_t nrows, const pmr_column *cols, int ncols) {
  /* Where this rank's rows and each byte column's bytes go. */
  size_t nv = (size_t)ncols + 1;
  uint64_t *mine = pmr__calloc(3 * nv, sizeof *mine);
  int rc = mine ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  if ((rc = pmr__agree(ctx, rc)))
    return rc;
  uint64_t *before = mine + nv, *total = mine + 2 * nv;
  mine[0] = nrows;
  for (int i = 0; i < ncols; i++)
    if (cols[i].type == PMR_COL_BYTES)
      mine[i + 1] = cols[i].offsets[nrows];
  int mrc = MPI_Exscan(mine, before, (int)nv, MPI_UINT64_T, MPI_SUM,
                       ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(mine, total, (int)nv, MPI_UINT64_T, MPI_SUM,
                        ctx->comm);
  if ((rc = pmr__agree_mpi(ctx, mrc, "MPI_Exscan of the table layout"))) {
    pmr__free(mine);
    return rc;
  }
  if (ctx->rank == 0) /* MPI_Exscan leaves rank 0's undefined */
    memset(before, 0, nv * sizeof *before);

  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  char name[256];
  for (int i = 0; !rc && i < ncols; i++) {
    const pmr_column *c = &cols[i];
    hid_t ft, mt;
    pmr__col_types(c->type, &ft, &mt);
    herr_t e = 0;
    if (c->type != PMR_COL_BYTES) {
      hid_t d = pmr__h5_dataset(g, c->name, ft, total[0], 0);
      e = d < 0 ? -1 : 0;
      /* Every rank makes the same calls even when one failed to create. */
      if (MPI_Allreduce(MPI_IN_PLACE, &e, 1, MPI_INT, MPI_MIN, ctx->comm) !=
          MPI_SUCCESS)
        e = -1;
      if (e >= 0)
        e = pmr__col_write(ctx, d, mt, pmr__col_size(c->type), total[0],
                           before[0],
                           nrows, c->values, 0, dxpl);
      if (d >= 0)
        H5Dclose(d);
    } else {
      snprintf(name, sizeof name, "%s_offsets", c->name);
      hid_t dv = pmr__h5_dataset(g, c->name, ft, total[i + 1], 0);
      hid_t doff = pmr__h5_dataset(g, name, H5T_STD_U64LE, total[0] + 1, 0);
      e = dv < 0 || doff < 0 ? -1 : 0;
      if (MPI_Allreduce(MPI_IN_PLACE, &e, 1, MPI_INT, MPI_MIN, ctx->comm) !=
          MPI_SUCCESS)
        e = -1;
      if (e >= 0)
        e |= pmr__col_write(ctx, dv, mt, 1, total[i + 1], before[i + 1],
                            mine[i + 1],
                            c->values, 0, dxpl);
      if (e >= 0)
        e |= pmr__col_write(ctx, doff, H5T_NATIVE_UINT64, 8, total[0] + 1,
                            before[0], nrows,
                            c->offsets, before[i + 1], dxpl);
      if (e >= 0) {
        /* The closing offset, by rank 0: the total byte count. */
        uint64_t end = total[i + 1];
        e |= pmr__h5_write1(doff, H5T_NATIVE_UINT64, total[0],
                            ctx->rank == 0 ? 1 : 0, 0, &end, dxpl);
      }
      if (dv >= 0)
        H5Dclose(dv);
      if (doff >= 0)
        H5Dclose(doff);
    }
    if (e < 0)
      pmr__seterr(ctx, PMR_EHDF5, "cannot write column '%s' of '%s' (HDF5)",
                  c->name, path);
    rc = pmr__agree(ctx, e < 0 ? PMR_EHDF5 : PMR_OK);
  }
  H5Pclose(dxpl);
  pmr__free(mine);
  return rc;
}

/* Collective: open or create the file at tmp, (re)create the group, write
 * the columns and attributes. */
static int pmr__col_file(pmr_ctx *ctx, const char *path, const char *tmp,
                         const char *group, uint64_t nrows,
                         const pmr_column *cols, int ncols,
                         const pmr_meta *meta, bool add) {
  int rc = PMR_OK;
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
  if ((rc = pmr__agree(ctx, rc))) {
    if (f >= 0)
      H5Fclose(f);
    return rc;
  }
  if (add && H5Lexists(f, group, H5P_DEFAULT) > 0 &&
      H5Ldelete(f, group, H5P_DEFAULT) < 0)
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
                       "cannot create group '%s' in '%s' (HDF5)", group, path);
    rc = pmr__agree(ctx, rc);
  }
  if (!rc)
    rc = pmr__col_body(ctx, g, path, nrows, cols, ncols);
  if (!rc) {
    rc = pmr__col_attrs(ctx, g, meta);
    if (rc == PMR_EHDF5)
      pmr__seterr(ctx, rc, "cannot write attributes to '%s' (HDF5)", path);
    rc = pmr__agree(ctx, rc);
  }
  if (g >= 0)
    H5Gclose(g);
  if (H5Fclose(f) < 0 && !rc)
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot close '%s' (HDF5)", path);
  return pmr__agree(ctx, rc);
}

int pmr_write_columns_h5(pmr_ctx *ctx, const char *path, const char *group,
                         uint64_t nrows, const pmr_column *cols, int ncols,
                         const pmr_meta *meta, unsigned flags) {
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree(ctx, pmr__col_check(ctx, path, group, nrows, cols,
                                          ncols, flags));
  if (rc)
    return rc;
  uint64_t h = pmr__col_hash(cols, ncols), hs[2] = {h, ~h}, lo[2];
  rc = pmr__agree_mpi(ctx,
                      MPI_Allreduce(hs, lo, 2, MPI_UINT64_T, MPI_MIN,
                                    ctx->comm),
                      "MPI_Allreduce of the columns");
  if (!rc && (lo[0] != h || ~lo[1] != h))
    rc = pmr__seterr(ctx, PMR_EINVAL, "pmr_write_columns_h5: the columns "
                                      "differ between ranks");
  if ((rc = pmr__agree(ctx, rc)))
    return rc;
  double t0 = pmr__now();
  char *tmp = NULL;
  if ((rc = pmr__out_begin(ctx, path, false, &tmp)))
    return rc;
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
    rc = pmr__col_file(ctx, path, tmp, group, nrows, cols, ncols, meta,
                       exists != 0);
  H5Eset_auto2(H5E_DEFAULT, efn, edata);
  rc = pmr__out_finish(ctx, rc, path, &tmp);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return rc;
}
