/* cmd_expire.c — the expiry commands, with Redis 7.0's semantics (expire.c):
 * EXPIRE PEXPIRE EXPIREAT PEXPIREAT [NX|XX|GT|LT], TTL PTTL EXPIRETIME PEXPIRETIME,
 * PERSIST. The library keeps a key's expiry time in its record and in the table's expiry
 * index and hides the key from every read once the time has passed; reclaiming it is the
 * writer's active expiry (expire.c). */

#include "cmd.h"
#include "db.h"
#include "keyargs.h"
#include "util.h"

/* As Redis's expireGenericCommand: options first, then the number, then the overflow
 * checks of the unit conversion and of adding basetime (ms; 0 for the ...AT forms), and
 * only then the key. A time not in the future deletes the key (and replies 1). */
static void expire_generic(cmd_ctx *x, long long basetime, int seconds)
{
    int flags = 0, bad = 0;
    long long when;
    int rc = keyargs_expire_options(x->argv, x->argc, &flags, &bad);
    if (rc == KEYARGS_OK)
        rc = keyargs_expire_time(&x->argv[2], seconds, basetime, &when);
    if (rc) {
        cmd_keyargs_error(x, rc, &x->argv[bad]);
        return;
    }
    const resp_arg *k = &x->argv[1];
    uint64_t cur = 0;
    rc = db_expire_time(x, k, &cur);
    if (rc == OX_NOTFOUND) {
        resp_write_int(x->out, 0);
        return;
    }
    if (rc != OX_OK && rc != OX_NOTTL) {
        cmd_store_error(x, rc);
        return;
    }
    /* Stored times come from these commands and SET/GETEX, all bounded by LLONG_MAX. */
    if (keyargs_expire_refused(flags, rc == OX_OK, (long long)cur, when)) {
        resp_write_int(x->out, 0);
        return;
    }
    /* The key may expire between the lookup above and the write (the clock ticked):
     * deleting it then is still what was asked; a new time cannot revive it. */
    if (when <= (long long)srv_mstime()) {
        rc = db_delete(x, x->dbi, k);
        if (rc == OX_OK)
            cmd_notify(x, CONF_NOTIFY_GENERIC, "del", k);
        if (rc == OX_NOTFOUND)
            rc = OX_OK;
    } else {
        rc = db_expire_at(x, k, (uint64_t)when);
        if (rc == OX_NOTFOUND) {
            resp_write_int(x->out, 0);
            return;
        }
        if (rc == OX_OK)
            cmd_notify(x, CONF_NOTIFY_GENERIC, "expire", k);
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
    int rc = db_expire_time(x, &x->argv[1], &at);
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
    int rc = db_persist(x, k);
    if (rc == OX_OK)
        cmd_notify(x, CONF_NOTIFY_GENERIC, "persist", k);
    if (rc == OX_OK || rc == OX_NOTFOUND || rc == OX_NOTTL)
        resp_write_int(x->out, rc == OX_OK);
    else
        cmd_store_error(x, rc);
}
