/* Radix sort for keys of one fixed width (1..16 bytes) in key order: each
 * key is loaded once as two big-endian words, the (words, index) entries
 * go through LSD passes of 8 bits from the last key byte to the first
 * (all histograms taken in one read; a pass whose byte is the same in
 * every key is skipped), then the pairs are permuted. Pairs with equal keys
 * are then put in the order's tie order (value bytes) by a comparison sort
 * of each such run, so the result is exactly that of the comparison sort. */
#include "sort/samplesort.h"
#include "shuffle/wire.h"

typedef struct pmr__rent {
  uint64_t k[2];
  uint64_t i;
} pmr__rent;

int pmr__radix_off = 0;

size_t pmr__radix_width(const pmr__rec *a, size_t n) {
  if (!n || pmr__radix_off)
    return 0;
  size_t w = a[0].klen;
  if (w == 0 || w > 16)
    return 0;
  for (size_t i = 1; i < n; i++)
    if (a[i].klen != w)
      return 0;
  return w;
}

static inline void pmr__rkey(const unsigned char *key, size_t w,
                             uint64_t k[2]) {
  unsigned char b[16] = {0};
  memcpy(b, key, w);
  uint64_t x = 0, y = 0;
  for (int j = 0; j < 8; j++) {
    x = x << 8 | b[j];
    y = y << 8 | b[8 + j];
  }
  k[0] = x;
  k[1] = y;
}

static inline unsigned pmr__rdigit(const pmr__rent *e, size_t byte) {
  return byte < 8 ? (unsigned)(e->k[0] >> (56 - 8 * byte)) & 0xff
                  : (unsigned)(e->k[1] >> (56 - 8 * (byte - 8))) & 0xff;
}

/* Sort e[0, n) by key words (stable); scratch tmp[0, n). Leaves the result
 * in e. */
static int pmr__rsort(pmr__rent *e, pmr__rent *tmp, size_t n, size_t w) {
  size_t *h = pmr__calloc(w * 256, sizeof *h);
  if (!h)
    return PMR_ENOMEM;
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < w; b++)
      h[b * 256 + pmr__rdigit(&e[i], b)]++;
  pmr__rent *src = e, *dst = tmp;
  for (size_t pass = w; pass-- > 0;) {
    size_t *hb = h + pass * 256;
    if (hb[pmr__rdigit(&src[0], pass)] == n)
      continue; /* this byte is the same in every key */
    size_t sum = 0;
    for (int d = 0; d < 256; d++) {
      size_t c = hb[d];
      hb[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++)
      dst[hb[pmr__rdigit(&src[i], pass)]++] = src[i];
    pmr__rent *t = src;
    src = dst;
    dst = t;
  }
  if (src != e)
    memcpy(e, src, n * sizeof *e);
  pmr__free(h);
  return PMR_OK;
}

/* Runs of equal keys in sorted entries: call fix(lo, hi) for each run of
 * more than one. */
static int pmr__rties(const pmr__rent *e, size_t n,
                      int (*fix)(void *, size_t, size_t), void *u) {
  size_t lo = 0;
  for (size_t i = 1; i <= n; i++) {
    if (i < n && e[i].k[0] == e[lo].k[0] && e[i].k[1] == e[lo].k[1])
      continue;
    if (i - lo > 1) {
      int rc = fix(u, lo, i);
      if (rc)
        return rc;
    }
    lo = i;
  }
  return PMR_OK;
}

typedef struct pmr__rfix {
  pmr__rec *a;
  pmr__rec_cmp cmp;
  void *user;
} pmr__rfix;

static int pmr__rfix_recs(void *u, size_t lo, size_t hi) {
  pmr__rfix *f = u;
  /* Runs of a skewed key may be long: the merge sort, one thread. */
  return pmr__recs_sort(f->a + lo, hi - lo, f->cmp, f->user, false, 1);
}

int pmr__radix_recs(pmr__rec *a, size_t n, size_t w, pmr__rec_cmp cmp,
                    void *user) {
  if (n < 2)
    return PMR_OK;
  pmr__rent *e = pmr__malloc(n * sizeof *e);
  pmr__rent *tmp = pmr__malloc(n * sizeof *tmp);
  int rc = e && tmp ? PMR_OK : PMR_ENOMEM;
  if (!rc) {
    for (size_t i = 0; i < n; i++) {
      pmr__rkey(a[i].key, w, e[i].k);
      e[i].i = i;
    }
    rc = pmr__rsort(e, tmp, n, w);
  }
  pmr__rec *perm = NULL;
  if (!rc && !(perm = pmr__malloc(n * sizeof *perm)))
    rc = PMR_ENOMEM;
  if (!rc) {
    for (size_t i = 0; i < n; i++)
      perm[i] = a[e[i].i];
    memcpy(a, perm, n * sizeof *a);
    pmr__rfix f = {a, cmp, user};
    rc = pmr__rties(e, n, pmr__rfix_recs, &f);
  }
  pmr__free(perm);
  pmr__free(tmp);
  pmr__free(e);
  return rc;
}

typedef struct pmr__rfix_off {
  const unsigned char *data, *end;
  size_t vsize;
  uint64_t *off;
  pmr__rec_cmp cmp;
  void *user;
} pmr__rfix_off;

static int pmr__rfix_offs(void *u, size_t lo, size_t hi) {
  pmr__rfix_off *f = u;
  size_t m = hi - lo;
  pmr__rec *r = pmr__malloc(m * sizeof *r);
  if (!r)
    return PMR_ENOMEM;
  for (size_t i = 0; i < m; i++)
    pmr__wire_get_v(f->data + f->off[lo + i], f->end, f->vsize, &r[i].key,
                    &r[i].klen, &r[i].val, &r[i].vlen);
  int rc = pmr__recs_sort(r, m, f->cmp, f->user, false, 1);
  if (!rc)
    for (size_t i = 0; i < m; i++) {
      /* Back from the key to the pair's start: the key follows its length
       * varint, whose size the key length fixes. */
      f->off[lo + i] = (uint64_t)(r[i].key - f->data) -
                       pmr__varint_len(r[i].klen);
    }
  pmr__free(r);
  return rc;
}

int pmr__radix_offsets(const unsigned char *data, size_t len, size_t vsize,
                       uint64_t *off, size_t n, size_t w, pmr__rec_cmp cmp,
                       void *user) {
  if (n < 2)
    return PMR_OK;
  pmr__rent *e = pmr__malloc(n * sizeof *e);
  pmr__rent *tmp = pmr__malloc(n * sizeof *tmp);
  int rc = e && tmp ? PMR_OK : PMR_ENOMEM;
  if (!rc) {
    for (size_t i = 0; i < n; i++) {
      /* klen is w < 128: a one-byte varint. */
      pmr__rkey(data + off[i] + 1, w, e[i].k);
      e[i].i = off[i];
    }
    rc = pmr__rsort(e, tmp, n, w);
  }
  if (!rc) {
    for (size_t i = 0; i < n; i++)
      off[i] = e[i].i;
    pmr__rfix_off f = {data, data + len, vsize, off, cmp, user};
    rc = pmr__rties(e, n, pmr__rfix_offs, &f);
  }
  pmr__free(tmp);
  pmr__free(e);
  return rc;
}
