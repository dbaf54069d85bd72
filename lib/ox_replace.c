/* ox_replace.c — a store's whole content swapped for a backup's (ox_store_replace), and the
 * sequence number a backup holds (ox_backup_seq): how a replica starts from its master's
 * backup before it applies the master's commit records that follow it.
 *
 * The switch, done as a reopen after LMDB's fatal error is (ox_store.c's revive): with the
 * write lock held (no commit runs), the write buffers are checkpointed (the checkpointer
 * then has nothing left to write into the env that is about to close), the growth gate is
 * shut (this process's readers have left; new ones wait), the env is closed, the backup is
 * renamed over the data file and the env opened on it. Readers thus see the old content or
 * the new one, never a mix. Table handles stay: each gets the new file's databases and
 * counts, or none (an empty table).
 *
 * Crash safety: before the rename, the backup's "lsn" is set to the store's last sequence
 * number and synced. Every record of the log is at most that number, so a restart after
 * the rename replays none of the old content's records over the new one; the commits that
 * follow take the next numbers, and a restart replays those. The old file (before the
 * rename is durable) holds everything up to that number too, after the checkpoint.
 *
 * Another process that has the store open (read-only: the log's lock keeps writers out)
 * would go on reading the old file, and keep LMDB's lock file describing it, which the
 * reopen then trusts: refused with OX_EBUSY (checked once this process's env is closed,
 * since closing a descriptor of the lock file drops this process's own locks on it). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ox_internal.h"
#include "ox_log.h"

#define REPLACE_WAIT_S 10               /* longest wait for this process's readers */
#define REPLACE_MAP_SLACK ((size_t)64 << 20) /* map room past a file's size */

/* An errno met on a store file's path, as an ox_err. */
static int path_err(int e)
{
    switch (e) {
    case ENOENT: case ENOTDIR: case ENAMETOOLONG: case EISDIR: return OX_EINVAL;
    case ENOMEM: return OX_ENOMEM;
    case ENOSPC: case EDQUOT: return OX_EFULL;
    default: return OX_EIO;
    }
}

/* The regular, non-empty file at path: OX_OK with *st, OX_EINVAL (none, or no file), or
 * OX_ECORRUPT (empty: LMDB would make a new env of it). */
static int file_stat(const char *path, struct stat *st)
{
    if (stat(path, st))
        return path_err(errno);
    if (!S_ISREG(st->st_mode))
        return OX_EINVAL;
    return st->st_size ? OX_OK : OX_ECORRUPT;
}

/* A private env on the LMDB file at path, with no lock file (a file no process has open
 * as a store). flags: 0 or MDB_RDONLY. Errors: OX_ECORRUPT (not an LMDB file), as
 * ox__mdb_err otherwise. */
static int file_env(const char *path, unsigned flags, size_t map, MDB_env **out)
{
    MDB_env *env;
    *out = NULL;
    int rc = mdb_env_create(&env);
    if (rc)
        return ox__mdb_err(rc);
    mdb_env_set_maxdbs(env, 4);
    if (map)
        mdb_env_set_mapsize(env, map);
    rc = mdb_env_open(env, path, flags | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS, 0644);
    if (rc) {
        mdb_env_close(env);
        /* LMDB says MDB_INVALID, or EINVAL for a file too short to hold its meta pages. */
        return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == EINVAL ||
                       rc == MDB_CORRUPTED || rc == ENOENT
                   ? OX_ECORRUPT
                   : ox__mdb_err(rc);
    }
    *out = env;
    return OX_OK;
}

