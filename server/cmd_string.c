/* cmd_string.c — string commands, with Redis 7.0's semantics (t_string.c). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "keyargs.h"
#include "num.h"
#include "util.h"

/* As Redis's getExpireMillisecondsOrReply: the absolute expiry time in ms, or -1 after
 * replying. */
static long long expire_or_reply(cmd_ctx *x, const resp_arg *a, int unit)
{
    long long at;
    int rc = keyargs_set_expire(a, unit, (long long)srv_mstime(), &at);
    if (rc) {
        cmd_keyargs_error(x, rc, NULL);
        return -1;
    }
    return at;
}

/* SET/GETEX options from argv[from] (keyargs_set): the flags, with *at the expiry time
 * (0 = none), or -1 after replying. The expiry value is checked after the whole syntax,
 * as Redis does. */
static int parse_set_options(cmd_ctx *x, int from, int getex, long long *at)
{
    int flags, expire_arg;
    *at = 0;
    int rc = keyargs_set(x->argv, x->argc, from, getex, &flags, &expire_arg);
    if (rc) {
        cmd_keyargs_error(x, rc, NULL);
        return -1;
    }
    if (expire_arg &&
        (*at = expire_or_reply(x, &x->argv[expire_arg], flags & SET_EXPIRES)) < 0)
        return -1;
    return flags;
}

/* The SET family's common path: optional old-value reply (GET), condition, write. */
static void set_generic(cmd_ctx *x, const resp_arg *key, const resp_arg *val, int flags,
                        long long at, int reply_int)
{
    unsigned pf = (flags & SET_KEEPTTL) ? OX_PUT_KEEPTTL : 0;
    if (flags & SET_GET) { /* the old value is the reply: read it first */
        ox_val old;
        int exists = db_get_string_or_reply(x, key, &old);
        if (exists < 0)
            return;
        if (exists)
            resp_write_bulk(x->out, old.data, old.len);
        else
            resp_write_null(x->out);
        if (((flags & SET_NX) && exists) || ((flags & SET_XX) && !exists))
            return;
    } else { /* one lookup: the put itself checks NX and XX */
        pf |= (flags & SET_NX) ? OX_PUT_NOOVERWRITE : 0;
        pf |= (flags & SET_XX) ? OX_PUT_ONLYIFEXISTS : 0;
    }
    int rc = db_put_string(x, key, val->ptr, val->len, (uint64_t)at, pf);
    if (rc == OX_OK) {
        cmd_notify(x, CONF_NOTIFY_STRING, "set", key);
        if (at)
            cmd_notify(x, CONF_NOTIFY_GENERIC, "expire", key);
    }
    if (flags & SET_GET)
        return; /* replied already; a failed write fails the whole commit */
    if ((rc == OX_ECONFLICT && (flags & SET_NX)) || (rc == OX_NOTFOUND && (flags & SET_XX))) {
        if (reply_int)
            resp_write_int(x->out, 0);
        else
            resp_write_null(x->out);
    } else if (rc != OX_OK) {
        cmd_store_error(x, rc);
    } else if (reply_int) {
        resp_write_int(x->out, 1);
    } else {
        cmd_ok(x);
    }
}

void cmd_set(cmd_ctx *x)
{
    long long at;
    int flags = parse_set_options(x, 3, 0, &at);
    if (flags >= 0)
        set_generic(x, &x->argv[1], &x->argv[2], flags, at, 0);
}

void cmd_setnx(cmd_ctx *x)
{
    set_generic(x, &x->argv[1], &x->argv[2], SET_NX, 0, 1);
}

static void setex_generic(cmd_ctx *x, int unit)
{
    long long at = expire_or_reply(x, &x->argv[2], unit);
    if (at >= 0)
        set_generic(x, &x->argv[1], &x->argv[3], 0, at, 0);
}

void cmd_setex(cmd_ctx *x) { setex_generic(x, SET_EX); }
void cmd_psetex(cmd_ctx *x) { setex_generic(x, SET_PX); }

void cmd_getset(cmd_ctx *x)
{
    set_generic(x, &x->argv[1], &x->argv[2], SET_GET, 0, 0);
}

void cmd_get_(cmd_ctx *x)
{
    ox_val v;
    int found = db_get_string_or_reply(x, &x->argv[1], &v);
    if (found > 0)
        resp_write_bulk(x->out, v.data, v.len);
    else if (found == 0)
        resp_write_null(x->out);
}

