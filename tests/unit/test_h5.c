/* HDF5 output: the ragged layout read back serially on rank 0 (plain HDF5
 * calls, no pmr), for int64, float64 and 16-byte values, and for an empty
 * result; several groups in one file (PMR_WRITE_ADD). Expected content is a
 * closed form of the index. */
#define _GNU_SOURCE
#include "check.h"

#include <hdf5.h>
#include <pmr.h>
#include <dirent.h>
#include <unistd.h>

#define N 5000

static int map_i64(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  int n = snprintf(k, sizeof k, "k%llu", (unsigned long long)i);
  return pmr_emit_i64(em, k, (size_t)n, (int64_t)i * 3);
}
static int map_f64(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  int n = snprintf(k, sizeof k, "k%llu", (unsigned long long)i);
  return pmr_emit_f64(em, k, (size_t)n, (double)i * 0.25);
}
static void keep_first(void *acc, const void *in, void *user) {
  (void)acc, (void)in, (void)user;
}
static int map_bytes(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[32];
  unsigned char v[16];
  int n = snprintf(k, sizeof k, "k%llu", (unsigned long long)i);
  for (int j = 0; j < 16; j++)
    v[j] = (unsigned char)(i + (uint64_t)j);
  return pmr_emit(em, k, (size_t)n, v);
}

static void *read_all(hid_t g, const char *name, hid_t mtype, size_t esize,
                      hsize_t *dims, int *ndims) {
  hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  *ndims = H5Sget_simple_extent_dims(s, dims, NULL);
  size_t n = 1;
  for (int i = 0; i < *ndims; i++)
    n *= dims[i];
  void *buf = malloc(n * esize + 1);
  if (n)
    H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Sclose(s);
  H5Dclose(d);
  return buf;
}

static int64_t attr_i64(hid_t g, const char *name) {
  int64_t v = -1;
  hid_t a = H5Aopen(g, name, H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  return v;
}

/* Rank 0 checks the file; kind 0 int64, 1 float64, 2 bytes, 3 empty. */
static void verify(const char *path, int kind, int nranks) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(f >= 0);
  if (f < 0)
    return;
  hid_t g = H5Gopen2(f, "res/deep", H5P_DEFAULT);
  CHECK(g >= 0);
  hsize_t kd[2], od[2], vd[2];
  int kn, on, vn;
  unsigned char *keys = read_all(g, "keys", H5T_NATIVE_UINT8, 1, kd, &kn);
  uint64_t *offs = read_all(g, "key_offsets", H5T_NATIVE_UINT64, 8, od, &on);
  hid_t vt = kind == 1 ? H5T_NATIVE_DOUBLE
             : kind == 2 ? H5T_NATIVE_UINT8
                         : H5T_NATIVE_INT64;
  unsigned char *vals = read_all(g, "values", vt, kind == 2 ? 1 : 8, vd, &vn);
  uint64_t n = kind == 3 ? 0 : N;
  CHECK_EQ_I(kn, 1);
  CHECK_EQ_I(on, 1);
  CHECK_EQ_I(od[0], n + 1);
  CHECK_EQ_I(vd[0], n);
  CHECK_EQ_I(vn, kind == 2 ? 2 : 1);
  if (kind == 2)
    CHECK_EQ_I(vd[1], 16);
  CHECK_EQ_I(offs[0], 0);
  CHECK_EQ_I(offs[n], kd[0]);
  char *seen = calloc(N, 1);
  int bad = 0;
  for (uint64_t i = 0; i < n && od[0] == n + 1; i++) {
    char k[32] = {0};
    uint64_t len = offs[i + 1] - offs[i];
    if (len < 2 || len > 20 || offs[i + 1] > kd[0]) {
      bad++;
      continue;
    }
    memcpy(k, keys + offs[i], len);
    uint64_t idx = strtoull(k + 1, NULL, 10);
    if (k[0] != 'k' || idx >= N || seen[idx]++) {
      bad++;
      continue;
    }
    if (kind == 0) {
      int64_t v;
      memcpy(&v, vals + 8 * i, 8);
      bad += v != (int64_t)idx * 3;
    } else if (kind == 1) {
      double v;
      memcpy(&v, vals + 8 * i, 8);
      bad += v != (double)idx * 0.25;
    } else {
      for (int j = 0; j < 16; j++)
        bad += vals[16 * i + j] != (unsigned char)(idx + (uint64_t)j);
    }
  }
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(attr_i64(g, "nranks"), nranks);
  CHECK_EQ_I(attr_i64(g, "records"), n);
  CHECK(H5Aexists(g, "created") > 0 && H5Aexists(g, "pmr_version") > 0);
  CHECK(H5Aexists(g, "command_line") > 0 && H5Aexists(g, "app") > 0);
  CHECK(H5Aexists(g, "seconds_map") > 0 && H5Aexists(g, "nthreads") > 0);
  CHECK_EQ_I(attr_i64(g, "answer"), 42);
  CHECK_EQ_I(attr_i64(g, "layout_version"), PMR_LAYOUT_VERSION);
  CHECK(H5Aexists(g, "combiner") > 0 && H5Aexists(g, "layout") > 0);
  CHECK(H5Aexists(g, "ratio") > 0);
  free(seen);
  free(keys);
  free(offs);
  free(vals);
  H5Gclose(g);
  H5Fclose(f);
}

