/* The task list: a file of shell commands, or a template filled from the
 * rows of a CSV table with shell-quoted values (a value can never become
 * shell syntax: no injection through the parameters). */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const farm_state_names[FARM_NSTATES] = {
    "succeeded", "failed", "timed_out", "interrupted", "not_run"};

void tasks_free(tasklist *t) {
  free(t->text);
  free(t->off);
  memset(t, 0, sizeof *t);
}

int tasks_index(tasklist *t) {
  free(t->off);
  t->off = malloc((t->n + 1) * sizeof *t->off);
  if (!t->off)
    return 1;
  uint64_t h = 1469598103934665603ull, i = 0;
  t->off[0] = 0;
  for (uint64_t b = 0; b < t->bytes; b++) {
    h = (h ^ (unsigned char)t->text[b]) * 1099511628211ull;
    if (t->text[b] == '\0' && i < t->n)
      t->off[++i] = b + 1;
  }
  t->hash = h ^ t->n;
  return i == t->n ? 0 : 1;
}

/* The whole file (or stdin for "-") in memory, with a NUL after it. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  struct stat st;
  if (!f || (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))) {
    snprintf(err, errlen, "cannot read '%s': %s", path,
             f ? strerror(EISDIR) : strerror(errno));
    if (f && f != stdin)
      fclose(f);
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      snprintf(err, errlen, "out of memory reading '%s'", path);
      break;
    }
    if (cap - n < 2) {
      char *b = realloc(buf, cap *= 2);
      if (!b) {
        free(buf);
        buf = NULL;
        continue;
      }
      buf = b;
    }
    size_t k = fread(buf + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) {
      if (ferror(f)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        free(buf);
        buf = NULL;
      }
      break;
    }
  }
  if (f != stdin)
    fclose(f);
  if (buf) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

/* Append n bytes to the task text. */
static int put(tasklist *t, size_t *cap, const char *s, size_t n) {
  if (t->bytes + n > *cap) {
    size_t c = *cap ? *cap : 4096;
    while (c < t->bytes + n)
      c *= 2;
    char *p = realloc(t->text, c);
    if (!p)
      return 1;
    t->text = p;
    *cap = c;
  }
  memcpy(t->text + t->bytes, s, n);
  t->bytes += n;
  return 0;
}

int tasks_from_file(const char *path, tasklist *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  size_t len = 0, cap = 0;
  char *buf = slurp(path, &len, err, errlen);
  if (!buf)
    return 1;
  const char *name = strcmp(path, "-") ? path : "(stdin)";
  uint64_t line = 0;
  int rc = 0;
  for (size_t at = 0; at < len && !rc;) {
    line++;
    char *nl = memchr(buf + at, '\n', len - at);
    size_t end = nl ? (size_t)(nl - buf) : len, next = nl ? end + 1 : len;
    /* A command cannot hold a NUL: the shell would never see the rest. */
    if (memchr(buf + at, '\0', end - at)) {
      snprintf(err, errlen, "'%s' line %llu: a NUL byte in the command",
               name, (unsigned long long)line);
      rc = 1;
      break;
    }
    if (end > at && buf[end - 1] == '\r')
      end--; /* a file from Windows */
    size_t s = at;
    while (s < end && (buf[s] == ' ' || buf[s] == '\t'))
      s++;
    if (s < end && buf[s] != '#') {
      if (put(t, &cap, buf + at, end - at) || put(t, &cap, "", 1)) {
        snprintf(err, errlen, "out of memory reading '%s'", name);
        rc = 1;
      }
      t->n++;
    }
    at = next;
  }
  free(buf);
  if (!rc && t->n == 0) {
    snprintf(err, errlen, "no tasks in '%s' (only blank lines and comments)",
             name);
    rc = 1;
  }
  if (!rc && tasks_index(t)) {
    snprintf(err, errlen, "out of memory reading '%s'", name);
    rc = 1;
  }
  if (rc)
    tasks_free(t);
  return rc;
}

char *shell_quote(char *p, const char *s) {
  *p++ = '\'';
  for (; *s; s++) {
    if (*s == '\'') {
      memcpy(p, "'\\''", 4);
      p += 4;
    } else {
      *p++ = *s;
    }
  }
  *p++ = '\'';
  return p;
}

