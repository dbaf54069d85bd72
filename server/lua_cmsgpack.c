/* lua_cmsgpack.c — MessagePack for scripts: the `cmsgpack` library Redis 7.0 gives Lua
 * (lua-cmsgpack 0.4.0), written for oxistore from its documented and observed behaviour,
 * because Debian does not package it. A script sees the same bytes and the same error
 * texts as under Redis, including where Redis's choices are odd (each is said where it
 * is made).
 *
 * Encoding: a number that is an integer in int64 range takes the smallest MessagePack
 * int; any other number float32 when that holds it exactly, else float64. Strings use
 * fixstr/str8/str16/str32 (never bin). A table whose keys are exactly 1..n is an array,
 * any other a map in lua_next order; a table nested deeper than MP_MAX_NESTING becomes
 * nil, as do functions, userdata and threads.
 *
 * Decoding knows the types Redis's knows: bin8/16/32, ext and fixext are "Bad data
 * format in input." as there, and a uint64 is read as the int64 with the same bits
 * (2^64-1 comes back as -1), as there; both can surprise, but a script must get the
 * same answer from either server.
 *
 * Decoding reads only from the buffer it is given: every length and count in the input
 * is checked against the bytes left before use, a count never sizes an allocation, and
 * the Lua stack is checked before each push (a deep or long input fails with Lua's
 * "stack overflow (...)" rather than overrunning the stack).
 *
 * The encoder writes into a growing userdata instead of malloc'd memory: a Lua error in
 * the middle (out of memory, stack) unwinds with longjmp, and the collector then frees
 * the buffer, where a malloc'd one would leak. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lualibs.h"

#define MP_MAX_NESTING 16           /* tables below this many levels become nil */
#define MP_NO_LIMIT PTRDIFF_MAX     /* plain unpack: the input and the stack end it */

/* Redis's wording, kept because scripts match on it. */
#define MP_ERR_EOF "Missing bytes in input."
#define MP_ERR_BADFMT "Bad data format in input."
#define MP_ERR_STACK "too many return values at once; use unpack_one or unpack_limit instead."
#define MP_ERR_ARRAY_STACK "in function mp_decode_to_lua_array"

/* ---- encoding ---- */

typedef struct mp_out {
    lua_State *L;
    int slot;                       /* stack index of the userdata holding p */
    unsigned char *p;
    size_t len, cap;
} mp_out;

static void mp_out_reserve(mp_out *o, size_t n)
{
    size_t cap;
    unsigned char *p;

    if (o->cap - o->len >= n)
        return;
    cap = o->cap;
    while (cap - o->len < n) {
        if (cap > SIZE_MAX / 2)
            luaL_error(o->L, "not enough memory");
        cap *= 2;
    }
    p = lua_newuserdata(o->L, cap);
    memcpy(p, o->p, o->len);
    /* The old block stays referenced from the slot until this replace, so no
     * collection during lua_newuserdata can free what is being copied. */
    lua_replace(o->L, o->slot);
    o->p = p;
    o->cap = cap;
}

static void mp_out_bytes(mp_out *o, const void *b, size_t n)
{
    mp_out_reserve(o, n);
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

/* A type byte followed by v in width bytes, most significant first (MessagePack is
 * big-endian whatever the host). */
static void mp_out_tag(mp_out *o, unsigned char tag, uint64_t v, int width)
{
    unsigned char b[9];
    int i;

    b[0] = tag;
    for (i = width; i >= 1; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    mp_out_bytes(o, b, (size_t)width + 1);
}

static void mp_encode_int(mp_out *o, int64_t v)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u <= 0x7f)
            mp_out_tag(o, (unsigned char)u, 0, 0);
        else if (u <= 0xff)
            mp_out_tag(o, 0xcc, u, 1);
        else if (u <= 0xffff)
            mp_out_tag(o, 0xcd, u, 2);
        else if (u <= 0xffffffffu)
            mp_out_tag(o, 0xce, u, 4);
        else
            mp_out_tag(o, 0xcf, u, 8);
    } else {
        /* Two's complement bits of v; the conversion to unsigned is defined. */
        uint64_t u = (uint64_t)v;
        if (v >= -32)
            mp_out_tag(o, (unsigned char)(u & 0xff), 0, 0);
        else if (v >= INT8_MIN)
            mp_out_tag(o, 0xd0, u & 0xff, 1);
        else if (v >= INT16_MIN)
            mp_out_tag(o, 0xd1, u & 0xffff, 2);
        else if (v >= INT32_MIN)
            mp_out_tag(o, 0xd2, u & 0xffffffffu, 4);
        else
            mp_out_tag(o, 0xd3, u, 8);
    }
}

