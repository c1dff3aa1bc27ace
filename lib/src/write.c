/* Result output: parallel HDF5 in the pmr ragged layout, and text by
 * MPI-IO. Both walk the local pairs in batches bounded by the memory budget,
 * each batch one collective write, so no buffer grows with the result. */
#define _GNU_SOURCE
#include "pmr_internal.h"

#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- batches of local pairs ---- */

typedef struct pmr__cursor {
  const pmr_kv *kv;
  int t;
  size_t off;
} pmr__cursor;

static bool pmr__cursor_next(pmr__cursor *c, pmr__rec *r) {
  while (c->t < c->kv->ntables) {
    if (pmr__table_next(&c->kv->tables[c->t], &c->off, r))
      return true;
    c->t++;
    c->off = 0;
  }
  return false;
}

static bool pmr__cursor_done(const pmr__cursor *c) {
  pmr__cursor peek = *c;
  pmr__rec r;
  return !pmr__cursor_next(&peek, &r);
}

/* A batch in the HDF5 layout: keys, offsets (relative), values. */
typedef struct pmr__batch {
  unsigned char *keys;
  uint64_t *offs;
  unsigned char *vals;
  size_t nkeys_bytes, n;
  size_t kcap, ncap;
} pmr__batch;

static int pmr__batch_fill(pmr__batch *b, pmr__cursor *c, size_t limit) {
  size_t vsize = c->kv->vsize;
  b->n = 0;
  b->nkeys_bytes = 0;
  for (;;) {
    pmr__cursor save = *c;
    pmr__rec r;
    if (!pmr__cursor_next(c, &r))
      break;
    size_t cost = r.klen + 8 + vsize;
    if (b->n > 0 && b->nkeys_bytes + b->n * (8 + vsize) + cost > limit) {
      *c = save;
      break;
    }
    if (b->nkeys_bytes + r.klen > b->kcap) {
      size_t cap = b->kcap ? b->kcap : 65536;
      while (cap < b->nkeys_bytes + r.klen)
        cap *= 2;
      unsigned char *k = realloc(b->keys, cap);
      if (!k)
        return PMR_ENOMEM;
      b->keys = k;
      b->kcap = cap;
    }
    if (b->n + 1 > b->ncap) {
      size_t cap = b->ncap ? 2 * b->ncap : 4096;
      uint64_t *o = realloc(b->offs, cap * sizeof *o);
      if (!o)
        return PMR_ENOMEM;
      b->offs = o;
      unsigned char *v = realloc(b->vals, cap * vsize);
      if (!v)
        return PMR_ENOMEM;
      b->vals = v;
      b->ncap = cap;
    }
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
  free(b->keys);
  free(b->offs);
  free(b->vals);
}

/* Collective: is any rank's cursor not done? */
static int pmr__any_left(pmr_ctx *ctx, pmr__cursor *c, int *more) {
  int mine = !pmr__cursor_done(c);
  if (MPI_Allreduce(&mine, more, 1, MPI_INT, MPI_LOR, ctx->comm))
    return pmr__seterr(ctx, PMR_EMPI, "MPI_Allreduce failed while writing");
  return PMR_OK;
}

static size_t pmr__batch_limit(const pmr_ctx *ctx) {
  size_t l = ctx->memory / 4;
  if (l > (size_t)1 << 30)
    l = (size_t)1 << 30; /* well below the 2 GiB limits of MPI-IO counts */
  return l;
}

/* ---- HDF5 ---- */

static herr_t pmr__h5_write1(hid_t d, hid_t memtype, uint64_t start,
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

static hid_t pmr__h5_dataset(hid_t g, const char *name, hid_t type,
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
                           hid_t mtype, hsize_t n, const void *buf) {
  hid_t s = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
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
  herr_t e = pmr__h5_attr(g, name, t, t, 0, len ? v : "");
  H5Tclose(t);
  return e;
}

static herr_t pmr__h5_strs(hid_t g, const char *name, const char *const *v,
                           int n) {
  size_t w = 1;
  for (int i = 0; i < n; i++)
    if (strlen(v[i]) > w)
      w = strlen(v[i]);
  char *buf = calloc((size_t)n, w);
  if (!buf)
    return -1;
  for (int i = 0; i < n; i++)
    memcpy(buf + (size_t)i * w, v[i], strlen(v[i]));
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, w);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  herr_t e = pmr__h5_attr(g, name, t, t, (hsize_t)n, buf);
  H5Tclose(t);
  free(buf);
  return e;
}

static herr_t pmr__h5_i64(hid_t g, const char *name, int64_t v) {
  return pmr__h5_attr(g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
}
static herr_t pmr__h5_f64(hid_t g, const char *name, double v) {
  return pmr__h5_attr(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v);
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
  MPI_Bcast(created, sizeof created, MPI_CHAR, 0, ctx->comm);
  pmr_stats g_stats;
  int rc = pmr_ctx_stats_global(ctx, &g_stats);
  if (rc)
    return rc;
  /* The root decides the thread count recorded: ranks may differ. */
  int64_t nthreads = ctx->nthreads;
  MPI_Bcast(&nthreads, 1, MPI_INT64_T, 0, ctx->comm);
  herr_t e = 0;
  e |= pmr__h5_str(g, "pmr_version", PMR_VERSION_STRING);
  e |= pmr__h5_str(g, "app", meta && meta->app ? meta->app : "");
  e |= pmr__h5_str(g, "command_line",
                   meta && meta->command_line ? meta->command_line : "");
  e |= pmr__h5_str(g, "created", created);
  e |= pmr__h5_i64(g, "nranks", ctx->size);
  e |= pmr__h5_i64(g, "nthreads", nthreads);
  if (meta && meta->ninputs > 0)
    e |= pmr__h5_strs(g, "inputs", meta->inputs, meta->ninputs);
  e |= pmr__h5_i64(g, "records", (int64_t)g_stats.records);
  e |= pmr__h5_i64(g, "input_bytes", (int64_t)g_stats.input_bytes);
  e |= pmr__h5_f64(g, "seconds_map", g_stats.seconds[PMR_PHASE_MAP]);
  e |= pmr__h5_f64(g, "seconds_shuffle", g_stats.seconds[PMR_PHASE_SHUFFLE]);
  e |= pmr__h5_f64(g, "seconds_reduce", g_stats.seconds[PMR_PHASE_REDUCE]);
  for (int i = 0; meta && i < meta->nints; i++)
    e |= pmr__h5_i64(g, meta->int_names[i], meta->int_values[i]);
  return e < 0 ? PMR_EHDF5 : PMR_OK;
}

static int pmr__h5_body(pmr_kv *kv, const char *path, const char *tmp,
                        const char *group, const pmr_meta *meta) {
  pmr_ctx *ctx = kv->ctx;
  int rc = PMR_OK;
  /* Where this rank's pairs and key bytes go. */
  uint64_t mine[2] = {pmr_kv_local_size(kv), 0}, before[2] = {0, 0},
           total[2] = {0, 0};
  for (int i = 0; i < kv->ntables; i++) {
    const pmr__table *t = &kv->tables[i];
    pmr__rec r;
    for (size_t pos = 0; pmr__table_next(t, &pos, &r);) {
      mine[1] += r.klen;
    }
  }
  if (MPI_Exscan(mine, before, 2, MPI_UINT64_T, MPI_SUM, ctx->comm) ||
      MPI_Allreduce(mine, total, 2, MPI_UINT64_T, MPI_SUM, ctx->comm))
    return pmr__agree(ctx, pmr__seterr(ctx, PMR_EMPI, "MPI_Exscan failed"));
  if (ctx->rank == 0)
    before[0] = before[1] = 0; /* MPI_Exscan leaves rank 0's undefined */

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0)
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot create '%s' (HDF5)", path);
  rc = pmr__agree(ctx, rc);
  if (rc) {
    if (f >= 0)
      H5Fclose(f);
    return rc;
  }
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = H5Gcreate2(f, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
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
  hid_t dk = -1, doff = -1, dv = -1;
  if (g >= 0) {
    dk = pmr__h5_dataset(g, "keys", H5T_STD_U8LE, total[1], 0);
    doff = pmr__h5_dataset(g, "key_offsets", H5T_STD_U64LE, total[0] + 1, 0);
    dv = pmr__h5_dataset(g, "values", vtype_f, total[0], cols);
  }
  if (g < 0 || dk < 0 || doff < 0 || dv < 0)
    rc = pmr__seterr(ctx, PMR_EHDF5,
                     "cannot create group '%s' in '%s' (HDF5)", group, path);
  rc = pmr__agree(ctx, rc);

  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  pmr__cursor cur = {kv, 0, 0};
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
  if (!rc) {
    rc = pmr__h5_attrs(kv, g, meta);
    if (rc == PMR_EHDF5)
      pmr__seterr(ctx, rc, "cannot write attributes to '%s' (HDF5)", path);
    rc = pmr__agree(ctx, rc);
  }
  if (dk >= 0)
    H5Dclose(dk);
  if (doff >= 0)
    H5Dclose(doff);
  if (dv >= 0)
    H5Dclose(dv);
  if (g >= 0)
    H5Gclose(g);
  if (H5Fclose(f) < 0 && !rc)
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot close '%s' (HDF5)", path);
  return rc;
}

int pmr_kv_write_h5(pmr_kv *kv, const char *path, const char *group,
                    const pmr_meta *meta) {
  if (!kv || !path || !group || !*group)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  double t0 = pmr__now();
  char *tmp = NULL;
  int rc = pmr__out_begin(ctx, path, &tmp);
  if (rc)
    return rc;
  /* HDF5 prints its error stack by default; the message is ours to give. */
  H5E_auto2_t efn;
  void *edata;
  H5Eget_auto2(H5E_DEFAULT, &efn, &edata);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  rc = pmr__h5_body(kv, path, tmp, group, meta);
  H5Eset_auto2(H5E_DEFAULT, efn, edata);
  rc = pmr__out_finish(ctx, rc, path, &tmp);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return rc;
}

/* ---- text ---- */

static size_t pmr__fmt_i64(char *p, int64_t v) {
  char tmp[24];
  size_t n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t k = 0;
  if (v < 0)
    p[k++] = '-';
  while (n)
    p[k++] = tmp[--n];
  return k;
}

/* Format pairs into buf until `limit` bytes; returns bytes used. */
static int pmr__text_fill(pmr__cursor *c, char **buf, size_t *cap,
                          size_t limit, size_t *used) {
  const pmr_kv *kv = c->kv;
  size_t u = 0;
  for (;;) {
    pmr__cursor save = *c;
    pmr__rec r;
    if (!pmr__cursor_next(c, &r))
      break;
    size_t need = r.klen + 2 + (kv->dtype == PMR_BYTES ? 2 * kv->vsize : 32);
    if (u > 0 && u + need > limit) {
      *c = save;
      break;
    }
    if (u + need > *cap) {
      size_t nc = *cap ? *cap : 65536;
      while (nc < u + need)
        nc *= 2;
      char *nb = realloc(*buf, nc);
      if (!nb)
        return PMR_ENOMEM;
      *buf = nb;
      *cap = nc;
    }
    char *p = *buf + u;
    memcpy(p, r.key, r.klen);
    p += r.klen;
    *p++ = '\t';
    if (kv->dtype == PMR_INT64) {
      int64_t v;
      memcpy(&v, r.value, 8);
      p += pmr__fmt_i64(p, v);
    } else if (kv->dtype == PMR_FLOAT64) {
      double v;
      memcpy(&v, r.value, 8);
      p += snprintf(p, 32, "%.17g", v);
    } else {
      static const char hex[] = "0123456789abcdef";
      for (size_t i = 0; i < kv->vsize; i++) {
        *p++ = hex[r.value[i] >> 4];
        *p++ = hex[r.value[i] & 15];
      }
    }
    *p++ = '\n';
    u = (size_t)(p - *buf);
  }
  *used = u;
  return PMR_OK;
}

int pmr_kv_write_text(pmr_kv *kv, const char *path) {
  if (!kv || !path)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  double t0 = pmr__now();
  char *tmp = NULL;
  int rc = pmr__out_begin(ctx, path, &tmp);
  if (rc)
    return rc;
  MPI_File fh;
  int mrc = MPI_File_open(ctx->comm, tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY,
                          MPI_INFO_NULL, &fh);
  if (mrc != MPI_SUCCESS)
    pmr__mpierr(ctx, mrc, "cannot create text output");
  rc = pmr__agree(ctx, mrc == MPI_SUCCESS ? PMR_OK : PMR_EIO);
  if (rc)
    return pmr__out_finish(ctx, rc, path, &tmp);
  pmr__cursor cur = {kv, 0, 0};
  char *buf = NULL;
  size_t cap = 0;
  uint64_t base = 0;
  size_t limit = pmr__batch_limit(ctx);
  int more = 1;
  while (!rc) {
    rc = pmr__any_left(ctx, &cur, &more);
    if (rc || !more)
      break;
    size_t used = 0;
    int lrc = pmr__text_fill(&cur, &buf, &cap, limit, &used);
    if (lrc)
      pmr__seterr(ctx, lrc, "out of memory writing '%s'", path);
    rc = pmr__agree(ctx, lrc);
    if (rc)
      break;
    uint64_t n = used, before = 0, sum = 0;
    if (MPI_Exscan(&n, &before, 1, MPI_UINT64_T, MPI_SUM, ctx->comm) ||
        MPI_Allreduce(&n, &sum, 1, MPI_UINT64_T, MPI_SUM, ctx->comm)) {
      rc = pmr__agree(ctx, pmr__seterr(ctx, PMR_EMPI, "MPI_Exscan failed"));
      break;
    }
    if (ctx->rank == 0)
      before = 0;
    MPI_Status st;
    mrc = MPI_File_write_at_all(fh, (MPI_Offset)(base + before), buf,
                                (int)used, MPI_BYTE, &st);
    if (mrc != MPI_SUCCESS)
      pmr__mpierr(ctx, mrc, "cannot write text output");
    rc = pmr__agree(ctx, mrc == MPI_SUCCESS ? PMR_OK : PMR_EIO);
    base += sum;
  }
  free(buf);
  if (MPI_File_close(&fh) != MPI_SUCCESS && !rc)
    rc = pmr__seterr(ctx, PMR_EIO, "cannot close '%s'", path);
  rc = pmr__out_finish(ctx, rc, path, &tmp);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return rc;
}
