/* pmr-invindex: an inverted index of text files over MPI ranks and threads.
 *
 *   mpirun -np 4 pmr-invindex book1.txt book2.txt -o index.h5
 *
 * For each word (pmr-wordcount's words: maximal runs of bytes that are not
 * ASCII whitespace, Python's bytes.split()), every place it occurs as a
 * (file, line) pair: file is the 0-based position of the file among the
 * inputs, line the 1-based line number as `grep -n` counts it; a word that
 * occurs twice on a line is listed twice. Each word's postings are sorted
 * (by file, then line), whatever the rank and thread count.
 *
 * How: a group set keyed by word with int64 [2] values; the map emits one
 * (word, (file, line)) pair per occurrence, the reduce moves each word to
 * its owner rank and sorts its values, and the set is written in the group
 * layout: keys, key_offsets, values int64 [m, 2] and group_offsets [n + 1]
 * (word i's postings are values[group_offsets[i] : group_offsets[i+1]]). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"
#include "words.h"

typedef struct ii_opts {
  const char *group;
  unsigned char sep[256];
} ii_opts;

enum { OPT_GROUP = 0x2000 };

static const struct option ii_longopts[] = {
    {"group", required_argument, NULL, OPT_GROUP}, {0}};

static int ii_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  ii_opts *o = user;
  if (opt == OPT_GROUP) {
    if (!*arg) {
      pmr_cli_error(cli, "--group needs a non-empty name (see --help)");
      return PMR_CLI_USAGE;
    }
    o->group = arg;
    return 0;
  }
  return PMR_CLI_USAGE;
}

static int ii_map(const char *line, size_t len, int file, pmr_emitter *em,
                  void *user) {
  const ii_opts *o = user;
  const unsigned char *p = (const unsigned char *)line, *e = p + len, *w;
  int64_t post[2] = {file, (int64_t)pmr_emitter_line(em)};
  for (size_t n; (n = pmr_words_next(&p, e, o->sep, &w));) {
    int rc = pmr_emit(em, w, n, post);
    if (rc)
      return rc;
  }
  return 0;
}

int main(int argc, char **argv) {
  ii_opts o = {.group = "invindex"};
  pmr_cli_app app = {
      .name = "invindex",
      .usage = "[options] FILE... -o OUT.h5",
      .summary =
          "An inverted index of text files over MPI ranks and OpenMP "
          "threads: for each\nword (a maximal run of bytes that are not "
          "ASCII whitespace), the sorted\n(file, line) pairs where it occurs "
          "(file: 0-based among the inputs; line:\n1-based, as grep -n). "
          "Output: group /invindex with keys, key_offsets,\nvalues int64 "
          "[m, 2] and group_offsets [n + 1].",
      .options_help = "      --group NAME     HDF5 group of the result "
                      "(default invindex)\n",
      .longopts = ii_longopts,
      .on_option = ii_option,
      .user = &o,
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);
  pmr_words_table(o.sep, 0);

  pmr_ctx *ctx = NULL;
  pmr_kv *kv = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  /* Fail on an unwritable output now, not after the work. */
  rc = pmr_check_output(ctx, cli.output);
  if (!rc)
    rc = pmr_ctx_set_option(ctx, PMR_OPT_LINE_NUMBERS, 1);
  if (!rc)
    rc = pmr_kv_create_group(ctx, 2 * sizeof(int64_t), PMR_INT64, &kv);
  if (!rc)
    rc = pmr_map_text(ctx, (const char *const *)cli.inputs, cli.ninputs,
                      ii_map, &o, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc) {
    pmr_stats g;
    pmr_meta *meta = NULL;
    uint64_t words = pmr_kv_local_size(kv), all = 0;
    MPI_Allreduce(&words, &all, 1, MPI_UINT64_T, MPI_SUM, pmr_ctx_comm(ctx));
    rc = pmr_ctx_stats_global(ctx, &g);
    if (!rc)
      rc = pmr_meta_create(&meta);
    if (!rc)
      rc = pmr_meta_set_str(meta, "app", "invindex");
    if (!rc)
      rc = pmr_meta_set_str(meta, "command_line", cli.command_line);
    if (!rc)
      rc = pmr_meta_set_strs(meta, "inputs", (const char *const *)cli.inputs,
                             cli.ninputs);
    if (!rc)
      rc = pmr_meta_set_i64(meta, "postings", (int64_t)g.emitted);
    if (!rc)
      rc = pmr_meta_set_i64(meta, "words", (int64_t)all);
    if (!rc)
      rc = pmr_kv_write_h5(kv, cli.output, o.group, meta);
    pmr_meta_free(&meta);
  }
  if (rc)
    pmr_cli_error(&cli, "%s", *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                              : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  if (cli.stats && !rc)
    pmr_ctx_print_stats(ctx, stderr);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
