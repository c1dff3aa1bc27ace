/* The sample sort: rank r ends with the r-th range of a global order, each
 * range cut into one sub-range per thread of r.
 *
 * 1. Every rank sorts its pairs (recsort.c) and takes s regular samples,
 *    sample i at position floor(i n / s), weighing the pairs up to the next
 *    sample. s grows with the buckets (128 per bucket: the estimate of a
 *    splitter's global position is off by at most the sum over ranks of one
 *    sample's weight, N / s, so each range is within about 2 x nb / s =
 *    1.6% of its target), capped so that rank 0 holds at most about 2^22.
 * 2. Rank 0 gathers the samples and sorts them in the total order (cmp,
 *    rank, position); sample i's global position is estimated by the weight
 *    before it; the splitter of a bucket is the first sample whose estimate
 *    reaches the bucket's target start. Rank 0 broadcasts the splitters with
 *    their rank and position: pairs equal under cmp are still ordered (by
 *    where they are), so a key that holds half of all pairs is cut like any
 *    other run and spread over the ranks.
 * 3. Each rank cuts its sorted array at the splitters (binary search), lays
 *    the pieces out as runs (rank, thread) and sends them with the shuffle's
 *    exchange (rounds within the memory budget; no int count overflows).
 * Byte counts are 64-bit throughout; collectives of more than `chunk` bytes
 * (INT_MAX) go in pieces. */
#include "sort/samplesort.h"
#include "shuffle/wire.h"

#include <limits.h>
#include <math.h>
#include <omp.h>

/* The largest piece of one collective (a test lowers it to exercise the
 * pieces). */
size_t pmr__ssort_chunk = INT_MAX;

/* ---- orders ---- */

static int pmr__bcmp(const unsigned char *a, size_t an, const unsigned char *b,
                     size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? memcmp(a, b, n) : 0;
  if (c)
    return c;
  return an < bn ? -1 : an > bn;
}

int pmr__ord_key(const pmr__rec *a, const pmr__rec *b, void *user) {
  (void)user;
  int c = pmr__bcmp(a->key, a->klen, b->key, b->klen);
  return c ? c : pmr__bcmp(a->val, a->vlen, b->val, b->vlen);
}
int pmr__ord_key_desc(const pmr__rec *a, const pmr__rec *b, void *user) {
  return pmr__ord_key(b, a, user);
}

/* Values as 8-byte int64 / double columns, first column first (NaN after
 * every number; -0.0 and 0.0 equal), then key bytes, then value bytes. */
int pmr__ord_value(const pmr__rec *a, const pmr__rec *b, void *user) {
  pmr_dtype dt = *(const pmr_dtype *)user;
  int c = 0;
  if (dt == PMR_INT64 || dt == PMR_FLOAT64) {
    size_t m = (a->vlen < b->vlen ? a->vlen : b->vlen) / 8;
    for (size_t i = 0; i < m && !c; i++) {
      if (dt == PMR_INT64) {
        int64_t x, y;
        memcpy(&x, a->val + 8 * i, 8);
        memcpy(&y, b->val + 8 * i, 8);
        c = x < y ? -1 : x > y;
      } else {
        double x, y;
        memcpy(&x, a->val + 8 * i, 8);
        memcpy(&y, b->val + 8 * i, 8);
        bool xn = isnan(x), yn = isnan(y);
        c = xn || yn ? (int)xn - (int)yn : (x < y ? -1 : x > y);
      }
    }
  } else {
    c = pmr__bcmp(a->val, a->vlen, b->val, b->vlen);
  }
  if (!c)
    c = pmr__bcmp(a->key, a->klen, b->key, b->klen);
  return c ? c : pmr__bcmp(a->val, a->vlen, b->val, b->vlen);
}
int pmr__ord_value_desc(const pmr__rec *a, const pmr__rec *b, void *user) {
  return pmr__ord_value(b, a, user);
}

