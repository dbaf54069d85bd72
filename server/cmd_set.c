/* cmd_set.c — set commands, with Redis 7.0's semantics (t_set.c). A set is a collection
 * (db.h) whose members have empty values: SISMEMBER is one lookup, SCARD reads the record,
 * and SMEMBERS and the algebra (SINTER, SUNION, SDIFF and their STORE and CARD forms)
 * stream from cursors in member order, so no large set is ever held whole in memory; a
 * reply of at most 512 integers is held, to come in an intset's numeric order
 * (encoding.h). */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"
#include "cmd.h"
#include "db.h"
#include "encoding.h"
#include "log.h"
#include "num.h"
#include "pick.h"
#include "util.h"

static ox_val member_of(const ox_val *k)
{
    return (ox_val){(const unsigned char *)k->data + COLL_KEY_PREFIX, k->len - COLL_KEY_PREFIX};
}

/* 1 if m is a member of c, 0 if not, -1 on a store error (rc in *err). */
static int is_member(cmd_ctx *x, const db_coll *c, const void *m, size_t len, int *err)
{
    ox_val v;
    int rc = db_member_get(x, c, DB_SUB_FIELD, m, len, &v);
    if (rc == OX_OK || rc == OX_NOTFOUND)
        return rc == OX_OK;
    *err = rc;
    return -1;
}

/* Writer: member m (len bytes) was just added to c, which had count members: a member
 * that is not an integer, or a 513th, converts Redis's intset to a hash table for good
 * (the record's converted flag, coll_fmt.h). */
static void set_added(db_coll *c, uint64_t count, const void *m, size_t len)
{
    if (!c->converted && coll_set_converts(count, m, len))
        c->converted = 1;
}

void cmd_sadd(cmd_ctx *x)
{
    db_coll c;
    if (db_coll_open_or_reply(x, &x->argv[1], DB_SET, &c) < 0)
        return;
    db_member_prefetch_next(x, &c, DB_SUB_FIELD, 2);
    long long added = 0;
    for (int i = 2; i < x->argc; i++) {
        int a;
        int rc = db_member_add(x, &c, DB_SUB_FIELD, x->argv[i].ptr, x->argv[i].len, "", 0, &a);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return;
        }
        if (a)
            set_added(&c, c.count + (uint64_t)added, x->argv[i].ptr, x->argv[i].len);
        added += a;
    }
    int rc = OX_OK;
    if (added) {
        c.count += (uint64_t)added;
        cmd_notify(x, CONF_NOTIFY_SET, "sadd", &x->argv[1]);
        rc = db_coll_save(x, &x->argv[1], &c);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, added);
}

/* Removes the n members names[0..n) from c (found): how many were there, or -1 after
 * replying. The caller saves c. */
static long long remove_members(cmd_ctx *x, db_coll *c, const ox_val *names, size_t n)
{
    long long removed = 0;
    for (size_t i = 0; i < n; i++) {
        int r;
        int rc = db_member_del(x, c, DB_SUB_FIELD, names[i].data, names[i].len, &r);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return -1;
        }
        removed += r;
    }
    c->count -= (uint64_t)removed;
    return removed;
}

void cmd_srem(cmd_ctx *x)
{
    db_remove_members(x, DB_SET);
}

void cmd_scard(cmd_ctx *x)
{
    db_reply_count(x, DB_SET);
}

void cmd_sismember(cmd_ctx *x)
{
    db_coll c;
    int err = OX_OK;
    if (db_coll_get_or_reply(x, &x->argv[1], DB_SET, &c) < 0)
        return;
    int is = is_member(x, &c, x->argv[2].ptr, x->argv[2].len, &err);
    if (is < 0)
        cmd_store_error(x, err);
    else
        resp_write_int(x->out, is);
}

void cmd_smismember(cmd_ctx *x)
{
    db_coll c;
    int err = OX_OK;
    if (db_coll_get_or_reply(x, &x->argv[1], DB_SET, &c) < 0)
        return;
    resp_write_array(x->out, (size_t)x->argc - 2);
    for (int i = 2; i < x->argc; i++) /* a store error reads as absent: the reply is under way */
        resp_write_int(x->out, is_member(x, &c, x->argv[i].ptr, x->argv[i].len, &err) > 0);
}

