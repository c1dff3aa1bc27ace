/* Input files: checked once on rank 0, read with pread by any thread. */
#define _GNU_SOURCE /* O_CLOEXEC, pread */
#include "input/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define PMR__PROC_MAGIC 0x9fa0
#define PMR__SYSFS_MAGIC 0x62656572

int pmr__stat_files(pmr_ctx *ctx, const char *const *files, int nfiles,
                    uint64_t *sizes) {
  int rc = PMR_OK;
  char eb[128];
  if (ctx->rank == 0) {
    for (int i = 0; i < nfiles && !rc; i++) {
      struct stat st, ost;
      struct statfs fs;
      /* The type first: opening a FIFO blocks until a writer comes, and
       * opening some devices acts on them (a tape rewinds). */
      if (stat(files[i], &st) != 0) {
        rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot open '%s': %s",
                         files[i], pmr__strerror(errno, eb, sizeof eb));
        break;
      }
      if (S_ISDIR(st.st_mode)) {
        rc = pmr__seterr(ctx, PMR_EISDIR, "cannot read '%s': Is a directory",
                         files[i]);
        break;
      }
      if (!S_ISREG(st.st_mode)) {
        rc = pmr__seterr(ctx, PMR_EINVAL,
                         "cannot read '%s': not a regular file (%s)",
                         files[i],
                         S_ISFIFO(st.st_mode)   ? "a FIFO or pipe"
                         : S_ISCHR(st.st_mode)  ? "a character device"
                         : S_ISBLK(st.st_mode)  ? "a block device"
                         : S_ISSOCK(st.st_mode) ? "a socket"
                                                : "a special file");
        break;
      }
      if (statfs(files[i], &fs) == 0 &&
          (fs.f_type == PMR__PROC_MAGIC || fs.f_type == PMR__SYSFS_MAGIC)) {
        /* Their sizes are not their lengths (0 or 4096 whatever they
         * hold), so byte ranges cannot be planned on them. */
        rc = pmr__seterr(ctx, PMR_EINVAL,
                         "cannot read '%s': a /proc or /sys file, whose "
                         "size is not its length; copy it to a regular "
                         "file first",
                         files[i]);
        break;
      }
      int fd = open(files[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) {
        rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot open '%s': %s",
                         files[i], pmr__strerror(errno, eb, sizeof eb));
        break;
      }
      if (fstat(fd, &ost) != 0) {
        rc = pmr__seterr(ctx, pmr__errno_code(errno), "cannot stat '%s': %s",
                         files[i], pmr__strerror(errno, eb, sizeof eb));
      } else if (!S_ISREG(ost.st_mode)) { /* replaced since the stat */
        rc = pmr__seterr(ctx, PMR_EINVAL,
                         "cannot read '%s': not a regular file", files[i]);
      } else {
        char b;
        ssize_t got = pread(fd, &b, 1, 0);
        if (got < 0)
          rc = pmr__seterr(ctx, pmr__errno_code(errno),
                           "cannot read '%s': %s", files[i],
                           pmr__strerror(errno, eb, sizeof eb));
        else if (got > 0 && ost.st_size == 0)
          rc = pmr__seterr(ctx, PMR_EINVAL,
                           "cannot read '%s': its size is 0 but it holds "
                           "data; copy it to a regular file first",
                           files[i]);
        sizes[i] = (uint64_t)ost.st_size;
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
