/* db.c — the keyspace layer (db.h): typed lookups, collections' metadata and members, and
 * the sweeper that reclaims the members of collections that are gone. */
#include "db.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "bulk.h"
#include "cmd.h"
#include "dbmap_fmt.h"
#include "log.h"
#include "notify.h"
#include "util.h"
#include "watch.h"

#define SWEEP_PERIOD_MS 60000 /* a pass also starts this often: expiry and overwrites (SET
                                 over a hash) leave garbage without telling anyone */

static ox_table **tables;     /* tables[i]: a database table (srv.db at startup) */
static ox_table **members;    /* members[i]: its member table */
static int ntables;
static ox_table *map_t;       /* the map table: it holds the id counter */

/* The sweeper (writer only). */
static int sweep_wanted;      /* a collection may have become garbage since the running
                                 pass began: another pass is due */
static int sweep_running;     /* a pass is under way */
static int sweep_table;       /* the member table being walked */
static uint64_t sweep_from;   /* the id it resumes from */
static uint64_t sweep_last_ms; /* when the last pass started */
static atomic_ullong swept;
/* Ids a DEL, UNLINK or rename left dead, reclaimed first by their own range (no pass over
 * every collection). A batch that deleted one may still fail to commit: each is checked
 * dead (its back link no longer names a key holding it) before anything is reclaimed.
 * Bounded: when it is full, a pass is due instead. */
#define SWEEP_QUEUE 4096
static struct dead_id {
    int table;
    uint64_t id;
} dead_q[SWEEP_QUEUE];
static int dead_n;

int db_load(void)
{
    ntables = srv.ndb;
    tables = calloc((size_t)ntables, sizeof *tables);
    members = calloc((size_t)ntables, sizeof *members);
    if (!tables || !members)
        return OX_ENOMEM;
    int rc = ox_table_open(srv.store, DBMAP_TABLE, &map_t);
    for (int i = 0; rc == OX_OK && i < ntables; i++) {
        char name[32];
        tables[i] = srv.db[i];
        rc = coll_members_name(ox_table_name(tables[i]), name, sizeof name) ? OX_EINVAL
             : ox_table_open(srv.store, name, &members[i]);
    }
    if (rc != OX_OK)
        srv_log(SRV_LOG_WARNING, "Can't open the member tables: %s", ox_strerror(rc));
    sweep_wanted = 1; /* what an expiry, a crash or an earlier run left behind */
    return rc;
}

void db_free(void)
{
    free(tables);
    free(members);
    tables = members = NULL;
    ntables = 0;
}

ox_table *db_members_of(ox_table *t)
{
    for (int i = 0; i < ntables; i++)
        if (tables[i] == t)
            return members[i];
    return NULL; /* not reached: every database table was paired at startup */
}

/* ---- any type ----------------------------------------------------------------------- */

int db_read(cmd_ctx *x, ox_table *t, const resp_arg *key, ox_val *val, int *type,
            uint64_t *at)
{
    unsigned kind = 0;
    int rc = x->txn ? ox_txn_read(x->txn, t, key->ptr, key->len, val, &kind, at)
                    : ox_snapshot_read(x->snap, t, key->ptr, key->len, val, &kind, at);
    if (type)
        *type = (int)kind;
    return rc;
}

int db_type_or_reply(cmd_ctx *x, const resp_arg *key)
{
    ox_val v;
    int type, rc = db_read(x, x->table, key, &v, &type, NULL);
    if (rc == OX_OK)
        return type;
    if (rc == OX_NOTFOUND)
        return -1;
    cmd_store_error(x, rc);
    return -2;
}


/* Writer: the collection id of t that is about to lose its key goes in the queue. */
static void dead_push(ox_table *t, uint64_t id)
{
    int i = 0;
    while (i < ntables && tables[i] != t)
        i++;
    if (i == ntables || dead_n == SWEEP_QUEUE)
        sweep_wanted = 1;
    else
        dead_q[dead_n++] = (struct dead_id){i, id};
}

/* Writer: if key of t holds a collection, its id goes in the queue (it is about to be
 * deleted or overwritten). */
static void dead_note(cmd_ctx *x, ox_table *t, const void *key, size_t len)
{
    ox_val v;
    unsigned kind;
    coll_meta m;
    if (ox_txn_read(x->txn, t, key, len, &v, &kind, NULL) == OX_OK && kind != DB_STRING &&
        coll_meta_decode(v.data, v.len, &m) == OX_OK)
        dead_push(t, m.id);
}

void db_prefetch(ox_txn *txn, int dbi, const resp_arg *key, int step)
{
    if (txn)
        ox_txn_prefetch(txn, srv.db[dbi], key->ptr, key->len, step);
}

