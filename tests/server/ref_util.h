/* Comparing oxistore's replies with the reference's: a real redis-server 7.0 (Debian's)
 * that a test starts with sp_start_redis (srv_util.h). */
#ifndef OX_REF_UTIL_H
#define OX_REF_UTIL_H

#include "srv_util.h"

/* Stops the reference started with sp_start_redis (if it started). */
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
