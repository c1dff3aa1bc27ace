/* Group sets against Python goldens (group_golden.py): ragged values with
 * empty keys and values, fixed bytes, int64 [m, 2] and float64 values in
 * numeric order, one key holding half of all values, ranks with nothing,
 * an empty set; every key on the rank the hash sets' partition names, each
 * rank's keys ascending; a chained job (groups -> counts in a hash set,
 * co-partitioned), pmr_map_kv over the pairs, a map into a reduced set and
 * a re-reduce, HDF5 output (checked with h5py by a second test), callback
 * failures and state errors.
 * usage: test_group DATA_DIR OUT.h5 */
#include "check.h"
#include "kv/hash.h"

#include <pmr.h>
#include <stdint.h>

static int rank, size;

typedef struct input {
  uint64_t n;
  unsigned char *buf;
  uint64_t *at; /* [n]: where pair i starts */
  size_t vsize;
  int mode; /* 0 pmr_emit_var, 1 alternate with pmr_emit, 2 bad emits */
} input;

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len + 1);
  if (fread(b, 1, *len, f) != *len)
    exit(1);
  fclose(f);
  return b;
}

static uint64_t rd64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static void load(const char *path, input *in) {
  size_t len;
  in->buf = slurp(path, &len);
  in->n = rd64(in->buf);
  in->at = malloc((in->n + 1) * 8);
  size_t o = 8;
  for (uint64_t i = 0; i < in->n; i++) {
    in->at[i] = o;
    o += 8 + rd64(in->buf + o);
    o += 8 + rd64(in->buf + o);
  }
}

static void pair_at(const input *in, uint64_t i, const unsigned char **k,
                    size_t *kl, const unsigned char **v, size_t *vl) {
  const unsigned char *p = in->buf + in->at[i];
  *kl = rd64(p);
  *k = p + 8;
  *vl = rd64(p + 8 + *kl);
  *v = p + 16 + *kl;
}

static int map_pair(uint64_t i, pmr_emitter *em, void *user) {
  const input *in = user;
  const unsigned char *k, *v;
  size_t kl, vl;
  pair_at(in, i, &k, &kl, &v, &vl);
  if (in->mode == 2)
    return pmr_emit(em, k, kl, v); /* into a ragged set: refused */
  if (in->mode == 3)
    return pmr_emit_var(em, k, kl, v, vl + 1); /* wrong size */
  if (in->mode == 1 && in->vsize && i % 2)
    return pmr_emit(em, k, kl, v);
  return pmr_emit_var(em, k, kl, v, vl);
}

/* ---- a rank's groups, serialised as the golden is ---- */

typedef struct ser {
  unsigned char *p;
  size_t len, cap;
  uint64_t groups, pairs;
  int unordered, misplaced, badoffs;
  unsigned char last[64];
  size_t lastlen;
  int dup; /* each value expected this many times */
} ser;

static void put(ser *s, const void *d, size_t n) {
  if (s->len + n > s->cap) {
    s->cap = (s->len + n) * 2 + 1024;
    s->p = realloc(s->p, s->cap);
  }
  memcpy(s->p + s->len, d, n);
  s->len += n;
}
static void put64(ser *s, uint64_t v) { put(s, &v, 8); }

static int keycmp(const void *a, size_t an, const void *b, size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? memcmp(a, b, n) : 0;
  return c ? c : (an < bn ? -1 : an > bn);
}

static int visit(const pmr_group *g, void *user) {
  ser *s = user;
  if (s->groups && keycmp(s->last, s->lastlen, g->key, g->klen) >= 0)
    s->unordered++;
  s->lastlen = g->klen < sizeof s->last ? g->klen : sizeof s->last;
  memcpy(s->last, g->key, s->lastlen);
  if (pmr__part_rank(pmr__hash(g->key, g->klen), size) != rank)
    s->misplaced++;
  if (g->offsets[0] != 0)
    s->badoffs++;
  for (uint64_t i = 0; i < g->n; i++)
    if (g->offsets[i + 1] < g->offsets[i] ||
        (g->value_size && g->offsets[i] != i * g->value_size))
      s->badoffs++;
  put64(s, g->klen);
  put(s, g->key, g->klen);
  put64(s, g->n / (uint64_t)s->dup);
  for (uint64_t i = 0; i < g->n; i += (uint64_t)s->dup) {
    uint64_t vl = g->offsets[i + 1] - g->offsets[i];
    put64(s, vl);
    put(s, g->values + g->offsets[i], vl);
    for (int d = 1; d < s->dup; d++)
      if (i + (uint64_t)d >= g->n ||
          g->offsets[i + (uint64_t)d + 1] - g->offsets[i + (uint64_t)d] != vl ||
          memcmp(g->values + g->offsets[i + (uint64_t)d],
                 g->values + g->offsets[i], vl))
        s->badoffs++;
  }
  s->groups++;
  s->pairs += g->n;
  return 0;
}

