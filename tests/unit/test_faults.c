/* Allocation-failure injection over a whole job. Built against a copy of
 * the library compiled with PMR_FAULT_INJECTION (lib/src/base/alloc.c), so
 * that every allocation of the library can be made to fail.
 *
 * For n = 1, 2, ...: allocations from the n-th on fail (on one rank, or on
 * every rank), and a small job runs over the new code paths: context,
 * text with line numbers, records, reduce, map_kv, top, gather, meta,
 * HDF5 (new file, then a group added), text output. Every run must end
 * with the same code on every rank (PMR_OK or PMR_ENOMEM), at the same
 * step, with one message; a set whose reduce failed is FAILED (every call
 * but destroy refused); nothing leaked (the library's live blocks, HDF5
 * objects, file descriptors); in the output directory only the files of
 * the steps that passed, never a temporary one, and after a success
 * exactly the job's outputs with the right content. A pass ends when a
 * run succeeds without reaching its n-th allocation.
 * A hang is caught by the CTest timeout. */
#define _GNU_SOURCE
#include "engine_util.h"

#include "base/base.h"

#include <hdf5.h>
#include <pmr.h>
#include <stdbool.h>

static int rank, size;
static char dir[256], outdir[300], h5[340], txt[340];
static char text[2][300], recs[2][300];
static bool verbose;

/* ---- the job ---- */

static int map_words(const char *line, size_t len, int file, pmr_emitter *em,
                     void *user) {
  (void)file, (void)user;
  /* Line numbers are on: each word is counted, and so is its line. */
  if (pmr_emitter_line(em) == 0)
    return pmr_emitter_fail(em, "no line number");
  char key[24];
  int kl = snprintf(key, sizeof key, "line%llu",
                    (unsigned long long)pmr_emitter_line(em));
  int rc = pmr_emit(em, key, (size_t)kl, NULL);
  for (size_t i = 0; !rc && i < len;) {
    while (i < len && line[i] == ' ')
      i++;
    size_t s = i;
    while (i < len && line[i] != ' ')
      i++;
    if (i > s)
      rc = pmr_emit(em, line + s, i - s, NULL);
  }
  return rc;
}

static int map_rec(const void *rec, size_t n, pmr_emitter *em, void *user) {
  (void)user;
  return pmr_emit_i64(em, rec, n, (int64_t)pmr_emitter_record(em));
}

static int map_cc(const void *key, size_t klen, const void *value,
                  pmr_emitter *em, void *user) {
  (void)key, (void)klen, (void)user;
  int64_t c;
  memcpy(&c, value, 8);
  char k[24];
  int kl = snprintf(k, sizeof k, "%lld", (long long)c);
  return pmr_emit_i64(em, k, (size_t)kl, 1);
}

/* What a run produced, to compare with a run without failures. */
typedef struct result {
  int rc, step;
  int files; /* outputs that must exist: those of the steps that passed */
  int failed_ok; /* a set whose reduce failed refuses everything (or -1) */
  char msg[PMR__ERRMSG_MAX];
  unsigned char *top, *all; /* the lists at their roots, serialised */
  size_t ntop, nall;
} result;

static unsigned char *list_bytes(const pmr_kv_list *l, size_t *n) {
  size_t kb = (size_t)l->key_offsets[l->n];
  *n = 8 + (l->n + 1) * 8 + kb + l->n * l->value_size;
  unsigned char *b = malloc(*n), *p = b;
  memcpy(p, &l->n, 8);
  memcpy(p += 8, l->key_offsets, (l->n + 1) * 8);
  memcpy(p += (l->n + 1) * 8, l->keys, kb);
  memcpy(p + kb, l->values, l->n * l->value_size);
  return b;
}

/* Steps that are not collective (set and meta creation): the job agrees
 * on them itself, as an application must. */
static int agree_local(int rc) {
  int all;
  MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return all;
}

static int visit_none(const void *k, size_t kl, const void *v, void *u) {
  (void)k, (void)kl, (void)v;
  (*(int *)u)++;
  return 0;
}

/* After a failed reduce the set is FAILED: everything but destroy is
 * refused with PMR_ESTATE, on every rank (no allocation needed). Every
 * call is made on every rank, whatever the earlier ones returned. */
static int check_failed(pmr_ctx *ctx, pmr_kv *kv, pmr_kv *other) {
  int seen = 0;
  pmr_kv_list *l = NULL;
  int a = pmr_kv_reduce(kv), b = pmr_kv_foreach(kv, visit_none, &seen);
  int c = pmr_kv_top(kv, 1, NULL, NULL, 0, &l);
  int d = pmr_map_kv(kv, map_cc, NULL, other);
  return a == PMR_ESTATE && b == PMR_ESTATE && c == PMR_ESTATE &&
         d == PMR_ESTATE && seen == 0 && l == NULL &&
         strstr(pmr_errmsg(ctx), "failed") != NULL;
}

