/* verify.c — check's second pass: whether every collection's records agree with its key's
 * record (coll_fmt.h, zset_fmt.h), on one read snapshot of a read-only open. The first
 * pass (ox_check) looked at the pages; this one at what the server wrote in them. Members
 * of collections that are gone (reclaimed in the background) are not looked at. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_fmt.h"
#include "hash_fmt.h"
#include "tool.h"
#include "zset_fmt.h"

#define VERIFY_SHOWN 20 /* damaged collections named; the rest are counted */

typedef struct verify {
    const char *path;
    ox_snapshot *snap;
    uint64_t colls, members, damaged;
} verify;

/* The records of sub-space sub of collection id: how many into *n; for a list (sub
 * COLL_SUB_LIST), whether they are the positions head, head + 1... (else OX_ECORRUPT). */
static int count_sub(verify *v, ox_table *members, uint64_t id, int sub, int64_t head,
                     uint64_t *n, char *why, size_t cap)
{
    unsigned char p[COLL_KEY_PREFIX], want[8];
    ox_val prefix = {p, coll_member_key(p, id, sub, NULL, 0)}, k, val;
    ox_iter *it;
    int rc = ox_snapshot_prefix(v->snap, members, &prefix, OX_ITER_KEYS_ONLY, &it);
    *n = 0;
    while (rc == OX_OK && (rc = ox_iter_next(it, &k, &val)) == OX_OK) {
        if (sub == COLL_SUB_LIST) {
            coll_pos_put(want, head + (int64_t)*n);
            if (k.len != COLL_KEY_PREFIX + 8 || memcmp((const char *)k.data + COLL_KEY_PREFIX,
                                                       want, 8)) {
                snprintf(why, cap, "element %" PRIu64 " is not at position %" PRId64, *n,
                         head + (int64_t)*n);
                rc = OX_ECORRUPT;
            }
        }
        ++*n;
    }
    ox_iter_close(it);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* One collection: OX_OK, OX_ECORRUPT with why, or the store's error. */
static int verify_coll(verify *v, ox_table *members, int type, const ox_val *key,
                       const ox_val *rec, char *why, size_t cap)
{
    coll_meta m;
    ox_val link;
    uint64_t n = 0;
    unsigned char hk[COLL_KEY_PREFIX];
    if (!members || coll_meta_decode(rec->data, rec->len, &m) != OX_OK) {
        snprintf(why, cap, members ? "its record of %zu bytes is not a %s's" :
                 "its database has no member table", rec->len, coll_type_name(type));
        return OX_ECORRUPT;
    }
    int rc = ox_snapshot_get(v->snap, members, hk, coll_member_key(hk, m.id, COLL_SUB_HEAD,
                                                                    NULL, 0), &link);
    if (rc == OX_NOTFOUND || (rc == OX_OK && (link.len != key->len ||
                                              memcmp(link.data, key->data, key->len)))) {
        snprintf(why, cap, "its members (id %" PRIu64 ") do not link back to it", m.id);
        return OX_ECORRUPT;
    }
    if (rc == OX_OK && type == DB_ZSET) {
        zfmt_set z = {members, m.id, m.count, m.levels, ZFMT_FANOUT, &m.zb};
        rc = zfmt_verify(v->snap, &z, why, cap);
        n = m.count;
    } else if (rc == OX_OK) {
        rc = count_sub(v, members, m.id, type == DB_LIST ? COLL_SUB_LIST : COLL_SUB_FIELD,
                       m.head, &n, why, cap);
        if (rc == OX_OK && n != m.count) {
            snprintf(why, cap, "%" PRIu64 " members for a count of %" PRIu64, n, m.count);
            rc = OX_ECORRUPT;
        }
        hfmt_hash h = {members, m.id, n, m.order};
        if (rc == OX_OK && type == DB_HASH)
            rc = hfmt_verify(v->snap, &h, why, cap);
    }
    v->members += n;
    return rc;
}

/* key, escaped (\xHH for bytes outside printable ASCII), cut to fit buf. */
static const char *shown(const ox_val *key, char *buf, size_t cap)
{
    size_t o = 0, i = 0;
    const unsigned char *p = key->data;
    buf[0] = '\0';
    for (; i < key->len && o + 8 < cap; i++) {
        if (p[i] > 32 && p[i] < 127 && p[i] != '\\')
            buf[o++] = (char)p[i], buf[o] = '\0';
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", p[i]);
    }
    if (i < key->len)
        snprintf(buf + o, cap - o, "...");
    return buf;
}

static int verify_db(verify *v, ox_table *t, ox_table *members, int db)
{
    ox_iter *it;
    ox_val k, rec;
    int rc = ox_snapshot_range(v->snap, t, NULL, NULL, 0, &it);
    while (rc == OX_OK && (rc = ox_iter_next(it, &k, &rec)) == OX_OK) {
        int type = (int)ox_iter_kind(it);
        char why[512], kb[256];
        if (type == DB_STRING)
            continue;
        v->colls++;
        if (type != DB_HASH && type != DB_SET && type != DB_ZSET && type != DB_LIST) {
            snprintf(why, sizeof why, "its type %d is none of Redis's", type);
            rc = OX_ECORRUPT;
        } else {
            rc = verify_coll(v, members, type, &k, &rec, why, sizeof why);
        }
        if (rc == OX_ECORRUPT) {
            if (v->damaged++ < VERIFY_SHOWN)
                printf("%s: damaged: db %d, key %s: %s\n", v->path, db,
                       shown(&k, kb, sizeof kb), why);
            rc = OX_OK;
        }
        progress_set(v->colls);
    }
    ox_iter_close(it);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int tool_verify(const char *path)
{
    ox_store *s;
    tool_dbs dbs;
    ox_table **members = NULL;
    verify v = {.path = path};
    int rc = OX_OK, ret = TOOL_NOCHECK;
    if (tool_open(path, 1, &s))
        return TOOL_NOCHECK;
    if (tool_dbs_load(s, &dbs)) {
        ox_store_close(s);
        return TOOL_NOCHECK;
    }
    /* The member tables are opened first: a snapshot sees the tables opened before it. */
    if (!(members = calloc((size_t)dbs.n + 1, sizeof *members))) {
        tool_err("check %s: %s", path, ox_strerror(OX_ENOMEM));
        goto out;
    }
    for (int i = 0; i < dbs.n; i++)
        if (dbs.db[i] && tool_members_open(s, dbs.db[i], &members[i]))
            goto out;
    if ((rc = ox_snapshot_begin(s, &v.snap))) {
        tool_err("check %s: %s", path, ox_strerror(rc));
        goto out;
    }
    progress_begin("checking collections:", 0, "collections");
    for (int i = 0; rc == OX_OK && i < dbs.n; i++)
        if (dbs.db[i])
            rc = verify_db(&v, dbs.db[i], members[i], i);
    progress_end();
    ox_snapshot_end(v.snap);
    if (rc) {
        tool_err("check %s: %s", path, ox_strerror(rc));
        goto out;
    }
    if (v.damaged) {
        printf("%s: damaged: %" PRIu64 " of %" PRIu64 " collections\n", path, v.damaged,
               v.colls);
        ret = TOOL_FAIL;
    } else {
        printf("%s: collections: %" PRIu64 " (%" PRIu64 " members), every one consistent\n",
               path, v.colls, v.members);
        ret = TOOL_OK;
    }
out:
    free(members);
    tool_dbs_free(&dbs);
    if ((rc = ox_store_close(s)) && ret == TOOL_OK) {
        tool_err("check %s: %s", path, ox_strerror(rc));
        ret = TOOL_NOCHECK;
    }
    return ret;
}
