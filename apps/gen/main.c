/* pmr-gen: deterministic parallel data generators.
 *
 *   mpirun -np 4 pmr-gen text -s 1G -o corpus.txt
 *   mpirun -np 4 pmr-gen points -n 10M -d 3 -k 100 -o blobs.h5
 *   mpirun -np 4 pmr-gen signal -n 1G --phi 0.95 -o ar1.h5
 *   mpirun -np 4 pmr-gen numbers -n 1G --dist lognormal -o x.h5
 *   mpirun -np 4 pmr-gen records -n 10M -o records.dat
 *   mpirun -np 4 pmr-gen graph --scale 20 --edge-factor 16 -o rmat.h5
 *
 * Every value is a function of the seed and its index alone (counter-based
 * random numbers, rng.h), so the output is the same, bit for bit, at any
 * rank and thread count. Arrays go to HDF5 with each rank writing its
 * contiguous rows; text and records are written by MPI-IO, each rank its
 * part. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pmr.h>

#include "cli.h"
#include "gen.h"

/* Options given on the command line, to refuse those of another kind. */
enum {
  GIVEN_SIZE = 1 << 0,
  GIVEN_COUNT = 1 << 1,
  GIVEN_VOCAB = 1 << 2,
  GIVEN_EXPONENT = 1 << 3,
  GIVEN_DIM = 1 << 4,
  GIVEN_K = 1 << 5,
  GIVEN_SPREAD = 1 << 6,
  GIVEN_BOX = 1 << 7,
  GIVEN_NO_LABELS = 1 << 8,
  GIVEN_DIST = 1 << 9,
  GIVEN_LOW = 1 << 10,
  GIVEN_HIGH = 1 << 11,
  GIVEN_MEAN = 1 << 12,
  GIVEN_STD = 1 << 13,
  GIVEN_TYPE = 1 << 14,
  GIVEN_MODEL = 1 << 15,
  GIVEN_PHI = 1 << 16,
  GIVEN_SIGMA = 1 << 17,
  GIVEN_FREQS = 1 << 18,
  GIVEN_AMPS = 1 << 19,
  GIVEN_PHASES = 1 << 20,
  GIVEN_SCALE = 1 << 21,
  GIVEN_EDGE_FACTOR = 1 << 22,
  GIVEN_TEXT = 1 << 23
};

typedef struct gen_cli {
  gen_opts o;
  unsigned given;
  const char *low_arg, *high_arg; /* parsed once the distribution is known */
  int namps, nphases;
  int type_given;
} gen_cli;

enum {
  OPT_SPREAD = 0x2000,
  OPT_BOX,
  OPT_NO_LABELS,
  OPT_DIST,
  OPT_LOW,
  OPT_HIGH,
  OPT_MEAN,
  OPT_STD,
  OPT_TYPE,
  OPT_MODEL,
  OPT_PHI,
  OPT_SIGMA,
  OPT_FREQS,
  OPT_AMPS,
  OPT_PHASES,
  OPT_SCALE,
  OPT_EDGE_FACTOR,
  OPT_TEXT
};

static const struct option gen_longopts[] = {
    {"size", required_argument, NULL, 's'},
    {"count", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, 'S'},
    {"vocab", required_argument, NULL, 'V'},
    {"exponent", required_argument, NULL, 'e'},
    {"dim", required_argument, NULL, 'd'},
    {"centres", required_argument, NULL, 'k'},
    {"spread", required_argument, NULL, OPT_SPREAD},
    {"box", required_argument, NULL, OPT_BOX},
    {"no-labels", no_argument, NULL, OPT_NO_LABELS},
    {"dist", required_argument, NULL, OPT_DIST},
    {"low", required_argument, NULL, OPT_LOW},
    {"high", required_argument, NULL, OPT_HIGH},
    {"mean", required_argument, NULL, OPT_MEAN},
    {"std", required_argument, NULL, OPT_STD},
    {"sigma", required_argument, NULL, OPT_SIGMA},
    {"type", required_argument, NULL, OPT_TYPE},
    {"model", required_argument, NULL, OPT_MODEL},
    {"phi", required_argument, NULL, OPT_PHI},
    {"freqs", required_argument, NULL, OPT_FREQS},
    {"amps", required_argument, NULL, OPT_AMPS},
    {"phases", required_argument, NULL, OPT_PHASES},
    {"scale", required_argument, NULL, OPT_SCALE},
    {"edge-factor", required_argument, NULL, OPT_EDGE_FACTOR},
    {"text", no_argument, NULL, OPT_TEXT},
    {0}};

static const char *const kind_names[] = {"text",    "points", "signal",
                                         "numbers", "records", "graph"};
#define NKINDS 6
static const char *const dist_names[] = {"uniform", "normal", "lognormal",
                                         "integers"};

/* --- option values -------------------------------------------------------- */

static int bad(pmr_cli *cli, const char *opt, const char *arg,
               const char *need) {
  pmr_cli_error(cli, "invalid value '%s' for %s: %s (see --help)", arg, opt,
                need);
  return PMR_CLI_USAGE;
}

/* A count: digits, optionally with a binary unit (1M = 1048576), from 1 to
 * `max` (`maxs` in words). */
static int parse_count(pmr_cli *cli, const char *opt, const char *arg,
                       uint64_t max, const char *maxs, uint64_t *out) {
  size_t v;
  if (pmr_parse_size(arg, &v) != PMR_OK || v < 1 || (uint64_t)v > max) {
    char need[96];
    snprintf(need, sizeof need,
             "need a whole number from 1 to %s (K, M, G, T: binary units)",
             maxs);
    return bad(cli, opt, arg, need);
  }
  *out = (uint64_t)v;
  return 0;
}

