/* HDF5 datasets as a source. HDF5 reads are collective and belong to the MPI
 * thread, while the map runs on OpenMP threads, so a map goes in rounds: each
 * rank reads the next block of its contiguous row range (with the halo rows
 * after it) in one collective hyperslab read, then the one driver maps
 * sub-blocks of that buffer on the threads. Every rank makes the same number
 * of reads and driver runs (a rank with nothing left reads an empty
 * selection) and the same HDF5 metadata calls in the same order. Blocks kept
 * in memory (pmr_block) are read the same way, once, and mapped by the same
 * source as often as asked. */
#define _GNU_SOURCE /* O_CLOEXEC, pread */
#include "input/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Values are handed out converted to 8-byte int64 or double. */
#define PMR__H5_VALUE 8

/* A dataset of a map: its spec split, its shape once checked, and its
 * handles while it is open. */
typedef struct pmr__h5ds {
  const char *spec;
  char *file, *path;
  uint64_t rows, cols; /* cols is 1 for a 1-D dataset */
  size_t fsize;        /* bytes per value in the file */
  hid_t f, d;
} pmr__h5ds;

/* ---- the source: parts are row ranges of the rows held in a buffer ---- */

typedef struct pmr__h5src {
  const char *const *names; /* specs, by dataset index, for messages */
  const unsigned char *buf; /* rows [buf_first, buf_first + buf_rows) */
  uint64_t buf_first, buf_rows;
  uint64_t halo, cols, total; /* halo as asked; the dataset's shape */
  pmr_dtype type;
  atomic_uint_fast64_t extra; /* rows mapped beyond one per call */
} pmr__h5src;

typedef struct pmr__h5src_t {
  const pmr__part *p;
  bool done;
  uint64_t extra;
} pmr__h5src_t;

static int pmr__h5src_topen(pmr__src *s, void **ts, pmr_emitter *em) {
  (void)s;
  *ts = pmr__calloc(1, sizeof(pmr__h5src_t));
  if (*ts)
    return PMR_OK;
  snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory");
  return PMR_ENOMEM;
}

/* The driver counts one record per call; a call maps a part's rows. */
static void pmr__h5src_tclose(pmr__src *s, void *ts) {
  pmr__h5src *h = s->impl;
  pmr__h5src_t *t = ts;
  if (!t)
    return;
  atomic_fetch_add(&h->extra, t->extra);
  pmr__free(t);
}

static int pmr__h5src_open(pmr__src *s, void *ts, const pmr__part *p,
                           pmr_emitter *em) {
  (void)s;
  pmr__h5src_t *t = ts;
  t->p = p;
  t->done = false;
  em->source = p->source;
  return PMR_OK;
}

/* A part is one record: its rows as a block. */
static int pmr__h5src_next(pmr__src *s, void *ts, pmr__rec *r,
                           pmr_emitter *em) {
  const pmr__h5src *h = s->impl;
  pmr__h5src_t *t = ts;
  if (t->done)
    return 0;
  t->done = true;
  const pmr__part *p = t->p;
  r->data = h->buf + (p->start - h->buf_first) * h->cols * PMR__H5_VALUE;
  r->len = 0;
  r->data2 = NULL;
  r->n = p->end - p->start;
  t->extra += r->n - 1;
  em->record = p->start;
  return 1;
}

static int pmr__h5src_call(pmr__src *s, const pmr__rec *r, pmr_emitter *em) {
  const pmr__h5src *h = s->impl;
  uint64_t end = em->record + r->n, held = h->buf_first + h->buf_rows;
  /* The buffer holds min(halo, rows left) rows past its block, so this is
   * also min(halo, rows left in the dataset after the part). */
  uint64_t halo = held - end < h->halo ? held - end : h->halo;
  pmr_rows rows = {r->data,    r->n,     halo,       h->cols,
                   em->record, h->total, em->source, h->type};
  return ((pmr_rows_fn)s->fn)(&rows, em, s->user);
}

static void pmr__h5src_where(const pmr__src *s, const pmr_emitter *em,
                             char *buf, size_t n) {
  const pmr__h5src *h = s->impl;
  snprintf(buf, n, "'%s' row %llu", h->names[em->source],
           (unsigned long long)em->record);
}

