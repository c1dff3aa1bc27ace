/* pmr_meta: named attribute values for a written result, an opaque list so
 * that it can grow (strings, lists of strings, int64, double). */
#include "out/out.h"

typedef enum { PMR__M_STR, PMR__M_STRS, PMR__M_I64, PMR__M_F64 } pmr__mkind;

typedef struct pmr__mval {
  char *name;
  pmr__mkind kind;
  char **strs; /* STR: one; STRS: n */
  int n;
  int64_t i;
  double f;
} pmr__mval;

struct pmr_meta {
  pmr__mval *v;
  size_t n, cap;
};

/* Names the library writes itself. */
static bool pmr__meta_reserved(const char *name) {
  static const char *const names[] = {
      "pmr_version", "layout_version", "layout",  "combiner",
      "nranks",      "nthreads",       "created", "records",
      "input_bytes", "value_size"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(name, names[i]))
      return true;
  return !strncmp(name, "seconds_", 8);
}

int pmr_meta_create(pmr_meta **out) {
  if (!out)
    return PMR_EINVAL;
  *out = pmr__calloc(1, sizeof **out);
  return *out ? PMR_OK : PMR_ENOMEM;
}

static void pmr__mval_clear(pmr__mval *v) {
  for (int i = 0; v->strs && i < v->n; i++)
    pmr__free(v->strs[i]);
  pmr__free(v->strs);
  v->strs = NULL;
  v->n = 0;
}

void pmr_meta_free(pmr_meta **pm) {
  if (!pm || !*pm)
    return;
  pmr_meta *m = *pm;
  for (size_t i = 0; i < m->n; i++) {
    pmr__mval_clear(&m->v[i]);
    pmr__free(m->v[i].name);
  }
  pmr__free(m->v);
  pmr__free(m);
  *pm = NULL;
}

/* The entry for `name`, new or emptied. */
static pmr__mval *pmr__meta_slot(pmr_meta *m, const char *name) {
  for (size_t i = 0; i < m->n; i++)
    if (!strcmp(m->v[i].name, name)) {
      pmr__mval_clear(&m->v[i]);
      return &m->v[i];
    }
  void *p = m->v;
  if (pmr__grow_array(&p, &m->cap, m->n + 1, sizeof *m->v, 8))
    return NULL;
  m->v = p;
  pmr__mval *v = &m->v[m->n];
  memset(v, 0, sizeof *v);
  if (!(v->name = pmr__strdup(name)))
    return NULL;
  m->n++;
  return v;
}

static int pmr__meta_check(pmr_meta *m, const char *name) {
  return !m || !name || !*name || pmr__meta_reserved(name) ? PMR_EINVAL
                                                           : PMR_OK;
}

int pmr_meta_set_strs(pmr_meta *m, const char *name,
                      const char *const *values, int n) {
  if (pmr__meta_check(m, name) || n < 0 || (n && !values))
    return PMR_EINVAL;
  for (int i = 0; i < n; i++)
    if (!values[i])
      return PMR_EINVAL;
  pmr__mval *v = pmr__meta_slot(m, name);
  if (!v)
    return PMR_ENOMEM;
  v->kind = PMR__M_STRS;
  v->strs = pmr__calloc((size_t)(n ? n : 1), sizeof *v->strs);
  if (!v->strs)
    return PMR_ENOMEM;
  for (int i = 0; i < n; i++) {
    if (!(v->strs[i] = pmr__strdup(values[i]))) {
      pmr__mval_clear(v);
      return PMR_ENOMEM;
    }
    v->n = i + 1;
  }
  return PMR_OK;
}

int pmr_meta_set_str(pmr_meta *m, const char *name, const char *value) {
  if (!value)
    return PMR_EINVAL;
  int rc = pmr_meta_set_strs(m, name, &value, 1);
  if (!rc) {
    for (size_t i = 0; i < m->n; i++)
      if (!strcmp(m->v[i].name, name))
        m->v[i].kind = PMR__M_STR;
  }
  return rc;
}

int pmr_meta_set_i64(pmr_meta *m, const char *name, int64_t value) {
  if (pmr__meta_check(m, name))
    return PMR_EINVAL;
  pmr__mval *v = pmr__meta_slot(m, name);
  if (!v)
    return PMR_ENOMEM;
  v->kind = PMR__M_I64;
  v->i = value;
  return PMR_OK;
}

