/* Lag sums of a block: direct and FFT kernels (see acf.h). */
#include "acf.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The hot loops are built twice, for AVX2 and for the baseline ISA, and
 * the loader picks one for the machine (GNU ifunc): portable binaries, as
 * clusters install them, still use 256-bit vectors where they exist. */
#if defined(__x86_64__) && defined(__gnu_linux__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define AC_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef AC_CLONES
#define AC_CLONES
#endif

/* Four doubles; v4u may sit at any 8-byte boundary (unaligned loads). */
typedef double v4 __attribute__((vector_size(32)));
typedef double v4u __attribute__((vector_size(32), aligned(8)));

#define AC_TWO_PI 6.283185307179586476925286766559

/* Rows per tile of the direct kernel: a tile of the block and the window
 * of lagged samples one group of 8 lags reads (tile + 8 samples) stay in
 * L1 while all lag groups pass over it. */
#define AC_TILE 1024

/* The largest FFT: 2^26 points (6 buffers of 512 MiB would be the most a
 * thread could ask for; the caller bounds K far below). */
#define AC_MAX_LOG2 26

typedef struct ac_plan {
  double *wr, *wi;   /* W[t] = exp(-2 pi i t / N), t < N */
  double *f1r, *f1i; /* the first pass's W[p], W[2p], W[3p], p < N/4, */
  double *f2r, *f2i; /* contiguous so that pass vectorises */
  double *f3r, *f3i;
} ac_plan;

struct ac_work {
  /* direct */
  double *xa, *y, *acc;
  size_t xa_cap, y_cap, acc_cap;
  /* fft: the packed block, scratch, the summed spectrum; N each */
  double *zr, *zi, *tr, *ti, *sr, *si;
  size_t n_cap;
  ac_plan plan[AC_MAX_LOG2 + 1]; /* by log2 N, made on first use */
};

ac_work *ac_work_new(void) { return calloc(1, sizeof(ac_work)); }

static void ac_plan_free(ac_plan *p) {
  free(p->wr), free(p->wi), free(p->f1r), free(p->f1i);
  free(p->f2r), free(p->f2i), free(p->f3r), free(p->f3i);
  memset(p, 0, sizeof *p);
}

void ac_work_free(ac_work *w) {
  if (!w)
    return;
  free(w->xa), free(w->y), free(w->acc);
  free(w->zr), free(w->zi), free(w->tr), free(w->ti), free(w->sr);
  free(w->si);
  for (int m = 0; m <= AC_MAX_LOG2; m++)
    ac_plan_free(&w->plan[m]);
  free(w);
}

/* *buf holds at least n doubles (contents not kept). */
static int ac_grow(double **buf, size_t *cap, size_t n) {
  if (n <= *cap)
    return 0;
  double *b = malloc(n * sizeof *b);
  if (!b)
    return -1;
  free(*buf);
  *buf = b;
  *cap = n;
  return 0;
}

/* ---- direct ---- */

/* acc[k0 + j] += sum over i in [i0, i1) of xa[i] y[i + k0 + j], for every
 * group k0 = 0, 8, ... below K8 (a multiple of 8); i1 - i0 is a multiple
 * of 4. Eight lags x four samples at a time: each lagged load feeds one
 * multiply-add, and eight independent sums hide the adds' latency. */
AC_CLONES
static void ac_direct_tile(const double *restrict xa, const double *restrict y,
                           size_t i0, size_t i1, size_t K8,
                           double *restrict acc) {
  for (size_t k0 = 0; k0 < K8; k0 += 8) {
    v4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    v4 s4 = {0}, s5 = {0}, s6 = {0}, s7 = {0};
    for (size_t i = i0; i < i1; i += 4) {
      v4 a = *(const v4u *)(xa + i);
      const double *yy = y + i + k0;
      s0 += a * *(const v4u *)(yy + 0);
      s1 += a * *(const v4u *)(yy + 1);
      s2 += a * *(const v4u *)(yy + 2);
      s3 += a * *(const v4u *)(yy + 3);
      s4 += a * *(const v4u *)(yy + 4);
      s5 += a * *(const v4u *)(yy + 5);
      s6 += a * *(const v4u *)(yy + 6);
      s7 += a * *(const v4u *)(yy + 7);
    }
    double *r = acc + k0;
    r[0] += (s0[0] + s0[1]) + (s0[2] + s0[3]);
    r[1] += (s1[0] + s1[1]) + (s1[2] + s1[3]);
    r[2] += (s2[0] + s2[1]) + (s2[2] + s2[3]);
    r[3] += (s3[0] + s3[1]) + (s3[2] + s3[3]);
    r[4] += (s4[0] + s4[1]) + (s4[2] + s4[3]);
    r[5] += (s5[0] + s5[1]) + (s5[2] + s5[3]);
    r[6] += (s6[0] + s6[1]) + (s6[2] + s6[3]);
    r[7] += (s7[0] + s7[1]) + (s7[2] + s7[3]);
  }
}

