/* pmr results as a source of pairs: key/value groups in the ragged layout
 * (uint8 keys, uint64 key_offsets [n + 1], values [n] or [n, m]) that
 * pmr_kv_write_h5 writes at any rank count, or any other writer of the
 * layout.
 *
 * Rank 0 checks every file and group first, with plain serial HDF5 calls,
 * and broadcasts what it found, so a bad input gives one message on every
 * rank before any collective HDF5 call could be left waiting. Then each
 * file's pairs are split over the ranks by row (contiguous ranges) and read
 * in rounds: collective hyperslab reads of key_offsets, then of the key bytes
 * they span and the values, in blocks bounded by the memory budget. Every
 * rank makes the same calls each round (empty selections when it has nothing
 * left), on the MPI thread; each round's block is then mapped by
 * pmr__map_run, its parts ranges of pairs in the buffers. */
#include "input/source.h"

#include <hdf5.h>
#include <stdio.h>

/* What rank 0 found in one file: the same bytes on every rank. */
typedef struct pmr__rinfo {
  uint64_t n;     /* pairs */
  uint64_t nkeys; /* key bytes */
  uint64_t cols;  /* values [n, cols]; 0 for values [n] */
  int32_t vfloat; /* values are floating point (else integers) */
  int32_t vesize; /* bytes per value element */
  int32_t vsigned;
  int32_t pad;
  int64_t layout_version; /* 0: no attribute */
  char combiner[32];
  char app[64];
  char group[256]; /* the group read, as found or given */
} pmr__rinfo;

/* ---- checking a file (rank 0, serial HDF5) ---- */

/* "/" before a group name that lacks one, for messages. */
static const char *pmr__slash(const char *group) {
  return group[0] == '/' ? "" : "/";
}

/* Does the link path exist, every component of it? H5Lexists needs all but
 * the last to exist, so walk them. */
static bool pmr__link_exists(hid_t loc, const char *path) {
  char buf[1024];
  size_t len = strlen(path);
  if (len >= sizeof buf)
    return false;
  memcpy(buf, path, len + 1);
  char *p = buf + (*buf == '/');
  if (!*p)
    return true; /* the root group */
  for (;;) {
    char *slash = strchr(p, '/');
    if (slash)
      *slash = '\0';
    if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
      return false;
    if (!slash || !slash[1])
      return true;
    *slash = '/';
    p = slash + 1;
  }
}

/* A scalar string attribute (fixed or variable length) into buf: 1 when
 * found, 0 when absent, -1 when it is not a string. */
static int pmr__attr_str(hid_t obj, const char *name, char *buf, size_t n) {
  buf[0] = '\0';
  if (H5Aexists(obj, name) <= 0)
    return 0;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0)
    return -1;
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  int rc = -1;
  if (t >= 0 && s >= 0 && H5Tget_class(t) == H5T_STRING &&
      H5Sget_simple_extent_npoints(s) == 1) {
    if (H5Tis_variable_str(t) > 0) {
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, H5T_VARIABLE);
      /* HDF5 converts no character sets: read h5py's UTF-8 as UTF-8. */
      H5Tset_cset(mt, H5Tget_cset(t));
      char *v = NULL;
      if (H5Aread(a, mt, &v) >= 0 && v) {
        snprintf(buf, n, "%s", v);
        rc = 1;
      }
      if (v)
        H5free_memory(v);
      H5Tclose(mt);
    } else {
      size_t sz = H5Tget_size(t);
      char *v = pmr__calloc(1, sz + 1);
      hid_t mt = H5Tcopy(t);
      if (v && H5Aread(a, mt, v) >= 0) {
        snprintf(buf, n, "%s", v); /* stops at the first NUL (NULLPAD) */
        rc = 1;
      }
      H5Tclose(mt);
      pmr__free(v);
    }
  }
  if (t >= 0)
    H5Tclose(t);
  if (s >= 0)
    H5Sclose(s);
  H5Aclose(a);
  return rc;
}

/* A scalar integer attribute: 1 found, 0 absent, -1 not an integer. */
static int pmr__attr_i64(hid_t obj, const char *name, int64_t *v) {
  if (H5Aexists(obj, name) <= 0)
    return 0;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0)
    return -1;
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  int rc = -1;
  if (t >= 0 && s >= 0 && H5Tget_class(t) == H5T_INTEGER &&
      H5Sget_simple_extent_npoints(s) == 1 &&
      H5Aread(a, H5T_NATIVE_INT64, v) >= 0)
    rc = 1;
  if (t >= 0)
    H5Tclose(t);
  if (s >= 0)
    H5Sclose(s);
  H5Aclose(a);
  return rc;
}

