/* Tests of ox_check and ox_repair on files written with the raw LMDB API, then damaged
 * byte by byte where the on-disk format says a given structure lives. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib_util.h"
#include "oxistore.h"
#include "test.h"

T_MAIN_BEGIN;

#define PAGEHDR 16u

/* ---- building files -------------------------------------------------------------------- */

static int env_open(const char *path, MDB_env **env)
{
    int rc;
    if ((rc = mdb_env_create(env)))
        return rc;
    mdb_env_set_mapsize(*env, (size_t)256 << 20);
    mdb_env_set_maxdbs(*env, 64);
    rc = mdb_env_open(*env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0644);
    if (rc) {
        mdb_env_close(*env);
        *env = NULL;
    }
    return rc;
}

static int put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
    return mdb_put(txn, dbi, &key, &val, 0);
}

static int del(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
    return mdb_del(txn, dbi, &key, v ? &val : NULL);
}

/* Commits *txn and begins the next write transaction in its place. */
static int recommit(MDB_env *env, MDB_txn **txn)
{
    int rc = mdb_txn_commit(*txn);
    *txn = NULL;
    return rc ? rc : mdb_txn_begin(env, NULL, 0, txn);
}

/* Ends a fixture builder: commits txn if all went well (else aborts it), closes env. */
static int finish(MDB_env *env, MDB_txn *txn, int rc)
{
    if (txn && !rc)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return rc;
}

/* A value of length len whose bytes depend on (i, len). */
static void fill(char *buf, size_t len, unsigned i)
{
    for (size_t j = 0; j < len; j++)
        buf[j] = (char)('a' + (i * 7 + j) % 26);
}

/* The big fixture: named databases of every shape LMDB has, three commits, a free list.
 *  alpha  20000 keys of 100 bytes (depth 3), then every other key deleted, 3000 rewritten
 *  big    40 values of 3000..22500 bytes (overflow runs), 10 deleted
 *  dups   DUPSORT, 200 keys with 1, 8 (sub-page) or 600 (sub-database) values
 *  fixed  DUPSORT|DUPFIXED, 50 keys with 3 or 700 8-byte values
 *  int    INTEGERKEY, 1000 keys;  rev  REVERSEKEY, 1000 keys
 *  t00..t29  10 keys each */
static int build_big(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi alpha, big, dups, fixed, in, rev, t;
    char k[32], v[32], *bv = malloc(30000);
    int rc;

    if (!bv)
        return ENOMEM;
    if ((rc = env_open(path, &env)) || (rc = mdb_txn_begin(env, NULL, 0, &txn)))
        goto out;
    if ((rc = mdb_dbi_open(txn, "alpha", MDB_CREATE, &alpha)) ||
        (rc = mdb_dbi_open(txn, "big", MDB_CREATE, &big)) ||
        (rc = mdb_dbi_open(txn, "dups", MDB_CREATE | MDB_DUPSORT, &dups)) ||
        (rc = mdb_dbi_open(txn, "fixed", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &fixed)) ||
        (rc = mdb_dbi_open(txn, "int", MDB_CREATE | MDB_INTEGERKEY, &in)) ||
        (rc = mdb_dbi_open(txn, "rev", MDB_CREATE | MDB_REVERSEKEY, &rev)))
        goto out;
    for (unsigned i = 0; i < 20000 && !rc; i++) {
        snprintf(k, sizeof(k), "k%08u", i);
        fill(bv, 100, i);
        rc = put(txn, alpha, k, strlen(k), bv, 100);
    }
    for (unsigned i = 0; i < 40 && !rc; i++) {
        snprintf(k, sizeof(k), "big%02u", i);
        fill(bv, 3000 + i * 500, i);
        rc = put(txn, big, k, strlen(k), bv, 3000 + i * 500);
    }
    for (unsigned i = 0; i < 200 && !rc; i++) {
        unsigned n = i % 3 == 0 ? 1 : i % 3 == 1 ? 8 : 600;
        snprintf(k, sizeof(k), "d%04u", i);
        for (unsigned j = 0; j < n && !rc; j++) {
            snprintf(v, sizeof(v), "val%06u", j * 13 % 1000);
            rc = put(txn, dups, k, strlen(k), v, strlen(v));
        }
    }
    for (unsigned i = 0; i < 50 && !rc; i++) {
        unsigned n = i % 2 ? 3 : 700;
        snprintf(k, sizeof(k), "f%04u", i);
        for (uint64_t j = 0; j < n && !rc; j++) {
            uint64_t x = j * 2654435761u;
            rc = put(txn, fixed, k, strlen(k), &x, sizeof(x));
        }
    }
    for (uint64_t i = 0; i < 1000 && !rc; i++) {
        uint64_t x = i * 1000003u;
        rc = put(txn, in, &x, sizeof(x), "int", 3);
        snprintf(k, sizeof(k), "%u-rev", (unsigned)i);
        if (!rc)
            rc = put(txn, rev, k, strlen(k), "rev", 3);
    }
    for (unsigned d = 0; d < 30 && !rc; d++) {
        snprintf(k, sizeof(k), "t%02u", d);
        if ((rc = mdb_dbi_open(txn, k, MDB_CREATE, &t)))
            break;
        for (unsigned i = 0; i < 10 && !rc; i++) {
            snprintf(v, sizeof(v), "key%u", i);
            rc = put(txn, t, v, strlen(v), k, strlen(k));
        }
    }
    if (rc || (rc = recommit(env, &txn)))
        goto out;
    for (unsigned i = 0; i < 20000 && !rc; i += 2) {
        snprintf(k, sizeof(k), "k%08u", i);
        rc = del(txn, alpha, k, strlen(k), NULL, 0);
    }
    for (unsigned i = 0; i < 40 && !rc; i += 4) {
        snprintf(k, sizeof(k), "big%02u", i);
        rc = del(txn, big, k, strlen(k), NULL, 0);
    }
    for (unsigned i = 2; i < 200 && !rc; i += 30) {
        snprintf(k, sizeof(k), "d%04u", i);
        snprintf(v, sizeof(v), "val%06u", 13u);
        rc = del(txn, dups, k, strlen(k), v, strlen(v));
    }
    if (rc || (rc = recommit(env, &txn)))
        goto out;
    for (unsigned i = 1; i < 6000 && !rc; i += 2) {
        snprintf(k, sizeof(k), "k%08u", i);
        fill(bv, 60, i + 1);
        rc = put(txn, alpha, k, strlen(k), bv, 60);
    }
out:
    rc = finish(env, txn, rc);
    free(bv);
    return rc;
}