int ac_direct(ac_work *w, const double *x, size_t P, size_t avail, size_t K,
              double mean, double *r) {
  /* The block rounded up to whole vectors (zeros past P contribute
   * nothing), the lags to whole groups of 8; the lagged copy y holds the
   * halo and zeros past the series, so the loops need no bounds. */
  size_t P4 = (P + 3) & ~(size_t)3, K8 = (K + 8) & ~(size_t)7;
  size_t ny = P4 + K8;
  if (ac_grow(&w->xa, &w->xa_cap, P4) || ac_grow(&w->y, &w->y_cap, ny) ||
      ac_grow(&w->acc, &w->acc_cap, K8))
    return -1;
  if (avail > ny)
    avail = ny;
  for (size_t i = 0; i < avail; i++)
    w->y[i] = x[i] - mean;
  memset(w->y + avail, 0, (ny - avail) * sizeof *w->y);
  memcpy(w->xa, w->y, P * sizeof *w->xa);
  memset(w->xa + P, 0, (P4 - P) * sizeof *w->xa);
  memset(w->acc, 0, K8 * sizeof *w->acc);
  for (size_t i0 = 0; i0 < P4; i0 += AC_TILE)
    ac_direct_tile(w->xa, w->y, i0, P4 - i0 > AC_TILE ? i0 + AC_TILE : P4, K8,
                   w->acc);
  memcpy(r, w->acc, (K + 1) * sizeof *r);
  return 0;
}

/* ---- FFT: radix-4 Stockham (self-sorting), split real/imaginary ---- */

static int ac_plan_make(ac_plan *p, unsigned m) {
  size_t n = (size_t)1 << m, q = n / 4 ? n / 4 : 1;
  p->wr = malloc(n * sizeof(double));
  p->wi = malloc(n * sizeof(double));
  p->f1r = malloc(q * sizeof(double)), p->f1i = malloc(q * sizeof(double));
  p->f2r = malloc(q * sizeof(double)), p->f2i = malloc(q * sizeof(double));
  p->f3r = malloc(q * sizeof(double)), p->f3i = malloc(q * sizeof(double));
  if (!p->wr || !p->wi || !p->f1r || !p->f1i || !p->f2r || !p->f2i || !p->f3r ||
      !p->f3i) {
    ac_plan_free(p);
    return -1;
  }
  /* Each twiddle from its own angle (no recurrence): errors stay at one
   * rounding whatever N. */
  for (size_t t = 0; t < n; t++) {
    double a = AC_TWO_PI * (double)t / (double)n;
    p->wr[t] = cos(a);
    p->wi[t] = -sin(a);
  }
  for (size_t t = 0; t < n / 4; t++) {
    p->f1r[t] = p->wr[t], p->f1i[t] = p->wi[t];
    p->f2r[t] = p->wr[2 * t], p->f2i[t] = p->wi[2 * t];
    p->f3r[t] = p->wr[3 * t], p->f3i[t] = p->wi[3 * t];
  }
  return 0;
}

/* Complex products of vectors: (ar + i ai)(br + i bi). */
#define AC_CMUL_RE(ar, ai, br, bi) ((ar) * (br) - (ai) * (bi))
#define AC_CMUL_IM(ar, ai, br, bi) ((ar) * (bi) + (ai) * (br))

/* One radix-4 butterfly on vectors: a, b, c, d in, y0..y3 out, without
 * the twiddles of y1..y3. */
#define AC_BFLY4(ar, ai, br, bi, cr, ci, dr, di)                               \
  v4 apcr = ar + cr, apci = ai + ci, amcr = ar - cr, amci = ai - ci;           \
  v4 bpdr = br + dr, bpdi = bi + di, bmdr = br - dr, bmdi = bi - di;           \
  v4 y0r = apcr + bpdr, y0i = apci + bpdi;                                     \
  v4 t1r = amcr + bmdi, t1i = amci - bmdr; /* (a - c) - i (b - d) */           \
  v4 t2r = apcr - bpdr, t2i = apci - bpdi;                                     \
  v4 t3r = amcr - bmdi, t3i = amci + bmdr /* (a - c) + i (b - d) */

