/* liboxistore — a durable, transactional, ordered key-value store with TTLs, over LMDB.
 *
 * Caveats (the rules of use):
 * - A store is one file (LMDB with MDB_NOSUBDIR), its "<file>-lock" file and its
 *   write-ahead log, segments "<file>-wal.<16 hex digits>". Do not open the same file twice
 *   in one process, not even with a plain open()+close() (that drops LMDB's fcntl locks):
 *   ox_check, ox_repair and ox_compact must only be called on files this process does not
 *   have open.
 * - One ox_store may be shared by any number of threads. Writes (single operations,
 *   batches, write transactions) are serialised; reads run concurrently and never block on
 *   a writer. An ox_txn, ox_snapshot or ox_iter belongs to one thread at a time.
 * - The map grows by itself when a checkpoint needs it. Growing waits until no read
 *   transaction of this process is active (new ones wait meanwhile; a write transaction
 *   lets go of its own), so keep snapshots and iterators short. A write issued by a thread
 *   that itself holds a snapshot or iterator cannot wait for itself: if the write buffer is
 *   full and the checkpoint that would empty it needs the map to grow, the write fails with
 *   OX_EBUSY. A growth that waits more than 10 s for other threads' readers gives up the
 *   same way, and the checkpoint is tried again. Begin and end a snapshot on one thread.
 * - Keys are 0 to ox_key_max() bytes; values any length. Keys are ordered bytewise (memcmp,
 *   shorter first on a common prefix), with one exception: LMDB's keys are at most 511
 *   bytes, so a key longer than 509 bytes is stored under its first ox_key_order_prefix()
 *   bytes (478) and a SHA-256 of the whole key, and carries the whole key beside its value
 *   (compared on every access: lookups are exact). Such keys sort among the others by
 *   their first 478 bytes, then by that hash. So a prefix iterator returns exactly the keys
 *   with its prefix, whatever their length, but a range's bounds compare by that order
 *   (positions, below), not by plain bytes, when long keys are involved.
 * - Times are milliseconds since the Unix epoch from the store's clock (ox_options.clock).
 *   A key with an expiry time T is visible while now <= T and invisible to every read
 *   (get, contains, ttl, ranges, iterators) as soon as now > T, purged or not. "now" is
 *   the instant of the call, or of the write transaction's or iterator's beginning.
 * - Pointers handed out as ox_val are borrowed: a value read from a snapshot is valid until
 *   the snapshot ends or is renewed; from a write transaction, until its next write returns
 *   (a write may let go of the map for its growth; the write itself may be given the value)
 *   or its end; from an iterator, until its next step or its close, and for a write
 *   transaction's iterator also until the transaction's next write returns.
 *
 * The write path: a write transaction's changes go to an in-memory write buffer; its
 * commit is one record appended to the write-ahead log. Readers see the buffers over LMDB
 * as one snapshot. When the active buffer reaches half of ox_options.mem_limit, or its age
 * limit, or as many keys as its checkpoint may change pages (ox_options.dirty_limit), or
 * holds deletions that walks keep stepping over (an iterator past 1024 of them),
 * it is frozen (a new one takes the writes) and a checkpoint writes it to LMDB in
 * one durable transaction, in key order, recording the last commit it holds; the log before
 * it is then reused. Writers wait when a second buffer fills before the checkpoint ends.
 *
 * Durability: under OX_SYNC_ALWAYS (the default) each commit's record is fdatasync'd before
 * the commit returns (one sync for a whole transaction, however many writes), and readers
 * only ever see durable commits. OX_SYNC_EVERYSEC syncs the log once a second: a machine
 * crash loses at most about the last second. OX_SYNC_NO writes the log without syncing it:
 * a machine crash loses what the OS had not written. Under every policy the data file is
 * never damaged by a crash (LMDB commits only checkpoints, each durable before the log
 * before it is reused), and opening after a crash of the process or the machine replays the
 * log after the last checkpoint (a read-only open replays it in memory). One process at a
 * time may open a store for writing (the log's lock: OX_EBUSY). A commit that returns an
 * error is not applied, now or after a crash, under every policy: its record is voided
 * before the call returns, and if even that cannot be written, every later commit fails
 * until it can. A failing data file does not fail commits: the log takes them and the
 * checkpoint is tried again each second; only when both buffers are full do commits fail,
 * with the checkpoint's error. A checkpoint that fails while LMDB writes its meta page
 * leaves LMDB's env failed for every reader too; the store reopens it at once (once this
 * process's read transactions end, waiting up to a second), so reads go on. If the file
 * cannot be reopened, nothing is left to run transactions on and the process aborts with a
 * message on stderr (the library's only abort).
 *
 * Errors: every int-returning function returns OX_OK (0) or one ox_err code; ox_strerror()
 * names it. Allocation failure is reported as OX_ENOMEM, never aborts.
 */
