/* script.c — the Lua interpreter of EVAL and its kin (Redis 7.0's eval.c and
 * script_lua.c), in the writer thread (script.h).
 *
 * A script is compiled once, named by the SHA-1 of its body, and kept until SCRIPT FLUSH.
 * It runs inside the writer's batch transaction: redis.call runs the command's handler
 * right there (cmd_call, as EXEC runs its queue), its reply is read back into Lua values
 * (script_conv.c), and the script's return value becomes its client's reply.
 *
 * The sandbox. Redis patches its Lua to make tables read-only; Debian's Lua 5.1 is stock,
 * so a script sees proxies instead: its globals are an empty table whose metatable reads
 * through to the allowed names (Redis's error for any other) and refuses every write, and
 * each library (string, table, math, coroutine, cjson, bit, struct, cmsgpack, redis) is an
 * empty table of the same kind over the real one. rawset refuses them, their metatables
 * are hidden (__metatable), and nothing a script can reach leads to the real globals:
 * getfenv and setfenv are left out, and so are load and loadstring (they load bytecode,
 * a known way out of Lua 5.1's sandbox). So no script can leave anything behind for the
 * next one. next and pairs see through the proxies.
 *
 * Time and SCRIPT KILL. A count hook (every 100000 instructions, inherited by coroutines)
 * and every redis.call look at the clock and at ctl: past busy-reply-threshold the script
 * is marked busy, so that the I/O threads answer -BUSY to other clients; SCRIPT KILL (any
 * thread) sets a kill bit unless the script has written, atomically against its first
 * write, and the hook then raises an error at every instruction until the script ends.
 *
 * Memory. The interpreter's allocator counts what it holds: past lua-memory-limit an
 * allocation fails, and the script (or SCRIPT LOAD) gets Lua's "not enough memory". Every
 * call into Lua from C is protected (lua_cpcall): an error there never reaches Lua's panic.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "log.h"
#include "lualibs.h"
#include "repl.h"
#include "replica.h"
#include "script.h"
#include "script_conv.h"
#include "script_int.h"
#include "sha1.h"
#include "util.h"

#define HOOK_COUNT 100000

enum ctl_bits {
    CTL_RUNNING = 1u,  /* a script runs */
    CTL_BUSY = 2u,     /* past busy-reply-threshold */
    CTL_WROTE = 4u,    /* it ran a write command: SCRIPT KILL may not end it */
    CTL_KILL = 8u,     /* SCRIPT KILL: it ends at its next step */
    CTL_SHUTDOWN = 16u, /* SHUTDOWN NOSAVE: it ends, and its batch is dropped */
    CTL_FUNCTION = 32u  /* the script is a function (FCALL), not an EVAL */
};

const char *const script_flag_names[] = {"no-writes", "allow-oom", "allow-stale", "no-cluster",
                                        "allow-cross-slot-keys", NULL};

static struct {
    sengine ev;            /* EVAL's interpreter; its ref_own: sha -> {function, flags} */
    atomic_uint ctl;       /* enum ctl_bits */
    atomic_size_t count;   /* cached scripts */
    int dropped;           /* a script ended by SHUTDOWN NOSAVE since script_dropped */
    atomic_int stopping;   /* the server is going away: no script starts */
    /* The run (the writer's; x NULL between runs). */
    cmd_ctx *x;
    int dbi, resp, ro;
    const char *name;      /* the SHA-1 of an EVAL script, a function's name */
    uint64_t start_ms;
    uint64_t rand48;
    resp_buf *tmp;         /* a command's reply */
    resp_buf *reply;       /* the script's reply, until it is whole */
    char *bytes;           /* tmp's bytes in one piece */
    size_t bytes_cap;
    resp_arg *argv;        /* a command's arguments */
    size_t argv_cap;
} S;

/* ---- memory ------------------------------------------------------------------------ */

/* Each engine's allocator (ud: the sengine) counts what it holds; lua-memory-limit bounds
 * each. Only the writer allocates: the count is atomic for INFO's readers. */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sengine *e = ud;
    size_t mem = atomic_load_explicit(&e->mem, memory_order_relaxed);
    if (nsize == 0) {
        free(ptr);
        atomic_store_explicit(&e->mem, mem - osize, memory_order_relaxed);
        return NULL;
    }
    if (e->enforce && nsize > osize &&
        mem + (nsize - osize) > (size_t)srv.cfg.lua_memory_limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        atomic_store_explicit(&e->mem, mem - osize + nsize, memory_order_relaxed);
    return p;
}

static int l_panic(lua_State *L)
{
    srv_log(SRV_LOG_WARNING, "Lua error outside a protected call: %s", lua_tostring(L, -1));
    abort();
}

/* ---- errors ------------------------------------------------------------------------ */

