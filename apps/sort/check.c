/* pmr-sort --check: order, duplicates and checksum of a file of records.
 *
 * The records are read by pmr_map_records: each rank a contiguous range,
 * each thread contiguous chunks of it, and a thread sees the records of a
 * chunk in order. A thread compares each record's key with the one before
 * it in the same run of consecutive records, and keeps the first and last
 * key of every run; rank 0 then gathers the runs, puts them in file order
 * and compares across the seams (between chunks, threads and ranks). */
#include "sort.h"
#include "crc32.h"

#include <stdlib.h>
#include <string.h>

/* A run of consecutive records [start, end] one thread saw. */
typedef struct run {
  uint64_t start, end;
  unsigned char first[SORT_KEY], last[SORT_KEY];
  unsigned char pad[4];
} run;

typedef struct thr {
  uint64_t records, checksum, unsorted, duplicates, first_unsorted;
  uint64_t start, last; /* the open run */
  unsigned char first[SORT_KEY], lastkey[SORT_KEY];
  int open;
  run *runs;
  size_t nruns, cap;
  char pad[64];
} thr;

typedef struct check_state {
  thr *t;
} check_state;

static int close_run(thr *t) {
  if (!t->open)
    return 0;
  if (t->nruns == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 64;
    run *r = realloc(t->runs, cap * sizeof *r);
    if (!r)
      return -1;
    t->runs = r;
    t->cap = cap;
  }
  run *r = &t->runs[t->nruns++];
  memset(r, 0, sizeof *r);
  r->start = t->start;
  r->end = t->last;
  memcpy(r->first, t->first, SORT_KEY);
  memcpy(r->last, t->lastkey, SORT_KEY);
  t->open = 0;
  return 0;
}

static int check_record(const void *rec, size_t size, pmr_emitter *em,
                        void *user) {
  check_state *s = user;
  thr *t = &s->t[pmr_emitter_thread(em)];
  uint64_t i = pmr_emitter_record(em);
  t->records++;
  t->checksum += sort_crc32(rec, size);
  if (t->open && i == t->last + 1) {
    int c = memcmp(t->lastkey, rec, SORT_KEY);
    if (c > 0) {
      t->unsorted++;
      if (i < t->first_unsorted)
        t->first_unsorted = i;
    } else if (c == 0) {
      t->duplicates++;
    }
  } else {
    if (close_run(t))
      return pmr_emitter_fail(em, "out of memory");
    t->open = 1;
    t->start = i;
    memcpy(t->first, rec, SORT_KEY);
  }
  t->last = i;
  memcpy(t->lastkey, rec, SORT_KEY);
  return 0;
}

static int by_start(const void *a, const void *b) {
  const run *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

int sort_check(pmr_ctx *ctx, const char *path, sort_summary *out) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  int rank = pmr_ctx_rank(ctx), size = pmr_ctx_size(ctx);
  int nt = pmr_ctx_threads(ctx);
  memset(out, 0, sizeof *out);
  out->first_unsorted = UINT64_MAX;
  sort_crc32_init();
  check_state s = {calloc((size_t)nt, sizeof(thr))};
  pmr_kv *kv = NULL; /* nothing is emitted: the map only reads */
  int rc = s.t ? pmr_kv_create(ctx, PMR_COUNT, &kv) : PMR_ENOMEM;
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, comm);
  for (int i = 0; !rc && i < nt; i++)
    s.t[i].first_unsorted = UINT64_MAX;
  if (!rc)
    rc = pmr_map_records(ctx, &path, 1, SORT_RECORD, 0, check_record, &s, kv);
  pmr_kv_destroy(&kv);

  /* This rank's runs and sums. */
  uint64_t sums[4] = {0, 0, 0, 0}, first = UINT64_MAX;
  size_t nruns = 0;
  int lrc = 0;
  for (int i = 0; !rc && i < nt; i++) {
    thr *t = &s.t[i];
    if (close_run(t))
      lrc = PMR_ENOMEM;
    nruns += t->nruns;
    sums[0] += t->records;
    sums[1] += t->checksum;
    sums[2] += t->unsorted;
    sums[3] += t->duplicates;
    if (t->first_unsorted < first)
      first = t->first_unsorted;
  }
  run *mine = NULL;
  if (!rc && !lrc) {
    mine = malloc((nruns ? nruns : 1) * sizeof *mine);
    if (!mine)
      lrc = PMR_ENOMEM;
    for (int i = 0, k = 0; mine && i < nt; i++)
      for (size_t j = 0; j < s.t[i].nruns; j++)
        mine[k++] = s.t[i].runs[j];
  }
  if (!rc) {
    MPI_Allreduce(&lrc, &rc, 1, MPI_INT, MPI_MAX, comm);
  }
  for (int i = 0; s.t && i < nt; i++)
    free(s.t[i].runs);
  free(s.t);
  if (rc) {
    free(mine);
    return rc;
  }

  /* Rank 0 puts every run in file order and compares across the seams. */
  int bytes = (int)(nruns * sizeof(run));
  int *counts = NULL, *displs = NULL;
  if (rank == 0) {
    counts = calloc((size_t)size, sizeof *counts);
    displs = calloc((size_t)size, sizeof *displs);
    lrc = counts && displs ? 0 : PMR_ENOMEM;
  }
  MPI_Bcast(&lrc, 1, MPI_INT, 0, comm);
  run *all = NULL;
  if (!lrc)
    MPI_Gather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
  size_t total = 0;
  if (!lrc && rank == 0) {
    for (int r = 0; r < size; r++) {
      displs[r] = (int)(total * sizeof(run));
      total += (size_t)counts[r] / sizeof(run);
    }
    all = malloc((total ? total : 1) * sizeof *all);
    lrc = all ? 0 : PMR_ENOMEM;
  }
  MPI_Bcast(&lrc, 1, MPI_INT, 0, comm);
  if (lrc) {
    free(all), free(counts), free(displs), free(mine);
    return lrc;
  }
  MPI_Gatherv(mine, bytes, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, comm);
  uint64_t tot[4];
  MPI_Allreduce(sums, tot, 4, MPI_UINT64_T, MPI_SUM, comm);
  if (rank == 0) {
    qsort(all, total, sizeof *all, by_start);
    for (size_t j = 1; j < total; j++) {
      int c = memcmp(all[j - 1].last, all[j].first, SORT_KEY);
      if (c > 0) {
        tot[2]++;
        if (all[j].start < first)
          first = all[j].start;
      } else if (c == 0) {
        tot[3]++;
      }
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_UINT64_T, MPI_MIN, comm);
  MPI_Bcast(tot, 4, MPI_UINT64_T, 0, comm);
  out->records = tot[0];
  out->checksum = tot[1];
  out->unsorted = tot[2];
  out->duplicates = tot[3];
  out->first_unsorted = first;
  free(all);
  free(counts);
  free(displs);
  free(mine);
  return PMR_OK;
}
