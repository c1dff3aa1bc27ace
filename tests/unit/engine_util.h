/* Helpers shared by the engine tests (test_engine, test_sources,
 * test_faults): agreement checks over a communicator, a scratch directory
 * made by rank 0, and small file utilities. Header-only, like check.h. */
#ifndef PMR_ENGINE_UTIL_H
#define PMR_ENGINE_UTIL_H

#include "check.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is `s` the same string on every rank of `comm`? (Two hashes compared by
 * min and max: equal everywhere iff min == max.) */
static inline int eu_same_str(MPI_Comm comm, const char *s) {
  uint64_t h[2] = {1469598103934665603ull, 5381}, lo[2], hi[2];
  for (const char *p = s; *p; p++) {
    h[0] = (h[0] ^ (unsigned char)*p) * 1099511628211ull;
    h[1] = h[1] * 33 + (unsigned char)*p;
  }
  MPI_Allreduce(h, lo, 2, MPI_UINT64_T, MPI_MIN, comm);
  MPI_Allreduce(h, hi, 2, MPI_UINT64_T, MPI_MAX, comm);
  return lo[0] == hi[0] && lo[1] == hi[1];
}

/* Is `v` the same on every rank of `comm`? */
static inline int eu_same_int(MPI_Comm comm, long long v) {
  long long lo, hi;
  MPI_Allreduce(&v, &lo, 1, MPI_LONG_LONG, MPI_MIN, comm);
  MPI_Allreduce(&v, &hi, 1, MPI_LONG_LONG, MPI_MAX, comm);
  return lo == hi;
}

/* A fresh directory under $TMPDIR (or /tmp), made by rank 0, its name on
 * every rank. */
static inline void eu_tmpdir(char *dir, size_t n, const char *tag) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  memset(dir, 0, n);
  if (rank == 0) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/pmr-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(dir)) {
      perror(dir);
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
  }
  MPI_Bcast(dir, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
}

/* Entries of a directory (not . and ..); -1 if it cannot be opened. */
static inline int eu_count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

/* Remove a directory and everything in it (one level of subdirectories is
 * enough for these tests). */
static inline void eu_rmtree(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[4096];
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
      continue;
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      eu_rmtree(p);
    else
      unlink(p);
  }
  if (d)
    closedir(d);
  rmdir(dir);
}

static inline void eu_write_file(const char *path, const void *data,
                                 size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n)) {
    perror(path);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  fclose(f);
}

/* A whole file into memory (malloc'ed, NUL appended); NULL if unreadable. */
static inline unsigned char *eu_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, len = 0;
  unsigned char *b = malloc(cap + 1);
  for (size_t got; (got = fread(b + len, 1, cap - len, f)) > 0;) {
    len += got;
    if (len == cap)
      b = realloc(b, (cap *= 2) + 1);
  }
  fclose(f);
  b[len] = 0;
  *n = len;
  return b;
}

/* Big-endian integers, so that memcmp order of encoded keys is numeric
 * order (pmr_kv_gather delivers keys in memcmp order). */
static inline void eu_put_be(unsigned char *p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--, v >>= 8)
    p[i] = (unsigned char)v;
}
static inline uint64_t eu_get_be(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v = v << 8 | p[i];
  return v;
}

#endif
