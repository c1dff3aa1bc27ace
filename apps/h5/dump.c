/* pmr-h5 dump: a result as text lines on stdout (rank 0).
 *
 * A key/value group is read with pmr_map_result (pairs split over the ranks)
 * into a set, then gathered to rank 0 in key order (pmr_kv_gather), or its
 * N largest values taken (pmr_kv_top). A dense group's `values`, or any
 * numeric 1-D/2-D dataset, is read with pmr_map_h5 (rows split over the
 * ranks), each row keyed by its index in big-endian bytes so that key order
 * is row order. Everything printed passes through rank 0: for results that
 * fit in its memory (2 GiB at most), as for pmr_kv_gather. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <pmr.h>

#include "cli.h"
#include "h5app.h"

typedef struct dp_opts {
  long long top;
  int sort; /* 0: key, or value with --top; 'k', 'v' */
} dp_opts;

enum { OPT_TOP = 0x2000, OPT_SORT };

static const struct option dp_longopts[] = {
    {"top", required_argument, NULL, OPT_TOP},
    {"sort", required_argument, NULL, OPT_SORT},
    {0}};

static int dp_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  dp_opts *o = user;
  if (opt == OPT_TOP)
    return pmr_cli_positive(cli, "--top", arg, &o->top);
  if (opt == OPT_SORT) {
    if (!strcmp(arg, "key") || !strcmp(arg, "value")) {
      o->sort = arg[0];
      return 0;
    }
    pmr_cli_error(cli, "unknown --sort '%s': use key or value (see --help)",
                  arg);
  }
  return PMR_CLI_USAGE;
}

/* What is dumped, decided on rank 0 and broadcast. */
typedef struct dp_what {
  int32_t rc;    /* a refusal found by rank 0 (message on rank 0) */
  int32_t rows;  /* 1: rows of a dataset; 0: a key/value group */
  int32_t flt;   /* elements are floating point */
  int32_t esize; /* bytes per element as read (rows: always 8) */
  int32_t fsize; /* bytes per element in the file (float32: %.9g) */
  int32_t sign;  /* signed integers */
  int32_t hex;   /* uint8 [n, m] values: print as hex, as --text does */
  int32_t pad;
  uint64_t cols; /* elements per value */
  char dataset[1024];
} dp_what;

/* ---- rank 0: what the spec names ---- */

static int dp_exists(hid_t f, const char *path) {
  /* Every component, as H5Lexists needs its parents to exist. */
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (H5Lexists(f, buf, H5P_DEFAULT) <= 0)
        return 0;
      *p = '/';
    }
  return strcmp(buf, "/") == 0 || H5Lexists(f, buf, H5P_DEFAULT) > 0;
}

typedef struct dp_names {
  char list[512];
  char first[256];
} dp_names;

#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t dp_linfo;
#define dp_literate H5Literate2
#else
typedef H5L_info_t dp_linfo;
#define dp_literate H5Literate
#endif

static herr_t dp_name_cb(hid_t g, const char *name, const dp_linfo *li,
                         void *data) {
  dp_names *n = data;
  (void)g, (void)li;
  size_t len = strlen(n->list);
  if (!len)
    snprintf(n->first, sizeof n->first, "%s", name);
  if (len + strlen(name) + 3 < sizeof n->list)
    snprintf(n->list + len, sizeof n->list - len, "%s%s", len ? ", " : "",
             name);
  return 0;
}

static void dp_probe(const char *file, const char *obj, dp_what *w,
                     char *msg, size_t n) {
  w->rows = 0;
  if (!obj)
    return; /* pmr_result_describe finds the one group, or says why not */
  hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    return; /* the library's checks name what is wrong */
  hid_t o = dp_exists(f, obj) ? H5Oopen(f, obj, H5P_DEFAULT) : -1;
  if (o >= 0 && H5Iget_type(o) == H5I_DATASET) {
    w->rows = 1;
    snprintf(w->dataset, sizeof w->dataset, "%s", obj);
  } else if (o >= 0 && H5Iget_type(o) == H5I_GROUP) {
    int keys = H5Lexists(o, "keys", H5P_DEFAULT) > 0;
    int values = H5Lexists(o, "values", H5P_DEFAULT) > 0;
    char layout[16] = "";
    if (H5Aexists(o, "layout") > 0) {
      hid_t a = H5Aopen(o, "layout", H5P_DEFAULT), t = H5Aget_type(a);
      if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) <= 0 &&
          H5Tget_size(t) < sizeof layout)
        H5Aread(a, t, layout);
      H5Tclose(t);
      H5Aclose(a);
    }
    if (!strcmp(layout, "dense") || (values && !keys)) {
      w->rows = 1;
      snprintf(w->dataset, sizeof w->dataset, "%s%svalues", obj,
               obj[strlen(obj) - 1] == '/' ? "" : "/");
    } else if (!keys && strcmp(layout, "kv")) {
      dp_names names = {"", ""};
      hsize_t idx = 0;
      dp_literate(o, H5_INDEX_NAME, H5_ITER_INC, &idx, dp_name_cb, &names);
      if (*names.list)
        snprintf(msg, n,
                 "'%s': '%s' is not a pmr result (it holds %s): name a "
                 "group or dataset in it, e.g. %s:%s%s%s",
                 file, obj, names.list, file, obj,
                 obj[strlen(obj) - 1] == '/' ? "" : "/", names.first);
      else
        snprintf(msg, n, "'%s': group '%s' is empty", file, obj);
      w->rc = PMR_EINVAL;
    }
  }
  if (o >= 0)
    H5Oclose(o);
  H5Fclose(f);
}