static int parse_double(pmr_cli *cli, const char *opt, const char *arg,
                        double lo, double hi, int open, double *out) {
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  int ok = *arg && !*end && !errno && isfinite(v) &&
           (open ? v > lo && v < hi : v >= lo && v <= hi);
  if (!ok) {
    char need[128];
    if (isinf(lo) && isinf(hi))
      snprintf(need, sizeof need, "need a finite number");
    else if (isinf(hi))
      snprintf(need, sizeof need, "need a finite number %s %g",
               open ? ">" : ">=", lo);
    else
      snprintf(need, sizeof need, "need a number %s %g %s %g",
               open ? "strictly between" : "from", lo, open ? "and" : "to", hi);
    return bad(cli, opt, arg, need);
  }
  *out = v;
  return 0;
}

static int parse_int64(const char *arg, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(arg, &end, 10);
  if (!*arg || *end || errno)
    return -1;
  *out = v;
  return 0;
}

/* A comma-separated list of finite numbers. Returns the count, or -1. */
static int parse_list(const char *arg, double *out, int max) {
  int n = 0;
  const char *p = arg;
  for (;;) {
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno || !isfinite(v) || n == max)
      return -1;
    out[n++] = v;
    if (*end == '\0')
      return n;
    if (*end != ',')
      return -1;
    p = end + 1;
  }
}

static int pick(const char *arg, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(arg, names[i]))
      return i;
  return -1;
}

static int gen_option(pmr_cli *cli, int opt, const char *arg, void *user) {
  gen_cli *g = user;
  gen_opts *o = &g->o;
  int i;
  switch (opt) {
  case 's': {
    size_t v;
    if (pmr_parse_size(arg, &v) != PMR_OK || v < 1)
      return bad(cli, "--size", arg,
                 "need a size of at least 1 byte, e.g. 256M or 4G");
    o->bytes = (uint64_t)v;
    g->given |= GIVEN_SIZE;
    return 0;
  }
  case 'n':
    g->given |= GIVEN_COUNT;
    return parse_count(cli, "--count", arg, (uint64_t)1 << 60, "2^60", &o->n);
  case 'S': {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 0);
    if (!*arg || *end || errno || *arg == '-' || v > (uint64_t)INT64_MAX)
      return bad(cli, "--seed", arg, "need a whole number from 0 to 2^63-1");
    o->seed = v;
    return 0;
  }
  case 'V':
    g->given |= GIVEN_VOCAB;
    return parse_count(cli, "--vocab", arg, 100000000, "100000000", &o->vocab);
  case 'e':
    g->given |= GIVEN_EXPONENT;
    return parse_double(cli, "--exponent", arg, 0, 100, 0, &o->exponent);
  case 'd':
    g->given |= GIVEN_DIM;
    return parse_count(cli, "--dim", arg, 1 << 20, "2^20", &o->dim);
  case 'k':
    g->given |= GIVEN_K;
    return parse_count(cli, "--centres", arg, INT32_MAX, "2^31-1", &o->k);
  case OPT_SPREAD:
    g->given |= GIVEN_SPREAD;
    return parse_double(cli, "--spread", arg, 0, INFINITY, 0, &o->spread);
  case OPT_BOX:
    g->given |= GIVEN_BOX;
    return parse_double(cli, "--box", arg, 0, INFINITY, 0, &o->box);
  case OPT_NO_LABELS:
    g->given |= GIVEN_NO_LABELS;
    o->labels = 0;
    return 0;
  case OPT_DIST:
    if ((i = pick(arg, dist_names, 4)) < 0)
      return bad(cli, "--dist", arg,
                 "use uniform, normal, lognormal or integers");
    o->dist = (gen_dist)i;
    g->given |= GIVEN_DIST;
    return 0;
  case OPT_LOW:
    g->low_arg = arg;
    g->given |= GIVEN_LOW;
    return 0;
  case OPT_HIGH:
    g->high_arg = arg;
    g->given |= GIVEN_HIGH;
    return 0;
  case OPT_MEAN:
    g->given |= GIVEN_MEAN;
    return parse_double(cli, "--mean", arg, -INFINITY, INFINITY, 0, &o->mean);
  case OPT_STD:
    g->given |= GIVEN_STD;
    return parse_double(cli, "--std", arg, 0, INFINITY, 0, &o->std);
  case OPT_TYPE: {
    static const char *const types[] = {"float64", "float32", "int64", "int32"};
    static const pmr_dtype dt[] = {PMR_FLOAT64, PMR_FLOAT32, PMR_INT64,
                                   PMR_INT32};
    if ((i = pick(arg, types, 4)) < 0)
      return bad(cli, "--type", arg, "use float64, float32, int64 or int32");
    o->type = dt[i];
    g->given |= GIVEN_TYPE;
    return 0;
  }
  case OPT_MODEL: {
    static const char *const models[] = {"ar1", "sines"};
    if ((i = pick(arg, models, 2)) < 0)
      return bad(cli, "--model", arg, "use ar1 or sines");
    o->model = (gen_model)i;
    g->given |= GIVEN_MODEL;
    return 0;
  }
  case OPT_PHI:
    g->given |= GIVEN_PHI;
    return parse_double(cli, "--phi", arg, -1, 1, 1, &o->phi);
  case OPT_SIGMA:
    g->given |= GIVEN_SIGMA;
    return parse_double(cli, "--sigma", arg, 0, INFINITY, 0, &o->sigma);
  case OPT_SCALE: {
    uint64_t v;
    g->given |= GIVEN_SCALE;
    if (parse_count(cli, "--scale", arg, 62, "62", &v))
      return PMR_CLI_USAGE;
    o->scale = (int)v;
    return 0;
  }
  case OPT_EDGE_FACTOR:
    g->given |= GIVEN_EDGE_FACTOR;
    return parse_count(cli, "--edge-factor", arg, (uint64_t)1 << 20, "2^20",
                       &o->edge_factor);
  case OPT_TEXT:
    g->given |= GIVEN_TEXT;
    o->text = 1;
    return 0;
  case OPT_FREQS:
  case OPT_AMPS:
  case OPT_PHASES: {
    double *to = opt == OPT_FREQS  ? o->freq
                 : opt == OPT_AMPS ? o->amp
                                   : o->phase;
    const char *name = opt == OPT_FREQS  ? "--freqs"
                       : opt == OPT_AMPS ? "--amps"
                                         : "--phases";
    int n = parse_list(arg, to, GEN_MAX_SINES);
    if (n < 0)
      return bad(cli, name, arg,
                 "need a comma-separated list of at most 64 finite numbers");
    if (opt == OPT_FREQS) {
      for (int j = 0; j < n; j++)
        if (to[j] < 0)
          return bad(cli, name, arg, "frequencies are cycles per sample, >= 0");
      o->nsines = n;
      g->given |= GIVEN_FREQS;
    } else if (opt == OPT_AMPS) {
      g->namps = n;
      g->given |= GIVEN_AMPS;
    } else {
      g->nphases = n;
      g->given |= GIVEN_PHASES;
    }
    return 0;
  }
  }
  return PMR_CLI_USAGE;
}

