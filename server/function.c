/* function.c — Redis 7.0's functions (functions.c and function_lua.c there): libraries
 * loaded with FUNCTION LOAD, called with FCALL, kept in the store (function.h).
 *
 * A library's code runs once, at load, in a narrow world: its globals hold only a small
 * redis table (register_function, log, the LOG_ levels, REDIS_VERSION), as in Redis; the
 * engine's globals proxy is pointed at that world for the load and back at the scripts'
 * one after (script_int.h: ref_envmt), so the functions it registers see the full globals
 * when they run (without KEYS and ARGV: they get keys and args as arguments). A load that
 * runs past 500 ms fails, as Redis's does.
 *
 * What the interpreter holds, in its ref_own table: libs[name] = {code=, funcs={key=true}}
 * and funcs[key] = {name=, cb=, lib=, flags=, desc=, n=}, where key is the function's name
 * in lower case (FCALL finds functions in any case, as Redis does; library names are
 * exact). A load checks everything before it changes anything, so a failed load leaves
 * the libraries as they were.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "function.h"
#include "glob.h"
#include "log.h"
#include "script.h"
#include "script_int.h"
#include "sha1.h"
#include "util.h"

#define FUNCTION_TABLE "functions"
#define LOAD_TIMEOUT_MS 500
#define DUMP_MAGIC "OXFN\x01"
#define DUMP_MAGIC_LEN 5

static struct {
    sengine e;
    ox_table *t;               /* library name -> code */
    int ref_load;              /* the base of a load: only the small redis table */
    int changed;               /* the libraries changed in this batch */
    int reload;                /* the interpreter differs from the store: reload at the
                                  batch's end, committed or not */
    uint64_t load_start;
    atomic_size_t nlibs, nfuncs;
    /* FUNCTION STATS's running_script (any thread): under mu. */
    pthread_mutex_t mu;
    const char *run_name;
    const resp_arg *run_argv;
    int run_argc;
    uint64_t run_start;
} F = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- the world of a load ------------------------------------------------------------ */

static int valid_name(const char *s, size_t len)
{
    if (!len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

static const char bad_name[] = "Library names can only contain letters, numbers, or "
                               "underscores(_) and must be at least one character long";

/* Pushes the lower-case key of the string at idx. */
static void push_key(lua_State *L, const char *s, size_t len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++)
        luaL_addchar(&b, (char)tolower((unsigned char)s[i]));
    luaL_pushresult(&b);
}

/* redis.register_function(name, callback) or ({function_name=, callback=, flags=,
 * description=}): adds to the load's pending table (the registry's ox_pending). */
static int l_register(lua_State *L)
{
    int argc = lua_gettop(L);
    int name = 0, cb = 0, desc = 0;
    unsigned flags = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, "ox_pending");
    if (!lua_istable(L, -1))
        return script_raise(L, "redis.register_function can only be called on FUNCTION LOAD "
                               "command");
    int pending = lua_gettop(L);
    if (argc < 1 || argc > 2)
        return script_raise(L, "wrong number of arguments to redis.register_function");
    if (argc == 2) {
        if (!lua_isstring(L, 1))
            return script_raise(L, "first argument to redis.register_function must be a "
                                   "string");
        if (!lua_isfunction(L, 2))
            return script_raise(L, "second argument to redis.register_function must be a "
                                   "function");
        name = 1;
        cb = 2;
    } else {
        if (!lua_istable(L, 1))
            return script_raise(L, "calling redis.register_function with a single argument "
                                   "is only applicable to Lua table (representing named "
                                   "arguments).");
        lua_pushnil(L);
        while (lua_next(L, 1)) { /* table, key, value */
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            int v = lua_gettop(L);
            if (!strcmp(k, "function_name")) {
                if (!lua_isstring(L, v))
                    return script_raise(L, "function_name argument given to "
                                           "redis.register_function must be a string");
                name = v;
            } else if (!strcmp(k, "callback")) {
                if (!lua_isfunction(L, v))
                    return script_raise(L, "callback argument given to "
                                           "redis.register_function must be a function");
                cb = v;
            } else if (!strcmp(k, "description")) {
                if (!lua_isstring(L, v))
                    return script_raise(L, "description argument given to "
                                           "redis.register_function must be a string");
                desc = v;
            } else if (!strcmp(k, "flags")) {
                if (!lua_istable(L, v))
                    return script_raise(L, "flags argument to redis.register_function must "
                                           "be a table representing function flags");
                for (int i = 1;; i++) {
                    lua_rawgeti(L, v, i);
                    if (lua_isnil(L, -1)) {
                        lua_pop(L, 1);
                        break;
                    }
                    unsigned bit = lua_type(L, -1) == LUA_TSTRING
                                       ? script_flag_bit(lua_tostring(L, -1)) : 0;
                    if (!bit)
                        return script_raise(L, "unknown flag given");
                    flags |= bit;
                    lua_pop(L, 1);
                }
            } else {
                return script_raise(L, "unknown argument given to redis.register_function");
            }
            lua_pushvalue(L, -2); /* the key again, for lua_next; the value stays */
        }
        if (!name)
            return script_raise(L, "redis.register_function must get a function name "
                                   "argument");
        if (!cb)
            return script_raise(L, "redis.register_function must get a callback argument");
    }
    size_t len;
    const char *s = lua_tolstring(L, name, &len);
    if (!valid_name(s, len))
        return script_raise(L, bad_name);
    push_key(L, s, len);
    int key = lua_gettop(L);
    lua_pushvalue(L, key);
    lua_rawget(L, pending);
    if (!lua_isnil(L, -1))
        return script_raise(L, "Function already exists in the library");
    lua_pop(L, 1);
    lua_pushvalue(L, key);
    lua_createtable(L, 0, 5);
    lua_pushlstring(L, s, len);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, cb);
    lua_setfield(L, -2, "cb");
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, "flags");
    if (desc) {
        lua_pushvalue(L, desc);
        lua_setfield(L, -2, "desc");
    }
    lua_rawset(L, pending);
    return 0;
}

