/* resp — the Redis protocol (RESP2/RESP3) for oxistore: an incremental request parser, a
 * reply writer and a command-name lookup. No I/O, no store: pure functions over buffers.
 *
 * Caveats (the rules of use):
 * - No global state. A resp_parser, resp_buf or resp_cmdtab belongs to one thread at a
 *   time; distinct objects may be used on distinct threads freely. resp_cmdtab_find() on
 *   one table may run on many threads at once (it only reads).
 * - Requests are parsed exactly as Redis 7.0 (networking.c, checked against
 *   redis-server 7.0.15) parses them, quirks included:
 *     * A request starting with '*' is multibulk, anything else is inline.
 *     * "*N\r\n" with N <= 0 ("*0", "*-1", "*-5") is an empty command: skipped silently.
 *     * The two bytes after a count line's '\r' and after a bulk's data are skipped
 *       without looking at them ("*1\rx$4\r\nPINGxy" is PING), as Redis does.
 *     * Numbers follow Redis's string2ll: no '+', no leading zero, no "-0", at most 20
 *       characters.
 *     * A NUL byte before the '\r' of a count line, or before the '\n' of an inline
 *       line, hides the line end (Redis searches with strchr): the parser then waits until
 *       more than max_inline bytes are buffered and fails with the "too big ..." error.
 *     * Inline lines end at '\n' (an optional '\r' before it is dropped) and are split
 *       with sdssplitargs's rules. An empty or all-blank line is skipped silently.
 *   One deliberate difference, so that the result never depends on how the bytes were
 *   split: a line (inline request or count line) longer than max_inline bytes is always
 *   an error, while Redis checks only while the line end is not yet buffered, so it may
 *   accept a longer line that arrives within one read.
 * - After RESP_EPROTO the server sends "-ERR Protocol error: <resp_parser_errstr()>\r\n"
 *   and closes the connection, as Redis does; the error is sticky.
 *
 * Errors: every int-returning function returns RESP_OK (0) or one resp_err code, named by
 * resp_strerror(). Allocation failure is reported as RESP_ENOMEM, never aborts; an object
 * whose call failed with RESP_ENOMEM is unchanged unless that function says otherwise.
 */
#ifndef RESP_H
#define RESP_H

#include <stddef.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum resp_err {
    RESP_OK = 0,
    RESP_AGAIN,     /* not an error: no complete command buffered yet, feed more bytes */
    RESP_EPROTO,    /* the client broke the protocol (text: resp_parser_errstr) */
    RESP_ENOMEM,    /* out of memory */
    RESP_EINVAL,    /* invalid argument (or a call out of order) */
    RESP_ENOTSUP,   /* the reply type does not exist in RESP2 (attribute) */
    RESP_ERR_COUNT
} resp_err;

/* The text for a resp_err code ("ok", "need more data", ...). Never NULL; static. */
const char *resp_strerror(int err);

/* Optional allocator, copied into each object that takes one (NULL: malloc/realloc/free).
 * resize(ctx, NULL, n) must behave as an allocation; release(ctx, NULL) must be a no-op. */
typedef struct resp_allocator {
    void *(*resize)(void *ctx, void *ptr, size_t size); /* NULL on failure, ptr untouched */
    void (*release)(void *ctx, void *ptr);
    void *ctx;
} resp_allocator;

/* ---- request parser ------------------------------------------------------------------ */

/* Limits, with Redis 7.0's defaults from resp_limits_default(). A request over a limit is
 * a protocol error with Redis's text (in brackets). */
typedef struct resp_limits {
    long long max_multibulk;        /* largest N in "*N", default INT_MAX as Redis 7.0
                                       (1024*1024 for older Redis's limit)
                                       ["invalid multibulk length"] */
    long long max_bulk;             /* proto-max-bulk-len, default 512 MiB
                                       ["invalid bulk length"] */
    size_t max_inline;              /* PROTO_INLINE_MAX_SIZE, default 64 KiB: the longest
                                       inline line ["too big inline request"] and count
                                       line ["too big mbulk count string", "too big bulk
                                       count string"] */
    long long unauth_max_multibulk; /* while auth is required, default 10
                                       ["unauthenticated multibulk length"] */
    long long unauth_max_bulk;      /* while auth is required, default 16384
                                       ["unauthenticated bulk length"] */
} resp_limits;

void resp_limits_default(resp_limits *lim);

/* One argument: a borrowed byte span (not NUL-terminated, may hold any byte). */
typedef struct resp_arg {
    const char *ptr;
    size_t len;
} resp_arg;

