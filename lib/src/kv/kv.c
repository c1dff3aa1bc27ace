/* Key/value sets: creation, state, iteration, lookup. */
#include "kv/dense.h"
#include "kv/group.h"

#include <stdio.h>

static const pmr__op_desc pmr__ops[] = {
    [PMR_SUM_I64] = {"sum_i64", PMR_INT64},
    [PMR_MIN_I64] = {"min_i64", PMR_INT64},
    [PMR_MAX_I64] = {"max_i64", PMR_INT64},
    [PMR_SUM_F64] = {"sum_f64", PMR_FLOAT64},
    [PMR_MIN_F64] = {"min_f64", PMR_FLOAT64},
    [PMR_MAX_F64] = {"max_f64", PMR_FLOAT64},
    [PMR_COUNT] = {"count", PMR_INT64},
};

const pmr__op_desc *pmr__op(int op) {
  if (op < 0 || op >= (int)(sizeof pmr__ops / sizeof pmr__ops[0]))
    return NULL;
  return &pmr__ops[op];
}

const char *pmr__state_name(pmr__state s) {
  switch (s) {
  case PMR__EMPTY:
    return "empty";
  case PMR__MAPPED:
    return "mapped but not reduced";
  case PMR__REDUCED:
    return "reduced";
  case PMR__FAILED:
    return "failed (an earlier reduce failed; destroy it)";
  }
  return "unknown";
}

int pmr__kv_check(const pmr_kv *kv, unsigned states, const char *what) {
  if (kv->state & states)
    return PMR_OK;
  const char *hint = kv->state == PMR__MAPPED ? ": call pmr_kv_reduce first"
                                              : "";
  return pmr__seterr(kv->ctx, PMR_ESTATE, "%s: the set is %s%s", what,
                     pmr__state_name(kv->state), hint);
}

static int pmr__kv_alloc(pmr_ctx *ctx, int op, size_t vsize, pmr_dtype dtype,
                         pmr_combine_fn fn, void *user, pmr_kv **out) {
  pmr_kv *kv = pmr__calloc(1, sizeof *kv);
  if (!kv)
    return PMR_ENOMEM;
  kv->ctx = ctx;
  kv->op = op;
  kv->vsize = vsize;
  kv->dtype = dtype;
  kv->combine = fn;
  kv->user = user;
  kv->state = PMR__EMPTY;
  *out = kv;
  return PMR_OK;
}

int pmr_kv_create(pmr_ctx *ctx, pmr_op op, pmr_kv **out) {
  if (!ctx || !out)
    return PMR_EINVAL;
  *out = NULL;
  const pmr__op_desc *d = pmr__op((int)op);
  if (!d)
    return pmr__seterr(ctx, PMR_EINVAL, "unknown combiner %d", (int)op);
  return pmr__kv_alloc(ctx, (int)op, 8, d->dtype, NULL, NULL, out);
}

static bool pmr__bad_user_value(size_t value_size, pmr_dtype dtype) {
  return value_size < 1 || value_size > 4096 || dtype < PMR_INT64 ||
         dtype > PMR_BYTES ||
         ((dtype == PMR_INT64 || dtype == PMR_FLOAT64) && value_size != 8);
}

int pmr_kv_create_user(pmr_ctx *ctx, size_t value_size, pmr_dtype dtype,
                       pmr_combine_fn fn, void *user, pmr_kv **out) {
  if (!ctx || !out)
    return PMR_EINVAL;
  *out = NULL;
  if (!fn || pmr__bad_user_value(value_size, dtype))
    return pmr__seterr(ctx, PMR_EINVAL,
                       "a user combiner needs a function and a value size of "
                       "1..4096 bytes (8 for int64/float64)");
  return pmr__kv_alloc(ctx, PMR__OP_USER, value_size, dtype, fn, user, out);
}

