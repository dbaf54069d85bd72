/* cmd_list.c — list commands, with Redis 7.0's semantics (t_list.c). A list is a
 * collection (db.h) whose elements sit at consecutive positions head .. head + count - 1
 * (coll_fmt.h): a push or pop at either end is one write, LINDEX and LSET one lookup,
 * LRANGE a walk from its start. LINSERT and LREM move the elements after the change, as
 * Redis's ziplists do (O(n)); when more would move (or LTRIM would delete) than a
 * transaction should change, the list is rebuilt under a fresh id in parts (bulk.h). The
 * blocking forms park in the writer when every list is empty (block.h) and run again when
 * one gets elements. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "db.h"
#include "num.h"
#include "util.h"

#define POS_LEN 8

enum { LEFT, RIGHT };

/* Element `pos` (absolute) of c: OX_OK with *v, OX_NOTFOUND or an error. */
static int elem_get(cmd_ctx *x, const db_coll *c, int64_t pos, ox_val *v)
{
    unsigned char p[POS_LEN];
    coll_pos_put(p, pos);
    return db_member_get(x, c, COLL_SUB_LIST, p, POS_LEN, v);
}

/* A hint that element `pos` of c comes up soon (db_member_prefetch): a queue's next push
 * or pop at the same end is often the batch's next command, and its lookup of the element
 * was a cache miss (LPOP at -P 16: a sixth of the writer's time). */
static void elem_prefetch(cmd_ctx *x, const db_coll *c, int64_t pos)
{
    unsigned char p[POS_LEN];
    coll_pos_put(p, pos);
    db_member_prefetch(x, c, COLL_SUB_LIST, p, POS_LEN);
}

/* Writes element `pos` of c; fresh: the caller knows it is not there (past the list's
 * end, or c a fresh id), so it is not looked up. */
static int elem_write(cmd_ctx *x, const db_coll *c, int64_t pos, const void *v, size_t len,
                      int fresh)
{
    unsigned char p[POS_LEN];
    coll_pos_put(p, pos);
    return fresh ? db_member_put_new(x, c, COLL_SUB_LIST, p, POS_LEN, v, len)
                 : db_member_put(x, c, COLL_SUB_LIST, p, POS_LEN, v, len, NULL);
}

static int elem_put(cmd_ctx *x, const db_coll *c, int64_t pos, const void *v, size_t len)
{
    return elem_write(x, c, pos, v, len, 0);
}

static int elem_del(cmd_ctx *x, const db_coll *c, int64_t pos)
{
    unsigned char p[POS_LEN];
    int gone;
    coll_pos_put(p, pos);
    return db_member_del(x, c, COLL_SUB_LIST, p, POS_LEN, &gone);
}

/* The position an iterator's key names. */
static int64_t pos_of(const ox_val *k)
{
    const unsigned char *p = (const unsigned char *)k->data + COLL_KEY_PREFIX;
    uint64_t u = 0;
    for (int i = 0; i < POS_LEN; i++)
        u = u << 8 | p[i];
    return (int64_t)(u ^ (1ull << 63));
}

/* An iterator over c's elements from absolute position `from`: up to the last one, or
 * (rev) down to the first. */
static int elem_iter(cmd_ctx *x, const db_coll *c, int64_t from, int rev, ox_iter **it)
{
    unsigned char a[COLL_KEY_PREFIX + POS_LEN], b[COLL_KEY_PREFIX + POS_LEN];
    coll_member_key(a, c->id, COLL_SUB_LIST, NULL, 0);
    coll_member_key(b, c->id, COLL_SUB_LIST, NULL, 0);
    coll_pos_put(a + COLL_KEY_PREFIX, rev ? c->head : from);
    coll_pos_put(b + COLL_KEY_PREFIX, (rev ? from : c->head + (int64_t)c->count - 1) + 1);
    ox_val lo = {a, sizeof a}, hi = {b, sizeof b}; /* [lo, hi) */
    unsigned flags = rev ? OX_ITER_DESC : 0;
    return db_member_span(x, c, &lo, &hi, flags, it);
}

/* A walk over c's elements [from, to] (absolute; rev: from `to` down) that goes on after a
 * part's commit (bulk.h). */
