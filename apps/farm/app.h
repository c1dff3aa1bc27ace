/* pmr-farm's parts: the task list (tasks.c), the journal (journal.c) and
 * the runner that starts and watches the tasks (run.c); main.c ties them
 * to the command line and writes the results. */
#ifndef PMR_FARM_APP_H
#define PMR_FARM_APP_H

#include <stddef.h>
#include <stdint.h>

#include <pmr.h>

/* Exit status of a run stopped by SIGTERM, SIGINT or SIGUSR1 before every
 * task had run: EX_TEMPFAIL, "try again later" (--resume). */
#define FARM_EXIT_STOPPED 75

/* The outcome of a task, as recorded in the `state` column and the
 * journal. */
enum {
  FARM_OK = 0,          /* exited with status 0 */
  FARM_FAILED = 1,      /* non-zero status, or killed by a signal not ours */
  FARM_TIMED_OUT = 2,   /* killed after --timeout */
  FARM_INTERRUPTED = 3, /* killed when the farm was stopped */
  FARM_NOT_RUN = 4,     /* never started (the farm stopped or halted first) */
  FARM_NSTATES
};
extern const char *const farm_state_names[FARM_NSTATES];

/* Stop reasons in the farm's shared stop word. */
enum { FARM_STOP_SIGNAL = 1u << 0, FARM_STOP_HALT = 1u << 1 };

/* Commands: command i is text + off[i], NUL-terminated, of length
 * off[i + 1] - off[i] - 1. The same on every rank. */
typedef struct tasklist {
  uint64_t n;
  char *text;
  uint64_t *off; /* [n + 1] */
  uint64_t bytes;
  uint64_t hash; /* of the commands, to tie a journal to its task list */
} tasklist;

/* Rank 0: read a task file (one command per line; blank lines and lines
 * starting with '#' skipped; "-" is stdin), or build the tasks from a
 * template and a CSV table. On error, a message naming the file in err and
 * non-zero returned. */
int tasks_from_file(const char *path, tasklist *t, char *err, size_t errlen);
int tasks_from_template(const char *tmpl, const char *csv, tasklist *t,
                        char *err, size_t errlen);
/* Set off[] from text (commands separated by NULs) and hash them. */
int tasks_index(tasklist *t);
void tasks_free(tasklist *t);
/* s shell-quoted ('...', with ' as '\''), appended at *p; returns the new
 * end. Needs 4 * strlen(s) + 3 bytes. */
char *shell_quote(char *p, const char *s);

/* One attempt's record. Fixed size, sent between ranks as bytes. */
typedef struct farm_rec {
  uint64_t id;
  double start;   /* Unix seconds */
  double seconds;
  int32_t state, exit_code, signal, attempts, rank;
  int32_t host; /* index into a host table */
} farm_rec;

/* Journal: one file per rank and run in DIR (OUT.h5.journal), a header
 * line tying it to the task list, then one line per task outcome:
 *   id state exit_code signal attempts rank start seconds host   (TABs) */
typedef struct journal {
  int fd;
  double synced; /* monotonic time of the last fdatasync */
  int dirty;
  int failed; /* a line could not be written */
} journal;

/* Rank 0: create DIR if needed; unless `keep`, remove the earlier runs'
 * files. */
int journal_prepare(const char *dir, int keep, char *err, size_t errlen);
int journal_open(journal *j, const char *dir, const char *stamp, int rank,
                 const tasklist *t, const char *host, char *err,
                 size_t errlen);
/* Write one line (a whole line per write(), so that a killed run leaves
 * whole lines); fdatasync at most every 50 ms (journal_tick) and at the
 * end (journal_close, which returns non-zero when any line or sync
 * failed). */
int journal_write(journal *j, const farm_rec *r, const char *host);
void journal_tick(journal *j, double now);
int journal_close(journal *j);

/* Rank 0: read every journal file in DIR. recs[id] gets the latest record
 * of each task (a success is never replaced), with its host interned in
 * *hosts (n_hosts of them); recs[id].state is FARM_NOT_RUN for tasks with
 * none. Returns 0, or 1 with a message (a journal of another task list). */
int journal_read(const char *dir, const tasklist *t, farm_rec *recs,
                 char ***hosts, int *nhosts, char *err, size_t errlen);

/* What the runner needs from the command line. */
typedef struct farm_opts {
  int per_rank;       /* K concurrent tasks per rank */
  double timeout;     /* seconds per attempt; 0: none */
  int retries;
  int halt_on_error;
  double grace;       /* seconds running tasks get after a stop signal */
  const char *logs;   /* directory of <id>.out / <id>.err */
  int progress;
  uint64_t total;     /* all tasks (for progress) */
  uint64_t done_before; /* succeeded in earlier runs (for progress) */
} farm_opts;

/* What a rank ends up with. */
typedef struct farm_result {
  farm_rec *recs; /* this rank's final records of this run */
  size_t nrecs;
  unsigned stop;  /* stop reasons seen (agreed over ranks) */
  int stop_signal; /* the signal this rank received, or 0 */
  uint64_t started; /* attempts started on this rank */
} farm_result;

/* Collective: run the tasks `ids` (npending of them, the same on every
 * rank) on every rank, retrying failures, until all are done or the farm
 * stops. Returns 0, or 1 on every rank with the failing rank's message in
 * err. */
int farm_run(pmr_ctx *ctx, const tasklist *t, const uint64_t *ids,
             uint64_t npending, const farm_opts *o, journal *j,
             const char *host, farm_result *res, char *err, size_t errlen);

/* Collective: agree whether any rank is `bad`; if so, every rank gets the
 * (first) failing rank's `msg`. Returns 1 when any rank failed. */
int farm_agree(pmr_ctx *ctx, int bad, char *msg, size_t len);

/* Signal handling: install before farm_run, so that a stop signal that
 * arrives while the tasks are read is not lost. */
int farm_signals_install(void);

#endif
