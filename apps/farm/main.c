/* pmr-farm: run many independent shell commands across MPI ranks and nodes,
 * handed out dynamically, with a record of every task.
 *
 *   mpirun -np 8 pmr-farm tasks.txt -o results.h5 -j 4 --retries 2
 *   mpirun -np 8 pmr-farm --template 'sim --a {a} --b {b}' --params sweep.csv -o r.h5
 *
 * Exit status: 0 every task succeeded, 1 some failed (or an error), 2 usage
 * error, 75 stopped by a signal before every task ran (--resume finishes). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pmr.h>

#include "app.h"
#include "cli.h"

typedef struct opts {
  long long per_rank;
  double timeout, grace;
  long long retries;
  int halt_on_error, resume;
  const char *tmpl, *params, *logs;
} opts;

enum {
  OPT_TEMPLATE = 0x2000, OPT_PARAMS, OPT_LOGS, OPT_TIMEOUT, OPT_RETRIES,
  OPT_KEEP_GOING, OPT_HALT, OPT_RESUME, OPT_GRACE
};

static const struct option farm_longopts[] = {
    {"per-rank", required_argument, NULL, 'j'},
    {"template", required_argument, NULL, OPT_TEMPLATE},
    {"params", required_argument, NULL, OPT_PARAMS},
    {"logs", required_argument, NULL, OPT_LOGS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"halt-on-error", no_argument, NULL, OPT_HALT},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"grace", required_argument, NULL, OPT_GRACE},
    {0}};

/* Seconds: a finite decimal >= 0 (> 0 when `positive`). */
static int seconds_arg(pmr_cli *cli, const char *opt, const char *arg,
                       int positive, double *out) {
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  if (errno || end == arg || *end || !isfinite(v) || v < 0 ||
      (positive && v == 0) || v > 1e9) {
    pmr_cli_error(cli, "invalid value '%s' for %s: need a number of seconds"
                  "%s (see --help)", arg, opt, positive ? " above 0" : "");
    return PMR_CLI_USAGE;
  }
  *out = v;
  return 0;
}

static int farm_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  opts *o = user;
  switch (opt) {
  case 'j':
    if (pmr_cli_positive(cli, "--per-rank", arg, &o->per_rank))
      return PMR_CLI_USAGE;
    if (o->per_rank > PMR_MAX_THREADS) {
      pmr_cli_error(cli, "--per-rank %lld: at most %d tasks at once per rank",
                    o->per_rank, PMR_MAX_THREADS);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_TEMPLATE:
    o->tmpl = arg;
    return 0;
  case OPT_PARAMS:
    o->params = arg;
    return 0;
  case OPT_LOGS:
    if (!*arg) {
      pmr_cli_error(cli, "--logs needs a directory name (see --help)");
      return PMR_CLI_USAGE;
    }
    o->logs = arg;
    return 0;
  case OPT_TIMEOUT:
    return seconds_arg(cli, "--timeout", arg, 1, &o->timeout);
  case OPT_GRACE:
    return seconds_arg(cli, "--grace", arg, 0, &o->grace);
  case OPT_RETRIES: {
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < 0 || v > 1000) {
      pmr_cli_error(cli, "invalid value '%s' for --retries: need 0..1000 "
                    "(see --help)", arg);
      return PMR_CLI_USAGE;
    }
    o->retries = v;
    return 0;
  }
  case OPT_KEEP_GOING:
    o->halt_on_error = 0;
    return 0;
  case OPT_HALT:
    o->halt_on_error = 1;
    return 0;
  case OPT_RESUME:
    o->resume = 1;
    return 0;
  }
  return PMR_CLI_USAGE;
}

/* mkdir -p: rank 0 only. */
static int make_dirs(const char *path, char *err, size_t errlen) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    snprintf(err, errlen, "directory name too long: '%.200s...'", path);
    return 1;
  }
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      struct stat st;
      if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the log directory '%.900s': %s", buf,
                 strerror(errno));
        return 1;
      }
      if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot use '%.900s' for the logs: not a "
                 "directory", buf);
        return 1;
      }
      *p = c;
      if (!c)
        return 0;
    }
  }
}

