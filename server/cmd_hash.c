/* cmd_hash.c — hash commands, with Redis 7.0's semantics (t_hash.c). A hash is a
 * collection (db.h): HGET, HEXISTS and HSTRLEN are one lookup of the field, HLEN reads the
 * metadata, and HGETALL, HKEYS, HVALS and HSCAN stream from a cursor, in the order Redis
 * replies in (a listpack's: the order the fields came; hash_fmt.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "encoding.h"
#include "hash_fmt.h"
#include "log.h"
#include "num.h"
#include "pick.h"

/* Writer: sets field f of hash c to v (vlen bytes), counting it in c if it is new (*added
 * 1), and keeps the fields' order as Redis's listpack does (hash_fmt.h). OX_OK or the
 * store's error. */
static int field_set(cmd_ctx *x, db_coll *c, const resp_arg *f, const void *v, size_t vlen,
                     int *added)
{
    hfmt_hash h = {c->members, c->id, c->count, c->order};
    int rc = hfmt_set(x->txn, &h, f->ptr, f->len, v, vlen, added);
    c->count = h.count;
    c->order = h.order;
    return rc;
}

/* HSET / HMSET key field value [field value ...]. */
static void hset_generic(cmd_ctx *x, int hmset)
{
    if (x->argc % 2 == 1) {
        cmd_reply_arity(x->out, x->cmd->name);
        return;
    }
    db_coll c;
    if (db_coll_open_or_reply(x, &x->argv[1], DB_HASH, &c) < 0)
        return;
    db_member_prefetch_next(x, &c, DB_SUB_FIELD, 2);
    long long created = 0;
    uint64_t order = c.order;
    for (int i = 2; i < x->argc; i += 2) {
        int added;
        int rc = field_set(x, &c, &x->argv[i], x->argv[i + 1].ptr, x->argv[i + 1].len, &added);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return;
        }
        created += added;
    }
    int rc = OX_OK;
    cmd_notify(x, CONF_NOTIFY_HASH, "hset", &x->argv[1]);
    if (c.exists && !created && c.order == order)
        db_coll_touch(x, &x->argv[1]);
    else
        rc = db_coll_save(x, &x->argv[1], &c);
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else if (hmset)
        cmd_ok(x);
    else
        resp_write_int(x->out, created);
}

void cmd_hset(cmd_ctx *x) { hset_generic(x, 0); }
void cmd_hmset(cmd_ctx *x) { hset_generic(x, 1); }

void cmd_hsetnx(cmd_ctx *x)
{
    db_coll c;
    if (db_coll_open_or_reply(x, &x->argv[1], DB_HASH, &c) < 0)
        return;
    ox_val v;
    int rc = enc_field_get(x, &c, x->argv[2].ptr, x->argv[2].len, &v);
    if (rc == OX_OK) {
        resp_write_int(x->out, 0);
        return;
    }
    int added;
    if (rc == OX_NOTFOUND)
        rc = field_set(x, &c, &x->argv[2], x->argv[3].ptr, x->argv[3].len, &added);
    if (rc == OX_OK) {
        cmd_notify(x, CONF_NOTIFY_HASH, "hset", &x->argv[1]);
        rc = db_coll_save(x, &x->argv[1], &c);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, 1);
}

/* The value of field argv[2] of hash argv[1]: 1 found, 0 not (no hash or no field), -1
 * after replying. */
static int field_or_reply(cmd_ctx *x, const resp_arg *field, db_coll *c, ox_val *v)
{
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_HASH, c);
    if (found <= 0)
        return found;
    int rc = enc_field_get(x, c, field->ptr, field->len, v);
    if (rc == OX_OK || rc == OX_NOTFOUND)
        return rc == OX_OK;
    cmd_store_error(x, rc);
    return -1;
}

void cmd_hget(cmd_ctx *x)
{
    db_coll c;
    ox_val v;
    int found = field_or_reply(x, &x->argv[2], &c, &v);
    if (found > 0)
        resp_write_bulk(x->out, v.data, v.len);
    else if (found == 0)
        resp_write_null(x->out);
}

void cmd_hmget(cmd_ctx *x)
{
    db_coll c;
    if (db_coll_get_or_reply(x, &x->argv[1], DB_HASH, &c) < 0)
        return;
    resp_write_array(x->out, (size_t)x->argc - 2);
    for (int i = 2; i < x->argc; i++) {
        ox_val v;
        if (enc_field_get(x, &c, x->argv[i].ptr, x->argv[i].len, &v) == OX_OK)
            resp_write_bulk(x->out, v.data, v.len);
        else
            resp_write_null(x->out);
    }
}

void cmd_hexists(cmd_ctx *x)
{
    db_coll c;
    ox_val v;
    int found = field_or_reply(x, &x->argv[2], &c, &v);
    if (found >= 0)
        resp_write_int(x->out, found);
}

void cmd_hstrlen(cmd_ctx *x)
{
    db_coll c;
    ox_val v;
    int found = field_or_reply(x, &x->argv[2], &c, &v);
    if (found >= 0)
        resp_write_int(x->out, found ? (long long)v.len : 0);
}

void cmd_hlen(cmd_ctx *x)
{
    db_reply_count(x, DB_HASH);
}

