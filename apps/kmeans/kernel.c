/* The nearest-centroid kernel: the hot loop of every Lloyd step.
 *
 * Distances are computed four centroids at a time (GCC/Clang vector
 * extensions: AVX2 registers where the CPU has them, two SSE2 halves
 * elsewhere), from centroids stored transposed so that the four values of
 * one coordinate are adjacent. Each lane keeps its smallest distance and
 * that centroid's index (a strict < keeps the first of equals); the lanes
 * are then merged by value, ties to the lower index. The result is exactly
 * numpy's argmin over the distances computed in the same order.
 *
 * Rounding: every operation is rounded on its own, in the order
 * ((x0 - c0)^2 + (x1 - c1)^2) + ..., with no fused multiply-add (the
 * target list below has no FMA, and the build passes -ffp-contract=off), so
 * the distances equal numpy's bit for bit on any x86-64. */
#include "kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef double km_v4 __attribute__((vector_size(32)));
typedef int64_t km_i4 __attribute__((vector_size(32)));

#define KM_W 4            /* centroids per vector */
#define KM_PAD (2 * KM_W) /* kp is a multiple of this */

#if defined(__clang__) || __GNUC__ >= 12
#define KM_SWAP_HALVES(v) __builtin_shufflevector(v, v, 2, 3, 0, 1)
#define KM_SWAP_PAIRS(v) __builtin_shufflevector(v, v, 1, 0, 3, 2)
#else
#define KM_SWAP_HALVES(v) __builtin_shuffle(v, (km_i4){2, 3, 0, 1})
#define KM_SWAP_PAIRS(v) __builtin_shuffle(v, (km_i4){1, 0, 3, 2})
#endif

/* One AVX2 build of the kernel beside the baseline one, picked when the
 * program loads (GNU ifunc). Elsewhere the baseline build only. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(__AVX2__)
#define KM_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef KM_CLONES
#define KM_CLONES
#endif

int km_cent_init(km_cent *c, uint64_t k, uint64_t d) {
  memset(c, 0, sizeof *c);
  c->k = k;
  c->d = d;
  c->kp = (k + KM_PAD - 1) / KM_PAD * KM_PAD;
  /* d rows of coordinates, then one of the centroids' indices */
  size_t bytes = (size_t)(c->kp * (d + 1) * sizeof(double));
  bytes = (bytes + 63) / 64 * 64;
  c->ct = aligned_alloc(64, bytes ? bytes : 64);
  if (!c->ct)
    return PMR_ENOMEM;
  for (size_t i = 0; i < c->kp * d; i++)
    c->ct[i] = INFINITY;
  for (size_t i = 0; i < c->kp; i++)
    c->ct[c->kp * d + i] = (double)i;
  return PMR_OK;
}

void km_cent_set(km_cent *c, const double *cent) {
  for (uint64_t i = 0; i < c->k; i++)
    for (uint64_t j = 0; j < c->d; j++)
      c->ct[j * c->kp + i] = cent[i * c->d + j];
}

void km_cent_free(km_cent *c) {
  free(c->ct);
  c->ct = NULL;
}

double km_dist2(const double *x, const double *c, uint64_t d) {
  double t = x[0] - c[0], s = t * t;
  for (uint64_t j = 1; j < d; j++) {
    t = x[j] - c[j];
    s = s + t * t;
  }
  return s;
}

/* Centroid blocks are 32-byte aligned (kp is a multiple of 4 and ct is
 * 64-byte aligned); vector types alias their element type. */
#define km_load(p) (*(const km_v4 *)(p))

/* The rows' nearest centroids for a dimension D known at compile time
 * (D = 0: read it from c->d). Inlined into each clone below, so every
 * instruction set and small dimension gets its own unrolled loop. */
