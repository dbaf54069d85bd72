/* The request parser, against bytes whose outcome was checked on redis-server 7.0.15.
 *
 * Each request is fed whole, byte by byte, in random splits (fixed seeds) and through
 * resp_parser_reserve/commit with random read sizes; every way must give the same result,
 * rendered as text: the commands ("arg|arg;"), then "!<error text>" after a protocol
 * error, or "~<n>" when n bytes stay buffered waiting for more. */
#include <limits.h>
#include <stdlib.h>

#include "resp.h"
#include "resp_testutil.h"
#include "test.h"

T_MAIN_BEGIN;

typedef struct parse_opts {
    const resp_limits *lim;
    int auth_required;
    const resp_allocator *alloc;
} parse_opts;

static void render_cmd(void *ctx, const resp_cmd *c)
{
    sbuf *out = ctx;
    for (int i = 0; i < c->argc; i++) {
        if (i) sb_str(out, "|");
        sb_escaped(out, c->argv[i].ptr, c->argv[i].len);
    }
    sb_str(out, ";");
}

/* Parses in[0..len) fed the given way, rendering the result into out. Allocation
 * failures (with a failing allocator) are retried: the result must not depend on them. */
static void parse_with(const char *in, size_t len, enum feed_mode mode, uint64_t seed,
                       const parse_opts *o, sbuf *out)
{
    resp_parser *p;
    char num[32];

    while (resp_parser_new(&p, o->lim, o->alloc) == RESP_ENOMEM) {}
    resp_parser_set_auth_required(p, o->auth_required);
    if (feed_all(p, in, len, mode, seed, render_cmd, out) == RESP_EPROTO) {
        sb_str(out, "!");
        sb_str(out, resp_parser_errstr(p));
    } else if (resp_parser_buffered(p)) {
        snprintf(num, sizeof num, "~%zu", resp_parser_buffered(p));
        sb_str(out, num);
    }
    resp_parser_free(p);
}

/* Runs every feed mode; returns NULL when all agree with expect, else a message. */
static const char *check_parse(const char *in, size_t len, const char *expect,
                               const parse_opts *o, char *msg, size_t msgcap)
{
    static const char *const names[] = { "whole", "bytes", "random", "reserve" };
    for (int mode = FEED_WHOLE; mode <= FEED_RESERVE; mode++) {
        int rounds = mode >= FEED_RANDOM ? 8 : 1;
        if (mode == FEED_BYTES && len > 300000) continue;
        for (int r = 0; r < rounds; r++) {
            sbuf out = { 0 };
            parse_with(in, len, (enum feed_mode)mode, 0x9E3779B97F4A7C15ULL + (uint64_t)r,
                       o, &out);
            if (strcmp(out.p ? out.p : "", expect) != 0) {
                snprintf(msg, msgcap, "%s (round %d): got \"%.300s\", expected \"%.300s\"",
                         names[mode], r, out.p ? out.p : "", expect);
                sb_free(&out);
                return msg;
            }
            sb_free(&out);
        }
    }
    return NULL;
}

#define CHECK_PARSE_OPTS(in, len, expect, opts)                                         \
    do {                                                                                \
        char m_[800];                                                                   \
        const char *e_ = check_parse((in), (len), (expect), (opts), m_, sizeof m_);      \
        if (e_) T_FAIL("%s", e_);                                                       \
    } while (0)

static const parse_opts default_opts = { NULL, 0, NULL };

typedef struct parse_case {
    const char *in;
    size_t len;
    const char *expect;
} parse_case;

#define PC(in, expect) { in, sizeof(in) - 1, expect }

static void run_table(const parse_case *t, size_t n, const parse_opts *o)
{
    for (size_t i = 0; i < n; i++) {
        char m[800];
        if (check_parse(t[i].in, t[i].len, t[i].expect, o, m, sizeof m))
            T_FAIL("case %zu: %s", i, m);
    }
}

