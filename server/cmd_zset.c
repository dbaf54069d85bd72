/* cmd_zset.c — sorted set commands, with Redis 7.0's semantics (t_zset.c). A sorted set is
 * a collection (db.h) with two records per member: member -> score (ZSCORE is one lookup)
 * and [score][member] -> "" in an ordered index (coll_fmt.h), which the ranges walk by
 * score, by member within a score (BYLEX) or by position (ranks: zset_fmt.h's counted
 * fences find a rank's place in O(log n) steps). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "bulk.h"
#include "cmd.h"
#include "db.h"
#include "encoding.h"
#include "log.h"
#include "num.h"
#include "pick.h"
#include "util.h"
#include "zindex.h"
#include "zset_fmt.h"

#define SCORE_LEN 8
#define IDX_PREFIX (COLL_KEY_PREFIX + SCORE_LEN) /* [id][s][score] before a member */

/* Redis's getDoubleFromObject: strtod over the whole argument, no leading space, no NaN,
 * no overflow. 1 if ok. */
static int parse_score(const char *p, size_t len, double *out)
{
    char buf[128];
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (strchr(" \t\n\v\f\r", buf[0]))
        return 0;
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + len || isnan(d) || /* a NUL inside is not the end, as in Redis */
        (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || d == 0)))
        return 0;
    *out = d;
    return 1;
}

static int score_or_reply(cmd_ctx *x, const resp_arg *a, double *out)
{
    if (parse_score(a->ptr, a->len, out))
        return 1;
    cmd_err(x, "-ERR value is not a valid float");
    return 0;
}

/* ---- one member's two records ----------------------------------------------------------- */

/* The score of member m of c (and its level, if level is not NULL): 1 found, 0 not, -1 on
 * a store error (in *err). */
static int score_of(cmd_ctx *x, const db_coll *c, const void *m, size_t len, double *score,
                    unsigned *level, int *err)
{
    ox_val v;
    int rc = db_member_get(x, c, DB_SUB_FIELD, m, len, &v);
    if (rc == OX_OK && zfmt_field(v.data, v.len, score, level))
        return 1;
    *err = rc == OX_OK ? OX_ECORRUPT : rc;
    return rc == OX_NOTFOUND ? 0 : -1;
}

/* c as zset_fmt.h takes it (its bounds too: a change keeps them in c). */
static zfmt_set zset_of(db_coll *c)
{
    return (zfmt_set){c->members, c->id, c->count, c->levels,
                      (unsigned)srv.cfg.zset_rank_fanout, &c->zb};
}

/* Writer: db_coll_save of a sorted set, its bounds made tight first if a change marked
 * them (zfmt_settle). */
static int zset_save(cmd_ctx *x, const resp_arg *key, db_coll *c)
{
    zfmt_set z = zset_of(c);
    int rc = zfmt_settle(x->txn, &z);
    return rc == OX_OK ? db_coll_save(x, key, c) : rc;
}

/* Writer: gives member m the score `score` (had: its old one and its level, if it had
 * one; a new one is counted after). OX_OK or an error. */
static int zset_put(cmd_ctx *x, db_coll *c, const void *m, size_t len, int had,
                    double old, unsigned level, double score)
{
    zfmt_set z = zset_of(c);
    int rc = zfmt_put(x->txn, &z, m, len, had, old, level, score);
    c->levels = z.levels;
    return rc;
}

/* Writer: a member of len bytes is about to be added to c (it is not one yet): at its
 * 129th member, or a name over 64 bytes, Redis 7.0 converts a listpack to a skiplist for
 * good (the record's converted bit, coll_fmt.h). */
static void zset_adding(db_coll *c, size_t len)
{
    if (zfmt_converts(c->count, len))
        c->converted = 1;
}

/* A score of -0 about to be stored in c for a member (an added one: after zset_adding),
 * as Redis 7.0 stores it: a skiplist keeps its sign, a listpack does not (it holds "-0" as
 * the integer 0). Any other score as it is. */
static double score_stored(cmd_ctx *x, const db_coll *c, double score)
{
    return score != 0 || !signbit(score) || !enc_compact(x, c) ? score : 0.0;
}

/* Writer: after a store (ZUNIONSTORE...) wrote nz members of score -0 into c: Redis builds
 * the destination as a skiplist, then makes it a listpack if it is small enough, which
 * loses their sign; so does c's if Redis would hold it compact. OX_OK or an error. */
static int zset_settle_negzero(cmd_ctx *x, db_coll *c, uint64_t nz)
{
    if (!nz || !enc_compact(x, c))
        return OX_OK;
    srv_pairs zero = {0}; /* its -0 members (at most 128: it is compact) */
    db_walk *w = NULL;
    ox_val k, v;
    int rc = db_member_walk(x, c, DB_SUB_FIELD, 0, &w);
    while (rc == OX_OK && (rc = bulk_walk_next(w, &k, &v)) == OX_OK) {
        double s;
        unsigned level;
        if (!zfmt_field(v.data, v.len, &s, &level))
            rc = OX_ECORRUPT;
        else if (s == 0 && signbit(s))
            srv_pairs_add(&zero, (const char *)k.data + COLL_KEY_PREFIX,
                          k.len - COLL_KEY_PREFIX, &level, sizeof level);
    }
    bulk_walk_close(w);
    rc = rc == OX_NOTFOUND ? OX_OK : rc;
    ox_val m, lv;
    size_t off = 0;
    while (rc == OX_OK && srv_pairs_next(&zero, &off, &m, &lv)) {
        unsigned level;
        memcpy(&level, lv.data, sizeof level);
        rc = zset_put(x, c, m.data, m.len, 1, -0.0, level, 0.0);
    }
    srv_pairs_free(&zero);
    return rc;
}

/* Writer: removes member m (score `score`, level `level`) from c, and counts it. */
static int zset_del(cmd_ctx *x, db_coll *c, const void *m, size_t len, double score,
                    unsigned level)
{
    zfmt_set z = zset_of(c);
    int rc = zfmt_del(x->txn, &z, m, len, score, level);
    if (rc == OX_OK)
        c->count--;
    return rc;
}

/* ---- ZADD, ZINCRBY, ZREM ------------------------------------------------------------------ */

enum { Z_NX = 1, Z_XX = 2, Z_GT = 4, Z_LT = 8, Z_CH = 16, Z_INCR = 32 };

/* Adds or updates one member under the ZADD flags: *added / *changed count it; *out the
 * score it has now; 0 if the flags left it alone (INCR replies nil then). OX_OK, an
 * error, or -1 after replying (a NaN result). */
static int zadd_one(cmd_ctx *x, db_coll *c, const resp_arg *m, double score, int flags,
                    long long *added, long long *changed, double *out, int *done)
{
    double cur;
    unsigned level = 0;
    int err = OX_OK, had = score_of(x, c, m->ptr, m->len, &cur, &level, &err);
    *done = 0;
    if (had < 0)
        return err;
    if (had) {
        if (flags & Z_NX)
            return OX_OK;
        if (flags & Z_INCR) {
            score += cur;
            if (isnan(score)) {
                cmd_err(x, "-ERR resulting score is not a number (NaN)");
                return -1;
            }
        }
        if (((flags & Z_LT) && score >= cur) || ((flags & Z_GT) && score <= cur))
            return OX_OK;
        *out = score;
        *done = 1;
        if (score == cur)
            return OX_OK;
        (*changed)++;
        return zset_put(x, c, m->ptr, m->len, 1, cur, level, score_stored(x, c, score));
    }
    if (flags & Z_XX)
        return OX_OK;
    *out = score;
    *done = 1;
    (*added)++;
    zset_adding(c, m->len);
    int rc = zset_put(x, c, m->ptr, m->len, 0, 0, 0, score_stored(x, c, score));
    c->count++;
    return rc;
}

