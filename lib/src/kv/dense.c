/* Dense sets. (Placeholder until the dense container lands: every entry
 * point fails cleanly.) */
#include "kv/dense.h"

int pmr__dense_new(pmr_kv *kv, uint64_t ncells, uint64_t width,
                   const void *identity) {
  (void)ncells, (void)width, (void)identity;
  return pmr__seterr(kv->ctx, PMR_EINVAL, "dense sets are not available");
}
void pmr__dense_free(pmr_kv *kv) { (void)kv; }
int pmr__dense_prepare(pmr_kv *kv, int nt) {
  (void)nt;
  return pmr__seterr(kv->ctx, PMR_EINVAL, "dense sets are not available");
}
void *pmr__dense_thread(pmr_kv *kv, int t) {
  (void)kv, (void)t;
  return NULL;
}
int pmr__dense_fold_threads(pmr_kv *kv) {
  (void)kv;
  return PMR_OK;
}
int pmr__dense_reduce(pmr_kv *kv, int root) {
  (void)root;
  return pmr__agree(kv->ctx, PMR_EINVAL);
}
const void *pmr__dense_values(const pmr_kv *kv) {
  (void)kv;
  return NULL;
}
uint64_t pmr__dense_cells(const pmr_kv *kv) {
  (void)kv;
  return 0;
}
uint64_t pmr__dense_width(const pmr_kv *kv) {
  (void)kv;
  return 0;
}
int pmr_emit_cell(pmr_emitter *em, uint64_t cell, const void *values) {
  (void)em, (void)cell, (void)values;
  return PMR_ESTATE;
}
int pmr_emit_cell_i64(pmr_emitter *em, uint64_t cell, uint64_t col,
                      int64_t value) {
  (void)em, (void)cell, (void)col, (void)value;
  return PMR_ESTATE;
}
int pmr_emit_cell_f64(pmr_emitter *em, uint64_t cell, uint64_t col,
                      double value) {
  (void)em, (void)cell, (void)col, (void)value;
  return PMR_ESTATE;
}
