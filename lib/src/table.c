/* The combining hash table: open addressing with linear probing over
 * 32-byte slots that hold short keys and small values inline (see
 * pmr_internal.h). Not thread-safe: each thread owns its tables. */
#define _GNU_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "pmr_internal.h"

#include <sys/mman.h>

#include <stdlib.h>

/* A wyhash-style hash: 64-bit multiply-mix, 8 bytes at a time. */
static inline uint64_t pmr__mum(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}
static inline uint64_t pmr__r8(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint64_t pmr__r4(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

uint64_t pmr__hash(const void *key, size_t len) {
  static const uint64_t s0 = 0xa0761d6478bd642full, s1 = 0xe7037ed1a0b428dbull,
                        s2 = 0x8ebc6af09c88c6e3ull, s3 = 0x589965cc75374cc3ull;
  const unsigned char *p = key;
  uint64_t seed = s0, a, b;
  if (len <= 16) {
    if (len >= 4) {
      size_t q = (len >> 3) << 2;
      a = (pmr__r4(p) << 32) | pmr__r4(p + q);
      b = (pmr__r4(p + len - 4) << 32) | pmr__r4(p + len - 4 - q);
    } else if (len > 0) {
      a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = len;
    if (i > 48) {
      uint64_t see1 = seed, see2 = seed;
      do {
        seed = pmr__mum(pmr__r8(p) ^ s1, pmr__r8(p + 8) ^ seed);
        see1 = pmr__mum(pmr__r8(p + 16) ^ s2, pmr__r8(p + 24) ^ see1);
        see2 = pmr__mum(pmr__r8(p + 32) ^ s3, pmr__r8(p + 40) ^ see2);
        p += 48;
        i -= 48;
      } while (i > 48);
      seed ^= see1 ^ see2;
    }
    while (i > 16) {
      seed = pmr__mum(pmr__r8(p) ^ s1, pmr__r8(p + 8) ^ seed);
      i -= 16;
      p += 16;
    }
    a = pmr__r8(p + i - 16);
    b = pmr__r8(p + i - 8);
  }
  return pmr__mum(s1 ^ (uint64_t)len, pmr__mum(a ^ s1, b ^ seed));
}

#define PMR__ALIGN8(n) (((n) + 7) & ~(size_t)7)
#define PMR__KLEN1(n) ((uint32_t)((n) < 0xfffffffeu ? (n) : 0xfffffffeu) + 1u)

void pmr__table_init(pmr__table *t, size_t vsize) {
  memset(t, 0, sizeof *t);
  t->vsize = vsize;
}

void pmr__table_free(pmr__table *t) {
  free(t->slots);
  free(t->arena);
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
  if (posix_memalign((void **)&s, bytes >= huge ? huge : 64, bytes) != 0)
    return PMR_ENOMEM;
#ifdef MADV_HUGEPAGE
  if (bytes >= huge)
    madvise(s, bytes, MADV_HUGEPAGE);
#endif
  memset(s, 0, bytes);
  uint64_t mask = cap - 1;
  if (t->mask) {
    for (uint64_t i = 0; i <= t->mask; i++) {
      if (!t->slots[i].klen1)
        continue;
      uint64_t j = t->slots[i].hash & mask;
      while (s[j].klen1)
        j = (j + 1) & mask;
      s[j] = t->slots[i];
    }
  }
  free(t->slots);
  t->slots = s;
  t->mask = mask;
  return PMR_OK;
}

/* Grow past a load of 4/5: the stored hash keeps long probe runs cheap, and
 * a denser table is a smaller one (memory is the scarcer resource). */
static inline bool pmr__table_full(const pmr__table *t, uint64_t n) {
  return !t->mask || 5 * n > 4 * (t->mask + 1);
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
  n = PMR__ALIGN8(n);
  if (t->used + n > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->used + n)
      cap *= 2;
    unsigned char *a = realloc(t->arena, cap);
    if (!a)
      return NULL;
    t->arena = a;
    t->cap = cap;
  }
  *off = t->used;
  t->used += n;
  return t->arena + *off;
}

static inline const unsigned char *pmr__slot_key(const pmr__table *t,
                                                 const pmr__slot *s,
                                                 size_t *klen) {
  if (s->klen1 - 1 <= PMR__INLINE_KEY) {
    *klen = s->klen1 - 1;
    return s->key;
  }
  uint64_t off, k64;
  memcpy(&off, s->key, 8);
  memcpy(&k64, t->arena + off, 8);
  *klen = (size_t)k64;
  return t->arena + off + 8;
}

static inline void *pmr__slot_value(const pmr__table *t, pmr__slot *s) {
  return t->vsize <= 8 ? (void *)&s->val : (void *)(t->arena + s->val);
}

/* The probe loop shared by find and upsert: the slot holding the key, or
 * the empty slot where it would go. */
static inline pmr__slot *pmr__probe(const pmr__table *t, uint64_t hash,
                                    const void *key, size_t klen) {
  unsigned char pad[PMR__INLINE_KEY] = {0};
  uint32_t k1 = PMR__KLEN1(klen);
  bool inl = klen <= PMR__INLINE_KEY;
  if (inl && klen)
    memcpy(pad, key, klen);
  uint64_t j = hash & t->mask;
  for (;;) {
    pmr__slot *s = &t->slots[j];
    if (!s->klen1)
      return s;
    if (s->hash == hash && s->klen1 == k1) {
      if (inl) {
        if (memcmp(s->key, pad, PMR__INLINE_KEY) == 0)
          return s;
      } else {
        size_t sk;
        const unsigned char *p = pmr__slot_key(t, s, &sk);
        if (sk == klen && memcmp(p, key, klen) == 0)
          return s;
      }
    }
    j = (j + 1) & t->mask;
  }
}

void *pmr__table_find(const pmr__table *t, uint64_t hash, const void *key,
                      size_t klen) {
  if (!t->mask)
    return NULL;
  pmr__slot *s = pmr__probe(t, hash, key, klen);
  return s->klen1 ? pmr__slot_value(t, s) : NULL;
}

void *pmr__table_upsert(pmr__table *t, uint64_t hash, const void *key,
                        size_t klen, bool *isnew) {
  if (pmr__table_full(t, t->count + 1) &&
      pmr__table_rehash(t, t->mask ? 2 * (t->mask + 1) : 64))
    return NULL;
  pmr__slot *s = pmr__probe(t, hash, key, klen);
  if (s->klen1) {
    *isnew = false;
    return pmr__slot_value(t, s);
  }
  /* New key: long keys and large values go to the arena first, so that a
   * failed allocation leaves the slot empty. */
  uint64_t koff = 0, voff = 0;
  if (klen > PMR__INLINE_KEY) {
    unsigned char *p = pmr__arena_alloc(t, 8 + klen, &koff);
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
  *isnew = true;
  return pmr__slot_value(t, s);
}

bool pmr__table_next(const pmr__table *t, size_t *pos, pmr__rec *r) {
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
