/* pmr-gen text: a corpus whose word frequencies follow Zipf's law.
 *
 * The word of rank r (0 = most frequent) is drawn with probability
 * proportional to 1 / (r + 1)^s. The spelling of every rank is a fixed
 * function of r alone (lower-case ASCII, 2..12 letters, frequent words tend
 * to be short), so corpora of any seed or size share one vocabulary. Lines
 * hold 10..15 words separated by one space and end with '\n'; the file is
 * exactly SIZE bytes and ends with '\n' (the last line is cut short).
 *
 * Line j is a function of (seed, j) alone: its word count and its words are
 * words 16j .. 16j + 15 of the text stream (rng.h), the count from word 16j
 * (10 + w mod 6), word m of the line (m = 1..count) drawn from word 16j + m
 * by Walker's alias method (one draw, one table access). The file is the
 * lines in order, cut at SIZE bytes, so it does not depend on how the lines
 * are shared out: ranks take blocks of lines in rounds, generate them on
 * their threads, agree on where each rank's bytes go (an all-gather of the
 * byte counts) and write them with one collective MPI-IO call per round. */
#define _GNU_SOURCE
#include "gen.h"
#include "rng.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIN_LEN 2
#define MAX_LEN 12
#define LINE_WORDS_MIN 10
#define LINE_WORDS_MAX 15
#define PAD 16 /* words are copied 16 bytes at a time */
/* Lines per block: small enough that a few ranks x threads share a corpus
 * of a few MB, large enough that a block's overheads vanish. The output
 * does not depend on it. */
#define BLOCK_LINES 1024u
#define BLOCK_MAX (BLOCK_LINES * LINE_WORDS_MAX * (MAX_LEN + 1) + PAD)

/* --- the vocabulary (as data/gen_zipf.c spelled it) ----------------------- */

typedef struct vocab {
  char *arena;   /* all words, each followed by PAD spare bytes */
  uint64_t *off; /* word r = arena[off[r] .. off[r] + len[r]) */
  uint8_t *len;
  uint32_t nwords;
} vocab;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t hash_word(const char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: only for the set below */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

static void vocab_free(vocab *v) {
  free(v->arena);
  free(v->off);
  free(v->len);
  memset(v, 0, sizeof *v);
}

/* Spelling of rank r: letters and length come from a hash of (r, salt); the
 * salt is bumped on the rare collision with an earlier rank, which keeps the
 * words distinct while still a function of r alone (ranks are spelled in
 * order). Longer words become possible as r grows, as in real text.
 * Returns 0 or PMR_ENOMEM. */
static int vocab_build(vocab *v, uint32_t n) {
  memset(v, 0, sizeof *v);
  v->nwords = n;
  v->arena = malloc((size_t)n * (MAX_LEN + 1) + PAD);
  v->off = malloc(sizeof *v->off * n);
  v->len = malloc(n);
  size_t cap = 1;
  while (cap < (size_t)n * 2)
    cap <<= 1;
  uint32_t *set = calloc(cap, sizeof *set); /* rank + 1, 0 = empty */
  if (!v->arena || !v->off || !v->len || !set) {
    free(set);
    vocab_free(v);
    return PMR_ENOMEM;
  }
  uint64_t pos = 0;
  for (uint32_t r = 0; r < n; r++) {
    int lg = 0;
    while ((2ull << lg) <= (uint64_t)r + 1)
      lg++;
    int extra = 1 + lg * 2 / 3; /* rank 0: 2..3 letters, 200000: 2..12 */
    if (extra > MAX_LEN - MIN_LEN)
      extra = MAX_LEN - MIN_LEN;
    for (uint64_t salt = 0;; salt++) {
      uint64_t st = ((uint64_t)r << 20) ^ (salt * 0x5851f42d4c957f2dull);
      uint64_t h = splitmix64(&st);
      int L = MIN_LEN + (int)(h % (uint64_t)(extra + 1));
      char *w = v->arena + pos;
      for (int i = 0; i < L; i++) {
        if (i % 12 == 0)
          h = splitmix64(&st);
        w[i] = (char)('a' + (h % 26));
        h /= 26;
      }
      size_t k = hash_word(w, (size_t)L) & (cap - 1);
      int dup = 0;
      while (set[k]) {
        uint32_t o = set[k] - 1;
        if (v->len[o] == L && !memcmp(v->arena + v->off[o], w, (size_t)L)) {
          dup = 1;
          break;
        }
        k = (k + 1) & (cap - 1);
      }
      if (dup)
        continue;
      set[k] = r + 1;
      v->off[r] = pos;
      v->len[r] = (uint8_t)L;
      pos += (uint64_t)L;
      break;
    }
  }
  memset(v->arena + pos, 0, PAD);
  free(set);
  return 0;
}

/* --- Walker's alias table for P(r) ~ 1/(r+1)^s ---------------------------- */

/* Slot i of the table: a uniform index i is kept with probability
 * thresh / 2^32, else replaced by its alias. Both words are stored in the
 * slot, so a draw reads one 32-byte slot (one cache line) instead of
 * chasing the alias, an offset and the letters: with a vocabulary of
 * megabytes those cache misses are most of the cost. */
typedef struct alias_slot {
  uint32_t thresh;
  uint8_t len[2]; /* of word[0] (rank i) and word[1] (its alias) */
  char pad[2];
  char word[2][MAX_LEN];
} alias_slot;

/* Builds the table (with one spare slot: words are copied 16 bytes at a
 * time); *mean_len = the expected word length. Returns 0 or PMR_ENOMEM. */
static int alias_build(alias_slot **out, const vocab *v, double s,
                       double *mean_len) {
  uint32_t n = v->nwords;
  double *p = malloc(sizeof *p * n);
  uint32_t *small = malloc(sizeof *small * n);
  uint32_t *large = malloc(sizeof *large * n);
  uint32_t *alias = malloc(sizeof *alias * n);
  alias_slot *slot = calloc((size_t)n + 1, sizeof *slot);
  if (!p || !small || !large || !alias || !slot) {
    free(p), free(small), free(large), free(alias), free(slot);
    return PMR_ENOMEM;
  }
  double sum = 0, lsum = 0;
  for (uint32_t i = 0; i < n; i++) {
    sum += p[i] = pow((double)i + 1.0, -s);
    lsum += p[i] * v->len[i];
  }
  *mean_len = lsum / sum;
  uint32_t ns = 0, nl = 0;
  for (uint32_t i = 0; i < n; i++) {
    p[i] = p[i] * n / sum;
    if (p[i] < 1.0)
      small[ns++] = i;
    else
      large[nl++] = i;
  }
  while (ns && nl) {
    uint32_t sm = small[--ns], lg = large[nl - 1];
    slot[sm].thresh = (uint32_t)fmin(p[sm] * 4294967296.0, 4294967295.0);
    alias[sm] = lg;
    p[lg] -= 1.0 - p[sm];
    if (p[lg] < 1.0) {
      nl--;
      small[ns++] = lg;
    }
  }
  while (nl) { /* leftovers are 1 up to rounding */
    uint32_t i = large[--nl];
    slot[i].thresh = UINT32_MAX;
    alias[i] = i;
  }
  while (ns) {
    uint32_t i = small[--ns];
    slot[i].thresh = UINT32_MAX;
    alias[i] = i;
  }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t r[2] = {i, alias[i]};
    for (int h = 0; h < 2; h++) {
      slot[i].len[h] = v->len[r[h]];
      memcpy(slot[i].word[h], v->arena + v->off[r[h]], v->len[r[h]]);
    }
  }
  free(p), free(small), free(large), free(alias);
  *out = slot;
  return 0;
}

