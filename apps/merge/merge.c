/* pmr-merge: merge pmr key/value results over MPI ranks and threads.
 *
 *   mpirun -np 4 pmr-merge out/part-*.h5 -o merged.h5 --summary --top 10
 *
 * The parts of a job array, the steps of a long job, runs over different
 * inputs: every pair of every input is read (pmr_map_result, rows split over
 * the ranks) and equal keys are combined with the combiner the inputs name
 * in their `combiner` attribute (or --op). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"
#include "merge.h"

typedef struct mg_opts {
  const char *group, *group_out, *op_name;
  long long top;
  int summary;
} mg_opts;

enum { OPT_GROUP = 0x2000, OPT_GROUP_OUT, OPT_OP, OPT_TOP, OPT_SUMMARY };

static const struct option mg_longopts[] = {
    {"group", required_argument, NULL, OPT_GROUP},
    {"group-out", required_argument, NULL, OPT_GROUP_OUT},
    {"op", required_argument, NULL, OPT_OP},
    {"top", required_argument, NULL, OPT_TOP},
    {"summary", no_argument, NULL, OPT_SUMMARY},
    {0}};

/* The built-in combiners by the names results carry. A count is merged by
 * summing the counts. */
static const struct {
  const char *name;
  pmr_op op;
} mg_ops[] = {{"sum_i64", PMR_SUM_I64}, {"min_i64", PMR_MIN_I64},
              {"max_i64", PMR_MAX_I64}, {"sum_f64", PMR_SUM_F64},
              {"min_f64", PMR_MIN_F64}, {"max_f64", PMR_MAX_F64},
              {"count", PMR_SUM_I64}};

static int mg_op(const char *name, pmr_op *op) {
  for (size_t i = 0; i < sizeof mg_ops / sizeof mg_ops[0]; i++)
    if (!strcmp(name, mg_ops[i].name)) {
      if (op)
        *op = mg_ops[i].op;
      return 1;
    }
  return 0;
}

/* The name two combiners agree under: a count merges as a sum. */
static const char *mg_canon(const char *name) {
  return strcmp(name, "count") ? name : "sum_i64";
}

static int mg_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  mg_opts *o = user;
  switch (opt) {
  case OPT_GROUP:
  case OPT_GROUP_OUT:
    if (!*arg) {
      pmr_cli_error(cli, "%s needs a non-empty name (see --help)",
                    opt == OPT_GROUP ? "--group" : "--group-out");
      return PMR_CLI_USAGE;
    }
    *(opt == OPT_GROUP ? &o->group : &o->group_out) = arg;
    return 0;
  case OPT_OP:
    if (!mg_op(arg, NULL)) {
      pmr_cli_error(cli,
                    "unknown --op '%s': use sum_i64, sum_f64, min_i64, "
                    "max_i64, min_f64, max_f64 or count (see --help)",
                    arg);
      return PMR_CLI_USAGE;
    }
    o->op_name = arg;
    return 0;
  case OPT_TOP:
    return pmr_cli_positive(cli, "--top", arg, &o->top);
  case OPT_SUMMARY:
    o->summary = 1;
    return 0;
  }
  return PMR_CLI_USAGE;
}

/* "/" before a group name without one, for messages. */
static const char *mg_slash(const char *group) {
  return group[0] == '/' ? "" : "/";
}

/* The combiner for all inputs: --op, else the one their attributes name
 * (inputs without the attribute follow the others). The descriptions are
 * the same on every rank, so is the verdict; a refusal goes to msg. */
