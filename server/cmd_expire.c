/* cmd_expire.c — the expiry commands, with Redis 7.0's semantics (expire.c):
 * EXPIRE PEXPIRE EXPIREAT PEXPIREAT [NX|XX|GT|LT], TTL PTTL EXPIRETIME PEXPIRETIME,
 * PERSIST. The library keeps a key's expiry time in its record and in the table's expiry
 * index and hides the key from every read once the time has passed; reclaiming it is the
 * writer's active expiry (expire.c). */
#include <limits.h>
#include <string.h>

#include "cmd.h"

enum { EXPIRE_NX = 1, EXPIRE_XX = 2, EXPIRE_GT = 4, EXPIRE_LT = 8 };

/* The options after the time, as Redis's parseExtendedExpireArgumentsOrReply: any order,
 * repeats allowed, the incompatible pairs refused after the whole list was read. The
 * flags, or -1 after replying. */
static int expire_options_or_reply(cmd_ctx *x)
{
    static const struct { const char *name; int flag; } opts[] = {
        {"nx", EXPIRE_NX}, {"xx", EXPIRE_XX}, {"gt", EXPIRE_GT}, {"lt", EXPIRE_LT}};
    int flags = 0;
    for (int i = 3; i < x->argc; i++) {
        const resp_arg *a = &x->argv[i];
        int f = 0;
        for (size_t o = 0; o < sizeof opts / sizeof *opts && !f; o++)
            if (cmd_is(a, opts[o].name))
                f = opts[o].flag;
        if (!f) {
            /* Redis formats the option as a C string: it ends at a NUL byte. */
            const char *nul = memchr(a->ptr, '\0', a->len);
            size_t n = nul ? (size_t)(nul - a->ptr) : a->len;
            resp_write_errorf(x->out, "-ERR Unsupported option %.*s", (int)n, a->ptr);
            return -1;
        }
        flags |= f;
    }
    if ((flags & EXPIRE_NX) && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        cmd_err(x, "-ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((flags & EXPIRE_GT) && (flags & EXPIRE_LT)) {
        cmd_err(x, "-ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    return flags;
}

static void expire_time_error(cmd_ctx *x)
{
    resp_write_errorf(x->out, "-ERR invalid expire time in '%s' command", x->cmd->name);
}

/* 1 if the options forbid the change: has_ttl says whether the key has an expiry time,
 * cur is that time. A key without one counts as never expiring, so GT never passes and
 * LT always does (as in Redis). */
static int expire_refused(int flags, int has_ttl, long long cur, long long when)
{
    return ((flags & EXPIRE_NX) && has_ttl) || ((flags & EXPIRE_XX) && !has_ttl) ||
           ((flags & EXPIRE_GT) && (!has_ttl || when <= cur)) ||
           ((flags & EXPIRE_LT) && has_ttl && when >= cur);
}

/* As Redis's expireGenericCommand: options first, then the number, then the overflow
 * checks of the unit conversion and of adding basetime (ms; 0 for the ...AT forms), and
 * only then the key. A time not in the future deletes the key (and replies 1). */
static void expire_generic(cmd_ctx *x, long long basetime, int seconds)
{
    int flags = expire_options_or_reply(x);
    long long when;
    if (flags < 0 || cmd_ll_or_reply(x, &x->argv[2], &when))
        return;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            expire_time_error(x);
            return;
        }
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) {
        expire_time_error(x);
        return;
    }
    when += basetime;
    const resp_arg *k = &x->argv[1];
    uint64_t cur = 0;
    int rc = ox_txn_expire_time(x->txn, x->table, k->ptr, k->len, &cur);
    if (rc == OX_NOTFOUND) {
        resp_write_int(x->out, 0);
        return;
    }
    if (rc != OX_OK && rc != OX_NOTTL) {
        cmd_store_error(x, rc);
        return;
    }
    /* Stored times come from these commands and SET/GETEX, all bounded by LLONG_MAX. */
    if (expire_refused(flags, rc == OX_OK, (long long)cur, when)) {
        resp_write_int(x->out, 0);
        return;
    }
    /* The key may expire between the lookup above and the write (the clock ticked):
     * deleting it then is still what was asked; a new time cannot revive it. */
    if (when <= (long long)srv_mstime()) {
        rc = ox_txn_delete(x->txn, x->table, k->ptr, k->len);
        if (rc == OX_OK)
            watch_touch(x->dbi, k->ptr, k->len);
        if (rc == OX_NOTFOUND)
            rc = OX_OK;
    } else {
        rc = ox_txn_expire_at(x->txn, x->table, k->ptr, k->len, (uint64_t)when);
        if (rc == OX_NOTFOUND) {
            resp_write_int(x->out, 0);
            return;
        }
        if (rc == OX_OK)
            watch_touch(x->dbi, k->ptr, k->len);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, 1);
}

void cmd_expire(cmd_ctx *x) { expire_generic(x, (long long)srv_mstime(), 1); }
void cmd_pexpire(cmd_ctx *x) { expire_generic(x, (long long)srv_mstime(), 0); }
void cmd_expireat(cmd_ctx *x) { expire_generic(x, 0, 1); }
void cmd_pexpireat(cmd_ctx *x) { expire_generic(x, 0, 0); }

/* As Redis's ttlGenericCommand: -2 no key, -1 no expiry time, else the remaining time
 * (or, absolute, the expiry time itself), in ms or in seconds rounded to the nearest.
 * The rounding is done unsigned: Redis's own build does so for a time near LLONG_MAX
 * (EXPIRETIME after PEXPIREAT k 9223372036854775807 is 9223372036854776). */
static void ttl_generic(cmd_ctx *x, int ms, int absolute)
{
    uint64_t at;
    int rc = cmd_expire_time(x, &x->argv[1], &at);
    if (rc == OX_NOTFOUND || rc == OX_NOTTL) {
        resp_write_int(x->out, rc == OX_NOTFOUND ? -2 : -1);
        return;
    }
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    uint64_t now = srv_mstime();
    uint64_t t = absolute ? at : at > now ? at - now : 0;
    resp_write_int(x->out, (long long)(ms ? t : (t + 500) / 1000));
}

void cmd_ttl(cmd_ctx *x) { ttl_generic(x, 0, 0); }
void cmd_pttl(cmd_ctx *x) { ttl_generic(x, 1, 0); }
void cmd_expiretime(cmd_ctx *x) { ttl_generic(x, 0, 1); }
void cmd_pexpiretime(cmd_ctx *x) { ttl_generic(x, 1, 1); }

void cmd_persist(cmd_ctx *x)
{
    const resp_arg *k = &x->argv[1];
    int rc = ox_txn_persist(x->txn, x->table, k->ptr, k->len);
    if (rc == OX_OK)
        watch_touch(x->dbi, k->ptr, k->len);
    if (rc == OX_OK || rc == OX_NOTFOUND || rc == OX_NOTTL)
        resp_write_int(x->out, rc == OX_OK);
    else
        cmd_store_error(x, rc);
}