static int elem_walk(cmd_ctx *x, const db_coll *c, int64_t from, int64_t to, int rev,
                     db_walk **w)
{
    unsigned char a[COLL_KEY_PREFIX + POS_LEN], b[COLL_KEY_PREFIX + POS_LEN];
    coll_member_key(a, c->id, COLL_SUB_LIST, NULL, 0);
    coll_member_key(b, c->id, COLL_SUB_LIST, NULL, 0);
    coll_pos_put(a + COLL_KEY_PREFIX, from);
    coll_pos_put(b + COLL_KEY_PREFIX, to + 1);
    ox_val lo = {a, sizeof a}, hi = {b, sizeof b}; /* [lo, hi) */
    return bulk_walk_open(x, c->members, &lo, &hi, rev ? OX_ITER_DESC : 0, w);
}

/* Where the element at absolute position p (value v) goes in a rebuilt list: 1 with its
 * new position in *to, or 0 to leave it out. */
typedef int elem_map(void *ctx, int64_t p, const ox_val *v, int64_t *to);

/* Writer, for a change of more elements than a transaction should make in place
 * (bulk_budget), once bulk_begin said to go on: c's elements [from, to] (rev: walked from
 * `to` down) copied into dst, a fresh list, at the places map gives, in parts. dst's head
 * is the caller's to set. OX_OK or an error. */