void cmd_getdel(cmd_ctx *x)
{
    const resp_arg *k = &x->argv[1];
    ox_val v;
    int found = db_get_string_or_reply(x, k, &v);
    if (found == 0)
        resp_write_null(x->out);
    if (found <= 0)
        return;
    resp_write_bulk(x->out, v.data, v.len);
    if (db_delete(x, x->dbi, k) == OX_OK)
        cmd_notify(x, CONF_NOTIFY_GENERIC, "del", k);
}

void cmd_getex(cmd_ctx *x)
{
    long long at = 0;
    int flags, expire_arg;
    /* Redis's order: the syntax, the key (nil, WRONGTYPE), then the expire value. */
    int rc = keyargs_set(x->argv, x->argc, 2, 1, &flags, &expire_arg);
    if (rc) {
        cmd_keyargs_error(x, rc, NULL);
        return;
    }
    const resp_arg *k = &x->argv[1];
    ox_val v;
    int found = db_get_string_or_reply(x, k, &v);
    if (found == 0)
        resp_write_null(x->out);
    if (found <= 0 ||
        (expire_arg && (at = expire_or_reply(x, &x->argv[expire_arg], flags & SET_EXPIRES)) < 0))
        return;
    resp_write_bulk(x->out, v.data, v.len);
    rc = OX_NOTTL; /* GETEX without an option changes nothing */
    const char *event = flags & SET_PERSIST ? "persist" : "expire";
    if (flags & SET_PERSIST) {
        rc = db_persist(x, k);
    } else if ((flags & SET_EXPIRES) && at <= (long long)srv_mstime()) {
        rc = db_delete(x, x->dbi, k); /* a time past: gone, as Redis */
        event = "del";
    } else if (flags & SET_EXPIRES) {
        rc = db_expire_at(x, k, (uint64_t)at);
    }
    if (rc == OX_OK) /* PERSIST of a key without TTL is no change (OX_NOTTL) */
        cmd_notify(x, CONF_NOTIFY_GENERIC, event, k);
}

void cmd_mget(cmd_ctx *x)
{
    resp_write_array(x->out, (size_t)x->argc - 1);
    for (int i = 1; i < x->argc; i++) {
        ox_val v;
        if (db_get_string(x, &x->argv[i], &v) == OX_OK)
            resp_write_bulk(x->out, v.data, v.len);
        else
            resp_write_null(x->out);
    }
}

static void mset_generic(cmd_ctx *x, int nx)
{
    if (x->argc % 2 == 0) {
        cmd_reply_arity(x->out, x->cmd->name);
        return;
    }
    if (nx) {
        for (int i = 1; i < x->argc; i += 2) {
            ox_val v;
            if (db_read(x, x->table, &x->argv[i], &v, NULL, NULL) == OX_OK) {
                resp_write_int(x->out, 0);
                return;
            }
        }
    }
    for (int i = 1; i < x->argc; i += 2) {
        int rc = db_put_string(x, &x->argv[i], x->argv[i + 1].ptr, x->argv[i + 1].len, 0, 0);
        if (rc) {
            cmd_store_error(x, rc);
            return;
        }
        cmd_notify(x, CONF_NOTIFY_STRING, "set", &x->argv[i]);
    }
    if (nx)
        resp_write_int(x->out, 1);
    else
        cmd_ok(x);
}

void cmd_mset(cmd_ctx *x) { mset_generic(x, 0); }
void cmd_msetnx(cmd_ctx *x) { mset_generic(x, 1); }

/* Writes key = val keeping its TTL (INCR, APPEND, SETRANGE keep it, as in Redis), and
 * tells of it as event. */
static int put_keepttl(cmd_ctx *x, const resp_arg *k, const void *val, size_t len,
                       const char *event)
{
    int rc = db_put_string(x, k, val, len, 0, OX_PUT_KEEPTTL);
    if (rc)
        cmd_store_error(x, rc);
    else
        cmd_notify(x, CONF_NOTIFY_STRING, event, k);
    return rc;
}

static void incr_generic(cmd_ctx *x, long long by)
{
    const resp_arg *k = &x->argv[1];
    ox_val v;
    long long sum;
    char buf[32];
    int found = db_get_string_or_reply(x, k, &v), n;
    if (found >= 0 &&
        (n = cmd_int_add_or_reply(x, found ? &v : NULL, by,
                                  "-ERR value is not an integer or out of range", &sum, buf)) >= 0 &&
        put_keepttl(x, k, buf, (size_t)n, "incrby") == OX_OK)
        resp_write_int(x->out, sum);
}

void cmd_incr(cmd_ctx *x) { incr_generic(x, 1); }
void cmd_decr(cmd_ctx *x) { incr_generic(x, -1); }

void cmd_incrby(cmd_ctx *x)
{
    long long by;
    if (cmd_ll_or_reply(x, &x->argv[2], &by) == 0)
        incr_generic(x, by);
}

