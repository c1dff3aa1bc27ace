/* Statistics: this rank's counters, totals over ranks, the stats table. */
#define _POSIX_C_SOURCE 200809L
#include "base/base.h"

#include <stdio.h>
#include <sys/resource.h>

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
int pmr_ctx_stats_global(pmr_ctx *ctx, pmr_stats *out) {
  pmr_stats s;
  pmr_ctx_stats(ctx, &s);
  uint64_t c[6] = {s.input_bytes,    s.records,        s.emitted,
                   s.shuffled_bytes, s.shuffle_rounds, s.spilled_bytes};
  uint64_t csum[6];
  double m[PMR_PHASE_COUNT + 1];
  for (int i = 0; i < PMR_PHASE_COUNT; i++)
    m[i] = s.seconds[i];
  m[PMR_PHASE_COUNT] = (double)s.peak_rss;
  double mmax[PMR_PHASE_COUNT + 1];
  int mrc = MPI_Allreduce(c, csum, 6, MPI_UINT64_T, MPI_SUM, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(m, mmax, PMR_PHASE_COUNT + 1, MPI_DOUBLE, MPI_MAX,
                        ctx->comm);
  int rc = pmr__agree_mpi(ctx, mrc, "MPI_Allreduce of statistics");
  if (rc)
    return rc;
  out->input_bytes = csum[0];
  out->records = csum[1];
  out->emitted = csum[2];
  out->shuffled_bytes = csum[3];
  out->spilled_bytes = csum[5];
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
  int mrc = MPI_Reduce(v, vmin, n, MPI_DOUBLE, MPI_MIN, 0, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Reduce(v, vmax, n, MPI_DOUBLE, MPI_MAX, 0, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Reduce(v, vsum, n, MPI_DOUBLE, MPI_SUM, 0, ctx->comm);
  int rc = pmr__agree_mpi(ctx, mrc, "MPI_Reduce of statistics");
  if (!rc)
    rc = pmr_ctx_stats_global(ctx, &g);
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
  fprintf(fp, "spilled bytes    %llu\n", (unsigned long long)g.spilled_bytes);
  return PMR_OK;
}
