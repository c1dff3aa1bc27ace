/* The sources against goldens computed in Python (sources_golden.py, run
 * as a CTest fixture that writes DIR; usage: test_sources DIR):
 *  - text: every line mapped exactly once, with its 1-based line number
 *    (grep -n), byte offset and file index as the emitter reports them,
 *    over tricky files at chunk sizes 1, 7, 4099 and automatic, with both
 *    readers, with and without PMR_OPT_LINE_NUMBERS;
 *  - pmr_emitter_fail and failing callbacks: PMR_ECALLBACK with the place
 *    of the record ("'FILE' line N: ..." / "'FILE' offset B: ...") on every
 *    rank, from a line only the last rank maps;
 *  - fixed-size records: counts, record numbers and offsets, a file empty
 *    past its header, files that are not a header and whole records;
 *  - an index space: every index once, the emitter's record;
 *  - a chain: word count, then count of counts over the reduced set with
 *    pmr_map_kv, the input set unchanged. */
#define _GNU_SOURCE
#include "engine_util.h"

#include <pmr.h>
#include <stdbool.h>
#include <stdint.h>

static int rank, size;
static const char *gdir;

/* ---- goldens and lists written by sources_golden.py ---- */

typedef struct golden {
  uint64_t n;
  const unsigned char **k;
  size_t *kl;
  int64_t *v;
  unsigned char *raw;
} golden;

static char *gpath(const char *name) {
  char *p;
  if (asprintf(&p, "%s/%s", gdir, name) < 0)
    MPI_Abort(MPI_COMM_WORLD, 2);
  return p;
}

