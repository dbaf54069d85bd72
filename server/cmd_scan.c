/* cmd_scan.c — SCAN and KEYS: walks of a database in the store's key order, with Redis's
 * glob patterns; HSCAN, SSCAN and ZSCAN walk a collection's members the same way. A pattern's literal prefix bounds the walk (it seeks straight to it; only
 * its first ox_key_order_prefix() bytes place keys, so a longer one is cut there). SCAN's
 * cursors name the position of the last key examined (cursor.h explains why that
 * terminates and misses no key that stays). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "cursor.h"
#include "db.h"
#include "encoding.h"
#include "glob.h"
#include "num.h"
#include "util.h"
#include "zset_fmt.h"


/* The literal bytes a pattern starts with (up to its first '*', '?' or '['; "\x" is x),
 * into buf (room for plen bytes). Returns their number. */
static size_t literal_prefix(const char *pat, size_t plen, char *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < plen; i++) {
        char ch = pat[i];
        if (ch == '*' || ch == '?' || ch == '[')
            break;
        if (ch == '\\' && i + 1 < plen)
            ch = pat[++i];
        buf[n++] = ch;
    }
    return n;
}

/* The smallest byte string greater than every string starting with p[0..n): p with its
 * last byte below 0xff incremented and what follows dropped. 0 when there is none (no
 * bound): every byte is 0xff, or n is 0. */
static size_t prefix_end(char *p, size_t n)
{
    while (n > 0 && (unsigned char)p[n - 1] == 0xff)
        n--;
    if (n > 0)
        p[n - 1] = (char)((unsigned char)p[n - 1] + 1);
    return n;
}

/* A walk's bounds, as store positions: from the pattern's literal prefix (if any) to past
 * it. */
typedef struct walk {
    unsigned char lo[OX_POS_MAX], hi[OX_POS_MAX];
    size_t lolen, hilen; /* 0: no bound */
    const char *pat;
    size_t plen;
} walk;

static void walk_init(walk *w, const resp_arg *pat)
{
    w->lolen = w->hilen = 0;
    w->pat = NULL;
    w->plen = 0;
    if (!pat)
        return;
    w->pat = pat->ptr;
    w->plen = pat->len;
    char *p = srv_xmalloc(pat->len + 1);
    size_t n = literal_prefix(pat->ptr, pat->len, p), max = ox_key_order_prefix(srv.store);
    if (n > max)
        n = max;
    /* n <= the order prefix: both are keys of their own position, no error possible. */
    if (n)
        ox_key_pos(srv.store, p, n, w->lo, &w->lolen);
    if ((n = prefix_end(p, n)))
        ox_key_pos(srv.store, p, n, w->hi, &w->hilen);
    free(p);
}

static int walk_match(const walk *w, const ox_val *k)
{
    return !w->pat || glob_match(w->pat, w->plen, k->data, k->len, 0);
}

/* Memcmp order of positions, a shorter one first on a common prefix. */
static int pos_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* Opens the walk's iterator: after position from (when given and not before the prefix),
 * else at the prefix. */
static int walk_open(cmd_ctx *x, const walk *w, const unsigned char *from, size_t fromlen,
                     ox_iter **it)
{
    unsigned flags = OX_ITER_KEYS_ONLY | OX_ITER_POS;
    ox_val lo = {w->lo, w->lolen}, hi = {w->hi, w->hilen};
    if (from && (!w->lolen || pos_cmp(from, fromlen, w->lo, w->lolen) >= 0)) {
        lo = (ox_val){from, fromlen};
        flags |= OX_ITER_AFTER;
    }
    return db_iter(x, lo.len ? &lo : NULL, hi.len ? &hi : NULL, flags, it);
}

void cmd_keys(cmd_ctx *x)
{
    walk w;
    walk_init(&w, &x->argv[1]);
    ox_iter *it;
    int rc = walk_open(x, &w, NULL, 0, &it);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    resp_deferred d;
    size_t n = 0;
    ox_val k, v;
    resp_write_deferred(x->out, &d);
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        if (walk_match(&w, &k)) {
            resp_write_bulk(x->out, k.data, k.len);
            n++;
        }
    }
    ox_iter_close(it);
    resp_write_deferred_len(x->out, &d, RESP_AGG_ARRAY, n);
}

