/* The local sorter, in memory: pairs appended in the wire format to one
 * buffer, and an index of (key prefix, offset) entries sorted by the
 * comparator. The prefix is the key's first 8 bytes, big-endian, zero
 * padded: for the orders that compare key bytes first (pmr__rec_cmp_key and
 * the numeric value orders below), two entries whose prefixes differ are
 * ordered by the prefixes alone, so most compares touch only the index. */
#include "sort/sorter.h"
#include "shuffle/wire.h"
#include "sort/samplesort.h"
#include "spill/spill.h"

#include <stdio.h>

typedef struct pmr__sidx {
  uint64_t prefix;
  uint64_t off; /* of the pair in data */
} pmr__sidx;

struct pmr__sorter {
  pmr_ctx *ctx;
  size_t vsize;
  pmr__rec_cmp cmp;
  void *cmp_user;
  bool key_first; /* cmp orders by key bytes first: prefixes decide */
  size_t memory;
  pmr__buf data;
  pmr__sidx *ix;
  size_t n, cap;
  bool finished;
  uint64_t spilled;
  /* Past `memory`: what is held is sorted and written as a run to a
   * private file; readers then merge the runs. */
  pmr__spill_file file;
  pmr__spill_run *runs;
  size_t nruns, rcap;
  uint64_t run_pairs; /* pairs written to runs */
};

struct pmr__reader {
  const pmr__sorter *s;
  size_t pos;
  pmr__spill_merge *m; /* the runs' merge, when the sorter spilled */
};

static int pmr__sorter_maybe_spill(pmr__sorter *s, uint64_t pairs,
                                   size_t bytes);

/* ---- orders ---- */

static int pmr__bytes_cmp(const unsigned char *a, size_t an,
                          const unsigned char *b, size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? memcmp(a, b, n) : 0;
  if (c)
    return c;
  return an < bn ? -1 : an > bn;
}

int pmr__rec_cmp_key(const pmr__rec *a, const pmr__rec *b, void *user) {
  (void)user;
  int c = pmr__bytes_cmp(a->key, a->klen, b->key, b->klen);
  return c ? c : pmr__bytes_cmp(a->val, a->vlen, b->val, b->vlen);
}

/* Values as 8-byte columns compared numerically, the first column first;
 * values equal that way (or unordered: NaN) by their bytes, so the order is
 * total and the same everywhere. */
static int pmr__cols_cmp(const pmr__rec *a, const pmr__rec *b, bool f64) {
  size_t n = (a->vlen < b->vlen ? a->vlen : b->vlen) / 8;
  for (size_t i = 0; i < n; i++) {
    if (f64) {
      double x, y;
      memcpy(&x, a->val + 8 * i, 8);
      memcpy(&y, b->val + 8 * i, 8);
      if (x != y && (x < y || x > y))
        return x < y ? -1 : 1;
    } else {
      int64_t x, y;
      memcpy(&x, a->val + 8 * i, 8);
      memcpy(&y, b->val + 8 * i, 8);
      if (x != y)
        return x < y ? -1 : 1;
    }
  }
  return pmr__bytes_cmp(a->val, a->vlen, b->val, b->vlen);
}

int pmr__rec_cmp_key_i64(const pmr__rec *a, const pmr__rec *b, void *user) {
  (void)user;
  int c = pmr__bytes_cmp(a->key, a->klen, b->key, b->klen);
  return c ? c : pmr__cols_cmp(a, b, false);
}

int pmr__rec_cmp_key_f64(const pmr__rec *a, const pmr__rec *b, void *user) {
  (void)user;
  int c = pmr__bytes_cmp(a->key, a->klen, b->key, b->klen);
  return c ? c : pmr__cols_cmp(a, b, true);
}

/* ---- building ---- */

static int pmr__sorter_err(pmr__sorter *s, int code, const char *what) {
#pragma omp critical(pmr__err)
  pmr__seterr(s->ctx, code, "sorter: %s", what);
  return code;
}

