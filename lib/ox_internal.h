/* ox_internal.h — what liboxistore's own files share; never installed, never included by
 * users. The public contract is oxistore.h.
 *
 * The write path (see ox_mem.h, ox_log.h, ox_ckpt.c): a write transaction's changes go to
 * the active write buffer, its commit is one record in the write-ahead log; the
 * checkpointer later writes a frozen buffer to LMDB in one transaction. A reader sees the
 * write buffers (newest first) over LMDB, at one commit sequence number: an ox_rd.
 *
 * On-disk layout (format version 2), all inside one LMDB file:
 * - "ox:meta"        key "format" -> 4-byte big-endian format version; key "lsn" -> the
 *                    8-byte big-endian sequence number of the last commit the file holds
 *                    (the log is replayed after it).
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
 * A value record is a 1-byte header (flags, and the record's kind in bits 2-4), then (if OX_VH_TTL) the 8-byte big-endian expiry
 * time, then (if OX_VH_LONGKEY) the key's length (4 bytes big-endian) and the key, then the
 * user's bytes. A short key without TTL therefore costs one B-tree lookup on get: the
 * header says there is nothing else to look at. The write buffers hold the same records.
 * In a write buffer, table id t's expiry index is the buffer's table ntables + t, keyed by
 * the 8-byte expiry time followed by the stored key (a put: the entry; a deletion: an
 * entry of an older layer that is gone).
 * Format 1 (before long keys) let direct keys be 510 bytes: opening such a file for writing
 * rewrites its 510-byte keys as long keys and records version 2 (ox_store.c).
 */
#ifndef OX_INTERNAL_H
#define OX_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "ox_mem.h"
#include "oxistore.h"

#define OX_KEY_DIRECT 0x00u      /* first byte of every stored key */
#define OX_KEY_BUF 512           /* room for any stored key (LMDB's limit is 511) */
#define OX_HASH_LEN 32           /* SHA-256 in a long key's stored form */

#define OX_VH_TTL 0x01u          /* record carries an expiry time */
#define OX_VH_LONGKEY 0x02u      /* record carries its (long) key */
#define OX_VH_KIND_SHIFT 2       /* bits 2-4: the record's kind (OX_PUT_KIND), format 3 */
#define OX_VH_KIND (OX_KIND_MAX << OX_VH_KIND_SHIFT)
#define OX_VH_KNOWN (OX_VH_TTL | OX_VH_LONGKEY | OX_VH_KIND) /* header bits this version
                                                               understands */

/* Returned by internal write steps when LMDB's map is full: the caller grows the map and
 * applies its writes again. Never escapes the library. */
#define OX_IMAPFULL (-100)

#define OX_VIEW_MAX 4            /* write buffers a view holds: the active one, the frozen */
#define OX_MEM_DEFAULT ((size_t)64 << 20) /* ox_options.mem_limit 0 */
#define OX_MEM_FREEZE_DELS 16384           /* deletions that freeze the active buffer */
#define OX_WALK_DELS 1024                  /* deletions one walk steps over that do too */
#define OX_CKPT_AGE_MS 60000     /* a buffer older than this is checkpointed, full or not */
#define OX_DIRTY_DEFAULT ((size_t)64 << 20) /* ox_options.dirty_limit 0 */
#define OX_CKPT_IDLE_MS 5000     /* ... and one without a commit for this long, */
#define OX_CKPT_IDLE_KEYS 4096   /* if it holds this many keys (a smaller one costs walks
                                    little; each checkpoint rewrites LMDB's pages) */
#define OX_META_DB "ox:meta"     /* the store's own database (the layout above) */

struct ox_table {
    ox_store *s;
    unsigned id;               /* its index in the write buffers and s->by_id */
    /* Whether LMDB has its databases (data and exp valid): 0 no; 1 since before any
     * reader of this process; N from LMDB txn N on (the checkpoint that made them: an LMDB
     * read transaction begun before it has no such handles, and must not use them). */
    atomic_size_t lmdb_since;
    MDB_dbi data;
    MDB_dbi exp;
    /* Keys and keys with an expiry time, as of the last commit (published by the writer;
     * ox_count). Expired keys not purged yet count, as in Redis. */
    atomic_ullong count, expires;
    ox_table *next;
    char name[];
};

/* What a reader sees: the write buffers, newest (the active one) first, over LMDB. A view
 * is immutable; the store swaps in a new one (under view_mu) when a buffer is frozen or
 * checkpointed. lmdb_min: an LMDB read transaction used with this view must be at least
 * this txn id (it holds every buffer the view no longer does). */