/* One serialised group, for sorting on rank 0. */
typedef struct grp {
  const unsigned char *p;
  size_t len;
} grp;
static int grp_cmp(const void *a, const void *b) {
  const grp *x = a, *y = b;
  return keycmp(x->p + 8, rd64(x->p), y->p + 8, rd64(y->p));
}

/* Gather every rank's groups to rank 0, order them by key and compare with
 * the golden's body. */
static void compare_gold(const ser *s, const char *gold_path,
                         const char *what) {
  int len = (int)s->len, *lens = NULL, *displs = NULL;
  if (rank == 0) {
    lens = calloc((size_t)size, sizeof *lens);
    displs = calloc((size_t)size, sizeof *displs);
  }
  MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
  unsigned char *all = NULL;
  size_t total = 0;
  if (rank == 0) {
    for (int r = 0; r < size; r++) {
      displs[r] = (int)total;
      total += (size_t)lens[r];
    }
    all = malloc(total + 1);
  }
  MPI_Gatherv(s->p, len, MPI_BYTE, all, lens, displs, MPI_BYTE, 0,
              MPI_COMM_WORLD);
  if (rank == 0) {
    size_t glen;
    unsigned char *gold = slurp(gold_path, &glen);
    uint64_t vs = rd64(gold), K = rd64(gold + 16);
    grp *gs = calloc(K + 1, sizeof *gs);
    uint64_t n = 0;
    for (size_t o = 0; o < total;) {
      size_t st = o;
      o += 8 + rd64(all + o);
      uint64_t m = rd64(all + o);
      o += 8;
      for (uint64_t i = 0; i < m; i++)
        o += 8 + rd64(all + o);
      if (n < K)
        gs[n] = (grp){all + st, o - st};
      n++;
    }
    if (n != K)
      fprintf(stderr, "%s: %llu groups, golden %llu\n", what,
              (unsigned long long)n, (unsigned long long)K);
    CHECK_EQ_I(n, K);
    if (n == K) {
      qsort(gs, K, sizeof *gs, grp_cmp);
      size_t o = 24;
      bool same = true;
      for (uint64_t i = 0; i < K && same; i++) {
        same = o + gs[i].len <= glen && !memcmp(gold + o, gs[i].p, gs[i].len);
        if (!same)
          fprintf(stderr, "%s: group %llu differs from the golden\n", what,
                  (unsigned long long)i);
        o += gs[i].len;
      }
      CHECK(same && o == glen);
    }
    (void)vs;
    free(gs);
    free(gold);
    free(all);
    free(lens);
    free(displs);
  }
}