/* What LMDB itself says about a file: the exact counts ox_check must find. */
typedef struct expect {
    uint64_t pages, txnid, tables, entries, pages_free, pages_stat;
    unsigned psize;
} expect;

static uint64_t stat_pages(const MDB_stat *st)
{
    return st->ms_branch_pages + st->ms_leaf_pages + st->ms_overflow_pages;
}

static int lmdb_expect(const char *path, expect *e)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL, *fc = NULL;
    MDB_envinfo info;
    MDB_stat st;
    MDB_val key, val;
    MDB_dbi dbi;
    char name[512];
    int rc;

    memset(e, 0, sizeof(*e));
    if ((rc = env_open(path, &env)) || (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
        goto out;
    mdb_env_info(env, &info);
    e->pages = info.me_last_pgno + 1;
    e->txnid = info.me_last_txnid;
    e->pages_stat = 2;
    if ((rc = mdb_stat(txn, 0, &st)))
        goto out;
    e->psize = st.ms_psize;
    e->pages_stat += stat_pages(&st);
    if ((rc = mdb_cursor_open(txn, 0, &fc)))
        goto out;
    while (!(rc = mdb_cursor_get(fc, &key, &val, MDB_NEXT)))
        e->pages_free += *(size_t *)val.mv_data;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) || (rc = mdb_stat(txn, dbi, &st)) ||
        (rc = mdb_cursor_open(txn, dbi, &cur)))
        goto out;
    e->pages_stat += stat_pages(&st);
    while (!(rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))) {
        memcpy(name, key.mv_data, key.mv_size);
        name[key.mv_size] = '\0';
        if ((rc = mdb_dbi_open(txn, name, 0, &dbi)) || (rc = mdb_stat(txn, dbi, &st)))
            goto out;
        e->tables++;
        e->entries += st.ms_entries;
        e->pages_stat += stat_pages(&st);
    }
    rc = rc == MDB_NOTFOUND ? 0 : rc;

out:
    mdb_cursor_close(fc);
    mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return rc;
}

/* ---- reading and damaging files -------------------------------------------------------- */

typedef struct file {
    uint8_t *b;
    size_t n;
    unsigned psize;
} file;

static int file_read(const char *path, file *f)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    memset(f, 0, sizeof(*f));
    if (fd < 0 || fstat(fd, &st) || !(f->b = malloc((size_t)st.st_size + 1)) ||
        read(fd, f->b, (size_t)st.st_size) != st.st_size) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    f->n = (size_t)st.st_size;
    memcpy(&f->psize, f->b + PAGEHDR + 24, 4);
    return 0;
}

static int file_write(const char *path, const file *f)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
    ssize_t w = fd < 0 ? -1 : write(fd, f->b, f->n);
    if (fd >= 0)
        close(fd);
    return w == (ssize_t)f->n ? 0 : -1;
}

