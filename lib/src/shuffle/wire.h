/* The one wire format of a pair, used by the shuffle, the collective
 * algorithms (top-N, gather), group sets and spill files:
 * [varint klen][key bytes][value, vsize bytes], or for ragged values
 * [varint klen][key bytes][varint vlen][value, vlen bytes]. */
#ifndef PMR_SHUFFLE_WIRE_H
#define PMR_SHUFFLE_WIRE_H

#include "base/base.h"

static inline size_t pmr__varint_put(unsigned char *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (unsigned char)v;
  return n;
}
static inline size_t pmr__varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}
/* Decode a varint from [p, end); returns bytes used, 0 if incomplete. */
static inline size_t pmr__varint_get(const unsigned char *p,
                                     const unsigned char *end, uint64_t *v) {
  uint64_t x = 0;
  unsigned shift = 0;
  size_t n = 0;
  while (p + n < end && shift < 64) {
    unsigned char b = p[n++];
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return n;
    }
    shift += 7;
  }
  return 0;
}

/* Value size 0 means ragged values: each pair then carries its value's
 * length, [varint klen][key][varint vlen][value] (group sets with
 * value_size 0). Fixed sizes (hash sets, fixed-size group sets) do not. */
#define PMR__RAGGED 0

/* Bytes of one pair on the wire (vlen: the value's length, which for fixed
 * sizes is vsize). */
static inline size_t pmr__wire_len_v(size_t klen, size_t vsize, size_t vlen) {
  return pmr__varint_len(klen) + klen +
         (vsize == PMR__RAGGED ? pmr__varint_len(vlen) : 0) + vlen;
}
static inline size_t pmr__wire_len(size_t klen, size_t vsize) {
  return pmr__varint_len(klen) + klen + vsize;
}
/* Write one pair at p; returns bytes written. */
static inline size_t pmr__wire_put_v(unsigned char *p, const void *key,
                                     size_t klen, const void *val,
                                     size_t vsize, size_t vlen) {
  size_t h = pmr__varint_put(p, klen);
  if (klen)
    memcpy(p + h, key, klen);
  h += klen;
  if (vsize == PMR__RAGGED)
    h += pmr__varint_put(p + h, vlen);
  if (vlen)
    memcpy(p + h, val, vlen);
  return h + vlen;
}
static inline size_t pmr__wire_put(unsigned char *p, const void *key,
                                   size_t klen, const void *val,
                                   size_t vsize) {
  size_t h = pmr__varint_put(p, klen);
  if (klen)
    memcpy(p + h, key, klen);
  memcpy(p + h + klen, val, vsize);
  return h + klen + vsize;
}
/* Read one pair from [p, end): its key and value (and the value's length),
 * and the bytes it takes; 0 when [p, end) does not hold a whole pair. */
static inline size_t pmr__wire_get_v(const unsigned char *p,
                                     const unsigned char *end, size_t vsize,
                                     const unsigned char **key, size_t *klen,
                                     const unsigned char **val,
                                     size_t *vlen) {
  uint64_t kl = 0, vl = vsize;
  size_t h = pmr__varint_get(p, end, &kl);
  if (!h || kl > (uint64_t)(end - p) - h)
    return 0;
  size_t hv = 0;
  if (vsize == PMR__RAGGED) {
    hv = pmr__varint_get(p + h + kl, end, &vl);
    if (!hv)
      return 0;
  }
  if (vl > (uint64_t)(end - p) - h - kl - hv)
    return 0;
  *key = p + h;
  *klen = (size_t)kl;
  *val = p + h + kl + hv;
  *vlen = (size_t)vl;
  return h + (size_t)kl + hv + (size_t)vl;
}
static inline size_t pmr__wire_get(const unsigned char *p,
                                   const unsigned char *end, size_t vsize,
                                   const unsigned char **key, size_t *klen,
                                   const unsigned char **val) {
  if (vsize == PMR__RAGGED) {
    size_t vl;
    return pmr__wire_get_v(p, end, vsize, key, klen, val, &vl);
  }
  uint64_t kl = 0;
  size_t h = pmr__varint_get(p, end, &kl);
  if (!h || kl > (uint64_t)(end - p) - h ||
      vsize > (uint64_t)(end - p) - h - kl)
    return 0;
  *key = p + h;
  *klen = (size_t)kl;
  *val = p + h + kl;
  return h + (size_t)kl + vsize;
}
/* Length of the prefix of [p, p+n) made of whole pairs; counts them. */
static inline size_t pmr__wire_whole(const unsigned char *p, size_t n,
                                     size_t vsize, uint64_t *npairs) {
  size_t off = 0, m;
  const unsigned char *k, *v;
  size_t kl;
  while (off < n && (m = pmr__wire_get(p + off, p + n, vsize, &k, &kl, &v))) {
    off += m;
    (*npairs)++;
  }
  return off;
}

#endif
