/* Replication support: the commit hook, commit records applied to another store
 * (ox_record_tables, ox_txn_apply), a backup's sequence number (ox_backup_seq), and a
 * store's whole content replaced by a backup's (ox_store_replace). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

#define T0 1000000u

/* ---- what the hook saw ------------------------------------------------------------------ */

enum { RECS_MAX = 64 };

typedef struct recs {
    int n, overflow;
    uint64_t seq[RECS_MAX];
    size_t len[RECS_MAX];
    unsigned char *p[RECS_MAX];
} recs;

static void recs_hook(void *arg, uint64_t seq, const void *rec, size_t len)
{
    recs *r = arg;
    if (r->n == RECS_MAX || !(r->p[r->n] = malloc(len ? len : 1))) {
        r->overflow = 1;
        return;
    }
    memcpy(r->p[r->n], rec, len);
    r->seq[r->n] = seq;
    r->len[r->n++] = len;
}

static void recs_free(recs *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->p[i]);
    r->n = 0;
}

/* Applies every record of r after sequence number `after` to b, one transaction each. */
static int recs_apply(ox_store *b, const recs *r, uint64_t after)
{
    for (int i = 0; i < r->n; i++) {
        if (r->seq[i] <= after)
            continue;
        ox_txn *x;
        int rc = ox_record_tables(b, r->p[i], r->len[i], NULL, 0, NULL);
        if (rc == OX_OK)
            rc = ox_txn_begin(b, &x);
        if (rc)
            return rc;
        if ((rc = ox_txn_apply(x, r->p[i], r->len[i]))) {
            ox_txn_rollback(x);
            return rc;
        }
        if ((rc = ox_txn_commit(x)))
            return rc;
    }
    return OX_OK;
}

static uint64_t last_seq(ox_store *s)
{
    ox_write_info wi;
    return ox_store_write_info(s, &wi) == OX_OK ? wi.last_seq : UINT64_MAX;
}

/* ---- comparing two stores' tables ------------------------------------------------------ */

/* 0 if table ta (of store sa) and tb (of sb) hold the same live keys with the same values,
 * kinds and expiry times, and the same counts (expired keys not purged included); else -1
 * with why. */
static int same_table(ox_store *sa, ox_table *ta, ox_store *sb, ox_table *tb, char *why,
                      size_t whylen)
{
    uint64_t ca, cb, ea, eb;
    ox_count(ta, &ca);
    ox_count(tb, &cb);
    ox_count_expires(ta, &ea);
    ox_count_expires(tb, &eb);
    if (ca != cb || ea != eb) {
        snprintf(why, whylen, "%s: counts %llu/%llu against %llu/%llu", ox_table_name(ta),
                 (unsigned long long)ca, (unsigned long long)ea, (unsigned long long)cb,
                 (unsigned long long)eb);
        return -1;
    }
    ox_snapshot *xa, *xb;
    ox_iter *it;
    ox_val k, v;
    int bad = 0;
    size_t na = 0, nb = 0;
    if (ox_snapshot_begin(sa, &xa) || ox_snapshot_begin(sb, &xb)) {
        snprintf(why, whylen, "snapshot");
        return -1;
    }
    if (ox_snapshot_range(xa, ta, NULL, NULL, 0, &it) == OX_OK) {
        while (!bad && ox_iter_next(it, &k, &v) == OX_OK) {
            ox_val va, vb;
            unsigned ka, kb;
            uint64_t aa, ab;
            na++;
            int rca = ox_snapshot_read(xa, ta, k.data, k.len, &va, &ka, &aa);
            int rcb = ox_snapshot_read(xb, tb, k.data, k.len, &vb, &kb, &ab);
            if (rca || rcb || va.len != vb.len || memcmp(va.data, vb.data, va.len) ||
                ka != kb || aa != ab || ka != ox_iter_kind(it)) {
                snprintf(why, whylen, "%s: key %.*s: rc %d/%d kind %u/%u at %llu/%llu",
                         ox_table_name(ta), (int)(k.len > 40 ? 40 : k.len),
                         (const char *)k.data, rca, rcb, ka, kb, (unsigned long long)aa,
                         (unsigned long long)ab);
                bad = 1;
            }
        }
        ox_iter_close(it);
    } else {
        bad = 1;
    }
    if (!bad && ox_snapshot_range(xb, tb, NULL, NULL, OX_ITER_KEYS_ONLY, &it) == OX_OK) {
        while (ox_iter_next(it, &k, &v) == OX_OK)
            nb++;
        ox_iter_close(it);
        if (na != nb) {
            snprintf(why, whylen, "%s: %zu live keys against %zu", ox_table_name(ta), na, nb);
            bad = 1;
        }
    }
    ox_snapshot_end(xa);
    ox_snapshot_end(xb);
    return bad ? -1 : 0;
}

