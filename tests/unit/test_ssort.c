/* The sample sort's pieces on plain arrays of pairs (sort/samplesort.h):
 * every scenario sorts each rank's pairs into per-thread buckets through
 * the exchange; rank 0 checks the concatenation (rank by rank, thread by
 * thread) against every input pair sorted by qsort with this file's own
 * comparators, and every rank's share against N / P (printed). Scenarios:
 * random keys, one key for all pairs, one key for half of them, all data on
 * one rank, fixed 10-byte keys (radix), ragged values in value order,
 * int64 values descending, a user order, and collectives in small pieces.
 * Also the radix sort against the merge sort. */
#include "check.h"
#include "sort/samplesort.h"
#include "shuffle/wire.h"

#include <omp.h>
#include <stdlib.h>

extern size_t pmr__ssort_chunk;

typedef struct tpair {
  unsigned char *k, *v;
  size_t kl, vl;
} tpair;

/* ---- the test's own orders, on decoded pairs ---- */
enum { O_KEY, O_KEY_DESC, O_VAL_BYTES, O_VAL_I64_DESC, O_USER };
static int g_order;

static int bytes_cmp(const unsigned char *a, size_t an, const unsigned char *b,
                     size_t bn) {
  for (size_t i = 0; i < an && i < bn; i++)
    if (a[i] != b[i])
      return a[i] < b[i] ? -1 : 1;
  return an < bn ? -1 : an > bn;
}
static int t_cmp(const tpair *a, const tpair *b) {
  int c;
  switch (g_order) {
  case O_KEY:
    c = bytes_cmp(a->k, a->kl, b->k, b->kl);
    return c ? c : bytes_cmp(a->v, a->vl, b->v, b->vl);
  case O_KEY_DESC:
    c = bytes_cmp(b->k, b->kl, a->k, a->kl);
    return c ? c : bytes_cmp(b->v, b->vl, a->v, a->vl);
  case O_VAL_BYTES:
    c = bytes_cmp(a->v, a->vl, b->v, b->vl);
    return c ? c : bytes_cmp(a->k, a->kl, b->k, b->kl);
  case O_VAL_I64_DESC: {
    int64_t x, y;
    memcpy(&x, a->v, 8);
    memcpy(&y, b->v, 8);
    if (x != y)
      return x > y ? -1 : 1;
    return -bytes_cmp(a->k, a->kl, b->k, b->kl);
  }
  default: /* user: shorter keys first, then keys read backwards, values */
    if (a->kl != b->kl)
      return a->kl < b->kl ? -1 : 1;
    for (size_t i = a->kl; i-- > 0;)
      if (a->k[i] != b->k[i])
        return a->k[i] < b->k[i] ? -1 : 1;
    return bytes_cmp(a->v, a->vl, b->v, b->vl);
  }
}
static int q_cmp(const void *a, const void *b) { return t_cmp(a, b); }

static int u_cmp(const void *ak, size_t al, const void *av, size_t avl,
                 const void *bk, size_t bl, const void *bv, size_t bvl,
                 void *user) {
  (void)user;
  tpair a = {(unsigned char *)ak, (unsigned char *)av, al, avl};
  tpair b = {(unsigned char *)bk, (unsigned char *)bv, bl, bvl};
  int save = g_order, c;
  g_order = O_USER;
  c = t_cmp(&a, &b);
  g_order = save;
  return c;
}

/* ---- data ---- */
typedef struct scen {
  const char *name;
  int order;
  size_t vsize; /* 0: ragged */
  int kind;     /* 0 random, 1 one key, 2 half one key, 3 fixed 10 bytes */
  int only_rank0;
  size_t chunk; /* 0: default */
} scen;