static void check_walk(pmr_kv *kv, const char *gold, const char *what,
                       int dup, uint64_t npairs) {
  ser s = {.dup = dup};
  CHECK_EQ_I(pmr_kv_foreach_group(kv, visit, &s), 0);
  CHECK_EQ_I(s.unordered, 0);
  CHECK_EQ_I(s.misplaced, 0);
  CHECK_EQ_I(s.badoffs, 0);
  CHECK_EQ_I(s.groups, pmr_kv_local_size(kv));
  CHECK_EQ_I(s.pairs, pmr_kv_local_pairs(kv));
  uint64_t tp = 0, mine = pmr_kv_local_pairs(kv);
  MPI_Allreduce(&mine, &tp, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK_EQ_I(tp, npairs);
  compare_gold(&s, gold, what);
  free(s.p);
}

/* ---- the chained job: each group's count into a hash set ---- */

typedef struct chain {
  int fail_rank; /* this rank's callback fails (-1: none) */
  uint64_t calls;
} chain;

static int count_group(const pmr_group *g, pmr_emitter *em, void *user) {
  chain *c = user;
#pragma omp atomic
  c->calls++;
  if (c->fail_rank == rank)
    return pmr_emitter_fail(em, "group of %llu values refused",
                            (unsigned long long)g->n);
  return pmr_emit_i64(em, g->key, g->klen, (int64_t)g->n);
}

typedef struct lookup {
  pmr_kv *counts;
  int missing, wrong;
  int64_t mult;
} lookup;
static int check_count(const pmr_group *g, void *user) {
  lookup *l = user;
  const int64_t *v = pmr_kv_find(l->counts, g->key, g->klen);
  if (!v)
    l->missing++;
  else if (*v != (int64_t)g->n * l->mult)
    l->wrong++;
  return 0;
}

static int count_pair(const void *key, size_t klen, const void *value,
                      pmr_emitter *em, void *user) {
  (void)value, (void)user;
  return pmr_emit_i64(em, key, klen, 1);
}

static void one_case(pmr_ctx *ctx, pmr_h5out *w, const char *dir,
                     const char *name) {
  char inp[512], gold[512];
  snprintf(inp, sizeof inp, "%s/%s.in", dir, name);
  snprintf(gold, sizeof gold, "%s/%s.gold", dir, name);
  input in = {0};
  load(inp, &in);
  size_t glen;
  unsigned char *g = slurp(gold, &glen);
  in.vsize = (size_t)rd64(g);
  pmr_dtype dt = (pmr_dtype)rd64(g + 8);
  free(g);
  in.mode = 1;
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_group(ctx, in.vsize, dt, &kv));
  CHECK_OK(ctx, pmr_map_index(ctx, in.n, map_pair, &in, kv));
  CHECK_EQ_I(pmr_kv_local_size(kv), 0);
  /* Results before the reduce are refused. */
  ser s = {.dup = 1};
  CHECK_EQ_I(pmr_kv_foreach_group(kv, visit, &s), PMR_ESTATE);
  chain c = {-1, 0};
  CHECK_EQ_I(pmr_kv_map_groups(kv, count_group, &c, NULL), PMR_ESTATE);
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv)); /* a no-op */
  check_walk(kv, gold, name, 1, in.n);

  /* The chained job: counts per key, co-partitioned with the groups. */
  pmr_kv *counts = NULL;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &counts));
  CHECK_OK(ctx, pmr_kv_map_groups(kv, count_group, &c, counts));
  CHECK_EQ_I(c.calls, pmr_kv_local_size(kv));
  CHECK_OK(ctx, pmr_kv_reduce(counts));
  CHECK_EQ_I(pmr_kv_local_size(counts), pmr_kv_local_size(kv));
  lookup l = {counts, 0, 0, 1};
  CHECK_OK(ctx, pmr_kv_foreach_group(kv, check_count, &l));
  CHECK_EQ_I(l.missing, 0);
  CHECK_EQ_I(l.wrong, 0);
  pmr_kv_destroy(&counts);

  /* The pairs one by one: fixed sizes only. */
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &counts));
  int rc = pmr_map_kv(kv, count_pair, NULL, counts);
  if (in.vsize == 0) {
    CHECK_EQ_I(rc, PMR_EINVAL);
    CHECK(strstr(pmr_errmsg(ctx), "pmr_kv_map_groups") != NULL);
  } else {
    CHECK_EQ_I(rc, 0);
    CHECK_OK(ctx, pmr_kv_reduce(counts));
    lookup l2 = {counts, 0, 0, 1};
    CHECK_OK(ctx, pmr_kv_foreach_group(kv, check_count, &l2));
    CHECK_EQ_I(l2.missing, 0);
    CHECK_EQ_I(l2.wrong, 0);
  }
  pmr_kv_destroy(&counts);

  CHECK_OK(ctx, pmr_h5out_kv(w, kv, name, NULL));

  /* A map into the reduced set adds pairs; the re-reduce regroups. */
  CHECK_OK(ctx, pmr_map_index(ctx, in.n, map_pair, &in, kv));
  CHECK_EQ_I(pmr_kv_local_size(kv), 0);
  CHECK_EQ_I(pmr_kv_map_groups(kv, count_group, &c, NULL), PMR_ESTATE);
  CHECK(strstr(pmr_errmsg(ctx), "pmr_kv_reduce") != NULL);
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  check_walk(kv, gold, name, 2, 2 * in.n);
  pmr_kv_destroy(&kv);
  free(in.buf);
  free(in.at);
}

