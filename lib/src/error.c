/* Error codes, messages, and the collective agreement on outcomes. */
#include "pmr_internal.h"

#include <errno.h>
#include <stdio.h>

const char *pmr_strerror(int code) {
  switch (code) {
  case PMR_OK:
    return "success";
#define PMR__ERR_MSG(name, val, msg) \
  case PMR_##name:                   \
    return msg;
    PMR_ERRNO_MAP(PMR__ERR_MSG)
#undef PMR__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *pmr_err_name(int code) {
  switch (code) {
  case PMR_OK:
    return "PMR_OK";
#define PMR__ERR_NAME(name, val, msg) \
  case PMR_##name:                    \
    return "PMR_" #name;
    PMR_ERRNO_MAP(PMR__ERR_NAME)
#undef PMR__ERR_NAME
  default:
    return "PMR_EUNKNOWN";
  }
}

int pmr__seterr(pmr_ctx *ctx, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
  va_end(ap);
  pmr__log(ctx, PMR_LOG_DEBUG, "error %s: %s", pmr_err_name(code),
           ctx->errmsg);
  return code;
}

int pmr__errno_code(int err) {
  switch (err) {
  case ENOENT:
  case ENOTDIR:
    return PMR_ENOENT;
  case EACCES:
  case EPERM:
  case EROFS:
    return PMR_EACCES;
  case EISDIR:
    return PMR_EISDIR;
  case ENOMEM:
    return PMR_ENOMEM;
  case EINVAL:
    return PMR_EINVAL;
  case EOVERFLOW:
  case EFBIG:
    return PMR_EOVERFLOW;
  default:
    return PMR_EIO;
  }
}

int pmr__mpierr(pmr_ctx *ctx, int mpirc, const char *what) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(mpirc, buf, &len) != MPI_SUCCESS)
    snprintf(buf, sizeof buf, "MPI error %d", mpirc);
  return pmr__seterr(ctx, PMR_EMPI, "%s: %s", what, buf);
}

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
    MPI_Bcast(ctx->errmsg, PMR__ERRMSG_MAX, MPI_CHAR, out.rank, ctx->comm);
    ctx->errmsg[PMR__ERRMSG_MAX - 1] = '\0';
  }
  return out.code;
}
