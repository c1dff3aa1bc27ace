/* pmr-h5 info: what an HDF5 file holds, group by group.
 *
 * Rank 0 walks the file with serial HDF5 calls and prints; every key/value
 * group is also checked with pmr_result_describe (collective: all ranks call
 * it for the same groups in the same order), so "readable" means what
 * pmr_map_result and pmr-merge will say. Output, one block per group:
 *
 *   out.h5: HDF5 file, 21.3 KiB, 1 group, 3 datasets
 *   /wordcount: key/value result, readable: 2899 pairs, 20.1 KiB of keys, ...
 *     keys          uint8 [20574]  20.1 KiB
 *     @app          "wordcount"
 *
 * Attribute values are printed as JSON (strings quoted, arrays in [ ]). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pmr.h>

#include "cli.h"
#include "h5app.h"

#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t h5_linfo;
#define h5_literate H5Literate2
#else
typedef H5L_info_t h5_linfo;
#define h5_literate H5Literate
#endif

enum { H5_MAX_DEPTH = 64, H5_ATTR_SHOWN = 16 };

void h5_human(uint64_t bytes, char *buf, size_t n) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) {
    snprintf(buf, n, "%llu B", (unsigned long long)bytes);
    return;
  }
  double v = (double)bytes / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    u++;
  }
  snprintf(buf, n, "%.1f %s", v, units[u]);
}

void h5_type_name(hid_t t, char *buf, size_t n) {
  size_t sz = H5Tget_size(t);
  switch (H5Tget_class(t)) {
  case H5T_INTEGER:
    snprintf(buf, n, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "",
             sz * 8);
    break;
  case H5T_FLOAT:
    snprintf(buf, n, "float%zu", sz * 8);
    break;
  case H5T_STRING:
    snprintf(buf, n, "string");
    break;
  case H5T_COMPOUND:
    snprintf(buf, n, "compound");
    break;
  case H5T_ENUM:
    snprintf(buf, n, "enum");
    break;
  default:
    snprintf(buf, n, "%zu-byte", sz);
  }
}

/* ---- the walk (rank 0) ---- */

/* Group paths in the order met: "/" first, then depth first by name. */
typedef struct h5_groups {
  char **path;
  int n, cap;
  int datasets;
  int depth;
  const char *prefix; /* the group being listed */
} h5_groups;

static int h5_add(h5_groups *g, const char *path) {
  if (g->n == g->cap) {
    int cap = g->cap ? 2 * g->cap : 16;
    char **p = realloc(g->path, (size_t)cap * sizeof *p);
    if (!p)
      return -1;
    g->path = p;
    g->cap = cap;
  }
  return (g->path[g->n] = strdup(path)) ? g->n++, 0 : -1;
}

static herr_t h5_walk_cb(hid_t loc, const char *name, const h5_linfo *li,
                         void *data);

static int h5_walk(hid_t f, h5_groups *g, const char *path) {
  if (h5_add(g, path) || g->depth >= H5_MAX_DEPTH)
    return g->depth >= H5_MAX_DEPTH ? 0 : -1;
  hid_t grp = H5Gopen2(f, path, H5P_DEFAULT);
  if (grp < 0)
    return 0;
  const char *saved = g->prefix;
  g->prefix = path;
  g->depth++;
  hsize_t idx = 0;
  herr_t e = h5_literate(grp, H5_INDEX_NAME, H5_ITER_INC, &idx, h5_walk_cb, g);
  g->depth--;
  g->prefix = saved;
  H5Gclose(grp);
  return e < 0 ? -1 : 0;
}

static herr_t h5_walk_cb(hid_t loc, const char *name, const h5_linfo *li,
                         void *data) {
  h5_groups *g = data;
  if (li->type != H5L_TYPE_HARD)
    return 0;
  hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
  if (o < 0)
    return 0;
  H5I_type_t t = H5Iget_type(o);
  H5Oclose(o);
  if (t == H5I_DATASET) {
    g->datasets++;
    return 0;
  }
  if (t != H5I_GROUP)
    return 0;
  size_t len = strlen(g->prefix) + strlen(name) + 2;
  char *p = malloc(len);
  if (!p)
    return -1;
  snprintf(p, len, "%s%s%s", g->prefix,
           g->prefix[strlen(g->prefix) - 1] == '/' ? "" : "/", name);
  int rc = h5_walk(loc, g, p);
  free(p);
  return rc;
}

/* ---- printing ---- */

static void h5_json_str(FILE *fp, const char *s, size_t len) {
  fputc('"', fp);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      fprintf(fp, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", fp);
    else if (c == '\t')
      fputs("\\t", fp);
    else if (c < 0x20 || c == 0x7f)
      fprintf(fp, "\\u%04x", c);
    else
      fputc(c, fp);
  }
  fputc('"', fp);
}

