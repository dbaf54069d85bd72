/* cmd_hash.c — hash commands, with Redis 7.0's semantics (t_hash.c). A hash is a
 * collection (db.h): HGET, HEXISTS and HSTRLEN are one lookup of the field, HLEN reads the
 * metadata, and HGETALL, HKEYS, HVALS and HSCAN stream from a cursor in field order. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "db.h"
#include "glob.h"

/* The field name of a member key an iterator returned (after its COLL_KEY_PREFIX bytes). */
static ox_val field_of(const ox_val *k)
{
    return (ox_val){(const unsigned char *)k->data + COLL_KEY_PREFIX, k->len - COLL_KEY_PREFIX};
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
    long long created = 0;
    for (int i = 2; i < x->argc; i += 2) {
        int added;
        int rc = db_member_put(x, &c, DB_SUB_FIELD, x->argv[i].ptr, x->argv[i].len,
                               x->argv[i + 1].ptr, x->argv[i + 1].len, &added);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return;
        }
        created += added;
    }
    c.count += (uint64_t)created;
    int rc = db_coll_save(x, &x->argv[1], &c);
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
    int rc = db_member_get(x, &c, DB_SUB_FIELD, x->argv[2].ptr, x->argv[2].len, &v);
    if (rc == OX_OK) {
        resp_write_int(x->out, 0);
        return;
    }
    if (rc == OX_NOTFOUND)
        rc = db_member_put(x, &c, DB_SUB_FIELD, x->argv[2].ptr, x->argv[2].len,
                           x->argv[3].ptr, x->argv[3].len, NULL);
    if (rc == OX_OK) {
        c.count++;
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
    int rc = db_member_get(x, c, DB_SUB_FIELD, field->ptr, field->len, v);
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
        if (db_member_get(x, &c, DB_SUB_FIELD, x->argv[i].ptr, x->argv[i].len, &v) == OX_OK)
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
    db_coll c;
    if (db_coll_get_or_reply(x, &x->argv[1], DB_HASH, &c) >= 0)
        resp_write_int(x->out, (long long)c.count);
}

void cmd_hdel(cmd_ctx *x)
{
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_HASH, &c);
    if (found <= 0) {
        if (found == 0)
            resp_write_int(x->out, 0);
        return;
    }
    long long deleted = 0;
    for (int i = 2; i < x->argc; i++) {
        int removed;
        int rc = db_member_del(x, &c, DB_SUB_FIELD, x->argv[i].ptr, x->argv[i].len, &removed);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return;
        }
        deleted += removed;
    }
    int rc = OX_OK;
    if (deleted) {
        c.count -= (uint64_t)deleted;
        rc = db_coll_save(x, &x->argv[1], &c);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, deleted);
}

/* Stores the new value of an HINCRBY/HINCRBYFLOAT field and counts a new one. */
static int incr_store(cmd_ctx *x, db_coll *c, const char *buf, size_t len)
{
    int added;
    int rc = db_member_put(x, c, DB_SUB_FIELD, x->argv[2].ptr, x->argv[2].len, buf, len,
                           &added);
    if (rc == OX_OK) {
        c->count += (uint64_t)added;
        rc = db_coll_save(x, &x->argv[1], c);
    }
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
    int rc = db_member_get(x, c, DB_SUB_FIELD, x->argv[2].ptr, x->argv[2].len, v);
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
        incr_store(x, &c, buf, (size_t)n) == OX_OK)
        resp_write_int(x->out, sum);
}