/* same_table over the tables named in names (opened in both stores). */
static int same_tables(ox_store *a, ox_store *b, const char *const *names, int n, char *why,
                       size_t whylen)
{
    for (int i = 0; i < n; i++) {
        ox_table *ta, *tb;
        if (ox_table_open(a, names[i], &ta) || ox_table_open(b, names[i], &tb)) {
            snprintf(why, whylen, "open %s", names[i]);
            return -1;
        }
        if (same_table(a, ta, b, tb, why, whylen))
            return -1;
    }
    return 0;
}

static int get_is(ox_table *t, const char *key, const char *want)
{
    void *v;
    size_t n;
    int rc = ox_get(t, key, strlen(key), &v, &n);
    if (rc)
        return want ? rc : (rc == OX_NOTFOUND ? 0 : rc);
    int ok = want && n == strlen(want) && !memcmp(v, want, n);
    free(v);
    return ok ? 0 : -1;
}

static int open_clk(const char *name, u_clock *clk, ox_store **s)
{
    return u_open(name, clk, s);
}

/* ---- the hook --------------------------------------------------------------------------- */

static void hook_sees_each_commit_in_order_with_consecutive_seqs(void)
{
    ox_store *s;
    recs r = {0};
    T_EQ_INT(u_open("hook.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "before", 6, "1", 1), OX_OK); /* before the hook: not seen */
    uint64_t base = last_seq(s);
    T_EQ_U64(base, 1);
    ox_store_on_commit(s, recs_hook, &r);
    T_EQ_INT(ox_put(t, "a", 1, "1", 1), OX_OK);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK); /* two writes, one commit */
    T_EQ_INT(ox_txn_put(x, t, "b", 1, "2", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "c", 1, "3", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK); /* rolled back */
    T_EQ_INT(ox_txn_put(x, t, "d", 1, "4", 1, 0, 0), OX_OK);
    ox_txn_rollback(x);
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK); /* empty */
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK); /* writes nothing: a delete of no key */
    T_EQ_INT(ox_txn_delete(x, t, "zz", 2), OX_NOTFOUND);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_delete(t, "a", 1), OX_OK);
    T_EQ_INT(r.overflow, 0);
    T_EQ_INT(r.n, 3);
    for (int i = 0; i < r.n; i++)
        T_EQ_U64(r.seq[i], base + 1 + (uint64_t)i);
    T_EQ_U64(last_seq(s), base + 3);
    ox_store_on_commit(s, NULL, NULL);
    T_EQ_INT(ox_put(t, "e", 1, "5", 1), OX_OK);
    T_EQ_INT(r.n, 3);
    T_EQ_INT(ox_store_close(s), OX_OK);
    recs_free(&r);
    /* A failed commit (its record refused by the log) is not provoked here: it takes a
     * failing disk (tests/server/test_diskfault's shim). */
}

static void hook_runs_for_in_memory_and_wrapped_stores(void)
{
    ox_options o;
    ox_options_init(&o);
    o.in_memory = 1;
    ox_store *s;
    recs r = {0};
    T_EQ_INT(ox_store_open(NULL, &o, &s), OX_OK);
    ox_store_on_commit(s, recs_hook, &r);
    T_EQ_INT(ox_put(ox_store_table(s), "k", 1, "v", 1), OX_OK);
    T_EQ_INT(r.n, 1);
    T_EQ_U64(r.seq[0], 1);
    T_EQ_INT(ox_store_replace(s, u_path("nothing.mdb")), OX_EINVAL);
    ox_store_close(s);
    recs_free(&r);

    MDB_env *env;
    T_EQ_INT(mdb_env_create(&env), 0);
    T_EQ_INT(mdb_env_set_maxdbs(env, 2 * 64 + 1), 0);
    T_EQ_INT(mdb_env_open(env, u_path("wrapped.mdb"), MDB_NOSUBDIR | MDB_NOTLS, 0644), 0);
    T_EQ_INT(ox_store_wrap(env, NULL, &s), OX_OK);
    ox_store_on_commit(s, recs_hook, &r);
    T_EQ_INT(ox_put(ox_store_table(s), "k", 1, "v", 1), OX_OK);
    T_EQ_INT(ox_put(ox_store_table(s), "l", 1, "w", 1), OX_OK);
    T_EQ_INT(r.n, 2);
    T_EQ_U64(r.seq[0], 1);
    T_EQ_U64(r.seq[1], 2);
    T_EQ_INT(ox_store_replace(s, u_path("nothing.mdb")), OX_EINVAL);
    ox_store_close(s);
    mdb_env_close(env);
    recs_free(&r);
}

/* ---- a replica's round trip ---------------------------------------------------------------- */

