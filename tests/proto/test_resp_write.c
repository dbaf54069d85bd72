/* The reply writer: every reply type in RESP2 and RESP3 against the exact bytes
 * redis-server 7.0.15 sends (DEBUG PROTOCOL, ZSCORE, EVAL ... {double=x}, SUBSCRIBE),
 * references, deferred lengths, consumption and allocation failures. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "resp.h"
#include "resp_testutil.h"
#include "test.h"

T_MAIN_BEGIN;

/* Every pending byte, without consuming. */
static void gather(const resp_buf *b, sbuf *out)
{
    struct iovec iov[256];
    int n = resp_buf_iov(b, iov, 256, NULL);
    for (int i = 0; i < n; i++) sb_add(out, iov[i].iov_base, iov[i].iov_len);
}

enum op_kind {
    OP_END, OP_SIMPLE, OP_ERROR, OP_INT, OP_BULK, OP_BULK_LL, OP_NULL, OP_NULL_ARRAY,
    OP_ARRAY, OP_MAP, OP_SET, OP_PUSH, OP_ATTR, OP_DOUBLE, OP_BOOL, OP_BIGNUM, OP_VERBATIM,
    OP_RAW
};

typedef struct op {
    enum op_kind kind;
    const char *s;  /* text ops: NUL-terminated unless len is set */
    long long n;    /* integer, count or boolean */
    double d;
    const char *ext;
    size_t len;
} op;

static int apply(resp_buf *b, const op *o)
{
    size_t len = o->s ? (o->len ? o->len : strlen(o->s)) : 0;
    switch (o->kind) {
    case OP_SIMPLE: return resp_write_simple(b, o->s, len);
    case OP_ERROR: return resp_write_error(b, o->s, len);
    case OP_INT: return resp_write_int(b, o->n);
    case OP_BULK: return resp_write_bulk(b, o->s, len);
    case OP_BULK_LL: return resp_write_bulk_ll(b, o->n);
    case OP_NULL: return resp_write_null(b);
    case OP_NULL_ARRAY: return resp_write_null_array(b);
    case OP_ARRAY: return resp_write_array(b, (size_t)o->n);
    case OP_MAP: return resp_write_map(b, (size_t)o->n);
    case OP_SET: return resp_write_set(b, (size_t)o->n);
    case OP_PUSH: return resp_write_push(b, (size_t)o->n);
    case OP_ATTR: return resp_write_attribute(b, (size_t)o->n);
    case OP_DOUBLE: return resp_write_double(b, o->d);
    case OP_BOOL: return resp_write_bool(b, (int)o->n);
    case OP_BIGNUM: return resp_write_bignum(b, o->s, len);
    case OP_VERBATIM: return resp_write_verbatim(b, o->s, len, o->ext);
    case OP_RAW: return resp_write_raw(b, o->s, len);
    case OP_END: break;
    }
    return RESP_EINVAL;
}

typedef struct write_case {
    const char *name;
    op ops[8];
    const char *resp2, *resp3; /* NULL: the ops fail with RESP_ENOTSUP in that protocol */
    size_t len2, len3;         /* set when the expectation holds a NUL byte */
} write_case;

#define I(v) { OP_INT, NULL, v, 0, NULL, 0 }
#define B(s) { OP_BULK, s, 0, 0, NULL, 0 }
#define D(v) { OP_DOUBLE, NULL, 0, v, NULL, 0 }
#define K(kind, v) { kind, NULL, v, 0, NULL, 0 }
#define S(kind, s) { kind, s, 0, 0, NULL, 0 }

