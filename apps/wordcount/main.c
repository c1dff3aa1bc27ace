/* pmr-wordcount: count words in text files over MPI ranks and threads.
 *
 *   mpirun -np 4 pmr-wordcount -t 2 books/a.txt books/b.txt -o counts.h5 --top 10
 *
 * A word is a maximal run of bytes that are not ASCII whitespace, exactly
 * Python's bytes.split(); --ignore-case and --letters change that. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"
#include "words.h"

typedef struct wc_opts {
  const char *text;
  long long top;
  const char *group;
  int ignore_case, letters;
  unsigned char sep[256]; /* 1 for bytes that end a word */
  /* Per-thread scratch for folded words. */
  struct scratch {
    unsigned char *buf;
    size_t cap;
    char pad[48]; /* keep threads' entries on separate cache lines */
  } *scratch;
} wc_opts;

enum { OPT_TEXT = 0x2000, OPT_TOP, OPT_GROUP, OPT_IGNORE_CASE, OPT_LETTERS };

static const struct option wc_longopts[] = {
    {"text", required_argument, NULL, OPT_TEXT},
    {"top", required_argument, NULL, OPT_TOP},
    {"group", required_argument, NULL, OPT_GROUP},
    {"ignore-case", no_argument, NULL, OPT_IGNORE_CASE},
    {"letters", no_argument, NULL, OPT_LETTERS},
    {0}};

static int wc_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  wc_opts *o = user;
  switch (opt) {
  case OPT_TEXT:
    if (o->text || !*arg) {
      pmr_cli_error(cli, o->text ? "--text given twice" :
                    "empty file name for --text (see --help)");
      return PMR_CLI_USAGE;
    }
    o->text = arg;
    return 0;
  case OPT_TOP:
    return pmr_cli_positive(cli, "--top", arg, &o->top);
  case OPT_GROUP:
    if (!*arg || !strcmp(arg, "/") || !strcmp(arg, ".") ||
        arg[strlen(arg) - 1] == '/' || strstr(arg, "//") ||
        !strcmp(arg, "..") || strstr(arg, "/./") || !strncmp(arg, "./", 2) ||
        strstr(arg, "/../") || !strncmp(arg, "../", 3) ||
        (strlen(arg) >= 2 && !strcmp(arg + strlen(arg) - 2, "/.")) ||
        (strlen(arg) >= 3 && !strcmp(arg + strlen(arg) - 3, "/.."))) {
      pmr_cli_error(cli, "invalid --group '%s': need a group name such as "
                         "'wordcount' or 'runs/a' (see --help)", arg);
      return PMR_CLI_USAGE;
    }
    o->group = arg;
    return 0;
  case OPT_IGNORE_CASE:
    o->ignore_case = 1;
    return 0;
  case OPT_LETTERS:
    o->letters = 1;
    return 0;
  }
  return PMR_CLI_USAGE;
}

/* The default path: count the words of one line as they are. */
static int wc_map(const char *line, size_t len, int file, pmr_emitter *em,
                  void *user) {
  const wc_opts *o = user;
  const unsigned char *p = (const unsigned char *)line, *e = p + len, *w;
  (void)file;
  for (size_t n; (n = pmr_words_next(&p, e, o->sep, &w));)
    if (pmr_emit_i64(em, w, n, 1) != PMR_OK)
      return 1;
  return 0;
}

/* --ignore-case: fold each word into the thread's scratch buffer first. */
static int wc_map_fold(const char *line, size_t len, int file,
                       pmr_emitter *em, void *user) {
  wc_opts *o = user;
  struct scratch *s = &o->scratch[pmr_emitter_thread(em)];
  const unsigned char *p = (const unsigned char *)line, *e = p + len, *w;
  (void)file;
  for (size_t n; (n = pmr_words_next(&p, e, o->sep, &w));) {
    if (n > s->cap) {
      unsigned char *b = realloc(s->buf, n);
      if (!b)
        return 1;
      s->buf = b;
      s->cap = n;
    }
    for (size_t i = 0; i < n; i++)
      s->buf[i] = (w[i] >= 'A' && w[i] <= 'Z') ? (unsigned char)(w[i] + 32)
                                               : w[i];
    if (pmr_emit_i64(em, s->buf, n, 1) != PMR_OK)
      return 1;
  }
  return 0;
}

