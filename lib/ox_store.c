/* ox_store.c — opening and closing a store, its read-transaction pool, the growth gate
 * that lets the map grow safely, the sync policies, backup and flush. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__ /* (stdlib.h defines it) */
#include <malloc.h>
#endif
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ox_excl.h"
#include "ox_internal.h"
#include "ox_log.h"

#define OX_DEFAULT_MAP (64u << 20)
#define OX_DEFAULT_TABLES 64
#define OX_DEFAULT_READERS 512
#define OX_GROW_STEP_MAX ((size_t)1 << 30)
#define OX_POOL_MAX 256
#define OX_FULL_LEFT (1u << 20) /* free bytes under which an I/O error means a full disk */
#define OX_GROW_WAIT_S 10 /* longest wait for readers to drain before a map growth */
#define OX_REVIVE_WAIT_S 1 /* ... before a reopen of a failed env (ox__revive_if_failed),
                              retried at most once per this many seconds */
#define OX_RELEASE_WAIT_MS 100 /* ... before a reopen that frees LMDB's page copies (new
                                  readers wait meanwhile), */
#define OX_RELEASE_RETRY_S 10  /* tried again after this many seconds if readers stayed */

/* Read transactions this thread holds, over every store: a grower that holds one itself
 * cannot wait for the readers to drain (it would wait for itself). */
static _Thread_local int ox_tls_reads;

void ox_options_init(ox_options *o)
{
    memset(o, 0, sizeof *o);
}

int ox__mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return OX_OK;
    case MDB_NOTFOUND: return OX_NOTFOUND;
    case MDB_MAP_FULL: return OX_IMAPFULL;
    case MDB_KEYEXIST: return OX_ECONFLICT;
    case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_INVALID: return OX_ECORRUPT;
    case MDB_VERSION_MISMATCH: case MDB_INCOMPATIBLE: return OX_EUNSUPPORTED;
    case MDB_DBS_FULL: case MDB_READERS_FULL: case MDB_TXN_FULL: case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL: case ENOSPC: case EDQUOT: return OX_EFULL;
    case MDB_BAD_VALSIZE: return OX_EKEYTOOLONG;
    case ENOMEM: return OX_ENOMEM;
    case EINVAL: return OX_EINVAL;
    case EACCES: case EROFS: case EPERM: return OX_EREADONLY;
    case EAGAIN: case EBUSY: return OX_EBUSY;
    case ENOENT: return OX_NOTFOUND;
    default: return OX_EIO;
    }
}

static uint64_t ox_realtime_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ox__now(ox_store *s)
{
    return s->clock(s->clock_ctx);
}

int ox__key_check(ox_store *s, size_t klen)
{
    return klen > s->key_max ? OX_EKEYTOOLONG : OX_OK;
}

static int ox_parent_dir(const char *path, char *dir, size_t cap);

/* OX_EFULL for OX_EIO when the file system statvfs reports has under OX_FULL_LEFT free. */
static int space_err(int rc, const struct statvfs *v)
{
    uint64_t left = (uint64_t)(geteuid() == 0 ? v->f_bfree : v->f_bavail) * v->f_frsize;
    return left < OX_FULL_LEFT ? OX_EFULL : rc;
}

int ox__space_err(ox_store *s, int rc)
{
    struct statvfs v;
    int fd;
    if (rc != OX_EIO || s->in_memory || mdb_env_get_fd(s->env, &fd) || fstatvfs(fd, &v))
        return rc;
    return space_err(rc, &v);
}

int ox__space_err_at(const char *path, int rc)
{
    char dir[PATH_MAX];
    struct statvfs v;
    if (rc != OX_EIO || ox_parent_dir(path, dir, sizeof dir) || statvfs(dir, &v))
        return rc;
    return space_err(rc, &v);
}

/* ---- growth gate -------------------------------------------------------------------- */

void ox__gate_enter(ox_store *s)
{
    for (;;) {
        atomic_fetch_add(&s->readers, 1);
        /* A thread that reads already is waited for by the growth: waiting for the growth
         * in turn would wait for itself. It goes in. */
        if (!atomic_load(&s->growing) || ox_tls_reads > 0)
            break;
        /* A growth is waiting for readers to drain: step back out and wait for it. */
        pthread_mutex_lock(&s->gate_mu);
        if (atomic_fetch_sub(&s->readers, 1) == 1)
            pthread_cond_broadcast(&s->gate_cv);
        while (atomic_load(&s->growing))
            pthread_cond_wait(&s->gate_cv, &s->gate_mu);
        pthread_mutex_unlock(&s->gate_mu);
    }
    ox_tls_reads++;
}

void ox__gate_leave(ox_store *s)
{
    if (ox_tls_reads > 0)
        ox_tls_reads--;
    if (atomic_fetch_sub(&s->readers, 1) == 1 && atomic_load(&s->growing)) {
        pthread_mutex_lock(&s->gate_mu);
        pthread_cond_broadcast(&s->gate_cv);
        pthread_mutex_unlock(&s->gate_mu);
    }
}

/* Sets a created, unopened env's map size and s's limits (ox_env_open, and a reopen). */
void ox__env_limits(ox_store *s, size_t map_size)
{
    mdb_env_set_mapsize(s->env, map_size);
    mdb_env_set_maxdbs(s->env, s->env_maxdbs);
    mdb_env_set_maxreaders(s->env, s->env_maxreaders);
}