/* One attribute's value, as JSON. */
static void h5_attr_value(FILE *fp, hid_t a) {
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  char tn[32];
  h5_type_name(t, tn, sizeof tn);
  hssize_t np = H5Sget_simple_extent_npoints(s);
  int ndims = H5Sget_simple_extent_ndims(s);
  size_t n = np > 0 ? (size_t)np : 0;
  H5T_class_t cls = H5Tget_class(t);
  int ok = 0;
  if (cls == H5T_STRING && H5Tis_variable_str(t) > 0) {
    char **v = calloc(n ? n : 1, sizeof *v);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    if (v && H5Aread(a, mt, v) >= 0) {
      ok = 1;
      fputs(ndims ? "[" : "", fp);
      for (size_t i = 0; i < n && i < H5_ATTR_SHOWN; i++) {
        fputs(i ? ", " : "", fp);
        h5_json_str(fp, v[i] ? v[i] : "", v[i] ? strlen(v[i]) : 0);
      }
      H5Dvlen_reclaim(mt, s, H5P_DEFAULT, v);
    }
    H5Tclose(mt);
    free(v);
  } else if (cls == H5T_STRING) {
    size_t sz = H5Tget_size(t);
    char *v = calloc(n ? n : 1, sz);
    hid_t mt = H5Tcopy(t);
    if (v && H5Aread(a, mt, v) >= 0) {
      ok = 1;
      fputs(ndims ? "[" : "", fp);
      for (size_t i = 0; i < n && i < H5_ATTR_SHOWN; i++) {
        const char *e = v + i * sz;
        fputs(i ? ", " : "", fp);
        h5_json_str(fp, e, strnlen(e, sz));
      }
    }
    H5Tclose(mt);
    free(v);
  } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
    int uns = cls == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE;
    hid_t mt = cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE
               : uns            ? H5T_NATIVE_UINT64
                                : H5T_NATIVE_INT64;
    void *v = calloc(n ? n : 1, 8);
    if (v && H5Aread(a, mt, v) >= 0) {
      ok = 1;
      fputs(ndims ? "[" : "", fp);
      for (size_t i = 0; i < n && i < H5_ATTR_SHOWN; i++) {
        fputs(i ? ", " : "", fp);
        if (cls == H5T_FLOAT)
          fprintf(fp, "%.17g", ((double *)v)[i]);
        else if (uns)
          fprintf(fp, "%llu", (unsigned long long)((uint64_t *)v)[i]);
        else
          fprintf(fp, "%lld", (long long)((int64_t *)v)[i]);
      }
    }
    free(v);
  }
  if (ok && ndims) {
    if (n > H5_ATTR_SHOWN)
      fprintf(fp, ", ...");
    fputc(']', fp);
    if (n > H5_ATTR_SHOWN)
      fprintf(fp, "  (%zu values)", n);
  }
  if (!ok)
    fprintf(fp, "(%s, not shown)", tn);
  H5Tclose(t);
  H5Sclose(s);
}

typedef struct h5_attr_ctx {
  FILE *fp;
  hid_t obj;
} h5_attr_ctx;

static herr_t h5_attr_cb(hid_t obj, const char *name, const H5A_info_t *ai,
                         void *data) {
  h5_attr_ctx *c = data;
  (void)ai;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0)
    return 0;
  fprintf(c->fp, "  @%-14s ", name);
  h5_attr_value(c->fp, a);
  fputc('\n', c->fp);
  H5Aclose(a);
  return 0;
}

typedef struct h5_ds_ctx {
  FILE *fp;
} h5_ds_ctx;

static void h5_ds_shape(hid_t d, char *buf, size_t n, uint64_t *rows,
                        uint64_t *cols) {
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  hsize_t dims[H5S_MAX_RANK];
  int nd = H5Sget_simple_extent_dims(s, dims, NULL);
  char tn[32];
  h5_type_name(t, tn, sizeof tn);
  int len = snprintf(buf, n, "%s [", tn);
  for (int i = 0; i < nd && len > 0 && (size_t)len < n; i++)
    len += snprintf(buf + len, n - (size_t)len, "%s%llu", i ? ", " : "",
                    (unsigned long long)dims[i]);
  if (len > 0 && (size_t)len < n)
    snprintf(buf + len, n - (size_t)len, "]");
  if (rows)
    *rows = nd > 0 ? dims[0] : 1;
  if (cols)
    *cols = nd > 1 ? dims[1] : 1;
  H5Tclose(t);
  H5Sclose(s);
}

