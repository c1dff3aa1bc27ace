/* Dense sets in HDF5: plain datasets. (Placeholder until the dense
 * container lands.) */
#include "out/out.h"

int pmr__h5_dense_body(pmr_kv *kv, hid_t g, const char *path) {
  (void)g, (void)path;
  return pmr__agree(kv->ctx, pmr__seterr(kv->ctx, PMR_EINVAL,
                                         "dense sets are not available"));
}
