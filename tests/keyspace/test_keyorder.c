/* test_keyorder.c — walks in plain byte order over the library's long keys
 * (keyspace/keyorder.h): groups of keys sharing their first 478 bytes, some stored whole
 * and some by hash, in LMDB and in the write buffer; both directions, bounds inside a
 * group, a budget small enough that groups take many passes, and a walk whose every key
 * is deleted before its next step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyorder.h"
#include "lib/lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

#define NKEYS 420

typedef struct key {
    unsigned char b[600];
    size_t len;
} key;

static key g_keys[NKEYS]; /* in byte order, once made */
static size_t g_n;

static int key_cmp(const void *pa, const void *pb)
{
    const key *a = pa, *b = pb;
    int d = memcmp(a->b, b->b, a->len < b->len ? a->len : b->len);
    return d ? d : (a->len > b->len) - (a->len < b->len);
}

/* Two groups of 478-byte prefixes (the second one byte above the first) with 1 to 60
 * bytes more (479 to 538 bytes: by hash past 509), each prefix itself, and short keys
 * before, between and after them. */
static void make_keys(void)
{
    unsigned long long seed = 20261207;
    g_n = 0;
    for (int grp = 0; grp < 2; grp++) {
        key base = {.len = 478};
        memset(base.b, 'k', 478);
        base.b[477] = (unsigned char)('k' + grp);
        g_keys[g_n++] = base;
        for (int i = 0; i < (grp ? 80 : 320); i++) {
            key k = base;
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t more = 1 + (seed >> 33) % 60;
            for (size_t j = 0; j < more; j++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                k.b[k.len++] = (unsigned char)('a' + (seed >> 40) % 4); /* many share more */
            }
            int dup = 0;
            for (size_t j = 0; j < g_n && !dup; j++)
                dup = !key_cmp(&g_keys[j], &k);
            if (!dup)
                g_keys[g_n++] = k;
        }
    }
    const char *shorts[] = {"a", "kk", "z", "zz"};
    for (size_t i = 0; i < 4; i++) {
        key k = {.len = strlen(shorts[i])};
        memcpy(k.b, shorts[i], k.len);
        g_keys[g_n++] = k;
    }
    key mid = {.len = 300}; /* between the groups' prefixes: 'k' * 299 then 'l' */
    memset(mid.b, 'k', 299);
    mid.b[299] = 'l';
    g_keys[g_n++] = mid;
    qsort(g_keys, g_n, sizeof *g_keys, key_cmp);
}

/* The value of key k: its length, so that a pair's value is checked with its key. */
static size_t val_of(const key *k, char *buf)
{
    return (size_t)sprintf(buf, "%zu", k->len);
}

/* Opens the store with every key: half checkpointed into LMDB, half in the write buffer. */
static int open_with_keys(const char *name, ox_store **s)
{
    int rc = u_open(name, NULL, s);
    for (size_t i = 0; rc == OX_OK && i < g_n; i++) {
        char v[24];
        size_t k = (i * 7) % g_n; /* not in order */
        rc = ox_put(ox_store_table(*s), g_keys[k].b, g_keys[k].len, v, val_of(&g_keys[k], v));
        if (rc == OX_OK && i == g_n / 2)
            rc = ox_store_checkpoint(*s);
    }
    return rc;
}

/* The pull: an iterator the caller opens after korder_open, over korder_bounds. */
static int pull_iter(void *src, ox_val *k, ox_val *v)
{
    return ox_iter_next(*(ox_iter **)src, k, v);
}

/* Opens *o, a korder over [lo, hi) of t with flags and budget, and *it, the walk it pulls
 * from, over the bounds it widened: in txn, or on snap when txn is NULL. OX_OK or an
 * error (close both either way: NULL if never opened). */
static int walk_open(ox_txn *txn, ox_snapshot *snap, ox_table *t, const ox_val *lo,
                     const ox_val *hi, unsigned flags, size_t budget, ox_iter **it, korder **o)
{
    const ox_val *wlo, *whi;
    unsigned wf;
    *it = NULL;
    int rc = korder_open(txn, snap, t, lo, hi, flags, pull_iter, it, o);
    if (rc != OX_OK)
        return rc;
    korder_budget(*o, budget);
    korder_bounds(*o, &wlo, &whi, &wf);
    return txn ? ox_txn_range(txn, t, wlo, whi, wf, it)
               : ox_snapshot_range(snap, t, wlo, whi, wf, it);
}

