#define _POSIX_C_SOURCE 200809L
/* pmr-kmeans: Lloyd's k-means over points held in memory, over MPI ranks
 * and OpenMP threads.
 *
 *   mpirun -np 4 pmr-kmeans -t 2 points.h5:/points -k 100 -o km.h5 --assign
 *
 * Each rank loads its contiguous share of the rows once (pmr_block_load);
 * every iteration maps them into a dense set of k cells holding coordinate
 * sums and counts, reduced exactly (see lloyd.c), so that a run gives the
 * same bits at any rank and thread count. The loop is scikit-learn's
 * KMeans(algorithm="lloyd") step for step: see README.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pmr.h>

#include "cli.h"
#include "kmeans.h"

typedef struct km_opts {
  int progress; /* rank 0 prints a line per iteration */
  int shown;    /* and has one open on stderr */
  long long k;  /* 0: from --init FILE */
  long long iters;
  double tol;
  const char *init; /* "kmeans++", "random", or a spec */
  uint64_t seed;
  int assign;
  const char *group;
} km_opts;

enum { OPT_ITERS = 0x2000, OPT_TOL, OPT_INIT, OPT_SEED, OPT_ASSIGN, OPT_GROUP };

static const struct option km_longopts[] = {
    {"clusters", required_argument, NULL, 'k'},
    {"iters", required_argument, NULL, OPT_ITERS},
    {"tol", required_argument, NULL, OPT_TOL},
    {"init", required_argument, NULL, OPT_INIT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"assign", no_argument, NULL, OPT_ASSIGN},
    {"group", required_argument, NULL, OPT_GROUP},
    {0}};

