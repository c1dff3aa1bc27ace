/* The combining hash table: open addressing with linear probing over
 * 32-byte slots. This header has the types and the hot path (probe, find,
 * upsert), inlined where pairs are emitted and combined; table.c has growth,
 * the arena and iteration. Not thread-safe: each thread owns its tables. */
#ifndef PMR_KV_TABLE_H
#define PMR_KV_TABLE_H

#include "kv/hash.h"

/* One slot is 32 bytes, two to a cache line, and holds everything a lookup
 * of the common pair needs: a key of up to 12 bytes and a value of up to 8
 * bytes live in the slot itself, so a probe touches one line. Longer keys
 * and values go to an arena; the slot keeps their offsets. */
#define PMR__INLINE_KEY 12
typedef struct pmr__slot {
  uint64_t hash;
  uint64_t val;   /* the value (vsize <= 8), else its arena offset */
  uint32_t klen1; /* 0: empty; else min(klen, 2^32 - 2) + 1 */
  unsigned char key[PMR__INLINE_KEY]; /* the key, zero padded, or (klen >
                                         12) its arena offset: [u64 klen][bytes] */
} pmr__slot;

typedef struct pmr__table {
  pmr__slot *slots;
  uint64_t mask;  /* capacity - 1 (power of two) or 0 before first insert */
  unsigned shift; /* 64 - log2(capacity) */
  uint64_t seed;  /* distinct for every table (see pmr__home) */
  uint64_t count;
  unsigned char *arena; /* long keys, large values */
  size_t used, cap;
  size_t vsize;
} pmr__table;

/* A pair as iteration sees it (pointers valid until the table changes). */
typedef struct pmr__pair {
  uint64_t hash;
  size_t klen;
  unsigned char *value;
  const unsigned char *key;
} pmr__pair;

void pmr__table_init(pmr__table *t, size_t vsize);
void pmr__table_free(pmr__table *t);
/* Size the slot array for about `n` keys (no shrinking). */
int pmr__table_reserve(pmr__table *t, uint64_t n);
/* Iterate: start with *pos = 0; fills *r with the next pair at or after
 * *pos and moves *pos past it; false at the end. Order unspecified. */
bool pmr__table_next(const pmr__table *t, size_t *pos, pmr__pair *r);
size_t pmr__table_bytes(const pmr__table *t);
/* Remove every pair, keeping the slot array and the arena's memory. */
void pmr__table_clear(pmr__table *t);
/* Out of line: growth, and the insertion of a new key. */
int pmr__table_grow(pmr__table *t);
void *pmr__table_insert(pmr__table *t, pmr__slot *s, uint64_t hash,
                        const void *key, size_t klen);

#define PMR__KLEN1(n) ((uint32_t)((n) < 0xfffffffeu ? (n) : 0xfffffffeu) + 1u)

/* Tables grow past a load of 4/5: the stored hash keeps long probe runs
 * cheap, and a denser table is a smaller one (memory is the scarcer
 * resource). */
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

/* Copy a key of at most 12 bytes into a zeroed 12-byte pad with fixed-size
 * (inlined) moves: two overlapping words instead of a memcpy call. */
PMR__INLINE void pmr__pad_key(unsigned char *pad, const unsigned char *k,
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

/* The probe loop shared by find and upsert: the slot holding the key, or
 * the empty slot where it would go. */
PMR__INLINE pmr__slot *pmr__probe(const pmr__table *t, uint64_t hash,
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