/* Records the env's map size for ox_store_map_size, which must not touch an env that a
 * reopen may replace (after the open, a growth, a reopen). */
void ox__note_map_size(ox_store *s)
{
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == MDB_SUCCESS)
        atomic_store(&s->map_size, info.me_mapsize);
}

/* Closes the gate: new readers wait, and this returns once the last one left (with
 * gate_mu held), or OX_EBUSY (the gate open again) if some stayed wait_ms ms. */
int ox__gate_shut(ox_store *s, int wait_ms)
{
    if (ox_tls_reads > 0)
        return OX_EBUSY;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    /* The mark that stops new readers is set holding gate_mu, and again after each wait:
     * a second closer waits beside the first (the wait lets gate_mu go), and the first
     * one's opening clears it. Set once, before the lock, it let readers in while the second
     * held the gate (a writer's map growth beside the checkpointer's reopen), or starved
     * the second of its wait. */
    pthread_mutex_lock(&s->gate_mu);
    for (;;) {
        atomic_store(&s->growing, 1);
        if (atomic_load(&s->readers) == 0)
            break;
        /* A reader that waits for this writer (say, a thread holding a snapshot while it
         * asks for the write lock) would never leave: give up rather than deadlock. */
        if (pthread_cond_timedwait(&s->gate_cv, &s->gate_mu, &deadline) == ETIMEDOUT &&
            atomic_load(&s->readers) > 0) {
            atomic_store(&s->growing, 0);
            pthread_cond_broadcast(&s->gate_cv);
            pthread_mutex_unlock(&s->gate_mu);
            return OX_EBUSY;
        }
    }
    return OX_OK;
}