int script_raise(lua_State *L, const char *msg)
{
    sconv_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* The message handler of every script call, as Redis's __redis__err__handler: a string
 * error becomes {err="ERR <it>"}, and the error gets the source and line of the Lua code
 * that raised it (that of its caller when a C function such as redis.call did). */
static int l_errh(lua_State *L)
{
    lua_Debug ar;
    int have = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar);
    if (have && !strcmp(ar.what, "C"))
        have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "Sl", &ar);
    if (lua_type(L, 1) != LUA_TTABLE) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "ERR ");
        switch (lua_type(L, 1)) {
        case LUA_TSTRING:
        case LUA_TNUMBER:
            lua_pushvalue(L, 1);
            luaL_addvalue(&b);
            break;
        case LUA_TNIL:
            luaL_addstring(&b, "nil");
            break;
        case LUA_TBOOLEAN:
            luaL_addstring(&b, lua_toboolean(L, 1) ? "true" : "false");
            break;
        default:
            lua_pushfstring(L, "%s: %p", luaL_typename(L, 1), lua_topointer(L, 1));
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        lua_createtable(L, 0, 3);
        lua_insert(L, -2);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
    }
    if (have) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    lua_settop(L, 1);
    return 1;
}

/* Redis's pcall: an error table with an err string is returned as that string. */
static int l_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int argc = lua_gettop(L);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

/* ---- the sandbox ------------------------------------------------------------------- */