static herr_t h5_ds_cb(hid_t g, const char *name, const h5_linfo *li,
                       void *data) {
  h5_ds_ctx *c = data;
  if (li->type != H5L_TYPE_HARD)
    return 0;
  hid_t o = H5Oopen(g, name, H5P_DEFAULT);
  if (o < 0)
    return 0;
  if (H5Iget_type(o) == H5I_DATASET) {
    char shape[160], size[32];
    h5_ds_shape(o, shape, sizeof shape, NULL, NULL);
    h5_human(H5Dget_storage_size(o), size, sizeof size);
    fprintf(c->fp, "  %-15s %s  %s\n", name, shape, size);
  }
  H5Oclose(o);
  return 0;
}

/* A string attribute of a group, "" when absent or not a string. */
static void h5_attr_str(hid_t g, const char *name, char *buf, size_t n) {
  buf[0] = '\0';
  if (H5Aexists(g, name) <= 0)
    return;
  hid_t a = H5Aopen(g, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  if (H5Tget_class(t) == H5T_STRING) {
    char *f = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&f, &len);
    if (m) {
      h5_attr_value(m, a);
      fclose(m);
      if (len >= 2 && f[0] == '"')
        snprintf(buf, n, "%.*s", (int)(len - 2), f + 1);
      free(f);
    }
  }
  H5Tclose(t);
  H5Aclose(a);
}

/* The kind of a group, decided on rank 0: 'k' key/value (a `keys`
 * dataset, or layout "kv"), 'd' dense (layout "dense"), '-' other. */
static char h5_kind(hid_t f, const char *path) {
  hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
  if (g < 0)
    return '-';
  char layout[32];
  h5_attr_str(g, "layout", layout, sizeof layout);
  char k = !strcmp(layout, "dense") ? 'd'
           : !strcmp(layout, "kv") || H5Lexists(g, "keys", H5P_DEFAULT) > 0
               ? 'k'
               : '-';
  H5Gclose(g);
  return k;
}

static const char *h5_dtype_name(int dtype) {
  return dtype == PMR_INT64     ? "int64"
         : dtype == PMR_FLOAT64 ? "float64"
         : dtype == PMR_BYTES   ? "bytes"
                                : "other numbers";
}

/* Rank 0: one group's block. `described`: 1 readable (info), 0 not (msg). */
static void h5_print_group(FILE *fp, hid_t f, const char *path, char kind,
                           int readable, const pmr_result_info *info,
                           const char *msg) {
  hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
  if (g < 0)
    return;
  fprintf(fp, "%s: ", path);
  if (kind == 'k' && readable) {
    char kb[32];
    h5_human(info->key_bytes, kb, sizeof kb);
    fprintf(fp, "key/value result, readable: %llu pairs, %s of keys, "
                "values %s",
            (unsigned long long)info->pairs, kb, h5_dtype_name(info->dtype));
    if (info->dtype == PMR_BYTES)
      fprintf(fp, " [%zu]", info->value_size);
    if (*info->combiner)
      fprintf(fp, ", combiner %s", info->combiner);
    fprintf(fp, "\n");
  } else if (kind == 'k') {
    fprintf(fp, "key/value result, not readable: %s\n", msg);
  } else if (kind == 'd') {
    uint64_t cells = 0, width = 1;
    char shape[160] = "";
    if (H5Lexists(g, "values", H5P_DEFAULT) > 0) {
      hid_t d = H5Dopen2(g, "values", H5P_DEFAULT);
      if (d >= 0) {
        h5_ds_shape(d, shape, sizeof shape, &cells, &width);
        H5Dclose(d);
      }
    }
    fprintf(fp, "dense result: %llu cells of %llu value%s\n",
            (unsigned long long)cells, (unsigned long long)width,
            width == 1 ? "" : "s");
  } else {
    H5G_info_t gi;
    int n = H5Gget_info(g, &gi) >= 0 ? (int)gi.nlinks : 0;
    fprintf(fp, "group of %d object%s\n", n, n == 1 ? "" : "s");
  }
  h5_ds_ctx dc = {fp};
  hsize_t idx = 0;
  h5_literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, h5_ds_cb, &dc);
  h5_attr_ctx ac = {fp, g};
  idx = 0;
  H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, h5_attr_cb, &ac);
  H5Gclose(g);
}

/* Rank 0: can the file be read as HDF5? A message when not. */
static int h5_open_check(const char *path, char *msg, size_t n) {
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(msg, n, "cannot open '%s': %s", path, strerror(errno));
    return PMR_ENOENT;
  }
  if (S_ISDIR(st.st_mode)) {
    snprintf(msg, n, "cannot read '%s': Is a directory", path);
    return PMR_EISDIR;
  }
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    snprintf(msg, n, "cannot open '%s': %s", path, strerror(errno));
    return PMR_EACCES;
  }
  fclose(fp);
