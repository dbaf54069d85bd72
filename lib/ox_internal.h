/* ox_internal.h — what liboxistore's own files share; never installed, never included by
 * users. The public contract is oxistore.h.
 *
 * On-disk layout (format version 2), all inside one LMDB file:
 * - "ox:meta"        key "format" -> 4-byte big-endian format version.
 * - "t:<name>"       a table's data: stored key -> value record.
 * - "e:<name>"       its expiry index (MDB_DUPSORT): 8-byte big-endian expiry time (ms)
 *                    -> stored key. Exactly one entry per key that has an expiry time, so
 *                    purging costs O(expired keys) and never scans the data.
 * A stored key is a 1-byte kind (OX_KEY_DIRECT), so that the empty key, which LMDB cannot
 * hold, is a key like any other, then:
 * - a key of up to s->direct_max bytes (509 with LMDB's 511-byte limit): the key itself;
 * - a longer key ("long key"): its first s->long_prefix bytes (478), then the SHA-256 of
 *   the whole key, s->long_stored bytes in all (511). Only long keys have stored forms of
 *   that length, so the two kinds never collide; a long key's record carries the whole key
 *   (OX_VH_LONGKEY), compared on every access, so a lookup stays exact whatever the hash.
 *   Order is the stored forms' order: the user keys' order, except that long keys sharing
 *   their first 478 bytes sort by hash after them. A prefix of up to 478 bytes still
 *   selects one contiguous run of stored keys.
 * A value record is a 1-byte header, then (if OX_VH_TTL) the 8-byte big-endian expiry
 * time, then (if OX_VH_LONGKEY) the key's length (4 bytes big-endian) and the key, then the
 * user's bytes. A short key without TTL therefore costs one B-tree lookup on get: the
 * header says there is nothing else to look at.
 * Format 1 (before long keys) let direct keys be 510 bytes: opening such a file for writing
 * rewrites its 510-byte keys as long keys and records version 2 (ox_store.c).
 */
#ifndef OX_INTERNAL_H
#define OX_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "oxistore.h"

#define OX_KEY_DIRECT 0x00u      /* first byte of every stored key */
#define OX_KEY_BUF 512           /* room for any stored key (LMDB's limit is 511) */
#define OX_HASH_LEN 32           /* SHA-256 in a long key's stored form */

#define OX_VH_TTL 0x01u          /* record carries an expiry time */
#define OX_VH_LONGKEY 0x02u      /* record carries its (long) key */
#define OX_VH_KNOWN (OX_VH_TTL | OX_VH_LONGKEY) /* header bits this version understands */

/* Returned by internal write steps when LMDB's map is full: the caller grows the map and
 * replays the transaction. Never escapes the library. */
#define OX_IMAPFULL (-100)

struct ox_table {
    ox_store *s;
    MDB_dbi data;
    MDB_dbi exp;
    ox_table *next;
    char name[];
};

typedef struct ox_wal ox_wal;

struct ox_store {
    MDB_env *env;
    ox_wal *wal;               /* OX_SYNC_ALWAYS on a file we opened: the write-ahead log */
    int own_env;
    char *path;                /* data file; NULL when wrapped or in memory */
    int read_only, in_memory, sync;
    size_t wal_size;           /* ox_options.wal_size, for a log opened later */
    unsigned env_maxdbs, env_maxreaders; /* the env's limits, for a reopen (ox__revive) */
    long long revive_busy_s;   /* when a reopen last found readers staying (monotonic s) */
    atomic_size_t map_size;    /* the env's map size, as last seen (ox_store_map_size) */
    size_t wal_pinned;         /* ox_options.wal_pinned, likewise */
    ox_clock_fn clock;
    void *clock_ctx;
    MDB_dbi meta;
    size_t key_max;            /* longest key accepted */
    size_t direct_max;         /* longest key stored as itself (see the layout above) */
    size_t long_stored;        /* a long key's stored form: LMDB's key limit */
    size_t long_prefix;        /* bytes of a long key it keeps: long_stored - 1 - 32 */
    unsigned format;
    int compact_on_close;

    /* One write transaction at a time, held from ox_txn_begin to its end, so a map
     * growth in the middle of a transaction can replay it with nobody in between. */
    pthread_mutex_t wlock;

