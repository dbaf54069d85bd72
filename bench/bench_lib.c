/* bench_lib — liboxistore's in-process throughput beside the same loops written directly
 * against LMDB, printed as ratios (this machine is shared and noisy: absolute figures mean
 * little, ratios taken in one run do). Each figure is the best of BENCH_REPS runs, the two
 * sides interleaved. Usage: bench_lib [dir] (default: a fresh directory under /tmp).
 *
 * The raw side stores keys and records of the same sizes as liboxistore's (its 1-byte key
 * kind + the key, its 1-byte header + the value), so both B-trees have the same shape and
 * the ratio isolates the library's own cost. This matters: LMDB's scan speed alone varies up to 2x with the record size
 * (page layout), so one extra line scans a raw tree of bare 100-byte values as well. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oxistore.h"

#define NKEYS 200000
#define NGETS 1000000
#define VLEN 100
#define BATCH 10000
#define SINGLES 20000
#define BENCH_REPS 5

static char g_dir[512];
static unsigned g_perm[NGETS];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t key_of(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 32, "key:%012u", i);
}

/* The same key as liboxistore stores it: a kind byte first. */
static MDB_val raw_key_of(char *buf, unsigned i)
{
    buf[0] = 0;
    return (MDB_val){1 + key_of(buf + 1, i), buf};
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_lib: %s failed: %d\n", what, rc);
    exit(1);
}

/* ---- the raw LMDB side ---------------------------------------------------------------- */

typedef struct raw {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn; /* kept reset between gets, as liboxistore's pool does */
    size_t vlen;   /* record size stored */
} raw;

static void raw_open(raw *r, const char *path, size_t vlen)
{
    r->vlen = vlen;
    MDB_txn *txn;
    int rc;
    if ((rc = mdb_env_create(&r->env)))
        die("mdb_env_create", rc);
    mdb_env_set_mapsize(r->env, (size_t)1 << 30);
    mdb_env_set_maxdbs(r->env, 4);
    if ((rc = mdb_env_open(r->env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0644)))
        die("mdb_env_open", rc);
    if ((rc = mdb_txn_begin(r->env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "data", MDB_CREATE, &r->dbi)) || (rc = mdb_txn_commit(txn)))
        die("raw dbi", rc);
    if ((rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->rtxn)))
        die("raw rtxn", rc);
    mdb_txn_reset(r->rtxn);
}

static void raw_put_batch(raw *r, unsigned from, unsigned n, const char *v)
{
    MDB_txn *txn;
    char k[32];
    int rc = mdb_txn_begin(r->env, NULL, 0, &txn);
    for (unsigned i = from; rc == 0 && i < from + n; i++) {
        MDB_val key = raw_key_of(k, i), val = {r->vlen, (void *)v};
        rc = mdb_put(txn, r->dbi, &key, &val, 0);
    }
    if (rc || (rc = mdb_txn_commit(txn)))
        die("raw put", rc);
}

static double raw_gets(raw *r)
{
    char k[32];
    size_t sum = 0;
    double t0 = now_s();
    for (unsigned i = 0; i < NGETS; i++) {
        MDB_val key = raw_key_of(k, g_perm[i]), val;
        mdb_txn_renew(r->rtxn);
        if (mdb_get(r->rtxn, r->dbi, &key, &val) == 0) {
            void *copy = malloc(val.mv_size);
            memcpy(copy, val.mv_data, val.mv_size);
            sum += ((unsigned char *)copy)[0];
            free(copy);
        }
        mdb_txn_reset(r->rtxn);
    }
    double dt = now_s() - t0;
    if (sum == 0)
        die("raw gets found nothing", 0);
    return NGETS / dt;
}

static double raw_snapshot_gets(raw *r)
{
    char k[32];
    size_t sum = 0;
    double t0 = now_s();
    mdb_txn_renew(r->rtxn);
    for (unsigned i = 0; i < NGETS; i++) {
        MDB_val key = raw_key_of(k, g_perm[i]), val;
        if (mdb_get(r->rtxn, r->dbi, &key, &val) == 0)
            sum += val.mv_size;
    }
    mdb_txn_reset(r->rtxn);
    double dt = now_s() - t0;
    if (sum != (size_t)NGETS * r->vlen)
        die("raw snapshot gets", 0);
    return NGETS / dt;
}

