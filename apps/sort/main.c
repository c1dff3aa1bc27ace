/* pmr-sort: sort 100-byte records by their first 10 bytes (the TeraSort /
 * gensort record layout) over MPI ranks and OpenMP threads, or check that a
 * file of records is sorted.
 *
 *   mpirun -np 4 pmr-sort records.dat -o sorted.dat --stats
 *   mpirun -np 4 pmr-sort --check sorted.dat
 *
 * --check prints the record count, the positions out of order, the
 * duplicate keys and an order-independent checksum (the sum of the records'
 * CRC-32s, as valsort's), so that an input's and its output's checksums
 * can be compared. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"
#include "sort.h"

typedef struct sort_opts {
  int check;
} sort_opts;

enum { OPT_CHECK = 0x2000 };

static const struct option sort_longopts[] = {
    {"check", no_argument, NULL, OPT_CHECK}, {0}};

static int sort_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  sort_opts *o = user;
  (void)cli, (void)arg;
  if (opt == OPT_CHECK) {
    o->check = 1;
    return 0;
  }
  return PMR_CLI_USAGE;
}

static void print_summary(const sort_summary *s) {
  printf("records     %" PRIu64 "\n"
         "unsorted    %" PRIu64 "\n"
         "duplicates  %" PRIu64 "\n"
         "checksum    %016" PRIx64 "\n",
         s->records, s->unsorted, s->duplicates, s->checksum);
  fflush(stdout);
}

/* --check FILE: print its summary; 0 when sorted, 1 (and where) when not. */
static int run_check(pmr_cli *cli, pmr_ctx *ctx, const char *path) {
  sort_summary s;
  int rc = sort_check(ctx, path, &s);
  if (rc) {
    pmr_cli_error(cli, "%s",
                  *pmr_errmsg(ctx) ? pmr_errmsg(ctx) : pmr_strerror(rc));
    return 1;
  }
  if (cli->rank == 0)
    print_summary(&s);
  if (s.unsorted) {
    pmr_cli_error(cli,
                  "'%s' is not sorted: the key of record %" PRIu64
                  " is below that of record %" PRIu64
                  " (%" PRIu64 " such positions)",
                  path, s.first_unsorted, s.first_unsorted - 1, s.unsorted);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  sort_opts o = {0};
  pmr_cli_app app = {
      .name = "sort",
      .usage = "[options] INPUT... -o OUTPUT\n"
               "       pmr-sort [options] --check FILE",
      .summary =
          "Sort files of 100-byte records (the TeraSort / gensort layout: a "
          "10-byte key,\nthen a 90-byte value) by key over MPI ranks and "
          "OpenMP threads, into one\nfile written in parallel. --check FILE "
          "checks that a file is sorted.",
      .options_help =
          "      --check          FILE: check it is sorted; print the "
          "records, the\n"
          "                       positions out of order, the duplicate keys "
          "and the\n"
          "                       checksum (sum of the records' CRC-32s, the "
          "same for any\n"
          "                       order of the same records)\n",
      .longopts = sort_longopts,
      .on_option = sort_option,
      .user = &o,
      .output_optional = 1,
      .exit_help = "Exit status: 0 success (--check: sorted), 1 error "
                   "(--check: not sorted), 2 usage\nerror.\n",
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc == PMR_CLI_RUN && o.check && !cli.output && cli.ninputs != 1) {
    pmr_cli_error(&cli, "--check takes one FILE, not %d (see --help)",
                  cli.ninputs);
    prc = PMR_CLI_USAGE;
  }
  if (prc == PMR_CLI_RUN && !o.check && !cli.output) {
    pmr_cli_error(&cli, "no output file: give -o OUTPUT, or --check FILE "
                        "(see --help)");
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
  int status = 0;
  if (!cli.output) {
    status = run_check(&cli, ctx, cli.inputs[0]);
  } else {
    pmr_cli_error(&cli, "sorting is not available yet");
    status = 1;
  }
  if (cli.stats && !status)
    pmr_ctx_print_stats(ctx, stderr);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, status);
}
