/* The local sorter past its memory (sort/sorter.c + spill/): runs written to
 * private files and merged back by readers, against the same pairs sorted
 * here with qsort by an order written out independently; the order of equal
 * pairs is the order they were added (the sort is stable). Two readers at
 * once, every pair counted, nothing left in the directory, and a directory
 * that does not exist. No MPI calls. */
#define _GNU_SOURCE
#include "check.h"
#include "shuffle/wire.h"
#include "sort/sorter.h"

#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct {
  unsigned char k[24], v[8];
  size_t kl, vl, seq;
} pair_t;

static int ref_cmp(const void *pa, const void *pb) {
  const pair_t *a = pa, *b = pb;
  size_t n = a->kl < b->kl ? a->kl : b->kl;
  for (size_t i = 0; i < n; i++)
    if (a->k[i] != b->k[i])
      return a->k[i] < b->k[i] ? -1 : 1;
  if (a->kl != b->kl)
    return a->kl < b->kl ? -1 : 1;
  n = a->vl < b->vl ? a->vl : b->vl;
  for (size_t i = 0; i < n; i++)
    if (a->v[i] != b->v[i])
      return a->v[i] < b->v[i] ? -1 : 1;
  if (a->vl != b->vl)
    return a->vl < b->vl ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq; /* stability */
}

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  if (!d)
    return -1;
  while ((e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static void one(pmr_ctx *ctx, size_t vsize, size_t n, size_t memory) {
  pair_t *ref = calloc(n ? n : 1, sizeof *ref);
  pmr__sorter *s = NULL;
  CHECK_EQ_I(pmr__sorter_create(ctx, vsize, NULL, NULL, memory, &s), 0);
  unsigned char wire[4096];
  size_t wn = 0;
  for (size_t i = 0; i < n; i++) {
    pair_t *p = &ref[i];
    p->seq = i;
    p->kl = next() % 21;
    for (size_t j = 0; j < p->kl; j++)
      p->k[j] = (unsigned char)(next() % 3);
    p->vl = vsize ? vsize : next() % 4;
    for (size_t j = 0; j < p->vl; j++)
      p->v[j] = (unsigned char)(next() % 2);
    if (i % 3) {
      CHECK_EQ_I(pmr__sorter_add(s, p->k, p->kl, p->v, p->vl), 0);
    } else {
      wn += pmr__wire_put_v(wire + wn, p->k, p->kl, p->v, vsize, p->vl);
      if (wn > 2048 || i + 3 >= n) {
        CHECK_EQ_I(pmr__sorter_add_wire(s, wire, wn), 0);
        wn = 0;
      }
    }
  }
  if (wn)
    CHECK_EQ_I(pmr__sorter_add_wire(s, wire, wn), 0);
  CHECK_EQ_I(pmr__sorter_count(s), n);
  CHECK_EQ_I(pmr__sorter_finish(s), 0);
  if (n >= 10000)
    CHECK(pmr__sorter_spilled(s) > 0);
  CHECK_EQ_I(entries(ctx->tmpdir), 0);
  qsort(ref, n, sizeof *ref, ref_cmp);
  pmr__reader *r1 = NULL, *r2 = NULL;
  CHECK_EQ_I(pmr__reader_open(s, &r1), 0);
  CHECK_EQ_I(pmr__reader_open(s, &r2), 0);
  size_t bad = 0;
  uint64_t bytes = 0;
  for (size_t i = 0; r1 && r2 && i < n; i++) {
    pmr__rec a, b;
    CHECK_EQ_I(pmr__reader_next(r1, &a), 1);
    pair_t got = {.kl = a.klen, .vl = a.vlen, .seq = ref[i].seq};
    memcpy(got.k, a.key, a.klen);
    memcpy(got.v, a.val, a.vlen);
    bytes += pmr__wire_len_v(a.klen, vsize, a.vlen);
    CHECK_EQ_I(pmr__reader_next(r2, &b), 1);
    if (ref_cmp(&got, &ref[i]) != 0 || b.klen != ref[i].kl ||
        memcmp(b.key, ref[i].k, b.klen))
      bad++;
  }
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(bytes, pmr__sorter_bytes(s));
  pmr__rec r;
  if (r1)
    CHECK_EQ_I(pmr__reader_next(r1, &r), 0);
  pmr__reader_close(&r1);
  pmr__reader_close(&r2);
  pmr__sorter_free(&s);
  CHECK_EQ_I(entries(ctx->tmpdir), 0);
  free(ref);
}

int main(void) {
  char dir[] = "/tmp/pmr-test-sorter-XXXXXX";
  if (!mkdtemp(dir))
    return 1;
  pmr_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.tmpdir = dir;
  one(&ctx, PMR__RAGGED, 0, 65536);
  one(&ctx, PMR__RAGGED, 100, 65536);
  one(&ctx, PMR__RAGGED, 100000, 65536);
  one(&ctx, 8, 100000, 200000);
  one(&ctx, 3, 50000, 4096); /* a run every few pairs: many runs */
  CHECK(ctx.stats.spilled_bytes > 0);

  /* A spill directory that does not exist: the add that spills fails. */
  char missing[128];
  snprintf(missing, sizeof missing, "%s/none", dir);
  ctx.tmpdir = missing;
  pmr__sorter *s = NULL;
  CHECK_EQ_I(pmr__sorter_create(&ctx, 8, NULL, NULL, 4096, &s), 0);
  int rc = 0;
  for (int i = 0; i < 10000 && !rc; i++)
    rc = pmr__sorter_add(s, &i, sizeof i, "12345678", 8);
  CHECK_EQ_I(rc, PMR_ENOENT);
  CHECK(strstr(ctx.errmsg, missing) != NULL);
  pmr__sorter_free(&s);
  CHECK_EQ_I(entries(dir), 0);
  rmdir(dir);
  return check_finish("test_sorter_spill");
}
