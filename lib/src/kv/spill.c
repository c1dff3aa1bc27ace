/* Hash sets past the memory budget (see kv.h): map-side runs, receive-side
 * sorted runs, and the reduced streams that replace tables. */
#define _GNU_SOURCE /* qsort_r, madvise */
#include "kv/kv.h"
#include "shuffle/wire.h"
#include "spill/spill.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

/* A reduced stream record: [u64 klen][value, padded to 8][key, padded to
 * 8], so values are aligned for the callers that read them in place. */
#define PMR__PAD8(n) (((n) + 7) & ~(size_t)7)
/* One index entry per this many records (lookups scan at most a block). */
#define PMR__STREAM_BLOCK 64
/* Readers drop the pages of a stream this far behind them. */
#define PMR__STREAM_WINDOW ((size_t)4 << 20)

typedef struct pmr__kvthread {
  /* map side: runs sorted by hash */
  pmr__spill_file mfile;
  pmr__spill_run *mruns;
  size_t nm, mcap;
  /* receive side: runs sorted by key */
  pmr__spill_file rfile;
  pmr__spill_run *rruns;
  size_t nr, rcap;
  /* the reduced stream */
  pmr__spill_file sfile;
  unsigned char *map;
  size_t len;
  uint64_t count;
  uint64_t *index; /* offset of record i * PMR__STREAM_BLOCK */
  size_t nindex, icap;
} pmr__kvthread;

typedef struct pmr__kvspill pmr__kvspill;
struct pmr__kvspill {
  int n;
  pmr__kvthread *th;
  pmr__spill_run *all; /* the map runs of every thread, gathered */
};

size_t pmr__kv_map_share(const pmr_kv *kv) {
  /* Half the budget for the tables of the map; the rest is input chunks,
   * the spill buffers and the sort of a spilled table. */
  return kv->ctx->memory / 2 / (size_t)kv->ctx->nthreads;
}
size_t pmr__kv_recv_share(const pmr_kv *kv) {
  /* The exchange's buffers take up to half of the budget; the map's tables
   * are gone by then. */
  return kv->ctx->memory / 2 / (size_t)kv->ctx->nthreads;
}

/* Spill buffers: a small part of a share. */
static size_t pmr__spill_buf(const pmr_kv *kv) {
  size_t b = kv->ctx->memory / 32 / (size_t)kv->ctx->nthreads;
  return b < 65536 ? 65536 : b > ((size_t)1 << 20) ? (size_t)1 << 20 : b;
}

int pmr__kv_spill_prepare(pmr_kv *kv, int nt) {
  pmr__kvspill *s = kv->spill;
  if (s && s->n >= nt)
    return PMR_OK;
  if (!s) {
    s = pmr__calloc(1, sizeof *s);
    if (!s)
      return PMR_ENOMEM;
    kv->spill = s;
  }
  pmr__kvthread *th = pmr__realloc(s->th, (size_t)nt * sizeof *th);
  if (!th)
    return PMR_ENOMEM;
  for (int t = s->n; t < nt; t++) {
    memset(&th[t], 0, sizeof th[t]);
    pmr__spill_init(&th[t].mfile);
    pmr__spill_init(&th[t].rfile);
    pmr__spill_init(&th[t].sfile);
  }
  /* The array may have moved: runs point at their thread's files. */
  for (int t = 0; t < s->n; t++) {
    for (size_t i = 0; i < th[t].nm; i++)
      th[t].mruns[i].f = &th[t].mfile;
    for (size_t i = 0; i < th[t].nr; i++)
      th[t].rruns[i].f = &th[t].rfile;
  }
  s->th = th;
  s->n = nt;
  return PMR_OK;
}

static void pmr__stream_free(pmr__kvthread *th) {
  if (th->map)
    munmap(th->map, th->len);
  th->map = NULL;
  th->len = 0;
  th->count = 0;
  pmr__free(th->index);
  th->index = NULL;
  th->nindex = th->icap = 0;
  pmr__spill_close(&th->sfile);
}

int pmr__kv_spill_threads(const pmr_kv *kv) {
  return kv->spill ? kv->spill->n : 0;
}