static void zadd_generic(cmd_ctx *x, int flags)
{
    int i = 2;
    for (; i < x->argc; i++) { /* ZINCRBY too: Redis parses its flags the same way */
        const resp_arg *a = &x->argv[i];
        int f = cmd_is(a, "nx") ? Z_NX : cmd_is(a, "xx") ? Z_XX : cmd_is(a, "gt") ? Z_GT
              : cmd_is(a, "lt") ? Z_LT : cmd_is(a, "ch") ? Z_CH : cmd_is(a, "incr") ? Z_INCR : 0;
        if (!f)
            break;
        flags |= f;
    }
    int pairs = (x->argc - i) / 2;
    if ((x->argc - i) % 2 || pairs == 0) {
        cmd_syntax_error(x);
        return;
    }
    if ((flags & Z_NX) && (flags & Z_XX)) {
        cmd_err(x, "-ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & Z_GT) && (flags & Z_LT)) || ((flags & (Z_GT | Z_LT)) && (flags & Z_NX))) {
        cmd_err(x, "-ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if ((flags & Z_INCR) && pairs > 1) {
        cmd_err(x, "-ERR INCR option supports a single increment-element pair");
        return;
    }
    double *scores = srv_xmalloc((size_t)pairs * sizeof *scores);
    for (int j = 0; j < pairs; j++)
        if (!score_or_reply(x, &x->argv[i + 2 * j], &scores[j])) {
            free(scores);
            return;
        }
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_ZSET, &c), rc = OX_OK, done = 0;
    if (found == 0 && !(flags & Z_XX))
        rc = db_coll_fresh(x, &c);
    if (found >= 0 && rc == OX_OK)
        db_member_prefetch_next(x, &c, DB_SUB_FIELD, -1); /* (a member: last of any ZADD) */
    long long added = 0, changed = 0;
    double score = 0;
    for (int j = 0; found >= 0 && rc == OX_OK && j < pairs && (found || !(flags & Z_XX)); j++)
        rc = zadd_one(x, &c, &x->argv[i + 2 * j + 1], scores[j], flags, &added, &changed,
                      &score, &done);
    free(scores);
    if (found < 0 || rc < 0)
        return;
    if (rc == OX_OK && (added || changed)) {
        cmd_notify(x, CONF_NOTIFY_ZSET, (flags & Z_INCR) ? "zincr" : "zadd", &x->argv[1]);
        rc = zset_save(x, &x->argv[1], &c);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else if ((flags & Z_INCR) && done)
        resp_write_double(x->out, score);
    else if (flags & Z_INCR)
        resp_write_null(x->out);
    else
        resp_write_int(x->out, (flags & Z_CH) ? added + changed : added);
}

void cmd_zadd(cmd_ctx *x) { zadd_generic(x, 0); }

/* ZINCRBY key increment member: ZADD key INCR increment member. */
void cmd_zincrby(cmd_ctx *x) { zadd_generic(x, Z_INCR); }

void cmd_zrem(cmd_ctx *x)
{
    db_coll c;
    int err = OX_OK, rc = OX_OK;
    if (!db_coll_or_zero(x, &x->argv[1], DB_ZSET, &c))
        return;
    long long removed = 0;
    for (int i = 2; rc == OX_OK && i < x->argc; i++) {
        double s;
        unsigned level;
        int had = score_of(x, &c, x->argv[i].ptr, x->argv[i].len, &s, &level, &err);
        rc = had < 0 ? err
           : had ? zset_del(x, &c, x->argv[i].ptr, x->argv[i].len, s, level) : OX_OK;
        removed += had > 0;
    }
    if (rc == OX_OK && removed) {
        cmd_notify(x, CONF_NOTIFY_ZSET, "zrem", &x->argv[1]);
        rc = zset_save(x, &x->argv[1], &c);
    }
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, removed);
}

/* ---- point reads ---------------------------------------------------------------------- */

void cmd_zcard(cmd_ctx *x)
{
    db_reply_count(x, DB_ZSET);
}

void cmd_zscore(cmd_ctx *x)
{
    db_coll c;
    double s;
    int err = OX_OK, found = db_coll_get_or_reply(x, &x->argv[1], DB_ZSET, &c);
    if (found < 0)
        return;
    int had = found ? score_of(x, &c, x->argv[2].ptr, x->argv[2].len, &s, NULL, &err) : 0;
    if (had < 0)
        cmd_store_error(x, err);
    else if (had)
        resp_write_double(x->out, s);
    else
        resp_write_null(x->out);
}

void cmd_zmscore(cmd_ctx *x)
{
    db_coll c;
    int err = OX_OK;
    if (db_coll_get_or_reply(x, &x->argv[1], DB_ZSET, &c) < 0)
        return;
    resp_write_array(x->out, (size_t)x->argc - 2);
    for (int i = 2; i < x->argc; i++) {
        double s;
        if (score_of(x, &c, x->argv[i].ptr, x->argv[i].len, &s, NULL, &err) > 0)
            resp_write_double(x->out, s);
        else
            resp_write_null(x->out);
    }
}

/* ---- walks of the index --------------------------------------------------------------- */

enum { BY_RANK, BY_SCORE, BY_LEX };

/* One end of a BYLEX range: "-", "+", "[member" or "(member". */
typedef struct lexb {
    int inf;          /* -1: "-", 1: "+", 0: a member */
    int ex;           /* "(": the member itself excluded */
    const char *p;
    size_t len;
} lexb;

/* A range of a sorted set, and what to do with it. */
typedef struct zrange {
    int by, rev;
    long long start, stop;          /* BY_RANK */
    double min, max;                /* BY_SCORE */
    int minex, maxex;
    lexb lmin, lmax;                /* BY_LEX */
    long long offset, limit;        /* LIMIT: skip offset, take limit (< 0: all) */
} zrange;

/* Called for each member of the range, in order, with its score and level; returns 1 to go
 * on, 0 to stop, or an ox_err (< 0 is never used: errors are positive) through *err with
 * -1. */
typedef int zvisit(cmd_ctx *x, db_coll *c, const ox_val *m, double score, unsigned level,
                   void *ctx, int *err);

static int lex_parse(const resp_arg *a, lexb *b)
{
    const char *p = a->ptr;
    memset(b, 0, sizeof *b);
    if (a->len == 1 && (p[0] == '-' || p[0] == '+')) {
        b->inf = p[0] == '-' ? -1 : 1;
        return 1;
    }
    if (a->len < 1 || (p[0] != '[' && p[0] != '('))
        return 0;
    b->ex = p[0] == '(';
    b->p = p + 1;
    b->len = a->len - 1;
    return 1;
}

/* Redis's zslParseRange: "(" for exclusive, then strtod over the rest, which must take it
 * all and not be NaN (so "" and "(" are 0, leading spaces and overflows are accepted). */
static int bound_parse(const resp_arg *a, double *v, int *ex)
{
    char buf[128], *end;
    *ex = a->len > 0 && a->ptr[0] == '(';
    size_t n = a->len - (size_t)*ex;
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, a->ptr + *ex, n);
    buf[n] = '\0';
    *v = strtod(buf, &end);
    return !*end && !isnan(*v);
}

/* Compares member m with a lex bound: <0, 0, >0 (an infinite bound compares as such). */
static int lex_cmp(const ox_val *m, const lexb *b)
{
    if (b->inf)
        return -b->inf;
    int d = memcmp(m->data, b->p, m->len < b->len ? m->len : b->len);
    return d ? d : (m->len > b->len) - (m->len < b->len);
}

/* 1 if score s is inside the score range's end the walk moves towards (past it: stop). */
static int score_within_end(const zrange *r, double s)
{
    if (r->rev)
        return r->minex ? s > r->min : s >= r->min;
    return r->maxex ? s < r->max : s <= r->max;
}