static int list_rebuild(cmd_ctx *x, const db_coll *c, db_coll *dst, int64_t from, int64_t to,
                        int rev, elem_map *map, void *ctx)
{
    *dst = (db_coll){.type = DB_LIST, .members = c->members};
    db_walk *w = NULL;
    int rc = db_coll_fresh(x, dst);
    if (rc == OX_OK)
        rc = elem_walk(x, c, from, to, rev, &w);
    ox_val k, v;
    while (rc == OX_OK && (rc = bulk_walk_next(w, &k, &v)) == OX_OK) {
        int64_t at;
        if (!map(ctx, pos_of(&k), &v, &at))
            continue;
        rc = elem_write(x, dst, at, v.data, v.len, 1); /* a fresh id; v good through it */
        dst->count++;
        if (rc == OX_OK)
            rc = bulk_step(x);
    }
    bulk_walk_close(w); /* NULL if it never opened */
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* Redis's index into a list of len: negative from the end. 1 with *abs (0-based) if it
 * falls inside, else 0. */
static int index_in(long long idx, uint64_t len, int64_t *abs)
{
    if (idx < 0)
        idx += (long long)len;
    if (idx < 0 || (uint64_t)idx >= len)
        return 0;
    *abs = idx;
    return 1;
}

/* Redis's list range: negative indexes from the end, start clamped at 0, end not (a range
 * ending before the head is empty). 1 with [*start, *end] inside the list, 0 if empty. */
static int list_range(long long *start, long long *end, long long len)
{
    if (*start < 0)
        *start += len;
    if (*end < 0)
        *end += len;
    if (*start < 0)
        *start = 0;
    if (*start > *end || *start >= len)
        return 0;
    if (*end >= len)
        *end = len - 1;
    return 1;
}

/* ---- pushes ----------------------------------------------------------------------------- */

/* Pushes v at one end of c (not saved). */
/* The events of a push and of a pop at end `where`. */
static const char *push_event(int where) { return where == LEFT ? "lpush" : "rpush"; }
static const char *pop_event(int where) { return where == LEFT ? "lpop" : "rpop"; }

static int push_one(cmd_ctx *x, db_coll *c, int where, const ox_val *v)
{
    int64_t pos = where == LEFT ? --c->head : c->head + (int64_t)c->count;
    c->count++;
    return elem_write(x, c, pos, v->data, v->len, 1); /* past the end: nothing there */
}

/* Pushes argv[2..] at one end; xx: only onto an existing list (LPUSHX, RPUSHX). */
static void push_generic(cmd_ctx *x, int where, int xx)
{
    db_coll c;
    if (xx ? !db_coll_or_zero(x, &x->argv[1], DB_LIST, &c)
           : db_coll_open_or_reply(x, &x->argv[1], DB_LIST, &c) < 0)
        return;
    int rc = OX_OK;
    for (int i = 2; rc == OX_OK && i < x->argc; i++) {
        ox_val v = {x->argv[i].ptr, x->argv[i].len};
        rc = push_one(x, &c, where, &v);
    }
    if (rc == OX_OK) {
        elem_prefetch(x, &c, where == LEFT ? c.head - 1 : c.head + (int64_t)c.count);
        cmd_notify(x, CONF_NOTIFY_LIST, push_event(where), &x->argv[1]);
        rc = db_coll_save(x, &x->argv[1], &c);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, (long long)c.count);
}

void cmd_lpush(cmd_ctx *x) { push_generic(x, LEFT, 0); }
void cmd_rpush(cmd_ctx *x) { push_generic(x, RIGHT, 0); }
void cmd_lpushx(cmd_ctx *x) { push_generic(x, LEFT, 1); }
void cmd_rpushx(cmd_ctx *x) { push_generic(x, RIGHT, 1); }

/* ---- pops ------------------------------------------------------------------------------- */

/* Pops up to n elements from one end of c (found) into got; the caller saves c. All of
 * them are only read: the save of the empty list deletes its key (O(1) writes, as DEL; the
 * sweeper reclaims them), where a delete each grew the write buffer past its limit. */
static int pop_n(cmd_ctx *x, db_coll *c, int where, uint64_t n, srv_pairs *got)
{
    int rc = OX_OK;
    if (n >= c->count) {
        ox_iter *it = NULL;
        ox_val k, v;
        rc = elem_iter(x, c, where == LEFT ? c->head : c->head + (int64_t)c->count - 1,
                       where == RIGHT, &it);
        while (rc == OX_OK && (rc = ox_iter_next(it, &k, &v)) == OX_OK)
            srv_pairs_add(got, v.data, v.len, NULL, 0);
        ox_iter_close(it);
        if (rc == OX_NOTFOUND)
            rc = got->n == c->count ? OX_OK : OX_ECORRUPT;
        c->count = 0;
        return rc;
    }
    for (uint64_t i = 0; rc == OX_OK && i < n && c->count; i++) {
        int64_t pos = where == LEFT ? c->head : c->head + (int64_t)c->count - 1;
        ox_val v;
        if ((rc = elem_get(x, c, pos, &v)) == OX_OK) {
            srv_pairs_add(got, v.data, v.len, NULL, 0);
            rc = elem_del(x, c, pos);
        }
        if (where == LEFT)
            c->head++;
        c->count--;
    }
    if (rc == OX_OK && c->count)
        elem_prefetch(x, c, where == LEFT ? c->head : c->head + (int64_t)c->count - 1);
    return rc;
}

/* LPOP / RPOP key [count]. */
static void pop_generic(cmd_ctx *x, int where)
{
    long long count;
    int with_count;
    if (x->argc > 3) {
        cmd_reply_arity(x->out, x->cmd->name);
        return;
    }
    if (!cmd_pop_count_or_reply(x, &count, &with_count))
        return;
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_LIST, &c);
    if (found <= 0) {
        if (found == 0 && with_count)
            resp_write_null_array(x->out);
        else if (found == 0)
            resp_write_null(x->out);
        return;
    }
    srv_pairs got = {0};
    int rc = pop_n(x, &c, where, (uint64_t)count, &got);
    if (rc == OX_OK && got.n) {
        cmd_notify(x, CONF_NOTIFY_LIST, pop_event(where), &x->argv[1]);
        rc = db_coll_save(x, &x->argv[1], &c);
    }
    ox_val v, none;
    size_t off = 0;
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
    } else if (with_count) {
        resp_write_array(x->out, got.n);
        while (srv_pairs_next(&got, &off, &v, &none))
            resp_write_bulk(x->out, v.data, v.len);
    } else if (srv_pairs_next(&got, &off, &v, &none)) {
        resp_write_bulk(x->out, v.data, v.len);
    }
    srv_pairs_free(&got);
}

void cmd_lpop(cmd_ctx *x) { pop_generic(x, LEFT); }
void cmd_rpop(cmd_ctx *x) { pop_generic(x, RIGHT); }

/* ---- reads ------------------------------------------------------------------------------ */

void cmd_llen(cmd_ctx *x)
{
    db_reply_count(x, DB_LIST);
}