int pmr_kv_create_dense(pmr_ctx *ctx, pmr_op op, uint64_t ncells,
                        uint64_t width, pmr_kv **out) {
  if (!ctx || !out)
    return PMR_EINVAL;
  *out = NULL;
  const pmr__op_desc *d = pmr__op((int)op);
  size_t vsize;
  if (!d)
    return pmr__seterr(ctx, PMR_EINVAL, "unknown combiner %d", (int)op);
  if (ncells < 1 || width < 1 || width > SIZE_MAX / 8 ||
      pmr__mul_ovf((size_t)width, 8, &vsize))
    return pmr__seterr(ctx, PMR_EINVAL,
                       "a dense set needs at least one cell and one value");
  int rc = pmr__kv_alloc(ctx, (int)op, vsize, d->dtype, NULL, NULL, out);
  if (rc)
    return rc;
  (*out)->kind = PMR__DENSE;
  if ((rc = pmr__dense_new(*out, ncells, width, NULL)))
    pmr_kv_destroy(out);
  return rc;
}

int pmr_kv_create_dense_user(pmr_ctx *ctx, uint64_t ncells, size_t value_size,
                             pmr_dtype dtype, pmr_combine_fn fn,
                             const void *identity, void *user, pmr_kv **out) {
  if (!ctx || !out)
    return PMR_EINVAL;
  *out = NULL;
  if (!fn || !identity || ncells < 1 || pmr__bad_user_value(value_size, dtype))
    return pmr__seterr(ctx, PMR_EINVAL,
                       "a dense user fold needs a function, an identity, a "
                       "cell and a value size of 1..4096 bytes (8 for "
                       "int64/float64)");
  int rc = pmr__kv_alloc(ctx, PMR__OP_USER, value_size, dtype, fn, user, out);
  if (rc)
    return rc;
  (*out)->kind = PMR__DENSE;
  if ((rc = pmr__dense_new(*out, ncells, 1, identity)))
    pmr_kv_destroy(out);
  return rc;
}

static void pmr__kv_free_tables(pmr_kv *kv) {
  for (int i = 0; i < kv->ntables; i++)
    pmr__table_free(&kv->tables[i]);
  pmr__free(kv->tables);
  kv->tables = NULL;
  kv->ntables = 0;
}

void pmr_kv_destroy(pmr_kv **pkv) {
  if (!pkv || !*pkv)
    return;
  pmr_kv *kv = *pkv;
  pmr__kv_free_tables(kv);
  pmr__group_clear(kv);
  if (kv->kind == PMR__DENSE)
    pmr__dense_free(kv);
  pmr__free(kv);
  *pkv = NULL;
}

int pmr__kv_tables(pmr_kv *kv, int n) {
  if (n <= kv->ntables)
    return PMR_OK;
  pmr__table *t = pmr__realloc(kv->tables, (size_t)n * sizeof *t);
  if (!t)
    return PMR_ENOMEM;
  for (int i = kv->ntables; i < n; i++)
    pmr__table_init(&t[i], kv->vsize);
  kv->tables = t;
  kv->ntables = n;
  return PMR_OK;
}

int pmr__kv_prepare(pmr_kv *kv, int nt) {
  if (kv->kind == PMR__DENSE)
    return pmr__dense_prepare(kv, nt);
  int rc = kv->kind == PMR__GROUP ? pmr__group_stores(kv, nt)
                                  : pmr__kv_tables(kv, nt);
  if (rc)
    pmr__seterr(kv->ctx, rc, "out of memory for the set's tables");
  return rc;
}

void pmr__kv_emitter(pmr_kv *kv, int t, pmr_emitter *em) {
  memset(em, 0, sizeof *em);
  em->kv = kv;
  em->thread = t;
  if (kv->kind == PMR__DENSE)
    em->cells = pmr__dense_thread(kv, t);
  else if (kv->kind == PMR__GROUP)
    em->gstore = &kv->gstores[t];
  else
    em->table = &kv->tables[t];
}

void pmr__kv_mapped(pmr_kv *kv) { kv->state = PMR__MAPPED; }