/* After parsing: the kind, options that belong to it, and the values that
 * depend on each other. */
static int gen_check(pmr_cli *cli, gen_cli *g) {
  gen_opts *o = &g->o;
  if (cli->ninputs == 0) {
    pmr_cli_error(cli, "no KIND: give text, points, signal, numbers, "
                       "records or graph (see --help)");
    return PMR_CLI_USAGE;
  }
  if (cli->ninputs != 1) {
    pmr_cli_error(cli,
                  "give one KIND (text, points, signal, numbers, "
                  "records or graph), "
                  "not %d arguments (see --help)",
                  cli->ninputs);
    return PMR_CLI_USAGE;
  }
  int k = pick(cli->inputs[0], kind_names, NKINDS);
  if (k < 0) {
    pmr_cli_error(cli,
                  "unknown KIND '%s': use text, points, signal, "
                  "numbers, records or graph (see --help)",
                  cli->inputs[0]);
    return PMR_CLI_USAGE;
  }
  o->kind = (gen_kind)k;
  static const struct {
    unsigned bit;
    const char *name;
    unsigned kinds; /* 1 << kind */
  } own[] = {
      {GIVEN_VOCAB, "--vocab", 1 << GEN_TEXT},
      {GIVEN_EXPONENT, "--exponent", 1 << GEN_TEXT},
      {GIVEN_COUNT, "--count",
       1 << GEN_POINTS | 1 << GEN_SIGNAL | 1 << GEN_NUMBERS |
           1 << GEN_RECORDS},
      {GIVEN_DIM, "--dim", 1 << GEN_POINTS},
      {GIVEN_K, "--centres", 1 << GEN_POINTS},
      {GIVEN_SPREAD, "--spread", 1 << GEN_POINTS},
      {GIVEN_BOX, "--box", 1 << GEN_POINTS},
      {GIVEN_NO_LABELS, "--no-labels", 1 << GEN_POINTS},
      {GIVEN_DIST, "--dist", 1 << GEN_NUMBERS},
      {GIVEN_LOW, "--low", 1 << GEN_NUMBERS},
      {GIVEN_HIGH, "--high", 1 << GEN_NUMBERS},
      {GIVEN_MEAN, "--mean", 1 << GEN_NUMBERS},
      {GIVEN_STD, "--std", 1 << GEN_NUMBERS},
      {GIVEN_TYPE, "--type", 1 << GEN_NUMBERS},
      {GIVEN_MODEL, "--model", 1 << GEN_SIGNAL},
      {GIVEN_PHI, "--phi", 1 << GEN_SIGNAL},
      {GIVEN_SIGMA, "--sigma", 1 << GEN_SIGNAL},
      {GIVEN_FREQS, "--freqs", 1 << GEN_SIGNAL},
      {GIVEN_AMPS, "--amps", 1 << GEN_SIGNAL},
      {GIVEN_PHASES, "--phases", 1 << GEN_SIGNAL},
      {GIVEN_SCALE, "--scale", 1 << GEN_GRAPH},
      {GIVEN_EDGE_FACTOR, "--edge-factor", 1 << GEN_GRAPH},
      {GIVEN_TEXT, "--text", 1 << GEN_GRAPH},
      {GIVEN_SIZE, "--size", ~(1u << GEN_GRAPH)},
  };
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if ((g->given & own[i].bit) && !(own[i].kinds & (1u << k))) {
      pmr_cli_error(cli, "%s does not apply to KIND %s (see --help)",
                    own[i].name, kind_names[k]);
      return PMR_CLI_USAGE;
    }

  if (o->kind == GEN_NUMBERS) {
    int ints = o->dist == GEN_INTEGERS;
    if (!(g->given & GIVEN_TYPE))
      o->type = ints ? PMR_INT64 : PMR_FLOAT64;
    if (ints != (o->type == PMR_INT64 || o->type == PMR_INT32)) {
      pmr_cli_error(cli,
                    "--type %s does not suit --dist %s: integers are "
                    "int64 or int32, the others float64 or float32 "
                    "(see --help)",
                    o->type == PMR_INT64     ? "int64"
                    : o->type == PMR_INT32   ? "int32"
                    : o->type == PMR_FLOAT32 ? "float32"
                                             : "float64",
                    dist_names[o->dist]);
      return PMR_CLI_USAGE;
    }
    if ((g->given & (GIVEN_MEAN | GIVEN_STD)) &&
        (o->dist == GEN_UNIFORM || ints)) {
      pmr_cli_error(cli, "--mean and --std apply to --dist normal and "
                         "lognormal (see --help)");
      return PMR_CLI_USAGE;
    }
    if ((g->given & (GIVEN_LOW | GIVEN_HIGH)) &&
        (o->dist == GEN_NORMAL || o->dist == GEN_LOGNORMAL)) {
      pmr_cli_error(cli, "--low and --high apply to --dist uniform and "
                         "integers (see --help)");
      return PMR_CLI_USAGE;
    }
    if (ints) {
      if (g->low_arg && parse_int64(g->low_arg, &o->ilow))
        return bad(cli, "--low", g->low_arg, "need a whole number (int64)");
      if (g->high_arg && parse_int64(g->high_arg, &o->ihigh))
        return bad(cli, "--high", g->high_arg, "need a whole number (int64)");
      if (o->ilow > o->ihigh) {
        pmr_cli_error(cli,
                      "--low %lld is above --high %lld: integers are "
                      "drawn from [low, high] (see --help)",
                      (long long)o->ilow, (long long)o->ihigh);
        return PMR_CLI_USAGE;
      }
      if (o->type == PMR_INT32 &&
          (o->ilow < INT32_MIN || o->ihigh > INT32_MAX)) {
        pmr_cli_error(cli, "--type int32 needs --low and --high within "
                           "[-2^31, 2^31-1] (see --help)");
        return PMR_CLI_USAGE;
      }
    } else if (o->dist == GEN_UNIFORM) {
      if (g->low_arg && parse_double(cli, "--low", g->low_arg, -INFINITY,
                                     INFINITY, 0, &o->low))
        return PMR_CLI_USAGE;
      if (g->high_arg && parse_double(cli, "--high", g->high_arg, -INFINITY,
                                      INFINITY, 0, &o->high))
        return PMR_CLI_USAGE;
      if (!(o->low < o->high) || !isfinite(o->high - o->low)) {
        pmr_cli_error(cli,
                      "--low %g must be below --high %g (and their "
                      "difference finite) (see --help)",
                      o->low, o->high);
        return PMR_CLI_USAGE;
      }
    }
  }
  if (o->kind == GEN_SIGNAL) {
    if (g->given & (GIVEN_FREQS | GIVEN_AMPS | GIVEN_PHASES))
      if (o->model != GEN_SINES) {
        pmr_cli_error(cli, "--freqs, --amps and --phases apply to --model "
                           "sines (see --help)");
        return PMR_CLI_USAGE;
      }
    if ((g->given & GIVEN_PHI) && o->model != GEN_AR1) {
      pmr_cli_error(cli, "--phi applies to --model ar1 (see --help)");
      return PMR_CLI_USAGE;
    }
    if (o->model == GEN_SINES) {
      if (!(g->given & GIVEN_FREQS)) {
        pmr_cli_error(cli, "--model sines needs --freqs F1,F2,... (cycles "
                           "per sample) (see --help)");
        return PMR_CLI_USAGE;
      }
      if ((g->given & GIVEN_AMPS) && g->namps != o->nsines) {
        pmr_cli_error(cli,
                      "--amps has %d values for %d frequencies (see "
                      "--help)",
                      g->namps, o->nsines);
        return PMR_CLI_USAGE;
      }
      if ((g->given & GIVEN_PHASES) && g->nphases != o->nsines) {
        pmr_cli_error(cli,
                      "--phases has %d values for %d frequencies (see "
                      "--help)",
                      g->nphases, o->nsines);
        return PMR_CLI_USAGE;
      }
      for (int i = 0; i < o->nsines; i++) {
        if (!(g->given & GIVEN_AMPS))
          o->amp[i] = 1.0;
        if (!(g->given & GIVEN_PHASES))
          o->phase[i] = 0.0;
      }
    }
  }

  if (o->kind == GEN_GRAPH) {
    if (!(g->given & GIVEN_SCALE)) {
      pmr_cli_error(cli, "graph needs --scale S (2^S vertices) (see --help)");
      return PMR_CLI_USAGE;
    }
    if (o->edge_factor > (((uint64_t)1 << 40) >> o->scale)) {
      pmr_cli_error(cli,
                    "--edge-factor %llu at --scale %d makes over 2^40 edges "
                    "(see --help)",
                    (unsigned long long)o->edge_factor, o->scale);
      return PMR_CLI_USAGE;
    }
    o->n = o->edge_factor << o->scale;
    o->bytes = o->n * 16;
    return 0;
  }
  /* The size: text in bytes; arrays by --count or --size. */
  if (o->kind == GEN_TEXT) {
    if (!(g->given & GIVEN_SIZE))
      o->bytes = (uint64_t)256 << 20;
    return 0;
  }
  uint64_t row = o->kind == GEN_POINTS    ? 8 * o->dim
                 : o->kind == GEN_RECORDS ? GEN_RECORD_SIZE
                 : o->kind == GEN_NUMBERS &&
                         (o->type == PMR_FLOAT32 || o->type == PMR_INT32)
                     ? 4
                     : 8;
  if ((g->given & GIVEN_SIZE) && (g->given & GIVEN_COUNT)) {
    pmr_cli_error(cli, "give --count or --size, not both (see --help)");
    return PMR_CLI_USAGE;
  }
  if (g->given & GIVEN_SIZE) {
    o->n = o->bytes / row;
    if (o->n == 0) {
      pmr_cli_error(cli, "--size %llu holds no %s of %llu bytes (see --help)",
                    (unsigned long long)o->bytes,
                    o->kind == GEN_POINTS    ? "row"
                    : o->kind == GEN_RECORDS ? "record"
                                             : "element",
                    (unsigned long long)row);
      return PMR_CLI_USAGE;
    }
  } else if (!(g->given & GIVEN_COUNT)) {
    pmr_cli_error(cli, "%s needs --count N (%s) or --size BYTES (see --help)",
                  kind_names[k],
                  o->kind == GEN_POINTS    ? "rows"
                  : o->kind == GEN_RECORDS ? "records"
                                           : "elements");
    return PMR_CLI_USAGE;
  }
  if (o->n > (((uint64_t)1 << 62) / row)) {
    pmr_cli_error(cli, "%llu %s of %llu bytes is too large (see --help)",
                  (unsigned long long)o->n,
                  o->kind == GEN_POINTS    ? "rows"
                  : o->kind == GEN_RECORDS ? "records"
                                           : "elements",
                  (unsigned long long)row);
    return PMR_CLI_USAGE;
  }
  o->bytes = o->n * row;
  return 0;
}

