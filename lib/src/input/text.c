/* The text source: files taken in order as one byte range, split into
 * contiguous ranges per rank and chunks per thread. A line belongs to the
 * chunk that holds its first byte, so every line is mapped exactly once at
 * any rank and thread count, and no line crosses a file. Chunks are read
 * through an mmap window (no copy; a line longer than the window widens
 * it), or with pread into a buffer where a file cannot be mapped. */
#define _GNU_SOURCE /* O_CLOEXEC, MAP_POPULATE */
#include "input/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PMR__WINDOW_EXTRA ((uint64_t)64 << 10) /* past a chunk, for its last
                                                  line; doubled as needed */

typedef struct pmr__text {
  const char *const *files;
  const uint64_t *sizes;
  size_t csize;
  long page;
  bool use_mmap, numbers;
} pmr__text;

/* A thread's reader: the window over the current part. d[0] is file byte
 * `base`; lines must start before d[stop]; d[0, have) is valid. */
typedef struct pmr__text_t {
  int file, fd;
  char *buf; /* pread buffer */
  size_t cap;
  char *map; /* mmap window, or NULL */
  size_t mlen;
  uint64_t mbase, wend, ext;
  const char *d;
  uint64_t base;
  size_t have, stop, pos;
  size_t seen; /* bytes past pos already searched for a newline */
  uint64_t fsize, line;
  const pmr__part *part;
} pmr__text_t;

static int pmr__text_topen(pmr__src *s, void **ts, pmr_emitter *em) {
  pmr__text *tx = s->impl;
  pmr__text_t *t = pmr__calloc(1, sizeof *t);
  if (t) {
    t->cap = tx->csize + 1;
    t->buf = pmr__malloc(t->cap);
  }
  if (!t || !t->buf) {
    pmr__free(t);
    snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory for input buffers");
    return PMR_ENOMEM;
  }
  t->file = t->fd = -1;
  *ts = t;
  return PMR_OK;
}

static void pmr__text_tclose(pmr__src *s, void *ts) {
  (void)s;
  pmr__text_t *t = ts;
  if (!t)
    return;
  if (t->fd >= 0)
    close(t->fd);
  pmr__free(t->buf);
  pmr__free(t);
}

/* The file is shorter than when it was planned. */
static int pmr__src_shrank(pmr_emitter *em, const char *name) {
  snprintf(em->msg, PMR__ERRMSG_MAX,
           "cannot read '%s': the file shrank while it was read", name);
  return PMR_EIO;
}

/* (Re)map the window [mbase, wend). */
static int pmr__text_map(pmr__text_t *t) {
  t->mlen = (size_t)(t->wend - t->mbase);
  /* MAP_POPULATE: one call faults the whole window in. */
  void *m = mmap(NULL, t->mlen, PROT_READ, MAP_PRIVATE | MAP_POPULATE, t->fd,
                 (off_t)t->mbase);
  if (m == MAP_FAILED) {
    t->map = NULL;
    return -1;
  }
  t->map = m;
  t->d = t->map + (t->base - t->mbase);
  t->have = (size_t)(t->wend - t->base);
  return 0;
}

static void pmr__text_unmap(pmr__text_t *t) {
  if (t->map)
    munmap(t->map, t->mlen);
  t->map = NULL;
}

static int pmr__text_open(pmr__src *s, void *ts, const pmr__part *p,
                          pmr_emitter *em) {
  pmr__text *tx = s->impl;
  pmr__text_t *t = ts;
  const char *name = tx->files[p->source];
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
  pmr__reading = name; /* for the SIGBUS handler: see pmr_signals_install */
  t->part = p;
  t->fsize = tx->sizes[p->source];
  t->base = p->start > 0 ? p->start - 1 : 0;
  t->stop = (size_t)(p->end - t->base);
  t->ext = PMR__WINDOW_EXTRA;
  bool mapped = false;
  if (tx->use_mmap) {
    t->mbase = t->base - t->base % (uint64_t)tx->page;
    t->wend = p->end + t->ext < t->fsize ? p->end + t->ext : t->fsize;
    /* Mapping past the end of a file that shrank would fault on access:
     * check first (a shrink after this is left to the SIGBUS handler). */
    struct stat st;
    if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size < t->wend)
      return pmr__src_shrank(em, name);
    mapped = pmr__text_map(t) == 0;
  }
  if (!mapped) {
    /* pread: the chunk (and the byte before it) into the buffer. */
    t->have = t->stop;
    long long got = pmr__pread_full(t->fd, t->buf, t->have, t->base);
    if (got < 0)
      return pmr__src_errno(em, PMR_EIO, "cannot read", name, errno);
    if ((size_t)got < t->have)
      return pmr__src_shrank(em, name);
    t->d = t->buf;
  }
  /* The first line: at the chunk's start only if the byte before ends a
   * line; else after the first newline in the chunk. */
  t->pos = 0;
  t->seen = 0;
  if (p->start > 0) {
    const char *nl = memchr(t->d, '\n', t->stop);
    t->pos = nl ? (size_t)(nl - t->d) + 1 : t->stop;
  }
  t->line = tx->numbers ? p->aux + (p->start > 0 && t->pos > 1) : 0;
  return PMR_OK;
}