static const write_case cases[] = {
    { "simple", { S(OP_SIMPLE, "OK") }, "+OK\r\n", "+OK\r\n", 0, 0 },
    { "simple newline", { S(OP_SIMPLE, "a\r\nb") }, "+a  b\r\n", "+a  b\r\n", 0, 0 },
    { "error", { S(OP_ERROR, "unknown command 'XXX', with args beginning with: ") },
      "-ERR unknown command 'XXX', with args beginning with: \r\n",
      "-ERR unknown command 'XXX', with args beginning with: \r\n", 0, 0 },
    { "error with code", { S(OP_ERROR, "-NOAUTH Authentication required.") },
      "-NOAUTH Authentication required.\r\n", "-NOAUTH Authentication required.\r\n", 0, 0 },
    { "error empty", { S(OP_ERROR, "") }, "-ERR \r\n", "-ERR \r\n", 0, 0 },
    { "error newline", { S(OP_ERROR, "a\nb\r") }, "-ERR a b \r\n", "-ERR a b \r\n", 0, 0 },
    { "integer", { I(12345) }, ":12345\r\n", ":12345\r\n", 0, 0 },
    { "integer extremes", { I(0), I(-1), I(LLONG_MIN), I(LLONG_MAX) },
      ":0\r\n:-1\r\n:-9223372036854775808\r\n:9223372036854775807\r\n",
      ":0\r\n:-1\r\n:-9223372036854775808\r\n:9223372036854775807\r\n", 0, 0 },
    { "bulk", { B("Hello World") }, "$11\r\nHello World\r\n", "$11\r\nHello World\r\n", 0, 0 },
    { "bulk empty", { B("") }, "$0\r\n\r\n", "$0\r\n\r\n", 0, 0 },
    { "bulk binary", { { OP_BULK, "a\0\r\n", 0, 0, NULL, 4 } }, "$4\r\na\0\r\n\r\n",
      "$4\r\na\0\r\n\r\n", 10, 10 },
    { "bulk of integer", { K(OP_BULK_LL, -42) }, "$3\r\n-42\r\n", "$3\r\n-42\r\n", 0, 0 },
    { "null", { K(OP_NULL, 0) }, "$-1\r\n", "_\r\n", 0, 0 },
    { "null array", { K(OP_NULL_ARRAY, 0) }, "*-1\r\n", "_\r\n", 0, 0 },
    { "array", { K(OP_ARRAY, 3), I(0), I(1), I(2) }, "*3\r\n:0\r\n:1\r\n:2\r\n",
      "*3\r\n:0\r\n:1\r\n:2\r\n", 0, 0 },
    { "empty array", { K(OP_ARRAY, 0) }, "*0\r\n", "*0\r\n", 0, 0 },
    { "set", { K(OP_SET, 3), I(0), I(1), I(2) }, "*3\r\n:0\r\n:1\r\n:2\r\n",
      "~3\r\n:0\r\n:1\r\n:2\r\n", 0, 0 },
    { "map", { K(OP_MAP, 3), I(0), K(OP_BOOL, 0), I(1), K(OP_BOOL, 1), I(2), K(OP_BOOL, 0) },
      "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n", "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
      0, 0 },
    { "empty map", { K(OP_MAP, 0) }, "*0\r\n", "%0\r\n", 0, 0 },
    { "push (pub/sub message)", { K(OP_PUSH, 3), B("subscribe"), B("ch"), I(1) },
      "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
      ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", 0, 0 },
    { "attribute", { K(OP_ATTR, 1), B("key-popularity"), K(OP_ARRAY, 2), B("key:123"), I(90),
                     B("Some real reply following the attribute") },
      NULL,
      "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
      "$39\r\nSome real reply following the attribute\r\n", 0, 0 },
    { "nested", { K(OP_ARRAY, 2), K(OP_ARRAY, 2), B("d"), D(-INFINITY), K(OP_ARRAY, 2), B("a"),
                  D(1.5) },
      "*2\r\n*2\r\n$1\r\nd\r\n$4\r\n-inf\r\n*2\r\n$1\r\na\r\n$3\r\n1.5\r\n",
      "*2\r\n*2\r\n$1\r\nd\r\n,-inf\r\n*2\r\n$1\r\na\r\n,1.5\r\n", 0, 0 },
    { "double", { D(3.141) }, "$5\r\n3.141\r\n", ",3.141\r\n", 0, 0 },
    { "double inf", { D(INFINITY), D(-INFINITY) }, "$3\r\ninf\r\n$4\r\n-inf\r\n",
      ",inf\r\n,-inf\r\n", 0, 0 },
    { "double nan", { D(NAN), D(-NAN) }, "$3\r\nnan\r\n$4\r\n-nan\r\n", ",nan\r\n,-nan\r\n",
      0, 0 },
    { "double zero", { D(0.0), D(-0.0) }, "$1\r\n0\r\n$2\r\n-0\r\n", ",0\r\n,-0\r\n", 0, 0 },
    { "double %.17g", { D(0.1), D(1e-320), D(-2.5e-7), D(3.141592653589793) },
      "$19\r\n0.10000000000000001\r\n$23\r\n9.9998886718268301e-321\r\n"
      "$23\r\n-2.4999999999999999e-07\r\n$18\r\n3.1415926535897931\r\n",
      ",0.10000000000000001\r\n,9.9998886718268301e-321\r\n,-2.4999999999999999e-07\r\n"
      ",3.1415926535897931\r\n", 0, 0 },
    { "double integral", { D(123.0), D(1e16), D(1e17), D(-99999999999999984.0),
                           D(123456789012345678.0), D(1e300), D(1e-5) },
      "$3\r\n123\r\n$17\r\n10000000000000000\r\n$5\r\n1e+17\r\n$18\r\n-99999999999999984\r\n"
      "$22\r\n1.2345678901234568e+17\r\n$23\r\n1.0000000000000001e+300\r\n"
      "$22\r\n1.0000000000000001e-05\r\n",
      ",123\r\n,10000000000000000\r\n,1e+17\r\n,-99999999999999984\r\n"
      ",1.2345678901234568e+17\r\n,1.0000000000000001e+300\r\n,1.0000000000000001e-05\r\n",
      0, 0 },
    { "boolean", { K(OP_BOOL, 1), K(OP_BOOL, 0) }, ":1\r\n:0\r\n", "#t\r\n#f\r\n", 0, 0 },
    { "big number", { S(OP_BIGNUM, "1234567999999999999999999999999999999") },
      "$37\r\n1234567999999999999999999999999999999\r\n",
      "(1234567999999999999999999999999999999\r\n", 0, 0 },
    { "verbatim", { { OP_VERBATIM, "This is a verbatim\nstring", 0, 0, "txt", 0 } },
      "$25\r\nThis is a verbatim\nstring\r\n", "=29\r\ntxt:This is a verbatim\nstring\r\n", 0,
      0 },
    { "verbatim short ext", { { OP_VERBATIM, "x", 0, 0, "md", 0 }, { OP_VERBATIM, "y", 0, 0,
                                                                      NULL, 0 } },
      "$1\r\nx\r\n$1\r\ny\r\n", "=5\r\nmd :x\r\n=5\r\ntxt:y\r\n", 0, 0 },
    { "raw", { S(OP_RAW, "+OK\r\n") }, "+OK\r\n", "+OK\r\n", 0, 0 },
};

static void test_every_reply_type_in_both_protocols(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const write_case *c = &cases[i];
        for (int proto = 2; proto <= 3; proto++) {
            const char *want = proto == 2 ? c->resp2 : c->resp3;
            size_t wlen = proto == 2 ? c->len2 : c->len3;
            resp_buf *b;
            sbuf out = { 0 };
            int rc = RESP_OK;
            T_EQ_INT(resp_buf_new(&b, proto, NULL), RESP_OK);
            for (const op *o = c->ops; o->kind != OP_END && o < c->ops + 8; o++) {
                rc = apply(b, o);
                if (rc) break;
            }
            gather(b, &out);
            resp_buf_free(b);
            if (!want) {
                if (rc != RESP_ENOTSUP || out.len != 0)
                    T_FAIL("%s RESP%d: rc %d, %zu bytes; expected RESP_ENOTSUP", c->name,
                           proto, rc, out.len);
            } else {
                if (!wlen) wlen = strlen(want);
                if (rc != RESP_OK || out.len != wlen || memcmp(out.p, want, wlen) != 0)
                    T_FAIL("%s RESP%d: rc %d, got \"%.*s\"", c->name, proto, rc,
                           (int)out.len, out.p ? out.p : "");
            }
            sb_free(&out);
        }
    }
}