static const parse_case multibulk_cases[] = {
    PC("*1\r\n$4\r\nPING\r\n", "PING;"),
    PC("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
       "SET|k|v;GET|k;"),
    PC("*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n", "ECHO|\\x0d\\x0a\\x0d\\x0a;"),
    PC("*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n", "ECHO|a\\x00b;"),
    PC("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "ECHO|;"),
    PC("*1\r\n$0\r\n\r\n", ";"),
    /* Redis skips the two bytes after '\r' and after a bulk without looking at them. */
    PC("*1\rx$4\r\nPING\r\n", "PING;"),
    PC("*1\r\n$4\r\nPINGxy", "PING;"),
    PC("*1\r\n$4\rzPING\r\n", "PING;"),
    /* Empty commands are skipped. */
    PC("*0\r\nPING\r\n", "PING;"),
    PC("*-1\r\nPING\r\n", "PING;"),
    PC("*-5\r\n*1\r\n$4\r\nPING\r\n", "PING;"),
    PC("*-9223372036854775808\r\nPING\r\n", "PING;"),
    PC("*-2147483649\r\nPING\r\n", "PING;"),
    /* Incomplete: waits. */
    PC("*1\r\n$4\r\nPING\r", "~13"),
    PC("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING", "PING;~12"),
    PC("*1\r", "~3"),
    PC("*2147483647\r\n", "~13"),
    PC("*1\r\n$536870912\r\n", "~16"),
    PC("*1\r\nx", "~5"),
    /* A NUL before the '\r' hides the line end from Redis's strchr: it waits. */
    PC("*1\0\r\n$4\r\nPING\r\n", "~15"),
    PC("*1\r\n$\0" "4\r\nPING\r\n", "~15"),
    /* Errors. */
    PC("*2147483648\r\n", "!invalid multibulk length"),
    PC("*9223372036854775807\r\n", "!invalid multibulk length"),
    PC("*99999999999999999999\r\n", "!invalid multibulk length"),
    PC("*\r\n", "!invalid multibulk length"),
    PC("*01\r\n$4\r\nPING\r\n", "!invalid multibulk length"),
    PC("*+1\r\n", "!invalid multibulk length"),
    PC("*-0\r\n", "!invalid multibulk length"),
    PC("*1 \r\n", "!invalid multibulk length"),
    PC("*-\r\n", "!invalid multibulk length"),
    PC("*1\r\n\r\n", "!expected '$', got ' '"),
    PC("*1\r\n\n\r\n", "!expected '$', got ' '"),
    PC("*1\r\nx\r\n", "!expected '$', got 'x'"),
    PC("*1\r\n\x01\r\n", "!expected '$', got '\x01'"),
    PC("*1\r\n\xff\r\n", "!expected '$', got '\xff'"),
    PC("*2\r\n$4\r\nECHO\r\n*1\r\n", "!expected '$', got '*'"),
    PC("*1\r\n$-1\r\n", "!invalid bulk length"),
    PC("*1\r\n$\r\n", "!invalid bulk length"),
    PC("*1\r\n$-0\r\n", "!invalid bulk length"),
    PC("*1\r\n$01\r\n", "!invalid bulk length"),
    PC("*1\r\n$536870913\r\n", "!invalid bulk length"),
    PC("*1\r\n$4x\r\n", "!invalid bulk length"),
    /* An error ends the stream: the commands before it still come out. */
    PC("PING\r\n*1\r\nx\r\nPING\r\n", "PING;!expected '$', got 'x'"),
};

static void test_multibulk_matches_redis(void)
{
    run_table(multibulk_cases, sizeof multibulk_cases / sizeof multibulk_cases[0],
              &default_opts);
}

static const parse_case inline_cases[] = {
    PC("PING\r\n", "PING;"),
    PC("PING\n", "PING;"),
    PC("\r\n\n   \r\nPING\r\n", "PING;"),
    PC("  \r\n", ""),
    PC("\r\n", ""),
    PC("\n", ""),
    PC("SET k v\r\nGET k\r\n", "SET|k|v;GET|k;"),
    PC("PING", "~4"),
    PC("PING\r", "~5"),
    PC("ECHO \"a\\x41\\n\"\r\n", "ECHO|aA\\x0a;"),
    PC("SET k \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\xff\\xFf\"\r\n",
       "SET|k|\\x0a\\x0d\\x09\\x08\\x07\\x5c\"A\\xff\\xff;"),
    PC("ECHO 'a\\'b'\r\n", "ECHO|a'b;"),
    PC("ECHO 'a\\nb'\r\n", "ECHO|a\\x5cnb;"),
    PC("ECHO \"a\\qb\\\"c\"\r\n", "ECHO|aqb\"c;"),
    PC("ECHO \"\\x4g\"\r\n", "ECHO|x4g;"),
    PC("ECHO \"\\x4\"\r\n", "ECHO|x4;"),
    PC("ECHO ab\"cd\"\r\n", "ECHO|abcd;"),
    PC("ECHO ab'c d'\r\n", "ECHO|abc\\x20d;"),
    PC("ECHO \"\"\r\n", "ECHO|;"),
    PC("ECHO '' x\r\n", "ECHO||x;"),
    PC("ECHO a\x0b" "b\r\n", "ECHO|a\\x0bb;"),
    PC("  \x0b ECHO\x0cx\r\n", "ECHO\\x0cx;"),
    PC("ECHO \"a\"\x0b\r\n", "ECHO|a;"),
    PC("ECHO a\rb\r\n", "ECHO|a|b;"),
    PC("ECHO a\r\r\n", "ECHO|a;"),
    PC("ECHO \"a\rb\"\r\n", "ECHO|a\\x0db;"),
    PC("ECHO\ta\t\tb \r\n", "ECHO|a|b;"),
    PC("ECHO \"a b\" 'c \"d'\n", "ECHO|a\\x20b|c\\x20\"d;"),
    PC("ECHO \xc3\xa9\r\n", "ECHO|\\xc3\\xa9;"),
    PC("*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$4\r\nPING\r\n", "PING;PING;PING;"),
    /* A NUL before the '\n' hides it from Redis's strchr: it waits for more. */
    PC("PI\0NG\r\n", "~7"),
    PC("\0PING\r\n", "~7"),
    PC("PING\0\n", "~6"),
    PC("ECHO \0x\r\nPING\r\n", "~15"),
    /* Errors. */
    PC("ECHO \"a\"b\r\n", "!unbalanced quotes in request"),
    PC("ECHO 'a'b\r\n", "!unbalanced quotes in request"),
    PC("ECHO \"ab\r\n", "!unbalanced quotes in request"),
    PC("ECHO 'ab\r\n", "!unbalanced quotes in request"),
    PC("ECHO \"a\\\r\n", "!unbalanced quotes in request"),
    PC("PING\r\nECHO \"\r\nPING\r\n", "PING;!unbalanced quotes in request"),
};

static void test_inline_matches_redis(void)
{
    run_table(inline_cases, sizeof inline_cases / sizeof inline_cases[0], &default_opts);
}

static char *repeat(const char *head, size_t hl, char fill, size_t n, const char *tail,
                    size_t *len)
{
    size_t tl = strlen(tail);
    char *s = malloc(hl + n + tl + 1);
    if (!s) abort();
    memcpy(s, head, hl);
    memset(s + hl, fill, n);
    memcpy(s + hl + n, tail, tl + 1);
    *len = hl + n + tl;
    return s;
}

typedef struct long_case {
    const char *head;
    size_t headlen;
    char fill;
    size_t n;
    const char *tail;
    const char *expect;
} long_case;

static void test_line_limits_match_redis(void)
{
    /* Redis 7.0: PROTO_INLINE_MAX_SIZE = 64 KiB bytes buffered without a line end. */
    static const long_case cases[] = {
        { "", sizeof("") - 1, 'a', 65536, "", "~65536" },
        { "", sizeof("") - 1, 'a', 65537, "", "!too big inline request" },
        { "", sizeof("") - 1, 'a', 65536, "\n", "" },              /* checked below: one long arg */
        { "", sizeof("") - 1, 'a', 65535, "\r\n", "" },
        /* Deliberate: a longer line is refused even when its end is already buffered. */
        { "", sizeof("") - 1, 'a', 65537, "\n", "!too big inline request" },
        { "*", sizeof("*") - 1, '1', 65535, "", "~65536" },
        { "*", sizeof("*") - 1, '1', 65536, "", "!too big mbulk count string" },
        { "*1\r\n$", sizeof("*1\r\n$") - 1, '1', 65535, "", "~65540" },
        { "*1\r\n$", sizeof("*1\r\n$") - 1, '1', 65536, "", "!too big bulk count string" },
        { "*1\r\nx", sizeof("*1\r\nx") - 1, '1', 65536, "", "!too big bulk count string" },
        /* A NUL hides the line end: Redis fails once more than 64 KiB are buffered. */
        { "*1\0", sizeof("*1\0") - 1, '\r', 65533, "", "~65536" },
        { "*1\0", sizeof("*1\0") - 1, '\r', 65534, "", "!too big mbulk count string" },
        { "PING\0", sizeof("PING\0") - 1, '\n', 65531, "", "~65536" },
        { "PING\0", sizeof("PING\0") - 1, '\n', 65532, "", "!too big inline request" },
        { "*1\r\n$\0", sizeof("*1\r\n$\0") - 1, '\n', 65535, "", "!too big bulk count string" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const long_case *c = &cases[i];
        size_t len;
        char m[800];
        char *in = repeat(c->head, c->headlen, c->fill, c->n, c->tail, &len);
        const char *expect = c->expect;
        sbuf want = { 0 };
        if (!*expect) {
            sb_escaped(&want, in, c->n);
            sb_str(&want, ";");
            expect = want.p;
        }
        const char *e = check_parse(in, len, expect, &default_opts, m, sizeof m);
        sb_free(&want);
        free(in);
        if (e) T_FAIL("case %zu: %s", i, e);
    }
}

static void test_unauthenticated_limits_match_redis(void)
{
    static const parse_case cases[] = {
        PC("*10\r\n", "~5"),
        PC("*11\r\n", "!unauthenticated multibulk length"),
        PC("*1\r\n$16384\r\n", "~12"),
        PC("*1\r\n$16385\r\n", "!unauthenticated bulk length"),
        PC("*1\r\n$536870913\r\n", "!invalid bulk length"),
        PC("*2147483648\r\n", "!invalid multibulk length"),
        PC("PING\r\n", "PING;"),
        PC("*-1\r\n", ""),
    };
    parse_opts o = { NULL, 1, NULL };
    run_table(cases, sizeof cases / sizeof cases[0], &o);
}

static void test_limits_are_configurable(void)
{
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_multibulk = 1024 * 1024;
    lim.max_bulk = 5;
    lim.max_inline = 8;
    static const parse_case cases[] = {
        PC("*1048576\r\n", "~10"),
        PC("*1048577\r\n", "!invalid multibulk length"),
        PC("*1\r\n$5\r\nhello\r\n", "hello;"),
        PC("*1\r\n$6\r\n", "!invalid bulk length"),
        PC("12345678\n", "12345678;"),
        PC("123456789\n", "!too big inline request"),
        PC("12345678", "~8"),
        PC("123456789", "!too big inline request"),
        PC("*1\r\n$1234567", "~12"),
        PC("*1\r\n$12345678", "!too big bulk count string"),
    };
    parse_opts o = { &lim, 0, NULL };
    run_table(cases, sizeof cases / sizeof cases[0], &o);
}

static void test_default_limits_are_redis_7_0(void)
{
    resp_limits lim;
    resp_limits_default(&lim);
    T_EQ_INT(lim.max_multibulk, INT_MAX);
    T_EQ_INT(lim.max_bulk, 512LL * 1024 * 1024);
    T_EQ_U64(lim.max_inline, 65536);
    T_EQ_INT(lim.unauth_max_multibulk, 10);
    T_EQ_INT(lim.unauth_max_bulk, 16384);
}

static void test_invalid_limits_are_refused(void)
{
    resp_limits lim;
    resp_parser *p = (resp_parser *)&lim;
    resp_limits_default(&lim);
    lim.max_multibulk = (long long)INT_MAX + 1;
    T_EQ_INT(resp_parser_new(&p, &lim, NULL), RESP_EINVAL);
    T_ASSERT(p == NULL);
    resp_limits_default(&lim);
    lim.max_inline = 0;
    T_EQ_INT(resp_parser_new(&p, &lim, NULL), RESP_EINVAL);
    resp_limits_default(&lim);
    lim.max_bulk = -1;
    T_EQ_INT(resp_parser_new(&p, &lim, NULL), RESP_EINVAL);
}

/* proto-max-bulk-len changed at run time: the next count line sees it; a value past 2^62
 * (Redis takes up to LLONG_MAX) is clamped, not refused. */
static void test_max_bulk_changes_on_a_live_parser(void)
{
    resp_parser *p;
    resp_cmd cmd;
    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, "*1\r\n$5\r\nhello\r\n", 15), RESP_OK);
    resp_parser_set_max_bulk(p, 5);
    T_EQ_INT(resp_parser_next(p, &cmd), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, "*1\r\n$6\r\n", 8), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &cmd), RESP_EPROTO);
    T_EQ_STR(resp_parser_errstr(p), "invalid bulk length");
    resp_parser_free(p);
    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    resp_parser_set_max_bulk(p, LLONG_MAX);
    T_EQ_INT(resp_parser_feed(p, "*1\r\n$4611686018427387904\r\n", 26), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &cmd), RESP_AGAIN); /* 2^62: allowed, waits for it */
    resp_parser_free(p);
}

