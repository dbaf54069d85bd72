/* cmd_keys.c — keyspace commands (db.c in Redis). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "db.h"
#include "dbmap.h"
#include "encoding.h"
#include "hash_fmt.h"
#include "notify.h"
#include "num.h"
#include "util.h"
#include "watch.h"

void cmd_del(cmd_ctx *x)
{
    long long n = 0;
    for (int i = 1; i < x->argc; i++) {
        int rc = db_delete(x, x->dbi, &x->argv[i]);
        if (rc == OX_OK) {
            cmd_notify(x, CONF_NOTIFY_GENERIC, "del", &x->argv[i]);
            n++;
        } else if (rc != OX_NOTFOUND) {
            cmd_store_error(x, rc);
            return;
        }
    }
    resp_write_int(x->out, n);
}

/* EXISTS and TOUCH count the existing keys, a repeated key as many times as named. */
void cmd_exists(cmd_ctx *x)
{
    long long n = 0;
    for (int i = 1; i < x->argc; i++) {
        ox_val v;
        if (db_read(x, x->table, &x->argv[i], &v, NULL, NULL) == OX_OK)
            n++;
    }
    resp_write_int(x->out, n);
}

void cmd_touch(cmd_ctx *x)
{
    cmd_exists(x);
}

void cmd_type(cmd_ctx *x)
{
    int type = db_type_or_reply(x, &x->argv[1]);
    if (type >= -1) {
        const char *name = coll_type_name(type);
        resp_write_simple(x->out, name, strlen(name));
    }
}

void cmd_dbsize(cmd_ctx *x)
{
    resp_write_int(x->out, (long long)db_count(x));
}

/* FLUSHDB / FLUSHALL [ASYNC|SYNC]: both are one transaction here (LMDB frees the pages in
 * the commit), so ASYNC is accepted and means the same. */
static int flush_args_ok(cmd_ctx *x)
{
    if (x->argc == 1 || (x->argc == 2 && (cmd_is(&x->argv[1], "async") ||
                                          cmd_is(&x->argv[1], "sync"))))
        return 1;
    cmd_syntax_error(x);
    return 0;
}

void cmd_flushdb(cmd_ctx *x)
{
    if (!flush_args_ok(x))
        return;
    watch_flush(x->txn, x->dbi);
    int rc = db_clear(x, x->dbi);
    if (rc)
        cmd_store_error(x, rc);
    else
        cmd_ok(x);
}

void cmd_flushall(cmd_ctx *x)
{
    if (!flush_args_ok(x))
        return;
    for (int i = 0; i < srv.ndb; i++) {
        watch_flush(x->txn, i);
        int rc = db_clear(x, i);
        if (rc) {
            cmd_store_error(x, rc);
            return;
        }
    }
    cmd_ok(x);
}

/* Parses a database index argument; replies and returns -1 if it is not a valid one. */
static int db_index_or_reply(cmd_ctx *x, const resp_arg *a)
{
    long long db;
    const char *err = cmd_db_parse(a, &db);
    if (err) {
        cmd_err(x, err);
        return -1;
    }
    return (int)db;
}

/* SWAPDB a b: O(1), the two databases exchange their tables (dbmap.c). The indexes are
 * checked as Redis does: each parsed first, then both against the range. */
void cmd_swapdb(cmd_ctx *x)
{
    long long a, b; /* each an int, or Redis's own error for it */
    if (!num_str2ll(x->argv[1].ptr, x->argv[1].len, &a) || a < INT_MIN || a > INT_MAX) {
        cmd_err(x, "-ERR invalid first DB index");
        return;
    }
    if (!num_str2ll(x->argv[2].ptr, x->argv[2].len, &b) || b < INT_MIN || b > INT_MAX) {
        cmd_err(x, "-ERR invalid second DB index");
        return;
    }
    if (a < 0 || a >= srv.ndb || b < 0 || b >= srv.ndb) {
        cmd_err(x, "-ERR DB index is out of range");
        return;
    }
    int rc = a == b ? OX_OK : dbmap_swap(x->txn, (int)a, (int)b);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    if (a != b) {
        watch_swap(x->txn, (int)a, (int)b);
        block_signal_db((int)a); /* as Redis: clients blocked there may be served now */
        block_signal_db((int)b);
    }
    cmd_ok(x);
}

