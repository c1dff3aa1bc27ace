/* Pack: a set's tables -> runs per (destination rank, bucket), on the
 * producer side (Phoenix++'s hash_container::add), so that each receiving
 * thread later absorbs only its own buckets. */
#include "shuffle/shuffle.h"
#include "shuffle/wire.h"

#include <omp.h>

void pmr__runs_free(pmr__runs *r) {
  pmr__free(r->data);
  pmr__free(r->off);
  pmr__free(r->pairs);
  memset(r, 0, sizeof *r);
}

int pmr__pack(pmr_kv *kv, int B, pmr__runs *out) {
  pmr_ctx *ctx = kv->ctx;
  int P = ctx->size, nt = ctx->nthreads, T = kv->ntables;
  size_t R = (size_t)P * (size_t)B, vsize = kv->vsize;
  memset(out, 0, sizeof *out);
  out->nranks = P;
  out->nbuckets = B;
  out->vsize = vsize;
  /* Per (table, run): bytes, then write offsets; pairs per (table, run). */
  size_t cells;
  if (pmr__mul_ovf(R, (size_t)(T ? T : 1), &cells))
    return pmr__seterr(ctx, PMR_ENOMEM, "too many runs to pack");
  uint64_t *sz = pmr__calloc(cells, sizeof *sz);
  uint64_t *np = pmr__calloc(cells, sizeof *np);
  out->off = pmr__calloc(R + 1, sizeof *out->off);
  out->pairs = pmr__calloc(R, sizeof *out->pairs);
  if (!sz || !np || !out->off || !out->pairs) {
    pmr__free(sz);
    pmr__free(np);
    pmr__runs_free(out);
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory preparing the "
                                        "shuffle");
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int t = 0; t < T; t++) {
    const pmr__table *tab = &kv->tables[t];
    uint64_t *s = &sz[(size_t)t * R], *n = &np[(size_t)t * R];
    pmr__pair r;
    for (size_t pos = 0; pmr__table_next(tab, &pos, &r);) {
      size_t run = (size_t)pmr__part_rank(r.hash, P) * (size_t)B +
                   (size_t)pmr__part_bucket(r.hash, P, B);
      s[run] += pmr__wire_len(r.klen, vsize);
      n[run]++;
    }
  }
  /* Runs in (rank, bucket) order, each the tables' pieces in table order. */
  uint64_t o = 0;
  for (size_t run = 0; run < R; run++) {
    out->off[run] = o;
    for (int t = 0; t < T; t++) {
      uint64_t b = sz[(size_t)t * R + run];
      sz[(size_t)t * R + run] = o;
      o += b;
      out->pairs[run] += np[(size_t)t * R + run];
    }
  }
  out->off[R] = o;
  pmr__free(np);
  if (o > SIZE_MAX || !(out->data = pmr__malloc((size_t)o))) {
    pmr__free(sz);
    pmr__runs_free(out);
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory packing %llu bytes "
                                        "for the shuffle",
                       (unsigned long long)o);
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int t = 0; t < T; t++) {
    pmr__table *tab = &kv->tables[t];
    uint64_t *w = &sz[(size_t)t * R];
    pmr__pair r;
    for (size_t pos = 0; pmr__table_next(tab, &pos, &r);) {
      size_t run = (size_t)pmr__part_rank(r.hash, P) * (size_t)B +
                   (size_t)pmr__part_bucket(r.hash, P, B);
      w[run] += pmr__wire_put(out->data + w[run], r.key, r.klen, r.value,
                              vsize);
    }
    pmr__table_free(tab); /* free as we go: bounds the peak */
  }
  pmr__free(sz);
  return PMR_OK;
}
