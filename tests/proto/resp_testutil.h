/* Helpers shared by the proto tests: a growable string, escaping, a failing allocator. */
#ifndef RESP_TESTUTIL_H
#define RESP_TESTUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static inline void sb_add(sbuf *s, const void *data, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        if (!s->p) abort();
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static inline void sb_str(sbuf *s, const char *str)
{
    sb_add(s, str, strlen(str));
}

/* Appends bytes with everything but printable ASCII other than '|' ';' '\' as \xHH. */
static inline void sb_escaped(sbuf *s, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c > 0x20 && c < 0x7f && c != '|' && c != ';' && c != '\\') {
            sb_add(s, &p[i], 1);
        } else {
            char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
            sb_add(s, e, 4);
        }
    }
}

static inline void sb_free(sbuf *s)
{
    free(s->p);
    s->p = NULL;
    s->len = s->cap = 0;
}

/* Deterministic PRNG (xorshift64*), so random splits are the same on every run. */
static inline uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st ? *st : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* An allocator whose fail_at-th call (1-based) fails; 0 never fails. */
typedef struct failing_alloc {
    long calls;
    long fail_at;
    long live;
} failing_alloc;

static inline void *fa_resize(void *ctx, void *ptr, size_t size)
{
    failing_alloc *f = ctx;
    void *r;
    if (++f->calls == f->fail_at) return NULL;
    r = realloc(ptr, size ? size : 1);
    if (r && !ptr) f->live++;
    return r;
}

static inline void fa_release(void *ctx, void *ptr)
{
    failing_alloc *f = ctx;
    if (ptr) f->live--;
    free(ptr);
}

static inline resp_allocator fa_allocator(failing_alloc *f)
{
    resp_allocator a = { fa_resize, fa_release, f };
    return a;
}

enum feed_mode { FEED_WHOLE, FEED_BYTES, FEED_RANDOM, FEED_RESERVE };

typedef void (*on_cmd_fn)(void *ctx, const resp_cmd *c);

/* Feeds in[0..len) to p: whole, byte by byte, in random chunks of 1 to 24 bytes, or in
 * such chunks through resp_parser_reserve (random want) + commit; hands every command to
 * on_cmd as soon as it is complete. RESP_ENOMEM is retried: a failed call must have taken
 * nothing. Returns RESP_EPROTO, or RESP_AGAIN once everything was fed. */
static inline int feed_all(resp_parser *p, const void *in, size_t len, enum feed_mode mode,
                           uint64_t seed, on_cmd_fn on_cmd, void *ctx)
{
    const char *s = in;
    size_t off = 0;
    int rc = RESP_AGAIN;
    resp_cmd c;

    while (off < len) {
        size_t n = len - off;
        if (mode == FEED_BYTES) n = 1;
        if (mode == FEED_RANDOM || mode == FEED_RESERVE) {
            size_t r = 1 + (size_t)(rng_next(&seed) % 24);
            if (r < n) n = r;
        }
        if (mode == FEED_RESERVE) {
            void *dst;
            size_t room;
            rc = resp_parser_reserve(p, (size_t)(rng_next(&seed) % 100), &dst, &room);
            if (rc == RESP_ENOMEM) continue;
            if (rc) return rc;
            if (room == 0) abort();
            if (n > room) n = room;
            memcpy(dst, s + off, n);
            if (resp_parser_commit(p, n)) abort();
        } else {
            rc = resp_parser_feed(p, s + off, n);
            if (rc == RESP_ENOMEM) continue;
            if (rc) return rc;
        }
        off += n;
        while ((rc = resp_parser_next(p, &c)) != RESP_AGAIN) {
            if (rc == RESP_OK) on_cmd(ctx, &c);
            else if (rc != RESP_ENOMEM) return rc;
        }
    }
    return rc;
}

#endif