void cmd_decrby(cmd_ctx *x)
{
    long long by;
    if (cmd_ll_or_reply(x, &x->argv[2], &by))
        return;
    if (by == LLONG_MIN) {
        cmd_err(x, "-ERR decrement would overflow");
        return;
    }
    incr_generic(x, -by);
}

void cmd_incrbyfloat(cmd_ctx *x)
{
    const resp_arg *k = &x->argv[1];
    ox_val v;
    long double cur = 0, by;
    int found = db_get_string_or_reply(x, k, &v);
    if (found < 0)
        return;
    if (found && !num_str2ld(v.data, v.len, &cur)) {
        cmd_err(x, "-ERR value is not a valid float");
        return;
    }
    if (!num_str2ld(x->argv[2].ptr, x->argv[2].len, &by)) {
        cmd_err(x, "-ERR value is not a valid float");
        return;
    }
    char buf[5120];
    int n = cmd_float_add_or_reply(x, cur, by, buf, sizeof buf);
    if (n >= 0 && put_keepttl(x, k, buf, (size_t)n, "incrbyfloat") == OX_OK)
        resp_write_bulk(x->out, buf, (size_t)n);
}

/* Fails with Redis's error when a string would exceed proto-max-bulk-len. */
static int length_ok_or_reply(cmd_ctx *x, unsigned long long len)
{
    if (len <= (unsigned long long)srv.cfg.proto_max_bulk_len)
        return 1;
    cmd_err(x, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    return 0;
}

void cmd_append(cmd_ctx *x)
{
    const resp_arg *k = &x->argv[1], *add = &x->argv[2];
    ox_val v = {NULL, 0};
    int found = db_get_string_or_reply(x, k, &v);
    if (found < 0)
        return;
    if (!found)
        v.len = 0;
    if (!length_ok_or_reply(x, (unsigned long long)v.len + add->len))
        return;
    size_t total = v.len + add->len;
    char *buf = malloc(total ? total : 1);
    if (!buf) {
        cmd_store_error(x, OX_ENOMEM);
        return;
    }
    if (v.len)
        memcpy(buf, v.data, v.len);
    memcpy(buf + v.len, add->ptr, add->len);
    if (put_keepttl(x, k, buf, total, "append") == OX_OK)
        resp_write_int(x->out, (long long)total);
    free(buf);
}

void cmd_strlen(cmd_ctx *x)
{
    ox_val v;
    int found = db_get_string_or_reply(x, &x->argv[1], &v);
    if (found >= 0)
        resp_write_int(x->out, found ? (long long)v.len : 0);
}

void cmd_getrange(cmd_ctx *x)
{
    long long start, end;
    if (cmd_ll_or_reply(x, &x->argv[2], &start) || cmd_ll_or_reply(x, &x->argv[3], &end))
        return;
    ox_val v;
    int found = db_get_string_or_reply(x, &x->argv[1], &v);
    if (found == 0)
        resp_write_bulk(x->out, "", 0);
    if (found <= 0)
        return;
    if (!cmd_range_clamp(&start, &end, (long long)v.len))
        resp_write_bulk(x->out, "", 0);
    else
        resp_write_bulk(x->out, (const char *)v.data + start, (size_t)(end - start + 1));
}

void cmd_setrange(cmd_ctx *x)
{
    const resp_arg *k = &x->argv[1], *add = &x->argv[3];
    long long off;
    if (cmd_ll_or_reply(x, &x->argv[2], &off))
        return;
    if (off < 0) {
        cmd_err(x, "-ERR offset is out of range");
        return;
    }
    ox_val v = {NULL, 0};
    int found = db_get_string_or_reply(x, k, &v);
    if (found < 0)
        return;
    if (!found)
        v.len = 0;
    if (add->len == 0) { /* nothing to write: the length as it is, no key created */
        resp_write_int(x->out, (long long)v.len);
        return;
    }
    if (!length_ok_or_reply(x, (unsigned long long)off + add->len))
        return;
    size_t total = (size_t)off + add->len > v.len ? (size_t)off + add->len : v.len;
    char *buf = calloc(1, total);
    if (!buf) {
        cmd_store_error(x, OX_ENOMEM);
        return;
    }
    if (v.len)
        memcpy(buf, v.data, v.len);
    memcpy(buf + off, add->ptr, add->len);
    if (put_keepttl(x, k, buf, total, "setrange") == OX_OK)
        resp_write_int(x->out, (long long)total);
    free(buf);
}

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], as Redis 7.0: the classic
 * dynamic-programming table, then one walk back from its corner that builds the string
 * and the matching ranges (last ranges first; a match that does not continue the current
 * range closes it without opening a new one, exactly as Redis's walk does). */
void cmd_lcs(cmd_ctx *x)
{
    int getlen = 0, getidx = 0, withlen = 0;
    long long minlen = 0;
    /* Redis reads the keys first: a non-string one is its own error, before the options. */
    ox_val va = {"", 0}, vb = {"", 0};
    int fa = db_get_string(x, &x->argv[1], &va), fb = db_get_string(x, &x->argv[2], &vb);
    if (fa == DB_WRONGTYPE || fb == DB_WRONGTYPE) {
        cmd_err(x, "-ERR The specified keys must contain string values");
        return;
    }
    if ((fa != OX_OK && fa != OX_NOTFOUND) || (fb != OX_OK && fb != OX_NOTFOUND)) {
        cmd_store_error(x, fa != OX_OK && fa != OX_NOTFOUND ? fa : fb);
        return;
    }
    for (int i = 3; i < x->argc; i++) {
        if (cmd_is(&x->argv[i], "idx"))
            getidx = 1;
        else if (cmd_is(&x->argv[i], "len"))
            getlen = 1;
        else if (cmd_is(&x->argv[i], "withmatchlen"))
            withlen = 1;
        else if (cmd_is(&x->argv[i], "minmatchlen") && i + 1 < x->argc) {
            if (cmd_ll_or_reply(x, &x->argv[++i], &minlen))
                return;
            if (minlen < 0)
                minlen = 0;
        } else {
            cmd_syntax_error(x);
            return;
        }
    }
    if (getlen && getidx) {
        cmd_err(x, "-ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if (fa == OX_NOTFOUND)
        va = (ox_val){"", 0};
    if (fb == OX_NOTFOUND)
        vb = (ox_val){"", 0};
    const unsigned char *a = va.data, *b = vb.data;
    size_t alen = va.len, blen = vb.len;
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    if (cells * sizeof(uint32_t) > (unsigned long long)srv.cfg.proto_max_bulk_len) {
        cmd_err(x, "-ERR Insufficient memory, transient memory for LCS exceeds "
                   "proto-max-bulk-len");
        return;
    }
    uint32_t *t = malloc((size_t)cells * sizeof *t);
    unsigned char *result = malloc(alen + 1);
    if (!t || !result) {
        free(t);
        free(result);
        cmd_err(x, "-ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
#define AT(i, j) t[(j) + (i) * (blen + 1)]
    for (size_t i = 0; i <= alen; i++) {
        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                AT(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                AT(i, j) = AT(i - 1, j - 1) + 1;
            else
                AT(i, j) = AT(i - 1, j) > AT(i, j - 1) ? AT(i - 1, j) : AT(i, j - 1);
        }
    }
    uint32_t total = AT(alen, blen), idx = total;
    resp_deferred d;
    size_t nranges = 0;
    if (getidx) {
        resp_write_map(x->out, 2);
        resp_write_bulk(x->out, "matches", 7);
        resp_write_deferred(x->out, &d);
    }
    size_t unset = alen; /* "no range open" */
    size_t as = unset, ae = 0, bs = 0, be = 0;
    size_t i = alen, j = blen;
    while ((getidx || !getlen) && i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            result[idx - 1] = a[i - 1];
            if (as == unset) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = 1;
            }
            if (as == 0 || bs == 0)
                emit = 1;
            idx--;
            i--;
            j--;
        } else {
            if (AT(i - 1, j) > AT(i, j - 1))
                i--;
            else
                j--;
            if (as != unset)
                emit = 1;
        }
        if (emit) {
            size_t mlen = ae - as + 1;
            if (getidx && (minlen == 0 || (long long)mlen >= minlen)) {
                resp_write_array(x->out, 2 + (size_t)withlen);
                resp_write_array(x->out, 2);
                resp_write_int(x->out, (long long)as);
                resp_write_int(x->out, (long long)ae);
                resp_write_array(x->out, 2);
                resp_write_int(x->out, (long long)bs);
                resp_write_int(x->out, (long long)be);
                if (withlen)
                    resp_write_int(x->out, (long long)mlen);
                nranges++;
            }
            as = unset;
        }
    }
#undef AT
    if (getidx) {
        resp_write_deferred_len(x->out, &d, RESP_AGG_ARRAY, nranges);
        resp_write_bulk(x->out, "len", 3);
        resp_write_int(x->out, total);
    } else if (getlen) {
        resp_write_int(x->out, total);
    } else {
        resp_write_bulk(x->out, result, total);
    }
    free(t);
    free(result);
}