/* MPI_Bcast of any size, in pieces an int can count. */
static int bcast_big(void *buf, uint64_t n, MPI_Comm comm) {
  const uint64_t piece = (uint64_t)1 << 30;
  for (uint64_t at = 0; at < n; at += piece) {
    uint64_t k = n - at < piece ? n - at : piece;
    if (MPI_Bcast((char *)buf + at, (int)k, MPI_BYTE, 0, comm) != MPI_SUCCESS)
      return 1;
  }
  return 0;
}

/* Rank 0 reads the tasks; every rank gets them. */
static int load_tasks(pmr_ctx *ctx, pmr_cli *cli, const opts *o,
                      tasklist *t, char *err, size_t errlen) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  int bad = 0;
  if (cli->rank == 0)
    bad = o->tmpl ? tasks_from_template(o->tmpl, o->params, t, err, errlen)
                  : tasks_from_file(cli->inputs[0], t, err, errlen);
  if (farm_agree(ctx, bad, err, errlen))
    return 1;
  uint64_t hdr[2] = {t->n, t->bytes};
  MPI_Bcast(hdr, 2, MPI_UINT64_T, 0, comm);
  if (cli->rank != 0) {
    t->n = hdr[0];
    t->bytes = hdr[1];
    t->text = malloc(t->bytes ? t->bytes : 1);
  }
  bad = !t->text;
  if (bad)
    snprintf(err, errlen, "rank %d: out of memory for %llu bytes of tasks",
             cli->rank, (unsigned long long)t->bytes);
  if (farm_agree(ctx, bad, err, errlen))
    return 1;
  bad = bcast_big(t->text, t->bytes, comm);
  if (!bad && cli->rank != 0)
    bad = tasks_index(t);
  if (bad)
    snprintf(err, errlen, "cannot share the tasks between the ranks");
  return farm_agree(ctx, bad, err, errlen);
}

/* The final table on rank 0: what this run did over what earlier runs did. */
typedef struct table {
  farm_rec *rec; /* [n] */
  char **hosts;  /* interned */
  int nhosts;
} table;

static void summary_ids(char *buf, size_t n, const farm_rec *rec, uint64_t nt,
                        int want) {
  size_t at = 0;
  int k = 0;
  buf[0] = '\0';
  for (uint64_t i = 0; i < nt && at + 32 < n; i++) {
    if (rec[i].state != want && !(want == FARM_FAILED &&
                                  rec[i].state == FARM_TIMED_OUT))
      continue;
    if (k == 10) {
      at += (size_t)snprintf(buf + at, n - at, ", ...");
      break;
    }
    at += (size_t)snprintf(buf + at, n - at, "%s%llu", k ? ", " : "",
                           (unsigned long long)i);
    k++;
  }
}

/* Collective: the table as pmr_write_columns_h5 columns (rank 0 holds
 * every row). */