int ox_backup_seq(const char *path, uint64_t *seq)
{
    struct stat st;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    if (!path || !seq)
        return OX_EINVAL;
    *seq = 0;
    int rc = file_stat(path, &st);
    if (rc == OX_OK)
        rc = file_env(path, MDB_RDONLY, 0, &env);
    if (rc)
        return rc;
    int mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (mrc == MDB_SUCCESS) {
        MDB_val fk = {6, "format"}, lk = {3, "lsn"}, v;
        if ((mrc = mdb_dbi_open(txn, OX_META_DB, 0, &meta)) == MDB_SUCCESS &&
            (mrc = mdb_get(txn, meta, &fk, &v)) == MDB_SUCCESS) {
            /* No "lsn": no checkpoint yet, so no commit either. */
            mrc = mdb_get(txn, meta, &lk, &v);
            if (mrc == MDB_SUCCESS && v.mv_size == 8)
                *seq = ox__be64_get(v.mv_data);
            else if (mrc == MDB_SUCCESS)
                mrc = MDB_CORRUPTED;
            else if (mrc == MDB_NOTFOUND)
                mrc = MDB_SUCCESS;
        }
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return mrc == MDB_NOTFOUND ? OX_ECORRUPT : ox__mdb_err(mrc); /* no meta: no store */
}

/* ---- the replacement ------------------------------------------------------------------- */

/* Whether src can replace s's content: a regular file, not s's own, on the same file
 * system (rename), an oxistore file of s's format whose every table has both databases.
 * OX_EINVAL, OX_EUNSUPPORTED, OX_ENOMEM, OX_EIO. */
static int src_check(ox_store *s, const char *src)
{
    struct stat st, own;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, main_dbi;
    MDB_cursor *c = NULL;
    int rc = file_stat(src, &st);
    if (rc)
        return OX_EINVAL;
    if (stat(s->path, &own))
        return path_err(errno);
    if (st.st_dev != own.st_dev || st.st_ino == own.st_ino)
        return OX_EINVAL;
    if ((rc = file_env(src, MDB_RDONLY, 0, &env)))
        return rc == OX_ECORRUPT ? OX_EINVAL : rc;
    int mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (mrc) {
        mdb_env_close(env);
        return ox__mdb_err(mrc);
    }
    MDB_val k = {6, "format"}, v;
    if ((mrc = mdb_dbi_open(txn, OX_META_DB, 0, &meta)) || (mrc = mdb_get(txn, meta, &k, &v)))
        goto out;
    if (v.mv_size != 4) {
        rc = OX_EINVAL;
        goto out;
    }
    const unsigned char *f = v.mv_data;
    if (((unsigned)f[0] << 24 | (unsigned)f[1] << 16 | (unsigned)f[2] << 8 | f[3]) != s->format) {
        rc = OX_EUNSUPPORTED;
        goto out;
    }
    /* Every "t:<name>" with its "e:<name>": the reopen could not go back on a table it
     * finds half there. */
    if ((mrc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) ||
        (mrc = mdb_cursor_open(txn, main_dbi, &c)))
        goto out;
    k = (MDB_val){2, "t:"};
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == MDB_SUCCESS && k.mv_size > 2 && !memcmp(k.mv_data, "t:", 2)) {
        char eb[OX_KEY_BUF];
        MDB_val ek = {k.mv_size, eb}, ev;
        if (k.mv_size > sizeof eb) {
            rc = OX_EINVAL;
            goto out;
        }
        memcpy(eb, k.mv_data, k.mv_size);
        eb[0] = 'e';
        if ((mrc = mdb_get(txn, main_dbi, &ek, &ev)))
            goto out;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (mrc == MDB_NOTFOUND)
        mrc = MDB_SUCCESS;
out:
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    if (rc == OX_OK && mrc)
        rc = mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE || mrc == MDB_CORRUPTED
                 ? OX_EINVAL
                 : ox__mdb_err(mrc);
    return rc;
}

/* Records in src's meta database that it holds every commit up to lsn, durably. */
static int src_stamp(const char *src, uint64_t lsn)
{
    struct stat st;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    int rc = file_stat(src, &st);
    if (rc == OX_OK)
        rc = file_env(src, 0, (size_t)st.st_size + REPLACE_MAP_SLACK, &env);
    if (rc)
        return rc;
    unsigned char b[8];
    ox__be64_put(b, lsn);
    MDB_val k = {3, "lsn"}, v = {8, b};
    int mrc = mdb_txn_begin(env, NULL, 0, &txn);
    if (mrc == MDB_SUCCESS) {
        if ((mrc = mdb_dbi_open(txn, OX_META_DB, 0, &meta)) ||
            (mrc = mdb_put(txn, meta, &k, &v, 0)))
            mdb_txn_abort(txn);
        else
            mrc = mdb_txn_commit(txn); /* synced: the env has no MDB_NOSYNC */
    }
    mdb_env_close(env);
    rc = ox__mdb_err(mrc);
    return ox__space_err_at(src, rc == OX_IMAPFULL ? OX_EFULL : rc);
}

/* OX_EBUSY if another process has the store file at path open (LMDB holds a read lock on
 * byte 0 of "<path>-lock" while an env is open: see ox_excl.h). Only once this process's
 * env is closed: closing this descriptor drops every lock this process holds on the file
 * (the log's lock is an open-file-description lock on a byte far from this one, which
 * stays). A moment's answer, as ox_store_in_use's. */
static int others_open(const char *path)
{
    char lock[PATH_MAX + 8];
    if (snprintf(lock, sizeof lock, "%s-lock", path) >= (int)sizeof lock)
        return OX_EINVAL;
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? OX_OK : path_err(errno);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    int rc = fcntl(fd, F_GETLK, &fl) ? OX_EIO : fl.l_type == F_UNLCK ? OX_OK : OX_EBUSY;
    close(fd);
    return rc;
}

/* With the gate shut: the view becomes one empty buffer usable over any LMDB transaction
 * (lmdb_min 0: the new env's transaction ids have nothing to do with the old one's, and the
 * old env holds everything the checkpoint wrote). ENOMEM before anything changed. */
static int view_reset(ox_store *s)
{
    ox_mem *m;
    int rc = ox__mem_new(s->mem_budget, 2 * s->max_tables, &m);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->ckpt_mu);
    rc = ox__view_swap(s, &m, 1, 0);
    if (rc == OX_OK)
        s->mem_born_ms = 0;
    pthread_mutex_unlock(&s->ckpt_mu);
    ox__mem_unref(m);
    return rc;
}

