/* pmr-autocorr: the autocorrelation of a long 1-D series over MPI ranks and
 * OpenMP threads.
 *
 *   mpirun -np 4 pmr-autocorr -t 2 run.h5:/signal --max-lag 1000 --demean \
 *     --scale coeff -o acf.h5
 *
 * r[k] = sum_{i=0}^{n-1-k} x[i] x[i+k] for k = 0..L, scaled as Matlab's
 * xcorr(x, L, scale) (the k >= 0 half). Each rank reads its rows of the
 * dataset with an L-sample halo (pmr_map_h5), its threads compute the lag
 * sums of blocks of rows (directly for small L, by FFT for larger), and the
 * blocks' sums are added exactly (a dense PMR_SUM_F64 set) over threads and
 * ranks. --demean takes the exact mean in a first pass. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "acf.h"
#include "cli.h"

/* From this many lags on, --method auto takes the FFT (see README: the
 * direct sums cost K + 1 multiply-adds per sample, the FFT about
 * 5 log2(N) N / (N - K) flops; they meet near 64 lags). */
#define AC_FFT_FROM 64

enum { SCALE_NONE, SCALE_BIASED, SCALE_UNBIASED, SCALE_COEFF };
static const char *const ac_scales[] = {"none", "biased", "unbiased", "coeff"};
enum { METHOD_AUTO, METHOD_DIRECT, METHOD_FFT };
static const char *const ac_methods[] = {"auto", "direct", "fft"};

typedef struct ac_opts {
  long long max_lag; /* -1: not given */
  int scale, method, demean;
  const char *group;
} ac_opts;

enum { OPT_MAX_LAG = 0x2000, OPT_SCALE, OPT_DEMEAN, OPT_METHOD, OPT_GROUP };

static const struct option ac_longopts[] = {
    {"max-lag", required_argument, NULL, OPT_MAX_LAG},
    {"scale", required_argument, NULL, OPT_SCALE},
    {"demean", no_argument, NULL, OPT_DEMEAN},
    {"method", required_argument, NULL, OPT_METHOD},
    {"group", required_argument, NULL, OPT_GROUP},
    {0}};

static int ac_pick(const char *arg, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(arg, names[i]))
      return i;
  return -1;
}