int pmr__ord_user(const pmr__rec *a, const pmr__rec *b, void *user) {
  const pmr__order_user *u = user;
  return u->fn(a->key, a->klen, a->val, a->vlen, b->key, b->klen, b->val,
               b->vlen, u->user);
}

/* ---- collectives of any size ---- */

/* Gather n bytes of every rank to root, rank by rank: *rbuf (root's, owned
 * by the caller), counts[P] and displs[P] (root). Agreed. */
static int pmr__gather_big(pmr_ctx *ctx, const unsigned char *sbuf,
                           uint64_t n, int root, unsigned char **rbuf,
                           uint64_t *counts, uint64_t *displs) {
  int P = ctx->size, rc = PMR_OK;
  bool isroot = ctx->rank == root;
  *rbuf = NULL;
  rc = pmr__agree_mpi(ctx,
                      MPI_Gather(&n, 1, MPI_UINT64_T, counts, 1, MPI_UINT64_T,
                                 root, ctx->comm),
                      "the sort's sample sizes");
  if (rc)
    return rc;
  size_t chunk = pmr__ssort_chunk / (size_t)P;
  if (chunk < 1)
    chunk = 1;
  int *ic = NULL, *id = NULL;
  unsigned char *stage = NULL;
  uint64_t total = 0, rounds = 0, myrounds = (n + chunk - 1) / chunk;
  if (isroot) {
    for (int r = 0; r < P; r++) {
      displs[r] = total;
      if (counts[r] > SIZE_MAX - total)
        rc = pmr__seterr(ctx, PMR_EOVERFLOW, "sort samples too large");
      total += counts[r];
    }
    ic = pmr__malloc((size_t)P * sizeof *ic);
    id = pmr__malloc((size_t)P * sizeof *id);
    if (!rc && (!ic || !id || !(*rbuf = pmr__malloc(total ? total : 1))))
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort's samples");
    if (!rc && total > chunk * (size_t)P &&
        !(stage = pmr__malloc(chunk * (size_t)P)))
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort's samples");
  }
  rc = pmr__agree(ctx, rc);
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Allreduce(&myrounds, &rounds, 1, MPI_UINT64_T,
                                      MPI_MAX, ctx->comm),
                        "the sort's sample rounds");
  if (!rc && rounds <= 1) {
    if (isroot)
      for (int r = 0; r < P; r++) {
        ic[r] = (int)counts[r];
        id[r] = (int)displs[r];
      }
    rc = pmr__agree_mpi(ctx,
                        MPI_Gatherv(sbuf, (int)n, MPI_BYTE, *rbuf, ic, id,
                                    MPI_BYTE, root, ctx->comm),
                        "the gather of the sort's samples");
  }
  for (uint64_t k = 0; !rc && rounds > 1 && k < rounds; k++) {
    uint64_t o = k * chunk;
    int mine = (int)(o < n ? (n - o < chunk ? n - o : chunk) : 0);
    if (isroot) {
      int d = 0;
      for (int r = 0; r < P; r++) {
        uint64_t c = counts[r];
        ic[r] = (int)(o < c ? (c - o < chunk ? c - o : chunk) : 0);
        id[r] = d;
        d += ic[r];
      }
    }
    rc = pmr__agree_mpi(ctx,
                        MPI_Gatherv(sbuf + (mine ? o : 0), mine, MPI_BYTE,
                                    stage, ic, id, MPI_BYTE, root, ctx->comm),
                        "the gather of the sort's samples");
    if (!rc && isroot)
      for (int r = 0; r < P; r++)
        if (ic[r])
          memcpy(*rbuf + displs[r] + o, stage + id[r], (size_t)ic[r]);
  }
  pmr__free(ic);
  pmr__free(id);
  pmr__free(stage);
  if (rc && isroot) {
    pmr__free(*rbuf);
    *rbuf = NULL;
  }
  return rc;
}

/* Broadcast root's *buf (*n bytes) to every rank (others allocate it).
 * Agreed. */
