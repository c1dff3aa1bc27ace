/* Sources of records and the one map driver that runs them. A source plans
 * this rank's parts (collectively: every record in exactly one part of one
 * rank), then the driver hands parts to OpenMP threads dynamically; a thread
 * opens a part, takes its records one by one, hands each to the user's
 * callback through the source's `call`, and closes it. Like hwloc's
 * discovery components or MR-MPI's map() family, but one driver for all.
 * Depends on base and kv. */
#ifndef PMR_INPUT_SOURCE_H
#define PMR_INPUT_SOURCE_H

#include "kv/kv.h"

/* One unit of work: units [start, end) of input `source` (bytes of a file,
 * records, rows, indices, table slots: the source decides); `aux` is the
 * source's own (the first line number of a text chunk). */
typedef struct pmr__part {
  int source;
  uint64_t start, end;
  uint64_t aux;
} pmr__part;

/* One record as `next` yields it. */
typedef struct pmr__rec {
  const void *data;
  size_t len;
  const void *data2; /* the value of a pair */
  uint64_t n;        /* rows in a block; pair value size */
} pmr__rec;

typedef struct pmr__src pmr__src;

typedef struct pmr__src_ops {
  const char *name;
  /* Per-thread state (NULL allowed). */
  int (*thread_open)(pmr__src *s, void **ts, pmr_emitter *em);
  void (*thread_close)(pmr__src *s, void *ts);
  /* Open part p; fill em's source field. Returns PMR_OK or a code, with a
   * message in em->msg. */
  int (*open)(pmr__src *s, void *ts, const pmr__part *p, pmr_emitter *em);
  /* The next record of the open part: 1 (a record in *r, em's record
   * fields set), 0 (the part is done) or minus a code (message in em->msg). */
  int (*next)(pmr__src *s, void *ts, pmr__rec *r, pmr_emitter *em);
  void (*close)(pmr__src *s, void *ts);
  /* Call the user's callback on a record: its return value. */
  int (*call)(pmr__src *s, const pmr__rec *r, pmr_emitter *em);
  /* Where em's current record is, for messages ("'a.txt' line 7"). */
  void (*where)(const pmr__src *s, const pmr_emitter *em, char *buf,
                size_t n);
} pmr__src_ops;

struct pmr__src {
  const pmr__src_ops *ops;
  pmr_ctx *ctx;
  pmr__part *parts; /* this rank's parts, in input order */
  size_t nparts;
  uint64_t units;   /* this rank's work in units of progress */
  const char *unit; /* "bytes", "records", ... */
  void *fn, *user;  /* the user's callback and its argument */
  void *impl;       /* the source's own data */
};

/* The one map driver. Collective: checks the set's state, prepares it for
 * the context's threads, maps every part, agrees on the outcome (the first
 * failing thread's message, with the record's place), and leaves the set
 * MAPPED. Frees nothing of the source. */
int pmr__map_run(pmr__src *src, pmr_kv *kv);

/* pmr_map_kv over a group set (groupsrc.c): in is checked readable. */
int pmr__map_group_pairs(pmr_kv *in, pmr_pair_fn fn, void *user,
                         pmr_kv *out);

/* Append a part. */
int pmr__parts_add(pmr__src *s, size_t *cap, int source, uint64_t start,
                   uint64_t end, uint64_t aux);
/* Chunk size in bytes for this context (option or automatic). */
size_t pmr__chunk_size(const pmr_ctx *ctx);

/* ---- files (files.c) ---- */

/* Collective: rank 0 opens and stats every file (regular files only; one
 * byte read to find files that open but cannot be read) and broadcasts the
 * sizes; errors name the file. */
int pmr__stat_files(pmr_ctx *ctx, const char *const *files, int nfiles,
                    uint64_t *sizes);
/* Read exactly [off, off+len) unless EOF comes first: bytes read, or -1
 * with errno. */
long long pmr__pread_full(int fd, void *buf, size_t len, uint64_t off);
/* "what 'name': strerror(err)" into em->msg; returns code. */
int pmr__src_errno(pmr_emitter *em, int code, const char *what,
                   const char *name, int err);

#endif
