/* The HDF5 dataset source (pmr_map_h5, pmr_block_*) against goldens that
 * make_h5_inputs.py computed with numpy: every integer and float type, 1-D
 * and 2-D, contiguous, chunked and gzip storage, datasets smaller than the
 * rank count, several datasets in one call, a halo, a memory budget small
 * enough for many blocks, float to int64 conversion, blocks kept in memory,
 * bad specs (same code and message on every rank, no hang), colons in file
 * names, and two halves of the ranks reading different datasets at once.
 *
 * Usage: test_h5src DIR (the directory make_h5_inputs.py wrote). */
#define _GNU_SOURCE
#include "check.h"

#include <math.h>
#include <pmr.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

static int rank, size;
static const char *dir;

/* ---- goldens ---- */

typedef struct golden {
  char spec[128];
  char mode; /* 'i' int64, 'f' double */
  uint64_t rows, cols, count;
  int64_t isum, iwsum, imin, ilag1, ilag3;
  double fsum, fwsum, fmin, flag1, flag3;
} golden;

static golden gold[128];
static int ngold;

static void load_goldens(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/goldens.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  char line[1024];
  while (ngold < 128 && fgets(line, sizeof line, f)) {
    golden *g = &gold[ngold];
    char a[5][64];
    unsigned long long r, c, n;
    if (sscanf(line, "%127s %c %llu %llu %llu %63s %63s %63s %63s %63s",
               g->spec, &g->mode, &r, &c, &n, a[0], a[1], a[2], a[3],
               a[4]) != 10)
      continue;
    g->rows = r, g->cols = c, g->count = n;
    if (g->mode == 'i') {
      g->isum = strtoll(a[0], NULL, 10), g->iwsum = strtoll(a[1], NULL, 10);
      g->imin = strtoll(a[2], NULL, 10), g->ilag1 = strtoll(a[3], NULL, 10);
      g->ilag3 = strtoll(a[4], NULL, 10);
    } else {
      g->fsum = strtod(a[0], NULL), g->fwsum = strtod(a[1], NULL);
      g->fmin = strtod(a[2], NULL), g->flag1 = strtod(a[3], NULL);
      g->flag3 = strtod(a[4], NULL);
    }
    ngold++;
  }
  fclose(f);
}

static const golden *find_golden(const char *rel, char mode) {
  for (int i = 0; i < ngold; i++)
    if (gold[i].mode == mode && !strcmp(gold[i].spec, rel))
      return &gold[i];
  fprintf(stderr, "[rank %d] no golden for %s %c\n", rank, rel, mode);
  MPI_Abort(MPI_COMM_WORLD, 2);
  return NULL;
}

static char *full(const char *rel) {
  char *s = malloc(strlen(dir) + strlen(rel) + 2);
  sprintf(s, "%s/%s", dir, rel);
  return s;
}

/* The same string on every rank? */
static int same_everywhere(MPI_Comm comm, const char *s) {
  unsigned long h = 5381;
  for (const char *p = s; *p; p++)
    h = h * 33 + (unsigned char)*p;
  unsigned long lo, hi;
  MPI_Allreduce(&h, &lo, 1, MPI_UNSIGNED_LONG, MPI_MIN, comm);
  MPI_Allreduce(&h, &hi, 1, MPI_UNSIGNED_LONG, MPI_MAX, comm);
  return lo == hi;
}

/* ---- the statistics a map computes, one value per dataset ---- */

typedef struct acc {
  uint64_t count;
  uint64_t isum, iwsum, ilag1, ilag3; /* wrapping, like numpy's uint64 */
  int64_t imin;
  double fsum, fwsum, fmin, flag1, flag3;
} acc;

/* Values sit unaligned in the sets: copied in and out. */
static void acc_combine(void *acc_, const void *in_, void *user) {
  (void)user;
  acc a, b;
  memcpy(&a, acc_, sizeof a);
  memcpy(&b, in_, sizeof b);
  a.count += b.count;
  a.isum += b.isum, a.iwsum += b.iwsum;
  a.ilag1 += b.ilag1, a.ilag3 += b.ilag3;
  if (b.imin < a.imin)
    a.imin = b.imin;
  a.fsum += b.fsum, a.fwsum += b.fwsum;
  a.flag1 += b.flag1, a.flag3 += b.flag3;
  if (b.fmin < a.fmin)
    a.fmin = b.fmin;
  memcpy(acc_, &a, sizeof a);
}

