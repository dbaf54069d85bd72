/* script_conv.c — replies to Lua values and back (script_conv.h), with the rules of Redis
 * 7.0's script_lua.c. The replies read here are the server's own, written by resp_write_*
 * a moment before; they are still read within their bounds: a malformed one becomes nil
 * or an empty string, never a read past the end. */
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "script_conv.h"

typedef struct rd {
    const char *p, *end;
} rd;

/* The line at r->p up to its CRLF (moved past): its start and length, or NULL at the end. */
static const char *rd_line(rd *r, size_t *len)
{
    const char *s = r->p;
    const char *nl = memchr(s, '\n', (size_t)(r->end - s));
    if (!nl || nl == s || nl[-1] != '\r') {
        r->p = r->end;
        *len = 0;
        return NULL;
    }
    *len = (size_t)(nl - 1 - s);
    r->p = nl + 1;
    return s;
}

static long long rd_ll(const char *s, size_t len)
{
    char buf[32];
    if (!s || len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return strtoll(buf, NULL, 10);
}

/* A bulk body of n bytes and its CRLF; NULL (and r at its end) if short. */
static const char *rd_body(rd *r, long long n)
{
    if (n < 0 || (size_t)(r->end - r->p) < (size_t)n + 2) {
        r->p = r->end;
        return NULL;
    }
    const char *s = r->p;
    r->p += n + 2;
    return s;
}

static void set_field(lua_State *L, const char *k, const char *s, size_t len)
{
    lua_pushlstring(L, s, len);
    lua_setfield(L, -2, k);
}

/* Pushes the next reply (push 1) or skips it (push 0: an attribute's pairs). */
static void read_one(lua_State *L, rd *r, int push, int *is_err)
{
    if (r->p >= r->end) {
        if (push)
            lua_pushnil(L);
        return;
    }
    char type = *r->p++;
    size_t len;
    const char *s = rd_line(r, &len);
    long long n = 0;
    luaL_checkstack(L, 4, "reached lua stack limit");
    switch (type) {
    case '+':
        if (push) {
            lua_createtable(L, 0, 1);
            set_field(L, "ok", s ? s : "", len);
        }
        return;
    case '-':
        if (is_err)
            *is_err = 1;
        if (push) {
            /* Our error lines never start with '-' again: add it for the code split. */
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            luaL_addchar(&b, '-');
            luaL_addlstring(&b, s ? s : "", len);
            luaL_pushresult(&b);
            size_t el;
            const char *e = lua_tolstring(L, -1, &el);
            sconv_push_error(L, e, el);
            lua_remove(L, -2);
        }
        return;
    case ':':
        if (push)
            lua_pushnumber(L, (lua_Number)rd_ll(s, len));
        return;
    case '$':
    case '=': {
        n = rd_ll(s, len);
        if (n < 0) {
            if (push)
                lua_pushboolean(L, 0);
            return;
        }
        const char *body = rd_body(r, n);
        if (!push)
            return;
        if (!body)
            body = "", n = 0;
        if (type == '$') {
            lua_pushlstring(L, body, (size_t)n);
        } else { /* "fmt:text" */
            size_t fl = n >= 4 ? 3 : 0;
            lua_createtable(L, 0, 1);
            lua_createtable(L, 0, 2);
            set_field(L, "string", body + (fl ? 4 : 0), (size_t)n - (fl ? 4 : 0));
            set_field(L, "format", body, fl);
            lua_setfield(L, -2, "verbatim_string");
        }
        return;
    }
    case '*':
    case '~':
    case '%':
    case '|':
    case '>':
        n = rd_ll(s, len);
        if (n < 0) {
            if (push)
                lua_pushboolean(L, 0);
            return;
        }
        if (type == '|') { /* attributes are not shown to scripts, as in Redis */
            for (long long i = 0; i < 2 * n && r->p < r->end; i++)
                read_one(L, r, 0, NULL);
            read_one(L, r, push, is_err);
            return;
        }
        if (!push) {
            for (long long i = 0; i < (type == '%' ? 2 * n : n) && r->p < r->end; i++)
                read_one(L, r, 0, NULL);
            return;
        }
        if (type == '*' || type == '>') {
            lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
            for (long long i = 0; i < n && r->p < r->end; i++) {
                read_one(L, r, 1, NULL);
                lua_rawseti(L, -2, (int)(i + 1));
            }
            return;
        }
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, 0);
        for (long long i = 0; i < n && r->p < r->end; i++) {
            read_one(L, r, 1, NULL);
            if (type == '%')
                read_one(L, r, 1, NULL);
            else
                lua_pushboolean(L, 1);
            if (lua_isnil(L, -2)) /* a nil key cannot be stored */
                lua_pop(L, 2);
            else
                lua_rawset(L, -3);
        }
        lua_setfield(L, -2, type == '%' ? "map" : "set");
        return;
    case '_':
        if (push)
            lua_pushnil(L);
        return;
    case '#':
        if (push)
            lua_pushboolean(L, s && len && *s == 't');
        return;
    case ',': {
        if (!push)
            return;
        char buf[64];
        size_t m = s && len < sizeof buf ? len : 0;
        memcpy(buf, s ? s : "", m);
        buf[m] = '\0';
        lua_createtable(L, 0, 1);
        lua_pushnumber(L, strtod(buf, NULL));
        lua_setfield(L, -2, "double");
        return;
    }
    case '(':
        if (push) {
            lua_createtable(L, 0, 1);
            set_field(L, "big_number", s ? s : "", len);
        }
        return;
    default:
        if (push)
            lua_pushnil(L);
        r->p = r->end;
    }
}

