/* The spill layer alone (lib/src/spill), no MPI: private files that leave
 * nothing in the directory, the buffered writer and reader, the k-way merge
 * of sorted runs against an independent sort (qsort here), pairs larger than
 * the buffers, ragged values, and the errors: a missing or unwritable
 * directory, a full device. */
#define _GNU_SOURCE
#include "check.h"
#include "shuffle/wire.h"
#include "spill/spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  if (!d)
    return -1;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

typedef struct pair {
  unsigned char key[64];
  size_t klen;
  unsigned char val[32];
  size_t vlen;
} pair;

static int pair_cmp(const void *a, const void *b) {
  const pair *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->key, y->key, n);
  if (c)
    return c;
  if (x->klen != y->klen)
    return x->klen < y->klen ? -1 : 1;
  n = x->vlen < y->vlen ? x->vlen : y->vlen;
  c = memcmp(x->val, y->val, n);
  if (c)
    return c;
  return x->vlen < y->vlen ? -1 : x->vlen > y->vlen;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* n random pairs (short alphabet, so keys repeat and share prefixes),
 * written as `nruns` sorted runs spread over two files, merged back. */
static void merge_case(pmr_ctx *ctx, size_t vsize, int n, int nruns,
                       size_t bufsize) {
  pair *ps = calloc((size_t)n, sizeof *ps), *sorted = calloc((size_t)n, sizeof *ps);
  for (int i = 0; i < n; i++) {
    ps[i].klen = next_rand() % 9;
    if (next_rand() % 50 == 0)
      ps[i].klen = 40 + next_rand() % 24; /* some longer than a small buffer */
    for (size_t k = 0; k < ps[i].klen; k++)
      ps[i].key[k] = (unsigned char)('a' + next_rand() % 3);
    ps[i].vlen = vsize ? vsize : next_rand() % 20;
    for (size_t k = 0; k < ps[i].vlen; k++)
      ps[i].val[k] = (unsigned char)(next_rand() & 0xff);
  }
  memcpy(sorted, ps, (size_t)n * sizeof *ps);
  qsort(sorted, (size_t)n, sizeof *ps, pair_cmp);

  pmr__spill_file f[2];
  CHECK_OK(ctx, pmr__spill_open(ctx, &f[0]));
  CHECK_OK(ctx, pmr__spill_open(ctx, &f[1]));
  CHECK_EQ_I(entries(ctx->tmpdir), 0);
  pmr__spill_run *runs = calloc((size_t)nruns, sizeof *runs);
  pmr__spill_writer w[2];
  CHECK_OK(ctx, pmr__spill_writer_init(&w[0], &f[0], 100));
  CHECK_OK(ctx, pmr__spill_writer_init(&w[1], &f[1], 1 << 16));
  for (int r = 0; r < nruns; r++) {
    int lo = (int)((int64_t)n * r / nruns), hi = (int)((int64_t)n * (r + 1) / nruns);
    qsort(ps + lo, (size_t)(hi - lo), sizeof *ps, pair_cmp);
    pmr__spill_writer *wr = &w[r % 2];
    runs[r].f = wr->f;
    runs[r].off = pmr__spill_writer_tell(wr);
    for (int i = lo; i < hi; i++) {
      size_t len = pmr__wire_len_v(ps[i].klen, vsize, ps[i].vlen);
      unsigned char *d = pmr__spill_writer_room(wr, len);
      CHECK(d != NULL);
      if (!d)
        break;
      pmr__spill_writer_wrote(wr, pmr__wire_put_v(d, ps[i].key, ps[i].klen,
                                                  ps[i].val, vsize,
                                                  ps[i].vlen));
    }
    runs[r].len = pmr__spill_writer_tell(wr) - runs[r].off;
  }
  CHECK_OK(ctx, pmr__spill_writer_flush(&w[0]));
  CHECK_OK(ctx, pmr__spill_writer_flush(&w[1]));
  pmr__spill_writer_free(&w[0]);
  pmr__spill_writer_free(&w[1]);

  pmr__spill_merge *m = NULL;
  CHECK_OK(ctx, pmr__spill_merge_open(ctx, runs, nruns, vsize, NULL, NULL,
                                      bufsize, &m));
  pmr__spill_rec r;
  int i = 0, k, bad = 0;
  while (m && (k = pmr__spill_merge_next(m, &r)) == 1) {
    if (i >= n || r.klen != sorted[i].klen || r.vlen != sorted[i].vlen ||
        memcmp(r.key, sorted[i].key, r.klen) ||
        memcmp(r.val, sorted[i].val, r.vlen))
      bad++;
    i++;
  }
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(i, n);
  pmr__spill_merge_close(&m);
  CHECK(m == NULL);
  pmr__spill_close(&f[0]);
  pmr__spill_close(&f[1]);
  CHECK_EQ_I(entries(ctx->tmpdir), 0);
  free(runs);
  free(ps);
  free(sorted);
}

