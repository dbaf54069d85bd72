/* replica.h — a replica's side of replication: its link to the master (replicaof), the
 * full sync that loads the master's backup in place of its store, the stream applied in
 * the writer, REPLICAOF/SLAVEOF, and what INFO and ROLE say of it (repl.h is the stream
 * and the master's side).
 *
 * The link thread connects, shakes hands as a Redis replica does (PING, AUTH with
 * masterauth, REPLCONF listening-port and capa, PSYNC with the replication id and offset
 * the store holds), then:
 * - on +FULLRESYNC, receives the master's backup into "<dbfilename>.replica-sync" beside
 *   the store while reads go on from the old data (replica-serve-stale-data), and has the
 *   writer swap the store's content for it (ox_store_replace): readers see the old data,
 *   then the whole new data, never a part;
 * - on +CONTINUE, goes on from its offset;
 * - then parses the stream and queues each frame to the writer as a job (JOB_REPL), which
 *   applies the records in batches, each commit holding, in the table "repl", the master's
 *   replication id and the offset after its last frame: a restart resumes from there with
 *   a partial sync. It acknowledges the offset it holds (REPLCONF ACK) every second, and
 *   as soon as it committed what came before a REPLCONF GETACK of the master (WAIT).
 * A dropped link is retried every second; before it asks for a partial sync it waits for
 * the writer to have applied what it queued, so the offset it asks from is the store's.
 *
 * Threads: replica_init and replica_start/stop on the main thread; cmd_replicaof on an I/O
 * thread; replica_job, replica_load and the batch hooks in the writer; the link thread. */
#ifndef REPLICA_H
#define REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "job.h"

/* Main thread, after the store opened and before the writer starts: reads the stored
 * replication state and starts the stream (repl_init) at its offset if this server is a
 * replica; a master forgets a stored state (it no longer follows anybody's stream). 0 or
 * -1 (logged). */
int replica_init(void);
/* Main thread: starts the link thread (after the writer), stops it (before the writer;
 * again is a no-op). */
int replica_start(void);
void replica_stop(void);
/* Main thread, after the writer stopped: frees what the writer's side held. */
void replica_fini(void);

/* Any thread: 1 while this server is a replica (replicaof set), else 0. */
int replica_configured(void);
/* 1 while the link is up and synced. */
int replica_link_up(void);
/* 1 if clients' writes are refused: a replica with replica-read-only yes. */
int replica_refuses_writes(void);

/* REPLICAOF host port | NO ONE, and SLAVEOF. */
void cmd_replicaof(cmd_ctx *x);
/* CLIENT KILL TYPE master: drops the link (it reconnects). Returns 1 or 0. */
long long replica_kill_link(void);
/* INFO's replica lines (role:slave up to replica_announced), into buf. */
void replica_info(char *buf, size_t cap);
/* ROLE as a replica. */
void replica_role_reply(resp_buf *out);

/* Writer: 1 if a client's job must not run because this server became a replica after
 * the job was admitted (a write, or an EXEC holding one): its reply is -READONLY. The I/O
 * threads refuse writes as soon as REPLICAOF returns; this closes the window of the
 * writes already on their way, which would otherwise be in no master's stream. */
int replica_refuses_job(const srv_job *j);
/* Writer (a script's redis.call too): 1 if writes are refused in the writer's order: a
 * replica-read-only server whose commits are not framed (a replica, as of the role
 * changes the writer has run). */
int replica_writer_refuses(void);
/* Writer: a JOB_REPL in the batch's transaction (NULL: the batch failed already). Frames
 * of a link whose commit failed are dropped (it starts again). OX_OK or the store's error
 * (the batch then fails). */
int replica_job(srv_job *j, ox_txn *txn);
/* Writer: a full sync's load (JOB_REPL whose repl_op is REPL_OP_LOAD), outside any
 * transaction: the first job of a batch (writer.c runs it before the batch). */
void replica_load(srv_job *j);
/* Writer, around the batch's commit: records the offset in the transaction and marks what
 * must be reloaded (precommit; OX_OK or the store's error), then feeds the backlog,
 * reloads, and acknowledges (postcommit). */
int replica_precommit(ox_txn *txn);
void replica_postcommit(int committed_ok);

/* JOB_REPL's operations (srv_job.repl_op). */
enum { REPL_OP_APPLY, REPL_OP_PING, REPL_OP_LOAD, REPL_OP_PROMOTE, REPL_OP_DEMOTE };

#endif