static inline __attribute__((always_inline)) void
km_nearest_d(const km_cent *c, const double *x, size_t m, int32_t *label,
             double *dist, uint64_t D) {
  const uint64_t d = D ? D : c->d, kp = c->kp;
  const double *ct = c->ct;
  const double *ci = c->ct + d * kp; /* 0, 1, 2, ...: the indices */
  for (size_t i = 0; i < m; i++) {
    const double *p = x + i * d;
    /* Two independent (best, index) chains, even and odd blocks, so that
     * the compare-and-blend latency of one overlaps the other's work. */
    km_v4 best = {INFINITY, INFINITY, INFINITY, INFINITY}, best2 = best;
    km_v4 bidx = {0, 0, 0, 0}, bidx2 = bidx;
    for (uint64_t k0 = 0; k0 < kp; k0 += 2 * KM_W) {
      km_v4 t = p[0] - km_load(ct + k0), t2 = p[0] - km_load(ct + k0 + KM_W);
      km_v4 s = t * t, s2 = t2 * t2;
      for (uint64_t j = 1; j < d; j++) {
        t = p[j] - km_load(ct + j * kp + k0);
        t2 = p[j] - km_load(ct + j * kp + k0 + KM_W);
        s = s + t * t;
        s2 = s2 + t2 * t2;
      }
      km_v4 idx = km_load(ci + k0), idx2 = km_load(ci + k0 + KM_W);
      km_i4 lt = s < best, lt2 = s2 < best2;
      best = (km_v4)(((km_i4)s & lt) | ((km_i4)best & ~lt));
      bidx = (km_v4)(((km_i4)idx & lt) | ((km_i4)bidx & ~lt));
      best2 = (km_v4)(((km_i4)s2 & lt2) | ((km_i4)best2 & ~lt2));
      bidx2 = (km_v4)(((km_i4)idx2 & lt2) | ((km_i4)bidx2 & ~lt2));
    }
    /* Merge the chains, then the lanes: smaller distance, or the lower
     * index among equal ones. */
    km_i4 lt = (best2 < best) | ((best2 == best) & (bidx2 < bidx));
    best = (km_v4)(((km_i4)best2 & lt) | ((km_i4)best & ~lt));
    bidx = (km_v4)(((km_i4)bidx2 & lt) | ((km_i4)bidx & ~lt));
    /* Lanes 2-3 against 0-1, then lane 1 against 0: no branches, which
     * would mispredict on every other point. */
    km_v4 b2 = KM_SWAP_HALVES(best), i2 = KM_SWAP_HALVES(bidx);
    lt = (b2 < best) | ((b2 == best) & (i2 < bidx));
    best = (km_v4)(((km_i4)b2 & lt) | ((km_i4)best & ~lt));
    bidx = (km_v4)(((km_i4)i2 & lt) | ((km_i4)bidx & ~lt));
    b2 = KM_SWAP_PAIRS(best);
    i2 = KM_SWAP_PAIRS(bidx);
    lt = (b2 < best) | ((b2 == best) & (i2 < bidx));
    best = (km_v4)(((km_i4)b2 & lt) | ((km_i4)best & ~lt));
    bidx = (km_v4)(((km_i4)i2 & lt) | ((km_i4)bidx & ~lt));
    double bv = best[0], bi = bidx[0];
    label[i] = (int32_t)bi;
    dist[i] = bv;
  }
}

KM_CLONES static void km_nearest_1(const km_cent *c, const double *x, size_t m,
                                   int32_t *label, double *dist) {
  km_nearest_d(c, x, m, label, dist, 1);
}
KM_CLONES static void km_nearest_2(const km_cent *c, const double *x, size_t m,
                                   int32_t *label, double *dist) {
  km_nearest_d(c, x, m, label, dist, 2);
}
KM_CLONES static void km_nearest_3(const km_cent *c, const double *x, size_t m,
                                   int32_t *label, double *dist) {
  km_nearest_d(c, x, m, label, dist, 3);
}
KM_CLONES static void km_nearest_4(const km_cent *c, const double *x, size_t m,
                                   int32_t *label, double *dist) {
  km_nearest_d(c, x, m, label, dist, 4);
}
KM_CLONES static void km_nearest_n(const km_cent *c, const double *x, size_t m,
                                   int32_t *label, double *dist) {
  km_nearest_d(c, x, m, label, dist, 0);
}

void km_nearest(const km_cent *c, const double *x, size_t m, int32_t *label,
                double *dist) {
  switch (c->d) {
  case 1:
    km_nearest_1(c, x, m, label, dist);
    break;
  case 2:
    km_nearest_2(c, x, m, label, dist);
    break;
  case 3:
    km_nearest_3(c, x, m, label, dist);
    break;
  case 4:
    km_nearest_4(c, x, m, label, dist);
    break;
  default:
    km_nearest_n(c, x, m, label, dist);
  }
}

/* Exact split of each value into integers (see lloyd.c): with t = v 2^-g
 * (exact, |t| < 2^50), adding then subtracting 1.5 2^52 rounds t to the
 * integer nearest, h, and the bits of t + 1.5 2^52 minus those of 1.5 2^52
 * are h as an int64 (no float-to-int64 conversion in AVX2); then
 * l = (v - h 2^g) 2^-lsb, exact, the same way. */
#define KM_MAGIC 0x1.8p52

KM_CLONES void km_split(const double *v, size_t n, double inv_g, double pow_g,
                        double inv_lsb, int64_t *h, int64_t *l) {
  const km_v4 magic = {KM_MAGIC, KM_MAGIC, KM_MAGIC, KM_MAGIC};
  const km_i4 mbits = (km_i4)magic;
  size_t i = 0;
  for (; i + KM_W <= n; i += KM_W) {
    km_v4 x;
    memcpy(&x, v + i, sizeof x);
    km_v4 t = x * inv_g + magic;
    km_v4 hd = t - magic;
    km_v4 u = (x - hd * pow_g) * inv_lsb + magic;
    km_i4 hi = (km_i4)t - mbits, lo = (km_i4)u - mbits;
    memcpy(h + i, &hi, sizeof hi);
    memcpy(l + i, &lo, sizeof lo);
  }
  for (; i < n; i++) {
    double t = v[i] * inv_g + KM_MAGIC, hd = t - KM_MAGIC;
    double u = (v[i] - hd * pow_g) * inv_lsb + KM_MAGIC;
    int64_t tb, ub, mb;
    const double m = KM_MAGIC;
    memcpy(&tb, &t, 8);
    memcpy(&ub, &u, 8);
    memcpy(&mb, &m, 8);
    h[i] = tb - mb;
    l[i] = ub - mb;
  }
}

const char *km_kernel_name(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#ifdef __AVX2__
  return "avx2 (built in)";
#else
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? "avx2" : "sse2";
#endif
#else
  return "generic";
#endif
}