/* Builds the world of a load (protected): a base holding only a redis table with
 * register_function and the engine's log, LOG_ levels and version. */
static int p_world(lua_State *L)
{
    lua_newtable(L); /* the small redis table; a missing name raises */
    int r = lua_gettop(L);
    lua_getglobal(L, "redis");
    static const char *const kept[] = {"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE",
                                       "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM",
                                       NULL};
    for (int i = 0; kept[i]; i++) {
        lua_getfield(L, -1, kept[i]);
        lua_setfield(L, r, kept[i]);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_register);
    lua_setfield(L, r, "register_function");
    lua_getglobal(L, "redis"); /* the debugger's no-ops are EVAL's alone, as in Redis */
    lua_pushnil(L);
    lua_setfield(L, -2, "breakpoint");
    lua_pushnil(L);
    lua_setfield(L, -2, "debug");
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_base);
    lua_getmetatable(L, -1); /* the base's: a missing name raises Redis's error */
    lua_setmetatable(L, r);
    lua_pop(L, 1);
    lua_newtable(L); /* the load's base */
    script_push_proxy(L, r);
    lua_setfield(L, -2, "redis");
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_base);
    lua_getmetatable(L, -1);
    lua_setmetatable(L, -3);
    lua_pop(L, 1);
    F.ref_load = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_newtable(L);
    lua_setfield(L, -2, "libs");
    lua_newtable(L);
    lua_setfield(L, -2, "funcs");
    return 0;
}

/* Points the globals proxy at the table of registry reference ref. */
static void world(lua_State *L, int ref)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_envmt);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (srv_monotonic_ms() - F.load_start > LOAD_TIMEOUT_MS) {
        lua_sethook(L, load_hook, LUA_MASKCOUNT, 1);
        script_raise(L, "FUNCTION LOAD timeout");
    }
}

/* ---- loading a library -------------------------------------------------------------- */

typedef struct load {
    const char *name;
    size_t name_len;
    const char *code;
    size_t len, skip;
    int replace;
    int restore;     /* RESTORE's: a library that exists is told without quotes */
    ox_txn *txn;     /* where the library is stored, NULL when it comes from the store */
    int mutating;    /* p_load began to change the interpreter */
} load;

/* Reads "#!lua name=<name>" at the head of code into l (name, skip); 0, or -1 after
 * writing Redis's error into the reply buffer. */
