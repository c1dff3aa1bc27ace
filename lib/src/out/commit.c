/* Output files appear under their final name only when complete: they are
 * written to a temporary name in the same directory, then renamed. */
#define _GNU_SOURCE
#include "out/out.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <limits.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The temporary name of an output: ".<base>.pmr-<host>-<pid>-<hex>.tmp" in
 * the output's directory, <base> shortened so that the name fits NAME_MAX.
 * The host and rank 0's pid let a later run tell a leftover of a killed run
 * (same host, pid no longer alive) from the file of a run in progress. */
#define PMR__TMP_MARK ".pmr-"
#define PMR__HOST_MAX 24

static void pmr__host_tag(char *h, size_t n) {
  char raw[256] = "";
  if (gethostname(raw, sizeof raw - 1) != 0 || !raw[0])
    strcpy(raw, "host");
  size_t k = 0;
  for (const char *p = raw; *p && *p != '.' && k + 1 < n; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9');
    h[k++] = ok ? c : '_';
  }
  h[k] = '\0';
}

static int pmr__tmp_name(char *tmp, size_t tmpsz, const char *dir,
                         const char *base) {
  char host[PMR__HOST_MAX + 1];
  pmr__host_tag(host, sizeof host);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char tail[96];
  snprintf(tail, sizeof tail, PMR__TMP_MARK "%s-%ld-%lx.tmp", host,
           (long)getpid(), (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
  /* The base is cut to 64 bytes: Open MPI's shared-file-pointer
   * components build names from the file name in fixed buffers. */
  size_t room = 64, blen = strlen(base);
  if (blen > room)
    blen = room;
  int len = snprintf(tmp, tmpsz, "%s/.%.*s%s", dir, (int)blen, base, tail);
  if (len < 0 || (size_t)len >= tmpsz) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* Remove the leftovers of killed runs from `dir`: hidden files named like
 * our temporary files, from this host, whose pid is no longer alive, owned
 * by us. Rank 0, best effort: a file we cannot remove is left. */
static void pmr__sweep(pmr_ctx *ctx, const char *dir) {
  char host[PMR__HOST_MAX + 1];
  pmr__host_tag(host, sizeof host);
  size_t hl = strlen(host);
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name, *m = NULL;
    size_t len = strlen(n);
    if (n[0] != '.' || len < 5 || strcmp(n + len - 4, ".tmp"))
      continue;
    for (const char *p = strstr(n, PMR__TMP_MARK); p;
         p = strstr(p + 1, PMR__TMP_MARK))
      m = p; /* the last mark: the base may hold one too */
    if (!m || strncmp(m + 5, host, hl) || m[5 + hl] != '-')
      continue;
    char *end;
    errno = 0;
    long pid = strtol(m + 6 + hl, &end, 10);
    if (errno || pid <= 0 || *end != '-')
      continue;
    char *end2;
    strtoul(end + 1, &end2, 16);
    if (end2 == end + 1 || strcmp(end2, ".tmp"))
      continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue; /* alive, or not ours to judge */
    struct stat st;
    if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_uid != geteuid())
      continue;
    if (unlinkat(dirfd(d), n, 0) == 0)
      pmr__log(ctx, PMR_LOG_INFO, "removed '%s/%s', left by a killed run",
               dir, n);
  }
  closedir(d);
}

/* Identity of an output: the file when it exists, else its directory and
 * base name (so "x", "./x" and "d/../x" are the same output). */
typedef struct pmr__oid {
  dev_t dev;
  ino_t ino;
  const char *base; /* NULL when the file exists */
} pmr__oid;

static bool pmr__oid_same(const pmr__oid *a, const pmr__oid *b) {
  if (a->dev != b->dev || a->ino != b->ino)
    return false;
  if (!a->base || !b->base)
    return !a->base && !b->base;
  return !strcmp(a->base, b->base);
}

/* Whether the open file is an HDF5 file: its signature at 0, 512, 1024,
 * 2048, ... (after a user block). */
static bool pmr__is_h5(int fd, off_t size) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a,
                                       '\n'};
  unsigned char b[8];
  for (off_t at = 0; at + 8 <= size; at = at ? at * 2 : 512)
    if (pread(fd, b, 8, at) == 8 && !memcmp(b, sig, 8))
      return true;
  return false;
}