static uint16_t g16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint64_t g64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void s16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void s64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint8_t *page(const file *f, uint64_t pgno) { return f->b + pgno * f->psize; }

/* The newest meta page's MDB_meta. */
static unsigned meta_slot(const file *f)
{
    uint64_t t0 = g64(page(f, 0) + PAGEHDR + 128), t1 = g64(page(f, 1) + PAGEHDR + 128);
    return t1 > t0;
}

static uint8_t *meta(const file *f) { return page(f, meta_slot(f)) + PAGEHDR; }

/* Node i of page p. */
static uint8_t *node(uint8_t *p, unsigned i) { return p + g16(p + PAGEHDR + 2 * i); }

/* The MDB_db record of a named database: found in the main database's root, which is a
 * single leaf page in these fixtures. */
static uint8_t *db_record(const file *f, const char *name, uint64_t *home)
{
    uint64_t root = g64(meta(f) + 72 + 40);
    uint8_t *p = page(f, root);
    unsigned n = (g16(p + 12) - PAGEHDR) / 2;
    if (g16(p + 10) != 2)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *nd = node(p, i);
        if (g16(nd + 6) == strlen(name) && !memcmp(nd + 8, name, strlen(name))) {
            *home = root;
            return nd + 8 + g16(nd + 6);
        }
    }
    return NULL;
}

static uint64_t branch_child(uint8_t *nd)
{
    return (uint64_t)g16(nd) | (uint64_t)g16(nd + 2) << 16 | (uint64_t)g16(nd + 4) << 32;
}

/* The leftmost leaf of a named database. */
static uint64_t leftmost_leaf(const file *f, const char *name)
{
    uint64_t home, pg;
    uint8_t *db = db_record(f, name, &home);
    if (!db)
        return 0;
    pg = g64(db + 40);
    for (unsigned d = g16(db + 6); d > 1; d--)
        pg = branch_child(node(page(f, pg), 0));
    return pg;
}

/* ---- tests ---------------------------------------------------------------------------- */

static const char *BIG = "big.mdb";
static file big_clean; /* the pristine bytes of BIG */

static int restore_big(void) { return file_write(BIG, &big_clean); }

static void check_clean_file_reports_exact_counts(void)
{
    ox_check_report rep;
    expect e;
    struct stat st;

    T_EQ_INT(build_big(BIG), 0);
    T_EQ_INT(file_read(BIG, &big_clean), 0);
    T_EQ_INT(lmdb_expect(BIG, &e), 0);
    T_EQ_INT(stat(BIG, &st), 0);
    T_EQ_INT(ox_check(BIG, &rep), OX_OK);
    T_EQ_STR(rep.problem, "");
    T_EQ_U64(rep.problem_pgno, UINT64_MAX);
    T_EQ_U64(rep.txnid, 3);
    T_EQ_U64(rep.txnid, e.txnid);
    T_EQ_U64(rep.page_size, e.psize);
    T_EQ_U64(rep.pages, e.pages);
    T_EQ_U64(rep.tables, 36);
    T_EQ_U64(rep.entries, e.entries);
    /* alpha 10000, big 30, dups 67 + 67*8 + 66*600 - 7 deleted, fixed 25*700 + 25*3,
     * int 1000, rev 1000, t00..t29 300 */
    T_EQ_U64(rep.entries, 10000 + 30 + 67 + 536 + 39600 - 7 + 17500 + 75 + 2000 + 300);
    T_EQ_U64(rep.pages_free, e.pages_free);
    T_ASSERT(rep.pages_free > 100);
    /* Every page is either used or free: the balance the walker enforces. */
    T_EQ_U64(rep.pages_used + rep.pages_free, rep.pages);
    /* LMDB's per-database page counts leave out the trees of duplicates (kept in each
     * key's own record), so they bound the walk's count from below. */
    T_ASSERT(rep.pages_used > e.pages_stat);
    T_ASSERT((uint64_t)st.st_size >= rep.pages * rep.page_size);
    /* A missing file is an argument error and leaves no lock file behind. */
    T_EQ_INT(ox_check("nope.mdb", &rep), OX_EINVAL);
    T_EQ_INT(access("nope.mdb-lock", F_OK), -1);
    T_EQ_INT(ox_check(BIG, NULL), OX_OK);
}