void cmd_smembers(cmd_ctx *x)
{
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_SET, &c);
    if (found < 0)
        return;
    resp_write_set(x->out, (size_t)c.count);
    ox_iter *it = NULL;
    uint64_t n = 0;
    int rc = found ? db_member_iter(x, &c, DB_SUB_FIELD, NULL, &it) : OX_NOTFOUND;
    ox_val k, v;
    enc_ints o;
    enc_ints_init(&o, c.count);
    while (rc == OX_OK && n < c.count && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        ox_val m = member_of(&k);
        enc_ints_put(&o, x->out, m.data, m.len);
        n++;
    }
    ox_iter_close(it); /* NULL if it never opened */
    enc_ints_end(&o, x->out);
    for (; n < c.count; n++) /* a count that disagrees with the members: not reached */
        resp_write_null(x->out);
}

/* Writes the members of got as a set (SPOP), in the intset's order if they are the whole
 * set (Redis replies with its union then). */
static void reply_members(cmd_ctx *x, srv_pairs *got, int whole)
{
    ox_val m, v;
    size_t off = 0;
    enc_ints o;
    enc_ints_init(&o, whole ? got->n : SIZE_MAX);
    resp_write_set(x->out, got->n);
    while (srv_pairs_next(got, &off, &m, &v))
        enc_ints_put(&o, x->out, m.data, m.len);
    enc_ints_end(&o, x->out);
}

void cmd_srandmember(cmd_ctx *x)
{
    pick_reply_random(x, DB_SET, NULL);
}

void cmd_spop(cmd_ctx *x)
{
    long long count;
    int with_count;
    if (!cmd_pop_count_or_reply(x, &count, &with_count))
        return;
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_SET, &c);
    if (found < 0)
        return;
    if (!found || count == 0) {
        if (with_count)
            resp_write_set(x->out, 0);
        else
            resp_write_null(x->out);
        return;
    }
    srv_pairs got = {0}; /* without a count: one pick */
    int rc = pick_random(x, &c, with_count ? count : -1, &got);
    ox_val m, v;
    size_t off = 0;
    long long removed = 0;
    int whole = with_count && (uint64_t)count >= c.count;
    if (whole) /* all: the save deletes the key, O(1) writes as DEL (not one per member) */
        c.count = 0;
    while (rc == OX_OK && removed >= 0 && c.count && srv_pairs_next(&got, &off, &m, &v))
        removed = remove_members(x, &c, &m, 1) < 0 ? -1 : removed + 1;
    if (rc == OX_OK && removed >= 0) {
        cmd_notify(x, CONF_NOTIFY_SET, "spop", &x->argv[1]);
        rc = db_coll_save(x, &x->argv[1], &c);
    }
    off = 0;
    if (removed < 0)
        ; /* replied */
    else if (rc != OX_OK)
        cmd_store_error(x, rc);
    else if (with_count)
        reply_members(x, &got, whole);
    else if (srv_pairs_next(&got, &off, &m, &v))
        resp_write_bulk(x->out, m.data, m.len);
    srv_pairs_free(&got);
}

void cmd_smove(cmd_ctx *x)
{
    const resp_arg *src = &x->argv[1], *dst = &x->argv[2], *m = &x->argv[3];
    db_coll s, d;
    int err = OX_OK;
    if (!db_coll_or_zero(x, src, DB_SET, &s)) /* missing: 0, whatever dst holds (Redis) */
        return;
    if (db_coll_get_or_reply(x, dst, DB_SET, &d) < 0)
        return;
    if (src->len == dst->len && !memcmp(src->ptr, dst->ptr, src->len)) {
        int is = is_member(x, &s, m->ptr, m->len, &err);
        if (is < 0)
            cmd_store_error(x, err);
        else
            resp_write_int(x->out, is);
        return;
    }
    ox_val name = {m->ptr, m->len};
    long long removed = remove_members(x, &s, &name, 1);
    if (removed <= 0) {
        if (removed == 0)
            resp_write_int(x->out, 0);
        return;
    }
    int added;
    cmd_notify(x, CONF_NOTIFY_SET, "srem", src);
    int rc = db_coll_save(x, src, &s);
    if (rc == OX_OK && !d.exists)
        rc = db_coll_fresh(x, &d);
    if (rc == OX_OK)
        rc = db_member_add(x, &d, DB_SUB_FIELD, m->ptr, m->len, "", 0, &added);
    if (rc == OX_OK && added) {
        set_added(&d, d.count++, m->ptr, m->len);
        cmd_notify(x, CONF_NOTIFY_SET, "sadd", dst);
        rc = db_coll_save(x, dst, &d);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, 1);
}