/* Rows of dataset `name` in group `grp` of `path` (serial HDF5), or -1. */
static long long rows_of(const char *path, const char *name) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    return -1;
  long long n = -1;
  H5E_auto2_t efn;
  void *edata;
  H5Eget_auto2(H5E_DEFAULT, &efn, &edata);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* a missing name is an answer */
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, efn, edata);
  if (d >= 0) {
    hsize_t dims[2] = {0, 0};
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    n = (long long)dims[0];
    H5Sclose(sp);
    H5Dclose(d);
  }
  H5Fclose(f);
  return n;
}

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d)
    closedir(d);
  return n;
}

/* Several results in one file: a group added to an existing file keeps the
 * others; the same name replaces its group; a file that is not HDF5 is an
 * error that leaves it as it was. */
static void test_add(const char *dir, int rank) {
  pmr_ctx *ctx;
  pmr_kv *a = NULL, *b = NULL, *c = NULL;
  char path[300], junk[300];
  snprintf(path, sizeof path, "%s/multi.h5", dir);
  snprintf(junk, sizeof junk, "%s/junk.h5", dir);
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &a));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_F64, &b));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &c));
  CHECK_OK(ctx, pmr_map_index(ctx, N, map_i64, NULL, a));
  CHECK_OK(ctx, pmr_map_index(ctx, N / 2, map_f64, NULL, b));
  CHECK_OK(ctx, pmr_map_index(ctx, N / 5, map_i64, NULL, c));
  CHECK_OK(ctx, pmr_kv_reduce(a));
  CHECK_OK(ctx, pmr_kv_reduce(b));
  CHECK_OK(ctx, pmr_kv_reduce(c));
  /* Without an existing file, ADD creates it. */
  CHECK_OK(ctx, pmr_kv_write_h5_ex(a, path, "first", NULL, PMR_WRITE_ADD));
  CHECK_OK(ctx, pmr_kv_write_h5_ex(b, path, "second/deep", NULL,
                                   PMR_WRITE_ADD));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    CHECK_EQ_I(rows_of(path, "/first/values"), N);
    CHECK_EQ_I(rows_of(path, "/second/deep/values"), N / 2);
  }
  CHECK_OK(ctx, pmr_kv_write_h5_ex(c, path, "first", NULL, PMR_WRITE_ADD));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    CHECK_EQ_I(rows_of(path, "/first/values"), N / 5);
    CHECK_EQ_I(rows_of(path, "/first/key_offsets"), N / 5 + 1);
    CHECK_EQ_I(rows_of(path, "/second/deep/values"), N / 2);
  }
  /* Without the flag the file is replaced: only the new group is left. */
  CHECK_OK(ctx, pmr_kv_write_h5(c, path, "only", NULL));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    CHECK_EQ_I(rows_of(path, "/only/values"), N / 5);
    CHECK_EQ_I(rows_of(path, "/first/values"), -1);
    FILE *fp = fopen(junk, "w");
    fputs("not an HDF5 file\n", fp);
    fclose(fp);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  int before = entries(dir);
  int rc = pmr_kv_write_h5_ex(a, junk, "g", NULL, PMR_WRITE_ADD);
  CHECK(rc != PMR_OK);
  CHECK(strstr(pmr_errmsg(ctx), "junk.h5") != NULL);
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_EQ_I(entries(dir), before); /* no temporary file left */
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    char line[64] = "";
    FILE *fp = fopen(junk, "r");
    CHECK(fp && fgets(line, sizeof line, fp));
    if (fp)
      fclose(fp);
    CHECK(strcmp(line, "not an HDF5 file\n") == 0);
    unlink(junk);
    unlink(path);
  }
  pmr_kv_destroy(&a);
  pmr_kv_destroy(&b);
  pmr_kv_destroy(&c);
  pmr_ctx_destroy(&ctx);
}