static uint64_t rng(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* This rank's input pairs in the wire format. */
static void make(const scen *sc, int rank, uint64_t n, pmr__buf *out) {
  uint64_t s = 12345 + 7919 * (uint64_t)rank + (uint64_t)sc->kind * 31;
  unsigned char k[32], v[128];
  for (uint64_t i = 0; i < n; i++) {
    size_t kl, vl = sc->vsize ? sc->vsize : (size_t)(rng(&s) % 20);
    switch (sc->kind) {
    case 1:
      memcpy(k, "same", kl = 4);
      break;
    case 2:
      if (rng(&s) % 2) {
        memcpy(k, "hot", kl = 3);
        break;
      }
      /* fall through */
    case 0:
      kl = 1 + rng(&s) % 12;
      for (size_t j = 0; j < kl; j++)
        k[j] = (unsigned char)("abcdefgh"[rng(&s) % 8]);
      break;
    default:
      kl = 10;
      for (size_t j = 0; j < kl; j++)
        k[j] = (unsigned char)rng(&s);
    }
    for (size_t j = 0; j < vl; j++)
      v[j] = (unsigned char)(sc->kind == 1 && sc->vsize ? 0 : rng(&s) % 4);
    if (sc->order == O_VAL_I64_DESC) {
      int64_t x = (int64_t)(rng(&s) % 1000) - 500;
      memcpy(v, &x, 8);
    }
    pmr__buf_reserve(out, 256);
    out->len += pmr__wire_put_v(out->p + out->len, k, kl, v, sc->vsize, vl);
  }
}

static tpair *decode(const unsigned char *p, size_t len, size_t vsize,
                     size_t *n) {
  size_t cap = 1024, m = 0, o = 0, used;
  tpair *a = malloc(cap * sizeof *a);
  const unsigned char *k, *v;
  size_t kl, vl;
  while (o < len &&
         (used = pmr__wire_get_v(p + o, p + len, vsize, &k, &kl, &v, &vl))) {
    if (m == cap)
      a = realloc(a, (cap *= 2) * sizeof *a);
    a[m++] = (tpair){(unsigned char *)k, (unsigned char *)v, kl, vl};
    o += used;
  }
  *n = m;
  return a;
}

/* ---- the sinks: each thread collects its bucket's bytes ---- */
typedef struct sinkst {
  pmr__buf *b;
} sinkst;
static int sink(void *user, int t, const pmr__seg *segs, int P) {
  sinkst *s = user;
  for (int r = 0; r < P; r++)
    if (segs[r].n && pmr__buf_put(&s->b[t], segs[r].p, segs[r].n))
      return PMR_ENOMEM;
  return PMR_OK;
}

static void gather_bytes(const unsigned char *p, size_t n, unsigned char **all,
                         size_t *alln) {
  int P, rank;
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int mine = (int)n, *c = calloc((size_t)P, sizeof *c),
      *d = calloc((size_t)P, sizeof *d);
  MPI_Gather(&mine, 1, MPI_INT, c, 1, MPI_INT, 0, MPI_COMM_WORLD);
  size_t tot = 0;
  for (int r = 0; r < P; r++) {
    d[r] = (int)tot;
    tot += (size_t)c[r];
  }
  *all = malloc(tot ? tot : 1);
  *alln = tot;
  MPI_Gatherv(p, mine, MPI_BYTE, *all, c, d, MPI_BYTE, 0, MPI_COMM_WORLD);
  free(c);
  free(d);
}

static void run(pmr_ctx *ctx, const scen *sc, uint64_t per_rank) {
  int rank = pmr_ctx_rank(ctx), P = pmr_ctx_size(ctx);
  int nt = pmr_ctx_threads(ctx);
  uint64_t n = sc->only_rank0 ? (rank == 0 ? per_rank * (uint64_t)P : 0)
                              : per_rank;
  pmr__buf in = {0};
  make(sc, rank, n, &in);
  pmr__rec *a = malloc((n ? n : 1) * sizeof *a);
  size_t o = 0;
  for (uint64_t i = 0; i < n; i++)
    o += pmr__wire_get_v(in.p + o, in.p + in.len, sc->vsize, &a[i].key,
                         &a[i].klen, &a[i].val, &a[i].vlen);
  g_order = sc->order;
  pmr_dtype dt = sc->order == O_VAL_I64_DESC ? PMR_INT64 : PMR_BYTES;
  pmr__order_user ou = {u_cmp, NULL};
  pmr__sord ord = {pmr__ord_key, NULL, true};
  if (sc->order == O_KEY_DESC)
    ord = (pmr__sord){pmr__ord_key_desc, NULL, false};
  else if (sc->order == O_VAL_BYTES)
    ord = (pmr__sord){pmr__ord_value, &dt, false};
  else if (sc->order == O_VAL_I64_DESC)
    ord = (pmr__sord){pmr__ord_value_desc, &dt, false};
  else if (sc->order == O_USER)
    ord = (pmr__sord){pmr__ord_user, &ou, false};
  size_t save = pmr__ssort_chunk;
  if (sc->chunk)
    pmr__ssort_chunk = sc->chunk;
  pmr__buf *b = calloc((size_t)nt, sizeof *b);
  sinkst st = {b};
  CHECK_OK(ctx, pmr__ssort(ctx, a, n, sc->vsize, &ord, nt, sink, &st));
  pmr__ssort_chunk = save;
  /* Each thread's bucket sorted as the sorter would; then the rank's
   * output is the threads' buckets in order. */
  pmr__buf mine = {0};
  uint64_t got = 0;
  for (int t = 0; t < nt; t++) {
    size_t m;
    tpair *tp = decode(b[t].p, b[t].len, sc->vsize, &m);
    qsort(tp, m, sizeof *tp, q_cmp);
    for (size_t i = 0; i < m; i++) {
      pmr__buf_reserve(&mine, 64 + tp[i].kl + tp[i].vl);
      mine.len += pmr__wire_put_v(mine.p + mine.len, tp[i].k, tp[i].kl,
                                  tp[i].v, sc->vsize, tp[i].vl);
    }
    got += m;
    free(tp);
    pmr__buf_free(&b[t]);
  }
  free(b);
  /* Balance: every rank within 5% of N / P (+ 8 pairs). */
  uint64_t N = 0, lo = 0, hi = 0;
  MPI_Allreduce(&n, &N, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&got, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&got, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  double ideal = N ? (double)N / P : 1.0;
  if (rank == 0)
    printf("%-22s P=%d t=%d N=%llu per rank min %llu max %llu "
           "(%.2f%% .. %+.2f%% of N/P)\n",
           sc->name, P, nt, (unsigned long long)N, (unsigned long long)lo,
           (unsigned long long)hi, 100.0 * ((double)lo - ideal) / ideal,
           100.0 * ((double)hi - ideal) / ideal);
  CHECK((double)lo >= 0.95 * ideal - 8 && (double)hi <= 1.05 * ideal + 8);
  /* Golden: all inputs sorted by qsort, against the concatenation. */
  unsigned char *ai, *ao;
  size_t ain, aon;
  gather_bytes(in.p, in.len, &ai, &ain);
  gather_bytes(mine.p, mine.len, &ao, &aon);
  if (rank == 0) {
    size_t ni, no;
    tpair *ti = decode(ai, ain, sc->vsize, &ni);
    tpair *to = decode(ao, aon, sc->vsize, &no);
    qsort(ti, ni, sizeof *ti, q_cmp);
    CHECK_EQ_I(ni, no);
    size_t bad = 0;
    for (size_t i = 0; i < ni && i < no; i++)
      if (ti[i].kl != to[i].kl || ti[i].vl != to[i].vl ||
          memcmp(ti[i].k, to[i].k, ti[i].kl) ||
          memcmp(ti[i].v, to[i].v, ti[i].vl))
        bad++;
    if (bad)
      fprintf(stderr, "%s: %zu pairs out of place\n", sc->name, bad);
    CHECK(bad == 0);
    free(ti);
    free(to);
  }
  free(ai);
  free(ao);
  pmr__buf_free(&mine);
  pmr__buf_free(&in);
  free(a);
}

/* The radix sort gives exactly the merge sort's result. */
static void radix_vs_merge(void) {
  size_t n = 50000;
  scen sc = {"radix", O_KEY, 8, 3, 0, 0};
  pmr__buf in = {0};
  make(&sc, 0, n, &in);
  /* Many equal keys too, so ties go by value. */
  pmr__rec *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    o += pmr__wire_get_v(in.p + o, in.p + in.len, 8, &a[i].key, &a[i].klen,
                         &a[i].val, &a[i].vlen);
    if (i % 3 == 0 && i)
      a[i].key = a[i - 1].key;
  }
  memcpy(b, a, n * sizeof *a);
  CHECK_EQ_I(pmr__radix_width(a, n), 10);
  CHECK_EQ_I(pmr__radix_recs(a, n, 10, pmr__ord_key, NULL), 0);
  CHECK_EQ_I(pmr__recs_sort(b, n, pmr__ord_key, NULL, false, 2), 0);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++)
    if (a[i].key != b[i].key || a[i].val != b[i].val)
      bad += pmr__ord_key(&a[i], &b[i], NULL) != 0;
  CHECK(bad == 0);
  /* Keys of many lengths (with shared prefixes): the prefix radix sort. */
  scen sv = {"radix", O_KEY, 0, 2, 0, 0};
  pmr__buf in2 = {0};
  make(&sv, 1, n, &in2);
  o = 0;
  for (size_t i = 0; i < n; i++)
    o += pmr__wire_get_v(in2.p + o, in2.p + in2.len, 0, &a[i].key,
                         &a[i].klen, &a[i].val, &a[i].vlen);
  memcpy(b, a, n * sizeof *a);
  CHECK_EQ_I(pmr__radix_recs_pfx(a, n, pmr__ord_key, NULL), 0);
  CHECK_EQ_I(pmr__recs_sort(b, n, pmr__ord_key, NULL, false, 1), 0);
  bad = 0;
  for (size_t i = 0; i < n; i++)
    bad += pmr__ord_key(&a[i], &b[i], NULL) != 0;
  CHECK(bad == 0);
  pmr__buf_free(&in2);
  free(a);
  free(b);
  pmr__buf_free(&in);
}