void cmd_lindex(cmd_ctx *x)
{
    long long idx;
    db_coll c;
    int64_t at;
    ox_val v;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_LIST, &c); /* Redis: key first */
    if (found == 0) {
        resp_write_null(x->out);
        return;
    }
    if (found < 0 || cmd_ll_or_reply(x, &x->argv[2], &idx))
        return;
    int rc = found && index_in(idx, c.count, &at) ? elem_get(x, &c, c.head + at, &v) : OX_NOTFOUND;
    if (rc == OX_OK)
        resp_write_bulk(x->out, v.data, v.len);
    else if (rc == OX_NOTFOUND)
        resp_write_null(x->out);
    else
        cmd_store_error(x, rc);
}

void cmd_lrange(cmd_ctx *x)
{
    long long start, stop;
    db_coll c;
    if (cmd_ll_or_reply(x, &x->argv[2], &start) || cmd_ll_or_reply(x, &x->argv[3], &stop))
        return;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_LIST, &c);
    if (found < 0)
        return;
    long long len = (long long)c.count;
    if (!found || !list_range(&start, &stop, len)) {
        resp_write_array(x->out, 0);
        return;
    }
    ox_iter *it = NULL;
    int rc = elem_iter(x, &c, c.head + start, 0, &it);
    long long n = stop - start + 1, i = 0;
    resp_write_array(x->out, (size_t)n);
    ox_val k, v;
    while (rc == OX_OK && i < n && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        resp_write_bulk(x->out, v.data, v.len);
        i++;
    }
    ox_iter_close(it); /* NULL if it never opened */
    for (; i < n; i++) /* the count disagrees with the elements: not reached */
        resp_write_null(x->out);
}

/* ---- changes in place --------------------------------------------------------------------- */

void cmd_lset(cmd_ctx *x)
{
    long long idx;
    db_coll c;
    int64_t at;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_LIST, &c); /* Redis: key first */
    if (found == 0)
        cmd_err(x, "-ERR no such key");
    if (found <= 0 || cmd_ll_or_reply(x, &x->argv[2], &idx))
        return;
    if (!index_in(idx, c.count, &at)) {
        cmd_err(x, "-ERR index out of range");
        return;
    }
    int rc = elem_put(x, &c, c.head + at, x->argv[3].ptr, x->argv[3].len);
    if (rc == OX_OK) {
        db_coll_touch(x, &x->argv[1]);
        cmd_notify(x, CONF_NOTIFY_LIST, "lset", &x->argv[1]);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        cmd_ok(x);
}

/* Saves dst as argv[1]'s list: a rebuilt copy of c (list_rebuild) replaces it, or dst is c
 * changed in place. */
static int list_store(cmd_ctx *x, const db_coll *c, db_coll *dst, int rebuilt)
{
    return rebuilt ? db_coll_rewrite(x, &x->argv[1], c, dst) : db_coll_save(x, &x->argv[1], dst);
}

/* elem_map: every element where it was. */
static int map_same(void *ctx, int64_t p, const ox_val *v, int64_t *to)
{
    (void)ctx, (void)v;
    *to = p;
    return 1;
}

void cmd_ltrim(cmd_ctx *x)
{
    long long start, stop;
    db_coll c;
    if (cmd_ll_or_reply(x, &x->argv[2], &start) || cmd_ll_or_reply(x, &x->argv[3], &stop))
        return;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_LIST, &c);
    if (found <= 0) {
        if (found == 0)
            cmd_ok(x);
        return;
    }
    long long len = (long long)c.count;
    long long keep_from = 0, keep_to = -1; /* [keep_from, keep_to] survive */
    if (list_range(&start, &stop, len)) {
        keep_from = start;
        keep_to = stop;
    }
    int rc = OX_OK;
    long long kept = keep_to >= keep_from ? keep_to - keep_from + 1 : 0;
    int rebuild = kept && (uint64_t)(len - kept) > bulk_most(x);
    db_coll dst = c; /* the list it becomes: c, or the kept part rebuilt */
    if (rebuild) {
        if (!bulk_begin(x, UINT64_MAX))
            return; /* nothing written or replied: it runs again first in a part */
        rc = list_rebuild(x, &c, &dst, c.head + keep_from, c.head + keep_to, 0, map_same, NULL);
    } else { /* the removed parts one by one; none when nothing is kept (the save of the
                empty list deletes its key, as pop_n) */
        for (long long i = 0; rc == OX_OK && kept && i < keep_from; i++)
            rc = elem_del(x, &c, c.head + i);
        for (long long i = keep_to + 1; rc == OX_OK && kept && i < len; i++)
            rc = elem_del(x, &c, c.head + i);
    }
    dst.head = c.head + (kept ? keep_from : 0);
    dst.count = (uint64_t)kept;
    if (rc == OX_OK) {
        cmd_notify(x, CONF_NOTIFY_LIST, "ltrim", &x->argv[1]);
        rc = list_store(x, &c, &dst, rebuild);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        cmd_ok(x);
}

