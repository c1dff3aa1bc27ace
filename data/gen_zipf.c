/* pmr-gen-zipf: write a synthetic text corpus whose word frequencies follow
 * Zipf's law, for benchmarks and scaling runs.
 *
 *   pmr-gen-zipf [-s SIZE] [-V VOCAB] [-e EXPONENT] [-S SEED] [-v] -o FILE
 *
 * Word of rank r (0 = most frequent) is drawn with probability proportional
 * to 1 / (r + 1)^EXPONENT. The spelling of every rank is a fixed function of
 * r alone (lower-case ASCII, 2..12 letters, frequent words tend to be short),
 * so corpora made with different seeds or sizes share one vocabulary. Lines
 * hold 10..15 words separated by one space and end with '\n'. The file is
 * exactly SIZE bytes and ends with '\n' (the last line is cut short).
 *
 * Sampling uses Walker's alias method (O(1) per word) and xoshiro256**, so
 * 256 MiB takes a second or two; the output is identical for equal
 * arguments on every platform.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_LEN 2
#define MAX_LEN 12
#define LINE_MIN 10
#define LINE_MAX 15
#define PAD 16 /* words are copied 16 bytes at a time */

static const char *prog = "pmr-gen-zipf";

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void usage(FILE *f, int status)
{
    fprintf(f,
            "usage: %s [options] -o FILE\n"
            "  -o FILE      output file ('-' for stdout)\n"
            "  -s SIZE      exact size in bytes, suffix K/M/G/T = KiB/MiB/GiB/TiB "
            "(default 256M)\n"
            "  -V N         vocabulary size, distinct words (default 200000)\n"
            "  -e X         Zipf exponent, >= 0 (default 1.0; 0 = uniform)\n"
            "  -S SEED      random seed (default 42)\n"
            "  -v           print a summary on stderr\n"
            "  -h           this help\n",
            prog);
    exit(status);
}

/* --- random numbers: splitmix64 seeds xoshiro256** ------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct { uint64_t s[4]; } rng_t;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

static void rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

/* --- the vocabulary --------------------------------------------------------- */

typedef struct {
    char *arena;        /* all words, each followed by PAD spare bytes */
    uint64_t *off;      /* word r = arena[off[r] .. off[r] + len[r]) */
    uint8_t *len;
    uint32_t nwords;
} vocab_t;

static uint64_t hash_word(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: only used for the set below */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* Spelling of rank r: letters and length come from a hash of (r, salt);
 * the salt is bumped on the rare collision with an earlier rank, which keeps
 * the words distinct while still a function of r alone (ranks are spelled in
 * order). Longer words become possible as r grows, like in real text. */
static void vocab_build(vocab_t *v, uint32_t n)
{
    v->nwords = n;
    v->arena = malloc((size_t)n * (MAX_LEN + 1) + PAD);
    v->off = malloc(sizeof *v->off * n);
    v->len = malloc(n);
    size_t cap = 1;
    while (cap < (size_t)n * 2)
        cap <<= 1;
    uint32_t *set = malloc(sizeof *set * cap); /* rank + 1, 0 = empty */
    if (!v->arena || !v->off || !v->len || !set)
        die("%s", "out of memory");
    memset(set, 0, sizeof *set * cap);

    uint64_t pos = 0;
    for (uint32_t r = 0; r < n; r++) {
        int lg = 0;
        while ((2ull << lg) <= (uint64_t)r + 1)
            lg++;
        int extra = 1 + lg * 2 / 3; /* rank 0: 2..3 letters, 200000: 2..12 */
        if (extra > MAX_LEN - MIN_LEN)
            extra = MAX_LEN - MIN_LEN;
        for (uint64_t salt = 0;; salt++) {
            uint64_t st = ((uint64_t)r << 20) ^ (salt * 0x5851f42d4c957f2dull);
            uint64_t h = splitmix64(&st);
            int L = MIN_LEN + (int)(h % (uint64_t)(extra + 1));
            char *w = v->arena + pos;
            for (int i = 0; i < L; i++) {
                if (i % 12 == 0)
                    h = splitmix64(&st);
                w[i] = (char)('a' + (h % 26));
                h /= 26;
            }
            uint64_t wh = hash_word(w, (size_t)L);
            size_t k = wh & (cap - 1);
            int dup = 0;
            while (set[k]) {
                uint32_t o = set[k] - 1;
                if (v->len[o] == L && memcmp(v->arena + v->off[o], w, (size_t)L) == 0) {
                    dup = 1;
                    break;
                }
                k = (k + 1) & (cap - 1);
            }
            if (dup)
                continue;
            set[k] = r + 1;
            v->off[r] = pos;
            v->len[r] = (uint8_t)L;
            pos += (uint64_t)L;
            break;
        }
    }
    memset(v->arena + pos, 0, PAD);
    free(set);
}

/* --- Walker's alias table for P(r) ~ 1/(r+1)^s ------------------------------ */

typedef struct {
    uint32_t thresh; /* accept r if 32 random bits < thresh, else take alias */
    uint32_t alias;
} alias_slot;

typedef struct {
    alias_slot *slot; /* one cache access per draw */
    uint32_t n;
} alias_t;

static void alias_build(alias_t *a, uint32_t n, double s)
{
    double *p = malloc(sizeof *p * n);
    uint32_t *small = malloc(sizeof *small * n), *large = malloc(sizeof *large * n);
    a->slot = malloc(sizeof *a->slot * n);
    a->n = n;
    if (!p || !small || !large || !a->slot)
        die("%s", "out of memory");
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += p[i] = pow((double)i + 1.0, -s);
    uint32_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        p[i] = p[i] * n / sum;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t sm = small[--ns], lg = large[nl - 1];
        a->slot[sm].thresh = (uint32_t)fmin(p[sm] * 4294967296.0, 4294967295.0);
        a->slot[sm].alias = lg;
        p[lg] -= 1.0 - p[sm];
        if (p[lg] < 1.0) {
            nl--;
            small[ns++] = lg;
        }
    }
    while (nl) { /* leftovers are 1 up to rounding */
        uint32_t i = large[--nl];
        a->slot[i].thresh = UINT32_MAX;
        a->slot[i].alias = i;
    }
    while (ns) {
        uint32_t i = small[--ns];
        a->slot[i].thresh = UINT32_MAX;
        a->slot[i].alias = i;
    }
    free(p);
    free(small);
    free(large);
}