int db_delete(cmd_ctx *x, int dbi, const resp_arg *key)
{
    dead_note(x, srv.db[dbi], key->ptr, key->len);
    int rc = ox_txn_delete(x->txn, srv.db[dbi], key->ptr, key->len);
    if (rc == OX_OK)
        watch_touch(dbi, key->ptr, key->len);
    return rc;
}

/* A walk over [lo, hi) of table t, in x's transaction or on its snapshot. */
static int range_iter(cmd_ctx *x, ox_table *t, const ox_val *lo, const ox_val *hi,
                      unsigned flags, ox_iter **it)
{
    return x->txn ? ox_txn_range(x->txn, t, lo, hi, flags, it)
                  : ox_snapshot_range(x->snap, t, lo, hi, flags, it);
}

int db_iter(cmd_ctx *x, const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **it)
{
    return range_iter(x, x->table, lo, hi, flags, it);
}

int db_expire_time(cmd_ctx *x, const resp_arg *key, uint64_t *at)
{
    if (x->txn)
        return ox_txn_expire_time(x->txn, x->table, key->ptr, key->len, at);
    return ox_snapshot_expire_time(x->snap, x->table, key->ptr, key->len, at);
}

/* A key write's result, told to WATCH. */
static int touched(cmd_ctx *x, const resp_arg *key, int rc)
{
    if (rc == OX_OK)
        watch_touch(x->dbi, key->ptr, key->len);
    return rc;
}

int db_expire_at(cmd_ctx *x, const resp_arg *key, uint64_t at)
{
    return touched(x, key, ox_txn_expire_at(x->txn, x->table, key->ptr, key->len, at));
}

int db_persist(cmd_ctx *x, const resp_arg *key)
{
    return touched(x, key, ox_txn_persist(x->txn, x->table, key->ptr, key->len));
}

uint64_t db_count(cmd_ctx *x)
{
    uint64_t n = 0;
    if (x->txn)
        ox_txn_count(x->txn, x->table, &n);
    else
        ox_count(x->table, &n);
    return n;
}

int db_clear(cmd_ctx *x, int dbi)
{
    int rc = ox_txn_clear(x->txn, srv.db[dbi]);
    return rc ? rc : ox_txn_clear(x->txn, db_members_of(srv.db[dbi]));
}

/* ---- strings ------------------------------------------------------------------------ */

int db_get_string_in(cmd_ctx *x, ox_table *t, const resp_arg *key, ox_val *val)
{
    int type, rc = db_read(x, t, key, val, &type, NULL);
    return rc == OX_OK && type != DB_STRING ? DB_WRONGTYPE : rc;
}

int db_get_string(cmd_ctx *x, const resp_arg *key, ox_val *val)
{
    return db_get_string_in(x, x->table, key, val);
}

int db_get_string_or_reply(cmd_ctx *x, const resp_arg *key, ox_val *val)
{
    int rc = db_get_string(x, key, val);
    if (rc == OX_OK || rc == OX_NOTFOUND)
        return rc == OX_OK;
    if (rc == DB_WRONGTYPE)
        cmd_err(x, DB_WRONGTYPE_MSG);
    else
        cmd_store_error(x, rc);
    return -1;
}

int db_put_string(cmd_ctx *x, const resp_arg *key, const void *val, size_t len, uint64_t at,
                  unsigned flags)
{
    return touched(x, key, ox_txn_put(x->txn, x->table, key->ptr, key->len, val, len, at,
                                      flags));
}

/* ---- collections -------------------------------------------------------------------- */

/* A collection's record into c, and back. */
static void meta_in(db_coll *c, const coll_meta *m)
{
    c->id = m->id;
    c->count = m->count;
    c->head = m->head;
    c->levels = m->levels;
    c->zb = m->zb;
    c->order = c->type == DB_HASH ? m->order : 0;
    c->converted = coll_converted(c->type, m);
}

static coll_meta meta_of(const db_coll *c)
{
    return (coll_meta){c->id, c->count, c->head, c->levels, c->zb, c->order, c->converted};
}

int db_coll_get(cmd_ctx *x, const resp_arg *key, int type, db_coll *c)
{
    coll_meta m;
    ox_val v;
    uint64_t at = 0;
    int t, rc = db_read(x, x->table, key, &v, &t, &at);
    memset(c, 0, sizeof *c);
    c->expire_at = at;
    c->type = type;
    c->members = db_members_of(x->table);
    if (rc == OX_OK && t != type)
        return DB_WRONGTYPE;
    if (rc == OX_OK)
        rc = coll_meta_decode(v.data, v.len, &m);
    if (rc == OX_OK)
        meta_in(c, &m);
    c->exists = rc == OX_OK;
    return rc;
}

int db_coll_get_or_reply(cmd_ctx *x, const resp_arg *key, int type, db_coll *c)
{
    int rc = db_coll_get(x, key, type, c);
    if (rc == OX_OK || rc == OX_NOTFOUND)
        return rc == OX_OK;
    if (rc == DB_WRONGTYPE)
        cmd_err(x, DB_WRONGTYPE_MSG);
    else
        cmd_store_error(x, rc);
    return -1;
}

