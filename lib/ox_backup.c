/* ox_backup.c — hot backup: a consistent copy of the store, as of one moment, written to
 * dest.tmp, synced, then renamed to dest.
 *
 * A writable store first checkpoints (everything committed goes to LMDB), then copies
 * LMDB with mdb_env_copyfd2 (page by page, or compacting). A read-only store cannot
 * checkpoint: what its replay of the log holds in memory is newer than LMDB, and LMDB
 * itself may move meanwhile (its writer, another process, checkpoints), so it writes the
 * copy key by key from one reader (ox_rd: its buffers over one LMDB snapshot), a new LMDB
 * file holding the same tables, records and expiry indexes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ox_internal.h"

/* Whether the view holds anything LMDB does not (a read-only store's replay). */
static int view_has_data(ox_store *s)
{
    ox_view *v = ox__view_get(s);
    int any = 0;
    for (int i = 0; i < v->nmem && !any; i++)
        any = ox__mem_max_seq(v->mem[i]) != 0;
    ox__view_put(v);
    return any;
}

/* Writes table t as rd sees it into env's write txn: its data in key order, and its
 * expiry index from the records. */
static int copy_table(const ox_rd *rd, ox_table *t, MDB_txn *txn)
{
    char dname[256], ename[256];
    MDB_dbi data, exp;
    snprintf(dname, sizeof dname, "t:%s", t->name);
    snprintf(ename, sizeof ename, "e:%s", t->name);
    int rc = mdb_dbi_open(txn, dname, MDB_CREATE, &data);
    if (rc == MDB_SUCCESS)
        rc = mdb_dbi_open(txn, ename, MDB_CREATE | MDB_DUPSORT, &exp);
    if (rc)
        return ox__mdb_err(rc);
    ox_walk *w;
    MDB_val k, rec;
    if ((rc = ox__walk_open(rd, t, 0, &w)))
        return rc;
    rc = ox__walk_seek(w, NULL, 1);
    while (rc == OX_OK && (rc = ox__walk_next(w, &k, &rec)) == OX_OK) {
        ox_val v;
        uint64_t at = 0;
        if ((rc = ox__val_decode(&rec, &v, &at)))
            break;
        if ((rc = ox__mdb_err(mdb_put(txn, data, &k, &rec, MDB_APPEND))))
            break;
        if (at) {
            unsigned char eb[8];
            ox__be64_put(eb, at);
            MDB_val ek = {8, eb};
            rc = ox__mdb_err(mdb_put(txn, exp, &ek, &k, 0));
        }
    }
    ox__walk_close(w);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* The logical copy into the new file tmp (created empty), with a map of `map` bytes. */
static int copy_logical(ox_store *s, const char *tmp, size_t map)
{
    MDB_env *env;
    MDB_txn *txn = NULL;
    ox_rd rd;
    int rc = ox__mdb_err(mdb_env_create(&env));
    if (rc)
        return rc;
    mdb_env_set_maxdbs(env, s->env_maxdbs);
    mdb_env_set_mapsize(env, map);
    if ((rc = ox__mdb_err(mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK, 0644))) ||
        (rc = ox__rd_begin(s, &rd))) {
        mdb_env_close(env);
        return rc;
    }
    rc = ox__mdb_err(mdb_txn_begin(env, NULL, 0, &txn));
    MDB_dbi meta;
    if (rc == OX_OK && (rc = ox__mdb_err(mdb_dbi_open(txn, "ox:meta", MDB_CREATE, &meta))) ==
                           OX_OK) {
        unsigned char f[4] = {0, 0, 0, OX_FORMAT_VERSION}, l[8];
        ox__be64_put(l, rd.seq);
        MDB_val fk = {6, "format"}, fv = {4, f}, lk = {3, "lsn"}, lv = {8, l};
        if ((rc = ox__mdb_err(mdb_put(txn, meta, &fk, &fv, 0))) == OX_OK)
            rc = ox__mdb_err(mdb_put(txn, meta, &lk, &lv, 0));
    }
    pthread_mutex_lock(&s->tables_mu);
    ox_table *tables = s->tables;
    pthread_mutex_unlock(&s->tables_mu);
    for (ox_table *t = tables; rc == OX_OK && t; t = t->next) /* the list only grows */
        rc = copy_table(&rd, t, txn);
    if (rc == OX_OK)
        rc = ox__mdb_err(mdb_txn_commit(txn));
    else if (txn)
        mdb_txn_abort(txn);
    ox__rd_end(&rd);
    mdb_env_close(env);
    return rc;
}

static int backup_locked(ox_store *s, const char *dest, int compact)
{
    char tmp[PATH_MAX];
    if (!dest || snprintf(tmp, sizeof tmp, "%s.tmp", dest) >= (int)sizeof tmp)
        return OX_EINVAL;
    int rc = ox__mkdirs(dest, NULL, NULL);
    if (rc)
        return rc;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return ox__mdb_err(errno);
    if (s->read_only && view_has_data(s)) {
        close(fd);
        /* Room for the data twice over, grown on demand up to a few times. */
        size_t map = 2 * (atomic_load(&s->map_size) + (64u << 20));
        for (int tries = 0; tries < 6; tries++, map *= 2) {
            if ((rc = copy_logical(s, tmp, map)) != OX_IMAPFULL)
                break;
            unlink(tmp);
        }
        fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && rc == OX_OK)
            rc = ox__mdb_err(errno);
    } else {
        /* The copy reads through its own LMDB read transaction: count it in the gate. */
        ox__gate_enter(s);
        rc = ox__mdb_err(mdb_env_copyfd2(s->env, fd, compact ? MDB_CP_COMPACT : 0));
        ox__gate_leave(s);
    }
    if (rc == OX_OK && fsync(fd))
        rc = ox__mdb_err(errno);
    if (fd >= 0 && close(fd) && rc == OX_OK)
        rc = ox__mdb_err(errno);
    if (rc == OX_OK && rename(tmp, dest))
        rc = ox__mdb_err(errno);
    if (rc == OX_OK)
        rc = ox__sync_parent(dest);
    if (rc != OX_OK)
        unlink(tmp);
    return rc == OX_IMAPFULL ? OX_EFULL : rc;
}

int ox_backup(ox_store *s, const char *dest, int compact)
{
    pthread_mutex_lock(&s->backup_mu);
    /* A writable store's LMDB holds everything once checkpointed. */
    int rc = s->read_only ? OX_OK : ox_store_checkpoint(s);
    if (rc == OX_OK)
        rc = backup_locked(s, dest, compact);
    pthread_mutex_unlock(&s->backup_mu);
    return rc;
}
