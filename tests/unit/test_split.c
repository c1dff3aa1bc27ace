/* Text input splitting: every line of every file is mapped exactly once,
 * whatever the rank count, thread count and chunk size. The expected lines
 * come from a plain serial reader (getc), independent of the splitter. */
#define _GNU_SOURCE
#include "check.h"

#include <pmr.h>
#include <stdint.h>
#include <unistd.h>

#define NFILES 12
static char *names[NFILES];

static void write_file(const char *path, const char *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  fwrite(data, 1, n, f);
  fclose(f);
}

static void set_names(const char *dir) {
  for (int i = 0; i < 8; i++)
    asprintf(&names[i], "%s/small%d.txt", dir, i);
  asprintf(&names[8], "%s/longline.txt", dir);
  asprintf(&names[9], "%s/many.txt", dir);
  asprintf(&names[10], "%s/empty2.txt", dir);
  asprintf(&names[11], "%s/last.txt", dir);
}

/* The inputs: empty, one byte, only newlines, no final newline, CRLF, NULs,
 * a 300 KB line between short ones, many short lines, 1-3 byte files. */
static void make_inputs(const char *dir) {
  static const char *small[] = {"", "x", "\n\n\n", "a\nbb\nccc", "a\r\nb\r\n",
                                "n\0l\nz\0\n", "\n", "ab"};
  static const size_t small_len[] = {0, 1, 3, 9, 6, 7, 1, 2};
  set_names(dir);
  for (int i = 0; i < 8; i++)
    write_file(names[i], small[i], small_len[i]);
  size_t big = 300000;
  char *b = malloc(big + 100);
  size_t n = 0;
  n += (size_t)sprintf(b + n, "head\n");
  for (size_t i = 0; i < big; i++)
    b[n++] = (char)('a' + i % 26);
  n += (size_t)sprintf(b + n, "\ntail\n\nend");
  write_file(names[8], b, n);
  free(b);
  /* Many short lines of varying length. */
  size_t cap = 200000;
  char *m = malloc(cap);
  n = 0;
  for (int i = 0; n + 64 < cap; i++)
    n += (size_t)sprintf(m + n, "line %d %.*s\n", i, i % 40,
                         "0123456789012345678901234567890123456789");
  write_file(names[9], m, n);
  free(m);
  write_file(names[10], "", 0);
  write_file(names[11], "only line, no newline", 21);
}

/* Key of a line: file index (4 bytes) then its bytes. */
static int map_line(const char *line, size_t len, int file, pmr_emitter *em,
                    void *user) {
  unsigned char *buf = ((unsigned char **)user)[pmr_emitter_thread(em)];
  int32_t f = file;
  memcpy(buf, &f, 4);
  memcpy(buf + 4, line, len);
  return pmr_emit_i64(em, buf, len + 4, 1);
}

/* Serial reference: the lines of every file, read with getc, as sorted
 * (key, count) entries. */
typedef struct line_t {
  unsigned char *k;
  size_t n;
  int64_t count;
} line_t;

static int line_cmp(const void *a, const void *b) {
  const line_t *x = a, *y = b;
  size_t m = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->k, y->k, m);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

static line_t *reference(size_t *nref, uint64_t *nlines) {
  size_t cap = 1024, cnt = 0;
  line_t *ref = malloc(cap * sizeof *ref);
  *nlines = 0;
  for (int f = 0; f < NFILES; f++) {
    FILE *fp = fopen(names[f], "rb");
    size_t lcap = 1 << 20, n = 4;
    unsigned char *line = malloc(lcap);
    int32_t fi = f;
    memcpy(line, &fi, 4);
    int c, any = 0;
    for (;;) {
      c = getc(fp);
      if (c == EOF && !any)
        break;
      if (c == '\n' || c == EOF) {
        if (cnt == cap)
          ref = realloc(ref, (cap *= 2) * sizeof *ref);
        ref[cnt].k = malloc(n);
        memcpy(ref[cnt].k, line, n);
        ref[cnt].n = n;
        ref[cnt].count = 1;
        cnt++;
        (*nlines)++;
        n = 4;
        any = 0;
        if (c == EOF)
          break;
        continue;
      }
      if (n == lcap)
        line = realloc(line, lcap *= 2);
      line[n++] = (unsigned char)c;
      any = 1;
    }
    free(line);
    fclose(fp);
  }
  qsort(ref, cnt, sizeof *ref, line_cmp);
  size_t out = 0;
  for (size_t i = 0; i < cnt; i++) {
    if (out && line_cmp(&ref[out - 1], &ref[i]) == 0) {
      ref[out - 1].count++;
      free(ref[i].k);
    } else {
      ref[out++] = ref[i];
    }
  }
  *nref = out;
  return ref;
}