int db_coll_get_woken_or_reply(cmd_ctx *x, int i, int type, db_coll *c)
{
    if (!x->block_retry)
        return db_coll_get_or_reply(x, &x->argv[i], type, c);
    if (i != x->block_key)
        return 0;
    int rc = db_coll_get(x, &x->argv[i], type, c);
    if (rc == OX_OK || rc == OX_NOTFOUND || rc == DB_WRONGTYPE)
        return rc == OX_OK;
    cmd_store_error(x, rc);
    return -1;
}

int db_coll_or_zero(cmd_ctx *x, const resp_arg *key, int type, db_coll *c)
{
    int found = db_coll_get_or_reply(x, key, type, c);
    if (found == 0)
        resp_write_int(x->out, 0);
    return found > 0;
}

int db_coll_fresh(cmd_ctx *x, db_coll *c)
{
    c->exists = 0;
    c->count = 0;
    c->head = 0;
    c->levels = 0;
    c->zb = (coll_bounds){.tight = 0};
    c->order = c->type == DB_HASH; /* a new hash is a listpack (hash_fmt.h) */
    c->converted = 0;
    c->expire_at = 0;
    int rc = coll_new_id(x->txn, map_t, &c->id);
    if (rc == OX_OK && x->bulk) {
        x->bulk_table = x->table;
        x->bulk_id = c->id;
    }
    return rc;
}

void db_bulk_done(cmd_ctx *x)
{
    if (x->parts && x->bulk_id)
        dead_push(x->bulk_table, x->bulk_id);
}

int db_coll_open_or_reply(cmd_ctx *x, const resp_arg *key, int type, db_coll *c)
{
    int found = db_coll_get_or_reply(x, key, type, c);
    if (found)
        return found;
    int rc = db_coll_fresh(x, c);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return -1;
    }
    return 1;
}

/* Writer: stores c's metadata under key in table t (new: with its back link too). */
static int coll_put(cmd_ctx *x, ox_table *t, const resp_arg *key, const db_coll *c,
                    uint64_t at, unsigned flags)
{
    coll_meta m = meta_of(c);
    return coll_store(x->txn, t, c->members, key->ptr, key->len, c->type, &m, !c->exists, at,
                      flags);
}

int db_coll_save(cmd_ctx *x, const resp_arg *key, db_coll *c)
{
    int rc;
    if (c->count == 0) { /* emptied: gone, as Redis tells after the command's own event */
        rc = c->exists ? db_delete(x, x->dbi, key) : OX_OK;
        if (rc == OX_OK && c->exists)
            cmd_notify(x, CONF_NOTIFY_GENERIC, "del", key);
        return rc == OX_NOTFOUND ? OX_OK : rc;
    }
    rc = coll_put(x, x->table, key, c, 0, OX_PUT_KEEPTTL);
    if (rc == OX_OK) {
        c->exists = 1;
        watch_touch(x->dbi, key->ptr, key->len);
        block_signal(x->dbi, key->ptr, key->len, c->type);
    }
    return rc;
}

void db_coll_touch(cmd_ctx *x, const resp_arg *key)
{
    watch_touch(x->dbi, key->ptr, key->len);
}

/* db_coll_replace and db_coll_rewrite: key takes c, expiring at `at` (0: never); what it
 * held goes to the sweeper unless the caller queued it (noted). */
static int coll_replace(cmd_ctx *x, const resp_arg *key, db_coll *c, uint64_t at, int noted)
{
    int rc = OX_OK;
    if (!c->count) { /* an empty result deletes the destination */
        rc = db_delete(x, x->dbi, key);
        if (rc == OX_OK)
            cmd_notify(x, CONF_NOTIFY_GENERIC, "del", key);
        rc = rc == OX_NOTFOUND ? OX_OK : rc;
    } else if (!noted) { /* overwritten whatever it held (its members go to the sweeper),
                            as Redis's setKey: a key that lived is not a new one */
        dead_note(x, x->table, key->ptr, key->len);
    }
    if (rc == OX_OK && c->count) {
        rc = coll_put(x, x->table, key, c, at, 0);
        if (rc == OX_OK) {
            c->exists = 1;
            watch_touch(x->dbi, key->ptr, key->len);
            block_signal(x->dbi, key->ptr, key->len, c->type);
        }
    }
    return rc;
}

int db_coll_replace(cmd_ctx *x, const resp_arg *key, db_coll *c)
{
    return coll_replace(x, key, c, 0, 0);
}

int db_coll_rewrite(cmd_ctx *x, const resp_arg *key, const db_coll *old, db_coll *c)
{
    dead_push(x->table, old->id); /* by id: the key may have expired during the build */
    return coll_replace(x, key, c, old->expire_at, 1);
}

