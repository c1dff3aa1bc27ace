/* pmr-bench-sort-baseline: bench/sortapp.sh's yardstick for pmr-sort. One
 * process, one thread: read the whole file of 100-byte records into memory,
 * sort them by their 10-byte keys with an LSD radix sort (ten stable
 * passes of one byte over 16-byte entries: key and record index), and
 * write the records in that order. Equal keys keep their input order.
 *
 *   pmr-bench-sort-baseline IN OUT
 *
 * Prints "read S sort S write S" (seconds) on stderr. Exit 0, or 1 with a
 * message. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC 100
#define KEY 10

typedef struct entry {
  uint64_t hi;  /* key bytes 0..7, big-endian: compares as the bytes do */
  uint16_t lo;  /* key bytes 8..9 */
  uint16_t pad;
  uint32_t idx; /* record index */
} entry;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(const char *what, const char *path) {
  fprintf(stderr, "pmr-bench-sort-baseline: %s '%s': %s\n", what, path,
          strerror(errno));
  return 1;
}

/* Byte d of the key (0 = most significant). */
static inline unsigned digit(const entry *e, int d) {
  return d < 8 ? (unsigned)(e->hi >> (8 * (7 - d))) & 0xff
               : (unsigned)(e->lo >> (8 * (9 - d))) & 0xff;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: pmr-bench-sort-baseline IN OUT\n");
    return 2;
  }
  double t0 = now();
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0)
    return die("cannot open", argv[1]);
  size_t bytes = (size_t)st.st_size, n = bytes / REC;
  if (bytes % REC || n > UINT32_MAX) {
    fprintf(stderr, "pmr-bench-sort-baseline: '%s': not a whole number of "
                    "records below 2^32\n", argv[1]);
    return 1;
  }
  unsigned char *in = malloc(bytes ? bytes : 1);
  unsigned char *out = malloc(bytes ? bytes : 1);
  entry *a = malloc((n ? n : 1) * sizeof *a), *b = malloc((n ? n : 1) * sizeof *b);
  if (!in || !out || !a || !b) {
    fprintf(stderr, "pmr-bench-sort-baseline: out of memory\n");
    return 1;
  }
  for (size_t got = 0; got < bytes;) {
    ssize_t k = read(fd, in + got, bytes - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return die("cannot read", argv[1]);
    got += (size_t)k;
  }
  close(fd);
  double t1 = now();

  for (size_t i = 0; i < n; i++) {
    const unsigned char *r = in + i * REC;
    uint64_t hi = 0;
    for (int j = 0; j < 8; j++)
      hi = hi << 8 | r[j];
    a[i] = (entry){hi, (uint16_t)(r[8] << 8 | r[9]), 0, (uint32_t)i};
  }
  for (int d = KEY - 1; d >= 0; d--) {
    size_t count[256] = {0};
    for (size_t i = 0; i < n; i++)
      count[digit(&a[i], d)]++;
    size_t sum = 0;
    for (int c = 0; c < 256; c++) {
      size_t k = count[c];
      count[c] = sum;
      sum += k;
    }
    for (size_t i = 0; i < n; i++)
      b[count[digit(&a[i], d)]++] = a[i];
    entry *t = a;
    a = b;
    b = t;
  }
  for (size_t i = 0; i < n; i++)
    memcpy(out + i * REC, in + (size_t)a[i].idx * REC, REC);
  double t2 = now();

  fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return die("cannot create", argv[2]);
  for (size_t put = 0; put < bytes;) {
    ssize_t k = write(fd, out + put, bytes - put);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return die("cannot write", argv[2]);
    put += (size_t)k;
  }
  if (close(fd) != 0)
    return die("cannot write", argv[2]);
  double t3 = now();
  fprintf(stderr, "read %.3f sort %.3f write %.3f\n", t1 - t0, t2 - t1, t3 - t2);
  free(in), free(out), free(a), free(b);
  return 0;
}