static void test_errorf_formats_and_sanitises_like_redis(void)
{
    resp_buf *b;
    sbuf out = { 0 };
    char big[600];
    const char *want = "-ERR unknown command 'FOO', with args beginning with: 'a' \r\n"
                       "-ERR trimmed\r\n-NOAUTH Authentication required.\r\n-ERR a  b\r\n";
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    T_EQ_INT(resp_buf_new(&b, 3, NULL), RESP_OK);
    T_EQ_INT(resp_write_errorf(b, "unknown command '%s', with args beginning with: %s",
                               "FOO", "'a' "), RESP_OK);
    T_EQ_INT(resp_write_errorf(b, "\r\ntrimmed\n"), RESP_OK);
    T_EQ_INT(resp_write_errorf(b, "-NOAUTH %s", "Authentication required."), RESP_OK);
    T_EQ_INT(resp_write_errorf(b, "a\r\nb"), RESP_OK);
    gather(b, &out);
    T_EQ_MEM(out.p, out.len, want, strlen(want));
    resp_buf_reset(b);
    sb_free(&out);
    T_EQ_INT(resp_write_errorf(b, "%s", big), RESP_OK);
    gather(b, &out);
    T_EQ_U64(out.len, 5 + 599 + 2);
    T_EQ_MEM(out.p + 5, 599, big, 599);
    sb_free(&out);
    resp_buf_free(b);
}