int db_member_get(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  ox_val *val)
{
    if (!c->id) /* none: not even a fresh one whose members this command wrote */
        return OX_NOTFOUND;
    coll_mkey k;
    int rc = coll_mkey_make(&k, c->id, sub, name, len);
    if (rc)
        return rc;
    rc = x->txn ? ox_txn_get(x->txn, c->members, k.p, k.len, val)
                : ox_snapshot_get(x->snap, c->members, k.p, k.len, val);
    coll_mkey_done(&k);
    return rc;
}

static void member_prefetch(cmd_ctx *x, const db_coll *c, int sub, const void *name,
                            size_t len, int step)
{
    coll_mkey k;
    if (!x->txn || !c->id || coll_mkey_make(&k, c->id, sub, name, len))
        return;
    ox_txn_prefetch(x->txn, c->members, k.p, k.len, step);
    coll_mkey_done(&k);
}

void db_member_prefetch(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len)
{
    member_prefetch(x, c, sub, name, len, 0);
}

void db_member_prefetch_next(cmd_ctx *x, const db_coll *c, int sub, int arg)
{
    for (int ahead = 1; ahead <= 2; ahead++) {
        int argc;
        const resp_arg *a = cmd_next_same(x, ahead, &argc);
        if (!a)
            return;
        int i = arg < 0 ? argc + arg : arg;
        if (i >= 2 && i < argc) /* the next one's node, the one after's bucket */
            member_prefetch(x, c, sub, a[i].ptr, a[i].len, 2 - ahead);
    }
}

/* db_member_put and db_member_put_new (flags OX_PUT_ABSENT). */
static int member_put(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                      const void *val, size_t vlen, int *added, unsigned flags)
{
    coll_mkey k;
    int rc = coll_mkey_make(&k, c->id, sub, name, len);
    if (rc)
        return rc;
    /* whether it is new only when asked: a list's push writes a fresh position, and the
     * lookup (of LMDB too) was a third of LPUSH's time */
    int isnew = added && (!c->id ||
                          ox_txn_contains(x->txn, c->members, k.p, k.len) == OX_NOTFOUND);
    rc = ox_txn_put(x->txn, c->members, k.p, k.len, val, vlen, 0, flags);
    coll_mkey_done(&k);
    if (added)
        *added = rc == OX_OK && isnew;
    return rc;
}

int db_member_put(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  const void *val, size_t vlen, int *added)
{
    return member_put(x, c, sub, name, len, val, vlen, added, 0);
}

int db_member_put_new(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                      const void *val, size_t vlen)
{
    return member_put(x, c, sub, name, len, val, vlen, NULL, OX_PUT_ABSENT);
}

int db_member_add(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  const void *val, size_t vlen, int *added)
{
    coll_mkey k;
    int rc = coll_mkey_make(&k, c->id, sub, name, len);
    if (rc)
        return rc;
    rc = ox_txn_put(x->txn, c->members, k.p, k.len, val, vlen, 0, OX_PUT_NOOVERWRITE);
    coll_mkey_done(&k);
    *added = rc == OX_OK;
    return rc == OX_ECONFLICT ? OX_OK : rc;
}

