/* The context: communicator, threads, memory budget, options. */
#define _POSIX_C_SOURCE 200809L
#include "base/base.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

unsigned pmr_version_number(void) { return PMR_VERSION_NUMBER; }
const char *pmr_version_string(void) { return PMR_VERSION_STRING; }

/* Threads when OMP_NUM_THREADS is unset: the cores this rank may run on. A
 * rank bound to some cores gets those; an unbound rank (its mask is the
 * whole node) shares the node with the other ranks on it. */
static int pmr__default_threads(MPI_Comm comm) {
  const char *env = getenv("OMP_NUM_THREADS");
  if (env && atoi(env) > 0)
    return atoi(env) > PMR_MAX_THREADS ? PMR_MAX_THREADS : atoi(env);
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
  if (n > PMR_MAX_THREADS)
    n = PMR_MAX_THREADS;
  return n < 1 ? 1 : n;
}

/* The environment, read here and nowhere else. A value that does not parse
 * is ignored, with a warning in the log. */
static void pmr__env_options(pmr_ctx *ctx) {
  static const struct {
    const char *var;
    pmr_option opt;
    int kind; /* 0 size, 1 reader, 2 flag */
  } env[] = {{"PMR_MEMORY", PMR_OPT_MEMORY, 0},
             {"PMR_CHUNK_SIZE", PMR_OPT_CHUNK_SIZE, 0},
             {"PMR_READ", PMR_OPT_READER, 1},
             {"PMR_LINE_NUMBERS", PMR_OPT_LINE_NUMBERS, 2}};
  for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
    const char *v = getenv(env[i].var);
    if (!v || !*v)
      continue;
    int64_t val = -1;
    size_t bytes;
    if (env[i].kind == 0 && pmr_parse_size(v, &bytes) == PMR_OK &&
        bytes <= INT64_MAX)
      val = (int64_t)bytes;
    else if (env[i].kind == 1 && !strcmp(v, "mmap"))
      val = PMR_READER_MMAP;
    else if (env[i].kind == 1 && !strcmp(v, "pread"))
      val = PMR_READER_PREAD;
    else if (env[i].kind == 2 && (!strcmp(v, "0") || !strcmp(v, "1")))
      val = v[0] - '0';
    if (val < 0 || pmr_ctx_set_option(ctx, env[i].opt, val) != PMR_OK)
      pmr__log(ctx, PMR_LOG_WARN, "ignoring %s=%s: not a valid value",
               env[i].var, v);
  }
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

  pmr_ctx *ctx = pmr__calloc(1, sizeof *ctx);
  /* PMR_TMPDIR names pmr's own temporary directory without moving the MPI
   * runtime's (which follows TMPDIR too). */
  const char *tmp = getenv("PMR_TMPDIR");
  if (!tmp || !*tmp)
    tmp = getenv("TMPDIR");
  char *tmpdir = pmr__strdup(tmp && *tmp ? tmp : "/tmp");
  int ok = ctx && tmpdir, all_ok = 0;
  /* Every rank must learn if one failed to allocate. */
  if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
    all_ok = -1;
  if (all_ok != 1) {
    pmr__free(tmpdir);
    pmr__free(ctx);
    return all_ok < 0 ? PMR_EMPI : PMR_ENOMEM;
  }
  if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
    pmr__free(tmpdir);
    pmr__free(ctx);
    return PMR_EMPI;
  }
  /* Errors on our communicator come back as codes; we agree on them. */
  MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(ctx->comm, &ctx->rank);
  MPI_Comm_size(ctx->comm, &ctx->size);
  ctx->tmpdir = tmpdir;
  ctx->t_created = pmr__now();
  ctx->nthreads = pmr__default_threads(ctx->comm);
  ctx->memory = PMR__DEFAULT_MEMORY;
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
  pmr__env_options(ctx);
  pmr__log(ctx, PMR_LOG_DEBUG, "context: %d ranks, %d threads, %zu bytes",
           ctx->size, ctx->nthreads, ctx->memory);
  *out = ctx;
  return PMR_OK;
}