int sconv_push_reply(lua_State *L, const char *p, size_t len)
{
    rd r = {.p = p, .end = p + len};
    int is_err = 0;
    read_one(L, &r, 1, &is_err);
    return is_err;
}

void sconv_push_error(lua_State *L, const char *s, size_t len)
{
    const char *code = "ERR", *msg = s;
    size_t code_len = 3, msg_len = len;
    if (len && s[0] == '-') {
        const char *sp = memchr(s, ' ', len);
        if (sp) {
            code = s + 1;
            code_len = (size_t)(sp - s - 1);
            msg = sp + 1;
            msg_len = len - (size_t)(sp + 1 - s);
        } else {
            msg = s + 1;
            msg_len = len - 1;
        }
    }
    /* Redis trims CR and LF from both ends of the message (sdstrim). */
    while (msg_len && (msg[0] == '\r' || msg[0] == '\n'))
        msg++, msg_len--;
    while (msg_len && (msg[msg_len - 1] == '\r' || msg[msg_len - 1] == '\n'))
        msg_len--;
    lua_createtable(L, 0, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, msg_len);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "err");
}

/* t[k] (raw) pushed; its Lua type. */
static int raw_field(lua_State *L, int t, const char *k)
{
    lua_pushstring(L, k);
    lua_rawget(L, t < 0 ? t - 1 : t);
    return lua_type(L, -1);
}

/* The number of pairs in the table on top. */
static size_t pairs_count(lua_State *L)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

/* Lua's number as Redis's (long long) cast gives it on x86-64: out of range and NaN
 * become LLONG_MIN (the cast itself would be undefined in C). */
static long long to_ll(lua_Number d)
{
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return LLONG_MIN;
    return (long long)d;
}

/* A copy of the C string at the top (up to its first NUL, as Redis's sdsnew reads it),
 * with CR and LF made spaces. */
static void write_status(resp_buf *out, const char *s)
{
    resp_write_simple(out, s, strlen(s));
}

void sconv_write_reply(lua_State *L, resp_buf *out, int resp)
{
    if (!lua_checkstack(L, 4)) {
        resp_write_error(out, "-ERR reached lua stack limit", 28);
        lua_pop(L, 1);
        return;
    }
    size_t len;
    const char *s;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        resp_write_bulk(out, s, len);
        break;
    case LUA_TBOOLEAN:
        if (resp == 2) {
            if (lua_toboolean(L, -1))
                resp_write_int(out, 1);
            else
                resp_write_null(out);
        } else {
            resp_write_bool(out, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        resp_write_int(out, to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE:
        if (raw_field(L, -1, "err") == LUA_TSTRING) {
            s = lua_tostring(L, -1);
            resp_write_errorf(out, "-%s", s);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (raw_field(L, -1, "ok") == LUA_TSTRING) {
            write_status(out, lua_tostring(L, -1));
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (raw_field(L, -1, "double") == LUA_TNUMBER) {
            resp_write_double(out, (double)lua_tonumber(L, -1));
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (raw_field(L, -1, "big_number") == LUA_TSTRING) {
            s = lua_tolstring(L, -1, &len);
            char *copy = malloc(len ? len : 1);
            if (copy) {
                for (size_t i = 0; i < len; i++)
                    copy[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
                resp_write_bignum(out, copy, len);
                free(copy);
            }
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (raw_field(L, -1, "verbatim_string") == LUA_TTABLE) {
            if (raw_field(L, -1, "format") == LUA_TSTRING) {
                const char *fmt = lua_tostring(L, -1);
                if (raw_field(L, -2, "string") == LUA_TSTRING) {
                    s = lua_tolstring(L, -1, &len);
                    resp_write_verbatim(out, s, len, fmt);
                    lua_pop(L, 4);
                    return;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (raw_field(L, -1, "map") == LUA_TTABLE) {
            resp_write_map(out, pairs_count(L));
            lua_pushnil(L);
            while (lua_next(L, -2)) { /* table, key, value */
                lua_pushvalue(L, -2);
                lua_insert(L, -2);   /* table, key, key, value */
                lua_insert(L, -2);   /* table, key, value, key */
                sconv_write_reply(L, out, resp);
                sconv_write_reply(L, out, resp);
            }
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (raw_field(L, -1, "set") == LUA_TTABLE) {
            resp_write_set(out, pairs_count(L));
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                sconv_write_reply(L, out, resp);
            }
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        {
            size_t n = 0;
            for (;;) {
                lua_rawgeti(L, -1, (int)(n + 1));
                int nil = lua_isnil(L, -1);
                lua_pop(L, 1);
                if (nil || n == INT_MAX - 1)
                    break;
                n++;
            }
            resp_write_array(out, n);
            for (size_t i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, (int)i);
                sconv_write_reply(L, out, resp);
            }
        }
        break;
    default:
        resp_write_null(out);
    }
    lua_pop(L, 1);
}
