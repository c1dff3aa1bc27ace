/* The hot path of the combining table, inlined where pairs are emitted and
 * combined: the hash, the probe, find and upsert. The rest (growth, the
 * arena, iteration) is in table.c. */
#ifndef PMR_TABLE_INLINE_H
#define PMR_TABLE_INLINE_H

#include "pmr_internal.h"

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

static inline uint64_t pmr__hash(const void *key, size_t len) {
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

#define PMR__KLEN1(n) ((uint32_t)((n) < 0xfffffffeu ? (n) : 0xfffffffeu) + 1u)

/* Out of line: growth, and the insertion of a new key. */
int pmr__table_grow(pmr__table *t);
void *pmr__table_insert(pmr__table *t, pmr__slot *s, uint64_t hash,
                        const void *key, size_t klen);

static inline bool pmr__table_full(const pmr__table *t, uint64_t n) {
  return !t->mask || 5 * n > 4 * (t->mask + 1);
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
/* Copy a key of at most 12 bytes into a zeroed 12-byte pad with fixed-size
 * (inlined) moves: two overlapping words instead of a memcpy call. */
static inline __attribute__((always_inline)) void
pmr__pad_key(unsigned char *pad, const unsigned char *k,
                                size_t n) {
  if (n >= 8) {
    memcpy(pad, k, 8);
    memcpy(pad + n - 4, k + n - 4, 4);
  } else if (n >= 4) {
    memcpy(pad, k, 4);
    memcpy(pad + n - 4, k + n - 4, 4);
  } else if (n > 0) {
    pad[0] = k[0];
    pad[n >> 1] = k[n >> 1];
    pad[n - 1] = k[n - 1];
  }
}

static inline __attribute__((always_inline)) pmr__slot *
pmr__probe(const pmr__table *t, uint64_t hash,
                                    const void *key, size_t klen) {
  unsigned char pad[PMR__INLINE_KEY] = {0};
  uint32_t k1 = PMR__KLEN1(klen);
  bool inl = klen <= PMR__INLINE_KEY;
  if (inl)
    pmr__pad_key(pad, key, klen);
  uint64_t j = pmr__home(hash, t->seed, t->shift);
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

static inline void *pmr__table_find(const pmr__table *t, uint64_t hash,
                                    const void *key, size_t klen) {
  if (!t->mask)
    return NULL;
  pmr__slot *s = pmr__probe(t, hash, key, klen);
  return s->klen1 ? pmr__slot_value(t, s) : NULL;
}

/* Find or insert `key`; returns its value (vsize bytes, valid until the
 * next insert) and sets *isnew (the value is then zeroed). NULL when out of
 * memory. */
static inline void *pmr__table_upsert(pmr__table *t, uint64_t hash,
                                      const void *key, size_t klen,
                                      bool *isnew) {
  *isnew = false;
  if (pmr__table_full(t, t->count + 1) && pmr__table_grow(t))
    return NULL;
  pmr__slot *s = pmr__probe(t, hash, key, klen);
  if (s->klen1)
    return pmr__slot_value(t, s);
  *isnew = true;
  return pmr__table_insert(t, s, hash, key, klen);
}

#endif
