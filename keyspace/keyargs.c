/* keyargs.c — SET/GETEX and EXPIRE-family argument grammars (see keyargs.h). */
#include "keyargs.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "num.h"

static int is(const resp_arg *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && strncasecmp(a->ptr, s, n) == 0;
}

void keyargs_errtext(int code, const char *cmd, const resp_arg *opt, char *buf, size_t cap)
{
    switch (code) {
    case KEYARGS_SYNTAX: snprintf(buf, cap, "syntax error"); break;
    case KEYARGS_NOTINT: snprintf(buf, cap, "value is not an integer or out of range"); break;
    case KEYARGS_BADTIME: snprintf(buf, cap, "invalid expire time in '%s' command", cmd); break;
    case KEYARGS_UNSUPPORTED: {
        const char *nul = memchr(opt->ptr, '\0', opt->len);
        size_t n = nul ? (size_t)(nul - opt->ptr) : opt->len;
        snprintf(buf, cap, "Unsupported option %.*s", (int)n, opt->ptr);
        break;
    }
    case KEYARGS_NX_AND:
        snprintf(buf, cap, "NX and XX, GT or LT options at the same time are not compatible");
        break;
    case KEYARGS_GT_AND_LT:
        snprintf(buf, cap, "GT and LT options at the same time are not compatible");
        break;
    default: snprintf(buf, cap, "ok"); break;
    }
}

int keyargs_set(const resp_arg *argv, int argc, int from, int getex, int *flags,
                int *expire_arg)
{
    static const struct { const char *name; int flag; } expiry[] = {
        {"ex", SET_EX}, {"px", SET_PX}, {"exat", SET_EXAT}, {"pxat", SET_PXAT}};
    int fl = 0;
    *expire_arg = 0;
    for (int i = from; i < argc; i++) {
        const resp_arg *a = &argv[i];
        int has_next = i + 1 < argc, f = 0;
        if (!getex && is(a, "nx") && !(fl & SET_XX))
            f = SET_NX;
        else if (!getex && is(a, "xx") && !(fl & SET_NX))
            f = SET_XX;
        else if (!getex && is(a, "get"))
            f = SET_GET;
        else if (!getex && is(a, "keepttl") && !(fl & (SET_EXPIRES | SET_PERSIST)))
            f = SET_KEEPTTL;
        else if (getex && is(a, "persist") && !(fl & (SET_EXPIRES | SET_KEEPTTL)))
            f = SET_PERSIST;
        else if (has_next) {
            for (size_t e = 0; e < sizeof expiry / sizeof *expiry; e++) {
                int others = SET_EXPIRES & ~expiry[e].flag;
                if (is(a, expiry[e].name) && !(fl & (others | SET_KEEPTTL | SET_PERSIST))) {
                    f = expiry[e].flag;
                    *expire_arg = ++i;
                    break;
                }
            }
        }
        if (!f)
            return KEYARGS_SYNTAX;
        fl |= f;
    }
    *flags = fl;
    return KEYARGS_OK;
}

int keyargs_set_expire(const resp_arg *a, int unit, long long now, long long *at)
{
    long long v;
    if (!num_str2ll(a->ptr, a->len, &v))
        return KEYARGS_NOTINT;
    int seconds = unit & (SET_EX | SET_EXAT);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000))
        return KEYARGS_BADTIME;
    if (seconds)
        v *= 1000;
    if (unit & (SET_EX | SET_PX)) {
        if (v > LLONG_MAX - now)
            return KEYARGS_BADTIME;
        v += now;
    }
    *at = v;
    return KEYARGS_OK;
}

int keyargs_expire_options(const resp_arg *argv, int argc, int *flags, int *bad)
{
    static const struct { const char *name; int flag; } opts[] = {
        {"nx", EXPIRE_NX}, {"xx", EXPIRE_XX}, {"gt", EXPIRE_GT}, {"lt", EXPIRE_LT}};
    int fl = 0;
    for (int i = 3; i < argc; i++) {
        int f = 0;
        for (size_t o = 0; o < sizeof opts / sizeof *opts && !f; o++)
            if (is(&argv[i], opts[o].name))
                f = opts[o].flag;
        if (!f) {
            *bad = i;
            return KEYARGS_UNSUPPORTED;
        }
        fl |= f;
    }
    if ((fl & EXPIRE_NX) && (fl & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)))
        return KEYARGS_NX_AND;
    if ((fl & EXPIRE_GT) && (fl & EXPIRE_LT))
        return KEYARGS_GT_AND_LT;
    *flags = fl;
    return KEYARGS_OK;
}

int keyargs_expire_time(const resp_arg *a, int seconds, long long basetime, long long *when)
{
    long long w;
    if (!num_str2ll(a->ptr, a->len, &w))
        return KEYARGS_NOTINT;
    if (seconds) {
        if (w > LLONG_MAX / 1000 || w < LLONG_MIN / 1000)
            return KEYARGS_BADTIME;
        w *= 1000;
    }
    if (w > LLONG_MAX - basetime)
        return KEYARGS_BADTIME;
    *when = w + basetime;
    return KEYARGS_OK;
}

int keyargs_expire_refused(int flags, int has_ttl, long long cur, long long when)
{
    return ((flags & EXPIRE_NX) && has_ttl) || ((flags & EXPIRE_XX) && !has_ttl) ||
           ((flags & EXPIRE_GT) && (!has_ttl || when <= cur)) ||
           ((flags & EXPIRE_LT) && has_ttl && when >= cur);
}
