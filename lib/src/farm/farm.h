/* The task farm: an index space handed out dynamically from a shared
 * counter in an MPI window (counter.c), and tables of per-task records
 * written to HDF5 (columns.c). Depends on base and out. */
#ifndef PMR_FARM_H
#define PMR_FARM_H

#include "out/out.h"

#include <pthread.h>

/* The window on rank 0, in 8-byte words. Each word is only ever changed by
 * one accumulate operation (plus MPI_NO_OP reads), which is what MPI's
 * default accumulate_ops (same_op_no_op) makes atomic. */
enum {
  PMR__FW_NEXT = 0,  /* next index to hand out: MPI_SUM (uint64) */
  PMR__FW_STOP = 1,  /* stop reasons: MPI_BOR (uint64) */
  PMR__FW_USER = 2,  /* PMR_FARM_COUNTERS user counters: MPI_SUM (int64) */
  PMR__FW_WORDS = PMR__FW_USER + PMR_FARM_COUNTERS
};

/* Batches fetched ahead and not yet taken by a worker. */
#define PMR__FARM_POOL 4

typedef struct pmr__range {
  uint64_t lo, hi; /* what is left of a fetched batch */
  uint64_t chunk;  /* what one worker takes from it at a time */
} pmr__range;

struct pmr_farm {
  pmr_ctx *ctx;
  MPI_Win win;
  uint64_t *base;       /* the window's memory (rank 0 only) */
  uint64_t n;
  int workers;          /* this rank's */
  uint64_t all_workers; /* every rank's, summed: the P of the batch size */
  bool any_thread;      /* MPI_THREAD_SERIALIZED or better: any thread fetches */
  pthread_t main;       /* the thread that created the farm */
  pthread_mutex_t lock; /* the pool, the fields below, and MPI calls */
  pmr__range pool[PMR__FARM_POOL];
  int npool;
  bool helpers;         /* threads that may not call MPI take tasks too */
  bool exhausted;       /* the counter has passed n */
  unsigned stop;        /* stop reasons seen (local or shared) */
  unsigned stop_unsent; /* local reasons not yet OR-ed into the window */
  int64_t delta[PMR_FARM_COUNTERS]; /* additions not yet published */
  bool dirty;           /* delta holds something */
  double checked;       /* when the stop word was last read */
  int err;              /* sticky: PMR_EMPI */
  uint64_t taken, fetches;
};

#endif