/* A complete command. Lifetimes (exactly):
 * - the argv array is valid until the next call on the parser, whatever it is, except
 *   resp_parser_buffered() and resp_parser_errstr();
 * - the bytes argv[i].ptr points at stay valid and unchanged across resp_parser_next()
 *   calls (a whole pipeline can be held without copying) until the next
 *   resp_parser_reserve(), resp_parser_feed(), resp_parser_trim() or resp_parser_free(). */
typedef struct resp_cmd {
    int argc;             /* >= 1: empty commands are skipped, never returned */
    const resp_arg *argv;
    size_t wire_len;      /* bytes this command took on the wire (skipped empties included) */
} resp_cmd;

typedef struct resp_parser resp_parser;

#define RESP_MAX_BULK (1LL << 62) /* the largest max_bulk a parser takes */

/* Creates a parser. lim NULL means resp_limits_default(); limits are copied. Returns
 * RESP_EINVAL if a limit is out of range (max_multibulk and unauth_max_multibulk must be
 * 0..INT_MAX, max_bulk and unauth_max_bulk 0..2^62, max_inline 1..2^30), RESP_ENOMEM. */
int resp_parser_new(resp_parser **out, const resp_limits *lim, const resp_allocator *a);

/* Frees the parser and its buffer. NULL is a no-op. */
void resp_parser_free(resp_parser *p);

/* Whether the connection still has to authenticate (requirepass set, AUTH not yet done):
 * then the unauth_* limits apply too, as in Redis. Default 0. Takes effect at the next
 * count line parsed, so call it before resp_parser_next() returns the next command. */
void resp_parser_set_auth_required(resp_parser *p, int required);

/* Changes max_bulk (clamped into 0..RESP_MAX_BULK), as proto-max-bulk-len set at run time
 * applies to every connection in Redis. Takes effect at the next bulk count parsed. */
void resp_parser_set_max_bulk(resp_parser *p, long long max_bulk);

/* Zero-copy input: returns in *ptr and *len a writable area at the end of the buffer for
 * the caller to read() into, then resp_parser_commit() the bytes it got. *len >= want
 * (0 means 16 KiB). While a bulk argument that needs more is in progress the area is
 * extended towards the bulk's end, at most doubling the buffer per call (a claimed length
 * is never trusted with memory), so the value is read into its final place: one copy from
 * the kernel, none by us (a realloc that moves the block is the exception; glibc remaps
 * large blocks instead). Ends the validity of earlier argv bytes. RESP_EPROTO if the
 * parser is in error, RESP_ENOMEM (the parser is unchanged). */
int resp_parser_reserve(resp_parser *p, size_t want, void **ptr, size_t *len);

/* Appends n bytes written into the area of the last resp_parser_reserve(). RESP_EINVAL
 * if n is larger than that area. */
int resp_parser_commit(resp_parser *p, size_t n);

/* Copies len bytes in: resp_parser_reserve(p, len) + memcpy + resp_parser_commit().
 * On RESP_ENOMEM nothing was taken: feed the same bytes again later. */
int resp_parser_feed(resp_parser *p, const void *data, size_t len);

/* Parses the next complete command. Returns RESP_OK with *cmd filled; RESP_AGAIN when the
 * buffered bytes hold no complete command (not an error); RESP_EPROTO on a protocol
 * error, sticky: every later call returns it again; RESP_ENOMEM (retrying is allowed). */
int resp_parser_next(resp_parser *p, resp_cmd *cmd);

/* Bytes buffered and not yet returned as commands (for client-query-buffer-limit). */
size_t resp_parser_buffered(const resp_parser *p);

/* Bytes allocated for the input buffer. */
size_t resp_parser_capacity(const resp_parser *p);

/* Shrinks the buffer to what the buffered bytes need (at least 16 KiB), as Redis's
 * clientsCron does for idle clients. Ends the validity of earlier argv bytes. RESP_ENOMEM
 * leaves the buffer as it was. */
int resp_parser_trim(resp_parser *p);

/* After RESP_EPROTO: the text Redis 7.0 sends after "-ERR Protocol error: ", e.g.
 * "invalid multibulk length", "invalid bulk length", "too big inline request",
 * "too big mbulk count string", "too big bulk count string", "expected '$', got 'x'"
 * ('\r' and '\n' shown as ' ', as Redis does), "unbalanced quotes in request",
 * "unauthenticated multibulk length", "unauthenticated bulk length". Otherwise "".
 * Valid until the parser is freed. */
