/* Logging (only when asked) and the clock. */
#define _POSIX_C_SOURCE 200809L
#include "base/base.h"

#include <stdio.h>
#include <time.h>

double pmr__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pmr__stderr_log(pmr_log_level level, int rank, const char *msg,
                     void *user) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  (void)user;
  fprintf(stderr, "pmr[%d] %s: %s\n", rank, names[level], msg);
}

void pmr__log(pmr_ctx *ctx, pmr_log_level level, const char *fmt, ...) {
  if (!ctx->log_fn || level > ctx->log_level)
    return;
  char buf[PMR__ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  ctx->log_fn(level, ctx->rank, buf, ctx->log_user);
}

void pmr_ctx_set_log(pmr_ctx *ctx, pmr_log_fn fn, pmr_log_level max_level,
                     void *user) {
  if (!ctx)
    return;
  ctx->log_fn = fn;
  ctx->log_level = max_level;
  ctx->log_user = user;
}