void pmr__kv_spill_map_free(pmr_kv *kv) {
  pmr__kvspill *s = kv->spill;
  if (!s)
    return;
  for (int t = 0; t < s->n; t++) {
    pmr__spill_close(&s->th[t].mfile);
    pmr__free(s->th[t].mruns);
    s->th[t].mruns = NULL;
    s->th[t].nm = s->th[t].mcap = 0;
  }
  pmr__free(s->all);
  s->all = NULL;
}

void pmr__kv_spill_free(pmr_kv *kv) {
  pmr__kvspill *s = kv->spill;
  if (!s)
    return;
  pmr__kv_spill_map_free(kv);
  for (int t = 0; t < s->n; t++) {
    pmr__spill_close(&s->th[t].rfile);
    pmr__free(s->th[t].rruns);
    pmr__stream_free(&s->th[t]);
  }
  pmr__free(s->th);
  pmr__free(s);
  kv->spill = NULL;
}

/* ---- sorting a table's pairs ---- */

/* LSD radix sort of (top 32 bits of the hash << 32 | slot) by the top 32
 * bits. */
static void pmr__radix32(uint64_t *a, uint64_t *tmp, size_t n) {
  for (unsigned shift = 32; shift < 64; shift += 8) {
    size_t cnt[257] = {0};
    for (size_t i = 0; i < n; i++)
      cnt[((a[i] >> shift) & 0xff) + 1]++;
    for (int i = 0; i < 256; i++)
      cnt[i + 1] += cnt[i];
    for (size_t i = 0; i < n; i++)
      tmp[cnt[(a[i] >> shift) & 0xff]++] = a[i];
    uint64_t *x = a;
    a = tmp;
    tmp = x;
  }
  /* Four passes: the result is back in the caller's `a`. */
}

static int pmr__run_add(pmr__spill_run **runs, size_t *n, size_t *cap,
                        const pmr__spill_file *f, uint64_t off,
                        uint64_t len) {
  void *p = *runs;
  if (pmr__grow_array(&p, cap, *n + 1, sizeof **runs, 16))
    return PMR_ENOMEM;
  *runs = p;
  (*runs)[(*n)++] = (pmr__spill_run){f, off, len};
  return PMR_OK;
}

/* The slot index of entry i of a sorted array. */
typedef uint32_t (*pmr__slot_of)(const void *order, size_t i);

/* Write the slots listed in `order` as one run of wire pairs appended to
 * f. */
static int pmr__write_slots(pmr_kv *kv, const pmr__table *tab,
                            const void *order, pmr__slot_of slot_of, size_t n,
                            pmr__spill_file *f, pmr__spill_run **runs,
                            size_t *nruns, size_t *cap) {
  pmr__spill_writer w;
  int rc = pmr__spill_writer_init(&w, f, pmr__spill_buf(kv));
  if (rc)
    return rc;
  uint64_t off = pmr__spill_writer_tell(&w);
  for (size_t i = 0; i < n && !rc; i++) {
    /* The slots are read in sort order, not memory order: ask for the
     * ones a few entries ahead early. */
    if (i + 8 < n)
      __builtin_prefetch(&tab->slots[slot_of(order, i + 8)]);
    pmr__slot *s = &tab->slots[slot_of(order, i)];
    size_t kl;
    const unsigned char *k = pmr__slot_key(tab, s, &kl);
    size_t len = pmr__wire_len(kl, kv->vsize);
    unsigned char *d = pmr__spill_writer_room(&w, len);
    if (!d)
      rc = w.err;
    else
      pmr__spill_writer_wrote(&w, pmr__wire_put(d, k, kl,
                                                pmr__slot_value(tab, s),
                                                kv->vsize));
  }
  if (!rc)
    rc = pmr__spill_writer_flush(&w);
  pmr__spill_writer_free(&w);
  uint64_t end = f->size;
  if (!rc && end > off &&
      pmr__run_add(runs, nruns, cap, f, off, end - off))
    rc = pmr__spill_seterr(kv->ctx, PMR_ENOMEM,
                           "out of memory listing spill runs");
  return rc;
}

static int pmr__open_if(pmr_kv *kv, pmr__spill_file *f) {
  return f->fd >= 0 ? PMR_OK : pmr__spill_open(kv->ctx, f);
}

static uint32_t pmr__slot_of_u64(const void *order, size_t i) {
  return (uint32_t)((const uint64_t *)order)[i];
}