static void mp_encode_number(mp_out *o, lua_Number n)
{
    /* The range test comes first so the conversion below is always defined; -0.0
     * passes it and is packed as the int 0, as Redis does. */
    if (n >= -0x1p63 && n < 0x1p63 && n == (lua_Number)(int64_t)n) {
        mp_encode_int(o, (int64_t)n);
    } else {
        /* Out-of-range doubles become +-inf in the float (IEC 60559 conversion), which
         * then does not compare equal, so they stay float64; a NaN never compares
         * equal either. */
        float f = (float)n;
        if ((lua_Number)f == n) {
            uint32_t b;
            memcpy(&b, &f, sizeof b);
            mp_out_tag(o, 0xca, b, 4);
        } else {
            double d = (double)n;
            uint64_t b;
            memcpy(&b, &d, sizeof b);
            mp_out_tag(o, 0xcb, b, 8);
        }
    }
}

static void mp_encode_string(mp_out *o, const char *s, size_t len)
{
    if (len < 32)
        mp_out_tag(o, (unsigned char)(0xa0 | len), 0, 0);
    else if (len <= 0xff)
        mp_out_tag(o, 0xd9, len, 1);
    else if (len <= 0xffff)
        mp_out_tag(o, 0xda, len, 2);
    else if ((uint64_t)len <= 0xffffffffu)
        mp_out_tag(o, 0xdb, len, 4);
    else
        luaL_error(o->L, "string too long for MessagePack");
    mp_out_bytes(o, s, len);
}

/* Array, map, and the 16 and 32 bit forms share one shape: a fix tag holding counts
 * below 16, else a tag and a count in 2 or 4 bytes. */
static void mp_encode_count(mp_out *o, unsigned char fix, unsigned char tag16, size_t n)
{
    if (n < 16)
        mp_out_tag(o, (unsigned char)(fix | n), 0, 0);
    else if (n <= 0xffff)
        mp_out_tag(o, tag16, n, 2);
    else if ((uint64_t)n <= 0xffffffffu)
        mp_out_tag(o, (unsigned char)(tag16 + 1), n, 4);
    else
        luaL_error(o->L, "table too large for MessagePack");
}

/* The keys of the table at idx are exactly 1..n for some n >= 0: all of them positive
 * integers, none above their count (so none missing, keys being distinct). */
static int mp_table_is_array(lua_State *L, int idx)
{
    lua_Number max = 0;
    size_t count = 0;

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_Number k;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return 0;
        }
        k = lua_tonumber(L, -1);
        if (!(k >= 1) || k != floor(k)) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
        if (k > max)
            max = k;
    }
    return max == (lua_Number)count;
}

static void mp_encode_value(mp_out *o, int level);

