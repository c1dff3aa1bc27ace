/* Allocation: one place for every allocation of the library, so that a test
 * build (PMR_FAULT_INJECTION) can fail the n-th one and count live blocks,
 * and every error path can be run. */
#define _POSIX_C_SOURCE 200809L
#include "base/base.h"

#include <stdatomic.h>
#include <stdlib.h>

#ifdef PMR_FAULT_INJECTION
static _Atomic uint64_t pmr__allocs, pmr__fail_at;
static _Atomic int64_t pmr__live;

/* Count this allocation; true when it must fail. */
static bool pmr__inject(void) {
  uint64_t n = atomic_fetch_add(&pmr__allocs, 1) + 1;
  uint64_t at = atomic_load(&pmr__fail_at);
  return at && n >= at;
}
void pmr__alloc_fail_after(uint64_t n) {
  atomic_store(&pmr__allocs, 0);
  atomic_store(&pmr__fail_at, n);
}
uint64_t pmr__alloc_count(void) { return atomic_load(&pmr__allocs); }
int64_t pmr__alloc_live(void) { return atomic_load(&pmr__live); }
#define PMR__LIVE(d) atomic_fetch_add(&pmr__live, (d))
#else
static bool pmr__inject(void) { return false; }
void pmr__alloc_fail_after(uint64_t n) { (void)n; }
uint64_t pmr__alloc_count(void) { return 0; }
int64_t pmr__alloc_live(void) { return 0; }
#define PMR__LIVE(d) ((void)0)
#endif

void *pmr__malloc(size_t n) {
  if (pmr__inject())
    return NULL;
  void *p = malloc(n ? n : 1);
  if (p)
    PMR__LIVE(1);
  return p;
}

void *pmr__calloc(size_t n, size_t size) {
  if (pmr__inject())
    return NULL;
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p)
    PMR__LIVE(1);
  return p;
}

void *pmr__realloc(void *p, size_t n) {
  if (pmr__inject())
    return NULL;
  void *q = realloc(p, n ? n : 1);
  if (q && !p)
    PMR__LIVE(1);
  return q;
}

char *pmr__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = pmr__malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

int pmr__memalign(void **p, size_t align, size_t n) {
  *p = NULL;
  if (pmr__inject() || posix_memalign(p, align, n ? n : 1) != 0)
    return PMR_ENOMEM;
  PMR__LIVE(1);
  return PMR_OK;
}

void pmr__free(void *p) {
  if (p) {
    PMR__LIVE(-1);
    free(p);
  }
}