static int score_within_start(const zrange *r, double s)
{
    if (r->rev)
        return r->maxex ? s < r->max : s <= r->max;
    return r->minex ? s > r->min : s >= r->min;
}

static int lex_within_end(const zrange *r, const ox_val *m)
{
    int d = lex_cmp(m, r->rev ? &r->lmin : &r->lmax);
    if (r->rev)
        return r->lmin.ex ? d > 0 : d >= 0;
    return r->lmax.ex ? d < 0 : d <= 0;
}

static int lex_within_start(const zrange *r, const ox_val *m)
{
    int d = lex_cmp(m, r->rev ? &r->lmax : &r->lmin);
    if (r->rev)
        return r->lmax.ex ? d < 0 : d <= 0;
    return r->lmin.ex ? d > 0 : d >= 0;
}

/* The member at one end of c's index (last: the highest) into *m, borrowed from *w (close
 * it). OX_OK, OX_NOTFOUND or an error. */
static int index_end(cmd_ctx *x, const db_coll *c, int last, db_walk **w, ox_val *m)
{
    unsigned char lo[ZFMT_BOUND_KEY], hi[ZFMT_BOUND_KEY]; /* from and to the bounds */
    ox_val lov = {lo, zfmt_bound_from(lo, c->id, COLL_SUB_SCORE, &c->zb)};
    ox_val hiv = {hi, zfmt_bound_end(hi, c->id, COLL_SUB_SCORE, &c->zb)}, k, v;
    unsigned f = (last ? OX_ITER_DESC : 0) | BULK_EXACT;
    int rc = bulk_walk_open(x, c->members, &lov, &hiv, f, w);
    double s;
    if (rc == OX_OK && (rc = bulk_walk_next(*w, &k, &v)) == OX_OK && !zfmt_entry(&k, &v, &s, m))
        rc = OX_ECORRUPT;
    return rc;
}

/* Redis's zslIsInLexRange: a BYLEX range is empty when min is past max, when the lowest
 * member (in score order) is past max, or the highest is before min. With members of
 * one score this is exact; with several, it is what Redis answers. 1 if it may hold
 * members, 0 if not, -1 on an error (in *err). */
static int lex_possible(cmd_ctx *x, const db_coll *c, const zrange *r, int *err)
{
    const lexb *mn = &r->lmin, *mx = &r->lmax;
    if (mn->inf > 0 || mx->inf < 0)
        return 0;
    if (!mn->inf && !mx->inf) {
        ox_val a = {mn->p, mn->len};
        int d = lex_cmp(&a, mx);
        if (d > 0 || (d == 0 && (mn->ex || mx->ex)))
            return 0;
    }
    int ok = 1;
    for (int last = 0; last < 2 && ok; last++) {
        db_walk *w = NULL;
        ox_val m;
        int rc = index_end(x, c, last, &w, &m);
        if (rc == OX_OK) {
            int d = lex_cmp(&m, last ? mn : mx);
            ok = last ? (mn->ex ? d > 0 : d >= 0) : (mx->ex ? d < 0 : d <= 0);
        }
        bulk_walk_close(w); /* NULL if it never opened */
        if (rc != OX_OK && rc != OX_NOTFOUND) {
            *err = rc;
            return -1;
        }
        ok = ok && rc == OX_OK;
    }
    return ok;
}

/* Walks the range r of c through visit. Returns the members visited, or -1 on a store
 * error (in *err). The walk seeks to the range's start for BY_SCORE (BY_LEX within the
 * lowest score: Redis's BYLEX supposes one score), and to the member of rank r->start for
 * BY_RANK (zfmt_at_rank). */
/* r's BY_RANK range over len members as Redis clamps it: 1 with [*start, *stop] inside
 * [0, len), 0 if it is empty. */
static int rank_clamp(const zrange *r, long long len, long long *start, long long *stop)
{
    *start = r->start < 0 ? r->start + len : r->start;
    *stop = r->stop < 0 ? r->stop + len : r->stop;
    *start = *start < 0 ? 0 : *start;
    *stop = *stop >= len ? len - 1 : *stop;
    return *start <= *stop;
}

static long long zwalk(cmd_ctx *x, db_coll *c, const zrange *r, zvisit *visit, void *ctx,
                       int *err)
{
    if (!c->exists)
        return 0;
    if (r->by == BY_LEX) {
        int possible = lex_possible(x, c, r, err);
        if (possible <= 0)
            return possible;
    }
    long long start = 0, stop = -1, n = 0, offset = r->offset, limit = r->limit;
    if (r->by == BY_RANK) {
        if (!rank_clamp(r, (long long)c->count, &start, &stop))
            return 0;
        limit = stop - start + 1;
    }
    unsigned char lo[ZFMT_BOUND_KEY], hi[ZFMT_BOUND_KEY], *at = NULL;
    ox_val lov = {lo, coll_member_key(lo, c->id, COLL_SUB_SCORE, NULL, 0)};
    ox_val hiv = {hi, coll_member_key(hi, c->id, COLL_SUB_SCORE + 1, NULL, 0)};
    if (r->by == BY_RANK && start > 0)
        zindex_want(c, x->table); /* a rank far from the ends: index it (zindex.h) */
    if (r->by == BY_RANK && start > 0 && !zfmt_indexed(c->levels))
        offset = start; /* no whole index (none yet, being built, or a replica's whose master
                           never ranked it): skipped from the walk's own end */
    else if (r->by == BY_RANK && start > 0) { /* from the member of that rank (rev: before
                                                 the one above it), through the rank index */
        size_t alen;
        uint64_t rank = r->rev ? c->count - (uint64_t)start : (uint64_t)start;
        zfmt_set z = zset_of(c);
        int rc = zfmt_at_rank(x->txn, x->snap, &z, rank, &at, &alen);
        if (rc != OX_OK) {
            *err = rc == OX_NOTFOUND ? OX_ECORRUPT : rc; /* the count says it is there */
            return -1;
        }
        *(r->rev ? &hiv : &lov) = (ox_val){at, alen};
    }
    if (r->by == BY_SCORE) { /* seek to the start's score */
        unsigned char *b = r->rev ? hi : lo;
        coll_member_key(b, c->id, COLL_SUB_SCORE, NULL, 0);
        coll_score_put(b + COLL_KEY_PREFIX, r->rev ? r->max : r->min);
        /* descending from max: the bound is the next score's encoding, past every member
         * of max (no score encodes as all ones, so the increment does not carry out) */
        for (int i = IDX_PREFIX - 1; r->rev && i >= COLL_KEY_PREFIX && !++b[i]; i--)
            ;
        *(r->rev ? &hiv.len : &lov.len) = IDX_PREFIX;
    }
    /* nothing lives past the bounds (zset_fmt.h): neither end of the walk goes further
     * than they, where they are nearer (it would step over what removals deleted there) */
    size_t ltl = lov.len - COLL_KEY_PREFIX, htl = hiv.len - COLL_KEY_PREFIX;
    if (lov.data == lo && zfmt_below(&c->zb, lo + COLL_KEY_PREFIX, ltl))
        lov.len = zfmt_bound_from(lo, c->id, COLL_SUB_SCORE, &c->zb);
    if (hiv.data == hi && c->zb.hi.len && (!htl || zfmt_past(&c->zb, hi + COLL_KEY_PREFIX, htl)))
        hiv.len = zfmt_bound_end(hi, c->id, COLL_SUB_SCORE, &c->zb);
    db_walk *w = NULL;
    int rc = bulk_walk_open(x, c->members, &lov, &hiv, (r->rev ? OX_ITER_DESC : 0) | BULK_EXACT,
                            &w);
    ox_val k, v;
    int go = 1, lex_started = 0;
    while (rc == OX_OK && go > 0 && limit != 0 && (rc = bulk_walk_next(w, &k, &v)) == OX_OK) {
        double s;
        ox_val m;
        if (!zfmt_entry(&k, &v, &s, &m)) {
            rc = OX_ECORRUPT;
            break;
        }
        if (r->by == BY_SCORE && !score_within_start(r, s))
            continue;
        if (r->by == BY_SCORE && !score_within_end(r, s))
            break;
        /* as Redis: the walk starts at the first member past min; from there only max
         * ends it (members of other scores may be below min: BYLEX supposes one score) */
        if (r->by == BY_LEX && !lex_started && !lex_within_start(r, &m))
            continue;
        lex_started = 1;
        if (r->by == BY_LEX && !lex_within_end(r, &m))
            break;
        if (offset > 0) {
            offset--;
            continue;
        }
        if (limit > 0)
            limit--;
        n++;
        go = visit(x, c, &m, s, zfmt_index_level(v.data, v.len), ctx, err);
    }
    bulk_walk_close(w); /* NULL if it never opened */
    free(at);
    if (go < 0)
        return -1;
    if (rc != OX_OK && rc != OX_NOTFOUND) {
        *err = rc;
        return -1;
    }
    return n;
}