void ox__gate_open(ox_store *s)
{
    atomic_store(&s->growing, 0);
    pthread_cond_broadcast(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
}

void ox__pool_drop(ox_store *s)
{
    pthread_mutex_lock(&s->pool_mu);
    while (s->npool)
        mdb_txn_abort(s->pool[--s->npool]);
    pthread_mutex_unlock(&s->pool_mu);
}

int ox__grow(ox_store *s, int adopt)
{
    int rc = ox__gate_shut(s, OX_GROW_WAIT_S * 1000);
    if (rc)
        return rc;
    size_t size = 0;
    if (!adopt) {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        size_t cur = info.me_mapsize;
        size = cur + (cur < OX_GROW_STEP_MAX ? cur : OX_GROW_STEP_MAX);
    }
    rc = mdb_env_set_mapsize(s->env, size);
    ox__note_map_size(s);
    ox__gate_open(s);
    return ox__mdb_err(rc);
}

/* ---- revival after LMDB's fatal error ---------------------------------------------- */

/* A commit that fails while LMDB writes its meta page (a full or failing disk) leaves the
 * env marked unusable: every later transaction, read or write, fails with MDB_PANIC until
 * the process reopens it. The file is whole (the newest meta page on disk is the last
 * commit that returned), so reopening is the remedy, as a restart would be. Done as a map
 * growth is: behind the gate, with no read transaction of this process open; the old
 * env's transactions (the pool) go first. A store that cannot be reopened (wrapped, in
 * memory) stays failed. Only the checkpointer commits, so only it calls this. */
static int reopen(ox_store *s, const char *why, int wait_ms, long long *busy_s, int retry_s)
{
    if (!s->own_env || s->in_memory || !s->path || s->read_only)
        return OX_EIO;
    /* A reader that stays (a BGSAVE's copy) would make every attempt shut the gate on all
     * readers for the whole wait: a short wait, and at most one attempt per retry_s. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (*busy_s && now.tv_sec - *busy_s < retry_s)
        return OX_EBUSY;
    /* tables_mu before the gate, as ox_table_open (which reads, entering the gate, holding
     * it) and ox_store_replace take them: it also keeps this reopen and a replace's apart. */
    pthread_mutex_lock(&s->tables_mu);
    int rc = ox__gate_shut(s, wait_ms);
    *busy_s = rc == OX_EBUSY ? (long long)now.tv_sec : 0;
    if (rc) {
        pthread_mutex_unlock(&s->tables_mu);
        return rc;
    }
    ox__pool_drop(s);
    unsigned flags = 0;
    mdb_env_get_flags(s->env, &flags);
    size_t map = atomic_load(&s->map_size);
    mdb_env_close(s->env);
    ox__env_reopen(s, flags, map, ox__table_reopen_all, why);
    ox__gate_open(s);
    pthread_mutex_unlock(&s->tables_mu);
    return OX_OK;
}

static int revive(ox_store *s)
{
    return reopen(s, "after a failed commit", OX_REVIVE_WAIT_S * 1000, &s->revive_busy_s,
                  OX_REVIVE_WAIT_S);
}

void ox__heap_trim(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

int ox__env_release(ox_store *s)
{
    int rc = reopen(s, "to free its page copies", OX_RELEASE_WAIT_MS, &s->release_busy_s,
                    OX_RELEASE_RETRY_S);
    /* Freed, the copies are 4 KiB chunks all over the checkpointing thread's heap, which
     * glibc gives back to the system only at its top: this returns the free pages within. */
    if (rc == OX_OK)
        ox__heap_trim();
    return rc;
}

void ox__env_reopen(ox_store *s, unsigned flags, size_t map,
                    int (*tables)(ox_store *, MDB_txn *), const char *why)
{
    MDB_txn *txn;
    int rc = OX_OK, mrc = mdb_env_create(&s->env);
    if (mrc == MDB_SUCCESS) {
        ox__env_limits(s, map);
        mrc = mdb_env_open(s->env, s->path, flags, 0644);
    }
    if (mrc == MDB_SUCCESS && (mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) == 0) {
        if ((mrc = mdb_dbi_open(txn, OX_META_DB, 0, &s->meta)) == 0 &&
            (rc = tables(s, txn)) == OX_OK)
            mrc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (mrc != MDB_SUCCESS || rc != OX_OK) {
        /* Nothing is left to run transactions on: the store cannot go on. */
        fprintf(stderr, "oxistore: cannot reopen %s %s: %s\n", s->path, why,
                mrc ? mdb_strerror(mrc) : ox_strerror(rc));
        abort();
    }
    ox__note_map_size(s);
    atomic_fetch_add(&s->env_gen, 1);
}

int ox__revive_if_failed(ox_store *s, int *rc)
{
    MDB_txn *probe;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &probe);
    if (mrc == MDB_SUCCESS)
        mdb_txn_abort(probe);
    if (mrc != MDB_PANIC)
        return 0;
    *rc = revive(s);
    return 1;
}

uint64_t ox__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ox__thread_reads(void)
{
    return ox_tls_reads;
}

void ox__grow_if_needed(ox_store *s)
{
    MDB_envinfo info;
    MDB_stat st;
    if (s->read_only || mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
        return;
    /* Past three quarters used, grow before the transaction rather than replaying it. */
    if ((size_t)(info.me_last_pgno + 1) * st.ms_psize > info.me_mapsize / 4 * 3 &&
        ox_tls_reads == 0)
        ox__grow(s, 0);
}

/* ---- read transactions ------------------------------------------------------------- */

/* Outside the gate: waits until the env of generation gen has been reopened, or for as
 * long as a reopen may take (its wait for readers, then the reopen). A commit that fails
 * writing its meta page fails the env for every reader at once, and the checkpointer
 * reopens it (revive) as soon as that commit returns: a reader coming in between would
 * answer an I/O error, a write refused with MISCONF while the write buffer has room, a
 * read refused although only the data file's writes fail. A thread that still holds a
 * reader would hold the reopen up: it does not wait. */
static void revive_wait(ox_store *s, unsigned gen)
{
    if (ox_tls_reads > 0)
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += OX_REVIVE_WAIT_S + 1;
    pthread_mutex_lock(&s->gate_mu);
    while (atomic_load(&s->env_gen) == gen &&
           pthread_cond_timedwait(&s->gate_cv, &s->gate_mu, &deadline) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&s->gate_mu);
}

int ox__read_begin(ox_store *s, MDB_txn **out)
{
    MDB_txn *txn = NULL;
    int rc, waited = 0;
    ox__gate_enter(s);
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool)
        txn = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    for (int tries = 0;; tries++) {
        unsigned gen = atomic_load(&s->env_gen); /* inside the gate: s->env's */
        rc = txn ? mdb_txn_renew(txn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc == MDB_PANIC && !waited) {
            if (txn)
                mdb_txn_abort(txn);
            txn = NULL;
            ox__gate_leave(s);
            revive_wait(s, gen);
            ox__gate_enter(s);
            waited = 1;
            continue;
        }
        if (rc != MDB_MAP_RESIZED || tries > 2)
            break;
        /* Another process grew the map beyond ours: adopt its size, then retry. */
        if (txn) {
            mdb_txn_abort(txn);
            txn = NULL;
        }
        ox__gate_leave(s);
        pthread_mutex_lock(&s->wlock);
        ox__grow(s, 1);
        pthread_mutex_unlock(&s->wlock);
        ox__gate_enter(s);
    }
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        ox__gate_leave(s);
        return ox__mdb_err(rc);
    }
    *out = txn;
    return OX_OK;
}

void ox__read_end(ox_store *s, MDB_txn *txn)
{
    if (!txn)
        return;
    mdb_txn_reset(txn);
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool < s->cappool) {
        s->pool[s->npool++] = txn;
        txn = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (txn)
        mdb_txn_abort(txn);
    ox__gate_leave(s);
}

/* ---- everysec flusher --------------------------------------------------------------- */

static void *ox_flusher_main(void *arg)
{
    ox_store *s = arg;
    pthread_setname_np(pthread_self(), "ox-flusher");
    pthread_mutex_lock(&s->fl_mu);
    while (!s->flusher_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->fl_cv, &s->fl_mu, &ts);
        if (s->flusher_stop)
            break;
        pthread_mutex_unlock(&s->fl_mu);
        if (s->log) {
            ox__log_sync(s->log); /* a failure loses at most this second, as Redis's */
        } else {
            ox__gate_enter(s);
            mdb_env_sync(s->env, 1);
            ox__gate_leave(s);
        }
        pthread_mutex_lock(&s->fl_mu);
    }
    pthread_mutex_unlock(&s->fl_mu);
    return NULL;
}

