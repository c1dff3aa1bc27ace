/* The farm's shared counter: tasks [0, n) handed out in batches by
 * MPI_Fetch_and_op on a word of rank 0's window, with guided
 * self-scheduling batch sizes, shared by the threads of a rank through a
 * local pool (see pmr.h, section 7, for the contract). */
#define _GNU_SOURCE
#include "farm/farm.h"

#include <omp.h>
#include <sched.h>
#include <time.h>

/* How often a rank serving tasks from its pool (or polling) looks at the
 * shared stop word: often enough that a stop is seen within a task or
 * two, rarely enough that rank 0 is not flooded: 20 ms per 32 ranks. */
static double pmr__farm_check_s(const pmr_farm *f) {
  return 0.02 * (double)(1 + f->ctx->size / 32);
}

static bool pmr__farm_can_mpi(const pmr_farm *f) {
  return f->any_thread || pthread_equal(pthread_self(), f->main);
}

static uint64_t pmr__pool_total(const pmr_farm *f) {
  uint64_t t = 0;
  for (int i = 0; i < f->npool; i++)
    t += f->pool[i].hi - f->pool[i].lo;
  return t;
}

/* Lock held, MPI thread: every MPI error is sticky, so that no worker waits
 * for a refill that will never come. */
static int pmr__farm_fail(pmr_farm *f, int mpirc, const char *what) {
  f->err = pmr__mpierr(f->ctx, mpirc, what);
  f->npool = 0;
  return f->err;
}

/* Lock held, MPI thread: send what this rank owes the window (stop reasons,
 * counter additions) and complete it. */
static int pmr__farm_publish(pmr_farm *f) {
  int rc = MPI_SUCCESS;
  bool sent = false;
  if (f->stop_unsent) {
    uint64_t bits = f->stop_unsent;
    rc = MPI_Accumulate(&bits, 1, MPI_UINT64_T, 0, PMR__FW_STOP, 1,
                        MPI_UINT64_T, MPI_BOR, f->win);
    sent = true;
  }
  for (int i = 0; rc == MPI_SUCCESS && f->dirty && i < PMR_FARM_COUNTERS;
       i++) {
    if (!f->delta[i])
      continue;
    rc = MPI_Accumulate(&f->delta[i], 1, MPI_INT64_T, 0, PMR__FW_USER + i, 1,
                        MPI_INT64_T, MPI_SUM, f->win);
    sent = true;
  }
  if (rc == MPI_SUCCESS && sent)
    rc = MPI_Win_flush(0, f->win);
  if (rc != MPI_SUCCESS)
    return pmr__farm_fail(f, rc, "publishing to the farm's window");
  f->stop_unsent = 0;
  memset(f->delta, 0, sizeof f->delta);
  f->dirty = false;
  return PMR_OK;
}

/* Lock held, MPI thread: read the shared stop word. */
static int pmr__farm_check(pmr_farm *f) {
  uint64_t dummy = 0, word = 0;
  int rc = MPI_Get_accumulate(&dummy, 1, MPI_UINT64_T, &word, 1, MPI_UINT64_T,
                              0, PMR__FW_STOP, 1, MPI_UINT64_T, MPI_NO_OP,
                              f->win);
  if (rc == MPI_SUCCESS)
    rc = MPI_Win_flush(0, f->win);
  if (rc != MPI_SUCCESS)
    return pmr__farm_fail(f, rc, "reading the farm's stop word");
  f->checked = pmr__now();
  f->stop |= (unsigned)word;
  if (f->stop)
    f->npool = 0;
  return PMR_OK;
}

/* Lock held, MPI thread, room in the pool: fetch one batch for all of this
 * rank's workers. The counter is read first, so that the batch is sized on
 * what is left now rather than on what was left at this rank's last fetch
 * (a rank back from a long batch would otherwise grab far too much). */