/* A fixture with no trees of duplicates, where LMDB's own statistics count every page. */
static void check_counts_used_pages_like_lmdb(void)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi a, b;
    ox_check_report rep;
    expect e;
    char k[16], v[5000];
    int rc;

    T_EQ_INT(env_open("plain.mdb", &env), 0);
    rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, "a", MDB_CREATE, &a);
    if (!rc)
        rc = mdb_dbi_open(txn, "b", MDB_CREATE | MDB_DUPSORT, &b);
    for (unsigned i = 0; i < 3000 && !rc; i++) {
        snprintf(k, sizeof(k), "%05u", i);
        fill(v, i % 100 == 0 ? 5000 : 40, i);
        rc = put(txn, a, k, strlen(k), v, i % 100 == 0 ? 5000 : 40);
        if (!rc && i < 100)
            rc = put(txn, b, k, 2, k, strlen(k)); /* small duplicate sets: sub-pages */
    }
    if (!rc)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    mdb_env_close(env);
    T_EQ_INT(rc, 0);
    T_EQ_INT(lmdb_expect("plain.mdb", &e), 0);
    T_EQ_INT(ox_check("plain.mdb", &rep), OX_OK);
    T_EQ_U64(rep.pages_used, e.pages_stat);
    T_EQ_U64(rep.pages_free, e.pages_free);
    T_EQ_U64(rep.pages, e.pages);
    T_EQ_U64(rep.entries, 3100);
    T_EQ_U64(rep.tables, 2);
    T_EQ_U64(rep.txnid, 1);
}

/* Writes the damaged bytes of f over BIG, asks ox_check, then puts BIG back. 1 when the
 * report was exactly want at page pgno. */
static int damaged_reports(file *f, const char *want, uint64_t pgno)
{
    ox_check_report rep;
    int rc = file_write(BIG, f) ? -1 : ox_check(BIG, &rep);
    int ok = rc == OX_ECORRUPT && strcmp(rep.problem, want) == 0 && rep.problem_pgno == pgno;

    if (!ok)
        fprintf(stderr, "  ox_check: rc %d, problem \"%s\" at %llu; wanted \"%s\" at %llu\n",
                rc, rc < 0 ? "" : rep.problem, (unsigned long long)rep.problem_pgno, want,
                (unsigned long long)pgno);
    free(f->b);
    f->b = NULL;
    return restore_big() == 0 && ok;
}

static void check_detects_bad_page_type(void)
{
    file f;
    char want[256];
    uint64_t leaf;

    T_EQ_INT(file_read(BIG, &f), 0);
    leaf = leftmost_leaf(&f, "alpha");
    T_ASSERT(leaf >= 2);
    T_EQ_INT(g16(page(&f, leaf) + 10), 2);
    s16(page(&f, leaf) + 10, 0x1234);
    snprintf(want, sizeof(want), "page %llu: bad page type 0x1234 at level 3 of 3 in database"
             " \"alpha\" (expected leaf)", (unsigned long long)leaf);
    T_ASSERT(damaged_reports(&f, want, leaf));
}

static void check_detects_keys_out_of_order(void)
{
    file f;
    char want[256];
    uint64_t leaf;
    uint16_t a, b;

    T_EQ_INT(file_read(BIG, &f), 0);
    leaf = leftmost_leaf(&f, "alpha");
    T_ASSERT(leaf >= 2);
    /* Swap the first two node offsets: both nodes stay valid, their order does not. */
    a = g16(page(&f, leaf) + PAGEHDR);
    b = g16(page(&f, leaf) + PAGEHDR + 2);
    s16(page(&f, leaf) + PAGEHDR, b);
    s16(page(&f, leaf) + PAGEHDR + 2, a);
    snprintf(want, sizeof(want), "page %llu: keys out of order at node 1 in database \"alpha\"",
             (unsigned long long)leaf);
    T_ASSERT(damaged_reports(&f, want, leaf));
}

static void check_detects_branch_out_of_range(void)
{
    file f;
    char want[256];
    uint64_t home, root, last, bad;
    uint8_t *db, *nd;

    T_EQ_INT(file_read(BIG, &f), 0);
    db = db_record(&f, "alpha", &home);
    T_ASSERT(db != NULL);
    T_EQ_INT(g16(db + 6), 3);
    root = g64(db + 40);
    last = g64(meta(&f) + 120);
    bad = last + 100;
    nd = node(page(&f, root), 1);
    s16(nd, (uint16_t)bad);
    s16(nd + 2, (uint16_t)(bad >> 16));
    s16(nd + 4, (uint16_t)(bad >> 32));
    snprintf(want, sizeof(want), "page %llu: refers to page %llu out of range 2..%llu in"
             " database \"alpha\"", (unsigned long long)root, (unsigned long long)bad,
             (unsigned long long)last);
    T_ASSERT(damaged_reports(&f, want, root));
}

static void check_detects_page_referenced_by_two_trees(void)
{
    file f;
    char want[256];
    uint64_t home, leaf;
    uint8_t *db;

    T_EQ_INT(file_read(BIG, &f), 0);
    leaf = leftmost_leaf(&f, "alpha");
    db = db_record(&f, "t05", &home);
    T_ASSERT(db != NULL && leaf >= 2);
    T_EQ_INT(g16(db + 6), 1);
    s64(db + 40, leaf); /* t05's root becomes alpha's first leaf, walked before */
    snprintf(want, sizeof(want), "page %llu: referenced twice (again from database \"t05\")",
             (unsigned long long)leaf);
    T_ASSERT(damaged_reports(&f, want, leaf));
}

