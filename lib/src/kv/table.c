/* The combining hash table: growth, the arena, iteration (see table.h). */
#define _GNU_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "kv/table.h"

#include <sys/mman.h>

#define PMR__ALIGN8(n) (((n) + 7) & ~(size_t)7)

void pmr__table_init(pmr__table *t, size_t vsize) {
  static _Atomic uint64_t tables;
  memset(t, 0, sizeof *t);
  t->vsize = vsize;
  t->seed = pmr__hash(&(uint64_t){++tables}, 8);
}

void pmr__table_free(pmr__table *t) {
  pmr__free(t->slots);
  pmr__free(t->arena);
  pmr__table_init(t, t->vsize);
}

size_t pmr__table_bytes(const pmr__table *t) {
  return (t->mask ? (t->mask + 1) * sizeof(pmr__slot) : 0) + t->cap;
}

static int pmr__table_rehash(pmr__table *t, uint64_t cap) {
  pmr__slot *s = NULL;
  size_t bytes = cap * sizeof *s, huge = (size_t)2 << 20;
  /* Slots aligned to the cache line, so a probe never straddles two; big
   * tables on huge pages, since random probes would otherwise miss the TLB
   * about as often as the cache. */
  if (pmr__mul_ovf(cap, sizeof *s, &bytes) ||
      pmr__memalign((void **)&s, bytes >= huge ? huge : 64, bytes))
    return PMR_ENOMEM;
#ifdef MADV_HUGEPAGE
  if (bytes >= huge)
    madvise(s, bytes, MADV_HUGEPAGE);
#endif
  memset(s, 0, bytes);
  uint64_t mask = cap - 1;
  unsigned shift = 64;
  for (uint64_t c = cap; c > 1; c >>= 1)
    shift--;
  if (t->mask) {
    for (uint64_t i = 0; i <= t->mask; i++) {
      if (!t->slots[i].klen1)
        continue;
      uint64_t j = pmr__home(t->slots[i].hash, t->seed, shift);
      while (s[j].klen1)
        j = (j + 1) & mask;
      s[j] = t->slots[i];
    }
  }
  pmr__free(t->slots);
  t->slots = s;
  t->mask = mask;
  t->shift = shift;
  return PMR_OK;
}

int pmr__table_reserve(pmr__table *t, uint64_t n) {
  uint64_t cap = 16;
  while (5 * n > 4 * cap)
    cap <<= 1;
  if (t->mask && cap <= t->mask + 1)
    return PMR_OK;
  return pmr__table_rehash(t, cap);
}

static unsigned char *pmr__arena_alloc(pmr__table *t, size_t n,
                                       uint64_t *off) {
  size_t need;
  if (n > SIZE_MAX - 7)
    return NULL;
  n = PMR__ALIGN8(n);
  if (pmr__add_ovf(t->used, n, &need))
    return NULL;
  void *a = t->arena;
  if (pmr__grow_array(&a, &t->cap, need, 1, 4096))
    return NULL;
  t->arena = a;
  *off = t->used;
  t->used = need;
  return t->arena + *off;
}

int pmr__table_grow(pmr__table *t) {
  return pmr__table_rehash(t, t->mask ? 2 * (t->mask + 1) : 64);
}

/* A new key into empty slot `s`: long keys and large values go to the
 * arena first, so that a failed allocation leaves the slot empty. */
void *pmr__table_insert(pmr__table *t, pmr__slot *s, uint64_t hash,
                        const void *key, size_t klen) {
  uint64_t koff = 0, voff = 0;
  if (klen > PMR__INLINE_KEY) {
    size_t kbytes;
    if (pmr__add_ovf(klen, 8, &kbytes))
      return NULL;
    unsigned char *p = pmr__arena_alloc(t, kbytes, &koff);
    if (!p)
      return NULL;
    uint64_t k64 = klen;
    memcpy(p, &k64, 8);
    memcpy(p + 8, key, klen);
  }
  if (t->vsize > 8) {
    unsigned char *p = pmr__arena_alloc(t, t->vsize, &voff);
    if (!p)
      return NULL;
    memset(p, 0, t->vsize);
  }
  s->hash = hash;
  s->klen1 = PMR__KLEN1(klen);
  s->val = voff;
  if (klen > PMR__INLINE_KEY)
    memcpy(s->key, &koff, 8);
  else if (klen)
    memcpy(s->key, key, klen);
  t->count++;
  return pmr__slot_value(t, s);
}

bool pmr__table_next(const pmr__table *t, size_t *pos, pmr__pair *r) {
  if (!t->mask)
    return false;
  for (size_t i = *pos; i <= t->mask; i++) {
    pmr__slot *s = &t->slots[i];
    if (!s->klen1)
      continue;
    r->hash = s->hash;
    r->key = pmr__slot_key(t, s, &r->klen);
    r->value = pmr__slot_value(t, s);
    *pos = i + 1;
    return true;
  }
  *pos = t->mask + 1;
  return false;
}

void pmr__table_clear(pmr__table *t) {
  if (t->mask)
    memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
  t->count = 0;
  t->used = 0;
}