typedef struct ox_view {
    atomic_int refs;
    int nmem;
    ox_mem *mem[OX_VIEW_MAX];
    size_t lmdb_min;
} ox_view;

/* A reader: a view, an LMDB read transaction that fits it, and the commit sequence number
 * it reads at. Snapshots, the single reads, iterators and write transactions use one. */
#define OX_RD_CURSORS 4
typedef struct ox_rd {
    ox_store *s;
    ox_view *v;
    MDB_txn *txn;
    uint64_t seq;
    /* With `cursors` set (the writer's transaction: one thread), ox__rd_get keeps an LMDB
     * cursor for each of the last OX_RD_CURSORS tables it read in LMDB: a lookup of a key
     * on the cursor's own leaf page (a queue's next pop) then skips the search from the
     * root (mdb_cursor_set). Closed by ox__rd_cursors_close, before txn ends or is
     * renewed. Other readers (snapshots: any thread) use mdb_get. */
    int cursors, ncur;
    MDB_dbi cur_dbi[OX_RD_CURSORS];
    MDB_cursor *cur[OX_RD_CURSORS];
} ox_rd;

typedef struct ox_log ox_log;

struct ox_store {
    MDB_env *env;
    ox_log *log;               /* the write-ahead log (a store with a path, writable) */
    int own_env;
    char *path;                /* data file; NULL when wrapped or in memory */
    int read_only, in_memory, sync;
    size_t wal_size;           /* ox_options.wal_size: the log's segment size */
    size_t mem_budget;         /* bytes at which the active write buffer is frozen */
    atomic_size_t mem_peak;    /* the most bytes a write buffer held at a commit */
    uint64_t ckpt_age_ms;      /* age at which it is, full or not */
    uint64_t ckpt_idle_ms;     /* time without a commit at which it is */
    unsigned env_maxdbs, env_maxreaders; /* the env's limits, for a reopen (ox__revive) */
    long long revive_busy_s;   /* when a reopen last found readers staying (monotonic s) */
    long long release_busy_s;  /* ... one to free LMDB's page copies (ox__env_release) */
    atomic_size_t map_size;    /* the env's map size, as last seen (ox_store_map_size) */
    ox_clock_fn clock;
    void *clock_ctx;
    MDB_dbi meta;
    size_t key_max;            /* longest key accepted */
    size_t direct_max;         /* longest key stored as itself (see the layout above) */
    size_t long_stored;        /* a long key's stored form: LMDB's key limit */
    size_t long_prefix;        /* bytes of a long key it keeps: long_stored - 1 - 32 */
    unsigned format;
    int compact_on_close;

    /* One write transaction at a time, held from ox_txn_begin to its end. The writer's
     * state below is its own. */
    pthread_mutex_t wlock;
    uint64_t last_seq;         /* the last commit's sequence number */
    int replaying;             /* recovery is replaying the log */
    atomic_ullong mem_born_ms; /* when the active buffer got its first commit (ox__mono_ms;
                                  0: none yet) */
    unsigned char *txbuf;      /* a transaction's log record, built op by op */
    size_t txcap;
    ox_commit_fn *on_commit;   /* ox_store_on_commit's (NULL: none), told of each commit */
    void *on_commit_arg;

    /* Readers: the current view and the last commit they may see. */
    pthread_mutex_t view_mu;
    ox_view *view;
    atomic_ullong visible;

