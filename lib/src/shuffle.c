/* Reduce: partition the pairs by hash over the ranks, exchange them in
 * rounds bounded by the memory budget, and combine what arrives. */
#include "table_inline.h"

#include <limits.h>
#include <omp.h>
#include <stdlib.h>

/* Wire format of one pair: [varint klen][key][value, vsize bytes]. */

/* Per-source reassembly: a pair may be split between two rounds. */
typedef struct pmr__pending {
  unsigned char *buf;
  size_t len, cap;
} pmr__pending;

static int pmr__pending_append(pmr__pending *p, const unsigned char *d,
                               size_t n) {
  if (p->len + n > p->cap) {
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + n)
      cap *= 2;
    unsigned char *b = realloc(p->buf, cap);
    if (!b)
      return PMR_ENOMEM;
    p->buf = b;
    p->cap = cap;
  }
  memcpy(p->buf + p->len, d, n);
  p->len += n;
  return PMR_OK;
}

/* Length of the prefix of [p, p+n) made of whole pairs. */
static size_t pmr__whole_pairs(const unsigned char *p, size_t n,
                               size_t vsize, uint64_t *npairs) {
  size_t off = 0;
  uint64_t k = 0;
  while (off < n) {
    uint64_t kl = 0;
    size_t h = pmr__varint_get(p + off, p + n, &kl);
    if (!h || kl + vsize > n - off - h)
      break;
    off += h + (size_t)kl + vsize;
    k++;
  }
  *npairs += k;
  return off;
}

typedef struct pmr__seg {
  const unsigned char *p;
  size_t n;
} pmr__seg;

/* Each thread inserts the pairs whose hash falls in its sub-range, so the
 * tables need no locks and end up with disjoint keys. */
static int pmr__absorb(pmr_kv *kv, pmr__table *tabs, const pmr__seg *segs,
                       int nseg) {
  int nt = kv->ctx->nthreads, nranks = kv->ctx->size, status = PMR_OK;
  size_t vsize = kv->vsize;
#pragma omp parallel num_threads(nt)
  {
    int tid = omp_get_thread_num(), st = PMR_OK;
    pmr__table *t = &tabs[tid];
    for (int s = 0; s < nseg && !st; s++) {
      const unsigned char *p = segs[s].p, *e = p + segs[s].n;
      while (p < e) {
        uint64_t kl = 0;
        p += pmr__varint_get(p, e, &kl);
        const unsigned char *key = p, *val = p + kl;
        p += kl + vsize;
        uint64_t h = pmr__hash(key, (size_t)kl);
        if (nt > 1 && pmr__hash_thread(h, nranks, nt) != tid)
          continue;
        bool isnew;
        void *v = pmr__table_upsert(t, h, key, (size_t)kl, &isnew);
        if (!v) {
          st = PMR_ENOMEM;
          break;
        }
        if (isnew)
          memcpy(v, val, vsize);
        else
          pmr__kv_merge(kv, v, val);
      }
    }
    if (st) {
#pragma omp atomic write
      status = st;
    }
  }
  return status;
}