static int pmr__farm_fetch(pmr_farm *f) {
  int rc = pmr__farm_publish(f);
  if (rc)
    return rc;
  uint64_t dummy[2] = {0, 0}, cur[2] = {0, 0};
  int mrc = MPI_Get_accumulate(dummy, 2, MPI_UINT64_T, cur, 2, MPI_UINT64_T,
                               0, PMR__FW_NEXT, 2, MPI_UINT64_T, MPI_NO_OP,
                               f->win);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Win_flush(0, f->win);
  if (mrc != MPI_SUCCESS)
    return pmr__farm_fail(f, mrc, "reading the farm's counter");
  f->checked = pmr__now();
  f->stop |= (unsigned)cur[1];
  if (f->stop) {
    f->npool = 0;
    return PMR_OK;
  }
  if (cur[0] >= f->n) {
    f->exhausted = true;
    return PMR_OK;
  }
  /* Factoring: each of the P workers gets R / 2P of the R left. */
  uint64_t left = f->n - cur[0];
  uint64_t chunk = (left + 2 * f->all_workers - 1) / (2 * f->all_workers);
  if (chunk < 1)
    chunk = 1;
  uint64_t want = chunk * (uint64_t)f->workers;
  if (want / (uint64_t)f->workers != chunk || want > left)
    want = left;
  uint64_t old = 0;
  mrc = MPI_Fetch_and_op(&want, &old, MPI_UINT64_T, 0, PMR__FW_NEXT, MPI_SUM,
                         f->win);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Win_flush(0, f->win);
  if (mrc != MPI_SUCCESS)
    return pmr__farm_fail(f, mrc, "taking tasks from the farm's counter");
  f->fetches++;
  if (old >= f->n) {
    f->exhausted = true;
    return PMR_OK;
  }
  uint64_t hi = old + want > f->n ? f->n : old + want;
  if (hi == f->n)
    f->exhausted = true;
  f->pool[f->npool++] = (pmr__range){old, hi, chunk};
  return PMR_OK;
}

/* A worker's batch from the front of the pool. */
static void pmr__farm_take(pmr_farm *f, uint64_t *begin, uint64_t *end) {
  pmr__range *r = &f->pool[0];
  uint64_t k = r->hi - r->lo < r->chunk ? r->hi - r->lo : r->chunk;
  *begin = r->lo;
  *end = r->lo + k;
  r->lo += k;
  f->taken += k;
  if (r->lo == r->hi) {
    memmove(&f->pool[0], &f->pool[1], (size_t)(f->npool - 1) * sizeof *r);
    f->npool--;
  }
}

/* A thread that may not call MPI waits for the main thread's refill: a few
 * yields first (the refill is usually a few microseconds away), then short
 * sleeps (the main thread may be busy with a task of its own). */
static void pmr__farm_backoff(int *spins) {
  if (++*spins < 64) {
    sched_yield();
    return;
  }
  struct timespec ts = {0, *spins < 1024 ? 20000 : 200000};
  nanosleep(&ts, NULL);
}

int pmr_farm_next(pmr_farm *f, uint64_t *begin, uint64_t *end) {
  if (!f || !begin || !end)
    return PMR_EINVAL;
  *begin = *end = 0;
  int rc = PMR_OK, spins = 0;
  bool ahead_done = false;
  pthread_mutex_lock(&f->lock);
  for (;;) {
    if (f->err) {
      rc = f->err;
      break;
    }
    bool mpi = pmr__farm_can_mpi(f);
    if (!mpi)
      f->helpers = true;
    if (mpi && (f->stop_unsent || f->dirty) && (rc = pmr__farm_publish(f)))
      break;
    if (f->stop)
      break;
    if (mpi && f->npool > 0 &&
        pmr__now() - f->checked >= pmr__farm_check_s(f)) {
      if ((rc = pmr__farm_check(f)))
        break;
      continue;
    }
    /* Under FUNNELED the main thread is the only one that can refill:
     * when other threads take tasks too, it refills while the pool still
     * holds work for them, so they need not wait while it runs a task of
     * its own. (A single-threaded caller never holds more than a batch.) */
    if (mpi && f->helpers && f->workers > 1 && !f->exhausted &&
        !ahead_done && f->npool < PMR__FARM_POOL && f->npool > 0) {
      uint64_t reserve = (uint64_t)(f->workers - 1) * f->pool[0].chunk;
      if (pmr__pool_total(f) <= reserve) {
        ahead_done = true;
        if ((rc = pmr__farm_fetch(f)))
          break;
        continue;
      }
    }
    if (f->npool > 0) {
      pmr__farm_take(f, begin, end);
      break;
    }
    if (f->exhausted)
      break;
    if (mpi) {
      if ((rc = pmr__farm_fetch(f)))
        break;
      continue;
    }
    pthread_mutex_unlock(&f->lock);
    pmr__farm_backoff(&spins);
    pthread_mutex_lock(&f->lock);
  }
  pthread_mutex_unlock(&f->lock);
  return rc;
}