/* pmr_h5out: row-distributed arrays (a different number of rows on each
 * rank, none on some), 1-D and 2-D, four types, attributes on a group and
 * on a dataset, a set beside them; an abandoned file is never published. */
static void test_h5out(const char *dir, int rank, int size) {
  pmr_ctx *ctx;
  pmr_kv *kv = NULL;
  pmr_h5out *w = NULL;
  pmr_meta *meta = NULL;
  char path[300], never[300];
  snprintf(path, sizeof path, "%s/out.h5", dir);
  snprintf(never, sizeof never, "%s/never.h5", dir);
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, 100, map_i64, NULL, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_meta_create(&meta));
  CHECK_OK(ctx, pmr_meta_set_str(meta, "app", "test"));
  /* Rank r has 3r rows (rank 0 none) of 2 columns: row i is (i, -i). */
  uint64_t n = 3 * (uint64_t)rank, first = 3 * (uint64_t)rank * (rank - 1) / 2;
  int64_t *a = malloc((n ? n : 1) * 2 * sizeof *a);
  double *x = malloc((n ? n : 1) * sizeof *x);
  int32_t *i32 = malloc((n ? n : 1) * sizeof *i32);
  float *f32 = malloc((n ? n : 1) * sizeof *f32);
  for (uint64_t i = 0; i < n; i++) {
    a[2 * i] = (int64_t)(first + i);
    a[2 * i + 1] = -(int64_t)(first + i);
    x[i] = (double)(first + i) * 0.5;
    i32[i] = (int32_t)(first + i);
    f32[i] = (float)(first + i);
  }
  CHECK_OK(ctx, pmr_h5out_open(ctx, path, 0, &w));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/pairs", PMR_INT64, 2, n, a));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/x", PMR_FLOAT64, 0, n, x));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/i32", PMR_INT32, 0, n, i32));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/f32", PMR_FLOAT32, 0, n, f32));
  /* Written twice: the second replaces the first. */
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/x", PMR_FLOAT64, 0, n, x));
  CHECK_OK(ctx, pmr_h5out_meta(w, "g", meta));
  CHECK_OK(ctx, pmr_h5out_meta(w, "g/x", meta));
  CHECK_OK(ctx, pmr_h5out_kv(w, kv, "g/counts", NULL));
  /* A bad call fails on every rank, and the file can only be closed. */
  CHECK(pmr_h5out_rows(w, "g/bad", PMR_BYTES, 0, n, a) == PMR_EINVAL);
  CHECK_OK(ctx, pmr_h5out_close(&w, 1) == PMR_EINVAL ? PMR_OK : 1);
  CHECK(access(path, F_OK) != 0); /* not published after the failure */
  CHECK_OK(ctx, pmr_h5out_open(ctx, path, 0, &w));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/pairs", PMR_INT64, 2, n, a));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/x", PMR_FLOAT64, 0, n, x));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/i32", PMR_INT32, 0, n, i32));
  CHECK_OK(ctx, pmr_h5out_rows(w, "g/f32", PMR_FLOAT32, 0, n, f32));
  CHECK_OK(ctx, pmr_h5out_meta(w, "g", meta));
  CHECK_OK(ctx, pmr_h5out_kv(w, kv, "g/counts", NULL));
  CHECK_OK(ctx, pmr_h5out_close(&w, 1));
  CHECK(w == NULL);
  /* Abandoned: nothing under the name, no temporary file. */
  CHECK_OK(ctx, pmr_h5out_open(ctx, never, 0, &w));
  CHECK_OK(ctx, pmr_h5out_rows(w, "x", PMR_FLOAT64, 0, n, x));
  CHECK_OK(ctx, pmr_h5out_close(&w, 0));
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK(access(never, F_OK) != 0);
  if (rank == 0) {
    uint64_t total = 3 * (uint64_t)size * (size - 1) / 2;
    CHECK_EQ_I(rows_of(path, "/g/pairs"), total);
    CHECK_EQ_I(rows_of(path, "/g/f32"), total);
    CHECK_EQ_I(rows_of(path, "/g/counts/values"), 100);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "g", H5P_DEFAULT);
    hsize_t dims[2];
    int nd;
    int64_t *p = read_all(g, "pairs", H5T_NATIVE_INT64, 8, dims, &nd);
    int32_t *q = read_all(g, "i32", H5T_NATIVE_INT32, 4, dims, &nd);
    int bad = nd != 1;
    for (uint64_t i = 0; i < total; i++)
      bad += p[2 * i] != (int64_t)i || p[2 * i + 1] != -(int64_t)i ||
             q[i] != (int32_t)i;
    CHECK_EQ_I(bad, 0);
    CHECK_EQ_I(attr_i64(g, "nranks"), size);
    CHECK(H5Aexists(g, "app") > 0 && H5Aexists(g, "created") > 0);
    free(p);
    free(q);
    H5Gclose(g);
    H5Fclose(f);
    unlink(path);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_EQ_I(entries(dir), 0);
  free(a);
  free(x);
  free(i32);
  free(f32);
  pmr_meta_free(&meta);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

