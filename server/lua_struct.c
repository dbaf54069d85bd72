/* lua_struct.c — binary packing for scripts: the `struct` library Redis 7.0 gives Lua
 * (Roberto Ierusalimschy's struct, with Redis's overflow checks), written for oxistore
 * from its documented and observed behaviour, because Debian does not package it.
 *
 * A format is read left to right, one option letter at a time, stopping at its first
 * zero byte:
 *   >  <       big / little endian from here on (the default is the host's)
 *   ![n]       align fields to at most n bytes (n a power of 2; no n: the platform's
 *              strictest alignment); the default, 1, packs without padding
 *   x          one zero byte
 *   b B h H l L T i[n] I[n]   integers of char, short, long, size_t and int size (i
 *              and I: n bytes, 0 to 32); lower case signed when read back
 *   f d        float, double
 *   s          a string and its terminating zero
 *   c[n]       n bytes (default 1) of a string; c0 (pack): the whole string,
 *              (unpack): as many bytes as the value read just before it says
 *   space      ignored
 * An aligned field (integers, f, d) is padded to a multiple of min(its size, the
 * alignment), counted from the start of the packed string. size() skips letters and
 * digits it does not know instead of failing on them, as Redis's does.
 *
 * Where Redis's results depend on how its C compiles on x86-64 (numbers out of range
 * for an integer field, integer fields wider than 8 bytes), this file computes the
 * same bytes with defined arithmetic, so scripts see what they see under Redis.
 * unpack checks every field against the data as if positions never wrapped; Redis's
 * results agree with that wherever they were observed. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lualibs.h"

#define ST_MAXINTSIZE 32            /* widest i[n] / I[n] */

typedef struct st_fmt {
    const char *p;                  /* next option */
    int big;                        /* fields are big-endian */
    size_t align;                   /* from '!'; 1 = no padding */
} st_fmt;

static int st_host_big(void)
{
    const uint16_t one = 1;
    unsigned char b;

    memcpy(&b, &one, 1);
    return b == 0;
}

/* The strictest alignment a struct field can need here ('!' without a number). */
static size_t st_maxalign(void)
{
    size_t a = _Alignof(double);

    if (_Alignof(void *) > a)
        a = _Alignof(void *);
    if (_Alignof(lua_Number) > a)
        a = _Alignof(lua_Number);
    return a;
}

static void st_fmt_init(st_fmt *f, const char *p)
{
    f->p = p;
    f->big = st_host_big();
    f->align = 1;
}

static int st_isdigit(int c)
{
    return c >= '0' && c <= '9';
}