void pmr__held_drop(pmr_ctx *ctx, bool remove) {
  for (int i = 0; i < ctx->nheld; i++) {
    if (remove)
      unlink(ctx->held_tmp[i]);
    pmr__tmp_unregister(ctx->held_tmp[i]);
    pmr__free(ctx->held_tmp[i]);
    pmr__free(ctx->held_path[i]);
  }
  pmr__free(ctx->held_tmp);
  pmr__free(ctx->held_path);
  ctx->held_tmp = ctx->held_path = NULL;
  ctx->nheld = 0;
}

int pmr_ctx_destroy(pmr_ctx **pctx) {
  if (!pctx || !*pctx)
    return PMR_OK;
  pmr_ctx *ctx = *pctx;
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin)
    MPI_Comm_free(&ctx->comm);
  pmr__held_drop(ctx, true); /* held and never published */
  pmr__free(ctx->tmpdir);
  pmr__free(ctx);
  *pctx = NULL;
  return PMR_OK;
}

int pmr_ctx_set_option(pmr_ctx *ctx, pmr_option opt, int64_t v) {
  if (!ctx)
    return PMR_EINVAL;
  switch (opt) {
  case PMR_OPT_THREADS:
    if (v < 1 || v > PMR_MAX_THREADS)
      return PMR_EINVAL;
    ctx->nthreads = (int)v;
    return PMR_OK;
  case PMR_OPT_MEMORY:
    if (v < (int64_t)PMR__MIN_MEMORY || (uint64_t)v > SIZE_MAX)
      return PMR_EINVAL;
    ctx->memory = (size_t)v;
    return PMR_OK;
  case PMR_OPT_CHUNK_SIZE:
    if (v < 0 || v > ((int64_t)1 << 40))
      return PMR_EINVAL;
    ctx->opt.chunk_size = (size_t)v;
    return PMR_OK;
  case PMR_OPT_READER:
    if (v != PMR_READER_MMAP && v != PMR_READER_PREAD)
      return PMR_EINVAL;
    ctx->opt.reader = (int)v;
    return PMR_OK;
  case PMR_OPT_LINE_NUMBERS:
    if (v != 0 && v != 1)
      return PMR_EINVAL;
    ctx->opt.line_numbers = (int)v;
    return PMR_OK;
  }
  return PMR_EINVAL;
}

int pmr_ctx_get_option(const pmr_ctx *ctx, pmr_option opt, int64_t *v) {
  if (!ctx || !v)
    return PMR_EINVAL;
  switch (opt) {
  case PMR_OPT_THREADS:
    *v = ctx->nthreads;
    return PMR_OK;
  case PMR_OPT_MEMORY:
    *v = (int64_t)ctx->memory;
    return PMR_OK;
  case PMR_OPT_CHUNK_SIZE:
    *v = (int64_t)ctx->opt.chunk_size;
    return PMR_OK;
  case PMR_OPT_READER:
    *v = ctx->opt.reader;
    return PMR_OK;
  case PMR_OPT_LINE_NUMBERS:
    *v = ctx->opt.line_numbers;
    return PMR_OK;
  }
  return PMR_EINVAL;
}

int pmr_ctx_set_threads(pmr_ctx *ctx, int n) {
  return pmr_ctx_set_option(ctx, PMR_OPT_THREADS, n);
}
int pmr_ctx_threads(const pmr_ctx *ctx) { return ctx ? ctx->nthreads : 0; }

int pmr_ctx_set_memory(pmr_ctx *ctx, size_t bytes) {
  if (bytes > INT64_MAX)
    return PMR_EINVAL;
  return pmr_ctx_set_option(ctx, PMR_OPT_MEMORY, (int64_t)bytes);
}
size_t pmr_ctx_memory(const pmr_ctx *ctx) { return ctx ? ctx->memory : 0; }