typedef struct job {
  pmr_dtype type;
  uint64_t halo;    /* as asked */
  const golden **g; /* per dataset: shape */
  int ndatasets;
  atomic_int bad;   /* callback-side checks that failed */
  int fail_dataset; /* fail at this dataset's row fail_row (-1: no) */
  uint64_t fail_row;
  atomic_uint_fast64_t most; /* largest call: (rows + halo) x cols x 8 */
} job;

static int stats_fn(const pmr_rows *r, pmr_emitter *em, void *user) {
  job *j = user;
  int d = r->dataset;
  if (d < 0 || d >= j->ndatasets || r->type != j->type || r->nrows == 0 ||
      r->ncols != j->g[d]->cols || r->total != j->g[d]->rows ||
      r->first + r->nrows > r->total || pmr_emitter_source(em) != d ||
      pmr_emitter_record(em) != r->first) {
    atomic_fetch_add(&j->bad, 1);
    return 0;
  }
  uint64_t left = r->total - r->first - r->nrows;
  if (r->halo != (left < j->halo ? left : j->halo))
    atomic_fetch_add(&j->bad, 1);
  uint64_t bytes = (r->nrows + r->halo) * r->ncols * 8;
  uint64_t most = atomic_load(&j->most);
  while (bytes > most && !atomic_compare_exchange_weak(&j->most, &most, bytes))
    ;
  if (d == j->fail_dataset && r->first <= j->fail_row &&
      j->fail_row < r->first + r->nrows)
    return pmr_emitter_fail(em, "boom at %llu",
                            (unsigned long long)j->fail_row);
  acc a = {0};
  a.imin = INT64_MAX;
  a.fmin = INFINITY;
  a.count = r->nrows;
  uint64_t c = r->ncols, avail = r->nrows + r->halo;
  for (uint64_t i = 0; i < r->nrows; i++) {
    uint64_t gi = r->first + i;
    for (uint64_t k = 0; k < c; k++) {
      uint64_t w = (gi % 100 + 1) * (k + 1);
      if (r->type == PMR_INT64) {
        int64_t v = ((const int64_t *)r->data)[i * c + k];
        a.isum += (uint64_t)v;
        a.iwsum += (uint64_t)v * w;
        if (v < a.imin)
          a.imin = v;
      } else {
        double v = ((const double *)r->data)[i * c + k];
        a.fsum += v;
        a.fwsum += v * (double)w;
        if (v < a.fmin)
          a.fmin = v;
      }
    }
    if (j->halo < 3)
      continue;
    for (uint64_t lag = 1; lag <= 3; lag += 2) {
      if (gi + lag >= r->total)
        continue;
      if (i + lag >= avail) { /* the halo should have held it */
        atomic_fetch_add(&j->bad, 1);
        continue;
      }
      if (r->type == PMR_INT64) {
        const int64_t *x = r->data;
        uint64_t p = (uint64_t)x[i * c] * (uint64_t)x[(i + lag) * c];
        *(lag == 1 ? &a.ilag1 : &a.ilag3) += p;
      } else {
        const double *x = r->data;
        *(lag == 1 ? &a.flag1 : &a.flag3) += x[i * c] * x[(i + lag) * c];
      }
    }
  }
  char key[16];
  int n = snprintf(key, sizeof key, "d%03d", d);
  return pmr_emit(em, key, (size_t)n, &a);
}

static int close_to(double got, double want) {
  return fabs(got - want) <= 1e-9 * fabs(want);
}

/* Compare gathered accumulators (keys "dNNN" in order) with the goldens on
 * the root of ctx. */