int pmr_farm_stop(pmr_farm *f, unsigned reasons) {
  if (!f || !reasons)
    return PMR_EINVAL;
  pthread_mutex_lock(&f->lock);
  f->stop |= reasons;
  f->stop_unsent |= reasons;
  f->npool = 0;
  int rc = f->err;
  if (!rc && pmr__farm_can_mpi(f))
    rc = pmr__farm_publish(f);
  pthread_mutex_unlock(&f->lock);
  return rc;
}

int pmr_farm_poll(pmr_farm *f, unsigned *reasons) {
  if (!f)
    return PMR_EINVAL;
  pthread_mutex_lock(&f->lock);
  int rc = f->err;
  if (!rc && (f->stop_unsent || f->dirty))
    rc = pmr__farm_publish(f);
  if (!rc && pmr__now() - f->checked >= pmr__farm_check_s(f)) {
    rc = pmr__farm_check(f);
  } else if (!rc) {
    /* Where one-sided operations are emulated, rank 0 serves the other
     * ranks' fetches whenever it enters MPI's progress engine. */
    int flag = 0;
    int mrc = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, f->ctx->comm, &flag,
                         MPI_STATUS_IGNORE);
    if (mrc != MPI_SUCCESS)
      rc = pmr__farm_fail(f, mrc, "MPI_Iprobe");
  }
  if (reasons)
    *reasons = f->stop;
  pthread_mutex_unlock(&f->lock);
  return rc;
}

int pmr_farm_add(pmr_farm *f, int which, int64_t delta) {
  if (!f || which < 0 || which >= PMR_FARM_COUNTERS)
    return PMR_EINVAL;
  pthread_mutex_lock(&f->lock);
  /* Kept locally and published in one go with the next call that talks
   * to rank 0: an addition per finished task costs no round trip. */
  f->delta[which] = (int64_t)((uint64_t)f->delta[which] + (uint64_t)delta);
  f->dirty = true;
  int rc = f->err;
  pthread_mutex_unlock(&f->lock);
  return rc;
}

int pmr_farm_counters(pmr_farm *f, int64_t values[PMR_FARM_COUNTERS]) {
  if (!f || !values)
    return PMR_EINVAL;
  pthread_mutex_lock(&f->lock);
  int rc = f->err;
  if (!rc)
    rc = pmr__farm_publish(f);
  if (!rc) {
    int64_t dummy[PMR_FARM_COUNTERS] = {0};
    int mrc = MPI_Get_accumulate(dummy, PMR_FARM_COUNTERS, MPI_INT64_T,
                                 values, PMR_FARM_COUNTERS, MPI_INT64_T, 0,
                                 PMR__FW_USER, PMR_FARM_COUNTERS, MPI_INT64_T,
                                 MPI_NO_OP, f->win);
    if (mrc == MPI_SUCCESS)
      mrc = MPI_Win_flush(0, f->win);
    if (mrc != MPI_SUCCESS)
      rc = pmr__farm_fail(f, mrc, "reading the farm's counters");
  }
  pthread_mutex_unlock(&f->lock);
  return rc;
}