static int km_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  km_opts *o = user;
  char *end;
  switch (opt) {
  case 'k':
    if (pmr_cli_positive(cli, "-k", arg, &o->k))
      return PMR_CLI_USAGE;
    if (o->k > INT32_MAX) {
      pmr_cli_error(cli, "-k %s: at most %d clusters", arg, INT32_MAX);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_ITERS:
    return pmr_cli_positive(cli, "--iters", arg, &o->iters);
  case OPT_TOL:
    errno = 0;
    o->tol = strtod(arg, &end);
    if (errno || end == arg || *end || !(o->tol >= 0) || isinf(o->tol)) {
      pmr_cli_error(cli,
                    "invalid value '%s' for --tol: need a number >= 0 "
                    "(see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_INIT:
    if (!strcmp(arg, "kmeans++") || !strcmp(arg, "k-means++"))
      o->init = "kmeans++";
    else if (!strcmp(arg, "random"))
      o->init = "random";
    else if (strstr(arg, ":/") && arg[0] != ':')
      o->init = arg;
    else {
      pmr_cli_error(cli,
                    "invalid value '%s' for --init: need kmeans++, "
                    "random or FILE.h5:/dataset (see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_SEED:
    errno = 0;
    o->seed = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] < '0' || arg[0] > '9') {
      pmr_cli_error(cli,
                    "invalid value '%s' for --seed: need an integer "
                    "from 0 to 2^64 - 1 (see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_ASSIGN:
    o->assign = 1;
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

static double km_clock(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double km_now(void) { return km_clock(CLOCK_MONOTONIC); }
/* All threads of this process: what the iterations cost on a machine
 * shared with other work, where wall time says little. */
static double km_cpu(void) { return km_clock(CLOCK_PROCESS_CPUTIME_ID); }

/* What the run found, for the output. */
typedef struct km_result {
  uint64_t k;
  double *init, *cent; /* k x d */
  int64_t *counts;     /* k */
  double *inertia;     /* per iteration */
  int64_t iterations;
  int converged;
  double final_inertia, tol_abs;
  int32_t *labels; /* nlocal, with --assign */
  double t_load, t_scan, t_init, t_iter, t_final, t_write;
  double cpu_iter; /* CPU seconds of this process in the iterations */
} km_result;

/* Lloyd iterations from res->init, as scikit-learn's lloyd loop: assign,
 * update (an empty cluster keeps its centroid), stop when the squared
 * shift of the centroids summed over all of them is <= tol_abs. Then, if
 * the last step moved a centroid, one more assignment so that counts,
 * labels and the final inertia belong to the final centroids. */
static int km_lloyd(km_data *dt, km_opts *o, km_result *res) {
  uint64_t k = res->k, d = dt->d;
  km_cent c;
  km_step st = {0};
  int rc = km_cent_init(&c, k, d);
  st.counts = malloc(k * sizeof *st.counts);
  st.sums = malloc(k * d * sizeof *st.sums);
  res->cent = malloc(k * d * sizeof *res->cent);
  res->counts = malloc(k * sizeof *res->counts);
  /* Grown as the iterations go: --iters may be far more than are run. */
  size_t cap = o->iters < 64 ? (size_t)o->iters : 64;
  res->inertia = malloc(cap * sizeof *res->inertia);
  if (!rc &&
      (!st.counts || !st.sums || !res->cent || !res->counts || !res->inertia))
    rc = km_fail(PMR_ENOMEM, "out of memory for %llu centroids",
                 (unsigned long long)k);
  rc = km_agree(dt, rc);
  double shift = -1;
  if (!rc) {
    memcpy(res->cent, res->init, k * d * sizeof *res->cent);
    double t0 = km_now(), c0 = km_cpu();
    for (long long it = 0; it < o->iters && !rc; it++) {
      km_cent_set(&c, res->cent);
      rc = km_step_run(dt, &c, &st, res->labels);
      if (!rc && (size_t)it == cap) {
        double *p = realloc(res->inertia, 2 * cap * sizeof *p);
        if (p) {
          res->inertia = p;
          cap *= 2;
        }
        rc = km_agree(dt, p ? PMR_OK
                            : km_fail(PMR_ENOMEM,
                                      "out of memory after %lld "
                                      "iterations",
                                      it));
      }
      if (rc)
        break;
      res->inertia[it] = st.inertia;
      shift = 0;
      for (uint64_t i = 0; i < k; i++) {
        double s = 0;
        for (uint64_t j = 0; j < d; j++) {
          double *cj = &res->cent[i * d + j];
          /* An empty cluster keeps its centroid. */
          double v =
              st.counts[i] ? st.sums[i * d + j] / (double)st.counts[i] : *cj;
          double t = v - *cj;
          s = s + t * t;
          *cj = v;
        }
        shift = shift + s;
      }
      memcpy(res->counts, st.counts, k * sizeof *st.counts);
      res->final_inertia = st.inertia;
      res->iterations = it + 1;
      if (o->progress && dt->rank == 0) {
        fprintf(stderr,
                "\rpmr-kmeans: iteration %lld (of at most %lld): inertia "
                "%.9g, shift %.3g",
                it + 1, o->iters, st.inertia, shift);
        fflush(stderr);
        o->shown = 1;
      }
      if (shift <= res->tol_abs) {
        res->converged = 1;
        break;
      }
    }
    res->t_iter = km_now() - t0;
    res->cpu_iter = km_cpu() - c0;
    if (o->shown) {
      fprintf(stderr, "\n");
      o->shown = 0;
    }
  }
  /* Unless the last step moved nothing (then its assignment is already
   * the final centroids'), assign once more. */
  if (!rc && shift != 0) {
    double t0 = km_now();
    km_cent_set(&c, res->cent);
    rc = km_step_run(dt, &c, &st, res->labels);
    if (!rc) {
      memcpy(res->counts, st.counts, k * sizeof *st.counts);
      res->final_inertia = st.inertia;
    }
    res->t_final = km_now() - t0;
  }
  km_cent_free(&c);
  free(st.counts);
  free(st.sums);
  return rc;
}

static int km_write(pmr_ctx *ctx, const pmr_cli *cli, const km_opts *o,
                    const km_data *dt, km_result *res) {
  double t0 = km_now();
  const char *g = o->group;
  char name[1024];
  int root = dt->rank == 0;
  uint64_t k = res->k, d = dt->d;
  pmr_meta *meta = NULL;
  pmr_h5out *w = NULL;
  int rc = pmr_meta_create(&meta);
  if (!rc)
    rc = pmr_meta_set_str(meta, "app", "kmeans");
  if (!rc)
    rc = pmr_meta_set_str(meta, "command_line", cli->command_line);
  if (!rc)
    rc = pmr_meta_set_strs(meta, "inputs", (const char *const *)cli->inputs,
                           cli->ninputs);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "iterations", res->iterations);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "converged", res->converged);
  if (!rc)
    rc = pmr_meta_set_f64(meta, "final_inertia", res->final_inertia);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "k", (int64_t)k);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "d", (int64_t)d);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "points", (int64_t)dt->n);
  if (!rc)
    rc = pmr_meta_set_str(meta, "init", o->init);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "seed", (int64_t)o->seed);
  if (!rc)
    rc = pmr_meta_set_i64(meta, "max_iter", o->iters);
  if (!rc)
    rc = pmr_meta_set_f64(meta, "tol", o->tol);
  if (!rc)
    rc = pmr_meta_set_f64(meta, "tol_abs", res->tol_abs);
  if (!rc)
    rc = pmr_meta_set_str(meta, "sums",
                          dt->fixed ? "exact, fixed point" : "exact, emitted");
  if (!rc)
    rc = pmr_meta_set_f64(meta, "load_seconds", res->t_load);
  if (!rc)
    rc = pmr_meta_set_f64(meta, "init_seconds", res->t_scan + res->t_init);
  if (!rc)
    rc = pmr_meta_set_f64(meta, "iterate_seconds", res->t_iter + res->t_final);
  rc = km_agree(dt, rc ? km_fail(rc, "out of memory") : PMR_OK);
  if (rc) {
    pmr_meta_free(&meta);
    return rc;
  }
  rc = pmr_h5out_open(ctx, cli->output, 0, &w);
#define KM_ROWS(ds, type, cols, n, data)                                       \
  do {                                                                         \
    snprintf(name, sizeof name, "%s/%s", g, ds);                               \
    if (!rc)                                                                   \
      rc = pmr_h5out_rows(w, name, type, cols, n, data);                       \
  } while (0)
  KM_ROWS("centroids", PMR_FLOAT64, d, root ? k : 0, res->cent);
  KM_ROWS("counts", PMR_INT64, 0, root ? k : 0, res->counts);
  KM_ROWS("inertia", PMR_FLOAT64, 0, root ? (uint64_t)res->iterations : 0,
          res->inertia);
  KM_ROWS("initial_centroids", PMR_FLOAT64, d, root ? k : 0, res->init);
  if (o->assign)
    KM_ROWS("assignments", PMR_INT32, 0, dt->nlocal, res->labels);
#undef KM_ROWS
  if (!rc)
    rc = pmr_h5out_meta(w, g, meta);
  int crc = pmr_h5out_close(&w, rc == PMR_OK);
  if (!rc)
    rc = crc;
  pmr_meta_free(&meta);
  res->t_write = km_now() - t0;
  return rc;
}

/* Two lines on rank 0: the iteration rate (wall time of the slowest rank;
 * CPU time summed over ranks), then the phases. Collective. */
static void km_print_stats(const km_data *dt, const km_result *r) {
  double cpu = 0, wall = 0;
  MPI_Reduce(&r->cpu_iter, &cpu, 1, MPI_DOUBLE, MPI_SUM, 0,
             pmr_ctx_comm(dt->ctx));
  MPI_Reduce(&r->t_iter, &wall, 1, MPI_DOUBLE, MPI_MAX, 0,
             pmr_ctx_comm(dt->ctx));
  if (dt->rank)
    return;
  double pi = (double)dt->n * (double)r->iterations;
  double rate = wall > 0 ? pi / wall : 0;
  int threads = dt->nranks * dt->nthreads;
  fprintf(stderr,
          "pmr-kmeans: %llu points x %llu dims, k = %llu: %lld iterations "
          "(%s) in %.3f s, cpu %.3f s: %.2f M point-iterations/s, %.2f M/s "
          "per thread, %.2f M per cpu-second (%d ranks x %d threads)\n",
          (unsigned long long)dt->n, (unsigned long long)dt->d,
          (unsigned long long)r->k, (long long)r->iterations,
          r->converged ? "converged" : "not converged", wall, cpu, rate / 1e6,
          rate / 1e6 / threads, cpu > 0 ? pi / cpu / 1e6 : 0, dt->nranks,
          dt->nthreads);
  fprintf(stderr,
          "pmr-kmeans: seconds: load %.3f, scan %.3f, init %.3f, iterations "
          "%.3f, final assignment %.3f, write %.3f; block %.1f MiB per rank "
          "(largest); kernel %s; sums %s\n",
          r->t_load, r->t_scan, r->t_init, r->t_iter, r->t_final, r->t_write,
          (double)((dt->n + (uint64_t)dt->nranks - 1) / (uint64_t)dt->nranks) *
              (double)dt->d * 8 / 1048576.0,
          km_kernel_name(), dt->fixed ? "fixed point" : "emitted");
}

int main(int argc, char **argv) {
  km_opts o = {
      .iters = 300, .tol = 1e-4, .init = "kmeans++", .group = "kmeans"};
  pmr_cli_app app = {
      .name = "kmeans",
      .summary =
          "Cluster the rows of a 2-D HDF5 dataset ([n, d] points) with "
          "Lloyd's k-means,\nover MPI ranks and OpenMP threads; the same "
          "bits at any rank and thread count.",
      .options_help =
          "  -k, --clusters K     number of clusters (may be left out with "
          "--init FILE)\n"
          "      --iters N        at most N iterations (default 300)\n"
          "      --tol T          stop when the squared centroid shift summed "
          "over all\n"
          "                       centroids is <= T x the mean variance of "
          "the\n"
          "                       dimensions (scikit-learn's rule; default "
          "1e-4)\n"
          "      --init HOW       kmeans++ (default), random (k distinct "
          "points), or\n"
          "                       FILE.h5:/dataset holding [k, d] initial "
          "centroids\n"
          "      --seed S         seed of kmeans++ and random (default 0)\n"
          "      --assign         also write each point's cluster "
          "(assignments, int32)\n"
          "      --group NAME     HDF5 group of the result (default "
          "kmeans)\n",
      .longopts = km_longopts,
      .on_option = km_option,
      .user = &o,
      .shortopts = "k:",
      .usage = "[options] INPUT.h5:/points -k K -o OUT.h5",
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc == PMR_CLI_RUN && cli.ninputs != 1) {
    pmr_cli_error(&cli,
                  "one input dataset, FILE.h5:/points, is needed; "
                  "got %d (see --help)",
                  cli.ninputs);
    prc = PMR_CLI_USAGE;
  }
  int from_file = strcmp(o.init, "kmeans++") && strcmp(o.init, "random");
  if (prc == PMR_CLI_RUN && !o.k && !from_file) {
    pmr_cli_error(&cli, "give the number of clusters, -k K (see --help)");
    prc = PMR_CLI_USAGE;
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  pmr_ctx *ctx = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  /* A line per iteration instead of the library's per map (there are
   * several maps per iteration). */
  o.progress =
      cli.progress < 0 ? cli.rank == 0 && isatty(STDERR_FILENO) : cli.progress;
  pmr_ctx_set_progress(ctx, NULL, NULL);

  km_data dt = {.ctx = ctx, .spec = cli.inputs[0]};
  dt.rank = pmr_ctx_rank(ctx);
  dt.nranks = pmr_ctx_size(ctx);
  dt.nthreads = pmr_ctx_threads(ctx);
  km_result res = {0};
  double *var = NULL;

  /* Fail on an unwritable output now, not after the work. */
  rc = pmr_check_output(ctx, cli.output);
  double t0 = km_now();
  if (!rc)
    rc = pmr_block_load(ctx, dt.spec, PMR_FLOAT64, 0, &dt.block);
  if (!rc) {
    pmr_rows r;
    pmr_block_rows(dt.block, &r);
    dt.n = r.total;
    dt.d = r.ncols;
    dt.first = r.first;
    dt.nlocal = r.nrows;
    dt.x = r.data;
    res.t_load = km_now() - t0;
    t0 = km_now();
    var = o.tol > 0 ? malloc(dt.d * sizeof *var) : NULL;
    rc = km_agree(&dt, o.tol > 0 && !var ? PMR_ENOMEM : PMR_OK);
  }
  if (!rc)
    rc = km_scan(&dt, var);
  if (!rc && o.tol > 0) {
    /* scikit-learn's _tolerance: tol x mean over dimensions of the
     * variance. */
    double s = 0;
    for (uint64_t j = 0; j < dt.d; j++)
      s = s + var[j];
    res.tol_abs = s / (double)dt.d * o.tol;
  }
  res.t_scan = km_now() - t0;
  t0 = km_now();
  if (!rc && (uint64_t)o.k > dt.n)
    rc = km_fail(PMR_EINVAL,
                 "'%s' holds %llu points, fewer than the %lld clusters asked "
                 "for",
                 dt.spec, (unsigned long long)dt.n, o.k);
  if (!rc) {
    res.k = (uint64_t)o.k;
    if (from_file) {
      rc = km_init_file(&dt, o.init, &res.k, &res.init);
    } else {
      res.init = malloc(res.k * dt.d * sizeof *res.init);
      rc = km_agree(&dt, res.init ? PMR_OK
                                  : km_fail(PMR_ENOMEM,
                                            "out of memory for %llu "
                                            "centroids",
                                            (unsigned long long)res.k));
      if (!rc && !strcmp(o.init, "random"))
        rc = km_init_random(&dt, res.k, o.seed, res.init);
      else if (!rc)
        rc = km_init_kmeanspp(&dt, res.k, o.seed, res.init);
    }
  }
  res.t_init = km_now() - t0;
  if (!rc && o.assign) {
    res.labels = malloc((dt.nlocal ? dt.nlocal : 1) * sizeof *res.labels);
    rc = km_agree(&dt, res.labels ? PMR_OK
                                  : km_fail(PMR_ENOMEM,
                                            "out of memory for %llu "
                                            "assignments",
                                            (unsigned long long)dt.nlocal));
  }
  if (!rc)
    rc = km_lloyd(&dt, &o, &res);
  if (!rc)
    rc = km_write(ctx, &cli, &o, &dt, &res);

  if (rc && o.shown)
    fputc('\n', stderr);
  if (rc)
    pmr_cli_error(&cli, "%s",
                  *km_errmsg         ? km_errmsg
                  : *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                     : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  if (cli.stats && !rc)
    km_print_stats(&dt, &res);
  if (!rc && pmr_cli_stats(&cli, ctx, 1))
    rc = PMR_EIO; /* the message is printed */
  free(var);
  free(res.init);
  free(res.cent);
  free(res.counts);
  free(res.inertia);
  free(res.labels);
  pmr_block_free(&dt.block);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
