/* Map: text input split over ranks (byte ranges) and threads (chunks), and
 * index spaces split the same way. */
#define _GNU_SOURCE /* O_CLOEXEC, pread */
#include "pmr_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* One unit of work: bytes [start, end) of file `file`. A line belongs to the
 * chunk that holds its first byte, whichever rank or thread has it. */
typedef struct pmr__chunk {
  int file;
  uint64_t start, end;
} pmr__chunk;

/* Rank 0 checks every input once and broadcasts the sizes, so a missing or
 * unreadable file is reported once, with its name, before any work starts. */
static int pmr__stat_inputs(pmr_ctx *ctx, const char *const *files,
                            int nfiles, uint64_t *sizes) {
  int rc = PMR_OK;
  if (ctx->rank == 0) {
    for (int i = 0; i < nfiles && !rc; i++) {
      struct stat st;
      int fd = open(files[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot open '%s': %s",
                         files[i], strerror(errno));
        break;
      }
      if (fstat(fd, &st) != 0) {
        rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot stat '%s': %s",
                         files[i], strerror(errno));
      } else if (S_ISDIR(st.st_mode)) {
        rc = pmr__seterr(ctx, PMR_EISDIR, "cannot read '%s': Is a directory",
                         files[i]);
      } else if (!S_ISREG(st.st_mode)) {
        rc = pmr__seterr(ctx, PMR_EINVAL,
                         "cannot read '%s': not a regular file", files[i]);
      } else {
        /* Reading one byte finds files that open but cannot be read. */
        char b;
        if (st.st_size > 0 && pread(fd, &b, 1, 0) < 0)
          rc = pmr__seterr(ctx, pmr__errno_code(errno),
                           "cannot read '%s': %s", files[i], strerror(errno));
        sizes[i] = (uint64_t)st.st_size;
      }
      close(fd);
    }
  }
  rc = pmr__agree(ctx, rc);
  if (!rc && MPI_Bcast(sizes, nfiles, MPI_UINT64_T, 0, ctx->comm))
    rc = pmr__agree(ctx, pmr__seterr(ctx, PMR_EMPI, "MPI_Bcast failed"));
  return rc;
}

/* Chunks of this rank's share of the concatenated inputs. */
static int pmr__make_chunks(pmr_ctx *ctx, const uint64_t *sizes, int nfiles,
                            size_t csize, pmr__chunk **out, size_t *nout,
                            uint64_t *mybytes) {
  uint64_t total = 0;
  for (int i = 0; i < nfiles; i++)
    total += sizes[i];
  uint64_t lo, hi;
  pmr__split_range(total, ctx->size, ctx->rank, &lo, &hi);
  *mybytes = hi - lo;
  size_t n = 0, cap = 0;
  pmr__chunk *c = NULL;
  uint64_t base = 0;
  for (int f = 0; f < nfiles; f++) {
    uint64_t fs = base, fe = base + sizes[f];
    base = fe;
    uint64_t s = lo > fs ? lo : fs, e = hi < fe ? hi : fe;
    for (uint64_t p = s; p < e; p += csize) {
      if (n == cap) {
        cap = cap ? 2 * cap : 64;
        pmr__chunk *nc = realloc(c, cap * sizeof *nc);
        if (!nc) {
          free(c);
          return PMR_ENOMEM;
        }
        c = nc;
      }
      uint64_t ce = p + csize < e ? p + csize : e;
      c[n].file = f;
      c[n].start = p - fs;
      c[n].end = ce - fs;
      n++;
    }
  }
  *out = c;
  *nout = n;
  return PMR_OK;
}

/* Per-thread reader state. */
typedef struct pmr__reader {
  int file, fd;
  char *buf;
  size_t cap;
  uint64_t records, bytes, emitted;
  int status;
  char msg[PMR__ERRMSG_MAX];
} pmr__reader;

static int pmr__rerr(pmr__reader *r, int code, const char *what,
                     const char *name, int err) {
  snprintf(r->msg, sizeof r->msg, "%s '%s': %s", what, name, strerror(err));
  return r->status = code;
}

/* Read exactly [off, off+len) unless EOF comes first; returns bytes read or
 * -1 with errno. */