/* The error hook's record: every line it was told of, '|'-separated. */
static void record_error(void *ctx, const char *line, size_t len)
{
    sbuf *seen = ctx;
    sb_add(seen, line, len);
    sb_add(seen, "|", 1);
}

static void test_error_hook_sees_each_error_line(void)
{
    resp_buf *b;
    sbuf seen = { 0 };
    const char *want = "ERR syntax error|WRONGPASS bad|ERR x 1|NOAUTH a b|ERR |";
    T_EQ_INT(resp_buf_new(&b, 2, NULL), RESP_OK);
    resp_buf_set_error_hook(b, record_error, &seen);
    T_EQ_INT(resp_write_error(b, "syntax error", 12), RESP_OK);
    T_EQ_INT(resp_write_simple(b, "OK", 2), RESP_OK);
    T_EQ_INT(resp_write_error(b, "-WRONGPASS bad", 14), RESP_OK);
    T_EQ_INT(resp_write_errorf(b, "x %d", 1), RESP_OK);
    T_EQ_INT(resp_write_errorf(b, "-NOAUTH a\nb"), RESP_OK);
    T_EQ_INT(resp_write_errorf(b, "%s", ""), RESP_OK);
    T_EQ_MEM(seen.p, seen.len, want, strlen(want));
    resp_buf_set_error_hook(b, NULL, NULL);
    T_EQ_INT(resp_write_error(b, "quiet", 5), RESP_OK);
    T_EQ_U64(seen.len, strlen(want));
    sb_free(&seen);
    resp_buf_free(b);
}

static void test_protocol_switches_per_buffer(void)
{
    resp_buf *b;
    sbuf out = { 0 };
    T_EQ_INT(resp_buf_new(&b, 4, NULL), RESP_EINVAL);
    T_EQ_INT(resp_buf_new(&b, 2, NULL), RESP_OK);
    T_EQ_INT(resp_buf_proto(b), 2);
    T_EQ_INT(resp_write_null(b), RESP_OK);
    T_EQ_INT(resp_buf_set_proto(b, 3), RESP_OK);
    T_EQ_INT(resp_write_null(b), RESP_OK);
    T_EQ_INT(resp_buf_set_proto(b, 1), RESP_EINVAL);
    T_EQ_INT(resp_buf_proto(b), 3);
    gather(b, &out);
    T_EQ_MEM(out.p, out.len, "$-1\r\n_\r\n", 8);
    sb_free(&out);
    resp_buf_free(b);
}

typedef struct release_log {
    int calls;
    const void *last;
} release_log;

static void log_release(void *opaque)
{
    release_log *l = opaque;
    l->calls++;
}

/* Consumes the whole buffer in random writev-sized steps, appending what was "sent". */
static void drain_randomly(resp_buf *b, sbuf *sent, uint64_t seed)
{
    while (resp_buf_pending(b)) {
        struct iovec iov[3];
        size_t bytes, n;
        int k = resp_buf_iov(b, iov, 3, &bytes);
        if (k == 0) abort();
        n = 1 + (size_t)(rng_next(&seed) % bytes);
        for (int i = 0, left = (int)n; i < k && left > 0; i++) {
            size_t take = iov[i].iov_len < (size_t)left ? iov[i].iov_len : (size_t)left;
            sb_add(sent, iov[i].iov_base, take);
            left -= (int)take;
        }
        if (resp_buf_consume(b, n)) abort();
    }
}