/* Visitors. */
typedef struct zout {
    int withscores, pairs;   /* pairs: RESP3 [member, score] arrays */
} zout;

static int visit_reply(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                       void *ctx, int *err)
{
    zout *o = ctx;
    (void)c, (void)err, (void)level;
    if (o->pairs)
        resp_write_array(x->out, 2);
    resp_write_bulk(x->out, m->data, m->len);
    if (o->withscores)
        resp_write_double(x->out, s);
    return 1;
}

static int visit_count(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                       void *ctx, int *err)
{
    (void)x, (void)c, (void)m, (void)s, (void)level, (void)ctx, (void)err;
    return 1;
}

/* Removes m from c for a walk: 1 to go on, or -1 with the error in *err. */
static int remove_member(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                         int *err)
{
    int rc = zset_del(x, c, m->data, m->len, s, level);
    if (rc != OX_OK)
        *err = rc;
    return rc == OX_OK ? 1 : -1;
}

/* A removal in place, within its budget (bulk.h): past it, the walk stops (range_op). */
static int visit_remove(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                        void *ctx, int *err)
{
    int go = remove_member(x, c, m, s, level, err);
    /* its two records' keys (a rank index's fences are left out) */
    return go < 0 ? go : bulk_budget_take(ctx, COLL_KEY_PREFIX + IDX_PREFIX + 2 * m->len);
}

/* A member of ZRANGESTORE's range into its destination ctx (the sign of a -0:
 * score_stored). */
static int visit_store(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                       void *ctx, int *err)
{
    db_coll *dst = ctx;
    (void)c, (void)level;
    zset_adding(dst, m->len);
    s = score_stored(x, dst, s);
    int rc = zset_put(x, dst, m->data, m->len, 0, 0, 0, s);
    dst->count++;
    if (rc == OX_OK)
        rc = bulk_step(x);
    if (rc != OX_OK)
        *err = rc;
    return rc == OX_OK ? 1 : -1;
}

/* Parses the bounds argv[lo], argv[lo + 1] of r (already given its kind) in Redis's
 * words. 1, or 0 after replying. */
static int bounds_or_reply(cmd_ctx *x, zrange *r, int at)
{
    const resp_arg *a = &x->argv[at], *b = &x->argv[at + 1];
    if (r->rev) { /* ZREVRANGE... and REV take max first */
        const resp_arg *t = a;
        a = b;
        b = t;
    }
    if (r->by == BY_RANK) {
        if (r->rev) { /* ranks are not swapped: ZRANGE REV start stop counts from the end */
            const resp_arg *t = a;
            a = b;
            b = t;
        }
        return cmd_ll_or_reply(x, a, &r->start) == 0 && cmd_ll_or_reply(x, b, &r->stop) == 0;
    }
    if (r->by == BY_SCORE) {
        if (bound_parse(a, &r->min, &r->minex) && bound_parse(b, &r->max, &r->maxex))
            return 1;
        cmd_err(x, "-ERR min or max is not a float");
        return 0;
    }
    if (lex_parse(a, &r->lmin) && lex_parse(b, &r->lmax))
        return 1;
    cmd_err(x, "-ERR min or max not valid string range item");
    return 0;
}

/* ---- ZRANGE and its family ------------------------------------------------------------- */

enum { ZR_RANGE, ZR_REVRANGE, ZR_BYSCORE, ZR_REVBYSCORE, ZR_BYLEX, ZR_REVBYLEX, ZR_STORE };

/* The common path of ZRANGE, ZRANGESTORE and the older range commands: argv[key] is the
 * source, its bounds follow, then options. */