#ifndef OXISTORE_H
#define OXISTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ox_err {
    OX_OK = 0,
    OX_NOTFOUND,       /* no such key (or it has expired); end of an iterator */
    OX_NOTTL,          /* the key exists but has no expiry time */
    OX_EINVAL,         /* invalid argument */
    OX_EKEYTOOLONG,    /* key longer than ox_key_max() */
    OX_ECORRUPT,       /* the file is damaged or is not an oxistore/LMDB file */
    OX_EUNSUPPORTED,   /* format version or environment this build cannot use */
    OX_EIO,            /* an I/O error (errno kept in ox_last_errno is not provided: see logs) */
    OX_EFULL,          /* no space: disk full, or the table/reader limit reached */
    OX_EBUSY,          /* the file is in use elsewhere, or the map cannot grow right now */
    OX_ECONFLICT,      /* compare-and-swap mismatch, or NOOVERWRITE on an existing key */
    OX_ENOMEM,         /* out of memory */
    OX_EREADONLY,      /* a write on a store opened read-only */
    OX_ERECOVER,       /* no longer returned (a read-only open replays the log in memory);
                          kept so that the codes keep their values */
    OX_ELIMIT,         /* an iterator gave up at its step limit (ox_iter_limit) */
    OX_ERR_COUNT
} ox_err;

/* The text for an ox_err code ("ok", "not found", ...). Never NULL; static storage. */
const char *ox_strerror(int err);

typedef struct ox_store ox_store;
typedef struct ox_table ox_table;
typedef struct ox_txn ox_txn;
typedef struct ox_snapshot ox_snapshot;
typedef struct ox_iter ox_iter;
typedef struct MDB_env MDB_env;

/* A borrowed byte span. */
typedef struct ox_val {
    const void *data;
    size_t len;
} ox_val;

enum ox_sync {
    OX_SYNC_ALWAYS = 0, /* a returned commit is durable (default): one fdatasync of the
                           write-ahead log per commit, see "Durability" above */
    OX_SYNC_EVERYSEC,   /* the write-ahead log is synced once a second (see Durability) */
    OX_SYNC_NO          /* the OS flushes when it likes; survives a process crash only */
};

#define OX_WAL_SIZE_DEFAULT ((size_t)16 << 20) /* ox_options.wal_size 0: 16 MiB */

/* The store's clock: milliseconds since the Unix epoch. */
typedef uint64_t (*ox_clock_fn)(void *ctx);

typedef struct ox_options {
    const char *table;     /* name of the default table; NULL = "default" */
    size_t map_size;       /* initial map size in bytes; 0 = 64 MiB. It grows on demand.
                              LMDB has no cache of its own: the OS page cache is it. */
    unsigned max_tables;   /* named tables the file may hold; 0 = 64 */
    unsigned max_readers;  /* concurrent read transactions; 0 = 512 */
    int sync;              /* enum ox_sync */
    int read_only;         /* open without write access; writes return OX_EREADONLY */
    int in_memory;         /* ephemeral: the path is ignored (may be NULL) and nothing is
                              left on disk after close or a crash */
    size_t wal_size;       /* bytes of a segment of the write-ahead log, written in full when
                              it is created, so that a store being created needs this much
                              free space (a failed creation removes what it made); a record
                              larger gets a segment of its size; checkpoints release the
                              older segments (two are kept for reuse); 0 = 16 MiB */
    size_t wal_pinned;     /* unused since the write buffer (kept for compatibility) */
    size_t mem_limit;      /* bytes of memory the write buffers may take (the active one is
                              checkpointed at half of it, and writers wait for the
                              checkpoint when the second half fills); 0 = 64 MiB */
    uint64_t ckpt_age_ms;  /* the active write buffer is checkpointed once it is this old,
                              full or not; 0 = 60 s */
    uint64_t ckpt_idle_ms; /* ... and once no commit came for this long, if it holds 4096
                              keys or more (a store written in bursts: its readers then
                              walk LMDB alone); 0 = 5 s */
    size_t dirty_limit;    /* bytes of LMDB pages one checkpoint may change: LMDB copies
                              each page a transaction changes into memory of its own, and
                              keeps that memory for its next transactions until the store
                              closes. The active buffer is also frozen once the pages it
                              would change, estimated from the last checkpoints' pages per
                              key, reach this (random keys over a large file change about
                              a page per key; sequential ones a page per page of data). A
                              checkpoint that changed more (the keys' pattern changed) is
                              followed by a reopen of LMDB's env that gives that memory
                              back. 0 = 64 MiB */
    ox_clock_fn clock;     /* NULL = the system's real-time clock */
    void *clock_ctx;
} ox_options;

/* Fills *opts with the defaults above. */
void ox_options_init(ox_options *opts);

/* ---- store ------------------------------------------------------------------------- */

/* Opens (creating it unless read-only) the store file at path, creating its parent
 * directory. opts may be NULL for the defaults. On success *out is the store; close it
 * with ox_store_close. After a crash the log's commits since the last checkpoint are
 * replayed (by a read-only open too, in memory). Errors: OX_EINVAL, OX_NOTFOUND (read-only
 * and no such file), OX_ECORRUPT (not an LMDB file, or the log misses a segment),
 * OX_EUNSUPPORTED (format version newer than this build, or a log of the one-file format
 * a crash left, which an older version must replay first), OX_EBUSY (another process
 * writes the store), OX_EFULL (no room to create the log), OX_EIO, OX_ENOMEM. */
int ox_store_open(const char *path, const ox_options *opts, ox_store **out);

/* Wraps an MDB_env the caller opened with MDB_NOTLS and enough mdb_env_set_maxdbs for
 * 2 * max_tables + 1 databases. The caller keeps ownership of env and must close it only
 * after ox_store_close. opts->sync and opts->in_memory are ignored (the env's flags rule).
 * Such a store has no write-ahead log: each commit is written to the env at once (a
 * checkpoint per commit). Errors: OX_EUNSUPPORTED (env lacks MDB_NOTLS), as ox_store_open
 * otherwise. */
