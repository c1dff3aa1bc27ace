/* Local sorts of pair arrays (pmr__rec): a stable bottom-up merge sort for
 * any order, the radix sort for fixed-width keys in key order, and both on
 * several threads: equal parts sorted in parallel, then merged pairwise. */
#include "sort/samplesort.h"


static void pmr__ins_sort(pmr__rec *a, size_t n, pmr__rec_cmp cmp,
                          void *user) {
  for (size_t i = 1; i < n; i++) {
    pmr__rec x = a[i];
    size_t j = i;
    while (j > 0 && cmp(&x, &a[j - 1], user) < 0) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

/* Merge sorted a[0, m) and a[m, n) into dst[0, n). */
static void pmr__merge(const pmr__rec *a, size_t m, size_t n, pmr__rec *dst,
                       pmr__rec_cmp cmp, void *user) {
  size_t i = 0, j = m, o = 0;
  if (m == 0 || m == n || cmp(&a[m - 1], &a[m], user) <= 0) {
    memcpy(dst, a, n * sizeof *a);
    return;
  }
  while (i < m && j < n)
    dst[o++] = cmp(&a[j], &a[i], user) < 0 ? a[j++] : a[i++];
  while (i < m)
    dst[o++] = a[i++];
  while (j < n)
    dst[o++] = a[j++];
}

/* Stable merge sort of a[0, n) with scratch tmp[0, n). */
static void pmr__merge_sort(pmr__rec *a, size_t n, pmr__rec *tmp,
                            pmr__rec_cmp cmp, void *user) {
  enum { RUN = 16 };
  for (size_t i = 0; i < n; i += RUN)
    pmr__ins_sort(a + i, n - i < RUN ? n - i : RUN, cmp, user);
  pmr__rec *src = a, *dst = tmp;
  for (size_t w = RUN; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n;
      size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
      pmr__merge(src + lo, mid - lo, hi - lo, dst + lo, cmp, user);
    }
    pmr__rec *t = src;
    src = dst;
    dst = t;
  }
  if (src != a)
    memcpy(a, src, n * sizeof *a);
}

int pmr__recs_sort(pmr__rec *a, size_t n, pmr__rec_cmp cmp, void *user,
                   bool key_order, int nt) {
  if (n < 2)
    return PMR_OK;
  /* w: 1..16 the whole-key radix sort; 17 the prefix radix sort. */
  size_t w = key_order && !pmr__radix_off ? pmr__radix_width(a, n) : 0;
  if (key_order && !pmr__radix_off && !w)
    w = 17;
  if (nt < 1)
    nt = 1;
  /* Parts of at least 64 Ki pairs: threads do not pay below that. */
  while (nt > 1 && n / (size_t)nt < ((size_t)1 << 16))
    nt--;
  pmr__rec *tmp = NULL;
  if (!w || nt > 1) {
    tmp = pmr__malloc(n * sizeof *tmp);
    if (!tmp)
      return PMR_ENOMEM;
  }
  if (nt == 1) {
    int rc = PMR_OK;
    if (w)
      rc = w > 16 ? pmr__radix_recs_pfx(a, n, cmp, user)
                  : pmr__radix_recs(a, n, w, cmp, user);
    else
      pmr__merge_sort(a, n, tmp, cmp, user);
    pmr__free(tmp);
    return rc;
  }
  size_t *cut = pmr__malloc(((size_t)nt + 1) * sizeof *cut);
  if (!cut) {
    pmr__free(tmp);
    return PMR_ENOMEM;
  }
  for (int t = 0; t <= nt; t++)
    cut[t] = (size_t)((unsigned __int128)n * (unsigned)t / (unsigned)nt);
  int rc = PMR_OK;
#pragma omp parallel for num_threads(nt) schedule(static, 1) \
    reduction(max : rc)
  for (int t = 0; t < nt; t++) {
    size_t lo = cut[t], m = cut[t + 1] - lo;
    int r = PMR_OK;
    if (w)
      r = w > 16 ? pmr__radix_recs_pfx(a + lo, m, cmp, user)
                 : pmr__radix_recs(a + lo, m, w, cmp, user);
    else
      pmr__merge_sort(a + lo, m, tmp + lo, cmp, user);
    if (r > rc)
      rc = r;
  }
  /* Merge the parts pairwise: parts of `step` cuts each. */
  pmr__rec *src = a, *dst = tmp;
  for (int step = 1; !rc && step < nt; step *= 2) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int p = 0; p < nt; p += 2 * step) {
      size_t lo = cut[p];
      size_t mid = cut[p + step < nt ? p + step : nt];
      size_t hi = cut[p + 2 * step < nt ? p + 2 * step : nt];
      pmr__merge(src + lo, mid - lo, hi - lo, dst + lo, cmp, user);
    }
    pmr__rec *t = src;
    src = dst;
    dst = t;
  }
  if (!rc && src != a)
    memcpy(a, src, n * sizeof *a);
  pmr__free(cut);
  pmr__free(tmp);
  return rc;
}
