/* zset_fmt.c — a sorted set's records and its rank index (zset_fmt.h). */
#include "zset_fmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyorder.h"

#define SCORE_LEN 8
#define TAIL_MAX (SCORE_LEN + ZFMT_NAME_MAX) /* a fence's [s][m] */
#define SUB(level) (ZFMT_SUB_LEVEL + (int)(level) - 1)
/* How many deleted records (still in the write buffers) a walk that has another way steps
 * over before it takes the other way. A run of them builds up where members are removed
 * or move one after another: a search for the entry after a removed fence, from the far
 * end of a run removed in descending order, would walk the whole run (the fence hands its
 * count over instead); a member whose score keeps rising leaves its old entries between
 * the fence before it and itself (its rank is counted from the fence after it). */
#define DEL_STEPS 64

/* ---- keys ------------------------------------------------------------------------------ */

/* A record's key [id][sub][tail], on the stack up to a fence's length, with one byte of
 * room after it (upto). */
typedef struct zkey {
    unsigned char small[COLL_KEY_PREFIX + TAIL_MAX + 1], *p;
    size_t len;
} zkey;

/* [id][sub][score?][name] into k: OX_OK or OX_ENOMEM; free with zkey_done. */
static int zkey_make(zkey *k, uint64_t id, int sub, const double *score, const void *name,
                     size_t len)
{
    size_t n = COLL_KEY_PREFIX + (score ? SCORE_LEN : 0) + len;
    k->p = n < sizeof k->small ? k->small : malloc(n + 1);
    if (!k->p)
        return OX_ENOMEM;
    coll_member_key(k->p, id, sub, NULL, 0);
    if (score)
        coll_score_put(k->p + COLL_KEY_PREFIX, *score);
    if (len)
        memcpy(k->p + n - len, name, len);
    k->len = n;
    return OX_OK;
}

static void zkey_done(zkey *k)
{
    if (k->p != k->small)
        free(k->p);
}

static ox_val zkey_val(const zkey *k)
{
    return (ox_val){k->p, k->len};
}

/* The bound just past k among fences: k and a 0 byte, when k could be a fence's key. A
 * longer key is none, and the fences sort before or after it as their bytes do (they are
 * shorter than the library's order prefix). */
static ox_val upto(zkey *k)
{
    if (k->len - COLL_KEY_PREFIX > TAIL_MAX)
        return zkey_val(k);
    k->p[k->len] = 0;
    return (ox_val){k->p, k->len + 1};
}

/* ---- bounds (zset_fmt.h) ------------------------------------------------------------ */

/* t cut to a bound's length into b. */
static void bound_cut(coll_bound *b, const void *t, size_t tlen)
{
    b->len = (unsigned char)(tlen < COLL_BOUND_MAX ? tlen : COLL_BOUND_MAX);
    memcpy(b->b, t, b->len);
}

/* 1 if t cut is b. */
static int bound_is(const coll_bound *b, const void *t, size_t tlen)
{
    return b->len && (tlen < COLL_BOUND_MAX ? tlen : COLL_BOUND_MAX) == b->len &&
           !memcmp(t, b->b, b->len);
}

int zfmt_below(const coll_bounds *zb, const void *t, size_t tlen)
{
    const coll_bound *lo = &zb->lo;
    if (!lo->len)
        return 0;
    int d = memcmp(t, lo->b, tlen < lo->len ? tlen : lo->len);
    return d < 0 || (d == 0 && tlen < lo->len);
}

int zfmt_past(const coll_bounds *zb, const void *t, size_t tlen)
{
    const coll_bound *hi = &zb->hi;
    /* past hi's successor: after hi, and not starting with it (equal over the shorter
       length: t starts with hi, or is a prefix of it, so before it) */
    return hi->len && memcmp(t, hi->b, tlen < hi->len ? tlen : hi->len) > 0;
}

size_t zfmt_bound_from(unsigned char *buf, uint64_t id, int sub, const coll_bounds *zb)
{
    return zb ? coll_member_key(buf, id, sub, zb->lo.b, zb->lo.len)
              : coll_member_key(buf, id, sub, NULL, 0);
}

size_t zfmt_bound_end(unsigned char *buf, uint64_t id, int sub, const coll_bounds *zb)
{
    if (!zb || !zb->hi.len)
        return coll_member_key(buf, id, sub + 1, NULL, 0);
    size_t n = coll_member_key(buf, id, sub, zb->hi.b, zb->hi.len);
    while (n > COLL_KEY_PREFIX && buf[n - 1] == 0xff) /* the successor: carry out of the */
        n--;                                           /* trailing 0xff bytes (at most into */
    buf[n - 1]++;                                      /* sub: [id][sub + 1]) */
    return n;
}

void zfmt_popping(coll_bounds *zb, double score, const void *m, size_t len, int max)
{
    coll_bound *b = max ? &zb->hi : &zb->lo;
    size_t n = len < COLL_BOUND_MEMBER ? len : COLL_BOUND_MEMBER;
    coll_score_put(b->b, score);
    memcpy(b->b + SCORE_LEN, m, n);
    b->len = (unsigned char)(SCORE_LEN + n);
    zb->dirty |= max ? 2u : 1u; /* a bound still once it is gone, tight again at settle */
}

/* A change removes tail t (a removal, or a move's old place): the ends whose tight bound
 * was t's, to seek again once it is gone (bound_seek: a removal of many members from an
 * end, one at a time, then seeks past each from the last); loose bounds are marked to be
 * made tight at zfmt_settle, and a dirty end stays so. */
static unsigned bound_removed(coll_bounds *zb, const void *t, size_t tlen)
{
    if (!zb)
        return 0;
    if (!zb->tight)
        zb->dirty = 3;
    unsigned hit = (unsigned)bound_is(&zb->lo, t, tlen) | (unsigned)bound_is(&zb->hi, t, tlen) << 1;
    return hit & ~zb->dirty;
}

/* A change put tail t in: the bounds move out to it. A tight hi moves to any t whose cut
 * sorts after it (t is the last entry now: t extending the last one's whole tail is not
 * past hi's successor, but is past the last entry); a loose hi only to a t past its
 * successor (entries starting with it may be anywhere up to there). */
static void bound_added(coll_bounds *zb, const void *t, size_t tlen)
{
    if (!zb)
        return;
    if (zfmt_below(zb, t, tlen))
        bound_cut(&zb->lo, t, tlen);
    coll_bound cut;
    bound_cut(&cut, t, tlen);
    const coll_bound *hi = &zb->hi;
    int d = memcmp(cut.b, hi->b, cut.len < hi->len ? cut.len : hi->len);
    if (zb->tight ? hi->len && (d > 0 || (d == 0 && cut.len > hi->len))
                  : zfmt_past(zb, t, tlen))
        zb->hi = cut;
}

/* ---- reading --------------------------------------------------------------------------- */