/* The current line runs past the window: widen it (mmap) or move its head to
 * the front of the buffer and read more (pread). */
static int pmr__text_extend(pmr__src *s, pmr__text_t *t, pmr_emitter *em) {
  pmr__text *tx = s->impl;
  const char *name = tx->files[t->file];
  if (t->map) {
    pmr__text_unmap(t);
    t->ext *= 2;
    const pmr__part *p = t->part;
    t->wend = p->end + t->ext < t->fsize ? p->end + t->ext : t->fsize;
    struct stat st;
    if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size < t->wend)
      return pmr__src_shrank(em, name);
    if (pmr__text_map(t) != 0)
      return pmr__src_errno(em, pmr__errno_code(errno), "cannot map", name,
                            errno);
    return PMR_OK;
  }
  if (t->pos)
    memmove(t->buf, t->buf + t->pos, t->have - t->pos);
  t->have -= t->pos;
  t->base += t->pos;
  t->stop -= t->pos;
  t->pos = 0;
  uint64_t at = t->base + t->have;
  size_t want = tx->csize;
  if (at + want > t->fsize)
    want = (size_t)(t->fsize - at);
  void *b = t->buf;
  if (pmr__grow_array(&b, &t->cap, t->have + want, 1, 4096)) {
    snprintf(em->msg, PMR__ERRMSG_MAX, "out of memory for a line of '%s'",
             name);
    return PMR_ENOMEM;
  }
  t->buf = b;
  t->d = t->buf;
  long long got = pmr__pread_full(t->fd, t->buf + t->have, want, at);
  if (got < 0)
    return pmr__src_errno(em, PMR_EIO, "cannot read", name, errno);
  if (got == 0)
    return pmr__src_shrank(em, name);
  t->have += (size_t)got;
  return PMR_OK;
}

static int pmr__text_next(pmr__src *s, void *ts, pmr__rec *r,
                          pmr_emitter *em) {
  pmr__text_t *t = ts;
  for (;;) {
    if (t->pos >= t->stop)
      return 0;
    /* A long line is searched once: from where the last search stopped
     * (the pread reader was quadratic in the line's length). */
    const char *nl = memchr(t->d + t->pos + t->seen, '\n',
                            t->have - t->pos - t->seen);
    if (!nl && t->base + t->have < t->fsize) {
      t->seen = t->have - t->pos; /* extend keeps d[pos..have) as it is */
      int rc = pmr__text_extend(s, t, em);
      if (rc)
        return -rc;
      continue;
    }
    t->seen = 0;
    size_t e = nl ? (size_t)(nl - t->d) : t->have;
    r->data = t->d + t->pos;
    r->len = e - t->pos;
    em->offset = t->base + t->pos;
    em->line = t->line;
    if (t->line)
      t->line++;
    t->pos = e + 1;
    return 1;
  }
}

static void pmr__text_close(pmr__src *s, void *ts) {
  (void)s;
  pmr__text_unmap(ts);
  pmr__reading = NULL;
}

static int pmr__text_call(pmr__src *s, const pmr__rec *r, pmr_emitter *em) {
  return ((pmr_line_fn)s->fn)(r->data, r->len, em->source, em, s->user);
}

static void pmr__text_where(const pmr__src *s, const pmr_emitter *em,
                            char *buf, size_t n) {
  const pmr__text *tx = s->impl;
  if (em->line)
    snprintf(buf, n, "'%s' line %llu", tx->files[em->source],
             (unsigned long long)em->line);
  else
    snprintf(buf, n, "'%s' offset %llu", tx->files[em->source],
             (unsigned long long)em->offset);
}

static const pmr__src_ops pmr__text_ops = {
    "text",          pmr__text_topen, pmr__text_tclose, pmr__text_open,
    pmr__text_next,  pmr__text_close, pmr__text_call,   pmr__text_where};

/* Chunks of this rank's share of the concatenated inputs. */
static int pmr__text_plan(pmr__src *s, const uint64_t *sizes, int nfiles,
                          size_t csize) {
  pmr_ctx *ctx = s->ctx;
  uint64_t total = 0, lo, hi, base = 0;
  size_t cap = 0;
  for (int i = 0; i < nfiles; i++)
    total += sizes[i];
  pmr__split_range(total, ctx->size, ctx->rank, &lo, &hi);
  s->units = hi - lo;
  for (int f = 0; f < nfiles; f++) {
    uint64_t fs = base, fe = base + sizes[f];
    base = fe;
    uint64_t a = lo > fs ? lo : fs, e = hi < fe ? hi : fe;
    for (uint64_t p = a; p < e; p += csize) {
      uint64_t ce = p + csize < e ? p + csize : e;
      if (pmr__parts_add(s, &cap, f, p - fs, ce - fs, 0))
        return PMR_ENOMEM;
    }
  }
  return PMR_OK;
}

/* Line numbers: count the newlines of every chunk (threads), then number
 * each chunk's first line from the counts of the chunks before it in its
 * file, on this rank and (MPI_Exscan) on the ranks before. */
