/* Growable buffers with overflow-checked sizes. */
#include "base/base.h"

int pmr__grow_array(void **p, size_t *cap, size_t need, size_t size,
                    size_t first) {
  if (need <= *cap)
    return PMR_OK;
  size_t c = *cap ? *cap : first;
  while (c < need) {
    if (pmr__mul_ovf(c, 2, &c))
      return PMR_ENOMEM;
  }
  size_t bytes;
  if (pmr__mul_ovf(c, size, &bytes))
    return PMR_ENOMEM;
  void *q = pmr__realloc(*p, bytes);
  if (!q)
    return PMR_ENOMEM;
  *p = q;
  *cap = c;
  return PMR_OK;
}

int pmr__buf_reserve(pmr__buf *b, size_t more) {
  size_t need;
  if (pmr__add_ovf(b->len, more, &need))
    return PMR_ENOMEM;
  void *p = b->p;
  int rc = pmr__grow_array(&p, &b->cap, need, 1, 4096);
  b->p = p;
  return rc;
}

int pmr__buf_put(pmr__buf *b, const void *d, size_t n) {
  if (pmr__buf_reserve(b, n))
    return PMR_ENOMEM;
  if (n)
    memcpy(b->p + b->len, d, n);
  b->len += n;
  return PMR_OK;
}

void pmr__buf_free(pmr__buf *b) {
  pmr__free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
