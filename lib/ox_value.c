/* ox_value.c — the value record: header byte, optional expiry time, user bytes. */
#include "ox_internal.h"

void ox__be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t ox__be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int ox__val_live(ox_store *s, const MDB_val *rec, ox_val *val, uint64_t *exp)
{
    int rc = ox__val_decode(rec, val, exp);
    if (rc == OX_OK && *exp && ox__now(s) > *exp)
        return OX_NOTFOUND;
    return rc;
}

int ox__rec_get(ox_store *s, MDB_txn *txn, ox_table *t, const void *key, size_t klen,
                ox_val *val, uint64_t *exp)
{
    int rc = ox__key_check(s, klen);
    if (rc)
        return rc;
    unsigned char kb[OX_KEY_BUF];
    MDB_val k = ox__key_enc(key, klen, kb), rec;
    uint64_t e;
    rc = mdb_get(txn, t->data, &k, &rec);
    return rc ? ox__mdb_err(rc) : ox__val_live(s, &rec, val, exp ? exp : &e);
}

int ox__rec_ttl(ox_store *s, MDB_txn *txn, ox_table *t, const void *key, size_t klen,
                uint64_t *ms)
{
    ox_val v;
    uint64_t exp = 0;
    int rc = ox__rec_get(s, txn, t, key, klen, &v, &exp);
    if (rc)
        return rc;
    if (!exp)
        return OX_NOTTL;
    uint64_t now = ox__now(s);
    *ms = exp > now ? exp - now : 0;
    return OX_OK;
}
