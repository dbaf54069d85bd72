/* ox_mem.h — the write buffer: an in-memory, ordered, multi-version map of every change
 * since the last checkpoint. Internal to liboxistore; never installed.
 *
 * What it holds: per table (a small integer id), an ordered map from a key's stored form
 * (ox_internal.h: what LMDB holds as the key) to a list of versions, newest first. A version
 * is a value record in LMDB's record format (header, expiry time, long key, user bytes) or
 * a deletion (a tombstone). A table also has its clears (ox_txn_clear): a clear hides every
 * version of the table older than it, here and in every older layer.
 *
 * Versions carry two numbers: `seq`, the commit sequence number of the transaction that
 * wrote it (a reader at snapshot S sees the versions with seq <= S), and `stamp`, the order
 * of the operations themselves (a clear hides the versions with a lower stamp: a clear and
 * a put in one transaction share a seq). An aborted transaction's versions get seq
 * OX_MEM_ABORTED: no snapshot ever sees them.
 *
 * Reading a key at snapshot S in one buffer gives one of three answers: a record, absent
 * (a tombstone, or a clear, visible at S: look no further), or not here (look in the
 * older layers: older buffers, then LMDB).
 *
 * Threads: one writer (the store's writer, holding its wlock) adds versions and clears;
 * any number of readers read at the same time without locks. A version or node is built
 * whole, then published with a release store; readers load with acquire. Nothing is
 * freed before the buffer itself, when its last reference goes (ox__mem_unref).
 *
 * Memory: everything lives in the buffer's arena (chunks of OX_MEM_CHUNK bytes, or a
 * sixteenth of a small budget; a larger record gets a chunk of its own) plus a hash index
 * fixed at creation for point lookups, and a filter of the keys' first bytes for walks.
 * ox__mem_bytes counts both; the store freezes a buffer that has reached its budget.
 * Chunks of OX_MEM_CHUNK bytes (and a hash index of that size) are huge pages where the
 * kernel grants them; a freed buffer leaves up to 16 of them (32 MiB) to the process's
 * next buffers, counted by no buffer until one takes them.
 *
 * Errors: OX_ENOMEM only.
 */
#ifndef OX_MEM_H
#define OX_MEM_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define OX_MEM_ABORTED UINT64_MAX
#define OX_MEM_CHUNK ((size_t)2 << 20) /* a huge page */

typedef struct ox_mem ox_mem;
typedef struct ox_mver ox_mver; /* a version, or a clear */

enum ox_mem_answer { OX_MEM_FOUND = 0, OX_MEM_ABSENT = 1, OX_MEM_MISS = 2 };

/* A new, empty buffer with one reference, for tables with ids below ntables, whose hash
 * index is sized for about `budget` bytes of keys and values. */
int ox__mem_new(size_t budget, unsigned ntables, ox_mem **out);

/* References: the store's view holds one, each reader that uses the buffer another. The
 * last unref frees it. Any thread. */
void ox__mem_ref(ox_mem *m);
void ox__mem_unref(ox_mem *m);

/* Bytes the buffer takes (arena chunks and hash index). Any thread (a moment's answer). */
size_t ox__mem_bytes(const ox_mem *m);
/* The bytes its keys and versions take in the arena (what ox__mem_bytes counts is whole
 * chunks and the indexes). Any thread. */
size_t ox__mem_data(const ox_mem *m);
/* 1 if m has reached budget: its bytes plus one more arena chunk (its next allocation
 * step) would pass it. */
int ox__mem_full(const ox_mem *m, size_t budget);
/* Deletions written into m so far, and (*nodes) the keys it holds: each deletion stays in
 * it, as a version every ordered walk steps over, until m is checkpointed (the store
 * freezes a buffer that is mostly deletions). */
size_t ox__mem_dels(const ox_mem *m, size_t *nodes);

/* The highest seq of a committed version or clear in the buffer (0: none). Writer, or
 * any thread once the buffer is frozen. */
uint64_t ox__mem_max_seq(const ox_mem *m);

/* ---- the writer ---------------------------------------------------------------------- */

/* Adds a version of key (a stored form, at most OX_KEY_BUF - 1 bytes) in table: rec/len
 * its value record, or rec NULL for a deletion. seq is the writing transaction's. *ver (may
 * be NULL) receives the version, for ox__mem_abort. */
