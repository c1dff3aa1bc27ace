/* pmr_kv_sort on group sets against Python's sorted() (sort_golden.py):
 * random keys in every order (key, value, descending, a user order), one
 * key for all pairs, one key for half of them (from every rank, and from
 * one rank holding all the data), ragged values, float64 values with
 * -0.0, Inf and NaN, fixed 10-byte keys, three pairs over up to four ranks
 * (empty ranks), a reduced set sorted and a sorted set sorted again. The
 * set is read back with pmr_kv_foreach_group rank by rank and compared with
 * the golden byte for byte; every rank's share is printed and, for sets of
 * 1000 pairs a rank or more, checked within 5% of N / P. Some sets are
 * written (GOLDDIR/out-npP-tT/NAME.ORDER.h5) for sort_golden.py --check-h5.
 * Usage: test_kvsort GOLDDIR */
#include "check.h"

#include <pmr.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct input {
  uint64_t n;
  const unsigned char **k, **v;
  size_t *kl, *vl;
  unsigned char *data;
} input;

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *d = malloc((size_t)n + 1);
  if (fread(d, 1, (size_t)n, f) != (size_t)n)
    MPI_Abort(MPI_COMM_WORLD, 2);
  fclose(f);
  *len = (size_t)n;
  return d;
}

static void load(const char *path, input *in) {
  size_t len, o = 0;
  in->data = slurp(path, &len);
  in->n = 0;
  while (o < len) {
    uint32_t l;
    memcpy(&l, in->data + o, 4);
    o += 4 + l;
    memcpy(&l, in->data + o, 4);
    o += 4 + l;
    in->n++;
  }
  in->k = malloc(in->n * sizeof *in->k + 1);
  in->v = malloc(in->n * sizeof *in->v + 1);
  in->kl = malloc(in->n * sizeof *in->kl + 1);
  in->vl = malloc(in->n * sizeof *in->vl + 1);
  o = 0;
  for (uint64_t i = 0; i < in->n; i++) {
    uint32_t l;
    memcpy(&l, in->data + o, 4);
    in->k[i] = in->data + o + 4;
    in->kl[i] = l;
    o += 4 + l;
    memcpy(&l, in->data + o, 4);
    in->v[i] = in->data + o + 4;
    in->vl[i] = l;
    o += 4 + l;
  }
}

static void unload(input *in) {
  free(in->data);
  free(in->k);
  free(in->v);
  free(in->kl);
  free(in->vl);
}

typedef struct mapu {
  const input *in;
  int all_from_one; /* index 0 emits every pair */
} mapu;

static int map_pairs(uint64_t i, pmr_emitter *em, void *user) {
  const mapu *m = user;
  uint64_t lo = i, hi = i + 1;
  if (m->all_from_one) {
    if (i)
      return 0;
    hi = m->in->n;
  }
  for (uint64_t j = lo; j < hi; j++) {
    int rc = pmr_emit_var(em, m->in->k[j], m->in->kl[j], m->in->v[j],
                          m->in->vl[j]);
    if (rc)
      return rc;
  }
  return 0;
}

/* The user order of sort_golden.py: key length, key read backwards, then
 * value bytes. */
static int user_cmp(const void *ak, size_t al, const void *av, size_t avl,
                    const void *bk, size_t bl, const void *bv, size_t bvl,
                    void *user) {
  (void)user;
  const unsigned char *a = ak, *b = bk;
  if (al != bl)
    return al < bl ? -1 : 1;
  for (size_t i = al; i-- > 0;)
    if (a[i] != b[i])
      return a[i] < b[i] ? -1 : 1;
  size_t m = avl < bvl ? avl : bvl;
  int c = m ? memcmp(av, bv, m) : 0;
  return c ? c : (avl < bvl ? -1 : avl > bvl);
}

typedef struct outb {
  unsigned char *p;
  size_t len, cap;
  uint64_t n;
} outb;
static void put(outb *o, const void *d, size_t n) {
  if (o->len + n > o->cap) {
    o->cap = (o->len + n) * 2 + 64;
    o->p = realloc(o->p, o->cap);
  }
  if (n)
    memcpy(o->p + o->len, d, n);
  o->len += n;
}
static int visit(const pmr_group *g, void *user) {
  outb *o = user;
  for (uint64_t i = 0; i < g->n; i++) {
    uint32_t kl = (uint32_t)g->klen, vl = (uint32_t)(g->offsets[i + 1] -
                                                     g->offsets[i]);
    put(o, &kl, 4);
    put(o, g->key, g->klen);
    put(o, &vl, 4);
    put(o, g->values + g->offsets[i], vl);
    o->n++;
  }
  return 0;
}