static int metadata(load *l)
{
    resp_buf *out = sengine_reply();
    if (l->len < 2 || l->code[0] != '#' || l->code[1] != '!') {
        resp_write_error(out, "-ERR Missing library metadata", 29);
        return -1;
    }
    const char *nl = memchr(l->code, '\n', l->len);
    if (!nl) {
        resp_write_error(out, "-ERR Invalid library metadata", 29);
        return -1;
    }
    l->skip = (size_t)(nl - l->code);
    char *line = srv_xmalloc(l->skip + 1);
    memcpy(line, l->code, l->skip);
    line[l->skip] = '\0';
    char *save = NULL, *engine = strtok_r(line, SHEBANG_SPACE, &save), *part;
    const char *name = NULL;
    int rc = 0;
    while (!rc && (part = strtok_r(NULL, SHEBANG_SPACE, &save))) {
        if (strncasecmp(part, "name=", 5)) {
            resp_write_errorf(out, "-ERR Invalid metadata value given: %s", part);
            rc = -1;
        } else if (name) {
            resp_write_errorf(out, "-ERR Invalid metadata value, name argument was given "
                              "multiple times");
            rc = -1;
        } else {
            name = part + 5;
        }
    }
    if (!rc && !name) {
        resp_write_errorf(out, "-ERR Library name was not given");
        rc = -1;
    } else if (!rc && strcasecmp(engine + 2, "lua")) {
        resp_write_errorf(out, "-ERR Engine '%s' not found", engine + 2);
        rc = -1;
    } else if (!rc && !valid_name(name, strlen(name))) {
        resp_write_errorf(out, "-ERR %s", bad_name);
        rc = -1;
    }
    if (!rc) { /* the name, within code: after "name=" on the first line */
        l->name = l->code + (name - line);
        l->name_len = strlen(name);
    }
    free(line);
    return rc;
}

/* Recounts the libraries and functions (after a change). */
static void recount(lua_State *L)
{
    size_t n[2] = {0, 0};
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    static const char *const which[2] = {"libs", "funcs"};
    for (int i = 0; i < 2; i++) {
        lua_getfield(L, -1, which[i]);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            n[i]++;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    atomic_store(&F.nlibs, n[0]);
    atomic_store(&F.nfuncs, n[1]);
}

/* Removes library `name` (on the stack at idx) and its functions from libs and funcs
 * (at lib_i, fn_i). */
static void drop_library(lua_State *L, int idx, int libs_i, int funcs_i)
{
    lua_pushvalue(L, idx);
    lua_rawget(L, libs_i);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "funcs");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, funcs_i);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, libs_i);
}

/* The load (protected): runs the code, checks what it registered, then replaces the
 * library. The reply (its name, or the error) goes into the reply buffer. */