int pmr_meta_set_f64(pmr_meta *m, const char *name, double value) {
  if (pmr__meta_check(m, name))
    return PMR_EINVAL;
  pmr__mval *v = pmr__meta_slot(m, name);
  if (!v)
    return PMR_ENOMEM;
  v->kind = PMR__M_F64;
  v->f = value;
  return PMR_OK;
}

/* Bytes of the fixed-length string array of n strings as long as the
 * longest (at least 1). */
static size_t pmr__strs_bytes(char *const *v, int n, size_t *width) {
  size_t w = 1;
  for (int i = 0; i < n; i++)
    if (strlen(v[i]) > w)
      w = strlen(v[i]);
  *width = w;
  return (n > 0 ? (size_t)n : 1) * w;
}

size_t pmr__meta_scratch(const pmr_meta *m) {
  size_t most = PMR__ATTR_SCRATCH, w;
  for (size_t i = 0; m && i < m->n; i++) {
    const pmr__mval *v = &m->v[i];
    if (v->kind == PMR__M_STR || v->kind == PMR__M_STRS) {
      size_t b = pmr__strs_bytes(v->strs, v->n, &w);
      most = b > most ? b : most;
    }
  }
  return most;
}

/* Fixed-length strings (h5py reads them as bytes), as the result contract
 * has them; a list is an array of strings as long as its longest. Built in
 * `buf` (pmr__meta_scratch bytes: no allocation between the collective
 * attribute calls). */
herr_t pmr__h5_strattr(hid_t obj, const char *name, char *const *v, int n,
                       bool scalar, char *buf) {
  size_t w;
  memset(buf, 0, pmr__strs_bytes(v, n, &w));
  for (int i = 0; i < n; i++)
    memcpy(buf + (size_t)i * w, v[i], strlen(v[i]));
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, w);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  hsize_t dims = (hsize_t)n;
  hid_t s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, NULL);
  if (H5Aexists(obj, name) > 0)
    H5Adelete(obj, name);
  herr_t e;
  if ((n > 0 ? (size_t)n : 1) * w > PMR__ATTR_MAX) {
    /* Too large for an attribute (HDF5 keeps an object's attributes in
     * 64 KiB): a dataset of the same name. Every rank writes the same
     * bytes, independently. */
    if (H5Lexists(obj, name, H5P_DEFAULT) > 0)
      H5Ldelete(obj, name, H5P_DEFAULT);
    hid_t d = H5Dcreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (d >= 0 && H5Dclose(d) < 0)
      e = -1;
  } else {
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    e = a < 0 ? -1 : H5Awrite(a, t, buf);
    if (a >= 0)
      H5Aclose(a);
  }
  H5Sclose(s);
  H5Tclose(t);
  return e;
}

herr_t pmr__h5_numattr(hid_t obj, const char *name, hid_t ft, hid_t mt,
                       const void *v) {
  hid_t s = H5Screate(H5S_SCALAR);
  if (H5Aexists(obj, name) > 0)
    H5Adelete(obj, name);
  hid_t a = H5Acreate2(obj, name, ft, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, mt, v);
  if (a >= 0)
    H5Aclose(a);
  H5Sclose(s);
  return e;
}

int pmr__meta_write(const pmr_meta *m, hid_t obj, void *scratch) {
  if (!m)
    return PMR_OK;
  for (size_t i = 0; i < m->n; i++) {
    const pmr__mval *v = &m->v[i];
    herr_t e = 0;
    switch (v->kind) {
    case PMR__M_STR:
      e = pmr__h5_strattr(obj, v->name, v->strs, 1, true, scratch);
      break;
    case PMR__M_STRS:
      if (v->n > 0)
        e = pmr__h5_strattr(obj, v->name, v->strs, v->n, false, scratch);
      break;
    case PMR__M_I64:
      e = pmr__h5_numattr(obj, v->name, H5T_STD_I64LE, H5T_NATIVE_INT64,
                          &v->i);
      break;
    case PMR__M_F64:
      e = pmr__h5_numattr(obj, v->name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                          &v->f);
      break;
    }
    if (e < 0)
      return PMR_EHDF5;
  }
  return PMR_OK;
}