static void check_detects_used_page_on_free_list(void)
{
    file f;
    char want[256];
    uint64_t froot, leaf;
    uint8_t *p, *nd, *idl;

    T_EQ_INT(file_read(BIG, &f), 0);
    leaf = leftmost_leaf(&f, "alpha");
    froot = g64(meta(&f) + 24 + 40);
    for (unsigned d = g16(meta(&f) + 24 + 6); d > 1; d--)
        froot = branch_child(node(page(&f, froot), 0));
    p = page(&f, froot);
    T_EQ_INT(g16(p + 10), 2);
    nd = node(p, 0);
    idl = nd + 8 + g16(nd + 6);
    if (g16(nd + 4) & 1) /* F_BIGDATA: the list sits on an overflow run */
        idl = page(&f, g64(idl)) + PAGEHDR;
    T_ASSERT(g64(idl) >= 1);
    s64(idl + 8, leaf);
    snprintf(want, sizeof(want), "page %llu: on the free list but in use",
             (unsigned long long)leaf);
    T_ASSERT(damaged_reports(&f, want, leaf));
}

static void check_detects_entries_mismatch(void)
{
    file f;
    char want[256];
    uint64_t home;
    uint8_t *db;

    T_EQ_INT(file_read(BIG, &f), 0);
    db = db_record(&f, "t07", &home);
    T_ASSERT(db != NULL);
    T_EQ_U64(g64(db + 32), 10);
    s64(db + 32, 11);
    snprintf(want, sizeof(want), "page %llu: database \"t07\" has 10 entries, its record"
             " says 11", (unsigned long long)home);
    T_ASSERT(damaged_reports(&f, want, home));
}

static void check_and_repair_refuse_a_busy_file(void)
{
    ox_check_report rep;
    char what[256];
    int release, status, rc1, rc2;
    pid_t pid = u_hold_open(BIG, &release);

    T_ASSERT(pid > 0);
    rc1 = ox_check(BIG, &rep);
    rc2 = ox_repair(BIG, what, sizeof(what));
    close(release);
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_EQ_INT(rc1, OX_EBUSY);
    T_EQ_INT(rc2, OX_EBUSY);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_EQ_INT(ox_check(BIG, &rep), OX_OK);
}

/* ---- repair --------------------------------------------------------------------------- */

/* Commit 1 writes 2000 keys "A<i>"; commit 2 rewrites 500, deletes 100, adds 100. */
static int build_two_commits(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi r;
    char k[16], v[16];
    int rc;

    unlink(path);
    if ((rc = env_open(path, &env)) || (rc = mdb_txn_begin(env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "r", MDB_CREATE, &r)))
        goto out;
    for (unsigned i = 0; i < 2000 && !rc; i++) {
        snprintf(k, sizeof(k), "%05u", i);
        snprintf(v, sizeof(v), "A%u", i);
        rc = put(txn, r, k, strlen(k), v, strlen(v));
    }
    if (rc || (rc = recommit(env, &txn)))
        goto out;
    for (unsigned i = 0; i < 500 && !rc; i++) {
        snprintf(k, sizeof(k), "%05u", i);
        snprintf(v, sizeof(v), "B%u", i);
        rc = put(txn, r, k, strlen(k), v, strlen(v));
    }
    for (unsigned i = 1000; i < 1100 && !rc; i++) {
        snprintf(k, sizeof(k), "%05u", i);
        rc = del(txn, r, k, strlen(k), NULL, 0);
    }
    for (unsigned i = 5000; i < 5100 && !rc; i++) {
        snprintf(k, sizeof(k), "%05u", i);
        rc = put(txn, r, k, strlen(k), "new", 3);
    }
out:
    rc = finish(env, txn, rc);
    return rc;
}

/* 0 when the file holds exactly commit 1's data, then proves LMDB can write on. */
static int verify_first_commit(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    MDB_dbi r;
    char k[16], v[16];
    unsigned i = 0;
    int rc;

    if ((rc = env_open(path, &env)) || (rc = mdb_txn_begin(env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "r", 0, &r)) || (rc = mdb_cursor_open(txn, r, &cur)))
        goto out;
    while (!(rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))) {
        snprintf(k, sizeof(k), "%05u", i);
        snprintf(v, sizeof(v), "A%u", i);
        if (key.mv_size != strlen(k) || memcmp(key.mv_data, k, key.mv_size) ||
            val.mv_size != strlen(v) || memcmp(val.mv_data, v, val.mv_size)) {
            rc = -1;
            goto out;
        }
        i++;
    }
    if (rc != MDB_NOTFOUND || i != 2000) {
        rc = -2;
        goto out;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    rc = put(txn, r, "after", 5, "repair", 6);
    if (!rc)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    txn = NULL;
out:
    mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return rc;
}