/* --- progress and statistics ---------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void gen_progress(const char *phase, uint64_t done, uint64_t total,
                         void *user) {
  static double last;
  const pmr_cli *cli = user;
  double t = now();
  if (done < total && t - last < 0.5)
    return;
  last = t;
  double pct = total ? 100.0 * (double)done / (double)total : 100.0;
  fprintf(stderr, "\r%s: %s %5.1f%%%s", cli->prog, phase, pct,
          done >= total ? "\n" : "");
  fflush(stderr);
}

static size_t peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t kib = 0;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6))
      kib = strtoull(line + 6, NULL, 10);
  if (f)
    fclose(f);
  return kib * 1024;
}

static void print_stats(pmr_ctx *ctx, const gen_opts *o, double gen_s,
                        double write_s, uint64_t bytes, uint64_t lines) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  int size = pmr_ctx_size(ctx);
  double v[3] = {gen_s, write_s, (double)peak_rss() / (1 << 20)};
  double vmin[3], vmax[3], vsum[3];
  uint64_t tot[2] = {bytes, lines}, all[2];
  MPI_Reduce(v, vmin, 3, MPI_DOUBLE, MPI_MIN, 0, comm);
  MPI_Reduce(v, vmax, 3, MPI_DOUBLE, MPI_MAX, 0, comm);
  MPI_Reduce(v, vsum, 3, MPI_DOUBLE, MPI_SUM, 0, comm);
  MPI_Reduce(tot, all, 2, MPI_UINT64_T, MPI_SUM, 0, comm);
  int nt = pmr_ctx_threads(ctx), ntmax = 0;
  MPI_Reduce(&nt, &ntmax, 1, MPI_INT, MPI_MAX, 0, comm);
  if (pmr_ctx_rank(ctx) != 0)
    return;
  static const char *names[3] = {"generate", "write", "peak RSS MiB"};
  fprintf(stderr, "%-12s %12s %12s %12s\n", "phase", "min s", "mean s",
          "max s");
  for (int i = 0; i < 3; i++)
    fprintf(stderr, "%-12s %12.3f %12.3f %12.3f\n", names[i], vmin[i],
            vsum[i] / size, vmax[i]);
  fprintf(stderr, "ranks x threads  %d x %d\n", size, ntmax);
  fprintf(stderr, "kind             %s\n", kind_names[o->kind]);
  fprintf(stderr, "bytes            %llu\n", (unsigned long long)all[0]);
  if (o->kind == GEN_TEXT)
    fprintf(stderr, "lines            %llu\n", (unsigned long long)all[1]);
  else if (o->kind == GEN_GRAPH && o->text)
    fprintf(stderr, "edges            %llu\n", (unsigned long long)all[1]);
  else
    fprintf(stderr, "%-16s %llu\n",
            o->kind == GEN_POINTS    ? "rows"
            : o->kind == GEN_RECORDS ? "records"
            : o->kind == GEN_GRAPH   ? "edges"
                                     : "elements",
            (unsigned long long)o->n);
  double secs = vmax[0] + vmax[1];
  fprintf(stderr, "rate             %.1f MB/s\n",
          secs > 0 ? (double)all[0] / secs / 1e6 : 0.0);
}

/* --- the array kinds ------------------------------------------------------ */