static void test_many_arguments_grow_argv(void)
{
    sbuf in = { 0 }, want = { 0 };
    char line[64];
    int n = 5000;
    snprintf(line, sizeof line, "*%d\r\n", n);
    sb_str(&in, line);
    for (int i = 0; i < n; i++) {
        int l = snprintf(line + 16, sizeof line - 16, "a%d", i);
        char hdr[16];
        snprintf(hdr, sizeof hdr, "$%d\r\n", l);
        sb_str(&in, hdr);
        sb_add(&in, line + 16, (size_t)l);
        sb_str(&in, "\r\n");
        if (i) sb_str(&want, "|");
        sb_add(&want, line + 16, (size_t)l);
    }
    sb_str(&want, ";");
    char m[800];
    const char *e = check_parse(in.p, in.len, want.p, &default_opts, m, sizeof m);
    sb_free(&in);
    sb_free(&want);
    if (e) T_FAIL("%s", e);
}

static void test_errors_are_sticky(void)
{
    resp_parser *p;
    resp_cmd c;
    void *dst;
    size_t room;
    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    T_EQ_STR(resp_parser_errstr(p), "");
    static const char in[] = "*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n";
    T_EQ_INT(resp_parser_feed(p, in, sizeof in - 1), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &c), RESP_EPROTO);
    T_EQ_STR(resp_parser_errstr(p), "invalid bulk length");
    T_EQ_INT(resp_parser_next(p, &c), RESP_EPROTO);
    T_EQ_INT(resp_parser_feed(p, "PING\r\n", 6), RESP_EPROTO);
    T_EQ_INT(resp_parser_reserve(p, 0, &dst, &room), RESP_EPROTO);
    T_EQ_STR(resp_parser_errstr(p), "invalid bulk length");
    resp_parser_free(p);
}

