/* util.c — clocks, Redis's strict number parsing and word splitting, shared by the
 * server's modules. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "srv.h"
#include "util.h"

uint64_t srv_hash64(uint64_t seed, const void *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
    return h;
}

uint64_t srv_ustime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Why not clock_gettime for every command: under a paravirtual clock (kvm-clock here) it
 * reads the counter behind a fence that waits for every read in flight, and the writer
 * keeps reads in flight on purpose (ox_txn_prefetch): the two reads around each command
 * took 8% of the writer's time under LPUSH -P 16. rdtsc alone does not wait. */
static int ticks_tsc;              /* srv_ticks reads the time-stamp counter */
static uint64_t ticks_t0, ticks_ns0; /* srv_ticks_init's start */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 1 if /proc/cpuinfo's flags have word w. */
static int cpu_flag(const char *w)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[16384];
    int found = 0;
    size_t n = strlen(w);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5))
            continue;
        for (const char *p = strstr(line, w); p && !found; p = strstr(p + 1, w))
            found = p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || !p[n]);
        break;
    }
    if (f)
        fclose(f);
    return found;
}

void srv_ticks_init(void)
{
#if defined(__x86_64__)
    ticks_tsc = cpu_flag("constant_tsc") && cpu_flag("nonstop_tsc");
#else
    (void)cpu_flag;
#endif
    ticks_ns0 = mono_ns();
    ticks_t0 = srv_ticks();
}

uint64_t srv_ticks(void)
{
#if defined(__x86_64__)
    if (ticks_tsc)
        return __rdtsc();
#endif
    return mono_ns();
}

uint64_t srv_ticks_us(uint64_t ticks)
{
    if (!ticks_tsc)
        return ticks / 1000u;
    uint64_t dt = srv_ticks() - ticks_t0, dns = mono_ns() - ticks_ns0;
    return dt ? (uint64_t)((double)ticks * ((double)dns / (double)dt) / 1000.0) : 0;
}

uint64_t srv_random64(void)
{
    static _Thread_local uint64_t state;
    if (!state)
        state = (srv_ustime() ^ (uint64_t)(uintptr_t)&state) | 1;
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t srv_mstime(void)
{
    return srv_ustime() / 1000u;
}

uint64_t srv_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t srv_monotonic_ms(void)
{
    return srv_monotonic_us() / 1000u;
}

void srv_pairs_add(srv_pairs *p, const void *a, size_t alen, const void *b, size_t blen)
{
    size_t need = p->len + 2 * sizeof(size_t) + alen + blen;
    if (need > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < need)
            cap *= 2;
        p->buf = srv_xrealloc(p->buf, cap);
        p->cap = cap;
    }
    unsigned char *q = p->buf + p->len;
    memcpy(q, &alen, sizeof alen);
    memcpy(q + sizeof alen, &blen, sizeof blen);
    if (alen)
        memcpy(q + 2 * sizeof(size_t), a, alen);
    if (blen)
        memcpy(q + 2 * sizeof(size_t) + alen, b, blen);
    p->len = need;
    p->n++;
}

int srv_pairs_next(const srv_pairs *p, size_t *off, ox_val *a, ox_val *b)
{
    if (*off >= p->len)
        return 0;
    const unsigned char *q = p->buf + *off;
    size_t alen, blen;
    memcpy(&alen, q, sizeof alen);
    memcpy(&blen, q + sizeof alen, sizeof blen);
    *a = (ox_val){q + 2 * sizeof(size_t), alen};
    *b = (ox_val){q + 2 * sizeof(size_t) + alen, blen};
    *off += 2 * sizeof(size_t) + alen + blen;
    return 1;
}

void srv_pairs_free(srv_pairs *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}


static void *out_of_memory(size_t n)
{
    fprintf(stderr, "oxistore: out of memory allocating %zu bytes\n", n);
    abort();
}

void *srv_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    return p ? p : out_of_memory(n);
}

void *srv_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : out_of_memory(n * size);
}

void *srv_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : out_of_memory(n);
}

int srv_next_word(const char **p, const char *end, const char **w, size_t *n)
{
    while (*p < end && **p == ' ')
        (*p)++;
    if (*p == end)
        return 0;
    *w = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    *n = (size_t)(*p - *w);
    return 1;
}

int srv_next_part(const char **p, const char *end, const char *sep, const char **s, size_t *n)
{
    size_t sl = strlen(sep);
    const char *e = *p;
    if (*p >= end)
        return 0;
    while (e + sl <= end && memcmp(e, sep, sl))
        e++;
    if (e + sl > end)
        e = end;
    *s = *p;
    *n = (size_t)(e - *p);
    *p = e == end ? end : e + sl;
    return 1;
}

void srv_text_add(srv_text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0 || t->oom)
            return;
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}