/* --- blocks of lines ------------------------------------------------------ */

/* Lines [first, first + BLOCK_LINES) into out (BLOCK_MAX bytes of room).
 * Returns the bytes written. */
static size_t text_block(uint64_t seed, uint32_t nwords, const alias_slot *a,
                         uint64_t first, char *out) {
  size_t n = 0;
  for (uint64_t j = first; j < first + BLOCK_LINES; j++) {
    /* The draws first, then the table: the line's slot reads are then
     * independent of each other and overlap. */
    uint64_t w[2 * GEN_LANES];
    gen_pairs8(seed, GEN_STREAM_TEXT, j * 8, w);
    int nw =
        LINE_WORDS_MIN + (int)(w[0] % (LINE_WORDS_MAX - LINE_WORDS_MIN + 1));
    const alias_slot *sl[LINE_WORDS_MAX + 1];
    unsigned pick[LINE_WORDS_MAX + 1];
    for (int m = 1; m <= nw; m++) {
      uint64_t u = w[m];
      sl[m] = a + (((u >> 32) * (uint64_t)nwords) >> 32);
      __builtin_prefetch(sl[m]);
    }
    for (int m = 1; m <= nw; m++)
      pick[m] = (uint32_t)w[m] >= sl[m]->thresh;
    for (int m = 1; m <= nw; m++) {
      memcpy(out + n, sl[m]->word[pick[m]], PAD);
      n += sl[m]->len[pick[m]];
      out[n++] = ' ';
    }
    out[n - 1] = '\n';
  }
  return n;
}

/* --- MPI-IO --------------------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int mpi_code(int mrc, const char *what, const char *path, char *msg,
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
  case MPI_ERR_NO_SPACE:
  case MPI_ERR_QUOTA:
  case MPI_ERR_IO:
    return PMR_EIO;
  case MPI_ERR_ACCESS:
  case MPI_ERR_READ_ONLY:
    return PMR_EACCES;
  case MPI_ERR_NO_SUCH_FILE:
    return PMR_ENOENT;
  default:
    return PMR_EIO;
  }
}

/* Agree on the worst code; the rank that failed first (lowest rank with the
 * largest code) sends its message to every rank. */
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

int gen_file_open(MPI_Comm comm, const char *path, gen_file *f, char *msg,
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
  rc = mpi_code(MPI_File_open(comm, f->tmp,
                              MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_WRONLY,
                              MPI_INFO_NULL, &f->fh),
                "create", path, msg, msglen);
  rc = gen_agree(comm, rc, msg, msglen);
  if (rc)
    f->fh = MPI_FILE_NULL;
  return rc;
}

