/* TTLs with an injected clock: visibility, ttl/persist/expire, the expiry index. */
#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

static void expired_key_is_invisible_to_every_read_path(void)
{
    u_clock clk = {1000000};
    ox_store *s;
    T_EQ_INT(u_open("ttl1.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put_with_ttl(t, "b", 1, "B", 1, 100), OX_OK);
    T_EQ_INT(ox_put(t, "a", 1, "A", 1), OX_OK);
    T_EQ_INT(ox_put(t, "c", 1, "C", 1), OX_OK);
    clk.now += 100; /* expires at now+100: still visible at exactly that time */
    T_EQ_INT(ox_contains(t, "b", 1), OX_OK);
    clk.now += 1;
    void *v;
    size_t n;
    T_EQ_INT(ox_get(t, "b", 1, &v, &n), OX_NOTFOUND);
    T_EQ_INT(ox_contains(t, "b", 1), OX_NOTFOUND);
    uint64_t ms;
    T_EQ_INT(ox_ttl(t, "b", 1, &ms), OX_NOTFOUND);
    ox_val keys[1] = {{"b", 1}};
    void *vals[1];
    size_t lens[1];
    T_EQ_INT(ox_get_many(t, 1, keys, vals, lens), OX_OK);
    T_ASSERT(vals[0] == NULL);
    /* ranges and counting by iteration skip it, before any purge */
    ox_iter *it;
    T_EQ_INT(ox_range(t, NULL, NULL, 0, &it), OX_OK);
    ox_val k, val;
    int seen = 0;
    char got[8] = {0};
    while (ox_iter_next(it, &k, &val) == OX_OK)
        got[seen++] = *(const char *)k.data;
    ox_iter_close(it);
    T_EQ_INT(seen, 2);
    T_EQ_STR(got, "ac");
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    T_EQ_INT(ox_snapshot_contains(snap, t, "b", 1), OX_NOTFOUND);
    ox_snapshot_end(snap);
    /* O(1) count still includes it until purged, as Redis's DBSIZE does */
    uint64_t cnt;
    T_EQ_INT(ox_count(t, &cnt), OX_OK);
    T_EQ_U64(cnt, 3);
    size_t purged;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 1);
    T_EQ_INT(ox_count(t, &cnt), OX_OK);
    T_EQ_U64(cnt, 2);
    ox_store_close(s);
}

static void ttl_distinguishes_missing_key_and_no_ttl(void)
{
    u_clock clk = {5000};
    ox_store *s;
    T_EQ_INT(u_open("ttl2.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    uint64_t ms = 77;
    T_EQ_INT(ox_ttl(t, "none", 4, &ms), OX_NOTFOUND);
    T_EQ_INT(ox_put(t, "p", 1, "v", 1), OX_OK);
    T_EQ_INT(ox_ttl(t, "p", 1, &ms), OX_NOTTL);
    T_EQ_INT(ox_expire(t, "p", 1, 2500), OX_OK);
    T_EQ_INT(ox_ttl(t, "p", 1, &ms), OX_OK);
    T_EQ_U64(ms, 2500);
    clk.now += 1000;
    T_EQ_INT(ox_ttl(t, "p", 1, &ms), OX_OK);
    T_EQ_U64(ms, 1500);
    T_EQ_INT(ox_expire(t, "none", 4, 10), OX_NOTFOUND);
    T_EQ_INT(ox_expire(t, "p", 1, 0), OX_EINVAL);
    T_EQ_INT(ox_put_with_ttl(t, "p", 1, "v", 1, 0), OX_EINVAL);
    ox_store_close(s);
}

static void persist_removes_the_expiry(void)
{
    u_clock clk = {5000};
    ox_store *s;
    T_EQ_INT(u_open("ttl3.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put_with_ttl(t, "k", 1, "value", 5, 100), OX_OK);
    T_EQ_INT(ox_persist(t, "k", 1), OX_OK);
    T_EQ_INT(ox_persist(t, "k", 1), OX_NOTTL);
    T_EQ_INT(ox_persist(t, "zz", 2), OX_NOTFOUND);
    clk.now += 1000000;
    void *v;
    size_t n;
    T_EQ_INT(ox_get(t, "k", 1, &v, &n), OX_OK);
    T_EQ_MEM(v, n, "value", 5);
    free(v);
    size_t purged = 99;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 0);
    ox_store_close(s);
}

static void put_clears_ttl_and_keepttl_keeps_it(void)
{
    u_clock clk = {5000};
    ox_store *s;
    T_EQ_INT(u_open("ttl4.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put_with_ttl(t, "k", 1, "a", 1, 100), OX_OK);
    T_EQ_INT(ox_put(t, "k", 1, "b", 1), OX_OK); /* like SET: the TTL goes */
    uint64_t ms;
    T_EQ_INT(ox_ttl(t, "k", 1, &ms), OX_NOTTL);
    T_EQ_INT(ox_put_with_ttl(t, "k", 1, "c", 1, 300), OX_OK);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "k", 1, "d", 1, 0, OX_PUT_KEEPTTL), OX_OK);
    uint64_t at;
    T_EQ_INT(ox_txn_expire_time(x, t, "k", 1, &at), OX_OK);
    T_EQ_U64(at, 5300);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_ttl(t, "k", 1, &ms), OX_OK);
    T_EQ_U64(ms, 300);
    /* overwrites left no stale index entries: one purge removes exactly one key */
    clk.now += 301;
    size_t purged;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 1);
    uint64_t cnt;
    T_EQ_INT(ox_count(t, &cnt), OX_OK);
    T_EQ_U64(cnt, 0);
    ox_store_close(s);
}

static void purge_costs_only_the_expired_keys_in_time_order(void)
{
    u_clock clk = {1000};
    ox_store *s;
    T_EQ_INT(u_open("ttl5.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[32];
    size_t kl;
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    for (int i = 0; i < 20000; i++) { /* many keys without TTL */
        kl = U_KEY(k, "plain:%05d", i);
        T_EQ_INT(ox_txn_put(x, t, k, kl, "v", 1, 0, 0), OX_OK);
    }
    for (int i = 0; i < 100; i++) { /* 100 expiring at 1000+10*i+10 */
        kl = U_KEY(k, "ttl:%03d", 99 - i);
        T_EQ_INT(ox_txn_put(x, t, k, kl, "v", 1, 1000 + 10 * (uint64_t)(i + 1), 0), OX_OK);
    }
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    clk.now = 1000 + 10 * 30 + 1; /* 30 expired */
    size_t purged;
    uint64_t nexp;
    T_EQ_INT(ox_count_expires(t, &nexp), OX_OK);
    T_EQ_U64(nexp, 100);
    T_EQ_INT(ox_purge_expired(t, 7, &purged), OX_OK); /* a bounded slice */
    T_EQ_U64(purged, 7);
    T_EQ_INT(ox_count_expires(t, &nexp), OX_OK);
    T_EQ_U64(nexp, 93);
    /* the slice took the earliest: ttl:099 .. ttl:093 */
    T_EQ_INT(ox_contains(t, "ttl:093", 7), OX_NOTFOUND);
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    uint64_t ms;
    T_EQ_INT(ox_snapshot_ttl(snap, t, "ttl:092", 7, &ms), OX_NOTFOUND); /* expired */
    T_EQ_INT(ox_snapshot_ttl(snap, t, "ttl:069", 7, &ms), OX_OK);
    T_EQ_U64(ms, 9);
    ox_snapshot_end(snap);
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 23);
    uint64_t cnt;
    T_EQ_INT(ox_count(t, &cnt), OX_OK);
    T_EQ_U64(cnt, 20070);
    ox_store_close(s);
}

static void delete_and_nx_treat_expired_keys_as_absent(void)
{
    u_clock clk = {1000};
    ox_store *s;
    T_EQ_INT(u_open("ttl6.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put_with_ttl(t, "k", 1, "a", 1, 10), OX_OK);
    clk.now += 11;
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "k", 1, "b", 1, 0, OX_PUT_ONLYIFEXISTS), OX_NOTFOUND);
    T_EQ_INT(ox_txn_put(x, t, "k", 1, "b", 1, 0, OX_PUT_NOOVERWRITE), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "k", 1, "c", 1, 0, OX_PUT_NOOVERWRITE), OX_ECONFLICT);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_put_with_ttl(t, "j", 1, "a", 1, 10), OX_OK);
    clk.now += 11;
    T_EQ_INT(ox_delete(t, "j", 1), OX_NOTFOUND); /* absent: nothing written... */
    size_t purged;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK); /* ...the purge reclaims it */
    T_EQ_U64(purged, 1);
    uint64_t cnt;
    T_EQ_INT(ox_count(t, &cnt), OX_OK);
    T_EQ_U64(cnt, 1);
    ox_store_close(s);
}

