/* Helpers shared by the liboxistore tests: scratch paths, a fake clock, quick open. */
#ifndef OX_LIB_UTIL_H
#define OX_LIB_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oxistore.h"

/* A path under the test's scratch directory (OX_TEST_DIR, else the cwd). Static buffer
 * rotation: up to 4 results live at once. */
static inline const char *u_path(const char *name)
{
    static char bufs[4][512];
    static int next;
    const char *dir = getenv("OX_TEST_DIR");
    char *b = bufs[next++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", dir ? dir : ".", name);
    return b;
}

typedef struct u_clock {
    uint64_t now;
} u_clock;

static inline uint64_t u_clock_fn(void *ctx)
{
    return ((u_clock *)ctx)->now;
}

/* Opens name under the scratch dir with a fake clock (clk may be NULL for real time). */
static inline int u_open(const char *name, u_clock *clk, ox_store **s)
{
    ox_options o;
    ox_options_init(&o);
    if (clk) {
        o.clock = u_clock_fn;
        o.clock_ctx = clk;
    }
    return ox_store_open(u_path(name), &o, s);
}

/* Formats a key into buf and returns its length (call it as a statement of its own: an
 * argument list does not order the formatting before a use of buf). */
#define U_KEY(buf, fmt, ...) ((size_t)snprintf((buf), sizeof(buf), (fmt), __VA_ARGS__))

#endif