/* The sorter's radix path gives the merge sort's sequence. */
static void sorter_radix(pmr_ctx *ctx) {
  pmr__sorter *s[2] = {NULL, NULL};
  uint64_t st = 99;
  for (int k = 0; k < 2; k++)
    CHECK_OK(ctx, pmr__sorter_create(ctx, PMR__RAGGED, NULL, NULL,
                                     (size_t)1 << 30, &s[k]));
  for (int i = 0; i < 30000; i++) {
    unsigned char key[10], v[3];
    for (int j = 0; j < 10; j++)
      key[j] = (unsigned char)(j < 7 ? 'a' : rng(&st) % 4);
    for (int j = 0; j < 3; j++)
      v[j] = (unsigned char)rng(&st);
    size_t vl = rng(&st) % 4;
    for (int k = 0; k < 2; k++)
      CHECK_OK(ctx, pmr__sorter_add(s[k], key, 10, v, vl));
  }
  CHECK_OK(ctx, pmr__sorter_finish(s[0]));
  pmr__radix_off = 1;
  CHECK_OK(ctx, pmr__sorter_finish(s[1]));
  pmr__radix_off = 0;
  pmr__reader *rd[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++)
    CHECK_OK(ctx, pmr__reader_open(s[k], &rd[k]));
  pmr__rec a, b;
  size_t n = 0, bad = 0;
  while (rd[0] && rd[1] && pmr__reader_next(rd[0], &a) == 1 &&
         pmr__reader_next(rd[1], &b) == 1) {
    n++;
    bad += a.klen != b.klen || a.vlen != b.vlen ||
           memcmp(a.key, b.key, a.klen) || memcmp(a.val, b.val, a.vlen);
  }
  CHECK_EQ_I(n, 30000);
  CHECK_EQ_I(bad, 0);
  for (int k = 0; k < 2; k++) {
    pmr__reader_close(&rd[k]);
    pmr__sorter_free(&s[k]);
  }
}

