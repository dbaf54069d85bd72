/* Reply writers: one function per RESP type, each encoding straight into the output
 * buffer, in RESP2 or RESP3 as the buffer says, with Redis 7.0's degradations to RESP2
 * (networking.c: addReplyAggregateLen, addReplyNull, addReplyDouble, addReplyBool,
 * addReplyBigNum, addReplyVerbatim, addReplyErrorLength). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resp_internal.h"

#define HDR_MAX 24 /* type byte + "-" + 20 digits + "\r\n" */

/* "<type><n>\r\n" at p; returns its length (at most HDR_MAX). */
static size_t put_header(char *p, char type, long long n)
{
    size_t len;
    p[0] = type;
    len = 1 + resp_ll2str(p + 1, n);
    p[len++] = '\r';
    p[len++] = '\n';
    return len;
}

/* Copies s[0..len) to p with '\r' and '\n' turned into spaces, so that a status or error
 * line cannot break the stream. */
static void copy_line(char *p, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) p[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
}

/* <type><text>\r\n where text is prefix + s, made single-line. */
/* Writes type, prefix, s (CR/LF made spaces) and CRLF. The line's first byte, or NULL
 * when memory is short (nothing written). */
static char *put_line(resp_buf *b, char type, const char *prefix, const char *s, size_t len)
{
    size_t pl = strlen(prefix);
    char *p = resp_buf_space(b, len + pl + 3);
    if (!p) return NULL;
    p[0] = type;
    memcpy(p + 1, prefix, pl);
    copy_line(p + 1 + pl, s, len);
    memcpy(p + 1 + pl + len, "\r\n", 2);
    resp_buf_advance(b, len + pl + 3);
    return p;
}

static int write_line(resp_buf *b, char type, const char *prefix, const char *s, size_t len)
{
    return put_line(b, type, prefix, s, len) ? RESP_OK : RESP_ENOMEM;
}

int resp_write_raw(resp_buf *b, const void *data, size_t len)
{
    char *p = resp_buf_space(b, len);
    if (!p) return RESP_ENOMEM;
    memcpy(p, data, len);
    resp_buf_advance(b, len);
    return RESP_OK;
}

int resp_write_simple(resp_buf *b, const char *s, size_t len)
{
    return write_line(b, '+', "", s, len);
}

int resp_write_error(resp_buf *b, const char *s, size_t len)
{
    size_t skip = len && s[0] == '-';
    const char *prefix = skip ? "" : "ERR ";
    char *p = put_line(b, '-', prefix, s + skip, len - skip);
    if (!p) return RESP_ENOMEM;
    resp_buf_error_written(b, p + 1, strlen(prefix) + len - skip);
    return RESP_OK;
}

int resp_write_errorf(resp_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p, *text;
    size_t len, pl;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return RESP_EINVAL;
    /* Formatted in place, behind room for "-ERR ", then moved up behind the prefix. */
    p = resp_buf_space(b, (size_t)n + 9);
    if (!p) return RESP_ENOMEM;
    text = p + 6;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    len = (size_t)n;
    /* sdstrim(s, "\r\n"), as addReplyErrorFormat does. */
    while (len && (text[len - 1] == '\r' || text[len - 1] == '\n')) len--;
    while (len && (*text == '\r' || *text == '\n')) text++, len--;
    pl = len && text[0] == '-' ? 0 : 5;
    memmove(p + pl, text, len);
    memcpy(p, "-ERR ", pl);
    copy_line(p + pl, p + pl, len);
    memcpy(p + pl + len, "\r\n", 2);
    resp_buf_advance(b, pl + len + 2);
    resp_buf_error_written(b, p + 1, pl + len - 1);
    return RESP_OK;
}

int resp_write_int(resp_buf *b, long long v)
{
    char *p = resp_buf_space(b, HDR_MAX);
    if (!p) return RESP_ENOMEM;
    resp_buf_advance(b, put_header(p, ':', v));
    return RESP_OK;
}

int resp_write_bulk(resp_buf *b, const void *data, size_t len)
{
    char *p = resp_buf_space(b, HDR_MAX + len + 2);
    size_t h;
    if (!p) return RESP_ENOMEM;
    h = put_header(p, '$', (long long)len);
    if (len) /* an empty bulk may come with no buffer at all */
        memcpy(p + h, data, len);
    memcpy(p + h + len, "\r\n", 2);
    resp_buf_advance(b, h + len + 2);
    return RESP_OK;
}

int resp_write_bulk_ll(resp_buf *b, long long v)
{
    char digits[24];
    return resp_write_bulk(b, digits, resp_ll2str(digits, v));
}