/* Moves the elements from absolute position `from` to the end one place towards the head
 * (an element was removed before them) or away from it (one goes in), walking so that
 * every write lands where the walk has been; stops once past the budget b. */
static int shift_tail(cmd_ctx *x, db_coll *c, int64_t from, int by, bulk_budget *b)
{
    int64_t end = c->head + (int64_t)c->count - 1;
    db_walk *w = NULL;
    int rc = from > end ? OX_NOTFOUND : elem_walk(x, c, from, end, by > 0, &w);
    ox_val k, v;
    while (rc == OX_OK && (rc = bulk_walk_next(w, &k, &v)) == OX_OK &&
           bulk_budget_take(b, COLL_KEY_PREFIX + POS_LEN + v.len))
        rc = elem_put(x, c, pos_of(&k) + by, v.data, v.len);
    bulk_walk_close(w); /* NULL if it never opened */
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* elem_map of LINSERT: the elements from the new one's place (*ctx) on move up one. */
static int map_insert(void *ctx, int64_t p, const ox_val *v, int64_t *to)
{
    (void)v;
    *to = p >= *(const int64_t *)ctx ? p + 1 : p;
    return 1;
}

void cmd_linsert(cmd_ctx *x)
{
    int after = cmd_is(&x->argv[2], "after");
    if (!after && !cmd_is(&x->argv[2], "before")) {
        cmd_syntax_error(x);
        return;
    }
    db_coll c;
    if (!db_coll_or_zero(x, &x->argv[1], DB_LIST, &c))
        return;
    const resp_arg *pivot = &x->argv[3];
    ox_iter *it = NULL;
    int rc = elem_iter(x, &c, c.head, 0, &it);
    int64_t at = 0;
    int hit = 0;
    ox_val k, v;
    while (rc == OX_OK && !hit && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        hit = v.len == pivot->len && !memcmp(v.data, pivot->ptr, v.len);
        at = pos_of(&k);
    }
    ox_iter_close(it); /* NULL if it never opened */
    if (rc != OX_OK && rc != OX_NOTFOUND) {
        cmd_store_error(x, rc);
        return;
    }
    if (!hit) {
        resp_write_int(x->out, -1);
        return;
    }
    int64_t pos = at + after; /* the new element's place: what is there moves up */
    int64_t end = c.head + (int64_t)c.count - 1;
    db_coll dst = c; /* the list it becomes: c, or a rebuilt copy if too much would move */
    bulk_budget b = bulk_budget_of(x);
    int rebuild = (uint64_t)(end + 1 - pos) > b.most;
    if (!rebuild && (rc = shift_tail(x, &c, pos, 1, &b)) == OX_OK && bulk_budget_over(&b)) {
        rc = cmd_take_back(x); /* long elements: rebuilt instead */
        rebuild = 1;
    }
    if (rc == OX_OK && rebuild && !bulk_begin(x, UINT64_MAX))
        return; /* nothing written or replied: it runs again first in a part */
    if (rc == OX_OK && rebuild)
        rc = list_rebuild(x, &c, &dst, c.head, end, 0, map_insert, &pos);
    dst.head = c.head;
    if (rc == OX_OK)
        rc = elem_put(x, &dst, pos, x->argv[4].ptr, x->argv[4].len);
    dst.count++;
    if (rc == OX_OK) {
        cmd_notify(x, CONF_NOTIFY_LIST, "linsert", &x->argv[1]);
        rc = list_store(x, &c, &dst, rebuild);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, (long long)dst.count);
}

/* LREM's matching: the element, how many to remove at most, and the survivors' next place
 * in a rebuilt list (elem_map). */
typedef struct lrem_ctx {
    const resp_arg *e;
    unsigned long long limit, removed;
    int64_t write;
    int rev;
} lrem_ctx;

static int lrem_match(lrem_ctx *m, const ox_val *v)
{
    return m->removed < m->limit && v->len == m->e->len && !memcmp(v->data, m->e->ptr, v->len);
}

static int map_lrem(void *ctx, int64_t p, const ox_val *v, int64_t *to)
{
    lrem_ctx *m = ctx;
    (void)p;
    if (lrem_match(m, v)) {
        m->removed++;
        return 0;
    }
    *to = m->write;
    m->write += m->rev ? -1 : 1;
    return 1;
}

/* LREM key count element: the survivors close ranks towards the end the walk starts
 * from (the head for count >= 0, the tail otherwise), each written behind the walk; or,
 * once the moves and deletions pass what a transaction should change (bulk_budget), that
 * is taken back and the survivors are rebuilt under a fresh id. */
void cmd_lrem(cmd_ctx *x)
{
    long long count;
    if (cmd_ll_or_reply(x, &x->argv[2], &count))
        return;
    db_coll c;
    if (!db_coll_or_zero(x, &x->argv[1], DB_LIST, &c))
        return;
    int rev = count < 0;
    lrem_ctx m = {.e = &x->argv[3], .rev = rev,
                  .limit = count == 0 ? ULLONG_MAX
                         : count < 0 ? (unsigned long long)-(count + 1) + 1
                                     : (unsigned long long)count};
    int64_t first = c.head, last = c.head + (int64_t)c.count - 1;
    m.write = rev ? last : first; /* where the next survivor goes */
    int rc = OX_OK, rebuild = 0;
    db_coll dst = c; /* the list it becomes */
    bulk_budget b = bulk_budget_of(x); /* the moves and the deletions at the far end */
    db_walk *w = NULL;
    rc = elem_walk(x, &c, first, last, rev, &w);
    ox_val k, v;
    while (rc == OX_OK && (rc = bulk_walk_next(w, &k, &v)) == OX_OK) {
        int64_t at, p = pos_of(&k);
        int keep = map_lrem(&m, p, &v, &at);
        if (keep && at == p)
            continue;
        if (!bulk_budget_take(&b, COLL_KEY_PREFIX + POS_LEN + (keep ? v.len : 0)))
            break;
        if (keep)
            rc = elem_put(x, &c, at, v.data, v.len);
    }
    bulk_walk_close(w); /* NULL if it never opened */
    rc = rc == OX_NOTFOUND ? OX_OK : rc;
    /* the places the survivors left free at the far end (none once past the budget:
     * taken back below) */
    for (unsigned long long i = 0; rc == OX_OK && !bulk_budget_over(&b) && i < m.removed;
         i++)
        rc = elem_del(x, &c, rev ? first + (int64_t)i : last - (int64_t)i);
    if (rc == OX_OK && bulk_budget_over(&b)) { /* too much: rebuilt instead */
        rc = cmd_take_back(x);
        rebuild = 1;
        m.removed = 0;
        m.write = rev ? last : first;
    }
    if (rev)
        dst.head += (int64_t)m.removed;
    dst.count -= m.removed;
    if (rc == OX_OK && rebuild) {
        if (!bulk_begin(x, UINT64_MAX))
            return; /* nothing written or replied: it runs again first in a part */
        rc = list_rebuild(x, &c, &dst, first, last, rev, map_lrem, &m);
        dst.head = rev ? c.head + (int64_t)m.removed : c.head;
    }
    if (rc == OX_OK && m.removed) {
        cmd_notify(x, CONF_NOTIFY_LIST, "lrem", &x->argv[1]);
        rc = list_store(x, &c, &dst, rebuild);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, (long long)m.removed);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. */
void cmd_lpos(cmd_ctx *x)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int i = 3; i < x->argc; i++) {
        const resp_arg *o = &x->argv[i];
        int more = x->argc - 1 - i;
        long long *dst = cmd_is(o, "rank") ? &rank : cmd_is(o, "count") ? &count
                       : cmd_is(o, "maxlen") ? &maxlen : NULL;
        if (!dst || !more) {
            cmd_syntax_error(x);
            return;
        }
        const resp_arg *v = &x->argv[++i];
        if (dst == &rank ? cmd_ll_or_reply(x, v, dst) != 0 : 0)
            return;
        if (dst != &rank && !num_str2ll(v->ptr, v->len, dst)) /* Redis's wording for both */
            *dst = -1;
        if (dst == &rank && rank == 0) {
            cmd_err(x, "-ERR RANK can't be zero: use 1 to start from the first match, 2 from "
                       "the second ... or use negative to start from the end of the list");
            return;
        }
        if (dst == &count && count < 0) {
            cmd_err(x, "-ERR COUNT can't be negative");
            return;
        }
        if (dst == &maxlen && maxlen < 0) {
            cmd_err(x, "-ERR MAXLEN can't be negative");
            return;
        }
    }
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_LIST, &c);
    if (found <= 0) {
        if (found == 0 && count >= 0)
            resp_write_array(x->out, 0);
        else if (found == 0)
            resp_write_null(x->out);
        return;
    }
    int rev = rank < 0;
    /* RANK -9223372036854775808: Redis negates it into itself, a rank below every count
     * of matches, so it answers as RANK -1 whose COUNT never ends the walk */
    int wrapped = rank == LLONG_MIN;
    unsigned long long skip = wrapped ? 0
                            : rev ? (unsigned long long)-(rank + 1) : (unsigned long long)(rank - 1);
    ox_iter *it = NULL;
    int rc = elem_iter(x, &c, rev ? c.head + (int64_t)c.count - 1 : c.head, rev, &it);
    resp_deferred d;
    long long matches = 0, looked = 0;
    const resp_arg *e = &x->argv[2];
    if (count >= 0)
        resp_write_deferred(x->out, &d);
    ox_val k, v;
    while (rc == OX_OK && (maxlen == 0 || looked < maxlen) &&
           (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        looked++;
        if (v.len != e->len || memcmp(v.data, e->ptr, v.len))
            continue;
        if (skip) {
            skip--;
            continue;
        }
        resp_write_int(x->out, (long long)(pos_of(&k) - c.head));
        matches++;
        if (count < 0 || (matches == count && !wrapped))
            break;
    }
    ox_iter_close(it); /* NULL if it never opened */
    if (count >= 0)
        resp_write_deferred_len(x->out, &d, RESP_AGG_ARRAY, (size_t)matches);
    else if (!matches)
        resp_write_null(x->out);
}