int main(void) {
  char dir[] = "/tmp/pmr-test-spill-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  pmr_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.tmpdir = dir;

  /* Fixed 8-byte values and ragged ones; one run, many runs, tiny buffers
   * (every pair straddles a refill; long keys grow the buffer). */
  merge_case(&ctx, 8, 5000, 1, 1 << 16);
  merge_case(&ctx, 8, 20000, 17, 64);
  merge_case(&ctx, PMR__RAGGED, 20000, 9, 100);
  merge_case(&ctx, 8, 0, 3, 64);  /* empty runs */
  merge_case(&ctx, 3, 1000, 1000, 64); /* a run per pair or less */
  CHECK(ctx.stats.spilled_bytes > 0);

  /* A truncated run is an error, not a short result. */
  {
    pmr__spill_file f;
    CHECK_OK(&ctx, pmr__spill_open(&ctx, &f));
    unsigned char p[32];
    size_t n = pmr__wire_put(p, "key", 3, "01234567", 8);
    CHECK_OK(&ctx, pmr__spill_append(&f, p, n));
    pmr__spill_run run = {&f, 0, n - 2};
    pmr__spill_reader rd;
    pmr__spill_rec r;
    CHECK_OK(&ctx, pmr__spill_reader_init(&rd, &run, 8, 64));
    CHECK_EQ_I(pmr__spill_reader_next(&rd, &r), -PMR_EIO);
    CHECK(strstr(ctx.errmsg, "truncated") != NULL);
    pmr__spill_reader_free(&rd);
    /* Reading past the end of the file. */
    unsigned char big[64];
    CHECK_EQ_I(pmr__spill_pread(&f, big, sizeof big, 0), PMR_EIO);
    pmr__spill_close(&f);
  }

  /* A full device: ENOSPC is PMR_EIO naming the directory. */
  {
    pmr__spill_file f;
    pmr__spill_init(&f);
    f.ctx = &ctx;
    f.fd = open("/dev/full", O_WRONLY);
    if (f.fd >= 0) {
      char b[4096] = {0};
      CHECK_EQ_I(pmr__spill_append(&f, b, sizeof b), PMR_EIO);
      char want[512];
      snprintf(want, sizeof want, "spill file in '%s': No space left on device",
               dir);
      CHECK(strcmp(ctx.errmsg, want) == 0);
      if (strcmp(ctx.errmsg, want))
        fprintf(stderr, "message: %s\n", ctx.errmsg);
      pmr__spill_close(&f);
    }
  }

  /* A missing directory. */
  {
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    ctx.tmpdir = missing;
    pmr__spill_file f;
    CHECK_EQ_I(pmr__spill_open(&ctx, &f), PMR_ENOENT);
    CHECK_EQ_I(f.fd, -1);
    CHECK(strstr(ctx.errmsg, missing) != NULL);
    ctx.tmpdir = dir;
  }

  /* A directory that cannot be written: a read-only mode (as a user), or,
   * as root (which ignores modes), /proc. */
  {
    char ro[600];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    CHECK(mkdir(ro, 0500) == 0);
    ctx.tmpdir = geteuid() == 0 ? "/proc" : ro;
    pmr__spill_file f;
    int rc = pmr__spill_open(&ctx, &f);
    CHECK(rc == PMR_EACCES || rc == PMR_ENOENT || rc == PMR_EIO);
    CHECK(strncmp(ctx.errmsg, "spill file in '", 15) == 0);
    CHECK(strstr(ctx.errmsg, ctx.tmpdir) != NULL);
    ctx.tmpdir = dir;
    CHECK_EQ_I(entries(ro), 0);
    rmdir(ro);
  }

  CHECK_EQ_I(entries(dir), 0);
  rmdir(dir);
  return check_finish("spill");
}
