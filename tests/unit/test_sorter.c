/* The local sorter (sort/sorter.h) against a plain reference: the same
 * pairs kept in an array and sorted with qsort by an order written out here
 * independently. Keys of 0..20 bytes from a small alphabet with NULs (so
 * many share their 8-byte prefix and many are prefixes of others), ragged
 * and fixed values, int64 and double columns. No MPI calls. */
#include "check.h"
#include "shuffle/wire.h"
#include "sort/sorter.h"

#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct {
  unsigned char k[24], v[24];
  size_t kl, vl;
} pair_t;

static int mode; /* 0 bytes, 1 int64 columns, 2 double columns */

static int bytes_cmp(const unsigned char *a, size_t an, const unsigned char *b,
                     size_t bn) {
  for (size_t i = 0; i < an && i < bn; i++)
    if (a[i] != b[i])
      return a[i] < b[i] ? -1 : 1;
  return an < bn ? -1 : an > bn ? 1 : 0;
}

static int ref_cmp(const void *pa, const void *pb) {
  const pair_t *a = pa, *b = pb;
  int c = bytes_cmp(a->k, a->kl, b->k, b->kl);
  if (c)
    return c;
  if (mode)
    for (size_t i = 0; i + 8 <= a->vl; i += 8) {
      if (mode == 1) {
        int64_t x, y;
        memcpy(&x, a->v + i, 8);
        memcpy(&y, b->v + i, 8);
        if (x != y)
          return x < y ? -1 : 1;
      } else {
        double x, y;
        memcpy(&x, a->v + i, 8);
        memcpy(&y, b->v + i, 8);
        if (x < y || x > y)
          return x < y ? -1 : 1;
      }
    }
  return bytes_cmp(a->v, a->vl, b->v, b->vl);
}

static void one(pmr_ctx *ctx, int m, size_t vsize, size_t n, int alphabet) {
  mode = m;
  pair_t *ref = calloc(n, sizeof *ref);
  pmr__rec_cmp cmp = m == 1   ? pmr__rec_cmp_key_i64
                     : m == 2 ? pmr__rec_cmp_key_f64
                              : (next() & 1 ? NULL : pmr__rec_cmp_key);
  pmr__sorter *s = NULL;
  CHECK_EQ_I(pmr__sorter_create(ctx, vsize, cmp, NULL, 1 << 20, &s), 0);
  /* Half the pairs one by one, half as wire-format blocks. */
  unsigned char *wire = malloc(n * 64 + 1);
  size_t wn = 0;
  for (size_t i = 0; i < n; i++) {
    pair_t *p = &ref[i];
    p->kl = next() % 21;
    for (size_t j = 0; j < p->kl; j++)
      p->k[j] = (unsigned char)(next() % (unsigned)alphabet);
    p->vl = vsize ? vsize : next() % 6;
    for (size_t j = 0; j < p->vl; j++)
      p->v[j] = (unsigned char)(next() % 3);
    if (m == 1)
      for (size_t j = 0; j < p->vl; j += 8) {
        int64_t x = (int64_t)(next() % 7) - 3;
        memcpy(p->v + j, &x, 8);
      }
    if (m == 2)
      for (size_t j = 0; j < p->vl; j += 8) {
        double x = ((double)(next() % 7) - 3) * 0.5;
        if (x == 0 && next() % 2)
          x = -0.0;
        memcpy(p->v + j, &x, 8);
      }
    if (i % 2) {
      CHECK_EQ_I(pmr__sorter_add(s, p->k, p->kl, p->v, p->vl), 0);
    } else {
      wn += pmr__wire_put_v(wire + wn, p->k, p->kl, p->v, vsize, p->vl);
      if (i % 16 == 0 || i + 2 >= n) {
        CHECK_EQ_I(pmr__sorter_add_wire(s, wire, wn), 0);
        wn = 0;
      }
    }
  }
  CHECK_EQ_I(wn, 0);
  CHECK_EQ_I(pmr__sorter_count(s), n);
  CHECK_EQ_I(pmr__sorter_finish(s), 0);
  CHECK_EQ_I(pmr__sorter_add(s, "x", 1, "12345678", vsize ? vsize : 1),
             PMR_ESTATE);
  qsort(ref, n, sizeof *ref, ref_cmp);
  /* Two readers at once, interleaved. */
  pmr__reader *r1 = NULL, *r2 = NULL;
  CHECK_EQ_I(pmr__reader_open(s, &r1), 0);
  CHECK_EQ_I(pmr__reader_open(s, &r2), 0);
  size_t bad = 0;
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; i++) {
    pmr__rec a, b;
    CHECK_EQ_I(pmr__reader_next(r1, &a), 1);
    CHECK_EQ_I(pmr__reader_next(r2, &b), 1);
    pair_t got = {.kl = a.klen, .vl = a.vlen};
    memcpy(got.k, a.key, a.klen);
    memcpy(got.v, a.val, a.vlen);
    if (ref_cmp(&got, &ref[i]) != 0 || b.key != a.key)
      bad++;
    bytes += pmr__wire_len_v(a.klen, vsize, a.vlen);
  }
  CHECK_EQ_I(bad, 0);
  CHECK_EQ_I(bytes, pmr__sorter_bytes(s));
  pmr__rec r;
  CHECK_EQ_I(pmr__reader_next(r1, &r), 0);
  CHECK_EQ_I(pmr__sorter_spilled(s), 0);
  pmr__reader_close(&r1);
  pmr__reader_close(&r2);
  CHECK(r1 == NULL);
  pmr__sorter_free(&s);
  CHECK(s == NULL);
  free(ref);
  free(wire);
}

