/* Reduce: for a hash set, pack -> rounds of (exchange, absorb) -> commit;
 * for a group set the same moves without combining (group.c); for a dense
 * set, fold across ranks. The set's state machine lives here
 * and in kv.c. */
#include "kv/dense.h"
#include "shuffle/shuffle.h"

#include <limits.h>
#include <omp.h>

/* Buckets per destination: the largest thread count over the ranks, so each
 * receiving thread has one, capped so the pack's per-table bookkeeping
 * (tables x ranks x buckets counters) stays small. */
#define PMR__MAX_BUCKETS 256

static int pmr__absorb_round(pmr_kv *kv, pmr__table *out, pmr__xchg *x,
                             int B) {
  int nt = kv->ctx->nthreads, status = PMR_OK;
#pragma omp parallel num_threads(nt)
  {
    int st = pmr__absorb(kv, out, x, B, omp_get_thread_num(), nt);
    if (st) {
#pragma omp atomic write
      status = st;
    }
  }
  if (status < 0)
    return -status;
  if (status)
    return pmr__seterr(kv->ctx, status,
                       status == PMR_ENOMEM
                           ? "out of memory combining shuffled pairs"
                           : "shuffle: a malformed pair was received");
  return PMR_OK;
}

/* Size each output table for the pairs its buckets will receive: the most
 * any one source sends to a bucket is a lower bound on its distinct keys
 * (each source combined its own), and exact at one rank. */
static int pmr__reserve(pmr__table *out, int nt, const pmr__xchg *x, int B,
                        size_t share) {
  /* Never past the share: the table would only be dumped. At most the
   * share, so that a table that will be dumped is made once, at its full
   * size, and never rehashed. */
  uint64_t slots = 16;
  while (2 * slots * sizeof(pmr__slot) <= share)
    slots *= 2;
  uint64_t most = slots * 4 / 5;
  for (int t = 0; t < nt; t++) {
    uint64_t want = 0, mx;
    for (int b = t; b < B; b += nt) {
      pmr__xchg_bucket_pairs(x, b, &mx);
      want += mx;
    }
    if (want > most)
      want = most;
    if (want && pmr__table_reserve(&out[t], want))
      return PMR_ENOMEM;
  }
  return PMR_OK;
}

int pmr__shuffle_buckets(pmr_ctx *ctx, int *B) {
  *B = ctx->nthreads;
  int rc = pmr__agree_mpi(ctx,
                          MPI_Allreduce(MPI_IN_PLACE, B, 1, MPI_INT, MPI_MAX,
                                        ctx->comm),
                          "the shuffle's bucket count");
  if (*B > PMR__MAX_BUCKETS)
    *B = PMR__MAX_BUCKETS;
  return rc;
}

static int pmr__reduce_hash(pmr_kv *kv) {
  pmr_ctx *ctx = kv->ctx;
  int nt = ctx->nthreads, B, rc;
  double t0 = pmr__now(), t_absorb = 0;
  rc = pmr__shuffle_buckets(ctx, &B);
  if (rc)
    return rc;
  pmr__runs runs;
  memset(&runs, 0, sizeof runs);
  rc = pmr__kv_spill_prepare(kv, nt);
  if (rc)
    pmr__seterr(ctx, rc, "out of memory in the shuffle");
  if (!rc)
    rc = pmr__pack(kv, B, &runs);
  rc = pmr__agree(ctx, rc);
  pmr__xchg *x = NULL;
  if (!rc)
    rc = pmr__xchg_plan(ctx, &runs, &x);
  pmr__table *out = rc ? NULL : pmr__calloc((size_t)nt, sizeof *out);
  for (int t = 0; out && t < nt; t++)
    pmr__table_init(&out[t], kv->vsize);
  int lrc = rc || out ? PMR_OK
                      : pmr__seterr(ctx, PMR_ENOMEM, "out of memory in the "
                                                     "shuffle");
  if (!rc && !lrc && pmr__reserve(out, nt, x, B, pmr__kv_recv_share(kv)))
    lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory sizing the reduce");
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  uint64_t rounds = x ? pmr__xchg_rounds(x) : 0;
  while (!rc && !pmr__xchg_done(x)) {
    lrc = pmr__xchg_round(x);
    double ta = pmr__now();
    if (!lrc)
      lrc = pmr__absorb_round(kv, out, x, B);
    t_absorb += pmr__now() - ta;
    if (!lrc)
      lrc = pmr__xchg_keep(x);
    rc = pmr__agree(ctx, lrc);
  }
  if (!rc)
    rc = pmr__agree(ctx, pmr__xchg_check(x));
  pmr__xchg_free(&x);
  pmr__runs_free(&runs);
  pmr__kv_spill_map_free(kv);
  /* Threads that dumped runs merge them (and what their table still holds)
   * into their sorted stream. */
  if (!rc) {
    double ta = pmr__now();
    int status = PMR_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int t = 0; t < nt; t++) {
      if (!pmr__kv_recv_spilled(kv, t))
        continue;
      int st = pmr__kv_stream_build(kv, t, &out[t]);
      if (st) {
#pragma omp atomic write
        status = st;
      }
    }
    t_absorb += pmr__now() - ta;
    rc = pmr__agree(ctx, status);
  }
  /* The old tables were freed while packing; the set now holds the reduced
   * tables, or nothing after an error. */
  for (int t = 0; t < kv->ntables; t++)
    pmr__table_free(&kv->tables[t]);
  pmr__free(kv->tables);
  kv->tables = out;
  kv->ntables = out ? nt : 0;
  if (rc) {
    for (int t = 0; t < kv->ntables; t++)
      pmr__table_free(&kv->tables[t]);
  }
  double t2 = pmr__now();
  ctx->stats.seconds[PMR_PHASE_SHUFFLE] += t2 - t0 - t_absorb;
  ctx->stats.seconds[PMR_PHASE_REDUCE] += t_absorb;
  pmr__log(ctx, PMR_LOG_DEBUG, "reduce: %llu rounds, %d buckets",
           (unsigned long long)rounds, B);
  return rc;
}

static int pmr__reduce(pmr_kv *kv, int root) {
  if (!kv)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  int rc = pmr__agree_arg(
      ctx,
      root >= ctx->size || root < -1 || (root >= 0 && kv->kind != PMR__DENSE),
      kv->kind != PMR__DENSE ? "pmr_kv_reduce_to: only dense sets reduce to "
                               "one root"
                             : "pmr_kv_reduce_to: root out of range");
  if (!rc)
    rc = pmr__agree(ctx, pmr__kv_check(kv, PMR__EMPTY | PMR__MAPPED |
                                               PMR__REDUCED,
                                       "pmr_kv_reduce"));
  if (rc || kv->state == PMR__REDUCED)
    return rc;
  if (kv->kind == PMR__DENSE) {
    double t0 = pmr__now();
    rc = pmr__dense_reduce(kv, root);
    ctx->stats.seconds[PMR_PHASE_REDUCE] += pmr__now() - t0;
  } else if (kv->kind == PMR__GROUP) {
    rc = pmr__reduce_group(kv);
  } else {
    rc = pmr__reduce_hash(kv);
    if (!rc)
      ctx->stats.keys = pmr_kv_local_size(kv);
  }
  kv->state = rc ? PMR__FAILED : PMR__REDUCED;
  return rc;
}

int pmr_kv_reduce(pmr_kv *kv) { return pmr__reduce(kv, -1); }
int pmr_kv_reduce_to(pmr_kv *kv, int root) {
  return pmr__reduce(kv, root < 0 ? INT_MAX : root);
}