void pmr_farm_stats(const pmr_farm *f, uint64_t *taken, uint64_t *fetches) {
  pmr_farm *m = (pmr_farm *)f; /* the lock, not the figures, changes */
  uint64_t t = 0, n = 0;
  if (m) {
    pthread_mutex_lock(&m->lock);
    t = m->taken;
    n = m->fetches;
    pthread_mutex_unlock(&m->lock);
  }
  if (taken)
    *taken = t;
  if (fetches)
    *fetches = n;
}

int pmr_farm_create(pmr_ctx *ctx, uint64_t n, int workers, pmr_farm **out) {
  if (!ctx)
    return PMR_EINVAL;
  if (out)
    *out = NULL;
  int rc = pmr__agree_arg(ctx, !out || workers < 0 ||
                                   workers > PMR_MAX_THREADS,
                          "pmr_farm_create: need an output pointer and "
                          "0..PMR_MAX_THREADS workers");
  if (rc)
    return rc;
  if (workers == 0)
    workers = ctx->nthreads;
  /* Same n everywhere (min of n and of ~n in one reduction), and P. */
  uint64_t mine[2] = {n, ~n}, lo[2] = {0, 0}, w = (uint64_t)workers, all = 0;
  int mrc = MPI_Allreduce(mine, lo, 2, MPI_UINT64_T, MPI_MIN, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(&w, &all, 1, MPI_UINT64_T, MPI_SUM, ctx->comm);
  if ((rc = pmr__agree_mpi(ctx, mrc, "MPI_Allreduce creating a farm")))
    return rc;
  if (lo[0] != n || ~lo[1] != n)
    rc = pmr__seterr(ctx, PMR_EINVAL, "pmr_farm_create: the task count "
                                      "differs between ranks");
  /* The counter may pass n by up to one batch per rank. */
  else if (n > UINT64_MAX / ((uint64_t)ctx->size + 2))
    rc = pmr__seterr(ctx, PMR_EOVERFLOW, "pmr_farm_create: %llu tasks are "
                     "too many for the counter", (unsigned long long)n);
  if ((rc = pmr__agree(ctx, rc)))
    return rc;

  pmr_farm *f = pmr__calloc(1, sizeof *f);
  if (!f)
    rc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory creating a farm");
  else if (pthread_mutex_init(&f->lock, NULL) != 0) {
    pmr__free(f);
    f = NULL;
    rc = pmr__seterr(ctx, PMR_ENOMEM, "cannot create the farm's lock");
  }
  if ((rc = pmr__agree(ctx, rc))) {
    if (f) {
      pthread_mutex_destroy(&f->lock);
      pmr__free(f);
    }
    return rc;
  }
  f->ctx = ctx;
  f->n = n;
  f->workers = workers;
  f->all_workers = all;
  f->main = pthread_self();
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  f->any_thread = level >= MPI_THREAD_SERIALIZED;

  /* The counter and the stop word are independent words: their
   * operations need no ordering between them. */
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "accumulate_ordering", "none");
  MPI_Info_set(info, "same_disp_unit", "true");
  mrc = MPI_Win_allocate(ctx->rank == 0 ? PMR__FW_WORDS * 8 : 0, 8, info,
                         ctx->comm, &f->base, &f->win);
  MPI_Info_free(&info);
  /* The usual cause is an MPI without a working one-sided transport
   * between these nodes: say what to try. */
  if ((rc = pmr__agree_mpi(ctx, mrc,
                           "MPI_Win_allocate of the farm's counter (no "
                           "one-sided MPI between these ranks? With Open MPI "
                           "over TCP try OMPI_MCA_osc=^rdma or "
                           "OMPI_MCA_osc=pt2pt)"))) {
    pthread_mutex_destroy(&f->lock);
    pmr__free(f);
    return rc;
  }
  MPI_Win_set_errhandler(f->win, MPI_ERRORS_RETURN);
  /* One passive-target epoch for the farm's life; rank 0 zeroes its words
   * inside it and the barrier orders that before any rank's first fetch
   * (the unified memory model's store, MPI_Win_sync, barrier). */
  mrc = MPI_Win_lock_all(MPI_MODE_NOCHECK, f->win);
  if (mrc == MPI_SUCCESS && ctx->rank == 0) {
    memset(f->base, 0, PMR__FW_WORDS * 8);
    mrc = MPI_Win_sync(f->win);
  }
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Barrier(ctx->comm);
  if ((rc = pmr__agree_mpi(ctx, mrc, "starting the farm's epoch"))) {
    MPI_Win_free(&f->win);
    pthread_mutex_destroy(&f->lock);
    pmr__free(f);
    return rc;
  }
  f->checked = pmr__now();
  f->exhausted = n == 0;
  pmr__log(ctx, PMR_LOG_DEBUG, "farm: %llu tasks, %d workers here, %llu in all",
           (unsigned long long)n, workers, (unsigned long long)all);
  *out = f;
  return PMR_OK;
}

