/* ox_iter.c — streaming iterators over an LMDB cursor: [lo, hi) ranges and prefixes,
 * ascending or descending, skipping expired keys, and their positions (a key's stored
 * form). Nothing is materialised. */
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"

enum { OX_IT_FRESH, OX_IT_RUNNING, OX_IT_DONE, OX_IT_DETACHED };

struct ox_iter {
    ox_store *s;
    ox_table *t;
    MDB_txn *txn;
    MDB_cursor *cur;
    int own_read;          /* the iterator owns txn (ox_range/ox_prefix) */
    ox_txn *wtxn;          /* write transaction it belongs to, or NULL */
    ox_iter *wnext;        /* in wtxn's list */
    unsigned flags;
    int state;             /* OX_IT_* */
    MDB_cursor_op step;    /* MDB_NEXT or MDB_PREV */
    int has_lo, has_hi;
    MDB_val lo, hi;        /* stored forms, in buf */
    int after;             /* lo itself excluded (OX_ITER_AFTER) */
    int has_end;           /* the bound that ends the walk: hi ascending, lo descending */
    int fast;              /* no bound to test and values wanted: ox_iter_next's short path */
    MDB_val *end;
    MDB_val last;          /* stored form of the key last returned (in the map, or in
                              lastcopy for a write transaction's iterator) */
    uint64_t now;          /* expiry is judged at this instant: the iterator's opening, or
                              its write transaction's beginning */
    const unsigned char *filter; /* a prefix longer than a long key keeps: each key is */
    size_t flen;                 /* checked against it (in buf) */
    char *buf;
    /* A write transaction's writes move bytes within the pages they touch: its iterators
     * keep their own copy of the last position. */
    unsigned char lastcopy[OX_KEY_BUF];
};

/* Records the key just returned as the iterator's position. */
static inline void iter_mark(ox_iter *it, const MDB_val *k)
{
    it->last = *k;
    if (it->wtxn && k->mv_size <= OX_KEY_BUF) {
        memcpy(it->lastcopy, k->mv_data, k->mv_size);
        it->last.mv_data = it->lastcopy;
    }
}

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

int ox__iter_open(ox_store *s, MDB_txn *txn, int own_read, ox_txn *wtxn, ox_table *t,
                  const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **out)
{
    *out = NULL;
    ox_iter *it = calloc(1, sizeof *it);
    if (!it || !(it->buf = malloc(2 * OX_KEY_BUF))) {
        free(it);
        return OX_ENOMEM;
    }
    /* Bounds in stored form. */
    int rc = bound_enc(s, lo, flags, (unsigned char *)it->buf, &it->lo);
    if (rc == OX_OK)
        rc = bound_enc(s, hi, flags, (unsigned char *)it->buf + OX_KEY_BUF, &it->hi);
    if (rc == OX_OK)
        rc = ox__mdb_err(mdb_cursor_open(txn, t->data, &it->cur));
    if (rc) {
        free(it->buf);
        free(it);
        return rc;
    }
    it->s = s;
    it->t = t;
    it->txn = txn;
    it->own_read = own_read;
    it->wtxn = wtxn;
    it->flags = flags;
    it->now = wtxn ? ox__txn_now(wtxn) : ox__now(s);
    it->has_lo = lo != NULL;
    it->has_hi = hi != NULL;
    it->after = lo && (flags & OX_ITER_AFTER);
    if (flags & OX_ITER_DESC) {
        it->step = MDB_PREV;
        it->has_end = it->has_lo;
        it->end = &it->lo;
    } else {
        it->step = MDB_NEXT;
        it->has_end = it->has_hi;
        it->end = &it->hi;
    }
    it->fast = !it->has_end && !(flags & OX_ITER_KEYS_ONLY);
    if (wtxn) {
        ox_iter **head = ox__txn_iters(wtxn);
        it->wnext = *head;
        *head = it;
    }
    *out = it;
    return OX_OK;
}

void ox__iter_detach_all(ox_txn *wtxn, int txn_ends)
{
    ox_iter **head = ox__txn_iters(wtxn);
    for (ox_iter *it = *head; it; it = it->wnext) {
        it->state = OX_IT_DETACHED;
        it->cur = NULL;
        if (txn_ends)
            it->wtxn = NULL;
    }
    if (txn_ends)
        *head = NULL;
}

/* Places the cursor on the first candidate in iteration order. */
static int iter_first(ox_iter *it, MDB_val *k, MDB_val *v)
{
    if (!(it->flags & OX_ITER_DESC)) {
        if (!it->has_lo)
            return mdb_cursor_get(it->cur, k, v, MDB_FIRST);
        *k = it->lo;
        int rc = mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
        if (rc == 0 && it->after && k->mv_size == it->lo.mv_size &&
            !memcmp(k->mv_data, it->lo.mv_data, k->mv_size))
            rc = mdb_cursor_get(it->cur, k, v, MDB_NEXT);
        return rc;
    }
    if (!it->has_hi)
        return mdb_cursor_get(it->cur, k, v, MDB_LAST);
    *k = it->hi;
    int rc = mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) /* every key is below hi */
        return mdb_cursor_get(it->cur, k, v, MDB_LAST);
    return rc ? rc : mdb_cursor_get(it->cur, k, v, MDB_PREV); /* k >= hi: step back */
}

