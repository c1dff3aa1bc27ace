/* Statistics: this rank's counters, totals over ranks, the stats table and
 * its JSON form. */
#define _POSIX_C_SOURCE 200809L
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

size_t pmr__peak_rss(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (size_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}

void pmr_ctx_stats(const pmr_ctx *ctx, pmr_stats *out) {
  *out = ctx->stats;
  out->peak_rss = pmr__peak_rss();
}

enum { PMR__NC = 7 }; /* summed counters */

static void pmr__counters(const pmr_stats *s, uint64_t c[PMR__NC]) {
  c[0] = s->input_bytes;
  c[1] = s->records;
  c[2] = s->emitted;
  c[3] = s->shuffled_bytes;
  c[4] = s->shuffle_rounds;
  c[5] = s->keys;
  c[6] = s->spilled_bytes;
}

int pmr_ctx_stats_global(pmr_ctx *ctx, pmr_stats *out) {
  pmr_stats s;
  pmr_ctx_stats(ctx, &s);
  uint64_t c[PMR__NC], csum[PMR__NC];
  pmr__counters(&s, c);
  double m[PMR_PHASE_COUNT + 1];
  for (int i = 0; i < PMR_PHASE_COUNT; i++)
    m[i] = s.seconds[i];
  m[PMR_PHASE_COUNT] = (double)s.peak_rss;
  double mmax[PMR_PHASE_COUNT + 1];
  int mrc = MPI_Allreduce(c, csum, PMR__NC, MPI_UINT64_T, MPI_SUM, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(m, mmax, PMR_PHASE_COUNT + 1, MPI_DOUBLE, MPI_MAX,
                        ctx->comm);
  int rc = pmr__agree_mpi(ctx, mrc, "MPI_Allreduce of statistics");
  if (rc)
    return rc;
  *out = s;
  out->input_bytes = csum[0];
  out->records = csum[1];
  out->emitted = csum[2];
  out->shuffled_bytes = csum[3];
  /* Every rank runs the same rounds: the sum over ranks is not the count. */
  out->shuffle_rounds = s.shuffle_rounds;
  out->keys = csum[5];
  out->spilled_bytes = csum[6];
  for (int i = 0; i < PMR_PHASE_COUNT; i++)
    out->seconds[i] = mmax[i];
  out->peak_rss = (size_t)mmax[PMR_PHASE_COUNT];
  return PMR_OK;
}

/* ---- the run's summary, on rank 0 ---- */

static const char *const pmr__phase_names[PMR_PHASE_COUNT] = {
    "map", "shuffle", "reduce", "write"};

/* Per rank: the phases' seconds, peak RSS, wall time. */
enum { PMR__RSS = PMR_PHASE_COUNT, PMR__WALL, PMR__NV };

typedef struct pmr__summary {
  int nranks, nthreads;
  double *all;             /* [nranks][PMR__NV], rank 0 only */
  double min[PMR__NV], med[PMR__NV], max[PMR__NV];
  uint64_t c[PMR__NC];     /* summed counters (rounds: this rank's) */
} pmr__summary;

static int pmr__cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Collective: gather every rank's figures to rank 0 and sum the counters.
 * On rank 0, *s holds min/median/max; free s->all with pmr__free. */
static int pmr__summarise(pmr_ctx *ctx, pmr__summary *s) {
  memset(s, 0, sizeof *s);
  s->nranks = ctx->size;
  s->nthreads = ctx->nthreads;
  pmr_stats st;
  pmr_ctx_stats(ctx, &st);
  double v[PMR__NV];
  for (int i = 0; i < PMR_PHASE_COUNT; i++)
    v[i] = st.seconds[i];
  v[PMR__RSS] = (double)st.peak_rss;
  v[PMR__WALL] = pmr__now() - ctx->t_created;
  uint64_t c[PMR__NC];
  pmr__counters(&st, c);
  int lrc = PMR_OK;
  double *col = NULL;
  if (ctx->rank == 0) {
    s->all = pmr__malloc((size_t)ctx->size * PMR__NV * sizeof(double));
    col = pmr__malloc((size_t)ctx->size * sizeof(double));
    if (!s->all || !col)
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory for statistics");
  }
  int rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Gather(v, PMR__NV, MPI_DOUBLE, s->all, PMR__NV,
                                   MPI_DOUBLE, 0, ctx->comm),
                        "MPI_Gather of statistics");
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Reduce(c, s->c, PMR__NC, MPI_UINT64_T, MPI_SUM, 0,
                                   ctx->comm),
                        "MPI_Reduce of statistics");
  s->c[4] = st.shuffle_rounds;
  if (!rc && ctx->rank == 0) {
    int n = ctx->size;
    for (int j = 0; j < PMR__NV; j++) {
      for (int r = 0; r < n; r++)
        col[r] = s->all[(size_t)r * PMR__NV + j];
      qsort(col, (size_t)n, sizeof *col, pmr__cmp_double);
      s->min[j] = col[0];
      s->max[j] = col[n - 1];
      s->med[j] = n % 2 ? col[n / 2] : (col[n / 2 - 1] + col[n / 2]) / 2;
    }
  }
  pmr__free(col);
  if (rc) {
    pmr__free(s->all);
    s->all = NULL;
  }
  return rc;
}