static ssize_t pmr__pread_full(int fd, char *buf, size_t len, uint64_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static int pmr__grow(pmr__reader *r, size_t need) {
  if (need <= r->cap)
    return PMR_OK;
  size_t cap = r->cap;
  while (cap < need)
    cap *= 2;
  char *b = realloc(r->buf, cap);
  if (!b)
    return PMR_ENOMEM;
  r->buf = b;
  r->cap = cap;
  return PMR_OK;
}

/* Where the first line of chunk `c` starts in `d`, whose byte 0 is the one
 * before c->start (when c->start > 0): a line starts at c->start only if that
 * byte ends a line. `stop` (no line of the chunk) when none starts in it. */
static size_t pmr__first_line(const pmr__chunk *c, const char *d,
                              size_t stop) {
  if (c->start == 0)
    return 0;
  const char *nl = memchr(d, '\n', stop);
  return nl ? (size_t)(nl - d) + 1 : stop;
}

/* Map the lines of `d` that start in [*pos, stop) and end inside d[0, have);
 * with `at_eof`, d[have - 1] is the file's last byte and the last line needs
 * no newline. Leaves *pos at the first line not mapped: at or past stop, or
 * one that runs past `have` (the caller gets more of it and calls again). */
static int pmr__map_lines(pmr__reader *r, int file, const char *d,
                          size_t *pos, size_t have, size_t stop, bool at_eof,
                          pmr_line_fn fn, void *user, pmr_emitter *em) {
  size_t p = *pos;
  int rc = PMR_OK;
  while (p < stop) {
    const char *nl = memchr(d + p, '\n', have - p);
    if (!nl && !at_eof)
      break;
    size_t e = nl ? (size_t)(nl - d) : have;
    if (fn(d + p, e - p, file, em, user) != 0) {
      rc = r->status = PMR_ECALLBACK;
      break;
    }
    r->records++;
    p = e + 1;
  }
  *pos = p;
  return rc;
}

/* Map the lines that start in [c->start, c->end) of one file, reading it
 * through a window mapped with mmap: no copy, and a line that runs past the
 * chunk just widens the window. Returns PMR_OK with *fallback set when the
 * file cannot be mapped at all (the caller then reads it with pread). */
static int pmr__map_chunk_mmap(pmr__reader *r, const pmr__chunk *c,
                               uint64_t fsize, const char *name,
                               pmr_line_fn fn, void *user, pmr_emitter *em,
                               bool *fallback) {
  static long page;
  if (!page)
    page = sysconf(_SC_PAGESIZE);
  uint64_t base = c->start > 0 ? c->start - 1 : 0; /* file offset of d[0] */
  uint64_t mbase = base - base % (uint64_t)page;
  uint64_t ext = (uint64_t)64 << 10; /* past the chunk, for its last line */
  uint64_t wend = c->end + ext < fsize ? c->end + ext : fsize;
  size_t mlen = (size_t)(wend - mbase);
  /* MAP_POPULATE: one call faults the whole window in. */
  char *map = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE | MAP_POPULATE, r->fd,
                   (off_t)mbase);
  if (map == MAP_FAILED) {
    *fallback = true;
    return PMR_OK;
  }
  const char *d = map + (base - mbase);
  size_t stop = (size_t)(c->end - base); /* lines must start before this */
  size_t pos = pmr__first_line(c, d, stop);
  r->bytes += c->end - c->start;
  for (;;) {
    int rc = pmr__map_lines(r, c->file, d, &pos, (size_t)(wend - base), stop,
                            wend >= fsize, fn, user, em);
    if (rc || pos >= stop) {
      munmap(map, mlen);
      return rc;
    }
    /* The line runs past the window: map a wider one. */
    munmap(map, mlen);
    ext *= 2;
    wend = c->end + ext < fsize ? c->end + ext : fsize;
    mlen = (size_t)(wend - mbase);
    map = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE | MAP_POPULATE, r->fd,
               (off_t)mbase);
    if (map == MAP_FAILED)
      return pmr__rerr(r, pmr__errno_code(errno), "cannot map", name, errno);
    d = map + (base - mbase);
  }
}

/* The same with pread into the reader's buffer, for files that cannot be
 * mapped (and PMR_READ=pread): a line that runs past the buffer keeps its
 * head, moved to the front, and the buffer grows to hold it. */