/* ASCII only: Redis's isalnum runs in the C locale, where bytes above 127 are not. */
static int st_isalnum(int c)
{
    return st_isdigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The decimal number at f->p, or df when there is none; refuses one above INT_MAX. */
static int st_getnum(lua_State *L, st_fmt *f, int df)
{
    int a = 0;

    if (!st_isdigit((unsigned char)*f->p))
        return df;
    do {
        int d = *f->p - '0';
        if (a > (INT_MAX - d) / 10)
            luaL_error(L, "integral size overflow");
        a = a * 10 + d;
        f->p++;
    } while (st_isdigit((unsigned char)*f->p));
    return a;
}

/* The bytes opt takes (reading its count from the format); 0 for options without a
 * fixed size (s, c0) and for those that take no bytes. */
static size_t st_optsize(lua_State *L, int opt, st_fmt *f)
{
    int n;

    switch (opt) {
    case 'b': case 'B': return sizeof(char);
    case 'h': case 'H': return sizeof(short);
    case 'l': case 'L': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)st_getnum(L, f, 1);
    case 'i': case 'I':
        n = st_getnum(L, f, (int)sizeof(int));
        if (n > ST_MAXINTSIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", n, ST_MAXINTSIZE);
        return (size_t)n;
    default:
        return 0;
    }
}

/* Zero bytes to put before a field of this size at pos. */
static size_t st_padding(size_t pos, const st_fmt *f, int opt, size_t size)
{
    size_t a = size;

    if (size == 0 || opt == 'c')
        return 0;
    if (a > f->align)
        a = f->align;
    /* For a power of 2, the distance to the next multiple of a. An odd a (i3 under
     * a larger alignment) gets the same arithmetic as in Redis, for the same bytes. */
    return (a - (pos & (a - 1))) & (a - 1);
}

/* The options that change how later ones are read; anything else is an error. */
static void st_control(lua_State *L, int opt, st_fmt *f)
{
    int a;

    switch (opt) {
    case ' ':
        return;
    case '>':
        f->big = 1;
        return;
    case '<':
        f->big = 0;
        return;
    case '!':
        a = st_getnum(L, f, (int)st_maxalign());
        if (a <= 0 || (a & (a - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", a);
        f->align = (size_t)a;
        return;
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

/* Redis converts a Lua number to a 64-bit field with a C cast, whose result out of
 * range is what x86-64 gives: truncation toward zero inside the range, 2^63's bit
 * pattern for NaN and for negatives below -2^63, 0 for 2^64 and above. */
static uint64_t st_to_u64(lua_Number n)
{
    if (isnan(n))
        return UINT64_C(1) << 63;
    if (n < 0)
        return n >= -0x1p63 ? (uint64_t)(int64_t)n : UINT64_C(1) << 63;
    if (n < 0x1p64)
        return (uint64_t)n;
    return 0;
}

/* An integer field is the low 64 bits of the number's value, least significant byte
 * first or last; bytes beyond the eighth are zero (no sign extension, as Redis). */
static void st_put_int(lua_State *L, luaL_Buffer *b, int arg, const st_fmt *f, size_t size)
{
    uint64_t v = st_to_u64(luaL_checknumber(L, arg));
    unsigned char buf[ST_MAXINTSIZE];
    size_t i;

    for (i = 0; i < size; i++) {
        buf[f->big ? size - 1 - i : i] = (unsigned char)(v & 0xff);
        v >>= 8;                    /* zero after the eighth byte */
    }
    luaL_addlstring(b, (const char *)buf, size);
}

static lua_Number st_get_int(const unsigned char *p, const st_fmt *f, int issigned, size_t size)
{
    uint64_t v = 0, mask;
    int64_t sv;
    size_t i;

    /* Most significant byte first, so only the last eight (the low bits) remain. */
    for (i = 0; i < size; i++)
        v = (v << 8) | p[f->big ? i : size - 1 - i];
    if (!issigned)
        return (lua_Number)v;
    /* The sign bit is bit size*8-1; for sizes above 8 (and 0) Redis's shift count
     * wraps modulo 64 as x86 does, which this reproduces with a defined shift. */
    mask = ~UINT64_C(0) << ((size * 8 - 1) & 63);
    if (v & mask)
        v |= mask;
    memcpy(&sv, &v, sizeof sv);
    return (lua_Number)sv;
}

static void st_put_bytes(luaL_Buffer *b, const st_fmt *f, const unsigned char *p, size_t size)
{
    size_t i;

    for (i = 0; i < size; i++)
        luaL_addchar(b, (char)p[f->big ? size - 1 - i : i]);
}

/* The float or double at p, in the format's byte order. */
static void st_get_bytes(unsigned char *out, const st_fmt *f, const unsigned char *p, size_t size)
{
    size_t i;

    for (i = 0; i < size; i++)
        out[f->big ? size - 1 - i : i] = p[i];
}

/* Puts x's bytes least significant first in out, whatever the host order. */
static void st_native_to_le(unsigned char *out, const void *x, size_t size)
{
    unsigned char tmp[8];
    size_t i;

    memcpy(tmp, x, size);
    for (i = 0; i < size; i++)
        out[i] = st_host_big() ? tmp[size - 1 - i] : tmp[i];
}

static void st_le_to_native(void *x, const unsigned char *in, size_t size)
{
    unsigned char tmp[8];
    size_t i;

    for (i = 0; i < size; i++)
        tmp[i] = st_host_big() ? in[size - 1 - i] : in[i];
    memcpy(x, tmp, size);
}

static int st_pack(lua_State *L)
{
    st_fmt f;
    luaL_Buffer b;
    int arg = 2;
    size_t pos = 0;

    st_fmt_init(&f, luaL_checkstring(L, 1));
    /* Redis parks a nil between the arguments and the buffer's pieces: a missing
     * argument then reads "got nil" (or a flushed piece) rather than "no value". */
    lua_pushnil(L);
    luaL_buffinit(L, &b);
    while (*f.p != '\0') {
        int opt = (unsigned char)*f.p++;
        size_t size = st_optsize(L, opt, &f);
        size_t pad = st_padding(pos, &f, opt, size);
        unsigned char le[8];
        float fl;
        double d;
        const char *s;
        size_t len;

        pos += pad;
        while (pad-- > 0)
            luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T':
        case 'i': case 'I':
            st_put_int(L, &b, arg++, &f, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f':
            /* A double beyond float range becomes +-inf (IEC 60559 conversion). */
            fl = (float)luaL_checknumber(L, arg++);
            st_native_to_le(le, &fl, sizeof fl);
            st_put_bytes(&b, &f, le, sizeof fl);
            break;
        case 'd':
            d = (double)luaL_checknumber(L, arg++);
            st_native_to_le(le, &d, sizeof d);
            st_put_bytes(&b, &f, le, sizeof d);
            break;
        case 'c': case 's':
            s = luaL_checklstring(L, arg++, &len);
            if (size == 0)
                size = len;
            /* Redis names the argument after the string; scripts see that number. */
            luaL_argcheck(L, len >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        default:
            st_control(L, opt, &f);
            break;
        }
        pos += size;
    }
    luaL_pushresult(&b);
    return 1;
}

/* The size c0 takes from the value unpacked before it, converted as Redis's cast does
 * (see st_to_u64): negative sizes become huge and fail the length check. */
static size_t st_c0_size(lua_State *L, int nresults)
{
    lua_Number n;

    if (nresults == 0 || !lua_isnumber(L, -1))
        luaL_error(L, "format 'c0' needs a previous size");
    n = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return (size_t)st_to_u64(n);
}

/* A position as Redis returns it: a size_t above the lua_Integer range wraps to a
 * negative number (a negative start comes back unchanged from an empty format). */
static lua_Integer st_to_integer(size_t v)
{
    if (v <= (size_t)PTRDIFF_MAX)
        return (lua_Integer)v;
    return -(lua_Integer)(SIZE_MAX - v) - 1;
}

static int st_unpack(lua_State *L)
{
    st_fmt f;
    size_t ld, pos;
    const char *fmt = luaL_checkstring(L, 1);
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &ld);
    lua_Integer start = luaL_optinteger(L, 3, 1);
    int n = 0;

    /* Redis holds the position in a size_t: a negative one is huge, so it passes this
     * check and every field then fails as "data string too short". */
    pos = (size_t)start;
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    st_fmt_init(&f, fmt);
    while (*f.p != '\0') {
        int opt = (unsigned char)*f.p++;
        size_t size = st_optsize(L, opt, &f);
        size_t pad = st_padding(pos, &f, opt, size);
        unsigned char le[8];
        const unsigned char *z;
        float fl;
        double d;

        luaL_argcheck(L, pos <= ld && pad <= ld - pos && size <= ld - pos - pad, 2,
                      "data string too short");
        pos += pad;
        /* Room for this result and the final position. */
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T':
        case 'i': case 'I':
            lua_pushnumber(L, st_get_int(data + pos, &f, opt >= 'a', size));
            n++;
            break;
        case 'x':
            break;
        case 'f':
            st_get_bytes(le, &f, data + pos, sizeof fl);
            st_le_to_native(&fl, le, sizeof fl);
            lua_pushnumber(L, (lua_Number)fl);
            n++;
            break;
        case 'd':
            st_get_bytes(le, &f, data + pos, sizeof d);
            st_le_to_native(&d, le, sizeof d);
            lua_pushnumber(L, (lua_Number)d);
            n++;
            break;
        case 'c':
            if (size == 0) {
                size = st_c0_size(L, n);
                n--;
                luaL_argcheck(L, size <= ld - pos, 2, "data string too short");
            }
            lua_pushlstring(L, (const char *)data + pos, size);
            n++;
            break;
        case 's':
            z = memchr(data + pos, '\0', ld - pos);
            if (z == NULL)
                luaL_error(L, "unfinished string in data");
            size = (size_t)(z - (data + pos)) + 1;
            lua_pushlstring(L, (const char *)data + pos, size - 1);
            n++;
            break;
        default:
            st_control(L, opt, &f);
            break;
        }
        pos += size;
    }
    lua_pushinteger(L, st_to_integer(pos + 1));
    return n + 1;
}

static int st_size(lua_State *L)
{
    st_fmt f;
    size_t pos = 0;

    st_fmt_init(&f, luaL_checkstring(L, 1));
    while (*f.p != '\0') {
        int opt = (unsigned char)*f.p++;
        size_t size = st_optsize(L, opt, &f);

        pos += st_padding(pos, &f, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        /* Redis only checks non-alphanumeric options here: an unknown letter or digit
         * adds nothing to the size instead of failing. */
        if (!st_isalnum(opt))
            st_control(L, opt, &f);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int luaopen_struct(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", st_pack},
        {"unpack", st_unpack},
        {"size", st_size},
        {NULL, NULL},
    };
    size_t i;

    lua_newtable(L);
    for (i = 0; fns[i].name != NULL; i++) {
        lua_pushcfunction(L, fns[i].func);
        lua_setfield(L, -2, fns[i].name);
    }
    return 1;
}