uint64_t pmr_kv_local_size(const pmr_kv *kv) {
  if (!kv)
    return 0;
  if (kv->kind == PMR__DENSE)
    return pmr__dense_values(kv) ? pmr__dense_cells(kv) : 0;
  if (kv->kind == PMR__GROUP)
    return kv->state == PMR__REDUCED ? pmr__group_count(kv) : 0;
  uint64_t n = 0;
  for (int i = 0; i < kv->ntables; i++)
    n += kv->tables[i].count;
  return n;
}
size_t pmr_kv_value_size(const pmr_kv *kv) { return kv ? kv->vsize : 0; }
pmr_dtype pmr_kv_dtype(const pmr_kv *kv) { return kv ? kv->dtype : PMR_BYTES; }
uint64_t pmr_kv_cells(const pmr_kv *kv) {
  return kv && kv->kind == PMR__DENSE ? pmr__dense_cells(kv) : 0;
}
uint64_t pmr_kv_width(const pmr_kv *kv) {
  return kv && kv->kind == PMR__DENSE ? pmr__dense_width(kv) : 0;
}
const void *pmr_kv_dense_values(const pmr_kv *kv) {
  if (!kv || kv->kind != PMR__DENSE || kv->state != PMR__REDUCED)
    return NULL;
  return pmr__dense_values(kv);
}

bool pmr__kv_next(pmr__kv_iter *it, pmr__pair *p) {
  const pmr_kv *kv = it->kv;
  if (kv->kind == PMR__DENSE) {
    const unsigned char *v = pmr__dense_values(kv);
    if (!v || it->pos >= pmr__dense_cells(kv))
      return false;
    it->cell = it->pos++;
    p->hash = 0;
    p->key = (const unsigned char *)&it->cell;
    p->klen = sizeof it->cell;
    p->value = (unsigned char *)v + it->cell * kv->vsize;
    return true;
  }
  while (it->t < kv->ntables) {
    if (pmr__table_next(&kv->tables[it->t], &it->pos, p))
      return true;
    it->t++;
    it->pos = 0;
  }
  return false;
}

int pmr_kv_foreach(const pmr_kv *kv, pmr_kv_visit_fn fn, void *user) {
  if (!kv || !fn)
    return PMR_EINVAL;
  if (kv->kind == PMR__GROUP)
    return pmr__seterr(kv->ctx, PMR_EINVAL, "pmr_kv_foreach: a group set: "
                                            "use pmr_kv_foreach_group");
  int rc = pmr__kv_check(kv, PMR__READABLE, "pmr_kv_foreach");
  if (rc)
    return rc;
  pmr__kv_iter it = {.kv = kv};
  pmr__pair p;
  while (pmr__kv_next(&it, &p))
    if ((rc = fn(p.key, p.klen, p.value, user)))
      return rc;
  return 0;
}

int pmr_kv_get(const pmr_kv *kv, const void *key, size_t klen,
               const void **value) {
  if (!kv || !value || (!key && klen))
    return PMR_EINVAL;
  *value = NULL;
  if (kv->kind == PMR__GROUP)
    return pmr__seterr(kv->ctx, PMR_EINVAL, "pmr_kv_get: a group set: use "
                                            "pmr_kv_foreach_group");
  int rc = pmr__kv_check(kv, PMR__READABLE, "pmr_kv_get");
  if (rc)
    return rc;
  if (kv->kind == PMR__DENSE) {
    uint64_t cell;
    const unsigned char *v = pmr__dense_values(kv);
    if (klen != sizeof cell || !v)
      return PMR_ENOENT;
    memcpy(&cell, key, sizeof cell);
    if (cell >= pmr__dense_cells(kv))
      return PMR_ENOENT;
    *value = v + cell * kv->vsize;
    return PMR_OK;
  }
  uint64_t h = pmr__hash(key, klen);
  for (int i = 0; i < kv->ntables; i++) {
    const void *v = pmr__table_find(&kv->tables[i], h, key, klen);
    if (v) {
      *value = v;
      return PMR_OK;
    }
  }
  return PMR_ENOENT;
}

const void *pmr_kv_find(const pmr_kv *kv, const void *key, size_t klen) {
  const void *v = NULL;
  return pmr_kv_get(kv, key, klen, &v) == PMR_OK ? v : NULL;
}