int resp_write_bulk_ref(resp_buf *b, const void *data, size_t len, resp_release_fn release,
                        void *opaque)
{
    char *p;
    int rc;

    if (len < RESP_REF_MIN) {
        rc = resp_write_bulk(b, data, len);
    } else if (!(p = resp_buf_space(b, HDR_MAX + 2)) || resp_buf_ref_room(b)) {
        rc = RESP_ENOMEM;
    } else {
        resp_buf_advance(b, put_header(p, '$', (long long)len));
        resp_buf_push_ref(b, data, len, release, opaque);
        return resp_write_raw(b, "\r\n", 2); /* cannot fail: room was made above */
    }
    if (release) release(opaque);
    return rc;
}

int resp_write_null(resp_buf *b)
{
    return resp_buf_proto(b) == 2 ? resp_write_raw(b, "$-1\r\n", 5)
                                  : resp_write_raw(b, "_\r\n", 3);
}

int resp_write_null_array(resp_buf *b)
{
    return resp_buf_proto(b) == 2 ? resp_write_raw(b, "*-1\r\n", 5)
                                  : resp_write_raw(b, "_\r\n", 3);
}

/* The aggregate header for proto, or 0 for an attribute in RESP2. */
static size_t agg_header(char *p, int proto, resp_agg kind, size_t n)
{
    static const char resp3_type[] = { '*', '%', '~', '>', '|' };
    if (proto == 3) return put_header(p, resp3_type[kind], (long long)n);
    if (kind == RESP_AGG_ATTRIBUTE) return 0;
    return put_header(p, '*', (long long)(kind == RESP_AGG_MAP ? 2 * n : n));
}

static int write_agg(resp_buf *b, resp_agg kind, size_t n)
{
    char *p = resp_buf_space(b, HDR_MAX);
    size_t h;
    if (!p) return RESP_ENOMEM;
    h = agg_header(p, resp_buf_proto(b), kind, n);
    if (!h) return RESP_ENOTSUP;
    resp_buf_advance(b, h);
    return RESP_OK;
}

int resp_write_array(resp_buf *b, size_t n)
{
    return write_agg(b, RESP_AGG_ARRAY, n);
}

int resp_write_map(resp_buf *b, size_t n)
{
    return write_agg(b, RESP_AGG_MAP, n);
}

int resp_write_set(resp_buf *b, size_t n)
{
    return write_agg(b, RESP_AGG_SET, n);
}

int resp_write_push(resp_buf *b, size_t n)
{
    return write_agg(b, RESP_AGG_PUSH, n);
}

int resp_write_attribute(resp_buf *b, size_t n)
{
    return write_agg(b, RESP_AGG_ATTRIBUTE, n);
}

int resp_write_deferred_len(resp_buf *b, resp_deferred *d, resp_agg kind, size_t n)
{
    char hdr[HDR_MAX];
    size_t h;
    if ((unsigned)kind > RESP_AGG_ATTRIBUTE) return RESP_EINVAL;
    h = agg_header(hdr, resp_buf_proto(b), kind, n);
    if (!h) return RESP_ENOTSUP;
    return resp_buf_fill_deferred(b, d, hdr, h);
}

/* A double's text as addReplyDouble prints it: "%.17g", with inf spelt out. */
static size_t double_text(char *p, double d)
{
    if (isinf(d)) {
        memcpy(p, d > 0 ? "inf" : "-inf", d > 0 ? 3 : 4);
        return d > 0 ? 3 : 4;
    }
    /* Integral values below 1e17 print as plain digits with %.17g; skip snprintf. */
    if (d > -1e17 && d < 1e17 && d == (double)(long long)d && !(d == 0 && signbit(d)))
        return resp_ll2str(p, (long long)d);
    return (size_t)snprintf(p, 32, "%.17g", d);
}

int resp_write_double(resp_buf *b, double d)
{
    char text[32];
    size_t len = double_text(text, d);
    if (resp_buf_proto(b) == 2) return resp_write_bulk(b, text, len);
    return write_line(b, ',', "", text, len);
}

int resp_write_bool(resp_buf *b, int v)
{
    if (resp_buf_proto(b) == 2) return resp_write_raw(b, v ? ":1\r\n" : ":0\r\n", 4);
    return resp_write_raw(b, v ? "#t\r\n" : "#f\r\n", 4);
}

int resp_write_bignum(resp_buf *b, const char *digits, size_t len)
{
    if (resp_buf_proto(b) == 2) return resp_write_bulk(b, digits, len);
    return write_line(b, '(', "", digits, len);
}

int resp_write_verbatim(resp_buf *b, const char *s, size_t len, const char *ext)
{
    char *p;
    size_t h;
    if (resp_buf_proto(b) == 2) return resp_write_bulk(b, s, len);
    if (!ext) ext = "txt";
    p = resp_buf_space(b, HDR_MAX + 4 + len + 2);
    if (!p) return RESP_ENOMEM;
    h = put_header(p, '=', (long long)(len + 4));
    for (int i = 0; i < 3; i++) p[h + i] = *ext ? *ext++ : ' ';
    p[h + 3] = ':';
    memcpy(p + h + 4, s, len);
    memcpy(p + h + 4 + len, "\r\n", 2);
    resp_buf_advance(b, h + 4 + len + 2);
    return RESP_OK;
}
