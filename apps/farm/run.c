/* The runner: each rank takes tasks from the shared farm counter and keeps
 * up to K of them running as child processes (/bin/sh -c, started with
 * posix_spawn in a process group of their own), in one event loop per rank:
 * no threads, so every MPI call is the main thread's. The loop sleeps in
 * poll() on a self-pipe that the SIGCHLD and stop-signal handlers write
 * to, waking at least every few milliseconds to make MPI progress (rank 0
 * serves the other ranks' fetches there when one-sided MPI is emulated),
 * to enforce timeouts and to report progress.
 *
 * Failed attempts are retried in rounds: when every rank has run out of
 * tasks, the failures that have attempts left are gathered and handed out
 * again by a new farm, so a retry may land on any rank. */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long a task killed with SIGTERM gets before SIGKILL. */
#define FARM_KILL_WAIT_S 2.0
/* The longest the loop sleeps without entering MPI. */
#define FARM_TICK_MS 5

/* Shared counters of the farm, for --progress. */
enum { CNT_DONE = 0, CNT_FAILED = 1, CNT_RUNNING = 2 };

/* ---- signals ---- */

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_stop, sig_count;

static void on_signal(int sig) {
  int e = errno;
  if (sig != SIGCHLD) {
    sig_stop = sig;
    sig_count++;
  }
  if (sig_pipe[1] >= 0) {
    char c = 0;
    ssize_t k = write(sig_pipe[1], &c, 1); /* full pipe: already woken */
    (void)k;
  }
  errno = e;
}

int farm_signals_install(void) {
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  int rc = 0;
  rc |= sigaction(SIGTERM, &sa, NULL);
  rc |= sigaction(SIGINT, &sa, NULL);
  rc |= sigaction(SIGUSR1, &sa, NULL);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  rc |= sigaction(SIGCHLD, &sa, NULL);
  return rc != 0;
}

static void drain_pipe(void) {
  char buf[256];
  while (read(sig_pipe[0], buf, sizeof buf) > 0)
    ;
}

/* ---- time ---- */

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the state of one rank ---- */

typedef struct slot {
  pid_t pid; /* 0: free */
  farm_rec rec;
  double t0;       /* monotonic start */
  double deadline; /* --timeout, monotonic; INFINITY: none */
  double kill_at;  /* SIGKILL after this, once SIGTERM was sent; 0: not */
  int why;         /* FARM_TIMED_OUT or FARM_INTERRUPTED once we killed it */
} slot;

typedef struct runner {
  pmr_ctx *ctx;
  pmr_farm *farm;
  const tasklist *t;
  const farm_opts *o;
  journal *j;
  const char *host;
  int rank;
  /* This round. */
  const farm_rec *round; /* the tasks, with their attempts so far */
  uint64_t qb, qe;       /* batch taken from the farm, not started yet */
  int exhausted;
  /* Children. */
  slot *slots;
  int nrunning;
  char **envp;
  size_t env_base; /* entries of envp before the task's own */
  char env_buf[4][128];
  posix_spawnattr_t attr;
  /* Outcomes. */
  farm_rec *done, *retry;
  size_t ndone, cdone, nretry, cretry;
  /* Stopping. */
  unsigned stop;       /* reasons seen */
  int stopping;        /* a stop signal: no new tasks, grace then kill */
  double stop_deadline;
  int sigs_seen;
  /* Progress (rank 0). */
  double t_start, t_report;
  uint64_t done_rounds, failed_rounds; /* finished in earlier rounds */
  uint64_t started_local;
  uint64_t spawn_errors;
  char err[512]; /* this rank's error, if any */
} runner;

static int nomem(runner *r) {
  snprintf(r->err, sizeof r->err, "rank %d: out of memory", r->rank);
  return PMR_ENOMEM;
}

static int push(farm_rec **v, size_t *n, size_t *cap, const farm_rec *r) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 256;
    farm_rec *p = realloc(*v, c * sizeof *p);
    if (!p)
      return 1;
    *v = p;
    *cap = c;
  }
  (*v)[(*n)++] = *r;
  return 0;
}