static const char *const rt_tables[] = {"default", "second"};

/* Commits into a (clock clk) a history of every kind of write: puts with kinds and expiry
 * times, a long key, deletes, expiry changes, persist, purges, a clear, conditional puts,
 * and ops whose answer is "not found" although they write. Leaves clk at T0 + 400. */
static int rt_history(ox_store *a, u_clock *clk)
{
    ox_table *d = ox_store_table(a), *t2;
    ox_txn *x;
    char lk[600];
    size_t n;
    memset(lk, 'L', sizeof lk);
    clk->now = T0;
    if (ox_table_open(a, "second", &t2) || ox_txn_begin(a, &x))
        return -1;
    int bad = ox_txn_put(x, d, "a", 1, "va", 2, 0, OX_PUT_KIND(1)) ||
              ox_txn_put(x, d, "b", 1, "vb", 2, T0 + 100, OX_PUT_KIND(2)) ||
              ox_txn_put(x, d, "c", 1, "vc", 2, T0 + 5000, 0) ||
              ox_txn_put(x, d, "d", 1, "vd", 2, T0 + 50, OX_PUT_KIND(7)) ||
              ox_txn_put(x, d, lk, sizeof lk, "vlong", 5, T0 + 7000, OX_PUT_KIND(3)) ||
              ox_txn_put(x, t2, "x", 1, "vx", 2, 0, OX_PUT_KIND(4)) ||
              ox_txn_put(x, t2, "y", 1, "vy", 2, T0 + 10, 0) || ox_txn_commit(x);
    bad = bad || ox_put(d, "e", 1, "ve", 2) || ox_put_with_ttl(d, "f", 1, "vf", 2, 200);
    if (bad || ox_txn_begin(a, &x))
        return -1;
    bad = ox_txn_delete(x, d, "a", 1) || ox_txn_expire_at(x, d, "c", 1, T0 + 3000) ||
          ox_txn_persist(x, d, "b", 1) ||
          ox_txn_put(x, d, "e", 1, "no", 2, 0, OX_PUT_NOOVERWRITE) != OX_ECONFLICT ||
          ox_txn_put(x, d, "zz", 2, "no", 2, 0, OX_PUT_ONLYIFEXISTS) != OX_NOTFOUND ||
          ox_txn_put(x, d, "e", 1, "ve2", 3, T0 + 9, OX_PUT_KEEPTTL | OX_PUT_KIND(5)) ||
          ox_txn_put(x, d, "f", 1, "vf2", 3, 0, OX_PUT_KEEPTTL | OX_PUT_KIND(6)) ||
          ox_txn_persist(x, d, "e", 1) != OX_NOTTL || ox_txn_commit(x);
    clk->now = T0 + 60; /* d and y expired */
    if (bad || ox_txn_begin(a, &x))
        return -1;
    bad = ox_txn_purge_expired(x, d, 0, &n) || n != 1 ||
          ox_txn_delete(x, t2, "y", 1) != OX_NOTFOUND || ox_txn_commit(x);
    clk->now = T0 + 300; /* f expired */
    if (bad || ox_txn_begin(a, &x))
        return -1;
    bad = ox_txn_clear(x, t2) ||
          ox_txn_put(x, t2, "z", 1, "vz", 2, T0 + 1000, OX_PUT_KIND(2)) ||
          ox_txn_purge_expired(x, d, 1, &n) || n != 1 ||
          ox_txn_put(x, d, "g", 1, "vg", 2, T0 + 350, 0) || ox_txn_commit(x);
    clk->now = T0 + 400; /* g expired, not purged */
    if (bad || ox_txn_begin(a, &x))
        return -1;
    bad = ox_txn_put(x, d, "g", 1, "vg2", 3, 0, OX_PUT_NOOVERWRITE) ||
          ox_txn_put(x, d, "h", 1, "vh", 2, T0 + 390, 0) || ox_txn_commit(x);
    if (bad || ox_txn_begin(a, &x)) /* nothing to purge: no record */
        return -1;
    bad = ox_txn_purge_expired(x, t2, 0, &n) || n != 0 || ox_txn_commit(x);
    return bad ? -1 : 0;
}