/* ---- SINTER, SUNION, SDIFF ------------------------------------------------------------ */

enum { OP_INTER, OP_UNION, OP_DIFF };
enum { TO_REPLY, TO_COUNT, TO_STORE };

/* Where the members of a result go, one at a time, in member order. */
typedef struct sink {
    int to;
    resp_deferred d;     /* TO_REPLY: the set's length, written at the end */
    uint64_t n;          /* members so far */
    uint64_t limit;      /* TO_COUNT: stop there (0: none) */
    db_coll dst;         /* TO_STORE: a fresh set under a new id */
    enc_ints order;      /* TO_REPLY: the intset's order, as Redis's reply */
} sink;

/* 1 to go on, 0 when the sink wants no more, -1 on a store error (rc in *err). */
static int sink_put(cmd_ctx *x, sink *s, const ox_val *m, int *err)
{
    if (s->to == TO_REPLY) {
        enc_ints_put(&s->order, x->out, m->data, m->len);
    } else if (s->to == TO_STORE) {
        int added, rc = db_member_add(x, &s->dst, DB_SUB_FIELD, m->data, m->len, "", 0, &added);
        if (rc == OX_OK) /* Redis adds to a new intset; m is the walk's: before a part ends */
            set_added(&s->dst, s->n, m->data, m->len);
        if (rc == OX_OK)
            rc = bulk_step(x);
        if (rc != OX_OK) {
            *err = rc;
            return -1;
        }
        s->n += (uint64_t)added - 1; /* each member comes once: added is 1 */
    }
    s->n++;
    return !(s->to == TO_COUNT && s->limit && s->n >= s->limit);
}

/* Streams the members of c into s: INTER keeps those in every other set (sets[skip] is c),
 * DIFF those in none. OX_OK or an error. */
static int filter_into(cmd_ctx *x, const db_coll *c, const db_coll *sets, int nsets, int skip,
                       int op, sink *s)
{
    db_walk *w = NULL;
    int rc = db_member_walk(x, c, DB_SUB_FIELD, 0, &w), err = OX_OK, go = 1;
    ox_val k, v;
    while (rc == OX_OK && go > 0 && (rc = bulk_walk_next(w, &k, &v)) == OX_OK) {
        ox_val m = member_of(&k);
        int keep = 1;
        for (int i = 0; keep && i < nsets; i++) {
            if (i == skip || (op == OP_DIFF && !sets[i].exists))
                continue;
            int is = is_member(x, &sets[i], m.data, m.len, &err);
            if (is < 0)
                go = -1;
            keep = op == OP_INTER ? is > 0 : is == 0;
        }
        if (keep && go > 0)
            go = sink_put(x, s, &m, &err);
    }
    bulk_walk_close(w); /* NULL if it never opened */
    return go < 0 ? err : rc == OX_NOTFOUND ? OX_OK : rc;
}

/* The union: a merge of every set's member order, each member once. */
static int union_into(cmd_ctx *x, const db_coll *sets, int nsets, sink *s)
{
    const db_coll **cs = srv_xcalloc((size_t)nsets, sizeof *cs);
    for (int i = 0; i < nsets; i++)
        cs[i] = &sets[i];
    db_merge *m;
    int rc = db_merge_open(x, cs, nsets, &m), err = OX_OK, go = 1;
    free(cs);
    ox_val member;
    while (rc == OX_OK && go > 0 && (rc = db_merge_next(m, &member)) == OX_OK)
        go = sink_put(x, s, &member, &err);
    db_merge_close(m);
    return go < 0 ? err : rc == OX_NOTFOUND ? OX_OK : rc;
}

/* The algebra's common path over the keys argv[first .. first + nkeys): the sets (each
 * checked, a missing one empty), then the members into s. 0, or -1 after replying. */