/* Rank 0's check of one output: a regular file (or nothing yet) in an
 * existing writable directory, replaceable there, and not the same file as
 * an input. Creating (and removing) a probe file is the one test that also
 * catches read-only mounts and quotas of zero. With `tmp`, also the
 * temporary name. *id gets the output's identity. */
static int pmr__check_one(pmr_ctx *ctx, const char *path, bool h5,
                          const char *const *inputs, int nin, char *tmp,
                          size_t tmpsz, pmr__oid *id, char **keep) {
  struct stat st, dst;
  char eb[128];
  if (!path || !*path)
    return pmr__seterr(ctx, PMR_EINVAL, "empty output file name");
  size_t plen = strlen(path);
  if (path[plen - 1] == '/')
    return pmr__seterr(ctx, PMR_EINVAL,
                       "cannot write '%s': an output must be a file name, "
                       "not end with '/'",
                       path);
  int exists = lstat(path, &st) == 0;
  if (exists && S_ISLNK(st.st_mode)) {
    /* A link is replaced by the file; what it points to must still not be
     * special (or an input: checked below, through the link). */
    if (stat(path, &st) != 0)
      exists = 0; /* dangling: replaced */
  }
  if (exists && S_ISDIR(st.st_mode))
    return pmr__seterr(ctx, PMR_EISDIR, "cannot write '%s': Is a directory",
                       path);
  if (exists && !S_ISREG(st.st_mode))
    return pmr__seterr(ctx, PMR_EINVAL,
                       "cannot write '%s': not a regular file (a device, "
                       "FIFO or socket); outputs are new regular files",
                       path);
  if (exists && h5 && st.st_size > 0) {
    /* An HDF5 output replaces only an HDF5 file: "-o *.txt" expands to
     * "-o a.txt b.txt" and would destroy a.txt. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    bool ok = fd >= 0 && pmr__is_h5(fd, st.st_size);
    if (fd >= 0)
      close(fd);
    if (!ok)
      return pmr__seterr(ctx, PMR_EINVAL,
                         "cannot write '%s': it exists and is not an HDF5 "
                         "file; not replacing it (remove it first)",
                         path);
  }
  for (int i = 0; exists && i < nin; i++) {
    struct stat is;
    if (inputs[i] && stat(inputs[i], &is) == 0 && is.st_dev == st.st_dev &&
        is.st_ino == st.st_ino)
      return pmr__seterr(ctx, PMR_EINVAL,
                         "cannot write '%s': it is the input '%s'; choose "
                         "another output name",
                         path, inputs[i]);
  }
  char *copy = pmr__strdup(path), *copy2 = pmr__strdup(path);
  if (!copy || !copy2) {
    pmr__free(copy);
    pmr__free(copy2);
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  }
  char *dir = dirname(copy), *base = basename(copy2);
  int rc = PMR_OK;
  if (!strcmp(base, ".") || !strcmp(base, "..")) {
    rc = pmr__seterr(ctx, PMR_EISDIR, "cannot write '%s': Is a directory",
                     path);
  } else if (stat(dir, &dst) != 0) {
    rc = pmr__seterr(ctx, pmr__errno_code(errno),
                     "cannot create '%s': directory '%s': %s", path, dir,
                     pmr__strerror(errno, eb, sizeof eb));
  } else if (!S_ISDIR(dst.st_mode)) {
    rc = pmr__seterr(ctx, PMR_ENOENT,
                     "cannot create '%s': '%s' is not a directory", path, dir);
  } else if (exists && (dst.st_mode & S_ISVTX) && geteuid() != 0 &&
             st.st_uid != geteuid() && dst.st_uid != geteuid()) {
    /* rename() may not replace another user's file in a sticky
     * directory (/tmp): say so now, not after the work. */
    rc = pmr__seterr(ctx, PMR_EACCES,
                     "cannot replace '%s': it belongs to another user in a "
                     "sticky directory",
                     path);
  } else {
    char probe[PATH_MAX];
    char *t = tmp ? tmp : probe;
    size_t tsz = tmp ? tmpsz : sizeof probe;
    int fd = pmr__tmp_name(t, tsz, dir, base) != 0
                 ? -1
                 : open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot create '%s': %s",
                       path, pmr__strerror(errno, eb, sizeof eb));
    } else {
      close(fd);
      unlink(t);
    }
  }
  if (!rc) {
    id->dev = exists ? st.st_dev : dst.st_dev;
    id->ino = exists ? st.st_ino : dst.st_ino;
    id->base = exists ? NULL : base;
  }
  if (!rc && tmp)
    pmr__sweep(ctx, dir);
  pmr__free(copy);
  if (keep && !rc)
    *keep = copy2; /* id->base points into it */
  else
    pmr__free(copy2);
  return rc;
}