    /* Growth gate: readers count themselves in; a grower raises `growing`, waits for
     * `readers` to reach 0, remaps, lowers it. Atomics keep the read path lock-free. */
    atomic_int readers;
    atomic_int growing;
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;

    /* Reset read transactions kept for reuse (mdb_txn_renew is far cheaper than begin). */
    pthread_mutex_t pool_mu;
    MDB_txn **pool;
    size_t npool, cappool;

    pthread_mutex_t backup_mu; /* one ox_backup at a time: they share dest.tmp */
    pthread_mutex_t tables_mu;
    ox_table *tables;
    ox_table *deflt;

    /* OX_SYNC_EVERYSEC flusher thread. */
    pthread_t flusher;
    int flusher_on, flusher_stop;
    pthread_mutex_t fl_mu;
    pthread_cond_t fl_cv;
};

/* ---- ox_store.c ---- */
int ox__mdb_err(int rc);                               /* LMDB/errno code -> ox_err */
uint64_t ox__now(ox_store *s);                         /* the store's clock */
/* A failed commit's code as a caller should see it: LMDB reports a short write as an I/O
 * error, which on a file system with (almost) no space left is what a full disk does, so
 * OX_EIO becomes OX_EFULL there. Any other code is returned as it is. */
int ox__space_err(ox_store *s, int rc);
/* The same for a store not open, at path (its directory's file system). */
int ox__space_err_at(const char *path, int rc);
int ox__key_check(ox_store *s, size_t klen);           /* OX_EINVAL / OX_EKEYTOOLONG */
/* Begins a read transaction (from the pool) counted by the growth gate. */
int ox__read_begin(ox_store *s, MDB_txn **txn);
/* Ends it: resets it back into the pool and leaves the gate. */
void ox__read_end(ox_store *s, MDB_txn *txn);
/* Gate accounting alone, around LMDB calls that need the env to stay the same (a copy,
 * a sync, a read-only table open): a growth or reopen waits for them. */
void ox__gate_enter(ox_store *s);
void ox__gate_leave(ox_store *s);
/* Before an offline tool touches the file at path: if its write-ahead log holds records a
 * crash left, opens and closes the store so that they are replayed. */
int ox__store_settle(const char *path);
/* 1 if the store at path has a write-ahead log that no process holds and that a crash left
 * records in (reading the data file alone could meet a torn file), else 0. */
int ox__store_needs_recovery(const char *path);
/* Grows the map (or adopts another process's growth when min == 0). Called with wlock held
 * and no LMDB write transaction active. OX_EBUSY if this thread itself reads. */
int ox__grow(ox_store *s, int adopt);
/* After LMDB's fatal error (a commit that failed writing the meta page: every later
 * transaction answers MDB_PANIC, though the file is whole), reopens the env in place; see
 * ox_store.c. The caller holds wlock and no read transaction. 1 if s's env had failed so
 * (and the reopen ran: *rc says how), 0 if it had not. */
int ox__revive_if_failed(ox_store *s, int *rc);
/* Opens again, in txn, the databases of every table s knows (their handles change when
 * the env is reopened). */
int ox__table_reopen_all(ox_store *s, MDB_txn *txn);
/* fsyncs the directory holding path, so that a file created or renamed there is durable. */
int ox__sync_parent(const char *path);
/* Grows ahead of time when the map is mostly used (wlock held, no write txn active). */
void ox__grow_if_needed(ox_store *s);

/* ---- ox_value.c ---- */
/* Decodes any value record: *val the user's bytes, *exp the expiry time (0 if none),
 * *lkey (may be NULL) the key a long key's record carries ({NULL, 0} otherwise).
 * OX_ECORRUPT for a malformed record. */
int ox__rec_decode(const MDB_val *rec, ox_val *val, uint64_t *exp, ox_val *lkey);
/* Decodes a value record as ox__rec_decode, without the key. Expiry is not judged here.
 * Inline: it runs once per key on every read path, iterators included. */
