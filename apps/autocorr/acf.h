/* Lag sums of one block of a series, the work of pmr-autocorr's map:
 *
 *   r[k] = sum_{i=0}^{P-1} y[i] y[i + k],   k = 0..K,
 *
 * with y[i] = x[i] - mean for i < avail and 0 beyond (the end of the
 * series). x holds the block's P samples followed by its halo, the next
 * avail - P samples (avail >= P; avail = P + K except near the end).
 *
 * Two ways, with the same result up to rounding:
 *  - direct: the sums as written, K+1 multiply-adds per sample, tiled so
 *    the block's window stays in L1 and vectorised over 8 lags x 4 samples;
 *  - fft: the block cut into pieces of N - K samples (N a power of two
 *    chosen for K and P), each correlated with itself plus its next K
 *    samples through one complex FFT of N points (both real sequences
 *    packed into one), the products summed in the frequency domain and
 *    transformed back once per block: about 5 log2(N) N / (N - K) flops
 *    per sample instead of 2 (K + 1).
 *
 * Each OpenMP thread owns one ac_work (buffers and FFT tables grown on
 * demand); the functions are thread-safe for distinct workspaces. */
#ifndef PMR_AUTOCORR_ACF_H
#define PMR_AUTOCORR_ACF_H

#include <stddef.h>

typedef struct ac_work ac_work;

/* A new, empty workspace, or NULL when out of memory. */
ac_work *ac_work_new(void);
/* Free a workspace; accepts NULL. */
void ac_work_free(ac_work *w);

/* r[0..K] = the block's lag sums, computed directly. Returns 0, or -1 when
 * out of memory (r unchanged). */
int ac_direct(ac_work *w, const double *x, size_t P, size_t avail, size_t K,
              double mean, double *r);

/* The same through FFTs. Returns 0, or -1 when out of memory. */
int ac_fft(ac_work *w, const double *x, size_t P, size_t avail, size_t K,
           double mean, double *r);

/* The FFT length ac_fft uses for a block of P samples at K lags. */
size_t ac_fft_length(size_t P, size_t K);

#endif