int gen_file_close(MPI_Comm comm, const char *path, gen_file *f, int rc,
                   char *msg, size_t msglen) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (f->fh != MPI_FILE_NULL) {
    int crc = mpi_code(MPI_File_close(&f->fh), "write", path, msg, msglen);
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
  int rc = mpi_code(MPI_File_write_at_all(f->fh, (MPI_Offset)off, buf, (int)len,
                                          MPI_CHAR, &mst),
                    "write", path, msg, msglen);
  return gen_agree(comm, rc, msg, msglen);
}

int gen_text_write(const gen_opts *o, MPI_Comm comm, const char *path,
                   size_t memory, int threads, gen_progress_fn progress,
                   void *user, gen_text_stats *st, char *msg, size_t msglen) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(st, 0, sizeof *st);
  double t0 = now();

  vocab v = {0};
  alias_slot *al = NULL;
  char *buf = NULL;
  uint64_t *lens = malloc(sizeof *lens * (size_t)size);
  double mean_len = 0;
  int rc = lens ? vocab_build(&v, (uint32_t)o->vocab) : PMR_ENOMEM;
  if (!rc)
    rc = alias_build(&al, &v, o->exponent, &mean_len);
  /* Blocks per rank and round: as many as half the memory budget holds, at
   * most 1 GiB (one MPI-IO call), at least one. */
  uint64_t kmax = memory / 2 / BLOCK_MAX;
  if (kmax > ((uint64_t)1 << 30) / BLOCK_MAX)
    kmax = ((uint64_t)1 << 30) / BLOCK_MAX;
  if (kmax < 1)
    kmax = 1;
  if (!rc && !(buf = malloc(kmax * BLOCK_MAX)))
    rc = PMR_ENOMEM;
  if (rc)
    snprintf(msg, msglen,
             "out of memory building the vocabulary of %llu "
             "words and a buffer of %llu MiB",
             (unsigned long long)o->vocab,
             (unsigned long long)(kmax * BLOCK_MAX >> 20));
  rc = gen_agree(comm, rc, msg, msglen);

  gen_file f = {.fh = MPI_FILE_NULL};
  if (!rc)
    rc = gen_file_open(comm, path, &f, msg, msglen);
  st->gen_seconds = now() - t0;

  /* Rounds: rank r generates blocks [base + r*k, base + (r+1)*k). k is
   * the same on every rank: enough blocks, by the expected line length,
   * for what is left, within kmax. */
  double block_bytes =
      BLOCK_LINES * (LINE_WORDS_MIN + LINE_WORDS_MAX) / 2.0 * (mean_len + 1.0);
  uint64_t pos = 0, base = 0;
  while (!rc && pos < o->bytes) {
    double t1 = now();
    double want = (double)(o->bytes - pos) / ((double)size * block_bytes);
    uint64_t k = want >= (double)kmax ? kmax : (uint64_t)(want * 1.02) + 1;
    if (k > kmax)
      k = kmax;
    size_t *blen = malloc(sizeof *blen * k);
    if (!blen) {
      rc = PMR_ENOMEM;
      snprintf(msg, msglen, "out of memory");
      k = 0;
    }
    uint64_t first = base + (uint64_t)rank * k;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (uint64_t b = 0; b < k; b++)
      blen[b] = text_block(o->seed, v.nwords, al, (first + b) * BLOCK_LINES,
                           buf + b * BLOCK_MAX);
    /* Close the gaps between the blocks (moving down, in place). */
    uint64_t mylen = 0;
    for (uint64_t b = 0; b < k; b++) {
      memmove(buf + mylen, buf + b * BLOCK_MAX, blen[b]);
      mylen += blen[b];
    }
    free(blen);
    rc = gen_agree(comm, rc, msg, msglen);
    if (rc)
      break;
    MPI_Allgather(&mylen, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, comm);
    uint64_t off = pos, total = 0;
    for (int r = 0; r < size; r++) {
      if (r < rank)
        off += lens[r];
      total += lens[r];
    }
    uint64_t wlen = 0;
    if (off < o->bytes) {
      wlen = mylen < o->bytes - off ? mylen : o->bytes - off;
      /* The last line is cut to fit and still ends in '\n'. */
      if (off + wlen == o->bytes)
        buf[wlen - 1] = '\n';
    }
    double t2 = now();
    st->gen_seconds += t2 - t1;
    rc = gen_file_write(comm, path, &f, off, buf, wlen, msg, msglen);
    st->write_seconds += now() - t2;
    st->bytes += wlen;
    for (const char *p = buf, *e = buf + wlen;
         p < e && (p = memchr(p, '\n', (size_t)(e - p))); p++)
      st->lines++;
    pos += total;
    base += (uint64_t)size * k;
    if (progress && rank == 0)
      progress("generate", pos < o->bytes ? pos : o->bytes, o->bytes, user);
  }

  double t3 = now();
  rc = gen_file_close(comm, path, &f, rc, msg, msglen);
  st->write_seconds += now() - t3;
  free(buf);
  free(al);
  free(lens);
  vocab_free(&v);
  return rc;
}