static const pmr__src_ops pmr__h5src_ops = {
    "hdf5",          pmr__h5src_topen, pmr__h5src_tclose,
    pmr__h5src_open, pmr__h5src_next,  NULL,
    pmr__h5src_call, pmr__h5src_where};

/* Rows per part: a chunk's worth, but at least a few parts per thread, so
 * that the dynamic schedule can balance a block. */
static uint64_t pmr__h5_part_rows(const pmr_ctx *ctx, uint64_t rows,
                                  uint64_t cols) {
  uint64_t per = pmr__chunk_size(ctx) / (cols * PMR__H5_VALUE);
  uint64_t few = 4 * (uint64_t)ctx->nthreads;
  uint64_t spread = (rows + few - 1) / few;
  if (spread < per)
    per = spread;
  return per < 1 ? 1 : per;
}

/* Parts that any block of up to `rows` rows may need (see part_rows). */
static size_t pmr__h5_max_parts(const pmr_ctx *ctx, uint64_t rows,
                                uint64_t cols) {
  uint64_t chunk = pmr__chunk_size(ctx) / (cols * PMR__H5_VALUE);
  if (chunk < 1)
    chunk = 1;
  return (size_t)((rows + chunk - 1) / chunk + 4 * (uint64_t)ctx->nthreads + 1);
}

/* Parts of rows [a, e) of dataset `ds`, into parts allocated for
 * pmr__h5_max_parts (so planning cannot fail). */
static void pmr__h5_plan(pmr__src *src, int ds, uint64_t a, uint64_t e,
                         uint64_t cols) {
  src->nparts = 0;
  src->units = e - a;
  if (a >= e)
    return;
  uint64_t per = pmr__h5_part_rows(src->ctx, e - a, cols);
  for (uint64_t p = a; p < e; p += per)
    src->parts[src->nparts++] =
        (pmr__part){ds, p, e - p > per ? p + per : e, 0};
}

/* ---- progress over rounds ----
 * The driver reports the rows of one run; a map of many rounds reports the
 * rank's rows over all of them instead, no more than twice a second. */
typedef struct pmr__h5prog {
  pmr_progress_fn fn;
  void *user;
  uint64_t before, total;
  double last;
} pmr__h5prog;

static void pmr__h5_progress(const char *phase, uint64_t done, uint64_t total,
                             void *user) {
  pmr__h5prog *p = user;
  uint64_t d = p->before + done;
  double now = pmr__now();
  if (now - p->last < 0.5 && d < p->total)
    return;
  (void)total;
  p->last = now;
  p->fn(phase, d, p->total, p->user);
}

/* Run the driver with the context's progress seen through `prog`. */
static int pmr__h5_run(pmr__src *src, pmr_kv *kv, pmr__h5prog *prog) {
  pmr_ctx *ctx = src->ctx;
  pmr__h5src *h = src->impl;
  pmr_progress_fn fn = ctx->progress_fn;
  void *user = ctx->progress_user;
  if (fn && prog) {
    ctx->progress_fn = pmr__h5_progress;
    ctx->progress_user = prog;
  }
  atomic_store(&h->extra, 0);
  int rc = pmr__map_run(src, kv);
  ctx->progress_fn = fn;
  ctx->progress_user = user;
  ctx->stats.records += atomic_load(&h->extra);
  if (prog)
    prog->before += src->units;
  return rc;
}

/* ---- HDF5 ---- */

/* HDF5 prints its error stack by default; the messages are ours to give. */
typedef struct pmr__h5quiet {
  H5E_auto2_t fn;
  void *data;
} pmr__h5quiet;