static int same_key(const resp_arg *a, const resp_arg *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static void rename_generic(cmd_ctx *x, int nx)
{
    const resp_arg *src = &x->argv[1], *dst = &x->argv[2];
    int type = db_type_or_reply(x, src);
    if (type == -2)
        return;
    if (type == -1) {
        cmd_err(x, "-ERR no such key");
        return;
    }
    if (same_key(src, dst)) { /* nothing moves; RENAMENX says it did nothing */
        if (nx)
            resp_write_int(x->out, 0);
        else
            cmd_ok(x);
        return;
    }
    int done = db_transfer_or_reply(x, src, x->dbi, dst, !nx, 0);
    if (done < 0)
        return;
    if (done) {
        cmd_notify(x, CONF_NOTIFY_GENERIC, "rename_from", src);
        cmd_notify(x, CONF_NOTIFY_GENERIC, "rename_to", dst);
    }
    if (nx)
        resp_write_int(x->out, done);
    else
        cmd_ok(x);
}

void cmd_rename(cmd_ctx *x) { rename_generic(x, 0); }
void cmd_renamenx(cmd_ctx *x) { rename_generic(x, 1); }

void cmd_copy(cmd_ctx *x)
{
    int db = x->dbi, replace = 0;
    for (int i = 3; i < x->argc; i++) {
        if (cmd_is(&x->argv[i], "replace")) {
            replace = 1;
        } else if (cmd_is(&x->argv[i], "db") && i + 1 < x->argc) {
            if ((db = db_index_or_reply(x, &x->argv[++i])) < 0)
                return;
        } else {
            cmd_syntax_error(x);
            return;
        }
    }
    if (db == x->dbi && same_key(&x->argv[1], &x->argv[2])) {
        cmd_err(x, "-ERR source and destination objects are the same");
        return;
    }
    int done = db_transfer_or_reply(x, &x->argv[1], db, &x->argv[2], replace, 1);
    if (done > 0)
        notify_event(CONF_NOTIFY_GENERIC, "copy_to", db, x->argv[2].ptr, x->argv[2].len);
    if (done >= 0)
        resp_write_int(x->out, done);
}

void cmd_move(cmd_ctx *x)
{
    int db = db_index_or_reply(x, &x->argv[2]);
    if (db < 0)
        return;
    if (db == x->dbi) {
        cmd_err(x, "-ERR source and destination objects are the same");
        return;
    }
    int done = db_transfer_or_reply(x, &x->argv[1], db, &x->argv[1], 0, 0);
    if (done > 0) {
        cmd_notify(x, CONF_NOTIFY_GENERIC, "move_from", &x->argv[1]);
        notify_event(CONF_NOTIFY_GENERIC, "move_to", db, x->argv[1].ptr, x->argv[1].len);
    }
    if (done >= 0)
        resp_write_int(x->out, done);
}

/* A uniformly random byte string as a starting point, then the first live key at or after
 * it (wrapping around): not uniform over keys, but O(log n) and never stuck. */
void cmd_randomkey(cmd_ctx *x)
{
    unsigned char seed[8];
    uint64_t r = srv_random64();
    for (int i = 0; i < 8; i++, r >>= 8)
        seed[i] = (unsigned char)r;
    ox_val lo = {seed, sizeof seed}, k, v;
    for (int pass = 0; pass < 2; pass++) {
        ox_iter *it = NULL;
        int rc = db_iter(x, pass ? NULL : &lo, NULL, OX_ITER_KEYS_ONLY, &it);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return;
        }
        rc = ox_iter_next(it, &k, &v);
        if (rc == OX_OK)
            resp_write_bulk(x->out, k.data, k.len);
        ox_iter_close(it);
        if (rc == OX_OK)
            return;
    }
    resp_write_null(x->out);
}

/* ---- OBJECT and MEMORY USAGE: what Redis 7.0 would say of a value this size -------------- */

/* The encoding Redis 7.0 would give the value by its size and content (its defaults; Redis
 * also keeps a hash or sorted set converted after its long members are gone). */
static const char *encoding_of(cmd_ctx *x, const resp_arg *key, int type, const ox_val *v)
{
    long long n;
    db_coll c;
    if (type == DB_STRING)
        return v->len <= 20 && num_str2ll(v->data, v->len, &n) ? "int"
             : v->len <= 44 ? "embstr" : "raw";
    if (type == DB_LIST)
        return "quicklist";
    if (db_coll_get_or_reply(x, key, type, &c) <= 0)
        return NULL;
    int small = enc_compact(x, &c);
    if (type == DB_SET)
        return small ? "intset" : "hashtable";
    if (type == DB_HASH)
        return small ? "listpack" : "hashtable";
    return small ? "listpack" : "skiplist";
}

