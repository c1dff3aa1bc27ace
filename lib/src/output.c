/* Output files appear under their final name only when complete: they are
 * written to a temporary name in the same directory, then renamed. */
#define _GNU_SOURCE
#include "pmr_internal.h"

#include <errno.h>
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
  if (!path || !*path)
    return pmr__seterr(ctx, PMR_EINVAL, "empty output file name");
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return pmr__seterr(ctx, PMR_EISDIR, "cannot write '%s': Is a directory",
                       path);
  char *copy = strdup(path);
  if (!copy)
    return pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  char *dir = dirname(copy);
  char *copy2 = strdup(path);
  char *base = copy2 ? basename(copy2) : NULL;
  int rc = PMR_OK;
  if (!base) {
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  } else if (stat(dir, &st) != 0) {
    rc = pmr__seterr(ctx, pmr__errno_code(errno),
                     "cannot create '%s': directory '%s': %s", path, dir,
                     strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    rc = pmr__seterr(ctx, PMR_ENOENT,
                     "cannot create '%s': '%s' is not a directory", path, dir);
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(tmp, tmpsz, "%s/.%s.pmr-%ld-%lx.tmp", dir, base, (long)getpid(),
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot create '%s': %s",
                       path, strerror(errno));
    } else {
      close(fd);
      unlink(tmp);
    }
  }
  free(copy);
  free(copy2);
  return rc;
}

int pmr_check_output(pmr_ctx *ctx, const char *path) {
  char tmp[4096];
  int rc = ctx->rank == 0 ? pmr__check_local(ctx, path, tmp, sizeof tmp)
                          : PMR_OK;
  return pmr__agree(ctx, rc);
}

int pmr__out_begin(pmr_ctx *ctx, const char *path, char **out) {
  char tmp[4096] = {0};
  *out = NULL;
  int rc = ctx->rank == 0 ? pmr__check_local(ctx, path, tmp, sizeof tmp)
                          : PMR_OK;
  rc = pmr__agree(ctx, rc);
  if (rc)
    return rc;
  if (MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, ctx->comm) != MPI_SUCCESS)
    return pmr__agree(ctx, pmr__seterr(ctx, PMR_EMPI, "MPI_Bcast failed"));
  tmp[sizeof tmp - 1] = '\0';
  *out = strdup(tmp);
  rc = *out ? PMR_OK : pmr__seterr(ctx, PMR_ENOMEM, "out of memory");
  return pmr__agree(ctx, rc);
}

int pmr__out_finish(pmr_ctx *ctx, int rc, const char *path, char **tmp) {
  rc = pmr__agree(ctx, rc);
  int lrc = PMR_OK;
  if (ctx->rank == 0 && *tmp) {
    if (rc) {
      unlink(*tmp);
    } else if (rename(*tmp, path) != 0) {
      lrc = pmr__seterr(ctx, pmr__errno_code(errno),
                        "cannot rename '%s' to '%s': %s", *tmp, path,
                        strerror(errno));
      unlink(*tmp);
    }
  }
  if (!rc)
    rc = pmr__agree(ctx, lrc);
  free(*tmp);
  *tmp = NULL;
  return rc;
}