static int mg_choose_op(const mg_opts *o, char **inputs,
                        const pmr_result_info *info, int n, pmr_op *op,
                        char *msg, size_t len) {
  if (o->op_name)
    return mg_op(o->op_name, op) ? 0 : 1;
  int first = -1;
  for (int i = 0; i < n; i++) {
    const char *c = info[i].combiner;
    if (!*c)
      continue;
    if (!strcmp(c, "user")) {
      snprintf(msg, len,
               "'%s' group '%s%s' was combined by a user function "
               "(combiner 'user'): pmr-merge cannot combine it the same way; "
               "give --op to merge it with a built-in combiner",
               inputs[i], mg_slash(info[i].group), info[i].group);
      return 1;
    }
    if (!mg_op(c, NULL)) {
      snprintf(msg, len,
               "'%s' group '%s%s' has combiner '%s', which pmr-merge does "
               "not know: give --op",
               inputs[i], mg_slash(info[i].group), info[i].group, c);
      return 1;
    }
    if (first < 0) {
      first = i;
    } else if (strcmp(mg_canon(c), mg_canon(info[first].combiner))) {
      snprintf(msg, len,
               "the inputs disagree on the combiner: '%s' has '%s', '%s' has "
               "'%s'; give --op to choose one",
               inputs[first], info[first].combiner, inputs[i], c);
      return 1;
    }
  }
  if (first < 0) {
    snprintf(msg, len,
             "no input names its combiner (no 'combiner' "
             "attribute): give --op");
    return 1;
  }
  mg_op(info[first].combiner, op);
  return 0;
}

/* Totals over all ranks: distinct keys and the sum of the merged values. */
typedef struct mg_sum {
  int f64;
  uint64_t i; /* wraps as the int64 sums do */
  double d;
} mg_sum;

static int mg_add(const void *key, size_t klen, const void *value, void *user) {
  mg_sum *s = user;
  (void)key, (void)klen;
  if (s->f64) {
    double d;
    memcpy(&d, value, 8);
    s->d += d;
  } else {
    int64_t v;
    memcpy(&v, value, 8);
    s->i += (uint64_t)v;
  }
  return 0;
}

static int mg_summary(pmr_ctx *ctx, pmr_kv *kv, int ninputs, uint64_t pairs) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  mg_sum s = {pmr_kv_dtype(kv) == PMR_FLOAT64, 0, 0};
  uint64_t local = pmr_kv_local_size(kv), distinct = 0;
  int rc = pmr_kv_foreach(kv, mg_add, &s);
  /* Every rank takes part in the reductions whatever its own outcome. */
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, comm);
  MPI_Allreduce(&local, &distinct, 1, MPI_UINT64_T, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, &s.i, 1, MPI_UINT64_T, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, &s.d, 1, MPI_DOUBLE, MPI_SUM, comm);
  if (rc || pmr_ctx_rank(ctx) != 0)
    return rc;
  printf("%-12s %d\n", "results", ninputs);
  printf("%-12s %llu\n", "pairs", (unsigned long long)pairs);
  printf("%-12s %llu\n", "distinct", (unsigned long long)distinct);
  if (s.f64)
    printf("%-12s %.17g\n", "total", s.d);
  else
    printf("%-12s %lld\n", "total", (long long)(int64_t)s.i);
  return 0;
}

static void mg_print_top(const pmr_kv_list *l, int f64) {
  for (uint64_t i = 0; i < l->n; i++) {
    fwrite(l->keys + l->key_offsets[i], 1,
           (size_t)(l->key_offsets[i + 1] - l->key_offsets[i]), stdout);
    if (f64) {
      double d;
      memcpy(&d, l->values + i * 8, 8);
      printf("\t%.17g\n", d);
    } else {
      int64_t c;
      memcpy(&c, l->values + i * 8, 8);
      printf("\t%lld\n", (long long)c);
    }
  }
}