/* The environment of every task: ours, less any PMR_TASK_* we inherited,
 * plus four entries filled per task. */
static int env_build(runner *r) {
  size_t n = 0;
  while (environ[n])
    n++;
  r->envp = calloc(n + 5, sizeof *r->envp);
  if (!r->envp)
    return 1;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "PMR_TASK_", 9))
      r->envp[k++] = environ[i];
  r->env_base = k;
  for (int i = 0; i < 4; i++)
    r->envp[k + (size_t)i] = r->env_buf[i];
  r->envp[k + 4] = NULL;
  return 0;
}

/* Start task `rec->id`, attempt rec->attempts, in slot s. On failure to
 * start, the attempt is recorded as failed with status 127 (as a shell
 * reports a command it cannot run) and 1 returned. */
static int spawn_task(runner *r, slot *s) {
  char out[PATH_MAX], err[PATH_MAX];
  uint64_t id = s->rec.id;
  snprintf(out, sizeof out, "%s/%llu.out", r->o->logs, (unsigned long long)id);
  snprintf(err, sizeof err, "%s/%llu.err", r->o->logs, (unsigned long long)id);
  snprintf(r->env_buf[0], sizeof r->env_buf[0], "PMR_TASK_ID=%llu",
           (unsigned long long)id);
  snprintf(r->env_buf[1], sizeof r->env_buf[1], "PMR_TASK_RANK=%d", r->rank);
  snprintf(r->env_buf[2], sizeof r->env_buf[2], "PMR_TASK_HOST=%.100s",
           r->host);
  snprintf(r->env_buf[3], sizeof r->env_buf[3], "PMR_TASK_ATTEMPT=%d",
           s->rec.attempts);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
  /* The task gets none of MPI's sockets and shared-memory descriptors. */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
  char *argv[] = {"sh", "-c", r->t->text + r->t->off[id], NULL};
  s->rec.start = wall();
  s->t0 = mono();
  s->deadline = r->o->timeout > 0 ? s->t0 + r->o->timeout : INFINITY;
  s->kill_at = 0;
  s->why = 0;
  pid_t pid = 0;
  int e = posix_spawn(&pid, "/bin/sh", &fa, &r->attr, argv, r->envp);
  posix_spawn_file_actions_destroy(&fa);
  if (e != 0) {
    /* Rare (no processes left, the log directory gone), and then likely
     * for every task: said once per rank, the tasks fail with 127. */
    if (!r->spawn_errors++)
      fprintf(stderr, "pmr-farm: rank %d: cannot start task %llu: %s "
              "(recorded as exit status 127; further such errors not "
              "shown)\n", r->rank, (unsigned long long)id, strerror(e));
    return 1;
  }
  s->pid = pid;
  r->nrunning++;
  r->started_local++;
  pmr_farm_add(r->farm, CNT_RUNNING, 1);
  return 0;
}

/* An attempt is over: keep it as the task's outcome, or queue a retry. */
static int finish(runner *r, farm_rec *rec) {
  int retry = rec->state != FARM_OK && rec->state != FARM_INTERRUPTED &&
              rec->attempts <= r->o->retries && !r->stopping &&
              !(r->stop & FARM_STOP_HALT);
  if (retry)
    return push(&r->retry, &r->nretry, &r->cretry, rec);
  if (push(&r->done, &r->ndone, &r->cdone, rec))
    return 1;
  journal_write(r->j, rec, r->host);
  pmr_farm_add(r->farm, CNT_DONE, 1);
  if (rec->state != FARM_OK) {
    pmr_farm_add(r->farm, CNT_FAILED, 1);
    if (r->o->halt_on_error && !(r->stop & FARM_STOP_HALT)) {
      r->stop |= FARM_STOP_HALT;
      pmr_farm_stop(r->farm, FARM_STOP_HALT);
    }
  }
  return 0;
}