static void job(result *r) {
  pmr_ctx *ctx = NULL;
  pmr_kv *words = NULL, *rs = NULL, *cc = NULL;
  pmr_kv_list *top = NULL, *all = NULL;
  pmr_meta *meta = NULL;
  const char *tf[] = {text[0], text[1]}, *rf[] = {recs[0], recs[1]};
  int rc, step = 0;
  memset(r, 0, sizeof *r);
  r->failed_ok = -1;
#define STEP(expr)                                                           \
  do {                                                                       \
    step++;                                                                  \
    if ((rc = (expr)))                                                       \
      goto out;                                                              \
  } while (0)
#define REDUCE(kv, other)                                                    \
  do {                                                                       \
    step++;                                                                  \
    if ((rc = pmr_kv_reduce(kv))) {                                          \
      r->failed_ok = check_failed(ctx, kv, other);                           \
      goto out;                                                              \
    }                                                                        \
  } while (0)
  STEP(pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  /* Small chunks and budget: many parts, several shuffle rounds. */
  STEP(pmr_ctx_set_option(ctx, PMR_OPT_LINE_NUMBERS, 1));
  STEP(pmr_ctx_set_option(ctx, PMR_OPT_CHUNK_SIZE, 16));
  STEP(pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  STEP(agree_local(pmr_kv_create(ctx, PMR_COUNT, &words)));
  STEP(agree_local(pmr_kv_create(ctx, PMR_SUM_I64, &rs)));
  STEP(agree_local(pmr_kv_create(ctx, PMR_SUM_I64, &cc)));
  STEP(pmr_map_text(ctx, tf, 2, map_words, NULL, words));
  STEP(pmr_map_records(ctx, rf, 2, 8, 4, map_rec, NULL, rs));
  REDUCE(words, cc);
  REDUCE(rs, cc);
  STEP(pmr_map_kv(words, map_cc, NULL, cc));
  REDUCE(cc, rs);
  STEP(pmr_kv_top(words, 5, NULL, NULL, 0, &top));
  STEP(pmr_kv_gather(cc, size - 1, &all));
  STEP(agree_local(pmr_meta_create(&meta)));
  static const char *inputs[] = {"a.txt", "b.txt"};
  STEP(agree_local(pmr_meta_set_str(meta, "app", "test_faults")));
  STEP(agree_local(pmr_meta_set_strs(meta, "inputs", inputs, 2)));
  STEP(agree_local(pmr_meta_set_i64(meta, "answer", 42)));
  STEP(agree_local(pmr_meta_set_f64(meta, "ratio", 0.5)));
  STEP(pmr_kv_write_h5(words, h5, "words", meta));
  r->files = 1;
  /* A failure here keeps the file as the step before left it. */
  STEP(pmr_kv_write_h5_ex(rs, h5, "run/records", meta, PMR_WRITE_ADD));
  STEP(pmr_kv_write_text(cc, txt));
  r->files = 2;
  if (rank == 0)
    r->top = list_bytes(top, &r->ntop);
  if (rank == size - 1)
    r->all = list_bytes(all, &r->nall);
#undef STEP
#undef REDUCE
out:
  r->rc = rc;
  r->step = step;
  if (ctx)
    snprintf(r->msg, sizeof r->msg, "%s", pmr_errmsg(ctx));
  pmr_kv_list_free(&top);
  pmr_kv_list_free(&all);
  pmr_meta_free(&meta);
  pmr_kv_destroy(&words);
  pmr_kv_destroy(&rs);
  pmr_kv_destroy(&cc);
  pmr_ctx_destroy(&ctx);
}

/* ---- what a run leaves ---- */

static int open_fds(void) { return eu_count_entries("/proc/self/fd"); }

/* The text output's lines, in any order: a count and an order-free sum. */
static void text_digest(const char *path, uint64_t d[2]) {
  size_t n;
  unsigned char *b = eu_read_file(path, &n);
  d[0] = d[1] = 0;
  if (!b)
    return;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ b[i]) * 1099511628211ull;
    if (b[i] == '\n') {
      d[0]++;
      d[1] += h;
      h = 1469598103934665603ull;
    }
  }
  free(b);
}

static result ref;
static uint64_t ref_text[2];
static int ref_fds;

/* ---- one pass: fail from the n-th allocation on, n = 1, 2, ... ---- */