/* The options from argv[from] on (cmd_scan_begin). 0, or -1 after replying. */
static int scan_options(cmd_ctx *x, int from, const resp_arg **pat, long long *count,
                        const resp_arg **type)
{
    for (int i = from; i < x->argc; i += 2) {
        const resp_arg *o = &x->argv[i];
        if (i + 1 >= x->argc) {
            cmd_syntax_error(x);
            return -1;
        }
        if (cmd_is(o, "match")) {
            *pat = &x->argv[i + 1];
        } else if (cmd_is(o, "count")) {
            if (cmd_ll_or_reply(x, &x->argv[i + 1], count))
                return -1;
            if (*count < 1) {
                cmd_syntax_error(x);
                return -1;
            }
        } else if (type && cmd_is(o, "type")) {
            *type = &x->argv[i + 1];
        } else {
            cmd_syntax_error(x);
            return -1;
        }
    }
    return 0;
}

int cmd_scan_begin(cmd_ctx *x, int at, uint64_t *cursor, unsigned char *from, size_t *fromlen,
                   const resp_arg **pat, long long *count, const resp_arg **type)
{
    int fromdb;
    if (!cursor_parse(x->argv[at].ptr, x->argv[at].len, cursor)) {
        cmd_err(x, "-ERR invalid cursor");
        return -1;
    }
    if (scan_options(x, at + 1, pat, count, type))
        return -1;
    if (*cursor && cursor_load(*cursor, &fromdb, from, fromlen)) {
        cmd_err(x, CURSOR_UNKNOWN_MSG);
        return -1;
    }
    return 0;
}

int cmd_scan_reply_head(cmd_ctx *x, int rc, const unsigned char *last, size_t lastlen,
                        size_t n)
{
    if (rc != OX_OK && rc != OX_NOTFOUND) {
        cmd_store_error(x, rc);
        return 0;
    }
    char num[24];
    uint64_t next = rc == OX_OK ? cursor_save(x->dbi, last, lastlen) : 0;
    int nl = snprintf(num, sizeof num, "%llu", (unsigned long long)next);
    resp_write_array(x->out, 2);
    resp_write_bulk(x->out, num, (size_t)nl);
    resp_write_array(x->out, n);
    return 1;
}

void cmd_scan(cmd_ctx *x)
{
    uint64_t cursor;
    const resp_arg *pat = NULL, *type = NULL;
    long long count = 10;
    unsigned char from[CURSOR_POS_MAX];
    size_t fromlen = 0;
    if (cmd_scan_begin(x, 1, &cursor, from, &fromlen, &pat, &count, &type))
        return;
    walk w;
    walk_init(&w, pat);
    ox_iter *it;
    ox_val k, v;
    int rc = walk_open(x, &w, cursor ? from : NULL, fromlen, &it);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    srv_pairs got = {0}; /* gathered first: the cursor goes before the keys */
    long long seen = 0;
    unsigned char last[CURSOR_POS_MAX];
    size_t lastlen = 0;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        if (seen == count)
            break; /* more to come: the cursor resumes after the last key examined */
        seen++;
        if (walk_match(&w, &k) && (!type || cmd_is(type, coll_type_name((int)ox_iter_kind(it)))))
            srv_pairs_add(&got, k.data, k.len, NULL, 0);
        if ((rc = ox_iter_pos(it, last, &lastlen)))
            break;
    }
    ox_iter_close(it);
    if (cmd_scan_reply_head(x, rc, last, lastlen, got.n)) {
        size_t off = 0;
        while (srv_pairs_next(&got, &off, &k, &v))
            resp_write_bulk(x->out, k.data, k.len);
    }
    srv_pairs_free(&got);
}

/* HSCAN, SSCAN and ZSCAN: COUNT members per call in the collection's member order; the
 * cursor names the place after the last member examined (cursor.h), so members that exist
 * throughout are returned once each. A collection Redis would hold compact (encoding.h)
 * comes whole in one call, whatever the cursor and COUNT, as Redis's does: a set of
 * integers in numeric order, a sorted set by score. values: each member is followed by its
 * value (a hash's field value, a sorted set's score as text). */