int pmr_kv_reduce(pmr_kv *kv) {
  if (!kv)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  double t0 = pmr__now();
  int P = ctx->size, nt = ctx->nthreads, rc = PMR_OK;
  size_t vsize = kv->vsize;
  int src_tables = kv->ntables;

  /* 1. Size each (table, destination) region, then lay the send buffer out
   * by destination and fill it, each thread its own tables. */
  uint64_t *sz = calloc((size_t)(src_tables ? src_tables : 1) * (size_t)P,
                        sizeof *sz);
  uint64_t *dst_bytes = calloc((size_t)P, sizeof *dst_bytes);
  uint64_t *dst_off = calloc((size_t)P + 1, sizeof *dst_off);
  unsigned char *sbuf = NULL;
  if (!sz || !dst_bytes || !dst_off)
    rc = PMR_ENOMEM;
  if (!rc) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int t = 0; t < src_tables; t++) {
      const pmr__table *tab = &kv->tables[t];
      pmr__rec r;
      for (size_t pos = 0; pmr__table_next(tab, &pos, &r);) {
        int d = pmr__hash_rank(r.hash, P);
        sz[(size_t)t * P + d] += pmr__varint_len(r.klen) + r.klen + vsize;
      }
    }
    for (int d = 0; d < P; d++) {
      for (int t = 0; t < src_tables; t++)
        dst_bytes[d] += sz[(size_t)t * P + d];
      dst_off[d + 1] = dst_off[d] + dst_bytes[d];
    }
    sbuf = malloc(dst_off[P] ? dst_off[P] : 1);
    if (!sbuf)
      rc = PMR_ENOMEM;
  }
  if (!rc) {
    /* Where table t starts writing for destination d. */
    for (int d = 0; d < P; d++) {
      uint64_t o = dst_off[d];
      for (int t = 0; t < src_tables; t++) {
        uint64_t n = sz[(size_t)t * P + d];
        sz[(size_t)t * P + d] = o;
        o += n;
      }
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int t = 0; t < src_tables; t++) {
      pmr__table *tab = &kv->tables[t];
      uint64_t *w = &sz[(size_t)t * P];
      pmr__rec r;
      for (size_t pos = 0; pmr__table_next(tab, &pos, &r);) {
        int d = pmr__hash_rank(r.hash, P);
        unsigned char *p = sbuf + w[d];
        p += pmr__varint_put(p, r.klen);
        memcpy(p, r.key, r.klen);
        memcpy(p + r.klen, r.value, vsize);
        w[d] += pmr__varint_len(r.klen) + r.klen + vsize;
      }
      pmr__table_free(tab); /* free as we go: bounds the peak */
    }
  }
  free(sz);
  if (rc)
    pmr__seterr(ctx, rc, "out of memory preparing the shuffle");
  rc = pmr__agree(ctx, rc);
  if (rc) {
    free(sbuf);
    free(dst_bytes);
    free(dst_off);
    return rc;
  }

  /* 2. Rounds: at most `quota` bytes from each rank to each rank, so a
   * round's receive buffer is at most a quarter of the budget and every
   * count and displacement fits an int. */
  size_t round_bytes = ctx->memory / 4;
  uint64_t quota = round_bytes / (size_t)P;
  if (quota > (uint64_t)(INT_MAX / P))
    quota = (uint64_t)(INT_MAX / P);
  if (quota < 4096)
    quota = 4096;
  uint64_t my_rounds = 0, rounds = 0;
  for (int d = 0; d < P; d++) {
    uint64_t r = (dst_bytes[d] + quota - 1) / quota;
    if (r > my_rounds)
      my_rounds = r;
  }
  if (MPI_Allreduce(&my_rounds, &rounds, 1, MPI_UINT64_T, MPI_MAX,
                    ctx->comm) != MPI_SUCCESS)
    rc = pmr__seterr(ctx, PMR_EMPI, "MPI_Allreduce failed in the shuffle");

  int *scount = malloc((size_t)P * sizeof(int)),
      *sdispl = malloc((size_t)P * sizeof(int)),
      *rcount = malloc((size_t)P * sizeof(int)),
      *rdispl = malloc((size_t)P * sizeof(int));
  uint64_t *sent = calloc((size_t)P, sizeof *sent);
  pmr__pending *pend = calloc((size_t)P, sizeof *pend);
  pmr__seg *segs = malloc((size_t)P * sizeof *segs);
  pmr__table *out = calloc((size_t)nt, sizeof *out);
  size_t *whole = malloc((size_t)P * sizeof *whole);
  unsigned char *rbuf = NULL, *rsend = NULL;
  size_t rbuf_cap = 0;
  if (!rc && (!scount || !sdispl || !rcount || !rdispl || !sent || !pend ||
              !segs || !out || !whole))
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory in the shuffle");
  if (!rc) {
    size_t cap = (size_t)(quota * (uint64_t)P);
    uint64_t mine = dst_off[P];
    rsend = malloc(mine < cap ? (mine ? mine : 1) : cap);
    if (!rsend)
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for shuffle buffers");
  }
  for (int t = 0; out && t < nt; t++)
    pmr__table_init(&out[t], vsize);
  rc = pmr__agree(ctx, rc);

  uint64_t received_pairs = 0;
  double t_absorb = 0;
  for (uint64_t round = 0; !rc && round < rounds; round++) {
    int o = 0;
    for (int d = 0; d < P; d++) {
      uint64_t left = dst_bytes[d] - sent[d];
      int n = (int)(left < quota ? left : quota);
      memcpy(rsend + o, sbuf + dst_off[d] + sent[d], (size_t)n);
      sent[d] += (uint64_t)n;
      scount[d] = n;
      sdispl[d] = o;
      o += n;
    }
    int mrc = MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, ctx->comm);
    int r_o = 0;
    for (int s = 0; s < P; s++) {
      rdispl[s] = r_o;
      r_o += rcount[s];
    }
    /* The receive buffer grows to the largest round actually seen. */
    int brc = PMR_OK;
    if (mrc == MPI_SUCCESS && (size_t)r_o > rbuf_cap) {
      unsigned char *nb = realloc(rbuf, (size_t)r_o);
      if (nb) {
        rbuf = nb;
        rbuf_cap = (size_t)r_o;
      } else {
        brc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for shuffle "
                                           "buffers");
      }
    }
    if (mrc == MPI_SUCCESS && (rc = pmr__agree(ctx, brc)))
      break;
    if (mrc == MPI_SUCCESS)
      mrc = MPI_Alltoallv(rsend, scount, sdispl, MPI_BYTE, rbuf, rcount,
                          rdispl, MPI_BYTE, ctx->comm);
    if (mrc != MPI_SUCCESS) {
      rc = pmr__agree(ctx, pmr__mpierr(ctx, mrc, "shuffle exchange"));
      break;
    }
    ctx->stats.shuffled_bytes += (uint64_t)o;
    ctx->stats.shuffle_rounds++;
    /* Whole pairs go to the tables now; a split pair waits for the rest. */
    int lrc = PMR_OK;
    double ta = pmr__now();
    for (int s = 0; s < P && !lrc; s++) {
      const unsigned char *d = rbuf + rdispl[s];
      size_t n = (size_t)rcount[s];
      if (pend[s].len) {
        if (pmr__pending_append(&pend[s], d, n))
          lrc = PMR_ENOMEM;
        d = pend[s].buf;
        n = pend[s].len;
      }
      whole[s] = pmr__whole_pairs(d, n, vsize, &received_pairs);
      segs[s].p = d;
      segs[s].n = whole[s];
    }
    if (!lrc && round == 0) {
      /* Size the tables once for what the first round suggests. */
      uint64_t guess = received_pairs * (rounds > 1 ? rounds : 1) /
                       (2 * (uint64_t)nt);
      for (int t = 0; t < nt && !lrc; t++)
        lrc = pmr__table_reserve(&out[t], guess);
    }
    if (!lrc)
      lrc = pmr__absorb(kv, out, segs, P);
    t_absorb += pmr__now() - ta;
    for (int s = 0; s < P && !lrc; s++) {
      const unsigned char *d = segs[s].p + whole[s];
      size_t n = (size_t)(pend[s].len ? pend[s].len : (size_t)rcount[s]) -
                 whole[s];
      if (pend[s].len) {
        memmove(pend[s].buf, d, n);
        pend[s].len = n;
      } else if (n && pmr__pending_append(&pend[s], d, n)) {
        lrc = PMR_ENOMEM;
      }
    }
    if (lrc)
      pmr__seterr(ctx, lrc, "out of memory combining shuffled pairs");
    rc = pmr__agree(ctx, lrc);
  }
  for (int s = 0; !rc && s < P; s++)
    if (pend[s].len)
      rc = pmr__seterr(ctx, PMR_EIO, "shuffle: %zu stray bytes from rank %d",
                       pend[s].len, s);
  rc = pmr__agree(ctx, rc);

  free(sbuf);
  free(rbuf);
  free(rsend);
  free(scount);
  free(sdispl);
  free(rcount);
  free(rdispl);
  free(sent);
  free(dst_bytes);
  free(dst_off);
  for (int s = 0; pend && s < P; s++)
    free(pend[s].buf);
  free(pend);
  free(segs);
  free(whole);
  /* The old tables were freed while packing; the set now holds the reduced
   * tables (or nothing, after an error). */
  for (int t = 0; t < kv->ntables; t++)
    pmr__table_free(&kv->tables[t]);
  free(kv->tables);
  kv->tables = out;
  kv->ntables = out ? nt : 0;
  if (rc) {
    for (int t = 0; t < kv->ntables; t++)
      pmr__table_free(&kv->tables[t]);
  }
  kv->reduced = rc == PMR_OK;
  double t2 = pmr__now();
  ctx->stats.seconds[PMR_PHASE_SHUFFLE] += t2 - t0 - t_absorb;
  ctx->stats.seconds[PMR_PHASE_REDUCE] += t_absorb;
  pmr__log(ctx, PMR_LOG_DEBUG, "reduce: %llu rounds, %llu pairs received",
           (unsigned long long)rounds, (unsigned long long)received_pairs);
  return rc;
}