void cmd_hdel(cmd_ctx *x)
{
    db_remove_members(x, DB_HASH);
}

/* Stores the new value of an HINCRBY/HINCRBYFLOAT field and counts a new one. */
static int incr_store(cmd_ctx *x, db_coll *c, const char *buf, size_t len, const char *event)
{
    int added;
    uint64_t order = c->order;
    int rc = field_set(x, c, &x->argv[2], buf, len, &added);
    if (rc == OX_OK)
        cmd_notify(x, CONF_NOTIFY_HASH, event, &x->argv[1]);
    if (rc == OX_OK && c->exists && !added && c->order == order)
        db_coll_touch(x, &x->argv[1]);
    else if (rc == OX_OK)
        rc = db_coll_save(x, &x->argv[1], c);
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    return rc;
}

/* HINCRBY/HINCRBYFLOAT's lookup: hash argv[1] opened (created if missing) and the value of
 * field argv[2]. 1 found, 0 not, -1 after replying. */
static int field_for_update_or_reply(cmd_ctx *x, db_coll *c, ox_val *v)
{
    if (db_coll_open_or_reply(x, &x->argv[1], DB_HASH, c) < 0)
        return -1;
    int rc = enc_field_get(x, c, x->argv[2].ptr, x->argv[2].len, v);
    if (rc == OX_OK || rc == OX_NOTFOUND)
        return rc == OX_OK;
    cmd_store_error(x, rc);
    return -1;
}

void cmd_hincrby(cmd_ctx *x)
{
    long long by, sum;
    if (cmd_ll_or_reply(x, &x->argv[3], &by))
        return;
    db_coll c;
    ox_val v;
    char buf[32];
    int found = field_for_update_or_reply(x, &c, &v), n;
    if (found >= 0 &&
        (n = cmd_int_add_or_reply(x, found ? &v : NULL, by, "-ERR hash value is not an integer",
                                  &sum, buf)) >= 0 &&
        incr_store(x, &c, buf, (size_t)n, "hincrby") == OX_OK)
        resp_write_int(x->out, sum);
}

void cmd_hincrbyfloat(cmd_ctx *x)
{
    long double by, cur = 0;
    if (!num_str2ld(x->argv[3].ptr, x->argv[3].len, &by)) {
        cmd_err(x, "-ERR value is not a valid float");
        return;
    }
    if (isnan(by) || isinf(by)) {
        cmd_err(x, "-ERR value is NaN or Infinity");
        return;
    }
    db_coll c;
    ox_val v;
    int found = field_for_update_or_reply(x, &c, &v);
    if (found < 0)
        return;
    if (found && !num_str2ld(v.data, v.len, &cur)) {
        cmd_err(x, "-ERR hash value is not a float");
        return;
    }
    char buf[5120];
    int n = cmd_float_add_or_reply(x, cur, by, buf, sizeof buf);
    if (n >= 0 && incr_store(x, &c, buf, (size_t)n, "hincrbyfloat") == OX_OK)
        resp_write_bulk(x->out, buf, (size_t)n);
}

/* ---- whole-hash reads --------------------------------------------------------------- */

enum { WANT_KEYS = 1, WANT_VALS = 2 };

/* HKEYS, HVALS, HGETALL: every field in Redis's order (encoding.h), streamed (the count
 * is known). */
static void getall_generic(cmd_ctx *x, int want)
{
    db_coll c;
    enc_fields fs;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_HASH, &c), rc;
    if (found < 0)
        return;
    if ((rc = enc_fields_open(x, &c, &fs)) != OX_OK) { /* a listpack is read whole here */
        cmd_store_error(x, rc);
        return;
    }
    if (want == (WANT_KEYS | WANT_VALS))
        resp_write_map(x->out, (size_t)c.count);
    else
        resp_write_array(x->out, (size_t)c.count);
    ox_val f, v;
    uint64_t n = 0;
    while (rc == OX_OK && n < c.count && (rc = enc_fields_next(&fs, &f, &v)) == OX_OK) {
        if (want & WANT_KEYS)
            resp_write_bulk(x->out, f.data, f.len);
        if (want & WANT_VALS)
            resp_write_bulk(x->out, v.data, v.len);
        n++;
    }
    enc_fields_close(&fs);
    /* A count that disagrees with the members would leave the reply short: the stream is
     * already under way, so the missing entries are filled with nulls (and logged). */
    if (n < c.count) {
        srv_log(SRV_LOG_WARNING, "Hash with %llu members listed %llu (store: %s)",
                (unsigned long long)c.count, (unsigned long long)n,
                rc == OX_NOTFOUND ? "count mismatch" : ox_strerror(rc));
        for (; n < c.count; n++) {
            if (want & WANT_KEYS)
                resp_write_null(x->out);
            if (want & WANT_VALS)
                resp_write_null(x->out);
        }
    }
}

void cmd_hkeys(cmd_ctx *x) { getall_generic(x, WANT_KEYS); }
void cmd_hvals(cmd_ctx *x) { getall_generic(x, WANT_VALS); }
void cmd_hgetall(cmd_ctx *x) { getall_generic(x, WANT_KEYS | WANT_VALS); }



void cmd_hrandfield(cmd_ctx *x)
{
    pick_reply_random(x, DB_HASH, "withvalues");
}