static void pmr__h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static void pmr__h5_quiet(pmr__h5quiet *q) {
  H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
  pmr__h5_silence();
}
static void pmr__h5_loud(const pmr__h5quiet *q) {
  H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

static htri_t pmr__h5_is_hdf5(const char *file) {
#if H5_VERSION_GE(1, 12, 0)
  return H5Fis_accessible(file, H5P_DEFAULT);
#else
  return H5Fis_hdf5(file);
#endif
}

/* Rank 0 looks at the file before HDF5 opens it everywhere: the system's
 * reason when it cannot be read, and whether it is HDF5 at all (a failed
 * collective open says neither). */
static int pmr__h5_probe(pmr_ctx *ctx, const char *file) {
  char eb[128];
  /* O_NONBLOCK: a FIFO must not block the open; it is refused below. */
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return pmr__seterr(ctx, pmr__errno_code(errno), "cannot open '%s': %s",
                       file, pmr__strerror(errno, eb, sizeof eb));
  struct stat st;
  int rc = PMR_OK;
  char b;
  if (fstat(fd, &st) != 0)
    rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot stat '%s': %s", file,
                     pmr__strerror(errno, eb, sizeof eb));
  else if (S_ISDIR(st.st_mode))
    rc = pmr__seterr(ctx, PMR_EISDIR, "cannot read '%s': Is a directory", file);
  else if (!S_ISREG(st.st_mode))
    rc = pmr__seterr(ctx, PMR_EINVAL, "cannot read '%s': not a regular file",
                     file);
  else if (st.st_size > 0 && pread(fd, &b, 1, 0) < 0)
    rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot read '%s': %s", file,
                     pmr__strerror(errno, eb, sizeof eb));
  close(fd);
  if (!rc && pmr__h5_is_hdf5(file) <= 0)
    rc = pmr__seterr(ctx, PMR_EINVAL, "'%s' is not an HDF5 file", file);
  return rc;
}

/* Does `path` lead to an object? H5Lexists needs every component but the
 * last to exist, so the path is walked; a component that is not a group
 * (H5Lexists fails) means no. */
static int pmr__h5_exists(hid_t f, const char *path, bool *yes) {
  char *p = pmr__strdup(path);
  if (!p)
    return PMR_ENOMEM;
  size_t n = strlen(p);
  *yes = true;
  for (size_t i = 1; i <= n && *yes; i++) {
    if ((i < n && p[i] != '/') || p[i - 1] == '/')
      continue;
    char c = p[i];
    p[i] = '\0';
    *yes = H5Lexists(f, p, H5P_DEFAULT) > 0;
    p[i] = c;
  }
  pmr__free(p);
  return PMR_OK;
}

static const char *pmr__h5_class_name(H5T_class_t c) {
  switch (c) {
  case H5T_TIME:
    return "time";
  case H5T_STRING:
    return "string";
  case H5T_BITFIELD:
    return "bitfield";
  case H5T_OPAQUE:
    return "opaque";
  case H5T_COMPOUND:
    return "compound";
  case H5T_REFERENCE:
    return "reference";
  case H5T_ENUM:
    return "enum";
  case H5T_VLEN:
    return "variable-length";
  case H5T_ARRAY:
    return "array";
  default:
    return "unknown";
  }
}

/* Every rank: is the object at ds->path a numeric 1-D/2-D non-empty
 * dataset? Leaves it open in ds->d and its shape in ds. The file is the same
 * everywhere, so the verdict is too; the caller agrees anyway. */