static int pmr__check_all(pmr_ctx *ctx, const char *const *outputs, int nout,
                          unsigned h5, const char *const *inputs, int nin) {
  pmr__oid *ids = pmr__calloc((size_t)(nout > 0 ? nout : 1), sizeof *ids);
  char **keep = pmr__calloc((size_t)(nout > 0 ? nout : 1), sizeof *keep);
  int rc = ids && keep ? PMR_OK
                       : pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  for (int i = 0; !rc && i < nout; i++) {
    rc = pmr__check_one(ctx, outputs[i], i < 32 && (h5 >> i) & 1, inputs,
                        nin, NULL, 0, &ids[i], &keep[i]);
    for (int j = 0; !rc && j < i; j++)
      if (pmr__oid_same(&ids[i], &ids[j]))
        rc = pmr__seterr(ctx, PMR_EINVAL,
                         "cannot write '%s' twice: it is also the output "
                         "'%s'",
                         outputs[i], outputs[j]);
  }
  for (int i = 0; keep && i < nout; i++)
    pmr__free(keep[i]);
  pmr__free(keep);
  pmr__free(ids);
  return rc;
}

int pmr_check_outputs(pmr_ctx *ctx, const char *const *outputs, int nout,
                      unsigned h5, const char *const *inputs, int nin) {
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree_arg(ctx, nout < 0 || nin < 0 || (nout && !outputs) ||
                                   (nin && !inputs),
                          "pmr_check_outputs: invalid argument");
  if (rc)
    return rc;
  rc = ctx->rank == 0 ? pmr__check_all(ctx, outputs, nout, h5, inputs, nin)
                      : PMR_OK;
  return pmr__agree(ctx, rc);
}

int pmr_check_output(pmr_ctx *ctx, const char *path) {
  return pmr_check_outputs(ctx, &path, 1, 0, NULL, 0);
}

int pmr__out_begin(pmr_ctx *ctx, const char *path, bool h5, char **out) {
  char tmp[PATH_MAX] = {0};
  pmr__oid id;
  *out = NULL;
  int rc = ctx->rank == 0 ? pmr__check_one(ctx, path, h5, NULL, 0, tmp,
                                           sizeof tmp, &id, NULL)
                          : PMR_OK;
  rc = pmr__agree(ctx, rc);
  if (rc)
    return rc;
  rc = pmr__agree_mpi(ctx, MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, ctx->comm),
                      "MPI_Bcast of the temporary name");
  if (rc)
    return rc;
  tmp[sizeof tmp - 1] = '\0';
  *out = pmr__strdup(tmp);
  rc = *out ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  rc = pmr__agree(ctx, rc);
  if (rc) {
    /* Callers return at once on failure: the copies that were made on the
     * other ranks are theirs to free here. */
    pmr__free(*out);
    *out = NULL;
    return rc;
  }
  pmr__tmp_register(*out);
  return rc;
}

int pmr__out_reserve(pmr_ctx *ctx, const char *tmp, const char *path,
                     uint64_t bytes, bool probe) {
  int lrc = PMR_OK;
  char eb[128];
  if (ctx->rank == 0 && tmp && bytes > 0) {
    int fd = probe ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                   : open(tmp, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 &&
        fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size,
                  (off_t)(bytes > INT64_MAX / 2 ? INT64_MAX / 2 : bytes)) !=
            0 &&
        (errno == ENOSPC || errno == EDQUOT || errno == EFBIG))
      lrc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot write '%s': %s",
                        path, pmr__strerror(errno, eb, sizeof eb));
    if (fd >= 0)
      close(fd);
    if (fd >= 0 && probe)
      unlink(tmp);
  }
  return pmr__agree(ctx, lrc);
}