static int l_readonly(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

static int l_noglobal(lua_State *L)
{
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

/* 1 if the table at idx is one of the sandbox's proxies. */
static int is_proxy(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_getfield(L, -1, "__ox_readonly");
    int ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return ro;
}

/* Redis's error for a change of a read-only table through a function (no position). */
static int readonly_error(lua_State *L)
{
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

static int l_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_proxy(L, 1))
        return readonly_error(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Lua's setmetatable (its checks and errors), but not on a proxy. */
static int l_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (is_proxy(L, 1))
        return readonly_error(L);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (luaL_getmetafield(L, 1, "__metatable"))
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* table.insert writes raw: on a proxy it is refused as rawset is (the real function is
 * upvalue 1). remove and sort write nothing into an empty table, which a proxy is. */
static int l_table_writer(lua_State *L)
{
    if (lua_istable(L, 1) && is_proxy(L, 1))
        return readonly_error(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* bit.tohex, as LuaBitOp's with the fix of CVE-2024-31449 that Redis carries (Debian's
 * lua-bitop lacks it: n = INT32_MIN overran its buffer). */
static int l_tohex(lua_State *L)
{
    union {
        lua_Number n;
        uint64_t b;
    } x, y;
    x.n = luaL_checknumber(L, 1) + 6755399441055744.0; /* LuaBitOp's argument rounding */
    uint32_t b = (uint32_t)x.b;
    int32_t n = 8;
    if (!lua_isnone(L, 2)) {
        y.n = luaL_checknumber(L, 2) + 6755399441055744.0;
        n = (int32_t)(uint32_t)y.b;
    }
    const char *digits = "0123456789abcdef";
    if (n == INT32_MIN)
        n = INT32_MIN + 1;
    if (n < 0) {
        n = -n;
        digits = "0123456789ABCDEF";
    }
    if (n > 8)
        n = 8;
    char buf[8];
    for (int i = n - 1; i >= 0; i--, b >>= 4)
        buf[i] = digits[b & 15];
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

/* next and pairs see through a proxy to the table it reads (pairs(string) lists the
 * string library, pairs(_G) the globals). */
static int l_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (is_proxy(L, 1) && lua_getmetatable(L, 1)) {
        lua_getfield(L, -1, "__index");
        if (lua_istable(L, -1))
            lua_replace(L, 1);
    }
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int l_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushcfunction(L, l_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

void script_push_proxy(lua_State *L, int idx)
{
    lua_newtable(L);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__ox_readonly");
    lua_setmetatable(L, -2);
}

/* ---- math.random: POSIX rand48, seeded with 0 at each script's start ---------------- */

static uint32_t rand48_next(void)
{
    S.rand48 = (S.rand48 * 0x5DEECE66DULL + 0xB) & ((1ULL << 48) - 1);
    return (uint32_t)(S.rand48 >> 17);
}

static void rand48_seed(int32_t seed)
{
    S.rand48 = ((uint64_t)(uint32_t)seed << 16) | 0x330E;
}

/* Lua's own math.random over rand48, as Redis's. */
static int l_random(lua_State *L)
{
    lua_Number r = (lua_Number)(rand48_next() % INT32_MAX) / (lua_Number)INT32_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1), u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int l_randomseed(lua_State *L)
{
    rand48_seed((int32_t)luaL_checkint(L, 1));
    return 0;
}

/* ---- time and kill ----------------------------------------------------------------- */

/* Once killed, the hook fires at every instruction: a script that catches the error with
 * pcall meets it again at once. */
static void l_hook(lua_State *L, lua_Debug *ar);

static int raise_killed(lua_State *L)
{
    lua_sethook(L, l_hook, LUA_MASKCOUNT, 1);
    return script_raise(L, "Script killed by user with SCRIPT KILL...");
}

/* Marks the script busy once past the threshold; 1 if it must end now. */
static int must_end(void)
{
    unsigned ctl = atomic_load(&S.ctl);
    if (!(ctl & CTL_BUSY)) {
        long long limit = srv.cfg.busy_reply_threshold;
        uint64_t ran = srv_monotonic_ms() - S.start_ms;
        if (limit > 0 && ran >= (uint64_t)limit) {
            atomic_fetch_or(&S.ctl, CTL_BUSY);
            srv_log(SRV_LOG_WARNING, "Slow script detected: still in execution after %llu "
                    "milliseconds. You can try killing the script using the %s "
                    "command. Script name is: %s.", (unsigned long long)ran,
                    ctl & CTL_FUNCTION ? "FUNCTION KILL" : "SCRIPT KILL", S.name);
        }
    }
    return (ctl & (CTL_KILL | CTL_SHUTDOWN)) != 0;
}

static void l_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (S.x && must_end())
        raise_killed(L);
}

/* Before a write: marks the script as having written, unless a kill came first. */
static int mark_write(void)
{
    unsigned v = atomic_load(&S.ctl);
    for (;;) {
        if (v & (CTL_KILL | CTL_SHUTDOWN))
            return -1;
        if ((v & CTL_WROTE) || atomic_compare_exchange_weak(&S.ctl, &v, v | CTL_WROTE))
            return 0;
    }
}

/* ---- redis.* ----------------------------------------------------------------------- */

/* The reply in S.tmp, in one piece (S.bytes). */
static const char *tmp_bytes(size_t *len)
{
    size_t total = resp_buf_pending(S.tmp), off = 0;
    if (total + 1 > S.bytes_cap) {
        free(S.bytes);
        S.bytes_cap = total + 1;
        S.bytes = srv_xmalloc(S.bytes_cap);
    }
    while (off < total) {
        struct iovec iov[64];
        size_t n = 0;
        int cnt = resp_buf_iov(S.tmp, iov, 64, &n);
        if (cnt <= 0)
            break;
        for (int i = 0; i < cnt; i++) {
            memcpy(S.bytes + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
        resp_buf_consume(S.tmp, n);
    }
    resp_buf_reset(S.tmp);
    *len = off;
    return S.bytes;
}

/* The command a script asked for, or NULL after pushing the error. */
static const cmd_def *lookup(lua_State *L, int argc)
{
    const cmd_def *d = cmd_lookup(&S.argv[0]);
    if (d && (d->flags & CMD_SUBS))
        d = argc >= 2 ? cmd_lookup_sub(d, &S.argv[1]) : d;
    const char *err = NULL;
    if (!d)
        err = "Unknown Redis command called from script";
    else if (!cmd_arity_ok(d, argc))
        err = "Wrong number of args calling Redis command from script";
    else if (cmd_rflag(d, "noscript") || ((d->flags & CMD_CLIENT) && !(d->flags & CMD_SCRIPT)))
        err = "This Redis command is not allowed from script";
    else if (S.ro && ((d->flags & CMD_WRITE) || d->fn == cmd_publish || d->fn == cmd_spublish))
        err = "Write commands are not allowed from read-only scripts."; /* PUBLISH: Redis's
                                                                           may_replicate */
    else if ((d->flags & CMD_WRITE) && replica_writer_refuses())
        err = "-READONLY You can't write against a read only replica.";
    else if ((d->flags & CMD_WRITE) && !replica_configured() && !repl_writes_allowed())
        err = "-NOREPLICAS Not enough good replicas to write."; /* as Redis's scripts */
    if (err) {
        sconv_push_error(L, err, strlen(err));
        return NULL;
    }
    return d;
}

static int redis_call(lua_State *L, int raise)
{
    if (!S.x)
        return script_raise(L, "redis.call/pcall can only be called inside a script invocation");
    int argc = lua_gettop(L);
    if (argc == 0) {
        sconv_push_error(L, "Please specify at least one argument for this redis lib call", 60);
        return raise ? lua_error(L) : 1;
    }
    /* Numbers as "%.17g" (Lua's own "%.14g" loses precision); anything else refused. */
    for (int i = 1; i <= argc; i++) {
        int t = lua_type(L, i);
        if (t == LUA_TNUMBER) {
            char num[64];
            snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, i));
            lua_pushstring(L, num);
            lua_replace(L, i);
        } else if (t != LUA_TSTRING) {
            sconv_push_error(L, "Lua redis lib command arguments must be strings or integers",
                             59);
            return raise ? lua_error(L) : 1;
        }
    }
    if ((size_t)argc > S.argv_cap) {
        free(S.argv);
        S.argv_cap = (size_t)argc;
        S.argv = srv_xmalloc(S.argv_cap * sizeof *S.argv);
    }
    for (int i = 0; i < argc; i++)
        S.argv[i].ptr = lua_tolstring(L, i + 1, &S.argv[i].len);
    if (must_end())
        return raise_killed(L);
    const cmd_def *d = lookup(L, argc);
    if (!d)
        return raise ? lua_error(L) : 1;
    if ((d->flags & CMD_WRITE) && mark_write())
        return raise_killed(L);
    resp_buf_reset(S.tmp);
    resp_buf_set_proto(S.tmp, S.resp);
    cmd_ctx y = {.argc = argc, .argv = S.argv, .out = S.tmp, .dbi = S.dbi,
                 .table = srv.db[S.dbi], .txn = S.x->txn, .cmd = d, .job = S.x->job,
                 .in_exec = 1, .in_script = 1};
    cmd_call(&y);
    S.dbi = y.dbi; /* SELECT changes the script's database, for the rest of it */
    size_t len;
    const char *bytes = tmp_bytes(&len);
    int is_err = sconv_push_reply(L, bytes, len);
    if (S.bytes_cap > (1u << 20)) { /* a large reply: do not keep its room */
        free(S.bytes);
        S.bytes = NULL;
        S.bytes_cap = 0;
    }
    return is_err && raise ? lua_error(L) : 1;
}

static int l_call(lua_State *L) { return redis_call(L, 1); }
static int l_pcall_cmd(lua_State *L) { return redis_call(L, 0); }

static int l_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return script_raise(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1_hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        sconv_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    const char *e = lua_tostring(L, 1); /* up to a NUL, as Redis's sdsnew */
    if (e[0] == '-') {
        sconv_push_error(L, e, strlen(e));
    } else {
        lua_pushfstring(L, "-%s", e);
        sconv_push_error(L, lua_tostring(L, -1), strlen(lua_tostring(L, -1)));
    }
    return 1;
}

static int l_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        sconv_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int l_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return script_raise(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return script_raise(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < SRV_LOG_DEBUG || level > SRV_LOG_WARNING)
        return script_raise(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2, first = 1; i <= argc; i++) {
        if (!lua_isstring(L, i))
            continue;
        if (!first)
            luaL_addchar(&b, ' ');
        lua_pushvalue(L, i);
        luaL_addvalue(&b);
        first = 0;
    }
    luaL_pushresult(&b);
    srv_log(level, "%s", lua_tostring(L, -1));
    return 0;
}

static int l_setresp(lua_State *L)
{
    if (!S.x)
        return script_raise(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return script_raise(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return script_raise(L, "RESP version must be 2 or 3.");
    S.resp = resp;
    return 0;
}

/* Effects replication has no meaning yet (no replicas): the flags are checked only. */
static int l_set_repl(lua_State *L)
{
    if (!S.x)
        return script_raise(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return script_raise(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, -1);
    if (flags & ~3)
        return script_raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, "
                              "REPL_ALL or REPL_NONE.");
    return 0;
}

static int l_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int l_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int l_debug(lua_State *L)
{
    (void)L;
    return 0;
}

/* There are no ACL users: every known command is allowed. */
static int l_acl_check_cmd(lua_State *L)
{
    if (!S.x)
        return script_raise(L, "redis.acl_check_cmd can only be called inside a script "
                              "invocation");
    int argc = lua_gettop(L);
    if (argc == 0)
        return script_raise(L, "Please specify at least one argument for this redis lib call");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    resp_arg name = {.ptr = s ? s : "", .len = s ? len : 0};
    const cmd_def *d = cmd_lookup(&name);
    if (d && (d->flags & CMD_SUBS) && argc >= 2) {
        const char *sub = lua_tolstring(L, 2, &len);
        resp_arg a = {.ptr = sub ? sub : "", .len = sub ? len : 0};
        d = cmd_lookup_sub(d, &a);
    }
    if (!d)
        return script_raise(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, 1);
    return 1;
}

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_fn(lua_State *L, const char *k, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, k);
}

/* Pushes the redis table. */
static void push_redis_api(lua_State *L)
{
    lua_newtable(L);
    set_fn(L, "call", l_call);
    set_fn(L, "pcall", l_pcall_cmd);
    set_fn(L, "log", l_log);
    set_num(L, "LOG_DEBUG", SRV_LOG_DEBUG);
    set_num(L, "LOG_VERBOSE", SRV_LOG_VERBOSE);
    set_num(L, "LOG_NOTICE", SRV_LOG_NOTICE);
    set_num(L, "LOG_WARNING", SRV_LOG_WARNING);
    unsigned maj = 0, min = 0, pat = 0;
    sscanf(SRV_REDIS_VERSION, "%u.%u.%u", &maj, &min, &pat);
    set_num(L, "REDIS_VERSION_NUM", (maj << 16) | (min << 8) | pat);
    lua_pushstring(L, SRV_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_fn(L, "setresp", l_setresp);
    set_fn(L, "sha1hex", l_sha1hex);
    set_fn(L, "error_reply", l_error_reply);
    set_fn(L, "status_reply", l_status_reply);
    set_fn(L, "set_repl", l_set_repl);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", 1);
    set_num(L, "REPL_SLAVE", 2);
    set_num(L, "REPL_REPLICA", 2);
    set_num(L, "REPL_ALL", 3);
    set_fn(L, "replicate_commands", l_replicate_commands);
    set_fn(L, "breakpoint", l_breakpoint);
    set_fn(L, "debug", l_debug);
    set_fn(L, "acl_check_cmd", l_acl_check_cmd);
}

/* The globals a script may read, besides the libraries: Redis 7.0's, less load,
 * loadstring, getfenv and setfenv (see the top of this file). */
static const char *const builtins[] = {
    "assert", "collectgarbage", "error", "gcinfo", "getmetatable", "ipairs", "rawequal",
    "rawget", "select", "tonumber", "tostring", "type", "unpack", "xpcall", "_VERSION", NULL,
};

static const struct {
    const char *name;
    lua_CFunction open;
} libs[] = {
    {"table", luaopen_table},   {"string", luaopen_string},     {"math", luaopen_math},
    {"cjson", luaopen_cjson},   {"bit", luaopen_bit},           {"struct", luaopen_struct},
    {"cmsgpack", luaopen_cmsgpack},
};

/* Builds the sandbox in a fresh state (protected: lua_cpcall). */
static int p_build(lua_State *L)
{
    lua_pushcfunction(L, luaopen_base);
    lua_pushstring(L, "");
    lua_call(L, 1, 0);
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        lua_pushcfunction(L, libs[i].open);
        lua_pushstring(L, libs[i].name);
        lua_call(L, 1, 1);
        lua_setglobal(L, libs[i].name);
    }
    lua_getglobal(L, "math");
    set_fn(L, "random", l_random);
    set_fn(L, "randomseed", l_randomseed);
    lua_pop(L, 1);
    lua_getglobal(L, "bit");
    set_fn(L, "tohex", l_tohex);
    lua_pop(L, 1);
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "insert");
    lua_pushcclosure(L, l_table_writer, 1);
    lua_setfield(L, -2, "insert");
    lua_pop(L, 1);
    push_redis_api(L);
    lua_setglobal(L, "redis");

    /* base: what the globals proxy reads through to; its own misses raise the error. */
    lua_newtable(L);
    int base = lua_gettop(L);
    for (int i = 0; builtins[i]; i++) {
        lua_getglobal(L, builtins[i]);
        lua_setfield(L, base, builtins[i]);
    }
    set_fn(L, "pcall", l_pcall);
    set_fn(L, "rawset", l_rawset);
    set_fn(L, "next", l_next);
    set_fn(L, "pairs", l_pairs);
    set_fn(L, "setmetatable", l_setmetatable);
    static const char *const proxied[] = {"table", "string", "math", "cjson", "bit", "struct",
                                          "cmsgpack", "coroutine", "redis", NULL};
    for (int i = 0; proxied[i]; i++) {
        lua_getglobal(L, proxied[i]);
        script_push_proxy(L, lua_gettop(L));
        lua_setfield(L, base, proxied[i]);
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_noglobal);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, base);
    /* ("s"):upper() goes through the string metatable, whose __index is the real string
     * table: getmetatable("") shows a read-only table whose __index is the proxy. */
    lua_pushstring(L, "");
    lua_getmetatable(L, -1);
    lua_createtable(L, 0, 1);
    lua_getfield(L, base, "string");
    lua_setfield(L, -2, "__index");
    script_push_proxy(L, lua_gettop(L));
    lua_setfield(L, -3, "__metatable");
    lua_pop(L, 3);
    /* the globals proxy, whose metatable's __index says what it reads through to */
    script_push_proxy(L, base);
    lua_pushvalue(L, -1);
    lua_setfield(L, base, "_G");
    sengine *e = lua_touserdata(L, 1);
    lua_getmetatable(L, -1);
    e->ref_envmt = luaL_ref(L, LUA_REGISTRYINDEX);
    e->ref_env = luaL_ref(L, LUA_REGISTRYINDEX);
    e->ref_base = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    e->ref_own = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, l_errh);
    e->ref_errh = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int sengine_open(sengine *e)
{
    atomic_store(&e->mem, 0);
    e->enforce = 0;
    e->L = lua_newstate(l_alloc, e);
    if (!e->L)
        return -1;
    lua_atpanic(e->L, l_panic);
    if (lua_cpcall(e->L, p_build, e)) {
        srv_log(SRV_LOG_WARNING, "Lua: %s", lua_tostring(e->L, -1));
        lua_close(e->L);
        e->L = NULL;
        return -1;
    }
    lua_sethook(e->L, l_hook, LUA_MASKCOUNT, HOOK_COUNT);
    e->enforce = 1;
    return 0;
}

void sengine_rehook(lua_State *L)
{
    lua_sethook(L, l_hook, LUA_MASKCOUNT, HOOK_COUNT);
}

void sengine_close(sengine *e)
{
    if (e->L)
        lua_close(e->L);
    e->L = NULL;
}

int script_init(void)
{
    if (resp_buf_new(&S.tmp, 2, NULL) || resp_buf_new(&S.reply, 2, NULL))
        return -1;
    return sengine_open(&S.ev);
}

void script_fini(void)
{
    sengine_close(&S.ev);
    resp_buf_free(S.tmp);
    resp_buf_free(S.reply);
    free(S.bytes);
    free(S.argv);
    S.tmp = S.reply = NULL;
    S.bytes = NULL;
    S.argv = NULL;
    S.bytes_cap = S.argv_cap = 0;
}

void script_flush(void)
{
    sengine_close(&S.ev);
    atomic_store(&S.count, 0);
    if (sengine_open(&S.ev))
        abort(); /* the server may abort when it cannot allocate */
}

/* ---- running (EVAL's and the functions') ------------------------------------------- */

resp_buf *sengine_reply(void)
{
    return S.reply;
}

void sengine_begin(resp_buf *out)
{
    resp_buf_reset(S.reply);
    resp_buf_set_proto(S.reply, resp_buf_proto(out));
}

/* Pushes t[k] (t at idx, read raw) and returns it if it is a string or a number formatted
 * beforehand (the line is a number: l_errh stores it as one), else NULL. */
static const char *raw_string(lua_State *L, int idx, const char *k)
{
    lua_pushstring(L, k);
    lua_rawget(L, idx < 0 ? idx - 1 : idx);
    if (lua_type(L, -1) == LUA_TSTRING)
        return lua_tostring(L, -1);
    if (lua_type(L, -1) == LUA_TNUMBER) {
        char num[32];
        snprintf(num, sizeof num, "%.14g", (double)lua_tonumber(L, -1));
        lua_pop(L, 1);
        lua_pushstring(L, num);
        return lua_tostring(L, -1);
    }
    return NULL;
}

/* Writes the error of a failed call (its error object on top) into S.reply, as Redis's
 * luaCallFunction. */
static void call_error(lua_State *L)
{
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        resp_write_errorf(S.reply, "-ERR Error running script %s, %.100s", S.name, msg);
        return;
    }
    /* Raw reads: a metamethod of the user's error table would run after the script ended,
     * out of reach of the time limit and SCRIPT KILL. Only strings are taken (lua_tostring
     * of a number would convert it, an allocation). */
    const char *msg = raw_string(L, -1, "err");
    const char *src = raw_string(L, -2, "source");
    const char *line = raw_string(L, -3, "line");
    msg = msg ? msg : "";
    if (src && line)
        resp_write_errorf(S.reply, "-%s script: %s, on %s:%s.", msg, S.name, src, line);
    else
        resp_write_errorf(S.reply, "-%s", msg);
    lua_pop(L, 3);
}

void sengine_call(sengine *e, cmd_ctx *x, int fn, int nargs, int ro, const char *name)
{
    lua_State *L = e->L;
    if (atomic_load(&S.stopping)) {
        static const char msg[] = "-ERR The server is shutting down: the script did not run";
        resp_write_error(S.reply, msg, sizeof msg - 1);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_errh);
    lua_insert(L, fn);
    S.ro = ro;
    S.resp = 2;
    S.dbi = x->dbi;
    S.start_ms = srv_monotonic_ms();
    S.name = name;
    rand48_seed(0);
    S.x = x;
    atomic_store(&S.ctl, CTL_RUNNING | (e == &S.ev ? 0 : CTL_FUNCTION));
    int rc = lua_pcall(L, nargs, 1, fn);
    S.x = NULL;
    if (atomic_exchange(&S.ctl, 0) & CTL_SHUTDOWN)
        S.dropped = 1;
    lua_sethook(L, l_hook, LUA_MASKCOUNT, HOOK_COUNT);
    if (rc)
        call_error(L);
    else
        sconv_write_reply(L, S.reply, S.resp);
}

void sengine_move(resp_buf *from, resp_buf *to)
{
    for (;;) {
        struct iovec iov[64];
        size_t n = 0;
        int cnt = resp_buf_iov(from, iov, 64, &n);
        if (cnt <= 0)
            break;
        for (int i = 0; i < cnt; i++)
            resp_write_raw(to, iov[i].iov_base, iov[i].iov_len);
        resp_buf_consume(from, n);
    }
    resp_buf_reset(from);
}

void sengine_finish(sengine *e, int rc, const char *name, resp_buf *out)
{
    S.x = NULL;
    atomic_store(&S.ctl, 0);
    if (rc) { /* out of memory outside the script's own call (or while writing its reply) */
        resp_buf_reset(S.reply);
        const char *msg = lua_type(e->L, -1) == LUA_TSTRING ? lua_tostring(e->L, -1) : NULL;
        resp_write_errorf(S.reply, "-ERR Error running script %s, %.100s", name,
                          msg ? msg : "execution failure");
    }
    lua_settop(e->L, 0);
    /* Garbage is collected between scripts, in steps; all of it when it nears the limit
     * (Lua 5.1 does not collect when an allocation fails). Outside any protected call, so
     * without the limit: the collector may allocate (the string table's new size), and a
     * refusal there would reach Lua's panic. */
    e->enforce = 0;
    if (atomic_load_explicit(&e->mem, memory_order_relaxed) >
        (size_t)srv.cfg.lua_memory_limit / 2)
        lua_gc(e->L, LUA_GCCOLLECT, 0);
    else
        lua_gc(e->L, LUA_GCSTEP, 1);
    e->enforce = 1;
    sengine_move(S.reply, out); /* whole: a Lua error midway left no half reply in out */
}

/* ---- EVAL's scripts ---------------------------------------------------------------- */

typedef struct job {
    cmd_ctx *x;
    const resp_arg *body; /* NULL: by SHA-1 */
    int ro, numkeys;
    char sha[41];
    int loaded;           /* SCRIPT LOAD: only compile */
} job;

unsigned script_flag_bit(const char *name)
{
    for (unsigned i = 0; script_flag_names[i]; i++)
        if (!strcmp(name, script_flag_names[i]))
            return (unsigned)SF_NO_WRITES << i;
    return 0;
}

/* Reads the shebang's flags (#!lua flags=a,b) into *flags; 0, or -1 after writing Redis's
 * error into S.reply. *skip: the bytes before the code (the line, without its newline, so
 * that line numbers stay right). */
static int shebang(const char *s, size_t len, unsigned *flags, size_t *skip)
{
    *flags = 0;
    *skip = 0;
    if (len < 2 || s[0] != '#' || s[1] != '!')
        return 0;
    const char *nl = memchr(s, '\n', len);
    if (!nl) {
        resp_write_error(S.reply, "-ERR Invalid script shebang", 27);
        return -1;
    }
    size_t n = (size_t)(nl - s);
    *skip = n;
    *flags = SF_SHEBANG;
    char *line = srv_xmalloc(n + 1);
    memcpy(line, s, n);
    line[n] = '\0';
    int rc = 0;
    char *save = NULL;
    char *part = strtok_r(line, SHEBANG_SPACE, &save);
    if (!part || strcmp(part, "#!lua")) {
        resp_write_errorf(S.reply, "-ERR Unexpected engine in script shebang: %s",
                          part ? part : line);
        free(line);
        return -1;
    }
    while (!rc && (part = strtok_r(NULL, SHEBANG_SPACE, &save))) {
        if (strncmp(part, "flags=", 6)) {
            resp_write_errorf(S.reply, "-ERR Unknown lua shebang option: %s", part);
            rc = -1;
            break;
        }
        char *fl = part + 6;
        while (*fl || fl > part + 6) {
            char *comma = strchr(fl, ',');
            if (comma)
                *comma = '\0';
            unsigned bit = script_flag_bit(fl);
            if (!bit) {
                resp_write_errorf(S.reply, "-ERR Unexpected flag in script shebang: %s", fl);
                rc = -1;
                break;
            }
            *flags |= bit;
            if (!comma)
                break;
            fl = comma + 1;
        }
    }
    free(line);
    return rc;
}

/* Compiles j's body and caches it under j->sha, leaving the function on the stack; 0, or
 * -1 after writing the error into S.reply (nothing pushed). */
static int compile(lua_State *L, job *j)
{
    unsigned flags;
    size_t skip;
    const char *body = j->body->ptr;
    size_t len = j->body->len;
    if (shebang(body, len, &flags, &skip))
        return -1;
    if (luaL_loadbuffer(L, body + skip, len - skip, "@user_script")) {
        resp_write_errorf(S.reply, "-ERR Error compiling script (new function): %s",
                          lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, S.ev.ref_env);
    lua_setfenv(L, -2);
    /* scripts[sha] = {fn, flags} */
    lua_rawgeti(L, LUA_REGISTRYINDEX, S.ev.ref_own);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, -3);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, flags);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, j->sha);
    lua_pop(L, 1);
    atomic_fetch_add(&S.count, 1);
    return 0;
}

/* Pushes the cached function named sha and sets *flags, or pushes nothing (0). */
static int cached(lua_State *L, const char *sha, unsigned *flags)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, S.ev.ref_own);
    lua_getfield(L, -1, sha);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 2);
        return 0;
    }
    lua_rawgeti(L, -1, 2);
    *flags = (unsigned)lua_tonumber(L, -1);
    lua_rawgeti(L, -2, 1);
    lua_replace(L, -4);
    lua_pop(L, 2);
    return 1;
}