/* One dataset's type and shape, as messages name them. */
typedef struct pmr__dsinfo {
  H5T_class_t cls;
  size_t size;
  int sign; /* H5T_SGN_NONE or H5T_SGN_2 for integers */
  int ndims;
  hsize_t dims[H5S_MAX_RANK];
} pmr__dsinfo;

static bool pmr__ds_info(hid_t d, pmr__dsinfo *di) {
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  bool ok = t >= 0 && s >= 0;
  if (ok) {
    di->cls = H5Tget_class(t);
    di->size = H5Tget_size(t);
    di->sign = di->cls == H5T_INTEGER ? (int)H5Tget_sign(t) : 0;
    di->ndims = H5Sget_simple_extent_dims(s, di->dims, NULL);
    ok = di->ndims >= 0;
  }
  if (t >= 0)
    H5Tclose(t);
  if (s >= 0)
    H5Sclose(s);
  return ok;
}

/* "uint8 [12]", "float64 [3, 2]", "string [4]"... */
static void pmr__ds_desc(const pmr__dsinfo *di, char *buf, size_t n) {
  char t[32];
  switch (di->cls) {
  case H5T_INTEGER:
    snprintf(t, sizeof t, "%sint%zu", di->sign == H5T_SGN_NONE ? "u" : "",
             di->size * 8);
    break;
  case H5T_FLOAT:
    snprintf(t, sizeof t, "float%zu", di->size * 8);
    break;
  case H5T_STRING:
    snprintf(t, sizeof t, "string");
    break;
  case H5T_COMPOUND:
    snprintf(t, sizeof t, "compound");
    break;
  default:
    snprintf(t, sizeof t, "a %zu-byte non-numeric type", di->size);
  }
  int len = snprintf(buf, n, "%s [", t);
  for (int i = 0; i < di->ndims && len > 0 && (size_t)len < n; i++)
    len += snprintf(buf + len, n - (size_t)len, "%s%llu", i ? ", " : "",
                    (unsigned long long)di->dims[i]);
  if (len > 0 && (size_t)len < n)
    snprintf(buf + len, n - (size_t)len, "]");
}

/* The group's datasets, opened for the checks. */
typedef struct pmr__rds {
  hid_t keys, offs, vals;
} pmr__rds;

static void pmr__rds_close(pmr__rds *d) {
  if (d->keys >= 0)
    H5Dclose(d->keys);
  if (d->offs >= 0)
    H5Dclose(d->offs);
  if (d->vals >= 0)
    H5Dclose(d->vals);
  d->keys = d->offs = d->vals = -1;
}

/* Is group `name` of `loc` a key/value group (its three datasets there)? */
static bool pmr__is_kv_group(hid_t loc, const char *name) {
  static const char *const need[] = {"keys", "key_offsets", "values"};
  hid_t g = H5Oopen(loc, name, H5P_DEFAULT);
  if (g < 0)
    return false;
  bool ok = H5Iget_type(g) == H5I_GROUP;
  for (int i = 0; ok && i < 3; i++) {
    ok = H5Lexists(g, need[i], H5P_DEFAULT) > 0;
    hid_t d = ok ? H5Oopen(g, need[i], H5P_DEFAULT) : -1;
    ok = ok && d >= 0 && H5Iget_type(d) == H5I_DATASET;
    if (d >= 0)
      H5Oclose(d);
  }
  H5Oclose(g);
  return ok;
}

typedef struct pmr__find {
  int count;
  char first[256];
  char names[256]; /* for the message: "a, b, c" */
} pmr__find;

#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t pmr__linfo;
#define pmr__literate H5Literate2
#else
typedef H5L_info_t pmr__linfo;
#define pmr__literate H5Literate
#endif

static herr_t pmr__find_cb(hid_t g, const char *name, const pmr__linfo *li,
                           void *data) {
  pmr__find *fd = data;
  (void)li;
  if (!pmr__is_kv_group(g, name))
    return 0;
  if (fd->count++ == 0)
    snprintf(fd->first, sizeof fd->first, "%s", name);
  size_t len = strlen(fd->names);
  if (len < sizeof fd->names - 1)
    snprintf(fd->names + len, sizeof fd->names - len, "%s%s", len ? ", " : "",
             name);
  return 0;
}

