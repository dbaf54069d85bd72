/* ox_ops.c — single operations and batches, each one transaction: reads on a pooled read
 * transaction, writes as a write transaction of one or n ops. */
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"

/* Commits when the op succeeded, rolls back otherwise; returns the op's result. */
static int ox_finish(ox_txn *x, int rc)
{
    if (rc == OX_OK)
        return ox_txn_commit(x);
    ox_txn_rollback(x);
    return rc;
}

int ox_get(ox_table *t, const void *key, size_t klen, void **val, size_t *vlen)
{
    ox_rd rd;
    ox_val v;
    *val = NULL;
    *vlen = 0;
    int rc = ox__rd_begin(t->s, &rd);
    if (rc)
        return rc;
    rc = ox__rec_get(&rd, t, key, klen, &v, NULL, NULL, ox__now(t->s));
    if (rc == OX_OK) {
        if ((*val = malloc(v.len ? v.len : 1))) {
            memcpy(*val, v.data, v.len);
            *vlen = v.len;
        } else {
            rc = OX_ENOMEM;
        }
    }
    ox__rd_end(&rd);
    return rc;
}

int ox_contains(ox_table *t, const void *key, size_t klen)
{
    ox_rd rd;
    ox_val v;
    int rc = ox__rd_begin(t->s, &rd);
    if (rc)
        return rc;
    rc = ox__rec_get(&rd, t, key, klen, &v, NULL, NULL, ox__now(t->s));
    ox__rd_end(&rd);
    return rc;
}

int ox_ttl(ox_table *t, const void *key, size_t klen, uint64_t *ms)
{
    ox_rd rd;
    int rc = ox__rd_begin(t->s, &rd);
    if (rc)
        return rc;
    rc = ox__rec_ttl(&rd, t, key, klen, ms, ox__now(t->s));
    ox__rd_end(&rd);
    return rc;
}

int ox_get_many(ox_table *t, size_t n, const ox_val *keys, void **vals, size_t *vlens)
{
    ox_rd rd;
    size_t i;
    int rc = ox__rd_begin(t->s, &rd);
    if (rc)
        return rc;
    for (i = 0; i < n; i++) {
        ox_val v;
        vals[i] = NULL;
        vlens[i] = 0;
        rc = ox__rec_get(&rd, t, keys[i].data, keys[i].len, &v, NULL, NULL, ox__now(t->s));
        if (rc == OX_NOTFOUND) {
            rc = OX_OK;
            continue;
        }
        if (rc)
            break;
        if (!(vals[i] = malloc(v.len ? v.len : 1))) {
            rc = OX_ENOMEM;
            break;
        }
        memcpy(vals[i], v.data, v.len);
        vlens[i] = v.len;
    }
    ox__rd_end(&rd);
    if (rc) {
        for (size_t j = 0; j < i; j++) {
            free(vals[j]);
            vals[j] = NULL;
        }
    }
    return rc;
}

int ox_put(ox_table *t, const void *key, size_t klen, const void *val, size_t vlen)
{
    ox_txn *x;
    int rc = ox_txn_begin(t->s, &x);
    return rc ? rc : ox_finish(x, ox_txn_put(x, t, key, klen, val, vlen, 0, 0));
}

int ox_put_with_ttl(ox_table *t, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms)
{
    if (ttl_ms == 0)
        return OX_EINVAL;
    ox_txn *x;
    int rc = ox_txn_begin(t->s, &x);
    if (rc)
        return rc;
    uint64_t at = ox__txn_now(x) + ttl_ms; /* the instant its reads judge expiry at */
    return ox_finish(x, ox_txn_put(x, t, key, klen, val, vlen, at, 0));
}

int ox_delete(ox_table *t, const void *key, size_t klen)
{
    ox_txn *x;
    int rc = ox_txn_begin(t->s, &x);
    return rc ? rc : ox_finish(x, ox_txn_delete(x, t, key, klen));
}

int ox_expire(ox_table *t, const void *key, size_t klen, uint64_t ttl_ms)
{
    if (ttl_ms == 0)
        return OX_EINVAL;
    ox_txn *x;
    int rc = ox_txn_begin(t->s, &x);
    return rc ? rc : ox_finish(x, ox_txn_expire_at(x, t, key, klen, ox__txn_now(x) + ttl_ms));
}

int ox_persist(ox_table *t, const void *key, size_t klen)
{
    ox_txn *x;
    int rc = ox_txn_begin(t->s, &x);
    return rc ? rc : ox_finish(x, ox_txn_persist(x, t, key, klen));
}

int ox_purge_expired(ox_table *t, size_t max, size_t *purged)
{
    ox_txn *x;
    size_t n = 0;
    int rc = ox_txn_begin(t->s, &x);
    if (rc == OX_OK)
        rc = ox_finish(x, ox_txn_purge_expired(x, t, max, &n));
    if (purged)
        *purged = rc ? 0 : n;
    return rc;
}

int ox_batch_write(ox_table *t, size_t n, const ox_val *keys, const ox_val *vals)
{
    ox_txn *x;
    int rc = ox_txn_begin(t->s, &x);
    for (size_t i = 0; rc == OX_OK && i < n; i++)
        rc = ox_txn_put(x, t, keys[i].data, keys[i].len, vals[i].data, vals[i].len, 0, 0);
    return x ? ox_finish(x, rc) : rc;
}

int ox_batch_delete(ox_table *t, size_t n, const ox_val *keys, size_t *deleted)
{
    ox_txn *x;
    size_t d = 0;
    int rc = ox_txn_begin(t->s, &x);
    for (size_t i = 0; rc == OX_OK && i < n; i++) {
        rc = ox_txn_delete(x, t, keys[i].data, keys[i].len);
        if (rc == OX_OK)
            d++;
        else if (rc == OX_NOTFOUND)
            rc = OX_OK;
    }
    if (x)
        rc = ox_finish(x, rc);
    if (deleted)
        *deleted = rc ? 0 : d;
    return rc;
}

int ox_compare_and_swap(ox_table *t, const void *key, size_t klen, const ox_val *expected,
                        const ox_val *desired)
{
    ox_txn *x;
    ox_val cur;
    int rc = ox_txn_begin(t->s, &x);
    if (rc)
        return rc;
    rc = ox_txn_get(x, t, key, klen, &cur);
    if (rc == OX_OK || rc == OX_NOTFOUND) {
        int present = rc == OX_OK;
        int match = expected ? present && cur.len == expected->len &&
                                   (!cur.len || memcmp(cur.data, expected->data, cur.len) == 0)
                             : !present;
        if (!match)
            rc = OX_ECONFLICT;
        else if (desired)
            rc = ox_txn_put(x, t, key, klen, desired->data, desired->len, 0, 0);
        else
            rc = present ? ox_txn_delete(x, t, key, klen) : OX_OK;
    }
    return ox_finish(x, rc);
}