static int p_load(lua_State *L)
{
    load *l = lua_touserdata(L, 1);
    lua_settop(L, 0);
    resp_buf *out = sengine_reply();
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_getfield(L, 1, "libs");
    lua_getfield(L, 1, "funcs");
    lua_pushlstring(L, l->name, l->name_len); /* 4: the library's name */
    lua_pushvalue(L, 4);
    lua_rawget(L, 2);
    int exists = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (exists && !l->replace) {
        resp_write_errorf(out, l->restore ? "-ERR Library %.*s already exists"
                                          : "-ERR Library '%.*s' already exists",
                          (int)l->name_len, l->name);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_errh); /* 5 */
    if (luaL_loadbuffer(L, l->code + l->skip, l->len - l->skip, "@user_function")) {
        resp_write_errorf(out, "-ERR Error compiling function: %s", lua_tostring(L, -1));
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_env);
    lua_setfenv(L, -2);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "ox_pending");
    world(L, F.ref_load);
    F.load_start = srv_monotonic_ms();
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int rc = lua_pcall(L, 0, 0, 5);
    sengine_rehook(L);
    world(L, F.e.ref_base);
    lua_getfield(L, LUA_REGISTRYINDEX, "ox_pending"); /* 6 (5 after an error) */
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "ox_pending");
    if (rc) {
        lua_pop(L, 1);
        const char *e = "";
        if (lua_istable(L, -1)) { /* raw: no metamethod of the user's runs out here */
            lua_pushstring(L, "err");
            lua_rawget(L, -2);
            e = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            e = lua_tostring(L, -1);
        }
        resp_write_errorf(out, "-ERR Error registering functions: %s", e);
        return 0;
    }
    int pending = lua_gettop(L);
    /* What it registered: something, and no name another library has. */
    int any = 0;
    lua_pushnil(L);
    while (lua_next(L, pending)) {
        any = 1;
        lua_pushvalue(L, -2);
        lua_rawget(L, 3);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "lib");
            int same = lua_rawequal(L, -1, 4);
            lua_pop(L, 1);
            if (!same) {
                lua_getfield(L, -2, "name");
                resp_write_errorf(out, "-ERR Function %s already exists", lua_tostring(L, -1));
                return 0;
            }
        }
        lua_pop(L, 2);
    }
    if (!any) {
        resp_write_error(out, "-ERR No functions registered", 28);
        return 0;
    }
    /* From here the interpreter changes: a Lua error (memory) midway leaves it half
     * changed, and load_library has it reloaded from the store at the batch's end; the
     * store is written last, once nothing can fail in Lua any more. */
    if (l->txn)
        l->mutating = 1;
    drop_library(L, 4, 2, 3);
    lua_createtable(L, 0, 2); /* the library */
    int lib = lua_gettop(L);
    lua_pushlstring(L, l->code, l->len);
    lua_setfield(L, lib, "code");
    lua_newtable(L);
    int names = lua_gettop(L);
    lua_pushvalue(L, names);
    lua_setfield(L, lib, "funcs");
    lua_pushnil(L);
    while (lua_next(L, pending)) { /* key, entry */
        lua_pushvalue(L, 4);
        lua_setfield(L, -2, "lib");
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 3);          /* funcs[key] = entry */
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 1);
        lua_rawset(L, names);
    }
    lua_pushvalue(L, 4);
    lua_pushvalue(L, lib);
    lua_rawset(L, 2);
    recount(L);
    if (l->txn) {
        int prc = ox_txn_put(l->txn, F.t, l->name, l->name_len, l->code, l->len, 0, 0);
        F.changed = 1;
        if (prc != OX_OK) { /* the interpreter has what the store has not */
            F.reload = 1;
            resp_write_errorf(out, "-ERR %s", ox_strerror(prc));
            return 0;
        }
    }
    resp_write_bulk(out, l->name, l->name_len);
    return 0;
}

/* Loads l (its metadata read here); the reply goes into out. */
static void load_library(load *l, resp_buf *out)
{
    sengine_begin(out);
    int rc = metadata(l) ? 0 : lua_cpcall(F.e.L, p_load, l);
    if (rc && l->mutating) /* half changed: the stored libraries come back at the batch end */
        F.reload = 1;
    sengine_finish(&F.e, rc, "FUNCTION LOAD", out);
}

/* 1 if the reply written into b is an error. */
static int replied_error(const resp_buf *b)
{
    struct iovec iov[1];
    size_t n = 0;
    return resp_buf_iov(b, iov, 1, &n) > 0 && ((const char *)iov[0].iov_base)[0] == '-';
}

/* Loads every stored library into a fresh interpreter. 0, or -1. */
static int load_stored(void)
{
    if (sengine_open(&F.e) || lua_cpcall(F.e.L, p_world, NULL)) {
        srv_log(SRV_LOG_WARNING, "Could not create the functions' Lua interpreter");
        return -1;
    }
    ox_iter *it = NULL;
    int rc = ox_range(F.t, NULL, NULL, 0, &it);
    ox_val k, v;
    resp_buf *out = NULL;
    if (rc == OX_OK && resp_buf_new(&out, 2, NULL))
        rc = OX_ENOMEM;
    F.e.enforce = 0; /* what is stored is loaded whole, whatever lua-memory-limit says now */
    while (rc == OX_OK && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        load l = {.code = v.data, .len = v.len};
        resp_buf_reset(out);
        load_library(&l, out);
        struct iovec iov[1];
        size_t n = 0;
        if (replied_error(out) && resp_buf_iov(out, iov, 1, &n) > 0)
            srv_log(SRV_LOG_WARNING, "The stored library '%.*s' does not load: %.*s",
                    (int)k.len, (const char *)k.data, (int)(n > 2 ? n - 2 : n),
                    (const char *)iov[0].iov_base);
    }
    F.e.enforce = 1;
    ox_iter_close(it);
    resp_buf_free(out);
    if (rc != OX_NOTFOUND) {
        srv_log(SRV_LOG_WARNING, "Could not read the stored functions: %s", ox_strerror(rc));
        return -1;
    }
    return 0;
}