static const char *gdir;
static char odir[512];

/* Read the sorted set back rank by rank and compare with the golden. */
static void check_sorted(pmr_ctx *ctx, pmr_kv *kv, const char *name,
                         const char *order) {
  int rank = pmr_ctx_rank(ctx), P = pmr_ctx_size(ctx);
  outb o = {0};
  CHECK_OK(ctx, pmr_kv_foreach_group(kv, visit, &o));
  CHECK_EQ_I(pmr_kv_local_pairs(kv), o.n);
  int mine = (int)o.len, *c = calloc((size_t)P, sizeof *c),
      *d = calloc((size_t)P, sizeof *d);
  uint64_t *ns = calloc((size_t)P, sizeof *ns);
  MPI_Gather(&mine, 1, MPI_INT, c, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Gather(&o.n, 1, MPI_UINT64_T, ns, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  size_t tot = 0;
  for (int r = 0; r < P; r++) {
    d[r] = (int)tot;
    tot += (size_t)c[r];
  }
  unsigned char *all = malloc(tot + 1);
  MPI_Gatherv(o.p, mine, MPI_BYTE, all, c, d, MPI_BYTE, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.gold", gdir, name, order);
    size_t glen;
    unsigned char *gold = slurp(path, &glen);
    uint64_t N = 0, lo = UINT64_MAX, hi = 0;
    for (int r = 0; r < P; r++) {
      N += ns[r];
      lo = ns[r] < lo ? ns[r] : lo;
      hi = ns[r] > hi ? ns[r] : hi;
    }
    double ideal = (double)N / P;
    printf("%-8s %-11s P=%d t=%d N=%llu per rank:", name, order, P,
           pmr_ctx_threads(ctx), (unsigned long long)N);
    for (int r = 0; r < P; r++)
      printf(" %llu", (unsigned long long)ns[r]);
    printf(" (min %+.2f%%, max %+.2f%% of N/P)\n",
           ideal ? 100 * ((double)lo - ideal) / ideal : 0.0,
           ideal ? 100 * ((double)hi - ideal) / ideal : 0.0);
    if (ideal >= 1000)
      CHECK((double)lo >= 0.95 * ideal && (double)hi <= 1.05 * ideal);
    int same = glen == tot && memcmp(gold, all, tot) == 0;
    if (!same)
      fprintf(stderr, "%s %s: sorted set differs from %s (%zu vs %zu bytes)\n",
              name, order, path, tot, glen);
    CHECK(same);
    free(gold);
  }
  free(all);
  free(c);
  free(d);
  free(ns);
  free(o.p);
}

typedef struct tcase {
  const char *name;
  size_t vsize;
  pmr_dtype dt;
  const char *order; /* golden's name */
  unsigned flags;
  int user, one_rank, reduce_first, write;
} tcase;

static void run(pmr_ctx *ctx, const tcase *t) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.in", gdir, t->name);
  input in;
  load(path, &in);
  pmr_kv *kv = NULL;
  CHECK_OK(ctx, pmr_kv_create_group(ctx, t->vsize, t->dt, &kv));
  mapu m = {&in, t->one_rank};
  CHECK_OK(ctx, pmr_map_index(ctx, t->one_rank ? (uint64_t)pmr_ctx_size(ctx)
                                               : in.n,
                              map_pairs, &m, kv));
  if (t->reduce_first)
    CHECK_OK(ctx, pmr_kv_reduce(kv));
  CHECK_OK(ctx, pmr_kv_sort(kv, t->flags, t->user ? user_cmp : NULL, NULL));
  check_sorted(ctx, kv, t->name, t->order);
  if (t->write) {
    snprintf(path, sizeof path, "%s/%s.%s.h5", odir, t->name, t->order);
    CHECK_OK(ctx, pmr_kv_write_h5(kv, path, "sorted", NULL));
  }
  if (t->reduce_first) {
    /* Sorted again, in another order. */
    CHECK_OK(ctx, pmr_kv_sort(kv, PMR_SORT_KEY | PMR_SORT_DESC, NULL, NULL));
    check_sorted(ctx, kv, t->name, "key_desc");
  }
  pmr_kv_destroy(&kv);
  unload(&in);
}

int main(int argc, char **argv) {
  int prov;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
  if (argc < 2) {
    fprintf(stderr, "usage: test_kvsort GOLDDIR\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  gdir = argv[1];
  pmr_ctx *ctx = NULL;
  if (pmr_ctx_create(MPI_COMM_WORLD, &ctx))
    MPI_Abort(MPI_COMM_WORLD, 1);
  snprintf(odir, sizeof odir, "%s/out-np%d-t%d", gdir, pmr_ctx_size(ctx),
           pmr_ctx_threads(ctx));
  if (pmr_ctx_rank(ctx) == 0)
    mkdir(odir, 0777);
  MPI_Barrier(MPI_COMM_WORLD);
  enum { D = PMR_SORT_DESC };
  static const tcase cases[] = {
      {"rand", 8, PMR_INT64, "key", PMR_SORT_KEY, 0, 0, 0, 0},
      {"rand", 8, PMR_INT64, "key_desc", PMR_SORT_KEY | D, 0, 0, 0, 0},
      {"rand", 8, PMR_INT64, "value", PMR_SORT_VALUE, 0, 0, 0, 0},
      {"rand", 8, PMR_INT64, "value_desc", PMR_SORT_VALUE | D, 0, 0, 0, 0},
      {"rand", 8, PMR_INT64, "user", 0, 1, 0, 0, 0},
      {"rand", 8, PMR_INT64, "value", PMR_SORT_VALUE, 0, 0, 1, 0},
      {"equal", 8, PMR_INT64, "key", PMR_SORT_KEY, 0, 0, 0, 0},
      {"skew", 8, PMR_INT64, "key", PMR_SORT_KEY, 0, 0, 0, 1},
      {"skew", 8, PMR_INT64, "key_desc", PMR_SORT_KEY | D, 0, 1, 0, 0},
      {"ragged", 0, PMR_BYTES, "key", PMR_SORT_KEY, 0, 0, 0, 0},
      {"ragged", 0, PMR_BYTES, "value", PMR_SORT_VALUE, 0, 0, 0, 1},
      {"ragged", 0, PMR_BYTES, "value_desc", PMR_SORT_VALUE | D, 0, 1, 0, 0},
      {"f64", 8, PMR_FLOAT64, "value", PMR_SORT_VALUE, 0, 0, 0, 0},
      {"f64", 8, PMR_FLOAT64, "value_desc", PMR_SORT_VALUE | D, 0, 0, 0, 0},
      {"fixed10", 90, PMR_BYTES, "key", PMR_SORT_KEY, 0, 0, 0, 1},
      {"tiny", 8, PMR_INT64, "key", PMR_SORT_KEY, 0, 0, 0, 1},
      {"tiny", 8, PMR_INT64, "value_desc", PMR_SORT_VALUE | D, 0, 1, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    run(ctx, &cases[i]);
  /* Misuse: not a group set, an unknown order; every rank agrees. */
  pmr_kv *h = NULL;
  CHECK_OK(ctx, pmr_kv_create(ctx, PMR_SUM_I64, &h));
  CHECK_EQ_I(pmr_kv_sort(h, PMR_SORT_KEY, NULL, NULL), PMR_EINVAL);
  pmr_kv_destroy(&h);
  CHECK_OK(ctx, pmr_kv_create_group(ctx, 8, PMR_INT64, &h));
  CHECK_EQ_I(pmr_kv_sort(h, 7, NULL, NULL), PMR_EINVAL);
  CHECK_OK(ctx, pmr_kv_sort(h, PMR_SORT_KEY, NULL, NULL)); /* empty */
  CHECK_EQ_I(pmr_kv_local_pairs(h), 0);
  pmr_kv_destroy(&h);
  pmr_ctx_destroy(&ctx);
  int rc = check_finish("test_kvsort");
  MPI_Finalize();
  return rc;
}
