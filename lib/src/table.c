/* The combining hash table: open addressing with linear probing, records in
 * one arena, so that growing rehashes only 16-byte slots and iteration is a
 * sequential walk. Not thread-safe: each thread owns its tables. */
#include "pmr_internal.h"

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
#define PMR__REC_HDR 16 /* hash, klen */

void pmr__table_init(pmr__table *t, size_t vsize) {
  memset(t, 0, sizeof *t);
  t->vsize = vsize;
  t->vstride = PMR__ALIGN8(vsize);
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
  pmr__slot *s = calloc(cap, sizeof *s);
  if (!s)
    return PMR_ENOMEM;
  uint64_t mask = cap - 1;
  if (t->mask) {
    for (uint64_t i = 0; i <= t->mask; i++) {
      if (!t->slots[i].ref)
        continue;
      uint64_t j = t->slots[i].hash & mask;
      while (s[j].ref)
        j = (j + 1) & mask;
      s[j] = t->slots[i];
    }
  }
  free(t->slots);
  t->slots = s;
  t->mask = mask;
  return PMR_OK;
}

/* Keep the load factor at most 1/2: probes stay short on misses. */
int pmr__table_reserve(pmr__table *t, uint64_t n) {
  uint64_t cap = 16;
  while (cap < 2 * n)
    cap <<= 1;
  if (t->mask && cap <= t->mask + 1)
    return PMR_OK;
  return pmr__table_rehash(t, cap);
}

void *pmr__table_find(const pmr__table *t, uint64_t hash, const void *key,
                      size_t klen) {
  if (!t->mask)
    return NULL;
  uint64_t j = hash & t->mask;
  for (;;) {
    const pmr__slot *s = &t->slots[j];
    if (!s->ref)
      return NULL;
    if (s->hash == hash) {
      unsigned char *r = t->arena + (s->ref - 1);
      uint64_t rk;
      memcpy(&rk, r + 8, 8);
      if (rk == klen &&
          memcmp(r + PMR__REC_HDR + t->vstride, key, klen) == 0)
        return r + PMR__REC_HDR;
    }
    j = (j + 1) & t->mask;
  }
}

void *pmr__table_upsert(pmr__table *t, uint64_t hash, const void *key,
                        size_t klen, bool *isnew) {
  if (2 * (t->count + 1) > (t->mask ? t->mask + 1 : 0)) {
    if (pmr__table_rehash(t, t->mask ? 2 * (t->mask + 1) : 64))
      return NULL;
  }
  uint64_t j = hash & t->mask;
  for (;;) {
    pmr__slot *s = &t->slots[j];
    if (!s->ref)
      break;
    if (s->hash == hash) {
      unsigned char *r = t->arena + (s->ref - 1);
      uint64_t rk;
      memcpy(&rk, r + 8, 8);
      if (rk == klen &&
          memcmp(r + PMR__REC_HDR + t->vstride, key, klen) == 0) {
        *isnew = false;
        return r + PMR__REC_HDR;
      }
    }
    j = (j + 1) & t->mask;
  }
  size_t need = PMR__REC_HDR + t->vstride + PMR__ALIGN8(klen);
  if (t->used + need > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->used + need)
      cap *= 2;
    unsigned char *a = realloc(t->arena, cap);
    if (!a)
      return NULL;
    t->arena = a;
    t->cap = cap;
  }
  unsigned char *r = t->arena + t->used;
  uint64_t k64 = klen;
  memcpy(r, &hash, 8);
  memcpy(r + 8, &k64, 8);
  if (klen)
    memcpy(r + PMR__REC_HDR + t->vstride, key, klen);
  t->slots[j].hash = hash;
  t->slots[j].ref = t->used + 1;
  t->used += need;
  t->count++;
  *isnew = true;
  return r + PMR__REC_HDR;
}

size_t pmr__table_rec(const pmr__table *t, size_t off, pmr__rec *r) {
  unsigned char *p = t->arena + off;
  uint64_t k64;
  memcpy(&r->hash, p, 8);
  memcpy(&k64, p + 8, 8);
  r->klen = (size_t)k64;
  r->value = p + PMR__REC_HDR;
  r->key = p + PMR__REC_HDR + t->vstride;
  return off + PMR__REC_HDR + t->vstride + PMR__ALIGN8(r->klen);
}