/* "1.5 GiB", "812 B" */
static void pmr__bytes(double b, char *buf, size_t n) {
  static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int i = 0;
  while (b >= 1024.0 && i < 5) {
    b /= 1024.0;
    i++;
  }
  snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* "6.81 M", "950" */
static void pmr__count(double x, char *buf, size_t n) {
  static const char *const u[] = {"", " k", " M", " G", " T", " P"};
  int i = 0;
  while (x >= 1000.0 && i < 5) {
    x /= 1000.0;
    i++;
  }
  snprintf(buf, n, i ? "%.2f%s" : "%.0f%s", x, u[i]);
}

/* "0.412 ms", "1.953 s", "2 min 3.4 s" */
static void pmr__secs(double s, char *buf, size_t n) {
  if (s < 1)
    snprintf(buf, n, "%.3f ms", s * 1e3);
  else if (s < 60)
    snprintf(buf, n, "%.3f s", s);
  else if (s < 3600)
    snprintf(buf, n, "%d min %.1f s", (int)(s / 60), s - 60 * (int)(s / 60));
  else
    snprintf(buf, n, "%d h %d min", (int)(s / 3600),
             (int)(s - 3600 * (int)(s / 3600)) / 60);
}

int pmr_ctx_print_stats(pmr_ctx *ctx, FILE *fp) {
  pmr__summary s;
  int rc = pmr__summarise(ctx, &s);
  if (rc || ctx->rank != 0)
    return rc;
  char a[32], b[32], c[32];
  fprintf(fp, "%-16s %14s %14s %14s\n", "per rank", "min", "median", "max");
  for (int i = 0; i < PMR_PHASE_COUNT; i++) {
    pmr__secs(s.min[i], a, sizeof a);
    pmr__secs(s.med[i], b, sizeof b);
    pmr__secs(s.max[i], c, sizeof c);
    fprintf(fp, "%-16s %14s %14s %14s\n", pmr__phase_names[i], a, b, c);
  }
  pmr__bytes(s.min[PMR__RSS], a, sizeof a);
  pmr__bytes(s.med[PMR__RSS], b, sizeof b);
  pmr__bytes(s.max[PMR__RSS], c, sizeof c);
  fprintf(fp, "%-16s %14s %14s %14s\n", "peak RSS", a, b, c);

  double wall = s.max[PMR__WALL];
  fprintf(fp, "%-16s %s\n", "whole run", "value");
  pmr__secs(wall, a, sizeof a);
  fprintf(fp, "%-16s %s\n", "wall time", a);
  fprintf(fp, "%-16s %d rank%s x %d thread%s\n", "layout", s.nranks,
          s.nranks == 1 ? "" : "s", s.nthreads, s.nthreads == 1 ? "" : "s");
  pmr__bytes((double)s.c[0], a, sizeof a);
  fprintf(fp, "%-16s %s (%llu B)\n", "input", a, (unsigned long long)s.c[0]);
  static const struct {
    const char *name;
    int at;
  } counts[] = {{"records", 1}, {"pairs emitted", 2}, {"distinct keys", 5}};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    uint64_t x = s.c[counts[i].at];
    pmr__count((double)x, a, sizeof a);
    if (x < 1000)
      fprintf(fp, "%-16s %s\n", counts[i].name, a);
    else
      fprintf(fp, "%-16s %s (%llu)\n", counts[i].name, a,
              (unsigned long long)x);
  }
  pmr__bytes((double)s.c[3], a, sizeof a);
  fprintf(fp, "%-16s %s in %llu round%s\n", "shuffled", a,
          (unsigned long long)s.c[4], s.c[4] == 1 ? "" : "s");
  pmr__bytes((double)s.c[6], a, sizeof a);
  fprintf(fp, "%-16s %s (%llu B)\n", "spilled", a, (unsigned long long)s.c[6]);
  pmr__bytes(wall > 0 ? (double)s.c[0] / wall : 0, a, sizeof a);
  pmr__count(wall > 0 ? (double)s.c[1] / wall : 0, b, sizeof b);
  fprintf(fp, "%-16s %s/s, %s records/s (over the wall time)\n",
          "throughput", a, b);
  pmr__free(s.all);
  return PMR_OK;
}

