/* The journal: what --resume reads. Each rank appends a line per task
 * outcome to its own file (no two processes ever append to one file, which
 * network file systems do not make safe), one write() per line, so a run
 * killed at any moment leaves whole lines; lines are fdatasync'ed in groups
 * (at most 50 ms after they are written), which bounds what a crash of the
 * node itself can lose without paying a disk flush per task. */
#define _GNU_SOURCE
#include "app.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL_MAGIC "# pmr-farm journal 1"
#define JOURNAL_SYNC_S 0.05

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_run_file(const char *name) {
  return !strncmp(name, "run-", 4);
}

int journal_prepare(const char *dir, int keep, char *err, size_t errlen) {
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create the journal directory '%s': %s",
             dir, strerror(errno));
    return 1;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "cannot use '%s' as the journal directory: not a "
             "directory", dir);
    return 1;
  }
  if (keep)
    return 0;
  /* A fresh run: the journals of earlier runs would mix with this one's. */
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(err, errlen, "cannot read '%s': %s", dir, strerror(errno));
    return 1;
  }
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    if (!is_run_file(e->d_name))
      continue;
    if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT) {
      snprintf(err, errlen, "cannot remove the old journal '%s/%s': %s", dir,
               e->d_name, strerror(errno));
      rc = 1;
      break;
    }
  }
  closedir(d);
  return rc;
}

static int write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t k = write(fd, s, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return 1;
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

int journal_open(journal *j, const char *dir, const char *stamp, int rank,
                 const tasklist *t, const char *host, char *err,
                 size_t errlen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/run-%s.rank-%05d", dir, stamp, rank);
  j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  j->synced = mono();
  j->dirty = 0;
  j->failed = 0;
  if (j->fd < 0) {
    snprintf(err, errlen, "cannot create the journal '%s': %s", path,
             strerror(errno));
    return 1;
  }
  char head[512];
  int len = snprintf(head, sizeof head,
                     JOURNAL_MAGIC " tasks=%llu hash=%016llx rank=%d "
                     "host=%s\n",
                     (unsigned long long)t->n, (unsigned long long)t->hash,
                     rank, host);
  if (write_all(j->fd, head, (size_t)len) || fdatasync(j->fd) != 0) {
    snprintf(err, errlen, "cannot write the journal '%s': %s", path,
             strerror(errno));
    close(j->fd);
    j->fd = -1;
    return 1;
  }
  return 0;
}

int journal_write(journal *j, const farm_rec *r, const char *host) {
  if (j->fd < 0)
    return 1;
  char line[512];
  int len = snprintf(line, sizeof line,
                     "%llu\t%d\t%d\t%d\t%d\t%d\t%.6f\t%.6f\t%s\n",
                     (unsigned long long)r->id, r->state, r->exit_code,
                     r->signal, r->attempts, r->rank, r->start, r->seconds,
                     host);
  if (len < 0 || (size_t)len >= sizeof line || write_all(j->fd, line,
                                                        (size_t)len)) {
    j->failed = 1; /* reported by journal_close */
    return 1;
  }
  j->dirty = 1;
  return 0;
}

void journal_tick(journal *j, double now) {
  if (j->fd >= 0 && j->dirty && now - j->synced >= JOURNAL_SYNC_S) {
    fdatasync(j->fd);
    j->synced = now;
    j->dirty = 0;
  }
}

int journal_close(journal *j) {
  int rc = j->failed;
  if (j->fd >= 0) {
    rc |= fdatasync(j->fd) != 0;
    rc |= close(j->fd) != 0;
  }
  j->fd = -1;
  j->failed = 0;
  return rc;
}

static int intern(char ***hosts, int *nhosts, const char *h) {
  for (int i = 0; i < *nhosts; i++)
    if (!strcmp((*hosts)[i], h))
      return i;
  char **p = realloc(*hosts, (size_t)(*nhosts + 1) * sizeof *p);
  if (!p)
    return -1;
  *hosts = p;
  if (!(p[*nhosts] = strdup(h)))
    return -1;
  return (*nhosts)++;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line into r (host into host[]); 0 when it parses. A line cut short by
 * a crash does not. */
static int parse_line(char *line, farm_rec *r, char *host, size_t hostlen) {
  unsigned long long id;
  int n = 0;
  if (sscanf(line, "%llu\t%d\t%d\t%d\t%d\t%d\t%lf\t%lf\t%n", &id, &r->state,
             &r->exit_code, &r->signal, &r->attempts, &r->rank, &r->start,
             &r->seconds, &n) != 8 ||
      n == 0)
    return 1;
  const char *h = line + n;
  size_t hl = strlen(h);
  if (hl == 0 || h[hl - 1] != '\n' || hl >= hostlen)
    return 1;
  memcpy(host, h, hl - 1);
  host[hl - 1] = '\0';
  r->id = id;
  return r->state < 0 || r->state >= FARM_NSTATES;
}

int journal_read(const char *dir, const tasklist *t, farm_rec *recs,
                 char ***hosts, int *nhosts, char *err, size_t errlen) {
  for (uint64_t i = 0; i < t->n; i++)
    recs[i] = (farm_rec){.id = i, .state = FARM_NOT_RUN, .exit_code = -1,
                         .rank = -1, .host = -1};
  DIR *d = opendir(dir);
  if (!d)
    return 0; /* no journal: nothing was done */
  char **names = NULL;
  size_t nn = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    if (!is_run_file(e->d_name))
      continue;
    char **p = realloc(names, (nn + 1) * sizeof *p);
    if (!p || !(p[nn] = strdup(e->d_name))) {
      names = p ? p : names;
      snprintf(err, errlen, "out of memory reading '%s'", dir);
      rc = 1;
      break;
    }
    names = p;
    nn++;
  }
  closedir(d);
  /* Oldest run first (the names start with the run's UTC time), so a later
   * record of a task replaces an earlier one. */
  if (!rc)
    qsort(names, nn, sizeof *names, cmp_names);
  char want[128], line[8192], host[4096];
  snprintf(want, sizeof want, JOURNAL_MAGIC " tasks=%llu hash=%016llx ",
           (unsigned long long)t->n, (unsigned long long)t->hash);
  for (size_t i = 0; i < nn && !rc; i++) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "r");
    if (!f) {
      snprintf(err, errlen, "cannot read the journal '%s': %s", path,
               strerror(errno));
      rc = 1;
      break;
    }
    if (!fgets(line, sizeof line, f)) {
      fclose(f); /* created, then killed before its header: nothing */
      continue;
    }
    if (strncmp(line, want, strlen(want))) {
      snprintf(err, errlen, "the journal '%s' belongs to another task list "
               "(the tasks changed since that run): run without --resume to "
               "start over", path);
      fclose(f);
      rc = 1;
      break;
    }
    while (!rc && fgets(line, sizeof line, f)) {
      farm_rec r = {0};
      if (parse_line(line, &r, host, sizeof host) || r.id >= t->n)
        continue;
      farm_rec *cur = &recs[r.id];
      if (cur->state == FARM_OK)
        continue; /* done once is done */
      int h = intern(hosts, nhosts, host);
      if (h < 0) {
        snprintf(err, errlen, "out of memory reading '%s'", path);
        rc = 1;
        break;
      }
      r.host = h;
      *cur = r;
    }
    fclose(f);
  }
  for (size_t i = 0; i < nn; i++)
    free(names[i]);
  free(names);
  return rc;
}