static void pass(const char *name, int fail_rank /* -1: every rank */) {
  bool me = fail_rank < 0 || rank == fail_rank;
  uint64_t n, failures = 0, failed_sets = 0;
  for (n = 1;; n++) {
    int64_t live0 = pmr__alloc_live();
    result r;
    if (verbose && rank == 0)
      fprintf(stderr, "%s: n = %llu\n", name, (unsigned long long)n);
    pmr__alloc_fail_after(me ? n : 0);
    job(&r);
    uint64_t used = pmr__alloc_count();
    pmr__alloc_fail_after(0);
    int bad = check__failures;

    /* One outcome everywhere: the same code, step and message. */
    CHECK(eu_same_int(MPI_COMM_WORLD, r.rc));
    CHECK(eu_same_int(MPI_COMM_WORLD, r.step));
    CHECK(eu_same_str(MPI_COMM_WORLD, r.msg));
    CHECK(r.rc == PMR_OK || r.rc == PMR_ENOMEM);
    CHECK(r.failed_ok != 0);
    failed_sets += r.failed_ok == 1;
    /* Nothing leaked. */
    CHECK_EQ_I(pmr__alloc_live(), live0);
    CHECK_EQ_I(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    CHECK_EQ_I(open_fds(), ref_fds);
    /* Outputs: those of the steps that passed, no temporary file; after
     * a success, the right content. */
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
      CHECK_EQ_I(eu_count_entries(outdir), r.files);
      CHECK(r.files < 1 || access(h5, F_OK) == 0);
      if (!r.rc) {
        uint64_t d[2];
        text_digest(txt, d);
        CHECK(d[0] == ref_text[0] && d[1] == ref_text[1]);
        CHECK(r.ntop == ref.ntop && !memcmp(r.top, ref.top, r.ntop));
      }
    }
    if (rank == size - 1 && !r.rc)
      CHECK(r.nall == ref.nall && !memcmp(r.all, ref.all, r.nall));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
      unlink(h5);
      unlink(txt);
    }
    if (check__failures != bad && failures++ < 10)
      fprintf(stderr,
              "[rank %d] %s: n = %llu (%llu allocations here): %s at step "
              "%d: '%s'\n",
              rank, name, (unsigned long long)n, (unsigned long long)used,
              pmr_err_name(r.rc), r.step, r.msg);
    free(r.top);
    free(r.all);
    /* Done when a run succeeds without reaching its n-th allocation. */
    int done = !r.rc && (!me || used < n), all_done;
    MPI_Allreduce(&done, &all_done, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (all_done || n >= 20000)
      break;
  }
  CHECK(n < 20000);
  if (rank == 0)
    printf("%s: %llu runs, %llu failed reduces\n", name, (unsigned long long)n,
           (unsigned long long)failed_sets);
}

/* ---- inputs ---- */

static void make_inputs(void) {
  snprintf(outdir, sizeof outdir, "%s/out", dir);
  snprintf(h5, sizeof h5, "%s/r.h5", outdir);
  snprintf(txt, sizeof txt, "%s/cc.txt", outdir);
  for (int i = 0; i < 2; i++) {
    snprintf(text[i], sizeof text[i], "%s/t%d.txt", dir, i);
    snprintf(recs[i], sizeof recs[i], "%s/r%d.bin", dir, i);
  }
  if (rank != 0)
    return;
  mkdir(outdir, 0755);
  static const char t0[] = "alpha beta gamma\n\nbeta beta delta epsilon\n"
                           "a rather longer line with words in it alpha\n"
                           "zeta";
  static const char t1[] = "one two three two one\r\nalpha\n";
  eu_write_file(text[0], t0, sizeof t0 - 1);
  eu_write_file(text[1], t1, sizeof t1 - 1);
  /* 4-byte header, 8-byte records from a pool of 5. */
  for (int f = 0; f < 2; f++) {
    unsigned char b[4 + 8 * 40];
    memcpy(b, "HDR\n", 4);
    int nrec = f ? 40 : 13;
    for (int i = 0; i < nrec; i++)
      for (int j = 0; j < 8; j++)
        b[4 + 8 * i + j] = (unsigned char)('a' + (i * 7 + f) % 5 + j);
    eu_write_file(recs[f], b, 4 + 8 * (size_t)nrec);
  }
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  verbose = getenv("PMR_FAULTS_VERBOSE") != NULL;
  eu_tmpdir(dir, sizeof dir, "faults");
  make_inputs();
  MPI_Barrier(MPI_COMM_WORLD);

  /* The reference: a run without failures (which also warms up MPI, HDF5
   * and OpenMP, so the descriptor count that follows is their steady
   * one). */
  job(&ref);
  free(ref.top);
  free(ref.all);
  job(&ref);
  CHECK_OK(NULL, ref.rc);
  if (ref.rc && rank == 0)
    fprintf(stderr, "reference run: %s at step %d: %s\n",
            pmr_err_name(ref.rc), ref.step, ref.msg);
  CHECK_EQ_I(pmr__alloc_live(), 0);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    text_digest(txt, ref_text);
    CHECK(ref_text[0] > 0);
    unlink(h5);
    unlink(txt);
  }
  ref_fds = open_fds();
  MPI_Barrier(MPI_COMM_WORLD);

  if (!ref.rc) {
    pass("failing on the last rank", size - 1);
    if (size > 1)
      pass("failing on rank 0", 0);
    pass("failing on every rank", -1);
  }
  free(ref.top);
  free(ref.all);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    eu_rmtree(dir);
  int rc = check_finish("test_faults");
  MPI_Finalize();
  return rc;
}
