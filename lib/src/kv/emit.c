/* Emitting pairs into hash sets (the hot path of every map), and what the
 * emitter tells a callback about its record. Dense cells: dense.c. */
#include "kv/group.h"

#include <stdio.h>

/* A misuse found on a map thread: the emitter keeps the code and a message
 * for the map driver to report. */
static int pmr__emit_misuse(pmr_emitter *em, const char *fmt, size_t n) {
  if (em->msg && !em->status)
    snprintf(em->msg, PMR__ERRMSG_MAX, fmt, n);
  if (!em->status)
    em->status = PMR_ESTATE;
  return PMR_ESTATE;
}

int pmr_emit(pmr_emitter *em, const void *key, size_t klen,
             const void *value) {
  pmr_kv *kv = em->kv;
  if (kv->kind == PMR__GROUP && kv->vsize != PMR__RAGGED)
    return pmr__group_emit(em, key, klen, value, kv->vsize);
  if (kv->kind == PMR__GROUP)
    return pmr__emit_misuse(em, "pmr_emit into a ragged group set: use "
                                "pmr_emit_var (value size %zu)",
                            kv->vsize);
  if (kv->kind != PMR__HASH)
    return pmr__emit_misuse(em, "pmr_emit into a dense set (%zu-byte cells):"
                                " use pmr_emit_cell",
                            kv->vsize);
  uint64_t h = pmr__hash(key, klen);
  em->emitted++;
  bool isnew;
  void *v = pmr__table_upsert(em->table, h, key, klen, &isnew);
  if (!v)
    return em->status = PMR_ENOMEM;
  if (kv->op == PMR_COUNT) {
    int64_t c = 1;
    if (isnew)
      memcpy(v, &c, 8);
    else
      pmr__kv_merge(kv, v, &c);
  } else if (isnew) {
    memcpy(v, value, kv->vsize);
  } else {
    pmr__kv_merge(kv, v, value);
  }
  return PMR_OK;
}

static int pmr__emit8(pmr_emitter *em, const void *key, size_t klen,
                      const void *value, const char *fn) {
  pmr_kv *kv = em->kv;
  if (kv->kind == PMR__GROUP && kv->vsize == 8)
    return pmr__group_emit(em, key, klen, value, 8);
  if (kv->kind == PMR__DENSE || kv->vsize != 8) {
    char fmt[128];
    snprintf(fmt, sizeof fmt,
             "%s emits 8-byte values; this set's values are %%zu bytes%s", fn,
             kv->kind == PMR__DENSE ? " (a dense set: use pmr_emit_cell)" : "");
    return pmr__emit_misuse(em, fmt, kv->vsize);
  }
  return pmr_emit(em, key, klen, value);
}

int pmr_emit_i64(pmr_emitter *em, const void *key, size_t klen,
                 int64_t value) {
  pmr_kv *kv = em->kv;
  /* The hot path of counting: add in place without the generic dispatch. */
  if (kv->op == PMR_SUM_I64 && kv->kind == PMR__HASH) {
    bool isnew;
    em->emitted++;
    void *v = pmr__table_upsert(em->table, pmr__hash(key, klen), key, klen,
                                &isnew);
    if (!v)
      return em->status = PMR_ENOMEM;
    if (isnew) {
      memcpy(v, &value, 8);
    } else {
      int64_t a;
      memcpy(&a, v, 8);
      a = (int64_t)((uint64_t)a + (uint64_t)value);
      memcpy(v, &a, 8);
    }
    return PMR_OK;
  }
  return pmr__emit8(em, key, klen, &value, "pmr_emit_i64");
}

int pmr_emit_f64(pmr_emitter *em, const void *key, size_t klen,
                 double value) {
  return pmr__emit8(em, key, klen, &value, "pmr_emit_f64");
}

int pmr_emit_var(pmr_emitter *em, const void *key, size_t klen,
                 const void *value, size_t vlen) {
  pmr_kv *kv = em->kv;
  if (kv->kind == PMR__GROUP)
    return pmr__group_emit(em, key, klen, value, vlen);
  if (kv->kind == PMR__DENSE)
    return pmr__emit_misuse(em, "pmr_emit_var into a dense set (%zu-byte "
                                "cells): use pmr_emit_cell",
                            kv->vsize);
  if (vlen != kv->vsize) {
    if (em->msg && !em->status)
      snprintf(em->msg, PMR__ERRMSG_MAX,
               "pmr_emit_var of a %zu-byte value into a set of %zu-byte "
               "values",
               vlen, kv->vsize);
    if (!em->status)
      em->status = PMR_EINVAL;
    return PMR_EINVAL;
  }
  return pmr_emit(em, key, klen, value);
}

int pmr_emitter_thread(const pmr_emitter *em) { return em->thread; }
int pmr_emitter_source(const pmr_emitter *em) { return em->source; }
uint64_t pmr_emitter_line(const pmr_emitter *em) { return em->line; }
uint64_t pmr_emitter_offset(const pmr_emitter *em) { return em->offset; }
uint64_t pmr_emitter_record(const pmr_emitter *em) { return em->record; }

int pmr_emitter_fail(pmr_emitter *em, const char *fmt, ...) {
  if (em->msg && !em->failed) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(em->msg, PMR__ERRMSG_MAX, fmt ? fmt : "", ap);
    va_end(ap);
    em->failed = true;
  }
  return PMR_ECALLBACK;
}