static int ox_flusher_start(ox_store *s)
{
    s->flusher_stop = 0;
    if (pthread_create(&s->flusher, NULL, ox_flusher_main, s))
        return OX_ENOMEM;
    s->flusher_on = 1;
    return OX_OK;
}

static void ox_flusher_stop(ox_store *s)
{
    if (!s->flusher_on)
        return;
    pthread_mutex_lock(&s->fl_mu);
    s->flusher_stop = 1;
    pthread_cond_signal(&s->fl_cv);
    pthread_mutex_unlock(&s->fl_mu);
    pthread_join(s->flusher, NULL);
    s->flusher_on = 0;
}

/* ---- open / close ---------------------------------------------------------------------- */

/* Copies the directory part of path into dir ("." for a bare name, "/" for the root). */
static int ox_parent_dir(const char *path, char *dir, size_t cap)
{
    size_t n = strlen(path);
    if (n >= cap)
        return OX_EINVAL;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return OX_OK;
}


int ox__mkdirs(const char *path, size_t *made, int *nmade)
{
    char buf[PATH_MAX];
    int rc = ox_parent_dir(path, buf, sizeof buf), n = 0;
    if (nmade)
        *nmade = 0;
    if (rc)
        return rc;
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) == 0) {
            if (made && n < OX_MKDIRS_MAX)
                made[n++] = (size_t)(p - buf);
        } else if (errno != EEXIST) {
            return ox__mdb_err(errno);
        }
        if (!c)
            break;
        *p = '/';
    }
    if (nmade)
        *nmade = n;
    return OX_OK;
}

/* After a failed open: removes what it created, so that a full disk is not left fuller.
 * data: the data file and its lock file are new (decided while holding the log's lock:
 * no other process is making them); wal: the log is new (likewise); made/nmade: the
 * directories ox_mkdirs created, removed deepest first if they are empty. */
static void ox_unmake(const char *path, int data, int wal, const size_t *made, int nmade)
{
    char buf[PATH_MAX + 16];
    if (data) {
        unlink(path);
        snprintf(buf, sizeof buf, "%s-lock", path);
        unlink(buf);
    }
    if (wal) {
        snprintf(buf, sizeof buf, "%s-wal", path);
        unlink(buf);
        snprintf(buf, sizeof buf, "%s-wal-big", path);
        unlink(buf);
    }
    if (ox_parent_dir(path, buf, sizeof buf) != OX_OK)
        return;
    while (nmade--) {
        buf[made[nmade]] = '\0';
        if (rmdir(buf))
            break;
    }
}

/* LMDB maps its lock file and writes its reader table through the mapping: on a file
 * system without room (a full tmpfs) the first touch of an unallocated page is a SIGBUS.
 * Allocating the table's bytes first turns that into OX_EFULL. */
static int ox_lock_reserve(const char *path, unsigned readers)
{
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s-lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return ox__mdb_err(errno);
    int e = posix_fallocate(fd, 0, (off_t)readers * 64 + 4096);
    close(fd);
    return e == 0 || e == EOPNOTSUPP || e == EINVAL ? OX_OK : ox__mdb_err(e);
}

/* Reads or records the format version (in a write txn unless read-only). */
static int ox_format_init(ox_store *s)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc)
        return ox__mdb_err(rc);
    rc = mdb_dbi_open(txn, OX_META_DB, s->read_only ? 0 : MDB_CREATE, &s->meta);
    s->direct_max = s->long_stored - 2;
    if (rc == MDB_NOTFOUND) { /* read-only file written by no oxistore: empty */
        s->format = OX_FORMAT_VERSION;
        s->meta = 0; /* none: ox__lsn_get answers 0 */
        mdb_txn_abort(txn);
        return OX_OK;
    }
    if (rc)
        goto fail;
    MDB_val k = {6, "format"}, v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        unsigned char buf[4] = {0, 0, 0, OX_FORMAT_VERSION};
        v.mv_size = 4;
        v.mv_data = buf;
        s->format = OX_FORMAT_VERSION;
        if (!s->read_only && (rc = mdb_put(txn, s->meta, &k, &v, 0)))
            goto fail;
        return ox__mdb_err(mdb_txn_commit(txn));
    }
    if (rc)
        goto fail;
    if (v.mv_size != 4) {
        mdb_txn_abort(txn);
        return OX_ECORRUPT;
    }
    const unsigned char *p = v.mv_data;
    s->format = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
    if (s->format > OX_FORMAT_VERSION) {
        mdb_txn_abort(txn);
        return OX_EUNSUPPORTED;
    }
    if (s->format == 1 && s->read_only) { /* 510-byte keys are still stored as they are */
        s->direct_max = s->long_stored - 1;
    } else if (s->format == 1) {
        unsigned char buf[4] = {0, 0, 0, OX_FORMAT_VERSION};
        v = (MDB_val){4, buf};
        if ((rc = ox__key_migrate_v1(s, txn)) ||
            (rc = ox__mdb_err(mdb_put(txn, s->meta, &k, &v, 0)))) {
            mdb_txn_abort(txn);
            return rc;
        }
        s->format = OX_FORMAT_VERSION;
        return ox__mdb_err(mdb_txn_commit(txn));
    } else if (s->format < OX_FORMAT_VERSION && !s->read_only) {
        /* 2 -> 3: every record of a version 2 file is a record of kind 0; 3 -> 4: the
         * same records (oxistore.h). */
        unsigned char buf[4] = {0, 0, 0, OX_FORMAT_VERSION};
        v = (MDB_val){4, buf};
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)))
            goto fail;
        s->format = OX_FORMAT_VERSION;
    }
    /* Committed, not aborted: an abort would close the meta database's handle, which the
     * checkpoints write the last sequence number through. */
    return ox__mdb_err(mdb_txn_commit(txn));
