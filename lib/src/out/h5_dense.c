/* Dense sets in HDF5: one plain dataset, `values` [ncells] (one value per
 * cell) or [ncells, width] (uint8 [ncells, value_size] for PMR_BYTES), and
 * an int64 attribute `width` on the group. The rank that holds the result
 * writes it (rank 0 when every rank does); the others join each collective
 * call with an empty selection. */
#include "kv/dense.h"
#include "out/out.h"

/* Bytes per write call: well below MPI-IO's 2 GiB counts. A set never
 * mapped is written from a buffer of initial values, in smaller calls. */
#define PMR__DENSE_WRITE ((size_t)1 << 30)
#define PMR__DENSE_FILL ((size_t)16 << 20)

int pmr__h5_dense_body(pmr_kv *kv, hid_t g, const char *path) {
  pmr_ctx *ctx = kv->ctx;
  uint64_t ncells = pmr__dense_cells(kv), width = pmr__dense_width(kv);
  const unsigned char *vals = pmr__dense_values(kv);
  /* EMPTY: nobody holds values; rank 0 writes the initial ones. */
  bool empty = kv->state != PMR__REDUCED;
  int holder = empty ? 0 : pmr__dense_holder(kv);
  if (holder < 0)
    holder = 0;
  bool writer = ctx->rank == holder;
  hid_t ftype, mtype;
  uint64_t cols;
  switch (kv->dtype) {
  case PMR_INT64:
    ftype = H5T_STD_I64LE;
    mtype = H5T_NATIVE_INT64;
    cols = width > 1 ? width : 0;
    break;
  case PMR_FLOAT64:
    ftype = H5T_IEEE_F64LE;
    mtype = H5T_NATIVE_DOUBLE;
    cols = width > 1 ? width : 0;
    break;
  default:
    ftype = H5T_STD_U8LE;
    mtype = H5T_NATIVE_UINT8;
    cols = kv->vsize;
  }
  size_t row = kv->vsize;
  size_t per = (empty ? PMR__DENSE_FILL : PMR__DENSE_WRITE) / row;
  if (per < 1)
    per = 1;
  if (per > ncells)
    per = (size_t)ncells;

  int lrc = PMR_OK;
  unsigned char *fill = NULL;
  if (empty && writer) {
    fill = pmr__malloc(per * row);
    if (fill)
      pmr__dense_initial(kv, fill, per);
    else
      lrc = pmr__seterr(ctx, PMR_ENOMEM, "out of memory writing '%s'", path);
  } else if (writer && !vals) {
    lrc = pmr__seterr(ctx, PMR_ESTATE,
                      "pmr_kv_write_h5: the dense set's values are not on "
                      "rank %d",
                      ctx->rank);
  }
  hid_t d = pmr__h5_dataset(g, "values", ftype, ncells, cols);
  int64_t w = (int64_t)width;
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(g, "width", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT64, &w);
  if (a >= 0)
    H5Aclose(a);
  H5Sclose(s);
  if ((d < 0 || e < 0) && !lrc)
    lrc =
        pmr__seterr(ctx, PMR_EHDF5,
                    "cannot create the dataset 'values' in '%s' (HDF5)", path);
  int rc = pmr__agree(ctx, lrc);

  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  /* The same number of calls on every rank: it depends on the shape only. */
  for (uint64_t at = 0; !rc && at < ncells; at += per) {
    uint64_t n = ncells - at < per ? ncells - at : per;
    const unsigned char *buf = empty ? fill : vals + at * row;
    e = pmr__h5_write1(d, mtype, at, writer ? n : 0, cols, buf, dxpl);
    rc = pmr__agree(ctx, e < 0 ? pmr__seterr(ctx, PMR_EHDF5,
                                             "cannot write '%s' (HDF5)", path)
                               : PMR_OK);
  }
  H5Pclose(dxpl);
  if (d >= 0)
    H5Dclose(d);
  pmr__free(fill);
  return rc;
}