/* Walks [lo, hi) (indexes into g_keys, -1: none) with flags and budget, on a snapshot,
 * and checks every key and value against g_keys: the count of keys returned, or -1. */
static long walk_check(ox_store *s, long lo, long hi, unsigned flags, size_t budget)
{
    ox_snapshot *snap;
    if (ox_snapshot_begin(s, &snap) != OX_OK)
        return -1;
    ox_table *t = ox_store_table(s);
    ox_val lov = {0}, hiv = {0}, k, v;
    if (lo >= 0)
        lov = (ox_val){g_keys[lo].b, g_keys[lo].len};
    if (hi >= 0)
        hiv = (ox_val){g_keys[hi].b, g_keys[hi].len};
    ox_iter *it;
    korder *p = NULL;
    long n = 0, rc = walk_open(NULL, snap, t, lo >= 0 ? &lov : NULL, hi >= 0 ? &hiv : NULL,
                               flags, budget, &it, &p);
    long first = flags & OX_ITER_DESC ? (hi >= 0 ? hi - 1 : (long)g_n - 1)
                                      : (lo >= 0 ? lo + ((flags & OX_ITER_AFTER) != 0) : 0);
    long step = flags & OX_ITER_DESC ? -1 : 1;
    long end = flags & OX_ITER_DESC ? (lo >= 0 ? lo - ((flags & OX_ITER_AFTER) == 0) : -1)
                                    : (hi >= 0 ? hi : (long)g_n);
    for (long i = first; rc == OX_OK; i += step) {
        rc = korder_next(p, &k, &v);
        if (rc == OX_NOTFOUND) {
            rc = i == end ? OX_OK : -2; /* ended early */
            break;
        }
        char want[24];
        size_t wl = val_of(&g_keys[i], want);
        if (rc != OX_OK || i == end || k.len != g_keys[i].len ||
            memcmp(k.data, g_keys[i].b, k.len) ||
            (!(flags & OX_ITER_KEYS_ONLY) && (v.len != wl || memcmp(v.data, want, wl)))) {
            fprintf(stderr, "at %ld of [%ld, %ld) flags %u budget %zu: rc %ld, %zu bytes\n",
                    i, lo, hi, flags, budget, rc, k.len);
            rc = -3;
            break;
        }
        n++;
    }
    korder_close(p);
    ox_iter_close(it);
    ox_snapshot_end(snap);
    return rc == OX_OK ? n : -1;
}

static void the_store_itself_sorts_groups_by_hash(void)
{
    make_keys();
    ox_store *s;
    T_EQ_INT(open_with_keys("hash.mdb", &s), OX_OK);
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    ox_iter *it;
    ox_val k, v;
    T_EQ_INT(ox_snapshot_range(snap, ox_store_table(s), NULL, NULL, 0, &it), OX_OK);
    size_t i = 0, misplaced = 0;
    while (ox_iter_next(it, &k, &v) == OX_OK) {
        misplaced += i >= g_n || k.len != g_keys[i].len || memcmp(k.data, g_keys[i].b, k.len);
        i++;
    }
    ox_iter_close(it);
    ox_snapshot_end(snap);
    T_EQ_U64(i, g_n);
    T_ASSERT(misplaced > 100); /* what the walks below put right */
    T_EQ_INT(ox_store_close(s), OX_OK);
}