    /* The checkpointer (ox_ckpt.c). */
    pthread_t ckpt_th;
    int ckpt_on, ckpt_stop;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;    /* a frozen buffer to write, or one written */
    ox_mem *frozen;            /* the buffer being checkpointed (also in the view) */
    int ckpt_rc;               /* how the last attempt ended (OX_OK, or the disk's error) */
    int ckpt_now;              /* try again now, not after the pause that follows a failure */
    uint64_t ckpt_lsn;         /* the last sequence number LMDB holds */
    int ckpt_release;          /* the log may release up to ckpt_lsn (the writer does it) */
    uint64_t ckpt_count;       /* checkpoints written since the open (ox_store_write_info) */
    uint64_t ckpt_waits;       /* transactions that waited for a checkpoint (back-pressure) */
    uint64_t ckpt_last_ms;     /* how long the last checkpoint took */
    size_t dirty_limit;        /* ox_options.dirty_limit in force (bytes) */
    size_t dirty_max;          /* ... in pages of the system's size */
    atomic_uint dirty_per_key; /* pages a buffer's key changed in the last checkpoints, in
                                  1/1024 (ox__ckpt_full's estimate; written by whoever
                                  checkpoints: the checkpointer, or the writer in recovery) */
    uint64_t dirty_held;       /* the most single pages one checkpoint changed since LMDB's
                                  env was opened: the memory LMDB keeps (the checkpointing
                                  thread's) */
    int dirty_trim;            /* a checkpoint changed more than dirty_max pages since the
                                  last trim (release_copies; the checkpointing thread's) */
    atomic_ullong file_pages;  /* the data file's pages after the last checkpoint (or open) */
    uint64_t ckpt_pages_new;   /* the pages the checkpoint just written changed (its thread's,
                                  until finish publishes it in ckpt_pages) */
    uint64_t ckpt_pages, ckpt_pages_peak, env_releases; /* ox_store_write_info (ckpt_mu) */
    atomic_int walk_dels;      /* a walk (any thread) stepped over OX_WALK_DELS deletions
                                  since the last freeze: the next write transaction starts a
                                  checkpoint once the active buffer holds a commit */

    /* Growth gate: readers count themselves in; a grower raises `growing`, waits for
     * `readers` to reach 0, remaps, lowers it. Atomics keep the read path lock-free. */
    atomic_int readers;
    atomic_int growing;
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    atomic_uint env_gen;       /* reopens of the env (ox__env_reopen), behind the gate */

    /* Reset read transactions kept for reuse (mdb_txn_renew is far cheaper than begin). */
    pthread_mutex_t pool_mu;
    MDB_txn **pool;
    size_t npool, cappool;

    pthread_mutex_t backup_mu; /* one ox_backup at a time: they share dest.tmp */
    pthread_mutex_t tables_mu;
    ox_table *tables;
    ox_table *deflt;
    ox_table **by_id;          /* max_tables entries */
    unsigned max_tables, ntables;

    /* OX_SYNC_EVERYSEC flusher thread. */
    pthread_t flusher;
    int flusher_on, flusher_stop;
    pthread_mutex_t fl_mu;
    pthread_cond_t fl_cv;
};

/* ---- ox_store.c ---- */
int ox__mdb_err(int rc);                               /* LMDB/errno code -> ox_err */
uint64_t ox__now(ox_store *s);                         /* the store's clock */
uint64_t ox__mono_ms(void);                            /* a monotonic clock, in ms */
/* A failed commit's code as a caller should see it: LMDB reports a short write as an I/O
 * error, which on a file system with (almost) no space left is what a full disk does, so
 * OX_EIO becomes OX_EFULL there. Any other code is returned as it is. */
int ox__space_err(ox_store *s, int rc);
/* The same for a store not open, at path (its directory's file system). */
int ox__space_err_at(const char *path, int rc);
int ox__key_check(ox_store *s, size_t klen);           /* OX_EINVAL / OX_EKEYTOOLONG */
/* Begins an LMDB read transaction (from the pool) counted by the growth gate. An env left
 * failed by a commit (MDB_PANIC) is waited for until the checkpointer reopens it, as a
 * growth is (at most OX_REVIVE_WAIT_S + 1 s); its error after that. */
int ox__read_begin(ox_store *s, MDB_txn **txn);
/* Ends it: resets it back into the pool and leaves the gate. */
void ox__read_end(ox_store *s, MDB_txn *txn);
/* Gate accounting alone, around LMDB calls that need the env to stay the same (a copy,
 * a sync, a read-only table open): a growth or reopen waits for them. */
void ox__gate_enter(ox_store *s);
void ox__gate_leave(ox_store *s);
/* The growth gate shut (new readers wait) once this process's readers left: OX_OK with
 * gate_mu held, or OX_EBUSY (the gate open again) if some stayed wait_ms ms or the
 * calling thread reads. ox__gate_open lets them in again. For whoever must replace or remap
 * the env: a growth, a reopen, ox_store_replace. */