int pmr_merge_main(const char *name, int skip, int argc, char **argv) {
  mg_opts o = {0};
  pmr_cli_app app = {
      .name = name,
      .summary =
          "Merge pmr key/value results (the parts of a job array, the steps "
          "of a long job)\nover MPI ranks and OpenMP threads: equal keys are "
          "combined with the combiner\nthe inputs name in their 'combiner' "
          "attribute (a count is merged by summing).\nInputs without the "
          "attribute follow the others; inputs that disagree, or that\nwere "
          "combined by a user function, are refused unless --op is given.",
      .options_help =
          "      --group NAME     the results' HDF5 group in every input "
          "(default: the one\n"
          "                       key/value group at the root of the first "
          "input)\n"
          "      --group-out NAME group of the merged result (default: the "
          "input group)\n"
          "      --op OP          combine with OP whatever the inputs say: "
          "sum_i64, sum_f64,\n"
          "                       min_i64, max_i64, min_f64, max_f64, count "
          "(merged as sum_i64)\n"
          "      --summary        print results, pairs read, distinct keys "
          "and the total of\n"
          "                       the merged values (rank 0, stdout)\n"
          "      --top N          print the N pairs with the largest values, "
          "\"key<TAB>value\"\n"
          "                       (after a \"top N:\" line with --summary)\n",
      .longopts = mg_longopts,
      .on_option = mg_option,
      .user = &o,
      .output_optional = 1,
  };
  if (pmr_cli_early(&app, argc - skip, argv + skip))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc - skip, argv + skip);
  /* The command line as typed, the sub-command's name included. */
  if (skip) {
    free(cli.command_line);
    cli.command_line = pmr_cli_join(argc, argv);
  }
  if (prc == PMR_CLI_RUN && !cli.output && !o.top && !o.summary) {
    pmr_cli_error(&cli, "nothing to do: give -o OUT.h5, --summary or --top N "
                        "(see --help)");
    prc = PMR_CLI_USAGE;
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  pmr_ctx *ctx = NULL;
  pmr_kv *kv = NULL;
  pmr_kv_list *top = NULL;
  pmr_result_info *info = NULL;
  char msg[1024] = "";
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  /* Fail on an unwritable output now, not after the work. */
  if (cli.output)
    rc = pmr_check_output(ctx, cli.output);
  info = calloc((size_t)cli.ninputs, sizeof *info);
  int nomem = !info;
  MPI_Allreduce(MPI_IN_PLACE, &nomem, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (!rc && nomem)
    rc = PMR_ENOMEM;

  /* The group: given, or the first input's only key/value group. */
  const char *group = o.group;
  if (!rc && !group) {
    rc = pmr_result_describe(ctx, cli.inputs[0], NULL, &info[0]);
    if (rc == PMR_EINVAL)
      snprintf(msg, sizeof msg, "%s with --group NAME", pmr_errmsg(ctx));
    group = info[0].group;
  }
  uint64_t pairs = 0;
  for (int i = 0; !rc && i < cli.ninputs; i++) {
    rc = pmr_result_describe(ctx, cli.inputs[i], group, &info[i]);
    pairs += info[i].pairs;
  }
  pmr_op op = PMR_SUM_I64;
  if (!rc &&
      mg_choose_op(&o, cli.inputs, info, cli.ninputs, &op, msg, sizeof msg))
    rc = PMR_EINVAL;
  if (!rc)
    rc = pmr_kv_create(ctx, op, &kv);
  if (!rc)
    rc = pmr_map_result(ctx, (const char *const *)cli.inputs, cli.ninputs,
                        group, NULL, NULL, kv);
  if (!rc)
    rc = pmr_kv_reduce(kv);
  if (!rc && cli.output) {
    /* The inputs' app when they agree: merged counts of words are still
     * a word count. */
    const char *from = info[0].app;
    for (int i = 1; i < cli.ninputs; i++)
      if (strcmp(info[i].app, from))
        from = "";
    pmr_meta *meta = NULL;
    rc = pmr_meta_create(&meta);
    if (!rc)
      rc = pmr_meta_set_str(meta, "app", *from ? from : "merge");
    if (!rc)
      rc = pmr_meta_set_str(meta, "command_line", cli.command_line);
    if (!rc)
      rc = pmr_meta_set_strs(meta, "inputs", (const char *const *)cli.inputs,
                             cli.ninputs);
    if (!rc)
      rc = pmr_kv_write_h5(kv, cli.output, o.group_out ? o.group_out : group,
                           meta);
    pmr_meta_free(&meta);
  }
  if (!rc && o.summary)
    rc = mg_summary(ctx, kv, cli.ninputs, pairs);
  if (!rc && o.top) {
    rc = pmr_kv_top(kv, (uint64_t)o.top, NULL, NULL, 0, &top);
    if (!rc && cli.rank == 0) {
      if (o.summary)
        printf("top %llu:\n", (unsigned long long)top->n);
      mg_print_top(top, pmr_kv_dtype(kv) == PMR_FLOAT64);
    }
  }
  fflush(stdout);
  if (rc)
    pmr_cli_error(&cli, "%s",
                  *msg               ? msg
                  : *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                     : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  if (!rc && pmr_cli_stats(&cli, ctx, 1))
    rc = PMR_EIO; /* the message is printed */

  pmr_kv_list_free(&top);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  free(info);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
