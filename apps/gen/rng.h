/* Counter-based random numbers for pmr-gen.
 *
 * Every value pmr-gen writes is a function of (seed, stream, index) alone,
 * never of the ranks or threads that computed it, so the output is the same
 * at any rank and thread count. The generator is Philox4x32-10 (Salmon et
 * al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the Random123
 * known-answer vectors are checked by the tests): a bijection of a 128-bit
 * counter under a 64-bit key, which passes TestU01's BigCrush.
 *
 * Layout (the Python reference in tests/apps/gen_reference.py follows it):
 *   key  = (seed & 0xffffffff, seed >> 32)
 *   ctr  = (p & 0xffffffff, p >> 32, stream, attempt)
 *   out  = philox4x32_10(ctr, key) = (o0, o1, o2, o3)
 * Word j of a stream (a uint64) is o0 | o1 << 32 of call p = j / 2 (attempt
 * 0) when j is even, o2 | o3 << 32 when j is odd. `attempt` > 0 is used
 * only to redraw a rejected integer.
 *
 * From words:
 *   u01(w)    = (w >> 11) * 2^-53                 in [0, 1)
 *   u01c(w)   = ((w >> 11) + 1) * 2^-53           in (0, 1]
 *   normal j  = Box-Muller on the two words of call p = j / 2:
 *               r = sqrt(-2 log(u01c(word 2p))), t = 2 pi u01(word 2p+1),
 *               r cos t for even j, r sin t for odd j
 *   integer in [lo, hi] = Lemire's multiply-shift with rejection: m = w x
 *               (hi - lo + 1) as a 128-bit product; when its low half is
 *               below 2^64 mod range, redraw word j with attempt 1, 2, ...
 *
 * The transcendental functions (log, sqrt, sin, cos, exp, pow) come from the
 * C library; glibc's are correctly rounded or the same on every x86-64 and
 * aarch64 build, and Python's math module calls the same functions, which is
 * what makes the reference reproduce every bit. */
#ifndef PMR_GEN_RNG_H
#define PMR_GEN_RNG_H

#include <math.h>
#include <stdint.h>

/* Streams: one per kind of variable, so that no two share draws. */
enum {
  GEN_STREAM_NUMBERS = 1,
  GEN_STREAM_CENTRES = 2,
  GEN_STREAM_LABELS = 3,
  GEN_STREAM_POINTS = 4,
  GEN_STREAM_NOISE = 5,
  GEN_STREAM_TEXT = 6
};

#define GEN_TWO_PI 6.283185307179586476925286766559
#define GEN_2POW_M53 (1.0 / 9007199254740992.0)

static inline void gen_philox(uint32_t c0, uint32_t c1, uint32_t c2,
                              uint32_t c3, uint32_t k0, uint32_t k1,
                              uint32_t out[4]) {
  for (int r = 0; r < 10; r++) {
    if (r) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c0;
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* Both words of call p of `stream`: w[0] = word 2p, w[1] = word 2p+1. */
static inline void gen_pair(uint64_t seed, uint32_t stream, uint64_t p,
                            uint32_t attempt, uint64_t w[2]) {
  uint32_t o[4];
  gen_philox((uint32_t)p, (uint32_t)(p >> 32), stream, attempt,
             (uint32_t)seed, (uint32_t)(seed >> 32), o);
  w[0] = (uint64_t)o[0] | (uint64_t)o[1] << 32;
  w[1] = (uint64_t)o[2] | (uint64_t)o[3] << 32;
}

/* Word j of `stream` (with `attempt`). */
static inline uint64_t gen_word(uint64_t seed, uint32_t stream, uint64_t j,
                                uint32_t attempt) {
  uint64_t w[2];
  gen_pair(seed, stream, j >> 1, attempt, w);
  return w[j & 1];
}

static inline double gen_u01(uint64_t w) {
  return (double)(w >> 11) * GEN_2POW_M53;
}
static inline double gen_u01c(uint64_t w) {
  return (double)((w >> 11) + 1) * GEN_2POW_M53;
}

/* Normals j = 2p and 2p + 1 of `stream`. */
static inline void gen_normal_pair(uint64_t seed, uint32_t stream, uint64_t p,
                                   double z[2]) {
  uint64_t w[2];
  gen_pair(seed, stream, p, 0, w);
  double r = sqrt(-2.0 * log(gen_u01c(w[0])));
  double t = GEN_TWO_PI * gen_u01(w[1]);
  z[0] = r * cos(t);
  z[1] = r * sin(t);
}

/* normals j in [first, first + n) of `stream` into out[0 .. n). */
static inline void gen_normals(uint64_t seed, uint32_t stream, uint64_t first,
                               uint64_t n, double *out) {
  double z[2];
  uint64_t j = first, end = first + n;
  if (n == 0)
    return;
  if (j & 1) {
    gen_normal_pair(seed, stream, j >> 1, z);
    *out++ = z[1];
    j++;
  }
  for (; j + 1 < end; j += 2) {
    gen_normal_pair(seed, stream, j >> 1, z);
    out[0] = z[0];
    out[1] = z[1];
    out += 2;
  }
  if (j < end) {
    gen_normal_pair(seed, stream, j >> 1, z);
    *out = z[0];
  }
}

/* Integer j of `stream` in [lo, lo + range - 1]; range 0 means 2^64 (every
 * int64). Unbiased: Lemire, "Fast random integer generation in an
 * interval" (2019). */
static inline int64_t gen_integer(uint64_t seed, uint32_t stream, uint64_t j,
                                  int64_t lo, uint64_t range) {
  uint64_t w = gen_word(seed, stream, j, 0);
  if (range == 0)
    return (int64_t)w;
  unsigned __int128 m = (unsigned __int128)w * range;
  uint64_t low = (uint64_t)m;
  if (low < range) {
    uint64_t t = (0 - range) % range;
    for (uint32_t a = 1; low < t; a++) {
      w = gen_word(seed, stream, j, a);
      m = (unsigned __int128)w * range;
      low = (uint64_t)m;
    }
  }
  return (int64_t)((uint64_t)lo + (uint64_t)(m >> 64));
}

#endif