/* An array of args as a table in the base (KEYS, ARGV). */
static void set_array(lua_State *L, int base, const char *name, const resp_arg *a, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].ptr, a[i].len);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, base, name);
}

/* An EVAL's whole run, protected (lua_cpcall): finds or compiles the script, then calls
 * it; the reply (or error) goes into S.reply. */
static int p_run(lua_State *L)
{
    job *j = lua_touserdata(L, 1);
    lua_settop(L, 0);
    unsigned flags = 0;
    if (!cached(L, j->sha, &flags)) {
        if (!j->body) {
            resp_write_error(S.reply, "-NOSCRIPT No matching script. Please use EVAL.", 46);
            return 0;
        }
        if (compile(L, j))
            return 0;
        lua_pop(L, 1);
        cached(L, j->sha, &flags);
    }
    if (j->loaded) {
        resp_write_bulk(S.reply, j->sha, 40);
        return 0;
    }
    if (j->ro && (flags & SF_SHEBANG) && !(flags & SF_NO_WRITES)) {
        static const char msg[] = "-ERR Can not execute a script with write flag using *_ro "
                                  "command.";
        resp_write_error(S.reply, msg, sizeof msg - 1);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, S.ev.ref_base);
    const resp_arg *argv = j->x->argv;
    set_array(L, 2, "KEYS", argv + 3, j->numkeys);
    set_array(L, 2, "ARGV", argv + 3 + j->numkeys, j->x->argc - 3 - j->numkeys);
    lua_pop(L, 1);
    sengine_call(&S.ev, j->x, 1, 0, j->ro || (flags & SF_NO_WRITES), j->sha);
    return 0;
}

