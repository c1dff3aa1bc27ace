/* Errors are agreed: every rank gets the same code and message, nobody
 * hangs, and no output file (final or temporary) is left behind. */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <pmr.h>
#include <sys/stat.h>
#include <unistd.h>

static int rank, size;

/* The same string on every rank? */
static int same_everywhere(const char *s) {
  unsigned long h = 5381;
  for (const char *p = s; *p; p++)
    h = h * 33 + (unsigned char)*p;
  unsigned long lo, hi;
  MPI_Allreduce(&h, &lo, 1, MPI_UNSIGNED_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&h, &hi, 1, MPI_UNSIGNED_LONG, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  if (d)
    closedir(d);
  return n;
}

static int line_fn(const char *line, size_t len, int file, pmr_emitter *em,
                   void *user) {
  (void)file;
  /* Fails on one line that only one rank maps (the last line). */
  if (user && len == 4 && memcmp(line, "FAIL", 4) == 0)
    return 1;
  return pmr_emit_i64(em, line, len, 1);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char dir[256] = {0};
  if (rank == 0) {
    snprintf(dir, sizeof dir, "%s/pmr-errors-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
      MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  char good[300], missing[300], sub[300], out[300], outdir_missing[300];
  snprintf(good, sizeof good, "%s/good.txt", dir);
  snprintf(missing, sizeof missing, "%s/no-such-file.txt", dir);
  snprintf(sub, sizeof sub, "%s/subdir", dir);
  snprintf(out, sizeof out, "%s/out/result.h5", dir);
  snprintf(outdir_missing, sizeof outdir_missing, "%s/nodir/result.h5", dir);
  if (rank == 0) {
    FILE *f = fopen(good, "w");
    for (int i = 0; i < 1000; i++)
      fprintf(f, "w%d\n", i % 10);
    fprintf(f, "FAIL\n");
    fclose(f);
    mkdir(sub, 0755);
    char od[300];
    snprintf(od, sizeof od, "%s/out", dir);
    mkdir(od, 0755);
  }
  MPI_Barrier(MPI_COMM_WORLD);

  /* Library basics. */
  CHECK(strcmp(pmr_strerror(PMR_OK), "success") == 0);
  CHECK(strcmp(pmr_strerror(PMR_ENOENT), "no such file or directory") == 0);
  CHECK(strcmp(pmr_strerror(9999), "unknown error") == 0);
  CHECK(strcmp(pmr_err_name(PMR_EISDIR), "PMR_EISDIR") == 0);
  CHECK(strcmp(pmr_version_string(), PMR_VERSION_STRING) == 0);
  CHECK_EQ_I(pmr_version_number(), PMR_VERSION_NUMBER);
  pmr_ctx *none = NULL;
  CHECK_EQ_I(pmr_ctx_destroy(&none), PMR_OK);
  CHECK_EQ_I(pmr_ctx_destroy(NULL), PMR_OK);
  size_t sz = 0;
  CHECK(pmr_parse_size("256M", &sz) == PMR_OK && sz == ((size_t)256 << 20));
  CHECK(pmr_parse_size("2GiB", &sz) == PMR_OK && sz == ((size_t)2 << 30));
  CHECK(pmr_parse_size("1.5k", &sz) == PMR_OK && sz == 1536);
  CHECK(pmr_parse_size("12x", &sz) == PMR_EINVAL);
  CHECK(pmr_parse_size("", &sz) == PMR_EINVAL);

  pmr_ctx *ctx;
  pmr_kv *kv;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_EQ_I(pmr_ctx_set_threads(ctx, 0), PMR_EINVAL);
  CHECK_EQ_I(pmr_ctx_set_memory(ctx, 1000), PMR_EINVAL);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));

  /* A missing file in the middle of the list. */
  const char *l1[] = {good, missing, good};
  int rc = pmr_map_text(ctx, l1, 3, line_fn, NULL, kv);
  CHECK_EQ_I(rc, PMR_ENOENT);
  CHECK(strstr(pmr_errmsg(ctx), "no-such-file.txt") != NULL);
  CHECK(strstr(pmr_errmsg(ctx), "No such file or directory") != NULL);
  CHECK(same_everywhere(pmr_errmsg(ctx)));

  /* A directory. */
  const char *l2[] = {sub};
  rc = pmr_map_text(ctx, l2, 1, line_fn, NULL, kv);
  CHECK_EQ_I(rc, PMR_EISDIR);
  CHECK(strstr(pmr_errmsg(ctx), "subdir") != NULL);
  CHECK(same_everywhere(pmr_errmsg(ctx)));

  /* No files. */
  CHECK_EQ_I(pmr_map_text(ctx, l2, 0, line_fn, NULL, kv), PMR_EINVAL);

  /* A callback that fails on one rank only: everyone returns the error. */
  rc = pmr_map_text(ctx, (const char *[]){good}, 1, line_fn, (void *)1, kv);
  CHECK_EQ_I(rc, PMR_ECALLBACK);
  CHECK(strstr(pmr_errmsg(ctx), "good.txt") != NULL);
  CHECK(same_everywhere(pmr_errmsg(ctx)));

  /* After errors the context still works. */
  pmr_kv_destroy(&kv);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
  CHECK_OK(ctx, pmr_map_text(ctx, (const char *[]){good}, 1, line_fn, NULL,
                             kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK(strcmp(pmr_errmsg(ctx), "") == 0);

  /* Outputs that cannot be written: nothing is left behind. */
  rc = pmr_kv_write_h5(kv, outdir_missing, "wordcount", NULL);
  CHECK_EQ_I(rc, PMR_ENOENT);
  CHECK(strstr(pmr_errmsg(ctx), "nodir") != NULL);
  CHECK(same_everywhere(pmr_errmsg(ctx)));
  CHECK_EQ_I(pmr_kv_write_text(kv, outdir_missing), PMR_ENOENT);
  CHECK_EQ_I(pmr_check_output(ctx, outdir_missing), PMR_ENOENT);
  CHECK_EQ_I(pmr_kv_write_h5(kv, sub, "wordcount", NULL), PMR_EISDIR);
  CHECK_EQ_I(pmr_check_output(ctx, sub), PMR_EISDIR);
  CHECK_EQ_I(pmr_kv_write_h5(kv, "", "wordcount", NULL), PMR_EINVAL);

  /* A good write leaves exactly the one file; a rewrite replaces it. */
  CHECK_OK(ctx, pmr_kv_write_h5(kv, out, "wordcount", NULL));
  CHECK_OK(ctx, pmr_kv_write_h5(kv, out, "wordcount", NULL));
  char od[300];
  snprintf(od, sizeof od, "%s/out", dir);
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_EQ_I(count_entries(od), 1);
  CHECK_EQ_I(count_entries(dir), 3); /* good.txt subdir out; no nodir */

  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    unlink(out);
    unlink(good);
    rmdir(od);
    rmdir(sub);
    rmdir(dir);
  }
  rc = check_finish("test_errors");
  MPI_Finalize();
  return rc;
}