static int pmr__h5_check(pmr_ctx *ctx, pmr__h5ds *ds) {
  const char *file = ds->file, *path = ds->path;
  bool yes;
  if (pmr__h5_exists(ds->f, path, &yes))
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  hid_t o = yes ? H5Oopen(ds->f, path, H5P_DEFAULT) : -1;
  if (o < 0) /* absent, or a link to nothing */
    return pmr__seterr(ctx, PMR_ENOENT, "'%s': no dataset '%s'", file, path);
  H5I_type_t it = H5Iget_type(o);
  H5Oclose(o);
  if (it != H5I_DATASET)
    return pmr__seterr(ctx, PMR_EINVAL, "'%s:%s' is %s, not a dataset", file,
                       path,
                       it == H5I_GROUP      ? "a group"
                       : it == H5I_DATATYPE ? "a named datatype"
                                            : "an object");
  ds->d = H5Dopen2(ds->f, path, H5P_DEFAULT);
  if (ds->d < 0)
    return pmr__seterr(ctx, PMR_EHDF5, "cannot open '%s:%s' (HDF5)", file,
                       path);
  hid_t t = H5Dget_type(ds->d);
  H5T_class_t c = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
  ds->fsize = t < 0 ? 0 : H5Tget_size(t);
  if (t >= 0)
    H5Tclose(t);
  if (c != H5T_INTEGER && c != H5T_FLOAT)
    return pmr__seterr(ctx, PMR_EINVAL,
                       "'%s:%s' has %s values; need integers or floats", file,
                       path, pmr__h5_class_name(c));
  hid_t sp = H5Dget_space(ds->d);
  H5S_class_t sc = sp < 0 ? H5S_NO_CLASS : H5Sget_simple_extent_type(sp);
  int nd = sc == H5S_SIMPLE ? H5Sget_simple_extent_ndims(sp) : 0;
  hsize_t dims[2] = {0, 0};
  if (nd == 1 || nd == 2)
    H5Sget_simple_extent_dims(sp, dims, NULL);
  if (sp >= 0)
    H5Sclose(sp);
  if (sc == H5S_NO_CLASS)
    return pmr__seterr(ctx, PMR_EHDF5,
                       "cannot read the shape of '%s:%s' "
                       "(HDF5)",
                       file, path);
  if (sc == H5S_NULL)
    return pmr__seterr(ctx, PMR_EINVAL, "'%s:%s' is empty", file, path);
  if (sc == H5S_SCALAR)
    return pmr__seterr(ctx, PMR_EINVAL, "'%s:%s' is a scalar; need 1-D or 2-D",
                       file, path);
  if (nd != 1 && nd != 2)
    return pmr__seterr(ctx, PMR_EINVAL, "'%s:%s' is %d-D; need 1-D or 2-D",
                       file, path, nd);
  ds->rows = dims[0];
  ds->cols = nd == 2 ? dims[1] : 1;
  if (!ds->rows || !ds->cols)
    return pmr__seterr(ctx, PMR_EINVAL, "'%s:%s' is empty", file, path);
  size_t rb;
  if (ds->cols > SIZE_MAX || pmr__mul_ovf((size_t)ds->cols, PMR__H5_VALUE, &rb))
    return pmr__seterr(ctx, PMR_EOVERFLOW,
                       "'%s:%s': rows of %llu values "
                       "are too large",
                       file, path, (unsigned long long)ds->cols);
  return PMR_OK;
}

/* Collective; HDF5 closes are metadata calls too. */
static void pmr__h5_close(pmr__h5ds *ds) {
  if (ds->d >= 0)
    H5Dclose(ds->d);
  if (ds->f >= 0)
    H5Fclose(ds->f);
  ds->d = ds->f = -1;
}

/* Collective: open ds (spec already split) on every rank and check it.
 * Agreed; on failure nothing is left open and the message names the file
 * and the dataset. */
static int pmr__h5_open(pmr_ctx *ctx, pmr__h5ds *ds) {
  ds->f = ds->d = -1;
  int rc =
      pmr__agree(ctx, ctx->rank == 0 ? pmr__h5_probe(ctx, ds->file) : PMR_OK);
  if (rc)
    return rc;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  herr_t e = fapl < 0 ? -1 : H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL);
  /* One rank reads the metadata and broadcasts it: no metadata storm. */
  if (e >= 0)
    e = H5Pset_all_coll_metadata_ops(fapl, 1);
  if (e >= 0)
    ds->f = H5Fopen(ds->file, H5F_ACC_RDONLY, fapl);
  if (fapl >= 0)
    H5Pclose(fapl);
  rc = ds->f < 0
           ? pmr__seterr(ctx, PMR_EHDF5, "cannot open '%s' (HDF5)", ds->file)
           : PMR_OK;
  rc = pmr__agree(ctx, rc);
  if (!rc)
    rc = pmr__agree(ctx, pmr__h5_check(ctx, ds));
  if (rc)
    pmr__h5_close(ds);
  return rc;
}

/* One collective read of rows [start, start + count) of ds, all columns,
 * into buf as `mtype`; count 0 takes part with an empty selection. */
