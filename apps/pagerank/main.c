/* pmr-pagerank: PageRank of a directed graph over MPI ranks and threads.
 *
 *   mpirun -np 4 pmr-pagerank edges.txt -o pr.h5
 *   mpirun -np 4 pmr-pagerank rmat.h5:/edges -o pr.h5 --iters 10
 *
 * The result is networkx.pagerank(G, alpha=D, tol=T) of the DiGraph G of
 * the edges: repeated edges count once, self-loops are kept, the vertices
 * are every id seen, a dangling vertex's rank is spread uniformly, the
 * personalization is uniform, and the power iteration stops when the L1
 * change is below n x T (or after --iters iterations: converged = 0).
 *
 * How: the edges are read once into a group set keyed by source, whose
 * reduce leaves each vertex's out-list (sorted, so duplicates are adjacent)
 * on the rank that owns the vertex. One pass over the groups makes the
 * vertex set V (each id with its out-degree), keyed alike and so partitioned
 * alike. Each iteration then maps the groups, where they live, emitting
 * alpha x(src) / outdeg(src) per distinct out-neighbour into a combining
 * hash set keyed by destination (only these contributions move), and a map
 * over V builds the next ranks: x(v) reads the contributions, the previous
 * rank and the degree of v with local lookups (pmr_kv_find), because a
 * group set and a hash set keyed by the same bytes put a key on the same
 * rank. The dangling mass and the L1 change are summed with one
 * MPI_Allreduce per iteration. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pmr.h>

#include "cli.h"

typedef struct pr_opts {
  double damping, tol;
  long long iters;
  const char *group;
} pr_opts;

enum { OPT_DAMPING = 0x2000, OPT_ITERS, OPT_TOL, OPT_GROUP };

static const struct option pr_longopts[] = {
    {"damping", required_argument, NULL, OPT_DAMPING},
    {"iters", required_argument, NULL, OPT_ITERS},
    {"tol", required_argument, NULL, OPT_TOL},
    {"group", required_argument, NULL, OPT_GROUP},
    {0}};

static int pr_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  pr_opts *o = user;
  char *end;
  switch (opt) {
  case OPT_DAMPING:
    errno = 0;
    o->damping = strtod(arg, &end);
    if (!*arg || *end || errno || !(o->damping >= 0 && o->damping <= 1)) {
      pmr_cli_error(cli, "invalid value '%s' for --damping: need a number "
                         "from 0 to 1 (see --help)", arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_TOL:
    errno = 0;
    o->tol = strtod(arg, &end);
    if (!*arg || *end || errno || !(o->tol > 0) || !isfinite(o->tol)) {
      pmr_cli_error(cli, "invalid value '%s' for --tol: need a finite number "
                         "> 0 (see --help)", arg);
      return PMR_CLI_USAGE;
    }
    return 0;
  case OPT_ITERS:
    return pmr_cli_positive(cli, "--iters", arg, &o->iters);
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

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of this process (all its threads). */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --- input ----------------------------------------------------------------- */

static int is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* An int64 in decimal with an optional sign at *p; moves *p past it.
 * Returns 0, or -1 when there is none or it is out of range. */
