#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <hdf5.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* --version: pmr's, the MPI library's (its first line) and HDF5's, for
 * support requests. MPI_Get_library_version may be called before MPI_Init. */
static void pmr_cli_version(const pmr_cli *cli) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int len = 0;
  if (MPI_Get_library_version(mpi, &len) != MPI_SUCCESS)
    snprintf(mpi, sizeof mpi, "unknown");
  mpi[strcspn(mpi, "\n")] = '\0';
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  printf("%s (pmr) %s\nMPI: %s\nHDF5: %u.%u.%u\n", cli->prog,
         pmr_version_string(), mpi, maj, min, rel);
}

static void pmr_cli_progress_clear(void);

void pmr_cli_error(const pmr_cli *cli, const char *fmt, ...) {
  pmr_signals_install(NULL, 0); /* this line is the run's one message */
  if (cli->rank != 0)
    return;
  pmr_cli_progress_clear();
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", cli->prog);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void pmr_cli_usage(const pmr_cli *cli) {
  const pmr_cli_app *a = cli->app;
  if (a->usage)
    printf("Usage: %s %s\n%s\n\n", cli->prog, a->usage, a->summary);
  else
    printf("Usage: %s [options] INPUT... %s\n%s\n\n", cli->prog,
           a->output_optional ? "[-o OUT.h5]" : "-o OUT.h5", a->summary);
  printf("Options:\n"
         "  -o, --output FILE    write the result to HDF5 file FILE\n"
         "%s"
         "  -t, --threads N      OpenMP threads per rank (default: "
         "OMP_NUM_THREADS,\n"
         "                       else the cores of this rank)\n"
         "  -m, --memory SIZE    memory budget per rank, e.g. 512M, 2G "
         "(default 256M)\n"
         "      --progress       show progress on stderr (default when "
         "stderr is a tty)\n"
         "      --no-progress    never show progress\n"
         "      --progress-interval S  without a terminal, a progress line "
         "every S seconds\n"
         "                       (default 30) and at the end of each phase\n"
         "      --stats          print the run's statistics at the end "
         "(stderr): phase\n"
         "                       times over ranks, counters, throughput, "
         "peak RSS\n"
         "      --stats-json FILE  write the same statistics to FILE as "
         "JSON\n"
         "      --files-from F   also read input names from file F, one a "
         "line\n"
         "  -0, --null           names in F are NUL-separated "
         "(find -print0)\n"
         "  -h, --help           show this help and exit\n"
         "      --version        show the version and exit\n\n"
         "Run on N ranks with: mpirun -np N %s ...\n"
         "%s",
         a->options_help ? a->options_help : "", cli->prog,
         a->exit_help ? a->exit_help
                      : "Exit status: 0 success, 1 error, 2 usage error.\n");
}

int pmr_cli_positive(pmr_cli *cli, const char *opt, const char *arg,
                     long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(arg, &end, 10);
  if (errno || end == arg || *end || v < 1) {
    pmr_cli_error(cli, "invalid value '%s' for %s: need a positive integer "
                       "(see --help)", arg, opt);
    return PMR_CLI_USAGE;
  }
  *out = v;
  return 0;
}

char *pmr_cli_join(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; i++)
    len += 4 * strlen(argv[i]) + 3;
  char *s = malloc(len), *p = s;
  if (!s)
    return NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int plain = *a != '\0';
    for (const char *c = a; *c; c++)
      if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789-_./=:,+@%", *c))
        plain = 0;
    if (i)
      *p++ = ' ';
    if (plain) {
      p = stpcpy(p, a);
    } else {
      *p++ = '\'';
      for (const char *c = a; *c; c++) {
        if (*c == '\'')
          p = stpcpy(p, "'\\''");
        else
          *p++ = *c;
      }
      *p++ = '\'';
    }
  }
  *p = '\0';
  return s;
}

int pmr_cli_env_rank(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK",
                               "PMI_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v)
      return atoi(v);
  }
  return 0;
}