static void walks_return_byte_order(void)
{
    ox_store *s;
    T_EQ_INT(open_with_keys("order.mdb", &s), OX_OK);
    long g0 = 0, g1 = 0; /* the groups' prefixes */
    while (g_keys[g0].len != 478)
        g0++;
    for (g1 = g0 + 1; g_keys[g1].len != 478; g1++)
        ;
    long in0 = g0 + 100, in0b = g0 + 200, in1 = g1 + 30;
    T_ASSERT(g_keys[in0].len > 478 && g_keys[in0b].len > 478 && g_keys[in1].len > 478);
    static const size_t budgets[] = {KORDER_BYTES, 4000, 1};
    for (size_t b = 0; b < 3; b++)
        for (unsigned f = 0; f < 16; f++) {
            if (f & 4)
                continue; /* OX_ITER_POS: not a korder's */
            size_t bud = budgets[b];
            long lo_after = (f & OX_ITER_AFTER) ? 1 : 0;
            T_EQ_INT(walk_check(s, -1, -1, f & 3, bud), (long)g_n);
            T_EQ_INT(walk_check(s, in0, -1, f, bud), (long)g_n - in0 - lo_after);
            T_EQ_INT(walk_check(s, -1, in0, f & 3, bud), in0);
            T_EQ_INT(walk_check(s, in0, in0b, f, bud), in0b - in0 - lo_after);
            T_EQ_INT(walk_check(s, in0, in1, f, bud), in1 - in0 - lo_after);
            T_EQ_INT(walk_check(s, g0, g1, f, bud), g1 - g0 - lo_after);
            T_EQ_INT(walk_check(s, in0, in0, f & 3, bud), 0);
            T_EQ_INT(walk_check(s, 0, 1, f, bud), 1 - lo_after);
        }
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A bound that is no key of the store, inside a group: the walk starts at the first key
 * past it in byte order. */
static void a_bound_between_keys_of_a_group(void)
{
    ox_store *s;
    T_EQ_INT(open_with_keys("between.mdb", &s), OX_OK);
    long g0 = 0;
    while (g_keys[g0].len != 478)
        g0++;
    long at = g0 + 150;
    key b = g_keys[at];
    b.b[b.len++] = 0; /* just past g_keys[at], before g_keys[at + 1] */
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    ox_val lov = {b.b, b.len}, k, v;
    const ox_val *wlo, *whi;
    unsigned wf;
    ox_iter *it;
    korder *o = NULL;
    T_EQ_INT(walk_open(NULL, snap, ox_store_table(s), &lov, NULL, 0, KORDER_BYTES, &it, &o),
             OX_OK);
    korder_bounds(o, &wlo, &whi, &wf);
    T_EQ_INT(wlo->len, 478);
    T_ASSERT(whi == NULL);
    T_EQ_INT(korder_next(o, &k, &v), OX_OK);
    T_EQ_MEM(k.data, k.len, g_keys[at + 1].b, g_keys[at + 1].len);
    T_ASSERT(korder_last(o, &k, &v)); /* a group's key: the korder's copy */
    korder_close(o);
    ox_iter_close(it);
    ox_snapshot_end(snap);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A write transaction's walk that deletes each key before its next step, as a pop does,
 * with a budget that takes passes: every key once, in byte order, and nothing left. */
static void keys_deleted_while_walking(void)
{
    ox_store *s;
    T_EQ_INT(open_with_keys("pop.mdb", &s), OX_OK);
    ox_table *t = ox_store_table(s);
    for (int desc = 0; desc < 2; desc++) {
        ox_txn *txn;
        T_EQ_INT(ox_txn_begin(s, &txn), OX_OK);
        ox_iter *it;
        korder *p = NULL;
        ox_val k, v;
        T_EQ_INT(walk_open(txn, NULL, t, NULL, NULL, (unsigned)desc, 3000, &it, &p), OX_OK);
        size_t n = 0;
        int rc;
        while ((rc = korder_next(p, &k, &v)) == OX_OK) {
            size_t i = desc ? g_n - 1 - n : n;
            if (i >= g_n || k.len != g_keys[i].len || memcmp(k.data, g_keys[i].b, k.len))
                T_FAIL("desc %d: key %zu of %zu out of order", desc, n, g_n);
            unsigned char copy[600];
            size_t len = k.len;
            memcpy(copy, k.data, len);
            T_EQ_INT(ox_txn_delete(txn, t, copy, len), OX_OK);
            n++;
        }
        T_EQ_INT(rc, OX_NOTFOUND);
        T_EQ_U64(n, g_n);
        korder_close(p);
        ox_iter_close(it);
        ox_txn_rollback(txn);
    }
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* Budgets from 1000 to 9000 bytes over keys of 479 to 538 bytes: whatever the room left
 * when long keys were left out, every key comes once, in order, both ways. (A walk that
 * took a later key into room a left-out key made lost the left-out one.) */
static void any_budget_returns_every_key(void)
{
    ox_store *s;
    T_EQ_INT(open_with_keys("budgets.mdb", &s), OX_OK);
    for (size_t bud = 1000; bud < 9000; bud += 37)
        for (unsigned desc = 0; desc < 2; desc++)
            if (walk_check(s, -1, -1, desc, bud) != (long)g_n)
                T_FAIL("budget %zu, desc %u", bud, desc);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

int main(void)
{
    T_RUN(the_store_itself_sorts_groups_by_hash);
    T_RUN(walks_return_byte_order);
    T_RUN(a_bound_between_keys_of_a_group);
    T_RUN(keys_deleted_while_walking);
    T_RUN(any_budget_returns_every_key);
    return T_MAIN_END();
}