static void applied_records_rebuild_the_same_content(void)
{
    u_clock clk = {T0};
    ox_store *a, *b;
    recs ra = {0}, rb = {0};
    char why[256];
    T_EQ_INT(open_clk("rt_a.mdb", &clk, &a), OX_OK);
    ox_store_on_commit(a, recs_hook, &ra);
    T_EQ_INT(rt_history(a, &clk), 0);
    T_EQ_INT(ra.overflow, 0);
    T_EQ_INT(ra.n, 7);
    T_EQ_U64(last_seq(a), 7);

    /* B's own clock is far ahead while it applies: the records' times rule. */
    T_EQ_INT(open_clk("rt_b.mdb", &clk, &b), OX_OK);
    ox_store_on_commit(b, recs_hook, &rb);
    clk.now = T0 + 1000000000u;
    T_EQ_INT(recs_apply(b, &ra, 0), OX_OK);
    clk.now = T0 + 400;
    if (same_tables(a, b, rt_tables, 2, why, sizeof why))
        T_FAIL("after apply: %s", why);
    /* B logged each record as its own commit: the same bytes, the same numbers. */
    T_EQ_INT(rb.n, ra.n);
    for (int i = 0; i < ra.n; i++) {
        T_EQ_U64(rb.seq[i], ra.seq[i]);
        T_EQ_MEM(rb.p[i], rb.len[i], ra.p[i], ra.len[i]);
    }
    /* Spot checks of what the history left. */
    ox_table *d;
    T_EQ_INT(ox_table_open(b, "default", &d), OX_OK);
    T_EQ_INT(get_is(d, "a", NULL), 0);
    T_EQ_INT(get_is(d, "e", "ve2"), 0);
    T_EQ_INT(get_is(d, "g", "vg2"), 0);
    uint64_t n;
    T_EQ_INT(ox_count(d, &n), OX_OK);
    T_EQ_U64(n, 6); /* b c e g h long; h expired, not purged */
    ox_table *t2;
    T_EQ_INT(ox_table_open(b, "second", &t2), OX_OK);
    T_EQ_INT(ox_count(t2, &n), OX_OK);
    T_EQ_U64(n, 1);

    T_EQ_INT(ox_store_close(b), OX_OK);
    T_EQ_INT(open_clk("rt_b.mdb", &clk, &b), OX_OK);
    if (same_tables(a, b, rt_tables, 2, why, sizeof why))
        T_FAIL("after reopen: %s", why);
    T_EQ_U64(last_seq(b), 7);
    T_EQ_INT(ox_store_close(b), OX_OK);

    /* The same, ended by a crash: B's log alone brings the applied records back. (Forked
     * with no store open: no thread of this process runs.) */
    T_EQ_INT(ox_store_close(a), OX_OK);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        ox_store *c;
        if (open_clk("rt_c.mdb", &clk, &c) || recs_apply(c, &ra, 0))
            _exit(2);
        _exit(0); /* no close: no checkpoint */
    }
    int status;
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_EQ_INT(open_clk("rt_a.mdb", &clk, &a), OX_OK);
    T_EQ_INT(open_clk("rt_c.mdb", &clk, &b), OX_OK);
    if (same_tables(a, b, rt_tables, 2, why, sizeof why))
        T_FAIL("after crash: %s", why);
    T_EQ_INT(ox_store_close(b), OX_OK);
    T_EQ_INT(ox_store_close(a), OX_OK);
    recs_free(&ra);
    recs_free(&rb);
}