void cmd_hincrbyfloat(cmd_ctx *x)
{
    long double by, cur = 0;
    if (!srv_str2ld(x->argv[3].ptr, x->argv[3].len, &by)) {
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
    if (found && !srv_str2ld(v.data, v.len, &cur)) {
        cmd_err(x, "-ERR hash value is not a float");
        return;
    }
    char buf[5120];
    int n = cmd_float_add_or_reply(x, cur, by, buf, sizeof buf);
    if (n >= 0 && incr_store(x, &c, buf, (size_t)n) == OX_OK)
        resp_write_bulk(x->out, buf, (size_t)n);
}

/* ---- whole-hash reads --------------------------------------------------------------- */

enum { WANT_KEYS = 1, WANT_VALS = 2 };

/* HKEYS, HVALS, HGETALL: every field in field order, streamed (the count is known). */
static void getall_generic(cmd_ctx *x, int want)
{
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_HASH, &c);
    if (found < 0)
        return;
    if (want == (WANT_KEYS | WANT_VALS))
        resp_write_map(x->out, (size_t)c.count);
    else
        resp_write_array(x->out, (size_t)c.count);
    if (!found)
        return;
    ox_iter *it;
    int rc = db_member_iter(x, &c, DB_SUB_FIELD, NULL, &it);
    ox_val k, v;
    uint64_t n = 0;
    while (rc == OX_OK && n < c.count && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        ox_val f = field_of(&k);
        if (want & WANT_KEYS)
            resp_write_bulk(x->out, f.data, f.len);
        if (want & WANT_VALS)
            resp_write_bulk(x->out, v.data, v.len);
        n++;
    }
    if (rc == OX_OK || rc == OX_NOTFOUND)
        ox_iter_close(it);
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

/* ---- HRANDFIELD ----------------------------------------------------------------------- */

#define HRANDFIELD_MAX_PICKS (1LL << 26) /* repeated picks one reply may hold */

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One field (and value) at a random place: the first at or after random bytes, wrapping
 * round (as RANDOMKEY: not uniform, O(log n), never stuck). 1 written, 0 none, -1 error. */
static int random_field(cmd_ctx *x, const db_coll *c, uint64_t *seed, int withvalues, int resp3)
{
    unsigned char lo[COLL_KEY_PREFIX + 8];
    uint64_t r = rnd_next(seed);
    coll_member_key(lo, c->id, DB_SUB_FIELD, NULL, 0);
    for (int i = 0; i < 8; i++, r >>= 8)
        lo[COLL_KEY_PREFIX + i] = (unsigned char)r;
    unsigned char hb[COLL_KEY_PREFIX];
    ox_val lov = {lo, sizeof lo}, hi = {hb, coll_member_key(hb, c->id, DB_SUB_FIELD + 1, NULL, 0)};
    for (int pass = 0; pass < 2; pass++) {
        ox_iter *it;
        ox_val k, v;
        int rc;
        if (pass == 0)
            rc = x->txn ? ox_txn_range(x->txn, c->members, &lov, &hi, 0, &it)
                        : ox_snapshot_range(x->snap, c->members, &lov, &hi, 0, &it);
        else
            rc = db_member_iter(x, c, DB_SUB_FIELD, NULL, &it);
        if (rc != OX_OK)
            return -1;
        rc = ox_iter_next(it, &k, &v);
        if (rc == OX_OK) {
            ox_val f = field_of(&k);
            if (withvalues && resp3)
                resp_write_array(x->out, 2);
            resp_write_bulk(x->out, f.data, f.len);
            if (withvalues)
                resp_write_bulk(x->out, v.data, v.len);
        }
        ox_iter_close(it);
        if (rc == OX_OK)
            return 1;
        if (rc != OX_NOTFOUND)
            return -1;
    }
    return 0;
}

void cmd_hrandfield(cmd_ctx *x)
{
    long long count = 1;
    int withvalues = 0, with_count = x->argc >= 3;
    if (with_count) { /* Redis's order: the count's range, the syntax, WITHVALUES's range */
        if (cmd_ll_or_reply(x, &x->argv[2], &count))
            return;
        if (count < -LONG_MAX) {
            cmd_err(x, "-ERR value is out of range, value must between -9223372036854775807 "
                       "and 9223372036854775807");
            return;
        }
        if (x->argc > 4 || (x->argc == 4 && !cmd_is(&x->argv[3], "withvalues"))) {
            cmd_syntax_error(x);
            return;
        }
        withvalues = x->argc == 4;
        /* Redis 7.0 tries to build any reply a negative count asks for, and runs out of
         * memory: a bound here instead (HRANDFIELD_MAX_PICKS). */
        if ((withvalues && (count > LONG_MAX / 2 || count < -LONG_MAX / 2)) ||
            count < -HRANDFIELD_MAX_PICKS) {
            cmd_err(x, "-ERR value is out of range");
            return;
        }
    }
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_HASH, &c);
    if (found < 0)
        return;
    int resp3 = resp_buf_proto(x->out) == 3;
    uint64_t seed = srv_ustime() * 6364136223846793005ULL + (uint64_t)(uintptr_t)x + 1;
    if (!with_count) {
        if (!found || random_field(x, &c, &seed, 0, 0) <= 0) {
            if (found)
                cmd_store_error(x, OX_ECORRUPT);
            else
                resp_write_null(x->out);
        }
        return;
    }
    if (!found || count == 0) {
        resp_write_array(x->out, 0);
        return;
    }
    int pairs = withvalues && !resp3; /* RESP2: a flat array; RESP3: [field, value] pairs */
    if (count < 0) { /* repeats allowed: exactly -count picks */
        uint64_t n = (uint64_t)(-count);
        resp_write_array(x->out, pairs ? 2 * n : n);
        for (uint64_t i = 0; i < n; i++)
            if (random_field(x, &c, &seed, withvalues, resp3) <= 0) {
                resp_write_null(x->out); /* the hash vanished under us: not reached */
                if (pairs)
                    resp_write_null(x->out);
            }
        return;
    }
    /* Distinct fields: all of them, or a reservoir sample of count, in one pass. */
    uint64_t want = (uint64_t)count < c.count ? (uint64_t)count : c.count;
    ox_iter *it;
    int rc = db_member_iter(x, &c, DB_SUB_FIELD, NULL, &it);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    ox_val *pick = calloc(want * 2, sizeof *pick);
    char **own = calloc(want, sizeof *own);
    if (!pick || !own)
        abort();
    uint64_t seen = 0;
    ox_val k, v;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        uint64_t slot = seen < want ? seen : rnd_next(&seed) % (seen + 1);
        seen++;
        if (slot >= want)
            continue;
        ox_val f = field_of(&k);
        char *p = realloc(own[slot], f.len + v.len + 1);
        if (!p)
            abort();
        memcpy(p, f.data, f.len);
        memcpy(p + f.len, v.data, v.len);
        own[slot] = p;
        pick[2 * slot] = (ox_val){p, f.len};
        pick[2 * slot + 1] = (ox_val){p + f.len, v.len};
    }
    ox_iter_close(it);
    uint64_t got = seen < want ? seen : want;
    resp_write_array(x->out, pairs ? 2 * got : got);
    for (uint64_t i = 0; i < got; i++) {
        if (withvalues && resp3)
            resp_write_array(x->out, 2);
        resp_write_bulk(x->out, pick[2 * i].data, pick[2 * i].len);
        if (withvalues)
            resp_write_bulk(x->out, pick[2 * i + 1].data, pick[2 * i + 1].len);
    }
    for (uint64_t i = 0; i < want; i++)
        free(own[i]);
    free(own);
    free(pick);
}

