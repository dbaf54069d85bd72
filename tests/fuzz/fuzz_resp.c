/* libFuzzer target for the RESP parser and writer.
 *
 * Input: byte 0 picks the configuration (bit 0: authentication required, bit 1: tiny
 * limits), bytes 1..8 seed the splits, the rest is the client's byte stream. Checks:
 * - the stream parsed whole, in random splits through resp_parser_feed, through
 *   resp_parser_reserve/commit, and (up to 4 KiB) byte by byte gives the same commands
 *   and the same end state (error text, or bytes left buffered);
 * - every command written back with the reply writer as an array of bulk strings (half of
 *   them referenced) parses back to itself.
 * Any difference aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "../proto/resp_testutil.h" /* feed_all */

typedef struct rec {
    char *p;
    size_t len, cap;
} rec;

static void rec_add(rec *r, const void *data, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2 + 64;
        r->p = realloc(r->p, r->cap);
        if (!r->p) abort();
    }
    if (n) memcpy(r->p + r->len, data, n);
    r->len += n;
}

static void rec_cmd(void *ctx, const resp_cmd *c)
{
    rec *r = ctx;
    uint32_t argc = (uint32_t)c->argc;
    if (c->argc < 1) abort();
    rec_add(r, "C", 1);
    rec_add(r, &argc, sizeof argc);
    for (int i = 0; i < c->argc; i++) {
        uint64_t len = c->argv[i].len;
        rec_add(r, &len, sizeof len);
        rec_add(r, c->argv[i].ptr, c->argv[i].len);
    }
}

/* Parses in[0..len) fed the given way; records the commands and the end state. */
static void parse(const uint8_t *in, size_t len, enum feed_mode m, uint64_t seed,
                  const resp_limits *lim, int auth, rec *out)
{
    resp_parser *p;

    if (resp_parser_new(&p, lim, NULL)) abort();
    resp_parser_set_auth_required(p, auth);
    if (feed_all(p, in, len, m, seed, rec_cmd, out) == RESP_EPROTO) {
        rec_add(out, "E", 1);
        rec_add(out, resp_parser_errstr(p), strlen(resp_parser_errstr(p)));
    } else {
        uint64_t left = resp_parser_buffered(p);
        rec_add(out, "B", 1);
        rec_add(out, &left, sizeof left);
    }
    resp_parser_free(p);
}

static void no_release(void *opaque)
{
    (void)opaque;
}

/* Writes every command of r back as an array of bulks, parses that, compares. */
static void round_trip(const rec *r)
{
    resp_buf *b;
    resp_parser *p;
    rec again = { 0 };
    size_t off = 0;

    if (resp_buf_new(&b, 2, NULL) || resp_parser_new(&p, NULL, NULL)) abort();
    while (off < r->len && r->p[off] == 'C') {
        uint32_t argc;
        memcpy(&argc, r->p + off + 1, sizeof argc);
        off += 1 + sizeof argc;
        if (resp_write_array(b, argc)) abort();
        for (uint32_t i = 0; i < argc; i++) {
            uint64_t len;
            memcpy(&len, r->p + off, sizeof len);
            off += sizeof len;
            if (i % 2 ? resp_write_bulk_ref(b, r->p + off, len, no_release, NULL)
                      : resp_write_bulk(b, r->p + off, len))
                abort();
            off += len;
        }
    }
    for (;;) {
        struct iovec iov[4];
        size_t bytes;
        resp_cmd c;
        int n = resp_buf_iov(b, iov, 4, &bytes), rc;
        if (n == 0) break;
        for (int i = 0; i < n; i++)
            if (resp_parser_feed(p, iov[i].iov_base, iov[i].iov_len)) abort();
        if (resp_buf_consume(b, bytes)) abort();
        while ((rc = resp_parser_next(p, &c)) == RESP_OK) rec_cmd(&again, &c);
        if (rc != RESP_AGAIN) abort();
    }
    if (again.len != off || (off && memcmp(again.p, r->p, off) != 0)) abort();
    free(again.p);
    resp_parser_free(p);
    resp_buf_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resp_limits lim;
    uint64_t seed = 0;
    uint8_t cfg = 0;
    rec ref = { 0 };

    if (size >= 9) {
        cfg = data[0];
        memcpy(&seed, data + 1, sizeof seed);
        data += 9;
        size -= 9;
    }
    resp_limits_default(&lim);
    if (cfg & 2) {
        lim.max_inline = 4 + (cfg >> 4);
        lim.max_bulk = 32;
        lim.max_multibulk = 6;
        lim.unauth_max_bulk = 8;
        lim.unauth_max_multibulk = 3;
    }
    parse(data, size, FEED_WHOLE, 0, &lim, cfg & 1, &ref);
    for (int m = FEED_BYTES; m <= FEED_RESERVE; m++) {
        rec other = { 0 };
        if (m == FEED_BYTES && size > 4096) continue;
        parse(data, size, (enum feed_mode)m, seed + (uint64_t)m, &lim, cfg & 1, &other);
        if (other.len != ref.len || memcmp(other.p, ref.p, ref.len) != 0) abort();
        free(other.p);
    }
    round_trip(&ref);
    free(ref.p);
    return 0;
}

/* Undefined behaviour must fail the run, not just print. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}