static void zrange_generic(cmd_ctx *x, int form)
{
    zrange r = {.limit = -1};
    int key = form == ZR_STORE ? 2 : 1, withscores = 0, rev_given = 0;
    int opts_ok = form == ZR_RANGE || form == ZR_STORE;
    r.by = form == ZR_BYSCORE || form == ZR_REVBYSCORE ? BY_SCORE
         : form == ZR_BYLEX || form == ZR_REVBYLEX ? BY_LEX : BY_RANK;
    r.rev = form == ZR_REVRANGE || form == ZR_REVBYSCORE || form == ZR_REVBYLEX;
    for (int i = key + 3; i < x->argc; i++) {
        const resp_arg *a = &x->argv[i];
        int more = x->argc - 1 - i;
        if (cmd_is(a, "withscores") && form != ZR_STORE) {
            withscores = 1;
        } else if (cmd_is(a, "limit") && more >= 2) { /* any form, as Redis: see below */
            if (cmd_ll_or_reply(x, &x->argv[i + 1], &r.offset) ||
                cmd_ll_or_reply(x, &x->argv[i + 2], &r.limit))
                return;
            i += 2;
        } else if (opts_ok && cmd_is(a, "byscore") && r.by == BY_RANK) {
            r.by = BY_SCORE;
        } else if (opts_ok && cmd_is(a, "bylex") && r.by == BY_RANK) {
            r.by = BY_LEX;
        } else if (opts_ok && !rev_given && cmd_is(a, "rev")) { /* once, as Redis */
            r.rev = rev_given = 1;
        } else {
            cmd_syntax_error(x);
            return;
        }
    }
    /* Redis refuses a count with a range by rank, and takes LIMIT <offset> -1 (no count):
     * a rank range has no offset, so it is then the whole range */
    if (r.limit != -1 && r.by == BY_RANK) {
        cmd_err(x, "-ERR syntax error, LIMIT is only supported in combination with either "
                   "BYSCORE or BYLEX");
        return;
    }
    if (r.by == BY_RANK)
        r.offset = 0;
    if (withscores && r.by == BY_LEX) {
        cmd_err(x, "-ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    if (!bounds_or_reply(x, &r, key + 1))
        return;
    if (r.offset < 0) /* Redis: a negative offset is an empty range */
        r.limit = 0;
    db_coll c, dst = {0};
    int found = db_coll_get_or_reply(x, &x->argv[key], DB_ZSET, &c), err = OX_OK;
    if (found < 0)
        return;
    if (form == ZR_STORE) {
        uint64_t most = c.count; /* by rank: the range's length; LIMIT: at most its count */
        long long a, b;
        if (r.by == BY_RANK)
            most = rank_clamp(&r, (long long)c.count, &a, &b) ? (uint64_t)(b - a + 1) : 0;
        else if (r.limit >= 0 && (uint64_t)r.limit < most)
            most = (uint64_t)r.limit;
        if (!bulk_begin(x, most))
            return; /* nothing written or replied: it runs again (bulk.h) */
        dst = (db_coll){.type = DB_ZSET, .members = db_members_of(x->table)};
        int rc = db_coll_fresh(x, &dst);
        /* Redis 7.0 makes it a skiplist from the start for a range by rank of more than
           128 members, else a listpack that converts as it grows */
        dst.converted = r.by == BY_RANK && most > ENC_ZSET_LISTPACK_MAX;
        long long n = rc == OX_OK ? zwalk(x, &c, &r, visit_store, &dst, &err) : -1;
        if (n >= 0)
            rc = db_coll_replace(x, &x->argv[1], &dst);
        if (n > 0 && rc == OX_OK)
            cmd_notify(x, CONF_NOTIFY_ZSET, "zrangestore", &x->argv[1]);
        if (n < 0 || rc != OX_OK)
            cmd_store_error(x, n < 0 ? (rc ? rc : err) : rc);
        else
            resp_write_int(x->out, n);
        return;
    }
    zout o = {withscores, withscores && resp_buf_proto(x->out) == 3};
    resp_deferred d;
    resp_write_deferred(x->out, &d);
    long long n = zwalk(x, &c, &r, visit_reply, &o, &err);
    if (n < 0) { /* cannot be taken back: the reply ends where the walk did */
        srv_log(SRV_LOG_WARNING, "%s: a read failed: %s", x->cmd->name, ox_strerror(err));
        n = 0;
    }
    resp_write_deferred_len(x->out, &d, RESP_AGG_ARRAY,
                            (size_t)(withscores && !o.pairs ? 2 * n : n));
}

void cmd_zrange(cmd_ctx *x) { zrange_generic(x, ZR_RANGE); }
void cmd_zrangestore(cmd_ctx *x) { zrange_generic(x, ZR_STORE); }
void cmd_zrevrange(cmd_ctx *x) { zrange_generic(x, ZR_REVRANGE); }
void cmd_zrangebyscore(cmd_ctx *x) { zrange_generic(x, ZR_BYSCORE); }
void cmd_zrevrangebyscore(cmd_ctx *x) { zrange_generic(x, ZR_REVBYSCORE); }
void cmd_zrangebylex(cmd_ctx *x) { zrange_generic(x, ZR_BYLEX); }
void cmd_zrevrangebylex(cmd_ctx *x) { zrange_generic(x, ZR_REVBYLEX); }

/* 1 if the range r takes every member of c (ZREMRANGEBYRANK z 0 -1, ...BYSCORE z -inf
 * +inf, ...BYLEX z - +, a pop of ZCARD or more): its removal only reads them, and the save
 * of the empty collection deletes the key (O(1) writes, as DEL: the sweeper reclaims the
 * members), where two deletes per member grew the write buffer past its limit. */
static int range_whole(const zrange *r, const db_coll *c)
{
    long long len = (long long)c->count, start, stop;
    if (!c->exists || r->offset > 0 || r->limit >= 0)
        return 0;
    if (r->by == BY_RANK)
        return rank_clamp(r, len, &start, &stop) && start == 0 && stop == len - 1;
    if (r->by == BY_SCORE)
        return r->min == -INFINITY && r->max == INFINITY && !r->minex && !r->maxex;
    return r->lmin.inf < 0 && r->lmax.inf > 0;
}

/* The most members a removal takes from a set with a rank index (or one being built) in
 * place: each one's fence updates search back over the index entries removed before it,
 * still in the write buffer as deletions, so n of them cost O(n^2) steps (ZREMRANGEBYRANK
 * of 10000/20000/40000 of 200000 members at fanout 32: 0.17/1.05/10.4 s, against
 * 0.014/0.021/0.056 s without the index). Past it the set is rebuilt, without its index
 * (built again when a rank is asked). */
#define INDEXED_IN_PLACE_MAX 1024

/* A removal of range r too large to make in place (bulk_budget), as a build of what
 * survives: every member outside r goes to dst. */
typedef struct zkeep {
    const zrange *r;
    db_coll *dst;
    long long i, start, stop; /* BY_RANK: the walk's rank, and the range's */
    int phase;                /* BY_LEX: 0 before the range, 1 in it, 2 past it (as zwalk
                                 takes it: from the first member past min to max) */
    long long removed;
} zkeep;

static int visit_keep(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                      void *ctx, int *err)
{
    zkeep *k = ctx;
    const zrange *r = k->r;
    int in;
    if (r->by == BY_RANK) {
        in = k->i >= k->start && k->i <= k->stop;
    } else if (r->by == BY_SCORE) {
        in = score_within_start(r, s) && score_within_end(r, s);
    } else {
        if (k->phase == 0 && lex_within_start(r, m))
            k->phase = 1;
        if (k->phase == 1 && !lex_within_end(r, m))
            k->phase = 2;
        in = k->phase == 1;
    }
    k->i++;
    if (in) {
        k->removed++;
        return 1;
    }
    return visit_store(x, c, m, s, level, k->dst, err); /* the same set, rebuilt */
}

/* ZREMRANGEBY... that writes more than a transaction should (bulk_budget): what
 * survives is built under a fresh id, in parts, into *rebuilt (db_coll_rewrite). The
 * reply's count, or -1 (an error in *err, or 0 in it: the command runs again, bulk.h). */
static long long range_rewrite(cmd_ctx *x, db_coll *c, const zrange *r, db_coll *rebuilt,
                               int *err)
{
    *err = OX_OK;
    if (!bulk_begin(x, UINT64_MAX))
        return -1; /* nothing written or replied: it runs again first in a part */
    zrange all = {.by = BY_RANK, .start = 0, .stop = -1, .limit = -1};
    db_coll dst = {.type = DB_ZSET, .members = c->members};
    zkeep k = {.r = r, .dst = &dst};
    if (r->by == BY_RANK)
        rank_clamp(r, (long long)c->count, &k.start, &k.stop);
    int rc = db_coll_fresh(x, &dst);
    dst.converted = c->converted; /* its history, and so its scores' signs (score_stored) */
    if (rc != OX_OK || zwalk(x, c, &all, visit_keep, &k, err) < 0) {
        *err = rc ? rc : *err;
        return -1;
    }
    *rebuilt = dst;
    return k.removed;
}

/* ZCOUNT, ZLEXCOUNT (count the members of a range) and ZREMRANGEBYRANK,
 * ZREMRANGEBYSCORE, ZREMRANGEBYLEX (remove them): one walk. A removal that writes more
 * than a transaction should (bulk_budget: known before for a range of ranks, met on the
 * way for the others, whose writes are then taken back to the command's savepoint) builds
 * what survives instead (range_rewrite). */
static void range_op(cmd_ctx *x, int by, int remove)
{
    zrange r = {.by = by, .limit = -1};
    db_coll c;
    int err = OX_OK;
    if (!bounds_or_reply(x, &r, 2) || db_coll_get_or_reply(x, &x->argv[1], DB_ZSET, &c) < 0)
        return;
    int whole = remove && range_whole(&r, &c), in_place = remove && !whole;
    bulk_budget b = bulk_budget_of(x);
    if (c.levels && b.most > INDEXED_IN_PLACE_MAX)
        b.most = INDEXED_IN_PLACE_MAX;
    long long start, stop, n = 0;
    int large = in_place && r.by == BY_RANK && b.most != UINT64_MAX &&
                rank_clamp(&r, (long long)c.count, &start, &stop) &&
                (uint64_t)(stop - start + 1) > b.most;
    db_coll before = c, rebuilt;
    if (!large)
        n = zwalk(x, &c, &r, in_place ? visit_remove : visit_count, &b, &err);
    if (n >= 0 && in_place && !large && bulk_budget_over(&b)) {
        if ((err = cmd_take_back(x)) != OX_OK)
            n = -1;
        large = 1;
        c = before;
    }
    if (large && n >= 0 && (n = range_rewrite(x, &c, &r, &rebuilt, &err)) < 0 && err == OX_OK)
        return; /* nothing written or replied: it runs again first in a part */
    if (whole && n > 0)
        c.count = 0;
    static const char *const ev[] = {"zremrangebyrank", "zremrangebyscore", "zremrangebylex"};
    if (n > 0 && remove)
        cmd_notify(x, CONF_NOTIFY_ZSET, ev[by], &x->argv[1]);
    int rc = n < 0           ? err
           : large           ? db_coll_rewrite(x, &x->argv[1], &c, &rebuilt)
           : n > 0 && remove ? zset_save(x, &x->argv[1], &c)
                             : OX_OK;
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, n);
}

void cmd_zcount(cmd_ctx *x) { range_op(x, BY_SCORE, 0); }
void cmd_zlexcount(cmd_ctx *x) { range_op(x, BY_LEX, 0); }
void cmd_zremrangebyrank(cmd_ctx *x) { range_op(x, BY_RANK, 1); }
void cmd_zremrangebyscore(cmd_ctx *x) { range_op(x, BY_SCORE, 1); }
void cmd_zremrangebylex(cmd_ctx *x) { range_op(x, BY_LEX, 1); }


/* ZRANK, ZREVRANK: the members before it in the order, through the rank index (zset_fmt.h)
 * if the set has it whole or, while it is built, for a member before the builder's
 * frontier (its rank from the part built: O(rank / fanout)); past the frontier, by a walk
 * from the top (zwalk's, the visitor below, until the member), which seeks past what pops
 * deleted; with no build under way, by a walk from the command's own end. */
static int visit_until(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                       void *ctx, int *err)
{
    const ox_val *want = ctx;
    (void)x, (void)c, (void)s, (void)level, (void)err;
    return !(m->len == want->len && !memcmp(m->data, want->data, m->len));
}

static void rank_generic(cmd_ctx *x, int rev)
{
    db_coll c;
    double s;
    int err = OX_OK, found = db_coll_get_or_reply(x, &x->argv[1], DB_ZSET, &c);
    if (found < 0)
        return;
    int had = found ? score_of(x, &c, x->argv[2].ptr, x->argv[2].len, &s, NULL, &err) : 0;
    if (had <= 0) {
        if (had < 0)
            cmd_store_error(x, err);
        else
            resp_write_null(x->out);
        return;
    }
    zindex_want(&c, x->table); /* ranks wanted: index it (zindex.h) */
    zfmt_set z = zset_of(&c);
    int partial = 0, rc = OX_OK;
    if (!zfmt_indexed(c.levels) &&
        (rc = zfmt_rank_partial(x->txn, x->snap, &z, x->argv[2].ptr, x->argv[2].len, s,
                                &partial)) != OX_OK) {
        cmd_store_error(x, rc);
        return;
    }
    /* no index to count by: ZREVRANK walks from the top, and so does ZRANK of a member past
       the builder's frontier: for the members past it, (count - built) / 2 steps on
       average against (count + built) / 2 from the bottom (a member just past the
       frontier early in a build is nearer the bottom) */
    if (!zfmt_indexed(c.levels) && !partial && (rev || (c.levels & ZFMT_BUILDING))) {
        ox_val want = {x->argv[2].ptr, x->argv[2].len};
        zrange r = {.by = BY_SCORE, .rev = 1, .limit = -1, .min = s, .max = INFINITY};
        long long n = zwalk(x, &c, &r, visit_until, &want, &err);
        if (n < 0)
            cmd_store_error(x, err);
        else
            resp_write_int(x->out, rev ? n - 1 : (long long)c.count - n);
        return;
    }
    uint64_t rank;
    rc = zfmt_rank(x->txn, x->snap, &z, x->argv[2].ptr, x->argv[2].len, s, &rank);
    if (rc == OX_OK && rank >= c.count)
        rc = OX_ECORRUPT;
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        resp_write_int(x->out, (long long)(rev ? c.count - 1 - rank : rank));
}

void cmd_zrank(cmd_ctx *x) { rank_generic(x, 0); }
void cmd_zrevrank(cmd_ctx *x) { rank_generic(x, 1); }

/* ---- ZPOPMIN, ZPOPMAX, ZRANDMEMBER ------------------------------------------------------ */

typedef struct popped {
    srv_pairs got;
    int min;        /* from the low end: the score bound rises (coll_fmt.h) */
    int whole;      /* every member: only read (range_whole) */
} popped;

static int visit_pop(cmd_ctx *x, db_coll *c, const ox_val *m, double s, unsigned level,
                     void *ctx, int *err)
{
    popped *p = ctx;
    srv_pairs_add(&p->got, m->data, m->len, &s, sizeof s);
    if (p->whole)
        return 1;
    zfmt_popping(&c->zb, s, m->data, m->len, !p->min);
    return remove_member(x, c, m, s, level, err);
}

static void pop_generic(cmd_ctx *x, int max)
{
    long long count;
    int with_count, err = OX_OK;
    if (!cmd_pop_count_or_reply(x, &count, &with_count))
        return;
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], DB_ZSET, &c);
    if (found < 0)
        return;
    zrange r = {.by = BY_RANK, .rev = max, .start = 0, .stop = count - 1, .limit = -1};
    popped p = {{0}, !max, range_whole(&r, &c)};
    long long n = count ? zwalk(x, &c, &r, visit_pop, &p, &err) : 0;
    if (p.whole && n > 0)
        c.count = 0;
    if (n > 0)
        cmd_notify(x, CONF_NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", &x->argv[1]);
    int rc = n < 0 ? err : n > 0 ? zset_save(x, &x->argv[1], &c) : OX_OK;
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
    } else {
        /* RESP3 with a count: [member, score] pairs; otherwise flat */
        int pairs = with_count && resp_buf_proto(x->out) == 3;
        resp_write_array(x->out, (size_t)(pairs ? n : 2 * n));
        ox_val m, sv;
        size_t off = 0;
        while (srv_pairs_next(&p.got, &off, &m, &sv)) {
            double s;
            memcpy(&s, sv.data, sizeof s);
            if (pairs)
                resp_write_array(x->out, 2);
            resp_write_bulk(x->out, m.data, m.len);
            resp_write_double(x->out, s);
        }
    }
    srv_pairs_free(&p.got);
}