int db_member_del(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  int *removed)
{
    *removed = 0;
    if (!c->id)
        return OX_OK;
    coll_mkey k;
    int rc = coll_mkey_make(&k, c->id, sub, name, len);
    if (rc)
        return rc;
    rc = ox_txn_delete(x->txn, c->members, k.p, k.len);
    coll_mkey_done(&k);
    *removed = rc == OX_OK;
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int db_member_range(cmd_ctx *x, const db_coll *c, int sub, const ox_val *lo, unsigned flags,
                    ox_iter **it)
{
    unsigned char lb[COLL_KEY_PREFIX], hb[COLL_KEY_PREFIX], lp[OX_POS_MAX], hp[OX_POS_MAX];
    ox_val first = {lb, coll_member_key(lb, c->id, sub, NULL, 0)};
    ox_val hi = {hb, coll_member_key(hb, c->id, sub + 1, NULL, 0)};
    int rc = OX_OK;
    if (flags & OX_ITER_POS) { /* the bounds as positions too (a key's is not itself) */
        rc = ox_key_pos(srv.store, hb, hi.len, hp, &hi.len);
        hi.data = hp;
        if (rc == OX_OK && !lo)
            rc = ox_key_pos(srv.store, lb, first.len, lp, &first.len);
        first.data = lp;
    }
    return rc ? rc : range_iter(x, c->members, lo ? lo : &first, &hi, flags, it);
}

int db_member_span(cmd_ctx *x, const db_coll *c, const ox_val *lo, const ox_val *hi,
                   unsigned flags, ox_iter **it)
{
    return range_iter(x, c->members, lo, hi, flags, it);
}

int db_member_walk(cmd_ctx *x, const db_coll *c, int sub, unsigned flags, db_walk **w)
{
    unsigned char lb[COLL_KEY_PREFIX], hb[COLL_KEY_PREFIX];
    ox_val lo = {lb, coll_member_key(lb, c->id, sub, NULL, 0)};
    ox_val hi = {hb, coll_member_key(hb, c->id, sub + 1, NULL, 0)};
    return bulk_walk_open(x, c->members, &lo, &hi, flags, w);
}

int db_member_iter(cmd_ctx *x, const db_coll *c, int sub, const ox_val *after, ox_iter **it)
{
    unsigned char p[COLL_KEY_PREFIX];
    ox_val prefix = {p, coll_member_key(p, c->id, sub, NULL, 0)};
    if (!after)
        return x->txn ? ox_txn_prefix(x->txn, c->members, &prefix, 0, it)
                      : ox_snapshot_prefix(x->snap, c->members, &prefix, 0, it);
    return db_member_range(x, c, sub, after, OX_ITER_POS | OX_ITER_AFTER, it);
}

void db_remove_members(cmd_ctx *x, int type)
{
    db_coll c;
    if (!db_coll_or_zero(x, &x->argv[1], type, &c))
        return;
    long long removed = 0;
    for (int i = 2; i < x->argc; i++) {
        int r;
        int rc = db_member_del(x, &c, DB_SUB_FIELD, x->argv[i].ptr, x->argv[i].len, &r);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return;
        }
        removed += r;
    }
    c.count -= (uint64_t)removed;
    if (removed) /* HDEL's or SREM's event, then "del" if it emptied the key */
        cmd_notify(x, type == DB_HASH ? CONF_NOTIFY_HASH : CONF_NOTIFY_SET,
                   type == DB_HASH ? "hdel" : "srem", &x->argv[1]);
    int rc = removed ? db_coll_save(x, &x->argv[1], &c) : OX_OK;
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, removed);
}

void db_reply_count(cmd_ctx *x, int type)
{
    db_coll c;
    if (db_coll_get_or_reply(x, &x->argv[1], type, &c) >= 0)
        resp_write_int(x->out, (long long)c.count);
}

/* ---- merges ------------------------------------------------------------------------ */

struct db_merge {
    cmd_ctx *x;
    int n;
    unsigned parts;      /* x->parts when cur and val were read */
    db_walk **w;
    ox_val *cur, *val;   /* cur[i].data NULL: input i is done */
    unsigned char *on;   /* on[i]: input i holds the member last returned (steps next) */
};

static int member_key_cmp(const ox_val *a, const ox_val *b)
{
    size_t la = a->len - COLL_KEY_PREFIX, lb = b->len - COLL_KEY_PREFIX;
    int d = memcmp((const unsigned char *)a->data + COLL_KEY_PREFIX,
                   (const unsigned char *)b->data + COLL_KEY_PREFIX, la < lb ? la : lb);
    return d ? d : (la > lb) - (la < lb);
}

