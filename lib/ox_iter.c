/* ox_iter.c — streaming iterators over the layered walk (ox_view.c: the write buffers over
 * LMDB): [lo, hi) ranges and prefixes, ascending or descending, skipping expired keys, and
 * their positions (a key's stored form). Nothing is materialised. */
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"

enum { OX_IT_FRESH, OX_IT_RUNNING, OX_IT_DONE, OX_IT_DETACHED, OX_IT_SPENT };

struct ox_iter {
    ox_store *s;
    ox_table *t;
    ox_rd rd;              /* its own reader (own_rd), else a copy of the owner's */
    int own_rd;
    ox_walk *w;
    ox_txn *wtxn;          /* write transaction it belongs to, or NULL */
    ox_iter *wnext;        /* in wtxn's list */
    unsigned flags;
    int state;             /* OX_IT_* (SPENT: gave up at its limit) */
    size_t limit;          /* ox_iter_limit's (0: none) */
    int asc;
    int has_lo, has_hi;
    MDB_val lo, hi;        /* stored forms, in buf */
    int after;             /* lo itself excluded (OX_ITER_AFTER) */
    int has_end;           /* the bound that ends the walk: hi ascending, lo descending */
    MDB_val *end;
    uint64_t now;          /* expiry is judged at this instant: the iterator's opening, or
                              its write transaction's beginning */
    const unsigned char *filter; /* a prefix longer than a long key keeps: each key is */
    size_t flen;                 /* checked against it (in buf) */
    char *buf;
    unsigned kind;         /* the kind of the record last returned */
    size_t lastlen;        /* the stored form of the key last returned */
    unsigned char last[OX_KEY_BUF];
};

static int prefix_bound(const ox_val *prefix, ox_val *hi, void **buf)
{
    hi->data = NULL;
    hi->len = 0;
    *buf = NULL;
    size_t n = prefix ? prefix->len : 0;
    const unsigned char *p = prefix ? prefix->data : NULL;
    while (n && p[n - 1] == 0xff) /* no key above "ab\xff\xff..." but above "ac" */
        n--;
    if (!n)
        return OX_OK;
    unsigned char *b = malloc(n);
    if (!b)
        return OX_ENOMEM;
    memcpy(b, p, n);
    b[n - 1]++;
    hi->data = b;
    hi->len = n;
    *buf = b;
    return OX_OK;
}

/* A bound in stored form into buf (OX_KEY_BUF bytes): a key, or a position as it is. */
static int bound_enc(ox_store *s, const ox_val *b, unsigned flags, unsigned char *buf,
                     MDB_val *out)
{
    size_t len = b ? b->len : 0;
    if (b && len && !b->data)
        return OX_EINVAL;
    if (!b) {
        *out = (MDB_val){0, buf};
        return OX_OK;
    }
    if (flags & OX_ITER_POS) {
        if (len < 1 || len > s->long_stored || ((const unsigned char *)b->data)[0] != OX_KEY_DIRECT)
            return OX_EINVAL;
        memcpy(buf, b->data, len);
        *out = (MDB_val){len, buf};
        return OX_OK;
    }
    int rc = ox__key_check(s, len);
    if (rc == OX_OK)
        *out = ox__key_enc(s, b->data, len, buf);
    return rc;
}