static int pmr__map_chunk(pmr__reader *r, const pmr__chunk *c, uint64_t fsize,
                          const char *name, size_t csize, pmr_line_fn fn,
                          void *user, pmr_emitter *em) {
  uint64_t base = c->start > 0 ? c->start - 1 : 0; /* file offset of buf[0] */
  size_t have = (size_t)(c->end - base);           /* valid bytes in buf */
  ssize_t got = pmr__pread_full(r->fd, r->buf, have, base);
  if (got < 0)
    return pmr__rerr(r, PMR_EIO, "cannot read", name, errno);
  if ((size_t)got < have) /* the file shrank under us */
    return pmr__rerr(r, PMR_EIO, "cannot read", name, EIO);
  r->bytes += c->end - c->start;
  size_t stop = have; /* lines must start before this */
  size_t pos = pmr__first_line(c, r->buf, stop);
  for (;;) {
    uint64_t at = base + have;
    int rc = pmr__map_lines(r, c->file, r->buf, &pos, have, stop,
                            at >= fsize, fn, user, em);
    if (rc || pos >= stop)
      return rc;
    memmove(r->buf, r->buf + pos, have - pos);
    have -= pos;
    base += pos;
    stop -= pos;
    pos = 0;
    size_t want = csize;
    if (at + want > fsize)
      want = (size_t)(fsize - at);
    if (pmr__grow(r, have + want)) {
      snprintf(r->msg, sizeof r->msg, "out of memory for a line of '%s'",
               name);
      return r->status = PMR_ENOMEM;
    }
    got = pmr__pread_full(r->fd, r->buf + have, want, at);
    if (got < 0)
      return pmr__rerr(r, PMR_EIO, "cannot read", name, errno);
    if (got == 0)
      return pmr__rerr(r, PMR_EIO, "cannot read", name, EIO);
    have += (size_t)got;
  }
}

/* Chunk size: a handful of chunks per thread in flight, within budget. */
static size_t pmr__chunk_size(const pmr_ctx *ctx) {
  if (ctx->chunk_override)
    return ctx->chunk_override;
  size_t c = ctx->memory / (16 * (size_t)ctx->nthreads);
  if (c > ((size_t)1 << 20))
    c = (size_t)1 << 20;
  if (c < ((size_t)64 << 10))
    c = (size_t)64 << 10;
  return c;
}