static herr_t pmr__h5_read(const pmr__h5ds *ds, hid_t mtype, hid_t dxpl,
                           uint64_t start, uint64_t count, void *buf) {
  static unsigned char dummy[PMR__H5_VALUE];
  hsize_t n = count ? count * ds->cols : 1;
  hid_t fs = H5Dget_space(ds->d);
  hid_t ms = H5Screate_simple(1, &n, NULL);
  herr_t e = fs < 0 || ms < 0 ? -1 : 0;
  if (e >= 0 && count) {
    hsize_t st[2] = {start, 0}, ct[2] = {count, ds->cols};
    e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
  } else if (e >= 0) {
    e = H5Sselect_none(fs);
    if (e >= 0)
      e = H5Sselect_none(ms);
    buf = dummy;
  }
  if (e >= 0)
    e = H5Dread(ds->d, mtype, ms, fs, dxpl, buf);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  return e;
}

/* Rows per read: the converted rows and their halo within a quarter of the
 * memory budget (the rest is for the sets), and within 1 GiB, far below the
 * 2 GiB of an MPI-IO count. A halo too large for that still leaves half of
 * what fits to the block, so halo rows are not read again for every row. */
static uint64_t pmr__h5_block_rows(const pmr_ctx *ctx, uint64_t cols,
                                   uint64_t halo) {
  size_t budget = ctx->memory / 4;
  if (budget > (size_t)1 << 30)
    budget = (size_t)1 << 30;
  uint64_t fit = budget / (cols * PMR__H5_VALUE);
  uint64_t rows = halo <= fit / 2 ? fit - halo : fit / 2;
  return rows < 1 ? 1 : rows;
}

static hid_t pmr__h5_mtype(pmr_dtype type) {
  return type == PMR_INT64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
}

/* Collective: split every spec as rank 0 splits it (the split may depend on
 * which files exist, and ranks must not disagree). Agreed. */
static int pmr__h5_split(pmr_ctx *ctx, pmr__h5ds *ds, int n) {
  long long *at = pmr__calloc((size_t)n, sizeof *at);
  int rc = at ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  for (int i = 0; !rc && ctx->rank == 0 && i < n; i++) {
    size_t k;
    int src = pmr__h5_spec_split(ds[i].spec, &k);
    at[i] = src ? -1 : (long long)k;
    if (src == PMR_ENOMEM)
      rc = pmr__seterr(ctx, src, "out of memory");
  }
  rc = pmr__agree(ctx, rc);
  if (rc) {
    pmr__free(at);
    return rc;
  }
  rc = pmr__agree_mpi(ctx, MPI_Bcast(at, n, MPI_LONG_LONG, 0, ctx->comm),
                      "MPI_Bcast of the dataset specs");
  for (int i = 0; !rc && i < n; i++) {
    const char *s = ds[i].spec;
    if (at[i] < 0 || (size_t)at[i] + 1 >= strlen(s) || s[at[i]] != ':' ||
        s[at[i] + 1] != '/')
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s' is not a dataset spec FILE:/path/to/dataset", s);
    else if (pmr__h5_spec_at(s, (size_t)at[i], &ds[i].file, &ds[i].path))
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  }
  pmr__free(at);
  return pmr__agree(ctx, rc);
}

static void pmr__h5_free(pmr__h5ds *ds, int n) {
  for (int i = 0; ds && i < n; i++) {
    pmr__free(ds[i].file);
    pmr__free(ds[i].path);
  }
  pmr__free(ds);
}