static void compare(pmr_ctx *ctx, const pmr_kv_list *l, const golden **g, int n,
                    pmr_dtype type, int lags, const char *what) {
  if (pmr_ctx_rank(ctx) != 0)
    return;
  CHECK_EQ_I(l->n, n);
  for (uint64_t i = 0; i < l->n && i < (uint64_t)n; i++) {
    acc a;
    memcpy(&a, l->values + i * sizeof a, sizeof a);
    const golden *w = g[i];
    int ok = a.count == w->count;
    if (type == PMR_INT64)
      ok = ok && (int64_t)a.isum == w->isum && (int64_t)a.iwsum == w->iwsum &&
           a.imin == w->imin &&
           (!lags ||
            ((int64_t)a.ilag1 == w->ilag1 && (int64_t)a.ilag3 == w->ilag3));
    else
      ok = ok && close_to(a.fsum, w->fsum) && close_to(a.fwsum, w->fwsum) &&
           a.fmin == w->fmin &&
           (!lags ||
            (close_to(a.flag1, w->flag1) && close_to(a.flag3, w->flag3)));
    if (!ok) {
      fprintf(stderr,
              "[rank %d] %s: %s %c: got count %llu sum %lld/%.17g wsum "
              "%lld/%.17g min %lld/%.17g lag1 %lld/%.17g lag3 %lld/%.17g\n",
              rank, what, w->spec, w->mode, (unsigned long long)a.count,
              (long long)a.isum, a.fsum, (long long)a.iwsum, a.fwsum,
              (long long)a.imin, a.fmin, (long long)a.ilag1, a.flag1,
              (long long)a.ilag3, a.flag3);
      check__failures++;
    }
  }
}

/* Map `rels` (goldens' specs, relative to dir) in one call and compare. */
static uint64_t run_case(pmr_ctx *ctx, const char *const *rels, int n,
                         pmr_dtype type, uint64_t halo, const char *what) {
  const golden **g = malloc(sizeof *g * (size_t)n);
  char **specs = malloc(sizeof *specs * (size_t)n);
  for (int i = 0; i < n; i++) {
    g[i] = find_golden(rels[i], type == PMR_INT64 ? 'i' : 'f');
    specs[i] = full(rels[i]);
  }
  job j = {type, halo, g, n, 0, -1, 0, 0};
  pmr_kv *kv = NULL;
  pmr_kv_list *l = NULL;
  CHECK_OK(ctx, pmr_kv_create_user(ctx, sizeof(acc), PMR_BYTES, acc_combine,
                                   NULL, &kv));
  pmr_stats s0, s1;
  CHECK_OK(ctx, pmr_ctx_stats_global(ctx, &s0));
  CHECK_OK(ctx, pmr_map_h5(ctx, (const char *const *)specs, n, type, halo,
                           stats_fn, &j, kv));
  CHECK_OK(ctx, pmr_ctx_stats_global(ctx, &s1));
  uint64_t rows = 0;
  for (int i = 0; i < n; i++)
    rows += g[i]->rows;
  CHECK_EQ_I(s1.records - s0.records, rows);
  CHECK(s1.input_bytes > s0.input_bytes);
  CHECK_EQ_I(atomic_load(&j.bad), 0);
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_gather(kv, 0, &l));
  if (l)
    compare(ctx, l, g, n, type, halo >= 3, what);
  pmr_kv_list_free(&l);
  pmr_kv_destroy(&kv);
  for (int i = 0; i < n; i++)
    free(specs[i]);
  free(specs);
  free(g);
  return atomic_load(&j.most);
}

/* ---- per-row sums, gathered in row order ---- */

static int rowsum_fn(const pmr_rows *r, pmr_emitter *em, void *user) {
  (void)user;
  const double *x = r->data;
  for (uint64_t i = 0; i < r->nrows; i++) {
    double s = 0;
    for (uint64_t k = 0; k < r->ncols; k++)
      s += x[i * r->ncols + k];
    unsigned char key[8];
    uint64_t gi = r->first + i;
    for (int b = 0; b < 8; b++) /* big-endian: byte order is row order */
      key[b] = (unsigned char)(gi >> (56 - 8 * b));
    int rc = pmr_emit_f64(em, key, 8, s);
    if (rc)
      return rc;
  }
  return 0;
}

static double *load_rowsums(uint64_t *n) {
  char path[512];
  snprintf(path, sizeof path, "%s/rowsums.bin", dir);
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f || stat(path, &st) != 0)
    MPI_Abort(MPI_COMM_WORLD, 2);
  *n = (uint64_t)st.st_size / 8;
  double *v = malloc((size_t)st.st_size);
  if (fread(v, 8, *n, f) != *n)
    MPI_Abort(MPI_COMM_WORLD, 2);
  fclose(f);
  return v;
}

