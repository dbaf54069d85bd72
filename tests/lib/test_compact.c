/* Tests of ox_compact: LMDB 0.9's compacting copy, made offline and renamed over the file.
 * The fixture has 100 named databases, a DUPSORT one with sub-pages and sub-trees, a
 * DUPFIXED one and overflow values; after mass deletes, the compacted file must be smaller,
 * check clean and hold exactly the pairs a model of the writes predicts. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib_util.h"
#include "ox_excl.h"
#include "oxistore.h"
#include "test.h"

T_MAIN_BEGIN;

#define NDB 100

/* ---- the model: what each database holds after the two commits ------------------------ */

static unsigned nkeys(unsigned d) { return 50 + d; }

/* Values of named database d: most small, every 37th one spilling onto overflow pages. */
static size_t val_len(unsigned d, unsigned i) { return i % 37 == 0 ? 5000 + d * 10 : 20 + i % 50; }

static void val_fill(char *buf, unsigned d, unsigned i)
{
    size_t n = val_len(d, i);
    for (size_t j = 0; j < n; j++)
        buf[j] = (char)('A' + (d * 31 + i * 7 + j) % 26);
}

/* The duplicates of key i in "dups": 1, 10 (a sub-page) or 400 (a sub-tree) values. */
static unsigned ndups(unsigned i) { return i % 3 == 0 ? 1 : i % 3 == 1 ? 10 : 400; }
/* ... and of key i in "fixed": 5 (a LEAF2 sub-page) or 600 (a LEAF2 sub-tree). */
static unsigned nfixed(unsigned i) { return i % 2 ? 5 : 600; }

/* Commit 2 deletes 90% of the large sets and of every named database. */
static int kept(unsigned n, unsigned j) { return n < 100 || j % 10 == 0; }

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static int mkenv(const char *path, MDB_env **env, unsigned flags)
{
    int rc;
    if ((rc = mdb_env_create(env)))
        return rc;
    mdb_env_set_mapsize(*env, (size_t)256 << 20);
    mdb_env_set_maxdbs(*env, NDB + 8);
    if ((rc = mdb_env_open(*env, path, MDB_NOSUBDIR | MDB_NOSYNC | flags, 0644))) {
        mdb_env_close(*env);
        *env = NULL;
    }
    return rc;
}

/* Writes commit 1 (everything) or commit 2 (the deletes) of the model. */
static int write_commit(MDB_txn *txn, int second)
{
    MDB_dbi dbi;
    MDB_val k, v;
    char kb[32], vb[8000];
    uint8_t x[8];
    int rc = 0;

    for (unsigned d = 0; d < NDB && !rc; d++) {
        snprintf(kb, sizeof(kb), "n%03u", d);
        if ((rc = mdb_dbi_open(txn, kb, MDB_CREATE, &dbi)))
            return rc;
        for (unsigned i = 0; i < nkeys(d) && !rc; i++) {
            k.mv_size = (size_t)snprintf(kb, sizeof(kb), "k%05u", i);
            k.mv_data = kb;
            v.mv_size = val_len(d, i);
            v.mv_data = vb;
            val_fill(vb, d, i);
            if (!second)
                rc = mdb_put(txn, dbi, &k, &v, 0);
            else if (!kept(100, i))
                rc = mdb_del(txn, dbi, &k, NULL);
        }
    }
    if (rc || (rc = mdb_dbi_open(txn, "dups", MDB_CREATE | MDB_DUPSORT, &dbi)))
        return rc;
    for (unsigned i = 0; i < 100 && !rc; i++)
        for (unsigned j = 0; j < ndups(i) && !rc; j++) {
            k.mv_size = (size_t)snprintf(kb, sizeof(kb), "d%04u", i);
            k.mv_data = kb;
            v.mv_size = (size_t)snprintf(vb, sizeof(vb), "v%06u", j);
            v.mv_data = vb;
            if (!second)
                rc = mdb_put(txn, dbi, &k, &v, 0);
            else if (!kept(ndups(i), j))
                rc = mdb_del(txn, dbi, &k, &v);
        }
    if (rc || (rc = mdb_dbi_open(txn, "fixed", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &dbi)))
        return rc;
    for (unsigned i = 0; i < 30 && !rc; i++)
        for (unsigned j = 0; j < nfixed(i) && !rc; j++) {
            k.mv_size = (size_t)snprintf(kb, sizeof(kb), "f%04u", i);
            k.mv_data = kb;
            be64(x, (uint64_t)j * 1000003u);
            v.mv_size = sizeof(x);
            v.mv_data = x;
            if (!second)
                rc = mdb_put(txn, dbi, &k, &v, 0);
            else if (!kept(nfixed(i), j))
                rc = mdb_del(txn, dbi, &k, &v);
        }
    return rc;
}