int pmr__sorter_create(pmr_ctx *ctx, size_t vsize, pmr__rec_cmp cmp,
                       void *cmp_user, size_t memory, pmr__sorter **out) {
  *out = NULL;
  pmr__sorter *s = pmr__calloc(1, sizeof *s);
  if (!s) {
#pragma omp critical(pmr__err)
    pmr__seterr(ctx, PMR_ENOMEM, "out of memory for a sorter");
    return PMR_ENOMEM;
  }
  s->ctx = ctx;
  s->vsize = vsize;
  s->cmp = cmp ? cmp : pmr__rec_cmp_key;
  s->cmp_user = cmp_user;
  s->key_first = s->cmp == pmr__rec_cmp_key || s->cmp == pmr__rec_cmp_key_i64 ||
                 s->cmp == pmr__rec_cmp_key_f64;
  s->memory = memory;
  pmr__spill_init(&s->file);
  *out = s;
  return PMR_OK;
}

void pmr__sorter_free(pmr__sorter **ps) {
  if (!ps || !*ps)
    return;
  pmr__buf_free(&(*ps)->data);
  pmr__free((*ps)->ix);
  pmr__spill_close(&(*ps)->file);
  pmr__free((*ps)->runs);
  pmr__free(*ps);
  *ps = NULL;
}

static inline uint64_t pmr__prefix(const unsigned char *key, size_t klen) {
  uint64_t p = 0;
  size_t n = klen < 8 ? klen : 8;
  for (size_t i = 0; i < n; i++)
    p |= (uint64_t)key[i] << (56 - 8 * i);
  return p;
}

static int pmr__sorter_room(pmr__sorter *s, size_t pairs, size_t bytes) {
  size_t need;
  if (pmr__add_ovf(s->n, pairs, &need))
    return PMR_ENOMEM;
  void *p = s->ix;
  int rc = pmr__grow_array(&p, &s->cap, need, sizeof *s->ix, 1024);
  s->ix = p;
  if (!rc)
    rc = pmr__buf_reserve(&s->data, bytes);
  return rc;
}

int pmr__sorter_reserve(pmr__sorter *s, uint64_t pairs, uint64_t bytes) {
  /* Only what fits the memory share: past it the sorter spills, and the
   * buffers are never larger than the share. */
  if (s->finished || pairs > SIZE_MAX || bytes > SIZE_MAX ||
      (s->memory && (double)bytes + (double)pairs * sizeof(pmr__sidx) >
                        (double)s->memory))
    return PMR_OK;
  size_t need;
  if (pmr__add_ovf(s->n, (size_t)pairs, &need))
    return PMR_OK;
  if (need > s->cap) {
    pmr__sidx *ix = pmr__realloc(s->ix, need * sizeof *ix);
    if (!ix)
      return pmr__sorter_err(s, PMR_ENOMEM, "out of memory");
    s->ix = ix;
    s->cap = need;
  }
  if (pmr__add_ovf(s->data.len, (size_t)bytes, &need))
    return PMR_OK;
  if (need > s->data.cap) {
    unsigned char *p = pmr__realloc(s->data.p, need);
    if (!p)
      return pmr__sorter_err(s, PMR_ENOMEM, "out of memory");
    s->data.p = p;
    s->data.cap = need;
  }
  return PMR_OK;
}

int pmr__sorter_add(pmr__sorter *s, const void *key, size_t klen,
                    const void *val, size_t vlen) {
  if (s->finished)
    return pmr__sorter_err(s, PMR_ESTATE, "a pair added after the sort");
  if (s->vsize != PMR__RAGGED && vlen != s->vsize)
    return pmr__sorter_err(s, PMR_EINVAL, "a value of the wrong size");
  size_t len = pmr__wire_len_v(klen, s->vsize, vlen);
  int rc = pmr__sorter_maybe_spill(s, 1, len);
  if (rc)
    return rc;
  if (pmr__sorter_room(s, 1, len))
    return pmr__sorter_err(s, PMR_ENOMEM, "out of memory");
  s->ix[s->n++] = (pmr__sidx){pmr__prefix(key, klen), s->data.len};
  s->data.len +=
      pmr__wire_put_v(s->data.p + s->data.len, key, klen, val, s->vsize, vlen);
  return PMR_OK;
}