/* Rows [lo, hi) of `n` that rank r of `size` generates and writes: equal
 * shares, or whole AR(1) blocks for the AR(1) signal. */
static void share(const gen_opts *o, int r, int size, uint64_t *lo,
                  uint64_t *hi) {
  uint64_t n = o->n;
  if (o->kind == GEN_SIGNAL && o->model == GEN_AR1) {
    /* As gen_signal_fill shares out the blocks. */
    uint64_t B = GEN_AR1_BLOCK, nb = (n + B - 1) / B;
    uint64_t b0 = gen_split(nb, r, size), b1 = gen_split(nb, r + 1, size);
    *lo = b0 * B < n ? b0 * B : n;
    *hi = b1 * B < n ? b1 * B : n;
    return;
  }
  *lo = gen_split(n, r, size);
  *hi = gen_split(n, r + 1, size);
}

static char *fmt_list(const double *v, int n) {
  size_t cap = (size_t)n * 26 + 1;
  char *s = malloc(cap), *p = s;
  if (!s)
    return NULL;
  *p = '\0';
  for (int i = 0; i < n; i++) {
    /* The shortest form that reads back as the same double. */
    char one[32];
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(one, sizeof one, "%.*g", prec, v[i]);
      if (strtod(one, NULL) == v[i])
        break;
    }
    p += snprintf(p, cap - (size_t)(p - s), "%s%s", i ? "," : "", one);
  }
  return s;
}