/* ---- moves between lists ------------------------------------------------------------------- */

static int where_of(const resp_arg *a)
{
    return cmd_is(a, "left") ? LEFT : cmd_is(a, "right") ? RIGHT : -1;
}

/* LMOVE's effect: pops from src's `from` end, pushes at dst's `to` end. src may be dst:
 * then the list is saved once, its expiry time kept, as Redis does. 0 if src is empty
 * (nothing replied), else 1 (replied). */
static int move_generic(cmd_ctx *x, int from, int to)
{
    const resp_arg *sk = &x->argv[1], *dk = &x->argv[2];
    db_coll s, d;
    int fs = db_coll_get_woken_or_reply(x, 1, DB_LIST, &s);
    if (fs <= 0)
        return fs < 0;
    if (db_coll_get_or_reply(x, dk, DB_LIST, &d) < 0) /* WRONGTYPE before anything moves */
        return 1;
    int same = sk->len == dk->len && !memcmp(sk->ptr, dk->ptr, sk->len);
    srv_pairs got = {0};
    ox_val v = {"", 0}, none;
    size_t off = 0;
    int rc = pop_n(x, &s, from, 1, &got);
    srv_pairs_next(&got, &off, &v, &none);
    /* A pop of the last element only read it (the save deletes the key), but the same list
     * lives on: deleted, or a push would land on it (the push does not look, push_one) */
    if (rc == OX_OK && same && !s.count)
        rc = elem_del(x, &s, s.head);
    /* Redis's order of events: the push, the pop, then the source's "del" if emptied. */
    if (rc == OX_OK && same) {
        rc = push_one(x, &s, to, &v);
        if (rc == OX_OK) {
            cmd_notify(x, CONF_NOTIFY_LIST, push_event(to), dk);
            cmd_notify(x, CONF_NOTIFY_LIST, pop_event(from), sk);
        }
    } else if (rc == OX_OK) {
        if (!d.exists)
            rc = db_coll_fresh(x, &d);
        if (rc == OX_OK)
            rc = push_one(x, &d, to, &v);
        if (rc == OX_OK) {
            cmd_notify(x, CONF_NOTIFY_LIST, push_event(to), dk);
            cmd_notify(x, CONF_NOTIFY_LIST, pop_event(from), sk);
            rc = db_coll_save(x, sk, &s);
        }
    }
    if (rc == OX_OK)
        rc = db_coll_save(x, dk, same ? &s : &d);
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_bulk(x->out, v.data, v.len);
    srv_pairs_free(&got);
    return 1;
}