int pmr_ctx_set_tmpdir(pmr_ctx *ctx, const char *dir) {
  if (!ctx || !dir || !*dir)
    return PMR_EINVAL;
  char *d = pmr__strdup(dir);
  if (!d)
    return PMR_ENOMEM;
  pmr__free(ctx->tmpdir);
  ctx->tmpdir = d;
  return PMR_OK;
}
const char *pmr_ctx_tmpdir(const pmr_ctx *ctx) {
  return ctx ? ctx->tmpdir : NULL;
}

MPI_Comm pmr_ctx_comm(const pmr_ctx *ctx) {
  return ctx ? ctx->comm : MPI_COMM_NULL;
}
int pmr_ctx_rank(const pmr_ctx *ctx) { return ctx ? ctx->rank : -1; }
int pmr_ctx_size(const pmr_ctx *ctx) { return ctx ? ctx->size : 0; }
const char *pmr_errmsg(const pmr_ctx *ctx) { return ctx ? ctx->errmsg : ""; }

void pmr_ctx_set_progress(pmr_ctx *ctx, pmr_progress_fn fn, void *user) {
  if (!ctx)
    return;
  ctx->progress_fn = fn;
  ctx->progress_user = user;
}

/* digits ['.' digits] [K|M|G|T [i] [B] | B], any case; see pmr.h. Exact
 * integer arithmetic: no strtod, so no NaN, hex, exponents or locales. A
 * unit is 2^u bytes (u <= 40), and the fraction's bytes are
 * floor(0.d1d2... x 2^u): doubling the decimal digits u times carries those
 * bits out one by one. Digits past the 40th cannot change that floor (the
 * first 40 put the value at least 2^u / 10^40 below the next integer, more
 * than the rest can add), so 40 are kept. */
#define PMR__SIZE_DIGITS 40
int pmr_parse_size(const char *s, size_t *bytes) {
  if (!s || !bytes)
    return PMR_EINVAL;
  const char *p = s;
  uint64_t ip = 0;
  unsigned char frac[PMR__SIZE_DIGITS];
  size_t nf = 0;
  bool any = false, nonzero = false;
  for (; *p >= '0' && *p <= '9'; p++) {
    any = true;
    nonzero |= *p != '0';
    if (__builtin_mul_overflow(ip, 10, &ip) ||
        __builtin_add_overflow(ip, (uint64_t)(*p - '0'), &ip))
      return PMR_EINVAL;
  }
  if (*p == '.') {
    p++;
    bool digits = false;
    for (; *p >= '0' && *p <= '9'; p++) {
      digits = true;
      nonzero |= *p != '0';
      if (nf < PMR__SIZE_DIGITS)
        frac[nf++] = (unsigned char)(*p - '0');
    }
    if (!digits)
      return PMR_EINVAL;
  }
  if (!any)
    return PMR_EINVAL;
  unsigned shift = 0;
  switch (*p) {
  case 'k': case 'K': shift = 10; p++; break;
  case 'm': case 'M': shift = 20; p++; break;
  case 'g': case 'G': shift = 30; p++; break;
  case 't': case 'T': shift = 40; p++; break;
  default: break;
  }
  if (shift && (*p == 'i' || *p == 'I')) {
    p++;
    if (*p != 'b' && *p != 'B')
      return PMR_EINVAL;
  }
  if (*p == 'b' || *p == 'B')
    p++;
  if (*p != '\0')
    return PMR_EINVAL;
  if (shift && ip > (UINT64_MAX >> shift))
    return PMR_EINVAL;
  uint64_t part = 0, v;
  for (unsigned b = 0; b < shift; b++) {
    unsigned carry = 0;
    for (size_t i = nf; i-- > 0;) {
      unsigned d = frac[i] * 2u + carry;
      frac[i] = (unsigned char)(d % 10);
      carry = d / 10;
    }
    part = part << 1 | carry;
  }
  if (__builtin_add_overflow(ip << shift, part, &v) || v > SIZE_MAX ||
      (nonzero && v == 0))
    return PMR_EINVAL;
  *bytes = (size_t)v;
  return PMR_OK;
}