/* The generator's description, as attributes of the main dataset. */
static int describe(const gen_opts *o, const pmr_cli *cli, pmr_meta *m) {
  int rc = pmr_meta_set_str(m, "app", "gen");
  if (!rc)
    rc = pmr_meta_set_str(m, "command_line", cli->command_line);
  if (!rc)
    rc = pmr_meta_set_str(m, "kind", kind_names[o->kind]);
  if (!rc)
    rc = pmr_meta_set_str(m, "generator", "philox4x32-10");
  if (!rc)
    rc = pmr_meta_set_i64(m, "seed", (int64_t)o->seed);
  if (!rc)
    rc = pmr_meta_set_i64(m, "count", (int64_t)o->n);
  switch (o->kind) {
  case GEN_GRAPH:
    if (!rc)
      rc = pmr_meta_set_str(m, "model", "rmat");
    if (!rc)
      rc = pmr_meta_set_i64(m, "scale", o->scale);
    if (!rc)
      rc = pmr_meta_set_i64(m, "edge_factor", (int64_t)o->edge_factor);
    if (!rc)
      rc = pmr_meta_set_i64(m, "vertices", (int64_t)1 << o->scale);
    if (!rc)
      rc = pmr_meta_set_i64(m, "edges", (int64_t)o->n);
    if (!rc)
      rc = pmr_meta_set_f64(m, "a", 0.57);
    if (!rc)
      rc = pmr_meta_set_f64(m, "b", 0.19);
    if (!rc)
      rc = pmr_meta_set_f64(m, "c", 0.19);
    if (!rc)
      rc = pmr_meta_set_f64(m, "d", 0.05);
    break;
  case GEN_POINTS:
    if (!rc)
      rc = pmr_meta_set_i64(m, "dim", (int64_t)o->dim);
    if (!rc)
      rc = pmr_meta_set_i64(m, "centres", (int64_t)o->k);
    if (!rc)
      rc = pmr_meta_set_f64(m, "spread", o->spread);
    if (!rc)
      rc = pmr_meta_set_f64(m, "box", o->box);
    break;
  case GEN_NUMBERS:
    if (!rc)
      rc = pmr_meta_set_str(m, "dist", dist_names[o->dist]);
    if (o->dist == GEN_INTEGERS) {
      if (!rc)
        rc = pmr_meta_set_i64(m, "low", o->ilow);
      if (!rc)
        rc = pmr_meta_set_i64(m, "high", o->ihigh);
    } else if (o->dist == GEN_UNIFORM) {
      if (!rc)
        rc = pmr_meta_set_f64(m, "low", o->low);
      if (!rc)
        rc = pmr_meta_set_f64(m, "high", o->high);
    } else {
      if (!rc)
        rc = pmr_meta_set_f64(m, "mean", o->mean);
      if (!rc)
        rc = pmr_meta_set_f64(m, "std", o->std);
    }
    break;
  case GEN_SIGNAL:
    if (!rc)
      rc = pmr_meta_set_str(m, "model", o->model == GEN_AR1 ? "ar1" : "sines");
    if (!rc)
      rc = pmr_meta_set_f64(m, "sigma", o->sigma);
    if (o->model == GEN_AR1) {
      if (!rc)
        rc = pmr_meta_set_f64(m, "phi", o->phi);
      if (!rc)
        rc = pmr_meta_set_i64(m, "block", GEN_AR1_BLOCK);
    } else {
      const double *lists[3] = {o->freq, o->amp, o->phase};
      const char *names[3] = {"freqs", "amps", "phases"};
      for (int i = 0; i < 3 && !rc; i++) {
        char *s = fmt_list(lists[i], o->nsines);
        rc = s ? pmr_meta_set_str(m, names[i], s) : PMR_ENOMEM;
        free(s);
      }
    }
    break;
  default:
    break;
  }
  return rc;
}

/* One HDF5 file: the main dataset with the generator's attributes, and for
 * points /centres (written by rank 0) and /labels. */
static int write_arrays(pmr_ctx *ctx, const pmr_cli *cli, const gen_opts *o,
                        const char *main_name, pmr_dtype type, uint64_t cols,
                        uint64_t rows, const void *data, const double *centres,
                        const int32_t *lab, double gen_s, char *msg,
                        size_t msglen) {
  int rank = pmr_ctx_rank(ctx);
  pmr_h5out *w = NULL;
  pmr_meta *meta = NULL;
  double secs = gen_s; /* the slowest rank's: the same on every rank */
  MPI_Allreduce(MPI_IN_PLACE, &secs, 1, MPI_DOUBLE, MPI_MAX, pmr_ctx_comm(ctx));
  int rc = pmr_meta_create(&meta);
  if (!rc)
    rc = describe(o, cli, meta);
  if (!rc)
    rc = pmr_meta_set_f64(meta, "generate_seconds", secs);
  if (rc) { /* the same on every rank */
    snprintf(msg, msglen, "cannot describe the generator: %s",
             pmr_strerror(rc));
    pmr_meta_free(&meta);
    return rc;
  }
  rc = pmr_h5out_open(ctx, cli->output, 0, &w);
  if (!rc)
    rc = pmr_h5out_rows(w, main_name, type, cols, rows, data);
  if (!rc && centres)
    rc = pmr_h5out_rows(w, "centres", PMR_FLOAT64, o->dim, rank == 0 ? o->k : 0,
                        centres);
  if (!rc && lab)
    rc = pmr_h5out_rows(w, "labels", PMR_INT32, 0, rows, lab);
  if (!rc)
    rc = pmr_h5out_meta(w, main_name, meta);
  int crc = pmr_h5out_close(&w, rc == 0);
  if (!rc)
    rc = crc;
  if (rc)
    snprintf(msg, msglen, "%s",
             *pmr_errmsg(ctx) ? pmr_errmsg(ctx) : pmr_strerror(rc));
  pmr_meta_free(&meta);
  return rc;
}

typedef struct run_result {
  double gen_s, write_s;
  uint64_t bytes, lines;
} run_result;

