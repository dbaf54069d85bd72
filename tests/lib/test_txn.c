/* Write transactions (read-your-writes, rollback) and MVCC snapshots (isolation). */
#include <pthread.h>
#include <stdatomic.h>

#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

static void txn_reads_its_own_writes_and_commit_publishes_them(void)
{
    ox_store *s;
    T_EQ_INT(u_open("txn1.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "old", 3, "1", 1), OX_OK);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "new", 3, "2", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_delete(x, t, "old", 3), OX_OK);
    ox_val v;
    T_EQ_INT(ox_txn_get(x, t, "new", 3, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "2", 1);
    T_EQ_INT(ox_txn_contains(x, t, "old", 3), OX_NOTFOUND);
    uint64_t n;
    T_EQ_INT(ox_txn_count(x, t, &n), OX_OK);
    T_EQ_U64(n, 1);
    /* others do not see it yet */
    T_EQ_INT(ox_contains(t, "new", 3), OX_NOTFOUND);
    ox_iter *it;
    ox_val k;
    T_EQ_INT(ox_txn_range(x, t, NULL, NULL, 0, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_OK);
    T_EQ_MEM(k.data, k.len, "new", 3);
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_NOTFOUND);
    ox_iter_close(it);
    ox_val p = {"ne", 2};
    T_EQ_INT(ox_txn_prefix(x, t, &p, OX_ITER_KEYS_ONLY, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_OK);
    T_EQ_INT(v.len, 0);
    ox_iter_close(it);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_contains(t, "new", 3), OX_OK);
    T_EQ_INT(ox_contains(t, "old", 3), OX_NOTFOUND);
    ox_store_close(s);
}

static void rollback_discards_everything(void)
{
    ox_store *s;
    T_EQ_INT(u_open("txn2.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s), *u;
    T_EQ_INT(ox_table_open(s, "other", &u), OX_OK);
    T_EQ_INT(ox_put(t, "keep", 4, "1", 1), OX_OK);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, u, "gone", 4, "2", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_clear(x, t), OX_OK);
    T_EQ_INT(ox_txn_contains(x, t, "keep", 4), OX_NOTFOUND);
    ox_txn_rollback(x);
    ox_txn_rollback(NULL);
    T_EQ_INT(ox_contains(t, "keep", 4), OX_OK);
    T_EQ_INT(ox_contains(u, "gone", 4), OX_NOTFOUND);
    ox_store_close(s);
}

/* A savepoint keeps what was written before it: rolling back to it discards the later
 * versions (a key written on both sides reads as before it), their count changes, expiry
 * entries and their part of the log record, so the commit's replay after a reopen finds
 * the same. The savepoint stays for another rollback; none set answers OX_EINVAL. */
static unsigned char *g_rec; /* the last commit's log record (keep_record) */
static size_t g_reclen;

static void keep_record(void *arg, uint64_t seq, const void *rec, size_t len)
{
    (void)arg, (void)seq;
    free(g_rec);
    g_rec = malloc(len ? len : 1);
    memcpy(g_rec, rec, len);
    g_reclen = len;
}

static void rollback_to_a_savepoint_keeps_what_came_before(void)
{
    ox_store *s;
    T_EQ_INT(u_open("txn_sp.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "c", 1, "old", 3), OX_OK);
    ox_store_on_commit(s, keep_record, NULL);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_rollback_savepoint(x), OX_EINVAL);
    T_EQ_INT(ox_txn_put(x, t, "a", 1, "1", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_savepoint(x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "b", 1, "2", 1, 4102444800000ULL, 0), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "a", 1, "3", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_delete(x, t, "c", 1), OX_OK);
    uint64_t n;
    T_EQ_INT(ox_txn_count(x, t, &n), OX_OK);
    T_EQ_U64(n, 2); /* a, b */
    T_EQ_INT(ox_txn_rollback_savepoint(x), OX_OK);
    ox_val v;
    T_EQ_INT(ox_txn_get(x, t, "a", 1, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "1", 1);
    T_EQ_INT(ox_txn_contains(x, t, "b", 1), OX_NOTFOUND);
    T_EQ_INT(ox_txn_get(x, t, "c", 1, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "old", 3);
    T_EQ_INT(ox_txn_count(x, t, &n), OX_OK);
    T_EQ_U64(n, 2); /* a, c */
    T_EQ_INT(ox_txn_put(x, t, "d", 1, "4", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_rollback_savepoint(x), OX_OK); /* again, from the same place */
    T_EQ_INT(ox_txn_contains(x, t, "d", 1), OX_NOTFOUND);
    T_EQ_INT(ox_txn_put(x, t, "e", 1, "5", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 3); /* a, c, e */
    ox_iter *it;
    ox_val k;
    int keys = 0;
    T_EQ_INT(ox_range(t, NULL, NULL, 0, &it), OX_OK);
    while (ox_iter_next(it, &k, &v) == OX_OK)
        keys++;
    ox_iter_close(it);
    T_EQ_INT(keys, 3);
    ox_store_close(s);
    /* the commit's log record holds what was kept, and only that: applied to an empty
     * store it gives a and e (c was there before the transaction) */
    T_EQ_INT(u_open("txn_sp2.mdb", NULL, &s), OX_OK);
    t = ox_store_table(s);
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_apply(x, g_rec, g_reclen), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    void *got;
    size_t glen;
    T_EQ_INT(ox_get(t, "a", 1, &got, &glen), OX_OK);
    T_EQ_MEM(got, glen, "1", 1);
    free(got);
    T_EQ_INT(ox_contains(t, "e", 1), OX_OK);
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 2);
    ox_store_close(s);
    free(g_rec);
    g_rec = NULL;
}

/* A value read through a write transaction may be given to its next write: a map growth
 * waiting for the transaction's reader gets it after that write, not before (the put read
 * a 64 KiB value borrowed from the old mapping: SEGV). Rounds of 40 puts of 64 KiB fill a
 * 1 MiB map's buffers, so their checkpoints grow it while another transaction copies a
 * checkpointed value with the pointer ox_txn_get gave, read again before each put. */
static void a_value_read_in_a_txn_can_be_written_through_a_growth(void)
{
    enum { VLEN = 64 * 1024 };
    ox_options o;
    ox_options_init(&o);
    o.map_size = 1 << 20;
    o.mem_limit = 4 << 20;
    o.sync = OX_SYNC_NO;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("txn_grow.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    unsigned char *src = malloc(VLEN), *big = malloc(VLEN);
    T_ASSERT(src && big);
    for (int i = 0; i < VLEN; i++)
        src[i] = (unsigned char)('a' + i % 26);
    memset(big, 'x', VLEN);
    T_EQ_INT(ox_put(t, "src", 3, src, VLEN), OX_OK);
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    size_t map0 = ox_store_map_size(s);
    int bad = 0;
    for (int round = 0; round < 60; round++) {
        ox_txn *x;
        char k[32];
        T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
        for (int j = 0; j < 40; j++) {
            int n = snprintf(k, sizeof k, "fill:%d:%d", round, j);
            T_EQ_INT(ox_txn_put(x, t, k, (size_t)n, big, VLEN, 0, 0), OX_OK);
        }
        T_EQ_INT(ox_txn_commit(x), OX_OK);
        T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
        for (int j = 0; j < 60; j++) {
            ox_val v, w;
            int n = snprintf(k, sizeof k, "dst:%d", j);
            T_EQ_INT(ox_txn_get(x, t, "src", 3, &v), OX_OK);
            T_EQ_INT(ox_txn_put(x, t, k, (size_t)n, v.data, v.len, 0, 0), OX_OK);
            T_EQ_INT(ox_txn_get(x, t, k, (size_t)n, &w), OX_OK);
            bad += w.len != VLEN || memcmp(w.data, src, VLEN) != 0;
        }
        T_EQ_INT(ox_txn_commit(x), OX_OK);
    }
    T_EQ_INT(bad, 0);
    T_ASSERT(ox_store_map_size(s) > map0); /* it grew meanwhile */
    free(src);
    free(big);
    ox_store_close(s);
}

/* Opens name with "p" = "old" in LMDB (checkpointed): the store's default table. */
static ox_table *open_with_p_in_lmdb(const char *name, ox_store **s)
{
    if (u_open(name, NULL, s) != OX_OK)
        return NULL;
    ox_table *t = ox_store_table(*s);
    if (ox_put(t, "p", 1, "old", 3) != OX_OK || ox_store_checkpoint(*s) != OX_OK) {
        ox_store_close(*s);
        return NULL;
    }
    return t;
}

/* OX_PUT_ABSENT: a put of a key the caller knows has no record is not looked up and
 * counts one more; a key deleted in this buffer (a list's popped position pushed again)
 * takes the new value over its deletion, and a walk meets it once. ox_txn_delete_live, its
 * counterpart, counts one less. */
static void a_put_of_an_absent_key_counts_it_without_a_lookup(void)
{
    ox_store *s;
    ox_table *t = open_with_p_in_lmdb("txn_absent.mdb", &s);
    T_ASSERT(t);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_delete(x, t, "p", 1), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "p", 1, "new", 3, 0, OX_PUT_ABSENT), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "q", 1, "q", 1, 0, OX_PUT_ABSENT), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "r", 1, "r", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_delete_live(x, t, "r", 1), OX_OK); /* there: not looked up */
    T_EQ_INT(ox_txn_contains(x, t, "r", 1), OX_NOTFOUND);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 2);
    T_EQ_STR(u_value(t, "p"), "new");
    ox_iter *it;
    ox_val k, val;
    int keys = 0;
    T_EQ_INT(ox_range(t, NULL, NULL, 0, &it), OX_OK);
    while (ox_iter_next(it, &k, &val) == OX_OK)
        keys++;
    ox_iter_close(it);
    T_EQ_INT(keys, 2);
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 2);
    T_EQ_STR(u_value(t, "p"), "new");
    ox_store_close(s);
}

/* OX_PUT_LIVE: a rewrite of a key the caller knows is live (in LMDB, or in the buffer)
 * is not looked up and leaves the count as it is (on a key that is not there, the count
 * stays one too low: the contract's "wrong" case, which shows the lookup was skipped);
 * with OX_PUT_NOOVERWRITE it conflicts. The values read back, checkpointed too. */
static void a_put_of_a_live_key_rewrites_it_without_a_lookup(void)
{
    ox_store *s;
    ox_table *t = open_with_p_in_lmdb("txn_live.mdb", &s);
    T_ASSERT(t);
    T_EQ_INT(ox_put(t, "q", 1, "old", 3), OX_OK); /* q in the buffer */
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    int rc[4];
    rc[0] = ox_txn_put(x, t, "p", 1, "new", 3, 0, OX_PUT_LIVE);
    rc[1] = ox_txn_put(x, t, "q", 1, "new", 3, 0, OX_PUT_LIVE);
    rc[2] = ox_txn_put(x, t, "q", 1, "no", 2, 0, OX_PUT_LIVE | OX_PUT_NOOVERWRITE);
    rc[3] = ox_txn_put(x, t, "z", 1, "z", 1, 0, OX_PUT_LIVE); /* not there: misused */
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(rc[0], OX_OK);
    T_EQ_INT(rc[1], OX_OK);
    T_EQ_INT(rc[2], OX_ECONFLICT);
    T_EQ_INT(rc[3], OX_OK);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t n;
        T_EQ_INT(ox_count(t, &n), OX_OK);
        T_EQ_U64(n, 2);
        T_EQ_STR(u_value(t, "p"), "new");
        T_EQ_STR(u_value(t, "q"), "new");
        T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    }
    ox_store_close(s);
}

static void clear_empties_data_and_expiry_index(void)
{
    u_clock clk = {100};
    ox_store *s;
    T_EQ_INT(u_open("txn3.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put_with_ttl(t, "a", 1, "1", 1, 10), OX_OK);
    T_EQ_INT(ox_put(t, "b", 1, "1", 1), OX_OK);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_clear(x, t), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 0);
    clk.now += 100;
    size_t purged = 5;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 0);
    ox_store_close(s);
}

static void iterator_left_open_at_commit_is_detached_not_freed_twice(void)
{
    ox_store *s;
    T_EQ_INT(u_open("txn4.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    ox_txn *x;
    ox_iter *it;
    ox_val k, v;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "a", 1, "1", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_range(x, t, NULL, NULL, 0, &it), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_EBUSY);
    ox_iter_close(it);
    ox_store_close(s);
}

/* An iterator of a write transaction keeps walking, with valid keys and values, while
 * the transaction writes keys outside its range (the server's SUNIONSTORE writes the
 * result while it merges the sources); across a checkpoint of what was there before. */
static void iterator_walks_on_while_its_txn_writes_elsewhere(void)
{
    ox_store *s;
    T_EQ_INT(u_open("txn7.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[32], v[32];
    for (int i = 0; i < 3000; i++)
        T_EQ_INT(ox_put(t, k, U_KEY(k, "a%05d", i), v, U_KEY(v, "value-%d", i)), OX_OK);
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    for (int i = 0; i < 3000; i += 2) /* half of them in the write buffer too */
        T_EQ_INT(ox_txn_put(x, t, k, U_KEY(k, "a%05d", i), v, U_KEY(v, "value-%d", i), 0, 0),
                 OX_OK);
    ox_iter *it;
    ox_val pre = {"a", 1}, key, val;
    T_EQ_INT(ox_txn_prefix(x, t, &pre, 0, &it), OX_OK);
    int n = 0;
    while (ox_iter_next(it, &key, &val) == OX_OK) {
        char want[32];
        T_EQ_MEM(key.data, key.len, k, U_KEY(k, "a%05d", n));
        T_EQ_MEM(val.data, val.len, want, U_KEY(want, "value-%d", n));
        /* three writes after each step: new keys before and after the walk's range */
        T_EQ_INT(ox_txn_put(x, t, k, U_KEY(k, "b%05d", n), val.data, val.len, 0, 0), OX_OK);
        T_EQ_INT(ox_txn_put(x, t, k, U_KEY(k, "0%05d", n), "x", 1, 0, 0), OX_OK);
        T_EQ_INT(ox_txn_delete(x, t, k, U_KEY(k, "b%05d", n - 1)), n ? OX_OK : OX_NOTFOUND);
        n++;
    }
    T_EQ_INT(n, 3000);
    ox_iter_close(it);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    uint64_t count;
    T_EQ_INT(ox_count(t, &count), OX_OK);
    T_EQ_U64(count, 3000 + 3000 + 1);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

static void snapshot_never_sees_later_commits(void)
{
    ox_store *s;
    T_EQ_INT(u_open("txn5.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "k", 1, "before", 6), OX_OK);
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    T_EQ_INT(ox_put(t, "k", 1, "after", 5), OX_OK);
    T_EQ_INT(ox_put(t, "k2", 2, "x", 1), OX_OK);
    ox_val v;
    T_EQ_INT(ox_snapshot_get(snap, t, "k", 1, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "before", 6);
    T_EQ_INT(ox_snapshot_contains(snap, t, "k2", 2), OX_NOTFOUND);
    ox_iter *it;
    ox_val k;
    ox_val p = {"k", 1};
    T_EQ_INT(ox_snapshot_prefix(snap, t, &p, 0, &it), OX_OK);
    int n = 0;
    while (ox_iter_next(it, &k, &v) == OX_OK)
        n++;
    ox_iter_close(it);
    T_EQ_INT(n, 1);
    T_EQ_INT(ox_snapshot_renew(snap), OX_OK);
    T_EQ_INT(ox_snapshot_get(snap, t, "k", 1, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "after", 5);
    T_EQ_INT(ox_snapshot_range(snap, t, NULL, NULL, 0, &it), OX_OK);
    n = 0;
    while (ox_iter_next(it, &k, &v) == OX_OK)
        n++;
    ox_iter_close(it);
    T_EQ_INT(n, 2);
    ox_snapshot_end(snap);
    ox_snapshot_end(NULL);
    ox_store_close(s);
}

/* A writer thread moves value between two keys in transactions, keeping a+b == 1000;
 * readers take snapshots and must always see a consistent pair. */
struct iso {
    ox_store *s;
    ox_table *t;
    atomic_int stop;
    atomic_int commits;
    int errors;
};

static void *iso_writer(void *arg)
{
    struct iso *w = arg;
    for (int i = 0; !atomic_load(&w->stop) && i < 5000; i++) {
        ox_txn *x;
        char buf[16];
        int a = i % 1000, b = 1000 - a;
        if (ox_txn_begin(w->s, &x)) {
            w->errors++;
            break;
        }
        int la = snprintf(buf, sizeof buf, "%d", a);
        ox_txn_put(x, w->t, "a", 1, buf, (size_t)la, 0, 0);
        int lb = snprintf(buf, sizeof buf, "%d", b);
        ox_txn_put(x, w->t, "b", 1, buf, (size_t)lb, 0, 0);
        if (ox_txn_commit(x))
            w->errors++;
        atomic_fetch_add(&w->commits, 1);
    }
    atomic_store(&w->stop, 1);
    return NULL;
}

static int parse_val(ox_val v)
{
    char buf[16] = {0};
    memcpy(buf, v.data, v.len < 15 ? v.len : 15);
    return atoi(buf);
}

static void snapshot_isolation_under_a_concurrent_writer(void)
{
    struct iso w = {0};
    T_EQ_INT(u_open("txn6.mdb", NULL, &w.s), OX_OK);
    w.t = ox_store_table(w.s);
    T_EQ_INT(ox_put(w.t, "a", 1, "0", 1), OX_OK);
    T_EQ_INT(ox_put(w.t, "b", 1, "1000", 4), OX_OK);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, iso_writer, &w), 0);
    int reads = 0, bad = 0;
    uint64_t deadline = t_now_ms() + 20000;
    while (!atomic_load(&w.stop) && t_now_ms() < deadline) {
        ox_snapshot *snap;
        if (ox_snapshot_begin(w.s, &snap)) {
            bad++;
            break;
        }
        ox_val va, vb;
        if (ox_snapshot_get(snap, w.t, "a", 1, &va) || ox_snapshot_get(snap, w.t, "b", 1, &vb) ||
            parse_val(va) + parse_val(vb) != 1000)
            bad++;
        ox_snapshot_end(snap);
        reads++;
    }
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    T_EQ_INT(bad, 0);
    T_EQ_INT(w.errors, 0);
    T_ASSERT(reads > 0);
    T_ASSERT(atomic_load(&w.commits) > 0);
    ox_store_close(w.s);
}


/* ox_txn_prefetch is a hint: of keys in the write buffer, in LMDB alone, absent, empty or
 * long, in both steps, it changes no answer, count or write after it. */
static void prefetch_changes_nothing(void)
{
    ox_store *s;
    ox_table *t = open_with_p_in_lmdb("txn_prefetch.mdb", &s);
    T_ASSERT(t);
    char longkey[700];
    memset(longkey, 'L', sizeof longkey);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "b", 1, "vb", 2, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, longkey, sizeof longkey, "vl", 2, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    const char *keys[] = {"p", "b", "nope", ""};
    for (int step = 0; step < 2; step++) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            ox_txn_prefetch(x, t, keys[i], strlen(keys[i]), step);
        ox_txn_prefetch(x, t, longkey, sizeof longkey, step);
    }
    ox_val v;
    T_EQ_INT(ox_txn_get(x, t, "b", 1, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "vb", 2);
    T_EQ_INT(ox_txn_get(x, t, "nope", 4, &v), OX_NOTFOUND);
    T_EQ_INT(ox_txn_get(x, t, longkey, sizeof longkey, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "vl", 2);
    ox_txn_prefetch(x, t, "q", 1, 1);
    T_EQ_INT(ox_txn_put(x, t, "q", 1, "vq", 2, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 4); /* p, b, the long key, q */
    T_EQ_STR(u_value(t, "p"), "old");
    T_EQ_STR(u_value(t, "q"), "vq");
    ox_store_close(s);
}

int main(void)
{
    T_RUN(txn_reads_its_own_writes_and_commit_publishes_them);
    T_RUN(rollback_discards_everything);
    T_RUN(rollback_to_a_savepoint_keeps_what_came_before);
    T_RUN(a_value_read_in_a_txn_can_be_written_through_a_growth);
    T_RUN(a_put_of_an_absent_key_counts_it_without_a_lookup);
    T_RUN(a_put_of_a_live_key_rewrites_it_without_a_lookup);
    T_RUN(clear_empties_data_and_expiry_index);
    T_RUN(iterator_left_open_at_commit_is_detached_not_freed_twice);
    T_RUN(iterator_walks_on_while_its_txn_writes_elsewhere);
    T_RUN(snapshot_never_sees_later_commits);
    T_RUN(snapshot_isolation_under_a_concurrent_writer);
    T_RUN(prefetch_changes_nothing);
    return T_MAIN_END();
}