int function_init(void)
{
    int rc = ox_table_open(srv.store, FUNCTION_TABLE, &F.t);
    if (rc != OX_OK) {
        srv_log(SRV_LOG_WARNING, "Can't open the functions table: %s", ox_strerror(rc));
        return -1;
    }
    return load_stored();
}

void function_fini(void)
{
    sengine_close(&F.e);
}

void function_batch_end(int ok)
{
    if ((F.changed && !ok) || F.reload) { /* the interpreter is not what is stored */
        sengine_close(&F.e);
        if (load_stored())
            abort(); /* the server may abort when it cannot allocate */
    }
    F.changed = F.reload = 0;
}

void function_stored_changed(void)
{
    F.reload = 1;
}

void function_load(cmd_ctx *x)
{
    load l = {.txn = x->txn};
    for (int i = 2; i < x->argc - 1; i++) {
        if (!cmd_is(&x->argv[i], "replace")) {
            resp_write_errorf(x->out, "-ERR Unknown option given: %.*s", (int)x->argv[i].len,
                              x->argv[i].ptr);
            return;
        }
        l.replace = 1;
    }
    l.code = x->argv[x->argc - 1].ptr;
    l.len = x->argv[x->argc - 1].len;
    load_library(&l, x->out);
}

/* ---- FCALL ------------------------------------------------------------------------- */

typedef struct call {
    cmd_ctx *x;
    int ro, numkeys;
} call;

/* Pushes an array of n args as a table. */
static void push_args(lua_State *L, const resp_arg *a, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].ptr, a[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

static void running(const char *name, const cmd_ctx *x)
{
    pthread_mutex_lock(&F.mu);
    F.run_name = name;
    F.run_argv = x ? x->argv : NULL;
    F.run_argc = x ? x->argc : 0;
    F.run_start = srv_monotonic_ms();
    pthread_mutex_unlock(&F.mu);
}

static int p_fcall(lua_State *L)
{
    call *c = lua_touserdata(L, 1);
    lua_settop(L, 0);
    cmd_ctx *x = c->x;
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_getfield(L, 1, "funcs");
    push_key(L, x->argv[1].ptr, x->argv[1].len);
    lua_rawget(L, 2);
    if (!lua_istable(L, 3)) {
        resp_write_error(sengine_reply(), "-ERR Function not found", 23);
        return 0;
    }
    lua_getfield(L, 3, "flags");
    unsigned flags = (unsigned)lua_tonumber(L, -1);
    if (c->ro && !(flags & SF_NO_WRITES)) {
        static const char msg[] = "-ERR Can not execute a script with write flag using *_ro "
                                  "command.";
        resp_write_error(sengine_reply(), msg, sizeof msg - 1);
        return 0;
    }
    lua_getfield(L, 3, "name"); /* 5: stays on the stack while the function runs */
    const char *name = lua_tostring(L, 5);
    lua_getfield(L, 3, "cb");
    int fn = lua_gettop(L);
    push_args(L, x->argv + 3, c->numkeys);
    push_args(L, x->argv + 3 + c->numkeys, x->argc - 3 - c->numkeys);
    running(name, x);
    sengine_call(&F.e, x, fn, 2, c->ro || (flags & SF_NO_WRITES), name);
    return 0;
}

typedef struct lookup {
    const resp_arg *name;
    int found;
} lookup;

static int p_exists(lua_State *L)
{
    lookup *k = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_getfield(L, -1, "funcs");
    push_key(L, k->name->ptr, k->name->len);
    lua_rawget(L, -2);
    k->found = lua_istable(L, -1);
    return 0;
}

int function_exists(const resp_arg *name)
{
    lookup k = {.name = name};
    int rc = lua_cpcall(F.e.L, p_exists, &k);
    lua_settop(F.e.L, 0);
    return rc || k.found; /* out of memory: FCALL's own lookup will say so */
}

void function_call(cmd_ctx *x, int ro, int numkeys)
{
    call c = {.x = x, .ro = ro, .numkeys = numkeys};
    sengine_begin(x->out);
    int rc = lua_cpcall(F.e.L, p_fcall, &c);
    running(NULL, NULL);
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(x->argv[1].len < 127 ? x->argv[1].len : 127),
             x->argv[1].ptr);
    sengine_finish(&F.e, rc, name, x->out);
}

/* ---- DELETE, FLUSH, LIST, DUMP, RESTORE, STATS ------------------------------------ */