int ox_store_wrap(MDB_env *env, const ox_options *opts, ox_store **out);

/* Closes the store: waits for nothing (the caller must have ended every txn, snapshot and
 * iterator), checkpoints (the next open replays nothing), closes LMDB (unless wrapped), and
 * if ox_store_compact_on_close was asked, compacts the file in place. Frees every ox_table
 * of the store. NULL is a no-op. Returns the first error met while checkpointing, syncing
 * or compacting (what the checkpoint could not write stays in the log, replayed at the
 * next open); the store is freed anyway. */
int ox_store_close(ox_store *s);

/* The default table (opts.table). Owned by the store. */
ox_table *ox_store_table(ox_store *s);

/* Changes the sync policy of an open store (waits for the write transaction in progress;
 * do not call it from a thread holding one). Coming back to OX_SYNC_ALWAYS syncs the log
 * first, so every commit made before is durable when it returns. Errors: OX_EINVAL,
 * OX_EREADONLY, OX_EUNSUPPORTED (a wrapped env), OX_EIO. */
int ox_store_set_sync(ox_store *s, int sync);

/* Forces everything committed to disk, whatever the policy (the write-ahead log's sync).
 * May run beside the writer. */
int ox_store_flush(ox_store *s);

/* Writes everything committed so far from the write buffers to the data file, in one
 * durable LMDB transaction, and waits for it (a checkpoint: what happens by itself when a
 * buffer fills or ages, and at close). Waits for the write transaction in progress: do not
 * call it from a thread holding one. Errors: OX_EIO, OX_EFULL (the disk's), OX_EREADONLY. */
int ox_store_checkpoint(ox_store *s);

/* Bytes the store file takes (its size; 0 for in-memory stores). LMDB reuses freed pages
 * but never shrinks the file: see ox_compact. */
int ox_store_size_on_disk(ox_store *s, uint64_t *bytes);

/* Current map size in bytes (grows on demand). */
size_t ox_store_map_size(ox_store *s);

/* The on-disk format version recorded in the file (OX_FORMAT_VERSION for new files). */
#define OX_FORMAT_VERSION 4    /* 2: long keys (opening a version 1 file for writing
                                  migrates it: its 510-byte keys become long keys);
                                  3: record kinds (a version 2 file is a version 3 file
                                  whose records are all of kind 0: opening it for writing
                                  records version 3, and older builds then refuse it);
                                  4: the version covers the file whole, and the server's
                                  collection records now carry Redis's encoding history
                                  (keyspace/coll_fmt.h, hash_fmt.h), which builds before
                                  it misread: a version 3 file is a version 4 file whose
                                  collections carry none, opening it for writing records
                                  version 4, and older builds then refuse it */
unsigned ox_store_format(ox_store *s);

/* Largest key length accepted, in bytes (2^31 - 1). */
size_t ox_key_max(ox_store *s);

/* How many leading bytes of a key decide its place in the order (478 with Debian's
 * LMDB); beyond them, long keys sort by hash (see Caveats). */
size_t ox_key_order_prefix(ox_store *s);

/* A key's position: the bytes that place it in the order, at most OX_POS_MAX. Positions
 * compare with memcmp (shorter first on a common prefix) exactly as iterators walk, and
 * stay valid across restarts. Writes key's position into pos. Errors: OX_EKEYTOOLONG. */
#define OX_POS_MAX 512
int ox_key_pos(ox_store *s, const void *key, size_t klen, unsigned char *pos, size_t *len);

/* Deletes the store at path: its data file, lock file and write-ahead log (a store no
 * process has open; what embedders do after a first open whose later steps failed, so
 * that a full disk is not left fuller). Errors: OX_EBUSY (some process has it open),
 * OX_EINVAL (no such store), OX_EIO. */
int ox_store_destroy(const char *path);

/* Asks ox_store_close to compact the file in place after closing it. */
void ox_store_compact_on_close(ox_store *s);

/* Hot backup: writes a consistent copy of the store as of one moment to dest (a file path;
 * written to dest.tmp, fsynced, then renamed), while writers keep running. compact != 0
 * omits free pages and renumbers (a smaller file). Works for in-memory stores too. Backups
 * of one store run one at a time (a second waits for the first). Errors: OX_EINVAL,
 * OX_EIO, OX_EFULL. */
int ox_backup(ox_store *s, const char *dest, int compact);

/* ---- replication support ----------------------------------------------------------- */

/* What a replica needs from its master's store and its own: each commit's log record, to
 * send it; a way to apply such a record, in the same order, in a transaction of another
 * store (which then holds exactly what the first one held after that commit, when both
 * began from the same content); a backup's sequence number, to know which records follow
 * it; and a way to swap a whole store's content for a backup's. */

/* Called by every commit of the store, in commit order, once its record is in the log
 * (synced under OX_SYNC_ALWAYS) and the commit can no longer fail: seq, the commit's
 * sequence number (consecutive), and its record (rec, len bytes, borrowed for the call).
 * It runs on the committing thread, which holds the store's write lock: it must not begin
 * a transaction, take a snapshot, or block for long. fn NULL: none (the default). Set it
 * while no write transaction runs. A store without a log (wrapped, in memory) calls it
 * too. */