void cmd_zpopmin(cmd_ctx *x) { pop_generic(x, 0); }
void cmd_zpopmax(cmd_ctx *x) { pop_generic(x, 1); }

void cmd_zrandmember(cmd_ctx *x)
{
    pick_reply_random(x, DB_ZSET, "withscores");
}

/* ---- ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD --------------------------------- */

enum { ZOP_UNION, ZOP_INTER, ZOP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

/* An input: a sorted set, or a set (each member scores 1), weighted. */
typedef struct zsrc {
    db_coll c;
    double w;
} zsrc;

/* Redis's zunionInterAggregate of b into a: a NaN sum (inf + -inf) is 0, and a NaN b
 * leaves a minimum or maximum as it was. */
static double aggregate(int how, double a, double b)
{
    if (how == AGG_MIN)
        return b < a ? b : a;
    if (how == AGG_MAX)
        return b > a ? b : a;
    double r = a + b;
    return isnan(r) ? 0 : r;
}

/* The weighted score of a member record's value in src (a set's members score 1), NaN
 * (inf * 0) as it is: Redis's ZINTER aggregates the other inputs' so. */
static double src_weighted(const zsrc *s, const ox_val *v)
{
    double score = 1;
    if (s->c.type == DB_ZSET && !zfmt_field(v->data, v->len, &score, NULL))
        score = 1;
    return score * s->w;
}

/* src_weighted with a NaN (inf * 0) made 0, as Redis does for every input of ZUNION and
 * the first of ZINTER. */
static double src_score(const zsrc *s, const ox_val *v)
{
    double r = src_weighted(s, v);
    return isnan(r) ? 0 : r;
}

/* Where a result goes: a new sorted set (STORE), pairs to sort and reply, or a count. */
typedef struct zsink {
    int to;            /* 0: reply, 1: store, 2: count */
    db_coll dst;
    srv_pairs got;
    uint64_t n, limit;
    uint64_t negzero;  /* members of score -0 stored (zset_settle_negzero) */
} zsink;

static int zsink_put(cmd_ctx *x, zsink *k, const ox_val *m, double score, int *err)
{
    if (k->to == 1) {
        zset_adding(&k->dst, m->len);
        int rc = zset_put(x, &k->dst, m->data, m->len, 0, 0, 0, score);
        k->negzero += score == 0 && signbit(score);
        if (rc == OX_OK)
            rc = bulk_step(x);
        if (rc != OX_OK) {
            *err = rc;
            return -1;
        }
        k->dst.count++;
    } else if (k->to == 0) {
        srv_pairs_add(&k->got, m->data, m->len, &score, sizeof score);
    }
    k->n++;
    return !(k->to == 2 && k->limit && k->n >= k->limit);
}

/* The member m's weighted score in src (src_weighted's): 1 found, 0 not, -1 on an error
 * (in *err). */
static int src_find(cmd_ctx *x, const zsrc *s, const ox_val *m, double *score, int *err)
{
    ox_val v;
    if (!s->c.exists)
        return 0;
    int rc = db_member_get(x, &s->c, DB_SUB_FIELD, m->data, m->len, &v);
    if (rc == OX_OK)
        *score = src_weighted(s, &v);
    else if (rc != OX_NOTFOUND)
        *err = rc;
    return rc == OX_OK ? 1 : rc == OX_NOTFOUND ? 0 : -1;
}

/* The inputs but `skip` (-1: none) into ord in the order Redis 7.0 combines them: by size,
 * equal sizes as given (by_size), or as given. Where 0 meets -0 or inf meets -inf the
 * order decides the result (MIN and MAX keep the first of equals; a NaN sum becomes 0).
 * Returns how many. */
static int inputs_order(const zsrc *src, int n, int skip, int by_size, int *ord)
{
    int no = 0;
    for (int i = 0; i < n; i++) /* an insertion sort, stable: n is the command's keys */
        if (i != skip) {
            int j = no++;
            for (; by_size && j > 0 && src[ord[j - 1]].c.count > src[i].c.count; j--)
                ord[j] = ord[j - 1];
            ord[j] = i;
        }
    return no;
}

/* INTER walks the smallest input and looks the others up; DIFF walks the first. INTER
 * looks them up in Redis's order, by size (equal sizes as given): a NaN sum becomes 0, so
 * the order of a sum that meets one counts. */
static int zfilter(cmd_ctx *x, const zsrc *src, int n, int walk, int op, int agg, zsink *k)
{
    int *ord = srv_xcalloc((size_t)n, sizeof *ord);
    int no = inputs_order(src, n, walk, op == ZOP_INTER, ord);
    db_walk *w = NULL;
    int rc = db_member_walk(x, &src[walk].c, DB_SUB_FIELD, 0, &w), err = OX_OK, go = 1;
    ox_val key, v;
    while (rc == OX_OK && go > 0 && (rc = bulk_walk_next(w, &key, &v)) == OX_OK) {
        ox_val m = {(const unsigned char *)key.data + COLL_KEY_PREFIX, key.len - COLL_KEY_PREFIX};
        double score = src_score(&src[walk], &v), other;
        int keep = 1;
        for (int o = 0; keep && go > 0 && o < no; o++) {
            int i = ord[o];
            int f = src_find(x, &src[i], &m, &other, &err);
            if (f < 0)
                go = -1;
            else if (op == ZOP_INTER && f)
                score = aggregate(agg, score, other);
            keep = op == ZOP_INTER ? f > 0 : f == 0;
        }
        if (keep && go > 0)
            go = zsink_put(x, k, &m, score, &err);
    }
    bulk_walk_close(w); /* NULL if it never opened */
    free(ord);
    return go < 0 ? err : rc == OX_NOTFOUND ? OX_OK : rc;
}

/* UNION merges every input's member order, each member once, its scores aggregated in
 * Redis's order of the inputs (inputs_order). */
static int zunion(cmd_ctx *x, const zsrc *src, int n, int agg, zsink *k)
{
    const db_coll **cs = srv_xcalloc((size_t)n, sizeof *cs);
    int *ord = srv_xcalloc((size_t)n, sizeof *ord);
    for (int i = 0; i < n; i++)
        cs[i] = &src[i].c;
    inputs_order(src, n, -1, 1, ord);
    db_merge *m;
    int rc = db_merge_open(x, cs, n, &m), err = OX_OK, go = 1;
    free(cs);
    ox_val member, v;
    while (rc == OX_OK && go > 0 && (rc = db_merge_next(m, &member)) == OX_OK) {
        double score = 0;
        int first = 1;
        for (int o = 0; o < n; o++)
            if (db_merge_has(m, ord[o], &v)) {
                int i = ord[o];
                double s = src_score(&src[i], &v);
                score = first ? s : aggregate(agg, score, s);
                first = 0;
            }
        go = zsink_put(x, k, &member, score, &err);
    }
    db_merge_close(m);
    free(ord);
    return go < 0 ? err : rc == OX_NOTFOUND ? OX_OK : rc;
}

typedef struct scored {
    ox_val m;
    double s;
} scored;

static int scored_cmp(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s < b->s ? -1 : 1;
    int d = memcmp(a->m.data, b->m.data, a->m.len < b->m.len ? a->m.len : b->m.len);
    return d ? d : (a->m.len > b->m.len) - (a->m.len < b->m.len);
}

/* Replies the gathered result in Redis's order: by score, then member. */
static void reply_sorted(cmd_ctx *x, srv_pairs *got, int withscores)
{
    scored *all = srv_xmalloc((got->n ? got->n : 1) * sizeof *all);
    ox_val m, sv;
    size_t off = 0, n = 0;
    while (srv_pairs_next(got, &off, &m, &sv)) {
        all[n].m = m;
        memcpy(&all[n].s, sv.data, sizeof all[n].s);
        n++;
    }
    qsort(all, n, sizeof *all, scored_cmp);
    int pairs = withscores && resp_buf_proto(x->out) == 3;
    resp_write_array(x->out, withscores && !pairs ? 2 * n : n);
    for (size_t i = 0; i < n; i++) {
        if (pairs)
            resp_write_array(x->out, 2);
        resp_write_bulk(x->out, all[i].m.data, all[i].m.len);
        if (withscores)
            resp_write_double(x->out, all[i].s);
    }
    free(all);
}

/* The inputs argv[first .. first + n) (sets or sorted sets, missing ones empty) into src.
 * 0, or -1 after replying WRONGTYPE or the store's error. */
static int load_sources(cmd_ctx *x, int first, int n, zsrc *src)
{
    for (int i = 0; i < n; i++) {
        int type = db_type_or_reply(x, &x->argv[first + i]);
        if (type == -2)
            return -1;
        if (db_coll_get_or_reply(x, &x->argv[first + i], type == DB_SET ? DB_SET : DB_ZSET,
                                 &src[i].c) < 0)
            return -1;
    }
    return 0;
}

/* ZUNION/ZINTER/ZDIFF [STORE] and ZINTERCARD: numkeys at argv[at], the keys, options. */
static void zsetop_generic(cmd_ctx *x, int op, int store, int card)
{
    int at = store ? 2 : 1, agg = AGG_SUM, withscores = 0;
    long long n, limit = 0;
    if (cmd_ll_or_reply(x, &x->argv[at], &n))
        return;
    if (n < 1) {
        resp_write_errorf(x->out, "-ERR at least 1 input key is needed for '%s' command",
                          x->cmd->name);
        return;
    }
    if (n > x->argc - at - 1) {
        cmd_syntax_error(x);
        return;
    }
    zsrc *src = srv_xcalloc((size_t)n, sizeof *src);
    for (long long i = 0; i < n; i++)
        src[i].w = 1;
    if (load_sources(x, at + 1, (int)n, src)) { /* Redis: the inputs' types, then options */
        free(src);
        return;
    }
    for (int i = at + 1 + (int)n; i < x->argc; i++) {
        const resp_arg *o = &x->argv[i];
        int more = x->argc - 1 - i;
        if (!card && op != ZOP_DIFF && cmd_is(o, "weights") && more >= n) {
            for (long long j = 0; j < n; j++)
                if (!parse_score(x->argv[i + 1 + j].ptr, x->argv[i + 1 + j].len, &src[j].w)) {
                    cmd_err(x, "-ERR weight value is not a float");
                    free(src);
                    return;
                }
            i += (int)n;
        } else if (!card && op != ZOP_DIFF && cmd_is(o, "aggregate") && more >= 1) {
            const resp_arg *h = &x->argv[++i];
            agg = cmd_is(h, "sum") ? AGG_SUM : cmd_is(h, "min") ? AGG_MIN
                : cmd_is(h, "max") ? AGG_MAX : -1;
            if (agg < 0)
                break;
        } else if (!card && !store && cmd_is(o, "withscores")) {
            withscores = 1;
        } else if (card && cmd_is(o, "limit") && more >= 1) {
            if (!num_str2ll(x->argv[i + 1].ptr, x->argv[i + 1].len, &limit) || limit < 0) {
                cmd_err(x, "-ERR LIMIT can't be negative");
                free(src);
                return;
            }
            i++;
        } else {
            agg = -1;
            break;
        }
    }
    if (agg < 0) {
        cmd_syntax_error(x);
        free(src);
        return;
    }
    zsink k = {.to = store ? 1 : card ? 2 : 0, .limit = (uint64_t)limit};
    int rc = OX_OK, smallest = 0, missing = 0;
    for (int i = 0; rc == OX_OK && i < n; i++) {
        missing += !src[i].c.exists;
        if (src[i].c.count < src[smallest].c.count)
            smallest = i;
    }
    uint64_t most = op == ZOP_UNION ? 0 : src[op == ZOP_INTER ? smallest : 0].c.count;
    for (int i = 0; op == ZOP_UNION && i < n; i++)
        most += src[i].c.count;
    if (store && !bulk_begin(x, most)) {
        free(src);
        return; /* nothing written or replied: it runs again (bulk.h) */
    }
    if (rc == OX_OK && store) {
        k.dst = (db_coll){.type = DB_ZSET, .members = db_members_of(x->table)};
        rc = db_coll_fresh(x, &k.dst);
    }
    if (rc == OX_OK && op == ZOP_UNION)
        rc = zunion(x, src, (int)n, agg, &k);
    else if (rc == OX_OK && op == ZOP_INTER && !missing)
        rc = zfilter(x, src, (int)n, smallest, ZOP_INTER, agg, &k);
    else if (rc == OX_OK && op == ZOP_DIFF && src[0].c.exists)
        rc = zfilter(x, src, (int)n, 0, ZOP_DIFF, agg, &k);
    free(src);
    if (rc == OX_OK && store)
        rc = zset_settle_negzero(x, &k.dst, k.negzero);
    if (rc == OX_OK && store)
        rc = db_coll_replace(x, &x->argv[1], &k.dst);
    if (rc == OX_OK && store && k.dst.count) {
        static const char *const ev[] = {"zunionstore", "zinterstore", "zdiffstore"};
        cmd_notify(x, CONF_NOTIFY_ZSET, ev[op], &x->argv[1]);
    }
    if (rc > 0)
        cmd_store_error(x, rc);
    else if (rc == OX_OK && k.to == 0)
        reply_sorted(x, &k.got, withscores);
    else if (rc == OX_OK)
        resp_write_int(x->out, (long long)k.n);
    srv_pairs_free(&k.got);
}

void cmd_zunion(cmd_ctx *x) { zsetop_generic(x, ZOP_UNION, 0, 0); }
void cmd_zinter(cmd_ctx *x) { zsetop_generic(x, ZOP_INTER, 0, 0); }
void cmd_zdiff(cmd_ctx *x) { zsetop_generic(x, ZOP_DIFF, 0, 0); }
void cmd_zunionstore(cmd_ctx *x) { zsetop_generic(x, ZOP_UNION, 1, 0); }
void cmd_zinterstore(cmd_ctx *x) { zsetop_generic(x, ZOP_INTER, 1, 0); }
void cmd_zdiffstore(cmd_ctx *x) { zsetop_generic(x, ZOP_DIFF, 1, 0); }
void cmd_zintercard(cmd_ctx *x) { zsetop_generic(x, ZOP_INTER, 0, 1); }

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] and BZMPOP timeout numkeys ...: the
 * first non-empty sorted set, as [key, [[member, score] ...]]; BZPOPMIN and BZPOPMAX
 * key [key ...] timeout: [key, member, score]. */
