/* The exchange: runs sent in rounds of at most `quota` bytes from each rank
 * to each rank, so a round's buffers stay within a quarter of the memory
 * budget and every count and displacement fits an int. The run sizes are
 * exchanged once up front, so every rank knows what each round brings, and
 * where each bucket begins in each source's stream. A pair split between
 * rounds waits in a per-source buffer for its rest. */
#include "shuffle/shuffle.h"
#include "shuffle/wire.h"

#include <limits.h>

struct pmr__xchg {
  pmr_ctx *ctx;
  const pmr__runs *runs;
  int P, B;
  uint64_t quota, rounds, round;
  /* receive side: per source s, its stream to us and our position in it */
  uint64_t *rb;     /* [P][B+1]: bucket b of s is stream [rb[s][b], rb[s][b+1]) */
  uint64_t *rpairs; /* [P][B]: pairs in each */
  uint64_t *rpos;   /* [P]: stream offset of the first byte not absorbed */
  pmr__buf *pend;   /* [P]: bytes from rpos on, kept from earlier rounds */
  uint64_t *rgot;   /* [P]: stream bytes received so far */
  /* send side */
  uint64_t *sent; /* [P]: bytes of our stream to d sent so far */
  int *scount, *sdispl, *rcount, *rdispl;
  unsigned char *sbuf, *rbuf;
  pmr__seg *segs; /* [B][P] */
  uint64_t *keep; /* [P]: bytes past the whole pairs of this round */
  const unsigned char **tail; /* [P]: where those bytes start */
};

static uint64_t pmr__stream_bytes(const pmr__runs *r, int d) {
  return r->off[(size_t)(d + 1) * r->nbuckets] - r->off[(size_t)d * r->nbuckets];
}

