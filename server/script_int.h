/* script_int.h — what script.c (EVAL) shares with function.c (FUNCTION, FCALL): the Lua
 * engine, its sandbox and the running of a script. Not a public header: the server's other
 * files use script.h and function.h. Threads: the writer's, as script.h says. */
#ifndef SCRIPT_INT_H
#define SCRIPT_INT_H

#include <lua.h>
#include <stdatomic.h>

#include "cmd.h"

/* One interpreter with the sandbox (script.c's header comment): EVAL's, and the
 * functions'. */
typedef struct sengine {
    lua_State *L;
    atomic_size_t mem;   /* bytes its allocator holds */
    int enforce;         /* lua-memory-limit applies (not while the sandbox is built) */
    int ref_env;         /* the globals proxy that every chunk of the engine runs in */
    int ref_envmt;       /* its metatable: __index is the table it reads through to */
    int ref_base;        /* that table: what scripts see when they run */
    int ref_errh;        /* the message handler of every call */
    int ref_own;         /* a table for the engine's owner (EVAL's cache, the libraries) */
} sengine;

/* Creates e's interpreter and sandbox. 0, or -1 (logged). */
int sengine_open(sengine *e);
/* Closes it (NULL L: no-op). */
void sengine_close(sengine *e);

/* Before a run: the reply goes into the engine's reply buffer, in out's protocol. */
void sengine_begin(resp_buf *out);
/* Inside lua_cpcall: calls the function at L's stack index fn with the nargs values above
 * it as a script named name (errors say "script: <name>, on @user_...:<line>."), for
 * x's command, read-only if ro, and writes its reply or error into the reply buffer. */
void sengine_call(sengine *e, cmd_ctx *x, int fn, int nargs, int ro, const char *name);
/* The reply buffer, for errors written before a call. */
resp_buf *sengine_reply(void);
/* Moves every pending byte of from to the end of to; from is left empty. */
void sengine_move(resp_buf *from, resp_buf *to);
/* After the lua_cpcall that returned rc: its error, if any, becomes the reply (named
 * name); collects garbage; moves the reply into out. */
void sengine_finish(sengine *e, int rc, const char *name, resp_buf *out);

/* Reads the shebang flags of s[0..len) ("#!lua flags=a,b"): SF_* into *flags and the bytes
 * before the code into *skip (its first line, without its newline, so that line numbers
 * stay right); 0, or -1 after writing Redis's error into the reply buffer. */
enum script_flags {
    SF_SHEBANG = 1u,   /* the script has a shebang (else Redis's compatibility mode) */
    SF_NO_WRITES = 2u,
    SF_ALLOW_OOM = 4u,
    SF_ALLOW_STALE = 8u,
    SF_NO_CLUSTER = 16u,
    SF_CROSS_SLOT = 32u,
};
/* What separates the words of a shebang (any space, as Redis's sdssplitargs: a CR before
 * the newline too). */
#define SHEBANG_SPACE " \t\r\n\v\f"
/* The flags' names in Redis's order, NULL-terminated: script_flag_names[i] is SF_NO_WRITES
 * << i. */
extern const char *const script_flag_names[];
/* The SF_* bit of a flag's name, 0 if none. */
unsigned script_flag_bit(const char *name);

/* Gives L back the engine's own hook (time, SCRIPT KILL), after a hook of its own. */
void sengine_rehook(lua_State *L);

/* Pushes Redis's error table for msg and raises it. */
int script_raise(lua_State *L, const char *msg);
/* Pushes an empty read-only table reading through to the table at absolute index idx. */
void script_push_proxy(lua_State *L, int idx);

/* Whether a function (2) or an EVAL script (1) runs past the threshold, for SCRIPT KILL
 * and FUNCTION KILL: script.c's kill with the kind it may end. */
int script_kill_kind(int kind);

#endif
