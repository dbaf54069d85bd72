/* ox_excl.h — exclusive access to a store file for the offline tools (check, repair,
 * compact). Internal to liboxistore; never installed.
 *
 * How it works: LMDB 0.9 takes an fcntl write lock on byte 0 of "<path>-lock" while it
 * opens an environment and holds a read lock there for as long as the environment stays
 * open; a second opener that finds a write lock waits (F_SETLKW) for a read lock. So a
 * write lock on that byte, taken without waiting, proves that no process has the store
 * open, and keeps any process from opening it (it blocks in mdb_env_open) until released.
 *
 * The lock is an open-file-description lock (F_OFD_SETLK): it belongs to our descriptor,
 * not to the process, so it still conflicts with this process's own LMDB locks (the
 * caller must not have the file open: see oxistore.h) and is released only by closing
 * that descriptor. While it is held, the data file may only be used with plain I/O or an
 * LMDB environment opened with MDB_NOLOCK, which leaves the lock file alone.
 */
#ifndef OX_EXCL_H
#define OX_EXCL_H

typedef struct ox_excl {
    int lockfd; /* "<path>-lock", holding the write lock; -1 when not held */
} ox_excl;

/* Takes exclusive access to the store file at path (which must exist and be a regular
 * file; "<path>-lock" is created if missing, as LMDB would). Returns OX_OK, OX_EBUSY
 * (some process has the store open), OX_EINVAL (no such file, or not a regular file),
 * OX_ENOMEM, OX_EIO. On error ex->lockfd is -1. */
int ox__excl_acquire(const char *path, ox_excl *ex);

/* To call after changing the data file (repair, compact), just before releasing. A process
 * that started opening the store while we held the lock is waiting for it and will open
 * non-exclusively, trusting the lock file's record of the last txnid to pick a meta page;
 * after a repair or a compaction that record is stale and would show it the wrong
 * snapshot (after compaction, the empty one). Emptying the lock file makes such a waiter
 * fail (EINVAL) instead; the next open, exclusive, rebuilds the lock file. */
int ox__excl_invalidate(ox_excl *ex);

/* Releases it (closes the lock file). Safe on a released or failed ox_excl. A child forked
 * while the lock is held shares it until it exits or execs (the descriptor is O_CLOEXEC). */
void ox__excl_release(ox_excl *ex);

/* The ox_err for an errno met while reading or writing a store file. */
int ox__excl_errno(int e);

#endif
