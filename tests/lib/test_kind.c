/* Record kinds (OX_PUT_KIND): stored with the record, read back by every read path, kept
 * by a change of expiry time, through checkpoints, the log's replay and long keys; a
 * version 2 file opens as version 3. */
#include <lmdb.h>

#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

/* The kind of key as a snapshot, an iterator and (for a writable store) a write
 * transaction see it. */
static void expect_kind_of(ox_store *s, const char *key, size_t klen, unsigned want,
                           const char *val, int writable)
{
    ox_table *t = ox_store_table(s);
    ox_val v;
    unsigned kind = 99;
    if (writable) {
        ox_txn *x;
        T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
        T_EQ_INT(ox_txn_read(x, t, key, klen, &v, &kind, NULL), OX_OK);
        T_EQ_INT(kind, want);
        T_EQ_MEM(v.data, v.len, val, strlen(val));
        ox_txn_rollback(x);
    }
    ox_snapshot *snap;
    kind = 99;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    T_EQ_INT(ox_snapshot_read(snap, t, key, klen, &v, &kind, NULL), OX_OK);
    T_EQ_INT(kind, want);
    T_EQ_MEM(v.data, v.len, val, strlen(val));
    ox_iter *it;
    ox_val lo = {key, klen}, k;
    T_EQ_INT(ox_snapshot_range(snap, t, &lo, NULL, 0, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &k, &v), OX_OK);
    T_EQ_MEM(k.data, k.len, key, klen);
    T_EQ_INT(ox_iter_kind(it), want);
    ox_iter_close(it);
    ox_snapshot_end(snap);
}

static void expect_kind(ox_store *s, const char *key, size_t klen, unsigned want,
                        const char *val)
{
    expect_kind_of(s, key, klen, want, val, 1);
}

static void kinds_are_kept_by_every_path(void)
{
    ox_store *s;
    T_EQ_INT(u_open("k1.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char lk[700];
    memset(lk, 'L', sizeof lk);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "a", 1, "va", 2, 0, OX_PUT_KIND(4)), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "b", 1, "vb", 2, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "c", 1, "vc", 2, 4000000000000ull, OX_PUT_KIND(7)), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, lk, sizeof lk, "vl", 2, 0, OX_PUT_KIND(3)), OX_OK);
    /* read-your-writes sees the kind too */
    unsigned kind;
    uint64_t at;
    ox_val v;
    T_EQ_INT(ox_txn_read(x, t, "c", 1, &v, &kind, &at), OX_OK);
    T_EQ_INT(kind, 7);
    T_EQ_U64(at, 4000000000000ull);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    expect_kind(s, "a", 1, 4, "va");
    expect_kind(s, "b", 1, 0, "vb");
    expect_kind(s, "c", 1, 7, "vc");
    expect_kind(s, lk, sizeof lk, 3, "vl");

    /* A change of expiry time keeps the kind; a plain put writes kind 0. */
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_expire_at(x, t, "a", 1, 4000000000000ull), OX_OK);
    T_EQ_INT(ox_txn_persist(x, t, "c", 1), OX_OK);
    T_EQ_INT(ox_txn_expire_at(x, t, lk, sizeof lk, 4000000000000ull), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    expect_kind(s, "a", 1, 4, "va");
    expect_kind(s, "c", 1, 7, "vc");
    expect_kind(s, lk, sizeof lk, 3, "vl");

    /* Through a checkpoint into LMDB, then the log's replay of later commits. */
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    expect_kind(s, "a", 1, 4, "va");
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "d", 1, "vd", 2, 0, OX_PUT_KIND(2) | OX_PUT_NOOVERWRITE), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_put(t, "b", 1, "vB", 2), OX_OK);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(u_open("k1.mdb", NULL, &s), OX_OK);
    expect_kind(s, "a", 1, 4, "va");
    expect_kind(s, "b", 1, 0, "vB");
    expect_kind(s, "c", 1, 7, "vc");
    expect_kind(s, "d", 1, 2, "vd");
    expect_kind(s, lk, sizeof lk, 3, "vl");
    T_EQ_U64(ox_store_format(s), OX_FORMAT_VERSION);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A version 2 or 3 file (written here with LMDB itself) opens read-only as that version
 * with its records as they are (a version 2 file's of kind 0), and opening it for writing
 * records the current version (oxistore.h: the same records). */
static void format_2_and_3_files_become_current(void)
{
    for (unsigned version = 2; version <= 3; version++) {
        const char *path = u_path(version == 2 ? "k2.mdb" : "k3.mdb");
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi data, exp;
        T_EQ_INT(u_raw_file(path, version, &env, &txn, &data, &exp), 0);
        MDB_val k = {2, "\0k"}, v = {3, "\0ok"};
        T_EQ_INT(mdb_put(txn, data, &k, &v, 0), 0);
        T_EQ_INT(mdb_txn_commit(txn), 0);
        mdb_env_close(env);

        ox_store *s;
        ox_options o;
        ox_options_init(&o);
        o.read_only = 1;
        T_EQ_INT(ox_store_open(path, &o, &s), OX_OK);
        T_EQ_U64(ox_store_format(s), version);
        expect_kind_of(s, "k", 1, 0, "ok", 0);
        ox_store_close(s);
        T_EQ_INT(ox_store_open(path, NULL, &s), OX_OK);
        T_EQ_U64(ox_store_format(s), OX_FORMAT_VERSION);
        expect_kind(s, "k", 1, 0, "ok");
        ox_store_close(s);
    }
}

int main(void)
{
    T_RUN(kinds_are_kept_by_every_path);
    T_RUN(format_2_and_3_files_become_current);
    return T_MAIN_END();
}