static int run_arrays(pmr_ctx *ctx, pmr_cli *cli, const gen_opts *o,
                      run_result *res, char *msg, size_t msglen) {
  MPI_Comm comm = pmr_ctx_comm(ctx);
  int rank = pmr_ctx_rank(ctx), size = pmr_ctx_size(ctx);
  int threads = pmr_ctx_threads(ctx);
  uint64_t lo, hi;
  share(o, rank, size, &lo, &hi);
  uint64_t rows = hi - lo;
  uint64_t cols = o->kind == GEN_POINTS  ? o->dim
                  : o->kind == GEN_GRAPH ? 2
                                         : 0;
  size_t el =
      o->kind == GEN_NUMBERS && (o->type == PMR_FLOAT32 || o->type == PMR_INT32)
          ? 4
          : 8;
  pmr_dtype type = o->kind == GEN_NUMBERS ? o->type
                   : o->kind == GEN_GRAPH ? PMR_INT64
                                          : PMR_FLOAT64;
  int labels = o->kind == GEN_POINTS && o->labels;
  double t0 = now();

  /* This rank's share, whole: pmr_h5out_rows writes a dataset in one call. */
  uint64_t nel = rows * (cols ? cols : 1);
  void *data = malloc(nel ? nel * el : 1);
  int32_t *lab = labels ? malloc(rows ? rows * sizeof *lab : 1) : NULL;
  double *centres =
      o->kind == GEN_POINTS ? malloc(sizeof *centres * o->k * o->dim) : NULL;
  int lrc = !data || (labels && !lab) || (o->kind == GEN_POINTS && !centres)
                ? PMR_ENOMEM
                : 0,
      rc = 0;
  MPI_Allreduce(&lrc, &rc, 1, MPI_INT, MPI_MAX, comm);
  const char *main_name = o->kind == GEN_POINTS   ? "points"
                          : o->kind == GEN_SIGNAL ? "signal"
                          : o->kind == GEN_GRAPH  ? "edges"
                                                  : "numbers";
  int show = cli->progress > 0 || (cli->progress < 0 && isatty(2));
  gen_progress_fn prog = show && rank == 0 ? gen_progress : NULL;
  if (rc) {
    snprintf(msg, msglen,
             "out of memory for this rank's share of the output "
             "(%.1f MiB on each of %d ranks): use more ranks",
             (double)o->bytes / size / (1 << 20), size);
  } else if (o->kind == GEN_SIGNAL) {
    rc = gen_signal_fill(o, comm, lo, hi, data, threads, msg, msglen);
    if (!rc && prog)
      prog("generate", 1, 1, cli);
  } else {
    if (centres)
      gen_centres(o, centres);
    /* In slices, for the progress report. */
    enum { SLICES = 64 };
    for (int s = 0; s < SLICES; s++) {
      uint64_t a = lo + gen_split(rows, s, SLICES);
      uint64_t b = lo + gen_split(rows, s + 1, SLICES);
      if (o->kind == GEN_GRAPH)
        gen_graph_fill(o, a, b, (int64_t *)data + (a - lo) * 2, threads);
      else if (o->kind == GEN_POINTS)
        gen_points_fill(o, centres, a, b, (double *)data + (a - lo) * o->dim,
                        lab ? lab + (a - lo) : NULL, threads);
      else
        gen_numbers_fill(o, a, b, (char *)data + (a - lo) * el, threads);
      if (prog)
        prog("generate", (uint64_t)s + 1, SLICES, cli);
    }
  }
  double t1 = now();
  res->gen_s = t1 - t0;
  if (!rc)
    rc = write_arrays(ctx, cli, o, main_name, type, cols, rows, data, centres,
                      lab, res->gen_s, msg, msglen);
  res->write_s = now() - t1;
  res->bytes = nel * el + (labels ? rows * 4 : 0);
  if (prog && !rc)
    prog("write", 1, 1, cli);
  free(data);
  free(lab);
  free(centres);
  return rc;
}