typedef struct rd {
    ox_txn *txn;          /* or, when NULL: */
    ox_snapshot *snap;
    ox_table *t;
    uint64_t id;
    const coll_bounds *zb; /* the set's bounds (NULL: none) */
    int whole;             /* its index is whole: a level-1 record counts every entry up
                              to the next record (while one is built, the last before its
                              frontier counts up to the frontier only) */
} rd;

static int rd_range(const rd *r, const ox_val *lo, const ox_val *hi, unsigned flags,
                    ox_iter **it)
{
    return r->txn ? ox_txn_range(r->txn, r->t, lo, hi, flags, it)
                  : ox_snapshot_range(r->snap, r->t, lo, hi, flags, it);
}

static int rd_get(const rd *r, const void *k, size_t klen, ox_val *v)
{
    return r->txn ? ox_txn_get(r->txn, r->t, k, klen, v)
                  : ox_snapshot_get(r->snap, r->t, k, klen, v);
}

static int has_lo(const rd *r)
{
    return r->zb && r->zb->lo.len;
}

/* A walk of sub-space sub (the index, or a level) from tail `from` (included) to the key
 * hi (excluded; NULL: the sub-space's end, or the upper bound's successor). From the start
 * (flen 0) with a lower bound, it seeks to the bound (bounds: zset_fmt.h), a level's head
 * record, got apart, coming first. */
typedef struct zwalk {
    ox_iter *it;
    korder *ko;                         /* the index's walks: in byte order (keyorder.h) */
    int head;                           /* the head record is next */
    unsigned char hk[COLL_KEY_PREFIX];
    ox_val hv;
} zwalk;

static int iter_pull(void *it, ox_val *k, ox_val *v)
{
    return ox_iter_next(*(ox_iter **)it, k, v);
}

/* walk_open's flag: the index in the store's order, where byte order among long keys does
 * not matter (a count from a short tail, the ends' bounds cut to COLL_BOUND_MAX, the entry
 * after a fence): keyorder's group of long keys lies within one fence's span. */
#define WALK_STORE_ORDER 0x10000u

static int walk_open(const rd *r, int sub, const unsigned char *from, size_t flen,
                     const ox_val *hi, unsigned flags, zwalk *w)
{
    unsigned char lob[ZFMT_BOUND_KEY], endb[ZFMT_BOUND_KEY];
    ox_val lov, end = {endb, 0};
    zkey lo = {.p = NULL};
    int rc = OX_OK;
    w->it = NULL;
    w->ko = NULL;
    w->head = 0;
    if (!hi) {
        end.len = zfmt_bound_end(endb, r->id, sub, r->zb);
        hi = &end;
    }
    if (!flen && has_lo(r)) {
        lov = (ox_val){lob, zfmt_bound_from(lob, r->id, sub, r->zb)};
        coll_member_key(w->hk, r->id, sub, NULL, 0);
        /* the head, if the walk reaches past it: [id][sub] sorts before any longer key */
        if (sub != COLL_SUB_SCORE && (hi->len > COLL_KEY_PREFIX ||
                                      memcmp(w->hk, hi->data, COLL_KEY_PREFIX) < 0)) {
            rc = rd_get(r, w->hk, sizeof w->hk, &w->hv);
            w->head = rc == OX_OK;
            rc = rc == OX_NOTFOUND ? OX_ECORRUPT : rc; /* a level always has its head */
        }
    } else if ((rc = zkey_make(&lo, r->id, sub, NULL, from, flen)) == OX_OK) {
        lov = zkey_val(&lo);
    }
    const ox_val *wlo = &lov, *whi = hi;
    int exact = !(flags & WALK_STORE_ORDER);
    flags &= ~WALK_STORE_ORDER;
    if (rc == OX_OK && sub == COLL_SUB_SCORE && exact && /* members of one score by bytes */
        (rc = korder_open(r->txn, r->snap, r->t, &lov, hi, flags, iter_pull, &w->it,
                          &w->ko)) == OX_OK)
        korder_bounds(w->ko, &wlo, &whi, &flags);
    if (rc == OX_OK)
        rc = rd_range(r, wlo, whi, flags, &w->it);
    if (lo.p)
        zkey_done(&lo);
    return rc;
}

static int walk_next(zwalk *w, ox_val *k, ox_val *v)
{
    if (w->head) {
        w->head = 0;
        *k = (ox_val){w->hk, sizeof w->hk};
        *v = w->hv;
        return OX_OK;
    }
    return w->ko ? korder_next(w->ko, k, v) : ox_iter_next(w->it, k, v);
}

static void walk_close(zwalk *w)
{
    korder_close(w->ko);
    ox_iter_close(w->it);
}

/* A level's record: its head (tlen 0) or a fence. */
typedef struct zrec {
    unsigned char tail[TAIL_MAX];
    size_t tlen;
    uint64_t count;
    unsigned level;
    int negz;             /* an index entry's: its score is -0 (zset_fmt.h) */
} zrec;

static int rec_decode(const ox_val *k, const ox_val *v, zrec *out)
{
    if (k->len < COLL_KEY_PREFIX)
        return OX_ECORRUPT;
    size_t tlen = k->len - COLL_KEY_PREFIX;
    if ((tlen && tlen < SCORE_LEN) || tlen > TAIL_MAX || v->len != (tlen ? 9u : 8u))
        return OX_ECORRUPT;
    memcpy(out->tail, (const unsigned char *)k->data + COLL_KEY_PREFIX, tlen);
    out->tlen = tlen;
    out->count = coll_be64_get(v->data);
    out->level = tlen ? ((const unsigned char *)v->data)[8] : 0;
    return OX_OK;
}

/* The last record of level L before the key tail t into *out: the head is always there.
 * With a lower bound, the search stops there, and the head is got apart. */
static int pred(const rd *r, unsigned L, const unsigned char *t, size_t tlen, zrec *out)
{
    unsigned char lob[ZFMT_BOUND_KEY];
    zkey hi;
    int rc = zkey_make(&hi, r->id, SUB(L), NULL, t, tlen);
    if (rc != OX_OK)
        return rc;
    ox_val lov = {lob, has_lo(r) ? zfmt_bound_from(lob, r->id, SUB(L), r->zb)
                                 : coll_member_key(lob, r->id, SUB(L), NULL, 0)};
    ox_val hiv = zkey_val(&hi), k, v;
    ox_iter *it = NULL;
    rc = rd_range(r, &lov, &hiv, OX_ITER_DESC, &it);
    if (rc == OX_OK)
        rc = ox_iter_next(it, &k, &v);
    if (rc == OX_NOTFOUND && has_lo(r)) { /* none from the bound: the head */
        k = (ox_val){lob, coll_member_key(lob, r->id, SUB(L), NULL, 0)};
        rc = rd_get(r, k.data, k.len, &v);
    }
    if (rc == OX_OK)
        rc = rec_decode(&k, &v, out);
    ox_iter_close(it);
    zkey_done(&hi);
    return rc == OX_NOTFOUND ? OX_ECORRUPT : rc;
}

