/* Dataset specs "FILE.h5:/path/to/dataset": the one parser the apps and the
 * HDF5 source share. Only the split is decided here; whether the file and
 * the dataset exist is the reader's question. */
#define _POSIX_C_SOURCE 200809L
#include "input/h5.h"

#include <stdio.h>
#include <sys/stat.h>

/* Does the first `len` bytes of spec name something other than a directory?
 * A directory cannot be the file part, so "dir:/x.h5:/d" skips "dir:". */
static int pmr__h5_prefix_exists(const char *spec, size_t len, bool *yes) {
  char *name = pmr__malloc(len + 1);
  if (!name)
    return PMR_ENOMEM;
  memcpy(name, spec, len);
  name[len] = '\0';
  struct stat st;
  *yes = stat(name, &st) == 0 && !S_ISDIR(st.st_mode);
  pmr__free(name);
  return PMR_OK;
}

int pmr__h5_spec_split(const char *spec, size_t *at) {
  size_t n = strlen(spec), ncand = 0, last = 0;
  /* A candidate is a ':' followed by '/' with a non-empty file part. */
  for (size_t i = 1; i + 1 < n; i++)
    if (spec[i] == ':' && spec[i + 1] == '/') {
      ncand++;
      last = i;
    }
  if (ncand == 0)
    return PMR_EINVAL;
  *at = last;
  if (ncand == 1)
    return PMR_OK;
  /* Several: the longest prefix that names an existing file wins, so a
   * file name with ":/" in it works; with none, the longest, so that the
   * error names the most likely file. */
  for (size_t i = last + 1; i-- > 1;) {
    if (spec[i] != ':' || spec[i + 1] != '/')
      continue;
    bool yes = false;
    int rc = pmr__h5_prefix_exists(spec, i, &yes);
    if (rc)
      return rc;
    if (yes) {
      *at = i;
      break;
    }
  }
  return PMR_OK;
}

int pmr__h5_spec_at(const char *spec, size_t at, char **file, char **dataset) {
  *file = pmr__malloc(at + 1);
  *dataset = pmr__strdup(spec + at + 1);
  if (!*file || !*dataset) {
    pmr__free(*file);
    pmr__free(*dataset);
    *file = *dataset = NULL;
    return PMR_ENOMEM;
  }
  memcpy(*file, spec, at);
  (*file)[at] = '\0';
  return PMR_OK;
}

int pmr_h5_spec(const char *spec, char **file, char **dataset) {
  if (file)
    *file = NULL;
  if (dataset)
    *dataset = NULL;
  if (!spec || !file || !dataset)
    return PMR_EINVAL;
  size_t at;
  int rc = pmr__h5_spec_split(spec, &at);
  return rc ? rc : pmr__h5_spec_at(spec, at, file, dataset);
}