int pmr__kv_spill_map(pmr_kv *kv, int t) {
  pmr__kvthread *th = &kv->spill->th[t];
  pmr__table *tab = &kv->tables[t];
  size_t n = (size_t)tab->count;
  if (!n)
    return PMR_OK;
  int rc = pmr__open_if(kv, &th->mfile);
  if (rc)
    return rc;
  uint64_t *a = pmr__malloc(2 * n * sizeof *a);
  if (!a)
    return pmr__spill_seterr(kv->ctx, PMR_ENOMEM,
                             "out of memory sorting a table to spill");
  size_t j = 0;
  for (uint64_t i = 0; i <= tab->mask; i++)
    if (tab->slots[i].klen1)
      a[j++] = (tab->slots[i].hash & 0xffffffff00000000ull) | i;
  pmr__radix32(a, a + n, n);
  rc = pmr__write_slots(kv, tab, a, pmr__slot_of_u64, n, &th->mfile,
                        &th->mruns, &th->nm,
                        &th->mcap);
  pmr__free(a);
  if (!rc)
    pmr__table_clear(tab);
  return rc;
}

bool pmr__kv_map_spilled(const pmr_kv *kv) {
  const pmr__kvspill *s = kv->spill;
  for (int t = 0; s && t < s->n; t++)
    if (s->th[t].nm)
      return true;
  return false;
}

const pmr__spill_run *pmr__kv_map_runs(const pmr_kv *kv, int *n) {
  pmr__kvspill *s = kv->spill;
  *n = 0;
  if (!s)
    return NULL;
  size_t total = 0;
  for (int t = 0; t < s->n; t++)
    total += s->th[t].nm;
  pmr__free(s->all);
  s->all = total ? pmr__malloc(total * sizeof *s->all) : NULL;
  if (!s->all)
    return NULL;
  size_t k = 0;
  for (int t = 0; t < s->n; t++)
    for (size_t i = 0; i < s->th[t].nm; i++)
      s->all[k++] = s->th[t].mruns[i];
  *n = (int)k;
  return s->all;
}

/* Receive side: sort by key. Entries carry the first 8 key bytes
 * (big-endian) so most comparisons need no second look. */
typedef struct pmr__kent {
  uint64_t pre;
  uint32_t slot;
} pmr__kent;

static int pmr__kent_cmp(const void *a, const void *b, void *user) {
  const pmr__kent *x = a, *y = b;
  if (x->pre != y->pre)
    return x->pre < y->pre ? -1 : 1;
  const pmr__table *tab = user;
  pmr__spill_rec rx, ry;
  rx.key = pmr__slot_key(tab, &tab->slots[x->slot], &rx.klen);
  ry.key = pmr__slot_key(tab, &tab->slots[y->slot], &ry.klen);
  return pmr__spill_cmp_key_only(&rx, &ry, NULL);
}

static uint32_t pmr__slot_of_kent(const void *order, size_t i) {
  return ((const pmr__kent *)order)[i].slot;
}

static int pmr__dump_sorted(pmr_kv *kv, pmr__kvthread *th, pmr__table *tab) {
  size_t n = (size_t)tab->count;
  if (!n)
    return PMR_OK;
  int rc = pmr__open_if(kv, &th->rfile);
  if (rc)
    return rc;
  pmr__kent *e = pmr__malloc(n * sizeof *e);
  if (!e)
    return pmr__spill_seterr(kv->ctx, PMR_ENOMEM,
                             "out of memory sorting a table to spill");
  size_t j = 0;
  for (uint64_t i = 0; i <= tab->mask; i++) {
    if (!tab->slots[i].klen1)
      continue;
    size_t kl;
    const unsigned char *k = pmr__slot_key(tab, &tab->slots[i], &kl);
    unsigned char b[8] = {0};
    memcpy(b, k, kl < 8 ? kl : 8);
    uint64_t pre = 0;
    for (int q = 0; q < 8; q++)
      pre = pre << 8 | b[q];
    e[j++] = (pmr__kent){pre, (uint32_t)i};
  }
  qsort_r(e, n, sizeof *e, pmr__kent_cmp, tab);
  rc = pmr__write_slots(kv, tab, e, pmr__slot_of_kent, n, &th->rfile,
                        &th->rruns, &th->nr, &th->rcap);
  pmr__free(e);
  if (!rc)
    pmr__table_clear(tab);
  return rc;
}

