/* The context: communicator, threads, memory budget, logging, stats. */
#define _POSIX_C_SOURCE 200809L
#include "pmr_internal.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

unsigned pmr_version_number(void) { return PMR_VERSION_NUMBER; }
const char *pmr_version_string(void) { return PMR_VERSION_STRING; }

double pmr__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void pmr__stderr_log(pmr_log_level level, int rank, const char *msg,
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

/* Threads when OMP_NUM_THREADS is unset: the cores this rank may run on. A
 * rank bound to some cores gets those; an unbound rank (its mask is the
 * whole node) shares the node with the other ranks on it. */
static int pmr__default_threads(MPI_Comm comm) {
  const char *env = getenv("OMP_NUM_THREADS");
  if (env && atoi(env) > 0)
    return atoi(env);
  int procs = omp_get_num_procs();
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  MPI_Comm node;
  int local = 1;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
                          &node) == MPI_SUCCESS) {
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
  }
  int n = procs;
  if (online > 0 && procs >= online && local > 1)
    n = procs / local;
  return n < 1 ? 1 : n;
}

int pmr_ctx_create(MPI_Comm comm, pmr_ctx **out) {
  int provided = MPI_THREAD_SINGLE, init = 0;
  if (!out)
    return PMR_EINVAL;
  *out = NULL;
  MPI_Initialized(&init);
  if (!init)
    return PMR_ETHREAD;
  MPI_Query_thread(&provided);
  if (provided < MPI_THREAD_FUNNELED)
    return PMR_ETHREAD;

  pmr_ctx *ctx = calloc(1, sizeof *ctx);
  int ok = ctx != NULL, all_ok = 0;
  /* Every rank must learn if one failed to allocate. */
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  if (!all_ok) {
    free(ctx);
    return PMR_ENOMEM;
  }
  if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
    free(ctx);
    return PMR_EMPI;
  }
  /* Errors on our communicator come back as codes; we agree on them. */
  MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(ctx->comm, &ctx->rank);
  MPI_Comm_size(ctx->comm, &ctx->size);
  ctx->nthreads = pmr__default_threads(ctx->comm);
  ctx->memory = PMR__DEFAULT_MEMORY;
  const char *mem = getenv("PMR_MEMORY");
  size_t bytes;
  if (mem && pmr_parse_size(mem, &bytes) == PMR_OK && bytes >= PMR__MIN_MEMORY)
    ctx->memory = bytes;
  const char *chunk = getenv("PMR_CHUNK_SIZE");
  if (chunk && pmr_parse_size(chunk, &bytes) == PMR_OK && bytes > 0)
    ctx->chunk_override = bytes;
  const char *tmp = getenv("TMPDIR");
  ctx->tmpdir = strdup(tmp && *tmp ? tmp : "/tmp");
  const char *log = getenv("PMR_LOG");
  if (log && *log) {
    pmr_log_level lvl = PMR_LOG_DEBUG;
    if (!strcmp(log, "error"))
      lvl = PMR_LOG_ERROR;
    else if (!strcmp(log, "warn"))
      lvl = PMR_LOG_WARN;
    else if (!strcmp(log, "info"))
      lvl = PMR_LOG_INFO;
    pmr_ctx_set_log(ctx, pmr__stderr_log, lvl, NULL);
  }
  pmr__log(ctx, PMR_LOG_DEBUG, "context: %d ranks, %d threads, %zu bytes",
           ctx->size, ctx->nthreads, ctx->memory);
  *out = ctx;
  return PMR_OK;
}

int pmr_ctx_destroy(pmr_ctx **pctx) {
  if (!pctx || !*pctx)
    return PMR_OK;
  pmr_ctx *ctx = *pctx;
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin)
    MPI_Comm_free(&ctx->comm);
  free(ctx->tmpdir);
  free(ctx);
  *pctx = NULL;
  return PMR_OK;
}

int pmr_ctx_set_threads(pmr_ctx *ctx, int n) {
  if (!ctx || n < 1)
    return PMR_EINVAL;
  ctx->nthreads = n;
  return PMR_OK;
}
int pmr_ctx_threads(const pmr_ctx *ctx) { return ctx->nthreads; }

int pmr_ctx_set_memory(pmr_ctx *ctx, size_t bytes) {
  if (!ctx || bytes < PMR__MIN_MEMORY)
    return PMR_EINVAL;
  ctx->memory = bytes;
  return PMR_OK;
}
size_t pmr_ctx_memory(const pmr_ctx *ctx) { return ctx->memory; }

int pmr_ctx_set_tmpdir(pmr_ctx *ctx, const char *dir) {
  if (!ctx || !dir || !*dir)
    return PMR_EINVAL;
  char *d = strdup(dir);
  if (!d)
    return PMR_ENOMEM;
  free(ctx->tmpdir);
  ctx->tmpdir = d;
  return PMR_OK;
}
const char *pmr_ctx_tmpdir(const pmr_ctx *ctx) { return ctx->tmpdir; }

MPI_Comm pmr_ctx_comm(const pmr_ctx *ctx) { return ctx->comm; }
int pmr_ctx_rank(const pmr_ctx *ctx) { return ctx->rank; }
int pmr_ctx_size(const pmr_ctx *ctx) { return ctx->size; }
const char *pmr_errmsg(const pmr_ctx *ctx) { return ctx ? ctx->errmsg : ""; }

void pmr_ctx_set_log(pmr_ctx *ctx, pmr_log_fn fn, pmr_log_level max_level,
                     void *user) {
  ctx->log_fn = fn;
  ctx->log_level = max_level;
  ctx->log_user = user;
}