/* Over the records of sub-space sub from tail `from` (included) to tail `to` (excluded;
 * NULL: to the sub-space's end): how many (sum 0) or the sum of their counts (sum 1).
 * span_within gives up with OX_ELIMIT past `limit` deleted records in one step (0: no
 * limit). */
static int span_within(const rd *r, int sub, const unsigned char *from, size_t flen,
                       const unsigned char *to, size_t tlen, int sum, size_t limit,
                       uint64_t *out)
{
    zkey hi = {.p = NULL};
    int rc = to ? zkey_make(&hi, r->id, sub, NULL, to, tlen) : OX_OK;
    if (rc != OX_OK)
        return rc;
    ox_val hiv = to ? zkey_val(&hi) : (ox_val){NULL, 0}, k, v;
    zwalk w;
    uint64_t n = 0;
    rc = walk_open(r, sub, from, flen, to ? &hiv : NULL, sum ? 0 : OX_ITER_KEYS_ONLY, &w);
    if (rc == OX_OK && limit)
        ox_iter_limit(w.it, limit);
    while (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK) {
        if (sum && v.len < 8)
            rc = OX_ECORRUPT;
        else
            n += sum ? coll_be64_get(v.data) : 1;
    }
    walk_close(&w);
    if (hi.p)
        zkey_done(&hi);
    *out = n;
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

static int span(const rd *r, int sub, const unsigned char *from, size_t flen,
                const unsigned char *to, size_t tlen, int sum, uint64_t *out)
{
    return span_within(r, sub, from, flen, to, tlen, sum, 0, out);
}

/* The index entries from level 1's record f to tail t (excluded; t may be an entry or not
 * yet): walked from f; or, with a whole index (r->whole), past DEL_STEPS deletions there
 * (entries removed or moved one after another), f's count less the entries from t to
 * level 1's next record (or the end); or, past as many there too, walked from f whole. */
static int index_span(const rd *r, const zrec *f, const unsigned char *t, size_t tlen,
                      uint64_t *out)
{
    int rc = span_within(r, COLL_SUB_SCORE, f->tail, f->tlen, t, tlen, 0,
                         r->whole ? DEL_STEPS : 0, out);
    if (rc != OX_ELIMIT)
        return rc;
    zwalk w;
    ox_val k, v;
    zrec g = {.tlen = 0};
    uint64_t after = 0;
    int found = 0;
    rc = walk_open(r, SUB(1), t, tlen, NULL, 0, &w);
    if (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK)
        found = (rc = rec_decode(&k, &v, &g)) == OX_OK;
    walk_close(&w);
    if (rc == OX_NOTFOUND)
        rc = OX_OK;
    if (rc == OX_OK)
        rc = span_within(r, COLL_SUB_SCORE, t, tlen, found ? g.tail : NULL, g.tlen, 0,
                         DEL_STEPS, &after);
    if (rc == OX_OK && after > f->count)
        rc = OX_ECORRUPT; /* f's span holds those */
    if (rc == OX_OK)
        *out = f->count - after;
    if (rc == OX_ELIMIT)
        rc = span(r, COLL_SUB_SCORE, f->tail, f->tlen, t, tlen, 0, out);
    return rc;
}

/* Writer: the bounds of the ends in `ends` (1 low, 2 high) become the first (last) entry's
 * tail, seeking from the bounds as they are (still bounds). OX_OK, OX_NOTFOUND if the set
 * has no entry, or an error. */
static int bound_seek(const rd *r, coll_bounds *zb, unsigned ends)
{
    int rc = OX_OK;
    for (unsigned end = 0; rc == OX_OK && end < 2; end++) {
        if (!(ends & (1u << end)))
            continue;
        zwalk w;
        ox_val k, v;
        rc = walk_open(r, COLL_SUB_SCORE, NULL, 0, NULL,
                       OX_ITER_KEYS_ONLY | WALK_STORE_ORDER | (end ? OX_ITER_DESC : 0), &w);
        if (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK && k.len < COLL_KEY_PREFIX)
            rc = OX_ECORRUPT;
        if (rc == OX_OK)
            bound_cut(end ? &zb->hi : &zb->lo, (const unsigned char *)k.data + COLL_KEY_PREFIX,
                      k.len - COLL_KEY_PREFIX);
        walk_close(&w);
    }
    return rc;
}

/* ---- writing --------------------------------------------------------------------------- */

static int rec_put(ox_txn *txn, const rd *r, unsigned L, const unsigned char *tail,
                   size_t tlen, uint64_t count, unsigned level)
{
    zkey k;
    unsigned char v[9];
    coll_be64_put(v, count);
    v[8] = (unsigned char)level;
    int rc = zkey_make(&k, r->id, SUB(L), NULL, tail, tlen);
    if (rc == OX_OK) {
        rc = ox_txn_put(txn, r->t, k.p, k.len, v, tlen ? 9 : 8, 0, 0);
        zkey_done(&k);
    }
    return rc;
}

/* Level L's fence record at tail t: its count into *count, the record deleted too (del).
 * OX_OK, OX_ECORRUPT if it is not there or not a fence's, or the store's error. */
static int fence_count(ox_txn *txn, const rd *r, unsigned L, const unsigned char *t,
                       size_t tlen, int del, uint64_t *count)
{
    zkey k;
    ox_val v;
    int rc = zkey_make(&k, r->id, SUB(L), NULL, t, tlen);
    if (rc != OX_OK)
        return rc;
    rc = ox_txn_get(txn, r->t, k.p, k.len, &v);
    if (rc == OX_OK && v.len != 9)
        rc = OX_ECORRUPT;
    if (rc == OX_OK)
        *count = coll_be64_get(v.data);
    if (rc == OX_OK && del)
        rc = ox_txn_delete(txn, r->t, k.p, k.len);
    zkey_done(&k);
    return rc == OX_NOTFOUND ? OX_ECORRUPT : rc;
}

/* The index entry of tail t (level lv) comes in: each level's record before it counts one
 * more, or, where t is a fence, splits its count with t. */
static int rank_insert(ox_txn *txn, const rd *r, unsigned levels, const unsigned char *t,
                       size_t tlen, unsigned lv)
{
    static const zrec none;
    zrec p, below = none; /* p: level L's record before t; below: level L - 1's */
    uint64_t d = 0;       /* index entries from below to t */
    int rc = OX_OK;
    for (unsigned L = 1; rc == OX_OK && L <= levels; L++) {
        if ((rc = pred(r, L, t, tlen, &p)) != OX_OK)
            break;
        if (lv < L) {
            rc = rec_put(txn, r, L, p.tail, p.tlen, p.count + 1, p.level);
            continue;
        }
        uint64_t add; /* entries from p to below (level 1: to t) */
        rc = L == 1 ? index_span(r, &p, t, tlen, &add)
                    : span(r, SUB(L - 1), p.tail, p.tlen, below.tail, below.tlen, 1, &add);
        d += add;
        if (rc == OX_OK && d > p.count)
            rc = OX_ECORRUPT;
        if (rc == OX_OK)
            rc = rec_put(txn, r, L, p.tail, p.tlen, d, p.level);
        if (rc == OX_OK)
            rc = rec_put(txn, r, L, t, tlen, p.count + 1 - d, lv);
        below = p;
    }
    return rc;
}

/* A member's values: its field value [s][level] and its index entry's [level] (level 0:
 * [s] and ""), each with the mark 1 after it for a score of -0 (zset_fmt.h). s: the
 * score's 8 bytes (coll_score_put). */
typedef struct zvals {
    unsigned char f[SCORE_LEN + 2], i[2];
    size_t flen, ilen;
} zvals;

static zvals vals_make(const unsigned char *s, unsigned level, int negz)
{
    zvals z = {.flen = SCORE_LEN + (level || negz), .ilen = level || negz};
    memcpy(z.f, s, SCORE_LEN);
    z.f[SCORE_LEN] = z.i[0] = (unsigned char)level;
    if (negz) {
        z.f[z.flen++] = z.i[z.ilen++] = 1;
    }
    return z;
}

/* Writer: a member that has level f->level now (drawn, or a fence's that slid to it): its
 * field value and index entry carry it. Both records are there (a member's have no expiry
 * time): rewritten without a lookup, which was half of an index build's time. */
static int level_mark(ox_txn *txn, const rd *r, const zrec *f)
{
    zvals z = vals_make(f->tail, f->level, f->negz);
    zkey fk, ik;
    int rc = zkey_make(&fk, r->id, COLL_SUB_FIELD, NULL, f->tail + SCORE_LEN,
                       f->tlen - SCORE_LEN);
    if (rc != OX_OK)
        return rc;
    rc = ox_txn_put(txn, r->t, fk.p, fk.len, z.f, z.flen, 0, OX_PUT_LIVE);
    zkey_done(&fk);
    if (rc == OX_OK && (rc = zkey_make(&ik, r->id, COLL_SUB_SCORE, NULL, f->tail,
                                       f->tlen)) == OX_OK) {
        rc = ox_txn_put(txn, r->t, ik.p, ik.len, z.i, z.ilen, 0, OX_PUT_LIVE);
        zkey_done(&ik);
    }
    return rc;
}

/* The index entry after tail t (which is there) into *s, with its level: OX_OK with *found
 * 1, 0 if t is the last, 2 if more than DEL_STEPS deleted entries follow t; or an
 * error. */
static int successor(const rd *r, const unsigned char *t, size_t tlen, zrec *s, int *found)
{
    zwalk w;
    ox_val k, v;
    int rc = walk_open(r, COLL_SUB_SCORE, t, tlen, NULL, OX_ITER_AFTER | WALK_STORE_ORDER, &w);
    if (rc == OX_OK)
        ox_iter_limit(w.it, DEL_STEPS);
    if (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK) {
        s->tlen = k.len - COLL_KEY_PREFIX;
        s->level = zfmt_index_level(v.data, v.len);
        s->negz = zfmt_index_negzero(v.data, v.len);
        if (s->tlen <= TAIL_MAX) /* a longer one is never a fence: its tail is not kept */
            memcpy(s->tail, (const unsigned char *)k.data + COLL_KEY_PREFIX, s->tlen);
    }
    walk_close(&w);
    *found = rc == OX_OK ? 1 : rc == OX_ELIMIT ? 2 : 0;
    return rc == OX_NOTFOUND || rc == OX_ELIMIT ? OX_OK : rc;
}

/* The index entry of tail t (level lv) goes: each level's record before it counts one
 * less; where t is a fence, the fence slides to the entry s after it (slide: a removal of
 * a set whose index is whole): at the levels where s is a fence already, or where t is the
 * last, t's record just goes (t counted only itself); above them s keeps t's count less t;
 * and s takes t's level if it is higher. Else (s longer than a fence may be, or past a
 * run of deletions: DEL_STEPS) the record before t takes over t's count. A fence that
 * slides leaves no deletion between the live fences and the entries after them, which a
 * later removal's search for the record before it would step over; one that hands over
 * leaves its deletion after the removals that follow a descending run. Either way a run
 * of neighbours removed one after another costs O(1) each. */
static int rank_remove(ox_txn *txn, const rd *r, unsigned levels, const unsigned char *t,
                       size_t tlen, unsigned lv, int slide)
{
    int rc = OX_OK, next = 0;
    zrec s = {.tlen = 0}; /* the entry after t, where t is a fence and may slide */
    if (lv && tlen > TAIL_MAX)
        return OX_ECORRUPT;
    if (lv && levels && slide && (rc = successor(r, t, tlen, &s, &next)) != OX_OK)
        return rc; /* (a positive error code: never taken for "found") */
    if (next == 2)
        slide = next = 0; /* far: the hand-over */
    int slides = next && s.tlen <= TAIL_MAX && s.level < lv; /* s's level becomes lv */
    for (unsigned L = 1; rc == OX_OK && L <= levels; L++) {
        zrec p;
        uint64_t own = 0; /* t's own count, where t is a fence */
        if (lv >= L) {
            if ((rc = fence_count(txn, r, L, t, tlen, 1, &own)) != OX_OK)
                break;
            if (slide && (!next || s.level >= L)) { /* it counted itself */
                uint64_t n;
                rc = own == 1 ? OX_OK : OX_ECORRUPT;
                if (rc == OX_OK && slides && /* s's record here says its new level */
                    (rc = fence_count(txn, r, L, s.tail, s.tlen, 0, &n)) == OX_OK)
                    rc = rec_put(txn, r, L, s.tail, s.tlen, n, lv);
                continue;
            }
            if (slides) { /* s is in t's span: own > 1 */
                rc = own > 1 ? rec_put(txn, r, L, s.tail, s.tlen, own - 1, lv) : OX_ECORRUPT;
                continue;
            }
        }
        if (rc == OX_OK)
            rc = pred(r, L, t, tlen, &p);
        if (rc == OX_OK && (lv >= L ? own : p.count) == 0)
            rc = OX_ECORRUPT; /* a fence counts itself; else p counts t */
        if (rc == OX_OK)
            rc = rec_put(txn, r, L, p.tail, p.tlen, p.count + own - 1, p.level);
    }
    if (rc == OX_OK && slides) {
        s.level = lv;
        rc = level_mark(txn, r, &s);
    }
    return rc;
}

/* A level for a new member: L with probability fanout^-L (a thread's own generator). */
static unsigned draw(unsigned fanout)
{
    static _Thread_local uint64_t s;
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&s) | 1;
    }
    unsigned lv = 0;
    while (lv < ZFMT_MAX_LEVELS) {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull); /* splitmix64 */
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        if ((z ^ (z >> 31)) % fanout)
            break;
        lv++;
    }
    return lv;
}