/* ---- HSCAN ---------------------------------------------------------------------------- */

/* HSCAN key cursor [MATCH pattern] [COUNT count]: COUNT fields per call in field order; the
 * cursor names the place after the last field examined (cursor.h), so fields that exist
 * throughout are returned once each. */
void cmd_hscan(cmd_ctx *x)
{
    uint64_t cursor;
    const resp_arg *pat = NULL;
    long long count = 10;
    unsigned char from[CURSOR_POS_MAX];
    size_t fromlen = 0;
    if (cmd_scan_begin(x, 2, &cursor, from, &fromlen, &pat, &count, NULL))
        return;
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_HASH, &c);
    if (found < 0)
        return;
    if (!found) {
        resp_write_array(x->out, 2);
        resp_write_bulk(x->out, "0", 1);
        resp_write_array(x->out, 0);
        return;
    }
    ox_iter *it;
    ox_val after = {from, fromlen};
    int rc = db_member_iter(x, &c, DB_SUB_FIELD, cursor ? &after : NULL, &it);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    /* The fields are gathered first: the cursor goes before them in the reply. */
    srv_pairs got = {0};
    long long seen = 0;
    unsigned char last[CURSOR_POS_MAX];
    size_t lastlen = 0;
    ox_val k, v;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        if (seen == count)
            break;
        seen++;
        ox_val f = field_of(&k);
        if ((rc = ox_iter_pos(it, last, &lastlen)))
            break;
        if (!pat || glob_match(pat->ptr, pat->len, f.data, f.len, 0))
            srv_pairs_add(&got, f.data, f.len, v.data, v.len);
    }
    ox_iter_close(it);
    if (cmd_scan_reply_head(x, rc, last, lastlen, 2 * got.n)) {
        size_t off = 0;
        while (srv_pairs_next(&got, &off, &k, &v)) {
            resp_write_bulk(x->out, k.data, k.len);
            resp_write_bulk(x->out, v.data, v.len);
        }
    }
    srv_pairs_free(&got);
}