static void apply_refuses_unopened_tables_and_garbage_untouched(void)
{
    ox_store *a, *b;
    recs r = {0};
    T_EQ_INT(u_open("ap_a.mdb", NULL, &a), OX_OK);
    ox_table *t, *u;
    ox_txn *x;
    T_EQ_INT(ox_table_open(a, "other", &t), OX_OK);
    ox_store_on_commit(a, recs_hook, &r);
    T_EQ_INT(ox_txn_begin(a, &x), OX_OK); /* two ops: a cut keeps the first one whole */
    T_EQ_INT(ox_txn_put(x, ox_store_table(a), "k", 1, "v", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_put(x, ox_store_table(a), "k2", 2, "v2", 2, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_put(t, "k", 1, "v", 1), OX_OK);
    T_EQ_INT(r.n, 2);

    T_EQ_INT(u_open("ap_b.mdb", NULL, &b), OX_OK);
    T_EQ_INT(ox_txn_begin(b, &x), OX_OK);
    T_EQ_INT(ox_txn_apply(x, r.p[1], r.len[1]), OX_NOTFOUND); /* "other" not open */
    T_EQ_INT(ox_txn_apply(x, "garbage", 7), OX_ECORRUPT);
    T_EQ_INT(ox_txn_apply(x, r.p[0], r.len[0] - 1), OX_ECORRUPT); /* cut short */
    /* Refused whole: nothing applied, the transaction goes on. */
    T_EQ_INT(ox_txn_contains(x, ox_store_table(b), "k", 1), OX_NOTFOUND);
    T_EQ_INT(ox_txn_apply(x, r.p[0], r.len[0]), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(get_is(ox_store_table(b), "k", "v"), 0);
    T_EQ_INT(get_is(ox_store_table(b), "k2", "v2"), 0);
    T_EQ_INT(ox_record_tables(b, "garbage", 7, NULL, 0, NULL), OX_ECORRUPT);
    ox_table *seen[4];
    size_t nseen = 9;
    T_EQ_INT(ox_record_tables(b, r.p[1], r.len[1], seen, 4, &nseen), OX_OK);
    T_ASSERT(nseen >= 1);
    for (size_t i = 0; i < nseen; i++)
        for (size_t k = 0; k < i; k++)
            T_ASSERT(seen[i] != seen[k]);
    T_EQ_INT(ox_table_open(b, "other", &u), OX_OK);
    T_EQ_INT(ox_txn_begin(b, &x), OX_OK);
    T_EQ_INT(ox_txn_apply(x, r.p[1], r.len[1]), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(get_is(u, "k", "v"), 0);
    T_EQ_U64(last_seq(b), 2);
    ox_store_close(b);
    ox_store_close(a);
    recs_free(&r);
}

/* ---- a backup's sequence number ---------------------------------------------------------- */

static void backup_seq_is_the_last_commit_the_backup_holds(void)
{
    ox_store *a;
    T_EQ_INT(u_open("bs.mdb", NULL, &a), OX_OK);
    ox_table *t = ox_store_table(a);
    uint64_t seq = 99;
    T_EQ_INT(ox_backup(a, u_path("bs0.bak"), 0), OX_OK);
    T_EQ_INT(ox_backup_seq(u_path("bs0.bak"), &seq), OX_OK);
    T_EQ_U64(seq, 0); /* nothing committed yet */
    for (int i = 0; i < 7; i++) {
        char k[16];
        size_t kl = U_KEY(k, "k%d", i);
        T_EQ_INT(ox_put(t, k, kl, "v", 1), OX_OK);
    }
    T_EQ_INT(ox_backup(a, u_path("bs.bak"), 0), OX_OK);
    T_EQ_INT(ox_backup(a, u_path("bsc.bak"), 1), OX_OK);
    T_EQ_INT(ox_backup_seq(u_path("bs.bak"), &seq), OX_OK);
    T_EQ_U64(seq, last_seq(a));
    T_EQ_U64(seq, 7);
    T_EQ_INT(ox_backup_seq(u_path("bsc.bak"), &seq), OX_OK);
    T_EQ_U64(seq, 7);
    ox_store_close(a);

    T_EQ_INT(ox_backup_seq(u_path("no-such.bak"), &seq), OX_EINVAL);
    FILE *f = fopen(u_path("text.bak"), "w");
    T_ASSERT(f != NULL);
    for (int i = 0; i < 2000; i++)
        fputs("not an LMDB file\n", f);
    fclose(f);
    T_EQ_INT(ox_backup_seq(u_path("text.bak"), &seq), OX_ECORRUPT);
    /* An LMDB file that is no store. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    T_EQ_INT(mdb_env_create(&env), 0);
    T_EQ_INT(mdb_env_set_maxdbs(env, 4), 0);
    T_EQ_INT(mdb_env_open(env, u_path("plain.mdb"), MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    T_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
    T_EQ_INT(mdb_dbi_open(txn, "something", MDB_CREATE, &dbi), 0);
    T_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    T_EQ_INT(ox_backup_seq(u_path("plain.mdb"), &seq), OX_ECORRUPT);
}

/* ---- replacing a store's content --------------------------------------------------------- */

/* A: default {k1=a1, shared=fromA}, onlyA {q=qa, kind 3, expiring at T0 + 10^6}. */
static int fill_a(ox_store *a)
{
    ox_table *d = ox_store_table(a), *q;
    ox_txn *x;
    if (ox_table_open(a, "onlyA", &q) || ox_put(d, "k1", 2, "a1", 2) ||
        ox_put(d, "shared", 6, "fromA", 5) || ox_txn_begin(a, &x))
        return -1;
    if (ox_txn_put(x, q, "q", 1, "qa", 2, T0 + 1000000, OX_PUT_KIND(3))) {
        ox_txn_rollback(x);
        return -1;
    }
    return ox_txn_commit(x) ? -1 : 0;
}

/* B: default {k1=b1, bonly=x, shared=fromB}, onlyB {w=wb}; n more commits of "pad". */
static int fill_b(ox_store *b, int n)
{
    ox_table *d = ox_store_table(b), *w;
    if (ox_table_open(b, "onlyB", &w) || ox_put(d, "k1", 2, "b1", 2) ||
        ox_put(d, "bonly", 5, "x", 1) || ox_put(d, "shared", 6, "fromB", 5) ||
        ox_put(w, "w", 1, "wb", 2))
        return -1;
    for (int i = 0; i < n; i++)
        if (ox_put(d, "pad", 3, "p", 1))
            return -1;
    return ox_delete(d, "pad", 3) == (n ? OX_OK : OX_NOTFOUND) ? 0 : -1;
}

typedef struct reader {
    ox_table *t;
    atomic_int stop, errors, old_after_new, saw_new;
    atomic_long loops;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    while (!atomic_load(&r->stop)) {
        void *v;
        size_t n;
        int rc = ox_get(r->t, "shared", 6, &v, &n);
        if (rc) {
            atomic_fetch_add(&r->errors, 1);
        } else {
            if (n == 5 && !memcmp(v, "fromA", 5))
                atomic_store(&r->saw_new, 1);
            else if (n == 5 && !memcmp(v, "fromB", 5) && atomic_load(&r->saw_new))
                atomic_fetch_add(&r->old_after_new, 1);
            else if (!(n == 5 && !memcmp(v, "fromB", 5)))
                atomic_fetch_add(&r->errors, 1);
            free(v);
        }
        atomic_fetch_add(&r->loops, 1);
    }
    return NULL;
}

static void wait_loops(reader *r, long n)
{
    while (atomic_load(&r->loops) < n)
        sched_yield();
}

static const char *const rp_tables[] = {"default", "onlyA"};

static void replace_switches_whole_content_under_readers(void)
{
    u_clock clk = {T0};
    ox_store *a, *b;
    char why[256];
    T_EQ_INT(open_clk("rp_a.mdb", &clk, &a), OX_OK);
    T_EQ_INT(fill_a(a), 0);
    T_EQ_INT(ox_backup(a, u_path("rp.bak"), 0), OX_OK);
    T_EQ_INT(open_clk("rp_b.mdb", &clk, &b), OX_OK);
    T_EQ_INT(fill_b(b, 10), 0);
    uint64_t bseq = last_seq(b);
    T_EQ_U64(bseq, 15);
    ox_table *bd = ox_store_table(b), *bw;
    T_EQ_INT(ox_table_open(b, "onlyB", &bw), OX_OK);

    reader r = {.t = bd};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, reader_main, &r), 0);
    wait_loops(&r, 100);
    int rc = ox_store_replace(b, u_path("rp.bak"));
    wait_loops(&r, atomic_load(&r.loops) + 100);
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    T_EQ_INT(rc, OX_OK);
    T_EQ_INT(atomic_load(&r.errors), 0);
    T_EQ_INT(atomic_load(&r.old_after_new), 0);
    T_EQ_INT(atomic_load(&r.saw_new), 1);
    T_ASSERT(access(u_path("rp.bak"), F_OK) != 0); /* renamed into place */

    /* Exactly A's content; B's own table is empty; numbers go on from B's. */
    if (same_tables(a, b, rp_tables, 2, why, sizeof why))
        T_FAIL("after replace: %s", why);
    T_EQ_INT(get_is(bd, "bonly", NULL), 0);
    T_EQ_INT(get_is(bd, "k1", "a1"), 0);
    uint64_t n;
    T_EQ_INT(ox_count(bw, &n), OX_OK);
    T_EQ_U64(n, 0);
    T_EQ_INT(get_is(bw, "w", NULL), 0);
    T_EQ_U64(last_seq(b), bseq);
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(b, &wi), OX_OK);
    T_EQ_U64(wi.checkpoint_seq, bseq);

    /* Writes go on, in both tables. */
    T_EQ_INT(ox_put(bd, "after", 5, "1", 1), OX_OK);
    T_EQ_INT(ox_put(bw, "w2", 2, "x", 1), OX_OK);
    T_EQ_U64(last_seq(b), bseq + 2);
    T_EQ_INT(ox_store_checkpoint(b), OX_OK);
    T_EQ_INT(ox_count(bw, &n), OX_OK);
    T_EQ_U64(n, 1);
    T_EQ_INT(ox_store_close(b), OX_OK);

    T_EQ_INT(open_clk("rp_b.mdb", &clk, &b), OX_OK);
    bd = ox_store_table(b);
    T_EQ_INT(ox_table_open(b, "onlyB", &bw), OX_OK);
    T_EQ_INT(get_is(bd, "after", "1"), 0);
    T_EQ_INT(get_is(bw, "w2", "x"), 0);
    T_EQ_INT(get_is(bw, "w", NULL), 0);
    T_EQ_INT(ox_delete(bd, "after", 5), OX_OK);
    if (same_tables(a, b, rp_tables, 2, why, sizeof why))
        T_FAIL("after reopen: %s", why);
    T_EQ_U64(last_seq(b), bseq + 3);
    ox_store_close(b);
    ox_store_close(a);
}

static void replace_then_crash_replays_only_the_new_commits(void)
{
    u_clock clk = {T0};
    ox_store *a, *b;
    char why[256];
    T_EQ_INT(open_clk("rw_a.mdb", &clk, &a), OX_OK);
    T_EQ_INT(fill_a(a), 0);
    T_EQ_INT(ox_backup(a, u_path("rw.bak"), 0), OX_OK);
    uint64_t aseq;
    T_EQ_INT(ox_backup_seq(u_path("rw.bak"), &aseq), OX_OK);
    T_EQ_U64(aseq, 3);
    T_EQ_INT(ox_store_close(a), OX_OK); /* no thread runs across the fork */
    /* The child writes B's old content, with more commits than A's backup holds (the log
     * keeps them past the backup's number), replaces it, writes once more and dies. */
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        ox_store *c;
        if (open_clk("rw_b.mdb", &clk, &c) || ox_store_set_sync(c, OX_SYNC_ALWAYS) ||
            fill_b(c, 10) || ox_put(ox_store_table(c), "oldonly", 7, "o", 1))
            _exit(2);
        if (ox_store_replace(c, u_path("rw.bak")))
            _exit(3);
        if (ox_put(ox_store_table(c), "post", 4, "p", 1))
            _exit(4);
        _exit(0);
    }
    int status;
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 0);
    T_EQ_INT(open_clk("rw_a.mdb", &clk, &a), OX_OK);
    T_EQ_INT(open_clk("rw_b.mdb", &clk, &b), OX_OK);
    ox_table *bd = ox_store_table(b);
    T_EQ_INT(get_is(bd, "oldonly", NULL), 0);
    T_EQ_INT(get_is(bd, "bonly", NULL), 0);
    T_EQ_INT(get_is(bd, "post", "p"), 0);
    T_EQ_U64(last_seq(b), 17); /* 16 of B's own, then the one after the replace */
    T_EQ_INT(ox_delete(bd, "post", 4), OX_OK);
    if (same_tables(a, b, rp_tables, 2, why, sizeof why))
        T_FAIL("after crash: %s", why);
    ox_store_close(b);
    ox_store_close(a);
}