#define AC_LD(p) (*(const v4u *)(p))
#define AC_ST(p, v) (*(v4u *)(p) = (v))

/* One radix-4 pass over sub-transforms of length len (N = len x s points),
 * stride s, a power of 4 >= 4: the inner loop runs over s contiguous
 * values, four at a time. */
AC_CLONES
static void ac_pass4(size_t len, size_t s, const double *restrict wr,
                     const double *restrict wi, const double *restrict xr,
                     const double *restrict xi, double *restrict yr,
                     double *restrict yi) {
  size_t n1 = len / 4;
  for (size_t p = 0; p < n1; p++) {
    double w1r = wr[p * s], w1i = wi[p * s];
    double w2r = wr[2 * p * s], w2i = wi[2 * p * s];
    double w3r = wr[3 * p * s], w3i = wi[3 * p * s];
    const double *ar = xr + s * p, *ai = xi + s * p;
    const double *br = ar + s * n1, *bi = ai + s * n1;
    const double *cr = br + s * n1, *ci = bi + s * n1;
    const double *dr = cr + s * n1, *di = ci + s * n1;
    double *o0r = yr + s * (4 * p), *o0i = yi + s * (4 * p);
    double *o1r = o0r + s, *o1i = o0i + s;
    double *o2r = o1r + s, *o2i = o1i + s;
    double *o3r = o2r + s, *o3i = o2i + s;
    for (size_t q = 0; q < s; q += 4) {
      AC_BFLY4(AC_LD(ar + q), AC_LD(ai + q), AC_LD(br + q), AC_LD(bi + q),
               AC_LD(cr + q), AC_LD(ci + q), AC_LD(dr + q), AC_LD(di + q));
      AC_ST(o0r + q, y0r);
      AC_ST(o0i + q, y0i);
      AC_ST(o1r + q, AC_CMUL_RE(w1r, w1i, t1r, t1i));
      AC_ST(o1i + q, AC_CMUL_IM(w1r, w1i, t1r, t1i));
      AC_ST(o2r + q, AC_CMUL_RE(w2r, w2i, t2r, t2i));
      AC_ST(o2i + q, AC_CMUL_IM(w2r, w2i, t2r, t2i));
      AC_ST(o3r + q, AC_CMUL_RE(w3r, w3i, t3r, t3i));
      AC_ST(o3i + q, AC_CMUL_IM(w3r, w3i, t3r, t3i));
    }
  }
}

/* Rows (a[i], b[i], c[i], d[i]) of four vectors: a 4 x 4 transpose. */
typedef long long v4i __attribute__((vector_size(32)));
#if defined(__clang__)
#define AC_SHUF(a, b, m0, m1, m2, m3)                                          \
  __builtin_shufflevector(a, b, m0, m1, m2, m3)
#else
#define AC_SHUF(a, b, m0, m1, m2, m3)                                          \
  __builtin_shuffle(a, b, (v4i){m0, m1, m2, m3})
#endif
#define AC_TRANSPOSE_STORE(out, a, b, c, d)                                    \
  do {                                                                         \
    v4 e0 = AC_SHUF(a, b, 0, 4, 2, 6), e1 = AC_SHUF(a, b, 1, 5, 3, 7);         \
    v4 e2 = AC_SHUF(c, d, 0, 4, 2, 6), e3 = AC_SHUF(c, d, 1, 5, 3, 7);         \
    AC_ST((out), AC_SHUF(e0, e2, 0, 1, 4, 5));                                 \
    AC_ST((out) + 4, AC_SHUF(e1, e3, 0, 1, 4, 5));                             \
    AC_ST((out) + 8, AC_SHUF(e0, e2, 2, 3, 6, 7));                             \
    AC_ST((out) + 12, AC_SHUF(e1, e3, 2, 3, 6, 7));                            \
  } while (0)

/* The first radix-4 pass (s = 1, N >= 16): the loop runs over p four at a
 * time, with the plan's contiguous twiddles; the four outputs of each p
 * are adjacent, so each group of 4 x 4 is transposed on the way out. */
