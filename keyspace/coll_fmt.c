/* coll_fmt.c — the stored format of collections (coll_fmt.h). */
#include "coll_fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

void coll_be64_put(unsigned char p[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

uint64_t coll_be64_get(const void *p)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
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

/* An old record's 8-byte score bound into b (0: none). */
static void bound_of_score(coll_bound *b, const unsigned char *p)
{
    b->len = coll_be64_get(p) ? 8 : 0;
    memcpy(b->b, p, 8);
}

/* A bound's score as an old record keeps it (0: none). */
static uint64_t score_of_bound(const coll_bound *b)
{
    return b->len >= 8 ? coll_be64_get(b->b) : 0;
}

/* A sorted set's levels byte, and back (coll_fmt.h). */
static unsigned char levels_byte(const coll_meta *m)
{
    return (unsigned char)(m->levels | (m->converted ? COLL_ZSET_CONVERTED : 0));
}

static void levels_in(coll_meta *m, unsigned char b)
{
    m->levels = b & ~COLL_ZSET_CONVERTED;
    m->converted = (b & COLL_ZSET_CONVERTED) != 0;
}

int coll_converted(int type, const coll_meta *m)
{
    if (type == DB_ZSET)
        return m->converted || m->count > COLL_ZSET_LISTPACK_ENTRIES;
    return type == DB_SET && (m->order != 0 || m->count > COLL_SET_INTSET_ENTRIES);
}

int coll_set_converts(uint64_t count, const void *m, size_t len)
{
    long long v;
    return count + 1 > COLL_SET_INTSET_ENTRIES || !num_str2ll(m, len, &v);
}

size_t coll_meta_encode(unsigned char meta[COLL_META_MAX], int type, const coll_meta *m)
{
    int zset = type == DB_ZSET;
    coll_be64_put(meta, m->id);
    coll_be64_put(meta + 8, m->count);
    if (zset && m->zb.tight && m->zb.lo.len >= 8 && m->zb.hi.len >= 8) { /* coll_fmt.h */
        unsigned char *p = meta + COLL_META_LEN;
        *p++ = levels_byte(m);
        for (const coll_bound *b = &m->zb.lo;; b = &m->zb.hi) {
            *p++ = b->len;
            memcpy(p, b->b, b->len);
            p += b->len;
            if (b == &m->zb.hi)
                return (size_t)(p - meta);
        }
    }
    uint64_t lo = zset ? score_of_bound(&m->zb.lo) : 0, hi = zset ? score_of_bound(&m->zb.hi) : 0;
    if ((type == DB_HASH && m->order) || (type == DB_SET && m->converted)) {
        coll_be64_put(meta + 16, type == DB_HASH ? m->order : 1);
        return COLL_LIST_META_LEN;
    }
    int lb = zset ? levels_byte(m) : 0;
    if (type != DB_LIST && !(zset && (lo || hi || lb)))
        return COLL_META_LEN;
    coll_be64_put(meta + 16, zset ? lo : (uint64_t)m->head);
    if (!zset || !(hi || lb))
        return COLL_LIST_META_LEN;
    coll_be64_put(meta + 24, hi);
    if (!lb)
        return COLL_ZSET_META_LEN;
    meta[32] = (unsigned char)lb;
    return COLL_ZSET_RANK_META_LEN;
}

/* A tight record's bounds (coll_fmt.h) into m: OX_OK or OX_ECORRUPT. */
static int tight_decode(const unsigned char *b, size_t len, coll_meta *m)
{
    const unsigned char *p = b + COLL_META_LEN, *end = b + len;
    levels_in(m, *p++);
    coll_bound *bs[2] = {&m->zb.lo, &m->zb.hi};
    for (int i = 0; i < 2; i++) {
        if (p >= end || *p < 8 || *p > COLL_BOUND_MAX || (size_t)(end - p - 1) < *p)
            return OX_ECORRUPT;
        bs[i]->len = *p++;
        memcpy(bs[i]->b, p, bs[i]->len);
        p += bs[i]->len;
    }
    m->zb.tight = 1;
    return p == end ? OX_OK : OX_ECORRUPT;
}

int coll_meta_decode(const void *p, size_t len, coll_meta *m)
{
    const unsigned char *b = p;
    memset(m, 0, sizeof *m);
    if (len < COLL_META_LEN)
        return OX_ECORRUPT;
    m->id = coll_be64_get(b);
    m->count = coll_be64_get(b + 8);
    if (len != COLL_META_LEN && len != COLL_LIST_META_LEN && len != COLL_ZSET_META_LEN &&
        len != COLL_ZSET_RANK_META_LEN)
        return len >= COLL_TIGHT_META_MIN ? tight_decode(b, len, m) : OX_ECORRUPT;
    if (len >= COLL_LIST_META_LEN) {
        m->head = (int64_t)coll_be64_get(b + 16);
        m->order = coll_be64_get(b + 16);
        bound_of_score(&m->zb.lo, b + 16);
    }
    if (len >= COLL_ZSET_META_LEN)
        bound_of_score(&m->zb.hi, b + 24);
    if (len >= COLL_ZSET_RANK_META_LEN)
        levels_in(m, b[32]);
    return OX_OK;
}

void coll_pos_put(unsigned char p[8], int64_t pos)
{
    coll_be64_put(p, (uint64_t)pos ^ (1ull << 63));
}

size_t coll_member_key(unsigned char *buf, uint64_t id, int sub, const void *name, size_t len)
{
    coll_be64_put(buf, id);
    buf[8] = (unsigned char)sub;
    if (len)
        memcpy(buf + COLL_KEY_PREFIX, name, len);
    return COLL_KEY_PREFIX + len;
}

int coll_mkey_make(coll_mkey *k, uint64_t id, int sub, const void *name, size_t len)
{
    k->p = COLL_KEY_PREFIX + len <= sizeof k->small ? k->small : malloc(COLL_KEY_PREFIX + len);
    if (!k->p)
        return OX_ENOMEM;
    k->len = coll_member_key(k->p, id, sub, name, len);
    return OX_OK;
}

void coll_mkey_done(coll_mkey *k)
{
    if (k->p != k->small)
        free(k->p);
}

void coll_score_put(unsigned char p[8], double score)
{
    uint64_t u;
    score += 0.0; /* -0 becomes 0: one place in the order for zero */
    memcpy(&u, &score, sizeof u);
    coll_be64_put(p, (u >> 63) ? ~u : u | (1ull << 63));
}

double coll_score_get(const unsigned char p[8])
{
    uint64_t u = coll_be64_get(p);
    u = (u >> 63) ? u & ~(1ull << 63) : ~u;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

uint64_t coll_key_id(const void *key, size_t len)
{
    return len >= 8 ? coll_be64_get(key) : 0;
}

int coll_new_id(ox_txn *txn, ox_table *map, uint64_t *id)
{
    ox_val v;
    uint64_t next = 1;
    int rc = ox_txn_get(txn, map, COLL_ID_KEY, strlen(COLL_ID_KEY), &v);
    if (rc == OX_OK && v.len != 8)
        return OX_ECORRUPT;
    if (rc == OX_OK)
        next = coll_be64_get(v.data);
    else if (rc != OX_NOTFOUND)
        return rc;
    unsigned char b[8];
    coll_be64_put(b, next + 1);
    rc = ox_txn_put(txn, map, COLL_ID_KEY, strlen(COLL_ID_KEY), b, sizeof b, 0, 0);
    if (rc == OX_OK)
        *id = next;
    return rc;
}

int coll_store(ox_txn *txn, ox_table *db, ox_table *members, const void *key, size_t klen,
               int type, const coll_meta *m, int is_new, uint64_t at, unsigned flags)
{
    unsigned char meta[COLL_META_MAX];
    size_t n = coll_meta_encode(meta, type, m);
    int rc = ox_txn_put(txn, db, key, klen, meta, n, at, flags | OX_PUT_KIND(type));
    if (rc == OX_OK && is_new) {
        unsigned char link[COLL_KEY_PREFIX];
        coll_member_key(link, m->id, COLL_SUB_HEAD, NULL, 0);
        rc = ox_txn_put(txn, members, link, sizeof link, key, klen, 0, 0);
    }
    return rc;
}