static int write_results(pmr_ctx *ctx, pmr_cli *cli, const tasklist *t, const table *tb,
                         pmr_meta *meta, char *err, size_t errlen) {
  uint64_t n = cli->rank == 0 ? t->n : 0;
  uint64_t *id = calloc(n + 1, 8), *hoff = calloc(n + 1, 8);
  uint64_t *coff = calloc(n + 1, 8);
  uint8_t *state = calloc(n + 1, 1);
  int32_t *ex = calloc(n + 1, 4), *sig = calloc(n + 1, 4),
          *att = calloc(n + 1, 4), *rk = calloc(n + 1, 4);
  double *start = calloc(n + 1, 8), *secs = calloc(n + 1, 8);
  size_t hbytes = 0;
  for (uint64_t i = 0; i < n; i++) {
    int h = tb->rec[i].host;
    hbytes += h >= 0 ? strlen(tb->hosts[h]) : 0;
  }
  char *hosts = malloc(hbytes + 1);
  char *cmds = NULL;
  int bad = !id || !hoff || !coff || !state || !ex || !sig || !att || !rk ||
            !start || !secs || !hosts;
  for (uint64_t i = 0; !bad && i < n; i++) {
    const farm_rec *r = &tb->rec[i];
    id[i] = i;
    state[i] = (uint8_t)r->state;
    ex[i] = r->exit_code;
    sig[i] = r->signal;
    att[i] = r->attempts;
    rk[i] = r->rank;
    start[i] = r->state == FARM_NOT_RUN ? NAN : r->start;
    secs[i] = r->state == FARM_NOT_RUN ? NAN : r->seconds;
    const char *h = r->host >= 0 ? tb->hosts[r->host] : "";
    memcpy(hosts + hoff[i], h, strlen(h));
    hoff[i + 1] = hoff[i] + strlen(h);
  }
  /* The commands without their NULs. */
  if (!bad && n) {
    cmds = malloc(t->bytes);
    bad = !cmds;
    for (uint64_t i = 0; !bad && i < n; i++) {
      uint64_t len = t->off[i + 1] - t->off[i] - 1;
      memcpy(cmds + coff[i], t->text + t->off[i], len);
      coff[i + 1] = coff[i] + len;
    }
  }
  if (bad)
    snprintf(err, errlen, "out of memory writing '%s'", cli->output);
  int rc = farm_agree(ctx, bad, err, errlen);
  if (!rc) {
    pmr_column cols[] = {
        {"id", PMR_COL_UINT64, id, NULL},
        {"command", PMR_COL_BYTES, cmds, coff},
        {"state", PMR_COL_UINT8, state, NULL},
        {"exit_code", PMR_COL_INT32, ex, NULL},
        {"signal", PMR_COL_INT32, sig, NULL},
        {"attempts", PMR_COL_INT32, att, NULL},
        {"rank", PMR_COL_INT32, rk, NULL},
        {"host", PMR_COL_BYTES, hosts, hoff},
        {"start", PMR_COL_FLOAT64, start, NULL},
        {"seconds", PMR_COL_FLOAT64, secs, NULL},
    };
    int prc = pmr_write_columns_h5(ctx, cli->output, "farm", n, cols,
                                   (int)(sizeof cols / sizeof cols[0]), meta,
                                   0);
    if (prc) {
      snprintf(err, errlen, "%s", pmr_errmsg(ctx));
      rc = 1;
    }
  }
  free(id);
  free(hoff);
  free(coff);
  free(state);
  free(ex);
  free(sig);
  free(att);
  free(rk);
  free(start);
  free(secs);
  free(hosts);
  free(cmds);
  return rc;
}

/* Collective: this run's records and host names to rank 0, over the
 * records of earlier runs. */
static int gather_table(pmr_ctx *ctx, const farm_result *res,
                        const char *host, table *tb, char *err,
                        size_t errlen) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  int rank = pmr_ctx_rank(ctx), size = pmr_ctx_size(ctx);
  char hbuf[256] = {0};
  snprintf(hbuf, sizeof hbuf, "%s", host);
  char *all_hosts = rank == 0 ? calloc((size_t)size, sizeof hbuf) : NULL;
  int *counts = rank == 0 ? calloc((size_t)size, sizeof *counts) : NULL;
  int *displs = rank == 0 ? calloc((size_t)size, sizeof *displs) : NULL;
  int bad = res->nrecs > INT_MAX ||
            (rank == 0 && (!all_hosts || !counts || !displs));
  if (bad)
    snprintf(err, errlen, "out of memory gathering the records");
  if (farm_agree(ctx, bad, err, errlen))
    goto out;
  int mine = (int)res->nrecs;
  MPI_Gather(hbuf, sizeof hbuf, MPI_CHAR, all_hosts, sizeof hbuf, MPI_CHAR,
             0, comm);
  MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
  farm_rec *got = NULL;
  int64_t total = 0;
  if (rank == 0) {
    for (int i = 0; i < size; i++) {
      displs[i] = (int)total;
      total += counts[i];
    }
    got = total <= INT_MAX ? malloc((size_t)(total + 1) * sizeof *got) : NULL;
    bad = !got;
    if (bad)
      snprintf(err, errlen, "out of memory gathering %lld records",
               (long long)total);
  }
  if (farm_agree(ctx, bad, err, errlen))
    goto out;
  MPI_Datatype rt;
  MPI_Type_contiguous((int)sizeof(farm_rec), MPI_BYTE, &rt);
  MPI_Type_commit(&rt);
  MPI_Gatherv(res->recs, mine, rt, got, counts, displs, rt, 0, comm);
  MPI_Type_free(&rt);
  if (rank == 0) {
    /* Host names of the ranks, interned after those of earlier runs. */
    int base = tb->nhosts;
    char **h = realloc(tb->hosts, (size_t)(base + size) * sizeof *h);
    bad = !h;
    if (h) {
      tb->hosts = h;
      for (int i = 0; i < size && !bad; i++) {
        h[base + i] = strdup(all_hosts + (size_t)i * sizeof hbuf);
        bad = !h[base + i];
        tb->nhosts += !bad;
      }
    }
    for (int64_t i = 0; !bad && i < total; i++) {
      farm_rec r = got[i];
      r.host = base + r.rank;
      tb->rec[r.id] = r;
    }
    if (bad)
      snprintf(err, errlen, "out of memory gathering the records");
    free(got);
  }
  bad = farm_agree(ctx, bad, err, errlen);