typedef void ox_commit_fn(void *arg, uint64_t seq, const void *rec, size_t len);
void ox_store_on_commit(ox_store *s, ox_commit_fn *fn, void *arg);

/* Opens (creating them: see ox_table_open) every table that a commit record names, which
 * ox_txn_apply needs open. Call it outside any write transaction of this thread. tables
 * (may be NULL) receives the first max distinct ones in the order the record names them,
 * *n their number. Errors: OX_ECORRUPT (the bytes are not a record), OX_EFULL
 * (max_tables), OX_ENOMEM, OX_EINVAL. */
int ox_record_tables(ox_store *s, const void *rec, size_t len, ox_table **tables, size_t max,
                     size_t *n);

/* Applies a commit record (as ox_commit_fn got it, from this store or another one) in
 * txn: its writes in order, each as the original commit made it (expiry judged at the
 * times the record carries), logged as txn's own. Errors: OX_ECORRUPT (not a record),
 * OX_NOTFOUND (a table it names is not open: ox_record_tables first), or a write's error
 * (OX_ENOMEM, OX_EIO...: then the transaction is unusable, roll it back). */
int ox_txn_apply(ox_txn *txn, const void *rec, size_t len);

/* The sequence number of the last commit the store file at path holds (its checkpoint's;
 * for an ox_backup of a writable store: every commit up to it and none after), for a file
 * no process has open as a store. Errors: OX_EINVAL (no such file), OX_ECORRUPT (not a
 * store file), OX_EIO. */
int ox_backup_seq(const char *path, uint64_t *seq);

/* Replaces the whole content of the store (every table, every record) by that of the store
 * file at src, an ox_backup output of the same format version, which is renamed into the
 * store's place (src is gone on success; on error it stays). Readers see the old content
 * until the switch and the new one after it, never a mix; table handles stay valid, with
 * the new counts (a table the new content lacks is empty). Durable when it returns: after
 * a crash the store holds the old content or the new. Sequence numbers go on from the
 * store's own. Waits for the write transaction in progress (do not call it while holding
 * one, or a snapshot or iterator), then for this process's readers to end (up to 10 s).
 * Errors: OX_EINVAL (src missing or not a store file; a wrapped, in-memory or read-only
 * store), OX_EUNSUPPORTED (another format version), OX_EBUSY (readers stayed), OX_EIO,
 * OX_EFULL. */
int ox_store_replace(ox_store *s, const char *src);

/* ---- tables ------------------------------------------------------------------------ */

/* Opens the table `name` (1..200 bytes, any characters), creating it if the store is
 * writable. Do not call it while the calling thread holds a write transaction. Opening the same name twice returns the same handle. The handle is owned by
 * the store and valid until ox_store_close. Errors: OX_EINVAL, OX_EFULL (max_tables
 * reached), OX_NOTFOUND (read-only store, no such table). */
int ox_table_open(ox_store *s, const char *name, ox_table **out);

/* The table's name (owned by the table). */
const char *ox_table_name(const ox_table *t);

/* The store the table belongs to. */
ox_store *ox_table_store(const ox_table *t);

/* Number of keys in O(1). Like Redis's DBSIZE it counts keys that expired but were not
 * purged yet; iteration never shows those. */
int ox_count(ox_table *t, uint64_t *n);

/* Number of keys with an expiry time, in O(1) (the expiry index's size; like ox_count it
 * includes expired keys not yet purged). */
int ox_count_expires(ox_table *t, uint64_t *n);

/* The soonest expiry time (ms) in the table's expiry index, on one snapshot: O(log n),
 * for a caller deciding whether a purge has anything to do (*at < now: yes). Expired keys
 * not purged yet count, as in ox_count_expires. Errors: OX_NOTFOUND (no key has an
 * expiry time), OX_ECORRUPT, OX_EIO. */
int ox_next_expiry(ox_table *t, uint64_t *at);

/* The average remaining time to live, in ms, of the table's keys that have one and have
 * not expired (0 if there are none), from the expiry index on one snapshot, reading at
 * most max_sample (> 0) entries: exact when the index holds no more than that, otherwise
 * an estimate from runs of entries taken at expiry times spread evenly between the
 * soonest and the latest. Errors: OX_EINVAL (max_sample 0), OX_ECORRUPT, OX_EIO. */
int ox_avg_ttl(ox_table *t, size_t max_sample, uint64_t *avg_ms);

/* ---- point operations (each one transaction) ---------------------------------------- */

/* Copies the value of key into a new malloc'd buffer *val (free it with free()), its
 * length in *vlen. Errors: OX_NOTFOUND, OX_EKEYTOOLONG. The empty key is a key. */
int ox_get(ox_table *t, const void *key, size_t klen, void **val, size_t *vlen);

/* OX_OK if key exists (and is not expired), OX_NOTFOUND if not. */
int ox_contains(ox_table *t, const void *key, size_t klen);

/* Stores key = val without expiry time (a previous TTL is cleared). */
int ox_put(ox_table *t, const void *key, size_t klen, const void *val, size_t vlen);

/* Stores key = val expiring ttl_ms (> 0) milliseconds from now. */
int ox_put_with_ttl(ox_table *t, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms);

/* Deletes key. OX_NOTFOUND if it did not exist. */
int ox_delete(ox_table *t, const void *key, size_t klen);