static void golden_load(const char *name, golden *g) {
  char *p = gpath(name);
  size_t len = 0, at = 8;
  g->raw = eu_read_file(p, &len);
  if (!g->raw || len < 8) {
    fprintf(stderr, "cannot read %s (run sources_golden.py)\n", p);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  memcpy(&g->n, g->raw, 8);
  g->k = malloc(g->n * sizeof *g->k + 1);
  g->kl = malloc(g->n * sizeof *g->kl + 1);
  g->v = malloc(g->n * sizeof *g->v + 1);
  for (uint64_t i = 0; i < g->n; i++) {
    uint64_t kl;
    memcpy(&kl, g->raw + at, 8);
    g->k[i] = g->raw + at + 8;
    g->kl[i] = (size_t)kl;
    memcpy(&g->v[i], g->raw + at + 8 + kl, 8);
    at += 16 + kl;
  }
  if (at != len) {
    fprintf(stderr, "%s: malformed golden\n", p);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  free(p);
}

static void golden_free(golden *g) {
  free(g->k);
  free(g->kl);
  free(g->v);
  free(g->raw);
}

/* A list of paths, one a line. */
static char **list_load(const char *name, int *n) {
  char *p = gpath(name);
  size_t len;
  char *raw = (char *)eu_read_file(p, &len);
  if (!raw)
    MPI_Abort(MPI_COMM_WORLD, 2);
  char **v = malloc((len + 1) * sizeof *v);
  *n = 0;
  for (char *s = raw, *e; *s && (e = strchr(s, '\n')); s = e + 1) {
    *e = '\0';
    v[(*n)++] = strdup(s);
  }
  free(raw);
  free(p);
  return v;
}

static void list_free(char **v, int n) {
  for (int i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* Collective: gather the set at `root` and compare it with the golden, pair
 * by pair, in key order. */
static void check_against(pmr_ctx *ctx, pmr_kv *kv, const golden *g, int root,
                          const char *what) {
  pmr_kv_list *l = NULL;
  CHECK_OK(ctx, pmr_kv_gather(kv, root, &l));
  if (l && rank == root) {
    int bad = 0;
    if (l->n != g->n) {
      fprintf(stderr, "%s: %llu pairs, golden %llu\n", what,
              (unsigned long long)l->n, (unsigned long long)g->n);
      bad++;
    }
    for (uint64_t i = 0; i < l->n && i < g->n; i++) {
      size_t kl = (size_t)(l->key_offsets[i + 1] - l->key_offsets[i]);
      int64_t v;
      memcpy(&v, l->values + 8 * i, 8);
      if (kl != g->kl[i] || memcmp(l->keys + l->key_offsets[i], g->k[i], kl) ||
          v != g->v[i]) {
        if (bad++ < 3)
          fprintf(stderr,
                  "%s: pair %llu: key of %zu bytes = %lld, golden %zu bytes "
                  "= %lld\n",
                  what, (unsigned long long)i, kl, (long long)v, g->kl[i],
                  (long long)g->v[i]);
      }
    }
    if (bad) {
      fprintf(stderr, "%s: %d mismatches\n", what, bad);
      check__failures++;
    }
  } else if (l) {
    CHECK_EQ_I(l->n, 0);
  }
  pmr_kv_list_free(&l);
}

/* ---- text ---- */

#define LINE_MAX_BYTES 80000 /* the longest golden line is 70000 */

typedef struct targ {
  int numbers; /* PMR_OPT_LINE_NUMBERS is on */
  int fail;    /* at FAIL-HERE: 1 pmr_emitter_fail, 2 return 1 */
  unsigned char **bufs;
} targ;

/* Key: file (4 bytes), line (8), offset (8), big-endian, then the line. */
static int map_line(const char *line, size_t len, int file, pmr_emitter *em,
                    void *user) {
  const targ *a = user;
  uint64_t ln = pmr_emitter_line(em), off = pmr_emitter_offset(em);
  if (pmr_emitter_source(em) != file || pmr_emitter_record(em) != 0 ||
      (a->numbers ? ln == 0 : ln != 0) || len > LINE_MAX_BYTES - 20)
    return pmr_emitter_fail(em, "emitter: source %d of file %d, record %llu, "
                                "line %llu, %zu bytes",
                            pmr_emitter_source(em), file,
                            (unsigned long long)pmr_emitter_record(em),
                            (unsigned long long)ln, len);
  if (a->fail && len == 9 && memcmp(line, "FAIL-HERE", 9) == 0)
    return a->fail == 1 ? pmr_emitter_fail(em, "bad record %.*s", (int)len,
                                           line)
                        : 1;
  unsigned char *b = a->bufs[pmr_emitter_thread(em)];
  eu_put_be(b, (uint64_t)file, 4);
  eu_put_be(b + 4, ln, 8);
  eu_put_be(b + 12, off, 8);
  memcpy(b + 20, line, len);
  return pmr_emit(em, b, len + 20, NULL);
}

static pmr_ctx *text_ctx(int reader, int64_t chunk, int numbers) {
  pmr_ctx *ctx;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_ctx_set_option(ctx, PMR_OPT_READER, reader));
  CHECK_OK(ctx, pmr_ctx_set_option(ctx, PMR_OPT_CHUNK_SIZE, chunk));
  CHECK_OK(ctx, pmr_ctx_set_option(ctx, PMR_OPT_LINE_NUMBERS, numbers));
  /* Automatic chunks of 64 KiB (the least), shorter than the long line. */
  if (chunk == 0)
    CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  return ctx;
}

static unsigned char **bufs_new(pmr_ctx *ctx) {
  int nt = pmr_ctx_threads(ctx);
  unsigned char **b = malloc((size_t)nt * sizeof *b);
  for (int t = 0; t < nt; t++)
    b[t] = malloc(LINE_MAX_BYTES);
  return b;
}
static void bufs_free(pmr_ctx *ctx, unsigned char **b) {
  for (int t = 0; t < pmr_ctx_threads(ctx); t++)
    free(b[t]);
  free(b);
}

/* Map `tag`.list at one reader and chunk size, with and without line
 * numbers, and compare with its goldens. */
static void text_set(const char *tag, int reader, int64_t chunk,
                     int both, int *run) {
  char name[64];
  int nfiles;
  snprintf(name, sizeof name, "%s.list", tag);
  char **files = list_load(name, &nfiles);
  golden g[2];
  snprintf(name, sizeof name, "%s_offsets.golden", tag);
  golden_load(name, &g[0]);
  snprintf(name, sizeof name, "%s_lines.golden", tag);
  golden_load(name, &g[1]);
  uint64_t bytes = 0;
  for (int f = 0; f < nfiles; f++) {
    struct stat st;
    if (stat(files[f], &st) == 0)
      bytes += (uint64_t)st.st_size;
  }
  for (int numbers = 1; numbers >= (both ? 0 : 1); numbers--) {
    pmr_ctx *ctx = text_ctx(reader, chunk, numbers);
    pmr_kv *kv;
    targ a = {numbers, 0, bufs_new(ctx)};
    char what[128];
    snprintf(what, sizeof what, "%s: %s, chunk %lld, line numbers %s", tag,
             reader ? "pread" : "mmap", (long long)chunk,
             numbers ? "on" : "off");
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
    CHECK_OK(ctx, pmr_map_text(ctx, (const char *const *)files, nfiles,
                               map_line, &a, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    check_against(ctx, kv, &g[numbers], (*run)++ % size, what);
    pmr_stats st;
    CHECK_OK(ctx, pmr_ctx_stats_global(ctx, &st));
    CHECK_EQ_I(st.records, g[numbers].n);
    CHECK_EQ_I(st.input_bytes, bytes);
    pmr_kv_destroy(&kv);
    bufs_free(ctx, a.bufs);
    pmr_ctx_destroy(&ctx);
  }
  golden_free(&g[0]);
  golden_free(&g[1]);
  list_free(files, nfiles);
}

static void text_runs(void) {
  int run = 0;
  for (int reader = 0; reader < 2; reader++) {
    text_set("text_small", reader, 1, 0, &run);
    text_set("text_small", reader, 7, 1, &run);
    text_set("text", reader, 4099, 0, &run);
    text_set("text", reader, 0, 1, &run); /* automatic: 64 KiB here */
  }

  int nfiles;
  char **files = list_load("text.list", &nfiles);
  /* A failure on the last line of the last file, which the last rank
   * maps: every rank reports it with its place. */
  char *fp = gpath("fail.txt"), fpath[4096];
  size_t flen;
  char *ftxt = (char *)eu_read_file(fp, &flen);
  unsigned long long fline = 0, foff = 0;
  if (!ftxt || sscanf(ftxt, "%4095[^\t]\t%llu\t%llu", fpath, &fline, &foff) != 3)
    MPI_Abort(MPI_COMM_WORLD, 2);
  static const struct {
    int numbers, fail, reader;
    int64_t chunk;
  } fails[] = {{1, 1, PMR_READER_MMAP, 7},
               {0, 1, PMR_READER_PREAD, 0},
               {1, 2, PMR_READER_PREAD, 4099},
               {0, 2, PMR_READER_MMAP, 7}};
  for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
    pmr_ctx *ctx = text_ctx(fails[i].reader, fails[i].chunk, fails[i].numbers);
    pmr_kv *kv;
    targ a = {fails[i].numbers, fails[i].fail, bufs_new(ctx)};
    char want[4300], place[4200];
    if (fails[i].numbers)
      snprintf(place, sizeof place, "'%s' line %llu", fpath, fline);
    else
      snprintf(place, sizeof place, "'%s' offset %llu", fpath, foff);
    if (fails[i].fail == 1)
      snprintf(want, sizeof want, "%s: bad record FAIL-HERE", place);
    else
      snprintf(want, sizeof want, "map callback failed at %s", place);
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
    int rc = pmr_map_text(ctx, (const char *const *)files, nfiles, map_line,
                          &a, kv);
    CHECK_EQ_I(rc, PMR_ECALLBACK);
    if (strcmp(pmr_errmsg(ctx), want) != 0) {
      fprintf(stderr, "[rank %d] message '%s', want '%s'\n", rank,
              pmr_errmsg(ctx), want);
      check__failures++;
    }
    CHECK(eu_same_str(MPI_COMM_WORLD, pmr_errmsg(ctx)));
    pmr_kv_destroy(&kv);
    bufs_free(ctx, a.bufs);
    pmr_ctx_destroy(&ctx);
  }
  free(ftxt);
  free(fp);
  list_free(files, nfiles);
}

/* ---- fixed-size records ---- */

#define RECORD 12
#define HEADER 5

static int map_rec_count(const void *rec, size_t n, pmr_emitter *em,
                         void *user) {
  (void)user;
  return pmr_emit(em, rec, n, NULL);
}

/* Key: file (4), record (8), offset (8), big-endian, then the record. */
static int map_rec_pos(const void *rec, size_t n, pmr_emitter *em,
                       void *user) {
  const int *fail_at = user;
  unsigned char b[RECORD + 20];
  if (n != RECORD || pmr_emitter_line(em) != 0)
    return pmr_emitter_fail(em, "record of %zu bytes, line %llu", n,
                            (unsigned long long)pmr_emitter_line(em));
  if (fail_at && pmr_emitter_source(em) == fail_at[0] &&
      pmr_emitter_record(em) == (uint64_t)fail_at[1])
    return pmr_emitter_fail(em, "unwanted");
  eu_put_be(b, (uint64_t)pmr_emitter_source(em), 4);
  eu_put_be(b + 4, pmr_emitter_record(em), 8);
  eu_put_be(b + 12, pmr_emitter_offset(em), 8);
  memcpy(b + 20, rec, RECORD);
  return pmr_emit(em, b, sizeof b, NULL);
}

static void record_runs(void) {
  int nfiles;
  char **files = list_load("records.list", &nfiles);
  golden counts, pos;
  golden_load("records_count.golden", &counts);
  golden_load("records_pos.golden", &pos);
  static const int64_t chunks[] = {1, 7, 100, 0};
  for (int ci = 0; ci < 4; ci++) {
    pmr_ctx *ctx;
    pmr_kv *kv;
    char what[64];
    CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
    CHECK_OK(ctx, pmr_ctx_set_option(ctx, PMR_OPT_CHUNK_SIZE, chunks[ci]));
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
    CHECK_OK(ctx, pmr_map_records(ctx, (const char *const *)files, nfiles,
                                  RECORD, HEADER, map_rec_count, NULL, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    snprintf(what, sizeof what, "records: counts, chunk %lld",
             (long long)chunks[ci]);
    check_against(ctx, kv, &counts, size - 1, what);
    pmr_kv_destroy(&kv);
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
    CHECK_OK(ctx, pmr_map_records(ctx, (const char *const *)files, nfiles,
                                  RECORD, HEADER, map_rec_pos, NULL, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    snprintf(what, sizeof what, "records: places, chunk %lld",
             (long long)chunks[ci]);
    check_against(ctx, kv, &pos, 0, what);
    pmr_stats st;
    CHECK_OK(ctx, pmr_ctx_stats_global(ctx, &st));
    CHECK_EQ_I(st.records, 2 * pos.n);
    CHECK_EQ_I(st.input_bytes, 2 * pos.n * RECORD);
    pmr_kv_destroy(&kv);
    pmr_ctx_destroy(&ctx);
  }

  /* Files that are not a header and whole records: refused, named. */
  pmr_ctx *ctx;
  pmr_kv *kv;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
  char *bad = gpath("records_bad.bin"), *shrt = gpath("records_short.bin");
  const char *l1[] = {files[0], bad, files[2]}, *l2[] = {files[0], shrt};
  int rc = pmr_map_records(ctx, l1, 3, RECORD, HEADER, map_rec_count, NULL, kv);
  CHECK_EQ_I(rc, PMR_EINVAL);
  CHECK(strstr(pmr_errmsg(ctx), "records_bad.bin") != NULL);
  CHECK(eu_same_str(MPI_COMM_WORLD, pmr_errmsg(ctx)));
  rc = pmr_map_records(ctx, l2, 2, RECORD, HEADER, map_rec_count, NULL, kv);
  CHECK_EQ_I(rc, PMR_EINVAL);
  CHECK(strstr(pmr_errmsg(ctx), "records_short.bin") != NULL);
  CHECK(eu_same_str(MPI_COMM_WORLD, pmr_errmsg(ctx)));

  /* A failing record names its file and number. */
  int fail_at[2] = {2, 36};
  char want[4200];
  snprintf(want, sizeof want, "'%s' record 36: unwanted", files[2]);
  rc = pmr_map_records(ctx, (const char *const *)files, nfiles, RECORD,
                       HEADER, map_rec_pos, fail_at, kv);
  CHECK_EQ_I(rc, PMR_ECALLBACK);
  if (strcmp(pmr_errmsg(ctx), want) != 0) {
    fprintf(stderr, "[rank %d] message '%s', want '%s'\n", rank,
            pmr_errmsg(ctx), want);
    check__failures++;
  }
  CHECK(eu_same_str(MPI_COMM_WORLD, pmr_errmsg(ctx)));
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  free(bad);
  free(shrt);
  golden_free(&counts);
  golden_free(&pos);
  list_free(files, nfiles);
}

/* ---- an index space ---- */

static int map_idx(uint64_t i, pmr_emitter *em, void *user) {
  const uint64_t *fail_at = user;
  if (pmr_emitter_record(em) != i || pmr_emitter_source(em) != 0 ||
      pmr_emitter_line(em) != 0 || pmr_emitter_offset(em) != 0)
    return pmr_emitter_fail(em, "emitter: record %llu for index %llu",
                            (unsigned long long)pmr_emitter_record(em),
                            (unsigned long long)i);
  if (fail_at && i == *fail_at)
    return pmr_emitter_fail(em, "index %llu refused", (unsigned long long)i);
  unsigned char k[8];
  eu_put_be(k, i, 8);
  return pmr_emit(em, k, 8, NULL);
}

typedef struct idx_check {
  uint64_t n, keys, sum;
  int bad;
} idx_check;

static int visit_idx(const void *key, size_t klen, const void *val, void *u) {
  idx_check *c = u;
  int64_t v;
  memcpy(&v, val, 8);
  uint64_t i = klen == 8 ? eu_get_be(key, 8) : UINT64_MAX;
  if (i >= c->n || v != 1)
    c->bad++;
  c->keys++;
  c->sum += i;
  return 0;
}

static void index_runs(void) {
  static const uint64_t ns[] = {0, 3, 1000, 5000};
  pmr_ctx *ctx;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    pmr_kv *kv;
    idx_check c = {ns[k], 0, 0, 0};
    CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
    CHECK_OK(ctx, pmr_map_index(ctx, ns[k], map_idx, NULL, kv));
    CHECK_OK(ctx, pmr_kv_reduce(kv));
    CHECK_OK(ctx, pmr_kv_foreach(kv, visit_idx, &c));
    uint64_t in[2] = {c.keys, c.sum}, tot[2];
    MPI_Allreduce(in, tot, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    CHECK_EQ_I(c.bad, 0);
    CHECK_EQ_I(tot[0], ns[k]);
    CHECK_EQ_I(tot[1], ns[k] * (ns[k] - (ns[k] > 0)) / 2);
    pmr_kv_destroy(&kv);
  }
  /* A failing index: "record R: ..." (pmr.h), where no file is named. */
  pmr_kv *kv;
  uint64_t fail_at = 4999;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &kv));
  CHECK_EQ_I(pmr_map_index(ctx, 5000, map_idx, &fail_at, kv), PMR_ECALLBACK);
  if (strcmp(pmr_errmsg(ctx), "record 4999: index 4999 refused") != 0) {
    fprintf(stderr, "[rank %d] message '%s'\n", rank, pmr_errmsg(ctx));
    check__failures++;
  }
  CHECK(eu_same_str(MPI_COMM_WORLD, pmr_errmsg(ctx)));
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
}

/* ---- a chain: word count, then count of counts ---- */

static int map_words(const char *line, size_t len, int file, pmr_emitter *em,
                     void *user) {
  (void)file, (void)user;
  /* bytes.split(): runs of bytes other than ASCII whitespace. */
  static const char ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1,
                               ['\v'] = 1, ['\f'] = 1, ['\r'] = 1};
  size_t i = 0;
  while (i < len) {
    while (i < len && ws[(unsigned char)line[i]])
      i++;
    size_t s = i;
    while (i < len && !ws[(unsigned char)line[i]])
      i++;
    if (i > s) {
      int rc = pmr_emit(em, line + s, i - s, NULL);
      if (rc)
        return rc;
    }
  }
  return 0;
}

static int map_count_of(const void *key, size_t klen, const void *value,
                        pmr_emitter *em, void *user) {
  (void)key, (void)klen, (void)user;
  int64_t c;
  unsigned char k[8];
  memcpy(&c, value, 8);
  if (pmr_emitter_source(em) != 0 || c < 1)
    return pmr_emitter_fail(em, "source %d, count %lld",
                            pmr_emitter_source(em), (long long)c);
  eu_put_be(k, (uint64_t)c, 8);
  return pmr_emit(em, k, 8, NULL);
}

/* An order-free digest of this rank's pairs. */
static int visit_digest(const void *key, size_t klen, const void *val,
                        void *u) {
  uint64_t *d = u, h = 1469598103934665603ull;
  for (size_t i = 0; i < klen; i++)
    h = (h ^ ((const unsigned char *)key)[i]) * 1099511628211ull;
  for (size_t i = 0; i < 8; i++)
    h = (h ^ ((const unsigned char *)val)[i]) * 1099511628211ull;
  d[0] += h;
  d[1]++;
  return 0;
}

static void chain(void) {
  int nfiles;
  char **files = list_load("chain.list", &nfiles);
  golden words, counts;
  golden_load("chain_words.golden", &words);
  golden_load("chain_counts.golden", &counts);
  pmr_ctx *ctx;
  pmr_kv *wc, *cc;
  CHECK_OK(NULL, pmr_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &wc));
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &cc));
  CHECK_OK(ctx, pmr_map_text(ctx, (const char *const *)files, nfiles,
                             map_words, NULL, wc));
  CHECK_OK(ctx, pmr_kv_reduce(wc));
  uint64_t before[2] = {0, 0}, after[2] = {0, 0};
  CHECK_OK(ctx, pmr_kv_foreach(wc, visit_digest, before));
  CHECK_OK(ctx, pmr_map_kv(wc, map_count_of, NULL, cc));
  CHECK_OK(ctx, pmr_kv_reduce(cc));
  CHECK_OK(ctx, pmr_kv_foreach(wc, visit_digest, after));
  CHECK(before[0] == after[0] && before[1] == after[1]);
  CHECK_EQ_I(pmr_kv_local_size(wc), before[1]);
  pmr_stats st;
  CHECK_OK(ctx, pmr_ctx_stats_global(ctx, &st));
  check_against(ctx, cc, &counts, size - 1, "chain: count of counts");
  check_against(ctx, wc, &words, 0, "chain: word count after pmr_map_kv");
  /* The pairs mapped by pmr_map_kv are the input's distinct words. */
  pmr_stats st2;
  pmr_kv_destroy(&cc);
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_COUNT, &cc));
  CHECK_OK(ctx, pmr_ctx_stats_global(ctx, &st));
  CHECK_OK(ctx, pmr_map_kv(wc, map_count_of, NULL, cc));
  CHECK_OK(ctx, pmr_ctx_stats_global(ctx, &st2));
  CHECK_EQ_I(st2.records - st.records, words.n);
  CHECK_OK(ctx, pmr_kv_reduce(cc));
  check_against(ctx, cc, &counts, 0, "chain: count of counts, again");
  pmr_kv_destroy(&wc);
  pmr_kv_destroy(&cc);
  pmr_ctx_destroy(&ctx);
  golden_free(&words);
  golden_free(&counts);
  list_free(files, nfiles);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc != 2) {
    if (rank == 0)
      fprintf(stderr, "usage: test_sources DIR (from sources_golden.py)\n");
    MPI_Finalize();
    return 2;
  }
  gdir = argv[1];
  text_runs();
  record_runs();
  index_runs();
  chain();
  int rc = check_finish("test_sources");
  MPI_Finalize();
  return rc;
}