/* Sets the format version recorded in the store file at path. */
static int forge_format(const char *path, unsigned format)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    unsigned char f[4] = {0, 0, 0, (unsigned char)format};
    MDB_val k = {6, "format"}, v = {4, f};
    int rc = mdb_env_create(&env);
    if (rc)
        return rc;
    if (!(rc = mdb_env_set_maxdbs(env, 4)) &&
        !(rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0644)) &&
        !(rc = mdb_txn_begin(env, NULL, 0, &txn))) {
        if ((rc = mdb_dbi_open(txn, "ox:meta", 0, &meta)) || (rc = mdb_put(txn, meta, &k, &v, 0)))
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
    }
    mdb_env_close(env);
    return rc;
}

static void replace_refuses_bad_sources_and_busy_stores(void)
{
    ox_store *a, *b;
    T_EQ_INT(u_open("rx_a.mdb", NULL, &a), OX_OK);
    T_EQ_INT(fill_a(a), 0);
    T_EQ_INT(ox_backup(a, u_path("rx.bak"), 0), OX_OK);
    T_EQ_INT(ox_backup(a, u_path("rx3.bak"), 0), OX_OK);
    T_EQ_INT(u_open("rx_b.mdb", NULL, &b), OX_OK);
    T_EQ_INT(fill_b(b, 0), 0);
    ox_table *bd = ox_store_table(b);

    T_EQ_INT(ox_store_replace(b, u_path("no-such.bak")), OX_EINVAL);
    T_EQ_INT(ox_store_replace(b, u_path("rx_b.mdb")), OX_EINVAL); /* itself */
    FILE *f = fopen(u_path("text.bak"), "w");
    T_ASSERT(f != NULL);
    for (int i = 0; i < 2000; i++)
        fputs("not an LMDB file\n", f);
    fclose(f);
    T_EQ_INT(ox_store_replace(b, u_path("text.bak")), OX_EINVAL);
    T_EQ_INT(forge_format(u_path("rx3.bak"), OX_FORMAT_VERSION + 1), 0);
    T_EQ_INT(ox_store_replace(b, u_path("rx3.bak")), OX_EUNSUPPORTED);
    T_EQ_INT(forge_format(u_path("rx3.bak"), 2), 0);
    T_EQ_INT(ox_store_replace(b, u_path("rx3.bak")), OX_EUNSUPPORTED);
    T_EQ_INT(access(u_path("rx3.bak"), F_OK), 0);

    /* This thread's snapshot: the gate would wait for itself. */
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(b, &snap), OX_OK);
    T_EQ_INT(ox_store_replace(b, u_path("rx.bak")), OX_EBUSY);
    ox_snapshot_end(snap);

    /* Another process has the file open: it would go on with the old one. */
    int release;
    pid_t pid = u_hold_open(u_path("rx_b.mdb"), &release);
    T_ASSERT(pid > 0);
    int rc = ox_store_replace(b, u_path("rx.bak"));
    close(release);
    waitpid(pid, NULL, 0);
    T_EQ_INT(rc, OX_EBUSY);
    T_EQ_INT(access(u_path("rx.bak"), F_OK), 0);
    /* Nothing changed, and the store works on (its env was reopened). */
    T_EQ_INT(get_is(bd, "bonly", "x"), 0);
    T_EQ_INT(ox_put(bd, "more", 4, "m", 1), OX_OK);
    T_EQ_INT(get_is(bd, "more", "m"), 0);
    uint64_t n;
    T_EQ_INT(ox_count(bd, &n), OX_OK);
    T_EQ_U64(n, 4);

    T_EQ_INT(ox_store_replace(b, u_path("rx.bak")), OX_OK);
    T_EQ_INT(get_is(bd, "more", NULL), 0);
    T_EQ_INT(get_is(bd, "shared", "fromA"), 0);
    ox_store_close(b);

    ox_options o;
    ox_options_init(&o);
    o.read_only = 1;
    T_EQ_INT(ox_store_open(u_path("rx_b.mdb"), &o, &b), OX_OK);
    T_EQ_INT(ox_backup(a, u_path("rx4.bak"), 0), OX_OK);
    T_EQ_INT(ox_store_replace(b, u_path("rx4.bak")), OX_EINVAL);
    ox_store_close(b);
    ox_store_close(a);
}