int ox__iter_open(const ox_rd *rd, int own_rd, ox_txn *wtxn, ox_table *t, const ox_val *lo,
                  const ox_val *hi, unsigned flags, ox_iter **out)
{
    *out = NULL;
    ox_store *s = rd->s;
    ox_iter *it = calloc(1, sizeof *it);
    if (!it || !(it->buf = malloc(2 * OX_KEY_BUF))) {
        free(it);
        return OX_ENOMEM;
    }
    /* Bounds in stored form. */
    int rc = bound_enc(s, lo, flags, (unsigned char *)it->buf, &it->lo);
    if (rc == OX_OK)
        rc = bound_enc(s, hi, flags, (unsigned char *)it->buf + OX_KEY_BUF, &it->hi);
    it->rd = *rd;
    if (rc == OX_OK)
        rc = ox__walk_open(&it->rd, t, 0, &it->w);
    if (rc) {
        free(it->buf);
        free(it);
        return rc;
    }
    it->s = s;
    it->t = t;
    it->own_rd = own_rd;
    it->wtxn = wtxn;
    it->flags = flags;
    it->now = wtxn ? ox__txn_now(wtxn) : ox__now(s);
    it->has_lo = lo != NULL;
    it->has_hi = hi != NULL;
    it->after = lo && (flags & OX_ITER_AFTER);
    it->asc = !(flags & OX_ITER_DESC);
    it->has_end = it->asc ? it->has_hi : it->has_lo;
    it->end = it->asc ? &it->hi : &it->lo;
    if (it->has_end) /* the walk stops there too, not past the deletions beyond it */
        ox__walk_end(it->w, it->end);
    if (!wtxn && lo && hi) /* a snapshot's range: the buffers without its keys stay out */
        ox__walk_within(it->w, &it->lo, &it->hi);
    if (wtxn) {
        ox_iter **head = ox__txn_iters(wtxn);
        it->wnext = *head;
        *head = it;
    }
    *out = it;
    return OX_OK;
}

void ox__iter_detach_all(ox_txn *wtxn)
{
    ox_iter **head = ox__txn_iters(wtxn);
    for (ox_iter *it = *head; it; it = it->wnext) {
        it->state = OX_IT_DETACHED;
        ox__walk_close(it->w);
        it->w = NULL;
        it->wtxn = NULL;
    }
    *head = NULL;
}

/* Places the walk before the first candidate in iteration order. */
static int iter_first(ox_iter *it)
{
    if (it->asc)
        return ox__walk_seek(it->w, it->has_lo ? &it->lo : NULL, 1);
    return ox__walk_seek(it->w, it->has_hi ? &it->hi : NULL, 0);
}

int ox_iter_next(ox_iter *it, ox_val *key, ox_val *val)
{
    if (it->state == OX_IT_DETACHED)
        return OX_EBUSY;
    if (it->state == OX_IT_DONE)
        return OX_NOTFOUND;
    if (it->state == OX_IT_SPENT)
        return OX_ELIMIT;
    int rc;
    if (it->state == OX_IT_FRESH) {
        it->state = OX_IT_RUNNING;
        if ((rc = iter_first(it)))
            return rc;
    }
    MDB_val k, v;
    ox__walk_limit(it->w, it->limit);
    for (int skip = 0;;) { /* skip: the key before was stepped over (counted) */
        if ((skip && (rc = ox__walk_skip(it->w))) || (rc = ox__walk_next(it->w, &k, &v))) {
            if (rc == OX_NOTFOUND || rc == OX_ELIMIT)
                it->state = rc == OX_NOTFOUND ? OX_IT_DONE : OX_IT_SPENT;
            return rc;
        }
        /* The first key of the walk may be a bound itself: hi is excluded, so is lo with
         * OX_ITER_AFTER (not counted: the limit is about the keys inside the range). */
        skip = 0;
        if ((it->asc && it->after && it->has_lo && ox__key_cmp(&k, &it->lo) == 0) ||
            (!it->asc && it->has_hi && ox__key_cmp(&k, &it->hi) >= 0))
            continue;
        skip = 1;
        if (it->has_end) {
            int c = ox__key_cmp(&k, it->end);
            if (it->asc ? c >= 0 : (c < 0 || (c == 0 && it->after))) {
                it->state = OX_IT_DONE;
                return OX_NOTFOUND;
            }
        }
        ox_val data, lkey;
        uint64_t exp;
        const unsigned char *kp = k.mv_data;
        if (k.mv_size < 1 || k.mv_size > OX_KEY_BUF || kp[0] != OX_KEY_DIRECT)
            return OX_ECORRUPT;
        if ((rc = ox__rec_decode(&v, &data, &exp, &lkey)))
            return rc;
        if (exp && it->now > exp)
            continue;
        it->kind = ox__rec_kind(&v);
        memcpy(it->last, kp, k.mv_size);
        it->lastlen = k.mv_size;
        if (lkey.data) {
            *key = lkey;
        } else {
            key->data = it->last + 1;
            key->len = k.mv_size - 1;
        }
        if (it->flen && (key->len < it->flen || memcmp(key->data, it->filter, it->flen)))
            continue;
        if (val)
            *val = (it->flags & OX_ITER_KEYS_ONLY) ? (ox_val){NULL, 0} : data;
        return OX_OK;
    }
}

