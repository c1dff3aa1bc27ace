/* Error codes and messages. */
#define _POSIX_C_SOURCE 200809L
#include "base/base.h"

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

const char *pmr__strerror(int err, char *buf, size_t n) {
  /* The XSI strerror_r fills buf; (_POSIX_C_SOURCE >= 200112L). */
  if (strerror_r(err, buf, n) != 0)
    snprintf(buf, n, "error %d", err);
  return buf;
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