static int pmr__bcast_big(pmr_ctx *ctx, unsigned char **buf, uint64_t *n,
                          int root) {
  int rc = pmr__agree_mpi(
      ctx, MPI_Bcast(n, 1, MPI_UINT64_T, root, ctx->comm),
      "the broadcast of the sort's splitters");
  if (rc)
    return rc;
  if (ctx->rank != root) {
    if (*n > SIZE_MAX)
      rc = pmr__seterr(ctx, PMR_EOVERFLOW, "splitters too large");
    else if (!(*buf = pmr__malloc(*n ? (size_t)*n : 1)))
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the splitters");
  }
  rc = pmr__agree(ctx, rc);
  for (uint64_t o = 0; !rc && o < *n; o += pmr__ssort_chunk) {
    uint64_t m = *n - o < pmr__ssort_chunk ? *n - o : pmr__ssort_chunk;
    rc = pmr__agree_mpi(ctx,
                        MPI_Bcast(*buf + o, (int)m, MPI_BYTE, root, ctx->comm),
                        "the broadcast of the sort's splitters");
  }
  if (rc && ctx->rank != root) {
    pmr__free(*buf);
    *buf = NULL;
  }
  return rc;
}

/* ---- splitters ---- */

/* Samples on rank 0 sit in the gathered buffer as [pos u64][weight u64]
 * [wire pair], rank after rank, each rank's in position order: so the
 * address of a sample's key orders samples by (rank, position), which is
 * the tie order. */
typedef struct pmr__samp_ord {
  const pmr__sord *o;
} pmr__samp_ord;

static int pmr__samp_cmp(const pmr__rec *a, const pmr__rec *b, void *user) {
  const pmr__sord *o = user;
  int c = o->cmp(a, b, o->user);
  if (c)
    return c;
  return a->key < b->key ? -1 : a->key > b->key;
}

static uint64_t pmr__mulfrac(uint64_t n, uint64_t num, uint64_t den) {
  return (uint64_t)((unsigned __int128)n * num / den);
}

void pmr__splitters_free(pmr__splitters *sp) {
  pmr__free(sp->first);
  pmr__free(sp->s);
  pmr__free(sp->data);
  memset(sp, 0, sizeof *sp);
}

/* Splitter wire form: [rank i32][pos u64][inf u8][wire pair]. */
#define PMR__SPL_HEAD 13