static void records_after_the_backup_bring_the_replaced_store_level(void)
{
    static const char *const names[] = {"default", "t2", "t3"};
    u_clock clk = {T0};
    ox_store *a, *b;
    recs r = {0};
    char why[256];
    T_EQ_INT(open_clk("ar_a.mdb", &clk, &a), OX_OK);
    ox_store_on_commit(a, recs_hook, &r);
    ox_table *ad = ox_store_table(a), *a2, *a3;
    T_EQ_INT(ox_table_open(a, "t2", &a2), OX_OK);
    T_EQ_INT(ox_put(ad, "k1", 2, "1", 1), OX_OK);
    T_EQ_INT(ox_put_with_ttl(a2, "k2", 2, "2", 1, 500), OX_OK);
    T_EQ_INT(ox_put(ad, "k3", 2, "3", 1), OX_OK);
    T_EQ_INT(ox_backup(a, u_path("ar.bak"), 1), OX_OK);
    uint64_t s;
    T_EQ_INT(ox_backup_seq(u_path("ar.bak"), &s), OX_OK);
    T_EQ_U64(s, 3);
    /* After the backup: a table it does not hold, changes to those it does. */
    T_EQ_INT(ox_table_open(a, "t3", &a3), OX_OK);
    T_EQ_INT(ox_put(a3, "n", 1, "new", 3), OX_OK);
    T_EQ_INT(ox_delete(ad, "k1", 2), OX_OK);
    T_EQ_INT(ox_expire(a2, "k2", 2, 9000), OX_OK);
    T_EQ_INT(ox_put(ad, "k3", 2, "33", 2), OX_OK);
    T_EQ_INT(r.n, 7);

    T_EQ_INT(open_clk("ar_b.mdb", &clk, &b), OX_OK);
    T_EQ_INT(fill_b(b, 2), 0);
    uint64_t bseq = last_seq(b);
    T_EQ_INT(ox_store_replace(b, u_path("ar.bak")), OX_OK);
    T_EQ_INT(recs_apply(b, &r, s), OX_OK);
    if (same_tables(a, b, names, 3, why, sizeof why))
        T_FAIL("%s", why);
    T_EQ_U64(last_seq(b), bseq + 4);
    T_EQ_INT(ox_store_close(b), OX_OK);
    T_EQ_INT(open_clk("ar_b.mdb", &clk, &b), OX_OK);
    if (same_tables(a, b, names, 3, why, sizeof why))
        T_FAIL("after reopen: %s", why);
    ox_store_close(b);
    ox_store_close(a);
    recs_free(&r);
}

int main(void)
{
    T_RUN(hook_sees_each_commit_in_order_with_consecutive_seqs);
    T_RUN(hook_runs_for_in_memory_and_wrapped_stores);
    T_RUN(applied_records_rebuild_the_same_content);
    T_RUN(apply_refuses_unopened_tables_and_garbage_untouched);
    T_RUN(backup_seq_is_the_last_commit_the_backup_holds);
    T_RUN(replace_switches_whole_content_under_readers);
    T_RUN(replace_then_crash_replays_only_the_new_commits);
    T_RUN(replace_refuses_bad_sources_and_busy_stores);
    T_RUN(records_after_the_backup_bring_the_replaced_store_level);
    return T_MAIN_END();
}