int pmr__sorter_add_wire(pmr__sorter *s, const unsigned char *p, size_t n) {
  if (s->finished)
    return pmr__sorter_err(s, PMR_ESTATE, "pairs added after the sort");
  /* Count first, so the index grows once. */
  uint64_t pairs = 0;
  if (pmr__wire_whole(p, n, s->vsize, &pairs) != n)
    return pmr__sorter_err(s, PMR_EIO, "a malformed pair");
  int rc = pmr__sorter_maybe_spill(s, pairs, n);
  if (rc)
    return rc;
  if (pairs > SIZE_MAX || pmr__sorter_room(s, (size_t)pairs, n))
    return pmr__sorter_err(s, PMR_ENOMEM, "out of memory");
  size_t base = s->data.len, off = 0;
  if (n)
    memcpy(s->data.p + base, p, n);
  s->data.len += n;
  const unsigned char *k = NULL, *v = NULL, *e = p + n;
  size_t kl = 0, vl = 0;
  while (off < n) {
    size_t m = pmr__wire_get_v(p + off, e, s->vsize, &k, &kl, &v, &vl);
    s->ix[s->n++] = (pmr__sidx){pmr__prefix(k, kl), base + off};
    off += m;
  }
  return PMR_OK;
}

/* ---- sorting: a stable merge sort of the index ---- */

static inline void pmr__sorter_rec(const pmr__sorter *s, uint64_t off,
                                   pmr__rec *r) {
  const unsigned char *p = s->data.p + off;
  pmr__wire_get_v(p, s->data.p + s->data.len, s->vsize, &r->key, &r->klen,
                  &r->val, &r->vlen);
}

static inline int pmr__sidx_cmp(const pmr__sorter *s, const pmr__sidx *a,
                                const pmr__sidx *b) {
  if (s->key_first && a->prefix != b->prefix)
    return a->prefix < b->prefix ? -1 : 1;
  pmr__rec ra, rb;
  pmr__sorter_rec(s, a->off, &ra);
  pmr__sorter_rec(s, b->off, &rb);
  return s->cmp(&ra, &rb, s->cmp_user);
}