/* Rank 0: check `group` of `path` (NULL: find the only key/value group at
 * the root) and describe it in *ri. Returns a code with the message set. */
static int pmr__res_probe_file(pmr_ctx *ctx, const char *path,
                               const char *group, pmr__rinfo *ri) {
  memset(ri, 0, sizeof *ri);
#if H5_VERSION_GE(1, 12, 0)
  htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
  htri_t is = H5Fis_hdf5(path);
#endif
  if (is <= 0)
    return pmr__seterr(ctx, PMR_EINVAL, "'%s' is not an HDF5 file", path);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    return pmr__seterr(ctx, PMR_EHDF5, "cannot open '%s' (HDF5)", path);
  int rc = PMR_OK;
  hid_t g = -1;
  pmr__rds ds = {-1, -1, -1};
  if (!group) {
    pmr__find fd = {0};
    hsize_t idx = 0;
    pmr__literate(f, H5_INDEX_NAME, H5_ITER_INC, &idx, pmr__find_cb, &fd);
    if (fd.count == 0)
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s' holds no pmr key/value group at its root", path);
    else if (fd.count > 1)
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s' holds %d key/value groups (%s): name one", path,
                       fd.count, fd.names);
    group = fd.first;
    snprintf(ri->group, sizeof ri->group, "%s", fd.first);
  } else {
    snprintf(ri->group, sizeof ri->group, "%s", group);
    if (strlen(group) >= sizeof ri->group || !pmr__link_exists(f, group))
      rc = pmr__seterr(ctx, PMR_ENOENT, "'%s' has no group '%s%s'", path,
                       pmr__slash(group), group);
  }
  const char *sl = pmr__slash(group);
  if (!rc) {
    g = H5Oopen(f, group, H5P_DEFAULT);
    if (g < 0 || H5Iget_type(g) != H5I_GROUP)
      rc = pmr__seterr(ctx, PMR_EINVAL, "'%s': '%s%s' is not a group", path, sl,
                       group);
  }
  /* A newer layout may have other datasets: say that first. */
  char layout[32];
  if (!rc) {
    int a = pmr__attr_i64(g, "layout_version", &ri->layout_version);
    if (a < 0)
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s' group '%s%s': its layout_version attribute is "
                       "not an integer",
                       path, sl, group);
    else if (a > 0 && ri->layout_version > PMR_LAYOUT_VERSION)
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s' group '%s%s' has layout_version %lld, newer "
                       "than this pmr (%s) reads (up to %d): read it with a "
                       "newer pmr",
                       path, sl, group, (long long)ri->layout_version,
                       PMR_VERSION_STRING, PMR_LAYOUT_VERSION);
  }
  if (!rc && pmr__attr_str(g, "layout", layout, sizeof layout) > 0 &&
      strcmp(layout, "kv") != 0)
    rc = pmr__seterr(ctx, PMR_EINVAL,
                     "'%s' group '%s%s' is a '%s' result, not a key/value "
                     "one",
                     path, sl, group, layout);
  static const char *const names[] = {"keys", "key_offsets", "values"};
  hid_t *slots[] = {&ds.keys, &ds.offs, &ds.vals};
  for (int i = 0; !rc && i < 3; i++) {
    hid_t o = H5Lexists(g, names[i], H5P_DEFAULT) > 0
                  ? H5Oopen(g, names[i], H5P_DEFAULT)
                  : -1;
    if (o >= 0 && H5Iget_type(o) == H5I_DATASET) {
      *slots[i] = o;
      continue;
    }
    if (o >= 0)
      H5Oclose(o);
    rc = pmr__seterr(ctx, PMR_EINVAL,
                     "'%s' group '%s%s' is not a pmr key/value result: no "
                     "dataset '%s'",
                     path, sl, group, names[i]);
  }
  pmr__dsinfo k, o, v;
  char desc[128];
  if (!rc && (!pmr__ds_info(ds.keys, &k) || !pmr__ds_info(ds.offs, &o) ||
              !pmr__ds_info(ds.vals, &v)))
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot read '%s' group '%s%s' (HDF5)",
                     path, sl, group);
  if (!rc && (k.cls != H5T_INTEGER || k.size != 1 || k.sign != H5T_SGN_NONE ||
              k.ndims != 1)) {
    pmr__ds_desc(&k, desc, sizeof desc);
    rc = pmr__seterr(ctx, PMR_EINVAL,
                     "'%s' group '%s%s': 'keys' is %s, not uint8 [total key "
                     "bytes]",
                     path, sl, group, desc);
  }
  if (!rc && (o.cls != H5T_INTEGER || o.size != 8 || o.sign != H5T_SGN_NONE ||
              o.ndims != 1)) {
    pmr__ds_desc(&o, desc, sizeof desc);
    rc = pmr__seterr(ctx, PMR_EINVAL,
                     "'%s' group '%s%s': 'key_offsets' is %s, not uint64 "
                     "[n + 1]",
                     path, sl, group, desc);
  }
  if (!rc) {
    bool num = (v.cls == H5T_INTEGER &&
                (v.size == 1 || v.size == 2 || v.size == 4 || v.size == 8)) ||
               (v.cls == H5T_FLOAT && (v.size == 4 || v.size == 8));
    if (!num || v.ndims < 1 || v.ndims > 2 || (v.ndims == 2 && !v.dims[1])) {
      pmr__ds_desc(&v, desc, sizeof desc);
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s' group '%s%s': 'values' is %s, not numbers [n] "
                       "or [n, m]",
                       path, sl, group, desc);
    }
  }
  if (!rc && o.dims[0] != v.dims[0] + 1)
    rc = pmr__seterr(ctx, PMR_EINVAL,
                     "'%s' group '%s%s': 'key_offsets' has %llu elements for "
                     "%llu values (it needs n + 1)",
                     path, sl, group, (unsigned long long)o.dims[0],
                     (unsigned long long)v.dims[0]);
  if (!rc) {
    /* The ends; the offsets between are checked as the ranks read them. */
    uint64_t ends[2] = {0, 0};
    hsize_t coord[2] = {0, o.dims[0] - 1}, npts = o.dims[0] > 1 ? 2 : 1;
    hid_t fs = H5Dget_space(ds.offs), ms = H5Screate_simple(1, &npts, NULL);
    H5Sselect_elements(fs, H5S_SELECT_SET, (size_t)npts, coord);
    herr_t e = H5Dread(ds.offs, H5T_NATIVE_UINT64, ms, fs, H5P_DEFAULT, ends);
    if (npts == 1)
      ends[1] = ends[0];
    if (e < 0)
      rc = pmr__seterr(ctx, PMR_EHDF5,
                       "cannot read the key_offsets of '%s' group '%s%s' "
                       "(HDF5)",
                       path, sl, group);
    else if (ends[0] != 0 || ends[1] != k.dims[0])
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s' group '%s%s': key_offsets run from %llu to "
                       "%llu, but 'keys' holds %llu bytes",
                       path, sl, group, (unsigned long long)ends[0],
                       (unsigned long long)ends[1],
                       (unsigned long long)k.dims[0]);
    H5Sclose(ms);
    H5Sclose(fs);
  }
  if (!rc) {
    ri->n = v.dims[0];
    ri->nkeys = k.dims[0];
    ri->cols = v.ndims == 2 ? v.dims[1] : 0;
    ri->vfloat = v.cls == H5T_FLOAT;
    ri->vesize = (int32_t)v.size;
    ri->vsigned = v.cls == H5T_FLOAT || v.sign != H5T_SGN_NONE;
    /* Descriptive only: a wrong type reads as absent. */
    pmr__attr_str(g, "combiner", ri->combiner, sizeof ri->combiner);
    pmr__attr_str(g, "app", ri->app, sizeof ri->app);
  }
  pmr__rds_close(&ds);
  if (g >= 0)
    H5Oclose(g);
  H5Fclose(f);
  return rc;
}

