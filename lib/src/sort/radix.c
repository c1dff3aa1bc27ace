/* Radix sort for keys of one fixed width (1..16 bytes) in key order: each
 * key is loaded once as two big-endian words beside the pair's index, the
 * entries are sorted by an MSD radix sort (16-bit digits while parts are
 * large, then 8-bit, small buckets by insertion on the words), then the
 * pairs are permuted. Pairs with equal keys
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

static inline bool pmr__rless(const pmr__rent *a, const pmr__rent *b) {
  return a->k[0] != b->k[0] ? a->k[0] < b->k[0] : a->k[1] < b->k[1];
}

static void pmr__rins(pmr__rent *e, size_t n) {
  for (size_t i = 1; i < n; i++) {
    pmr__rent x = e[i];
    size_t j = i;
    while (j > 0 && pmr__rless(&x, &e[j - 1])) {
      e[j] = e[j - 1];
      j--;
    }
    e[j] = x;
  }
}

/* The digit of `bits` (8 or 16) bits at key byte `byte`. */
static inline unsigned pmr__rdig(const pmr__rent *e, size_t byte,
                                 unsigned bits) {
  unsigned d = pmr__rdigit(e, byte);
  return bits == 16 ? d << 8 | (byte + 1 < 16 ? pmr__rdigit(e, byte + 1) : 0)
                    : d;
}

/* MSD: e[0, n) by key bytes [byte, w), scratch tmp[0, n). One counting
 * pass and one scatter per level (16-bit digits for large parts, 8-bit for
 * smaller), insertion sort of small buckets; a bucket whose keys are all
 * equal ends the recursion when the bytes run out. */
static int pmr__rsort_msd(pmr__rent *e, pmr__rent *tmp, size_t n, size_t byte,
                          size_t w, size_t *cnt) {
  if (n <= 32) {
    pmr__rins(e, n);
    return PMR_OK;
  }
  if (byte >= w)
    return PMR_OK; /* every key equal */
  unsigned bits = n >= ((size_t)1 << 16) && byte + 1 < w ? 16 : 8;
  size_t nd = (size_t)1 << bits;
  memset(cnt, 0, (nd + 1) * sizeof *cnt);
  for (size_t i = 0; i < n; i++)
    cnt[pmr__rdig(&e[i], byte, bits) + 1]++;
  if (cnt[pmr__rdig(&e[0], byte, bits) + 1] == n)
    return pmr__rsort_msd(e, tmp, n, byte + bits / 8, w, cnt);
  for (size_t d = 1; d <= nd; d++)
    cnt[d] += cnt[d - 1];
  /* cnt[d] is bucket d's start; scatter moves it to bucket d's end. */
  size_t *pos = pmr__malloc(nd * sizeof *pos);
  if (!pos)
    return PMR_ENOMEM;
  memcpy(pos, cnt, nd * sizeof *pos);
  for (size_t i = 0; i < n; i++)
    tmp[pos[pmr__rdig(&e[i], byte, bits)]++] = e[i];
  memcpy(e, tmp, n * sizeof *e);
  int rc = PMR_OK;
  size_t lo = 0;
  for (size_t d = 0; d < nd && !rc; d++) {
    size_t hi = pos[d];
    if (hi - lo > 1)
      rc = pmr__rsort_msd(e + lo, tmp + lo, hi - lo, byte + bits / 8, w, cnt);
    lo = hi;
  }
  pmr__free(pos);
  return rc;
}

/* Sort e[0, n) by key words; scratch tmp[0, n). Leaves the result in e. */
static int pmr__rsort(pmr__rent *e, pmr__rent *tmp, size_t n, size_t w) {
  size_t *cnt = pmr__malloc((((size_t)1 << 16) + 1) * sizeof *cnt);
  if (!cnt)
    return PMR_ENOMEM;
  int rc = pmr__rsort_msd(e, tmp, n, 0, w, cnt);
  pmr__free(cnt);
  return rc;
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
                       uint64_t *off, uint64_t *prefix, size_t n, size_t w,
                       pmr__rec_cmp cmp, void *user) {
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
    if (prefix)
      for (size_t i = 0; i < n; i++)
        prefix[i] = e[i].k[0];
    pmr__rfix_off f = {data, data + len, vsize, off, cmp, user};
    rc = pmr__rties(e, n, pmr__rfix_offs, &f);
  }
  pmr__free(tmp);
  pmr__free(e);
  return rc;
}

/* ---- on cached key prefixes ---- */

static void pmr__pins(pmr__pfx *e, size_t n) {
  for (size_t i = 1; i < n; i++) {
    pmr__pfx x = e[i];
    size_t j = i;
    while (j > 0 && x.prefix < e[j - 1].prefix) {
      e[j] = e[j - 1];
      j--;
    }
    e[j] = x;
  }
}

/* MSD by the prefix's bytes from `byte` on (16-bit digits while parts are
 * large), as pmr__rsort_msd. */