static void test_argv_bytes_outlive_next_calls(void)
{
    static const char in[] = "*2\r\n$3\r\nGET\r\n$2\r\nk1\r\nSET \"k\\x32\" v\r\n"
                             "*2\r\n$3\r\nGET\r\n$2\r\nk3\r\n";
    resp_parser *p;
    resp_cmd c;
    resp_arg held[3];
    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, in, sizeof in - 1), RESP_OK);
    for (int i = 0; i < 3; i++) {
        T_EQ_INT(resp_parser_next(p, &c), RESP_OK);
        held[i] = c.argv[1];
    }
    T_EQ_INT(resp_parser_next(p, &c), RESP_AGAIN);
    T_EQ_MEM(held[0].ptr, held[0].len, "k1", 2);
    T_EQ_MEM(held[1].ptr, held[1].len, "k2", 2);
    T_EQ_MEM(held[2].ptr, held[2].len, "k3", 2);
    T_EQ_U64(resp_parser_buffered(p), 0);
    resp_parser_free(p);
}

static void test_wire_len_counts_skipped_empties(void)
{
    static const char in[] = "\r\n*0\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
    resp_parser *p;
    resp_cmd c;
    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, in, sizeof in - 1), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &c), RESP_OK);
    T_EQ_U64(c.wire_len, 12);
    T_EQ_INT(resp_parser_next(p, &c), RESP_OK);
    T_EQ_U64(c.wire_len, 14);
    T_EQ_U64(resp_parser_buffered(p), 0);
    resp_parser_free(p);
}