int pmr__kv_spill_recv(pmr_kv *kv, int t, pmr__table *tab) {
  return pmr__dump_sorted(kv, &kv->spill->th[t], tab);
}

bool pmr__kv_recv_spilled(const pmr_kv *kv, int t) {
  return kv->spill && t < kv->spill->n && kv->spill->th[t].nr > 0;
}

/* ---- the reduced stream ---- */

static int pmr__stream_put(pmr_kv *kv, pmr__kvthread *th,
                           pmr__spill_writer *w, const unsigned char *key,
                           size_t klen, const unsigned char *val) {
  size_t vs = PMR__PAD8(kv->vsize), ks = PMR__PAD8(klen);
  if (th->count % PMR__STREAM_BLOCK == 0) {
    void *p = th->index;
    if (pmr__grow_array(&p, &th->icap, th->nindex + 1, sizeof *th->index,
                        64))
      return pmr__spill_seterr(kv->ctx, PMR_ENOMEM,
                               "out of memory indexing a spill file");
    th->index = p;
    th->index[th->nindex++] = pmr__spill_writer_tell(w);
  }
  unsigned char *d = pmr__spill_writer_room(w, 8 + vs + ks);
  if (!d)
    return w->err;
  uint64_t k64 = klen;
  memcpy(d, &k64, 8);
  memcpy(d + 8, val, kv->vsize);
  memset(d + 8 + kv->vsize, 0, vs - kv->vsize);
  if (klen)
    memcpy(d + 8 + vs, key, klen);
  memset(d + 8 + vs + klen, 0, ks - klen);
  pmr__spill_writer_wrote(w, 8 + vs + ks);
  th->count++;
  return PMR_OK;
}

int pmr__kv_stream_build(pmr_kv *kv, int t, pmr__table *tab) {
  pmr__kvthread *th = &kv->spill->th[t];
  int rc = pmr__dump_sorted(kv, th, tab);
  pmr__table_free(tab);
  if (!rc)
    rc = pmr__spill_open(kv->ctx, &th->sfile);
  if (rc)
    return rc;
  size_t per = pmr__kv_recv_share(kv) / (th->nr ? th->nr : 1);
  per = per < 16384 ? 16384 : per > ((size_t)1 << 20) ? (size_t)1 << 20 : per;
  pmr__spill_merge *m = NULL;
  rc = pmr__spill_merge_open(kv->ctx, th->rruns, (int)th->nr, kv->vsize,
                             pmr__spill_cmp_key_only, NULL, per, &m);
  pmr__spill_writer w = {0};
  if (!rc)
    rc = pmr__spill_writer_init(&w, &th->sfile, pmr__spill_buf(kv));
  /* Equal keys are adjacent: fold them into one accumulator. */
  pmr__buf key = {0};
  unsigned char *acc = rc ? NULL : pmr__malloc(kv->vsize);
  if (!rc && !acc)
    rc = pmr__spill_seterr(kv->ctx, PMR_ENOMEM, "out of memory merging");
  bool have = false;
  pmr__spill_rec r;
  int k = 0;
  while (!rc && (k = pmr__spill_merge_next(m, &r)) == 1) {
    if (have && r.klen == key.len && !memcmp(r.key, key.p, r.klen)) {
      pmr__kv_merge(kv, acc, r.val);
      continue;
    }
    if (have)
      rc = pmr__stream_put(kv, th, &w, key.p, key.len, acc);
    key.len = 0;
    if (!rc && pmr__buf_put(&key, r.key, r.klen))
      rc = pmr__spill_seterr(kv->ctx, PMR_ENOMEM, "out of memory merging");
    memcpy(acc, r.val, kv->vsize);
    have = true;
  }
  if (!rc && k < 0)
    rc = -k;
  if (!rc && have)
    rc = pmr__stream_put(kv, th, &w, key.p, key.len, acc);
  if (!rc)
    rc = pmr__spill_writer_flush(&w);
  pmr__spill_writer_free(&w);
  pmr__spill_merge_close(&m);
  pmr__buf_free(&key);
  pmr__free(acc);
  /* The runs are merged: their file goes. */
  pmr__spill_close(&th->rfile);
  pmr__free(th->rruns);
  th->rruns = NULL;
  th->nr = th->rcap = 0;
  if (!rc && th->sfile.size) {
    th->len = (size_t)th->sfile.size;
    void *p = mmap(NULL, th->len, PROT_READ, MAP_SHARED, th->sfile.fd, 0);
    if (p == MAP_FAILED) {
      th->len = 0;
      rc = pmr__spill_seterr(kv->ctx, PMR_ENOMEM,
                             "spill file in '%s': cannot map %zu bytes",
                             kv->ctx->tmpdir, (size_t)th->sfile.size);
    } else {
      th->map = p;
    }
  }
  if (rc)
    pmr__stream_free(th);
  return rc;
}

