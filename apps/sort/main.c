/* pmr-sort: sort 100-byte records by their first 10 bytes (the TeraSort /
 * gensort record layout) over MPI ranks and OpenMP threads, or check that a
 * file of records is sorted.
 *
 *   mpirun -np 4 pmr-sort records.dat -o sorted.dat --stats
 *   mpirun -np 4 pmr-sort --check sorted.dat
 *
 * Sorting: pmr_map_records reads the inputs (each rank a contiguous share,
 * chunks to its threads) into a group set of 10-byte keys and 90-byte
 * values; pmr_kv_sort(PMR_SORT_KEY) sorts it globally (a sample sort: rank
 * r ends up with the r-th range of keys, sorted); pmr_kv_write_records
 * writes each rank's records at its offset in one file by MPI-IO, under a
 * temporary name renamed when complete. Equal keys are ordered by the rest
 * of the record (PMR_SORT_KEY compares the values' bytes after the keys),
 * so the output is the records in ascending byte order: the same file at
 * any rank and thread count. Past the memory budget the set spills to
 * temporary files and is merged back.
 *
 * --check prints the record count, the positions out of order, the
 * duplicate keys and an order-independent checksum (the sum of the records'
 * CRC-32s, as valsort's), so that an input's and its output's checksums
 * can be compared. With -o, --check checks the output after writing it and
 * compares its count and checksum with the inputs'. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"
#include "crc32.h"
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

/* The map: one record becomes a pair (key, the other 90 bytes); with
 * --check its CRC-32 is summed on the thread. */
typedef struct map_state {
  sort_sums *sums; /* per thread, or NULL */
} map_state;

static int map_record(const void *rec, size_t size, pmr_emitter *em,
                      void *user) {
  const map_state *m = user;
  const unsigned char *r = rec;
  if (m->sums) {
    sort_sums *s = &m->sums[pmr_emitter_thread(em)];
    s->records++;
    s->checksum += sort_crc32(rec, size);
  }
  return pmr_emit(em, r, SORT_KEY, r + SORT_KEY);
}

/* INPUT... -o OUTPUT [--check]. Returns the exit status. */
static int run_sort(pmr_cli *cli, pmr_ctx *ctx, int check) {
  int nt = pmr_ctx_threads(ctx);
  map_state m = {NULL};
  pmr_kv *kv = NULL;
  sort_crc32_init();
  int rc = PMR_OK;
  if (check && !(m.sums = calloc((size_t)nt, sizeof *m.sums)))
    rc = PMR_ENOMEM;
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, pmr_ctx_comm(ctx));
  /* Fail on an unwritable output now, not after the work. */
  if (!rc)
    rc = pmr_check_output(ctx, cli->output);
  if (!rc)
    rc = pmr_kv_create_group(ctx, SORT_RECORD - SORT_KEY, PMR_BYTES, &kv);
  if (!rc)
    rc = pmr_map_records(ctx, (const char *const *)cli->inputs, cli->ninputs,
                         SORT_RECORD, 0, map_record, &m, kv);
  if (!rc)
    rc = pmr_kv_sort(kv, PMR_SORT_KEY, NULL, NULL);
  if (!rc)
    rc = pmr_kv_write_records(kv, cli->output);
  pmr_kv_destroy(&kv);
  if (rc) {
    pmr_cli_error(cli, "%s",
                  *pmr_errmsg(ctx) ? pmr_errmsg(ctx) : pmr_strerror(rc));
    free(m.sums);
    return 1;
  }
  int status = 0;
  if (check) {
    uint64_t in[2] = {0, 0};
    for (int t = 0; t < nt; t++) {
      in[0] += m.sums[t].records;
      in[1] += m.sums[t].checksum;
    }
    MPI_Allreduce(MPI_IN_PLACE, in, 2, MPI_UINT64_T, MPI_SUM,
                  pmr_ctx_comm(ctx));
    sort_summary s;
    rc = sort_check(ctx, cli->output, &s);
    if (rc) {
      pmr_cli_error(cli, "%s",
                    *pmr_errmsg(ctx) ? pmr_errmsg(ctx) : pmr_strerror(rc));
      status = 1;
    } else {
      if (cli->rank == 0)
        print_summary(&s);
      if (s.unsorted) {
        pmr_cli_error(cli,
                      "'%s' is not sorted: the key of record %" PRIu64
                      " is below that of record %" PRIu64,
                      cli->output, s.first_unsorted, s.first_unsorted - 1);
        status = 1;
      } else if (s.records != in[0] || s.checksum != in[1]) {
        pmr_cli_error(cli,
                      "'%s' holds %" PRIu64 " records of checksum %016" PRIx64
                      ", the inputs %" PRIu64 " of checksum %016" PRIx64,
                      cli->output, s.records, s.checksum, in[0], in[1]);
        status = 1;
      }
    }
  }
  free(m.sums);
  return status;
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
          "                       order of the same records); with -o: check "
          "OUTPUT after\n"
          "                       sorting, and that it holds the inputs' "
          "records\n\n"
          "Records are sorted by their first 10 bytes, equal keys by the other "
          "90: the\nfile is the records in ascending byte order, the same at "
          "any rank and thread\ncount. -m bounds each rank's memory; past "
          "it, records go to temporary files\n(under TMPDIR) and are "
          "merged back.\n",
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
  if (!cli.output)
    status = run_check(&cli, ctx, cli.inputs[0]);
  else
    status = run_sort(&cli, ctx, o.check);
  if (cli.stats && !status)
    pmr_ctx_print_stats(ctx, stderr);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, status);
}
