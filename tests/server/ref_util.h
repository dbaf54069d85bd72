/* The reference: a real redis-server 7.0 (Debian's) started by a test on a free loopback
 * port, without persistence, and the comparison of its replies with oxistore's. */
#ifndef OX_REF_UTIL_H
#define OX_REF_UTIL_H

#include <fcntl.h>

#include "srv_util.h"

/* Starts redis-server in <OX_TEST_DIR>/<name>; 0 once it answers PING, -1 otherwise. It
 * dies with the test process. Stop it with ref_stop. */
static inline int ref_start(srvp *p, const char *name)
{
    const char *base = getenv("OX_TEST_DIR") ? getenv("OX_TEST_DIR") : ".";
    p->port = sp_free_port();
    snprintf(p->dir, sizeof p->dir, "%s/%s", base, name);
    mkdir(p->dir, 0755);
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    p->pid = fork();
    if (p->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        sp_die_with_parent();
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", p->dir, "--daemonize", "no",
               (char *)NULL);
        _exit(127);
    }
    return p->pid > 0 ? sp_wait_ready(p->port, p->pid) : -1;
}

static inline void ref_stop(srvp *p)
{
    if (p->pid > 0)
        sp_stop(p);
}

/* 1 if the two replies are the same tree; non-negative integers may differ by tol (-1
 * and -2, "no expiry" and "no key", must be the same). */
static inline int ref_same_reply(const redisReply *a, const redisReply *b, long long tol)
{
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case REDIS_REPLY_INTEGER:
        if (a->integer < 0 || b->integer < 0)
            return a->integer == b->integer;
        return llabs(a->integer - b->integer) <= tol;
    case REDIS_REPLY_NIL: return 1;
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements)
            return 0;
        for (size_t i = 0; i < a->elements; i++)
            if (!ref_same_reply(a->element[i], b->element[i], tol))
                return 0;
        return 1;
    default: return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    }
}

static inline int ref_reply_cmp(const void *pa, const void *pb)
{
    const redisReply *a = *(redisReply *const *)pa, *b = *(redisReply *const *)pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->str, b->str, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Sorts KEYS' array, or SCAN's key array, in place: a set compared with another (the two
 * servers' orders differ). */
static inline void ref_canonical(redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY)
        r = r->element[1];
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 1)
        qsort(r->element, r->elements, sizeof *r->element, ref_reply_cmp);
}

#endif
