/* Shared command line of the pmr-* applications (DESIGN.md, fixed):
 *   pmr-<app> [options] INPUT... -o OUT.h5
 * with -h/--help, --version, -t/--threads, -m/--memory, --progress,
 * --stats; exit 0 on success, 2 on a usage error, 1 on any other error, with
 * one message on stderr from rank 0. */
#ifndef PMR_CLI_H
#define PMR_CLI_H

#include <getopt.h>
#include <pmr.h>

typedef struct pmr_cli pmr_cli;

/* What an application adds to the common options. */
typedef struct pmr_cli_app {
  const char *name;           /* "wordcount": the program is pmr-<name> */
  const char *summary;        /* one line: what the program does */
  const char *options_help;   /* the app's own options, for --help */
  const struct option *longopts; /* the app's own, {0} terminated; may be NULL */
  const char *shortopts;      /* the app's own short options in getopt's
                                 form (e.g. "j:"); may be NULL */
  /* Handle one of the app's options (getopt's return value `opt`). Return 0,
   * or 2 after pmr_cli_error() for a usage error. */
  int (*on_option)(pmr_cli *cli, int opt, const char *arg, void *user);
  void *user;
  int output_optional;        /* 1: -o may be left out */
  int inputs_optional;        /* 1: no INPUT is fine (the app checks) */
  const char *usage;          /* the synopsis after the program name, for
                                 --help; NULL: "[options] INPUT... -o OUT.h5" */
  const char *exit_help;      /* the "Exit status: ..." paragraph of --help;
                                 NULL: 0 success, 1 error, 2 usage error */
} pmr_cli_app;

struct pmr_cli {
  const char *prog;   /* "pmr-<app>" */
  const pmr_cli_app *app;
  int rank;           /* in MPI_COMM_WORLD */
  int threads;        /* 0: library default */
  size_t memory;      /* 0: library default */
  int progress;       /* 1 on, 0 off, -1 when stderr is a terminal */
  int stats;
  const char *output; /* -o, or NULL */
  char **inputs;      /* into argv, or owned_inputs with --files-from */
  int ninputs;
  char **owned_inputs; /* --files-from: the array and its names' bytes */
  char *owned_names;
  char *command_line; /* argv joined, shell-quoted where needed */
  const char *stats_json; /* --stats-json FILE, or NULL */
  double progress_interval; /* --progress-interval: seconds between plain
                               progress lines without a terminal */
};

enum { PMR_CLI_RUN = 0, PMR_CLI_DONE = -1, PMR_CLI_USAGE = 2 };

/* --help and --version need no MPI: answer them before MPI_Init (fast, and
 * the same under any launcher; only the launcher's rank 0 prints). Returns
 * 1 when one was answered: exit 0. */
int pmr_cli_early(const pmr_cli_app *app, int argc, char **argv);

/* Parse argv. Returns PMR_CLI_RUN, PMR_CLI_DONE (help or version printed:
 * exit 0), or PMR_CLI_USAGE (message printed on rank 0: exit 2). */
int pmr_cli_parse(pmr_cli *cli, const pmr_cli_app *app, int argc,
                  char **argv);
/* Apply threads, memory and progress to a context. */
void pmr_cli_setup(pmr_cli *cli, pmr_ctx *ctx);
/* Print "prog: message" on rank 0. */
void pmr_cli_error(const pmr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Parse a positive integer option value; 0 on success, 2 after a message. */
int pmr_cli_positive(pmr_cli *cli, const char *opt, const char *arg,
                     long long *out);
void pmr_cli_free(pmr_cli *cli);
/* At the end of a successful run: the stats table on stderr (--stats, when
 * `table`; apps with a table of their own pass 0) and the JSON file
 * (--stats-json). Collective. Returns 0, or 1 after a message. */
int pmr_cli_stats(pmr_cli *cli, pmr_ctx *ctx, int table);
/* argv joined, each argument single-quoted when the shell would need it
 * (malloc'ed; NULL when out of memory). */
char *pmr_cli_join(int argc, char **argv);
/* The rank a launcher gives this process before MPI_Init, or 0. */
int pmr_cli_env_rank(void);

/* End a run: free, MPI_Finalize, and return `status` (0, 1 or 2). */
int pmr_cli_finish(pmr_cli *cli, int status);

#endif
