/* function.h — Redis 7.0's functions: libraries of Lua functions loaded with FUNCTION
 * LOAD, called with FCALL and FCALL_RO, and kept in the store (the table "functions":
 * library name -> its code), so that they survive a restart.
 *
 * Threads. The functions have their own interpreter (script_int.h), the writer's like
 * EVAL's: function_init loads the stored libraries on the main thread before the writer
 * starts; FCALL and FUNCTION LOAD, DELETE, FLUSH, RESTORE, LIST and DUMP run in the writer
 * (their commands are CMD_WRITE or CMD_WATCH). function_stats and the counts are for any
 * thread.
 *
 * Durability. A change of the libraries is written into the batch's transaction, so it is
 * durable when its reply leaves; if that commit fails, function_batch_end reloads the
 * libraries from the store, and the interpreter again holds what is stored.
 *
 * Every function here that answers writes exactly one reply into x->out.
 */
#ifndef FUNCTION_H
#define FUNCTION_H

#include <stddef.h>

#include "cmd.h"

/* Opens the "functions" table and loads every stored library (a library that no longer
 * loads is logged and skipped). 0, or -1 (logged). After script_init. */
int function_init(void);
void function_fini(void);

/* FCALL / FCALL_RO in the writer: argv[1] the function, then numkeys (checked by the
 * caller) keys from argv[3], then the arguments. */
void function_call(cmd_ctx *x, int ro, int numkeys);
/* Writer: 1 if a function of that name (any case) is loaded. */
int function_exists(const resp_arg *name);
/* FUNCTION LOAD [REPLACE] code, in the writer. */
void function_load(cmd_ctx *x);
/* FUNCTION DELETE name / FLUSH [ASYNC|SYNC] / LIST [WITHCODE] [LIBRARYNAME pattern] /
 * DUMP / RESTORE payload [FLUSH|APPEND|REPLACE], in the writer. */
void function_delete(cmd_ctx *x);
void function_flush(cmd_ctx *x);
void function_list(cmd_ctx *x);
void function_dump(cmd_ctx *x);
void function_restore(cmd_ctx *x);
/* Writer, after each batch's commit (ok: it committed). */
void function_batch_end(int ok);
/* Writer: the stored libraries changed behind the engine's back (a replica applied its
 * master's FUNCTION LOAD, or loaded a full sync): function_batch_end reloads them. */
void function_stored_changed(void);

/* Any thread: FUNCTION STATS's reply. */
void function_stats(resp_buf *out);
/* Any thread (INFO): the libraries, the functions, and the bytes their interpreter holds. */
size_t function_libraries(void);
size_t function_count(void);
size_t function_memory(void);

#endif