fail:
    mdb_txn_abort(txn);
    return ox__mdb_err(rc);
}

static ox_store *ox_store_alloc(const ox_options *o)
{
    ox_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cappool = OX_POOL_MAX;
    s->pool = calloc(s->cappool, sizeof *s->pool);
    if (!s->pool) {
        free(s);
        return NULL;
    }
    s->read_only = o->read_only;
    s->in_memory = o->in_memory;
    s->sync = o->sync;
    s->wal_size = o->wal_size ? o->wal_size : OX_WAL_SIZE_DEFAULT;
    s->mem_budget = (o->mem_limit ? o->mem_limit : OX_MEM_DEFAULT) / 2;
    if (s->mem_budget < (64u << 10))
        s->mem_budget = 64u << 10;
    s->ckpt_age_ms = o->ckpt_age_ms ? o->ckpt_age_ms : OX_CKPT_AGE_MS;
    s->ckpt_idle_ms = o->ckpt_idle_ms ? o->ckpt_idle_ms : OX_CKPT_IDLE_MS;
    /* In LMDB's pages: the system's. */
    long psize = sysconf(_SC_PAGESIZE);
    s->dirty_limit = o->dirty_limit ? o->dirty_limit : OX_DIRTY_DEFAULT;
    s->dirty_max = s->dirty_limit / (size_t)(psize > 0 ? psize : 4096);
    if (s->dirty_max < 16)
        s->dirty_max = 16;
    atomic_init(&s->dirty_per_key, 1024); /* a page per key, until a checkpoint measures */
    s->max_tables = o->max_tables ? o->max_tables : OX_DEFAULT_TABLES;
    s->by_id = calloc(s->max_tables, sizeof *s->by_id);
    if (!s->by_id) {
        free(s->pool);
        free(s);
        return NULL;
    }
    s->clock = o->clock ? o->clock : ox_realtime_ms;
    s->clock_ctx = o->clock_ctx;
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->gate_mu, NULL);
    pthread_cond_init(&s->gate_cv, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->tables_mu, NULL);
    pthread_mutex_init(&s->backup_mu, NULL);
    pthread_mutex_init(&s->fl_mu, NULL);
    pthread_cond_init(&s->fl_cv, NULL);
    pthread_mutex_init(&s->view_mu, NULL);
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    return s;
}

static void ox_store_free(ox_store *s)
{
    for (size_t i = 0; i < s->npool; i++)
        mdb_txn_abort(s->pool[i]);
    ox__view_put(s->view);
    ox__table_free_all(s);
    ox__log_close(s->log);
    if (s->env && s->own_env)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->wlock);
    pthread_mutex_destroy(&s->gate_mu);
    pthread_cond_destroy(&s->gate_cv);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->tables_mu);
    pthread_mutex_destroy(&s->backup_mu);
    pthread_mutex_destroy(&s->fl_mu);
    pthread_cond_destroy(&s->fl_cv);
    pthread_mutex_destroy(&s->view_mu);
    pthread_mutex_destroy(&s->ckpt_mu);
    pthread_cond_destroy(&s->ckpt_cv);
    free(s->by_id);
    free(s->txbuf);
    free(s->pool);
    free(s->path);
    free(s);
}

/* What ox_store_open and ox_store_wrap share once the env is open. */
static int ox_store_init(ox_store *s, const ox_options *o)
{
    unsigned eflags = 0;
    mdb_env_get_flags(s->env, &eflags);
    if (!(eflags & MDB_NOTLS))
        return OX_EUNSUPPORTED;
    if (eflags & MDB_RDONLY)
        s->read_only = 1;
    /* Long keys (ox_internal.h): stored forms of LMDB's largest key size. */
    s->long_stored = (size_t)mdb_env_get_maxkeysize(s->env);
    if (s->long_stored > OX_KEY_BUF - 1)
        s->long_stored = OX_KEY_BUF - 1;
    if (s->long_stored < 1 + OX_HASH_LEN + 64)
        return OX_EUNSUPPORTED;
    s->long_prefix = s->long_stored - 1 - OX_HASH_LEN;
    s->key_max = 0x7fffffff; /* the write-ahead log and records hold 32-bit lengths */
    ox__note_map_size(s);
    int rc = ox_format_init(s);
    if (rc)
        return rc;
    return ox__table_open_all(s, o->table ? o->table : "default");
}

/* In-memory stores live in a scratch directory that is emptied right after LMDB opened
 * the files: the open descriptors keep them alive, and nothing remains after a crash. */