int ox__gate_shut(ox_store *s, int wait_ms);
void ox__gate_open(ox_store *s);
/* Aborts the pooled read transactions (before the env they belong to closes; gate shut). */
void ox__pool_drop(ox_store *s);
/* Sets a created, unopened env's map size and s's limits (maxdbs, maxreaders). */
void ox__env_limits(ox_store *s, size_t map_size);
/* Records the env's map size for ox_store_map_size (after an open, growth or reopen). */
void ox__note_map_size(ox_store *s);
/* With the gate shut and the env closed: opens the env on s->path again with the meta
 * database, tables(s, txn) opening the tables' databases (ox__table_reopen_all: the same
 * file; ox__table_reload_all: another content), and notes the map size. If it fails,
 * nothing is left to run transactions on: the process aborts with "cannot reopen <path>
 * <why>" on stderr. */
void ox__env_reopen(ox_store *s, unsigned flags, size_t map,
                    int (*tables)(ox_store *, MDB_txn *), const char *why);
/* Number of read transactions the calling thread holds (a thread that reads cannot wait
 * for a growth, or for a checkpoint that needs one). */
int ox__thread_reads(void);
/* Before an offline tool touches the file at path: if its write-ahead log holds records
 * LMDB does not, opens and closes the store so that they are written to it. */
int ox__store_settle(const char *path);
/* 1 if the store at path has log records LMDB does not hold yet, else 0. */
int ox__store_needs_recovery(const char *path);
/* Walks the log of the store at path after the data file's checkpoint: *records, the
 * commits a start would replay. OX_OK, OX_ECORRUPT (a segment is missing: commits after
 * the checkpoint are lost), OX_EIO. For ox_check. */
int ox__store_log_check(const char *path, uint64_t *records);
/* Grows the map (or adopts another process's growth when adopt != 0). No LMDB write
 * transaction may be active. OX_EBUSY if this thread itself reads, or readers stayed. */
int ox__grow(ox_store *s, int adopt);
/* After LMDB's fatal error (a commit that failed writing the meta page: every later
 * transaction answers MDB_PANIC, though the file is whole), reopens the env in place; see
 * ox_store.c. The caller (the checkpointer) holds no read transaction. 1 if s's env had
 * failed so (and the reopen ran: *rc says how), 0 if it had not. */
int ox__revive_if_failed(ox_store *s, int *rc);
/* Gives the free pages inside the process's heaps back to the system (glibc: malloc_trim;
 * elsewhere nothing): what LMDB frees lies between what it keeps. Any thread. */
void ox__heap_trim(void);
/* Reopens the env in place as ox__revive_if_failed does, to free the page copies LMDB
 * keeps from its transactions (ox_ckpt.c's dirty_note). The caller (the checkpointer) holds
 * no read transaction. It waits for this process's readers for 100 ms at most (new ones
 * wait meanwhile). OX_OK, OX_EBUSY (readers stayed, now or within the last 10 s), OX_EIO (a store that cannot be reopened: wrapped, in memory, read-only). */
int ox__env_release(ox_store *s);
/* Opens again, in txn, the databases of every table s has in LMDB (their handles change
 * when the env is reopened). The caller holds tables_mu, then the gate shut. */
int ox__table_reopen_all(ox_store *s, MDB_txn *txn);
/* Grows ahead of time when the map is mostly used (no LMDB write txn active). */
void ox__grow_if_needed(ox_store *s);
/* Creates the directories leading to path's file. made (may be NULL) receives the length
 * in path's directory of each one this call created, shallowest first, and *nmade their
 * number (at most OX_MKDIRS_MAX are recorded). */
#define OX_MKDIRS_MAX 32
int ox__mkdirs(const char *path, size_t *made, int *nmade);
/* fsyncs the directory holding path, so that a file created or renamed there is durable. */
int ox__sync_parent(const char *path);
/* The last commit's sequence number LMDB holds ("lsn" in the meta database), in txn. */
uint64_t ox__lsn_get(ox_store *s, MDB_txn *txn);

/* 1 if t's LMDB databases may be read in txn (ox_table.lmdb_since). */
static inline int ox__table_in(const ox_table *t, MDB_txn *txn)
{
    size_t since = atomic_load_explicit(&((ox_table *)t)->lmdb_since, memory_order_acquire);
    return since && mdb_txn_id(txn) >= since;
}

/* ---- ox_view.c ---- */
/* Begins a reader at the last commit (gate, pooled LMDB transaction, view). */
int ox__rd_begin(ox_store *s, ox_rd *rd);
/* Moves it to the last commit (every value read before is invalid). */
int ox__rd_renew(ox_rd *rd);
void ox__rd_end(ox_rd *rd);
/* key's (stored form) record as rd sees it: OX_OK with *rec (borrowed until rd ends or
 * renews), OX_NOTFOUND, or LMDB's error. */
