/* coll_fmt.c — the stored format of collections (coll_fmt.h). */
#include "coll_fmt.h"

#include <stdio.h>
#include <stdlib.h>
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

size_t coll_meta_encode(unsigned char meta[COLL_ZSET_META_LEN], int type, uint64_t id,
                        uint64_t count, int64_t head, int64_t tail)
{
    be64_put(meta, id);
    be64_put(meta + 8, count);
    if (type != DB_LIST && !(type == DB_ZSET && (head || tail))) /* the bounds: coll_fmt.h */
        return COLL_META_LEN;
    be64_put(meta + 16, (uint64_t)head);
    if (type != DB_ZSET || !tail)
        return COLL_LIST_META_LEN;
    be64_put(meta + 24, (uint64_t)tail);
    return COLL_ZSET_META_LEN;
}

int coll_meta_decode(const void *p, size_t len, uint64_t *id, uint64_t *count, int64_t *head,
                     int64_t *tail)
{
    if (len != COLL_META_LEN && len != COLL_LIST_META_LEN && len != COLL_ZSET_META_LEN)
        return OX_ECORRUPT;
    *id = be64_get(p);
    *count = be64_get((const unsigned char *)p + 8);
    if (head)
        *head = len >= COLL_LIST_META_LEN ? (int64_t)be64_get((const unsigned char *)p + 16) : 0;
    if (tail)
        *tail = len >= COLL_ZSET_META_LEN ? (int64_t)be64_get((const unsigned char *)p + 24) : 0;
    return OX_OK;
}

void coll_pos_put(unsigned char p[8], int64_t pos)
{
    be64_put(p, (uint64_t)pos ^ (1ull << 63));
}

size_t coll_member_key(unsigned char *buf, uint64_t id, int sub, const void *name, size_t len)
{
    be64_put(buf, id);
    buf[8] = (unsigned char)sub;
    if (len)
        memcpy(buf + COLL_KEY_PREFIX, name, len);
    return COLL_KEY_PREFIX + len;
}

void coll_score_put(unsigned char p[8], double score)
{
    uint64_t u;
    score += 0.0; /* -0 becomes 0: one place in the order for zero */
    memcpy(&u, &score, sizeof u);
    be64_put(p, (u >> 63) ? ~u : u | (1ull << 63));
}

double coll_score_get(const unsigned char p[8])
{
    uint64_t u = be64_get(p);
    u = (u >> 63) ? u & ~(1ull << 63) : ~u;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

uint64_t coll_key_id(const void *key, size_t len)
{
    return len >= 8 ? be64_get(key) : 0;
}

/* Builds [id][sub][score?][m] into *k (the stack for short members). OX_OK or OX_ENOMEM;
 * free with key_done. */
typedef struct mkey {
    unsigned char small[256], *p;
    size_t len;
} mkey;

static int key_make(mkey *k, uint64_t id, int sub, const double *score, const void *m,
                    size_t len)
{
    size_t n = COLL_KEY_PREFIX + (score ? 8 : 0) + len;
    k->p = n <= sizeof k->small ? k->small : malloc(n);
    if (!k->p)
        return OX_ENOMEM;
    coll_member_key(k->p, id, sub, NULL, 0);
    if (score)
        coll_score_put(k->p + COLL_KEY_PREFIX, *score);
    if (len)
        memcpy(k->p + n - len, m, len);
    k->len = n;
    return OX_OK;
}

static void key_done(mkey *k)
{
    if (k->p != k->small)
        free(k->p);
}

int coll_zset_put(ox_txn *txn, ox_table *members, uint64_t id, const void *m, size_t len,
                  int had, double old, double score)
{
    /* Every key is made before the first write: m may point into a record of the map,
     * which a write can unmap (the transaction lets go of it for a growth). */
    mkey mk, ik, ok;
    unsigned char enc[8];
    int rc = key_make(&mk, id, COLL_SUB_FIELD, NULL, m, len);
    if (rc)
        return rc;
    if ((rc = key_make(&ik, id, COLL_SUB_SCORE, &score, m, len)) != OX_OK) {
        key_done(&mk);
        return rc;
    }
    if (had && (rc = key_make(&ok, id, COLL_SUB_SCORE, &old, m, len)) != OX_OK) {
        key_done(&ik);
        key_done(&mk);
        return rc;
    }
    /* The member's record first: the transaction still holds what the caller's read of it
     * found, and the put takes that instead of a second lookup. */
    coll_score_put(enc, score);
    rc = ox_txn_put(txn, members, mk.p, mk.len, enc, sizeof enc, 0, 0);
    if (rc == OX_OK && had) {
        rc = ox_txn_delete(txn, members, ok.p, ok.len);
        rc = rc == OX_NOTFOUND ? OX_OK : rc;
    }
    if (rc == OX_OK)
        rc = ox_txn_put(txn, members, ik.p, ik.len, "", 0, 0, 0);
    if (had)
        key_done(&ok);
    key_done(&ik);
    key_done(&mk);
    return rc;
}

int coll_zset_del(ox_txn *txn, ox_table *members, uint64_t id, const void *m, size_t len,
                  double score)
{
    mkey mk, ik;
    int rc = key_make(&mk, id, COLL_SUB_FIELD, NULL, m, len);
    if (rc)
        return rc;
    if ((rc = key_make(&ik, id, COLL_SUB_SCORE, &score, m, len)) == OX_OK) {
        rc = ox_txn_delete(txn, members, mk.p, mk.len);
        if (rc == OX_OK || rc == OX_NOTFOUND)
            rc = ox_txn_delete(txn, members, ik.p, ik.len);
        key_done(&ik);
    }
    key_done(&mk);
    return rc == OX_NOTFOUND ? OX_OK : rc;
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
               int type, uint64_t id, uint64_t count, int64_t head, int64_t tail, int is_new,
               uint64_t at, unsigned flags)
{
    unsigned char meta[COLL_ZSET_META_LEN];
    size_t n = coll_meta_encode(meta, type, id, count, head, tail);
    int rc = ox_txn_put(txn, db, key, klen, meta, n, at, flags | OX_PUT_KIND(type));
    if (rc == OX_OK && is_new) {
        unsigned char link[COLL_KEY_PREFIX];
        coll_member_key(link, id, COLL_SUB_HEAD, NULL, 0);
        rc = ox_txn_put(txn, members, link, sizeof link, key, klen, 0, 0);
    }
    return rc;
}