static int p_delete(lua_State *L)
{
    cmd_ctx *x = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_getfield(L, 1, "libs");
    lua_getfield(L, 1, "funcs");
    lua_pushlstring(L, x->argv[2].ptr, x->argv[2].len);
    lua_pushvalue(L, 4);
    lua_rawget(L, 2);
    int rc = ox_txn_delete(x->txn, F.t, x->argv[2].ptr, x->argv[2].len);
    if (lua_isnil(L, -1) && rc == OX_NOTFOUND) { /* stored but not loaded (it failed to
                                                    load at start): deleted all the same */
        resp_write_error(sengine_reply(), "-ERR Library not found", 22);
        return 0;
    }
    if (rc != OX_OK && rc != OX_NOTFOUND) {
        resp_write_errorf(sengine_reply(), "-ERR %s", ox_strerror(rc));
        return 0;
    }
    F.changed = 1;
    drop_library(L, 4, 2, 3);
    recount(L);
    resp_write_simple(sengine_reply(), "OK", 2);
    return 0;
}

void function_delete(cmd_ctx *x)
{
    sengine_begin(x->out);
    sengine_finish(&F.e, lua_cpcall(F.e.L, p_delete, x), "FUNCTION DELETE", x->out);
}

/* Drops every library (the interpreter starts afresh) and the stored ones. */
static int flush_all(cmd_ctx *x)
{
    int rc = ox_txn_clear(x->txn, F.t);
    if (rc != OX_OK)
        return rc;
    F.changed = 1;
    sengine_close(&F.e);
    if (sengine_open(&F.e) || lua_cpcall(F.e.L, p_world, NULL))
        abort(); /* the server may abort when it cannot allocate */
    atomic_store(&F.nlibs, 0);
    atomic_store(&F.nfuncs, 0);
    return OX_OK;
}

void function_flush(cmd_ctx *x)
{
    if (x->argc > 3) {
        cmd_reply_sub_syntax(x->out, x->argv);
        return;
    }
    if (x->argc == 3 && !cmd_is(&x->argv[2], "sync") && !cmd_is(&x->argv[2], "async")) {
        cmd_err(x, "-ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    int rc = flush_all(x);
    if (rc != OX_OK)
        cmd_store_error(x, rc);
    else
        cmd_ok(x);
}

typedef struct listing {
    cmd_ctx *x;
    int code;               /* WITHCODE */
    const resp_arg *pat;    /* LIBRARYNAME pattern, or NULL */
} listing;

static void write_str(resp_buf *out, const char *s)
{
    resp_write_bulk(out, s, strlen(s));
}

/* One library (its table on top, its name below) as FUNCTION LIST shows it. */
static void list_library(lua_State *L, resp_buf *out, int code)
{
    size_t len;
    const char *name = lua_tolstring(L, -2, &len);
    resp_write_map(out, code ? 4 : 3);
    write_str(out, "library_name");
    resp_write_bulk(out, name, len);
    write_str(out, "engine");
    write_str(out, "LUA");
    write_str(out, "functions");
    lua_getfield(L, -1, "funcs");
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    resp_write_array(out, n);
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_getfield(L, -1, "funcs");
    lua_replace(L, -2);
    lua_pushnil(L);
    while (lua_next(L, -3)) { /* names, funcs, key, true */
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        resp_write_map(out, 3);
        write_str(out, "name");
        lua_getfield(L, -1, "name");
        write_str(out, lua_tostring(L, -1));
        lua_pop(L, 1);
        write_str(out, "description");
        lua_getfield(L, -1, "desc");
        if (lua_isstring(L, -1)) {
            const char *d = lua_tolstring(L, -1, &len);
            resp_write_bulk(out, d, len);
        } else {
            resp_write_null(out);
        }
        lua_pop(L, 1);
        write_str(out, "flags");
        lua_getfield(L, -1, "flags");
        unsigned flags = (unsigned)lua_tonumber(L, -1), nf = 0;
        lua_pop(L, 2);
        for (unsigned i = 0; script_flag_names[i]; i++)
            nf += (flags & (SF_NO_WRITES << i)) != 0;
        resp_write_set(out, nf);
        for (unsigned i = 0; script_flag_names[i]; i++)
            if (flags & (SF_NO_WRITES << i)) /* status strings, as Redis writes them */
                resp_write_simple(out, script_flag_names[i], strlen(script_flag_names[i]));
    }
    lua_pop(L, 2);
    if (code) {
        write_str(out, "library_code");
        lua_getfield(L, -1, "code");
        const char *c = lua_tolstring(L, -1, &len);
        resp_write_bulk(out, c, len);
        lua_pop(L, 1);
    }
}

static int p_list(lua_State *L)
{
    listing *ls = lua_touserdata(L, 1);
    lua_settop(L, 0);
    resp_buf *out = sengine_reply();
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_getfield(L, 1, "libs");
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) { /* count, then write */
        if (pass)
            resp_write_array(out, n);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            size_t len;
            const char *name = lua_tolstring(L, -2, &len);
            if (!ls->pat || glob_match(ls->pat->ptr, ls->pat->len, name, len, 1)) {
                if (pass)
                    list_library(L, out, ls->code);
                else
                    n++;
            }
            lua_pop(L, 1);
        }
    }
    return 0;
}