int ox__rd_get(const ox_rd *rd, ox_table *t, const MDB_val *key, MDB_val *rec);
/* Closes rd's cursors (ox_rd.cursors), as ox__rd_end does. */
void ox__rd_cursors_close(ox_rd *rd);
/* Views: the current one, referenced (view_mu held inside); swaps (view_mu held inside:
 * the new view replaces the current one, whose reference is dropped). */
ox_view *ox__view_get(ox_store *s);
void ox__view_put(ox_view *v);
int ox__view_swap(ox_store *s, ox_mem *const *mem, int nmem, size_t lmdb_min);

/* The layered ordered walk over one table's keys, or its expiry index (exp != 0), as rd
 * sees them: every layer's keys merged, the newest layer's state of each deciding. Keys
 * are stored forms (for the expiry index: 8-byte time then stored key). */
typedef struct ox_walk ox_walk;
int ox__walk_open(const ox_rd *rd, ox_table *t, int exp, ox_walk **out);
/* Positions before the first key >= key (asc != 0; key NULL: the first) or after the last
 * key <= key (asc == 0; key NULL: the last); ox__walk_next then returns it. */
int ox__walk_seek(ox_walk *w, const MDB_val *key, int asc);
/* The next key and its record (the expiry index's: an empty one): OX_OK, OX_NOTFOUND at
 * the end, or LMDB's error. key and rec borrowed until the next call. */
int ox__walk_next(ox_walk *w, MDB_val *key, MDB_val *rec);
/* A walk on a snapshot that stays within [lo, hi): the write buffers that cannot hold a
 * key there (ox__mem_may_hold) are left out, their seeks and steps saved. Before the first
 * seek. Not for a write transaction's walk: its later writes there would be missed. */
void ox__walk_within(ox_walk *w, const MDB_val *lo, const MDB_val *hi);
/* Ends the walk at *end (read at each step: the caller keeps it): ox__walk_next answers
 * OX_NOTFOUND at the first key >= *end ascending, < *end descending, instead of stepping
 * on over the deleted keys past it (a run of deletions in a write buffer, each a live key
 * of LMDB, would be walked to its far side). */
void ox__walk_end(ox_walk *w, const MDB_val *end);
/* Sets the walk's step budget: ox__walk_skip counts one key stepped over and answers
 * OX_ELIMIT past `limit` of them (0: no limit) since this call. ox__walk_next counts each
 * deleted key it steps over. */
void ox__walk_limit(ox_walk *w, size_t limit);
int ox__walk_skip(ox_walk *w);
void ox__walk_close(ox_walk *w);
/* The key order: LMDB's (memcmp over the shorter length, then the shorter first). */
int ox__key_cmp(const MDB_val *a, const MDB_val *b);

/* ---- ox_ckpt.c ---- */
/* Starts the checkpointer thread (a writable store with a log). */
int ox__ckpt_start(ox_store *s);
/* Stops it (after the buffer it writes, if any). */
void ox__ckpt_stop(ox_store *s);
/* Writer, holding wlock, before a transaction: freezes the active buffer when it is full
 * (waiting while the previous frozen one is still being written: back-pressure) or too
 * old. Errors: the checkpoints' (OX_EFULL, OX_EIO, ...) when a full buffer cannot be
 * frozen because they fail; OX_EBUSY if this thread reads and would wait for itself. */
int ox__ckpt_room(ox_store *s);
/* Writer, holding wlock: writes everything committed so far to LMDB and waits for it
 * (close, backup). */
int ox__ckpt_all(ox_store *s);
/* Writer, holding wlock: releases the log up to the last checkpoint. */
void ox__ckpt_release(ox_store *s);
/* Writes buffer m to LMDB in one durable transaction recording its last sequence number
 * (the checkpointer's work; also recovery's, before the thread starts), and notes the pages
 * it changed (the checkpointer thread then reopens LMDB's env when they were more than
 * dirty_max: release_copies). */
int ox__ckpt_apply(ox_store *s, ox_mem *m);
/* 1 once buffer m should be frozen for its size: its bytes reached the budget, or the
 * pages its checkpoint would change (its keys times dirty_per_key) reached dirty_max.
 * Any thread. */
