/* watch.h — the keys clients WATCH, and the hook every write calls.
 * The registry belongs to the writer thread: WATCH and UNWATCH run there as jobs, and
 * every change of a key happens there, so a change marks exactly the watches registered
 * before it in the writer's order. Keys are compared byte for byte: no false aborts from
 * hash collisions. A client's mark holds the number of the batch that made it, so an I/O
 * thread can tell whether its snapshot holds that change (watch_check); a batch whose
 * commit fails takes its marks back.
 *
 * The hook, for every write command (writer thread): call watch_touch once for each key
 * the command changed, exactly where Redis 7.0 calls signalModifiedKey: a write, even of
 * the same value (SET k v on v, SETBIT to the bit it had); a delete; RENAME's source and
 * target; MOVE's key in both databases; COPY's target; an expiry time set or removed
 * (EXPIRE, PEXPIRE, PERSIST, GETEX EX/PERSIST when it changed one). Not for a command
 * that changed nothing (SETNX or SET NX on an existing key, DEL of a missing key, SETRANGE
 * with an empty value, PERSIST of a key without TTL). FLUSHDB and FLUSHALL call
 * watch_flush before clearing, SWAPDB watch_swap after swapping. Deleting keys that have
 * expired (active expiry, ox_txn_purge_expired, by name or not) needs no call: a key that
 * was live when watched and has expired since fails EXEC by the expiry time recorded at
 * WATCH (Redis 7.0 fails EXEC once a watched key expired), and a key already expired when
 * watched did not exist for WATCH, so its removal changes nothing (as in Redis 7.0).
 * Each call costs a load and a branch while nothing is watched. */
#ifndef WATCH_H
#define WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "oxistore.h"
#include "srv.h"

typedef struct watch_set watch_set; /* one client's watched keys */
void watch_touch(int db, const void *key, size_t len);
void watch_flush(ox_txn *txn, int db);
void watch_swap(ox_txn *txn, int a, int b);
/* Marks every set that watches a key: a replica applied writes of its master, whose keys
 * it does not know one by one (an EXEC after them fails, as when one of its keys changed). */
void watch_touch_all(void);
/* Writer, for c's WATCH job: watches key of db (once however often it is named),
 * recording whether it is live in txn's view and its expiry time. */
void watch_add(srv_client *c, ox_txn *txn, int db, const void *key, size_t len);
/* Writer: forgets every key of ws and its mark (UNWATCH, EXEC, DISCARD). NULL: no-op. */
void watch_clear(watch_set *ws);
/* Writer: 1 if an EXEC of ws's client must fail (a watched key changed or expired). */
int watch_exec_aborts(const watch_set *ws, uint64_t now_ms);
/* Writer, after each batch's commit: keeps or takes back the batch's marks. */
void watch_batch_end(int committed_ok);
/* Writer: frees ws (its client is gone). */
void watch_set_free(watch_set *ws);
/* Writer thread stopped (main thread): frees the registry and every set. */
void watch_shutdown(void);
/* I/O thread, on a snapshot taken after writer_committed() returned committed, while no
 * job of ws's client is in flight: WATCH_CLEAN (EXEC may run on the snapshot),
 * WATCH_ABORT (EXEC fails: the change is in the snapshot, or a key expired), or
 * WATCH_UNSURE (a change whose commit may not be in the snapshot: ask the writer). */
enum { WATCH_CLEAN, WATCH_ABORT, WATCH_UNSURE };
int watch_check(const watch_set *ws, uint64_t committed, uint64_t now_ms);

#endif