/* Give back the space reserved past the end of a finished file. */
static void pmr__out_trim(const char *tmp) {
  int fd = open(tmp, O_WRONLY | O_CLOEXEC);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      (uint64_t)st.st_blocks * 512 > (uint64_t)st.st_size)
    if (ftruncate(fd, st.st_size) != 0) { /* best effort */
    }
  if (fd >= 0)
    close(fd);
}

/* Rank 0: rename every held file to its name, in order. */
static int pmr__publish(pmr_ctx *ctx, const char *tmp, const char *path) {
  char eb[128];
  if (rename(tmp, path) == 0)
    return PMR_OK;
  int rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot write '%s': %s",
                       path, pmr__strerror(errno, eb, sizeof eb));
  unlink(tmp);
  return rc;
}

int pmr__out_finish(pmr_ctx *ctx, int rc, const char *path, char **tmp) {
  rc = pmr__agree(ctx, rc);
  int lrc = PMR_OK;
  if (ctx->rank == 0 && *tmp) {
    if (rc) {
      unlink(*tmp);
    } else if (pmr__out_trim(*tmp), ctx->holding) {
      /* Held: published with the others by pmr_outputs_publish. */
      int n = ctx->nheld;
      char **t = pmr__realloc(ctx->held_tmp, (size_t)(n + 1) * sizeof *t);
      if (t)
        ctx->held_tmp = t;
      char **p = pmr__realloc(ctx->held_path, (size_t)(n + 1) * sizeof *p);
      if (p)
        ctx->held_path = p;
      char *pc = t && p ? pmr__strdup(path) : NULL;
      if (pc) {
        ctx->held_tmp[n] = *tmp;
        ctx->held_path[n] = pc;
        ctx->nheld = n + 1;
        *tmp = NULL; /* the list owns it now; still registered */
      } else {
        lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
        unlink(*tmp);
      }
    } else {
      lrc = pmr__publish(ctx, *tmp, path);
    }
  }
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  if (*tmp)
    pmr__tmp_unregister(*tmp);
  pmr__free(*tmp);
  *tmp = NULL;
  return rc;
}

int pmr_outputs_hold(pmr_ctx *ctx) {
  if (!ctx)
    return PMR_EINVAL;
  ctx->holding = 1;
  return PMR_OK;
}

int pmr_outputs_publish(pmr_ctx *ctx, int status) {
  if (!ctx)
    return PMR_EINVAL;
  int rc = pmr__agree(ctx, status);
  int lrc = PMR_OK;
  if (ctx->rank == 0) {
    for (int i = 0; !rc && !lrc && i < ctx->nheld; i++)
      lrc = pmr__publish(ctx, ctx->held_tmp[i], ctx->held_path[i]);
    pmr__held_drop(ctx, true);
  }
  ctx->holding = 0;
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  return rc;
}

int pmr__copy_file(pmr_ctx *ctx, const char *from, const char *to) {
  char eb[128];
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return pmr__seterr(ctx, pmr__errno_code(errno), "cannot open '%s': %s",
                       from, pmr__strerror(errno, eb, sizeof eb));
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int e = errno;
    close(in);
    return pmr__seterr(ctx, pmr__errno_code(e), "cannot create '%s': %s", to,
                       pmr__strerror(e, eb, sizeof eb));
  }
  int rc = PMR_OK;
  char *buf = pmr__malloc((size_t)1 << 20);
  if (!buf)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory copying '%s'", from);
  for (;;) {
    if (rc)
      break;
    ssize_t n = read(in, buf, (size_t)1 << 20);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = pmr__seterr(ctx, PMR_EIO, "cannot read '%s': %s", from,
                       pmr__strerror(errno, eb, sizeof eb));
      break;
    }
    if (n == 0)
      break;
    for (ssize_t w = 0; w < n && !rc;) {
      ssize_t k = write(out, buf + w, (size_t)(n - w));
      if (k < 0 && errno == EINTR)
        continue;
      if (k < 0)
        rc = pmr__seterr(ctx, pmr__errno_code(errno),
                         "cannot write '%s': %s", to,
                         pmr__strerror(errno, eb, sizeof eb));
      else
        w += k;
    }
  }
  pmr__free(buf);
  close(in);
  if (close(out) != 0 && !rc)
    rc = pmr__seterr(ctx, PMR_EIO, "cannot write '%s': %s", to,
                     pmr__strerror(errno, eb, sizeof eb));
  return rc;
}