/* The element type of `dataset` (rank 0). */
static void dp_probe_type(const char *file, const char *dataset, dp_what *w) {
  hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = f >= 0 ? H5Dopen2(f, dataset, H5P_DEFAULT) : -1;
  hid_t t = d >= 0 ? H5Dget_type(d) : -1;
  if (t >= 0) {
    w->flt = H5Tget_class(t) == H5T_FLOAT;
    w->fsize = (int32_t)H5Tget_size(t);
    w->sign = w->flt || H5Tget_sign(t) != H5T_SGN_NONE;
    H5Tclose(t);
  }
  if (d >= 0)
    H5Dclose(d);
  if (f >= 0)
    H5Fclose(f);
}

/* ---- reading into a set ---- */

static void dp_keep(void *acc, const void *in, void *user) {
  (void)acc, (void)in, (void)user; /* keys are distinct in a result */
}

static int dp_pair(const void *key, size_t klen, const void *value,
                   pmr_emitter *em, void *user) {
  (void)user;
  return pmr_emit(em, key, klen, value);
}

static int dp_row(const pmr_rows *r, pmr_emitter *em, void *user) {
  (void)user;
  for (uint64_t i = 0; i < r->nrows; i++) {
    uint64_t at = r->first + i;
    unsigned char key[8];
    for (int b = 0; b < 8; b++)
      key[b] = (unsigned char)(at >> (56 - 8 * b));
    int rc = pmr_emit(em, key, 8,
                      (const char *)r->data + i * r->ncols * sizeof(double));
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- order and printing ---- */

/* Element j of a value, for comparing: one of the three forms. */
typedef struct dp_num {
  double d;
  int64_t i;
  uint64_t u;
} dp_num;

static dp_num dp_elem(const dp_what *w, const uint8_t *v, uint64_t j) {
  dp_num n = {0, 0, 0};
  const uint8_t *p = v + j * (uint64_t)w->esize;
  if (w->flt) {
    if (w->esize == 4) {
      float f;
      memcpy(&f, p, 4);
      n.d = f;
    } else {
      memcpy(&n.d, p, 8);
    }
  } else if (w->sign) {
    switch (w->esize) {
    case 1: n.i = *(const int8_t *)p; break;
    case 2: { int16_t x; memcpy(&x, p, 2); n.i = x; } break;
    case 4: { int32_t x; memcpy(&x, p, 4); n.i = x; } break;
    default: memcpy(&n.i, p, 8);
    }
  } else {
    switch (w->esize) {
    case 1: n.u = *p; break;
    case 2: { uint16_t x; memcpy(&x, p, 2); n.u = x; } break;
    case 4: { uint32_t x; memcpy(&x, p, 4); n.u = x; } break;
    default: memcpy(&n.u, p, 8);
    }
  }
  return n;
}

/* Value descending (NaN last), element by element, then key ascending. */
static int dp_cmp_pair(const void *ak, size_t al, const void *av,
                       const void *bk, size_t bl, const void *bv,
                       void *user) {
  const dp_what *w = user;
  for (uint64_t j = 0; j < w->cols; j++) {
    dp_num a = dp_elem(w, av, j), b = dp_elem(w, bv, j);
    int c;
    if (w->flt) {
      int an = a.d != a.d, bn = b.d != b.d;
      c = an || bn ? an - bn : (a.d < b.d) - (a.d > b.d);
    } else if (w->sign) {
      c = (a.i < b.i) - (a.i > b.i);
    } else {
      c = (a.u < b.u) - (a.u > b.u);
    }
    if (c)
      return c;
  }
  int c = memcmp(ak, bk, al < bl ? al : bl);
  return c ? c : (al > bl) - (al < bl);
}

typedef struct dp_sort {
  const pmr_kv_list *l;
  const dp_what *w;
  int by_value;
} dp_sort;

static int dp_cmp_index(const void *a, const void *b, void *user) {
  const dp_sort *s = user;
  uint64_t i = *(const uint64_t *)a, j = *(const uint64_t *)b;
  const pmr_kv_list *l = s->l;
  const void *ik = l->keys + l->key_offsets[i],
             *jk = l->keys + l->key_offsets[j];
  size_t il = (size_t)(l->key_offsets[i + 1] - l->key_offsets[i]),
         jl = (size_t)(l->key_offsets[j + 1] - l->key_offsets[j]);
  if (s->by_value)
    return dp_cmp_pair(ik, il, l->values + i * l->value_size, jk, jl,
                       l->values + j * l->value_size, (void *)s->w);
  int c = memcmp(ik, jk, il < jl ? il : jl);
  return c ? c : (il > jl) - (il < jl);
}

static void dp_print(const pmr_kv_list *l, const uint64_t *order,
                     const dp_what *w) {
  for (uint64_t r = 0; r < l->n; r++) {
    uint64_t i = order ? order[r] : r;
    const uint8_t *k = l->keys + l->key_offsets[i];
    size_t kl = (size_t)(l->key_offsets[i + 1] - l->key_offsets[i]);
    if (w->rows) {
      uint64_t at = 0;
      for (size_t b = 0; b < kl; b++)
        at = at << 8 | k[b];
      printf("%llu", (unsigned long long)at);
    } else {
      fwrite(k, 1, kl, stdout);
    }
    putchar('\t');
    const uint8_t *v = l->values + i * l->value_size;
    if (w->hex) {
      for (size_t b = 0; b < l->value_size; b++)
        printf("%02x", v[b]);
    } else {
      for (uint64_t j = 0; j < w->cols; j++) {
        dp_num n = dp_elem(w, v, j);
        if (j)
          putchar('\t');
        if (w->flt)
          printf(w->fsize == 4 ? "%.9g" : "%.17g", n.d);
        else if (w->sign)
          printf("%lld", (long long)n.i);
        else
          printf("%llu", (unsigned long long)n.u);
      }
    }
    putchar('\n');
  }
}

int h5_dump_main(int argc, char **argv) {
  dp_opts o = {0, 0};
  pmr_cli_app app = {
      .name = "h5 dump",
      .summary =
          "Print a pmr result as text on stdout: a key/value group as "
          "\"key<TAB>value\" lines\n(keys as their raw bytes; uint8 [n, m] "
          "values in hex, as --text writes them;\nseveral values per key "
          "separated by tabs), a dense group or a numeric 1-D or\n2-D "
          "dataset as \"row<TAB>values\" lines. FILE.h5 alone: its one "
          "key/value group.\nRead in parallel over the ranks; printed by "
          "rank 0, which must hold what is\nprinted (at most 2 GiB).",
      .options_help =
          "      --top N          only the N rows with the largest values "
          "(ties by key)\n"
          "      --sort ORDER     key (key bytes, or row index; the default) "
          "or value\n"
          "                       (largest first; the default with --top)\n",
      .longopts = dp_longopts,
      .on_option = dp_option,
      .user = &o,
      .output_optional = 1,
      .usage = "[options] FILE.h5[:/GROUP]",
  };
  if (pmr_cli_early(&app, argc - 1, argv + 1))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc - 1, argv + 1);
  if (prc == PMR_CLI_RUN && cli.output) {
    pmr_cli_error(&cli, "dump prints to stdout: leave out -o (see --help)");
    prc = PMR_CLI_USAGE;
  }
  if (prc == PMR_CLI_RUN && cli.ninputs != 1) {
    pmr_cli_error(&cli, "give one FILE.h5[:/GROUP] to dump, not %d "
                        "(see --help)", cli.ninputs);
    prc = PMR_CLI_USAGE;
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  const char *spec = cli.inputs[0];
  char *file = NULL, *obj = NULL, msg[1200] = "";
  pmr_ctx *ctx = NULL;
  pmr_kv *kv = NULL;
  pmr_kv_list *list = NULL;
  uint64_t *order = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  MPI_Comm comm = pmr_ctx_comm(ctx);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

  if (strstr(spec, ":/"))
    rc = pmr_h5_spec(spec, &file, &obj);
  else
    rc = (file = strdup(spec)) ? PMR_OK : PMR_ENOMEM;
  if (rc)
    snprintf(msg, sizeof msg, "bad result name '%s': %s", spec,
             pmr_strerror(rc));

  dp_what w;
  memset(&w, 0, sizeof w);
  if (!rc && cli.rank == 0)
    dp_probe(file, obj, &w, msg, sizeof msg);
  if (!rc) {
    MPI_Bcast(&w, (int)sizeof w, MPI_BYTE, 0, comm);
    rc = w.rc;
  }
  pmr_result_info info;
  char *rspec = NULL;
  if (!rc && !w.rows) {
    rc = pmr_result_describe(ctx, file, obj, &info);
    if (!rc && cli.rank == 0) {
      char vpath[300];
      snprintf(vpath, sizeof vpath, "%s%svalues", info.group,
               info.group[strlen(info.group) - 1] == '/' ? "" : "/");
      dp_probe_type(file, vpath, &w);
      w.esize = w.fsize;
      w.cols = w.esize ? info.value_size / (size_t)w.esize : 1;
      w.hex = info.dtype == PMR_BYTES;
    }
    if (!rc)
      MPI_Bcast(&w, (int)sizeof w, MPI_BYTE, 0, comm);
    if (!rc)
      rc = pmr_kv_create_user(ctx, info.value_size, PMR_BYTES, dp_keep, NULL,
                              &kv);
    if (!rc)
      rc = pmr_map_result(ctx, (const char *const *)&file, 1, info.group, dp_pair,
                          NULL, kv);
  } else if (!rc) {
    int nd;
    uint64_t dims[2];
    size_t len = strlen(file) + strlen(w.dataset) + 2;
    rspec = malloc(len);
    rc = rspec ? PMR_OK : PMR_ENOMEM;
    if (!rc) {
      snprintf(rspec, len, "%s:%s", file, w.dataset);
      rc = pmr_h5_shape(ctx, rspec, &nd, dims);
    }
    if (!rc && cli.rank == 0)
      dp_probe_type(file, w.dataset, &w);
    if (!rc) {
      MPI_Bcast(&w, (int)sizeof w, MPI_BYTE, 0, comm);
      w.esize = 8;
      w.sign = 1;
      w.cols = nd == 2 ? dims[1] : 1;
      if (w.cols > 4096 / 8) {
        snprintf(msg, sizeof msg,
                 "'%s' has %llu values per row: pmr-h5 dump prints rows of "
                 "at most 512",
                 rspec, (unsigned long long)w.cols);
        rc = PMR_EINVAL;
      }
    }
    if (!rc)
      rc = pmr_kv_create_user(ctx, 8 * w.cols, PMR_BYTES, dp_keep, NULL, &kv);
    if (!rc)
      rc = pmr_map_h5(ctx, (const char *const *)&rspec, 1,
                      w.flt ? PMR_FLOAT64 : PMR_INT64, 0, dp_row, NULL, kv);
  }
  if (!rc)
    rc = pmr_kv_reduce(kv);
  int by_value = o.sort ? o.sort == 'v' : o.top > 0;
  if (!rc && o.top)
    rc = pmr_kv_top(kv, (uint64_t)o.top, dp_cmp_pair, &w, 0, &list);
  else if (!rc)
    rc = pmr_kv_gather(kv, 0, &list);
  if (!rc && cli.rank == 0) {
    /* top comes by value, gather by key: re-sort only the other way. */
    if (by_value != (o.top > 0) && list->n) {
      order = malloc(list->n * sizeof *order);
      if (!order) {
        snprintf(msg, sizeof msg, "out of memory sorting %llu rows",
                 (unsigned long long)list->n);
        rc = PMR_ENOMEM;
      } else {
        for (uint64_t i = 0; i < list->n; i++)
          order[i] = i;
        dp_sort s = {list, &w, by_value};
        qsort_r(order, list->n, sizeof *order, dp_cmp_index, &s);
      }
    }
    if (!rc)
      dp_print(list, order, &w);
  }
  fflush(stdout);
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, comm);
  if (rc)
    pmr_cli_error(&cli, "%s",
                  *msg               ? msg
                  : *pmr_errmsg(ctx) ? pmr_errmsg(ctx)
                                     : pmr_strerror(rc));
  if (!rc && pmr_cli_stats(&cli, ctx, 1))
    rc = PMR_EIO; /* the message is printed */
  free(order);
  free(rspec);
  free(file);
  free(obj);
  pmr_kv_list_free(&list);
  pmr_kv_destroy(&kv);
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