static void repair_restores_a_meta_page_with_bad_magic(void)
{
    ox_check_report rep;
    struct stat st;
    file f;
    char what[256], want[256];
    unsigned slot;

    T_EQ_INT(build_two_commits("r1.mdb"), 0);
    T_EQ_INT(file_read("r1.mdb", &f), 0);
    slot = meta_slot(&f);
    T_EQ_U64(g64(meta(&f) + 128), 2);
    T_EQ_INT(slot, 0);
    memcpy(meta(&f), "\xef\xbe\xad\xde", 4);
    T_EQ_INT(file_write("r1.mdb", &f), 0);
    free(f.b);

    T_EQ_INT(ox_check("r1.mdb", &rep), OX_ECORRUPT);
    T_EQ_STR(rep.problem, "meta page 0: bad magic 0xdeadbeef");
    T_EQ_U64(rep.problem_pgno, 0);
    T_EQ_INT(ox_repair("r1.mdb", what, sizeof(what)), OX_OK);
    snprintf(want, sizeof(want), "meta page 0: bad magic 0xdeadbeef; rewrote it from txn 1");
    T_EQ_STR(what, want);
    T_EQ_INT(stat("r1.mdb-lock", &st), 0);
    T_EQ_INT(st.st_size, 0); /* a stale lock file would mislead an opener that waited */
    T_EQ_INT(ox_check("r1.mdb", &rep), OX_OK);
    T_EQ_U64(rep.txnid, 1);
    T_EQ_U64(rep.entries, 2000);
    T_EQ_INT(verify_first_commit("r1.mdb"), 0);
    T_EQ_INT(ox_check("r1.mdb", &rep), OX_OK);
    T_EQ_U64(rep.txnid, 2);
    T_EQ_U64(rep.entries, 2001);
    T_EQ_INT(ox_repair("r1.mdb", what, sizeof(what)), OX_OK);
    T_EQ_STR(what, "clean, nothing done");
}

static void repair_falls_back_when_the_newest_root_is_out_of_range(void)
{
    ox_check_report rep;
    file f, after;
    char what[512], want[512];
    uint64_t last;

    T_EQ_INT(build_two_commits("r2.mdb"), 0);
    T_EQ_INT(file_read("r2.mdb", &f), 0);
    T_EQ_INT(meta_slot(&f), 0);
    last = g64(meta(&f) + 120);
    s64(meta(&f) + 72 + 40, 1000000); /* the main database's root */
    T_EQ_INT(file_write("r2.mdb", &f), 0);

    snprintf(want, sizeof(want), "page 0: refers to page 1000000 out of range 2..%llu in the"
             " main database", (unsigned long long)last);
    T_EQ_INT(ox_check("r2.mdb", &rep), OX_ECORRUPT);
    T_EQ_STR(rep.problem, want);
    T_EQ_U64(rep.problem_pgno, 0);
    T_EQ_U64(rep.txnid, 2);
    T_EQ_INT(ox_repair("r2.mdb", what, sizeof(what)), OX_OK);
    snprintf(want, sizeof(want), "newest commit (txn 2) damaged: page 0: refers to page 1000000"
             " out of range 2..%llu in the main database (page 0); fell back to txn 1",
             (unsigned long long)last);
    T_EQ_STR(what, want);
    /* Only meta page 0 changed, and it now equals meta page 1 but for its page number. */
    T_EQ_INT(file_read("r2.mdb", &after), 0);
    T_EQ_U64(after.n, f.n);
    T_ASSERT(memcmp(after.b + f.psize, f.b + f.psize, f.n - f.psize) == 0);
    T_EQ_U64(g64(after.b), 0);
    T_ASSERT(memcmp(after.b + 8, f.b + f.psize + 8, 8 + 136) == 0);
    free(f.b);
    free(after.b);
    T_EQ_INT(ox_check("r2.mdb", &rep), OX_OK);
    T_EQ_U64(rep.txnid, 1);
    T_EQ_INT(verify_first_commit("r2.mdb"), 0);
    T_EQ_INT(ox_check("r2.mdb", &rep), OX_OK);
    T_EQ_U64(rep.txnid, 2);
}

