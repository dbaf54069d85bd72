/* keyorder.c — walks in plain byte order over the library's long keys (keyorder.h). */
#include "keyorder.h"

#include <stdlib.h>
#include <string.h>

/* A key and its value, copied. */
typedef struct kent {
    size_t klen, vlen;
    unsigned char b[]; /* the key, then the value */
} kent;

struct korder {
    ox_txn *txn;
    ox_snapshot *snap;
    ox_table *t;
    unsigned flags;
    size_t order;                 /* ox_key_order_prefix: longer keys may be in a group */
    size_t budget;                /* KORDER_BYTES */
    korder_pull *pull;
    void *src;
    unsigned char *lo, *hi;       /* the exact bounds (has_lo, has_hi) */
    size_t lolen, hilen;
    int has_lo, has_hi;
    unsigned char wlo[OX_POS_MAX], whi[OX_POS_MAX]; /* the caller's walk's (has_wlo...) */
    ox_val wlov, whiv;            /* over wlo and whi */
    int has_wlo, has_whi;
    unsigned wflags;
    unsigned char grp[OX_POS_MAX]; /* the group being served: its first `order` bytes */
    int in_group;
    kent **c;                     /* the group's keys taken, in the walk's order: c[at] next */
    size_t n, cap, at, bytes;
    int more;                     /* some were left out for the budget: a pass follows */
    kent *ret;                    /* the last key returned, if a copy (or NULL) */
    kent *pend;                   /* the first key after the group, pulled already */
    int pend_rc;                  /* or the pull's end there (0: none) */
};

static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int d = memcmp(a, b, alen < blen ? alen : blen);
    return d ? d : (alen > blen) - (alen < blen);
}

/* k against e in the walk's order (descending walks: reversed). */
static int walk_cmp(const korder *o, const ox_val *k, const kent *e)
{
    int d = bytes_cmp(k->data, k->len, e->b, e->klen);
    return o->flags & OX_ITER_DESC ? -d : d;
}

static int within(const korder *o, const ox_val *k)
{
    if (o->has_lo) {
        int d = bytes_cmp(k->data, k->len, o->lo, o->lolen);
        if (d < 0 || (d == 0 && (o->flags & OX_ITER_AFTER)))
            return 0;
    }
    return !o->has_hi || bytes_cmp(k->data, k->len, o->hi, o->hilen) < 0;
}

static kent *kent_new(const ox_val *k, const ox_val *v)
{
    kent *e = malloc(sizeof *e + k->len + v->len + 1);
    if (!e)
        return NULL;
    e->klen = k->len;
    e->vlen = v->len;
    memcpy(e->b, k->data, k->len);
    if (v->len)
        memcpy(e->b + k->len, v->data, v->len);
    return e;
}

static void give(const kent *e, ox_val *k, ox_val *v)
{
    *k = (ox_val){e->b, e->klen};
    *v = (ox_val){e->b + e->klen, e->vlen};
}

/* Takes a copy of group key k (value v) if it lies within the bounds and, in a pass, past
 * `last`; keeps the budget by leaving out the keys furthest in the walk's order. */