/* A 1 MiB value read through reserve/commit lands where it was read: no copy. */
static void test_large_bulk_is_read_in_place(void)
{
    const size_t vlen = 1 << 20;
    resp_parser *p;
    resp_cmd c;
    void *dst;
    size_t room, got = 0;
    char *first = NULL;
    char hdr[64];
    int hl = snprintf(hdr, sizeof hdr, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", vlen);

    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, "PING\r\n", 6), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, hdr, (size_t)hl), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &c), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &c), RESP_AGAIN);
    while (got < vlen + 2) {
        T_EQ_INT(resp_parser_reserve(p, 4096, &dst, &room), RESP_OK);
        if (room > vlen + 2 - got) room = vlen + 2 - got;
        for (size_t i = 0; i < room; i++)
            ((char *)dst)[i] = got + i < vlen ? (char)('a' + (got + i) % 26) : '\r';
        if (!first) first = dst;
        T_EQ_INT(resp_parser_commit(p, room), RESP_OK);
        got += room;
        /* A claimed length is not trusted: the buffer grows with the data. */
        T_ASSERT(resp_parser_capacity(p) <= 2 * (got + (size_t)hl) + 32768);
    }
    T_EQ_INT(resp_parser_next(p, &c), RESP_OK);
    T_EQ_INT(c.argc, 3);
    T_EQ_U64(c.argv[2].len, vlen);
    T_EQ_INT(c.argv[2].ptr[0], 'a');
    T_EQ_INT(c.argv[2].ptr[vlen - 1], 'a' + (vlen - 1) % 26);
    T_EQ_U64(resp_parser_buffered(p), 0);
    T_ASSERT(resp_parser_capacity(p) >= vlen);
    T_EQ_INT(resp_parser_trim(p), RESP_OK);
    T_EQ_U64(resp_parser_capacity(p), 16384);
    resp_parser_free(p);
}