/* 2 * fanout^L, saturated. */
static uint64_t threshold(unsigned fanout, unsigned L)
{
    uint64_t t = 2;
    for (unsigned i = 0; i < L; i++)
        t = t > UINT64_MAX / fanout ? UINT64_MAX : t * fanout;
    return t;
}

/* Records gathered for a new level. */
typedef struct zlist {
    zrec *a;
    size_t n, cap;
} zlist;

static int zlist_add(zlist *l, const zrec *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        zrec *a = realloc(l->a, cap * sizeof *a);
        if (!a)
            return OX_ENOMEM;
        l->a = a;
        l->cap = cap;
    }
    l->a[l->n++] = *e;
    return OX_OK;
}


/* Writer: builds level L >= 2 of z from level L - 1: its head, and the fences of level L
 * among the level's, counted. */
static int build_level(ox_txn *txn, const rd *r, unsigned L)
{
    ox_val k, v;
    zwalk w = {NULL};
    zlist l = {0};
    zrec e = {.tlen = 0}; /* the new level's head first, counting what comes before a fence */
    int rc = zlist_add(&l, &e);
    if (rc == OX_OK)
        rc = walk_open(r, SUB(L - 1), NULL, 0, NULL, 0, &w);
    while (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK &&
           (rc = rec_decode(&k, &v, &e)) == OX_OK) {
        if (e.tlen && e.level >= L)
            rc = zlist_add(&l, &e);
        else
            l.a[l.n - 1].count += e.count;
    }
    walk_close(&w);
    if (rc == OX_NOTFOUND)
        rc = OX_OK;
    for (size_t i = 0; rc == OX_OK && i < l.n; i++)
        rc = rec_put(txn, r, L, l.a[i].tail, l.a[i].tlen, l.a[i].count, l.a[i].level);
    free(l.a);
    return rc;
}