static int pmr__psort_msd(pmr__pfx *e, pmr__pfx *tmp, size_t n, unsigned byte,
                          size_t *cnt) {
  if (n <= 32) {
    pmr__pins(e, n);
    return PMR_OK;
  }
  if (byte >= 8)
    return PMR_OK;
  unsigned bits = n >= ((size_t)1 << 16) && byte + 1 < 8 ? 16 : 8;
  unsigned shift = 64 - 8 * byte - bits;
  uint64_t mask = ((uint64_t)1 << bits) - 1;
  size_t nd = (size_t)1 << bits;
  memset(cnt, 0, (nd + 1) * sizeof *cnt);
  for (size_t i = 0; i < n; i++)
    cnt[((e[i].prefix >> shift) & mask) + 1]++;
  if (cnt[((e[0].prefix >> shift) & mask) + 1] == n)
    return pmr__psort_msd(e, tmp, n, byte + bits / 8, cnt);
  for (size_t d = 1; d <= nd; d++)
    cnt[d] += cnt[d - 1];
  size_t *pos = pmr__malloc(nd * sizeof *pos);
  if (!pos)
    return PMR_ENOMEM;
  memcpy(pos, cnt, nd * sizeof *pos);
  for (size_t i = 0; i < n; i++)
    tmp[pos[(e[i].prefix >> shift) & mask]++] = e[i];
  memcpy(e, tmp, n * sizeof *e);
  int rc = PMR_OK;
  size_t lo = 0;
  for (size_t d = 0; d < nd && !rc; d++) {
    size_t hi = pos[d];
    if (hi - lo > 1)
      rc = pmr__psort_msd(e + lo, tmp + lo, hi - lo, byte + bits / 8, cnt);
    lo = hi;
  }
  pmr__free(pos);
  return rc;
}

int pmr__radix_pfx(pmr__pfx *e, size_t n, const unsigned char *data,
                   size_t len, size_t vsize, pmr__rec_cmp cmp, void *user) {
  if (n < 2)
    return PMR_OK;
  pmr__pfx *tmp = pmr__malloc(n * sizeof *tmp);
  size_t *cnt = pmr__malloc((((size_t)1 << 16) + 1) * sizeof *cnt);
  int rc = tmp && cnt ? pmr__psort_msd(e, tmp, n, 0, cnt) : PMR_ENOMEM;
  pmr__free(cnt);
  pmr__free(tmp);
  /* Equal prefixes: the order itself decides (the key's further bytes, the
   * value). */
  pmr__rec *r = NULL;
  size_t rcap = 0, lo = 0;
  for (size_t i = 1; !rc && i <= n; i++) {
    if (i < n && e[i].prefix == e[lo].prefix)
      continue;
    size_t m = i - lo;
    if (m > 1) {
      if (m > rcap) {
        pmr__free(r);
        rcap = m;
        if (!(r = pmr__malloc(m * sizeof *r))) {
          rc = PMR_ENOMEM;
          break;
        }
      }
      for (size_t j = 0; j < m; j++)
        pmr__wire_get_v(data + e[lo + j].off, data + len, vsize, &r[j].key,
                        &r[j].klen, &r[j].val, &r[j].vlen);
      rc = pmr__recs_sort(r, m, cmp, user, false, 1);
      for (size_t j = 0; !rc && j < m; j++)
        e[lo + j].off = (uint64_t)(r[j].key - data) -
                        pmr__varint_len(r[j].klen);
    }
    lo = i;
  }
  pmr__free(r);
  return rc;
}

int pmr__radix_recs_pfx(pmr__rec *a, size_t n, pmr__rec_cmp cmp, void *user) {
  if (n < 2)
    return PMR_OK;
  pmr__pfx *e = pmr__malloc(n * sizeof *e);
  pmr__pfx *tmp = pmr__malloc(n * sizeof *tmp);
  size_t *cnt = pmr__malloc((((size_t)1 << 16) + 1) * sizeof *cnt);
  pmr__rec *perm = pmr__malloc(n * sizeof *perm);
  int rc = e && tmp && cnt && perm ? PMR_OK : PMR_ENOMEM;
  if (!rc) {
    for (size_t i = 0; i < n; i++) {
      uint64_t k[2];
      pmr__rkey(a[i].key, a[i].klen < 8 ? a[i].klen : 8, k);
      e[i] = (pmr__pfx){k[0], i};
    }
    rc = pmr__psort_msd(e, tmp, n, 0, cnt);
  }
  if (!rc) {
    for (size_t i = 0; i < n; i++)
      perm[i] = a[e[i].off];
    memcpy(a, perm, n * sizeof *a);
    size_t lo = 0;
    for (size_t i = 1; !rc && i <= n; i++) {
      if (i < n && e[i].prefix == e[lo].prefix)
        continue;
      if (i - lo > 1)
        rc = pmr__recs_sort(a + lo, i - lo, cmp, user, false, 1);
      lo = i;
    }
  }
  pmr__free(perm);
  pmr__free(cnt);
  pmr__free(tmp);
  pmr__free(e);
  return rc;
}