/* Collective: map every row of the open dataset `idx` in rounds. */
static int pmr__h5_map_one(pmr__src *src, pmr__h5ds *ds, int idx, pmr_kv *kv,
                           pmr__h5prog *prog, hid_t dxpl,
                           const pmr__h5quiet *q) {
  pmr_ctx *ctx = src->ctx;
  pmr__h5src *h = src->impl;
  uint64_t lo, hi, halo = h->halo;
  pmr__split_range(ds->rows, ctx->size, ctx->rank, &lo, &hi);
  uint64_t per = pmr__h5_block_rows(ctx, ds->cols, halo);
  uint64_t mine = (hi - lo + per - 1) / per, rounds = 0;
  int rc = pmr__agree_mpi(
      ctx, MPI_Allreduce(&mine, &rounds, 1, MPI_UINT64_T, MPI_MAX, ctx->comm),
      "MPI_Allreduce of the read rounds");
  if (rc)
    return rc;
  /* One buffer for every round: a block and its halo. */
  uint64_t most = hi - lo < per ? hi - lo : per, room = ds->rows - lo;
  uint64_t held = hi == lo ? 0 : halo < room - most ? most + halo : room;
  size_t bytes = 0;
  void *buf = NULL;
  int lrc = PMR_OK;
  if (held > SIZE_MAX ||
      pmr__mul_ovf((size_t)held, (size_t)ds->cols * PMR__H5_VALUE, &bytes))
    lrc = PMR_ENOMEM;
  else if (bytes && !(buf = pmr__malloc(bytes)))
    lrc = PMR_ENOMEM;
  pmr__free(src->parts);
  src->parts =
      pmr__calloc(pmr__h5_max_parts(ctx, most, ds->cols), sizeof *src->parts);
  if (!src->parts)
    lrc = PMR_ENOMEM;
  if (lrc)
    pmr__seterr(ctx, lrc, "out of memory for a block of %llu rows of '%s'",
                (unsigned long long)held, ds->spec);
  rc = pmr__agree(ctx, lrc);
  hid_t mtype = pmr__h5_mtype(h->type);
  for (uint64_t r = 0; !rc && r < rounds; r++) {
    uint64_t a = lo + r * per < hi ? lo + r * per : hi;
    uint64_t e = hi - a > per ? a + per : hi;
    uint64_t end = e > a ? (ds->rows - e > halo ? e + halo : ds->rows) : a;
    herr_t he = pmr__h5_read(ds, mtype, dxpl, a, end - a, buf);
    lrc = he < 0 ? pmr__seterr(ctx, PMR_EHDF5,
                               "cannot read rows %llu to %llu of '%s' (HDF5)",
                               (unsigned long long)a, (unsigned long long)end,
                               ds->spec)
                 : PMR_OK;
    rc = pmr__agree(ctx, lrc);
    if (rc)
      break;
    ctx->stats.input_bytes += (end - a) * ds->cols * ds->fsize;
    h->buf = buf;
    h->buf_first = a;
    h->buf_rows = end - a;
    h->cols = ds->cols;
    h->total = ds->rows;
    pmr__h5_plan(src, idx, a, e, ds->cols);
    /* User callbacks run now: HDF5 reports its errors as usual there. */
    pmr__h5_loud(q);
    rc = pmr__h5_run(src, kv, prog);
    pmr__h5_silence();
  }
  pmr__free(buf);
  return rc;
}

