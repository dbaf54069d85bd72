/* num.c — Redis's number texts: the strict integer and long double parsers of its
 * util.c, and the formats it writes scores and INCRBYFLOAT results in. Pure functions,
 * any thread; shared by the server and oxistore-check (restore parses what dump wrote). */
#include "num.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As Redis's string2ll (util.c): optional '-', no leading zeros, no '+', no spaces. */
int num_str2ll(const char *s, size_t len, long long *out)
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
int num_str2ld(const char *s, size_t len, long double *out)
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
int num_ld2str(char *buf, size_t cap, long double v)
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

int num_ll_add(long long a, long long b, long long *out)
{
    if ((b < 0 && a < 0 && b < LLONG_MIN - a) || (b > 0 && a > 0 && b > LLONG_MAX - a))
        return 0;
    *out = a + b;
    return 1;
}

int num_d2str(char *buf, double d, int whole)
{
    if (isinf(d))
        return snprintf(buf, 32, "%s", d > 0 ? "inf" : "-inf");
    /* Redis's double2ll: plain digits within +-(LLONG_MAX / 2), as a double 2^62 */
    if (whole && d >= -4611686018427387904.0 && d <= 4611686018427387904.0 &&
        d == (double)(long long)d)
        return snprintf(buf, 32, "%lld", (long long)d);
    return snprintf(buf, 32, "%.17g", d);
}