static int ox_open_in_memory(ox_store *s, unsigned flags, mode_t mode)
{
    const char *base = "/dev/shm";
    struct stat st;
    if (stat(base, &st) || !S_ISDIR(st.st_mode) || access(base, W_OK))
        base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[PATH_MAX], file[PATH_MAX + 16], lock[PATH_MAX + 32];
    if (snprintf(dir, sizeof dir, "%s/oxistore-mem.XXXXXX", base) >= (int)sizeof dir)
        return OX_EINVAL;
    if (!mkdtemp(dir))
        return ox__mdb_err(errno);
    snprintf(file, sizeof file, "%s/mem.mdb", dir);
    snprintf(lock, sizeof lock, "%s-lock", file);
    int rc = mdb_env_open(s->env, file, flags | MDB_NOSYNC, mode);
    unlink(file);
    unlink(lock);
    rmdir(dir);
    return ox__mdb_err(rc);
}

/* Sets the env's limits from opts and opens it (s->path, or in memory). LMDB syncs its
 * own commits: only checkpoints commit, and each must be durable whole before the log
 * before it is released. */
static int ox_env_open(ox_store *s, const ox_options *opts)
{
    s->env_maxdbs = 2 * s->max_tables + 1;
    s->env_maxreaders = opts->max_readers ? opts->max_readers : OX_DEFAULT_READERS;
    ox__env_limits(s, opts->map_size ? opts->map_size : OX_DEFAULT_MAP);
    unsigned flags = MDB_NOSUBDIR | MDB_NOTLS;
    if (opts->read_only)
        flags |= MDB_RDONLY;
    if (opts->in_memory)
        return ox_open_in_memory(s, flags, 0600);
    return ox__mdb_err(mdb_env_open(s->env, s->path, flags, 0644));
}

uint64_t ox__lsn_get(ox_store *s, MDB_txn *txn)
{
    MDB_val k = {3, "lsn"}, v;
    if (!s->meta || mdb_get(txn, s->meta, &k, &v) != MDB_SUCCESS || v.mv_size != 8)
        return 0;
    return ox__be64_get(v.mv_data);
}

/* The last commit LMDB holds, on a fresh read transaction. */
static int lsn_now(ox_store *s, uint64_t *lsn)
{
    MDB_txn *txn;
    int rc = ox__read_begin(s, &txn);
    if (rc)
        return rc;
    *lsn = ox__lsn_get(s, txn);
    ox__read_end(s, txn);
    return OX_OK;
}

/* The first view: an empty active write buffer over LMDB. */
static int view_init(ox_store *s)
{
    ox_mem *m;
    int rc = ox__mem_new(s->mem_budget, 2 * s->max_tables, &m);
    if (rc)
        return rc;
    rc = ox__view_swap(s, &m, 1, 0);
    ox__mem_unref(m);
    return rc;
}

static int replay_one(void *ctx, uint64_t seq, const unsigned char *p, size_t len)
{
    return ox__txn_replay(ctx, seq, p, len);
}

/* A log of the format before segments ("<file>-wal", one file): a clean one (its header
 * says the data file holds everything) is removed; one a crash left cannot be replayed
 * by this version. */