/* 0, or 1 when stdout failed (a full disk, a closed pipe). */
static int wc_print_top(const pmr_kv_list *l) {
  for (uint64_t i = 0; i < l->n; i++) {
    int64_t c;
    memcpy(&c, l->values + i * 8, 8);
    fwrite(l->keys + l->key_offsets[i], 1,
           (size_t)(l->key_offsets[i + 1] - l->key_offsets[i]), stdout);
    printf("\t%lld\n", (long long)c);
  }
  return fflush(stdout) != 0 || ferror(stdout);
}

int main(int argc, char **argv) {
  wc_opts o = {.group = "wordcount"};
  pmr_cli_app app = {
      .name = "wordcount",
      .summary = "Count the words of text files over MPI ranks and OpenMP "
                 "threads.\nA word is a maximal run of bytes that are not "
                 "ASCII whitespace (Python's bytes.split()).",
      .options_help =
          "      --text FILE      also write \"word<TAB>count\" lines to FILE\n"
          "      --top N          print the N most frequent words (rank 0, "
          "stdout)\n"
          "      --group NAME     HDF5 group of the result (default "
          "wordcount)\n"
          "      --ignore-case    fold ASCII letters to lower case\n"
          "      --letters        words are runs of ASCII letters only\n",
      .longopts = wc_longopts,
      .on_option = wc_option,
      .user = &o,
      .output_optional = 1,
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc == PMR_CLI_RUN && !cli.output && !o.text && !o.top) {
    pmr_cli_error(&cli, "nothing to do: give -o OUT.h5, --text FILE or "
                        "--top N (see --help)");
    prc = PMR_CLI_USAGE;
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  pmr_words_table(o.sep, o.letters);

  pmr_ctx *ctx = NULL;
  pmr_kv *kv = NULL;
  pmr_kv_list *top = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  int nt = pmr_ctx_threads(ctx);
  o.scratch = calloc((size_t)nt, sizeof *o.scratch);
  rc = o.scratch ? PMR_OK : PMR_ENOMEM;

  /* Fail on an unwritable output now, not after the work: not an input,
   * not named twice, a regular file in a writable directory. */
  const char *outs[2];
  int nout = 0;
  if (cli.output)
    outs[nout++] = cli.output;
  if (o.text)
    outs[nout++] = o.text;
  if (!rc)
    rc = pmr_check_outputs(ctx, outs, nout, cli.output ? 1u : 0u,
                           (const char *const *)cli.inputs, cli.ninputs);
  /* -o and --text appear together or not at all. */
  if (!rc)
    rc = pmr_outputs_hold(ctx);
  if (!rc)
    rc = pmr_kv_create(ctx, PMR_SUM_I64, &kv);
  if (!rc)
    rc = pmr_map_text(ctx, (const char *const *)cli.inputs, cli.ninputs,
                      o.ignore_case ? wc_map_fold : wc_map, &o, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc && o.top) {
    rc = pmr_kv_top(kv, (uint64_t)o.top, NULL, NULL, 0, &top);
    int bad = 0;
    if (!rc && cli.rank == 0)
      bad = wc_print_top(top);
    if (!rc) {
      MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
      if (bad) {
        pmr_cli_error(&cli, "cannot write the top words to standard "
                            "output: %s", strerror(errno ? errno : EIO));
        rc = -1; /* reported */
      }
    }
  }
  if (!rc && cli.output) {
    pmr_stats g;
    pmr_meta *meta = NULL;
    rc = pmr_ctx_stats_global(ctx, &g);
    if (!rc)
      rc = pmr_meta_create(&meta);
    if (!rc)
      rc = pmr_meta_set_str(meta, "app", "wordcount");
    if (!rc)
      rc = pmr_meta_set_str(meta, "command_line", cli.command_line);
    if (!rc)
      rc = pmr_meta_set_strs(meta, "inputs", (const char *const *)cli.inputs,
                             cli.ninputs);
    if (!rc)
      rc = pmr_meta_set_i64(meta, "words", (int64_t)g.emitted);
    if (!rc)
      rc = pmr_kv_write_h5(kv, cli.output, o.group, meta);
    pmr_meta_free(&meta);
  }
  if (!rc && o.text)
    rc = pmr_kv_write_text(kv, o.text);
  if (rc != -1 && ctx)
    rc = pmr_outputs_publish(ctx, rc);
  else if (ctx)
    pmr_outputs_publish(ctx, PMR_EIO);
  if (rc == -1)
    rc = 1;
  else if (rc)
    pmr_cli_error(&cli, "%s", *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                              : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  if (!rc && pmr_cli_stats(&cli, ctx, 1))
    rc = PMR_EIO; /* the message is printed */

  pmr_kv_list_free(&top);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  for (int t = 0; o.scratch && t < nt; t++)
    free(o.scratch[t].buf);
  free(o.scratch);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