const char *resp_parser_errstr(const resp_parser *p);

/* ---- reply writer -------------------------------------------------------------------- */

/* A growable output buffer of encoded replies, with the protocol (2 or 3) of its
 * connection. Bytes are either copied in or referenced (resp_write_bulk_ref). The pending
 * bytes leave through resp_buf_iov() + writev() + resp_buf_consume().
 *
 * Every resp_write_* call appends one whole element or nothing: on RESP_ENOMEM the
 * buffer is unchanged. Aggregates are a header (resp_write_array(b, n) ...) followed by
 * their n elements (2n for a map), written by the caller; nesting is free. In RESP2 the
 * RESP3 types degrade as Redis 7.0 does: map -> array of 2n, set and push -> array,
 * double -> bulk string, boolean -> integer 1/0, null -> "$-1" (or "*-1" from
 * resp_write_null_array), big number and verbatim -> bulk string. Attributes do not
 * exist in RESP2 (Redis never sends them there): RESP_ENOTSUP, nothing written. */
typedef struct resp_buf resp_buf;

int resp_buf_new(resp_buf **out, int proto, const resp_allocator *a); /* EINVAL unless 2/3 */
void resp_buf_free(resp_buf *b);       /* releases references still held; NULL no-op */

/* Switches the protocol for the replies written from now on (HELLO). RESP_EINVAL unless
 * proto is 2 or 3. */
int resp_buf_set_proto(resp_buf *b, int proto);
int resp_buf_proto(const resp_buf *b);

/* Pending bytes (copied and referenced), for client-output-buffer-limit. */
size_t resp_buf_pending(const resp_buf *b);
/* Bytes the buffer holds allocated, pending or not (whether keeping it for reuse is
 * worth its memory). */
size_t resp_buf_capacity(const resp_buf *b);

/* Fills up to max iovecs with the pending bytes, in order; returns how many were filled
 * and sets *bytes (may be NULL) to their total. The iovecs are valid until the next call
 * on the buffer. While a deferred length is open (resp_write_deferred) nothing is exposed:
 * returns 0. */
int resp_buf_iov(const resp_buf *b, struct iovec *iov, int max, size_t *bytes);

/* Marks the first n pending bytes as sent; references wholly sent are released. RESP_EINVAL
 * if n is more than resp_buf_iov() could expose (the buffer is then unchanged). */
int resp_buf_consume(resp_buf *b, size_t n);

/* Drops every pending byte and open deferred length, releasing references. */
void resp_buf_reset(resp_buf *b);

/* Called after every error reply written to the buffer (resp_write_error/_errorf, not raw
 * bytes), with the line as sent minus its '-' and CRLF ("ERR syntax error"): line is
 * valid only during the call. For statistics kept by the user of the buffer (Redis's
 * errorstats); ctx is passed through. hook NULL removes it. */
typedef void (*resp_error_hook)(void *ctx, const char *line, size_t len);
void resp_buf_set_error_hook(resp_buf *b, resp_error_hook hook, void *ctx);

/* Called exactly once for every reference given to resp_write_bulk_ref: when its bytes
 * have been consumed, or at resp_buf_reset/resp_buf_free, or before resp_write_bulk_ref
 * returns (when the value was short enough to copy, or on RESP_ENOMEM). */
typedef void (*resp_release_fn)(void *opaque);

/* Values shorter than this are copied by resp_write_bulk_ref: a tiny writev segment costs
 * more than the copy. */
#define RESP_REF_MIN 4096

int resp_write_simple(resp_buf *b, const char *s, size_t len);  /* +s; '\r' '\n' -> ' ' */
/* An error, as Redis's addReplyErrorLength: "-ERR " is prepended unless s starts with '-'
 * (so "-WRONGTYPE ..." keeps its code); '\r' and '\n' inside become ' ' as Redis's
 * addReplyErrorFormat does. */
int resp_write_error(resp_buf *b, const char *s, size_t len);
/* printf-style resp_write_error; trailing "\r\n" trimmed as Redis does. RESP_EINVAL on a
 * format error. */