static void pmr__insertion(const pmr__sorter *s, pmr__sidx *a, size_t n) {
  for (size_t i = 1; i < n; i++) {
    pmr__sidx x = a[i];
    size_t j = i;
    while (j > 0 && pmr__sidx_cmp(s, &x, &a[j - 1]) < 0) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

/* Lay the pairs out in their sorted order, so that readers (a group set
 * mapped once per iteration of an iterative job) walk the buffer
 * sequentially instead of jumping through the index. Best effort: without
 * the memory for a copy the pairs stay where they are. */
static void pmr__sorter_compact(pmr__sorter *s) {
  size_t len = s->data.len;
  unsigned char *to = s->n ? pmr__malloc(len) : NULL;
  if (!to)
    return;
  const unsigned char *end = s->data.p + len;
  size_t o = 0;
  for (size_t i = 0; i < s->n; i++) {
    const unsigned char *p = s->data.p + s->ix[i].off;
    pmr__rec r;
    size_t n = pmr__wire_get_v(p, end, s->vsize, &r.key, &r.klen, &r.val,
                               &r.vlen);
    memcpy(to + o, p, n);
    s->ix[i].off = o;
    o += n;
  }
  pmr__free(s->data.p);
  s->data.p = to;
  s->data.cap = len;
}

/* Orders that compare key bytes first: the radix sort of the cached
 * prefixes (sort/radix.c), runs of equal prefixes by the order, instead of
 * the merge sort. *done says it ran. */
_Static_assert(sizeof(pmr__sidx) == sizeof(pmr__pfx), "index entry layout");
static int pmr__sorter_radix(pmr__sorter *s, bool *done) {
  size_t n = s->n;
  *done = false;
  if (pmr__radix_off || !s->key_first || n < 2)
    return PMR_OK;
  pmr__pfx *e = pmr__malloc(n * sizeof *e);
  if (!e)
    return pmr__sorter_err(s, PMR_ENOMEM, "out of memory sorting");
  memcpy(e, s->ix, n * sizeof *e);
  int rc = pmr__radix_pfx(e, n, s->data.p, s->data.len, s->vsize, s->cmp,
                          s->cmp_user);
  if (!rc)
    memcpy(s->ix, e, n * sizeof *e);
  pmr__free(e);
  if (rc)
    return pmr__sorter_err(s, rc, "out of memory sorting");
  *done = true;
  return PMR_OK;
}

static int pmr__sorter_sort(pmr__sorter *s) {
  bool radix = false;
  int rrc = pmr__sorter_radix(s, &radix);
  if (rrc || radix)
    return rrc;
  size_t n = s->n;
  enum { RUN = 24 };
  for (size_t i = 0; i < n; i += RUN)
    pmr__insertion(s, s->ix + i, n - i < RUN ? n - i : RUN);
  if (n > RUN) {
    pmr__sidx *tmp = pmr__malloc(n * sizeof *tmp);
    if (!tmp)
      return pmr__sorter_err(s, PMR_ENOMEM, "out of memory sorting");
    pmr__sidx *src = s->ix, *dst = tmp;
    for (size_t w = RUN; w < n; w *= 2) {
      for (size_t lo = 0; lo < n; lo += 2 * w) {
        size_t mid = lo + w < n ? lo + w : n;
        size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
        size_t i = lo, j = mid, o = lo;
        /* Already in order: copy the two halves as they are. */
        if (mid < hi && pmr__sidx_cmp(s, &src[mid - 1], &src[mid]) <= 0) {
          memcpy(dst + lo, src + lo, (hi - lo) * sizeof *dst);
          continue;
        }
        while (i < mid && j < hi)
          dst[o++] = pmr__sidx_cmp(s, &src[j], &src[i]) < 0 ? src[j++]
                                                            : src[i++];
        while (i < mid)
          dst[o++] = src[i++];
        while (j < hi)
          dst[o++] = src[j++];
      }
      pmr__sidx *t = src;
      src = dst;
      dst = t;
    }
    if (src != s->ix)
      memcpy(s->ix, src, n * sizeof *tmp);
    pmr__free(tmp);
  }
  return PMR_OK;
}

/* Sort what is held, write it as one run, and start over empty (keeping
 * the buffers). */
static int pmr__sorter_spill(pmr__sorter *s) {
  int rc = pmr__sorter_sort(s);
  if (!rc && s->file.fd < 0)
    rc = pmr__spill_open(s->ctx, &s->file);
  if (rc)
    return rc;
  void *p = s->runs;
  if (pmr__grow_array(&p, &s->rcap, s->nruns + 1, sizeof *s->runs, 16))
    return pmr__sorter_err(s, PMR_ENOMEM, "out of memory listing runs");
  s->runs = p;
  pmr__spill_writer w;
  size_t cap = s->memory / 8;
  rc = pmr__spill_writer_init(&w, &s->file,
                              cap > ((size_t)1 << 20) ? (size_t)1 << 20 : cap);
  uint64_t off = s->file.size;
  for (size_t i = 0; !rc && i < s->n; i++) {
    const unsigned char *p = s->data.p + s->ix[i].off, *k, *v;
    size_t kl, vl;
    size_t len = pmr__wire_get_v(p, s->data.p + s->data.len, s->vsize, &k,
                                 &kl, &v, &vl);
    rc = pmr__spill_writer_put(&w, p, len);
  }
  if (!rc)
    rc = pmr__spill_writer_flush(&w);
  pmr__spill_writer_free(&w);
  if (rc)
    return rc;
  s->runs[s->nruns++] = (pmr__spill_run){&s->file, off, s->file.size - off};
  s->spilled += s->file.size - off;
  s->run_pairs += s->n;
  s->n = 0;
  s->data.len = 0;
  return PMR_OK;
}

/* Before adding `pairs` pairs of `bytes`: spill what is held if it would
 * pass the sorter's memory. */
static int pmr__sorter_maybe_spill(pmr__sorter *s, uint64_t pairs,
                                   size_t bytes) {
  uint64_t held = (uint64_t)s->data.len + bytes +
                  (s->n + pairs) * (uint64_t)sizeof(pmr__sidx);
  if (!s->n || !s->memory || held <= s->memory)
    return PMR_OK;
  return pmr__sorter_spill(s);
}

int pmr__sorter_finish(pmr__sorter *s) {
  if (s->finished)
    return PMR_OK;
  int rc = pmr__sorter_sort(s);
  /* After a spill the rest is one more run, and memory is given back. */
  if (!rc && s->nruns && s->n)
    rc = pmr__sorter_spill(s);
  if (rc)
    return rc;
  if (s->nruns) {
    pmr__buf_free(&s->data);
    pmr__free(s->ix);
    s->ix = NULL;
    s->cap = 0;
  }
  if (!s->nruns)
    pmr__sorter_compact(s);
  s->finished = true;
  return PMR_OK;
}

uint64_t pmr__sorter_count(const pmr__sorter *s) {
  return s->run_pairs + s->n;
}
uint64_t pmr__sorter_bytes(const pmr__sorter *s) {
  return s->spilled + s->data.len;
}
uint64_t pmr__sorter_spilled(const pmr__sorter *s) { return s->spilled; }

/* ---- reading ---- */

/* The merge of the runs compares in the sorter's order. */
static int pmr__sorter_merge_cmp(const pmr__spill_rec *a,
                                 const pmr__spill_rec *b, void *user) {
  const pmr__sorter *s = user;
  pmr__rec x = {a->key, a->klen, a->val, a->vlen};
  pmr__rec y = {b->key, b->klen, b->val, b->vlen};
  return s->cmp(&x, &y, s->cmp_user);
}

int pmr__reader_open(const pmr__sorter *s, pmr__reader **out) {
  *out = NULL;
  if (!s->finished) {
#pragma omp critical(pmr__err)
    pmr__seterr(s->ctx, PMR_ESTATE, "sorter: read before the sort");
    return PMR_ESTATE;
  }
  pmr__reader *rd = pmr__calloc(1, sizeof *rd);
  if (!rd) {
#pragma omp critical(pmr__err)
    pmr__seterr(s->ctx, PMR_ENOMEM, "sorter: out of memory for a reader");
    return PMR_ENOMEM;
  }
  rd->s = s;
  if (s->nruns) {
    size_t per = s->memory / 2 / s->nruns;
    per = per < 4096 ? 4096 : per > ((size_t)1 << 20) ? (size_t)1 << 20 : per;
    int rc = pmr__spill_merge_open(s->ctx, s->runs, (int)s->nruns, s->vsize,
                                   pmr__sorter_merge_cmp, (void *)s, per,
                                   &rd->m);
    if (rc) {
      pmr__free(rd);
      return rc;
    }
  }
  *out = rd;
  return PMR_OK;
}

int pmr__reader_next(pmr__reader *rd, pmr__rec *r) {
  const pmr__sorter *s = rd->s;
  if (rd->m) {
    pmr__spill_rec x;
    int k = pmr__spill_merge_next(rd->m, &x);
    if (k == 1)
      *r = (pmr__rec){x.key, x.klen, x.val, x.vlen};
    return k;
  }
  if (rd->pos >= s->n)
    return 0;
  pmr__sorter_rec(s, s->ix[rd->pos++].off, r);
  return 1;
}

void pmr__reader_close(pmr__reader **rd) {
  if (!rd || !*rd)
    return;
  pmr__spill_merge_close(&(*rd)->m);
  pmr__free(*rd);
  *rd = NULL;
}