typedef struct verify {
  line_t *ref;
  size_t nref;
  int64_t sum;
  int bad;
} verify;

/* Every local pair must be a reference line with the same count. */
static int verify_pair(const void *k, size_t kl, const void *v, void *u) {
  verify *vf = u;
  line_t key = {(unsigned char *)k, kl, 0};
  line_t *hit = bsearch(&key, vf->ref, vf->nref, sizeof key, line_cmp);
  int64_t c;
  memcpy(&c, v, 8);
  vf->sum += c;
  if (!hit || hit->count != c) {
    if (vf->bad++ < 5)
      fprintf(stderr, "line of %zu bytes: count %lld, reference %lld\n", kl,
              (long long)c, hit ? (long long)hit->count : -1LL);
  }
  return 0;
}

int main(int argc, char **argv) {
  int provided, rank, size;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char dir[256] = {0};
  if (rank == 0) {
    snprintf(dir, sizeof dir, "%s/pmr-split-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
      MPI_Abort(MPI_COMM_WORLD, 2);
    make_inputs(dir);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (rank != 0)
    set_names(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  size_t nref;
  uint64_t nlines;
  line_t *ref = reference(&nref, &nlines);

  /* Chunk sizes from 1 byte (every byte a chunk boundary) to the default. */
  /* Both readers: mmap windows (the default) and pread buffers. */
  const int64_t chunks[] = {1, 2, 7, 64, 4099, 0}; /* 0: automatic */
  for (int ri = 0; ri < 12; ri++) {
    int ci = ri % 6;
    pmr_ctx *ctx;
    pmr_kv *kv;
    CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
    CHECK_OK(ctx, pmr_ctx_set_option(ctx, PMR_OPT_READER,
                                     ri < 6 ? PMR_READER_MMAP
                                            : PMR_READER_PREAD));
    CHECK_OK(ctx, pmr_ctx_set_option(ctx, PMR_OPT_CHUNK_SIZE, chunks[ci]));
    int nt = pmr_ctx_threads(ctx);
    unsigned char **bufs = malloc((size_t)nt * sizeof *bufs);
    for (int t = 0; t < nt; t++)
      bufs[t] = malloc(400000);
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &kv));
    CHECK_OK(ctx, pmr_map_text(ctx, (const char *const *)names, NFILES,
                               map_line, bufs, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    pmr_stats st;
    pmr_ctx_stats_global(ctx, &st);
    verify vf = {ref, nref, 0, 0};
    pmr_kv_foreach(kv, verify_pair, &vf);
    int64_t sums[2] = {vf.sum, (int64_t)pmr_kv_local_size(kv)}, tot[2];
    MPI_Allreduce(sums, tot, 2, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    /* Each local line is a reference line with its count, the distinct lines
     * over all ranks are as many as the reference's (so each is somewhere,
     * once), and every line was mapped exactly once. */
    CHECK_EQ_I(vf.bad, 0);
    CHECK_EQ_I(tot[1], nref);
    CHECK_EQ_I(tot[0], nlines);
    CHECK_EQ_I(st.records, nlines);
    uint64_t total_bytes = 0;
    for (int f = 0; f < NFILES; f++) {
      FILE *fp = fopen(names[f], "rb");
      fseek(fp, 0, SEEK_END);
      total_bytes += (uint64_t)ftell(fp);
      fclose(fp);
    }
    CHECK_EQ_I(st.input_bytes, total_bytes);
    if (rank == 0 && check__failures)
      fprintf(stderr, "chunk size %lld (0: default), %s\n",
              (long long)chunks[ci], ri < 6 ? "mmap" : "pread");
    pmr_kv_destroy(&kv);
    pmr_ctx_destroy(&ctx);
    for (int t = 0; t < nt; t++)
      free(bufs[t]);
    free(bufs);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    for (int i = 0; i < NFILES; i++)
      unlink(names[i]);
    rmdir(dir);
  }
  for (int i = 0; i < NFILES; i++)
    free(names[i]);
  for (size_t i = 0; i < nref; i++)
    free(ref[i].k);
  free(ref);
  int rc = check_finish("test_split");
  MPI_Finalize();
  return rc;
}
