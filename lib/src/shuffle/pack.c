/* Pack: a set's tables -> runs per (destination rank, bucket), on the
 * producer side (Phoenix++'s hash_container::add), so that each receiving
 * thread later absorbs only its own buckets. */
#include "shuffle/shuffle.h"
#include "shuffle/wire.h"
#include "spill/spill.h"

#include <omp.h>

/* Where the stream to one destination has been read up to: bucket b,
 * spill run i, bytes into that piece. */
struct pmr__runs_cur {
  int b, i;
  uint64_t in;
};

void pmr__runs_free(pmr__runs *r) {
  pmr__free(r->data);
  pmr__free(r->off);
  pmr__free(r->pairs);
  pmr__free(r->soff);
  pmr__free(r->cur);
  memset(r, 0, sizeof *r);
}

int pmr__runs_read(const pmr__runs *r, int d, uint64_t at, unsigned char *dst,
                   size_t n) {
  int B = r->nbuckets;
  if (!r->nspill) {
    memcpy(dst, r->data + r->off[(size_t)d * B] + at, n);
    return PMR_OK;
  }
  size_t R = (size_t)r->nranks * (size_t)B;
  struct pmr__runs_cur *c = &r->cur[d];
  while (n) {
    if (c->b >= B)
      return pmr__spill_seterr(r->spill[0].f->ctx, PMR_EIO,
                               "shuffle: read past a spilled stream");
    size_t run = (size_t)d * B + (size_t)c->b;
    const uint64_t *so = &r->soff[(size_t)c->i * (R + 1)];
    uint64_t len = so[run + 1] - so[run], left = len - c->in;
    size_t k = left < n ? (size_t)left : n;
    if (k) {
      int rc = pmr__spill_pread(r->spill[c->i].f, dst, k,
                                r->spill[c->i].off + so[run] + c->in);
      if (rc)
        return rc;
      dst += k;
      n -= k;
      c->in += k;
    }
    if (c->in == len) {
      c->in = 0;
      if (++c->i == r->nspill) {
        c->i = 0;
        c->b++;
      }
    }
  }
  return PMR_OK;
}

/* Spilled runs: where each (destination, bucket) begins in each, found by
 * reading them once (each is sorted by the hash's top bits, which order
 * destinations and buckets for any counts). */
static int pmr__pack_spilled(pmr_kv *kv, int B, pmr__runs *out) {
  pmr_ctx *ctx = kv->ctx;
  int P = ctx->size, nt = ctx->nthreads, n = 0, status = PMR_OK;
  size_t R = (size_t)P * (size_t)B;
  /* What is still in the tables goes to the files too. */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int t = 0; t < kv->ntables; t++) {
    int st = pmr__kv_spill_map(kv, t);
    pmr__table_free(&kv->tables[t]);
    if (st) {
#pragma omp atomic write
      status = st;
    }
  }
  if (status)
    return status;
  const pmr__spill_run *sp = pmr__kv_map_runs(kv, &n);
  if (!sp)
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory listing spill runs");
  out->spill = sp;
  out->nspill = n;
  uint64_t *np = pmr__calloc((size_t)n * R, sizeof *np);
  out->soff = pmr__calloc((size_t)n * (R + 1), sizeof *out->soff);
  out->cur = pmr__calloc((size_t)P, sizeof *out->cur);
  out->off = pmr__calloc(R + 1, sizeof *out->off);
  out->pairs = pmr__calloc(R, sizeof *out->pairs);
  if (!np || !out->soff || !out->cur || !out->off || !out->pairs) {
    pmr__free(np);
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory preparing the "
                                        "shuffle");
  }
  size_t bufsize = ctx->memory / 16 / (size_t)nt;
  if (bufsize > ((size_t)1 << 20))
    bufsize = (size_t)1 << 20;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int i = 0; i < n; i++) {
    uint64_t *so = &out->soff[(size_t)i * (R + 1)], *cnt = &np[(size_t)i * R];
    pmr__spill_reader rd;
    pmr__spill_rec r;
    int st = pmr__spill_reader_init(&rd, &sp[i], out->vsize, bufsize), k = 0;
    size_t last = 0;
    while (!st && (k = pmr__spill_reader_next(&rd, &r)) == 1) {
      uint64_t h = pmr__hash(r.key, r.klen);
      size_t run = (size_t)pmr__part_rank(h, P) * (size_t)B +
                   (size_t)pmr__part_bucket(h, P, B);
      if (run < last) {
        st = pmr__spill_seterr(ctx, PMR_EIO, "spill file in '%s': pairs "
                                             "out of order",
                               ctx->tmpdir);
        break;
      }
      last = run;
      so[run + 1] += pmr__wire_len(r.klen, out->vsize);
      cnt[run]++;
    }
    if (!st && k < 0)
      st = -k;
    pmr__spill_reader_free(&rd);
    for (size_t j = 0; j < R; j++)
      so[j + 1] += so[j];
    if (st) {
#pragma omp atomic write
      status = st;
    }
  }
  uint64_t o = 0;
  for (size_t run = 0; run < R; run++) {
    out->off[run] = o;
    for (int i = 0; i < n; i++) {
      const uint64_t *so = &out->soff[(size_t)i * (R + 1)];
      o += so[run + 1] - so[run];
      out->pairs[run] += np[(size_t)i * R + run];
    }
  }
  out->off[R] = o;
  pmr__free(np);
  return status;
}

int pmr__pack(pmr_kv *kv, int B, pmr__runs *out) {
  pmr_ctx *ctx = kv->ctx;
  int P = ctx->size, nt = ctx->nthreads, T = kv->ntables;
  size_t R = (size_t)P * (size_t)B, vsize = kv->vsize;
  memset(out, 0, sizeof *out);
  out->nranks = P;
  out->nbuckets = B;
  out->vsize = vsize;
  if (pmr__kv_map_spilled(kv)) {
    int rc = pmr__pack_spilled(kv, B, out);
    if (rc)
      pmr__runs_free(out);
    return rc;
  }
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