static void check_rowsums(pmr_ctx *ctx, pmr_kv *kv, const char *what) {
  pmr_kv_list *l = NULL;
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_gather(kv, 0, &l));
  if (pmr_ctx_rank(ctx) == 0 && l) {
    uint64_t n;
    double *want = load_rowsums(&n);
    CHECK_EQ_I(l->n, n);
    uint64_t wrong = 0;
    for (uint64_t i = 0; i < l->n && i < n; i++) {
      uint64_t gi = 0;
      for (int b = 0; b < 8; b++)
        gi = gi << 8 | l->keys[l->key_offsets[i] + (uint64_t)b];
      double v;
      memcpy(&v, l->values + i * 8, 8);
      if (gi != i || v != want[i])
        wrong++;
    }
    if (wrong)
      fprintf(stderr, "[rank %d] %s: %llu rows wrong\n", rank, what,
              (unsigned long long)wrong);
    CHECK_EQ_I(wrong, 0);
    free(want);
  }
  pmr_kv_list_free(&l);
}

/* ---- the cases ---- */

static const char *const types_rels[] = {
    "types.h5:/contig/i8",   "types.h5:/contig/u16",  "types.h5:/contig/i32",
    "types.h5:/contig/i64",  "types.h5:/contig/f32",  "types.h5:/contig/f64",
    "types.h5:/chunked/i8",  "types.h5:/chunked/u16", "types.h5:/chunked/i32",
    "types.h5:/chunked/i64", "types.h5:/chunked/f32", "types.h5:/chunked/f64",
    "types.h5:/gzip/i8",     "types.h5:/gzip/u16",    "types.h5:/gzip/i32",
    "types.h5:/gzip/i64",    "types.h5:/gzip/f32",    "types.h5:/gzip/f64",
    "small.h5:/one",         "small.h5:/one2d",       "small.h5:/three",
    "small.h5:/three_gz",    "small.h5:/conv"};
#define NTYPES ((int)(sizeof types_rels / sizeof *types_rels))

static void test_types(pmr_ctx *ctx) {
  /* Every dataset in one call, both conversions, with and without halo. */
  run_case(ctx, types_rels, NTYPES, PMR_FLOAT64, 3, "types f64 halo 3");
  run_case(ctx, types_rels, NTYPES, PMR_INT64, 3, "types i64 halo 3");
  run_case(ctx, types_rels, NTYPES, PMR_INT64, 0, "types i64 halo 0");
  /* One at a time too: a single small dataset, fewer rows than ranks. */
  run_case(ctx, (const char *[]){"small.h5:/three"}, 1, PMR_INT64, 10,
           "three rows, halo 10");
  run_case(ctx, (const char *[]){"small.h5:/one"}, 1, PMR_FLOAT64, 3,
           "one row");
  run_case(ctx, (const char *[]){"small.h5:/conv"}, 1, PMR_INT64, 0,
           "float to int64");
}

/* Progress as rank 0 sees it: never backwards, ending at its rows. */
typedef struct progress {
  uint64_t done, total, calls;
  int backwards;
} progress;

static void progress_fn(const char *phase, uint64_t done, uint64_t total,
                        void *user) {
  progress *p = user;
  if (strcmp(phase, "map") || done < p->done || done > total ||
      (p->calls && total != p->total))
    p->backwards++;
  p->done = done, p->total = total;
  p->calls++;
}

static void test_big(pmr_ctx *ctx) {
  /* 1 MiB budget: blocks of 256 KiB, a few MB per dataset, so many rounds
   * per rank; no call sees more than a block. */
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  progress p = {0};
  pmr_ctx_set_progress(ctx, progress_fn, &p);
  uint64_t most = run_case(ctx, (const char *[]){"big.h5:/i32", "big.h5:/f64"},
                           2, PMR_INT64, 3, "big, small budget");
  pmr_ctx_set_progress(ctx, NULL, NULL);
  CHECK(most > 0 && most <= ((uint64_t)1 << 20) / 4);
  if (rank == 0) {
    const golden *a = find_golden("big.h5:/i32", 'i'),
                 *b = find_golden("big.h5:/f64", 'i');
    uint64_t mine = (a->rows + (uint64_t)size - 1) / (uint64_t)size +
                    (b->rows + (uint64_t)size - 1) / (uint64_t)size;
    CHECK_EQ_I(p.backwards, 0);
    CHECK(p.calls >= 2);
    CHECK_EQ_I(p.done, mine);
    CHECK_EQ_I(p.total, mine);
  }
  run_case(ctx, (const char *[]){"big.h5:/f64"}, 1, PMR_FLOAT64, 3,
           "big f64, small budget");
  /* A halo larger than the rows a block may hold. */
  run_case(ctx, (const char *[]){"big.h5:/i32"}, 1, PMR_INT64, 50000,
           "big halo");
  char *spec = full("big.h5:/f64");
  pmr_kv *kv;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_F64, &kv));
  CHECK_OK(ctx, pmr_map_h5(ctx, (const char *const *)&spec, 1, PMR_FLOAT64, 0,
                           rowsum_fn, NULL, kv));
  check_rowsums(ctx, kv, "row sums, small budget");
  pmr_kv_destroy(&kv);
  free(spec);
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)256 << 20));
}

