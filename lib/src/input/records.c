/* Fixed-size binary records: numbered over all files in order (after each
 * file's header), contiguous record ranges per rank, chunks per thread,
 * read with pread. */
#define _GNU_SOURCE /* O_CLOEXEC */
#include "input/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

typedef struct pmr__recs {
  const char *const *files;
  size_t rsize, header;
} pmr__recs;

typedef struct pmr__recs_t {
  int file, fd;
  unsigned char *buf;
  size_t cap;
  uint64_t at, end; /* next record, end of the part (record numbers) */
  size_t got, used; /* records in buf, records handed out */
} pmr__recs_t;

static int pmr__recs_topen(pmr__src *s, void **ts, pmr_emitter *em) {
  (void)s;
  pmr__recs_t *t = pmr__calloc(1, sizeof *t);
  if (!t) {
    snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory for input buffers");
    return PMR_ENOMEM;
  }
  t->file = t->fd = -1;
  *ts = t;
  return PMR_OK;
}

static void pmr__recs_tclose(pmr__src *s, void *ts) {
  (void)s;
  pmr__recs_t *t = ts;
  if (!t)
    return;
  if (t->fd >= 0)
    close(t->fd);
  pmr__free(t->buf);
  pmr__free(t);
}

static int pmr__recs_open(pmr__src *s, void *ts, const pmr__part *p,
                          pmr_emitter *em) {
  pmr__recs *rs = s->impl;
  pmr__recs_t *t = ts;
  const char *name = rs->files[p->source];
  if (p->source != t->file) {
    if (t->fd >= 0)
      close(t->fd);
    t->file = p->source;
    t->fd = open(name, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0)
      return pmr__src_errno(em, pmr__errno_code(errno), "cannot open", name,
                            errno);
  }
  em->source = p->source;
  t->at = p->start;
  t->end = p->end;
  t->got = t->used = 0;
  return PMR_OK;
}

static int pmr__recs_next(pmr__src *s, void *ts, pmr__rec *r,
                          pmr_emitter *em) {
  pmr__recs *rs = s->impl;
  pmr__recs_t *t = ts;
  if (t->used == t->got) {
    if (t->at >= t->end)
      return 0;
    /* Read the rest of the part (a chunk's worth at most). */
    size_t n = (size_t)(t->end - t->at), bytes = n * rs->rsize;
    void *b = t->buf;
    if (pmr__grow_array(&b, &t->cap, bytes, 1, 4096)) {
      snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory reading '%s'",
               rs->files[t->file]);
      return -PMR_ENOMEM;
    }
    t->buf = b;
    uint64_t off = rs->header + t->at * rs->rsize;
    long long got = pmr__pread_full(t->fd, t->buf, bytes, off);
    if (got < 0)
      return -pmr__src_errno(em, PMR_EIO, "cannot read", rs->files[t->file],
                             errno);
    if ((size_t)got < bytes)
      return -pmr__src_errno(em, PMR_EIO, "cannot read", rs->files[t->file],
                             EIO);
    t->got = n;
    t->used = 0;
  }
  uint64_t i = t->at++;
  r->data = t->buf + t->used++ * rs->rsize;
  r->len = rs->rsize;
  em->record = i;
  em->offset = rs->header + i * rs->rsize;
  return 1;
}

static int pmr__recs_call(pmr__src *s, const pmr__rec *r, pmr_emitter *em) {
  return ((pmr_record_fn)s->fn)(r->data, r->len, em, s->user);
}

static void pmr__recs_where(const pmr__src *s, const pmr_emitter *em,
                            char *buf, size_t n) {
  const pmr__recs *rs = s->impl;
  snprintf(buf, n, "'%s' record %llu", rs->files[em->source],
           (unsigned long long)em->record);
}

static const pmr__src_ops pmr__recs_ops = {
    "records",      pmr__recs_topen, pmr__recs_tclose, pmr__recs_open,
    pmr__recs_next, NULL,            pmr__recs_call,   pmr__recs_where};

int pmr_map_records(pmr_ctx *ctx, const char *const *files, int nfiles,
                    size_t record_size, size_t header_bytes, pmr_record_fn fn,
                    void *user, pmr_kv *kv) {
  if (!ctx)
    return PMR_EINVAL;
  bool bad = !kv || kv->ctx != ctx || !fn || nfiles < 1 || !files ||
             record_size < 1;
  for (int i = 0; !bad && i < nfiles; i++)
    bad = !files[i];
  int rc = pmr__agree_arg(ctx, bad,
                          nfiles < 1 ? "no input files"
                                     : "pmr_map_records: invalid argument");
  if (rc)
    return rc;
  uint64_t *sizes = pmr__calloc((size_t)nfiles, sizeof *sizes);
  rc = pmr__agree(ctx, sizes ? PMR_OK
                             : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  if (!rc)
    rc = pmr__stat_files(ctx, files, nfiles, sizes);
  /* Every rank sees the same sizes: the same verdict, no agreement needed,
   * but the message must name the first bad file. */
  uint64_t total = 0;
  for (int i = 0; !rc && i < nfiles; i++) {
    if (sizes[i] < header_bytes ||
        (sizes[i] - header_bytes) % record_size != 0)
      rc = pmr__seterr(ctx, PMR_EINVAL,
                       "'%s': %llu bytes are not a %zu-byte header and "
                       "whole %zu-byte records",
                       files[i], (unsigned long long)sizes[i], header_bytes,
                       record_size);
    else
      sizes[i] = (sizes[i] - header_bytes) / record_size; /* now: records */
    total += rc ? 0 : sizes[i];
  }
  pmr__recs rs = {files, record_size, header_bytes};
  pmr__src src = {&pmr__recs_ops, ctx, NULL, 0, 0, "records", (void *)fn,
                  user, &rs};
  if (!rc) {
    uint64_t lo, hi, base = 0;
    size_t cap = 0, per = pmr__chunk_size(ctx) / record_size;
    if (per < 1)
      per = 1;
    pmr__split_range(total, ctx->size, ctx->rank, &lo, &hi);
    src.units = hi - lo;
    int lrc = PMR_OK;
    for (int f = 0; f < nfiles && !lrc; f++) {
      uint64_t fs = base, fe = base + sizes[f];
      base = fe;
      uint64_t a = lo > fs ? lo : fs, e = hi < fe ? hi : fe;
      for (uint64_t p = a; p < e && !lrc; p += per)
        lrc = pmr__parts_add(&src, &cap, f, p - fs,
                             (p + per < e ? p + per : e) - fs, 0);
    }
    if (lrc)
      pmr__seterr(ctx, lrc, "out of memory planning the input");
    rc = pmr__agree(ctx, lrc);
  }
  if (!rc) {
    rc = pmr__map_run(&src, kv);
    ctx->stats.input_bytes += src.units * record_size;
  }
  pmr__free(src.parts);
  pmr__free(sizes);
  return rc;
}