int main(int argc, char **argv) {
  int provided, rank, size;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char dir[256] = {0};
  if (rank == 0) {
    snprintf(dir, sizeof dir, "%s/pmr-h5-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
      MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  const char *inputs[] = {"index"};
  pmr_meta *meta = NULL;
  CHECK(pmr_meta_create(&meta) == PMR_OK);
  CHECK(pmr_meta_set_str(meta, "app", "test") == PMR_OK);
  CHECK(pmr_meta_set_str(meta, "command_line", "test_h5") == PMR_OK);
  CHECK(pmr_meta_set_strs(meta, "inputs", inputs, 1) == PMR_OK);
  CHECK(pmr_meta_set_i64(meta, "answer", 42) == PMR_OK);
  CHECK(pmr_meta_set_f64(meta, "ratio", 0.25) == PMR_OK);
  CHECK(pmr_meta_set_i64(meta, "nranks", 1) == PMR_EINVAL); /* reserved */
  for (int kind = 0; kind < 4; kind++) {
    pmr_ctx *ctx;
    pmr_kv *kv;
    char path[300];
    snprintf(path, sizeof path, "%s/kind%d.h5", dir, kind);
    CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
    /* A small budget makes the write go in several batches. */
    CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
    if (kind == 2)
      CHECK_OK(ctx, pmr_kv_create_user(ctx, 16, PMR_BYTES, keep_first, NULL,
                                       &kv));
    else
      CHECK_OK(ctx, pmr_kv_create(ctx, kind == 1 ? PMR_SUM_F64 : PMR_SUM_I64,
                                  &kv));
    pmr_index_fn fn = kind == 1 ? map_f64 : kind == 2 ? map_bytes : map_i64;
    CHECK_OK(ctx, pmr_map_index(ctx, kind == 3 ? 0 : N, fn, NULL, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    CHECK_OK(ctx, pmr_kv_write_h5(kv, path, "res/deep", meta));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
      verify(path, kind, size);
      unlink(path);
    }
    pmr_kv_destroy(&kv);
    pmr_ctx_destroy(&ctx);
  }
  pmr_meta_free(&meta);
  CHECK(meta == NULL);
  test_add(dir, rank);
  test_h5out(dir, rank, size);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    rmdir(dir);
  int rc = check_finish("test_h5");
  MPI_Finalize();
  return rc;
}