static int pmr__text_number(pmr__src *s, const uint64_t *sizes, int nfiles) {
  pmr_ctx *ctx = s->ctx;
  pmr__text *tx = s->impl;
  uint64_t *cnt = pmr__calloc(s->nparts, sizeof *cnt);
  uint64_t *mine = pmr__calloc((size_t)nfiles, sizeof *mine);
  uint64_t *before = pmr__calloc((size_t)nfiles, sizeof *before);
  int rc = cnt && mine && before ? PMR_OK : PMR_ENOMEM;
  char msg[PMR__ERRMSG_MAX] = "";
  (void)sizes;
  if (!rc) {
#pragma omp parallel num_threads(ctx->nthreads)
    {
      int fd = -1, file = -1, st = PMR_OK;
      char *buf = pmr__malloc(1 << 16);
      if (!buf)
        st = PMR_ENOMEM;
#pragma omp for schedule(dynamic, 1)
      for (size_t i = 0; i < s->nparts; i++) {
        const pmr__part *p = &s->parts[i];
        if (st)
          continue;
        if (p->source != file) {
          if (fd >= 0)
            close(fd);
          file = p->source;
          fd = open(tx->files[file], O_RDONLY | O_CLOEXEC);
          if (fd < 0) {
            st = pmr__errno_code(errno);
            continue;
          }
        }
        uint64_t n = 0;
        for (uint64_t at = p->start; at < p->end && !st;) {
          size_t want = p->end - at < (1 << 16) ? (size_t)(p->end - at)
                                                : (1 << 16);
          long long got = pmr__pread_full(fd, buf, want, at);
          if (got <= 0) {
            st = PMR_EIO;
            break;
          }
          for (long long k = 0; k < got; k++)
            n += buf[k] == '\n';
          at += (uint64_t)got;
        }
        cnt[i] = n;
      }
      if (fd >= 0)
        close(fd);
      pmr__free(buf);
      if (st) {
#pragma omp critical(pmr_text_number)
        {
          if (!rc) {
            rc = st;
            snprintf(msg, sizeof msg, "cannot count the lines of '%s'",
                     file >= 0 ? tx->files[file] : "input");
          }
        }
      }
    }
  }
  if (rc)
    pmr__seterr(ctx, rc, "%s", msg[0] ? msg : "out of memory numbering lines");
  rc = pmr__agree(ctx, rc);
  if (!rc) {
    for (size_t i = 0; i < s->nparts; i++)
      mine[s->parts[i].source] += cnt[i];
    rc = pmr__agree_mpi(ctx,
                        MPI_Exscan(mine, before, nfiles, MPI_UINT64_T,
                                   MPI_SUM, ctx->comm),
                        "MPI_Exscan of line counts");
  }
  if (!rc) {
    if (ctx->rank == 0)
      memset(before, 0, (size_t)nfiles * sizeof *before);
    for (size_t i = 0; i < s->nparts; i++) {
      pmr__part *p = &s->parts[i];
      p->aux = 1 + before[p->source];
      before[p->source] += cnt[i];
    }
  }
  pmr__free(cnt);
  pmr__free(mine);
  pmr__free(before);
  return rc;
}

int pmr_map_text(pmr_ctx *ctx, const char *const *files, int nfiles,
                 pmr_line_fn fn, void *user, pmr_kv *kv) {
  if (!ctx)
    return PMR_EINVAL;
  bool bad = !kv || kv->ctx != ctx || !fn || nfiles < 1 || !files;
  for (int i = 0; !bad && i < nfiles; i++)
    bad = !files[i];
  int rc = pmr__agree_arg(ctx, bad,
                          nfiles < 1 ? "no input files"
                                     : "pmr_map_text: invalid argument (a "
                                       "NULL file name, callback or set, or "
                                       "a set of another context)");
  if (rc)
    return rc;
  uint64_t *sizes = pmr__calloc((size_t)nfiles, sizeof *sizes);
  rc = pmr__agree(ctx, sizes ? PMR_OK
                             : pmr__seterr(ctx, PMR_ENOMEM, "out of memory"));
  if (!rc)
    rc = pmr__stat_files(ctx, files, nfiles, sizes);
  pmr__text tx = {files, sizes, pmr__chunk_size(ctx), sysconf(_SC_PAGESIZE),
                  ctx->opt.reader == PMR_READER_MMAP,
                  ctx->opt.line_numbers != 0};
  pmr__src src = {&pmr__text_ops, ctx, NULL, 0, 0, "bytes", (void *)fn,
                  user, &tx};
  if (!rc) {
    int lrc = pmr__text_plan(&src, sizes, nfiles, tx.csize);
    if (lrc)
      pmr__seterr(ctx, lrc, "out of memory planning the input");
    rc = pmr__agree(ctx, lrc);
  }
  if (!rc && tx.numbers)
    rc = pmr__text_number(&src, sizes, nfiles);
  if (!rc) {
    rc = pmr__map_run(&src, kv);
    ctx->stats.input_bytes += src.units;
  }
  pmr__free(src.parts);
  pmr__free(sizes);
  return rc;
}
