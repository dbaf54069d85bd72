/* ox_iter.c — streaming iterators over an LMDB cursor: [lo, hi) ranges and prefixes,
 * ascending or descending, skipping expired keys. Nothing is materialised. */
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
    MDB_val lo, hi;        /* copies, in buf */
    int has_end;           /* the bound that ends the walk: hi ascending, lo descending */
    int fast;              /* no bound to test and values wanted: ox_iter_next's short path */
    MDB_val *end;
    char *buf;
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

int ox__iter_open(ox_store *s, MDB_txn *txn, int own_read, ox_txn *wtxn, ox_table *t,
                  const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **out)
{
    size_t lolen = lo ? lo->len : 0, hilen = hi ? hi->len : 0;
    *out = NULL;
    if ((lo && lolen && !lo->data) || (hi && hilen && !hi->data))
        return OX_EINVAL;
    if ((lo && ox__key_check(s, lolen)) || (hi && ox__key_check(s, hilen)))
        return OX_EKEYTOOLONG;
    ox_iter *it = calloc(1, sizeof *it);
    if (!it || !(it->buf = malloc(lolen + hilen + 2))) {
        free(it);
        return OX_ENOMEM;
    }
    int rc = ox__mdb_err(mdb_cursor_open(txn, t->data, &it->cur));
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
    /* Bounds in stored form: the kind byte, then the user's bytes. */
    it->has_lo = lo != NULL;
    it->has_hi = hi != NULL;
    it->lo = ox__key_enc(lo ? lo->data : NULL, lolen, (unsigned char *)it->buf);
    it->hi = ox__key_enc(hi ? hi->data : NULL, hilen, (unsigned char *)it->buf + lolen + 1);
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
        return mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
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
            if (it->step == MDB_NEXT ? c >= 0 : c < 0) { /* hi excluded, lo included */
                it->state = OX_IT_DONE;
                return OX_NOTFOUND;
            }
        }
        ox_val data;
        uint64_t exp;
        const unsigned char *kp = k->mv_data;
        if (k->mv_size < 1 || kp[0] != OX_KEY_DIRECT)
            return OX_ECORRUPT;
        if ((rc = ox__val_decode(v, &data, &exp)))
            return rc;
        if (exp && ox__now(it->s) > exp)
            continue;
        key->data = kp + 1;
        key->len = k->mv_size - 1;
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
    ox_val hi;
    void *buf;
    *out = NULL;
    int rc = prefix_bound(prefix, &hi, &buf);
    if (rc == OX_OK)
        rc = ox__iter_open(s, txn, own_read, wtxn, t, prefix, hi.data ? &hi : NULL, flags, out);
    free(buf);
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
