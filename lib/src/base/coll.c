/* Collective agreement on outcomes: every rank returns the same code and
 * message, and no rank is left in a collective the others skipped. */
#include "base/base.h"

#include <stdio.h>

/* The highest code wins (ties: the lowest rank), so the message every rank
 * reports is deterministic. The winner broadcasts its message. */
int pmr__agree(pmr_ctx *ctx, int code) {
  struct {
    int code;
    int rank;
  } in = {code, ctx->rank}, out;
  if (MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, ctx->comm) !=
      MPI_SUCCESS) {
    /* The communicator itself is broken; nothing collective is safe. */
    return pmr__seterr(ctx, PMR_EMPI, "MPI_Allreduce failed while agreeing "
                                      "on an outcome");
  }
  if (out.code == PMR_OK) {
    ctx->errmsg[0] = '\0';
    return PMR_OK;
  }
  if (ctx->size > 1) {
    if (ctx->rank != out.rank && code == PMR_OK)
      snprintf(ctx->errmsg, sizeof ctx->errmsg, "rank %d failed", out.rank);
    if (MPI_Bcast(ctx->errmsg, PMR__ERRMSG_MAX, MPI_CHAR, out.rank,
                  ctx->comm) != MPI_SUCCESS)
      snprintf(ctx->errmsg, sizeof ctx->errmsg, "rank %d failed", out.rank);
    ctx->errmsg[PMR__ERRMSG_MAX - 1] = '\0';
  }
  return out.code;
}

int pmr__agree_mpi(pmr_ctx *ctx, int mpirc, const char *what) {
  return pmr__agree(ctx, mpirc == MPI_SUCCESS
                             ? PMR_OK
                             : pmr__mpierr(ctx, mpirc, what));
}

int pmr__agree_arg(pmr_ctx *ctx, bool bad, const char *msg) {
  return pmr__agree(ctx, bad ? pmr__seterr(ctx, PMR_EINVAL, "%s", msg)
                             : PMR_OK);
}

void pmr__split_range(uint64_t total, int parts, int i, uint64_t *lo,
                      uint64_t *hi) {
  uint64_t q = total / (uint64_t)parts, r = total % (uint64_t)parts;
  uint64_t ui = (uint64_t)i;
  *lo = q * ui + (ui < r ? ui : r);
  *hi = *lo + q + (ui < r ? 1 : 0);
}