/* Reads n keys from one snapshot. vals[i] receives a malloc'd copy (free() it) or NULL
 * when keys[i] is missing; vlens[i] its length. On error nothing is left allocated. */
int ox_get_many(ox_table *t, size_t n, const ox_val *keys, void **vals, size_t *vlens);

/* Writes n pairs in one transaction: all or none. */
int ox_batch_write(ox_table *t, size_t n, const ox_val *keys, const ox_val *vals);

/* Deletes n keys in one transaction; *deleted (may be NULL) counts those that existed. */
int ox_batch_delete(ox_table *t, size_t n, const ox_val *keys, size_t *deleted);

/* Atomically: if the current value equals *expected (expected == NULL: the key must be
 * absent), replace it by *desired (desired == NULL: delete it; a stored value has no TTL).
 * OX_OK if swapped, OX_ECONFLICT if the current value differs. */
int ox_compare_and_swap(ox_table *t, const void *key, size_t klen, const ox_val *expected,
                        const ox_val *desired);

/* ---- TTL ----------------------------------------------------------------------------- */

/* Sets key to expire ttl_ms (> 0) from now. OX_NOTFOUND if no such key. */
int ox_expire(ox_table *t, const void *key, size_t klen, uint64_t ttl_ms);

/* Remaining time to live of key in *ms. OX_NOTFOUND: no key. OX_NOTTL: no expiry. */
int ox_ttl(ox_table *t, const void *key, size_t klen, uint64_t *ms);

/* Removes the expiry time. OX_NOTFOUND: no key; OX_NOTTL: it had none. */
int ox_persist(ox_table *t, const void *key, size_t klen);

/* Deletes up to max (0 = no limit) expired keys, in expiry-time order, using the expiry
 * index: the cost is O(keys purged), whatever the table's size. *purged may be NULL. */
int ox_purge_expired(ox_table *t, size_t max, size_t *purged);

/* ---- ordered access: streaming iterators over an LMDB cursor ------------------------- */

enum ox_iter_flags {
    OX_ITER_DESC = 1,      /* descending order */
    OX_ITER_KEYS_ONLY = 2, /* ox_iter_next leaves val empty */
    OX_ITER_POS = 4,       /* ranges: lo and hi are positions (ox_key_pos, ox_iter_pos) */
    OX_ITER_AFTER = 8      /* ranges: lo itself is excluded (resume after a key) */
};

/* An iterator over keys in [lo, hi) (lo == NULL: from the first key; hi == NULL: to the
 * last; OX_ITER_AFTER: (lo, hi)), on its own read snapshot. Bounds are keys, or positions
 * with OX_ITER_POS (OX_EINVAL for bytes no position has). Close it with ox_iter_close.
 * Errors: OX_EINVAL, OX_EKEYTOOLONG, OX_ENOMEM. */
int ox_range(ox_table *t, const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **out);

/* An iterator over the keys starting with prefix (len 0: every key), whatever their
 * length. OX_ITER_POS and OX_ITER_AFTER do not apply. */
int ox_prefix(ox_table *t, const ox_val *prefix, unsigned flags, ox_iter **out);

/* Next pair: OX_OK with *key and *val (val may be NULL) borrowed until the next call or
 * close; OX_NOTFOUND at the end. Expired keys are skipped. An iterator of a write
 * transaction whose map had to grow answers OX_EBUSY (open a new one). The transaction
 * may write while its iterators are open: they walk on unless that write let go of the map
 * for a growth (then OX_EBUSY), and what they returned stays valid until their next step
 * or the transaction's next write returns, whichever comes first (a write ahead of an
 * iterator in its range may or may not be seen by it). */
int ox_iter_next(ox_iter *it, ox_val *key, ox_val *val);

/* Bounds the work of each later ox_iter_next: once one call has stepped over more than n
 * keys it does not return (deleted in a write buffer and not yet checkpointed, expired, or
 * outside the prefix), it gives up with OX_ELIMIT, and so does every call after it (the
 * iterator is spent: close it). n 0: no limit (the default). For a caller that has a
 * cheaper way than a walk over a long run of deletions. */
void ox_iter_limit(ox_iter *it, size_t n);

/* The position of the key the last ox_iter_next returned, into pos (OX_POS_MAX bytes):
 * what a scan resumes from (with OX_ITER_POS | OX_ITER_AFTER), as exact as the key itself
 * and at most OX_POS_MAX bytes whatever the key's length. OX_NOTFOUND before the first key
 * and after the end. */
int ox_iter_pos(const ox_iter *it, unsigned char *pos, size_t *len);

/* The kind (OX_PUT_KIND) of the record the last ox_iter_next returned. */
unsigned ox_iter_kind(const ox_iter *it);

/* Ends the iterator (and its snapshot, if it owns one). NULL is a no-op. */
void ox_iter_close(ox_iter *it);

/* ---- MVCC snapshots ------------------------------------------------------------------ */

/* Takes a read snapshot: reads through it never see writes committed after it was taken.
 * Hold it briefly (it pins old pages and delays map growth). */
int ox_snapshot_begin(ox_store *s, ox_snapshot **out);

/* Moves the snapshot to the newest committed state (cheap: reuses the LMDB reader). Every
 * ox_val read from it before is invalid afterwards. */
int ox_snapshot_renew(ox_snapshot *snap);