static int build(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    int rc;

    unlink(path);
    if ((rc = mkenv(path, &env, 0)))
        return rc;
    for (int second = 0; second < 2 && !rc; second++) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
            break;
        if ((rc = write_commit(txn, second)))
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
    }
    mdb_env_close(env);
    return rc;
}

/* Entries the model leaves in the named databases. */
static uint64_t model_entries(void)
{
    uint64_t n = 0;
    for (unsigned d = 0; d < NDB; d++)
        for (unsigned i = 0; i < nkeys(d); i++)
            n += kept(100, i);
    for (unsigned i = 0; i < 100; i++)
        for (unsigned j = 0; j < ndups(i); j++)
            n += kept(ndups(i), j);
    for (unsigned i = 0; i < 30; i++)
        for (unsigned j = 0; j < nfixed(i); j++)
            n += kept(nfixed(i), j);
    return n;
}

/* Steps cur and compares the pair with the expected one; returns 0 if equal. */
static int next_is(MDB_cursor *cur, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_val key, val;
    int rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    if (rc)
        return rc;
    return key.mv_size == kl && val.mv_size == vl && !memcmp(key.mv_data, k, kl) &&
                   !memcmp(val.mv_data, v, vl) ? 0 : -1;
}

/* Reads every pair of every database through LMDB and compares it with the model, in
 * order, and that nothing more is there. 0 if all equal. */