/* Writer, after a member came in: the next level, if z has an index and just passed the
 * threshold of one more. */
static int grow(ox_txn *txn, zfmt_set *z, const rd *r)
{
    uint64_t n = z->count + 1;
    if (!z->levels || (z->levels & ZFMT_BUILDING) || z->levels >= ZFMT_MAX_LEVELS ||
        n <= threshold(z->fanout, z->levels + 1))
        return OX_OK;
    int rc = build_level(txn, r, z->levels + 1);
    if (rc == OX_OK)
        z->levels++;
    return rc;
}

/* ---- building level 1 on demand ----------------------------------------------------- */

/* Tails compare as the index sorts them (a short one against any: its bytes). */
static int tail_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    int d = memcmp(a, b, alen < blen ? alen : blen);
    return d ? d : (alen > blen) - (alen < blen);
}

/* The levels kept at tail t: the set's, or while level 1 is being built, 1 before the
 * builder's frontier and none after it (the builder counts those when it gets there). */
static int levels_at(ox_txn *txn, ox_snapshot *snap, const zfmt_set *z,
                     const unsigned char *t, size_t tlen, unsigned *levels)
{
    if (!(z->levels & ZFMT_BUILDING)) {
        *levels = z->levels;
        return OX_OK;
    }
    zkey k;
    ox_val v;
    rd r = {txn, snap, z->members, z->id, NULL, 0};
    int rc = zkey_make(&k, z->id, ZFMT_SUB_FRONTIER, NULL, NULL, 0);
    if (rc == OX_OK) {
        rc = rd_get(&r, k.p, k.len, &v);
        zkey_done(&k);
    }
    if (rc == OX_OK)
        *levels = tail_cmp(t, tlen, v.data, v.len) < 0;
    return rc == OX_NOTFOUND ? OX_ECORRUPT : rc;
}

int zfmt_build_step(ox_txn *txn, zfmt_set *z, size_t budget, int *done)
{
    zkey fk;
    ox_val v, k;
    unsigned char front[TAIL_MAX];
    size_t flen = 0;
    int rc = OX_OK;
    *done = 0;
    if (zfmt_indexed(z->levels)) { /* built already */
        *done = 1;
        return OX_OK;
    }
    if ((rc = zkey_make(&fk, z->id, ZFMT_SUB_FRONTIER, NULL, NULL, 0)) != OX_OK)
        return rc;
    rd r = {txn, NULL, z->members, z->id, z->zb, 0};
    zrec cur; /* the last record of level 1 before the frontier, counting on */
    if (!(z->levels & ZFMT_BUILDING)) { /* the start: an empty head, the frontier first */
        cur = (zrec){.tlen = 0, .count = 0};
        rc = ox_txn_put(txn, z->members, fk.p, fk.len, "", 0, 0, 0);
        z->levels = ZFMT_BUILDING;
    } else if ((rc = ox_txn_get(txn, z->members, fk.p, fk.len, &v)) == OX_OK) {
        flen = v.len <= TAIL_MAX ? v.len : 0;
        memcpy(front, v.data, flen);
        rc = v.len <= TAIL_MAX ? pred(&r, 1, front, flen, &cur) : OX_ECORRUPT;
        cur.level |= 0x100u; /* a record already: its member carries its level */
    }
    if (rc != OX_OK) {
        zkey_done(&fk);
        return rc;
    }
    zwalk w;
    zlist l = {0};  /* fences found: their records and their members' levels, written after */
    size_t seen = 0;
    int more = 0;
    rc = walk_open(&r, COLL_SUB_SCORE, front, flen, NULL, WALK_STORE_ORDER, &w);
    while (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK) {
        const unsigned char *t = (const unsigned char *)k.data + COLL_KEY_PREFIX;
        size_t tlen = k.len - COLL_KEY_PREFIX;
        if (seen >= budget && tlen <= TAIL_MAX) { /* a frontier is a short tail */
            memcpy(front, t, tlen);
            flen = tlen;
            more = 1;
            break;
        }
        seen++;
        /* a member whose score moved it here from before the frontier kept its level */
        unsigned stored = zfmt_index_level(v.data, v.len);
        unsigned lv = stored ? stored : tlen <= TAIL_MAX ? draw(z->fanout) : 0;
        if (!lv) {
            cur.count++;
            continue;
        }
        if ((rc = zlist_add(&l, &cur)) != OX_OK)
            break;
        cur = (zrec){.tlen = tlen, .count = 1, .level = lv,
                     .negz = zfmt_index_negzero(v.data, v.len)};
        memcpy(cur.tail, t, tlen);
        if (stored) /* its records carry it: no rewrite */
            cur.level |= 0x100u;
    }
    walk_close(&w);
    if (rc == OX_NOTFOUND)
        rc = OX_OK;
    if (rc == OX_OK)
        rc = zlist_add(&l, &cur);
    for (size_t i = 0; rc == OX_OK && i < l.n; i++) {
        zrec *f = &l.a[i];
        int keep = (f->level & 0x100u) != 0;
        f->level &= 0xffu;
        rc = rec_put(txn, &r, 1, f->tail, f->tlen, f->count, f->level);
        if (rc == OX_OK && f->tlen && !keep)
            rc = level_mark(txn, &r, f);
    }
    free(l.a);
    if (rc == OX_OK && more)
        rc = ox_txn_put(txn, z->members, fk.p, fk.len, front, flen, 0, 0);
    if (rc == OX_OK && !more) { /* level 1 is whole: the levels above it now, if due */
        rc = ox_txn_delete(txn, z->members, fk.p, fk.len);
        z->levels = 1;
        for (uint64_t n = z->count; rc == OX_OK && z->levels < ZFMT_MAX_LEVELS &&
                                    n > threshold(z->fanout, z->levels + 1);)
            if ((rc = build_level(txn, &r, z->levels + 1)) == OX_OK)
                z->levels++;
        *done = rc == OX_OK;
    }
    zkey_done(&fk);
    return rc;
}