static int reap(runner *r) {
  int rc = 0;
  for (int i = 0; i < r->o->per_rank; i++) {
    slot *s = &r->slots[i];
    if (!s->pid)
      continue;
    int st;
    pid_t p = waitpid(s->pid, &st, WNOHANG);
    if (p == 0 || (p < 0 && errno == EINTR))
      continue;
    farm_rec rec = s->rec;
    rec.seconds = mono() - s->t0;
    if (p < 0) { /* cannot happen for our own child; count it failed */
      rec.state = FARM_FAILED;
    } else if (WIFEXITED(st)) {
      rec.exit_code = WEXITSTATUS(st);
      rec.state = rec.exit_code == 0 ? FARM_OK : FARM_FAILED;
    } else if (WIFSIGNALED(st)) {
      rec.signal = WTERMSIG(st);
      rec.state = FARM_FAILED;
    }
    /* Killed by us, whatever the shell made of it. */
    if (s->why)
      rec.state = s->why;
    /* The task's own children may outlive its shell: they are part of it. */
    if (s->why)
      kill(-s->pid, SIGKILL);
    s->pid = 0;
    r->nrunning--;
    pmr_farm_add(r->farm, CNT_RUNNING, -1);
    rc |= finish(r, &rec);
  }
  return rc;
}

/* Timeouts, and the end of the grace period after a stop signal. */
static void enforce(runner *r, double now) {
  for (int i = 0; i < r->o->per_rank; i++) {
    slot *s = &r->slots[i];
    if (!s->pid)
      continue;
    if (s->kill_at == 0) {
      int why = now >= s->deadline                            ? FARM_TIMED_OUT
                : r->stopping && now >= r->stop_deadline ? FARM_INTERRUPTED
                                                              : 0;
      if (why) {
        s->why = why;
        s->kill_at = now + FARM_KILL_WAIT_S;
        kill(-s->pid, SIGTERM); /* the task's whole process group */
        kill(-s->pid, SIGCONT);
      }
    } else if (now >= s->kill_at) {
      kill(-s->pid, SIGKILL);
      s->kill_at = INFINITY;
    }
  }
}

static void begin_stop(runner *r, double now) {
  if (!r->stopping) {
    r->stopping = 1;
    r->stop_deadline = now + r->o->grace;
  }
  r->qb = r->qe; /* what this rank took but did not start: not run */
}

/* A tick of the loop: MPI progress, the shared stop word, signals. */
static int poll_farm(runner *r, double now) {
  unsigned reasons = 0;
  int rc = pmr_farm_poll(r->farm, &reasons);
  if (rc)
    return rc;
  if (sig_count != r->sigs_seen) {
    int first = r->sigs_seen == 0;
    r->sigs_seen = sig_count;
    if (!(r->stop & FARM_STOP_SIGNAL))
      pmr_farm_stop(r->farm, FARM_STOP_SIGNAL);
    r->stop |= FARM_STOP_SIGNAL;
    begin_stop(r, now);
    if (!first) /* a second signal: no more grace */
      r->stop_deadline = now;
  }
  if ((reasons & FARM_STOP_SIGNAL) && !r->stopping) {
    r->stop |= FARM_STOP_SIGNAL;
    begin_stop(r, now);
  }
  if (reasons & FARM_STOP_HALT) {
    r->stop |= FARM_STOP_HALT;
    r->qb = r->qe;
  }
  return PMR_OK;
}

static void fmt_hms(char *buf, size_t n, double s) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void report(runner *r, double now, int last) {
  if (!r->o->progress || r->rank != 0)
    return;
  /* On a terminal the line is redrawn twice a second; in a file (a batch
   * job's output) a line every 10 s is enough. */
  int tty = isatty(STDERR_FILENO);
  if (!last && now - r->t_report < (tty ? 0.5 : 10.0))
    return;
  r->t_report = now;
  int64_t c[PMR_FARM_COUNTERS];
  if (pmr_farm_counters(r->farm, c))
    return;
  uint64_t done = r->done_rounds + (uint64_t)c[CNT_DONE];
  uint64_t failed = r->failed_rounds + (uint64_t)c[CNT_FAILED];
  double rate = now > r->t_start ? (double)done / (now - r->t_start) : 0;
  uint64_t all_done = r->o->done_before + done;
  char eta[32];
  fmt_hms(eta, sizeof eta,
          rate > 0 ? (double)(r->o->total - all_done) / rate : NAN);
  fprintf(stderr, "%spmr-farm: %llu/%llu done, %lld running, %llu failed, "
          "%.1f tasks/s, ETA %s%s",
          tty ? "\r" : "", (unsigned long long)all_done,
          (unsigned long long)r->o->total, (long long)c[CNT_RUNNING],
          (unsigned long long)failed, rate, eta,
          tty && !last ? "   " : "\n");
  fflush(stderr);
}

