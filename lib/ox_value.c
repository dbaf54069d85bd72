/* ox_value.c — the value record: header byte, optional expiry time, optional long key,
 * user bytes (the layout: ox_internal.h). */
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

int ox__rec_decode(const MDB_val *rec, ox_val *val, uint64_t *exp, ox_val *lkey)
{
    const unsigned char *p = (const unsigned char *)rec->mv_data, *end = p + rec->mv_size;
    if (rec->mv_size < 1 || (p[0] & ~OX_VH_KNOWN))
        return OX_ECORRUPT;
    unsigned hdr = *p++;
    *exp = 0;
    if (lkey)
        *lkey = (ox_val){NULL, 0};
    if (hdr & OX_VH_TTL) {
        if (end - p < 8)
            return OX_ECORRUPT;
        *exp = ox__be64_get(p);
        p += 8;
    }
    if (hdr & OX_VH_LONGKEY) {
        if (end - p < 4)
            return OX_ECORRUPT;
        size_t klen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        p += 4;
        if ((size_t)(end - p) < klen)
            return OX_ECORRUPT;
        if (lkey)
            *lkey = (ox_val){p, klen};
        p += klen;
    }
    val->data = p;
    val->len = (size_t)(end - p);
    return OX_OK;
}

size_t ox__rec_size(const ox_val *lkey, size_t vlen, uint64_t exp)
{
    return 1 + (exp ? 8 : 0) + (lkey ? 4 + lkey->len : 0) + vlen;
}

int ox__rec_write(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const ox_val *lkey, const void *val,
                  size_t vlen, uint64_t exp, unsigned kind)
{
    MDB_val v = {ox__rec_size(lkey, vlen, exp), NULL};
    int rc = mdb_put(txn, dbi, k, &v, MDB_RESERVE);
    if (rc)
        return ox__mdb_err(rc);
    ox__rec_build(v.mv_data, lkey, val, vlen, exp, kind);
    return OX_OK;
}

void ox__rec_build(unsigned char *p, const ox_val *lkey, const void *val, size_t vlen,
                   uint64_t exp, unsigned kind)
{
    *p++ = (unsigned char)((exp ? OX_VH_TTL : 0) | (lkey ? OX_VH_LONGKEY : 0) |
                           ((kind & OX_KIND_MAX) << OX_VH_KIND_SHIFT));
    if (exp) {
        ox__be64_put(p, exp);
        p += 8;
    }
    if (lkey) {
        for (int i = 3; i >= 0; i--)
            *p++ = (unsigned char)(lkey->len >> (8 * i));
        memcpy(p, lkey->data, lkey->len);
        p += lkey->len;
    }
    if (vlen)
        memmove(p, val, vlen); /* val may be the old record's, in the same buffer */
}

int ox__rec_owns(ox_store *s, const MDB_val *rec, const void *key, size_t klen)
{
    ox_val v, k;
    uint64_t e;
    if (klen <= s->direct_max)
        return 1;
    return ox__rec_decode(rec, &v, &e, &k) == OX_OK && k.data && k.len == klen &&
           memcmp(k.data, key, klen) == 0;
}

int ox__val_live(const MDB_val *rec, ox_val *val, uint64_t *exp, uint64_t now)
{
    int rc = ox__val_decode(rec, val, exp);
    if (rc == OX_OK && *exp && now > *exp)
        return OX_NOTFOUND;
    return rc;
}

int ox__rec_get(const ox_rd *rd, ox_table *t, const void *key, size_t klen, ox_val *val,
                uint64_t *exp, unsigned *kind, uint64_t now)
{
    ox_store *s = rd->s;
    int rc = ox__key_check(s, klen);
    if (rc)
        return rc;
    unsigned char kb[OX_KEY_BUF];
    MDB_val k = ox__key_enc(s, key, klen, kb), rec;
    if ((rc = ox__rd_get(rd, t, &k, &rec)))
        return rc;
    return ox__rec_read(s, &rec, key, klen, val, exp, kind, now);
}

int ox__rec_read(ox_store *s, const MDB_val *rec, const void *key, size_t klen, ox_val *val,
                 uint64_t *exp, unsigned *kind, uint64_t now)
{
    uint64_t e;
    if (!ox__rec_owns(s, rec, key, klen))
        return OX_NOTFOUND;
    if (kind)
        *kind = ox__rec_kind(rec);
    return ox__val_live(rec, val, exp ? exp : &e, now);
}

int ox__rec_ttl(const ox_rd *rd, ox_table *t, const void *key, size_t klen, uint64_t *ms,
                uint64_t now)
{
    ox_val v;
    uint64_t exp = 0;
    int rc = ox__rec_get(rd, t, key, klen, &v, &exp, NULL, now);
    if (rc)
        return rc;
    if (!exp)
        return OX_NOTTL;
    *ms = exp > now ? exp - now : 0;
    return OX_OK;
}