/* ---- CSV (RFC 4180): fields separated by commas, records by LF or CRLF;
 * a field in double quotes may hold commas, line breaks and "" for a
 * quote. The first record names the columns. ---- */

typedef struct csv {
  const char *buf, *name;
  size_t len, at;
  uint64_t line; /* of the current position, 1-based */
  char **fields;
  size_t nfields, cap;
  char *scratch;
  size_t slen, scap;
} csv;

static int csv_field_end(csv *c) {
  if (c->nfields == c->cap) {
    size_t n = c->cap ? 2 * c->cap : 16;
    char **f = realloc(c->fields, n * sizeof *f);
    if (!f)
      return 1;
    c->fields = f;
    c->cap = n;
  }
  char *v = strndup(c->scratch ? c->scratch : "", c->slen);
  if (!v)
    return 1;
  c->fields[c->nfields++] = v;
  c->slen = 0;
  return 0;
}

static int csv_putc(csv *c, char ch) {
  if (c->slen + 1 >= c->scap) {
    size_t n = c->scap ? 2 * c->scap : 256;
    char *s = realloc(c->scratch, n);
    if (!s)
      return 1;
    c->scratch = s;
    c->scap = n;
  }
  c->scratch[c->slen++] = ch;
  return 0;
}

static void csv_clear(csv *c) {
  for (size_t i = 0; i < c->nfields; i++)
    free(c->fields[i]);
  c->nfields = 0;
}

/* The next record into c->fields: 1 when one was read, 0 at the end, -1
 * on error (message in err). Empty lines are skipped. *first_line gets the
 * line the record starts on. */
static int csv_record(csv *c, uint64_t *first_line, char *err,
                      size_t errlen) {
  csv_clear(c);
  while (c->at < c->len &&
         (c->buf[c->at] == '\n' ||
          (c->buf[c->at] == '\r' && c->at + 1 < c->len &&
           c->buf[c->at + 1] == '\n'))) {
    c->at += c->buf[c->at] == '\r' ? 2 : 1;
    c->line++;
  }
  if (c->at >= c->len)
    return 0;
  *first_line = c->line;
  for (;;) {
    /* One field. */
    if (c->at < c->len && c->buf[c->at] == '"') {
      uint64_t qline = c->line;
      c->at++;
      for (;;) {
        if (c->at >= c->len) {
          snprintf(err, errlen, "'%s' line %llu: a quoted field is never "
                   "closed", c->name, (unsigned long long)qline);
          return -1;
        }
        char ch = c->buf[c->at++];
        if (ch == '"') {
          if (c->at < c->len && c->buf[c->at] == '"') {
            c->at++;
          } else {
            break;
          }
        }
        if (ch == '\n')
          c->line++;
        if (ch == '\0') {
          snprintf(err, errlen, "'%s' line %llu: a NUL byte in a field",
                   c->name, (unsigned long long)c->line);
          return -1;
        }
        if (csv_putc(c, ch))
          goto oom;
      }
      if (c->at < c->len && c->buf[c->at] != ',' && c->buf[c->at] != '\n' &&
          !(c->buf[c->at] == '\r' && c->at + 1 < c->len &&
            c->buf[c->at + 1] == '\n')) {
        snprintf(err, errlen, "'%s' line %llu: text after a closing quote",
                 c->name, (unsigned long long)c->line);
        return -1;
      }
    } else {
      while (c->at < c->len && c->buf[c->at] != ',' &&
             c->buf[c->at] != '\n' &&
             !(c->buf[c->at] == '\r' && c->at + 1 < c->len &&
               c->buf[c->at + 1] == '\n')) {
        if (c->buf[c->at] == '\0') {
          snprintf(err, errlen, "'%s' line %llu: a NUL byte in a field",
                   c->name, (unsigned long long)c->line);
          return -1;
        }
        if (csv_putc(c, c->buf[c->at++]))
          goto oom;
      }
    }
    if (csv_field_end(c))
      goto oom;
    if (c->at < c->len && c->buf[c->at] == ',') {
      c->at++;
      continue;
    }
    if (c->at < c->len) { /* the record's line break */
      c->at += c->buf[c->at] == '\r' ? 2 : 1;
      c->line++;
    }
    return 1;
  }
oom:
  snprintf(err, errlen, "out of memory reading '%s'", c->name);
  return -1;
}