static inline int ox__val_decode(const MDB_val *rec, ox_val *val, uint64_t *exp)
{
    const unsigned char *p = (const unsigned char *)rec->mv_data;
    if (rec->mv_size >= 1 && p[0] == 0) {
        *exp = 0;
        val->data = p + 1;
        val->len = rec->mv_size - 1;
        return OX_OK;
    }
    return ox__rec_decode(rec, val, exp, NULL);
}
/* Decodes and judges expiry at `now`: OX_NOTFOUND if expired. */
int ox__val_live(const MDB_val *rec, ox_val *val, uint64_t *exp, uint64_t now);
/* Writes the record k = (exp, lkey, val) into dbi; lkey NULL for a short key. val must not
 * point into the map. */
int ox__rec_write(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const ox_val *lkey, const void *val,
                  size_t vlen, uint64_t exp);
/* 1 if rec is the record of key: always for a short key; for a long key, if the record
 * carries exactly that key (a different one would share its hash). */
int ox__rec_owns(ox_store *s, const MDB_val *rec, const void *key, size_t klen);
/* Reads key's record, live at `now`, through any LMDB txn: *val borrowed, *exp (may be
 * NULL) its expiry time or 0. OX_NOTFOUND if absent or expired. */
int ox__rec_get(ox_store *s, MDB_txn *txn, ox_table *t, const void *key, size_t klen,
                ox_val *val, uint64_t *exp, uint64_t now);
/* Remaining ms of key's TTL at `now`: OX_OK, OX_NOTTL or OX_NOTFOUND. */
int ox__rec_ttl(ox_store *s, MDB_txn *txn, ox_table *t, const void *key, size_t klen,
                uint64_t *ms, uint64_t now);
void ox__be64_put(unsigned char *p, uint64_t v);
uint64_t ox__be64_get(const unsigned char *p);

/* ---- ox_sha256.c ---- */
void ox__sha256(const void *data, size_t len, unsigned char out[32]);

/* ---- ox_key.c ---- */
/* The stored form of a long key (klen > s->direct_max) into buf. */
MDB_val ox__key_enc_long(ox_store *s, const void *key, size_t klen, unsigned char *buf);
/* Format 1 -> 2: rewrites every 510-byte key as a long key, in txn. */
int ox__key_migrate_v1(ox_store *s, MDB_txn *txn);

/* Encodes a user key (already checked by ox__key_check) into buf (OX_KEY_BUF bytes) as its
 * stored form. */
static inline MDB_val ox__key_enc(ox_store *s, const void *key, size_t klen, unsigned char *buf)
{
    if (klen > s->direct_max)
        return ox__key_enc_long(s, key, klen, buf);
    buf[0] = OX_KEY_DIRECT;
    if (klen)
        memcpy(buf + 1, key, klen);
    return (MDB_val){klen + 1, buf};
}

/* ---- ox_iter.c ---- */
/* Opens an iterator on txn. owner: the snapshot owning txn is released at close when
 * own_read != 0; wtxn != NULL for iterators of a write transaction. */
int ox__iter_open(ox_store *s, MDB_txn *txn, int own_read, ox_txn *wtxn, ox_table *t,
                  const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **out);
/* The same for the keys starting with prefix. */
int ox__iter_open_prefix(ox_store *s, MDB_txn *txn, int own_read, ox_txn *wtxn, ox_table *t,
                         const ox_val *prefix, unsigned flags, ox_iter **out);
/* Detaches every iterator of a write transaction whose LMDB txn ended (their cursors
 * were freed with it): their next step answers OX_EBUSY. txn_ends: the ox_txn itself is
 * going away, so the iterators forget it too (they may still be closed afterwards). */
void ox__iter_detach_all(ox_txn *wtxn, int txn_ends);

/* ---- ox_txn.c ---- */
/* The list head of a write transaction's open iterators. */
ox_iter **ox__txn_iters(ox_txn *x);
MDB_txn *ox__txn_mdb(ox_txn *x);
/* The instant a write transaction judges expiry at: the store's clock when it began. */
uint64_t ox__txn_now(ox_txn *x);

/* Recovery: applies one record of the write-ahead log in one transaction. */
int ox__txn_replay(ox_store *s, const unsigned char *p, size_t len);

/* ---- ox_table.c ---- */
int ox__table_open_all(ox_store *s, const char *deflt);
void ox__table_free_all(ox_store *s);

#endif