static int take(korder *o, const ox_val *k, const ox_val *v, const kent *last)
{
    if (!within(o, k) || (last && walk_cmp(o, k, last) <= 0))
        return OX_OK;
    size_t lo = 0, hi = o->n, size = sizeof(kent) + k->len + v->len;
    while (lo < hi) { /* the first one after k */
        size_t mid = lo + (hi - lo) / 2;
        if (walk_cmp(o, k, o->c[mid]) < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    /* What is held stays the first keys past `last` of those seen: past a key left out, the
       next pass takes k, whatever room there is now */
    if (o->more && lo == o->n)
        return OX_OK;
    while (o->n && o->bytes + size > o->budget) {
        o->more = 1;
        if (lo == o->n)
            return OX_OK; /* k itself is the furthest */
        kent *drop = o->c[--o->n];
        o->bytes -= sizeof(kent) + drop->klen + drop->vlen;
        free(drop);
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 8;
        kent **c = realloc(o->c, cap * sizeof *c);
        if (!c)
            return OX_ENOMEM;
        o->c = c;
        o->cap = cap;
    }
    kent *e = kent_new(k, v);
    if (!e)
        return OX_ENOMEM;
    memmove(o->c + lo + 1, o->c + lo, (o->n - lo) * sizeof *o->c);
    o->c[lo] = e;
    o->n++;
    o->bytes += size;
    return OX_OK;
}

/* The group's keys past the last one returned, read again from a walk of its prefix. */
static int pass(korder *o)
{
    const kent *last = o->ret; /* a group's keys are returned as copies */
    ox_val pre = {o->grp, o->order}, k, v;
    ox_iter *it = NULL;
    unsigned f = o->flags & (OX_ITER_DESC | OX_ITER_KEYS_ONLY);
    int rc = o->txn ? ox_txn_prefix(o->txn, o->t, &pre, f, &it)
                    : ox_snapshot_prefix(o->snap, o->t, &pre, f, &it);
    o->n = o->at = o->bytes = 0;
    o->more = 0;
    while (rc == OX_OK && (rc = ox_iter_next(it, &k, &v)) == OX_OK)
        if (k.len > o->order)
            rc = take(o, &k, &v, last);
    ox_iter_close(it);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* Ends the group being served (its last key returned stays o->ret). */
static void group_end(korder *o)
{
    for (size_t i = o->at; i < o->n; i++)
        free(o->c[i]);
    o->n = o->at = o->bytes = 0;
    o->more = o->in_group = 0;
}

/* Gathers the group key k starts, from the caller's walk: up to the first key out of it,
 * kept in o->pend (or the walk's end in o->pend_rc). */
static int gather(korder *o, const ox_val *k, const ox_val *v)
{
    memcpy(o->grp, k->data, o->order);
    o->in_group = 1;
    int rc = take(o, k, v, NULL);
    ox_val nk, nv;
    while (rc == OX_OK && (rc = o->pull(o->src, &nk, &nv)) == OX_OK) {
        if (nk.len <= o->order || memcmp(nk.data, o->grp, o->order)) {
            o->pend = kent_new(&nk, &nv);
            return o->pend ? OX_OK : OX_ENOMEM;
        }
        rc = take(o, &nk, &nv, NULL);
    }
    if (rc == OX_NOTFOUND)
        o->pend_rc = rc;
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int korder_next(korder *o, ox_val *k, ox_val *v)
{
    for (;;) {
        if (o->at < o->n) {
            free(o->ret);
            o->ret = o->c[o->at++];
            give(o->ret, k, v);
            return OX_OK;
        }
        int rc = OX_OK;
        if (o->in_group && o->more && (rc = pass(o)) == OX_OK && o->n)
            continue;
        group_end(o);
        if (rc != OX_OK)
            return rc;
        kent *e = o->pend;
        o->pend = NULL;
        if (e)
            give(e, k, v);
        else if (o->pend_rc)
            return o->pend_rc;
        else if ((rc = o->pull(o->src, k, v)) != OX_OK)
            return rc;
        if (k->len > o->order) { /* a group begins */
            rc = gather(o, k, v);
            free(e);
            if (rc != OX_OK)
                return rc;
            continue;
        }
        if (k->len == o->order && !within(o, k)) { /* a widened bound's own key */
            free(e);
            continue;
        }
        free(o->ret);
        o->ret = e; /* NULL: the pull's own */
        return OX_OK;
    }
}

int korder_last(const korder *o, ox_val *k, ox_val *v)
{
    if (!o->ret)
        return 0;
    give(o->ret, k, v);
    return 1;
}

static unsigned char *dup_bytes(const ox_val *b)
{
    unsigned char *p = malloc(b->len ? b->len : 1);
    if (p && b->len)
        memcpy(p, b->data, b->len);
    return p;
}

int korder_open(ox_txn *txn, ox_snapshot *snap, ox_table *t, const ox_val *lo,
                const ox_val *hi, unsigned flags, korder_pull *pull, void *src, korder **out)
{
    korder *o = malloc(sizeof *o); /* its buffers are written before they are read: a
                                      walk's cost is not zeroing them (one per range) */
    *out = NULL;
    if (!o)
        return OX_ENOMEM;
    o->txn = txn, o->snap = snap, o->t = t, o->flags = o->wflags = flags;
    o->order = ox_key_order_prefix(ox_table_store(t)), o->budget = KORDER_BYTES;
    o->pull = pull, o->src = src;
    o->lo = o->hi = NULL, o->has_lo = o->has_hi = o->has_wlo = o->has_whi = 0;
    o->in_group = o->more = 0, o->c = NULL, o->n = o->cap = o->at = o->bytes = 0;
    o->ret = o->pend = NULL, o->pend_rc = 0;
    if ((lo && !(o->lo = dup_bytes(lo))) || (hi && !(o->hi = dup_bytes(hi)))) {
        korder_close(o);
        return OX_ENOMEM;
    }
    if ((o->has_lo = lo != NULL)) { /* a long one: from its group's prefix, included */
        o->lolen = lo->len;
        o->wlov = (ox_val){o->wlo, lo->len > o->order ? o->order : lo->len};
        memcpy(o->wlo, lo->data, o->wlov.len);
        o->has_wlo = 1;
        if (lo->len > o->order)
            o->wflags &= ~(unsigned)OX_ITER_AFTER;
    }
    if ((o->has_hi = hi != NULL)) { /* a long one: to past its group (none if all ones) */
        o->hilen = hi->len;
        size_t n = hi->len > o->order ? o->order : hi->len;
        memcpy(o->whi, hi->data, n);
        if (hi->len > o->order) {
            while (n && o->whi[n - 1] == 0xff)
                n--;
            if (n)
                o->whi[n - 1]++;
        }
        o->whiv = (ox_val){o->whi, n};
        o->has_whi = n || hi->len <= o->order;
    }
    *out = o;
    return OX_OK;
}

void korder_bounds(const korder *o, const ox_val **lo, const ox_val **hi, unsigned *flags)
{
    *lo = o->has_wlo ? &o->wlov : NULL;
    *hi = o->has_whi ? &o->whiv : NULL;
    *flags = o->wflags;
}

void korder_txn(korder *o, ox_txn *txn)
{
    o->txn = txn;
}

void korder_budget(korder *o, size_t bytes)
{
    o->budget = bytes;
}

void korder_close(korder *o)
{
    if (!o)
        return;
    group_end(o);
    free(o->c);
    free(o->ret);
    free(o->pend);
    free(o->lo);
    free(o->hi);
    free(o);
}
