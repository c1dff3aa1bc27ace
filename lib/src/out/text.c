/* Text output by MPI-IO: "key<TAB>value" lines, each rank its part of one
 * file, in batches bounded by the memory budget. A batch is written in
 * pieces of at most 1 GiB, so a record of any size (a key over 2 GiB) fits
 * MPI's int counts; every write's byte count is checked. */
#define _GNU_SOURCE
#include "kv/dense.h"
#include "out/out.h"

#include <limits.h>
#include <stdio.h>

#define PMR__TEXT_PIECE ((size_t)1 << 30)

static size_t pmr__fmt_i64(char *p, int64_t v) {
  char tmp[24];
  size_t n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t k = 0;
  if (v < 0)
    p[k++] = '-';
  while (n)
    p[k++] = tmp[--n];
  return k;
}

/* Format one value of the set's type at p; returns bytes. */
static size_t pmr__fmt_value(const pmr_kv *kv, char *p, const unsigned char *v,
                             size_t vsize) {
  if (kv->dtype == PMR_INT64) {
    int64_t x;
    memcpy(&x, v, 8);
    return pmr__fmt_i64(p, x);
  }
  if (kv->dtype == PMR_FLOAT64) {
    double x;
    memcpy(&x, v, 8);
    return (size_t)snprintf(p, 32, "%.17g", x);
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < vsize; i++) {
    p[2 * i] = hex[v[i] >> 4];
    p[2 * i + 1] = hex[v[i] & 15];
  }
  return 2 * vsize;
}

/* Format pairs into buf until `limit` bytes (at least one pair). */
static int pmr__text_fill(pmr__kv_iter *c, pmr__buf *b, size_t limit) {
  const pmr_kv *kv = c->kv;
  bool dense = kv->kind == PMR__DENSE;
  /* dense: width 8-byte values (or one user value); hash: one value */
  size_t nval = dense && kv->dtype != PMR_BYTES ? kv->vsize / 8 : 1;
  size_t vs = kv->vsize / nval;
  b->len = 0;
  for (;;) {
    pmr__kv_iter save = *c;
    pmr__pair r;
    if (!pmr__kv_next(c, &r))
      break;
    size_t per = kv->dtype == PMR_BYTES ? 2 * vs + 1 : 33, need;
    size_t klen = dense ? 21 : r.klen;
    if (pmr__mul_ovf(per, nval, &need) || pmr__add_ovf(need, klen + 2, &need))
      return PMR_ENOMEM;
    if (b->len > 0 && b->len + need > limit) {
      *c = save;
      break;
    }
    if (pmr__buf_reserve(b, need))
      return PMR_ENOMEM;
    char *p = (char *)b->p + b->len;
    if (dense) {
      uint64_t cell;
      memcpy(&cell, r.key, 8);
      p += pmr__fmt_i64(p, (int64_t)cell);
    } else {
      memcpy(p, r.key, r.klen);
      p += r.klen;
    }
    for (size_t i = 0; i < nval; i++) {
      *p++ = '\t';
      p += pmr__fmt_value(kv, p, r.value + i * vs, vs);
    }
    *p++ = '\n';
    b->len = (size_t)(p - (char *)b->p);
  }
  return PMR_OK;
}

/* Collective: write this rank's `n` bytes at `at`, in pieces that every rank
 * takes part in. */
