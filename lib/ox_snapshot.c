/* ox_snapshot.c — MVCC read snapshots: a reader (ox_view.c) at one commit, over the write
 * buffers and a pooled LMDB read transaction. */
#include <stdlib.h>

#include "ox_internal.h"

struct ox_snapshot {
    ox_rd rd; /* rd.txn NULL after a failed renew: every read answers OX_EBUSY */
};

int ox_snapshot_begin(ox_store *s, ox_snapshot **out)
{
    *out = NULL;
    ox_snapshot *snap = malloc(sizeof *snap);
    if (!snap)
        return OX_ENOMEM;
    int rc = ox__rd_begin(s, &snap->rd);
    if (rc) {
        free(snap);
        return rc;
    }
    *out = snap;
    return OX_OK;
}

int ox_snapshot_renew(ox_snapshot *snap)
{
    /* Through the pool, out of the gate and back in: a pending map growth or reopen of the
     * env (which empties the pool) may run in between. */
    return ox__rd_renew(&snap->rd);
}

void ox_snapshot_end(ox_snapshot *snap)
{
    if (!snap)
        return;
    ox__rd_end(&snap->rd);
    free(snap);
}

int ox_snapshot_get(ox_snapshot *snap, ox_table *t, const void *key, size_t klen, ox_val *val)
{
    return snap->rd.txn ? ox__rec_get(&snap->rd, t, key, klen, val, NULL, NULL,
                                      ox__now(snap->rd.s))
                        : OX_EBUSY;
}

int ox_snapshot_read(ox_snapshot *snap, ox_table *t, const void *key, size_t klen, ox_val *val,
                     unsigned *kind, uint64_t *expire_at)
{
    return snap->rd.txn ? ox__rec_get(&snap->rd, t, key, klen, val, expire_at, kind,
                                      ox__now(snap->rd.s))
                        : OX_EBUSY;
}

int ox_snapshot_contains(ox_snapshot *snap, ox_table *t, const void *key, size_t klen)
{
    ox_val v;
    return ox_snapshot_get(snap, t, key, klen, &v);
}

int ox_snapshot_ttl(ox_snapshot *snap, ox_table *t, const void *key, size_t klen, uint64_t *ms)
{
    return snap->rd.txn ? ox__rec_ttl(&snap->rd, t, key, klen, ms, ox__now(snap->rd.s))
                        : OX_EBUSY;
}

int ox_snapshot_expire_time(ox_snapshot *snap, ox_table *t, const void *key, size_t klen,
                            uint64_t *at)
{
    ox_val v;
    int rc = snap->rd.txn ? ox__rec_get(&snap->rd, t, key, klen, &v, at, NULL,
                                        ox__now(snap->rd.s))
                          : OX_EBUSY;
    return rc == OX_OK && *at == 0 ? OX_NOTTL : rc;
}

int ox_snapshot_range(ox_snapshot *snap, ox_table *t, const ox_val *lo, const ox_val *hi,
                      unsigned flags, ox_iter **out)
{
    *out = NULL;
    return snap->rd.txn ? ox__iter_open(&snap->rd, 0, NULL, t, lo, hi, flags, out) : OX_EBUSY;
}

int ox_snapshot_prefix(ox_snapshot *snap, ox_table *t, const ox_val *prefix, unsigned flags,
                       ox_iter **out)
{
    *out = NULL;
    return snap->rd.txn ? ox__iter_open_prefix(&snap->rd, 0, NULL, t, prefix, flags, out)
                        : OX_EBUSY;
}