int main(void) {
  pmr_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  size_t sizes[] = {0, 1, 2, 23, 24, 25, 1000, 100000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    one(&ctx, 0, PMR__RAGGED, sizes[i], 3);
    one(&ctx, 0, PMR__RAGGED, sizes[i], 256);
    one(&ctx, 0, 3, sizes[i], 2);
    one(&ctx, 1, 16, sizes[i], 2);
    one(&ctx, 2, 8, sizes[i], 2);
    one(&ctx, 1, PMR__RAGGED, sizes[i], 2); /* ragged: lengths < 8 by bytes */
  }
  /* Keys longer than the prefix, equal in it. */
  pmr__sorter *s = NULL;
  CHECK_EQ_I(pmr__sorter_create(&ctx, 0, NULL, NULL, 1 << 20, &s), 0);
  const char *keys[] = {"abcdefghZ", "abcdefgh", "abcdefghA", "abcdefg",
                        "abcdefgh\0", ""};
  size_t lens[] = {9, 8, 9, 7, 9, 0};
  for (int i = 0; i < 6; i++)
    CHECK_EQ_I(pmr__sorter_add(s, keys[i], lens[i], "", 0), 0);
  CHECK_EQ_I(pmr__sorter_add(s, "x", 1, "", 0), 0);
  CHECK_EQ_I(pmr__sorter_finish(s), 0);
  int want[] = {5, 3, 1, 4, 2, 0};
  pmr__reader *rd = NULL;
  CHECK_EQ_I(pmr__reader_open(s, &rd), 0);
  for (int i = 0; i < 6; i++) {
    pmr__rec r;
    CHECK_EQ_I(pmr__reader_next(rd, &r), 1);
    CHECK_EQ_I(r.klen, lens[want[i]]);
    CHECK(r.klen == 0 || memcmp(r.key, keys[want[i]], r.klen) == 0);
  }
  pmr__reader_close(&rd);
  pmr__sorter_free(&s);
  /* Fixed sizes are checked. */
  CHECK_EQ_I(pmr__sorter_create(&ctx, 8, NULL, NULL, 1 << 20, &s), 0);
  CHECK_EQ_I(pmr__sorter_add(s, "k", 1, "1234", 4), PMR_EINVAL);
  unsigned char bad[3] = {5, 'a', 'b'};
  CHECK_EQ_I(pmr__sorter_add_wire(s, bad, 3), PMR_EIO);
  pmr__sorter_free(&s);
  return check_finish("test_sorter");
}
