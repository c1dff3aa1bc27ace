/* The hash of keys and the partition policy that the table, the shuffle and
 * the reduce share: which rank owns a hash, which bucket of that rank. */
#ifndef PMR_KV_HASH_H
#define PMR_KV_HASH_H

#include "base/base.h"

/* A wyhash-style hash: 64-bit multiply-mix, 8 bytes at a time. */
static inline uint64_t pmr__mum(uint64_t a, uint64_t b) {
#ifdef __SIZEOF_INT128__
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
  uint64_t ha = a >> 32, la = (uint32_t)a, hb = b >> 32, lb = (uint32_t)b;
  uint64_t rh = ha * hb, rm0 = ha * lb, rm1 = hb * la, rl = la * lb;
  uint64_t t = rl + (rm0 << 32), c = t < rl;
  uint64_t lo = t + (rm1 << 32);
  c += lo < t;
  uint64_t hi = rh + (rm0 >> 32) + (rm1 >> 32) + c;
  return lo ^ hi;
#endif
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

/* The home slot of a hash in a table of 2^(64 - shift) slots: the top bits
 * of a multiplicative remix, seeded per table. The seed matters: the reduce
 * fills one table from others, and with one shared mapping the keys would
 * arrive sorted by home slot, so that a smaller table fills up locally into
 * one long cluster (quadratic probing time). The remix also spreads the
 * keys of one rank, whose hashes share their top bits (see pmr__part_rank),
 * over the whole table. */
static inline uint64_t pmr__home(uint64_t h, uint64_t seed, unsigned shift) {
  return ((h ^ seed) * 0x9e3779b97f4a7c15ull) >> shift;
}

/* The partition: the high 32 bits of the hash, as a fraction of 2^32, pick
 * the rank (times nranks, integer part) and then, from what is left of the
 * fraction, the bucket within the rank (times nbuckets). The table uses
 * the low bits, so the three are independent. Buckets depend on the sender
 * and receiver only through the agreed bucket count, never on a rank's
 * thread count. */
static inline int pmr__part_rank(uint64_t h, int nranks) {
  return (int)(((h >> 32) * (uint64_t)nranks) >> 32);
}
static inline int pmr__part_bucket(uint64_t h, int nranks, int nbuckets) {
  uint64_t frac = ((h >> 32) * (uint64_t)nranks) & 0xffffffffu;
  return (int)((frac * (uint64_t)nbuckets) >> 32);
}

#endif