static void mp_encode_table(mp_out *o, int level)
{
    lua_State *L = o->L;
    int t = lua_gettop(L);

    /* Key, value and a copy of the key per level; the nesting cap bounds the total. */
    luaL_checkstack(L, 3, "table too deeply nested for MessagePack");
    if (mp_table_is_array(L, t)) {
        size_t n = lua_objlen(L, t), i;
        mp_encode_count(o, 0x90, 0xdc, n);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, t, (int)i);
            mp_encode_value(o, level + 1);
            lua_pop(L, 1);
        }
    } else {
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            n++;
        }
        mp_encode_count(o, 0x80, 0xde, n);
        lua_pushnil(L);
        while (lua_next(L, t)) {
            /* Encode a copy of the key: lua_next needs the original untouched. */
            lua_pushvalue(L, -2);
            mp_encode_value(o, level + 1);
            lua_pop(L, 1);
            mp_encode_value(o, level + 1);
            lua_pop(L, 1);
        }
    }
}

/* Encodes the value on top of the stack, leaving the stack as it was. */
static void mp_encode_value(mp_out *o, int level)
{
    lua_State *L = o->L;
    size_t len;
    const char *s;

    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
        mp_encode_number(o, lua_tonumber(L, -1));
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        mp_encode_string(o, s, len);
        break;
    case LUA_TBOOLEAN:
        mp_out_tag(o, lua_toboolean(L, -1) ? 0xc3 : 0xc2, 0, 0);
        break;
    case LUA_TTABLE:
        if (level < MP_MAX_NESTING)
            mp_encode_table(o, level);
        else
            mp_out_tag(o, 0xc0, 0, 0);      /* too deep: nil, as Redis */
        break;
    default:
        mp_out_tag(o, 0xc0, 0, 0);
        break;
    }
}

static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L), i;
    mp_out o;

    if (nargs == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    /* Redis keeps one result string per argument on the stack; this buffer does not,
     * but refuses the same argument counts it does. */
    if (!lua_checkstack(L, nargs))
        return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    o.L = L;
    o.cap = 64;
    o.len = 0;
    o.p = lua_newuserdata(L, o.cap);
    o.slot = lua_gettop(L);
    for (i = 1; i <= nargs; i++) {
        lua_pushvalue(L, i);
        mp_encode_value(&o, 0);
        lua_pop(L, 1);
    }
    lua_pushlstring(L, (const char *)o.p, o.len);
    return 1;
}

/* ---- decoding ---- */

enum { MP_OK, MP_EOF, MP_BADFMT };

typedef struct mp_in {
    const unsigned char *p;
    size_t left;
    int err;                        /* sticky: the first error ends the decode */
} mp_in;

static uint64_t mp_be(const unsigned char *p, int width)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < width; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads a width-byte big-endian count after the type byte, or sets EOF. */
static int mp_in_count(mp_in *in, int width, uint64_t *n)
{
    if (in->left < (size_t)width + 1) {
        in->err = MP_EOF;
        return -1;
    }
    *n = mp_be(in->p + 1, width);
    in->p += width + 1;
    in->left -= (size_t)width + 1;
    return 0;
}

static void mp_decode_value(lua_State *L, mp_in *in);

static void mp_decode_string(lua_State *L, mp_in *in, int width, uint64_t fixlen)
{
    uint64_t n = fixlen;

    if (width == 0) {
        in->p++;
        in->left--;
    } else if (mp_in_count(in, width, &n) < 0) {
        return;
    }
    if (n > in->left) {
        in->err = MP_EOF;
        return;
    }
    lua_pushlstring(L, (const char *)in->p, (size_t)n);
    in->p += n;
    in->left -= (size_t)n;
}

static void mp_decode_array(lua_State *L, mp_in *in, uint64_t n)
{
    uint64_t i;

    /* Two slots per level (the table and the pending index), the depth Redis allows. */
    luaL_checkstack(L, 2, MP_ERR_ARRAY_STACK);
    /* Not presized from n: the count is the input's claim, and a table grown by
     * insertion also iterates in the order Redis's does when packed again. */
    lua_newtable(L);
    for (i = 1; i <= n; i++) {
        lua_pushnumber(L, (lua_Number)i);
        mp_decode_value(L, in);
        if (in->err != MP_OK)
            return;
        lua_rawset(L, -3);
    }
}