static const char *const object_help[] = {
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    NULL};

/* OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key. Access times and frequencies are not
 * kept: IDLETIME says 0, FREQ answers as Redis does without an LFU policy. */
void cmd_object(cmd_ctx *x)
{
    const resp_arg *sub = &x->argv[1];
    if (cmd_is(sub, "help")) {
        cmd_reply_help(x->out, &x->argv[0], object_help);
        return;
    }
    ox_val v;
    int type;
    int rc = db_read(x, x->table, &x->argv[2], &v, &type, NULL);
    if (rc != OX_OK && rc != OX_NOTFOUND) {
        cmd_store_error(x, rc);
    } else if (rc == OX_NOTFOUND) {
        resp_write_null(x->out);
    } else if (cmd_is(sub, "encoding")) {
        const char *e = encoding_of(x, &x->argv[2], type, &v);
        if (e)
            resp_write_bulk(x->out, e, strlen(e));
    } else if (cmd_is(sub, "refcount")) {
        long long n; /* Redis shares the integers 0..9999 */
        int shared = type == DB_STRING && v.len <= 20 && num_str2ll(v.data, v.len, &n) &&
                     n >= 0 && n < 10000;
        resp_write_int(x->out, shared ? 2147483647 : 1);
    } else if (cmd_is(sub, "idletime")) {
        resp_write_int(x->out, 0);
    } else {
        cmd_err(x, "-ERR An LFU maxmemory policy is not selected, access frequency not "
                   "tracked. Please note that when switching between policies at runtime LRU "
                   "and LFU data will take some time to adjust.");
    }
}

static const char *const memory_help[] = {
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    NULL};

/* MEMORY USAGE key [SAMPLES count]: an estimate in Redis's terms (a key and its value as
 * Redis would hold them in memory; here they are on disk): the key, its value's bytes or,
 * for a collection, its members' average size from up to `count` of them (0: all), times
 * their number, with Redis-like overheads. */
void cmd_memory(cmd_ctx *x)
{
    if (cmd_is(&x->argv[1], "help")) {
        cmd_reply_help(x->out, &x->argv[0], memory_help);
        return;
    }
    long long samples = 5;
    if (x->argc == 5 && cmd_is(&x->argv[3], "samples")) {
        if (cmd_ll_or_reply(x, &x->argv[4], &samples))
            return;
    } else if (x->argc != 3) {
        cmd_syntax_error(x);
        return;
    }
    ox_val v;
    int type;
    int rc = db_read(x, x->table, &x->argv[2], &v, &type, NULL);
    if (rc != OX_OK) {
        if (rc == OX_NOTFOUND)
            resp_write_null(x->out);
        else
            cmd_store_error(x, rc);
        return;
    }
    uint64_t bytes = 16 + 24 + x->argv[2].len; /* the dict entry, the key's object */
    db_coll c;
    if (type == DB_STRING) {
        bytes += 16 + v.len;
    } else if (db_coll_get_or_reply(x, &x->argv[2], type, &c) > 0) {
        ox_iter *it = NULL;
        ox_val k, mv;
        uint64_t seen = 0, sum = 0;
        int sub = type == DB_LIST ? COLL_SUB_LIST : DB_SUB_FIELD;
        rc = db_member_iter(x, &c, sub, NULL, &it);
        while (rc == OX_OK && (samples == 0 || seen < (uint64_t)samples) &&
               (rc = ox_iter_next(it, &k, &mv)) == OX_OK) {
            uint64_t n;
            if (type == DB_HASH) /* a listpack's value without its number (hash_fmt.h) */
                hfmt_split(mv.data, mv.len, c.order, &mv, &n);
            sum += (type == DB_LIST ? 0 : k.len - COLL_KEY_PREFIX) + mv.len + 16;
            seen++;
        }
        ox_iter_close(it); /* NULL if it never opened */
        bytes += 64 + (seen ? sum / seen * c.count : 0);
    }
    resp_write_int(x->out, (long long)((bytes + 7) & ~(uint64_t)7));
}