static int algebra_or_reply(cmd_ctx *x, int op, int first, int nkeys, sink *s)
{
    db_coll *sets = srv_xcalloc((size_t)nkeys, sizeof *sets);
    int missing = 0, smallest = -1, rc = OX_OK;
    for (int i = 0; i < nkeys; i++) {
        int found = db_coll_get_or_reply(x, &x->argv[first + i], DB_SET, &sets[i]);
        if (found < 0) {
            free(sets);
            return -1;
        }
        missing += !found;
        if (found && (smallest < 0 || sets[i].count < sets[smallest].count))
            smallest = i;
    }
    if (s->to == TO_STORE) { /* at most the members walked: the union's, or the first's */
        uint64_t most = op == OP_UNION ? 0 : op == OP_INTER ? sets[smallest < 0 ? 0 : smallest].count
                                                            : sets[0].count;
        for (int i = 0; op == OP_UNION && i < nkeys; i++)
            most += sets[i].count;
        if (!bulk_begin(x, most) || (rc = db_coll_fresh(x, &s->dst)) != OX_OK) {
            free(sets);
            if (rc != OX_OK)
                cmd_store_error(x, rc);
            return -1; /* or nothing written or replied: it runs again (bulk.h) */
        }
    }
    if (s->to == TO_REPLY) {
        resp_write_deferred(x->out, &s->d);
        enc_ints_init(&s->order, 0);
    }
    if (op == OP_UNION)
        rc = union_into(x, sets, nkeys, s);
    else if (op == OP_INTER && !missing)
        rc = filter_into(x, &sets[smallest], sets, nkeys, smallest, OP_INTER, s);
    else if (op == OP_DIFF && sets[0].exists)
        rc = filter_into(x, &sets[0], sets, nkeys, 0, OP_DIFF, s);
    free(sets);
    if (s->to != TO_REPLY && rc != OX_OK) {
        cmd_store_error(x, rc);
        return -1;
    }
    if (s->to == TO_REPLY) { /* an error cannot follow a reply under way: it is logged */
        enc_ints_end(&s->order, x->out);
        resp_write_deferred_len(x->out, &s->d, RESP_AGG_SET, s->n);
    }
    if (rc != OX_OK)
        srv_log(SRV_LOG_WARNING, "%s: a read failed after %llu members: %s", x->cmd->name,
                (unsigned long long)s->n, ox_strerror(rc));
    return rc == OX_OK ? 0 : -1;
}

static void algebra_reply(cmd_ctx *x, int op)
{
    sink s = {.to = TO_REPLY};
    algebra_or_reply(x, op, 1, x->argc - 1, &s);
}

/* SINTERSTORE, SUNIONSTORE, SDIFFSTORE dst key...: the result replaces dst (whatever it
 * held, its expiry time too); an empty one deletes it. */
static void algebra_store(cmd_ctx *x, int op)
{
    sink s = {.to = TO_STORE, .dst = {.type = DB_SET, .members = db_members_of(x->table)}};
    if (algebra_or_reply(x, op, 2, x->argc - 2, &s) < 0)
        return;
    s.dst.count = s.n;
    int rc = db_coll_replace(x, &x->argv[1], &s.dst);
    if (rc == OX_OK && s.n) {
        static const char *const ev[] = {"sinterstore", "sunionstore", "sdiffstore"};
        cmd_notify(x, CONF_NOTIFY_SET, ev[op], &x->argv[1]);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, (long long)s.n);
}

void cmd_sinter(cmd_ctx *x) { algebra_reply(x, OP_INTER); }
void cmd_sunion(cmd_ctx *x) { algebra_reply(x, OP_UNION); }
void cmd_sdiff(cmd_ctx *x) { algebra_reply(x, OP_DIFF); }
void cmd_sinterstore(cmd_ctx *x) { algebra_store(x, OP_INTER); }
void cmd_sunionstore(cmd_ctx *x) { algebra_store(x, OP_UNION); }
void cmd_sdiffstore(cmd_ctx *x) { algebra_store(x, OP_DIFF); }

/* SINTERCARD numkeys key [key ...] [LIMIT limit]. */
void cmd_sintercard(cmd_ctx *x)
{
    long long nkeys, limit = 0;
    if (!num_str2ll(x->argv[1].ptr, x->argv[1].len, &nkeys) || nkeys < 1) {
        cmd_err(x, "-ERR numkeys should be greater than 0");
        return;
    }
    if (nkeys > x->argc - 2) {
        cmd_err(x, "-ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)nkeys; i < x->argc; i++) {
        if (cmd_is(&x->argv[i], "limit") && i + 1 < x->argc) {
            i++;
            if (!num_str2ll(x->argv[i].ptr, x->argv[i].len, &limit) || limit < 0) {
                cmd_err(x, "-ERR LIMIT can't be negative");
                return;
            }
        } else {
            cmd_syntax_error(x);
            return;
        }
    }
    sink s = {.to = TO_COUNT, .limit = (uint64_t)limit};
    if (algebra_or_reply(x, OP_INTER, 2, (int)nkeys, &s) == 0)
        resp_write_int(x->out, (long long)s.n);
}