static void test_block(pmr_ctx *ctx) {
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20)); /* read in pieces */
  char *spec = full("big.h5:/f64");
  const golden *g = find_golden("big.h5:/f64", 'f');
  pmr_block *b = NULL;
  CHECK_OK(ctx, pmr_block_load(ctx, spec, PMR_FLOAT64, 3, &b));
  CHECK(b != NULL);
  if (b) {
    pmr_rows r;
    pmr_block_rows(b, &r);
    CHECK_EQ_I(r.total, g->rows);
    CHECK_EQ_I(r.ncols, g->cols);
    CHECK_EQ_I(r.dataset, 0);
    CHECK(r.type == PMR_FLOAT64);
    uint64_t left = r.total - r.first - r.nrows;
    CHECK_EQ_I(r.halo, left < 3 ? left : 3);
    uint64_t all = 0, mine = r.nrows;
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    CHECK_EQ_I(all, g->rows);
    /* The first value is the dataset's: compare with the golden row sums. */
    uint64_t n;
    double *want = load_rowsums(&n);
    if (r.nrows) {
      const double *x = r.data;
      double s = 0;
      for (uint64_t k = 0; k < r.ncols; k++)
        s += x[k];
      CHECK(s == want[r.first]);
    }
    free(want);
    /* Mapped twice: the same result each time. */
    acc first = {0};
    for (int round = 0; round < 2; round++) {
      job j = {PMR_FLOAT64, 3, &g, 1, 0, -1, 0, 0};
      pmr_kv *kv;
      pmr_kv_list *l = NULL;
      pmr_stats s0, s1;
      pmr_ctx_stats(ctx, &s0);
      CHECK_OK(ctx, pmr_kv_create_user(ctx, sizeof(acc), PMR_BYTES, acc_combine,
                                       NULL, &kv));
      CHECK_OK(ctx, pmr_map_block(b, stats_fn, &j, kv));
      pmr_ctx_stats(ctx, &s1);
      CHECK_EQ_I(s1.records - s0.records, r.nrows);
      CHECK_EQ_I(atomic_load(&j.bad), 0);
      CHECK_OK(ctx, pmr_kv_reduce(kv));
      CHECK_OK(ctx, pmr_kv_gather(kv, 0, &l));
      if (l) {
        compare(ctx, l, &g, 1, PMR_FLOAT64, 1, "block");
        if (rank == 0 && l->n == 1) {
          if (round == 0)
            memcpy(&first, l->values, sizeof first);
          else
            CHECK(memcmp(&first, l->values, sizeof first) == 0);
        }
      }
      pmr_kv_list_free(&l);
      pmr_kv_destroy(&kv);
    }
    pmr_kv *kv;
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_F64, &kv));
    CHECK_OK(ctx, pmr_map_block(b, rowsum_fn, NULL, kv));
    check_rowsums(ctx, kv, "block row sums");
    pmr_kv_destroy(&kv);
  }
  pmr_block_free(&b);
  CHECK(b == NULL);
  pmr_block_free(&b);
  pmr_block_free(NULL);

  /* Fewer rows than ranks: empty blocks take part. */
  char *three = full("small.h5:/three");
  const golden *g3 = find_golden("small.h5:/three", 'i');
  CHECK_OK(ctx, pmr_block_load(ctx, three, PMR_INT64, 5, &b));
  if (b) {
    job j = {PMR_INT64, 5, &g3, 1, 0, -1, 0, 0};
    pmr_kv *kv;
    pmr_kv_list *l = NULL;
    CHECK_OK(ctx, pmr_kv_create_user(ctx, sizeof(acc), PMR_BYTES, acc_combine,
                                     NULL, &kv));
    CHECK_OK(ctx, pmr_map_block(b, stats_fn, &j, kv));
    CHECK_EQ_I(atomic_load(&j.bad), 0);
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    CHECK_OK(ctx, pmr_kv_gather(kv, 0, &l));
    if (l)
      compare(ctx, l, &g3, 1, PMR_INT64, 1, "block of three rows");
    pmr_kv_list_free(&l);
    pmr_kv_destroy(&kv);
  }
  pmr_block_free(&b);
  /* A bad spec: the error of pmr_map_h5, and no block. */
  char *missing = full("small.h5:/nope");
  b = (pmr_block *)1;
  CHECK_EQ_I(pmr_block_load(ctx, missing, PMR_FLOAT64, 0, &b), PMR_ENOENT);
  CHECK(b == NULL);
  CHECK(strstr(pmr_errmsg(ctx), "small.h5") &&
        strstr(pmr_errmsg(ctx), "/nope"));
  CHECK(same_everywhere(MPI_COMM_WORLD, pmr_errmsg(ctx)));
  free(missing);
  free(three);
  free(spec);
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)256 << 20));
}

