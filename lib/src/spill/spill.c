/* Spill files, their buffered writer and reader, and the k-way merge. */
#define _GNU_SOURCE /* mkostemp */
#include "spill/spill.h"
#include "shuffle/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int pmr__spill_seterr(pmr_ctx *ctx, int code, const char *fmt, ...) {
  char msg[PMR__ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
#pragma omp critical(pmr__err)
  pmr__seterr(ctx, code, "%s", msg);
  return code;
}

/* An errno of a spill file as a code and a message naming the directory. */
static int pmr__spill_errno(pmr_ctx *ctx, int err, const char *what) {
  char eb[128];
  int code = err == ENOSPC || err == EDQUOT ? PMR_EIO : pmr__errno_code(err);
  if (code == PMR_EINVAL || code == PMR_EISDIR)
    code = PMR_EIO;
  return pmr__spill_seterr(ctx, code, "spill file in '%s'%s%s: %s",
                           ctx->tmpdir ? ctx->tmpdir : "/tmp", what ? ": " : "", what ? what : "",
                           pmr__strerror(err, eb, sizeof eb));
}

void pmr__spill_init(pmr__spill_file *f) {
  f->ctx = NULL;
  f->fd = -1;
  f->size = 0;
}

int pmr__spill_open(pmr_ctx *ctx, pmr__spill_file *f) {
  pmr__spill_init(f);
  f->ctx = ctx;
  const char *dir = ctx->tmpdir ? ctx->tmpdir : "/tmp";
  size_t n = strlen(dir) + sizeof "/" PMR__SPILL_PREFIX "XXXXXX";
  char *path = pmr__malloc(n);
  if (!path)
    return pmr__spill_seterr(ctx, PMR_ENOMEM,
                             "out of memory naming a spill file");
  snprintf(path, n, "%s/%sXXXXXX", dir, PMR__SPILL_PREFIX);
  /* mkstemp: O_CREAT | O_EXCL, mode 0600, a name no one else holds. */
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    pmr__free(path);
    return pmr__spill_errno(ctx, err, NULL);
  }
  /* Gone from the directory at once: the descriptor is the only name. */
  if (unlink(path) != 0) {
    int err = errno;
    close(fd);
    pmr__free(path);
    return pmr__spill_errno(ctx, err, "unlink");
  }
  pmr__free(path);
  f->fd = fd;
  return PMR_OK;
}

void pmr__spill_close(pmr__spill_file *f) {
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  f->size = 0;
}

int pmr__spill_append(pmr__spill_file *f, const void *p, size_t n) {
  const unsigned char *c = p;
  while (n) {
    size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
    ssize_t w = pwrite(f->fd, c, chunk, (off_t)f->size);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return pmr__spill_errno(f->ctx, errno, NULL);
    if (w == 0) /* a full device may report a zero-byte write */
      return pmr__spill_errno(f->ctx, ENOSPC, NULL);
    c += w;
    n -= (size_t)w;
    f->size += (uint64_t)w;
#pragma omp atomic
    f->ctx->stats.spilled_bytes += (uint64_t)w;
  }
  return PMR_OK;
}

