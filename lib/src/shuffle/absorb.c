/* Absorb: a receiving thread combines the segments of the buckets it owns
 * into its own table, so tables need no locks, end with disjoint keys, and
 * every received pair is decoded and hashed exactly once. */
#include "shuffle/shuffle.h"
#include "shuffle/wire.h"

int pmr__absorb(pmr_kv *kv, pmr__table *tables, const pmr__xchg *x,
                int nbuckets, int t, int nt) {
  pmr__table *tab = &tables[t];
  size_t share = pmr__kv_recv_share(kv);
  size_t vsize = kv->vsize;
  int P = kv->ctx->size;
  for (int b = t; b < nbuckets; b += nt) {
    const pmr__seg *seg = pmr__xchg_bucket(x, b);
    for (int s = 0; s < P; s++) {
      const unsigned char *p = seg[s].p, *e = p + seg[s].n;
      while (p < e) {
        const unsigned char *key, *val;
        size_t kl;
        size_t m = pmr__wire_get(p, e, vsize, &key, &kl, &val);
        if (!m)
          return PMR_EIO;
        p += m;
        /* Past the thread's share: the table goes to a sorted run. */
        if (pmr__table_over(tab, share)) {
          int rc = pmr__kv_spill_recv(kv, t, tab);
          if (rc)
            return -rc;
        }
        bool isnew;
        void *v = pmr__table_upsert(tab, pmr__hash(key, kl), key, kl, &isnew);
        if (!v)
          return PMR_ENOMEM;
        if (isnew)
          memcpy(v, val, vsize);
        else
          pmr__kv_merge(kv, v, val);
      }
    }
  }
  return PMR_OK;
}