static double raw_scan(raw *r)
{
    MDB_cursor *c;
    MDB_val k, v;
    size_t n = 0, sum = 0;
    double t0 = now_s();
    mdb_txn_renew(r->rtxn);
    mdb_cursor_open(r->rtxn, r->dbi, &c);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        n++;
        sum += v.mv_size + k.mv_size;
    }
    mdb_cursor_close(c);
    mdb_txn_reset(r->rtxn);
    double dt = now_s() - t0;
    if (n != NKEYS || sum == 0)
        die("raw scan", (int)n);
    return (double)n / dt;
}

static double raw_singles(raw *r, const char *v)
{
    double t0 = now_s();
    for (unsigned i = 0; i < SINGLES; i++)
        raw_put_batch(r, i * 7 % NKEYS, 1, v); /* overwrites: the key count stays */
    return SINGLES / (now_s() - t0);
}

static double raw_batched(raw *r, const char *v)
{
    double t0 = now_s();
    for (unsigned i = 0; i < NKEYS; i += BATCH)
        raw_put_batch(r, i, BATCH, v);
    return NKEYS / (now_s() - t0);
}

/* ---- the liboxistore side -------------------------------------------------------------- */

static void ox_put_batch(ox_store *s, unsigned from, unsigned n, const char *v)
{
    ox_txn *x;
    ox_table *t = ox_store_table(s);
    char k[32];
    int rc = ox_txn_begin(s, &x);
    for (unsigned i = from; rc == 0 && i < from + n; i++)
        rc = ox_txn_put(x, t, k, key_of(k, i), v, VLEN, 0, 0);
    if (rc || (rc = ox_txn_commit(x)))
        die("ox put", rc);
}

static double oxs_gets(ox_store *s)
{
    ox_table *t = ox_store_table(s);
    char k[32];
    size_t sum = 0;
    double t0 = now_s();
    for (unsigned i = 0; i < NGETS; i++) {
        void *v;
        size_t n;
        if (ox_get(t, k, key_of(k, g_perm[i]), &v, &n) == OX_OK) {
            sum += ((unsigned char *)v)[0];
            free(v);
        }
    }
    double dt = now_s() - t0;
    if (sum == 0)
        die("ox gets found nothing", 0);
    return NGETS / dt;
}

static double oxs_snapshot_gets(ox_store *s)
{
    ox_table *t = ox_store_table(s);
    ox_snapshot *snap;
    char k[32];
    size_t sum = 0;
    double t0 = now_s();
    ox_snapshot_begin(s, &snap);
    for (unsigned i = 0; i < NGETS; i++) {
        ox_val v;
        if (ox_snapshot_get(snap, t, k, key_of(k, g_perm[i]), &v) == OX_OK)
            sum += v.len;
    }
    ox_snapshot_end(snap);
    double dt = now_s() - t0;
    if (sum != (size_t)NGETS * VLEN)
        die("ox snapshot gets", 0);
    return NGETS / dt;
}

static double oxs_scan(ox_store *s)
{
    ox_iter *it;
    ox_val k, v;
    size_t n = 0, sum = 0;
    double t0 = now_s();
    ox_range(ox_store_table(s), NULL, NULL, 0, &it);
    while (ox_iter_next(it, &k, &v) == OX_OK) {
        n++;
        sum += v.len + k.len;
    }
    ox_iter_close(it);
    double dt = now_s() - t0;
    if (n != NKEYS || sum == 0)
        die("ox scan", (int)n);
    return (double)n / dt;
}

static double oxs_singles(ox_store *s, const char *v)
{
    double t0 = now_s();
    for (unsigned i = 0; i < SINGLES; i++)
        ox_put_batch(s, i * 7 % NKEYS, 1, v);
    return SINGLES / (now_s() - t0);
}

static double oxs_batched(ox_store *s, const char *v)
{
    double t0 = now_s();
    for (unsigned i = 0; i < NKEYS; i += BATCH)
        ox_put_batch(s, i, BATCH, v);
    return NKEYS / (now_s() - t0);
}