int pmr__ssort_splitters(pmr_ctx *ctx, const pmr__rec *a, uint64_t n,
                         size_t vsize, const pmr__sord *o, int nt,
                         pmr__splitters *out) {
  int P = ctx->size, rc = PMR_OK;
  memset(out, 0, sizeof *out);
  out->P = P;
  out->first = pmr__calloc((size_t)P + 1, sizeof *out->first);
  int *nts = pmr__calloc((size_t)P, sizeof *nts);
  if (!out->first || !nts)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort");
  rc = pmr__agree(ctx, rc);
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Allgather(&nt, 1, MPI_INT, nts, 1, MPI_INT,
                                      ctx->comm),
                        "the sort's thread counts");
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Allreduce(&n, &out->total, 1, MPI_UINT64_T,
                                      MPI_SUM, ctx->comm),
                        "the sort's pair count");
  if (rc) {
    pmr__free(nts);
    pmr__splitters_free(out);
    return rc;
  }
  out->maxnt = 1;
  for (int d = 0; d < P; d++) {
    out->first[d + 1] = out->first[d] + nts[d];
    if (nts[d] > out->maxnt)
      out->maxnt = nts[d];
  }
  int nb = out->nb = out->first[P];
  uint64_t N = out->total;

  /* Samples of this rank. */
  uint64_t S = 128 * (uint64_t)nb, cap = ((uint64_t)1 << 22) / (uint64_t)P;
  if (S > cap)
    S = cap;
  if (S < 64)
    S = 64;
  uint64_t s = nb > 1 && n < S ? n : (nb > 1 ? S : 0);
  size_t bytes = 0;
  for (uint64_t i = 0; i < s && !rc; i++) {
    const pmr__rec *r = &a[pmr__mulfrac(i, n, s)];
    size_t l = 16 + pmr__wire_len_v(r->klen, vsize, r->vlen);
    if (pmr__add_ovf(bytes, l, &bytes))
      rc = pmr__seterr(ctx, PMR_EOVERFLOW, "sort samples too large");
  }
  unsigned char *sb = rc ? NULL : pmr__malloc(bytes ? bytes : 1);
  if (!rc && !sb)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort's samples");
  if (!rc) {
    unsigned char *p = sb;
    for (uint64_t i = 0; i < s; i++) {
      uint64_t pos = pmr__mulfrac(i, n, s), next = pmr__mulfrac(i + 1, n, s);
      uint64_t w = next - pos;
      const pmr__rec *r = &a[pos];
      memcpy(p, &pos, 8);
      memcpy(p + 8, &w, 8);
      p += 16;
      p += pmr__wire_put_v(p, r->key, r->klen, r->val, vsize, r->vlen);
    }
  }
  rc = pmr__agree(ctx, rc);
  uint64_t *counts = NULL, *displs = NULL;
  unsigned char *all = NULL, *spl = NULL;
  uint64_t spl_bytes = 0;
  int lrc = PMR_OK;
  if (!rc && ctx->rank == 0) {
    counts = pmr__calloc((size_t)P, sizeof *counts);
    displs = pmr__calloc((size_t)P, sizeof *displs);
    if (!counts || !displs)
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort");
  }
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__gather_big(ctx, sb, bytes, 0, &all, counts, displs);
  pmr__free(sb);

  /* Rank 0: sort the samples, pick the splitters. */
  if (!rc && ctx->rank == 0) {
    int rc = PMR_OK;
    uint64_t total = displs[P - 1] + counts[P - 1], m = 0;
    pmr__rec *sr = NULL;
    /* Count, then index the samples. */
    for (int pass = 0; pass < 2 && !rc; pass++) {
      uint64_t k = 0;
      const unsigned char *p = all, *end = all + total;
      while (p < end) {
        pmr__rec r;
        size_t used = pmr__wire_get_v(p + 16, end, vsize, &r.key, &r.klen,
                                      &r.val, &r.vlen);
        if (!used) {
          rc = pmr__seterr(ctx, PMR_EIO, "corrupt sort samples");
          break;
        }
        if (pass)
          sr[k] = r;
        k++;
        p += 16 + used;
      }
      if (!pass) {
        m = k;
        if (!rc && !(sr = pmr__malloc((m ? m : 1) * sizeof *sr)))
          rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort");
      }
    }
    if (!rc && pmr__recs_sort(sr, m, pmr__samp_cmp, (void *)o, false, nt))
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory sorting samples");
    /* Splitter g - 1 starts bucket g: the first sample whose weight
     * before it reaches the bucket's target start. */
    uint64_t *pick = NULL;
    if (!rc && !(pick = pmr__malloc((size_t)nb * sizeof *pick)))
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort");
    if (!rc) {
      uint64_t i = 0, W = 0;
      size_t sz = 0;
      for (int d = 0; d < P; d++) {
        uint64_t lo = pmr__mulfrac(N, (uint64_t)d, (uint64_t)P);
        uint64_t hi = pmr__mulfrac(N, (uint64_t)d + 1, (uint64_t)P);
        for (int t = 0; t < nts[d]; t++) {
          int g = out->first[d] + t;
          if (g == 0)
            continue;
          uint64_t c = lo + pmr__mulfrac(hi - lo, (uint64_t)t, (uint64_t)nts[d]);
          while (i < m && W < c) {
            uint64_t w;
            memcpy(&w, sr[i].key - pmr__varint_len(sr[i].klen) - 8, 8);
            W += w;
            i++;
          }
          pick[g] = W >= c && i < m ? i : UINT64_MAX;
          sz += PMR__SPL_HEAD;
          if (pick[g] != UINT64_MAX)
            sz += pmr__wire_len_v(sr[i].klen, vsize, sr[i].vlen);
        }
      }
      spl_bytes = sz;
      if (!(spl = pmr__malloc(sz ? sz : 1)))
        rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort");
    }
    if (!rc) {
      unsigned char *p = spl;
      for (int g = 1; g < nb; g++) {
        int32_t rk = 0;
        uint64_t pos = 0;
        unsigned char inf = pick[g] == UINT64_MAX;
        if (!inf) {
          const pmr__rec *r = &sr[pick[g]];
          const unsigned char *h = r->key - pmr__varint_len(r->klen) - 16;
          memcpy(&pos, h, 8);
          uint64_t at = (uint64_t)(h - all);
          while (rk + 1 < P && displs[rk + 1] <= at)
            rk++;
        }
        memcpy(p, &rk, 4);
        memcpy(p + 4, &pos, 8);
        p[12] = inf;
        p += PMR__SPL_HEAD;
        if (!inf) {
          const pmr__rec *r = &sr[pick[g]];
          p += pmr__wire_put_v(p, r->key, r->klen, r->val, vsize, r->vlen);
        }
      }
    }
    pmr__free(pick);
    pmr__free(sr);
    lrc = rc;
  }
  pmr__free(all);
  pmr__free(counts);
  pmr__free(displs);
  pmr__free(nts);
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__bcast_big(ctx, &spl, &spl_bytes, 0);
  /* Every rank: index the splitters. */
  if (!rc) {
    out->data = spl;
    spl = NULL;
    out->s = pmr__calloc((size_t)(nb > 1 ? nb - 1 : 1), sizeof *out->s);
    if (!out->s)
      rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort");
    const unsigned char *p = out->data, *end = out->data + spl_bytes;
    for (int k = 0; !rc && k < nb - 1; k++) {
      pmr__splitter *x = &out->s[k];
      int32_t rk;
      memcpy(&rk, p, 4);
      memcpy(&x->pos, p + 4, 8);
      x->rank = rk;
      x->inf = p[12];
      p += PMR__SPL_HEAD;
      if (!x->inf) {
        size_t used = pmr__wire_get_v(p, end, vsize, &x->r.key, &x->r.klen,
                                      &x->r.val, &x->r.vlen);
        if (!used) {
          rc = pmr__seterr(ctx, PMR_EIO, "corrupt sort splitters");
          break;
        }
        p += used;
      }
    }
    rc = pmr__agree(ctx, rc);
  }
  pmr__free(spl);
  if (rc)
    pmr__splitters_free(out);
  return rc;
}