void pmr_ctx_set_progress(pmr_ctx *ctx, pmr_progress_fn fn, void *user) {
  ctx->progress_fn = fn;
  ctx->progress_user = user;
}

int pmr_parse_size(const char *s, size_t *bytes) {
  if (!s || !bytes)
    return PMR_EINVAL;
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0)
    return PMR_EINVAL;
  double mul = 1;
  switch (*end) {
  case 'k': case 'K': mul = 1024.0; end++; break;
  case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
  case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
  case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
  default: break;
  }
  if (mul > 1 && *end == 'i')
    end++;
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end != '\0')
    return PMR_EINVAL;
  v *= mul;
  if (v >= 18446744073709551615.0)
    return PMR_EINVAL;
  *bytes = (size_t)v;
  return PMR_OK;
}

static size_t pmr__peak_rss(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (size_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}

void pmr_ctx_stats(const pmr_ctx *ctx, pmr_stats *out) {
  *out = ctx->stats;
  out->peak_rss = pmr__peak_rss();
}

int pmr_ctx_stats_global(pmr_ctx *ctx, pmr_stats *out) {
  pmr_stats s;
  pmr_ctx_stats(ctx, &s);
  uint64_t c[5] = {s.input_bytes, s.records, s.emitted, s.shuffled_bytes,
                   s.shuffle_rounds};
  uint64_t csum[5];
  double m[PMR_PHASE_COUNT + 1];
  for (int i = 0; i < PMR_PHASE_COUNT; i++)
    m[i] = s.seconds[i];
  m[PMR_PHASE_COUNT] = (double)s.peak_rss;
  double mmax[PMR_PHASE_COUNT + 1];
  if (MPI_Allreduce(c, csum, 5, MPI_UINT64_T, MPI_SUM, ctx->comm) !=
          MPI_SUCCESS ||
      MPI_Allreduce(m, mmax, PMR_PHASE_COUNT + 1, MPI_DOUBLE, MPI_MAX,
                    ctx->comm) != MPI_SUCCESS)
    return pmr__seterr(ctx, PMR_EMPI, "MPI_Allreduce of statistics failed");
  out->input_bytes = csum[0];
  out->records = csum[1];
  out->emitted = csum[2];
  out->shuffled_bytes = csum[3];
  /* Every rank runs the same rounds: the sum over ranks is not the count. */
  out->shuffle_rounds = s.shuffle_rounds;
  for (int i = 0; i < PMR_PHASE_COUNT; i++)
    out->seconds[i] = mmax[i];
  out->peak_rss = (size_t)mmax[PMR_PHASE_COUNT];
  return PMR_OK;
}

int pmr_ctx_print_stats(pmr_ctx *ctx, FILE *fp) {
  static const char *names[PMR_PHASE_COUNT] = {"map", "shuffle", "reduce",
                                               "write"};
  pmr_stats s, g;
  pmr_ctx_stats(ctx, &s);
  double v[PMR_PHASE_COUNT + 1], vmin[PMR_PHASE_COUNT + 1],
      vmax[PMR_PHASE_COUNT + 1], vsum[PMR_PHASE_COUNT + 1];
  for (int i = 0; i < PMR_PHASE_COUNT; i++)
    v[i] = s.seconds[i];
  v[PMR_PHASE_COUNT] = (double)s.peak_rss / (1024.0 * 1024.0);
  int n = PMR_PHASE_COUNT + 1;
  if (MPI_Reduce(v, vmin, n, MPI_DOUBLE, MPI_MIN, 0, ctx->comm) ||
      MPI_Reduce(v, vmax, n, MPI_DOUBLE, MPI_MAX, 0, ctx->comm) ||
      MPI_Reduce(v, vsum, n, MPI_DOUBLE, MPI_SUM, 0, ctx->comm))
    return pmr__seterr(ctx, PMR_EMPI, "MPI_Reduce of statistics failed");
  int rc = pmr_ctx_stats_global(ctx, &g);
  if (rc)
    return rc;
  if (ctx->rank != 0)
    return PMR_OK;
  fprintf(fp, "%-12s %12s %12s %12s\n", "phase", "min s", "mean s", "max s");
  for (int i = 0; i < n; i++) {
    fprintf(fp, "%-12s %12.3f %12.3f %12.3f\n",
            i < PMR_PHASE_COUNT ? names[i] : "peak RSS MiB", vmin[i],
            vsum[i] / ctx->size, vmax[i]);
  }
  fprintf(fp, "ranks x threads  %d x %d\n", ctx->size, ctx->nthreads);
  fprintf(fp, "input bytes      %llu\n", (unsigned long long)g.input_bytes);
  fprintf(fp, "records          %llu\n", (unsigned long long)g.records);
  fprintf(fp, "pairs emitted    %llu\n", (unsigned long long)g.emitted);
  fprintf(fp, "shuffled bytes   %llu in %llu round(s)\n",
          (unsigned long long)g.shuffled_bytes,
          (unsigned long long)g.shuffle_rounds);
  return PMR_OK;
}

void pmr__split_range(uint64_t total, int parts, int i, uint64_t *lo,
                      uint64_t *hi) {
  uint64_t q = total / (uint64_t)parts, r = total % (uint64_t)parts;
  uint64_t ui = (uint64_t)i;
  *lo = q * ui + (ui < r ? ui : r);
  *hi = *lo + q + (ui < r ? 1 : 0);
}