static int no_pair(const void *key, size_t klen, const void *value,
                   void *user) {
  (void)key, (void)klen, (void)value, (void)user;
  return 0;
}

static void errors(pmr_ctx *ctx, const char *dir) {
  pmr_kv *kv = NULL;
  CHECK_EQ_I(pmr_kv_create_group(ctx, 12, PMR_INT64, &kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_create_group(ctx, 0, PMR_FLOAT64, &kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_create_group(ctx, ((size_t)1 << 20) + 1, PMR_BYTES, &kv),
             PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_create_group(ctx, 4, PMR_INT32, &kv), PMR_EINVAL);
  CHECK(kv == NULL);
  char inp[512];
  snprintf(inp, sizeof inp, "%s/ragged.in", dir);
  input in = {0};
  load(inp, &in);
  /* pmr_emit into a ragged set, a wrong size through pmr_emit_var. */
  CHECK_OK(ctx, pmr_kv_create_group(ctx, 0, PMR_BYTES, &kv));
  in.mode = 2;
  CHECK_EQ_I(pmr_map_index(ctx, in.n, map_pair, &in, kv), PMR_ESTATE);
  CHECK(strstr(pmr_errmsg(ctx), "pmr_emit_var") != NULL);
  pmr_kv_destroy(&kv);
  CHECK_OK(ctx, pmr_kv_create_group(ctx, 8, PMR_INT64, &kv));
  in.mode = 3;
  in.vsize = 8;
  CHECK_EQ_I(pmr_map_index(ctx, in.n, map_pair, &in, kv), PMR_EINVAL);
  pmr_kv_destroy(&kv);
  /* A callback failing on one rank fails the call everywhere. */
  CHECK_OK(ctx, pmr_kv_create_group(ctx, 0, PMR_BYTES, &kv));
  in.mode = 0;
  in.vsize = 0;
  CHECK_OK(ctx, pmr_map_index(ctx, in.n, map_pair, &in, kv));
  CHECK_OK(ctx, pmr_kv_reduce(kv));
  pmr_kv *counts = NULL;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &counts));
  chain c = {size - 1, 0};
  CHECK_EQ_I(pmr_kv_map_groups(kv, count_group, &c, counts), PMR_ECALLBACK);
  CHECK(strstr(pmr_errmsg(ctx), "refused") != NULL ||
        strstr(pmr_errmsg(ctx), "failed") != NULL);
  /* Group calls on other sets, pair calls on group sets. */
  CHECK_EQ_I(pmr_kv_map_groups(counts, count_group, &c, NULL), PMR_EINVAL);
  ser s = {.dup = 1};
  CHECK_EQ_I(pmr_kv_foreach_group(counts, visit, &s), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_map_groups(kv, count_group, &c, kv), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_foreach(kv, no_pair, NULL), PMR_EINVAL);
  CHECK_EQ_I(pmr_kv_write_text(kv, "/nonexistent/x.txt"), PMR_EINVAL);
  pmr_kv_destroy(&counts);
  pmr_kv_destroy(&kv);
  free(in.buf);
  free(in.at);
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 3) {
    if (rank == 0)
      fprintf(stderr, "usage: test_group DATA_DIR OUT.h5\n");
    MPI_Finalize();
    return 2;
  }
  pmr_ctx *ctx = NULL;
  CHECK_EQ_I(pmr_ctx_create(MPI_COMM_WORLD, &ctx), 0);
  /* Small rounds, so the exchange splits pairs between rounds. */
  CHECK_OK(ctx, pmr_ctx_set_memory(ctx, (size_t)1 << 20));
  pmr_h5out *w = NULL;
  CHECK_OK(ctx, pmr_h5out_open(ctx, argv[2], 0, &w));
  const char *cases[] = {"ragged", "bytes5", "i64x2", "f64",
                         "skew",   "tiny",   "empty"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    one_case(ctx, w, argv[1], cases[i]);
  CHECK_OK(ctx, pmr_h5out_close(&w, 1));
  errors(ctx, argv[1]);
  pmr_ctx_destroy(&ctx);
  int rc = check_finish("test_group");
  MPI_Finalize();
  return rc;
}
