/* script_conv.h — replies to Lua values and back, as Redis 7.0 converts them for scripts
 * (script_lua.c): what redis.call returns to a script, and what a script's return value
 * becomes for its client.
 *
 * Threads: the thread that runs the lua_State (the writer). Each function may raise a Lua
 * error (memory): call it inside lua_pcall/lua_cpcall. They keep no state of their own.
 */
#ifndef SCRIPT_CONV_H
#define SCRIPT_CONV_H

#include <lua.h>
#include <stddef.h>

#include "resp.h"

/* Pushes the Lua value of the one reply encoded in p[0..len) (RESP2 or RESP3, as a
 * command writes it), Redis's way: integer -> number, bulk -> string, null bulk or array
 * -> false, status -> {ok=s}, error -> {err=s}, array -> table; RESP3 null -> nil, boolean
 * -> boolean, map -> {map={k=v}}, set -> {set={k=true}}, double -> {double=n}, big number
 * -> {big_number=s}, verbatim -> {verbatim_string={format=f, string=s}}, attributes
 * skipped. Returns 1 if the reply is an error. */
int sconv_push_reply(lua_State *L, const char *p, size_t len);

/* Pushes Redis's error table for s[0..len): "-CODE msg" keeps CODE, "msg" gets ERR;
 * {err="CODE msg"} without trailing CR/LF. */
void sconv_push_error(lua_State *L, const char *s, size_t len);

/* Writes the value on top of L's stack into out as a reply and pops it: string -> bulk,
 * number -> integer (truncated), true -> :1 or #t, false -> null or #f (resp: the
 * script's redis.setresp, 2 or 3), a table with err / ok / double / big_number /
 * verbatim_string / map / set -> that reply, another table -> an array up to its first
 * nil, anything else -> null. */
void sconv_write_reply(lua_State *L, resp_buf *out, int resp);

#endif