static void coll_scan(cmd_ctx *x, int type, int values)
{
    uint64_t cursor;
    const resp_arg *pat = NULL;
    long long count = 10;
    unsigned char from[CURSOR_POS_MAX], own[CURSOR_POS_MAX];
    size_t fromlen = 0, ownlen = 0;
    /* Redis's order: the cursor's syntax, the key (missing: an empty scan; WRONGTYPE), then
     * the options (and here the cursor's place). */
    if (!cursor_parse(x->argv[2].ptr, x->argv[2].len, &cursor)) {
        cmd_err(x, "-ERR invalid cursor");
        return;
    }
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], type, &c);
    if (found <= 0) {
        if (found == 0)
            cmd_scan_reply_head(x, OX_NOTFOUND, NULL, 0, 0);
        return;
    }
    if (scan_options(x, 3, &pat, &count, NULL))
        return;
    int whole = enc_compact(x, &c), fromdb; /* whole: any cursor means the start */
    if (!whole && cursor && cursor_load(cursor, &fromdb, from, &fromlen)) {
        cmd_err(x, CURSOR_UNKNOWN_MSG);
        return;
    }
    /* A cursor is a place in the member table: one from another collection (or from this
     * key's earlier collection, replaced since) starts at this one's first member if it
     * lies before it, and ends the scan if after. */
    unsigned char pfx[COLL_KEY_PREFIX];
    coll_member_key(pfx, c.id, DB_SUB_FIELD, NULL, 0);
    if (whole) {
        cursor = 0;
    } else if (cursor && ox_key_pos(srv.store, pfx, sizeof pfx, own, &ownlen) == OX_OK &&
               (fromlen < ownlen || memcmp(from, own, ownlen))) {
        int d = memcmp(from, own, fromlen < ownlen ? fromlen : ownlen);
        if (d > 0 || (d == 0 && fromlen > ownlen)) {
            cmd_scan_reply_head(x, OX_NOTFOUND, NULL, 0, 0);
            return;
        }
        cursor = 0;
    }
    ox_iter *it = NULL;
    ox_val after = {from, fromlen};
    int by_score = whole && type == DB_ZSET;
    int by_order = whole && type == DB_HASH; /* a listpack's order (encoding.h) */
    enc_fields fs;
    int rc = by_order ? enc_fields_open(x, &c, &fs)
                      : db_member_iter(x, &c, by_score ? COLL_SUB_SCORE : DB_SUB_FIELD,
                                       cursor ? &after : NULL, &it);
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    srv_pairs got = {0}; /* gathered first: the cursor goes before them in the reply */
    long long seen = 0;
    unsigned char last[CURSOR_POS_MAX];
    size_t lastlen = 0;
    ox_val k, v, m;
    while (rc == OX_OK && (rc = by_order ? enc_fields_next(&fs, &m, &v)
                                         : ox_iter_next(it, &k, &v)) == OX_OK) {
        if (seen == count && !whole)
            break;
        seen++;
        if (!by_order)
            m = (ox_val){(const unsigned char *)k.data + COLL_KEY_PREFIX, k.len - COLL_KEY_PREFIX};
        double score = 0;
        if (by_score && !zfmt_entry(&k, &v, &score, &m)) {
            rc = OX_ECORRUPT;
            break;
        }
        if (!whole && (rc = ox_iter_pos(it, last, &lastlen)))
            break;
        if (pat && !glob_match(pat->ptr, pat->len, m.data, m.len, 0))
            continue;
        char num[32];
        /* a score as Redis shows it: a listpack's text when compact, else "%.17g" */
        if (values && type == DB_ZSET && (by_score || zfmt_field(v.data, v.len, &score, NULL)))
            v = (ox_val){num, (size_t)num_d2str(num, score, whole)};
        srv_pairs_add(&got, m.data, m.len, v.data, v.len);
    }
    ox_iter_close(it);
    if (by_order)
        enc_fields_close(&fs);
    if (cmd_scan_reply_head(x, rc, last, lastlen, values ? 2 * got.n : got.n)) {
        size_t off = 0;
        enc_ints order; /* a set Redis holds as an intset: its numeric order */
        enc_ints_init(&order, whole && type == DB_SET ? got.n : SIZE_MAX);
        while (srv_pairs_next(&got, &off, &k, &v)) {
            enc_ints_put(&order, x->out, k.data, k.len);
            if (values)
                resp_write_bulk(x->out, v.data, v.len);
        }
        enc_ints_end(&order, x->out);
    }
    srv_pairs_free(&got);
}

void cmd_hscan(cmd_ctx *x) { coll_scan(x, DB_HASH, 1); }
void cmd_sscan(cmd_ctx *x) { coll_scan(x, DB_SET, 0); }
void cmd_zscan(cmd_ctx *x) { coll_scan(x, DB_ZSET, 1); }