int pmr__spill_pread(const pmr__spill_file *f, void *p, size_t n,
                     uint64_t off) {
  unsigned char *c = p;
  while (n) {
    size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
    ssize_t r = pread(f->fd, c, chunk, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return pmr__spill_errno(f->ctx, errno, "read");
    if (r == 0)
      return pmr__spill_seterr(f->ctx, PMR_EIO,
                               "spill file in '%s': %zu bytes missing at "
                               "offset %llu",
                               f->ctx->tmpdir, n, (unsigned long long)off);
    c += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return PMR_OK;
}

/* ---- writer ---- */

int pmr__spill_writer_init(pmr__spill_writer *w, pmr__spill_file *f,
                           size_t cap) {
  w->f = f;
  w->len = 0;
  w->err = PMR_OK;
  w->cap = cap < 4096 ? 4096 : cap;
  w->buf = pmr__malloc(w->cap);
  if (!w->buf)
    return pmr__spill_seterr(f->ctx, PMR_ENOMEM,
                             "out of memory for a spill buffer");
  return PMR_OK;
}

int pmr__spill_writer_flush(pmr__spill_writer *w) {
  int rc = w->len ? pmr__spill_append(w->f, w->buf, w->len) : PMR_OK;
  w->len = 0;
  return rc;
}

unsigned char *pmr__spill_writer_room(pmr__spill_writer *w, size_t n) {
  if (w->cap - w->len >= n)
    return w->buf + w->len;
  if ((w->err = pmr__spill_writer_flush(w)))
    return NULL;
  if (n > w->cap) {
    unsigned char *b = pmr__realloc(w->buf, n);
    if (!b) {
      w->err = pmr__spill_seterr(w->f->ctx, PMR_ENOMEM,
                                 "out of memory for a spill buffer");
      return NULL;
    }
    w->buf = b;
    w->cap = n;
  }
  return w->buf;
}

int pmr__spill_writer_put(pmr__spill_writer *w, const void *p, size_t n) {
  if (n >= w->cap) {
    int rc = pmr__spill_writer_flush(w);
    return rc ? rc : pmr__spill_append(w->f, p, n);
  }
  unsigned char *d = pmr__spill_writer_room(w, n);
  if (!d)
    return w->err;
  memcpy(d, p, n);
  w->len += n;
  return PMR_OK;
}

void pmr__spill_writer_free(pmr__spill_writer *w) {
  pmr__free(w->buf);
  w->buf = NULL;
  w->len = w->cap = 0;
}

/* ---- reader ---- */

int pmr__spill_cmp_key_only(const pmr__spill_rec *a, const pmr__spill_rec *b,
                            void *user) {
  (void)user;
  size_t n = a->klen < b->klen ? a->klen : b->klen;
  int c = n ? memcmp(a->key, b->key, n) : 0;
  if (c)
    return c;
  return a->klen < b->klen ? -1 : a->klen > b->klen;
}

int pmr__spill_cmp_key(const pmr__spill_rec *a, const pmr__spill_rec *b,
                       void *user) {
  int c = pmr__spill_cmp_key_only(a, b, user);
  if (c)
    return c;
  size_t n = a->vlen < b->vlen ? a->vlen : b->vlen;
  c = n ? memcmp(a->val, b->val, n) : 0;
  if (c)
    return c;
  return a->vlen < b->vlen ? -1 : a->vlen > b->vlen;
}

int pmr__spill_reader_init(pmr__spill_reader *rd, const pmr__spill_run *run,
                           size_t vsize, size_t cap) {
  memset(rd, 0, sizeof *rd);
  rd->f = run->f;
  rd->pos = run->off;
  rd->end = run->off + run->len;
  rd->vsize = vsize;
  if (cap > run->len)
    cap = run->len < 64 ? 64 : (size_t)run->len;
  rd->cap = cap < 64 ? 64 : cap;
  rd->buf = pmr__malloc(rd->cap);
  if (!rd->buf)
    return pmr__spill_seterr(run->f->ctx, PMR_ENOMEM,
                             "out of memory for a spill reader");
  return PMR_OK;
}

int pmr__spill_reader_next(pmr__spill_reader *rd, pmr__spill_rec *r) {
  for (;;) {
    if (rd->lo < rd->hi) {
      size_t m = pmr__wire_get_v(rd->buf + rd->lo, rd->buf + rd->hi,
                                 rd->vsize, &r->key, &r->klen, &r->val,
                                 &r->vlen);
      if (m) {
        rd->lo += m;
        return 1;
      }
    }
    if (rd->pos >= rd->end) {
      if (rd->lo == rd->hi)
        return 0;
      return -pmr__spill_seterr(rd->f->ctx, PMR_EIO,
                               "spill file in '%s': a truncated pair",
                               rd->f->ctx->tmpdir);
    }
    /* Keep the partial pair, make room (a pair larger than the buffer
     * doubles it), read on. */
    size_t keep = rd->hi - rd->lo;
    if (keep && rd->lo)
      memmove(rd->buf, rd->buf + rd->lo, keep);
    rd->lo = 0;
    rd->hi = keep;
    if (keep == rd->cap) {
      size_t cap;
      unsigned char *b = NULL;
      if (!pmr__mul_ovf(rd->cap, 2, &cap))
        b = pmr__realloc(rd->buf, cap);
      if (!b)
        return -pmr__spill_seterr(rd->f->ctx, PMR_ENOMEM,
                                 "out of memory reading a spill file");
      rd->buf = b;
      rd->cap = cap;
    }
    uint64_t left = rd->end - rd->pos;
    size_t n = rd->cap - keep;
    if (n > left)
      n = (size_t)left;
    int rc = pmr__spill_pread(rd->f, rd->buf + keep, n, rd->pos);
    if (rc)
      return -rc;
    rd->pos += n;
    rd->hi += n;
  }
}

void pmr__spill_reader_free(pmr__spill_reader *rd) {
  pmr__free(rd->buf);
  rd->buf = NULL;
}

/* ---- merge: a binary min-heap of run indices, ordered by each run's
 * current pair, ties by run index (so the merge is stable) ---- */

struct pmr__spill_merge {
  int n, live, last;
  pmr__spill_reader *rd;
  pmr__spill_rec *cur;
  int *heap;
  pmr__spill_cmp cmp;
  void *user;
};

static bool pmr__merge_less(const pmr__spill_merge *m, int a, int b) {
  int c = m->cmp(&m->cur[a], &m->cur[b], m->user);
  return c < 0 || (c == 0 && a < b);
}

static void pmr__merge_down(pmr__spill_merge *m, int i) {
  int *h = m->heap, n = m->live;
  for (;;) {
    int l = 2 * i + 1, r = l + 1, s = i;
    if (l < n && pmr__merge_less(m, h[l], h[s]))
      s = l;
    if (r < n && pmr__merge_less(m, h[r], h[s]))
      s = r;
    if (s == i)
      return;
    int t = h[i];
    h[i] = h[s];
    h[s] = t;
    i = s;
  }
}

int pmr__spill_merge_open(pmr_ctx *ctx, const pmr__spill_run *runs, int n,
                          size_t vsize, pmr__spill_cmp cmp, void *cmp_user,
                          size_t bufsize, pmr__spill_merge **out) {
  *out = NULL;
  pmr__spill_merge *m = pmr__calloc(1, sizeof *m);
  if (m) {
    m->rd = pmr__calloc((size_t)(n ? n : 1), sizeof *m->rd);
    m->cur = pmr__calloc((size_t)(n ? n : 1), sizeof *m->cur);
    m->heap = pmr__calloc((size_t)(n ? n : 1), sizeof *m->heap);
  }
  if (!m || !m->rd || !m->cur || !m->heap) {
    if (m) {
      pmr__free(m->rd);
      pmr__free(m->cur);
      pmr__free(m->heap);
      pmr__free(m);
    }
    return pmr__spill_seterr(ctx, PMR_ENOMEM,
                             "out of memory merging spill files");
  }
  m->cmp = cmp ? cmp : pmr__spill_cmp_key;
  m->user = cmp_user;
  m->last = -1;
  int rc = PMR_OK;
  for (int i = 0; i < n && !rc; i++) {
    m->n = i + 1;
    rc = pmr__spill_reader_init(&m->rd[i], &runs[i], vsize, bufsize);
    int k = rc ? 0 : pmr__spill_reader_next(&m->rd[i], &m->cur[i]);
    if (k < 0)
      rc = -k;
    else if (k)
      m->heap[m->live++] = i;
  }
  if (rc) {
    pmr__spill_merge_close(&m);
    return rc;
  }
  for (int i = m->live / 2 - 1; i >= 0; i--)
    pmr__merge_down(m, i);
  *out = m;
  return PMR_OK;
}

int pmr__spill_merge_next(pmr__spill_merge *m, pmr__spill_rec *r) {
  if (m->last >= 0) {
    /* The run handed out last is at the root: advance it. */
    int k = pmr__spill_reader_next(&m->rd[m->last], &m->cur[m->last]);
    if (k < 0)
      return k;
    if (!k)
      m->heap[0] = m->heap[--m->live];
    if (m->live)
      pmr__merge_down(m, 0);
    m->last = -1;
  }
  if (!m->live)
    return 0;
  m->last = m->heap[0];
  *r = m->cur[m->last];
  return 1;
}

void pmr__spill_merge_close(pmr__spill_merge **pm) {
  pmr__spill_merge *m = *pm;
  if (!m)
    return;
  for (int i = 0; i < m->n; i++)
    pmr__spill_reader_free(&m->rd[i]);
  pmr__free(m->rd);
  pmr__free(m->cur);
  pmr__free(m->heap);
  pmr__free(m);
  *pm = NULL;
}
