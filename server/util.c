/* util.c — clocks and Redis's strict number parsing, shared by the server's modules. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv.h"

uint64_t srv_ustime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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

/* As Redis's string2ll (util.c): optional '-', no leading zeros, no '+', no spaces. */
int srv_str2ll(const char *s, size_t len, long long *out)
{
    const char *p = s;
    size_t plen = 0;
    int negative = 0;
    unsigned long long v;
    if (len == 0 || len > 20)
        return 0;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return 1;
    }
    if (p[0] == '-') {
        negative = 1;
        p++;
        plen++;
        if (plen == len)
            return 0;
    }
    if (p[0] >= '1' && p[0] <= '9') {
        v = (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    } else {
        return 0;
    }
    while (plen < len && p[0] >= '0' && p[0] <= '9') {
        if (v > ULLONG_MAX / 10)
            return 0;
        v *= 10;
        if (v > ULLONG_MAX - (unsigned long long)(p[0] - '0'))
            return 0;
        v += (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    }
    if (plen < len)
        return 0;
    if (negative) {
        if (v > (unsigned long long)(-(LLONG_MIN + 1)) + 1)
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

/* As Redis's string2ld: strtold on the whole string, no leading space, not NaN. */
int srv_str2ld(const char *s, size_t len, long double *out)
{
    char buf[5120];
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n' || buf[0] == '\r' ||
        buf[0] == '\v' || buf[0] == '\f')
        return 0;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != len || (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL ||
                                                          v == 0)) ||
        isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* As Redis's ld2string in LD_STR_HUMAN mode: "%.17Lf" without trailing zeros. */
int srv_ld2str(char *buf, size_t cap, long double v)
{
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n <= 0 || (size_t)n >= cap)
        return -1;
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') /* "-0" reads as "0" in Redis */
        buf[0] = '0', n = 1;
    buf[n] = '\0';
    return n;
}

int srv_ll_add(long long a, long long b, long long *out)
{
    if ((b < 0 && a < 0 && b < LLONG_MIN - a) || (b > 0 && a > 0 && b > LLONG_MAX - a))
        return 0;
    *out = a + b;
    return 1;
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

int srv_d2str(char *buf, double d, int whole)
{
    if (isinf(d))
        return snprintf(buf, 32, "%s", d > 0 ? "inf" : "-inf");
    if (whole && d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d)
        return snprintf(buf, 32, "%lld", (long long)d);
    return snprintf(buf, 32, "%.17g", d);
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
