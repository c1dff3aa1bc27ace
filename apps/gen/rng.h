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
 * The transcendental functions (log, sin, cos, exp, pow; sqrt is exact)
 * come from the C library, and so does Python's math module, which is what
 * lets the reference reproduce every bit on the same machine. (GCC turns a
 * cos and a sin of one argument into one sincos call; glibc computes sincos
 * with the same code as sin and cos, and the tests would see otherwise.) */
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
  GEN_STREAM_TEXT = 6,
  GEN_STREAM_RECORDS = 7,
  GEN_STREAM_GRAPH = 8
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

/* Calls p .. p+7 of `stream` (attempt 0), the same values as gen_pair:
 * w[2i], w[2i+1] are the words of call p + i. Eight lanes side by side so
 * that the compiler vectorises the rounds (SSE2's pmuludq multiplies two
 * lanes at once): about twice as fast as eight gen_pair calls. */
#define GEN_LANES 8
static inline void gen_pairs8(uint64_t seed, uint32_t stream, uint64_t p,
                              uint64_t w[2 * GEN_LANES]) {
  uint32_t c0[GEN_LANES], c1[GEN_LANES], c2[GEN_LANES], c3[GEN_LANES];
  for (int l = 0; l < GEN_LANES; l++) {
    uint64_t q = p + (uint64_t)l;
    c0[l] = (uint32_t)q;
    c1[l] = (uint32_t)(q >> 32);
    c2[l] = stream;
    c3[l] = 0;
  }
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; r++) {
#pragma omp simd
    for (int l = 0; l < GEN_LANES; l++) {
      uint64_t p0 = (uint64_t)0xD2511F53u * c0[l];
      uint64_t p1 = (uint64_t)0xCD9E8D57u * c2[l];
      uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
      uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = (uint32_t)p1;
      c3[l] = (uint32_t)p0;
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int l = 0; l < GEN_LANES; l++) {
    w[2 * l] = (uint64_t)c0[l] | (uint64_t)c1[l] << 32;
    w[2 * l + 1] = (uint64_t)c2[l] | (uint64_t)c3[l] << 32;
  }
}

/* Both words of call p of `stream`: w[0] = word 2p, w[1] = word 2p+1. */
static inline void gen_pair(uint64_t seed, uint32_t stream, uint64_t p,
                            uint32_t attempt, uint64_t w[2]) {
  uint32_t o[4];
  gen_philox((uint32_t)p, (uint32_t)(p >> 32), stream, attempt, (uint32_t)seed,
             (uint32_t)(seed >> 32), o);
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

/* Words j in [first, first + n) of `stream` (attempt 0) into out. */
static inline void gen_words(uint64_t seed, uint32_t stream, uint64_t first,
                             uint64_t n, uint64_t *out) {
  for (uint64_t j = first, end = first + n; j < end;) {
    uint64_t w[2 * GEN_LANES], p = j >> 1;
    gen_pairs8(seed, stream, p, w);
    for (uint64_t k = j - 2 * p; k < 2 * GEN_LANES && j < end; k++, j++)
      *out++ = w[k];
  }
}

/* Normals j in [first, first + n) of `stream` into out[0 .. n). */
static inline void gen_normals(uint64_t seed, uint32_t stream, uint64_t first,
                               uint64_t n, double *out) {
  for (uint64_t j = first, end = first + n; j < end;) {
    uint64_t w[2 * GEN_LANES], p = j >> 1;
    gen_pairs8(seed, stream, p, w);
    for (int i = 0; i < GEN_LANES && j < end; i++) {
      /* Normals 2(p+i) and 2(p+i)+1; both computed alike whichever are
       * kept, so that the compiler's choice (sin and cos, or sincos) is
       * the same everywhere. */
      double r = sqrt(-2.0 * log(gen_u01c(w[2 * i])));
      double t = GEN_TWO_PI * gen_u01(w[2 * i + 1]);
      double z0 = r * cos(t), z1 = r * sin(t);
      uint64_t q = 2 * (p + (uint64_t)i);
      if (j == q)
        *out++ = z0, j++;
      if (j == q + 1 && j < end)
        *out++ = z1, j++;
    }
  }
}

/* Integer j of `stream` in [lo, lo + range - 1] from its first word w
 * (word j, attempt 0); range 0 means 2^64 (every int64). Unbiased: Lemire,
 * "Fast random integer generation in an interval" (2019). */
static inline int64_t gen_integer_w(uint64_t w, uint64_t seed, uint32_t stream,
                                    uint64_t j, int64_t lo, uint64_t range) {
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

static inline int64_t gen_integer(uint64_t seed, uint32_t stream, uint64_t j,
                                  int64_t lo, uint64_t range) {
  return gen_integer_w(gen_word(seed, stream, j, 0), seed, stream, j, lo,
                       range);
}

#endif