uint64_t pmr__kv_stream_count(const pmr_kv *kv) {
  uint64_t n = 0;
  for (int t = 0; kv->spill && t < kv->spill->n; t++)
    n += kv->spill->th[t].count;
  return n;
}

bool pmr__kv_streamed(const pmr_kv *kv) {
  for (int t = 0; kv->spill && t < kv->spill->n; t++)
    if (kv->spill->th[t].sfile.fd >= 0)
      return true;
  return false;
}

static size_t pmr__stream_rec(const pmr_kv *kv, const unsigned char *p,
                              pmr__pair *r) {
  uint64_t kl;
  memcpy(&kl, p, 8);
  size_t vs = PMR__PAD8(kv->vsize);
  r->hash = 0;
  r->klen = (size_t)kl;
  r->value = (unsigned char *)p + 8;
  r->key = p + 8 + vs;
  return 8 + vs + PMR__PAD8((size_t)kl);
}

bool pmr__kv_stream_next(const pmr_kv *kv, int t, size_t *pos,
                         pmr__pair *p) {
  if (!kv->spill || t >= kv->spill->n)
    return false;
  const pmr__kvthread *th = &kv->spill->th[t];
  if (!th->map || *pos >= th->len)
    return false;
  size_t at = *pos;
  *pos += pmr__stream_rec(kv, th->map + at, p);
  /* Entering a new window: the pages two windows back are read; drop
   * them from this process (they come back from the file if needed). */
  size_t W = PMR__STREAM_WINDOW;
  if (at / W != *pos / W && *pos / W >= 2)
    madvise(th->map + (*pos / W - 2) * W, W, MADV_DONTNEED);
  return true;
}

size_t pmr__kv_stream_blocks(const pmr_kv *kv, int t) {
  if (!kv->spill || t >= kv->spill->n || !kv->spill->th[t].map)
    return 0;
  return kv->spill->th[t].nindex;
}

uint64_t pmr__kv_stream_block(const pmr_kv *kv, int t, size_t i) {
  const pmr__kvthread *th = &kv->spill->th[t];
  return i < th->nindex ? th->index[i] : th->len;
}

const void *pmr__kv_stream_find(const pmr_kv *kv, const void *key,
                                size_t klen) {
  pmr__spill_rec q = {key, klen, NULL, 0};
  for (int t = 0; kv->spill && t < kv->spill->n; t++) {
    const pmr__kvthread *th = &kv->spill->th[t];
    if (!th->map || !th->nindex)
      continue;
    /* The last block whose first key is <= key. */
    size_t lo = 0, hi = th->nindex;
    while (hi - lo > 1) {
      size_t mid = lo + (hi - lo) / 2;
      pmr__pair r;
      pmr__stream_rec(kv, th->map + th->index[mid], &r);
      pmr__spill_rec x = {r.key, r.klen, NULL, 0};
      if (pmr__spill_cmp_key_only(&x, &q, NULL) <= 0)
        lo = mid;
      else
        hi = mid;
    }
    size_t pos = (size_t)th->index[lo];
    for (int i = 0; i < PMR__STREAM_BLOCK && pos < th->len; i++) {
      pmr__pair r;
      pos += pmr__stream_rec(kv, th->map + pos, &r);
      pmr__spill_rec x = {r.key, r.klen, NULL, 0};
      int c = pmr__spill_cmp_key_only(&x, &q, NULL);
      if (c == 0)
        return r.value;
      if (c > 0)
        break;
    }
  }
  return NULL;
}