/* Zero-copy get: *val points into the map, valid until the snapshot ends or is renewed. */
int ox_snapshot_get(ox_snapshot *snap, ox_table *t, const void *key, size_t klen, ox_val *val);
/* ox_snapshot_get that also reports the record's kind and expiry time (0: none); either
 * pointer may be NULL. Same errors (OX_NOTFOUND, OX_EBUSY, OX_EKEYTOOLONG, OX_ECORRUPT). */
int ox_snapshot_read(ox_snapshot *snap, ox_table *t, const void *key, size_t klen, ox_val *val,
                     unsigned *kind, uint64_t *expire_at);
int ox_snapshot_contains(ox_snapshot *snap, ox_table *t, const void *key, size_t klen);
int ox_snapshot_ttl(ox_snapshot *snap, ox_table *t, const void *key, size_t klen, uint64_t *ms);
/* Absolute expiry time of a key (ms), as ox_txn_expire_time: OX_OK with *at, OX_NOTTL or
 * OX_NOTFOUND. */
int ox_snapshot_expire_time(ox_snapshot *snap, ox_table *t, const void *key, size_t klen,
                            uint64_t *at);
/* Iterators on the snapshot; close them before ending the snapshot. */
int ox_snapshot_range(ox_snapshot *snap, ox_table *t, const ox_val *lo, const ox_val *hi,
                      unsigned flags, ox_iter **out);
int ox_snapshot_prefix(ox_snapshot *snap, ox_table *t, const ox_val *prefix, unsigned flags,
                       ox_iter **out);
/* Ends the snapshot. NULL is a no-op. */
void ox_snapshot_end(ox_snapshot *snap);

/* ---- write transactions (read-your-writes) ------------------------------------------- */

/* Begins the store's write transaction (waits while another thread holds it). Every read
 * through it sees its own uncommitted writes. It reads the clock once, now: every read and
 * write in it judges expiry at that instant (as Redis does within one command), so a value
 * read live and written back with OX_PUT_KEEPTTL keeps the expiry time it was read with.
 * Iterators likewise judge expiry at their opening. End it with ox_txn_commit or
 * ox_txn_rollback. Errors: OX_EREADONLY, OX_EBUSY (see Caveats), OX_EIO. */
int ox_txn_begin(ox_store *s, ox_txn **out);
/* What a write of the transaction found under its key, told to an observer (keyspace
 * notifications): OX_SEEN_EXPIRED, a record whose time had passed, which the write
 * replaces or deletes; OX_SEEN_CREATED, no live record before this put. key is the user's
 * key, valid during the call only; the call comes before the write. fn NULL: none (the
 * default). Not told during recovery's replay. */
enum ox_seen { OX_SEEN_EXPIRED = 1, OX_SEEN_CREATED = 2 };
typedef void ox_seen_fn(void *arg, ox_table *t, int what, const void *key, size_t klen);
void ox_txn_observe(ox_txn *txn, ox_seen_fn *fn, void *arg);

enum ox_put_flags {
    OX_PUT_NOOVERWRITE = 1, /* fail with OX_ECONFLICT if the key exists */
    OX_PUT_ONLYIFEXISTS = 2, /* fail with OX_NOTFOUND if the key does not exist */
    OX_PUT_KEEPTTL = 4,     /* keep the key's current expiry time (expire_at is ignored) */
    OX_PUT_ABSENT = 8,      /* the caller knows that no record is under the key (a position
                               past a list's end, a member under a fresh id): the put does
                               not look it up (a miss in every layer, LMDB's too), counts
                               it as new and tells the observer OX_SEEN_CREATED. Wrong, it
                               leaves the table's count one too high and an old expiry entry
                               behind, and a long key's slot is not checked (OX_ECORRUPT). */
    OX_PUT_LIVE = 16        /* the caller knows that a live record without an expiry time is
                               under the key (a rewrite of what it read in this transaction,
                               or wrote): the put does not look it up, and the count stays.
                               Wrong, the count is one too low, an expiry entry is left behind
                               (a later purge deletes the key), and a long key's slot is not
                               checked. With OX_PUT_NOOVERWRITE: OX_ECONFLICT. */
};
/* A record's kind: a number 0..OX_KIND_MAX that the application attaches to a record (as
 * memcached's flags), kept in the record's header at no cost in bytes. ox_txn_put stores
 * the kind in its flags (OX_PUT_KIND(k); without it, 0); a change of the expiry time keeps
 * it; every other write stores kind 0. ox_txn_read, ox_snapshot_read and ox_iter_kind
 * read it back. (The server keeps its Redis types here.) */
#define OX_KIND_MAX 7u
#define OX_PUT_KIND(k) (((unsigned)(k) & OX_KIND_MAX) << 8)

/* Stores key = val. expire_at: absolute expiry time in ms, 0 = none. */
int ox_txn_put(ox_txn *txn, ox_table *t, const void *key, size_t klen, const void *val,
               size_t vlen, uint64_t expire_at, unsigned flags);
/* Zero-copy read of the transaction's view: *val valid until the txn's next write. */
int ox_txn_get(ox_txn *txn, ox_table *t, const void *key, size_t klen, ox_val *val);
/* A hint that key in t is about to be read or written through txn, so that a caller with
 * many keys to go through (a batch of commands) overlaps their lookups' memory latency
 * with its other work. In two steps: step 0 for a key two lookups ahead starts loading the
 * write buffers' hash buckets for it; step 1, once it is next, reads those buckets and
 * starts loading the entries they lead to. Changes nothing and reports nothing; a long
 * key (over the direct limit: its stored form costs a SHA-256) is ignored. */
