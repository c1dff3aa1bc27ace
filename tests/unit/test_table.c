/* The combining table and the hash, against a plain reference: sorted
 * arrays of distinct keys and their expected sums. No MPI calls. */
#include "check.h"
#include "kv/table.h"
#include "shuffle/wire.h"

#include <stdint.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct {
  unsigned char *k;
  size_t n;
  int64_t sum;
} ref_t;

int main(void) {
  /* Keys: distinct by construction (index encoded), of lengths 0..40 with
   * NUL bytes, plus some long ones; each inserted several times. */
  enum { NKEYS = 50000 };
  ref_t *ref = calloc(NKEYS, sizeof *ref);
  for (int i = 0; i < NKEYS; i++) {
    size_t n = i == 0 ? 0 : (i % 97 == 0 ? 100000 + (size_t)(i % 5) : 4 + next() % 37);
    ref[i].n = n;
    ref[i].k = malloc(n ? n : 1);
    for (size_t j = 0; j < n; j++)
      ref[i].k[j] = (unsigned char)(next() % 4); /* many NULs */
    if (n >= 4) /* make it distinct */
      memcpy(ref[i].k, &i, 4);
  }
  pmr__table t;
  pmr__table_init(&t, 8);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < NKEYS; i++) {
      int64_t v = (int64_t)(next() % 1000) - 500;
      uint64_t h = pmr__hash(ref[i].k, ref[i].n);
      bool isnew;
      int64_t *val = pmr__table_upsert(&t, h, ref[i].k, ref[i].n, &isnew);
      CHECK(val != NULL);
      CHECK_EQ_I(isnew, round == 0);
      if (isnew)
        *val = v;
      else
        *val += v;
      ref[i].sum += v;
    }
  }
  CHECK_EQ_I(t.count, NKEYS);
  for (int i = 0; i < NKEYS; i++) {
    const int64_t *v = pmr__table_find(&t, pmr__hash(ref[i].k, ref[i].n),
                                       ref[i].k, ref[i].n);
    CHECK(v != NULL);
    if (v)
      CHECK_EQ_I(*v, ref[i].sum);
  }
  /* A key that is absent, and one that differs only in its last byte. */
  unsigned char miss[41];
  memcpy(miss, ref[5].k, ref[5].n);
  miss[ref[5].n - 1] ^= 0x80;
  CHECK(pmr__table_find(&t, pmr__hash(miss, ref[5].n), miss, ref[5].n) ==
        NULL);
  /* Iteration visits each pair once: mark the reference entry it finds. */
  char *seen = calloc(NKEYS, 1);
  size_t pos = 0;
  int visits = 0;
  pmr__pair r;
  while (pmr__table_next(&t, &pos, &r)) {
    int i = -1;
    if (r.klen == 0)
      i = 0;
    else if (r.klen >= 4)
      memcpy(&i, r.key, 4);
    CHECK(i >= 0 && i < NKEYS);
    if (i < 0 || i >= NKEYS)
      continue;
    CHECK_EQ_I(r.klen, ref[i].n);
    CHECK(r.klen == 0 || memcmp(r.key, ref[i].k, r.klen) == 0);
    CHECK_EQ_I(r.hash, pmr__hash(ref[i].k, ref[i].n));
    int64_t v;
    memcpy(&v, r.value, 8);
    CHECK_EQ_I(v, ref[i].sum);
    CHECK_EQ_I(seen[i], 0);
    seen[i] = 1;
    visits++;
  }
  CHECK_EQ_I(visits, NKEYS);
  free(seen);

  /* Large values live in the arena: a 40-byte value set, grown past 4/5. */
  pmr__table big;
  pmr__table_init(&big, 40);
  for (int k = 0; k < 1000; k++) {
    char key[32];
    int n = snprintf(key, sizeof key, "%s-%d", k % 2 ? "long-key-of-some-size" : "s", k);
    bool isnew;
    unsigned char *v = pmr__table_upsert(&big, pmr__hash(key, (size_t)n), key,
                                         (size_t)n, &isnew);
    CHECK(v != NULL && isnew);
    for (int j = 0; v && j < 40; j++)
      CHECK_EQ_I(v[j], 0);
    if (v)
      memset(v, k % 251, 40);
  }
  for (int k = 0; k < 1000; k++) {
    char key[32];
    int n = snprintf(key, sizeof key, "%s-%d", k % 2 ? "long-key-of-some-size" : "s", k);
    unsigned char *v = pmr__table_find(&big, pmr__hash(key, (size_t)n), key,
                                       (size_t)n);
    CHECK(v != NULL && v[0] == k % 251 && v[39] == k % 251);
  }
  CHECK_EQ_I(big.count, 1000);
  pmr__table_free(&big);
  pmr__table_free(&t);

  /* The hash: every length 0..64 of one buffer hashes differently, one
   * flipped bit changes it, and rank/thread owners are spread evenly. */
  unsigned char buf[64] = {0};
  uint64_t hseen[65];
  for (int n = 0; n <= 64; n++) {
    hseen[n] = pmr__hash(buf, (size_t)n);
    for (int m = 0; m < n; m++)
      CHECK(hseen[m] != hseen[n]);
  }
  for (int bit = 0; bit < 64 * 8; bit++) {
    buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    CHECK(pmr__hash(buf, 64) != hseen[64]);
    buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
  }
  int per_rank[3] = {0}, per_thread[3][2] = {{0}};
  for (int k = 0; k < 30000; k++) {
    char key[16];
    int n = snprintf(key, sizeof key, "w%d", k);
    uint64_t h = pmr__hash(key, (size_t)n);
    int r = pmr__part_rank(h, 3);
    CHECK(r >= 0 && r < 3);
    per_rank[r]++;
    per_thread[r][pmr__part_bucket(h, 3, 2)]++;
  }
  for (int r = 0; r < 3; r++) {
    CHECK(per_rank[r] > 9000 && per_rank[r] < 11000);
    CHECK(per_thread[r][0] > 4000 && per_thread[r][1] > 4000);
  }

  /* Varints round-trip, and a cut one reads as incomplete. */
  uint64_t vals[] = {0, 1, 127, 128, 300, 1ull << 31, (1ull << 63) + 5,
                     UINT64_MAX};
  for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
    unsigned char vb[16];
    size_t n = pmr__varint_put(vb, vals[k]);
    uint64_t back = 0;
    CHECK_EQ_I(n, pmr__varint_len(vals[k]));
    CHECK_EQ_I(pmr__varint_get(vb, vb + n, &back), n);
    CHECK(back == vals[k]);
    if (n > 1)
      CHECK_EQ_I(pmr__varint_get(vb, vb + n - 1, &back), 0);
  }
  uint64_t lo, hi, prev = 0;
  for (int p = 0; p < 7; p++) {
    pmr__split_range(10, 7, p, &lo, &hi);
    CHECK_EQ_I(lo, prev);
    CHECK(hi >= lo && hi - lo <= 2);
    prev = hi;
  }
  CHECK_EQ_I(prev, 10);

  for (int k = 0; k < NKEYS; k++)
    free(ref[k].k);
  free(ref);
  return check_finish("test_table");
}