int pmr__xchg_plan(pmr_ctx *ctx, const pmr__runs *runs, pmr__xchg **out) {
  int P = runs->nranks, B = runs->nbuckets, rc = PMR_OK;
  *out = NULL;
  pmr__xchg *x = pmr__calloc(1, sizeof *x);
  size_t PB = (size_t)P * (size_t)B;
  uint64_t *counts = NULL, *rcounts = NULL;
  if (x) {
    x->ctx = ctx;
    x->runs = runs;
    x->P = P;
    x->B = B;
    x->rb = pmr__calloc(PB + (size_t)P, sizeof *x->rb);
    x->rpairs = pmr__calloc(PB, sizeof *x->rpairs);
    x->rpos = pmr__calloc((size_t)P, sizeof *x->rpos);
    x->rgot = pmr__calloc((size_t)P, sizeof *x->rgot);
    x->pend = pmr__calloc((size_t)P, sizeof *x->pend);
    x->sent = pmr__calloc((size_t)P, sizeof *x->sent);
    x->keep = pmr__calloc((size_t)P, sizeof *x->keep);
    x->tail = pmr__calloc((size_t)P, sizeof *x->tail);
    x->scount = pmr__calloc((size_t)P, sizeof(int));
    x->sdispl = pmr__calloc((size_t)P, sizeof(int));
    x->rcount = pmr__calloc((size_t)P, sizeof(int));
    x->rdispl = pmr__calloc((size_t)P, sizeof(int));
    x->segs = pmr__calloc(PB, sizeof *x->segs);
    counts = pmr__calloc(2 * PB, sizeof *counts);
    rcounts = pmr__calloc(2 * PB, sizeof *rcounts);
  }
  if (!x || !x->rb || !x->rpairs || !x->rpos || !x->rgot || !x->pend ||
      !x->sent || !x->keep || !x->tail || !x->scount || !x->sdispl || !x->rcount ||
      !x->rdispl || !x->segs || !counts || !rcounts)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory planning the shuffle");
  rc = pmr__agree(ctx, rc);
  /* Sizes and pair counts of every run, to their destinations. */
  if (!rc) {
    for (size_t run = 0; run < PB; run++) {
      size_t d = run / (size_t)B, b = run % (size_t)B;
      counts[d * 2 * B + b] = runs->off[run + 1] - runs->off[run];
      counts[d * 2 * B + B + b] = runs->pairs[run];
    }
    rc = pmr__agree_mpi(ctx,
                        MPI_Alltoall(counts, 2 * B, MPI_UINT64_T, rcounts,
                                     2 * B, MPI_UINT64_T, ctx->comm),
                        "the shuffle's size exchange");
  }
  uint64_t my_rounds = 0, most_in = 0;
  if (!rc) {
    /* Rounds: a quarter of the budget per round, split over the sources. */
    uint64_t quota = ctx->memory / 4 / (size_t)P;
    if (quota < 4096)
      quota = 4096;
    if (quota > (uint64_t)(INT_MAX / P))
      quota = (uint64_t)(INT_MAX / P);
    x->quota = quota;
    for (int s = 0; s < P; s++) {
      uint64_t *rb = &x->rb[(size_t)s * (B + 1)], in = 0;
      for (int b = 0; b < B; b++) {
        rb[b] = in;
        in += rcounts[(size_t)s * 2 * B + b];
        x->rpairs[(size_t)s * B + b] = rcounts[(size_t)s * 2 * B + B + b];
      }
      rb[B] = in;
      uint64_t r = (in + quota - 1) / quota;
      if (r > my_rounds)
        my_rounds = r;
      most_in += in < quota ? in : quota;
    }
    for (int d = 0; d < P; d++) {
      uint64_t r = (pmr__stream_bytes(runs, d) + quota - 1) / quota;
      if (r > my_rounds)
        my_rounds = r;
    }
    rc = pmr__agree_mpi(ctx,
                        MPI_Allreduce(&my_rounds, &x->rounds, 1,
                                      MPI_UINT64_T, MPI_MAX, ctx->comm),
                        "the shuffle's round count");
  }
  if (!rc) {
    /* Buffers for the largest round, once. */
    uint64_t most_out = 0;
    for (int d = 0; d < P; d++) {
      uint64_t n = pmr__stream_bytes(runs, d);
      most_out += n < x->quota ? n : x->quota;
    }
    bool direct = runs->off[(size_t)P * B] <= (uint64_t)INT_MAX;
    x->sbuf = direct ? NULL : pmr__malloc((size_t)most_out);
    x->rbuf = pmr__malloc((size_t)most_in);
    int lrc = (direct || x->sbuf) && x->rbuf
                  ? PMR_OK
                  : pmr__seterr(ctx, PMR_ENOMEM,
                                "out of memory for shuffle buffers");
    rc = pmr__agree(ctx, lrc);
  }
  pmr__free(counts);
  pmr__free(rcounts);
  if (rc)
    pmr__xchg_free(&x);
  *out = x;
  return rc;
}

uint64_t pmr__xchg_bucket_pairs(const pmr__xchg *x, int b, uint64_t *max_src) {
  uint64_t sum = 0, mx = 0;
  for (int s = 0; s < x->P; s++) {
    uint64_t n = x->rpairs[(size_t)s * x->B + b];
    sum += n;
    if (n > mx)
      mx = n;
  }
  *max_src = mx;
  return sum;
}

bool pmr__xchg_done(const pmr__xchg *x) { return x->round >= x->rounds; }
uint64_t pmr__xchg_rounds(const pmr__xchg *x) { return x->rounds; }