/* ---- driver -------------------------------------------------------------------------- */

static double best(double a, double b)
{
    return a > b ? a : b;
}

static void report(const char *name, double oxv, double rawv, const char *goal)
{
    printf("%-34s %12.0f %12.0f   %5.2fx   overhead %5.2fx %s\n", name, oxv, rawv, oxv / rawv,
           rawv / oxv, goal);
}

int main(int argc, char **argv)
{
    char lock_b[700];
    if (argc > 1)
        snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
    else if (!mkdtemp(strcpy(g_dir, "/tmp/oxbench.XXXXXX")))
        die("mkdtemp", 0);
    mkdir(g_dir, 0755);
    char opath[600], rpath[600];
    snprintf(opath, sizeof opath, "%s/ox.mdb", g_dir);
    snprintf(rpath, sizeof rpath, "%s/raw.mdb", g_dir);
    unlink(opath);
    unlink(rpath);

    unsigned seed = 42;
    for (unsigned i = 0; i < NGETS; i++)
        g_perm[i] = (unsigned)rand_r(&seed) % NKEYS;
    char v[VLEN + 1];
    memset(v, 'x', sizeof v);

    ox_options o;
    ox_options_init(&o);
    o.sync = OX_SYNC_NO; /* both sides without fsync: this measures the library, not the disk */
    o.map_size = (size_t)1 << 30;
    ox_store *s;
    int rc = ox_store_open(opath, &o, &s);
    if (rc)
        die("ox_store_open", rc);
    raw r, bare;
    raw_open(&r, rpath, VLEN + 1);
    char bpath[600];
    snprintf(bpath, sizeof bpath, "%s/bare.mdb", g_dir);
    unlink(bpath);
    raw_open(&bare, bpath, VLEN);
    raw_batched(&bare, v);

    double ob = 0, rb = 0, og = 0, rg = 0, os = 0, rs = 0, oc = 0, rc2 = 0, o1 = 0, r1 = 0;
    double bc = 0;
    for (int rep = 0; rep < BENCH_REPS; rep++) {
        ob = best(ob, oxs_batched(s, v));
        rb = best(rb, raw_batched(&r, v));
        og = best(og, oxs_gets(s));
        rg = best(rg, raw_gets(&r));
        os = best(os, oxs_snapshot_gets(s));
        rs = best(rs, raw_snapshot_gets(&r));
        oc = best(oc, oxs_scan(s));
        rc2 = best(rc2, raw_scan(&r));
        bc = best(bc, raw_scan(&bare));
        o1 = best(o1, oxs_singles(s, v));
        r1 = best(r1, raw_singles(&r, v));
    }
    printf("liboxistore vs raw LMDB, %d keys of 16 B, %d-byte values, best of %d, no fsync\n",
           NKEYS, VLEN, BENCH_REPS);
    printf("%-34s %12s %12s   %6s\n", "operation (ops/s)", "oxistore", "raw LMDB", "ratio");
    report("get (copy out, one txn each)", og, rg, "(goal: overhead <= 1.20x)");
    report("get in a snapshot (zero-copy)", os, rs, "");
    report("range scan, all keys", oc, rc2, "(goal: overhead <= 1.20x)");
    report("range scan vs bare 100 B records", oc, bc, "(LMDB layout effect included)");
    report("put, batched 10k per commit", ob, rb, "");
    report("put, one commit each", o1, r1, "");

    mdb_txn_abort(r.rtxn);
    mdb_env_close(r.env);
    mdb_txn_abort(bare.rtxn);
    mdb_env_close(bare.env);
    unlink(bpath);
    snprintf(lock_b, sizeof lock_b, "%s-lock", bpath);
    unlink(lock_b);
    ox_store_close(s);
    unlink(opath);
    unlink(rpath);
    char lock[700];
    snprintf(lock, sizeof lock, "%s-lock", opath);
    unlink(lock);
    snprintf(lock, sizeof lock, "%s-lock", rpath);
    unlink(lock);
    if (argc <= 1)
        rmdir(g_dir);
    return 0;
}