/* ---- partition ---- */

/* Is pair i of `rank` (r) before splitter x in the total order? */
static inline bool pmr__before(const pmr__rec *r, int rank, uint64_t i,
                               const pmr__sord *o, const pmr__splitter *x) {
  if (x->inf)
    return true;
  int c = o->cmp(r, &x->r, o->user);
  if (c)
    return c < 0;
  if (rank != x->rank)
    return rank < x->rank;
  return i < x->pos;
}

void pmr__ssort_partition(const pmr__rec *a, uint64_t n, int rank,
                          const pmr__sord *o, const pmr__splitters *sp,
                          uint64_t *bounds) {
  bounds[0] = 0;
  for (int g = 1; g < sp->nb; g++) {
    const pmr__splitter *x = &sp->s[g - 1];
    uint64_t lo = bounds[g - 1], hi = n;
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2;
      if (pmr__before(&a[mid], rank, mid, o, x))
        lo = mid + 1;
      else
        hi = mid;
    }
    bounds[g] = lo;
  }
  bounds[sp->nb] = n;
}

/* ---- runs and the exchange ---- */

int pmr__ssort_runs(pmr_ctx *ctx, const pmr__rec *a, const uint64_t *bounds,
                    const pmr__splitters *sp, size_t vsize, pmr__runs *out) {
  int P = sp->P, B = sp->maxnt;
  size_t PB = (size_t)P * (size_t)B;
  memset(out, 0, sizeof *out);
  out->nranks = P;
  out->nbuckets = B;
  out->vsize = vsize;
  out->off = pmr__calloc(PB + 1, sizeof *out->off);
  out->pairs = pmr__calloc(PB ? PB : 1, sizeof *out->pairs);
  if (!out->off || !out->pairs) {
    pmr__runs_free(out);
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort's runs");
  }
  size_t bytes = 0;
  uint64_t n = bounds[sp->nb];
  for (uint64_t i = 0; i < n; i++)
    if (pmr__add_ovf(bytes, pmr__wire_len_v(a[i].klen, vsize, a[i].vlen),
                     &bytes)) {
      pmr__runs_free(out);
      return pmr__seterr(ctx, PMR_EOVERFLOW, "sort data too large");
    }
  out->data = pmr__malloc(bytes ? bytes : 1);
  if (!out->data) {
    pmr__runs_free(out);
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort's runs");
  }
  size_t o = 0;
  for (int d = 0; d < P; d++) {
    int nt = sp->first[d + 1] - sp->first[d];
    for (int t = 0; t < B; t++) {
      size_t run = (size_t)d * B + t;
      out->off[run] = o;
      if (t < nt) {
        int g = sp->first[d] + t;
        for (uint64_t i = bounds[g]; i < bounds[g + 1]; i++)
          o += pmr__wire_put_v(out->data + o, a[i].key, a[i].klen, a[i].val,
                               vsize, a[i].vlen);
        out->pairs[run] = bounds[g + 1] - bounds[g];
      }
    }
  }
  out->off[PB] = o;
  return PMR_OK;
}