void ox_txn_prefetch(ox_txn *txn, ox_table *t, const void *key, size_t klen, int step);
/* ox_txn_get that also reports the record's kind and expiry time (0: none); either pointer
 * may be NULL. */
int ox_txn_read(ox_txn *txn, ox_table *t, const void *key, size_t klen, ox_val *val,
                unsigned *kind, uint64_t *expire_at);
int ox_txn_contains(ox_txn *txn, ox_table *t, const void *key, size_t klen);
int ox_txn_delete(ox_txn *txn, ox_table *t, const void *key, size_t klen);
/* ox_txn_delete of a key the caller knows holds a live record without an expiry time (one
 * it has just read, a member of a collection): it is not looked up (a miss in the buffers
 * and a search of LMDB's tree for a member deleted from the file). Wrong, it leaves the
 * table's count one too low. OX_OK or an error. */
int ox_txn_delete_live(ox_txn *txn, ox_table *t, const void *key, size_t klen);
/* Sets the absolute expiry time (ms) of an existing key. OX_NOTFOUND if none. */
int ox_txn_expire_at(ox_txn *txn, ox_table *t, const void *key, size_t klen, uint64_t at);
int ox_txn_ttl(ox_txn *txn, ox_table *t, const void *key, size_t klen, uint64_t *ms);
/* Absolute expiry time of a key: OX_OK with *at, OX_NOTTL, or OX_NOTFOUND. */
int ox_txn_expire_time(ox_txn *txn, ox_table *t, const void *key, size_t klen, uint64_t *at);
int ox_txn_persist(ox_txn *txn, ox_table *t, const void *key, size_t klen);
int ox_txn_purge_expired(ox_txn *txn, ox_table *t, size_t max, size_t *purged);
/* ox_txn_purge_expired that calls fn(arg, key, klen) for each key it deletes, before
 * deleting it (key is the user's whole key, valid during the call only). */
typedef void ox_purge_fn(void *arg, const void *key, size_t klen);
int ox_txn_purge_expired_each(ox_txn *txn, ox_table *t, size_t max, size_t *purged,
                              ox_purge_fn *fn, void *arg);
/* Deletes every key of the table (and its expiry index). */
int ox_txn_clear(ox_txn *txn, ox_table *t);
int ox_txn_count(ox_txn *txn, ox_table *t, uint64_t *n);
int ox_txn_range(ox_txn *txn, ox_table *t, const ox_val *lo, const ox_val *hi, unsigned flags,
                 ox_iter **out);
int ox_txn_prefix(ox_txn *txn, ox_table *t, const ox_val *prefix, unsigned flags,
                  ox_iter **out);
/* Commits and frees the transaction (also on error, which leaves nothing applied).
 * Under OX_SYNC_ALWAYS the writes are on disk when it returns OX_OK. Iterators of the
 * txn must be closed before. */
int ox_txn_commit(ox_txn *txn);
/* 1 once the write buffer this transaction writes into has reached its budget (half of
 * ox_options.mem_limit, less the buffer's allocation step), or holds as many keys as its
 * checkpoint may change pages (ox_options.dirty_limit, estimated): a caller that groups many
 * independent writes in one transaction should commit now and go on in a new one (whose
 * begin waits for a checkpoint if need be), so that memory stays within the limit. A
 * transaction keeps working past it: this is advice, not an error. 0 otherwise. */
int ox_txn_buffer_full(const ox_txn *txn);
/* Discards every write of the transaction and frees it. NULL is a no-op. */
void ox_txn_rollback(ox_txn *txn);
/* Sets the transaction's savepoint here (one at a time: a new one replaces the last), so
 * that ox_txn_rollback_savepoint can discard what is written after it and keep the rest:
 * a caller that runs many independent operations in one transaction keeps each one whole
 * when one fails midway. Returns OX_OK, or the error that left the transaction failed. */
int ox_txn_savepoint(ox_txn *txn);
/* Discards every write made since the savepoint (their versions, their part of the log
 * record, their count changes); the savepoint stays. Close the transaction's iterators
 * first: what they returned may be gone. Returns OX_OK, OX_EINVAL (no savepoint),
 * OX_ENOMEM (none could be kept: the memory for the count changes ran out), or the error
 * that left the transaction failed (nothing remains but ox_txn_rollback). */
int ox_txn_rollback_savepoint(ox_txn *txn);

/* ---- offline maintenance (exclusive access: see Caveats) ----------------------------- */

typedef struct ox_check_report {
    char problem[256];       /* first problem found, "" when clean */
    uint64_t problem_pgno;   /* page where it was found (UINT64_MAX if none) */
    uint64_t txnid;          /* transaction id of the snapshot checked */
    uint64_t pages;          /* pages in the file (last page + 1) */
    uint64_t pages_used;     /* pages reachable from the meta page's trees, and the two
                                meta pages: on a clean file pages_used + pages_free ==
                                pages */
    uint64_t pages_free;     /* pages on the free list */
    uint64_t tables;         /* named databases found */
    uint64_t entries;        /* entries over all named databases */
    unsigned page_size;
    int recovery_pending;    /* a crash left the write-ahead log with commits to replay
                                (the file checked is sound, but older than the log) */
    uint64_t log_records;    /* commits in the write-ahead log after the file's last
                                checkpoint, each with a sound checksum: what the next open
                                replays (0 after a clean shutdown) */
} ox_check_report;