int main(int argc, char **argv) {
  int prov;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
  pmr_ctx *ctx = NULL;
  if (pmr_ctx_create(MPI_COMM_WORLD, &ctx)) {
    fprintf(stderr, "pmr_ctx_create failed\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (pmr_ctx_rank(ctx) == 0) {
    radix_vs_merge();
    sorter_radix(ctx);
  }
  static const scen sc[] = {
      {"random keys", O_KEY, 8, 0, 0, 0},
      {"one key, equal pairs", O_KEY, 8, 1, 0, 0},
      {"half one key", O_KEY, 8, 2, 0, 0},
      {"all on rank 0", O_KEY, 8, 2, 1, 0},
      {"fixed 10-byte keys", O_KEY, 90, 3, 0, 0},
      {"descending", O_KEY_DESC, 8, 0, 0, 0},
      {"ragged, value order", O_VAL_BYTES, 0, 2, 0, 0},
      {"int64 value desc", O_VAL_I64_DESC, 8, 2, 0, 0},
      {"user order", O_USER, 0, 0, 0, 0},
      {"small pieces", O_KEY, 0, 2, 0, 1000},
  };
  for (size_t i = 0; i < sizeof sc / sizeof *sc; i++)
    run(ctx, &sc[i], 20000);
  /* Tiny inputs: fewer pairs than buckets. */
  run(ctx, &sc[0], 1);
  run(ctx, &sc[2], 0);
  pmr_ctx_destroy(&ctx);
  int rc = check_finish("test_ssort");
  MPI_Finalize();
  return rc;
}