static void mpop_generic(cmd_ctx *x, int blocking, int single, int single_max)
{
    long long count = 1;
    int at, max = single_max, err = OX_OK, base = 1 + blocking, first = base + 1;
    uint64_t deadline = 0;
    const resp_arg *t = single ? &x->argv[x->argc - 1] : &x->argv[1];
    if (single) {
        first = 1;
        at = x->argc - 1;
    } else if (!cmd_mpop_args_or_reply(x, base, "min", "max", &at, &max, &count)) {
        return;
    }
    if (blocking && !x->block_retry && !block_timeout_or_reply(x, t, &deadline))
        return; /* Redis: the timeout after the rest */
    for (int i = first; i < at; i++) {
        db_coll c;
        int found = db_coll_get_woken_or_reply(x, i, DB_ZSET, &c);
        if (found <= 0) {
            if (found < 0)
                return;
            continue;
        }
        zrange r = {.by = BY_RANK, .rev = max, .start = 0, .stop = count - 1, .limit = -1};
        popped p = {{0}, !max, range_whole(&r, &c)};
        long long n = zwalk(x, &c, &r, visit_pop, &p, &err);
        if (p.whole && n > 0)
            c.count = 0;
        if (n > 0)
            cmd_notify(x, CONF_NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", &x->argv[i]);
        int rc = n < 0 ? err : zset_save(x, &x->argv[i], &c);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
        } else {
            resp_write_array(x->out, single ? 3 : 2);
            resp_write_bulk(x->out, x->argv[i].ptr, x->argv[i].len);
            if (!single)
                resp_write_array(x->out, (size_t)n);
            ox_val m, sv;
            size_t off = 0;
            while (srv_pairs_next(&p.got, &off, &m, &sv)) {
                double s;
                memcpy(&s, sv.data, sizeof s);
                if (!single)
                    resp_write_array(x->out, 2);
                resp_write_bulk(x->out, m.data, m.len);
                resp_write_double(x->out, s);
            }
        }
        srv_pairs_free(&p.got);
        return;
    }
    if (blocking && !x->in_exec)
        block_set(x, first, at - 1, DB_ZSET, deadline);
    else
        resp_write_null_array(x->out);
}

void cmd_zmpop(cmd_ctx *x) { mpop_generic(x, 0, 0, 0); }
void cmd_bzmpop(cmd_ctx *x) { mpop_generic(x, 1, 0, 0); }
void cmd_bzpopmin(cmd_ctx *x) { mpop_generic(x, 1, 1, 0); }
void cmd_bzpopmax(cmd_ctx *x) { mpop_generic(x, 1, 1, 1); }