static int parse_id(const char **p, const char *e, int64_t *out) {
  const char *q = *p;
  int neg = 0;
  if (q < e && (*q == '-' || *q == '+'))
    neg = *q++ == '-';
  if (q == e || *q < '0' || *q > '9')
    return -1;
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; q < e && *q >= '0' && *q <= '9'; q++) {
    unsigned d = (unsigned)(*q - '0');
    if (v > (lim - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  *p = q;
  return 0;
}

/* Edges read, per thread (NULL: not counted). */
typedef struct pr_tally {
  uint64_t n;
  char pad[56];
} pr_tally;

/* One line: "SRC DST" (blanks around and between; '#' starts a comment;
 * empty and comment lines are skipped). */
static int pr_line(const char *line, size_t len, int file, pmr_emitter *em,
                   void *user) {
  const char *p = line, *e = line + len;
  int64_t src, dst;
  pr_tally *count = user;
  (void)file;
  while (p < e && is_blank(*p))
    p++;
  if (p == e || *p == '#')
    return 0;
  if (parse_id(&p, e, &src) || p == e || !is_blank(*p))
    goto bad;
  while (p < e && is_blank(*p))
    p++;
  if (parse_id(&p, e, &dst))
    goto bad;
  while (p < e && is_blank(*p))
    p++;
  if (p != e && *p != '#')
    goto bad;
  if (count)
    count[pmr_emitter_thread(em)].n++;
  return pmr_emit_i64(em, &src, sizeof src, dst);
bad:;
  int n = len > 60 ? 60 : (int)len;
  while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
    n--;
  return pmr_emitter_fail(em,
                          "expected 'SRC DST' (two integer vertex ids from "
                          "-2^63 to 2^63-1), got '%.*s%s'",
                          n, line, (size_t)n < len && len > 60 ? "..." : "");
}

static int pr_rows(const pmr_rows *r, pmr_emitter *em, void *user) {
  const int64_t *v = r->data;
  pr_tally *count = user;
  count[pmr_emitter_thread(em)].n += r->nrows;
  for (uint64_t i = 0; i < r->nrows; i++) {
    int rc = pmr_emit_i64(em, &v[2 * i], sizeof v[0], v[2 * i + 1]);
    if (rc)
      return rc;
  }
  return 0;
}

/* An input names an HDF5 dataset when it has ":/" (FILE.h5:/edges) or ends
 * in ".h5" (then its /edges). */
static int is_h5(const char *s) {
  size_t n = strlen(s);
  return strstr(s, ":/") || (n > 3 && !strcmp(s + n - 3, ".h5"));
}

/* Read the edges into `adj` (a group set keyed by source), counting them
 * into count[thread]. */
static int load_edges(pmr_ctx *ctx, pmr_cli *cli, pmr_kv *adj,
                      pr_tally *count) {
  int h5 = is_h5(cli->inputs[0]);
  if (!h5) {
    int rc = pmr_map_text(ctx, (const char *const *)cli->inputs, cli->ninputs,
                          pr_line, count, adj);
    if (rc == PMR_ECALLBACK) {
      /* A bad line: map again with line numbers, for a message that names
       * the line (the count costs a pass, so only on this path). */
      pmr_kv *tmp = NULL;
      int64_t was = 0;
      pmr_ctx_get_option(ctx, PMR_OPT_LINE_NUMBERS, &was);
      pmr_ctx_set_option(ctx, PMR_OPT_LINE_NUMBERS, 1);
      char first[1024];
      snprintf(first, sizeof first, "%s", pmr_errmsg(ctx));
      if (pmr_kv_create(ctx, PMR_COUNT, &tmp) == PMR_OK &&
          pmr_map_text(ctx, (const char *const *)cli->inputs, cli->ninputs,
                       pr_line, NULL, tmp) == PMR_ECALLBACK)
        snprintf(first, sizeof first, "%s", pmr_errmsg(ctx));
      pmr_kv_destroy(&tmp);
      pmr_ctx_set_option(ctx, PMR_OPT_LINE_NUMBERS, was);
      pmr_cli_error(cli, "%s", first);
      return -1;
    }
    return rc;
  }
  /* FILE.h5 alone means FILE.h5:/edges. */
  char **specs = calloc((size_t)cli->ninputs, sizeof *specs);
  int rc = specs ? PMR_OK : PMR_ENOMEM;
  for (int i = 0; !rc && i < cli->ninputs; i++) {
    const char *s = cli->inputs[i];
    size_t n = strlen(s) + 8;
    if (!(specs[i] = malloc(n)))
      rc = PMR_ENOMEM;
    else
      snprintf(specs[i], n, strstr(s, ":/") ? "%s" : "%s:/edges", s);
  }
  for (int i = 0; !rc && i < cli->ninputs; i++) {
    int nd = 0;
    uint64_t dims[2] = {0, 0};
    rc = pmr_h5_shape(ctx, specs[i], &nd, dims);
    if (!rc && (nd != 2 || dims[1] != 2)) {
      if (nd == 1)
        pmr_cli_error(cli, "'%s' is 1-D [%llu]; need edges [m, 2]", specs[i],
                      (unsigned long long)dims[0]);
      else
        pmr_cli_error(cli, "'%s' is [%llu, %llu]; need edges [m, 2]",
                      specs[i], (unsigned long long)dims[0],
                      (unsigned long long)dims[1]);
      rc = -1;
    }
  }
  if (!rc)
    rc = pmr_map_h5(ctx, (const char *const *)specs, cli->ninputs, PMR_INT64,
                    0, pr_rows, count, adj);
  for (int i = 0; specs && i < cli->ninputs; i++)
    free(specs[i]);
  free(specs);
  return rc;
}

/* --- the iteration --------------------------------------------------------- */

/* Per-thread sums, on separate cache lines. */
typedef struct pr_acc {
  double err, dangling;
  char pad[48];
} pr_acc;

typedef struct pr_state {
  pmr_kv *verts;   /* vertex -> number of distinct out-neighbours (int64) */
  pmr_kv *x;       /* vertex -> rank (previous iteration) */
  pmr_kv *contrib; /* vertex -> sum of alpha x(u) / outdeg(u) over in-edges */
  double alpha, base, inv_n;
  pr_acc *acc;
} pr_state;

/* Group: the vertex set. A source with its distinct out-degree, each of its
 * distinct destinations with 0 (an id seen only as a destination is still
 * a vertex); the set sums them. */
static int pr_vertices(const pmr_group *g, pmr_emitter *em, void *user) {
  (void)user;
  int64_t deg = 0, prev = 0;
  for (uint64_t i = 0; i < g->n; i++) {
    int64_t d;
    memcpy(&d, g->values + 8 * i, 8);
    if (i && d == prev)
      continue; /* a repeated edge counts once */
    prev = d;
    deg++;
    int rc = pmr_emit_i64(em, &d, 8, 0);
    if (rc)
      return rc;
  }
  return pmr_emit_i64(em, g->key, g->klen, deg);
}

/* Group: src's contributions to its distinct out-neighbours. */
static int pr_contrib(const pmr_group *g, pmr_emitter *em, void *user) {
  const pr_state *s = user;
  const void *xv = pmr_kv_find(s->x, g->key, g->klen);
  const void *dv = pmr_kv_find(s->verts, g->key, g->klen);
  if (!xv || !dv)
    return pmr_emitter_fail(em, "vertex not found on its own rank");
  double x;
  int64_t deg;
  memcpy(&x, xv, 8);
  memcpy(&deg, dv, 8);
  double share = s->alpha * x / (double)deg;
  int64_t prev = 0;
  for (uint64_t i = 0; i < g->n; i++) {
    int64_t d;
    memcpy(&d, g->values + 8 * i, 8);
    if (i && d == prev)
      continue;
    prev = d;
    int rc = pmr_emit_f64(em, &d, 8, share);
    if (rc)
      return rc;
  }
  return 0;
}

/* Vertex: its first rank, 1/n. */
static int pr_init(const void *key, size_t klen, const void *value,
                   pmr_emitter *em, void *user) {
  const pr_state *s = user;
  (void)value;
  return pmr_emit_f64(em, key, klen, s->inv_n);
}

/* Vertex: counts[1] += dangling, counts[2] += distinct out-degree. */
static int pr_count(const void *key, size_t klen, const void *value,
                    void *user) {
  uint64_t *counts = user;
  int64_t deg;
  (void)key, (void)klen;
  memcpy(&deg, value, 8);
  counts[1] += deg == 0;
  counts[2] += (uint64_t)deg;
  return 0;
}

/* Vertex: x(v) = contributions + alpha x(dangling) / n + (1 - alpha) / n. */
static int pr_update(const void *key, size_t klen, const void *value,
                     pmr_emitter *em, void *user) {
  pr_state *s = user;
  int64_t deg;
  double c = 0, last;
  memcpy(&deg, value, 8);
  const void *cv = pmr_kv_find(s->contrib, key, klen);
  const void *lv = pmr_kv_find(s->x, key, klen);
  if (!lv)
    return pmr_emitter_fail(em, "vertex not found on its own rank");
  if (cv)
    memcpy(&c, cv, 8);
  memcpy(&last, lv, 8);
  double x = c + s->base;
  pr_acc *a = &s->acc[pmr_emitter_thread(em)];
  a->err += fabs(x - last);
  if (deg == 0)
    a->dangling += x;
  return pmr_emit_f64(em, key, klen, x);
}

typedef struct pr_result {
  uint64_t n, edges, dangling, records;
  int64_t iterations;
  int converged;
  double load_s, setup_s, iterate_s, write_s;
  double iterate_cpu; /* CPU seconds of the iterations, summed over ranks */
} pr_result;

/* Sum the threads' accumulators over the ranks: err, dangling. */
static void pr_sums(pmr_ctx *ctx, pr_acc *acc, int nt, double out[2]) {
  double v[2] = {0, 0};
  for (int t = 0; t < nt; t++) {
    v[0] += acc[t].err;
    v[1] += acc[t].dangling;
    acc[t].err = acc[t].dangling = 0;
  }
  MPI_Allreduce(v, out, 2, MPI_DOUBLE, MPI_SUM, pmr_ctx_comm(ctx));
}

typedef struct pr_out {
  int64_t *v;
  double *r;
  uint64_t n, cap;
} pr_out;

static int pr_collect(const void *key, size_t klen, const void *value,
                      void *user) {
  pr_out *o = user;
  (void)klen;
  if (o->n == o->cap)
    return 1;
  memcpy(&o->v[o->n], key, 8);
  memcpy(&o->r[o->n], value, 8);
  o->n++;
  return 0;
}

static int cmp_pair(const void *a, const void *b, void *user) {
  (void)user;
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Sort this rank's (vertex, rank) pairs by vertex. */
static void pr_sort(pr_out *o) {
  struct pv {
    int64_t v;
    double r;
  } *t = malloc(sizeof *t * (o->n ? o->n : 1));
  if (!t) /* the order is a nicety: leave it */
    return;
  for (uint64_t i = 0; i < o->n; i++)
    t[i] = (struct pv){o->v[i], o->r[i]};
  qsort_r(t, o->n, sizeof *t, cmp_pair, NULL);
  for (uint64_t i = 0; i < o->n; i++)
    o->v[i] = t[i].v, o->r[i] = t[i].r;
  free(t);
}

static int pr_write(pmr_ctx *ctx, pmr_cli *cli, const pr_opts *o, pmr_kv *x,
                    const pr_result *res) {
  pr_out out = {0};
  uint64_t n = x ? pmr_kv_local_size(x) : 0;
  out.cap = n;
  out.v = malloc(sizeof *out.v * (n ? n : 1));
  out.r = malloc(sizeof *out.r * (n ? n : 1));
  int rc = out.v && out.r ? PMR_OK : PMR_ENOMEM, all = 0;
  if (!rc && x)
    rc = pmr_kv_foreach(x, pr_collect, &out) ? PMR_ENOMEM : PMR_OK;
  MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, pmr_ctx_comm(ctx));
  if (all) {
    free(out.v), free(out.r);
    pmr_cli_error(cli, "out of memory for the result");
    return -1;
  }
  pr_sort(&out);
  pmr_meta *meta = NULL;
  pmr_h5out *w = NULL;
  char vname[512], rname[512];
  snprintf(vname, sizeof vname, "%s/vertices", o->group);
  snprintf(rname, sizeof rname, "%s/rank", o->group);
  rc = pmr_meta_create(&meta);
#define SET(call)                                                              \
  if (!rc)                                                                     \
  rc = (call)
  SET(pmr_meta_set_str(meta, "app", "pagerank"));
  SET(pmr_meta_set_str(meta, "command_line", cli->command_line));
  SET(pmr_meta_set_strs(meta, "inputs", (const char *const *)cli->inputs,
                        cli->ninputs));
  SET(pmr_meta_set_i64(meta, "iterations", res->iterations));
  SET(pmr_meta_set_i64(meta, "converged", res->converged));
  SET(pmr_meta_set_i64(meta, "dangling", (int64_t)res->dangling));
  SET(pmr_meta_set_i64(meta, "vertices", (int64_t)res->n));
  SET(pmr_meta_set_i64(meta, "edges", (int64_t)res->edges));
  SET(pmr_meta_set_i64(meta, "input_edges", (int64_t)res->records));
  SET(pmr_meta_set_f64(meta, "damping", o->damping));
  SET(pmr_meta_set_f64(meta, "tol", o->tol));
  SET(pmr_meta_set_i64(meta, "max_iter", o->iters));
  SET(pmr_meta_set_f64(meta, "load_seconds", res->load_s));
  SET(pmr_meta_set_f64(meta, "setup_seconds", res->setup_s));
  SET(pmr_meta_set_f64(meta, "iterate_seconds", res->iterate_s));
  SET(pmr_meta_set_f64(meta, "iterate_cpu_seconds", res->iterate_cpu));
#undef SET
  if (!rc)
    rc = pmr_h5out_open(ctx, cli->output, 0, &w);
  if (!rc)
    rc = pmr_h5out_rows(w, vname, PMR_INT64, 0, out.n, out.v);
  if (!rc)
    rc = pmr_h5out_rows(w, rname, PMR_FLOAT64, 0, out.n, out.r);
  if (!rc)
    rc = pmr_h5out_meta(w, o->group, meta);
  int crc = pmr_h5out_close(&w, rc == PMR_OK);
  if (!rc)
    rc = crc;
  pmr_meta_free(&meta);
  free(out.v), free(out.r);
  return rc;
}

static int pagerank(pmr_ctx *ctx, pmr_cli *cli, const pr_opts *o,
                    pr_result *res) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  int nt = pmr_ctx_threads(ctx);
  pmr_kv *adj = NULL, *verts = NULL, *x = NULL, *c = NULL, *xn = NULL;
  pr_state s = {.alpha = o->damping};
  s.acc = calloc((size_t)nt, sizeof *s.acc);
  pr_tally *count = calloc((size_t)nt, sizeof *count);
  double t0 = now();
  int rc = s.acc && count ? PMR_OK : PMR_ENOMEM;
  if (!rc)
    rc = pmr_kv_create_group(ctx, 8, PMR_INT64, &adj);
  if (!rc)
    rc = load_edges(ctx, cli, adj, count);
  if (!rc)
    rc = pmr_kv_reduce(adj);
  uint64_t rec = 0;
  for (int t = 0; count && t < nt; t++)
    rec += count[t].n;
  free(count);
  MPI_Allreduce(&rec, &res->records, 1, MPI_UINT64_T, MPI_SUM, comm);
  double t1 = now();
  res->load_s = t1 - t0;

  /* The vertex set with out-degrees; n, edges and dangling vertices. */
  if (!rc)
    rc = pmr_kv_create(ctx, PMR_SUM_I64, &verts);
  if (!rc)
    rc = pmr_kv_map_groups(adj, pr_vertices, NULL, verts);
  if (!rc)
    rc = pmr_kv_reduce(verts);
  if (!rc) {
    uint64_t loc[3] = {pmr_kv_local_size(verts), 0, 0}, glob[3];
    pmr_kv_foreach(verts, pr_count, loc);
    MPI_Allreduce(loc, glob, 3, MPI_UINT64_T, MPI_SUM, comm);
    res->n = glob[0];
    res->dangling = glob[1];
    res->edges = glob[2];
    s.verts = verts;
  }
  if (!rc && res->n == 0) {
    /* No edges: the empty graph, whose PageRank is empty (networkx returns
     * {}); nothing to iterate. */
    res->converged = 1;
    res->setup_s = now() - t1;
    rc = pr_write(ctx, cli, o, NULL, res);
    goto done;
  }
  if (!rc) {
    s.inv_n = 1.0 / (double)res->n;
    rc = pmr_kv_create(ctx, PMR_SUM_F64, &x);
  }
  if (!rc)
    rc = pmr_map_kv(verts, pr_init, &s, x);
  if (!rc)
    rc = pmr_kv_reduce(x);
  /* sums: the L1 change and the dangling vertices' rank of the last step. */
  double sums[2] = {0, (double)res->dangling * s.inv_n};
  s.x = x;
  double t2 = now(), c2 = cpu_now();
  res->setup_s = t2 - t1;

  for (long long it = 1; !rc && it <= o->iters; it++) {
    s.base = o->damping * sums[1] * s.inv_n + (1.0 - o->damping) * s.inv_n;
    rc = pmr_kv_create(ctx, PMR_SUM_F64, &c);
    if (!rc)
      rc = pmr_kv_map_groups(adj, pr_contrib, &s, c);
    if (!rc)
      rc = pmr_kv_reduce(c);
    s.contrib = c;
    if (!rc)
      rc = pmr_kv_create(ctx, PMR_SUM_F64, &xn);
    if (!rc)
      rc = pmr_map_kv(verts, pr_update, &s, xn);
    if (!rc)
      rc = pmr_kv_reduce(xn);
    pmr_kv_destroy(&c);
    s.contrib = NULL;
    if (rc)
      break;
    pmr_kv_destroy(&x);
    x = xn;
    xn = NULL;
    s.x = x;
    pr_sums(ctx, s.acc, nt, sums);
    res->iterations = it;
    if (sums[0] < (double)res->n * o->tol) {
      res->converged = 1;
      break;
    }
  }
  double t3 = now(), cpu = cpu_now() - c2;
  res->iterate_s = t3 - t2;
  MPI_Allreduce(&cpu, &res->iterate_cpu, 1, MPI_DOUBLE, MPI_SUM, comm);
  if (!rc)
    rc = pr_write(ctx, cli, o, x, res);
  res->write_s = now() - t3;
done:
  pmr_kv_destroy(&xn);
  pmr_kv_destroy(&c);
  pmr_kv_destroy(&x);
  pmr_kv_destroy(&verts);
  pmr_kv_destroy(&adj);
  free(s.acc);
  return rc;
}

int main(int argc, char **argv) {
  pr_opts o = {.damping = 0.85, .tol = 1e-6, .iters = 100,
               .group = "pagerank"};
  pmr_cli_app app = {
      .name = "pagerank",
      .usage = "[options] EDGES... -o OUT.h5",
      .summary =
          "PageRank of a directed graph over MPI ranks and OpenMP threads, "
          "as\nnetworkx.pagerank(G, alpha=D, tol=T) on a DiGraph. EDGES are "
          "text files of\n\"SRC DST\" lines (int64 ids, '#' comments) or "
          "HDF5 datasets FILE.h5:/edges\nint64 [m, 2] (FILE.h5 alone: its "
          "/edges). Output: group /pagerank with\nvertices int64 [n] and "
          "rank float64 [n].",
      .options_help =
          "      --damping D      damping factor alpha, 0..1 (default "
          "0.85)\n"
          "      --iters N        at most N iterations (default 100)\n"
          "      --tol T          stop when the L1 change is below n x T "
          "(default 1e-6)\n"
          "      --group NAME     HDF5 group of the result (default "
          "pagerank)\n",
      .longopts = pr_longopts,
      .on_option = pr_option,
      .user = &o,
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc == PMR_CLI_RUN)
    for (int i = 1; i < cli.ninputs; i++)
      if (is_h5(cli.inputs[i]) != is_h5(cli.inputs[0])) {
        pmr_cli_error(&cli, "give text edge lists or HDF5 datasets, not both "
                            "(see --help)");
        prc = PMR_CLI_USAGE;
        break;
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
  pr_result res = {0};
  /* Fail on an unwritable output now, not after the work. */
  rc = pmr_check_output(ctx, cli.output);
  if (!rc)
    rc = pagerank(ctx, &cli, &o, &res);
  if (rc > 0)
    pmr_cli_error(&cli, "%s", *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                              : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  if (cli.stats && !rc) {
    pmr_ctx_print_stats(ctx, stderr);
    if (cli.rank == 0) {
      int np = pmr_ctx_size(ctx);
      double ei = (double)res.edges * (double)res.iterations;
      fprintf(stderr,
              "pagerank         %llu vertices, %llu edges, %lld iterations "
              "(converged %d)\n"
              "load             %.3f s\nsetup            %.3f s\n"
              "iterate          %.3f s (%.3f s per iteration), cpu %.3f s "
              "(all ranks)\n"
              "edge-iterations  %.3g per second, %.3g per second per rank, "
              "%.3g per cpu second\n",
              (unsigned long long)res.n, (unsigned long long)res.edges,
              (long long)res.iterations, res.converged, res.load_s,
              res.setup_s, res.iterate_s,
              res.iterations ? res.iterate_s / (double)res.iterations : 0.0,
              res.iterate_cpu, res.iterate_s > 0 ? ei / res.iterate_s : 0.0,
              res.iterate_s > 0 ? ei / res.iterate_s / np : 0.0,
              res.iterate_cpu > 0 ? ei / res.iterate_cpu : 0.0);
    }
  }
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
