/* The task farm: every index handed out exactly once at any rank and thread
 * count, with deliberately uneven task times; stops, failures, shared
 * counters, agreed argument errors; and the column table writer.
 *
 *   test_farm [--multiple]     (--multiple: MPI_THREAD_MULTIPLE, so any
 *                               thread fetches; default FUNNELED) */
#define _GNU_SOURCE
#include "check.h"

#include <hdf5.h>
#include <omp.h>
#include <pmr.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static int rank, size;

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

typedef struct job {
  int *hits;       /* [n]: times this rank ran index i */
  uint64_t fail_at; /* a task that fails, or UINT64_MAX */
  int slow_rank;   /* this rank's tasks take longer */
} job;

/* Uneven on purpose: every 7th task is slow, and so is every task of one
 * rank, so ranks and threads finish their batches at different times. */
static int task(uint64_t i, int thread, void *user) {
  job *j = user;
  (void)thread;
  __atomic_fetch_add(&j->hits[i], 1, __ATOMIC_RELAXED);
  long us = (i % 7 == 0 ? 300 : 5) + (rank == j->slow_rank ? 100 : 0);
  sleep_us(us);
  return i == j->fail_at ? 1 : 0;
}

/* Sum of hits over ranks, on every rank. */
static void all_hits(int *hits, uint64_t n, int *sum) {
  if (n)
    MPI_Allreduce(hits, sum, (int)n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
}

static void test_exactly_once(pmr_ctx *ctx, uint64_t n, int manual) {
  pmr_farm *f = NULL;
  int *hits = calloc(n ? n : 1, sizeof *hits);
  int *sum = calloc(n ? n : 1, sizeof *sum);
  job j = {hits, UINT64_MAX, size > 1 ? 1 : -1};
  CHECK_OK(ctx, pmr_farm_create(ctx, n, 0, &f));
  if (!f)
    return;
  if (!manual) {
    CHECK_OK(ctx, pmr_farm_run(f, task, &j));
  } else {
    /* The loop a program writes itself: thread 0 is the MPI thread. */
    int errs = 0;
#pragma omp parallel num_threads(pmr_ctx_threads(ctx)) reduction(+ : errs)
    {
      uint64_t b, e;
      for (;;) {
        if (pmr_farm_next(f, &b, &e) != PMR_OK) {
          errs++;
          break;
        }
        if (b == e)
          break;
        if (b > e || e > n)
          errs++;
        for (uint64_t i = b; i < e && i < n; i++)
          task(i, omp_get_thread_num(), &j);
      }
    }
    CHECK_EQ_I(errs, 0);
  }
  uint64_t taken = 0, fetches = 0, all = 0;
  pmr_farm_stats(f, &taken, &fetches);
  MPI_Allreduce(&taken, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(all, n);
  all_hits(hits, n, sum);
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n; i++)
    bad += sum[i] != 1;
  CHECK_EQ_I(bad, 0);
  /* Nothing more after the end, however often one asks. */
  uint64_t b = 1, e = 2;
  CHECK_OK(ctx, pmr_farm_next(f, &b, &e));
  CHECK(b == e);
  if (n >= 1000 && rank == 0)
    printf("n=%llu %s: rank 0 took %llu in %llu fetches\n",
           (unsigned long long)n, manual ? "next loop" : "pmr_farm_run",
           (unsigned long long)taken, (unsigned long long)fetches);
  CHECK_OK(ctx, pmr_farm_destroy(&f));
  CHECK(f == NULL);
  free(hits);
  free(sum);
}

/* Waits out the interval at which ranks read the stop word. */
static unsigned settled_reasons(pmr_farm *f) {
  unsigned r = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  sleep_us(30000);
  pmr_farm_poll(f, &r);
  return r;
}

static void test_stop(pmr_ctx *ctx) {
  const uint64_t n = 4000;
  pmr_farm *f = NULL;
  int *hits = calloc(n, sizeof *hits), *sum = calloc(n, sizeof *sum);
  CHECK_OK(ctx, pmr_farm_create(ctx, n, 1, &f));
  uint64_t b, e, mine = 0;
  int stopper = size - 1;
  for (;;) {
    CHECK_OK(ctx, pmr_farm_next(f, &b, &e));
    if (b == e)
      break;
    for (uint64_t i = b; i < e; i++)
      hits[i]++;
    mine += e - b;
    sleep_us(200);
    if (rank == stopper && mine >= 3)
      CHECK_OK(ctx, pmr_farm_stop(f, 1u << 3));
  }
  CHECK_EQ_I(pmr_farm_stop(f, 0), PMR_EINVAL);
  CHECK(settled_reasons(f) == 1u << 3);
  all_hits(hits, n, sum);
  uint64_t twice = 0, done = 0;
  for (uint64_t i = 0; i < n; i++) {
    twice += sum[i] > 1;
    done += sum[i];
  }
  CHECK_EQ_I(twice, 0);
  CHECK(done < n); /* the first batches are far from all of it */
  CHECK_OK(ctx, pmr_farm_destroy(&f));
  free(hits);
  free(sum);
}

static void test_failure(pmr_ctx *ctx) {
  const uint64_t n = 3000;
  pmr_farm *f = NULL;
  int *hits = calloc(n, sizeof *hits), *sum = calloc(n, sizeof *sum);
  job j = {hits, 100, -1};
  CHECK_OK(ctx, pmr_farm_create(ctx, n, 0, &f));
  int rc = pmr_farm_run(f, task, &j);
  int ran_it = hits[100] > 0, any = 0;
  MPI_Allreduce(&ran_it, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(any, 1);
  if (ran_it) {
    CHECK_EQ_I(rc, PMR_ECALLBACK);
    CHECK(strcmp(pmr_errmsg(ctx), "task 100 failed") == 0);
  } else {
    CHECK(rc == PMR_OK);
  }
  CHECK(settled_reasons(f) & PMR_FARM_STOP_FAILED);
  all_hits(hits, n, sum);
  uint64_t twice = 0;
  for (uint64_t i = 0; i < n; i++)
    twice += sum[i] > 1;
  CHECK_EQ_I(twice, 0);
  CHECK_OK(ctx, pmr_farm_destroy(&f));
  free(hits);
  free(sum);
}

static void test_counters(pmr_ctx *ctx) {
  const uint64_t n = 500;
  pmr_farm *f = NULL;
  CHECK_OK(ctx, pmr_farm_create(ctx, n, 2, &f));
  uint64_t b, e, mine = 0;
  for (;;) {
    CHECK_OK(ctx, pmr_farm_next(f, &b, &e));
    if (b == e)
      break;
    for (uint64_t i = b; i < e; i++) {
      CHECK_OK(ctx, pmr_farm_add(f, 0, rank + 1));
      CHECK_OK(ctx, pmr_farm_add(f, 3, -1));
    }
    mine += e - b;
  }
  CHECK_EQ_I(pmr_farm_add(f, PMR_FARM_COUNTERS, 1), PMR_EINVAL);
  CHECK_OK(ctx, pmr_farm_poll(f, NULL));
  int64_t want = (int64_t)mine * (rank + 1), total = 0;
  MPI_Allreduce(&want, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  int64_t v[PMR_FARM_COUNTERS] = {9, 9, 9, 9};
  CHECK_OK(ctx, pmr_farm_counters(f, v));
  CHECK_EQ_I(v[0], total);
  CHECK_EQ_I(v[1], 0);
  CHECK_EQ_I(v[2], 0);
  CHECK_EQ_I(v[3], -(int64_t)n);
  CHECK_OK(ctx, pmr_farm_destroy(&f));
  CHECK_OK(ctx, pmr_farm_destroy(&f)); /* NULL is fine */
}

static void test_bad_args(pmr_ctx *ctx) {
  pmr_farm *f = (pmr_farm *)&f;
  /* A mistake on one rank only is refused on all. */
  if (size > 1) {
    CHECK_EQ_I(pmr_farm_create(ctx, rank == size - 1 ? 11 : 10, 0, &f),
               PMR_EINVAL);
    CHECK(f == NULL);
    CHECK(strstr(pmr_errmsg(ctx), "differs") != NULL);
  }
  CHECK_EQ_I(pmr_farm_create(ctx, 10, rank == 0 ? -1 : 1, &f), PMR_EINVAL);
  CHECK_EQ_I(pmr_farm_create(ctx, UINT64_MAX / 2, 1, &f), PMR_EOVERFLOW);
  CHECK(f == NULL);
  CHECK_EQ_I(pmr_farm_next(NULL, NULL, NULL), PMR_EINVAL);
}

/* ---- the column table writer ---- */

static void test_columns(pmr_ctx *ctx, const char *dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/table.h5", dir);
  /* Rank r holds 2r rows (rank 0 none): rows in rank order. */
  uint64_t nrows = 2 * (uint64_t)rank, first = (uint64_t)rank * (rank - 1);
  int32_t *i32 = malloc((nrows + 1) * 4);
  uint64_t *u64 = malloc((nrows + 1) * 8), *offs = malloc((nrows + 1) * 8);
  double *f64 = malloc((nrows + 1) * 8);
  char *bytes = malloc(64 * (nrows + 1));
  offs[0] = 0;
  for (uint64_t r = 0; r < nrows; r++) {
    uint64_t g = first + r;
    i32[r] = -(int32_t)g;
    u64[r] = g * 1000;
    f64[r] = 0.5 * (double)g;
    /* Row g holds g % 3 copies of "x<g>", so some rows are empty. */
    uint64_t len = 0;
    for (uint64_t k = 0; k < g % 3; k++)
      len += (uint64_t)sprintf(bytes + offs[r] + len, "x%llu",
                               (unsigned long long)g);
    offs[r + 1] = offs[r] + len;
  }
  pmr_column cols[] = {{"neg", PMR_COL_INT32, i32, NULL},
                       {"big", PMR_COL_UINT64, u64, NULL},
                       {"half", PMR_COL_FLOAT64, f64, NULL},
                       {"text", PMR_COL_BYTES, bytes, offs}};
  pmr_meta *meta = NULL;
  pmr_meta_create(&meta);
  pmr_meta_set_str(meta, "app", "test_farm");
  pmr_meta_set_i64(meta, "tasks", 42);
  CHECK_OK(ctx, pmr_write_columns_h5(ctx, path, "farm/run", nrows, cols, 4,
                                     meta, 0));
  /* Differing columns (more ranks) or a bad one (the last rank) are
   * refused everywhere, and leave no file. */
  char path2[300];
  snprintf(path2, sizeof path2, "%s/bad.h5", dir);
  CHECK_EQ_I(pmr_write_columns_h5(ctx, path2, "t", nrows, cols,
                                  rank == 0 && size > 1 ? 3 : 4, meta, 0),
             size > 1 ? PMR_EINVAL : PMR_OK);
  pmr_column dup[] = {cols[0], cols[0]};
  CHECK_EQ_I(pmr_write_columns_h5(ctx, path2, "t", nrows,
                                  rank == size - 1 ? dup : cols, 2, meta, 0),
             PMR_EINVAL);
  CHECK(strstr(pmr_errmsg(ctx), "two columns named") != NULL);
  if (size > 1)
    CHECK(access(path2, F_OK) != 0);
  pmr_meta_free(&meta);

  if (rank == 0) {
    uint64_t n = (uint64_t)size * (size - 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    hid_t g = H5Gopen2(f, "farm/run", H5P_DEFAULT);
    CHECK(g >= 0);
    int32_t *ri = malloc((n + 1) * 4);
    uint64_t *ru = malloc((n + 1) * 8), *ro = malloc((n + 2) * 8);
    double *rf = malloc((n + 1) * 8);
    char *rb = malloc(64 * (n + 1));
    hid_t d = H5Dopen2(g, "neg", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ri) >= 0);
    H5Dclose(d);
    d = H5Dopen2(g, "big", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ru) >= 0);
    H5Dclose(d);
    d = H5Dopen2(g, "half", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, rf) >= 0);
    H5Dclose(d);
    d = H5Dopen2(g, "text_offsets", H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    CHECK_EQ_I(H5Sget_simple_extent_npoints(s), n + 1);
    H5Sclose(s);
    CHECK(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ro) >= 0);
    H5Dclose(d);
    d = H5Dopen2(g, "text", H5P_DEFAULT);
    s = H5Dget_space(d);
    CHECK_EQ_I(H5Sget_simple_extent_npoints(s), ro[n]);
    H5Sclose(s);
    if (ro[n])
      CHECK(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, rb) >=
            0);
    H5Dclose(d);
    CHECK_EQ_I(ro[0], 0);
    for (uint64_t r = 0; r < n; r++) {
      CHECK_EQ_I(ri[r], -(int64_t)r);
      CHECK_EQ_I(ru[r], r * 1000);
      CHECK(rf[r] == 0.5 * (double)r);
      char want[64] = "", one[32];
      for (uint64_t k = 0; k < r % 3; k++) {
        snprintf(one, sizeof one, "x%llu", (unsigned long long)r);
        strcat(want, one);
      }
      CHECK_EQ_I(ro[r + 1] - ro[r], strlen(want));
      CHECK(memcmp(rb + ro[r], want, strlen(want)) == 0);
    }
    int64_t v = 0;
    hid_t a = H5Aopen(g, "tasks", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    CHECK_EQ_I(v, 42);
    a = H5Aopen(g, "nranks", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    CHECK_EQ_I(v, size);
    CHECK(H5Aexists(g, "created") > 0 && H5Aexists(g, "pmr_version") > 0 &&
          H5Aexists(g, "layout") > 0);
    H5Gclose(g);
    H5Fclose(f);
    free(ri);
    free(ru);
    free(ro);
    free(rf);
    free(rb);
  }
  free(i32);
  free(u64);
  free(offs);
  free(f64);
  free(bytes);
}

int main(int argc, char **argv) {
  int multiple = argc > 1 && !strcmp(argv[1], "--multiple"), provided;
  MPI_Init_thread(&argc, &argv,
                  multiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED,
                  &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char dir[256] = {0};
  if (rank == 0) {
    snprintf(dir, sizeof dir, "%s/pmr-farm-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
      MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);

  pmr_ctx *ctx = NULL;
  CHECK_OK(ctx, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  if (ctx) {
    if (rank == 0)
      printf("%d ranks x %d threads, MPI thread level %d\n", size,
             pmr_ctx_threads(ctx), provided);
    static const uint64_t ns[] = {0, 1, 3, 17, 2000};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
      test_exactly_once(ctx, ns[k], 0);
      test_exactly_once(ctx, ns[k], 1);
    }
    test_stop(ctx);
    test_failure(ctx);
    test_counters(ctx);
    test_bad_args(ctx);
    test_columns(ctx, dir);
  }
  pmr_ctx_destroy(&ctx);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", dir);
  }
  int rc = check_finish("test_farm");
  MPI_Finalize();
  return rc;
}