/* LMOVE, BLMOVE (blocking: the timeout at argv[t]), RPOPLPUSH, BRPOPLPUSH. */
static void lmove_generic(cmd_ctx *x, int from, int to, int t)
{
    uint64_t deadline = 0;
    if (from < 0 || to < 0) {
        cmd_syntax_error(x);
        return;
    }
    if (t && !x->block_retry && !block_timeout_or_reply(x, &x->argv[t], &deadline))
        return;
    if (move_generic(x, from, to))
        return;
    if (t && !x->in_exec) /* inside EXEC a blocking command does not block */
        block_set(x, 1, 1, DB_LIST, deadline);
    else
        resp_write_null(x->out);
}

void cmd_lmove(cmd_ctx *x) { lmove_generic(x, where_of(&x->argv[3]), where_of(&x->argv[4]), 0); }
void cmd_rpoplpush(cmd_ctx *x) { lmove_generic(x, RIGHT, LEFT, 0); }
void cmd_blmove(cmd_ctx *x) { lmove_generic(x, where_of(&x->argv[3]), where_of(&x->argv[4]), 5); }
void cmd_brpoplpush(cmd_ctx *x) { lmove_generic(x, RIGHT, LEFT, 3); }

/* Pops from the first non-empty list of argv[first .. at): count elements, replied as
 * [key, element] (single, BLPOP) or [key, [elements]] (LMPOP). 1 replied, 0 every list is
 * empty (nothing replied). */