/* A JSON number: finite doubles only (JSON has no NaN). */
static void pmr__jnum(FILE *fp, double x) {
  if (x != x || x > 1e308 || x < -1e308)
    fputs("null", fp);
  else
    fprintf(fp, "%.9g", x);
}

static void pmr__jmmm(FILE *fp, const pmr__summary *s, int j, double scale) {
  fputs("{\"min\": ", fp);
  pmr__jnum(fp, s->min[j] * scale);
  fputs(", \"median\": ", fp);
  pmr__jnum(fp, s->med[j] * scale);
  fputs(", \"max\": ", fp);
  pmr__jnum(fp, s->max[j] * scale);
  fputs("}", fp);
}

static void pmr__jrow(FILE *fp, const pmr__summary *s, int j) {
  fputc('[', fp);
  for (int r = 0; r < s->nranks; r++) {
    if (r)
      fputs(", ", fp);
    pmr__jnum(fp, s->all[(size_t)r * PMR__NV + j]);
  }
  fputc(']', fp);
}

static void pmr__json(FILE *fp, const pmr__summary *s) {
  double wall = s->max[PMR__WALL];
  fprintf(fp, "{\n  \"schema\": \"pmr-stats/1\",\n  \"pmr_version\": "
              "\"%s\",\n  \"ranks\": %d,\n  \"threads\": %d,\n"
              "  \"wall_seconds\": ",
          PMR_VERSION_STRING, s->nranks, s->nthreads);
  pmr__jnum(fp, wall);
  fputs(",\n  \"phases\": {", fp);
  for (int i = 0; i < PMR_PHASE_COUNT; i++) {
    fprintf(fp, "%s\n    \"%s\": ", i ? "," : "", pmr__phase_names[i]);
    pmr__jmmm(fp, s, i, 1.0);
  }
  fputs("\n  },\n  \"peak_rss_bytes\": ", fp);
  pmr__jmmm(fp, s, PMR__RSS, 1.0);
  fprintf(fp,
          ",\n  \"input_bytes\": %llu,\n  \"records\": %llu,\n"
          "  \"pairs_emitted\": %llu,\n  \"distinct_keys\": %llu,\n"
          "  \"shuffled_bytes\": %llu,\n  \"shuffle_rounds\": %llu,\n"
          "  \"spilled_bytes\": %llu,\n"
          "  \"throughput\": {\"bytes_per_second\": ",
          (unsigned long long)s->c[0], (unsigned long long)s->c[1],
          (unsigned long long)s->c[2], (unsigned long long)s->c[5],
          (unsigned long long)s->c[3], (unsigned long long)s->c[4],
          (unsigned long long)s->c[6]);
  pmr__jnum(fp, wall > 0 ? (double)s->c[0] / wall : 0);
  fputs(", \"records_per_second\": ", fp);
  pmr__jnum(fp, wall > 0 ? (double)s->c[1] / wall : 0);
  fputs("},\n  \"per_rank\": {\n    \"seconds\": {", fp);
  for (int i = 0; i < PMR_PHASE_COUNT; i++) {
    fprintf(fp, "%s\"%s\": ", i ? ", " : "", pmr__phase_names[i]);
    pmr__jrow(fp, s, i);
  }
  fputs("},\n    \"wall_seconds\": ", fp);
  pmr__jrow(fp, s, PMR__WALL);
  fputs(",\n    \"peak_rss_bytes\": ", fp);
  pmr__jrow(fp, s, PMR__RSS);
  fputs("\n  }\n}\n", fp);
}

int pmr_ctx_write_stats_json(pmr_ctx *ctx, const char *path) {
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree_arg(ctx, !path || !*path,
                          "pmr_ctx_write_stats_json: a file name is needed");
  pmr__summary s;
  if (!rc)
    rc = pmr__summarise(ctx, &s);
  if (rc)
    return rc;
  int lrc = PMR_OK;
  if (ctx->rank == 0) {
    size_t len = strlen(path) + 16;
    char *tmp = pmr__malloc(len);
    FILE *fp = NULL;
    if (!tmp) {
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
    } else {
      snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
      fp = fopen(tmp, "w");
      if (!fp)
        lrc = pmr__seterr(ctx, PMR_EIO, "cannot write '%s': %s", path,
                          strerror(errno));
    }
    if (fp) {
      pmr__json(fp, &s);
      int bad = ferror(fp);
      bad |= fclose(fp) != 0;
      if (bad || rename(tmp, path) != 0) {
        lrc = pmr__seterr(ctx, PMR_EIO, "cannot write '%s': %s", path,
                          strerror(errno));
        remove(tmp);
      }
    }
    pmr__free(tmp);
  }
  pmr__free(s.all);
  return pmr__agree(ctx, lrc);
}
