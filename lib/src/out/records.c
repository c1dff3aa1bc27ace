/* Raw records by MPI-IO: each pair as its key bytes then its value bytes,
 * no framing, each rank its part of one file in the order its pairs are
 * visited, in rounds whose buffers stay within the memory budget. With a
 * globally sorted group set (pmr_kv_sort) the file is globally sorted: a
 * TeraSort output. A rank's part is contiguous (rank 0's pairs, then rank
 * 1's, ...), so each rank first counts its bytes (a pass over its pairs
 * that copies nothing) and takes the exscan of the counts as its offset. */
#define _GNU_SOURCE
#include "kv/group.h"
#include "out/out.h"

#include <limits.h>

/* Where the pairs come from: a hash set's iterator, or a group set's walk
 * (which holds on to its last pair across rounds). */
typedef struct pmr__rsrc {
  pmr__kv_iter it;
  pmr__gwalk *walk;
  bool have; /* walk: a pair read that did not fit the last round */
  const unsigned char *key, *val;
  size_t klen, vlen;
  bool done;
} pmr__rsrc;

/* The next pair: 1, 0 at the end, or minus a code (message set). */
static int pmr__rsrc_next(pmr__rsrc *s) {
  if (s->walk) {
    if (s->have)
      return 1;
    bool newkey;
    int r = pmr__gwalk_pair(s->walk, &s->key, &s->klen, &s->val, &s->vlen,
                            &newkey);
    s->have = r > 0;
    return r;
  }
  pmr__kv_iter save = s->it;
  pmr__pair p;
  if (!pmr__kv_next(&s->it, &p))
    return 0;
  s->it = save; /* taken for good by pmr__rsrc_take */
  s->key = p.key;
  s->klen = p.klen;
  s->val = p.value;
  s->vlen = s->it.kv->vsize;
  return 1;
}

static void pmr__rsrc_take(pmr__rsrc *s) {
  if (s->walk) {
    s->have = false;
  } else {
    pmr__pair p;
    pmr__kv_next(&s->it, &p);
  }
}

/* Bytes of this rank's records: *bytes. PMR_OK or an error (message set). */
static int pmr__records_bytes(pmr_kv *kv, uint64_t *bytes) {
  *bytes = 0;
  if (kv->kind != PMR__GROUP) {
    pmr__kv_iter it = {.kv = kv};
    pmr__pair p;
    while (pmr__kv_next(&it, &p))
      *bytes += p.klen + kv->vsize;
    return PMR_OK;
  }
  pmr__gwalk *w = NULL;
  int rc = pmr__gwalk_open(kv, 0, kv->nsorters, &w);
  const unsigned char *key, *val;
  size_t klen, vlen;
  bool newkey;
  int r;
  while (!rc && (r = pmr__gwalk_pair(w, &key, &klen, &val, &vlen, &newkey)))
    if (r < 0)
      rc = -r;
    else
      *bytes += klen + vlen;
  pmr__gwalk_close(&w);
  return rc;
}

/* Pairs into b until `limit` bytes (at least one pair, of any size). */
static int pmr__records_fill(pmr__rsrc *s, pmr__buf *b, size_t limit) {
  b->len = 0;
  while (!s->done) {
    int r = pmr__rsrc_next(s);
    if (r < 0)
      return -r;
    if (r == 0) {
      s->done = true;
      break;
    }
    size_t need;
    if (pmr__add_ovf(s->klen, s->vlen, &need))
      return PMR_ENOMEM;
    if (b->len > 0 && b->len + need > limit)
      break;
    if (pmr__buf_reserve(b, need))
      return PMR_ENOMEM;
    memcpy(b->p + b->len, s->key, s->klen);
    if (s->vlen)
      memcpy(b->p + b->len + s->klen, s->val, s->vlen);
    b->len += need;
    pmr__rsrc_take(s);
  }
  return PMR_OK;
}

int pmr_kv_write_records(pmr_kv *kv, const char *path) {
  if (!kv)
    return PMR_EINVAL;
  pmr_ctx *ctx = kv->ctx;
  int rc = pmr__agree_arg(ctx, !path, "pmr_kv_write_records: no path");
  if (!rc)
    rc = pmr__agree_arg(ctx, kv->kind == PMR__DENSE,
                        "pmr_kv_write_records: a dense set has no records "
                        "(use pmr_kv_write_h5 or pmr_kv_write_text)");
  if (!rc)
    rc = pmr__agree(ctx,
                    pmr__kv_check(kv, PMR__READABLE, "pmr_kv_write_records"));
  if (rc)
    return rc;
  double t0 = pmr__now();
  pmr__rsrc src = {.it = {.kv = kv}};
  uint64_t mine = 0, at = 0;
  int lrc = pmr__records_bytes(kv, &mine);
  if (!lrc && kv->kind == PMR__GROUP)
    lrc = pmr__gwalk_open(kv, 0, kv->nsorters, &src.walk);
  rc = pmr__agree(ctx, lrc);
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Exscan(&mine, &at, 1, MPI_UINT64_T, MPI_SUM,
                                   ctx->comm),
                        "MPI_Exscan while writing records");
  if (ctx->rank == 0)
    at = 0;
  if (rc) {
    pmr__gwalk_close(&src.walk);
    return rc;
  }
  char *tmp = NULL;
  rc = pmr__out_begin(ctx, path, false, &tmp);
  if (rc) {
    pmr__gwalk_close(&src.walk);
    return rc;
  }
  MPI_File fh;
  int mrc = MPI_File_open(ctx->comm, tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY,
                          MPI_INFO_NULL, &fh);
  if (mrc != MPI_SUCCESS)
    pmr__mpierr(ctx, mrc, "cannot create the records output");
  rc = pmr__agree(ctx, mrc == MPI_SUCCESS ? PMR_OK : PMR_EIO);
  if (rc) {
    pmr__gwalk_close(&src.walk);
    return pmr__out_finish(ctx, rc, path, &tmp);
  }
  pmr__buf b = {0};
  size_t limit = ctx->memory / 4 < PMR__OUT_PIECE ? ctx->memory / 4
                                                  : PMR__OUT_PIECE;
  for (;;) {
    int more = !src.done, any = 0;
    rc = pmr__agree_mpi(ctx,
                        MPI_Allreduce(&more, &any, 1, MPI_INT, MPI_MAX,
                                      ctx->comm),
                        "MPI_Allreduce while writing records");
    if (rc || !any)
      break;
    lrc = pmr__records_fill(&src, &b, limit);
    if (lrc == PMR_ENOMEM)
      pmr__seterr(ctx, lrc, "out of memory writing '%s'", path);
    if (!lrc && b.len > mine)
      lrc = pmr__seterr(ctx, PMR_EINVAL,
                        "writing '%s': the set changed while it was written",
                        path);
    rc = pmr__agree(ctx, lrc);
    if (rc)
      break;
    rc = pmr__out_write_at(ctx, fh, at, b.p, b.len, path);
    at += b.len;
    mine -= b.len;
  }
  pmr__buf_free(&b);
  pmr__gwalk_close(&src.walk);
  if (MPI_File_close(&fh) != MPI_SUCCESS && !rc)
    rc = pmr__seterr(ctx, PMR_EIO, "cannot close '%s'", path);
  rc = pmr__out_finish(ctx, rc, path, &tmp);
  ctx->stats.seconds[PMR_PHASE_WRITE] += pmr__now() - t0;
  return rc;
}