static int pop_first(cmd_ctx *x, int first, int at, int where, long long count, int single)
{
    for (int i = first; i < at; i++) {
        db_coll c;
        int found = db_coll_get_woken_or_reply(x, i, DB_LIST, &c);
        if (found < 0)
            return 1;
        if (!found)
            continue;
        srv_pairs got = {0};
        int rc = pop_n(x, &c, where, (uint64_t)count, &got);
        if (rc == OX_OK) {
            cmd_notify(x, CONF_NOTIFY_LIST, pop_event(where), &x->argv[i]);
            rc = db_coll_save(x, &x->argv[i], &c);
        }
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
        } else {
            ox_val v, none;
            size_t off = 0;
            resp_write_array(x->out, 2);
            resp_write_bulk(x->out, x->argv[i].ptr, x->argv[i].len);
            if (!single)
                resp_write_array(x->out, got.n);
            while (srv_pairs_next(&got, &off, &v, &none))
                resp_write_bulk(x->out, v.data, v.len);
        }
        srv_pairs_free(&got);
        return 1;
    }
    return 0;
}

/* BLPOP, BRPOP key [key ...] timeout: [key, element] from the first non-empty list. */
static void bpop_generic(cmd_ctx *x, int where)
{
    uint64_t deadline = 0;
    if (!x->block_retry && !block_timeout_or_reply(x, &x->argv[x->argc - 1], &deadline))
        return;
    if (pop_first(x, 1, x->argc - 1, where, 1, 1))
        return;
    if (x->in_exec)
        resp_write_null_array(x->out);
    else
        block_set(x, 1, x->argc - 2, DB_LIST, deadline);
}

void cmd_blpop(cmd_ctx *x) { bpop_generic(x, LEFT); }
void cmd_brpop(cmd_ctx *x) { bpop_generic(x, RIGHT); }

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and BLMPOP timeout numkeys...:
 * the first non-empty list. */
static void lmpop_generic(cmd_ctx *x, int blocking)
{
    long long count;
    int at, where, base = 1 + blocking;
    uint64_t deadline = 0;
    if (!cmd_mpop_args_or_reply(x, base, "left", "right", &at, &where, &count) ||
        (blocking && !x->block_retry && !block_timeout_or_reply(x, &x->argv[1], &deadline)) ||
        pop_first(x, base + 1, at, where, count, 0)) /* Redis: the timeout after the rest */
        return;
    if (blocking && !x->in_exec)
        block_set(x, base + 1, at - 1, DB_LIST, deadline);
    else
        resp_write_null_array(x->out);
}

void cmd_lmpop(cmd_ctx *x) { lmpop_generic(x, 0); }
void cmd_blmpop(cmd_ctx *x) { lmpop_generic(x, 1); }