static inline uint32_t alias_draw(const alias_t *a, rng_t *r)
{
    uint64_t u = rng_next(r);
    uint32_t i = (uint32_t)(((u >> 32) * (uint64_t)a->n) >> 32);
    alias_slot sl = a->slot[i];
    return ((uint32_t)u < sl.thresh) ? i : sl.alias;
}

/* --- main -------------------------------------------------------------------- */

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    uint64_t size = 256ull << 20, seed = 42;
    unsigned long vocab = 200000;
    double expo = 1.0;
    const char *out = NULL;
    int verbose = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            usage(stdout, 0);
        else if (!strcmp(a, "-v"))
            verbose = 1;
        else if (!strcmp(a, "-o") || !strcmp(a, "-s") || !strcmp(a, "-V") ||
                 !strcmp(a, "-e") || !strcmp(a, "-S")) {
            if (!val) {
                fprintf(stderr, "%s: option %s needs a value\n", prog, a);
                usage(stderr, 2);
            }
            char *end = NULL;
            errno = 0;
            switch (a[1]) {
            case 'o': out = val; break;
            case 's':
                if (parse_size(val, &size)) {
                    fprintf(stderr, "%s: bad size '%s'\n", prog, val);
                    exit(2);
                }
                break;
            case 'V':
                vocab = strtoul(val, &end, 10);
                if (errno || *end || vocab < 1 || vocab > 100000000ul) {
                    fprintf(stderr, "%s: bad vocabulary size '%s' (1..1e8)\n", prog, val);
                    exit(2);
                }
                break;
            case 'e':
                expo = strtod(val, &end);
                if (errno || *end || !(expo >= 0.0) || expo > 100.0) {
                    fprintf(stderr, "%s: bad exponent '%s' (0..100)\n", prog, val);
                    exit(2);
                }
                break;
            case 'S':
                seed = strtoull(val, &end, 0);
                if (errno || *end) {
                    fprintf(stderr, "%s: bad seed '%s'\n", prog, val);
                    exit(2);
                }
                break;
            }
            i++;
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, a);
            usage(stderr, 2);
        }
    }
    if (!out) {
        fprintf(stderr, "%s: no output file (-o FILE)\n", prog);
        usage(stderr, 2);
    }

    double t0 = now();
    vocab_t v;
    alias_t al;
    vocab_build(&v, (uint32_t)vocab);
    alias_build(&al, (uint32_t)vocab, expo);
    rng_t rng;
    rng_seed(&rng, seed);

    FILE *f = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!f)
        die("cannot open '%s' for writing", out);

    enum { BUF = 1 << 22, SLACK = LINE_MAX * (MAX_LEN + 1) + PAD };
    char *buf = malloc(BUF + SLACK);
    if (!buf)
        die("%s", "out of memory");
    uint64_t written = 0, lines = 0, words = 0;
    size_t fill = 0;
    while (written + fill < size) {
        /* one line into buf + fill; words are copied PAD bytes at a time */
        char *line = buf + fill;
        size_t n = 0;
        int nw = LINE_MIN + (int)(rng_next(&rng) % (LINE_MAX - LINE_MIN + 1));
        for (int w = 0; w < nw; w++) {
            uint32_t r = alias_draw(&al, &rng);
            memcpy(line + n, v.arena + v.off[r], PAD);
            n += v.len[r];
            line[n++] = ' ';
        }
        line[n - 1] = '\n';
        uint64_t room = size - written - fill;
        if (n > room) { /* the last line is cut to fit and still ends in '\n' */
            n = (size_t)room;
            line[n - 1] = '\n';
        }
        fill += n;
        lines++;
        words += (uint64_t)nw;
        if (fill >= BUF) {
            if (fwrite(buf, 1, fill, f) != fill)
                die("write error on '%s'", out);
            written += fill;
            fill = 0;
        }
    }
    if (fill && fwrite(buf, 1, fill, f) != fill)
        die("write error on '%s'", out);
    written += fill;
    if (f != stdout ? fclose(f) : fflush(f))
        die("write error on '%s'", out);
    if (verbose)
        fprintf(stderr,
                "%s: %llu bytes, %llu lines, ~%llu words, vocabulary %lu, exponent %g, "
                "seed %llu, %.2f s\n",
                prog, (unsigned long long)written, (unsigned long long)lines,
                (unsigned long long)words, vocab, expo, (unsigned long long)seed,
                now() - t0);
    free(buf);
    free(v.arena);
    free(v.off);
    free(v.len);
    free(al.slot);
    return 0;
}