/* Runs j through p_run and moves its reply into out. */
static void run_job(job *j, resp_buf *out)
{
    sengine_begin(out);
    sengine_finish(&S.ev, lua_cpcall(S.ev.L, p_run, j), j->sha, out);
}

/* A SHA-1 argument in lower case (Redis looks scripts up so); 0 if it cannot be one. */
static int sha_arg(const resp_arg *a, char sha[41])
{
    if (a->len != 40)
        return 0;
    for (int i = 0; i < 40; i++)
        sha[i] = (char)tolower((unsigned char)a->ptr[i]);
    sha[40] = '\0';
    return 1;
}

void script_run(cmd_ctx *x, int by_sha, int ro, int numkeys)
{
    job j = {.x = x, .body = by_sha ? NULL : &x->argv[1], .ro = ro, .numkeys = numkeys};
    if (by_sha) {
        if (!sha_arg(&x->argv[1], j.sha)) {
            resp_write_error(x->out, "-NOSCRIPT No matching script. Please use EVAL.", 46);
            return;
        }
    } else {
        sha1_hex(x->argv[1].ptr, x->argv[1].len, j.sha);
    }
    run_job(&j, x->out);
}

void script_load(cmd_ctx *x, const resp_arg *body)
{
    job j = {.x = x, .body = body, .loaded = 1};
    sha1_hex(body->ptr, body->len, j.sha);
    run_job(&j, x->out);
}