/* A feed larger than the doubling step of a bulk in progress is still taken whole. */
static void test_feed_takes_a_large_chunk_whole(void)
{
    const size_t vlen = 300000, first = 200000;
    char *v = malloc(vlen + 2);
    resp_parser *p;
    resp_cmd c;
    memset(v, 'z', vlen);
    memcpy(v + vlen, "\r\n", 2);
    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, "*1\r\n$300000\r\n", 13), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &c), RESP_AGAIN);
    T_EQ_INT(resp_parser_feed(p, v, first), RESP_OK);
    T_EQ_U64(resp_parser_buffered(p), 13 + first);
    T_EQ_INT(resp_parser_next(p, &c), RESP_AGAIN);
    T_EQ_INT(resp_parser_feed(p, v + first, vlen + 2 - first), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &c), RESP_OK);
    T_EQ_INT(c.argc, 1);
    T_EQ_U64(c.argv[0].len, vlen);
    T_EQ_INT(memcmp(c.argv[0].ptr, v, vlen), 0);
    resp_parser_free(p);
    free(v);
}

static void test_claimed_bulk_length_allocates_little(void)
{
    resp_parser *p;
    resp_cmd c;
    void *dst;
    size_t room;
    T_EQ_INT(resp_parser_new(&p, NULL, NULL), RESP_OK);
    T_EQ_INT(resp_parser_feed(p, "*1\r\n$536870912\r\n", 16), RESP_OK);
    T_EQ_INT(resp_parser_next(p, &c), RESP_AGAIN);
    T_EQ_INT(resp_parser_reserve(p, 0, &dst, &room), RESP_OK);
    T_ASSERT(resp_parser_capacity(p) <= 65536);
    T_ASSERT(room >= 16384);
    T_EQ_INT(resp_parser_commit(p, room + 1), RESP_EINVAL);
    resp_parser_free(p);
}

