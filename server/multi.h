/* multi.h — MULTI, EXEC, DISCARD and the queue of commands they work on (the client's
 * I/O thread), and EXEC's run in the writer. */
#ifndef MULTI_H
#define MULTI_H

#include "oxistore.h"
#include "resp.h"
#include "srv.h"

/* On c's thread, from dispatch, for a command that passed the lookup, arity and auth
 * checks while c is in MULTI: queues it (+QUEUED) or refuses it (no-multi commands);
 * returns 1 if it did either, 0 if the command runs now (EXEC, DISCARD, MULTI, WATCH,
 * QUIT, RESET). */
int multi_queue(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv);
/* A command of c was refused before it ran (unknown, arity, auth): if c is in MULTI,
 * EXEC will answer -EXECABORT. */
void multi_flag_error(srv_client *c);
/* EXEC refused before it ran (arity, auth): Redis 7.0 answers "-EXECABORT Transaction
 * discarded because of: <why>" and discards, watched keys included, in MULTI or not. */
void multi_exec_reject(srv_client *c, resp_buf *out, const char *why);
/* Leaves MULTI, frees the queue, and forgets c's watched keys (RESET, DISCARD, and a
 * client going away: then with gone set, nothing is sent to the writer). */
void multi_discard(srv_client *c);
/* A JOB_EXEC came back to c's thread: writes EXEC's reply (running its CMD_CLIENT
 * commands in their places). Returns 0 when the reply is complete (j is the caller's to
 * free), 1 when an asynchronous command (CLIENT LIST, CONFIG SET port…) went round the
 * I/O threads: c keeps j (exec_job), stays stalled, and client_resume finishes the reply
 * with multi_exec_resume. */
int multi_exec_done(srv_client *c, srv_job *j);
/* From client_resume, once the asynchronous command wrote its reply: goes on with the
 * EXEC's reply (0: complete, exec_job freed; 1: suspended again). */
int multi_exec_resume(srv_client *c);
/* In the writer, inside the batch's transaction: runs a JOB_EXEC. */
void multi_exec_run(srv_job *j, ox_txn *txn);
/* In the writer, after a failed commit: every reply of an EXEC job becomes msg. */
void multi_exec_fail(srv_job *j, const char *msg);

#endif