static int merge_step(db_merge *m, int i)
{
    int rc = bulk_walk_next(m->w[i], &m->cur[i], &m->val[i]);
    if (rc == OX_NOTFOUND)
        m->cur[i].data = NULL;
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int db_merge_open(cmd_ctx *x, const db_coll *const *cs, int n, db_merge **out)
{
    db_merge *m = srv_xcalloc(1, sizeof *m);
    m->x = x;
    m->parts = x->parts;
    m->w = srv_xcalloc((size_t)n, sizeof *m->w);
    m->cur = srv_xcalloc((size_t)n, sizeof *m->cur);
    m->val = srv_xcalloc((size_t)n, sizeof *m->val);
    m->on = srv_xcalloc((size_t)n, 1);
    m->n = n;
    int rc = OX_OK;
    for (int i = 0; rc == OX_OK && i < n; i++)
        if (cs[i] && cs[i]->exists &&
            (rc = db_member_walk(x, cs[i], DB_SUB_FIELD, BULK_EXACT, &m->w[i])) == OX_OK)
            rc = merge_step(m, i);
    if (rc != OX_OK)
        db_merge_close(m);
    *out = rc == OX_OK ? m : NULL;
    return rc;
}

int db_merge_next(db_merge *m, ox_val *member)
{
    int rc = OX_OK, min = -1;
    for (int i = 0; m->parts != m->x->parts && rc == OX_OK && i < m->n; i++)
        if (m->cur[i].data) /* a part's commit made what they point to stale */
            rc = bulk_walk_again(m->w[i], &m->cur[i], &m->val[i]);
    m->parts = m->x->parts;
    for (int i = 0; rc == OX_OK && i < m->n; i++) /* past the member last returned */
        if (m->on[i] && (m->on[i] = 0, m->cur[i].data))
            rc = merge_step(m, i);
    for (int i = 0; rc == OX_OK && i < m->n; i++)
        if (m->cur[i].data && (min < 0 || member_key_cmp(&m->cur[i], &m->cur[min]) < 0))
            min = i;
    if (rc != OX_OK || min < 0)
        return rc != OX_OK ? rc : OX_NOTFOUND;
    for (int i = 0; i < m->n; i++)
        m->on[i] = m->cur[i].data && member_key_cmp(&m->cur[i], &m->cur[min]) == 0;
    *member = (ox_val){(const unsigned char *)m->cur[min].data + COLL_KEY_PREFIX,
                       m->cur[min].len - COLL_KEY_PREFIX};
    return OX_OK;
}

int db_merge_has(const db_merge *m, int i, ox_val *val)
{
    if (m->on[i] && val)
        *val = m->val[i];
    return m->on[i];
}

void db_merge_close(db_merge *m)
{
    if (!m)
        return;
    for (int i = 0; m->w && i < m->n; i++)
        bulk_walk_close(m->w[i]);
    free(m->w);
    free(m->cur);
    free(m->val);
    free(m->on);
    free(m);
}

/* ---- moving keys -------------------------------------------------------------------- */

#define COPY_CHUNK 1024 /* members gathered at a time by COPY and MOVE */

/* Writer: copies every member of collection id (in table from) under id dst->id into
 * dst's table, COPY_CHUNK at a time, so memory stays bounded whatever the size. OX_OK or
 * an error. */
static int copy_members(cmd_ctx *x, ox_table *from, uint64_t id, const db_coll *dst)
{
    unsigned char lo[COLL_KEY_PREFIX], hi[COLL_KEY_PREFIX], pos[OX_POS_MAX], hipos[OX_POS_MAX];
    ox_val lov = {lo, coll_member_key(lo, id, DB_SUB_HEAD + 1, NULL, 0)};
    ox_val hiv = {hi, coll_member_key(hi, id + 1, 0, NULL, 0)}, hip = {hipos, 0}, k, v;
    size_t poslen = 0;
    int rc = ox_key_pos(srv.store, hi, hiv.len, hipos, &hip.len), more = 1;
    srv_pairs chunk = {0};
    while (rc == OX_OK && more) {
        ox_iter *it = NULL;
        ox_val after = {pos, poslen};
        /* Gathered first: the iterator's values must not be read across the puts. */
        rc = poslen ? ox_txn_range(x->txn, from, &after, &hip, OX_ITER_POS | OX_ITER_AFTER, &it)
                    : ox_txn_range(x->txn, from, &lov, &hiv, 0, &it);
        if (rc)
            break;
        chunk.len = chunk.n = 0;
        while (chunk.n < COPY_CHUNK && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
            srv_pairs_add(&chunk, k.data, k.len, v.data, v.len);
            rc = ox_iter_pos(it, pos, &poslen);
        }
        ox_iter_close(it);
        more = rc == OX_OK;
        if (rc == OX_NOTFOUND)
            rc = OX_OK;
        size_t off = 0;
        while (rc == OX_OK && srv_pairs_next(&chunk, &off, &k, &v)) {
            unsigned char *kp = (unsigned char *)k.data; /* the same key under the new id */
            coll_member_key(kp, dst->id, kp[8], NULL, 0);
            rc = ox_txn_put(x->txn, dst->members, kp, k.len, v.data, v.len, 0, 0);
        }
        if (rc == OX_OK)
            rc = bulk_step(x); /* no iterator is open here */
    }
    srv_pairs_free(&chunk);
    return rc;
}

int db_transfer_or_reply(cmd_ctx *x, const resp_arg *src, int dbd, const resp_arg *dst,
                         int replace, int keep_src)
{
    ox_table *ts = x->table, *td = srv.db[dbd];
    ox_val v;
    int type;
    uint64_t at;
    int rc = db_read(x, ts, src, &v, &type, &at);
    if (rc == OX_NOTFOUND)
        return 0;
    coll_meta m;
    unsigned char *val = NULL;
    size_t len = v.len;
    if (rc == OX_OK && !(val = malloc(len ? len : 1)))
        rc = OX_ENOMEM;
    if (rc == OX_OK) {
        memcpy(val, v.data, len);
        int live = (!replace || notify_wanted(CONF_NOTIFY_NEW)) &&
                   ox_txn_contains(x->txn, td, dst->ptr, dst->len) == OX_OK;
        if (live && !replace) {
            free(val);
            return 0;
        }
        if (type != DB_STRING && (td != ts || keep_src) &&
            coll_meta_decode(val, len, &m) == OX_OK && !bulk_begin(x, m.count)) {
            free(val);
            return -1; /* nothing written or replied: it runs again first in a part */
        }
        dead_note(x, td, dst->ptr, dst->len); /* what dst held, if it is overwritten */
        if (live) /* Redis deletes it and adds a new one */
            notify_created(dbd, dst->ptr, dst->len);
    }
    if (rc == OX_OK && type == DB_STRING) {
        rc = ox_txn_put(x->txn, td, dst->ptr, dst->len, val, len, at, OX_PUT_KIND(type));
    } else if (rc == OX_OK) {
        db_coll c = {.type = type, .exists = 0, .members = db_members_of(td)};
        if ((rc = coll_meta_decode(val, len, &m)) == OX_OK)
            meta_in(&c, &m);
        if (rc != OX_OK) {
            /* not a collection's record */
        } else if (td == ts && !keep_src) { /* RENAME: the members stay; the back link moves */
        } else if ((rc = coll_new_id(x->txn, map_t, &c.id)) == OX_OK) {
            x->bulk_table = td;
            x->bulk_id = x->bulk ? c.id : 0;
            rc = copy_members(x, db_members_of(ts), m.id, &c);
        }
        if (rc == OX_OK)
            rc = coll_put(x, td, dst, &c, at, 0);
        if (rc == OX_OK)
            block_signal(dbd, dst->ptr, dst->len, c.type);
    }
    free(val);
    if (rc == OX_OK && !keep_src)
        rc = ox_txn_delete(x->txn, ts, src->ptr, src->len);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return -1;
    }
    if (!keep_src)
        watch_touch(x->dbi, src->ptr, src->len);
    watch_touch(dbd, dst->ptr, dst->len);
    return 1;
}

