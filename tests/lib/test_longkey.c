/* Keys longer than LMDB's 511-byte limit: exact lookups, TTLs, transactions, iteration
 * (prefixes, positions), two long keys sharing their stored prefix, and the migration of a
 * format-1 file. */
#include <errno.h>

#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

void ox__sha256(const void *data, size_t len, unsigned char out[32]); /* lib internal */

static const char *hex(const unsigned char *p, size_t n)
{
    static char buf[129];
    for (size_t i = 0; i < n && i < 64; i++)
        snprintf(buf + 2 * i, 3, "%02x", p[i]);
    return buf;
}

/* FIPS 180-4 examples, plus lengths around the padding's block boundary (55, 56, 64),
 * checked against sha256sum. */
static void sha256_matches_known_digests(void)
{
    unsigned char d[32];
    ox__sha256("", 0, d);
    T_EQ_STR(hex(d, 32), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ox__sha256("abc", 3, d);
    T_EQ_STR(hex(d, 32), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ox__sha256(two, strlen(two), d);
    T_EQ_STR(hex(d, 32), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    size_t n = 1000000;
    char *a = malloc(n);
    T_ASSERT(a);
    memset(a, 'a', n);
    ox__sha256(a, n, d);
    T_EQ_STR(hex(d, 32), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    ox__sha256(a, 55, d);
    T_EQ_STR(hex(d, 32), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    ox__sha256(a, 56, d);
    T_EQ_STR(hex(d, 32), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    ox__sha256(a, 64, d);
    T_EQ_STR(hex(d, 32), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    free(a);
}

/* A key of len bytes: tag, then a pattern (so keys of one length differ from the first
 * byte, and keys sharing the tag share their first 478 bytes). */
static char *mkkey(size_t len, char tag)
{
    char *k = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        k[i] = (char)('a' + (i * 7) % 26);
    if (len)
        k[0] = tag;
    return k;
}

static void keys_of_any_length_round_trip(void)
{
    ox_store *s;
    T_EQ_INT(u_open("lk1.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_U64(ox_key_order_prefix(s), 478);
    const size_t lens[] = {0, 1, 478, 479, 509, 510, 511, 512, 4096, 1 << 20};
    const size_t nl = sizeof lens / sizeof lens[0];
    for (size_t i = 0; i < nl; i++) {
        char *k = mkkey(lens[i], 'L');
        char v[32];
        int vl = snprintf(v, sizeof v, "value of %zu", lens[i]);
        T_EQ_INT(ox_put(t, k, lens[i], v, (size_t)vl), OX_OK);
        free(k);
    }
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, nl);
    for (size_t i = 0; i < nl; i++) {
        char *k = mkkey(lens[i], 'L');
        char want[32];
        int wl = snprintf(want, sizeof want, "value of %zu", lens[i]);
        void *v;
        size_t vl;
        int rc = ox_get(t, k, lens[i], &v, &vl);
        if (rc == OX_OK && (vl != (size_t)wl || memcmp(v, want, vl)))
            rc = -1;
        free(v);
        /* One byte less (unless that length is stored too), or the last byte changed:
         * another key, absent. */
        int shorter = OX_NOTFOUND, changed = OX_NOTFOUND;
        int stored = 0;
        for (size_t j = 0; j < nl; j++)
            stored |= lens[i] && lens[j] == lens[i] - 1;
        if (lens[i] && !stored)
            shorter = ox_contains(t, k, lens[i] - 1);
        if (lens[i]) {
            k[lens[i] - 1] ^= 1;
            changed = ox_contains(t, k, lens[i]);
        }
        free(k);
        if (rc != OX_OK)
            T_FAIL("key of %zu bytes: rc %d", lens[i], rc);
        if (shorter != OX_NOTFOUND || changed != OX_NOTFOUND)
            T_FAIL("key of %zu bytes: a neighbour is found (%d %d)", lens[i], shorter, changed);
    }
    /* Overwrite and delete a long key. */
    char *k = mkkey(4096, 'L');
    T_EQ_INT(ox_put(t, k, 4096, "new", 3), OX_OK);
    void *v;
    size_t vl;
    T_EQ_INT(ox_get(t, k, 4096, &v, &vl), OX_OK);
    T_EQ_MEM(v, vl, "new", 3);
    free(v);
    T_EQ_INT(ox_delete(t, k, 4096), OX_OK);
    T_EQ_INT(ox_delete(t, k, 4096), OX_NOTFOUND);
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, nl - 1);
    free(k);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* Long keys with the same first 478 bytes share a stored prefix and differ by hash only. */
static void long_keys_sharing_a_prefix_stay_apart(void)
{
    ox_store *s;
    T_EQ_INT(u_open("lk2.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    enum { N = 200 };
    char *k = mkkey(700, 'S');
    for (int i = 0; i < N; i++) {
        memcpy(k + 690, &i, sizeof i);
        T_EQ_INT(ox_put(t, k, 700, &i, sizeof i), OX_OK);
    }
    for (int i = 0; i < N; i++) {
        ox_val got;
        ox_snapshot *snap;
        memcpy(k + 690, &i, sizeof i);
        T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
        int rc = ox_snapshot_get(snap, t, k, 700, &got);
        int ok = rc == OX_OK && got.len == sizeof i && !memcmp(got.data, &i, sizeof i);
        ox_snapshot_end(snap);
        if (!ok)
            T_FAIL("key %d: rc %d", i, rc);
    }
    /* A prefix longer than 478 bytes selects exactly its keys among them. */
    ox_iter *it;
    ox_val key, val, pre = {k, 691};
    int one = 1;
    memcpy(k + 690, &one, sizeof one);
    T_EQ_INT(ox_prefix(t, &pre, 0, &it), OX_OK);
    int seen = 0, last = -1;
    while (ox_iter_next(it, &key, &val) == OX_OK) {
        seen++;
        if (key.len != 700 || memcmp(key.data, k, 691) || val.len != sizeof last)
            break;
        memcpy(&last, val.data, sizeof last);
        if (((const unsigned char *)key.data)[690] != (unsigned char)one)
            break;
    }
    ox_iter_close(it);
    /* i with low byte 1: 1 only (N < 256) */
    T_EQ_INT(seen, 1);
    T_EQ_INT(last, 1);
    /* A 478-byte prefix: all of them, each with its whole key. */
    pre.len = 478;
    T_EQ_INT(ox_prefix(t, &pre, OX_ITER_KEYS_ONLY, &it), OX_OK);
    seen = 0;
    while (ox_iter_next(it, &key, &val) == OX_OK)
        seen += key.len == 700 && !memcmp(key.data, k, 478);
    ox_iter_close(it);
    T_EQ_INT(seen, N);
    free(k);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

static void long_keys_expire_and_purge(void)
{
    ox_store *s;
    u_clock clk = {1000000};
    T_EQ_INT(u_open("lk3.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char *k = mkkey(2000, 'T');
    T_EQ_INT(ox_put_with_ttl(t, k, 2000, "v", 1, 5000), OX_OK);
    uint64_t ms, n;
    T_EQ_INT(ox_ttl(t, k, 2000, &ms), OX_OK);
    T_EQ_U64(ms, 5000);
    T_EQ_INT(ox_persist(t, k, 2000), OX_OK);
    T_EQ_INT(ox_ttl(t, k, 2000, &ms), OX_NOTTL);
    T_EQ_INT(ox_expire(t, k, 2000, 100), OX_OK);
    T_EQ_INT(ox_count_expires(t, &n), OX_OK);
    T_EQ_U64(n, 1);
    clk.now += 101;
    T_EQ_INT(ox_contains(t, k, 2000), OX_NOTFOUND);
    size_t purged;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 1);
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 0);
    T_EQ_INT(ox_count_expires(t, &n), OX_OK);
    T_EQ_U64(n, 0);
    free(k);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

static void transactions_read_their_long_writes(void)
{
    ox_store *s;
    T_EQ_INT(u_open("lk4.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char *k = mkkey(100000, 'X');
    ox_txn *x;
    ox_val v;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, k, 100000, "one", 3, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, k, 100000, "two", 3, 0, OX_PUT_NOOVERWRITE), OX_ECONFLICT);
    T_EQ_INT(ox_txn_get(x, t, k, 100000, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "one", 3);
    T_EQ_INT(ox_txn_expire_at(x, t, k, 100000, 4000000000000ull), OX_OK);
    uint64_t at;
    T_EQ_INT(ox_txn_expire_time(x, t, k, 100000, &at), OX_OK);
    T_EQ_U64(at, 4000000000000ull);
    T_EQ_INT(ox_txn_put(x, t, k, 100000, "three", 5, 0, OX_PUT_KEEPTTL), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    T_EQ_INT(ox_snapshot_get(snap, t, k, 100000, &v), OX_OK);
    T_EQ_MEM(v.data, v.len, "three", 5);
    T_EQ_INT(ox_snapshot_expire_time(snap, t, k, 100000, &at), OX_OK);
    T_EQ_U64(at, 4000000000000ull);
    ox_snapshot_end(snap);
    free(k);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A scan resumed from positions, one key at a time, visits every key once in order, long
 * ones included, and positions compare as the walk goes. */
static void positions_resume_a_walk_exactly(void)
{
    ox_store *s;
    T_EQ_INT(u_open("lk5.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    enum { N = 60 };
    for (int i = 0; i < N; i++) {
        size_t len = i % 3 == 0 ? 3 : i % 3 == 1 ? 700 : 5000;
        char *k = mkkey(len, (char)('A' + i % 20));
        k[1] = (char)('0' + i / 10);
        k[2] = (char)('0' + i % 10);
        T_EQ_INT(ox_put(t, k, len, &i, sizeof i), OX_OK);
        free(k);
    }
    unsigned char pos[OX_POS_MAX], prev[OX_POS_MAX];
    size_t plen = 0, prevlen = 0;
    int seen[N] = {0}, steps = 0;
    for (;;) {
        ox_iter *it;
        ox_val lo = {pos, plen}, key, val;
        T_EQ_INT(ox_range(t, plen ? &lo : NULL, NULL, OX_ITER_POS | OX_ITER_AFTER, &it), OX_OK);
        int rc = ox_iter_next(it, &key, &val);
        if (rc == OX_OK) {
            int i;
            memcpy(&i, val.data, sizeof i);
            seen[i]++;
            T_EQ_INT(ox_iter_pos(it, pos, &plen), OX_OK);
            T_ASSERT(plen <= 511);
            ox_val kv = {key.data, key.len};
            unsigned char kp[OX_POS_MAX];
            size_t kpl;
            T_EQ_INT(ox_key_pos(s, kv.data, kv.len, kp, &kpl), OX_OK);
            T_EQ_MEM(kp, kpl, pos, plen);
        }
        ox_iter_close(it);
        if (rc == OX_NOTFOUND)
            break;
        T_EQ_INT(rc, OX_OK);
        if (prevlen) {
            int c = memcmp(prev, pos, prevlen < plen ? prevlen : plen);
            T_ASSERT(c < 0 || (c == 0 && prevlen < plen));
        }
        memcpy(prev, pos, plen);
        prevlen = plen;
        T_ASSERT(++steps <= N);
    }
    for (int i = 0; i < N; i++)
        if (seen[i] != 1)
            T_FAIL("key %d seen %d times", i, seen[i]);
    /* Bytes no position has are refused. */
    ox_iter *it;
    ox_val bad = {"\x01x", 2};
    T_EQ_INT(ox_range(t, &bad, NULL, OX_ITER_POS, &it), OX_EINVAL);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A format-1 file (written here with LMDB itself, as version 1 laid it out) holding a
 * 510-byte key with a TTL: opening it read-only reads it as it is; opening it for writing
 * moves it to its long form and records the current version. */
static void format_1_file_migrates(void)
{
    const char *path = u_path("lk6.mdb");
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi data, exp;
    T_EQ_INT(u_raw_file(path, 1, &env, &txn, &data, &exp), 0);
    MDB_val k, v;
    unsigned char sk[511], rec[12], ek[8];
    sk[0] = 0;
    memset(sk + 1, 'm', 510);
    uint64_t at = 4000000000000ull;
    rec[0] = 1; /* OX_VH_TTL */
    for (int i = 0; i < 8; i++)
        rec[1 + i] = ek[i] = (unsigned char)(at >> (56 - 8 * i));
    memcpy(rec + 9, "old", 3);
    k = (MDB_val){511, sk};
    v = (MDB_val){12, rec};
    T_EQ_INT(mdb_put(txn, data, &k, &v, 0), 0);
    MDB_val ekv = {8, ek};
    T_EQ_INT(mdb_put(txn, exp, &ekv, &k, 0), 0);
    sk[1] = 's'; /* and a short key, left alone */
    k = (MDB_val){4, sk};
    v = (MDB_val){2, "\0s"};
    T_EQ_INT(mdb_put(txn, data, &k, &v, 0), 0);
    T_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    char key[510];
    memset(key, 'm', sizeof key);
    ox_store *s;
    ox_options o;
    ox_options_init(&o);
    o.read_only = 1;
    T_EQ_INT(ox_store_open(path, &o, &s), OX_OK);
    T_EQ_INT(ox_store_format(s), 1);
    void *got;
    size_t len;
    T_EQ_INT(ox_get(ox_store_table(s), key, 510, &got, &len), OX_OK);
    T_EQ_MEM(got, len, "old", 3);
    free(got);
    ox_store_close(s);

    T_EQ_INT(ox_store_open(path, NULL, &s), OX_OK);
    T_EQ_INT(ox_store_format(s), OX_FORMAT_VERSION);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_get(t, key, 510, &got, &len), OX_OK);
    T_EQ_MEM(got, len, "old", 3);
    free(got);
    T_EQ_INT(ox_get(t, "smm", 3, &got, &len), OX_OK);
    T_EQ_MEM(got, len, "s", 1);
    free(got);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 2);
    T_EQ_INT(ox_count_expires(t, &n), OX_OK);
    T_EQ_U64(n, 1);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_expire_time(x, t, key, 510, &at), OX_OK);
    T_EQ_U64(at, 4000000000000ull);
    ox_txn_rollback(x);
    /* The stored form is the long one now: 511 bytes, the key's first 478 then a hash. */
    ox_iter *it;
    ox_val ik, iv;
    unsigned char pos[OX_POS_MAX];
    T_EQ_INT(ox_range(t, NULL, NULL, 0, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &ik, &iv), OX_OK);
    T_EQ_MEM(ik.data, ik.len, key, 510);
    T_EQ_INT(ox_iter_pos(it, pos, &len), OX_OK);
    T_EQ_U64(len, 511);
    ox_iter_close(it);
    T_EQ_INT(ox_store_close(s), OX_OK);
    ox_check_report rep;
    T_EQ_INT(ox_check(path, &rep), OX_OK);
}

int main(void)
{
    T_RUN(sha256_matches_known_digests);
    T_RUN(keys_of_any_length_round_trip);
    T_RUN(long_keys_sharing_a_prefix_stay_apart);
    T_RUN(long_keys_expire_and_purge);
    T_RUN(transactions_read_their_long_writes);
    T_RUN(positions_resume_a_walk_exactly);
    T_RUN(format_1_file_migrates);
    return T_MAIN_END();
}
