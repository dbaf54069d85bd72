/* script.h — Lua scripts: EVAL and its kin, run whole in the writer thread.
 *
 * Threads. One Lua interpreter, created by script_init on the main thread before the
 * writer starts and used by the writer alone from then on: script_run, script_load,
 * script_exists and script_flush are the writer's (the commands that call them run there:
 * CMD_WRITE or CMD_WATCH). script_busy, script_kill, script_shutdown and the INFO
 * figures are for any thread: they read or change one atomic word.
 *
 * A script runs inside the writer's batch transaction, like an EXEC: its commands run back
 * to back, no other client's in between, and its writes commit with the batch, so its
 * reply leaves only once they are durable. A script that fails midway keeps what it wrote
 * before the error, as in Redis.
 *
 * Errors are replies: every function here that answers writes exactly one reply into the
 * command's output, Redis 7.0's text included.
 */
#ifndef SCRIPT_H
#define SCRIPT_H

#include <stddef.h>

#include "cmd.h"

/* Creates the interpreter and its sandbox. 0, or -1 (logged). */
int script_init(void);
/* Closes it (after the writer stopped). */
void script_fini(void);

/* EVAL, EVALSHA, EVAL_RO, EVALSHA_RO in the writer (x->txn set): runs the script named
 * by x->argv[1] (its body, or its SHA-1 when by_sha) with numkeys keys and the rest as
 * arguments (x->argv[3 ..]; checked by the caller), read-only if ro. */
void script_run(cmd_ctx *x, int by_sha, int ro, int numkeys);
/* SCRIPT LOAD body: compiles and caches it; replies its SHA-1 or the compile error. */
void script_load(cmd_ctx *x, const resp_arg *body);
/* SCRIPT EXISTS sha...: replies an array of 1/0. */
void script_exists(cmd_ctx *x);
/* SCRIPT FLUSH: forgets every cached script and starts a fresh interpreter. */
void script_flush(void);

/* Any thread: 1 while an EVAL script, 2 while a function has run longer than
 * busy-reply-threshold (others then get -BUSY), else 0. */
int script_busy(void);
/* What the others get meanwhile (Redis's text, which names SCRIPT KILL or FUNCTION KILL). */
const char *script_busy_error(void);
/* Any thread, SCRIPT KILL: 0 (the script will end with an error at its next step),
 * SCRIPT_NOTBUSY (no script past the threshold), SCRIPT_UNKILLABLE (it has written) or
 * SCRIPT_WRONGKIND (a function runs: FUNCTION KILL ends those, function.h). */
enum { SCRIPT_NOTBUSY = 1, SCRIPT_UNKILLABLE = 2, SCRIPT_WRONGKIND = 3 };
int script_kill(void);
/* Any thread, SHUTDOWN NOSAVE while busy: the script ends at its next step, and the writer
 * drops its batch instead of committing it (script_dropped). */
void script_shutdown(void);
/* Main thread, once a shutdown began (signal or SHUTDOWN): ends the running script as
 * script_shutdown does, and no script starts from then on (its reply says so), so that
 * the writer's last batches cannot hang the exit on a script that never ends. */
void script_stop(void);
/* Writer, before a batch commits: 1 if a script of it was ended by SHUTDOWN NOSAVE (then
 * the batch must not commit); the mark is cleared. */
int script_dropped(void);

/* Any thread (INFO): bytes the interpreter holds, and the cached scripts. */
size_t script_memory(void);
size_t script_count(void);

#endif