int pmr_farm_destroy(pmr_farm **pf) {
  if (!pf || !*pf)
    return PMR_OK;
  pmr_farm *f = *pf;
  pmr_ctx *ctx = f->ctx;
  if (!f->err)
    pmr__farm_publish(f);
  int mrc = MPI_Win_unlock_all(f->win);
  int frc = MPI_Win_free(&f->win);
  if (mrc == MPI_SUCCESS)
    mrc = frc;
  pthread_mutex_destroy(&f->lock);
  pmr__free(f);
  *pf = NULL;
  return pmr__agree_mpi(ctx, mrc, "freeing the farm's window");
}

int pmr_farm_run(pmr_farm *f, pmr_task_fn fn, void *user) {
  if (!f || !fn)
    return PMR_EINVAL;
  int nt = f->workers;
  int *status = pmr__calloc((size_t)nt, sizeof *status);
  uint64_t *failed = pmr__calloc((size_t)nt, sizeof *failed);
  if (!status || !failed) {
    pmr__free(status);
    pmr__free(failed);
    pmr_farm_stop(f, PMR_FARM_STOP_FAILED);
    return pmr__seterr(f->ctx, PMR_ENOMEM, "out of memory running a farm");
  }
  /* Each thread records its outcome; nothing returns from the region. */
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), st = PMR_OK;
    uint64_t b = 0, e = 0;
    while (st == PMR_OK) {
      int rc = pmr_farm_next(f, &b, &e);
      if (rc) {
        st = rc;
        break;
      }
      if (b == e)
        break;
      for (uint64_t i = b; i < e; i++) {
        if (fn(i, t, user) != 0) {
          st = PMR_ECALLBACK;
          failed[t] = i;
          /* Also wakes threads waiting for a refill from this one. */
          pmr_farm_stop(f, PMR_FARM_STOP_FAILED);
          break;
        }
      }
    }
    status[t] = st;
  }
  int rc = PMR_OK;
  for (int t = 0; t < nt; t++) {
    if (status[t] == PMR_ECALLBACK && rc != PMR_EMPI) {
      if (rc != PMR_ECALLBACK)
        pmr__seterr(f->ctx, PMR_ECALLBACK, "task %llu failed",
                    (unsigned long long)failed[t]);
      rc = PMR_ECALLBACK;
    } else if (status[t] == PMR_EMPI) {
      rc = PMR_EMPI; /* the message was set where it happened */
    }
  }
  /* The main thread publishes a stop a worker thread could only note. */
  if (f->stop_unsent && !f->err) {
    pthread_mutex_lock(&f->lock);
    pmr__farm_publish(f);
    pthread_mutex_unlock(&f->lock);
  }
  pmr__free(status);
  pmr__free(failed);
  return rc;
}
