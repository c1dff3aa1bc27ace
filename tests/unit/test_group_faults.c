/* Allocation-failure injection over a group-set job (against the library
 * built with PMR_FAULT_INJECTION): create, map ragged values, reduce (over
 * several exchange rounds), map the groups into a hash set, reduce it,
 * map into the reduced group set again and regroup, write the group set to
 * HDF5. For n = 1, 2, ...: allocations from the n-th on fail (on the last
 * rank, on rank 0, on every rank); every run must end with the same code
 * (PMR_OK or PMR_ENOMEM), step and message on every rank, leak nothing,
 * leave no temporary file, and after a success give the counts a run
 * without failures gives. A hang is caught by the CTest timeout. */
#define _GNU_SOURCE
#include "engine_util.h"

#include "base/base.h"

#include <hdf5.h>
#include <pmr.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static int rank, size;
static char dir[256], outdir[300], h5[340];

static int map_pair(uint64_t i, pmr_emitter *em, void *user) {
  (void)user;
  char k[16], v[64];
  int kl = snprintf(k, sizeof k, "k%llu", (unsigned long long)(i % 37));
  size_t vl = (size_t)(i * 7 % 50);
  memset(v, (int)(i & 0xff), vl);
  return pmr_emit_var(em, k, (size_t)kl, v, vl);
}

static int count_group(const pmr_group *g, pmr_emitter *em, void *user) {
  (void)user;
  return pmr_emit_i64(em, g->key, g->klen, (int64_t)g->offsets[g->n]);
}

static int sum_counts(const void *k, size_t kl, const void *v, void *u) {
  (void)k, (void)kl;
  int64_t x;
  memcpy(&x, v, 8);
  *(int64_t *)u += x;
  return 0;
}

typedef struct result {
  int rc, step;
  char msg[PMR__ERRMSG_MAX];
  int64_t bytes; /* all values' bytes, summed over the ranks */
  int files;
} result;

static int agree_local(int rc) {
  int all;
  MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return all;
}

static void job(result *r) {
  pmr_ctx *ctx = NULL;
  pmr_kv *g = NULL, *c = NULL;
  int rc, step = 0;
  memset(r, 0, sizeof *r);
#define STEP(expr)                                                           \
  do {                                                                       \
    step++;                                                                  \
    if ((rc = (expr)))                                                       \
      goto out;                                                              \
  } while (0)
  STEP(pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  STEP(pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  STEP(agree_local(pmr_kv_create_group(ctx, 0, PMR_BYTES, &g)));
  STEP(agree_local(pmr_kv_create(ctx, PMR_SUM_I64, &c)));
  STEP(pmr_map_index(ctx, 3000, map_pair, NULL, g));
  STEP(pmr_kv_reduce(g));
  STEP(pmr_kv_map_groups(g, count_group, NULL, c));
  STEP(pmr_kv_reduce(c));
  STEP(pmr_map_index(ctx, 500, map_pair, NULL, g));
  STEP(pmr_kv_reduce(g));
  STEP(pmr_kv_write_h5(g, h5, "groups", NULL));
  r->files = 1;
  int64_t mine = 0;
  pmr_kv_foreach(c, sum_counts, &mine);
  MPI_Allreduce(&mine, &r->bytes, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
#undef STEP
out:
  r->rc = rc;
  r->step = step;
  if (ctx)
    snprintf(r->msg, sizeof r->msg, "%s", pmr_errmsg(ctx));
  pmr_kv_destroy(&g);
  pmr_kv_destroy(&c);
  pmr_ctx_destroy(&ctx);
}

static result ref;
static int ref_fds;

static void pass(const char *name, int fail_rank) {
  bool me = fail_rank < 0 || rank == fail_rank;
  uint64_t n, failures = 0;
  for (n = 1;; n++) {
    int64_t live0 = pmr__alloc_live();
    result r;
    pmr__alloc_fail_after(me ? n : 0);
    job(&r);
    uint64_t used = pmr__alloc_count();
    pmr__alloc_fail_after(0);
    int bad = check__failures;
    CHECK(eu_same_int(MPI_COMM_WORLD, r.rc));
    CHECK(eu_same_int(MPI_COMM_WORLD, r.step));
    CHECK(eu_same_str(MPI_COMM_WORLD, r.msg));
    CHECK(r.rc == PMR_OK || r.rc == PMR_ENOMEM);
    CHECK_EQ_I(pmr__alloc_live(), live0);
    CHECK_EQ_I(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    CHECK_EQ_I(eu_count_entries("/proc/self/fd"), ref_fds);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
      CHECK_EQ_I(eu_count_entries(outdir), r.files);
      unlink(h5);
    }
    if (!r.rc)
      CHECK_EQ_I(r.bytes, ref.bytes);
    MPI_Barrier(MPI_COMM_WORLD);
    if (check__failures != bad && failures++ < 10)
      fprintf(stderr, "[rank %d] %s: n = %llu: %s at step %d: '%s'\n", rank,
              name, (unsigned long long)n, pmr_err_name(r.rc), r.step,
              r.msg);
    int done = !r.rc && (!me || used < n), all_done;
    MPI_Allreduce(&done, &all_done, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (all_done || n >= 20000)
      break;
  }
  CHECK(n < 20000);
  if (rank == 0)
    printf("%s: %llu runs\n", name, (unsigned long long)n);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  eu_tmpdir(dir, sizeof dir, "gfaults");
  snprintf(outdir, sizeof outdir, "%s/out", dir);
  snprintf(h5, sizeof h5, "%s/g.h5", outdir);
  if (rank == 0)
    mkdir(outdir, 0755);
  MPI_Barrier(MPI_COMM_WORLD);
  job(&ref);
  job(&ref);
  CHECK_OK(NULL, ref.rc);
  if (ref.rc && rank == 0)
    fprintf(stderr, "reference run: %s at step %d: %s\n",
            pmr_err_name(ref.rc), ref.step, ref.msg);
  /* The values' bytes of the first map (the counts are taken before the
   * second): the sum over i < 3000 of i * 7 % 50. */
  int64_t want = 0;
  for (int i = 0; i < 3000; i++)
    want += i * 7 % 50;
  CHECK_EQ_I(ref.bytes, want);
  CHECK_EQ_I(pmr__alloc_live(), 0);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    unlink(h5);
  ref_fds = eu_count_entries("/proc/self/fd");
  MPI_Barrier(MPI_COMM_WORLD);
  if (!ref.rc) {
    pass("failing on the last rank", size - 1);
    if (size > 1)
      pass("failing on rank 0", 0);
    pass("failing on every rank", -1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    eu_rmtree(dir);
  int rc = check_finish("test_group_faults");
  MPI_Finalize();
  return rc;
}
