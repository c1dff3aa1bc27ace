/* pmr-bench-baseline: the smallest honest word counter, the yardstick that
 * bench/run.sh holds pmr-wordcount against.
 *
 *   pmr-bench-baseline [-t THREADS] [-o OUT.txt] [-v] FILE...
 *
 * Same tokeniser as pmr-wordcount (a word is a maximal run of bytes other
 * than ASCII whitespace, Python's bytes.split(); no word spans two files).
 * The inputs are mmap()ed and their concatenation is cut into THREADS equal
 * byte ranges; a word belongs to the range holding its first byte. Each
 * thread counts into its own open-addressing table (linear probing, a
 * wyhash-style 64-bit hash, keys copied into a per-thread arena), the tables
 * are merged into the first one, and "word<TAB>count\n" lines are written in
 * table order. No MPI, no HDF5, no generality: only what a word count needs.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_HUGEPAGE */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "pmr-bench-baseline";

static void die(const char *what, const char *name, int err)
{
    if (name)
        fprintf(stderr, "%s: %s '%s': %s\n", prog, what, name, strerror(err));
    else
        fprintf(stderr, "%s: %s\n", prog, what);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --- hashing: wyhash-style multiply-mix ------------------------------------- */

static inline uint64_t mix(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t h = a * 0x9e3779b97f4a7c15ull ^ b;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    return h ^ (h >> 32);
#endif
}

static inline uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t seed = P0 ^ mix(n ^ P0, P1), a, b;
    if (n <= 16) {
        if (n >= 4) {
            size_t q = (n >> 3) << 2; /* 0 or 4: covers all bytes with overlap */
            a = (rd32(p) << 32) | rd32(p + q);
            b = (rd32(p + n - 4) << 32) | rd32(p + n - 4 - q);
        } else if (n > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;
        while (i > 16) {
            seed = mix(rd64(p) ^ P1, rd64(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = rd64(p + i - 16);
        b = rd64(p + i - 8);
    }
    return mix(P1 ^ n, mix(a ^ P1, b ^ seed) ^ P2);
}

/* --- per-thread table ---------------------------------------------------------- */

/* Keys of up to INLINE bytes live in the slot itself (zero-padded), so the
 * common short word costs one cache line per probe; longer keys keep their
 * arena offset there instead. */
#define INLINE 12

typedef struct {
    uint64_t hash;  /* 0 marks an empty slot (real hashes are forced odd) */
    int64_t count;
    uint32_t len;
    unsigned char key[INLINE]; /* the key, or its arena offset (uint64_t) */
} slot;

typedef struct {
    slot *s;
    size_t cap, n;   /* cap is a power of two; grow at 5/8 load */
    unsigned char *arena;
    size_t alen, acap;
    uint64_t tokens;
} table;

static slot *slots_alloc(size_t cap)
{
    size_t bytes = cap * sizeof(slot);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("out of memory", NULL, 0);
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* random probes: spare the TLB */
#endif
    return p; /* zero-filled: all slots empty */
}

static void table_init(table *t, size_t cap)
{
    t->cap = cap;
    t->n = 0;
    t->s = slots_alloc(cap);
    t->acap = 1 << 20;
    t->alen = 0;
    t->arena = malloc(t->acap);
    t->tokens = 0;
    if (!t->arena)
        die("out of memory", NULL, 0);
}

static void table_free(table *t)
{
    munmap(t->s, t->cap * sizeof(slot));
    free(t->arena);
}

static void table_grow(table *t)
{
    size_t ncap = t->cap * 2;
    slot *ns = slots_alloc(ncap);
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->s[i].hash)
            continue;
        size_t k = t->s[i].hash & (ncap - 1);
        while (ns[k].hash)
            k = (k + 1) & (ncap - 1);
        ns[k] = t->s[i];
    }
    munmap(t->s, t->cap * sizeof(slot));
    t->s = ns;
    t->cap = ncap;
}

static inline const unsigned char *slot_key(const table *t, const slot *e)
{
    if (e->len <= INLINE)
        return e->key;
    uint64_t off;
    memcpy(&off, e->key, sizeof off);
    return t->arena + off;
}

/* Adds `count` to the key; copies a long key into the arena when it is new. */
static inline void table_add(table *t, const unsigned char *key, size_t len, uint64_t h,
                             int64_t count)
{
    unsigned char pad[INLINE] = {0};
    if (len <= INLINE)
        memcpy(pad, key, len);
    h |= 1;
    size_t mask = t->cap - 1, k = h & mask;
    for (;;) {
        slot *e = &t->s[k];
        if (e->hash == h && e->len == len) {
            if (len <= INLINE ? memcmp(e->key, pad, INLINE) == 0
                              : memcmp(slot_key(t, e), key, len) == 0) {
                e->count += count;
                return;
            }
        }
        if (!e->hash)
            break;
        k = (k + 1) & mask;
    }
    slot *e = &t->s[k];
    e->hash = h;
    e->count = count;
    e->len = (uint32_t)len;
    if (len <= INLINE) {
        memcpy(e->key, pad, INLINE);
    } else {
        if (t->alen + len > t->acap) {
            while (t->alen + len > t->acap)
                t->acap *= 2;
            t->arena = realloc(t->arena, t->acap);
            if (!t->arena)
                die("out of memory", NULL, 0);
        }
        memcpy(t->arena + t->alen, key, len);
        uint64_t off = t->alen;
        memcpy(e->key, &off, sizeof off);
        t->alen += len;
    }
    if (++t->n * 8 > t->cap * 5)
        table_grow(t);
}

/* --- inputs and workers ---------------------------------------------------------- */

typedef struct {
    const char *name;
    const unsigned char *data;
    uint64_t size, start; /* start: offset in the concatenation */
} input;

typedef struct {
    const input *in;
    int nin;
    uint64_t lo, hi; /* global byte range [lo, hi) */
    table t;
} worker;

static unsigned char is_ws[256];

/* floor(total * i / n) without overflow */
static uint64_t split_point(uint64_t total, int i, int n)
{
    return total / (uint64_t)n * (uint64_t)i + total % (uint64_t)n * (uint64_t)i / (uint64_t)n;
}

static void count_range(table *t, const unsigned char *d, uint64_t size, uint64_t lo, uint64_t hi)
{
    uint64_t p = lo;
    if (p > 0 && !is_ws[d[p - 1]]) /* that word belongs to the previous range */
        while (p < size && !is_ws[d[p]])
            p++;
    for (;;) {
        while (p < hi && is_ws[d[p]])
            p++;
        if (p >= hi)
            break;
        uint64_t w = p;
        while (p < size && !is_ws[d[p]])
            p++;
        table_add(t, d + w, (size_t)(p - w), hash_bytes(d + w, (size_t)(p - w)), 1);
        t->tokens++;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->nin; i++) {
        const input *f = &w->in[i];
        if (w->hi <= f->start || w->lo >= f->start + f->size)
            continue;
        uint64_t lo = w->lo > f->start ? w->lo - f->start : 0;
        uint64_t hi = w->hi - f->start < f->size ? w->hi - f->start : f->size;
        count_range(&w->t, f->data, f->size, lo, hi);
    }
    return NULL;
}

typedef struct {
    FILE *f;
    const char *name;
    char *buf;
    size_t len, cap;
} outbuf;

static void out_flush(outbuf *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
        die("write error on", o->name, errno);
    o->len = 0;
}

static void out_put(outbuf *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        out_flush(o);
        if (n > o->cap) { /* a huge word goes straight through */
            if (fwrite(p, 1, n, o->f) != n)
                die("write error on", o->name, errno);
            return;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void write_table(const table *t, const char *name)
{
    outbuf o = {fopen(name, "wb"), name, malloc(1 << 22), 0, 1 << 22};
    if (!o.f)
        die("cannot open", name, errno);
    if (!o.buf)
        die("out of memory", NULL, 0);
    for (size_t i = 0; i < t->cap; i++) {
        const slot *e = &t->s[i];
        if (!e->hash)
            continue;
        char num[24];
        size_t k = sizeof num;
        uint64_t c = (uint64_t)e->count;
        num[--k] = '\n';
        do {
            num[--k] = (char)('0' + c % 10);
            c /= 10;
        } while (c);
        num[--k] = '\t';
        out_put(&o, slot_key(t, e), e->len);
        out_put(&o, num + k, sizeof num - k);
    }
    out_flush(&o);
    if (fclose(o.f))
        die("write error on", name, errno);
    free(o.buf);
}

static void usage(FILE *f, int status)
{
    fprintf(f,
            "usage: %s [-t THREADS] [-o OUT.txt] [-v] FILE...\n"
            "  -t N    worker threads (default 2)\n"
            "  -o FILE write \"word<TAB>count\" lines (default: count only)\n"
            "  -v      timings and totals on stderr\n",
            prog);
    exit(status);
}

int main(int argc, char **argv)
{
    int nthreads = 2, verbose = 0;
    const char *out = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "t:o:vh")) != -1) {
        switch (opt) {
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024) {
                fprintf(stderr, "%s: bad thread count '%s'\n", prog, optarg);
                exit(2);
            }
            nthreads = (int)v;
            break;
        }
        case 'o': out = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout, 0); break;
        default: usage(stderr, 2);
        }
    }
    int nin = argc - optind;
    if (nin < 1)
        usage(stderr, 2);
    is_ws[' '] = is_ws['\t'] = is_ws['\n'] = is_ws['\v'] = is_ws['\f'] = is_ws['\r'] = 1;

    double t0 = now();
    input *in = calloc((size_t)nin, sizeof *in);
    if (!in)
        die("out of memory", NULL, 0);
    uint64_t total = 0;
    for (int i = 0; i < nin; i++) {
        const char *name = argv[optind + i];
        int fd = open(name, O_RDONLY);
        struct stat st;
        if (fd < 0)
            die("cannot open", name, errno);
        if (fstat(fd, &st))
            die("cannot stat", name, errno);
        if (!S_ISREG(st.st_mode))
            die("not a regular file:", name, EINVAL);
        in[i].name = name;
        in[i].size = (uint64_t)st.st_size;
        in[i].start = total;
        if (in[i].size) {
            void *m = mmap(NULL, (size_t)in[i].size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED)
                die("cannot mmap", name, errno);
            posix_madvise(m, (size_t)in[i].size, POSIX_MADV_SEQUENTIAL);
            in[i].data = m;
        }
        close(fd);
        total += in[i].size;
    }

    worker *w = calloc((size_t)nthreads, sizeof *w);
    pthread_t *tid = calloc((size_t)nthreads, sizeof *tid);
    if (!w || !tid)
        die("out of memory", NULL, 0);
    for (int i = 0; i < nthreads; i++) {
        w[i].in = in;
        w[i].nin = nin;
        w[i].lo = split_point(total, i, nthreads);
        w[i].hi = split_point(total, i + 1, nthreads);
        table_init(&w[i].t, 1 << 16);
    }
    for (int i = 1; i < nthreads; i++)
        if ((errno = pthread_create(&tid[i], NULL, worker_main, &w[i])))
            die("cannot create thread", "pthread", errno);
    worker_main(&w[0]);
    for (int i = 1; i < nthreads; i++)
        pthread_join(tid[i], NULL);
    double t1 = now();

    table *t = &w[0].t;
    for (int i = 1; i < nthreads; i++) {
        const table *u = &w[i].t;
        for (size_t k = 0; k < u->cap; k++) {
            const slot *e = &u->s[k];
            if (e->hash)
                table_add(t, slot_key(u, e), e->len, e->hash, e->count);
        }
        t->tokens += u->tokens;
        table_free(&w[i].t);
    }
    double t2 = now();
    if (out)
        write_table(t, out);
    double t3 = now();
    if (verbose)
        fprintf(stderr,
                "%s: %d files, %llu bytes, %llu words, %zu distinct, %d threads; "
                "count %.3f s, merge %.3f s, write %.3f s, total %.3f s\n",
                prog, nin, (unsigned long long)total, (unsigned long long)t->tokens, t->n,
                nthreads, t1 - t0, t2 - t1, t3 - t2, t3 - t0);
    table_free(t);
    for (int i = 0; i < nin; i++)
        if (in[i].size)
            munmap((void *)in[i].data, (size_t)in[i].size);
    free(in);
    free(w);
    free(tid);
    return 0;
}