/* ---- the API --------------------------------------------------------------------------- */

int zfmt_converts(uint64_t count, size_t len)
{
    return count + 1 > ZFMT_LISTPACK_ENTRIES || len > ZFMT_LISTPACK_VALUE;
}

int zfmt_indexed(unsigned levels)
{
    return levels && !(levels & ZFMT_BUILDING);
}

int zfmt_field(const void *v, size_t len, double *score, unsigned *level)
{
    const unsigned char *b = v;
    if (len < SCORE_LEN || len > SCORE_LEN + 2 || (len == SCORE_LEN + 2 && b[SCORE_LEN + 1] != 1))
        return 0;
    *score = coll_score_get(v);
    if (len == SCORE_LEN + 2) { /* a -0 */
        if (*score != 0)
            return 0;
        *score = -0.0;
    }
    if (level)
        *level = len > SCORE_LEN ? b[SCORE_LEN] : 0;
    return 1;
}

int zfmt_entry(const ox_val *k, const ox_val *v, double *score, ox_val *member)
{
    if (k->len < COLL_KEY_PREFIX + SCORE_LEN)
        return 0;
    const unsigned char *t = (const unsigned char *)k->data + COLL_KEY_PREFIX;
    *score = coll_score_get(t);
    if (v && zfmt_index_negzero(v->data, v->len))
        *score = -0.0;
    *member = (ox_val){t + SCORE_LEN, k->len - COLL_KEY_PREFIX - SCORE_LEN};
    return 1;
}

unsigned zfmt_index_level(const void *v, size_t len)
{
    return len ? *(const unsigned char *)v : 0;
}

int zfmt_index_negzero(const void *v, size_t len)
{
    return len == 2 && ((const unsigned char *)v)[1] == 1;
}

int zfmt_put(ox_txn *txn, zfmt_set *z, const void *m, size_t len, int had, double old,
             unsigned level, double score)
{
    /* Every key is made before the first write: m may point into a record of the map,
     * which a write can unmap (the transaction lets go of it for a growth). */
    zkey mk, ik, ok;
    int rc = zkey_make(&mk, z->id, COLL_SUB_FIELD, NULL, m, len);
    if (rc != OX_OK)
        return rc;
    if ((rc = zkey_make(&ik, z->id, COLL_SUB_SCORE, &score, m, len)) != OX_OK) {
        zkey_done(&mk);
        return rc;
    }
    if (had && (rc = zkey_make(&ok, z->id, COLL_SUB_SCORE, &old, m, len)) != OX_OK) {
        zkey_done(&ik);
        zkey_done(&mk);
        return rc;
    }
    unsigned ends = had ? bound_removed(z->zb, ok.p + COLL_KEY_PREFIX,
                                        ok.len - COLL_KEY_PREFIX) : 0;
    bound_added(z->zb, ik.p + COLL_KEY_PREFIX, ik.len - COLL_KEY_PREFIX);
    unsigned at_old = 0, at_new = 0; /* the levels kept where it was and where it goes */
    if (had)
        rc = levels_at(txn, NULL, z, ok.p + COLL_KEY_PREFIX, ok.len - COLL_KEY_PREFIX, &at_old);
    if (rc == OX_OK)
        rc = levels_at(txn, NULL, z, ik.p + COLL_KEY_PREFIX, ik.len - COLL_KEY_PREFIX, &at_new);
    if (!had)
        level = at_new && len <= ZFMT_NAME_MAX ? draw(z->fanout) : 0;
    rd r = {txn, NULL, z->members, z->id, z->zb, zfmt_indexed(z->levels)};
    unsigned char sb[SCORE_LEN];
    coll_score_put(sb, score);
    zvals zv = vals_make(sb, level, score == 0 && signbit(score));
    /* The member's record first: the transaction still holds what the caller's read of it
     * found, and the put takes that instead of a second lookup. */
    if (rc == OX_OK)
        rc = ox_txn_put(txn, z->members, mk.p, mk.len, zv.f, zv.flen, 0, 0);
    if (rc == OX_OK && had)
        rc = rank_remove(txn, &r, at_old, ok.p + COLL_KEY_PREFIX, ok.len - COLL_KEY_PREFIX,
                         level, 0); /* a move: its level goes with it, none slides */
    if (rc == OX_OK && had) /* its old index entry: there, the caller read the member */
        rc = ox_txn_delete_live(txn, z->members, ok.p, ok.len);
    if (rc == OX_OK)
        rc = rank_insert(txn, &r, at_new, ik.p + COLL_KEY_PREFIX, ik.len - COLL_KEY_PREFIX,
                         level);
    if (rc == OX_OK) /* its index entry is not there (a member has one, and a member that
                        had one had it deleted above, even at this key): not looked up */
        rc = ox_txn_put(txn, z->members, ik.p, ik.len, zv.i, zv.ilen, 0, OX_PUT_ABSENT);
    if (rc == OX_OK && !had)
        rc = grow(txn, z, &r);
    if (rc == OX_OK && ends) /* (never empty: it holds m) */
        rc = bound_seek(&r, z->zb, ends);
    if (had)
        zkey_done(&ok);
    zkey_done(&ik);
    zkey_done(&mk);
    return rc;
}

int zfmt_del(ox_txn *txn, const zfmt_set *z, const void *m, size_t len, double score,
             unsigned level)
{
    zkey mk, ik;
    int rc = zkey_make(&mk, z->id, COLL_SUB_FIELD, NULL, m, len);
    if (rc != OX_OK)
        return rc;
    if ((rc = zkey_make(&ik, z->id, COLL_SUB_SCORE, &score, m, len)) == OX_OK) {
        rd r = {txn, NULL, z->members, z->id, z->zb, zfmt_indexed(z->levels)};
        unsigned at;
        unsigned ends = bound_removed(z->zb, ik.p + COLL_KEY_PREFIX, ik.len - COLL_KEY_PREFIX);
        rc = levels_at(txn, NULL, z, ik.p + COLL_KEY_PREFIX, ik.len - COLL_KEY_PREFIX, &at);
        if (rc == OX_OK && zfmt_indexed(z->levels)) {
            /* its level as stored: the removal of the member before it may have slid a
               fence onto it since the caller's walk read it */
            ox_val v;
            if ((rc = ox_txn_get(txn, z->members, ik.p, ik.len, &v)) == OX_OK)
                level = zfmt_index_level(v.data, v.len);
            rc = rc == OX_NOTFOUND ? OX_ECORRUPT : rc;
        }
        if (rc == OX_OK)
            rc = rank_remove(txn, &r, at, ik.p + COLL_KEY_PREFIX, ik.len - COLL_KEY_PREFIX,
                             level, zfmt_indexed(z->levels));
        /* both records are there: the caller found the member (not looked up again) */
        if (rc == OX_OK)
            rc = ox_txn_delete_live(txn, z->members, mk.p, mk.len);
        if (rc == OX_OK)
            rc = ox_txn_delete_live(txn, z->members, ik.p, ik.len);
        if (rc == OX_OK && ends && (rc = bound_seek(&r, z->zb, ends)) == OX_NOTFOUND)
            rc = OX_OK; /* its last member: the set goes */
        zkey_done(&ik);
    }
    zkey_done(&mk);
    return rc;
}

