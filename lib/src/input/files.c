/* Input files: checked once on rank 0, read with pread by any thread. */
#define _GNU_SOURCE /* O_CLOEXEC, pread */
#include "input/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int pmr__stat_files(pmr_ctx *ctx, const char *const *files, int nfiles,
                    uint64_t *sizes) {
  int rc = PMR_OK;
  char eb[128];
  if (ctx->rank == 0) {
    for (int i = 0; i < nfiles && !rc; i++) {
      struct stat st;
      int fd = open(files[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot open '%s': %s",
                         files[i], pmr__strerror(errno, eb, sizeof eb));
        break;
      }
      if (fstat(fd, &st) != 0) {
        rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot stat '%s': %s",
                         files[i], pmr__strerror(errno, eb, sizeof eb));
      } else if (S_ISDIR(st.st_mode)) {
        rc = pmr__seterr(ctx, PMR_EISDIR, "cannot read '%s': Is a directory",
                         files[i]);
      } else if (!S_ISREG(st.st_mode)) {
        rc = pmr__seterr(ctx, PMR_EINVAL,
                         "cannot read '%s': not a regular file", files[i]);
      } else {
        char b;
        if (st.st_size > 0 && pread(fd, &b, 1, 0) < 0)
          rc = pmr__seterr(ctx, pmr__errno_code(errno),
                           "cannot read '%s': %s", files[i],
                           pmr__strerror(errno, eb, sizeof eb));
        sizes[i] = (uint64_t)st.st_size;
      }
      close(fd);
    }
  }
  rc = pmr__agree(ctx, rc);
  if (!rc)
    rc = pmr__agree_mpi(ctx,
                        MPI_Bcast(sizes, nfiles, MPI_UINT64_T, 0, ctx->comm),
                        "MPI_Bcast of the input sizes");
  return rc;
}

long long pmr__pread_full(int fd, void *buf, size_t len, uint64_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (long long)got;
}

int pmr__src_errno(pmr_emitter *em, int code, const char *what,
                   const char *name, int err) {
  char eb[128];
  snprintf(em->msg, PMR__ERRMSG_MAX, "%s '%s': %s", what, name,
           pmr__strerror(err, eb, sizeof eb));
  return code;
}