int pmr__ssort_exchange(pmr_ctx *ctx, const pmr__runs *runs, int nt,
                        pmr__ssort_sink sink, void *user) {
  pmr__xchg *x = NULL;
  int rc = pmr__xchg_plan(ctx, runs, &x);
  int P = ctx->size;
  while (!rc && !pmr__xchg_done(x)) {
    rc = pmr__xchg_round(x);
    if (!rc) {
      int trc = PMR_OK;
#pragma omp parallel for num_threads(nt) schedule(static, 1) \
    reduction(max : trc)
      for (int t = 0; t < nt; t++) {
        int r = sink(user, t, pmr__xchg_bucket(x, t), P);
        if (r > trc)
          trc = r;
      }
      rc = trc;
    }
    if (!rc)
      rc = pmr__xchg_keep(x);
    rc = pmr__agree(ctx, rc);
  }
  if (!rc)
    rc = pmr__agree(ctx, pmr__xchg_check(x));
  pmr__xchg_free(&x);
  return rc;
}

int pmr__ssort(pmr_ctx *ctx, pmr__rec *a, uint64_t n, size_t vsize,
               const pmr__sord *o, int nt, pmr__ssort_sink sink, void *user) {
  int rc = PMR_OK;
  if (pmr__recs_sort(a, (size_t)n, o->cmp, o->user, o->key_order, nt))
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory sorting %llu pairs",
                     (unsigned long long)n);
  rc = pmr__agree(ctx, rc);
  if (rc)
    return rc;
  pmr__splitters sp;
  rc = pmr__ssort_splitters(ctx, a, n, vsize, o, nt, &sp);
  if (rc)
    return rc;
  uint64_t *bounds = pmr__malloc(((size_t)sp.nb + 1) * sizeof *bounds);
  pmr__runs runs;
  memset(&runs, 0, sizeof runs);
  if (!bounds)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for the sort");
  if (!rc) {
    pmr__ssort_partition(a, n, ctx->rank, o, &sp, bounds);
    rc = pmr__ssort_runs(ctx, a, bounds, &sp, vsize, &runs);
  }
  rc = pmr__agree(ctx, rc);
  if (!rc)
    rc = pmr__ssort_exchange(ctx, &runs, nt, sink, user);
  pmr__runs_free(&runs);
  pmr__free(bounds);
  pmr__splitters_free(&sp);
  return rc;
}