static int pmr__text_write(pmr_ctx *ctx, MPI_File fh, uint64_t at,
                           const unsigned char *buf, size_t n,
                           const char *path) {
  uint64_t mine = (n + PMR__TEXT_PIECE - 1) / PMR__TEXT_PIECE, pieces = 0;
  int rc = pmr__agree_mpi(ctx,
                          MPI_Allreduce(&mine, &pieces, 1, MPI_UINT64_T,
                                        MPI_MAX, ctx->comm),
                          "MPI_Allreduce while writing text");
  for (uint64_t k = 0; !rc && k < pieces; k++) {
    size_t off = (size_t)k * PMR__TEXT_PIECE;
    size_t len = off < n ? (n - off < PMR__TEXT_PIECE ? n - off
                                                      : PMR__TEXT_PIECE)
                         : 0;
    MPI_Status st;
    int mrc = MPI_File_write_at_all(fh, (MPI_Offset)(at + off),
                                    len ? buf + off : buf, (int)len,
                                    MPI_BYTE, &st);
    int lrc = PMR_OK;
    if (mrc != MPI_SUCCESS) {
      lrc = pmr__mpierr(ctx, mrc, "cannot write text output");
    } else {
      int got = 0;
      MPI_Get_count(&st, MPI_BYTE, &got);
      if (got != (int)len)
        lrc = pmr__seterr(ctx, PMR_EIO,
                          "cannot write '%s': %d of %zu bytes written", path,
                          got, len);
    }
    rc = pmr__agree(ctx, lrc ? PMR_EIO : PMR_OK);
  }
  return rc;
}

int pmr_kv_write_text(pmr_kv *kv, const char *path) {
  if (!kv)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  int rc = pmr__agree_arg(ctx, !path, "pmr_kv_write_text: no path");
  if (!rc)
    rc = pmr__agree_arg(ctx, kv->kind == PMR__GROUP,
                        "pmr_kv_write_text: group sets are written with "
                        "pmr_kv_write_h5");
  if (!rc)
    rc = pmr__agree(ctx,
                    pmr__kv_check(kv, PMR__READABLE, "pmr_kv_write_text"));
  if (rc)
    return rc;
  double t0 = pmr__now();
  char *tmp = NULL;
  rc = pmr__out_begin(ctx, path, &tmp);
  if (rc)
    return rc;
  MPI_File fh;
  int mrc = MPI_File_open(ctx->comm, tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY,
                          MPI_INFO_NULL, &fh);
  if (mrc != MPI_SUCCESS)
    pmr__mpierr(ctx, mrc, "cannot create text output");
  rc = pmr__agree(ctx, mrc == MPI_SUCCESS ? PMR_OK : PMR_EIO);
  if (rc)
    return pmr__out_finish(ctx, rc, path, &tmp);
  pmr__kv_iter cur = {.kv = kv};
  /* A dense result held by every rank is written once, by rank 0. */
  if (kv->kind == PMR__DENSE && pmr__dense_holder(kv) < 0 && ctx->rank != 0)
    cur.pos = SIZE_MAX;
  pmr__buf b = {0};
  uint64_t base = 0;
  size_t limit = ctx->memory / 4 < PMR__TEXT_PIECE ? ctx->memory / 4
                                                   : PMR__TEXT_PIECE;
  int more = 1;
  while (!rc) {
    rc = pmr__any_left(ctx, &cur, &more);
    if (rc || !more)
      break;
    int lrc = pmr__text_fill(&cur, &b, limit);
    if (lrc)
      pmr__seterr(ctx, lrc, "out of memory writing '%s'", path);
    rc = pmr__agree(ctx, lrc);
    if (rc)
      break;
    uint64_t n = b.len, before = 0, sum = 0;
    mrc = MPI_Exscan(&n, &before, 1, MPI_UINT64_T, MPI_SUM, ctx->comm);
    if (mrc == MPI_SUCCESS)
      mrc = MPI_Allreduce(&n, &sum, 1, MPI_UINT64_T, MPI_SUM, ctx->comm);
    rc = pmr__agree_mpi(ctx, mrc, "MPI_Exscan while writing text");
    if (rc)
      break;
    if (ctx->rank == 0)
      before = 0;
    rc = pmr__text_write(ctx, fh, base + before, b.p, b.len, path);
    base += sum;
  }
  pmr__buf_free(&b);
  if (MPI_File_close(&fh) != MPI_SUCCESS && !rc)
    rc = pmr__seterr(ctx, PMR_EIO, "cannot close '%s'", path);
  rc = pmr__out_finish(ctx, rc, path, &tmp);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return rc;
}