int main(int argc, char **argv) {
  gen_cli g = {.o = {.seed = 42,
                     .vocab = 200000,
                     .exponent = 1.0,
                     .dim = 3,
                     .k = 8,
                     .spread = 1.0,
                     .box = 10.0,
                     .labels = 1,
                     .dist = GEN_UNIFORM,
                     .low = 0.0,
                     .high = 1.0,
                     .mean = 0.0,
                     .std = 1.0,
                     .ilow = 0,
                     .ihigh = 1000,
                     .type = PMR_FLOAT64,
                     .model = GEN_AR1,
                     .phi = 0.9,
                     .sigma = 1.0,
                     .edge_factor = 16}};
  pmr_cli_app app = {
      .name = "gen",
      .usage = "KIND -o OUT [options]",
      .summary =
          "Generate data in parallel, the same bits at any rank and thread "
          "count\n(counter-based random numbers: Philox4x32-10). KIND is one "
          "of\n"
          "  text     a corpus of words whose frequencies follow Zipf's law "
          "(text file)\n"
          "  points   Gaussian blobs: /points float64 [n, d] around k "
          "centres, /centres\n"
          "           float64 [k, d], /labels int32 [n]\n"
          "  signal   an AR(1) series or a sum of sines plus noise: /signal "
          "float64 [n]\n"
          "  numbers  uniform, normal or lognormal floats, or uniform "
          "integers: /numbers [n]\n"
          "  records  100-byte records in the TeraSort (gensort) layout, "
          "for pmr-sort:\n"
          "           a random 10-byte key, then the row id and filler "
          "(raw file)\n"
          "  graph    an R-MAT edge list (Graph500: a=0.57 b=0.19 c=0.19): "
          "/edges int64\n"
          "           [m, 2] of (src, dst), or \"src dst\" lines with --text",
      .options_help =
          "  -s, --size SIZE      text: the file's exact size in bytes "
          "(default 256M);\n"
          "                       arrays, records: bytes of data, instead "
          "of --count\n"
          "  -n, --count N        arrays: elements (points: rows); records: "
          "records;\n"
          "                       K, M, G are binary\n"
          "  -S, --seed SEED      0 .. 2^63-1 (default 42)\n"
          " text:\n"
          "  -V, --vocab N        distinct words (default 200000)\n"
          "  -e, --exponent X     Zipf exponent, 0..100 (default 1.0; 0 = "
          "uniform)\n"
          " points:\n"
          "  -d, --dim D          coordinates per point (default 3)\n"
          "  -k, --centres K      blobs (default 8)\n"
          "      --spread S       standard deviation of each blob (default "
          "1)\n"
          "      --box B          centres uniform in [-B, B]^d (default 10)\n"
          "      --no-labels      leave out /labels\n"
          " numbers:\n"
          "      --dist D         uniform (default), normal, lognormal, "
          "integers\n"
          "      --low A --high B uniform: [A, B) (default 0, 1); integers: "
          "[A, B] (default\n"
          "                       0, 1000)\n"
          "      --mean M --std S normal: N(M, S^2); lognormal: exp(N(M, "
          "S^2)) (default 0, 1)\n"
          "      --type T         float64 (default), float32; integers: "
          "int64 (default), int32\n"
          " signal:\n"
          "      --model M        ar1 (default): x[i] = phi x[i-1] + sigma "
          "z[i], stationary\n"
          "                       from x[0]; sines: sum of amp sin(2 pi f i "
          "+ phase) + sigma z[i]\n"
          "      --phi X          AR(1) coefficient, -1 < X < 1 (default "
          "0.9)\n"
          "      --sigma X        noise standard deviation (default 1)\n"
          "      --freqs F,...    sines: frequencies in cycles per sample\n"
          "      --amps A,...     sines: amplitudes (default 1 each)\n"
          "      --phases P,...   sines: phases in radians (default 0 "
          "each)\n"
          " graph:\n"
          "      --scale S        2^S vertices, ids 0 .. 2^S-1 (1..40; "
          "required)\n"
          "      --edge-factor F  F x 2^S edges (default 16)\n"
          "      --text           write \"src dst\" lines instead of HDF5\n",
      .longopts = gen_longopts,
      .on_option = gen_option,
      .user = &g,
      .shortopts = "s:n:S:V:e:d:k:",
      .inputs_optional = 1, /* gen_check names the missing KIND */
  };
  if (pmr_cli_early(&app, argc, argv))
    return 0;
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  pmr_cli cli;
  int prc = pmr_cli_parse(&cli, &app, argc, argv);
  if (prc == PMR_CLI_RUN)
    prc = gen_check(&cli, &g);
  if (prc != PMR_CLI_RUN)
    return pmr_cli_finish(&cli, prc == PMR_CLI_DONE ? 0 : 2);

  pmr_ctx *ctx = NULL;
  int rc = pmr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    pmr_cli_error(&cli, "cannot start: %s", pmr_strerror(rc));
    return pmr_cli_finish(&cli, 1);
  }
  pmr_cli_setup(&cli, ctx);
  char msg[1024] = "";
  run_result res = {0};
  /* Fail on an unwritable output now, not after the work. */
  rc = pmr_check_output(ctx, cli.output);
  if (rc) {
    snprintf(msg, sizeof msg, "%s", pmr_errmsg(ctx));
  } else if (g.o.kind == GEN_TEXT) {
    int show = cli.progress > 0 || (cli.progress < 0 && isatty(2));
    gen_text_stats st;
    rc = gen_text_write(&g.o, pmr_ctx_comm(ctx), cli.output,
                        pmr_ctx_memory(ctx), pmr_ctx_threads(ctx),
                        show && cli.rank == 0 ? gen_progress : NULL, &cli, &st,
                        msg, sizeof msg);
    res = (run_result){st.gen_seconds, st.write_seconds, st.bytes, st.lines};
  } else if (g.o.kind == GEN_RECORDS) {
    int show = cli.progress > 0 || (cli.progress < 0 && isatty(2));
    gen_text_stats st;
    rc = gen_records_write(&g.o, pmr_ctx_comm(ctx), cli.output,
                           pmr_ctx_memory(ctx), pmr_ctx_threads(ctx),
                           show && cli.rank == 0 ? gen_progress : NULL, &cli,
                           &st, msg, sizeof msg);
  } else if (g.o.kind == GEN_GRAPH && g.o.text) {
    int show = cli.progress > 0 || (cli.progress < 0 && isatty(2));
    gen_text_stats st;
    rc = gen_graph_write_text(&g.o, pmr_ctx_comm(ctx), cli.output,
                              pmr_ctx_memory(ctx), pmr_ctx_threads(ctx),
                              show && cli.rank == 0 ? gen_progress : NULL, &cli,
                              &st, msg, sizeof msg);
    res = (run_result){st.gen_seconds, st.write_seconds, st.bytes, st.lines};
  } else {
    rc = run_arrays(ctx, &cli, &g.o, &res, msg, sizeof msg);
  }
  if (rc)
    pmr_cli_error(&cli, "%s", *msg ? msg : pmr_strerror(rc));
  /* After an error, the one message line is all that stderr gets. */
  else if (cli.stats)
    print_stats(ctx, &g.o, res.gen_s, res.write_s, res.bytes, res.lines);
  if (!rc && pmr_cli_stats(&cli, ctx, 0))
    rc = PMR_EIO; /* the message is printed */
  pmr_ctx_destroy(&ctx);
  return pmr_cli_finish(&cli, rc ? 1 : 0);
}