static int noop_fn(const pmr_rows *r, pmr_emitter *em, void *user) {
  (void)r, (void)em, (void)user;
  return 0;
}

/* One bad spec (relative to dir unless it has no ':'), alone and between
 * two good ones: the code, a message naming what, the same everywhere. */
static void expect_error(pmr_ctx *ctx, const char *rel, int code,
                         const char *name1, const char *name2) {
  char *spec = strchr(rel, ':') || strchr(rel, '/') ? full(rel) : strdup(rel);
  char *good = full("small.h5:/three");
  pmr_kv *kv;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  for (int form = 0; form < 2; form++) {
    const char *l1[] = {spec}, *l3[] = {good, spec, good};
    int rc = form == 0
                 ? pmr_map_h5(ctx, l1, 1, PMR_FLOAT64, 0, noop_fn, NULL, kv)
                 : pmr_map_h5(ctx, l3, 3, PMR_INT64, 2, noop_fn, NULL, kv);
    const char *m = pmr_errmsg(ctx);
    if (rc != code || !strstr(m, name1) || (name2 && !strstr(m, name2))) {
      fprintf(stderr,
              "[rank %d] '%s': got %s \"%s\", want %s naming '%s'%s%s\n", rank,
              rel, pmr_err_name(rc), m, pmr_err_name(code), name1,
              name2 ? " and " : "", name2 ? name2 : "");
      check__failures++;
    }
    CHECK(strchr(m, '\n') == NULL);
    CHECK(same_everywhere(MPI_COMM_WORLD, m));
  }
  /* pmr_h5_shape checks as a map does, with the same message. */
  int nd = -1;
  uint64_t dims[2] = {7, 7};
  int rc = pmr_h5_shape(ctx, spec, &nd, dims);
  const char *m = pmr_errmsg(ctx);
  if (rc != code || !strstr(m, name1) || (name2 && !strstr(m, name2))) {
    fprintf(stderr, "[rank %d] pmr_h5_shape '%s': got %s \"%s\", want %s\n",
            rank, rel, pmr_err_name(rc), m, pmr_err_name(code));
    check__failures++;
  }
  CHECK(same_everywhere(MPI_COMM_WORLD, m));
  pmr_kv_destroy(&kv);
  free(spec);
  free(good);
}

