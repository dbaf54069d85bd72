/* repl.h — the replication stream and the master's side of replication: the backlog,
 * PSYNC and REPLCONF from replicas, a sender thread per replica, WAIT, min-replicas, and
 * the replication part of INFO and ROLE. The replica's side (its link to a master) is
 * replica.h.
 *
 * The stream is the store's log: every commit's record (ox_store_on_commit) becomes one
 * frame "*2 $7 OXAPPLY $<n> <record>" (RESP, as Redis's stream of commands is), and a
 * "*1 $4 PING" goes in every REPL_PING_S seconds while replicas are connected, and a
 * "REPLCONF GETACK *" whenever a WAIT must wait (replicas acknowledge once a second, and
 * at once after a GETACK). Offsets
 * are byte counts of the stream since its beginning, as Redis's master_repl_offset. A
 * replica applies each record in a transaction of its own store (ox_txn_apply) and, in
 * the same transaction, records the master's replication id and the offset after it.
 *
 * As in Redis, a master has a stream (and its offset moves) from its first replica on;
 * a replica always has one. The backlog keeps the newest bytes of the stream:
 * repl-backlog-size of them, and
 * farther back whatever a connected replica has not been sent yet, up to the replica
 * class's client-output-buffer-limit hard limit past repl-backlog-size (a replica left
 * farther behind is disconnected, as Redis disconnects it). A PSYNC whose offset the
 * backlog holds continues from there (+CONTINUE); any other gets a full sync
 * (+FULLRESYNC replid offset, then "$<size>\r\n" and a hot backup of the store, the file
 * itself, then the stream from the backup's offset: the backup's last commit, known by
 * its sequence number, which the backlog maps to the offset after its frame).
 *
 * A replica's own commits are not framed again: its link (replica.c) feeds the bytes it
 * applied, exactly as the master sent them, into its own backlog (repl_feed), so its
 * offsets are its master's, and after REPLICAOF NO ONE (repl_promote) the stream goes on
 * from there: replicas of the old master continue with a partial sync (PSYNC2: the old
 * replication id is kept as the second one).
 *
 * Threads: repl_on_commit runs in the committing thread (the writer) under the store's
 * write lock; repl_feed, repl_promote and repl_demote in the writer; the command handlers
 * on I/O threads; each replica has a sender thread and an ACK reader thread; one cron
 * thread pings, times WAIT out and drops silent replicas. One mutex guards the state.
 */
#ifndef REPL_H
#define REPL_H

#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "resp.h"

#define REPL_PING_S 10        /* Redis's repl-ping-replica-period default */
#define REPL_ID_LEN 40

/* Main thread, after the store opened and before the writer starts: a new replication
 * id, an empty backlog at offset `offset` (0 for a master; a replica's persisted offset),
 * the commit hook, the cron thread. 0 or -1 (logged). */
int repl_init(uint64_t offset);
/* Main thread: before the I/O threads stop, ends the cron thread (WAIT is no longer
 * answered); after the writer stopped, closes every replica link and joins the threads. */
void repl_quiesce(void);
void repl_shutdown(void);

/* The store's commit hook (writer, write lock held): as a master, frames the record into
 * the backlog; as a replica, only notes seq for repl_feed. */
void repl_on_commit(void *arg, uint64_t seq, const void *rec, size_t len);
/* Writer, after the commit of seq as a replica: appends the frames applied in it (their
 * bytes as the master sent them) to the backlog; the offset becomes `offset`. */
void repl_feed(const void *bytes, size_t len, uint64_t offset);
/* A frame's bytes: a record's is its head (written into out, its length returned), the
 * record, then "\r\n"; a PING's is REPL_PING_FRAME. */
#define REPL_PING_FRAME "*1\r\n$4\r\nPING\r\n"
#define REPL_GETACK_FRAME "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"
#define REPL_FRAME_HEAD_MAX 48
size_t repl_frame_head(char out[REPL_FRAME_HEAD_MAX], size_t reclen);

/* Writer, in order with the writes: the server becomes a master whose stream goes on from
 * its offset (the old replication id becomes the second one, good up to that offset), or
 * a replica (the hook stops framing; its own replicas are disconnected, to sync again). */
void repl_promote(void);
void repl_demote(void);
/* Writer: 1 while its commits are framed (a master), in order with the writes (unlike
 * replica_configured, which REPLICAOF changes at once). */
int repl_framing(void);
/* The replication id and offset (any thread): what PSYNC asks a new master for. */
void repl_position(char id[REPL_ID_LEN + 1], uint64_t *offset);
/* Replica (replica.c): the master's replication id. full: a full sync's, whose stream
 * starts at offset (the second id is cleared); else +CONTINUE's, or the stored one at a
 * start (a new name of the same history: the old one becomes the second id). */
void repl_reset(const char *id, uint64_t offset, int full);

/* PSYNC replid offset (and SYNC) from a replica: takes the connection (client_handoff) and
 * starts its sender. REPLCONF listening-port|ip-address|capa|ack|getack. WAIT. */
void cmd_psync(cmd_ctx *x);
void cmd_replconf(cmd_ctx *x);
void cmd_wait(cmd_ctx *x);
/* min-replicas-to-write: 1 if a write may run now, else 0 (Redis's -NOREPLICAS). */
int repl_writes_allowed(void);
/* CLIENT KILL TYPE replica: closes every replica's link. Returns how many. */
long long repl_kill_replicas(void);
/* INFO's replication section, without its title (a malloc'd string, the caller frees it;
 * NULL when out of memory),
 * and ROLE's reply: as a master, or (replica.h giving its part) as a replica. */
char *repl_info(void);
void repl_role_reply(resp_buf *out);

#endif
