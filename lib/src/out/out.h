/* Output: results appear under their final name only when complete
 * (commit.c: temporary name in the same directory, then rename), as HDF5
 * (h5.c: the ragged key/value layout and dense datasets, with attributes
 * from pmr_meta) or text (text.c, by MPI-IO). Depends on base, kv. */
#ifndef PMR_OUT_H
#define PMR_OUT_H

#include "kv/kv.h"

#include <hdf5.h>

/* Collective: check `path` can be written, and agree on a temporary name in
 * its directory (malloc'ed into *tmp on every rank). */
int pmr__out_begin(pmr_ctx *ctx, const char *path, char **tmp);
/* Collective: agree on `rc`; on success rank 0 renames tmp to path, else
 * removes tmp. Frees *tmp. Returns the agreed code. */
int pmr__out_finish(pmr_ctx *ctx, int rc, const char *path, char **tmp);
/* Collective: whether any rank's iterator has pairs left (*more), agreed. */
int pmr__any_left(pmr_ctx *ctx, pmr__kv_iter *c, int *more);
/* Rank 0: copy file `from` to the (existing, empty) file `to`. Local. */
int pmr__copy_file(pmr_ctx *ctx, const char *from, const char *to);

/* An attribute on `obj`, replacing one of that name: a scalar number of
 * file type ft from memory type mt; fixed-length strings, one (scalar) or
 * an array of n. HDF5 status. */
herr_t pmr__h5_numattr(hid_t obj, const char *name, hid_t ft, hid_t mt,
                       const void *v);
herr_t pmr__h5_strattr(hid_t obj, const char *name, char *const *v, int n,
                       bool scalar, char *buf);
/* Scratch for the provenance strings (the longest is the 20-byte time). */
#define PMR__ATTR_SCRATCH 64

/* Bytes of scratch memory pmr__meta_write needs (at least
 * PMR__ATTR_SCRATCH, so it also serves the provenance strings). */
size_t pmr__meta_scratch(const pmr_meta *meta);
/* Write the meta's attributes on object `obj` (every rank, same values),
 * building strings in `scratch` (pmr__meta_scratch bytes). The caller
 * allocates it and agrees on that before the first HDF5 call: attribute
 * calls are collective metadata operations, and a rank that skipped them
 * after a failed allocation would leave the others waiting.
 * Returns PMR_OK or PMR_EHDF5. */
int pmr__meta_write(const pmr_meta *meta, hid_t obj, void *scratch);

/* One collective write of rows [start, start+count) (x cols, 0 for 1-D) of
 * dataset d from buf; count 0 takes part with an empty selection. */
herr_t pmr__h5_write1(hid_t d, hid_t memtype, uint64_t start, uint64_t count,
                      uint64_t cols, const void *buf, hid_t dxpl);
/* Create dataset `name` [n] (cols 0) or [n, cols] of `type` in g, without
 * fill (every element gets written). */
hid_t pmr__h5_dataset(hid_t g, const char *name, hid_t type, uint64_t n,
                      uint64_t cols);

/* Collective: write a dense set's values into group `g` of `path` (already
 * created): dataset `values` [ncells] or [ncells, width] (value_size bytes
 * as uint8 [ncells, size] for PMR_BYTES). Agreed. */
int pmr__h5_dense_body(pmr_kv *kv, hid_t g, const char *path);

/* Collective: write a reduced group set into group `g` of `path` (already
 * created), the "group" layout (h5_group.c). Agreed. */
int pmr__h5_group_body(pmr_kv *kv, hid_t g, const char *path);
/* Bytes a batch of output may take: a quarter of the budget, at most 1 GiB
 * (well below the 2 GiB limits of MPI-IO counts). */
size_t pmr__batch_limit(const pmr_ctx *ctx);

#endif
