/* coll_fmt.c — the stored format of collections (coll_fmt.h). */
#include "coll_fmt.h"

#include <stdio.h>
#include <string.h>

static void be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

const char *coll_type_name(int type)
{
    switch (type) {
    case DB_STRING: return "string";
    case DB_LIST: return "list";
    case DB_SET: return "set";
    case DB_ZSET: return "zset";
    case DB_HASH: return "hash";
    default: return "none";
    }
}

int coll_members_name(const char *dbname, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "m%s", dbname);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

void coll_meta_encode(unsigned char meta[COLL_META_LEN], uint64_t id, uint64_t count)
{
    be64_put(meta, id);
    be64_put(meta + 8, count);
}

int coll_meta_decode(const void *p, size_t len, uint64_t *id, uint64_t *count)
{
    if (len != COLL_META_LEN)
        return OX_ECORRUPT;
    *id = be64_get(p);
    *count = be64_get((const unsigned char *)p + 8);
    return OX_OK;
}

size_t coll_member_key(unsigned char *buf, uint64_t id, int sub, const void *name, size_t len)
{
    be64_put(buf, id);
    buf[8] = (unsigned char)sub;
    if (len)
        memcpy(buf + COLL_KEY_PREFIX, name, len);
    return COLL_KEY_PREFIX + len;
}

uint64_t coll_key_id(const void *key, size_t len)
{
    return len >= 8 ? be64_get(key) : 0;
}

int coll_new_id(ox_txn *txn, ox_table *map, uint64_t *id)
{
    ox_val v;
    uint64_t next = 1;
    int rc = ox_txn_get(txn, map, COLL_ID_KEY, strlen(COLL_ID_KEY), &v);
    if (rc == OX_OK && v.len != 8)
        return OX_ECORRUPT;
    if (rc == OX_OK)
        next = be64_get(v.data);
    else if (rc != OX_NOTFOUND)
        return rc;
    unsigned char b[8];
    be64_put(b, next + 1);
    rc = ox_txn_put(txn, map, COLL_ID_KEY, strlen(COLL_ID_KEY), b, sizeof b, 0, 0);
    if (rc == OX_OK)
        *id = next;
    return rc;
}

int coll_store(ox_txn *txn, ox_table *db, ox_table *members, const void *key, size_t klen,
               int type, uint64_t id, uint64_t count, int is_new, uint64_t at, unsigned flags)
{
    unsigned char meta[COLL_META_LEN];
    coll_meta_encode(meta, id, count);
    int rc = ox_txn_put(txn, db, key, klen, meta, sizeof meta, at, flags | OX_PUT_KIND(type));
    if (rc == OX_OK && is_new) {
        unsigned char head[COLL_KEY_PREFIX];
        coll_member_key(head, id, COLL_SUB_HEAD, NULL, 0);
        rc = ox_txn_put(txn, members, head, sizeof head, key, klen, 0, 0);
    }
    return rc;
}