int zfmt_settle(ox_txn *txn, zfmt_set *z)
{
    coll_bounds *zb = z->zb;
    if (!zb || !zb->dirty || !z->count)
        return OX_OK;
    rd r = {txn, NULL, z->members, z->id, zb, zfmt_indexed(z->levels)};
    int rc = bound_seek(&r, zb, zb->dirty);
    if (rc == OX_OK) {
        zb->dirty = 0;
        zb->tight = 1;
    }
    return rc == OX_NOTFOUND ? OX_ECORRUPT : rc; /* z->count says it has members */
}

int zfmt_rank(ox_txn *txn, ox_snapshot *snap, const zfmt_set *z, const void *m, size_t len,
              double score, uint64_t *rank)
{
    zkey tk;
    int rc = zkey_make(&tk, z->id, COLL_SUB_SCORE, &score, m, len);
    if (rc != OX_OK)
        return rc;
    rd r = {txn, snap, z->members, z->id, z->zb, zfmt_indexed(z->levels)};
    const unsigned char *t = tk.p + COLL_KEY_PREFIX;
    size_t tlen = tk.len - COLL_KEY_PREFIX;
    zrec cur = {.tlen = 0}, e; /* where the walk of each level starts: the head, first */
    uint64_t n = 0;
    unsigned top = zfmt_indexed(z->levels) ? z->levels : 0;
    /* while level 1 is built, its part before the frontier counts m if m is there */
    if (!top && (z->levels & ZFMT_BUILDING))
        rc = levels_at(txn, snap, z, t, tlen, &top);
    for (unsigned L = top; rc == OX_OK && L >= 1; L--) {
        zkey hi;
        if ((rc = zkey_make(&hi, z->id, SUB(L), NULL, t, tlen)) != OX_OK)
            break;
        ox_val hiv = upto(&hi), k, v;
        zwalk w;
        uint64_t before = 0; /* the count of the record the walk stands on */
        int first = 1;
        rc = walk_open(&r, SUB(L), cur.tail, cur.tlen, &hiv, 0, &w);
        while (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK &&
               (rc = rec_decode(&k, &v, &e)) == OX_OK) {
            if (!first)
                n += before;
            if (first && (e.tlen != cur.tlen || memcmp(e.tail, cur.tail, e.tlen)))
                rc = OX_ECORRUPT; /* the walk's start is a record of this level too */
            first = 0;
            before = e.count;
            cur = e;
        }
        walk_close(&w);
        zkey_done(&hi);
        if (rc == OX_NOTFOUND)
            rc = first ? OX_ECORRUPT : OX_OK;
    }
    uint64_t rest = 0;
    if (rc == OX_OK)
        rc = top ? index_span(&r, &cur, t, tlen, &rest)
                 : span(&r, COLL_SUB_SCORE, NULL, 0, t, tlen, 0, &rest);
    zkey_done(&tk);
    *rank = n + rest;
    return rc;
}

int zfmt_rank_partial(ox_txn *txn, ox_snapshot *snap, const zfmt_set *z, const void *m,
                      size_t len, double score, int *before)
{
    zkey tk;
    unsigned at = 0;
    int rc = OX_OK;
    if ((z->levels & ZFMT_BUILDING) && (rc = zkey_make(&tk, z->id, COLL_SUB_SCORE, &score, m,
                                                       len)) == OX_OK) {
        rc = levels_at(txn, snap, z, tk.p + COLL_KEY_PREFIX, tk.len - COLL_KEY_PREFIX, &at);
        zkey_done(&tk);
    }
    *before = rc == OX_OK && at;
    return rc;
}

int zfmt_at_rank(ox_txn *txn, ox_snapshot *snap, const zfmt_set *z, uint64_t want,
                 unsigned char **key, size_t *klen)
{
    rd r = {txn, snap, z->members, z->id, z->zb, zfmt_indexed(z->levels)};
    zrec cur = {.tlen = 0}, e;
    uint64_t n = 0; /* the rank of cur's index entry (the head's: 0) */
    int rc = OX_OK;
    unsigned top = zfmt_indexed(z->levels) ? z->levels : 0;
    for (unsigned L = top + 1; rc == OX_OK && L-- > 0;) {
        int sub = L ? SUB(L) : COLL_SUB_SCORE;
        ox_val k, v;
        zwalk w;
        rc = walk_open(&r, sub, cur.tail, cur.tlen, NULL, L ? 0 : OX_ITER_KEYS_ONLY, &w);
        if (L == 0) { /* the index: the steps left */
            while (rc == OX_OK && (rc = walk_next(&w, &k, &v)) == OX_OK && n < want)
                n++;
            if (rc == OX_OK && !(*key = malloc(k.len ? k.len : 1)))
                rc = OX_ENOMEM;
            if (rc == OX_OK) {
                memcpy(*key, k.data, k.len);
                *klen = k.len;
            }
        } else { /* the records of level L from cur, while the next still starts <= want */
            uint64_t count = 0;
            int first = 1;
            while (rc == OX_OK && (first || n + count <= want) &&
                   (rc = walk_next(&w, &k, &v)) == OX_OK &&
                   (rc = rec_decode(&k, &v, &e)) == OX_OK) {
                n += first ? 0 : count;
                first = 0;
                count = e.count;
                cur = e;
            }
            if (rc == OX_NOTFOUND && !first)
                rc = n + count > want ? OX_OK : OX_NOTFOUND;
            else if (rc == OX_NOTFOUND)
                rc = OX_ECORRUPT;
        }
        walk_close(&w);
    }
    return rc;
}

/* ---- oxistore-check ------------------------------------------------------------------ */

static int bad(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return OX_ECORRUPT;
}

/* An iterator over the records of set z's sub-space sub. */
static int sub_iter(ox_snapshot *snap, const zfmt_set *z, int sub, ox_iter **it)
{
    unsigned char p[COLL_KEY_PREFIX];
    ox_val prefix = {p, coll_member_key(p, z->id, sub, NULL, 0)};
    return ox_snapshot_prefix(snap, z->members, &prefix, 0, it);
}

