/* The HDF5 dataset source's internals shared between its files: the spec
 * split (h5spec.c) used by the reader (h5.c). Depends on source.h. */
#ifndef PMR_INPUT_H5_H
#define PMR_INPUT_H5_H

#include "input/source.h"

/* Where `spec` splits into file and dataset: the index of the ':' (the
 * rules of pmr_h5_spec). Not collective (it may stat files). Returns
 * PMR_OK, PMR_EINVAL (no ":/" after a non-empty file part), PMR_ENOMEM. */
int pmr__h5_spec_split(const char *spec, size_t *at);
/* Split `spec` at `at` into malloc'ed copies. PMR_OK or PMR_ENOMEM (then
 * both are NULL). */
int pmr__h5_spec_at(const char *spec, size_t at, char **file, char **dataset);

#endif