/* One round: run the farm's tasks until every rank is out of them and
 * nothing runs here. */
static int run_round(runner *r) {
  int rc = poll_farm(r, mono());
  while (!rc) {
    double now = mono();
    /* Start what the free slots allow. */
    while (!rc && !r->stopping && !(r->stop & FARM_STOP_HALT) &&
           r->nrunning < r->o->per_rank) {
      if (r->qb == r->qe) {
        if (r->exhausted)
          break;
        rc = pmr_farm_next(r->farm, &r->qb, &r->qe);
        if (rc)
          snprintf(r->err, sizeof r->err, "%s", pmr_errmsg(r->ctx));
        if (!rc && r->qb == r->qe) {
          r->exhausted = 1;
          break;
        }
        continue;
      }
      slot *s = NULL;
      for (int i = 0; i < r->o->per_rank && !s; i++)
        if (!r->slots[i].pid)
          s = &r->slots[i];
      const farm_rec *t = &r->round[r->qb++];
      s->rec = (farm_rec){.id = t->id, .attempts = t->attempts + 1,
                          .rank = r->rank, .exit_code = -1, .host = -1};
      if (spawn_task(r, s)) {
        farm_rec rec = s->rec;
        rec.exit_code = 127;
        rec.state = FARM_FAILED;
        if (finish(r, &rec))
          rc = nomem(r);
      }
    }
    if (rc)
      break;
    if (r->nrunning == 0 &&
        (r->exhausted || r->stopping || (r->stop & FARM_STOP_HALT)))
      break;
    /* Sleep until a child ends, a signal comes, a deadline or the tick. */
    double next = now + FARM_TICK_MS / 1000.0;
    for (int i = 0; i < r->o->per_rank; i++) {
      const slot *s = &r->slots[i];
      if (!s->pid)
        continue;
      if (s->kill_at == 0 && s->deadline < next)
        next = s->deadline;
      if (s->kill_at > 0 && s->kill_at < next)
        next = s->kill_at;
    }
    if (r->stopping && r->stop_deadline < next)
      next = r->stop_deadline;
    int ms = next > now ? (int)ceil((next - now) * 1000) : 0;
    struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
    if (poll(&pfd, 1, ms) > 0)
      drain_pipe();
    now = mono();
    if (reap(r))
      rc = nomem(r);
    if (!rc && (rc = poll_farm(r, now)))
      snprintf(r->err, sizeof r->err, "%s", pmr_errmsg(r->ctx));
    enforce(r, now);
    journal_tick(r->j, now);
    report(r, now, 0);
  }
  return rc;
}

/* Wait for every rank to end the round without spinning: Open MPI's
 * blocking collectives busy-poll, which would take a core from the tasks
 * still running on other ranks of this node (for as long as the longest
 * task). Meanwhile rank 0 keeps serving fetches, and signals still stop
 * the farm everywhere. */
static int idle_wait(runner *r) {
  MPI_Request req;
  if (MPI_Ibarrier(pmr_ctx_comm(r->ctx), &req) != MPI_SUCCESS) {
    snprintf(r->err, sizeof r->err, "MPI_Ibarrier failed");
    return PMR_EMPI;
  }
  int done = 0, rc = PMR_OK;
  while (!done) {
    if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
      snprintf(r->err, sizeof r->err, "MPI_Test failed");
      return PMR_EMPI;
    }
    if (done)
      break;
    struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
    if (poll(&pfd, 1, FARM_TICK_MS) > 0)
      drain_pipe();
    double now = mono();
    /* The farm's errors wait for the round's end like any other. */
    if (!rc && (rc = poll_farm(r, now)))
      snprintf(r->err, sizeof r->err, "%s", pmr_errmsg(r->ctx));
    journal_tick(r->j, now);
    report(r, now, 0);
  }
  return rc;
}

