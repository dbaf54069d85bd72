/* lualibs.h — the two script libraries Redis 7.0 gives Lua that Debian's Lua 5.1 does
 * not package, written for oxistore: cmsgpack (MessagePack, lua_cmsgpack.c) and struct
 * (binary packing, lua_struct.c). Scripts see the bytes, results and error texts they
 * see under Redis 7.0 (checked against redis-server 7.0.15); each file's header comment
 * says where and why it departs.
 *
 * Caveats (the rules of use):
 * - A luaopen_* function pushes one new table holding the library and returns 1 (the
 *   lua_CFunction convention). It sets no global and leaves package.loaded alone: the
 *   caller names the table, e.g. lua_setglobal(L, "cmsgpack"), as Redis scripts expect
 *   the globals `cmsgpack` and `struct`.
 * - Threads: no global or static mutable state. Everything runs in the thread that owns
 *   L, and a lua_State is used by one thread at a time; states in different threads
 *   are independent.
 * - Errors are Lua errors (lua_error's longjmp): call the library's functions only
 *   under lua_pcall, as script execution does. An error leaks nothing.
 * - Ownership: every allocation goes through L's allocator and belongs to L's garbage
 *   collector (the encoder's buffer is a userdata); nothing outlives lua_close(L).
 *   Arguments are borrowed; results are new Lua values.
 * - Untrusted input: unpack reads only inside the string it is given, whatever
 *   lengths and counts that string claims, and checks the Lua stack before each push.
 */
#ifndef LUALIBS_H
#define LUALIBS_H

#include <lua.h>

/* Pushes the cmsgpack table: pack(...), unpack(s), unpack_one(s [, offset]),
 * unpack_limit(s, limit [, offset]), and the fields _NAME, _VERSION, _COPYRIGHT and
 * _DESCRIPTION that Redis's has. Returns 1. Raises a memory error if L cannot allocate. */
int luaopen_cmsgpack(lua_State *L);

/* Pushes the struct table: pack(fmt, ...), unpack(fmt, s [, pos]) (the values, then the
 * position after the last byte read), size(fmt). Returns 1. Raises a memory error if L
 * cannot allocate. */
int luaopen_struct(lua_State *L);

#endif