/* The command for one row: the template with each {column} replaced by
 * the row's value, shell-quoted; any other brace is the template's own.
 * Writes to out when it is not NULL; returns the size with the NUL. */
static size_t fill(const char *tmpl, size_t tlen, char *const *head,
                   size_t nhead, char *const *fields, char *out) {
  size_t n = 0;
  for (size_t i = 0; i < tlen;) {
    size_t col = nhead;
    const char *close = tmpl[i] == '{' ? strchr(tmpl + i + 1, '}') : NULL;
    for (size_t k = 0; close && k < nhead; k++)
      if ((size_t)(close - tmpl - i - 1) == strlen(head[k]) &&
          !strncmp(tmpl + i + 1, head[k], strlen(head[k])))
        col = k;
    if (col < nhead) {
      if (out)
        n = (size_t)(shell_quote(out + n, fields[col]) - out);
      else
        n += 4 * strlen(fields[col]) + 2;
      i = (size_t)(close - tmpl) + 1;
      continue;
    }
    if (out)
      out[n] = tmpl[i];
    n++;
    i++;
  }
  if (out)
    out[n] = '\0';
  return n + 1;
}

int tasks_from_template(const char *tmpl, const char *path, tasklist *t,
                        char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  size_t len = 0, cap = 0;
  char *buf = slurp(path, &len, err, errlen);
  if (!buf)
    return 1;
  csv c = {.buf = buf, .len = len, .name = path, .line = 1};
  char **head = NULL;
  size_t nhead = 0;
  char *cmd = NULL;
  uint64_t first = 0;
  int rc = 0;
  int r = csv_record(&c, &first, err, errlen);
  if (r == 0) {
    snprintf(err, errlen, "'%s' is empty: it needs a header line naming the "
             "columns, then one line per task", path);
    rc = 1;
  } else if (r < 0) {
    rc = 1;
  } else {
    head = c.fields;
    nhead = c.nfields;
    c.fields = NULL;
    c.nfields = c.cap = 0;
    for (size_t i = 0; i < nhead && !rc; i++) {
      if (!*head[i]) {
        snprintf(err, errlen, "'%s' line %llu: column %zu has no name", path,
                 (unsigned long long)first, i + 1);
        rc = 1;
      }
      for (size_t k = 0; k < i && !rc; k++)
        if (!strcmp(head[k], head[i])) {
          snprintf(err, errlen, "'%s' line %llu: two columns named '%s'",
                   path, (unsigned long long)first, head[i]);
          rc = 1;
        }
    }
  }
  size_t tlen = strlen(tmpl);
  while (!rc && (r = csv_record(&c, &first, err, errlen)) > 0) {
    if (c.nfields != nhead) {
      snprintf(err, errlen, "'%s' line %llu: %zu fields, but the header "
               "names %zu columns", path, (unsigned long long)first,
               c.nfields, nhead);
      rc = 1;
      break;
    }
    char *grown = realloc(cmd, fill(tmpl, tlen, head, nhead, c.fields, NULL));
    if (!grown) {
      snprintf(err, errlen, "out of memory building the tasks");
      rc = 1;
      break;
    }
    cmd = grown;
    size_t used = fill(tmpl, tlen, head, nhead, c.fields, cmd);
    if (put(t, &cap, cmd, used)) {
      snprintf(err, errlen, "out of memory building the tasks");
      rc = 1;
    }
    t->n++;
  }
  if (r < 0)
    rc = 1;
  if (!rc && t->n == 0) {
    snprintf(err, errlen, "no tasks in '%s': it has a header line but no "
             "rows", path);
    rc = 1;
  }
  if (!rc && tasks_index(t)) {
    snprintf(err, errlen, "out of memory building the tasks");
    rc = 1;
  }
  csv_clear(&c);
  free(c.fields);
  free(c.scratch);
  for (size_t i = 0; i < nhead; i++)
    free(head[i]);
  free(head);
  free(cmd);
  free(buf);
  if (rc)
    tasks_free(t);
  return rc;
}
