/* ox_key.c — long keys: their stored form, and the migration of format-1 files whose
 * 510-byte keys would collide with it (the layout: ox_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"

MDB_val ox__key_enc_long(ox_store *s, const void *key, size_t klen, unsigned char *buf)
{
    buf[0] = OX_KEY_DIRECT;
    memcpy(buf + 1, key, s->long_prefix);
    ox__sha256(key, klen, buf + 1 + s->long_prefix);
    return (MDB_val){s->long_stored, buf};
}

/* One key to move: its old stored form and record, copied out of the map. */
typedef struct moved {
    struct moved *next;
    size_t klen, rlen;
    unsigned char *rec;
    unsigned char key[];
} moved;

/* Collects the keys of data table dbi whose stored form is s->long_stored bytes. */
static int collect(ox_store *s, MDB_txn *txn, MDB_dbi dbi, moved **list)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return ox__mdb_err(rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != s->long_stored)
            continue;
        moved *m = malloc(sizeof *m + k.mv_size + v.mv_size);
        if (!m) {
            rc = ENOMEM;
            break;
        }
        m->klen = k.mv_size;
        m->rlen = v.mv_size;
        m->rec = m->key + k.mv_size;
        memcpy(m->key, k.mv_data, k.mv_size);
        memcpy(m->rec, v.mv_data, v.mv_size);
        m->next = *list;
        *list = m;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? OX_OK : ox__mdb_err(rc);
}

/* Rewrites one collected key under its long form, expiry index entry included. */
static int move_one(ox_store *s, MDB_txn *txn, MDB_dbi data, MDB_dbi exp, const moved *m)
{
    MDB_val rec = {m->rlen, m->rec}, oldk = {m->klen, (void *)m->key};
    ox_val val, lkey = {m->key + 1, m->klen - 1};
    uint64_t at;
    unsigned char kb[OX_KEY_BUF], eb[8];
    int rc = ox__rec_decode(&rec, &val, &at, NULL);
    if (rc)
        return rc;
    MDB_val newk = ox__key_enc_long(s, lkey.data, lkey.len, kb), ek = {8, eb};
    if ((rc = ox__mdb_err(mdb_del(txn, data, &oldk, NULL))))
        return rc;
    if ((rc = ox__rec_write(txn, data, &newk, &lkey, val.data, val.len, at,
                            ox__rec_kind(&rec))) ||
        !at)
        return rc;
    ox__be64_put(eb, at);
    rc = mdb_del(txn, exp, &ek, &oldk);
    if (rc && rc != MDB_NOTFOUND)
        return ox__mdb_err(rc);
    return ox__mdb_err(mdb_put(txn, exp, &ek, &newk, 0));
}

int ox__key_migrate_v1(ox_store *s, MDB_txn *txn)
{
    MDB_dbi main;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = ox__mdb_err(mdb_dbi_open(txn, NULL, 0, &main));
    if (rc || (rc = ox__mdb_err(mdb_cursor_open(txn, main, &c))))
        return rc;
    /* Table names first (the walk of the main database must end before tables change). */
    moved *names = NULL;
    for (int r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == MDB_SUCCESS;
         r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const char *p = k.mv_data;
        if (k.mv_size < 3 || p[0] != 't' || p[1] != ':')
            continue;
        moved *m = malloc(sizeof *m + k.mv_size + 1);
        if (!m) {
            rc = OX_ENOMEM;
            break;
        }
        memcpy(m->key, p, k.mv_size);
        m->key[k.mv_size] = '\0';
        m->next = names;
        names = m;
    }
    mdb_cursor_close(c);
    for (moved *n = names; n && rc == OX_OK; n = n->next) {
        MDB_dbi data, exp;
        moved *list = NULL;
        n->key[0] = 'e';
        rc = ox__mdb_err(mdb_dbi_open(txn, (char *)n->key, MDB_DUPSORT | MDB_CREATE, &exp));
        n->key[0] = 't';
        if (rc == OX_OK)
            rc = ox__mdb_err(mdb_dbi_open(txn, (char *)n->key, 0, &data));
        if (rc == OX_OK)
            rc = collect(s, txn, data, &list);
        while (list) {
            moved *m = list;
            list = m->next;
            if (rc == OX_OK)
                rc = move_one(s, txn, data, exp, m);
            free(m);
        }
    }
    while (names) {
        moved *n = names;
        names = n->next;
        free(n);
    }
    return rc;
}