static void test_large_bulk_is_referenced_and_released_once(void)
{
    const size_t vlen = 100000;
    char *v = malloc(vlen);
    resp_buf *b;
    release_log big = { 0, NULL }, small = { 0, NULL };
    struct iovec iov[8];
    sbuf sent = { 0 }, want = { 0 };
    size_t bytes;

    for (size_t i = 0; i < vlen; i++) v[i] = (char)('a' + i % 26);
    T_EQ_INT(resp_buf_new(&b, 2, NULL), RESP_OK);
    T_EQ_INT(resp_write_array(b, 3), RESP_OK);
    T_EQ_INT(resp_write_bulk_ref(b, v, vlen, log_release, &big), RESP_OK);
    T_EQ_INT(resp_write_bulk_ref(b, v, 10, log_release, &small), RESP_OK);
    T_EQ_INT(small.calls, 1); /* short: copied, released at once */
    T_EQ_INT(resp_write_bulk_ref(b, v, vlen, NULL, NULL), RESP_OK);
    T_EQ_U64(resp_buf_pending(b), 4 + 9 + vlen + 2 + 5 + 10 + 2 + 9 + vlen + 2);
    T_EQ_INT(resp_buf_iov(b, iov, 8, &bytes), 5);
    T_EQ_U64(bytes, resp_buf_pending(b));
    T_ASSERT(iov[1].iov_base == (void *)v); /* the value itself, not a copy */
    T_EQ_U64(iov[1].iov_len, vlen);
    T_EQ_INT(resp_buf_iov(b, iov, 2, &bytes), 2);
    T_EQ_U64(bytes, 13 + vlen);

    sb_str(&want, "*3\r\n$100000\r\n");
    sb_add(&want, v, vlen);
    sb_str(&want, "\r\n$10\r\n");
    sb_add(&want, v, 10);
    sb_str(&want, "\r\n$100000\r\n");
    sb_add(&want, v, vlen);
    sb_str(&want, "\r\n");
    T_EQ_INT(resp_buf_consume(b, resp_buf_pending(b) + 1), RESP_EINVAL);
    T_EQ_INT(resp_buf_consume(b, 13 + vlen - 1), RESP_OK);
    T_EQ_INT(big.calls, 0);
    T_EQ_INT(resp_buf_consume(b, 1), RESP_OK);
    T_EQ_INT(big.calls, 1);
    resp_buf_reset(b);
    T_EQ_U64(resp_buf_pending(b), 0);

    /* Random partial writes deliver the exact stream. */
    for (uint64_t seed = 1; seed < 20; seed++) {
        big.calls = 0;
        T_EQ_INT(resp_write_array(b, 3), RESP_OK);
        T_EQ_INT(resp_write_bulk_ref(b, v, vlen, log_release, &big), RESP_OK);
        T_EQ_INT(resp_write_bulk(b, v, 10), RESP_OK);
        T_EQ_INT(resp_write_bulk_ref(b, v, vlen, log_release, &big), RESP_OK);
        drain_randomly(b, &sent, seed);
        T_EQ_MEM(sent.p, sent.len, want.p, want.len);
        T_EQ_INT(big.calls, 2);
        sb_free(&sent);
    }

    /* Freeing with references pending releases them. */
    big.calls = 0;
    T_EQ_INT(resp_write_bulk_ref(b, v, vlen, log_release, &big), RESP_OK);
    resp_buf_free(b);
    T_EQ_INT(big.calls, 1);
    sb_free(&want);
    free(v);
}

