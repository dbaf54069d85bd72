/* Streaming iterators: ranges [lo, hi) both ways, prefixes, keys only, every key. */
#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

static ox_store *g_s;
static ox_table *g_t;

/* Concatenates the first byte after "k" of every key the iterator yields, e.g. "abc". */
static int collect(ox_iter *it, char *out, size_t cap, int want_vals)
{
    ox_val k, v;
    size_t n = 0;
    int rc;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        if (n + 1 < cap)
            out[n++] = ((const char *)k.data)[k.len - 1];
        if (want_vals && v.len != 0 && (v.len != 1 || *(const char *)v.data != 'v'))
            return -1;
        if (!want_vals && v.len != 0)
            return -2;
    }
    out[n] = '\0';
    ox_iter_close(it);
    return rc == OX_NOTFOUND ? (int)n : -3;
}

static void setup(void)
{
    T_EQ_INT(u_open("iter.mdb", NULL, &g_s), OX_OK);
    g_t = ox_store_table(g_s);
    const char *keys[] = {"a", "b", "ba", "bb", "b\xff", "b\xff\xff", "c", "d", "e"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        T_EQ_INT(ox_put(g_t, keys[i], strlen(keys[i]), "v", 1), OX_OK);
}

static void range_ascending_is_half_open(void)
{
    ox_iter *it;
    char got[32];
    ox_val lo = {"b", 1}, hi = {"d", 1};
    T_EQ_INT(ox_range(g_t, &lo, &hi, 0, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 6);
    T_EQ_STR(got, "bab\xff\xff" "c");
}

static void range_descending_is_half_open(void)
{
    ox_iter *it;
    char got[32];
    ox_val lo = {"b", 1}, hi = {"d", 1};
    T_EQ_INT(ox_range(g_t, &lo, &hi, OX_ITER_DESC, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 6);
    T_EQ_STR(got, "c\xff\xff" "bab");
    ox_val hi2 = {"bz", 2}; /* hi between keys ("b\xff" sorts above it) */
    T_EQ_INT(ox_range(g_t, NULL, &hi2, OX_ITER_DESC, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 4);
    T_EQ_STR(got, "baba"); /* bb ba b a */
    ox_val hi3 = {"zzz", 3}; /* above every key */
    T_EQ_INT(ox_range(g_t, NULL, &hi3, OX_ITER_DESC, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 9);
    T_EQ_STR(got, "edc\xff\xff" "baba");
}

static void unbounded_range_is_every_key_in_order(void)
{
    ox_iter *it;
    char got[32];
    T_EQ_INT(ox_range(g_t, NULL, NULL, 0, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 9);
    T_EQ_STR(got, "abab\xff\xff" "cde");
    ox_val empty = {"", 0};
    T_EQ_INT(ox_range(g_t, &empty, &empty, 0, &it), OX_OK); /* [x, x) is empty */
    T_EQ_INT(collect(it, got, sizeof got, 1), 0);
}

static void prefix_scan_handles_ff_bytes(void)
{
    ox_iter *it;
    char got[32];
    ox_val p = {"b", 1};
    T_EQ_INT(ox_prefix(g_t, &p, 0, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 5);
    ox_val pff = {"b\xff", 2};
    T_EQ_INT(ox_prefix(g_t, &pff, OX_ITER_DESC, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 2);
    T_EQ_STR(got, "\xff\xff");
    ox_val none = {"x", 1};
    T_EQ_INT(ox_prefix(g_t, &none, 0, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 1), 0);
    ox_val all = {"", 0};
    T_EQ_INT(ox_prefix(g_t, &all, OX_ITER_KEYS_ONLY, &it), OX_OK);
    T_EQ_INT(collect(it, got, sizeof got, 0), 9);
}

static void iterator_at_end_keeps_answering_notfound(void)
{
    ox_iter *it;
    ox_val k, v;
    ox_val lo = {"e", 1};
    T_EQ_INT(ox_range(g_t, &lo, NULL, 0, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_OK);
    T_EQ_MEM(k.data, k.len, "e", 1);
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_NOTFOUND);
    T_EQ_INT(ox_iter_next(it, &k, NULL), OX_NOTFOUND);
    ox_iter_close(it);
    ox_iter_close(NULL);
}

static void iterator_streams_a_large_table_in_order(void)
{
    ox_table *big;
    T_EQ_INT(ox_table_open(g_s, "big", &big), OX_OK);
    ox_txn *x;
    char k[32];
    size_t kl;
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    for (int i = 0; i < 50000; i++) {
        kl = U_KEY(k, "%08d", i * 3);
        T_EQ_INT(ox_txn_put(x, big, k, kl, k, kl, 0, 0), OX_OK);
    }
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    ox_iter *it;
    ox_val lo = {"00030000", 8}, hi = {"00060000", 8}, key, val;
    T_EQ_INT(ox_range(big, &lo, &hi, OX_ITER_DESC, &it), OX_OK);
    int n = 0, expect = 59997;
    while (ox_iter_next(it, &key, &val) == OX_OK) {
        kl = U_KEY(k, "%08d", expect);
        if (key.len != kl || memcmp(key.data, k, kl) || val.len != kl) {
            ox_iter_close(it);
            T_FAIL("out of order at %d", n);
        }
        expect -= 3;
        n++;
    }
    ox_iter_close(it);
    T_EQ_INT(n, 10000);
}

/* A write transaction's iterator keeps the position of the key it returned when the
 * transaction then writes: deleting that key (a page already written in the transaction)
 * moved the bytes the position pointed at, and it named the next key instead. */
static void write_txn_position_survives_writes(void)
{
    ox_store *s;
    T_EQ_INT(u_open("iter_wpos.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "key%03d", i);
        T_EQ_INT(ox_put(t, key, 6, "v", 1), OX_OK);
    }
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "key000", 6, "w", 1, 0, 0), OX_OK); /* the page is dirty */
    ox_iter *it;
    ox_val k, v;
    T_EQ_INT(ox_txn_range(x, t, NULL, NULL, 0, &it), OX_OK);
    for (int i = 0; i < 5; i++)
        T_EQ_INT(ox_iter_next(it, &k, &v), OX_OK);
    T_EQ_MEM(k.data, k.len, "key004", 6);
    T_EQ_INT(ox_txn_delete(x, t, "key004", 6), OX_OK);
    unsigned char pos[OX_POS_MAX], want[OX_POS_MAX];
    size_t plen, wlen;
    T_EQ_INT(ox_iter_pos(it, pos, &plen), OX_OK);
    T_EQ_INT(ox_key_pos(s, "key004", 6, want, &wlen), OX_OK);
    T_EQ_MEM(pos, plen, want, wlen);
    /* and the walk goes on after it */
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_OK);
    T_EQ_MEM(k.data, k.len, "key005", 6);
    ox_iter_close(it);
    ox_txn_rollback(x);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* Keys of "tomb" in [lo, hi), the walk's order, as their numbers ("090 091"...), into out:
 * how many, or -1. */
static int tomb_range(ox_txn *x, ox_table *t, int lo, int hi, unsigned flags, char *out,
                      size_t cap)
{
    char l[8], h[8];
    ox_val lov = {l, (size_t)snprintf(l, sizeof l, "t%03d", lo)};
    ox_val hiv = {h, (size_t)snprintf(h, sizeof h, "t%03d", hi)}, k, v;
    ox_iter *it;
    int rc = x ? ox_txn_range(x, t, &lov, &hiv, flags, &it) : ox_range(t, &lov, &hiv, flags, &it);
    if (rc != OX_OK)
        return -1;
    int n = 0;
    size_t used = 0;
    out[0] = 0;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK && used + 5 < cap) {
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", n ? " " : "", (int)k.len - 1,
                                 (const char *)k.data + 1);
        n++;
    }
    ox_iter_close(it);
    return rc == OX_NOTFOUND ? n : -1;
}

/* A range over keys of LMDB deleted in a write buffer ends at its bound, both ways, what
 * lies past the bound deleted or not (the walk stops there instead of stepping over the
 * deletions beyond it: ox__walk_end), committed or still in the write transaction. */
static void ranges_end_at_their_bounds_over_deletions(void)
{
    ox_table *t;
    T_EQ_INT(ox_table_open(g_s, "tomb", &t), OX_OK);
    ox_txn *x;
    char k[8];
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    for (int i = 0; i < 100; i++)
        T_EQ_INT(ox_txn_put(x, t, k, (size_t)snprintf(k, sizeof k, "t%03d", i), "v", 1, 0, 0),
                 OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_store_checkpoint(g_s), OX_OK); /* into LMDB */
    static const struct {
        int lo, hi;
        unsigned flags;
        const char *want;
    } cases[] = {
        {0, 50, 0, "000 001 002 003 004 005 006 007 008 009"},
        {0, 50, OX_ITER_DESC, "009 008 007 006 005 004 003 002 001 000"},
        {50, 93, 0, "090 091 092"},
        {50, 93, OX_ITER_DESC, "092 091 090"},
        {20, 80, 0, ""},
        {20, 80, OX_ITER_DESC, ""},
        {9, 10, OX_ITER_DESC, "009"},
        {89, 91, 0, "090"},
    };
    enum { NCASES = sizeof cases / sizeof *cases };
    char got[2][NCASES][128];
    for (int pass = 0; pass < 2; pass++) { /* the transaction's own deletions, committed */
        T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
        int deleted = 0;
        for (int i = 10; i < 90; i++)
            deleted += ox_txn_delete(x, t, k, (size_t)snprintf(k, sizeof k, "t%03d", i)) == OX_OK;
        for (int i = 0; i < NCASES; i++) /* (asserted after the commit: a failure ends the
                                            test, and an open transaction would hold the
                                            writer) */
            if (tomb_range(pass ? NULL : x, t, cases[i].lo, cases[i].hi, cases[i].flags,
                           got[pass][i], sizeof got[pass][i]) < 0)
                snprintf(got[pass][i], sizeof got[pass][i], "(error)");
        T_EQ_INT(ox_txn_commit(x), OX_OK);
        T_EQ_INT(deleted, pass ? 0 : 80);
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < NCASES; i++)
            T_EQ_STR(got[pass][i], cases[i].want);
}

/* The last letters of group g's keys ("grp%05d:" then a letter: the first 8 bytes tell the
 * group, as a collection's id does) in t, read by a range (prefix 0) or a prefix iterator on
 * snap (NULL: its own), or in txn (snap ignored), either way. */
static void group_keys(ox_txn *txn, ox_snapshot *snap, ox_table *t, int g, int prefix,
                       unsigned flags, char *out, size_t cap)
{
    char lo[16], hi[16];
    snprintf(lo, sizeof lo, "grp%05d:", g);
    memcpy(hi, lo, 9);
    hi[9] = (char)0xff;
    ox_val lov = {lo, 9}, hiv = {hi, 10};
    ox_iter *it;
    int rc = txn      ? (prefix ? ox_txn_prefix(txn, t, &lov, flags, &it)
                                : ox_txn_range(txn, t, &lov, &hiv, flags, &it))
             : prefix ? (snap ? ox_snapshot_prefix(snap, t, &lov, flags, &it)
                              : ox_prefix(t, &lov, flags, &it))
                      : (snap ? ox_snapshot_range(snap, t, &lov, &hiv, flags, &it)
                              : ox_range(t, &lov, &hiv, flags, &it));
    if (rc != OX_OK || collect(it, out, cap, 1) < 0)
        snprintf(out, cap, "(error)");
}

static size_t group_key(char *k, size_t cap, int g, char c)
{
    return (size_t)snprintf(k, cap, "grp%05d:%c", g, c);
}

/* A snapshot's walk within one 8-byte prefix leaves out the write buffers that hold no key
 * with it (lib/ox_mem.h's filter): it still sees what LMDB holds, and once the buffer holds
 * a key or a deletion there, those too; an older snapshot does not. A write transaction's
 * walk keeps every buffer: it sees what it writes there after opening. */
static void ranges_within_a_prefix_see_every_layer(void)
{
    ox_table *t;
    T_EQ_INT(ox_table_open(g_s, "pfx", &t), OX_OK);
    char k[16];
    for (const char *c = "ab"; *c; c++)
        T_EQ_INT(ox_put(t, k, group_key(k, sizeof k, 1, *c), "v", 1), OX_OK);
    T_EQ_INT(ox_put(t, k, group_key(k, sizeof k, 2, 'z'), "v", 1), OX_OK);
    T_EQ_INT(ox_store_checkpoint(g_s), OX_OK); /* in LMDB; the buffer starts empty */
    for (int g = 3; g < 300; g++) /* a buffer holding other groups */
        T_EQ_INT(ox_put(t, k, group_key(k, sizeof k, g, 'a'), "v", 1), OX_OK);
    char got[11][16];
    group_keys(NULL, NULL, t, 1, 0, 0, got[0], sizeof got[0]);
    group_keys(NULL, NULL, t, 1, 0, OX_ITER_DESC, got[1], sizeof got[1]);
    group_keys(NULL, NULL, t, 1, 1, 0, got[2], sizeof got[2]);
    ox_snapshot *before;
    T_EQ_INT(ox_snapshot_begin(g_s, &before), OX_OK);
    T_EQ_INT(ox_delete(t, k, group_key(k, sizeof k, 1, 'a')), OX_OK);
    group_keys(NULL, NULL, t, 1, 0, 0, got[8], sizeof got[8]); /* the deletion alone */
    T_EQ_INT(ox_put(t, k, group_key(k, sizeof k, 1, 'c'), "v", 1), OX_OK);
    group_keys(NULL, NULL, t, 1, 0, 0, got[3], sizeof got[3]);
    group_keys(NULL, NULL, t, 1, 0, OX_ITER_DESC, got[4], sizeof got[4]);
    group_keys(NULL, NULL, t, 1, 1, OX_ITER_DESC, got[5], sizeof got[5]);
    group_keys(NULL, before, t, 1, 0, 0, got[6], sizeof got[6]);
    group_keys(NULL, before, t, 2, 1, 0, got[7], sizeof got[7]);
    ox_snapshot_end(before);
    /* A transaction's iterators opened on a group no buffer holds, then a put there. */
    ox_txn *x;
    ox_iter *its[2];
    ox_val lov = {"grp00400:", 9}, hiv = {"grp00400:\xff", 10};
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    int rc = ox_txn_range(x, t, &lov, &hiv, 0, &its[0]);
    if (rc == OX_OK && (rc = ox_txn_prefix(x, t, &lov, OX_ITER_DESC, &its[1])) != OX_OK)
        ox_iter_close(its[0]);
    if (rc == OX_OK)
        rc = ox_txn_put(x, t, k, group_key(k, sizeof k, 400, 'z'), "v", 1, 0, 0);
    for (int i = 0; i < 2; i++)
        if (rc == OX_OK && collect(its[i], got[9 + i], sizeof got[9 + i], 1) < 0)
            snprintf(got[9 + i], sizeof got[9 + i], "(error)");
    ox_txn_rollback(x); /* before asserting: a held writer would hang the close */
    T_EQ_INT(rc, OX_OK);
    T_EQ_STR(got[0], "ab");
    T_EQ_STR(got[1], "ba");
    T_EQ_STR(got[2], "ab");
    T_EQ_STR(got[8], "b");
    T_EQ_STR(got[3], "bc");
    T_EQ_STR(got[4], "cb");
    T_EQ_STR(got[5], "cb");
    T_EQ_STR(got[6], "ab");
    T_EQ_STR(got[7], "z");
    T_EQ_STR(got[9], "z");
    T_EQ_STR(got[10], "z");
}

/* A buffer whose table was cleared is left out of a walk within a group it holds no key
 * of; its clear still hides what LMDB holds. */
static void a_left_out_buffer_still_clears(void)
{
    ox_table *t;
    T_EQ_INT(ox_table_open(g_s, "pfxclear", &t), OX_OK);
    char k[16], got[4][16];
    for (const char *c = "ab"; *c; c++)
        T_EQ_INT(ox_put(t, k, group_key(k, sizeof k, 1, *c), "v", 1), OX_OK);
    T_EQ_INT(ox_store_checkpoint(g_s), OX_OK);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    int rc = ox_txn_clear(x, t);
    if (rc == OX_OK)
        rc = ox_txn_put(x, t, k, group_key(k, sizeof k, 2, 'z'), "v", 1, 0, 0);
    if (rc == OX_OK)
        rc = ox_txn_commit(x);
    else
        ox_txn_rollback(x);
    T_EQ_INT(rc, OX_OK);
    group_keys(NULL, NULL, t, 1, 0, 0, got[0], sizeof got[0]);
    group_keys(NULL, NULL, t, 1, 0, OX_ITER_DESC, got[1], sizeof got[1]);
    group_keys(NULL, NULL, t, 1, 1, 0, got[2], sizeof got[2]);
    group_keys(NULL, NULL, t, 2, 0, 0, got[3], sizeof got[3]);
    T_EQ_STR(got[0], "");
    T_EQ_STR(got[1], "");
    T_EQ_STR(got[2], "");
    T_EQ_STR(got[3], "z");
}

/* Keys of "lim" in [lo, hi) (NULL: no bound) walked by one iterator with a step limit, as
 * their numbers, into out: the last result (OX_NOTFOUND at the end, OX_ELIMIT...) and what
 * a call after it says in *again. */
static int lim_walk(ox_table *t, const char *lo, const char *hi, size_t limit, unsigned flags,
                    char *out, size_t cap, int *again)
{
    ox_iter *it;
    ox_val k, v, lov = {lo, lo ? strlen(lo) : 0}, hiv = {hi, hi ? strlen(hi) : 0};
    int rc = ox_range(t, lo ? &lov : NULL, hi ? &hiv : NULL, flags, &it);
    if (rc != OX_OK)
        return rc;
    ox_iter_limit(it, limit);
    size_t used = 0;
    out[0] = 0;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK && used + 5 < cap)
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? " " : "",
                                 (int)k.len - 1, (const char *)k.data + 1);
    *again = ox_iter_next(it, &k, &v);
    ox_iter_close(it);
    return rc;
}

/* ox_iter_limit: one call gives up with OX_ELIMIT past n keys stepped over (deleted in a
 * write buffer, or expired), and the iterator stays spent; n keys are still stepped over,
 * and the count starts again at each call. A bound the range excludes (lo with
 * OX_ITER_AFTER, hi descending) is not one of them. */
static void a_limited_iterator_gives_up_past_its_steps(void)
{
    ox_table *t;
    T_EQ_INT(ox_table_open(g_s, "lim", &t), OX_OK);
    ox_txn *x;
    char k[8];
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    for (int i = 0; i < 40; i++) /* l000..l039, l010..l019 expired long ago */
        T_EQ_INT(ox_txn_put(x, t, k, (size_t)snprintf(k, sizeof k, "l%03d", i), "v", 1,
                            i >= 10 && i < 20 ? 1 : 0, 0),
                 OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_store_checkpoint(g_s), OX_OK);
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    for (int i = 20; i < 30; i++) /* deleted in the write buffer */
        T_EQ_INT(ox_txn_delete(x, t, k, (size_t)snprintf(k, sizeof k, "l%03d", i)), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    static const struct {
        const char *lo, *hi;
        size_t limit;
        unsigned flags;
        int rc, again;
        const char *want;
    } cases[] = {
        {NULL, NULL, 20, 0, OX_NOTFOUND, OX_NOTFOUND,
         "000 001 002 003 004 005 006 007 008 009 030 031 032 033 034 035 036 037 038 039"},
        {NULL, NULL, 0, OX_ITER_DESC, OX_NOTFOUND, OX_NOTFOUND,
         "039 038 037 036 035 034 033 032 031 030 009 008 007 006 005 004 003 002 001 000"},
        {NULL, NULL, 19, 0, OX_ELIMIT, OX_ELIMIT, "000 001 002 003 004 005 006 007 008 009"},
        {NULL, NULL, 19, OX_ITER_DESC, OX_ELIMIT, OX_ELIMIT,
         "039 038 037 036 035 034 033 032 031 030"},
        {NULL, NULL, 1, 0, OX_ELIMIT, OX_ELIMIT, "000 001 002 003 004 005 006 007 008 009"},
        {"l009", "l032", 20, OX_ITER_AFTER, OX_NOTFOUND, OX_NOTFOUND, "030 031"},
        {"l009", "l032", 19, OX_ITER_AFTER, OX_ELIMIT, OX_ELIMIT, ""},
        {"l008", "l030", 20, OX_ITER_DESC, OX_NOTFOUND, OX_NOTFOUND, "009 008"},
        {"l008", "l030", 19, OX_ITER_DESC, OX_ELIMIT, OX_ELIMIT, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char got[256];
        int again = -1;
        T_EQ_INT(lim_walk(t, cases[i].lo, cases[i].hi, cases[i].limit, cases[i].flags, got,
                          sizeof got, &again),
                 cases[i].rc);
        T_EQ_INT(again, cases[i].again);
        T_EQ_STR(got, cases[i].want);
    }
}

/* Puts "<c>00000" .. "<c><n - 1>" (five digits) in one committed transaction. */
static void put_run(char c, int n)
{
    char k[16];
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    for (int i = 0; i < n; i++)
        T_EQ_INT(ox_txn_put(x, g_t, k, (size_t)snprintf(k, sizeof k, "%c%05d", c, i), "v", 1, 0, 0),
                 OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
}

/* A walk that steps over OX_WALK_DELS (1024) deleted keys starts a checkpoint at the next
 * commit, which takes them out: here the buffer is far from full, young, and holds more
 * live keys than deletions, so nothing else would start one. 1023 do not. */
static void a_walk_over_many_deletions_starts_a_checkpoint(void)
{
    char k[16];
    ox_txn *x;
    put_run('w', 3000);
    T_EQ_INT(ox_store_checkpoint(g_s), OX_OK); /* in LMDB; the buffer starts empty */
    put_run('x', 4000); /* live keys elsewhere: deletions stay a minority */
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(g_s, &wi), OX_OK);
    uint64_t before = wi.checkpoints;
    T_EQ_INT(wi.checkpointing, 0);
    for (int dels = 1023; dels <= 1024; dels++) {
        T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
        for (int i = dels == 1023 ? 0 : 1023; i < dels; i++)
            T_EQ_INT(ox_txn_delete(x, g_t, k, (size_t)snprintf(k, sizeof k, "w%05d", i)), OX_OK);
        T_EQ_INT(ox_txn_commit(x), OX_OK);
        ox_iter *it;
        ox_val lo = {"w", 1}, hi = {"x", 1}, key;
        T_EQ_INT(ox_range(g_t, &lo, &hi, OX_ITER_KEYS_ONLY, &it), OX_OK);
        T_EQ_INT(ox_iter_next(it, &key, NULL), OX_OK);
        snprintf(k, sizeof k, "w%05d", dels);
        T_EQ_MEM(key.data, key.len, k, 6);
        ox_iter_close(it);
        T_EQ_INT(ox_put(g_t, "y", 1, "v", 1), OX_OK); /* a commit: where a checkpoint starts */
        T_EQ_INT(ox_store_write_info(g_s, &wi), OX_OK);
        T_EQ_INT(wi.checkpointing || wi.checkpoints > before, dels == 1024);
    }
    for (uint64_t end = t_now_ms() + 30000; wi.checkpoints == before && t_now_ms() < end;)
        T_EQ_INT(ox_store_write_info(g_s, &wi), OX_OK);
    T_EQ_U64(wi.checkpoints, before + 1);
    /* The deletions are gone: the same walk steps over none, and starts nothing. */
    ox_iter *it;
    ox_val lo = {"w", 1}, hi = {"x", 1}, key;
    T_EQ_INT(ox_range(g_t, &lo, &hi, OX_ITER_KEYS_ONLY, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &key, NULL), OX_OK);
    ox_iter_close(it);
    T_EQ_INT(ox_put(g_t, "y", 1, "w", 1), OX_OK);
    T_EQ_INT(ox_store_write_info(g_s, &wi), OX_OK);
    T_EQ_INT(wi.checkpointing, 0);
    T_EQ_U64(wi.checkpoints, before + 1);
}

/* The walk that sets the flag may step over deletions a checkpoint has already written (an
 * older snapshot's): the active buffer is then empty, and is not frozen until it holds a
 * commit. A checkpoint of an empty buffer recorded lsn 0 as the file's last: the next
 * open after a crash replayed from a log segment long reused, and found the file corrupt. */
static void deletions_a_checkpoint_wrote_start_none_of_an_empty_buffer(void)
{
    char k[16];
    ox_txn *x;
    put_run('v', 2000);
    T_EQ_INT(ox_store_checkpoint(g_s), OX_OK);
    T_EQ_INT(ox_txn_begin(g_s, &x), OX_OK);
    for (int i = 0; i < 1100; i++)
        T_EQ_INT(ox_txn_delete(x, g_t, k, (size_t)snprintf(k, sizeof k, "v%05d", i)), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(g_s, &snap), OX_OK); /* sees the deletions in the buffer */
    T_EQ_INT(ox_store_checkpoint(g_s), OX_OK);      /* and now they are in LMDB */
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(g_s, &wi), OX_OK);
    uint64_t lsn = wi.checkpoint_seq, count = wi.checkpoints;
    T_ASSERT(lsn > 0);
    ox_iter *it;
    ox_val lo = {"v", 1}, hi = {"w", 1}, key;
    T_EQ_INT(ox_snapshot_range(snap, g_t, &lo, &hi, OX_ITER_KEYS_ONLY, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &key, NULL), OX_OK); /* past 1100: the flag is set */
    T_EQ_MEM(key.data, key.len, "v01100", 6);
    ox_iter_close(it);
    ox_snapshot_end(snap);
    T_EQ_INT(ox_put(g_t, "y", 1, "1", 1), OX_OK); /* begins on an empty buffer: no freeze */
    T_EQ_INT(ox_store_write_info(g_s, &wi), OX_OK);
    T_EQ_INT(wi.checkpointing, 0);
    T_EQ_U64(wi.checkpoints, count);
    T_EQ_INT(ox_put(g_t, "y", 1, "2", 1), OX_OK); /* the buffer holds one: frozen now */
    for (uint64_t end = t_now_ms() + 30000;
         (wi.checkpointing || wi.checkpoints == count) && t_now_ms() < end;)
        T_EQ_INT(ox_store_write_info(g_s, &wi), OX_OK);
    T_EQ_U64(wi.checkpoints, count + 1);
    T_ASSERT(wi.checkpoint_seq > lsn); /* the commit of "y" = "1" */
}

int main(void)
{
    T_RUN(setup);
    T_RUN(range_ascending_is_half_open);
    T_RUN(range_descending_is_half_open);
    T_RUN(unbounded_range_is_every_key_in_order);
    T_RUN(prefix_scan_handles_ff_bytes);
    T_RUN(iterator_at_end_keeps_answering_notfound);
    T_RUN(iterator_streams_a_large_table_in_order);
    T_RUN(write_txn_position_survives_writes);
    T_RUN(ranges_end_at_their_bounds_over_deletions);
    T_RUN(ranges_within_a_prefix_see_every_layer);
    T_RUN(a_left_out_buffer_still_clears);
    T_RUN(a_limited_iterator_gives_up_past_its_steps);
    T_RUN(a_walk_over_many_deletions_starts_a_checkpoint);
    T_RUN(deletions_a_checkpoint_wrote_start_none_of_an_empty_buffer);
    ox_store_close(g_s);
    return T_MAIN_END();
}