static int verify(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    MDB_dbi dbi;
    char kb[32], vb[8000], name[16];
    uint8_t x[8];
    unsigned ndbs = 0;
    int rc;

    if ((rc = mkenv(path, &env, MDB_RDONLY)) || (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
        goto out;
    for (unsigned d = 0; d < NDB + 2 && !rc; d++) {
        snprintf(name, sizeof(name), d < NDB ? "n%03u" : d == NDB ? "dups" : "fixed", d);
        if ((rc = mdb_dbi_open(txn, name, 0, &dbi)) || (rc = mdb_cursor_open(txn, dbi, &cur)))
            break;
        for (unsigned i = 0; d < NDB && i < nkeys(d) && !rc; i++) {
            if (!kept(100, i))
                continue;
            val_fill(vb, d, i);
            rc = next_is(cur, kb, (size_t)snprintf(kb, sizeof(kb), "k%05u", i), vb,
                         val_len(d, i));
        }
        for (unsigned i = 0; d == NDB && i < 100 && !rc; i++)
            for (unsigned j = 0; j < ndups(i) && !rc; j++) {
                if (!kept(ndups(i), j))
                    continue;
                snprintf(kb, sizeof(kb), "d%04u", i);
                rc = next_is(cur, kb, 5, vb, (size_t)snprintf(vb, sizeof(vb), "v%06u", j));
            }
        for (unsigned i = 0; d == NDB + 1 && i < 30 && !rc; i++)
            for (unsigned j = 0; j < nfixed(i) && !rc; j++) {
                if (!kept(nfixed(i), j))
                    continue;
                snprintf(kb, sizeof(kb), "f%04u", i);
                be64(x, (uint64_t)j * 1000003u);
                rc = next_is(cur, kb, 5, x, sizeof(x));
            }
        if (!rc && mdb_cursor_get(cur, &key, &val, MDB_NEXT) != MDB_NOTFOUND)
            rc = -2; /* a pair the model does not have */
        mdb_cursor_close(cur);
        cur = NULL;
        ndbs++;
    }
    if (rc)
        goto out;
    /* And no database the model does not have. */
    if ((rc = mdb_cursor_open(txn, 1, &cur)))
        goto out;
    while (!(rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)))
        ndbs--;
    rc = rc == MDB_NOTFOUND && ndbs == 0 ? 0 : -3;
out:
    mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return rc;
}

/* ---- helpers -------------------------------------------------------------------------- */

static int slurp(const char *path, uint8_t **buf, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY), ok;
    *buf = NULL;
    if (fd < 0 || fstat(fd, &st) || !(*buf = malloc((size_t)st.st_size + 1))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    ok = read(fd, *buf, *len) == (ssize_t)*len;
    close(fd);
    return ok ? 0 : -1;
}

/* 1 if the file at path still has exactly the bytes buf. */
static int same_bytes(const char *path, const uint8_t *buf, size_t len)
{
    uint8_t *now;
    size_t n;
    int same = slurp(path, &now, &n) == 0 && n == len && memcmp(now, buf, len) == 0;
    free(now);
    return same;
}

static uint64_t free_tree_pages(const char *path)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_stat st;
    uint64_t n = UINT64_MAX;

    if (mkenv(path, &env, MDB_RDONLY))
        return n;
    if (!mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
        if (!mdb_stat(txn, 0, &st))
            n = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return n;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void compact_shrinks_after_mass_deletes_and_keeps_every_pair(void)
{
    ox_check_report before, after;
    struct stat st0, st1;
    uint64_t ftree;

    T_EQ_INT(build("c.mdb"), 0);
    T_EQ_INT(verify("c.mdb"), 0);
    T_EQ_INT(ox_check("c.mdb", &before), OX_OK);
    T_EQ_U64(before.entries, model_entries());
    T_ASSERT(before.pages_free > before.pages_used); /* mostly empty space */
    ftree = free_tree_pages("c.mdb");
    T_ASSERT(ftree >= 1 && ftree < before.pages_used);
    T_EQ_INT(stat("c.mdb", &st0), 0);

    T_EQ_INT(ox_compact("c.mdb"), OX_OK);

    T_EQ_INT(access("c.mdb.compact.tmp", F_OK), -1);
    T_EQ_INT(stat("c.mdb-lock", &st1), 0);
    T_EQ_INT(st1.st_size, 0); /* see the next test */
    T_EQ_INT(stat("c.mdb", &st1), 0);
    T_ASSERT(st1.st_size < st0.st_size / 2);
    T_EQ_INT(ox_check("c.mdb", &after), OX_OK);
    /* Every page that held data is copied, once; the free list and its tree are gone. */
    T_EQ_U64(after.pages, before.pages_used - ftree);
    T_EQ_U64(after.pages_used, after.pages);
    T_EQ_U64(after.pages_free, 0);
    T_EQ_U64((uint64_t)st1.st_size, after.pages * after.page_size);
    T_EQ_U64(after.tables, NDB + 2);
    T_EQ_U64(after.entries, model_entries());
    T_EQ_U64(after.txnid, 1);
    T_EQ_INT(verify("c.mdb"), 0);
    /* Compacting a compacted file changes nothing but the file's identity. */
    T_EQ_INT(ox_compact("c.mdb"), OX_OK);
    T_EQ_INT(ox_check("c.mdb", &before), OX_OK);
    T_EQ_U64(before.pages, after.pages);
    T_EQ_INT(verify("c.mdb"), 0);
}

static void compact_refuses_a_busy_file(void)
{
    uint8_t *orig;
    size_t len;
    int release, rc, status;
    pid_t pid;

    T_EQ_INT(build("busy.mdb"), 0);
    T_EQ_INT(slurp("busy.mdb", &orig, &len), 0);
    pid = u_hold_open("busy.mdb", &release);
    T_ASSERT(pid > 0);
    rc = ox_compact("busy.mdb");
    close(release);
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_EQ_INT(rc, OX_EBUSY);
    T_ASSERT(same_bytes("busy.mdb", orig, len));
    T_EQ_INT(access("busy.mdb.compact.tmp", F_OK), -1);
    free(orig);
    T_EQ_INT(ox_compact("busy.mdb"), OX_OK);
}

static void compact_replaces_a_stale_tmp_and_keeps_permissions(void)
{
    MDB_env *env;
    ox_check_report rep;
    struct stat st;
    int fd;

    /* An empty store: LMDB's copy of it has no trees at all. */
    T_EQ_INT(mkenv("e.mdb", &env, 0), 0);
    mdb_env_close(env);
    T_EQ_INT(chmod("e.mdb", 0640), 0);
    fd = open("e.mdb.compact.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    T_ASSERT(fd >= 0);
    T_EQ_INT(write(fd, "stale", 5), 5);
    close(fd);
    T_EQ_INT(ox_compact("e.mdb"), OX_OK);
    T_EQ_INT(access("e.mdb.compact.tmp", F_OK), -1);
    T_EQ_INT(stat("e.mdb", &st), 0);
    T_EQ_INT(st.st_mode & 07777, 0640);
    T_EQ_INT(ox_check("e.mdb", &rep), OX_OK);
    T_EQ_U64(rep.pages, 2);
    T_EQ_U64(rep.pages_used, 2);
    T_EQ_U64(rep.tables, 0);
    T_EQ_U64(rep.entries, 0);
}

static void compact_leaves_a_damaged_file_untouched(void)
{
    uint8_t *orig;
    size_t len;
    int fd;

    T_EQ_INT(build("bad.mdb"), 0);
    fd = open("bad.mdb", O_WRONLY);
    T_ASSERT(fd >= 0);
    T_EQ_INT(pwrite(fd, "\0\0\0\0", 4, 16), 4); /* meta page 0's magic */
    close(fd);
    T_EQ_INT(slurp("bad.mdb", &orig, &len), 0);
    T_EQ_INT(ox_compact("bad.mdb"), OX_ECORRUPT);
    T_ASSERT(same_bytes("bad.mdb", orig, len));
    free(orig);
    T_EQ_INT(access("bad.mdb.compact.tmp", F_OK), -1);
    T_EQ_INT(ox_compact("missing.mdb"), OX_EINVAL);
    T_EQ_INT(access("missing.mdb-lock", F_OK), -1);
    T_EQ_INT(ox_compact(NULL), OX_EINVAL);
}

/* A process that starts opening the store while it is being compacted waits for our lock,
 * then opens non-exclusively and would trust the lock file's stale txnid to pick a meta
 * page: after compaction that is the empty one. Emptying the lock file makes it fail. The
 * compaction is done by hand here, under ox_excl, to hold the window open. */
static void compact_makes_a_waiting_opener_fail_rather_than_see_a_stale_snapshot(void)
{
    MDB_env *env;
    ox_excl ex;
    int status;
    pid_t pid;

    T_EQ_INT(build("w.mdb"), 0);
    T_EQ_INT(ox__excl_acquire("w.mdb", &ex), OX_OK);
    pid = fork();
    if (pid == 0) {
        close(ex.lockfd); /* the lock belongs to the description a fork shares */
        MDB_txn *txn;
        MDB_dbi dbi;
        MDB_stat st;
        if (mkenv("w.mdb", &env, 0)) /* read-write, like a server */
            _exit(2);
        /* Through this env: a second one in this process would reset the lock file. */
        status = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
                 mdb_dbi_open(txn, "n000", 0, &dbi) || mdb_stat(txn, dbi, &st) ||
                 st.ms_entries != 5;
        _exit(status);
    }
    usleep(300000); /* the child is now blocked in mdb_env_open */
    T_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, NDB + 8);
    T_EQ_INT(mdb_env_open(env, "w.mdb", MDB_NOSUBDIR | MDB_NOLOCK | MDB_RDONLY, 0644), 0);
    T_EQ_INT(mdb_env_copy2(env, "w.tmp", MDB_CP_COMPACT), 0);
    mdb_env_close(env);
    T_EQ_INT(rename("w.tmp", "w.mdb"), 0);
    T_EQ_INT(ox__excl_invalidate(&ex), OX_OK);
    ox__excl_release(&ex);
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 2);
    T_EQ_INT(verify("w.mdb"), 0); /* the next open is exclusive and sees it all */
}

int main(void)
{
    T_RUN(compact_shrinks_after_mass_deletes_and_keeps_every_pair);
    T_RUN(compact_refuses_a_busy_file);
    T_RUN(compact_replaces_a_stale_tmp_and_keeps_permissions);
    T_RUN(compact_leaves_a_damaged_file_untouched);
    T_RUN(compact_makes_a_waiting_opener_fail_rather_than_see_a_stale_snapshot);
    return T_MAIN_END();
}