static int ac_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  ac_opts *o = user;
  char *end;
  switch (opt) {
  case OPT_MAX_LAG:
    /* 0 is a lag too (r[0] alone): no pmr_cli_positive. */
    o->max_lag = strtoll(arg, &end, 10);
    if (end == arg || *end || o->max_lag < 0 || arg[0] == '-' ||
        o->max_lag == LLONG_MAX) {
      pmr_cli_error(cli,
                    "invalid value '%s' for --max-lag: need an integer >= 0 "
                    "(see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_SCALE:
    if ((o->scale = ac_pick(arg, ac_scales, 4)) < 0) {
      pmr_cli_error(cli,
                    "unknown --scale '%s': use none, biased, unbiased or "
                    "coeff (see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_METHOD:
    if ((o->method = ac_pick(arg, ac_methods, 3)) < 0) {
      pmr_cli_error(cli,
                    "unknown --method '%s': use auto, direct or fft "
                    "(see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_DEMEAN:
    o->demean = 1;
    return 0;
  case OPT_GROUP:
    if (!*arg) {
      pmr_cli_error(cli, "--group needs a non-empty name (see --help)");
      return PMR_CLI_USAGE;
    }
    o->group = arg;
    return 0;
  }
  return PMR_CLI_USAGE;
}

/* ---- the map ---- */

/* One thread's workspace and lag sums, on cache lines of their own. */
typedef struct ac_slot {
  ac_work *work;
  double *r;
  char pad[48];
} ac_slot;

typedef struct ac_job {
  uint64_t K;  /* lags 0..K */
  double mean; /* subtracted from every sample (0 without --demean) */
  int fft;
  ac_slot *slot; /* [threads] */
} ac_job;

/* --demean's first pass: every sample into one exact sum. */
static int ac_sum_fn(const pmr_rows *rows, pmr_emitter *em, void *user) {
  const double *x = rows->data;
  (void)user;
  for (uint64_t i = 0; i < rows->nrows; i++) {
    int rc = pmr_emit_cell_f64(em, 0, 0, x[i]);
    if (rc)
      return rc;
  }
  return 0;
}

/* The lag sums of one block of rows (its halo holds the next K samples, or
 * what is left of the series) in double, then folded exactly into the
 * set: the fold costs K + 1 exact additions per block, not per sample. */
static int ac_lags_fn(const pmr_rows *rows, pmr_emitter *em, void *user) {
  ac_job *j = user;
  ac_slot *s = &j->slot[pmr_emitter_thread(em)];
  if (!s->work)
    s->work = ac_work_new();
  if (!s->r)
    s->r = malloc((j->K + 1) * sizeof *s->r);
  size_t P = rows->nrows, avail = P + rows->halo;
  int rc = !s->work || !s->r ? -1
           : j->fft
               ? ac_fft(s->work, rows->data, P, avail, j->K, j->mean, s->r)
               : ac_direct(s->work, rows->data, P, avail, j->K, j->mean, s->r);
  if (rc)
    return pmr_emitter_fail(em, "out of memory for the lag sums of %llu rows",
                            (unsigned long long)P);
  return pmr_emit_cell(em, 0, s->r);
}

/* ---- the result ---- */

/* The scaled sums on the root: Matlab's xcorr scale options, k >= 0. */
static void ac_scale(const double *sum, uint64_t K, uint64_t n, int scale,
                     double *r, int64_t *lags) {
  for (uint64_t k = 0; k <= K; k++) {
    double v = sum[k];
    switch (scale) {
    case SCALE_BIASED:
      v /= (double)n;
      break;
    case SCALE_UNBIASED:
      v /= (double)(n - k);
      break;
    case SCALE_COEFF:
      v /= sum[0]; /* 0/0 = NaN for an all-zero series, as Matlab */
      break;
    }
    r[k] = v;
    lags[k] = (int64_t)k;
  }
}

static int ac_write(pmr_ctx *ctx, const pmr_cli *cli, const ac_opts *o,
                    uint64_t n, const char *method, double mean,
                    const double *sum) {
  uint64_t K = (uint64_t)o->max_lag;
  int root = pmr_ctx_rank(ctx) == 0;
  double *r = NULL;
  int64_t *lags = NULL;
  int nomem = 0;
  if (root) {
    r = malloc((K + 1) * sizeof *r);
    lags = malloc((K + 1) * sizeof *lags);
    nomem = !r || !lags;
    if (!nomem)
      ac_scale(sum, K, n, o->scale, r, lags);
  }
  MPI_Allreduce(MPI_IN_PLACE, &nomem, 1, MPI_INT, MPI_MAX, pmr_ctx_comm(ctx));
  if (nomem) {
    free(r), free(lags);
    return PMR_ENOMEM;
  }
  char lname[1024], rname[1024];
  snprintf(lname, sizeof lname, "%s/lags", o->group);
  snprintf(rname, sizeof rname, "%s/r", o->group);
  pmr_meta *meta = NULL;
  pmr_h5out *w = NULL;
  int rc = pmr_meta_create(&meta);
  if (!rc)
    rc = pmr_meta_set_str(meta, "app", "autocorr");
  if (!rc)
    rc = pmr_meta_set_str(meta, "command_line", cli->command_line);
  if (!rc)
    rc = pmr_meta_set_strs(meta, "inputs", (const char *const *)cli->inputs,
                           cli->ninputs);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "n", (int64_t)n);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "max_lag", (int64_t)K);
  if (!rc)
    rc = pmr_meta_set_str(meta, "scale", ac_scales[o->scale]);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "demean", o->demean);
  if (!rc && o->demean)
    rc = pmr_meta_set_f64(meta, "mean", mean);
  if (!rc)
    rc = pmr_meta_set_str(meta, "method", method);
  /* The unscaled lag-0 sum (the energy): undoes any scale. Every rank
   * gives the same meta, so the root's value is broadcast. */
  double r0 = root ? sum[0] : 0;
  MPI_Bcast(&r0, 1, MPI_DOUBLE, 0, pmr_ctx_comm(ctx));
  if (!rc)
    rc = pmr_meta_set_f64(meta, "r0", r0);
  if (!rc)
    rc = pmr_h5out_open(ctx, cli->output, 0, &w);
  /* Small arrays known on the root: its rows, none elsewhere. */
  uint64_t mine = root ? K + 1 : 0;
  if (!rc)
    rc = pmr_h5out_rows(w, lname, PMR_INT64, 0, mine, lags);
  if (!rc)
    rc = pmr_h5out_rows(w, rname, PMR_FLOAT64, 0, mine, r);
  if (!rc)
    rc = pmr_h5out_meta(w, o->group, meta);
  int crc = pmr_h5out_close(&w, !rc);
  if (!rc)
    rc = crc;
  pmr_meta_free(&meta);
  free(r), free(lags);
  return rc;
}

int main(int argc, char **argv) {
  ac_opts o = {.max_lag = -1, .group = "autocorr"};
  pmr_cli_app app = {
      .name = "autocorr",
      .summary =
          "The autocorrelation r[k] = sum_i x[i] x[i+k], k = 0..L, of one 1-D "
          "HDF5 dataset\n(INPUT is FILE.h5:/path/to/dataset) over MPI ranks "
          "and OpenMP threads, scaled\nas Matlab's xcorr(x, L, scale) "
          "(lags k >= 0).",
      .options_help =
          "      --max-lag L      lags 0..L (required; L < the series' "
          "length)\n"
          "      --scale S        none (default): the sums; biased: r/n; "
          "unbiased: r/(n-k);\n"
          "                       coeff: r/r[0]\n"
          "      --demean         subtract the series' mean first (exact, "
          "one more pass);\n"
          "                       with --scale coeff: statsmodels' acf\n"
          "      --method M       auto (default: direct below 64 lags, else "
          "fft), direct, fft\n"
          "      --group NAME     HDF5 group of the result (default "
          "autocorr)\n",
      .longopts = ac_longopts,
      .on_option = ac_option,
      .user = &o,
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc == PMR_CLI_RUN && o.max_lag < 0) {
    pmr_cli_error(&cli, "no --max-lag: give the largest lag, e.g. "
                        "--max-lag 100 (see --help)");
    prc = PMR_CLI_USAGE;
  }
  if (prc == PMR_CLI_RUN && cli.ninputs != 1) {
    pmr_cli_error(&cli,
                  "one input dataset, FILE.h5:/path/to/dataset, please "
                  "(%d given; see --help)",
                  cli.ninputs);
    prc = PMR_CLI_USAGE;
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  const char *spec = cli.inputs[0];
  uint64_t K = (uint64_t)o.max_lag;
  pmr_ctx *ctx = NULL;
  pmr_kv *msum = NULL, *kv = NULL;
  ac_job job = {.K = K};
  char msg[1024] = "";
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  int nt = pmr_ctx_threads(ctx);

  /* Fail on an unwritable output or a wrong dataset now, before reading. */
  rc = pmr_check_output(ctx, cli.output);
  int nd = 0;
  uint64_t dims[2] = {0, 0};
  if (!rc)
    rc = pmr_h5_shape(ctx, spec, &nd, dims);
  uint64_t n = dims[0];
  if (!rc && nd != 1) {
    snprintf(msg, sizeof msg,
             "'%s' is 2-D (%llu x %llu); pmr-autocorr needs a 1-D series", spec,
             (unsigned long long)dims[0], (unsigned long long)dims[1]);
    rc = PMR_EINVAL;
  } else if (!rc && K >= n) {
    snprintf(msg, sizeof msg,
             "'%s' has %llu samples: --max-lag %llu is too large (at most "
             "%llu)",
             spec, (unsigned long long)n, (unsigned long long)K,
             (unsigned long long)(n - 1));
    rc = PMR_EINVAL;
  }
  /* The exact sums: 528 bytes per lag and thread (see pmr.h). Said here in
   * the user's terms rather than the set's, for the busiest rank (ranks may
   * differ in threads), so that every rank comes to the same verdict. */
  size_t budget = pmr_ctx_memory(ctx);
  int ntmax = nt;
  MPI_Allreduce(MPI_IN_PLACE, &ntmax, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (!rc && (double)(K + 1) * 528.0 * ntmax > (double)budget) {
    snprintf(msg, sizeof msg,
             "--max-lag %llu needs %.0f MiB per rank for exact lag sums "
             "(528 bytes x %llu lags x %d threads), more than the memory "
             "budget of %.0f MiB: raise -m or use fewer threads",
             (unsigned long long)K, (double)(K + 1) * 528.0 * ntmax / 1048576.0,
             (unsigned long long)(K + 1), ntmax, (double)budget / 1048576.0);
    rc = PMR_ENOMEM;
  }
  job.fft =
      o.method == METHOD_FFT || (o.method == METHOD_AUTO && K >= AC_FFT_FROM);
  /* Beyond the longest transform (2^26 points) only direct sums remain;
   * the exact sums alone would need 35 GB per thread there. */
  if (job.fft && !ac_fft_length(1, K)) {
    if (o.method == METHOD_FFT && !rc) {
      snprintf(msg, sizeof msg,
               "--method fft: --max-lag %llu is beyond the longest transform; "
               "use --method direct",
               (unsigned long long)K);
      rc = PMR_EINVAL;
    }
    job.fft = 0;
  }
  job.slot = calloc((size_t)nt, sizeof *job.slot);
  int nomem = !job.slot;
  MPI_Allreduce(MPI_IN_PLACE, &nomem, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (!rc && nomem)
    rc = PMR_ENOMEM;

  const char *const specs[1] = {spec};
  if (!rc && o.demean) {
    rc = pmr_kv_create_dense(ctx, PMR_SUM_F64, 1, 1, &msum);
    if (!rc)
      rc = pmr_map_h5(ctx, specs, 1, PMR_FLOAT64, 0, ac_sum_fn, NULL, msum);
    if (!rc)
      rc = pmr_kv_reduce(msum);
    if (!rc)
      job.mean = *(const double *)pmr_kv_dense_values(msum) / (double)n;
  }
  if (!rc)
    rc = pmr_kv_create_dense(ctx, PMR_SUM_F64, 1, K + 1, &kv);
  if (!rc)
    rc = pmr_map_h5(ctx, specs, 1, PMR_FLOAT64, K, ac_lags_fn, &job, kv);
  if (!rc)
    rc = pmr_kv_reduce_to(kv, 0);
  if (!rc)
    rc = ac_write(ctx, &cli, &o, n, job.fft ? "fft" : "direct", job.mean,
                  pmr_kv_dense_values(kv));
  if (rc)
    pmr_cli_error(&cli, "%s",
                  *msg               ? msg
                  : *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                     : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  if (!rc && pmr_cli_stats(&cli, ctx, 1))
    rc = PMR_EIO; /* the message is printed */

  for (int t = 0; job.slot && t < nt; t++) {
    ac_work_free(job.slot[t].work);
    free(job.slot[t].r);
  }
  free(job.slot);
  pmr_kv_destroy(&msum);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