static int legacy_log(const char *path, int remove)
{
    char wal[PATH_MAX + 8];
    unsigned char h[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int fd = open(wal, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return OX_OK;
    /* Two header slots (OX_WAL_SLOT 4096 bytes): magic "OXWAL02"/"OXWAL03", generation at
     * 8, flags at 24 (bit 0: clean); the newest valid one rules. A checksum guards each,
     * but a clean flag in the newer slot is all this needs. */
    int clean = 0;
    uint64_t best = 0;
    for (int i = 0; i < 2; i++) {
        if (pread(fd, h, sizeof h, (off_t)i * 4096) != (ssize_t)sizeof h ||
            (memcmp(h, "OXWAL02", 8) && memcmp(h, "OXWAL03", 8)))
            continue;
        uint64_t gen;
        uint32_t flags;
        memcpy(&gen, h + 8, 8);
        memcpy(&flags, h + 24, 4);
        if (gen >= best) {
            best = gen;
            clean = flags & 1;
        }
    }
    close(fd);
    if (best && !clean)
        return OX_EUNSUPPORTED;
    if (remove) {
        unlink(wal);
        snprintf(wal, sizeof wal, "%s-wal-big", path);
        unlink(wal);
    }
    return OX_OK;
}

/* The last commit the data file at path holds (its checkpoint's), read without locking:
 * 0 and *lsn set, or -1 (no file, or a damaged one: it tells nothing). */
static int file_lsn(const char *path, uint64_t *lsn)
{
    struct stat st;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    *lsn = 0;
    if (!path || stat(path, &st) != 0 || mdb_env_create(&env))
        return -1;
    mdb_env_set_maxdbs(env, 2);
    /* NOLOCK: the lock file stays as it is (an offline tool may have just emptied it). */
    int ok = mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOTLS | MDB_NOLOCK,
                          0644) == 0 &&
             mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0;
    if (ok) {
        MDB_val k = {3, "lsn"}, v;
        int mrc = mdb_dbi_open(txn, OX_META_DB, 0, &meta);
        if (mrc == 0)
            mrc = mdb_get(txn, meta, &k, &v);
        if (mrc == 0 && v.mv_size == 8)
            *lsn = ox__be64_get(v.mv_data);
        ok = mrc == 0 || mrc == MDB_NOTFOUND;
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return ok ? 0 : -1;
}

int ox__store_needs_recovery(const char *path)
{
    uint64_t lsn;
    ox_log *l;
    if (file_lsn(path, &lsn) || ox__log_open(path, 0, 1, &l))
        return 0;
    int pending = ox__log_pending(l, lsn);
    ox__log_close(l);
    return pending;
}

int ox__store_log_check(const char *path, uint64_t *records)
{
    uint64_t lsn;
    ox_log *l;
    *records = 0;
    if (file_lsn(path, &lsn))
        return OX_OK; /* the file's own check says what is wrong with it */
    int rc = ox__log_open(path, 0, 1, &l);
    if (rc)
        return rc;
    rc = ox__log_scan(l, lsn, records);
    ox__log_close(l);
    return rc;
}

int ox__store_settle(const char *path)
{
    if (!ox__store_needs_recovery(path))
        return OX_OK;
    ox_store *s;
    int rc = ox_store_open(path, NULL, &s);
    return rc ? rc : ox_store_close(s);
}

/* Replays the log after what LMDB holds; a writable store then checkpoints what it read
 * when its buffer fills (ox__ckpt_room), and is ready to append. */
static int recover(ox_store *s, int replay)
{
    uint64_t lsn, last = 0;
    int rc = lsn_now(s, &lsn);
    if (rc)
        return rc;
    s->last_seq = lsn;
    s->ckpt_lsn = lsn; /* what LMDB holds (ox_store_write_info); no thread runs yet */
    atomic_store(&s->visible, lsn);
    if (!s->log)
        return OX_OK;
    s->replaying = 1;
    if (replay)
        rc = ox__log_replay(s->log, lsn, replay_one, s, &last);
    s->replaying = 0;
    if (rc)
        return rc;
    s->last_seq = last > lsn ? last : lsn;
    atomic_store(&s->visible, s->last_seq);
    return OX_OK;
}

int ox_store_open(const char *path, const ox_options *opts, ox_store **out)
{
    int nmade = 0, made_data = 0, locked = 0;
    size_t made[OX_MKDIRS_MAX];
    ox_options defaults;
    if (!opts) {
        ox_options_init(&defaults);
        opts = &defaults;
    }
    *out = NULL;
    if ((!path || !*path) && !opts->in_memory)
        return OX_EINVAL;
    if (opts->sync < OX_SYNC_ALWAYS || opts->sync > OX_SYNC_NO)
        return OX_EINVAL;
    ox_store *s = ox_store_alloc(opts);
    if (!s)
        return OX_ENOMEM;
    s->own_env = 1;
    int rc = OX_OK;
    if (!opts->in_memory) {
        if (!(s->path = strdup(path))) {
            rc = OX_ENOMEM;
            goto fail;
        }
        if (!opts->read_only && (rc = ox__mkdirs(path, made, &nmade)))
            goto fail;
        if ((rc = legacy_log(path, 0)))
            goto fail;
        /* The log takes the store's writer lock: one process writes it. */
        if ((rc = ox__log_open(path, s->wal_size, opts->read_only, &s->log)))
            goto fail;
        locked = !opts->read_only;
        /* Under that lock, a data file that is missing is this open's to make. */
        made_data = locked && access(path, F_OK) != 0;
        if (made_data && (rc = ox_lock_reserve(path, opts->max_readers ? opts->max_readers
                                                                        : OX_DEFAULT_READERS)))
            goto fail;
    }
    /* Once more on EINVAL: an open that waited for ox_repair or ox_compact to release the
     * file finds the lock file they emptied (so that no stale reader table survives) and
     * fails once; the next open initialises it afresh. */
    for (int tries = 0; tries < 2; tries++) {
        if (s->env) {
            mdb_env_close(s->env);
            s->env = NULL;
        }
        if ((rc = ox__mdb_err(mdb_env_create(&s->env))))
            goto fail;
        rc = ox_env_open(s, opts);
        if (rc != OX_EINVAL || opts->in_memory)
            break;
    }
    if (rc || (rc = view_init(s)) || (rc = ox_store_init(s, opts)))
        goto fail;
    if ((rc = recover(s, 1)))
        goto fail;
    if (locked)
        legacy_log(path, 1);
    if (!s->read_only && (rc = ox__ckpt_start(s)))
        goto fail;
    if (s->log)
        ox__log_set_lazy(s->log, s->sync != OX_SYNC_ALWAYS);
    if (s->sync == OX_SYNC_EVERYSEC && !s->read_only && s->log && (rc = ox_flusher_start(s)))
        goto fail;
    *out = s;
    return OX_OK;
fail:
    ox__ckpt_stop(s);
    char *made_path = s->path; /* kept past ox_store_free, for ox_unmake */
    s->path = NULL;
    ox_store_free(s);
    if (made_path) {
        rc = ox__space_err_at(made_path, rc); /* LMDB's short writes of a new file */
        ox_unmake(made_path, made_data, made_data, made, nmade);
    }
    free(made_path);
    return rc;
}

int ox_store_destroy(const char *path)
{
    ox_excl ex;
    int rc = ox__excl_acquire(path, &ex);
    if (rc)
        return rc;
    ox_unmake(path, 1, 1, NULL, 0);
    ox__excl_release(&ex);
    return OX_OK;
}

int ox_store_wrap(MDB_env *env, const ox_options *opts, ox_store **out)
{
    ox_options defaults;
    if (!opts) {
        ox_options_init(&defaults);
        opts = &defaults;
    }
    *out = NULL;
    if (!env)
        return OX_EINVAL;
    ox_store *s = ox_store_alloc(opts);
    if (!s)
        return OX_ENOMEM;
    s->env = env;
    s->sync = OX_SYNC_ALWAYS;
    /* No log: each commit is written to the env at once (ox_txn_commit). */
    int rc = view_init(s);
    if (rc == OX_OK)
        rc = ox_store_init(s, opts);
    if (rc == OX_OK)
        rc = recover(s, 0);
    if (rc) {
        ox_store_free(s);
        return rc;
    }
    *out = s;
    return OX_OK;
}

int ox_store_close(ox_store *s)
{
    if (!s)
        return OX_OK;
    int rc = OX_OK;
    ox_flusher_stop(s);
    /* Everything committed goes to LMDB: the next open replays nothing. */
    if (!s->read_only)
        rc = ox_store_checkpoint(s);
    ox__ckpt_stop(s);
    if (s->log && !s->read_only && rc == OX_OK)
        rc = ox__log_sync(s->log);
    char *compact = (s->compact_on_close && s->path) ? strdup(s->path) : NULL;
    ox_store_free(s);
    if (compact) {
        int crc = ox_compact(compact);
        if (rc == OX_OK)
            rc = crc;
        free(compact);
    }
    return rc;
}

int ox_store_set_sync(ox_store *s, int sync)
{
    if (sync < OX_SYNC_ALWAYS || sync > OX_SYNC_NO)
        return OX_EINVAL;
    if (s->read_only)
        return OX_EREADONLY;
    if (!s->own_env)
        return OX_EUNSUPPORTED;
    int rc = OX_OK;
    pthread_mutex_lock(&s->wlock);
    /* The flusher uses the log without the lock: it stops while the policy changes. */
    ox_flusher_stop(s);
    if (s->log) {
        /* What was appended lazily is durable first: every commit made before the change
         * is then durable under the policy it was made under, or better. */
        if (s->sync != OX_SYNC_ALWAYS && sync == OX_SYNC_ALWAYS)
            rc = ox__log_sync(s->log);
        if (rc == OX_OK)
            ox__log_set_lazy(s->log, sync != OX_SYNC_ALWAYS);
    }
    if (rc == OX_OK)
        s->sync = sync;
    if (s->sync == OX_SYNC_EVERYSEC && s->log && !s->flusher_on && ox_flusher_start(s) &&
        rc == OX_OK)
        rc = OX_ENOMEM;
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int ox_store_checkpoint(ox_store *s)
{
    if (s->read_only)
        return OX_EREADONLY;
    pthread_mutex_lock(&s->wlock);
    int rc = ox__ckpt_all(s);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

/* ---- small queries ---------------------------------------------------------------------- */

ox_table *ox_store_table(ox_store *s)
{
    return s->deflt;
}

int ox_store_flush(ox_store *s)
{
    if (s->read_only)
        return OX_OK;
    if (s->log)
        return ox__log_sync(s->log);
    ox__gate_enter(s);
    int rc = ox__mdb_err(mdb_env_sync(s->env, 1));
    ox__gate_leave(s);
    return rc;
}

int ox_store_size_on_disk(ox_store *s, uint64_t *bytes)
{
    *bytes = 0;
    if (s->in_memory)
        return OX_OK;
    /* By name, not through the env, which a reopen may replace meanwhile (only a store
     * with a path is ever reopened); no gate, so a reader may ask (INFO in a burst). */
    mdb_filehandle_t fd;
    struct stat st;
    int rc = s->path ? (stat(s->path, &st) ? errno : 0)
                     : (mdb_env_get_fd(s->env, &fd) ? EINVAL : fstat(fd, &st) ? errno : 0);
    if (rc)
        return ox__mdb_err(rc);
    *bytes = (uint64_t)st.st_size;
    return OX_OK;
}

size_t ox_store_map_size(ox_store *s)
{
    return atomic_load(&s->map_size);
}

unsigned ox_store_format(ox_store *s)
{
    return s->format;
}

size_t ox_key_order_prefix(ox_store *s)
{
    return s->long_prefix;
}

int ox_key_pos(ox_store *s, const void *key, size_t klen, unsigned char *pos, size_t *len)
{
    int rc = ox__key_check(s, klen);
    if (rc)
        return rc;
    if (klen && !key)
        return OX_EINVAL;
    *len = ox__key_enc(s, key, klen, pos).mv_size;
    return OX_OK;
}

size_t ox_key_max(ox_store *s)
{
    return s->key_max;
}

void ox_store_compact_on_close(ox_store *s)
{
    s->compact_on_close = 1;
}

int ox__sync_parent(const char *path)
{
    char dir[PATH_MAX];
    int rc = ox_parent_dir(path, dir, sizeof dir);
    if (rc)
        return rc;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return ox__mdb_err(errno);
    rc = fsync(fd) ? ox__mdb_err(errno) : OX_OK;
    close(fd);
    return rc;
}
