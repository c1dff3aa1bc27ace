/* Stop signals and the temporary files of outputs in progress. The output
 * stage records each temporary name here while it exists; the handlers
 * (installed only when an application asks, pmr_signals_install) remove
 * those files and end the process with one line, using only
 * async-signal-safe calls (unlink, write, _exit). */
#define _GNU_SOURCE
#include "base/base.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define PMR__TMP_SLOTS 16

static char pmr__tmp_name[PMR__TMP_SLOTS][PATH_MAX];
static volatile sig_atomic_t pmr__tmp_used[PMR__TMP_SLOTS];
static char pmr__sig_prog[64] = "pmr";
static volatile sig_atomic_t pmr__sig_rank = -1;
static volatile sig_atomic_t pmr__sig_quiet;

__thread const char *pmr__reading __attribute__((tls_model("initial-exec")));

int pmr__tmp_register(const char *name) {
  size_t n = strlen(name);
  if (n >= PATH_MAX)
    return -1;
  for (int i = 0; i < PMR__TMP_SLOTS; i++) {
    if (!pmr__tmp_used[i]) {
      memcpy(pmr__tmp_name[i], name, n + 1);
      pmr__tmp_used[i] = 1; /* after the name: a handler sees it whole */
      return i;
    }
  }
  return -1; /* all slots taken: the file is only unprotected */
}

void pmr__tmp_unregister(const char *name) {
  for (int i = 0; i < PMR__TMP_SLOTS; i++)
    if (pmr__tmp_used[i] && !strcmp(pmr__tmp_name[i], name))
      pmr__tmp_used[i] = 0;
}

static void pmr__tmp_unlink_all(void) {
  for (int i = 0; i < PMR__TMP_SLOTS; i++)
    if (pmr__tmp_used[i])
      unlink(pmr__tmp_name[i]);
}

static void pmr__say(const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t k = write(2, s, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return;
    s += k;
    n -= (size_t)k;
  }
}

static void pmr__on_stop(int sig) {
  int saved = errno;
  pmr__tmp_unlink_all();
  if (pmr__sig_rank <= 0 && !pmr__sig_quiet) {
    pmr__say(pmr__sig_prog);
    pmr__say(sig == SIGINT    ? ": interrupted (SIGINT)\n"
             : sig == SIGHUP  ? ": interrupted (SIGHUP)\n"
                              : ": interrupted (SIGTERM)\n");
  }
  errno = saved;
  _exit(128 + sig);
}

/* A mapped input shrank under the reader: the page is gone. Any rank may
 * fault, so every faulting rank says so. */
static void pmr__on_bus(int sig) {
  (void)sig;
  pmr__tmp_unlink_all();
  const char *f = pmr__reading;
  pmr__say(pmr__sig_prog);
  if (f) {
    pmr__say(": cannot read '");
    pmr__say(f);
    pmr__say("': the file shrank while it was read (Bus error)\n");
  } else {
    pmr__say(": Bus error (an input or output file shrank while mapped)\n");
  }
  _exit(1);
}

int pmr_signals_install(const char *prog, int rank) {
  if (!prog) { /* the outcome is printed: stop signals end quietly now */
    pmr__sig_quiet = 1;
    return PMR_OK;
  }
  {
    size_t n = strlen(prog);
    if (n >= sizeof pmr__sig_prog)
      n = sizeof pmr__sig_prog - 1;
    memcpy(pmr__sig_prog, prog, n);
    pmr__sig_prog[n] = '\0';
  }
  pmr__sig_rank = rank;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGHUP);
  sa.sa_handler = pmr__on_stop;
  /* A stop signal the program already handles (or ignores: nohup) is
   * left as it is. */
  static const int stops[] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; i++) {
    struct sigaction old;
    if (sigaction(stops[i], NULL, &old) != 0)
      return PMR_EINVAL;
    bool dfl = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
    if ((dfl || old.sa_handler == pmr__on_stop) &&
        sigaction(stops[i], &sa, NULL) != 0)
      return PMR_EINVAL;
  }
  sa.sa_handler = pmr__on_bus;
  if (sigaction(SIGBUS, &sa, NULL))
    return PMR_EINVAL;
  return PMR_OK;
}