static void mp_decode_map(lua_State *L, mp_in *in, uint64_t n)
{
    uint64_t i;

    lua_newtable(L);
    for (i = 0; i < n; i++) {
        mp_decode_value(L, in);
        if (in->err != MP_OK)
            return;
        mp_decode_value(L, in);
        if (in->err != MP_OK)
            return;
        /* A nil or NaN key raises Lua's own "table index is nil/NaN", as in Redis. */
        lua_rawset(L, -3);
    }
}

static void mp_decode_container(lua_State *L, mp_in *in, int width, int map)
{
    uint64_t n;

    if (mp_in_count(in, width, &n) < 0)
        return;
    if (map)
        mp_decode_map(L, in, n);
    else
        mp_decode_array(L, in, n);
}

/* Fixed-size scalars: the type byte and width bytes of payload. */
static void mp_decode_scalar(lua_State *L, mp_in *in, unsigned char tag, int width)
{
    uint64_t v;
    int64_t sv;
    float f;
    double d;
    uint32_t u32;

    if (in->left < (size_t)width + 1) {
        in->err = MP_EOF;
        return;
    }
    v = mp_be(in->p + 1, width);
    in->p += width + 1;
    in->left -= (size_t)width + 1;
    switch (tag) {
    case 0xca:
        u32 = (uint32_t)v;
        memcpy(&f, &u32, sizeof f);
        lua_pushnumber(L, (lua_Number)f);
        break;
    case 0xcb:
        memcpy(&d, &v, sizeof d);
        lua_pushnumber(L, (lua_Number)d);
        break;
    case 0xcc: case 0xcd: case 0xce:
        lua_pushnumber(L, (lua_Number)v);
        break;
    case 0xcf:                      /* signed, see the top of this file */
        memcpy(&sv, &v, sizeof sv);
        lua_pushnumber(L, (lua_Number)sv);
        break;
    default:                        /* 0xd0..0xd3: sign-extend from width bytes */
        if (width < 8 && (v >> (width * 8 - 1)) & 1)
            v |= ~(uint64_t)0 << (width * 8);
        memcpy(&sv, &v, sizeof sv);
        lua_pushnumber(L, (lua_Number)sv);
        break;
    }
}

/* Pushes the next value, or sets in->err and pushes nothing that matters (the caller
 * raises the error, discarding the stack). */
static void mp_decode_value(lua_State *L, mp_in *in)
{
    unsigned char b;

    if (in->left < 1) {
        in->err = MP_EOF;
        return;
    }
    luaL_checkstack(L, 1, MP_ERR_STACK);
    b = in->p[0];
    if (b <= 0x7f || b >= 0xe0) {
        lua_pushnumber(L, (lua_Number)(b <= 0x7f ? b : (int)b - 256));
        in->p++;
        in->left--;
        return;
    }
    if (b >= 0x80 && b <= 0x9f) {
        in->p++;
        in->left--;
        if (b <= 0x8f)
            mp_decode_map(L, in, b & 0x0f);
        else
            mp_decode_array(L, in, b & 0x0f);
        return;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        mp_decode_string(L, in, 0, b & 0x1f);
        return;
    }
    switch (b) {
    case 0xc0: lua_pushnil(L); break;
    case 0xc2: lua_pushboolean(L, 0); break;
    case 0xc3: lua_pushboolean(L, 1); break;
    case 0xd9: mp_decode_string(L, in, 1, 0); return;
    case 0xda: mp_decode_string(L, in, 2, 0); return;
    case 0xdb: mp_decode_string(L, in, 4, 0); return;
    case 0xca: mp_decode_scalar(L, in, b, 4); return;
    case 0xcb: mp_decode_scalar(L, in, b, 8); return;
    case 0xcc: case 0xd0: mp_decode_scalar(L, in, b, 1); return;
    case 0xcd: case 0xd1: mp_decode_scalar(L, in, b, 2); return;
    case 0xce: case 0xd2: mp_decode_scalar(L, in, b, 4); return;
    case 0xcf: case 0xd3: mp_decode_scalar(L, in, b, 8); return;
    case 0xdc: mp_decode_container(L, in, 2, 0); return;
    case 0xdd: mp_decode_container(L, in, 4, 0); return;
    case 0xde: mp_decode_container(L, in, 2, 1); return;
    case 0xdf: mp_decode_container(L, in, 4, 1); return;
    default:                        /* 0xc1, bin, ext, fixext: unknown to Redis's */
        in->err = MP_BADFMT;
        return;
    }
    in->p++;
    in->left--;
}