#if H5_VERSION_GE(1, 12, 0)
  htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
  htri_t is = H5Fis_hdf5(path);
#endif
  if (is <= 0) {
    snprintf(msg, n, "'%s' is not an HDF5 file", path);
    return PMR_EINVAL;
  }
  return PMR_OK;
}

/* One file: every rank calls it. Returns 0 or 1 (message printed). */
static int h5_info_file(pmr_cli *cli, pmr_ctx *ctx, const char *path) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  char msg[1024] = "";
  h5_groups gs = {0};
  hid_t f = -1;
  char *names = NULL; /* kind byte + path + NUL, for each group */
  int len = 0, rc = 0;
  if (cli->rank == 0) {
    rc = h5_open_check(path, msg, sizeof msg);
    if (!rc && (f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
      snprintf(msg, sizeof msg, "cannot open '%s' (HDF5)", path);
      rc = PMR_EHDF5;
    }
    if (!rc && h5_walk(f, &gs, "/")) {
      snprintf(msg, sizeof msg, "cannot read '%s': out of memory", path);
      rc = PMR_ENOMEM;
    }
    for (int i = 0; !rc && i < gs.n; i++)
      len += (int)strlen(gs.path[i]) + 2;
    names = malloc(len ? (size_t)len : 1);
    if (!rc && !names) {
      snprintf(msg, sizeof msg, "out of memory");
      rc = PMR_ENOMEM;
    }
    for (int i = 0, at = 0; !rc && i < gs.n; i++) {
      names[at] = h5_kind(f, gs.path[i]);
      at += 1 + sprintf(names + at + 1, "%s", gs.path[i]) + 1;
    }
  }
  int head[2] = {rc, len};
  MPI_Bcast(head, 2, MPI_INT, 0, comm);
  if (head[0]) {
    pmr_cli_error(cli, "%s", msg);
    goto done;
  }
  if (cli->rank != 0 && !(names = malloc((size_t)head[1] + 1))) {
    fprintf(stderr, "%s: out of memory\n", cli->prog);
    MPI_Abort(comm, 1);
  }
  MPI_Bcast(names, head[1], MPI_BYTE, 0, comm);
  if (cli->rank == 0) {
    struct stat st;
    char size[32];
    h5_human(stat(path, &st) == 0 ? (uint64_t)st.st_size : 0, size,
             sizeof size);
    printf("%s: HDF5 file, %s, %d group%s, %d dataset%s\n", path, size,
           gs.n, gs.n == 1 ? "" : "s", gs.datasets,
           gs.datasets == 1 ? "" : "s");
  }
  for (int at = 0; at < head[1];) {
    char kind = names[at];
    const char *gpath = names + at + 1;
    at += (int)strlen(gpath) + 2;
    pmr_result_info info;
    int drc = kind == 'k' ? pmr_result_describe(ctx, path, gpath, &info) : 0;
    if (cli->rank == 0)
      h5_print_group(stdout, f, gpath, kind, drc == 0, &info,
                     drc ? pmr_errmsg(ctx) : "");
  }
done:
  if (f >= 0)
    H5Fclose(f);
  for (int i = 0; i < gs.n; i++)
    free(gs.path[i]);
  free(gs.path);
  free(names);
  fflush(stdout);
  return head[0] ? 1 : 0;
}

int h5_info_main(int argc, char **argv) {
  pmr_cli_app app = {
      .name = "h5 info",
      .summary = "Describe pmr results: every group of each FILE with its "
                 "layout, datasets (type,\nshape, size on disk) and "
                 "attributes (as JSON), and for key/value groups\nwhether "
                 "pmr can read them (pmr_map_result, pmr-merge, pmr-h5 dump) "
                 "or why not.",
      .usage = "[options] FILE.h5...",
      .output_optional = 1,
  };
  if (pmr_cli_early(&app, argc - 1, argv + 1))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc - 1, argv + 1);
  if (prc == PMR_CLI_RUN && cli.output) {
    pmr_cli_error(&cli, "info writes no file: leave out -o (see --help)");
    prc = PMR_CLI_USAGE;
  }
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);
  pmr_ctx *ctx = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  /* The walk reads what may be absent: HDF5's own error stack stays quiet. */
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  int status = 0;
  for (int i = 0; i < cli.ninputs && !status; i++) {
    if (i && cli.rank == 0)
      printf("\n");
    status = h5_info_file(&cli, ctx, cli.inputs[i]);
  }
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, status);
}