/* Collective: rank 0 checks every file (stopping at the first bad one) and
 * broadcasts what it found; the outcome is agreed. `group` NULL: find each
 * file's only key/value group. */
static int pmr__res_probe(pmr_ctx *ctx, const char *const *paths, int npaths,
                          const char *group, pmr__rinfo *ri) {
  uint64_t *sizes = pmr__calloc((size_t)npaths, sizeof *sizes);
  int rc = pmr__agree(
      ctx, sizes ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  /* Missing, unreadable and non-regular files, named as for other inputs. */
  if (!rc)
    rc = pmr__stat_files(ctx, paths, npaths, sizes);
  pmr__free(sizes);
  if (rc)
    return rc;
  int lrc = PMR_OK;
  if (ctx->rank == 0) {
    H5E_auto2_t efn;
    void *edata;
    H5Eget_auto2(H5E_DEFAULT, &efn, &edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    for (int i = 0; i < npaths && !lrc; i++)
      lrc = pmr__res_probe_file(ctx, paths[i], group, &ri[i]);
    H5Eset_auto2(H5E_DEFAULT, efn, edata);
  }
  rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Bcast(ri, (int)((size_t)npaths * sizeof *ri),
                                  MPI_BYTE, 0, ctx->comm),
                        "MPI_Bcast of the results' layout");
  return rc;
}

/* ---- the values as the set and the callbacks see them ---- */

static hid_t pmr__vmemtype(const pmr__rinfo *ri) {
  if (ri->vfloat)
    return ri->vesize == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  switch (ri->vesize) {
  case 1:
    return ri->vsigned ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
  case 2:
    return ri->vsigned ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
  case 4:
    return ri->vsigned ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
  default:
    return ri->vsigned ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
  }
}

/* Bytes of one pair's value. */
static size_t pmr__vrow(const pmr__rinfo *ri) {
  return (size_t)ri->vesize * (ri->cols ? (size_t)ri->cols : 1);
}

/* Which of the written layouts the values are in: PMR_INT64, PMR_FLOAT64,
 * PMR_BYTES, or -1 (readable only through a callback). */
static int pmr__vdtype(const pmr__rinfo *ri) {
  if (!ri->cols && ri->vesize == 8)
    return ri->vfloat ? PMR_FLOAT64 : ri->vsigned ? PMR_INT64 : -1;
  if (ri->cols && !ri->vfloat && ri->vesize == 1 && !ri->vsigned)
    return PMR_BYTES;
  return -1;
}

static void pmr__vdesc(const pmr__rinfo *ri, char *buf, size_t n) {
  const char *t = ri->vfloat ? "float" : ri->vsigned ? "int" : "uint";
  if (ri->cols)
    snprintf(buf, n, "%s%d [n, %llu]", t, ri->vesize * 8,
             (unsigned long long)ri->cols);
  else
    snprintf(buf, n, "%s%d [n]", t, ri->vesize * 8);
}

/* Every rank: can file i's values go into the set as they are? */
static int pmr__check_values(pmr_kv *kv, const char *path,
                             const pmr__rinfo *ri) {
  int dt = pmr__vdtype(ri);
  if (dt == (int)kv->dtype && pmr__vrow(ri) == kv->vsize)
    return PMR_OK;
  char have[64], want[64];
  pmr__vdesc(ri, have, sizeof have);
  if (kv->dtype == PMR_BYTES)
    snprintf(want, sizeof want, "uint8 [n, %zu]", kv->vsize);
  else
    snprintf(want, sizeof want, "%s [n]",
             kv->dtype == PMR_INT64 ? "int64" : "float64");
  return pmr__seterr(kv->ctx, PMR_EINVAL,
                     "'%s' group '%s%s': the values are %s, but the set "
                     "takes %s",
                     path, pmr__slash(ri->group), ri->group, have, want);
}

/* ---- the source: ranges of pairs of the block in memory ---- */

typedef struct pmr__res {
  const char *const *paths;
  int file;
  uint64_t first;            /* the block's pair 0 in its file */
  const uint64_t *offs;      /* [cnt + 1], key offsets in the file */
  const unsigned char *keys; /* key bytes from offs[0] on */
  const unsigned char *vals; /* cnt rows of vrow bytes */
  size_t vrow;
} pmr__res;

typedef struct pmr__res_t {
  uint64_t at, end;
} pmr__res_t;

static int pmr__res_topen(pmr__src *s, void **ts, pmr_emitter *em) {
  (void)s;
  *ts = pmr__calloc(1, sizeof(pmr__res_t));
  if (*ts)
    return PMR_OK;
  snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory");
  return PMR_ENOMEM;
}
static void pmr__res_tclose(pmr__src *s, void *ts) {
  (void)s;
  pmr__free(ts);
}
static int pmr__res_open(pmr__src *s, void *ts, const pmr__part *p,
                         pmr_emitter *em) {
  (void)s;
  pmr__res_t *t = ts;
  t->at = p->start;
  t->end = p->end;
  em->source = p->source;
  return PMR_OK;
}
static int pmr__res_next(pmr__src *s, void *ts, pmr__rec *r, pmr_emitter *em) {
  const pmr__res *b = s->impl;
  pmr__res_t *t = ts;
  if (t->at >= t->end)
    return 0;
  uint64_t i = t->at++;
  r->data = b->keys + (b->offs[i] - b->offs[0]);
  r->len = (size_t)(b->offs[i + 1] - b->offs[i]);
  r->data2 = b->vals + i * b->vrow;
  r->n = b->vrow;
  em->record = b->first + i;
  return 1;
}
static int pmr__res_call(pmr__src *s, const pmr__rec *r, pmr_emitter *em) {
  if (!s->fn) /* merge: the pair as it is */
    return pmr_emit(em, r->data, r->len, r->data2);
  return ((pmr_pair_fn)s->fn)(r->data, r->len, r->data2, em, s->user);
}
static void pmr__res_where(const pmr__src *s, const pmr_emitter *em, char *buf,
                           size_t n) {
  const pmr__res *b = s->impl;
  snprintf(buf, n, "'%s' pair %llu", b->paths[em->source],
           (unsigned long long)em->record);
}

static const pmr__src_ops pmr__res_ops = {
    "result",      pmr__res_topen, pmr__res_tclose, pmr__res_open,
    pmr__res_next, NULL,           pmr__res_call,   pmr__res_where};

/* ---- collective reads ---- */

/* One collective read of elements [start, start+count) (rows x cols, cols 0
 * for 1-D) of d into buf; count 0 takes part with an empty selection. */
static herr_t pmr__h5_read1(hid_t d, hid_t memtype, uint64_t start,
                            uint64_t count, uint64_t cols, void *buf,
                            hid_t dxpl) {
  hsize_t one[2] = {1, cols ? cols : 1};
  hsize_t st[2] = {start, 0}, ct[2] = {count, cols};
  int rank = cols ? 2 : 1;
  hid_t fs = H5Dget_space(d);
  hid_t ms;
  static unsigned char dummy[16];
  if (count == 0) {
    ms = H5Screate_simple(rank, one, NULL);
    H5Sselect_none(ms);
    H5Sselect_none(fs);
    buf = dummy;
  } else {
    ms = H5Screate_simple(rank, ct, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
  }
  herr_t e = fs < 0 || ms < 0 ? -1 : H5Dread(d, memtype, ms, fs, dxpl, buf);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  return e;
}

/* Buffers of a round, reused over rounds and files. */
typedef struct pmr__rbuf {
  uint64_t *offs;
  size_t ocap;
  unsigned char *keys;
  size_t kcap;
  unsigned char *vals;
  size_t vcap;
  size_t pcap; /* of the source's parts */
} pmr__rbuf;

/* Collective: is any rank's range not done? */
static int pmr__res_more(pmr_ctx *ctx, bool mine, int *more) {
  int m = mine;
  return pmr__agree_mpi(ctx,
                        MPI_Allreduce(&m, more, 1, MPI_INT, MPI_LOR, ctx->comm),
                        "MPI_Allreduce while reading results");
}

/* Round progress on rank 0 (the driver's own, per round, would read as
 * many maps each reaching 100 %). */
typedef struct pmr__rprog {
  uint64_t done, total;
  double last;
} pmr__rprog;

static void pmr__res_progress(pmr_ctx *ctx, pmr_progress_fn fn, pmr__rprog *pg,
                              bool final) {
  if (!fn || ctx->rank != 0)
    return;
  double now = pmr__now();
  if (!final && now - pg->last < 0.5)
    return;
  pg->last = now;
  fn("map", final ? pg->total : pg->done, pg->total, ctx->progress_user);
}

/* Map every pair of file `fi` (checked, described by ri) into kv. */
static int pmr__res_file(pmr_ctx *ctx, const char *const *paths, int fi,
                         const pmr__rinfo *ri, pmr_pair_fn fn, void *user,
                         pmr_kv *kv, pmr__rbuf *rb, pmr_progress_fn pfn,
                         pmr__rprog *pg) {
  const char *path = paths[fi], *group = ri->group, *sl = pmr__slash(ri->group);
  int rc = PMR_OK;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  hid_t g = f >= 0 ? H5Gopen2(f, group, H5P_DEFAULT) : -1;
  pmr__rds ds = {-1, -1, -1};
  if (g >= 0) {
    ds.keys = H5Dopen2(g, "keys", H5P_DEFAULT);
    ds.offs = H5Dopen2(g, "key_offsets", H5P_DEFAULT);
    ds.vals = H5Dopen2(g, "values", H5P_DEFAULT);
  }
  if (ds.keys < 0 || ds.offs < 0 || ds.vals < 0)
    rc = pmr__seterr(ctx, PMR_EHDF5, "cannot open '%s' group '%s%s' (HDF5)",
                     path, sl, group);
  rc = pmr__agree(ctx, rc);

  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  hid_t vmt = pmr__vmemtype(ri);
  size_t vrow = pmr__vrow(ri);
  /* A round holds at most a quarter of the budget: offsets and values in
   * one half, key bytes in the other (or the one key that does not fit). */
  size_t limit = ctx->memory / 4;
  if (limit > (size_t)1 << 30)
    limit = (size_t)1 << 30; /* well below MPI-IO's 2 GiB counts */
  uint64_t pmax = (limit / 2) / (8 + vrow);
  if (pmax < 1)
    pmax = 1;
  uint64_t lo, hi;
  pmr__split_range(ri->n, ctx->size, ctx->rank, &lo, &hi);
  uint64_t at = lo;
  int nt = ctx->nthreads;
  pmr__res blk = {paths, fi, 0, NULL, NULL, NULL, vrow};
  pmr__src src = {.ops = &pmr__res_ops,
                  .ctx = ctx,
                  .unit = "pairs",
                  .fn = (void *)fn,
                  .user = user,
                  .impl = &blk};
  while (!rc) {
    int more = 0;
    rc = pmr__res_more(ctx, at < hi, &more);
    if (rc || !more)
      break;
    /* Every rank makes the three reads below, whatever happens locally. */
    int lrc = PMR_OK;
    uint64_t p = hi - at < pmax ? hi - at : pmax, cnt = 0, kb = 0;
    void *o = rb->offs;
    if (p && pmr__grow_array(&o, &rb->ocap, (size_t)p + 1, 8, 1024))
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory reading '%s'", path);
    rb->offs = o;
    if (lrc)
      p = 0;
    herr_t e = pmr__h5_read1(ds.offs, H5T_NATIVE_UINT64, at, p ? p + 1 : 0, 0,
                             rb->offs, dxpl);
    if (e < 0 && !lrc)
      lrc = pmr__seterr(ctx, PMR_EHDF5,
                        "cannot read the key_offsets of '%s' group '%s%s' "
                        "(HDF5)",
                        path, sl, group);
    for (uint64_t i = 0; !lrc && i < p; i++)
      if (rb->offs[i + 1] < rb->offs[i] || rb->offs[i + 1] > ri->nkeys)
        lrc = pmr__seterr(ctx, PMR_EINVAL,
                          "'%s' group '%s%s': key_offsets[%llu] = %llu is "
                          "out of order (keys hold %llu bytes)",
                          path, sl, group, (unsigned long long)(at + i + 1),
                          (unsigned long long)rb->offs[i + 1],
                          (unsigned long long)ri->nkeys);
    if (!lrc && p) {
      /* As many pairs as the key half holds; at least one. */
      cnt = 1;
      while (cnt < p && rb->offs[cnt + 1] - rb->offs[0] <= limit / 2)
        cnt++;
      kb = rb->offs[cnt] - rb->offs[0];
      void *k = rb->keys, *v = rb->vals;
      int g1 = pmr__grow_array(&k, &rb->kcap, (size_t)kb, 1, 65536);
      rb->keys = k;
      int g2 = pmr__grow_array(&v, &rb->vcap, (size_t)cnt, vrow, 1024);
      rb->vals = v;
      if (g1 || g2)
        lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory reading '%s'", path);
    }
    if (lrc)
      cnt = kb = 0;
    e = pmr__h5_read1(ds.keys, H5T_NATIVE_UINT8, cnt ? rb->offs[0] : 0, kb, 0,
                      rb->keys, dxpl);
    e |= pmr__h5_read1(ds.vals, vmt, at, cnt, ri->cols, rb->vals, dxpl);
    if (e < 0 && !lrc)
      lrc = pmr__seterr(ctx, PMR_EHDF5, "cannot read '%s' group '%s%s' (HDF5)",
                        path, sl, group);
    ctx->stats.input_bytes += (p ? (p + 1) * 8 : 0) + kb + cnt * vrow;
    /* Parts of about a quarter of a thread's share, for balance. */
    src.nparts = 0;
    src.units = cnt;
    uint64_t per = (cnt + 4 * (uint64_t)nt - 1) / (4 * (uint64_t)nt);
    if (per < 1)
      per = 1;
    for (uint64_t a = 0; !lrc && a < cnt; a += per)
      if (pmr__parts_add(&src, &rb->pcap, fi, a, a + per < cnt ? a + per : cnt,
                         0))
        lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory reading '%s'", path);
    rc = pmr__agree(ctx, lrc);
    if (rc)
      break;
    blk.first = at;
    blk.offs = rb->offs;
    blk.keys = rb->keys;
    blk.vals = rb->vals;
    rc = pmr__map_run(&src, kv);
    at += cnt;
    pg->done += cnt;
    pmr__res_progress(ctx, pfn, pg, false);
  }
  pmr__free(src.parts);
  rb->pcap = 0;
  H5Pclose(dxpl);
  pmr__rds_close(&ds);
  if (g >= 0)
    H5Gclose(g);
  if (f >= 0)
    H5Fclose(f);
  return rc;
}

int pmr_map_result(pmr_ctx *ctx, const char *const *paths, int npaths,
                   const char *group, pmr_pair_fn fn, void *user, pmr_kv *kv) {
  if (!ctx)
    return PMR_EINVAL;
  bool bad = !kv || kv->ctx != ctx || npaths < 1 || !paths || !group ||
             !*group || (!fn && kv->kind != PMR__HASH);
  for (int i = 0; !bad && i < npaths; i++)
    bad = !paths[i];
  const char *why =
      npaths < 1 ? "no input files"
      : kv && !fn && kv->kind != PMR__HASH
          ? "pmr_map_result: pairs go as they are only into a hash set "
            "(give a callback for a dense set)"
          : "pmr_map_result: invalid argument (files, a group name and a "
            "set of the context are needed)";
  int rc = pmr__agree_arg(ctx, bad, why);
  if (!rc)
    rc = pmr__agree(ctx,
                    pmr__kv_check(kv, PMR__EMPTY | PMR__MAPPED | PMR__REDUCED,
                                  "pmr_map_result"));
  if (rc)
    return rc;
  double t0 = pmr__now(), map0 = ctx->stats.seconds[PMR_PHASE_MAP];
  pmr__rinfo *ri = pmr__calloc((size_t)npaths, sizeof *ri);
  rc = pmr__agree(ctx,
                  ri ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  if (!rc)
    rc = pmr__res_probe(ctx, paths, npaths, group, ri);
  /* Every rank has the same descriptions: the same verdict, in file order. */
  for (int i = 0; !rc && !fn && i < npaths; i++)
    rc = pmr__check_values(kv, paths[i], &ri[i]);

  pmr__rprog pg = {0, 0, pmr__now()};
  for (int i = 0; !rc && i < npaths; i++) {
    uint64_t lo, hi;
    pmr__split_range(ri[i].n, ctx->size, ctx->rank, &lo, &hi);
    pg.total += hi - lo;
  }
  /* The driver reports each round as a whole map: report the rounds here. */
  pmr_progress_fn pfn = ctx->progress_fn;
  ctx->progress_fn = NULL;
  H5E_auto2_t efn;
  void *edata;
  H5Eget_auto2(H5E_DEFAULT, &efn, &edata);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  pmr__rbuf rb = {0};
  for (int i = 0; !rc && i < npaths; i++)
    rc = pmr__res_file(ctx, paths, i, &ri[i], fn, user, kv, &rb, pfn, &pg);
  H5Eset_auto2(H5E_DEFAULT, efn, edata);
  ctx->progress_fn = pfn;
  if (!rc)
    pmr__res_progress(ctx, pfn, &pg, true);
  pmr__free(rb.offs);
  pmr__free(rb.keys);
  pmr__free(rb.vals);
  pmr__free(ri);
  /* Reading counts as map time, as it does for the other sources. */
  ctx->stats.seconds[PMR_PHASE_MAP] = map0 + (pmr__now() - t0);
  return rc;
}

int pmr_result_describe(pmr_ctx *ctx, const char *path, const char *group,
                        pmr_result_info *out) {
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree_arg(ctx, !path || !out || (group && !*group),
                          "pmr_result_describe: invalid argument (a path and a "
                          "place for the answer are needed)");
  if (rc)
    return rc;
  pmr__rinfo ri;
  rc = pmr__res_probe(ctx, &path, 1, group, &ri);
  if (rc)
    return rc;
  memset(out, 0, sizeof *out);
  out->pairs = ri.n;
  out->key_bytes = ri.nkeys;
  out->dtype = pmr__vdtype(&ri);
  out->value_size = pmr__vrow(&ri);
  out->layout_version = ri.layout_version;
  snprintf(out->group, sizeof out->group, "%s", ri.group);
  snprintf(out->combiner, sizeof out->combiner, "%s", ri.combiner);
  snprintf(out->app, sizeof out->app, "%s", ri.app);
  return PMR_OK;
}