static void test_allocation_failures_are_reported_and_recoverable(void)
{
    static const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20\r\n01234567890123456789\r\n"
                             "*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
                             "$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n"
                             "$1\r\nk\r\n$1\r\nl\r\n"
                             "ECHO 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 \"x\\x41\"\r\n";
    const char *expect = "SET|k|01234567890123456789;a|b|c|d|e|f|g|h|i|j|k|l;"
                         "ECHO|1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17|xA;";
    for (long at = 1; at < 40; at++) {
        failing_alloc f = { 0, at, 0 };
        resp_allocator a = fa_allocator(&f);
        parse_opts o = { NULL, 0, &a };
        for (int mode = FEED_WHOLE; mode <= FEED_RESERVE; mode++) {
            sbuf out = { 0 };
            f.calls = 0;
            parse_with(in, sizeof in - 1, (enum feed_mode)mode, 7, &o, &out);
            if (strcmp(out.p ? out.p : "", expect) != 0)
                T_FAIL("fail_at %ld mode %d: got \"%s\"", at, mode, out.p);
            sb_free(&out);
            T_EQ_INT(f.live, 0);
        }
    }
}

static void test_strerror_names_every_code(void)
{
    T_EQ_STR(resp_strerror(RESP_OK), "ok");
    T_EQ_STR(resp_strerror(RESP_AGAIN), "need more data");
    T_EQ_STR(resp_strerror(RESP_EPROTO), "protocol error");
    T_EQ_STR(resp_strerror(RESP_ENOMEM), "out of memory");
    T_EQ_STR(resp_strerror(RESP_EINVAL), "invalid argument");
    T_EQ_STR(resp_strerror(RESP_ENOTSUP), "not supported by this protocol version");
    T_EQ_STR(resp_strerror(RESP_ERR_COUNT), "unknown error");
    T_EQ_STR(resp_strerror(-1), "unknown error");
}

int main(void)
{
    T_RUN(test_multibulk_matches_redis);
    T_RUN(test_inline_matches_redis);
    T_RUN(test_line_limits_match_redis);
    T_RUN(test_unauthenticated_limits_match_redis);
    T_RUN(test_limits_are_configurable);
    T_RUN(test_default_limits_are_redis_7_0);
    T_RUN(test_invalid_limits_are_refused);
    T_RUN(test_max_bulk_changes_on_a_live_parser);
    T_RUN(test_many_arguments_grow_argv);
    T_RUN(test_errors_are_sticky);
    T_RUN(test_argv_bytes_outlive_next_calls);
    T_RUN(test_wire_len_counts_skipped_empties);
    T_RUN(test_large_bulk_is_read_in_place);
    T_RUN(test_feed_takes_a_large_chunk_whole);
    T_RUN(test_claimed_bulk_length_allocates_little);
    T_RUN(test_allocation_failures_are_reported_and_recoverable);
    T_RUN(test_strerror_names_every_code);
    return T_MAIN_END();
}