int farm_agree(pmr_ctx *ctx, int bad, char *msg, size_t len) {
  struct {
    int v, r;
  } in = {bad != 0, pmr_ctx_rank(ctx)}, out = {1, 0};
  MPI_Comm comm = pmr_ctx_comm(ctx);
  if (MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, comm) != MPI_SUCCESS)
    return 1;
  if (out.v && MPI_Bcast(msg, (int)len, MPI_CHAR, out.r, comm) == MPI_SUCCESS)
    msg[len - 1] = '\0';
  return out.v;
}

static int by_id(const void *a, const void *b) {
  uint64_t x = ((const farm_rec *)a)->id, y = ((const farm_rec *)b)->id;
  return x < y ? -1 : x > y;
}

/* Everyone's retries, in task order, on every rank. */
static int gather_retries(runner *r, MPI_Datatype rt, farm_rec **out,
                          uint64_t *nout) {
  MPI_Comm comm = pmr_ctx_comm(r->ctx);
  int size = pmr_ctx_size(r->ctx), mine = (int)r->nretry;
  int *counts = calloc((size_t)size, sizeof *counts);
  int *displs = calloc((size_t)size, sizeof *displs);
  int bad = !counts || !displs || r->nretry > INT_MAX;
  if (farm_agree(r->ctx, bad, r->err, sizeof r->err))
    goto fail;
  if (MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, comm) !=
      MPI_SUCCESS)
    goto fail;
  int64_t total = 0;
  for (int i = 0; i < size; i++) {
    displs[i] = (int)total;
    total += counts[i];
  }
  if (total > INT_MAX)
    goto fail;
  *out = malloc((size_t)(total ? total : 1) * sizeof **out);
  if (farm_agree(r->ctx, !*out, r->err, sizeof r->err))
    goto fail;
  if (MPI_Allgatherv(r->retry, mine, rt, *out, counts, displs, rt, comm) !=
      MPI_SUCCESS)
    goto fail;
  qsort(*out, (size_t)total, sizeof **out, by_id);
  *nout = (uint64_t)total;
  free(counts);
  free(displs);
  return 0;
fail:
  snprintf(r->err, sizeof r->err, "cannot gather the failed tasks to retry");
  free(counts);
  free(displs);
  return 1;
}

/* Kill everything still running here (after an error) and record it. */
static void kill_all(runner *r) {
  for (int i = 0; i < r->o->per_rank; i++) {
    slot *s = &r->slots[i];
    if (!s->pid)
      continue;
    kill(-s->pid, SIGKILL);
    int st;
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
      ;
    farm_rec rec = s->rec;
    rec.seconds = mono() - s->t0;
    rec.state = FARM_INTERRUPTED;
    rec.signal = SIGKILL;
    s->pid = 0;
    r->nrunning--;
    push(&r->done, &r->ndone, &r->cdone, &rec);
    journal_write(r->j, &rec, r->host);
  }
}