static void repair_refuses_when_both_snapshots_are_damaged(void)
{
    file f, after;
    char what[512], want[512];

    T_EQ_INT(build_two_commits("r3.mdb"), 0);
    T_EQ_INT(file_read("r3.mdb", &f), 0);
    snprintf(want, sizeof(want), "no clean snapshot: page 1: refers to page 1 out of range"
             " 2..%llu in the main database (page 1); meta page 0: bad magic 0x00000000"
             " (page 0); nothing written", (unsigned long long)g64(page(&f, 1) + PAGEHDR + 120));
    memcpy(page(&f, 0) + PAGEHDR, "\0\0\0\0", 4);
    s64(page(&f, 1) + PAGEHDR + 72 + 40, 1); /* a meta page as the main root */
    T_EQ_INT(file_write("r3.mdb", &f), 0);
    T_EQ_INT(ox_repair("r3.mdb", what, sizeof(what)), OX_ECORRUPT);
    T_EQ_STR(what, want);
    T_EQ_INT(file_read("r3.mdb", &after), 0);
    T_ASSERT(after.n == f.n && memcmp(after.b, f.b, f.n) == 0);
    free(f.b);
    free(after.b);
    T_EQ_INT(ox_repair("r3.mdb", NULL, 0), OX_ECORRUPT);
}

static void repair_leaves_a_clean_file_alone(void)
{
    file after;
    char what[64];

    T_EQ_INT(ox_repair(BIG, what, sizeof(what)), OX_OK);
    T_EQ_STR(what, "clean, nothing done");
    T_EQ_INT(file_read(BIG, &after), 0);
    T_ASSERT(after.n == big_clean.n && memcmp(after.b, big_clean.b, after.n) == 0);
    free(after.b);
}

/* ---- garbage -------------------------------------------------------------------------- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* A small file, so that random flips land on structure often. */
static int build_small(const char *path)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi a, d, x;
    char k[16], v[3000];
    int rc;

    unlink(path);
    if ((rc = env_open(path, &env)) || (rc = mdb_txn_begin(env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "a", MDB_CREATE, &a)) ||
        (rc = mdb_dbi_open(txn, "d", MDB_CREATE | MDB_DUPSORT, &d)) ||
        (rc = mdb_dbi_open(txn, "x", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &x)))
        goto out;
    for (unsigned i = 0; i < 400 && !rc; i++) {
        snprintf(k, sizeof(k), "%04u", i);
        fill(v, i % 50 == 0 ? 3000 : 30, i);
        rc = put(txn, a, k, strlen(k), v, i % 50 == 0 ? 3000 : 30);
        if (!rc)
            rc = put(txn, d, k, i < 300 ? 2 : 4, k, strlen(k));
        if (!rc)
            rc = put(txn, x, k, 1, &i, sizeof(i));
    }
    if (rc || (rc = recommit(env, &txn)))
        goto out;
    for (unsigned i = 0; i < 400 && !rc; i += 3) {
        snprintf(k, sizeof(k), "%04u", i);
        rc = del(txn, a, k, strlen(k), NULL, 0);
    }
out:
    rc = finish(env, txn, rc);
    return rc;
}

static void random_damage_never_crashes(void)
{
    ox_check_report rep;
    file f, g;
    char what[512];
    unsigned corrupt = 0, repaired = 0;

    T_EQ_INT(build_small("small.mdb"), 0);
    T_EQ_INT(ox_check("small.mdb", &rep), OX_OK);
    T_EQ_INT(file_read("small.mdb", &f), 0);
    T_ASSERT(f.n / f.psize >= 20);
    g = f;
    g.b = malloc(f.n);
    T_ASSERT(g.b != NULL);
    for (int run = 0; run < 400; run++) {
        int rc, rrc, nflip = 1 + (int)(rnd() % 8);
        memcpy(g.b, f.b, f.n);
        for (int i = 0; i < nflip; i++) {
            /* Half the flips hit the first 64 bytes of a page: headers and first nodes. */
            size_t off = rnd() % 2 ? rnd() % f.n
                                   : (size_t)(rnd() % (f.n / f.psize)) * f.psize + rnd() % 64;
            g.b[off] ^= (uint8_t)(1u << (rnd() % 8));
        }
        if (file_write("fuzz.mdb", &g))
            T_FAIL("write");
        rc = ox_check("fuzz.mdb", &rep);
        if (rc != OX_OK && rc != OX_ECORRUPT)
            T_FAIL("run %d: ox_check returned %d", run, rc);
        if ((rc == OX_OK) != (rep.problem[0] == '\0'))
            T_FAIL("run %d: rc %d with problem \"%s\"", run, rc, rep.problem);
        corrupt += rc == OX_ECORRUPT;
        rrc = ox_repair("fuzz.mdb", what, sizeof(what));
        if (rrc != OX_OK && rrc != OX_ECORRUPT)
            T_FAIL("run %d: ox_repair returned %d", run, rrc);
        if (rc == OX_OK && (rrc != OX_OK || strcmp(what, "clean, nothing done") != 0))
            T_FAIL("run %d: clean file but repair said %d \"%s\"", run, rrc, what);
        if (rrc == OX_OK) {
            /* Whatever repair accepted, check accepts. */
            if ((rc = ox_check("fuzz.mdb", &rep)) != OX_OK)
                T_FAIL("run %d: repaired, then check says \"%s\"", run, rep.problem);
            repaired += strcmp(what, "clean, nothing done") != 0;
        }
    }
    free(f.b);
    free(g.b);
    fprintf(stderr, "  random damage: %u of 400 corrupt, %u repaired\n", corrupt, repaired);
    T_ASSERT(corrupt > 100);
}