int ox__mem_put(ox_mem *m, unsigned table, const MDB_val *key, uint64_t seq, const void *rec,
                size_t len, ox_mver **ver);

/* Adds a clear of table at seq. *ver as above. */
int ox__mem_clear(ox_mem *m, unsigned table, uint64_t seq, ox_mver **ver);

/* Makes a version or clear of a transaction that did not commit invisible for good. */
void ox__mem_abort(ox_mver *v);

/* Records that seq committed (for ox__mem_max_seq). */
void ox__mem_committed(ox_mem *m, uint64_t seq);

/* ---- readers ------------------------------------------------------------------------- */

/* key's state in table at snapshot seq: OX_MEM_FOUND with *rec (borrowed: valid while the
 * reader holds its reference), OX_MEM_ABSENT, or OX_MEM_MISS. */
int ox__mem_get(const ox_mem *m, unsigned table, const MDB_val *key, uint64_t seq, MDB_val *rec);

/* Starts loading what a lookup of key in table touches, so that a lookup a moment later
 * waits less for memory: step 0 its hash bucket, step 1 (reading the bucket) the first
 * node there. Any thread; no effect on any answer. */
void ox__mem_prefetch(const ox_mem *m, unsigned table, const MDB_val *key, int step);

/* 1 if a clear of table is visible at seq (every older layer is then hidden for it). */
int ox__mem_cleared(const ox_mem *m, unsigned table, uint64_t seq);

/* 0 if no key k with lo <= k < hi can be in table here (so a walk of that range may leave
 * the buffer out): lo and hi share their first OX_MEM_PREFIX bytes (a collection's id, in
 * a stored key: ox_internal.h) and no key starting with those was ever put in the table
 * here; 1 otherwise, sometimes wrongly (a filter of the prefixes: the cost is only the
 * walk's). Any thread: a key of a commit the caller's snapshot sees counts (its bits are
 * set before the commit publishes its seq); for the writer, a key it put. One filter serves
 * every table (the expiry indexes' too): many short keys fill it, and it then answers 1
 * more often. */
#define OX_MEM_PREFIX 9
int ox__mem_may_hold(const ox_mem *m, unsigned table, const MDB_val *lo, const MDB_val *hi);

/* An ordered walk over one table's keys. A cursor is a position on a key (or off the end);
 * ox__mem_cur_state tells what the key is at the walk's snapshot. */
typedef struct ox_mem_cur {
    const ox_mem *m;
    unsigned table;
    const void *node; /* NULL: off the end */
} ox_mem_cur;

void ox__mem_cur_init(ox_mem_cur *c, const ox_mem *m, unsigned table);
/* Positions on the first key >= key (asc != 0, key NULL: the first key) or on the last key
 * <= key (asc == 0, key NULL: the last key). */
void ox__mem_cur_seek(ox_mem_cur *c, const MDB_val *key, int asc);
/* The next (asc) or previous key: O(1) either way. A reader on another thread may skip a
 * key the writer links in beside it meanwhile: none of its versions is committed yet. */
void ox__mem_cur_step(ox_mem_cur *c, int asc);
/* The key under the cursor (borrowed), or 0 off the end. */
int ox__mem_cur_key(const ox_mem_cur *c, MDB_val *key);
/* The key's state at seq, as ox__mem_get (OX_MEM_MISS if no version is visible at seq and
 * no clear hides it). */
int ox__mem_cur_state(const ox_mem_cur *c, uint64_t seq, MDB_val *rec);

/* ---- the checkpointer (a frozen buffer: no writer any more) --------------------------- */

/* The table's last committed clear (0: none), and its stamp. */
uint64_t ox__mem_last_clear(const ox_mem *m, unsigned table, uint64_t *stamp);
/* The newest committed version of the key under the cursor, if it is newer than the
 * table's last clear: 1 with *rec (rec->mv_data NULL for a deletion), else 0 (cleared, or
 * only aborted versions). */
int ox__mem_cur_final(const ox_mem_cur *c, MDB_val *rec);
/* 1 if table has any entry or clear in the buffer. */
int ox__mem_has_table(const ox_mem *m, unsigned table);

#endif