void function_list(cmd_ctx *x)
{
    listing ls = {.x = x};
    for (int i = 2; i < x->argc; i++) {
        if (cmd_is(&x->argv[i], "withcode") && !ls.code) {
            ls.code = 1;
        } else if (cmd_is(&x->argv[i], "libraryname") && !ls.pat) {
            if (i + 1 >= x->argc) {
                cmd_err(x, "-ERR library name argument was not given");
                return;
            }
            ls.pat = &x->argv[++i];
        } else {
            resp_write_errorf(x->out, "-ERR Unknown argument %.*s", (int)x->argv[i].len,
                              x->argv[i].ptr);
            return;
        }
    }
    sengine_begin(x->out);
    sengine_finish(&F.e, lua_cpcall(F.e.L, p_list, &ls), "FUNCTION LIST", x->out);
}

/* The payload: DUMP_MAGIC, then for each library its name and its code, each a 4-byte
 * little-endian length and the bytes, then the SHA-1 (40 hex digits) of all before. */
static void put_u32(char *p, size_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)((v >> (8 * i)) & 0xff);
}

/* Adds (p non-NULL) or measures each library's framing; the bytes they take. Reads only
 * strings the tables hold: nothing is allocated, so no Lua error can leave p behind. */
static size_t dump_libs(lua_State *L, int libs, char *p)
{
    size_t at = DUMP_MAGIC_LEN;
    lua_pushnil(L);
    while (lua_next(L, libs)) {
        size_t nl, cl;
        const char *name = lua_tolstring(L, -2, &nl);
        lua_getfield(L, -1, "code"); /* a key of the table: interned, not allocated */
        const char *code = lua_tolstring(L, -1, &cl);
        if (p) {
            put_u32(p + at, nl);
            memcpy(p + at + 4, name, nl);
            put_u32(p + at + 4 + nl, cl);
            memcpy(p + at + 8 + nl, code, cl);
        }
        at += 8 + nl + cl;
        lua_pop(L, 2);
    }
    return at;
}

static int p_dump(lua_State *L)
{
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, F.e.ref_own);
    lua_getfield(L, 1, "libs");
    size_t len = dump_libs(L, 2, NULL);
    char *all = srv_xmalloc(len + 40);
    memcpy(all, DUMP_MAGIC, DUMP_MAGIC_LEN);
    dump_libs(L, 2, all);
    char hex[41];
    sha1_hex(all, len, hex);
    memcpy(all + len, hex, 40);
    resp_write_bulk(sengine_reply(), all, len + 40);
    free(all);
    return 0;
}

void function_dump(cmd_ctx *x)
{
    sengine_begin(x->out);
    sengine_finish(&F.e, lua_cpcall(F.e.L, p_dump, NULL), "FUNCTION DUMP", x->out);
}

