/* ox_log.h — the write-ahead log: the commit of every write transaction. Internal to
 * liboxistore; never installed.
 *
 * A commit is one record appended to the log (and, under OX_SYNC_ALWAYS, one fdatasync);
 * the write buffer (ox_mem.h) holds what it changed until a checkpoint writes it to LMDB,
 * whose meta database then records the last sequence number it holds. Recovery replays
 * the records after that number.
 *
 * Files: segments "<file>-wal.<16 hex digits>", named by the sequence number of their first
 * record, of OX_LOG_SEGMENT bytes (ox_options.wal_size) written with zeros when created (so
 * that an fdatasync after an append flushes the data alone, not the journal: measured
 * 0.13 ms against 0.6-1 ms into unwritten extents). A record larger than a segment gets a
 * segment of its own, of its size. Segments that a checkpoint made useless are renamed to
 * serve again (up to OX_LOG_SPARE of them) or deleted.
 *
 * Records: a 32-byte head — checksum (8, over the rest of the head and the payload),
 * payload length (4), zero (4), sequence number (8), zero (8) — then the payload. A record
 * counts only if its checksum holds and it carries the next sequence number; a replay
 * stops at the first that does not (stale bytes of a reused segment, zeros, a torn write).
 * Sequence numbers are the commits' (ox_txn): one per committed write transaction,
 * consecutive.
 *
 * Errors and refused commits: a record whose append fails (write or sync), or whose commit
 * is cancelled after it (ox__log_cancel), is voided at once: its head is overwritten with
 * zeros and synced, whatever the policy, so no replay counts it; the next record takes its
 * place. If the voiding itself fails, the log is broken: every append first tries the
 * voiding again and fails while it does (the record would otherwise be replayed after a
 * crash although its commit was refused).
 *
 * Threads: the store's writer appends, cancels, releases and switches segments;
 * ox__log_sync may run on another thread at the same time (the everysec flusher).
 */
#ifndef OX_LOG_H
#define OX_LOG_H

#include <stddef.h>
#include <stdint.h>

#define OX_LOG_HEAD 32u
#define OX_LOG_SPARE 2         /* used segments kept for reuse */

typedef struct ox_log ox_log;

/* Opens the log of the store at dbpath. Writable, it takes the store's writer lock (an
 * open-file-description lock on a byte of LMDB's "<file>-lock" far past any that LMDB
 * uses), so one process at a time writes a store. read_only: replay only, no lock.
 * Errors: OX_EBUSY (another process writes the store), OX_ENOMEM, OX_EIO, OX_EINVAL. */
int ox__log_open(const char *dbpath, size_t segment, int read_only, ox_log **out);

/* Calls fn(ctx, seq, payload, len) for each record after sequence number `from`, in
 * order, stopping at the first that does not count (or with fn's error); *last: the last
 * replayed, or `from`. A writable log is then ready to append seq *last + 1 (creating its
 * first segment if it has none: OX_EFULL when the disk has no room for it, and nothing
 * is left behind). OX_ECORRUPT if the segments skip the record after `from`. */
int ox__log_replay(ox_log *l, uint64_t from,
                   int (*fn)(void *ctx, uint64_t seq, const unsigned char *p, size_t len),
                   void *ctx, uint64_t *last);

/* 1 if some record after `from` would be replayed (for the offline tools), else 0. */
int ox__log_pending(ox_log *l, uint64_t from);
/* Walks every record after `from` that a replay would apply, checksums included, and
 * counts them into *records; writes nothing. OX_OK; OX_ECORRUPT when a segment is
 * missing: the record after `from` is in none, or a segment of later records lies past
 * the end of the replay (whose open would drop them); OX_EIO. */
int ox__log_scan(ox_log *l, uint64_t from, uint64_t *records);

/* Appends payload (len bytes) as the record of seq (the next one) and, unless lazy, syncs
 * it. On failure nothing of it counts (see Errors): OX_EFULL (no space), OX_EIO, OX_EINVAL
 * (len over 4 GiB). */
int ox__log_append(ox_log *l, uint64_t seq, const void *payload, size_t len);

/* The last appended record's commit failed: voids it (see Errors). */
void ox__log_cancel(ox_log *l);

/* Lazy appends (OX_SYNC_EVERYSEC, OX_SYNC_NO) do not sync; ox__log_sync does. */
void ox__log_set_lazy(ox_log *l, int lazy);

/* fdatasync of what was appended. Any thread. OX_OK or OX_EIO. */
int ox__log_sync(ox_log *l);

/* A checkpoint made every record up to seq durable in LMDB: the segments holding only
 * such records are reused or deleted. Errors are ignored (the segments stay). */
void ox__log_release(ox_log *l, uint64_t seq);

/* Bytes of the segments on disk. */
uint64_t ox__log_bytes(ox_log *l);

/* Closes (without syncing: the caller checkpointed or synced). NULL is a no-op. */
void ox__log_close(ox_log *l);

#endif