out:
  free(all_hosts);
  free(counts);
  free(displs);
  return bad;
}

int main(int argc, char **argv) {
  opts o = {.retries = 0, .grace = 10};
  pmr_cli_app app = {
      .name = "farm",
      .summary =
          "Run independent shell commands (tasks) across MPI ranks and nodes:"
          " each rank\ntakes tasks from a shared counter as its slots free "
          "up, runs them with\n/bin/sh -c, and every task's outcome goes to "
          "an HDF5 table (group /farm).",
      .usage = "[options] TASKS -o RESULTS.h5\n"
               "       pmr-farm [options] --template CMD --params TABLE.csv "
               "-o RESULTS.h5",
      .options_help =
          "  TASKS                a file with one shell command per line "
          "(blank lines and\n"
          "                       lines starting with # are skipped); - "
          "reads stdin\n"
          "      --template CMD   one task per row of --params: {name} is "
          "replaced by that\n"
          "                       row's value of column `name`, "
          "shell-quoted (do not quote\n"
          "                       it again); other braces are left as they "
          "are\n"
          "      --params CSV     the table for --template: a header line "
          "naming the\n"
          "                       columns, then one row per task (RFC 4180 "
          "quoting)\n"
          "  -j, --per-rank K     tasks running at once on each rank "
          "(default: --threads,\n"
          "                       i.e. the cores of the rank)\n"
          "      --logs DIR       each task's stdout and stderr go to "
          "DIR/<id>.out and\n"
          "                       DIR/<id>.err (default RESULTS.h5.logs)\n"
          "      --timeout S      kill a task's whole process group after S "
          "seconds\n"
          "                       (recorded as timed_out)\n"
          "      --retries R      run a failed task up to R more times, on "
          "any rank\n"
          "                       (default 0)\n"
          "      --keep-going     run every task whatever fails (default)\n"
          "      --halt-on-error  start no new task once one has failed for "
          "good\n"
          "      --resume         skip the tasks the journal "
          "(RESULTS.h5.journal/) records\n"
          "                       as succeeded; run the rest\n"
          "      --grace S        after SIGTERM, SIGINT or SIGUSR1, let "
          "running tasks go on\n"
          "                       S seconds before killing them (default "
          "10)\n",
      .exit_help =
          "Exit status: 0 every task succeeded, 1 some failed or an error, 2 "
          "usage error,\n"
          "75 stopped by a signal before every task had run (run again with "
          "--resume).\n",
      .longopts = farm_longopts,
      .shortopts = "j:",
      .on_option = farm_option,
      .user = &o,
      .inputs_optional = 1,
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  /* First of all: a stop signal that comes while MPI starts or the tasks
   * are read is kept (the farm then stops at once), not fatal. */
  farm_signals_install();
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc == PMR_CLI_RUN) {
    if (o.tmpl && cli.ninputs > 0) {
      pmr_cli_error(&cli, "give either a TASKS file or --template, not both "
                          "(see --help)");
      prc = PMR_CLI_USAGE;
    } else if (!o.tmpl != !o.params) {
      pmr_cli_error(&cli, "--template and --params go together (see "
                          "--help)");
      prc = PMR_CLI_USAGE;
    } else if (!o.tmpl && cli.ninputs == 0) {
      pmr_cli_error(&cli, "no tasks: give a TASKS file or --template with "
                          "--params (see --help)");
      prc = PMR_CLI_USAGE;
    } else if (cli.ninputs > 1) {
      pmr_cli_error(&cli, "one TASKS file only, got %d (see --help)",
                    cli.ninputs);
      prc = PMR_CLI_USAGE;
    } else if (o.tmpl && !*o.tmpl) {
      pmr_cli_error(&cli, "--template is empty (see --help)");
      prc = PMR_CLI_USAGE;
    }
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  double t0 = (double)time(NULL);
  struct timespec ts0;
  clock_gettime(CLOCK_MONOTONIC, &ts0);
  pmr_ctx *ctx = NULL;
  if (pmr_ctx_create(MPI_COMM_WORLD, &ctx)) {
    pmr_cli_error(&cli, "cannot start: MPI");
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  /* One "thread" per task slot: recorded as nthreads, sizes the batches. */
  int k = o.per_rank > 0 ? (int)o.per_rank : pmr_ctx_threads(ctx);
  pmr_ctx_set_threads(ctx, k);
  int progress = cli.progress < 0 ? cli.rank == 0 && isatty(STDERR_FILENO)
                                  : cli.progress;

  char err[1024] = "";
  char logs[PATH_MAX], jdir[PATH_MAX], host[256] = "";
  gethostname(host, sizeof host - 1);
  snprintf(logs, sizeof logs, "%s", o.logs ? o.logs : "");
  if (!o.logs)
    snprintf(logs, sizeof logs, "%s.logs", cli.output);
  snprintf(jdir, sizeof jdir, "%s.journal", cli.output);
  tasklist t = {0};
  table tb = {0};
  farm_result res = {0};
  journal j = {.fd = -1};
  uint64_t *pending = NULL, npending = 0, resumed = 0;
  int status = 1, bad = 0;

  if (pmr_check_output(ctx, cli.output)) {
    snprintf(err, sizeof err, "%s", pmr_errmsg(ctx));
    goto fail;
  }
  if (load_tasks(ctx, &cli, &o, &t, err, sizeof err))
    goto fail;
  /* Rank 0: the directories, and what earlier runs did. */
  if (cli.rank == 0) {
    tb.rec = malloc(t.n * sizeof *tb.rec);
    pending = malloc(t.n * sizeof *pending);
    bad = !tb.rec || !pending;
    if (bad)
      snprintf(err, sizeof err, "out of memory for %llu tasks",
               (unsigned long long)t.n);
    if (!bad)
      bad = make_dirs(logs, err, sizeof err);
    if (!bad)
      bad = journal_prepare(jdir, o.resume, err, sizeof err);
    if (!bad)
      bad = journal_read(jdir, &t, tb.rec, &tb.hosts, &tb.nhosts, err,
                         sizeof err);
    for (uint64_t i = 0; !bad && i < t.n; i++) {
      if (tb.rec[i].state == FARM_OK)
        resumed++;
      else
        pending[npending++] = i;
    }
  }
  if (farm_agree(ctx, bad, err, sizeof err))
    goto fail;
  MPI_Comm comm = pmr_ctx_comm(ctx);
  uint64_t counts[2] = {npending, resumed};
  MPI_Bcast(counts, 2, MPI_UINT64_T, 0, comm);
  npending = counts[0];
  resumed = counts[1];
  if (cli.rank != 0)
    pending = malloc((npending ? npending : 1) * sizeof *pending);
  if (farm_agree(ctx, !pending, err, sizeof err))
    goto fail;
  if (bcast_big(pending, npending * sizeof *pending, comm)) {
    snprintf(err, sizeof err, "cannot share the task list");
    goto fail;
  }
  /* This run's journal files: one per rank, named after rank 0's clock. */
  char stamp[64] = "";
  if (cli.rank == 0) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t l = strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    snprintf(stamp + l, sizeof stamp - l, ".%09ldZ", now.tv_nsec);
  }
  MPI_Bcast(stamp, sizeof stamp, MPI_CHAR, 0, comm);
  bad = journal_open(&j, jdir, stamp, cli.rank, &t, host, err, sizeof err);
  if (farm_agree(ctx, bad, err, sizeof err))
    goto fail;

  farm_opts fo = {.per_rank = k, .timeout = o.timeout,
                  .retries = (int)o.retries, .halt_on_error = o.halt_on_error,
                  .grace = o.grace, .logs = logs, .progress = progress,
                  .total = t.n, .done_before = resumed};
  if (farm_run(ctx, &t, pending, npending, &fo, &j, host, &res, err,
               sizeof err))
    goto fail;
  /* A journal that could not be written costs only the ability to resume:
   * the results are still written, then the run fails with the reason. */
  char jerr[1024] = "";
  bad = journal_close(&j);
  if (bad)
    snprintf(jerr, sizeof jerr, "cannot write the journal in '%.900s' "
             "(--resume would run tasks again): %s", jdir, strerror(errno));
  int journal_bad = farm_agree(ctx, bad, jerr, sizeof jerr);
  if (gather_table(ctx, &res, host, &tb, err, sizeof err))
    goto fail;

  /* The counts, on rank 0, shared for the attributes and the status. */
  int64_t by_state[FARM_NSTATES] = {0};
  for (uint64_t i = 0; cli.rank == 0 && i < t.n; i++)
    by_state[tb.rec[i].state]++;
  MPI_Bcast(by_state, FARM_NSTATES, MPI_INT64_T, 0, comm);
  int sig = res.stop_signal, any_sig = 0;
  MPI_Allreduce(&sig, &any_sig, 1, MPI_INT, MPI_MAX, comm);
  int64_t failed = by_state[FARM_FAILED] + by_state[FARM_TIMED_OUT];
  int64_t left = by_state[FARM_INTERRUPTED] + by_state[FARM_NOT_RUN];
  struct timespec ts1;
  clock_gettime(CLOCK_MONOTONIC, &ts1);
  double elapsed = (double)(ts1.tv_sec - ts0.tv_sec) +
                   1e-9 * (double)(ts1.tv_nsec - ts0.tv_nsec);
  MPI_Bcast(&elapsed, 1, MPI_DOUBLE, 0, comm);

  pmr_meta *meta = NULL;
  char hash[32];
  snprintf(hash, sizeof hash, "%016llx", (unsigned long long)t.hash);
  const char *inputs[1] = {o.tmpl ? o.params : cli.inputs[0]};
  bad = pmr_meta_create(&meta) != PMR_OK;
  bad |= pmr_meta_set_str(meta, "app", "farm");
  bad |= pmr_meta_set_str(meta, "command_line", cli.command_line);
  bad |= pmr_meta_set_strs(meta, "inputs", inputs, 1);
  if (o.tmpl)
    bad |= pmr_meta_set_str(meta, "template", o.tmpl);
  bad |= pmr_meta_set_i64(meta, "tasks", (int64_t)t.n);
  bad |= pmr_meta_set_i64(meta, "succeeded", by_state[FARM_OK]);
  bad |= pmr_meta_set_i64(meta, "failed", failed);
  bad |= pmr_meta_set_i64(meta, "timed_out", by_state[FARM_TIMED_OUT]);
  bad |= pmr_meta_set_i64(meta, "interrupted", by_state[FARM_INTERRUPTED]);
  bad |= pmr_meta_set_i64(meta, "not_run", by_state[FARM_NOT_RUN]);
  bad |= pmr_meta_set_i64(meta, "complete", left == 0);
  bad |= pmr_meta_set_i64(meta, "resumed", (int64_t)resumed);
  bad |= pmr_meta_set_i64(meta, "per_rank", k);
  bad |= pmr_meta_set_i64(meta, "retries", o.retries);
  bad |= pmr_meta_set_f64(meta, "timeout", o.timeout);
  bad |= pmr_meta_set_f64(meta, "seconds", elapsed);
  bad |= pmr_meta_set_f64(meta, "started_unix", t0);
  bad |= pmr_meta_set_str(meta, "stopped_by",
                          (res.stop & FARM_STOP_SIGNAL) ? "signal"
                          : (res.stop & FARM_STOP_HALT) ? "halt-on-error"
                                                        : "");
  bad |= pmr_meta_set_strs(meta, "state_names", farm_state_names,
                           FARM_NSTATES);
  bad |= pmr_meta_set_str(meta, "tasks_hash", hash);
  bad |= pmr_meta_set_str(meta, "logs", logs);
  bad |= pmr_meta_set_str(meta, "journal", jdir);
  if (bad)
    snprintf(err, sizeof err, "out of memory");
  bad = farm_agree(ctx, bad, err, sizeof err);
  if (!bad)
    bad = write_results(ctx, &cli, &t, &tb, meta, err, sizeof err);
  pmr_meta_free(&meta);
  if (bad)
    goto fail;

  if (cli.stats) {
    uint64_t mine[2] = {res.nrecs, res.started}, *all = NULL;
    if (cli.rank == 0)
      all = calloc((size_t)pmr_ctx_size(ctx) * 2, sizeof *all);
    MPI_Gather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, 0, comm);
    if (cli.rank == 0 && all) {
      fprintf(stderr, "pmr-farm: %.3f s; tasks finished (attempts started) "
              "per rank:", elapsed);
      for (int r = 0; r < pmr_ctx_size(ctx); r++)
        fprintf(stderr, " %llu (%llu)", (unsigned long long)all[2 * r],
                (unsigned long long)all[2 * r + 1]);
      fputc('\n', stderr);
    }
    free(all);
  }
  if (pmr_cli_stats(&cli, ctx, 0)) {
    status = 1; /* the message is printed */
    goto done;
  }

  if (journal_bad) {
    snprintf(err, sizeof err, "%s", jerr);
    goto fail;
  }
  if ((res.stop & FARM_STOP_SIGNAL) && left > 0) {
    pmr_cli_error(&cli, "stopped by %s: %lld of %llu tasks succeeded, %lld "
                  "interrupted or not run, %lld failed; results in '%s'; "
                  "run again with --resume to finish",
                  any_sig ? strsignal(any_sig) : "a signal",
                  (long long)by_state[FARM_OK], (unsigned long long)t.n,
                  (long long)left, (long long)failed, cli.output);
    status = FARM_EXIT_STOPPED;
  } else if (failed + left > 0) {
    char ids[256] = "";
    if (cli.rank == 0)
      summary_ids(ids, sizeof ids, tb.rec, t.n, FARM_FAILED);
    char timed[64] = "";
    if (by_state[FARM_TIMED_OUT])
      snprintf(timed, sizeof timed, ", %lld timed out",
               (long long)by_state[FARM_TIMED_OUT]);
    char notrun[96] = "";
    if (left)
      snprintf(notrun, sizeof notrun, "; %lld not run (--halt-on-error)",
               (long long)left);
    pmr_cli_error(&cli, "%lld of %llu tasks failed%s (ids %s)%s; their "
                  "output is in '%s'", (long long)failed,
                  (unsigned long long)t.n, timed, ids, notrun, logs);
    status = 1;
  } else {
    status = 0;
  }
  goto done;
fail:
  pmr_cli_error(&cli, "%s", err);
  status = 1;
done:
  journal_close(&j);
  tasks_free(&t);
  free(pending);
  free(tb.rec);
  for (int i = 0; i < tb.nhosts; i++)
    free(tb.hosts[i]);
  free(tb.hosts);
  free(res.recs);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, status);
}