int pmr_map_text(pmr_ctx *ctx, const char *const *files, int nfiles,
                 pmr_line_fn fn, void *user, pmr_kv *kv) {
  if (!ctx || !kv || !fn || nfiles < 0 || (nfiles > 0 && !files))
    return PMR_EINVAL;
  double t0 = pmr__now();
  int rc = nfiles == 0
               ? pmr__seterr(ctx, PMR_EINVAL, "no input files")
               : PMR_OK;
  for (int i = 0; i < nfiles && !rc; i++)
    if (!files[i])
      rc = pmr__seterr(ctx, PMR_EINVAL, "input %d is NULL", i);
  uint64_t *sizes = rc ? NULL : calloc((size_t)nfiles, sizeof *sizes);
  if (!rc && !sizes)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  rc = pmr__agree(ctx, rc);
  if (!rc)
    rc = pmr__stat_inputs(ctx, files, nfiles, sizes);
  if (rc) {
    free(sizes);
    return rc;
  }

  int nt = ctx->nthreads;
  size_t csize = pmr__chunk_size(ctx);
  pmr__chunk *chunks = NULL;
  size_t nchunks = 0;
  uint64_t mybytes = 0;
  rc = pmr__make_chunks(ctx, sizes, nfiles, csize, &chunks, &nchunks,
                        &mybytes);
  if (!rc)
    rc = pmr__kv_tables(kv, nt);
  pmr__reader *rd = rc ? NULL : calloc((size_t)nt, sizeof *rd);
  if (!rc && !rd)
    rc = PMR_ENOMEM;
  if (rc)
    pmr__seterr(ctx, rc, "out of memory planning the input");
  rc = pmr__agree(ctx, rc);
  if (rc) {
    free(sizes);
    free(chunks);
    free(rd);
    return rc;
  }
  kv->reduced = false;

  atomic_int stop = 0;
  atomic_uint_fast64_t done = 0;
  const char *how = getenv("PMR_READ");
  bool use_mmap = !(how && strcmp(how, "pread") == 0);
  double last_progress = pmr__now();

#pragma omp parallel num_threads(nt)
  {
    int tid = omp_get_thread_num();
    pmr__reader *r = &rd[tid];
    pmr_emitter em = {kv, &kv->tables[tid], tid, PMR_OK, 0};
    r->file = -1;
    r->fd = -1;
    r->cap = csize + 1;
    r->buf = malloc(r->cap);
    if (!r->buf) {
      r->status = PMR_ENOMEM;
      snprintf(r->msg, sizeof r->msg, "out of memory for input buffers");
      atomic_store(&stop, 1);
    }
#pragma omp for schedule(dynamic, 1)
    for (size_t i = 0; i < nchunks; i++) {
      if (atomic_load_explicit(&stop, memory_order_relaxed))
        continue;
      const pmr__chunk *c = &chunks[i];
      if (c->file != r->file) {
        if (r->fd >= 0)
          close(r->fd);
        r->file = c->file;
        r->fd = open(files[c->file], O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
          pmr__rerr(r, pmr__errno_code(errno), "cannot open", files[c->file],
                    errno);
          atomic_store(&stop, 1);
          continue;
        }
      }
      bool fallback = !use_mmap;
      int crc = PMR_OK;
      if (!fallback)
        crc = pmr__map_chunk_mmap(r, c, sizes[c->file], files[c->file], fn,
                                  user, &em, &fallback);
      if (fallback && !crc)
        crc = pmr__map_chunk(r, c, sizes[c->file], files[c->file], csize, fn,
                             user, &em);
      if (crc != PMR_OK) {
        if (r->status == PMR_ECALLBACK && em.status)
          r->status = em.status; /* the callback passed on an emit error */
        if (r->status == PMR_ECALLBACK)
          snprintf(r->msg, sizeof r->msg,
                   "map callback failed on a line of '%s'", files[c->file]);
        else if (r->status == PMR_ENOMEM && !r->msg[0])
          snprintf(r->msg, sizeof r->msg, "out of memory while mapping '%s'",
                   files[c->file]);
        atomic_store(&stop, 1);
      }
      uint64_t d = atomic_fetch_add(&done, c->end - c->start) +
                   (c->end - c->start);
      if (tid == 0 && ctx->progress_fn && ctx->rank == 0) {
        double now = pmr__now();
        if (now - last_progress >= 0.5) {
          last_progress = now;
          ctx->progress_fn("map", d, mybytes, ctx->progress_user);
        }
      }
    }
    if (r->fd >= 0)
      close(r->fd);
    free(r->buf);
    r->emitted = em.emitted;
  }

  int lrc = PMR_OK;
  for (int t = 0; t < nt; t++) {
    ctx->stats.records += rd[t].records;
    ctx->stats.input_bytes += rd[t].bytes;
    ctx->stats.emitted += rd[t].emitted;
    if (rd[t].status && !lrc) {
      lrc = pmr__seterr(ctx, rd[t].status, "%s", rd[t].msg);
    }
  }
  if (ctx->progress_fn && ctx->rank == 0 && !lrc)
    ctx->progress_fn("map", mybytes, mybytes, ctx->progress_user);
  free(sizes);
  free(chunks);
  free(rd);
  ctx->stats.seconds[PMR_PHASE_MAP] += pmr__now() - t0;
  return pmr__agree(ctx, lrc);
}

int pmr_map_index(pmr_ctx *ctx, uint64_t n, pmr_index_fn fn, void *user,
                  pmr_kv *kv) {
  if (!ctx || !kv || !fn)
    return PMR_EINVAL;
  double t0 = pmr__now();
  int nt = ctx->nthreads;
  int rc = pmr__kv_tables(kv, nt);
  if (rc)
    pmr__seterr(ctx, rc, "out of memory");
  rc = pmr__agree(ctx, rc);
  if (rc)
    return rc;
  kv->reduced = false;
  uint64_t lo, hi;
  pmr__split_range(n, ctx->size, ctx->rank, &lo, &hi);
  atomic_int stop = 0;
  int status = PMR_OK;
#pragma omp parallel num_threads(nt)
  {
    int tid = omp_get_thread_num();
    pmr_emitter em = {kv, &kv->tables[tid], tid, PMR_OK, 0};
    int st = PMR_OK;
#pragma omp for schedule(dynamic, 1024)
    for (uint64_t i = lo; i < hi; i++) {
      if (st || atomic_load_explicit(&stop, memory_order_relaxed))
        continue;
      if (fn(i, &em, user) != 0) {
        st = em.status ? em.status : PMR_ECALLBACK;
        atomic_store(&stop, 1);
      }
    }
#pragma omp critical(pmr_map_index_status)
    {
      if (st && !status)
        status = st;
      ctx->stats.emitted += em.emitted;
    }
  }
  ctx->stats.records += hi - lo;
  if (status)
    pmr__seterr(ctx, status, status == PMR_ECALLBACK
                                 ? "map callback failed"
                                 : "out of memory while mapping");
  ctx->stats.seconds[PMR_PHASE_MAP] += pmr__now() - t0;
  return pmr__agree(ctx, status);
}