/* Every score record has its index entry, at its level. */
static int verify_fields(ox_snapshot *snap, const zfmt_set *z, char *why, size_t cap)
{
    ox_iter *it;
    ox_val k, v, iv;
    uint64_t n = 0;
    int rc = sub_iter(snap, z, COLL_SUB_FIELD, &it);
    while (rc == OX_OK && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        double score;
        unsigned level;
        zkey ik;
        n++;
        if (!zfmt_field(v.data, v.len, &score, &level)) {
            rc = bad(why, cap, "a member's score record has %zu bytes", v.len);
            break;
        }
        if ((rc = zkey_make(&ik, z->id, COLL_SUB_SCORE, &score,
                            (const char *)k.data + COLL_KEY_PREFIX,
                            k.len - COLL_KEY_PREFIX)) != OX_OK)
            break;
        rc = ox_snapshot_get(snap, z->members, ik.p, ik.len, &iv);
        zkey_done(&ik);
        if (rc == OX_NOTFOUND)
            rc = bad(why, cap, "member %.*s (score %.17g) has no index entry",
                     (int)(k.len - COLL_KEY_PREFIX), (const char *)k.data + COLL_KEY_PREFIX,
                     score);
        else if (rc == OX_OK && zfmt_index_level(iv.data, iv.len) != level)
            rc = bad(why, cap, "member %.*s has level %u, its index entry %u",
                     (int)(k.len - COLL_KEY_PREFIX), (const char *)k.data + COLL_KEY_PREFIX,
                     level, zfmt_index_level(iv.data, iv.len));
        else if (rc == OX_OK && zfmt_index_negzero(iv.data, iv.len) != (score == 0 &&
                                                                         signbit(score)))
            rc = bad(why, cap, "member %.*s and its index entry disagree on -0",
                     (int)(k.len - COLL_KEY_PREFIX), (const char *)k.data + COLL_KEY_PREFIX);
    }
    ox_iter_close(it);
    if (rc == OX_NOTFOUND && n != z->count)
        rc = bad(why, cap, "%" PRIu64 " members for a count of %" PRIu64, n, z->count);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* The index entries: as many as members (each a member's, by verify_fields), within the
 * bounds, the tight ones the first's and the last's. */
static int verify_index(ox_snapshot *snap, const zfmt_set *z, char *why, size_t cap)
{
    static const coll_bounds none;
    const coll_bounds *zb = z->zb ? z->zb : &none;
    coll_bound first = {0}, last = {0};
    ox_iter *it;
    ox_val k, v;
    uint64_t n = 0;
    int rc = sub_iter(snap, z, COLL_SUB_SCORE, &it);
    while (rc == OX_OK && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        const unsigned char *t = (const unsigned char *)k.data + COLL_KEY_PREFIX;
        size_t tlen = k.len - COLL_KEY_PREFIX;
        if (tlen < SCORE_LEN)
            rc = bad(why, cap, "an index entry of %zu bytes", k.len);
        else if (zfmt_below(zb, t, tlen) || zfmt_past(zb, t, tlen))
            rc = bad(why, cap, "the entry of member %.*s (score %.17g) is outside the "
                     "set's bounds", (int)(tlen - SCORE_LEN), (const char *)t + SCORE_LEN,
                     coll_score_get(t));
        if (rc == OX_OK && !n++)
            bound_cut(&first, t, tlen);
        if (rc == OX_OK)
            bound_cut(&last, t, tlen);
    }
    ox_iter_close(it);
    if (rc != OX_NOTFOUND)
        return rc;
    if (n != z->count)
        return bad(why, cap, "%" PRIu64 " index entries for a count of %" PRIu64, n,
                   z->count);
    if (n && zb->tight && (!bound_is(&zb->lo, first.b, first.len) ||
                           !bound_is(&zb->hi, last.b, last.len)))
        return bad(why, cap, "its tight bounds are not its first and last entries");
    return OX_OK;
}

/* Level L: its head, then a fence at each index entry of level L or above, in order,
 * each counting the entries from its own to the next fence's. */
static int verify_level(ox_snapshot *snap, const zfmt_set *z, unsigned L, char *why,
                        size_t cap)
{
    ox_iter *idx, *lv = NULL;
    ox_val k, v, fk, fv;
    uint64_t want = 0, seen = 0;
    int rc = sub_iter(snap, z, COLL_SUB_SCORE, &idx), head = 1;
    if (rc == OX_OK)
        rc = sub_iter(snap, z, SUB(L), &lv);
    if (rc == OX_OK && (rc = ox_iter_next(lv, &fk, &fv)) == OX_OK) {
        if (fk.len != COLL_KEY_PREFIX || fv.len != 8)
            rc = bad(why, cap, "level %u has no head record", L);
        else
            want = coll_be64_get(fv.data);
    } else if (rc == OX_NOTFOUND) {
        rc = bad(why, cap, "level %u has no head record", L);
    }
    while (rc == OX_OK && (rc = ox_iter_next(idx, &k, &v)) == OX_OK) {
        if (zfmt_index_level(v.data, v.len) < L) {
            seen++;
            continue;
        }
        /* a fence here: the span before it ends */
        if (seen != want) {
            rc = bad(why, cap, "level %u: a %s counts %" PRIu64 " entries, %" PRIu64
                     " follow it", L, head ? "head" : "fence", want, seen);
            break;
        }
        head = 0;
        rc = ox_iter_next(lv, &fk, &fv);
        if (rc == OX_NOTFOUND ||
            (rc == OX_OK && (fk.len != k.len || fv.len != 9 ||
                             memcmp((const char *)fk.data + COLL_KEY_PREFIX,
                                    (const char *)k.data + COLL_KEY_PREFIX,
                                    k.len - COLL_KEY_PREFIX)))) {
            rc = bad(why, cap, "level %u: the entry of member %.*s has level %u and no "
                     "fence", L, (int)(k.len - COLL_KEY_PREFIX - SCORE_LEN),
                     (const char *)k.data + COLL_KEY_PREFIX + SCORE_LEN,
                     zfmt_index_level(v.data, v.len));
            break;
        }
        if (rc == OX_OK && ((const unsigned char *)fv.data)[8] !=
                               zfmt_index_level(v.data, v.len))
            rc = bad(why, cap, "level %u: a fence's level is not its entry's", L);
        want = rc == OX_OK ? coll_be64_get(fv.data) : 0;
        seen = 1;
    }
    if (rc == OX_NOTFOUND && seen != want)
        rc = bad(why, cap, "level %u: the last %s counts %" PRIu64 " entries, %" PRIu64
                 " follow it", L, head ? "head" : "fence", want, seen);
    if (rc == OX_NOTFOUND && (rc = ox_iter_next(lv, &fk, &fv)) == OX_OK)
        rc = bad(why, cap, "level %u has a fence past the entries of its level", L);
    ox_iter_close(lv);
    ox_iter_close(idx);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int zfmt_verify(ox_snapshot *snap, const zfmt_set *z, char *why, size_t cap)
{
    int rc = verify_fields(snap, z, why, cap);
    if (rc == OX_OK)
        rc = verify_index(snap, z, why, cap);
    for (unsigned L = 1; rc == OX_OK && zfmt_indexed(z->levels) && L <= z->levels; L++)
        rc = verify_level(snap, z, L, why, cap);
    return rc;
}