int ox__ckpt_full(ox_store *s, const ox_mem *m);

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
    if (rec->mv_size >= 1 && !(p[0] & (OX_VH_TTL | OX_VH_LONGKEY | ~OX_VH_KNOWN))) {
        *exp = 0;
        val->data = p + 1;
        val->len = rec->mv_size - 1;
        return OX_OK;
    }
    return ox__rec_decode(rec, val, exp, NULL);
}
/* The kind a record's header carries (OX_PUT_KIND). */
static inline unsigned ox__rec_kind(const MDB_val *rec)
{
    const unsigned char *p = (const unsigned char *)rec->mv_data;
    return rec->mv_size ? (p[0] & OX_VH_KIND) >> OX_VH_KIND_SHIFT : 0;
}
/* Decodes and judges expiry at `now`: OX_NOTFOUND if expired. */
int ox__val_live(const MDB_val *rec, ox_val *val, uint64_t *exp, uint64_t now);
/* Writes the record k = (exp, lkey, val) into dbi; lkey NULL for a short key. val must not
 * point into the map. */
int ox__rec_write(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const ox_val *lkey, const void *val,
                  size_t vlen, uint64_t exp, unsigned kind);
/* 1 if rec is the record of key: always for a short key; for a long key, if the record
 * carries exactly that key (a different one would share its hash). */
int ox__rec_owns(ox_store *s, const MDB_val *rec, const void *key, size_t klen);
/* Reads key's record, live at `now`, as rd sees it: *val borrowed, *exp (may be NULL) its
 * expiry time or 0, *kind (may be NULL) its kind. OX_NOTFOUND if absent or expired. */
int ox__rec_get(const ox_rd *rd, ox_table *t, const void *key, size_t klen, ox_val *val,
                uint64_t *exp, unsigned *kind, uint64_t now);
/* ox__rec_get's answer from rec, the record ox__rd_get found under key's stored form. */
int ox__rec_read(ox_store *s, const MDB_val *rec, const void *key, size_t klen, ox_val *val,
                 uint64_t *exp, unsigned *kind, uint64_t now);
/* Remaining ms of key's TTL at `now`: OX_OK, OX_NOTTL or OX_NOTFOUND. */
int ox__rec_ttl(const ox_rd *rd, ox_table *t, const void *key, size_t klen, uint64_t *ms,
                uint64_t now);
/* The size of the record (exp, lkey, vlen bytes), and the record written into p. */
size_t ox__rec_size(const ox_val *lkey, size_t vlen, uint64_t exp);
void ox__rec_build(unsigned char *p, const ox_val *lkey, const void *val, size_t vlen,
                   uint64_t exp, unsigned kind);
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
/* Opens an iterator on reader rd, which it owns (and ends at close) when own_rd != 0;
 * wtxn != NULL for iterators of a write transaction. */
int ox__iter_open(const ox_rd *rd, int own_rd, ox_txn *wtxn, ox_table *t, const ox_val *lo,
                  const ox_val *hi, unsigned flags, ox_iter **out);
/* The same for the keys starting with prefix. */
int ox__iter_open_prefix(const ox_rd *rd, int own_rd, ox_txn *wtxn, ox_table *t,
                         const ox_val *prefix, unsigned flags, ox_iter **out);
/* Detaches every iterator of a write transaction that ends: their next step answers
 * OX_EBUSY, and they forget it (they may still be closed afterwards). */
void ox__iter_detach_all(ox_txn *wtxn);

/* ---- ox_txn.c ---- */
/* The list head of a write transaction's open iterators. */
ox_iter **ox__txn_iters(ox_txn *x);
const ox_rd *ox__txn_rd(ox_txn *x);
/* The instant a write transaction judges expiry at: the store's clock when it began. */
uint64_t ox__txn_now(ox_txn *x);

/* Recovery: applies the log record of commit seq as one transaction. */
int ox__txn_replay(ox_store *s, uint64_t seq, const unsigned char *p, size_t len);

/* ---- ox_table.c ---- */
int ox__table_open_all(ox_store *s, const char *deflt);
void ox__table_free_all(ox_store *s);
/* The table named name among those s knows (takes tables_mu), or NULL: never opens one. */
ox_table *ox__table_find(ox_store *s, const char *name);
/* After ox_store_replace put another file in the env's place: every table s knows gets
 * that file's databases, opened in txn (a read transaction of the new env), and counts from
 * them, or none (lmdb_since 0, counts 0: its first checkpoint creates them, as for a new
 * table). The caller holds tables_mu and the gate shut (no reader runs). */
int ox__table_reload_all(ox_store *s, MDB_txn *txn);

#endif