static size_t get_u32(const unsigned char *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

/* The libraries of payload p[0..len): calls fn(arg, code, clen) for each (fn NULL: only
 * checks); -1 if the payload is not one of DUMP's (nothing called then), else how many fn
 * refused. */
static int payload_each(const char *p, size_t len, int (*fn)(void *, const char *, size_t),
                        void *arg)
{
    if (len < DUMP_MAGIC_LEN + 40 || memcmp(p, DUMP_MAGIC, DUMP_MAGIC_LEN))
        return -1;
    char hex[41];
    sha1_hex(p, len - 40, hex);
    if (memcmp(hex, p + len - 40, 40))
        return -1;
    const unsigned char *u = (const unsigned char *)p;
    size_t end = len - 40;
    for (int pass = 0, refused = 0; pass < (fn ? 2 : 1); pass++) { /* check, then call */
        for (size_t at = DUMP_MAGIC_LEN; at < end;) {
            if (end - at < 4 || end - at - 4 < get_u32(u + at))
                return -1;
            at += 4 + get_u32(u + at);
            if (end - at < 4 || end - at - 4 < get_u32(u + at))
                return -1;
            size_t cl = get_u32(u + at);
            if (pass)
                refused += fn(arg, p + at + 4, cl) != 0;
            at += 4 + cl;
        }
        if (pass)
            return refused;
    }
    return 0;
}

typedef struct restoring {
    cmd_ctx *x;
    int replace;
    resp_buf *out;      /* the first error */
} restoring;

static int restore_one(void *arg, const char *code, size_t len)
{
    restoring *r = arg;
    load l = {.code = code, .len = len, .replace = r->replace, .restore = 1, .txn = r->x->txn};
    resp_buf *one = NULL;
    if (resp_buf_new(&one, resp_buf_proto(r->out), NULL))
        abort(); /* the server may abort when it cannot allocate */
    load_library(&l, one);
    int failed = replied_error(one);
    if (failed && !resp_buf_pending(r->out))
        sengine_move(one, r->out);
    resp_buf_free(one);
    return failed;
}

void function_restore(cmd_ctx *x)
{
    int policy = 1; /* 0 FLUSH, 1 APPEND, 2 REPLACE */
    if (x->argc > 4) {
        cmd_reply_sub_syntax(x->out, x->argv);
        return;
    }
    if (x->argc == 4) {
        if (cmd_is(&x->argv[3], "flush"))
            policy = 0;
        else if (cmd_is(&x->argv[3], "append"))
            policy = 1;
        else if (cmd_is(&x->argv[3], "replace"))
            policy = 2;
        else {
            cmd_err(x, "-ERR Wrong restore policy given, value should be either FLUSH, "
                       "APPEND or REPLACE.");
            return;
        }
    }
    const char *p = x->argv[2].ptr;
    size_t len = x->argv[2].len;
    if (payload_each(p, len, NULL, NULL) < 0) {
        cmd_err(x, "-ERR DUMP payload version or checksum are wrong");
        return;
    }
    if (policy == 0) {
        int rc = flush_all(x);
        if (rc != OX_OK) {
            cmd_store_error(x, rc);
            return;
        }
    }
    resp_buf *err = NULL;
    if (resp_buf_new(&err, resp_buf_proto(x->out), NULL))
        abort(); /* the server may abort when it cannot allocate */
    restoring r = {.x = x, .replace = policy == 2, .out = err};
    payload_each(p, len, restore_one, &r);
    if (resp_buf_pending(err))
        sengine_move(err, x->out);
    else
        cmd_ok(x);
    resp_buf_free(err);
}

void function_stats(resp_buf *out)
{
    resp_write_map(out, 2);
    write_str(out, "running_script");
    pthread_mutex_lock(&F.mu);
    if (F.run_name && script_busy() == 2) {
        resp_write_map(out, 3);
        write_str(out, "name");
        write_str(out, F.run_name);
        write_str(out, "command");
        resp_write_array(out, (size_t)F.run_argc);
        for (int i = 0; i < F.run_argc; i++)
            resp_write_bulk(out, F.run_argv[i].ptr, F.run_argv[i].len);
        write_str(out, "duration_ms");
        resp_write_int(out, (long long)(srv_monotonic_ms() - F.run_start));
    } else {
        resp_write_null(out);
    }
    pthread_mutex_unlock(&F.mu);
    write_str(out, "engines");
    resp_write_map(out, 1);
    write_str(out, "LUA");
    resp_write_map(out, 2);
    write_str(out, "libraries_count");
    resp_write_int(out, (long long)function_libraries());
    write_str(out, "functions_count");
    resp_write_int(out, (long long)function_count());
}

size_t function_libraries(void)
{
    return atomic_load(&F.nlibs);
}

size_t function_count(void)
{
    return atomic_load(&F.nfuncs);
}

size_t function_memory(void)
{
    return atomic_load_explicit(&F.e.mem, memory_order_relaxed);
}