/* Walks every page of every database and the free list of the newest snapshot of the file
 * at path without opening it through LMDB, and reports the first problem: bad meta page,
 * bad page type, page number out of range, page header or node out of bounds, keys out of
 * order, a page referenced twice, a page neither in use nor free, a database whose depth,
 * entries or page counts differ from its record. Then walks the write-ahead log after the
 * file's checkpoint, checking every record's checksum and that no segment is missing.
 * rep may be NULL. Returns OX_OK (clean), OX_ECORRUPT (see rep->problem: the file, or a
 * log whose segments skip a commit), OX_EBUSY (another process has the file open),
 * OX_EIO, OX_EINVAL (no such file). A sound file whose log holds commits it lacks (a crash
 * before the checkpoint that would have written them) is OX_OK with rep->recovery_pending
 * set and rep->log_records counting them. */
int ox_check(const char *path, ox_check_report *rep);

/* Recovers a file whose newest commit is damaged: if the newest snapshot fails ox_check
 * and the previous one (LMDB keeps two meta pages) passes, the damaged meta page is
 * overwritten with the previous one and the file synced. Then the log's commits the file
 * lacks (a crash's, or the dropped commit's if the log still has it) are written to it.
 * what (may be NULL) receives a sentence saying what was done. Returns OX_OK (clean
 * already, or repaired), OX_ECORRUPT (neither snapshot is clean: nothing written),
 * OX_EBUSY, OX_EIO. */
int ox_repair(const char *path, char *what, size_t whatlen);

/* Offline compaction: writes a compacted copy beside the file and renames it over the
 * original (atomic; the original is untouched on any error). Returns OX_OK, OX_EBUSY
 * (file in use), OX_EIO, OX_EFULL, OX_ECORRUPT, OX_EUNSUPPORTED (format version), OX_EINVAL
 * (no such file). */
int ox_compact(const char *path);

/* ---- inspection, for tools (any open store, read-only ones included) ----------------- */

/* The write path's state, for monitoring (the server's INFO). */
typedef struct ox_write_info {
    uint64_t buffer_bytes;     /* held by the write buffers: the active one and the one a
                                  checkpoint is writing (arena bytes, indexes included) */
    uint64_t buffer_limit;     /* ox_options.mem_limit in force */
    uint64_t buffer_peak;      /* the most bytes one write buffer held at a commit since the
                                  open (a transaction larger than the buffer's budget grows
                                  it past that budget) */
    int checkpointing;         /* 1 while a frozen buffer waits for LMDB or is being written */
    uint64_t checkpoints;      /* checkpoints written since the open */
    uint64_t checkpoint_waits; /* write transactions that waited for a checkpoint because
                                  both buffers were full (back-pressure) */
    uint64_t last_checkpoint_ms; /* how long the last checkpoint attempt took */
    int last_checkpoint_status;  /* OX_OK, or the error of the last failed attempt */
    uint64_t last_seq;         /* the last commit's sequence number (the log's) */
    uint64_t checkpoint_seq;   /* the last sequence number LMDB holds: a restart replays the
                                  log's commits after it */
    uint64_t dirty_limit;      /* ox_options.dirty_limit in force (bytes) */
    uint64_t last_checkpoint_pages; /* pages the last checkpoint changed (LMDB's free list
                                       record of its transaction plus its trees' growth) */
    uint64_t checkpoint_pages_peak; /* the most pages one checkpoint changed since the open */
    uint64_t env_releases;     /* reopens of LMDB's env that gave its page copies back */
} ox_write_info;

/* Fills *wi; cheap (two short locks), from any thread. Errors: OX_EINVAL (s or wi NULL;
 * *wi is zeroed if wi is not NULL). */
int ox_store_write_info(ox_store *s, ox_write_info *wi);

/* The names of every table in the file, in bytewise order, on one snapshot: *names is a
 * malloc'd array of *n malloc'd strings; free it with ox_table_names_free. Errors:
 * OX_ENOMEM, OX_ECORRUPT, OX_EIO. */
int ox_table_names(ox_store *s, char ***names, size_t *n);
void ox_table_names_free(char **names, size_t n); /* NULL is a no-op */

typedef struct ox_store_info {
    unsigned page_size;
    uint64_t pages;       /* pages in the newest snapshot: its last page + 1 */
    uint64_t pages_free;  /* pages on LMDB's free list (reused once no reader needs them) */
    uint64_t map_size;    /* bytes mapped now */
    uint64_t txnid;       /* the snapshot's transaction id */
} ox_store_info;

/* Fills *info from one snapshot (the page counts of the newest commit). Errors:
 * OX_ECORRUPT, OX_EIO. */
int ox_store_stat(ox_store *s, ox_store_info *info);

/* Whether some process has the store file at path open (takes and drops the exclusive
 * lock of ox_check; the same caveat: not on a file this process has open). A moment's
 * answer: a process may open the file right after. Returns OX_OK (nobody has it open),
 * OX_EBUSY, OX_EINVAL (no such file), OX_ENOMEM, OX_EIO. */
int ox_store_in_use(const char *path);

#ifdef __cplusplus
}
#endif
#endif