static int p_exists(lua_State *L)
{
    cmd_ctx *x = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, S.ev.ref_own);
    resp_write_array(S.reply, (size_t)(x->argc - 2));
    for (int i = 2; i < x->argc; i++) {
        char sha[41];
        int found = 0;
        if (sha_arg(&x->argv[i], sha)) {
            lua_getfield(L, -1, sha);
            found = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        resp_write_int(S.reply, found);
    }
    return 0;
}

void script_exists(cmd_ctx *x)
{
    sengine_begin(x->out);
    sengine_finish(&S.ev, lua_cpcall(S.ev.L, p_exists, x), "", x->out);
}

/* ---- any thread -------------------------------------------------------------------- */

int script_busy(void)
{
    unsigned v = atomic_load(&S.ctl);
    return !(v & CTL_BUSY) ? 0 : v & CTL_FUNCTION ? 2 : 1;
}

const char *script_busy_error(void)
{
    return script_busy() == 2
               ? "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE."
               : "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                 "SHUTDOWN NOSAVE.";
}

int script_kill_kind(int kind)
{
    unsigned v = atomic_load(&S.ctl);
    for (;;) {
        if (!(v & CTL_BUSY) || (v & (CTL_KILL | CTL_SHUTDOWN))) /* none, or one ending */
            return SCRIPT_NOTBUSY;
        if (v & CTL_WROTE)
            return SCRIPT_UNKILLABLE;
        if ((kind == 2) != ((v & CTL_FUNCTION) != 0))
            return SCRIPT_WRONGKIND;
        if (atomic_compare_exchange_weak(&S.ctl, &v, v | CTL_KILL))
            return 0;
    }
}

int script_kill(void)
{
    return script_kill_kind(1);
}

void script_shutdown(void)
{
    unsigned v = atomic_load(&S.ctl);
    while ((v & CTL_RUNNING) && !atomic_compare_exchange_weak(&S.ctl, &v, v | CTL_SHUTDOWN))
        ;
}

void script_stop(void)
{
    atomic_store(&S.stopping, 1);
    if (atomic_load(&S.ctl) & CTL_RUNNING)
        srv_log(SRV_LOG_WARNING, "Ending the running script: the server is shutting down "
                "(nothing of its batch is saved)");
    script_shutdown();
}

int script_dropped(void)
{
    int d = S.dropped;
    S.dropped = 0;
    return d;
}

size_t script_memory(void)
{
    return atomic_load_explicit(&S.ev.mem, memory_order_relaxed);
}

size_t script_count(void)
{
    return atomic_load_explicit(&S.count, memory_order_relaxed);
}