/* Locks: backup_mu (a backup reads the env), wlock, tables_mu (a table opened meanwhile
 * would get the old env's databases; taken before the gate, as ox_table_open does), then
 * the gate. */
int ox_store_replace(ox_store *s, const char *src)
{
    if (!s || !src || !*src || !s->own_env || s->in_memory || s->read_only || !s->path ||
        !s->log)
        return OX_EINVAL;
    if (ox__thread_reads() > 0) /* the gate would wait for this thread itself */
        return OX_EBUSY;
    int rc = src_check(s, src);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->backup_mu);
    pthread_mutex_lock(&s->wlock);
    /* Nothing left for the checkpointer to write (it waits while s->frozen is NULL: only
     * the writer, us, freezes), and the old file up to date, should it be reopened. */
    if ((rc = ox__ckpt_all(s)))
        goto unlock;
    pthread_mutex_lock(&s->tables_mu);
    if ((rc = ox__gate_shut(s, REPLACE_WAIT_S * 1000))) {
        pthread_mutex_unlock(&s->tables_mu);
        goto unlock;
    }
    if ((rc = view_reset(s))) {
        ox__gate_open(s);
        pthread_mutex_unlock(&s->tables_mu);
        goto unlock;
    }
    unsigned flags = 0;
    mdb_env_get_flags(s->env, &flags);
    size_t map = atomic_load(&s->map_size);
    ox__pool_drop(s);
    mdb_env_close(s->env);
    s->env = NULL;
    rc = others_open(s->path);
    if (rc == OX_OK)
        rc = src_stamp(src, s->last_seq);
    if (rc == OX_OK && rename(src, s->path))
        rc = path_err(errno);
    int switched = rc == OX_OK;
    if (switched) {
        /* Done but not durable if the directory cannot be synced: said by the error. */
        rc = ox__sync_parent(s->path);
        struct stat st;
        if (stat(s->path, &st) == 0 && 2 * (size_t)st.st_size + REPLACE_MAP_SLACK > map)
            map = 2 * (size_t)st.st_size + REPLACE_MAP_SLACK;
    }
    /* The old file after a failure: its counts and databases are LMDB's all the same, since
     * the checkpoint left nothing in the buffers. */
    /* the new file, or the old one if the switch did not happen */
    ox__env_reopen(s, flags, map, ox__table_reload_all, "while replacing its content");
    ox__gate_open(s);
    pthread_mutex_unlock(&s->tables_mu);
    if (switched) {
        /* The new file holds "every commit" up to last_seq: the log before it is spent. */
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_lsn = s->last_seq;
        s->ckpt_release = 0;
        pthread_mutex_unlock(&s->ckpt_mu);
        ox__log_release(s->log, s->last_seq);
    }
unlock:
    pthread_mutex_unlock(&s->wlock);
    pthread_mutex_unlock(&s->backup_mu);
    return rc;
}