/* ---- the sweeper -------------------------------------------------------------------- */

/* 1 if the collection id, whose back link names key, is still key's collection in table
 * t as txn sees it. */
static int coll_alive(ox_txn *txn, ox_table *t, const ox_val *key, uint64_t id)
{
    ox_val v;
    unsigned kind;
    if (ox_txn_read(txn, t, key->data, key->len, &v, &kind, NULL) != OX_OK)
        return 0;
    coll_meta m;
    return kind != DB_STRING && coll_meta_decode(v.data, v.len, &m) == OX_OK && m.id == id;
}

/* The most bytes of keys a slice of the sweeper deletes: long member names would take its
 * count of records past the write buffer's budget. */
static size_t sweep_bytes(void)
{
    return (size_t)srv.cfg.write_buffer_limit / 8;
}

/* Gathers into keys the records of collection id in member table i, up to *n == budget
 * (counting on from *n) or sweep_bytes() of keys. 1 if they are all in, 0 if some are
 * left, -1 on an error. */
static int collect_id(ox_txn *txn, int i, uint64_t id, size_t budget, srv_pairs *keys,
                      size_t *n, int *err)
{
    unsigned char lo[COLL_KEY_PREFIX], hi[COLL_KEY_PREFIX];
    ox_val lov = {lo, 8}, hiv = {hi, 8}, k, v;
    coll_member_key(lo, id, 0, NULL, 0);
    coll_member_key(hi, id + 1, 0, NULL, 0);
    ox_iter *it = NULL;
    if ((*err = ox_txn_range(txn, members[i], &lov, &hiv, 0, &it)))
        return -1;
    int rc = OX_OK;
    while (*n < budget && keys->len < sweep_bytes() &&
           (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        srv_pairs_add(keys, k.data, k.len, NULL, 0);
        (*n)++;
    }
    if (*n == budget && rc == OX_OK) /* full: is there more? */
        rc = ox_iter_next(it, &k, &v) == OX_NOTFOUND ? OX_NOTFOUND : OX_OK;
    ox_iter_close(it);
    *err = rc == OX_NOTFOUND || rc == OX_OK ? OX_OK : rc;
    return *err ? -1 : rc == OX_NOTFOUND;
}

/* The queue's last id: gathers its records if it is dead, as collect_id. 1 (also when it
 * turned out alive: nothing to reclaim) if it is done with, so the caller pops it once its
 * slice committed. */
static int sweep_dead(ox_txn *txn, size_t budget, srv_pairs *keys, size_t *n, int *err)
{
    const struct dead_id *d = &dead_q[dead_n - 1];
    unsigned char link[COLL_KEY_PREFIX];
    coll_member_key(link, d->id, COLL_SUB_HEAD, NULL, 0);
    ox_val key;
    *err = ox_txn_get(txn, members[d->table], link, sizeof link, &key);
    if (*err == OX_OK && coll_alive(txn, tables[d->table], &key, d->id))
        return 1; /* its deletion did not commit, or a rename kept it */
    if (*err != OX_OK && *err != OX_NOTFOUND) /* no back link: swept in part already */
        return -1;
    return collect_id(txn, d->table, d->id, budget, keys, n, err);
}

/* Gathers into keys (the first of each pair) up to budget member keys of
 * dead collections of member table i, from sweep_from on, looking at no more than budget
 * collections. Returns the count; *end: the table's walk is over. */
static size_t sweep_collect(ox_txn *txn, int i, size_t budget, srv_pairs *keys, int *end,
                            int *err)
{
    size_t n = 0, looked = 0;
    *end = 0;
    /* a live collection costs one of the budget too */
    while (n + looked < budget && keys->len < sweep_bytes()) {
        unsigned char lo[COLL_KEY_PREFIX];
        ox_val lov = {lo, 8}, k, v;
        coll_member_key(lo, sweep_from, 0, NULL, 0);
        ox_iter *it = NULL;
        if ((*err = ox_txn_range(txn, members[i], &lov, NULL, 0, &it)))
            return n;
        int rc = ox_iter_next(it, &k, &v);
        if (rc == OX_OK && k.len < COLL_KEY_PREFIX) { /* not a member's: step past it */
            unsigned char pad[8] = {0};
            memcpy(pad, k.data, k.len);
            ox_iter_close(it);
            srv_log(SRV_LOG_WARNING, "Member table %d holds a %zu-byte key: skipped", i,
                    k.len);
            sweep_from = coll_key_id(pad, sizeof pad) + 1; /* the first id above it */
            looked++;
            if (!sweep_from) {
                *end = 1;
                return n;
            }
            continue;
        }
        if (rc != OX_OK) {
            ox_iter_close(it);
            *end = rc == OX_NOTFOUND;
            *err = rc == OX_NOTFOUND ? OX_OK : rc;
            return n;
        }
        uint64_t id = coll_key_id(k.data, k.len);
        const unsigned char *kp = k.data;
        int dead = kp[8] != DB_SUB_HEAD || !coll_alive(txn, tables[i], &v, id);
        if (!dead) {
            ox_iter_close(it);
            looked++;
            sweep_from = id + 1;
            if (!sweep_from) { /* not reached: ids stop far below 2^64 */
                *end = 1;
                return n;
            }
            continue;
        }
        ox_iter_close(it);
        int all = collect_id(txn, i, id, budget, keys, &n, err);
        if (all < 0)
            return n;
        sweep_from = all ? id + 1 : id; /* the walk goes on after it, or its rest next */
    }
    return n;
}

int db_sweep(size_t budget)
{
    if (dead_n) { /* the queue first, a slice of one id at a time */
        ox_txn *txn;
        if (ox_txn_begin(srv.store, &txn) != OX_OK)
            return 0;
        srv_pairs keys = {0};
        size_t n = 0, off = 0;
        int err = OX_OK, done = sweep_dead(txn, budget, &keys, &n, &err);
        ox_val k, none;
        while (err == OX_OK && srv_pairs_next(&keys, &off, &k, &none)) {
            int rc = ox_txn_delete(txn, members[dead_q[dead_n - 1].table], k.data, k.len);
            if (rc != OX_OK && rc != OX_NOTFOUND)
                err = rc;
        }
        srv_pairs_free(&keys);
        err = err == OX_OK ? ox_txn_commit(txn) : (ox_txn_rollback(txn), err);
        if (err != OX_OK)
            return 0; /* the same slice again at the next cycle */
        atomic_fetch_add_explicit(&swept, n, memory_order_relaxed);
        dead_n -= done == 1;
        return 1;
    }
    if (!sweep_running) {
        uint64_t now = srv_monotonic_ms();
        if (!sweep_wanted && now - sweep_last_ms < SWEEP_PERIOD_MS)
            return 0;
        sweep_running = 1;
        sweep_wanted = 0; /* what happens from now on needs another pass */
        sweep_last_ms = now;
        sweep_table = 0;
        sweep_from = 0;
    }
    ox_txn *txn;
    if (ox_txn_begin(srv.store, &txn) != OX_OK)
        return 0; /* tried again at the next cycle */
    srv_pairs keys = {0};
    int end = 0, err = OX_OK;
    uint64_t from = sweep_from; /* a failed slice runs again from here */
    size_t n = sweep_collect(txn, sweep_table, budget, &keys, &end, &err), off = 0;
    ox_val k, none;
    while (err == OX_OK && srv_pairs_next(&keys, &off, &k, &none)) {
        int rc = ox_txn_delete(txn, members[sweep_table], k.data, k.len);
        if (rc != OX_OK && rc != OX_NOTFOUND)
            err = rc;
    }
    srv_pairs_free(&keys);
    if (err == OX_OK)
        err = ox_txn_commit(txn);
    else
        ox_txn_rollback(txn);
    if (err != OX_OK) {
        sweep_from = from; /* the same slice again at the next cycle */
        return 0;
    }
    atomic_fetch_add_explicit(&swept, n, memory_order_relaxed);
    if (end) { /* this table is done: the next one, or the pass is over */
        sweep_from = 0;
        if (++sweep_table == ntables) {
            sweep_table = 0;
            sweep_running = 0;
            return sweep_wanted;
        }
    }
    return 1;
}

unsigned long long db_swept(void)
{
    return atomic_load_explicit(&swept, memory_order_relaxed);
}