/* pmr_h5_shape on good datasets: 1-D, 2-D, one row, fewer rows than ranks. */
static void test_shape(pmr_ctx *ctx) {
  static const struct {
    const char *rel;
    int nd;
    uint64_t rows, cols;
  } cases[] = {{"small.h5:/three", 1, 3, 0},
               {"small.h5:/one2d", 2, 1, 5},
               {"types.h5:/gzip/i32", 2, 777, 3},
               {"types.h5:/chunked/f32", 1, 999, 0},
               {"big.h5:/i32", 1, 600000, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *spec = full(cases[i].rel);
    int nd = -1;
    uint64_t dims[2] = {7, 7};
    CHECK_OK(ctx, pmr_h5_shape(ctx, spec, &nd, dims));
    CHECK_EQ_I(nd, cases[i].nd);
    CHECK(dims[0] == cases[i].rows && dims[1] == cases[i].cols);
    free(spec);
  }
  int nd;
  uint64_t dims[2];
  CHECK_EQ_I(pmr_h5_shape(ctx, NULL, &nd, dims), PMR_EINVAL);
}

static void test_errors(pmr_ctx *ctx) {
  expect_error(ctx, "nosuch.h5:/x", PMR_ENOENT, "nosuch.h5",
               "No such file or directory");
  expect_error(ctx, "notanh5.h5:/x", PMR_EINVAL, "notanh5.h5",
               "not an HDF5 file");
  expect_error(ctx, "dir.h5:/x", PMR_EISDIR, "dir.h5", NULL);
  expect_error(ctx, "bad.h5:/nope", PMR_ENOENT, "bad.h5': no dataset '/nope'",
               NULL);
  expect_error(ctx, "bad.h5:/nogroup/x", PMR_ENOENT, "bad.h5", "/nogroup/x");
  expect_error(ctx, "bad.h5:/str/x", PMR_ENOENT, "bad.h5", "/str/x");
  expect_error(ctx, "bad.h5:/dangling", PMR_ENOENT, "bad.h5", "/dangling");
  expect_error(ctx, "bad.h5:/grp", PMR_EINVAL, "bad.h5:/grp", "group");
  expect_error(ctx, "bad.h5:/", PMR_EINVAL, "bad.h5:/'", "group");
  expect_error(ctx, "bad.h5:/str", PMR_EINVAL, "bad.h5:/str", "string");
  expect_error(ctx, "bad.h5:/cmp", PMR_EINVAL, "bad.h5:/cmp", "compound");
  expect_error(ctx, "bad.h5:/enm", PMR_EINVAL, "bad.h5:/enm", "enum");
  expect_error(ctx, "bad.h5:/d3", PMR_EINVAL, "bad.h5:/d3",
               "is 3-D; need 1-D or 2-D");
  expect_error(ctx, "bad.h5:/scalar", PMR_EINVAL, "bad.h5:/scalar", "scalar");
  expect_error(ctx, "bad.h5:/empty", PMR_EINVAL, "bad.h5:/empty", "empty");
  expect_error(ctx, "bad.h5:/empty2", PMR_EINVAL, "bad.h5:/empty2", "empty");
  expect_error(ctx, "bad.h5", PMR_EINVAL, "bad.h5", NULL); /* no ":/" */
  expect_error(ctx, "bad.h5:grp", PMR_EINVAL, "bad.h5:grp", NULL);
  expect_error(ctx, "nocolon", PMR_EINVAL, "nocolon", NULL);

  /* Unreadable: root reads anything, so only as another user. */
  if (geteuid() != 0) {
    char *p = full("noperm.h5");
    if (rank == 0) {
      FILE *f = fopen(p, "w");
      fputs("x", f);
      fclose(f);
      chmod(p, 0);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    expect_error(ctx, "noperm.h5:/x", PMR_EACCES, "noperm.h5",
                 "Permission denied");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
      unlink(p);
    free(p);
  }

  /* Bad arguments. */
  char *good = full("small.h5:/three");
  const char *l1[] = {good};
  pmr_kv *kv;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_EQ_I(pmr_map_h5(ctx, l1, 1, PMR_BYTES, 0, noop_fn, NULL, kv),
             PMR_EINVAL);
  CHECK_EQ_I(pmr_map_h5(ctx, l1, 0, PMR_INT64, 0, noop_fn, NULL, kv),
             PMR_EINVAL);
  CHECK_EQ_I(pmr_map_h5(ctx, l1, 1, PMR_INT64, 0, NULL, NULL, kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_map_h5(ctx, l1, 1, PMR_INT64, 0, noop_fn, NULL, NULL),
             PMR_EINVAL);
  pmr_block *b = NULL;
  CHECK_EQ_I(pmr_block_load(ctx, good, PMR_BYTES, 0, &b), PMR_EINVAL);
  CHECK_EQ_I(pmr_map_block(NULL, noop_fn, NULL, kv), PMR_EINVAL);
  pmr_kv_destroy(&kv);

  /* A callback that fails on the one row of one rank: everyone returns
   * PMR_ECALLBACK with the place. */
  const char *rel = "types.h5:/gzip/i8";
  const golden *g = find_golden(rel, 'i');
  char *spec = full(rel);
  const char *l2[] = {good, spec};
  const golden *gs[] = {find_golden("small.h5:/three", 'i'), g};
  job j = {PMR_INT64, 0, gs, 2, 0, 1, 1000, 0};
  CHECK_OK(ctx, pmr_kv_create_user(ctx, sizeof(acc), PMR_BYTES, acc_combine,
                                   NULL, &kv));
  int rc = pmr_map_h5(ctx, l2, 2, PMR_INT64, 0, stats_fn, &j, kv);
  CHECK_EQ_I(rc, PMR_ECALLBACK);
  CHECK(strstr(pmr_errmsg(ctx), "types.h5:/gzip/i8' row ") != NULL);
  CHECK(strstr(pmr_errmsg(ctx), ": boom at 1000") != NULL);
  CHECK(same_everywhere(MPI_COMM_WORLD, pmr_errmsg(ctx)));
  pmr_kv_destroy(&kv);
  free(spec);
  free(good);

  /* The context still works after all that. */
  run_case(ctx, (const char *[]){"small.h5:/three"}, 1, PMR_INT64, 3,
           "after errors");
  CHECK(strcmp(pmr_errmsg(ctx), "") == 0);
}

static void test_spec(pmr_ctx *ctx) {
  char *f = NULL, *d = NULL;
  CHECK_EQ_I(pmr_h5_spec("x.h5:/a/b", &f, &d), PMR_OK);
  CHECK(f && d && !strcmp(f, "x.h5") && !strcmp(d, "/a/b"));
  free(f), free(d);
  CHECK_EQ_I(pmr_h5_spec("run:1.h5:/d", &f, &d), PMR_OK);
  CHECK(f && d && !strcmp(f, "run:1.h5") && !strcmp(d, "/d"));
  free(f), free(d);
  /* Several ":/": without files the longest prefix; with them, the longest
   * that exists. */
  CHECK_EQ_I(pmr_h5_spec("/no/such:/dir:/x", &f, &d), PMR_OK);
  CHECK(f && d && !strcmp(f, "/no/such:/dir") && !strcmp(d, "/x"));
  free(f), free(d);
  char *s = full("d:/c.h5:/x"), *want = full("d:/c.h5");
  CHECK_EQ_I(pmr_h5_spec(s, &f, &d), PMR_OK);
  CHECK(f && d && !strcmp(f, want) && !strcmp(d, "/x"));
  free(f), free(d), free(want);
  want = full("d");
  char *s2 = full("d:/c.h5");
  CHECK_EQ_I(pmr_h5_spec(s2, &f, &d), PMR_OK); /* "d" exists, "d:" no file */
  CHECK(f && d && !strcmp(f, want) && !strcmp(d, "/c.h5"));
  free(f), free(d), free(want), free(s2);
  CHECK_EQ_I(pmr_h5_spec("x.h5", &f, &d), PMR_EINVAL);
  CHECK(f == NULL && d == NULL);
  CHECK_EQ_I(pmr_h5_spec("x.h5:a", &f, &d), PMR_EINVAL);
  CHECK_EQ_I(pmr_h5_spec(":/a", &f, &d), PMR_EINVAL);
  CHECK_EQ_I(pmr_h5_spec(NULL, &f, &d), PMR_EINVAL);
  free(s);

  /* Colons in file names, through the reader. */
  run_case(ctx, (const char *[]){"a:b.h5:/x", "d:/c.h5:/x"}, 2, PMR_INT64, 3,
           "colons");
}

/* Two halves of the ranks, each its own context, read different datasets
 * at the same time. */
static void test_halves(void) {
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
  pmr_ctx *ctx = NULL;
  CHECK_OK(NULL, pmr_ctx_create(half, &ctx));
  if (ctx) {
    if (rank % 2 == 0)
      run_case(ctx, (const char *[]){"types.h5:/gzip/f64", "big.h5:/i32"}, 2,
               PMR_FLOAT64, 3, "even half");
    else
      run_case(ctx, (const char *[]){"types.h5:/chunked/i32"}, 1, PMR_INT64, 3,
               "odd half");
  }
  pmr_ctx_destroy(&ctx);
  MPI_Comm_free(&half);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 2) {
    if (rank == 0)
      fprintf(stderr, "usage: test_h5src DIR\n");
    MPI_Finalize();
    return 2;
  }
  dir = argv[1];
  load_goldens();
  pmr_ctx *ctx = NULL;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  if (ctx) {
    test_spec(ctx);
    test_types(ctx);
    test_big(ctx);
    test_block(ctx);
    test_errors(ctx);
    test_shape(ctx);
  }
  pmr_ctx_destroy(&ctx);
  test_halves();
  int rc = check_finish("test_h5src");
  MPI_Finalize();
  return rc;
}