void ox_iter_limit(ox_iter *it, size_t n)
{
    it->limit = n;
}

unsigned ox_iter_kind(const ox_iter *it)
{
    return it->kind;
}

int ox_iter_pos(const ox_iter *it, unsigned char *pos, size_t *len)
{
    if (it->state != OX_IT_RUNNING || !it->lastlen)
        return OX_NOTFOUND;
    memcpy(pos, it->last, it->lastlen);
    *len = it->lastlen;
    return OX_OK;
}

void ox_iter_close(ox_iter *it)
{
    if (!it)
        return;
    if (it->wtxn) {
        ox_iter **pp = ox__txn_iters(it->wtxn);
        while (*pp && *pp != it)
            pp = &(*pp)->wnext;
        if (*pp)
            *pp = it->wnext;
    }
    ox__walk_close(it->w);
    if (it->own_rd)
        ox__rd_end(&it->rd);
    free(it->buf);
    free(it);
}

int ox__iter_open_prefix(const ox_rd *rd, int own_rd, ox_txn *wtxn, ox_table *t,
                         const ox_val *prefix, unsigned flags, ox_iter **out)
{
    ox_store *s = rd->s;
    ox_val hi, lo = prefix ? *prefix : (ox_val){NULL, 0};
    void *buf;
    *out = NULL;
    if (lo.len && !lo.data)
        return OX_EINVAL;
    /* A long key's stored form keeps only its first long_prefix bytes: walk the keys
     * sharing those and check the rest of the prefix key by key. */
    size_t flen = lo.len > s->long_prefix ? lo.len : 0;
    if (flen)
        lo.len = s->long_prefix;
    int rc = prefix_bound(&lo, &hi, &buf);
    if (rc == OX_OK)
        rc = ox__iter_open(rd, own_rd, wtxn, t, prefix ? &lo : NULL, hi.data ? &hi : NULL,
                           flags & ~(unsigned)(OX_ITER_POS | OX_ITER_AFTER), out);
    free(buf);
    if (rc == OX_OK && flen) {
        ox_iter *it = *out;
        char *nb = realloc(it->buf, 2 * OX_KEY_BUF + flen);
        if (!nb) {
            ox_iter_close(it);
            *out = NULL;
            return OX_ENOMEM;
        }
        it->buf = nb;
        it->lo.mv_data = nb;
        it->hi.mv_data = nb + OX_KEY_BUF;
        memcpy(nb + 2 * OX_KEY_BUF, prefix->data, flen);
        it->filter = (unsigned char *)nb + 2 * OX_KEY_BUF;
        it->flen = flen;
    }
    return rc;
}

/* ---- iterators on their own snapshot -------------------------------------------------- */

int ox_range(ox_table *t, const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **out)
{
    ox_rd rd;
    *out = NULL;
    int rc = ox__rd_begin(t->s, &rd);
    if (rc)
        return rc;
    if ((rc = ox__iter_open(&rd, 1, NULL, t, lo, hi, flags, out)))
        ox__rd_end(&rd);
    return rc;
}

int ox_prefix(ox_table *t, const ox_val *prefix, unsigned flags, ox_iter **out)
{
    ox_rd rd;
    *out = NULL;
    int rc = ox__rd_begin(t->s, &rd);
    if (rc)
        return rc;
    if ((rc = ox__iter_open_prefix(&rd, 1, NULL, t, prefix, flags, out)))
        ox__rd_end(&rd);
    return rc;
}
