/* Output files appear under their final name only when complete: they are
 * written to a temporary name in the same directory, then renamed. */
#define _GNU_SOURCE
#include "out/out.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Rank 0's check: the directory exists and takes a new file, and `path` is
 * not a directory. Creating (and removing) a probe file is the one test
 * that also catches read-only mounts and quotas of zero. */
static int pmr__check_local(pmr_ctx *ctx, const char *path, char *tmp,
                            size_t tmpsz) {
  struct stat st;
  char eb[128];
  if (!path || !*path)
    return pmr__seterr(ctx, PMR_EINVAL, "empty output file name");
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return pmr__seterr(ctx, PMR_EISDIR, "cannot write '%s': Is a directory",
                       path);
  char *copy = pmr__strdup(path);
  if (!copy)
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  char *dir = dirname(copy);
  char *copy2 = pmr__strdup(path);
  char *base = copy2 ? basename(copy2) : NULL;
  int rc = PMR_OK;
  if (!base) {
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  } else if (stat(dir, &st) != 0) {
    rc = pmr__seterr(ctx, pmr__errno_code(errno),
                     "cannot create '%s': directory '%s': %s", path, dir,
                     pmr__strerror(errno, eb, sizeof eb));
  } else if (!S_ISDIR(st.st_mode)) {
    rc = pmr__seterr(ctx, PMR_ENOENT,
                     "cannot create '%s': '%s' is not a directory", path, dir);
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int len = snprintf(tmp, tmpsz, "%s/.%s.pmr-%ld-%lx.tmp", dir, base,
                       (long)getpid(), (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
    int fd = len < 0 || (size_t)len >= tmpsz
                 ? (errno = ENAMETOOLONG, -1)
                 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot create '%s': %s",
                       path, pmr__strerror(errno, eb, sizeof eb));
    } else {
      close(fd);
      unlink(tmp);
    }
  }
  pmr__free(copy);
  pmr__free(copy2);
  return rc;
}

int pmr_check_output(pmr_ctx *ctx, const char *path) {
  char tmp[PATH_MAX];
  int rc = ctx->rank == 0 ? pmr__check_local(ctx, path, tmp, sizeof tmp)
                          : PMR_OK;
  return pmr__agree(ctx, rc);
}

int pmr__out_begin(pmr_ctx *ctx, const char *path, char **out) {
  char tmp[PATH_MAX] = {0};
  *out = NULL;
  int rc = ctx->rank == 0 ? pmr__check_local(ctx, path, tmp, sizeof tmp)
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
  }
  return rc;
}

int pmr__out_finish(pmr_ctx *ctx, int rc, const char *path, char **tmp) {
  rc = pmr__agree(ctx, rc);
  int lrc = PMR_OK;
  char eb[128];
  if (ctx->rank == 0 && *tmp) {
    if (rc) {
      unlink(*tmp);
    } else if (rename(*tmp, path) != 0) {
      lrc = pmr__seterr(ctx, pmr__errno_code(errno),
                        "cannot rename '%s' to '%s': %s", *tmp, path,
                        pmr__strerror(errno, eb, sizeof eb));
      unlink(*tmp);
    }
  }
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  pmr__free(*tmp);
  *tmp = NULL;
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