static void test_deferred_lengths(void)
{
    resp_buf *b;
    resp_deferred outer, inner, stale;
    sbuf out = { 0 };
    struct iovec iov[4];
    char *v = malloc(RESP_REF_MIN);
    release_log rl = { 0, NULL };
    const char *want3 = "%2\r\n$1\r\na\r\n~2\r\n:1\r\n:2\r\n$1\r\nb\r\n$4096\r\n";
    const char *want2 = "*4\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$1\r\nb\r\n$4096\r\n";

    memset(v, 'v', RESP_REF_MIN);
    for (int proto = 2; proto <= 3; proto++) {
        const char *want = proto == 2 ? want2 : want3;
        T_EQ_INT(resp_buf_new(&b, proto, NULL), RESP_OK);
        /* Some bytes consumed first, so the buffer compacts under the open lengths. */
        T_EQ_INT(resp_write_simple(b, "x", 1), RESP_OK);
        T_EQ_INT(resp_buf_consume(b, 2), RESP_OK);
        resp_write_deferred(b, &outer);
        T_EQ_INT(resp_write_bulk(b, "a", 1), RESP_OK);
        resp_write_deferred(b, &inner);
        T_EQ_INT(resp_write_int(b, 1), RESP_OK);
        T_EQ_INT(resp_write_int(b, 2), RESP_OK);
        T_EQ_INT(resp_buf_iov(b, iov, 4, NULL), 0); /* nothing leaves while open */
        T_EQ_INT(resp_buf_consume(b, 1), RESP_EINVAL);
        T_EQ_INT(resp_write_deferred_len(b, &outer, RESP_AGG_MAP, 2), RESP_EINVAL);
        T_EQ_INT(resp_write_deferred_len(b, &inner, RESP_AGG_SET, 2), RESP_OK);
        T_EQ_INT(resp_write_deferred_len(b, &inner, RESP_AGG_SET, 2), RESP_EINVAL);
        T_EQ_INT(resp_write_bulk(b, "b", 1), RESP_OK);
        T_EQ_INT(resp_write_bulk_ref(b, v, RESP_REF_MIN, log_release, &rl), RESP_OK);
        for (int i = 0; i < 200; i++) T_EQ_INT(resp_write_int(b, i), RESP_OK); /* grows */
        T_EQ_INT(resp_write_deferred_len(b, &outer, RESP_AGG_MAP, 2), RESP_OK);
        gather(b, &out);
        T_ASSERT(out.len > 2 + strlen(want));
        T_EQ_MEM(out.p, 2, "\r\n", 2); /* the unconsumed end of "+x\r\n" */
        T_EQ_MEM(out.p + 2, strlen(want), want, strlen(want));
        T_EQ_INT(out.p[2 + strlen(want)], 'v'); /* the reference still follows its header */
        T_EQ_MEM(out.p + 2 + strlen(want) + RESP_REF_MIN, 6, "\r\n:0\r\n", 6);
        sb_free(&out);

        /* Attributes do not exist in RESP2; a reset drops open lengths. */
        resp_write_deferred(b, &stale);
        T_EQ_INT(resp_write_deferred_len(b, &stale, RESP_AGG_ATTRIBUTE, 1),
                 proto == 2 ? RESP_ENOTSUP : RESP_OK);
        resp_buf_reset(b);
        T_EQ_INT(resp_write_deferred_len(b, &stale, RESP_AGG_ARRAY, 1), RESP_EINVAL);
        T_EQ_INT(resp_write_deferred_len(b, &stale, (resp_agg)99, 1), RESP_EINVAL);
        T_EQ_INT(resp_write_int(b, 7), RESP_OK);
        gather(b, &out);
        T_EQ_MEM(out.p, out.len, ":7\r\n", 4);
        sb_free(&out);
        resp_buf_free(b);
    }
    T_EQ_INT(rl.calls, 2);
    free(v);
}

/* The N-th allocation fails: every call either succeeds or leaves the buffer unchanged,
 * and references are released exactly once either way. */
static void test_allocation_failures_leave_buffer_unchanged(void)
{
    char *v = malloc(RESP_REF_MIN * 2);
    memset(v, 'r', RESP_REF_MIN * 2);
    for (long at = 1; at < 30; at++) {
        failing_alloc f = { 0, at, 0 };
        resp_allocator a = fa_allocator(&f);
        resp_buf *b = NULL;
        release_log rl = { 0, NULL };
        int failures = 0;
        while (resp_buf_new(&b, 3, &a) == RESP_ENOMEM) {}
        for (int i = 0; i < 300; i++) {
            size_t before = resp_buf_pending(b);
            int rc;
            resp_deferred d;
            switch (i % 5) {
            case 0: rc = resp_write_bulk(b, v, (size_t)i * 7); break;
            case 1: rc = resp_write_bulk_ref(b, v, RESP_REF_MIN + (size_t)i, log_release, &rl);
                break;
            case 2: rc = resp_write_errorf(b, "e%d", i); break;
            case 3:
                resp_write_deferred(b, &d);
                T_EQ_INT(resp_write_int(b, i), RESP_OK);
                while ((rc = resp_write_deferred_len(b, &d, RESP_AGG_ARRAY, 1)) == RESP_ENOMEM)
                    failures++;
                break;
            default: rc = resp_write_double(b, i / 3.0); break;
            }
            if (rc == RESP_ENOMEM) {
                failures++;
                T_EQ_U64(resp_buf_pending(b), before);
            } else {
                T_EQ_INT(rc, RESP_OK);
            }
        }
        resp_buf_free(b);
        T_EQ_INT(rl.calls, 60);
        T_EQ_INT(f.live, 0);
        T_ASSERT(failures <= 1);
    }
    free(v);
}

int main(void)
{
    T_RUN(test_every_reply_type_in_both_protocols);
    T_RUN(test_errorf_formats_and_sanitises_like_redis);
    T_RUN(test_error_hook_sees_each_error_line);
    T_RUN(test_protocol_switches_per_buffer);
    T_RUN(test_large_bulk_is_referenced_and_released_once);
    T_RUN(test_deferred_lengths);
    T_RUN(test_allocation_failures_leave_buffer_unchanged);
    return T_MAIN_END();
}
