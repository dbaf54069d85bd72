/* ox_wal.h — the write-ahead log that makes OX_SYNC_ALWAYS cost one fdatasync per commit,
 * and keeps the data file whole after a machine crash under OX_SYNC_EVERYSEC too.
 * Internal to liboxistore; never installed.
 *
 * Why: an LMDB commit under full sync costs two syncs (data pages, then the meta page) and
 * writes every dirty page. Under OX_SYNC_ALWAYS the store instead runs LMDB with
 * MDB_NOSYNC and appends each write transaction's operations, as one record, to
 * "<file>-wal": one pwrite into preallocated space and one fdatasync, before the LMDB
 * commit (so no reader ever sees a write that is not durable).
 *
 * Checkpoints: the record area is two halves; appends fill one, then move to the other.
 * At each move the writer captures a checkpoint (LMDB's newest txn T, its meta page, a
 * read transaction pinned on T, which keeps LMDB from reusing any page of T) and a
 * background thread completes it while commits go on: fdatasync of the data file, then a
 * header saying "the data file holds everything up to T; the log starts here, with this
 * sequence number". The writer waits only if it fills the other half first. Recovery after
 * a crash of the process or of the machine writes T's meta page back into both meta
 * slots (undoing any torn later commit: T's pages are intact) and replays the records.
 *
 * File layout: two header slots of OX_WAL_SLOT bytes (the one with the higher generation
 * and a good checksum rules; they alternate so a torn header write leaves the other),
 * then the two halves of records: a 32-byte head (checksum, length, flags, sequence) and
 * the payload. Sequence numbers grow over the file's whole life; a record counts only if
 * it carries the next one and its checksum holds, so stale bytes end a replay. A replay
 * that finds no next record in one half looks at the start of the other. A record larger
 * than a half is written whole, and synced, to the side file "<file>-wal-big" first; the
 * log then gets an empty record flagged as kept there. The side file holds one record: a
 * checkpoint past the one it holds comes before the next (and gives its space back).
 *
 * Errors: a write refused is never applied, not even after a crash. A record whose append
 * failed, or whose LMDB commit failed after it was appended, is voided at once: its head
 * overwritten with zeros and synced (under every policy), so no replay counts it. Its
 * sequence number is burnt and the log "broken": a checkpoint moves the log's start past
 * the record at once, or, if the disk refuses that too, before the next commit, which
 * fails while it cannot. The checkpoint also releases the pages the pinned checkpoint held
 * back (a commit that failed for want of space may succeed after it). Only a disk that
 * fails both the voiding and every checkpoint since leaves the record in the log; a crash
 * of the machine then may replay it.
 *
 * Threads: every function but ox__wal_open/close/sync is called with the store's wlock
 * held; the checkpointer thread is the log's own.
 */
#ifndef OX_WAL_H
#define OX_WAL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "oxistore.h"

#define OX_WAL_SLOT 4096u
#define OX_WAL_DATA (2u * OX_WAL_SLOT)
#define OX_WAL_HEAD 32u             /* bytes before each record's payload */
#define OX_WAL_DEFAULT OX_WAL_SIZE_DEFAULT /* log size when ox_options.wal_size is 0 */

typedef struct ox_wal ox_wal;

/* Opens (creating, preallocating size bytes) "<dbpath>-wal" and locks it for this process;
 * pinned: ox_options.wal_pinned.
 * *recover is set when the header says the data file alone is not the truth (a crash).
 * Errors: OX_EBUSY (another process holds it), OX_EIO, OX_EFULL, OX_ENOMEM. */
int ox__wal_open(const char *dbpath, size_t size, size_t pinned, ox_wal **out,
                 int *recover, int *made);

/* Recovery, before LMDB opens the data file: writes the checkpoint's meta page into both
 * meta slots of dbpath and syncs it. Needs exclusive access to the file (taken here).
 * Errors: OX_EBUSY (the file is open elsewhere), OX_ECORRUPT, OX_EIO. */
int ox__wal_restore(ox_wal *w, const char *dbpath);

/* Calls fn(ctx, payload, len) for each record of the log, in order, stopping at the first
 * record that does not count; stops early with fn's error if fn fails. */
int ox__wal_replay(ox_wal *w, int (*fn)(void *ctx, const unsigned char *p, size_t len),
                   void *ctx);

/* Room for a payload of len bytes: *rec points to OX_WAL_HEAD + len writable bytes owned by
 * the log, valid until the next ox__wal_* call; the payload goes at *rec + OX_WAL_HEAD.
 * Errors: OX_ENOMEM. */
int ox__wal_reserve(ox_wal *w, size_t len, unsigned char **rec);

/* Appends the reserved record (len payload bytes, any size: larger than a half goes through
 * the side file) and makes it durable (unless lazy); env is the store's (a checkpoint may
 * start). On failure nothing of the record counts (see Errors): OX_EFULL (no space),
 * OX_EIO, or the error of the checkpoint a broken log needed first. */
int ox__wal_append(ox_wal *w, MDB_env *env, size_t len);

/* Before any LMDB commit of env, logged or not (ox__wal_append calls it too): a broken log
 * is checkpointed first. After ox__wal_unpin no checkpoint is pinned, so a commit before
 * this would be free to reuse the pages of the checkpoint still in force, which recovery
 * goes back to. OX_OK or the checkpoint's error (then nothing may commit). */
int ox__wal_ready(ox_wal *w, MDB_env *env);

/* OX_SYNC_EVERYSEC: lazy != 0 makes appends write without syncing; ox__wal_sync, called
 * each second, makes them durable. A crash keeps the records that reached the disk in
 * order (a record counts only after all before it): at most the last second is lost,
 * and the data file is never torn (recovery is the same as under OX_SYNC_ALWAYS). */
void ox__wal_set_lazy(ox_wal *w, int lazy);

/* The env is about to close (ox__revive): waits for the checkpointer, drops the pin (a
 * transaction of that env) and breaks the log, so the next commit first checkpoints the
 * reopened env (ox__wal_ready), which pins it anew. Until then nothing commits, so the
 * checkpoint in force keeps its pages. */
void ox__wal_unpin(ox_wal *w);

/* fdatasync of the log; may run on another thread than the store's writer, without its
 * wlock. A failure breaks the log (the next commit checkpoints). OX_EIO. */
int ox__wal_sync(ox_wal *w);

/* The last appended record's LMDB commit failed: the record is voided, the log broken and
 * a checkpoint past it tried at once (see Errors). env: the store's (the LMDB transaction
 * is over). */
void ox__wal_cancel(ox_wal *w, MDB_env *env);

/* Synchronous checkpoint (waits for a background one first): syncs env's data file and
 * records its newest txn and meta page in the header, the log starting afresh; clean != 0
 * says the data file alone is the truth (at close). A write transaction of env may be
 * open, none may be committing. */
int ox__wal_checkpoint(ox_wal *w, MDB_env *env, int clean);

/* Stops the checkpointer, releases the pin, unlocks and closes. NULL is a no-op. */
void ox__wal_close(ox_wal *w);

#endif
