/* argdoc.c — checking and writing the table's argument strings (argdoc.h). */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "argdoc.h"

#define DEPTH_MAX 8 /* nesting of blocks and oneofs (Redis's commands have 3) */

static const char type_chars[] = "ksidptPbo";
static const char *const type_names[] = {"key", "string", "integer", "double", "pattern",
                                         "unix-time", "pure-token", "block", "oneof"};
static const char *const flag_names[] = {"optional", "multiple", "multiple_token"};
static const char flag_chars[] = "?*+";

/* One argument as parsed: spans point into the table's string, but the name of a pure
 * token written P=TOKEN, which is its token in lower case (held here). */
typedef struct arg {
    const char *type;
    const char *name, *token, *since, *deprecated;
    size_t name_len, token_len, since_len, deprecated_len;
    int key;            /* the key spec's index; -1: none */
    unsigned flags;     /* bit i: flag_names[i] */
    const char *members; /* a block's or a oneof's, just past the '(' ; else NULL */
    char lower[ARGDOC_WORD_MAX];
} arg;

/* The span of word characters (none of " =#@~?*+()") at p, or of version characters
 * (digits and dots) when version is set: its length, at most ARGDOC_WORD_MAX. */
static size_t span_of(const char *p, int version)
{
    size_t n = 0;
    while (p[n] && n <= ARGDOC_WORD_MAX &&
           (version ? (isdigit((unsigned char)p[n]) || p[n] == '.')
                    : !strchr(" =#@~?*+()", p[n])))
        n++;
    return n;
}

static const char *list(const char *p, int depth, size_t *count);

/* Parses the argument at p into *a: just past it (at ' ', ')' or the end), or NULL if it
 * is malformed. A block's or a oneof's members are checked, depth being theirs. */
static const char *item(const char *p, arg *a, int depth)
{
    const char *t = strchr(type_chars, *p);
    if (!*p || !t || (p[1] != ':' && !(*p == 'P' && p[1] == '=')))
        return NULL;
    memset(a, 0, offsetof(arg, lower));
    a->type = type_names[t - type_chars];
    a->key = -1;
    int shorthand = p[1] == '=';
    p += 2;
    if (shorthand) {
        a->token = p;
        a->token_len = span_of(p, 0);
        for (size_t i = 0; i < a->token_len && i < ARGDOC_WORD_MAX; i++)
            a->lower[i] = (char)tolower((unsigned char)p[i]);
        a->name = a->lower;
        a->name_len = a->token_len;
        p += a->token_len;
    } else {
        a->name = p;
        a->name_len = span_of(p, 0);
        p += a->name_len;
        if (*p == '=') {
            a->token = ++p;
            a->token_len = span_of(p, 0);
            p += a->token_len;
            if (!a->token_len)
                return NULL;
        }
    }
    if (!a->name_len || a->name_len > ARGDOC_WORD_MAX || a->token_len > ARGDOC_WORD_MAX)
        return NULL;
    if (*p == '#') {
        if (!isdigit((unsigned char)p[1]) || isdigit((unsigned char)p[2]))
            return NULL;
        a->key = p[1] - '0';
        p += 2;
    }
    if (*p == '@') {
        a->since = ++p;
        p += a->since_len = span_of(p, 1);
    }
    if (*p == '~') {
        a->deprecated = ++p;
        p += a->deprecated_len = span_of(p, 1);
    }
    if ((a->since && !a->since_len) || (a->deprecated && !a->deprecated_len) ||
        a->since_len > ARGDOC_WORD_MAX || a->deprecated_len > ARGDOC_WORD_MAX)
        return NULL;
    for (unsigned i = 0; i < sizeof flag_chars - 1; i++)
        if (*p == flag_chars[i]) {
            a->flags |= 1u << i;
            p++;
        }
    int container = *t == 'b' || *t == 'o';
    if (container != (*p == '(') || (*t == 'k' && a->key < 0))
        return NULL;
    if (container) {
        size_t n;
        a->members = p + 1;
        if (depth >= DEPTH_MAX || !(p = list(p + 1, depth + 1, &n)) || !n || *p != ')')
            return NULL;
        p++;
    }
    return *p == ' ' || *p == ')' || !*p ? p : NULL;
}

/* Checks the arguments from p to the ')' or the end that closes them, counting them into
 * *count: that ')' or end, or NULL if one is malformed. */
static const char *list(const char *p, int depth, size_t *count)
{
    arg a;
    *count = 0;
    if (!*p || *p == ')')
        return p;
    for (;;) {
        if (!(p = item(p, &a, depth)))
            return NULL;
        ++*count;
        if (*p != ' ')
            return p;
        p++;
    }
}

int argdoc_check(const char *s)
{
    size_t n;
    const char *end = list(s, 0, &n);
    return end && !*end ? 0 : -1;
}

static void write_str(resp_buf *out, const char *s)
{
    resp_write_bulk(out, s, strlen(s));
}

static void write_field(resp_buf *out, const char *field, const char *p, size_t n)
{
    write_str(out, field);
    resp_write_bulk(out, p, n);
}

/* The arguments from p on (checked), as an array of maps. */
static void write_list(resp_buf *out, const char *p)
{
    size_t n;
    list(p, 0, &n);
    resp_write_array(out, n);
    for (arg a; n--; p++) {
        p = item(p, &a, 0);
        size_t nflags = (size_t)__builtin_popcount(a.flags);
        resp_write_map(out, 2 + (a.key >= 0) + (a.token != NULL) + (a.since != NULL) +
                                (a.deprecated != NULL) + (nflags > 0) + (a.members != NULL));
        write_field(out, "name", a.name, a.name_len);
        write_field(out, "type", a.type, strlen(a.type));
        if (a.key >= 0) {
            write_str(out, "key_spec_index");
            resp_write_int(out, a.key);
        }
        if (a.token)
            write_field(out, "token", a.token, a.token_len);
        if (a.since)
            write_field(out, "since", a.since, a.since_len);
        if (a.deprecated)
            write_field(out, "deprecated_since", a.deprecated, a.deprecated_len);
        if (nflags) {
            write_str(out, "flags");
            resp_write_set(out, nflags);
            for (unsigned i = 0; i < sizeof flag_chars - 1; i++)
                if (a.flags & (1u << i))
                    resp_write_simple(out, flag_names[i], strlen(flag_names[i]));
        }
        if (a.members) {
            write_str(out, "arguments");
            write_list(out, a.members);
        }
    }
}

void argdoc_write(resp_buf *out, const char *s)
{
    write_list(out, s);
}