AC_CLONES
static void ac_pass4_first(size_t n, const ac_plan *pl,
                           const double *restrict xr, const double *restrict xi,
                           double *restrict yr, double *restrict yi) {
  size_t n1 = n / 4;
  for (size_t p = 0; p < n1; p += 4) {
    AC_BFLY4(AC_LD(xr + p), AC_LD(xi + p), AC_LD(xr + p + n1),
             AC_LD(xi + p + n1), AC_LD(xr + p + 2 * n1), AC_LD(xi + p + 2 * n1),
             AC_LD(xr + p + 3 * n1), AC_LD(xi + p + 3 * n1));
    v4 w1r = AC_LD(pl->f1r + p), w1i = AC_LD(pl->f1i + p);
    v4 w2r = AC_LD(pl->f2r + p), w2i = AC_LD(pl->f2i + p);
    v4 w3r = AC_LD(pl->f3r + p), w3i = AC_LD(pl->f3i + p);
    v4 y1r = AC_CMUL_RE(w1r, w1i, t1r, t1i),
       y1i = AC_CMUL_IM(w1r, w1i, t1r, t1i);
    v4 y2r = AC_CMUL_RE(w2r, w2i, t2r, t2i),
       y2i = AC_CMUL_IM(w2r, w2i, t2r, t2i);
    v4 y3r = AC_CMUL_RE(w3r, w3i, t3r, t3i),
       y3i = AC_CMUL_IM(w3r, w3i, t3r, t3i);
    AC_TRANSPOSE_STORE(yr + 4 * p, y0r, y1r, y2r, y3r);
    AC_TRANSPOSE_STORE(yi + 4 * p, y0i, y1i, y2i, y3i);
  }
}

/* The last pass when log2 N is odd: butterflies of length 2, stride s (a
 * multiple of 4). */
AC_CLONES
static void ac_pass2(size_t s, const double *restrict xr,
                     const double *restrict xi, double *restrict yr,
                     double *restrict yi) {
  for (size_t q = 0; q < s; q += 4) {
    v4 ar = AC_LD(xr + q), ai = AC_LD(xi + q);
    v4 br = AC_LD(xr + q + s), bi = AC_LD(xi + q + s);
    AC_ST(yr + q, ar + br);
    AC_ST(yi + q, ai + bi);
    AC_ST(yr + q + s, ar - br);
    AC_ST(yi + q + s, ai - bi);
  }
}

/* The products of one piece added into the spectrum, k = 1..N/2 (k = 0 is
 * done by the caller): A = (Z[k] + conj Z[N-k]), C = (Z[k] - conj Z[N-k])
 * / i, both times 2, and S[k] += conj(A) C. N - k runs backwards, so those
 * loads are reversed. */
AC_CLONES
static void ac_products(size_t n, const double *restrict zr,
                        const double *restrict zi, double *restrict sr,
                        double *restrict si) {
  size_t half = n / 2;
  for (size_t k = 1; k <= half; k += 4) {
    v4 kr = AC_LD(zr + k), ki = AC_LD(zi + k);
    v4 mr = AC_LD(zr + n - k - 3), mi = AC_LD(zi + n - k - 3);
    mr = AC_SHUF(mr, mr, 3, 2, 1, 0);
    mi = AC_SHUF(mi, mi, 3, 2, 1, 0);
    v4 ar = kr + mr, ai = ki - mi, cr = ki + mi, ci = mr - kr;
    AC_ST(sr + k, AC_LD(sr + k) + (ar * cr + ai * ci));
    AC_ST(si + k, AC_LD(si + k) + (ar * ci - ai * cr));
  }
}

/* The DFT X[k] = sum_t x[t] exp(-2 pi i k t / N) of (xr, xi), N = 2^m >= 16,
 * in natural order, using (yr, yi) as scratch. Returns 1 when the result
 * is in (yr, yi), 0 when in (xr, xi). */
static int ac_dft(const ac_plan *pl, unsigned m, double *xr, double *xi,
                  double *yr, double *yi) {
  size_t n = (size_t)1 << m, len = n, s = 1;
  int in_y = 0;
  double *ar = xr, *ai = xi, *br = yr, *bi = yi, *t;
  while (len >= 4) {
    if (s == 1)
      ac_pass4_first(n, pl, ar, ai, br, bi);
    else
      ac_pass4(len, s, pl->wr, pl->wi, ar, ai, br, bi);
    t = ar, ar = br, br = t;
    t = ai, ai = bi, bi = t;
    in_y ^= 1;
    len /= 4;
    s *= 4;
  }
  if (len == 2) {
    ac_pass2(s, ar, ai, br, bi);
    in_y ^= 1;
  }
  return in_y;
}

