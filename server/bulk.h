/* bulk.h — builds of a whole collection in parts, and the walks that survive them.
 *
 * A command that builds a collection (SINTERSTORE SUNIONSTORE SDIFFSTORE, ZUNIONSTORE
 * ZINTERSTORE ZDIFFSTORE, ZRANGESTORE, COPY, MOVE, SORT ... STORE) writes its members under
 * a fresh id that no key names until its last write (db_coll_replace). A large one would
 * grow the write buffer past write-buffer-limit in one transaction. So when it runs first
 * in its batch part (the writer's cmd_ctx.commit_part), whenever the buffer is full it
 * commits what it wrote and goes on in a new transaction: those parts are invisible (no
 * key names the id), and a crash before the last one leaves them to the sweeper (db.h),
 * so the build stays atomic. Its sources do not change meanwhile: nothing else writes
 * between its parts. A build estimated at more than write-buffer-limit / 512 members that
 * is not first in its part is run again first in the next one; a smaller one stays in the
 * batch's transaction (long names can take it past the limit), and so does any build
 * inside EXEC (one transaction, atomic as a whole). A change of part of a large
 * collection (bulk_most) is made the same way: what survives is built under a fresh id,
 * then replaces the collection (db_coll_rewrite).
 *
 * What a build walks must be a bulk walk. In the writer, a walk keeps the position of
 * its last key: at a part's commit it closes its iterator and opens it again there, and
 * so it does when a growth of the map detached it (at any write of the transaction).
 *
 * Threads: the writer's (bulk_begin, bulk_step); walks work on an I/O thread's snapshot
 * too, where they never suspend.
 */
#ifndef BULK_H
#define BULK_H

#include "cmd.h"

/* Writer, before a command builds a collection of about `members` members: 1 to go on
 * (in parts if it is large), 0 if the command must return at once, having written and
 * replied nothing: the writer runs it again first in a batch part. A rebuild of what
 * survives a large change (db_coll_rewrite) passes UINT64_MAX: it always runs first in
 * its part, in parts. */
int bulk_begin(cmd_ctx *x, uint64_t members);

/* Writer: the most members of a collection a command changes in place (a removal of part
 * of it, LINSERT's or LREM's moves) before that would take more of the write buffer than
 * a transaction should (the estimate that defers a build); UINT64_MAX inside EXEC and
 * scripts (one transaction whatever its size) and off the writer. A larger change builds
 * what survives under a fresh id instead (bulk_begin, db_coll_rewrite): atomic, in parts,
 * O(survivors) instead of O(changes). */
uint64_t bulk_most(const cmd_ctx *x);
/* What a change made in place has written, against what one transaction should take:
 * bulk_most members, or write-buffer-limit / 8 bytes of their keys and values (a quarter
 * of the buffer's budget: long names reach it first); no bound inside EXEC and scripts. */
typedef struct bulk_budget {
    uint64_t n, bytes, most, most_bytes;
} bulk_budget;
/* The budget of a change by x, nothing written yet. */
bulk_budget bulk_budget_of(const cmd_ctx *x);
/* Counts one member written with `bytes` bytes of keys and values: 1 while within the
 * budget, 0 once past it. The command then takes its writes back to its savepoint
 * (cmd_take_back, set by cmd_run_writer) and builds what survives instead. */
int bulk_budget_take(bulk_budget *b, uint64_t bytes);
/* 1 if b went past its budget. */
int bulk_budget_over(const bulk_budget *b);

/* Writer, after a build's writes: commits the part if the write buffer is full (walks
 * suspended first, resumed at their next step). OX_OK or the error (x->txn is then NULL
 * if the next transaction could not begin). */
int bulk_step(cmd_ctx *x);

/* A walk over [lo, hi) of table t (lo, hi: keys, whose positions it keeps; flags:
 * OX_ITER_DESC, OX_ITER_KEYS_ONLY, BULK_EXACT), in x's transaction or on its snapshot, that
 * goes on where it was after a part's commit. Keys and values it returns are borrowed until
 * its next step, or until a part's commit (bulk_walk_again reads the last one anew).
 * BULK_EXACT: in plain byte order, long keys included (keyorder.h), where the order is the
 * reply's or a merge's. */
#define BULK_EXACT 0x100u
typedef struct db_walk db_walk;
int bulk_walk_open(cmd_ctx *x, ox_table *t, const ox_val *lo, const ox_val *hi,
                   unsigned flags, db_walk **out);
/* OX_OK with *k and *v, OX_NOTFOUND at the end, or an error. */
int bulk_walk_next(db_walk *w, ox_val *k, ox_val *v);
/* The key the last bulk_walk_next returned, read again (after a part's commit): OX_OK
 * with *k and *v, or an error. Ascending walks only. */
int bulk_walk_again(db_walk *w, ox_val *k, ox_val *v);
/* NULL is a no-op. */
void bulk_walk_close(db_walk *w);

#endif