int farm_run(pmr_ctx *ctx, const tasklist *t, const uint64_t *ids,
             uint64_t npending, const farm_opts *o, journal *j,
             const char *host, farm_result *res, char *err, size_t errlen) {
  runner r = {.ctx = ctx, .t = t, .o = o, .j = j, .host = host,
              .rank = pmr_ctx_rank(ctx)};
  memset(res, 0, sizeof *res);
  r.t_start = r.t_report = mono();
  MPI_Datatype rt;
  MPI_Type_contiguous((int)sizeof(farm_rec), MPI_BYTE, &rt);
  MPI_Type_commit(&rt);
  farm_rec *round = NULL;
  uint64_t nround = npending;
  int bad = 0;
  r.slots = calloc((size_t)o->per_rank, sizeof *r.slots);
  round = malloc((npending ? npending : 1) * sizeof *round);
  if (!r.slots || !round || env_build(&r))
    bad = nomem(&r);
  for (uint64_t i = 0; !bad && i < npending; i++)
    round[i] = (farm_rec){.id = ids[i]};
  /* Children: a process group of their own (so a timeout kills all of a
   * task), no blocked signals, and the default action for the signals this
   * process catches. */
  posix_spawnattr_init(&r.attr);
  sigset_t none, dfl;
  sigemptyset(&none);
  sigemptyset(&dfl);
  int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD,
                SIGPIPE, SIGHUP,  SIGQUIT, SIGALRM};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaddset(&dfl, sigs[i]);
  posix_spawnattr_setflags(&r.attr, POSIX_SPAWN_SETPGROUP |
                                        POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&r.attr, 0);
  posix_spawnattr_setsigmask(&r.attr, &none);
  posix_spawnattr_setsigdefault(&r.attr, &dfl);

  int failed = farm_agree(ctx, bad, r.err, sizeof r.err);
  while (!failed) {
    int rc = pmr_farm_create(ctx, nround, o->per_rank, &r.farm);
    if (rc) {
      snprintf(r.err, sizeof r.err, "%s", pmr_errmsg(ctx));
      failed = 1;
      break;
    }
    r.round = round;
    r.qb = r.qe = 0;
    r.exhausted = 0;
    size_t ndone0 = r.ndone;
    int lrc = run_round(&r);
    if (lrc) {
      /* Every other rank must reach the farm's end too: stop it for all. */
      pmr_farm_stop(r.farm, FARM_STOP_HALT);
      kill_all(&r);
    }
    int wrc = idle_wait(&r);
    if (!lrc)
      lrc = wrc;
    pmr_farm_destroy(&r.farm);
    failed = farm_agree(ctx, lrc, r.err, sizeof r.err);
    unsigned stop = r.stop;
    uint64_t counts[2] = {r.ndone - ndone0, 0}, sums[2] = {0, 0};
    for (size_t i = ndone0; i < r.ndone; i++)
      counts[1] += r.done[i].state != FARM_OK;
    MPI_Comm comm = pmr_ctx_comm(ctx);
    MPI_Allreduce(&stop, &r.stop, 1, MPI_UNSIGNED, MPI_BOR, comm);
    MPI_Allreduce(counts, sums, 2, MPI_UINT64_T, MPI_SUM, comm);
    r.done_rounds += sums[0];
    r.failed_rounds += sums[1];
    if (failed)
      break;
    farm_rec *next = NULL;
    uint64_t nnext = 0;
    failed = gather_retries(&r, rt, &next, &nnext);
    if (failed)
      break;
    free(round);
    round = next;
    nround = nnext;
    /* What would have been retried after a stop keeps its last failure:
     * each rank records its own. */
    if (r.stop && r.nretry) {
      for (size_t i = 0; i < r.nretry; i++) {
        push(&r.done, &r.ndone, &r.cdone, &r.retry[i]);
        journal_write(r.j, &r.retry[i], r.host);
      }
      nround = 0;
    }
    r.nretry = 0;
    if (nround == 0)
      break;
  }
  if (!failed && o->progress && r.rank == 0) {
    double el = mono() - r.t_start;
    fprintf(stderr, "%spmr-farm: %llu tasks run in %.1f s (%.1f tasks/s), "
            "%llu failed\n", isatty(STDERR_FILENO) ? "\n" : "",
            (unsigned long long)r.done_rounds, el,
            el > 0 ? (double)r.done_rounds / el : 0.0,
            (unsigned long long)r.failed_rounds);
  }
  if (failed)
    snprintf(err, errlen, "%s", r.err);
  res->recs = r.done;
  res->nrecs = r.ndone;
  res->stop = r.stop;
  res->stop_signal = sig_stop;
  res->started = r.started_local;
  posix_spawnattr_destroy(&r.attr);
  MPI_Type_free(&rt);
  free(round);
  free(r.retry);
  free(r.slots);
  free(r.envp);
  return failed;
}