int pmr__xchg_round(pmr__xchg *x) {
  pmr_ctx *ctx = x->ctx;
  int P = x->P, B = x->B;
  const pmr__runs *runs = x->runs;
  /* Send side: the next piece of each destination's stream, sent from the
   * runs where they lie when every offset fits an int (no copy), else
   * gathered into sbuf. */
  int o = 0;
  bool direct = runs->off[(size_t)P * B] <= (uint64_t)INT_MAX;
  for (int d = 0; d < P; d++) {
    uint64_t left = pmr__stream_bytes(runs, d) - x->sent[d];
    int n = (int)(left < x->quota ? left : x->quota);
    uint64_t from = runs->off[(size_t)d * B] + x->sent[d];
    if (n && !direct)
      memcpy(x->sbuf + o, runs->data + from, (size_t)n);
    x->sent[d] += (uint64_t)n;
    x->scount[d] = n;
    x->sdispl[d] = direct ? (int)from : o;
    o += n;
  }
  /* Receive side: known in advance from the run sizes. */
  int ro = 0;
  for (int s = 0; s < P; s++) {
    uint64_t left = x->rb[(size_t)s * (B + 1) + B] - x->rgot[s];
    x->rcount[s] = (int)(left < x->quota ? left : x->quota);
    x->rdispl[s] = ro;
    ro += x->rcount[s];
  }
  x->round++;
  int mrc = MPI_Alltoallv(direct ? runs->data : x->sbuf, x->scount,
                          x->sdispl, MPI_BYTE, x->rbuf,
                          x->rcount, x->rdispl, MPI_BYTE, ctx->comm);
  if (mrc != MPI_SUCCESS)
    return pmr__mpierr(ctx, mrc, "shuffle exchange");
  ctx->stats.shuffled_bytes += (uint64_t)o;
  ctx->stats.shuffle_rounds++;
  /* Whole pairs of each source, cut at its bucket boundaries. */
  for (int s = 0; s < P; s++) {
    const unsigned char *d = x->rbuf + x->rdispl[s];
    size_t n = (size_t)x->rcount[s];
    x->rgot[s] += n;
    if (x->pend[s].len) {
      if (pmr__buf_put(&x->pend[s], d, n))
        return pmr__seterr(ctx, PMR_ENOMEM, "out of memory in the shuffle");
      d = x->pend[s].p;
      n = x->pend[s].len;
    }
    uint64_t npairs = 0;
    size_t whole = pmr__wire_whole(d, n, runs->vsize, &npairs);
    uint64_t a = x->rpos[s], e = a + whole;
    const uint64_t *rb = &x->rb[(size_t)s * (B + 1)];
    for (int b = 0; b < B; b++) {
      uint64_t lo = rb[b] > a ? rb[b] : a, hi = rb[b + 1] < e ? rb[b + 1] : e;
      x->segs[(size_t)b * P + s] =
          lo < hi ? (pmr__seg){d + (lo - a), (size_t)(hi - lo)}
                  : (pmr__seg){NULL, 0};
    }
    x->tail[s] = d + whole;
    x->keep[s] = n - whole;
    x->rpos[s] = e;
  }
  return PMR_OK;
}

const pmr__seg *pmr__xchg_bucket(const pmr__xchg *x, int b) {
  return &x->segs[(size_t)b * x->P];
}

int pmr__xchg_keep(pmr__xchg *x) {
  for (int s = 0; s < x->P; s++) {
    size_t n = x->keep[s];
    if (x->pend[s].len) {
      memmove(x->pend[s].p, x->tail[s], n);
      x->pend[s].len = n;
    } else if (n && pmr__buf_put(&x->pend[s], x->tail[s], n)) {
      return pmr__seterr(x->ctx, PMR_ENOMEM, "out of memory in the shuffle");
    }
  }
  return PMR_OK;
}

int pmr__xchg_check(pmr__xchg *x) {
  for (int s = 0; s < x->P; s++)
    if (x->pend[s].len || x->rpos[s] != x->rb[(size_t)s * (x->B + 1) + x->B])
      return pmr__seterr(x->ctx, PMR_EIO,
                         "shuffle: %zu stray bytes from rank %d",
                         x->pend[s].len, s);
  return PMR_OK;
}

void pmr__xchg_free(pmr__xchg **px) {
  pmr__xchg *x = *px;
  if (!x)
    return;
  for (int s = 0; x->pend && s < x->P; s++)
    pmr__buf_free(&x->pend[s]);
  pmr__free(x->pend);
  pmr__free(x->rb);
  pmr__free(x->rpairs);
  pmr__free(x->rpos);
  pmr__free(x->rgot);
  pmr__free(x->sent);
  pmr__free(x->keep);
  pmr__free(x->tail);
  pmr__free(x->scount);
  pmr__free(x->sdispl);
  pmr__free(x->rcount);
  pmr__free(x->rdispl);
  pmr__free(x->segs);
  pmr__free(x->sbuf);
  pmr__free(x->rbuf);
  pmr__free(x);
  *px = NULL;
}
