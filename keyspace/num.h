/* num.h — Redis's number texts, both ways: what a command's integer or float argument
 * must look like, and how scores and INCRBYFLOAT results are written. Pure functions of
 * their arguments: any thread, nothing allocated. Returns: 1 ok / 0 refused for the
 * parsers and the sum, a length for the formatters. */
#ifndef NUM_H
#define NUM_H

#include <stddef.h>

/* Redis's string2ll: strict decimal, no spaces, no '+', fits in long long. 1 if ok. */
int num_str2ll(const char *s, size_t len, long long *out);
/* Redis's string2ld-based parsing for INCRBYFLOAT: 1 if ok. */
int num_str2ld(const char *s, size_t len, long double *out);
/* Redis's ld2string in LD_STR_HUMAN mode ("%.17Lf" without trailing zeros) into buf:
 * the length, or -1 if it does not fit. */
int num_ld2str(char *buf, size_t cap, long double v);
/* A sorted set's score as Redis writes it in text ("%.17g"; "inf", "-inf"), into buf
 * (room for 32): its length. whole: an integral score within +-2^62 in plain digits (what
 * ZSCAN shows of Redis 7.0's listpack sorted sets). */
int num_d2str(char *buf, double d, int whole);
/* *out = a + b: 1, or 0 (and *out untouched) if it would overflow. */
int num_ll_add(long long a, long long b, long long *out);

#endif