/* A store at path whose N commits (2000-byte values: about four 1 MiB log segments) are
 * in its log only: written by a child that dies without closing (the page cache keeps
 * what it wrote: no sync is needed). 0, or -1 if the child failed. */
static int crashed_store(const char *path, int n)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        ox_options o;
        ox_options_init(&o);
        o.wal_size = 1 << 20;
        o.sync = OX_SYNC_NO;
        ox_store *s;
        if (ox_store_open(path, &o, &s))
            _exit(2);
        char k[32], v[2000];
        memset(v, 'v', sizeof v);
        for (int i = 0; i < n; i++) {
            snprintf(k, sizeof k, "k%d", i);
            if (ox_put(ox_store_table(s), k, strlen(k), v, sizeof v))
                _exit(3);
        }
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return 0;
}

/* ox_check walks the log too: a crash's commits after the last checkpoint are counted
 * (what the next open replays), and a segment gone from the middle is corruption, not a
 * silent loss. */
static void check_counts_the_log_and_finds_a_missing_segment(void)
{
    const char *path = u_path("logck.mdb");
    enum { N = 2000 };
    T_EQ_INT(crashed_store(path, N), 0);
    ox_check_report rep;
    T_EQ_INT(ox_check(path, &rep), OX_OK);
    T_EQ_INT(rep.recovery_pending, 1);
    T_EQ_U64(rep.log_records, N);
    /* The segments are named by their first record; drop the second one. */
    char seg[600], second[600] = "";
    for (unsigned q = 2; q <= N && !second[0]; q++) {
        snprintf(seg, sizeof seg, "%s-wal.%016x", path, q);
        if (access(seg, F_OK) == 0)
            snprintf(second, sizeof second, "%s", seg);
    }
    T_ASSERT(second[0]);
    T_EQ_INT(unlink(second), 0);
    T_EQ_INT(ox_check(path, &rep), OX_ECORRUPT);
    T_ASSERT(strstr(rep.problem, "write-ahead log") != NULL);
}

/* ox_repair on a sound file whose log holds a crash's commits writes them to the file:
 * the log has nothing left to replay, and every commit is there. */
static void repair_writes_the_logs_commits_to_the_file(void)
{
    const char *path = u_path("logrep.mdb");
    enum { N = 500 };
    T_EQ_INT(crashed_store(path, N), 0);
    char what[512];
    T_EQ_INT(ox_repair(path, what, sizeof what), OX_OK);
    T_ASSERT(strstr(what, "wrote the write-ahead log's later commits to it") != NULL);
    ox_check_report rep;
    T_EQ_INT(ox_check(path, &rep), OX_OK);
    T_EQ_INT(rep.recovery_pending, 0);
    T_EQ_U64(rep.log_records, 0);
    ox_store *s;
    T_EQ_INT(ox_store_open(path, NULL, &s), OX_OK);
    uint64_t n;
    T_EQ_INT(ox_count(ox_store_table(s), &n), OX_OK);
    T_EQ_U64(n, N);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

int main(void)
{
    T_RUN(check_clean_file_reports_exact_counts);
    T_RUN(check_counts_used_pages_like_lmdb);
    T_RUN(check_detects_bad_page_type);
    T_RUN(check_detects_keys_out_of_order);
    T_RUN(check_detects_branch_out_of_range);
    T_RUN(check_detects_page_referenced_by_two_trees);
    T_RUN(check_detects_used_page_on_free_list);
    T_RUN(check_detects_entries_mismatch);
    T_RUN(check_and_repair_refuse_a_busy_file);
    T_RUN(repair_restores_a_meta_page_with_bad_magic);
    T_RUN(repair_falls_back_when_the_newest_root_is_out_of_range);
    T_RUN(repair_refuses_when_both_snapshots_are_damaged);
    T_RUN(repair_leaves_a_clean_file_alone);
    T_RUN(random_damage_never_crashes);
    T_RUN(check_counts_the_log_and_finds_a_missing_segment);
    T_RUN(repair_writes_the_logs_commits_to_the_file);
    free(big_clean.b);
    return T_MAIN_END();
}