static void pmr_cli_name(pmr_cli *cli, const pmr_cli_app *app) {
  static char prog[64];
  snprintf(prog, sizeof prog, "pmr-%s", app->name);
  memset(cli, 0, sizeof *cli);
  cli->prog = prog;
  cli->app = app;
  cli->progress = -1;
  cli->progress_interval = 30;
}

int pmr_cli_early(const pmr_cli_app *app, int argc, char **argv) {
  pmr_cli cli;
  pmr_cli_name(&cli, app);
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    int help = !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");
    if (!help && strcmp(argv[i], "--version"))
      continue;
    if (pmr_cli_env_rank() == 0) {
      if (help)
        pmr_cli_usage(&cli);
      else
        pmr_cli_version(&cli);
    }
    return 1;
  }
  return 0;
}

enum {
  OPT_VERSION = 0x1000,
  OPT_PROGRESS,
  OPT_NO_PROGRESS,
  OPT_STATS,
  OPT_STATS_JSON,
  OPT_PROGRESS_INTERVAL,
  OPT_FILES_FROM,
  OPT_NULL
};

/* --files-from: the positional inputs, then the names of `list` (one a
 * line, or NUL-separated with -0; empty entries skipped), into a new
 * array the cli owns. 0, or 2 after a message. */
static int pmr_cli_files_from(pmr_cli *cli, const char *list, int nul,
                              char **pos, int npos) {
  FILE *f = fopen(list, "rb");
  if (!f) {
    pmr_cli_error(cli, "cannot read the list of inputs '%s': %s", list,
                  strerror(errno));
    return PMR_CLI_USAGE;
  }
  size_t len = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  for (size_t k; buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
    len += k;
    if (cap - len - 1 == 0) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int bad = !buf || ferror(f);
  fclose(f);
  if (bad) {
    pmr_cli_error(cli, "cannot read the list of inputs '%s'%s", list,
                  buf ? "" : ": out of memory");
    free(buf);
    return PMR_CLI_USAGE;
  }
  buf[len] = '\0';
  char sep = nul ? '\0' : '\n';
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    n += buf[i] == sep;
  char **all = malloc(((size_t)npos + n + 2) * sizeof *all);
  if (!all) {
    free(buf);
    pmr_cli_error(cli, "out of memory reading '%s'", list);
    return PMR_CLI_USAGE;
  }
  int k = 0;
  for (int i = 0; i < npos; i++)
    all[k++] = pos[i];
  for (size_t i = 0; i < len;) {
    char *e = memchr(buf + i, sep, len - i);
    size_t end = e ? (size_t)(e - buf) : len;
    buf[end] = '\0';
    if (end > i)
      all[k++] = buf + i;
    i = end + 1;
  }
  all[k] = NULL;
  cli->inputs = all;
  cli->ninputs = k;
  cli->owned_inputs = all;
  cli->owned_names = buf;
  return 0;
}

int pmr_cli_parse(pmr_cli *cli, const pmr_cli_app *app, int argc,
                  char **argv) {
  pmr_cli_name(cli, app);
  MPI_Comm_rank(MPI_COMM_WORLD, &cli->rank);
  /* After MPI_Init (whose SIGBUS handler prints a stack dump): stop
   * signals remove temporary outputs and end with one line. */
  pmr_signals_install(cli->prog, cli->rank);
  cli->command_line = pmr_cli_join(argc, argv);

  static const struct option common[] = {
      {"output", required_argument, NULL, 'o'},
      {"threads", required_argument, NULL, 't'},
      {"memory", required_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {"progress", no_argument, NULL, OPT_PROGRESS},
      {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
      {"stats", no_argument, NULL, OPT_STATS},
      {"files-from", required_argument, NULL, OPT_FILES_FROM},
      {"null", no_argument, NULL, OPT_NULL},
      {"stats-json", required_argument, NULL, OPT_STATS_JSON},
      {"progress-interval", required_argument, NULL, OPT_PROGRESS_INTERVAL},
  };
  size_t nc = sizeof common / sizeof common[0], na = 0;
  while (app->longopts && app->longopts[na].name)
    na++;
  struct option *all = calloc(nc + na + 1, sizeof *all);
  if (!all)
    return PMR_CLI_USAGE;
  memcpy(all, common, sizeof common);
  if (na)
    memcpy(all + nc, app->longopts, na * sizeof *all);

  char shortopts[64];
  snprintf(shortopts, sizeof shortopts, ":o:t:m:h0%s",
           app->shortopts ? app->shortopts : "");
  int rc = PMR_CLI_RUN, opt, nul = 0;
  const char *files_from = NULL;
  long long v;
  opterr = 0;
  optind = 1;
  while (rc == PMR_CLI_RUN &&
         (opt = getopt_long(argc, argv, shortopts, all, NULL)) != -1) {
    switch (opt) {
    case 'o':
      if (cli->output) {
        pmr_cli_error(cli, "-o given twice ('%s' and '%s')", cli->output,
                      optarg);
        rc = PMR_CLI_USAGE;
      } else if (!*optarg) {
        pmr_cli_error(cli, "empty output file name for -o (see --help)");
        rc = PMR_CLI_USAGE;
      }
      cli->output = optarg;
      break;
    case OPT_FILES_FROM:
      files_from = optarg;
      break;
    case '0':
    case OPT_NULL:
      nul = 1;
      break;
    case 't':
      if ((rc = pmr_cli_positive(cli, "--threads", optarg, &v)) == 0) {
        if (v > PMR_MAX_THREADS) {
          pmr_cli_error(cli, "--threads %lld: at most %d threads per rank",
                        v, PMR_MAX_THREADS);
          rc = PMR_CLI_USAGE;
        } else {
          cli->threads = (int)v;
        }
      }
      break;
    case 'm':
      if (pmr_parse_size(optarg, &cli->memory) != PMR_OK ||
          cli->memory < ((size_t)1 << 20)) {
        pmr_cli_error(cli, "invalid value '%s' for --memory: need a size "
                           "of at least 1M, e.g. 512M (see --help)", optarg);
        rc = PMR_CLI_USAGE;
      }
      break;
    case 'h':
      if (cli->rank == 0)
        pmr_cli_usage(cli);
      rc = PMR_CLI_DONE;
      break;
    case OPT_VERSION:
      if (cli->rank == 0)
        pmr_cli_version(cli);
      rc = PMR_CLI_DONE;
      break;
    case OPT_PROGRESS:
      cli->progress = 1;
      break;
    case OPT_NO_PROGRESS:
      cli->progress = 0;
      break;
    case OPT_STATS:
      cli->stats = 1;
      break;
    case OPT_PROGRESS_INTERVAL: {
      char *end;
      errno = 0;
      double v = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(v > 0) || v > 1e6) {
        pmr_cli_error(cli, "invalid value '%s' for --progress-interval: need "
                           "seconds above 0, e.g. 10 (see --help)", optarg);
        rc = PMR_CLI_USAGE;
      }
      cli->progress_interval = v;
      break;
    }
    case OPT_STATS_JSON:
      if (!*optarg) {
        pmr_cli_error(cli, "--stats-json needs a file name (see --help)");
        rc = PMR_CLI_USAGE;
      }
      cli->stats_json = optarg;
      break;
    case ':':
      pmr_cli_error(cli, "option '%s' needs a value (see --help)",
                    argv[optind - 1]);
      rc = PMR_CLI_USAGE;
      break;
    case '?':
      if (optopt)
        pmr_cli_error(cli, "unknown option '-%c' (see --help)", optopt);
      else
        pmr_cli_error(cli, "unknown option '%s' (see --help)",
                      argv[optind - 1]);
      rc = PMR_CLI_USAGE;
      break;
    default:
      rc = app->on_option ? app->on_option(cli, opt, optarg, app->user)
                          : PMR_CLI_USAGE;
    }
  }
  free(all);
  if (rc != PMR_CLI_RUN)
    return rc;
  cli->inputs = argv + optind;
  cli->ninputs = argc - optind;
  if (files_from &&
      pmr_cli_files_from(cli, files_from, nul, argv + optind, argc - optind))
    return PMR_CLI_USAGE;
  if (cli->ninputs == 0 && !app->inputs_optional) {
    pmr_cli_error(cli, "no input files (see --help)");
    return PMR_CLI_USAGE;
  }
  if (!cli->output && !app->output_optional) {
    pmr_cli_error(cli, "no output file: give -o OUT.h5 (see --help)");
    return PMR_CLI_USAGE;
  }
  /* -o writes HDF5: a text file's name there is a slip for --text. */
  const char *dot = cli->output ? strrchr(cli->output, '.') : NULL;
  int has_text = 0;
  for (size_t i = 0; app->longopts && app->longopts[i].name; i++)
    has_text |= !strcmp(app->longopts[i].name, "text") &&
                app->longopts[i].has_arg == required_argument;
  if (has_text && dot &&
      (!strcasecmp(dot, ".txt") || !strcasecmp(dot, ".tsv") ||
       !strcasecmp(dot, ".csv"))) {
    pmr_cli_error(cli, "-o writes HDF5, but '%s' names a text file: use "
                       "--text %s for text output (see --help)",
                  cli->output, cli->output);
    return PMR_CLI_USAGE;
  }
  return PMR_CLI_RUN;
}

/* Progress on rank 0. On a terminal one line is redrawn in place (at most
 * as often as the library reports, about twice a second) and cleared when
 * the phase ends; elsewhere (a batch log read with tail -f) a plain line is
 * printed every --progress-interval seconds and at the end of each phase.
 * Each line: phase, percentage, done of total (the phase's units: bytes of
 * text input, rows, pairs), rate, elapsed time and ETA. */
static struct {
  char phase[32];
  double t0, last;   /* the phase's start; the last line printed */
  uint64_t d0;       /* done at t0 */
  int finished;      /* the phase's 100% line is out */
  int drawn;         /* a terminal line is on screen */
} pmr_cli_prog;

static double pmr_cli_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void pmr_cli_amount(double x, char *buf, size_t n) {
  static const char *const u[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (x >= 1000.0 && i < 5) {
    x /= 1000.0;
    i++;
  }
  snprintf(buf, n, i ? "%.1f%s" : "%.0f%s", x, u[i]);
}

static void pmr_cli_duration(double s, char *buf, size_t n) {
  if (s < 60)
    snprintf(buf, n, "%.1f s", s);
  else if (s < 3600)
    snprintf(buf, n, "%d min %02d s", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, n, "%d h %02d min", (int)s / 3600, (int)s % 3600 / 60);
}

/* Clear a terminal line left on screen (before messages and tables). */
static void pmr_cli_progress_clear(void) {
  if (pmr_cli_prog.drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    pmr_cli_prog.drawn = 0;
  }
}

static void pmr_cli_progress(const char *phase, uint64_t done, uint64_t total,
                             void *user) {
  const pmr_cli *cli = user;
  double now = pmr_cli_clock();
  if (strncmp(pmr_cli_prog.phase, phase, sizeof pmr_cli_prog.phase - 1)) {
    snprintf(pmr_cli_prog.phase, sizeof pmr_cli_prog.phase, "%s", phase);
    /* A new phase starts where the last one ended (or at setup). */
    if (pmr_cli_prog.finished)
      pmr_cli_prog.t0 = pmr_cli_prog.last;
    pmr_cli_prog.d0 = 0;
    pmr_cli_prog.finished = 0;
  }
  int end = done >= total;
  if (end && pmr_cli_prog.finished)
    return; /* the library may report the end twice */
  int tty = isatty(STDERR_FILENO);
  if (!end && !tty && now - pmr_cli_prog.last < cli->progress_interval)
    return;
  double el = now - pmr_cli_prog.t0;
  double rate = el > 0 ? (double)(done - pmr_cli_prog.d0) / el : 0;
  double pct = total ? 100.0 * (double)done / (double)total : 100.0;
  char d[16], t[16], r[16], e[24], eta[24] = "";
  pmr_cli_amount((double)done, d, sizeof d);
  pmr_cli_amount((double)total, t, sizeof t);
  pmr_cli_amount(rate, r, sizeof r);
  pmr_cli_duration(el, e, sizeof e);
  if (!end && rate > 0) {
    char left[16];
    pmr_cli_duration((double)(total - done) / rate, left, sizeof left);
    snprintf(eta, sizeof eta, ", ETA %s", left);
  }
  if (tty)
    fputs("\r\033[K", stderr);
  fprintf(stderr, "%s: %s %5.1f%% (%s of %s) %s/s, elapsed %s%s%s", cli->prog,
          phase, pct, d, t, r, e, eta, tty ? "" : "\n");
  pmr_cli_prog.drawn = tty;
  if (end)
    pmr_cli_progress_clear();
  fflush(stderr);
  pmr_cli_prog.last = now;
  pmr_cli_prog.finished = end;
}

/* CPUs in this process's affinity mask (0 when unknown). */
static int pmr_cli_mask_cpus(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return 0;
  return CPU_COUNT(&set);
}

/* Once, on rank 0, before the work: a rank with more threads than CPUs in
 * its affinity mask (Open MPI binds each rank to one core by default) runs
 * its threads in turns on the same cores. Collective. */
static void pmr_cli_check_binding(pmr_cli *cli, pmr_ctx *ctx) {
  int threads = pmr_ctx_threads(ctx), cpus = pmr_cli_mask_cpus();
  struct {
    int excess, rank;
  } worst = {cpus > 0 ? threads - cpus : 0, cli->rank};
  MPI_Comm comm = pmr_ctx_comm(ctx);
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_2INT, MPI_MAXLOC, comm);
  if (worst.excess <= 0)
    return;
  int tc[2] = {0, 0};
  if (cli->rank == worst.rank)
    tc[0] = threads, tc[1] = cpus;
  MPI_Allreduce(MPI_IN_PLACE, tc, 2, MPI_INT, MPI_MAX, comm);
  if (cli->rank == 0)
    fprintf(stderr,
            "%s: warning: rank %d runs %d threads on %d CPU%s of its "
            "affinity mask, so they take turns; launch with "
            "'mpirun --bind-to none' or '--map-by slot:PE=%d' (srun: "
            "--cpus-per-task=%d), or give -t %d\n",
            cli->prog, worst.rank, tc[0], tc[1], tc[1] == 1 ? "" : "s",
            tc[0], tc[0], tc[1]);
}

void pmr_cli_setup(pmr_cli *cli, pmr_ctx *ctx) {
  if (cli->threads > 0)
    pmr_ctx_set_threads(ctx, cli->threads);
  pmr_cli_check_binding(cli, ctx);
  if (cli->memory > 0)
    pmr_ctx_set_memory(ctx, cli->memory);
  int progress = cli->progress;
  if (progress < 0)
    progress = cli->rank == 0 && isatty(STDERR_FILENO);
  if (progress && cli->rank == 0) {
    pmr_cli_prog.t0 = pmr_cli_prog.last = pmr_cli_clock();
    pmr_ctx_set_progress(ctx, pmr_cli_progress, cli);
  }
}

int pmr_cli_stats(pmr_cli *cli, pmr_ctx *ctx, int table) {
  if (cli->rank == 0)
    pmr_cli_progress_clear();
  if (table && cli->stats)
    pmr_ctx_print_stats(ctx, stderr);
  if (!cli->stats_json)
    return 0;
  int rc = pmr_ctx_write_stats_json(ctx, cli->stats_json);
  if (rc)
    pmr_cli_error(cli, "%s", *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                              : pmr_strerror(rc));
  return rc ? 1 : 0;
}

void pmr_cli_free(pmr_cli *cli) {
  free(cli->command_line);
  cli->command_line = NULL;
  free(cli->owned_inputs);
  free(cli->owned_names);
  cli->owned_inputs = NULL;
  cli->owned_names = NULL;
}

int pmr_cli_finish(pmr_cli *cli, int status) {
  pmr_signals_install(NULL, 0);
  pmr_cli_free(cli);
  MPI_Finalize();
  return status;
}