/* The general step: from a cursor result, skip expired keys, stop at the bound. Out of
 * line so that the common case below stays small. */
static __attribute__((noinline)) int iter_settle(ox_iter *it, int rc, MDB_val *k, MDB_val *v,
                                                 ox_val *key, ox_val *val)
{
    for (;; rc = mdb_cursor_get(it->cur, k, v, it->step)) {
        if (rc) {
            if (rc == MDB_NOTFOUND)
                it->state = OX_IT_DONE;
            return ox__mdb_err(rc);
        }
        if (it->has_end) {
            int c = mdb_cmp(it->txn, it->t->data, k, it->end);
            /* hi excluded, lo included unless OX_ITER_AFTER */
            if (it->step == MDB_NEXT ? c >= 0 : (c < 0 || (c == 0 && it->after))) {
                it->state = OX_IT_DONE;
                return OX_NOTFOUND;
            }
        }
        ox_val data, lkey;
        uint64_t exp;
        const unsigned char *kp = k->mv_data;
        if (k->mv_size < 1 || kp[0] != OX_KEY_DIRECT)
            return OX_ECORRUPT;
        if ((rc = ox__rec_decode(v, &data, &exp, &lkey)))
            return rc;
        if (exp && it->now > exp)
            continue;
        if (lkey.data) {
            *key = lkey;
        } else {
            key->data = kp + 1;
            key->len = k->mv_size - 1;
        }
        if (it->flen && (key->len < it->flen || memcmp(key->data, it->filter, it->flen)))
            continue;
        iter_mark(it, k);
        if (val)
            *val = (it->flags & OX_ITER_KEYS_ONLY) ? (ox_val){NULL, 0} : data;
        return OX_OK;
    }
}

static __attribute__((noinline)) int iter_start(ox_iter *it, ox_val *key, ox_val *val)
{
    MDB_val k, v;
    if (it->state == OX_IT_DETACHED)
        return OX_EBUSY;
    if (it->state == OX_IT_DONE)
        return OX_NOTFOUND;
    it->state = OX_IT_RUNNING;
    int rc = iter_first(it, &k, &v);
    return iter_settle(it, rc, &k, &v, key, val);
}

int ox_iter_next(ox_iter *it, ox_val *key, ox_val *val)
{
    MDB_val k, v;
    if (it->state != OX_IT_RUNNING)
        return iter_start(it, key, val);
    int rc = mdb_cursor_get(it->cur, &k, &v, it->step);
    /* Common case: a direct key, no bound to test, a record without TTL. */
    const unsigned char *p = v.mv_data, *kp = k.mv_data;
    if (rc == 0 && it->fast && v.mv_size >= 1 && p[0] == 0 && k.mv_size >= 1 &&
        kp[0] == OX_KEY_DIRECT) {
        iter_mark(it, &k);
        key->data = kp + 1;
        key->len = k.mv_size - 1;
        if (val) {
            val->data = p + 1;
            val->len = v.mv_size - 1;
        }
        return OX_OK;
    }
    return iter_settle(it, rc, &k, &v, key, val);
}

int ox_iter_pos(const ox_iter *it, unsigned char *pos, size_t *len)
{
    if (it->state != OX_IT_RUNNING || !it->last.mv_size)
        return OX_NOTFOUND;
    memcpy(pos, it->last.mv_data, it->last.mv_size);
    *len = it->last.mv_size;
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
    if (it->cur)
        mdb_cursor_close(it->cur);
    if (it->own_read)
        ox__read_end(it->s, it->txn);
    free(it->buf);
    free(it);
}

int ox__iter_open_prefix(ox_store *s, MDB_txn *txn, int own_read, ox_txn *wtxn, ox_table *t,
                         const ox_val *prefix, unsigned flags, ox_iter **out)
{
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
        rc = ox__iter_open(s, txn, own_read, wtxn, t, prefix ? &lo : NULL, hi.data ? &hi : NULL,
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
        it->fast = 0;
    }
    return rc;
}

/* ---- iterators on their own snapshot -------------------------------------------------- */

int ox_range(ox_table *t, const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **out)
{
    MDB_txn *txn;
    *out = NULL;
    int rc = ox__read_begin(t->s, &txn);
    if (rc)
        return rc;
    if ((rc = ox__iter_open(t->s, txn, 1, NULL, t, lo, hi, flags, out)))
        ox__read_end(t->s, txn);
    return rc;
}

int ox_prefix(ox_table *t, const ox_val *prefix, unsigned flags, ox_iter **out)
{
    MDB_txn *txn;
    *out = NULL;
    int rc = ox__read_begin(t->s, &txn);
    if (rc)
        return rc;
    if ((rc = ox__iter_open_prefix(t->s, txn, 1, NULL, t, prefix, flags, out)))
        ox__read_end(t->s, txn);
    return rc;
}