int pmr_map_h5(pmr_ctx *ctx, const char *const *specs, int nspecs,
               pmr_dtype type, uint64_t halo, pmr_rows_fn fn, void *user,
               pmr_kv *kv) {
  if (!ctx)
    return PMR_EINVAL;
  bool bad = !kv || kv->ctx != ctx || !fn || nspecs < 1 || !specs ||
             (type != PMR_INT64 && type != PMR_FLOAT64);
  for (int i = 0; !bad && i < nspecs; i++)
    bad = !specs[i];
  int rc = pmr__agree_arg(ctx, bad,
                          nspecs < 1 ? "no input datasets"
                                     : "pmr_map_h5: invalid argument (specs, "
                                       "a callback, a set of this context, "
                                       "PMR_INT64 or PMR_FLOAT64)");
  if (rc)
    return rc;
  pmr__h5ds *ds = pmr__calloc((size_t)nspecs, sizeof *ds);
  rc = pmr__agree(ctx,
                  ds ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  if (rc)
    return rc;
  for (int i = 0; i < nspecs; i++) {
    ds[i].spec = specs[i];
    ds[i].f = ds[i].d = -1;
  }
  pmr__h5quiet q;
  pmr__h5_quiet(&q);
  rc = pmr__h5_split(ctx, ds, nspecs);
  /* Every dataset is checked before any is mapped. */
  uint64_t total = 0;
  for (int i = 0; !rc && i < nspecs; i++) {
    rc = pmr__h5_open(ctx, &ds[i]);
    pmr__h5_close(&ds[i]);
    uint64_t lo, hi;
    pmr__split_range(ds[i].rows, ctx->size, ctx->rank, &lo, &hi);
    total += hi - lo;
  }
  pmr__h5src h = {.names = specs, .halo = halo, .type = type};
  pmr__src src = {&pmr__h5src_ops, ctx,        NULL, 0, 0,
                  "rows",          (void *)fn, user, &h};
  pmr__h5prog prog = {ctx->progress_fn, ctx->progress_user, 0, total, 0};
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (!rc)
    rc = pmr__agree(ctx,
                    dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0
                        ? pmr__seterr(ctx, PMR_EHDF5,
                                      "cannot set up collective reads "
                                      "(HDF5)")
                        : PMR_OK);
  for (int i = 0; !rc && i < nspecs; i++) {
    rc = pmr__h5_open(ctx, &ds[i]);
    if (!rc)
      rc = pmr__h5_map_one(&src, &ds[i], i, kv, &prog, dxpl, &q);
    pmr__h5_close(&ds[i]);
  }
  if (dxpl >= 0)
    H5Pclose(dxpl);
  pmr__h5_loud(&q);
  pmr__free(src.parts);
  pmr__h5_free(ds, nspecs);
  return rc;
}

int pmr_h5_shape(pmr_ctx *ctx, const char *spec, int *ndims,
                 uint64_t dims[2]) {
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree_arg(ctx, !spec || !ndims || !dims,
                          "pmr_h5_shape: invalid argument (a spec and room "
                          "for the shape)");
  if (rc)
    return rc;
  /* The same split and checks as a map, so the messages are a map's. */
  pmr__h5ds ds = {.spec = spec, .f = -1, .d = -1};
  pmr__h5quiet q;
  pmr__h5_quiet(&q);
  rc = pmr__h5_split(ctx, &ds, 1);
  if (!rc)
    rc = pmr__h5_open(ctx, &ds);
  if (!rc) {
    hid_t sp = H5Dget_space(ds.d);
    *ndims = sp < 0 ? 0 : H5Sget_simple_extent_ndims(sp);
    if (sp >= 0)
      H5Sclose(sp);
    dims[0] = ds.rows;
    dims[1] = *ndims == 2 ? ds.cols : 0;
  }
  pmr__h5_close(&ds);
  pmr__h5_loud(&q);
  pmr__free(ds.file);
  pmr__free(ds.path);
  return rc;
}

/* ---- blocks in memory ---- */

struct pmr_block {
  pmr_ctx *ctx;
  char *spec;
  void *data;     /* (nrows + held) x cols values */
  uint64_t nrows; /* this rank's share */
  uint64_t held;  /* rows past the share in data: min(halo, rows left) */
  uint64_t halo;  /* as asked */
  uint64_t cols, first, total;
  pmr_dtype type;
};

void pmr_block_free(pmr_block **b) {
  if (!b || !*b)
    return;
  pmr__free((*b)->data);
  pmr__free((*b)->spec);
  pmr__free(*b);
  *b = NULL;
}

/* Collective: read rows [lo, lo + n) of the open ds into b->data in reads
 * of at most a block each; every rank makes as many as the busiest. */
static int pmr__h5_load(pmr_ctx *ctx, pmr__h5ds *ds, pmr_block *b, uint64_t n) {
  uint64_t per = pmr__h5_block_rows(ctx, ds->cols, 0);
  uint64_t mine = (n + per - 1) / per, rounds = 0;
  int rc = pmr__agree_mpi(
      ctx, MPI_Allreduce(&mine, &rounds, 1, MPI_UINT64_T, MPI_MAX, ctx->comm),
      "MPI_Allreduce of the read rounds");
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (!rc)
    rc = pmr__agree(ctx,
                    dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0
                        ? pmr__seterr(ctx, PMR_EHDF5,
                                      "cannot set up collective reads "
                                      "(HDF5)")
                        : PMR_OK);
  hid_t mtype = pmr__h5_mtype(b->type);
  for (uint64_t r = 0; !rc && r < rounds; r++) {
    uint64_t a = r * per < n ? r * per : n;
    uint64_t e = n - a > per ? a + per : n;
    unsigned char *at = (unsigned char *)b->data + a * ds->cols * PMR__H5_VALUE;
    herr_t he = pmr__h5_read(ds, mtype, dxpl, b->first + a, e - a, at);
    rc = pmr__agree(
        ctx, he < 0 ? pmr__seterr(ctx, PMR_EHDF5,
                                  "cannot read rows %llu to %llu of '%s' "
                                  "(HDF5)",
                                  (unsigned long long)(b->first + a),
                                  (unsigned long long)(b->first + e), ds->spec)
                    : PMR_OK);
  }
  if (dxpl >= 0)
    H5Pclose(dxpl);
  if (!rc)
    ctx->stats.input_bytes += n * ds->cols * ds->fsize;
  return rc;
}

int pmr_block_load(pmr_ctx *ctx, const char *spec, pmr_dtype type,
                   uint64_t halo, pmr_block **out) {
  if (out)
    *out = NULL;
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree_arg(
      ctx, !spec || !out || (type != PMR_INT64 && type != PMR_FLOAT64),
      "pmr_block_load: invalid argument (a spec, an "
      "output pointer, PMR_INT64 or PMR_FLOAT64)");
  if (rc)
    return rc;
  pmr_block *b = pmr__calloc(1, sizeof *b);
  if (b)
    b->spec = pmr__strdup(spec);
  rc = pmr__agree(ctx, b && b->spec
                           ? PMR_OK
                           : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  pmr__h5ds ds = {.spec = spec, .f = -1, .d = -1};
  pmr__h5quiet q;
  pmr__h5_quiet(&q);
  if (!rc)
    rc = pmr__h5_split(ctx, &ds, 1);
  if (!rc)
    rc = pmr__h5_open(ctx, &ds);
  uint64_t lo = 0, hi = 0, n = 0;
  if (!rc) {
    pmr__split_range(ds.rows, ctx->size, ctx->rank, &lo, &hi);
    b->ctx = ctx;
    b->type = type;
    b->halo = halo;
    b->cols = ds.cols;
    b->first = lo;
    b->total = ds.rows;
    b->nrows = hi - lo;
    b->held = hi > lo ? (ds.rows - hi < halo ? ds.rows - hi : halo) : 0;
    n = b->nrows + b->held;
    size_t bytes = 0;
    int lrc = PMR_OK;
    if (n > SIZE_MAX ||
        pmr__mul_ovf((size_t)n, (size_t)ds.cols * PMR__H5_VALUE, &bytes))
      lrc = PMR_ENOMEM;
    else if (bytes && !(b->data = pmr__malloc(bytes)))
      lrc = PMR_ENOMEM;
    if (lrc)
      pmr__seterr(ctx, lrc, "out of memory for %llu rows of '%s'",
                  (unsigned long long)n, spec);
    rc = pmr__agree(ctx, lrc);
  }
  if (!rc)
    rc = pmr__h5_load(ctx, &ds, b, n);
  pmr__h5_close(&ds);
  pmr__h5_loud(&q);
  pmr__free(ds.file);
  pmr__free(ds.path);
  if (rc)
    pmr_block_free(&b);
  else
    *out = b;
  return rc;
}

void pmr_block_rows(const pmr_block *b, pmr_rows *out) {
  if (!out)
    return;
  if (!b) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = (pmr_rows){b->data,  b->nrows, b->held, b->cols,
                    b->first, b->total, 0,       b->type};
}

int pmr_map_block(pmr_block *b, pmr_rows_fn fn, void *user, pmr_kv *kv) {
  if (!b)
    return PMR_EINVAL;
  pmr_ctx *ctx = b->ctx;
  int rc = pmr__agree_arg(ctx, !fn || !kv || kv->ctx != ctx,
                          "pmr_map_block: invalid argument (a callback and a "
                          "set of the block's context)");
  if (rc)
    return rc;
  const char *const names[1] = {b->spec};
  pmr__h5src h = {.names = names,
                  .buf = b->data,
                  .buf_first = b->first,
                  .buf_rows = b->nrows + b->held,
                  .halo = b->halo,
                  .cols = b->cols,
                  .total = b->total,
                  .type = b->type};
  pmr__src src = {&pmr__h5src_ops, ctx,        NULL, 0, 0,
                  "rows",          (void *)fn, user, &h};
  src.parts =
      pmr__calloc(pmr__h5_max_parts(ctx, b->nrows, b->cols), sizeof *src.parts);
  rc = pmr__agree(
      ctx, src.parts ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  if (!rc) {
    pmr__h5_plan(&src, 0, b->first, b->first + b->nrows, b->cols);
    rc = pmr__h5_run(&src, kv, NULL);
  }
  pmr__free(src.parts);
  return rc;
}
