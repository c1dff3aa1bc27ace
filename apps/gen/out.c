/* pmr-gen's files written by MPI-IO (text, records): each rank writes its
 * parts of one file under a temporary name in the output's directory, and
 * the file is renamed to its final name only when every rank succeeded. */
#define _GNU_SOURCE
#include "gen.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int gen_mpi_code(int mrc, const char *what, const char *path, char *msg,
                 size_t msglen) {
  if (mrc == MPI_SUCCESS)
    return 0;
  char es[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(mrc, es, &len);
  snprintf(msg, msglen, "cannot %s '%s': %s", what, path, es);
  int cls = 0;
  MPI_Error_class(mrc, &cls);
  switch (cls) {
  case MPI_ERR_ACCESS:
  case MPI_ERR_READ_ONLY:
    return PMR_EACCES;
  case MPI_ERR_NO_SUCH_FILE:
    return PMR_ENOENT;
  default: /* MPI_ERR_NO_SPACE, MPI_ERR_QUOTA, MPI_ERR_IO, ... */
    return PMR_EIO;
  }
}

int gen_agree(MPI_Comm comm, int rc, char *msg, size_t msglen) {
  int rank, in[2], out[2];
  MPI_Comm_rank(comm, &rank);
  in[0] = rc;
  in[1] = rank; /* ties go to the lowest rank */
  MPI_Allreduce(in, out, 1, MPI_2INT, MPI_MAXLOC, comm);
  if (!out[0])
    return 0;
  int from = out[1];
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", rank == from ? msg : "");
  MPI_Bcast(buf, (int)sizeof buf, MPI_CHAR, from, comm);
  snprintf(msg, msglen, "%s", buf);
  return out[0];
}

int gen_file_open(gen_file *f, MPI_Comm comm, const char *path, char *msg,
                  size_t msglen) {
  int rank, rc = 0;
  MPI_Comm_rank(comm, &rank);
  f->fh = MPI_FILE_NULL;
  f->have_tmp = 0;
  f->tmp[0] = '\0';
  /* The temporary name, next to the final one (rank 0 picks it). */
  if (rank == 0) {
    char *c1 = strdup(path), *c2 = strdup(path);
    if (c1 && c2) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      int len = snprintf(f->tmp, sizeof f->tmp, "%s/.%s.pmr-%ld-%lx.tmp",
                         dirname(c1), basename(c2), (long)getpid(),
                         (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
      if (len < 0 || (size_t)len >= sizeof f->tmp) {
        rc = PMR_EINVAL;
        snprintf(msg, msglen, "cannot create '%s': name too long", path);
      }
    } else {
      rc = PMR_ENOMEM;
      snprintf(msg, msglen, "out of memory");
    }
    free(c1), free(c2);
  }
  rc = gen_agree(comm, rc, msg, msglen);
  if (rc)
    return rc;
  MPI_Bcast(f->tmp, (int)sizeof f->tmp, MPI_CHAR, 0, comm);
  f->have_tmp = 1;
  rc = gen_mpi_code(
      MPI_File_open(comm, f->tmp,
                    MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_WRONLY,
                    MPI_INFO_NULL, &f->fh),
      "create", path, msg, msglen);
  rc = gen_agree(comm, rc, msg, msglen);
  if (rc)
    f->fh = MPI_FILE_NULL;
  return rc;
}

int gen_file_close(gen_file *f, MPI_Comm comm, int rc, const char *path,
                   char *msg, size_t msglen) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (f->fh != MPI_FILE_NULL) {
    int crc = gen_mpi_code(MPI_File_close(&f->fh), "write", path, msg, msglen);
    rc = gen_agree(comm, rc ? rc : crc, msg, msglen);
  }
  if (f->have_tmp && rank == 0) {
    if (rc) {
      unlink(f->tmp);
    } else if (rename(f->tmp, path) != 0) {
      int e = errno;
      rc = e == EACCES || e == EPERM ? PMR_EACCES
           : e == EISDIR             ? PMR_EISDIR
                                     : PMR_EIO;
      snprintf(msg, msglen, "cannot rename '%s' to '%s': %s", f->tmp, path,
               strerror(e));
      unlink(f->tmp);
    }
  }
  if (f->have_tmp)
    rc = gen_agree(comm, rc, msg, msglen);
  f->have_tmp = 0;
  return rc;
}

int gen_file_write(MPI_Comm comm, const char *path, gen_file *f, uint64_t off,
                   const char *buf, uint64_t len, char *msg, size_t msglen) {
  MPI_Status mst;
  int rc = gen_mpi_code(MPI_File_write_at_all(f->fh, (MPI_Offset)off, buf,
                                              (int)len, MPI_CHAR, &mst),
                        "write", path, msg, msglen);
  if (!rc) {
    int got = 0;
    MPI_Get_count(&mst, MPI_CHAR, &got);
    if ((uint64_t)got != len) {
      rc = PMR_EIO;
      snprintf(msg, msglen, "cannot write '%s': %d of %llu bytes written",
               path, got, (unsigned long long)len);
    }
  }
  return gen_agree(comm, rc, msg, msglen);
}