/* Redis prints its 64-bit offsets and lengths with %d, which shows their low 32 bits
 * as an int; scripts see those numbers in the error texts. */
static int mp_low32(uint64_t v)
{
    int32_t i;
    uint32_t u = (uint32_t)v;

    memcpy(&i, &u, sizeof i);
    return i;
}

/* Decodes up to limit values of the string at index 1 from byte offset on; with
 * want_offset, the first result is the offset of the next value (-1 at the end). The
 * stack holds only the string when called. */
static int mp_unpack_from(lua_State *L, lua_Integer limit, lua_Integer offset, int want_offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    mp_in in;
    lua_Integer n;

    if (offset < 0 || limit < 0)
        /* Redis prints the length where it says limit; scripts see that text. */
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          mp_low32((uint64_t)offset), mp_low32(len));
    if ((uint64_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.",
                          mp_low32((uint64_t)offset), mp_low32(len));
    in.p = (const unsigned char *)s + offset;
    in.left = len - (size_t)offset;
    in.err = MP_OK;
    for (n = 0; in.left > 0 && n < limit; n++) {
        mp_decode_value(L, &in);
        if (in.err == MP_EOF)
            return luaL_error(L, MP_ERR_EOF);
        if (in.err == MP_BADFMT)
            return luaL_error(L, MP_ERR_BADFMT);
    }
    if (!want_offset)
        return (int)n;
    luaL_checkstack(L, 1, "in function mp_unpack_full");
    lua_pushinteger(L, in.left == 0 ? -1 : (lua_Integer)(len - in.left));
    lua_insert(L, 2);
    return (int)n + 1;
}

static int mp_unpack(lua_State *L)
{
    return mp_unpack_from(L, MP_NO_LIMIT, 0, 0);
}

static int mp_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);

    lua_settop(L, 1);
    return mp_unpack_from(L, 1, offset, 1);
}

static int mp_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);

    lua_settop(L, 1);
    /* Redis reads limit 0 at offset 0 as "everything, no offset" (plain unpack). */
    if (limit == 0 && offset == 0)
        return mp_unpack_from(L, MP_NO_LIMIT, 0, 0);
    return mp_unpack_from(L, limit, offset, 1);
}

int luaopen_cmsgpack(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", mp_pack},
        {"unpack", mp_unpack},
        {"unpack_one", mp_unpack_one},
        {"unpack_limit", mp_unpack_limit},
        {NULL, NULL},
    };
    static const char *const info[][2] = {
        {"_NAME", "cmsgpack"},
        {"_VERSION", "lua-cmsgpack 0.4.0"},
        {"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo"},
        {"_DESCRIPTION", "MessagePack C implementation for Lua"},
    };
    size_t i;

    lua_newtable(L);
    for (i = 0; fns[i].name != NULL; i++) {
        lua_pushcfunction(L, fns[i].func);
        lua_setfield(L, -2, fns[i].name);
    }
    for (i = 0; i < sizeof info / sizeof info[0]; i++) {
        lua_pushstring(L, info[i][1]);
        lua_setfield(L, -2, info[i][0]);
    }
    return 1;
}