int resp_write_errorf(resp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int resp_write_int(resp_buf *b, long long v);                   /* :v */
int resp_write_bulk(resp_buf *b, const void *p, size_t len);    /* $len p (copied; p may be NULL if len is 0) */
int resp_write_bulk_ll(resp_buf *b, long long v);               /* v as a bulk string */
/* A bulk string whose bytes are referenced, not copied, if len >= RESP_REF_MIN: p must
 * stay valid and unchanged until release(opaque) is called (see resp_release_fn);
 * release may be NULL when p outlives the buffer. */
int resp_write_bulk_ref(resp_buf *b, const void *p, size_t len, resp_release_fn release,
                        void *opaque);
int resp_write_null(resp_buf *b);            /* RESP2 "$-1", RESP3 "_" (addReplyNull) */
int resp_write_null_array(resp_buf *b);      /* RESP2 "*-1", RESP3 "_" */
int resp_write_array(resp_buf *b, size_t n);
int resp_write_map(resp_buf *b, size_t n);   /* n pairs follow: 2n elements */
int resp_write_set(resp_buf *b, size_t n);
int resp_write_push(resp_buf *b, size_t n);  /* RESP2: an array, as pub/sub messages */
int resp_write_attribute(resp_buf *b, size_t n); /* n pairs, then the reply; RESP3 only */
/* As Redis 7.0 addReplyDouble: "%.17g" ("inf"/"-inf" spelt out, NaN as glibc prints it:
 * "nan" or "-nan"); RESP2 a bulk string, RESP3 ",<text>". */
int resp_write_double(resp_buf *b, double d);
int resp_write_bool(resp_buf *b, int v);     /* RESP3 "#t"/"#f", RESP2 ":1"/":0" */
int resp_write_bignum(resp_buf *b, const char *digits, size_t len); /* RESP3 "(" */
/* RESP3 "=<len+4>\r\n<ext>:<s>", ext the 3-letter format ("txt", "mkd"; shorter is
 * space-padded as Redis does); RESP2 a bulk string of s alone. */
int resp_write_verbatim(resp_buf *b, const char *s, size_t len, const char *ext);
/* Bytes already encoded (e.g. a shared "+OK\r\n"), copied as they are. */
int resp_write_raw(resp_buf *b, const void *p, size_t len);

/* Aggregate lengths known only after the elements (as Redis's addReplyDeferredLen). */
typedef enum resp_agg {
    RESP_AGG_ARRAY, RESP_AGG_MAP, RESP_AGG_SET, RESP_AGG_PUSH, RESP_AGG_ATTRIBUTE
} resp_agg;

/* A place for a header, filled later; caller-owned (on the stack is fine), opaque. */
typedef struct resp_deferred {
    size_t at;     /* logical byte position in the buffer */
    size_t nref;   /* logical reference count at that position */
    unsigned long id, prev;
} resp_deferred;

/* Opens a deferred length at the end of the buffer; d must stay alive until filled.
 * Until every open one is filled, resp_buf_iov() exposes nothing. Never fails. */
void resp_write_deferred(resp_buf *b, resp_deferred *d);
/* Writes the header of kind with n elements (pairs for map/attribute) at d's place.
 * Open deferred lengths are filled innermost (latest opened) first. RESP_EINVAL if d is
 * not the innermost open one of this buffer (or was filled, or dropped by reset),
 * RESP_ENOTSUP for an attribute in RESP2, RESP_ENOMEM (d stays open: retry or reset). */
int resp_write_deferred_len(resp_buf *b, resp_deferred *d, resp_agg kind, size_t n);

/* ---- argument splitting ---------------------------------------------------------- */

/* Splits a line s[0..n) (no NUL byte in it) into arguments with Redis's sdssplitargs
 * rules: the rules of inline requests, and of redis.conf lines. With args NULL it only
 * counts them. Otherwise it unescapes in place (an argument's bytes are written from its
 * first input byte on; output never outruns input) and points args[0..count) into s, so
 * they live as long as s; args must have room for the count a first call returned.
 * Returns the count, or -1 on unbalanced quotes (s then may be partly rewritten). */
long resp_splitargs(char *s, size_t n, resp_arg *args);

/* ---- command-name lookup ------------------------------------------------------------- */

/* A case-insensitive (ASCII) lookup table over caller-provided names, built once; lookups
 * allocate nothing. */
typedef struct resp_cmdtab resp_cmdtab;

/* names[0..n-1]: NUL-terminated names, borrowed: they must outlive the table. RESP_EINVAL
 * on a duplicate (ignoring case), an empty name or n > 2^30; RESP_ENOMEM. */
int resp_cmdtab_new(resp_cmdtab **out, const char *const *names, size_t n,
                    const resp_allocator *a);
void resp_cmdtab_free(resp_cmdtab *t);
/* The index of the name equal to name[0..len) ignoring ASCII case, or -1. */
int resp_cmdtab_find(const resp_cmdtab *t, const char *name, size_t len);

#ifdef __cplusplus
}
#endif
#endif