/* Exact over a small index (expired entries left out), an estimate within a few percent
 * over a large one read through a small sample. */
static void avg_ttl_is_exact_when_small_and_close_when_sampled(void)
{
    u_clock clk = {1000000};
    ox_store *s;
    uint64_t avg = 1;
    T_EQ_INT(u_open("ttl_avg.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_avg_ttl(t, 100, &avg), OX_OK);
    T_EQ_U64(avg, 0);
    T_EQ_INT(ox_avg_ttl(t, 0, &avg), OX_EINVAL);
    T_EQ_INT(ox_put(t, "plain", 5, "v", 1), OX_OK);
    T_EQ_INT(ox_put_with_ttl(t, "gone", 4, "v", 1, 5), OX_OK);
    T_EQ_INT(ox_put_with_ttl(t, "a", 1, "v", 1, 10010), OX_OK);
    T_EQ_INT(ox_put_with_ttl(t, "b", 1, "v", 1, 20010), OX_OK);
    T_EQ_INT(ox_put_with_ttl(t, "c", 1, "v", 1, 30010), OX_OK);
    clk.now += 10; /* "gone" expired, not purged: it must not count */
    T_EQ_INT(ox_avg_ttl(t, 100, &avg), OX_OK);
    T_EQ_U64(avg, 20000);
    /* 5000 keys with TTLs spread evenly over 50..150 s: the mean is 100 s. */
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_clear(x, t), OX_OK);
    for (int i = 0; i < 5000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", i);
        T_EQ_INT(ox_txn_put(x, t, k, (size_t)kl, "v", 1, clk.now + 50000 + (uint64_t)i * 20, 0),
                 OX_OK);
    }
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_avg_ttl(t, 256, &avg), OX_OK);
    T_ASSERT(avg > 97000 && avg < 103000);
    T_EQ_INT(ox_avg_ttl(t, 10000, &avg), OX_OK);
    T_EQ_U64(avg, 99990);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* What an active-expiry loop asks before it writes anything: the soonest expiry time,
 * and a key's absolute expiry time read on a snapshot. */
static void next_expiry_and_snapshot_expire_time(void)
{
    u_clock clk = {1000};
    ox_store *s;
    T_EQ_INT(u_open("ttl8.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    uint64_t at = 7;
    T_EQ_INT(ox_next_expiry(t, &at), OX_NOTFOUND);
    T_EQ_U64(at, 7);
    T_EQ_INT(ox_put(t, "plain", 5, "v", 1), OX_OK);
    T_EQ_INT(ox_next_expiry(t, &at), OX_NOTFOUND);
    T_EQ_INT(ox_put_with_ttl(t, "late", 4, "v", 1, 900), OX_OK);
    T_EQ_INT(ox_put_with_ttl(t, "soon", 4, "v", 1, 50), OX_OK);
    T_EQ_INT(ox_next_expiry(t, &at), OX_OK);
    T_EQ_U64(at, 1050);
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    T_EQ_INT(ox_snapshot_expire_time(snap, t, "late", 4, &at), OX_OK);
    T_EQ_U64(at, 1900);
    T_EQ_INT(ox_snapshot_expire_time(snap, t, "plain", 5, &at), OX_NOTTL);
    T_EQ_INT(ox_snapshot_expire_time(snap, t, "none", 4, &at), OX_NOTFOUND);
    clk.now = 1051; /* "soon" expired: gone for reads, still the soonest in the index */
    T_EQ_INT(ox_snapshot_expire_time(snap, t, "soon", 4, &at), OX_NOTFOUND);
    ox_snapshot_end(snap);
    T_EQ_INT(ox_next_expiry(t, &at), OX_OK);
    T_EQ_U64(at, 1050);
    size_t purged;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 1);
    T_EQ_INT(ox_next_expiry(t, &at), OX_OK);
    T_EQ_U64(at, 1900);
    T_EQ_INT(ox_persist(t, "late", 4), OX_OK);
    T_EQ_INT(ox_next_expiry(t, &at), OX_NOTFOUND);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* INCR's shape: read a live value, write it back with KEEPTTL. If the key's time passes
 * in between, the transaction still judges at its beginning: the write keeps the expiry
 * time (so the key expires), rather than finding the key gone and writing it without one. */
static void transaction_judges_expiry_when_it_began(void)
{
    ox_store *s;
    u_clock clk = {1000};
    T_EQ_INT(u_open("ttl9.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put_with_ttl(t, "n", 1, "5", 1, 10), OX_OK); /* expires at 1010 */
    ox_txn *x;
    ox_val v;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_get(x, t, "n", 1, &v), OX_OK);
    clk.now = 1011;
    T_EQ_INT(ox_txn_get(x, t, "n", 1, &v), OX_OK); /* still 1000 for the transaction */
    T_EQ_INT(ox_txn_put(x, t, "n", 1, "6", 1, 0, OX_PUT_KEEPTTL), OX_OK);
    uint64_t at;
    T_EQ_INT(ox_txn_expire_time(x, t, "n", 1, &at), OX_OK);
    T_EQ_U64(at, 1010);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_contains(t, "n", 1), OX_NOTFOUND);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A clock that moves 1000 ms at every reading, and remembers its first reading since
 * `first` was cleared. */
typedef struct step_clock {
    uint64_t now, first;
} step_clock;

static uint64_t step_clock_fn(void *ctx)
{
    step_clock *c = ctx;
    c->now += 1000;
    if (!c->first)
        c->first = c->now;
    return c->now;
}

/* ox_put_with_ttl and ox_expire count the TTL from their transaction's instant (the one
 * its reads judge expiry at), not from a later reading of the clock. */
static void relative_ttls_count_from_the_transaction_instant(void)
{
    ox_store *s;
    step_clock clk = {1000000, 0};
    ox_options o;
    ox_options_init(&o);
    o.clock = step_clock_fn;
    o.clock_ctx = &clk;
    T_EQ_INT(ox_store_open(u_path("ttl10.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    uint64_t at, began;
    ox_txn *x;
    clk.first = 0;
    T_EQ_INT(ox_put_with_ttl(t, "p", 1, "v", 1, 500000), OX_OK);
    began = clk.first;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_expire_time(x, t, "p", 1, &at), OX_OK);
    ox_txn_rollback(x);
    T_EQ_U64(at, began + 500000);
    clk.first = 0;
    T_EQ_INT(ox_expire(t, "p", 1, 600000), OX_OK);
    began = clk.first;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_expire_time(x, t, "p", 1, &at), OX_OK);
    ox_txn_rollback(x);
    T_EQ_U64(at, began + 600000);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

int main(void)
{
    T_RUN(expired_key_is_invisible_to_every_read_path);
    T_RUN(ttl_distinguishes_missing_key_and_no_ttl);
    T_RUN(persist_removes_the_expiry);
    T_RUN(put_clears_ttl_and_keepttl_keeps_it);
    T_RUN(purge_costs_only_the_expired_keys_in_time_order);
    T_RUN(delete_and_nx_treat_expired_keys_as_absent);
    T_RUN(avg_ttl_is_exact_when_small_and_close_when_sampled);
    T_RUN(next_expiry_and_snapshot_expire_time);
    T_RUN(transaction_judges_expiry_when_it_began);
    T_RUN(relative_ttls_count_from_the_transaction_instant);
    return T_MAIN_END();
}