/* Operations per sample, up to a constant, of blocks cut into pieces of
 * N - K samples: one transform of N log2 N, plus the packing and the
 * products (a few N). */
static double ac_fft_cost(size_t P, size_t K, unsigned m) {
  size_t n = (size_t)1 << m, piece = n - K;
  size_t pieces = (P + piece - 1) / piece;
  return (double)pieces * (double)n * (m + 3.0);
}

size_t ac_fft_length(size_t P, size_t K) {
  unsigned best = 0;
  double cost = 0;
  for (unsigned m = 4; m <= AC_MAX_LOG2; m++) {
    size_t n = (size_t)1 << m;
    if (n <= K)
      continue;
    double c = ac_fft_cost(P, K, m);
    if (!best || c < cost)
      best = m, cost = c;
    if (n >= 2 * (P + K)) /* one piece already: longer only costs more */
      break;
  }
  return best ? (size_t)1 << best : 0;
}

/* Pieces of the block: a = y[s0, s0 + b) and c = y[s0, s0 + b + K), both
 * zero-padded to N >= b + K, so that the circular correlation of a with c
 * holds sum_i a[i] c[i + k] for k = 0..K without wrapping. With z = a + i c
 * and Z its DFT, A[k] = (Z[k] + conj Z[N-k]) / 2 and C[k] = (Z[k] -
 * conj Z[N-k]) / 2i; the correlation's DFT is conj(A) C. Those products
 * are summed over the pieces (the DFT is linear), and one inverse DFT at
 * the end gives the block's lag sums. */
int ac_fft(ac_work *w, const double *x, size_t P, size_t avail, size_t K,
           double mean, double *r) {
  size_t n = ac_fft_length(P, K);
  unsigned m = 0;
  while (((size_t)1 << m) < n)
    m++;
  if (!n || m > AC_MAX_LOG2)
    return -1;
  if (n > w->n_cap) {
    double **bufs[] = {&w->zr, &w->zi, &w->tr, &w->ti, &w->sr, &w->si};
    int bad = 0;
    for (size_t i = 0; i < 6; i++) {
      free(*bufs[i]);
      *bufs[i] = bad ? NULL : malloc(n * sizeof(double));
      bad |= !*bufs[i];
    }
    w->n_cap = bad ? 0 : n;
    if (bad)
      return -1;
  }
  ac_plan *pl = &w->plan[m];
  if (!pl->wr && ac_plan_make(pl, m))
    return -1;
  size_t piece = n - K, half = n / 2;
  double *sr = w->sr, *si = w->si;
  memset(sr, 0, (half + 1) * sizeof *sr);
  memset(si, 0, (half + 1) * sizeof *si);
  for (size_t s0 = 0; s0 < P; s0 += piece) {
    size_t b = P - s0 < piece ? P - s0 : piece;
    size_t c = avail - s0 < b + K ? avail - s0 : b + K;
    double *zr = w->zr, *zi = w->zi;
    for (size_t i = 0; i < b; i++)
      zr[i] = x[s0 + i] - mean;
    memset(zr + b, 0, (n - b) * sizeof *zr);
    for (size_t i = 0; i < c; i++)
      zi[i] = x[s0 + i] - mean;
    memset(zi + c, 0, (n - c) * sizeof *zi);
    if (ac_dft(pl, m, zr, zi, w->tr, w->ti))
      zr = w->tr, zi = w->ti;
    /* Only k <= N/2: the sum is Hermitian (the lag sums are real). The
     * products carry a factor 4, taken out at the end. At k = 0, A and C
     * are real: 2 Re Z[0] and 2 Im Z[0]. */
    sr[0] += 4 * zr[0] * zi[0];
    ac_products(n, zr, zi, sr, si);
  }
  /* Inverse: Re IDFT(S) = Re DFT(conj S) / N, with S[N-k] = conj S[k]. */
  double *zr = w->zr, *zi = w->zi;
  for (size_t k = 0; k <= half; k++) {
    zr[k] = sr[k];
    zi[k] = -si[k];
  }
  for (size_t k = half + 1; k < n; k++) {
    zr[k] = sr[n - k];
    zi[k] = si[n - k];
  }
  if (ac_dft(pl, m, zr, zi, w->tr, w->ti))
    zr = w->tr;
  double scale = 1.0 / (4.0 * (double)n);
  for (size_t k = 0; k <= K; k++)
    r[k] = zr[k] * scale;
  return 0;
}
