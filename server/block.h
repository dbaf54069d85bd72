/* block.h — clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN...), Redis's blocking.c.
 *
 * Everything here is the writer thread's. A blocking command runs in the writer like any
 * write; when it finds nothing to pop (and does not run inside EXEC), it says so through
 * its cmd_ctx (block_set) and writes no reply: the writer then parks its job here instead
 * of handing it back. The client's later jobs are parked behind it (block_hold), so its
 * replies keep their order. A write that gives a list or a sorted set elements calls
 * block_signal (db.c does, in db_coll_save and db_transfer_or_reply); after each job the
 * writer calls block_serve, which runs the parked commands waiting on a signalled key
 * again, first parked first, in the same transaction: an element popped for a blocked
 * client is committed with the write that woke it, and one that no longer waits (gone,
 * served, timed out) pops nothing. Timeouts are answered by block_expire between batches.
 * A client that disconnects while parked is released by a JOB_GONE job, in the writer's
 * order. */
#ifndef BLOCK_H
#define BLOCK_H

#include "cmd.h"

/* Called by a blocking handler that found nothing: park on the keys argv[first..last]
 * (each must become a collection of `type`), until `deadline_ms` (wall clock; 0: for
 * ever), to be answered a null array at the deadline (Redis's, BLMOVE's too). The
 * handler then returns without a reply. When block_serve runs it again (x->block_retry),
 * it looks only at the key that woke it, argv[x->block_key] (db_coll_get_woken_or_reply). */
void block_set(cmd_ctx *x, int first, int last, int type, uint64_t deadline_ms);

/* Parses a blocking command's timeout (seconds, decimals allowed) into an absolute
 * deadline in ms (0: none), as Redis 7.0 does: the ms truncated to a long long, so that
 * what falls outside (inf, beyond 2^63 ms, -1 ms or less) is negative and a fraction of
 * a ms (-0.5 too) is 0. 1, or 0 after replying Redis's error. */
int block_timeout_or_reply(cmd_ctx *x, const resp_arg *a, uint64_t *deadline_ms);

/* A collection of `type` under key of database db got elements. */
void block_signal(int db, const void *key, size_t len, int type);

/* SWAPDB: every key waited on in database db may hold something now. */
void block_signal_db(int db);

/* Writer: after job j ran with ctx x: parks it if it blocked. 1 if parked. */
int block_park(srv_job *j, const cmd_ctx *x);
/* Writer: 1 if j's client is parked, or has jobs its parked command held released and
 * not yet requeued: j waits behind them (parked too), so its replies keep their order. */
int block_hold(srv_job *j);
/* Writer: runs again, in txn, the parked commands waiting on signalled keys. Those served
 * go onto *served (to be handed back with the batch), and the jobs their clients held go
 * onto *requeue (to run next). These lists link jobs through blk_next, and their jobs
 * keep parked set until the writer hands them back or requeues them. */
void block_serve(ox_txn *txn, srv_job **served, srv_job **requeue);
/* Writer (CLIENT UNBLOCK): ends the wait of client id's parked command, with a null reply
 * or (error) Redis's -UNBLOCKED error; block_serve hands it on. 1 if it was parked. */
int block_unblock(uint64_t id, int error);
/* Writer: JOB_GONE for client c: its parked job and those it held, no reply, onto *out. */
void block_gone(srv_client *c, srv_job **out);
/* Writer: answers the parked commands whose deadline passed (a null reply) onto *out,
 * their held jobs onto *requeue. Returns ms until the next deadline (UINT64_MAX: none). */
uint64_t block_expire(srv_job **out, srv_job **requeue);
/* Writer stopping: every parked job (answered null) and held one (never run: an empty
 * reply) onto *out. */
void block_release_all(srv_job **out);
/* Clients parked now (INFO blocked_clients; any thread). */
int block_count(void);

#endif
